//! `/api/v2/write` in its default (Cloud Serverless) mode and the other modes.

mod common;

use common::*;
use linewire_testkit::{FieldValue, Mode, TestServer};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[test]
fn accepts_a_write_and_stores_typed_points() {
    let s = TestServer::start();
    let r = write_v2(
        s.addr(),
        "bucket=b&org=o&precision=ns",
        &[("Authorization", "Token anything")],
        "cpu,host=a\\ b,region=eu f=1.5,i=-3i,u=3u,b=t,s=\"q\\\"x\" 1700000000000000001\n",
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(r.body, "");
    let p = s.points("b");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].measurement, "cpu");
    assert_eq!(p[0].tags["host"], "a b");
    assert_eq!(p[0].tag("region"), Some("eu"));
    assert_eq!(p[0].fields["f"], FieldValue::F64(1.5));
    assert_eq!(p[0].fields["i"], FieldValue::I64(-3));
    assert_eq!(p[0].fields["u"], FieldValue::U64(3));
    assert_eq!(p[0].fields["b"], FieldValue::Bool(true));
    assert_eq!(p[0].field("s"), Some(&FieldValue::Str("q\"x".into())));
    assert_eq!(p[0].timestamp_ns, 1_700_000_000_000_000_001);
    assert_eq!(s.point_count("b"), 1);
    assert_eq!(s.total_points(), 1);
    assert_eq!(s.buckets(), vec!["b".to_string()]);
}

#[test]
fn precision_normalises_to_nanoseconds() {
    let s = TestServer::start();
    for (p, want) in [
        ("ns", 7i64),
        ("us", 7_000),
        ("ms", 7_000_000),
        ("s", 7_000_000_000),
        ("m", 420_000_000_000),
        ("h", 25_200_000_000_000),
    ] {
        let r = write_v2(
            s.addr(),
            &format!("bucket={p}&precision={p}"),
            &[],
            "m f=1 7",
        );
        assert_eq!(r.status, 204, "{p}: {}", r.body);
        assert_eq!(s.points(p)[0].timestamp_ns, want, "{p}");
    }
    // Without precision: nanoseconds.
    write_v2(s.addr(), "bucket=none", &[], "m f=1 7");
    assert_eq!(s.points("none")[0].timestamp_ns, 7);
}

#[test]
fn unknown_precision_is_the_api_pages_400() {
    let s = TestServer::start();
    let r = write_v2(s.addr(), "bucket=b&precision=u", &[], "m f=1");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        serde_json::json!({"code": "invalid", "message": "failed to deserialize org/bucket/precision in request: unknown variant `u`, expected one of `s`, `ms`, `us`, `ns`"})
    );
    assert_eq!(s.total_points(), 0);
}

#[test]
fn missing_or_empty_bucket_is_400() {
    let s = TestServer::start();
    for q in ["org=o", "bucket=&org=o"] {
        let r = write_v2(s.addr(), q, &[], "m f=1");
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json(),
            serde_json::json!({"code":"invalid","message":"missing bucket value"})
        );
    }
}

#[test]
fn empty_org_is_400_but_absent_org_is_fine() {
    let s = TestServer::start();
    let r = write_v2(s.addr(), "bucket=b&org=", &[], "m f=1");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "invalid");
    assert!(r.json()["message"].as_str().unwrap().contains("org"));
    assert_eq!(write_v2(s.addr(), "bucket=b", &[], "m f=1").status, 204);
    assert_eq!(
        write_v2(s.addr(), "bucket=b&orgID=x&org=o", &[], "m f=2").status,
        204
    );
}

#[test]
fn tokens_token_and_bearer_schemes() {
    let s = TestServer::builder().token("good").start();
    let ok =
        |auth: &str| write_v2(s.addr(), "bucket=b", &[("Authorization", auth)], "m f=1").status;
    assert_eq!(ok("Token good"), 204);
    assert_eq!(ok("Bearer good"), 204);
    assert_eq!(ok("token good"), 204);
    for bad in ["Token bad", "Basic Z29vZA==", "good", "Token "] {
        let r = write_v2(s.addr(), "bucket=b", &[("Authorization", bad)], "m f=1");
        assert_eq!(r.status, 401, "{bad}");
        assert_eq!(
            r.json(),
            serde_json::json!({"code":"unauthorized","message":"unauthorized access"})
        );
    }
    let r = write_v2(s.addr(), "bucket=b", &[], "m f=1");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        serde_json::json!({"code":"unauthorized","message":"unauthorized access"})
    );
    assert_eq!(
        s.point_count("b"),
        3,
        "only the three authorised writes stored"
    );
}

#[test]
fn per_bucket_tokens() {
    let s = TestServer::builder()
        .bucket_token("a", "ta")
        .bucket_token("b", "tb")
        .start();
    let w = |bucket: &str, tok: &str| {
        write_v2(
            s.addr(),
            &format!("bucket={bucket}"),
            &[("Authorization", &format!("Token {tok}"))],
            "m f=1",
        )
    };
    assert_eq!(w("a", "ta").status, 204);
    assert_eq!(w("b", "tb").status, 204);
    let r = w("a", "tb");
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["code"], "forbidden");
    assert_eq!(w("a", "nope").status, 401);
}

#[test]
fn without_configured_tokens_anything_goes() {
    let s = TestServer::start();
    assert_eq!(write_v2(s.addr(), "bucket=b", &[], "m f=1").status, 204);
    assert_eq!(
        write_v2(
            s.addr(),
            "bucket=b",
            &[("Authorization", "Token x")],
            "m f=1"
        )
        .status,
        204
    );
}

#[test]
fn core3_401_shape() {
    let s = TestServer::builder().token("t").mode(Mode::Core3).start();
    let r = write_v2(s.addr(), "bucket=b", &[], "m f=1");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        serde_json::json!({"error":"the request was not authenticated"})
    );
}

#[test]
fn declared_buckets_404_others() {
    let s = TestServer::builder().bucket("known").start();
    assert_eq!(s.buckets(), vec!["known".to_string()]);
    assert_eq!(write_v2(s.addr(), "bucket=known", &[], "m f=1").status, 204);
    let r = write_v2(s.addr(), "bucket=X", &[], "m f=1");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        serde_json::json!({"code":"not found","message":"bucket \"X\" not found"})
    );
    assert_eq!(s.points("X"), vec![]);
}

#[test]
fn gzip_identity_and_bad_encodings() {
    let s = TestServer::start();
    let body = gzip(b"m f=1 1\nm f=2 2\n");
    let r = raw(
        s.addr(),
        &post(
            "/api/v2/write?bucket=g",
            &[("Content-Encoding", "gzip")],
            &body,
        ),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(s.point_count("g"), 2);
    let rec = s.requests().pop().unwrap();
    assert_eq!(
        rec.body_text(),
        "m f=1 1\nm f=2 2\n",
        "recorded body is decoded"
    );

    let r = raw(
        s.addr(),
        &post(
            "/api/v2/write?bucket=g",
            &[("Content-Encoding", "identity")],
            b"m f=3 3",
        ),
    );
    assert_eq!(r.status, 204);

    let r = raw(
        s.addr(),
        &post(
            "/api/v2/write?bucket=g",
            &[("Content-Encoding", "gzip")],
            b"not gzip at all",
        ),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "invalid");
    assert!(r.json()["message"].as_str().unwrap().contains("gzip"));

    let mut truncated = gzip(b"m f=4 4\n");
    truncated.truncate(truncated.len() - 6);
    let r = raw(
        s.addr(),
        &post(
            "/api/v2/write?bucket=g",
            &[("Content-Encoding", "gzip")],
            &truncated,
        ),
    );
    assert_eq!(r.status, 400);

    let r = raw(
        s.addr(),
        &post(
            "/api/v2/write?bucket=g",
            &[("Content-Encoding", "br")],
            b"x",
        ),
    );
    assert_eq!(r.status, 415);
    assert_eq!(s.point_count("g"), 3);
    // The server is still serving.
    assert_eq!(write_v2(s.addr(), "bucket=g", &[], "m f=5 5").status, 204);
}

#[test]
fn cloud_partial_write_keeps_good_lines() {
    let s = TestServer::start();
    let body = "m f=1 1\nbad line\nm f=2 2\n\n# comment\nm,t= f=1 3\nm f=3 3";
    let r = write_v2(s.addr(), "bucket=b", &[], body);
    assert_eq!(r.status, 400);
    let j = r.json();
    assert_eq!(j["code"], "invalid");
    assert_eq!(j["line"], 2);
    let msg = j["message"].as_str().unwrap();
    assert!(
        msg.starts_with("failed to parse line protocol: errors encountered on line(s):"),
        "{msg}"
    );
    assert!(msg.contains("line 2 (1-based)"), "{msg}");
    assert!(msg.contains("line 6 (1-based)"), "{msg}");
    assert!(!msg.contains("line 1 "), "{msg}");
    let ts: Vec<i64> = s.points("b").iter().map(|p| p.timestamp_ns).collect();
    assert_eq!(ts, vec![1, 2, 3]);
}

#[test]
fn core3_rejects_whole_batch_with_first_error() {
    let s = TestServer::builder().mode(Mode::Core3).start();
    let r = write_v2(s.addr(), "bucket=b", &[], "m f=1 1\nbad\nm f=2 2\nalso bad");
    assert_eq!(r.status, 400);
    let j = r.json();
    assert_eq!(j["code"], "invalid");
    assert!(j.get("line").is_none());
    let msg = j["message"].as_str().unwrap();
    assert!(
        msg.starts_with("write buffer error: line protocol parse failed: "),
        "{msg}"
    );
    assert!(msg.contains("line 2"), "{msg}");
    assert!(!msg.contains("line 4"), "first error only: {msg}");
    assert_eq!(s.point_count("b"), 0);
    assert!(r.header("X-Platform-Error-Code").is_none());
}

#[test]
fn oss2_lists_all_errors_and_writes_nothing() {
    let s = TestServer::builder().mode(Mode::Oss2).start();
    let r = write_v2(s.addr(), "bucket=b", &[], "m f=1 1\nbad\nm f=2 2\nalso bad");
    assert_eq!(r.status, 400);
    assert_eq!(r.header("X-Platform-Error-Code"), Some("invalid"));
    let j = r.json();
    assert_eq!(j["code"], "invalid");
    let lines: Vec<&str> = j["message"].as_str().unwrap().split('\n').collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("unable to parse 'bad': "), "{lines:?}");
    assert!(
        lines[1].starts_with("unable to parse 'also bad': "),
        "{lines:?}"
    );
    assert_eq!(s.point_count("b"), 0);
    // Other errors carry the header too.
    let r = write_v2(s.addr(), "org=o", &[], "m f=1");
    assert_eq!(r.header("X-Platform-Error-Code"), Some("invalid"));
}

#[test]
fn mode_can_change_at_run_time() {
    let s = TestServer::start();
    s.set_mode(Mode::Core3);
    write_v2(s.addr(), "bucket=b", &[], "m f=1 1\nbad");
    assert_eq!(s.point_count("b"), 0);
    s.set_mode(Mode::CloudServerless);
    write_v2(s.addr(), "bucket=b", &[], "m f=1 1\nbad");
    assert_eq!(s.point_count("b"), 1);
}

#[test]
fn invalid_values_are_line_errors() {
    let s = TestServer::start();
    let body = "m f=1e400 1\nm,t=a,t=b f=1 2\nm f=1,f=2 3\nm f=1 99999999999\nm f=NaN 5\nm f=1 6";
    let r = write_v2(s.addr(), "bucket=b&precision=s", &[], body);
    assert_eq!(r.status, 400);
    let msg = r.json()["message"].as_str().unwrap().to_string();
    for n in 1..=5 {
        assert!(msg.contains(&format!("line {n} (1-based)")), "{n}: {msg}");
    }
    let p = s.points("b");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].timestamp_ns, 6_000_000_000);
}

#[test]
fn duplicates_merge_later_fields_win() {
    let s = TestServer::start();
    write_v2(
        s.addr(),
        "bucket=b",
        &[],
        "m,t=1 a=1,b=1 10\nm,t=1 b=2,c=3 10\nm,t=2 a=1 10\nm,t=1 a=1 11",
    );
    write_v2(s.addr(), "bucket=b", &[], "m,t=1 a=9 10");
    let p = s.points("b");
    assert_eq!(p.len(), 3);
    assert_eq!(p[0].fields["a"], FieldValue::F64(9.0));
    assert_eq!(p[0].fields["b"], FieldValue::F64(2.0));
    assert_eq!(p[0].fields["c"], FieldValue::F64(3.0));
}

#[test]
fn points_without_timestamp_get_server_time() {
    let s = TestServer::start();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    write_v2(s.addr(), "bucket=b", &[], "m f=1\nm,t=x f=2");
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    let p = s.points("b");
    assert_eq!(p.len(), 2);
    for pt in &p {
        assert!(
            pt.timestamp_ns >= before && pt.timestamp_ns <= after,
            "{pt:?}"
        );
    }
}

#[test]
fn non_utf8_body_is_400() {
    let s = TestServer::start();
    let r = raw(
        s.addr(),
        &post("/api/v2/write?bucket=b", &[], b"m f=\"\xff\xfe\" 1"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "invalid");
    assert!(r.json()["message"].as_str().unwrap().contains("UTF-8"));
    assert_eq!(s.total_points(), 0);
}

#[test]
fn chunked_request_body_and_expect_continue() {
    let s = TestServer::start();
    let req =
        b"POST /api/v2/write?bucket=c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
        5\r\nm f=1\r\n3;ext=1\r\n 1\n\r\n7\r\nm f=2 2\r\n0\r\nTrailer: x\r\n\r\n";
    let r = raw(s.addr(), req);
    assert_eq!(r.status, 204, "{}", r.body);
    let ts: Vec<i64> = s.points("c").iter().map(|p| p.timestamp_ns).collect();
    assert_eq!(ts, vec![1, 2]);
    assert_eq!(s.requests()[0].body_text(), "m f=1 1\nm f=2 2");

    // Expect: 100-continue: the server says Continue before the body is sent.
    let mut c = Client::connect(s.addr());
    c.send(b"POST /api/v2/write?bucket=c HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\nExpect: 100-continue\r\n\r\n");
    let mut first = [0u8; 25];
    std::io::Read::read_exact(&mut c.stream, &mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(b"m f=3 3");
    assert_eq!(c.read_response().unwrap().status, 204);
    assert_eq!(s.point_count("c"), 3);
}

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let s = TestServer::start();
    let mut c = Client::connect(s.addr());
    for i in 0..20 {
        let r = c.request(&post(
            "/api/v2/write?bucket=k",
            &[],
            format!("m f={i} {i}").as_bytes(),
        ));
        assert_eq!(r.status, 204);
        assert!(r.header("connection").is_none());
    }
    assert_eq!(s.point_count("k"), 20);
    // Pipelined requests in one write.
    let mut two = post("/api/v2/write?bucket=k", &[], b"m f=1 100");
    two.extend(post("/api/v2/write?bucket=k", &[], b"m f=1 101"));
    c.send(&two);
    assert_eq!(c.read_response().unwrap().status, 204);
    assert_eq!(c.read_response().unwrap().status, 204);
    // Connection: close is honoured.
    let r = c.request(&post(
        "/api/v2/write?bucket=k",
        &[("Connection", "close")],
        b"m f=1 102",
    ));
    assert_eq!(r.status, 204);
    assert_eq!(r.header("connection"), Some("close"));
    assert!(c.is_closed());
    assert_eq!(s.point_count("k"), 23);
}

#[test]
fn http10_closes_after_answer() {
    let s = TestServer::start();
    let mut c = Client::connect(s.addr());
    let r = c.request(b"POST /api/v2/write?bucket=h HTTP/1.0\r\nContent-Length: 5\r\n\r\nm f=1");
    assert_eq!(r.status, 204);
    assert!(c.is_closed());
}

#[test]
fn concurrent_connections() {
    let s = TestServer::start();
    let addr = s.addr();
    // Hold several idle connections open at once, then write on all of them.
    let mut clients: Vec<Client> = (0..8).map(|_| Client::connect(addr)).collect();
    for c in clients.iter_mut() {
        c.send(b"POST /api/v2/write?bucket=p HTTP/1.1\r\nContent-Length: 9\r\n\r\n");
    }
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(format!("m f=1 {i:03}").as_bytes());
    }
    for c in clients.iter_mut() {
        assert_eq!(c.read_response().unwrap().status, 204);
    }
    let handles: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                for i in 0..50 {
                    let body = format!("m,t={t} f={i} {i}");
                    assert_eq!(
                        c.request(&post("/api/v2/write?bucket=p", &[], body.as_bytes()))
                            .status,
                        204
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert!(s.wait_for_points("p", 8 + 200, WAIT));
    assert_eq!(s.point_count("p"), 208);
}

#[test]
fn recorded_requests_show_what_was_sent() {
    let s = TestServer::start();
    write_v2(
        s.addr(),
        "bucket=my%20b&org=o&precision=s",
        &[("Authorization", "Token t"), ("User-Agent", "probe/1")],
        "m f=1 1",
    );
    raw(s.addr(), b"GET /ping HTTP/1.1\r\n\r\n");
    let reqs = s.requests();
    assert_eq!(reqs.len(), 2);
    let r = &reqs[0];
    assert_eq!(r.seq, 1);
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/api/v2/write");
    assert_eq!(r.query, "bucket=my%20b&org=o&precision=s");
    assert_eq!(r.query_param("bucket").as_deref(), Some("my b"));
    assert_eq!(r.header("user-agent"), Some("probe/1"));
    assert_eq!(r.body, b"m f=1 1");
    assert_eq!(r.status, Some(204));
    assert_eq!(s.point_count("my b"), 1);
    assert_eq!(reqs[1].path, "/ping");
    assert_eq!(reqs[1].status, Some(204));
    assert_eq!(s.write_requests().len(), 1);
    assert!(s.wait_for_requests(2, WAIT));
    assert!(!s.wait_for_requests(3, Duration::from_millis(50)));
    s.clear();
    assert_eq!(s.request_count(), 0);
    assert_eq!(s.total_points(), 0);
}

#[test]
fn works_with_ureq() {
    let s = TestServer::builder().token("t").start();
    let agent = agent();
    let mut r = agent
        .post(&s.write_url("u", "ms"))
        .header("Authorization", "Token t")
        .send("m,t=a f=1i 1700000000000\nm f=2i\nbad")
        .unwrap();
    assert_eq!(r.status(), 400);
    let j: serde_json::Value =
        serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(j["line"], 3);
    assert!(s.wait_for_points("u", 2, WAIT));
    assert_eq!(s.points("u")[0].timestamp_ns, 1_700_000_000_000_000_000);
    // Keep-alive through ureq's pool.
    for i in 0..5 {
        let r = agent
            .post(&s.write_url("u", "s"))
            .header("Authorization", "Bearer t")
            .send(format!("n f={i} {i}"))
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    assert_eq!(s.point_count("u"), 7);
    let r = agent.post(&s.write_url("u", "s")).send("n f=1 1").unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn wait_for_points_times_out_when_nothing_arrives() {
    let s = TestServer::start();
    assert!(!s.wait_for_points("none", 1, Duration::from_millis(100)));
    let addr = s.addr();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        write_v2(addr, "bucket=late", &[], "m f=1 1\nm f=1 2");
    });
    assert!(s.wait_for_points("late", 2, WAIT));
    t.join().unwrap();
}
