//! Errors of the write transaction, grouped by whose fault they are.
//!
//! - [`ConfigError`]: the caller's configuration ([`Target`](super::Target))
//!   or payload cannot be sent. Fix the configuration; resending the same
//!   request cannot help.
//! - [`PeerError`]: the server (or a proxy) answered something that is not
//!   valid HTTP/1.x. The connection must be closed.
//! - [`ResourceError`]: a caller-owned buffer is too small. The connection
//!   must be closed.
//! - [`TransportError`]: the stream failed or closed. The write may or may
//!   not have happened; resending is safe because writes are idempotent.
//!
//! [`WriteError`] is the union the driver [`write_batch`](super::write_batch)
//! returns.

use core::fmt;

/// The configuration or payload is invalid: nothing was sent.
///
/// ```
/// use linewire::http::{ConfigError, Target};
///
/// let err = Target::v2("example.com", "", "token").unwrap_err();
/// assert_eq!(err, ConfigError::EmptyBucket);
/// assert_eq!(err.to_string(), "the bucket (or database) name is empty");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// The host is empty or contains a space, CR, LF or another control
    /// character.
    InvalidHost,
    /// The bucket (v2) or database (v1) name is empty.
    EmptyBucket,
    /// The organization name or ID is given but empty.
    EmptyOrg,
    /// A header value (token, user, extra header) contains CR, LF or NUL.
    InvalidHeaderValue,
    /// An extra header name is empty or not an HTTP token.
    InvalidHeaderName,
    /// An extra header would replace a header this crate writes itself
    /// (`Host`, `Content-Length`, `Transfer-Encoding`, `Content-Encoding`,
    /// `Authorization`, `Connection`, `Content-Type`).
    ReservedHeader,
    /// The path prefix does not start with `/` or contains a character
    /// that is not allowed in a path.
    InvalidPathPrefix,
    /// The payload is larger than [`Target::max_body`](super::Target::max_body).
    BodyTooLarge {
        /// Length of the payload in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidHost => f.write_str("the host is empty or contains a forbidden character"),
            Self::EmptyBucket => f.write_str("the bucket (or database) name is empty"),
            Self::EmptyOrg => f.write_str("the organization is given but empty"),
            Self::InvalidHeaderValue => f.write_str("a header value contains CR, LF or NUL"),
            Self::InvalidHeaderName => f.write_str("a header name is not a valid HTTP token"),
            Self::ReservedHeader => {
                f.write_str("an extra header replaces a header linewire writes")
            }
            Self::InvalidPathPrefix => f.write_str("the path prefix is not a valid absolute path"),
            Self::BodyTooLarge { len, max } => {
                write!(f, "the body is {len} bytes, more than the maximum {max}")
            }
        }
    }
}

impl core::error::Error for ConfigError {}

/// The peer answered with something that is not an HTTP/1.x status line
/// (or an interim response it may not send).
///
/// Only what comes before a complete status line is an error: once a status
/// is read, it decides the outcome, and what is wrong after it is reported
/// by [`Response::truncation`](super::Response::truncation).
///
/// The connection is in an unknown state and must be closed. The write may or
/// may not have happened; resending on a new connection is safe.
///
/// ```
/// use linewire::http::PeerError;
///
/// assert_eq!(PeerError::InvalidHead.to_string(), "malformed response head");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum PeerError {
    /// The status line is malformed (not `HTTP/1.x NNN`).
    InvalidHead,
    /// More than [`MAX_INTERIM`](super::MAX_INTERIM) interim (1xx) responses,
    /// or a `101 Switching Protocols` that was never asked for.
    UnexpectedInterim,
}

impl fmt::Display for PeerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidHead => "malformed response head",
            Self::UnexpectedInterim => "unexpected interim (1xx) response",
        })
    }
}

impl core::error::Error for PeerError {}

/// A caller-owned buffer is too small.
///
/// ```
/// use linewire::http::ResourceError;
///
/// assert_eq!(
///     ResourceError::HeadTooLarge.to_string(),
///     "the response status line does not fit the buffer"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ResourceError {
    /// The response status line does not fit the response buffer (header
    /// fields that do not fit are skipped, see
    /// [`Truncation::Headers`](super::Truncation::Headers)). The connection
    /// must be closed.
    HeadTooLarge,
    /// The request head does not fit the caller's slice
    /// ([`encode_head`](super::encode_head)).
    RequestHeadTooLarge,
}

impl fmt::Display for ResourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::HeadTooLarge => f.write_str("the response status line does not fit the buffer"),
            Self::RequestHeadTooLarge => f.write_str("the request head does not fit the buffer"),
        }
    }
}

impl core::error::Error for ResourceError {}

/// The stream failed or closed before a complete status line arrived.
///
/// The write may or may not have happened. Resend on a new connection:
/// writes are idempotent.
///
/// `Display` says what the [`embedded_io::ErrorKind`] means, in words.
/// Timeouts: `embedded-io` 0.7 has no `WouldBlock` kind, and its mapping
/// of a `std::io::Error` (which `embedded-io-adapters`' `FromStd` uses as
/// its error) keeps `TimedOut` but turns every kind it does not know into
/// `Other`. On Linux a socket's `set_read_timeout` / `set_write_timeout`
/// expiry is `EAGAIN`, `io::ErrorKind::WouldBlock`, so it arrives here as
/// `Other` (on Windows it is `TimedOut`); the message for `Other` says a
/// passed socket timeout is the usual cause. The crate's own
/// `embedded-nal` adapter (`linewire::nal`, feature `embedded-nal`)
/// reports a stall as `TimedOut`.
///
/// ```
/// use embedded_io::ErrorKind;
/// use linewire::http::TransportError;
///
/// let e = TransportError::ClosedMidHead;
/// assert_eq!(e.to_string(), "the peer closed the connection in the status line");
/// assert_eq!(
///     TransportError::Read(ErrorKind::TimedOut).to_string(),
///     "reading the response failed: timed out"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TransportError {
    /// Writing the request failed.
    Write(embedded_io::ErrorKind),
    /// The stream accepted zero bytes (`Ok(0)` from `write`).
    WriteZero,
    /// Reading the response failed.
    Read(embedded_io::ErrorKind),
    /// The peer closed the connection before sending any byte of a response
    /// (typical of a keep-alive connection the server already dropped).
    ClosedBeforeResponse,
    /// The peer closed the connection in the middle of the status line (or
    /// of an interim response).
    ClosedMidHead,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Write(k) => write!(f, "writing the request failed: {}", kind_text(*k)),
            Self::WriteZero => f.write_str("the stream accepted no bytes"),
            Self::Read(k) => write!(f, "reading the response failed: {}", kind_text(*k)),
            Self::ClosedBeforeResponse => {
                f.write_str("the peer closed the connection before responding")
            }
            Self::ClosedMidHead => f.write_str("the peer closed the connection in the status line"),
        }
    }
}

/// An I/O error kind in words.
pub(crate) fn kind_text(k: embedded_io::ErrorKind) -> &'static str {
    use embedded_io::ErrorKind as K;
    match k {
        K::TimedOut => "timed out",
        K::ConnectionReset => "the connection was reset",
        K::ConnectionAborted => "the connection was aborted",
        K::ConnectionRefused => "the connection was refused",
        K::NotConnected => "the socket is not connected",
        K::BrokenPipe => "the connection is closed (broken pipe)",
        K::Interrupted => "interrupted",
        K::WriteZero => "the stream accepted no bytes",
        K::OutOfMemory => "out of memory",
        K::AddrNotAvailable | K::AddrInUse => "the address is not available",
        K::PermissionDenied => "permission denied",
        K::InvalidInput | K::InvalidData => "the stream refused the data",
        K::Other => {
            "an unspecified error of the stream (a std socket's timeout, or a TLS session the peer closed)"
        }
        _ => "an I/O error",
    }
}

impl core::error::Error for TransportError {}

/// Everything [`write_batch`](super::write_batch) can fail with.
///
/// ```
/// use linewire::http::{ConfigError, WriteError};
///
/// let e = WriteError::from(ConfigError::EmptyBucket);
/// assert!(!e.resend_may_help());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum WriteError {
    /// The configuration or payload is invalid; nothing was sent.
    Config(ConfigError),
    /// The stream failed; the write may or may not have happened.
    Transport(TransportError),
    /// The peer's answer has no valid HTTP/1.x status line (or an interim
    /// response it may not send); the write may or may not have happened.
    Peer(PeerError),
    /// The response buffer is too small for the response status line.
    Resource(ResourceError),
}

impl WriteError {
    /// `true` when resending the same batch (on a new connection) may
    /// succeed: transport, peer and resource errors. Writes are idempotent,
    /// so a resend never duplicates points.
    ///
    /// ```
    /// use linewire::http::{TransportError, WriteError};
    ///
    /// assert!(WriteError::from(TransportError::ClosedBeforeResponse).resend_may_help());
    /// ```
    pub fn resend_may_help(&self) -> bool {
        !matches!(self, Self::Config(_))
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "configuration: {e}"),
            Self::Transport(e) => write!(f, "transport: {e}"),
            Self::Peer(e) => write!(f, "peer: {e}"),
            Self::Resource(e) => write!(f, "resource: {e}"),
        }
    }
}

impl core::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Transport(e) => Some(e),
            Self::Peer(e) => Some(e),
            Self::Resource(e) => Some(e),
        }
    }
}

impl From<ConfigError> for WriteError {
    fn from(e: ConfigError) -> Self {
        Self::Config(e)
    }
}
impl From<TransportError> for WriteError {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}
impl From<PeerError> for WriteError {
    fn from(e: PeerError) -> Self {
        Self::Peer(e)
    }
}
impl From<ResourceError> for WriteError {
    fn from(e: ResourceError) -> Self {
        Self::Resource(e)
    }
}

/// Errors of [`read_response`](super::read_response): everything a response
/// can fail with, without the configuration errors of sending.
///
/// ```
/// use linewire::http::{read_response, ReadError, ReadLimits, TransportError};
///
/// let mut buf = [0u8; 128];
/// let mut wire: &[u8] = b"HTTP/1.1 204 No";
/// let err = read_response(&mut wire, &mut buf, ReadLimits::default()).unwrap_err();
/// assert_eq!(err, ReadError::Transport(TransportError::ClosedMidHead));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ReadError {
    /// The stream failed or closed before the status line was complete.
    Transport(TransportError),
    /// The peer's answer has no valid HTTP/1.x status line.
    Peer(PeerError),
    /// The response buffer is too small for the status line.
    Resource(ResourceError),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Transport(e) => write!(f, "transport: {e}"),
            Self::Peer(e) => write!(f, "peer: {e}"),
            Self::Resource(e) => write!(f, "resource: {e}"),
        }
    }
}

impl core::error::Error for ReadError {}

impl From<TransportError> for ReadError {
    fn from(e: TransportError) -> Self {
        Self::Transport(e)
    }
}
impl From<PeerError> for ReadError {
    fn from(e: PeerError) -> Self {
        Self::Peer(e)
    }
}
impl From<ResourceError> for ReadError {
    fn from(e: ResourceError) -> Self {
        Self::Resource(e)
    }
}
impl From<ReadError> for WriteError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Transport(e) => Self::Transport(e),
            ReadError::Peer(e) => Self::Peer(e),
            ReadError::Resource(e) => Self::Resource(e),
        }
    }
}
