//! A blocking InfluxDB `/api/v2/write` client on `ureq`.
//!
//! The request is the one the core's [`encode_head`] describes (path,
//! query, `Authorization: Token`, `Content-Type`, `Accept`, `User-Agent`,
//! `Content-Encoding`): [`Client`] encodes it with the core and hands the
//! same path and headers to `ureq`. The answer goes back through the core:
//! the status, `Retry-After` and error body become an [`Outcome`] with
//! [`Outcome::classify`] and [`ErrorBody::parse`].
//!
//! One `ureq` agent per client (clones share it): connections are kept
//! alive and reused. `https://` URLs use rustls, verifying the server
//! against the platform's trust store (`SSL_CERT_FILE` and `SSL_CERT_DIR`
//! honoured), a private CA given with [`Client::ca_certificate`], or
//! nothing ([`Client::danger_accept_invalid_certs`], for tests): see
//! [`tls`]. A certificate or handshake failure is an
//! [`Error::Tls`], not retried.
//!
//! [`Client::header`] adds headers a proxy in front of the server needs
//! (Telegraf's `http_headers`) to every write.
//!
//! # What counts as written
//!
//! Only a 2xx answer to the request that carried the whole body. Redirects
//! are never followed: `ureq` would resend a `POST` answered 301/302/303 as
//! a `GET` without the body, and a login proxy's page would answer that
//! with 200. A 3xx is an [`Outcome::Unexpected`] ([`Action::Stop`]) with
//! its `Location` in [`ServerError::location`]. A 2xx that arrives before
//! the body was sent (a server answering an `Expect: 100-continue` request
//! at once) is also [`Outcome::Unexpected`]: nothing was stored.
//!
//! Once the status line is read, the status decides: a 2xx is written even
//! when its headers or body are broken; an error answer is a
//! [`ServerError`] even when its body is cut ([`MAX_ERROR_BODY`]), badly
//! chunked or unreadable ([`ServerError::body_truncated`]). Only a failure
//! before the status (connecting, sending, a response head `ureq` cannot
//! parse: over 64 KiB or over 128 headers) is an [`Error::Transport`].
//!
//! # Early 413
//!
//! A Go server (InfluxDB 2 and 3, most proxies in Go) whose body limit is
//! exceeded answers 413 right after the request head and closes the
//! connection once more than 256 KiB of body are unread: a client still
//! writing the body gets a reset and never sees the 413. So a body of at
//! least [`EXPECT_CONTINUE_ABOVE`] bytes on the wire is sent with
//! `Expect: 100-continue` (and, with gzip, compressed before sending so
//! that its `Content-Length` is known): Go sends `100 Continue` only when
//! the handler reads the body, so an over-limit 413 arrives instead, the
//! body is not sent, and the batch is split. The cost: one round trip per
//! such write, and a compressed copy of the body (5–20 % of its size)
//! instead of streaming. A server or proxy that ignores `Expect` makes
//! `ureq` wait a second before sending the body; the client notices that
//! wait once and sends large bodies without `Expect` from then on (a
//! warning says so), relying on the resend below to hear an early 413. Change the threshold with [`Client::expect_continue_above`].
//!
//! # A connection closed before the answer
//!
//! A request on a kept-alive connection that the server had closed a moment
//! before fails before any answer. `ureq` checks a pooled connection before
//! reusing it (a connection whose close has arrived is not reused), but not
//! one closed as the request goes out. So when the connection is closed or
//! reset before any answer, the write is sent once more at once, on a new
//! connection and with `Expect: 100-continue` (which also makes an early
//! 413 heard when the first try's body was reset), before it counts as a
//! failure. Writes are idempotent: a resend of stored data stores nothing
//! twice. A refused connection, a timeout or an unparsable answer is not
//! resent at once.
//!
//! # Server text
//!
//! Everything a server says (message, code, detail, `X-Influxdb-Error`,
//! `X-Platform-Error-Code`, `Location`) is shown by `Display` and in logs
//! only through [`server_text::for_display`](crate::server_text::for_display)
//! with the client's token: the token redacted, control characters replaced,
//! the length bounded. The public fields of [`ServerError`] and
//! [`ServerError::raw_body`] keep the raw text for code that asks.

use std::fmt;
use std::io::Read as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use linewire::http::{
    encode_head, Action, BodyKind, ConfigError, ErrorBody, Outcome, Payload, RetryAfter, Target,
    WriteError,
};
use linewire::{BatchInner, Precision, Storage};

use crate::gzip;
use crate::server_text::{for_display, DEFAULT_MAX_CHARS};
use crate::tls::{self, TlsError, Trust};

/// The most of an error body read (longer bodies are cut, and the
/// connection is not reused).
pub const MAX_ERROR_BODY: u64 = 64 * 1024;

/// The default time one write may take, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default time to connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default size on the wire from which a body is sent with
/// `Expect: 100-continue` (see [the module docs](self#early-413)): Go's
/// `net/http` drains up to 256 KiB of a body its handler did not read, and
/// resets the connection beyond.
pub const EXPECT_CONTINUE_ABOVE: usize = 256 * 1024;

/// A token kept for redacting server text; never shown.
#[derive(Clone, PartialEq, Eq, Default)]
struct Secret(Option<String>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a 2xx was not a write: the server answered before it had the body.
const ANSWERED_BEFORE_BODY: &str = "answered before the request body was sent";

/// A write that went through: the server answered 2xx.
///
/// ```
/// # let server = linewire_testkit::TestServer::start();
/// let client = linewire_std::Client::new(&server.url(), Some("token"))?.bucket("b");
/// let written = client.write_line_protocol("m v=1 1\n")?;
/// assert_eq!(written.status, 204);
/// # Ok::<(), linewire_std::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Written {
    /// The status (204 from InfluxDB).
    pub status: u16,
    /// Bytes of line protocol in the request.
    pub body_len: usize,
    /// Bytes on the wire (smaller when gzip is on).
    pub wire_len: usize,
}

/// The server's answer to a write that did not fully go through: the
/// core's [`Outcome`] and everything the server said, owned.
///
/// The text fields are raw, as the server sent them: they may hold the
/// token (servers and proxies echo the `Authorization` header) and
/// terminal control characters. Show them with
/// [`server_text::for_display`](crate::server_text::for_display), as
/// `Display` does, never as they are.
///
/// ```
/// use linewire_std::linewire::http::{Action, Outcome};
///
/// # let server = linewire_testkit::TestServer::start();
/// let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
/// let err = client.write_line_protocol("m v=1 1\nbad\n").unwrap_err();
/// let server_error = err.server().expect("the server answered");
/// assert!(matches!(server_error.outcome, Outcome::PartiallyWritten(_)));
/// assert_eq!(server_error.outcome.action(), Action::Drop);
/// assert_eq!(server_error.rejected_lines, vec![2]);
/// # Ok::<(), linewire_std::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerError {
    /// What happened, as the core classifies it.
    pub outcome: Outcome,
    /// The status code.
    pub status: u16,
    /// `code` of a JSON body (`"invalid"`, `"not found"`, ...).
    pub code: Option<String>,
    /// `message` (or `error`, or the text of a non-JSON body).
    pub message: Option<String>,
    /// The first `data[].error_message` of an InfluxDB 3 partial write.
    pub detail: Option<String>,
    /// Rejected lines (1-based, within the request body) as far as the
    /// server listed them (at most [`linewire::http::MAX_REJECTED_LINES`]).
    pub rejected_lines: Vec<u32>,
    /// How many lines the server said it rejected (may exceed
    /// `rejected_lines.len()`).
    pub rejected_count: u32,
    /// `dropped=N` of a 1.x / 2.x partial write.
    pub dropped: Option<u32>,
    /// The largest body the server accepts (Telegraf's `maxLength`).
    pub max_length: Option<u64>,
    /// `Retry-After`, when given.
    pub retry_after: Option<RetryAfter>,
    /// `X-Platform-Error-Code` (2.x).
    pub platform_error_code: Option<String>,
    /// `X-Influxdb-Error` (1.x).
    pub influxdb_error: Option<String>,
    /// `Location` of a redirect (3xx), raw.
    pub location: Option<String>,
    /// The body was longer than [`MAX_ERROR_BODY`], or could not be read
    /// to its end (broken chunking, a reset): details are from its start.
    pub body_truncated: bool,
    /// The body as received (at most [`MAX_ERROR_BODY`] bytes).
    raw_body: Vec<u8>,
    /// The client's token, to redact it from what is shown.
    secret: Secret,
}

impl fmt::Debug for ServerError {
    /// The fields as [`for_display`] shows them (token redacted, control
    /// characters replaced): `Debug` output ends up in logs too.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |s: &Option<String>| s.as_deref().map(|t| self.shown(t));
        f.debug_struct("ServerError")
            // A sentence: the derived `Debug` of the outcome lists every
            // slot of the core's fixed array of rejected lines.
            .field("outcome", &format_args!("{}", self.outcome))
            .field("status", &self.status)
            .field("code", &show(&self.code))
            .field("message", &show(&self.message))
            .field("detail", &show(&self.detail))
            .field("rejected_lines", &self.rejected_lines)
            .field("rejected_count", &self.rejected_count)
            .field("dropped", &self.dropped)
            .field("max_length", &self.max_length)
            .field("retry_after", &self.retry_after)
            .field("platform_error_code", &show(&self.platform_error_code))
            .field("influxdb_error", &show(&self.influxdb_error))
            .field("location", &show(&self.location))
            .field("body_truncated", &self.body_truncated)
            .field("raw_body_len", &self.raw_body.len())
            .finish()
    }
}

impl ServerError {
    /// What to do with the data: the core's [`Outcome::action`].
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::builder().token("right").start();
    /// let client = linewire_std::Client::new(&server.url(), Some("wrong"))?.bucket("b");
    /// let err = client.write_line_protocol("m v=1\n").unwrap_err();
    /// assert_eq!(err.server().unwrap().action(), linewire_std::linewire::http::Action::Stop);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn action(&self) -> Action {
        self.outcome.action()
    }

    /// The body as the server sent it (at most [`MAX_ERROR_BODY`] bytes):
    /// raw, possibly holding the token and control characters.
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::start();
    /// let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
    /// let err = client.write_line_protocol("bad\n").unwrap_err();
    /// assert!(err.server().unwrap().raw_body().starts_with(b"{"));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn raw_body(&self) -> &[u8] {
        &self.raw_body
    }

    /// `text` as it may be shown: the token redacted, control characters
    /// replaced, bounded.
    fn shown(&self, text: &str) -> String {
        for_display(text, self.secret.0.as_deref(), DEFAULT_MAX_CHARS)
    }

    /// What the server said, shown: the message (or `X-Influxdb-Error`),
    /// then the detail.
    fn said(&self) -> Option<String> {
        let message = self.message.as_deref().or(self.influxdb_error.as_deref());
        match (message, self.detail.as_deref()) {
            (Some(m), Some(d)) if m != d => Some(format!("{}; {}", self.shown(m), self.shown(d))),
            (Some(m), _) => Some(self.shown(m)),
            (None, Some(d)) => Some(self.shown(d)),
            (None, None) => None,
        }
    }

    /// The 3xx or early-2xx answer: not stored, and why.
    fn unexpected(status: u16, location: Option<String>, secret: Secret) -> Self {
        Self {
            outcome: Outcome::Unexpected,
            status,
            code: None,
            message: None,
            detail: None,
            rejected_lines: Vec::new(),
            rejected_count: 0,
            dropped: None,
            max_length: None,
            retry_after: None,
            platform_error_code: None,
            influxdb_error: None,
            location,
            body_truncated: false,
            raw_body: Vec::new(),
            secret,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn from_parts(
        status: u16,
        retry_after: Option<RetryAfter>,
        body_raw: Vec<u8>,
        body_truncated: bool,
        platform_error_code: Option<String>,
        influxdb_error: Option<String>,
        location: Option<String>,
        secret: Secret,
    ) -> Self {
        // A JSON body cut short (at MAX_ERROR_BODY, or by broken chunking)
        // is closed again for parsing, so that what came before the cut
        // (`code`, `line`: whether it was a partial write) is still read.
        let mut body = match closed_json(body_truncated, &body_raw) {
            Some(closed) => closed,
            None => body_raw.clone(),
        };
        let raw_body = body_raw;
        let mut header_copy = influxdb_error.clone().unwrap_or_default().into_bytes();
        let parsed = ErrorBody::parse(&mut body);
        // 1.x repeats its message in X-Influxdb-Error: use it when the body had none.
        let parsed = if parsed.message.is_none() && !header_copy.is_empty() {
            let mut from_header = ErrorBody::parse(&mut header_copy);
            from_header.kind = parsed.kind;
            from_header
        } else {
            parsed
        };
        let outcome = Outcome::classify(status, retry_after, &parsed);
        let owned = |s: Option<&str>| s.map(str::to_owned);
        Self {
            outcome,
            status,
            code: owned(parsed.code),
            message: owned(parsed.message),
            detail: owned(parsed.detail),
            rejected_lines: parsed.rejected.lines().to_vec(),
            rejected_count: parsed.rejected.count(),
            dropped: parsed.dropped,
            max_length: parsed.max_length.map(u64::from),
            retry_after,
            platform_error_code,
            influxdb_error,
            location,
            body_truncated,
            raw_body,
            secret,
        }
    }

    /// One sentence for logs and `Display`: what happened, the status, and
    /// what the server said (shown through [`for_display`]).
    fn describe(&self) -> String {
        let status = self.status;
        let mut s = match self.outcome {
            Outcome::Written => format!("the server stored the data (HTTP {status})"),
            Outcome::PartiallyWritten(_) => format!(
                "the server stored part of the data and rejected the rest (HTTP {status})"
            ),
            Outcome::Rejected => format!("the server rejected the data (HTTP {status})"),
            Outcome::InvalidRequest => format!(
                "the server rejected the request, check the bucket, org and precision (HTTP {status})"
            ),
            Outcome::Unauthorized => {
                format!("the server did not accept the token (HTTP {status})")
            }
            Outcome::Forbidden => {
                format!("the token may not write to this bucket (HTTP {status})")
            }
            Outcome::NotFound => {
                format!("the bucket, org or write endpoint was not found (HTTP {status})")
            }
            Outcome::TooLarge { .. } => match self.max_length {
                Some(n) => format!(
                    "the request body is too large for the server (HTTP {status}, at most {n} bytes)"
                ),
                None => format!("the request body is too large for the server (HTTP {status})"),
            },
            Outcome::Throttled { .. } => {
                format!("the server is limiting writes (HTTP {status})")
            }
            Outcome::Unavailable { .. } => format!("the server is unavailable (HTTP {status})"),
            Outcome::ServerError { .. } => format!("the server failed (HTTP {status})"),
            _ if (300..400).contains(&status) => {
                let to = self
                    .location
                    .as_deref()
                    .map_or_else(|| "an unknown place".to_owned(), |l| self.shown(l));
                format!(
                    "the server redirected the write (HTTP {status}) to {to}, and nothing was stored: \
                     point the URL at the InfluxDB server itself (a proxy or login page may be in the way)"
                )
            }
            _ if (200..300).contains(&status) => format!(
                "the server {ANSWERED_BEFORE_BODY} (HTTP {status}), so nothing was stored"
            ),
            _ => format!("the server gave an unexpected answer (HTTP {status})"),
        };
        if let Some(said) = self.said() {
            s.push_str(": ");
            s.push_str(&said);
        }
        let code = self.code.as_deref().or(self.platform_error_code.as_deref());
        if let Some(code) = code {
            s.push_str(&format!(" (code {})", self.shown(code)));
        }
        if self.body_truncated {
            s.push_str(" (the error body was cut short)");
        }
        s
    }
}

impl fmt::Display for ServerError {
    /// A sentence, server text shown through [`for_display`] with the
    /// client's token.
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::start();
    /// let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
    /// let err = client.write_line_protocol("m v=1 1\nbad\n").unwrap_err();
    /// let shown = err.to_string();
    /// assert!(shown.starts_with(
    ///     "the server stored part of the data and rejected the rest (HTTP 400): \
    ///      failed to parse line protocol: errors encountered on line(s): error parsing line 2"
    /// ), "{shown}");
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl std::error::Error for ServerError {}

/// Why a write did not go through.
///
/// ```
/// let err = linewire_std::Client::new("ftp://x", None).unwrap_err();
/// assert!(matches!(err, linewire_std::Error::Config(_)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL, bucket, org or token is unusable, or the body is too large
    /// for the target; nothing was sent.
    Config(String),
    /// The server answered, but not 2xx.
    Server(Box<ServerError>),
    /// Connecting, sending or reading failed (resend: writes are idempotent).
    Transport(ureq::Error),
    /// The TLS handshake failed: the server's certificate did not verify,
    /// or the server does not speak TLS. Nothing was sent; retrying cannot
    /// help (see [`tls`]).
    Tls(TlsError),
}

impl Error {
    /// The server's answer, when there was one.
    ///
    /// ```
    /// let err = linewire_std::Error::Config("no bucket".into());
    /// assert!(err.server().is_none());
    /// ```
    pub fn server(&self) -> Option<&ServerError> {
        match self {
            Self::Server(e) => Some(e),
            _ => None,
        }
    }

    /// The failed TLS handshake, when that was the problem.
    ///
    /// ```
    /// let err = linewire_std::Error::Config("no bucket".into());
    /// assert!(err.tls().is_none());
    /// ```
    pub fn tls(&self) -> Option<&TlsError> {
        match self {
            Self::Tls(e) => Some(e),
            _ => None,
        }
    }

    /// Whether resending the same data later may succeed: transport
    /// failures and the core's [`Action::Retry`] / [`Action::RetryLater`];
    /// never a [`Tls`](Self::Tls) or [`Config`](Self::Config) error.
    ///
    /// ```
    /// assert!(!linewire_std::Error::Config("x".into()).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Server(e) => matches!(e.action(), Action::Retry | Action::RetryLater),
            Self::Config(_) | Self::Tls(_) => false,
        }
    }
}

impl fmt::Display for Error {
    /// A sentence; server text only through [`for_display`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => write!(f, "the configuration is unusable: {m}"),
            Self::Server(e) => write!(f, "{e}"),
            // ureq's text may quote what the peer sent (a header it could not parse).
            Self::Transport(e) => write!(
                f,
                "the request failed before the server answered (transport): {}",
                for_display(&e.to_string(), None, DEFAULT_MAX_CHARS)
            ),
            Self::Tls(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Server(e) => Some(e),
            Self::Transport(e) => Some(e),
            Self::Tls(e) => Some(e),
            Self::Config(_) => None,
        }
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Self {
        Self::Config(e.to_string())
    }
}

/// A blocking write client for one InfluxDB (v2 write API) server.
///
/// Built with [`Client::new`] and configured with the chained setters;
/// clones share the connection pool. Its `Debug` output never shows the
/// token.
///
/// ```
/// use linewire_std::{Batch, Precision};
/// use linewire_std::Client;
///
/// # let server = linewire_testkit::TestServer::start();
/// # let url = server.url();
/// let client = Client::new(&url, Some("my-token"))?
///     .bucket("sensors")
///     .org("home")
///     .precision(Precision::Seconds)
///     .gzip(true);
/// assert!(!format!("{client:?}").contains("my-token"));
///
/// let mut batch = Batch::<256>::with_precision(Precision::Seconds);
/// batch.point("env")?.tag("room", "loft")?.field("temp", 21.5)?.timestamp(1_700_000_000)?;
/// client.write(&batch)?;
/// # assert_eq!(server.points("sensors").len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    /// `scheme://authority`
    origin: String,
    /// The authority (`host[:port]`), for the core's `Target`.
    authority: String,
    /// `""` or `/prefix` (no trailing slash).
    prefix: String,
    token: Option<String>,
    bucket: Option<String>,
    org: Option<String>,
    precision: Precision,
    gzip_level: Option<u8>,
    timeout: Duration,
    connect_timeout: Duration,
    expect_continue_above: Option<usize>,
    /// Set once a server let `ureq`'s wait for `100 Continue` run out:
    /// from then on large bodies go without `Expect` (shared by clones).
    expect_ignored: Arc<AtomicBool>,
    /// Which servers `https://` trusts.
    trust: Trust,
    /// Headers added to every write ([`Client::header`]), validated.
    headers: Vec<(String, String)>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("url", &format_args!("{}{}", self.origin, self.prefix))
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("bucket", &self.bucket)
            .field("org", &self.org)
            .field("precision", &self.precision)
            .field("gzip_level", &self.gzip_level)
            .field("timeout", &self.timeout)
            .field("expect_continue_above", &self.expect_continue_above)
            .field("trust", &self.trust)
            // Names only: a proxy's header may carry a credential.
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Headers the client sets itself: [`Client::header`] refuses them.
/// `Authorization`, `Content-*` and `Expect` carry the write; the rest
/// frame the connection, which `ureq` owns.
const OWN_HEADERS: [&str; 12] = [
    "authorization",
    "content-type",
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "host",
    "expect",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
];

/// A header name is an HTTP token (RFC 9110, section 5.6.2).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn build_agent(
    timeout: Duration,
    connect_timeout: Duration,
    trust: &Trust,
    https: bool,
) -> ureq::Agent {
    ureq::Agent::config_builder()
        .tls_config(trust.config(https))
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .timeout_connect(Some(connect_timeout))
        .user_agent(linewire::http::USER_AGENT)
        .max_idle_connections_per_host(4)
        // Following a redirect turns a POST into a body-less GET whose 200
        // would count as written: a 3xx comes back to the caller instead.
        // With 0, ureq returns the 3xx response as it is, never an error.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .build()
        .into()
}

/// How long before the body is sent means that the server ignored
/// `Expect: 100-continue` and `ureq`'s one-second wait ran out (a server
/// that honours it answers within a round trip).
const EXPECT_IGNORED_AFTER: Duration = Duration::from_millis(800);

impl Client {
    /// A client for the server at `url` (`http://host:8086`,
    /// `https://eu-central-1-1.aws.cloud2.influxdata.com`, optionally with a
    /// path prefix), with `token` sent as `Authorization: Token ...`.
    ///
    /// Defaults: no bucket (set one with [`bucket`](Self::bucket)),
    /// nanosecond precision, gzip on at level 1 ([`gzip::DEFAULT_LEVEL`]), 30 s per write, 10 s to
    /// connect.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the URL is not `http://` or `https://` with a
    /// host, or the token contains CR, LF or NUL.
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://localhost:8086", Some("t"))?;
    /// assert!(linewire_std::Client::new("localhost:8086", None).is_err());
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn new(url: &str, token: Option<&str>) -> Result<Self, Error> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| Error::Config("the URL must start with http:// or https://".into()))?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(Error::Config(format!(
                "unsupported URL scheme {scheme:?} (use http or https)"
            )));
        }
        let (authority, path) = match rest.find(['/', '?', '#']) {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(Error::Config(
                "the URL needs a host (and no user info: pass the token separately)".into(),
            ));
        }
        if path.contains(['?', '#']) {
            return Err(Error::Config(
                "the URL may not have a query or fragment".into(),
            ));
        }
        let prefix = path.trim_end_matches('/').to_owned();
        let https = scheme.eq_ignore_ascii_case("https");
        let client = Self {
            agent: build_agent(
                DEFAULT_TIMEOUT,
                DEFAULT_CONNECT_TIMEOUT,
                &Trust::default(),
                https,
            ),
            origin: format!("{}://{authority}", scheme.to_ascii_lowercase()),
            authority: authority.to_owned(),
            prefix,
            token: token.map(str::to_owned),
            bucket: None,
            org: None,
            precision: Precision::Nanoseconds,
            gzip_level: Some(gzip::DEFAULT_LEVEL),
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            expect_continue_above: Some(EXPECT_CONTINUE_ABOVE),
            expect_ignored: Arc::new(AtomicBool::new(false)),
            trust: Trust::default(),
            headers: Vec::new(),
        };
        // Validate host, prefix and token once, with the core's rules.
        client.target(Precision::Nanoseconds, "b")?;
        Ok(client)
    }

    /// A client from the environment: `INFLUX_URL`, `INFLUX_TOKEN`
    /// (optional), `INFLUX_BUCKET`, `INFLUX_ORG` (optional). `None` when
    /// `INFLUX_URL` is not set.
    ///
    /// # Errors
    ///
    /// As [`Client::new`], and [`Error::Config`] when `INFLUX_BUCKET` is
    /// missing.
    ///
    /// ```
    /// if let Some(client) = linewire_std::Client::from_env() {
    ///     let client = client?;
    /// }
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn from_env() -> Option<Result<Self, Error>> {
        let url = std::env::var("INFLUX_URL").ok().filter(|u| !u.is_empty())?;
        let token = std::env::var("INFLUX_TOKEN").ok().filter(|t| !t.is_empty());
        let build = || {
            let bucket = std::env::var("INFLUX_BUCKET")
                .ok()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| {
                    Error::Config("INFLUX_URL is set but INFLUX_BUCKET is not".into())
                })?;
            let mut client = Self::new(&url, token.as_deref())?.bucket(&bucket);
            if let Some(org) = std::env::var("INFLUX_ORG").ok().filter(|o| !o.is_empty()) {
                client = client.org(&org);
            }
            Ok(client)
        };
        Some(build())
    }

    /// The bucket to write to (required before writing).
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?.bucket("farm");
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn bucket(mut self, bucket: &str) -> Self {
        self.bucket = Some(bucket.to_owned());
        self
    }

    /// The organization (`org=`), needed by InfluxDB 2 OSS when the token
    /// is not scoped to one.
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?.org("home");
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn org(mut self, org: &str) -> Self {
        self.org = Some(org.to_owned());
        self
    }

    /// The precision of timestamps in [`write_line_protocol`](Self::write_line_protocol)
    /// (a [`Batch`](linewire::Batch) carries its own). Default nanoseconds.
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?.precision(linewire_std::Precision::Seconds);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// The precision set with [`precision`](Self::precision).
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?;
    /// assert_eq!(c.get_precision(), linewire_std::Precision::Nanoseconds);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn get_precision(&self) -> Precision {
        self.precision
    }

    /// gzip request bodies (on by default, as Telegraf does).
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?.gzip(false);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip_level = on.then_some(self.gzip_level.unwrap_or(gzip::DEFAULT_LEVEL));
        self
    }

    /// gzip at `level` (0–10, see [`gzip::gzip`]); turns gzip on.
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?.gzip_level(1);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn gzip_level(mut self, level: u8) -> Self {
        self.gzip_level = Some(level.min(gzip::MAX_LEVEL));
        self
    }

    /// The longest one write may take, connecting and reading the answer
    /// included (default 30 s).
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?.timeout(std::time::Duration::from_secs(5));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self.rebuild_agent();
        self
    }

    /// The longest connecting may take (default 10 s).
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?.connect_timeout(std::time::Duration::from_secs(2));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self.rebuild_agent();
        self
    }

    fn rebuild_agent(&mut self) {
        let https = self.origin.starts_with("https:");
        self.agent = build_agent(self.timeout, self.connect_timeout, &self.trust, https);
    }

    /// Trusts the certificate authorities in `pem` (one or more
    /// `-----BEGIN CERTIFICATE-----` blocks; other blocks are skipped)
    /// for `https://` servers, *instead of* the platform's store: a
    /// private CA, as Telegraf's `tls_ca` and curl's `--cacert` (see
    /// [`tls`](crate::tls#trust) for why instead of, not besides). Call
    /// it again to trust more.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `pem` holds no certificate, is not valid
    /// PEM, or a certificate in it cannot be parsed.
    ///
    /// ```
    /// let server = linewire_testkit::TestServer::builder().https().start();
    /// let client = linewire_std::Client::new(&server.url(), None)?
    ///     .ca_certificate(server.ca_pem().as_bytes())?
    ///     .bucket("b");
    /// client.write_line_protocol("m v=1 1\n")?;
    /// assert_eq!(server.points("b").len(), 1);
    ///
    /// let err = linewire_std::Client::new(&server.url(), None)?.ca_certificate(b"no PEM here");
    /// assert!(matches!(err, Err(linewire_std::Error::Config(_))));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn ca_certificate(mut self, pem: &[u8]) -> Result<Self, Error> {
        let mut certs = tls::parse_ca(pem).map_err(Error::Config)?;
        if let Some(before) = &self.trust.only {
            certs.splice(0..0, before.iter().cloned());
        }
        self.trust.only = Some(Arc::new(certs));
        self.rebuild_agent();
        Ok(self)
    }

    /// [`ca_certificate`](Self::ca_certificate) with the PEM read from
    /// the file at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the file cannot be read, or as
    /// [`ca_certificate`](Self::ca_certificate).
    ///
    /// ```
    /// let err = linewire_std::Client::new("https://h:8086", None)?
    ///     .ca_certificate_file("/no/such/ca.pem")
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("cannot read the CA file /no/such/ca.pem"));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn ca_certificate_file(self, path: impl AsRef<std::path::Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let shown = || for_display(&path.display().to_string(), None, DEFAULT_MAX_CHARS);
        let pem = std::fs::read(path)
            .map_err(|e| Error::Config(format!("cannot read the CA file {}: {e}", shown())))?;
        self.ca_certificate(&pem).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("in the CA file {}: {m}", shown())),
            other => other,
        })
    }

    /// **Dangerous:** with `true`, `https://` servers are not verified at
    /// all: any certificate is accepted, so anyone on the path can read
    /// and change the data and see the token. For tests against a server
    /// with a throwaway certificate only; give a private CA with
    /// [`ca_certificate`](Self::ca_certificate) instead. Logs a warning
    /// when turned on; `false` verifies again, against the CAs given or
    /// the platform's store.
    ///
    /// ```
    /// let server = linewire_testkit::TestServer::builder().https().start();
    /// let client = linewire_std::Client::new(&server.url(), None)?
    ///     .danger_accept_invalid_certs(true)
    ///     .bucket("b");
    /// client.write_line_protocol("m v=1 1\n")?;
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn danger_accept_invalid_certs(mut self, on: bool) -> Self {
        if on {
            log::warn!(
                "TLS certificate verification is OFF for {}: anyone on the path can read \
                 and change the data and see the token (for tests only)",
                for_display(&self.origin, None, DEFAULT_MAX_CHARS)
            );
        }
        self.trust.verify = !on;
        self.rebuild_agent();
        self
    }

    /// Adds the header `name: value` to every write (for a proxy in front
    /// of the server: an API gateway's key, a tenant header), as
    /// Telegraf's `http_headers`. Setting a name again replaces its value.
    /// A name the client sends by default (`User-Agent`, `Accept`) is
    /// replaced by this one.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when `name` is not an HTTP token, `value` holds
    /// CR, LF, NUL or another control character, or `name` is one the
    /// client owns: `Authorization` (the token is given to
    /// [`Client::new`]), `Content-Type`, `Content-Encoding`,
    /// `Content-Length`, `Transfer-Encoding`, `Host`, `Expect`, or a
    /// connection header (`Connection`, `Keep-Alive`, `TE`, `Trailer`,
    /// `Upgrade`).
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::start();
    /// let client = linewire_std::Client::new(&server.url(), None)?
    ///     .header("X-Api-Key", "k1")?
    ///     .bucket("b");
    /// client.write_line_protocol("m v=1 1\n")?;
    /// assert_eq!(server.requests()[0].header("x-api-key"), Some("k1"));
    ///
    /// let c = linewire_std::Client::new(&server.url(), None)?;
    /// assert!(c.clone().header("X-Evil", "a\r\nInjected: 1").is_err());
    /// assert!(c.header("Authorization", "Bearer x").is_err());
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Result<Self, Error> {
        let shown = for_display(name, None, 80);
        if !is_token(name) {
            return Err(Error::Config(format!(
                "{shown:?} is not a valid HTTP header name"
            )));
        }
        if OWN_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
            return Err(Error::Config(format!(
                "the header {shown} is set by the client and cannot be replaced"
            )));
        }
        // What `http`'s `HeaderValue` accepts, and never a line break.
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(Error::Config(format!(
                "the value of header {shown} holds a line break or another control character"
            )));
        }
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        Ok(self)
    }

    /// Send bodies of at least `bytes` on the wire with
    /// `Expect: 100-continue`, so that a server refusing them early (413)
    /// is heard before the body is sent; `None` never does (default
    /// [`EXPECT_CONTINUE_ABOVE`]). See [the module docs](self#early-413)
    /// for why and what it costs.
    ///
    /// ```
    /// let c = linewire_std::Client::new("http://h:8086", None)?.expect_continue_above(Some(1 << 20));
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    #[must_use]
    pub fn expect_continue_above(mut self, bytes: Option<usize>) -> Self {
        self.expect_continue_above = bytes;
        self
    }

    /// The token, for redacting server text in reports.
    pub(crate) fn secret(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Writes a batch, at the batch's precision.
    ///
    /// # Errors
    ///
    /// [`Error::Server`] for any non-2xx answer (the [`ServerError`] holds
    /// the core's outcome and the parsed body), [`Error::Transport`] when
    /// the request failed, [`Error::Config`] when no bucket is set.
    ///
    /// ```
    /// use linewire_std::{Batch, Precision};
    /// # let server = linewire_testkit::TestServer::start();
    /// let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
    /// let mut batch = Batch::<128>::with_precision(Precision::Milliseconds);
    /// batch.point("m")?.field("v", 1i64)?.timestamp(1_700_000_000_000)?;
    /// client.write(&batch)?;
    /// assert_eq!(server.points("b")[0].timestamp_ns, 1_700_000_000_000_000_000);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write<S: Storage>(&self, batch: &BatchInner<S>) -> Result<Written, Error> {
        self.send(batch.as_bytes(), batch.precision())
    }

    /// Writes line protocol (one or more `\n`-separated lines) at the
    /// client's precision.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::start();
    /// let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
    /// client.write_line_protocol("m,host=a v=1i 1\nm,host=b v=2i 1\n")?;
    /// assert_eq!(server.points("b").len(), 2);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn write_line_protocol(&self, lines: &str) -> Result<Written, Error> {
        self.send(lines.as_bytes(), self.precision)
    }

    /// One request of `body` (with `gz`, its gzip member compressed
    /// beforehand, if any), no resend: for a driver of the core's delivery
    /// machine, which decides on resends. `expect` asks for
    /// `100-continue` whatever the body's size (the resend after a
    /// connection closed before any answer: how an early 413 is heard).
    pub(crate) fn write_once(
        &self,
        body: &[u8],
        gz: Option<&[u8]>,
        expect: bool,
    ) -> Result<Written, Error> {
        self.send_once(body, gz, self.precision, expect)
    }

    /// The gzip level of request bodies, `None` when gzip is off.
    pub(crate) fn gzip_level_in_use(&self) -> Option<u8> {
        self.gzip_level
    }

    /// The core's target for this client (borrows the client).
    fn target<'a>(&'a self, precision: Precision, bucket: &'a str) -> Result<Target<'a>, Error> {
        let mut t = Target::v2(&self.authority, bucket, self.token.as_deref().unwrap_or(""))?
            .precision(precision)
            .max_body(usize::MAX);
        if !self.prefix.is_empty() {
            t = t.path_prefix(&self.prefix)?;
        }
        if let Some(org) = &self.org {
            t = t.org(org)?;
        }
        Ok(t)
    }

    /// The request line target (`/api/v2/write?...`) and headers the core
    /// would send for `payload`, without `Host` and `Content-Length` (set
    /// by `ureq`).
    fn head(
        &self,
        payload: &Payload<'_>,
        precision: Precision,
    ) -> Result<(String, Vec<(String, String)>), Error> {
        let bucket = self
            .bucket
            .as_deref()
            .ok_or_else(|| Error::Config("no bucket set".into()))?;
        let target = self.target(precision, bucket)?;
        let mut buf = vec![0u8; 1024];
        let n = loop {
            match encode_head(&target, payload, &mut buf) {
                Ok(n) => break n,
                Err(WriteError::Resource(_)) if buf.len() < 1 << 20 => {
                    buf.resize(buf.len() * 4, 0);
                }
                Err(e) => return Err(Error::Config(e.to_string())),
            }
        };
        let head = std::str::from_utf8(buf.get(..n).unwrap_or_default())
            .map_err(|_| Error::Config("request head is not UTF-8".into()))?;
        let mut lines = head.split("\r\n");
        let request_line = lines.next().unwrap_or_default();
        let path = request_line
            .strip_prefix("POST ")
            .and_then(|r| r.strip_suffix(" HTTP/1.1"))
            .ok_or_else(|| Error::Config("unexpected request line".into()))?
            .to_owned();
        let mut headers = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let Some((name, value)) = line.split_once(": ") else {
                continue;
            };
            if name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            headers.push((name.to_owned(), value.to_owned()));
        }
        Ok((path, headers))
    }

    /// Large bodies go without `Expect` from now on: this server (or a proxy
    /// before it) makes every such write wait a second for nothing.
    fn note_expect_ignored(&self) {
        if !self.expect_ignored.swap(true, Ordering::Relaxed) {
            log::warn!(
                "the server did not answer `Expect: 100-continue` within {} ms; \
                 large writes are sent without it from now on",
                EXPECT_IGNORED_AFTER.as_millis()
            );
        }
    }

    fn send(&self, body: &[u8], precision: Precision) -> Result<Written, Error> {
        self.send_with(body, None, precision)
    }

    /// Sends once; when the connection is closed before any answer (a
    /// kept-alive connection the server had already dropped, or a server
    /// refusing the body early and resetting), sends once more at once,
    /// on a new connection (`ureq` drops a failed one) and with
    /// `Expect: 100-continue`, so that an early 413 is heard this time.
    /// Writes are idempotent: a resend of data that was stored stores
    /// nothing twice.
    fn send_with(
        &self,
        body: &[u8],
        compressed: Option<&[u8]>,
        precision: Precision,
    ) -> Result<Written, Error> {
        // A large body is compressed here, once: the resend below sends
        // the same compressed copy instead of compressing it again.
        let owned_gz;
        let compressed = match (self.gzip_level, compressed) {
            (Some(level), None)
                if body.len() >= self.expect_continue_above.unwrap_or(usize::MAX) =>
            {
                owned_gz = gzip::gzip(body, level);
                Some(owned_gz.as_slice())
            }
            (_, gz) => gz,
        };
        match self.send_once(body, compressed, precision, false) {
            Err(Error::Transport(e)) if closed_before_answer(&e) => {
                log::warn!(
                    "the connection closed before the server answered ({}): sending again at once on a new connection",
                    for_display(&e.to_string(), None, DEFAULT_MAX_CHARS)
                );
                self.send_once(body, compressed, precision, true)
            }
            other => other,
        }
    }

    fn send_once(
        &self,
        body: &[u8],
        compressed: Option<&[u8]>,
        precision: Precision,
        expect: bool,
    ) -> Result<Written, Error> {
        let payload = Payload::new(body)
            .precision(precision)
            .compressed(self.gzip_level.is_some());
        let (path, headers) = self.head(&payload, precision)?;
        let url = format!("{}{}", self.origin, path);
        let mut request = self.agent.post(&url);
        let mine = |name: &str| {
            self.headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        for (name, value) in headers.iter().filter(|(n, _)| !mine(n)) {
            request = request.header(name.as_str(), value.as_str());
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let expect_above = if expect {
            0
        } else {
            self.expect_continue_above.unwrap_or(usize::MAX)
        };
        // A large body is compressed before sending, so that its length is
        // known up front: a server refusing it by `Content-Length` answers
        // before it is sent (see the module docs, "Early 413"). The first
        // try gets it from `send_with`; a resend of a body that streamed
        // first compresses it here.
        let owned_gz;
        let compressed = match (self.gzip_level, compressed) {
            (Some(level), None) if body.len() >= expect_above => {
                owned_gz = gzip::gzip(body, level);
                Some(owned_gz.as_slice())
            }
            (_, gz) => gz,
        };
        // Without a compressed copy, a small gzip body streams (chunked):
        // compressing overlaps with sending and with the server's reading,
        // and no compressed copy of the body is kept.
        let (sent, wire_len, body_sent) = match (self.gzip_level, compressed) {
            (Some(level), None) => {
                let mut reader = Counted::new(gzip::GzipReader::new(body, level));
                let sent = request.send(ureq::SendBody::from_reader(&mut reader));
                (sent, reader.count, reader.eof)
            }
            (gz_on, gz) => {
                let bytes = match (gz_on, gz) {
                    (Some(_), Some(gz)) => gz,
                    _ => body,
                };
                // The resend after a reset asks even of a server that
                // ignored `Expect` before: it is how an early 413 is heard.
                let asked = bytes.len() >= expect_above
                    && !bytes.is_empty()
                    && (expect || !self.expect_ignored.load(Ordering::Relaxed));
                if asked {
                    request = request.header("Expect", "100-continue");
                }
                let mut reader = Counted::new(bytes);
                let started = Instant::now();
                let sent = request
                    .header("Content-Length", bytes.len().to_string().as_str())
                    .send(ureq::SendBody::from_reader(&mut reader));
                let waited = reader.first_read.map(|t| t.duration_since(started));
                if asked && waited.is_some_and(|w| w >= EXPECT_IGNORED_AFTER) {
                    self.note_expect_ignored();
                }
                let whole = reader.count >= bytes.len() as u64;
                (sent, reader.count, whole)
            }
        };
        let wire_len = usize::try_from(wire_len).unwrap_or(usize::MAX);
        log::debug!(
            "POST {} ({} bytes, {} on the wire)",
            path,
            body.len(),
            wire_len
        );
        let mut response = sent.map_err(|e| match tls::classify(&e, &self.authority) {
            Some(t) => {
                log::debug!("TLS handshake failed: {t}");
                Error::Tls(t)
            }
            None => Error::Transport(e),
        })?;
        let status = response.status().as_u16();
        // The token is copied into an answer only when it is not a write.
        let secret = || Secret(self.token.clone());
        if (200..300).contains(&status) {
            if !body_sent {
                // A 2xx to a request whose body was never sent stored nothing.
                let error = ServerError::unexpected(status, None, secret());
                log::warn!("write not stored: {error}");
                return Err(Error::Server(Box::new(error)));
            }
            // Drain any body so the connection can be reused; a broken one
            // does not undo the 2xx.
            let _ = response
                .body_mut()
                .as_reader()
                .take(MAX_ERROR_BODY)
                .read_to_end(&mut Vec::new());
            return Ok(Written {
                status,
                body_len: body.len(),
                wire_len,
            });
        }
        // Lossy: a header with 8-bit bytes is still what the server said.
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        };
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| RetryAfter::parse(v.as_bytes()));
        let platform = header("x-platform-error-code");
        let influx = header("x-influxdb-error");
        let location = header("location");
        let mut text = Vec::new();
        let read = response
            .body_mut()
            .as_reader()
            .take(MAX_ERROR_BODY.saturating_add(1))
            .read_to_end(&mut text);
        let truncated = read.is_err() || text.len() as u64 > MAX_ERROR_BODY;
        text.truncate(usize::try_from(MAX_ERROR_BODY).unwrap_or(usize::MAX));
        let error = ServerError::from_parts(
            status,
            retry_after,
            text,
            truncated,
            platform,
            influx,
            location,
            secret(),
        );
        log::debug!("write answered: {}", error.describe());
        Err(Error::Server(Box::new(error)))
    }
}

/// `body`, cut short inside a JSON object, closed so that it parses as one:
/// up to 8 trailing bytes (a split escape or character), or all from the
/// last comma (a split member name), dropped, then
/// `}` or `"}` added; of these, the one the core reads the most members
/// from (its scanner is lenient: it may take a badly closed object as JSON
/// and drop members). `None` when it was not cut, is not JSON, or cannot
/// be closed so.
fn closed_json(truncated: bool, body: &[u8]) -> Option<Vec<u8>> {
    if !truncated || body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return None;
    }
    // The best so far: its score, how much of `body` it keeps, its closing.
    let mut best: Option<(usize, usize, &[u8])> = None;
    // Also back to the last comma: a cut inside a member's name.
    let last_comma = body
        .iter()
        .rposition(|&b| b == b',')
        .map(|i| body.len() - i);
    let drops = (0..=8usize.min(body.len())).chain(last_comma);
    // One buffer for every try: the core's parser unescapes in place.
    let mut probe = Vec::with_capacity(body.len() + 2);
    for drop in drops {
        let kept = body.get(..body.len() - drop)?;
        for suffix in [&b"}"[..], b"\"}"] {
            probe.clear();
            probe.extend_from_slice(kept);
            probe.extend_from_slice(suffix);
            let parsed = ErrorBody::parse(&mut probe);
            if parsed.kind != BodyKind::Json {
                continue;
            }
            let score = [
                parsed.code.is_some(),
                parsed.message.is_some(),
                parsed.line.is_some(),
                parsed.detail.is_some(),
                parsed.max_length.is_some(),
            ]
            .into_iter()
            .filter(|found| *found)
            .count();
            if !matches!(best, Some((s, _, _)) if s >= score) {
                best = Some((score, kept.len(), suffix));
            }
        }
    }
    best.map(|(_, kept, suffix)| [&body[..kept], suffix].concat())
}

/// The connection ended (closed or reset) before an answer: what a stale
/// kept-alive connection or an early refusal with a reset looks like. Not
/// a refused connection, a name that does not resolve, or a timeout.
pub(crate) fn closed_before_answer(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            std::io::ErrorKind::UnexpectedEof
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
        ),
        _ => false,
    }
}

/// A request body reader that counts what `ureq` took from it: a 2xx is a
/// write only when the whole body was taken. When it was first read tells
/// how long `ureq` waited for `100 Continue`.
struct Counted<R> {
    inner: R,
    count: u64,
    eof: bool,
    first_read: Option<Instant>,
}

impl<R> Counted<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            count: 0,
            eof: false,
            first_read: None,
        }
    }
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.first_read.get_or_insert_with(Instant::now);
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof = true;
        }
        self.count = self.count.saturating_add(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed_line(body: &[u8]) -> Option<u32> {
        let mut b = body.to_vec();
        ErrorBody::parse(&mut b).line
    }

    #[test]
    fn a_cut_json_body_is_closed_for_parsing() {
        let full = br#"{"code":"invalid","line":2,"message":"error parsing line 2 \u00e9 \"x\" and more"}"#;
        let mut closed_some = 0;
        for cut in 1..full.len() {
            let prefix = &full[..cut];
            if let Some(closed) = closed_json(true, prefix) {
                closed_some += 1;
                let mut b = closed.clone();
                assert_eq!(ErrorBody::parse(&mut b).kind, BodyKind::Json);
                // Only ever a part of what came, plus the closing.
                let body = closed.strip_suffix(b"}").unwrap_or(&closed);
                assert!(prefix.starts_with(body.strip_suffix(b"\"").unwrap_or(body)));
            }
            // Once `line` is complete, every cut still shows it.
            if cut > r#"{"code":"invalid","line":2,"#.len() {
                let closed = closed_json(true, prefix).unwrap_or_default();
                assert_eq!(
                    parsed_line(&closed),
                    Some(2),
                    "{:?}",
                    String::from_utf8_lossy(prefix)
                );
            }
        }
        assert!(closed_some > full.len() / 2);
        assert_eq!(closed_json(false, &full[..30]), None, "not cut");
        assert_eq!(closed_json(true, b"<html>cut"), None, "not JSON");
    }
}
