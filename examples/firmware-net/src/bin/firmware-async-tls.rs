//! The async TLS variant: `firmware-tls`'s batches, CA and name over
//! embassy-net (`firmware-async`'s network) with `embedded-tls`'s async
//! `TlsConnection` and `linewire::http::write_batch_async`, under
//! `embassy_futures::block_on`: the recipe of `linewire::nal_async`'s
//! docs, where the caller owns the reconnect loop.
//!
//! Command line and output as `firmware-tls`'s (`CONNECTS` counts the
//! socket's connections).
#![no_std]
#![no_main]

use core::fmt::Write as _;

use cortex_m_rt::entry;
use embassy_futures::select::{select, Either};
use embassy_net::tcp::TcpSocket;
use embassy_time::Duration;
use embedded_tls::{Aes128GcmSha256, TlsConfig, TlsConnection, TlsContext};
use linewire::http::{self, Action, Target};
use linewire::Batch;
use linewire_firmware_demo::describe;
use linewire_firmware_net::batches::{self, BATCHES, BUCKET, CAPACITY, TOKEN};
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::tls::{self, Parts, Provider, Settings};
use linewire_firmware_net::{async_net, board, clock};

/// Tries of one batch (sends, or connects and handshakes before it).
const MAX_ATTEMPTS: u32 = 3;
/// A socket that hears nothing this long fails the request.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(10);
const RESPONSE_BUF: usize = 512;

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

/// Sessions until every batch was tried: connect, handshake, batches
/// while the server keeps the connection, then a reset.
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
    let mut batch = Batch::<CAPACITY>::new();
    let mut buf = [0u8; RESPONSE_BUF];
    let mut all_stored = true;
    let mut sessions = 0u32;
    let mut connects = 0u32;
    let mut n = 0;
    let mut attempt = 1;
    let mut filled = None;

    while n < BATCHES {
        sessions = sessions.saturating_add(1);
        let _ = write!(out, "HANDSHAKE {sessions} ");
        // `Some(true)`: the session failed, a try of the batch.
        let mut again = None;
        if socket.connect(server).await.is_err() {
            let _ = writeln!(out, "error=connect");
            again = Some(true);
        } else {
            connects = connects.saturating_add(1);
            let mut session: TlsConnection<'_, _, Aes128GcmSha256> =
                TlsConnection::new(&mut socket, &mut *rx, &mut *tx);
            let started = clock::now();
            let opened = session
                .open(TlsContext::new(&config, Provider::new(&mut rng, ca)))
                .await;
            match opened {
                Ok(()) => {
                    let ms = (clock::now() - started).total_millis();
                    let _ = writeln!(out, "ok ms={ms}");
                }
                Err(e) => {
                    let _ = writeln!(out, "error={e:?}");
                    again = Some(true);
                }
            }
            while again.is_none() && n < BATCHES {
                if filled != Some(n) {
                    if let Err(e) = batches::fill(&mut batch, n) {
                        let _ = writeln!(out, "ERROR batch {n} could not be formatted: {e}");
                        all_stored = false;
                        n += 1;
                        continue;
                    }
                    filled = Some(n);
                }
                let result = http::write_batch_async(&mut session, &target, &batch, &mut buf).await;
                let _ = write!(out, "BATCH {n} {attempt} session={sessions} ");
                match result {
                    Ok(reply) => {
                        let _ = describe(&reply, out);
                        let _ = writeln!(out);
                        let retry = match reply.outcome.action() {
                            Action::Done => false,
                            Action::Retry | Action::RetryLater => true,
                            _ => {
                                all_stored = false;
                                false
                            }
                        };
                        if retry && attempt < MAX_ATTEMPTS {
                            attempt += 1;
                        } else {
                            all_stored &= !retry;
                            n += 1;
                            attempt = 1;
                        }
                        if !reply.reusable {
                            again = Some(false);
                        }
                    }
                    Err(e) => {
                        let _ = writeln!(out, "error={e}");
                        again = Some(true);
                    }
                }
            }
        }
        // The session ends here, without a close_notify: a reset ends it
        // (its last request was answered, or failed).
        socket.abort();
        let _ = socket.flush().await;
        if again == Some(true) {
            if attempt < MAX_ATTEMPTS {
                attempt += 1;
            } else {
                all_stored = false;
                n += 1;
                attempt = 1;
            }
        }
    }
    let _ = writeln!(out, "CONNECTS {connects}");
    all_stored
}
