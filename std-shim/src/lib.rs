//! `linewire` on `std`: a `ureq` client, gzip and a background writer.
//!
//! The core crate [`linewire`] (re-exported here, with [`Batch`],
//! [`DefaultTags`], [`Precision`] and [`RetryPolicy`] at the root, so that
//! depending on this crate alone is enough) formats points and decides
//! what each server answer means; this crate adds what a Linux host has:
//! sockets with TLS ([`Client`]), threads ([`BackgroundWriter`]) and a
//! clock ([`now`]).
//!
//! The `linewire` command-line tool (`linewire write metrics.lp ...`) is
//! its own package, `linewire-cli` (in `cli/`), built on this crate:
//! install it with `cargo install --path cli` from a checkout (and
//! `cargo install linewire-cli` once it is published).
//!
//! ```
//! use linewire_std::{now, Batch, Client, Precision};
//!
//! # let server = linewire_testkit::TestServer::start();
//! # let url = server.url();
//! let client = Client::new(&url, Some("token"))?.bucket("home");
//! let mut batch = Batch::<512>::with_precision(Precision::Seconds);
//! batch.point("env")?.tag("room", "kitchen")?.field("temp", 21.5)?.timestamp(now(Precision::Seconds))?;
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
//! - [`BackgroundWriter`]: the queue, one ring of bytes allocated when it
//!   starts ([`WriterBuilder::capacity_bytes`]; by default
//!   [`writer::BYTES_PER_LINE`] (256) bytes for each of
//!   [`WriterBuilder::capacity_lines`], at least 1 MiB: 12.8 MB for the
//!   default 50,000 lines, touched as it fills), the core's delivery
//!   machine over it, and a copy of the batch being sent
//!   ([`WriterBuilder::batch_lines`] lines, one contiguous body). With
//!   gzip on, a second thread compresses the next batch while one is in
//!   flight (the server answers only once it has parsed a whole body): a
//!   copy of that batch, its gzip member (5–20 % of its size) and 250 KiB
//!   of compressor state while it is being compressed.
// Where other crates' docs link to this one when its docs are not built
// beside theirs (`cargo doc --no-deps`). Keep in step with Cargo.toml.
#![doc(html_root_url = "https://docs.rs/linewire-std/0.1.0")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod client;
mod deliver;
pub mod gzip;
pub mod server_text;
mod time;
pub mod tls;
pub mod writer;

/// Internals of the `linewire` command-line tool (synchronous delivery of
/// numbered lines); not a stable API.
#[doc(hidden)]
pub mod cli {
    pub use crate::deliver::{Failed, Line, Sender, Settled};
}

pub use client::{Client, Error, ServerError, Written};
pub use tls::{TlsError, TlsErrorKind};
pub use writer::{
    BackgroundWriter, Backpressure, Failure, FailureReason, GaveUp, PushError, Retried, Stats,
    WriterBuilder,
};

pub use linewire;
pub use linewire::{Batch, DefaultTags, Precision, RetryPolicy};
pub use time::now;
