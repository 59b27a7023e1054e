//! The scaffolding both firmware binaries share, none of it linewire: the
//! semihosting console, a stream that sends what is written to the host as
//! hex lines and reads a canned reply, stack painting, panic and fault
//! handlers that end qemu with a failure.
//!
//! Output protocol (semihosting stdout, one record a line):
//!
//! ```text
//! EXCHANGE <n>            a write transaction starts
//! REQ <hex>               bytes the core wrote to the stream (32 a line at most)
//! OUTCOME <n> <text>      what the core decided (linewire_firmware_demo::describe)
//! STACK <what> <bytes>    stack high-water mark below the caller's frame
//! PAINTED <bytes>         how much stack was painted (the measurable maximum)
//! DONE                    the run completed
//! ```
#![no_std]

use core::fmt::Write as _;
use core::panic::PanicInfo;

use cortex_m_rt::{exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hio};

/// The semihosting console (qemu's stdout).
pub struct Host(hio::HostStream);

impl Host {
    /// Opens stdout; exits qemu with a failure if that is impossible.
    pub fn open() -> Self {
        match hio::hstdout() {
            Ok(s) => Host(s),
            Err(()) => exit(false),
        }
    }

    /// Writes all of `bytes`.
    pub fn put(&mut self, bytes: &[u8]) {
        if self.0.write_all(bytes).is_err() {
            exit(false);
        }
    }
}

impl core::fmt::Write for Host {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.put(s.as_bytes());
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

/// A blocking byte stream for `embedded-io`: what is written goes to the
/// host as `REQ <hex>` lines; reads come from a canned reply.
pub struct Wire<'h, 'r> {
    host: &'h mut Host,
    reply: &'r [u8],
}

impl<'h, 'r> Wire<'h, 'r> {
    /// A stream that answers with `reply`.
    pub fn new(host: &'h mut Host, reply: &'r [u8]) -> Self {
        Wire { host, reply }
    }
}

impl embedded_io::ErrorType for Wire<'_, '_> {
    type Error = core::convert::Infallible;
}

impl embedded_io::Read for Wire<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.reply.len());
        let (now, rest) = self.reply.split_at(n);
        buf[..n].copy_from_slice(now);
        self.reply = rest;
        Ok(n)
    }
}

impl embedded_io::Write for Wire<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        // Iterators, not indexes: the image must link no bounds-check
        // panic (tests/firmware asserts it), the example's code included.
        for chunk in buf.chunks(32) {
            let mut line = [0u8; 4 + 64 + 1];
            let mut out = line.iter_mut();
            // The shorter iterator first: `zip` takes from its left side
            // first, and a slot taken after the prefix ran out would be lost.
            for (&b, slot) in b"REQ ".iter().zip(out.by_ref()) {
                *slot = b;
            }
            let hex = chunk
                .iter()
                .flat_map(|&b| [HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xf)]])
                .chain([b'\n']);
            let mut n = 4;
            for (c, slot) in hex.zip(out) {
                *slot = c;
                n += 1;
            }
            self.host.put(line.get(..n).unwrap_or(&line));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
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

    /// The current stack pointer. Called in the caller's own frame (it is
    /// inlined), so it is the caller's stack pointer at its next call.
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
    /// `None` when the paint was exhausted (the use is not measurable).
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

/// Reports where it panicked, not the message: formatting panic messages
/// would link `core::fmt` for every index and `str` check in the program.
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
