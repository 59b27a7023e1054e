//! The local check of every line (`cli/src/check.rs`): a dry run and a
//! real run refuse the same lines with the same messages, and a refused
//! line never reaches the server.

use std::process::{Command, Output};

use linewire_testkit::{FieldValue, Mode, TestServer};

const TOKEN: &str = "check-token";

/// Each bad line and the message it must get, in file order; good lines
/// between them.
const CASES: &[(&str, &str)] = &[
    (
        "m,host=a s=\"abc 1700000000",
        "the string field `s` is not closed (missing `\"`)",
    ),
    (
        "m,host=a v=NaN 1700000000",
        "the field value `NaN` is not finite: NaN and infinity cannot be written",
    ),
    (
        "m,host=a v=oops 1700000000",
        "the field value `oops` is not a number, a string in double quotes, or a boolean",
    ),
    (
        "m,host=a v=1i,v=2i 1700000000",
        "the field `v` is given twice",
    ),
    (
        "m,host=a,host=b v=1i 1700000000",
        "the tag `host` is given twice",
    ),
    ("_m,host=a v=1i 1700000000", "measurement names cannot start with `_`"),
    (
        "m,host=a _v=1i 1700000000",
        "the field key `_v` is reserved (field keys cannot start with `_` or be `time`)",
    ),
    (
        "m,host=a v=1i 99999999999999999999",
        "the timestamp 99999999999999999999 is out of range for precision s (1677-09-21 to 2262-04-11)",
    ),
    (
        "m,host=a v=1i 1700000000000000000",
        "the timestamp 1700000000000000000 is out of range for precision s (1677-09-21 to 2262-04-11)",
    ),
    ("m,host=a", "the line has no fields"),
    ("m,host=a v=1i 1700000000 extra", "unexpected text `extra`"),
    ("m,host=a v=1i 17e8", "the timestamp `17e8` is not an integer"),
    ("m,host=a v=1i ", "the line has a space too many (parts are separated by exactly one space, with none at the end)"),
    (
        "m\\=x,host=a v=1i 1700000000",
        "the measurement `m\\=x` has a backslash before a backslash, quote or equals sign, which InfluxDB versions read differently",
    ),
    (
        "m,host=a\\\\ v=1i 1700000000",
        "the tag value `a\\\\` has a backslash before another backslash, which InfluxDB versions read differently",
    ),
    ("m,host= v=1i 1700000000", "the tag `host` has an empty value"),
    (
        "m,host=a=b v=1i 1700000000",
        "the tag value `a=b` has an `=` without a backslash before it",
    ),
    ("m,host v=1i 1700000000", "the tag key `host` is not followed by `=` and a value"),
    (
        "m,host=a v=99999999999999999999i 1700000000",
        "the integer field value `99999999999999999999i` is out of range",
    ),
    (
        "m,host=a v=1e999 1700000000",
        "the field value `1e999` is not finite: NaN and infinity cannot be written",
    ),
    ("m,host=a v= 1700000000", "the field `v` has no value"),
];

/// Good lines, each stored as one point (host g0, g1, ...).
fn good(i: usize) -> String {
    format!(
        "m,host=g{i} v={i}i,s=\"ok, \\\"quoted\\\"\" {}",
        1_700_000_000 + i
    )
}

/// The file: a good line, then each bad line followed by a good one.
/// Returns it and the line number of each case.
fn corpus() -> (String, Vec<usize>) {
    let mut text = format!("{}\n", good(0));
    let mut numbers = Vec::new();
    for (i, (bad, _)) in CASES.iter().enumerate() {
        numbers.push(2 + 2 * i);
        text.push_str(bad);
        text.push('\n');
        text.push_str(&good(i + 1));
        text.push('\n');
    }
    (text, numbers)
}

fn file(content: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "linewire-check-{}-{}.lp",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, content).unwrap();
    path
}

fn run(args: &[&str]) -> (Output, String, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_linewire"));
    isolated(&mut c);
    let out = c
        .args(args)
        .env_remove("INFLUX_TOKEN")
        .env_remove("INFLUX_URL")
        .env_remove("INFLUX_BUCKET")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let stderr = String::from_utf8(out.stderr.clone()).unwrap();
    (out, stdout, stderr)
}

#[test]
fn dry_run_reports_each_bad_line_with_a_sentence() {
    let (text, numbers) = corpus();
    let path = file(&text);
    let (out, stdout, stderr) = run(&[
        "write",
        path.to_str().unwrap(),
        "--dry-run",
        "--precision",
        "s",
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    // More distinct messages than the report keeps (10): the rest counted.
    let kept = 10;
    for ((_, message), n) in CASES.iter().zip(&numbers).take(kept) {
        let expected = format!("linewire: line {n}: invalid: {message}\n");
        assert!(stderr.contains(&expected), "want {expected:?} in\n{stderr}");
    }
    assert!(
        stderr.contains(&format!(
            "{} more lines not stored for other reasons",
            CASES.len() - kept
        )),
        "{stderr}"
    );
    let lines = 1 + 2 * CASES.len();
    assert!(
        stdout.contains(&format!(
            "{lines} lines checked: {} valid, {} invalid",
            CASES.len() + 1,
            CASES.len()
        )),
        "{stdout}"
    );
}

/// Every case on its own in a dry run: the exact message, whatever the
/// report keeps.
#[test]
fn dry_run_gives_each_case_its_message() {
    for (bad, message) in CASES {
        let path = file(&format!("{}\n{bad}\n", good(0)));
        let (out, stdout, stderr) = run(&[
            "write",
            path.to_str().unwrap(),
            "--dry-run",
            "--precision",
            "s",
        ]);
        let _ = std::fs::remove_file(&path);
        assert_eq!(out.status.code(), Some(1), "{bad:?}: {stdout}{stderr}");
        assert_eq!(
            stderr,
            format!("linewire: line 2: invalid: {message}\n"),
            "{bad:?}"
        );
        assert!(
            stdout.contains("2 lines checked: 1 valid, 1 invalid"),
            "{stdout}"
        );
    }
}

#[test]
fn sending_stores_exactly_the_good_lines_and_reports_the_bad_with_the_same_messages() {
    // InfluxDB 2 OSS refuses a whole request for one bad line: with the
    // local check none reaches it, so every good line is stored.
    for mode in [Mode::Oss2, Mode::Core3, Mode::CloudServerless] {
        // Cases in groups of at most 10 (the report keeps 10 messages).
        for chunk in CASES.chunks(10) {
            let server = TestServer::builder().token(TOKEN).mode(mode).start();
            let mut text = format!("{}\n", good(0));
            let mut numbers = Vec::new();
            for (i, (bad, _)) in chunk.iter().enumerate() {
                numbers.push(2 + 2 * i);
                text.push_str(&format!("{bad}\n{}\n", good(i + 1)));
            }
            let path = file(&text);
            let url = server.url();
            let (out, stdout, stderr) = run(&[
                "write",
                path.to_str().unwrap(),
                "--url",
                &url,
                "--bucket",
                "farm",
                "--token",
                TOKEN,
                "--precision",
                "s",
            ]);
            let _ = std::fs::remove_file(&path);
            assert_eq!(out.status.code(), Some(1), "{mode:?}: {stdout}{stderr}");
            for ((_, message), n) in chunk.iter().zip(&numbers) {
                let expected = format!("linewire: line {n}: rejected: {message}\n");
                assert!(
                    stderr.contains(&expected),
                    "{mode:?}: want {expected:?} in\n{stderr}"
                );
            }
            assert_eq!(
                stderr.matches(": rejected: ").count(),
                chunk.len(),
                "{stderr}"
            );
            let lines = 1 + 2 * chunk.len();
            assert!(
                stdout.contains(&format!(
                    "{lines} lines: {} written, {} rejected, 0 not sent",
                    chunk.len() + 1,
                    chunk.len()
                )),
                "{mode:?}: {stdout}"
            );
            let points = server.points("farm");
            let mut hosts: Vec<String> = points.iter().map(|p| p.tags["host"].clone()).collect();
            hosts.sort();
            let mut want: Vec<String> = (0..=chunk.len()).map(|i| format!("g{i}")).collect();
            want.sort();
            assert_eq!(hosts, want, "{mode:?}");
            for p in &points {
                assert_eq!(
                    p.fields["s"],
                    FieldValue::Str("ok, \"quoted\"".into()),
                    "{mode:?}"
                );
            }
            // What was sent holds no bad line.
            for req in server.write_requests() {
                let body = req.body_text();
                for (bad, _) in chunk {
                    assert!(!body.lines().any(|l| l == *bad), "{mode:?}: sent {bad:?}");
                }
            }
        }
    }
}

#[test]
fn leading_spaces_are_skipped_as_servers_skip_them() {
    let server = TestServer::builder().token(TOKEN).start();
    let path = file("  \tm,host=a v=1i 1700000000\n");
    let url = server.url();
    let (out, stdout, stderr) = run(&[
        "write",
        path.to_str().unwrap(),
        "--url",
        &url,
        "--bucket",
        "farm",
        "--token",
        TOKEN,
        "--precision",
        "s",
    ]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(server.points("farm").len(), 1);
    assert_eq!(server.points("farm")[0].measurement, "m");
}

#[test]
fn messages_quote_the_line_bounded_and_terminal_safe() {
    // A control sequence and a long value in the quoted part.
    let value = format!("\u{1b}[2J{}", "x".repeat(500));
    let path = file(&format!("m v={value}\n"));
    let (out, stdout, stderr) = run(&["write", path.to_str().unwrap(), "--dry-run"]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    assert!(stderr.contains("is not a number"), "{stderr}");
    assert!(stderr.len() < 300, "{} bytes: {stderr}", stderr.len());
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
