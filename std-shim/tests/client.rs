//! `Client` against the test kit: every outcome, faults, gzip, the request
//! the core describes, keep-alive, and no token in any output.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use linewire::http::{encode_head, Action, Outcome, Payload, RetryAfter, Target};
use linewire::{Batch, Precision};
use linewire_std::{Client, Error};
use linewire_testkit::{Fault, FaultPlan, FieldValue, Mode, TestServer};

const TOKEN: &str = "tok-3b1f-secret";

fn client(server: &TestServer) -> Client {
    Client::new(&server.url(), Some(TOKEN))
        .unwrap()
        .bucket("farm")
        .precision(Precision::Seconds)
}

fn server_err(r: Result<linewire_std::Written, Error>) -> linewire_std::ServerError {
    match r {
        Err(Error::Server(e)) => {
            assert!(!format!("{e} {e:?}").contains(TOKEN));
            *e
        }
        other => panic!("expected a server error, got {other:?}"),
    }
}

#[test]
fn written_points_are_stored_with_their_types() {
    let server = TestServer::builder().token(TOKEN).start();
    let c = client(&server);
    let w = c
        .write_line_protocol("env,room=a t=21.5,n=3i,u=4u,ok=true,s=\"x y\" 1700000000\n")
        .unwrap();
    assert_eq!(w.status, 204);
    let p = &server.points("farm")[0];
    assert_eq!(p.fields["t"], FieldValue::F64(21.5));
    assert_eq!(p.fields["n"], FieldValue::I64(3));
    assert_eq!(p.fields["u"], FieldValue::U64(4));
    assert_eq!(p.fields["ok"], FieldValue::Bool(true));
    assert_eq!(p.fields["s"], FieldValue::Str("x y".into()));
    assert_eq!(p.timestamp_ns, 1_700_000_000_000_000_000);
}

#[test]
fn the_request_is_what_the_core_encodes() {
    let server = TestServer::start();
    let c = Client::new(&format!("{}/", server.url()), Some(TOKEN))
        .unwrap()
        .bucket("my bucket")
        .org("acme & co")
        .gzip(false);
    let mut batch = Batch::<128>::with_precision(Precision::Milliseconds);
    batch
        .point("m")
        .unwrap()
        .field("v", 1i64)
        .unwrap()
        .timestamp(1_700_000_000_000)
        .unwrap();
    c.write(&batch).unwrap();

    let host = server.url().trim_start_matches("http://").to_owned();
    let target = Target::v2(&host, "my bucket", TOKEN)
        .unwrap()
        .org("acme & co")
        .unwrap();
    let mut buf = [0u8; 512];
    let n = encode_head(&target, &Payload::from(&batch), &mut buf).unwrap();
    let head = std::str::from_utf8(&buf[..n]).unwrap();
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let request_line = lines.next().unwrap();

    let req = &server.write_requests()[0];
    let query = if req.query.is_empty() {
        String::new()
    } else {
        format!("?{}", req.query)
    };
    assert_eq!(
        request_line,
        format!("{} {}{} HTTP/1.1", req.method, req.path, query)
    );
    let core_headers: Vec<(&str, &str)> = lines.map(|l| l.split_once(": ").unwrap()).collect();
    for (name, value) in &core_headers {
        assert_eq!(req.header(name), Some(*value), "header {name}");
    }
    // Nothing beyond what the core sends, except the transfer details.
    for (name, _) in &req.headers {
        assert!(
            core_headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
                || name.eq_ignore_ascii_case("accept-encoding"),
            "extra header {name}"
        );
    }
    assert_eq!(
        req.header("authorization"),
        Some(&*format!("Token {TOKEN}"))
    );
    assert_eq!(
        req.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("user-agent"), Some(linewire::http::USER_AGENT));
    assert_eq!(req.query_param("precision").as_deref(), Some("ms"));
    assert_eq!(req.query_param("bucket").as_deref(), Some("my bucket"));
    assert_eq!(req.query_param("org").as_deref(), Some("acme & co"));
    assert_eq!(server.points("my bucket").len(), 1);
}

#[test]
fn gzip_bodies_are_decoded_by_the_server_and_stored() {
    let server = TestServer::start();
    let body: String = (0..2000)
        .map(|i| {
            format!(
                "cpu,host=h{},core={} usage={}.5 {}\n",
                i % 7,
                i % 4,
                i,
                1_700_000_000 + i
            )
        })
        .collect();
    for (level, c) in [
        (6, client(&server)),
        (1, client(&server).gzip_level(1)),
        (10, client(&server).gzip_level(10)),
    ] {
        server.clear();
        let w = c.write_line_protocol(&body).unwrap();
        assert!(
            w.wire_len * 5 < w.body_len,
            "level {level}: {} of {}",
            w.wire_len,
            w.body_len
        );
        let req = &server.write_requests()[0];
        assert_eq!(req.header("content-encoding"), Some("gzip"));
        assert_eq!(req.body_text(), body, "the server decoded the same bytes");
        assert_eq!(server.points("farm").len(), 2000);
        let p = server
            .points("farm")
            .into_iter()
            .find(|p| {
                p.tags["host"] == "h3"
                    && p.tags["core"] == "2"
                    && p.fields["usage"] == FieldValue::F64(10.5)
            })
            .expect("point 10 stored");
        assert_eq!(p.timestamp_ns, 1_700_000_010_000_000_000);
    }
    server.clear();
    let w = client(&server)
        .gzip(false)
        .write_line_protocol(&body)
        .unwrap();
    assert_eq!(w.wire_len, w.body_len);
    assert_eq!(server.write_requests()[0].header("content-encoding"), None);
}

#[test]
fn partial_write_lists_the_rejected_lines() {
    let server = TestServer::start();
    let e = server_err(client(&server).write_line_protocol("m v=1 1\nbad\nm v=2 2\nm v= 3\n"));
    assert_eq!(e.status, 400);
    assert!(matches!(e.outcome, Outcome::PartiallyWritten(_)));
    assert_eq!(e.action(), Action::Drop);
    assert_eq!(e.rejected_lines, vec![2, 4]);
    assert_eq!(e.rejected_count, 2);
    assert_eq!(e.code.as_deref(), Some("invalid"));
    assert!(e.message.as_deref().unwrap().contains("line 2 (1-based)"));
    assert_eq!(server.points("farm").len(), 2);
}

#[test]
fn influxdb3_core_rejects_the_batch() {
    let server = TestServer::builder().mode(Mode::Core3).start();
    let e = server_err(client(&server).write_line_protocol("m v=1 1\nbad\n"));
    assert_eq!(e.outcome, Outcome::Rejected);
    assert!(e
        .message
        .as_deref()
        .unwrap()
        .starts_with("write buffer error"));
    assert_eq!(server.points("farm").len(), 0);
}

#[test]
fn influxdb2_oss_rejects_with_a_platform_code() {
    let server = TestServer::builder().mode(Mode::Oss2).start();
    let e = server_err(client(&server).write_line_protocol("m v=1 1\nbad\n"));
    assert_eq!(e.outcome, Outcome::Rejected);
    assert_eq!(e.platform_error_code.as_deref(), Some("invalid"));
    assert!(e
        .message
        .as_deref()
        .unwrap()
        .contains("unable to parse 'bad'"));
}

#[test]
fn auth_and_bucket_errors_stop() {
    let server = TestServer::builder()
        .bucket_token("farm", TOKEN)
        .bucket_token("other", "other-token")
        .bucket("farm")
        .bucket("other")
        .start();
    let wrong = Client::new(&server.url(), Some("not-the-token"))
        .unwrap()
        .bucket("farm");
    let e = server_err(wrong.write_line_protocol("m v=1\n"));
    assert_eq!((e.status, e.outcome), (401, Outcome::Unauthorized));
    assert_eq!(e.action(), Action::Stop);

    let e = server_err(
        client(&server)
            .bucket("other")
            .write_line_protocol("m v=1\n"),
    );
    assert_eq!((e.status, e.outcome), (403, Outcome::Forbidden));

    let server = TestServer::builder().token(TOKEN).bucket("farm").start();
    let e = server_err(
        client(&server)
            .bucket("nope")
            .write_line_protocol("m v=1\n"),
    );
    assert_eq!((e.status, e.outcome), (404, Outcome::NotFound));
    assert_eq!(e.message.as_deref(), Some("bucket \"nope\" not found"));
}

#[test]
fn too_large_carries_the_limit() {
    let server = TestServer::builder().max_body(100).start();
    let body = "m,tag=aaaaaaaaaaaaaaaaaaaa v=1\n".repeat(10);
    let e = server_err(client(&server).gzip(false).write_line_protocol(&body));
    assert_eq!(
        e.outcome,
        Outcome::TooLarge {
            max_length: Some(100)
        }
    );
    assert_eq!(e.action(), Action::Split);
}

#[test]
fn throttling_and_server_errors_are_retryable_with_retry_after() {
    let server = TestServer::builder()
        .fault_plan(
            FaultPlan::new()
                .on_request(
                    1,
                    Fault::TooManyRequests {
                        retry_after_secs: 7,
                    },
                )
                .on_request(
                    2,
                    Fault::ServiceUnavailable {
                        retry_after_secs: Some(3),
                    },
                )
                .on_request(3, Fault::InternalError)
                .on_request(4, Fault::BadGateway)
                .on_request(5, Fault::ChunkedResponse)
                .on_request(5, Fault::PayloadTooLarge),
        )
        .start();
    let c = client(&server);
    let e = server_err(c.write_line_protocol("m v=1\n"));
    assert_eq!(
        e.outcome,
        Outcome::Throttled {
            retry_after: Some(RetryAfter::Seconds(7))
        }
    );
    let e = server_err(c.write_line_protocol("m v=1\n"));
    assert_eq!(
        e.outcome,
        Outcome::Unavailable {
            retry_after: Some(RetryAfter::Seconds(3))
        }
    );
    assert_eq!(e.action(), Action::RetryLater);
    let e = server_err(c.write_line_protocol("m v=1\n"));
    assert_eq!(e.outcome, Outcome::ServerError { retry_after: None });
    assert_eq!(e.action(), Action::Retry);
    let e = server_err(c.write_line_protocol("m v=1\n"));
    assert_eq!((e.status, e.action()), (502, Action::Retry));
    assert!(e.message.as_deref().unwrap().contains("Bad Gateway"));
    let e = server_err(c.write_line_protocol("m v=1\n"));
    assert_eq!(e.status, 413, "chunked error body is read");
    assert!(e.max_length.is_some());
    c.write_line_protocol("m v=1\n").unwrap();
    assert_eq!(server.points("farm").len(), 1);
}

#[test]
fn transport_failures_are_errors_without_the_token() {
    let server = TestServer::builder()
        .fault_plan(
            FaultPlan::new()
                .on_requests(1..=2, Fault::CloseBeforeBody)
                .on_requests(3..=4, Fault::CloseAfterBody)
                .on_request(5, Fault::Delay(Duration::from_secs(3))),
        )
        .start();
    let c = client(&server).timeout(Duration::from_millis(500));
    // Each closed connection is tried once more at once: two requests a call.
    for calls in 1..=2 {
        let e = c.write_line_protocol("m v=1\n").unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e:?}");
        assert!(e.is_retryable());
        assert!(!format!("{e} {e:?}").contains(TOKEN));
        assert!(server.wait_for_requests(2 * calls, Duration::from_secs(5)));
        assert_eq!(server.write_requests().len(), 2 * calls);
    }
    let start = Instant::now();
    let e = c.write_line_protocol("m v=1\n").unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "the timeout applies"
    );

    // Nothing listens here.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let c = Client::new(&format!("http://127.0.0.1:{port}"), Some(TOKEN))
        .unwrap()
        .bucket("b");
    let e = c.write_line_protocol("m v=1\n").unwrap_err();
    assert!(matches!(e, Error::Transport(_)));
    assert!(!format!("{e} {e:?} {c:?}").contains(TOKEN));
}

#[test]
fn configuration_errors() {
    for url in [
        "localhost:8086",
        "ftp://h",
        "http://",
        "http://user:pw@h",
        "http://h/x?y=1",
    ] {
        assert!(
            matches!(Client::new(url, None), Err(Error::Config(_))),
            "{url}"
        );
    }
    assert!(matches!(
        Client::new("http://h", Some("a\nb")),
        Err(Error::Config(_))
    ));
    let no_bucket = Client::new("http://127.0.0.1:1", None).unwrap();
    assert!(matches!(
        no_bucket.write_line_protocol("m v=1\n"),
        Err(Error::Config(_))
    ));
    assert!(
        format!("{:?}", Client::new("https://h/p", Some(TOKEN)).unwrap()).contains("<redacted>")
    );
}

#[test]
fn a_path_prefix_is_kept() {
    // A server that answers 204 to anything and records the request line.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap();
        let mut r = BufReader::new(s.try_clone().unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let mut s = s;
        s.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
            .unwrap();
        line
    });
    // This raw server reads only the request line: no gzip (which streams
    // the body chunked, still sending when the server answers).
    let c = Client::new(&format!("http://{addr}/influx/"), None)
        .unwrap()
        .gzip(false)
        .bucket("b");
    c.write_line_protocol("m v=1\n").unwrap();
    let line = handle.join().unwrap();
    assert!(
        line.starts_with("POST /influx/api/v2/write?bucket=b&precision=ns "),
        "{line}"
    );
}

#[test]
fn connections_are_reused() {
    // Counts connections; answers every request with 204 keep-alive.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                let mut r = BufReader::new(stream.try_clone().unwrap());
                let mut w = stream;
                loop {
                    let mut len = 0usize;
                    loop {
                        let mut line = String::new();
                        if r.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let l = line.to_ascii_lowercase();
                        if let Some(v) = l.strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; len];
                    r.read_exact(&mut body).unwrap();
                    w.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").unwrap();
                }
            });
        }
    });
    // This raw server reads Content-Length bodies only: no gzip (chunked).
    let c = Client::new(&format!("http://{addr}"), Some(TOKEN))
        .unwrap()
        .gzip(false)
        .bucket("b");
    for _ in 0..5 {
        c.write_line_protocol("m v=1\n").unwrap();
    }
    let clone = c.clone();
    clone.write_line_protocol("m v=1\n").unwrap();
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        1,
        "one connection for six writes"
    );
}

/// `count` lines of about 40 bytes, each a distinct point.
fn lines(count: usize) -> String {
    (0..count)
        .map(|i| format!("big,host=h{} v={i}i {}\n", i % 7, 1_700_000_000 + i))
        .collect()
}

/// No control character and no direction override in what a person sees.
fn assert_shown_safe(shown: &str) {
    assert!(
        !shown
            .chars()
            .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
        "{shown:?}"
    );
    assert!(!shown.contains(TOKEN), "{shown}");
}

#[test]
fn redirects_are_never_followed_nor_counted_written() {
    for status in [301u16, 302, 303, 307, 308] {
        for gzip in [false, true] {
            let server = TestServer::builder()
                .fault_plan(FaultPlan::new().always(Fault::Redirect { status }))
                .start();
            let c = client(&server).gzip(gzip);
            let e = server_err(c.write_line_protocol("m v=1 1\n"));
            assert_eq!(e.status, status);
            assert_eq!(e.outcome, Outcome::Unexpected);
            assert_eq!(e.action(), Action::Stop);
            let location = e.location.clone().unwrap();
            assert!(location.contains("/portal/login"), "{location}");
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!(
                    "the server redirected the write (HTTP {status}) to http://127.0.0.1:"
                )),
                "{shown}"
            );
            assert!(shown.contains("nothing was stored"), "{shown}");
            assert_shown_safe(&shown);
            assert_eq!(server.total_points(), 0);
            // The portal was never asked: the redirect was not followed.
            let paths: Vec<String> = server.requests().iter().map(|r| r.path.clone()).collect();
            assert_eq!(paths, ["/api/v2/write"], "status {status}");
        }
    }
}

#[test]
fn an_early_413_is_heard_through_expect_100_continue() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().always(Fault::TooLargeBeforeBody {
            over: 1 << 20,
            drain: false,
        }))
        .start();
    let body = lines(100_000);
    assert!(body.len() > 3 << 20);
    let c = client(&server).gzip(false);
    let e = server_err(c.write_line_protocol(&body));
    assert_eq!((e.status, e.action()), (413, Action::Split));
    assert_eq!(e.max_length, Some(1 << 20));
    let req = &server.write_requests()[0];
    assert_eq!(req.header("expect"), Some("100-continue"));
    assert!(req.body.is_empty(), "the body was not sent");
    assert_eq!(server.total_points(), 0);

    // Small bodies go without it: no extra round trip.
    c.write_line_protocol("m v=1 1\n").unwrap();
    assert_eq!(server.write_requests()[1].header("expect"), None);

    // With gzip, a large body is compressed up front: a length, and the expectation.
    let server = TestServer::start();
    let big = lines(200_000);
    let c = client(&server).gzip(true).expect_continue_above(Some(1000));
    c.write_line_protocol(&big).unwrap();
    let req = server.write_requests().pop().unwrap();
    assert_eq!(req.header("expect"), Some("100-continue"));
    assert!(req.header("content-length").is_some());
    assert_eq!(req.header("transfer-encoding"), None);
    assert_eq!(server.point_count("farm"), 200_000);
}

#[test]
fn the_status_decides_once_it_is_read() {
    let server = TestServer::builder()
        .fault_plan(
            FaultPlan::new()
                .on_request(
                    1,
                    Fault::ManyHeaders {
                        count: 40,
                        len: 1000,
                    },
                )
                .on_request(2, Fault::BrokenChunkedResponse)
                .on_request(3, Fault::PadErrorBody { bytes: 300_000 })
                .on_request(
                    4,
                    Fault::ManyHeaders {
                        count: 40,
                        len: 1000,
                    },
                )
                .on_request(4, Fault::AnswerAsV1),
        )
        .start();
    let c = client(&server);
    // A 204 with 40 KB of headers is written.
    assert_eq!(c.write_line_protocol("m v=1 1\n").unwrap().status, 204);
    assert_eq!(server.point_count("farm"), 1);
    // A 200 whose chunked body breaks is written: the server stored it.
    assert_eq!(c.write_line_protocol("m v=2 2\n").unwrap().status, 200);
    assert_eq!(server.point_count("farm"), 2);
    // A 400 with an error body over the limit is a 400, cut.
    let e = server_err(c.write_line_protocol("m v=3 3\nbad\n"));
    // The JSON is cut, and closed again for parsing: still a partial write.
    assert!(matches!(e.outcome, Outcome::PartiallyWritten(_)), "{e:?}");
    assert_eq!(e.rejected_lines, [2]);
    assert_eq!(e.code.as_deref(), Some("invalid"));
    assert!(e.body_truncated);
    assert_eq!(
        e.raw_body().len() as u64,
        linewire_std::client::MAX_ERROR_BODY
    );
    let shown = e.to_string();
    assert!(shown.contains("cut short"), "{shown}");
    assert!(shown.chars().count() < 1200, "bounded: {}", shown.len());
    assert_eq!(server.point_count("farm"), 3);
    // A 1.x-style partial write quoting a long line, under many long headers.
    let long = format!("bad line {}", "x".repeat(5000));
    let e = server_err(c.write_line_protocol(&format!("m v=4 4\n{long}\n")));
    assert!(matches!(e.outcome, Outcome::PartiallyWritten(_)), "{e:?}");
    assert!(e.influxdb_error.as_deref().unwrap().contains(&long), "raw");
    assert_eq!(e.dropped, Some(0));
    let shown = e.to_string();
    assert!(shown.chars().count() < 1200, "bounded: {}", shown.len());
    assert_eq!(server.point_count("farm"), 4);
}

#[test]
fn a_broken_chunked_400_is_still_a_400() {
    let server = TestServer::builder()
        .mode(Mode::Core3)
        .fault_plan(FaultPlan::new().always(Fault::BrokenChunkedResponse))
        .start();
    let c = client(&server);
    let e = server_err(c.write_line_protocol("m v=1 1\nbad\n"));
    assert_eq!((e.status, e.action()), (400, Action::Drop));
    assert!(e.body_truncated);
    assert_eq!(server.point_count("farm"), 0);
}

#[test]
fn the_token_echoed_by_the_server_is_never_shown() {
    let server = TestServer::builder()
        .token("the-right-one")
        .fault_plan(FaultPlan::new().always(Fault::EchoAuthorization))
        .start();
    let c = client(&server);
    let e = c.write_line_protocol("m v=1 1\n").unwrap_err();
    let s = e.server().unwrap();
    assert_eq!(s.outcome, Outcome::Unauthorized);
    assert!(
        s.message.as_deref().unwrap().contains(TOKEN),
        "the raw text keeps it"
    );
    assert!(String::from_utf8_lossy(s.raw_body()).contains(TOKEN));
    for shown in [
        e.to_string(),
        format!("{e:?}"),
        s.to_string(),
        format!("{s:?}"),
    ] {
        assert!(!shown.contains(TOKEN), "{shown}");
    }
    let shown = e.to_string();
    assert!(
        shown.starts_with("the server did not accept the token (HTTP 401): unauthorized access"),
        "{shown}"
    );
    assert!(shown.contains("Token [redacted]"), "{shown}");

    // A 400 echoing it, with the right token.
    let c = Client::new(&server.url(), Some("the-right-one"))
        .unwrap()
        .bucket("farm");
    let e = c.write_line_protocol("m v=1 1\nbad\n").unwrap_err();
    let shown = format!("{e} {e:?}");
    assert!(!shown.contains("the-right-one"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[test]
fn control_characters_from_the_server_are_never_shown() {
    for json_escaped in [false, true] {
        let server = TestServer::builder()
            .fault_plan(FaultPlan::new().always(Fault::ControlCharacters { json_escaped }))
            .start();
        let c = client(&server);
        let e = c.write_line_protocol("m v=1 1\n").unwrap_err();
        let s = e.server().unwrap();
        assert_eq!((s.status, s.action()), (400, Action::Drop));
        assert!(s.platform_error_code.as_deref().unwrap().contains('\u{9b}'));
        let shown = e.to_string();
        assert_shown_safe(&shown);
        assert!(shown.contains("unable to parse line"), "{shown}");
        assert_shown_safe(&format!("{s:?}").replace("\\u{", "u{"));
        assert_eq!(server.total_points(), 0);
    }
}

#[test]
fn a_connection_the_server_closed_while_idle_is_not_reused() {
    // ureq 3 probes a pooled connection before reusing it (a non-blocking
    // read that sees the server's FIN), so a stale connection costs nothing.
    // The server here sends its FIN after each answer but goes on reading:
    // a write sent on the stale connection anyway would be recorded on it
    // (a server that closed for good never sees that failed attempt).
    let server = raw::start(|_, _| {
        raw::Reply::SendThenHalfClose(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec())
    });
    let c = Client::new(&server.url, Some(TOKEN))
        .unwrap()
        .bucket("farm")
        .gzip(false);
    c.write_line_protocol("m v=1 1\n").unwrap();
    // The FIN follows the answer at once; give it time to arrive.
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    c.write_line_protocol("m v=2 2\n").unwrap();
    assert!(start.elapsed() < Duration::from_millis(500));
    let conns: Vec<(usize, Vec<u8>)> = server
        .requests()
        .into_iter()
        .map(|r| (r.conn, r.body))
        .collect();
    assert_eq!(
        conns,
        [(1, b"m v=1 1\n".to_vec()), (2, b"m v=2 2\n".to_vec())],
        "no failed attempt: the second write on a new connection"
    );
}

#[test]
fn a_connection_closed_before_the_answer_is_tried_again_at_once() {
    // The server drops the kept-alive connection as the second write
    // arrives, as one does that closed it a moment before.
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(2, Fault::CloseBeforeBody))
        .start();
    let c = client(&server);
    c.write_line_protocol("m v=1 1\n").unwrap();
    let start = Instant::now();
    c.write_line_protocol("m v=2 2\n").unwrap();
    assert!(start.elapsed() < Duration::from_secs(2), "no backoff");
    let reqs = server.write_requests();
    assert_eq!(reqs.len(), 3);
    assert_eq!(reqs[2].header("expect"), Some("100-continue"));
    assert_eq!(server.point_count("farm"), 2);
}

#[test]
fn a_body_refused_early_with_a_reset_is_heard_on_the_resend() {
    // Without the expectation the body is sent whole and the server resets
    // the connection under it: the 413 is lost. The resend at once carries
    // `Expect: 100-continue` and hears it.
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().always(Fault::TooLargeBeforeBody {
            over: 64 * 1024,
            drain: false,
        }))
        .start();
    let body = lines(200_000);
    let c = client(&server).gzip(false).expect_continue_above(None);
    let e = server_err(c.write_line_protocol(&body));
    assert_eq!((e.status, e.action()), (413, Action::Split));
    let reqs = server.write_requests();
    assert_eq!(reqs.len(), 2, "the first attempt was reset");
    assert_eq!(reqs[0].header("expect"), None);
    assert_eq!(reqs[1].header("expect"), Some("100-continue"));
    assert!(reqs.iter().all(|r| r.body.is_empty()));
    assert_eq!(server.total_points(), 0);
}

#[test]
fn a_2xx_before_the_body_was_sent_is_not_a_write() {
    // A server (or proxy) answering 200 to an `Expect: 100-continue`
    // request at once: ureq then never sends the body.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&heads);
    let serve = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            if line
                .to_ascii_lowercase()
                .starts_with("expect: 100-continue")
            {
                seen.fetch_add(1, Ordering::SeqCst);
            }
            line.clear();
        }
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .unwrap();
    });
    let c = Client::new(&url, Some(TOKEN))
        .unwrap()
        .bucket("farm")
        .gzip(false)
        .expect_continue_above(Some(1));
    let e = server_err(c.write_line_protocol("m v=1 1\n"));
    serve.join().unwrap();
    assert_eq!(heads.load(Ordering::SeqCst), 1);
    assert_eq!((e.status, e.outcome), (200, Outcome::Unexpected));
    assert_eq!(e.action(), Action::Stop);
    let shown = e.to_string();
    assert!(
        shown.contains(
            "answered before the request body was sent (HTTP 200), so nothing was stored"
        ),
        "{shown}"
    );
}

#[test]
fn a_head_ureq_cannot_parse_is_a_transport_error() {
    // ureq parses at most 128 response headers: beyond, there is no status
    // to decide by, and the (stored) write is resent later, harmlessly.
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(
            1,
            Fault::ManyHeaders {
                count: 200,
                len: 10,
            },
        ))
        .start();
    let c = client(&server);
    let e = c.write_line_protocol("m v=1 1\n").unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(server.point_count("farm"), 1, "the server had stored it");
    c.write_line_protocol("m v=1 1\n").unwrap();
    assert_eq!(
        server.point_count("farm"),
        1,
        "the resend stores nothing twice"
    );
}

/// A keep-alive server that never answers `Expect: 100-continue` (as some
/// proxies and small servers do): it reads each request whole and answers
/// 204.
fn ignoring_expect() -> raw::Server {
    raw::start(|_, _| raw::Reply::Send(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()))
}

/// A minimal HTTP/1.1 server for answers the test kit does not script.
#[path = "support/raw.rs"]
mod raw;

#[test]
fn a_server_ignoring_expect_costs_the_wait_once() {
    let server = ignoring_expect();
    let client = Client::new(&server.url, Some("t"))
        .unwrap()
        .bucket("b")
        .gzip(false);
    let body = "m,host=a value=1 1700000000\n".repeat(12_000);
    assert!(body.len() > linewire_std::client::EXPECT_CONTINUE_ABOVE);
    let started = Instant::now();
    for _ in 0..4 {
        client.write_line_protocol(&body).unwrap();
    }
    let asked: Vec<bool> = server
        .requests()
        .iter()
        .map(|r| r.head.to_ascii_lowercase().contains("expect: 100-continue"))
        .collect();
    assert_eq!(
        asked,
        [true, false, false, false],
        "only the first write asks"
    );
    // One wait of about a second, not four.
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}
