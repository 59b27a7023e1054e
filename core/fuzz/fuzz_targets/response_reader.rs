//! The response reader (and the outcome built from it) on arbitrary bytes,
//! delivered in arbitrary read sizes, into buffers of arbitrary size.
//!
//! Input layout: byte 0 = read size (1..=256), byte 1 = buffer size
//! (0..=1020, in steps of 4), rest = the bytes from the peer.
//!
//! Each input is read twice: as sent (no panic, no endless loop), and
//! behind a valid status line (the status chosen by byte 0), where the
//! status must decide: `read_response` returns `Ok` with that status
//! whatever follows, and the outcome's action is the one of its class.
#![no_main]

use core::convert::Infallible;
use libfuzzer_sys::fuzz_target;
use linewire::http::{read_response, ReadLimits, Reply};

struct Chunked<'a> {
    input: &'a [u8],
    chunk: usize,
    reads: usize,
}

impl embedded_io::ErrorType for Chunked<'_> {
    type Error = Infallible;
}

impl embedded_io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        self.reads += 1;
        let n = buf.len().min(self.chunk).min(self.input.len());
        buf[..n].copy_from_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Ok(n)
    }
}

const STATUSES: [u16; 16] = [
    200, 204, 301, 400, 401, 403, 404, 405, 408, 413, 422, 429, 500, 502, 503, 599,
];

#[path = "../../tests/status_class/mod.rs"]
mod status_class;
use status_class::action_ok;

fuzz_target!(|data: &[u8]| {
    let [chunk, size, wire @ ..] = data else {
        return;
    };
    let limits = ReadLimits::new(64 * 1024);

    // As sent.
    let mut stream = Chunked {
        input: wire,
        chunk: usize::from(*chunk) + 1,
        reads: 0,
    };
    let mut buf = vec![0u8; usize::from(*size) * 4];
    if let Ok(resp) = read_response(&mut stream, &mut buf, limits) {
        assert!(resp.body().len() as u64 <= u64::from(resp.body_len()));
        let reply = Reply::from(resp);
        let _ = reply.outcome.action();
    }
    // Every read but the last consumed at least one byte: no endless loop.
    assert!(stream.reads <= wire.len() + 1);

    // Behind a valid status line: the status decides.
    let status = STATUSES[usize::from(*chunk) % STATUSES.len()];
    let mut framed = format!("HTTP/1.1 {status} X\r\n").into_bytes();
    let line = framed.len();
    framed.extend_from_slice(wire);
    let mut stream = Chunked {
        input: &framed,
        chunk: usize::from(*chunk / 16) + 1,
        reads: 0,
    };
    let mut buf = vec![0u8; (usize::from(*size) * 4).max(line)];
    let resp = match read_response(&mut stream, &mut buf, limits) {
        Ok(resp) => resp,
        Err(e) => panic!("status {status}: {e}"),
    };
    assert_eq!(resp.status(), status);
    assert!(resp.body().len() as u64 <= u64::from(resp.body_len()));
    if resp.truncation().is_some() {
        assert!(!resp.is_reusable());
    }
    let reply = Reply::from(resp);
    assert_eq!(reply.status, status);
    assert!(action_ok(status, &reply.outcome), "{status}: {:?}", reply.outcome);
    assert!(stream.reads <= framed.len() + 1);
});
