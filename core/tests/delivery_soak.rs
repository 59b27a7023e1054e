//! Soak: 100,000 points through the writer against the test kit while it
//! injects 429 and 503 (with Retry-After), 500, connection drops before and
//! after the body, and 413 (scripted and a real body limit). Simulated
//! clock: no sleeping for backoff.
//!
//! The server must end up with exactly the points sent, minus the ones the
//! writer reported as dropped, which must be none: the queue never
//! overflows and the policy never gives up. Run through both core drivers,
//! `Writer::poll` and (with `async`) `Writer::poll_async`.

mod delivery_support;

use std::collections::BTreeSet;
use std::time::Instant;

use delivery_support::{assert_accounting, deliver_due, Driver, Seen};
use linewire::http::Target;
use linewire::{Batch, Precision, RetryPolicy, Writer, XorShift32};
use linewire_testkit::{Fault, FaultPlan, FieldValue, TestServer};

const TOTAL: u64 = 100_000;
const PER_SECOND: u64 = 50;
const BASE_S: i64 = 1_700_000_000;
const QUEUE: usize = 512 * 1024;
const SERVER_MAX_BODY: usize = 16 * 1024;

fn point(batch: &mut Batch<256>, n: u64) {
    let p = batch
        .point("soak")
        .and_then(|p| p.tag("dev", "d1"))
        .and_then(|p| p.field("n", n as i64))
        .and_then(|p| p.field("v", n as f64 * 0.5));
    // Every 97th point carries a string with a raw newline and quotes, so
    // the ring's line scanner must be quote-aware.
    let p = if n % 97 == 0 {
        p.and_then(|p| p.field("note", "line\nbreak \"q\""))
    } else {
        p
    };
    p.and_then(|p| p.timestamp(BASE_S + n as i64)).unwrap();
}

fn soak(driver: Driver) {
    let started = Instant::now();
    let plan = FaultPlan::new()
        .random(
            0.05,
            Fault::TooManyRequests {
                retry_after_secs: 2,
            },
        )
        .random(
            0.05,
            Fault::ServiceUnavailable {
                retry_after_secs: Some(3),
            },
        )
        .random(0.05, Fault::InternalError)
        .random(0.04, Fault::CloseBeforeBody)
        .random(0.04, Fault::CloseAfterBody)
        .random(0.02, Fault::PayloadTooLarge)
        .seed(0x50a6);
    let server = TestServer::builder()
        .max_body(SERVER_MAX_BODY)
        .fault_plan(plan)
        .start();
    let addr = server.addr();
    let port = addr.port();
    let target = Target::v2("127.0.0.1", "soak", "token").unwrap().port(port);
    let policy = RetryPolicy::new().max_retries(None).max_elapsed_ms(None);
    let mut writer = Box::new(Writer::<QUEUE>::new(
        target,
        Precision::Seconds,
        policy,
        XorShift32::new(0x1234_5678),
    ));
    // Larger than the server accepts: the first full batch meets a real 413.
    writer.set_max_lines(1000);

    let mut conn = None;
    let mut seen = Seen::default();
    let mut scratch = Batch::<256>::with_precision(Precision::Seconds);
    let mut now: u64 = 0;
    let mut produced = 0;
    let mut max_queued = 0;
    while produced < TOTAL || !writer.queue().is_empty() {
        for _ in 0..PER_SECOND {
            if produced == TOTAL {
                break;
            }
            point(&mut scratch, produced);
            assert_eq!(writer.push(&scratch), Ok(0), "no eviction expected");
            scratch.clear();
            produced += 1;
        }
        max_queued = max_queued.max(writer.queue().bytes_used());
        deliver_due(driver, &mut writer, now, addr, &mut conn, &mut seen);
        assert!(!writer.is_halted(), "{:?}", writer.stats());
        now += 1_000;
        assert!(
            now < 10_000_000,
            "not drained after {now} ms: {:?}",
            writer.stats()
        );
    }

    let stats = writer.stats();
    let elapsed = started.elapsed();
    eprintln!(
        "soak ({driver:?}): {TOTAL} points, {} requests, {} simulated s, {elapsed:?} real; \
         peak queue {max_queued} B; {seen:?}; faults {}",
        stats.requests,
        now / 1000,
        server.faults().len()
    );

    // Nothing was lost, and the writer says so.
    assert_accounting(&stats);
    assert_eq!(stats.accepted, TOTAL);
    assert_eq!(stats.dropped_overflow, 0);
    assert_eq!(stats.lost(), 0, "{stats:?}");
    assert_eq!(stats.sent, TOTAL);

    // The server holds exactly the points sent.
    let points = server.points("soak");
    let mut stored = BTreeSet::new();
    for p in &points {
        let n = (p.timestamp_ns / 1_000_000_000 - BASE_S) as u64;
        assert_eq!(p.fields["n"], FieldValue::I64(n as i64));
        assert_eq!(p.fields["v"], FieldValue::F64(n as f64 * 0.5));
        if n % 97 == 0 {
            assert_eq!(
                p.fields["note"],
                FieldValue::Str("line\nbreak \"q\"".into())
            );
        }
        assert!(stored.insert(n), "point {n} stored twice");
    }
    let sent: BTreeSet<u64> = (0..TOTAL).collect();
    let missing: Vec<_> = sent.difference(&stored).take(10).collect();
    assert!(missing.is_empty(), "missing points, first: {missing:?}");
    assert_eq!(stored.len() as u64, TOTAL);

    // Every kind of fault happened, and the writer recovered from each.
    let faults = server.faults();
    for kind in [
        Fault::TooManyRequests {
            retry_after_secs: 2,
        },
        Fault::ServiceUnavailable {
            retry_after_secs: Some(3),
        },
        Fault::InternalError,
        Fault::CloseBeforeBody,
        Fault::CloseAfterBody,
        Fault::PayloadTooLarge,
    ] {
        let n = faults.iter().filter(|f| f.fault == kind).count();
        assert!(n >= 5, "{kind:?} injected only {n} times");
    }
    assert!(seen.splits >= 5, "{seen:?}");
    assert!(seen.transport_errors >= 10, "{seen:?}");
    assert!(seen.retrying >= 20, "{seen:?}");
    // The real 413 taught the writer the server's limit: no request body
    // was larger after it.
    let bodies: Vec<usize> = server
        .write_requests()
        .iter()
        .map(|r| r.header("content-length").unwrap().parse().unwrap())
        .collect();
    let first_big = bodies.iter().position(|&b| b > SERVER_MAX_BODY);
    assert!(first_big.is_some(), "the body limit was never met");
    assert!(bodies[first_big.unwrap() + 1..]
        .iter()
        .all(|&b| b <= SERVER_MAX_BODY));
    assert!(
        elapsed.as_secs() < 50,
        "the soak took {elapsed:?}: it must finish in well under a minute"
    );
}

fn soak_on_a_big_stack(driver: Driver) {
    // The 512 KiB queue is built on the stack before it is boxed.
    std::thread::Builder::new()
        .stack_size(16 * 1024 * 1024)
        .spawn(move || soak(driver))
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn soak_100k_points_under_faults_loses_nothing() {
    soak_on_a_big_stack(Driver::Blocking);
}

#[cfg(feature = "async")]
#[test]
fn soak_100k_points_under_faults_loses_nothing_async() {
    soak_on_a_big_stack(Driver::Async);
}
