//! What the firmware gets from qemu's semihosting: a console (stdout), its
//! command line (`-semihosting-config ...,arg=firmware-net,arg=port=N`),
//! an exit status; plus stack painting and the panic and fault handlers
//! that end the run with a failure.

use core::fmt::Write as _;
use core::panic::PanicInfo;

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio, nr};

/// The semihosting console (qemu's stdout).
pub struct Console(hio::HostStream);

impl Console {
    /// Opens stdout; exits qemu with a failure if that is impossible.
    pub fn open() -> Self {
        match hio::hstdout() {
            Ok(s) => Console(s),
            Err(()) => exit(false),
        }
    }
}

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        if self.0.write_all(s.as_bytes()).is_err() {
            exit(false);
        }
        Ok(())
    }
}

/// Ends the qemu run: exit status 0 on `success`, else 1.
pub fn exit(success: bool) -> ! {
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// The command line qemu passes (`SYS_GET_CMDLINE`), read into `buf`;
/// `None` when the host has none, it does not fit or is not UTF-8.
pub fn command_line(buf: &mut [u8]) -> Option<&str> {
    // The host writes the line into `buf` and its length (without the
    // terminating NUL) into the block's second word.
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: the block names `buf`, which the host writes at most
    // `buf.len()` bytes of; `block` outlives the call.
    let failed =
        unsafe { cortex_m_semihosting::syscall1(nr::GET_CMDLINE, block.as_mut_ptr() as usize) };
    // SAFETY: `block` is a live local the host may have written.
    let len = unsafe { core::ptr::read_volatile(&block[1]) };
    if failed != 0 {
        return None;
    }
    core::str::from_utf8(buf.get(..len)?).ok()
}

/// The longest path [`read_file`] takes.
pub const MAX_PATH: usize = 255;

/// Reads the host's file at `path` into `buf` (`SYS_OPEN`, `SYS_READ`,
/// `SYS_CLOSE`): the bytes read, or `None` when the path is too long, the
/// file cannot be opened or read, or it does not fit in `buf`.
pub fn read_file<'b>(path: &str, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    if path.len() > MAX_PATH {
        return None;
    }
    // The host reads a NUL-terminated name: the last byte stays 0.
    let mut name = [0u8; MAX_PATH + 1];
    name.get_mut(..path.len())?.copy_from_slice(path.as_bytes());
    let open = [name.as_ptr() as usize, nr::open::R_BINARY, path.len()];
    // SAFETY: the block names a NUL-terminated string that outlives the call.
    let handle = unsafe { cortex_m_semihosting::syscall(nr::OPEN, &open) };
    if handle == usize::MAX {
        return None;
    }
    let read = [handle, buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: the host writes at most `buf.len()` bytes into `buf`; it
    // answers how many of them it did not fill.
    let unfilled = unsafe { cortex_m_semihosting::syscall(nr::READ, &read) };
    // SAFETY: `handle` is the open file's.
    unsafe { cortex_m_semihosting::syscall(nr::CLOSE, &[handle]) };
    let len = buf.len().checked_sub(unfilled)?;
    // A full buffer may have cut the file short.
    if len == buf.len() {
        return None;
    }
    buf.get(..len)
}

/// The server's port from the command line; on a missing or invalid one,
/// says so and ends the run with a failure.
pub fn server_port(out: &mut Console, line: &mut [u8]) -> u16 {
    let port = match command_line(line) {
        Some(l) => crate::config::port(l),
        None => Err(crate::config::PortError::Missing),
    };
    match port {
        Ok(p) => {
            let _ = writeln!(out, "CONFIG port={p}");
            p
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "ERROR {e}: run qemu with -semihosting-config enable=on,arg=firmware-net,arg=port=N"
            );
            exit(false)
        }
    }
}

/// Reports the stack used below `sp` (painted at the start) and ends the
/// run: success when `ok`.
pub fn finish(out: &mut Console, sp: usize, painted: usize, ok: bool) -> ! {
    match stack::used_below(sp) {
        Some(n) => {
            let _ = writeln!(out, "STACK run {n}");
        }
        None => {
            let _ = writeln!(out, "ERROR the stack paint was exhausted");
        }
    }
    let _ = writeln!(out, "PAINTED {painted}");
    let _ = writeln!(out, "DONE {}", if ok { "ok" } else { "failed" });
    exit(ok)
}

/// Stack painting: fill the free stack with a pattern, run something, find
/// the lowest word it overwrote.
pub mod stack {
    const PAINT: u32 = 0x5EA5_C0DE;

    extern "C" {
        /// End of the statics (`cortex-m-rt`): the stack may grow down to it.
        static __sheap: u32;
    }

    fn bottom() -> usize {
        // SAFETY: only the address of the linker symbol is taken.
        #[allow(unused_unsafe)]
        let p = unsafe { core::ptr::addr_of!(__sheap) } as usize;
        (p + 3) & !3
    }

    /// The current stack pointer (inlined: the caller's).
    #[inline(always)]
    pub fn sp() -> usize {
        cortex_m::register::msp::read() as usize
    }

    /// Paints everything below this function's frame down to the end of
    /// the statics; returns how many bytes were painted.
    #[inline(never)]
    pub fn paint() -> usize {
        let top = sp() & !3;
        let mut p = bottom();
        let painted = top.saturating_sub(p);
        while p < top {
            // SAFETY: [bottom, sp) is free stack, nothing lives there.
            unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
            p += 4;
        }
        painted
    }

    /// Bytes of stack used below `caller_sp` since the last [`paint`], or
    /// `None` when the paint was exhausted.
    #[inline(never)]
    pub fn used_below(caller_sp: usize) -> Option<usize> {
        let start = bottom();
        let mut p = start;
        // SAFETY: reads of the painted, now free, stack region.
        while p < caller_sp && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
            p += 4;
        }
        if p == start {
            None
        } else {
            Some(caller_sp.saturating_sub(p))
        }
    }
}

/// Reports where it panicked, not the message (formatting panic messages
/// would link `core::fmt` for every index check in the program).
#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    if let Ok(mut out) = hio::hstdout() {
        match info.location() {
            Some(l) => {
                let _ = writeln!(out, "PANIC at {}:{}", l.file(), l.line());
            }
            None => {
                let _ = writeln!(out, "PANIC");
            }
        }
    }
    exit(false)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if let Ok(mut out) = hio::hstdout() {
        let _ = writeln!(out, "HARDFAULT pc={:#010x}", frame.pc());
    }
    exit(false)
}
