//! The response reader: status line and headers parsed by the crate's own
//! head parser (`head.rs`, held equal to `httparse` by a differential test
//! and a fuzz target), the body decoded (length, chunked, or until close) into the caller's buffer.
//!
//! [`read_response`] is a thin loop around two pure parts: the head parser
//! (a function of the bytes received so far) and a byte-level body decoder.
//! The whole response lives in the caller's buffer: after the head is
//! parsed, the two header values kept (`X-Platform-Error-Code`,
//! `X-Influxdb-Error`) are moved to the front of the buffer and the decoded
//! body follows them. A body longer than the rest of the buffer is still
//! read to its end, so the connection stays usable; only its first bytes are
//! kept ([`Response::is_truncated`]).
//!
//! # The status decides
//!
//! Once a status line is read, the response is returned, whatever follows:
//! nothing after the status line turns into an error. What could not be read
//! is reported by [`Response::truncation`]:
//!
//! - a header field longer than the free space of the buffer is skipped (its
//!   name is looked at: a skipped `Content-Length` or `Transfer-Encoding`
//!   means the body is not read); header fields that fit are interpreted as
//!   they arrive and their bytes reused, so the number of fields is not
//!   limited ([`Truncation::Headers`]). A kept value (`X-Influxdb-Error`,
//!   `X-Platform-Error-Code`) is dropped with its field when the field is
//!   skipped, and cut to a quarter of the buffer when the head does not fit;
//! - a malformed header field, a head cut short by the peer, or a framing
//!   header that is invalid or skipped: the body is not read, its length is
//!   not guessed ([`Truncation::Framing`], [`Framing::Unknown`]);
//! - a body past [`ReadLimits::max_body`], a malformed chunked framing, or a
//!   peer that closes (or a stream that fails) before the end of the body
//!   ([`Truncation::Body`]).
//!
//! Each of them makes the connection not reusable. Errors are left for what
//! happens before a complete status line: a stream that fails or closes, a
//! status line that is not HTTP/1.x or does not fit the buffer, a `101`, or
//! more than [`MAX_INTERIM`] interim responses.
//!
//! Every loop ends: each iteration either consumes a byte, reads from the
//! stream, or frees room in a full buffer (head bytes interpreted or
//! skipped) that the next read fills, and a stream that returns `Ok(0)` is
//! at its end. A peer that sends without end is stopped by
//! [`ReadLimits::max_body`] (which also counts the head bytes moved out of
//! the buffer) and [`MAX_INTERIM`].

use super::error::{PeerError, ReadError, ResourceError, TransportError};
use super::head::Stop;
use core::fmt;

/// The most interim (`1xx`) responses skipped before the final one.
pub const MAX_INTERIM: usize = 8;

/// Bytes of stack used to discard a body once the caller's buffer is full.
const DISCARD_CHUNK: usize = 64;

/// Bounds on what the reader accepts from a peer.
///
/// ```
/// use linewire::http::ReadLimits;
///
/// let limits = ReadLimits::new(64 * 1024);
/// assert_eq!(limits.max_body, 64 * 1024);
/// assert_eq!(ReadLimits::default().max_body, 1024 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ReadLimits {
    /// The most body bytes (counting chunk framing and trailers, and the
    /// head bytes read after the head first filled the buffer) the reader
    /// reads. Past it the response is returned as far as it was read
    /// ([`Truncation::Body`], or [`Truncation::Framing`] in the head).
    /// Default: 1 MiB. (`u32`: a write endpoint's answer is never near
    /// 4 GiB.)
    pub max_body: u32,
}

impl ReadLimits {
    /// Limits with the given `max_body`.
    ///
    /// ```
    /// use linewire::http::ReadLimits;
    ///
    /// assert_eq!(ReadLimits::new(10).max_body, 10);
    /// ```
    pub const fn new(max_body: u32) -> Self {
        Self { max_body }
    }
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self::new(1024 * 1024)
    }
}

/// The value of a `Retry-After` header.
///
/// ```
/// use linewire::http::RetryAfter;
///
/// assert_eq!(RetryAfter::parse(b"30"), Some(RetryAfter::Seconds(30)));
/// let at = RetryAfter::parse(b"Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
/// assert_eq!(at, RetryAfter::At(784111777));
/// assert_eq!(at.delay_secs(Some(784111770)), Some(7));
/// assert_eq!(at.delay_secs(None), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RetryAfter {
    /// Delta seconds (fractions rounded up, saturating at `u32::MAX`).
    Seconds(u32),
    /// An HTTP-date, as Unix seconds (`u32`: saturating at `u32::MAX`,
    /// 2106-02-07).
    At(u32),
}

impl RetryAfter {
    /// Parses a `Retry-After` value: delta seconds (`120`, also `1.5` as
    /// Telegraf accepts) or an HTTP-date in the IMF-fixdate form
    /// (`Sun, 06 Nov 1994 08:49:37 GMT`, the only form RFC 9110 lets
    /// senders generate). Returns `None` for anything else, including the
    /// obsolete RFC 850 and asctime date forms (a writer then uses its own
    /// backoff).
    ///
    /// ```
    /// use linewire::http::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::parse(b" 1.5 "), Some(RetryAfter::Seconds(2)));
    /// assert_eq!(RetryAfter::parse(b"soon"), None);
    /// ```
    // Inlined into the reader on microcontrollers: less flash.
    #[cfg_attr(target_os = "none", inline(always))]
    pub fn parse(value: &[u8]) -> Option<Self> {
        let v = value.trim_ascii();
        if v.first().is_some_and(u8::is_ascii_digit) {
            let mut secs: u32 = 0;
            let mut dots = 0u32;
            let mut round_up = false;
            for &d in v {
                if d == b'.' {
                    dots += 1;
                } else if !d.is_ascii_digit() {
                    return None;
                } else if dots == 0 {
                    secs = secs.saturating_mul(10).saturating_add(u32::from(d - b'0'));
                } else if d != b'0' {
                    round_up = true;
                }
            }
            if dots > 1 {
                return None;
            }
            return Some(Self::Seconds(secs.saturating_add(u32::from(round_up))));
        }
        http_date(v).map(Self::At)
    }

    /// The delay in seconds from `now_unix` (the caller's clock, Unix
    /// seconds, `u32` like [`RetryAfter::At`]). Delta seconds need no
    /// clock; a date needs `now_unix` and gives `Some(0)` when it has
    /// passed.
    ///
    /// ```
    /// use linewire::http::RetryAfter;
    ///
    /// assert_eq!(RetryAfter::Seconds(5).delay_secs(None), Some(5));
    /// assert_eq!(RetryAfter::At(100).delay_secs(Some(200)), Some(0));
    /// ```
    pub fn delay_secs(self, now_unix: Option<u32>) -> Option<u32> {
        match self {
            Self::Seconds(s) => Some(s),
            Self::At(t) => now_unix.map(|now| t.saturating_sub(now)),
        }
    }
}

/// How the response body is delimited.
///
/// ```
/// use linewire::http::{read_response, Framing, ReadLimits};
///
/// let mut wire: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
/// let mut buf = [0u8; 64];
/// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
/// assert_eq!(r.framing(), Framing::NoBody);
/// # Ok::<(), linewire::http::ReadError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Framing {
    /// No body (`204`, `304`, or `Content-Length: 0`).
    NoBody,
    /// `Content-Length` bytes.
    Length,
    /// `Transfer-Encoding: chunked` (wins over `Content-Length`).
    Chunked,
    /// Neither: the body ends when the peer closes the connection.
    UntilClose,
    /// Not known: the head was not read to its end, or a framing header
    /// was invalid or skipped ([`Truncation::Framing`]). The body was not
    /// read.
    Unknown,
}

/// What was lost of a response whose status line was read: the status is
/// valid, the rest may be incomplete. The connection is not reusable.
///
/// Ordered by severity; a response reports the most severe that happened.
///
/// ```
/// use linewire::http::{read_response, ReadLimits, Truncation};
///
/// // A CDN's 4 KiB of headers on a 204, read into 256 bytes.
/// let wire = [
///     &b"HTTP/1.1 204 No Content\r\nX-Cdn: "[..],
///     &[b'a'; 4096][..],
///     b"\r\nServer: edge\r\n\r\n",
/// ]
/// .concat();
/// let mut buf = [0u8; 256];
/// let r = read_response(&mut &wire[..], &mut buf, ReadLimits::default())?;
/// assert_eq!(r.status(), 204);
/// assert_eq!(r.truncation(), Some(Truncation::Headers));
/// assert_eq!(
///     Truncation::Headers.to_string(),
///     "response header fields that did not fit the buffer were skipped"
/// );
/// # Ok::<(), linewire::http::ReadError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Truncation {
    /// Header fields longer than the buffer's free space were skipped, or
    /// a kept header value was cut. The body was read by its framing.
    Headers,
    /// The body is cut short: past [`ReadLimits::max_body`], a malformed
    /// chunked framing, or the peer closed (or the stream failed) before
    /// its end.
    Body,
    /// The body was not read: a header field is malformed, the head ended
    /// early (closed, failed, past [`ReadLimits::max_body`]), or a
    /// `Content-Length` / `Transfer-Encoding` was invalid or skipped.
    Framing,
}

impl fmt::Display for Truncation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Headers => "response header fields that did not fit the buffer were skipped",
            Self::Body => "the response body was cut short",
            Self::Framing => {
                "the response head was cut or its framing is unreadable; the body was not read"
            }
        })
    }
}

/// A parsed response. The header values and the body borrow the caller's
/// buffer.
///
/// ```
/// use linewire::http::{read_response, ReadLimits};
///
/// let mut wire: &[u8] =
///     b"HTTP/1.1 404 Not Found\r\nX-Platform-Error-Code: not found\r\nContent-Length: 2\r\n\r\nno";
/// let mut buf = [0u8; 256];
/// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
/// assert_eq!(r.status(), 404);
/// assert_eq!(r.platform_error_code(), Some("not found"));
/// assert_eq!(r.body(), b"no");
/// assert!(r.is_reusable());
/// # Ok::<(), linewire::http::ReadError>(())
/// ```
#[derive(Debug)]
pub struct Response<'b> {
    pub(crate) status: u16,
    pub(crate) retry_after: Option<RetryAfter>,
    pub(crate) content_length: Option<u32>,
    pub(crate) framing: Framing,
    pub(crate) reusable: bool,
    pub(crate) truncation: Option<Truncation>,
    pub(crate) body_len: u32,
    pub(crate) platform_error_code: Option<&'b str>,
    pub(crate) influxdb_error: Option<&'b str>,
    pub(crate) body: &'b mut [u8],
}

impl<'b> Response<'b> {
    /// The status code.
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// # let mut wire: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    /// # let mut buf = [0u8; 64];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.status(), 204);
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The `Retry-After` header, if present and valid.
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits, RetryAfter};
    /// let mut wire: &[u8] = b"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.retry_after(), Some(RetryAfter::Seconds(7)));
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn retry_after(&self) -> Option<RetryAfter> {
        self.retry_after
    }

    /// The `Content-Length` header, if present (even when chunked framing
    /// overrides it).
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// let mut wire: &[u8] = b"HTTP/1.1 400 Bad\r\nContent-Length: 2\r\n\r\n{}";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.content_length(), Some(2));
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn content_length(&self) -> Option<u32> {
        self.content_length
    }

    /// How the body was delimited.
    ///
    /// ```
    /// # use linewire::http::{read_response, Framing, ReadLimits};
    /// let mut wire: &[u8] = b"HTTP/1.1 502 Bad Gateway\r\n\r\n<html></html>";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.framing(), Framing::UntilClose);
    /// assert!(!r.is_reusable());
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// `true` when the connection can carry the next request: HTTP/1.1
    /// (or 1.0 with keep-alive), no `Connection: close`, not both
    /// `Content-Length` and `Transfer-Encoding`, nothing lost
    /// ([`truncation`](Self::truncation) is `None`), and the body was read
    /// completely to a known end.
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// let mut wire: &[u8] = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert!(!r.is_reusable());
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn is_reusable(&self) -> bool {
        self.reusable
    }

    /// `false` when the body was not read to its end (the peer closed, the
    /// stream failed, [`ReadLimits::max_body`] or a malformed framing
    /// stopped it, or it was not read at all): the status is valid, the
    /// body is cut short. [`truncation`](Self::truncation) says why.
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// let mut wire: &[u8] = b"HTTP/1.1 400 Bad\r\nContent-Length: 10\r\n\r\n{\"co";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert!(!r.is_complete());
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn is_complete(&self) -> bool {
        // The body is cut or not read exactly when one of these is reported.
        !matches!(
            self.truncation,
            Some(Truncation::Body | Truncation::Framing)
        )
    }

    /// What was lost after the status line, if anything: skipped header
    /// fields, a cut body, or an unreadable framing (body not read).
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits, Truncation};
    /// let mut wire: &[u8] = b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.status(), 400);
    /// assert_eq!(r.truncation(), Some(Truncation::Body));
    /// assert!(!r.is_reusable());
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn truncation(&self) -> Option<Truncation> {
        self.truncation
    }

    /// `true` when the body was longer than the buffer and only its first
    /// bytes were kept.
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// let mut wire: &[u8] = b"HTTP/1.1 400 Bad\r\nContent-Length: 100\r\n\r\n";
    /// # let mut buf = [0u8; 64];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert!(!r.is_truncated()); // nothing arrived, nothing was cut
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn is_truncated(&self) -> bool {
        (self.body.len() as u64) < u64::from(self.body_len)
    }

    /// The decoded length of the whole body, kept or not.
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// let mut wire: &[u8] = b"HTTP/1.1 400 Bad\r\nContent-Length: 4\r\n\r\nabcd";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.body_len(), 4);
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn body_len(&self) -> u32 {
        self.body_len
    }

    /// The body bytes kept (decoded, possibly truncated).
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// let mut wire: &[u8] =
    ///     b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.body(), b"ab");
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn body(&self) -> &[u8] {
        self.body
    }

    /// The `X-Platform-Error-Code` header (InfluxDB 2.x), if present.
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// let mut wire: &[u8] = b"HTTP/1.1 413 Too Large\r\nX-Platform-Error-Code: too large\r\nContent-Length: 0\r\n\r\n";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.platform_error_code(), Some("too large"));
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn platform_error_code(&self) -> Option<&'b str> {
        self.platform_error_code
    }

    /// The `X-Influxdb-Error` header (InfluxDB 1.x), if present.
    ///
    /// ```
    /// # use linewire::http::{read_response, ReadLimits};
    /// let mut wire: &[u8] = b"HTTP/1.1 404 Not Found\r\nX-Influxdb-Error: database not found: \"x\"\r\nContent-Length: 0\r\n\r\n";
    /// # let mut buf = [0u8; 128];
    /// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
    /// assert_eq!(r.influxdb_error(), Some("database not found: \"x\""));
    /// # Ok::<(), linewire::http::ReadError>(())
    /// ```
    pub fn influxdb_error(&self) -> Option<&'b str> {
        self.influxdb_error
    }
}

/// What the head parser extracts; header values as ranges of the buffer.
#[derive(Debug, Clone, Copy)]
struct Head {
    status: u16,
    http10: bool,
    retry_after: Option<RetryAfter>,
    content_length: Option<u32>,
    transfer_encoding: bool,
    chunked: bool,
    close: bool,
    keep_alive: bool,
    /// A `Content-Length` that is not a number, disagrees with another, or
    /// is past `u32::MAX`, or a framing header that was skipped.
    bad_framing: bool,
    /// Where the kept values are in the buffer: `X-Platform-Error-Code`,
    /// `X-Influxdb-Error`.
    kept: [Option<(usize, usize)>; 2],
}

impl Head {
    /// No status line yet (`status` 0), no fields.
    const EMPTY: Self = Self {
        status: 0,
        http10: false,
        retry_after: None,
        content_length: None,
        transfer_encoding: false,
        chunked: false,
        close: false,
        keep_alive: false,
        bad_framing: false,
        kept: [None, None],
    };
}

/// The next item of a comma-separated header value, trimmed (possibly
/// empty); `None` after the last.
fn next_item<'a>(rest: &mut Option<&'a [u8]>) -> Option<&'a [u8]> {
    let v = rest.take()?;
    let (item, tail) = match v.iter().position(|&b| b == b',') {
        Some(i) => {
            let (item, tail) = v.split_at(i);
            (item, tail.get(1..))
        }
        None => (v, None),
    };
    *rest = tail;
    Some(item.trim_ascii())
}

pub(super) fn parse_u64(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    digits_value(v)
}

/// The value of decimal digits (`Some(0)` for none); `None` for another
/// byte or past `u64::MAX`.
pub(super) fn digits_value(v: &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for &d in v {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(n)
}

/// Parses the head in `buf` into `head`: the status line first while
/// `head` has no status (then `from` is set to its end), then the fields
/// from `from`. The fields are interpreted into `head` as they are parsed,
/// also when the head is not complete (interpreting the same fields again
/// changes nothing). Returns the head length, `Ok(None)` when more bytes
/// are needed, `Err(())` for a malformed head.
fn parse_head(buf: &[u8], from: &mut usize, head: &mut Head) -> Result<Option<usize>, ()> {
    let parsed = if head.status == 0 {
        super::head::status_line(buf).map(|(i, status, http10)| {
            head.status = status;
            head.http10 = http10;
            *from = i;
        })
    } else {
        Ok(())
    };
    let parsed = parsed.and_then(|()| {
        let mut on_header = |name: (usize, usize), range: (usize, usize)| {
            let name = buf.get(name.0..name.1).unwrap_or_default();
            let value = buf.get(range.0..range.1).unwrap_or_default();
            header_field(head, name, value, range);
        };
        super::head::fields(buf, *from, &mut on_header)
    });
    match parsed {
        Ok(n) => Ok(Some(n)),
        Err(Stop::Partial) => Ok(None),
        Err(Stop::Invalid) => Err(()),
    }
}

/// What one header field means for the reader. `range` is `value`'s place
/// in the buffer (already without surrounding whitespace).
#[cfg_attr(target_os = "none", inline(always))]
fn header_field(head: &mut Head, name: &[u8], value: &[u8], range: (usize, usize)) {
    let mut rest = Some(value);
    if name.eq_ignore_ascii_case(b"content-length") {
        while let Some(t) = next_item(&mut rest) {
            // Past `u32::MAX` (4 GiB): more than any `max_body`, not read.
            match (
                parse_u64(t).and_then(|n| u32::try_from(n).ok()),
                head.content_length,
            ) {
                (Some(len), Some(l)) if l == len => {}
                (Some(len), None) => head.content_length = Some(len),
                _ => head.bad_framing = true,
            }
        }
    } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
        while let Some(t) = next_item(&mut rest) {
            if !t.is_empty() {
                head.transfer_encoding = true;
                head.chunked = t.eq_ignore_ascii_case(b"chunked");
            }
        }
    } else if name.eq_ignore_ascii_case(b"connection") {
        while let Some(t) = next_item(&mut rest) {
            if t.eq_ignore_ascii_case(b"close") {
                head.close = true;
            } else if t.eq_ignore_ascii_case(b"keep-alive") {
                head.keep_alive = true;
            }
        }
    } else if name.eq_ignore_ascii_case(b"retry-after") {
        if head.retry_after.is_none() {
            head.retry_after = RetryAfter::parse(value);
        }
    } else if name.eq_ignore_ascii_case(b"x-platform-error-code") {
        head.kept[0] = Some(range);
    } else if name.eq_ignore_ascii_case(b"x-influxdb-error") {
        head.kept[1] = Some(range);
    }
}

/// Where in the chunked framing the decoder is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    Size,
    Ext,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    TrailerStart,
    Trailer,
    TrailerLf,
    EndLf,
}

/// Chunked-body state: the place, and the chunk size read so far (`Size`,
/// `Ext`, `SizeLf`, with its digit count) or the data bytes left (`Data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Chunk {
    at: At,
    n: u32,
    digits: u8,
}

impl Chunk {
    const START: Self = Chunk {
        at: At::Size,
        n: 0,
        digits: 0,
    };
}

/// The body decoder: a pure state machine fed one byte at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoder {
    Length { left: u32 },
    Chunked(Chunk),
    UntilClose,
    Done,
}

/// What a byte was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Byte {
    Data,
    Framing,
}

impl Decoder {
    fn new(framing: Framing, len: u32) -> Self {
        match framing {
            Framing::NoBody => Self::Done,
            Framing::Length if len == 0 => Self::Done,
            Framing::Length => Self::Length { left: len },
            Framing::Chunked => Self::Chunked(Chunk::START),
            Framing::UntilClose => Self::UntilClose,
            Framing::Unknown => Self::Done,
        }
    }

    /// The most bytes worth reading now (not past a known end).
    fn want(&self) -> usize {
        match self {
            Self::Length { left } => usize::try_from(*left).unwrap_or(usize::MAX),
            Self::Done => 0,
            _ => usize::MAX,
        }
    }

    fn push(&mut self, b: u8) -> Result<Byte, ()> {
        let (next, kind) = match *self {
            Self::Done => return Ok(Byte::Framing),
            Self::UntilClose => (Self::UntilClose, Byte::Data),
            Self::Length { left } => {
                let left = left.saturating_sub(1);
                let next = if left == 0 {
                    Self::Done
                } else {
                    Self::Length { left }
                };
                (next, Byte::Data)
            }
            Self::Chunked(mut c) => match Self::chunk(&mut c, b)? {
                Some(kind) => (Self::Chunked(c), kind),
                None => (Self::Done, Byte::Framing),
            },
        };
        *self = next;
        Ok(kind)
    }

    /// One byte of chunked framing; `None` is the end of the body. `c` is
    /// not to be used again after an error.
    fn chunk(c: &mut Chunk, b: u8) -> Result<Option<Byte>, ()> {
        use At::*;
        let bad = Err(());
        let (cr, lf) = (b == b'\r', b == b'\n');
        // After the size line: the data, or the trailer after a last chunk.
        let size_done = if c.n == 0 { TrailerStart } else { Data };
        c.at = match c.at {
            Size => {
                if let Some(d) = char::from(b).to_digit(16) {
                    if c.digits >= 16 {
                        return bad;
                    }
                    // Past `u32::MAX` (4 GiB): more than any `max_body`.
                    c.n =
                        c.n.checked_mul(16)
                            .and_then(|s| s.checked_add(d))
                            .ok_or(())?;
                    c.digits += 1;
                    Size
                } else if c.digits == 0 {
                    return bad;
                } else if matches!(b, b';' | b' ' | b'\t') {
                    Ext
                } else if cr {
                    SizeLf
                } else if lf {
                    size_done
                } else {
                    return bad;
                }
            }
            Ext if cr => SizeLf,
            Ext | SizeLf if lf => size_done,
            Ext => Ext,
            Data => {
                c.n = c.n.saturating_sub(1);
                if c.n == 0 {
                    c.at = DataCr;
                }
                return Ok(Some(Byte::Data));
            }
            DataCr if cr => DataLf,
            DataCr | DataLf if lf => {
                *c = Chunk::START;
                return Ok(Some(Byte::Framing));
            }
            TrailerStart if cr => EndLf,
            TrailerStart | EndLf if lf => return Ok(None),
            Trailer if cr => TrailerLf,
            Trailer | TrailerLf if lf => TrailerStart,
            TrailerStart | Trailer => Trailer,
            SizeLf | DataCr | DataLf | EndLf | TrailerLf => return bad,
        };
        Ok(Some(Byte::Framing))
    }
}

/// Where decoded body bytes go, and the counters.
#[derive(Debug)]
struct BodyState {
    dec: Decoder,
    /// Next write position in the buffer.
    w: usize,
    /// Decoded body length, kept or not.
    body_len: u32,
    /// Body bytes received, with framing.
    wire_len: u32,
    limit: u32,
}

impl BodyState {
    /// Feeds one received byte; a data byte is stored at `buf[self.w]` if
    /// there is room. The caller guarantees the byte was read from an index
    /// at or after `self.w`, so nothing unread is overwritten.
    fn feed(&mut self, b: u8, buf: &mut [u8]) -> Result<(), ()> {
        self.wire_len = self.wire_len.saturating_add(1);
        if self.wire_len > self.limit {
            return Err(());
        }
        if self.dec.push(b)? == Byte::Data {
            self.body_len = self.body_len.saturating_add(1);
            if let Some(slot) = buf.get_mut(self.w) {
                *slot = b;
                self.w = self.w.saturating_add(1);
            }
        }
        Ok(())
    }

    /// Feeds `buf[from..to]` in place. Returns `true` if bytes were left
    /// over after the end of the body; `Err` past the limit or for a
    /// malformed chunked framing.
    fn feed_range(&mut self, buf: &mut [u8], from: usize, to: usize) -> Result<bool, ()> {
        for i in from..to {
            let Some(&b) = buf.get(i) else { break };
            if matches!(self.dec, Decoder::Done) {
                return Ok(true);
            }
            self.feed(b, buf)?;
        }
        Ok(false)
    }
}

/// Whether the reader needs more bytes.
///
/// ```
/// use linewire::http::{Progress, ReadLimits, ResponseReader};
///
/// let mut buf = [0u8; 64];
/// let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
/// let wire = b"HTTP/1.1 204 No Content\r\n\r\n";
/// reader.read_buf()[..wire.len()].copy_from_slice(wire);
/// assert_eq!(reader.advance(wire.len())?, Progress::Done);
/// # Ok::<(), linewire::http::ReadError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Progress {
    /// Read more bytes into [`ResponseReader::read_buf`].
    NeedMore,
    /// The response is complete: call [`ResponseReader::finish`].
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Head,
    Body,
    Done,
    Failed(ReadError),
}

/// The response reader as a state machine over the caller's buffer, with
/// no I/O of its own: usable from blocking, async or test code.
///
/// Loop: read from the stream into [`read_buf`](Self::read_buf), report the
/// count with [`advance`](Self::advance) (`0` is the end of the stream) or
/// a stream error with [`stream_error`](Self::stream_error), until it
/// returns [`Progress::Done`]; then take the [`Response`] with
/// [`finish`](Self::finish). [`read_response`] is this loop over an
/// [`embedded_io::Read`].
///
/// ```
/// use linewire::http::{Progress, ReadLimits, ResponseReader};
///
/// let wire: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}";
/// let mut buf = [0u8; 128];
/// let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
/// for &byte in wire {
///     // One byte at a time, as a slow peer would send them.
///     reader.read_buf()[0] = byte;
///     if reader.advance(1)? == Progress::Done {
///         break;
///     }
/// }
/// let response = reader.finish()?;
/// assert_eq!((response.status(), response.body()), (400, &b"{}"[..]));
/// # Ok::<(), linewire::http::ReadError>(())
/// ```
#[derive(Debug)]
pub struct ResponseReader<'b> {
    buf: &'b mut [u8],
    phase: Phase,
    /// Head phase: bytes received into `buf`.
    filled: usize,
    interim: usize,
    /// Head phase: what the fields moved out of the buffer said (status 0
    /// while the status line is still at the start of the buffer).
    acc: Head,
    /// Head phase: where the unparsed fields start (the kept values are
    /// before it).
    hstart: usize,
    /// Head phase: a field that did not fit is being skipped.
    skip: Skip,
    body_start: usize,
    framing: Framing,
    st: BodyState,
    extra: bool,
    truncation: Option<Truncation>,
    to_scratch: bool,
    last_len: usize,
    scratch: [u8; DISCARD_CHUNK],
}

/// Skipping a header field too long for the buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    No,
    /// In the field.
    Line,
    /// After an LF: the field goes on if the next byte is SP or HTAB.
    AfterLf,
}

impl<'b> ResponseReader<'b> {
    /// A reader that keeps the response in `buf`.
    ///
    /// ```
    /// use linewire::http::{ReadLimits, ResponseReader};
    ///
    /// let mut buf = [0u8; 256];
    /// let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
    /// assert_eq!(reader.read_buf().len(), 256);
    /// ```
    pub fn new(buf: &'b mut [u8], limits: ReadLimits) -> Self {
        Self {
            buf,
            phase: Phase::Head,
            filled: 0,
            interim: 0,
            acc: Head::EMPTY,
            hstart: 0,
            skip: Skip::No,
            body_start: 0,
            framing: Framing::NoBody,
            st: BodyState {
                dec: Decoder::Done,
                w: 0,
                body_len: 0,
                wire_len: 0,
                limit: limits.max_body,
            },
            extra: false,
            truncation: None,
            to_scratch: false,
            last_len: 0,
            scratch: [0; DISCARD_CHUNK],
        }
    }

    /// Where the next bytes from the stream go. Never empty while more
    /// bytes are needed (except for a zero-length buffer, which
    /// [`advance`](Self::advance) then reports as too small). Never extends
    /// past a known end of the body, so bytes of a next response are not
    /// consumed.
    ///
    /// ```
    /// use linewire::http::{ReadLimits, ResponseReader};
    ///
    /// let mut buf = [0u8; 32];
    /// let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
    /// assert!(!reader.read_buf().is_empty());
    /// ```
    pub fn read_buf(&mut self) -> &mut [u8] {
        self.to_scratch = false;
        let dst: &mut [u8] = match self.phase {
            Phase::Head => self.buf.get_mut(self.filled..).unwrap_or_default(),
            Phase::Body => {
                let want = self.st.dec.want();
                if self.st.w < self.buf.len() {
                    let end = self.buf.len().min(self.st.w.saturating_add(want));
                    self.buf.get_mut(self.st.w..end).unwrap_or_default()
                } else {
                    self.to_scratch = true;
                    self.scratch
                        .get_mut(..DISCARD_CHUNK.min(want))
                        .unwrap_or_default()
                }
            }
            Phase::Done | Phase::Failed(_) => &mut [],
        };
        self.last_len = dst.len();
        dst
    }

    /// Reports `n` bytes read into the last [`read_buf`](Self::read_buf);
    /// `0` means the stream ended.
    ///
    /// # Errors
    ///
    /// As [`read_response`]. After an error the reader stays failed and
    /// returns the same error.
    ///
    /// ```
    /// use linewire::http::{ReadError, ReadLimits, ResponseReader, TransportError};
    ///
    /// let mut buf = [0u8; 32];
    /// let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
    /// assert_eq!(
    ///     reader.advance(0),
    ///     Err(ReadError::Transport(TransportError::ClosedBeforeResponse))
    /// );
    /// ```
    #[cfg_attr(target_os = "none", inline(always))]
    pub fn advance(&mut self, n: usize) -> Result<Progress, ReadError> {
        let n = n.min(self.last_len);
        self.last_len = 0;
        let r = match self.phase {
            Phase::Head => self.advance_head(n),
            Phase::Body => Ok(self.advance_body(n)),
            Phase::Done => Ok(Progress::Done),
            Phase::Failed(e) => Err(e),
        };
        if let Err(e) = r {
            self.phase = Phase::Failed(e);
        }
        r
    }

    /// Reports a stream error. Before the status line is complete it is a
    /// [`TransportError::Read`]; after it the response is kept, marked
    /// incomplete ([`Truncation::Framing`] in the head,
    /// [`Truncation::Body`] in the body).
    ///
    /// # Errors
    ///
    /// [`ReadError::Transport`] when the status line is not complete.
    ///
    /// ```
    /// use embedded_io::ErrorKind;
    /// use linewire::http::{ReadError, ReadLimits, ResponseReader, TransportError};
    ///
    /// let mut buf = [0u8; 32];
    /// let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
    /// assert_eq!(
    ///     reader.stream_error(ErrorKind::TimedOut),
    ///     Err(ReadError::Transport(TransportError::Read(ErrorKind::TimedOut)))
    /// );
    /// ```
    pub fn stream_error(&mut self, kind: embedded_io::ErrorKind) -> Result<Progress, ReadError> {
        let r = match self.phase {
            Phase::Head => self.status_decides(TransportError::Read(kind).into()),
            Phase::Body => {
                self.cut_body();
                Ok(Progress::Done)
            }
            Phase::Done => Ok(Progress::Done),
            Phase::Failed(e) => Err(e),
        };
        if let Err(e) = r {
            self.phase = Phase::Failed(e);
        }
        r
    }

    fn advance_head(&mut self, n: usize) -> Result<Progress, ReadError> {
        if n == 0 {
            return self.status_decides(if self.filled >= self.buf.len() {
                ResourceError::HeadTooLarge.into()
            } else if self.filled == 0 {
                TransportError::ClosedBeforeResponse.into()
            } else {
                TransportError::ClosedMidHead.into()
            });
        }
        if self.st.wire_len > self.st.limit {
            // Head bytes moved out of the buffer (interpreted or skipped)
            // count against `max_body`: a head without end stops here.
            return self.status_decides(PeerError::InvalidHead.into());
        }
        let mut end = self.filled.saturating_add(n).min(self.buf.len());
        if self.skip != Skip::No {
            // Drop the bytes of the skipped field, to its last line end.
            let mut i = self.filled;
            while let Some(&b) = self.buf.get(i).filter(|_| i < end) {
                if self.skip == Skip::AfterLf && b != b' ' && b != b'\t' {
                    self.skip = Skip::No;
                    break;
                }
                self.skip = if b == b'\n' {
                    Skip::AfterLf
                } else {
                    Skip::Line
                };
                i += 1;
            }
            move_down(self.buf, i, end, self.filled);
            end = self.filled.saturating_add(end.saturating_sub(i));
            self.head_bytes_dropped(i.saturating_sub(self.filled));
            // Still skipping: nothing was kept, and the parse below finds
            // the head partial at once (no field after the kept values).
        }
        self.filled = end;
        loop {
            let parsed = parse_head(
                self.buf.get(..self.filled).unwrap_or_default(),
                &mut self.hstart,
                &mut self.acc,
            );
            let len = match parsed {
                Ok(Some(len)) => len,
                Ok(None) if self.filled < self.buf.len() => return Ok(Progress::NeedMore),
                Ok(None) => {
                    // The buffer is full: make room (this frees bytes, so
                    // the parse next finds the head complete or partial in a
                    // buffer that is not full).
                    self.spill()?;
                    continue;
                }
                Err(()) => return self.status_decides(PeerError::InvalidHead.into()),
            };
            if matches!(self.acc.status, 100..=199) {
                self.interim = self.interim.saturating_add(1);
                if self.acc.status == 101 || self.interim > MAX_INTERIM {
                    return Err(PeerError::UnexpectedInterim.into());
                }
                move_down(self.buf, len, self.filled, 0);
                self.filled = self.filled.saturating_sub(len);
                self.acc = Head::EMPTY;
                self.hstart = 0;
                continue;
            }
            self.start_body(len);
            return Ok(self.check_done());
        }
    }

    /// The buffer is full of an incomplete head whose complete fields were
    /// interpreted by the parse that found it incomplete (the parser hands
    /// over a field once it has seen the first byte of the next line): moves
    /// the kept values to the front (each cut to a quarter of the buffer)
    /// and the incomplete field after them, or skips that field when it
    /// alone fills the room left.
    fn spill(&mut self) -> Result<(), ReadError> {
        let len = self.buf.len();
        if self.acc.status == 0 {
            // The status line alone does not fit.
            return Err(ResourceError::HeadTooLarge.into());
        }
        let from = self.hstart;
        // The start of the last field: after an LF, not a folded line.
        let mut cut = from;
        let mut i = from;
        while let (Some(&a), Some(&b)) = (self.buf.get(i), self.buf.get(i.saturating_add(1))) {
            i += 1;
            if a == b'\n' && b != b' ' && b != b'\t' {
                cut = i;
            }
        }
        // Whether the incomplete field may be a framing header (read before
        // the kept values move over it).
        let line = self.buf.get(cut..).unwrap_or_default();
        let framing = match line.iter().position(|&b| b == b':') {
            Some(i) => {
                let name = line.get(..i).unwrap_or_default().trim_ascii_end();
                name.eq_ignore_ascii_case(b"content-length")
                    || name.eq_ignore_ascii_case(b"transfer-encoding")
            }
            None => true,
        };
        let front = self.pack(len / 4);
        if front >= cut {
            // The incomplete field fills the room left: skip it.
            self.acc.bad_framing |= framing;
            self.truncation.get_or_insert(Truncation::Headers);
            self.skip = Skip::Line;
            cut = len;
        }
        move_down(self.buf, cut, len, front);
        self.hstart = front;
        self.filled = front.saturating_add(len.saturating_sub(cut));
        self.head_bytes_dropped(cut.saturating_sub(front));
        Ok(())
    }

    /// Counts head bytes moved out of the buffer (interpreted or skipped)
    /// against `max_body` (checked at the next [`advance`](Self::advance)).
    fn head_bytes_dropped(&mut self, n: usize) {
        self.st.wire_len = self
            .st
            .wire_len
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
    }

    /// The head cannot be read further (`e` says why): with a complete
    /// status line, the response is that status, its body not read;
    /// without one, `Err(e)`.
    #[cfg_attr(target_os = "none", inline(always))]
    fn status_decides(&mut self, e: ReadError) -> Result<Progress, ReadError> {
        if matches!(self.acc.status, 0 | 100..=199) {
            return Err(e);
        }
        self.acc.bad_framing = true;
        self.start_body(self.filled);
        // The framing is unknown: the body is not read, the response done.
        self.phase = Phase::Done;
        Ok(Progress::Done)
    }

    /// Moves the kept header values to the front of the buffer, in order,
    /// each cut to `cap` bytes; returns where they end.
    fn pack(&mut self, cap: usize) -> usize {
        // The parser's ranges (in the buffer, not overlapping): the earlier
        // value moves first, so neither is overwritten before it moves.
        let swap = match self.acc.kept {
            [Some(a), Some(b)] => usize::from(b.0 < a.0),
            _ => 0,
        };
        let mut cursor = 0usize;
        for i in 0..2 {
            if let Some(Some((start, end))) = self.acc.kept.get_mut(i ^ swap) {
                let len = end.saturating_sub(*start);
                if len > cap {
                    // The least severe: kept if something worse happened.
                    self.truncation.get_or_insert(Truncation::Headers);
                }
                let len = len.min(cap);
                // At most `end`: no overflow.
                move_down(self.buf, *start, *start + len, cursor);
                *start = cursor;
                cursor = cursor.saturating_add(len);
                *end = cursor;
            }
        }
        cursor
    }

    fn start_body(&mut self, head_len: usize) {
        // Read after the call: fewer values kept across it.
        let cursor = self.pack(usize::MAX);
        let Head {
            status,
            content_length,
            transfer_encoding,
            chunked,
            bad_framing,
            ..
        } = self.acc;
        self.body_start = cursor;
        self.framing = if bad_framing {
            // Where the body ends is not known: it is not read.
            self.truncation = Some(Truncation::Framing);
            Framing::Unknown
        } else if status == 204 || status == 304 {
            Framing::NoBody
        } else if chunked {
            Framing::Chunked
        } else if transfer_encoding {
            Framing::UntilClose
        } else {
            match content_length {
                Some(0) => Framing::NoBody,
                Some(_) => Framing::Length,
                None => Framing::UntilClose,
            }
        };
        self.st.dec = Decoder::new(self.framing, content_length.unwrap_or(0));
        self.st.w = cursor;
        self.phase = Phase::Body;
        // Bytes received after the head, already in the buffer.
        match self.st.feed_range(self.buf, head_len, self.filled) {
            Ok(extra) => self.extra = extra,
            Err(()) => self.cut_body(),
        }
    }

    /// The body stops here, cut short.
    // Kept out of line: 32 B less flash on the Cortex-M3.
    #[inline(never)]
    fn cut_body(&mut self) {
        self.truncation = self.truncation.max(Some(Truncation::Body));
        self.phase = Phase::Done;
    }

    #[cfg_attr(target_os = "none", inline(always))]
    fn advance_body(&mut self, n: usize) -> Progress {
        if n == 0 {
            if matches!(self.st.dec, Decoder::UntilClose) {
                self.st.dec = Decoder::Done;
                self.phase = Phase::Done;
            } else {
                self.cut_body();
            }
            return Progress::Done;
        }
        let fed = if self.to_scratch {
            let mut fed = Ok(());
            for &b in self.scratch.get(..n).unwrap_or_default() {
                fed = self.st.feed(b, self.buf);
                if fed.is_err() {
                    break;
                }
            }
            fed
        } else {
            let from = self.st.w;
            let fed = self.st.feed_range(self.buf, from, from.saturating_add(n));
            fed.map(|extra| self.extra = extra)
        };
        if fed.is_err() {
            self.cut_body();
        }
        self.check_done()
    }

    // On the Cortex-M3 one copy for its two callers is less flash (it was
    // inlined while it had three).
    #[cfg_attr(target_os = "none", inline(never))]
    #[cfg_attr(not(target_os = "none"), inline(always))]
    fn check_done(&mut self) -> Progress {
        if self.phase == Phase::Done || matches!(self.st.dec, Decoder::Done) || self.extra {
            self.phase = Phase::Done;
            Progress::Done
        } else {
            Progress::NeedMore
        }
    }

    /// The response. Called before [`Progress::Done`], it treats the stream
    /// as ended there.
    ///
    /// # Errors
    ///
    /// The error [`advance`](Self::advance) returned, or the error of a
    /// stream that ended before the status line was complete.
    ///
    /// ```
    /// use linewire::http::{ReadError, ReadLimits, ResponseReader, TransportError};
    ///
    /// let mut buf = [0u8; 32];
    /// let reader = ResponseReader::new(&mut buf, ReadLimits::default());
    /// assert_eq!(
    ///     reader.finish().unwrap_err(),
    ///     ReadError::Transport(TransportError::ClosedBeforeResponse)
    /// );
    /// ```
    pub fn finish(mut self) -> Result<Response<'b>, ReadError> {
        self.last_len = 0;
        match self.phase {
            Phase::Failed(e) => return Err(e),
            Phase::Head => {
                self.advance_head(0)?;
            }
            Phase::Body => {
                self.advance_body(0);
            }
            Phase::Done => {}
        }
        // Past the match the head is complete (or its status decided).
        let Head {
            status,
            http10,
            retry_after,
            content_length,
            transfer_encoding,
            close,
            keep_alive,
            ..
        } = self.acc;
        let reusable = self.truncation.is_none()
            && !self.extra
            && self.framing != Framing::UntilClose
            && !close
            && (!http10 || keep_alive)
            // Both framings at once may be a smuggling attempt (RFC 9112
            // 6.3): use the chunked one, then close the connection.
            && !(transfer_encoding && content_length.is_some());
        let buf = self.buf;
        let (meta, rest) = buf.split_at_mut(self.body_start.min(buf.len()));
        let meta: &'b [u8] = meta;
        let kept_len = self.st.w.saturating_sub(self.body_start);
        let body_len = rest.len().min(kept_len);
        let (body, _) = rest.split_at_mut(body_len);
        // Not `Option::map`: it stayed out of line here.
        let text = |range: Option<(usize, usize)>| {
            let (s, e) = range?;
            Some(crate::bytes::utf8_prefix(meta.get(s..e)?))
        };
        Ok(Response {
            status,
            retry_after,
            content_length,
            framing: self.framing,
            reusable,
            truncation: self.truncation,
            body_len: self.st.body_len,
            platform_error_code: text(self.acc.kept[0]),
            influxdb_error: text(self.acc.kept[1]),
            body,
        })
    }
}

/// Reads one response from `r` into `buf`: the [`ResponseReader`] loop over
/// an [`embedded_io::Read`].
///
/// Interim `1xx` responses are skipped. The status line must fit `buf`;
/// header fields that do not fit are skipped ([`Truncation::Headers`]); the
/// body is decoded after the two header values kept, and truncated if it
/// does not fit (it is still read to its end). `Ok(0)` from `r` is the end
/// of the stream.
///
/// # Errors
///
/// Only before a complete status line: [`ReadError::Transport`] when the
/// stream fails or closes; [`ReadError::Peer`] for a status line that is
/// not HTTP/1.x, a `101` or too many interim responses;
/// [`ReadError::Resource`] when the status line does not fit `buf`. After
/// it, the status decides: a malformed field, a cut head or body, or a body
/// past `limits.max_body` is not an error, the response is returned with
/// [`Response::truncation`] saying what was lost (and
/// [`Response::is_complete`] `false` when the body is cut or not read).
///
/// ```
/// use linewire::http::{read_response, ReadLimits};
///
/// let mut wire: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
/// let mut buf = [0u8; 128];
/// let r = read_response(&mut wire, &mut buf, ReadLimits::default())?;
/// assert_eq!(r.status(), 204);
/// assert!(r.body().is_empty());
/// # Ok::<(), linewire::http::ReadError>(())
/// ```
pub fn read_response<'b, R: embedded_io::Read>(
    r: &mut R,
    buf: &'b mut [u8],
    limits: ReadLimits,
) -> Result<Response<'b>, ReadError> {
    use embedded_io::Error as _;
    let mut reader = ResponseReader::new(buf, limits);
    loop {
        let progress = match r.read(reader.read_buf()) {
            Ok(n) => reader.advance(n)?,
            Err(e) => reader.stream_error(e.kind())?,
        };
        if progress == Progress::Done {
            return reader.finish();
        }
    }
}

/// Moves `buf[from..to]` down to `dst` (`dst <= from`), byte by byte: a
/// few header bytes, not worth linking `memmove` for. Out-of-range parts
/// are left alone.
fn move_down(buf: &mut [u8], from: usize, to: usize, dst: usize) {
    for (r, w) in (from..to).zip(dst..) {
        match buf.get(r) {
            Some(&b) => {
                if let Some(slot) = buf.get_mut(w) {
                    *slot = b;
                }
            }
            None => break,
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant), for
/// years from 1970 (unsigned 32-bit arithmetic: no 64-bit division on
/// 32-bit targets).
fn days_from_civil(y: u32, m: u32, d: u32) -> u32 {
    let y = if m <= 2 { y.saturating_sub(1) } else { y };
    let (era, yoe) = (y / 400, y % 400);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`, the only
/// HTTP-date form RFC 9110 lets senders generate) to Unix seconds,
/// saturating at `u32::MAX` (dates after 2106-02-07). The obsolete RFC 850
/// and asctime forms are not accepted. The weekday is not checked; the
/// month name is case-insensitive.
fn http_date(v: &[u8]) -> Option<u32> {
    const MONTHS: &[u8; 36] = b"janfebmaraprmayjunjulaugsepoctnovdec";
    // `0`: a digit; `a`: a letter; anything else: itself.
    const FORM: &[u8; 29] = b"aaa, 00 aaa 0000 00:00:00 GMT";
    if v.len() != FORM.len() {
        return None;
    }
    // Day, year, hour, minute, second: each run of digits, as it passes.
    let mut n = [0u32; 5];
    let mut k = 0usize;
    let mut in_digits = false;
    for (&b, &f) in v.iter().zip(FORM) {
        if f == b'0' {
            if !b.is_ascii_digit() {
                return None;
            }
            // At most four digits per field: no overflow.
            if let Some(slot) = n.get_mut(k) {
                *slot = *slot * 10 + u32::from(b - b'0');
            }
            in_digits = true;
            continue;
        }
        if in_digits {
            k += 1;
            in_digits = false;
        }
        let ok = if f == b'a' {
            b.is_ascii_alphabetic()
        } else {
            b == f
        };
        if !ok {
            return None;
        }
    }
    let name = v.get(8..11).unwrap_or_default();
    let mut month = 0u32;
    let mut m = 0u32;
    while let Some(abbr) = MONTHS.get(m as usize * 3..m as usize * 3 + 3) {
        m += 1;
        if abbr.eq_ignore_ascii_case(name) {
            month = m;
        }
    }
    let [day, year, h, min, sec] = n;
    if month == 0 || !matches!(day, 1..=31) || year < 1970 || h > 23 || min > 59 || sec > 60 {
        return None;
    }
    // In range: 1970 <= year <= 9999, 1 <= day <= 31, 1 <= month <= 12.
    let days = days_from_civil(year, month, day);
    Some(
        days.saturating_mul(86_400)
            .saturating_add((h * 60 + min) * 60 + sec),
    )
}

/// The chunked decoder against the one it replaced (an enum with a size in
/// each state), on random framing: the same bytes kept, the same end, the
/// same refusals.
#[cfg(test)]
mod chunk_oracle {
    extern crate std;
    use super::{Byte, Chunk as New, Decoder};
    use proptest::prelude::*;
    use std::vec::Vec;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Chunk {
        Size { size: u32, digits: u8 },
        Ext { size: u32 },
        SizeLf { size: u32 },
        Data { left: u32 },
        DataCr,
        DataLf,
        TrailerStart,
        Trailer,
        TrailerLf,
        EndLf,
    }

    fn size_done(size: u32) -> Chunk {
        if size == 0 {
            Chunk::TrailerStart
        } else {
            Chunk::Data { left: size }
        }
    }

    fn chunk(c: Chunk, b: u8) -> Result<(Option<Chunk>, Byte), ()> {
        use Chunk::*;
        let bad = Err(());
        let next = match (c, b) {
            (Size { size, digits }, _) if b.is_ascii_hexdigit() => {
                let d = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    _ => b.wrapping_sub(b'A').wrapping_add(10),
                };
                if digits >= 16 {
                    return bad;
                }
                let size = size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(u32::from(d)))
                    .ok_or(())?;
                Size {
                    size,
                    digits: digits.saturating_add(1),
                }
            }
            (Size { digits: 0, .. }, _) => return bad,
            (Size { size, .. }, b';' | b' ' | b'\t') => Ext { size },
            (Size { size, .. } | Ext { size }, b'\r') => SizeLf { size },
            (Size { size, .. } | Ext { size } | SizeLf { size }, b'\n') => size_done(size),
            (Size { .. } | SizeLf { .. }, _) => return bad,
            (Ext { size }, _) => Ext { size },
            (Data { left }, _) => {
                let left = left.saturating_sub(1);
                let next = if left == 0 { DataCr } else { Data { left } };
                return Ok((Some(next), Byte::Data));
            }
            (DataCr, b'\r') => DataLf,
            (DataCr | DataLf, b'\n') => Size { size: 0, digits: 0 },
            (DataCr | DataLf, _) => return bad,
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart | EndLf, b'\n') => return Ok((None, Byte::Framing)),
            (EndLf, _) => return bad,
            (Trailer, b'\r') => TrailerLf,
            (Trailer | TrailerLf, b'\n') => TrailerStart,
            (TrailerStart | Trailer, _) => Trailer,
            (TrailerLf, _) => return bad,
        };
        Ok((Some(next), Byte::Framing))
    }

    /// (kinds of the bytes consumed, ended, refused at).
    fn old(input: &[u8]) -> (Vec<Byte>, bool, Option<usize>) {
        let mut c = Chunk::Size { size: 0, digits: 0 };
        let mut kinds = Vec::new();
        for (i, &b) in input.iter().enumerate() {
            match chunk(c, b) {
                Ok((next, kind)) => {
                    kinds.push(kind);
                    match next {
                        Some(n) => c = n,
                        None => return (kinds, true, None),
                    }
                }
                Err(()) => return (kinds, false, Some(i)),
            }
        }
        (kinds, false, None)
    }

    fn new(input: &[u8]) -> (Vec<Byte>, bool, Option<usize>) {
        let mut c = New::START;
        let mut kinds = Vec::new();
        for (i, &b) in input.iter().enumerate() {
            match Decoder::chunk(&mut c, b) {
                Ok(Some(kind)) => kinds.push(kind),
                Ok(None) => {
                    kinds.push(Byte::Framing);
                    return (kinds, true, None);
                }
                Err(_) => return (kinds, false, Some(i)),
            }
        }
        (kinds, false, None)
    }

    const PIECES: &[&str] = &[
        "0",
        "1",
        "5",
        "a",
        "F",
        "g",
        "ffffffffffffffff",
        "10000000000000000",
        "\r\n",
        "\n",
        "\r",
        ";ext=1",
        " ",
        "\t",
        "abcde",
        "x",
        "Trailer: t",
        ":",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn chunk_decoder_equals_the_old_one(parts in prop::collection::vec(prop::sample::select(PIECES), 0..24)) {
            let input = parts.concat().into_bytes();
            prop_assert_eq!(new(&input), old(&input));
        }
    }
}
