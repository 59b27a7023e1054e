//! The write transaction over an [`embedded_nal_async`] TCP stack: the
//! async counterpart of `nal::NalStream` (feature `embedded-nal`), for stacks that
//! are async only (embassy-net's `TcpClient`, and so esp-radio's Wi-Fi and
//! cyw43 on the Pico W).
//!
//! [`NalAsyncStream`] borrows a [`TcpConnect`] stack and holds the
//! server's [`SocketAddr`] and at most one connection. It connects on the
//! first request, keeps the connection for the next batch when the
//! response allows it ([`Reply::reusable`]), and drops it otherwise
//! (`Connection: close`, a body delimited by the close, a transport or
//! protocol error), so that the next request connects again.
//!
//! # Cancellation
//!
//! Async firmware times a request out by dropping its future (a `select`
//! against a timer). A request dropped midway leaves the connection in an
//! unknown state (part of a request sent, part of a response unread): the
//! stream remembers that a request was under way, and the next request
//! drops that connection and opens a fresh one.
//!
//! # TLS: a handshake after every connect
//!
//! A [`Handshake`] runs on each new connection before the first request
//! on it, so a reconnect redoes it: [`Plain`] (the default) uses the
//! connection as it is; a TLS hook wraps it in a session and runs the
//! handshake. Its [`Handshake::Stream`] must own what the session needs:
//! a hook can build a session on every connect only if each session gets
//! its buffers anew.
//!
//! `embedded-tls` 0.19 does not fit this: its `TlsConnection` borrows its
//! record buffers (`&'a mut [u8]`) for its whole life and does not give
//! them back, so nothing that outlives one connection (this stream, or a
//! hook in it) can open a second `TlsConnection` over the same buffers in
//! safe code. With it, keep the buffers in the scope that reconnects, and
//! let a [`Writer`](crate::Writer) decide what to send and when: when a
//! poll is due ([`Writer::next_wakeup`](crate::Writer::next_wakeup)) and
//! no session is open, open the connection yourself, wrap it and run the
//! handshake; a connect or handshake that fails is
//! [`Writer::connect_failed`](crate::Writer::connect_failed) (the batch
//! stays queued and the backoff runs). Then poll the writer over the
//! `TlsConnection` ([`Writer::poll_async`](crate::Writer::poll_async))
//! until it says to reconnect ([`Poll::reconnect`](crate::Poll::reconnect):
//! the server closes the connection) or a poll fails, and start again with
//! a new connection and a new handshake:
//!
//! ```ignore
//! let mut rx = [0u8; 16_640];
//! let mut tx = [0u8; 4096];
//! let mut buf = [0u8; 1024];
//! // `writer`: a `linewire::Writer` that `writer.push(&batch)` fills.
//! while let Some(due) = writer.next_wakeup(now_ms()) {
//!     Timer::at(Instant::from_millis(due)).await;
//!     let Ok(socket) = client.connect(server).await else {
//!         writer.connect_failed(now_ms()); // the batch stays queued; the backoff runs
//!         continue;
//!     };
//!     let mut tls = TlsConnection::new(socket, &mut rx, &mut tx);
//!     // A provider whose verifier is `embedded_tls::pki::CertVerifier` over your CA,
//!     // with `config = TlsConfig::new().with_server_name("influx.example.com")`:
//!     // never `UnsecureProvider`, which accepts any certificate. A complete one:
//!     // examples/firmware-net/src/tls.rs and the README's "TLS on the device".
//!     let provider = VerifyingProvider::new(&mut rng, ca_der);
//!     if tls.open(TlsContext::new(&config, provider)).await.is_err() {
//!         writer.connect_failed(now_ms()); // a failed handshake is a failed try too
//!         continue;
//!     }
//!     // Polls over the session while the server keeps the connection.
//!     loop {
//!         match writer.poll_async(now_ms(), &mut tls, &mut buf).await {
//!             Ok(poll) if !poll.reconnect => {} // delivered, or retrying on this session
//!             _ => break, // the server closes, or the stream failed: a new session
//!         }
//!         let Some(due) = writer.next_wakeup(now_ms()) else { break };
//!         Timer::at(Instant::from_millis(due)).await;
//!     }
//!     // The session ends with its connection; the next one handshakes again.
//! }
//! ```
//!
//! `examples/firmware-net`'s `firmware-async-tls` runs this loop over an
//! embassy-net `TcpSocket` under qemu (and `firmware-tls` its blocking
//! twin, `Writer::poll` over `embedded_tls::blocking` and
//! `nal::NalStream`).
//!
//! TLS sessions that own their state (esp-mbedtls's `Session`) fit a
//! [`Handshake`] and get reconnects with a new handshake from this stream.
//!
//! # Memory and panics
//!
//! No heap; the stream is a reference to the stack, the address, the hook,
//! the connection and a few words. No function here panics.
//!
//! ```
//! use core::net::{Ipv4Addr, SocketAddr};
//! use linewire::http::{Action, Target};
//! use linewire::nal_async::NalAsyncStream;
//! # use linewire_testkit::nal_async::ScriptConnect;
//! # let stack = ScriptConnect::new(b"HTTP/1.1 204 No Content\r\n\r\n");
//! # embassy_futures::block_on(async {
//!
//! let server = SocketAddr::new(Ipv4Addr::new(192, 168, 1, 10).into(), 8086);
//! let target = Target::v2("192.168.1.10", "sensors", "token")?.port(8086);
//! let mut conn = NalAsyncStream::new(&stack, server);
//! let mut buf = [0u8; 512];
//! for _ in 0..2 {
//!     let reply = conn.write_batch(&target, b"temp,room=a v=21.5\n", &mut buf).await?;
//!     assert_eq!(reply.outcome.action(), Action::Done);
//! }
//! assert_eq!(conn.connects(), 1); // kept alive between the two batches
//! # Ok::<(), linewire::http::WriteError>(())
//! # })?;
//! # Ok::<(), linewire::http::WriteError>(())
//! ```

use core::fmt;
use core::net::SocketAddr;

use embedded_io_async::{Error as _, ErrorKind, Read, Write};
use embedded_nal_async::TcpConnect;

use crate::http::{self, Payload, ReadLimits, Reply, Target, TransportError, WriteError};

/// What runs on each new connection before the first request on it: a TLS
/// handshake, typically. [`NalAsyncStream`] calls it after every connect,
/// so a reconnect redoes it.
///
/// ```
/// use linewire::nal_async::Handshake;
/// # use linewire_testkit::nal_async::ScriptConn;
///
/// // A hook that counts connections and sends a greeting first.
/// struct Greet(u32);
/// impl<C: embedded_io_async::Read + embedded_io_async::Write> Handshake<C> for Greet {
///     type Stream = C;
///     type Error = C::Error;
///     async fn handshake(&mut self, mut conn: C) -> Result<C, C::Error> {
///         self.0 += 1;
///         embedded_io_async::Write::write_all(&mut conn, b"hello\n").await?;
///         Ok(conn)
///     }
/// }
/// let mut hook = Greet(0);
/// let _stream = embassy_futures::block_on(hook.handshake(ScriptConn::new(b"")))?;
/// assert_eq!(hook.0, 1);
/// # Ok::<(), embedded_io_async::ErrorKind>(())
/// ```
#[allow(async_fn_in_trait)] // as embedded-io-async: the executor is the caller's
pub trait Handshake<C> {
    /// The stream requests go over (the TLS session).
    type Stream: Read + Write;
    /// A failed handshake.
    type Error: embedded_io_async::Error;
    /// Turns a new connection into the stream requests go over.
    async fn handshake(&mut self, conn: C) -> Result<Self::Stream, Self::Error>;
}

/// The connection as it is: plain TCP, no handshake.
///
/// ```
/// use linewire::nal_async::{Handshake, Plain};
/// # use linewire_testkit::nal_async::ScriptConn;
///
/// let conn = ScriptConn::new(b"pong");
/// let stream = embassy_futures::block_on(Plain.handshake(conn))?;
/// assert_eq!(stream.reply(), b"pong"); // the same connection
/// # Ok::<(), embedded_io_async::ErrorKind>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plain;

impl<C: Read + Write> Handshake<C> for Plain {
    type Stream = C;
    type Error = C::Error;
    async fn handshake(&mut self, conn: C) -> Result<C, C::Error> {
        Ok(conn)
    }
}

/// Why no connection could be opened, reduced to the stack's or hook's
/// [`ErrorKind`] ([`NalAsyncStream::last_error`]).
///
/// ```
/// use embedded_io_async::ErrorKind;
/// use linewire::nal_async::Error;
///
/// let e = Error::Connect(ErrorKind::ConnectionRefused);
/// assert_eq!(e.to_string(), "connecting failed: the connection was refused");
/// assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The stack could not connect (refused, unreachable, no free socket,
    /// ...).
    Connect(ErrorKind),
    /// The [`Handshake`] failed on a new connection (which was dropped).
    Handshake(ErrorKind),
}

impl Error {
    /// The kind of the underlying error.
    ///
    /// ```
    /// use embedded_io_async::ErrorKind;
    /// use linewire::nal_async::Error;
    ///
    /// assert_eq!(Error::Handshake(ErrorKind::InvalidData).kind(), ErrorKind::InvalidData);
    /// ```
    pub fn kind(self) -> ErrorKind {
        match self {
            Self::Connect(k) | Self::Handshake(k) => k,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            Self::Connect(_) => "connecting failed",
            Self::Handshake(_) => "the handshake on a new connection failed",
        };
        // Not the kind's own Display, which is its Debug name.
        write!(f, "{what}: {}", http::kind_text(self.kind()))
    }
}

impl core::error::Error for Error {}

impl embedded_io_async::Error for Error {
    fn kind(&self) -> ErrorKind {
        (*self).kind()
    }
}

/// A connection to one server over an `embedded-nal-async` stack, with the
/// write transaction on top: `nal::NalStream`'s counterpart for async
/// stacks.
///
/// - **Connects lazily**: the first request (after construction,
///   [`close`](Self::close), an error, a reply that is not reusable, or a
///   request whose future was dropped) connects and runs the
///   [`Handshake`].
/// - **Keeps the connection** while replies are reusable.
/// - **Errors** drop the connection: resend the batch (writes are
///   idempotent), the next call connects again.
///
/// The connection is dropped (closed by the stack) with the stream.
///
/// ```
/// use core::net::{Ipv4Addr, SocketAddr};
/// use linewire::nal_async::NalAsyncStream;
/// # use linewire_testkit::nal_async::ScriptConnect;
/// # let stack = ScriptConnect::new(b"");
/// let conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086));
/// assert!(!conn.is_connected());
/// ```
pub struct NalAsyncStream<'a, T, H = Plain>
where
    T: TcpConnect + 'a,
    H: Handshake<T::Connection<'a>>,
{
    stack: &'a T,
    remote: SocketAddr,
    hook: H,
    stream: Option<H::Stream>,
    in_request: bool,
    connects: u32,
    last_error: Option<Error>,
}

impl<'a, T, H> fmt::Debug for NalAsyncStream<'a, T, H>
where
    T: TcpConnect + 'a,
    H: Handshake<T::Connection<'a>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NalAsyncStream")
            .field("remote", &self.remote)
            .field("connected", &self.stream.is_some())
            .field("in_request", &self.in_request)
            .field("connects", &self.connects)
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl<'a, T: TcpConnect + 'a> NalAsyncStream<'a, T, Plain> {
    /// A plain-TCP stream to `remote` over `stack`. Nothing is opened
    /// until the first request or [`connect`](Self::connect).
    ///
    /// ```
    /// use core::net::{Ipv4Addr, SocketAddr};
    /// use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// let addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 8086);
    /// let conn = NalAsyncStream::new(&stack, addr);
    /// assert_eq!(conn.remote(), addr);
    /// ```
    pub fn new(stack: &'a T, remote: SocketAddr) -> Self {
        Self::with_handshake(stack, remote, Plain)
    }
}

impl<'a, T, H> NalAsyncStream<'a, T, H>
where
    T: TcpConnect + 'a,
    H: Handshake<T::Connection<'a>>,
{
    /// A stream to `remote` over `stack` that runs `hook` on every new
    /// connection (a TLS handshake).
    ///
    /// ```
    /// use core::net::{Ipv4Addr, SocketAddr};
    /// use linewire::nal_async::{NalAsyncStream, Plain};
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// let conn = NalAsyncStream::with_handshake(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 443), Plain);
    /// assert_eq!(conn.connects(), 0);
    /// ```
    pub fn with_handshake(stack: &'a T, remote: SocketAddr, hook: H) -> Self {
        Self {
            stack,
            remote,
            hook,
            stream: None,
            in_request: false,
            connects: 0,
            last_error: None,
        }
    }

    /// The server address.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086);
    /// assert_eq!(NalAsyncStream::new(&stack, addr).remote(), addr);
    /// ```
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Changes the server address (after a new DNS answer, say); drops
    /// the current connection if it was to another address.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// # embassy_futures::block_on(async {
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086));
    /// conn.connect().await?;
    /// conn.set_remote(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8087));
    /// assert!(!conn.is_connected());
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// # })?;
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// ```
    pub fn set_remote(&mut self, remote: SocketAddr) {
        if remote != self.remote {
            self.close();
            self.remote = remote;
        }
    }

    /// `true` while a connection is open (and its handshake done).
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// # embassy_futures::block_on(async {
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1));
    /// assert!(!conn.is_connected());
    /// conn.connect().await?;
    /// assert!(conn.is_connected());
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// # })?;
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.stream.is_some()
    }

    /// How many connections were established so far (saturating): `1`
    /// after many batches means keep-alive worked.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// # embassy_futures::block_on(async {
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1));
    /// conn.connect().await?;
    /// conn.connect().await?; // already connected: no-op
    /// assert_eq!(conn.connects(), 1);
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// # })?;
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// ```
    pub fn connects(&self) -> u32 {
        self.connects
    }

    /// Why the last request could not connect, cleared at the start of
    /// each request. Useful after a [`WriteError::Transport`], which
    /// carries only an [`ErrorKind`].
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// use embedded_io_async::ErrorKind;
    /// use linewire::http::Target;
    /// use linewire::nal_async::{Error, NalAsyncStream};
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// let stack = ScriptConnect::new(b"").refuse_connections();
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1));
    /// let target = Target::v2("h", "b", "t")?;
    /// let mut buf = [0u8; 256];
    /// let result = embassy_futures::block_on(conn.write_batch(&target, b"m v=1\n", &mut buf));
    /// assert!(result.is_err());
    /// assert_eq!(conn.last_error(), Some(Error::Connect(ErrorKind::ConnectionRefused)));
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn last_error(&self) -> Option<Error> {
        self.last_error
    }

    /// The stack.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// let stack = ScriptConnect::new(b"");
    /// let conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1));
    /// assert_eq!(conn.stack().connects(), 0);
    /// ```
    pub fn stack(&self) -> &'a T {
        self.stack
    }

    /// The handshake hook (its settings, counters).
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::{NalAsyncStream, Plain};
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// let conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1));
    /// assert_eq!(conn.hook(), &Plain);
    /// ```
    pub fn hook(&self) -> &H {
        &self.hook
    }

    /// The handshake hook, mutably (new credentials for the next
    /// connection, say).
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::{NalAsyncStream, Plain};
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1));
    /// let _hook: &mut Plain = conn.hook_mut();
    /// ```
    pub fn hook_mut(&mut self) -> &mut H {
        &mut self.hook
    }

    /// Connects and runs the [`Handshake`] if no connection is open.
    /// Requests do this on their own; call it to connect ahead of the
    /// first batch.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] or [`Error::Handshake`]; no connection is left
    /// open.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// # embassy_futures::block_on(async {
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1));
    /// conn.connect().await?;
    /// assert!(conn.is_connected());
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// # })?;
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// ```
    pub async fn connect(&mut self) -> Result<(), Error> {
        if self.stream.is_some() {
            return Ok(());
        }
        let conn = match self.stack.connect(self.remote).await {
            Ok(conn) => conn,
            Err(e) => return Err(self.record(Error::Connect(e.kind()))),
        };
        match self.hook.handshake(conn).await {
            Ok(stream) => {
                self.stream = Some(stream);
                self.connects = self.connects.saturating_add(1);
                Ok(())
            }
            Err(e) => Err(self.record(Error::Handshake(e.kind()))),
        }
    }

    /// Drops the connection, if one is open (the stack closes it). The
    /// next request opens a new one.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// # let stack = ScriptConnect::new(b"");
    /// # embassy_futures::block_on(async {
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1));
    /// conn.connect().await?;
    /// conn.close();
    /// assert!(!conn.is_connected());
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// # })?;
    /// # Ok::<(), linewire::nal_async::Error>(())
    /// ```
    pub fn close(&mut self) {
        self.stream = None;
    }

    /// Sends `body` with [`http::write_batch_async`] and manages the
    /// connection: connects if needed (and runs the [`Handshake`]), keeps
    /// the connection when the reply says it is reusable, drops it
    /// otherwise and after any error but a configuration error (nothing
    /// was sent, nothing connected).
    ///
    /// If this future is dropped before it completes, the next request
    /// starts on a new connection.
    ///
    /// # Errors
    ///
    /// As [`http::write_batch`]; a failed connect or handshake is a
    /// [`WriteError::Transport`] with the error's kind, and the details
    /// are in [`last_error`](Self::last_error). Resend the batch after a
    /// transport, peer or resource error: the next call reconnects. A
    /// kept-alive connection the server closed while idle fails the next
    /// request before any response byte, as with `NalStream::write_batch`.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// use linewire::http::{Outcome, Target};
    /// use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// let stack = ScriptConnect::new(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086));
    /// let target = Target::v2("localhost", "b", "t")?.port(8086);
    /// let mut buf = [0u8; 256];
    /// # embassy_futures::block_on(async {
    /// assert_eq!(conn.write_batch(&target, b"m v=1\n", &mut buf).await?.outcome, Outcome::Written);
    /// assert!(!conn.is_connected()); // the server said Connection: close
    /// assert_eq!(conn.write_batch(&target, b"m v=2\n", &mut buf).await?.outcome, Outcome::Written);
    /// assert_eq!(conn.connects(), 2);
    /// # Ok::<(), linewire::http::WriteError>(())
    /// # })?;
    /// # Ok::<(), linewire::http::WriteError>(())
    /// ```
    pub async fn write_batch<'p, 'b, P>(
        &mut self,
        target: &Target<'_>,
        body: P,
        buf: &'b mut [u8],
    ) -> Result<Reply<'b>, WriteError>
    where
        P: Into<Payload<'p>>,
    {
        self.write_payload(target, &body.into(), buf, ReadLimits::default())
            .await
    }

    /// [`write_batch`](Self::write_batch) with a [`Payload`] and
    /// [`ReadLimits`], as [`http::write_payload_async`].
    ///
    /// # Errors
    ///
    /// As [`write_batch`](Self::write_batch).
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// use linewire::http::{Outcome, Payload, ReadLimits, Target};
    /// use linewire::nal_async::NalAsyncStream;
    /// # use linewire_testkit::nal_async::ScriptConnect;
    /// let stack = ScriptConnect::new(b"HTTP/1.1 204 No Content\r\n\r\n");
    /// let mut conn = NalAsyncStream::new(&stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086));
    /// let target = Target::v2("localhost", "b", "t")?;
    /// let mut buf = [0u8; 256];
    /// let reply = embassy_futures::block_on(conn.write_payload(
    ///     &target, &Payload::new(b"m v=1\n"), &mut buf, ReadLimits::new(4096),
    /// ))?;
    /// assert_eq!(reply.outcome, Outcome::Written);
    /// assert!(conn.is_connected());
    /// # Ok::<(), linewire::http::WriteError>(())
    /// ```
    pub async fn write_payload<'b>(
        &mut self,
        target: &Target<'_>,
        payload: &Payload<'_>,
        buf: &'b mut [u8],
        limits: ReadLimits,
    ) -> Result<Reply<'b>, WriteError> {
        self.last_error = None;
        if self.in_request {
            // The previous request's future was dropped midway: what is
            // left on that connection is unknown.
            self.close();
            self.in_request = false;
        }
        // Nothing is sent for a payload over the target's maximum: do not
        // connect for it either.
        http::check_payload(target, payload)?;
        self.in_request = true;
        if let Err(e) = self.connect().await {
            self.in_request = false;
            return Err(TransportError::Write(e.kind()).into());
        }
        let result = match self.stream.as_mut() {
            Some(stream) => http::write_payload_async(stream, target, payload, buf, limits).await,
            None => Err(TransportError::Write(ErrorKind::NotConnected).into()),
        };
        self.in_request = false;
        match &result {
            Ok(reply) if reply.reusable => {}
            Err(WriteError::Config(_)) => {}
            Ok(_) | Err(_) => self.close(),
        }
        result
    }

    /// Keeps the first error of a request.
    fn record(&mut self, err: Error) -> Error {
        if self.last_error.is_none() {
            self.last_error = Some(err);
        }
        err
    }
}
