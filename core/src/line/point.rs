//! The point builder: measurement, then tags, then at least one field, then
//! an optional timestamp, written straight into a batch.

use core::fmt;
use core::marker::PhantomData;

use crate::bytes::{self, Buf};
use crate::line::batch::{BatchInner, Storage};
use crate::line::digits::{self, U64_DIGITS};
use crate::line::escape;
use crate::line::name::Name;
use crate::line::precision;
use crate::MCU;

/// The longest string field value InfluxDB 1.x and 2.x store, in bytes.
pub const MAX_STRING_FIELD_LEN: usize = 64 * 1024;

/// The position in a line that an error is about.
///
/// ```
/// use linewire::{Batch, Part, PointError};
///
/// let mut batch = Batch::<256>::new();
/// let err = batch.point("m")?.tag("room", "").unwrap_err();
/// assert_eq!(err, PointError::Empty(Part::TagValue));
/// # Ok::<(), PointError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Part {
    /// The measurement name.
    Measurement,
    /// A tag key.
    TagKey,
    /// A tag value.
    TagValue,
    /// A field key.
    FieldKey,
    /// A field value.
    FieldValue,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Measurement => "measurement",
            Part::TagKey => "tag key",
            Part::TagValue => "tag value",
            Part::FieldKey => "field key",
            Part::FieldValue => "field value",
        })
    }
}

/// Why a point (or a default tag) was refused. The batch is unchanged.
///
/// ```
/// use linewire::{Batch, PointError};
///
/// let mut batch = Batch::<256>::new();
/// let err = batch.point("m")?.field("v", f64::NAN).unwrap_err();
/// assert_eq!(err, PointError::NotFinite);
/// assert!(batch.is_empty());
/// # Ok::<(), PointError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PointError {
    /// An empty measurement, key or tag value.
    Empty(Part),
    /// A line feed, carriage return, tab or NUL in a name or tag value:
    /// line protocol cannot carry them there.
    ForbiddenCharacter(Part),
    /// A name or tag value ending in a backslash, which the parsers of
    /// InfluxDB 2 and 3 reject.
    TrailingBackslash(Part),
    /// A backslash right before a character that needs escaping, another
    /// backslash, `=` in a measurement, or `"` in a measurement or field
    /// key: InfluxDB 1/2 and 3 would read the name back differently (`a\"b`
    /// as `a"b` and `a\"b`).
    AmbiguousBackslash(Part),
    /// A name starting with `_` (reserved by InfluxDB 2), or a key named
    /// `time` (the time column of InfluxDB 3).
    Reserved(Part),
    /// A measurement starting with `#`: the line would be read as a comment.
    CommentMarker,
    /// The same tag key twice (including a default tag), which servers reject.
    DuplicateTag,
    /// The same field key twice in one point, which InfluxDB 3 rejects.
    DuplicateField,
    /// NaN or an infinity: no server stores them.
    NotFinite,
    /// A string field value longer than 64 KiB.
    StringTooLong,
    /// A timestamp outside 1677-09-21 ..= 2262-04-11 in the batch's precision.
    TimestampOutOfRange,
    /// The point does not fit in what is left of the batch.
    BatchFull,
}

impl fmt::Display for PointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty(part) => write!(f, "empty {part}"),
            Self::ForbiddenCharacter(part) => write!(
                f,
                "{part} contains a line feed, carriage return, tab or NUL"
            ),
            Self::TrailingBackslash(part) => write!(f, "{part} ends with a backslash"),
            Self::AmbiguousBackslash(part) => write!(
                f,
                "{part} has a backslash before a comma, equals sign, space, quote or backslash"
            ),
            Self::Reserved(part) => write!(f, "{part} is reserved (starts with '_' or is 'time')"),
            Self::CommentMarker => f.write_str("measurement starts with '#'"),
            Self::DuplicateTag => f.write_str("tag key given twice"),
            Self::DuplicateField => f.write_str("field key given twice"),
            Self::NotFinite => f.write_str("float field is NaN or infinite"),
            Self::StringTooLong => f.write_str("string field longer than 64 KiB"),
            Self::TimestampOutOfRange => {
                f.write_str("timestamp outside 1677-09-21..=2262-04-11 in the batch precision")
            }
            Self::BatchFull => f.write_str("point does not fit in the batch"),
        }
    }
}

impl core::error::Error for PointError {}

impl From<precision::TimestampError> for PointError {
    fn from(_: precision::TimestampError) -> Self {
        PointError::TimestampOutOfRange
    }
}

/// A field value. Built from `f64`, `f32`, `i64`, `i32`, `u64`, `u32`,
/// `bool` and `&str` with `From`.
///
/// ```
/// use linewire::FieldValue;
///
/// assert_eq!(FieldValue::from(3u32), FieldValue::U64(3));
/// assert_eq!(FieldValue::from("ok"), FieldValue::Str("ok"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FieldValue<'a> {
    /// A float, written in the shortest form that parses back to the same bits.
    F64(f64),
    /// A signed integer, written with the `i` suffix.
    I64(i64),
    /// An unsigned integer, written with the `u` suffix.
    U64(u64),
    /// A boolean, written `true` or `false`.
    Bool(bool),
    /// A string, written in double quotes with `"` and `\` escaped.
    Str(&'a str),
}

macro_rules! field_from {
    ($($t:ty => $variant:ident as $as:ty),* $(,)?) => {$(
        impl From<$t> for FieldValue<'_> {
            fn from(v: $t) -> Self {
                FieldValue::$variant(<$as>::from(v))
            }
        }
    )*};
}

field_from!(
    f64 => F64 as f64, f32 => F64 as f64,
    i64 => I64 as i64, i32 => I64 as i64, i16 => I64 as i64, i8 => I64 as i64,
    u64 => U64 as u64, u32 => U64 as u64, u16 => U64 as u64, u8 => U64 as u64,
    bool => Bool as bool,
);

impl<'a> From<&'a str> for FieldValue<'a> {
    fn from(v: &'a str) -> Self {
        FieldValue::Str(v)
    }
}

/// Builder state: measurement and tags written, no field yet.
#[derive(Debug)]
pub struct NoFields;
/// Builder state: at least one field written; the point can be finished.
#[derive(Debug)]
pub struct HasFields;

/// Writes one point into a [`Batch`](crate::Batch); made by [`point`](BatchInner::point).
///
/// The order of calls is fixed by the types: tags, then fields, then
/// [`timestamp`](PointBuilder::timestamp) or [`finish`](PointBuilder::finish),
/// which commit the line. Until then nothing is visible in the batch: a
/// failed step, or a builder dropped before it is finished, leaves the batch
/// byte for byte as it was.
///
/// ```
/// use linewire::Batch;
///
/// let mut batch = Batch::<256>::new();
/// batch
///     .point("weather")?
///     .tag("station", "KORD")?
///     .field("temperature", 82.5)?
///     .field("ok", true)?
///     .timestamp(1_465_839_830_100_400_200)?;
/// assert_eq!(
///     batch.as_bytes(),
///     b"weather,station=KORD temperature=82.5,ok=true 1465839830100400200\n"
/// );
/// # Ok::<(), linewire::PointError>(())
/// ```
#[must_use = "a point is only added to the batch by `timestamp` or `finish`"]
#[derive(Debug)]
pub struct PointBuilder<'b, S: Storage, State> {
    batch: &'b mut BatchInner<S>,
    /// Where this point's measurement ends and its tags begin.
    tags_start: usize,
    /// Where its first field key begins; 0 until there is a field.
    fields_start: usize,
    /// One bit per key hash (tags in the low half, fields in the high), so
    /// that the scan for a duplicate key runs only when a key may repeat.
    seen: Seen,
    _state: PhantomData<State>,
}

/// The key-hash bits: 32 per half on hosts; on microcontrollers 16 per
/// half, in one 32-bit word (a smaller builder to move, no 64-bit
/// arithmetic; a collision only costs a scan).
// A type, so a `cfg` (keyed as `crate::MCU`) rather than the constant.
#[cfg(not(any(target_os = "none", feature = "small")))]
type Seen = u64;
#[cfg(any(target_os = "none", feature = "small"))]
type Seen = u32;

/// Where the field keys' bits begin in [`Seen`].
const FIELD_BITS: u32 = Seen::BITS / 2;

/// A bit out of [`FIELD_BITS`] picked by a cheap hash of a key.
#[inline]
fn key_bit(key: &[u8]) -> Seen {
    let first = key.first().copied().unwrap_or(0) as u32;
    let last = key.last().copied().unwrap_or(0) as u32;
    1 << ((first.wrapping_mul(31) ^ last.wrapping_mul(7) ^ key.len() as u32) & (FIELD_BITS - 1))
}

impl<'b, S: Storage> PointBuilder<'b, S, NoFields> {
    // The steps are inlined on hosts: at each call the checks then fold to
    // the types given (a `&str` or a checked `Name`, an `f64` or an `i64`),
    // which takes about 40% off the cost of a point. Not on microcontrollers,
    // where every call site would cost flash.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    pub(crate) fn start(
        batch: &'b mut BatchInner<S>,
        measurement: Name<'_>,
    ) -> Result<Self, PointError> {
        batch.discard_uncommitted();
        let mut buf = batch.buf_mut();
        escape::write_name_arg(&mut buf, measurement, Part::Measurement)?;
        let tags_start = buf.len();
        batch.set_written(tags_start);
        Ok(PointBuilder {
            batch,
            tags_start,
            fields_start: 0,
            seen: 0,
            _state: PhantomData,
        })
    }

    /// Adds a tag. Keys and values are escaped; see [`PointError`] for what
    /// is refused. With [`sort_tags`](BatchInner::sort_tags) on, the tag is put in key order.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<128>::new();
    /// batch.point("m")?.tag("a b", "c,d=e")?.field("v", 1i64)?.finish()?;
    /// assert_eq!(batch.as_bytes(), b"m,a\\ b=c\\,d\\=e v=1i\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    #[cfg_attr(not(target_os = "none"), inline(always))]
    pub fn tag<'k, 'v>(
        self,
        key: impl Into<Name<'k>>,
        value: impl Into<Name<'v>>,
    ) -> Result<Self, PointError> {
        let mut this = self;
        this.tag_inner(key.into(), value.into())?;
        Ok(this)
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn tag_inner(&mut self, key: Name<'_>, value: Name<'_>) -> Result<(), PointError> {
        let mut buf = self.batch.buf_mut();
        let tag_start = buf.len();
        escape::push(&mut buf, b',')?;
        escape::write_name_arg(&mut buf, key, Part::TagKey)?;
        let key_end = buf.len();
        escape::push(&mut buf, b'=')?;
        escape::write_name_arg(&mut buf, value, Part::TagValue)?;
        let end = buf.len();
        self.batch.set_written(end);
        self.place_tag(tag_start, key_end)
    }

    /// Adds every tag of `defaults`, checked as if given one by one.
    pub(crate) fn default_tags(mut self, escaped: &[u8]) -> Result<Self, PointError> {
        for (key_start, key_end) in escape::tag_keys(escaped) {
            let tag_start = key_start - 1;
            let tag_end =
                escape::find_unescaped(escaped, key_end + 1, b",").unwrap_or(escaped.len());
            let tag = escaped.get(tag_start..tag_end).unwrap_or_default();
            let mut buf = self.batch.buf_mut();
            let written_at = buf.len();
            escape::extend(&mut buf, tag)?;
            let end = buf.len();
            self.batch.set_written(end);
            self.place_tag(written_at, written_at + (key_end - tag_start))?;
        }
        Ok(self)
    }

    /// Checks the tag just written at `tag_start..` (its key ending at
    /// `key_end`) against the earlier ones, and moves it into key order when
    /// the batch sorts tags.
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn place_tag(&mut self, tag_start: usize, key_end: usize) -> Result<(), PointError> {
        let buf = self.batch.buf_mut();
        let key = buf.bytes.get(tag_start + 1..key_end).unwrap_or_default();
        let bit = key_bit(key);
        let may_repeat = self.seen & bit != 0;
        self.seen |= bit;
        if may_repeat || self.batch.sorts_tags() {
            Self::compare_tag(self.batch, self.tags_start, tag_start, key_end)
        } else {
            Ok(())
        }
    }

    /// The part of [`place_tag`](Self::place_tag) that scans the earlier
    /// tags: only for a key that may repeat, or when sorting. Not a method,
    /// so that the builder can stay in registers on the fast path. Out of
    /// line on hosts; on microcontrollers the compiler decides (less flash).
    #[cfg_attr(not(target_os = "none"), inline(never))]
    fn compare_tag(
        batch: &mut BatchInner<S>,
        tags_start: usize,
        tag_start: usize,
        key_end: usize,
    ) -> Result<(), PointError> {
        let sort = batch.sorts_tags();
        let buf = batch.buf_mut();
        let written = buf.len();
        let Some(region) = buf.bytes.get_mut(tags_start..written) else {
            return Ok(());
        };
        let new_rel = tag_start - tags_start;
        let new_key = region
            .get(new_rel + 1..key_end - tags_start)
            .unwrap_or_default();
        let earlier = region.get(..new_rel).unwrap_or_default();
        let mut insert_at = None;
        for (ks, ke) in escape::tag_keys(earlier) {
            let key = earlier.get(ks..ke).unwrap_or_default();
            match escape::cmp_escaped(key, new_key) {
                core::cmp::Ordering::Equal => return Err(PointError::DuplicateTag),
                core::cmp::Ordering::Greater if sort && insert_at.is_none() => {
                    insert_at = Some(ks - 1);
                }
                _ => {}
            }
        }
        if let Some(at) = insert_at {
            let moved = region.len() - new_rel;
            if let Some(span) = region.get_mut(at..) {
                rotate_right(span, moved);
            }
        }
        Ok(())
    }
}

/// `span.rotate_right(k)`. Without an OS (microcontrollers), by three
/// reversals: `rotate_right` moves bytes with `ptr::copy`, which links
/// `compiler_builtins`' 1.6 KiB `memmove` on a Cortex-M.
fn rotate_right(span: &mut [u8], k: usize) {
    if MCU {
        rotate_by_reversal(span, k);
    } else {
        span.rotate_right(k);
    }
}

fn rotate_by_reversal(span: &mut [u8], k: usize) {
    // Checked splits and iterator swaps: no panic paths (core's `reverse`
    // keeps a bounds check).
    fn reverse(s: &mut [u8]) {
        if let Some((a, b)) = s.split_at_mut_checked(s.len() / 2) {
            for (x, y) in a.iter_mut().zip(b.iter_mut().rev()) {
                core::mem::swap(x, y);
            }
        }
    }
    if let Some((a, b)) = span
        .len()
        .checked_sub(k)
        .and_then(|split| span.split_at_mut_checked(split))
    {
        reverse(a);
        reverse(b);
        reverse(span);
    }
}

impl<'b, S: Storage, State> PointBuilder<'b, S, State> {
    /// Adds a field. The first field ends the tags; a point needs at least one.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<128>::new();
    /// batch
    ///     .point("m")?
    ///     .field("f", 1e-7)?
    ///     .field("i", -3i64)?
    ///     .field("u", 3u64)?
    ///     .field("s", "say \"hi\"")?
    ///     .finish()?;
    /// assert_eq!(batch.as_bytes(), b"m f=1e-7,i=-3i,u=3u,s=\"say \\\"hi\\\"\"\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    #[inline(always)]
    pub fn field<'k, 'v>(
        self,
        key: impl Into<Name<'k>>,
        value: impl Into<FieldValue<'v>>,
    ) -> Result<PointBuilder<'b, S, HasFields>, PointError> {
        let mut this = self;
        this.field_inner(key.into(), value.into())?;
        Ok(PointBuilder {
            batch: this.batch,
            tags_start: this.tags_start,
            fields_start: this.fields_start,
            seen: this.seen,
            _state: PhantomData,
        })
    }

    #[cfg_attr(not(target_os = "none"), inline(always))]
    #[cfg_attr(target_os = "none", inline(never))]
    fn field_inner(&mut self, key: Name<'_>, value: FieldValue<'_>) -> Result<(), PointError> {
        let first = self.fields_start == 0;
        let mut buf = self.batch.buf_mut();
        escape::push(&mut buf, if first { b' ' } else { b',' })?;
        let key_start = buf.len();
        escape::write_name_arg(&mut buf, key, Part::FieldKey)?;
        escape::push(&mut buf, b'=')?;
        write_value(&mut buf, value)?;
        let end = buf.len();
        self.batch.set_written(end);
        // Hashed from the caller's key: only caller keys are compared here.
        let bit = key_bit(key.as_str().as_bytes()) << FIELD_BITS;
        if first {
            self.fields_start = key_start;
        } else if self.seen & bit != 0 {
            check_field_key(
                self.batch.buf_mut().as_slice(),
                self.fields_start,
                key_start,
            )?;
        }
        self.seen |= bit;
        Ok(())
    }
}

impl<S: Storage> PointBuilder<'_, S, HasFields> {
    /// Writes the timestamp, in the batch's [`Precision`](crate::Precision),
    /// and commits the point.
    ///
    /// ```
    /// use linewire::{Batch, Precision, PointError};
    ///
    /// let mut batch = Batch::<64>::with_precision(Precision::Seconds);
    /// let err = batch.point("m")?.field("v", 1i64)?.timestamp(10_000_000_000).unwrap_err();
    /// assert_eq!(err, PointError::TimestampOutOfRange);
    /// batch.point("m")?.field("v", 1i64)?.timestamp(1_700_000_000)?;
    /// assert_eq!(batch.as_bytes(), b"m v=1i 1700000000\n");
    /// # Ok::<(), PointError>(())
    /// ```
    #[cfg_attr(not(target_os = "none"), inline(always))]
    pub fn timestamp(self, timestamp: i64) -> Result<(), PointError> {
        let wire = self.batch.precision().to_wire(timestamp)?;
        let mut buf = self.batch.buf_mut();
        escape::push(&mut buf, b' ')?;
        write_int(&mut buf, wire < 0, wire.unsigned_abs(), b'\n')?;
        let end = buf.len();
        self.batch.set_written(end);
        self.batch.commit();
        Ok(())
    }

    /// Commits the point without a timestamp: the server assigns its own time.
    ///
    /// ```
    /// let mut batch = linewire::Batch::<64>::new();
    /// batch.point("m")?.field("v", 0.5)?.finish()?;
    /// assert_eq!(batch.as_bytes(), b"m v=0.5\n");
    /// # Ok::<(), linewire::PointError>(())
    /// ```
    #[cfg_attr(not(target_os = "none"), inline(always))]
    pub fn finish(self) -> Result<(), PointError> {
        let mut buf = self.batch.buf_mut();
        escape::push(&mut buf, b'\n')?;
        let end = buf.len();
        self.batch.set_written(end);
        self.batch.commit();
        Ok(())
    }
}

/// Fails when the field key written at `key_start` of `bytes` repeats one
/// of the earlier fields, which begin at `fields_start`. Not a method, so
/// that the builder can stay in registers on the fast path.
#[cold]
fn check_field_key(bytes: &[u8], fields_start: usize, key_start: usize) -> Result<(), PointError> {
    let key_end = escape::find_unescaped(bytes, key_start, b"=").unwrap_or(key_start);
    let new_key = bytes.get(key_start..key_end).unwrap_or_default();
    let earlier = bytes
        .get(fields_start..key_start.saturating_sub(1))
        .unwrap_or_default();
    for (ks, ke) in escape::field_keys(earlier) {
        if bytes::same(earlier.get(ks..ke).unwrap_or_default(), new_key) {
            return Err(PointError::DuplicateField);
        }
    }
    Ok(())
}

#[cfg_attr(not(target_os = "none"), inline(always))]
fn write_value(buf: &mut Buf<'_>, value: FieldValue<'_>) -> Result<(), PointError> {
    match value {
        FieldValue::F64(v) => write_float(buf, v),
        FieldValue::I64(v) => write_int(buf, v < 0, v.unsigned_abs(), b'i'),
        FieldValue::U64(v) => write_int(buf, false, v, b'u'),
        FieldValue::Bool(v) => escape::extend(buf, if v { b"true" } else { b"false" }),
        FieldValue::Str(s) => {
            if s.len() > MAX_STRING_FIELD_LEN {
                return Err(PointError::StringTooLong);
            }
            escape::write_string(buf, s.as_bytes())
        }
    }
}

/// Writes an integer and the byte after it (its type suffix, or the line
/// feed after a timestamp) with one copy.
#[cfg_attr(not(target_os = "none"), inline(always))]
fn write_int(
    buf: &mut Buf<'_>,
    negative: bool,
    magnitude: u64,
    suffix: u8,
) -> Result<(), PointError> {
    // A sign, the digits, the suffix.
    let mut text = [0u8; 1 + U64_DIGITS + 1];
    let mut start = digits::u64_digits(magnitude, &mut text, 1 + U64_DIGITS);
    if let Some(last) = text.last_mut() {
        *last = suffix;
    }
    if negative {
        start = start.saturating_sub(1);
        if let Some(sign) = text.get_mut(start) {
            *sign = b'-';
        }
    }
    escape::extend(buf, text.get(start..).unwrap_or_default())
}

/// Writes a finite float in the shortest decimal form that parses back to
/// the same bits.
///
/// Sensor readings are mostly short decimals (`82.5`, `1013.25`), for which
/// this finds the form directly: a `k <= 4` for which `v * 10^k` is an
/// integer `n` below 2^52 whose correctly rounded quotient `n / 10^k` is `v`
/// again, so any correct parser reads that decimal back as `v`. Below 2^52
/// the gap between neighbouring floats is under `10^-k`, so no other decimal
/// with `k` places reads back as `v`; with trailing zeros dropped it is the
/// shortest, the one ryu writes too. Everything else goes to `ryu`.
#[cfg_attr(not(target_os = "none"), inline(always))]
fn write_float(buf: &mut Buf<'_>, v: f64) -> Result<(), PointError> {
    if !v.is_finite() {
        return Err(PointError::NotFinite);
    }
    // Only where doubles are native: on a microcontroller without a
    // double-precision FPU the multiply and divide below are software
    // routines, slower than ryu's integer arithmetic and extra flash.
    if !MCU {
        if let Some((negative, n, k)) = short_decimal(v) {
            return write_fixed(buf, negative, n, k);
        }
    }
    // `small`: the same digits without ryu's printer (and the `memmove`
    // it links); see `float.rs`.
    #[cfg(feature = "small")]
    return escape::extend(buf, crate::line::float::format_finite(v).as_bytes());
    #[cfg(not(feature = "small"))]
    escape::extend(buf, ryu::Buffer::new().format_finite(v).as_bytes())
}

/// `v` as `n / 10^k` (sign apart) when a short decimal reads back as `v`.
#[inline(always)]
fn short_decimal(v: f64) -> Option<(bool, u64, usize)> {
    const POW10: [f64; 5] = [1.0, 10.0, 100.0, 1_000.0, 10_000.0];
    const LIMIT: f64 = 4_503_599_627_370_496.0; // 2^52
    let magnitude = if v < 0.0 { -v } else { v };
    // Zero keeps its sign through ryu; the fixed form is for 1e-4 ..= 1e15,
    // where ryu writes plain decimals too.
    if (1e-4..1e15).contains(&magnitude) {
        for (k, &scale) in POW10.iter().enumerate() {
            let scaled = magnitude * scale;
            if scaled >= LIMIT {
                break;
            }
            // Through i64, not u64: below 2^52 both are exact, and x86 has
            // single instructions only for the signed conversions.
            let n = scaled as i64;
            if n as f64 == scaled && n as f64 / scale == magnitude {
                // `v * 10^k` may round onto an integer only at a larger `k`
                // than the decimal needs: drop the zeros that leaves.
                let (mut n, mut k) = (n.unsigned_abs(), k);
                while k > 0 && n % 10 == 0 {
                    n /= 10;
                    k -= 1;
                }
                return Some((v < 0.0, n, k));
            }
        }
    }
    None
}

/// Writes `n / 10^k` (`k <= 4`, `n` below 2^52) with at least one digit
/// after the point, in one copy: the integer part, the point, then the
/// fraction as `k` digits (one zero when `k` is 0).
#[inline(always)]
fn write_fixed(buf: &mut Buf<'_>, negative: bool, n: u64, k: usize) -> Result<(), PointError> {
    // `n.0` is `n0` with one decimal.
    let (n, k) = if k == 0 { (n * 10, 1) } else { (n, k) };
    if n < 100_000_000 {
        return write_fixed_short(buf, negative, n as u32, k);
    }
    // The fraction scaled to four digits: its first `k` are the ones to write.
    let (int, frac) = match k {
        1 => (n / 10, n % 10 * 1_000),
        2 => (n / 100, n % 100 * 100),
        3 => (n / 1_000, n % 1_000 * 10),
        _ => (n / 10_000, n % 10_000),
    };
    // A sign, at most 16 integer digits (n < 2^52), the point, 4 digits.
    const POINT: usize = 1 + 16;
    let mut text = [0u8; POINT + 1 + 4];
    let mut start = digits::u64_digits(int, &mut text, POINT);
    if let Some(point) = text.get_mut(POINT) {
        *point = b'.';
    }
    let frac = digits::eight_digits(frac as u32);
    if let (Some(dst), Some(src)) = (text.get_mut(POINT + 1..), frac.get(4..)) {
        dst.copy_from_slice(src);
    }
    if negative {
        start = start.saturating_sub(1);
        if let Some(sign) = text.get_mut(start) {
            *sign = b'-';
        }
    }
    let end = POINT + 1 + k;
    escape::extend(buf, text.get(start..end).unwrap_or_default())
}

/// [`write_fixed`] for up to eight digits (most readings), `1 <= k <= 4`:
/// the digits come as one word, and the point goes in with shifts.
#[inline(always)]
fn write_fixed_short(
    buf: &mut Buf<'_>,
    negative: bool,
    n: u32,
    k: usize,
) -> Result<(), PointError> {
    // Clamped, though `short_decimal` gives no other `k`, so that nothing
    // could make the shifts below overflow.
    let k = k.clamp(1, 4);
    let digits = digits::eight_digits(n);
    let word = u64::from_le_bytes(digits);
    // In little-endian order the last `k` digits are the high bytes.
    let int_bits = 64 - 8 * k as u32;
    let int = word & (u64::MAX >> (64 - int_bits));
    let frac = word >> int_bits;
    // The first eight of the nine bytes, then the last digit on its own.
    let head = int | (u64::from(b'.') << int_bits) | ((frac << int_bits) << 8);
    // A sign, then the digits and point.
    let mut out = [0u8; 1 + 9];
    if let Some(dst) = out.get_mut(1..9) {
        dst.copy_from_slice(&head.to_le_bytes());
    }
    if let Some(last) = out.last_mut() {
        *last = (word >> 56) as u8;
    }
    // Leading zeros go, down to one digit before the point.
    let mut start = 1 + digits::leading_zeros(digits).min(7 - k);
    if negative {
        start -= 1;
        if let Some(sign) = out.get_mut(start) {
            *sign = b'-';
        }
    }
    escape::extend(buf, out.get(start..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    fn written(v: f64) -> std::string::String {
        let mut bytes = [0u8; 64];
        let mut buf = Buf {
            bytes: &mut bytes,
            len: 0,
        };
        write_float(&mut buf, v).unwrap();
        std::string::String::from_utf8(buf.as_slice().to_vec()).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]
        /// The fast path must write exactly what ryu writes.
        #[test]
        fn floats_match_ryu(n in any::<i64>(), k in 0u32..7, raw in any::<f64>()) {
            let decimal = (n % 100_000_000_000) as f64 / 10f64.powi(k as i32);
            for v in [decimal, raw] {
                if v.is_finite() {
                    let mut expected = ryu::Buffer::new();
                    prop_assert_eq!(written(v), expected.format_finite(v));
                }
            }
        }
    }

    #[test]
    fn rotation_by_reversal_equals_rotate_right() {
        let bytes = *b",a=1,b=2,c=3";
        for k in 0..=bytes.len() {
            let (mut ours, mut std) = (bytes, bytes);
            rotate_by_reversal(&mut ours, k);
            std.rotate_right(k);
            assert_eq!(ours, std, "{k}");
        }
    }

    #[test]
    fn float_edges_match_ryu() {
        for v in [
            0.0,
            -0.0,
            1e-4,
            9.9999e-5,
            1e15,
            999_999_999_999_999.9,
            0.1,
            0.2,
            0.3,
            82.5,
            1013.25,
            0.0005,
            0.0123,
            0.05,
            0.5,
            1.0,
            10.0,
            100.5,
            -0.001,
            -1.25,
            1234.0,
            0.1234,
            -40.0,
            0.0001,
            123_456_789.012_3,
            4503599627370497.0,
            9_999_999.5,
            -9_999_999.5,
            99_999_999.0,
            10_000_000.0,
            1_000_000.1,
            0.9999,
            -0.0001,
            12.34,
            9007199254740993.0,
            1e-5,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
        ] {
            assert_eq!(written(v), ryu::Buffer::new().format_finite(v), "{v}");
        }
    }
}
