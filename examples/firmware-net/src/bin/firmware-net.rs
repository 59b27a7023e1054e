//! Writes [`BATCHES`] batches to the test kit on the host's loopback over
//! the emulated Ethernet controller, smoltcp and `linewire::nal`, then
//! exits with success when every batch was stored.
//!
//! Run by `tests/firmware/tests/network.rs`, which passes the test kit's
//! port on the semihosting command line (`port=N`).
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::net::{Ipv4Addr, SocketAddr};

use cortex_m_rt::entry;
use linewire::http::{Action, Target};
use linewire::nal::{NalStream, ZeroRead};
use linewire::Batch;
use linewire_firmware_demo::describe;
use linewire_firmware_net::batches::{self, BATCHES, BUCKET, CAPACITY, HOST, TOKEN};
use linewire_firmware_net::config::{self, PortError};
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::net::{self, Deadline, Stack, SOCKETS};
use linewire_firmware_net::{clock, stellaris::Enet};
use smoltcp::iface::{SocketSet, SocketStorage};
use smoltcp::socket::tcp;

/// qemu's user networking: the device's address, the host's.
const DEVICE_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
const PREFIX: u8 = 24;
/// Give up on an operation that makes no progress for this long (the test
/// kit's read timeout is 5 s; the host test's, 60 s).
const OP_TIMEOUT_MS: u64 = 10_000;
/// ... or after this many polls, should the host's clock be missing.
const MAX_POLLS: u32 = 5_000_000;
/// Sends of one batch when the server asks for a retry or the connection
/// fails.
const MAX_ATTEMPTS: u32 = 3;
/// Each TCP socket's receive and send buffers.
const SOCKET_BUF: usize = 1024;
const RESPONSE_BUF: usize = 512;

/// The buffers, in statics (RAM the budget counts) rather than on the
/// stack. Taken once, by `main`.
static mut ENET: Enet = Enet::new();
static mut STORAGE: [SocketStorage<'static>; SOCKETS] = [SocketStorage::EMPTY; SOCKETS];
static mut BUFFERS: [[u8; SOCKET_BUF]; 2 * SOCKETS] = [[0; SOCKET_BUF]; 2 * SOCKETS];

#[entry]
fn main() -> ! {
    let painted = stack::paint();
    let sp = stack::sp();
    let mut out = Console::open();
    let mut line = [0u8; 160];
    let port = match host::command_line(&mut line) {
        Some(l) => config::port(l),
        None => Err(PortError::Missing),
    };
    let port = match port {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(
                out,
                "ERROR {e}: run qemu with -semihosting-config enable=on,arg=firmware-net,arg=port=N"
            );
            host::exit(false)
        }
    };
    let _ = writeln!(out, "CONFIG port={port}");
    // SAFETY: `main` runs once and never returns: these are the only
    // references to the statics.
    let (enet, storage, buffers) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(ENET),
            &mut *core::ptr::addr_of_mut!(STORAGE),
            &mut *core::ptr::addr_of_mut!(BUFFERS),
        )
    };
    let ok = run(&mut out, port, enet, storage, buffers);
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
    host::exit(ok)
}

/// Brings the network up and writes the batches; `true` when every batch
/// was stored.
#[inline(never)]
fn run(
    out: &mut Console,
    port: u16,
    enet: &'static mut Enet,
    storage: &'static mut [SocketStorage<'static>; SOCKETS],
    buffers: &'static mut [[u8; SOCKET_BUF]; 2 * SOCKETS],
) -> bool {
    enet.start();
    let seed = clock::seed();
    let iface = net::interface(enet, enet.mac(), DEVICE_IP, PREFIX, GATEWAY, seed);
    let mut sockets = SocketSet::new(&mut storage[..]);
    let [r0, t0, r1, t1] = buffers;
    let mut add = |rx: &'static mut [u8; SOCKET_BUF], tx: &'static mut [u8; SOCKET_BUF]| {
        sockets.add(tcp::Socket::new(
            tcp::SocketBuffer::new(&mut rx[..]),
            tcp::SocketBuffer::new(&mut tx[..]),
        ))
    };
    let handles = [add(r0, t0), add(r1, t1)];
    let stack = Stack::new(iface, enet, sockets, handles, seed);

    let target = match Target::v2(HOST, BUCKET, TOKEN) {
        Ok(t) => t.port(port),
        Err(e) => {
            let _ = writeln!(out, "ERROR the target is invalid: {e}");
            return false;
        }
    };
    let server = SocketAddr::new(GATEWAY.into(), port);
    let mut conn = NalStream::new(stack, server, Deadline::new(OP_TIMEOUT_MS, MAX_POLLS))
        .zero_read(ZeroRead::NoData);
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
