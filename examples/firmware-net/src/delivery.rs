//! The delivery every networked variant shares: the batches of
//! [`batches`](crate::batches) go through one `linewire::Writer` (its queue,
//! its retry policy, its decisions), never through a retry loop of the
//! firmware's own. A variant owns only its connection (TCP, or TCP and a
//! TLS session) and its clock's wait:
//!
//! ```text
//! while let Some(due) = delivery.due(out, now_ms()) {   // pushes the next batch when the queue is empty
//!     wait until `due` (blocking: polling the network stack meanwhile)
//!     if not connected: connect (and handshake); on failure:
//!         delivery.connect_failed(out, now_ms(), connects); continue   // the writer backs off
//!     if delivery.poll(out, now_ms(), connects, &mut stream) {          // Writer::poll / poll_async
//!         drop the connection (the writer said reconnect, or the stream failed)
//!     }
//! }
//! delivery.finish(out)                                   // STATS; every batch delivered?
//! ```
//!
//! The queue holds one batch ([`QUEUE`]), so each request carries one
//! batch and the batches go in order; the next is pushed once the writer
//! has delivered the one queued or given up on it ([`MAX_RETRIES`]
//! retries). The backoff is short ([`FIRST_INTERVAL_MS`], at most
//! [`MAX_BACKOFF_MS`]): the lane's faults ask for no long wait (a device
//! keeps the default policy, up to 125 s).
//!
//! Output (one record a line):
//!
//! ```text
//! POLL <n> <poll> connects=<c> <event> reconnect=<bool>   a poll of batch n (its poll-th) and its event
//! POLL <n> <poll> connects=<c> error=<text>                 the poll failed on the stream (the batch is kept)
//! POLL <n> <poll> connects=<c> connect-failed <event>       connecting (or the TLS handshake) failed
//! STATS accepted=<a> sent=<s> rejected=<r> gave_up=<g> lost=<l> requests=<q> retries=<t> stale_retries=<f> queued=<u>
//! ```
//!
//! `connects` counts the TCP connections established so far (a TLS
//! variant's sessions: one handshake per connection). Events print
//! without their times, which differ from run to run.

use core::fmt::Write as _;

use linewire::http::{Target, WriteError};
use linewire::{Batch, Event, Poll, Precision, RetryPolicy, Writer, XorShift32};

use crate::batches::{self, BATCHES, CAPACITY, POINTS_PER_BATCH};
use crate::host::Console;

/// The writer's queue in bytes: one batch (about 330 B) fits, two do not.
pub const QUEUE: usize = 512;
/// The response buffer (the answer's head and an error body).
pub const RESPONSE_BUF: usize = 512;
/// The first backoff's lower bound.
pub const FIRST_INTERVAL_MS: u32 = 20;
/// The longest backoff, and the longest `Retry-After` honoured.
pub const MAX_BACKOFF_MS: u32 = 200;
/// Retries of a batch before the writer gives up on it: three tries.
pub const MAX_RETRIES: u32 = 2;

/// The lane's retry policy: short waits, three tries of a batch.
pub const fn policy() -> RetryPolicy {
    RetryPolicy::new()
        .first_interval_ms(FIRST_INTERVAL_MS)
        .max_interval_ms(MAX_BACKOFF_MS)
        .max_retry_after_ms(MAX_BACKOFF_MS)
        .max_retries(Some(MAX_RETRIES))
}

/// The writer, the batch being filled, the response buffer, and which
/// batch is queued and how often it was polled (for the output).
pub struct Delivery<'t> {
    writer: Writer<'t, QUEUE>,
    batch: Batch<CAPACITY>,
    buf: [u8; RESPONSE_BUF],
    /// The next batch to push.
    next: u32,
    /// The batch in the queue.
    current: u32,
    /// Polls of it so far.
    polls: u32,
    /// A batch could not be formatted or queued.
    refused: bool,
}

impl<'t> Delivery<'t> {
    /// A writer to `target`, its jitter seeded with `seed` (the seed
    /// spreads a fleet's retries; any word does here).
    pub fn new(target: Target<'t>, seed: u32) -> Self {
        Delivery {
            writer: Writer::new(target, Precision::Seconds, policy(), XorShift32::new(seed)),
            batch: Batch::new(),
            buf: [0; RESPONSE_BUF],
            next: 0,
            current: 0,
            polls: 0,
            refused: false,
        }
    }

    /// When the next poll is due (the writer's `next_wakeup`), pushing the
    /// next batch first when the queue is empty; `None` once every batch
    /// was delivered or given up (or the writer halted).
    pub fn due(&mut self, out: &mut Console, now_ms: u64) -> Option<u64> {
        loop {
            if let Some(at) = self.writer.next_wakeup(now_ms) {
                return Some(at);
            }
            if self.writer.is_halted() || self.next >= BATCHES {
                return None;
            }
            let n = self.next;
            self.next += 1;
            let queued = batches::fill(&mut self.batch, n)
                .map_err(|_| ())
                .and_then(|()| self.writer.push(&self.batch).map_err(|_| ()));
            if queued.is_err() {
                let _ = writeln!(out, "ERROR batch {n} could not be formatted or queued");
                self.refused = true;
                continue;
            }
            self.current = n;
            self.polls = 0;
        }
    }

    /// Connecting (or the TLS handshake) failed at `now_ms`: the writer
    /// keeps the batch and backs off (`Writer::connect_failed`).
    pub fn connect_failed(&mut self, out: &mut Console, now_ms: u64, connects: u32) {
        self.begin(out, connects);
        let poll = self.writer.connect_failed(now_ms);
        let _ = out.write_str("connect-failed ");
        let _ = event(out, poll.event);
        let _ = writeln!(out);
    }

    /// Polls the writer over `stream` (blocking, `Writer::poll`) and
    /// prints the result; `true` when the connection must be dropped (the
    /// writer said reconnect, or the stream failed).
    pub fn poll<S>(&mut self, out: &mut Console, now_ms: u64, connects: u32, stream: &mut S) -> bool
    where
        S: embedded_io::Read + embedded_io::Write,
    {
        self.begin(out, connects);
        let result = self.writer.poll(now_ms, stream, &mut self.buf);
        report(out, result)
    }

    /// [`poll`](Self::poll) over an async stream (`Writer::poll_async`).
    #[cfg(feature = "async")]
    pub async fn poll_async<S>(
        &mut self,
        out: &mut Console,
        now_ms: u64,
        connects: u32,
        stream: &mut S,
    ) -> bool
    where
        S: embedded_io_async::Read + embedded_io_async::Write,
    {
        self.begin(out, connects);
        let result = self.writer.poll_async(now_ms, stream, &mut self.buf).await;
        report(out, result)
    }

    /// Prints the writer's counters; `true` when every batch was
    /// delivered.
    pub fn finish(&self, out: &mut Console) -> bool {
        let s = self.writer.stats();
        let _ = writeln!(
            out,
            "STATS accepted={} sent={} rejected={} gave_up={} lost={} requests={} retries={} stale_retries={} queued={}",
            s.accepted,
            s.sent,
            s.rejected,
            s.gave_up,
            s.lost(),
            s.requests,
            s.retries,
            s.stale_retries,
            s.queued,
        );
        !self.refused && s.sent == u64::from(BATCHES * POINTS_PER_BATCH) && s.lost() == 0
    }

    /// Counts a poll of the queued batch and starts its record.
    fn begin(&mut self, out: &mut Console, connects: u32) {
        self.polls = self.polls.saturating_add(1);
        let _ = write!(
            out,
            "POLL {} {} connects={connects} ",
            self.current, self.polls
        );
    }
}

/// Ends a poll's record; `true` when the connection must be dropped.
fn report(out: &mut Console, result: Result<Poll, WriteError>) -> bool {
    match result {
        Ok(poll) => {
            let _ = event(out, poll.event);
            let _ = writeln!(out, " reconnect={}", poll.reconnect);
            poll.reconnect
        }
        Err(e) => {
            // The writer kept the batch; the stream is in an unknown
            // state: a new connection.
            let _ = writeln!(out, "error={e}");
            true
        }
    }
}

/// A poll's event, without the times (they differ from run to run).
fn event(out: &mut Console, event: Event) -> core::fmt::Result {
    match event {
        Event::Delivered { lines } => write!(out, "Delivered lines={lines}"),
        Event::Retrying { .. } => out.write_str("Retrying"),
        Event::Waiting { .. } => out.write_str("Waiting"),
        Event::Idle => out.write_str("Idle"),
        Event::Halted => out.write_str("Halted"),
        Event::GaveUp { lines } => write!(out, "GaveUp lines={lines}"),
        other => write!(out, "{other:?}"),
    }
}
