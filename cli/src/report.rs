//! What a run reports: lines not stored, grouped by message, and the summary.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::output::say;

/// The most distinct messages reported; lines with further messages are
/// only counted.
pub(crate) const MAX_MESSAGES: usize = 10;

/// The most line ranges listed per message; further lines are counted.
pub(crate) const MAX_RANGES: usize = 8;

/// A partial write naming this many bad lines may have rejected more
/// (InfluxDB Cloud Serverless lists the first 100).
pub(crate) const SERVER_LIST_CAP: usize = 100;

/// of the others.
#[derive(Debug, Default)]
pub(crate) struct LineSet {
    pub(crate) ranges: Vec<(u64, u64)>,
    pub(crate) count: u64,
}

impl LineSet {
    /// Adds `n` (callers add in increasing order).
    pub(crate) fn add(&mut self, n: u64) {
        self.count += 1;
        if let Some(last) = self.ranges.last_mut() {
            if n == last.1.saturating_add(1) {
                last.1 = n;
                return;
            }
        }
        if self.ranges.len() < MAX_RANGES {
            self.ranges.push((n, n));
        }
    }

    /// `line 7`, `lines 1-5000`, `lines 4, 7, 10-12 and 4,990 more`; with
    /// more than one source `names` (the lines are [`crate::input::tag`]s),
    /// `a.lp lines 4, 7; b.lp line 2`.
    pub(crate) fn describe_in(&self, names: &[String]) -> String {
        if names.len() <= 1 {
            return self.describe();
        }
        let mut s = String::new();
        let mut current: Option<usize> = None;
        let mut i = 0;
        while let Some(&(a, _)) = self.ranges.get(i) {
            let (source, _) = crate::input::untag(a);
            let same: Vec<(u64, u64)> = self
                .ranges
                .get(i..)
                .unwrap_or_default()
                .iter()
                .take_while(|(x, _)| crate::input::untag(*x).0 == source)
                .map(|&(x, y)| (crate::input::untag(x).1, crate::input::untag(y).1))
                .collect();
            i += same.len().max(1);
            if current.is_some() {
                s.push_str("; ");
            }
            current = Some(source);
            let name = names.get(source).map_or("input", String::as_str);
            let lines: u64 = same.iter().map(|(a, b)| b - a + 1).sum();
            let _ = write!(s, "{name} {}", if lines == 1 { "line " } else { "lines " });
            for (j, (a, b)) in same.iter().enumerate() {
                if j > 0 {
                    s.push_str(", ");
                }
                if a == b {
                    let _ = write!(s, "{a}");
                } else {
                    let _ = write!(s, "{a}-{b}");
                }
            }
        }
        let listed: u64 = self.ranges.iter().map(|(a, b)| b - a + 1).sum();
        let more = self.count.saturating_sub(listed);
        if more > 0 {
            let _ = write!(s, " and {} more", thousands(more));
        }
        s
    }

    /// `line 7`, `lines 1-5000`, `lines 4, 7, 10-12 and 4,990 more`.
    pub(crate) fn describe(&self) -> String {
        let mut s = String::from(if self.count == 1 { "line " } else { "lines " });
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            if a == b {
                let _ = write!(s, "{a}");
            } else {
                let _ = write!(s, "{a}-{b}");
            }
        }
        let listed: u64 = self.ranges.iter().map(|(a, b)| b - a + 1).sum();
        let more = self.count.saturating_sub(listed);
        if more > 0 {
            let _ = write!(s, " and {} more", thousands(more));
        }
        s
    }
}

/// `4990` as `4,990`.
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What became of the lines a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Refused by the server (or not valid UTF-8): resending will not help.
    Rejected,
    /// Found invalid by `--dry-run`.
    Invalid,
    /// Never stored: the request failed or the run stopped.
    NotSent,
}

impl Fate {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Invalid => "invalid",
            Self::NotSent => "not sent",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) fate: Fate,
    /// Display-safe and bounded.
    pub(crate) message: String,
    pub(crate) lines: LineSet,
}

/// Every line not stored, grouped by message: each distinct message is
/// printed once, with the line numbers it applies to. At most
/// [`MAX_MESSAGES`] messages and [`MAX_RANGES`] ranges per message are
/// kept, so the report is bounded whatever the server says.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) groups: Vec<Group>,
    /// How many lines had a message that was not kept.
    pub(crate) other: u64,
    /// The sources' display names, when there is more than one: line
    /// numbers are then [`crate::input::tag`]s and are shown with them.
    pub(crate) sources: Vec<String>,
}

impl Report {
    /// Adds lines (in increasing order) with a display-safe `message`.
    pub(crate) fn add(&mut self, fate: Fate, message: &str, lines: impl IntoIterator<Item = u64>) {
        let idx = match self
            .groups
            .iter()
            .position(|g| g.fate == fate && g.message == message)
        {
            Some(i) => Some(i),
            None if self.groups.len() < MAX_MESSAGES => {
                self.groups.push(Group {
                    fate,
                    message: message.to_owned(),
                    lines: LineSet::default(),
                });
                Some(self.groups.len() - 1)
            }
            None => None,
        };
        match idx.and_then(|i| self.groups.get_mut(i)) {
            Some(g) => lines.into_iter().for_each(|n| g.lines.add(n)),
            None => self.other += lines.into_iter().count() as u64,
        }
    }

    pub(crate) fn print(&self) {
        for g in &self.groups {
            say(&format!(
                "{}: {}: {}",
                g.lines.describe_in(&self.sources),
                g.fate.word(),
                g.message
            ));
        }
        if self.other > 0 {
            say(&format!(
                "{} more {} not stored for other reasons (not shown)",
                thousands(self.other),
                if self.other == 1 { "line" } else { "lines" }
            ));
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub(crate) lines: u64,
    pub(crate) written: u64,
    pub(crate) rejected: u64,
    pub(crate) not_sent: u64,
    /// Rejected lines the server counted but did not name (in `rejected`).
    pub(crate) unnamed: u64,
    /// Lines counted written from requests whose list of bad lines may
    /// have been cut by the server.
    pub(crate) unsure: u64,
    /// Why the run stopped before the end of the input, and what to do.
    pub(crate) stopped: Option<String>,
    /// The run stopped with input left unread: the last line read.
    pub(crate) unread_after: Option<u64>,
    /// Reading the input failed.
    pub(crate) read_error: Option<String>,
    pub(crate) dry_run: bool,
}

impl Summary {
    pub(crate) fn exit_code(&self) -> ExitCode {
        if self.read_error.is_some() {
            return ExitCode::from(2);
        }
        let complete = if self.dry_run {
            self.rejected == 0
        } else {
            self.written >= self.lines
                && self.rejected == 0
                && self.not_sent == 0
                && self.stopped.is_none()
        };
        if complete {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}
