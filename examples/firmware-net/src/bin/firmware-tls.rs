//! The TLS variant: writes the batches
//! ([`BATCHES`](linewire_firmware_net::batches::BATCHES)) to the test kit's
//! HTTPS server with `linewire::Writer::poll` (the shared loop of
//! [`delivery`](linewire_firmware_net::delivery)) over TLS 1.3
//! (`embedded-tls` 0.19, blocking) on the same board, `smoltcp` stack and
//! `linewire::nal::NalStream` as `firmware-net`, verifying the server's
//! certificate against a CA and the server's name.
//!
//! Command line (semihosting): `port=N ca=<path of a DER CA certificate on
//! the host> name=<the server's name>`. The CA is read through
//! semihosting because the test kit makes a new one each run; a device
//! keeps its CA in flash (`include_bytes!`). The name is the one the
//! server's certificate carries (the test kit's: `localhost`), sent as
//! SNI, checked against the certificate, and sent as the `Host` header:
//! the firmware reaches the server at 10.0.2.2 whatever the name.
//!
//! The reconnect loop is the caller-owned one `embedded-tls` needs (its
//! `TlsConnection` borrows its record buffers for its whole life): when a
//! poll is due and no session is open, connect and handshake (a failure of
//! either is `Writer::connect_failed`: the writer backs off); then poll the
//! writer over the session until it says to reconnect or a poll fails;
//! then drop the session, close the socket and start again. The writer's
//! backoff is waited on the semihosting clock while the smoltcp interface
//! keeps being polled (the session's `NalStream` is reached through
//! [`Shared`]).
//!
//! Output, besides `firmware-net`'s records (see the library's docs):
//!
//! ```text
//! CA bytes=<n>                                    the CA certificate read
//! HANDSHAKE <s> ok ms=<guest ms>                  session s is open
//! HANDSHAKE <s> error=<embedded-tls's error>      the handshake failed (s counts it)
//! ```
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::fmt::Write as _;
use core::net::SocketAddr;

use cortex_m_rt::entry;
use embedded_tls::blocking::{Aes128GcmSha256, TlsConfig, TlsConnection, TlsContext};
use linewire::http::Target;
use linewire::nal::{NalStream, ZeroRead};
use linewire_firmware_net::batches::{BUCKET, TOKEN};
use linewire_firmware_net::board::BoardStack;
use linewire_firmware_net::delivery::Delivery;
use linewire_firmware_net::host::{self, stack, Console};
use linewire_firmware_net::net::Deadline;
use linewire_firmware_net::tls::{self, Parts, Provider, Settings, Shared};
use linewire_firmware_net::{board, clock};

type Conn = NalStream<BoardStack, Deadline>;

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

/// Reads the CA, brings the network up and delivers the batches; `true`
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
    let mut conn = RefCell::new(
        NalStream::new(stack, server, Deadline::standard()).zero_read(ZeroRead::NoData),
    );
    let config = TlsConfig::new().with_server_name(settings.name);
    let mut rng = tls::rng();
    let mut delivery = Delivery::new(target, clock::seed() as u32);
    let mut sessions = 0u32;

    while let Some(due) = delivery.due(out, clock::now_ms()) {
        clock::wait_until(due, || poll_stack(&conn));
        // A session: connect, handshake, then polls while the writer
        // keeps the connection.
        if conn.get_mut().connect().is_err() {
            delivery.connect_failed(out, clock::now_ms(), conn.get_mut().connects());
            continue;
        }
        let connects = conn.get_mut().connects();
        sessions = sessions.saturating_add(1);
        let mut session: TlsConnection<'_, _, Aes128GcmSha256> =
            TlsConnection::new(Shared(&conn), &mut *rx, &mut *tx);
        let started = clock::now();
        let opened = session.open(TlsContext::new(&config, Provider::new(&mut rng, ca)));
        let _ = write!(out, "HANDSHAKE {sessions} ");
        match opened {
            Ok(()) => {
                let ms = (clock::now() - started).total_millis();
                let _ = writeln!(out, "ok ms={ms}");
                while !delivery.poll(out, clock::now_ms(), connects, &mut session) {
                    let Some(due) = delivery.due(out, clock::now_ms()) else {
                        break;
                    };
                    clock::wait_until(due, || poll_stack(&conn));
                }
            }
            Err(e) => {
                let _ = writeln!(out, "error={e:?}");
                delivery.connect_failed(out, clock::now_ms(), connects);
            }
        }
        // The session ends here, without a close_notify: the socket's
        // close ends it (its last request was answered, or failed).
        let _ = conn.get_mut().close();
    }
    let conn = conn.get_mut();
    let dev = conn.stack().device();
    let _ = writeln!(
        out,
        "ENET dropped={} unsent={}",
        dev.dropped(),
        dev.unsent()
    );
    delivery.finish(out)
}

/// Lets the interface send and receive while the writer waits.
fn poll_stack(conn: &RefCell<Conn>) {
    if let Ok(mut c) = conn.try_borrow_mut() {
        c.stack_mut().poll();
    }
}
