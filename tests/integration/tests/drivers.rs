//! One delivery suite, run against every driver of the core's delivery
//! machine (`linewire::Delivery`): the blocking core `Writer::poll` over a
//! real TCP stream (`NalStream` over `std-embedded-nal`), the async core
//! `Writer::poll_async` over a std socket behind `embedded-io-async`'s
//! traits (run by `embassy_futures::block_on`; the two core drivers share
//! one loop, `via_core`), and linewire-std's `BackgroundWriter` (a thread
//! around the same machine, sending through ureq). Each scenario is a
//! test-kit fault plan, a set of lines and what must come of them: the
//! points the test kit stored, the counters, and (where the drivers must
//! agree on them) the number of write requests the test kit read, of
//! requests the driver made and of connections (a server closing after
//! each answer: a new connection each, no request written on a closed
//! one; the core writers' `Poll::reconnect`). Every scenario runs through
//! all three drivers, one test each (`<scenario>::core_writer`,
//! `::async_writer`, `::background_writer`).
//!
//! The drivers get the same settings where their defaults differ: the same
//! short `RetryPolicy`, `OnMisconfigured::Drop` for the core writers (they
//! halt by default; the std writer always drops), and the same batch size.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use linewire::http::{Target, WriteError};
use linewire::{Batch, OnMisconfigured, Poll, Precision, RetryPolicy, Writer, XorShift32};
use linewire_integration::{nal_conn, NalConn, IO_TIMEOUT};
use linewire_std::{BackgroundWriter, Client};
use linewire_testkit::tcp::Tcp;
use linewire_testkit::{Builder, Fault, FaultPlan, Point, TestServer};

/// The longest a scenario may take to settle in either driver: the slowest
/// one waits a 1 s `Retry-After`.
const SETTLE: Duration = Duration::from_secs(20);

/// A line of the scenario: measurement `m`, tag `k`, integer field `v`,
/// timestamp in seconds.
#[derive(Debug, Clone, Copy)]
struct Line {
    k: &'static str,
    v: i64,
    ts: i64,
}

const fn line(k: &'static str, v: i64, ts: i64) -> Line {
    Line { k, v, ts }
}

/// The counters both drivers report, under the core's names (the std
/// writer's `dropped` is the core's `dropped_overflow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Counters {
    sent: u64,
    rejected: u64,
    too_large: u64,
    gave_up: u64,
    misconfigured: u64,
    dropped: u64,
}

/// What one run of a scenario came to.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observed {
    /// The stored points, rendered (`m,k=a v=1i 1000000000`) and sorted.
    points: Vec<String>,
    counters: Counters,
    /// Write requests the test kit read.
    requests: usize,
    /// Requests the driver made (its `requests` stat), including any that
    /// never reached the test kit (written on a connection it had closed).
    attempts: u64,
    /// Connections the test kit accepted.
    connections: u64,
}

struct Scenario {
    /// The test kit: its faults and its tokens and buckets.
    server: fn() -> Builder,
    bucket: &'static str,
    token: &'static str,
    lines: &'static [Line],
    /// Lines per batch, the same for both drivers.
    batch_lines: usize,
    policy: RetryPolicy,
    /// The stored points, as `Observed::points` renders them.
    stored: &'static [&'static str],
    counters: Counters,
    /// Write requests, when the drivers must make the same number.
    requests: Option<usize>,
    /// Requests the driver made, when the drivers must agree on it.
    attempts: Option<u64>,
    /// Connections the test kit accepted, when the drivers must agree.
    connections: Option<u64>,
    /// The least time the driver must have waited (a `Retry-After`).
    waits: Duration,
}

/// Short intervals so that the suite runs in seconds; the count bound
/// decides when a driver gives up, never the clock.
const fn quick_policy() -> RetryPolicy {
    RetryPolicy::new()
        .first_interval_ms(20)
        .max_interval_ms(100)
        .max_retries(Some(2))
        .max_elapsed_ms(None)
}

fn render(p: &Point) -> String {
    let tags: Vec<String> = p.tags.iter().map(|(k, v)| format!(",{k}={v}")).collect();
    let fields: Vec<String> = p.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "{}{} {} {}",
        p.measurement,
        tags.concat(),
        fields.join(","),
        p.timestamp_ns
    )
}

fn observe(server: &TestServer, bucket: &str, counters: Counters, attempts: u64) -> Observed {
    let mut points: Vec<String> = server.points(bucket).iter().map(render).collect();
    points.sort();
    Observed {
        points,
        counters,
        requests: server.write_requests().len(),
        attempts,
        connections: server.connection_count(),
    }
}

/// How a core driver reaches the test kit.
#[derive(Debug, Clone, Copy)]
enum Core {
    /// `Writer::poll` over a `NalStream` (connects lazily, in the poll).
    Blocking,
    /// `Writer::poll_async` over an [`Tcp`] (the test kit's), run by `block_on`.
    Async,
}

/// A connection of a core driver.
enum Conn {
    Nal(NalConn),
    Tcp(Tcp),
}

impl Conn {
    /// A connection to `addr`, or `None` when connecting failed (the
    /// async driver connects here; the nal stream in its first poll).
    fn open(driver: Core, addr: SocketAddr) -> Option<Self> {
        match driver {
            Core::Blocking => Some(Self::Nal(nal_conn(addr))),
            Core::Async => Tcp::connect_timeout(addr, IO_TIMEOUT).ok().map(Self::Tcp),
        }
    }

    fn poll<const N: usize>(
        &mut self,
        w: &mut Writer<'_, N, XorShift32>,
        now: u64,
        buf: &mut [u8],
    ) -> Result<Poll, WriteError> {
        match self {
            Self::Nal(c) => w.poll(now, c, buf),
            Self::Tcp(c) => embassy_futures::block_on(w.poll_async(now, c, buf)),
        }
    }
}

/// The core's blocking driver: `Writer::poll` over a `NalStream`.
fn via_core_writer(s: &Scenario) -> Observed {
    via_core(s, Core::Blocking)
}

/// The core's async driver: `Writer::poll_async` over an [`Tcp`] (the test kit's).
fn via_async_writer(s: &Scenario) -> Observed {
    via_core(s, Core::Async)
}

/// The loop of both core drivers: polls the writer, sleeping until
/// `next_wakeup`, connecting again whenever the writer says so or a
/// request failed (or telling it `connect_failed`), until nothing is left
/// to do.
fn via_core(s: &Scenario, driver: Core) -> Observed {
    let server = (s.server)().start();
    let target = Target::v2("127.0.0.1", s.bucket, s.token)
        .expect("target")
        .port(server.addr().port());
    let mut w = Writer::<4096, _>::new(target, Precision::Seconds, s.policy, XorShift32::new(7));
    w.set_max_lines(s.batch_lines);
    w.set_on_misconfigured(OnMisconfigured::Drop);
    let mut batch = Batch::<1024>::with_precision(Precision::Seconds);
    for l in s.lines {
        batch
            .point("m")
            .and_then(|p| p.tag("k", l.k))
            .and_then(|p| p.field("v", l.v))
            .and_then(|p| p.timestamp(l.ts))
            .expect("a valid point");
    }
    w.push(&batch).expect("push");
    let start = Instant::now();
    let mut conn: Option<Conn> = None;
    let mut buf = [0u8; 1024];
    loop {
        assert!(start.elapsed() < SETTLE, "not settled: {:?}", w.stats());
        let now = start.elapsed().as_millis() as u64;
        match w.next_wakeup(now) {
            None => break,
            Some(due) if due > now => {
                std::thread::sleep(Duration::from_millis(due - now));
                continue;
            }
            Some(_) => {}
        }
        if conn.is_none() {
            conn = Conn::open(driver, server.addr());
        }
        let Some(c) = conn.as_mut() else {
            w.connect_failed(now);
            continue;
        };
        match c.poll(&mut w, now, &mut buf) {
            Ok(p) if !p.reconnect => {}
            // A failed request or a closed connection: a new one next time.
            _ => conn = None,
        }
    }
    let st = w.stats();
    assert_eq!(st.queued, 0, "{st:?}");
    let counters = Counters {
        sent: st.sent,
        rejected: st.rejected,
        too_large: st.too_large,
        gave_up: st.gave_up,
        misconfigured: st.misconfigured,
        dropped: st.dropped_overflow,
    };
    observe(&server, s.bucket, counters, st.requests)
}

/// linewire-std's driver: pushes the lines as text, flushes, closes.
fn via_background_writer(s: &Scenario) -> Observed {
    let server = (s.server)().start();
    let token = (!s.token.is_empty()).then_some(s.token);
    let client = Client::new(&server.url(), token)
        .expect("client")
        .bucket(s.bucket)
        .precision(Precision::Seconds);
    let w = BackgroundWriter::builder(client)
        .batch_lines(s.batch_lines)
        .flush_interval(Duration::from_millis(10))
        .retry_policy(s.policy)
        .close_timeout(SETTLE)
        .start();
    let text: String = s
        .lines
        .iter()
        .map(|l| format!("m,k={} v={}i {}\n", l.k, l.v, l.ts))
        .collect();
    w.push_lines(&text).expect("push");
    assert!(w.flush_timeout(SETTLE), "not settled: {:?}", w.stats());
    let st = w.close();
    assert_eq!(st.pending, 0, "{st:?}");
    observe(&server, s.bucket, std_counters(&st), st.requests)
}

fn std_counters(st: &linewire_std::Stats) -> Counters {
    Counters {
        sent: st.sent,
        rejected: st.rejected,
        too_large: st.too_large,
        gave_up: st.gave_up,
        misconfigured: st.misconfigured,
        dropped: st.dropped,
    }
}

fn check(s: &Scenario, driver: fn(&Scenario) -> Observed) {
    let started = Instant::now();
    let got = driver(s);
    let mut want: Vec<String> = s.stored.iter().map(|p| p.to_string()).collect();
    want.sort();
    assert_eq!(got.points, want, "stored points");
    assert_eq!(got.counters, s.counters, "counters");
    if let Some(n) = s.requests {
        assert_eq!(got.requests, n, "write requests");
    }
    if let Some(n) = s.attempts {
        assert_eq!(got.attempts, n, "requests the driver made");
    }
    if let Some(n) = s.connections {
        assert_eq!(got.connections, n, "connections");
    }
    let took = started.elapsed();
    assert!(took >= s.waits, "settled in {took:?}, before {:?}", s.waits);
    eprintln!("settled in {took:?}");
}

const ABC: &[Line] = &[line("a", 1, 1), line("b", 2, 2), line("c", 3, 3)];
const ABCD: &[Line] = &[
    line("a", 1, 1),
    line("b", 2, 2),
    line("c", 3, 3),
    line("d", 4, 4),
];
const ABC_STORED: &[&str] = &[
    "m,k=a v=1i 1000000000",
    "m,k=b v=2i 2000000000",
    "m,k=c v=3i 3000000000",
];

fn plain(plan: FaultPlan) -> Builder {
    TestServer::builder().fault_plan(plan)
}

fn stored_abc(server: fn() -> Builder, requests: Option<usize>) -> Scenario {
    Scenario {
        server,
        bucket: "b",
        token: "",
        lines: ABC,
        batch_lines: 100,
        policy: quick_policy(),
        stored: ABC_STORED,
        counters: Counters {
            sent: 3,
            ..Counters::default()
        },
        requests,
        waits: Duration::ZERO,
        attempts: None,
        connections: None,
    }
}

fn dropped_abc(server: fn() -> Builder, bucket: &'static str, token: &'static str) -> Scenario {
    Scenario {
        server,
        bucket,
        token,
        lines: ABC,
        batch_lines: 100,
        policy: quick_policy(),
        stored: &[],
        counters: Counters {
            misconfigured: 3,
            ..Counters::default()
        },
        // One request, dropped on its answer: no retry.
        requests: Some(1),
        waits: Duration::ZERO,
        attempts: None,
        connections: None,
    }
}

fn all_stored() -> Scenario {
    stored_abc(|| plain(FaultPlan::new()), Some(1))
}

fn unavailable_then_stored() -> Scenario {
    stored_abc(
        || {
            plain(FaultPlan::new().on_request(
                1,
                Fault::ServiceUnavailable {
                    retry_after_secs: None,
                },
            ))
        },
        Some(2),
    )
}

fn throttled_waits_retry_after() -> Scenario {
    Scenario {
        waits: Duration::from_secs(1),
        ..stored_abc(
            || {
                plain(FaultPlan::new().on_request(
                    1,
                    Fault::TooManyRequests {
                        retry_after_secs: 1,
                    },
                ))
            },
            Some(2),
        )
    }
}

fn stale_connection_resent() -> Scenario {
    // One line a batch: the first request leaves the connection open, the
    // second goes on it and the server closes it before reading the body,
    // as a server closing an idle keep-alive connection does. The batch is
    // resent on a new connection; nothing is lost.
    Scenario {
        batch_lines: 1,
        ..stored_abc(
            || plain(FaultPlan::new().on_request(2, Fault::CloseBeforeBody)),
            Some(4),
        )
    }
}

fn closed_after_body_resent_stored_once() -> Scenario {
    // The first request's points are stored before the close; the resend
    // merges with them (same series and time), so each is stored once.
    stored_abc(
        || plain(FaultPlan::new().on_request(1, Fault::CloseAfterBody)),
        Some(2),
    )
}

/// The first request fails on a fresh connection: both drivers back off
/// and resend (a counted retry), and store everything once. So also for
/// `closed_after_body_resent_stored_once`.
fn closed_before_body_resent() -> Scenario {
    stored_abc(
        || plain(FaultPlan::new().on_request(1, Fault::CloseBeforeBody)),
        Some(2),
    )
}

fn too_large_split() -> Scenario {
    Scenario {
        server: || plain(FaultPlan::new().on_request(1, Fault::PayloadTooLarge)),
        bucket: "b",
        token: "",
        lines: ABCD,
        batch_lines: 4,
        policy: quick_policy(),
        stored: &[
            "m,k=a v=1i 1000000000",
            "m,k=b v=2i 2000000000",
            "m,k=c v=3i 3000000000",
            "m,k=d v=4i 4000000000",
        ],
        counters: Counters {
            sent: 4,
            ..Counters::default()
        },
        // The 413, then the two halves.
        requests: Some(3),
        waits: Duration::ZERO,
        attempts: None,
        connections: None,
    }
}

fn rejected_whole_batch() -> Scenario {
    Scenario {
        server: || {
            plain(FaultPlan::new().on_request(1, Fault::ControlCharacters { json_escaped: true }))
        },
        bucket: "b",
        token: "",
        lines: ABC,
        batch_lines: 100,
        policy: quick_policy(),
        stored: &[],
        counters: Counters {
            rejected: 3,
            ..Counters::default()
        },
        requests: Some(1),
        waits: Duration::ZERO,
        attempts: None,
        connections: None,
    }
}

fn unauthorized_dropped() -> Scenario {
    dropped_abc(|| TestServer::builder().token("secret"), "b", "wrong")
}

fn forbidden_dropped() -> Scenario {
    dropped_abc(
        || TestServer::builder().bucket_token("other", "for-other"),
        "b",
        "for-other",
    )
}

fn bucket_not_found_dropped() -> Scenario {
    dropped_abc(|| TestServer::builder().bucket("known"), "missing", "")
}

fn keeps_failing_gave_up() -> Scenario {
    Scenario {
        server: || plain(FaultPlan::new().always(Fault::InternalError)),
        bucket: "b",
        token: "",
        lines: ABC,
        batch_lines: 100,
        policy: quick_policy(),
        stored: &[],
        counters: Counters {
            gave_up: 3,
            ..Counters::default()
        },
        // The first try and max_retries (2) retries.
        requests: Some(3),
        waits: Duration::ZERO,
        attempts: None,
        connections: None,
    }
}

fn keeps_closing_gave_up() -> Scenario {
    Scenario {
        server: || plain(FaultPlan::new().always(Fault::CloseBeforeBody)),
        // No free resends: a close before any answer is taken for a stale
        // pooled connection only after an answered exchange, in both
        // drivers; so the first try and max_retries (2) retries.
        requests: Some(3),
        ..keeps_failing_gave_up()
    }
}

fn kept_alive_one_connection() -> Scenario {
    // One line a batch, three requests: all on one kept-alive connection
    // (the contrast to `closed_by_the_server_reconnects`).
    Scenario {
        batch_lines: 1,
        attempts: Some(3),
        connections: Some(1),
        ..stored_abc(|| plain(FaultPlan::new()), Some(3))
    }
}

fn closed_by_the_server_reconnects() -> Scenario {
    // Every answer says `Connection: close` and the server closes: each
    // next request goes on a new connection (the core writers'
    // `Poll::reconnect`), none is written on the closed one to fail and be
    // resent (that would be a fourth request made, a stale retry).
    Scenario {
        batch_lines: 1,
        attempts: Some(3),
        connections: Some(3),
        ..stored_abc(
            || plain(FaultPlan::new().always(Fault::ConnectionClose)),
            Some(3),
        )
    }
}

/// Three tests per scenario, one per driver: `<scenario>::core_writer`,
/// `<scenario>::async_writer` and `<scenario>::background_writer`.
macro_rules! suite {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            #[test]
            fn core_writer() {
                super::check(&super::$scenario(), super::via_core_writer);
            }

            #[test]
            fn async_writer() {
                super::check(&super::$scenario(), super::via_async_writer);
            }

            #[test]
            fn background_writer() {
                super::check(&super::$scenario(), super::via_background_writer);
            }
        }
    )*};
}

suite!(
    all_stored,
    unavailable_then_stored,
    throttled_waits_retry_after,
    closed_after_body_resent_stored_once,
    closed_before_body_resent,
    stale_connection_resent,
    too_large_split,
    rejected_whole_batch,
    unauthorized_dropped,
    forbidden_dropped,
    bucket_not_found_dropped,
    keeps_failing_gave_up,
    keeps_closing_gave_up,
    kept_alive_one_connection,
    closed_by_the_server_reconnects,
);

/// A partial write (the test kit stores the good lines of a batch and
/// answers 400 naming the bad one), through the std writer only: the core
/// `Writer::push` takes only batches its builder checked, and every rule
/// the test kit rejects a line by (a parse error, a duplicate tag or field,
/// a non-finite float, a time out of range) the builder enforces too, so
/// no line the test kit rejects can reach the core writer through its
/// public API. The machine
/// that settles the answer is the same in both; its handling of a partial
/// write is tested sans-IO in the core.
#[test]
fn partial_write_background_writer() {
    let server = TestServer::start();
    let client = Client::new(&server.url(), None)
        .expect("client")
        .bucket("b")
        .precision(Precision::Seconds);
    let w = BackgroundWriter::builder(client)
        .flush_interval(Duration::from_millis(10))
        .retry_policy(quick_policy())
        .start();
    w.push_lines("m,k=a v=1i 1\nm,k=b bad-line\nm,k=c v=3i 3\n")
        .expect("push");
    assert!(w.flush_timeout(SETTLE), "not settled: {:?}", w.stats());
    let st = w.close();
    let got = observe(&server, "b", std_counters(&st), st.requests);
    assert_eq!(
        (got.points, got.counters, got.requests, got.attempts),
        (
            vec![
                "m,k=a v=1i 1000000000".to_string(),
                "m,k=c v=3i 3000000000".to_string()
            ],
            Counters {
                sent: 2,
                rejected: 1,
                ..Counters::default()
            },
            1,
            1,
        )
    );
}
