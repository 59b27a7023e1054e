//! The retry policy with a fake clock: backoff sequence, jitter bounds,
//! Retry-After, give-up.

use linewire::{Backoff, Random, Retry, RetryPolicy, XorShift32};

/// A fake clock: `failed` at `now`, then jump to the scheduled time.
fn schedule(b: &mut Backoff, start: u64, n: usize, rnd: &mut impl Random) -> Vec<u64> {
    let mut now = start;
    let mut waits = Vec::new();
    for _ in 0..n {
        match b.failed(now, None, rnd) {
            Retry::At(t) => {
                waits.push(t - now);
                assert!(!b.ready(t - 1) && b.ready(t));
                now = t;
            }
            other => panic!("gave up early: {other:?}"),
        }
    }
    waits
}

#[test]
fn backoff_sequence_low_and_high_ends() {
    let never = RetryPolicy::new().max_retries(None).max_elapsed_ms(None);
    let mut b = Backoff::new(never);
    assert_eq!(
        schedule(&mut b, 1_000, 8, &mut || 0u32),
        [5_000, 10_000, 20_000, 40_000, 80_000, 125_000, 125_000, 125_000]
    );
    let mut b = Backoff::new(never);
    assert_eq!(
        schedule(&mut b, 0, 7, &mut || u32::MAX),
        [9_999, 19_999, 39_999, 79_999, 125_000, 125_000, 125_000]
    );
}

#[test]
fn jitter_stays_in_its_range_and_spreads() {
    let p = RetryPolicy::new();
    let mut rng = XorShift32::new(42);
    for retry in 0..4u32 {
        let low = 5_000u32 << retry;
        let (mut min, mut max) = (u32::MAX, 0);
        for _ in 0..10_000 {
            let d = p.backoff_ms(retry, rng.next_u32());
            assert!((low..2 * low).contains(&d), "retry {retry}: {d}");
            min = min.min(d);
            max = max.max(d);
        }
        // Spread over the whole range, not stuck at one end.
        assert!(min < low + low / 50, "retry {retry}: min {min}");
        assert!(max > 2 * low - low / 50, "retry {retry}: max {max}");
    }
    // Capped: retry 4 is [80 s, 160 s) cut at 125 s.
    for r in [0, u32::MAX / 4, u32::MAX / 2, u32::MAX] {
        assert!(p.backoff_ms(4, r) <= 125_000);
    }
    assert_eq!(p.backoff_ms(u32::MAX, u32::MAX), 125_000);
}

#[test]
fn retry_after_replaces_backoff_and_is_capped() {
    let never = RetryPolicy::new().max_retries(None).max_elapsed_ms(None);
    let mut b = Backoff::new(never);
    let mut rnd = || u32::MAX;
    assert_eq!(b.failed(10_000, Some(2), &mut rnd), Retry::At(12_000));
    // A long Retry-After is cut to 125 s.
    assert_eq!(b.failed(12_000, Some(3_600), &mut rnd), Retry::At(137_000));
    // 0 falls back to the backoff (third retry: [20 s, 40 s)).
    assert_eq!(
        b.failed(137_000, Some(0), &mut rnd),
        Retry::At(137_000 + 39_999)
    );
    let capped = Backoff::new(never.max_retry_after_ms(600_000));
    let mut c = capped;
    assert_eq!(c.failed(0, Some(3_600), &mut rnd), Retry::At(600_000));
}

#[test]
fn gives_up_after_the_retry_count() {
    let p = RetryPolicy::new().max_elapsed_ms(None).max_retries(Some(3));
    let mut b = Backoff::new(p);
    assert_eq!(
        schedule(&mut b, 0, 3, &mut || 0u32),
        [5_000, 10_000, 20_000]
    );
    assert_eq!(b.failed(35_000, None, &mut || 0u32), Retry::GiveUp);
    // Reset for the next batch.
    assert_eq!(b.retries(), 0);
    assert!(b.ready(35_000));
    assert_eq!(b.failed(35_000, None, &mut || 0u32), Retry::At(40_000));
}

#[test]
fn gives_up_after_180_seconds_by_default() {
    let mut b = Backoff::new(RetryPolicy::new());
    let mut rnd = || u32::MAX; // the longest waits: 10, 20, 40, 80 s
    let mut now = 0;
    let mut tries = 0;
    while let Retry::At(t) = b.failed(now, None, &mut rnd) {
        assert!(
            t <= 180_000,
            "a try scheduled {t} ms after the first failure"
        );
        now = t;
        tries += 1;
    }
    // 10 + 20 + 40 + 80 = 150 s; the next (125 s) would end past 180 s.
    assert_eq!(tries, 4);
    assert_eq!(now, 149_996);
}

#[test]
fn default_policy_gives_up_after_five_retries() {
    let mut b = Backoff::new(RetryPolicy::new());
    let mut rnd = || 0u32; // 5 + 10 + 20 + 40 + 80 = 155 s: within 180 s
    let waits = schedule(&mut b, 0, 5, &mut rnd);
    assert_eq!(waits, [5_000, 10_000, 20_000, 40_000, 80_000]);
    assert_eq!(b.failed(155_000, None, &mut rnd), Retry::GiveUp);
}

#[test]
fn retry_after_counts_toward_the_time_limit() {
    let mut b = Backoff::new(RetryPolicy::new().max_elapsed_ms(Some(10_000)));
    let mut rnd = || 0u32;
    assert_eq!(b.failed(0, Some(9), &mut rnd), Retry::At(9_000));
    assert_eq!(b.failed(9_000, Some(2), &mut rnd), Retry::GiveUp);
}

#[test]
fn base_and_first_interval_are_configurable() {
    let p = RetryPolicy::new()
        .first_interval_ms(100)
        .base(3)
        .max_interval_ms(1_000)
        .max_retries(None);
    let mut b = Backoff::new(p);
    assert_eq!(schedule(&mut b, 0, 4, &mut || 0u32), [100, 300, 900, 1_000]);
    assert_eq!(p.backoff_ms(1, u32::MAX), 899);
}
