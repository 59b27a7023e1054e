//! `linewire write` over HTTPS against the test kit's TLS mode: `--ca-cert`,
//! `SSL_CERT_FILE`, a certificate error that ends the run at once,
//! `--skip-verify`, `--header`.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use linewire_testkit::{FieldValue, TestServer};

const TOKEN: &str = "cli-tls-secret-9d0f";

const FILE: &str = "\
m,host=a v=1i 1700000000
m,host=b v=2i,s=\"x y\" 1700000001
m,host=c v=3.5 1700000002
";

/// A temporary file, removed when dropped.
struct Temp(PathBuf);

impl Temp {
    fn new(ext: &str, content: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "linewire-cli-tls-{}-{}.{ext}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, content).unwrap();
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `linewire write FILE` to `server`, without the environment's settings
/// (the trust store is the system's unless a test sets `SSL_CERT_FILE`).
fn linewire(server: &TestServer, file: &Temp, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_linewire"));
    isolated(&mut c);
    for v in [
        "INFLUX_URL",
        "INFLUX_TOKEN",
        "INFLUX_BUCKET",
        "INFLUX_ORG",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "RUST_LOG",
    ] {
        c.env_remove(v);
    }
    c.args([
        "write",
        file.path(),
        "--url",
        &server.url(),
        "--bucket",
        "farm",
        "--token",
        TOKEN,
        "--precision",
        "s",
    ]);
    c.args(extra);
    c
}

fn run(mut c: Command) -> (Output, String, String) {
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !stdout.contains(TOKEN) && !stderr.contains(TOKEN),
        "token leaked: {stdout}{stderr}"
    );
    (out, stdout, stderr)
}

fn assert_stored(server: &TestServer) {
    let requests = server.write_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].body_text(), FILE);
    let points = server.points("farm");
    assert_eq!(points.len(), 3);
    assert_eq!(points[1].tags["host"], "b");
    assert_eq!(points[1].fields["s"], FieldValue::Str("x y".into()));
    assert_eq!(points[2].fields["v"], FieldValue::F64(3.5));
    assert_eq!(points[2].timestamp_ns, 1_700_000_002_000_000_000);
}

#[test]
fn with_ca_cert_the_file_is_stored_exactly() {
    let server = TestServer::builder().https().start();
    let (file, ca) = (Temp::new("lp", FILE), Temp::new("pem", server.ca_pem()));
    let (out, stdout, stderr) = run(linewire(&server, &file, &["--ca-cert", ca.path()]));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.starts_with("3 lines: 3 written, 0 rejected, 0 not sent"),
        "{stdout}"
    );
    assert_eq!(stderr, "");
    assert_stored(&server);
}

#[test]
fn ssl_cert_file_is_trusted_without_ca_cert() {
    let server = TestServer::builder().https().start();
    let (file, ca) = (Temp::new("lp", FILE), Temp::new("pem", server.ca_pem()));
    let mut c = linewire(&server, &file, &[]);
    c.env("SSL_CERT_FILE", ca.path());
    let (out, stdout, stderr) = run(c);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_stored(&server);
}

#[test]
fn without_the_ca_the_run_ends_at_once_with_the_certificate_error() {
    let server = TestServer::builder().https().start();
    let file = Temp::new("lp", &FILE.repeat(4));
    let started = Instant::now();
    // The default retry policy: a retried error would take minutes.
    let (out, stdout, stderr) = run(linewire(&server, &file, &["--batch-lines", "3"]));
    if std::env::var_os("LINEWIRE_TEST_SHOW").is_some() {
        eprintln!("--- stdout\n{stdout}--- stderr\n{stderr}---");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let expected = "cannot verify the server's certificate for 127.0.0.1: UnknownIssuer \
                    (use --ca-cert FILE for a private CA, or SSL_CERT_FILE)";
    assert!(
        stderr.contains(&format!("linewire: lines 1-3: not sent: {expected}\n")),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "linewire: stopped after line 3, the rest was not read: \
             fix the TLS configuration and run again\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("retry"), "not retried: {stderr}");
    assert!(
        !stderr.contains("InvalidCertificate"),
        "no Debug text: {stderr}"
    );
    assert!(
        stdout.contains("0 written, 0 rejected, 3 not sent"),
        "{stdout}"
    );
    assert_eq!(server.request_count(), 0);
    assert_eq!(server.connection_count(), 1, "one connection, no retry");
}

#[test]
fn skip_verify_writes_and_warns_loudly() {
    let server = TestServer::builder().https().start();
    let file = Temp::new("lp", FILE);
    let (out, stdout, stderr) = run(linewire(&server, &file, &["--skip-verify"]));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stderr.starts_with(
            "linewire: WARNING: --skip-verify: the server's TLS certificate is NOT verified"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one warning, not two: {stderr}");
    assert_stored(&server);
}

#[test]
fn headers_arrive_with_every_request() {
    let server = TestServer::builder().https().start();
    let (file, ca) = (Temp::new("lp", FILE), Temp::new("pem", server.ca_pem()));
    let args = [
        "--ca-cert",
        ca.path(),
        "--header",
        "X-Api-Key: k1",
        "--header",
        "X-Tenant:t2",
        "--batch-lines",
        "1",
    ];
    let (out, stdout, stderr) = run(linewire(&server, &file, &args));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let requests = server.write_requests();
    assert_eq!(requests.len(), 3);
    for r in &requests {
        assert_eq!(r.header("x-api-key"), Some("k1"));
        assert_eq!(r.header("x-tenant"), Some("t2"));
        assert_eq!(r.header("authorization"), Some(&*format!("Token {TOKEN}")));
    }
}

#[test]
fn unusable_tls_options_are_configuration_errors() {
    let server = TestServer::builder().https().start();
    let file = Temp::new("lp", FILE);
    let not_pem = Temp::new("pem", "not a certificate\n");
    let cases: [(&[&str], String); 4] = [
        (
            &["--ca-cert", "/nonexistent/ca.pem"],
            "linewire: cannot read --ca-cert /nonexistent/ca.pem: \
             No such file or directory (os error 2)\n"
                .to_owned(),
        ),
        (
            &["--ca-cert", not_pem.path()],
            format!(
                "linewire: cannot use --ca-cert {}: no certificate found in the CA PEM: \
                 expected a -----BEGIN CERTIFICATE----- block\n",
                not_pem.path()
            ),
        ),
        (
            &["--header", "X-Bad"],
            "linewire: --header \"X-Bad\" is not \"Name: value\"\n".to_owned(),
        ),
        (
            &["--header", "Authorization: Bearer x"],
            "linewire: cannot use --header \"Authorization: Bearer x\": the header \
             Authorization is set by the client and cannot be replaced\n"
                .to_owned(),
        ),
    ];
    for (args, expected) in cases {
        let (out, stdout, stderr) = run(linewire(&server, &file, args));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}{stderr}");
        assert_eq!(stderr, expected, "{args:?}");
        assert_eq!(stdout, "");
    }
    assert_eq!(server.connection_count(), 0);
}

/// Runs the binary as on a machine with no influx settings: no `INFLUX_*`
/// variable and a `HOME` without `~/.influxdbv2/configs` (a developer's own
/// config would otherwise supply a token, org or server).
fn isolated(c: &mut Command) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("INFLUX_") {
            c.env_remove(k);
        }
    }
    let home = std::env::temp_dir().join(format!("linewire-cli-home-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&home);
    c.env("HOME", home).env_remove("USERPROFILE");
}
