//! The response reader: framing, interim responses, truncation, closes,
//! hostile input, one byte per read.

mod http_support;

use embedded_io::ErrorKind;
use http_support::Fake;
use linewire::http::{
    read_response, Framing, PeerError, ReadError, ReadLimits, ResourceError, RetryAfter,
    TransportError, Truncation, MAX_INTERIM,
};
use proptest::prelude::*;

/// What a read produced, owned, to compare runs with different chunking.
#[derive(Debug, PartialEq)]
struct Summary {
    status: u16,
    framing: Framing,
    reusable: bool,
    complete: bool,
    truncated: bool,
    truncation: Option<Truncation>,
    body_len: u32,
    body: Vec<u8>,
    retry_after: Option<RetryAfter>,
    platform: Option<String>,
    influx: Option<String>,
}

fn read_with(fake: &mut Fake<'_>, buf_len: usize) -> Result<Summary, ReadError> {
    let mut buf = vec![0u8; buf_len];
    let r = read_response(fake, &mut buf, ReadLimits::default())?;
    Ok(Summary {
        status: r.status(),
        framing: r.framing(),
        reusable: r.is_reusable(),
        complete: r.is_complete(),
        truncated: r.is_truncated(),
        truncation: r.truncation(),
        body_len: r.body_len(),
        body: r.body().to_vec(),
        retry_after: r.retry_after(),
        platform: r.platform_error_code().map(str::to_owned),
        influx: r.influxdb_error().map(str::to_owned),
    })
}

/// Reads `wire` in one go and one byte per read; both must agree.
fn read(wire: &[u8], buf_len: usize) -> Result<Summary, ReadError> {
    let bulk = read_with(&mut Fake::new(wire), buf_len);
    let trickle = read_with(&mut Fake::trickle(wire), buf_len);
    assert_eq!(bulk, trickle, "bulk and one-byte reads differ");
    for chunk in [2usize, 3, 7, 13] {
        let mut f = Fake::new(wire);
        f.read_chunk = chunk;
        assert_eq!(bulk, read_with(&mut f, buf_len), "chunk {chunk}");
    }
    bulk
}

#[test]
fn no_content() {
    let s = read(b"HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n", 128).unwrap();
    assert_eq!(s.status, 204);
    assert_eq!(s.framing, Framing::NoBody);
    assert!(s.reusable && s.complete && !s.truncated);
    assert!(s.body.is_empty());
}

#[test]
fn content_length_body() {
    let s = read(
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"code\":\"x\"}\n",
        256,
    )
    .unwrap();
    assert_eq!(s.framing, Framing::Length);
    assert_eq!(s.body, b"{\"code\":\"x\"}\n");
    assert!(s.reusable);
}

#[test]
fn chunked_wins_over_content_length() {
    let wire = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nabcd\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
    let s = read(wire, 256).unwrap();
    assert_eq!(s.framing, Framing::Chunked);
    assert_eq!(s.body, b"abcd0123456789");
    assert_eq!(s.body_len, 14);
    assert!(s.complete);
    // Both framings: the body is read, the connection is not trusted again.
    assert!(!s.reusable);
}

#[test]
fn chunked_with_bare_lf_and_uppercase_hex() {
    let s = read(
        b"HTTP/1.1 500 X\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n1F\nabcdefghijklmnopqrstuvwxyz01234\n0\n\n",
        256,
    )
    .unwrap();
    assert_eq!(s.body.len(), 31);
    assert!(s.complete && s.reusable);
}

#[test]
fn interim_responses_are_skipped() {
    let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    let s = read(wire, 64).unwrap();
    assert_eq!(s.status, 204);
    assert!(s.reusable);
}

#[test]
fn too_many_interim_responses_and_101_are_errors() {
    let mut wire = Vec::new();
    for _ in 0..=MAX_INTERIM {
        wire.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    wire.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    assert_eq!(
        read(&wire, 64).unwrap_err(),
        ReadError::Peer(PeerError::UnexpectedInterim)
    );
    assert_eq!(
        read(b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 64).unwrap_err(),
        ReadError::Peer(PeerError::UnexpectedInterim)
    );
}

#[test]
fn no_body_for_204_and_304_even_with_content_length() {
    // The next response on the connection must still parse.
    let first_len = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n".len();
    let wire =
        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    let mut fake = Fake::new(wire);
    fake.boundaries = vec![first_len];
    let first = read_with(&mut fake, 128).unwrap();
    assert_eq!(first.status, 304);
    assert!(first.body.is_empty() && first.reusable);
    let second = read_with(&mut fake, 128).unwrap();
    assert_eq!(second.status, 204);
}

#[test]
fn body_larger_than_buffer_is_truncated_and_read_to_the_end() {
    let body = "x".repeat(1000);
    let mut wire = format!(
        "HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes();
    let first_len = wire.len();
    wire.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    for chunk in [1usize, 5, 64, usize::MAX] {
        let mut fake = Fake::new(&wire);
        fake.read_chunk = chunk;
        fake.boundaries = vec![first_len];
        let s = read_with(&mut fake, 100).unwrap();
        assert_eq!(s.status, 502);
        assert!(
            s.truncated && s.complete && s.reusable,
            "chunk {chunk}: {s:?}"
        );
        assert_eq!(s.body_len, 1000);
        // Every byte of the buffer holds body: nothing is lost to framing.
        assert_eq!(s.body.len(), 100);
        assert!(s.body.iter().all(|b| *b == b'x'));
        // The connection is usable: the next response is intact.
        let next = read_with(&mut fake, 100).unwrap();
        assert_eq!(next.status, 204, "chunk {chunk}");
        assert!(fake.remaining().is_empty());
    }
}

#[test]
fn chunked_body_larger_than_buffer() {
    let mut wire = b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..20 {
        wire.extend_from_slice(b"10\r\n0123456789abcdef\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    let first_len = wire.len();
    wire.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    for chunk in [1usize, 7, usize::MAX] {
        let mut fake = Fake::new(&wire);
        fake.read_chunk = chunk;
        fake.boundaries = vec![first_len];
        let s = read_with(&mut fake, 90).unwrap();
        assert_eq!(s.body_len, 320);
        assert!(s.truncated && s.reusable);
        assert_eq!(s.body, "0123456789abcdef".repeat(6).as_bytes()[..90]);
        assert_eq!(read_with(&mut fake, 90).unwrap().status, 204);
    }
}

#[test]
fn body_delimited_by_close() {
    let s = read(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n\r\n<html>down</html>",
        128,
    )
    .unwrap();
    assert_eq!(s.framing, Framing::UntilClose);
    assert_eq!(s.body, b"<html>down</html>");
    assert!(s.complete && !s.reusable);
}

#[test]
fn unknown_transfer_encoding_reads_until_close() {
    let s = read(
        b"HTTP/1.1 500 X\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nabcdef",
        128,
    )
    .unwrap();
    assert_eq!(s.framing, Framing::UntilClose);
    assert_eq!(s.body, b"abcdef");
}

#[test]
fn peer_closes_before_and_during_the_head() {
    assert_eq!(
        read(b"", 64).unwrap_err(),
        ReadError::Transport(TransportError::ClosedBeforeResponse)
    );
    assert_eq!(
        read(b"HTTP/1.1 204 No Con", 64).unwrap_err(),
        ReadError::Transport(TransportError::ClosedMidHead)
    );
    assert_eq!(
        read(b"HTTP/1.1 100 Continue\r\n\r\n", 64).unwrap_err(),
        ReadError::Transport(TransportError::ClosedBeforeResponse)
    );
}

#[test]
fn peer_closes_during_the_body() {
    let s = read(
        b"HTTP/1.1 400 Bad\r\nContent-Length: 100\r\n\r\n{\"code\":",
        128,
    )
    .unwrap();
    assert_eq!(s.status, 400);
    assert!(!s.complete && !s.reusable);
    assert_eq!(s.body, b"{\"code\":");
    let s = read(
        b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        128,
    )
    .unwrap();
    assert!(!s.complete && !s.reusable);
    assert_eq!(s.body, b"ab");
}

#[test]
fn read_errors() {
    let wire = b"HTTP/1.1 204 No Content\r\n\r\n";
    let mut f = Fake::new(wire);
    f.fail_read_after = Some(5);
    assert_eq!(
        read_with(&mut f, 64).unwrap_err(),
        ReadError::Transport(TransportError::Read(ErrorKind::ConnectionReset))
    );
    // During the body: the status stands, the body is incomplete.
    let wire =
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nContent-Length: 10\r\n\r\n0123";
    let mut f = Fake::new(wire);
    f.fail_read_after = Some(wire.len());
    let s = read_with(&mut f, 128).unwrap();
    assert_eq!(s.status, 429);
    assert_eq!(s.retry_after, Some(RetryAfter::Seconds(3)));
    assert!(!s.complete && !s.reusable);
}

#[test]
fn connection_close_and_http10() {
    let s = read(
        b"HTTP/1.1 204 No Content\r\nConnection: keep-alive, close\r\n\r\n",
        64,
    )
    .unwrap();
    assert!(!s.reusable);
    let s = read(b"HTTP/1.0 204 No Content\r\n\r\n", 64).unwrap();
    assert!(!s.reusable);
    let s = read(
        b"HTTP/1.0 204 No Content\r\nConnection: Keep-Alive\r\n\r\n",
        64,
    )
    .unwrap();
    assert!(s.reusable);
}

#[test]
fn kept_headers_survive_with_the_body() {
    let wire = b"HTTP/1.1 400 Bad Request\r\nX-Influxdb-Error: partial write: unable to parse 'x': missing fields dropped=0\r\nX-Influxdb-Version: 1.8.10\r\nX-Platform-Error-Code:  invalid \r\nContent-Length: 5\r\n\r\nhello";
    // Buffer just big enough for the head: the body still fits after the
    // values are moved to the front.
    let s = read(wire, wire.len() - 5).unwrap();
    assert_eq!(
        s.influx.as_deref(),
        Some("partial write: unable to parse 'x': missing fields dropped=0")
    );
    assert_eq!(s.platform.as_deref(), Some("invalid"));
    assert_eq!(s.body, b"hello");
    assert!(!s.truncated);
}

#[test]
fn retry_after_forms() {
    let cases: [(&[u8], Option<RetryAfter>); 15] = [
        (b"30", Some(RetryAfter::Seconds(30))),
        (b"0", Some(RetryAfter::Seconds(0))),
        (b"2.5", Some(RetryAfter::Seconds(3))),
        (b"99999999999999999999", Some(RetryAfter::Seconds(u32::MAX))),
        (
            b"Sun, 06 Nov 1994 08:49:37 GMT",
            Some(RetryAfter::At(784_111_777)),
        ),
        (
            b"  sun, 06 nov 1994 08:49:37 GMT ",
            Some(RetryAfter::At(784_111_777)),
        ),
        // Only IMF-fixdate: the obsolete RFC 850 and asctime forms are not
        // parsed (the writer falls back to its own backoff).
        (b"Sunday, 06-Nov-94 08:49:37 GMT", None),
        (b"Sun Nov  6 08:49:37 1994", None),
        (b"Sun, 6 Nov 1994 08:49:37 GMT", None),
        (b"Sun, 06 Nov 1994 08:49:37 UTC", None),
        (b"Sun, 06 Nov 1994 24:00:00 GMT", None),
        (b"Sun, 06 Nov 1969 08:49:37 GMT", None),
        // Past 2106: saturated.
        (
            b"Fri, 31 Dec 9999 23:59:59 GMT",
            Some(RetryAfter::At(u32::MAX)),
        ),
        (b"-5", None),
        (b"Sun, 32 Nov 1994 08:49:37 GMT", None),
    ];
    for (v, want) in cases {
        assert_eq!(RetryAfter::parse(v), want, "{}", String::from_utf8_lossy(v));
    }
    assert_eq!(
        RetryAfter::parse(b"Wed, 21 Oct 2015 07:28:00 GMT"),
        Some(RetryAfter::At(1_445_412_480))
    );
    assert_eq!(
        RetryAfter::parse(b"Thu, 29 Feb 2024 00:00:00 GMT"),
        Some(RetryAfter::At(1_709_164_800))
    );
    assert_eq!(RetryAfter::parse(b"1.2.3"), None);
    assert_eq!(RetryAfter::parse(b""), None);
    assert_eq!(RetryAfter::At(1000).delay_secs(Some(990)), Some(10));
    assert_eq!(RetryAfter::At(1000).delay_secs(None), None);
    let s = read(b"HTTP/1.1 503 Unavailable\r\nRetry-After: Wed, 21 Oct 2015 07:28:00 GMT\r\nContent-Length: 0\r\n\r\n", 128).unwrap();
    assert_eq!(s.retry_after, Some(RetryAfter::At(1_445_412_480)));
}

#[test]
fn status_line_too_large_is_a_resource_error_and_headers_are_skipped() {
    // The status line alone does not fit: nothing is known, an error.
    let wire = b"HTTP/1.1 204 No Content and a very long reason phrase\r\n\r\n";
    assert_eq!(
        read(wire, 40).unwrap_err(),
        ReadError::Resource(ResourceError::HeadTooLarge)
    );
    // A field longer than the buffer is skipped: the 204 stands.
    let wire =
        b"HTTP/1.1 204 No Content\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let s = read(wire, 40).unwrap();
    assert_eq!(s.status, 204);
    assert_eq!(s.truncation, Some(Truncation::Headers));
    assert!(!s.reusable);
    // 30 fields in a buffer that holds them all: nothing lost.
    let mut wire = b"HTTP/1.1 204 No Content\r\n".to_vec();
    for i in 0..30 {
        wire.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    let s = read(&wire, 1024).unwrap();
    assert_eq!((s.status, s.truncation), (204, None));
    assert!(s.reusable);
}

#[test]
fn malformed_status_lines_are_peer_errors() {
    for wire in [
        &b"HTTX/1.1 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 200 O\x01K\r\n\r\n",
        b"\r\r\n",
    ] {
        assert_eq!(
            read(wire, 256).unwrap_err(),
            ReadError::Peer(PeerError::InvalidHead),
            "{}",
            String::from_utf8_lossy(wire)
        );
    }
}

#[test]
fn after_the_status_line_the_status_stands() {
    let body_not_read: [&[u8]; 6] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4294967296\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 4294967296\r\nContent-Length: x\r\n\r\n",
        // A malformed field: where the head ends is not known.
        b"HTTP/1.1 200 OK\r\nBad Name: v\r\nContent-Length: 2\r\n\r\nab",
    ];
    for wire in body_not_read {
        let s = read(wire, 256).unwrap();
        assert_eq!(s.status, 200, "{}", String::from_utf8_lossy(wire));
        assert_eq!(s.truncation, Some(Truncation::Framing));
        assert_eq!(s.framing, Framing::Unknown);
        assert!(!s.reusable && !s.complete && s.body.is_empty());
    }
    let body_cut: [&[u8]; 4] = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\n",
        // Sizes past `u32::MAX` (4 GiB) exceed any `max_body`.
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100000000\r\n",
    ];
    for wire in body_cut {
        let s = read(wire, 256).unwrap();
        assert_eq!(s.status, 200, "{}", String::from_utf8_lossy(wire));
        assert_eq!(s.truncation, Some(Truncation::Body));
        assert!(!s.reusable && !s.complete);
    }
    // The body kept up to the broken framing.
    let s = read(
        b"HTTP/1.1 400 Bad\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX",
        256,
    )
    .unwrap();
    assert_eq!((s.status, &s.body[..]), (400, &b"ab"[..]));
    // Closed in the fields, after the status line.
    let s = read(b"HTTP/1.1 204 No Content\r\nDate: x", 256).unwrap();
    assert_eq!((s.status, s.truncation), (204, Some(Truncation::Framing)));
    // Same length twice is fine.
    let s = read(b"HTTP/1.1 400 Bad\r\nContent-Length: 2, 2\r\n\r\nab", 128).unwrap();
    assert_eq!(s.body, b"ab");
    assert_eq!(s.truncation, None);
}

#[test]
fn endless_bodies_stop_at_the_limit() {
    let body = vec![b'a'; 5000];
    let mut wire = b"HTTP/1.1 502 Bad Gateway\r\n\r\n".to_vec();
    wire.extend_from_slice(&body);
    let mut buf = [0u8; 128];
    let cut = read_response(&mut Fake::new(&wire), &mut buf, ReadLimits::new(4096)).unwrap();
    assert_eq!(cut.status(), 502);
    assert_eq!(cut.truncation(), Some(Truncation::Body));
    assert!(!cut.is_complete() && !cut.is_reusable());
    let ok = read_response(&mut Fake::new(&wire), &mut buf, ReadLimits::new(5000)).unwrap();
    assert_eq!(ok.body_len(), 5000);
    assert_eq!(ok.truncation(), None);
}

#[test]
fn reads_never_past_content_length() {
    // Bytes after the body stay in the stream for the next response.
    let wire = b"HTTP/1.1 400 Bad\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 204 No Content\r\n\r\n";
    // The head is 39 bytes; a first read of 39 or 40 bytes leaves the body
    // (or its rest) to reads that stop at Content-Length.
    for chunk in [39usize, 40] {
        let mut fake = Fake::new(wire);
        fake.read_chunk = chunk;
        let first = read_with(&mut fake, 256).unwrap();
        assert_eq!(first.body, b"ab");
        assert!(first.reusable, "chunk {chunk}");
        assert_eq!(read_with(&mut fake, 256).unwrap().status, 204);
    }
    // Bytes past the body that arrived with the head cannot be pushed back:
    // a peer sending them is out of step, so the connection is not reusable.
    let mut fake = Fake::new(wire);
    fake.read_chunk = 64;
    let first = read_with(&mut fake, 256).unwrap();
    assert_eq!(first.body, b"ab");
    assert!(!first.reusable);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(wire in proptest::collection::vec(any::<u8>(), 0..400), chunk in 1usize..20, buf_len in 0usize..300) {
        let mut fake = Fake::new(&wire);
        fake.read_chunk = chunk;
        let mut buf = vec![0u8; buf_len];
        if let Ok(r) = read_response(&mut fake, &mut buf, ReadLimits::new(1000)) {
            prop_assert!(r.body().len() as u64 <= u64::from(r.body_len()));
        }
        // Every read consumed bytes, except the final `Ok(0)`.
        prop_assert!(fake.reads <= wire.len() + 1);
    }

    #[test]
    fn mutated_responses_never_panic(
        pos in 0usize..120,
        byte in any::<u8>(),
        chunk in 1usize..9,
    ) {
        let mut wire = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\nX-Platform-Error-Code: invalid\r\n\r\n5\r\nhello\r\n0\r\n\r\n".to_vec();
        if let Some(b) = wire.get_mut(pos) { *b = byte; }
        let mut fake = Fake::new(&wire);
        fake.read_chunk = chunk;
        let mut buf = [0u8; 96];
        let _ = read_response(&mut fake, &mut buf, ReadLimits::default());
    }
}

// ---- the state machine without I/O ------------------------------------------

use linewire::http::{Progress, ResponseReader};

#[test]
fn reader_state_machine_by_hand() {
    let wire =
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let mut buf = [0u8; 128];
    let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
    let mut rest: &[u8] = wire;
    let mut steps = 0;
    loop {
        let dst = reader.read_buf();
        assert!(!dst.is_empty());
        // Five bytes per step, as a peer with small segments.
        let n = dst.len().min(5).min(rest.len());
        dst[..n].copy_from_slice(&rest[..n]);
        rest = &rest[n..];
        steps += 1;
        if reader.advance(n).unwrap() == Progress::Done {
            break;
        }
    }
    assert!(rest.is_empty());
    assert_eq!(steps, wire.len().div_ceil(5));
    let r = reader.finish().unwrap();
    assert_eq!(r.body(), b"abc");
    assert!(r.is_reusable());
}

#[test]
fn reader_clamps_overreported_counts_and_errors_stick() {
    let mut buf = [0u8; 64];
    let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
    let dst = reader.read_buf();
    dst[..4].copy_from_slice(b"XTTP");
    // A buggy driver reports more than the buffer it was given.
    let err = reader.advance(1000).unwrap_err();
    assert_eq!(err, ReadError::Peer(PeerError::InvalidHead));
    assert_eq!(reader.advance(1), Err(err));
    assert!(reader.read_buf().is_empty());
    assert_eq!(reader.finish().unwrap_err(), err);
}

#[test]
fn reader_stream_error_during_body_keeps_the_status() {
    let wire =
        b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 9\r\nContent-Length: 50\r\n\r\n<ht";
    let mut buf = [0u8; 128];
    let mut reader = ResponseReader::new(&mut buf, ReadLimits::default());
    reader.read_buf()[..wire.len()].copy_from_slice(wire);
    assert_eq!(reader.advance(wire.len()).unwrap(), Progress::NeedMore);
    assert_eq!(
        reader.stream_error(ErrorKind::TimedOut).unwrap(),
        Progress::Done
    );
    let r = reader.finish().unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.retry_after(), Some(RetryAfter::Seconds(9)));
    assert!(!r.is_complete() && !r.is_reusable());
    assert_eq!(r.body(), b"<ht");
}

#[test]
fn zero_length_buffer_is_a_resource_error() {
    let mut buf = [0u8; 0];
    assert_eq!(
        read_response(
            &mut Fake::new(b"HTTP/1.1 204 No Content\r\n\r\n"),
            &mut buf,
            ReadLimits::default()
        )
        .unwrap_err(),
        ReadError::Resource(ResourceError::HeadTooLarge)
    );
}
