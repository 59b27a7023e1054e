//! Sending one batch of lines until it is settled: the core's retry policy
//! ([`Backoff`]) for 429/503/5xx/transport failures, 413 split in halves,
//! partial writes mapped back to the lines they rejected. Shared by the
//! background writer and the CLI.

use std::cell::OnceCell;
use std::ops::Range;
use std::time::Duration;

use linewire::http::{Action, Outcome};
use linewire::{Backoff, Retry, RetryPolicy, XorShift32};

use crate::client::{Client, Error, ServerError};
use crate::server_text::{for_display, DEFAULT_MAX_CHARS};
use crate::tls::TlsError;

/// A line and the caller's tag for it (a sequence or a line number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub(crate) tag: u64,
    pub(crate) text: String,
}

impl Line {
    /// A line with the caller's tag (a sequence or line number).
    pub fn new(tag: u64, text: String) -> Self {
        Self { tag, text }
    }

    /// The tag.
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// The line protocol text (without the line feed).
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// What kept failing until the retry policy gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Retried {
    /// Connecting, sending or reading failed before any answer: the server
    /// could not be reached.
    Unreachable,
    /// The server limited writes (429).
    Throttled,
    /// The server, or a proxy, was unavailable (503).
    Unavailable,
    /// The server failed (408, 500, 502, 504 or another 5xx): the status.
    ServerError(u16),
}

impl Retried {
    fn of(err: &Error) -> Self {
        match err.server() {
            Some(s) => match s.outcome {
                Outcome::Throttled { .. } => Self::Throttled,
                Outcome::Unavailable { .. } => Self::Unavailable,
                _ => Self::ServerError(s.status),
            },
            None => Self::Unreachable,
        }
    }
}

impl std::fmt::Display for Retried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable => f.write_str("the server could not be reached"),
            Self::Throttled => f.write_str("the server kept limiting writes (HTTP 429)"),
            Self::Unavailable => f.write_str("the server stayed unavailable (HTTP 503)"),
            Self::ServerError(status) => write!(f, "the server kept failing (HTTP {status})"),
        }
    }
}

/// The retry policy gave up on lines: what kept failing, how often it was
/// tried and how long was spent waiting between the tries.
///
/// ```
/// use linewire_std::writer::{GaveUp, Retried};
///
/// # fn show(g: &GaveUp) -> String {
/// format!("{} ({} tries)", g.kind, g.tries)
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GaveUp {
    /// What failed on the last try.
    pub kind: Retried,
    /// How many requests carried these lines.
    pub tries: u32,
    /// The time spent waiting between them.
    pub waited: Duration,
    /// The last error, as shown (server text through
    /// [`for_display`](crate::server_text::for_display)).
    pub last_error: String,
}

impl std::fmt::Display for GaveUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "gave up after {} tries and {:.1} s of waiting: {} (last error: {})",
            self.tries,
            self.waited.as_secs_f64(),
            self.kind,
            self.last_error
        )
    }
}

/// Why lines were not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// The server refused the data or the request (bad lines, a partial
    /// write, a line too large, 401/403/404, a redirect): the
    /// [`ServerError`] says which.
    Server(Box<ServerError>),
    /// The retry policy gave up: what kept failing, the tries and the time
    /// spent waiting.
    GaveUp(GaveUp),
    /// The request could not be made (no bucket, body over a limit).
    Config(String),
    /// The TLS handshake failed (the server's certificate did not verify):
    /// not retried, as every try would fail the same way.
    Tls(TlsError),
    /// Evicted from the full queue ([`Backpressure::DropOldest`](crate::Backpressure)).
    Overflow,
    /// Still queued or retrying when the close timeout ran out.
    Closed,
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Server(e) => write!(f, "{e}"),
            Self::GaveUp(g) => write!(f, "{g}"),
            Self::Config(e) => write!(f, "not sent, the configuration is unusable: {e}"),
            Self::Tls(e) => write!(f, "not sent: {e}"),
            Self::Overflow => f.write_str("dropped: the queue was full"),
            Self::Closed => f.write_str("not delivered before the close timeout"),
        }
    }
}

/// Lines that were not stored.
#[derive(Debug)]
pub struct Failed {
    /// The lines not stored (for a partial write: the rejected ones when
    /// the server said which, else the whole request).
    pub lines: Vec<Line>,
    /// Per failed line, the server's reason when it gave one, as shown
    /// (through [`for_display`](crate::server_text::for_display), token
    /// redacted; the raw text is in the [`ServerError`]).
    pub reasons: Vec<Option<String>>,
    /// Lines of the same request the server stored anyway.
    pub written: usize,
    /// Lines of the same request the server counted rejected without
    /// naming them (`dropped=N` or a count beyond the lines it listed):
    /// not in [`lines`](Self::lines), not in [`written`](Self::written).
    pub unnamed: usize,
    /// Why.
    pub reason: FailureReason,
}

/// What became of (part of) a batch.
#[derive(Debug)]
pub enum Settled {
    /// This many lines were stored.
    Sent(usize),
    /// These were not.
    Failed(Failed),
}

/// Counters the delivery updates.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tries {
    pub(crate) requests: u64,
    pub(crate) retries: u64,
}

/// The delivery's clock, waits and random source.
pub(crate) struct Ctx<'a> {
    pub(crate) client: &'a Client,
    pub(crate) backoff: &'a mut Backoff,
    pub(crate) rng: &'a mut XorShift32,
    /// Milliseconds since some fixed start.
    pub(crate) now_ms: &'a dyn Fn() -> u64,
    /// Waits until the given time; `false` when the caller wants to stop
    /// (closing), and the batch is then failed as [`FailureReason::Closed`].
    pub(crate) wait_until: &'a mut dyn FnMut(u64) -> bool,
    pub(crate) tries: &'a mut Tries,
}

/// The tags of a [`Packed`]'s lines.
#[derive(Debug)]
enum Tags {
    /// Consecutive, from this one (the writer's sequence numbers).
    From(u64),
    /// One per line (the CLI's line numbers).
    Each(Vec<u64>),
}

/// How many `\n` bytes `bytes` holds (counted in blocks the compiler
/// vectorizes).
pub(crate) fn count_newlines(bytes: &[u8]) -> usize {
    bytes
        .chunks(128)
        .map(|block| {
            usize::from(
                block
                    .iter()
                    .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n'))),
            )
        })
        .sum()
}

/// The length of the first `n` lines of `parts` (one byte string in up to
/// two pieces) when every line ends at a `\n`: the offset just past the
/// `n`th `\n`, or everything when there are fewer.
pub(crate) fn lines_len(parts: [&[u8]; 2], n: usize) -> usize {
    let mut left = n;
    let mut offset = 0usize;
    if left == 0 {
        return 0;
    }
    for part in parts {
        for block in part.chunks(128) {
            let c = count_newlines(block);
            if c < left {
                left -= c;
                offset += block.len();
                continue;
            }
            for (i, &b) in block.iter().enumerate() {
                if b == b'\n' {
                    left -= 1;
                    if left == 0 {
                        return offset + i + 1;
                    }
                }
            }
        }
    }
    offset
}

/// Lines packed into one buffer, each followed by `\n`: a request body is
/// a slice of it, and a 413 split only splits the range of lines. Line
/// boundaries are given, or (when no line holds a raw newline in a string
/// field) found at each `\n` when first needed: a batch that goes through
/// whole never looks for them.
#[derive(Debug)]
pub(crate) struct Packed {
    bytes: Vec<u8>,
    count: usize,
    /// The offset just past each line's `\n`.
    ends: OnceCell<Vec<usize>>,
    tags: Tags,
}

impl Packed {
    /// `count` lines tagged `first`, `first + 1`, ...: `bytes` holds them,
    /// each followed by `\n`; `ends`, the offset just past each line's
    /// `\n`, or `None` when every line ends at a `\n`.
    pub(crate) fn new(bytes: Vec<u8>, count: usize, ends: Option<Vec<usize>>, first: u64) -> Self {
        Self {
            bytes,
            count,
            ends: ends.map_or_else(OnceCell::new, OnceCell::from),
            tags: Tags::From(first),
        }
    }

    /// Packs owned lines (one copy), keeping their tags.
    pub(crate) fn from_lines(lines: &[Line]) -> Self {
        let len = lines.iter().map(|l| l.text.len() + 1).sum();
        let mut bytes = Vec::with_capacity(len);
        let mut ends = Vec::with_capacity(lines.len());
        for l in lines {
            bytes.extend_from_slice(l.text.as_bytes());
            bytes.push(b'\n');
            ends.push(bytes.len());
        }
        Self {
            bytes,
            count: lines.len(),
            ends: OnceCell::from(ends),
            tags: Tags::Each(lines.iter().map(|l| l.tag).collect()),
        }
    }

    /// How many lines.
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    fn ends(&self) -> &[usize] {
        self.ends.get_or_init(|| {
            let mut ends = Vec::with_capacity(self.count);
            ends.extend(
                self.bytes
                    .iter()
                    .enumerate()
                    .filter(|(_, &b)| b == b'\n')
                    .map(|(i, _)| i + 1),
            );
            ends
        })
    }

    /// Where line `i` starts.
    fn start(&self, i: usize) -> usize {
        match i.checked_sub(1) {
            Some(prev) => self.ends().get(prev).copied().unwrap_or(self.bytes.len()),
            None => 0,
        }
    }

    /// The body of lines `range` (each with its `\n`).
    pub(crate) fn body(&self, range: &Range<usize>) -> &[u8] {
        if range.start == 0 && range.end >= self.count {
            return &self.bytes;
        }
        let end = match range.end.checked_sub(1) {
            Some(last) if range.end > range.start => {
                self.ends().get(last).copied().unwrap_or(self.bytes.len())
            }
            _ => return &[],
        };
        self.bytes
            .get(self.start(range.start)..end)
            .unwrap_or_default()
    }

    /// The text of line `i`, without its `\n`.
    fn text(&self, i: usize) -> &[u8] {
        let end = self.ends().get(i).map_or(0, |e| e.saturating_sub(1));
        self.bytes.get(self.start(i)..end).unwrap_or_default()
    }

    fn tag(&self, i: usize) -> u64 {
        match &self.tags {
            Tags::From(first) => first.saturating_add(i as u64),
            Tags::Each(tags) => tags.get(i).copied().unwrap_or_default(),
        }
    }

    /// Line `i`, owned (for a failure report).
    fn line(&self, i: usize) -> Line {
        Line {
            tag: self.tag(i),
            text: String::from_utf8_lossy(self.text(i)).into_owned(),
        }
    }

    /// Every line's text, owned (for a failure report).
    pub(crate) fn texts(&self) -> Vec<String> {
        (0..self.len())
            .map(|i| String::from_utf8_lossy(self.text(i)).into_owned())
            .collect()
    }

    /// Lines `range`, owned.
    fn lines(&self, range: Range<usize>) -> Vec<Line> {
        range.map(|i| self.line(i)).collect()
    }
}

/// Unix seconds as [`linewire::http::RetryAfter::delay_secs`] takes them (`u32`,
/// saturating in 2106).
fn unix_now() -> Option<u32> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// Sends `lines` until every line is stored or failed; `on` hears of each
/// settled part.
///
/// `compressed`, when given, is the gzip member of the whole batch, sent
/// by the first request (a retry or a split half is compressed again).
pub(crate) fn deliver(
    ctx: &mut Ctx<'_>,
    lines: &Packed,
    mut compressed: Option<Vec<u8>>,
    on: &mut dyn FnMut(Settled),
) {
    let mut pending: Vec<Range<usize>> = Vec::with_capacity(8);
    pending.push(0..lines.len());
    while let Some(piece) = pending.pop() {
        if piece.is_empty() {
            continue;
        }
        // Of this piece: requests made and milliseconds waited between them.
        let mut attempts = 0u32;
        let mut waited_ms = 0u64;
        loop {
            ctx.tries.requests = ctx.tries.requests.saturating_add(1);
            attempts = attempts.saturating_add(1);
            let result = match compressed.take() {
                Some(gz) => ctx.client.write_body_compressed(lines.body(&piece), &gz),
                None => ctx.client.write_body(lines.body(&piece)),
            };
            let err = match result {
                Ok(_) => {
                    ctx.backoff.succeeded();
                    on(Settled::Sent(piece.len()));
                    break;
                }
                Err(e) => e,
            };
            let server = match &err {
                Error::Server(s) => Some(s),
                Error::Transport(_) => None,
                Error::Tls(t) => {
                    log::error!("not sending {} lines: {t}", piece.len());
                    ctx.backoff.succeeded();
                    on(Settled::Failed(failed_all(
                        lines,
                        piece,
                        FailureReason::Tls(t.clone()),
                    )));
                    break;
                }
                Error::Config(m) => {
                    log::error!("not sending {} lines: {m}", piece.len());
                    ctx.backoff.succeeded();
                    on(Settled::Failed(failed_all(
                        lines,
                        piece,
                        FailureReason::Config(m.clone()),
                    )));
                    break;
                }
            };
            let action = server.map_or(Action::Retry, |s| s.action());
            match action {
                Action::Done => {
                    ctx.backoff.succeeded();
                    on(Settled::Sent(piece.len()));
                    break;
                }
                Action::Drop | Action::Stop => {
                    ctx.backoff.succeeded();
                    if let Some(s) = server {
                        on(Settled::Failed(refused(
                            lines,
                            piece,
                            s.clone(),
                            ctx.client.secret(),
                        )));
                    }
                    break;
                }
                Action::Split => {
                    ctx.backoff.succeeded();
                    if piece.len() < 2 {
                        log::error!("a single line is too large for the server: dropped");
                        if let Some(s) = server {
                            on(Settled::Failed(failed_all(
                                lines,
                                piece,
                                FailureReason::Server(s.clone()),
                            )));
                        }
                    } else {
                        let mid = piece.start + piece.len() / 2;
                        let (first, second) = (piece.start..mid, mid..piece.end);
                        log::warn!(
                            "413 for {} lines: splitting into {} + {}",
                            first.len() + second.len(),
                            first.len(),
                            second.len()
                        );
                        pending.push(second);
                        pending.push(first);
                    }
                    break;
                }
                // `Action` is non-exhaustive: anything new is retried.
                _ => {
                    let secs = server
                        .and_then(|s| s.retry_after)
                        .and_then(|r| r.delay_secs(unix_now()))
                        .map(u64::from);
                    let now = (ctx.now_ms)();
                    match ctx.backoff.failed(now, secs, ctx.rng) {
                        Retry::At(at) => {
                            ctx.tries.retries = ctx.tries.retries.saturating_add(1);
                            let wait = at.saturating_sub(now);
                            waited_ms = waited_ms.saturating_add(wait);
                            let told = match secs {
                                Some(s) => format!(" (the server asked for {s} s)"),
                                None => String::new(),
                            };
                            log::warn!(
                                "attempt {attempts} to write {} lines failed: {err}; \
                                 waiting {wait} ms{told} before retry {} (attempt {})",
                                piece.len(),
                                ctx.backoff.retries(),
                                attempts.saturating_add(1)
                            );
                            if !(ctx.wait_until)(at) {
                                ctx.backoff.succeeded();
                                on(Settled::Failed(failed_all(
                                    lines,
                                    piece,
                                    FailureReason::Closed,
                                )));
                                break;
                            }
                        }
                        // `Retry` is non-exhaustive: anything else gives up.
                        _ => {
                            let gave_up = GaveUp {
                                kind: Retried::of(&err),
                                tries: attempts,
                                waited: Duration::from_millis(waited_ms),
                                last_error: err.to_string(),
                            };
                            log::error!("{} lines not written: {gave_up}", piece.len());
                            on(Settled::Failed(failed_all(
                                lines,
                                piece,
                                FailureReason::GaveUp(gave_up),
                            )));
                            break;
                        }
                    }
                }
            }
        }
        if !pending.is_empty() && !(ctx.wait_until)(0) {
            for piece in pending.drain(..).rev() {
                on(Settled::Failed(failed_all(
                    lines,
                    piece,
                    FailureReason::Closed,
                )));
            }
        }
    }
}

fn failed_all(lines: &Packed, piece: Range<usize>, reason: FailureReason) -> Failed {
    Failed {
        reasons: vec![None; piece.len()],
        lines: lines.lines(piece),
        written: 0,
        unnamed: 0,
        reason,
    }
}

/// The lines a refusing answer is about. For a partial write, the
/// rejected lines when the server named them (the message's
/// `line N (1-based): reason` entries, `unable to parse '<line>': reason`
/// entries, or the core's list), else the whole request.
fn refused(
    lines: &Packed,
    piece: Range<usize>,
    err: Box<ServerError>,
    secret: Option<&str>,
) -> Failed {
    let partial = matches!(err.outcome, Outcome::PartiallyWritten(_));
    if partial || matches!(err.outcome, Outcome::Rejected) {
        let named: Vec<(usize, Option<String>)> = named_lines(lines, &piece, &err)
            .into_iter()
            .map(|(i, why)| (i, why.map(|w| for_display(w, secret, DEFAULT_MAX_CHARS))))
            .collect();
        if !named.is_empty() {
            let mut failed_lines = Vec::with_capacity(named.len());
            let mut reasons = Vec::with_capacity(named.len());
            // Which lines of the piece were named (for a whole-batch rejection).
            let mut is_named = vec![false; if partial { 0 } else { piece.len() }];
            for (idx, reason) in named {
                if idx < piece.len() {
                    failed_lines.push(lines.line(piece.start + idx));
                    reasons.push(reason);
                }
                if let Some(n) = is_named.get_mut(idx) {
                    *n = true;
                }
            }
            // 3 Core rejects the whole batch even when it names one line.
            // A partial write may count more rejected lines than it names
            // (`dropped=N`, a count beyond the lines listed): the larger
            // figure wins, so no unstored line is counted written.
            let (written, unnamed) = if partial {
                let counted = [err.rejected_count, err.dropped.unwrap_or(0)]
                    .into_iter()
                    .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                    .fold(failed_lines.len(), usize::max)
                    .min(piece.len());
                (piece.len() - counted, counted - failed_lines.len())
            } else {
                (0, 0)
            };
            let mut failed = Failed {
                lines: failed_lines,
                reasons,
                written,
                unnamed,
                reason: FailureReason::Server(err),
            };
            if !partial {
                // Whole batch rejected: every line failed, the named ones first.
                for (line, named) in piece.zip(is_named) {
                    if !named {
                        failed.lines.push(lines.line(line));
                        failed.reasons.push(None);
                    }
                }
            }
            return failed;
        }
    }
    failed_all(lines, piece, FailureReason::Server(err))
}

/// `(index in piece, reason)` of each line the server's answer names.
fn named_lines<'e>(
    lines: &Packed,
    piece: &Range<usize>,
    err: &'e ServerError,
) -> Vec<(usize, Option<&'e str>)> {
    let count = piece.len();
    let mut out: Vec<(usize, Option<&'e str>)> = Vec::new();
    let mut push = |idx: usize, reason: Option<&'e str>| {
        if idx < count && !out.iter().any(|(i, _)| *i == idx) {
            out.push((idx, reason));
        }
    };
    let texts = [err.message.as_deref(), err.detail.as_deref()];
    for text in texts.into_iter().flatten() {
        for entry in text.split('\n') {
            // Cloud Serverless and 3 Core: "error parsing line 3 (1-based):
            // reason", after words such as "line protocol parse failed:".
            let numbered = entry.match_indices("line ").find_map(|(pos, _)| {
                let rest = entry.get(pos + 5..)?;
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let n = digits.parse::<usize>().ok().filter(|n| *n >= 1)?;
                let reason = rest.get(digits.len()..)?.strip_prefix(" (1-based): ")?;
                Some((n - 1, reason))
            });
            if let Some((idx, reason)) = numbered {
                push(idx, Some(reason));
                continue;
            }
            // 2.x / 1.x: "unable to parse '<line>': reason"
            if let Some(pos) = entry.find("unable to parse '") {
                let rest = entry.get(pos + 17..).unwrap_or_default();
                if let Some(end) = rest.rfind("': ") {
                    let line = rest.get(..end).unwrap_or_default();
                    let reason = rest.get(end + 3..).unwrap_or_default();
                    let reason = reason.rsplit_once(" dropped=").map_or(reason, |(r, _)| r);
                    if let Some(idx) = piece.clone().position(|i| lines.text(i) == line.as_bytes())
                    {
                        push(idx, Some(reason));
                    }
                }
            }
        }
    }
    for n in &err.rejected_lines {
        if let Some(idx) = usize::try_from(*n).ok().and_then(|n| n.checked_sub(1)) {
            push(idx, None);
        }
    }
    out.sort_by_key(|(i, _)| *i);
    out
}

/// A synchronous sender: the retrying delivery with `thread::sleep` for the waits.
#[derive(Debug)]
pub struct Sender<'c> {
    client: &'c Client,
    backoff: Backoff,
    rng: XorShift32,
    start: std::time::Instant,
}

impl<'c> Sender<'c> {
    /// A sender through `client` with `policy`.
    pub fn new(client: &'c Client, policy: RetryPolicy) -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(7, |d| d.subsec_nanos());
        Self {
            client,
            backoff: Backoff::new(policy),
            rng: XorShift32::new(seed),
            start: std::time::Instant::now(),
        }
    }

    /// The longest wait a server's `Retry-After` may ask for (the core's
    /// [`RetryPolicy::max_retry_after_ms`], default 125 s); a longer one is
    /// cut to it.
    #[must_use]
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        let policy = self.backoff.policy().max_retry_after_ms(duration_ms(cap));
        self.backoff = Backoff::new(policy);
        self
    }

    /// Sends `lines` until each is stored or failed.
    pub fn send(&mut self, lines: Vec<Line>) -> Vec<Settled> {
        let start = self.start;
        let now_ms = move || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut wait_until = move |at: u64| {
            let now = now_ms();
            if at > now {
                std::thread::sleep(std::time::Duration::from_millis(at - now));
            }
            true
        };
        let mut tries = Tries::default();
        let mut ctx = Ctx {
            client: self.client,
            backoff: &mut self.backoff,
            rng: &mut self.rng,
            now_ms: &now_ms,
            wait_until: &mut wait_until,
            tries: &mut tries,
        };
        let mut out = Vec::new();
        deliver(&mut ctx, &Packed::from_lines(&lines), None, &mut |s| {
            out.push(s)
        });
        out
    }
}

/// Whole milliseconds, saturating at `u32::MAX` (49 days).
pub(crate) fn duration_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}
