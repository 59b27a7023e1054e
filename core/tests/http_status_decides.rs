//! Issue 12: once a status line is read, the status decides the outcome.
//! Whatever follows it (headers too long or too many for the buffer,
//! malformed fields, bodies past the limit, broken chunked framing) is
//! reported as a `Truncation`, never turned into an error that would make
//! a caller resend stored points or retry a rejected batch. And a server
//! that answers early (413) while the body is still being written is
//! heard.

mod http_support;

use embedded_io::ErrorKind;
use http_support::Fake;
use linewire::http::{
    read_response, write_batch, Action, Framing, Outcome, ReadLimits, Reply, Target,
    TransportError, Truncation, WriteError,
};
use proptest::prelude::*;

mod status_class;
use status_class::action_ok;

/// Reads `wire` with `read_chunk` bytes per read into a buffer of
/// `buf_len`, checks the status and the action, returns the reply's
/// owned parts.
fn check(
    wire: &[u8],
    status: u16,
    buf_len: usize,
    read_chunk: usize,
    limits: ReadLimits,
) -> (Outcome, Option<Truncation>, bool) {
    let mut fake = Fake::new(wire);
    fake.read_chunk = read_chunk;
    let mut buf = vec![0u8; buf_len];
    let r = match read_response(&mut fake, &mut buf, limits) {
        Ok(r) => r,
        Err(e) => panic!(
            "status {status}, buffer {buf_len}, chunk {read_chunk}: {e} for {:?}",
            String::from_utf8_lossy(wire)
        ),
    };
    assert_eq!(r.status(), status);
    assert!(r.body().len() as u64 <= u64::from(r.body_len()));
    if r.truncation().is_some() {
        assert!(!r.is_reusable());
    }
    let reply = Reply::from(r);
    assert_eq!(reply.status, status);
    assert!(
        action_ok(status, &reply.outcome),
        "status {status}: {:?}",
        reply.outcome
    );
    // Every read but the last consumed a byte: the reader ends.
    assert!(fake.reads <= wire.len() + 1);
    (reply.outcome, reply.truncation, reply.reusable)
}

/// Reads `wire` one byte at a time and in one go; both must agree on the
/// outcome and what was lost (not on reuse: one read may take bytes past
/// the end of the response, which makes the connection not reusable).
fn check_both(
    wire: &[u8],
    status: u16,
    buf_len: usize,
    limits: ReadLimits,
) -> (Outcome, Option<Truncation>, bool) {
    let trickle = check(wire, status, buf_len, 1, limits);
    let bulk = check(wire, status, buf_len, usize::MAX, limits);
    assert_eq!(
        (trickle.0, trickle.1),
        (bulk.0, bulk.1),
        "one byte per read and one read differ"
    );
    trickle
}

fn long(name: &str, len: usize) -> String {
    format!("{name}: {}\r\n", "a".repeat(len))
}

#[test]
fn no_content_with_a_4_kib_header_in_256_bytes() {
    let wire = format!(
        "HTTP/1.1 204 No Content\r\nDate: Fri, 04 Dec 2026 12:00:00 GMT\r\n{}Server: cdn\r\n\r\n",
        long("X-Cdn-Trace", 4096)
    );
    let (outcome, truncation, reusable) =
        check_both(wire.as_bytes(), 204, 256, ReadLimits::default());
    assert_eq!(outcome, Outcome::Written);
    assert_eq!(truncation, Some(Truncation::Headers));
    assert!(!reusable);
}

#[test]
fn influxdb_1x_partial_write_with_a_long_error_header() {
    // InfluxDB 1.8 quotes the bad line in X-Influxdb-Error and the body.
    let line = format!("weather,site=a temp={} 1700000000", "9".repeat(600));
    let msg = format!("partial write: unable to parse '{line}': invalid number dropped=1");
    let body = format!("{{\"error\":\"{}\"}}\n", msg.replace('"', "\\\""));
    let wire = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nRequest-Id: 8f2c\r\nX-Influxdb-Build: OSS\r\nX-Influxdb-Error: {msg}\r\nX-Influxdb-Version: 1.8.10\r\nDate: Fri, 04 Dec 2026 12:00:00 GMT\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    for buf_len in [256, 512] {
        let (outcome, truncation, _) =
            check_both(wire.as_bytes(), 400, buf_len, ReadLimits::default());
        // The header was skipped and the JSON body is cut by the buffer,
        // so the message is not read: `Rejected`, not `PartiallyWritten`,
        // but the same action (drop: the good lines are stored).
        assert_eq!(outcome.action(), Action::Drop, "{buf_len}: {outcome:?}");

        assert_eq!(truncation, Some(Truncation::Headers), "{buf_len}");
    }
    // With room for the whole head (about 900 bytes), nothing is lost:
    // the message comes from X-Influxdb-Error.
    for buf_len in [1024, 2048] {
        let (outcome, truncation, reusable) =
            check_both(wire.as_bytes(), 400, buf_len, ReadLimits::default());
        assert!(
            matches!(outcome, Outcome::PartiallyWritten(_)),
            "{outcome:?}"
        );
        assert_eq!(truncation, None);
        assert!(reusable);
    }
}

#[test]
fn thirty_headers_on_a_204() {
    let mut wire = String::from("HTTP/1.1 204 No Content\r\n");
    for i in 0..30 {
        wire.push_str(&format!("X-Header-{i}: value {i}\r\n"));
    }
    wire.push_str("\r\n");
    for buf_len in [64, 256, 1024] {
        let (outcome, truncation, reusable) =
            check_both(wire.as_bytes(), 204, buf_len, ReadLimits::default());
        assert_eq!(outcome, Outcome::Written);
        // Every field fits the buffer on its own: nothing is lost.
        assert_eq!(truncation, None, "{buf_len}");
        assert!(reusable);
    }
    // The kept values survive the fields around them.
    let mut wire = String::from("HTTP/1.1 404 Not Found\r\n");
    for i in 0..30 {
        wire.push_str(&format!("X-Header-{i}: value {i}\r\n"));
        if i == 10 {
            wire.push_str("X-Platform-Error-Code: not found\r\n");
        }
    }
    wire.push_str("Content-Length: 2\r\n\r\nno");
    let mut buf = [0u8; 128];
    let r = read_response(
        &mut Fake::trickle(wire.as_bytes()),
        &mut buf,
        ReadLimits::default(),
    )
    .unwrap();
    assert_eq!(r.platform_error_code(), Some("not found"));
    assert_eq!(r.body(), b"no");
    assert!(r.is_reusable());
}

#[test]
fn error_body_over_max_body() {
    let body = format!(
        "{{\"code\":\"invalid\",\"message\":\"{}\"}}",
        "x".repeat(3000)
    );
    let wire = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (outcome, truncation, reusable) =
        check_both(wire.as_bytes(), 400, 512, ReadLimits::new(1000));
    assert_eq!(outcome, Outcome::Rejected);
    assert_eq!(truncation, Some(Truncation::Body));
    assert!(!reusable);
}

#[test]
fn bad_chunk_after_a_400_and_after_a_200() {
    let wire = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n1a\r\n{\"code\":\"invalid\",\"message\r\nzz\r\n";
    let (outcome, truncation, _) = check_both(wire, 400, 256, ReadLimits::default());
    assert_eq!(outcome.action(), Action::Drop);
    assert_eq!(truncation, Some(Truncation::Body));
    let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX";
    let (outcome, truncation, _) = check_both(wire, 200, 256, ReadLimits::default());
    assert_eq!(outcome, Outcome::Written);
    assert_eq!(truncation, Some(Truncation::Body));
}

#[test]
fn skipped_framing_header_leaves_the_body_unread() {
    let wire = format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\n\r\nunauthorized",
        "0".repeat(400)
    );
    let mut fake = Fake::trickle(wire.as_bytes());
    let mut buf = [0u8; 128];
    let r = read_response(&mut fake, &mut buf, ReadLimits::default()).unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.truncation(), Some(Truncation::Framing));
    assert_eq!(r.framing(), Framing::Unknown);
    assert_eq!(Reply::from(r).outcome, Outcome::Unauthorized);
    // Not a byte of the body was read.
    assert_eq!(fake.remaining(), b"unauthorized");
}

#[test]
fn a_head_without_end_stops_at_max_body() {
    let mut wire = String::from("HTTP/1.1 503 Service Unavailable\r\n");
    for i in 0..2000 {
        wire.push_str(&format!("X-{i}: v\r\n"));
    }
    let (outcome, truncation, _) = check_both(wire.as_bytes(), 503, 128, ReadLimits::new(4096));
    assert_eq!(outcome.action(), Action::RetryLater);
    assert_eq!(truncation, Some(Truncation::Framing));
}

/// A 413 queued on the read side of a stream whose writes fail after
/// `accept` bytes (Go's net/http answers before reading a large body, then
/// closes).
fn early_413(accept: usize, trickle: bool) -> Result<(Outcome, bool), WriteError> {
    let body = "{\"code\":\"request too large\",\"message\":\"unable to read data: points batch is too large\"}";
    let wire = format!(
        "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: application/json; charset=utf-8\r\nX-Platform-Error-Code: request too large\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let batch = "m,host=a v=1 1700000000\n".repeat(2000);
    let target = Target::v2("influx.local", "sensors", "tok").unwrap();
    let mut fake = if trickle {
        Fake::trickle(wire.as_bytes())
    } else {
        Fake::new(wire.as_bytes())
    };
    fake.fail_write_after = Some(accept);
    let mut buf = [0u8; 512];
    let reply = write_batch(&mut fake, &target, batch.as_bytes(), &mut buf)?;
    Ok((reply.outcome, reply.reusable))
}

#[test]
fn early_413_while_the_body_is_written_splits_the_batch() {
    for accept in [0, 100, 4096] {
        for trickle in [true, false] {
            let (outcome, reusable) = early_413(accept, trickle).unwrap();
            assert_eq!(outcome, Outcome::TooLarge { max_length: None });
            assert_eq!(outcome.action(), Action::Split);
            assert!(!reusable);
        }
    }
}

#[test]
fn failed_write_without_an_answer_is_the_write_error() {
    let target = Target::v2("h", "b", "t").unwrap();
    let mut fake = Fake::new(b"");
    fake.fail_write_after = Some(50);
    let err = write_batch(&mut fake, &target, &[b'x'; 500][..], &mut [0u8; 256]).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::Write(ErrorKind::BrokenPipe))
    );
    // Half a status line is no answer either.
    let mut fake = Fake::new(b"HTTP/1.1 41");
    fake.fail_write_after = Some(50);
    let err = write_batch(&mut fake, &target, &[b'x'; 500][..], &mut [0u8; 256]).unwrap_err();
    assert!(matches!(
        err,
        WriteError::Transport(TransportError::Write(_))
    ));
}

#[test]
fn early_answers_that_would_settle_unsent_lines_are_not_taken() {
    // A 2xx or a 400 before the server had the whole body cannot speak for
    // lines it never received: the batch is resent, not counted written or
    // dropped. Answers that keep the data are taken.
    let target = Target::v2("h", "b", "t").unwrap();
    let cases: [(&[u8], Option<Action>); 5] = [
        (b"HTTP/1.1 204 No Content\r\n\r\n", None),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", None),
        (
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}",
            None,
        ),
        (
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
            Some(Action::Stop),
        ),
        (
            b"HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n",
            Some(Action::RetryLater),
        ),
    ];
    for (wire, taken) in cases {
        let mut fake = Fake::new(wire);
        fake.fail_write_after = Some(100);
        let mut buf = [0u8; 256];
        let got = write_batch(&mut fake, &target, &[b'x'; 500][..], &mut buf);
        match taken {
            Some(action) => {
                let reply = got.unwrap();
                assert_eq!(reply.outcome.action(), action);
                assert!(!reply.reusable);
            }
            None => assert_eq!(
                got.unwrap_err(),
                WriteError::Transport(TransportError::Write(ErrorKind::BrokenPipe)),
                "{}",
                String::from_utf8_lossy(wire)
            ),
        }
    }
}

#[test]
fn other_write_failures_do_not_wait_for_an_answer() {
    // Only a peer that closed (reset, broken pipe, aborted) may have
    // answered; a stream that accepts nothing is reported at once.
    let target = Target::v2("h", "b", "t").unwrap();
    let mut fake = Fake::new(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n");
    fake.write_zero = true;
    let err = write_batch(&mut fake, &target, &b"m v=1\n"[..], &mut [0u8; 256]).unwrap_err();
    assert_eq!(err, WriteError::Transport(TransportError::WriteZero));
    assert_eq!(fake.reads, 0);
}

#[test]
fn transport_errors_read_as_sentences() {
    assert_eq!(
        TransportError::Read(ErrorKind::TimedOut).to_string(),
        "reading the response failed: timed out"
    );
    assert_eq!(
        TransportError::Write(ErrorKind::ConnectionReset).to_string(),
        "writing the request failed: the connection was reset"
    );
    assert!(TransportError::Read(ErrorKind::Other)
        .to_string()
        .contains("timeout"));
    for k in [
        ErrorKind::Other,
        ErrorKind::NotFound,
        ErrorKind::PermissionDenied,
        ErrorKind::ConnectionRefused,
        ErrorKind::ConnectionReset,
        ErrorKind::ConnectionAborted,
        ErrorKind::NotConnected,
        ErrorKind::AddrInUse,
        ErrorKind::AddrNotAvailable,
        ErrorKind::BrokenPipe,
        ErrorKind::AlreadyExists,
        ErrorKind::InvalidInput,
        ErrorKind::InvalidData,
        ErrorKind::TimedOut,
        ErrorKind::Interrupted,
        ErrorKind::Unsupported,
        ErrorKind::OutOfMemory,
        ErrorKind::WriteZero,
    ] {
        let text = TransportError::Read(k).to_string();
        assert!(
            !text.contains(&format!("{k:?}")) || format!("{k:?}") == "Other",
            "{text}"
        );
    }
}

const STATUSES: &[u16] = &[
    200, 201, 204, 299, 301, 304, 400, 401, 403, 404, 405, 408, 413, 422, 429, 500, 502, 503, 504,
    599,
];

/// Pieces after a valid status line: fields (short, long, framing, kept,
/// malformed), head ends, bodies (chunked, broken), random bytes.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0u32..50).prop_map(|i| format!("X-H{i}: v{i}\r\n").into_bytes()),
        2 => (40usize..3000).prop_map(|n| long("X-Long", n).into_bytes()),
        1 => (40usize..2000).prop_map(|n| long("X-Influxdb-Error", n).into_bytes()),
        1 => (0usize..600).prop_map(|n| long("X-Platform-Error-Code", n).into_bytes()),
        1 => (0u32..100).prop_map(|n| format!("Content-Length: {n}\r\n").into_bytes()),
        1 => Just(b"Content-Length: x\r\n".to_vec()),
        1 => Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
        1 => Just(b"Connection: close\r\n".to_vec()),
        1 => Just(b"Retry-After: 5\r\n".to_vec()),
        1 => Just(b" folded\r\n".to_vec()),
        1 => Just(b"Bad Name: v\r\n".to_vec()),
        3 => Just(b"\r\n".to_vec()),
        1 => Just(b"\n".to_vec()),
        1 => Just(b"5\r\nabcde\r\n".to_vec()),
        1 => Just(b"0\r\n\r\n".to_vec()),
        1 => Just(b"zz\r\n".to_vec()),
        1 => (1usize..5000).prop_map(|n| format!("{n:x}\r\n").into_bytes()),
        1 => Just(b"{\"code\":\"invalid\",\"message\":\"partial write: x dropped=1\"}".to_vec()),
        2 => prop::collection::vec(any::<u8>(), 0..80),
    ]
}

fn after_status() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece(), 0..40).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, .. ProptestConfig::default() })]

    #[test]
    fn the_status_decides_whatever_follows(
        status in prop_oneof![prop::sample::select(STATUSES), 200u16..600],
        reason in prop::sample::select(&["", " ", " OK", " Some Reason"][..]),
        rest in after_status(),
        buf_len in 0usize..700,
        chunk in prop_oneof![Just(1usize), 1usize..64, Just(usize::MAX)],
        max_body in prop::sample::select(&[64u32, 1024, 1 << 20][..]),
    ) {
        let mut wire = format!("HTTP/1.1 {status}{reason}\r\n").into_bytes();
        // The status line fits the buffer (else nothing is known: an error).
        let buf_len = buf_len.max(wire.len());
        wire.extend_from_slice(&rest);
        check(&wire, status, buf_len, chunk, ReadLimits::new(max_body));
    }

    #[test]
    fn one_byte_at_a_time_equals_one_read(
        status in prop::sample::select(STATUSES),
        rest in after_status(),
        buf_len in 16usize..700,
    ) {
        let mut wire = format!("HTTP/1.1 {status} X\r\n").into_bytes();
        wire.extend_from_slice(&rest);
        check_both(&wire, status, buf_len, ReadLimits::default());
    }
}
