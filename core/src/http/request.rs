//! The write request: request line, headers, and the body streamed from the
//! caller's bytes.
//!
//! The head is produced by one function over an abstract byte sink, so the
//! same bytes can go to a caller's slice ([`encode_head`]) or to any
//! [`embedded_io::Write`] ([`write_request`]). The body is written straight
//! from the caller's slice: it is never copied.

use super::error::{ConfigError, ResourceError, TransportError, WriteError};
use super::target::{is_unreserved, Api, Target};
use crate::Precision;

/// The `User-Agent` header value: `linewire/<crate version>`.
pub const USER_AGENT: &str = concat!("linewire/", env!("CARGO_PKG_VERSION"));

/// The bytes to send: line protocol (or gzip of it), and how to describe it.
///
/// ```
/// use linewire::http::Payload;
/// use linewire::Precision;
///
/// let p = Payload::new(b"m f=1i 1\n").precision(Precision::Seconds);
/// assert_eq!(p.len(), 9);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Payload<'b> {
    bytes: &'b [u8],
    precision: Option<Precision>,
    compressed: bool,
}

impl<'b> Payload<'b> {
    /// A payload of uncompressed line protocol, at the target's precision.
    ///
    /// ```
    /// use linewire::http::Payload;
    ///
    /// assert!(!Payload::new(b"m f=1\n").is_compressed());
    /// ```
    pub const fn new(bytes: &'b [u8]) -> Self {
        Self {
            bytes,
            precision: None,
            compressed: false,
        }
    }

    /// The precision of this payload's timestamps, overriding the target's
    /// (use the batch's `precision()`).
    ///
    /// ```
    /// use linewire::http::Payload;
    /// use linewire::Precision;
    ///
    /// let p = Payload::new(b"m f=1 1\n").precision(Precision::Hours);
    /// ```
    #[must_use]
    pub const fn precision(mut self, precision: Precision) -> Self {
        self.precision = Some(precision);
        self
    }

    /// Mark the bytes as gzip-compressed: the request carries
    /// `Content-Encoding: gzip`.
    ///
    /// ```
    /// use linewire::http::Payload;
    ///
    /// assert!(Payload::new(&[0x1f, 0x8b]).compressed(true).is_compressed());
    /// ```
    #[must_use]
    pub const fn compressed(mut self, compressed: bool) -> Self {
        self.compressed = compressed;
        self
    }

    /// The body bytes.
    ///
    /// ```
    /// use linewire::http::Payload;
    ///
    /// assert_eq!(Payload::new(b"x").bytes(), b"x");
    /// ```
    pub const fn bytes(&self) -> &'b [u8] {
        self.bytes
    }

    /// Body length in bytes.
    ///
    /// ```
    /// use linewire::http::Payload;
    ///
    /// assert_eq!(Payload::new(b"abc").len(), 3);
    /// ```
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `true` when the body is empty.
    ///
    /// ```
    /// use linewire::http::Payload;
    ///
    /// assert!(Payload::new(b"").is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Whether the bytes are gzip-compressed.
    ///
    /// ```
    /// use linewire::http::Payload;
    ///
    /// assert!(!Payload::new(b"").is_compressed());
    /// ```
    pub const fn is_compressed(&self) -> bool {
        self.compressed
    }
}

impl<'b> From<&'b [u8]> for Payload<'b> {
    fn from(bytes: &'b [u8]) -> Self {
        Self::new(bytes)
    }
}

impl<'b, const N: usize> From<&'b [u8; N]> for Payload<'b> {
    fn from(bytes: &'b [u8; N]) -> Self {
        Self::new(bytes)
    }
}

/// A batch's complete lines, at the batch's precision (so minute and hour
/// batches go out as `precision=s`, the unit their bytes carry).
///
/// ```
/// use linewire::http::Payload;
/// use linewire::{Batch, Precision};
///
/// let mut batch = Batch::<128>::with_precision(Precision::Minutes);
/// batch.point("m")?.field("v", 1u64)?.finish()?;
/// let payload = Payload::from(&batch);
/// assert_eq!(payload.bytes(), batch.as_bytes());
/// # Ok::<(), linewire::PointError>(())
/// ```
impl<'b, S: crate::Storage> From<&'b crate::BatchInner<S>> for Payload<'b> {
    fn from(batch: &'b crate::BatchInner<S>) -> Self {
        Self::new(batch.as_bytes()).precision(batch.precision())
    }
}

/// Where head bytes go.
trait Sink {
    type Error;
    fn put(&mut self, bytes: &[u8]) -> Result<(), Self::Error>;
}

/// A sink over a caller's slice.
struct SliceSink<'s> {
    out: &'s mut [u8],
    len: usize,
}

impl Sink for SliceSink<'_> {
    type Error = ResourceError;
    fn put(&mut self, bytes: &[u8]) -> Result<(), ResourceError> {
        let end = self
            .len
            .checked_add(bytes.len())
            .ok_or(ResourceError::RequestHeadTooLarge)?;
        let dst = self
            .out
            .get_mut(self.len..end)
            .ok_or(ResourceError::RequestHeadTooLarge)?;
        crate::bytes::copy(dst, bytes);
        self.len = end;
        Ok(())
    }
}

/// A sink that stages bytes in a caller's scratch slice and writes them to
/// the stream when it is full, so the head goes out in few writes (few TCP
/// segments) without a buffer of its own.
struct Staged<'w, 's, W: embedded_io::Write> {
    w: &'w mut W,
    buf: &'s mut [u8],
    len: usize,
}

impl<W: embedded_io::Write> Staged<'_, '_, W> {
    fn flush(&mut self) -> Result<(), TransportError> {
        let staged = self.buf.get(..self.len).unwrap_or(&[]);
        write_all(self.w, staged)?;
        self.len = 0;
        Ok(())
    }
}

impl<W: embedded_io::Write> Sink for Staged<'_, '_, W> {
    type Error = TransportError;
    fn put(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        let free = self.buf.len().saturating_sub(self.len);
        if bytes.len() > free {
            self.flush()?;
            if bytes.len() > self.buf.len() {
                return write_all(self.w, bytes);
            }
        }
        let end = self.len.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            crate::bytes::copy(dst, bytes);
            self.len = end;
            Ok(())
        } else {
            write_all(self.w, bytes)
        }
    }
}

/// A sink that keeps the head bytes at positions `from..from + out.len()`
/// and counts them all. An async writer cannot write from inside the
/// synchronous encoder, so it encodes the head in windows of its scratch
/// buffer (one window when the head fits) and writes each window.
#[cfg(feature = "async")]
struct WindowSink<'s> {
    out: &'s mut [u8],
    from: usize,
    pos: usize,
    kept: usize,
}

#[cfg(feature = "async")]
impl Sink for WindowSink<'_> {
    type Error = core::convert::Infallible;
    fn put(&mut self, bytes: &[u8]) -> Result<(), Self::Error> {
        let start = self.pos;
        self.pos = self.pos.saturating_add(bytes.len());
        // The overlap of this piece, [start, pos), with the window.
        let lo = start.max(self.from);
        let hi = self.pos.min(self.from.saturating_add(self.out.len()));
        if lo < hi {
            let src = bytes.get(lo - start..hi - start).unwrap_or_default();
            if let Some(dst) = self.out.get_mut(lo - self.from..hi - self.from) {
                crate::bytes::copy(dst, src);
                self.kept = hi - self.from;
            }
        }
        Ok(())
    }
}

/// Encodes the request head and keeps its bytes from `from` on in `out`:
/// returns how many were kept and the head's whole length. Pure; the
/// caller has run [`check`].
#[cfg(feature = "async")]
pub(super) fn head_window(
    target: &Target<'_>,
    payload: &Payload<'_>,
    from: usize,
    out: &mut [u8],
) -> (usize, usize) {
    let mut sink = WindowSink {
        out,
        from,
        pos: 0,
        kept: 0,
    };
    if let Err(never) = put_head(&mut sink, target, payload) {
        match never {}
    }
    (sink.kept, sink.pos)
}

/// `write_all` that maps `Ok(0)` to [`TransportError::WriteZero`] instead of
/// looping or panicking.
pub(crate) fn write_all<W: embedded_io::Write>(
    w: &mut W,
    mut bytes: &[u8],
) -> Result<(), TransportError> {
    use embedded_io::Error as _;
    while !bytes.is_empty() {
        match w.write(bytes) {
            Ok(0) => return Err(TransportError::WriteZero),
            Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(e) => return Err(TransportError::Write(e.kind())),
        }
    }
    Ok(())
}

/// The decimal digits of `n` (the digits code the point formatting links
/// anyway, no second integer printer).
fn put_number<S: Sink>(s: &mut S, n: u64) -> Result<(), S::Error> {
    let mut text = [0u8; crate::line::digits::U64_DIGITS];
    let start = crate::line::digits::u64_digits(n, &mut text, crate::line::digits::U64_DIGITS);
    s.put(text.get(start..).unwrap_or_default())
}

fn put_encoded<S: Sink>(s: &mut S, value: &str) -> Result<(), S::Error> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !is_unreserved(b) {
            s.put(bytes.get(start..i).unwrap_or(&[]))?;
            let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            let lo = HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0');
            s.put(&[b'%', hi, lo])?;
            start = i.saturating_add(1);
        }
    }
    s.put(bytes.get(start..).unwrap_or(&[]))
}

fn put_param<S: Sink>(
    s: &mut S,
    first: &mut bool,
    name: &str,
    value: &str,
) -> Result<(), S::Error> {
    s.put(if *first { b"?" } else { b"&" })?;
    *first = false;
    s.put(name.as_bytes())?;
    s.put(b"=")?;
    put_encoded(s, value)
}

fn put_head<S: Sink>(s: &mut S, t: &Target<'_>, p: &Payload<'_>) -> Result<(), S::Error> {
    let precision = p.precision.unwrap_or(t.precision).wire();
    s.put(b"POST ")?;
    s.put(t.path_prefix.as_bytes())?;
    let mut first = true;
    match t.api {
        Api::V2 => {
            s.put(b"/api/v2/write")?;
            if let Some(org) = t.org {
                put_param(s, &mut first, "org", org)?;
            }
            if let Some(id) = t.org_id {
                put_param(s, &mut first, "orgID", id)?;
            }
            put_param(s, &mut first, "bucket", t.bucket)?;
            put_param(s, &mut first, "precision", precision.as_str())?;
        }
        Api::V1 => {
            s.put(b"/write")?;
            put_param(s, &mut first, "db", t.bucket)?;
            if let Some(rp) = t.rp {
                put_param(s, &mut first, "rp", rp)?;
            }
            put_param(s, &mut first, "precision", precision.v1_str())?;
            if let Some(u) = t.user {
                put_param(s, &mut first, "u", u)?;
            }
            if let Some(pw) = t.password {
                put_param(s, &mut first, "p", pw)?;
            }
        }
    }
    s.put(b" HTTP/1.1\r\nHost: ")?;
    s.put(t.host.as_bytes())?;
    if let Some(port) = t.port {
        s.put(b":")?;
        put_number(s, port.into())?;
    }
    s.put(b"\r\nUser-Agent: ")?;
    s.put(USER_AGENT.as_bytes())?;
    if let Some(token) = t.token {
        s.put(b"\r\nAuthorization: Token ")?;
        s.put(token.as_bytes())?;
    }
    s.put(b"\r\nContent-Type: text/plain; charset=utf-8")?;
    if p.compressed {
        s.put(b"\r\nContent-Encoding: gzip")?;
    }
    s.put(b"\r\nContent-Length: ")?;
    put_number(s, p.bytes.len() as u64)?;
    s.put(b"\r\nAccept: application/json")?;
    if !t.keep_alive {
        s.put(b"\r\nConnection: close")?;
    }
    for (name, value) in t.headers {
        s.put(b"\r\n")?;
        s.put(name.as_bytes())?;
        s.put(b": ")?;
        s.put(value.as_bytes())?;
    }
    s.put(b"\r\n\r\n")
}

pub(crate) fn check(t: &Target<'_>, p: &Payload<'_>) -> Result<(), ConfigError> {
    if p.bytes.len() > t.max_body {
        return Err(ConfigError::BodyTooLarge {
            len: p.bytes.len(),
            max: t.max_body,
        });
    }
    Ok(())
}

/// Encodes the request head (request line and headers, ending in the empty
/// line) into `out` and returns its length. Send the payload bytes right
/// after it. Pure: no I/O.
///
/// # Errors
///
/// [`WriteError::Config`] when the payload is larger than the target's
/// maximum; [`WriteError::Resource`] when `out` is too small.
///
/// ```
/// use linewire::http::{encode_head, Payload, Target};
///
/// let target = Target::v2("h", "b", "t")?;
/// let mut out = [0u8; 256];
/// let n = encode_head(&target, &Payload::new(b"m f=1\n"), &mut out)?;
/// assert!(out[..n].starts_with(b"POST /api/v2/write?bucket=b&precision=ns HTTP/1.1\r\n"));
/// assert!(out[..n].ends_with(b"\r\n\r\n"));
/// # Ok::<(), linewire::http::WriteError>(())
/// ```
pub fn encode_head(
    target: &Target<'_>,
    payload: &Payload<'_>,
    out: &mut [u8],
) -> Result<usize, WriteError> {
    check(target, payload)?;
    let mut sink = SliceSink { out, len: 0 };
    put_head(&mut sink, target, payload)?;
    Ok(sink.len)
}

/// Writes the whole request (head, then the payload bytes straight from the
/// caller's slice) to `w` and flushes it.
///
/// `scratch` stages the head so it goes out in one or a few writes; any size
/// works (an empty slice writes each piece directly). [`write_batch`]
/// passes the response buffer, which is free at that point.
///
/// # Errors
///
/// [`WriteError::Config`] (nothing written) when the payload is larger than
/// the target's maximum; [`WriteError::Transport`] when the stream fails.
///
/// [`write_batch`]: super::write_batch
///
/// ```
/// use linewire::http::{write_request, Payload, Target};
///
/// let target = Target::v2("h", "b", "t")?;
/// let mut wire = [0u8; 512];
/// let mut w: &mut [u8] = &mut wire;
/// let mut scratch = [0u8; 64];
/// write_request(&mut w, &target, &Payload::new(b"m f=1\n"), &mut scratch)?;
/// let left = w.len();
/// assert!(wire[..512 - left].ends_with(b"\r\n\r\nm f=1\n"));
/// # Ok::<(), linewire::http::WriteError>(())
/// ```
pub fn write_request<W: embedded_io::Write>(
    w: &mut W,
    target: &Target<'_>,
    payload: &Payload<'_>,
    scratch: &mut [u8],
) -> Result<(), WriteError> {
    use embedded_io::Error as _;
    check(target, payload)?;
    let mut staged = Staged {
        w,
        buf: scratch,
        len: 0,
    };
    put_head(&mut staged, target, payload)?;
    staged.flush()?;
    write_all(staged.w, payload.bytes)?;
    staged
        .w
        .flush()
        .map_err(|e| TransportError::Write(e.kind()))?;
    Ok(())
}
