//! The progress line on a terminal: lines written, lines per second,
//! bytes read, retries and the time spent waiting to retry.
//!
//! The run loop counts lines and bytes; the retries and waits are what the
//! delivery machine scheduled, told by the sender ([`note_retry`]).
//! Everything is in atomics so that a retry in the middle of a send (which
//! blocks) updates the line at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressStyle};

use crate::output::BAR;
use crate::report::thousands;

static WRITTEN: AtomicU64 = AtomicU64::new(0);
static READ_BYTES: AtomicU64 = AtomicU64::new(0);
static RETRIES: AtomicU64 = AtomicU64::new(0);
static WAITED_MS: AtomicU64 = AtomicU64::new(0);
/// The wait before the retry under way, in ms (0: none).
static WAITING_MS: AtomicU64 = AtomicU64::new(0);

/// What the progress line shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) written: u64,
    pub(crate) read_bytes: u64,
    /// The input's size, when known (plain files only).
    pub(crate) total_bytes: Option<u64>,
    pub(crate) elapsed: Duration,
    pub(crate) retries: u64,
    pub(crate) waited: Duration,
    /// Waiting this long before a retry now.
    pub(crate) waiting: Option<Duration>,
}

/// `12,000 lines written (4,000/s), 1.20 MiB of 3.00 MiB read, 2 retries
/// (waited 10.0 s)`.
pub(crate) fn describe(s: &Snapshot) -> String {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (s.written as f64 / secs).round() as u64
    } else {
        0
    };
    let mut out = format!(
        "{} {} written ({}/s), {}",
        thousands(s.written),
        if s.written == 1 { "line" } else { "lines" },
        thousands(rate),
        HumanBytes(s.read_bytes)
    );
    if let Some(total) = s.total_bytes.filter(|t| *t > 0) {
        let pct = (s.read_bytes.min(total) as f64 * 100.0 / total as f64).floor();
        out.push_str(&format!(" of {} read ({pct:.0} %)", HumanBytes(total)));
    } else {
        out.push_str(" read");
    }
    if s.retries > 0 {
        out.push_str(&format!(
            ", {} {} ({:.1} s of waits)",
            thousands(s.retries),
            if s.retries == 1 { "retry" } else { "retries" },
            s.waited.as_secs_f64()
        ));
    }
    if let Some(w) = s.waiting {
        out.push_str(&format!(", waiting {:.1} s to retry", w.as_secs_f64()));
    }
    out
}

/// The progress line of a run on a terminal.
#[derive(Debug)]
pub(crate) struct Progress {
    /// The last redraw for lines read.
    last: Option<Instant>,
}

impl Progress {
    /// Shows the progress line when standard error is a terminal.
    pub(crate) fn start(on_terminal: bool, total_bytes: Option<u64>) -> Self {
        if on_terminal {
            let bar = ProgressBar::new_spinner().with_style(
                ProgressStyle::with_template("{spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            let _ = BAR.set(bar);
        }
        let _ = STARTED.set((Instant::now(), total_bytes));
        refresh();
        Self { last: None }
    }

    /// Counts a line read (its bytes with the line feed).
    pub(crate) fn read(&mut self, bytes: usize) {
        READ_BYTES.fetch_add(bytes as u64, Ordering::Relaxed);
        if BAR.get().is_none() {
            return;
        }
        // At most ten redraws a second, whatever the line rate.
        let now = Instant::now();
        if self.last.map_or(true, |l| {
            now.duration_since(l) >= Duration::from_millis(100)
        }) {
            self.last = Some(now);
            refresh();
        }
    }

    /// Counts lines stored.
    pub(crate) fn written(&mut self, lines: u64) {
        WRITTEN.fetch_add(lines, Ordering::Relaxed);
        refresh();
    }

    /// A send returned: no wait is under way.
    pub(crate) fn sent(&mut self) {
        WAITING_MS.store(0, Ordering::Relaxed);
        refresh();
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = BAR.get() {
            bar.finish_and_clear();
        }
    }
}

/// When the run started, and the input's size when known.
static STARTED: std::sync::OnceLock<(Instant, Option<u64>)> = std::sync::OnceLock::new();

/// Redraws the progress line, if there is one.
fn refresh() {
    let (Some(bar), Some((started, total))) = (BAR.get(), STARTED.get()) else {
        return;
    };
    let waiting = WAITING_MS.load(Ordering::Relaxed);
    let s = Snapshot {
        written: WRITTEN.load(Ordering::Relaxed),
        read_bytes: READ_BYTES.load(Ordering::Relaxed),
        total_bytes: *total,
        elapsed: started.elapsed(),
        retries: RETRIES.load(Ordering::Relaxed),
        waited: Duration::from_millis(WAITED_MS.load(Ordering::Relaxed)),
        waiting: (waiting > 0).then(|| Duration::from_millis(waiting)),
    };
    bar.set_message(describe(&s));
}

/// Counts a retry the delivery scheduled, after `wait` (zero: a resend
/// at once on a new connection). Called by the sender in the middle of a
/// send, before the wait.
pub(crate) fn note_retry(wait: Duration) {
    RETRIES.fetch_add(1, Ordering::Relaxed);
    let ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    if ms > 0 {
        WAITED_MS.fetch_add(ms, Ordering::Relaxed);
        WAITING_MS.store(ms, Ordering::Relaxed);
    }
    refresh();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_lines_rate_bytes_retries_and_waits() {
        let s = Snapshot {
            written: 12_000,
            read_bytes: 1_258_292,
            total_bytes: Some(3 * 1024 * 1024),
            elapsed: Duration::from_secs(3),
            retries: 2,
            waited: Duration::from_millis(10_000),
            waiting: Some(Duration::from_millis(5_000)),
        };
        assert_eq!(
            describe(&s),
            "12,000 lines written (4,000/s), 1.20 MiB of 3.00 MiB read (40 %), 2 retries (10.0 s of waits), waiting 5.0 s to retry"
        );
        let stdin = Snapshot {
            written: 1,
            read_bytes: 10,
            elapsed: Duration::ZERO,
            ..Snapshot::default()
        };
        assert_eq!(describe(&stdin), "1 line written (0/s), 10 B read");
    }
}
