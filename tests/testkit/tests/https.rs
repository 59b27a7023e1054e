//! The HTTPS mode: a generated CA and server certificate (ECDSA P-256, for
//! `localhost` and `127.0.0.1`), TLS 1.3 and 1.2, and everything else
//! (writes, faults, outages) the same as over plain HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use linewire_testkit::{DownMode, Fault, FaultPlan, FieldValue, TestServer};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{
    ClientConfig, ClientConnection, RootCertStore, StreamOwned, SupportedProtocolVersion,
};

fn roots(server: &TestServer) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(server.ca_pem().as_bytes()) {
        let cert: CertificateDer<'static> = cert.unwrap();
        roots.add(cert).unwrap();
    }
    assert_eq!(roots.len(), 1);
    roots
}

/// A client that only does what a small embedded TLS stack does: the
/// given versions, the P-256 key exchange, ECDSA P-256 signatures.
fn p256_only(server: &TestServer, versions: &[&'static SupportedProtocolVersion]) -> ClientConfig {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.kx_groups = vec![rustls::crypto::ring::kx_group::SECP256R1];
    let mut algs = provider.signature_verification_algorithms;
    algs.mapping = algs
        .mapping
        .iter()
        .filter(|(scheme, _)| *scheme == rustls::SignatureScheme::ECDSA_NISTP256_SHA256)
        .copied()
        .collect::<Vec<_>>()
        .leak();
    provider.signature_verification_algorithms = algs;
    ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots(server))
        .with_no_client_auth()
}

/// Sends `request` (which asks to close) over TLS to `name`, returns the
/// answer and the negotiated version.
fn exchange(
    server: &TestServer,
    config: ClientConfig,
    name: &'static str,
    request: &str,
) -> (String, rustls::ProtocolVersion) {
    let conn =
        ClientConnection::new(Arc::new(config), ServerName::try_from(name).unwrap()).unwrap();
    let tcp = TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    tls.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    // The server closes after answering; a missing close_notify is fine here.
    let _ = tls.read_to_end(&mut answer);
    let version = tls.conn.protocol_version().unwrap();
    (String::from_utf8_lossy(&answer).into_owned(), version)
}

fn write_request(body: &str) -> String {
    format!(
        "POST /api/v2/write?bucket=farm&precision=s HTTP/1.1\r\nHost: localhost\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_p256_only_client_writes_with_tls_13_and_12_by_both_names() {
    let server = TestServer::builder().https().start();
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let cases = [
        (
            &rustls::version::TLS13,
            rustls::ProtocolVersion::TLSv1_3,
            "localhost",
        ),
        (
            &rustls::version::TLS12,
            rustls::ProtocolVersion::TLSv1_2,
            "127.0.0.1",
        ),
    ];
    for (i, (version, expected, name)) in cases.into_iter().enumerate() {
        let body = format!("m,n={i} v={i}i 1700000000\n");
        let config = p256_only(&server, &[version]);
        let (answer, negotiated) = exchange(&server, config, name, &write_request(&body));
        assert!(answer.starts_with("HTTP/1.1 204 "), "{answer}");
        assert_eq!(negotiated, expected);
    }
    let points = server.points("farm");
    assert_eq!(points.len(), 2);
    assert_eq!(points[1].fields["v"], FieldValue::I64(1));
    assert_eq!(server.connection_count(), 2);
}

#[test]
fn ureq_trusting_the_ca_writes_pings_and_sees_faults() {
    let server = TestServer::builder()
        .https()
        .token("secret")
        .fault_plan(FaultPlan::new().on_request(
            1,
            Fault::ServiceUnavailable {
                retry_after_secs: Some(1),
            },
        ))
        .start();
    let ca = ureq::tls::Certificate::from_pem(server.ca_pem().as_bytes()).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[ca]))
                .build(),
        )
        .build()
        .into();
    let url = format!("{}/api/v2/write?bucket=farm&precision=s", server.url());
    let send = || {
        agent
            .post(&url)
            .header("Authorization", "Token secret")
            .send("barn temp=21.5 1700000000\n")
            .unwrap()
    };
    let first = send();
    assert_eq!(first.status(), 503);
    assert_eq!(first.headers()["retry-after"], "1");
    assert_eq!(send().status(), 204);
    assert_eq!(
        server.points("farm")[0].fields["temp"],
        FieldValue::F64(21.5)
    );
    assert_eq!(server.faults().len(), 1);
    let ping = agent.get(format!("{}/ping", server.url())).call().unwrap();
    assert_eq!(ping.status(), 204);
    // An unknown token is refused over TLS as over HTTP.
    let refused = agent
        .post(&url)
        .header("Authorization", "Token wrong")
        .send("barn temp=1 1700000001\n")
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[test]
fn a_client_without_the_ca_is_refused_in_the_handshake() {
    let server = TestServer::builder().https().start();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let err = agent
        .post(format!("{}/api/v2/write?bucket=farm", server.url()))
        .send("m v=1 1\n")
        .unwrap_err();
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
    assert_eq!(server.request_count(), 0);
    // Each server has its own CA.
    let other = TestServer::builder().https().start();
    assert_ne!(server.ca_pem(), other.ca_pem());
}

#[test]
fn outages_work_over_tls() {
    let server = TestServer::builder().https().start();
    let config = || p256_only(&server, &[&rustls::version::TLS13]);
    server.set_down(DownMode::Refuse);
    assert!(TcpStream::connect_timeout(&server.addr(), Duration::from_millis(500)).is_err());
    server.set_up().unwrap();
    let (answer, _) = exchange(&server, config(), "localhost", &write_request("m v=1i 1\n"));
    assert!(answer.starts_with("HTTP/1.1 204 "), "{answer}");
    assert_eq!(server.points("farm").len(), 1);
}

#[test]
fn a_plain_server_is_unchanged() {
    let server = TestServer::start();
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.ca_pem().to_owned()));
    assert!(caught.is_err(), "no CA without https()");
}

#[test]
fn the_certificate_is_only_for_localhost_and_127_0_0_1() {
    let server = TestServer::builder().https().start();
    let conn = ClientConnection::new(
        Arc::new(p256_only(&server, &[&rustls::version::TLS13])),
        ServerName::try_from("example.com").unwrap(),
    )
    .unwrap();
    let tcp = TcpStream::connect(server.addr()).unwrap();
    let mut tls = StreamOwned::new(conn, tcp);
    let err = tls
        .write_all(write_request("m v=1i 1\n").as_bytes())
        .and_then(|()| tls.flush());
    let err = err.expect_err("the name does not match");
    let rustls_err = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>());
    assert!(
        matches!(
            rustls_err,
            Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "{err}"
    );
    assert_eq!(server.request_count(), 0);
}
