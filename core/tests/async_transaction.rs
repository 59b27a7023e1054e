//! The async write transaction against the blocking one: for a table of
//! answers and stream behaviours (one byte at a time, early answers after
//! a reset or broken pipe, a write that times out, a read that fails, a
//! stream that accepts nothing), `write_payload_async` over an async fake
//! must send the same bytes and return the same result as `write_payload`
//! over the same blocking fake. Then over real TCP against the test kit.
#![cfg(feature = "async")]

mod http_support;

use embedded_io::ErrorKind;
use http_support::Fake;
use linewire::http::{
    encode_head, write_batch_async, write_payload, write_payload_async, Action, Outcome, Payload,
    ReadLimits, Reply, Target, TransportError, WriteError,
};
use linewire::{Batch, Precision};
use linewire_testkit::tcp::Tcp;
use linewire_testkit::{FieldValue, TestServer};

const BATCH: &[u8] = b"home,room=kitchen temp=72 1463683075\nhome,room=hall temp=1 1\n";

/// The shared fake, with the kind of its failed writes chosen (it fails
/// them as a broken pipe).
struct Blocking<'a> {
    fake: Fake<'a>,
    write_kind: ErrorKind,
}

impl embedded_io::ErrorType for Blocking<'_> {
    type Error = ErrorKind;
}

impl embedded_io::Read for Blocking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        embedded_io::Read::read(&mut self.fake, buf).map_err(|e| e.0)
    }
}

impl embedded_io::Write for Blocking<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        embedded_io::Write::write(&mut self.fake, buf).map_err(|_| self.write_kind)
    }
    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

/// The blocking fake behind async traits, yielding to the executor before
/// every read and write (a real suspension point, as a socket waiting for
/// the network would).
struct AsyncFake<'a>(Blocking<'a>);

impl embedded_io_async::ErrorType for AsyncFake<'_> {
    type Error = ErrorKind;
}

impl embedded_io_async::Read for AsyncFake<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        embassy_futures::yield_now().await;
        embedded_io::Read::read(&mut self.0, buf)
    }
}

impl embedded_io_async::Write for AsyncFake<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        embassy_futures::yield_now().await;
        embedded_io::Write::write(&mut self.0, buf)
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        embedded_io::Write::flush(&mut self.0)
    }
}

fn response(status: &str, headers: &[&str], body: &str) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 {status}\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    r.into_bytes()
}

/// The answers of the table: every outcome class, interim responses,
/// chunked and close-delimited bodies, a cut body, garbage.
fn answers() -> Vec<Vec<u8>> {
    vec![
        b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
            .to_vec(),
        response(
            "400 Bad Request",
            &["Content-Type: application/json"],
            r#"{"code":"invalid","message":"partial write: unable to parse 'home,room=hall temp= 1': missing field value; dropped=1"}"#,
        ),
        response(
            "401 Unauthorized",
            &["Content-Type: application/json"],
            r#"{"code":"unauthorized","message":"unauthorized access"}"#,
        ),
        response("404 Not Found", &[], r#"{"code":"not found","message":"bucket \"x\" not found"}"#),
        response("413 Request Entity Too Large", &["Connection: close"], r#"{"code":"request too large","message":"too large"}"#),
        response("429 Too Many Requests", &["Retry-After: 30"], ""),
        response("503 Service Unavailable", &["Retry-After: Wed, 21 Oct 2026 07:28:00 GMT"], "<html>down</html>"),
        b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n5\r\noops!\r\n0\r\n\r\n".to_vec(),
        b"HTTP/1.0 502 Bad Gateway\r\n\r\nbad gateway until close".to_vec(),
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 100\r\n\r\n{\"message\":\"cut".to_vec(),
        b"HTTP/1.1 204 No Content\r\nX-Long: ".iter().copied().chain(std::iter::repeat(b'a').take(900)).chain(*b"\r\n\r\n").collect(),
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://elsewhere/\r\nContent-Length: 0\r\n\r\n".to_vec(),
        b"HTTP/1.1 20".to_vec(),
        b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(),
        Vec::new(),
    ]
}

/// How the fake stream behaves.
#[derive(Debug, Clone, Copy)]
enum Behaviour {
    Whole,
    Trickle,
    /// Writes fail with this kind after this many bytes.
    WriteFails(usize, ErrorKind),
    /// Reads fail (reset) after this many bytes.
    ReadFails(usize),
    WriteZero,
}

fn behaviours() -> Vec<Behaviour> {
    use Behaviour::*;
    vec![
        Whole,
        Trickle,
        WriteFails(0, ErrorKind::BrokenPipe),
        WriteFails(40, ErrorKind::ConnectionReset),
        WriteFails(200, ErrorKind::ConnectionAborted),
        WriteFails(40, ErrorKind::TimedOut),
        WriteFails(0, ErrorKind::NotConnected),
        ReadFails(0),
        ReadFails(5),
        ReadFails(30),
        WriteZero,
    ]
}

fn fake(wire: &[u8], b: Behaviour) -> Blocking<'_> {
    let mut write_kind = ErrorKind::BrokenPipe;
    let mut f = match b {
        Behaviour::Trickle => Fake::trickle(wire),
        _ => Fake::new(wire),
    };
    match b {
        Behaviour::WriteFails(n, kind) => {
            f.fail_write_after = Some(n);
            write_kind = kind;
        }
        Behaviour::ReadFails(n) => f.fail_read_after = Some(n),
        Behaviour::WriteZero => f.write_zero = true,
        Behaviour::Whole | Behaviour::Trickle => {}
    }
    Blocking {
        fake: f,
        write_kind,
    }
}

/// The request the transaction sends: the encoder's head, then the body.
fn full_request(target: &Target<'_>, payload: &Payload<'_>) -> Vec<u8> {
    let mut head = vec![0u8; 4096];
    let n = encode_head(target, payload, &mut head).unwrap();
    head.truncate(n);
    head.extend_from_slice(payload.bytes());
    head
}

/// A comparable form of a transaction's result (the reply borrows the
/// buffer; its Debug form shows every field, body text included).
fn summary(r: &Result<Reply<'_>, WriteError>) -> String {
    format!("{r:?}")
}

#[test]
fn async_matches_blocking_for_every_answer_and_stream_behaviour() {
    let targets = [
        Target::v2("influx.local", "sensors", "tok")
            .unwrap()
            .port(8086),
        Target::v1("influx.local", "db").unwrap().keep_alive(false),
    ];
    let payloads = [
        Payload::new(BATCH),
        Payload::new(BATCH)
            .precision(Precision::Seconds)
            .compressed(true),
    ];
    let mut compared = 0;
    let mut early_answers = 0;
    for target in &targets {
        for payload in &payloads {
            for wire in answers() {
                for b in behaviours() {
                    for buf_len in [0usize, 16, 63, 64, 200, 512, 1024] {
                        let mut blocking = fake(&wire, b);
                        let mut buf = vec![0u8; buf_len];
                        let expected = write_payload(
                            &mut blocking,
                            target,
                            payload,
                            &mut buf,
                            ReadLimits::default(),
                        );
                        let expected_summary = summary(&expected);

                        let mut stream = AsyncFake(fake(&wire, b));
                        let mut abuf = vec![0u8; buf_len];
                        let got = embassy_futures::block_on(write_payload_async(
                            &mut stream,
                            target,
                            payload,
                            &mut abuf,
                            ReadLimits::default(),
                        ));
                        let context = format!(
                            "{b:?}, buffer {buf_len}, answer {:?}",
                            String::from_utf8_lossy(&wire)
                        );
                        assert_eq!(summary(&got), expected_summary, "{context}");
                        if matches!(b, Behaviour::WriteFails(..) | Behaviour::WriteZero) {
                            // Where a failing write cuts the request
                            // depends on how the head is split into
                            // writes (the async one stages it in windows):
                            // both sent a prefix of the one request.
                            let full = full_request(target, payload);
                            assert!(full.starts_with(&stream.0.fake.written), "{context}");
                            assert!(full.starts_with(&blocking.fake.written), "{context}");
                        } else {
                            assert_eq!(stream.0.fake.written, blocking.fake.written, "{context}");
                        }
                        assert_eq!(stream.0.fake.reads, blocking.fake.reads, "{context}");
                        if matches!(b, Behaviour::WriteFails(_, ErrorKind::BrokenPipe))
                            && matches!(&got, Ok(r) if matches!(r.outcome, Outcome::TooLarge { .. }))
                        {
                            early_answers += 1;
                        }
                        compared += 1;
                    }
                }
            }
        }
    }
    // The table exercised what it claims to.
    assert_eq!(compared, 2 * 2 * answers().len() * behaviours().len() * 7);
    assert!(early_answers > 0, "no early 413 was taken");
}

#[test]
fn the_request_bytes_are_the_encoder_head_and_the_payload() {
    // Many long headers: a head far larger than the buffer (sent in
    // windows of it) is still the one `encode_head` produces.
    let headers: Vec<(&str, &str)> = (0..20)
        .map(|_| ("X-Padding", "abcdefghijklmnopqrstuvwxyz0123456789"))
        .collect();
    let target = Target::v2("h", "b", "t")
        .unwrap()
        .headers(&headers)
        .unwrap();
    let payload = Payload::new(BATCH);
    let mut head = vec![0u8; 4096];
    let n = encode_head(&target, &payload, &mut head).unwrap();
    assert!(n > 800);
    for buf_len in [0, 1, 64, 100, 4096] {
        let wire = b"HTTP/1.1 204 No Content\r\n\r\n";
        let mut stream = AsyncFake(Blocking {
            fake: Fake::trickle(wire),
            write_kind: ErrorKind::BrokenPipe,
        });
        let mut buf = vec![0u8; buf_len.max(64)];
        let mut scratch = vec![0u8; buf_len];
        embassy_futures::block_on(linewire::http::write_request_async(
            &mut stream,
            &target,
            &payload,
            &mut scratch,
        ))
        .unwrap();
        let mut expected = head[..n].to_vec();
        expected.extend_from_slice(BATCH);
        assert_eq!(stream.0.fake.written, expected, "scratch {buf_len}");
        let r = embassy_futures::block_on(linewire::http::read_response_async(
            &mut stream,
            &mut buf,
            ReadLimits::default(),
        ))
        .unwrap();
        assert_eq!(r.status(), 204);
    }
}

#[test]
fn early_answers_follow_the_blocking_rule() {
    let target = Target::v2("h", "b", "t").unwrap();
    let too_large = response("413 Request Entity Too Large", &[], "{}");
    let written = b"HTTP/1.1 204 No Content\r\n\r\n".to_vec();
    let run = |wire: &[u8], kind| {
        let mut f = Fake::new(wire);
        f.fail_write_after = Some(10);
        let mut stream = AsyncFake(Blocking {
            fake: f,
            write_kind: kind,
        });
        let mut buf = [0u8; 256];
        let r = embassy_futures::block_on(write_batch_async(&mut stream, &target, BATCH, &mut buf))
            .map(|r| (matches!(r.outcome, Outcome::TooLarge { .. }), r.reusable));
        (r, stream.0.fake.reads)
    };
    // A 413 waiting after a broken pipe decides, and the connection is not
    // reused.
    assert_eq!(
        run(&too_large, ErrorKind::BrokenPipe),
        (Ok((true, false)), 1)
    );
    // A 204 cannot speak for lines the server never received.
    assert_eq!(
        run(&written, ErrorKind::ConnectionReset).0,
        Err(WriteError::Transport(TransportError::Write(
            ErrorKind::ConnectionReset
        )))
    );
    // A write that timed out is reported at once: nothing is read.
    assert_eq!(
        run(&too_large, ErrorKind::TimedOut),
        (
            Err(WriteError::Transport(TransportError::Write(
                ErrorKind::TimedOut
            ))),
            0
        )
    );
}

#[test]
fn batches_over_real_tcp_are_stored_exactly() {
    let server = TestServer::start();
    let addr = server.addr();
    let target = Target::v2("127.0.0.1", "async", "token")
        .unwrap()
        .port(addr.port());
    let mut stream = Tcp::connect(addr).unwrap();
    let mut buf = [0u8; 512];
    for round in 0..3i64 {
        let mut batch = Batch::<512>::with_precision(Precision::Seconds);
        for i in 0..5i64 {
            batch
                .point("env")
                .and_then(|p| p.tag("room", "a b,c=d"))
                .and_then(|p| p.field("n", round * 10 + i))
                .and_then(|p| p.field("note", "say \"hi\"\\"))
                .and_then(|p| p.timestamp(1_700_000_000 + round * 10 + i))
                .unwrap();
        }
        let reply =
            embassy_futures::block_on(write_batch_async(&mut stream, &target, &batch, &mut buf))
                .unwrap();
        assert_eq!(reply.outcome, Outcome::Written);
        assert_eq!(reply.outcome.action(), Action::Done);
        // Kept alive: the three batches share one connection.
        assert!(reply.reusable);
    }
    let points = server.points("async");
    assert_eq!(points.len(), 15);
    let mut stored: Vec<i64> = points
        .iter()
        .map(|p| {
            let n = p.timestamp_ns / 1_000_000_000 - 1_700_000_000;
            assert_eq!(p.measurement, "env");
            assert_eq!(p.tags["room"], "a b,c=d");
            assert_eq!(p.fields["n"], FieldValue::I64(n));
            assert_eq!(p.fields["note"], FieldValue::Str("say \"hi\"\\".into()));
            n
        })
        .collect();
    stored.sort();
    let sent: Vec<i64> = (0..3)
        .flat_map(|r| (0..5).map(move |i| r * 10 + i))
        .collect();
    assert_eq!(stored, sent);
    assert_eq!(server.write_requests().len(), 3);
}
