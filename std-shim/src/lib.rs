//! `linewire` on `std`: a `ureq` client, gzip, a background writer and the
//! `linewire` command-line tool.
//!
//! The core crate [`linewire`] (re-exported here) formats points and
//! decides what each server answer means; this crate adds what a Linux
//! host has: sockets with TLS ([`Client`]), threads ([`BackgroundWriter`])
//! and files (the `linewire write` CLI).
//!
//! ```
//! use linewire::{Batch, Precision};
//! use linewire_std::Client;
//!
//! # let server = linewire_testkit::TestServer::start();
//! # let url = server.url();
//! let client = Client::new(&url, Some("token"))?.bucket("home");
//! let mut batch = Batch::<512>::with_precision(Precision::Seconds);
//! batch.point("env")?.tag("room", "kitchen")?.field("temp", 21.5)?.timestamp(1_700_000_000)?;
//! client.write(&batch)?;
//! # assert_eq!(server.points("home").len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Memory
//!
//! - [`Client`]: one `ureq` agent (a pool of at most 4 idle connections per
//!   host, each with `ureq`'s buffers, about 128 KiB, plus rustls state for
//!   `https`). A write holds the body and up to [`client::MAX_ERROR_BODY`]
//!   (64 KiB) of error body.
//! - gzip: about 250 KiB of `miniz_oxide` compressor state per write, freed
//!   after it; a body under [`client::EXPECT_CONTINUE_ABOVE`] (256 KiB) is
//!   compressed as it is sent (chunked), so no compressed copy is kept (see
//!   [`gzip::GzipReader`]); a larger one is compressed first (a copy of
//!   5–20 % of its size) so that it can be sent with a length and
//!   `Expect: 100-continue` (see [`client`], "Early 413"). Turn gzip off
//!   with [`Client::gzip`]`(false)`.
//! - [`BackgroundWriter`]: the queued lines, packed in one ring of bytes
//!   (at most [`WriterBuilder::capacity_lines`] lines), and the batch being
//!   sent ([`WriterBuilder::batch_lines`] lines, one contiguous body). With
//!   gzip on, a second thread compresses the next batch while one is in
//!   flight (the server answers only once it has parsed a whole body), so
//!   up to two batches are out of the queue, the next one with its gzip
//!   copy (5–20 % of its size) and 250 KiB of compressor state while it is
//!   being compressed.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod client;
mod deliver;
pub mod gzip;
pub mod server_text;
mod time;
pub mod writer;

/// Internals of the `linewire` command-line tool (synchronous delivery of
/// numbered lines); not a stable API.
#[doc(hidden)]
pub mod cli {
    pub use crate::deliver::{Failed, Line, Sender, Settled};
}

pub use client::{Client, Error, ServerError, Written};
pub use writer::{
    BackgroundWriter, Backpressure, Failure, FailureReason, GaveUp, PushError, Retried, Stats,
    WriterBuilder,
};

pub use linewire;
pub use linewire::{Batch, DefaultTags, Precision};
pub use time::now;
