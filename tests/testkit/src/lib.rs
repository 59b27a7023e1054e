//! A faithful local InfluxDB write endpoint for host-side tests.
//!
//! [`TestServer`] is a real HTTP/1.1 server on a loopback port, started in-process. It answers
//! `POST /api/v2/write` the way InfluxDB Cloud Serverless does (or, with [`Mode`], InfluxDB 3
//! Core or InfluxDB 2 OSS), the v1 `POST /write`, `GET /ping` and `GET /health`; it parses
//! line protocol with the `influxdb-line-protocol` crate (the parser InfluxDB 3 uses) and
//! keeps the accepted points in memory for the test to inspect. On request it misbehaves
//! ([`Fault`], [`FaultPlan`], [`TestServer::set_down`]) and records what it did.
//!
//! Add it as a dev-dependency and point the code under test at [`TestServer::url`].
//!
//! # Example: a user's test
//!
//! ```
//! use linewire_testkit::{Fault, FaultPlan, FieldValue, TestServer};
//! use std::time::Duration;
//!
//! // A server that accepts token "secret" and answers the first write with 503.
//! let server = TestServer::builder()
//!     .token("secret")
//!     .fault_plan(FaultPlan::new().on_request(
//!         1,
//!         Fault::ServiceUnavailable { retry_after_secs: Some(1) },
//!     ))
//!     .start();
//!
//! // The code under test would do this; here ureq stands in for it.
//! let agent: ureq::Agent = ureq::Agent::config_builder()
//!     .http_status_as_error(false)
//!     .build()
//!     .into();
//! let url = format!("{}/api/v2/write?bucket=farm&precision=s", server.url());
//! let send = || {
//!     agent
//!         .post(&url)
//!         .header("Authorization", "Token secret")
//!         .send("barn,room=loft temp=21.5,door=true 1700000000\nbarn bad-line\n")
//!         .unwrap()
//! };
//!
//! let first = send();
//! assert_eq!(first.status(), 503);
//! assert_eq!(first.headers()["retry-after"], "1");
//!
//! // The retry reaches the store: the good line is kept, the bad one reported (partial write).
//! let mut second = send();
//! assert_eq!(second.status(), 400);
//! let body = second.body_mut().read_to_string().unwrap();
//! assert!(body.contains(r#""line":2"#), "{body}");
//!
//! assert!(server.wait_for_points("farm", 1, Duration::from_secs(5)));
//! let points = server.points("farm");
//! assert_eq!(points[0].measurement, "barn");
//! assert_eq!(points[0].tags["room"], "loft");
//! assert_eq!(points[0].fields["temp"], FieldValue::F64(21.5));
//! assert_eq!(points[0].fields["door"], FieldValue::Bool(true));
//! assert_eq!(points[0].timestamp_ns, 1_700_000_000_000_000_000);
//!
//! // What happened on the wire, for assertions.
//! assert_eq!(server.faults().len(), 1);
//! assert_eq!(server.requests()[1].header("authorization"), Some("Token secret"));
//! ```
//!
//! # Example: an outage
//!
//! ```
//! use linewire_testkit::{DownMode, Fault, TestServer};
//! use std::net::TcpStream;
//!
//! let server = TestServer::start();
//! server.set_down(DownMode::Refuse);
//! assert!(TcpStream::connect(server.addr()).is_err());
//! server.set_up().unwrap(); // same port again
//! assert!(TcpStream::connect(server.addr()).is_ok());
//!
//! server.set_down(DownMode::CloseImmediately);
//! let _ = TcpStream::connect(server.addr());
//! assert!(server.wait_for_faults(1, std::time::Duration::from_secs(5)));
//! assert_eq!(server.faults()[0].fault, Fault::ClosedWhileDown);
//! ```
//!
//! # Behaviour
//!
//! `POST /api/v2/write`, checked in this order:
//! - `Authorization: Token X` or `Bearer X`. Without configured tokens ([`Builder::token`],
//!   [`Builder::bucket_token`]) any token, or none, is accepted. With tokens, a missing or
//!   unknown one is 401 `{"code":"unauthorized","message":"unauthorized access"}`
//!   (InfluxDB 3 Core: `{"error":"the request was not authenticated"}`), a token of another
//!   bucket is 403.
//! - `bucket` is required (400 `missing bucket value`); `org` is optional but not empty;
//!   `precision` is one of `ns us ms s m h` (default `ns`), else 400
//!   `failed to deserialize org/bucket/precision in request: unknown variant ...`.
//! - With declared buckets ([`Builder::bucket`]) an unknown bucket is 404
//!   `{"code":"not found","message":"bucket \"X\" not found"}`; without, buckets are created
//!   on first write.
//! - `Content-Encoding: gzip` or `identity`; undecodable gzip is 400, another encoding 415.
//!   Bodies larger than [`Builder::max_body`] (on the wire or decompressed) are 413
//!   `{"code":"invalid","message":"http: request body too large","maxLength":"N"}`.
//! - The body must be UTF-8. Timestamps are scaled to nanoseconds by the precision and must
//!   lie in 1677..2262; points without a timestamp get the server's time (one per request).
//!   NaN and infinite floats, duplicate tag keys and (except for [`Mode::Oss2`]) duplicate
//!   field keys are errors. Points with the same measurement, tags and timestamp merge,
//!   later field values winning. Line numbers are 1-based over the body's lines.
//! - Success is 204. Bad lines: see [`Mode`].
//!
//! `POST /write` (v1): `db` required (bucket `db`, or `db/rp` when `rp` is given), `precision`
//! one of `n u ms s m h`, token from `p` or the `Authorization` header (`Token`, `Bearer`, or
//! `Basic` with the token as password); errors are `{"error":"..."}` with the same text in
//! `X-Influxdb-Error`; bad lines are a partial write
//! (`partial write: unable to parse '<line>': <reason> dropped=0`, good lines kept).
//!
//! Faults ([`FaultPlan`], changeable at run time with [`TestServer::set_faults`]) hit write
//! requests by number or at random from a seed; each one that takes effect is recorded in
//! [`TestServer::faults`], with the sequence number of the request it hit. Besides outages
//! and throttling they cover what proxies and careless servers do to a client:
//! [`Fault::Redirect`] to a login page that answers 200 to anything, [`Fault::TooLargeBeforeBody`]
//! (Go's early 413 and close), [`Fault::ManyHeaders`], [`Fault::PadErrorBody`],
//! [`Fault::BrokenChunkedResponse`], [`Fault::EchoAuthorization`] (the token in an error body),
//! [`Fault::ControlCharacters`] and [`Fault::AnswerAsV1`]; each is honest about what it stores.
//!
//! `GET /ping` is 204, `GET /health` is 200 with a JSON body. Other paths are 404.
//!
//! HTTP: keep-alive (HTTP/1.1 by default), one thread per connection, `Content-Length` or
//! `Transfer-Encoding: chunked` request bodies, `Expect: 100-continue`. A malformed request
//! line is 400, a `POST` without length 411, an oversized head 431, a stalled request 408
//! (after [`Builder::read_timeout`]); the connection is closed after each of these.
//!
//! HTTPS: with [`Builder::https`] the same server speaks TLS (1.3 and 1.2, rustls with the
//! ring provider) with a certificate for `localhost` and `127.0.0.1` (ECDSA P-256), signed
//! by a certificate authority generated at start, its own for each server
//! ([`TestServer::ca_pem`]). A client that refuses the certificate ends the connection in the
//! handshake: no request is recorded, [`TestServer::connection_count`] counts it.
//!
//! Scripted network stacks: with feature `embedded-nal`, `nal::ScriptStack` is an in-memory
//! `embedded-nal` TCP stack whose peer answers a fixed reply (for code that drives a stack,
//! such as `linewire::nal::NalStream`, on the host without a network); with
//! `embedded-nal-async`, `nal_async::ScriptConnect` is the same for `embedded-nal-async`.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// The README's example, compiled and run as a doctest so that it keeps
/// working.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

mod fault;
mod http;
#[cfg(feature = "embedded-nal")]
pub mod nal;
#[cfg(feature = "embedded-nal-async")]
pub mod nal_async;
mod server;
mod store;
#[cfg(feature = "embedded-io")]
pub mod tcp;
mod tls;
mod write;

pub use fault::{Fault, FaultPlan, RecordedFault};
pub use server::{Builder, DownMode, Mode, RecordedRequest, TestServer};
pub use store::{FieldValue, Point};
