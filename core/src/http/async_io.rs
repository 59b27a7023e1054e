//! The write transaction over async byte streams ([`embedded_io_async`]):
//! the blocking transaction's mirror, with an `.await` at each read and
//! write and nothing else of its own.
//!
//! The request head comes from the same encoder as [`encode_head`] (in
//! windows of the caller's scratch buffer, so a head larger than the
//! buffer still goes out whole), the response goes through the same
//! [`ResponseReader`], and the two decisions of the transaction (whether a
//! failed write may have an early answer waiting, and what an answer
//! means) are the blocking transaction's own functions. Same bytes, same
//! outcomes, same errors.
//!
//! [`encode_head`]: super::encode_head

use embedded_io_async::{Error as _, Read, Write};

use super::error::{ReadError, TransportError, WriteError};
use super::outcome::Reply;
use super::request::{check, head_window, Payload};
use super::response::{Progress, ReadLimits, Response, ResponseReader};
use super::target::Target;
use super::{may_have_answered, settle};

/// The smallest window the head is encoded in: a smaller scratch buffer
/// (an empty one too) is replaced by a stack array of this size.
const MIN_WINDOW: usize = 64;

/// [`write_all`](embedded_io_async::Write::write_all) that maps `Ok(0)` to
/// [`TransportError::WriteZero`] instead of looping or panicking.
async fn write_all<W: Write>(w: &mut W, mut bytes: &[u8]) -> Result<(), TransportError> {
    while !bytes.is_empty() {
        match w.write(bytes).await {
            Ok(0) => return Err(TransportError::WriteZero),
            Ok(n) => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(e) => return Err(TransportError::Write(e.kind())),
        }
    }
    Ok(())
}

/// [`write_request`](super::write_request) over an async stream: writes
/// the whole request (head, then the payload bytes straight from the
/// caller's slice) to `w` and flushes it.
///
/// `scratch` stages the head, which goes out in one write when it fits
/// (any size works: below 64 bytes a stack array is used instead).
///
/// # Errors
///
/// [`WriteError::Config`] (nothing written) when the payload is larger than
/// the target's maximum; [`WriteError::Transport`] when the stream fails.
///
/// ```
/// use linewire::http::{write_request_async, Payload, Target};
///
/// let target = Target::v2("h", "b", "t")?;
/// let mut wire = [0u8; 512];
/// let mut w: &mut [u8] = &mut wire;
/// let mut scratch = [0u8; 64];
/// embassy_futures::block_on(write_request_async(&mut w, &target, &Payload::new(b"m f=1\n"), &mut scratch))?;
/// let left = w.len();
/// assert!(wire[..512 - left].ends_with(b"\r\n\r\nm f=1\n"));
/// # Ok::<(), linewire::http::WriteError>(())
/// ```
pub async fn write_request_async<W: Write>(
    w: &mut W,
    target: &Target<'_>,
    payload: &Payload<'_>,
    scratch: &mut [u8],
) -> Result<(), WriteError> {
    check(target, payload)?;
    let mut fallback = [0u8; MIN_WINDOW];
    let window: &mut [u8] = if scratch.len() >= MIN_WINDOW {
        scratch
    } else {
        &mut fallback
    };
    let mut from = 0usize;
    loop {
        let (kept, total) = head_window(target, payload, from, window);
        write_all(w, window.get(..kept).unwrap_or_default()).await?;
        from = from.saturating_add(kept);
        // `kept` is never 0 before the end (the window is not empty); the
        // check keeps the loop finite whatever happens.
        if from >= total || kept == 0 {
            break;
        }
    }
    write_all(w, payload.bytes()).await?;
    w.flush()
        .await
        .map_err(|e| TransportError::Write(e.kind()))?;
    Ok(())
}

/// [`read_response`](super::read_response) over an async stream: the
/// [`ResponseReader`] loop with an `.await` at each read. `Ok(0)` from `r`
/// is the end of the stream.
///
/// # Errors
///
/// As [`read_response`](super::read_response): only before a complete
/// status line.
///
/// ```
/// use linewire::http::{read_response_async, ReadLimits};
///
/// let mut wire: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
/// let mut buf = [0u8; 128];
/// let r = embassy_futures::block_on(read_response_async(&mut wire, &mut buf, ReadLimits::default()))?;
/// assert_eq!(r.status(), 204);
/// # Ok::<(), linewire::http::ReadError>(())
/// ```
pub async fn read_response_async<'b, R: Read>(
    r: &mut R,
    buf: &'b mut [u8],
    limits: ReadLimits,
) -> Result<Response<'b>, ReadError> {
    let mut reader = ResponseReader::new(buf, limits);
    loop {
        let progress = match r.read(reader.read_buf()).await {
            Ok(n) => reader.advance(n)?,
            Err(e) => reader.stream_error(e.kind())?,
        };
        if progress == Progress::Done {
            return reader.finish();
        }
    }
}

/// [`write_batch`](super::write_batch) over an async stream
/// ([`embedded_io_async`]: embassy-net's `TcpSocket`, a TLS connection,
/// ...): sends `body` to `target` over `stream` and reads the answer into
/// `buf`. The same request bytes, outcomes and errors as the blocking
/// transaction, including reading an early answer after the peer closed
/// mid-request ([the module docs](super#early-answers)).
///
/// Dropping the future midway leaves the stream in the middle of a
/// request: close it (or use `nal_async::NalAsyncStream`, feature
/// `embedded-nal-async`, which does).
///
/// # Errors
///
/// As [`write_batch`](super::write_batch).
///
/// ```
/// use linewire::http::{write_batch_async, Action, Target};
/// # struct Loopback<'a> { reply: &'a [u8] }
/// # impl embedded_io_async::ErrorType for Loopback<'_> { type Error = core::convert::Infallible; }
/// # impl embedded_io_async::Read for Loopback<'_> {
/// #     async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> { embedded_io_async::Read::read(&mut self.reply, buf).await }
/// # }
/// # impl embedded_io_async::Write for Loopback<'_> {
/// #     async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> { Ok(buf.len()) }
/// #     async fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # embassy_futures::block_on(async {
/// # let mut socket = Loopback { reply: b"HTTP/1.1 204 No Content\r\n\r\n" };
/// let target = Target::v2("influx.local", "sensors", "token")?.port(8086);
/// let mut buf = [0u8; 512];
/// let reply = write_batch_async(&mut socket, &target, b"temp,room=a v=21.5\n", &mut buf).await?;
/// assert_eq!(reply.outcome.action(), Action::Done);
/// # Ok::<(), linewire::http::WriteError>(())
/// # })?;
/// # Ok::<(), linewire::http::WriteError>(())
/// ```
pub async fn write_batch_async<'p, 'b, S, P>(
    stream: &mut S,
    target: &Target<'_>,
    body: P,
    buf: &'b mut [u8],
) -> Result<Reply<'b>, WriteError>
where
    S: Read + Write,
    P: Into<Payload<'p>>,
{
    write_payload_async(stream, target, &body.into(), buf, ReadLimits::default()).await
}

/// [`write_batch_async`] with a [`Payload`] (precision, gzip) and read
/// limits: [`write_payload`](super::write_payload) over an async stream.
///
/// # Errors
///
/// As [`write_batch`](super::write_batch).
///
/// ```
/// use linewire::http::{write_payload_async, Outcome, Payload, ReadLimits, Target};
/// use linewire::Precision;
/// # struct S(&'static [u8]);
/// # impl embedded_io_async::ErrorType for S { type Error = core::convert::Infallible; }
/// # impl embedded_io_async::Read for S {
/// #     async fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> { embedded_io_async::Read::read(&mut self.0, b).await }
/// # }
/// # impl embedded_io_async::Write for S {
/// #     async fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
/// #     async fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
/// # }
/// # let mut socket = S(b"HTTP/1.1 204 No Content\r\n\r\n");
/// let target = Target::v2("h", "b", "t")?;
/// let payload = Payload::new(b"m v=1 28000000\n").precision(Precision::Minutes);
/// let mut buf = [0u8; 256];
/// let reply = embassy_futures::block_on(write_payload_async(
///     &mut socket, &target, &payload, &mut buf, ReadLimits::default(),
/// ))?;
/// assert_eq!(reply.outcome, Outcome::Written);
/// # Ok::<(), linewire::http::WriteError>(())
/// ```
pub async fn write_payload_async<'b, S>(
    stream: &mut S,
    target: &Target<'_>,
    payload: &Payload<'_>,
    buf: &'b mut [u8],
    limits: ReadLimits,
) -> Result<Reply<'b>, WriteError>
where
    S: Read + Write,
{
    let written = write_request_async(stream, target, payload, buf).await;
    if let Err(e) = written {
        if !may_have_answered(e) {
            return Err(e);
        }
    }
    settle(written, read_response_async(stream, buf, limits).await)
}
