//! Which servers an `https://` [`Client`](crate::Client) trusts, and what a
//! failed TLS handshake means.
//!
//! ```no_run
//! let ca = std::fs::read("/etc/influxdb/ca.pem")?;
//! let client = linewire_std::Client::new("https://influx.lan:8086", Some("t"))?
//!     .ca_certificate(&ca)?
//!     .bucket("b");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Trust
//!
//! - By default, the platform's trust store as OpenSSL reads it
//!   (`rustls-native-certs`): `SSL_CERT_FILE` and `SSL_CERT_DIR` when set,
//!   else the system's bundle (`/etc/ssl/certs/...` on Linux, the keychain
//!   on macOS, the certificate store on Windows). It is read once per
//!   process, when the first `https://` client is built. When it holds no
//!   certificate (a bare container without `ca-certificates`), Mozilla's
//!   roots compiled into the binary (`webpki-roots`) are used instead, so
//!   public servers still verify.
//! - [`Client::ca_certificate`](crate::Client::ca_certificate) (or
//!   [`ca_certificate_file`](crate::Client::ca_certificate_file)): only the
//!   certificate authorities given are trusted, *instead of* the default
//!   roots, as Telegraf's `tls_ca`, curl's `--cacert` and Go's
//!   `tls.Config.RootCAs` (the influx CLI) do. A private CA names
//!   the one authority the server's certificate comes from; trusting
//!   hundreds of public ones besides would let any of them vouch for the
//!   private name. Give several certificates in one PEM (or call it again)
//!   to trust more than one.
//! - [`Client::danger_accept_invalid_certs`](crate::Client::danger_accept_invalid_certs):
//!   no verification at all; for tests only (anyone on the path can read
//!   and change the data, and see the token).
//!
//! # A failed handshake is not retried
//!
//! A certificate that does not verify, or a handshake that fails (a server
//! that speaks plain HTTP on an `https://` URL, no common TLS version), will
//! fail the same way on every try: it is a [`TlsError`]
//! ([`Error::Tls`](crate::Error::Tls)), never an
//! [`Error::Transport`](crate::Error::Transport), and the writer and the
//! CLI give up on it at once instead of retrying for minutes.

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::server_text::{for_display, DEFAULT_MAX_CHARS};

/// What went wrong in a TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsErrorKind {
    /// The server's certificate did not verify (unknown issuer, expired,
    /// issued for another name, ...).
    Certificate,
    /// The handshake failed otherwise (not a TLS server, no common
    /// version or cipher, an alert from the server).
    Handshake,
}

/// A TLS handshake with the server failed: a configuration problem (the CA,
/// the URL), not a transient one. Nothing was sent.
///
/// ```
/// use linewire_std::{Client, Error};
///
/// let server = linewire_testkit::TestServer::builder().https().start();
/// let client = Client::new(&server.url(), None)?.bucket("b");
/// match client.write_line_protocol("m v=1 1\n") {
///     Err(Error::Tls(e)) => {
///         assert_eq!(e.host, "127.0.0.1");
///         assert!(e.to_string().starts_with("cannot verify the server's certificate for 127.0.0.1: UnknownIssuer"));
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), linewire_std::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsError {
    /// The host of the URL (without the port).
    pub host: String,
    /// Certificate or handshake.
    pub kind: TlsErrorKind,
    /// rustls's words for the cause (`UnknownIssuer`, `certificate
    /// expired: ...`), shown through
    /// [`for_display`]: a certificate's
    /// names come from the server.
    pub cause: String,
}

impl TlsError {
    /// The problem without advice: `cannot verify the server's certificate
    /// for HOST: CAUSE` or `the TLS handshake with HOST failed: CAUSE`
    /// (for a caller that gives its own advice, as the CLI does).
    ///
    /// ```
    /// # let server = linewire_testkit::TestServer::builder().https().start();
    /// # let client = linewire_std::Client::new(&server.url(), None)?.bucket("b");
    /// let err = client.write_line_protocol("m v=1 1\n").unwrap_err();
    /// let tls = err.tls().expect("a certificate error");
    /// assert_eq!(tls.problem(), "cannot verify the server's certificate for 127.0.0.1: UnknownIssuer");
    /// # Ok::<(), linewire_std::Error>(())
    /// ```
    pub fn problem(&self) -> String {
        match self.kind {
            TlsErrorKind::Certificate => format!(
                "cannot verify the server's certificate for {}: {}",
                self.host, self.cause
            ),
            _ => format!(
                "the TLS handshake with {} failed: {}",
                self.host, self.cause
            ),
        }
    }
}

impl fmt::Display for TlsError {
    /// [`problem`](Self::problem) and what to do about it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TlsErrorKind::Certificate => write!(
                f,
                "{} (for a private certificate authority, give its certificate with \
                 Client::ca_certificate or SSL_CERT_FILE)",
                self.problem()
            ),
            _ => write!(
                f,
                "{} (check that the URL's scheme and port lead to a TLS server)",
                self.problem()
            ),
        }
    }
}

impl std::error::Error for TlsError {}

/// The rustls error behind a failed request, when it failed in TLS.
fn rustls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        // rustls reports a failed handshake as an `io::Error` of kind
        // `InvalidData` around its own error.
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<rustls::Error>(),
        _ => None,
    }
}

/// `e` as a [`TlsError`] for `authority`, when a TLS handshake failed.
pub(crate) fn classify(e: &ureq::Error, authority: &str) -> Option<TlsError> {
    let r = rustls_error(e)?;
    let (kind, cause) = match r {
        rustls::Error::InvalidCertificate(c) => (TlsErrorKind::Certificate, c.to_string()),
        other => (TlsErrorKind::Handshake, other.to_string()),
    };
    Some(TlsError {
        host: for_display(host_of(authority), None, DEFAULT_MAX_CHARS),
        kind,
        cause: for_display(&cause, None, DEFAULT_MAX_CHARS),
    })
}

/// `host` of `host:port`, `[::1]` of `[::1]:port`.
fn host_of(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => authority.get(..=end).unwrap_or(authority),
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, _)) => host,
        None => authority,
    }
}

/// Which certificates an `https://` client trusts.
#[derive(Clone)]
pub(crate) struct Trust {
    /// Only these certificate authorities; `None`: the platform's store
    /// (or webpki's roots when it is empty).
    pub(crate) only: Option<Arc<Vec<ureq::tls::Certificate<'static>>>>,
    /// `false`: no verification at all.
    pub(crate) verify: bool,
}

impl Default for Trust {
    fn default() -> Self {
        Self {
            only: None,
            verify: true,
        }
    }
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.only, self.verify) {
            (_, false) => f.write_str("NOT VERIFIED"),
            (None, true) => f.write_str("platform"),
            (Some(certs), true) => write!(f, "{} CA certificate(s)", certs.len()),
        }
    }
}

impl Trust {
    /// The `ureq` TLS configuration (the platform store is read only for
    /// `https` origins: an `http://` client never needs it).
    pub(crate) fn config(&self, https: bool) -> ureq::tls::TlsConfig {
        let builder = ureq::tls::TlsConfig::builder();
        let builder = match &self.only {
            _ if !self.verify => builder.disable_verification(true),
            Some(certs) => builder.root_certs(ureq::tls::RootCerts::Specific(certs.clone())),
            None if https => builder.root_certs(platform_roots().clone()),
            None => builder,
        };
        builder.build()
    }
}

/// The platform's roots, read once per process; webpki's when none load.
fn platform_roots() -> &'static ureq::tls::RootCerts {
    static ROOTS: OnceLock<ureq::tls::RootCerts> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        // Unreadable files beside readable ones are common (a stray file
        // in /etc/ssl/certs); with nothing loaded they explain why the
        // webpki roots are used (an `SSL_CERT_FILE` that does not exist).
        for e in &loaded.errors {
            let shown = for_display(&e.to_string(), None, DEFAULT_MAX_CHARS);
            if loaded.certs.is_empty() {
                log::warn!("cannot read the platform's certificates: {shown}");
            } else {
                log::debug!("reading the platform's certificates: {shown}");
            }
        }
        roots_of(&loaded.certs)
    })
}

/// `certs` as root certificates; webpki's when there are none.
fn roots_of(certs: &[rustls::pki_types::CertificateDer<'static>]) -> ureq::tls::RootCerts {
    if certs.is_empty() {
        log::debug!("the platform's trust store is empty: using the webpki roots");
        return ureq::tls::RootCerts::WebPki;
    }
    log::debug!(
        "trusting the {} certificates of the platform's store",
        certs.len()
    );
    let certs: Vec<ureq::tls::Certificate<'static>> = certs
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    ureq::tls::RootCerts::Specific(Arc::new(certs))
}

/// The CA certificates of `pem` (one or more `CERTIFICATE` blocks; other
/// blocks are skipped), each checked to be usable as a trust anchor.
pub(crate) fn parse_ca(pem: &[u8]) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let mut certs = Vec::new();
    let mut store = rustls::RootCertStore::empty();
    for item in ureq::tls::parse_pem(pem) {
        let item = item.map_err(|e| {
            format!(
                "the CA certificate is not valid PEM: {}",
                for_display(&e.to_string(), None, DEFAULT_MAX_CHARS)
            )
        })?;
        if let ureq::tls::PemItem::Certificate(cert) = item {
            let der = rustls::pki_types::CertificateDer::from(cert.der().to_vec());
            store.add(der).map_err(|e| {
                format!(
                    "CA certificate {} cannot be used: {}",
                    certs.len() + 1,
                    for_display(&e.to_string(), None, DEFAULT_MAX_CHARS)
                )
            })?;
            certs.push(cert);
        }
    }
    if certs.is_empty() {
        return Err(
            "no certificate found in the CA PEM: expected a -----BEGIN CERTIFICATE----- block"
                .into(),
        );
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_of_an_authority() {
        assert_eq!(host_of("localhost:8086"), "localhost");
        assert_eq!(host_of("example.com"), "example.com");
        assert_eq!(host_of("[::1]:8086"), "[::1]");
        assert_eq!(host_of("[::1"), "[::1");
    }

    #[test]
    fn an_empty_platform_store_falls_back_to_the_webpki_roots() {
        assert!(matches!(roots_of(&[]), ureq::tls::RootCerts::WebPki));
        let der = rustls::pki_types::CertificateDer::from(vec![0x30, 0x00]);
        match roots_of(&[der]) {
            ureq::tls::RootCerts::Specific(certs) => assert_eq!(certs[0].der(), [0x30, 0x00]),
            _ => panic!("the platform's certificates are used"),
        }
    }

    #[test]
    fn a_pem_without_certificates_is_refused() {
        assert!(parse_ca(b"").unwrap_err().contains("no certificate found"));
        assert!(parse_ca(b"hello\n")
            .unwrap_err()
            .contains("no certificate found"));
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err = parse_ca(garbage).unwrap_err();
        assert!(err.starts_with("CA certificate 1 cannot be used"), "{err}");
    }
}
