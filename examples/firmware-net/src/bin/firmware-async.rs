//! The async variant: writes the batches
//! ([`BATCHES`](linewire_firmware_net::batches::BATCHES)) to the test kit with
//! `linewire::Writer::poll_async` over an embassy-net `TcpSocket` (the
//! shared loop of [`delivery`](linewire_firmware_net::delivery)), on the
//! same Ethernet controller as `firmware-net`, under
//! `embassy_futures::block_on` (no executor), then exits with success when
//! every batch was delivered.
//!
//! The writer's backoff is slept with embassy-time while embassy-net's
//! runner keeps the interface going. A connection the writer says to drop
//! (`reconnect`, or a failed poll) is reset; the next poll connects again,
//! and a failed connect is `Writer::connect_failed`.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::entry;
use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_net::Stack;
use embassy_time::{Duration, Instant, Timer};
use linewire::http::Target;
use linewire_firmware_net::batches::{BUCKET, HOST, TOKEN};
use linewire_firmware_net::delivery::Delivery;
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::{async_net, board, clock};

/// A socket that hears nothing this long fails the request.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

#[entry]
fn main() -> ! {
    let painted = stack::paint();
    let sp = stack::sp();
    let mut out = Console::open();
    let port = host::server_port(&mut out, &mut [0u8; 160]);
    let ok = run(&mut out, port);
    host::finish(&mut out, sp, painted, ok)
}

/// Brings the network up and runs it next to the delivery; `true` when
/// every batch was delivered.
#[inline(never)]
fn run(out: &mut Console, port: u16) -> bool {
    let Some(net) = async_net::network() else {
        let _ = writeln!(out, "ERROR the network was already brought up");
        return false;
    };
    let mut runner = net.runner;
    let app = deliver(out, net.stack, port, net.rx, net.tx);
    match embassy_futures::block_on(select(runner.run(), app)) {
        Either::First(never) => never,
        Either::Second(ok) => ok,
    }
}

/// Delivers the batches over one socket, reconnecting when the writer
/// asks.
async fn deliver(
    out: &mut Console,
    stack: Stack<'_>,
    port: u16,
    rx: &mut [u8],
    tx: &mut [u8],
) -> bool {
    let target = match Target::v2(HOST, BUCKET, TOKEN) {
        Ok(t) => t.port(port),
        Err(e) => {
            let _ = writeln!(out, "ERROR the target is invalid: {e}");
            return false;
        }
    };
    let mut delivery = Delivery::new(target, clock::seed() as u32);
    let mut socket = TcpSocket::new(stack, rx, tx);
    socket.set_timeout(Some(SOCKET_TIMEOUT));
    let server = (board::GATEWAY, port);
    let mut connected = false;
    let mut connects = 0u32;
    while let Some(due) = delivery.due(out, clock::now_ms()) {
        Timer::at(Instant::from_millis(due)).await;
        if !connected {
            if socket.connect(server).await.is_err() {
                reset(&mut socket).await;
                delivery.connect_failed(out, clock::now_ms(), connects);
                continue;
            }
            connected = true;
            connects = connects.saturating_add(1);
        }
        let now = clock::now_ms();
        if delivery.poll_async(out, now, connects, &mut socket).await {
            reset(&mut socket).await;
            connected = false;
        }
    }
    delivery.finish(out)
}

/// Drops the connection at once (a reset, no lingering close), so that the
/// socket can connect again.
async fn reset(socket: &mut TcpSocket<'_>) {
    socket.abort();
    let _ = socket.flush().await;
}
