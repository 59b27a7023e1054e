//! `NalAsyncStream` over a fake `TcpConnect` stack: lazy connect, reuse,
//! reconnect after `Connection: close`, errors and an idle close, a fresh
//! connection after a request's future was dropped midway, the handshake
//! hook on every connection; then over real TCP against the test kit.
#![cfg(feature = "embedded-nal-async")]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::task::Poll;

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use embedded_nal_async::TcpConnect;
use linewire::http::{ConfigError, Outcome, Target, TransportError, WriteError};
use linewire::nal_async::{Error, Handshake, NalAsyncStream};
use linewire::{Batch, Precision};
use linewire_testkit::{FieldValue, TestServer};

const NO_CONTENT: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
const CLOSE: &[u8] = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";

#[derive(Default)]
struct State {
    /// What each connection received, by connection.
    sent: Vec<Vec<u8>>,
    /// The answers, one per request, in order, whatever the connection.
    replies: VecDeque<&'static [u8]>,
    /// Connections dropped (closed) so far.
    dropped: usize,
    refuse: bool,
    /// Writes wait for the executor once before going on.
    slow_writes: bool,
}

#[derive(Default)]
struct FakeStack(RefCell<State>);

impl FakeStack {
    fn new(replies: &[&'static [u8]]) -> Self {
        let s = Self::default();
        s.0.borrow_mut().replies = replies.iter().copied().collect();
        s
    }
    fn connections(&self) -> usize {
        self.0.borrow().sent.len()
    }
    fn sent(&self, conn: usize) -> Vec<u8> {
        self.0.borrow().sent[conn].clone()
    }
    fn dropped(&self) -> usize {
        self.0.borrow().dropped
    }
}

struct FakeConn<'a> {
    stack: &'a FakeStack,
    id: usize,
    reply: &'static [u8],
    pos: usize,
    wrote: bool,
}

impl Drop for FakeConn<'_> {
    fn drop(&mut self) {
        self.stack.0.borrow_mut().dropped += 1;
    }
}

impl ErrorType for FakeConn<'_> {
    type Error = ErrorKind;
}

impl Read for FakeConn<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.wrote {
            // The server answers a request once it has it.
            self.wrote = false;
            self.reply = self.stack.0.borrow_mut().replies.pop_front().unwrap_or(b"");
            self.pos = 0;
        }
        // One byte at a time.
        let rest = &self.reply[self.pos..];
        let n = rest.len().min(buf.len()).min(1);
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl Write for FakeConn<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let slow = self.stack.0.borrow().slow_writes;
        if slow {
            embassy_futures::yield_now().await;
        }
        self.wrote = true;
        self.stack.0.borrow_mut().sent[self.id].extend_from_slice(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl TcpConnect for FakeStack {
    type Error = ErrorKind;
    type Connection<'a> = FakeConn<'a>;

    async fn connect<'a>(&'a self, _remote: SocketAddr) -> Result<FakeConn<'a>, ErrorKind> {
        let mut st = self.0.borrow_mut();
        if st.refuse {
            return Err(ErrorKind::ConnectionRefused);
        }
        st.sent.push(Vec::new());
        Ok(FakeConn {
            stack: self,
            id: st.sent.len() - 1,
            reply: b"",
            pos: 0,
            wrote: false,
        })
    }
}

fn server() -> SocketAddr {
    "192.0.2.1:8086".parse().unwrap()
}

fn target() -> Target<'static> {
    Target::v2("192.0.2.1", "b", "t").unwrap().port(8086)
}

/// The requests in `bytes`, split at each request line.
fn requests(bytes: &[u8]) -> usize {
    bytes.windows(5).filter(|w| w == b"POST ").count()
}

#[test]
fn connects_lazily_and_keeps_the_connection_alive() {
    let stack = FakeStack::new(&[NO_CONTENT, NO_CONTENT, NO_CONTENT]);
    let mut conn = NalAsyncStream::new(&stack, server());
    assert_eq!(stack.connections(), 0, "connected before the first request");
    let mut buf = [0u8; 256];
    for i in 0..3 {
        let body = format!("m v={i}\n");
        let reply =
            embassy_futures::block_on(conn.write_batch(&target(), body.as_bytes(), &mut buf))
                .unwrap();
        assert_eq!(reply.outcome, Outcome::Written);
        assert!(conn.is_connected());
    }
    assert_eq!((stack.connections(), conn.connects()), (1, 1));
    let sent = stack.sent(0);
    assert_eq!(requests(&sent), 3);
    assert!(sent.ends_with(b"\r\n\r\nm v=2\n"));
}

#[test]
fn reconnects_after_connection_close() {
    let stack = FakeStack::new(&[CLOSE, NO_CONTENT, CLOSE, NO_CONTENT]);
    let mut conn = NalAsyncStream::new(&stack, server());
    let mut buf = [0u8; 256];
    let mut connected_after = Vec::new();
    for _ in 0..4 {
        let reply =
            embassy_futures::block_on(conn.write_batch(&target(), b"m v=1\n", &mut buf)).unwrap();
        assert_eq!(reply.outcome, Outcome::Written);
        connected_after.push(conn.is_connected());
    }
    assert_eq!(connected_after, [false, true, false, true]);
    // Requests 1 | 2, 3 | 4: a new connection after each close.
    assert_eq!(stack.connections(), 3);
    assert_eq!(stack.dropped(), 2);
    assert_eq!(requests(&stack.sent(0)), 1);
    assert_eq!(requests(&stack.sent(1)), 2);
    assert_eq!(requests(&stack.sent(2)), 1);
}

#[test]
fn a_request_dropped_midway_leaves_the_next_on_a_fresh_connection() {
    let stack = FakeStack::new(&[NO_CONTENT]);
    let mut conn = NalAsyncStream::new(&stack, server());
    let mut buf = [0u8; 256];
    // Connected and kept alive by a first request.
    embassy_futures::block_on(conn.write_batch(&target(), b"m v=1\n", &mut buf)).unwrap();
    assert_eq!(stack.connections(), 1);

    // The next request's future is polled once (it stops in its first
    // write) and dropped, as a timeout's `select` would.
    stack.0.borrow_mut().slow_writes = true;
    let first_poll = embassy_futures::poll_once(conn.write_batch(&target(), b"m v=2\n", &mut buf));
    assert!(first_poll.is_pending());
    assert!(conn.is_connected(), "the adapter cannot know yet");

    // The request after it starts on a new connection, whole.
    stack.0.borrow_mut().slow_writes = false;
    stack.0.borrow_mut().replies.push_back(NO_CONTENT);
    let reply =
        embassy_futures::block_on(conn.write_batch(&target(), b"m v=3\n", &mut buf)).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    assert_eq!(stack.connections(), 2);
    assert_eq!(
        stack.dropped(),
        1,
        "the interrupted connection was not closed"
    );
    let fresh = stack.sent(1);
    assert!(fresh.starts_with(b"POST /api/v2/write?"));
    assert_eq!(requests(&fresh), 1);
    assert!(fresh.ends_with(b"\r\n\r\nm v=3\n"));
    assert_eq!(conn.connects(), 2);
}

#[test]
fn a_first_request_dropped_midway_is_not_resumed() {
    let stack = FakeStack::new(&[NO_CONTENT]);
    let mut conn = NalAsyncStream::new(&stack, server());
    let mut buf = [0u8; 256];
    stack.0.borrow_mut().slow_writes = true;
    assert!(
        embassy_futures::poll_once(conn.write_batch(&target(), b"m v=1\n", &mut buf)).is_pending()
    );
    stack.0.borrow_mut().slow_writes = false;
    let reply =
        embassy_futures::block_on(conn.write_batch(&target(), b"m v=2\n", &mut buf)).unwrap();
    assert_eq!(reply.outcome, Outcome::Written);
    // The first connection carried part of the dropped request only.
    assert_eq!(stack.connections(), 2);
    assert!(stack.sent(1).ends_with(b"m v=2\n"));
}

#[test]
fn errors_drop_the_connection_and_an_idle_close_reconnects() {
    // The second answer never comes: the server closed the kept
    // connection while it was idle.
    let stack = FakeStack::new(&[NO_CONTENT, b"", b"SSH-2.0-x\r\n", NO_CONTENT]);
    let mut conn = NalAsyncStream::new(&stack, server());
    let mut buf = [0u8; 256];
    let mut run = |conn: &mut NalAsyncStream<'_, FakeStack>| {
        embassy_futures::block_on(conn.write_batch(&target(), b"m v=1\n", &mut buf))
            .map(|r| r.outcome)
    };
    assert_eq!(run(&mut conn), Ok(Outcome::Written));
    assert_eq!(
        run(&mut conn),
        Err(WriteError::Transport(TransportError::ClosedBeforeResponse))
    );
    assert!(!conn.is_connected());
    assert!(matches!(run(&mut conn), Err(WriteError::Peer(_))));
    assert!(!conn.is_connected());
    assert_eq!(run(&mut conn), Ok(Outcome::Written));
    assert_eq!(stack.connections(), 3);
    assert_eq!(stack.dropped(), 2);
}

#[test]
fn a_refused_connect_is_a_transport_error_with_details() {
    let stack = FakeStack::new(&[NO_CONTENT]);
    stack.0.borrow_mut().refuse = true;
    let mut conn = NalAsyncStream::new(&stack, server());
    let mut buf = [0u8; 256];
    let err =
        embassy_futures::block_on(conn.write_batch(&target(), b"m v=1\n", &mut buf)).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::Write(ErrorKind::ConnectionRefused))
    );
    assert_eq!(
        conn.last_error(),
        Some(Error::Connect(ErrorKind::ConnectionRefused))
    );
    assert_eq!(
        conn.last_error().unwrap().to_string(),
        "connecting failed: the connection was refused"
    );
    // The next request, with the stack back, connects and clears it.
    stack.0.borrow_mut().refuse = false;
    embassy_futures::block_on(conn.write_batch(&target(), b"m v=1\n", &mut buf)).unwrap();
    assert_eq!(conn.last_error(), None);
}

#[test]
fn a_payload_over_the_maximum_never_connects() {
    let stack = FakeStack::new(&[NO_CONTENT]);
    let mut conn = NalAsyncStream::new(&stack, server());
    let mut buf = [0u8; 256];
    let small = target().max_body(4);
    let err =
        embassy_futures::block_on(conn.write_batch(&small, b"m v=1\n", &mut buf)).unwrap_err();
    assert_eq!(
        err,
        WriteError::Config(ConfigError::BodyTooLarge { len: 6, max: 4 })
    );
    assert_eq!(stack.connections(), 0);
}

/// A handshake that sends a greeting and counts connections; fails when
/// told to.
struct Hello {
    count: u32,
    fail: bool,
}

impl<C: Read + Write> Handshake<C> for Hello {
    type Stream = C;
    type Error = ErrorKind;
    async fn handshake(&mut self, mut conn: C) -> Result<C, ErrorKind> {
        if self.fail {
            return Err(ErrorKind::InvalidData);
        }
        self.count += 1;
        conn.write_all(b"HELLO\n")
            .await
            .map_err(|e| embedded_io_async::Error::kind(&e))?;
        Ok(conn)
    }
}

#[test]
fn the_handshake_runs_on_every_new_connection() {
    let stack = FakeStack::new(&[NO_CONTENT, CLOSE, NO_CONTENT]);
    let hook = Hello {
        count: 0,
        fail: false,
    };
    let mut conn = NalAsyncStream::with_handshake(&stack, server(), hook);
    let mut buf = [0u8; 256];
    for _ in 0..3 {
        embassy_futures::block_on(conn.write_batch(&target(), b"m v=1\n", &mut buf)).unwrap();
    }
    assert_eq!(conn.hook().count, 2);
    assert_eq!(stack.connections(), 2);
    for c in 0..2 {
        let sent = stack.sent(c);
        assert!(sent.starts_with(b"HELLO\nPOST "), "connection {c}");
        assert_eq!(sent.windows(6).filter(|w| w == b"HELLO\n").count(), 1);
    }

    // A failed handshake: no connection kept, the reason recorded.
    conn.hook_mut().fail = true;
    conn.close();
    let err =
        embassy_futures::block_on(conn.write_batch(&target(), b"m v=1\n", &mut buf)).unwrap_err();
    assert_eq!(
        err,
        WriteError::Transport(TransportError::Write(ErrorKind::InvalidData))
    );
    assert_eq!(
        conn.last_error(),
        Some(Error::Handshake(ErrorKind::InvalidData))
    );
    assert!(!conn.is_connected());
}

/// `TcpConnect` over std sockets (blocking inside, run by `block_on`).
struct StdStack;

struct StdConn(TcpStream);

fn kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::ConnectionRefused => ErrorKind::ConnectionRefused,
        K::ConnectionReset => ErrorKind::ConnectionReset,
        K::ConnectionAborted => ErrorKind::ConnectionAborted,
        K::BrokenPipe => ErrorKind::BrokenPipe,
        K::TimedOut | K::WouldBlock => ErrorKind::TimedOut,
        _ => ErrorKind::Other,
    }
}

impl ErrorType for StdConn {
    type Error = ErrorKind;
}

impl Read for StdConn {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf).map_err(|e| kind(&e))
    }
}

impl Write for StdConn {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).map_err(|e| kind(&e))
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush().map_err(|e| kind(&e))
    }
}

impl TcpConnect for StdStack {
    type Error = ErrorKind;
    type Connection<'a> = StdConn;
    async fn connect(&self, remote: SocketAddr) -> Result<StdConn, ErrorKind> {
        let s = TcpStream::connect(remote).map_err(|e| kind(&e))?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .map_err(|e| kind(&e))?;
        Ok(StdConn(s))
    }
}

#[test]
fn over_real_tcp_batches_are_stored_exactly_with_and_without_keep_alive() {
    let server = TestServer::start();
    let addr = server.addr();
    let stack = StdStack;
    for (bucket, keep_alive, connects) in [("kept", true, 1), ("closed", false, 4)] {
        let target = Target::v2("127.0.0.1", bucket, "token")
            .unwrap()
            .port(addr.port())
            .keep_alive(keep_alive);
        let mut conn = NalAsyncStream::new(&stack, addr);
        let mut buf = [0u8; 512];
        for round in 0..4i64 {
            let mut batch = Batch::<256>::with_precision(Precision::Milliseconds);
            for i in 0..3i64 {
                batch
                    .point("t")
                    .and_then(|p| p.tag("k", "v w"))
                    .and_then(|p| p.field("n", round * 3 + i))
                    .and_then(|p| p.timestamp(1_700_000_000_000 + round * 3 + i))
                    .unwrap();
            }
            let reply =
                embassy_futures::block_on(conn.write_batch(&target, &batch, &mut buf)).unwrap();
            assert_eq!(reply.outcome, Outcome::Written, "{bucket}");
            assert_eq!(conn.is_connected(), keep_alive, "{bucket}");
        }
        assert_eq!(conn.connects(), connects, "{bucket}");
        let mut got: Vec<i64> = server
            .points(bucket)
            .iter()
            .map(|p| {
                assert_eq!(p.tags["k"], "v w");
                let n = (p.timestamp_ns / 1_000_000) - 1_700_000_000_000;
                assert_eq!(p.fields["n"], FieldValue::I64(n));
                n
            })
            .collect();
        got.sort();
        assert_eq!(got, (0..12).collect::<Vec<_>>(), "{bucket}");
    }
}

#[test]
fn poll_once_really_stops_in_the_write() {
    // Guard for the dropped-future tests: with slow writes, one poll
    // leaves the request unfinished (nothing read, part written at most).
    let stack = FakeStack::new(&[NO_CONTENT]);
    stack.0.borrow_mut().slow_writes = true;
    let mut conn = NalAsyncStream::new(&stack, server());
    let mut buf = [0u8; 256];
    let p = embassy_futures::poll_once(conn.write_batch(&target(), b"m v=1\n", &mut buf));
    assert!(matches!(p, Poll::Pending));
    assert_eq!(stack.0.borrow().replies.len(), 1, "the answer was read");
}
