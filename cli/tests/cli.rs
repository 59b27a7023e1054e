//! The `linewire` binary as a subprocess against the test kit.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use linewire_testkit::{Fault, FaultPlan, FieldValue, Mode, TestServer};

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
    isolated(&mut c);
    c
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
            Self::named(bytes, ".lp")
        }
        /// A file whose name ends with `suffix`.
        pub fn named(bytes: &[u8], suffix: &str) -> Self {
            static N: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "linewire-cli-{}-{}{suffix}",
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
    if std::env::var_os("LINEWIRE_TEST_SHOW").is_some() {
        eprintln!("--- stdout\n{}--- stderr\n{}---", o.0, o.1);
    }
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
        stdout.contains("6 lines: 4 written, 2 rejected, 0 not sent"),
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
        stdout.contains("2500 lines: 2500 written, 0 rejected, 0 not sent"),
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
    assert!(stderr.contains("lines 1-10: not sent:"), "{stderr}");
    assert!(stderr.contains("fix the configuration"), "{stderr}");
    assert_eq!(
        server.write_requests().len(),
        1,
        "no further batches after a 401"
    );
    assert!(
        stdout.contains("10 lines: 0 written, 0 rejected, 10 not sent; stopped early"),
        "{stdout}"
    );
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
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("line 1: not sent: the server is unreachable"),
        "{stderr}"
    );
    assert!(stderr.contains("gave up after 3 tries over"), "{stderr}");
    assert!(!stderr.contains("fix the configuration"), "{stderr}");
    assert!(
        stderr.matches("warning:").count() >= 2,
        "each retry logged: {stderr}"
    );
    assert!(
        stdout.contains("1 line: 0 written, 0 rejected, 1 not sent"),
        "{stdout}"
    );
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

/// A minimal HTTP/1.1 server for answers the test kit does not script.
#[path = "../../std-shim/tests/support/raw.rs"]
mod raw;

fn lines(n: usize) -> String {
    (0..n)
        .map(|i| format!("m,n=n{i} v={i}i {}\n", 1_700_000_000 + i))
        .collect()
}

fn raw_args(url: &str, path: &str) -> Vec<String> {
    [
        "write",
        path,
        "--url",
        url,
        "--bucket",
        "farm",
        "--precision",
        "s",
        "--token",
        TOKEN,
        "--retry-interval-ms",
        "20",
        "--no-gzip",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// No byte a terminal would act on: C0 controls other than `\n`, DEL, and
/// C1 controls (raw or UTF-8 encoded).
fn assert_terminal_safe(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for (i, &b) in bytes.iter().enumerate() {
        assert!(
            (b >= 0x20 || b == b'\n') && b != 0x7f,
            "byte {b:#04x} at {i}: {text}"
        );
    }
    assert!(
        !text.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)),
        "C1 control: {text}"
    );
    assert!(!text.contains('\u{202e}'), "direction override: {text}");
}

#[test]
fn one_rejection_for_5000_lines_is_printed_once_with_its_line_range() {
    // One 400 with a 60 KiB message for the whole batch.
    let message = format!("HUGE-MESSAGE {}", "x".repeat(60 * 1024));
    let body = format!(r#"{{"code":"invalid","message":"{message}"}}"#);
    let server = raw::start(move |_, _| {
        raw::Reply::Send(raw::response(
            "400 Bad Request",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        ))
    });
    let f = file(&lines(5000));
    let out = linewire()
        .args(raw_args(&server.url, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        out.stderr.len() < 4096,
        "{} bytes of stderr: {stderr}",
        out.stderr.len()
    );
    assert_eq!(stderr.matches("HUGE-MESSAGE").count(), 1, "{stderr}");
    assert!(
        stderr.contains("lines 1-5000: rejected: HTTP 400 (invalid): HUGE-MESSAGE xxx"),
        "{stderr}"
    );
    assert!(
        stdout.contains("5000 lines: 0 written, 5000 rejected, 0 not sent"),
        "{stdout}"
    );
    assert_eq!(server.requests().len(), 1, "a rejected batch is not resent");
}

/// `n` lines, where line `i` (0-based) with `i % every == 1` is bad.
fn bad_every(n: u32, every: u32) -> String {
    (0..n)
        .map(|i| {
            if i % every == 1 {
                format!("m,n=n{i} v=bad\n")
            } else {
                format!("m,n=n{i} v={i}i {}\n", 1_700_000_000 + i)
            }
        })
        .collect()
}

#[test]
fn thousands_of_bad_lines_over_batches_make_a_short_report() {
    // The test kit lists every bad line (Cloud Serverless, up to 100 per
    // answer): 1,000 bad lines in 13 batches, the good ones stored.
    let server = TestServer::builder().token(TOKEN).start();
    let body = bad_every(5000, 5);
    let f = file(&body);
    let mut args = write_args(&server, f.path());
    args.extend(["--batch-lines", "400"].map(String::from));
    let out = linewire().args(args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        out.stderr.len() < 4096,
        "{} bytes of stderr: {stderr}",
        out.stderr.len()
    );
    assert!(stderr.contains("lines 2, 7, 12,"), "{stderr}");
    assert!(stderr.contains("more"), "{stderr}");
    assert!(
        stdout.contains("5000 lines: 4000 written, 1000 rejected, 0 not sent"),
        "{stdout}"
    );
    assert!(!stderr.contains("may have been rejected"), "{stderr}");
    assert_eq!(server.points("farm").len(), 4000);
}

#[test]
fn a_server_listing_only_100_bad_lines_does_not_make_the_count_lie() {
    // 300 lines in one request refused by the server (Cloud Serverless),
    // which names the first 100. (Valid lines: the CLI keeps the ones it
    // finds bad out of the request; this server disagrees about them.)
    let listed: Vec<String> = (1..=100)
        .map(|i| {
            format!(
                "error parsing line {} (1-based): invalid field format",
                2 * i
            )
        })
        .collect();
    let message = format!(
        "failed to parse line protocol: errors encountered on line(s):\n{}",
        listed.join("\n")
    );
    let answer = serde_json::json!({"code": "invalid", "line": 2, "message": message}).to_string();
    let server = raw::start(move |_, _| {
        raw::Reply::Send(raw::response(
            "400 Bad Request",
            &[("Content-Type", "application/json")],
            answer.as_bytes(),
        ))
    });
    let f = file(&lines(600));
    let out = linewire()
        .args(raw_args(&server.url, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("up to 500 of the lines counted written may have been rejected"),
        "{stderr}"
    );
    assert!(out.stderr.len() < 4096, "{stderr}");
    assert!(
        stdout.contains("600 lines: up to 500 written, 100 or more rejected, 0 not sent"),
        "{stdout}"
    );
}

#[test]
fn a_server_echoing_the_token_never_gets_it_printed() {
    let echo = format!("request had Authorization: Token {TOKEN}");
    let body = format!(r#"{{"code":"invalid","message":"{echo}"}}"#);
    let server = raw::start(move |n, _| {
        if n == 1 {
            // Retried: the log line quotes it.
            raw::Reply::Send(raw::response(
                "503 Service Unavailable",
                &[("X-Influxdb-Error", &echo)],
                echo.as_bytes(),
            ))
        } else {
            raw::Reply::Send(raw::response(
                "400 Bad Request",
                &[("X-Influxdb-Error", &echo)],
                body.as_bytes(),
            ))
        }
    });
    let f = file(&lines(3));
    let out = linewire()
        .args(raw_args(&server.url, f.path()))
        .output()
        .unwrap();
    // `text` asserts the token is in neither stream.
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("Token [redacted]"), "{stderr}");
    assert!(stderr.contains("warning:"), "the retry is logged: {stderr}");
}

#[test]
fn control_characters_from_the_server_never_reach_the_terminal() {
    // Raw ESC, BEL, DEL, CR, C1 CSI (UTF-8 and a lone byte) and a direction
    // override in a 503 (logged) and an X-Influxdb-Error header; JSON
    // `\u001b` escapes in the 400's message.
    let raw_evil: &[u8] =
        b"evil \x1b[2J\x1b]0;title\x07 \x7f \r\n\xc2\x9b31m \x9b31m \xe2\x80\xae end";
    let json = br#"{"code":"invalid","message":"json \u001b[31mred\u001b[0m \u009b2J \u0007 \u202e x\r\ny"}"#;
    let server = raw::start(move |n, _| {
        if n == 1 {
            // (ureq refuses a header with C0 controls: only C1 bytes there.)
            let mut r =
                b"HTTP/1.1 503 Service Unavailable\r\nX-Influxdb-Error: hdr \xc2\x9b \x9b\r\n"
                    .to_vec();
            r.extend_from_slice(format!("Content-Length: {}\r\n\r\n", raw_evil.len()).as_bytes());
            r.extend_from_slice(raw_evil);
            raw::Reply::Send(r)
        } else {
            raw::Reply::Send(raw::response("400 Bad Request", &[], json))
        }
    });
    let f = file(&lines(3));
    let out = linewire()
        .args(raw_args(&server.url, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("json \u{fffd}[31mred"), "{stderr}");
    assert!(stderr.contains("evil \u{fffd}[2J"), "{stderr}");
    assert_terminal_safe(&out.stdout);
    assert_terminal_safe(&out.stderr);
}

#[test]
fn service_unavailable_a_few_times_then_ok_retries_visibly() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_requests(
            1..=3,
            Fault::ServiceUnavailable {
                retry_after_secs: None,
            },
        ))
        .start();
    let f = file(&lines(10));
    let out = linewire()
        .args(write_args(&server, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stderr.matches("warning:").count() >= 3,
        "each retry logged: {stderr}"
    );
    assert!(stderr.contains("retry 3"), "{stderr}");
    assert!(stderr.contains("503"), "{stderr}");
    assert!(
        stdout.contains("10 lines: 10 written, 0 rejected, 0 not sent"),
        "{stdout}"
    );
    assert_eq!(server.points("farm").len(), 10);
}

#[test]
fn service_unavailable_for_good_says_so_and_not_to_fix_the_configuration() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().always(Fault::ServiceUnavailable {
            retry_after_secs: None,
        }))
        .start();
    let f = file(&lines(4));
    let mut args = write_args(&server, f.path());
    args.extend(["--max-retries", "2"].map(String::from));
    let out = linewire().args(args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("lines 1-4: not sent: the server is unavailable"),
        "{stderr}"
    );
    assert!(!stderr.contains("fix the configuration"), "{stderr}");
    assert!(
        stdout.contains("4 lines: 0 written, 0 rejected, 4 not sent"),
        "{stdout}"
    );
    assert_eq!(server.write_requests().len(), 3);
}

#[test]
fn the_retry_after_cap_is_honoured() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(
            1,
            Fault::TooManyRequests {
                retry_after_secs: 3600,
            },
        ))
        .start();
    let f = file(&lines(5));
    let mut args = write_args(&server, f.path());
    args.extend(["--max-retry-wait", "1"].map(String::from));
    let started = std::time::Instant::now();
    let out = linewire().args(args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert!(stderr.contains("waiting 1000 ms"), "{stderr}");
    assert_eq!(server.points("farm").len(), 5);
}

#[test]
fn a_redirect_to_a_200_page_is_not_followed_and_nothing_is_counted_written() {
    for status in [301, 302, 303, 307, 308] {
        let server = TestServer::builder()
            .token(TOKEN)
            .fault_plan(FaultPlan::new().always(Fault::Redirect { status }))
            .start();
        let f = file(&lines(30));
        let mut args = write_args(&server, f.path());
        args.extend(["--batch-lines", "10"].map(String::from));
        let out = linewire().args(args).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{status}: {stdout}{stderr}");
        assert!(
            stdout.contains("10 lines: 0 written, 0 rejected, 10 not sent; stopped early"),
            "{status}: {stdout}"
        );
        assert!(!stdout.contains("10 written"), "{stdout}");
        assert!(
            stderr.contains(&format!("(HTTP {status}) to http://")),
            "{status}: {stderr}"
        );
        assert!(
            stderr.contains("/portal/login?next=%2Fapi%2Fv2%2Fwrite"),
            "{status}: {stderr}"
        );
        assert!(stderr.contains("never followed"), "{status}: {stderr}");
        assert!(
            stderr.contains("fix the configuration"),
            "{status}: {stderr}"
        );
        assert!(server.points("farm").is_empty());
        assert!(
            server
                .requests()
                .iter()
                .all(|r| r.method == "POST" && r.path.starts_with("/api/v2/write")),
            "{status}: the redirect was followed"
        );
        assert_eq!(server.write_requests().len(), 1, "{status}: stopped");
    }
}

#[test]
fn a_large_file_is_split_after_an_early_413_and_close_and_stored() {
    // Go's early 413: the answer right after the head, then close, the
    // body drained (the 413 arrives) or not (the client may see a reset).
    for drain in [true, false] {
        let server = TestServer::builder()
            .fault_plan(FaultPlan::new().always(Fault::TooLargeBeforeBody {
                over: 16 * 1024,
                drain,
            }))
            .start();
        let f = file(&lines(20_000));
        let out = linewire()
            .args(write_args(&server, f.path()))
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "drain {drain}: {stdout}{stderr}");
        assert!(
            stdout.contains("20000 lines: 20000 written, 0 rejected, 0 not sent"),
            "drain {drain}: {stdout}"
        );
        assert_eq!(server.points("farm").len(), 20_000, "drain {drain}");
        assert!(stderr.contains("413"), "the split is logged: {stderr}");
    }
}

#[test]
fn a_large_file_is_split_after_a_proxys_413_and_close_and_stored() {
    // A proxy answering 413 to a large Content-Length without reading the
    // body (raw server: uncompressed bodies).
    let server = raw::start_with(
        |length| {
            (length > 64 * 1024).then(|| {
                raw::response(
                    "413 Payload Too Large",
                    &[("Connection", "close")],
                    b"<html>413 Request Entity Too Large</html>",
                )
            })
        },
        |_, _| raw::Reply::Send(raw::response("204 No Content", &[], b"")),
    );
    let f = file(&lines(20_000));
    let out = linewire()
        .args(raw_args(&server.url, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("20000 lines: 20000 written, 0 rejected, 0 not sent"),
        "{stdout}"
    );
    let stored: usize = server
        .requests()
        .iter()
        .map(|r| r.body.iter().filter(|&&b| b == b'\n').count())
        .sum();
    assert_eq!(stored, 20_000);
}

#[test]
fn a_token_echoed_by_the_test_kit_is_never_printed() {
    // In a 401 (wrong token) and in a 400 (the right one: the CLI keeps
    // its bad lines out of the request, so the 400 is scripted).
    for token in ["the-right-one", TOKEN] {
        let mut plan = FaultPlan::new().always(Fault::EchoAuthorization);
        if token == TOKEN {
            plan = plan.always(Fault::ControlCharacters { json_escaped: true });
        }
        let server = TestServer::builder().token(token).fault_plan(plan).start();
        let f = file(FILE);
        let out = linewire()
            .args(write_args(&server, f.path()))
            .output()
            .unwrap();
        // `text` asserts the token is in neither stream.
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(stderr.contains("[redacted]"), "{stderr}");
    }
}

#[test]
fn control_characters_from_the_test_kit_never_reach_the_terminal() {
    for json_escaped in [true, false] {
        let server = TestServer::builder()
            .fault_plan(FaultPlan::new().always(Fault::ControlCharacters { json_escaped }))
            .start();
        let f = file(&lines(3));
        let out = linewire()
            .args(write_args(&server, f.path()))
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stderr.contains("lines 1-3: rejected: HTTP 400"),
            "{json_escaped}: {stderr}"
        );
        assert!(stderr.contains("\u{fffd}[2J"), "{json_escaped}: {stderr}");
        assert_terminal_safe(&out.stdout);
        assert_terminal_safe(&out.stderr);
    }
}

#[test]
fn verbose_logs_show_more_and_stay_safe() {
    // -vv: the client's debug lines, as they happen; the echoed token and
    // control characters still never printed.
    let server = TestServer::builder()
        .token(TOKEN)
        .fault_plan(
            FaultPlan::new()
                .always(Fault::EchoAuthorization)
                .on_request(
                    1,
                    Fault::ControlCharacters {
                        json_escaped: false,
                    },
                )
                // A 400 for the second run too, echoing the token (the
                // CLI keeps the file's bad lines out of its requests).
                .on_request(2, Fault::ControlCharacters { json_escaped: true }),
        )
        .start();
    let f = file(FILE);
    let quiet = linewire()
        .args(write_args(&server, f.path()))
        .output()
        .unwrap();
    let (_, quiet_err) = text(&quiet);
    let f = file(FILE);
    let mut args = write_args(&server, f.path());
    args.push("-vv".into());
    let out = linewire().args(args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("debug linewire_std::client: "), "{stderr}");
    assert!(!quiet_err.contains("debug "), "{quiet_err}");
    assert!(
        stderr.lines().count() > quiet_err.lines().count(),
        "{stderr}"
    );
    assert!(stderr.contains("[redacted]"), "{stderr}");
    assert_terminal_safe(&out.stderr);
    assert_terminal_safe(&quiet.stderr);
}

#[test]
fn a_request_rejected_whole_for_some_lines_says_so_for_the_others() {
    // InfluxDB 2 OSS stores nothing of a request with bad lines, and names
    // each of them. The CLI refuses the lines it finds bad before sending
    // (see check.rs), so here the server disagrees about a valid one.
    let server = raw::start(|_, _| {
        raw::Reply::Send(raw::response(
            "400 Bad Request",
            &[("Content-Type", "application/json")],
            br#"{"code":"invalid","message":"unable to parse 'm v=2 2': invalid field format"}"#,
        ))
    });
    let f = file("m v=1 1\nm v=2 2\nm v=3 3\nm v=4 4\n");
    let out = linewire()
        .args(raw_args(&server.url, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("4 lines: 0 written, 4 rejected, 0 not sent"),
        "{stdout}"
    );
    assert!(
        stderr.contains("line 2: rejected: invalid field format"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "lines 1, 3-4: rejected: with the whole request, for the bad lines named: HTTP 400"
        ),
        "{stderr}"
    );
}

#[test]
fn bad_lines_no_longer_take_their_request_down_on_influxdb_2_and_3() {
    // InfluxDB 2 OSS and 3 Core refuse a whole request for one bad line;
    // the CLI keeps the bad lines out, so the good ones are stored.
    for mode in [Mode::Oss2, Mode::Core3] {
        let server = TestServer::builder().token(TOKEN).mode(mode).start();
        let f = file(FILE);
        let out = linewire()
            .args(write_args(&server, f.path()))
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        assert!(
            stdout.contains("6 lines: 4 written, 2 rejected, 0 not sent"),
            "{mode:?}: {stdout}"
        );
        assert!(
            stderr.contains("line 4: rejected: the field value `oops` is not a number"),
            "{mode:?}: {stderr}"
        );
        assert!(
            stderr.contains("line 7: rejected: the line has no fields"),
            "{mode:?}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 2, "{mode:?}: {stderr}");
        assert_eq!(server.points("farm").len(), 4, "{mode:?}");
        assert_eq!(server.write_requests().len(), 1, "{mode:?}");
    }
}

#[test]
fn a_v1_answer_echoing_the_token_in_x_influxdb_error_is_shown_safely() {
    let server = TestServer::builder()
        .token(TOKEN)
        .fault_plan(
            FaultPlan::new()
                .always(Fault::AnswerAsV1)
                .always(Fault::EchoAuthorization),
        )
        .start();
    let f = file(FILE);
    let out = linewire()
        .args(write_args(&server, f.path()))
        .output()
        .unwrap();
    // `text` asserts the token is in neither stream.
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("6 lines: 4 written, 2 rejected, 0 not sent"),
        "{stdout}"
    );
    assert!(stderr.contains("line 4: rejected: "), "{stderr}");
    assert!(stderr.contains("line 7: rejected: "), "{stderr}");
    assert_eq!(server.points("farm").len(), 4);

    // A 401 in 1.x style: `{"error": ...}` and X-Influxdb-Error, both
    // echoing the (wrong) token.
    let server = TestServer::builder()
        .token("the-right-one")
        .fault_plan(
            FaultPlan::new()
                .always(Fault::AnswerAsV1)
                .always(Fault::EchoAuthorization),
        )
        .start();
    let out = linewire()
        .args(write_args(&server, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("not sent: the server refused the token: HTTP 401"),
        "{stderr}"
    );
    assert!(stderr.contains("[redacted]"), "{stderr}");
    assert!(stderr.contains("fix the configuration"), "{stderr}");
}

#[test]
fn giving_up_says_throttled_or_server_error_with_the_tries() {
    let cases = [
        (
            Fault::TooManyRequests {
                retry_after_secs: 1,
            },
            "the server is throttling writes (HTTP 429): gave up after 2 tries over",
        ),
        (
            Fault::InternalError,
            "the server keeps failing (HTTP 500): gave up after 2 tries over",
        ),
        (
            Fault::BadGateway,
            "the server keeps failing (HTTP 502): gave up after 2 tries over",
        ),
    ];
    for (fault, says) in cases {
        let server = TestServer::builder()
            .fault_plan(FaultPlan::new().always(fault.clone()))
            .start();
        let f = file(&lines(4));
        let mut args = write_args(&server, f.path());
        args.extend(["--max-retries", "1", "--max-retry-wait", "1"].map(String::from));
        let out = linewire().args(args).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(1), "{fault:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("lines 1-4: not sent: {says}")),
            "{fault:?}: {stderr}"
        );
        assert!(stderr.contains("run again later"), "{fault:?}: {stderr}");
        assert!(!stderr.contains("fix the configuration"), "{stderr}");
        assert!(
            stdout.contains("4 lines: 0 written, 0 rejected, 4 not sent"),
            "{stdout}"
        );
    }
}

#[test]
fn a_partial_write_counting_more_than_it_names_adds_up() {
    // 1.x names one bad line but says three points were dropped: one line
    // is stored, three are rejected, and the summary adds up to the four.
    let server = raw::start(|_, _| {
        raw::Reply::Send(raw::response(
            "400 Bad Request",
            &[("Content-Type", "application/json")],
            br#"{"error":"partial write: unable to parse 'm v=2 2': invalid field format dropped=3"}"#,
        ))
    });
    // Lines the CLI finds valid (it refuses bad ones before sending); this
    // server disagrees about one of them.
    let f = file("m v=1 1\nm v=2 2\nm v=3 3\nm v=4 4\n");
    let out = linewire()
        .args(raw_args(&server.url, f.path()))
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("4 lines: 1 written, 3 rejected, 0 not sent"),
        "{stdout}{stderr}"
    );
    assert!(stderr.contains("2 more lines were rejected"), "{stderr}");
}

// ---- input sources, gzip, CSV, compression, errors file, rate limit,
// ---- closed pipes

/// The lines of `FILE` the test kit stores, by host.
fn hosts(server: &TestServer) -> Vec<String> {
    let mut h: Vec<String> = server
        .points("farm")
        .iter()
        .map(|p| p.tags["host"].clone())
        .collect();
    h.sort();
    h
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// `write_args` without the input (given by `-f` or as the argument).
fn args_without_input(server: &TestServer) -> Vec<String> {
    let mut a = write_args(server, "-");
    a.remove(1);
    a
}

fn run_with_stdin(args: &[String], stdin: &[u8]) -> Output {
    let mut child = linewire()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    out
}

#[test]
fn line_protocol_given_as_the_argument_is_written() {
    let server = TestServer::builder().token(TOKEN).start();
    let mut args = args_without_input(&server);
    args.insert(1, "m,host=arg v=1i 1700000000".into());
    let out = linewire().args(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("1 line: 1 written"), "{stdout}");
    assert_eq!(hosts(&server), ["arg"]);

    // Several lines in one argument, and a bad one named by its line.
    let mut args = args_without_input(&server);
    args.insert(1, "m,host=two v=2i 1700000000\nbad line=".into());
    let out = linewire().args(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("line 2: rejected:"), "{stderr}");
    assert_eq!(hosts(&server), ["arg", "two"]);
}

#[test]
fn an_argument_that_looks_like_a_missing_file_is_no_such_file_and_nothing_is_sent() {
    let server = TestServer::builder().token(TOKEN).start();
    for name in ["metrics.lp", "/nonexistent/dir/metrics.lp", "cpu,host=a"] {
        let mut args = args_without_input(&server);
        args.insert(1, name.into());
        let out = linewire().args(&args).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("cannot open {name}: no such file")),
            "{stderr}"
        );
    }
    // `-f` with a missing file says why too.
    let mut args = args_without_input(&server);
    args.extend(["-f", "/nonexistent/dir/x.lp"].map(String::from));
    let out = linewire().args(&args).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot open /nonexistent/dir/x.lp:"),
        "{stderr}"
    );
    assert_eq!(server.write_requests().len(), 0);
}

#[test]
fn files_are_read_in_order_and_messages_name_the_file() {
    let server = TestServer::builder().token(TOKEN).start();
    let a = file(FILE);
    let b = file("m,host=f v=6i 1700000000\nbad\n");
    let mut args = args_without_input(&server);
    args.extend(["-f", a.path(), "--file", b.path(), "--batch-lines", "3"].map(String::from));
    let out = linewire().args(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("{} line 4: rejected:", a.path())),
        "{stderr}"
    );
    // The same message for a's line 7 and b's line 2: one report line.
    assert!(
        stderr.contains(&format!(
            "{} line 7; {} line 2: rejected:",
            a.path(),
            b.path()
        )),
        "{stderr}"
    );
    assert!(
        stdout.contains("8 lines: 5 written, 3 rejected, 0 not sent"),
        "{stdout}"
    );
    assert_eq!(hosts(&server), ["a", "c", "d", "e", "f"]);
    // In order: a's lines before b's.
    let bodies: String = server
        .write_requests()
        .iter()
        .map(|r| r.body_text())
        .collect();
    let (pos_e, pos_f) = (
        bodies.find("host=e").unwrap(),
        bodies.find("host=f").unwrap(),
    );
    assert!(pos_e < pos_f, "{bodies}");

    // One source: plain line numbers, as before.
    let out = linewire()
        .args(write_args(&server, &format!("@{}", b.path())))
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert!(stderr.contains("linewire: line 2: rejected:"), "{stderr}");
}

#[test]
fn standard_input_is_read_with_dash_among_files_and_without_any_input() {
    let server = TestServer::builder().token(TOKEN).start();
    let a = file("m,host=file v=1i 1700000000\n");
    let mut args = args_without_input(&server);
    args.extend(["-f", a.path(), "-f", "-"].map(String::from));
    let out = run_with_stdin(&args, b"m,host=stdin v=2i 1700000000\nbad\n");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("standard input line 2: rejected:"),
        "{stderr}"
    );
    assert_eq!(hosts(&server), ["file", "stdin"]);

    // Neither a file nor an argument: standard input.
    let out = run_with_stdin(
        &args_without_input(&server),
        b"m,host=plain v=3i 1700000000\n",
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(hosts(&server), ["file", "plain", "stdin"]);

    // A file that is a pipe is read once, from its first byte (not opened
    // again after its first lines were checked).
    let mut args = args_without_input(&server);
    args.extend(["-f", "/dev/stdin", "--batch-lines", "1"].map(String::from));
    let out = run_with_stdin(
        &args,
        b"m,host=pipe1 v=1i 1700000000\nm,host=pipe2 v=1i 1700000000\n",
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("2 lines: 2 written"), "{stdout}");
    assert_eq!(hosts(&server), ["file", "pipe1", "pipe2", "plain", "stdin"]);

    let mut args = args_without_input(&server);
    args.extend(["-f", "-", "-"].map(String::from));
    let out = run_with_stdin(&args, b"");
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("more than once"), "{stderr}");
}

#[test]
fn gzip_input_is_recognized_by_its_content_in_files_and_on_stdin() {
    let server = TestServer::builder().token(TOKEN).start();
    // Two gzip members (as `cat a.gz b.gz` makes), any file name.
    let mut gz = gzip(b"m,host=a v=1i 1700000000\n");
    gz.extend(gzip(b"m,host=b v=2i 1700000000\n"));
    for name in [".lp.gz", ".lp"] {
        server.clear();
        let f = tempfile_lite::TempFile::named(&gz, name);
        let out = linewire()
            .args(write_args(&server, f.path()))
            .output()
            .unwrap();
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{name}: {stdout}{stderr}");
        assert!(!stderr.contains("UTF-8"), "{stderr}");
        assert!(stdout.contains("2 lines: 2 written"), "{stdout}");
        assert_eq!(hosts(&server), ["a", "b"]);
    }
    server.clear();
    let out = run_with_stdin(&args_without_input(&server), &gzip(FILE.as_bytes()));
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stderr.contains("line 4: rejected:"), "{stderr}");
    assert!(
        stdout.contains("6 lines: 4 written, 2 rejected"),
        "{stdout}"
    );
    assert_eq!(hosts(&server), ["a", "c", "d", "e"]);
}

#[test]
fn corrupt_gzip_is_a_read_error_and_the_lines_sent_are_counted() {
    let server = TestServer::start();
    let body = lines(20_000);
    let gz = gzip(body.as_bytes());
    for (what, bad) in [
        ("cut short", gz[..gz.len() / 2].to_vec()),
        // Deflate data has no check of its own: a wrong checksum (the
        // member's CRC-32, in its last 8 bytes) is found at the end.
        ("corrupt", {
            let mut g = gz.clone();
            let at = g.len() - 6;
            g[at] ^= 0x5a;
            g
        }),
    ] {
        server.clear();
        let f = tempfile_lite::TempFile::named(&bad, ".lp.gz");
        let mut args = write_args(&server, f.path());
        args.extend(["--batch-lines", "1000"].map(String::from));
        let out = linewire().args(args).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {stdout}{stderr}");
        assert!(
            stderr.contains("the gzip data is corrupt or cut short"),
            "{what}: {stderr}"
        );
        let stored = server.points("farm").len();
        assert!(stored > 0 && stored <= 20_000, "{what}: {stored}");
        assert!(
            stdout.contains(&format!(
                "{stored} lines: {stored} written, 0 rejected, 0 not sent"
            )),
            "{what}: {stdout}"
        );
        assert!(
            stderr.contains(&format!("after line {stored}:")),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn compression_none_or_gzip_sets_the_request_body() {
    let server = TestServer::start();
    let f = file("m,host=a v=1i 1700000000\n");
    for (flags, encoding) in [
        (vec!["--compression", "none"], None),
        (vec!["--compression", "gzip"], Some("gzip")),
        (vec!["--no-gzip"], None),
        (vec!["--gzip"], Some("gzip")),
        (vec![], Some("gzip")),
    ] {
        server.clear();
        let mut args = write_args(&server, f.path());
        args.extend(flags.iter().map(|s| s.to_string()));
        let out = linewire().args(args).output().unwrap();
        assert!(out.status.success(), "{flags:?}");
        assert_eq!(
            server.write_requests()[0].header("content-encoding"),
            encoding,
            "{flags:?}"
        );
        assert_eq!(server.points("farm").len(), 1);
    }
    for bad in [
        vec!["--compression", "zstd"],
        vec!["--compression", "none", "--gzip"],
    ] {
        let mut args = write_args(&server, f.path());
        args.extend(bad.iter().map(|s| s.to_string()));
        let out = linewire().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn csv_is_refused_before_anything_is_sent() {
    let server = TestServer::start();
    let annotated = "#group,false,false,true,true,false,false,true,true\n\
        #datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,double,string,string\n\
        #default,_result,,,,,,,\n\
        ,result,table,_start,_stop,_time,_value,_field,_measurement\n\
        ,,0,2024-01-01T00:00:00Z,2024-01-02T00:00:00Z,2024-01-01T00:00:00Z,1.5,v,m\n";
    let plain_csv = "time,host,value\n1700000000,a,1\n";
    let cases: Vec<(tempfile_lite::TempFile, Vec<&str>)> = vec![
        (
            tempfile_lite::TempFile::named(annotated.as_bytes(), ".txt"),
            vec![],
        ),
        (
            tempfile_lite::TempFile::named(&gzip(annotated.as_bytes()), ".gz"),
            vec![],
        ),
        (
            tempfile_lite::TempFile::named(b"_measurement,_field,_value\nm,v,1\n", ".lp"),
            vec![],
        ),
        (
            tempfile_lite::TempFile::named(plain_csv.as_bytes(), ".csv"),
            vec![],
        ),
        (file(FILE), vec!["--format", "csv"]),
    ];
    for (f, flags) in &cases {
        let mut args = write_args(&server, f.path());
        args.extend(flags.iter().map(|s| s.to_string()));
        let out = linewire().args(args).output().unwrap();
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{}: {stdout}{stderr}", f.path());
        assert!(stderr.contains("CSV is not supported"), "{stderr}");
        assert!(
            stderr.contains("influx write dryrun --format csv -f file.csv > file.lp"),
            "{stderr}"
        );
    }
    // On standard input too, and a later file refuses the whole run.
    let out = run_with_stdin(&args_without_input(&server), annotated.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    let good = file(FILE);
    let csv = tempfile_lite::TempFile::named(annotated.as_bytes(), ".csv");
    let mut args = args_without_input(&server);
    args.extend(["-f", good.path(), "-f", csv.path()].map(String::from));
    let out = linewire().args(args).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(csv.path()), "{stderr}");
    assert_eq!(server.write_requests().len(), 0, "nothing sent");

    // A .csv file of line protocol is line protocol; `--format lp` is taken
    // at its word.
    let lp_named_csv = tempfile_lite::TempFile::named(b"m,host=a v=1i 1700000000\n", ".csv");
    let out = linewire()
        .args(write_args(&server, lp_named_csv.path()))
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(server.points("farm").len(), 1);
    let mut args = write_args(&server, csv.path());
    args.extend(["--format", "lp"].map(String::from));
    let out = linewire().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "sent, and rejected by the server"
    );
}

#[test]
fn the_errors_file_has_every_line_not_stored_after_a_comment() {
    let server = TestServer::builder().token(TOKEN).start();
    let a = file(FILE);
    let b =
        tempfile_lite::TempFile::named(b"m,host=f v=6i 1700000000\n\xff\xfe bad bytes\n", ".lp");
    let errors = tempfile_lite::TempFile::named(b"old content", ".errors");
    let mut args = args_without_input(&server);
    args.extend(
        [
            "-f",
            a.path(),
            "-f",
            b.path(),
            "--errors-file",
            errors.path(),
        ]
        .map(String::from),
    );
    let out = linewire().args(&args).output().unwrap();
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let content = std::fs::read(errors.path()).unwrap();
    let a_name = a.path();
    let b_name = b.path();
    // The local check's reasons (the core's rules, before sending).
    let expected = format!(
        "# {a_name} line 4: rejected: the field value `oops` is not a number, a string in double quotes, or a boolean\n\
         m,host=b v=oops 1700000000\n\
         # {a_name} line 7: rejected: the line has no fields\n\
         bad\n\
         # {b_name} line 2: rejected: not valid UTF-8 (not sent)\n"
    );
    let mut expected = expected.into_bytes();
    expected.extend_from_slice(b"\xff\xfe bad bytes\n");
    assert_eq!(
        String::from_utf8_lossy(&content),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(content, expected);

    // Fed back (comments skipped), the same lines are tried again.
    server.clear();
    let out = linewire()
        .args(write_args(&server, errors.path()))
        .output()
        .unwrap();
    let (stdout, _) = text(&out);
    assert!(
        stdout.contains("3 lines: 0 written, 3 rejected, 0 not sent"),
        "{stdout}"
    );
}

#[test]
fn the_errors_file_has_the_lines_not_sent_and_where_the_run_stopped() {
    let server = TestServer::builder().token("the-right-one").start();
    let f = file(&lines(25));
    let errors = tempfile_lite::TempFile::named(b"", ".errors");
    let mut args = write_args(&server, f.path());
    args.extend(["--batch-lines", "2", "--errors-file", errors.path()].map(String::from));
    let out = linewire().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let content = std::fs::read_to_string(errors.path()).unwrap();
    let why = "the server refused the token: HTTP 401 (unauthorized): unauthorized access";
    let expected = format!(
        "# {0} line 1: not sent: {why}\n\
         m,n=n0 v=0i 1700000000\n\
         # {0} line 2: not sent: {why}\n\
         m,n=n1 v=1i 1700000001\n\
         # the run stopped after line 2: the rest of the input was not read\n",
        f.path()
    );
    assert_eq!(content, expected);

    // Dry run: the invalid lines.
    let g = file(FILE);
    let out = linewire()
        .args([
            "write",
            g.path(),
            "--dry-run",
            "--errors-file",
            errors.path(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let content = std::fs::read_to_string(errors.path()).unwrap();
    assert_eq!(content.lines().count(), 4, "{content}");
    assert!(
        content.starts_with(&format!("# {} line 4: invalid: ", g.path())),
        "{content}"
    );
    assert!(content.ends_with("\nbad\n"), "{content}");

    // The errors file fed back and named again as the errors file: refused
    // before it is emptied.
    let before = std::fs::read(errors.path()).unwrap();
    let mut args = write_args(&server, "-");
    args.remove(1);
    args.extend(["-f", errors.path(), "--errors-file", errors.path()].map(String::from));
    let out = linewire().args(&args).output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("the errors file is also an input"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(errors.path()).unwrap(), before);

    // An errors file that cannot be created: a usage error, nothing sent.
    let out = linewire()
        .args([
            "write",
            g.path(),
            "--dry-run",
            "--errors-file",
            "/nonexistent/dir/e.lp",
        ])
        .output()
        .unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("cannot create the errors file"), "{stderr}");
}

#[test]
fn a_rate_limit_paces_the_batches() {
    let server = TestServer::start();
    let body = lines(40);
    let f = file(&body);
    // 10 lines a batch: the first three batches' bytes must be paid for
    // before the last one goes.
    let paid: usize = body.lines().take(30).map(|l| l.len() + 1).sum();
    let min = std::time::Duration::from_secs_f64(paid as f64 / 1024.0);
    let mut args = write_args(&server, f.path());
    args.extend(["--batch-lines", "10", "--rate-limit", "1kB/s"].map(String::from));
    let started = std::time::Instant::now();
    let out = linewire().args(args).output().unwrap();
    let took = started.elapsed();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert_eq!(server.points("farm").len(), 40);
    assert_eq!(server.write_requests().len(), 4);
    assert!(took >= min, "took {took:?}, at least {min:?} expected");

    for bad in ["5XB/s", "0MB/s", "1MB", "fast"] {
        let mut args = write_args(&server, f.path());
        args.extend(["--rate-limit", bad].map(String::from));
        let out = linewire().args(args).output().unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("--rate-limit"), "{stderr}");
    }
}

/// `linewire write ... 2>&1 | head -1`: the log reader goes away; the
/// run goes on, sends everything, and does not panic.
#[test]
fn a_log_reader_that_goes_away_does_not_stop_the_run() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_requests(
            1..=3,
            Fault::ServiceUnavailable {
                retry_after_secs: None,
            },
        ))
        .start();
    let f = file(&lines(10));
    let mut args = write_args(&server, f.path());
    // Retries 100 ms apart or more: the warnings come after the reader left.
    let interval = args
        .iter()
        .position(|a| a == "--retry-interval-ms")
        .unwrap();
    args[interval + 1] = "100".into();
    let mut child = linewire()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut first).unwrap();
    assert!(first.contains("warning:"), "{first}");
    drop(stderr);
    let out = child.wait_with_output().unwrap();
    let (stdout, _) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("10 lines: 10 written"), "{stdout}");
    assert_eq!(server.points("farm").len(), 10);

    // The summary's reader gone: no panic either (standard error kept).
    server.clear();
    server.set_faults(FaultPlan::new());
    let mut child = linewire()
        .args(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(server.points("farm").len(), 10);

    // Both on one pipe, as the shell makes it, and --help into `head`.
    server.clear();
    for script in [
        r#""$0" "$@" 2>&1 | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}"#,
        r#""$0" write --help | head -c 1 >/dev/null; exit ${PIPESTATUS[0]}"#,
    ] {
        let out = Command::new("bash")
            .arg("-c")
            .arg(script)
            .arg(env!("CARGO_BIN_EXE_linewire"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{script}");
    }
    assert_eq!(server.points("farm").len(), 10);
}

/// The write API has no minutes or hours: a file in either would be stored
/// as seconds, so they are refused before anything is read or sent.
#[test]
fn precisions_the_write_api_lacks_are_a_usage_error() {
    let server = TestServer::start();
    let f = file("m v=1i 2\n");
    for p in ["m", "h"] {
        let out = linewire()
            .args([
                "write",
                "-f",
                f.path(),
                "--url",
                &server.url(),
                "--bucket",
                "b",
            ])
            .args(["--precision", p])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let (_, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--precision"), "{stderr}");
    }
    assert!(server.points("b").is_empty());
}
