//! The delivery machine, [`Delivery`] (sans-IO), and what it reports:
//! [`Next`], [`Completion`], [`Event`], [`Stats`], [`LastError`].

use core::fmt;

use crate::delivery::queue::{QueueError, QueueInner};
use crate::delivery::retry::{Backoff, Random, Retry, RetryPolicy};
use crate::http::{Action, Outcome, RejectedLines, Reply, WriteError};
use crate::{BatchInner, Precision, Storage};

/// Bytes of the server's last error message kept in [`Stats::last_message`].
pub const LAST_MESSAGE_LEN: usize = 64;

/// The default largest batch, in lines (the Python client's batch size).
pub const DEFAULT_MAX_LINES: usize = 1000;

/// What went wrong last.
///
/// ```
/// use linewire::LastError;
///
/// assert_eq!(LastError::Status(503).to_string(), "HTTP status 503");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LastError {
    /// The server answered with this (non-2xx) status.
    Status(u16),
    /// The request failed on the stream or the answer was not HTTP.
    Write(WriteError),
    /// The caller could not connect ([`Writer::connect_failed`](crate::Writer::connect_failed)).
    Connect,
}

impl fmt::Display for LastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(s) => write!(f, "HTTP status {s}"),
            Self::Write(e) => write!(f, "{e}"),
            Self::Connect => f.write_str("could not connect"),
        }
    }
}

/// Counters and the last error, readable at any time
/// ([`Delivery::stats`], [`Writer::stats`](crate::Writer::stats)). Counts
/// are in points (lines).
///
/// ```
/// let w = linewire::Writer::<256>::new(
///     linewire::http::Target::v2("h", "b", "t")?,
///     linewire::Precision::Seconds,
///     linewire::RetryPolicy::new(),
///     linewire::XorShift32::new(1),
/// );
/// let s = w.stats();
/// assert_eq!(s.lost(), 0);
/// assert_eq!(s.last_status, None);
/// # Ok::<(), linewire::http::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Stats {
    /// Points in the queue now (including those in flight).
    pub queued: usize,
    /// Points accepted into the queue so far.
    pub accepted: u64,
    /// Points the server stored.
    pub sent: u64,
    /// Points evicted from the full queue ([`Overflow::DropOldest`](crate::Overflow)).
    /// Points of the request in flight evicted meanwhile count here until
    /// its answer: a 2xx moves them to [`sent`](Self::sent) (see
    /// [`Delivery`]'s eviction while in flight).
    pub dropped_overflow: u64,
    /// Points [`Writer::push`](crate::Writer::push) refused (full under
    /// [`Overflow::Refuse`](crate::Overflow), too large, wrong precision).
    pub refused: u64,
    /// Points the server rejected as bad data.
    pub rejected: u64,
    /// Points dropped because the retry policy gave up on their batch.
    pub gave_up: u64,
    /// Single lines the server (413) or the target's body limit refused.
    pub too_large: u64,
    /// Points dropped because the request was refused for its
    /// configuration (401, 403, 404, ...) under [`OnMisconfigured::Drop`].
    pub misconfigured: u64,
    /// Points still queued when the driver gave up on them at close
    /// ([`Delivery::abandon`]).
    pub unsent_at_close: u64,
    /// Requests sent (or attempted).
    pub requests: u64,
    /// Failed tries that were scheduled for a retry.
    pub retries: u64,
    /// Requests on a kept-alive connection that failed before any byte of
    /// a response (the server had closed the idle connection), due again at
    /// once on a new connection: neither a failure nor a retry (see
    /// [`Writer::poll`](crate::Writer::poll)).
    pub stale_retries: u64,
    /// The status of the last answer.
    pub last_status: Option<u16>,
    /// The last error.
    pub last_error: Option<LastError>,
    /// The start of the server's message for the last error status (empty
    /// when it gave none).
    pub last_message: heapless::String<LAST_MESSAGE_LEN>,
}

impl Stats {
    /// Every point lost: dropped by overflow, refused, rejected, given up,
    /// too large, misconfigured or unsent at close.
    ///
    /// ```
    /// let s = linewire::Stats::default();
    /// assert_eq!(s.lost(), 0);
    /// ```
    pub fn lost(&self) -> u64 {
        self.settled_lost().saturating_add(self.refused)
    }

    /// Accepted points that are settled or still queued: `sent` plus every
    /// drop counter plus `queued`. Equal to [`accepted`](Self::accepted)
    /// at all times (the accounting invariant).
    ///
    /// ```
    /// let s = linewire::Stats::default();
    /// assert_eq!(s.settled(), s.accepted);
    /// ```
    pub fn settled(&self) -> u64 {
        self.sent
            .saturating_add(self.settled_lost())
            .saturating_add(self.queued as u64)
    }

    fn settled_lost(&self) -> u64 {
        self.dropped_overflow
            .saturating_add(self.rejected)
            .saturating_add(self.gave_up)
            .saturating_add(self.too_large)
            .saturating_add(self.misconfigured)
            .saturating_add(self.unsent_at_close)
    }
}

/// What happened to the queued points, from [`Delivery::complete`] (and
/// [`Writer::poll`](crate::Writer::poll)).
///
/// ```
/// use linewire::Event;
///
/// assert_ne!(Event::Idle, Event::Halted);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// Nothing queued; nothing sent.
    Idle,
    /// Backing off; nothing sent before `until_ms`.
    Waiting {
        /// When the next try is due.
        until_ms: u64,
    },
    /// Halted after 401, 403, 404 or another answer that needs a change of
    /// configuration; the points are kept. Nothing is sent until
    /// [`Writer::resume`](crate::Writer::resume) or
    /// [`Writer::set_target`](crate::Writer::set_target).
    Halted,
    /// The server stored the batch.
    Delivered {
        /// Points sent: every line of the request, those evicted from the
        /// queue while it was in flight included
        /// ([`Delivery::evicted_in_flight`]).
        lines: usize,
    },
    /// The server stored part of the batch and rejected the rest; the
    /// batch is removed.
    PartiallyDelivered {
        /// Points stored.
        written: usize,
        /// Points rejected.
        rejected: usize,
        /// Which lines of the batch (1-based), as far as the server said.
        lines: RejectedLines,
    },
    /// The server rejected the whole batch as bad data; it is dropped.
    Rejected {
        /// Points dropped.
        lines: usize,
    },
    /// 413: the batch is split; the halves go next.
    Split {
        /// Points in the batch that was too large.
        lines: usize,
    },
    /// A single line is too large for the server or the target; dropped.
    TooLarge {
        /// Points dropped (1).
        lines: usize,
    },
    /// The try failed (429, 503, 5xx, transport); everything is kept.
    Retrying {
        /// When the next try is due.
        until_ms: u64,
    },
    /// The retry policy gave up on the batch: dropped.
    GaveUp {
        /// Points dropped.
        lines: usize,
    },
    /// The request was refused for its configuration (401, 403, 404, ...)
    /// and the setting is [`OnMisconfigured::Drop`]: the batch is dropped.
    Misconfigured {
        /// Points dropped.
        lines: usize,
    },
}

/// What the machine does with a batch whose request was refused for its
/// configuration (401, 403, 404, a 400 about the query, an unexpected
/// status, [`Completion::Misconfigured`]).
///
/// ```
/// assert_eq!(linewire::OnMisconfigured::default(), linewire::OnMisconfigured::Halt);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum OnMisconfigured {
    /// Keep every point and send nothing until resumed: a device keeps
    /// its data until the token or bucket is fixed.
    #[default]
    Halt,
    /// Drop the batch (counted in [`Stats::misconfigured`]) and go on, as
    /// the Go and Python clients do: a daemon cannot fill its memory
    /// behind a revoked token.
    Drop,
}

/// What the driver does now, from [`Delivery::next`].
///
/// ```
/// let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
/// assert_eq!(m.next(0), linewire::Next::Idle);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Next<'q> {
    /// Nothing is queued.
    Idle,
    /// Halted ([`OnMisconfigured::Halt`]): nothing goes out until
    /// [`Delivery::resume`].
    Halted,
    /// Backing off: come back at `until_ms`.
    Wait {
        /// When the next try is due.
        until_ms: u64,
    },
    /// A single line longer than the body limit was at the front: it was
    /// dropped and counted in [`Stats::too_large`]. Call again.
    Discarded {
        /// Points dropped (1).
        lines: usize,
    },
    /// Send these lines, then report with [`Delivery::complete`].
    Send {
        /// The lines of the batch, each ending in `\n`.
        body: &'q [u8],
        /// The precision of their timestamps.
        precision: Precision,
        /// How many lines.
        lines: usize,
        /// The sequence number of the first line (lines ever removed from
        /// the queue's front before it): with `lines`, identifies the batch
        /// (to reuse a body compressed ahead from [`Delivery::upcoming`]).
        first: u64,
    },
}

/// What the driver saw of a request, for [`Delivery::complete`].
///
/// ```
/// use linewire::{Completion, LastError};
///
/// let c = Completion::Failed { error: LastError::Connect, received: false, reused: false };
/// assert_ne!(c, Completion::answered(204, linewire::http::Outcome::Written, ""));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Completion<'a> {
    /// A status line was read: the status decides.
    Answered {
        /// The status code.
        status: u16,
        /// What it means ([`Outcome::classify`]).
        outcome: Outcome,
        /// The server's error message (empty when none); its start is kept
        /// in [`Stats::last_message`].
        message: &'a str,
        /// The Unix time in seconds, when the driver has a wall clock: it
        /// resolves a `Retry-After` given as a date.
        unix_now: Option<u32>,
    },
    /// Connecting failed, or the exchange failed before a status line.
    Failed {
        /// What failed.
        error: LastError,
        /// Whether any byte of a response arrived.
        received: bool,
        /// Whether the request went on a connection an earlier exchange
        /// left open.
        reused: bool,
    },
    /// The request cannot be made as configured (a certificate that does
    /// not verify, a body over a configured limit): every try would fail
    /// the same way, so it is handled as a 401 is
    /// ([`OnMisconfigured`]).
    Misconfigured {
        /// What failed.
        error: LastError,
    },
}

impl<'a> Completion<'a> {
    /// An answer with this status, outcome and message, without a wall
    /// clock.
    ///
    /// ```
    /// let c = linewire::Completion::answered(204, linewire::http::Outcome::Written, "");
    /// assert!(matches!(c, linewire::Completion::Answered { status: 204, .. }));
    /// ```
    pub const fn answered(status: u16, outcome: Outcome, message: &'a str) -> Self {
        Self::Answered {
            status,
            outcome,
            message,
            unix_now: None,
        }
    }

    /// The answer a [`Reply`] carries (its message, else its detail).
    ///
    /// ```
    /// use linewire::http::{read_response, ReadLimits, Reply};
    ///
    /// let mut wire: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    /// let mut buf = [0u8; 128];
    /// let reply = Reply::from(read_response(&mut wire, &mut buf, ReadLimits::default())?);
    /// assert!(matches!(linewire::Completion::from_reply(&reply), linewire::Completion::Answered { status: 204, .. }));
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn from_reply(reply: &Reply<'a>) -> Self {
        let message = reply.error.message.or(reply.error.detail).unwrap_or("");
        Self::answered(reply.status, reply.outcome, message)
    }
}

/// The delivery machine: a queue of points and the decisions about them,
/// with no I/O and no clock.
///
/// `S` is the queue's storage ([`Queue`](crate::Queue),
/// [`BorrowedQueue`](crate::BorrowedQueue), `BoxedQueue`); `R` the jitter
/// source.
///
/// ```
/// use linewire::{BorrowedQueue, Delivery, Precision, RetryPolicy, OnMisconfigured};
///
/// let mut ring = [0u8; 512];
/// let mut m = Delivery::new(BorrowedQueue::with_precision(&mut ring, Precision::Seconds), RetryPolicy::new(), || 7u32);
/// m.set_on_misconfigured(OnMisconfigured::Drop);
/// assert_eq!(m.next_wakeup(0), None);
/// ```
///
/// One engine decides what happens to queued points: when a batch goes
/// out, how large it is, and what an answer (or a failure) means for it.
/// It owns the [`QueueInner`] (any storage) and the retry state
/// ([`Backoff`]); it never reads a clock (time is the `now_ms` argument),
/// does no I/O, never allocates and never panics. Drivers are thin: they
/// ask [`Delivery::next`] what to do, carry the request, and tell
/// [`Delivery::complete`] what they saw.
///
/// ```
/// use linewire::http::Outcome;
/// use linewire::{Batch, Completion, Delivery, Event, Next, Precision, Queue, RetryPolicy};
///
/// let mut machine = Delivery::new(Queue::<1024>::with_precision(Precision::Seconds), RetryPolicy::new(), || 0u32);
/// let mut point = Batch::<64>::with_precision(Precision::Seconds);
/// point.point("m")?.field("v", 1i64)?.timestamp(1)?;
/// machine.push(&point)?;
///
/// let Next::Send { body, lines, .. } = machine.next(0) else { unreachable!() };
/// assert_eq!((body, lines), (&b"m v=1i 1\n"[..], 1));
/// // ... the driver sends `body`, reads the answer: 503 ...
/// let answer = Completion::answered(503, Outcome::Unavailable { retry_after: None }, "");
/// assert_eq!(machine.complete(0, answer), Event::Retrying { until_ms: 5_000 });
/// assert_eq!(machine.next(1_000), Next::Wait { until_ms: 5_000 });
/// let Next::Send { .. } = machine.next(5_000) else { unreachable!() };
/// assert_eq!(machine.complete(5_000, Completion::answered(204, Outcome::Written, "")), Event::Delivered { lines: 1 });
/// assert_eq!(machine.next(5_000), Next::Idle);
/// assert_eq!(machine.stats().sent, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # What an answer does
///
/// | what the driver saw | what the machine does |
/// |---|---|
/// | 2xx | removes the batch ([`Event::Delivered`]) |
/// | 413 | halves the batch (a `maxLength` also becomes the byte limit); a single line is dropped ([`Event::TooLarge`]) |
/// | 400 partial write, 422 | removes the batch; good lines count as sent, rejected ones as rejected ([`Event::PartiallyDelivered`]) |
/// | other 400 | drops the batch as rejected ([`Event::Rejected`]) |
/// | 401, 403, 404, a 400 about the query, other statuses; [`Completion::Misconfigured`] | [`OnMisconfigured::Halt`] (the default): keeps everything and halts until [`Delivery::resume`] ([`Event::Halted`]); [`OnMisconfigured::Drop`]: drops the batch, counted in [`Stats::misconfigured`] ([`Event::Misconfigured`]), and goes on |
/// | 429, 503 | waits `Retry-After` (capped) or the backoff ([`Event::Retrying`]) |
/// | 408, 5xx, a failure before any answer | waits the backoff |
/// | a transport failure on a reused connection before any response byte | due again at once, once ([`Stats::stale_retries`]) |
///
/// When the [`RetryPolicy`] gives up, the batch is dropped ([`Event::GaveUp`]).
///
/// # Accounting
///
/// Every accepted point ends in exactly one counter, or is still queued
/// (in flight counts as queued):
/// `accepted = sent + rejected + gave_up + too_large + misconfigured +
/// unsent_at_close + dropped_overflow + queued` ([`Stats::settled`]).
///
/// # Eviction while in flight
///
/// Under [`Overflow::DropOldest`](crate::Overflow) (and with
/// [`Delivery::drop_oldest`]) eviction takes the queue's front, which,
/// while a request is in flight, is that request's lines: the newest lines
/// are kept and a push is never refused for them. The lines evicted so
/// ([`Delivery::evicted_in_flight`]) are gone from the queue and cannot be
/// sent again, but the server may still store them: they count in
/// [`Stats::dropped_overflow`] at once, provisionally, and when
/// [`Delivery::complete`] learns that the server stored the whole request
/// (a 2xx) they move to [`Stats::sent`], and [`Event::Delivered`] counts
/// them with the rest of the request. Any other outcome (a retry, giving
/// up, a rejection, a 413 split, a misconfigured request, a resend after a
/// stale connection, [`Delivery::abandon`], or [`Delivery::next`] asked
/// again without a `complete`) leaves them dropped, and the outcome applies
/// to the lines still queued only. A partial write is an approximation:
/// the server's counts then apply to the lines still queued, and the
/// evicted ones stay dropped, though the server may have stored some of
/// them. The sums of [`Stats::settled`] hold at every moment.
///
/// ```
/// use linewire::http::Outcome;
/// use linewire::{Completion, Delivery, Event, Queue, RetryPolicy};
///
/// let mut m = Delivery::new(Queue::<64>::new(), RetryPolicy::new(), || 0u32);
/// m.push_lines(b"m v=1i\nm v=2i\n")?;
/// m.next(0);
/// // A line of the request in flight is evicted: dropped, for now.
/// assert_eq!(m.drop_oldest(1), 1);
/// assert_eq!((m.in_flight(), m.evicted_in_flight()), (1, 1));
/// assert_eq!(m.stats().dropped_overflow, 1);
/// // The server stored the whole request: both lines count sent.
/// let done = m.complete(0, Completion::answered(204, Outcome::Written, ""));
/// assert_eq!(done, Event::Delivered { lines: 2 });
/// let s = m.stats();
/// assert_eq!((s.sent, s.dropped_overflow, s.settled()), (2, 0, s.accepted));
/// # Ok::<(), linewire::QueueError>(())
/// ```
///
/// # Drivers
///
/// - [`Writer::poll`](crate::Writer::poll) (the core, over an
///   `embedded-io` stream): `next`, then [`write_payload`](crate::http::write_payload)
///   with the body, then `complete` with [`Completion::from_reply`] or
///   [`Completion::Failed`]. It keeps one bit of its own: whether the
///   previous exchange left the connection open (`reused`).
/// - `Writer::poll_async` (feature `async`) is the same loop over
///   `embedded-io-async`, through the same start and end as `poll`.
/// - `linewire-std`'s `BackgroundWriter`: a worker thread owns the machine
///   behind its mutex (a `BoxedQueue` of `capacity_bytes`, by default
///   256 bytes for each of its `capacity_lines`; the line bound is the
///   writer's own, kept with [`Delivery::drop_oldest`] under its
///   `DropOldest`), with [`Overflow::Block`](crate::Overflow::Block) so that
///   the writer applies its `Backpressure` (wait, evict and report, or
///   refuse), and [`OnMisconfigured::Drop`]. Its batching rule
///   (`batch_lines` queued, the oldest waited `flush_interval`, a flush, a
///   retry due) decides when it calls `next`; it copies the body under the
///   lock, sends it through ureq without the lock, and calls `complete`
///   with the outcome of the `ServerError` and `unix_now` for a
///   `Retry-After` date, [`Completion::Failed`] for a transport error (as
///   `LastError::Write(WriteError::Transport(..))`, `reused` when the
///   connection closed before any answer after an answered exchange, as
///   `poll` does, so that the stale connection rule applies, once), or [`Completion::Misconfigured`] for TLS and
///   configuration errors. Pushes from other threads go on meanwhile
///   ([`Delivery::push`], [`Delivery::push_lines`] for raw text): the lines
///   in flight stay queued until `complete`, and eviction may take them
///   (see [Eviction while in flight](#eviction-while-in-flight)). To compress ahead
///   (pipelining), a second thread gzips [`Delivery::upcoming`] while a
///   request is in flight; `next` then gives it with the same `first` and
///   `lines` when nothing changed (a 2xx), so the compressed body is used.
///   Reporting is the driver's: it keeps the body it sent, and maps an
///   event's lines (a partial write's rejected line numbers, from `first`)
///   back to texts (`linewire::Lines::new`) for its failure callback; a
///   close timeout is [`Delivery::abandon`] ([`Stats::unsent_at_close`])
///   after reading the lines from [`QueueInner::regions`]. Its stats are
///   these `Stats` (its `pending` is `queued`, its `dropped` is
///   `dropped_overflow`, `failed` the five counters by why). The CLI's
///   synchronous sender drives the same machine, one batch at a time.
#[derive(Debug)]
pub struct Delivery<S: Storage, R: Random = crate::delivery::retry::XorShift32> {
    queue: QueueInner<S>,
    backoff: Backoff,
    random: R,
    max_lines: usize,
    /// The largest batch in bytes (the caller's setting, lowered by a
    /// server's `maxLength`).
    max_bytes: usize,
    /// The target's body limit: a batch never exceeds it.
    body_limit: usize,
    /// Line cap while the halves of a too-large batch go out (0: none).
    split_lines: usize,
    /// Lines still to go under `split_lines`.
    split_left: usize,
    /// Lines of the request in flight (handed out by `next`, not yet
    /// completed) still at the queue's front.
    in_flight: usize,
    /// The bytes of the request in flight, still the front of the queue's
    /// older region (0: unknown, after an eviction): removing it or
    /// skipping it then needs no scan of its lines.
    in_flight_len: usize,
    /// Lines of the request in flight evicted from the queue (counted in
    /// the queue's `dropped` until a 2xx says the server stored them: they
    /// then move to `sent`).
    evicted_in_flight: usize,
    sending: bool,
    halted: bool,
    on_misconfigured: OnMisconfigured,
    counts: Counts,
}

/// The counters the machine keeps itself (the queue keeps the rest).
#[derive(Debug, Clone)]
struct Counts {
    sent: u64,
    rejected: u64,
    gave_up: u64,
    too_large: u64,
    misconfigured: u64,
    unsent_at_close: u64,
    requests: u64,
    retries: u64,
    stale_retries: u64,
    last_status: Option<u16>,
    last_error: Option<LastError>,
    last_message: heapless::String<LAST_MESSAGE_LEN>,
}

impl<S: Storage, R: Random> Delivery<S, R> {
    /// A machine over `queue` (its precision and overflow policy are the
    /// machine's), retrying under `policy` with jitter from `random`;
    /// batches of at most [`DEFAULT_MAX_LINES`] lines, halting on
    /// 401/403/404.
    ///
    /// ```
    /// const M: linewire::Delivery<[u8; 256], linewire::XorShift32> = linewire::Delivery::new(
    ///     linewire::Queue::new(), linewire::RetryPolicy::new(), linewire::XorShift32::new(1));
    /// assert_eq!(M.max_lines(), linewire::DEFAULT_MAX_LINES);
    /// ```
    pub const fn new(queue: QueueInner<S>, policy: RetryPolicy, random: R) -> Self {
        Self {
            queue,
            backoff: Backoff::new(policy),
            random,
            max_lines: DEFAULT_MAX_LINES,
            max_bytes: usize::MAX,
            body_limit: usize::MAX,
            split_lines: 0,
            split_left: 0,
            in_flight: 0,
            in_flight_len: 0,
            evicted_in_flight: 0,
            sending: false,
            halted: false,
            on_misconfigured: OnMisconfigured::Halt,
            counts: Counts {
                sent: 0,
                rejected: 0,
                gave_up: 0,
                too_large: 0,
                misconfigured: 0,
                unsent_at_close: 0,
                requests: 0,
                retries: 0,
                stale_retries: 0,
                last_status: None,
                last_error: None,
                last_message: heapless::String::new(),
            },
        }
    }

    /// The queue (read-only: points go in through [`push`](Self::push)).
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert!(m.queue().is_empty());
    /// ```
    pub const fn queue(&self) -> &QueueInner<S> {
        &self.queue
    }

    /// Sets the queue's overflow policy.
    ///
    /// ```
    /// # let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// m.set_overflow(linewire::Overflow::Block);
    /// assert_eq!(m.queue().get_overflow(), linewire::Overflow::Block);
    /// ```
    pub fn set_overflow(&mut self, overflow: crate::Overflow) {
        self.queue.set_overflow(overflow);
    }

    /// The largest batch in lines.
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.max_lines(), 1000);
    /// ```
    pub const fn max_lines(&self) -> usize {
        self.max_lines
    }

    /// Sets the largest batch in lines (at least 1).
    ///
    /// ```
    /// # let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// m.set_max_lines(0);
    /// assert_eq!(m.max_lines(), 1);
    /// ```
    pub fn set_max_lines(&mut self, lines: usize) {
        self.max_lines = lines.max(1);
    }

    /// Sets the largest batch in bytes (at least 1); lines longer than
    /// this are refused by [`push`](Self::push).
    ///
    /// ```
    /// # let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// m.set_max_bytes(32);
    /// ```
    pub fn set_max_bytes(&mut self, bytes: usize) {
        self.max_bytes = bytes.max(1);
    }

    /// Sets the target's body limit (at least 1): no batch is larger, and
    /// a single queued line over it is dropped ([`Next::Discarded`]).
    ///
    /// ```
    /// # let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// m.set_body_limit(linewire::http::DEFAULT_MAX_BODY);
    /// ```
    pub fn set_body_limit(&mut self, bytes: usize) {
        self.body_limit = bytes.max(1);
    }

    /// Sets what a request refused for its configuration does.
    ///
    /// ```
    /// # let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// m.set_on_misconfigured(linewire::OnMisconfigured::Drop);
    /// assert_eq!(m.on_misconfigured(), linewire::OnMisconfigured::Drop);
    /// ```
    pub fn set_on_misconfigured(&mut self, on: OnMisconfigured) {
        self.on_misconfigured = on;
    }

    /// What a request refused for its configuration does.
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.on_misconfigured(), linewire::OnMisconfigured::Halt);
    /// ```
    pub const fn on_misconfigured(&self) -> OnMisconfigured {
        self.on_misconfigured
    }

    /// Whether the machine is halted ([`OnMisconfigured::Halt`]).
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert!(!m.is_halted());
    /// ```
    pub const fn is_halted(&self) -> bool {
        self.halted
    }

    /// Sends again after a halt, at once.
    ///
    /// ```
    /// # let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// m.resume();
    /// assert!(!m.is_halted());
    /// ```
    pub fn resume(&mut self) {
        self.halted = false;
        self.backoff.succeeded();
    }

    /// Lines of the request in flight (0 when none).
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.in_flight(), 0);
    /// ```
    pub const fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Lines of the request in flight that eviction took from the queue
    /// (0 when none is in flight): the oldest lines of its body. They are
    /// counted dropped until [`complete`](Self::complete) says the server
    /// stored the request (see [Eviction while in flight](Self#eviction-while-in-flight)).
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.evicted_in_flight(), 0);
    /// ```
    pub const fn evicted_in_flight(&self) -> usize {
        self.evicted_in_flight
    }

    /// The counters and the last error.
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.stats().settled(), m.stats().accepted);
    /// ```
    pub fn stats(&self) -> Stats {
        let c = &self.counts;
        Stats {
            queued: self.queue.len(),
            accepted: self.queue.pushed(),
            sent: c.sent,
            dropped_overflow: self.queue.dropped(),
            refused: self.queue.refused(),
            rejected: c.rejected,
            gave_up: c.gave_up,
            too_large: c.too_large,
            misconfigured: c.misconfigured,
            unsent_at_close: c.unsent_at_close,
            requests: c.requests,
            retries: c.retries,
            stale_retries: c.stale_retries,
            last_status: c.last_status,
            last_error: c.last_error,
            last_message: c.last_message.clone(),
        }
    }

    /// Queues every line of `batch` (inline or borrowed). Returns how many
    /// old lines were evicted to make room.
    ///
    /// # Errors
    ///
    /// As [`Queue::push`](crate::Queue::push); also
    /// [`QueueError::TooLarge`] for a line longer than the largest batch.
    ///
    /// ```
    /// use linewire::{BorrowedBatch, Delivery, Queue, RetryPolicy};
    ///
    /// let mut m = Delivery::new(Queue::<64>::new(), RetryPolicy::new(), || 0u32);
    /// let mut buf = [0u8; 32];
    /// let mut b = BorrowedBatch::new(&mut buf);
    /// b.point("m")?.field("v", 1i64)?.finish()?;
    /// assert_eq!(m.push(&b)?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push<B: Storage>(&mut self, batch: &BatchInner<B>) -> Result<usize, QueueError> {
        let evicted = self.queue.push_with_limit(batch, self.batch_bytes())?;
        // Eviction takes the front: lines in flight first (settled by the
        // request's outcome: see `evicted`).
        self.evicted(evicted);
        Ok(evicted)
    }

    /// Queues `bytes`, complete lines of line protocol at the queue's
    /// precision (see [`QueueInner::push_lines`]). Returns how many old
    /// lines were evicted to make room.
    ///
    /// # Errors
    ///
    /// As [`QueueInner::push_lines`]; also [`QueueError::TooLarge`] for a
    /// line longer than the largest batch.
    ///
    /// ```
    /// use linewire::{Delivery, Next, Queue, RetryPolicy};
    ///
    /// let mut m = Delivery::new(Queue::<64>::new(), RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.push_lines(b"m v=1i 1\nm v=2i 2\n")?, 0);
    /// assert!(matches!(m.next(0), Next::Send { lines: 2, .. }));
    /// # Ok::<(), linewire::QueueError>(())
    /// ```
    pub fn push_lines(&mut self, bytes: &[u8]) -> Result<usize, QueueError> {
        let evicted = self
            .queue
            .push_lines_with_limit(bytes, self.batch_bytes())?;
        self.evicted(evicted);
        Ok(evicted)
    }

    /// Evicts up to `lines` of the oldest queued lines, counted in
    /// [`Stats::dropped_overflow`] as [`Overflow::DropOldest`](crate::Overflow)
    /// counts them: for a driver that bounds the queue in lines as well as
    /// bytes (it reads them first with [`queue`](Self::queue) to report
    /// them). Lines in flight go first: they count dropped unless their
    /// request is then stored (see [Eviction while in flight](Self#eviction-while-in-flight)).
    /// Returns how many.
    ///
    /// ```
    /// use linewire::http::Outcome;
    /// use linewire::{Completion, Delivery, Queue, RetryPolicy};
    ///
    /// let mut m = Delivery::new(Queue::<64>::new(), RetryPolicy::new(), || 0u32);
    /// m.push_lines(b"m v=1i\nm v=2i\n")?;
    /// m.next(0);
    /// assert_eq!(m.drop_oldest(1), 1);
    /// assert_eq!((m.in_flight(), m.stats().dropped_overflow), (1, 1));
    /// // The request failed: the evicted line stays dropped, the other is kept.
    /// let busy = Outcome::Unavailable { retry_after: None };
    /// m.complete(0, Completion::answered(503, busy, ""));
    /// let s = m.stats();
    /// assert_eq!((s.dropped_overflow, s.queued), (1, 1));
    /// # Ok::<(), linewire::QueueError>(())
    /// ```
    pub fn drop_oldest(&mut self, lines: usize) -> usize {
        let n = self.queue.drop_oldest(lines);
        self.evicted(n);
        n
    }

    /// When the machine wants [`next`](Self::next) called: `now_ms` (or
    /// earlier) when points are queued and no backoff runs, the end of the
    /// backoff, or `None` when the queue is empty or the machine halted.
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.next_wakeup(5), None);
    /// ```
    pub fn next_wakeup(&self, now_ms: u64) -> Option<u64> {
        if self.halted || self.queue.is_empty() {
            return None;
        }
        Some(self.backoff.next_try().map_or(now_ms, |t| t.max(now_ms)))
    }

    /// What to do at `now_ms`: nothing ([`Next::Idle`], [`Next::Halted`]),
    /// wait ([`Next::Wait`]), or send a batch ([`Next::Send`]), which is
    /// then in flight until [`complete`](Self::complete). Asking again
    /// before completing hands out the front batch again (the earlier try
    /// is forgotten).
    ///
    /// ```
    /// # let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.next(0), linewire::Next::Idle);
    /// ```
    pub fn next(&mut self, now_ms: u64) -> Next<'_> {
        // A request handed out and never completed: its evicted lines stay
        // dropped.
        self.sending = false;
        self.in_flight = 0;
        self.in_flight_len = 0;
        self.evicted_in_flight = 0;
        if self.halted {
            return Next::Halted;
        }
        if self.queue.is_empty() {
            return Next::Idle;
        }
        if !self.backoff.ready(now_ms) {
            let until_ms = self.backoff.next_try().unwrap_or(now_ms);
            return Next::Wait { until_ms };
        }
        let (bytes, lines) = (self.batch_bytes(), self.batch_lines());
        let (len, count) = self.queue.front_len(bytes, lines);
        if len > self.body_limit {
            // Only a single line can exceed it (batches are capped below).
            let lines = self.queue.pop_front(1);
            self.counts.too_large = self.counts.too_large.saturating_add(lines as u64);
            self.split_done(lines);
            return Next::Discarded { lines };
        }
        self.counts.requests = self.counts.requests.saturating_add(1);
        self.in_flight = count;
        self.in_flight_len = len;
        self.sending = true;
        Next::Send {
            body: self.queue.front_bytes(len),
            precision: self.queue.precision(),
            lines: count,
            first: self.queue.front_seq(),
        }
    }

    /// The batch that [`next`](Self::next) will hand out after the one in
    /// flight, if that one is delivered and nothing else changes: a
    /// driver can compress it while the request is in flight. [`Next::Idle`]
    /// when there is none (or nothing is in flight).
    ///
    /// ```
    /// # let m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.upcoming(), linewire::Next::Idle);
    /// ```
    pub fn upcoming(&self) -> Next<'_> {
        if !self.sending || self.in_flight == 0 {
            return Next::Idle;
        }
        let front = self.queue.front_after(
            self.in_flight,
            self.in_flight_len,
            self.batch_bytes(),
            self.max_lines,
        );
        if front.is_empty() || front.bytes().len() > self.body_limit {
            return Next::Idle;
        }
        Next::Send {
            body: front.bytes(),
            precision: self.queue.precision(),
            lines: front.lines(),
            first: self.queue.front_seq().saturating_add(self.in_flight as u64),
        }
    }

    /// Acts on what the driver saw of the request [`next`](Self::next)
    /// handed out, at `now_ms`. [`Event::Idle`] when none is in flight.
    ///
    /// ```
    /// use linewire::{Batch, Completion, Delivery, Event, LastError, Queue, RetryPolicy};
    ///
    /// let mut m = Delivery::new(Queue::<64>::new(), RetryPolicy::new(), || 0u32);
    /// let mut b = Batch::<32>::new();
    /// b.point("m")?.field("v", 1i64)?.finish()?;
    /// m.push(&b)?;
    /// m.next(0);
    /// let failed = Completion::Failed { error: LastError::Connect, received: false, reused: false };
    /// assert_eq!(m.complete(0, failed), Event::Retrying { until_ms: 5_000 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn complete(&mut self, now_ms: u64, done: Completion<'_>) -> Event {
        if !core::mem::replace(&mut self.sending, false) {
            return Event::Idle;
        }
        let lines = core::mem::take(&mut self.in_flight);
        let len = core::mem::take(&mut self.in_flight_len);
        // Counted dropped already; only a 2xx (below) makes them sent.
        let evicted = core::mem::take(&mut self.evicted_in_flight);
        let (status, outcome, message, unix_now) = match done {
            Completion::Answered {
                status,
                outcome,
                message,
                unix_now,
            } => (status, outcome, message, unix_now),
            Completion::Failed {
                error,
                received,
                reused,
            } => {
                if reused
                    && !received
                    && matches!(error, LastError::Write(WriteError::Transport(_)))
                {
                    // The server closed the idle connection: once, at once.
                    self.counts.stale_retries = self.counts.stale_retries.saturating_add(1);
                    return Event::Retrying { until_ms: now_ms };
                }
                self.counts.last_error = Some(error);
                self.counts.last_message.clear();
                return self.failed(now_ms, None, lines, len);
            }
            Completion::Misconfigured { error } => {
                self.counts.last_error = Some(error);
                self.counts.last_message.clear();
                return self.misconfigured(lines, len);
            }
        };
        self.counts.last_status = Some(status);
        let action = outcome.action();
        if action != Action::Done {
            self.counts.last_error = Some(LastError::Status(status));
            set_message(&mut self.counts.last_message, message);
        }
        match action {
            Action::Done => {
                self.remove(lines, len);
                // The server stored the whole body, the lines evicted from
                // it meanwhile too: they move from dropped to sent.
                let stored = lines.saturating_add(evicted);
                self.queue.undrop(evicted);
                self.counts.sent = self.counts.sent.saturating_add(stored as u64);
                Event::Delivered { lines: stored }
            }
            Action::Drop => {
                self.remove(lines, len);
                if let Outcome::PartiallyWritten(p) = outcome {
                    let named = usize::try_from(p.rejected.count()).unwrap_or(usize::MAX);
                    let dropped = p
                        .dropped
                        .map_or(0, |d| usize::try_from(d).unwrap_or(usize::MAX));
                    // A partial write rejected at least one line.
                    let rejected = named.max(dropped).max(1).min(lines);
                    let written = lines - rejected;
                    self.counts.rejected = self.counts.rejected.saturating_add(rejected as u64);
                    self.counts.sent = self.counts.sent.saturating_add(written as u64);
                    Event::PartiallyDelivered {
                        written,
                        rejected,
                        lines: p.rejected,
                    }
                } else {
                    self.counts.rejected = self.counts.rejected.saturating_add(lines as u64);
                    Event::Rejected { lines }
                }
            }
            Action::Split => {
                if let Outcome::TooLarge {
                    max_length: Some(max),
                } = outcome
                {
                    let max = usize::try_from(max).unwrap_or(usize::MAX);
                    self.max_bytes = self.max_bytes.min(max).max(1);
                }
                if lines <= 1 {
                    self.remove(lines, len);
                    self.counts.too_large = self.counts.too_large.saturating_add(lines as u64);
                    Event::TooLarge { lines }
                } else {
                    self.split_lines = lines.div_ceil(2);
                    self.split_left = self.split_left.max(lines);
                    Event::Split { lines }
                }
            }
            Action::Stop => self.misconfigured(lines, len),
            _ => {
                let secs = outcome
                    .retry_after()
                    .and_then(|r| r.delay_secs(unix_now))
                    .map(u64::from);
                self.failed(now_ms, secs, lines, len)
            }
        }
    }

    /// Drops every queued line (counted in [`Stats::unsent_at_close`]):
    /// the driver is closing and will not send them. Returns how many.
    ///
    /// ```
    /// # let mut m = linewire::Delivery::new(linewire::Queue::<64>::new(), linewire::RetryPolicy::new(), || 0u32);
    /// assert_eq!(m.abandon(), 0);
    /// ```
    pub fn abandon(&mut self) -> usize {
        let n = self.queue.pop_front(self.queue.len());
        self.counts.unsent_at_close = self.counts.unsent_at_close.saturating_add(n as u64);
        self.sending = false;
        self.in_flight = 0;
        self.in_flight_len = 0;
        self.evicted_in_flight = 0;
        self.split_done(n);
        self.backoff.succeeded();
        n
    }

    fn misconfigured(&mut self, lines: usize, len: usize) -> Event {
        match self.on_misconfigured {
            OnMisconfigured::Drop => {
                self.remove(lines, len);
                self.counts.misconfigured = self.counts.misconfigured.saturating_add(lines as u64);
                Event::Misconfigured { lines }
            }
            OnMisconfigured::Halt => {
                self.halted = true;
                Event::Halted
            }
        }
    }

    fn batch_lines(&self) -> usize {
        if self.split_left > 0 && self.split_lines > 0 {
            self.split_lines.min(self.max_lines)
        } else {
            self.max_lines
        }
    }

    fn batch_bytes(&self) -> usize {
        self.max_bytes.min(self.body_limit)
    }

    /// Lines evicted from the front: those in flight go first (counted
    /// dropped until their request's outcome says otherwise; the answer
    /// applies to the rest), and the batch's length is unknown.
    fn evicted(&mut self, lines: usize) {
        if lines > 0 {
            let of_batch = lines.min(self.in_flight);
            self.in_flight -= of_batch;
            self.evicted_in_flight = self.evicted_in_flight.saturating_add(of_batch);
            self.in_flight_len = 0;
        }
    }

    /// Removes a batch that is done with (stored or dropped); `len`, its
    /// bytes when known (0: scan).
    fn remove(&mut self, lines: usize, len: usize) {
        self.queue.pop_front_len(lines, len);
        self.backoff.succeeded();
        self.split_done(lines);
    }

    fn split_done(&mut self, lines: usize) {
        self.split_left = self.split_left.saturating_sub(lines);
        if self.split_left == 0 {
            self.split_lines = 0;
        }
    }

    /// A failed try of the `lines` at the front: back off, or give up.
    fn failed(
        &mut self,
        now_ms: u64,
        retry_after_secs: Option<u64>,
        lines: usize,
        len: usize,
    ) -> Event {
        match self
            .backoff
            .failed(now_ms, retry_after_secs, &mut self.random)
        {
            Retry::At(until_ms) => {
                self.counts.retries = self.counts.retries.saturating_add(1);
                Event::Retrying { until_ms }
            }
            _ => {
                self.queue.pop_front_len(lines, len);
                self.split_done(lines);
                self.counts.gave_up = self.counts.gave_up.saturating_add(lines as u64);
                Event::GaveUp { lines }
            }
        }
    }
}

/// Copies as much of `message` as fits, cut at a character boundary.
fn set_message(out: &mut heapless::String<LAST_MESSAGE_LEN>, message: &str) {
    out.clear();
    let mut end = message.len().min(LAST_MESSAGE_LEN);
    while end > 0 && !message.is_char_boundary(end) {
        end -= 1;
    }
    let _ = out.push_str(message.get(..end).unwrap_or(""));
}
