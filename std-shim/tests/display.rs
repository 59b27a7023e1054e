//! What users read: every error and outcome this crate (and the core under
//! it) can show is a sentence, never Rust `Debug` output (`Partial {`,
//! `[2, 0, 0, ...]`, `Some(...)`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use linewire_std::linewire::http::{
    ConfigError, ErrorBody, Outcome, PeerError, ReadError, ResourceError, RetryAfter,
    TransportError, Truncation, WriteError,
};
use linewire_std::linewire::{LastError, Part, PointError, QueueError, TimestampError};
use linewire_std::{BackgroundWriter, Client, Error, Failure, FailureReason, PushError, Retried};
use linewire_testkit::{Fault, FaultPlan, TestServer};

/// Asserts `shown` reads as text: no struct, list or option syntax.
#[track_caller]
fn sentence(shown: &str) {
    assert!(!shown.is_empty());
    for debug in [
        "{",
        "}",
        "[",
        "]",
        "Some(",
        "None",
        "Partial",
        "RejectedLines",
        "\\\"",
    ] {
        assert!(!shown.contains(debug), "Debug text {debug:?} in: {shown}");
    }
}

fn outcome_of(status: u16, body: &str) -> Outcome {
    let mut body = body.as_bytes().to_vec();
    Outcome::classify(status, None, &ErrorBody::parse(&mut body))
}

#[test]
fn every_outcome_is_a_sentence() {
    let partial = outcome_of(
        400,
        r#"{"code":"invalid","message":"partial write of line protocol occurred","line":2}"#,
    );
    assert!(matches!(partial, Outcome::PartiallyWritten(_)));
    assert_eq!(
        partial.to_string(),
        "the server stored some lines and rejected line 2"
    );
    let v3 = outcome_of(
        400,
        r#"{"error":"partial write of line protocol occurred","data":[{"original_line":"bad","line_number":2,"error_message":"x"},{"original_line":"bad","line_number":5,"error_message":"y"}]}"#,
    );
    assert!(matches!(v3, Outcome::PartiallyWritten(_)), "{v3:?}");
    assert_eq!(
        v3.to_string(),
        "the server stored some lines and rejected lines 2 and 5"
    );
    // More rejected lines than the core keeps: the count, and the first ones.
    let many: Vec<String> = (1..=12)
        .map(|n| format!(r#"{{"original_line":"bad","line_number":{n},"error_message":"x"}}"#))
        .collect();
    let many = outcome_of(
        400,
        &format!(
            r#"{{"error":"partial write of line protocol occurred","data":[{}]}}"#,
            many.join(",")
        ),
    );
    assert_eq!(
        many.to_string(),
        "the server stored some lines and rejected 12 lines, among them 1, 2, 3, 4, 5, 6, 7 and 8"
    );
    let v1 = outcome_of(
        400,
        r#"{"error":"partial write: unable to parse 'bad': missing fields dropped=3"}"#,
    );
    assert!(matches!(v1, Outcome::PartiallyWritten(_)), "{v1:?}");
    assert_eq!(
        v1.to_string(),
        "the server stored some lines and rejected 3 lines"
    );
    let all = [
        Outcome::Written,
        partial,
        v3,
        many,
        v1,
        Outcome::Rejected,
        Outcome::InvalidRequest,
        Outcome::Unauthorized,
        Outcome::Forbidden,
        Outcome::NotFound,
        Outcome::TooLarge { max_length: None },
        Outcome::TooLarge {
            max_length: Some(1024),
        },
        Outcome::Throttled { retry_after: None },
        Outcome::Throttled {
            retry_after: Some(RetryAfter::Seconds(30)),
        },
        Outcome::Unavailable {
            retry_after: Some(RetryAfter::At(1_700_000_000)),
        },
        Outcome::ServerError { retry_after: None },
        Outcome::Unexpected,
    ];
    for o in all {
        sentence(&o.to_string());
    }
}

#[test]
fn core_errors_are_sentences() {
    let config = [
        ConfigError::InvalidHost,
        ConfigError::EmptyBucket,
        ConfigError::EmptyOrg,
        ConfigError::InvalidHeaderValue,
        ConfigError::InvalidHeaderName,
        ConfigError::ReservedHeader,
        ConfigError::InvalidPathPrefix,
        ConfigError::BodyTooLarge { len: 10, max: 5 },
    ];
    for e in config {
        sentence(&e.to_string());
        sentence(&WriteError::Config(e).to_string());
        sentence(&Error::from(e).to_string());
    }
    for e in [PeerError::InvalidHead, PeerError::UnexpectedInterim] {
        sentence(&e.to_string());
        sentence(&WriteError::Peer(e).to_string());
        sentence(&ReadError::Peer(e).to_string());
    }
    for e in [
        ResourceError::HeadTooLarge,
        ResourceError::RequestHeadTooLarge,
    ] {
        sentence(&WriteError::Resource(e).to_string());
        sentence(&ReadError::Resource(e).to_string());
    }
    for e in [
        TransportError::WriteZero,
        TransportError::ClosedBeforeResponse,
        TransportError::ClosedMidHead,
    ] {
        sentence(&WriteError::Transport(e).to_string());
        sentence(&ReadError::Transport(e).to_string());
        sentence(&LastError::Write(WriteError::Transport(e)).to_string());
    }
    sentence(&LastError::Status(503).to_string());
    sentence(&LastError::Connect.to_string());
    for t in [Truncation::Headers, Truncation::Body, Truncation::Framing] {
        sentence(&t.to_string());
    }
    sentence(&TimestampError::OutOfRange.to_string());
    for part in [
        Part::Measurement,
        Part::TagKey,
        Part::TagValue,
        Part::FieldKey,
        Part::FieldValue,
    ] {
        for e in [
            PointError::Empty(part),
            PointError::ForbiddenCharacter(part),
            PointError::TrailingBackslash(part),
            PointError::AmbiguousBackslash(part),
            PointError::Reserved(part),
        ] {
            sentence(&e.to_string());
        }
    }
    for e in [
        PointError::CommentMarker,
        PointError::DuplicateTag,
        PointError::DuplicateField,
        PointError::NotFinite,
        PointError::StringTooLong,
        PointError::TimestampOutOfRange,
        PointError::BatchFull,
    ] {
        sentence(&e.to_string());
    }
    for e in [
        QueueError::Full,
        QueueError::TooLarge { len: 9, max: 4 },
        QueueError::PrecisionMismatch,
    ] {
        sentence(&e.to_string());
    }
}

#[test]
fn std_errors_are_sentences() {
    for e in [
        PushError::Full,
        PushError::Closed,
        PushError::PrecisionMismatch,
    ] {
        sentence(&e.to_string());
    }
    for r in [
        Retried::Unreachable,
        Retried::Throttled,
        Retried::Unavailable,
        Retried::ServerError(502),
    ] {
        sentence(&r.to_string());
    }
    for r in [
        FailureReason::Config("no bucket set".into()),
        FailureReason::Overflow,
        FailureReason::Closed,
    ] {
        sentence(&r.to_string());
    }
    sentence(&Error::Config("no bucket set".into()).to_string());
    sentence(&Client::new("ftp://h", None).unwrap_err().to_string());
    // Nothing listens on port 1: a transport error.
    let err = Client::new("http://127.0.0.1:1", None)
        .unwrap()
        .bucket("b")
        .write_line_protocol("m v=1 1\n")
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err}");
    sentence(&err.to_string());
}

/// Every answer the test kit can give, as the client's `Error` shows it,
/// and its `Debug` (what `main() -> Result<(), Box<dyn Error>>` prints)
/// without the core's array of rejected lines.
#[test]
fn server_answers_are_sentences() {
    let faults = [
        Fault::TooManyRequests {
            retry_after_secs: 1,
        },
        Fault::ServiceUnavailable {
            retry_after_secs: None,
        },
        Fault::InternalError,
        Fault::BadGateway,
        Fault::PayloadTooLarge,
    ];
    let mut shown = Vec::new();
    for fault in faults {
        let server = TestServer::builder()
            .fault_plan(FaultPlan::new().always(fault))
            .start();
        let client = Client::new(&server.url(), None).unwrap().bucket("b");
        shown.push(client.write_line_protocol("m v=1 1\n").unwrap_err());
    }
    let server = TestServer::builder().token("right").bucket("b").start();
    let wrong = Client::new(&server.url(), Some("wrong"))
        .unwrap()
        .bucket("b");
    shown.push(wrong.write_line_protocol("m v=1 1\n").unwrap_err());
    let right = Client::new(&server.url(), Some("right")).unwrap();
    shown.push(
        right
            .clone()
            .bucket("nope")
            .write_line_protocol("m v=1 1\n")
            .unwrap_err(),
    );
    let right = right.bucket("b");
    shown.push(right.write_line_protocol("bad\n").unwrap_err());
    let partial = right
        .write_line_protocol("m v=1 1\nbad\nm v=2 2\nbad again\n")
        .unwrap_err();
    assert!(matches!(
        partial.server().map(|s| s.outcome),
        Some(Outcome::PartiallyWritten(_))
    ));
    shown.push(partial);
    for e in &shown {
        assert!(e.server().is_some(), "{e}");
        sentence(&e.to_string());
        let debug = format!("{e:?}");
        assert!(
            !debug.contains("RejectedLines") && !debug.contains("0, 0, 0"),
            "{debug}"
        );
    }
    let debug = format!("{:?}", shown.last().unwrap());
    assert!(
        debug.contains("the server stored some lines and rejected lines 2 and 4"),
        "{debug}"
    );
}

#[test]
fn writer_failures_are_sentences() {
    let server = TestServer::builder()
        .fault_plan(FaultPlan::new().always(Fault::BadGateway))
        .start();
    let client = Client::new(&server.url(), None).unwrap().bucket("b");
    let seen: Arc<Mutex<Vec<Failure>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let w = BackgroundWriter::builder(client)
        .retry_policy(
            linewire_std::linewire::RetryPolicy::new()
                .first_interval_ms(10)
                .max_interval_ms(20)
                .max_retries(Some(1)),
        )
        .flush_interval(Duration::from_secs(60))
        .on_failure(move |f| sink.lock().unwrap().push(f.clone()))
        .start();
    w.push_lines("m v=1 1\n").unwrap();
    w.flush();
    w.close();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(matches!(seen[0].reason, FailureReason::GaveUp(_)));
    sentence(&seen[0].reason.to_string());

    // The server's refusal, as the writer reports it.
    let server = TestServer::start();
    let client = Client::new(&server.url(), None).unwrap().bucket("b");
    let seen: Arc<Mutex<Vec<Failure>>> = Arc::default();
    let sink = Arc::clone(&seen);
    let w = BackgroundWriter::builder(client)
        .flush_interval(Duration::from_secs(60))
        .on_failure(move |f| sink.lock().unwrap().push(f.clone()))
        .start();
    w.push_lines("m v=1 1\nbad\n").unwrap();
    w.flush();
    w.close();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(matches!(seen[0].reason, FailureReason::Server(_)));
    sentence(&seen[0].reason.to_string());
}
