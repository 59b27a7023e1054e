#![no_std]
#![doc = include_str!("../../README.md")]
// Where other crates' docs link to this one when its docs are not built
// beside theirs (`cargo doc --no-deps`): without it, their links into the
// core render as plain text. Keep the version in step with Cargo.toml.
#![doc(html_root_url = "https://docs.rs/linewire/0.1.0")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod batch;
mod check;
mod delivery;
mod digits;
mod escape;
#[cfg(any(feature = "small", test))]
mod float;
mod name;
mod point;
mod precision;
mod queue;
mod retry;
mod writer;
#[cfg(feature = "async")]
mod writer_async;

#[cfg(feature = "gzip")]
pub mod gzip;
pub mod http;
#[cfg(feature = "embedded-nal")]
pub mod nal;
#[cfg(feature = "embedded-nal-async")]
pub mod nal_async;

pub use batch::{Batch, BatchInner, BorrowedBatch, DefaultTags, Lines, Storage};
pub use check::{check_line, LineError, LineErrorKind};
pub use delivery::{
    Completion, Delivery, Event, LastError, Next, OnMisconfigured, Stats, DEFAULT_MAX_LINES,
    LAST_MESSAGE_LEN,
};
pub use name::Name;
pub use point::{
    FieldValue, HasFields, NoFields, Part, PointBuilder, PointError, MAX_STRING_FIELD_LEN,
};
pub use precision::{Precision, TimestampError, MAX_TIMESTAMP_NS, MIN_TIMESTAMP_NS};
#[cfg(feature = "alloc")]
pub use queue::BoxedQueue;
pub use queue::{BorrowedQueue, Front, Overflow, Queue, QueueError, QueueInner};
pub use retry::{Backoff, Random, Retry, RetryPolicy, XorShift32};
pub use writer::{Poll, Writer};
