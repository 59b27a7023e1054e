//! A scripted in-memory [`embedded_nal::TcpClientStack`] (feature
//! `embedded-nal`): code that drives a blocking `embedded-nal` stack, such
//! as `linewire::nal::NalStream`, runs against it on the host without a
//! network. The peer answers a fixed reply to every request; the stack
//! records what was sent and how many sockets are open, and can refuse,
//! stall or trickle.
//!
//! ```
//! use embedded_nal::TcpClientStack;
//! use linewire_testkit::nal::ScriptStack;
//!
//! let mut stack = ScriptStack::new(b"HTTP/1.1 204 No Content\r\n\r\n");
//! let mut socket = stack.socket()?;
//! stack.connect(&mut socket, "127.0.0.1:8086".parse().unwrap())?;
//! stack.send(&mut socket, b"POST /api/v2/write HTTP/1.1\r\n\r\n")?;
//! let mut buf = [0u8; 64];
//! let n = stack.receive(&mut socket, &mut buf)?;
//! assert!(buf[..n].starts_with(b"HTTP/1.1 204"));
//! assert!(stack.sent().starts_with(b"POST"));
//! # Ok::<(), embedded_nal::nb::Error<linewire_testkit::nal::ScriptError>>(())
//! ```

use core::net::SocketAddr;
use embedded_nal::{nb, TcpClientStack, TcpError, TcpErrorKind};

/// The scripted stack's error: `ScriptError(true)` is a closed pipe
/// ([`TcpErrorKind::PipeClosed`]), `ScriptError(false)` any other failure
/// (a refused connection).
///
/// ```
/// use embedded_nal::{TcpError, TcpErrorKind};
/// use linewire_testkit::nal::ScriptError;
///
/// assert_eq!(ScriptError(true).kind(), TcpErrorKind::PipeClosed);
/// assert_eq!(ScriptError(false).kind(), TcpErrorKind::Other);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScriptError(pub bool);

impl TcpError for ScriptError {
    fn kind(&self) -> TcpErrorKind {
        if self.0 {
            TcpErrorKind::PipeClosed
        } else {
            TcpErrorKind::Other
        }
    }
}

/// Replays `reply` after every request; records what is sent.
///
/// Each connect, and each send after (part of) the reply was read, starts
/// the reply again from its first byte.
///
/// ```
/// use embedded_nal::TcpClientStack;
/// use linewire_testkit::nal::ScriptStack;
///
/// let mut stack = ScriptStack::new(b"HTTP/1.1 204 No Content\r\n\r\n");
/// let socket = stack.socket()?;
/// assert_eq!(stack.open_sockets(), 1);
/// stack.close(socket)?;
/// assert_eq!(stack.open_sockets(), 0);
/// # Ok::<(), linewire_testkit::nal::ScriptError>(())
/// ```
#[derive(Debug)]
pub struct ScriptStack<'a> {
    reply: &'a [u8],
    pos: usize,
    one_byte: bool,
    blocked: bool,
    refuse: bool,
    never_connect: bool,
    open: usize,
    sent: Vec<u8>,
}

impl<'a> ScriptStack<'a> {
    /// A stack whose peer answers `reply` to each request.
    ///
    /// ```
    /// let stack = linewire_testkit::nal::ScriptStack::new(b"HTTP/1.1 204 No Content\r\n\r\n");
    /// assert!(stack.sent().is_empty());
    /// ```
    pub fn new(reply: &'a [u8]) -> Self {
        Self {
            reply,
            pos: 0,
            one_byte: false,
            blocked: false,
            refuse: false,
            never_connect: false,
            open: 0,
            sent: Vec::new(),
        }
    }

    /// One byte per send and receive, `WouldBlock` before each.
    ///
    /// ```
    /// use embedded_nal::{nb, TcpClientStack};
    /// use linewire_testkit::nal::ScriptStack;
    ///
    /// let mut stack = ScriptStack::new(b"HTTP/1.1 204 No Content\r\n\r\n").one_byte_at_a_time();
    /// let mut socket = stack.socket()?;
    /// assert_eq!(stack.send(&mut socket, b"POST"), Err(nb::Error::WouldBlock));
    /// assert_eq!(stack.send(&mut socket, b"POST"), Ok(1));
    /// # Ok::<(), linewire_testkit::nal::ScriptError>(())
    /// ```
    pub fn one_byte_at_a_time(mut self) -> Self {
        self.one_byte = true;
        self
    }

    /// Every connect fails with `ScriptError(false)`.
    ///
    /// ```
    /// use embedded_nal::{nb, TcpClientStack};
    /// use linewire_testkit::nal::{ScriptError, ScriptStack};
    ///
    /// let mut stack = ScriptStack::new(b"").refuse_connections();
    /// let mut socket = stack.socket()?;
    /// let to = "127.0.0.1:8086".parse().unwrap();
    /// assert_eq!(stack.connect(&mut socket, to), Err(nb::Error::Other(ScriptError(false))));
    /// # Ok::<(), ScriptError>(())
    /// ```
    pub fn refuse_connections(mut self) -> Self {
        self.refuse = true;
        self
    }

    /// Every connect answers `WouldBlock`.
    ///
    /// ```
    /// use embedded_nal::{nb, TcpClientStack};
    /// use linewire_testkit::nal::ScriptStack;
    ///
    /// let mut stack = ScriptStack::new(b"").connect_never_completes();
    /// let mut socket = stack.socket()?;
    /// let to = "127.0.0.1:8086".parse().unwrap();
    /// assert_eq!(stack.connect(&mut socket, to), Err(nb::Error::WouldBlock));
    /// # Ok::<(), linewire_testkit::nal::ScriptError>(())
    /// ```
    pub fn connect_never_completes(mut self) -> Self {
        self.never_connect = true;
        self
    }

    /// The bytes sent so far, over every connection.
    ///
    /// ```
    /// use embedded_nal::TcpClientStack;
    /// use linewire_testkit::nal::ScriptStack;
    ///
    /// let mut stack = ScriptStack::new(b"");
    /// let mut socket = stack.socket()?;
    /// stack.send(&mut socket, b"GET /ping HTTP/1.1\r\n\r\n")?;
    /// assert_eq!(stack.sent(), b"GET /ping HTTP/1.1\r\n\r\n");
    /// # Ok::<(), embedded_nal::nb::Error<linewire_testkit::nal::ScriptError>>(())
    /// ```
    pub fn sent(&self) -> &[u8] {
        &self.sent
    }

    /// Sockets opened and not closed.
    ///
    /// ```
    /// let stack = linewire_testkit::nal::ScriptStack::new(b"");
    /// assert_eq!(stack.open_sockets(), 0);
    /// ```
    pub fn open_sockets(&self) -> usize {
        self.open
    }

    fn chunk(&mut self, len: usize) -> nb::Result<usize, ScriptError> {
        if self.one_byte {
            self.blocked = !self.blocked;
            if self.blocked {
                return Err(nb::Error::WouldBlock);
            }
            return Ok(len.min(1));
        }
        Ok(len)
    }
}

impl TcpClientStack for ScriptStack<'_> {
    type TcpSocket = ();
    type Error = ScriptError;

    fn socket(&mut self) -> Result<(), ScriptError> {
        self.open = self.open.saturating_add(1);
        Ok(())
    }

    fn connect(&mut self, _: &mut (), _: SocketAddr) -> nb::Result<(), ScriptError> {
        if self.refuse {
            return Err(nb::Error::Other(ScriptError(false)));
        }
        if self.never_connect {
            return Err(nb::Error::WouldBlock);
        }
        self.pos = 0;
        Ok(())
    }

    fn send(&mut self, _: &mut (), buf: &[u8]) -> nb::Result<usize, ScriptError> {
        let n = self.chunk(buf.len())?;
        // A send after reading (part of) the reply starts a new exchange.
        self.pos = 0;
        self.sent.extend(buf.iter().take(n));
        Ok(n)
    }

    fn receive(&mut self, _: &mut (), buf: &mut [u8]) -> nb::Result<usize, ScriptError> {
        let rest = self.reply.get(self.pos..).unwrap_or(&[]);
        let n = self.chunk(buf.len().min(rest.len()))?;
        for (d, s) in buf.iter_mut().zip(rest.iter()).take(n) {
            *d = *s;
        }
        self.pos = self.pos.saturating_add(n);
        Ok(n)
    }

    fn close(&mut self, _: ()) -> Result<(), ScriptError> {
        self.open = self.open.saturating_sub(1);
        Ok(())
    }
}
