//! The async driver over `embedded-io-async`: [`Writer::poll_async`], the
//! blocking [`Writer::poll`]'s mirror. It shares the poll's start and end
//! with the blocking driver (both sans-IO), so the only difference between
//! the two is the `.await` on the write transaction: the same machine calls,
//! results, events and counters.

use embedded_io_async::{Read, Write};

use crate::delivery::retry::Random;
use crate::delivery::writer::{Start, Watched};
use crate::http::{write_payload_async, ReadLimits, WriteError};
use crate::{Poll, Writer};

impl<const N: usize, R: Random> Writer<'_, N, R> {
    /// [`poll`](Self::poll) over an async stream ([`embedded_io_async`]:
    /// embassy-net's `TcpSocket`, a TLS session): sends the next batch over
    /// `stream` if one is due at `now_ms`, reads the answer into `buf` and
    /// acts on it, with the same results, events and counters as `poll`
    /// (the same free retry of a kept-alive connection the server closed).
    ///
    /// The writer reads no clock and starts no timer: `now_ms` is the
    /// caller's time, and [`next_wakeup`](Self::next_wakeup) says when to
    /// call again (sleep until then with the executor's timer, such as
    /// `embassy_time::Timer::at`).
    ///
    /// # Errors
    ///
    /// As [`poll`](Self::poll): close the stream and connect again; the
    /// points are kept and the backoff runs.
    ///
    /// The future holds the transaction's state (under 600 bytes on a
    /// 64-bit host), not the buffer or the queue; nothing is allocated.
    ///
    /// # Cancellation
    ///
    /// Dropping the future midway (a `select` against a timer) leaves the
    /// batch queued, and the next poll sends it again at once: the dropped
    /// try counts as a request, not as a failure (no backoff). The stream
    /// is left in the middle of a request: close it and connect again. For
    /// a server that stops answering to back off, time out on the socket
    /// instead (embassy-net's `TcpSocket::set_timeout`): the failed read
    /// reaches the writer as a transport error, and the backoff runs.
    ///
    /// ```
    /// use linewire::http::Target;
    /// use linewire::{Batch, Event, Precision, RetryPolicy, Writer, XorShift32};
    /// # struct Socket(&'static [u8]);
    /// # impl embedded_io_async::ErrorType for Socket { type Error = core::convert::Infallible; }
    /// # impl embedded_io_async::Read for Socket {
    /// #     async fn read(&mut self, b: &mut [u8]) -> Result<usize, Self::Error> { embedded_io_async::Read::read(&mut self.0, b).await }
    /// # }
    /// # impl embedded_io_async::Write for Socket {
    /// #     async fn write(&mut self, b: &[u8]) -> Result<usize, Self::Error> { Ok(b.len()) }
    /// #     async fn flush(&mut self) -> Result<(), Self::Error> { Ok(()) }
    /// # }
    /// # embassy_futures::block_on(async {
    /// let target = Target::v2("influx.local", "sensors", "token")?.port(8086);
    /// let mut writer = Writer::<4096>::new(target, Precision::Seconds, RetryPolicy::new(), XorShift32::new(7));
    /// let mut point = Batch::<128>::with_precision(Precision::Seconds);
    /// point.point("temp")?.tag("room", "loft")?.field("c", 21.5)?.timestamp(1_700_000_000)?;
    /// writer.push(&point)?;
    ///
    /// let mut socket = Socket(b"HTTP/1.1 204 No Content\r\n\r\n");
    /// let mut buf = [0u8; 1024];
    /// let poll = writer.poll_async(0, &mut socket, &mut buf).await?;
    /// assert_eq!(poll.event, Event::Delivered { lines: 1 });
    /// assert_eq!(writer.next_wakeup(0), None); // nothing left to send
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn poll_async<S>(
        &mut self,
        now_ms: u64,
        stream: &mut S,
        buf: &mut [u8],
    ) -> Result<Poll, WriteError>
    where
        S: Read + Write,
    {
        let (payload, reused, target) = match self.start(now_ms) {
            (Start::Send { payload, reused }, target) => (payload, reused, target),
            (Start::Done(poll), _) => return Ok(poll),
        };
        let mut watched = Watched {
            stream,
            received: false,
        };
        let written =
            write_payload_async(&mut watched, target, &payload, buf, ReadLimits::default()).await;
        let received = watched.received;
        self.finish(now_ms, written, received, reused)
    }
}

// `ErrorType` is `embedded_io`'s (re-exported): the blocking driver's
// impl serves both.

impl<S: Read> Read for Watched<'_, S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = self.stream.read(buf).await?;
        self.received |= n > 0;
        Ok(n)
    }
}

impl<S: Write> Write for Watched<'_, S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.stream.write(buf).await
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.stream.flush().await
    }
}
