//! An [`embedded_io`] stream over an [`embedded_nal`] TCP stack, for the
//! [`http`] write transaction.
//!
//! [`NalStream`] owns a [`TcpClientStack`] (or a `&mut` to one), the
//! server's [`SocketAddr`] and at most one socket. It connects on the first
//! write, turns `nb::WouldBlock` into a bounded wait ([`Wait`]), returns
//! partial sends as partial writes (never `Ok(0)`, which embedded-io's
//! `write_all` panics on), reports a closed peer as
//! [`Error::PeerClosed`] on a write and as end of stream (`Ok(0)`) on a
//! read, and closes the socket after any error so that the next request
//! starts on a new connection (after a failed send, only once the
//! transaction has read any answer the server sent before closing: an
//! early 413 is heard).
//!
//! [`NalStream::write_batch`] is [`http::write_batch`]
//! plus connection management: it keeps the connection for the next batch
//! when the response allows it ([`Reply::reusable`]) and closes it
//! otherwise (`Connection: close`, a body delimited by the close, a
//! transport or protocol error).
//!
//! # Time
//!
//! The adapter never reads a clock. When the stack answers `WouldBlock`,
//! it calls the caller's [`Wait`]: [`Spin`] retries a bounded number of
//! times, a closure can sleep, poll the network stack (it receives the
//! stack) and give up at the caller's own deadline. Giving up is
//! [`Error::Stalled`].
//!
//! # Stacks that answer `Ok(0)`
//!
//! `embedded-nal` does not say what `receive` returning `Ok(0)` means.
//! Stacks over `std::net` (`std-embedded-nal`) mean the end of the stream;
//! `smoltcp`-based stacks mean "nothing yet" and report the end as an error
//! of kind [`TcpErrorKind::PipeClosed`]. Choose with
//! [`NalStream::zero_read`]; an error of kind `PipeClosed` is the end of the
//! stream in both settings. A `send` that returns `Ok(0)` is treated as
//! `WouldBlock`.
//!
//! # Memory and panics
//!
//! No heap; the stream is the stack, the socket, the address and a few
//! words. No function here panics: lengths from the stack are clamped to the
//! caller's buffer and every wait loop ends when the [`Wait`] says so.
//!
//! ```
//! use core::net::{Ipv4Addr, SocketAddr};
//! use linewire::http::{Action, Target};
//! use linewire::nal::{NalStream, Spin};
//! # use linewire_testkit::nal::ScriptStack;
//! # let stack = ScriptStack::new(b"HTTP/1.1 204 No Content\r\n\r\n");
//!
//! let server = SocketAddr::new(Ipv4Addr::new(192, 168, 1, 10).into(), 8086);
//! let target = Target::v2("192.168.1.10", "sensors", "token")?.port(8086);
//! let mut conn = NalStream::new(stack, server, Spin::new(10_000));
//! let mut buf = [0u8; 512];
//! for _ in 0..2 {
//!     let reply = conn.write_batch(&target, b"temp,room=a v=21.5\n", &mut buf)?;
//!     assert_eq!(reply.outcome.action(), Action::Done);
//! }
//! assert_eq!(conn.connects(), 1); // kept alive between the two batches
//! # Ok::<(), linewire::http::WriteError>(())
//! ```

use core::fmt;
use core::net::SocketAddr;

use embedded_nal::{nb, TcpClientStack, TcpError, TcpErrorKind};

use crate::http::{self, Payload, ReadLimits, Reply, Target, WriteError};

/// The operation that met `WouldBlock`, passed to [`Wait`] and reported by
/// [`Error::Stalled`].
///
/// ```
/// use linewire::nal::{Error, Op};
///
/// let e: Error<()> = Error::Stalled(Op::Receive);
/// assert_eq!(e.to_string(), "the stack made no progress receiving (gave up waiting)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Op {
    /// Connecting the socket.
    Connect,
    /// Sending request bytes.
    Send,
    /// Receiving response bytes.
    Receive,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connecting",
            Self::Send => "sending",
            Self::Receive => "receiving",
        }
    }
}

/// What to do when the stack answers `WouldBlock`.
///
/// [`wait`](Wait::wait) is called with the stack, the operation and the
/// number of `WouldBlock` answers in a row for it (from 1). Return `true` to
/// try again, `false` to give up ([`Error::Stalled`]). An implementation
/// may sleep, yield to other work, or drive the network stack (a
/// `smoltcp`-based stack needs polling to make progress); time is the
/// caller's: the adapter never reads a clock.
///
/// [`Spin`] is the bounded busy retry; any
/// `FnMut(&mut S, Op, u32) -> bool` closure is a `Wait` too.
///
/// ```
/// use linewire::nal::{Op, Wait};
///
/// // Give up after 3 retries of a receive; retry connect and send 100 times.
/// struct Budget;
/// impl<S> Wait<S> for Budget {
///     fn wait(&mut self, _stack: &mut S, op: Op, attempt: u32) -> bool {
///         attempt <= if op == Op::Receive { 3 } else { 100 }
///     }
/// }
/// assert!(Budget.wait(&mut (), Op::Receive, 3));
/// assert!(!Budget.wait(&mut (), Op::Receive, 4));
/// ```
pub trait Wait<S> {
    /// Called after the `attempt`-th `WouldBlock` in a row during `op`.
    /// `true`: try again; `false`: give up.
    fn wait(&mut self, stack: &mut S, op: Op, attempt: u32) -> bool;
}

impl<S, F> Wait<S> for F
where
    F: FnMut(&mut S, Op, u32) -> bool,
{
    fn wait(&mut self, stack: &mut S, op: Op, attempt: u32) -> bool {
        self(stack, op, attempt)
    }
}

/// Busy retry: up to `max_retries` retries after `WouldBlock` per call to
/// `read`, `write` or `connect`, with a [`core::hint::spin_loop`] between
/// tries. How long that takes depends on the CPU and the stack; use a
/// closure [`Wait`] for a deadline.
///
/// ```
/// use linewire::nal::{Op, Spin, Wait};
///
/// let mut spin = Spin::new(2);
/// assert!(spin.wait(&mut (), Op::Send, 1));
/// assert!(spin.wait(&mut (), Op::Send, 2));
/// assert!(!spin.wait(&mut (), Op::Send, 3));
/// assert_eq!(spin.max_retries(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Spin {
    max_retries: u32,
}

impl Spin {
    /// Retries up to `max_retries` times in a row (`0`: give up at the first
    /// `WouldBlock`).
    ///
    /// ```
    /// use linewire::nal::Spin;
    ///
    /// assert_eq!(Spin::new(5).max_retries(), 5);
    /// ```
    pub const fn new(max_retries: u32) -> Self {
        Self { max_retries }
    }

    /// The retry bound.
    ///
    /// ```
    /// use linewire::nal::Spin;
    ///
    /// assert_eq!(Spin::new(0).max_retries(), 0);
    /// ```
    pub const fn max_retries(&self) -> u32 {
        self.max_retries
    }
}

impl<S> Wait<S> for Spin {
    fn wait(&mut self, _stack: &mut S, _op: Op, attempt: u32) -> bool {
        core::hint::spin_loop();
        attempt <= self.max_retries
    }
}

/// What `receive` returning `Ok(0)` means for this stack (see the
/// [module documentation](self)).
///
/// ```
/// use linewire::nal::ZeroRead;
///
/// assert_eq!(ZeroRead::default(), ZeroRead::EndOfStream);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ZeroRead {
    /// The peer closed the connection (`std::net` semantics,
    /// `std-embedded-nal`).
    #[default]
    EndOfStream,
    /// Nothing has arrived yet: treated like `WouldBlock` (`smoltcp`-based
    /// stacks, which report the end as [`TcpErrorKind::PipeClosed`]).
    NoData,
}

/// An error of the adapter; `E` is the stack's error (or, in
/// [`NalStream::last_error`], its [`TcpErrorKind`]).
///
/// Every error closes the connection; the next write opens a new one.
///
/// ```
/// use embedded_nal::TcpErrorKind;
/// use linewire::nal::Error;
///
/// let e: Error<TcpErrorKind> = Error::Connect(TcpErrorKind::Other);
/// assert_eq!(e.to_string(), "connecting failed: Other");
/// assert_eq!(embedded_io::Error::kind(&e), embedded_io::ErrorKind::ConnectionRefused);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error<E> {
    /// The stack could not open a socket (none free?).
    Socket(E),
    /// Connecting failed (refused, unreachable, ...).
    Connect(E),
    /// Sending failed.
    Send(E),
    /// Receiving failed.
    Receive(E),
    /// Closing the socket failed ([`NalStream::close`]).
    Close(E),
    /// The peer closed the connection while a request was being sent.
    PeerClosed,
    /// The stack kept answering `WouldBlock` and the [`Wait`] gave up.
    Stalled(Op),
    /// A read without a connection (a request must be written first).
    NotConnected,
}

impl<E> Error<E> {
    /// Converts the stack's error, e.g. to its [`TcpErrorKind`].
    ///
    /// ```
    /// use embedded_nal::TcpErrorKind;
    /// use linewire::nal::Error;
    ///
    /// let e: Error<&str> = Error::Send("reset");
    /// assert_eq!(e.map(|_| TcpErrorKind::Other), Error::Send(TcpErrorKind::Other));
    /// ```
    pub fn map<F>(self, f: impl FnOnce(E) -> F) -> Error<F> {
        match self {
            Self::Socket(e) => Error::Socket(f(e)),
            Self::Connect(e) => Error::Connect(f(e)),
            Self::Send(e) => Error::Send(f(e)),
            Self::Receive(e) => Error::Receive(f(e)),
            Self::Close(e) => Error::Close(f(e)),
            Self::PeerClosed => Error::PeerClosed,
            Self::Stalled(op) => Error::Stalled(op),
            Self::NotConnected => Error::NotConnected,
        }
    }

    /// The stack's error, for the variants that carry one.
    ///
    /// ```
    /// use linewire::nal::Error;
    ///
    /// assert_eq!(Error::Receive(7).stack_error(), Some(&7));
    /// assert_eq!(Error::<i32>::PeerClosed.stack_error(), None);
    /// ```
    pub fn stack_error(&self) -> Option<&E> {
        match self {
            Self::Socket(e)
            | Self::Connect(e)
            | Self::Send(e)
            | Self::Receive(e)
            | Self::Close(e) => Some(e),
            Self::PeerClosed | Self::Stalled(_) | Self::NotConnected => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Socket(e) => write!(f, "opening a socket failed: {e:?}"),
            Self::Connect(e) => write!(f, "connecting failed: {e:?}"),
            Self::Send(e) => write!(f, "sending failed: {e:?}"),
            Self::Receive(e) => write!(f, "receiving failed: {e:?}"),
            Self::Close(e) => write!(f, "closing the socket failed: {e:?}"),
            Self::PeerClosed => f.write_str("the peer closed the connection"),
            Self::Stalled(op) => write!(
                f,
                "the stack made no progress {} (gave up waiting)",
                op.as_str()
            ),
            Self::NotConnected => f.write_str("not connected"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for Error<E> {}

impl<E: fmt::Debug> embedded_io::Error for Error<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        use embedded_io::ErrorKind as K;
        match self {
            Self::Socket(_) | Self::Send(_) | Self::Close(_) => K::Other,
            Self::Connect(_) => K::ConnectionRefused,
            Self::Receive(_) => K::ConnectionReset,
            Self::PeerClosed => K::BrokenPipe,
            Self::Stalled(_) => K::TimedOut,
            Self::NotConnected => K::NotConnected,
        }
    }
}

#[cfg(feature = "defmt")]
impl<E: fmt::Debug> defmt::Format for Error<E> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Self::Socket(e) => defmt::write!(f, "Socket({})", defmt::Debug2Format(e)),
            Self::Connect(e) => defmt::write!(f, "Connect({})", defmt::Debug2Format(e)),
            Self::Send(e) => defmt::write!(f, "Send({})", defmt::Debug2Format(e)),
            Self::Receive(e) => defmt::write!(f, "Receive({})", defmt::Debug2Format(e)),
            Self::Close(e) => defmt::write!(f, "Close({})", defmt::Debug2Format(e)),
            Self::PeerClosed => defmt::write!(f, "PeerClosed"),
            Self::Stalled(op) => defmt::write!(f, "Stalled({})", op),
            Self::NotConnected => defmt::write!(f, "NotConnected"),
        }
    }
}

/// A connection to one server over an `embedded-nal` stack, as an
/// [`embedded_io`] `Read + Write` stream.
///
/// - **Connects lazily**: the first write (after construction, [`close`],
///   an error, or the peer closing) opens a socket and connects it.
/// - **Writes** return how many bytes the stack took (partial sends are
///   partial writes, never `Ok(0)` for a non-empty buffer); `flush` does
///   nothing (the stack sends on its own).
/// - **Reads** return `Ok(0)` at the end of the stream (peer closed).
/// - **Errors** close the socket: the request must be sent again from its
///   first byte, on the new connection the next write opens. Writes are
///   idempotent, so resending a batch is safe.
///
/// The socket is closed when the stream is dropped. Pass `&mut stack` as
/// `S` to keep the stack for other sockets.
///
/// [`close`]: NalStream::close
///
/// ```
/// use core::net::{Ipv4Addr, SocketAddr};
/// use embedded_io::{Read, Write};
/// use linewire::nal::{NalStream, Spin};
/// # use linewire_testkit::nal::ScriptStack;
///
/// // A stack that takes one byte per send and answers WouldBlock in between.
/// let stack = ScriptStack::new(b"pong").one_byte_at_a_time();
/// let mut conn = NalStream::new(stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 7), Spin::new(3));
/// conn.write_all(b"ping")?;
/// let mut buf = [0u8; 8];
/// let n = conn.read(&mut buf)?;
/// assert_eq!(&buf[..n], b"p");
/// assert_eq!(conn.stack().sent(), b"ping");
/// # Ok::<(), linewire::nal::Error<linewire_testkit::nal::ScriptError>>(())
/// ```
pub struct NalStream<S: TcpClientStack, W = Spin> {
    stack: S,
    remote: SocketAddr,
    wait: W,
    socket: Option<S::TcpSocket>,
    eof: bool,
    zero_read: ZeroRead,
    connects: u32,
    last_error: Option<Error<TcpErrorKind>>,
}

impl<S: TcpClientStack, W> fmt::Debug for NalStream<S, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NalStream")
            .field("remote", &self.remote)
            .field("connected", &self.socket.is_some())
            .field("eof", &self.eof)
            .field("zero_read", &self.zero_read)
            .field("connects", &self.connects)
            .field("last_error", &self.last_error)
            .finish()
    }
}

impl<S: TcpClientStack, W: Wait<S>> NalStream<S, W> {
    /// A stream to `remote` over `stack`, waiting with `wait` on
    /// `WouldBlock`. Nothing is opened until the first write or
    /// [`connect`](Self::connect).
    ///
    /// ```
    /// use core::net::{Ipv4Addr, SocketAddr};
    /// use linewire::nal::{NalStream, Op, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// # let stack = ScriptStack::new(b"");
    /// let addr = SocketAddr::new(Ipv4Addr::new(10, 0, 0, 2).into(), 8086);
    /// let conn = NalStream::new(stack, addr, Spin::new(1000));
    /// assert!(!conn.is_connected());
    /// # let stack = ScriptStack::new(b"");
    /// // A closure can drive the stack and keep its own deadline.
    /// let mut polls = 0u32;
    /// let conn = NalStream::new(stack, addr, move |_s: &mut ScriptStack<'_>, _op: Op, _n: u32| {
    ///     polls += 1;
    ///     polls < 50
    /// });
    /// assert_eq!(conn.remote(), addr);
    /// ```
    pub fn new(stack: S, remote: SocketAddr, wait: W) -> Self {
        Self {
            stack,
            remote,
            wait,
            socket: None,
            eof: false,
            zero_read: ZeroRead::EndOfStream,
            connects: 0,
            last_error: None,
        }
    }

    /// Sets what `receive` returning `Ok(0)` means (default:
    /// [`ZeroRead::EndOfStream`]).
    ///
    /// ```
    /// use core::net::{Ipv4Addr, SocketAddr};
    /// use linewire::nal::{NalStream, Spin, ZeroRead};
    /// # use linewire_testkit::nal::ScriptStack;
    /// # let stack = ScriptStack::new(b"");
    /// let conn = NalStream::new(stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086), Spin::new(10))
    ///     .zero_read(ZeroRead::NoData);
    /// # let _ = conn;
    /// ```
    pub fn zero_read(mut self, meaning: ZeroRead) -> Self {
        self.zero_read = meaning;
        self
    }

    /// The server address.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086);
    /// let conn = NalStream::new(ScriptStack::new(b""), addr, Spin::new(10));
    /// assert_eq!(conn.remote(), addr);
    /// ```
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// Changes the server address; closes the current connection if it
    /// was to another address.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let a = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086);
    /// let mut conn = NalStream::new(ScriptStack::new(b""), a, Spin::new(10));
    /// conn.connect()?;
    /// conn.set_remote(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8087));
    /// assert!(!conn.is_connected());
    /// # Ok::<(), linewire::nal::Error<linewire_testkit::nal::ScriptError>>(())
    /// ```
    pub fn set_remote(&mut self, remote: SocketAddr) {
        if remote != self.remote {
            self.close_quietly();
            self.remote = remote;
        }
    }

    /// `true` while a socket is open and connected.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let mut conn = NalStream::new(ScriptStack::new(b""), SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), Spin::new(10));
    /// assert!(!conn.is_connected());
    /// conn.connect()?;
    /// assert!(conn.is_connected());
    /// # Ok::<(), linewire::nal::Error<linewire_testkit::nal::ScriptError>>(())
    /// ```
    pub fn is_connected(&self) -> bool {
        self.socket.is_some()
    }

    /// How many connections were established so far (saturating): `1`
    /// after many batches means keep-alive worked.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let mut conn = NalStream::new(ScriptStack::new(b""), SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), Spin::new(10));
    /// conn.connect()?;
    /// conn.connect()?; // already connected: no-op
    /// assert_eq!(conn.connects(), 1);
    /// # Ok::<(), linewire::nal::Error<linewire_testkit::nal::ScriptError>>(())
    /// ```
    pub fn connects(&self) -> u32 {
        self.connects
    }

    /// The first error of the last request, with the stack's error reduced
    /// to its [`TcpErrorKind`]; cleared at the start of each
    /// [`write_batch`](Self::write_batch) and of each new connection. Useful after a
    /// [`WriteError::Transport`], which carries only an
    /// [`embedded_io::ErrorKind`].
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// use embedded_nal::TcpErrorKind;
    /// use linewire::http::{Target, TransportError, WriteError};
    /// use linewire::nal::{Error, NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let stack = ScriptStack::new(b"").refuse_connections();
    /// let mut conn = NalStream::new(stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), Spin::new(10));
    /// let target = Target::v2("h", "b", "t")?;
    /// let err = conn.write_batch(&target, b"m v=1\n", &mut [0u8; 256]).unwrap_err();
    /// assert_eq!(err, WriteError::Transport(TransportError::Write(embedded_io::ErrorKind::ConnectionRefused)));
    /// assert_eq!(conn.last_error(), Some(Error::Connect(TcpErrorKind::Other)));
    /// # Ok::<(), linewire::http::ConfigError>(())
    /// ```
    pub fn last_error(&self) -> Option<Error<TcpErrorKind>> {
        self.last_error
    }

    /// The stack.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let conn = NalStream::new(ScriptStack::new(b""), SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), Spin::new(10));
    /// assert!(conn.stack().sent().is_empty());
    /// ```
    pub fn stack(&self) -> &S {
        &self.stack
    }

    /// The stack, mutably (e.g. to poll it). Do not close this stream's
    /// socket through it.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let mut conn = NalStream::new(ScriptStack::new(b""), SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), Spin::new(10));
    /// let _stack: &mut ScriptStack<'_> = conn.stack_mut();
    /// ```
    pub fn stack_mut(&mut self) -> &mut S {
        &mut self.stack
    }

    /// Opens and connects a socket if none is open. Writes do this on
    /// their own; call it to connect ahead of the first batch.
    ///
    /// # Errors
    ///
    /// [`Error::Socket`], [`Error::Connect`], or [`Error::Stalled`] when
    /// the [`Wait`] gave up; no socket is left open.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal::{Error, NalStream, Op, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let mut conn = NalStream::new(ScriptStack::new(b""), SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), Spin::new(10));
    /// conn.connect()?;
    /// assert!(conn.is_connected());
    ///
    /// // A connect that never completes, and a Wait that gives up at once.
    /// let stack = ScriptStack::new(b"").connect_never_completes();
    /// let mut conn = NalStream::new(stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), Spin::new(0));
    /// assert!(matches!(conn.connect(), Err(Error::Stalled(Op::Connect))));
    /// assert!(!conn.is_connected());
    /// # Ok::<(), linewire::nal::Error<linewire_testkit::nal::ScriptError>>(())
    /// ```
    pub fn connect(&mut self) -> Result<(), Error<S::Error>> {
        if self.socket.is_some() {
            return Ok(());
        }
        self.eof = false;
        self.last_error = None;
        let mut socket = match self.stack.socket() {
            Ok(s) => s,
            Err(e) => return Err(self.record(Error::Socket(e))),
        };
        let mut attempt = 0u32;
        loop {
            match self.stack.connect(&mut socket, self.remote) {
                Ok(()) => break,
                Err(nb::Error::WouldBlock) => {
                    attempt = attempt.saturating_add(1);
                    if !self.wait.wait(&mut self.stack, Op::Connect, attempt) {
                        let _ = self.stack.close(socket);
                        return Err(self.record(Error::Stalled(Op::Connect)));
                    }
                }
                Err(nb::Error::Other(e)) => {
                    let _ = self.stack.close(socket);
                    return Err(self.record(Error::Connect(e)));
                }
            }
        }
        self.socket = Some(socket);
        self.connects = self.connects.saturating_add(1);
        Ok(())
    }

    /// Closes the connection, if one is open. The next write opens a new
    /// one.
    ///
    /// # Errors
    ///
    /// [`Error::Close`] when the stack failed to close the socket (it is
    /// forgotten all the same).
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// # use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let mut conn = NalStream::new(ScriptStack::new(b""), SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 1), Spin::new(10));
    /// conn.connect()?;
    /// conn.close()?;
    /// assert!(!conn.is_connected());
    /// assert_eq!(conn.stack().open_sockets(), 0);
    /// # Ok::<(), linewire::nal::Error<linewire_testkit::nal::ScriptError>>(())
    /// ```
    pub fn close(&mut self) -> Result<(), Error<S::Error>> {
        self.eof = false;
        match self.socket.take() {
            Some(s) => self.stack.close(s).map_err(Error::Close),
            None => Ok(()),
        }
    }

    /// Sends `body` with [`http::write_batch`]
    /// and manages the connection: connects if needed, keeps the
    /// connection when the reply says it is reusable, closes it otherwise
    /// and after any error but a configuration error (nothing was sent).
    ///
    /// # Errors
    ///
    /// As [`http::write_batch`]; a failed
    /// connect is a [`WriteError::Transport`] and the details are in
    /// [`last_error`](Self::last_error). Resend the batch after a transport,
    /// peer or resource error: the next call reconnects.
    ///
    /// # A kept-alive connection the server closed
    ///
    /// A server may close the kept connection while it is idle; the next
    /// request on it then fails before any response byte (typically
    /// [`TransportError::ClosedBeforeResponse`](http::TransportError::ClosedBeforeResponse)).
    /// This call does not resend by itself: it closes the socket, and the
    /// next call opens a new connection. [`Writer`](crate::Writer), over
    /// this stream, resends such a request once and at once (see
    /// [`Writer::poll`](crate::Writer::poll)), so the two together make
    /// exactly one immediate retry; a caller of this method alone resends
    /// at once itself when it wants the same.
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// use linewire::http::{Outcome, Target};
    /// use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let stack = ScriptStack::new(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    /// let mut conn = NalStream::new(stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086), Spin::new(100));
    /// let target = Target::v2("localhost", "b", "t")?.port(8086);
    /// let mut buf = [0u8; 256];
    /// assert_eq!(conn.write_batch(&target, b"m v=1\n", &mut buf)?.outcome, Outcome::Written);
    /// assert!(!conn.is_connected()); // the server said Connection: close
    /// assert_eq!(conn.write_batch(&target, b"m v=2\n", &mut buf)?.outcome, Outcome::Written);
    /// assert_eq!(conn.connects(), 2);
    /// # Ok::<(), linewire::http::WriteError>(())
    /// ```
    pub fn write_batch<'p, 'b, P>(
        &mut self,
        target: &Target<'_>,
        body: P,
        buf: &'b mut [u8],
    ) -> Result<Reply<'b>, WriteError>
    where
        P: Into<Payload<'p>>,
    {
        self.write_payload(target, &body.into(), buf, ReadLimits::default())
    }

    /// [`write_batch`](Self::write_batch) with a [`Payload`] and
    /// [`ReadLimits`], as [`http::write_payload`].
    ///
    /// # Errors
    ///
    /// As [`write_batch`](Self::write_batch).
    ///
    /// ```
    /// # use core::net::{Ipv4Addr, SocketAddr};
    /// use linewire::http::{Outcome, Payload, ReadLimits, Target};
    /// use linewire::nal::{NalStream, Spin};
    /// # use linewire_testkit::nal::ScriptStack;
    /// let stack = ScriptStack::new(b"HTTP/1.1 204 No Content\r\n\r\n");
    /// let mut conn = NalStream::new(stack, SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 8086), Spin::new(100));
    /// let target = Target::v2("localhost", "b", "t")?;
    /// let mut buf = [0u8; 256];
    /// let reply = conn.write_payload(&target, &Payload::new(b"m v=1\n"), &mut buf, ReadLimits::new(4096))?;
    /// assert_eq!(reply.outcome, Outcome::Written);
    /// assert!(conn.is_connected());
    /// # Ok::<(), linewire::http::WriteError>(())
    /// ```
    pub fn write_payload<'b>(
        &mut self,
        target: &Target<'_>,
        payload: &Payload<'_>,
        buf: &'b mut [u8],
        limits: ReadLimits,
    ) -> Result<Reply<'b>, WriteError> {
        self.last_error = None;
        if self.eof {
            // The peer closed after the previous response: start afresh.
            self.close_quietly();
        }
        match http::write_payload(self, target, payload, buf, limits) {
            Ok(reply) => {
                if !reply.reusable {
                    self.close_quietly();
                }
                Ok(reply)
            }
            Err(e @ WriteError::Config(_)) => Err(e),
            Err(e) => {
                self.close_quietly();
                Err(e)
            }
        }
    }

    fn close_quietly(&mut self) {
        let _ = self.close();
    }

    /// Records `err` (reduced to kinds), closes the socket, returns `err`.
    fn fail(&mut self, err: Error<S::Error>) -> Error<S::Error> {
        self.close_quietly();
        self.record(err)
    }

    /// Keeps the first error of a request: after a failed send the
    /// transaction still tries to read an early answer, and that read's
    /// own failure (often `NotConnected`) must not hide the cause.
    fn record(&mut self, err: Error<S::Error>) -> Error<S::Error> {
        if self.last_error.is_some() {
            return err;
        }
        self.last_error = Some(match &err {
            Error::Socket(e) => Error::Socket(e.kind()),
            Error::Connect(e) => Error::Connect(e.kind()),
            Error::Send(e) => Error::Send(e.kind()),
            Error::Receive(e) => Error::Receive(e.kind()),
            Error::Close(e) => Error::Close(e.kind()),
            Error::PeerClosed => Error::PeerClosed,
            Error::Stalled(op) => Error::Stalled(*op),
            Error::NotConnected => Error::NotConnected,
        });
        err
    }
}

impl<S: TcpClientStack, W> Drop for NalStream<S, W> {
    fn drop(&mut self) {
        if let Some(s) = self.socket.take() {
            let _ = self.stack.close(s);
        }
    }
}

impl<S: TcpClientStack, W> embedded_io::ErrorType for NalStream<S, W> {
    type Error = Error<S::Error>;
}

impl<S: TcpClientStack, W: Wait<S>> embedded_io::Write for NalStream<S, W> {
    /// Sends what the stack takes of `buf` (at least one byte), connecting
    /// first if needed. A write after the peer closed opens a new
    /// connection.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.eof {
            self.close_quietly();
        }
        self.connect()?;
        let mut attempt = 0u32;
        loop {
            let Some(socket) = self.socket.as_mut() else {
                return Err(self.fail(Error::NotConnected));
            };
            match self.stack.send(socket, buf) {
                Ok(n) if n > 0 => return Ok(n.min(buf.len())),
                Ok(_) | Err(nb::Error::WouldBlock) => {
                    attempt = attempt.saturating_add(1);
                    if !self.wait.wait(&mut self.stack, Op::Send, attempt) {
                        return Err(self.fail(Error::Stalled(Op::Send)));
                    }
                }
                Err(nb::Error::Other(e)) => {
                    let err = if e.kind() == TcpErrorKind::PipeClosed {
                        Error::PeerClosed
                    } else {
                        Error::Send(e)
                    };
                    // Kept open: a server that refused the body (413, then
                    // close) has often answered already, and the write
                    // transaction reads that answer next. `Self::write_payload`
                    // closes the socket after it (such an answer is never
                    // reusable); a caller of the bare `http::write_batch`
                    // closes it, as after any reply that is not reusable.
                    return Err(self.record(err));
                }
            }
        }
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl<S: TcpClientStack, W: Wait<S>> embedded_io::Read for NalStream<S, W> {
    /// Receives into `buf`; `Ok(0)` once the peer closed.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        if buf.is_empty() || self.eof {
            return Ok(0);
        }
        let mut attempt = 0u32;
        loop {
            let Some(socket) = self.socket.as_mut() else {
                return Err(self.record(Error::NotConnected));
            };
            match self.stack.receive(socket, buf) {
                Ok(0) if self.zero_read == ZeroRead::EndOfStream => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) if n > 0 => return Ok(n.min(buf.len())),
                Ok(_) | Err(nb::Error::WouldBlock) => {
                    attempt = attempt.saturating_add(1);
                    if !self.wait.wait(&mut self.stack, Op::Receive, attempt) {
                        return Err(self.fail(Error::Stalled(Op::Receive)));
                    }
                }
                Err(nb::Error::Other(e)) if e.kind() == TcpErrorKind::PipeClosed => {
                    self.eof = true;
                    return Ok(0);
                }
                Err(nb::Error::Other(e)) => return Err(self.fail(Error::Receive(e))),
            }
        }
    }
}
