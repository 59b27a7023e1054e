//! The network firmware without linewire: the same board, stack, clock and
//! scaffolding, one hand-written request sent with the stack's own calls.
//! The difference to `firmware-net` is what linewire (batches, the writer
//! and its queue, the write transaction, `linewire::nal`) costs over a
//! real TCP/IP stack.
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::net::SocketAddr;

use cortex_m_rt::entry;
use embedded_nal::{nb, TcpClientStack};
use linewire::nal::{Op, Wait};
use linewire_firmware_net::board::{self, BoardStack};
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::net::{Deadline, NetError};

/// One point, written by hand (`baseline,device=lm3s6965evb v=1i`).
const REQUEST: &[u8] = b"POST /api/v2/write?bucket=netlane&precision=s HTTP/1.1\r\n\
Host: influx.local\r\n\
Authorization: Token qemu-token\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Content-Length: 44\r\n\
\r\n\
baseline,device=lm3s6965evb v=1i 1750000000\n";

#[entry]
fn main() -> ! {
    let painted = stack::paint();
    let sp = stack::sp();
    let mut out = Console::open();
    let port = host::server_port(&mut out, &mut [0u8; 160]);
    let ok = run(&mut out, port);
    host::finish(&mut out, sp, painted, ok)
}

/// Retries `f` while it would block, within a [`Deadline`].
fn block<T>(
    stack: &mut BoardStack,
    op: Op,
    mut f: impl FnMut(&mut BoardStack) -> nb::Result<T, NetError>,
) -> Result<T, Option<NetError>> {
    let mut wait = Deadline::standard();
    let mut attempt = 0u32;
    loop {
        match f(stack) {
            Ok(v) => return Ok(v),
            Err(nb::Error::Other(e)) => return Err(Some(e)),
            Err(nb::Error::WouldBlock) => {
                attempt = attempt.saturating_add(1);
                if !wait.wait(stack, op, attempt) {
                    return Err(None);
                }
            }
        }
    }
}

/// Sends [`REQUEST`], reads the response head; `true` on a 204.
#[inline(never)]
fn run(out: &mut Console, port: u16) -> bool {
    let Some(mut stack) = board::network() else {
        return false;
    };
    let Ok(mut socket) = stack.socket() else {
        return false;
    };
    let server = SocketAddr::new(board::GATEWAY.into(), port);
    let sent = block(&mut stack, Op::Connect, |s| s.connect(&mut socket, server)).and_then(|()| {
        let mut rest = REQUEST;
        while !rest.is_empty() {
            let n = block(&mut stack, Op::Send, |s| s.send(&mut socket, rest))?;
            rest = rest.get(n..).unwrap_or_default();
        }
        Ok(())
    });
    let mut head = [0u8; 256];
    let mut len = 0;
    if sent.is_ok() {
        while let Some(free) = head.get_mut(len..).filter(|f| !f.is_empty()) {
            match block(&mut stack, Op::Receive, |s| s.receive(&mut socket, free)) {
                Ok(n) => len += n,
                Err(_) => break,
            }
            if head.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    }
    let _ = stack.close(socket);
    let ok = head.starts_with(b"HTTP/1.1 204 ");
    let _ = writeln!(out, "BASELINE {}", if ok { "status=204" } else { "failed" });
    ok
}
