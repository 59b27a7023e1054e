#![no_std]
#![doc = include_str!("../../README.md")]
#![doc = r#"
## Layers

Each layer uses only the layers above it in this list (`core/src/`):

| layer | folder | what |
|---|---|---|
| bytes | `bytes.rs` | a fixed buffer's writable end, comparisons and copies without `memcmp` or panic paths, a UTF-8 prefix |
| line protocol | `line/` | names, escaping, numbers (`digits`, `float`), timestamps ([`Precision`]), points ([`PointBuilder`]), batches ([`Batch`]), the line checker ([`check_line`]) |
| HTTP | `http/` | the request ([`http::Target`], encoder, gzip body), the response reader (head, framing, chunked), the error-body scanner, `Retry-After`, the [`http::Outcome`] of an answer, the blocking and async transactions |
| delivery | `delivery/` | the [`Queue`] (any storage), the [`RetryPolicy`], the sans-IO machine [`Delivery`] that decides what happens to queued points, and its drivers [`Writer::poll`] and `Writer::poll_async` |
| adapters | `nal.rs`, `nal_async.rs`, `gzip.rs` | streams over `embedded-nal` and `embedded-nal-async` stacks; the gzip encoder |

`linewire-std` is one more driver of the same [`Delivery`] (a thread and
`ureq`), not a second engine.

## No panics

No function of this crate panics on what a caller passes it, on its
configuration or on bytes from the network, at any layer:

- **Points and batches** ([`PointBuilder`], [`Batch`], [`Lines`],
  [`check_line`], [`Precision`]): a name, value or timestamp that cannot
  be written, or a batch without room, is a [`PointError`],
  [`TimestampError`] or [`LineError`].
- **Queue and retry** ([`Queue`], [`RetryPolicy`], [`Backoff`]): a full
  queue is an [`Overflow`] decision or a [`QueueError`]; delays and
  counters saturate.
- **Delivery and writers** ([`Delivery`], [`Writer`]): the sans-IO machine
  takes time as an argument and turns every answer, failure or
  misconfiguration into a [`Next`], [`Event`] or [`LastError`].
- **HTTP** ([`http`]): the request encoder, response reader and
  error-body parser take any bytes from the peer (see the contract in
  [`http`]; they are fuzzed in `core/fuzz`).
- **Adapters** (`nal`, `nal_async`): lengths the stack reports are clamped
  to the caller's buffer, and every wait ends when the caller's `Wait`
  says so.

This is enforced, not only reviewed: library code is built with
`clippy::indexing_slicing`, `unwrap_used`, `expect_used`, `panic` and
`unreachable` denied (tests are exempt); slices are read with `get`,
checked splits and iterators, and the one allowed index is into a table
built at compile time. Arithmetic on lengths, counters and times is
meant to be checked, saturating or bounded by a check just before it,
and the tests run with overflow checks on; this part is not lint-enforced
yet (`clippy::arithmetic_side_effects` lists about 190 sites, not all
audited).

What is outside the contract:

- [`Name::new`] panics on text that is not a plain name. It is meant for
  `const` items, where that panic is a compile error; at run time use
  [`Name::try_new`].
- Code the caller hands in can panic on its own: streams and TCP stacks,
  clocks, random sources, `Wait` closures and TLS hooks.
- With `alloc` (the `gzip` feature, `BoxedQueue`), a failed allocation
  goes to the global allocator's error handler, which aborts under `std`
  and panics in `no_std` builds.

## Names

A setting made by a by-value builder method, `x(self, value) -> Self`
([`RetryPolicy`], [`http::Target`], [`Queue::overflow`]), is read back
with `get_x(&self)`, named after its setter (as `std::process::Command`'s
`arg` and `get_args`): `RetryPolicy::new().max_retries(Some(3))` and
[`RetryPolicy::get_max_retries`]. A setting changed in place with
`set_x(&mut self, value)` is read with `x(&self)` ([`Delivery::set_max_lines`]
and [`Delivery::max_lines`]). Durations as integers carry their unit
(`_ms`, `_secs`).
"#]
// Where other crates' docs link to this one when its docs are not built
// beside theirs (`cargo doc --no-deps`): without it, their links into the
// core render as plain text. Keep the version in step with Cargo.toml.
#![doc(html_root_url = "https://docs.rs/linewire/0.1.0")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

/// Whether the formatter takes its microcontroller paths (less flash, fewer
/// cycles saved): on targets without an OS, and with `small` on any target,
/// so that `cargo test --features small` runs them on the host under the
/// same property and oracle tests as the host paths. A constant rather
/// than a `cfg` so that both paths compile (and are linted) everywhere; the
/// branch not taken folds away. `inline` attributes, which cannot read a
/// constant, stay keyed to `target_os = "none"`.
pub(crate) const MCU: bool = cfg!(any(target_os = "none", feature = "small"));

// The layers, each using only those above it: byte helpers; line
// protocol; HTTP; delivery (queue, retry, the machine and its drivers);
// the network adapters.
mod bytes;
mod delivery;
mod line;

#[cfg(feature = "gzip")]
pub mod gzip;
pub mod http;
#[cfg(feature = "embedded-nal")]
pub mod nal;
#[cfg(feature = "embedded-nal-async")]
pub mod nal_async;

pub use delivery::machine::{
    Completion, Delivery, Event, LastError, Next, OnMisconfigured, Stats, DEFAULT_MAX_LINES,
    LAST_MESSAGE_LEN,
};
#[cfg(feature = "alloc")]
pub use delivery::queue::BoxedQueue;
pub use delivery::queue::{BorrowedQueue, Front, Overflow, Queue, QueueError, QueueInner};
pub use delivery::retry::{Backoff, Random, Retry, RetryPolicy, XorShift32};
pub use delivery::writer::{Poll, Writer};
pub use line::batch::{Batch, BatchInner, BorrowedBatch, DefaultTags, Lines, Storage};
pub use line::check::{check_line, LineError, LineErrorKind};
pub use line::name::Name;
pub use line::point::{
    FieldValue, HasFields, NoFields, Part, PointBuilder, PointError, MAX_STRING_FIELD_LEN,
};
pub use line::precision::{Precision, TimestampError, MAX_TIMESTAMP_NS, MIN_TIMESTAMP_NS};
