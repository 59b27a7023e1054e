//! What a driver that queues raw text and bounds its queue in lines as
//! well as bytes (linewire-std) uses: `push_lines`, `drop_oldest`,
//! `regions` and `Lines::new`.

use linewire::http::{Outcome, Partial};
use linewire::{
    Completion, Delivery, Event, Lines, Next, Overflow, Precision, Queue, QueueError, RetryPolicy,
};

fn machine<const N: usize>() -> Delivery<[u8; N], fn() -> u32> {
    Delivery::new(
        Queue::with_precision(Precision::Seconds),
        RetryPolicy::new(),
        (|| 0u32) as fn() -> u32,
    )
}

fn ok() -> Completion<'static> {
    Completion::answered(204, Outcome::Written, "")
}

#[test]
fn push_lines_frames_lines_as_line_protocol_does() {
    let mut m = machine::<256>();
    let text = b"a s=\"x\ny\" 1\nb v=1i 2\nc,t=a\\ b v=\"q\\\"\n\" 3\n";
    assert_eq!(m.push_lines(text), Ok(0));
    assert_eq!(m.queue().len(), 3);
    let Next::Send { body, lines, .. } = m.next(0) else {
        panic!("nothing to send")
    };
    assert_eq!((body, lines), (&text[..], 3));
    let got: Vec<&[u8]> = Lines::new(body).collect();
    assert_eq!(
        got,
        [
            &b"a s=\"x\ny\" 1"[..],
            &b"b v=1i 2"[..],
            &b"c,t=a\\ b v=\"q\\\"\n\" 3"[..]
        ]
    );
    assert_eq!(m.complete(0, ok()), Event::Delivered { lines: 3 });
}

#[test]
fn unframed_text_is_refused_whole_and_counted() {
    let mut m = machine::<256>();
    m.push_lines(b"m v=1i 1\n").unwrap();
    // No final line feed; a string field left open.
    assert_eq!(m.push_lines(b"m v=2i 2"), Err(QueueError::Unframed));
    assert_eq!(
        m.push_lines(b"m v=3i 3\nm s=\"open 4\n"),
        Err(QueueError::Unframed)
    );
    let s = m.stats();
    assert_eq!((s.queued, s.accepted, s.refused), (1, 1, 3));
    assert_eq!(m.push_lines(b""), Ok(0));
}

#[test]
fn a_line_longer_than_the_largest_batch_is_refused() {
    let mut m = machine::<256>();
    m.set_max_bytes(16);
    assert_eq!(
        m.push_lines(b"m v=1i 1\nm,tag=long v=2i 2\n"),
        Err(QueueError::TooLarge { len: 18, max: 16 })
    );
    assert_eq!(m.stats().refused, 2);
}

#[test]
fn lines_evicted_while_in_flight_count_sent_once_the_request_is_stored() {
    let mut m = machine::<256>();
    m.push_lines(b"m v=1i 1\nm v=2i 2\nm v=3i 3\nm v=4i 4\n")
        .unwrap();
    let Next::Send { lines: 4, .. } = m.next(0) else {
        panic!("no batch of 4")
    };
    assert_eq!(m.drop_oldest(1), 1);
    assert_eq!((m.in_flight(), m.evicted_in_flight()), (3, 1));
    // Dropped for now: the sums hold while the request is out.
    let s = m.stats();
    assert_eq!((s.sent, s.dropped_overflow, s.queued), (0, 1, 3));
    assert_eq!(s.settled(), s.accepted);
    // The server stored the whole body, the evicted line too.
    assert_eq!(m.complete(0, ok()), Event::Delivered { lines: 4 });
    assert_eq!(m.evicted_in_flight(), 0);
    let s = m.stats();
    assert_eq!((s.sent, s.dropped_overflow, s.queued), (4, 0, 0));
    assert_eq!(s.settled(), s.accepted);
}

#[test]
fn lines_queued_behind_the_batch_in_flight_are_evicted_after_it() {
    let mut m = machine::<256>();
    m.set_max_lines(2);
    m.push_lines(b"m v=1i 1\nm v=2i 2\nm v=3i 3\n").unwrap();
    let Next::Send { lines: 2, .. } = m.next(0) else {
        panic!("no batch of 2")
    };
    // The batch in flight first, then the line behind it.
    assert_eq!(m.drop_oldest(3), 3);
    assert_eq!((m.in_flight(), m.evicted_in_flight()), (0, 2));
    assert_eq!(m.complete(0, ok()), Event::Delivered { lines: 2 });
    let s = m.stats();
    assert_eq!((s.sent, s.dropped_overflow, s.queued), (2, 1, 0));
    assert_eq!(s.settled(), s.accepted);
    assert_eq!(m.next(0), Next::Idle);
}

#[test]
fn a_partial_write_after_an_eviction_keeps_the_accounting() {
    // The approximation: the server's counts apply to the lines still
    // queued; the evicted ones stay dropped (which of them the server
    // stored is not known).
    let mut m = machine::<256>();
    m.push_lines(b"m v=1i 1\nm v=2i 2\nm v=3i 3\n").unwrap();
    m.next(0);
    m.drop_oldest(2);
    let mut p = Partial::default();
    p.dropped = Some(1);
    let partial = Outcome::PartiallyWritten(p);
    let e = m.complete(0, Completion::answered(400, partial, "partial write"));
    assert!(
        matches!(
            e,
            Event::PartiallyDelivered {
                written: 0,
                rejected: 1,
                ..
            }
        ),
        "{e:?}"
    );
    let s = m.stats();
    assert_eq!((s.sent, s.rejected, s.dropped_overflow), (0, 1, 2));
    assert_eq!(s.settled(), s.accepted);
    assert_eq!(m.evicted_in_flight(), 0);
}

#[test]
fn drop_oldest_stops_at_an_empty_queue() {
    let mut q = Queue::<64>::new();
    q.push_lines(b"m v=1i\n").unwrap();
    assert_eq!(q.drop_oldest(5), 1);
    assert_eq!((q.len(), q.dropped()), (0, 1));
    assert_eq!(q.drop_oldest(1), 0);
}

#[test]
fn regions_hold_every_queued_line_in_order_across_the_wrap() {
    let mut q = Queue::<48>::new().overflow(Overflow::DropOldest);
    let mut want: Vec<String> = Vec::new();
    for i in 0..40u32 {
        let line = format!("m v={i}i\n");
        q.push_lines(line.as_bytes()).unwrap();
        want.push(line.trim_end().to_owned());
        if i % 3 == 0 {
            q.pop_front(1);
        }
        let got: Vec<String> = q
            .regions()
            .into_iter()
            .flat_map(Lines::new)
            .map(|l| String::from_utf8(l.to_vec()).unwrap())
            .collect();
        assert_eq!(got.len(), q.len(), "after {i}");
        assert_eq!(got[..], want[want.len() - got.len()..], "after {i}");
    }
    let [_, newer] = q.regions();
    assert!(!newer.is_empty(), "the test never wrapped");
}

#[test]
fn lines_with_raw_line_feeds_and_without_mix_in_one_queue() {
    // The queue finds line ends at every `\n` until a line with a raw line
    // feed is queued, and by walking the lines' parts until it empties.
    let mut m = machine::<128>();
    m.set_max_lines(2);
    m.push_lines(b"a v=1i\nb v=2i\n").unwrap();
    m.push_lines(b"c s=\"x\ny\"\nd v=4i\n").unwrap();
    let mut seen: Vec<Vec<u8>> = Vec::new();
    for round in 0..2 {
        while let Next::Send { body, .. } = m.next(0) {
            seen.extend(Lines::new(body).map(<[u8]>::to_vec));
            assert!(matches!(m.complete(0, ok()), Event::Delivered { .. }));
        }
        if round == 0 {
            // Empty again: plain lines only.
            m.push_lines(b"e v=5i\nf v=6i\ng v=7i\n").unwrap();
        }
    }
    let want: Vec<&[u8]> = vec![
        b"a v=1i",
        b"b v=2i",
        b"c s=\"x\ny\"",
        b"d v=4i",
        b"e v=5i",
        b"f v=6i",
        b"g v=7i",
    ];
    assert_eq!(seen, want);
    assert_eq!(m.stats().sent, 7);
}
