//! The v1 `/write` endpoint, `/ping`, `/health`, routing, and malformed requests.

mod common;

use common::*;
use linewire_testkit::{FieldValue, TestServer};
use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

fn v1(s: &TestServer, query: &str, headers: &[(&str, &str)], body: &str) -> Raw {
    raw(
        s.addr(),
        &post(&format!("/write?{query}"), headers, body.as_bytes()),
    )
}

#[test]
fn v1_write_stores_and_maps_db_rp() {
    let s = TestServer::start();
    let r = v1(&s, "db=mydb&precision=s", &[], "m f=1i 5");
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(s.points("mydb")[0].timestamp_ns, 5_000_000_000);
    assert_eq!(s.points("mydb")[0].fields["f"], FieldValue::I64(1));
    assert_eq!(
        v1(&s, "db=mydb&rp=autogen&precision=n", &[], "m f=1 5").status,
        204
    );
    assert_eq!(s.points("mydb/autogen")[0].timestamp_ns, 5);
    for (p, ns) in [
        ("u", 5_000),
        ("ms", 5_000_000),
        ("m", 300_000_000_000),
        ("h", 18_000_000_000_000),
    ] {
        assert_eq!(
            v1(&s, &format!("db={p}&precision={p}"), &[], "m f=1 5").status,
            204
        );
        assert_eq!(s.points(p)[0].timestamp_ns, ns, "{p}");
    }
}

#[test]
fn v1_errors_use_error_bodies_and_header() {
    let s = TestServer::builder().token("pw").bucket("known").start();
    let r = v1(&s, "precision=s", &[], "m f=1");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "database is required"})
    );
    assert_eq!(r.header("X-Influxdb-Error"), Some("database is required"));

    let r = v1(&s, "db=known&precision=x&p=pw", &[], "m f=1");
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("precision"));

    let r = v1(&s, "db=known", &[], "m f=1");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "authorization failed"})
    );
    assert!(r.header("X-Influxdb-Error").is_some());

    let r = v1(&s, "db=other&u=x&p=pw", &[], "m f=1");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        serde_json::json!({"error": "database not found: \"other\""})
    );
}

#[test]
fn v1_auth_forms() {
    let s = TestServer::builder().token("pw").start();
    assert_eq!(v1(&s, "db=d&u=me&p=pw", &[], "m f=1 1").status, 204);
    assert_eq!(
        v1(&s, "db=d", &[("Authorization", "Token pw")], "m f=1 2").status,
        204
    );
    assert_eq!(
        v1(&s, "db=d", &[("Authorization", "Bearer pw")], "m f=1 3").status,
        204
    );
    // me:pw
    assert_eq!(
        v1(
            &s,
            "db=d",
            &[("Authorization", "Basic bWU6cHc=")],
            "m f=1 4"
        )
        .status,
        204
    );
    assert_eq!(v1(&s, "db=d&u=me&p=nope", &[], "m f=1 5").status, 401);
    assert_eq!(s.point_count("d"), 4);
}

#[test]
fn v1_partial_write() {
    let s = TestServer::start();
    let r = v1(&s, "db=d", &[], "m f=1 1\nbad\nm f=2 2");
    assert_eq!(r.status, 400);
    let e = r.json()["error"].as_str().unwrap().to_string();
    assert!(
        e.starts_with("partial write: unable to parse 'bad': "),
        "{e}"
    );
    assert!(e.ends_with(" dropped=0"), "{e}");
    assert!(r
        .header("X-Influxdb-Error")
        .unwrap()
        .starts_with("partial write"));
    assert_eq!(s.point_count("d"), 2);
}

#[test]
fn v1_gzip() {
    let s = TestServer::start();
    let r = raw(
        s.addr(),
        &post(
            "/write?db=z",
            &[("Content-Encoding", "gzip")],
            &gzip(b"m f=1 1"),
        ),
    );
    assert_eq!(r.status, 204);
    assert_eq!(s.point_count("z"), 1);
}

#[test]
fn ping_health_and_routing() {
    let s = TestServer::start();
    let mut c = Client::connect(s.addr());
    let r = c.request(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 204);
    assert!(r.header("X-Influxdb-Version").is_some());
    let r = c.request(b"HEAD /ping HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 204);
    let r = c.request(b"GET /health HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "pass");
    let r = c.request(b"GET /nope HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "not found");
    let r = c.request(b"GET /api/v2/write?bucket=b HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    // A body on a non-write route is consumed, keeping the connection in sync.
    let r = c.request(b"POST /ping HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
    assert_eq!(r.status, 405);
    let r = c.request(b"GET /ping HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 204);
    assert_eq!(
        agent()
            .get(&format!("{}/ping", s.url()))
            .call()
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        agent()
            .get(&format!("{}/health", s.url()))
            .call()
            .unwrap()
            .status(),
        200
    );
    assert_eq!(s.total_points(), 0);
}

fn still_serving(s: &TestServer) {
    assert_eq!(
        write_v2(s.addr(), "bucket=alive", &[], "m f=1 1").status,
        204
    );
}

#[test]
fn bad_request_line_is_400() {
    let s = TestServer::start();
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET\x01 / HTTP/1.1\r\n\r\n",
        b"\xff\xfe\r\n\r\n",
    ] {
        let mut c = Client::connect(s.addr());
        let r = c.request(bad);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(bad));
        assert_eq!(r.header("connection"), Some("close"));
        assert!(c.is_closed());
    }
    still_serving(&s);
}

#[test]
fn post_without_length_is_411() {
    let s = TestServer::start();
    let mut c = Client::connect(s.addr());
    let r = c.request(b"POST /api/v2/write?bucket=b HTTP/1.1\r\nHost: x\r\n\r\nm f=1 1");
    assert_eq!(r.status, 411);
    assert!(c.is_closed());
    assert_eq!(s.point_count("b"), 0);
    still_serving(&s);
}

#[test]
fn invalid_length_or_chunking_is_400() {
    let s = TestServer::start();
    let cases: [&[u8]; 4] = [
        b"POST /api/v2/write?bucket=b HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST /api/v2/write?bucket=b HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        b"POST /api/v2/write?bucket=b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
        b"POST /api/v2/write?bucket=b HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
    ];
    for req in cases {
        let r = raw(s.addr(), req);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(req));
    }
    still_serving(&s);
}

#[test]
fn oversized_head_is_431() {
    let s = TestServer::builder().max_header_bytes(2048).start();
    let long = "x".repeat(4096);
    let req = format!("POST /api/v2/write?bucket=b HTTP/1.1\r\nX-Long: {long}\r\nContent-Length: 7\r\n\r\nm f=1 1");
    let r = raw(s.addr(), req.as_bytes());
    assert_eq!(r.status, 431);
    // Too many headers.
    let mut many = String::from("GET /ping HTTP/1.1\r\n");
    for i in 0..150 {
        many.push_str(&format!("X-{i}: y\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(raw(s.addr(), many.as_bytes()).status, 431);
    // A head that never ends, sent in pieces.
    let mut c = Client::connect(s.addr());
    c.send(b"GET /ping HTTP/1.1\r\n");
    for _ in 0..100 {
        if c.stream
            .write_all(b"X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
            .is_err()
        {
            break;
        }
    }
    assert_eq!(c.read_response().unwrap().status, 431);
    still_serving(&s);
}

#[test]
fn stalled_request_times_out_with_408_and_idle_connections_close() {
    let s = TestServer::builder()
        .read_timeout(Duration::from_millis(300))
        .start();
    // Head sent, body never completes.
    let mut c = Client::connect(s.addr());
    c.send(b"POST /api/v2/write?bucket=b HTTP/1.1\r\nContent-Length: 100\r\n\r\nm f=1");
    let r = c.read_response().unwrap();
    assert_eq!(r.status, 408);
    assert!(c.is_closed());
    // Half a head.
    let mut c = Client::connect(s.addr());
    c.send(b"POST /api/v2/wri");
    assert_eq!(c.read_response().unwrap().status, 408);
    // An idle keep-alive connection is simply closed.
    let mut c = Client::connect(s.addr());
    assert_eq!(c.request(b"GET /ping HTTP/1.1\r\n\r\n").status, 204);
    assert!(c.read_response().is_none());
    assert_eq!(s.point_count("b"), 0);
    still_serving(&s);
}

#[test]
fn body_shorter_than_length_then_eof() {
    let s = TestServer::start();
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.write_all(b"POST /api/v2/write?bucket=b HTTP/1.1\r\nContent-Length: 50\r\n\r\nm f=1 1")
        .unwrap();
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut out = String::new();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let _ = std::io::Read::read_to_string(&mut c, &mut out);
    assert!(out.is_empty() || out.starts_with("HTTP/1.1 400"), "{out}");
    assert_eq!(s.point_count("b"), 0);
    still_serving(&s);
}

#[test]
fn non_utf8_in_header_and_query_do_not_panic() {
    let s = TestServer::start();
    let r = raw(
        s.addr(),
        b"POST /api/v2/write?bucket=%FF%FE HTTP/1.1\r\nX-Bin: \xff\xfe\r\nContent-Length: 7\r\n\r\nm f=1 1",
    );
    assert_eq!(r.status, 204);
    assert_eq!(s.buckets().len(), 1);
    let r = raw(s.addr(), &post("/write?db=d", &[], b"\xc3\x28 f=1"));
    assert_eq!(r.status, 400);
    still_serving(&s);
}
