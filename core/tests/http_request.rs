//! Exact request bytes, refusals before sending, and streams that accept one
//! byte per write.

mod http_support;

use http_support::Fake;
use linewire::http::{
    encode_head, write_request, ConfigError, Payload, ResourceError, Target, TransportError,
    WriteError, USER_AGENT,
};
use linewire::Precision;

const BODY: &[u8] = b"home,room=kitchen temp=72 1463683075\n";

fn send(target: &Target<'_>, payload: &Payload<'_>) -> Vec<u8> {
    let mut fake = Fake::new(b"");
    let mut scratch = [0u8; 512];
    write_request(&mut fake, target, payload, &mut scratch).expect("request written");
    fake.written
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("utf-8 request")
}

#[test]
fn user_agent_is_crate_version() {
    assert_eq!(USER_AGENT, concat!("linewire/", env!("CARGO_PKG_VERSION")));
}

#[test]
fn v2_request_exact_bytes() {
    let target = Target::v2("cloud2.example.com", "my bucket&x", "API_TOKEN")
        .unwrap()
        .port(8086)
        .org("Acme Inc/é")
        .unwrap()
        .precision(Precision::Seconds);
    let expected = format!(
        "POST /api/v2/write?org=Acme%20Inc%2F%C3%A9&bucket=my%20bucket%26x&precision=s HTTP/1.1\r\n\
         Host: cloud2.example.com:8086\r\n\
         User-Agent: {USER_AGENT}\r\n\
         Authorization: Token API_TOKEN\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 37\r\n\
         Accept: application/json\r\n\
         \r\n\
         home,room=kitchen temp=72 1463683075\n"
    );
    assert_eq!(text(&send(&target, &Payload::new(BODY))), expected);
}

#[test]
fn v2_org_id_and_no_token_and_default_precision() {
    let target = Target::v2("10.0.0.5", "b", "")
        .unwrap()
        .org_id("0261487478164c85")
        .unwrap();
    let expected = format!(
        "POST /api/v2/write?orgID=0261487478164c85&bucket=b&precision=ns HTTP/1.1\r\n\
         Host: 10.0.0.5\r\n\
         User-Agent: {USER_AGENT}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 6\r\n\
         Accept: application/json\r\n\
         \r\n\
         m v=1\n"
    );
    assert_eq!(text(&send(&target, &Payload::new(b"m v=1\n"))), expected);
}

#[test]
fn v1_request_exact_bytes() {
    let target = Target::v1("influx1.local", "telemetry")
        .unwrap()
        .port(8086)
        .retention_policy("one week")
        .unwrap()
        .credentials("admin", "p@ss=w&rd")
        .unwrap()
        .precision(Precision::Microseconds);
    let expected = format!(
        "POST /write?db=telemetry&rp=one%20week&precision=u&u=admin&p=p%40ss%3Dw%26rd HTTP/1.1\r\n\
         Host: influx1.local:8086\r\n\
         User-Agent: {USER_AGENT}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         Content-Length: 6\r\n\
         Accept: application/json\r\n\
         \r\n\
         m v=1\n"
    );
    assert_eq!(text(&send(&target, &Payload::new(b"m v=1\n"))), expected);
}

#[test]
fn v1_with_token() {
    let target = Target::v1("h", "db").unwrap().token("user:pass").unwrap();
    let req = text(&send(&target, &Payload::new(b"m v=1\n")));
    assert!(
        req.starts_with("POST /write?db=db&precision=n HTTP/1.1\r\n"),
        "{req}"
    );
    assert!(
        req.contains("\r\nAuthorization: Token user:pass\r\n"),
        "{req}"
    );
}

#[test]
fn precision_letters_on_the_wire() {
    let cases = [
        (Precision::Nanoseconds, "ns", "n"),
        (Precision::Microseconds, "us", "u"),
        (Precision::Milliseconds, "ms", "ms"),
        (Precision::Seconds, "s", "s"),
        // Minutes and hours are converted to seconds by the batch, and the
        // wire says seconds: every server accepts it.
        (Precision::Minutes, "s", "s"),
        (Precision::Hours, "s", "s"),
    ];
    for (p, v2, v1) in cases {
        let t2 = Target::v2("h", "b", "t").unwrap().precision(p);
        let r2 = text(&send(&t2, &Payload::new(b"m v=1\n")));
        assert!(
            r2.starts_with(&format!(
                "POST /api/v2/write?bucket=b&precision={v2} HTTP/1.1\r\n"
            )),
            "{p:?}: {r2}"
        );
        let t1 = Target::v1("h", "db").unwrap().precision(p);
        let r1 = text(&send(&t1, &Payload::new(b"m v=1\n")));
        assert!(
            r1.starts_with(&format!("POST /write?db=db&precision={v1} HTTP/1.1\r\n")),
            "{p:?}: {r1}"
        );
    }
}

#[test]
fn payload_precision_overrides_target() {
    let t = Target::v2("h", "b", "t")
        .unwrap()
        .precision(Precision::Nanoseconds);
    let r = text(&send(
        &t,
        &Payload::new(b"m v=1 1\n").precision(Precision::Hours),
    ));
    assert!(
        r.starts_with("POST /api/v2/write?bucket=b&precision=s HTTP/1.1\r\n"),
        "{r}"
    );
}

#[test]
fn gzip_header_only_when_payload_is_compressed() {
    let t = Target::v2("h", "b", "t").unwrap().gzip(true);
    assert!(t.get_gzip());
    let plain = text(&send(&t, &Payload::new(b"m v=1\n")));
    assert!(!plain.contains("Content-Encoding"), "{plain}");
    let gz: &[u8] = &[0x1f, 0x8b, 0x08, 0x00];
    let bytes = send(&t, &Payload::new(gz).compressed(true));
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = text(&bytes[..head_end]);
    assert!(
        head.contains("\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n"),
        "{head}"
    );
    assert_eq!(&bytes[head_end..], gz);
}

#[test]
fn connection_close_and_extra_headers_and_prefix() {
    let extra = [("X-Device", "pump-7"), ("Zap-Trace-Span", "abc")];
    let t = Target::v2("h", "b", "t")
        .unwrap()
        .keep_alive(false)
        .headers(&extra)
        .unwrap()
        .path_prefix("/influx/")
        .unwrap();
    let r = text(&send(&t, &Payload::new(b"m v=1\n")));
    assert!(
        r.starts_with("POST /influx/api/v2/write?bucket=b&precision=ns HTTP/1.1\r\n"),
        "{r}"
    );
    assert!(
        r.contains("\r\nAccept: application/json\r\nConnection: close\r\nX-Device: pump-7\r\nZap-Trace-Span: abc\r\n\r\nm v=1\n"),
        "{r}"
    );
}

#[test]
fn keep_alive_is_default() {
    let t = Target::v2("h", "b", "t").unwrap();
    assert!(t.get_keep_alive());
    let r = text(&send(&t, &Payload::new(b"m v=1\n")));
    assert!(!r.to_ascii_lowercase().contains("connection:"), "{r}");
}

#[test]
fn one_byte_per_write_and_any_scratch_size_give_identical_bytes() {
    let extra = [("X-A", "1")];
    let t = Target::v2("influx.example.com", "sensors", "tok")
        .unwrap()
        .org("org")
        .unwrap()
        .headers(&extra)
        .unwrap();
    let p = Payload::new(BODY);
    let mut head = [0u8; 512];
    let n = encode_head(&t, &p, &mut head).unwrap();
    let mut expected = head[..n].to_vec();
    expected.extend_from_slice(BODY);
    for scratch_len in [0usize, 1, 2, 7, 64, n - 1, n, 4096] {
        for write_chunk in [1usize, 3, usize::MAX] {
            let mut fake = Fake::new(b"");
            fake.write_chunk = write_chunk;
            let mut scratch = vec![0u8; scratch_len];
            write_request(&mut fake, &t, &p, &mut scratch).unwrap();
            assert_eq!(
                fake.written, expected,
                "scratch {scratch_len}, chunk {write_chunk}"
            );
            if write_chunk == 1 {
                assert_eq!(fake.writes, expected.len());
            }
        }
    }
    // With a scratch as large as the head, the head goes out in one write.
    let mut fake = Fake::new(b"");
    write_request(&mut fake, &t, &p, &mut [0u8; 512]).unwrap();
    assert_eq!(fake.writes, 2, "head then body");
}

#[test]
fn refuses_cr_lf_in_host_and_header_values() {
    for host in ["", "a\r\nb", "a\nb", "a b", "http://x", "a/b", "h\0"] {
        assert_eq!(
            Target::v2(host, "b", "t").unwrap_err(),
            ConfigError::InvalidHost,
            "{host:?}"
        );
    }
    for token in ["a\rb", "a\nb", "tok\r\nX-Evil: 1", "\0"] {
        assert_eq!(
            Target::v2("h", "b", token).unwrap_err(),
            ConfigError::InvalidHeaderValue
        );
    }
    let bad_value = [("X-A", "x\r\nHost: evil")];
    assert_eq!(
        Target::v2("h", "b", "t")
            .unwrap()
            .headers(&bad_value)
            .unwrap_err(),
        ConfigError::InvalidHeaderValue
    );
    let bad_name = [("X A", "x")];
    assert_eq!(
        Target::v2("h", "b", "t")
            .unwrap()
            .headers(&bad_name)
            .unwrap_err(),
        ConfigError::InvalidHeaderName
    );
    for name in [
        "Content-Length",
        "transfer-encoding",
        "HOST",
        "Authorization",
    ] {
        let h = [(name, "1")];
        assert_eq!(
            Target::v2("h", "b", "t").unwrap().headers(&h).unwrap_err(),
            ConfigError::ReservedHeader
        );
    }
}

#[test]
fn refuses_empty_bucket_and_org() {
    assert_eq!(
        Target::v2("h", "", "t").unwrap_err(),
        ConfigError::EmptyBucket
    );
    assert_eq!(Target::v1("h", "").unwrap_err(), ConfigError::EmptyBucket);
    let t = Target::v2("h", "b", "t").unwrap();
    assert_eq!(t.org("").unwrap_err(), ConfigError::EmptyOrg);
    assert_eq!(t.org_id("").unwrap_err(), ConfigError::EmptyOrg);
}

#[test]
fn refuses_oversized_body_before_writing_anything() {
    let t = Target::v2("h", "b", "t").unwrap().max_body(5);
    let mut fake = Fake::new(b"");
    let err = write_request(&mut fake, &t, &Payload::new(b"m v=1\n"), &mut [0u8; 64]).unwrap_err();
    assert_eq!(
        err,
        WriteError::Config(ConfigError::BodyTooLarge { len: 6, max: 5 })
    );
    assert!(fake.written.is_empty());
    assert_eq!(fake.writes, 0);
    // Exactly the maximum is fine.
    let t = t.max_body(6);
    write_request(&mut fake, &t, &Payload::new(b"m v=1\n"), &mut [0u8; 64]).unwrap();
    assert!(fake.written.ends_with(b"\r\n\r\nm v=1\n"));
}

#[test]
fn encode_head_reports_small_buffer() {
    let t = Target::v2("h", "b", "t").unwrap();
    let mut out = [0u8; 20];
    assert_eq!(
        encode_head(&t, &Payload::new(b"x"), &mut out).unwrap_err(),
        WriteError::Resource(ResourceError::RequestHeadTooLarge)
    );
}

#[test]
fn write_failures_are_transport_errors() {
    let t = Target::v2("h", "b", "t").unwrap();
    let mut fake = Fake::new(b"");
    fake.fail_write_after = Some(10);
    let err = write_request(&mut fake, &t, &Payload::new(BODY), &mut [0u8; 8]).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::Write(embedded_io::ErrorKind::BrokenPipe))
    );
    assert!(err.resend_may_help());
    let mut fake = Fake::new(b"");
    fake.write_zero = true;
    let err = write_request(&mut fake, &t, &Payload::new(BODY), &mut [0u8; 8]).unwrap_err();
    assert_eq!(err, WriteError::Transport(TransportError::WriteZero));
}

#[test]
fn path_prefix_validation() {
    let t = Target::v2("h", "b", "t").unwrap();
    assert!(t.path_prefix("/a/b").is_ok());
    assert!(t.path_prefix("").is_ok());
    for bad in ["a", "/a b", "/a?x", "/a\r\n"] {
        assert_eq!(
            t.path_prefix(bad).unwrap_err(),
            ConfigError::InvalidPathPrefix,
            "{bad:?}"
        );
    }
}

#[test]
fn batch_goes_out_at_its_wire_precision_without_copy() {
    use linewire::http::write_batch;
    use linewire::Batch;

    let mut batch = Batch::<256>::with_precision(Precision::Minutes);
    batch
        .point("temp")
        .unwrap()
        .tag("room", "hall")
        .unwrap()
        .field("v", 21.5)
        .unwrap()
        .timestamp(28_333_333)
        .unwrap();
    // The target says nanoseconds; the batch's precision wins.
    let target = Target::v2("h", "b", "t").unwrap();
    let mut fake = Fake::trickle(b"HTTP/1.1 204 No Content\r\n\r\n");
    let mut buf = [0u8; 256];
    let reply = write_batch(&mut fake, &target, &batch, &mut buf).unwrap();
    assert_eq!(reply.status, 204);
    let req = text(&fake.written);
    assert!(
        req.starts_with("POST /api/v2/write?bucket=b&precision=s HTTP/1.1\r\n"),
        "{req}"
    );
    assert!(
        req.ends_with("\r\n\r\ntemp,room=hall v=21.5 1699999980\n"),
        "{req}"
    );
    // The payload borrows the batch's own bytes.
    let p = Payload::from(&batch);
    assert_eq!(p.bytes().as_ptr(), batch.as_bytes().as_ptr());
}

#[test]
fn debug_output_hides_secrets() {
    let t = Target::v1("h", "db")
        .unwrap()
        .token("s3cret-token")
        .unwrap()
        .credentials("admin", "hunter2")
        .unwrap();
    let shown = format!("{t:?}");
    assert!(
        !shown.contains("s3cret-token") && !shown.contains("hunter2"),
        "{shown}"
    );
    assert!(
        shown.contains("admin") && shown.contains("<redacted>"),
        "{shown}"
    );
}
