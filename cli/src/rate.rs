//! `--rate-limit`: the most line protocol bytes sent per period.
//!
//! The syntax is influx write's: `COUNT UNIT [/] [N] PERIOD`, spaces
//! ignored, e.g. `1MB/s`, `100kB/s`, `5MB/5min`, `0.5MB/s`. Units are
//! bytes, as influx counts them, in powers of 1024: `B`, `kB`/`KB`/`KiB`,
//! `MB`/`MiB`, `GB`/`GiB` (case ignored: never bits); periods are `s`,
//! `sec`, `m`, `min`, `h`. influx accepts `B`, `kB` and `MB` with `s`,
//! `sec`, `m` and `min`; every one of its limits means the same here.
//!
//! The limit paces batches: a batch of `n` bytes (its lines and line
//! feeds, before compression) is sent when its turn comes, and the next
//! one's turn is `n / rate` seconds later. A batch larger than the budget
//! still goes whole; the next waits longer. Retries of a batch are not
//! counted again.

use std::fmt;
use std::time::{Duration, Instant};

/// A parsed rate limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rate {
    pub(crate) bytes_per_sec: f64,
}

/// What is wrong with a `--rate-limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum RateError {
    /// Not `COUNT UNIT / [N] PERIOD`.
    Syntax,
    /// The count or the period is zero (or not a finite number).
    NotPositive,
}

impl fmt::Display for RateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax => f.write_str(
                "expected COUNT UNIT/[N]PERIOD such as 1MB/s, 100kB/s or 5MB/5min \
                 (units B, kB, MB, GB; periods s, sec, m, min, h)",
            ),
            Self::NotPositive => f.write_str("the count and the period must be more than 0"),
        }
    }
}

impl std::error::Error for RateError {}

/// Parses `5MB/5min` (see the module documentation).
pub(crate) fn parse_rate(text: &str) -> Result<Rate, RateError> {
    let s: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let s = s.to_ascii_lowercase();
    let num_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or(RateError::Syntax)?;
    let (count, rest) = s.split_at(num_end);
    let count: f64 = count.parse().map_err(|_| RateError::Syntax)?;
    let unit_end = rest
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_end);
    let unit: f64 = match unit {
        "b" => 1.0,
        "kb" | "kib" => 1024.0,
        "mb" | "mib" => 1024.0 * 1024.0,
        "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        // influx takes `5MB5min` (no slash) and `17kBs`: a unit glued to
        // its period.
        _ => return glued(count, unit, rest),
    };
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    period(count * unit, rest)
}

/// `17kbs`: the byte unit and the period in one word.
fn glued(count: f64, word: &str, rest: &str) -> Result<Rate, RateError> {
    if !rest.is_empty() {
        return Err(RateError::Syntax);
    }
    for (unit, mult) in [
        ("kib", 1024.0),
        ("mib", 1024.0 * 1024.0),
        ("gib", 1024.0 * 1024.0 * 1024.0),
        ("kb", 1024.0),
        ("mb", 1024.0 * 1024.0),
        ("gb", 1024.0 * 1024.0 * 1024.0),
        ("b", 1.0),
    ] {
        if let Some(p) = word.strip_prefix(unit) {
            return period(count * mult, p);
        }
    }
    Err(RateError::Syntax)
}

/// `5min`, `s`, `2h` after the byte count.
fn period(bytes: f64, text: &str) -> Result<Rate, RateError> {
    let num_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or(RateError::Syntax)?;
    let (n, unit) = text.split_at(num_end);
    let n: f64 = if n.is_empty() {
        1.0
    } else {
        n.parse().map_err(|_| RateError::Syntax)?
    };
    let secs = match unit {
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(RateError::Syntax),
    };
    let bytes_per_sec = bytes / (n * secs);
    if bytes > 0.0 && n > 0.0 && bytes_per_sec.is_finite() && bytes_per_sec > 0.0 {
        Ok(Rate { bytes_per_sec })
    } else {
        Err(RateError::NotPositive)
    }
}

/// Paces sends to a [`Rate`].
#[derive(Debug)]
pub(crate) struct Pacer {
    rate: Rate,
    /// When the next batch may go.
    next: Option<Instant>,
}

impl Pacer {
    pub(crate) fn new(rate: Rate) -> Self {
        Self { rate, next: None }
    }

    /// How long a batch of `bytes` must wait before it is sent, as of
    /// `now`; books its share of the budget.
    pub(crate) fn delay(&mut self, bytes: usize, now: Instant) -> Duration {
        let start = self.next.map_or(now, |n| n.max(now));
        let wait = start.saturating_duration_since(now);
        // At most a year per batch: a share too large for an `Instant` must
        // not turn into no limit at all.
        let year = Duration::from_secs(365 * 86_400);
        let share = Duration::try_from_secs_f64(bytes as f64 / self.rate.bytes_per_sec)
            .unwrap_or(year)
            .min(year);
        self.next = start.checked_add(share).or(Some(start));
        wait
    }

    /// Sleeps until a batch of `bytes` may be sent.
    pub(crate) fn wait(&mut self, bytes: usize) {
        let d = self.delay(bytes, Instant::now());
        if !d.is_zero() {
            std::thread::sleep(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bps(s: &str) -> f64 {
        parse_rate(s).unwrap().bytes_per_sec
    }

    #[test]
    fn influx_syntax() {
        assert_eq!(bps("1MB/s"), 1_048_576.0);
        assert_eq!(bps("100kB/s"), 102_400.0);
        assert_eq!(bps("100KB/sec"), 102_400.0);
        assert_eq!(bps("5MB/5min"), 5.0 * 1_048_576.0 / 300.0);
        assert_eq!(bps("5 MB / 5 min"), 5.0 * 1_048_576.0 / 300.0);
        assert_eq!(bps("5.1MB5m"), 5.1 * 1_048_576.0 / 300.0);
        assert_eq!(bps("17kBs"), 17.0 * 1024.0);
        assert_eq!(bps("2GB/h"), 2.0 * 1_073_741_824.0 / 3600.0);
        assert_eq!(bps("300B/m"), 5.0);
        assert_eq!(bps("1MiB/s"), 1_048_576.0);
    }

    #[test]
    fn bad_specs() {
        for bad in [
            "", "MB/s", "1MB", "1MB/", "1XB/s", "1MB/s/s", "1MB/day", "1..2MB/s", "-1MB/s",
        ] {
            assert_eq!(parse_rate(bad), Err(RateError::Syntax), "{bad}");
        }
        assert_eq!(parse_rate("0MB/s"), Err(RateError::NotPositive));
        assert_eq!(parse_rate("1MB/0s"), Err(RateError::NotPositive));
    }

    /// Every short string over the syntax's characters parses or fails
    /// cleanly, and a parsed rate is positive and finite.
    #[test]
    fn no_input_panics() {
        let alphabet: Vec<char> = "0159./ sSbBkKmMgGiIhn€".chars().collect();
        let mut text = String::new();
        let n = alphabet.len();
        for i in 0..n * n * n * n {
            text.clear();
            let mut k = i;
            for _ in 0..4 {
                text.push(alphabet[k % n]);
                k /= n;
            }
            if let Ok(r) = parse_rate(&text) {
                assert!(
                    r.bytes_per_sec.is_finite() && r.bytes_per_sec > 0.0,
                    "{text}"
                );
            }
        }
    }

    #[test]
    fn a_tiny_rate_still_limits() {
        let mut p = Pacer::new(Rate {
            bytes_per_sec: f64::MIN_POSITIVE,
        });
        let t0 = Instant::now();
        assert_eq!(p.delay(1, t0), Duration::ZERO);
        assert!(p.delay(1, t0) >= Duration::from_secs(86_400));
    }

    #[test]
    fn batches_are_paced_and_a_large_one_still_goes() {
        let mut p = Pacer::new(Rate {
            bytes_per_sec: 100.0,
        });
        let t0 = Instant::now();
        assert_eq!(p.delay(1000, t0), Duration::ZERO, "the first goes at once");
        assert_eq!(p.delay(50, t0), Duration::from_secs(10));
        assert_eq!(
            p.delay(50, t0 + Duration::from_secs(20)),
            Duration::ZERO,
            "idle time is not saved up beyond the next turn"
        );
    }
}
