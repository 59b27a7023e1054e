//! Time for `smoltcp`'s timers: the host's clock through semihosting
//! (`SYS_CLOCK`, centiseconds since qemu started). qemu answers it with
//! its own CPU time (`clock()`), which runs slower than the wall clock on
//! a busy machine (measured: 10 s of it took 15 s): the 10 s deadlines are
//! 10 s or more. `SYS_ELAPSED` / `SYS_TICKFREQ` would be the wall clock. A board without a
//! debugger would count SysTick instead; the network code only sees
//! [`now`].

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

/// A seed for `smoltcp`'s initial sequence numbers and ephemeral ports:
/// the host's wall clock (`SYS_TIME`, seconds) mixed with [`now`].
pub fn seed() -> u64 {
    // SAFETY: SYS_TIME takes no argument.
    let secs = unsafe { cortex_m_semihosting::syscall1(cortex_m_semihosting::nr::TIME, 0) } as u64;
    let cs = u64::from(centiseconds().unwrap_or(0));
    (secs.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ cs).rotate_left(17) | 1
}
