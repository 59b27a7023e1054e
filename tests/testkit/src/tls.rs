//! HTTPS for the test server: a certificate authority and a server
//! certificate for `localhost` and `127.0.0.1`, generated at start (ECDSA
//! P-256, which every TLS 1.3 client supports, embedded ones included),
//! and the connection stream that is either plain TCP or rustls over it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection, StreamOwned};

/// The server's TLS setup: its rustls configuration and the CA that
/// signed its certificate.
#[derive(Clone)]
pub(crate) struct Tls {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) ca_pem: String,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

fn rcgen_error(e: rcgen::Error) -> io::Error {
    io::Error::other(format!("cannot generate the test certificates: {e}"))
}

impl Tls {
    /// A fresh CA and a server certificate it signed, for `localhost` and
    /// `127.0.0.1`; TLS 1.3 and 1.2 with rustls's ring provider.
    pub(crate) fn generate() -> io::Result<Self> {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
        };
        let ca_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rcgen_error)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        // A name of its own: a client trusting another server's CA must find no issuer by
        // this name (UnknownIssuer), not one whose signature does not match (BadSignature).
        static SERIAL: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "linewire-testkit CA {}-{}",
            std::process::id(),
            SERIAL.fetch_add(1, Ordering::Relaxed)
        );
        ca.distinguished_name.push(DnType::CommonName, name);
        ca.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca.self_signed(&ca_key).map_err(rcgen_error)?;

        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(rcgen_error)?;
        let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .map_err(rcgen_error)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "linewire-testkit server");
        leaf.is_ca = IsCa::NoCa;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = leaf
            .signed_by(&key, &ca_cert, &ca_key)
            .map_err(rcgen_error)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = vec![cert.der().clone(), ca_cert.der().clone()];
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(chain, key_der)
            .map_err(io::Error::other)?;
        Ok(Tls {
            config: Arc::new(config),
            ca_pem: ca_cert.pem(),
        })
    }

    /// A server session on `tcp`; the handshake happens on first use.
    pub(crate) fn accept(&self, tcp: TcpStream) -> io::Result<Stream> {
        let conn = ServerConnection::new(Arc::clone(&self.config)).map_err(io::Error::other)?;
        Ok(Stream::Tls(Box::new(StreamOwned::new(conn, tcp))))
    }
}

/// A connection: plain TCP or TLS over it.
pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Shuts the TCP connection down. Closing our side for writing over TLS
    /// first says so with a `close_notify`; `Both` (a reset) does not.
    pub(crate) fn shutdown(&mut self, how: Shutdown) -> io::Result<()> {
        if let (Stream::Tls(s), Shutdown::Write) = (&mut *self, how) {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        self.tcp().shutdown(how)
    }

    pub(crate) fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(d)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
