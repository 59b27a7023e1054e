//! The delivery driver: [`Writer`], its [`Stats`], [`Event`]s and [`Poll`] results.

use core::fmt;

use crate::http::{
    write_payload, Action, Outcome, Payload, ReadLimits, RejectedLines, Target, WriteError,
};
use crate::queue::{Queue, QueueError};
use crate::retry::{Backoff, Random, Retry, RetryPolicy};
use crate::{Batch, Precision};

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
    /// The caller could not connect ([`Writer::connect_failed`]).
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

/// Counters and the last error, readable at any time ([`Writer::stats`]).
/// Counts are in points (lines).
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
    /// Points in the queue now.
    pub queued: usize,
    /// Points accepted into the queue so far.
    pub accepted: u64,
    /// Points the server stored.
    pub sent: u64,
    /// Points evicted from the full queue ([`Overflow::DropOldest`](crate::Overflow)).
    pub dropped_overflow: u64,
    /// Points [`Writer::push`] refused (full under
    /// [`Overflow::Refuse`](crate::Overflow), too large, wrong precision).
    pub refused: u64,
    /// Points the server rejected as bad data.
    pub rejected: u64,
    /// Points dropped because the retry policy gave up on their batch.
    pub gave_up: u64,
    /// Single lines the server (413) or the target's body limit refused.
    pub too_large: u64,
    /// Requests sent (or attempted).
    pub requests: u64,
    /// Failed tries that were scheduled for a retry.
    pub retries: u64,
    /// Requests on a kept-alive connection that failed before any byte of
    /// a response (the server had closed the idle connection), due again at
    /// once on a new connection: neither a failure nor a retry (see
    /// [`Writer::poll`]).
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
    /// Every point lost: dropped by overflow, refused, rejected, given up
    /// or too large.
    ///
    /// ```
    /// let s = linewire::Stats::default();
    /// assert_eq!(s.lost(), 0);
    /// ```
    pub fn lost(&self) -> u64 {
        self.dropped_overflow
            .saturating_add(self.refused)
            .saturating_add(self.rejected)
            .saturating_add(self.gave_up)
            .saturating_add(self.too_large)
    }
}

/// What one [`Writer::poll`] did.
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
    /// [`Writer::resume`] or [`Writer::set_target`].
    Halted,
    /// The server stored the batch.
    Delivered {
        /// Points sent.
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
}

/// The result of a [`Writer::poll`].
///
/// ```
/// use linewire::{Event, Poll};
///
/// let p = Poll::new(Event::Idle);
/// assert!(!p.reconnect);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Poll {
    /// What happened.
    pub event: Event,
    /// The connection cannot carry another request (the server closed it
    /// or said `Connection: close`): close it and connect again before the
    /// next poll.
    pub reconnect: bool,
}

impl Poll {
    /// A poll result that keeps the connection.
    ///
    /// ```
    /// assert_eq!(linewire::Poll::new(linewire::Event::Halted).event, linewire::Event::Halted);
    /// ```
    pub const fn new(event: Event) -> Self {
        Self {
            event,
            reconnect: false,
        }
    }
}

/// Delivery under faults: a sans-IO driver that owns a [`Queue`] and a
/// [`RetryPolicy`] and sends the queue's front to the server whenever it is
/// polled.
///
/// Firmware pushes points as it produces them ([`Writer::push`]) and polls
/// the writer with the current time and a connected stream
/// ([`Writer::poll`]); [`Writer::next_wakeup`] says when the next poll is
/// due, so the device can sleep until then. The writer never reads a clock
/// and never allocates.
///
/// | server answer | what the writer does |
/// |---|---|
/// | 2xx | removes the batch ([`Event::Delivered`]) |
/// | 413 | halves the batch and sends the halves; a single line is dropped ([`Event::TooLarge`]); a `maxLength` becomes the byte limit |
/// | 400 partial write (Cloud Serverless, 3.x `write_lp`, 1.x), 422 | removes the batch: the good lines are stored, the rejected ones counted as rejected ([`Event::PartiallyDelivered`]) |
/// | other 400 | drops the batch, counted as rejected ([`Event::Rejected`]) |
/// | 401, 403, 404, 400 about the query, other statuses | keeps everything and halts until [`Writer::resume`] or [`Writer::set_target`] ([`Event::Halted`]) |
/// | 429, 503 | keeps everything, waits `Retry-After` (capped) or the backoff ([`Event::Retrying`]) |
/// | 408, 5xx, transport failure | keeps everything, waits the backoff |
///
/// When the policy gives up on a batch (retry count or time used up) the
/// batch is dropped and counted ([`Event::GaveUp`], [`Stats::gave_up`]). A
/// [`RetryPolicy`] with `max_retries(None)` and `max_elapsed_ms(None)`
/// never gives up: then only the queue bound drops data.
///
/// # Accounting
///
/// Every point accepted by [`Writer::push`] ends in exactly one counter of
/// [`Stats`], or is still queued:
/// `accepted = sent + rejected + gave_up + too_large + dropped_overflow + queued`.
/// Points that [`push`](Writer::push) refused are counted in
/// [`Stats::refused`].
///
/// # Memory
///
/// Measured by `core/tests/delivery_memory.rs` (`size_of`), on a 32-bit
/// target (thumbv7em) and on a 64-bit host:
///
/// | | 32-bit | 64-bit |
/// |---|---|---|
/// | `Queue<N>` | N + 48 B | N + 64 B |
/// | `Writer<N>` (including its queue, target, retry state and [`Stats`]) | N + 392 B | N + 528 B |
/// | response buffer (caller's, passed to [`Writer::poll`]) | 1 024 B | 1 024 B |
///
/// So a device keeping 16 KiB of points needs 17 800 bytes for delivery
/// on a 32-bit MCU: the queue's bytes, 392 B of state (of which
/// [`Stats`] is 168 B, 64 of them the last error message), and the 1 KiB
/// response buffer
/// (head and error body; the request body is written straight from the
/// queue, see [`Queue`]). Stack use during [`Writer::poll`] is that of
/// [`write_payload`] (its largest array is a 64-byte discard chunk).
/// Neither the per-point path ([`Writer::push`]) nor [`Writer::poll`]
/// allocates: `core/tests/delivery_no_alloc.rs` checks it with a counting
/// allocator.
///
/// ```
/// use linewire::http::Target;
/// use linewire::{Batch, Event, Precision, RetryPolicy, Writer, XorShift32};
///
/// # struct Server(&'static [u8]);
/// # impl embedded_io::ErrorType for Server { type Error = core::convert::Infallible; }
/// # impl embedded_io::Read for Server { fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> { self.0.read(b) } }
/// # impl embedded_io::Write for Server {
/// #     fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
/// #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// let target = Target::v2("influx.local", "sensors", "token")?.port(8086);
/// let mut writer = Writer::<4096>::new(
///     target,
///     Precision::Seconds,
///     RetryPolicy::new(),
///     XorShift32::new(0xdead_beef),
/// );
/// let mut point = Batch::<128>::with_precision(Precision::Seconds);
/// point.point("temp")?.tag("room", "loft")?.field("c", 21.5)?.timestamp(1_700_000_000)?;
/// writer.push(&point)?;
///
/// let now_ms = 0;
/// assert_eq!(writer.next_wakeup(now_ms), Some(0));
/// let mut stream = Server(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n");
/// let mut buf = [0u8; 1024];
/// let poll = writer.poll(now_ms, &mut stream, &mut buf)?;
/// assert_eq!(poll.event, Event::Retrying { until_ms: 30_000 });
/// assert_eq!(writer.next_wakeup(now_ms), Some(30_000));
///
/// let mut stream = Server(b"HTTP/1.1 204 No Content\r\n\r\n");
/// let poll = writer.poll(30_000, &mut stream, &mut buf)?;
/// assert_eq!(poll.event, Event::Delivered { lines: 1 });
/// assert_eq!(writer.stats().sent, 1);
/// assert_eq!(writer.next_wakeup(30_000), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// `N` is the queue's size in bytes; `R` the jitter source.
///
/// ```
/// use linewire::{http::Target, Precision, RetryPolicy, Writer, XorShift32};
///
/// let mut w = Writer::<1024>::new(
///     Target::v2("h", "b", "t")?,
///     Precision::Milliseconds,
///     RetryPolicy::new(),
///     XorShift32::new(3),
/// );
/// w.set_max_lines(100);
/// assert_eq!(w.next_wakeup(0), None);
/// # Ok::<(), linewire::http::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Writer<'t, const N: usize, R: Random = crate::retry::XorShift32> {
    queue: Queue<N>,
    target: Target<'t>,
    backoff: Backoff,
    random: R,
    max_lines: usize,
    max_bytes: usize,
    /// Line cap while the halves of a too-large batch go out (0: none).
    split_lines: usize,
    /// Lines still to go under `split_lines`.
    split_left: usize,
    halted: bool,
    /// The last exchange left the connection open for another request, so
    /// the next [`poll`](Self::poll) presumably reuses it.
    kept_alive: bool,
    stats: Stats,
}

impl<'t, const N: usize, R: Random> Writer<'t, N, R> {
    /// A writer to `target` for points whose timestamps are in
    /// `precision` (the precision of the batches pushed), with an empty
    /// queue of `N` bytes that drops the oldest lines on overflow, batches of
    /// at most [`DEFAULT_MAX_LINES`] lines and `N` bytes (and the target's
    /// body limit).
    ///
    /// ```
    /// use linewire::{http::Target, Precision, RetryPolicy, Writer};
    ///
    /// let w = Writer::<256, _>::new(Target::v2("h", "b", "t")?, Precision::Seconds, RetryPolicy::new(), || 4u32);
    /// assert!(w.queue().is_empty());
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub const fn new(
        target: Target<'t>,
        precision: Precision,
        policy: RetryPolicy,
        random: R,
    ) -> Self {
        Self {
            queue: Queue::with_precision(precision),
            target,
            backoff: Backoff::new(policy),
            random,
            max_lines: DEFAULT_MAX_LINES,
            max_bytes: N,
            split_lines: 0,
            split_left: 0,
            halted: false,
            kept_alive: false,
            stats: Stats {
                queued: 0,
                accepted: 0,
                sent: 0,
                dropped_overflow: 0,
                refused: 0,
                rejected: 0,
                gave_up: 0,
                too_large: 0,
                requests: 0,
                retries: 0,
                stale_retries: 0,
                last_status: None,
                last_error: None,
                last_message: heapless::String::new(),
            },
        }
    }

    /// The largest batch in lines (at least 1).
    ///
    /// ```
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// w.set_max_lines(5000);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn set_max_lines(&mut self, lines: usize) {
        self.max_lines = lines.max(1);
    }

    /// The largest batch in bytes (also capped by the target's body
    /// limit). Lines longer than this are refused by [`push`](Self::push).
    ///
    /// ```
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// w.set_max_bytes(128);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn set_max_bytes(&mut self, bytes: usize) {
        self.max_bytes = bytes.max(1);
    }

    /// Sets the queue's overflow policy.
    ///
    /// ```
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// w.set_overflow(linewire::Overflow::Refuse);
    /// assert_eq!(w.queue().overflow_policy(), linewire::Overflow::Refuse);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn set_overflow(&mut self, overflow: crate::Overflow) {
        self.queue.set_overflow(overflow);
    }

    /// The queue (read-only: points go in through [`push`](Self::push)).
    ///
    /// ```
    /// # let w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// assert_eq!(w.queue().capacity(), 256);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub const fn queue(&self) -> &Queue<N> {
        &self.queue
    }

    /// The target.
    ///
    /// ```
    /// # let w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// assert_eq!(w.target().bucket(), "b");
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub const fn target(&self) -> &Target<'t> {
        &self.target
    }

    /// Replaces the target (a new token, bucket or host) and resumes a
    /// halted writer.
    ///
    /// ```
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// w.set_target(linewire::http::Target::v2("h", "b", "new-token")?);
    /// assert!(!w.is_halted());
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn set_target(&mut self, target: Target<'t>) {
        self.target = target;
        // A new target (host, port) needs a new connection.
        self.kept_alive = false;
        self.resume();
    }

    /// Whether the writer is halted (after 401, 403, 404, ...).
    ///
    /// ```
    /// # let w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// assert!(!w.is_halted());
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub const fn is_halted(&self) -> bool {
        self.halted
    }

    /// Sends again after a halt (the configuration was fixed on the
    /// server's side), at once.
    ///
    /// ```
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// w.resume();
    /// assert!(!w.is_halted());
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn resume(&mut self) {
        self.halted = false;
        self.backoff.succeeded();
    }

    /// The counters and the last error.
    ///
    /// ```
    /// # let w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// assert_eq!(w.stats().queued, 0);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        let mut s = self.stats.clone();
        s.queued = self.queue.len();
        s.accepted = self.queue.pushed();
        s.dropped_overflow = self.queue.dropped();
        s.refused = self.queue.refused();
        s
    }

    /// Queues every line of `batch` (clear the batch afterwards to reuse
    /// it). Returns how many old lines were evicted to make room.
    ///
    /// # Errors
    ///
    /// As [`Queue::push`]; also [`QueueError::TooLarge`] for a line longer
    /// than the largest batch. The queue is then unchanged and the points
    /// are counted as refused.
    ///
    /// ```
    /// use linewire::Batch;
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    ///
    /// let mut b = Batch::<64>::with_precision(linewire::Precision::Seconds);
    /// b.point("m")?.field("v", 1i64)?.timestamp(1)?;
    /// assert_eq!(w.push(&b)?, 0);
    /// assert_eq!(w.stats().queued, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push<const M: usize>(&mut self, batch: &Batch<M>) -> Result<usize, QueueError> {
        let max_line = self.max_bytes.min(self.target.max_body_len());
        self.queue.push_with_limit(batch, max_line)
    }

    /// When the writer wants the next [`poll`](Self::poll): `now_ms` (or
    /// earlier) when points are queued and no backoff runs, the end of the
    /// backoff, or `None` when the queue is empty or the writer is halted.
    ///
    /// ```
    /// # let w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// assert_eq!(w.next_wakeup(1_000), None);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn next_wakeup(&self, now_ms: u64) -> Option<u64> {
        if self.halted || self.queue.is_empty() {
            return None;
        }
        Some(self.backoff.next_try().map_or(now_ms, |t| t.max(now_ms)))
    }

    /// Records that connecting failed at `now_ms` (DNS, refused, TLS): the
    /// batch is kept and the backoff runs, as for a failed request. Call it
    /// instead of [`poll`](Self::poll) when there is no stream.
    ///
    /// ```
    /// use linewire::{Batch, Event};
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 0u32);
    /// let mut b = Batch::<64>::with_precision(linewire::Precision::Seconds);
    /// b.point("m")?.field("v", 1i64)?.timestamp(1)?;
    /// w.push(&b)?;
    /// assert_eq!(w.connect_failed(0).event, Event::Retrying { until_ms: 5_000 });
    /// assert_eq!(w.connect_failed(1_000).event, Event::Waiting { until_ms: 5_000 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect_failed(&mut self, now_ms: u64) -> Poll {
        if let Some(p) = self.not_now(now_ms) {
            return p;
        }
        let lines = self.current_front().1;
        self.kept_alive = false;
        self.stats.requests = self.stats.requests.saturating_add(1);
        self.stats.last_error = Some(LastError::Connect);
        self.stats.last_message.clear();
        Poll::new(self.failed(now_ms, None, lines))
    }

    /// Sends the next batch over `stream` if one is due at `now_ms`, reads
    /// the answer into `buf` (1 KiB is plenty; see [`write_payload`]) and
    /// acts on it.
    ///
    /// # Errors
    ///
    /// The request failed on the stream, or the answer was not HTTP
    /// ([`WriteError`]): close the stream and connect again. The points are
    /// kept and the backoff runs ([`next_wakeup`](Self::next_wakeup)); when
    /// the policy gave up on the batch instead, it was dropped and counted
    /// in [`Stats::gave_up`].
    ///
    /// # A kept-alive connection the server closed
    ///
    /// Servers close idle keep-alive connections, and a request on such a
    /// connection fails before any byte of a response arrives. So, as
    /// browsers and `ureq` do, one such failure is retried at once: when the
    /// previous exchange left the connection open for reuse (it returned
    /// [`Poll::reconnect`] `false`), and this request fails on the stream
    /// ([`WriteError::Transport`]: the write failed, the peer closed first
    /// ([`TransportError::ClosedBeforeResponse`](crate::http::TransportError::ClosedBeforeResponse)),
    /// or a read failed) before any response byte was read, the error is
    /// returned as usual (connect again) but nothing counts as a failure:
    /// no backoff, no retry counted, no last error; the batch is due again
    /// at once ([`next_wakeup`](Self::next_wakeup) is `now_ms`) and
    /// [`Stats::stale_retries`] counts it. The next request goes on a new
    /// connection, so a second such failure in a row backs off as usual,
    /// as does any failure on a connection that no earlier exchange left
    /// open (there is no free retry on a fresh connection).
    ///
    /// ```
    /// use linewire::{Batch, Event};
    /// # struct S(&'static [u8]);
    /// # impl embedded_io::ErrorType for S { type Error = core::convert::Infallible; }
    /// # impl embedded_io::Read for S { fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> { self.0.read(b) } }
    /// # impl embedded_io::Write for S {
    /// #     fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
    /// #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// let mut b = Batch::<64>::with_precision(linewire::Precision::Seconds);
    /// b.point("m")?.field("v", 1i64)?.timestamp(1)?;
    /// w.push(&b)?;
    /// let mut stream = S(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nUnauthorized");
    /// let mut buf = [0u8; 1024];
    /// assert_eq!(w.poll(0, &mut stream, &mut buf)?.event, Event::Halted);
    /// let stats = w.stats();
    /// assert_eq!((stats.queued, stats.last_status), (1, Some(401)));
    /// assert_eq!(stats.last_message.as_str(), "Unauthorized");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll<S>(
        &mut self,
        now_ms: u64,
        stream: &mut S,
        buf: &mut [u8],
    ) -> Result<Poll, WriteError>
    where
        S: embedded_io::Read + embedded_io::Write,
    {
        if let Some(p) = self.not_now(now_ms) {
            return Ok(p);
        }
        let (len, lines) = self.current_front();
        if len > self.target.max_body_len() {
            // Only a single line can exceed it (batches are capped below).
            self.queue.pop_front(lines);
            self.stats.too_large = self.stats.too_large.saturating_add(lines as u64);
            self.split_done(lines);
            return Ok(Poll::new(Event::TooLarge { lines }));
        }
        self.stats.requests = self.stats.requests.saturating_add(1);
        let reused = core::mem::replace(&mut self.kept_alive, false);
        let front = self.queue.front(self.batch_bytes(), self.batch_lines());
        let payload = Payload::new(front.bytes()).precision(self.queue.precision());
        let mut watched = Watched {
            stream,
            received: false,
        };
        let reply = match write_payload(
            &mut watched,
            &self.target,
            &payload,
            buf,
            ReadLimits::default(),
        ) {
            Ok(reply) => reply,
            Err(e @ WriteError::Transport(_)) if reused && !watched.received => {
                // The server closed the idle connection: once, at once.
                self.stats.stale_retries = self.stats.stale_retries.saturating_add(1);
                return Err(e);
            }
            Err(e) => {
                self.stats.last_error = Some(LastError::Write(e));
                self.stats.last_message.clear();
                self.failed(now_ms, None, lines);
                return Err(e);
            }
        };
        self.stats.last_status = Some(reply.status);
        let reconnect = !reply.reusable;
        self.kept_alive = reply.reusable;
        let action = reply.outcome.action();
        if action != Action::Done {
            self.stats.last_error = Some(LastError::Status(reply.status));
            let message = reply.error.message.or(reply.error.detail).unwrap_or("");
            set_message(&mut self.stats.last_message, message);
        }
        let event = match action {
            Action::Done => {
                self.remove(lines);
                self.stats.sent = self.stats.sent.saturating_add(lines as u64);
                Event::Delivered { lines }
            }
            Action::Drop => {
                self.remove(lines);
                if let Outcome::PartiallyWritten(p) = reply.outcome {
                    let named = usize::try_from(p.rejected.count()).unwrap_or(usize::MAX);
                    let dropped = p
                        .dropped
                        .map_or(0, |d| usize::try_from(d).unwrap_or(usize::MAX));
                    // A partial write rejected at least one line.
                    let rejected = named.max(dropped).max(1).min(lines);
                    let written = lines - rejected;
                    self.stats.rejected = self.stats.rejected.saturating_add(rejected as u64);
                    self.stats.sent = self.stats.sent.saturating_add(written as u64);
                    Event::PartiallyDelivered {
                        written,
                        rejected,
                        lines: p.rejected,
                    }
                } else {
                    self.stats.rejected = self.stats.rejected.saturating_add(lines as u64);
                    Event::Rejected { lines }
                }
            }
            Action::Split => {
                if let Outcome::TooLarge {
                    max_length: Some(max),
                } = reply.outcome
                {
                    let max = usize::try_from(max).unwrap_or(usize::MAX);
                    self.max_bytes = self.max_bytes.min(max).max(1);
                }
                if lines <= 1 {
                    self.remove(lines);
                    self.stats.too_large = self.stats.too_large.saturating_add(lines as u64);
                    Event::TooLarge { lines }
                } else {
                    self.split_lines = lines.div_ceil(2);
                    self.split_left = self.split_left.max(lines);
                    Event::Split { lines }
                }
            }
            Action::Stop => {
                self.halted = true;
                Event::Halted
            }
            _ => {
                let secs = reply
                    .outcome
                    .retry_after()
                    .and_then(|r| r.delay_secs(None))
                    .map(u64::from);
                self.failed(now_ms, secs, lines)
            }
        };
        Ok(Poll { event, reconnect })
    }

    /// `Some` when no request is due at `now_ms`.
    fn not_now(&self, now_ms: u64) -> Option<Poll> {
        if self.halted {
            return Some(Poll::new(Event::Halted));
        }
        if self.queue.is_empty() {
            return Some(Poll::new(Event::Idle));
        }
        if !self.backoff.ready(now_ms) {
            let until_ms = self.backoff.next_try().unwrap_or(now_ms);
            return Some(Poll::new(Event::Waiting { until_ms }));
        }
        None
    }

    fn batch_lines(&self) -> usize {
        if self.split_left > 0 && self.split_lines > 0 {
            self.split_lines.min(self.max_lines)
        } else {
            self.max_lines
        }
    }

    fn batch_bytes(&self) -> usize {
        self.max_bytes.min(self.target.max_body_len())
    }

    /// Length and line count of the batch to send next.
    fn current_front(&self) -> (usize, usize) {
        let f = self.queue.front(self.batch_bytes(), self.batch_lines());
        (f.bytes().len(), f.lines())
    }

    /// Removes a batch that is done with (stored or dropped).
    fn remove(&mut self, lines: usize) {
        self.queue.pop_front(lines);
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
    fn failed(&mut self, now_ms: u64, retry_after_secs: Option<u64>, lines: usize) -> Event {
        match self
            .backoff
            .failed(now_ms, retry_after_secs, &mut self.random)
        {
            Retry::At(until_ms) => {
                self.stats.retries = self.stats.retries.saturating_add(1);
                Event::Retrying { until_ms }
            }
            _ => {
                self.queue.pop_front(lines);
                self.split_done(lines);
                self.stats.gave_up = self.stats.gave_up.saturating_add(lines as u64);
                Event::GaveUp { lines }
            }
        }
    }
}

/// The caller's stream, noting whether any byte of a response arrived.
struct Watched<'s, S> {
    stream: &'s mut S,
    received: bool,
}

impl<S: embedded_io::ErrorType> embedded_io::ErrorType for Watched<'_, S> {
    type Error = S::Error;
}

impl<S: embedded_io::Read> embedded_io::Read for Watched<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = self.stream.read(buf)?;
        self.received |= n > 0;
        Ok(n)
    }
}

impl<S: embedded_io::Write> embedded_io::Write for Watched<'_, S> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.stream.flush()
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
