//! Minimal HTTP/1.1 framing over a blocking stream (TCP, or TLS over it): request heads via `httparse`,
//! `Content-Length` and chunked bodies, and responses with optional misbehaviour.

use std::io::{self, Read, Write};

use crate::tls::Stream;

/// A parsed request head.
#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub(crate) version: u8,
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True when the client wants the connection kept open after this request.
    pub(crate) fn keep_alive(&self) -> bool {
        let conn = self.header("connection").unwrap_or("").to_ascii_lowercase();
        if conn.split(',').any(|t| t.trim() == "close") {
            return false;
        }
        self.version >= 1 || conn.split(',').any(|t| t.trim() == "keep-alive")
    }
}

/// Why a request could not be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed, or stayed idle past the read timeout, before sending anything.
    Closed,
    /// The read timeout expired in the middle of a request.
    Timeout,
    /// The head or body exceeded a limit.
    TooLarge,
    /// The bytes are not valid HTTP.
    Malformed(String),
    /// Another I/O error (connection reset, shut down by the server, ...).
    Io,
}

/// How the body of a request is framed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Framing {
    None,
    Length(usize),
    Chunked,
}

/// A connection with a read buffer.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    buf: Vec<u8>,
}

const MAX_HEADERS: usize = 100;

impl Conn {
    pub(crate) fn new(stream: Stream) -> Self {
        Conn {
            stream,
            buf: Vec::with_capacity(8192),
        }
    }

    /// Reads more bytes into the buffer. `Ok(0)` is end of stream.
    fn fill(&mut self) -> Result<usize, ReadError> {
        let mut tmp = [0u8; 16384];
        loop {
            match self.stream.read(&mut tmp) {
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Err(ReadError::Timeout)
                }
                Err(_) => return Err(ReadError::Io),
            }
        }
    }

    /// Reads one request head of at most `max` bytes.
    pub(crate) fn read_head(&mut self, max: usize) -> Result<Head, ReadError> {
        loop {
            // Tolerate empty lines before a request line (RFC 9112 section 2.2).
            while self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2);
            }
            if !self.buf.is_empty() {
                let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
                let mut req = httparse::Request::new(&mut headers);
                match req.parse(&self.buf) {
                    Ok(httparse::Status::Complete(n)) => {
                        if n > max {
                            return Err(ReadError::TooLarge);
                        }
                        let target = req.path.unwrap_or("/");
                        let (path, query) = match target.split_once('?') {
                            Some((p, q)) => (p.to_string(), q.to_string()),
                            None => (target.to_string(), String::new()),
                        };
                        let head = Head {
                            method: req.method.unwrap_or("").to_string(),
                            path,
                            query,
                            version: req.version.unwrap_or(1),
                            headers: req
                                .headers
                                .iter()
                                .map(|h| {
                                    (
                                        h.name.to_string(),
                                        String::from_utf8_lossy(h.value).into_owned(),
                                    )
                                })
                                .collect(),
                        };
                        self.buf.drain(..n);
                        return Ok(head);
                    }
                    Ok(httparse::Status::Partial) => {
                        if self.buf.len() > max {
                            return Err(ReadError::TooLarge);
                        }
                    }
                    Err(httparse::Error::TooManyHeaders) => return Err(ReadError::TooLarge),
                    Err(e) => return Err(ReadError::Malformed(e.to_string())),
                }
            }
            let was_empty = self.buf.is_empty();
            match self.fill() {
                Ok(0) if was_empty => return Err(ReadError::Closed),
                Ok(0) => return Err(ReadError::Malformed("unexpected end of request".into())),
                Ok(_) => {}
                Err(ReadError::Timeout) if was_empty => return Err(ReadError::Closed),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads exactly `len` body bytes.
    pub(crate) fn read_body_exact(&mut self, len: usize) -> Result<Vec<u8>, ReadError> {
        while self.buf.len() < len {
            if self.fill()? == 0 {
                return Err(ReadError::Malformed(
                    "body shorter than Content-Length".into(),
                ));
            }
        }
        Ok(self.buf.drain(..len).collect())
    }

    /// Reads and discards bytes up to and including `end` (kept from one
    /// read to the next, so a marker split between reads is found too).
    pub(crate) fn discard_through(&mut self, end: &[u8]) -> Result<(), ReadError> {
        loop {
            if let Some(i) = self.buf.windows(end.len()).position(|w| w == end) {
                self.buf.drain(..i + end.len());
                return Ok(());
            }
            let keep = self.buf.len().saturating_sub(end.len());
            self.buf.drain(..keep);
            if self.fill()? == 0 {
                return Err(ReadError::Closed);
            }
        }
    }

    /// Reads one CRLF-terminated line (without the CRLF) of at most `max` bytes.
    fn read_line(&mut self, max: usize) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
                return Ok(line);
            }
            if self.buf.len() > max {
                return Err(ReadError::Malformed("chunk line too long".into()));
            }
            if self.fill()? == 0 {
                return Err(ReadError::Malformed(
                    "unexpected end of chunked body".into(),
                ));
            }
        }
    }

    /// Reads a `Transfer-Encoding: chunked` body of at most `limit` bytes.
    pub(crate) fn read_body_chunked(&mut self, limit: usize) -> Result<Vec<u8>, ReadError> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line(4096)?;
            let line = String::from_utf8_lossy(&line);
            let size_str = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_str, 16)
                .map_err(|_| ReadError::Malformed(format!("bad chunk size {size_str:?}")))?;
            if size == 0 {
                // Trailers, up to an empty line.
                let mut total = 0;
                loop {
                    let t = self.read_line(8192)?;
                    if t.is_empty() {
                        return Ok(body);
                    }
                    total += t.len();
                    if total > 8192 {
                        return Err(ReadError::TooLarge);
                    }
                }
            }
            if body.len().saturating_add(size) > limit {
                return Err(ReadError::TooLarge);
            }
            let data = self.read_body_exact(size)?;
            body.extend_from_slice(&data);
            let crlf = self.read_body_exact(2)?;
            if crlf != b"\r\n" {
                return Err(ReadError::Malformed("chunk not followed by CRLF".into()));
            }
        }
    }
}

/// Determines the body framing of a request head.
pub(crate) fn framing(head: &Head) -> Result<Framing, String> {
    if let Some(te) = head.header("transfer-encoding") {
        let last = te.rsplit(',').next().unwrap_or("").trim();
        if last.eq_ignore_ascii_case("chunked") {
            return Ok(Framing::Chunked);
        }
        return Err(format!("unsupported Transfer-Encoding {te:?}"));
    }
    let lens: Vec<&str> = head
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.trim())
        .collect();
    match lens.as_slice() {
        [] => Ok(Framing::None),
        [first, rest @ ..] => {
            if rest.iter().any(|v| v != first) {
                return Err("conflicting Content-Length headers".into());
            }
            if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("invalid Content-Length {first:?}"));
            }
            first
                .parse::<usize>()
                .map(Framing::Length)
                .map_err(|_| format!("invalid Content-Length {first:?}"))
        }
    }
}

/// A response to send.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn empty(status: u16) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub(crate) fn json(status: u16, value: serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![(
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            )],
            body: value.to_string().into_bytes(),
        }
    }

    pub(crate) fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// How to send a response.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SendOpts {
    pub(crate) chunked: bool,
    pub(crate) close: bool,
    pub(crate) split: bool,
    pub(crate) head_only: bool,
    /// Send only the first chunk of a chunked body, then an invalid chunk size.
    pub(crate) break_chunks: bool,
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        411 => "Length Required",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Serialises a response. A 204 never carries a body or a framing header.
pub(crate) fn serialize(resp: &Response, opts: SendOpts) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + resp.body.len());
    out.extend_from_slice(
        format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status)).as_bytes(),
    );
    for (k, v) in &resp.headers {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    let no_body = resp.status == 204 || resp.status == 304 || resp.status < 200;
    let chunked = opts.chunked && !no_body && !resp.body.is_empty();
    if chunked {
        out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
    } else if !no_body {
        out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    }
    if opts.close {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if no_body || opts.head_only {
        return out;
    }
    if chunked {
        // Small, uneven chunks so that clients' chunk parsers are exercised.
        for piece in resp.body.chunks(7) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
            if opts.break_chunks {
                out.extend_from_slice(b"zz not a chunk size\r\n");
                return out;
            }
        }
        out.extend_from_slice(b"0\r\n\r\n");
    } else {
        out.extend_from_slice(&resp.body);
    }
    out
}

/// Writes bytes, one byte per write when `split`.
pub(crate) fn send(stream: &mut impl Write, bytes: &[u8], split: bool) -> io::Result<()> {
    if split {
        for b in bytes {
            stream.write_all(std::slice::from_ref(b))?;
            stream.flush()?;
        }
        Ok(())
    } else {
        stream.write_all(bytes)?;
        stream.flush()
    }
}

/// Decodes `application/x-www-form-urlencoded` style text (`%XX` and `+`).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of query parameter `name` (first occurrence), percent-decoded.
pub(crate) fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (k, v),
            None => (kv, ""),
        })
        .find(|(k, _)| percent_decode(k) == name)
        .map(|(_, v)| percent_decode(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%2Fd"), "a b c/d");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(
            query_param("bucket=my%20b&org=", "org").as_deref(),
            Some("")
        );
        assert_eq!(
            query_param("bucket=my%20b&org=", "bucket").as_deref(),
            Some("my b")
        );
        assert_eq!(query_param("bucket", "bucket").as_deref(), Some(""));
        assert_eq!(query_param("a=1", "bucket"), None);
    }

    #[test]
    fn chunked_response_serialisation() {
        let r = Response::json(400, serde_json::json!({"code": "invalid"}));
        let s = serialize(
            &r,
            SendOpts {
                chunked: true,
                ..Default::default()
            },
        );
        let s = String::from_utf8(s).unwrap();
        assert!(s.contains("Transfer-Encoding: chunked\r\n"));
        assert!(!s.contains("Content-Length"));
        assert!(s.ends_with("0\r\n\r\n"));
    }
}
