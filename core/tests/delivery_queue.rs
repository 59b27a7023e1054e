//! The queue against a model (a `VecDeque` of lines), and its edge cases.

use std::collections::VecDeque;

use linewire::{Batch, Overflow, Precision, Queue, QueueError};
use proptest::prelude::*;

fn batch_of(values: &[(u32, bool)]) -> Batch<512> {
    let mut b = Batch::<512>::new();
    for &(v, with_newline) in values {
        let note = if with_newline { "a\nb \"c\"" } else { "x" };
        b.point("m")
            .and_then(|p| p.field("v", i64::from(v)))
            .and_then(|p| p.field("s", note))
            .and_then(|p| p.finish())
            .unwrap();
    }
    b
}

fn lines_of(b: &Batch<512>) -> Vec<Vec<u8>> {
    b.lines()
        .map(|l| {
            let mut l = l.to_vec();
            l.push(b'\n');
            l
        })
        .collect()
}

#[derive(Debug, Clone)]
enum Op {
    Push(Vec<(u32, bool)>),
    Pop(usize),
    Front(usize, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec((any::<u32>(), any::<bool>()), 1..4).prop_map(Op::Push),
        1 => (0usize..6).prop_map(Op::Pop),
        2 => (1usize..200, 1usize..6).prop_map(|(b, l)| Op::Front(b, l)),
    ]
}

fn check<const N: usize>(overflow: Overflow, ops: &[Op]) {
    let mut q = Queue::<N>::new().overflow(overflow);
    let mut model: VecDeque<Vec<u8>> = VecDeque::new();
    let (mut dropped, mut refused) = (0u64, 0u64);
    for op in ops {
        match op {
            Op::Push(values) => {
                let b = batch_of(values);
                let lines = lines_of(&b);
                let len: usize = lines.iter().map(Vec::len).sum();
                let before: Vec<u8> = q.front(usize::MAX, usize::MAX).bytes().to_vec();
                let qlen = q.len();
                match q.push(&b) {
                    Ok(evicted) => {
                        for _ in 0..evicted {
                            model.pop_front().unwrap();
                        }
                        dropped += evicted as u64;
                        model.extend(lines);
                    }
                    Err(e) => {
                        refused += lines.len() as u64;
                        // Atomic: unchanged.
                        assert_eq!(q.len(), qlen);
                        assert_eq!(q.front(usize::MAX, usize::MAX).bytes(), &before[..]);
                        match e {
                            QueueError::TooLarge { .. } => assert!(len > N),
                            QueueError::Full => assert_eq!(overflow, Overflow::Refuse),
                            other => panic!("{other:?}"),
                        }
                    }
                }
            }
            Op::Pop(k) => {
                let removed = q.pop_front(*k);
                assert_eq!(removed, (*k).min(model.len()));
                for _ in 0..removed {
                    model.pop_front();
                }
            }
            Op::Front(max_bytes, max_lines) => {
                let f = q.front(*max_bytes, *max_lines);
                // A prefix of the model, whole lines, within the limits
                // (one line at least even when it alone is too long).
                let expect: Vec<u8> = model.iter().take(f.lines()).flatten().copied().collect();
                assert_eq!(f.bytes(), &expect[..]);
                assert!(f.lines() <= *max_lines);
                assert!(f.lines() <= 1 || f.bytes().len() <= *max_bytes);
                if !model.is_empty() {
                    assert!(f.lines() >= 1);
                }
            }
        }
        assert_eq!(q.len(), model.len());
        assert_eq!(q.bytes_used(), model.iter().map(Vec::len).sum::<usize>());
        assert!(q.bytes_used() <= N);
        assert_eq!(q.dropped(), dropped);
        assert_eq!(q.refused(), refused);
        // Draining the front in contiguous batches yields the model's lines.
        let mut all = Vec::new();
        let mut copy = q.clone();
        while !copy.is_empty() {
            let f = copy.front(usize::MAX, usize::MAX);
            all.extend_from_slice(f.bytes());
            let n = f.lines();
            assert_eq!(copy.pop_front(n), n);
        }
        let expect: Vec<u8> = model.iter().flatten().copied().collect();
        assert_eq!(all, expect);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn drop_oldest_matches_the_model(ops in prop::collection::vec(op(), 1..120)) {
        check::<160>(Overflow::DropOldest, &ops);
    }

    #[test]
    fn refuse_matches_the_model(ops in prop::collection::vec(op(), 1..120)) {
        check::<160>(Overflow::Refuse, &ops);
    }
}

#[test]
fn a_wrapped_ring_sends_up_to_the_wrap_point_then_the_rest() {
    let mut q = Queue::<36>::new();
    let b = batch_of(&[(1, false)]); // m v=1i,s="x" and a newline: 13 bytes
    assert_eq!(lines_of(&b)[0].len(), 13);
    q.push(&b).unwrap();
    q.push(&b).unwrap();
    assert_eq!(q.pop_front(1), 1);
    // Bytes 13..26 of 36 in use; the next line wraps to offset 0.
    q.push(&b).unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(q.dropped(), 0);
    let f = q.front(1000, 1000);
    assert_eq!(f.lines(), 1, "a batch stops at the wrap point");
    q.pop_front(1);
    assert_eq!(q.front(1000, 1000).lines(), 1);
}

#[test]
fn precision_must_match() {
    let mut q = Queue::<64>::with_precision(Precision::Seconds);
    let b = batch_of(&[(1, false)]);
    assert_eq!(q.push(&b), Err(QueueError::PrecisionMismatch));
    assert_eq!((q.len(), q.refused()), (0, 1));
}

#[test]
fn raw_newlines_in_strings_stay_inside_their_line() {
    let mut q = Queue::<64>::new();
    let b = batch_of(&[(7, true)]);
    q.push(&b).unwrap();
    q.push(&b).unwrap();
    let f = q.front(1000, 1);
    assert_eq!(f.bytes(), b"m v=7i,s=\"a\nb \\\"c\\\"\"\n");
}
