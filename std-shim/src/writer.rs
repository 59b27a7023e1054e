//! A background writer: points go into a bounded in-memory queue from any
//! thread; a worker thread sends them in batches through a [`Client`].
//!
//! A batch goes out when [`WriterBuilder::batch_lines`] lines are queued
//! (default 5000, as the Go client) or the oldest queued line has waited
//! [`WriterBuilder::flush_interval`] (default 1 s). Each batch is delivered
//! with the core's [`RetryPolicy`] (backoff with jitter, `Retry-After`,
//! give up after 5 retries or 180 s by default); a 413 splits it in halves,
//! recursively, and a single line that is still too large is dropped and
//! reported. Partial writes store the good lines; the rejected ones are
//! reported. 401, 403, 404 and other answers that need a configuration
//! change fail the batch and report it (they are not retried).
//!
//! Lost lines are reported to the [`WriterBuilder::on_failure`] callback
//! (on the worker thread) and counted in [`Stats`]; everything is logged
//! through the `log` crate, without the token.
//!
//! Accounting: `accepted = sent + failed() + dropped + pending` at any time,
//! and `failed` is split by why as in the core's counters: `rejected`,
//! `too_large`, `gave_up`, plus `misconfigured` and `unsent_at_close`.
//!
//! This is the std counterpart of the core's sans-IO [`linewire::Writer`]:
//! the same [`RetryPolicy`]/[`Backoff`] decide every wait and when to give
//! up, and the same [`Outcome`] classification
//! decides what an answer means, but the queue packs the lines into one
//! growable ring of bytes (bounded in lines, not a fixed byte array; no
//! allocation per line), requests go through `ureq` (TLS, pooled
//! connections) instead of an `embedded-io` stream, and the 413 split is
//! done here on ranges of the batch's lines. One difference in policy: the
//! core writer halts on 401/403/404 until resumed; this one reports the
//! batch as failed and goes on, as the Go and Python clients do, so a
//! daemon cannot fill its memory behind a revoked token.
//!
//! ```
//! use linewire_std::{Batch, Precision};
//! use linewire_std::{BackgroundWriter, Client};
//!
//! # let server = linewire_testkit::TestServer::start();
//! let client = Client::new(&server.url(), Some("token"))?
//!     .bucket("home")
//!     .precision(Precision::Seconds);
//! let writer = BackgroundWriter::builder(client).batch_lines(1000).start();
//!
//! let mut batch = Batch::<256>::with_precision(Precision::Seconds);
//! batch.point("env")?.tag("room", "hall")?.field("temp", 20.5)?.timestamp(1_700_000_000)?;
//! writer.push(&batch)?;
//! writer.push_lines("env,room=loft temp=19.0 1700000000\n")?;
//!
//! writer.flush(); // both lines are stored (or reported) now
//! let stats = writer.close();
//! assert_eq!(stats.sent, 2);
//! # assert_eq!(server.points("home").len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use linewire::http::Outcome;
use linewire::{Backoff, BatchInner, RetryPolicy, Storage, XorShift32};

use crate::client::Client;
use crate::deliver::{self, Ctx, Packed, Settled, Tries};
pub use crate::deliver::{FailureReason, GaveUp, Retried};

/// What [`BackgroundWriter::push`] does when the queue is full.
///
/// ```
/// assert_eq!(linewire_std::Backpressure::default(), linewire_std::Backpressure::Block);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backpressure {
    /// Wait until the worker has made room.
    #[default]
    Block,
    /// Evict the oldest queued lines (reported as [`FailureReason::Overflow`]).
    DropOldest,
    /// Refuse the new lines with [`PushError::Full`].
    Error,
}

/// Why lines were not queued.
///
/// ```
/// assert_eq!(linewire_std::PushError::Full.to_string(), "the queue is full");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError {
    /// The queue is full and the policy is [`Backpressure::Error`] (or the
    /// lines are more than the whole queue holds).
    Full,
    /// The writer is closing.
    Closed,
    /// The batch's precision differs from the client's: its timestamps
    /// would be read in the wrong unit.
    PrecisionMismatch,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "the queue is full",
            Self::Closed => "the writer is closed",
            Self::PrecisionMismatch => "the batch's precision differs from the client's",
        })
    }
}

impl std::error::Error for PushError {}

/// Lines that were not stored, as given to the
/// [`on_failure`](WriterBuilder::on_failure) callback.
///
/// ```
/// use linewire_std::{Failure, FailureReason};
///
/// fn report(f: &Failure) {
///     eprintln!("{} lines lost: {}", f.lines.len(), f.reason);
/// }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Failure {
    /// The lines not stored.
    pub lines: Vec<String>,
    /// Lines of the same request that the server stored (partial write).
    pub written: usize,
    /// Why.
    pub reason: FailureReason,
}

/// Counters, in lines. `accepted = sent + failed() + dropped + pending`.
///
/// ```
/// let s = linewire_std::Stats::default();
/// assert_eq!(s.lost(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Lines accepted into the queue.
    pub accepted: u64,
    /// Lines the server stored.
    pub sent: u64,
    /// Of [`failed`](Stats::failed): lines the server refused as bad data (a rejected batch,
    /// the bad lines of a partial write), as the core's `rejected`.
    pub rejected: u64,
    /// Of [`failed`](Stats::failed): single lines larger than the server accepts (413), as
    /// the core's `too_large`.
    pub too_large: u64,
    /// Of [`failed`](Stats::failed): lines the retry policy gave up on, as the core's
    /// `gave_up`.
    pub gave_up: u64,
    /// Of [`failed`](Stats::failed): lines of requests refused for their configuration
    /// (401, 403, 404, a 400 about the query, a missing bucket, a redirect or another
    /// unexpected answer: the URL does not lead to the write endpoint), or whose TLS
    /// handshake failed (a certificate that does not verify). The core
    /// writer keeps these and halts; this one reports them and goes on.
    pub misconfigured: u64,
    /// Of [`failed`](Stats::failed): lines still queued or retrying when the close timeout
    /// ran out.
    pub unsent_at_close: u64,
    /// Lines evicted from the full queue ([`Backpressure::DropOldest`]).
    pub dropped: u64,
    /// Lines [`BackgroundWriter::push`] refused ([`PushError`]); not in `accepted`.
    pub refused: u64,
    /// Lines queued or being sent now.
    pub pending: u64,
    /// Requests made.
    pub requests: u64,
    /// Retries scheduled.
    pub retries: u64,
}

impl Stats {
    /// Lines the server refused, or given up on, or not sent before the
    /// close timeout: the sum of the five counters by why.
    ///
    /// ```
    /// assert_eq!(linewire_std::Stats::default().failed(), 0);
    /// ```
    pub fn failed(&self) -> u64 {
        self.rejected
            .saturating_add(self.too_large)
            .saturating_add(self.gave_up)
            .saturating_add(self.misconfigured)
            .saturating_add(self.unsent_at_close)
    }

    /// Counts `n` lines failed for `reason` in its category.
    fn count_failed(&mut self, reason: &FailureReason, n: u64) {
        let category = match reason {
            FailureReason::Server(e) => match e.outcome {
                Outcome::Rejected | Outcome::PartiallyWritten(_) => &mut self.rejected,
                Outcome::TooLarge { .. } => &mut self.too_large,
                _ => &mut self.misconfigured,
            },
            FailureReason::GaveUp(_) => &mut self.gave_up,
            FailureReason::Config(_) | FailureReason::Tls(_) => &mut self.misconfigured,
            // Evicted lines are counted in `dropped`, not `failed`.
            FailureReason::Overflow => return,
            FailureReason::Closed => &mut self.unsent_at_close,
        };
        *category = category.saturating_add(n);
    }

    /// Lines lost: failed, dropped or refused.
    ///
    /// ```
    /// assert_eq!(linewire_std::Stats::default().lost(), 0);
    /// ```
    pub fn lost(&self) -> u64 {
        self.failed()
            .saturating_add(self.dropped)
            .saturating_add(self.refused)
    }
}

type Callback = Arc<dyn Fn(&Failure) + Send + Sync>;

/// Configures and starts a [`BackgroundWriter`].
///
/// ```
/// use std::time::Duration;
/// use linewire_std::{Backpressure, BackgroundWriter, Client};
///
/// let client = Client::new("http://localhost:8086", Some("t"))?.bucket("b");
/// let writer = BackgroundWriter::builder(client)
///     .batch_lines(5000)
///     .flush_interval(Duration::from_secs(1))
///     .capacity_lines(50_000)
///     .backpressure(Backpressure::DropOldest)
///     .close_timeout(Duration::from_secs(10))
///     .on_failure(|f| eprintln!("lost {} lines: {}", f.lines.len(), f.reason))
///     .start();
/// drop(writer);
/// # Ok::<(), linewire_std::Error>(())
/// ```
#[must_use]
pub struct WriterBuilder {
    client: Client,
    batch_lines: usize,
    interval: Duration,
    capacity: usize,
    backpressure: Backpressure,
    policy: RetryPolicy,
    close_timeout: Duration,
    on_failure: Option<Callback>,
}

impl fmt::Debug for WriterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterBuilder")
            .field("client", &self.client)
            .field("batch_lines", &self.batch_lines)
            .field("interval", &self.interval)
            .field("capacity", &self.capacity)
            .field("backpressure", &self.backpressure)
            .field("policy", &self.policy)
            .field("close_timeout", &self.close_timeout)
            .finish_non_exhaustive()
    }
}

impl WriterBuilder {
    /// Lines per batch (default 5000; at least 1).
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let b = linewire_std::BackgroundWriter::builder(c).batch_lines(100);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn batch_lines(mut self, lines: usize) -> Self {
        self.batch_lines = lines.max(1);
        self
    }

    /// The longest a line waits for its batch to fill (default 1 s).
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let b = linewire_std::BackgroundWriter::builder(c).flush_interval(std::time::Duration::from_millis(100));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// The queue bound in lines (default 50,000, as the Go client; at least 1).
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let b = linewire_std::BackgroundWriter::builder(c).capacity_lines(10_000);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn capacity_lines(mut self, lines: usize) -> Self {
        self.capacity = lines.max(1);
        self
    }

    /// What a push into a full queue does (default [`Backpressure::Block`]).
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let b = linewire_std::BackgroundWriter::builder(c).backpressure(linewire_std::Backpressure::Error);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn backpressure(mut self, policy: Backpressure) -> Self {
        self.backpressure = policy;
        self
    }

    /// The core's retry policy (default [`RetryPolicy::new`]: the Go and
    /// Python clients' backoff).
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let policy = linewire_std::RetryPolicy::new().first_interval_ms(1_000).max_retries(Some(10));
    /// let b = linewire_std::BackgroundWriter::builder(c).retry_policy(policy);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The longest wait a server's `Retry-After` may ask for (the core's
    /// [`RetryPolicy::max_retry_after_ms`], default 125 s); a longer one is
    /// cut to it. Set it after [`retry_policy`](Self::retry_policy), which
    /// replaces the whole policy.
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let b = linewire_std::BackgroundWriter::builder(c)
    ///     .max_retry_after(std::time::Duration::from_secs(30));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn max_retry_after(mut self, cap: std::time::Duration) -> Self {
        self.policy = self
            .policy
            .max_retry_after_ms(crate::deliver::duration_ms(cap));
        self
    }

    /// How long [`close`](BackgroundWriter::close) and `Drop` wait for
    /// queued lines to be delivered (default 10 s); what is left is
    /// reported as [`FailureReason::Closed`].
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let b = linewire_std::BackgroundWriter::builder(c).close_timeout(std::time::Duration::from_secs(3));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout;
        self
    }

    /// Called on the worker thread for every group of lines that will not
    /// be stored (refused, given up, dropped, or left at close).
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let (tx, rx) = std::sync::mpsc::channel();
    /// let b = linewire_std::BackgroundWriter::builder(c).on_failure(move |f| {
    ///     let _ = tx.send(f.clone());
    /// });
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn on_failure(mut self, callback: impl Fn(&Failure) + Send + Sync + 'static) -> Self {
        self.on_failure = Some(Arc::new(callback));
        self
    }

    /// Starts the worker thread.
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let writer = linewire_std::BackgroundWriter::builder(c).start();
    /// assert_eq!(writer.stats().pending, 0);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn start(self) -> BackgroundWriter {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            space: Condvar::new(),
            done: Condvar::new(),
        });
        let precision = self.client.precision_setting();
        let worker = Worker {
            shared: Arc::clone(&shared),
            client: self.client,
            batch_lines: self.batch_lines,
            interval: self.interval,
            policy: self.policy,
            on_failure: self.on_failure,
        };
        let handle = std::thread::Builder::new()
            .name("linewire-writer".into())
            .spawn(move || worker.run());
        let handle = match handle {
            Ok(h) => Some(h),
            Err(e) => {
                log::error!("could not start the writer thread: {e}");
                lock(&shared).closing = true;
                None
            }
        };
        BackgroundWriter {
            shared,
            handle,
            capacity: self.capacity,
            backpressure: self.backpressure,
            close_timeout: self.close_timeout,
            precision,
        }
    }
}

/// Above this many bytes, the queue's ring is freed when it empties.
const KEEP_RING_BYTES: usize = 1 << 20;

/// Lines queued by one push (or the part of it that fit).
struct Chunk {
    /// Its bytes in the ring: the lines, each followed by `\n`.
    bytes: usize,
    lines: usize,
    /// Each line's length (`\n` included) when some line holds a raw
    /// newline (in a string field); `None`: every line ends at a `\n`.
    lens: Option<VecDeque<usize>>,
}

/// Lines to queue: `bytes` holds `lines` lines, each followed by `\n`;
/// `lens`, as in [`Chunk`].
#[derive(Clone, Copy)]
struct Input<'a> {
    bytes: &'a [u8],
    lines: usize,
    lens: Option<&'a [usize]>,
}

impl<'a> Input<'a> {
    /// The first `n` lines and the rest.
    fn split(self, n: usize) -> (Self, Self) {
        let n = n.min(self.lines);
        let (at, lens) = match self.lens {
            Some(lens) => {
                let (a, b) = lens.split_at(n);
                (a.iter().sum(), Some((a, b)))
            }
            None => (deliver::lines_len([self.bytes, &[]], n), None),
        };
        let (a, b) = self.bytes.split_at(at.min(self.bytes.len()));
        (
            Self {
                bytes: a,
                lines: n,
                lens: lens.map(|(l, _)| l),
            },
            Self {
                bytes: b,
                lines: self.lines - n,
                lens: lens.map(|(_, l)| l),
            },
        )
    }
}

/// The queued lines, oldest first, packed: their bytes (each line followed
/// by `\n`) in one ring, in chunks as pushed, so a push copies the bytes
/// once and allocates nothing per line, and a batch is taken with one
/// copy. Line boundaries are never searched for across a raw newline in a
/// string field: such chunks record them.
#[derive(Default)]
struct Queue {
    bytes: VecDeque<u8>,
    chunks: VecDeque<Chunk>,
    lines: usize,
}

impl Queue {
    fn len(&self) -> usize {
        self.lines
    }

    fn is_empty(&self) -> bool {
        self.lines == 0
    }

    fn push(&mut self, input: Input<'_>) {
        if input.lines == 0 {
            return;
        }
        self.bytes.extend(input.bytes);
        self.chunks.push_back(Chunk {
            bytes: input.bytes.len(),
            lines: input.lines,
            lens: input.lens.map(|l| l.iter().copied().collect()),
        });
        self.lines += input.lines;
    }

    /// The length of the first `n` lines of the front chunk (at most all).
    fn front_len(&self, n: usize) -> usize {
        let Some(chunk) = self.chunks.front() else {
            return 0;
        };
        if n >= chunk.lines {
            return chunk.bytes;
        }
        match &chunk.lens {
            Some(lens) => lens.iter().take(n).sum(),
            None => {
                let (a, b) = self.bytes.as_slices();
                let a_len = chunk.bytes.min(a.len());
                let parts = [
                    a.get(..a_len).unwrap_or_default(),
                    b.get(..chunk.bytes - a_len).unwrap_or_default(),
                ];
                deliver::lines_len(parts, n)
            }
        }
    }

    /// Removes the first `n` lines of the front chunk (at most all); its
    /// recorded lengths when it had them.
    fn consume_front(&mut self, n: usize, bytes: usize) -> Option<Vec<usize>> {
        let chunk = self.chunks.front_mut()?;
        let n = n.min(chunk.lines);
        let lens = chunk.lens.as_mut().map(|l| l.drain(..n).collect());
        chunk.lines -= n;
        chunk.bytes -= bytes;
        if chunk.lines == 0 {
            self.chunks.pop_front();
        }
        self.lines -= n;
        lens
    }

    /// Removes the oldest line and returns its text.
    fn pop_front(&mut self) -> Option<String> {
        let len = self.front_len(1);
        self.consume_front(1, len);
        let mut text: Vec<u8> = self.bytes.drain(..len).collect();
        text.pop();
        self.release();
        Some(String::from_utf8_lossy(&text).into_owned())
    }

    /// Removes the `n` oldest lines (at most all), packed, tagged from `first`.
    fn take(&mut self, n: usize, first: u64) -> Packed {
        let n = n.min(self.lines);
        let mut left = n;
        let mut body = Vec::with_capacity(self.bytes_of_first(n));
        // (bytes, recorded lengths) of each piece taken, for the line ends
        // when some piece recorded them.
        let mut pieces: Vec<(usize, Option<Vec<usize>>)> = Vec::new();
        while left > 0 && !self.chunks.is_empty() {
            let front_lines = self.chunks.front().map_or(0, |c| c.lines);
            let k = left.min(front_lines);
            let len = self.front_len(k);
            let lens = self.consume_front(k, len);
            let (front, back) = self.bytes.as_slices();
            let from_front = len.min(front.len());
            body.extend_from_slice(front.get(..from_front).unwrap_or_default());
            body.extend_from_slice(back.get(..len - from_front).unwrap_or_default());
            self.bytes.drain(..len);
            pieces.push((len, lens));
            left -= k;
        }
        self.release();
        let ends = pieces.iter().any(|(_, l)| l.is_some()).then(|| {
            let mut ends = Vec::with_capacity(n);
            let mut at = 0usize;
            for (len, lens) in &pieces {
                match lens {
                    Some(lens) => {
                        for l in lens {
                            at += l;
                            ends.push(at);
                        }
                    }
                    None => {
                        let piece = body.get(at..at + len).unwrap_or_default();
                        for (i, &b) in piece.iter().enumerate() {
                            if b == b'\n' {
                                ends.push(at + i + 1);
                            }
                        }
                        at += len;
                    }
                }
            }
            ends
        });
        Packed::new(body, n - left, ends, first)
    }

    /// About the bytes of the `n` oldest lines (whole chunks, at most all
    /// queued bytes): a capacity for a batch body.
    fn bytes_of_first(&self, n: usize) -> usize {
        let mut lines = 0usize;
        let mut bytes = 0usize;
        for c in &self.chunks {
            if lines >= n {
                break;
            }
            lines += c.lines;
            bytes += c.bytes;
        }
        bytes
    }

    /// Frees a large ring once it is empty.
    fn release(&mut self) {
        if self.lines == 0 && self.bytes.capacity() > KEEP_RING_BYTES {
            self.bytes = VecDeque::new();
            self.chunks = VecDeque::new();
        }
    }
}

#[derive(Default)]
struct State {
    queue: Queue,
    /// The sequence number of the next line pushed.
    next_seq: u64,
    /// The first sequence numbers of the batches taken from the queue and
    /// not yet settled, oldest first (two while the next batch is being
    /// compressed as one is sent).
    inflight: std::collections::VecDeque<u64>,
    /// When the oldest queued line arrived.
    oldest_at: Option<Instant>,
    /// Send everything below this sequence number now.
    flush_to: u64,
    closing: bool,
    /// Past this, the worker fails what it holds and exits.
    deadline: Option<Instant>,
    exited: bool,
    /// Lines evicted by `DropOldest`, to report from the worker thread.
    dropped_report: Option<Vec<String>>,
    stats: Stats,
}

impl State {
    /// The sequence number of the oldest queued line (`next_seq` when
    /// none is): the queued lines are the latest pushed, in order.
    fn front_seq(&self) -> u64 {
        self.next_seq.saturating_sub(self.queue.len() as u64)
    }

    /// The lowest sequence number not yet settled.
    fn low_water(&self) -> u64 {
        self.inflight
            .front()
            .copied()
            .unwrap_or_else(|| self.front_seq())
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the worker: lines, flush, close.
    work: Condvar,
    /// Wakes blocked pushers: room in the queue.
    space: Condvar,
    /// Wakes flush and close: lines settled, worker exited.
    done: Condvar,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic in the user's callback must not wedge the writer.
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A bounded queue of lines and a worker thread that sends them; see the
/// [module docs](self). `Drop` closes it (flushing, up to the close
/// timeout).
///
/// ```
/// # let server = linewire_testkit::TestServer::start();
/// let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
/// let writer = linewire_std::BackgroundWriter::new(client);
/// writer.push_lines("m v=1i 1\n")?;
/// drop(writer); // flushes
/// assert_eq!(server.points("b").len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct BackgroundWriter {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
    capacity: usize,
    backpressure: Backpressure,
    close_timeout: Duration,
    precision: linewire::Precision,
}

impl fmt::Debug for BackgroundWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundWriter")
            .field("capacity", &self.capacity)
            .field("backpressure", &self.backpressure)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl BackgroundWriter {
    /// A writer with the defaults (5000 lines or 1 s per batch, 50,000
    /// lines queued, blocking when full).
    ///
    /// ```
    /// let client = linewire_std::Client::new("http://localhost:8086", None)?.bucket("b");
    /// let writer = linewire_std::BackgroundWriter::new(client);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn new(client: Client) -> Self {
        Self::builder(client).start()
    }

    /// A builder for `client`.
    ///
    /// ```
    /// let client = linewire_std::Client::new("http://localhost:8086", None)?.bucket("b");
    /// let writer = linewire_std::BackgroundWriter::builder(client).batch_lines(500).start();
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn builder(client: Client) -> WriterBuilder {
        WriterBuilder {
            client,
            batch_lines: 5000,
            interval: Duration::from_secs(1),
            capacity: 50_000,
            backpressure: Backpressure::Block,
            policy: RetryPolicy::new(),
            close_timeout: Duration::from_secs(10),
            on_failure: None,
        }
    }

    /// Queues the lines of a batch. The batch's precision must be the
    /// client's.
    ///
    /// # Errors
    ///
    /// [`PushError`]: full (under [`Backpressure::Error`]), closed, or a
    /// precision mismatch. Nothing is queued then.
    ///
    /// ```
    /// use linewire_std::{Batch, Precision};
    /// # let client = linewire_std::Client::new("http://localhost:1", None)?.bucket("b");
    /// let writer = linewire_std::BackgroundWriter::new(client.precision(Precision::Seconds));
    /// let mut batch = Batch::<128>::with_precision(Precision::Milliseconds);
    /// batch.point("m")?.field("v", 1i64)?.timestamp(1)?;
    /// assert_eq!(writer.push(&batch), Err(linewire_std::PushError::PrecisionMismatch));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push<S: Storage>(&self, batch: &BatchInner<S>) -> Result<(), PushError> {
        if batch.precision() != self.precision {
            self.count_refused(batch.line_count());
            return Err(PushError::PrecisionMismatch);
        }
        // The batch's bytes are its lines, each followed by `\n`. When one
        // holds a raw newline (in a string field) there are more `\n`s than
        // lines, and the batch's own boundaries are recorded.
        let bytes = batch.as_bytes();
        let lines = batch.line_count();
        let lens: Option<Vec<usize>> = (deliver::count_newlines(bytes) != lines)
            .then(|| batch.lines().map(|l| l.len() + 1).collect());
        self.enqueue(Input {
            bytes,
            lines: lens.as_ref().map_or(lines, Vec::len),
            lens: lens.as_deref(),
        })
    }

    /// Queues `\n`-separated lines of line protocol (at the client's
    /// precision). Empty lines are skipped; lines are not validated here
    /// (the server reports bad ones).
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] under [`Backpressure::Error`] when they do not
    /// all fit (nothing is queued), [`PushError::Closed`] after close.
    ///
    /// ```
    /// # let client = linewire_std::Client::new("http://localhost:1", None)?.bucket("b");
    /// let writer = linewire_std::BackgroundWriter::builder(client)
    ///     .capacity_lines(1)
    ///     .backpressure(linewire_std::Backpressure::Error)
    ///     .flush_interval(std::time::Duration::from_secs(60))
    ///     .close_timeout(std::time::Duration::ZERO)
    ///     .start();
    /// writer.push_lines("m v=1\n")?;
    /// assert_eq!(writer.push_lines("m v=2\n"), Err(linewire_std::PushError::Full));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_lines(&self, lines: &str) -> Result<(), PushError> {
        let mut bytes = Vec::with_capacity(lines.len() + 1);
        let mut count = 0usize;
        for line in lines
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.trim().is_empty())
        {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
            count += 1;
        }
        self.enqueue(Input {
            bytes: &bytes,
            lines: count,
            lens: None,
        })
    }

    /// Queues `input` under the back-pressure policy.
    fn enqueue(&self, input: Input<'_>) -> Result<(), PushError> {
        let count = input.lines;
        if count == 0 {
            return Ok(());
        }
        let mut st = lock(&self.shared);
        if st.closing {
            drop(st);
            self.count_refused(count);
            return Err(PushError::Closed);
        }
        if self.backpressure == Backpressure::Error
            && st.queue.len().saturating_add(count) > self.capacity
        {
            st.stats.refused = st.stats.refused.saturating_add(count as u64);
            return Err(PushError::Full);
        }
        let mut evicted = Vec::new();
        let mut rest = input;
        while rest.lines > 0 {
            let room = self.capacity.saturating_sub(st.queue.len());
            let n = match self.backpressure {
                // Room for up to a whole queue of new lines, evicting the
                // oldest (which may be earlier lines of this push).
                Backpressure::DropOldest => {
                    let n = rest.lines.min(self.capacity);
                    for _ in room..n {
                        if let Some(old) = st.queue.pop_front() {
                            evicted.push(old);
                            st.stats.dropped = st.stats.dropped.saturating_add(1);
                            st.stats.pending = st.stats.pending.saturating_sub(1);
                        }
                    }
                    n
                }
                _ if room == 0 => {
                    if st.closing {
                        return Err(PushError::Closed);
                    }
                    self.shared.work.notify_one();
                    st = self
                        .shared
                        .space
                        .wait(st)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    continue;
                }
                _ => rest.lines.min(room),
            };
            let (now, later) = rest.split(n);
            rest = later;
            st.queue.push(now);
            let n = n as u64;
            st.next_seq = st.next_seq.saturating_add(n);
            if st.oldest_at.is_none() {
                st.oldest_at = Some(Instant::now());
            }
            st.stats.accepted = st.stats.accepted.saturating_add(n);
            st.stats.pending = st.stats.pending.saturating_add(n);
        }
        if !evicted.is_empty() {
            log::warn!("queue full: dropped the {} oldest lines", evicted.len());
            st.dropped_report = Some(match st.dropped_report.take() {
                Some(mut v) => {
                    v.extend(evicted);
                    v
                }
                None => evicted,
            });
        }
        drop(st);
        self.shared.work.notify_one();
        Ok(())
    }

    fn count_refused(&self, n: usize) {
        let mut st = lock(&self.shared);
        st.stats.refused = st.stats.refused.saturating_add(n as u64);
    }

    /// Sends everything queued so far and waits until each line is stored
    /// or has failed (reported to the callback). Lines pushed meanwhile are
    /// not waited for. Returns at once after [`close`](Self::close).
    ///
    /// With the default retry policy a server outage can make this wait up
    /// to the policy's limit (180 s per batch); see
    /// [`flush_timeout`](Self::flush_timeout).
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::start();
    /// # let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
    /// let writer = linewire_std::BackgroundWriter::new(client);
    /// writer.push_lines("m v=1i 1\nm v=2i 2\n")?;
    /// writer.flush();
    /// assert_eq!(writer.stats().sent, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) {
        self.flush_until(None);
    }

    /// [`flush`](Self::flush), waiting at most `timeout`. `true` when
    /// everything queued before the call is settled.
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::start();
    /// # let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
    /// let writer = linewire_std::BackgroundWriter::new(client);
    /// writer.push_lines("m v=1i 1\n")?;
    /// assert!(writer.flush_timeout(std::time::Duration::from_secs(10)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush_timeout(&self, timeout: Duration) -> bool {
        self.flush_until(Instant::now().checked_add(timeout))
    }

    fn flush_until(&self, deadline: Option<Instant>) -> bool {
        let mut st = lock(&self.shared);
        let target = st.next_seq;
        st.flush_to = st.flush_to.max(target);
        self.shared.work.notify_one();
        loop {
            if st.low_water() >= target {
                return true;
            }
            if st.exited {
                return false;
            }
            st = match deadline {
                None => self
                    .shared
                    .done
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    self.shared
                        .done
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// The counters now.
    ///
    /// ```
    /// # let client = linewire_std::Client::new("http://localhost:1", None)?.bucket("b");
    /// let writer = linewire_std::BackgroundWriter::new(client);
    /// assert_eq!(writer.stats().accepted, 0);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        lock(&self.shared).stats
    }

    /// Flushes (up to the close timeout), stops the worker and returns the
    /// final counters. Lines still queued or retrying at the timeout are
    /// reported as [`FailureReason::Closed`].
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::start();
    /// # let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
    /// let writer = linewire_std::BackgroundWriter::new(client);
    /// writer.push_lines("m v=1i 1\n")?;
    /// let stats = writer.close();
    /// assert_eq!((stats.sent, stats.pending), (1, 0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(mut self) -> Stats {
        self.shutdown();
        self.stats()
    }

    fn shutdown(&mut self) {
        let Some(handle) = self.handle.take() else {
            return;
        };
        let deadline = Instant::now().checked_add(self.close_timeout);
        {
            let mut st = lock(&self.shared);
            st.closing = true;
            st.deadline = deadline;
            st.flush_to = st.next_seq;
        }
        self.shared.work.notify_all();
        self.shared.space.notify_all();
        // Wait for the worker; a request in flight may outlast the deadline
        // by up to the client's timeout.
        let mut st = lock(&self.shared);
        while !st.exited {
            st = self
                .shared
                .done
                .wait_timeout(st, Duration::from_millis(100))
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
        drop(st);
        if handle.join().is_err() {
            log::error!("the writer thread panicked");
        }
    }
}

impl Drop for BackgroundWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Worker {
    shared: Arc<Shared>,
    client: Client,
    batch_lines: usize,
    interval: Duration,
    policy: RetryPolicy,
    on_failure: Option<Callback>,
}

impl Worker {
    fn run(self) {
        let start = Instant::now();
        let now_ms = move || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut backoff = Backoff::new(self.policy);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.subsec_nanos() ^ (std::process::id() << 16));
        let mut rng = XorShift32::new(seed);
        let mut deliver_one = |batch: Packed, compressed: Option<Vec<u8>>| {
            let mut tries = Tries::default();
            let shared = Arc::clone(&self.shared);
            let mut wait_until = move |at_ms: u64| -> bool {
                let mut st = lock(&shared);
                loop {
                    if st.past_deadline() {
                        return false;
                    }
                    let now = now_ms();
                    if now >= at_ms {
                        return true;
                    }
                    let mut wait = Duration::from_millis(at_ms - now);
                    if let Some(d) = st.deadline {
                        wait = wait.min(d.saturating_duration_since(Instant::now()));
                    }
                    st = shared
                        .work
                        .wait_timeout(st, wait)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0;
                }
            };
            let mut ctx = Ctx {
                client: &self.client,
                backoff: &mut backoff,
                rng: &mut rng,
                now_ms: &now_ms,
                wait_until: &mut wait_until,
                tries: &mut tries,
            };
            let mut settled = Vec::new();
            deliver::deliver(&mut ctx, &batch, compressed, &mut |s| settled.push(s));
            let mut failures = Vec::new();
            {
                let mut st = lock(&self.shared);
                st.stats.requests = st.stats.requests.saturating_add(tries.requests);
                st.stats.retries = st.stats.retries.saturating_add(tries.retries);
                for s in settled {
                    let (sent, failed) = match s {
                        Settled::Sent(n) => (n, 0),
                        Settled::Failed(f) => {
                            // Lines counted rejected but not named are
                            // failed too, though no line can be reported.
                            let n = f.lines.len() + f.unnamed;
                            let w = f.written;
                            st.stats.count_failed(&f.reason, n as u64);
                            failures.push(Failure {
                                lines: f.lines.into_iter().map(|l| l.text).collect(),
                                written: w,
                                reason: f.reason,
                            });
                            (w, n)
                        }
                    };
                    st.stats.sent = st.stats.sent.saturating_add(sent as u64);
                    st.stats.pending = st.stats.pending.saturating_sub((sent + failed) as u64);
                }
                // Batches are settled in the order they were taken.
                st.inflight.pop_front();
            }
            self.report(failures);
            self.shared.done.notify_all();
        };
        match self.client.gzip_level_in_use() {
            // Compress the next batch while this one is in flight: the
            // server answers only once it has parsed the whole body, so
            // compressing after the answer would leave it idle meanwhile.
            Some(level) => std::thread::scope(|scope| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<(Packed, Vec<u8>)>(0);
                let this = &self;
                scope.spawn(move || {
                    while let Some(batch) = this.next_batch() {
                        let gz = crate::gzip::gzip(batch.body(&(0..batch.len())), level);
                        if tx.send((batch, gz)).is_err() {
                            break;
                        }
                    }
                });
                for (batch, gz) in rx {
                    deliver_one(batch, Some(gz));
                }
            }),
            None => {
                while let Some(batch) = self.next_batch() {
                    deliver_one(batch, None);
                }
            }
        }
        lock(&self.shared).exited = true;
        self.shared.done.notify_all();
        self.shared.space.notify_all();
    }

    fn report(&self, failures: Vec<Failure>) {
        for f in failures {
            log::error!("{} lines not stored: {}", f.lines.len(), f.reason);
            if let Some(cb) = &self.on_failure {
                cb(&f);
            }
        }
    }

    /// Waits for a batch to be due and takes it; `None` when closing and
    /// nothing is left.
    fn next_batch(&self) -> Option<Packed> {
        let mut st = lock(&self.shared);
        loop {
            if let Some(evicted) = st.dropped_report.take() {
                drop(st);
                self.report(vec![Failure {
                    lines: evicted,
                    written: 0,
                    reason: FailureReason::Overflow,
                }]);
                self.shared.done.notify_all();
                st = lock(&self.shared);
                continue;
            }
            if st.queue.is_empty() {
                if st.closing {
                    return None;
                }
                st = self
                    .shared
                    .work
                    .wait(st)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                continue;
            }
            if st.past_deadline() {
                let first = st.front_seq();
                let all = st.queue.len();
                let left = st.queue.take(all, first);
                let n = all as u64;
                st.stats.count_failed(&FailureReason::Closed, n);
                st.stats.pending = st.stats.pending.saturating_sub(n);
                st.oldest_at = None;
                drop(st);
                self.shared.space.notify_all();
                log::error!("close timeout: {n} lines not sent");
                self.report(vec![Failure {
                    lines: left.texts(),
                    written: 0,
                    reason: FailureReason::Closed,
                }]);
                self.shared.done.notify_all();
                st = lock(&self.shared);
                continue;
            }
            let waited = st.oldest_at.map_or(Duration::ZERO, |t| t.elapsed());
            let flushing = !st.queue.is_empty() && st.front_seq() < st.flush_to;
            if st.queue.len() >= self.batch_lines
                || flushing
                || st.closing
                || waited >= self.interval
            {
                let n = st.queue.len().min(self.batch_lines);
                let first = st.front_seq();
                let batch = st.queue.take(n, first);
                st.inflight.push_back(first);
                st.oldest_at = if st.queue.is_empty() {
                    None
                } else {
                    Some(Instant::now())
                };
                drop(st);
                self.shared.space.notify_all();
                return Some(batch);
            }
            let left = self.interval.saturating_sub(waited);
            st = self
                .shared
                .work
                .wait_timeout(st, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(p: &Packed) -> Vec<String> {
        p.texts()
    }

    #[test]
    fn queue_takes_whole_lines_across_chunks_and_wraps() {
        let mut q = Queue::default();
        let mut want: VecDeque<String> = VecDeque::new();
        let mut seq = 0u64;
        let mut first = 0u64;
        for round in 0..200usize {
            // Plain chunks and chunks with a raw newline in a string field.
            let lines: Vec<String> = (0..(round % 7) + 1)
                .map(|i| {
                    if (round + i) % 5 == 0 {
                        format!("m s=\"a\nb{round}\" {i}")
                    } else {
                        format!("m v={round}i {i}")
                    }
                })
                .collect();
            let mut bytes = Vec::new();
            let mut lens = Vec::new();
            for l in &lines {
                bytes.extend_from_slice(l.as_bytes());
                bytes.push(b'\n');
                lens.push(l.len() + 1);
            }
            let plain = deliver::count_newlines(&bytes) == lines.len();
            let input = Input {
                bytes: &bytes,
                lines: lines.len(),
                lens: (!plain).then_some(&lens[..]),
            };
            let (a, b) = input.split(round % 3);
            q.push(a);
            q.push(b);
            want.extend(lines);
            seq += bytes.len() as u64;
            if round % 3 == 2 {
                let old = q.pop_front().unwrap();
                assert_eq!(old, want.pop_front().unwrap());
                first += 1;
            }
            let n = (round * 5) % 11;
            let got = q.take(n, first);
            let expect: Vec<String> = want.drain(..n.min(want.len())).collect();
            assert_eq!(texts(&got), expect, "round {round}");
            assert_eq!(got.len(), expect.len());
            first += expect.len() as u64;
            assert_eq!(q.len(), want.len());
        }
        let rest = q.take(usize::MAX, first);
        assert_eq!(texts(&rest), Vec::from(want));
        assert!(q.is_empty() && q.bytes.is_empty() && seq > 0);
    }

    #[test]
    fn a_raw_newline_in_a_string_field_stays_in_its_line() {
        let server = linewire_testkit::TestServer::start();
        let client = Client::new(&server.url(), None).unwrap().bucket("b");
        let writer = BackgroundWriter::builder(client).capacity_lines(2).start();
        let mut batch = linewire::Batch::<256>::new();
        for i in 0..3i64 {
            batch
                .point("m")
                .unwrap()
                .field("s", "x\ny")
                .unwrap()
                .field("v", i)
                .unwrap()
                .finish()
                .unwrap();
        }
        writer.push(&batch).unwrap();
        let stats = writer.close();
        // Three lines (not six), in batches of whole lines: the body is the
        // batch's bytes either way.
        assert_eq!((stats.accepted, stats.sent, stats.lost()), (3, 3, 0));
    }
}
