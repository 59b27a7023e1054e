//! Writes [`BATCHES`] batches to the test kit on the host's loopback over
//! the emulated Ethernet controller, smoltcp and `linewire::nal`, then
//! exits with success when every batch was stored.
//!
//! Run by `tests/firmware/tests/network.rs`, which passes the test kit's
//! port on the semihosting command line (`port=N`).
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::net::SocketAddr;

use cortex_m_rt::entry;
use linewire::http::{Action, Target};
use linewire::nal::{NalStream, ZeroRead};
use linewire::Batch;
use linewire_firmware_demo::describe;
use linewire_firmware_net::batches::{self, BATCHES, BUCKET, CAPACITY, HOST, TOKEN};
use linewire_firmware_net::board;
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::net::Deadline;

/// Sends of one batch when the server asks for a retry or the connection
/// fails. The firmware resends at once: the lane's faults ask for no
/// delay; a device honours `Retry-After` or backs off (as
/// `linewire::Writer` does).
const MAX_ATTEMPTS: u32 = 3;
const RESPONSE_BUF: usize = 512;

#[entry]
fn main() -> ! {
    let painted = stack::paint();
    let sp = stack::sp();
    let mut out = Console::open();
    let port = host::server_port(&mut out, &mut [0u8; 160]);
    let ok = run(&mut out, port);
    host::finish(&mut out, sp, painted, ok)
}

/// Brings the network up and writes the batches; `true` when every batch
/// was stored.
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
    let mut batch = Batch::<CAPACITY>::new();
    let mut buf = [0u8; RESPONSE_BUF];
    let mut all_stored = true;
    for n in 0..BATCHES {
        if let Err(e) = batches::fill(&mut batch, n) {
            let _ = writeln!(out, "ERROR batch {n} could not be formatted: {e}");
            all_stored = false;
            continue;
        }
        let mut attempt = 1;
        loop {
            let result = conn.write_batch(&target, &batch, &mut buf);
            let _ = write!(out, "BATCH {n} {attempt} connects={} ", conn.connects());
            let again = match result {
                Ok(reply) => {
                    let _ = describe(&reply, out);
                    let _ = writeln!(out);
                    match reply.outcome.action() {
                        Action::Done => break,
                        Action::Retry | Action::RetryLater => true,
                        _ => false,
                    }
                }
                Err(e) => {
                    let _ = write!(out, "error={e}");
                    if let Some(cause) = conn.last_error() {
                        let _ = write!(out, " cause={cause}");
                    }
                    let _ = writeln!(out);
                    true
                }
            };
            if !again || attempt >= MAX_ATTEMPTS {
                all_stored = false;
                break;
            }
            attempt += 1;
        }
    }
    let dev = conn.stack().device();
    let _ = writeln!(
        out,
        "ENET dropped={} unsent={}",
        dev.dropped(),
        dev.unsent()
    );
    all_stored
}
