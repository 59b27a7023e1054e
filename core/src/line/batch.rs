//! Fixed-capacity batches of line-protocol lines, and default tags.

use crate::bytes::{self, Buf};
use crate::line::escape;
use crate::line::name::Name;
use crate::line::point::{NoFields, Part, PointBuilder, PointError};
use crate::line::precision::Precision;

/// Line protocol for up to `N` bytes, held inline: no heap.
///
/// Points are added with [`point`](BatchInner::point); each one is appended
/// whole or not at all. The batch remembers the precision its timestamps
/// are in, which is what the write request must say. Every method is on
/// [`BatchInner`], which [`BorrowedBatch`] shares.
///
/// ```
/// use linewire::{Batch, Precision};
///
/// let mut batch = Batch::<512>::with_precision(Precision::Seconds);
/// batch.point("cpu")?.tag("host", "pi-1")?.field("load", 0.25)?.timestamp(1_700_000_000)?;
/// batch.point("cpu")?.tag("host", "pi-1")?.field("load", 0.5)?.timestamp(1_700_000_010)?;
/// assert_eq!(batch.line_count(), 2);
/// assert_eq!(
///     batch.as_bytes(),
///     b"cpu,host=pi-1 load=0.25 1700000000\ncpu,host=pi-1 load=0.5 1700000010\n"
/// );
/// # Ok::<(), linewire::PointError>(())
/// ```
pub type Batch<const N: usize> = BatchInner<[u8; N]>;

/// A batch in a buffer the caller lends (a `static`, a DMA region, a
/// buffer shared with other work), with the same methods as [`Batch`].
///
/// ```
/// use linewire::BorrowedBatch;
///
/// let mut buf = [0u8; 128];
/// let mut batch = BorrowedBatch::new(&mut buf);
/// batch.point("env")?.field("t", 21.5)?.timestamp(1_700_000_000_000_000_000)?;
/// assert_eq!(batch.as_str(), "env t=21.5 1700000000000000000\n");
/// assert_eq!(batch.capacity(), 128);
/// # Ok::<(), linewire::PointError>(())
/// ```
pub type BorrowedBatch<'a> = BatchInner<&'a mut [u8]>;

/// Where a batch or a queue keeps its bytes: inline (`[u8; N]`, [`Batch`],
/// [`Queue`](crate::Queue)), borrowed (`&mut [u8]`, [`BorrowedBatch`],
/// [`BorrowedQueue`](crate::BorrowedQueue)) or, with the `alloc` feature,
/// boxed (`Box<[u8]>`, `BoxedQueue`). Sealed.
pub trait Storage: sealed::Sealed {
    #[doc(hidden)]
    fn bytes(&self) -> &[u8];
    #[doc(hidden)]
    fn bytes_mut(&mut self) -> &mut [u8];
}

mod sealed {
    pub trait Sealed {}
    impl<const N: usize> Sealed for [u8; N] {}
    impl Sealed for &mut [u8] {}
    #[cfg(feature = "alloc")]
    impl Sealed for alloc::boxed::Box<[u8]> {}
}

impl<const N: usize> Storage for [u8; N] {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        self
    }
    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl Storage for &mut [u8] {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        self
    }
    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

#[cfg(feature = "alloc")]
impl Storage for alloc::boxed::Box<[u8]> {
    #[inline(always)]
    fn bytes(&self) -> &[u8] {
        self
    }
    #[inline(always)]
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// A batch of line protocol over the storage `S`: use its names
/// [`Batch<N>`](Batch) (inline) and [`BorrowedBatch`] (borrowed).
#[derive(Debug, Clone)]
pub struct BatchInner<S: Storage> {
    /// Bytes written, including a point being built past `committed`.
    written: usize,
    /// Bytes of complete lines.
    committed: usize,
    lines: usize,
    precision: Precision,
    sort_tags: bool,
    bytes: S,
}

impl<const N: usize> Default for Batch<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Batch<N> {
    /// An empty batch with nanosecond timestamps.
    ///
    /// ```
    /// // `const`, so a batch can live in a `static` on a microcontroller.
    /// const EMPTY: linewire::Batch<64> = linewire::Batch::new();
    /// assert!(EMPTY.is_empty());
    /// ```
    pub const fn new() -> Self {
        Self::with_precision(Precision::Nanoseconds)
    }

    /// An empty batch whose timestamps are in `precision`.
    ///
    /// ```
    /// let batch = linewire::Batch::<64>::with_precision(linewire::Precision::Milliseconds);
    /// assert_eq!(batch.precision(), linewire::Precision::Milliseconds);
    /// ```
    pub const fn with_precision(precision: Precision) -> Self {
        BatchInner::empty([0; N], precision)
    }
}

impl<'a> BorrowedBatch<'a> {
    /// An empty batch in `buf` with nanosecond timestamps. What `buf`
    /// held is overwritten as lines are added.
    ///
    /// ```
    /// let mut buf = [0u8; 64];
    /// let batch = linewire::BorrowedBatch::new(&mut buf);
    /// assert!(batch.is_empty() && batch.remaining() == 64);
    /// ```
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self::with_precision(buf, Precision::Nanoseconds)
    }

    /// An empty batch in `buf` whose timestamps are in `precision`.
    ///
    /// ```
    /// let mut buf = [0u8; 64];
    /// let batch = linewire::BorrowedBatch::with_precision(&mut buf, linewire::Precision::Seconds);
    /// assert_eq!(batch.precision(), linewire::Precision::Seconds);
    /// ```
    pub fn with_precision(buf: &'a mut [u8], precision: Precision) -> Self {
        BatchInner::empty(buf, precision)
    }

    /// Gives the buffer back.
    ///
    /// ```
    /// let mut buf = [0u8; 64];
    /// let mut batch = linewire::BorrowedBatch::new(&mut buf);
    /// batch.point("m")?.field("v", 1i64)?.finish()?;
    /// let len = batch.len();
    /// let buf = batch.into_inner();
    /// assert_eq!(&buf[..len], b"m v=1i\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn into_inner(self) -> &'a mut [u8] {
        self.bytes
    }
}

impl<S: Storage> BatchInner<S> {
    const fn empty(bytes: S, precision: Precision) -> Self {
        BatchInner {
            bytes,
            written: 0,
            committed: 0,
            lines: 0,
            precision,
            sort_tags: false,
        }
    }

    /// Turns sorting of tags by key on or off for the points added after.
    ///
    /// InfluxDB recommends sorted tags (it sorts them itself otherwise).
    /// Sorting happens in place, without a heap; each tag costs a scan of
    /// the tags before it, which is cheap for the handful a point has.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new().sort_tags(true);
    /// batch.point("m")?.tag("b", "2")?.tag("a", "1")?.field("v", 1i64)?.finish()?;
    /// assert_eq!(batch.as_bytes(), b"m,a=1,b=2 v=1i\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub const fn sort_tags(mut self, sort: bool) -> Self {
        self.sort_tags = sort;
        self
    }

    /// Starts a point. Nothing is added until the builder's
    /// [`timestamp`](PointBuilder::timestamp) or
    /// [`finish`](PointBuilder::finish) succeeds.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("m")?.field("v", true)?.finish()?;
    /// assert_eq!(batch.as_bytes(), b"m v=true\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn point<'m>(
        &mut self,
        measurement: impl Into<Name<'m>>,
    ) -> Result<PointBuilder<'_, S, NoFields>, PointError> {
        PointBuilder::start(self, measurement.into())
    }

    /// Starts a point that carries every tag of `defaults` first.
    ///
    /// ```
    /// use linewire::{Batch, DefaultTags};
    ///
    /// let mut defaults = DefaultTags::<64>::new();
    /// defaults.add("device", "esp32-7")?.add("site", "barn")?;
    /// let mut batch = Batch::<128>::new();
    /// batch.point_with(&defaults, "env")?.field("t", 21.5)?.finish()?;
    /// assert_eq!(batch.as_bytes(), b"env,device=esp32-7,site=barn t=21.5\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn point_with<'m, const D: usize>(
        &mut self,
        defaults: &DefaultTags<D>,
        measurement: impl Into<Name<'m>>,
    ) -> Result<PointBuilder<'_, S, NoFields>, PointError> {
        PointBuilder::start(self, measurement.into())?.default_tags(defaults.escaped())
    }

    /// Bytes of complete lines.
    ///
    /// ```
    /// let batch = linewire::Batch::<64>::new();
    /// assert_eq!(batch.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.committed
    }

    /// Whether the batch holds no line.
    ///
    /// ```
    /// assert!(linewire::Batch::<64>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.committed == 0
    }

    /// The capacity in bytes (`N` of a [`Batch<N>`](Batch)).
    ///
    /// ```
    /// assert_eq!(linewire::Batch::<64>::new().capacity(), 64);
    /// ```
    pub fn capacity(&self) -> usize {
        self.bytes.bytes().len()
    }

    /// Bytes still free for new lines.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("m")?.field("v", 1i64)?.finish()?;
    /// assert_eq!(batch.remaining(), 64 - 7);
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn remaining(&self) -> usize {
        self.capacity().saturating_sub(self.committed)
    }

    /// How many lines (points) the batch holds.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("m")?.field("v", 1i64)?.finish()?;
    /// assert_eq!(batch.line_count(), 1);
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn line_count(&self) -> usize {
        self.lines
    }

    /// The precision of the timestamps given to this batch.
    ///
    /// The bytes carry them in [`Precision::wire`] of it.
    ///
    /// ```
    /// assert_eq!(linewire::Batch::<64>::new().precision(), linewire::Precision::Nanoseconds);
    /// ```
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// The line protocol: complete lines, each ending in `\n`.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("m")?.field("v", 1u64)?.finish()?;
    /// assert_eq!(batch.as_bytes(), b"m v=1u\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.bytes().get(..self.committed).unwrap_or_default()
    }

    /// The line protocol as text (it is always UTF-8).
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("m")?.field("s", "é")?.finish()?;
    /// assert_eq!(batch.as_str(), "m s=\"é\"\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        // Only &str pieces, ASCII and number formatting are ever written, and
        // lines end on a char boundary, so this never fails.
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// Removes every line; precision and tag sorting stay.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("m")?.field("v", 1i64)?.finish()?;
    /// batch.clear();
    /// assert!(batch.is_empty() && batch.line_count() == 0);
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn clear(&mut self) {
        self.written = 0;
        self.committed = 0;
        self.lines = 0;
    }

    /// Iterates the lines, each without its `\n`.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("a")?.field("v", 1i64)?.finish()?;
    /// batch.point("b")?.field("v", "x\ny")?.finish()?;
    /// let mut lines = batch.lines();
    /// assert_eq!(lines.next(), Some(&b"a v=1i"[..]));
    /// assert_eq!(lines.next(), Some(&b"b v=\"x\ny\""[..]));
    /// assert_eq!(lines.next(), None);
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn lines(&self) -> Lines<'_> {
        Lines {
            bytes: self.as_bytes(),
            pos: 0,
        }
    }

    /// The bytes of the first `k` lines (all of them when `k` is larger):
    /// what to send when only part of the batch may go.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("a")?.field("v", 1i64)?.finish()?;
    /// batch.point("b")?.field("v", 2i64)?.finish()?;
    /// assert_eq!(batch.first_lines(1), b"a v=1i\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn first_lines(&self, k: usize) -> &[u8] {
        let end = self.offset_after_lines(k);
        self.as_bytes().get(..end).unwrap_or_default()
    }

    /// Removes the first `k` lines (all of them when `k` is larger) and
    /// moves the rest to the front. Returns how many lines were removed.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("a")?.field("v", 1i64)?.finish()?;
    /// batch.point("b")?.field("v", 2i64)?.finish()?;
    /// assert_eq!(batch.remove_first_lines(1), 1);
    /// assert_eq!(batch.as_bytes(), b"b v=2i\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn remove_first_lines(&mut self, k: usize) -> usize {
        self.discard_uncommitted();
        let end = self.offset_after_lines(k);
        // Short of the end, exactly `k` lines were passed.
        let removed = if end >= self.committed { self.lines } else { k };
        let len = self.committed;
        self.bytes.bytes_mut().copy_within(end..len, 0);
        self.written = len - end;
        self.committed = len - end;
        self.lines -= removed;
        removed
    }

    fn offset_after_lines(&self, k: usize) -> usize {
        if k >= self.lines {
            return self.committed;
        }
        let bytes = self.as_bytes();
        let mut pos = 0;
        for _ in 0..k {
            match escape::line_end(bytes, pos) {
                Some(end) => pos = end + 1,
                None => return self.committed,
            }
        }
        pos
    }

    /// The bytes with what is written so far; the new length goes back
    /// with [`set_written`](Self::set_written).
    pub(crate) fn buf_mut(&mut self) -> Buf<'_> {
        Buf {
            bytes: self.bytes.bytes_mut(),
            len: self.written,
        }
    }

    pub(crate) fn set_written(&mut self, written: usize) {
        self.written = written;
    }

    pub(crate) fn sorts_tags(&self) -> bool {
        self.sort_tags
    }

    pub(crate) fn discard_uncommitted(&mut self) {
        self.written = self.committed;
    }

    pub(crate) fn commit(&mut self) {
        self.committed = self.written;
        self.lines += 1;
    }
}

/// The lines of a [`Batch`], each without its `\n`; from [`Batch::lines`].
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Lines<'a> {
    /// The lines of `bytes`, complete lines as a batch or a queue holds
    /// them (each ending in `\n`, which a string field may also hold): a
    /// request body handed out by [`Delivery::next`](crate::Delivery::next),
    /// for a driver that reports its lines.
    ///
    /// ```
    /// let mut lines = linewire::Lines::new(b"a s=\"x\ny\"\nb v=1i\n");
    /// assert_eq!(lines.next(), Some(&b"a s=\"x\ny\""[..]));
    /// assert_eq!(lines.next(), Some(&b"b v=1i"[..]));
    /// assert_eq!(lines.next(), None);
    /// ```
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.bytes.len() {
            return None;
        }
        let end = escape::line_end(self.bytes, self.pos).unwrap_or(self.bytes.len());
        let line = self.bytes.get(self.pos..end);
        self.pos = end + 1;
        line
    }
}

/// Tags written on every point started with [`Batch::point_with`]
/// (a device id, a site), held escaped in `N` bytes: no heap.
///
/// ```
/// use linewire::{DefaultTags, PointError, Part};
///
/// let mut defaults = DefaultTags::<32>::new();
/// defaults.add("device", "d1")?;
/// assert_eq!(defaults.add("device", "d2").unwrap_err(), PointError::DuplicateTag);
/// assert_eq!(defaults.add("", "x").unwrap_err(), PointError::Empty(Part::TagKey));
/// assert_eq!(defaults.len(), 1);
/// # Ok::<(), PointError>(())
/// ```
#[derive(Debug, Clone)]
pub struct DefaultTags<const N: usize> {
    bytes: [u8; N],
    used: usize,
    count: usize,
}

impl<const N: usize> Default for DefaultTags<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> DefaultTags<N> {
    /// No tags.
    ///
    /// ```
    /// const NONE: linewire::DefaultTags<16> = linewire::DefaultTags::new();
    /// assert_eq!(NONE.len(), 0);
    /// ```
    pub const fn new() -> Self {
        DefaultTags {
            bytes: [0; N],
            used: 0,
            count: 0,
        }
    }

    /// Adds a tag, checked like [`PointBuilder::tag`]. On error nothing changes.
    ///
    /// ```
    /// let mut defaults = linewire::DefaultTags::<32>::new();
    /// defaults.add("site", "north field")?;
    /// assert_eq!(defaults.len(), 1);
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn add(&mut self, key: &str, value: &str) -> Result<&mut Self, PointError> {
        let before = self.used;
        let result = self.append(key, value);
        if result.is_err() {
            self.used = before;
        }
        result.map(|()| {
            self.count += 1;
            self
        })
    }

    fn append(&mut self, key: &str, value: &str) -> Result<(), PointError> {
        let before = self.used;
        let mut buf = Buf {
            bytes: &mut self.bytes,
            len: self.used,
        };
        escape::push(&mut buf, b',')?;
        escape::write_name(&mut buf, key.as_bytes(), Part::TagKey)?;
        let key_end = buf.len();
        escape::push(&mut buf, b'=')?;
        escape::write_name(&mut buf, value.as_bytes(), Part::TagValue)?;
        self.used = buf.len();
        let bytes = buf.as_slice();
        let new_key = bytes.get(before + 1..key_end).unwrap_or_default();
        let earlier = bytes.get(..before).unwrap_or_default();
        if escape::tag_keys(earlier)
            .any(|(ks, ke)| bytes::same(earlier.get(ks..ke).unwrap_or_default(), new_key))
        {
            return Err(PointError::DuplicateTag);
        }
        Ok(())
    }

    /// How many tags there are.
    ///
    /// ```
    /// assert_eq!(linewire::DefaultTags::<8>::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there are none.
    ///
    /// ```
    /// assert!(linewire::DefaultTags::<8>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Removes every tag.
    ///
    /// ```
    /// let mut defaults = linewire::DefaultTags::<16>::new();
    /// defaults.add("a", "b")?;
    /// defaults.clear();
    /// assert!(defaults.is_empty());
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    pub fn clear(&mut self) {
        self.used = 0;
        self.count = 0;
    }

    pub(crate) fn escaped(&self) -> &[u8] {
        self.bytes.get(..self.used).unwrap_or_default()
    }
}
