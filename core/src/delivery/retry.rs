//! Retry timing: [`RetryPolicy`], [`Backoff`], [`Random`] jitter sources.

/// A source of random numbers for jitter.
///
/// Closures `FnMut() -> u32` are sources; [`XorShift32`] is a small one for
/// targets without a hardware generator.
///
/// ```
/// use linewire::Random;
///
/// let mut counter = 0u32;
/// let mut source = move || { counter += 1; counter };
/// assert_eq!(source.next_u32(), 1);
/// ```
pub trait Random {
    /// The next random 32-bit number.
    fn next_u32(&mut self) -> u32;
}

impl<F: FnMut() -> u32> Random for F {
    fn next_u32(&mut self) -> u32 {
        self()
    }
}

/// Marsaglia's xorshift32: a tiny pseudo-random source for jitter, to seed
/// from something that differs between devices (a serial number, an ADC
/// reading).
///
/// ```
/// use linewire::{Random, XorShift32};
///
/// let mut rng = XorShift32::new(7);
/// assert_ne!(rng.next_u32(), rng.next_u32());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct XorShift32(u32);

impl XorShift32 {
    /// A generator from `seed` (0 is replaced by a fixed non-zero seed).
    ///
    /// ```
    /// const RNG: linewire::XorShift32 = linewire::XorShift32::new(0x1234);
    /// ```
    pub const fn new(seed: u32) -> Self {
        Self(if seed == 0 { 0x9E37_79B9 } else { seed })
    }
}

impl Random for XorShift32 {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// How long to wait between tries and when to give up. All times in
/// milliseconds.
///
/// When to try again: exponential backoff with jitter, `Retry-After`, and
/// when to give up on a batch.
///
/// The defaults are those of the official Go and Python clients: the first
/// retry waits a random time in \[5 s, 10 s), each further one doubles the
/// range (\[5 s·2ⁿ, 5 s·2ⁿ⁺¹)), no wait is longer than 125 s, and a batch is
/// given up after 5 retries or when a try would start more than 180 s after
/// its first failure. A server's `Retry-After` replaces the backoff, capped
/// at [`RetryPolicy::max_retry_after_ms`] (125 s by default).
///
/// No clock is read: every call takes the caller's `now_ms` (any monotonic
/// millisecond counter), and jitter comes from the caller's [`Random`]
/// source.
///
/// ```
/// use linewire::{Backoff, Retry, RetryPolicy};
///
/// let mut backoff = Backoff::new(RetryPolicy::new());
/// let mut random = || 0u32; // the low end of each jitter range
/// assert_eq!(backoff.failed(1_000, None, &mut random), Retry::At(6_000));
/// assert_eq!(backoff.failed(6_000, None, &mut random), Retry::At(16_000));
/// backoff.succeeded();
/// assert_eq!(backoff.retries(), 0);
/// ```
///
/// ```
/// use linewire::RetryPolicy;
///
/// // Never give up on a batch: only the queue bound drops data.
/// let keep = RetryPolicy::new().max_retries(None).max_elapsed_ms(None);
/// assert_eq!(keep.get_max_retries(), None);
/// // The first wait is in [5 s, 10 s).
/// assert_eq!(RetryPolicy::new().backoff_ms(0, 0), 5_000);
/// assert_eq!(RetryPolicy::new().backoff_ms(0, u32::MAX), 9_999);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RetryPolicy {
    first_interval_ms: u32,
    base: u32,
    max_interval_ms: u32,
    max_retry_after_ms: u32,
    max_retries: Option<u32>,
    max_elapsed_ms: Option<u32>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// The Go/Python client defaults: 5 s first interval, base 2, at most
    /// 125 s between tries, `Retry-After` capped at 125 s, give up after 5
    /// retries or 180 s.
    ///
    /// ```
    /// const POLICY: linewire::RetryPolicy = linewire::RetryPolicy::new();
    /// assert_eq!(POLICY.get_max_interval_ms(), 125_000);
    /// ```
    pub const fn new() -> Self {
        Self {
            first_interval_ms: 5_000,
            base: 2,
            max_interval_ms: 125_000,
            max_retry_after_ms: 125_000,
            max_retries: Some(5),
            max_elapsed_ms: Some(180_000),
        }
    }

    /// The low end of the first wait (default 5 000 ms).
    ///
    /// ```
    /// let p = linewire::RetryPolicy::new().first_interval_ms(1_000);
    /// assert_eq!(p.backoff_ms(0, 0), 1_000);
    /// ```
    #[must_use]
    pub const fn first_interval_ms(mut self, ms: u32) -> Self {
        self.first_interval_ms = ms;
        self
    }

    /// The factor between successive waits (default 2; 0 and 1 mean a
    /// constant range).
    ///
    /// ```
    /// let p = linewire::RetryPolicy::new().base(3);
    /// assert_eq!(p.backoff_ms(1, 0), 15_000);
    /// ```
    #[must_use]
    pub const fn base(mut self, base: u32) -> Self {
        self.base = base;
        self
    }

    /// The longest wait between tries (default 125 000 ms).
    ///
    /// ```
    /// let p = linewire::RetryPolicy::new().max_interval_ms(20_000);
    /// assert_eq!(p.backoff_ms(10, 0), 20_000);
    /// ```
    #[must_use]
    pub const fn max_interval_ms(mut self, ms: u32) -> Self {
        self.max_interval_ms = ms;
        self
    }

    /// The longest `Retry-After` honoured (default 125 000 ms); a longer
    /// one is cut to this.
    ///
    /// ```
    /// let p = linewire::RetryPolicy::new().max_retry_after_ms(600_000);
    /// assert_eq!(p.get_max_retry_after_ms(), 600_000);
    /// ```
    #[must_use]
    pub const fn max_retry_after_ms(mut self, ms: u32) -> Self {
        self.max_retry_after_ms = ms;
        self
    }

    /// Give up on a batch after this many retries (default `Some(5)`:
    /// six tries in all); `None` never gives up on the count.
    ///
    /// ```
    /// let p = linewire::RetryPolicy::new().max_retries(Some(2));
    /// assert_eq!(p.get_max_retries(), Some(2));
    /// ```
    #[must_use]
    pub const fn max_retries(mut self, retries: Option<u32>) -> Self {
        self.max_retries = retries;
        self
    }

    /// Give up on a batch when a retry would start more than this long
    /// after its first failure (default `Some(180_000)`); `None` never
    /// gives up on time.
    ///
    /// ```
    /// let p = linewire::RetryPolicy::new().max_elapsed_ms(None);
    /// assert_eq!(p.get_max_elapsed_ms(), None);
    /// ```
    #[must_use]
    pub const fn max_elapsed_ms(mut self, ms: Option<u32>) -> Self {
        self.max_elapsed_ms = ms;
        self
    }

    /// The first wait's lower bound.
    ///
    /// ```
    /// assert_eq!(linewire::RetryPolicy::new().get_first_interval_ms(), 5_000);
    /// ```
    pub const fn get_first_interval_ms(&self) -> u32 {
        self.first_interval_ms
    }

    /// The factor between successive waits.
    ///
    /// ```
    /// assert_eq!(linewire::RetryPolicy::new().base(3).get_base(), 3);
    /// ```
    pub const fn get_base(&self) -> u32 {
        self.base
    }

    /// The longest wait between tries.
    ///
    /// ```
    /// assert_eq!(linewire::RetryPolicy::new().get_max_interval_ms(), 125_000);
    /// ```
    pub const fn get_max_interval_ms(&self) -> u32 {
        self.max_interval_ms
    }

    /// The cap on `Retry-After`.
    ///
    /// ```
    /// assert_eq!(linewire::RetryPolicy::new().get_max_retry_after_ms(), 125_000);
    /// ```
    pub const fn get_max_retry_after_ms(&self) -> u32 {
        self.max_retry_after_ms
    }

    /// The retry count after which a batch is given up.
    ///
    /// ```
    /// assert_eq!(linewire::RetryPolicy::new().get_max_retries(), Some(5));
    /// ```
    pub const fn get_max_retries(&self) -> Option<u32> {
        self.max_retries
    }

    /// The time after the first failure after which a batch is given up.
    ///
    /// ```
    /// assert_eq!(linewire::RetryPolicy::new().get_max_elapsed_ms(), Some(180_000));
    /// ```
    pub const fn get_max_elapsed_ms(&self) -> Option<u32> {
        self.max_elapsed_ms
    }

    /// The wait before retry number `retry + 1` (0 for the first retry):
    /// `first·baseʳᵉᵗʳʸ + jitter`, the jitter spreading it uniformly over
    /// \[first·baseʳᵉᵗʳʸ, first·baseʳᵉᵗʳʸ⁺¹), capped at the maximum
    /// interval. `random` picks the point in the range. Pure.
    ///
    /// ```
    /// use linewire::RetryPolicy;
    ///
    /// let p = RetryPolicy::new();
    /// assert_eq!(p.backoff_ms(2, 0), 20_000);
    /// assert_eq!(p.backoff_ms(2, u32::MAX / 2), 29_999);
    /// assert_eq!(p.backoff_ms(9, 0), 125_000);
    /// ```
    pub fn backoff_ms(&self, retry: u32, random: u32) -> u32 {
        let cap = u64::from(self.max_interval_ms);
        let base = u64::from(self.base.max(1));
        let mut low = u64::from(self.first_interval_ms);
        for _ in 0..retry {
            if low >= cap {
                break;
            }
            low = low.saturating_mul(base);
        }
        if low >= cap {
            return self.max_interval_ms;
        }
        let high = low.saturating_mul(base);
        let span = high.saturating_sub(low);
        // Uniform in [low, high): multiply-shift keeps it unbiased enough
        // and free of division.
        let jitter = (span.saturating_mul(u64::from(random))) >> 32;
        let delay = low.saturating_add(jitter).min(cap);
        u32::try_from(delay).unwrap_or(u32::MAX)
    }

    /// The wait a `Retry-After` of `secs` seconds asks for, capped.
    /// `None` for 0 (the backoff is used instead, so a server saying
    /// "0" cannot make a device spin).
    ///
    /// ```
    /// use linewire::RetryPolicy;
    ///
    /// assert_eq!(RetryPolicy::new().retry_after_ms(3), Some(3_000));
    /// assert_eq!(RetryPolicy::new().retry_after_ms(3_600), Some(125_000));
    /// assert_eq!(RetryPolicy::new().retry_after_ms(0), None);
    /// ```
    pub fn retry_after_ms(&self, secs: u64) -> Option<u32> {
        if secs == 0 {
            return None;
        }
        let ms = secs.saturating_mul(1_000);
        Some(
            u32::try_from(ms)
                .unwrap_or(u32::MAX)
                .min(self.max_retry_after_ms),
        )
    }
}

/// What to do after a failed try.
///
/// ```
/// use linewire::Retry;
///
/// assert_ne!(Retry::At(5), Retry::GiveUp);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Retry {
    /// Try again at this time (the caller's milliseconds).
    At(u64),
    /// The retry count or time is used up: drop the batch and report it.
    GiveUp,
}

/// The retry state of one batch: how often it failed, since when, and when
/// the next try is due.
///
/// ```
/// use linewire::{Backoff, Retry, RetryPolicy};
///
/// let mut b = Backoff::new(RetryPolicy::new().max_retries(Some(1)));
/// let mut rnd = || 0u32;
/// assert_eq!(b.failed(0, None, &mut rnd), Retry::At(5_000));
/// assert_eq!(b.failed(5_000, Some(2), &mut rnd), Retry::GiveUp);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Backoff {
    policy: RetryPolicy,
    failures: u32,
    first_failure_ms: u64,
    next_try_ms: u64,
}

impl Backoff {
    /// No failure yet.
    ///
    /// ```
    /// const B: linewire::Backoff = linewire::Backoff::new(linewire::RetryPolicy::new());
    /// assert_eq!(B.retries(), 0);
    /// ```
    pub const fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
            first_failure_ms: 0,
            next_try_ms: 0,
        }
    }

    /// The policy.
    ///
    /// ```
    /// let b = linewire::Backoff::new(linewire::RetryPolicy::new());
    /// assert_eq!(b.policy().get_max_interval_ms(), 125_000);
    /// ```
    pub const fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Failures of the current batch so far (the number of retries
    /// scheduled).
    ///
    /// ```
    /// let mut b = linewire::Backoff::new(linewire::RetryPolicy::new());
    /// b.failed(0, None, &mut || 7u32);
    /// assert_eq!(b.retries(), 1);
    /// ```
    pub const fn retries(&self) -> u32 {
        self.failures
    }

    /// When the next try is due (`None` when nothing failed).
    ///
    /// ```
    /// let mut b = linewire::Backoff::new(linewire::RetryPolicy::new());
    /// assert_eq!(b.next_try(), None);
    /// b.failed(100, Some(2), &mut || 0u32);
    /// assert_eq!(b.next_try(), Some(2_100));
    /// ```
    pub const fn next_try(&self) -> Option<u64> {
        if self.failures == 0 {
            None
        } else {
            Some(self.next_try_ms)
        }
    }

    /// Whether a try may start at `now_ms`.
    ///
    /// ```
    /// let mut b = linewire::Backoff::new(linewire::RetryPolicy::new());
    /// assert!(b.ready(0));
    /// b.failed(0, Some(1), &mut || 0u32);
    /// assert!(!b.ready(999) && b.ready(1_000));
    /// ```
    pub const fn ready(&self, now_ms: u64) -> bool {
        self.failures == 0 || now_ms >= self.next_try_ms
    }

    /// Records a failed try at `now_ms`. `retry_after_secs` is the server's
    /// `Retry-After` in seconds, if it gave one; it replaces the backoff
    /// (capped). Returns when to retry, or [`Retry::GiveUp`] when the
    /// policy's retry count is used up or the retry would start later than
    /// its time limit after the first failure; then the state is reset for
    /// the next batch.
    ///
    /// ```
    /// use linewire::{Backoff, Retry, RetryPolicy};
    ///
    /// let mut b = Backoff::new(RetryPolicy::new());
    /// assert_eq!(b.failed(0, Some(30), &mut || 0u32), Retry::At(30_000));
    /// ```
    pub fn failed<R: Random + ?Sized>(
        &mut self,
        now_ms: u64,
        retry_after_secs: Option<u64>,
        random: &mut R,
    ) -> Retry {
        if self.failures == 0 {
            self.first_failure_ms = now_ms;
        }
        let retry = self.failures;
        if self.policy.max_retries.is_some_and(|max| retry >= max) {
            self.succeeded();
            return Retry::GiveUp;
        }
        let delay = match retry_after_secs.and_then(|s| self.policy.retry_after_ms(s)) {
            Some(ms) => ms,
            None => self.policy.backoff_ms(retry, random.next_u32()),
        };
        let at = now_ms.saturating_add(u64::from(delay));
        if let Some(max) = self.policy.max_elapsed_ms {
            if at.saturating_sub(self.first_failure_ms) > u64::from(max) {
                self.succeeded();
                return Retry::GiveUp;
            }
        }
        self.failures = retry.saturating_add(1);
        self.next_try_ms = at;
        Retry::At(at)
    }

    /// Forgets the failures: the batch went through (or was dropped).
    ///
    /// ```
    /// let mut b = linewire::Backoff::new(linewire::RetryPolicy::new());
    /// b.failed(0, None, &mut || 0u32);
    /// b.succeeded();
    /// assert!(b.ready(0));
    /// ```
    pub fn succeeded(&mut self) {
        self.failures = 0;
        self.first_failure_ms = 0;
        self.next_try_ms = 0;
    }
}
