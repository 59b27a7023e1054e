//! The delivery machine on its own, with no I/O: what each result does
//! (a table), the queue over every storage, compressing ahead, and a
//! property test that no sequence of pushes and results loses or
//! duplicates a line.

use std::collections::{BTreeSet, VecDeque};

use linewire::http::{Outcome, Partial, RetryAfter, TransportError, WriteError};
use linewire::{
    Batch, BorrowedBatch, BorrowedQueue, Completion, Delivery, Event, LastError, Next,
    OnMisconfigured, Overflow, Precision, Queue, QueueError, QueueInner, RetryPolicy, Storage,
};

const S: Precision = Precision::Seconds;

fn batch(ids: impl IntoIterator<Item = u64>) -> Batch<256> {
    let mut b = Batch::with_precision(S);
    for id in ids {
        b.point("m")
            .unwrap()
            .field("v", id as i64)
            .unwrap()
            .timestamp(1)
            .unwrap();
    }
    b
}

/// The ids of the lines in a body.
fn ids(body: &[u8]) -> Vec<u64> {
    std::str::from_utf8(body)
        .unwrap()
        .lines()
        .map(|l| {
            l.strip_prefix("m v=")
                .unwrap()
                .split('i')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect()
}

fn machine<St: Storage>(queue: QueueInner<St>) -> Delivery<St, fn() -> u32> {
    // The low end of each jitter range: the first wait is 5 s.
    Delivery::new(queue, RetryPolicy::new(), || 0u32)
}

fn send<St: Storage>(m: &mut Delivery<St, fn() -> u32>, now: u64) -> Vec<u64> {
    match m.next(now) {
        Next::Send { body, lines, .. } => {
            let got = ids(body);
            assert_eq!(got.len(), lines);
            got
        }
        other => panic!("expected a request, got {other:?}"),
    }
}

fn answered(status: u16, outcome: Outcome) -> Completion<'static> {
    Completion::answered(status, outcome, "the server's words")
}

fn transport(received: bool, reused: bool) -> Completion<'static> {
    Completion::Failed {
        error: LastError::Write(WriteError::Transport(TransportError::ClosedBeforeResponse)),
        received,
        reused,
    }
}

fn partial(dropped: u32) -> Outcome {
    let mut p = Partial::default();
    p.dropped = Some(dropped);
    Outcome::PartiallyWritten(p)
}

/// One result for a batch of four queued lines, sent at 1 000 ms.
struct Row {
    name: &'static str,
    on: OnMisconfigured,
    result: Completion<'static>,
    event: Event,
    queued: usize,
    wakeup: Option<u64>,
    /// sent, rejected, too_large, misconfigured, retries, stale_retries
    counts: [u64; 6],
}

#[test]
fn each_result_does_what_the_table_says() {
    use OnMisconfigured::{Drop, Halt};
    let retry = |secs| Outcome::Throttled {
        retry_after: Some(RetryAfter::Seconds(secs)),
    };
    let rows = [
        Row {
            name: "204",
            on: Halt,
            result: answered(204, Outcome::Written),
            event: Event::Delivered { lines: 4 },
            queued: 0,
            wakeup: None,
            counts: [4, 0, 0, 0, 0, 0],
        },
        Row {
            name: "400 rejected",
            on: Halt,
            result: answered(400, Outcome::Rejected),
            event: Event::Rejected { lines: 4 },
            queued: 0,
            wakeup: None,
            counts: [0, 4, 0, 0, 0, 0],
        },
        Row {
            name: "partial write",
            on: Halt,
            result: answered(400, partial(1)),
            event: Event::PartiallyDelivered {
                written: 3,
                rejected: 1,
                lines: Default::default(),
            },
            queued: 0,
            wakeup: None,
            counts: [3, 1, 0, 0, 0, 0],
        },
        Row {
            name: "401 halts",
            on: Halt,
            result: answered(401, Outcome::Unauthorized),
            event: Event::Halted,
            queued: 4,
            wakeup: None,
            counts: [0, 0, 0, 0, 0, 0],
        },
        Row {
            name: "401 drops",
            on: Drop,
            result: answered(401, Outcome::Unauthorized),
            event: Event::Misconfigured { lines: 4 },
            queued: 0,
            wakeup: None,
            counts: [0, 0, 0, 4, 0, 0],
        },
        Row {
            name: "403 drops",
            on: Drop,
            result: answered(403, Outcome::Forbidden),
            event: Event::Misconfigured { lines: 4 },
            queued: 0,
            wakeup: None,
            counts: [0, 0, 0, 4, 0, 0],
        },
        Row {
            name: "404 halts",
            on: Halt,
            result: answered(404, Outcome::NotFound),
            event: Event::Halted,
            queued: 4,
            wakeup: None,
            counts: [0, 0, 0, 0, 0, 0],
        },
        Row {
            name: "TLS drops",
            on: Drop,
            result: Completion::Misconfigured {
                error: LastError::Connect,
            },
            event: Event::Misconfigured { lines: 4 },
            queued: 0,
            wakeup: None,
            counts: [0, 0, 0, 4, 0, 0],
        },
        Row {
            name: "413 splits",
            on: Halt,
            result: answered(413, Outcome::TooLarge { max_length: None }),
            event: Event::Split { lines: 4 },
            queued: 4,
            wakeup: Some(1_000),
            counts: [0, 0, 0, 0, 0, 0],
        },
        Row {
            name: "429 Retry-After",
            on: Halt,
            result: answered(429, retry(3)),
            event: Event::Retrying { until_ms: 4_000 },
            queued: 4,
            wakeup: Some(4_000),
            counts: [0, 0, 0, 0, 1, 0],
        },
        Row {
            name: "503",
            on: Halt,
            result: answered(503, Outcome::Unavailable { retry_after: None }),
            event: Event::Retrying { until_ms: 6_000 },
            queued: 4,
            wakeup: Some(6_000),
            counts: [0, 0, 0, 0, 1, 0],
        },
        Row {
            name: "500",
            on: Drop,
            result: answered(500, Outcome::ServerError { retry_after: None }),
            event: Event::Retrying { until_ms: 6_000 },
            queued: 4,
            wakeup: Some(6_000),
            counts: [0, 0, 0, 0, 1, 0],
        },
        Row {
            name: "stale connection",
            on: Halt,
            result: transport(false, true),
            event: Event::Retrying { until_ms: 1_000 },
            queued: 4,
            wakeup: Some(1_000),
            counts: [0, 0, 0, 0, 0, 1],
        },
        Row {
            name: "failure after a response byte",
            on: Halt,
            result: transport(true, true),
            event: Event::Retrying { until_ms: 6_000 },
            queued: 4,
            wakeup: Some(6_000),
            counts: [0, 0, 0, 0, 1, 0],
        },
        Row {
            name: "failure on a fresh connection",
            on: Halt,
            result: transport(false, false),
            event: Event::Retrying { until_ms: 6_000 },
            queued: 4,
            wakeup: Some(6_000),
            counts: [0, 0, 0, 0, 1, 0],
        },
        Row {
            name: "connect failed",
            on: Halt,
            result: Completion::Failed {
                error: LastError::Connect,
                received: false,
                reused: false,
            },
            event: Event::Retrying { until_ms: 6_000 },
            queued: 4,
            wakeup: Some(6_000),
            counts: [0, 0, 0, 0, 1, 0],
        },
    ];
    for row in rows {
        let mut m = machine(Queue::<1024>::with_precision(S));
        m.set_on_misconfigured(row.on);
        m.push(&batch(1..=4)).unwrap();
        assert_eq!(send(&mut m, 1_000), [1, 2, 3, 4], "{}", row.name);
        assert_eq!(m.complete(1_000, row.result), row.event, "{}", row.name);
        let s = m.stats();
        assert_eq!(s.queued, row.queued, "{}", row.name);
        assert_eq!(m.next_wakeup(1_000), row.wakeup, "{}", row.name);
        let counts = [
            s.sent,
            s.rejected,
            s.too_large,
            s.misconfigured,
            s.retries,
            s.stale_retries,
        ];
        assert_eq!(counts, row.counts, "{}", row.name);
        assert_eq!((s.requests, s.settled()), (1, s.accepted), "{}", row.name);
        if matches!(row.result, Completion::Answered { .. }) {
            assert_eq!(
                s.last_status,
                Some(match row.result {
                    Completion::Answered { status, .. } => status,
                    _ => unreachable!(),
                })
            );
        }
        if row.event != (Event::Delivered { lines: 4 }) && row.counts[5] == 0 {
            assert!(s.last_error.is_some(), "{}", row.name);
        }
    }
}

#[test]
fn a_halt_keeps_everything_until_resumed() {
    let mut m = machine(Queue::<1024>::with_precision(S));
    m.push(&batch(1..=2)).unwrap();
    send(&mut m, 0);
    assert_eq!(
        m.complete(0, answered(401, Outcome::Unauthorized)),
        Event::Halted
    );
    assert_eq!(m.next(10), Next::Halted);
    assert_eq!(m.stats().last_message.as_str(), "the server's words");
    m.resume();
    assert_eq!(send(&mut m, 10), [1, 2]);
}

#[test]
fn the_policy_gives_up_and_drops_the_batch() {
    let mut m = Delivery::new(
        Queue::<1024>::with_precision(S),
        RetryPolicy::new().max_retries(Some(1)),
        (|| 0u32) as fn() -> u32,
    );
    m.push(&batch(1..=3)).unwrap();
    send(&mut m, 0);
    let busy = Outcome::Unavailable { retry_after: None };
    assert_eq!(
        m.complete(0, answered(503, busy)),
        Event::Retrying { until_ms: 5_000 }
    );
    assert_eq!(m.next(4_999), Next::Wait { until_ms: 5_000 });
    send(&mut m, 5_000);
    assert_eq!(
        m.complete(5_000, answered(503, busy)),
        Event::GaveUp { lines: 3 }
    );
    let s = m.stats();
    assert_eq!((s.gave_up, s.queued, s.requests, s.retries), (3, 0, 2, 1));
}

#[test]
fn a_413_halves_and_a_max_length_caps_the_bytes() {
    let mut m = machine(Queue::<1024>::with_precision(S));
    m.push(&batch(1..=5)).unwrap();
    send(&mut m, 0);
    assert_eq!(
        m.complete(0, answered(413, Outcome::TooLarge { max_length: None })),
        Event::Split { lines: 5 }
    );
    assert_eq!(send(&mut m, 0), [1, 2, 3]);
    assert_eq!(
        m.complete(0, answered(204, Outcome::Written)),
        Event::Delivered { lines: 3 }
    );
    assert_eq!(send(&mut m, 0), [4, 5]);
    m.complete(0, answered(204, Outcome::Written));
    // The server's maxLength: each line is 11 bytes ("m v=10i 1\n").
    m.push(&batch(10..=15)).unwrap();
    send(&mut m, 0);
    let event = m.complete(
        0,
        answered(
            413,
            Outcome::TooLarge {
                max_length: Some(25),
            },
        ),
    );
    assert_eq!(event, Event::Split { lines: 6 });
    assert_eq!(send(&mut m, 0), [10, 11]);
    m.complete(0, answered(204, Outcome::Written));
    // A single line too large is dropped.
    let one = send(&mut m, 0);
    assert_eq!(one, [12, 13]);
    m.complete(
        0,
        answered(
            413,
            Outcome::TooLarge {
                max_length: Some(25),
            },
        ),
    );
    assert_eq!(send(&mut m, 0), [12]);
    assert_eq!(
        m.complete(0, answered(413, Outcome::TooLarge { max_length: None })),
        Event::TooLarge { lines: 1 }
    );
    let s = m.stats();
    assert_eq!((s.too_large, s.sent, s.queued), (1, 7, 3));
    assert_eq!(s.settled(), s.accepted);
}

#[test]
fn a_line_over_the_body_limit_is_discarded() {
    let mut m = machine(Queue::<1024>::with_precision(S));
    m.push(&batch([123_456_789])).unwrap();
    m.push(&batch([1])).unwrap();
    m.set_body_limit(12);
    assert_eq!(m.next(0), Next::Discarded { lines: 1 });
    assert_eq!(send(&mut m, 0), [1]);
    assert_eq!(m.stats().too_large, 1);
}

#[test]
fn complete_without_a_request_changes_nothing() {
    let mut m = machine(Queue::<1024>::with_precision(S));
    m.push(&batch([1])).unwrap();
    assert_eq!(m.complete(0, answered(204, Outcome::Written)), Event::Idle);
    assert_eq!((m.stats().sent, m.stats().queued), (0, 1));
}

/// The same delivery over every storage: inline, borrowed, boxed.
fn deliver_three<St: Storage>(queue: QueueInner<St>) {
    let mut m = machine(queue);
    m.set_max_lines(2);
    let mut buf = [0u8; 64];
    let mut borrowed = BorrowedBatch::with_precision(&mut buf, S);
    borrowed
        .point("m")
        .unwrap()
        .field("v", 1i64)
        .unwrap()
        .timestamp(1)
        .unwrap();
    m.push(&borrowed).unwrap();
    m.push(&batch(2..=3)).unwrap();
    assert_eq!(send(&mut m, 0), [1, 2]);
    assert_eq!(
        m.complete(0, answered(204, Outcome::Written)),
        Event::Delivered { lines: 2 }
    );
    assert_eq!(send(&mut m, 0), [3]);
    assert_eq!(
        m.complete(0, answered(204, Outcome::Written)),
        Event::Delivered { lines: 1 }
    );
    assert_eq!(m.next(0), Next::Idle);
    let s = m.stats();
    assert_eq!((s.accepted, s.sent), (3, 3));
}

#[test]
fn the_queue_works_over_every_storage() {
    deliver_three(Queue::<256>::with_precision(S));
    let mut ring = [0u8; 256];
    deliver_three(BorrowedQueue::with_precision(&mut ring, S));
    #[cfg(feature = "alloc")]
    deliver_three(linewire::BoxedQueue::with_capacity(256, S));
}

#[cfg(feature = "alloc")]
#[test]
fn a_boxed_queue_is_sized_at_run_time() {
    let size = std::hint::black_box(100);
    let mut m = machine(linewire::BoxedQueue::with_capacity(size, S));
    // Lines 1..=9 take 9 bytes each, line 10 takes 10: 91 of 100 bytes.
    for i in 1..=10 {
        assert_eq!(m.push(&batch([i])), Ok(0));
    }
    // Line 11 (10 bytes) does not fit after them: it wraps to the start
    // once the two oldest lines (18 bytes) are evicted.
    assert_eq!(m.push(&batch([11])), Ok(2));
    assert_eq!((m.queue().capacity(), m.stats().dropped_overflow), (100, 2));
    assert_eq!(send(&mut m, 0)[0], 3);
}

#[test]
fn the_same_bytes_whatever_the_storage() {
    let mut inline = Queue::<64>::with_precision(S);
    let mut ring = [0u8; 64];
    let mut borrowed = BorrowedQueue::with_precision(&mut ring, S);
    for i in 0..12 {
        let b = batch([i]);
        assert_eq!(inline.push(&b), borrowed.push(&b));
        if i % 3 == 0 {
            assert_eq!(inline.pop_front(1), borrowed.pop_front(1));
        }
        assert_eq!(inline.front(64, 10).bytes(), borrowed.front(64, 10).bytes());
    }
    assert_eq!(
        (inline.len(), inline.dropped()),
        (borrowed.len(), borrowed.dropped())
    );
}

#[test]
fn a_borrowed_batch_can_be_queued_in_a_writer() {
    let mut w = linewire::Writer::<256, _>::new(
        linewire::http::Target::v2("h", "b", "t").unwrap(),
        S,
        RetryPolicy::new(),
        || 0u32,
    );
    let mut buf = [0u8; 64];
    let mut b = BorrowedBatch::with_precision(&mut buf, S);
    b.point("m")
        .unwrap()
        .field("v", 7i64)
        .unwrap()
        .timestamp(1)
        .unwrap();
    w.push(&b).unwrap();
    assert_eq!(w.queue().front(256, 10).bytes(), b"m v=7i 1\n");
}

#[test]
fn block_refuses_without_counting() {
    let mut m = machine(Queue::<24>::with_precision(S));
    m.set_overflow(Overflow::Block);
    m.push(&batch([1, 2])).unwrap();
    assert_eq!(m.push(&batch([3])), Err(QueueError::Full));
    assert_eq!((m.stats().refused, m.stats().accepted), (0, 2));
    send(&mut m, 0);
    m.complete(0, answered(204, Outcome::Written));
    assert_eq!(m.push(&batch([3])), Ok(0));
}

#[test]
fn upcoming_is_what_goes_next_even_across_the_wrap() {
    // 9-byte lines ("m v=1i 1\n") in a 40-byte ring.
    let mut m = machine(Queue::<40>::with_precision(S));
    m.set_max_lines(2);
    m.push(&batch(1..=4)).unwrap();
    assert_eq!(send(&mut m, 0), [1, 2]);
    m.complete(0, answered(204, Outcome::Written));
    // Lines 3, 4 at 18..36; 5, 6 wrap to 0..18.
    m.push(&batch(5..=6)).unwrap();
    let Next::Send { first, .. } = m.next(0) else {
        panic!()
    };
    assert_eq!(first, 2);
    let Next::Send {
        body, lines, first, ..
    } = m.upcoming()
    else {
        panic!()
    };
    assert_eq!((ids(body), lines, first), (vec![5, 6], 2, 4));
    let ahead = body.to_vec();
    m.complete(0, answered(204, Outcome::Written));
    let Next::Send { body, first, .. } = m.next(0) else {
        panic!()
    };
    assert_eq!((body, first), (&ahead[..], 4));
    assert_eq!(m.upcoming(), Next::Idle);
}

/// A full `DropOldest` queue (9-byte lines in a 36-byte ring) with lines
/// 1 to 4 in flight, and line 5 pushed meanwhile: line 1 is evicted (the
/// newest are kept, the push is not refused), counted dropped for now.
fn evicted_in_flight() -> Delivery<[u8; 36], fn() -> u32> {
    let mut m = machine(Queue::<36>::with_precision(S));
    assert_eq!(m.queue().get_overflow(), Overflow::DropOldest);
    m.push(&batch(1..=4)).unwrap();
    assert_eq!(send(&mut m, 0), [1, 2, 3, 4]);
    assert_eq!(m.push(&batch([5])), Ok(1));
    assert_eq!((m.in_flight(), m.evicted_in_flight()), (3, 1));
    let s = m.stats();
    assert_eq!(
        (s.sent, s.dropped_overflow, s.refused, s.queued),
        (0, 1, 0, 4)
    );
    assert_eq!(s.settled(), s.accepted);
    m
}

#[test]
fn lines_evicted_in_flight_count_sent_when_the_server_stores_the_request() {
    let mut m = evicted_in_flight();
    assert_eq!(
        m.complete(0, answered(204, Outcome::Written)),
        Event::Delivered { lines: 4 }
    );
    let s = m.stats();
    assert_eq!((s.sent, s.dropped_overflow, s.queued), (4, 0, 1));
    assert_eq!(s.settled(), s.accepted);
    assert_eq!(m.evicted_in_flight(), 0);
    assert_eq!(send(&mut m, 0), [5]);
    assert_eq!(
        m.complete(0, answered(204, Outcome::Written)),
        Event::Delivered { lines: 1 }
    );
    assert_eq!((m.stats().sent, m.stats().dropped_overflow), (5, 0));
}

#[test]
fn lines_evicted_in_flight_stay_dropped_when_the_request_fails() {
    let mut m = evicted_in_flight();
    assert!(matches!(
        m.complete(0, answered(503, Outcome::Unavailable { retry_after: None })),
        Event::Retrying { .. }
    ));
    let s = m.stats();
    assert_eq!((s.sent, s.dropped_overflow, s.queued), (0, 1, 4));
    assert_eq!(s.settled(), s.accepted);
    assert_eq!(m.evicted_in_flight(), 0);
    // The retry carries what is left (line 5 wrapped: the next batch);
    // its 204 counts those only.
    assert_eq!(send(&mut m, 10_000), [2, 3, 4]);
    assert_eq!(
        m.complete(10_000, answered(204, Outcome::Written)),
        Event::Delivered { lines: 3 }
    );
    let s = m.stats();
    assert_eq!((s.sent, s.dropped_overflow, s.queued), (3, 1, 1));
    assert_eq!(s.settled(), s.accepted);
}

#[test]
fn lines_evicted_in_flight_stay_dropped_for_every_other_outcome() {
    // (the result, what it does)
    let cases = [
        (answered(400, Outcome::Rejected), "rejected"),
        (answered(401, Outcome::Unauthorized), "halted"),
        (
            answered(413, Outcome::TooLarge { max_length: None }),
            "split",
        ),
        (transport(false, false), "retry"),
        // A stale connection: due again at once.
        (transport(false, true), "stale"),
        (
            Completion::Misconfigured {
                error: LastError::Connect,
            },
            "halted",
        ),
    ];
    for (done, what) in cases {
        let mut m = evicted_in_flight();
        let e = m.complete(0, done);
        assert!(!matches!(e, Event::Delivered { .. }), "{what}: {e:?}");
        let s = m.stats();
        assert_eq!((s.sent, s.dropped_overflow), (0, 1), "{what}: {s:?}");
        assert_eq!(s.settled(), s.accepted, "{what}");
        assert_eq!(m.evicted_in_flight(), 0, "{what}");
        if what == "rejected" {
            assert_eq!(e, Event::Rejected { lines: 3 });
            assert_eq!((s.rejected, s.queued), (3, 1));
        }
    }
    // Given up (no retries left): the rest given up, the evicted dropped.
    let mut m = Delivery::new(
        Queue::<36>::with_precision(S),
        RetryPolicy::new().max_retries(Some(0)),
        (|| 0u32) as fn() -> u32,
    );
    m.push(&batch(1..=4)).unwrap();
    assert_eq!(send(&mut m, 0), [1, 2, 3, 4]);
    assert_eq!(m.push(&batch([5])), Ok(1));
    assert_eq!(
        m.complete(0, answered(503, Outcome::Unavailable { retry_after: None })),
        Event::GaveUp { lines: 3 }
    );
    let s = m.stats();
    assert_eq!(
        (s.sent, s.gave_up, s.dropped_overflow, s.queued),
        (0, 3, 1, 1)
    );
    assert_eq!(s.settled(), s.accepted);
}

#[test]
fn lines_evicted_in_flight_stay_dropped_when_the_request_is_handed_out_again() {
    let mut m = evicted_in_flight();
    // `next` again without `complete`: the earlier try is forgotten.
    assert_eq!(send(&mut m, 0), [2, 3, 4]);
    assert_eq!(m.evicted_in_flight(), 0);
    assert_eq!(
        m.complete(0, answered(204, Outcome::Written)),
        Event::Delivered { lines: 3 }
    );
    let s = m.stats();
    assert_eq!((s.sent, s.dropped_overflow, s.queued), (3, 1, 1));
    assert_eq!(s.settled(), s.accepted);
}

#[test]
fn lines_evicted_in_flight_stay_dropped_when_abandoned() {
    let mut m = evicted_in_flight();
    assert_eq!(m.abandon(), 4);
    assert_eq!(m.evicted_in_flight(), 0);
    assert_eq!(m.complete(0, answered(204, Outcome::Written)), Event::Idle);
    let s = m.stats();
    assert_eq!(
        (s.sent, s.dropped_overflow, s.unsent_at_close, s.queued),
        (0, 1, 4, 0)
    );
    assert_eq!(s.settled(), s.accepted);
}

#[test]
fn a_partial_write_applies_to_the_lines_still_queued() {
    // The approximation: which evicted lines the server stored is not
    // known; they stay dropped, and its counts apply to lines 2 to 4.
    let mut m = evicted_in_flight();
    let e = m.complete(0, answered(400, partial(1)));
    assert!(
        matches!(
            e,
            Event::PartiallyDelivered {
                written: 2,
                rejected: 1,
                ..
            }
        ),
        "{e:?}"
    );
    let s = m.stats();
    assert_eq!(
        (s.sent, s.rejected, s.dropped_overflow, s.queued),
        (2, 1, 1, 1)
    );
    assert_eq!(s.settled(), s.accepted);
}

#[test]
fn lines_behind_the_batch_in_flight_are_evicted_after_it() {
    let mut m = machine(Queue::<36>::with_precision(S));
    m.set_max_lines(2);
    m.push(&batch(1..=4)).unwrap();
    assert_eq!(send(&mut m, 0), [1, 2]);
    // Eviction takes the front, which is in flight: line 1.
    assert_eq!(m.push(&batch([5])), Ok(1));
    assert_eq!((m.in_flight(), m.evicted_in_flight()), (1, 1));
    // A 503: line 1 stays dropped, line 2 is queued again.
    assert!(matches!(
        m.complete(0, answered(503, Outcome::Unavailable { retry_after: None })),
        Event::Retrying { .. }
    ));
    // Nothing in flight now: the next eviction is line 2, for good.
    assert_eq!(m.push(&batch([6])), Ok(1));
    assert_eq!(m.evicted_in_flight(), 0);
    let s = m.stats();
    assert_eq!(
        (s.sent, s.dropped_overflow, s.refused, s.queued),
        (0, 2, 0, 4)
    );
    assert_eq!(s.settled(), s.accepted);
    assert_eq!(send(&mut m, 10_000), [3, 4]);
}

#[test]
fn abandon_counts_unsent_lines() {
    let mut m = machine(Queue::<256>::with_precision(S));
    m.push(&batch(1..=3)).unwrap();
    send(&mut m, 0);
    assert_eq!(m.abandon(), 3);
    assert_eq!(m.complete(0, answered(204, Outcome::Written)), Event::Idle);
    let s = m.stats();
    assert_eq!((s.unsent_at_close, s.sent, s.settled()), (3, 0, 3));
}

mod property {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Push(u8),
        /// Send, then (maybe) push while in flight, then complete.
        Exchange {
            result: u8,
            push_meanwhile: u8,
        },
        Advance(u32),
        Resume,
        Abandon,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (1u8..4).prop_map(Step::Push),
            6 => (0u8..16, 0u8..3).prop_map(|(result, push_meanwhile)| Step::Exchange { result, push_meanwhile }),
            2 => (0u32..200_000).prop_map(Step::Advance),
            1 => Just(Step::Resume),
            1 => Just(Step::Abandon),
        ]
    }

    fn result(n: u8) -> Completion<'static> {
        match n {
            0..=3 => answered(204, Outcome::Written),
            4 => answered(400, Outcome::Rejected),
            5 => answered(400, partial(1)),
            6 => answered(422, partial(7)),
            7 => answered(401, Outcome::Unauthorized),
            8 => answered(404, Outcome::NotFound),
            9 => answered(413, Outcome::TooLarge { max_length: None }),
            10 => answered(
                413,
                Outcome::TooLarge {
                    max_length: Some(20),
                },
            ),
            11 => answered(
                429,
                Outcome::Throttled {
                    retry_after: Some(RetryAfter::Seconds(2)),
                },
            ),
            12 => answered(503, Outcome::Unavailable { retry_after: None }),
            13 => transport(false, true),
            14 => transport(true, false),
            _ => Completion::Misconfigured {
                error: LastError::Connect,
            },
        }
    }

    /// Where each line is: the model of the machine's queue.
    #[derive(Default)]
    struct Model {
        queue: VecDeque<u64>,
        written: BTreeSet<u64>,
        dropped: BTreeSet<u64>,
        next_id: u64,
    }

    impl Model {
        fn push<St: Storage>(&mut self, m: &mut Delivery<St, fn() -> u32>, n: u8) {
            let ids: Vec<u64> = (self.next_id..self.next_id + u64::from(n)).collect();
            self.next_id += u64::from(n);
            // A refused (or blocked) push is never queued, never accepted.
            if let Ok(evicted) = m.push(&batch(ids.iter().copied())) {
                for _ in 0..evicted {
                    let id = self.queue.pop_front().unwrap();
                    assert!(self.dropped.insert(id));
                }
                self.queue.extend(ids);
            }
        }

        /// The machine's counters agree with the model, and every accepted
        /// line is in exactly one place.
        fn check<St: Storage>(&self, m: &Delivery<St, fn() -> u32>) -> Result<(), TestCaseError> {
            let s = m.stats();
            prop_assert_eq!(s.queued, self.queue.len());
            prop_assert_eq!(s.settled(), s.accepted);
            prop_assert_eq!(s.sent, self.written.len() as u64);
            prop_assert_eq!(
                s.dropped_overflow
                    + s.rejected
                    + s.gave_up
                    + s.too_large
                    + s.misconfigured
                    + s.unsent_at_close,
                self.dropped.len() as u64
            );
            let placed = self.queue.len() + self.written.len() + self.dropped.len();
            prop_assert_eq!(placed as u64, s.accepted);
            prop_assert!(self.written.is_disjoint(&self.dropped));
            prop_assert!(self
                .queue
                .iter()
                .all(|id| !self.written.contains(id) && !self.dropped.contains(id)));
            Ok(())
        }

        /// The first `n` queued lines leave the queue: `written` of them
        /// stored (which ones is the server's word), the rest dropped.
        fn settle(&mut self, n: usize, written: usize) {
            for i in 0..n {
                let id = self
                    .queue
                    .pop_front()
                    .expect("settled more lines than queued");
                let fresh = if i < written {
                    self.written.insert(id)
                } else {
                    self.dropped.insert(id)
                };
                assert!(fresh, "line {id} settled twice");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn no_line_is_lost_or_duplicated(
            steps in proptest::collection::vec(step(), 1..80),
            drop_on_401 in any::<bool>(),
            overflow in 0u8..3,
            max_lines in 1usize..6,
        ) {
            let mut m = Delivery::new(
                Queue::<96>::with_precision(S),
                RetryPolicy::new().max_retries(Some(2)),
                (|| 0x8000_0000u32) as fn() -> u32,
            );
            m.set_max_lines(max_lines);
            if drop_on_401 {
                m.set_on_misconfigured(OnMisconfigured::Drop);
            }
            m.set_overflow([Overflow::DropOldest, Overflow::Refuse, Overflow::Block][usize::from(overflow)]);
            let mut model = Model { next_id: 1, ..Model::default() };
            let mut now = 0u64;
            for step in steps {
                match step {
                    Step::Push(n) => model.push(&mut m, n),
                    Step::Advance(ms) => now += u64::from(ms),
                    Step::Resume => m.resume(),
                    Step::Abandon => {
                        let n = m.abandon();
                        prop_assert_eq!(n, model.queue.len());
                        model.settle(n, 0);
                    }
                    Step::Exchange { result: r, push_meanwhile } => {
                        let sent = match m.next(now) {
                            Next::Send { body, lines, .. } => {
                                let sent = ids(body);
                                prop_assert_eq!(sent.len(), lines);
                                // The body is the front of the queue, in order.
                                prop_assert!(model.queue.iter().take(lines).eq(sent.iter()));
                                sent
                            }
                            Next::Discarded { lines } => {
                                model.settle(lines, 0);
                                continue;
                            }
                            Next::Idle => {
                                prop_assert!(model.queue.is_empty());
                                continue;
                            }
                            Next::Halted | Next::Wait { .. } => continue,
                            other => panic!("{other:?}"),
                        };
                        if push_meanwhile > 0 {
                            model.push(&mut m, push_meanwhile);
                        }
                        // The lines still in flight are the front of the
                        // queue; the evicted ones were the body's first.
                        let left = m.in_flight();
                        let evicted = sent.len() - left;
                        prop_assert!(left <= sent.len());
                        prop_assert_eq!(m.evicted_in_flight(), evicted);
                        prop_assert!(model.queue.iter().take(left).eq(sent[evicted..].iter()));
                        prop_assert!(sent[..evicted].iter().all(|id| model.dropped.contains(id)));
                        // The sums hold while the request is out (the
                        // evicted lines count dropped for now).
                        model.check(&m)?;
                        match m.complete(now, result(r)) {
                            Event::Delivered { lines } => {
                                // The server stored the whole body.
                                prop_assert_eq!(lines, sent.len());
                                model.settle(left, left);
                                for id in &sent[..evicted] {
                                    prop_assert!(model.dropped.remove(id));
                                    prop_assert!(model.written.insert(*id));
                                }
                            }
                            Event::PartiallyDelivered { written, rejected, .. } => {
                                prop_assert_eq!(written + rejected, left);
                                model.settle(left, written);
                            }
                            Event::Rejected { lines }
                            | Event::TooLarge { lines }
                            | Event::GaveUp { lines }
                            | Event::Misconfigured { lines } => {
                                prop_assert_eq!(lines, left);
                                model.settle(lines, 0);
                            }
                            Event::Split { .. } | Event::Retrying { .. } | Event::Halted => {}
                            other => panic!("{other:?}"),
                        }
                        prop_assert_eq!(m.evicted_in_flight(), 0);
                    }
                }
                model.check(&m)?;
            }
        }
    }
}

mod queue_property {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// What `upcoming` hands out (the queue's `front_after`) is what
        /// the front is once the lines in flight are removed, whatever the
        /// ring's state (wrapped or not).
        #[test]
        fn upcoming_is_the_front_after_the_lines_in_flight(
            ops in proptest::collection::vec((0u8..3, 1u64..4), 1..60),
            max_lines in 1usize..5,
            max_bytes in 8usize..64,
        ) {
            let mut m = machine(Queue::<80>::with_precision(S));
            m.set_max_lines(max_lines);
            m.set_max_bytes(max_bytes);
            let mut id = 1u64;
            for (op, n) in ops {
                match op {
                    0 => {
                        let _ = m.push(&batch(id..id + n));
                        id += n;
                    }
                    1 => {
                        if let Next::Send { .. } = m.next(0) {
                            m.complete(0, answered(204, Outcome::Written));
                        }
                    }
                    _ => {}
                }
                let Next::Send { lines, first, .. } = m.next(0) else { continue };
                let ahead = match m.upcoming() {
                    Next::Send { body, lines: l, first: f, .. } => Some((body.to_vec(), l, f)),
                    _ => None,
                };
                prop_assert!(lines <= max_lines);
                let mut after = m.queue().clone();
                after.pop_front(lines);
                let expect = after.front(max_bytes, max_lines);
                match ahead {
                    Some((body, l, f)) => {
                        prop_assert_eq!(&body[..], expect.bytes());
                        prop_assert_eq!(l, expect.lines());
                        prop_assert_eq!(f, first + lines as u64);
                    }
                    None => prop_assert!(expect.is_empty()),
                }
                // Nothing was sent: a stale connection leaves no backoff.
                prop_assert_eq!(m.complete(0, transport(false, true)), Event::Retrying { until_ms: 0 });
            }
        }
    }
}
