//! The server: listener thread, connection threads, shared state and the public handle.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::fault::{Fault, FaultPlan, RecordedFault};
use crate::http::{self, Conn, Framing, Head, ReadError, Response, SendOpts};
use crate::store::{Bucket, Point};
use crate::tls::{Stream, Tls};
use crate::write::{self, Api};

/// Which server's answers to imitate on `/api/v2/write`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// InfluxDB Cloud Serverless (the default): partial writes, every bad line listed
    /// (up to 100) in a `{"code","line","message"}` body, the good lines stored.
    #[default]
    CloudServerless,
    /// InfluxDB 3 Core: one bad line rejects the whole batch; the first error only;
    /// 401 answers are `{"error":"the request was not authenticated"}`.
    Core3,
    /// InfluxDB 2 OSS: every bad line listed as `unable to parse '<line>': <reason>`,
    /// newline-joined; nothing stored; errors carry `X-Platform-Error-Code`.
    Oss2,
}

/// How the server behaves while switched down with [`TestServer::set_down`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownMode {
    /// The listening socket is closed: connecting fails with "connection refused".
    /// Open connections are shut down.
    Refuse,
    /// Connections are accepted and closed at once without an answer; a request arriving on
    /// an already open connection is also answered by closing it. Each closure is recorded
    /// as [`Fault::ClosedWhileDown`].
    CloseImmediately,
}

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// Sequence number over all requests the server read, from 1.
    pub seq: u64,
    /// The method (`POST`, `GET`, ...).
    pub method: String,
    /// The path without the query string (`/api/v2/write`).
    pub path: String,
    /// The raw query string without `?` (still percent-encoded), empty when absent.
    pub query: String,
    /// The headers in the order received.
    pub headers: Vec<(String, String)>,
    /// The body after removing chunked framing and `Content-Encoding` (gzip); the bytes as
    /// received when decoding failed. Empty when the body was not read.
    pub body: Vec<u8>,
    /// The status the server answered with, `None` when it sent no answer.
    pub status: Option<u16>,
}

impl RecordedRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The percent-decoded value of query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        http::query_param(&self.query, name)
    }

    /// The body as text (lossy UTF-8).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) tokens: Vec<String>,
    pub(crate) bucket_tokens: HashMap<String, Vec<String>>,
    pub(crate) buckets: Option<HashSet<String>>,
    pub(crate) max_body: usize,
    pub(crate) max_header: usize,
    pub(crate) read_timeout: Duration,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    mode: Mode,
    buckets: HashMap<String, Bucket>,
    requests: Vec<RecordedRequest>,
    faults: Vec<RecordedFault>,
    plan: FaultPlan,
    writes_since_plan: u64,
    down: Option<DownMode>,
    listening: bool,
}

/// State shared by the handle, the listener and the connection threads.
pub(crate) struct Shared {
    pub(crate) cfg: Config,
    state: Mutex<State>,
    changed: Condvar,
    stop: AtomicBool,
    conns: Mutex<HashMap<u64, TcpStream>>,
    handles: Mutex<Vec<JoinHandle<()>>>,
    next_conn: AtomicU64,
    /// Set for an HTTPS server.
    tls: Option<Tls>,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        relock(&self.state)
    }

    pub(crate) fn mode(&self) -> Mode {
        self.state().mode
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub(crate) fn bucket_allowed(&self, bucket: &str) -> bool {
        match &self.cfg.buckets {
            Some(b) => b.contains(bucket),
            None => true,
        }
    }

    pub(crate) fn store(&self, bucket: &str, points: Vec<Point>) {
        let mut st = self.state();
        let b = st.buckets.entry(bucket.to_string()).or_default();
        for p in points {
            b.insert(p);
        }
        drop(st);
        self.changed.notify_all();
    }

    fn record_fault(&self, request_seq: Option<u64>, write_number: Option<u64>, fault: Fault) {
        self.state().faults.push(RecordedFault {
            request_seq,
            write_number,
            fault,
        });
        self.changed.notify_all();
    }

    fn record_request(&self, head: &Head) -> u64 {
        let mut st = self.state();
        let seq = st.requests.len() as u64 + 1;
        st.requests.push(RecordedRequest {
            seq,
            method: head.method.clone(),
            path: head.path.clone(),
            query: head.query.clone(),
            headers: head.headers.clone(),
            body: Vec::new(),
            status: None,
        });
        drop(st);
        self.changed.notify_all();
        seq
    }

    fn update_request(&self, seq: u64, f: impl FnOnce(&mut RecordedRequest)) {
        let mut st = self.state();
        if let Some(r) = st.requests.get_mut((seq as usize).wrapping_sub(1)) {
            f(r);
        }
        drop(st);
        self.changed.notify_all();
    }

    /// Sleeps `d`, returning early when the server stops.
    fn sleep(&self, d: Duration) {
        let deadline = Instant::now() + d;
        let mut st = self.state();
        while !self.stopped() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            st = match self.changed.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    fn wait_until(&self, timeout: Duration, mut cond: impl FnMut(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.state();
        loop {
            if cond(&st) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline || self.stopped() {
                return false;
            }
            st = match self.changed.wait_timeout(st, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
    }

    fn shutdown_connections(&self) {
        for s in relock(&self.conns).values() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

/// Configures and starts a [`TestServer`].
#[derive(Debug, Clone)]
pub struct Builder {
    cfg: Config,
    mode: Mode,
    plan: FaultPlan,
    https: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            cfg: Config {
                tokens: Vec::new(),
                bucket_tokens: HashMap::new(),
                buckets: None,
                max_body: 10 * 1024 * 1024,
                max_header: 16 * 1024,
                read_timeout: Duration::from_secs(5),
            },
            mode: Mode::default(),
            plan: FaultPlan::new(),
            https: false,
        }
    }
}

impl Builder {
    /// Accept `token` for every bucket. Once any token is configured, requests without a valid
    /// one are answered 401. Without tokens, any token and no token are accepted.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.cfg.tokens.push(token.into());
        self
    }

    /// Accept `token` for `bucket` only; using it on another bucket is answered 403.
    pub fn bucket_token(mut self, bucket: impl Into<String>, token: impl Into<String>) -> Self {
        self.cfg
            .bucket_tokens
            .entry(bucket.into())
            .or_default()
            .push(token.into());
        self
    }

    /// Declare a bucket. Once any bucket is declared, writes to other buckets are answered 404.
    /// Without declared buckets, any bucket is created on its first write.
    /// The v1 `/write` endpoint maps `db` to bucket `db`, and `db` plus `rp` to `db/rp`.
    pub fn bucket(mut self, bucket: impl Into<String>) -> Self {
        self.cfg
            .buckets
            .get_or_insert_with(HashSet::new)
            .insert(bucket.into());
        self
    }

    /// Imitate another server's answers (default [`Mode::CloudServerless`]).
    pub fn mode(mut self, mode: Mode) -> Self {
        self.mode = mode;
        self
    }

    /// The largest request body accepted, compressed and decompressed (default 10 MiB);
    /// larger ones are answered 413.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.cfg.max_body = bytes;
        self
    }

    /// The largest request head accepted (default 16 KiB); larger ones are answered 431.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.cfg.max_header = bytes;
        self
    }

    /// How long a connection may stay silent (default 5 s). An idle keep-alive connection is
    /// closed after it; a request stalled half-way is answered 408.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.cfg.read_timeout = timeout;
        self
    }

    /// Serve HTTPS instead of HTTP: a certificate authority and a server
    /// certificate for `localhost` and `127.0.0.1` (ECDSA P-256) are generated at start;
    /// TLS 1.3 and 1.2 are offered. [`TestServer::url`] is then `https://127.0.0.1:PORT` and
    /// [`TestServer::ca_pem`] the CA to trust. Everything else (modes, faults, the store)
    /// works the same over TLS.
    ///
    /// ```
    /// let server = linewire_testkit::TestServer::builder().https().start();
    /// assert!(server.url().starts_with("https://127.0.0.1:"));
    /// assert!(server.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    /// ```
    pub fn https(mut self) -> Self {
        self.https = true;
        self
    }

    /// The faults to inject from the start.
    pub fn fault_plan(mut self, plan: FaultPlan) -> Self {
        self.plan = plan;
        self
    }

    /// Binds 127.0.0.1 on a free port and starts serving.
    ///
    /// # Panics
    /// When no loopback port can be bound; see [`Builder::try_start`].
    pub fn start(self) -> TestServer {
        match self.try_start() {
            Ok(s) => s,
            Err(e) => panic!("linewire-testkit: cannot bind 127.0.0.1: {e}"),
        }
    }

    /// Binds 127.0.0.1 on a free port and starts serving.
    pub fn try_start(self) -> io::Result<TestServer> {
        let tls = if self.https {
            Some(Tls::generate()?)
        } else {
            None
        };
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let mut buckets = HashMap::new();
        for b in self.cfg.buckets.iter().flatten() {
            buckets.insert(b.clone(), Bucket::default());
        }
        let shared = Arc::new(Shared {
            cfg: self.cfg,
            state: Mutex::new(State {
                mode: self.mode,
                buckets,
                plan: self.plan,
                listening: true,
                ..State::default()
            }),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
            conns: Mutex::new(HashMap::new()),
            handles: Mutex::new(Vec::new()),
            next_conn: AtomicU64::new(0),
            tls,
        });
        let s2 = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("testkit-accept-{}", addr.port()))
            .spawn(move || accept_loop(s2, listener, addr))?;
        Ok(TestServer {
            shared,
            addr,
            accept: Some(accept),
        })
    }
}

/// A running local InfluxDB write endpoint. Stops when dropped.
///
/// See the [crate documentation](crate) for an example.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TestServer {
    /// Starts a server with the defaults: Cloud Serverless answers, any token, any bucket.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start() -> TestServer {
        Builder::default().start()
    }

    /// A builder for a configured server.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The base URL, `http://127.0.0.1:PORT` (`https://` for a server started with
    /// [`Builder::https`]; no trailing slash).
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The certificate authority (PEM) that signed an HTTPS server's certificate: what a
    /// client must trust to verify it.
    ///
    /// # Panics
    /// When the server was not started with [`Builder::https`].
    pub fn ca_pem(&self) -> &str {
        match &self.shared.tls {
            Some(tls) => &tls.ca_pem,
            None => panic!("linewire-testkit: ca_pem() of a server started without https()"),
        }
    }

    /// How many connections the server accepted and served (a connection refused at once
    /// while [`DownMode::CloseImmediately`] is not counted). A client that gives up after a
    /// failed TLS handshake made one.
    pub fn connection_count(&self) -> u64 {
        self.shared.next_conn.load(Ordering::SeqCst)
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL of a v2 write to `bucket` with `precision`, for convenience. Neither is
    /// percent-encoded: pass names that need no encoding.
    pub fn write_url(&self, bucket: &str, precision: &str) -> String {
        format!(
            "{}/api/v2/write?bucket={}&precision={}",
            self.url(),
            bucket,
            precision
        )
    }

    /// Every point stored in `bucket`, in the order first written (empty for an unknown bucket).
    pub fn points(&self, bucket: &str) -> Vec<Point> {
        self.shared
            .state()
            .buckets
            .get(bucket)
            .map(|b| b.points.clone())
            .unwrap_or_default()
    }

    /// The number of points stored in `bucket`.
    pub fn point_count(&self, bucket: &str) -> usize {
        self.shared
            .state()
            .buckets
            .get(bucket)
            .map_or(0, |b| b.points.len())
    }

    /// The number of points stored in all buckets.
    pub fn total_points(&self) -> usize {
        self.shared
            .state()
            .buckets
            .values()
            .map(|b| b.points.len())
            .sum()
    }

    /// The names of the buckets that exist (declared or written to), sorted.
    pub fn buckets(&self) -> Vec<String> {
        let mut v: Vec<String> = self.shared.state().buckets.keys().cloned().collect();
        v.sort();
        v
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.state().requests.clone()
    }

    /// The number of requests received so far.
    pub fn request_count(&self) -> usize {
        self.shared.state().requests.len()
    }

    /// The write requests (`POST /api/v2/write` and `POST /write`) received so far.
    pub fn write_requests(&self) -> Vec<RecordedRequest> {
        self.shared
            .state()
            .requests
            .iter()
            .filter(|r| r.method == "POST" && (r.path == "/api/v2/write" || r.path == "/write"))
            .cloned()
            .collect()
    }

    /// Every fault that happened so far, in order.
    pub fn faults(&self) -> Vec<RecordedFault> {
        self.shared.state().faults.clone()
    }

    /// Waits until `bucket` holds at least `n` points. False when `timeout` passed first.
    pub fn wait_for_points(&self, bucket: &str, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |st| {
            st.buckets.get(bucket).map_or(0, |b| b.points.len()) >= n
        })
    }

    /// Waits until at least `n` requests have been received and answered (or deliberately
    /// left unanswered). False when `timeout` passed first.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |st| {
            st.requests.len() >= n && done_without_answer(st, n)
        })
    }

    /// Waits until at least `n` faults have been recorded. False when `timeout` passed first.
    pub fn wait_for_faults(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |st| st.faults.len() >= n)
    }

    /// Replaces the fault plan. Write requests are numbered from 1 again from now on.
    pub fn set_faults(&self, plan: FaultPlan) {
        let mut st = self.shared.state();
        st.plan = plan;
        st.writes_since_plan = 0;
    }

    /// Removes every fault (the same as `set_faults(FaultPlan::new())`).
    pub fn clear_faults(&self) {
        self.set_faults(FaultPlan::new());
    }

    /// Switches the imitated server at run time.
    pub fn set_mode(&self, mode: Mode) {
        self.shared.state().mode = mode;
    }

    /// Forgets all stored points, requests and faults (buckets declared with
    /// [`Builder::bucket`] stay, empty).
    pub fn clear(&self) {
        let mut st = self.shared.state();
        for b in st.buckets.values_mut() {
            *b = Bucket::default();
        }
        st.requests.clear();
        st.faults.clear();
    }

    /// Takes the server down, for outage tests. Returns once the change is in effect.
    pub fn set_down(&self, mode: DownMode) {
        self.shared.state().down = Some(mode);
        self.shared.changed.notify_all();
        if mode == DownMode::Refuse {
            self.shared.shutdown_connections();
            // Wake the accept loop so it drops the listener.
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
            self.shared
                .wait_until(Duration::from_secs(10), |st| !st.listening);
        }
    }

    /// Brings the server back up on the same port after [`TestServer::set_down`].
    /// Fails when the port could not be bound again within 10 seconds.
    pub fn set_up(&self) -> io::Result<()> {
        self.shared.state().down = None;
        self.shared.changed.notify_all();
        if self
            .shared
            .wait_until(Duration::from_secs(10), |st| st.listening)
        {
            Ok(())
        } else {
            Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("could not bind {} again", self.addr),
            ))
        }
    }

    /// True while the server is down.
    pub fn is_down(&self) -> bool {
        self.shared.state().down.is_some()
    }
}

/// True when the first `n` requests all have a status or were deliberately left unanswered
/// (a fault that closes the connection was recorded for them).
fn done_without_answer(st: &State, n: usize) -> bool {
    st.requests.iter().take(n).all(|r| {
        r.status.is_some()
            || st.faults.iter().any(|f| {
                f.request_seq == Some(r.seq)
                    && matches!(
                        f.fault,
                        Fault::CloseAfterBody | Fault::CloseBeforeBody | Fault::ClosedWhileDown
                    )
            })
    })
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.changed.notify_all();
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        self.shared.shutdown_connections();
        let handles: Vec<JoinHandle<()>> = relock(&self.shared.handles).drain(..).collect();
        for h in handles {
            let _ = h.join();
        }
    }
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener, addr: SocketAddr) {
    let mut listener = Some(listener);
    while !shared.stopped() {
        let down = shared.state().down;
        if down == Some(DownMode::Refuse) {
            if listener.take().is_some() {
                shared.state().listening = false;
                shared.changed.notify_all();
            }
            shared.wait_until(Duration::from_millis(200), |st| {
                st.down != Some(DownMode::Refuse)
            });
            continue;
        }
        let l = match &listener {
            Some(l) => l,
            None => {
                match TcpListener::bind(addr) {
                    Ok(l) => {
                        listener = Some(l);
                        shared.state().listening = true;
                        shared.changed.notify_all();
                    }
                    Err(_) => thread::sleep(Duration::from_millis(50)),
                }
                continue;
            }
        };
        match l.accept() {
            Ok((stream, _)) => {
                if shared.stopped() {
                    break;
                }
                let down = shared.state().down;
                match down {
                    Some(DownMode::Refuse) => continue,
                    Some(DownMode::CloseImmediately) => {
                        let _ = stream.shutdown(Shutdown::Both);
                        drop(stream);
                        shared.record_fault(None, None, Fault::ClosedWhileDown);
                        continue;
                    }
                    None => {}
                }
                spawn_connection(&shared, stream);
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

fn spawn_connection(shared: &Arc<Shared>, stream: TcpStream) {
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
    if let Ok(clone) = stream.try_clone() {
        relock(&shared.conns).insert(id, clone);
    }
    let s2 = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name(format!("testkit-conn-{id}"))
        .spawn(move || {
            serve(&s2, stream);
            relock(&s2.conns).remove(&id);
        });
    let mut handles = relock(&shared.handles);
    handles.retain(|h| !h.is_finished());
    match spawned {
        Ok(h) => handles.push(h),
        Err(_) => {
            relock(&shared.conns).remove(&id);
        }
    }
}

/// What to do with the connection after a request.
enum Next {
    KeepAlive,
    Close,
    /// Close at once, leaving unread bytes unread (the peer sees a reset).
    Reset,
}

fn plain_error(status: u16, message: &str) -> Response {
    Response::json(status, json!({"code": "invalid", "message": message}))
}

fn send(conn: &mut Conn, resp: &Response, opts: SendOpts) -> bool {
    let bytes = http::serialize(resp, opts);
    http::send(&mut conn.stream, &bytes, opts.split).is_ok()
}

fn serve(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(shared.cfg.read_timeout));
    let _ = stream.set_write_timeout(Some(shared.cfg.read_timeout));
    let _ = stream.set_nodelay(true);
    // Over TLS the handshake happens on the first read: a client that refuses the
    // certificate ends the connection there, before any request.
    let stream = match &shared.tls {
        Some(tls) => match tls.accept(stream) {
            Ok(s) => s,
            Err(_) => return,
        },
        None => Stream::Plain(stream),
    };
    let mut conn = Conn::new(stream);
    let close = SendOpts {
        close: true,
        ..SendOpts::default()
    };
    while !shared.stopped() {
        let head = match conn.read_head(shared.cfg.max_header) {
            Ok(h) => h,
            Err(ReadError::Closed) | Err(ReadError::Io) => break,
            Err(ReadError::Timeout) => {
                send(&mut conn, &plain_error(408, "request timed out"), close);
                break;
            }
            Err(ReadError::TooLarge) => {
                send(
                    &mut conn,
                    &plain_error(431, "request header fields too large"),
                    close,
                );
                break;
            }
            Err(ReadError::Malformed(m)) => {
                send(
                    &mut conn,
                    &plain_error(400, &format!("malformed request: {m}")),
                    close,
                );
                break;
            }
        };
        if shared.state().down == Some(DownMode::CloseImmediately) {
            shared.record_fault(None, None, Fault::ClosedWhileDown);
            break;
        }
        let seq = shared.record_request(&head);
        match handle(shared, &mut conn, &head, seq) {
            Next::KeepAlive => {}
            Next::Close => break,
            Next::Reset => {
                // Closing with unread bytes in the receive buffer makes the kernel send RST.
                let _ = conn.stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
    linger(&mut conn);
}

/// Closes our side, then discards what the client still sends for a moment, so that an
/// answer sent before an unread body (413, 408, ...) is not destroyed by a TCP reset.
fn linger(conn: &mut Conn) {
    let _ = conn.stream.shutdown(Shutdown::Write);
    let _ = conn
        .stream
        .set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + Duration::from_secs(1);
    let mut sink = [0u8; 16384];
    let mut total = 0usize;
    while Instant::now() < deadline && total < (1 << 20) {
        match io::Read::read(&mut conn.stream, &mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    let _ = conn.stream.shutdown(Shutdown::Both);
}

/// Reads the body per `framing`; `Err` is the answer to send before closing
/// (`None`: close without an answer).
fn read_body(
    shared: &Shared,
    conn: &mut Conn,
    framing: Framing,
) -> Result<Vec<u8>, Option<Response>> {
    read_body_limited(shared, conn, framing, shared.cfg.max_body)
}

fn read_body_limited(
    shared: &Shared,
    conn: &mut Conn,
    framing: Framing,
    limit: usize,
) -> Result<Vec<u8>, Option<Response>> {
    let result = match framing {
        Framing::None => Ok(Vec::new()),
        Framing::Length(n) => conn.read_body_exact(n),
        Framing::Chunked => conn.read_body_chunked(limit),
    };
    result.map_err(|e| match e {
        ReadError::Closed | ReadError::Io => None,
        ReadError::Timeout => Some(plain_error(408, "timed out reading the request body")),
        ReadError::TooLarge => Some(too_large(shared)),
        ReadError::Malformed(m) => Some(plain_error(400, &format!("malformed body: {m}"))),
    })
}

fn too_large(shared: &Shared) -> Response {
    too_large_at(shared.cfg.max_body)
}

fn too_large_at(limit: usize) -> Response {
    Response::json(
        413,
        json!({
            "code": "invalid",
            "message": "http: request body too large",
            "maxLength": limit.to_string(),
        }),
    )
}

/// The page a login proxy redirects to.
const PORTAL_PATH: &str = "/portal/login";

/// Terminal control sequences: clear screen, bell, carriage return, 8-bit CSI.
const CONTROL_MESSAGE_RAW: &str =
    "unable to parse line\u{1b}[2J\u{7} bell\r\nall points written\u{9b}31m red";
const CONTROL_MESSAGE_ESCAPED: &str =
    "unable to parse line\\u001b[2J\\u0007 bell\\r\\nall points written\\u009b31m red";

fn fault_response(shared: &Shared, head: &Head, fault: &Fault) -> Response {
    match fault {
        Fault::Redirect { status } => {
            let location = match head.header("host") {
                Some(host) => format!("http://{host}{PORTAL_PATH}?next=%2Fapi%2Fv2%2Fwrite"),
                None => format!("{PORTAL_PATH}?next=%2Fapi%2Fv2%2Fwrite"),
            };
            Response {
                status: *status,
                headers: vec![
                    ("Content-Type".into(), "text/html".into()),
                    ("Location".into(), location),
                ],
                body: b"<html><body>Please log in.</body></html>\r\n".to_vec(),
            }
        }
        Fault::ControlCharacters { json_escaped } => {
            let message = if *json_escaped {
                CONTROL_MESSAGE_ESCAPED
            } else {
                CONTROL_MESSAGE_RAW
            };
            Response {
                status: 400,
                headers: vec![
                    (
                        "Content-Type".into(),
                        "application/json; charset=utf-8".into(),
                    ),
                    ("X-Platform-Error-Code".into(), "invalid\u{9b}2J".into()),
                ],
                body: format!(r#"{{"code":"invalid","message":"{message}"}}"#).into_bytes(),
            }
        }
        Fault::TooManyRequests { retry_after_secs } => Response::json(
            429,
            json!({"code": "too many requests", "message": "write rate limit exceeded, retry later"}),
        )
        .with_header("Retry-After", retry_after_secs.to_string()),
        Fault::ServiceUnavailable { retry_after_secs } => {
            let r = Response::json(
                503,
                json!({"code": "unavailable", "message": "service unavailable, retry later"}),
            );
            match retry_after_secs {
                Some(s) => r.with_header("Retry-After", s.to_string()),
                None => r,
            }
        }
        Fault::BadGateway => Response {
            status: 502,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n".to_vec(),
        },
        Fault::PayloadTooLarge => too_large(shared),
        _ => Response::json(
            500,
            json!({"code": "internal error", "message": "an internal error has occurred"}),
        ),
    }
}

fn handle(shared: &Shared, conn: &mut Conn, head: &Head, seq: u64) -> Next {
    let keep_alive = head.keep_alive();
    let framing = match http::framing(head) {
        Ok(f) => f,
        Err(m) => {
            let r = plain_error(400, &m);
            shared.update_request(seq, |q| q.status = Some(400));
            send(conn, &r, close_opts());
            return Next::Close;
        }
    };
    let api = match (head.method.as_str(), head.path.as_str()) {
        ("POST", "/api/v2/write") => Some(Api::V2),
        ("POST", "/write") => Some(Api::V1),
        _ => None,
    };
    let Some(api) = api else {
        return handle_other(shared, conn, head, seq, framing, keep_alive);
    };

    // Which faults hit this write?
    let (number, faults) = {
        let mut st = shared.state();
        st.writes_since_plan += 1;
        let n = st.writes_since_plan;
        (n, st.plan.faults_for(n))
    };
    let rec = |f: &Fault| shared.record_fault(Some(seq), Some(number), f.clone());
    for f in &faults {
        if let Fault::Delay(d) = f {
            rec(f);
            shared.sleep(*d);
        }
    }
    if shared.stopped() {
        return Next::Close;
    }
    if faults.contains(&Fault::CloseBeforeBody) {
        rec(&Fault::CloseBeforeBody);
        return Next::Close;
    }
    if framing == Framing::None {
        let r = write::error(api, shared.mode(), 411, "invalid", "length required");
        shared.update_request(seq, |q| q.status = Some(411));
        send(conn, &r, close_opts());
        return Next::Close;
    }
    if let Framing::Length(n) = framing {
        if n > shared.cfg.max_body {
            rec(&Fault::PayloadTooLarge);
            shared.update_request(seq, |q| q.status = Some(413));
            send(conn, &too_large(shared), close_opts());
            return Next::Close;
        }
    }
    let early = faults.iter().find_map(|f| match f {
        Fault::TooLargeBeforeBody { over, drain } => Some((f, *over, *drain)),
        _ => None,
    });
    if let (Some((fault, over, drain)), Framing::Length(n)) = (early, framing) {
        if n > over {
            return early_too_large(shared, conn, seq, fault, over, drain, framing, &rec);
        }
    }
    if head
        .header("expect")
        .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        && http::send(&mut conn.stream, b"HTTP/1.1 100 Continue\r\n\r\n", false).is_err()
    {
        return Next::Close;
    }
    let limit = match early {
        Some((_, over, _)) if framing == Framing::Chunked => over.min(shared.cfg.max_body),
        _ => shared.cfg.max_body,
    };
    let raw = match read_body_limited(shared, conn, framing, limit) {
        Ok(b) => b,
        Err(resp) => {
            if let (Some((fault, over, drain)), Some(413)) =
                (early, resp.as_ref().map(|r| r.status))
            {
                return early_too_large(shared, conn, seq, fault, over, drain, framing, &rec);
            }
            if let Some(r) = resp {
                if r.status == 413 {
                    rec(&Fault::PayloadTooLarge);
                }
                shared.update_request(seq, |q| q.status = Some(r.status));
                send(conn, &r, close_opts());
            }
            return Next::Close;
        }
    };
    let decoded = write::decode_body(head, &raw, shared.cfg.max_body);
    let body = match &decoded {
        Ok(b) => b.clone(),
        Err(_) => raw,
    };
    shared.update_request(seq, |q| q.body = body);

    // Answered as InfluxDB 1.x answers `/write`: the bucket is the database.
    let as_v1;
    let (api, head) = if api == Api::V2 && faults.contains(&Fault::AnswerAsV1) {
        rec(&Fault::AnswerAsV1);
        as_v1 = v1_head(head);
        (Api::V1, &as_v1)
    } else {
        (api, head)
    };
    let mut resp = match faults.iter().find(|f| f.is_status()) {
        Some(f) => {
            rec(f);
            fault_response(shared, head, f)
        }
        None => match decoded {
            Ok(body) => write::handle(shared, api, head, &body),
            Err((413, _)) => {
                rec(&Fault::PayloadTooLarge);
                too_large(shared)
            }
            Err((status, m)) => write::error(api, shared.mode(), status, "invalid", &m),
        },
    };
    if faults.contains(&Fault::CloseAfterBody) {
        rec(&Fault::CloseAfterBody);
        return Next::Close;
    }
    let failed = !(200..300).contains(&resp.status);
    if failed && faults.contains(&Fault::EchoAuthorization) {
        rec(&Fault::EchoAuthorization);
        echo_authorization(&mut resp, head.header("authorization").unwrap_or(""));
    }
    for f in &faults {
        match f {
            Fault::PadErrorBody { bytes } if failed => {
                rec(f);
                pad_body(&mut resp, *bytes);
            }
            Fault::ManyHeaders { count, len } => {
                rec(f);
                let value = "h".repeat(*len);
                for i in 0..*count {
                    resp.headers
                        .push((format!("X-Testkit-Filler-{i}"), value.clone()));
                }
            }
            _ => {}
        }
    }
    let mut opts = SendOpts {
        close: !keep_alive,
        ..SendOpts::default()
    };
    if faults.contains(&Fault::BrokenChunkedResponse) {
        rec(&Fault::BrokenChunkedResponse);
        if resp.status == 204 {
            let mut ok = Response::json(
                200,
                json!({"status": "ok", "message": "the points were written"}),
            );
            ok.headers.append(&mut resp.headers);
            resp = ok;
        }
        opts.chunked = true;
        opts.break_chunks = true;
        opts.close = true;
    }
    let has_body = !resp.body.is_empty() && resp.status != 204;
    if has_body && faults.contains(&Fault::ChunkedResponse) {
        rec(&Fault::ChunkedResponse);
        opts.chunked = true;
    }
    if faults.contains(&Fault::ConnectionClose) {
        rec(&Fault::ConnectionClose);
        opts.close = true;
    }
    if faults.contains(&Fault::SplitWrites) {
        rec(&Fault::SplitWrites);
        opts.split = true;
    }
    if resp.status == 413 {
        opts.close = true;
    }
    resp.headers
        .push(("X-Influxdb-Build".into(), "testkit".into()));
    let status = resp.status;
    shared.update_request(seq, |q| q.status = Some(status));
    if !send(conn, &resp, opts) || opts.close {
        return Next::Close;
    }
    Next::KeepAlive
}

/// [`Fault::TooLargeBeforeBody`]: 413 and close, draining what is left of the body first or not.
#[allow(clippy::too_many_arguments)]
fn early_too_large(
    shared: &Shared,
    conn: &mut Conn,
    seq: u64,
    fault: &Fault,
    over: usize,
    drain: bool,
    framing: Framing,
    rec: &dyn Fn(&Fault),
) -> Next {
    rec(fault);
    shared.update_request(seq, |q| q.status = Some(413));
    send(conn, &too_large_at(over), close_opts());
    if !drain {
        return Next::Reset;
    }
    // Whatever is left of the body, discarded, so that closing does not reset the connection.
    let _ = match framing {
        Framing::Length(n) => conn.read_body_exact(n).map(drop),
        // Stopped inside a chunk: discard through the last chunk and the
        // empty trailer rather than parse from the middle of one.
        Framing::Chunked => conn.discard_through(b"\r\n0\r\n\r\n"),
        Framing::None => Ok(()),
    };
    Next::Close
}

/// A v2 write head rewritten as the v1 `/write` of the same bucket and precision.
fn v1_head(head: &Head) -> Head {
    let bucket = http::query_param(&head.query, "bucket").unwrap_or_default();
    let precision = match http::query_param(&head.query, "precision").as_deref() {
        Some("us") => "u",
        Some("ms") => "ms",
        Some("s") => "s",
        _ => "n",
    };
    let mut v1 = head.clone();
    v1.path = "/write".into();
    v1.query = format!("db={}&precision={precision}", percent_encode(&bucket));
    v1
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// [`Fault::EchoAuthorization`]: the message (and `X-Influxdb-Error`) end with the header.
fn echo_authorization(resp: &mut Response, authorization: &str) {
    let echo = format!(" (request had Authorization: \"{authorization}\")");
    if let Ok(serde_json::Value::Object(mut map)) =
        serde_json::from_slice::<serde_json::Value>(&resp.body)
    {
        let key = if map.contains_key("message") {
            "message"
        } else {
            "error"
        };
        let old = map
            .get(key)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string();
        map.insert(key.into(), serde_json::Value::String(old + &echo));
        resp.body = serde_json::Value::Object(map).to_string().into_bytes();
    } else {
        resp.body.extend_from_slice(echo.as_bytes());
    }
    for (k, v) in &mut resp.headers {
        if k.eq_ignore_ascii_case("x-influxdb-error") {
            v.push_str(&echo);
        }
    }
}

/// [`Fault::PadErrorBody`]: a trailing `"padding"` member brings the body to `bytes`.
fn pad_body(resp: &mut Response, bytes: usize) {
    if let Ok(serde_json::Value::Object(mut map)) =
        serde_json::from_slice::<serde_json::Value>(&resp.body)
    {
        let missing = bytes.saturating_sub(resp.body.len() + r#","padding":"""#.len());
        map.insert(
            "padding".into(),
            serde_json::Value::String(".".repeat(missing)),
        );
        resp.body = serde_json::Value::Object(map).to_string().into_bytes();
    } else if resp.body.len() < bytes {
        resp.body.resize(bytes, b'.');
    }
}

fn close_opts() -> SendOpts {
    SendOpts {
        close: true,
        ..SendOpts::default()
    }
}

fn handle_other(
    shared: &Shared,
    conn: &mut Conn,
    head: &Head,
    seq: u64,
    framing: Framing,
    keep_alive: bool,
) -> Next {
    if let Framing::Length(n) = framing {
        if n > shared.cfg.max_body {
            shared.update_request(seq, |q| q.status = Some(413));
            send(conn, &too_large(shared), close_opts());
            return Next::Close;
        }
    }
    if framing != Framing::None
        && head
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        && http::send(&mut conn.stream, b"HTTP/1.1 100 Continue\r\n\r\n", false).is_err()
    {
        return Next::Close;
    }
    let body = match read_body(shared, conn, framing) {
        Ok(b) => b,
        Err(resp) => {
            if let Some(r) = resp {
                shared.update_request(seq, |q| q.status = Some(r.status));
                send(conn, &r, close_opts());
            }
            return Next::Close;
        }
    };
    shared.update_request(seq, |q| q.body = body);
    let is_get = head.method == "GET" || head.method == "HEAD";
    let resp = match head.path.as_str() {
        // What a login proxy's page answers, whatever the method: 200 and a page.
        PORTAL_PATH => Response {
            status: 200,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: b"<html><body>Welcome. Please log in to continue.</body></html>\r\n".to_vec(),
        },
        "/ping" if is_get => Response::empty(204)
            .with_header("X-Influxdb-Version", "linewire-testkit")
            .with_header("X-Influxdb-Build", "testkit"),
        "/health" if is_get => Response::json(
            200,
            json!({
                "name": "influxdb",
                "message": "ready for queries and writes",
                "status": "pass",
                "checks": [],
                "version": env!("CARGO_PKG_VERSION"),
                "commit": "testkit",
            }),
        ),
        "/ping" | "/health" => Response::json(
            405,
            json!({"code": "method not allowed", "message": "method not allowed"}),
        )
        .with_header("Allow", "GET, HEAD"),
        "/api/v2/write" | "/write" => Response::json(
            405,
            json!({"code": "method not allowed", "message": "method not allowed"}),
        )
        .with_header("Allow", "POST"),
        _ => Response::json(
            404,
            json!({"code": "not found", "message": "path not found"}),
        ),
    };
    let status = resp.status;
    shared.update_request(seq, |q| q.status = Some(status));
    let opts = SendOpts {
        close: !keep_alive,
        head_only: head.method == "HEAD",
        ..SendOpts::default()
    };
    if !send(conn, &resp, opts) || opts.close {
        return Next::Close;
    }
    Next::KeepAlive
}
