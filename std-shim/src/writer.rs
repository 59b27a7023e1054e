//! A background writer: points go into a bounded in-memory queue from any
//! thread; a worker thread sends them in batches through a [`Client`].
//!
//! A batch goes out when [`WriterBuilder::batch_lines`] lines are queued
//! (default 5000, as the Go client) or the oldest queued line has waited
//! [`WriterBuilder::flush_interval`] (default 1 s), or on a flush or close.
//!
//! What happens to a batch is decided by the core's delivery machine,
//! [`linewire::Delivery`], the same one the core's [`linewire::Writer`]
//! runs on a microcontroller (see its table of answers): the
//! [`RetryPolicy`] (backoff with jitter, `Retry-After`, give up after 5
//! retries or 180 s by default); a 413 splits the batch in halves,
//! recursively, and a single line that is still too large is dropped and
//! reported; partial writes store the good lines and the rejected ones
//! are reported; a connection closed before any answer is resent at once
//! on a new connection. 401, 403, 404 and other answers that need a
//! configuration change (and TLS handshakes that fail) drop the batch and
//! report it ([`linewire::OnMisconfigured::Drop`], as the Go and Python
//! clients do, so a daemon cannot fill its memory behind a revoked
//! token), where the core writer's default is to halt and keep them. This
//! module only moves bytes: it queues pushes into the machine, sends what
//! the machine hands out through `ureq` (TLS, pooled connections), tells
//! the machine what came back, and reports.
//!
//! Lost lines are reported to the [`WriterBuilder::on_failure`] callback
//! (on the worker thread) and counted in [`Stats`]; everything is logged
//! through the `log` crate, without the token.
//!
//! Accounting: `accepted = sent + failed() + dropped + pending` at any time,
//! and `failed` is split by why as in the core's counters: `rejected`,
//! `too_large`, `gave_up`, plus `misconfigured` and `unsent_at_close`.
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

use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use linewire::{BatchInner, Event, Lines, Next, QueueError, RetryPolicy, Storage};

use crate::client::Client;
use crate::deliver::{self, Driver, Machine, Request, Settled};
pub use crate::deliver::{FailureReason, GaveUp, Retried};

/// Bytes of queue per line of [`WriterBuilder::capacity_lines`] when no
/// [`WriterBuilder::capacity_bytes`] is set (a line of five fields and
/// three tags is about 150 bytes).
pub const BYTES_PER_LINE: usize = 256;

/// The smallest queue allocated by default, in bytes.
const MIN_CAPACITY_BYTES: usize = 1 << 20;

/// What [`BackgroundWriter::push`] does when the queue is full.
///
/// ```
/// assert_eq!(linewire_std::Backpressure::default(), linewire_std::Backpressure::Block);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Backpressure {
    /// Wait until the worker has made room for the whole push (a push of
    /// more lines than [`WriterBuilder::capacity_lines`] goes in parts;
    /// one of more bytes than [`WriterBuilder::capacity_bytes`] is
    /// refused with [`PushError::Full`]).
    #[default]
    Block,
    /// Evict the oldest queued lines (reported as [`FailureReason::Overflow`]
    /// and counted in [`Stats::dropped`]), which may be earlier lines of the
    /// same push: the newest lines are kept and a push is never refused
    /// for want of room (unless it alone is larger than the queue's bytes).
    /// Lines being sent may be evicted to make room too; they are then
    /// reported dropped only if their request does not store them: when
    /// the server stores it they count as sent and are not reported (until
    /// its answer they count in `dropped`).
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
    /// The text given to [`BackgroundWriter::push_lines`] does not end
    /// with the end of a line (a string field left open): where its lines
    /// end is unknown.
    Unframed,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Full => "the queue is full",
            Self::Closed => "the writer is closed",
            Self::PrecisionMismatch => "the batch's precision differs from the client's",
            Self::Unframed => "the lines do not end with a line feed outside a string field",
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
/// These are the core machine's [`linewire::Stats`] under this crate's
/// names (`pending` is its `queued`, `dropped` its `dropped_overflow`),
/// plus the pushes this writer refused itself.
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
    /// writer keeps these and halts by default; this one reports them and goes on.
    pub misconfigured: u64,
    /// Of [`failed`](Stats::failed): lines still queued or retrying when the close timeout
    /// ran out.
    pub unsent_at_close: u64,
    /// Lines evicted from the full queue ([`Backpressure::DropOldest`]);
    /// lines evicted while being sent count here until their request's
    /// answer, and move to [`sent`](Stats::sent) if it stored them.
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

    /// The machine's counters, and `refused` more pushes.
    fn of(s: &linewire::Stats, refused: u64) -> Self {
        Self {
            accepted: s.accepted,
            sent: s.sent,
            rejected: s.rejected,
            too_large: s.too_large,
            gave_up: s.gave_up,
            misconfigured: s.misconfigured,
            unsent_at_close: s.unsent_at_close,
            dropped: s.dropped_overflow,
            refused: s.refused.saturating_add(refused),
            pending: s.queued as u64,
            requests: s.requests,
            retries: s.retries,
        }
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
    capacity_bytes: Option<usize>,
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
            .field("capacity_bytes", &self.capacity_bytes)
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
    /// The queue is also bounded in bytes (see
    /// [`capacity_bytes`](Self::capacity_bytes)), by default
    /// [`BYTES_PER_LINE`] bytes a line (at least 1 MiB).
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

    /// The queue bound in bytes, allocated when the writer starts (default:
    /// [`capacity_lines`](Self::capacity_lines) times [`BYTES_PER_LINE`],
    /// at least 1 MiB). Whichever bound is reached first makes the queue
    /// full; a push larger than this is refused ([`PushError::Full`]).
    ///
    /// ```
    /// # let c = linewire_std::Client::new("http://h", None)?;
    /// let b = linewire_std::BackgroundWriter::builder(c).capacity_bytes(64 << 20);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn capacity_bytes(mut self, bytes: usize) -> Self {
        self.capacity_bytes = Some(bytes.max(1));
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
        let precision = self.client.get_precision();
        let bytes = self.capacity_bytes.unwrap_or_else(|| {
            self.capacity
                .saturating_mul(BYTES_PER_LINE)
                .max(MIN_CAPACITY_BYTES)
        });
        let mut machine = deliver::machine(bytes, precision, self.policy);
        machine.set_max_lines(self.batch_lines);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                machine,
                flush_to: 0,
                oldest_at: None,
                closing: false,
                deadline: None,
                exited: false,
                in_flight: false,
                resend: false,
                ahead: None,
                compressing: None,
                evicted: Vec::new(),
                evicted_in_flight: Vec::new(),
                refused: 0,
            }),
            work: Condvar::new(),
            space: Condvar::new(),
            done: Condvar::new(),
            ahead: Condvar::new(),
        });
        let worker = Worker {
            shared: Arc::clone(&shared),
            client: self.client,
            batch_lines: self.batch_lines,
            interval: self.interval,
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

/// A gzip member compressed ahead, for the batch of `lines` lines from
/// sequence number `first`.
struct Ahead {
    first: u64,
    lines: usize,
    body: Vec<u8>,
    gz: Vec<u8>,
}

struct State {
    /// The queue and every decision about it.
    machine: Machine,
    /// Send everything below this sequence number now.
    flush_to: u64,
    /// When the oldest queued line arrived (or the last batch left).
    oldest_at: Option<Instant>,
    closing: bool,
    /// Past this, the worker gives up what is queued and exits.
    deadline: Option<Instant>,
    exited: bool,
    /// A request is out (the machine's `upcoming` is worth compressing).
    in_flight: bool,
    /// The front batch was tried and is to go again (a retry, or the
    /// halves of a 413): due whatever the batching rule says.
    resend: bool,
    ahead: Option<Ahead>,
    /// `(first, lines)` of the batch being compressed ahead now.
    compressing: Option<(u64, usize)>,
    /// Lines evicted by `DropOldest`, to report from the worker thread.
    evicted: Vec<String>,
    /// Lines of the request in flight evicted by `DropOldest` (the oldest
    /// of its body, in order): reported once its outcome is known, and
    /// only if it did not store them.
    evicted_in_flight: Vec<String>,
    /// Pushes refused here (closed, full by the line bound).
    refused: u64,
}

impl State {
    /// The sequence number of the oldest unsettled line (in flight lines
    /// are still queued).
    fn low_water(&self) -> u64 {
        let q = self.machine.queue();
        q.pushed().saturating_sub(q.len() as u64)
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// The texts of the first `n` queued lines (at most all).
    fn front_texts(&self, n: usize) -> Vec<String> {
        self.machine
            .queue()
            .regions()
            .into_iter()
            .flat_map(Lines::new)
            .take(n)
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    /// Evicts the `n` oldest lines (`DropOldest`), keeping their texts
    /// for the report; those of the request in flight (the front) are
    /// held until its outcome ([`settle_evicted`](Self::settle_evicted)).
    fn evict(&mut self, n: usize) {
        let mut texts = self.front_texts(n);
        let before = self.machine.evicted_in_flight();
        let n = self.machine.drop_oldest(texts.len());
        texts.truncate(n);
        let of_request = self
            .machine
            .evicted_in_flight()
            .saturating_sub(before)
            .min(n);
        let rest = texts.split_off(of_request);
        self.evicted_in_flight.extend(texts);
        self.evicted.extend(rest);
    }

    /// The request in flight is settled with `event`: the texts of its
    /// lines evicted meanwhile are forgotten if the server stored them
    /// (the machine counts them sent), else reported as evicted.
    fn settle_evicted(&mut self, event: &Event) {
        let held = std::mem::take(&mut self.evicted_in_flight);
        if !matches!(event, Event::Delivered { .. }) {
            // Older than any line evicted since.
            self.evicted.splice(0..0, held);
        }
    }

    fn stats(&self) -> Stats {
        Stats::of(&self.machine.stats(), self.refused)
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
    /// Wakes the compressor (a request went out, lines arrived) and a
    /// sender waiting for it.
    ahead: Condvar,
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic in the user's callback must not wedge the writer.
    shared
        .state
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn wait<'a>(cv: &Condvar, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    cv.wait(st)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn wait_for<'a>(cv: &Condvar, st: MutexGuard<'a, State>, d: Duration) -> MutexGuard<'a, State> {
    cv.wait_timeout(st, d)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .0
}

/// The byte offset just past the first `n` lines of `bytes` (whole lines).
fn after_lines(bytes: &[u8], n: usize) -> usize {
    Lines::new(bytes).take(n).map(|l| l.len() + 1).sum()
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
            capacity_bytes: None,
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
    /// [`PushError`]: full (under [`Backpressure::Error`], or more bytes
    /// than the whole queue holds), closed, or a precision mismatch.
    /// Nothing is queued then.
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
            lock(&self.shared).refused += batch.line_count() as u64;
            return Err(PushError::PrecisionMismatch);
        }
        // Whole, the batch goes in as a batch: its lines are counted.
        self.enqueue(batch.as_bytes(), batch.line_count(), &mut |m| m.push(batch))
    }

    /// Queues `\n`-separated lines of line protocol (at the client's
    /// precision). Empty lines are skipped; lines are not validated here
    /// (the server reports bad ones), but they are framed as line protocol
    /// frames them: a string field may hold a raw line feed.
    ///
    /// # Errors
    ///
    /// [`PushError::Full`] under [`Backpressure::Error`] when they do not
    /// all fit (nothing is queued), [`PushError::Closed`] after close,
    /// [`PushError::Unframed`] when the text ends inside a string field.
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
        for line in lines
            .split('\n')
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .filter(|l| !l.trim().is_empty())
        {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        let count = Lines::new(&bytes).count();
        self.enqueue(&bytes, count, &mut |m| m.push_lines(&bytes))
    }

    /// Queues `count` whole lines, `bytes`, under the back-pressure
    /// policy: the line bound is this writer's, the byte bound the
    /// machine's queue. `whole` pushes all of them into the machine.
    fn enqueue(
        &self,
        bytes: &[u8],
        count: usize,
        whole: &mut dyn FnMut(&mut Machine) -> Result<usize, QueueError>,
    ) -> Result<(), PushError> {
        if count == 0 {
            return Ok(());
        }
        let mut st = lock(&self.shared);
        let mut rest = bytes;
        let mut left = count;
        while left > 0 {
            if st.closing {
                st.refused += left as u64;
                return Err(PushError::Closed);
            }
            let queued = st.machine.queue().len();
            let room = self.capacity.saturating_sub(queued);
            // The part of the push that goes now (the bytes to push).
            let n = match self.backpressure {
                Backpressure::Error if left > room => {
                    st.refused += left as u64;
                    return Err(PushError::Full);
                }
                // A push waits until all of it fits (it then goes in as
                // it is, with no scan of its lines); only one larger than
                // the whole bound goes in parts.
                Backpressure::Block if room == 0 || (left > room && left <= self.capacity) => {
                    self.shared.work.notify_one();
                    st = wait(&self.shared.space, st);
                    continue;
                }
                Backpressure::Block => left.min(room),
                // Everything: the oldest are evicted below, which may be
                // earlier lines of this push.
                _ => left,
            };
            let len = if n == left {
                rest.len()
            } else {
                after_lines(rest, n)
            };
            let (now, later) = rest.split_at(len.min(rest.len()));
            let pushed = if n == count {
                whole(&mut st.machine)
            } else {
                st.machine.push_lines(now)
            };
            match pushed {
                Ok(_) => {
                    rest = later;
                    left -= n;
                    if st.oldest_at.is_none() {
                        st.oldest_at = Some(Instant::now());
                    }
                    let over = st.machine.queue().len().saturating_sub(self.capacity);
                    if over > 0 {
                        st.evict(over);
                    }
                }
                // No room for the bytes.
                Err(QueueError::Full) => match self.backpressure {
                    Backpressure::Error => {
                        st.refused += left as u64;
                        return Err(PushError::Full);
                    }
                    Backpressure::DropOldest => st.evict(1),
                    _ => {
                        self.shared.work.notify_one();
                        st = wait(&self.shared.space, st);
                    }
                },
                // Counted refused by the machine.
                Err(QueueError::Unframed) => return Err(PushError::Unframed),
                Err(_) => return Err(PushError::Full),
            }
        }
        if !st.evicted.is_empty() {
            log::warn!("queue full: dropped the {} oldest lines", st.evicted.len());
        }
        drop(st);
        // Not the compressor: it looks at the next batch when a request
        // goes out (or on a flush), not at every push.
        self.shared.work.notify_one();
        Ok(())
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
        let target = st.machine.queue().pushed();
        st.flush_to = st.flush_to.max(target);
        self.shared.work.notify_one();
        self.shared.ahead.notify_all();
        loop {
            if st.low_water() >= target {
                return true;
            }
            if st.exited {
                return false;
            }
            st = match deadline {
                None => wait(&self.shared.done, st),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    wait_for(&self.shared.done, st, d - now)
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
        lock(&self.shared).stats()
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
            st.flush_to = st.machine.queue().pushed();
        }
        self.shared.work.notify_all();
        self.shared.space.notify_all();
        self.shared.ahead.notify_all();
        // Wait for the worker; a request in flight may outlast the deadline
        // by up to the client's timeout.
        let mut st = lock(&self.shared);
        while !st.exited {
            st = wait_for(&self.shared.done, st, Duration::from_millis(100));
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
    on_failure: Option<Callback>,
}

impl Worker {
    fn run(self) {
        let start = Instant::now();
        let now_ms = move || u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        match self.client.gzip_level_in_use() {
            // Compress the next batch while this one is in flight: the
            // server answers only once it has parsed the whole body, so
            // compressing after the answer would leave it idle meanwhile.
            Some(level) => std::thread::scope(|scope| {
                scope.spawn(|| self.compress_ahead(level));
                self.send_loop(&now_ms, true);
            }),
            None => self.send_loop(&now_ms, false),
        }
    }

    /// Whether the batch the machine hands out now is due.
    fn due(&self, st: &State) -> bool {
        let queued = st.machine.queue().len();
        let waited = st.oldest_at.map_or(Duration::ZERO, |t| t.elapsed());
        st.resend
            || queued >= self.batch_lines
            || st.low_water() < st.flush_to
            || st.closing
            || waited >= self.interval
    }

    /// The sending thread: hands the machine's batches to the client and
    /// the results back, until closed and empty.
    fn send_loop(&self, now_ms: &dyn Fn() -> u64, gzip: bool) {
        let mut driver = Driver::default();
        let mut st = lock(&self.shared);
        loop {
            if !st.evicted.is_empty() {
                let lines = std::mem::take(&mut st.evicted);
                drop(st);
                self.report(Failure {
                    lines,
                    written: 0,
                    reason: FailureReason::Overflow,
                });
                self.shared.done.notify_all();
                st = lock(&self.shared);
                continue;
            }
            if st.machine.queue().is_empty() {
                st.oldest_at = None;
                if st.closing {
                    break;
                }
                st = wait(&self.shared.work, st);
                continue;
            }
            if st.past_deadline() {
                let lines = st.front_texts(usize::MAX);
                let n = st.machine.abandon();
                st.ahead = None;
                st.resend = false;
                drop(st);
                self.shared.space.notify_all();
                log::error!("close timeout: {n} lines not sent");
                self.report(Failure {
                    lines,
                    written: 0,
                    reason: FailureReason::Closed,
                });
                self.shared.done.notify_all();
                st = lock(&self.shared);
                continue;
            }
            if !self.due(&st) {
                let waited = st.oldest_at.map_or(Duration::ZERO, |t| t.elapsed());
                let left = self.interval.saturating_sub(waited);
                st = wait_for(&self.shared.work, st, left);
                continue;
            }
            if gzip && st.compressing.is_some() {
                // The batch after the one that was in flight, now the
                // front, is being compressed ahead: wait for it rather
                // than compress it twice.
                st = wait(&self.shared.ahead, st);
                continue;
            }
            let now = now_ms();
            let ahead = st.ahead.take();
            let next = st.machine.next(now);
            let req = match next {
                // Compressed ahead: its copy of the body goes too.
                Next::Send { first, lines, .. }
                    if ahead.as_ref().map(|a| (a.first, a.lines)) == Some((first, lines)) =>
                {
                    let Some(a) = ahead else { continue };
                    Request {
                        body: a.body,
                        lines,
                        first,
                        gz: Some(a.gz),
                    }
                }
                Next::Send { .. } => {
                    let Some(req) = Request::of(&next) else {
                        continue;
                    };
                    req
                }
                Next::Wait { until_ms } => {
                    let mut left = Duration::from_millis(until_ms.saturating_sub(now));
                    if let Some(d) = st.deadline {
                        left = left.min(d.saturating_duration_since(Instant::now()));
                    }
                    // Still good for the batch after this one.
                    st.ahead = ahead;
                    st = wait_for(&self.shared.work, st, left);
                    continue;
                }
                Next::Discarded { .. } => continue,
                // Idle (nothing queued) or halted (never: the machine
                // drops misconfigured batches).
                _ => {
                    st = wait_for(&self.shared.work, st, self.interval);
                    continue;
                }
            };
            st.in_flight = true;
            drop(st);
            self.shared.ahead.notify_all();
            let result = driver.send(&self.client, &req);
            st = lock(&self.shared);
            st.in_flight = false;
            let (event, settled) = driver.complete(
                &mut st.machine,
                now_ms(),
                &req,
                &result,
                self.client.secret(),
            );
            st.settle_evicted(&event);
            st.resend = matches!(event, Event::Retrying { .. } | Event::Split { .. });
            if st.machine.queue().is_empty() {
                st.oldest_at = None;
            } else if !st.resend {
                // The lines behind the batch that left wait from now.
                st.oldest_at = Some(Instant::now());
            }
            if let Some(Settled::Failed(f)) = settled {
                drop(st);
                self.shared.space.notify_all();
                self.report(Failure {
                    lines: f.lines.into_iter().map(|l| l.text).collect(),
                    written: f.written,
                    reason: f.reason,
                });
                st = lock(&self.shared);
            }
            self.shared.space.notify_all();
            self.shared.done.notify_all();
        }
        st.exited = true;
        st.in_flight = false;
        drop(st);
        self.shared.done.notify_all();
        self.shared.space.notify_all();
        self.shared.ahead.notify_all();
    }

    /// The compressing thread: while a request is in flight, compresses
    /// the batch the machine will hand out next ([`linewire::Delivery::upcoming`]),
    /// once it is due.
    fn compress_ahead(&self, level: u8) {
        let mut st = lock(&self.shared);
        while !st.exited {
            let todo = match st.machine.upcoming() {
                Next::Send {
                    body, lines, first, ..
                } if st.in_flight
                    && st.compressing.is_none()
                    && st.ahead.as_ref().map(|a| (a.first, a.lines)) != Some((first, lines)) =>
                {
                    // The batch is final when it is full, when more lines
                    // wait behind it, or when everything goes now.
                    let behind = st
                        .machine
                        .queue()
                        .len()
                        .saturating_sub(st.machine.in_flight())
                        .saturating_sub(lines);
                    let last = first + lines as u64;
                    let fin = lines >= self.batch_lines
                        || behind > 0
                        || st.closing
                        || st.flush_to >= last;
                    fin.then(|| (first, lines, body.to_vec()))
                }
                _ => None,
            };
            let Some((first, lines, body)) = todo else {
                st = wait(&self.shared.ahead, st);
                continue;
            };
            st.compressing = Some((first, lines));
            drop(st);
            let gz = crate::gzip::gzip(&body, level);
            st = lock(&self.shared);
            st.compressing = None;
            st.ahead = Some(Ahead {
                first,
                lines,
                body,
                gz,
            });
            self.shared.ahead.notify_all();
        }
    }

    fn report(&self, f: Failure) {
        if f.lines.is_empty() && f.written == 0 {
            return;
        }
        log::error!("{} lines not stored: {}", f.lines.len(), f.reason);
        if let Some(cb) = &self.on_failure {
            cb(&f);
        }
    }
}
