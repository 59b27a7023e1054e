//! Time for `smoltcp`'s timers: the host's clock through semihosting
//! (`SYS_CLOCK`, centiseconds since qemu started). qemu answers it with
//! its own CPU time (`clock()`), which runs slower than the wall clock on
//! a busy machine (measured: 10 s of it took 15 s): the 10 s deadlines are
//! 10 s or more. `SYS_ELAPSED` / `SYS_TICKFREQ` would be the wall clock. A board without a
//! debugger would count SysTick instead; the network code only sees
//! [`now`], and the delivery loops [`now_ms`] and [`wait_until`].

use smoltcp::time::Instant;

/// Centiseconds since the run started, or `None` if the host cannot tell.
fn centiseconds() -> Option<u32> {
    // SAFETY: SYS_CLOCK takes no argument.
    let cs = unsafe { cortex_m_semihosting::syscall1(cortex_m_semihosting::nr::CLOCK, 0) };
    // The host answers -1 on error.
    u32::try_from(cs).ok().filter(|&c| c != u32::MAX)
}

/// The current time (zero if the host has no clock: `smoltcp`'s timers
/// then never fire, and the callers' deadlines end the wait).
pub fn now() -> Instant {
    Instant::from_millis(i64::from(centiseconds().unwrap_or(0)) * 10)
}

/// The current time in milliseconds, the writer's clock (zero if the
/// host has no clock).
pub fn now_ms() -> u64 {
    u64::from(centiseconds().unwrap_or(0)) * 10
}

/// Returns once the clock reaches `at_ms`, calling `idle` meanwhile (a
/// blocking firmware polls its network stack there, so that it keeps
/// answering while it backs off). Returns at once if the host has no
/// clock.
pub fn wait_until(at_ms: u64, mut idle: impl FnMut()) {
    while let Some(cs) = centiseconds() {
        if u64::from(cs) * 10 >= at_ms {
            return;
        }
        idle();
    }
}

/// A seed for `smoltcp`'s initial sequence numbers and ephemeral ports:
/// the host's wall clock (`SYS_TIME`, seconds) mixed with [`now`].
pub fn seed() -> u64 {
    // SAFETY: SYS_TIME takes no argument.
    let secs = unsafe { cortex_m_semihosting::syscall1(cortex_m_semihosting::nr::TIME, 0) } as u64;
    let cs = u64::from(centiseconds().unwrap_or(0));
    (secs.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ cs).rotate_left(17) | 1
}
