//! Every scripted fault, the random plan, and the down/up switch.

mod common;

use common::*;
use linewire_testkit::{DownMode, Fault, FaultPlan, RecordedFault, TestServer};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn one(plan: FaultPlan) -> TestServer {
    TestServer::builder().fault_plan(plan).start()
}

fn w(s: &TestServer, body: &str) -> Raw {
    write_v2(s.addr(), "bucket=b&precision=s", &[], body)
}

#[test]
fn too_many_requests_with_retry_after() {
    let s = one(FaultPlan::new().on_request(
        1,
        Fault::TooManyRequests {
            retry_after_secs: 7,
        },
    ));
    let r = w(&s, "m f=1 1");
    assert_eq!(r.status, 429);
    assert_eq!(r.header("Retry-After"), Some("7"));
    assert_eq!(r.json()["code"], "too many requests");
    assert_eq!(s.point_count("b"), 0, "a 429 stores nothing");
    assert_eq!(w(&s, "m f=1 1").status, 204, "only request 1 is hit");
    assert_eq!(s.point_count("b"), 1);
    assert_eq!(
        s.faults(),
        vec![RecordedFault {
            request_seq: Some(1),
            write_number: Some(1),
            fault: Fault::TooManyRequests {
                retry_after_secs: 7
            }
        }]
    );
}

#[test]
fn service_unavailable_with_and_without_retry_after() {
    let s = one(FaultPlan::new()
        .on_request(
            1,
            Fault::ServiceUnavailable {
                retry_after_secs: Some(3),
            },
        )
        .on_request(
            2,
            Fault::ServiceUnavailable {
                retry_after_secs: None,
            },
        ));
    let r = w(&s, "m f=1 1");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert!(r.json()["message"].is_string());
    let r = w(&s, "m f=1 1");
    assert_eq!(r.status, 503);
    assert_eq!(r.header("retry-after"), None);
    assert_eq!(s.faults().len(), 2);
    assert_eq!(s.point_count("b"), 0);
}

#[test]
fn internal_error_500() {
    let s = one(FaultPlan::new().on_request(1, Fault::InternalError));
    let r = w(&s, "m f=1 1");
    assert_eq!(r.status, 500);
    assert_eq!(r.json()["code"], "internal error");
    assert_eq!(s.faults()[0].fault, Fault::InternalError);
}

#[test]
fn bad_gateway_502_with_html() {
    let s = one(FaultPlan::new().on_request(1, Fault::BadGateway));
    let r = w(&s, "m f=1 1");
    assert_eq!(r.status, 502);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.body.contains("<h1>502 Bad Gateway</h1>"), "{}", r.body);
    assert!(serde_json::from_str::<serde_json::Value>(&r.body).is_err());
}

#[test]
fn payload_too_large_by_size_and_by_plan() {
    let s = TestServer::builder().max_body(64).start();
    let big = "m f=1 1\n".repeat(10); // 80 bytes
    let r = w(&s, &big);
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json(),
        serde_json::json!({"code":"invalid","message":"http: request body too large","maxLength":"64"})
    );
    assert_eq!(s.faults()[0].fault, Fault::PayloadTooLarge);
    assert_eq!(w(&s, "m f=1 1").status, 204, "small bodies pass");

    // Chunked bodies are limited too.
    let mut req =
        b"POST /api/v2/write?bucket=b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(b"20\r\nm f=1 1\nm f=1 1\nm f=1 1\nm f=1 1\n\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(s.addr(), &req).status, 413);

    // Decompressed size counts.
    let zipped = gzip(big.as_bytes());
    assert!(zipped.len() <= 64);
    let r = raw(
        s.addr(),
        &post(
            "/api/v2/write?bucket=b",
            &[("Content-Encoding", "gzip")],
            &zipped,
        ),
    );
    assert_eq!(r.status, 413);
    assert_eq!(s.point_count("b"), 1);

    let s = one(FaultPlan::new().on_request(1, Fault::PayloadTooLarge));
    let r = w(&s, "m f=1 1");
    assert_eq!(r.status, 413);
    assert_eq!(r.json()["maxLength"], (10 * 1024 * 1024).to_string());
}

#[test]
fn delay_before_answering() {
    let d = Duration::from_millis(300);
    let s = one(FaultPlan::new().on_request(1, Fault::Delay(d)));
    let t = Instant::now();
    assert_eq!(w(&s, "m f=1 1").status, 204);
    assert!(t.elapsed() >= d, "answered after {:?}", t.elapsed());
    assert_eq!(s.faults()[0].fault, Fault::Delay(d));
    assert_eq!(s.point_count("b"), 1);
}

#[test]
fn delay_combines_with_a_status() {
    let s = one(FaultPlan::new()
        .on_request(1, Fault::Delay(Duration::from_millis(50)))
        .on_request(
            1,
            Fault::ServiceUnavailable {
                retry_after_secs: Some(1),
            },
        ));
    assert_eq!(w(&s, "m f=1 1").status, 503);
    let f: Vec<Fault> = s.faults().into_iter().map(|f| f.fault).collect();
    assert_eq!(
        f,
        vec![
            Fault::Delay(Duration::from_millis(50)),
            Fault::ServiceUnavailable {
                retry_after_secs: Some(1)
            }
        ]
    );
}

#[test]
fn close_before_body_stores_nothing() {
    let s = one(FaultPlan::new().on_request(1, Fault::CloseBeforeBody));
    let mut c = Client::connect(s.addr());
    c.send(b"POST /api/v2/write?bucket=b HTTP/1.1\r\nContent-Length: 7\r\n\r\n");
    assert!(c.read_response().is_none(), "no answer");
    assert_eq!(s.point_count("b"), 0);
    let rec = s.requests();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].status, None);
    assert!(rec[0].body.is_empty());
    assert_eq!(s.faults()[0].fault, Fault::CloseBeforeBody);
    assert!(s.wait_for_requests(1, WAIT));
    assert_eq!(w(&s, "m f=1 1").status, 204);
}

#[test]
fn close_after_body_stores_the_write() {
    let s = one(FaultPlan::new().on_request(1, Fault::CloseAfterBody));
    let mut c = Client::connect(s.addr());
    c.send(&post("/api/v2/write?bucket=b", &[], b"m f=1 1"));
    assert!(c.read_response().is_none(), "no answer");
    assert!(s.wait_for_points("b", 1, WAIT), "the write happened");
    assert_eq!(s.requests()[0].status, None);
    assert_eq!(s.requests()[0].body, b"m f=1 1");
    assert_eq!(s.faults()[0].fault, Fault::CloseAfterBody);
    // A retry of the same batch is idempotent.
    assert_eq!(w(&s, "m f=1 0.000000001").status, 400);
    assert_eq!(write_v2(s.addr(), "bucket=b", &[], "m f=1 1").status, 204);
    assert_eq!(s.point_count("b"), 1);
}

#[test]
fn chunked_response_body() {
    let s = one(FaultPlan::new()
        .on_request(1, Fault::ChunkedResponse)
        .on_request(2, Fault::ChunkedResponse));
    let r = w(&s, "m f=1 1\nbad");
    assert_eq!(r.status, 400);
    assert!(r.chunked);
    assert!(r.header("content-length").is_none());
    assert_eq!(r.json()["line"], 2);
    // A 204 has no body to chunk: the fault is not applied and not recorded.
    assert_eq!(w(&s, "m f=1 2").status, 204);
    assert_eq!(s.faults().len(), 1);
    // ureq reads the chunked answer too.
    s.set_faults(FaultPlan::new().always(Fault::ChunkedResponse));
    let mut r = agent().post(&s.write_url("b", "s")).send("oops").unwrap();
    assert_eq!(r.status(), 400);
    assert!(r
        .body_mut()
        .read_to_string()
        .unwrap()
        .contains("\"line\":1"));
}

#[test]
fn connection_close_answers() {
    let s = one(FaultPlan::new().on_request(2, Fault::ConnectionClose));
    let mut c = Client::connect(s.addr());
    let r = c.request(&post("/api/v2/write?bucket=b", &[], b"m f=1 1"));
    assert!(r.header("connection").is_none());
    let r = c.request(&post("/api/v2/write?bucket=b", &[], b"m f=1 2"));
    assert_eq!(r.status, 204);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
    assert_eq!(s.point_count("b"), 2);
    assert_eq!(s.faults()[0].write_number, Some(2));
}

#[test]
fn split_writes_still_form_a_valid_response() {
    let s = one(FaultPlan::new().always(Fault::SplitWrites));
    let r = w(&s, "bad");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["line"], 1);
    let r = w(&s, "m f=1 1");
    assert_eq!(r.status, 204);
    assert_eq!(s.faults().len(), 2);
    assert!(s.faults().iter().all(|f| f.fault == Fault::SplitWrites));
    let r = agent()
        .post(&s.write_url("b", "s"))
        .send("m f=2 2")
        .unwrap();
    assert_eq!(r.status(), 204);
}

#[test]
fn random_plan_is_deterministic_by_seed() {
    let run = |seed: u64| {
        let s = one(FaultPlan::new()
            .random(0.3, Fault::InternalError)
            .seed(seed));
        let mut c = Client::connect(s.addr());
        let statuses: Vec<u16> = (0..60)
            .map(|i| {
                c.request(&post(
                    "/api/v2/write?bucket=b",
                    &[],
                    format!("m f=1 {i}").as_bytes(),
                ))
                .status
            })
            .collect();
        let hit: Vec<u64> = s.faults().iter().map(|f| f.write_number.unwrap()).collect();
        let expected: Vec<u64> = (1..=60)
            .filter(|&n| {
                !FaultPlan::new()
                    .random(0.3, Fault::InternalError)
                    .seed(seed)
                    .faults_for(n)
                    .is_empty()
            })
            .collect();
        assert_eq!(hit, expected);
        assert_eq!(statuses.iter().filter(|&&st| st == 500).count(), hit.len());
        assert_eq!(s.point_count("b"), 60 - hit.len());
        hit
    };
    let a = run(1);
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
    assert!(!a.is_empty() && a.len() < 60);
}

#[test]
fn set_faults_renumbers_from_now() {
    let s = TestServer::start();
    for i in 0..3 {
        assert_eq!(w(&s, &format!("m f=1 {i}")).status, 204);
    }
    s.set_faults(FaultPlan::new().on_request(1, Fault::InternalError));
    assert_eq!(w(&s, "m f=1 10").status, 500);
    assert_eq!(w(&s, "m f=1 11").status, 204);
    assert_eq!(s.faults()[0].request_seq, Some(4));
    assert_eq!(s.faults()[0].write_number, Some(1));
    s.clear_faults();
    s.set_faults(FaultPlan::new().on_requests(2..=3, Fault::BadGateway));
    let st: Vec<u16> = (0..4)
        .map(|i| w(&s, &format!("m f=1 {}", 20 + i)).status)
        .collect();
    assert_eq!(st, vec![204, 502, 502, 204]);
}

#[test]
fn faults_do_not_hit_ping_or_health() {
    let s = one(FaultPlan::new().always(Fault::InternalError));
    assert_eq!(raw(s.addr(), b"GET /ping HTTP/1.1\r\n\r\n").status, 204);
    assert_eq!(raw(s.addr(), b"GET /health HTTP/1.1\r\n\r\n").status, 200);
    assert!(s.faults().is_empty());
    assert_eq!(w(&s, "m f=1 1").status, 500);
}

#[test]
fn down_refuse_and_up_again() {
    let s = TestServer::start();
    let mut idle = Client::connect(s.addr());
    assert_eq!(
        idle.request(&post("/api/v2/write?bucket=b", &[], b"m f=1 1"))
            .status,
        204
    );
    s.set_down(DownMode::Refuse);
    assert!(s.is_down());
    let err = TcpStream::connect(s.addr()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert!(idle.is_closed(), "open connections are shut down");
    s.set_up().unwrap();
    assert!(!s.is_down());
    assert_eq!(w(&s, "m f=1 2").status, 204);
    assert_eq!(s.point_count("b"), 2);
}

#[test]
fn down_close_immediately() {
    let s = TestServer::start();
    let mut open = Client::connect(s.addr());
    assert_eq!(
        open.request(&post("/api/v2/write?bucket=b", &[], b"m f=1 1"))
            .status,
        204
    );
    s.set_down(DownMode::CloseImmediately);
    let mut c = Client::connect(s.addr());
    c.send(&post("/api/v2/write?bucket=b", &[], b"m f=1 2"));
    assert!(c.read_response().is_none());
    open.send(&post("/api/v2/write?bucket=b", &[], b"m f=1 3"));
    assert!(open.read_response().is_none());
    assert!(s.wait_for_faults(2, WAIT));
    assert!(s.faults().iter().all(|f| f.fault == Fault::ClosedWhileDown));
    assert_eq!(s.point_count("b"), 1);
    s.set_up().unwrap();
    assert_eq!(w(&s, "m f=1 4").status, 204);
}

#[test]
fn drop_stops_the_server() {
    let s = TestServer::start();
    let addr = s.addr();
    let mut c = Client::connect(addr);
    assert_eq!(c.request(b"GET /ping HTTP/1.1\r\n\r\n").status, 204);
    // A long delay in progress must not hold up the drop.
    s.set_faults(FaultPlan::new().always(Fault::Delay(Duration::from_secs(60))));
    let mut slow = Client::connect(addr);
    slow.send(&post("/api/v2/write?bucket=b", &[], b"m f=1 1"));
    assert!(s.wait_for_faults(1, WAIT));
    let t = Instant::now();
    drop(s);
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "drop took {:?}",
        t.elapsed()
    );
    assert!(c.is_closed());
    assert!(slow.read_response().is_none());
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn oversized_body_from_ureq_gets_the_413_answer() {
    let s = TestServer::builder().max_body(1024).start();
    let body = "m f=1 1\n".repeat(25_000); // 200 kB
    let mut r = agent()
        .post(&s.write_url("b", "s"))
        .send(body.as_str())
        .unwrap();
    assert_eq!(r.status(), 413);
    let j: serde_json::Value =
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(j["maxLength"], "1024");
    assert_eq!(s.point_count("b"), 0);
    assert_eq!(s.faults()[0].fault, Fault::PayloadTooLarge);
}

/// A small version of the soak: batches through random faults with a retrying client;
/// the stored set must equal the sent set (writes are idempotent).
#[test]
fn retrying_client_through_random_faults_stores_exactly_what_was_sent() {
    let plan = FaultPlan::new()
        .random(
            0.05,
            Fault::ServiceUnavailable {
                retry_after_secs: Some(0),
            },
        )
        .random(
            0.05,
            Fault::TooManyRequests {
                retry_after_secs: 0,
            },
        )
        .random(0.05, Fault::InternalError)
        .random(0.05, Fault::BadGateway)
        .random(0.05, Fault::CloseBeforeBody)
        .random(0.05, Fault::CloseAfterBody)
        .random(0.05, Fault::ConnectionClose)
        .random(0.05, Fault::ChunkedResponse)
        .random(0.02, Fault::SplitWrites)
        .seed(2024);
    let s = one(plan);
    let mut sent = std::collections::BTreeSet::new();
    let mut c = Client::connect(s.addr());
    let mut attempts = 0;
    for batch in 0..200 {
        let mut body = String::new();
        for i in 0..50 {
            let n = batch * 50 + i;
            body.push_str(&format!("m,dev=d{} v={n}i {n}\n", n % 7));
            sent.insert(n as i64);
        }
        loop {
            attempts += 1;
            assert!(attempts < 2000, "client never got through");
            c.send(&post(
                "/api/v2/write?bucket=soak&precision=ns",
                &[],
                body.as_bytes(),
            ));
            match c.read_response() {
                Some(r) if r.status == 204 => {
                    if r.header("connection") == Some("close") {
                        c = Client::connect(s.addr());
                    }
                    break;
                }
                Some(r) => {
                    assert!([429, 500, 502, 503].contains(&r.status), "{r:?}");
                    if r.header("connection") == Some("close") {
                        c = Client::connect(s.addr());
                    }
                }
                None => c = Client::connect(s.addr()),
            }
        }
    }
    assert!(s.wait_for_points("soak", sent.len(), WAIT));
    let stored: std::collections::BTreeSet<i64> =
        s.points("soak").iter().map(|p| p.timestamp_ns).collect();
    assert_eq!(stored, sent);
    assert_eq!(
        s.point_count("soak"),
        sent.len(),
        "retries merged, not duplicated"
    );
    let faults = s.faults();
    for kind in [
        Fault::CloseAfterBody,
        Fault::CloseBeforeBody,
        Fault::InternalError,
    ] {
        assert!(
            faults.iter().any(|f| f.fault == kind),
            "{kind:?} never happened"
        );
    }
    assert!(attempts > 200);
}
