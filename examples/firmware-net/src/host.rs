//! What the firmware gets from qemu's semihosting: its command line
//! (`-semihosting-config ...,arg=firmware-net,arg=port=N`), the host's
//! files, the end of the run. The rest of the scaffolding is
//! `examples/firmware`'s (`linewire-firmware`), the one copy: the console
//! ([`Console`]), the exit status ([`exit`]), stack painting ([`stack`]),
//! and the panic and fault handlers that end the run with a failure.

use core::fmt::Write as _;

use cortex_m_semihosting::nr;

/// The semihosting console (qemu's stdout): `linewire_firmware::Host`.
pub use linewire_firmware::Host as Console;
pub use linewire_firmware::{exit, stack};

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
