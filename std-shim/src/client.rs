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
//! alive and reused. `https://` URLs use rustls with the webpki roots.

use std::fmt;
use std::io::Read as _;
use std::time::Duration;

use linewire::http::{
    encode_head, Action, ConfigError, ErrorBody, Outcome, Payload, RetryAfter, Target, WriteError,
};
use linewire::{BatchInner, Precision, Storage};

use crate::gzip;

/// The most of an error body read (longer bodies are cut, and the
/// connection is not reused).
pub const MAX_ERROR_BODY: u64 = 64 * 1024;

/// The default time one write may take, connecting included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The default time to connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
/// ```
/// use linewire::http::{Action, Outcome};
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
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// The body was longer than [`MAX_ERROR_BODY`]: details are from its start.
    pub body_truncated: bool,
}

impl ServerError {
    /// What to do with the data: the core's [`Outcome::action`].
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::builder().token("right").start();
    /// let client = linewire_std::Client::new(&server.url(), Some("wrong"))?.bucket("b");
    /// let err = client.write_line_protocol("m v=1\n").unwrap_err();
    /// assert_eq!(err.server().unwrap().action(), linewire::http::Action::Stop);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn action(&self) -> Action {
        self.outcome.action()
    }

    fn from_parts(
        status: u16,
        retry_after: Option<RetryAfter>,
        mut body: Vec<u8>,
        body_truncated: bool,
        platform_error_code: Option<String>,
        influxdb_error: Option<String>,
    ) -> Self {
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
            body_truncated,
        }
    }

    /// One line for logs and `Display`: status, outcome, message.
    fn describe(&self) -> String {
        let mut s = format!("HTTP {} ({:?})", self.status, self.outcome);
        if let Some(m) = &self.message {
            s.push_str(": ");
            s.push_str(m);
        }
        s
    }
}

impl fmt::Display for ServerError {
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

    /// Whether resending the same data later may succeed: transport
    /// failures and the core's [`Action::Retry`] / [`Action::RetryLater`].
    ///
    /// ```
    /// assert!(!linewire_std::Error::Config("x".into()).is_retryable());
    /// ```
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Server(e) => matches!(e.action(), Action::Retry | Action::RetryLater),
            Self::Config(_) => false,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(m) => write!(f, "configuration: {m}"),
            Self::Server(e) => write!(f, "server: {e}"),
            Self::Transport(e) => write!(f, "transport: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Server(e) => Some(e),
            Self::Transport(e) => Some(e),
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
/// use linewire::{Batch, Precision};
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
            .finish_non_exhaustive()
    }
}

fn build_agent(timeout: Duration, connect_timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .timeout_connect(Some(connect_timeout))
        .user_agent(linewire::http::USER_AGENT)
        .max_idle_connections_per_host(4)
        .build()
        .into()
}

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
        let client = Self {
            agent: build_agent(DEFAULT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT),
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
    /// let c = linewire_std::Client::new("http://h:8086", None)?.precision(linewire::Precision::Seconds);
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
    /// assert_eq!(c.precision_setting(), linewire::Precision::Nanoseconds);
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn precision_setting(&self) -> Precision {
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
        self.agent = build_agent(self.timeout, self.connect_timeout);
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
        self.agent = build_agent(self.timeout, self.connect_timeout);
        self
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
    /// use linewire::{Batch, Precision};
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

    /// [`write_line_protocol`](Self::write_line_protocol) of bytes the
    /// caller knows to be line protocol (the writer's packed lines, built
    /// from `&str`s): no UTF-8 check, no copy.
    pub(crate) fn write_body(&self, body: &[u8]) -> Result<Written, Error> {
        self.send(body, self.precision)
    }

    /// [`write_body`](Self::write_body) with `gz`, the gzip member of
    /// `body` compressed beforehand (by a writer compressing the next batch
    /// while this one is in flight).
    pub(crate) fn write_body_compressed(&self, body: &[u8], gz: &[u8]) -> Result<Written, Error> {
        self.send_with(body, Some(gz), self.precision)
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

    fn send(&self, body: &[u8], precision: Precision) -> Result<Written, Error> {
        self.send_with(body, None, precision)
    }

    fn send_with(
        &self,
        body: &[u8],
        compressed: Option<&[u8]>,
        precision: Precision,
    ) -> Result<Written, Error> {
        let payload = Payload::new(body)
            .precision(precision)
            .compressed(self.gzip_level.is_some());
        let (path, headers) = self.head(&payload, precision)?;
        let url = format!("{}{}", self.origin, path);
        let mut request = self.agent.post(&url);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        // Without a compressed copy, gzip streams (chunked): compressing
        // overlaps with sending and with the server's reading, and no
        // compressed copy of the body is kept.
        let (sent, wire_len) = match (self.gzip_level, compressed) {
            (Some(_), Some(gz)) => (request.send(gz), gz.len()),
            (Some(level), None) => {
                let mut reader = gzip::GzipReader::new(body, level);
                let sent = request.send(ureq::SendBody::from_reader(&mut reader));
                (
                    sent,
                    usize::try_from(reader.wire_len()).unwrap_or(usize::MAX),
                )
            }
            (None, _) => (request.send(body), body.len()),
        };
        log::debug!(
            "POST {} ({} bytes, {} on the wire)",
            path,
            body.len(),
            wire_len
        );
        let mut response = sent.map_err(Error::Transport)?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            // Drain any body so the connection can be reused.
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
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| RetryAfter::parse(v.as_bytes()));
        let platform = header("x-platform-error-code");
        let influx = header("x-influxdb-error");
        let mut text = Vec::new();
        let read = response
            .body_mut()
            .as_reader()
            .take(MAX_ERROR_BODY.saturating_add(1))
            .read_to_end(&mut text);
        let truncated = read.is_err() || text.len() as u64 > MAX_ERROR_BODY;
        text.truncate(usize::try_from(MAX_ERROR_BODY).unwrap_or(usize::MAX));
        let error = ServerError::from_parts(status, retry_after, text, truncated, platform, influx);
        log::debug!("write answered {}", error.describe());
        Err(Error::Server(Box::new(error)))
    }
}
