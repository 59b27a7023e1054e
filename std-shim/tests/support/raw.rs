//! A minimal HTTP/1.1 server for answers the test kit does not script: it
//! reads each request (head, and a `Content-Length` or chunked body),
//! records it, and sends what `answer` returns for it, keeping the
//! connection. Serves until the test process ends. Shared by the test files
//! that need one (`#[path = "support/raw.rs"] mod raw;`).

// Each test file uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A request as read.
#[derive(Debug, Clone)]
pub struct Request {
    /// The request line and headers as received, through the empty line.
    pub head: String,
    pub body: Vec<u8>,
    /// Which connection it came on: 1 for the first accepted, and so on.
    pub conn: usize,
}

/// What to do with a request.
pub enum Reply {
    /// Send these bytes (a whole response), keep the connection.
    Send(Vec<u8>),
    /// Send these bytes, then end the server's side of the connection (a
    /// FIN, as a server closing an idle connection sends) while still
    /// reading it: a request the client sends on it anyway is recorded.
    SendThenHalfClose(Vec<u8>),
}

/// A response with `Content-Length`.
pub fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
    out.extend_from_slice(body);
    out
}

/// Answers before the body is read, when the head announces more
/// than `limit` bytes (and then closes, as a proxy with a body limit
/// does).
type Early = dyn Fn(usize) -> Option<Vec<u8>> + Send + Sync;
type Answer = dyn Fn(usize, &Request) -> Reply + Send + Sync;

pub struct Server {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

pub fn start(answer: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static) -> Server {
    start_with(|_| None, answer)
}

pub fn start_with(
    early: impl Fn(usize) -> Option<Vec<u8>> + Send + Sync + 'static,
    answer: impl Fn(usize, &Request) -> Reply + Send + Sync + 'static,
) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let early: Arc<Early> = Arc::new(early);
    let answer: Arc<Answer> = Arc::new(answer);
    let recorded = Arc::clone(&requests);
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().flatten().enumerate() {
            let (early, answer, recorded) = (
                Arc::clone(&early),
                Arc::clone(&answer),
                Arc::clone(&recorded),
            );
            std::thread::spawn(move || {
                let _ = serve(stream, i + 1, &*early, &*answer, &recorded);
            });
        }
    });
    Server { url, requests }
}

fn serve(
    stream: TcpStream,
    conn: usize,
    early: &Early,
    answer: &Answer,
    recorded: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut out = stream.try_clone()?;
    let mut r = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let (mut length, mut chunked) = (0usize, false);
        let mut head = line;
        loop {
            let mut h = String::new();
            r.read_line(&mut h)?;
            head.push_str(&h);
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').unwrap_or((h, ""));
            let (name, value) = (name.to_ascii_lowercase(), value.trim());
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            } else if name == "transfer-encoding" && value.contains("chunked") {
                chunked = true;
            }
        }
        if let Some(bytes) = early(length) {
            out.write_all(&bytes)?;
            out.flush()?;
            let _ = out.shutdown(std::net::Shutdown::Both);
            return Ok(());
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                r.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
                if size == 0 {
                    let mut end = String::new();
                    r.read_line(&mut end)?;
                    break;
                }
                let mut chunk = vec![0; size + 2];
                r.read_exact(&mut chunk)?;
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            r.read_exact(&mut body)?;
        }
        let req = Request { head, body, conn };
        let n = {
            let mut all = recorded.lock().unwrap();
            all.push(req.clone());
            all.len()
        };
        match answer(n, &req) {
            Reply::Send(bytes) => out.write_all(&bytes)?,
            Reply::SendThenHalfClose(bytes) => {
                out.write_all(&bytes)?;
                out.shutdown(std::net::Shutdown::Write)?;
            }
        }
    }
}
