//! Sending one batch of lines until it is settled: the core's retry policy
//! ([`Backoff`]) for 429/503/5xx/transport failures, 413 split in halves,
//! partial writes mapped back to the lines they rejected. Shared by the
//! background writer and the CLI.

use linewire::http::{Action, Outcome};
use linewire::{Backoff, Retry, XorShift32};

use crate::client::{Client, Error, ServerError};

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

/// Why lines were not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureReason {
    /// The server refused the data or the request (bad lines, a partial
    /// write, a line too large, 401/403/404): the [`ServerError`] says
    /// which.
    Server(Box<ServerError>),
    /// The retry policy gave up; the last error, as text.
    GaveUp(String),
    /// The request could not be made (no bucket, body over a limit).
    Config(String),
    /// Evicted from the full queue ([`Backpressure::DropOldest`](crate::Backpressure)).
    Overflow,
    /// Still queued or retrying when the close timeout ran out.
    Closed,
}

impl std::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Server(e) => write!(f, "{e}"),
            Self::GaveUp(e) => write!(f, "gave up retrying: {e}"),
            Self::Config(e) => write!(f, "configuration: {e}"),
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
    /// Per failed line, the server's reason when it gave one.
    pub reasons: Vec<Option<String>>,
    /// Lines of the same request the server stored anyway.
    pub written: usize,
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

fn body_of(lines: &[Line]) -> String {
    let len = lines.iter().map(|l| l.text.len() + 1).sum();
    let mut body = String::with_capacity(len);
    for l in lines {
        body.push_str(&l.text);
        body.push('\n');
    }
    body
}

fn unix_now() -> Option<u64> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Sends `lines` until every line is stored or failed; `on` hears of each
/// settled part.
pub(crate) fn deliver(ctx: &mut Ctx<'_>, lines: Vec<Line>, on: &mut dyn FnMut(Settled)) {
    let mut pending = vec![lines];
    while let Some(piece) = pending.pop() {
        if piece.is_empty() {
            continue;
        }
        loop {
            let body = body_of(&piece);
            ctx.tries.requests = ctx.tries.requests.saturating_add(1);
            let result = ctx.client.write_line_protocol(&body);
            drop(body);
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
                Error::Config(m) => {
                    log::error!("not sending {} lines: {m}", piece.len());
                    ctx.backoff.succeeded();
                    on(Settled::Failed(failed_all(
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
                        on(Settled::Failed(refused(piece, s.clone())));
                    }
                    break;
                }
                Action::Split => {
                    ctx.backoff.succeeded();
                    if piece.len() < 2 {
                        log::error!("a single line is too large for the server: dropped");
                        if let Some(s) = server {
                            on(Settled::Failed(failed_all(
                                piece,
                                FailureReason::Server(s.clone()),
                            )));
                        }
                    } else {
                        let mut first = piece;
                        let second = first.split_off(first.len() / 2);
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
                        .and_then(|r| r.delay_secs(unix_now()));
                    let now = (ctx.now_ms)();
                    match ctx.backoff.failed(now, secs, ctx.rng) {
                        Retry::At(at) => {
                            ctx.tries.retries = ctx.tries.retries.saturating_add(1);
                            log::warn!(
                                "write of {} lines failed ({err}); retry {} in {} ms",
                                piece.len(),
                                ctx.backoff.retries(),
                                at.saturating_sub(now)
                            );
                            if !(ctx.wait_until)(at) {
                                ctx.backoff.succeeded();
                                on(Settled::Failed(failed_all(piece, FailureReason::Closed)));
                                break;
                            }
                        }
                        // `Retry` is non-exhaustive: anything else gives up.
                        _ => {
                            log::error!("giving up on {} lines: {err}", piece.len());
                            on(Settled::Failed(failed_all(
                                piece,
                                FailureReason::GaveUp(err.to_string()),
                            )));
                            break;
                        }
                    }
                }
            }
        }
        if !pending.is_empty() && !(ctx.wait_until)(0) {
            for piece in pending.drain(..).rev() {
                on(Settled::Failed(failed_all(piece, FailureReason::Closed)));
            }
        }
    }
}

pub(crate) fn failed_all(lines: Vec<Line>, reason: FailureReason) -> Failed {
    Failed {
        reasons: vec![None; lines.len()],
        lines,
        written: 0,
        reason,
    }
}

/// The lines a refusing answer is about. For a partial write, the
/// rejected lines when the server named them (the message's
/// `line N (1-based): reason` entries, `unable to parse '<line>': reason`
/// entries, or the core's list), else the whole request.
fn refused(piece: Vec<Line>, err: Box<ServerError>) -> Failed {
    let partial = matches!(err.outcome, Outcome::PartiallyWritten(_));
    if partial || matches!(err.outcome, Outcome::Rejected) {
        let named = named_lines(&piece, &err);
        if !named.is_empty() {
            let mut lines = Vec::with_capacity(named.len());
            let mut reasons = Vec::with_capacity(named.len());
            for (idx, reason) in &named {
                if let Some(l) = piece.get(*idx) {
                    lines.push(l.clone());
                    reasons.push(reason.clone());
                }
            }
            // 3 Core rejects the whole batch even when it names one line.
            let written = if partial {
                piece.len().saturating_sub(lines.len())
            } else {
                0
            };
            let mut failed = Failed {
                lines,
                reasons,
                written,
                reason: FailureReason::Server(err),
            };
            if !partial {
                // Whole batch rejected: every line failed, the named ones first.
                let named_idx: Vec<usize> = named.iter().map(|(i, _)| *i).collect();
                for (i, l) in piece.into_iter().enumerate() {
                    if !named_idx.contains(&i) {
                        failed.lines.push(l);
                        failed.reasons.push(None);
                    }
                }
            }
            return failed;
        }
    }
    failed_all(piece, FailureReason::Server(err))
}

/// `(index in piece, reason)` of each line the server's answer names.
fn named_lines(piece: &[Line], err: &ServerError) -> Vec<(usize, Option<String>)> {
    let mut out: Vec<(usize, Option<String>)> = Vec::new();
    let mut push = |idx: usize, reason: Option<String>| {
        if idx < piece.len() && !out.iter().any(|(i, _)| *i == idx) {
            out.push((idx, reason));
        }
    };
    let texts = [err.message.as_deref(), err.detail.as_deref()];
    for text in texts.into_iter().flatten() {
        for entry in text.split('\n') {
            // Cloud Serverless: "error parsing line 3 (1-based): reason"
            if let Some(pos) = entry.find("line ") {
                let rest = entry.get(pos + 5..).unwrap_or_default();
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let (Ok(n), Some(reason)) = (
                    digits.parse::<usize>(),
                    rest.get(digits.len()..)
                        .and_then(|r| r.strip_prefix(" (1-based): ")),
                ) {
                    if n >= 1 {
                        push(n - 1, Some(reason.to_owned()));
                        continue;
                    }
                }
            }
            // 2.x / 1.x: "unable to parse '<line>': reason"
            if let Some(pos) = entry.find("unable to parse '") {
                let rest = entry.get(pos + 17..).unwrap_or_default();
                if let Some(end) = rest.rfind("': ") {
                    let line = rest.get(..end).unwrap_or_default();
                    let reason = rest.get(end + 3..).unwrap_or_default();
                    let reason = reason
                        .rsplit_once(" dropped=")
                        .map_or(reason, |(r, _)| r)
                        .to_owned();
                    if let Some(idx) = piece.iter().position(|l| l.text == line) {
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
    pub fn new(client: &'c Client, policy: linewire::RetryPolicy) -> Self {
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
        deliver(&mut ctx, lines, &mut |s| out.push(s));
        out
    }
}
