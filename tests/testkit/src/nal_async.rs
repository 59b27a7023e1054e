//! A scripted in-memory [`embedded_nal_async::TcpConnect`] (feature
//! `embedded-nal-async`): code that connects through an async
//! `embedded-nal-async` stack, such as `linewire::nal_async::NalAsyncStream`,
//! runs against it on the host without a network. Every connection's peer
//! answers a fixed reply to every request.
//!
//! ```
//! use embedded_io_async::{Read, Write};
//! use embedded_nal_async::TcpConnect;
//! use linewire_testkit::nal_async::ScriptConnect;
//!
//! let stack = ScriptConnect::new(b"HTTP/1.1 204 No Content\r\n\r\n");
//! embassy_futures::block_on(async {
//!     let mut conn = stack.connect("127.0.0.1:8086".parse().unwrap()).await?;
//!     conn.write_all(b"POST /api/v2/write HTTP/1.1\r\n\r\n").await?;
//!     let mut buf = [0u8; 64];
//!     let n = conn.read(&mut buf).await?;
//!     assert!(buf[..n].starts_with(b"HTTP/1.1 204"));
//!     Ok::<(), embedded_io_async::ErrorKind>(())
//! })?;
//! assert_eq!(stack.connects(), 1);
//! # Ok::<(), embedded_io_async::ErrorKind>(())
//! ```

use core::cell::Cell;
use core::net::SocketAddr;

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::TcpConnect;

/// Replays `reply` after every request on each connection.
///
/// ```
/// use embedded_nal_async::TcpConnect;
/// use linewire_testkit::nal_async::ScriptConnect;
///
/// let stack = ScriptConnect::new(b"HTTP/1.1 204 No Content\r\n\r\n");
/// let conn = embassy_futures::block_on(stack.connect("127.0.0.1:8086".parse().unwrap()))?;
/// assert_eq!(conn.reply(), b"HTTP/1.1 204 No Content\r\n\r\n");
/// # Ok::<(), embedded_io_async::ErrorKind>(())
/// ```
#[derive(Debug)]
pub struct ScriptConnect<'r> {
    reply: &'r [u8],
    refuse: bool,
    connects: Cell<u32>,
}

impl<'r> ScriptConnect<'r> {
    /// A stack whose peer answers `reply` to each request.
    ///
    /// ```
    /// let stack = linewire_testkit::nal_async::ScriptConnect::new(b"HTTP/1.1 204 No Content\r\n\r\n");
    /// assert_eq!(stack.connects(), 0);
    /// ```
    pub fn new(reply: &'r [u8]) -> Self {
        Self {
            reply,
            refuse: false,
            connects: Cell::new(0),
        }
    }

    /// Every connect is refused ([`ErrorKind::ConnectionRefused`]).
    ///
    /// ```
    /// use embedded_io_async::ErrorKind;
    /// use embedded_nal_async::TcpConnect;
    /// use linewire_testkit::nal_async::ScriptConnect;
    ///
    /// let stack = ScriptConnect::new(b"").refuse_connections();
    /// let conn = embassy_futures::block_on(stack.connect("127.0.0.1:8086".parse().unwrap()));
    /// assert_eq!(conn.err(), Some(ErrorKind::ConnectionRefused));
    /// assert_eq!(stack.connects(), 0);
    /// ```
    pub fn refuse_connections(mut self) -> Self {
        self.refuse = true;
        self
    }

    /// Connections opened so far.
    ///
    /// ```
    /// use embedded_nal_async::TcpConnect;
    /// use linewire_testkit::nal_async::ScriptConnect;
    ///
    /// let stack = ScriptConnect::new(b"");
    /// let to = "127.0.0.1:8086".parse().unwrap();
    /// embassy_futures::block_on(async {
    ///     stack.connect(to).await?;
    ///     stack.connect(to).await?;
    ///     Ok::<(), embedded_io_async::ErrorKind>(())
    /// })?;
    /// assert_eq!(stack.connects(), 2);
    /// # Ok::<(), embedded_io_async::ErrorKind>(())
    /// ```
    pub fn connects(&self) -> u32 {
        self.connects.get()
    }
}

/// A scripted connection: reads give the reply, writes are accepted whole.
///
/// ```
/// use embedded_io_async::{Read, Write};
/// use linewire_testkit::nal_async::ScriptConn;
///
/// let mut conn = ScriptConn::new(b"HTTP/1.1 204 No Content\r\n\r\n");
/// let mut buf = [0u8; 8];
/// embassy_futures::block_on(async {
///     assert_eq!(conn.read(&mut buf).await?, 8);
///     // A request after (part of) the reply starts it again.
///     conn.write_all(b"POST").await?;
///     assert_eq!(conn.read(&mut buf).await?, 8);
///     Ok::<(), embedded_io_async::ErrorKind>(())
/// })?;
/// assert_eq!(&buf, b"HTTP/1.1");
/// # Ok::<(), embedded_io_async::ErrorKind>(())
/// ```
#[derive(Debug)]
pub struct ScriptConn<'r> {
    reply: &'r [u8],
    pos: usize,
}

impl<'r> ScriptConn<'r> {
    /// A connection whose peer answers `reply`.
    ///
    /// ```
    /// let conn = linewire_testkit::nal_async::ScriptConn::new(b"HTTP/1.1 204 No Content\r\n\r\n");
    /// assert!(conn.reply().starts_with(b"HTTP/1.1 204"));
    /// ```
    pub fn new(reply: &'r [u8]) -> Self {
        Self { reply, pos: 0 }
    }

    /// The scripted reply.
    ///
    /// ```
    /// let conn = linewire_testkit::nal_async::ScriptConn::new(b"HTTP/1.1 204 No Content\r\n\r\n");
    /// assert_eq!(conn.reply().len(), 27);
    /// ```
    pub fn reply(&self) -> &'r [u8] {
        self.reply
    }
}

impl ErrorType for ScriptConn<'_> {
    type Error = ErrorKind;
}

impl Read for ScriptConn<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let rest = self.reply.get(self.pos..).unwrap_or_default();
        let n = rest.len().min(buf.len());
        for (d, s) in buf.iter_mut().zip(rest) {
            *d = *s;
        }
        self.pos = self.pos.saturating_add(n);
        Ok(n)
    }
}

impl Write for ScriptConn<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        // A request after (part of) a reply starts a new exchange.
        self.pos = 0;
        Ok(buf.len())
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl<'r> TcpConnect for ScriptConnect<'r> {
    type Error = ErrorKind;
    type Connection<'a>
        = ScriptConn<'r>
    where
        Self: 'a;

    async fn connect<'a>(&'a self, _: SocketAddr) -> Result<ScriptConn<'r>, ErrorKind> {
        if self.refuse {
            return Err(ErrorKind::ConnectionRefused);
        }
        self.connects.set(self.connects.get().saturating_add(1));
        Ok(ScriptConn::new(self.reply))
    }
}
