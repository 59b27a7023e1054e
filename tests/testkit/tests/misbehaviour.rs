//! The misbehaviours of issue 12: redirects to a login portal, an early 413 with and without
//! draining, 1.x-style answers, many and long headers, padded error bodies, broken chunking,
//! an echoed `Authorization` header and control characters in messages. Each test also checks
//! what the fault stored.

mod common;

use common::*;
use linewire_testkit::{Fault, FaultPlan, TestServer};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

fn with(plan: FaultPlan) -> TestServer {
    TestServer::builder().fault_plan(plan).start()
}

/// Everything the server sends on a new connection until it closes.
fn read_to_close(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

#[test]
fn redirects_point_at_a_portal_that_answers_200_to_any_method() {
    for status in [301u16, 302, 303, 307, 308] {
        let s = with(FaultPlan::new().always(Fault::Redirect { status }));
        let r = write_v2(s.addr(), "bucket=b&precision=s", &[], "m f=1 1");
        assert_eq!(r.status, status);
        let location = r.header("location").unwrap().to_string();
        assert!(
            location.starts_with("http://localhost/portal/login?"),
            "{location}"
        );
        assert_eq!(s.point_count("b"), 0, "a redirect stores nothing");
        assert_eq!(s.faults()[0].fault, Fault::Redirect { status });
        // Following it, by any method, gets a 200 for data that was never stored.
        for method in ["GET", "POST"] {
            let req = format!(
                "{method} /portal/login?next=%2Fapi%2Fv2%2Fwrite HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"
            );
            let page = raw(s.addr(), req.as_bytes());
            assert_eq!(page.status, 200, "{method}");
            assert!(page.body.contains("log in"), "{}", page.body);
        }
        assert_eq!(s.point_count("b"), 0);
    }
}

fn big_body(bytes: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(bytes + 32);
    let mut i = 0u64;
    while body.len() < bytes {
        body.extend_from_slice(format!("m,k=v f={i}i {}\n", 1_700_000_000 + i).as_bytes());
        i += 1;
    }
    body
}

fn head_of(len: usize, extra: &str) -> Vec<u8> {
    format!(
        "POST /api/v2/write?bucket=b&precision=s HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len}\r\n{extra}\r\n"
    )
    .into_bytes()
}

#[test]
fn early_413_is_sent_after_the_head_before_the_body_and_drained() {
    let s = with(FaultPlan::new().always(Fault::TooLargeBeforeBody {
        over: 1 << 20,
        drain: true,
    }));
    let body = big_body(3 << 20);
    let mut c = Client::connect(s.addr());
    c.send(&head_of(body.len(), ""));
    // The answer comes before a single body byte was sent.
    let r = c.read_response().expect("a 413 before the body");
    assert_eq!(r.status, 413);
    assert_eq!(r.header("connection"), Some("close"));
    assert_eq!(r.json()["maxLength"], "1048576");
    // Draining: the whole body is taken without a reset, then the connection ends.
    c.send(&body);
    // An orderly end: `is_closed` would take a reset for one too.
    let mut rest = Vec::new();
    assert_eq!(c.stream.read_to_end(&mut rest).unwrap(), 0);
    assert_eq!(s.point_count("b"), 0, "nothing of a refused body is stored");
    // A body under the limit goes through normally.
    let small = write_v2(s.addr(), "bucket=b&precision=s", &[], "m f=1 1");
    assert_eq!(small.status, 204);
    assert_eq!(s.point_count("b"), 1);
}

#[test]
fn early_413_without_draining_resets_a_client_still_sending() {
    let s = with(FaultPlan::new().always(Fault::TooLargeBeforeBody {
        over: 1 << 20,
        drain: false,
    }));
    let body = big_body(8 << 20);
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    stream.write_all(&head_of(body.len(), "")).unwrap();
    assert!(s.wait_for_faults(1, Duration::from_secs(5)));
    // The server has answered and closed: keeping on writing the body fails.
    let mut failed = false;
    for piece in body.chunks(64 * 1024) {
        if stream.write_all(piece).is_err() {
            failed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(failed, "writing 8 MiB into a closed connection must fail");
    assert_eq!(s.point_count("b"), 0);
    assert_eq!(s.requests()[0].status, Some(413));
}

#[test]
fn early_413_answers_expect_100_continue_instead_of_100() {
    let s = with(FaultPlan::new().always(Fault::TooLargeBeforeBody {
        over: 1000,
        drain: false,
    }));
    let mut stream = TcpStream::connect(s.addr()).unwrap();
    stream
        .write_all(&head_of(5000, "Expect: 100-continue\r\n"))
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
    // Under the limit, the same request gets its 100 Continue and is stored.
    let body = b"m f=1 1\n";
    let mut c = Client::connect(s.addr());
    c.send(&head_of(body.len(), "Expect: 100-continue\r\n"));
    let mut first = [0u8; 25];
    c.stream.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(body);
    assert_eq!(c.read_response().unwrap().status, 204);
    assert_eq!(s.point_count("b"), 1);
}

#[test]
fn early_413_on_a_chunked_body_comes_once_the_limit_is_read() {
    let s = with(FaultPlan::new().always(Fault::TooLargeBeforeBody {
        over: 100,
        drain: true,
    }));
    let head = b"POST /api/v2/write?bucket=b&precision=s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    // 3 MiB in 64 KiB chunks: the first chunk alone is over the limit.
    let body = big_body(3 << 20);
    let chunks: Vec<Vec<u8>> = body
        .chunks(64 * 1024)
        .map(|chunk| [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat())
        .collect();
    let mut c = Client::connect(s.addr());
    c.send(&[head.as_slice(), &chunks[0]].concat());
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["maxLength"], "100");
    // The rest of the body is sent after the 413, as a client still writing
    // does: drained to the end of the chunked body, then closed (an orderly
    // end). Left unread, it would reset the connection under the client.
    c.send(&[&chunks[1..].concat(), b"0\r\n\r\n".as_slice()].concat());
    let mut rest = Vec::new();
    assert_eq!(c.stream.read_to_end(&mut rest).unwrap(), 0);
    assert_eq!(s.point_count("b"), 0);
}

#[test]
fn answer_as_v1_is_a_partial_write_quoting_the_long_line() {
    let s = with(FaultPlan::new().always(Fault::AnswerAsV1));
    let long_bad = format!("m,k=v f=1 1 {}", "x".repeat(3000));
    let r = write_v2(
        s.addr(),
        "bucket=b&precision=s",
        &[],
        &format!("m f=2 2\n{long_bad}\n"),
    );
    assert_eq!(r.status, 400);
    let header = r.header("x-influxdb-error").unwrap();
    assert!(
        header.starts_with("partial write: unable to parse '"),
        "{header}"
    );
    assert!(header.contains(&long_bad), "the whole line is quoted");
    assert!(header.ends_with("dropped=0"), "{header}");
    assert!(r.json()["error"].as_str().unwrap().contains(&long_bad));
    let points = s.points("b");
    assert_eq!(points.len(), 1, "the good line is stored");
    assert_eq!(points[0].timestamp_ns, 2_000_000_000);
}

#[test]
fn many_long_headers_on_a_204_and_a_1x_partial_write() {
    let s = with(
        FaultPlan::new()
            .on_request(
                1,
                Fault::ManyHeaders {
                    count: 40,
                    len: 1000,
                },
            )
            .on_request(
                2,
                Fault::ManyHeaders {
                    count: 40,
                    len: 1000,
                },
            )
            .on_request(2, Fault::AnswerAsV1),
    );
    let r = write_v2(s.addr(), "bucket=b&precision=s", &[], "m f=1 1");
    assert_eq!(r.status, 204);
    assert_eq!(r.header("x-testkit-filler-39").map(str::len), Some(1000));
    assert_eq!(s.point_count("b"), 1);
    let r = write_v2(s.addr(), "bucket=b&precision=s", &[], "m f=2 2\nbad\n");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.headers
            .iter()
            .filter(|(k, _)| k.starts_with("X-Testkit-Filler-"))
            .count(),
        40
    );
    assert!(r.header("x-influxdb-error").unwrap().contains("'bad'"));
    assert_eq!(s.point_count("b"), 2);
}

#[test]
fn padded_error_body_keeps_its_fields_first() {
    let s = with(FaultPlan::new().always(Fault::PadErrorBody { bytes: 200_000 }));
    let r = write_v2(s.addr(), "bucket=b&precision=s", &[], "m f=1 1\nbad\n");
    assert_eq!(r.status, 400);
    assert!(r.body.len() >= 200_000, "{}", r.body.len());
    assert!(
        r.body
            .starts_with(r#"{"code":"invalid","line":2,"message":"#),
        "{}",
        &r.body[..80]
    );
    assert_eq!(
        s.point_count("b"),
        1,
        "the good line of the partial write is stored"
    );
    // A success is not padded (a 204 would not show it: the record does).
    let ok = write_v2(s.addr(), "bucket=b&precision=s", &[], "m f=1 2");
    assert_eq!(ok.status, 204);
    assert_eq!(s.point_count("b"), 2);
    assert_eq!(hit_writes(&s), [1], "padded: only the 400");
}

/// The write numbers the recorded faults hit.
fn hit_writes(s: &TestServer) -> Vec<u64> {
    s.faults().iter().filter_map(|f| f.write_number).collect()
}

#[test]
fn broken_chunking_after_a_200_stores_and_after_a_400_rejects() {
    let s = with(FaultPlan::new().always(Fault::BrokenChunkedResponse));
    let out = read_to_close(
        s.addr(),
        &post("/api/v2/write?bucket=b&precision=s", &[], b"m f=1 1"),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("Transfer-Encoding: chunked\r\n"), "{text}");
    assert!(text.ends_with("zz not a chunk size\r\n"), "{text}");
    assert_eq!(s.point_count("b"), 1, "the points of the 200 are stored");

    let s = TestServer::builder()
        .mode(linewire_testkit::Mode::Core3)
        .fault_plan(FaultPlan::new().always(Fault::BrokenChunkedResponse))
        .start();
    let out = read_to_close(
        s.addr(),
        &post("/api/v2/write?bucket=b&precision=s", &[], b"m f=1 1\nbad\n"),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{text}");
    assert!(text.ends_with("zz not a chunk size\r\n"), "{text}");
    assert_eq!(s.point_count("b"), 0, "3 Core rejects the whole batch");
}

#[test]
fn echo_authorization_puts_the_token_in_401_and_400_bodies() {
    let s = TestServer::builder()
        .token("right-token")
        .fault_plan(FaultPlan::new().always(Fault::EchoAuthorization))
        .start();
    let r = write_v2(
        s.addr(),
        "bucket=b&precision=s",
        &[("Authorization", "Token wrong-secret-123")],
        "m f=1 1",
    );
    assert_eq!(r.status, 401);
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(msg.starts_with("unauthorized access"), "{msg}");
    assert!(msg.contains("Token wrong-secret-123"), "{msg}");
    let r = write_v2(
        s.addr(),
        "bucket=b&precision=s",
        &[("Authorization", "Token right-token")],
        "m f=1 1\nbad\n",
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("Token right-token"));
    assert_eq!(s.point_count("b"), 1);
    // Successes echo nothing (a 204 would not show it: the record does).
    let ok = write_v2(
        s.addr(),
        "bucket=b&precision=s",
        &[("Authorization", "Token right-token")],
        "m f=1 2",
    );
    assert_eq!(ok.status, 204);
    assert_eq!(hit_writes(&s), [1, 2], "echoed: only the 401 and the 400");
}

#[test]
fn control_characters_raw_and_json_escaped() {
    for json_escaped in [false, true] {
        let s = with(FaultPlan::new().always(Fault::ControlCharacters { json_escaped }));
        let r = write_v2(s.addr(), "bucket=b&precision=s", &[], "m f=1 1");
        assert_eq!(r.status, 400);
        assert!(r
            .header("x-platform-error-code")
            .unwrap()
            .contains('\u{9b}'));
        let message = if json_escaped {
            assert!(r.body.contains(r"\u001b[2J"), "{}", r.body);
            r.json()["message"].as_str().unwrap().to_string()
        } else {
            assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
            r.body.clone()
        };
        for c in ['\u{1b}', '\u{7}', '\r', '\u{9b}'] {
            assert!(message.contains(c), "{c:?} in {message:?}");
        }
        assert_eq!(s.point_count("b"), 0, "json_escaped={json_escaped}");
    }
}
