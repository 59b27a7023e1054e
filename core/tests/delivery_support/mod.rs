//! Shared by the delivery tests: a `std::net::TcpStream` as an
//! `embedded_io` stream (and, with `async`, an `embedded_io_async` one),
//! and a simulated-clock driver loop that polls through either driver,
//! `Writer::poll` or `Writer::poll_async` (see [`Driver`]).
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use embedded_io::ErrorKind;
use linewire::{Event, Writer};

/// A TCP connection to the test kit, as firmware would have it.
pub struct Tcp(pub TcpStream);

impl Tcp {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        s.set_nodelay(true)?;
        Ok(Self(s))
    }
}

fn kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionReset => ErrorKind::ConnectionReset,
        K::ConnectionAborted => ErrorKind::ConnectionAborted,
        K::BrokenPipe => ErrorKind::BrokenPipe,
        K::TimedOut | K::WouldBlock => ErrorKind::TimedOut,
        K::NotConnected => ErrorKind::NotConnected,
        _ => ErrorKind::Other,
    }
}

impl embedded_io::ErrorType for Tcp {
    type Error = ErrorKind;
}

impl embedded_io::Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => return r.map_err(|e| kind(&e)),
            }
        }
    }
}

impl embedded_io::Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).map_err(|e| kind(&e))
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush().map_err(|e| kind(&e))
    }
}

// Blocking inside, which `block_on` runs as it would any future.
#[cfg(feature = "async")]
impl embedded_io_async::Read for Tcp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        embedded_io::Read::read(self, buf)
    }
}

#[cfg(feature = "async")]
impl embedded_io_async::Write for Tcp {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        embedded_io::Write::write(self, buf)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        embedded_io::Write::flush(self)
    }
}

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
