//! Raw HTTP over std `TcpStream`, so that tests see exactly what the server sends.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A response as read off the wire.
#[derive(Debug)]
pub struct Raw {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// True when the body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
}

impl Raw {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }
}

/// A client connection that can send several requests (keep-alive).
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    fn fill(&mut self) -> usize {
        let mut tmp = [0u8; 4096];
        match self.stream.read(&mut tmp) {
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read error: {e}"),
        }
    }

    /// Reads one response; `None` when the server closed the connection without one.
    pub fn read_response(&mut self) -> Option<Raw> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = resp.parse(&self.buf).unwrap() {
                let status = resp.code.unwrap();
                let headers: Vec<(String, String)> = resp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            String::from_utf8(h.value.to_vec()).unwrap(),
                        )
                    })
                    .collect();
                self.buf.drain(..n);
                if status == 100 {
                    continue;
                }
                let get = |k: &str| {
                    headers
                        .iter()
                        .find(|(n, _)| n.eq_ignore_ascii_case(k))
                        .map(|(_, v)| v.clone())
                };
                let chunked = get("transfer-encoding").is_some_and(|v| v == "chunked");
                let body = if status == 204 {
                    Vec::new()
                } else if chunked {
                    self.read_chunked()
                } else if let Some(len) = get("content-length") {
                    let len: usize = len.parse().unwrap();
                    while self.buf.len() < len {
                        assert!(self.fill() > 0, "eof inside body");
                    }
                    self.buf.drain(..len).collect()
                } else {
                    while self.fill() > 0 {}
                    std::mem::take(&mut self.buf)
                };
                return Some(Raw {
                    status,
                    headers,
                    body: String::from_utf8(body).unwrap(),
                    chunked,
                });
            }
            if self.fill() == 0 {
                assert!(
                    self.buf.is_empty(),
                    "partial response: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
                return None;
            }
        }
    }

    fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let l: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
                return String::from_utf8(l).unwrap();
            }
            assert!(self.fill() > 0, "eof in chunked body");
        }
    }

    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let size = usize::from_str_radix(self.line().trim(), 16).unwrap();
            if size == 0 {
                assert_eq!(self.line(), "");
                return body;
            }
            while self.buf.len() < size + 2 {
                assert!(self.fill() > 0);
            }
            body.extend(self.buf.drain(..size));
            assert_eq!(self.buf.drain(..2).collect::<Vec<u8>>(), b"\r\n");
        }
    }

    /// True when the server has closed the connection (reads EOF).
    pub fn is_closed(&mut self) -> bool {
        self.buf.is_empty() && self.fill() == 0
    }

    pub fn request(&mut self, bytes: &[u8]) -> Raw {
        self.send(bytes);
        self.read_response()
            .expect("server closed without answering")
    }
}

/// Sends one request on a new connection and reads the answer.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Raw {
    Client::connect(addr).request(bytes)
}

/// Builds a POST with a Content-Length body.
pub fn post(target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {target} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// A v2 write of `body` with the query string `query`.
pub fn write_v2(addr: SocketAddr, query: &str, headers: &[(&str, &str)], body: &str) -> Raw {
    raw(
        addr,
        &post(&format!("/api/v2/write?{query}"), headers, body.as_bytes()),
    )
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A ureq agent that returns 4xx/5xx answers as responses.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

pub const WAIT: Duration = Duration::from_secs(10);
