//! The write transaction over any blocking byte stream: the HTTP/1.1
//! request for `/api/v2/write` (or the v1 `/write`), the response reader,
//! error bodies and the [`Outcome`] a caller acts on.
//!
//! No heap, no clock. The protocol is pure functions over caller-owned
//! buffers ([`encode_head`], [`Outcome::classify`], [`ErrorBody::parse`]);
//! the response reader is a state machine over the caller's buffer
//! ([`ResponseReader`]); the I/O is a thin driver over [`embedded_io`]
//! ([`write_request`], [`read_response`], [`write_batch`]). Time is an argument: a
//! `Retry-After` date is resolved with [`RetryAfter::delay_secs`] and the
//! caller's Unix time.
//!
//! # No-panic contract
//!
//! No function in this module panics, whatever the configuration, payload
//! or bytes from the peer: there is no `unwrap`, `expect` or unchecked
//! indexing on caller or network data, arithmetic on lengths and counters is
//! checked, saturating, or bounded by a check just before it, and every loop
//! ends (each iteration consumes input or frees room in the buffer that the
//! next read fills, and [`ReadLimits`] (which also bounds a head larger than
//! the buffer) and [`MAX_INTERIM`] bound what a peer can make the reader
//! consume). The response reader (with the invariant that a status line,
//! once read, is the response's status) and the error-body parser are
//! fuzzed (`core/fuzz`, `scripts/fuzz.sh`).
//!
//! The I/O is blocking: a peer that stops sending blocks the reader until
//! the stream's own timeout, which the caller configures on its socket.
//! With the `async` feature, `write_batch_async` and its siblings are the
//! same transaction over `embedded_io_async` streams (embassy-net,
//! esp-radio, cyw43): the same encoder, reader and decisions, an `.await`
//! at each read and write; time out by dropping the future (with a
//! `select` on a timer) and then closing the stream.
//!
//! # The status decides
//!
//! Once a status line is read, the status decides the [`Outcome`]: a `204`
//! is written even if a header field did not fit the buffer, a `400` is a
//! `400` even if its body is cut or its chunked framing is broken. Header
//! fields too long for the buffer are skipped, their number is not limited,
//! and what was lost is reported by [`Response::truncation`] /
//! [`Reply::truncation`] (the connection is then not reused). Errors
//! ([`ReadError`], [`WriteError`]) are left for what happens before a
//! complete status line. See [`ResponseReader`] for the details.
//!
//! # Early answers
//!
//! Servers written in Go (InfluxDB 1.x and 2.x, VictoriaMetrics, Go's
//! `net/http` in general) may answer `413` before reading a large body and
//! close the connection; the client then sees its write fail (a reset or a
//! broken pipe) with the answer waiting in its receive buffer.
//! [`write_payload`] (and [`write_batch`]) read that answer when a write
//! fails with `ConnectionReset`, `BrokenPipe` or `ConnectionAborted` (not
//! when it is refused or times out): a status line that arrives decides
//! the outcome (`413` is [`Outcome::TooLarge`]: split the batch), and only
//! without one is the write error returned. That read is bounded by the stream's own read
//! timeout, like every read here. (Whether the answer survives the reset
//! depends on the TCP stack: Go's server waits a moment after its answer,
//! before closing, so that it usually does.)
//!
//! The core does not send `Expect: 100-continue`: waiting for `100
//! Continue` needs a clock. Go servers answer `100 Continue` only when the
//! handler starts reading the body, so a client that sends the header and
//! waits sees an early `413` before sending any of the body; a client with
//! a clock (such as `linewire-std`) could do that.
//!
//! # Memory
//!
//! A [`Target`] borrows its strings. The response (head, then body) is read
//! into the caller's buffer; headers are interpreted as they are parsed (no
//! header array), and the only stack array is a 64-byte discard chunk.
//!
//! ```
//! use linewire::http::{write_batch, Action, Target};
//!
//! # struct Loopback<'a> { reply: &'a [u8], sent: usize }
//! # impl embedded_io::ErrorType for Loopback<'_> { type Error = core::convert::Infallible; }
//! # impl embedded_io::Read for Loopback<'_> {
//! #     fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> { self.reply.read(buf) }
//! # }
//! # impl embedded_io::Write for Loopback<'_> {
//! #     fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> { self.sent += buf.len(); Ok(buf.len()) }
//! #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
//! # }
//! # let mut stream = Loopback { reply: b"HTTP/1.1 204 No Content\r\n\r\n", sent: 0 };
//! let target = Target::v2("influx.local", "sensors", "token")?.port(8086);
//! let mut buf = [0u8; 512];
//! let reply = write_batch(&mut stream, &target, b"temp,room=a v=21.5\n", &mut buf)?;
//! assert_eq!(reply.outcome.action(), Action::Done);
//! # Ok::<(), linewire::http::WriteError>(())
//! ```

#[cfg(feature = "async")]
mod async_io;
mod error;
mod error_body;
mod head;
#[cfg(test)]
mod head_oracle;
mod outcome;
mod request;
mod response;
mod target;

#[cfg(feature = "async")]
pub use async_io::{
    read_response_async, write_batch_async, write_payload_async, write_request_async,
};
/// An I/O error kind in words, for the adapters' messages.
#[cfg(feature = "embedded-nal-async")]
pub(crate) use error::kind_text;
pub use error::{ConfigError, PeerError, ReadError, ResourceError, TransportError, WriteError};
pub use error_body::{BodyKind, ErrorBody, RejectedLines, MAX_REJECTED_LINES};
pub use outcome::{Action, Outcome, Partial, Reply};
/// The payload check of the transaction, for an adapter that must not
/// connect for a request that is never sent.
#[cfg(feature = "embedded-nal-async")]
pub(crate) use request::check as check_payload;
pub use request::{encode_head, write_request, Payload, USER_AGENT};
pub use response::{
    read_response, Framing, Progress, ReadLimits, Response, ResponseReader, RetryAfter, Truncation,
    MAX_INTERIM,
};
pub use target::{Api, Target, DEFAULT_MAX_BODY};

/// Not public API: the response-head parser, for the fuzz target that holds
/// it equal to `httparse` (`core/fuzz`, `head_parser`), and only in fuzzing
/// builds (`cargo fuzz` sets `--cfg fuzzing`). Calls `on_header`
/// with the byte ranges of each header's name and value; returns the head
/// length, status and whether it is HTTP/1.0, or `Err(0)` for "read more",
/// `Err(2)` for an invalid head (no limit on the number of headers).
#[cfg(fuzzing)]
#[doc(hidden)]
pub fn __parse_head(
    buf: &[u8],
    on_header: &mut dyn FnMut((usize, usize), (usize, usize)),
) -> Result<(usize, u16, bool), u8> {
    head::parse(buf, on_header).map_err(|e| match e {
        head::Stop::Partial => 0,
        head::Stop::Invalid => 2,
    })
}

/// Sends `body` to `target` over `stream` and reads the answer into `buf`.
///
/// `body` is a [`Batch`](crate::Batch) (sent at the batch's precision),
/// plain bytes (`&[u8]`, at the target's precision) or a [`Payload`].
///
/// `buf` first stages the request head, then holds the response head and
/// the error body (truncated if it does not fit; a few hundred bytes is
/// enough for the head and a useful error message). Use
/// [`write_payload`] to set [`ReadLimits`].
///
/// # Errors
///
/// [`WriteError::Config`] when the body exceeds the target's maximum
/// (nothing is sent); otherwise transport, peer or resource errors, after
/// which the connection must be closed and the batch resent (writes are
/// idempotent, so a resend is safe). Errors come only from before a
/// complete status line: once a status is read, it decides
/// ([`Reply::truncation`] says what was lost after it).
///
/// When writing the request fails because the peer closed the connection
/// (`ConnectionReset`, `BrokenPipe`, `ConnectionAborted`), a response the
/// server already sent (an early `413`, see [the module
/// docs](self#early-answers)) is read before the transport error is
/// reported; if a status line arrives, it decides the outcome and the
/// connection is not reused. Other write failures (refused, timed out,
/// not connected) are reported at once.
///
/// ```
/// # use linewire::http::{write_batch, Outcome, Target};
/// # let mut stream = embedded_io_fake();
/// # fn embedded_io_fake() -> impl embedded_io::Read + embedded_io::Write {
/// #     struct S(&'static [u8]);
/// #     impl embedded_io::ErrorType for S { type Error = core::convert::Infallible; }
/// #     impl embedded_io::Read for S { fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> { self.0.read(b) } }
/// #     impl embedded_io::Write for S {
/// #         fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
/// #         fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// #     }
/// #     S(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nUnauthorized")
/// # }
/// let target = Target::v2("telegraf.local", "b", "wrong")?;
/// let mut buf = [0u8; 256];
/// let reply = write_batch(&mut stream, &target, b"m v=1\n", &mut buf)?;
/// assert_eq!(reply.outcome, Outcome::Unauthorized);
/// assert_eq!(reply.error.message, Some("Unauthorized"));
/// # Ok::<(), linewire::http::WriteError>(())
/// ```
pub fn write_batch<'p, 'b, S, P>(
    stream: &mut S,
    target: &Target<'_>,
    body: P,
    buf: &'b mut [u8],
) -> Result<Reply<'b>, WriteError>
where
    S: embedded_io::Read + embedded_io::Write,
    P: Into<Payload<'p>>,
{
    write_payload(stream, target, &body.into(), buf, ReadLimits::default())
}

/// [`write_batch`] with a [`Payload`] (precision, gzip) and read limits.
///
/// # Errors
///
/// As [`write_batch`].
///
/// ```
/// # use linewire::http::{write_payload, Outcome, Payload, ReadLimits, Target};
/// # use linewire::Precision;
/// # struct S(&'static [u8]);
/// # impl embedded_io::ErrorType for S { type Error = core::convert::Infallible; }
/// # impl embedded_io::Read for S { fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> { self.0.read(b) } }
/// # impl embedded_io::Write for S {
/// #     fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
/// #     fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # let mut stream = S(b"HTTP/1.1 204 No Content\r\n\r\n");
/// let target = Target::v2("h", "b", "t")?;
/// let payload = Payload::new(b"m v=1 28000000\n").precision(Precision::Minutes);
/// let mut buf = [0u8; 256];
/// let reply = write_payload(&mut stream, &target, &payload, &mut buf, ReadLimits::default())?;
/// assert_eq!(reply.outcome, Outcome::Written);
/// # Ok::<(), linewire::http::WriteError>(())
/// ```
pub fn write_payload<'b, S>(
    stream: &mut S,
    target: &Target<'_>,
    payload: &Payload<'_>,
    buf: &'b mut [u8],
    limits: ReadLimits,
) -> Result<Reply<'b>, WriteError>
where
    S: embedded_io::Read + embedded_io::Write,
{
    let written = write_request(stream, target, payload, buf);
    if let Err(e) = written {
        if !may_have_answered(e) {
            return Err(e);
        }
    }
    // One call site: the reader is generic over the stream and inlined.
    settle(written, read_response(stream, buf, limits))
}

/// Whether a request write that failed with `e` may still have an answer
/// waiting: the peer closed while the request was written (reset, broken
/// pipe, aborted) and may have answered before reading the whole body (an
/// early 413). Any other failure ends the transaction. Shared by the
/// blocking and async transactions.
#[inline]
fn may_have_answered(e: WriteError) -> bool {
    use embedded_io::ErrorKind as K;
    matches!(
        e,
        WriteError::Transport(TransportError::Write(
            K::ConnectionReset | K::BrokenPipe | K::ConnectionAborted
        ))
    )
}

/// The transaction's result from how writing the request went and what
/// reading the response gave. Shared by the blocking and async
/// transactions.
#[inline]
fn settle<'b>(
    written: Result<(), WriteError>,
    read: Result<Response<'b>, ReadError>,
) -> Result<Reply<'b>, WriteError> {
    match read {
        Ok(response) => {
            let mut reply = Reply::from(response);
            if let Err(w) = written {
                // The server answered a request it did not receive whole: a
                // 2xx or a 400 cannot speak for the lines it never saw, so
                // only answers that keep the data (413, 401, 429, 5xx, ...)
                // are taken; otherwise the batch is resent.
                if matches!(reply.outcome.action(), Action::Done | Action::Drop) {
                    return Err(w);
                }
                reply.reusable = false;
            }
            Ok(reply)
        }
        Err(e) => Err(match written {
            Err(w) => w,
            Ok(()) => e.into(),
        }),
    }
}
