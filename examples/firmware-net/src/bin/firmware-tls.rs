//! The TLS variant: writes [`BATCHES`] batches to the test kit's HTTPS
//! server over TLS 1.3 (`embedded-tls` 0.19, blocking) on the same board,
//! `smoltcp` stack and `linewire::nal::NalStream` as `firmware-net`,
//! verifying the server's certificate against a CA and the server's name.
//!
//! Command line (semihosting): `port=N ca=<path of a DER CA certificate on
//! the host> name=<the server's name>`. The CA is read through
//! semihosting because the test kit makes a new one each run; a device
//! keeps its CA in flash (`include_bytes!`). The name is the one the
//! server's certificate carries (the test kit's: `localhost`), sent as
//! SNI, checked against the certificate, and sent as the `Host` header:
//! the firmware reaches the server at 10.0.2.2 whatever the name.
//!
//! The connection loop is the caller-owned one `embedded-tls` needs (its
//! `TlsConnection` borrows its record buffers for its whole life): connect
//! and handshake, write batches over the session while the server keeps
//! the connection ([`Reply::reusable`](linewire::http::Reply)), then drop
//! the session, close the socket and start again.
//!
//! Output, besides `firmware-net`'s records (`BATCH` counts TLS sessions
//! in place of connections: `session=<s>`):
//!
//! ```text
//! CA bytes=<n>                                    the CA certificate read
//! HANDSHAKE <s> ok ms=<guest ms>                  session s is open
//! HANDSHAKE <s> error=<embedded-tls's error>      the handshake failed (s counts it)
//! CONNECTS <c>                                    TCP connections opened in all
//! ```
#![no_std]
#![no_main]

use core::fmt::Write as _;
use core::net::SocketAddr;

use cortex_m_rt::entry;
use embedded_tls::blocking::{Aes128GcmSha256, TlsConfig, TlsConnection, TlsContext};
use linewire::http::{self, Action, Target};
use linewire::nal::{NalStream, ZeroRead};
use linewire::Batch;
use linewire_firmware_demo::describe;
use linewire_firmware_net::batches::{self, BATCHES, BUCKET, CAPACITY, TOKEN};
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::net::Deadline;
use linewire_firmware_net::tls::{self, Parts, Provider, Settings};
use linewire_firmware_net::{board, clock};

/// Tries of one batch (sends, or handshakes before it).
const MAX_ATTEMPTS: u32 = 3;
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

/// Reads the CA, brings the network up and writes the batches; `true`
/// when every batch was stored.
#[inline(never)]
fn run(out: &mut Console, settings: &Settings<'_>) -> bool {
    let Some(Parts { ca, rx, tx }) = tls::parts(out, settings) else {
        return false;
    };
    let Some(stack) = board::network() else {
        let _ = writeln!(out, "ERROR the network was already brought up");
        return false;
    };
    let target = match Target::v2(settings.name, BUCKET, TOKEN) {
        Ok(t) => t.port(settings.port),
        Err(e) => {
            let _ = writeln!(out, "ERROR the target is invalid: {e}");
            return false;
        }
    };
    let server = SocketAddr::new(board::GATEWAY.into(), settings.port);
    let mut conn = NalStream::new(stack, server, Deadline::standard()).zero_read(ZeroRead::NoData);
    let config = TlsConfig::new().with_server_name(settings.name);
    let mut rng = tls::rng();
    let mut batch = Batch::<CAPACITY>::new();
    let mut buf = [0u8; RESPONSE_BUF];
    let mut all_stored = true;
    let mut sessions = 0u32;
    let mut n = 0;
    let mut attempt = 1;
    let mut filled = None;

    while n < BATCHES {
        if filled != Some(n) {
            if let Err(e) = batches::fill(&mut batch, n) {
                let _ = writeln!(out, "ERROR batch {n} could not be formatted: {e}");
                all_stored = false;
                n += 1;
                continue;
            }
            filled = Some(n);
        }
        // A session: connect (on the handshake's first write), handshake,
        // then batches while the server keeps the connection.
        sessions = sessions.saturating_add(1);
        let mut tls: TlsConnection<'_, _, Aes128GcmSha256> =
            TlsConnection::new(&mut conn, &mut *rx, &mut *tx);
        let provider = Provider::new(&mut rng, ca);
        let started = clock::now();
        let opened = tls.open(TlsContext::new(&config, provider));
        let _ = write!(out, "HANDSHAKE {sessions} ");
        let mut again = match opened {
            Ok(()) => {
                let ms = (clock::now() - started).total_millis();
                let _ = writeln!(out, "ok ms={ms}");
                None
            }
            Err(e) => {
                let _ = writeln!(out, "error={e:?}");
                Some(true)
            }
        };
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
            let result = http::write_batch(&mut tls, &target, &batch, &mut buf);
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
        // The session ends here, without a close_notify: the socket's
        // close ends it (its last request was answered, or failed).
        let _ = conn.close();
        // A failed handshake or request counts as a try of the batch.
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
    let _ = writeln!(out, "CONNECTS {}", conn.connects());
    let dev = conn.stack().device();
    let _ = writeln!(
        out,
        "ENET dropped={} unsent={}",
        dev.dropped(),
        dev.unsent()
    );
    all_stored
}
