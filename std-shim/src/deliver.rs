//! The std driver of the core's delivery machine ([`Delivery`]), shared by
//! the background writer and the CLI: it turns the machine's
//! [`Next::Send`] into a request through the [`Client`] and the result
//! into a [`Completion`], and reports what the machine decided (the lines
//! stored, the lines lost and why). What a status means, when to retry,
//! wait or give up, the 413 split, partial-write accounting, the resend
//! after a stale connection and misconfigured requests are the machine's
//! decisions, not this module's.

use std::time::Duration;

use linewire::http::{Outcome, TransportError, WriteError};
use linewire::{
    BoxedQueue, Completion, Delivery, Event, LastError, Lines, Next, OnMisconfigured, Precision,
    RetryPolicy, XorShift32,
};

use crate::client::{closed_before_answer, Client, Error, ServerError, Written};
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
    /// Evicted from the full queue ([`Backpressure::DropOldest`](crate::Backpressure));
    /// lines evicted while being sent, only once their request did not
    /// store them.
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

/// The machine over a boxed queue, as linewire-std runs it.
pub(crate) type Machine = Delivery<Box<[u8]>, XorShift32>;

/// A machine with a queue of `capacity` bytes for `precision`, retrying
/// under `policy`, dropping (and reporting) misconfigured batches as the
/// Go and Python clients do, and never blocking a push itself: the driver
/// applies its back-pressure policy when the queue is full.
pub(crate) fn machine(capacity: usize, precision: Precision, policy: RetryPolicy) -> Machine {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.subsec_nanos() ^ (std::process::id() << 16));
    let mut m = Delivery::new(
        BoxedQueue::with_capacity(capacity.max(1), precision),
        policy,
        XorShift32::new(seed),
    );
    m.set_on_misconfigured(OnMisconfigured::Drop);
    m.set_overflow(linewire::Overflow::Block);
    m
}

/// A batch the machine handed out, copied out of it so that it can be
/// sent without holding the machine.
#[derive(Debug)]
pub(crate) struct Request {
    /// The lines, each ending in `\n`.
    pub(crate) body: Vec<u8>,
    pub(crate) lines: usize,
    /// The sequence number of the first line (see [`Next::Send`]).
    pub(crate) first: u64,
    /// The body's gzip member, compressed ahead.
    pub(crate) gz: Option<Vec<u8>>,
}

impl Request {
    /// The request for `next`, when it is one.
    pub(crate) fn of(next: &Next<'_>) -> Option<Self> {
        match *next {
            Next::Send {
                body, lines, first, ..
            } => Some(Self {
                body: body.to_vec(),
                lines,
                first,
                gz: None,
            }),
            _ => None,
        }
    }

    /// The texts of the lines, in order.
    fn texts(&self) -> Vec<&[u8]> {
        Lines::new(&self.body).collect()
    }
}

/// Unix seconds as [`linewire::http::RetryAfter::delay_secs`] takes them
/// (`u32`, saturating in 2106).
fn unix_now() -> Option<u32> {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

/// What the machine is told of a request's result. `pooled`: the request
/// may have gone on a connection ureq kept from an earlier answer (the
/// exchange before it was answered, and it was not the resend on a new
/// connection).
fn completion(result: &Result<Written, Error>, pooled: bool) -> Completion<'_> {
    match result {
        Ok(w) => Completion::answered(w.status, Outcome::Written, ""),
        Err(Error::Server(s)) => Completion::Answered {
            status: s.status,
            outcome: s.outcome,
            message: s.message.as_deref().or(s.detail.as_deref()).unwrap_or(""),
            unix_now: unix_now(),
        },
        Err(Error::Transport(e)) => {
            // `ureq` does not say whether it took the connection from its
            // pool; a close before any answer after an answered exchange is
            // how a pooled connection the server dropped shows, so that is
            // told as a reused one. The core writer's rule: after a failure
            // there is nothing pooled, so a server that keeps closing gets
            // no free resends, only the backed-off tries.
            let closed = closed_before_answer(e);
            let error = if closed {
                TransportError::ClosedBeforeResponse
            } else {
                TransportError::Read(embedded_io::ErrorKind::Other)
            };
            Completion::Failed {
                error: LastError::Write(WriteError::Transport(error)),
                received: false,
                reused: closed && pooled,
            }
        }
        Err(Error::Tls(_) | Error::Config(_)) => Completion::Misconfigured {
            error: LastError::Connect,
        },
    }
}

/// The driver's memory of the batch at the front between its tries, for
/// reporting (how often it was tried, how long was waited) and for the
/// next request's connection.
#[derive(Debug, Default)]
pub(crate) struct Driver {
    tries: u32,
    waited_ms: u64,
    /// The next request goes on a new connection after one closed before
    /// any answer: it asks `Expect: 100-continue`.
    fresh: bool,
    /// The last exchange was answered (ureq may have kept its connection).
    answered: bool,
}

impl Driver {
    /// Sends `req` through `client`.
    pub(crate) fn send(&self, client: &Client, req: &Request) -> Result<Written, Error> {
        client.write_once(&req.body, req.gz.as_deref(), self.fresh)
    }

    /// Tells `machine` the result of `req` at `now_ms`, and reports what
    /// became of its lines (tagged with their sequence numbers).
    pub(crate) fn complete(
        &mut self,
        machine: &mut Machine,
        now_ms: u64,
        req: &Request,
        result: &Result<Written, Error>,
        secret: Option<&str>,
    ) -> (Event, Option<Settled>) {
        let done = completion(result, self.answered && !self.fresh);
        self.answered = matches!(result, Ok(_) | Err(Error::Server(_)));
        // The machine resends at once after a stale connection: the next
        // request goes on a new connection.
        let stale = matches!(done, Completion::Failed { reused: true, .. });
        self.tries = self.tries.saturating_add(1);
        let event = machine.complete(now_ms, done);
        self.fresh = false;
        // Lines evicted while in flight were at the front of the body: an
        // event other than `Delivered` is about the lines still queued,
        // the body's last ones (the evicted ones are counted, and reported
        // by the writer, as dropped). `Delivered` counts all of them.
        let skip = |lines: usize| req.lines.saturating_sub(lines);
        let settled = match event {
            Event::Retrying { until_ms } => {
                let wait = until_ms.saturating_sub(now_ms);
                if let (Err(err), true) = (result, stale) {
                    self.fresh = true;
                    self.tries = self.tries.saturating_sub(1);
                    log::warn!(
                        "the connection closed before the server answered ({}): sending again at once on a new connection",
                        for_display(&err.to_string(), None, DEFAULT_MAX_CHARS)
                    );
                } else if let Err(err) = result {
                    self.waited_ms = self.waited_ms.saturating_add(wait);
                    let told = match err.server().and_then(|s| s.retry_after) {
                        Some(r) => r
                            .delay_secs(unix_now())
                            .map(|s| format!(" (the server asked for {s} s)"))
                            .unwrap_or_default(),
                        None => String::new(),
                    };
                    log::warn!(
                        "attempt {} to write {} lines failed: {err}; \
                         waiting {wait} ms{told} before retry {} (attempt {})",
                        self.tries,
                        req.lines,
                        self.tries,
                        self.tries.saturating_add(1)
                    );
                }
                return (event, None);
            }
            Event::Split { lines } => {
                log::warn!("413 for {lines} lines: splitting in halves");
                None
            }
            Event::Delivered { lines } => Some(Settled::Sent(lines)),
            Event::PartiallyDelivered {
                written, rejected, ..
            } => server(result).map(|e| {
                let mut f = refused(req, skip(written + rejected), e, secret);
                // The machine counts: the named lines are reported, the
                // rest of its count as unnamed.
                f.lines.truncate(rejected);
                f.reasons.truncate(rejected);
                f.written = written;
                f.unnamed = rejected - f.lines.len();
                Settled::Failed(f)
            }),
            Event::Rejected { lines } => {
                server(result).map(|e| Settled::Failed(refused(req, skip(lines), e, secret)))
            }
            Event::TooLarge { lines } => {
                log::error!("a single line is too large for the server: dropped");
                server(result).map(|e| {
                    Settled::Failed(failed_all(req, skip(lines), FailureReason::Server(e)))
                })
            }
            Event::Misconfigured { lines } => {
                let reason = match result {
                    Err(Error::Server(e)) => FailureReason::Server(e.clone()),
                    Err(Error::Tls(t)) => FailureReason::Tls(t.clone()),
                    Err(Error::Config(m)) => FailureReason::Config(m.clone()),
                    _ => FailureReason::Config("the request was refused".into()),
                };
                if !matches!(reason, FailureReason::Server(_)) {
                    log::error!("not sending {lines} lines: {reason}");
                }
                Some(Settled::Failed(failed_all(req, skip(lines), reason)))
            }
            Event::GaveUp { lines } => result.as_ref().err().map(|err| {
                let gave_up = GaveUp {
                    kind: Retried::of(err),
                    tries: self.tries,
                    waited: Duration::from_millis(self.waited_ms),
                    last_error: err.to_string(),
                };
                log::error!("{lines} lines not written: {gave_up}");
                Settled::Failed(failed_all(req, skip(lines), FailureReason::GaveUp(gave_up)))
            }),
            _ => None,
        };
        // The batch is settled (or split): the next one starts afresh.
        self.tries = 0;
        self.waited_ms = 0;
        (event, settled)
    }
}

/// The server's answer in `result`.
fn server(result: &Result<Written, Error>) -> Option<Box<ServerError>> {
    match result {
        Err(Error::Server(e)) => Some(e.clone()),
        _ => None,
    }
}

/// Lines `skip..` of `req`, tagged with their sequence numbers.
fn lines_of(req: &Request, skip: usize) -> Vec<Line> {
    req.texts()
        .into_iter()
        .enumerate()
        .skip(skip)
        .map(|(i, t)| {
            Line::new(
                req.first + i as u64,
                String::from_utf8_lossy(t).into_owned(),
            )
        })
        .collect()
}

fn failed_all(req: &Request, skip: usize, reason: FailureReason) -> Failed {
    let lines = lines_of(req, skip);
    Failed {
        reasons: vec![None; lines.len()],
        lines,
        written: 0,
        unnamed: 0,
        reason,
    }
}

/// The lines of `req` (from `skip`) a refusing answer is about: those the
/// server named (the message's `line N (1-based): reason` entries,
/// `unable to parse '<line>': reason` entries, or the core's list), first;
/// for a whole-batch rejection every other line after them.
fn refused(req: &Request, skip: usize, err: Box<ServerError>, secret: Option<&str>) -> Failed {
    let texts = req.texts();
    let partial = matches!(err.outcome, Outcome::PartiallyWritten(_));
    let named: Vec<(usize, Option<String>)> = named_lines(&texts, &err)
        .into_iter()
        .filter(|(i, _)| *i >= skip)
        .map(|(i, why)| (i, why.map(|w| for_display(w, secret, DEFAULT_MAX_CHARS))))
        .collect();
    let line = |i: usize| {
        let text = texts.get(i).copied().unwrap_or_default();
        Line::new(
            req.first + i as u64,
            String::from_utf8_lossy(text).into_owned(),
        )
    };
    let mut failed = Failed {
        lines: Vec::with_capacity(named.len()),
        reasons: Vec::with_capacity(named.len()),
        written: 0,
        unnamed: 0,
        reason: FailureReason::Server(err),
    };
    for (i, why) in &named {
        failed.lines.push(line(*i));
        failed.reasons.push(why.clone());
    }
    if !partial {
        // Whole batch rejected: every line failed, the named ones first.
        for i in (skip..texts.len()).filter(|i| !named.iter().any(|(n, _)| n == i)) {
            failed.lines.push(line(i));
            failed.reasons.push(None);
        }
    }
    failed
}

/// `(index in the request, reason)` of each line the server's answer
/// names, in order.
fn named_lines<'e>(lines: &[&[u8]], err: &'e ServerError) -> Vec<(usize, Option<&'e str>)> {
    let count = lines.len();
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
                    if let Some(idx) = lines.iter().position(|t| *t == line.as_bytes()) {
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

/// A synchronous sender for the CLI: the machine driven until every line
/// of a batch is settled, with `thread::sleep` for the waits.
pub struct Sender<'c> {
    client: &'c Client,
    policy: RetryPolicy,
    machine: Option<Machine>,
    driver: Driver,
    start: std::time::Instant,
    on_retry: Option<Box<dyn Fn(Duration) + 'c>>,
}

impl std::fmt::Debug for Sender<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("policy", &self.policy)
            .field("driver", &self.driver)
            .finish_non_exhaustive()
    }
}

/// The smallest queue a [`Sender`] allocates (it grows for larger batches).
const SENDER_MIN_BYTES: usize = 1 << 20;

impl<'c> Sender<'c> {
    /// A sender through `client` with `policy`.
    pub fn new(client: &'c Client, policy: RetryPolicy) -> Self {
        Self {
            client,
            policy,
            machine: None,
            driver: Driver::default(),
            start: std::time::Instant::now(),
            on_retry: None,
        }
    }

    /// Calls `f` each time the machine schedules a batch again, with the
    /// wait before it (zero for a resend at once after a stale
    /// connection), before the wait: what a progress display counts as
    /// retries and waits.
    ///
    /// ```
    /// # let client = linewire_std::Client::new("http://localhost:8086", None)?;
    /// let sender = linewire_std::cli::Sender::new(&client, linewire_std::RetryPolicy::new())
    ///     .on_retry(|wait| eprintln!("retrying in {wait:?}"));
    /// # drop(sender);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn on_retry(mut self, f: impl Fn(Duration) + 'c) -> Self {
        self.on_retry = Some(Box::new(f));
        self
    }

    /// The longest wait a server's `Retry-After` may ask for (the core's
    /// [`RetryPolicy::max_retry_after_ms`], default 125 s); a longer one is
    /// cut to it.
    #[must_use]
    pub fn max_retry_after(mut self, cap: Duration) -> Self {
        self.policy = self.policy.max_retry_after_ms(duration_ms(cap));
        self.machine = None;
        self
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Sends `lines` (in one request, unless the server makes the machine
    /// split it) until each is stored or failed.
    pub fn send(&mut self, lines: Vec<Line>) -> Vec<Settled> {
        let mut out = Vec::new();
        if lines.is_empty() {
            return out;
        }
        let mut body = Vec::with_capacity(lines.iter().map(|l| l.text.len() + 1).sum());
        for l in &lines {
            body.extend_from_slice(l.text.as_bytes());
            body.push(b'\n');
        }
        // Every batch is settled when `send` returns, so a larger queue
        // loses no state but the counters, which the CLI does not read.
        let precision = self.client.get_precision();
        let mut machine = match self.machine.take() {
            Some(m) if m.queue().capacity() >= body.len() => m,
            _ => machine(body.len().max(SENDER_MIN_BYTES), precision, self.policy),
        };
        machine.set_max_lines(lines.len());
        let base = machine.queue().pushed();
        let framed = Lines::new(&body).count() == lines.len();
        let pushed = if framed {
            machine.push_lines(&body)
        } else {
            Err(linewire::QueueError::Unframed)
        };
        if let Err(e) = pushed {
            // The CLI checks every line before sending, so this is a bug
            // of ours: nothing was sent.
            out.push(Settled::Failed(Failed {
                reasons: vec![None; lines.len()],
                lines,
                written: 0,
                unnamed: 0,
                reason: FailureReason::Config(format!("the lines could not be queued: {e}")),
            }));
            self.machine = Some(machine);
            return out;
        }
        let tag = |seq: u64| {
            usize::try_from(seq.saturating_sub(base))
                .ok()
                .and_then(|i| lines.get(i))
                .map_or(seq, Line::tag)
        };
        loop {
            let now = self.now_ms();
            let next = machine.next(now);
            let req = match next {
                Next::Send { .. } => Request::of(&next),
                Next::Wait { until_ms } => {
                    std::thread::sleep(Duration::from_millis(until_ms.saturating_sub(now)));
                    continue;
                }
                Next::Discarded { .. } => continue,
                // Idle (every line settled), or halted (never: the
                // machine drops misconfigured batches).
                _ => break,
            };
            let Some(req) = req else { break };
            let result = self.driver.send(self.client, &req);
            let now = self.now_ms();
            let secret = self.client.secret();
            let (event, settled) = self
                .driver
                .complete(&mut machine, now, &req, &result, secret);
            if let (Event::Retrying { until_ms }, Some(f)) = (event, &self.on_retry) {
                f(Duration::from_millis(until_ms.saturating_sub(now)));
            }
            match settled {
                Some(Settled::Failed(mut f)) => {
                    for l in &mut f.lines {
                        l.tag = tag(l.tag);
                    }
                    out.push(Settled::Failed(f));
                }
                Some(s) => out.push(s),
                None => {}
            }
        }
        self.machine = Some(machine);
        out
    }
}

/// Whole milliseconds, saturating at `u32::MAX` (49 days).
pub(crate) fn duration_ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}
