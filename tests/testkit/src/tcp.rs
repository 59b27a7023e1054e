//! A connection to the test kit over real TCP as firmware code sees a
//! socket (feature `embedded-io`): a [`std::net::TcpStream`] behind
//! `embedded_io::{Read, Write}`, and with feature `embedded-io-async`
//! behind `embedded_io_async::{Read, Write}` too (blocking inside, which a
//! `block_on` test runs as it would any future). Errors are
//! [`ErrorKind`]s, as an embedded stack reports them.
//!
//! ```
//! use embedded_io::{Read, Write};
//! use linewire_testkit::{tcp::Tcp, TestServer};
//!
//! let server = TestServer::start();
//! let mut conn = Tcp::connect(server.addr())?;
//! conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
//!     .map_err(|e| format!("{e:?}"))?;
//! let mut buf = [0u8; 12];
//! conn.read_exact(&mut buf).map_err(|e| format!("{e:?}"))?;
//! assert!(buf.starts_with(b"HTTP/1.1 "));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use embedded_io::ErrorKind;

/// How long [`Tcp::connect`] waits to connect, and each read or write may
/// block.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// A TCP connection as an `embedded-io` (and `embedded-io-async`) stream.
#[derive(Debug)]
pub struct Tcp(TcpStream);

impl Tcp {
    /// Connects to `addr` with [`TIMEOUT`] for connecting, reading and
    /// writing, and no Nagle delay.
    ///
    /// # Errors
    ///
    /// When connecting or setting the socket's options fails.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Self> {
        Self::connect_timeout(addr, TIMEOUT)
    }

    /// [`connect`](Self::connect) with `timeout` instead of [`TIMEOUT`].
    ///
    /// # Errors
    ///
    /// When connecting or setting the socket's options fails.
    pub fn connect_timeout(addr: SocketAddr, timeout: Duration) -> std::io::Result<Self> {
        let s = TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        s.set_nodelay(true)?;
        Ok(Self(s))
    }

    /// The socket.
    pub fn get_ref(&self) -> &TcpStream {
        &self.0
    }
}

/// The `embedded-io` kind of a socket error.
fn kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionReset => ErrorKind::ConnectionReset,
        K::ConnectionAborted => ErrorKind::ConnectionAborted,
        K::ConnectionRefused => ErrorKind::ConnectionRefused,
        K::BrokenPipe => ErrorKind::BrokenPipe,
        K::TimedOut | K::WouldBlock => ErrorKind::TimedOut,
        K::NotConnected => ErrorKind::NotConnected,
        _ => ErrorKind::Other,
    }
}

impl embedded_io::ErrorType for Tcp {
    type Error = ErrorKind;
}

impl embedded_io::Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        loop {
            match self.0.read(buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => return r.map_err(|e| kind(&e)),
            }
        }
    }
}

impl embedded_io::Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).map_err(|e| kind(&e))
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush().map_err(|e| kind(&e))
    }
}

#[cfg(feature = "embedded-io-async")]
impl embedded_io_async::Read for Tcp {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        embedded_io::Read::read(self, buf)
    }
}

#[cfg(feature = "embedded-io-async")]
impl embedded_io_async::Write for Tcp {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        embedded_io::Write::write(self, buf)
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        embedded_io::Write::flush(self)
    }
}
