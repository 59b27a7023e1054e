//! Where and how a batch is written: the write target, validated once.

use super::error::ConfigError;
use crate::Precision;

/// Default maximum body size: 10 MiB, the default request limit of
/// InfluxDB 3 Core.
pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;

/// The write endpoint a [`Target`] addresses.
///
/// ```
/// use linewire::http::{Api, Target};
///
/// let t = Target::v1("10.0.0.2", "telemetry")?;
/// assert_eq!(t.api(), Api::V1);
/// # Ok::<(), linewire::http::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Api {
    /// `POST /api/v2/write?bucket=..&org=..&precision=ns|us|ms|s`
    /// (InfluxDB 2.x, 3.x, Cloud, Telegraf).
    V2,
    /// `POST /write?db=..&rp=..&precision=n|u|ms|s` (InfluxDB 1.x and the
    /// v1 compatibility endpoint of 2.x/3.x).
    V1,
}

/// A validated write target: host, bucket, credentials, precision and
/// request options.
///
/// Built once with [`Target::v2`] or [`Target::v1`] and the builder methods;
/// every method that takes text validates it, so a `Target` that exists can
/// always be written to the wire: no CR or LF in the host or any header
/// value, no empty bucket, no empty org.
///
/// A `Target` borrows its strings (`'a`); it holds no buffer and is about a
/// hundred bytes on a 32-bit target.
///
/// ```
/// use linewire::http::Target;
/// use linewire::Precision;
///
/// let target = Target::v2("influx.local", "sensors", "my-token")?
///     .port(8086)
///     .org("home")?
///     .precision(Precision::Seconds);
/// assert_eq!(target.bucket(), "sensors");
/// # Ok::<(), linewire::http::ConfigError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: Option<u16>,
    pub(crate) path_prefix: &'a str,
    pub(crate) api: Api,
    pub(crate) bucket: &'a str,
    pub(crate) org: Option<&'a str>,
    pub(crate) org_id: Option<&'a str>,
    pub(crate) rp: Option<&'a str>,
    pub(crate) token: Option<&'a str>,
    pub(crate) user: Option<&'a str>,
    pub(crate) password: Option<&'a str>,
    pub(crate) precision: Precision,
    pub(crate) headers: &'a [(&'a str, &'a str)],
    pub(crate) gzip: bool,
    pub(crate) keep_alive: bool,
    pub(crate) max_body: usize,
}

impl<'a> Target<'a> {
    fn new(host: &'a str, bucket: &'a str, api: Api) -> Result<Self, ConfigError> {
        check_host(host)?;
        if bucket.is_empty() {
            return Err(ConfigError::EmptyBucket);
        }
        Ok(Self {
            host,
            port: None,
            path_prefix: "",
            api,
            bucket,
            org: None,
            org_id: None,
            rp: None,
            token: None,
            user: None,
            password: None,
            precision: Precision::Nanoseconds,
            headers: &[],
            gzip: false,
            keep_alive: true,
            max_body: DEFAULT_MAX_BODY,
        })
    }

    /// A target for `/api/v2/write` on `host` (a name or an IP address,
    /// without scheme or port), writing to `bucket` with `Authorization:
    /// Token <token>`. An empty `token` sends no `Authorization` header.
    ///
    /// Precision defaults to nanoseconds, keep-alive is on, gzip off.
    ///
    /// ```
    /// use linewire::http::{ConfigError, Target};
    ///
    /// assert!(Target::v2("influx.local", "sensors", "tok").is_ok());
    /// assert_eq!(
    ///     Target::v2("influx.local\r\nX: y", "sensors", "tok").unwrap_err(),
    ///     ConfigError::InvalidHost
    /// );
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn v2(host: &'a str, bucket: &'a str, token: &'a str) -> Result<Self, ConfigError> {
        Self::new(host, bucket, Api::V2)?.token(token)
    }

    /// A target for the v1 `/write` endpoint, writing to database `db`.
    /// Authenticate with [`token`](Self::token) or
    /// [`credentials`](Self::credentials).
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// let t = Target::v1("10.0.0.2", "telemetry")?
    ///     .retention_policy("autogen")?
    ///     .credentials("user", "pass")?;
    /// assert_eq!(t.bucket(), "telemetry");
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn v1(host: &'a str, db: &'a str) -> Result<Self, ConfigError> {
        Self::new(host, db, Api::V1)
    }

    /// The TCP port written in the `Host` header. Without it the header is
    /// the bare host (the scheme's default port).
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// let t = Target::v2("influx.local", "b", "t")?.port(8086);
    /// assert_eq!(t.get_port(), Some(8086));
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// A path in front of the endpoint, for servers behind a reverse proxy
    /// (`"/influx"` gives `/influx/api/v2/write`). Must start with `/` and
    /// contain only URL path characters.
    ///
    /// ```
    /// use linewire::http::{ConfigError, Target};
    ///
    /// let t = Target::v2("h", "b", "t")?.path_prefix("/influx")?;
    /// assert_eq!(
    ///     Target::v2("h", "b", "t")?.path_prefix("influx").unwrap_err(),
    ///     ConfigError::InvalidPathPrefix
    /// );
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn path_prefix(mut self, prefix: &'a str) -> Result<Self, ConfigError> {
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        let ok = prefix.is_empty()
            || (prefix.starts_with('/')
                && prefix
                    .bytes()
                    .all(|b| is_unreserved(b) || b"/%!$&'()*+,;=:@".contains(&b)));
        if !ok {
            return Err(ConfigError::InvalidPathPrefix);
        }
        self.path_prefix = prefix;
        Ok(self)
    }

    /// The organization name (`org=` on `/api/v2/write`). Must not be empty.
    ///
    /// ```
    /// use linewire::http::{ConfigError, Target};
    ///
    /// assert_eq!(
    ///     Target::v2("h", "b", "t")?.org("").unwrap_err(),
    ///     ConfigError::EmptyOrg
    /// );
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn org(mut self, org: &'a str) -> Result<Self, ConfigError> {
        if org.is_empty() {
            return Err(ConfigError::EmptyOrg);
        }
        self.org = Some(org);
        Ok(self)
    }

    /// The organization ID (`orgID=` on `/api/v2/write`). Must not be empty.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// let t = Target::v2("h", "b", "t")?.org_id("0123456789abcdef")?;
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn org_id(mut self, org_id: &'a str) -> Result<Self, ConfigError> {
        if org_id.is_empty() {
            return Err(ConfigError::EmptyOrg);
        }
        self.org_id = Some(org_id);
        Ok(self)
    }

    /// The retention policy (`rp=` on the v1 `/write`; ignored on v2). An
    /// empty string means the database default.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// let t = Target::v1("h", "db")?.retention_policy("one_week")?;
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn retention_policy(mut self, rp: &'a str) -> Result<Self, ConfigError> {
        self.rp = if rp.is_empty() { None } else { Some(rp) };
        Ok(self)
    }

    /// The API token, sent as `Authorization: Token <token>`. An empty token
    /// sends no `Authorization` header.
    ///
    /// ```
    /// use linewire::http::{ConfigError, Target};
    ///
    /// assert_eq!(
    ///     Target::v1("h", "db")?.token("abc\n").unwrap_err(),
    ///     ConfigError::InvalidHeaderValue
    /// );
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn token(mut self, token: &'a str) -> Result<Self, ConfigError> {
        check_value(token)?;
        self.token = if token.is_empty() { None } else { Some(token) };
        Ok(self)
    }

    /// v1 user name and password, sent as the `u=` and `p=` query
    /// parameters (percent-encoded). Ignored on v2.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// let t = Target::v1("h", "db")?.credentials("admin", "p@ss word")?;
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn credentials(mut self, user: &'a str, password: &'a str) -> Result<Self, ConfigError> {
        self.user = Some(user);
        self.password = Some(password);
        Ok(self)
    }

    /// The precision of the timestamps in the payloads sent to this target.
    /// Minutes and hours are sent as seconds ([`Precision::wire`]).
    ///
    /// ```
    /// use linewire::http::Target;
    /// use linewire::Precision;
    ///
    /// let t = Target::v2("h", "b", "t")?.precision(Precision::Milliseconds);
    /// assert_eq!(t.get_precision(), Precision::Milliseconds);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    #[must_use]
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Extra request headers, written after the standard ones. Names must be
    /// HTTP tokens and must not be one the crate writes itself; values must
    /// not contain CR, LF or NUL.
    ///
    /// ```
    /// use linewire::http::{ConfigError, Target};
    ///
    /// let t = Target::v2("h", "b", "t")?.headers(&[("X-Device", "pump-7")])?;
    /// assert_eq!(
    ///     Target::v2("h", "b", "t")?.headers(&[("content-length", "0")]).unwrap_err(),
    ///     ConfigError::ReservedHeader
    /// );
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub fn headers(mut self, headers: &'a [(&'a str, &'a str)]) -> Result<Self, ConfigError> {
        for (name, value) in headers {
            if name.is_empty() || !name.bytes().all(is_tchar) {
                return Err(ConfigError::InvalidHeaderName);
            }
            const RESERVED: [&str; 8] = [
                "host",
                "content-length",
                "transfer-encoding",
                "content-encoding",
                "content-type",
                "authorization",
                "connection",
                "user-agent",
            ];
            if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
                return Err(ConfigError::ReservedHeader);
            }
            check_value(value)?;
        }
        self.headers = headers;
        Ok(self)
    }

    /// Whether bodies for this target are to be gzip-compressed. The flag is
    /// carried for the caller (and the coming `gzip` feature); the
    /// `Content-Encoding: gzip` header is written when a
    /// [`Payload`](super::Payload) says its bytes are compressed.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// assert!(Target::v2("h", "b", "t")?.gzip(true).get_gzip());
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    #[must_use]
    pub fn gzip(mut self, on: bool) -> Self {
        self.gzip = on;
        self
    }

    /// Keep the connection open after the response (default). `false` sends
    /// `Connection: close`.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// assert!(!Target::v2("h", "b", "t")?.keep_alive(false).get_keep_alive());
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    #[must_use]
    pub fn keep_alive(mut self, on: bool) -> Self {
        self.keep_alive = on;
        self
    }

    /// The largest body this target sends ([`DEFAULT_MAX_BODY`] by default);
    /// larger payloads are refused before anything is written.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// let t = Target::v2("h", "b", "t")?.max_body(4096);
    /// assert_eq!(t.get_max_body(), 4096);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    #[must_use]
    pub fn max_body(mut self, max: usize) -> Self {
        self.max_body = max;
        self
    }

    /// The host, as given.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// assert_eq!(Target::v2("h", "b", "t")?.host(), "h");
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The port for the `Host` header, if set.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// assert_eq!(Target::v2("h", "b", "t")?.get_port(), None);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn get_port(&self) -> Option<u16> {
        self.port
    }

    /// The bucket (v2) or database (v1).
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// assert_eq!(Target::v2("h", "b", "t")?.bucket(), "b");
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn bucket(&self) -> &'a str {
        self.bucket
    }

    /// The endpoint kind.
    ///
    /// ```
    /// use linewire::http::{Api, Target};
    ///
    /// assert_eq!(Target::v2("h", "b", "t")?.api(), Api::V2);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn api(&self) -> Api {
        self.api
    }

    /// The configured precision (before [`Precision::wire`]).
    ///
    /// ```
    /// use linewire::http::Target;
    /// use linewire::Precision;
    ///
    /// let t = Target::v2("h", "b", "t")?;
    /// assert_eq!(t.get_precision(), Precision::Nanoseconds);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn get_precision(&self) -> Precision {
        self.precision
    }

    /// Whether gzip is wanted for this target.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// assert!(!Target::v2("h", "b", "t")?.get_gzip());
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn get_gzip(&self) -> bool {
        self.gzip
    }

    /// Whether the request asks to keep the connection open.
    ///
    /// ```
    /// use linewire::http::Target;
    ///
    /// assert!(Target::v2("h", "b", "t")?.get_keep_alive());
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn get_keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// The largest body this target sends.
    ///
    /// ```
    /// use linewire::http::{Target, DEFAULT_MAX_BODY};
    ///
    /// assert_eq!(Target::v2("h", "b", "t")?.get_max_body(), DEFAULT_MAX_BODY);
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn get_max_body(&self) -> usize {
        self.max_body
    }
}

/// Shows everything but the token and the password.
impl core::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let hidden = |v: Option<&str>| v.map(|_| "<redacted>");
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path_prefix", &self.path_prefix)
            .field("api", &self.api)
            .field("bucket", &self.bucket)
            .field("org", &self.org)
            .field("org_id", &self.org_id)
            .field("rp", &self.rp)
            .field("token", &hidden(self.token))
            .field("user", &self.user)
            .field("password", &hidden(self.password))
            .field("precision", &self.precision)
            .field("headers", &self.headers.len())
            .field("gzip", &self.gzip)
            .field("keep_alive", &self.keep_alive)
            .field("max_body", &self.max_body)
            .finish()
    }
}

/// URL "unreserved" characters (RFC 3986): never percent-encoded.
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// HTTP token characters (RFC 9110 `tchar`).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn check_value(v: &str) -> Result<(), ConfigError> {
    if v.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        Err(ConfigError::InvalidHeaderValue)
    } else {
        Ok(())
    }
}

fn check_host(host: &str) -> Result<(), ConfigError> {
    let bad = |b: u8| {
        b.is_ascii_control() || matches!(b, b' ' | b'/' | b'?' | b'#' | b'@' | b'\\') || b >= 0x80
    };
    if host.is_empty() || host.bytes().any(bad) {
        Err(ConfigError::InvalidHost)
    } else {
        Ok(())
    }
}
