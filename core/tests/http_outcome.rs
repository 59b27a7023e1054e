//! One test per row of the outcome list, with the answers real servers give
//! (write-facts.md): the whole transaction through `write_batch` over a fake
//! connection that reads and writes one byte at a time.

mod http_support;

use http_support::Fake;
use linewire::http::{
    write_batch, Action, BodyKind, ErrorBody, Outcome, Partial, Reply, RetryAfter, Target,
    TransportError, WriteError,
};

const BATCH: &[u8] = b"home,room=kitchen temp=72 1463683075\nhome,room=hall temp= 1\n";

/// A full HTTP response with a Content-Length body.
fn response(status: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r.into_bytes()
}

/// Runs `write_batch` one byte per read and write; checks the request went
/// out whole, then hands the reply to `check`.
fn exchange(wire: &[u8], check: impl Fn(&Reply<'_>)) {
    let target = Target::v2("influx.local", "sensors", "tok").unwrap();
    // 512 bytes hold every answer here whole (the README's claim).
    for (trickle, buf_len) in [(true, 1024), (false, 1024), (true, 512), (false, 512)] {
        let mut fake = if trickle {
            Fake::trickle(wire)
        } else {
            Fake::new(wire)
        };
        let mut buf = vec![0u8; buf_len];
        let reply = write_batch(&mut fake, &target, BATCH, &mut buf).expect("a reply");
        assert_eq!(reply.truncation, None, "{buf_len}");
        assert!(fake
            .written
            .starts_with(b"POST /api/v2/write?bucket=sensors&precision=ns HTTP/1.1\r\n"));
        assert!(fake.written.ends_with(BATCH));
        check(&reply);
    }
}

fn partial(reply: &Reply<'_>) -> Partial {
    match reply.outcome {
        Outcome::PartiallyWritten(p) => p,
        other => panic!("expected a partial write, got {other:?}"),
    }
}

// ---- written ---------------------------------------------------------------

#[test]
fn written_204() {
    exchange(
        b"HTTP/1.1 204 No Content\r\nX-Influxdb-Version: v2.7.11\r\n\r\n",
        |r| {
            assert_eq!(r.outcome, Outcome::Written);
            assert_eq!(r.outcome.action(), Action::Done);
            assert_eq!(r.error.kind, BodyKind::Empty);
            assert!(r.reusable);
        },
    );
}

// ---- partially written -----------------------------------------------------

#[test]
fn cloud_serverless_400_with_line_is_partial() {
    let body = r#"{"code":"invalid","line":2,"message":"failed to parse line protocol: errors encountered on line(s):\nerror parsing line 2 (1-based): Invalid measurement was provided\nerror parsing line 4 (1-based): Unable to parse timestamp value '123461000000000000000000000000'"}"#;
    exchange(
        &response("400 Bad Request", &["Content-Type: application/json"], body),
        |r| {
            let p = partial(r);
            assert_eq!(r.outcome.action(), Action::Drop);
            assert_eq!(r.error.line, Some(2));
            assert_eq!(p.rejected.lines(), &[2, 4]);
            assert_eq!(r.error.code, Some("invalid"));
            let msg = r.error.message.unwrap();
            assert!(msg.starts_with("failed to parse line protocol: errors encountered on line(s):\nerror parsing line 2"), "{msg}");
        },
    );
}

#[test]
fn influxdb3_write_lp_400_with_data_is_partial() {
    let body = r#"{"error":"partial write of line protocol occurred","data":[{"original_line":"home,room=hall temp= 1","line_number":2,"error_message":"No fields were provided"},{"original_line":"x","line_number":5,"error_message":"other"}]}"#;
    exchange(
        &response("400 Bad Request", &["content-type: application/json"], body),
        |r| {
            let p = partial(r);
            assert_eq!(p.rejected.lines(), &[2, 5]);
            assert_eq!(p.rejected.count(), 2);
            assert_eq!(
                r.error.message,
                Some("partial write of line protocol occurred")
            );
            assert_eq!(r.error.detail, Some("No fields were provided"));
        },
    );
}

#[test]
fn influxdb2_oss_422_is_partial_with_dropped() {
    let body = r#"{"code":"unprocessable entity","message":"failure writing points to database: partial write: points beyond retention policy dropped=3"}"#;
    exchange(
        &response(
            "422 Unprocessable Entity",
            &["X-Platform-Error-Code: unprocessable entity"],
            body,
        ),
        |r| {
            let p = partial(r);
            assert_eq!(p.dropped, Some(3));
            assert_eq!(r.platform_error_code, Some("unprocessable entity"));
            assert_eq!(r.outcome.action(), Action::Drop);
        },
    );
}

#[test]
fn influxdb1_400_partial_write_dropped() {
    let body = r#"{"error":"partial write: unable to parse 'home,room=hall temp= 1': missing fields dropped=0"}"#;
    exchange(
        &response(
            "400 Bad Request",
            &["X-Influxdb-Error: partial write: unable to parse 'home,room=hall temp= 1': missing fields dropped=0", "X-Influxdb-Version: 1.8.10"],
            body,
        ),
        |r| {
            let p = partial(r);
            assert_eq!(p.dropped, Some(0));
            assert_eq!(
                r.influxdb_error,
                Some("partial write: unable to parse 'home,room=hall temp= 1': missing fields dropped=0")
            );
            assert_eq!(r.error.message, r.influxdb_error);
        },
    );
}

// ---- rejected as bad data ---------------------------------------------------

#[test]
fn influxdb3_core_400_rejects_the_whole_batch() {
    let body = r#"{"code":"invalid","message":"write buffer error: line protocol parse failed: No fields were provided"}"#;
    exchange(&response("400 Bad Request", &[], body), |r| {
        assert_eq!(r.outcome, Outcome::Rejected);
        assert_eq!(r.outcome.action(), Action::Drop);
        assert_eq!(
            r.error.message,
            Some("write buffer error: line protocol parse failed: No fields were provided")
        );
    });
}

#[test]
fn influxdb2_oss_400_lists_every_bad_line() {
    let body = r#"{"code":"invalid","message":"unable to parse 'home,room=hall temp= 1': missing field value\nunable to parse 'bad \"q\"': invalid field format"}"#;
    exchange(
        &response("400 Bad Request", &["X-Platform-Error-Code: invalid"], body),
        |r| {
            assert_eq!(r.outcome, Outcome::Rejected);
            assert_eq!(r.platform_error_code, Some("invalid"));
            assert_eq!(
                r.error.message,
                Some("unable to parse 'home,room=hall temp= 1': missing field value\nunable to parse 'bad \"q\"': invalid field format")
            );
        },
    );
}

// ---- unauthorized / forbidden ----------------------------------------------

#[test]
fn unauthorized_shapes() {
    // InfluxDB 3 Core: {"error"}.
    exchange(
        &response(
            "401 Unauthorized",
            &[],
            r#"{"error":"the request was not authenticated"}"#,
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::Unauthorized);
            assert_eq!(r.outcome.action(), Action::Stop);
            assert_eq!(r.error.message, Some("the request was not authenticated"));
        },
    );
    // InfluxDB 2 / Cloud: {"code","message"}.
    exchange(
        &response(
            "401 Unauthorized",
            &["X-Platform-Error-Code: unauthorized"],
            r#"{"code":"unauthorized","message":"unauthorized access"}"#,
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::Unauthorized);
            assert_eq!(r.error.code, Some("unauthorized"));
        },
    );
    // Telegraf: plain text.
    exchange(
        &response(
            "401 Unauthorized",
            &["Content-Type: text/plain; charset=utf-8"],
            "Unauthorized\n",
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::Unauthorized);
            assert_eq!(r.error.kind, BodyKind::Text);
            assert_eq!(r.error.message, Some("Unauthorized"));
        },
    );
}

#[test]
fn forbidden() {
    exchange(
        &response(
            "403 Forbidden",
            &[],
            r#"{"code":"forbidden","message":"insufficient permissions for write"}"#,
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::Forbidden);
            assert_eq!(r.outcome.action(), Action::Stop);
        },
    );
}

// ---- bucket or database not found --------------------------------------------

#[test]
fn not_found_bucket_and_database() {
    exchange(
        &response(
            "404 Not Found",
            &["X-Platform-Error-Code: not found"],
            r#"{"code":"not found","message":"bucket \"sensors\" not found"}"#,
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::NotFound);
            assert_eq!(r.outcome.action(), Action::Stop);
            assert_eq!(r.error.message, Some("bucket \"sensors\" not found"));
        },
    );
    exchange(
        &response(
            "404 Not Found",
            &["X-Influxdb-Error: database not found: \"telemetry\""],
            r#"{"error":"database not found: \"telemetry\""}"#,
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::NotFound);
            assert_eq!(r.error.message, Some("database not found: \"telemetry\""));
        },
    );
}

// ---- too large -------------------------------------------------------------

#[test]
fn too_large_split_and_resend() {
    exchange(
        &response(
            "413 Request Entity Too Large",
            &[],
            r#"{"code":"invalid","message":"http: request body too large","maxLength":"524288"}"#,
        ),
        |r| {
            assert_eq!(
                r.outcome,
                Outcome::TooLarge {
                    max_length: Some(524_288)
                }
            );
            assert_eq!(r.outcome.action(), Action::Split);
        },
    );
    exchange(
        &response(
            "413 Payload Too Large",
            &[],
            r#"{"code":"request too large","message":"points in batch is too large"}"#,
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::TooLarge { max_length: None });
            assert_eq!(r.error.message, Some("points in batch is too large"));
        },
    );
}

// ---- throttled or unavailable ------------------------------------------------

#[test]
fn throttled_429_with_retry_after() {
    exchange(
        &response(
            "429 Too Many Requests",
            &["Retry-After: 30"],
            r#"{"code":"too many requests","message":"org exceeded write limits"}"#,
        ),
        |r| {
            assert_eq!(
                r.outcome,
                Outcome::Throttled {
                    retry_after: Some(RetryAfter::Seconds(30))
                }
            );
            assert_eq!(r.outcome.action(), Action::RetryLater);
            assert_eq!(
                r.outcome.retry_after().and_then(|ra| ra.delay_secs(None)),
                Some(30)
            );
        },
    );
}

#[test]
fn unavailable_503_with_http_date() {
    exchange(
        &response(
            "503 Service Unavailable",
            &["Retry-After: Wed, 21 Oct 2015 07:28:00 GMT"],
            r#"{"code":"unavailable","message":"service unavailable"}"#,
        ),
        |r| {
            let ra = r.outcome.retry_after().unwrap();
            assert_eq!(
                r.outcome,
                Outcome::Unavailable {
                    retry_after: Some(ra)
                }
            );
            assert_eq!(ra.delay_secs(Some(1_445_412_480 - 42)), Some(42));
            assert_eq!(r.outcome.action(), Action::RetryLater);
        },
    );
}

// ---- server error ----------------------------------------------------------

#[test]
fn server_error_500() {
    exchange(
        &response(
            "500 Internal Server Error",
            &[],
            r#"{"code":"internal error","message":"unexpected error writing points to database"}"#,
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::ServerError { retry_after: None });
            assert_eq!(r.outcome.action(), Action::Retry);
        },
    );
}

#[test]
fn proxy_html_502_504_and_503() {
    let html = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
    exchange(
        &response(
            "502 Bad Gateway",
            &["Server: nginx", "Content-Type: text/html"],
            html,
        ),
        |r| {
            assert_eq!(r.outcome, Outcome::ServerError { retry_after: None });
            assert_eq!(r.error.kind, BodyKind::Text);
            assert!(r.error.message.unwrap().starts_with("<html>"));
        },
    );
    exchange(
        &response("504 Gateway Time-out", &[], "upstream request timeout"),
        |r| {
            assert_eq!(r.outcome.action(), Action::Retry);
            assert_eq!(r.error.message, Some("upstream request timeout"));
        },
    );
    // A 503 page delimited by close, no length.
    exchange(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<html><body>maintenance</body></html>", |r| {
        assert_eq!(r.outcome, Outcome::Unavailable { retry_after: None });
        assert!(!r.reusable);
    });
}

#[test]
fn unexpected_statuses_stop() {
    exchange(
        &response("301 Moved Permanently", &["Location: https://x/"], ""),
        |r| {
            assert_eq!(r.outcome, Outcome::Unexpected);
            assert_eq!(r.outcome.action(), Action::Stop);
        },
    );
    exchange(&response("408 Request Timeout", &[], ""), |r| {
        assert_eq!(r.outcome.action(), Action::Retry);
    });
}

// ---- transport failure -------------------------------------------------------

#[test]
fn transport_failure_resend() {
    let target = Target::v2("h", "b", "t").unwrap();
    let mut buf = [0u8; 256];
    // The server dropped the kept-alive connection: nothing comes back.
    let mut fake = Fake::new(b"");
    let err = write_batch(&mut fake, &target, BATCH, &mut buf).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::ClosedBeforeResponse)
    );
    assert!(err.resend_may_help());
    // The write failed half way.
    let mut fake = Fake::new(b"");
    fake.fail_write_after = Some(100);
    let err = write_batch(&mut fake, &target, BATCH, &mut buf).unwrap_err();
    assert!(matches!(
        err,
        WriteError::Transport(TransportError::Write(_))
    ));
    assert!(err.resend_may_help());
    // Garbage instead of HTTP.
    let mut fake = Fake::new(b"SSH-2.0-OpenSSH_9.6\r\n\r\n");
    let err = write_batch(&mut fake, &target, BATCH, &mut buf).unwrap_err();
    assert!(matches!(err, WriteError::Peer(_)));
    assert!(err.resend_may_help());
}

// ---- error bodies ----------------------------------------------------------

#[test]
fn json_escapes_are_decoded_in_place() {
    let mut body =
        br#"{"message":"a\nb\t\"q\" \\ \/ caf\u00e9 \ud83d\ude00 \u00 \ud800x","code":"x\u0041"}"#
            .to_vec();
    let e = ErrorBody::parse(&mut body);
    assert_eq!(e.kind, BodyKind::Json);
    assert_eq!(e.message, Some("a\nb\t\"q\" \\ / café 😀 \\u00 \u{FFFD}x"));
    assert_eq!(e.code, Some("xA"));
}

#[test]
fn unknown_fields_are_ignored() {
    let mut body = br#"{"extra":{"nested":[1,2,{"a":"b"}]},"code":"invalid","n":3.5,"b":true,"z":null,"message":"m"}"#.to_vec();
    let e = ErrorBody::parse(&mut body);
    assert_eq!(e.kind, BodyKind::Json);
    assert_eq!((e.code, e.message), (Some("invalid"), Some("m")));
}

#[test]
fn unexpected_field_types_fall_back_to_the_strings() {
    let mut body = br#"{"code":"invalid","line":"3","maxLength":100,"message":"x"}"#.to_vec();
    let e = ErrorBody::parse(&mut body);
    assert_eq!(e.kind, BodyKind::Json);
    assert_eq!(e.message, Some("x"));
    assert_eq!(e.line, None);
}

#[test]
fn long_data_lists_are_counted() {
    let mut s = String::from(r#"{"error":"partial write of line protocol occurred","data":["#);
    for i in 1..=100 {
        if i > 1 {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"error_message":"e{i}","line_number":{i},"original_line":"l"}}"#
        ));
    }
    s.push_str("]}");
    let mut body = s.into_bytes();
    let e = ErrorBody::parse(&mut body);
    assert_eq!(e.rejected.count(), 100);
    assert_eq!(e.rejected.lines(), &[1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(e.detail, Some("e1"));
}

#[test]
fn non_json_and_truncated_bodies_are_text() {
    let mut body = br#"{"code":"invalid","message":"cut he"#.to_vec();
    let e = ErrorBody::parse(&mut body);
    assert_eq!(e.kind, BodyKind::Text);
    assert_eq!(e.message, Some(r#"{"code":"invalid","message":"cut he"#));
    // Cut inside a UTF-8 character: the text stops before it.
    let mut body = "caf\u{e9}".as_bytes()[..4].to_vec();
    assert_eq!(ErrorBody::parse(&mut body).message, Some("caf"));
    let mut body = b"  \r\n".to_vec();
    assert_eq!(ErrorBody::parse(&mut body).kind, BodyKind::Empty);
    let mut body = b"[1,2]".to_vec();
    assert_eq!(ErrorBody::parse(&mut body).kind, BodyKind::Text);
}

#[test]
fn truncated_json_body_keeps_the_status_outcome() {
    // A 400 with a body larger than the buffer: the outcome still comes
    // from the status, the message is the first bytes as text.
    let long = "x".repeat(2000);
    let body = format!(r#"{{"code":"invalid","message":"{long}"}}"#);
    let wire = response("400 Bad Request", &[], &body);
    let target = Target::v2("h", "b", "t").unwrap();
    let mut fake = Fake::new(&wire);
    let mut buf = [0u8; 300];
    let r = write_batch(&mut fake, &target, BATCH, &mut buf).unwrap();
    assert_eq!(r.outcome, Outcome::Rejected);
    assert!(r.body_truncated);
    assert!(r.reusable);
    assert_eq!(r.error.kind, BodyKind::Text);
}

#[test]
fn bad_request_parameters_keep_the_data() {
    // The two examples of the v2 API page: the request, not the data, is
    // wrong, so the batch must not be dropped.
    for body in [
        r#"{ "code": "invalid",
  "message":"missing bucket value"
}"#,
        r#"{ "code": "invalid",
  "message":"failed to deserialize org/bucket/precision in request: unknown variant `u`, expected one of `s`, `ms`, `us`, `ns`"
}"#,
    ] {
        exchange(&response("400 Bad Request", &[], body), |r| {
            assert_eq!(r.outcome, Outcome::InvalidRequest);
            assert_eq!(r.outcome.action(), Action::Stop);
            assert_eq!(r.error.code, Some("invalid"));
        });
    }
}
