//! Writes the batches ([`BATCHES`](linewire_firmware_net::batches::BATCHES))
//! to the test kit on the host's loopback over the emulated Ethernet
//! controller, smoltcp and `linewire::nal`, through
//! `linewire::Writer::poll` (the shared loop of
//! [`delivery`](linewire_firmware_net::delivery)), then exits with success
//! when every batch was stored.
//!
//! The writer's backoff is waited on the semihosting clock while the
//! smoltcp interface keeps being polled. A connection the writer says to
//! drop (`reconnect`, or a failed poll) is closed; the next poll connects
//! again, and a failed connect is `Writer::connect_failed` (the writer
//! backs off).
//!
//! Run by `tests/firmware/tests/network.rs`, which passes the test kit's
//! port on the semihosting command line (`port=N`).
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::net::SocketAddr;

use cortex_m_rt::entry;
use linewire::http::Target;
use linewire::nal::{NalStream, ZeroRead};
use linewire_firmware_net::batches::{BUCKET, HOST, TOKEN};
use linewire_firmware_net::delivery::Delivery;
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::net::Deadline;
use linewire_firmware_net::{board, clock};

#[entry]
fn main() -> ! {
    let painted = stack::paint();
    let sp = stack::sp();
    let mut out = Console::open();
    let port = host::server_port(&mut out, &mut [0u8; 160]);
    let ok = run(&mut out, port);
    host::finish(&mut out, sp, painted, ok)
}

/// Brings the network up and delivers the batches; `true` when every
/// batch was stored.
#[inline(never)]
fn run(out: &mut Console, port: u16) -> bool {
    let Some(stack) = board::network() else {
        let _ = writeln!(out, "ERROR the network was already brought up");
        return false;
    };
    let target = match Target::v2(HOST, BUCKET, TOKEN) {
        Ok(t) => t.port(port),
        Err(e) => {
            let _ = writeln!(out, "ERROR the target is invalid: {e}");
            return false;
        }
    };
    let server = SocketAddr::new(board::GATEWAY.into(), port);
    let mut conn = NalStream::new(stack, server, Deadline::standard()).zero_read(ZeroRead::NoData);
    let mut delivery = Delivery::new(target, clock::seed() as u32);
    while let Some(due) = delivery.due(out, clock::now_ms()) {
        clock::wait_until(due, || conn.stack_mut().poll());
        if !conn.is_connected() && conn.connect().is_err() {
            delivery.connect_failed(out, clock::now_ms(), conn.connects());
            continue;
        }
        if delivery.poll(out, clock::now_ms(), conn.connects(), &mut conn) {
            let _ = conn.close();
        }
    }
    let dev = conn.stack().device();
    let _ = writeln!(
        out,
        "ENET dropped={} unsent={}",
        dev.dropped(),
        dev.unsent()
    );
    delivery.finish(out)
}
