//! Batches through `linewire::nal::NalStream` to the test kit's write
//! endpoint: bytes and points stored exactly, keep-alive reuse, and
//! reconnects after `Connection: close`, a dropped connection, a refused
//! connection and a stalled server.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use embedded_nal::TcpErrorKind;
use linewire::http::{Action, Outcome, Target, TransportError, WriteError};
use linewire::nal::{Error, NalStream, Op, Spin, ZeroRead};
use linewire::{Batch, Precision};
use linewire_integration::{patient, StdStack};
use linewire_testkit::{DownMode, Fault, FaultPlan, FieldValue as Stored, TestServer};

const WAIT: Duration = Duration::from_secs(10);

/// A batch with everything that needs escaping.
fn tricky_batch() -> Batch<1024> {
    let mut b = Batch::<1024>::with_precision(Precision::Milliseconds);
    b.point("wx st,1")
        .unwrap()
        .tag("room name", "loft, north=2")
        .unwrap()
        .tag("unit", "°C ✓")
        .unwrap()
        .field("temp", 21.5)
        .unwrap()
        .field("count", -3i64)
        .unwrap()
        .field("total", 18_446_744_073_709_551_615u64)
        .unwrap()
        .field("ok", true)
        .unwrap()
        .field("note", "say \"hi\" C:\\dir\\ é 日本")
        .unwrap()
        .timestamp(1_700_000_000_123)
        .unwrap();
    b.point("wx st,1")
        .unwrap()
        .tag("room name", "cellar")
        .unwrap()
        .field("temp", -0.000_001_25)
        .unwrap()
        .timestamp(1_700_000_000_124)
        .unwrap();
    b
}

fn check_tricky(server: &TestServer, bucket: &str) {
    let points = server.points(bucket);
    assert_eq!(points.len(), 2, "{points:#?}");
    let p = &points[0];
    assert_eq!(p.measurement, "wx st,1");
    let tags: BTreeMap<String, String> = [
        ("room name".to_string(), "loft, north=2".to_string()),
        ("unit".to_string(), "°C ✓".to_string()),
    ]
    .into();
    assert_eq!(p.tags, tags);
    assert_eq!(p.fields["temp"], Stored::F64(21.5));
    assert_eq!(p.fields["count"], Stored::I64(-3));
    assert_eq!(p.fields["total"], Stored::U64(u64::MAX));
    assert_eq!(p.fields["ok"], Stored::Bool(true));
    assert_eq!(
        p.fields["note"],
        Stored::Str("say \"hi\" C:\\dir\\ é 日本".to_string())
    );
    assert_eq!(p.timestamp_ns, 1_700_000_000_123_000_000);
    assert_eq!(points[1].tags["room name"], "cellar");
    assert_eq!(points[1].fields["temp"], Stored::F64(-0.000_001_25));
    assert_eq!(points[1].timestamp_ns, 1_700_000_000_124_000_000);
}

fn std_nal(
    server: &TestServer,
) -> NalStream<std_embedded_nal::Stack, impl FnMut(&mut std_embedded_nal::Stack, Op, u32) -> bool> {
    NalStream::new(std_embedded_nal::Stack, server.addr(), patient(WAIT))
}

fn target(server: &TestServer, bucket: &'static str) -> Target<'static> {
    Target::v2("127.0.0.1", bucket, "")
        .unwrap()
        .port(server.addr().port())
}

#[test]
fn std_embedded_nal_round_trip_stores_points_exactly_as_formatted() {
    let server = TestServer::start();
    let batch = tricky_batch();
    let mut conn = std_nal(&server);
    let mut buf = [0u8; 512];
    let reply = conn
        .write_batch(&target(&server, "farm"), &batch, &mut buf)
        .unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(reply.status, 204);
    let req = &server.write_requests()[0];
    assert_eq!(req.body, batch.as_bytes(), "the body arrives byte for byte");
    assert_eq!(req.query_param("precision").as_deref(), Some("ms"));
    check_tricky(&server, "farm");
}

#[test]
fn keep_alive_reuses_one_connection_for_many_batches() {
    let server = TestServer::start();
    let mut conn = std_nal(&server);
    let t = target(&server, "ka");
    let mut buf = [0u8; 512];
    for i in 0..20 {
        let body = format!("m,i={i} v={i}i {i}\n");
        let reply = conn.write_batch(&t, body.as_bytes(), &mut buf).unwrap();
        assert_eq!(reply.outcome, Outcome::Written);
        assert!(reply.reusable);
        assert!(conn.is_connected());
    }
    assert_eq!(conn.connects(), 1, "one connection carried every batch");
    assert_eq!(server.point_count("ka"), 20);
    assert_eq!(server.write_requests().len(), 20);
}

#[test]
fn one_byte_sends_with_would_block_and_zero_lose_no_bytes() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().always(Fault::SplitWrites))
        .start();
    let batch = tricky_batch();
    let mut conn = NalStream::new(StdStack::choppy(), server.addr(), Spin::new(4));
    let mut buf = [0u8; 512];
    for _ in 0..2 {
        let reply = conn
            .write_batch(&target(&server, "farm"), &batch, &mut buf)
            .unwrap();
        assert_eq!(reply.outcome, Outcome::Written);
    }
    let reqs = server.write_requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        assert_eq!(r.body, batch.as_bytes());
    }
    check_tricky(&server, "farm");
    let stack = conn.stack();
    assert_eq!(conn.connects(), 1);
    // Every byte went out in its own send, with WouldBlock/Ok(0) answers in between.
    let wire_bytes: usize = 2 * (batch.len() + 100);
    assert!(
        stack.send_calls as usize > 2 * wire_bytes,
        "{} sends for > {wire_bytes} bytes",
        stack.send_calls
    );
    assert!(stack.blocked_answers as usize > wire_bytes);
}

#[test]
fn error_answer_over_choppy_stack_is_read_completely_and_connection_kept() {
    // A 400 with a JSON body, read one byte at a time, keeps the connection usable.
    let server = TestServer::start();
    let mut conn = NalStream::new(StdStack::choppy(), server.addr(), Spin::new(4));
    let t = target(&server, "b");
    let mut buf = [0u8; 512];
    let reply = conn.write_batch(&t, b"m v=1\nm bad\n", &mut buf).unwrap();
    assert!(matches!(reply.outcome, Outcome::PartiallyWritten(_)));
    assert!(reply.reusable);
    let reply = conn.write_batch(&t, b"m v=2 5\n", &mut buf).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(conn.connects(), 1);
}

#[test]
fn reconnects_after_connection_close() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(2, Fault::ConnectionClose))
        .start();
    let mut conn = std_nal(&server);
    let t = target(&server, "cc");
    let mut buf = [0u8; 512];
    for i in 1..=4 {
        let body = format!("m v={i} {i}\n");
        let reply = conn.write_batch(&t, body.as_bytes(), &mut buf).unwrap();
        assert_eq!(reply.outcome, Outcome::Written, "batch {i}");
        assert_eq!(reply.reusable, i != 2, "batch {i}");
        assert_eq!(conn.is_connected(), i != 2, "batch {i}");
    }
    assert_eq!(
        conn.connects(),
        2,
        "a new connection after Connection: close"
    );
    assert_eq!(server.point_count("cc"), 4);
}

#[test]
fn reconnects_after_the_server_drops_the_connection() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(2, Fault::CloseAfterBody))
        .start();
    let mut conn = std_nal(&server);
    let t = target(&server, "drop");
    let mut buf = [0u8; 512];
    conn.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    let err = conn.write_batch(&t, b"m v=2 2\n", &mut buf).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::ClosedBeforeResponse)
    );
    assert!(err.resend_may_help());
    assert!(!conn.is_connected());
    // Resend: idempotent, the point was stored once.
    let reply = conn.write_batch(&t, b"m v=2 2\n", &mut buf).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(conn.connects(), 2);
    assert_eq!(server.point_count("drop"), 2);
}

#[test]
fn idle_keep_alive_connection_closed_by_server_then_refused_then_back() {
    let server = TestServer::start();
    let mut conn = std_nal(&server);
    let t = target(&server, "down");
    let mut buf = [0u8; 512];
    conn.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap();
    assert!(conn.is_connected());

    // The server closes the open connection as the next request arrives.
    server.set_down(DownMode::CloseImmediately);
    let err = conn.write_batch(&t, b"m v=2 2\n", &mut buf).unwrap_err();
    assert!(
        matches!(err, WriteError::Transport(_)),
        "a transport error, got {err:?}"
    );
    assert!(!conn.is_connected());

    // Now the port refuses: the typed error says so.
    server.set_down(DownMode::Refuse);
    let err = conn.write_batch(&t, b"m v=2 2\n", &mut buf).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::Write(
            embedded_io::ErrorKind::ConnectionRefused
        ))
    );
    assert_eq!(conn.last_error(), Some(Error::Connect(TcpErrorKind::Other)));

    server.set_up().unwrap();
    let reply = conn.write_batch(&t, b"m v=2 2\n", &mut buf).unwrap();
    assert_eq!(reply.outcome.action(), Action::Done);
    assert_eq!(conn.last_error(), None);
    assert_eq!(conn.connects(), 2);
    assert_eq!(server.point_count("down"), 2);
}

#[test]
fn a_stalled_server_is_a_typed_error_within_the_callers_budget() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().on_request(1, Fault::Delay(Duration::from_secs(3))))
        .start();
    let mut conn = NalStream::new(
        std_embedded_nal::Stack,
        server.addr(),
        patient(Duration::from_millis(300)),
    );
    let t = target(&server, "slow");
    let mut buf = [0u8; 512];
    let started = Instant::now();
    let err = conn.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gave up after {:?}",
        started.elapsed()
    );
    assert_eq!(
        err,
        WriteError::Transport(TransportError::Read(embedded_io::ErrorKind::TimedOut))
    );
    assert_eq!(conn.last_error(), Some(Error::Stalled(Op::Receive)));
    assert!(!conn.is_connected());
    // The next batch goes out on a new connection.
    let reply = conn.write_batch(&t, b"m v=2 2\n", &mut buf).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(conn.connects(), 2);
}

#[test]
fn zero_read_setting_decides_what_ok_zero_means() {
    // The server stores the batch and closes without answering; std's read
    // then returns Ok(0). As the end of stream it is ClosedBeforeResponse;
    // as "no data yet" (smoltcp semantics) it is waited on until the budget
    // ends.
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().always(Fault::CloseAfterBody))
        .start();
    let t = target(&server, "z");
    let mut buf = [0u8; 512];
    let mut eof = NalStream::new(StdStack::new(), server.addr(), Spin::new(100));
    let err = eof.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::ClosedBeforeResponse)
    );
    assert_eq!(
        eof.last_error(),
        None,
        "the end of stream is not an adapter error"
    );

    let mut no_data =
        NalStream::new(StdStack::new(), server.addr(), Spin::new(100)).zero_read(ZeroRead::NoData);
    let err = no_data.write_batch(&t, b"m v=1 1\n", &mut buf).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::Read(embedded_io::ErrorKind::TimedOut))
    );
    assert_eq!(no_data.last_error(), Some(Error::Stalled(Op::Receive)));
    assert!(!no_data.is_connected());
}

#[test]
fn connections_are_closed_on_drop() {
    let server = TestServer::start();
    let mut stack = StdStack::new();
    {
        let mut conn = NalStream::new(&mut stack, server.addr(), Spin::new(10));
        let t = target(&server, "d");
        conn.write_batch(&t, b"m v=1 1\n", &mut [0u8; 256]).unwrap();
        assert!(conn.is_connected());
    }
    assert_eq!(stack.connects, 1);
    assert_eq!(stack.closes, 1);
}
