//! Outage: the server is down for a simulated hour while a point arrives
//! every second into a queue too small to hold them all. Afterwards the
//! server must hold the newest points, the writer's dropped count must
//! equal what is missing, and nothing else may be missing. Run through
//! both core drivers, `Writer::poll` and (with `async`) `Writer::poll_async`.

mod delivery_support;

use std::collections::BTreeSet;
use std::time::Instant;

use delivery_support::{assert_accounting, deliver_due, Driver, Seen};
use linewire::http::Target;
use linewire::{Batch, Precision, RetryPolicy, Stats, Writer, XorShift32};
use linewire_testkit::{DownMode, FieldValue, TestServer};

const BASE_S: i64 = 1_700_000_000;
const QUEUE: usize = 16 * 1024;
/// Simulated seconds: up, down for an hour, up again.
const BEFORE: u64 = 300;
const OUTAGE: u64 = 3_600;
const AFTER: u64 = 300;

struct Run {
    stats: Stats,
    stored: BTreeSet<u64>,
    total: u64,
    seen: Seen,
    /// Bytes queued when the server came back.
    queued_at_recovery: usize,
}

fn run(driver: Driver, policy: RetryPolicy, down: DownMode) -> Run {
    let started = Instant::now();
    let server = TestServer::start();
    let addr = server.addr();
    let target = Target::v2("127.0.0.1", "outage", "token")
        .unwrap()
        .port(addr.port());
    let mut writer = Writer::<QUEUE>::new(target, Precision::Seconds, policy, XorShift32::new(99));
    let mut conn = None;
    let mut seen = Seen::default();
    let mut scratch = Batch::<128>::with_precision(Precision::Seconds);
    let mut queued_at_recovery = 0;
    let total = BEFORE + OUTAGE + AFTER;
    let mut now_s = 0;
    while now_s < total || !writer.queue().is_empty() {
        if now_s == BEFORE {
            server.set_down(down);
        }
        if now_s == BEFORE + OUTAGE {
            queued_at_recovery = writer.queue().bytes_used();
            server.set_up().unwrap();
        }
        if now_s < total {
            scratch
                .point("env")
                .and_then(|p| p.tag("dev", "barn-3"))
                .and_then(|p| p.field("n", now_s as i64))
                .and_then(|p| p.field("t", 20.0 + (now_s % 100) as f64 / 10.0))
                .and_then(|p| p.timestamp(BASE_S + now_s as i64))
                .unwrap();
            writer.push(&scratch).unwrap();
            scratch.clear();
        }
        deliver_due(
            driver,
            &mut writer,
            now_s * 1000,
            addr,
            &mut conn,
            &mut seen,
        );
        now_s += 1;
        assert!(now_s < total + 3_600, "not drained: {:?}", writer.stats());
    }
    let mut stored = BTreeSet::new();
    for p in server.points("outage") {
        let n = (p.timestamp_ns / 1_000_000_000 - BASE_S) as u64;
        assert_eq!(p.fields["n"], FieldValue::I64(n as i64));
        assert!(stored.insert(n));
    }
    eprintln!(
        "outage ({driver:?}, {down:?}): {total} points, {} stored, {} simulated s, {:?} real; {seen:?}; {:?}",
        stored.len(),
        now_s,
        started.elapsed(),
        writer.stats()
    );
    assert!(
        started.elapsed().as_secs() < 50,
        "took {:?}",
        started.elapsed()
    );
    Run {
        stats: writer.stats(),
        stored,
        total,
        seen,
        queued_at_recovery,
    }
}

/// The missing points are one run of consecutive points from the outage:
/// everything before it and everything after it is stored.
fn missing_run(r: &Run) -> (u64, u64) {
    let missing: Vec<u64> = (0..r.total).filter(|n| !r.stored.contains(n)).collect();
    assert!(!missing.is_empty(), "the queue was meant to overflow");
    let (first, last) = (missing[0], *missing.last().unwrap());
    assert_eq!(
        missing.len() as u64,
        last - first + 1,
        "missing points are not one run of the oldest: {first}..={last}, {} missing",
        missing.len()
    );
    assert!(first >= BEFORE, "a point from before the outage is missing");
    // Until the first retry after recovery (at most the 125 s backoff cap)
    // the queue still evicts.
    assert!(
        last < BEFORE + OUTAGE + 125,
        "a point from after the outage is missing"
    );
    (first, last)
}

#[test]
fn hour_outage_with_no_give_up_keeps_the_newest_points() {
    no_give_up_keeps_the_newest_points(Driver::Blocking);
}

#[cfg(feature = "async")]
#[test]
fn hour_outage_with_no_give_up_keeps_the_newest_points_async() {
    no_give_up_keeps_the_newest_points(Driver::Async);
}

#[test]
fn hour_outage_with_default_policy_reports_what_it_gave_up() {
    default_policy_reports_what_it_gave_up(Driver::Blocking);
}

#[cfg(feature = "async")]
#[test]
fn hour_outage_with_default_policy_reports_what_it_gave_up_async() {
    default_policy_reports_what_it_gave_up(Driver::Async);
}

fn no_give_up_keeps_the_newest_points(driver: Driver) {
    let r = run(
        driver,
        RetryPolicy::new().max_retries(None).max_elapsed_ms(None),
        DownMode::Refuse,
    );
    let s = &r.stats;
    assert_accounting(s);
    let (first, last) = missing_run(&r);
    let missing = last - first + 1;
    // Only the queue bound dropped points, and it said how many.
    assert_eq!(s.dropped_overflow, missing);
    assert_eq!(s.lost(), missing);
    assert_eq!(s.sent + missing, r.total);
    assert_eq!(s.gave_up, 0);
    // The queue was full (but for the unused tail of the ring, less than a
    // line) when the server came back, and all of it was delivered.
    assert!(
        r.queued_at_recovery > QUEUE - 2 * 64,
        "{}",
        r.queued_at_recovery
    );
    assert!(missing > 3_000, "{missing}");
    assert!(r.seen.connect_failures >= 10, "{:?}", r.seen);
    // The backoff reached its cap: no more than an attempt every 125 s or so.
    assert!(r.seen.connect_failures < OUTAGE / 100, "{:?}", r.seen);
}

fn default_policy_reports_what_it_gave_up(driver: Driver) {
    let r = run(driver, RetryPolicy::new(), DownMode::CloseImmediately);
    let s = &r.stats;
    assert_accounting(s);
    let (first, last) = missing_run(&r);
    let missing = last - first + 1;
    // Given up after 5 retries or 180 s, and evicted on overflow: both
    // counted, both from the oldest end.
    assert!(s.gave_up > 0, "{s:?}");
    assert_eq!(s.dropped_overflow + s.gave_up, missing);
    assert_eq!(s.lost(), missing);
    assert_eq!(s.sent + missing, r.total);
    assert!(r.seen.transport_errors >= 10, "{:?}", r.seen);
}
