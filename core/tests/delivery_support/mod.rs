//! Shared by the delivery tests: the test kit's TCP connection as an
//! `embedded_io` (and `embedded_io_async`) stream, and a simulated-clock driver loop that polls through either driver,
//! `Writer::poll` or `Writer::poll_async` (see [`Driver`]).
#![allow(dead_code)]

use std::net::SocketAddr;

use linewire::{Event, Writer};

/// A TCP connection to the test kit, as firmware would have it.
pub use linewire_testkit::tcp::Tcp;

/// Which of the core's drivers [`deliver_due`] polls through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Driver {
    /// `Writer::poll` (embedded-io).
    Blocking,
    /// `Writer::poll_async` (embedded-io-async), run by `block_on`.
    #[cfg(feature = "async")]
    Async,
}

/// What the driver loop saw, for assertions.
#[derive(Debug, Default)]
pub struct Seen {
    pub delivered: u64,
    pub splits: u64,
    pub retrying: u64,
    pub transport_errors: u64,
    pub connect_failures: u64,
    pub gave_up: u64,
    pub too_large: u64,
    pub partial: u64,
    pub rejected: u64,
    pub halted: u64,
    pub reconnects: u64,
}

/// Polls `writer` at simulated time `now` for as long as it has a request
/// due, through `driver`, connecting to `addr` as needed. Never sleeps.
pub fn deliver_due<const N: usize, R: linewire::Random>(
    driver: Driver,
    writer: &mut Writer<'_, N, R>,
    now: u64,
    addr: SocketAddr,
    conn: &mut Option<Tcp>,
    seen: &mut Seen,
) {
    let mut buf = [0u8; 1024];
    let mut guard = 0;
    while writer.next_wakeup(now).is_some_and(|t| t <= now) {
        guard += 1;
        assert!(
            guard < 100_000,
            "the writer keeps asking to be polled at {now}"
        );
        if conn.is_none() {
            match Tcp::connect(addr) {
                Ok(s) => *conn = Some(s),
                Err(_) => {
                    seen.connect_failures += 1;
                    let p = writer.connect_failed(now);
                    note(&p.event, seen);
                    continue;
                }
            }
        }
        let Some(stream) = conn.as_mut() else {
            unreachable!()
        };
        let polled = match driver {
            Driver::Blocking => writer.poll(now, stream, &mut buf),
            #[cfg(feature = "async")]
            Driver::Async => embassy_futures::block_on(writer.poll_async(now, stream, &mut buf)),
        };
        match polled {
            Ok(p) => {
                note(&p.event, seen);
                if p.reconnect {
                    seen.reconnects += 1;
                    *conn = None;
                }
            }
            Err(_) => {
                seen.transport_errors += 1;
                *conn = None;
            }
        }
    }
}

fn note(e: &Event, seen: &mut Seen) {
    match e {
        Event::Delivered { .. } => seen.delivered += 1,
        Event::Split { .. } => seen.splits += 1,
        Event::Retrying { .. } => seen.retrying += 1,
        Event::GaveUp { .. } => seen.gave_up += 1,
        Event::TooLarge { .. } => seen.too_large += 1,
        Event::PartiallyDelivered { .. } => seen.partial += 1,
        Event::Rejected { .. } => seen.rejected += 1,
        Event::Halted => seen.halted += 1,
        _ => {}
    }
}

/// `accepted = sent + rejected + gave_up + too_large + dropped_overflow + queued`.
pub fn assert_accounting(s: &linewire::Stats) {
    assert_eq!(
        s.accepted,
        s.sent + s.rejected + s.gave_up + s.too_large + s.dropped_overflow + s.queued as u64,
        "every accepted point is sent, dropped (with a reason) or still queued: {s:?}"
    );
}
