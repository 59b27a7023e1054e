//! The writer's reaction to each answer, over a scripted in-memory stream.

use linewire::http::{Target, TransportError, WriteError};
use linewire::{Batch, Event, LastError, Overflow, Precision, QueueError, RetryPolicy, Writer};

/// One exchange: records the request, answers with `reply`.
struct Exchange {
    sent: Vec<u8>,
    reply: &'static [u8],
    fail_write: bool,
}

impl Exchange {
    fn new(reply: &'static [u8]) -> Self {
        Self {
            sent: Vec::new(),
            reply,
            fail_write: false,
        }
    }
    fn body(&self) -> &[u8] {
        let at = self.sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        &self.sent[at + 4..]
    }
    fn lines(&self) -> usize {
        self.body().iter().filter(|&&b| b == b'\n').count()
    }
}

impl embedded_io::ErrorType for Exchange {
    type Error = embedded_io::ErrorKind;
}
impl embedded_io::Read for Exchange {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.reply.len());
        buf[..n].copy_from_slice(&self.reply[..n]);
        self.reply = &self.reply[n..];
        Ok(n)
    }
}
impl embedded_io::Write for Exchange {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.fail_write {
            return Err(embedded_io::ErrorKind::ConnectionReset);
        }
        self.sent.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

const OK: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
const TOO_LARGE: &[u8] = b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 2\r\n\r\n{}";

fn writer(policy: RetryPolicy) -> Writer<'static, 4096, fn() -> u32> {
    let target = Target::v2("h", "b", "t").unwrap();
    Writer::new(target, Precision::Seconds, policy, || 0u32)
}

fn push(w: &mut Writer<'static, 4096, fn() -> u32>, from: i64, n: i64) {
    let mut b = Batch::<256>::with_precision(Precision::Seconds);
    for i in from..from + n {
        b.point("m")
            .unwrap()
            .field("v", i)
            .unwrap()
            .timestamp(i)
            .unwrap();
        w.push(&b).unwrap();
        b.clear();
    }
}

fn poll(
    w: &mut Writer<'static, 4096, fn() -> u32>,
    now: u64,
    reply: &'static [u8],
) -> (Event, Exchange) {
    let mut ex = Exchange::new(reply);
    let mut buf = [0u8; 1024];
    let p = w.poll(now, &mut ex, &mut buf).unwrap();
    (p.event, ex)
}

#[test]
fn success_removes_the_batch_and_counts_it() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 3);
    let (e, ex) = poll(&mut w, 0, OK);
    assert_eq!(e, Event::Delivered { lines: 3 });
    assert_eq!(ex.body(), b"m v=0i 0\nm v=1i 1\nm v=2i 2\n");
    assert!(ex
        .sent
        .starts_with(b"POST /api/v2/write?bucket=b&precision=s HTTP/1.1\r\n"));
    let s = w.stats();
    assert_eq!((s.sent, s.queued, s.requests), (3, 0, 1));
    assert_eq!(poll(&mut w, 0, OK).0, Event::Idle);
}

#[test]
fn too_large_halves_the_batch_then_sends_the_halves() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 10);
    assert_eq!(poll(&mut w, 0, TOO_LARGE).0, Event::Split { lines: 10 });
    let (e, ex) = poll(&mut w, 0, TOO_LARGE);
    assert_eq!((e, ex.lines()), (Event::Split { lines: 5 }, 5));
    let (e, ex) = poll(&mut w, 0, OK);
    assert_eq!((e, ex.lines()), (Event::Delivered { lines: 3 }, 3));
    let (e, ex) = poll(&mut w, 0, OK);
    assert_eq!((e, ex.lines()), (Event::Delivered { lines: 3 }, 3));
    assert!(ex.body().starts_with(b"m v=3i 3\n"));
    let (e, ex) = poll(&mut w, 0, OK);
    assert_eq!((e, ex.lines()), (Event::Delivered { lines: 3 }, 3));
    // The smaller cap holds until every line of the batch that was too
    // large has gone (one left), then batches are whole again.
    push(&mut w, 10, 8);
    let (e, ex) = poll(&mut w, 0, OK);
    assert_eq!((e, ex.lines()), (Event::Delivered { lines: 3 }, 3));
    let (e, ex) = poll(&mut w, 0, OK);
    assert_eq!((e, ex.lines()), (Event::Delivered { lines: 6 }, 6));
    assert_eq!(w.stats().sent, 18);
    assert_eq!(w.stats().lost(), 0);
}

#[test]
fn a_single_line_that_is_too_large_is_dropped_and_counted() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 1);
    assert_eq!(poll(&mut w, 0, TOO_LARGE).0, Event::TooLarge { lines: 1 });
    let s = w.stats();
    assert_eq!((s.too_large, s.queued, s.last_status), (1, 0, Some(413)));
}

#[test]
fn telegraf_max_length_becomes_the_byte_limit() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 10); // 9 or 10 bytes a line
    let body = r#"{"code":"invalid","message":"http: request body too large","maxLength":"30"}"#;
    let reply = format!(
        "HTTP/1.1 413 Payload Too Large\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let reply: &'static [u8] = Box::leak(reply.into_bytes().into_boxed_slice());
    assert_eq!(poll(&mut w, 0, reply).0, Event::Split { lines: 10 });
    while !w.queue().is_empty() {
        let (_, ex) = poll(&mut w, 0, OK);
        assert!(ex.body().len() <= 30, "{}", ex.body().len());
    }
    assert_eq!(w.stats().sent, 10);
}

#[test]
fn partial_write_counts_rejected_lines_not_as_sent() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 5);
    let reply = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 112\r\n\r\n{\"code\":\"invalid\",\"line\":2,\"message\":\"failed to parse line protocol: errors encountered on line(s): line 2: x\"}";
    let (e, _) = poll(&mut w, 0, &reply[..]);
    let Event::PartiallyDelivered {
        written,
        rejected,
        lines,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!((written, rejected, lines.lines()), (4, 1, &[2][..]));
    let s = w.stats();
    assert_eq!((s.sent, s.rejected, s.queued), (4, 1, 0));
    assert_eq!(s.last_status, Some(400));
    assert!(s.last_message.starts_with("failed to parse line protocol"));
    assert_eq!(s.last_message.len(), linewire::LAST_MESSAGE_LEN);
}

#[test]
fn a_rejected_batch_is_dropped_and_counted() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 3);
    let reply = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 78\r\n\r\n{\"code\":\"invalid\",\"message\":\"write buffer error: line protocol parse failed\"}";
    assert_eq!(poll(&mut w, 0, &reply[..]).0, Event::Rejected { lines: 3 });
    assert_eq!((w.stats().rejected, w.stats().sent), (3, 0));
}

#[test]
fn unauthorized_keeps_everything_and_halts_until_resumed() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 3);
    let reply = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nUnauthorized";
    assert_eq!(poll(&mut w, 0, &reply[..]).0, Event::Halted);
    assert!(w.is_halted());
    assert_eq!(w.next_wakeup(0), None);
    // Nothing is sent while halted.
    let (e, ex) = poll(&mut w, 1_000_000, OK);
    assert_eq!((e, ex.sent.len()), (Event::Halted, 0));
    let s = w.stats();
    assert_eq!((s.queued, s.last_error), (3, Some(LastError::Status(401))));
    w.set_target(Target::v2("h", "b", "new").unwrap());
    assert_eq!(w.next_wakeup(5), Some(5));
    let (e, ex) = poll(&mut w, 5, OK);
    assert_eq!(e, Event::Delivered { lines: 3 });
    let auth = b"\r\nAuthorization: Token new\r\n";
    assert!(ex.sent.windows(auth.len()).any(|x| x == auth));
}

#[test]
fn not_found_and_forbidden_halt_too() {
    for reply in [
        &b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"[..],
        &b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"[..],
    ] {
        let mut w = writer(RetryPolicy::new());
        push(&mut w, 0, 2);
        assert_eq!(poll(&mut w, 0, reply).0, Event::Halted);
        assert_eq!(w.stats().queued, 2);
        assert_eq!(w.stats().lost(), 0);
    }
}

#[test]
fn throttled_waits_retry_after_and_keeps_everything() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 2);
    let reply = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        poll(&mut w, 1_000, &reply[..]).0,
        Event::Retrying { until_ms: 8_000 }
    );
    assert_eq!(w.next_wakeup(2_000), Some(8_000));
    let (e, ex) = poll(&mut w, 7_999, OK);
    assert_eq!((e, ex.sent.len()), (Event::Waiting { until_ms: 8_000 }, 0));
    assert_eq!(poll(&mut w, 8_000, OK).0, Event::Delivered { lines: 2 });
    let s = w.stats();
    assert_eq!((s.retries, s.requests, s.sent), (1, 2, 2));
}

#[test]
fn server_errors_back_off_then_give_up_and_report() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 2);
    let reply = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
    let mut now = 0;
    let mut waits = Vec::new();
    loop {
        match poll(&mut w, now, &reply[..]).0 {
            Event::Retrying { until_ms } => {
                waits.push(until_ms - now);
                now = until_ms;
            }
            Event::GaveUp { lines } => {
                assert_eq!(lines, 2);
                break;
            }
            e => panic!("{e:?}"),
        }
    }
    assert_eq!(waits, [5_000, 10_000, 20_000, 40_000, 80_000]);
    let s = w.stats();
    assert_eq!((s.gave_up, s.queued, s.retries, s.requests), (2, 0, 5, 6));
    assert_eq!(s.lost(), 2);
}

#[test]
fn transport_failure_keeps_the_batch_and_asks_to_reconnect() {
    let mut w = writer(RetryPolicy::new());
    push(&mut w, 0, 2);
    // No answer behind the failed write (an answer there would decide:
    // the early-413 rule of `write_payload`).
    let mut ex = Exchange::new(b"");
    ex.fail_write = true;
    let mut buf = [0u8; 256];
    let err = w.poll(0, &mut ex, &mut buf).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::Write(
            embedded_io::ErrorKind::ConnectionReset
        ))
    );
    assert_eq!(w.next_wakeup(0), Some(5_000));
    let s = w.stats();
    assert_eq!((s.queued, s.last_error), (2, Some(LastError::Write(err))));
    // A reply closed before the head is a transport failure too.
    let mut ex = Exchange::new(b"");
    assert!(w.poll(5_000, &mut ex, &mut buf).is_err());
    assert_eq!(w.stats().queued, 2);
    // The server closing the connection after answering asks for a reconnect.
    let mut ex = Exchange::new(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    let p = w.poll(1_000_000, &mut ex, &mut buf).unwrap();
    assert_eq!(p.event, Event::Delivered { lines: 2 });
    assert!(p.reconnect);
}

#[test]
fn push_refuses_lines_longer_than_a_batch() {
    let mut w = writer(RetryPolicy::new());
    w.set_max_bytes(16);
    let mut b = Batch::<256>::with_precision(Precision::Seconds);
    b.point("m")
        .unwrap()
        .field("s", "a long string value")
        .unwrap()
        .timestamp(1)
        .unwrap();
    assert!(matches!(
        w.push(&b),
        Err(QueueError::TooLarge { max: 16, .. })
    ));
    assert_eq!((w.stats().refused, w.stats().queued), (1, 0));
}

#[test]
fn refuse_policy_counts_refused_points() {
    let target = Target::v2("h", "b", "t").unwrap();
    let mut w: Writer<'_, 32, _> =
        Writer::new(target, Precision::Seconds, RetryPolicy::new(), || 1u32);
    w.set_overflow(Overflow::Refuse);
    let mut b = Batch::<64>::with_precision(Precision::Seconds);
    b.point("m")
        .unwrap()
        .field("v", 1i64)
        .unwrap()
        .timestamp(1)
        .unwrap(); // 9 bytes
    for _ in 0..3 {
        w.push(&b).unwrap();
    }
    assert_eq!(w.push(&b), Err(QueueError::Full));
    let s = w.stats();
    assert_eq!(
        (s.accepted, s.refused, s.queued, s.dropped_overflow),
        (3, 1, 3, 0)
    );
    assert_eq!(s.lost(), 1);
}

#[test]
fn a_writer_set_to_drop_on_401_drops_the_batch_and_goes_on() {
    let mut w = writer(RetryPolicy::new());
    w.set_on_misconfigured(linewire::OnMisconfigured::Drop);
    push(&mut w, 0, 2);
    let unauthorized: &'static [u8] =
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nUnauthorized";
    let (e, ex) = poll(&mut w, 0, unauthorized);
    assert_eq!((e, ex.lines()), (Event::Misconfigured { lines: 2 }, 2));
    assert!(!w.is_halted());
    push(&mut w, 2, 1);
    let (e, ex) = poll(&mut w, 0, OK);
    assert_eq!(
        (e, ex.body()),
        (Event::Delivered { lines: 1 }, &b"m v=2i 2\n"[..])
    );
    let s = w.stats();
    assert_eq!((s.misconfigured, s.sent, s.lost()), (2, 1, 2));
    assert_eq!(s.last_message.as_str(), "Unauthorized");
    assert_eq!(s.settled(), s.accepted);
}
