//! What a caller does next: status, headers and error body turned into an
//! [`Outcome`] and an [`Action`].
//!
//! | answer | outcome | action |
//! |---|---|---|
//! | 2xx | [`Outcome::Written`] | done |
//! | Cloud Serverless 400 with `line`; 3.x `write_lp` 400 with `data`; 1.x 400 `partial write: ... dropped=N`; 2.x OSS 422 | [`Outcome::PartiallyWritten`] | drop the batch (good lines are stored, bad ones never will be) |
//! | other 400 (3 Core: whole batch rejected; 2.x: parse errors) | [`Outcome::Rejected`] | drop |
//! | 400 about the query (`missing bucket value`, `failed to deserialize org/bucket/precision`) | [`Outcome::InvalidRequest`] | keep, stop, report |
//! | 401 / 403 | [`Outcome::Unauthorized`] / [`Outcome::Forbidden`] | keep, stop, report |
//! | 404 | [`Outcome::NotFound`] | keep, stop, report |
//! | 413 | [`Outcome::TooLarge`] | split and resend |
//! | 429 / 503 | [`Outcome::Throttled`] / [`Outcome::Unavailable`] | wait `Retry-After`, resend |
//! | 408, other 5xx (500, 502, 504 from proxies) | [`Outcome::ServerError`] | resend with backoff |
//! | anything else (3xx, 405, ...) | [`Outcome::Unexpected`] | keep, stop, report |
//!
//! A transport failure is not an outcome but an `Err` of
//! [`write_batch`](super::write_batch): resend, as writes are idempotent.

use core::fmt;

use super::error_body::{ErrorBody, RejectedLines};
use super::response::{Response, RetryAfter, Truncation};
use crate::bytes::strip;

/// What the caller does with the batch.
///
/// ```
/// use linewire::http::{Action, Outcome};
///
/// assert_eq!(Outcome::Written.action(), Action::Done);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Action {
    /// The batch is stored: discard it.
    Done,
    /// The batch (or what is left of it) can never be stored: discard it and
    /// report the error.
    Drop,
    /// Keep the batch, stop sending and report: the configuration (token,
    /// bucket, endpoint) must change first.
    Stop,
    /// Split the batch (e.g. in halves) and send the parts.
    Split,
    /// Wait (the `Retry-After` delay if given, else a backoff), then resend.
    RetryLater,
    /// Resend with backoff.
    Retry,
}

/// Details of a partial write: which lines were rejected, when the server
/// says.
///
/// ```
/// use linewire::http::Partial;
///
/// let p = Partial::default();
/// assert!(p.rejected.is_empty() && p.dropped.is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Partial {
    /// Rejected lines (1-based), as reported.
    pub rejected: RejectedLines,
    /// `dropped=N` from a 1.x / 2.x message.
    pub dropped: Option<u32>,
}

/// The outcome of a write.
///
/// ```
/// use linewire::http::{Action, Outcome};
///
/// let o = Outcome::TooLarge { max_length: Some(1024) };
/// assert_eq!(o.action(), Action::Split);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Outcome {
    /// Every line was written (2xx).
    Written,
    /// Some lines were written, the rejected ones never will be.
    PartiallyWritten(Partial),
    /// The server rejected the data: do not resend it.
    Rejected,
    /// 400 about the request itself, not the data (`missing bucket value`,
    /// `failed to deserialize org/bucket/precision`): keep the data, fix
    /// the target.
    InvalidRequest,
    /// 401: the token is missing or wrong.
    Unauthorized,
    /// 403: the token may not write to this bucket.
    Forbidden,
    /// 404: the bucket, database or org does not exist (or the endpoint).
    NotFound,
    /// 413: the body is too large; `max_length` is the limit when the
    /// server says (Telegraf).
    TooLarge {
        /// The largest body the server accepts, in bytes, if known
        /// (saturating at `u32::MAX`).
        max_length: Option<u32>,
    },
    /// 429: rate limited.
    Throttled {
        /// When to retry, if the server said.
        retry_after: Option<RetryAfter>,
    },
    /// 503: the server (or a proxy) is unavailable.
    Unavailable {
        /// When to retry, if the server said.
        retry_after: Option<RetryAfter>,
    },
    /// 408 or another 5xx: resend with backoff.
    ServerError {
        /// When to retry, if the server said.
        retry_after: Option<RetryAfter>,
    },
    /// A status this crate does not expect from a write endpoint (a
    /// redirect, 405, ...): likely a wrong URL or a proxy in the way.
    Unexpected,
}

/// A sentence (no status, no server text: those are the caller's).
///
/// ```
/// use linewire::http::{ErrorBody, Outcome};
///
/// let mut body = *br#"{"code":"invalid","message":"partial write","line":2}"#;
/// let o = Outcome::classify(400, None, &ErrorBody::parse(&mut body));
/// assert_eq!(o.to_string(), "the server stored some lines and rejected line 2");
/// assert_eq!(Outcome::Unauthorized.to_string(), "the server did not accept the token");
/// ```
impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Written => f.write_str("the server stored every line"),
            Self::PartiallyWritten(p) => {
                f.write_str("the server stored some lines and rejected ")?;
                match (p.rejected.is_empty(), p.dropped) {
                    (false, _) => write!(f, "{}", p.rejected),
                    (true, Some(1)) => f.write_str("1 line"),
                    (true, Some(n)) => write!(f, "{n} lines"),
                    (true, None) => f.write_str("the rest"),
                }
            }
            Self::Rejected => f.write_str("the server rejected the data"),
            Self::InvalidRequest => {
                f.write_str("the server rejected the request (check the bucket, org and precision)")
            }
            Self::Unauthorized => f.write_str("the server did not accept the token"),
            Self::Forbidden => f.write_str("the token may not write to this bucket"),
            Self::NotFound => f.write_str("the bucket, org or write endpoint was not found"),
            Self::TooLarge { max_length } => {
                f.write_str("the request body is too large for the server")?;
                match max_length {
                    Some(n) => write!(f, " (at most {n} bytes)"),
                    None => Ok(()),
                }
            }
            Self::Throttled { retry_after } => {
                f.write_str("the server is limiting writes")?;
                retry_after_text(f, *retry_after)
            }
            Self::Unavailable { retry_after } => {
                f.write_str("the server is unavailable")?;
                retry_after_text(f, *retry_after)
            }
            Self::ServerError { retry_after } => {
                f.write_str("the server failed")?;
                retry_after_text(f, *retry_after)
            }
            Self::Unexpected => {
                f.write_str("the server gave an answer a write endpoint does not give")
            }
        }
    }
}

fn retry_after_text(f: &mut fmt::Formatter<'_>, retry_after: Option<RetryAfter>) -> fmt::Result {
    match retry_after {
        Some(RetryAfter::Seconds(s)) => write!(f, " (retry after {s} s)"),
        Some(RetryAfter::At(t)) => write!(f, " (retry at Unix time {t})"),
        None => Ok(()),
    }
}

impl Outcome {
    /// Classifies a status, `Retry-After` and error body. Pure.
    ///
    /// ```
    /// use linewire::http::{ErrorBody, Outcome};
    ///
    /// let mut body = *br#"{"code":"invalid","message":"write buffer error: line protocol parse failed: x"}"#;
    /// let o = Outcome::classify(400, None, &ErrorBody::parse(&mut body));
    /// assert_eq!(o, Outcome::Rejected);
    /// ```
    pub fn classify(status: u16, retry_after: Option<RetryAfter>, body: &ErrorBody<'_>) -> Self {
        let msg_starts = |p: &str| body.message.is_some_and(|m| starts(m, p));
        // Only the server's own word makes a 400 partial: Cloud Serverless
        // reports `line`, InfluxDB 3 write_lp lists `data`, 1.x prefixes
        // "partial write". A line number found in the message text alone is
        // not enough: InfluxDB 3 Core names the bad line of a batch it
        // rejected whole. 2.x OSS answers a partial write with 422.
        let partial = match status {
            400 => body.line.is_some() || body.detail.is_some() || msg_starts("partial write"),
            422 => true,
            _ => false,
        };
        if partial {
            return Self::PartiallyWritten(Partial {
                rejected: body.rejected,
                dropped: body.dropped,
            });
        }
        match status {
            200..=299 => Self::Written,
            400 if about_request(body.message) => Self::InvalidRequest,
            400 => Self::Rejected,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            413 => Self::TooLarge {
                max_length: body.max_length,
            },
            429 => Self::Throttled { retry_after },
            503 => Self::Unavailable { retry_after },
            408 | 500..=599 => Self::ServerError { retry_after },
            _ => Self::Unexpected,
        }
    }

    /// What to do with the batch.
    ///
    /// ```
    /// use linewire::http::{Action, Outcome};
    ///
    /// assert_eq!(Outcome::Unauthorized.action(), Action::Stop);
    /// assert_eq!(Outcome::Throttled { retry_after: None }.action(), Action::RetryLater);
    /// ```
    pub fn action(&self) -> Action {
        match self {
            Self::Written => Action::Done,
            Self::PartiallyWritten(_) | Self::Rejected => Action::Drop,
            Self::Unauthorized
            | Self::Forbidden
            | Self::NotFound
            | Self::InvalidRequest
            | Self::Unexpected => Action::Stop,
            Self::TooLarge { .. } => Action::Split,
            Self::Throttled { .. } | Self::Unavailable { .. } => Action::RetryLater,
            Self::ServerError { .. } => Action::Retry,
        }
    }

    /// The server's `Retry-After`, for the outcomes that carry one.
    ///
    /// ```
    /// use linewire::http::{Outcome, RetryAfter};
    ///
    /// let o = Outcome::Unavailable { retry_after: Some(RetryAfter::Seconds(3)) };
    /// assert_eq!(o.retry_after(), Some(RetryAfter::Seconds(3)));
    /// ```
    pub fn retry_after(&self) -> Option<RetryAfter> {
        match self {
            Self::Throttled { retry_after }
            | Self::Unavailable { retry_after }
            | Self::ServerError { retry_after } => *retry_after,
            _ => None,
        }
    }
}

/// `m.starts_with(p)` without `memcmp` ([`strip`]). Inlined on
/// microcontrollers: less flash.
#[cfg_attr(target_os = "none", inline(always))]
fn starts(m: &str, p: &str) -> bool {
    strip(m.as_bytes(), p.as_bytes()).is_some()
}

/// A 400 whose message is about the query parameters, not line protocol
/// (Cloud Serverless and 2.x wording).
fn about_request(message: Option<&str>) -> bool {
    let Some(m) = message else { return false };
    starts(m, "missing bucket")
        || starts(m, "missing org")
        || starts(m, "failed to deserialize org/bucket/precision")
        || starts(m, "invalid precision")
}

/// A complete answer: the outcome and everything the server said.
///
/// ```
/// use linewire::http::{read_response, Action, Reply, ReadLimits};
///
/// let mut wire: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 45\r\n\r\n{\"code\":\"not found\",\"message\":\"bucket \\\"x\\\"\"}";
/// let mut buf = [0u8; 256];
/// let reply = Reply::from(read_response(&mut wire, &mut buf, ReadLimits::default())?);
/// assert_eq!(reply.outcome.action(), Action::Stop);
/// assert_eq!(reply.error.message, Some("bucket \"x\""));
/// # Ok::<(), linewire::http::ReadError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Reply<'b> {
    /// What happened.
    pub outcome: Outcome,
    /// The status code.
    pub status: u16,
    /// The parsed error body (empty for 2xx).
    pub error: ErrorBody<'b>,
    /// `X-Platform-Error-Code` (2.x).
    pub platform_error_code: Option<&'b str>,
    /// `X-Influxdb-Error` (1.x).
    pub influxdb_error: Option<&'b str>,
    /// The connection can carry the next request.
    pub reusable: bool,
    /// The body was longer than the buffer, cut short, or not read; the
    /// error details are from its first bytes (or missing).
    pub body_truncated: bool,
    /// What was lost after the status line (skipped header fields, a cut
    /// body, an unreadable framing), for the log: the outcome still
    /// follows the status ([`Response::truncation`]).
    pub truncation: Option<Truncation>,
}

impl<'b> From<Response<'b>> for Reply<'b> {
    fn from(r: Response<'b>) -> Self {
        let body_truncated = r.is_truncated() || !r.is_complete();
        let truncation = r.truncation;
        let error = if matches!(r.status, 200..=299) {
            ErrorBody::empty()
        } else {
            ErrorBody::parse(r.body)
        };
        let mut error = error;
        // 1.x repeats its message in X-Influxdb-Error; use it when the body
        // had none or was cut (a cut JSON body reads as plain text).
        if (error.message.is_none() || body_truncated) && r.influxdb_error.is_some() {
            error.message = r.influxdb_error;
            error.scan_message();
        }
        let outcome = Outcome::classify(r.status, r.retry_after, &error);
        Self {
            outcome,
            status: r.status,
            error,
            platform_error_code: r.platform_error_code,
            influxdb_error: r.influxdb_error,
            reusable: r.reusable,
            body_truncated,
            truncation,
        }
    }
}
