//! The async TLS variant: `firmware-tls`'s batches, CA and name over
//! embassy-net (`firmware-async`'s network) with `embedded-tls`'s async
//! `TlsConnection` and `linewire::Writer::poll_async` (the shared loop of
//! [`delivery`](linewire_firmware_net::delivery)), under
//! `embassy_futures::block_on`: the recipe of `linewire::nal_async`'s
//! docs, where the caller owns the reconnect loop.
//!
//! When a poll is due and no session is open: connect the socket and
//! handshake (a failure of either is `Writer::connect_failed`: the writer
//! backs off); then poll the writer over the session until it says to
//! reconnect or a poll fails; then drop the session and reset the socket.
//!
//! Command line and output as `firmware-tls`'s.
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::entry;
use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, Instant, Timer};
use embedded_tls::{Aes128GcmSha256, TlsConfig, TlsConnection, TlsContext};
use linewire::http::Target;
use linewire_firmware_net::batches::{BUCKET, TOKEN};
use linewire_firmware_net::delivery::Delivery;
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::tls::{self, Parts, Provider, Settings};
use linewire_firmware_net::{async_net, board, clock};

/// A socket that hears nothing this long fails the request.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);

#[entry]
fn main() -> ! {
    let painted = stack::paint();
    let sp = stack::sp();
    let mut out = Console::open();
    let mut line = [0u8; 256];
    let ok = match Settings::read(&mut out, &mut line) {
        Some(settings) => run(&mut out, &settings),
        None => false,
    };
    host::finish(&mut out, sp, painted, ok)
}

/// Reads the CA, brings the network up and runs it next to the delivery;
/// `true` when every batch was stored.
#[inline(never)]
fn run(out: &mut Console, settings: &Settings<'_>) -> bool {
    let Some(parts) = tls::parts(out, settings) else {
        return false;
    };
    let Some(net) = async_net::network() else {
        let _ = writeln!(out, "ERROR the network was already brought up");
        return false;
    };
    let mut runner = net.runner;
    let socket = TcpSocket::new(net.stack, net.rx, net.tx);
    let app = deliver(out, socket, settings, parts);
    match embassy_futures::block_on(select(runner.run(), app)) {
        Either::First(never) => never,
        Either::Second(ok) => ok,
    }
}

/// Sessions until every batch was delivered or given up: connect,
/// handshake, polls while the writer keeps the connection, then a reset.
async fn deliver(
    out: &mut Console,
    mut socket: TcpSocket<'_>,
    settings: &Settings<'_>,
    parts: Parts,
) -> bool {
    let Parts { ca, rx, tx } = parts;
    let target = match Target::v2(settings.name, BUCKET, TOKEN) {
        Ok(t) => t.port(settings.port),
        Err(e) => {
            let _ = writeln!(out, "ERROR the target is invalid: {e}");
            return false;
        }
    };
    socket.set_timeout(Some(SOCKET_TIMEOUT));
    let server = (board::GATEWAY, settings.port);
    let config = TlsConfig::new().with_server_name(settings.name);
    let mut rng = tls::rng();
    let mut delivery = Delivery::new(target, clock::seed() as u32);
    let mut sessions = 0u32;
    let mut connects = 0u32;

    while let Some(due) = delivery.due(out, clock::now_ms()) {
        Timer::at(Instant::from_millis(due)).await;
        if socket.connect(server).await.is_err() {
            reset(&mut socket).await;
            delivery.connect_failed(out, clock::now_ms(), connects);
            continue;
        }
        connects = connects.saturating_add(1);
        sessions = sessions.saturating_add(1);
        let mut session: TlsConnection<'_, _, Aes128GcmSha256> =
            TlsConnection::new(&mut socket, &mut *rx, &mut *tx);
        let started = clock::now();
        let opened = session
            .open(TlsContext::new(&config, Provider::new(&mut rng, ca)))
            .await;
        let _ = write!(out, "HANDSHAKE {sessions} ");
        match opened {
            Ok(()) => {
                let ms = (clock::now() - started).total_millis();
                let _ = writeln!(out, "ok ms={ms}");
                while !delivery
                    .poll_async(out, clock::now_ms(), connects, &mut session)
                    .await
                {
                    let Some(due) = delivery.due(out, clock::now_ms()) else {
                        break;
                    };
                    Timer::at(Instant::from_millis(due)).await;
                }
            }
            Err(e) => {
                let _ = writeln!(out, "error={e:?}");
                delivery.connect_failed(out, clock::now_ms(), connects);
            }
        }
        // The session ends here, without a close_notify: a reset ends it
        // (its last request was answered, or failed).
        reset(&mut socket).await;
    }
    delivery.finish(out)
}

/// Drops the connection at once (a reset, no lingering close), so that the
/// socket can connect again.
async fn reset(socket: &mut TcpSocket<'_>) {
    socket.abort();
    let _ = socket.flush().await;
}
