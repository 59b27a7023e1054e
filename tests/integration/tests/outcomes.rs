//! One test per row of the outcome table (`linewire::http::Outcome`), each
//! answer produced by the test kit's modes and faults and received through
//! `linewire::nal::NalStream`.

use linewire::http::{Action, BodyKind, Outcome, RetryAfter, Target, TransportError, WriteError};
use linewire::nal::{NalStream, Spin};
use linewire_integration::{nal_conn, NalConn, StdStack};
use linewire_testkit::{Fault, FaultPlan, Mode, TestServer};

fn conn(server: &TestServer) -> NalConn {
    nal_conn(server.addr())
}

fn target<'a>(server: &TestServer, bucket: &'a str, token: &'a str) -> Target<'a> {
    Target::v2("127.0.0.1", bucket, token)
        .unwrap()
        .port(server.addr().port())
}

const THREE_LINES: &[u8] = b"m,k=a v=1 1\nm,k=b bad-line\nm,k=c v=3 3\n";

#[test]
fn written_204() {
    let server = TestServer::start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let reply = c
        .write_batch(&target(&server, "b", ""), b"m v=1 1\n", &mut buf)
        .unwrap();
    assert_eq!(reply.status, 204);
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(reply.outcome.action(), Action::Done);
    assert_eq!(reply.error.kind, BodyKind::Empty);
    assert_eq!(server.point_count("b"), 1);
}

#[test]
fn partial_write_cloud_serverless_keeps_good_lines_and_reports_the_bad_one() {
    let server = TestServer::builder().mode(Mode::CloudServerless).start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let reply = c
        .write_batch(&target(&server, "b", ""), THREE_LINES, &mut buf)
        .unwrap();
    assert_eq!(reply.status, 400);
    let Outcome::PartiallyWritten(p) = reply.outcome else {
        panic!("expected a partial write, got {:?}", reply.outcome);
    };
    assert_eq!(p.rejected.lines(), &[2]);
    assert_eq!(reply.error.line, Some(2));
    assert!(
        reply
            .error
            .message
            .is_some_and(|m| m.starts_with("failed to parse line protocol")),
        "{:?}",
        reply.error.message
    );
    assert_eq!(reply.outcome.action(), Action::Drop);
    assert!(reply.reusable);
    let keys: Vec<String> = server
        .points("b")
        .iter()
        .map(|p| p.tags["k"].clone())
        .collect();
    assert_eq!(keys, ["a", "c"], "the good lines are stored");
}

#[test]
fn rejected_bad_data_influxdb3_core_stores_nothing() {
    let server = TestServer::builder().mode(Mode::Core3).start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let reply = c
        .write_batch(&target(&server, "b", ""), THREE_LINES, &mut buf)
        .unwrap();
    assert_eq!(reply.status, 400);
    // The whole batch is refused; the action is Drop either way. See
    // `rejected_bad_data_influxdb3_core_is_not_a_partial_write` for the
    // outcome itself.
    assert_eq!(reply.outcome.action(), Action::Drop);
    assert!(
        reply
            .error
            .message
            .is_some_and(|m| m.starts_with("write buffer error")),
        "{:?}",
        reply.error.message
    );
    assert_eq!(server.point_count("b"), 0);
}

/// InfluxDB 3 Core rejects the whole batch with a message naming the line
/// (`... error parsing line 2 (1-based): ...`): that is a rejection, not a
/// partial write, although the line number is still reported.
#[test]
fn rejected_bad_data_influxdb3_core_is_not_a_partial_write() {
    let server = TestServer::builder().mode(Mode::Core3).start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let reply = c
        .write_batch(&target(&server, "b", ""), THREE_LINES, &mut buf)
        .unwrap();
    assert_eq!(reply.outcome, Outcome::Rejected);
    assert_eq!(reply.error.rejected.lines(), &[2]);
    assert_eq!(server.point_count("b"), 0);
}

#[test]
fn unauthorized_401_in_both_body_shapes() {
    let server = TestServer::builder().token("secret").start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let reply = c
        .write_batch(&target(&server, "b", "wrong"), b"m v=1 1\n", &mut buf)
        .unwrap();
    assert_eq!(reply.status, 401);
    assert_eq!(reply.outcome, Outcome::Unauthorized);
    assert_eq!(reply.outcome.action(), Action::Stop);
    assert_eq!(reply.error.message, Some("unauthorized access"));

    server.set_mode(Mode::Core3);
    let reply = c
        .write_batch(&target(&server, "b", ""), b"m v=1 1\n", &mut buf)
        .unwrap();
    assert_eq!(reply.outcome, Outcome::Unauthorized);
    assert_eq!(
        reply.error.message,
        Some("the request was not authenticated")
    );

    // The right token on the same connection.
    let reply = c
        .write_batch(&target(&server, "b", "secret"), b"m v=1 1\n", &mut buf)
        .unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(c.connects(), 1);
    assert_eq!(server.point_count("b"), 1);
}

#[test]
fn bucket_not_found_404() {
    let server = TestServer::builder().bucket("known").start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let reply = c
        .write_batch(&target(&server, "missing", ""), b"m v=1 1\n", &mut buf)
        .unwrap();
    assert_eq!(reply.status, 404);
    assert_eq!(reply.outcome, Outcome::NotFound);
    assert_eq!(reply.outcome.action(), Action::Stop);
    assert_eq!(reply.error.message, Some("bucket \"missing\" not found"));
    assert_eq!(server.total_points(), 0);
}

#[test]
fn too_large_413_from_a_real_limit_and_from_the_fault() {
    let server = TestServer::builder().max_body(64).start();
    let mut c = NalStream::new(StdStack::new(), server.addr(), Spin::new(0));
    let mut buf = [0u8; 512];
    let body = "m,k=abcdefgh v=1 1\n".repeat(10);
    let t = target(&server, "b", "");
    let reply = c.write_batch(&t, body.as_bytes(), &mut buf).unwrap();
    assert_eq!(reply.status, 413);
    assert_eq!(
        reply.outcome,
        Outcome::TooLarge {
            max_length: Some(64)
        }
    );
    assert_eq!(reply.outcome.action(), Action::Split);
    assert!(!c.is_connected(), "the server closed: reconnect next time");
    assert_eq!(server.point_count("b"), 0);

    server.set_faults(FaultPlan::new().on_request(1, Fault::PayloadTooLarge));
    let reply = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    assert_eq!(
        reply.outcome,
        Outcome::TooLarge {
            max_length: Some(64)
        }
    );
    // The halves fit.
    let half = "m,k=abcdefgh v=1 1\n".repeat(3);
    let reply = c.write_batch(&t, half.as_bytes(), &mut buf).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(server.point_count("b"), 1);
}

#[test]
fn throttled_429_with_retry_after() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(
            1,
            Fault::TooManyRequests {
                retry_after_secs: 3,
            },
        ))
        .start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let t = target(&server, "b", "");
    let reply = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    assert_eq!(reply.status, 429);
    assert_eq!(
        reply.outcome,
        Outcome::Throttled {
            retry_after: Some(RetryAfter::Seconds(3))
        }
    );
    assert_eq!(reply.outcome.action(), Action::RetryLater);
    assert_eq!(server.point_count("b"), 0);
    let reply = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(c.connects(), 1);
    assert_eq!(server.point_count("b"), 1);
}

#[test]
fn unavailable_503_with_and_without_retry_after() {
    let server = TestServer::builder()
        .fault_plan(
            FaultPlan::new()
                .on_request(
                    1,
                    Fault::ServiceUnavailable {
                        retry_after_secs: Some(5),
                    },
                )
                .on_request(
                    2,
                    Fault::ServiceUnavailable {
                        retry_after_secs: None,
                    },
                ),
        )
        .start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let t = target(&server, "b", "");
    let reply = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(
        reply.outcome,
        Outcome::Unavailable {
            retry_after: Some(RetryAfter::Seconds(5))
        }
    );
    assert_eq!(reply.outcome.retry_after(), Some(RetryAfter::Seconds(5)));
    assert_eq!(reply.outcome.action(), Action::RetryLater);
    let reply = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    assert_eq!(reply.outcome, Outcome::Unavailable { retry_after: None });
    assert_eq!(server.point_count("b"), 0);
}

#[test]
fn server_error_500_json() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(1, Fault::InternalError))
        .start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let reply = c
        .write_batch(&target(&server, "b", ""), b"m v=1 1\n", &mut buf)
        .unwrap();
    assert_eq!(reply.status, 500);
    assert_eq!(reply.outcome, Outcome::ServerError { retry_after: None });
    assert_eq!(reply.outcome.action(), Action::Retry);
    assert_eq!(reply.error.message, Some("an internal error has occurred"));
    assert_eq!(server.point_count("b"), 0);
}

#[test]
fn server_error_502_html_from_a_proxy_chunked_and_one_byte_at_a_time() {
    let server = TestServer::builder()
        .fault_plan(
            FaultPlan::new()
                .always(Fault::BadGateway)
                .on_request(2, Fault::ChunkedResponse)
                .on_request(3, Fault::SplitWrites),
        )
        .start();
    let mut c = NalStream::new(StdStack::choppy(), server.addr(), Spin::new(4));
    let mut buf = [0u8; 512];
    let t = target(&server, "b", "");
    for i in 1..=3 {
        let reply = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
        assert_eq!(reply.status, 502, "request {i}");
        assert_eq!(reply.outcome, Outcome::ServerError { retry_after: None });
        assert_eq!(reply.outcome.action(), Action::Retry);
        assert_eq!(reply.error.kind, BodyKind::Text, "request {i}");
        assert!(
            reply
                .error
                .message
                .is_some_and(|m| m.contains("502 Bad Gateway")),
            "request {i}: {:?}",
            reply.error.message
        );
        assert!(!reply.body_truncated, "request {i}");
    }
    assert_eq!(server.point_count("b"), 0);
}

#[test]
fn transport_failure_connection_closed_before_body() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(1, Fault::CloseBeforeBody))
        .start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let t = target(&server, "b", "");
    let err = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap_err();
    // Depending on timing the close shows while sending or as no answer.
    assert!(
        matches!(
            err,
            WriteError::Transport(TransportError::ClosedBeforeResponse | TransportError::Write(_))
        ),
        "{err:?}"
    );
    assert!(err.resend_may_help());
    assert!(!c.is_connected());
    assert_eq!(server.point_count("b"), 0, "nothing was stored");
    let reply = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(server.point_count("b"), 1);
    assert_eq!(c.connects(), 2);
}

#[test]
fn transport_failure_connection_closed_after_body_resend_is_idempotent() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(1, Fault::CloseAfterBody))
        .start();
    let mut c = conn(&server);
    let mut buf = [0u8; 512];
    let t = target(&server, "b", "");
    let err = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::ClosedBeforeResponse)
    );
    assert!(!c.is_connected());
    assert_eq!(server.point_count("b"), 1, "stored before the close");
    let reply = c.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(server.point_count("b"), 1, "the resend merged");
}
