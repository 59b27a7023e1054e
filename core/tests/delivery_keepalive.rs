//! A kept-alive connection the server closed while idle: the request on it
//! fails before any byte of a response, and the writer sends it again at
//! once on a new connection, without backoff, once.

use std::collections::VecDeque;

use embedded_io::ErrorKind;
use linewire::http::{Target, TransportError, WriteError};
use linewire::{Batch, Event, LastError, Precision, RetryPolicy, Writer};

/// What the server does with one request on a connection.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Answers with these bytes.
    Answer(&'static [u8]),
    /// Had closed the connection: the request is taken, then the stream
    /// ends without a byte.
    Closed,
    /// Had reset the connection: writing fails.
    WriteFails,
    /// Reading fails before any byte.
    ReadFails,
}

/// One connection serving one request after another, one byte per read and
/// per write.
struct Conn {
    steps: VecDeque<Step>,
    step: Option<Step>,
    reply: &'static [u8],
    writing: bool,
    requests: usize,
    sent: Vec<u8>,
}

impl Conn {
    fn new(steps: &[Step]) -> Self {
        Self {
            steps: steps.iter().copied().collect(),
            step: None,
            reply: b"",
            writing: false,
            requests: 0,
            sent: Vec::new(),
        }
    }
}

impl embedded_io::ErrorType for Conn {
    type Error = ErrorKind;
}

impl embedded_io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if !self.writing {
            // A new request.
            self.writing = true;
            self.requests += 1;
            self.step = self.steps.pop_front();
            self.reply = match self.step {
                Some(Step::Answer(r)) => r,
                _ => b"",
            };
        }
        match self.step {
            Some(Step::WriteFails) | None => Err(ErrorKind::ConnectionReset),
            _ => {
                let Some(&b) = buf.first() else { return Ok(0) };
                self.sent.push(b);
                Ok(1)
            }
        }
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl embedded_io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.writing = false;
        match self.step {
            Some(Step::ReadFails) => Err(ErrorKind::ConnectionReset),
            _ => match (self.reply.split_first(), buf.first_mut()) {
                (Some((&b, rest)), Some(d)) => {
                    *d = b;
                    self.reply = rest;
                    Ok(1)
                }
                _ => Ok(0),
            },
        }
    }
}

const OK: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
const OK_CLOSE: &[u8] = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
const UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

type W = Writer<'static, 4096, fn() -> u32>;

fn writer() -> W {
    let target = Target::v2("h", "b", "t").unwrap();
    // Jitter 0: each backoff is the low end of its range (5 s, 10 s, ...).
    Writer::new(target, Precision::Seconds, RetryPolicy::new(), || 0u32)
}

fn push(w: &mut W, v: i64) {
    let mut b = Batch::<64>::with_precision(Precision::Seconds);
    b.point("m")
        .unwrap()
        .field("v", v)
        .unwrap()
        .timestamp(v)
        .unwrap();
    w.push(&b).unwrap();
}

fn poll(w: &mut W, now: u64, conn: &mut Conn) -> Result<linewire::Poll, WriteError> {
    let mut buf = [0u8; 256];
    w.poll(now, conn, &mut buf)
}

/// A batch delivered on a connection that stays open, then a second batch
/// due at `now` on it.
fn kept_alive(step: Step, now: u64) -> (W, Conn, WriteError) {
    let mut w = writer();
    push(&mut w, 0);
    let mut conn = Conn::new(&[Step::Answer(OK), step]);
    let p = poll(&mut w, 0, &mut conn).unwrap();
    assert_eq!(
        (p.event, p.reconnect),
        (Event::Delivered { lines: 1 }, false)
    );
    push(&mut w, 1);
    let err = poll(&mut w, now, &mut conn).unwrap_err();
    assert_eq!(conn.requests, 2);
    (w, conn, err)
}

#[test]
fn a_kept_alive_connection_the_server_closed_is_retried_at_once() {
    let cases = [
        (Step::Closed, TransportError::ClosedBeforeResponse),
        (
            Step::WriteFails,
            TransportError::Write(ErrorKind::ConnectionReset),
        ),
        (
            Step::ReadFails,
            TransportError::Read(ErrorKind::ConnectionReset),
        ),
    ];
    for (step, expected) in cases {
        let now = 60_000;
        let (mut w, _, err) = kept_alive(step, now);
        assert_eq!(err, WriteError::Transport(expected), "{step:?}");
        // Due again at once: no backoff.
        assert_eq!(w.next_wakeup(now), Some(now), "{step:?}");
        let s = w.stats();
        assert_eq!(
            (s.retries, s.stale_retries, s.queued),
            (0, 1, 1),
            "{step:?}"
        );
        assert_eq!(s.last_error, None, "{step:?}");
        // The caller connects again and polls at the same `now`.
        let mut fresh = Conn::new(&[Step::Answer(OK)]);
        let p = poll(&mut w, now, &mut fresh).unwrap();
        assert_eq!(p.event, Event::Delivered { lines: 1 }, "{step:?}");
        assert!(fresh.sent.ends_with(b"m v=1i 1\n"), "{step:?}");
        let s = w.stats();
        assert_eq!(
            (s.sent, s.requests, s.retries, s.stale_retries, s.lost()),
            (2, 3, 0, 1, 0),
            "{step:?}"
        );
        assert_eq!(s.last_error, None, "{step:?}");
    }
}

#[test]
fn two_stale_failures_in_a_row_back_off_as_before() {
    let now = 60_000;
    let (mut w, _, _) = kept_alive(Step::Closed, now);
    assert_eq!(w.next_wakeup(now), Some(now));
    // The new connection fails before a response too: a failure like any.
    let mut fresh = Conn::new(&[Step::Closed]);
    let err = poll(&mut w, now, &mut fresh).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::ClosedBeforeResponse)
    );
    assert_eq!(w.next_wakeup(now), Some(now + 5_000));
    let s = w.stats();
    assert_eq!((s.retries, s.stale_retries, s.queued), (1, 1, 1));
    assert_eq!(s.last_error, Some(LastError::Write(err)));
    // And the one after it waits twice as long.
    let mut fresh = Conn::new(&[Step::WriteFails]);
    assert!(poll(&mut w, now + 5_000, &mut fresh).is_err());
    assert_eq!(w.next_wakeup(now + 5_000), Some(now + 15_000));
    let mut fresh = Conn::new(&[Step::Answer(OK)]);
    let p = poll(&mut w, now + 15_000, &mut fresh).unwrap();
    assert_eq!(p.event, Event::Delivered { lines: 1 });
    let s = w.stats();
    assert_eq!((s.retries, s.stale_retries, s.lost()), (2, 1, 0));
}

#[test]
fn a_fresh_connection_failing_backs_off_with_no_free_retry() {
    // The first request of all.
    for step in [Step::Closed, Step::WriteFails, Step::ReadFails] {
        let mut w = writer();
        push(&mut w, 0);
        assert!(poll(&mut w, 0, &mut Conn::new(&[step])).is_err());
        assert_eq!(w.next_wakeup(0), Some(5_000), "{step:?}");
        let s = w.stats();
        assert_eq!((s.retries, s.stale_retries), (1, 0), "{step:?}");
    }
    // After an answer that closed the connection (`reconnect`).
    let mut w = writer();
    push(&mut w, 0);
    let mut conn = Conn::new(&[Step::Answer(OK_CLOSE)]);
    let p = poll(&mut w, 0, &mut conn).unwrap();
    assert_eq!(
        (p.event, p.reconnect),
        (Event::Delivered { lines: 1 }, true)
    );
    push(&mut w, 1);
    assert!(poll(&mut w, 1_000, &mut Conn::new(&[Step::Closed])).is_err());
    assert_eq!(w.next_wakeup(1_000), Some(6_000));
    // After a connect failure.
    let mut w = writer();
    push(&mut w, 0);
    w.connect_failed(0);
    assert!(poll(&mut w, 5_000, &mut Conn::new(&[Step::Closed])).is_err());
    assert_eq!(w.next_wakeup(5_000), Some(15_000));
    assert_eq!(w.stats().stale_retries, 0);
}

#[test]
fn a_failure_after_response_bytes_backs_off() {
    let mut w = writer();
    push(&mut w, 0);
    let mut conn = Conn::new(&[Step::Answer(OK), Step::Answer(b"HTTP/1.1 2")]);
    poll(&mut w, 0, &mut conn).unwrap();
    push(&mut w, 1);
    let err = poll(&mut w, 1_000, &mut conn).unwrap_err();
    assert_eq!(err, WriteError::Transport(TransportError::ClosedMidHead));
    assert_eq!(w.next_wakeup(1_000), Some(6_000));
    assert_eq!((w.stats().retries, w.stats().stale_retries), (1, 0));
}

#[test]
fn a_retry_on_a_connection_kept_after_503_goes_again_at_once() {
    let mut w = writer();
    push(&mut w, 0);
    let mut conn = Conn::new(&[Step::Answer(UNAVAILABLE), Step::Closed]);
    let p = poll(&mut w, 0, &mut conn).unwrap();
    assert_eq!(
        (p.event, p.reconnect),
        (Event::Retrying { until_ms: 5_000 }, false)
    );
    // The retry, on the kept connection, finds it closed: at once again.
    assert!(poll(&mut w, 5_000, &mut conn).is_err());
    assert_eq!(w.next_wakeup(5_000), Some(5_000));
    let p = poll(&mut w, 5_000, &mut Conn::new(&[Step::Answer(OK)])).unwrap();
    assert_eq!(p.event, Event::Delivered { lines: 1 });
    let s = w.stats();
    assert_eq!((s.retries, s.stale_retries, s.sent), (1, 1, 1));
}
