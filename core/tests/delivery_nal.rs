//! The writer over `NalStream` when the server closes an idle kept-alive
//! connection: exactly one immediate retry (the writer's), on a new
//! connection the stream opens by itself.
#![cfg(feature = "embedded-nal")]

use core::net::{Ipv4Addr, SocketAddr};

use embedded_nal::{nb, TcpClientStack, TcpError, TcpErrorKind};
use linewire::http::{Target, TransportError, WriteError};
use linewire::nal::{NalStream, Spin};
use linewire::{Batch, Event, Precision, RetryPolicy, Writer};

#[derive(Debug)]
struct Never;

impl TcpError for Never {
    fn kind(&self) -> TcpErrorKind {
        TcpErrorKind::Other
    }
}

/// A server that answers 204 with keep-alive, but closes each connection
/// after `per_connection[i]` requests on the `i`-th one (the last number
/// holds for later connections). One byte per receive.
struct IdleServer {
    per_connection: Vec<usize>,
    connects: usize,
    served: usize,
    requests: usize,
    reading: bool,
    closed: bool,
    reply: &'static [u8],
}

impl IdleServer {
    fn new(per_connection: &[usize]) -> Self {
        Self {
            per_connection: per_connection.to_vec(),
            connects: 0,
            served: 0,
            requests: 0,
            reading: true,
            closed: false,
            reply: b"",
        }
    }
}

impl TcpClientStack for IdleServer {
    type TcpSocket = usize;
    type Error = Never;
    fn socket(&mut self) -> Result<usize, Never> {
        Ok(self.connects)
    }
    fn connect(&mut self, _: &mut usize, _: SocketAddr) -> nb::Result<(), Never> {
        self.connects += 1;
        self.served = 0;
        self.closed = false;
        self.reading = true;
        Ok(())
    }
    fn send(&mut self, _: &mut usize, buf: &[u8]) -> nb::Result<usize, Never> {
        if self.reading {
            // A new request.
            self.reading = false;
            self.requests += 1;
            let limit = self
                .per_connection
                .get(self.connects - 1)
                .or(self.per_connection.last())
                .copied()
                .unwrap_or(usize::MAX);
            if self.served == limit {
                // Closed while idle: the bytes go out, nothing comes back.
                self.closed = true;
                self.reply = b"";
            } else {
                self.served += 1;
                self.reply = b"HTTP/1.1 204 No Content\r\n\r\n";
            }
        }
        Ok(buf.len())
    }
    fn receive(&mut self, _: &mut usize, buf: &mut [u8]) -> nb::Result<usize, Never> {
        self.reading = true;
        match (self.reply.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(d)) => {
                *d = b;
                self.reply = rest;
                Ok(1)
            }
            // The end of the stream once closed; otherwise nothing more yet.
            _ if self.closed => Ok(0),
            _ => Err(nb::Error::WouldBlock),
        }
    }
    fn close(&mut self, _: usize) -> Result<(), Never> {
        Ok(())
    }
}

fn point(v: i64) -> Batch<64> {
    let mut b = Batch::<64>::with_precision(Precision::Seconds);
    b.point("m")
        .unwrap()
        .field("v", v)
        .unwrap()
        .timestamp(v)
        .unwrap();
    b
}

#[test]
fn writer_over_nal_stream_retries_a_stale_connection_once_at_once() {
    let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086);
    let target = Target::v2("localhost", "b", "t").unwrap();
    let mut writer =
        Writer::<'_, 1024, _>::new(target, Precision::Seconds, RetryPolicy::new(), || 0u32);
    // The first connection carries one request; the server then drops it.
    let mut conn = NalStream::new(IdleServer::new(&[1, 100]), addr, Spin::new(100));
    let mut buf = [0u8; 256];
    writer.push(&point(0)).unwrap();
    let p = writer.poll(0, &mut conn, &mut buf).unwrap();
    assert_eq!(
        (p.event, p.reconnect),
        (Event::Delivered { lines: 1 }, false)
    );
    assert!(conn.is_connected());

    // A minute later: the firmware's loop, polling while a request is due.
    writer.push(&point(1)).unwrap();
    let now = 60_000;
    let mut errors = Vec::new();
    let mut events = Vec::new();
    while writer.next_wakeup(now).is_some_and(|t| t <= now) {
        match writer.poll(now, &mut conn, &mut buf) {
            Ok(p) => events.push(p.event),
            Err(e) => {
                errors.push(e);
                conn.close().unwrap();
            }
        }
        assert!(errors.len() + events.len() < 10);
    }
    assert_eq!(
        errors,
        [WriteError::Transport(TransportError::ClosedBeforeResponse)]
    );
    assert_eq!(events, [Event::Delivered { lines: 1 }]);
    // Three requests in all: no second immediate retry inside the stream.
    assert_eq!((conn.stack().requests, conn.connects()), (3, 2));
    let s = writer.stats();
    assert_eq!((s.sent, s.retries, s.stale_retries, s.lost()), (2, 0, 1, 0));
}

#[test]
fn nal_stream_write_batch_does_not_resend_by_itself() {
    let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086);
    let target = Target::v2("localhost", "b", "t").unwrap();
    let mut conn = NalStream::new(IdleServer::new(&[1, 100]), addr, Spin::new(100));
    let mut buf = [0u8; 256];
    conn.write_batch(&target, b"m v=1\n", &mut buf).unwrap();
    let err = conn.write_batch(&target, b"m v=2\n", &mut buf).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::ClosedBeforeResponse)
    );
    assert_eq!((conn.stack().requests, conn.connects()), (2, 1));
    // The next call opens a new connection.
    conn.write_batch(&target, b"m v=2\n", &mut buf).unwrap();
    assert_eq!((conn.stack().requests, conn.connects()), (3, 2));
}
