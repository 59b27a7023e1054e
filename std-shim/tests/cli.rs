//! The `linewire` binary as a subprocess against the test kit.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use linewire_testkit::{Fault, FaultPlan, FieldValue, TestServer};

const TOKEN: &str = "cli-secret-42aa";

/// Good and bad lines; bad ones on lines 4 and 7 (1-based, comments and
/// blank lines counted).
const FILE: &str = "\
# a comment
m,host=a v=1i 1700000000

m,host=b v=oops 1700000000
m,host=c v=3i 1700000000
m,host=d v=4i,s=\"x y\" 1700000000
bad
m,host=e v=5i 1700000000
";

fn linewire() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_linewire"));
    for v in ["INFLUX_URL", "INFLUX_TOKEN", "INFLUX_BUCKET", "INFLUX_ORG"] {
        c.env_remove(v);
    }
    c
}

fn file(content: &str) -> tempfile_lite::TempFile {
    tempfile_lite::TempFile::new(content.as_bytes())
}

/// A tiny temporary file helper (no extra dependency).
mod tempfile_lite {
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct TempFile(pub PathBuf);
    impl TempFile {
        pub fn new(bytes: &[u8]) -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "linewire-cli-{}-{}.lp",
                std::process::id(),
                N.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::write(&path, bytes).unwrap();
            Self(path)
        }
        pub fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn text(out: &Output) -> (String, String) {
    let o = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        !o.0.contains(TOKEN) && !o.1.contains(TOKEN),
        "token leaked: {o:?}"
    );
    o
}

fn write_args(server: &TestServer, path: &str) -> Vec<String> {
    [
        "write",
        path,
        "--url",
        &server.url(),
        "--bucket",
        "farm",
        "--precision",
        "s",
        "--token",
        TOKEN,
        "--retry-interval-ms",
        "20",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn good_lines_are_written_and_bad_ones_reported_by_line_number() {
    let server = TestServer::builder().token(TOKEN).start();
    let f = file(FILE);
    let out = linewire()
        .args(write_args(&server, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("line 4: rejected:"), "{stderr}");
    assert!(stderr.contains("line 7: rejected:"), "{stderr}");
    assert_eq!(stderr.matches("rejected:").count(), 2, "{stderr}");
    assert!(
        stdout.contains("6 lines: 4 written, 2 rejected, 0 failed"),
        "{stdout}"
    );
    let mut hosts: Vec<String> = server
        .points("farm")
        .iter()
        .map(|p| p.tags["host"].clone())
        .collect();
    hosts.sort();
    assert_eq!(hosts, ["a", "c", "d", "e"]);
    let d = server
        .points("farm")
        .into_iter()
        .find(|p| p.tags["host"] == "d")
        .unwrap();
    assert_eq!(d.fields["s"], FieldValue::Str("x y".into()));
    assert_eq!(d.timestamp_ns, 1_700_000_000_000_000_000);
    let req = &server.write_requests()[0];
    assert_eq!(
        req.header("content-encoding"),
        Some("gzip"),
        "gzip by default"
    );
}

#[test]
fn a_clean_file_exits_zero_in_batches_without_gzip() {
    let server = TestServer::start();
    let body: String = (0..2500)
        .map(|i| format!("m,n=n{i} v={i}i {}\n", 1_700_000_000 + i))
        .collect();
    let f = file(&body);
    let mut args = write_args(&server, f.path());
    args.extend(["--batch-lines", "1000", "--no-gzip"].map(String::from));
    let out = linewire().args(args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("2500 lines: 2500 written, 0 rejected, 0 failed"),
        "{stdout}"
    );
    assert_eq!(server.points("farm").len(), 2500);
    let sizes: Vec<usize> = server
        .write_requests()
        .iter()
        .map(|r| r.body_text().lines().count())
        .collect();
    assert_eq!(sizes, [1000, 1000, 500]);
    assert!(server
        .write_requests()
        .iter()
        .all(|r| r.header("content-encoding").is_none()));
}

#[test]
fn standard_input_and_the_token_from_the_environment() {
    let server = TestServer::builder().token(TOKEN).start();
    let mut child = linewire()
        .args([
            "write",
            "-",
            "--url",
            &server.url(),
            "--bucket",
            "farm",
            "--org",
            "home",
        ])
        .env("INFLUX_TOKEN", TOKEN)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"m v=1 1700000000000000000\nm v=2 1700000001000000000\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(server.points("farm").len(), 2);
    assert_eq!(
        server.write_requests()[0].query_param("org").as_deref(),
        Some("home")
    );
}

#[test]
fn retries_then_succeeds_and_splits_on_413() {
    let server = TestServer::builder()
        .max_body(200)
        .fault_plan(FaultPlan::new().on_request(
            1,
            Fault::ServiceUnavailable {
                retry_after_secs: None,
            },
        ))
        .start();
    let body: String = (0..20)
        .map(|i| format!("m,n=n{i} v={i}i {}\n", 1_700_000_000 + i))
        .collect();
    let f = file(&body);
    let mut args = write_args(&server, f.path());
    args.push("--no-gzip".into());
    let out = linewire().args(args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(server.points("farm").len(), 20);
    assert!(
        server.write_requests().len() > 3,
        "503, 413, then the halves"
    );
}

#[test]
fn a_wrong_token_stops_with_exit_1_and_says_why() {
    let server = TestServer::builder().token("the-right-one").start();
    let body: String = (0..30)
        .map(|i| format!("m v={i}i {}\n", 1_700_000_000 + i))
        .collect();
    let f = file(&body);
    let mut args = write_args(&server, f.path());
    args.extend(["--batch-lines", "10"].map(String::from));
    let out = linewire().args(args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(stderr.contains("stopping"), "{stderr}");
    assert_eq!(
        server.write_requests().len(),
        1,
        "no further batches after a 401"
    );
    assert!(stdout.contains("stopped early"), "{stdout}");
}

#[test]
fn an_unreachable_server_gives_up_with_exit_1() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let f = file("m v=1 1\n");
    let out = linewire()
        .args([
            "write",
            f.path(),
            "--url",
            &format!("http://127.0.0.1:{port}"),
            "--bucket",
            "b",
            "--token",
            TOKEN,
            "--retry-interval-ms",
            "10",
            "--max-retries",
            "2",
        ])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("gave up"), "{stderr}");
}

#[test]
fn dry_run_validates_locally() {
    let f = file(FILE);
    let out = linewire()
        .args(["write", f.path(), "--dry-run"])
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("line 4: invalid"), "{stderr}");
    assert!(stderr.contains("line 7: invalid"), "{stderr}");
    assert!(
        stdout.contains("6 lines checked: 4 valid, 2 invalid"),
        "{stdout}"
    );
    let good = file("m v=1 1\n");
    let out = linewire()
        .args(["write", good.path(), "--dry-run"])
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn usage_errors_exit_2() {
    let out = linewire().args(["write", "x.lp"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "--url and --bucket are required"
    );
    let out = linewire()
        .args([
            "write",
            "/nonexistent/file.lp",
            "--url",
            "http://127.0.0.1:1",
            "--bucket",
            "b",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    let out = linewire()
        .args([
            "write", "-", "--url", "nope", "--bucket", "b", "--token", TOKEN,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
}
