//! The blocking driver over `embedded-io`: [`Writer`] and its [`Poll`]
//! results. The decisions are the [`Delivery`] machine's; a poll's start
//! and end are sans-IO steps the async driver (`writer_async.rs`) shares.

use crate::delivery::machine::{Completion, Delivery, Event, LastError, Next, Stats};
use crate::delivery::queue::{Queue, QueueError};
use crate::delivery::retry::{Random, RetryPolicy};
use crate::http::{write_payload, Payload, ReadLimits, Reply, Target, WriteError};
use crate::{BatchInner, Precision, Storage};

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
/// polled. What to send and what an answer means are decided by its
/// [`Delivery`] machine (see there); the writer connects them to an
/// `embedded-io` stream, or, with feature `async`, to an
/// `embedded-io-async` one (`Writer::poll_async`: embassy-net's
/// `TcpSocket`), with the same results.
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
/// | 401, 403, 404, 400 about the query, other statuses | keeps everything and halts until [`Writer::resume`] or [`Writer::set_target`] ([`Event::Halted`]); or, after [`set_on_misconfigured`](Writer::set_on_misconfigured)`(Drop)`, drops the batch ([`Event::Misconfigured`]) |
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
/// `accepted = sent + rejected + gave_up + too_large + misconfigured +
/// dropped_overflow + queued` ([`Stats::settled`]).
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
/// | `Writer<N>` (including its queue, target, retry state and counters) | N + 400 B | N + 552 B |
/// | response buffer (caller's, passed to [`Writer::poll`]) | 1 024 B | 1 024 B |
///
/// So a device keeping 16 KiB of points needs 17 808 bytes for delivery
/// on a 32-bit MCU: the queue's bytes, 400 B of state (of which the
/// counters are about 160 B, 64 of them the last error message; a
/// [`Stats`] copy is 184 B), and the 1 KiB
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
pub struct Writer<'t, const N: usize, R: Random = crate::delivery::retry::XorShift32> {
    machine: Delivery<[u8; N], R>,
    target: Target<'t>,
    /// The last exchange left the connection open for another request, so
    /// the next [`poll`](Self::poll) presumably reuses it.
    kept_alive: bool,
}

impl<'t, const N: usize, R: Random> Writer<'t, N, R> {
    /// A writer to `target` for points whose timestamps are in
    /// `precision` (the precision of the batches pushed), with an empty
    /// queue of `N` bytes that drops the oldest lines on overflow, batches of
    /// at most [`DEFAULT_MAX_LINES`](crate::DEFAULT_MAX_LINES) lines and `N` bytes (and the target's
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
            machine: Delivery::new(Queue::with_precision(precision), policy, random),
            target,
            kept_alive: false,
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
        self.machine.set_max_lines(lines);
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
        self.machine.set_max_bytes(bytes);
    }

    /// Sets the queue's overflow policy.
    ///
    /// ```
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// w.set_overflow(linewire::Overflow::Refuse);
    /// assert_eq!(w.queue().get_overflow(), linewire::Overflow::Refuse);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn set_overflow(&mut self, overflow: crate::Overflow) {
        self.machine.set_overflow(overflow);
    }

    /// Sets what an answer that needs a change of configuration (401,
    /// 403, 404, ...) does: halt and keep the points (the default), or
    /// drop the batch and go on.
    ///
    /// ```
    /// # let mut w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// w.set_on_misconfigured(linewire::OnMisconfigured::Drop);
    /// assert_eq!(w.machine().on_misconfigured(), linewire::OnMisconfigured::Drop);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn set_on_misconfigured(&mut self, on: crate::OnMisconfigured) {
        self.machine.set_on_misconfigured(on);
    }

    /// The delivery machine that decides for this writer.
    ///
    /// ```
    /// # let w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// assert_eq!(w.machine().in_flight(), 0);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub const fn machine(&self) -> &Delivery<[u8; N], R> {
        &self.machine
    }

    /// The queue (read-only: points go in through [`push`](Self::push)).
    ///
    /// ```
    /// # let w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// assert_eq!(w.queue().capacity(), 256);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub const fn queue(&self) -> &Queue<N> {
        self.machine.queue()
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
        self.machine.is_halted()
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
        self.machine.resume();
    }

    /// The counters and the last error.
    ///
    /// ```
    /// # let w = linewire::Writer::<256, _>::new(linewire::http::Target::v2("h", "b", "t")?, linewire::Precision::Seconds, linewire::RetryPolicy::new(), || 4u32);
    /// assert_eq!(w.stats().queued, 0);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.machine.stats()
    }

    /// Queues every line of `batch` (clear the batch afterwards to reuse
    /// it; inline or borrowed). Returns how many old lines were evicted to make room.
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
    pub fn push<B: Storage>(&mut self, batch: &BatchInner<B>) -> Result<usize, QueueError> {
        self.sync().push(batch)
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
        self.machine.next_wakeup(now_ms)
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
        let event = match self.sync().next(now_ms) {
            Next::Send { .. } => {
                self.kept_alive = false;
                let failed = Completion::Failed {
                    error: LastError::Connect,
                    received: false,
                    reused: false,
                };
                self.machine.complete(now_ms, failed)
            }
            other => not_sent(other),
        };
        Poll::new(event)
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
        let (payload, reused, target) = match self.start(now_ms) {
            (Start::Send { payload, reused }, target) => (payload, reused, target),
            (Start::Done(poll), _) => return Ok(poll),
        };
        let mut watched = Watched {
            stream,
            received: false,
        };
        let written = write_payload(&mut watched, target, &payload, buf, ReadLimits::default());
        let received = watched.received;
        self.finish(now_ms, written, received, reused)
    }

    /// The sans-IO start of a poll, shared by every driver: the batch due
    /// at `now_ms` and whether it goes on a kept-alive connection, or the
    /// result of a poll that sends nothing; and the target to send it to
    /// (the payload borrows the machine's queue meanwhile).
    pub(crate) fn start(&mut self, now_ms: u64) -> (Start<'_>, &Target<'t>) {
        self.machine.set_body_limit(self.target.get_max_body());
        let start = match self.machine.next(now_ms) {
            Next::Send {
                body, precision, ..
            } => Start::Send {
                payload: Payload::new(body).precision(precision),
                reused: core::mem::replace(&mut self.kept_alive, false),
            },
            other => Start::Done(Poll::new(not_sent(other))),
        };
        (start, &self.target)
    }

    /// The sans-IO end of a poll, shared by every driver: tells the
    /// machine what the exchange [`start`](Self::start) began came to.
    /// `received`: whether any byte of a response arrived.
    pub(crate) fn finish(
        &mut self,
        now_ms: u64,
        written: Result<Reply<'_>, WriteError>,
        received: bool,
        reused: bool,
    ) -> Result<Poll, WriteError> {
        let reply = match written {
            Ok(reply) => reply,
            Err(e) => {
                let failed = Completion::Failed {
                    error: LastError::Write(e),
                    received,
                    reused,
                };
                self.machine.complete(now_ms, failed);
                return Err(e);
            }
        };
        self.kept_alive = reply.reusable;
        let event = self
            .machine
            .complete(now_ms, Completion::from_reply(&reply));
        Ok(Poll {
            event,
            reconnect: !reply.reusable,
        })
    }

    /// The machine, told the target's body limit.
    fn sync(&mut self) -> &mut Delivery<[u8; N], R> {
        self.machine.set_body_limit(self.target.get_max_body());
        &mut self.machine
    }
}

/// How a poll begins: with a request to make, or with its result.
pub(crate) enum Start<'q> {
    /// Send `payload`; `reused`: on a connection an earlier exchange left
    /// open.
    Send { payload: Payload<'q>, reused: bool },
    /// Nothing to send: this is the poll's result.
    Done(Poll),
}

/// The event for a [`Next`] that sends nothing.
fn not_sent(next: Next<'_>) -> Event {
    match next {
        Next::Halted => Event::Halted,
        Next::Wait { until_ms } => Event::Waiting { until_ms },
        Next::Discarded { lines } => Event::TooLarge { lines },
        _ => Event::Idle,
    }
}

/// The caller's stream, noting whether any byte of a response arrived.
pub(crate) struct Watched<'s, S> {
    pub(crate) stream: &'s mut S,
    pub(crate) received: bool,
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
