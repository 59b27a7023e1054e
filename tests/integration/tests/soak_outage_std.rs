//! linewire-std's `BackgroundWriter` against the test kit over time: a
//! soak (100,000 points in a thousand pushes, under random 503s, 500s and
//! closes, every point stored exactly once and the counters exact), an
//! outage (the test kit refuses connections, then answers 503, then
//! recovers, while points keep coming into a queue too small for them:
//! every point pushed is stored or counted dropped, exactly), and pushes
//! into a full `DropOldest` queue while a request is in flight (the lines
//! being sent are evicted, no push is refused; what the server stored is
//! counted sent, never dropped, and only the lines it did not store are
//! reported as overflow).
//!
//! Every point is `m,k=a v=<i>i <i>` (seconds): the test kit stores a
//! resent point once (same series and time), so `stored` is a set of `i`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use linewire::{Precision, RetryPolicy};
use linewire_std::{
    BackgroundWriter, Backpressure, Client, FailureReason, PushError, Stats, WriterBuilder,
};
use linewire_testkit::{DownMode, Fault, FaultPlan, FieldValue, TestServer};

const BUCKET: &str = "b";

fn builder(server: &TestServer) -> WriterBuilder {
    let client = Client::new(&server.url(), None)
        .expect("client")
        .bucket(BUCKET)
        .precision(Precision::Seconds);
    BackgroundWriter::builder(client)
        .retry_policy(
            RetryPolicy::new()
                .first_interval_ms(10)
                .max_interval_ms(50)
                .max_retry_after_ms(50)
                .max_retries(None)
                .max_elapsed_ms(None),
        )
        .flush_interval(Duration::from_millis(5))
        .close_timeout(Duration::from_secs(20))
}

fn lines(range: std::ops::Range<u64>) -> String {
    range.map(|i| format!("m,k=a v={i}i {i}\n")).collect()
}

/// The points stored, by `i`; each at most once, each as pushed.
fn stored(server: &TestServer) -> BTreeSet<u64> {
    let mut set = BTreeSet::new();
    for p in server.points(BUCKET) {
        let i = (p.timestamp_ns / 1_000_000_000) as u64;
        assert_eq!(p.fields["v"], FieldValue::I64(i as i64));
        assert!(set.insert(i), "point {i} stored twice");
    }
    set
}

/// Pushes `range` as one push, counting it in `ok` or `refused`.
fn push(w: &BackgroundWriter, range: std::ops::Range<u64>, ok: &mut u64, refused: &mut u64) {
    let n = range.end - range.start;
    match w.push_lines(&lines(range)) {
        Ok(()) => *ok += n,
        Err(PushError::Full) => *refused += n,
        Err(e) => panic!("push: {e}"),
    }
}

/// Flushes `w` within `within`, closes it, and reads what the test kit
/// stored.
fn settle(w: BackgroundWriter, server: &TestServer, within: Duration) -> (Stats, BTreeSet<u64>) {
    assert!(w.flush_timeout(within), "not settled: {:?}", w.stats());
    (w.close(), stored(server))
}

/// Every point pushed (and taken) is stored, or counted dropped: exactly;
/// and the stored ones, and only they, are counted sent.
fn assert_settled(st: &Stats, stored: &BTreeSet<u64>, pushed: u64, refused: u64) {
    assert_eq!(st.accepted, pushed, "{st:?}");
    assert_eq!(st.refused, refused, "{st:?}");
    assert_eq!(st.pending, 0, "{st:?}");
    assert_eq!(
        st.sent,
        stored.len() as u64,
        "the points stored are the points counted sent: {st:?}"
    );
    assert_eq!(
        stored.len() as u64 + st.dropped,
        pushed,
        "every point pushed is stored or counted dropped: {st:?}"
    );
    assert_eq!(
        (st.rejected, st.too_large, st.gave_up, st.misconfigured),
        (0, 0, 0, 0),
        "{st:?}"
    );
}

#[test]
fn soak_100k_points_in_a_thousand_pushes_stored_once() {
    const TOTAL: u64 = 100_000;
    const PUSH: u64 = 100;
    let started = Instant::now();
    let plan = FaultPlan::new()
        .random(
            0.05,
            Fault::ServiceUnavailable {
                retry_after_secs: None,
            },
        )
        .random(0.05, Fault::InternalError)
        .random(0.03, Fault::CloseBeforeBody)
        .random(0.03, Fault::CloseAfterBody)
        .seed(0x50a6);
    let server = TestServer::builder().fault_plan(plan).start();
    let w = builder(&server)
        .batch_lines(1_000)
        .capacity_lines(20_000)
        .start();
    let (mut ok, mut refused) = (0, 0);
    for start in (0..TOTAL).step_by(PUSH as usize) {
        push(&w, start..start + PUSH, &mut ok, &mut refused);
    }
    let (st, stored) = settle(w, &server, Duration::from_secs(30));
    eprintln!(
        "std soak: {TOTAL} points, {} requests, {} faults, {:?}: {st:?}",
        server.write_requests().len(),
        server.faults().len(),
        started.elapsed()
    );
    assert_eq!((ok, refused), (TOTAL, 0));
    assert_settled(&st, &stored, ok, refused);
    assert_eq!((st.sent, st.dropped), (TOTAL, 0), "{st:?}");
    assert!(st.retries >= 5, "the faults were met: {st:?}");
    assert!(server.faults().len() >= 5);
}

#[test]
fn outage_then_recovery_every_point_stored_or_counted_dropped() {
    let started = Instant::now();
    let server = TestServer::start();
    let w = builder(&server)
        .batch_lines(100)
        .capacity_lines(500)
        .backpressure(Backpressure::DropOldest)
        .start();
    let (mut ok, mut refused) = (0, 0);
    let mut next = 0u64;
    // 10 points every 2 ms: up 0.3 s, refusing 0.8 s, 503 for 0.8 s, up
    // again 0.5 s.
    let phases: [(Duration, &str); 4] = [
        (Duration::from_millis(300), "up"),
        (Duration::from_millis(800), "refusing"),
        (Duration::from_millis(800), "503"),
        (Duration::from_millis(500), "up"),
    ];
    for (len, phase) in phases {
        match phase {
            "refusing" => server.set_down(DownMode::Refuse),
            "503" => {
                server.set_up().expect("up");
                server.set_faults(FaultPlan::new().always(Fault::ServiceUnavailable {
                    retry_after_secs: None,
                }));
            }
            _ => server.clear_faults(),
        }
        let until = Instant::now() + len;
        while Instant::now() < until {
            push(&w, next..next + 10, &mut ok, &mut refused);
            next += 10;
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let (st, stored) = settle(w, &server, Duration::from_secs(10));
    eprintln!(
        "std outage: {next} points, {} stored, {ok} taken, {refused} refused, {:?}: {st:?}",
        stored.len(),
        started.elapsed()
    );
    assert_settled(&st, &stored, ok, refused);
    assert!(st.dropped > 0, "the queue was meant to overflow: {st:?}");
    assert!(st.retries > 0, "{st:?}");
    // The last push is after the recovery: it was taken and stored.
    assert!(stored.contains(&(next - 1)));
}

/// With `DropOldest`, pushes into a full queue while a request is in
/// flight evict lines of that request. The server may store them: they
/// used to be counted dropped (and reported as overflow) even so. They are
/// still evicted (the newest lines are kept, no push is refused), but held
/// until the request's outcome: stored, they count as sent and are not
/// reported; otherwise (the 503s) they count dropped and are reported.
#[test]
fn drop_oldest_evicting_the_batch_in_flight_counts_what_the_server_stored() {
    // Two 503s (the outage), then every request is slow to be answered
    // (and stored): pushes overlap each of them.
    let server = TestServer::builder()
        .fault_plan(
            FaultPlan::new()
                .on_requests(
                    1..=2,
                    Fault::ServiceUnavailable {
                        retry_after_secs: None,
                    },
                )
                .on_requests(3..=1_000, Fault::Delay(Duration::from_millis(150))),
        )
        .start();
    let overflow: Arc<Mutex<Vec<String>>> = Arc::default();
    let other: Arc<Mutex<Vec<String>>> = Arc::default();
    let (o, x) = (Arc::clone(&overflow), Arc::clone(&other));
    let w = builder(&server)
        .batch_lines(10)
        .capacity_lines(10)
        .backpressure(Backpressure::DropOldest)
        .on_failure(move |f| match f.reason {
            FailureReason::Overflow => o.lock().unwrap().extend(f.lines.iter().cloned()),
            _ => x
                .lock()
                .unwrap()
                .push(format!("{:?}: {:?}", f.reason, f.lines)),
        })
        .start();
    let (mut ok, mut refused) = (0, 0);
    let mut next = 0u64;
    let until = Instant::now() + Duration::from_millis(1_200);
    while Instant::now() < until {
        push(&w, next..next + 1, &mut ok, &mut refused);
        next += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let (st, stored) = settle(w, &server, Duration::from_secs(10));
    eprintln!(
        "in flight: {next} points, {} stored, {ok} taken, {refused} refused: {st:?}",
        stored.len()
    );
    // Never refused: `DropOldest` makes room.
    assert_eq!((ok, refused), (next, 0), "{st:?}");
    // stored == sent, stored + dropped == pushed.
    assert_settled(&st, &stored, ok, refused);
    assert!(
        server.write_requests().len() >= 5,
        "pushes overlapped several requests"
    );
    assert!(st.dropped > 0, "the queue was meant to overflow: {st:?}");
    assert!(
        other.lock().unwrap().is_empty(),
        "{:?}",
        other.lock().unwrap()
    );
    // The lines reported as overflow are exactly the points the server
    // does not have, each once.
    let reported: Vec<u64> = overflow
        .lock()
        .unwrap()
        .iter()
        .map(|l| {
            l.rsplit(' ')
                .next()
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("not a point of this test: {l}"))
        })
        .collect();
    let reported_set: BTreeSet<u64> = reported.iter().copied().collect();
    assert_eq!(reported.len(), reported_set.len(), "reported twice");
    let missing: BTreeSet<u64> = (0..next).filter(|i| !stored.contains(i)).collect();
    assert_eq!(reported_set, missing, "{st:?}");
    assert_eq!(reported.len() as u64, st.dropped, "{st:?}");
}
