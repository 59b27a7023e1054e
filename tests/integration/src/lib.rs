//! Helpers for linewire's host tests over `embedded-nal`: a small
//! `std::net` stack with a stress mode (one byte per call, `WouldBlock` in
//! between), a deadline [`Wait`](linewire::nal::Wait), real server
//! processes killed on drop, and plain HTTP requests for reading back.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use embedded_nal::{nb, TcpClientStack, TcpError, TcpErrorKind};
use linewire::nal::Op;

/// Socket timeouts of [`StdStack`]: a test that waits longer has failed.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A [`Wait`](linewire::nal::Wait) that sleeps briefly and gives up when
/// one operation has waited `limit`. The deadline is the test's clock.
pub fn patient<S>(limit: Duration) -> impl FnMut(&mut S, Op, u32) -> bool {
    let mut start = Instant::now();
    move |_stack: &mut S, _op: Op, attempt: u32| {
        if attempt == 1 {
            start = Instant::now();
        }
        std::thread::sleep(Duration::from_micros(200));
        start.elapsed() < limit
    }
}

/// A [`NalStream`](linewire::nal::NalStream) over `std-embedded-nal` with a
/// [`patient`] wait, the connection most tests use.
pub type NalConn = linewire::nal::NalStream<
    std_embedded_nal::Stack,
    Box<dyn FnMut(&mut std_embedded_nal::Stack, Op, u32) -> bool>,
>;

/// A [`NalConn`] to `addr` that gives up after 10 s of waiting on one
/// operation.
pub fn nal_conn(addr: SocketAddr) -> NalConn {
    linewire::nal::NalStream::new(
        std_embedded_nal::Stack,
        addr,
        Box::new(patient(Duration::from_secs(10))),
    )
}

/// The error of [`StdStack`]: the `std::io` error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StdError(pub io::ErrorKind);

impl TcpError for StdError {
    fn kind(&self) -> TcpErrorKind {
        match self.0 {
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted => TcpErrorKind::PipeClosed,
            _ => TcpErrorKind::Other,
        }
    }
}

/// A blocking `std::net` implementation of `embedded-nal` 0.9's
/// `TcpClientStack`, with socket timeouts ([`IO_TIMEOUT`]) and optional
/// stress modes.
#[derive(Debug, Default)]
pub struct StdStack {
    /// Send and receive at most one byte per call.
    pub one_byte: bool,
    /// Answer `WouldBlock` on every other send, receive and connect.
    pub would_block: bool,
    /// Answer `Ok(0)` on every other send (a stack with a full buffer).
    pub send_zero: bool,
    toggle: bool,
    /// Calls to `send` (any answer).
    pub send_calls: u64,
    /// `WouldBlock` (or `Ok(0)`) answers given.
    pub blocked_answers: u64,
    /// Sockets connected.
    pub connects: u32,
    /// Sockets closed.
    pub closes: u32,
}

impl StdStack {
    /// A plain blocking stack.
    pub fn new() -> Self {
        Self::default()
    }

    /// One byte per call, `WouldBlock` and `Ok(0)` in between.
    pub fn choppy() -> Self {
        Self {
            one_byte: true,
            would_block: true,
            send_zero: true,
            ..Self::default()
        }
    }

    fn block_now(&mut self) -> bool {
        if !self.would_block {
            return false;
        }
        self.toggle = !self.toggle;
        if self.toggle {
            self.blocked_answers += 1;
        }
        self.toggle
    }
}

fn other(e: io::Error) -> nb::Error<StdError> {
    nb::Error::Other(StdError(e.kind()))
}

impl TcpClientStack for StdStack {
    type TcpSocket = Option<TcpStream>;
    type Error = StdError;

    fn socket(&mut self) -> Result<Self::TcpSocket, Self::Error> {
        Ok(None)
    }

    fn connect(
        &mut self,
        socket: &mut Self::TcpSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), Self::Error> {
        if self.block_now() {
            return Err(nb::Error::WouldBlock);
        }
        let s = TcpStream::connect_timeout(&remote, IO_TIMEOUT).map_err(other)?;
        s.set_read_timeout(Some(IO_TIMEOUT)).map_err(other)?;
        s.set_write_timeout(Some(IO_TIMEOUT)).map_err(other)?;
        s.set_nodelay(true).map_err(other)?;
        *socket = Some(s);
        self.connects += 1;
        Ok(())
    }

    fn send(&mut self, socket: &mut Self::TcpSocket, buf: &[u8]) -> nb::Result<usize, Self::Error> {
        self.send_calls += 1;
        let s = socket
            .as_mut()
            .ok_or(nb::Error::Other(StdError(io::ErrorKind::NotConnected)))?;
        if self.block_now() {
            if self.send_zero && self.send_calls % 4 == 1 {
                return Ok(0);
            }
            return Err(nb::Error::WouldBlock);
        }
        let n = if self.one_byte {
            buf.len().min(1)
        } else {
            buf.len()
        };
        s.write(&buf[..n]).map_err(other)
    }

    fn receive(
        &mut self,
        socket: &mut Self::TcpSocket,
        buf: &mut [u8],
    ) -> nb::Result<usize, Self::Error> {
        let s = socket
            .as_mut()
            .ok_or(nb::Error::Other(StdError(io::ErrorKind::NotConnected)))?;
        if self.block_now() {
            return Err(nb::Error::WouldBlock);
        }
        let n = if self.one_byte {
            buf.len().min(1)
        } else {
            buf.len()
        };
        s.read(&mut buf[..n]).map_err(other)
    }

    fn close(&mut self, socket: Self::TcpSocket) -> Result<(), Self::Error> {
        self.closes += 1;
        drop(socket);
        Ok(())
    }
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

/// A fresh directory under the system temp dir, removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `linewire-<name>-<pid>-<n>`.
    pub fn new(name: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "linewire-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// The server binary at `path`, or `None` (with a loud message) when it is
/// missing outside CI. Under CI (env `CI` set) a missing binary panics: CI
/// must install it (`scripts/test.sh` does).
pub fn require_binary(path: &str, package: &str) -> Option<PathBuf> {
    let p = PathBuf::from(path);
    if p.is_file() {
        return Some(p);
    }
    let msg = format!(
        "{path} is missing: install it with `apt-get install -y {package}` (scripts/test.sh does)"
    );
    if std::env::var_os("CI").is_some() {
        panic!("CI is set and {msg}");
    }
    eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    None
}

/// Where Debian's `victoria-metrics` package installs the server.
pub const VICTORIA_METRICS: &str = "/usr/bin/victoria-metrics";

/// Starts VictoriaMetrics (`bin`) on a free loopback port with its data in a
/// fresh temp dir named after `name`, and waits until `/health` answers.
pub fn start_victoria_metrics(bin: &Path, name: &str) -> ServerProcess {
    let dir = TempDir::new(name);
    let addr = SocketAddr::new(Ipv4Addr::LOCALHOST.into(), free_port());
    let mut cmd = Command::new(bin);
    cmd.arg(format!(
        "-storageDataPath={}",
        dir.path().join("data").display()
    ))
    .arg(format!("-httpListenAddr={addr}"))
    .arg("-loggerLevel=WARN");
    ServerProcess::start(
        "victoria-metrics",
        cmd,
        dir,
        addr,
        "/health",
        Duration::from_secs(60),
    )
}

/// A server process in its own temp dir; killed (and reaped) on drop.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// The server's working directory (data, config, logs).
    pub dir: TempDir,
    /// The HTTP address.
    pub addr: SocketAddr,
    name: String,
}

impl ServerProcess {
    /// Starts `cmd` (stdout and stderr to `<dir>/server.log`) serving HTTP on
    /// `addr`, and waits until `GET health_path` answers 2xx, for at most
    /// `startup`.
    pub fn start(
        name: &str,
        cmd: Command,
        dir: TempDir,
        addr: SocketAddr,
        health_path: &str,
        startup: Duration,
    ) -> Self {
        Self::try_start(name, cmd, dir, addr, health_path, startup)
            .unwrap_or_else(|log| panic!("{name} exited during startup:\n{log}"))
    }

    /// [`start`](Self::start), but a server that exits during startup is
    /// `Err` with its log: ports found free with [`free_port`] can be taken
    /// by another test before the server binds them, and the caller may try
    /// again on others.
    pub fn try_start(
        name: &str,
        mut cmd: Command,
        dir: TempDir,
        addr: SocketAddr,
        health_path: &str,
        startup: Duration,
    ) -> Result<Self, String> {
        let log = fs::File::create(dir.path().join("server.log")).expect("create log");
        let log2 = log.try_clone().expect("clone log");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        let mut p = ServerProcess {
            child,
            dir,
            addr,
            name: name.to_string(),
        };
        let deadline = Instant::now() + startup;
        loop {
            if let Ok(Some(status)) = p.child.try_wait() {
                return Err(format!("{status}\n{}", p.log()));
            }
            if let Ok((status, _)) = http_get(addr, health_path) {
                if (200..300).contains(&status) {
                    return Ok(p);
                }
            }
            if Instant::now() > deadline {
                panic!(
                    "{name} did not answer {health_path} on {addr} within {startup:?}:\n{}",
                    p.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        let text = fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }

    /// The server's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The server's process id (for reading its CPU time from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(IO_TIMEOUT))
        .build()
        .into()
}

/// `GET http://addr/path_and_query`: status and body.
pub fn http_get(addr: SocketAddr, path_and_query: &str) -> Result<(u16, String), ureq::Error> {
    let mut r = agent()
        .get(&format!("http://{addr}{path_and_query}"))
        .call()?;
    let status = r.status().as_u16();
    Ok((status, r.body_mut().read_to_string()?))
}

/// `POST http://addr/path_and_query` with an empty body: status and body.
pub fn http_post(addr: SocketAddr, path_and_query: &str) -> Result<(u16, String), ureq::Error> {
    let mut r = agent()
        .post(&format!("http://{addr}{path_and_query}"))
        .send_empty()?;
    let status = r.status().as_u16();
    Ok((status, r.body_mut().read_to_string()?))
}

/// Percent-encodes a query parameter value.
pub fn encode_query(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
