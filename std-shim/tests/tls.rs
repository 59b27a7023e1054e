//! HTTPS against the test kit's TLS mode: a private CA given to the client,
//! certificate and handshake errors typed and never retried, skipping
//! verification, extra headers. (`SSL_CERT_FILE` is in `tls_env.rs`: the
//! platform's store is read once per process.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use linewire::{Precision, RetryPolicy};
use linewire_std::{
    BackgroundWriter, Client, Error, Failure, FailureReason, TlsError, TlsErrorKind,
};
use linewire_testkit::{Fault, FaultPlan, FieldValue, TestServer};

const LINES: &str = "env,room=loft temp=21.5,door=true,label=\"a b\" 1700000000\n\
                     env,room=barn temp=-3,count=7i 1700000001\n";

#[path = "support/capture.rs"]
mod capture;
use capture::{init_logs, logs};

fn https() -> TestServer {
    TestServer::builder().https().start()
}

fn trusting(server: &TestServer) -> Client {
    Client::new(&server.url(), Some("tok"))
        .unwrap()
        .ca_certificate(server.ca_pem().as_bytes())
        .unwrap()
        .bucket("farm")
        .precision(Precision::Seconds)
}

/// Waits until the server has accepted `n` connections, then a moment
/// more, so that a connection made too many would be seen.
fn settled_connections(server: &TestServer, n: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.connection_count() < n && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(300));
    server.connection_count()
}

#[test]
fn with_the_ca_given_a_write_over_https_is_stored_exactly() {
    let server = https();
    let client = trusting(&server);
    let written = client.write_line_protocol(LINES).unwrap();
    assert_eq!(written.status, 204);
    let requests = server.write_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body_text(), LINES);
    assert_eq!(requests[0].header("authorization"), Some("Token tok"));
    let points = server.points("farm");
    assert_eq!(points.len(), 2);
    assert_eq!(points[0].tags["room"], "loft");
    assert_eq!(points[0].fields["temp"], FieldValue::F64(21.5));
    assert_eq!(points[0].fields["door"], FieldValue::Bool(true));
    assert_eq!(points[0].fields["label"], FieldValue::Str("a b".into()));
    assert_eq!(points[1].fields["count"], FieldValue::I64(7));
    assert_eq!(points[1].timestamp_ns, 1_700_000_001_000_000_000);
    // Clones share the agent and its trust; connections are reused.
    client.clone().write_line_protocol("m v=1i 1\n").unwrap();
    assert_eq!(server.points("farm").len(), 3);
    assert_eq!(
        settled_connections(&server, 1),
        1,
        "one kept-alive TLS connection"
    );
}

#[test]
fn a_ca_file_is_read() {
    let server = https();
    let path = std::env::temp_dir().join(format!("linewire-ca-{}.pem", std::process::id()));
    std::fs::write(&path, server.ca_pem()).unwrap();
    let client = Client::new(&server.url(), None)
        .unwrap()
        .ca_certificate_file(&path)
        .unwrap()
        .bucket("farm");
    client.write_line_protocol("m v=1i 1\n").unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(server.points("farm").len(), 1);
}

#[test]
fn several_cas_in_one_pem_or_given_twice_are_all_trusted() {
    let (a, b) = (https(), https());
    let both = format!("{}\n{}", a.ca_pem(), b.ca_pem());
    for server in [&a, &b] {
        let one_pem = Client::new(&server.url(), None)
            .unwrap()
            .ca_certificate(both.as_bytes())
            .unwrap()
            .bucket("farm");
        one_pem.write_line_protocol("m v=1i 1\n").unwrap();
        let twice = Client::new(&server.url(), None)
            .unwrap()
            .ca_certificate(a.ca_pem().as_bytes())
            .unwrap()
            .ca_certificate(b.ca_pem().as_bytes())
            .unwrap()
            .bucket("farm");
        twice.write_line_protocol("m v=2i 2\n").unwrap();
        assert_eq!(server.points("farm").len(), 2);
    }
}

#[test]
fn a_ca_without_certificates_is_a_config_error() {
    let client = Client::new("https://127.0.0.1:1", None).unwrap();
    for pem in [
        &b""[..],
        b"not a pem",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    ] {
        match client.clone().ca_certificate(pem) {
            Err(Error::Config(m)) => assert!(
                m.contains("no certificate found in the CA PEM") || m.contains("not valid PEM"),
                "{m}"
            ),
            other => panic!("{other:?}"),
        }
    }
    let broken = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let err = client.clone().ca_certificate(broken).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("the configuration is unusable: CA certificate 1 cannot be used"),
        "{err}"
    );
    let err = client
        .ca_certificate_file("/nonexistent/ca.pem")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot read the CA file /nonexistent/ca.pem"),
        "{err}"
    );
}

fn expect_tls(result: Result<linewire_std::Written, Error>) -> TlsError {
    match result {
        Err(Error::Tls(e)) => e,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[test]
fn without_the_ca_the_write_fails_at_once_with_a_certificate_error() {
    let server = https();
    let client = Client::new(&server.url(), Some("tok"))
        .unwrap()
        .bucket("farm");
    let started = Instant::now();
    let result = client.write_line_protocol(LINES);
    let took = started.elapsed();
    let err = result.as_ref().unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(
        err.to_string(),
        "cannot verify the server's certificate for 127.0.0.1: UnknownIssuer \
         (for a private certificate authority, give its certificate with \
         Client::ca_certificate or SSL_CERT_FILE)"
    );
    let tls = expect_tls(result);
    assert_eq!(tls.kind, TlsErrorKind::Certificate);
    assert_eq!(tls.host, "127.0.0.1");
    assert_eq!(tls.cause, "UnknownIssuer");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(
        settled_connections(&server, 1),
        1,
        "one connection, no resend"
    );
    assert_eq!(server.request_count(), 0, "nothing got past the handshake");
    assert_eq!(server.total_points(), 0);
}

#[test]
fn another_servers_ca_does_not_verify_this_one() {
    let (server, other) = (https(), https());
    let client = Client::new(&server.url(), None)
        .unwrap()
        .ca_certificate(other.ca_pem().as_bytes())
        .unwrap()
        .bucket("farm");
    let tls = expect_tls(client.write_line_protocol("m v=1i 1\n"));
    assert_eq!(tls.cause, "UnknownIssuer");
    assert_eq!(server.request_count(), 0);
}

#[test]
fn https_to_a_plain_http_server_is_a_handshake_error_not_retried() {
    let server = TestServer::start();
    let url = server.url().replacen("http://", "https://", 1);
    let client = Client::new(&url, None).unwrap().bucket("farm");
    let result = client.write_line_protocol("m v=1i 1\n");
    assert!(!result.as_ref().unwrap_err().is_retryable());
    let tls = expect_tls(result);
    assert_eq!(tls.kind, TlsErrorKind::Handshake);
    assert!(
        tls.to_string()
            .starts_with("the TLS handshake with 127.0.0.1 failed: "),
        "{tls}"
    );
    assert_eq!(server.total_points(), 0);
}

#[test]
fn a_refused_connection_stays_a_retryable_transport_error() {
    let server = https();
    let url = server.url();
    drop(server);
    let client = Client::new(&url, None)
        .unwrap()
        .bucket("farm")
        .connect_timeout(Duration::from_secs(2));
    let err = client.write_line_protocol("m v=1i 1\n").unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[test]
fn skipping_verification_writes_without_the_ca() {
    init_logs();
    let server = https();
    let client = Client::new(&server.url(), None)
        .unwrap()
        .danger_accept_invalid_certs(true)
        .bucket("farm");
    let warned = |logs: &[String]| {
        logs.iter()
            .filter(|l| {
                l.starts_with("WARN TLS certificate verification is OFF for ")
                    && l.contains(&server.url())
            })
            .count()
    };
    assert_eq!(warned(&logs().lock().unwrap()), 1, "warned once");
    assert!(format!("{client:?}").contains("NOT VERIFIED"));
    client.write_line_protocol(LINES).unwrap();
    client.write_line_protocol(LINES).unwrap();
    assert_eq!(server.write_requests()[0].body_text(), LINES);
    assert_eq!(warned(&logs().lock().unwrap()), 1, "not on every write");
    // Turned off again, the platform's store is back: no longer verified.
    let strict = client.danger_accept_invalid_certs(false);
    let tls = expect_tls(strict.write_line_protocol(LINES));
    assert_eq!(tls.cause, "UnknownIssuer");
    // A CA given before or after skipping is used once verification is on again.
    let trusting = strict
        .danger_accept_invalid_certs(true)
        .ca_certificate(server.ca_pem().as_bytes())
        .unwrap()
        .danger_accept_invalid_certs(false);
    assert!(format!("{trusting:?}").contains("1 CA certificate(s)"));
    trusting.write_line_protocol("m v=9i 9\n").unwrap();
    assert_eq!(
        warned(&logs().lock().unwrap()),
        2,
        "once per time it is turned on"
    );
}

#[test]
fn faults_and_retries_work_the_same_over_tls() {
    let server = TestServer::builder()
        .https()
        .fault_plan(
            FaultPlan::new()
                .on_request(
                    1,
                    Fault::ServiceUnavailable {
                        retry_after_secs: None,
                    },
                )
                .on_request(2, Fault::CloseAfterBody),
        )
        .start();
    let client = trusting(&server);
    let err = client.write_line_protocol(LINES).unwrap_err();
    assert_eq!(err.server().map(|s| s.status), Some(503));
    assert!(err.is_retryable());
    // A connection closed before the answer is resent once, at once.
    client.write_line_protocol(LINES).unwrap();
    assert_eq!(server.points("farm").len(), 2);
    let err = client.write_line_protocol("m v=1i 1\nbad\n").unwrap_err();
    assert_eq!(
        err.server().map(|s| s.rejected_lines.clone()),
        Some(vec![2])
    );
}

#[test]
fn extra_headers_arrive_with_every_write() {
    let server = https();
    let client = trusting(&server)
        .header("X-Api-Key", "k1")
        .unwrap()
        .header("X-Tenant", "t 1\tv")
        .unwrap()
        // Set again: replaced, not repeated.
        .header("x-api-key", "k2")
        .unwrap()
        // A default header is replaced, not doubled.
        .header("User-Agent", "proxy-friendly/1")
        .unwrap()
        // Bytes past ASCII are allowed (obs-text), as `http` allows them.
        .header("X-Site", "café")
        .unwrap();
    client.write_line_protocol("m v=1i 1\n").unwrap();
    client.write_line_protocol("m v=2i 2\n").unwrap();
    let requests = server.write_requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        let named = |n: &str| {
            r.headers
                .iter()
                .filter(|(k, _)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(named("x-api-key"), ["k2"]);
        assert_eq!(named("x-tenant"), ["t 1\tv"]);
        assert_eq!(named("user-agent"), ["proxy-friendly/1"]);
        assert_eq!(named("x-site"), ["café"]);
        assert_eq!(named("authorization"), ["Token tok"]);
    }
    assert!(
        !format!("{client:?}").contains("k2"),
        "values are not shown"
    );
}

#[test]
fn bad_or_owned_headers_are_refused() {
    let client = Client::new("http://127.0.0.1:1", None).unwrap();
    let refused = |name: &str, value: &str| match client.clone().header(name, value) {
        Err(Error::Config(m)) => m,
        other => panic!("{name:?}: {value:?}: {other:?}"),
    };
    for value in [
        "a\r\nX-Injected: 1",
        "a\nb",
        "a\rb",
        "a\0b",
        "a\x1bb",
        "a\x7fb",
    ] {
        let m = refused("X-Ok", value);
        assert!(m.contains("line break or another control character"), "{m}");
    }
    for name in ["", "X Bad", "X:Bad", "X\r\nBad", "Ünï"] {
        let m = refused(name, "v");
        assert!(m.contains("is not a valid HTTP header name"), "{m}");
    }
    for name in [
        "Authorization",
        "content-type",
        "Content-Encoding",
        "CONTENT-LENGTH",
        "Transfer-Encoding",
        "Host",
        "Expect",
        "Connection",
    ] {
        let m = refused(name, "v");
        assert!(
            m.contains("is set by the client and cannot be replaced"),
            "{m}"
        );
    }
}

#[test]
fn the_background_writer_reports_a_certificate_error_without_retrying() {
    let server = https();
    let client = Client::new(&server.url(), None)
        .unwrap()
        .bucket("farm")
        .precision(Precision::Seconds);
    let seen: Arc<Mutex<Vec<Failure>>> = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let writer = BackgroundWriter::builder(client)
        .retry_policy(RetryPolicy::new().first_interval_ms(2000))
        .on_failure(move |f| sink.lock().unwrap().push(f.clone()))
        .start();
    let started = Instant::now();
    writer.push_lines(LINES).unwrap();
    writer.flush();
    let took = started.elapsed();
    let stats = writer.close();
    assert!(took < Duration::from_secs(2), "no retry wait: {took:?}");
    assert_eq!(stats.requests, 1);
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.gave_up, 0);
    assert_eq!(stats.misconfigured, 2);
    assert_eq!(stats.sent, 0);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].lines.len(), 2);
    match &seen[0].reason {
        FailureReason::Tls(t) => {
            assert_eq!(t.cause, "UnknownIssuer");
            assert!(seen[0]
                .reason
                .to_string()
                .starts_with("not sent: cannot verify the server's certificate for 127.0.0.1"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(settled_connections(&server, 1), 1);
}

#[test]
fn an_early_413_is_heard_over_tls() {
    let server = TestServer::builder().https().max_body(1000).start();
    let client = trusting(&server)
        .gzip(false)
        .expect_continue_above(Some(100));
    let big: String = (0..100)
        .map(|i| format!("m,n=n{i} v={i}i 1700000000\n"))
        .collect();
    let err = client.write_line_protocol(&big).unwrap_err();
    let server_error = err.server().expect("the server answered");
    assert_eq!(server_error.status, 413);
    assert_eq!(server_error.max_length, Some(1000));
    assert_eq!(server.total_points(), 0);
    // The connection is usable after the refusal.
    client.write_line_protocol("m v=1i 1\n").unwrap();
    assert_eq!(server.points("farm").len(), 1);
}
