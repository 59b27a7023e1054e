//! The async driver against the blocking one: every outcome sequence of
//! the blocking writer's tests (`delivery_writer.rs`, `delivery_keepalive.rs`)
//! driven through `Writer::poll_async` over a one-byte async fake must give
//! the events the blocking tests expect, and the same results, request
//! bytes, wake-ups and counters as `Writer::poll` over the same fake, step
//! by step. Then over real TCP against the test kit, with a 503.
#![cfg(feature = "async")]

mod counting_alloc;

use embedded_io::ErrorKind;
use linewire::http::{Target, TransportError, WriteError};
use linewire::{
    Batch, Event, LastError, OnMisconfigured, Poll, Precision, RetryPolicy, Stats, Writer,
};
use linewire_testkit::tcp::Tcp;
use linewire_testkit::{Fault, FaultPlan, FieldValue, TestServer};

// Per thread: the other tests' allocations do not count.
#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// What the server does with one request.
#[derive(Debug, Clone, Copy)]
enum Wire {
    /// Answers with these bytes.
    Answer(&'static [u8]),
    /// Takes the request, then the stream ends without a byte (a
    /// connection the server had closed).
    Closed,
    /// Writing fails (a reset connection).
    WriteFails,
    /// Reading fails before any byte.
    ReadFails,
}

/// One exchange, one byte per read and per write.
struct Exchange {
    wire: Wire,
    reply: &'static [u8],
    sent: Vec<u8>,
}

impl Exchange {
    fn new(wire: Wire) -> Self {
        let reply = match wire {
            Wire::Answer(r) => r,
            _ => b"",
        };
        Self {
            wire,
            reply,
            sent: Vec::new(),
        }
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        if let Wire::WriteFails = self.wire {
            return Err(ErrorKind::ConnectionReset);
        }
        let Some(&b) = buf.first() else { return Ok(0) };
        self.sent.push(b);
        Ok(1)
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if let Wire::ReadFails = self.wire {
            return Err(ErrorKind::ConnectionReset);
        }
        match (self.reply.split_first(), buf.first_mut()) {
            (Some((&b, rest)), Some(d)) => {
                *d = b;
                self.reply = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// The exchange behind the blocking traits.
struct Blocking(Exchange);

impl embedded_io::ErrorType for Blocking {
    type Error = ErrorKind;
}
impl embedded_io::Read for Blocking {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf)
    }
}
impl embedded_io::Write for Blocking {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// The exchange behind the async traits, yielding to the executor before
/// every read and write (a real suspension point, as a socket waiting for
/// the network).
struct Async(Exchange);

impl embedded_io_async::ErrorType for Async {
    type Error = ErrorKind;
}
impl embedded_io_async::Read for Async {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        embassy_futures::yield_now().await;
        self.0.read(buf)
    }
}
impl embedded_io_async::Write for Async {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        embassy_futures::yield_now().await;
        self.0.write(buf)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        embassy_futures::yield_now().await;
        Ok(())
    }
}

/// What the blocking tests expect of a step: an event, or an error.
type Expect = Result<Event, WriteError>;

/// A step of a scenario.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Pushes points `from..from + n` (`m v=<i>i <i>`, seconds).
    Push(i64, i64),
    /// Polls at `now` over an exchange that behaves as `Wire`; the blocking
    /// tests' expectation, where they have a simple one.
    Poll(u64, Wire, Option<Expect>),
    /// Connecting failed at `now`.
    ConnectFailed(u64, Event),
    /// A new token (and so a resume).
    SetTarget,
}

use Step::{ConnectFailed, Poll as P, Push, SetTarget};

const OK: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
const OK_CLOSE: &[u8] = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
const TOO_LARGE: &[u8] = b"HTTP/1.1 413 Request Entity Too Large\r\nContent-Length: 2\r\n\r\n{}";
const UNAVAILABLE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";
const UNAUTHORIZED: &[u8] = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nUnauthorized";
const MAX_LENGTH: &[u8] = b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 76\r\n\r\n{\"code\":\"invalid\",\"message\":\"http: request body too large\",\"maxLength\":\"30\"}";
const PARTIAL: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 112\r\n\r\n{\"code\":\"invalid\",\"line\":2,\"message\":\"failed to parse line protocol: errors encountered on line(s): line 2: x\"}";
const REJECTED: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 78\r\n\r\n{\"code\":\"invalid\",\"message\":\"write buffer error: line protocol parse failed\"}";
const THROTTLED: &[u8] =
    b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n";
const SERVER_ERROR: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";

fn ok(e: Event) -> Option<Expect> {
    Some(Ok(e))
}

fn err(e: TransportError) -> Option<Expect> {
    Some(Err(WriteError::Transport(e)))
}

fn delivered(lines: usize) -> Option<Expect> {
    ok(Event::Delivered { lines })
}

fn retrying(until_ms: u64) -> Option<Expect> {
    ok(Event::Retrying { until_ms })
}

/// A named scenario and whether its writer drops batches on 401.
struct Scenario {
    name: &'static str,
    drop_on_401: bool,
    steps: Vec<Step>,
}

fn scenario(name: &'static str, steps: Vec<Step>) -> Scenario {
    Scenario {
        name,
        drop_on_401: false,
        steps,
    }
}

/// The outcome sequences of the blocking writer's tests.
fn scenarios() -> Vec<Scenario> {
    let reset = TransportError::Write(ErrorKind::ConnectionReset);
    let mut all = vec![
        scenario(
            "success",
            vec![
                Push(0, 3),
                P(0, Wire::Answer(OK), delivered(3)),
                P(0, Wire::Answer(OK), ok(Event::Idle)),
            ],
        ),
        scenario(
            "413 halves the batch",
            vec![
                Push(0, 10),
                P(0, Wire::Answer(TOO_LARGE), ok(Event::Split { lines: 10 })),
                P(0, Wire::Answer(TOO_LARGE), ok(Event::Split { lines: 5 })),
                P(0, Wire::Answer(OK), delivered(3)),
                P(0, Wire::Answer(OK), delivered(3)),
                P(0, Wire::Answer(OK), delivered(3)),
                Push(10, 8),
                P(0, Wire::Answer(OK), delivered(3)),
                P(0, Wire::Answer(OK), delivered(6)),
            ],
        ),
        scenario(
            "a single line too large",
            vec![
                Push(0, 1),
                P(0, Wire::Answer(TOO_LARGE), ok(Event::TooLarge { lines: 1 })),
            ],
        ),
        scenario(
            "maxLength becomes the byte limit",
            vec![
                Push(0, 10),
                P(0, Wire::Answer(MAX_LENGTH), ok(Event::Split { lines: 10 })),
                P(0, Wire::Answer(OK), None),
                P(0, Wire::Answer(OK), None),
                P(0, Wire::Answer(OK), None),
                P(0, Wire::Answer(OK), None),
                P(0, Wire::Answer(OK), None),
            ],
        ),
        scenario(
            "partial write",
            vec![Push(0, 5), P(0, Wire::Answer(PARTIAL), None)],
        ),
        scenario(
            "rejected",
            vec![
                Push(0, 3),
                P(0, Wire::Answer(REJECTED), ok(Event::Rejected { lines: 3 })),
            ],
        ),
        scenario(
            "401 halts until a new target",
            vec![
                Push(0, 3),
                P(0, Wire::Answer(UNAUTHORIZED), ok(Event::Halted)),
                P(1_000_000, Wire::Answer(OK), ok(Event::Halted)),
                SetTarget,
                P(5, Wire::Answer(OK), delivered(3)),
            ],
        ),
        scenario(
            "404 halts",
            vec![
                Push(0, 2),
                P(
                    0,
                    Wire::Answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
                    ok(Event::Halted),
                ),
            ],
        ),
        scenario(
            "403 halts",
            vec![
                Push(0, 2),
                P(
                    0,
                    Wire::Answer(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"),
                    ok(Event::Halted),
                ),
            ],
        ),
        scenario(
            "429 waits Retry-After",
            vec![
                Push(0, 2),
                P(1_000, Wire::Answer(THROTTLED), retrying(8_000)),
                P(
                    7_999,
                    Wire::Answer(OK),
                    ok(Event::Waiting { until_ms: 8_000 }),
                ),
                P(8_000, Wire::Answer(OK), delivered(2)),
            ],
        ),
        scenario(
            "500 backs off, then gives up",
            vec![
                Push(0, 2),
                P(0, Wire::Answer(SERVER_ERROR), retrying(5_000)),
                P(5_000, Wire::Answer(SERVER_ERROR), retrying(15_000)),
                P(15_000, Wire::Answer(SERVER_ERROR), retrying(35_000)),
                P(35_000, Wire::Answer(SERVER_ERROR), retrying(75_000)),
                P(75_000, Wire::Answer(SERVER_ERROR), retrying(155_000)),
                P(
                    155_000,
                    Wire::Answer(SERVER_ERROR),
                    ok(Event::GaveUp { lines: 2 }),
                ),
            ],
        ),
        scenario(
            "transport failures keep the batch",
            vec![
                Push(0, 2),
                P(0, Wire::WriteFails, err(reset)),
                P(
                    5_000,
                    Wire::Closed,
                    err(TransportError::ClosedBeforeResponse),
                ),
                P(1_000_000, Wire::Answer(OK_CLOSE), delivered(2)),
            ],
        ),
        scenario(
            "two stale failures in a row back off",
            vec![
                Push(0, 1),
                P(0, Wire::Answer(OK), delivered(1)),
                Push(1, 1),
                P(
                    60_000,
                    Wire::Closed,
                    err(TransportError::ClosedBeforeResponse),
                ),
                P(
                    60_000,
                    Wire::Closed,
                    err(TransportError::ClosedBeforeResponse),
                ),
                P(65_000, Wire::WriteFails, err(reset)),
                P(75_000, Wire::Answer(OK), delivered(1)),
            ],
        ),
        scenario(
            "no free retry after a close",
            vec![
                Push(0, 1),
                P(0, Wire::Answer(OK_CLOSE), delivered(1)),
                Push(1, 1),
                P(
                    1_000,
                    Wire::Closed,
                    err(TransportError::ClosedBeforeResponse),
                ),
                P(
                    1_000,
                    Wire::Answer(OK),
                    ok(Event::Waiting { until_ms: 6_000 }),
                ),
            ],
        ),
        scenario(
            "a failure after response bytes backs off",
            vec![
                Push(0, 1),
                P(0, Wire::Answer(OK), delivered(1)),
                Push(1, 1),
                P(
                    1_000,
                    Wire::Answer(b"HTTP/1.1 2"),
                    err(TransportError::ClosedMidHead),
                ),
                P(
                    1_000,
                    Wire::Answer(OK),
                    ok(Event::Waiting { until_ms: 6_000 }),
                ),
            ],
        ),
        scenario(
            "a retry on a connection kept after 503 goes again at once",
            vec![
                Push(0, 1),
                P(0, Wire::Answer(UNAVAILABLE), retrying(5_000)),
                P(
                    5_000,
                    Wire::Closed,
                    err(TransportError::ClosedBeforeResponse),
                ),
                P(5_000, Wire::Answer(OK), delivered(1)),
            ],
        ),
        scenario(
            "a failed connect backs off; no free retry after it",
            vec![
                Push(0, 1),
                ConnectFailed(0, Event::Retrying { until_ms: 5_000 }),
                ConnectFailed(1_000, Event::Waiting { until_ms: 5_000 }),
                P(
                    5_000,
                    Wire::Closed,
                    err(TransportError::ClosedBeforeResponse),
                ),
                P(15_000, Wire::Answer(OK), delivered(1)),
            ],
        ),
    ];
    // The free retry, for each way a stale connection fails.
    for (wire, e) in [
        (Wire::Closed, TransportError::ClosedBeforeResponse),
        (Wire::WriteFails, reset),
        (
            Wire::ReadFails,
            TransportError::Read(ErrorKind::ConnectionReset),
        ),
    ] {
        all.push(scenario(
            "a kept-alive connection the server closed is retried at once",
            vec![
                Push(0, 1),
                P(0, Wire::Answer(OK), delivered(1)),
                Push(1, 1),
                P(60_000, wire, err(e)),
                P(60_000, Wire::Answer(OK), delivered(1)),
            ],
        ));
    }
    all.push(Scenario {
        name: "a writer set to drop on 401 goes on",
        drop_on_401: true,
        steps: vec![
            Push(0, 2),
            P(
                0,
                Wire::Answer(UNAUTHORIZED),
                ok(Event::Misconfigured { lines: 2 }),
            ),
            Push(2, 1),
            P(0, Wire::Answer(OK), delivered(1)),
        ],
    });
    all
}

/// What one step left behind.
#[derive(Debug, PartialEq)]
struct Trace {
    result: Option<Result<Poll, WriteError>>,
    sent: Vec<u8>,
    wakeup: Option<u64>,
    stats: Stats,
}

type W = Writer<'static, 4096, fn() -> u32>;

fn writer(token: &'static str) -> W {
    let target = Target::v2("h", "b", token).unwrap();
    // Jitter 0: each backoff is the low end of its range (5 s, 10 s, ...).
    Writer::new(target, Precision::Seconds, RetryPolicy::new(), || 0u32)
}

fn push(w: &mut W, from: i64, n: i64) {
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

/// Runs `s` with the blocking driver or the async one.
fn run(s: &Scenario, use_async: bool) -> Vec<Trace> {
    let mut w = writer("t");
    if s.drop_on_401 {
        w.set_on_misconfigured(OnMisconfigured::Drop);
    }
    let mut traces = Vec::new();
    for (i, step) in s.steps.iter().enumerate() {
        let (result, sent, now) = match *step {
            Push(from, n) => {
                push(&mut w, from, n);
                (None, Vec::new(), 0)
            }
            SetTarget => {
                w.set_target(Target::v2("h", "b", "new").unwrap());
                (None, Vec::new(), 0)
            }
            ConnectFailed(now, expected) => {
                let p = w.connect_failed(now);
                assert_eq!(p.event, expected, "{}, step {i}", s.name);
                (Some(Ok(p)), Vec::new(), now)
            }
            P(now, wire, expected) => {
                let mut buf = [0u8; 1024];
                let (result, sent) = if use_async {
                    let mut stream = Async(Exchange::new(wire));
                    let r = embassy_futures::block_on(w.poll_async(now, &mut stream, &mut buf));
                    (r, stream.0.sent)
                } else {
                    let mut stream = Blocking(Exchange::new(wire));
                    (w.poll(now, &mut stream, &mut buf), stream.0.sent)
                };
                if let Some(expected) = expected {
                    assert_eq!(
                        result.map(|p| p.event),
                        expected,
                        "{} ({}), step {i}",
                        s.name,
                        if use_async { "async" } else { "blocking" },
                    );
                }
                (Some(result), sent, now)
            }
        };
        traces.push(Trace {
            result,
            sent,
            wakeup: w.next_wakeup(now),
            stats: w.stats(),
        });
    }
    traces
}

fn body(sent: &[u8]) -> &[u8] {
    let at = sent.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    &sent[at + 4..]
}

#[test]
fn poll_async_gives_the_events_and_stats_of_poll_for_every_scenario() {
    for s in scenarios() {
        let blocking = run(&s, false);
        let asynchronous = run(&s, true);
        assert_eq!(blocking.len(), asynchronous.len());
        for (i, (b, a)) in blocking.iter().zip(&asynchronous).enumerate() {
            assert_eq!(a, b, "{}, step {i}", s.name);
        }
        // Every point accounted for, and the machine's counters moved.
        let last = &asynchronous.last().unwrap().stats;
        assert_eq!(last.settled(), last.accepted, "{}", s.name);
        assert!(last.requests > 0, "{}", s.name);
    }
}

#[test]
fn poll_async_splits_to_a_telegraf_max_length() {
    let s = scenarios()
        .into_iter()
        .find(|s| s.name == "maxLength becomes the byte limit")
        .unwrap();
    let traces = run(&s, true);
    for t in &traces[2..] {
        if !t.sent.is_empty() {
            assert!(body(&t.sent).len() <= 30, "{}", body(&t.sent).len());
        }
    }
    let s = &traces.last().unwrap().stats;
    assert_eq!((s.sent, s.queued, s.lost()), (10, 0, 0));
}

#[test]
fn poll_async_counts_a_partial_write() {
    let s = scenarios()
        .into_iter()
        .find(|s| s.name == "partial write")
        .unwrap();
    let t = run(&s, true).pop().unwrap();
    let Some(Ok(Poll {
        event:
            Event::PartiallyDelivered {
                written,
                rejected,
                lines,
            },
        ..
    })) = t.result
    else {
        panic!("{:?}", t.result)
    };
    assert_eq!((written, rejected, lines.lines()), (4, 1, &[2][..]));
    assert_eq!((t.stats.sent, t.stats.rejected, t.stats.queued), (4, 1, 0));
    assert!(t
        .stats
        .last_message
        .starts_with("failed to parse line protocol"));
}

#[test]
fn poll_async_sends_the_batch_and_the_new_token() {
    let s = scenarios()
        .into_iter()
        .find(|s| s.name == "401 halts until a new target")
        .unwrap();
    let traces = run(&s, true);
    assert_eq!(body(&traces[1].sent), b"m v=0i 0\nm v=1i 1\nm v=2i 2\n");
    assert!(traces[1]
        .sent
        .starts_with(b"POST /api/v2/write?bucket=b&precision=s HTTP/1.1\r\n"));
    // Halted: nothing sent.
    assert!(traces[2].sent.is_empty());
    assert_eq!(traces[2].stats.last_error, Some(LastError::Status(401)));
    let auth = b"\r\nAuthorization: Token new\r\n";
    assert!(traces[4].sent.windows(auth.len()).any(|x| x == auth));
}

#[test]
fn poll_async_retries_a_stale_connection_once_at_once() {
    let s = scenarios()
        .into_iter()
        .find(|s| s.name == "a kept-alive connection the server closed is retried at once")
        .unwrap();
    let traces = run(&s, true);
    let failed = &traces[3];
    assert_eq!(failed.wakeup, Some(60_000));
    assert_eq!((failed.stats.retries, failed.stats.stale_retries), (0, 1));
    assert_eq!(failed.stats.last_error, None);
    let done = &traces[4];
    assert!(body(&done.sent).ends_with(b"m v=1i 1\n"));
    let s = &done.stats;
    assert_eq!(
        (s.sent, s.requests, s.retries, s.stale_retries),
        (2, 3, 0, 1)
    );
}

#[test]
fn a_dropped_poll_async_keeps_the_batch_and_sends_it_again_at_once() {
    let mut w = writer("t");
    push(&mut w, 0, 2);
    let mut buf = [0u8; 1024];
    let mut stream = Async(Exchange::new(Wire::Answer(OK)));
    // Polled once (it stops at the first write's suspension point), then
    // dropped, as a `select` against a timer would.
    let first = embassy_futures::poll_once(w.poll_async(0, &mut stream, &mut buf));
    assert!(first.is_pending());
    assert_eq!(w.next_wakeup(10), Some(10));
    let s = w.stats();
    assert_eq!((s.queued, s.retries, s.last_error), (2, 0, None));
    let mut fresh = Async(Exchange::new(Wire::Answer(OK)));
    let p = embassy_futures::block_on(w.poll_async(10, &mut fresh, &mut buf)).unwrap();
    assert_eq!(p.event, Event::Delivered { lines: 2 });
    assert_eq!(body(&fresh.0.sent), b"m v=0i 0\nm v=1i 1\n");
    let s = w.stats();
    assert_eq!((s.sent, s.requests, s.retries, s.lost()), (2, 2, 0, 0));
}

#[test]
fn over_real_tcp_a_503_then_success_stores_every_point_exactly() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(
            1,
            Fault::ServiceUnavailable {
                retry_after_secs: Some(2),
            },
        ))
        .start();
    let target = Target::v2("127.0.0.1", "async", "token")
        .unwrap()
        .port(server.addr().port());
    let mut writer =
        Writer::<'_, 4096, _>::new(target, Precision::Seconds, RetryPolicy::new(), || 0u32);
    let mut batch = Batch::<512>::with_precision(Precision::Seconds);
    let mut push = |writer: &mut Writer<'_, 4096, _>, round: i64| {
        for i in 0..5i64 {
            batch.clear();
            batch
                .point("env")
                .and_then(|p| p.tag("room", "a b,c=d"))
                .and_then(|p| p.field("n", round * 10 + i))
                .and_then(|p| p.field("note", "say \"hi\"\\"))
                .and_then(|p| p.timestamp(1_700_000_000 + round * 10 + i))
                .unwrap();
            writer.push(&batch).unwrap();
        }
    };
    let mut stream = Tcp::connect(server.addr()).unwrap();
    let mut buf = [0u8; 1024];
    let mut events = Vec::new();
    // The firmware's loop, on a clock the test moves: poll when due,
    // reconnect when told to.
    let mut now = 0u64;
    push(&mut writer, 0);
    for round in 1..3 {
        while let Some(due) = writer.next_wakeup(now) {
            now = now.max(due);
            let poll =
                embassy_futures::block_on(writer.poll_async(now, &mut stream, &mut buf)).unwrap();
            events.push(poll.event);
            if poll.reconnect {
                stream = Tcp::connect(server.addr()).unwrap();
            }
            assert!(events.len() < 10);
        }
        push(&mut writer, round);
    }
    while writer.next_wakeup(now).is_some() {
        let poll =
            embassy_futures::block_on(writer.poll_async(now, &mut stream, &mut buf)).unwrap();
        events.push(poll.event);
        assert!(events.len() < 10);
    }
    assert_eq!(
        events,
        [
            Event::Retrying { until_ms: 2_000 },
            Event::Delivered { lines: 5 },
            Event::Delivered { lines: 5 },
            Event::Delivered { lines: 5 },
        ]
    );
    let s = writer.stats();
    assert_eq!(
        (s.sent, s.retries, s.requests, s.queued, s.lost()),
        (15, 1, 4, 0, 0)
    );
    assert_eq!(s.last_status, Some(204));
    assert_eq!(s.last_error, Some(LastError::Status(503)));

    let points = server.points("async");
    let mut stored: Vec<i64> = points
        .iter()
        .map(|p| {
            let n = p.timestamp_ns / 1_000_000_000 - 1_700_000_000;
            assert_eq!(p.measurement, "env");
            assert_eq!(p.tags["room"], "a b,c=d");
            assert_eq!(p.fields["n"], FieldValue::I64(n));
            assert_eq!(p.fields["note"], FieldValue::Str("say \"hi\"\\".into()));
            n
        })
        .collect();
    stored.sort();
    let sent: Vec<i64> = (0..3)
        .flat_map(|r| (0..5).map(move |i| r * 10 + i))
        .collect();
    assert_eq!(stored, sent);
    assert_eq!(server.write_requests().len(), 4);
}

/// The future lives in the task's memory (an embassy task's static
/// arena): it holds the transaction's state, not the buffer or the queue.
#[test]
fn the_poll_async_future_is_small() {
    let mut w = writer("t");
    let mut buf = [0u8; 1024];
    let mut stream = Async(Exchange::new(Wire::Answer(OK)));
    let future = w.poll_async(0, &mut stream, &mut buf);
    let size = core::mem::size_of_val(&future);
    // 576 B with rustc 1.95 on x86-64.
    assert!(size < 1024, "{size} B");
}

/// An async stream over a fixed answer that keeps nothing it is sent.
struct Fixed(&'static [u8]);

impl embedded_io_async::ErrorType for Fixed {
    type Error = ErrorKind;
}
impl embedded_io_async::Read for Fixed {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        embassy_futures::yield_now().await;
        let n = buf.len().min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}
impl embedded_io_async::Write for Fixed {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        embassy_futures::yield_now().await;
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

#[test]
fn poll_async_allocates_nothing() {
    counting_alloc::assert_the_counter_counts();
    let mut w = writer("t");
    push(&mut w, 0, 50);
    let mut buf = [0u8; 1024];
    let before = counting_alloc::allocations();
    let mut throttled = Fixed(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Length: 45\r\n\r\n{\"code\":\"too many requests\",\"message\":\"slow\"}");
    let first = embassy_futures::block_on(w.poll_async(0, &mut throttled, &mut buf));
    let mut ok = Fixed(OK);
    let second = embassy_futures::block_on(w.poll_async(1_000, &mut ok, &mut buf));
    let stats = w.stats();
    let after = counting_alloc::allocations();
    assert_eq!(
        first.map(|p| p.event),
        Ok(Event::Retrying { until_ms: 1_000 })
    );
    assert_eq!(second.map(|p| p.event), Ok(Event::Delivered { lines: 50 }));
    assert_eq!(stats.last_message.as_str(), "slow");
    assert_eq!(after - before, 0, "allocations on the async delivery path");
}
