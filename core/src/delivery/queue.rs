//! The bounded line queue over any storage: [`QueueInner`] and its names
//! [`Queue`] (inline), [`BorrowedQueue`] (borrowed) and `BoxedQueue`
//! (boxed, `alloc`); [`Overflow`], [`QueueError`], [`Front`].

use core::fmt;

use crate::line::escape;
use crate::{BatchInner, Precision, Storage};

/// What a full queue does with a new point.
///
/// ```
/// assert_eq!(linewire::Overflow::default(), linewire::Overflow::DropOldest);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Overflow {
    /// Evict the oldest lines to make room (counted as dropped).
    #[default]
    DropOldest,
    /// Keep the old lines and refuse the new ones (counted as refused).
    Refuse,
    /// Keep the old lines and refuse the new ones with
    /// [`QueueError::Full`] *without* counting them: the caller waits for
    /// room and pushes them again (`linewire-std` blocks the pushing
    /// thread until the worker has delivered a batch).
    Block,
}

/// Why lines could not be queued. The queue is unchanged, and the lines
/// are counted in [`Queue::refused`].
///
/// ```
/// use linewire::QueueError;
///
/// assert_eq!(QueueError::Full.to_string(), "the queue is full");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum QueueError {
    /// No room, and the overflow policy is [`Overflow::Refuse`] (or
    /// [`Overflow::Block`]: push again once there is room).
    Full,
    /// The lines are larger than the whole queue (or than the writer's
    /// largest batch).
    TooLarge {
        /// Bytes that were to be queued.
        len: usize,
        /// The most that can be.
        max: usize,
    },
    /// The batch's precision differs from the queue's: its timestamps would
    /// be sent in the wrong unit.
    PrecisionMismatch,
    /// The bytes do not end with the end of a line
    /// ([`QueueInner::push_lines`]): no final `\n`, or a string field left
    /// open.
    Unframed,
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("the queue is full"),
            Self::TooLarge { len, max } => {
                write!(f, "{len} bytes of lines, more than the maximum {max}")
            }
            Self::PrecisionMismatch => {
                f.write_str("the batch's precision differs from the queue's")
            }
            Self::Unframed => {
                f.write_str("the lines do not end with a line feed outside a string field")
            }
        }
    }
}

impl core::error::Error for QueueError {}

/// The lines at the front of a [`Queue`]: what to send next.
///
/// ```
/// let queue = linewire::Queue::<64>::new();
/// assert!(queue.front(100, 10).is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Front<'q> {
    bytes: &'q [u8],
    lines: usize,
}

impl<'q> Front<'q> {
    /// The lines, each ending in `\n`.
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().front(8, 8).bytes(), b"");
    /// ```
    pub const fn bytes(&self) -> &'q [u8] {
        self.bytes
    }

    /// How many lines.
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().front(8, 8).lines(), 0);
    /// ```
    pub const fn lines(&self) -> usize {
        self.lines
    }

    /// Whether there is no line.
    ///
    /// ```
    /// assert!(linewire::Queue::<8>::new().front(8, 8).is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        self.lines == 0
    }
}

/// A bounded queue of complete line-protocol lines in fixed memory, for
/// keeping readings through an outage, in `N` inline bytes.
///
/// The queue is [`QueueInner`] over its [`Storage`]: the same queue in a
/// buffer the caller lends is a [`BorrowedQueue`], and with the `alloc`
/// feature in a boxed slice a `BoxedQueue`.
///
/// # Layout and memory
///
/// [`Queue<N>`] is a *bip buffer*: `N` bytes holding at most two regions of
/// complete lines, the older one at the top of the array and, once the
/// writing end has wrapped, a newer one from offset 0. A line (or a pushed
/// batch of lines) is never split across the end of the array, so the
/// front batch is always one contiguous slice: it is sent straight from the
/// ring with [`write_payload`](crate::http::write_payload), with no staging
/// copy and no second buffer. The price is that up to one line's length at
/// the end of the array can stay unused when the writing end wraps, and a
/// batch never reaches past the wrap point (the rest goes in the next
/// request).
///
/// `size_of::<Queue<N>>()` is `N` plus 48 bytes of bookkeeping on a 32-bit
/// target (`N + 64` on a 64-bit host); the line count is kept, line ends are
/// found by scanning (string fields may hold raw newlines, so the scan is
/// quote-aware). Nothing is allocated.
///
/// # Overflow
///
/// When a push does not fit, [`Overflow::DropOldest`] (the default) evicts
/// lines from the front until it does; [`Overflow::Refuse`] refuses the new
/// lines. Either way the lines are counted ([`Queue::dropped`],
/// [`Queue::refused`]), never lost silently. A push is atomic: all of a
/// batch's lines are queued, or none.
///
/// ```
/// use linewire::{Batch, Overflow, Precision, Queue};
///
/// let mut queue = Queue::<64>::with_precision(Precision::Seconds);
/// let mut point = Batch::<64>::with_precision(Precision::Seconds);
/// for i in 0..10 {
///     point.point("t")?.field("v", i as i64)?.timestamp(1_700_000_000 + i)?;
///     queue.push(&point)?;
///     point.clear();
/// }
/// // Each line is 20 bytes: three fit, the seven oldest were dropped.
/// assert_eq!(queue.len(), 3);
/// assert_eq!(queue.dropped(), 7);
/// let front = queue.front(1024, 2);
/// assert_eq!(front.bytes(), b"t v=7i 1700000007\nt v=8i 1700000008\n");
/// queue.pop_front(front.lines());
/// assert_eq!(queue.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ```
/// use linewire::{Batch, Queue};
///
/// let mut queue = Queue::<256>::new();
/// let mut b = Batch::<64>::new();
/// b.point("m")?.field("v", 1i64)?.finish()?;
/// queue.push(&b)?;
/// assert_eq!(queue.front(1024, 10).bytes(), b"m v=1i\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type Queue<const N: usize> = QueueInner<[u8; N]>;

/// A [`Queue`] in a buffer the caller lends (a `static`, a region shared
/// with other work), with the same methods.
///
/// ```
/// use linewire::{BorrowedBatch, BorrowedQueue, Precision};
///
/// let mut ring = [0u8; 256];
/// let mut queue = BorrowedQueue::with_precision(&mut ring, Precision::Seconds);
/// let mut buf = [0u8; 64];
/// let mut batch = BorrowedBatch::with_precision(&mut buf, Precision::Seconds);
/// batch.point("m")?.field("v", 1i64)?.timestamp(1)?;
/// queue.push(&batch)?;
/// assert_eq!(queue.front(1024, 10).bytes(), b"m v=1i 1\n");
/// assert_eq!(queue.capacity(), 256);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type BorrowedQueue<'a> = QueueInner<&'a mut [u8]>;

/// A [`Queue`] in a boxed slice whose size is chosen at run time (the
/// `alloc` feature), with the same methods.
///
/// ```
/// use linewire::{Batch, BoxedQueue, Precision};
///
/// let mut queue = BoxedQueue::with_capacity(4096, Precision::Seconds);
/// let mut batch = Batch::<64>::with_precision(Precision::Seconds);
/// batch.point("m")?.field("v", 1i64)?.timestamp(1)?;
/// queue.push(&batch)?;
/// assert_eq!((queue.len(), queue.capacity()), (1, 4096));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "alloc")]
pub type BoxedQueue = QueueInner<alloc::boxed::Box<[u8]>>;

/// The line queue over the storage `S`: use its names [`Queue<N>`](Queue)
/// (inline), [`BorrowedQueue`] (borrowed) and `BoxedQueue` (boxed, with
/// the `alloc` feature). The bytes and the behaviour are the same whatever
/// the storage; see [`Queue`].
#[derive(Debug, Clone)]
pub struct QueueInner<S: Storage> {
    bytes: S,
    /// Older region `[a_start, a_end)`.
    a_start: usize,
    a_end: usize,
    /// Newer region `[0, b_end)`, in use once the writing end wrapped.
    b_end: usize,
    lines: usize,
    precision: Precision,
    overflow: Overflow,
    /// Some queued line may hold a raw line feed (in a string field): line
    /// ends are then found by a walk of each line's parts, else at every
    /// `\n`, by blocks. Cleared when the queue empties.
    raw_newlines: bool,
    dropped: u64,
    refused: u64,
    pushed: u64,
}

impl<const N: usize> Default for Queue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Queue<N> {
    /// An empty queue of `N` bytes for nanosecond timestamps, dropping the oldest lines
    /// on overflow.
    ///
    /// ```
    /// // `const`, so a queue can live in a `static`.
    /// const Q: linewire::Queue<128> = linewire::Queue::new();
    /// assert!(Q.is_empty());
    /// ```
    pub const fn new() -> Self {
        Self::with_precision(Precision::Nanoseconds)
    }

    /// An empty queue for lines whose timestamps are in `precision` (the
    /// precision of the batches pushed into it).
    ///
    /// ```
    /// let q = linewire::Queue::<128>::with_precision(linewire::Precision::Seconds);
    /// assert_eq!(q.precision(), linewire::Precision::Seconds);
    /// ```
    pub const fn with_precision(precision: Precision) -> Self {
        QueueInner::empty([0; N], precision)
    }
}

impl<'a> BorrowedQueue<'a> {
    /// An empty queue in `buf` for nanosecond timestamps, dropping the
    /// oldest lines on overflow. What `buf` held is overwritten.
    ///
    /// ```
    /// let mut buf = [0u8; 64];
    /// let q = linewire::BorrowedQueue::new(&mut buf);
    /// assert!(q.is_empty() && q.capacity() == 64);
    /// ```
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self::with_precision(buf, Precision::Nanoseconds)
    }

    /// An empty queue in `buf` for lines whose timestamps are in
    /// `precision`.
    ///
    /// ```
    /// let mut buf = [0u8; 64];
    /// let q = linewire::BorrowedQueue::with_precision(&mut buf, linewire::Precision::Seconds);
    /// assert_eq!(q.precision(), linewire::Precision::Seconds);
    /// ```
    pub fn with_precision(buf: &'a mut [u8], precision: Precision) -> Self {
        QueueInner::empty(buf, precision)
    }

    /// Gives the buffer back.
    ///
    /// ```
    /// let mut buf = [0u8; 64];
    /// let q = linewire::BorrowedQueue::new(&mut buf);
    /// assert_eq!(q.into_inner().len(), 64);
    /// ```
    pub fn into_inner(self) -> &'a mut [u8] {
        self.bytes
    }
}

#[cfg(feature = "alloc")]
impl QueueInner<alloc::boxed::Box<[u8]>> {
    /// An empty queue of `capacity` bytes, allocated now, for lines whose
    /// timestamps are in `precision`, dropping the oldest lines on
    /// overflow.
    ///
    /// ```
    /// let q = linewire::BoxedQueue::with_capacity(1 << 20, linewire::Precision::Seconds);
    /// assert_eq!(q.capacity(), 1 << 20);
    /// ```
    pub fn with_capacity(capacity: usize, precision: Precision) -> Self {
        QueueInner::empty(alloc::vec![0; capacity].into_boxed_slice(), precision)
    }
}

impl<S: Storage> QueueInner<S> {
    const fn empty(bytes: S, precision: Precision) -> Self {
        Self {
            bytes,
            a_start: 0,
            a_end: 0,
            b_end: 0,
            lines: 0,
            precision,
            overflow: Overflow::DropOldest,
            raw_newlines: false,
            dropped: 0,
            refused: 0,
            pushed: 0,
        }
    }

    /// Sets the overflow policy.
    ///
    /// ```
    /// use linewire::{Overflow, Queue};
    ///
    /// let q = Queue::<128>::new().overflow(Overflow::Refuse);
    /// assert_eq!(q.get_overflow(), Overflow::Refuse);
    /// ```
    #[must_use]
    pub const fn overflow(mut self, overflow: Overflow) -> Self {
        self.overflow = overflow;
        self
    }

    /// Changes the overflow policy in place.
    ///
    /// ```
    /// let mut q = linewire::Queue::<128>::new();
    /// q.set_overflow(linewire::Overflow::Refuse);
    /// assert_eq!(q.get_overflow(), linewire::Overflow::Refuse);
    /// ```
    pub fn set_overflow(&mut self, overflow: Overflow) {
        self.overflow = overflow;
    }

    /// The overflow policy.
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().get_overflow(), linewire::Overflow::DropOldest);
    /// ```
    pub const fn get_overflow(&self) -> Overflow {
        self.overflow
    }

    /// The precision of the queued timestamps.
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().precision(), linewire::Precision::Nanoseconds);
    /// ```
    pub const fn precision(&self) -> Precision {
        self.precision
    }

    /// The capacity in bytes (`N` for a [`Queue<N>`](Queue)).
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<512>::new().capacity(), 512);
    /// ```
    pub fn capacity(&self) -> usize {
        self.bytes.bytes().len()
    }

    /// Lines (points) queued.
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().len(), 0);
    /// ```
    pub const fn len(&self) -> usize {
        self.lines
    }

    /// Whether no line is queued.
    ///
    /// ```
    /// assert!(linewire::Queue::<8>::new().is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        self.lines == 0
    }

    /// Bytes of queued lines.
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().bytes_used(), 0);
    /// ```
    pub const fn bytes_used(&self) -> usize {
        (self.a_end - self.a_start) + self.b_end
    }

    /// Lines evicted by [`Overflow::DropOldest`] so far (less, in a
    /// [`Delivery`](crate::Delivery), those evicted from a request in
    /// flight that the server then stored: they count as sent).
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().dropped(), 0);
    /// ```
    pub const fn dropped(&self) -> u64 {
        self.dropped
    }

    /// `lines` evicted earlier count as dropped no more (the machine
    /// counts them sent: the server stored them while they were in flight).
    pub(crate) fn undrop(&mut self, lines: usize) {
        self.dropped = self.dropped.saturating_sub(lines as u64);
    }

    /// Lines refused by [`push`](Self::push) so far (full under
    /// [`Overflow::Refuse`], too large, or of the wrong precision).
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().refused(), 0);
    /// ```
    pub const fn refused(&self) -> u64 {
        self.refused
    }

    /// Lines accepted by [`push`](Self::push) so far.
    ///
    /// ```
    /// assert_eq!(linewire::Queue::<8>::new().pushed(), 0);
    /// ```
    pub const fn pushed(&self) -> u64 {
        self.pushed
    }

    /// Queues every complete line of `batch` (the batch is left as it
    /// is: clear it to reuse it). Under [`Overflow::DropOldest`] the oldest
    /// lines are evicted to make room. Returns how many were evicted.
    ///
    /// # Errors
    ///
    /// [`QueueError::Full`] under [`Overflow::Refuse`] when there is no
    /// room; [`QueueError::TooLarge`] when the lines are larger than the
    /// queue; [`QueueError::PrecisionMismatch`] when the batch's precision
    /// is not the queue's. The queue is then unchanged and the lines are
    /// counted as refused (except [`QueueError::Full`] under
    /// [`Overflow::Block`]: the caller pushes them again later).
    ///
    /// Any batch can be pushed, inline ([`Batch`](crate::Batch)) or
    /// borrowed ([`BorrowedBatch`](crate::BorrowedBatch)).
    ///
    /// ```
    /// use linewire::{Batch, Overflow, Queue, QueueError};
    ///
    /// let mut queue = Queue::<16>::new().overflow(Overflow::Refuse);
    /// let mut b = Batch::<16>::new();
    /// b.point("m")?.field("v", 1i64)?.finish()?;
    /// queue.push(&b)?;
    /// queue.push(&b)?;
    /// assert_eq!(queue.push(&b), Err(QueueError::Full));
    /// assert_eq!((queue.len(), queue.refused()), (2, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push<B: Storage>(&mut self, batch: &BatchInner<B>) -> Result<usize, QueueError> {
        self.push_with_limit(batch, usize::MAX)
    }

    /// [`push`](Self::push), refusing lines longer than `max_line` bytes.
    pub(crate) fn push_with_limit<B: Storage>(
        &mut self,
        batch: &BatchInner<B>,
        max_line: usize,
    ) -> Result<usize, QueueError> {
        let count = batch.line_count();
        if count == 0 {
            return Ok(0);
        }
        if batch.precision() != self.precision {
            return self.refuse(count, QueueError::PrecisionMismatch);
        }
        // No line can be longer than the batch: skip the scan then.
        let longest = if max_line >= batch.as_bytes().len() {
            0
        } else {
            batch.lines().map(|l| l.len() + 1).max().unwrap_or(0)
        };
        self.push_framed(batch.as_bytes(), count, longest, max_line)
    }

    /// Queues `bytes`: complete lines of line protocol at the queue's
    /// precision, each ending in `\n` (a string field may hold a raw line
    /// feed: lines end where line protocol says, as in a batch), such as
    /// text read from a file. Returns how many old lines were evicted, as
    /// [`push`](Self::push) does; the lines are not checked otherwise (the
    /// server reports bad ones).
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push); [`QueueError::Unframed`] when `bytes` does
    /// not end with the end of a line (no final `\n`, or a string field
    /// left open).
    ///
    /// ```
    /// use linewire::{Queue, QueueError};
    ///
    /// let mut queue = Queue::<64>::new();
    /// queue.push_lines(b"m s=\"a\nb\" 1\nm v=2i 2\n")?;
    /// assert_eq!(queue.len(), 2);
    /// assert_eq!(queue.push_lines(b"m s=\"open 1\n"), Err(QueueError::Unframed));
    /// # Ok::<(), QueueError>(())
    /// ```
    pub fn push_lines(&mut self, bytes: &[u8]) -> Result<usize, QueueError> {
        self.push_lines_with_limit(bytes, usize::MAX)
    }

    /// [`push_lines`](Self::push_lines), refusing lines longer than
    /// `max_line` bytes.
    pub(crate) fn push_lines_with_limit(
        &mut self,
        bytes: &[u8],
        max_line: usize,
    ) -> Result<usize, QueueError> {
        match frame(bytes) {
            Some((0, _)) => Ok(0),
            Some((count, longest)) => self.push_framed(bytes, count, longest, max_line),
            None => {
                let count = bytes.iter().filter(|&&b| b == b'\n').count().max(1);
                self.refuse(count, QueueError::Unframed)
            }
        }
    }

    /// The queued bytes, oldest first, in up to two slices of whole lines
    /// (the older region, then the newer one once the writing end has
    /// wrapped): for a driver that reports the lines it gives up on.
    ///
    /// ```
    /// let mut queue = linewire::Queue::<64>::new();
    /// queue.push_lines(b"m v=1i\n")?;
    /// assert_eq!(queue.regions(), [&b"m v=1i\n"[..], &b""[..]]);
    /// # Ok::<(), linewire::QueueError>(())
    /// ```
    pub fn regions(&self) -> [&[u8]; 2] {
        let b = self.bytes.bytes();
        [
            b.get(self.a_start..self.a_end).unwrap_or_default(),
            b.get(..self.b_end).unwrap_or_default(),
        ]
    }

    /// Evicts up to `lines` lines from the front, counted as dropped (as
    /// [`Overflow::DropOldest`] does): for a driver that keeps a bound of
    /// its own (a line count) besides the queue's bytes. Returns how many.
    ///
    /// ```
    /// use linewire::Queue;
    ///
    /// let mut queue = Queue::<64>::new();
    /// queue.push_lines(b"m v=1i\nm v=2i\nm v=3i\n")?;
    /// assert_eq!(queue.drop_oldest(2), 2);
    /// assert_eq!((queue.len(), queue.dropped()), (1, 2));
    /// assert_eq!(queue.front(64, 10).bytes(), b"m v=3i\n");
    /// # Ok::<(), linewire::QueueError>(())
    /// ```
    pub fn drop_oldest(&mut self, lines: usize) -> usize {
        let mut n = 0;
        while n < lines && self.drop_front_line() == 1 {
            n += 1;
        }
        n
    }

    fn refuse(&mut self, count: usize, e: QueueError) -> Result<usize, QueueError> {
        self.refused = self.refused.saturating_add(count as u64);
        Err(e)
    }

    /// Queues `count` lines of `bytes` (framed already), the longest of
    /// them `longest` bytes.
    fn push_framed(
        &mut self,
        bytes: &[u8],
        count: usize,
        longest: usize,
        max_line: usize,
    ) -> Result<usize, QueueError> {
        let cap = self.capacity();
        let refuse = |q: &mut Self, e: QueueError| q.refuse(count, e);
        if bytes.len() > cap {
            return refuse(
                self,
                QueueError::TooLarge {
                    len: bytes.len(),
                    max: cap,
                },
            );
        }
        if longest > max_line {
            return refuse(
                self,
                QueueError::TooLarge {
                    len: longest,
                    max: max_line,
                },
            );
        }
        let mut evicted = 0;
        let at = loop {
            if let Some(at) = self.slot(bytes.len()) {
                break at;
            }
            match self.overflow {
                Overflow::DropOldest => {}
                Overflow::Refuse => return refuse(self, QueueError::Full),
                // Not refused for good: the caller waits and pushes again.
                Overflow::Block => return Err(QueueError::Full),
            }
            // The queue is not empty here: an empty queue has its whole
            // capacity contiguous, and the batch fits in it.
            if self.drop_front_line() == 0 {
                return refuse(self, QueueError::Full);
            }
            evicted += 1;
        };
        let end = at + bytes.len();
        let Some(dst) = self.bytes.bytes_mut().get_mut(at..end) else {
            return refuse(self, QueueError::Full);
        };
        dst.copy_from_slice(bytes);
        if at == self.a_end && self.b_end == 0 {
            self.a_end = end;
        } else {
            self.b_end = end;
        }
        // With `small` (flash first) line ends are always walked.
        if cfg!(feature = "small") || escape::count_newlines(bytes) != count {
            self.raw_newlines = true;
        }
        self.lines += count;
        self.pushed = self.pushed.saturating_add(count as u64);
        Ok(evicted)
    }

    /// Where `len` contiguous bytes can go, if anywhere.
    fn slot(&mut self, len: usize) -> Option<usize> {
        if self.lines == 0 {
            self.a_start = 0;
            self.a_end = 0;
            self.b_end = 0;
            self.raw_newlines = false;
        }
        if self.b_end > 0 {
            (self.b_end + len <= self.a_start).then_some(self.b_end)
        } else if self.a_end + len <= self.capacity() {
            Some(self.a_end)
        } else if len <= self.a_start {
            Some(0)
        } else {
            None
        }
    }

    /// The end (exclusive, after its `\n`) of the line starting at `start`
    /// in the older region.
    fn line_after(&self, start: usize) -> Option<usize> {
        self.line_in(start, self.a_end)
    }

    /// The end (exclusive, after its `\n`) of the line starting at `start`
    /// in the region ending at `region_end`.
    fn line_in(&self, start: usize, region_end: usize) -> Option<usize> {
        let region = self.bytes.bytes().get(..region_end)?;
        if self.raw_newlines || cfg!(feature = "small") {
            escape::line_end(region, start).map(|e| e + 1)
        } else {
            escape::find_any(region, start, [b'\n']).map(|e| e + 1)
        }
    }

    /// `(bytes, lines)` of the first lines from `start` in the region
    /// ending at `region_end` that fit `max_bytes` and `max_lines` (at
    /// least one).
    fn lines_in(
        &self,
        start: usize,
        region_end: usize,
        max_bytes: usize,
        max_lines: usize,
    ) -> (usize, usize) {
        if !self.raw_newlines && !cfg!(feature = "small") {
            let region = self
                .bytes
                .bytes()
                .get(start..region_end)
                .unwrap_or_default();
            return escape::plain_lines(region, max_bytes, max_lines);
        }
        let (mut end, mut lines) = (start, 0);
        while lines < max_lines && end < region_end {
            let Some(next) = self.line_in(end, region_end) else {
                break;
            };
            if lines > 0 && next - start > max_bytes {
                break;
            }
            end = next;
            lines += 1;
        }
        (end - start, lines)
    }

    /// Evicts the first line, counting it; returns 1, or 0 when empty.
    fn drop_front_line(&mut self) -> usize {
        if self.lines == 0 {
            return 0;
        }
        let end = self.line_after(self.a_start).unwrap_or(self.a_end);
        self.advance_front(end, 1);
        self.dropped = self.dropped.saturating_add(1);
        1
    }

    fn advance_front(&mut self, to: usize, lines: usize) {
        self.a_start = to.min(self.a_end);
        self.lines = self.lines.saturating_sub(lines);
        if self.a_start >= self.a_end {
            self.a_start = 0;
            self.a_end = self.b_end;
            self.b_end = 0;
        }
        if self.lines == 0 {
            self.a_start = 0;
            self.a_end = 0;
            self.b_end = 0;
            self.raw_newlines = false;
        }
    }

    /// The oldest lines, as many as fit in `max_bytes` and `max_lines` (at
    /// least one line when any is queued and `max_lines > 0`, even if it is
    /// longer than `max_bytes`), as one contiguous slice. A batch stops
    /// at the wrap point of the ring.
    ///
    /// ```
    /// use linewire::{Batch, Queue};
    ///
    /// let mut queue = Queue::<64>::new();
    /// let mut b = Batch::<64>::new();
    /// b.point("a")?.field("v", 1i64)?.finish()?;
    /// b.point("b")?.field("v", 2i64)?.finish()?;
    /// queue.push(&b)?;
    /// assert_eq!(queue.front(10, 5).bytes(), b"a v=1i\n");
    /// assert_eq!(queue.front(100, 5).lines(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn front(&self, max_bytes: usize, max_lines: usize) -> Front<'_> {
        let (len, lines) = self.front_len(max_bytes, max_lines);
        Front {
            bytes: self.front_bytes(len),
            lines,
        }
    }

    /// The bytes and lines [`front`](Self::front) would give.
    pub(crate) fn front_len(&self, max_bytes: usize, max_lines: usize) -> (usize, usize) {
        self.lines_in(self.a_start, self.a_end, max_bytes, max_lines)
    }

    /// The first `len` bytes of the older region.
    pub(crate) fn front_bytes(&self, len: usize) -> &[u8] {
        self.bytes
            .bytes()
            .get(self.a_start..self.a_start.saturating_add(len).min(self.a_end))
            .unwrap_or_default()
    }

    /// The batch [`front`](Self::front) would give once the first `skip`
    /// lines are removed, without removing them: what goes next while
    /// those are in flight (for compressing it ahead). Empty when fewer
    /// than `skip + 1` lines are queued.
    pub(crate) fn front_after(
        &self,
        skip: usize,
        skip_len: usize,
        max_bytes: usize,
        max_lines: usize,
    ) -> Front<'_> {
        // Skip within the older region, then (once it is used up) the newer;
        // `skip_len`, the bytes of the `skip` lines when known, skips them
        // without a scan.
        let (mut start, mut region_end, mut left) = (self.a_start, self.a_end, skip);
        if skip_len > 0 && skip <= self.lines && skip_len <= self.a_end - self.a_start {
            start = self.a_start + skip_len;
            left = 0;
        }
        while left > 0 {
            if start >= region_end {
                if region_end != self.a_end || self.b_end == 0 {
                    return Front {
                        bytes: &[],
                        lines: 0,
                    };
                }
                (start, region_end) = (0, self.b_end);
                continue;
            }
            let Some(next) = self.line_in(start, region_end) else {
                return Front {
                    bytes: &[],
                    lines: 0,
                };
            };
            start = next;
            left -= 1;
        }
        if start >= region_end && region_end == self.a_end && self.b_end > 0 {
            (start, region_end) = (0, self.b_end);
        }
        let (len, lines) = self.lines_in(start, region_end, max_bytes, max_lines);
        Front {
            bytes: self
                .bytes
                .bytes()
                .get(start..start + len)
                .unwrap_or_default(),
            lines,
        }
    }

    /// The number of lines ever removed from the front (delivered,
    /// dropped or evicted): the sequence number of the first queued line.
    pub(crate) const fn front_seq(&self) -> u64 {
        self.pushed.saturating_sub(self.lines as u64)
    }

    /// Removes the first `lines` lines (all when more): call it with
    /// [`Front::lines`] once the server accepted them. Returns how many were
    /// removed. Removed lines are not counted as dropped.
    ///
    /// ```
    /// let mut queue = linewire::Queue::<8>::new();
    /// assert_eq!(queue.pop_front(3), 0);
    /// ```
    pub fn pop_front(&mut self, lines: usize) -> usize {
        let mut removed = 0;
        while removed < lines && self.lines > 0 {
            // Take as much of the older region as asked in one step.
            let front = self.front(usize::MAX, lines - removed);
            let (len, count) = (front.bytes.len(), front.lines);
            if count == 0 {
                break;
            }
            self.advance_front(self.a_start + len, count);
            removed += count;
        }
        removed
    }

    /// [`pop_front`](Self::pop_front) of the `lines` lines handed out by
    /// [`front`](Self::front) as `len` bytes (0: unknown, scan), when
    /// nothing was removed since: no scan of their lines.
    pub(crate) fn pop_front_len(&mut self, lines: usize, len: usize) -> usize {
        if len > 0 && lines > 0 && lines <= self.lines && len <= self.a_end - self.a_start {
            self.advance_front(self.a_start + len, lines);
            lines
        } else {
            self.pop_front(lines)
        }
    }

    /// Removes every line, counting them as dropped.
    ///
    /// ```
    /// let mut queue = linewire::Queue::<8>::new();
    /// queue.clear();
    /// assert!(queue.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.dropped = self.dropped.saturating_add(self.lines as u64);
        self.a_start = 0;
        self.a_end = 0;
        self.b_end = 0;
        self.lines = 0;
        self.raw_newlines = false;
    }
}

/// `(lines, longest line)` of `bytes` when it is whole lines, each ending
/// where line protocol says (`\n`, outside string fields); `None` when its
/// end is not the end of a line.
fn frame(bytes: &[u8]) -> Option<(usize, usize)> {
    let (mut at, mut lines, mut longest) = (0, 0, 0);
    while at < bytes.len() {
        let end = escape::line_end(bytes, at)? + 1;
        longest = longest.max(end - at);
        lines += 1;
        at = end;
    }
    Some((lines, longest))
}
