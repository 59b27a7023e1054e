//! The response reader (and the outcome built from it) on arbitrary bytes,
//! delivered in arbitrary read sizes, into buffers of arbitrary size.
//!
//! Input layout: byte 0 = read size (1..=256), byte 1 = buffer size
//! (0..=1020, in steps of 4), rest = the bytes from the peer.
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

fuzz_target!(|data: &[u8]| {
    let [chunk, size, wire @ ..] = data else {
        return;
    };
    let mut stream = Chunked {
        input: wire,
        chunk: usize::from(*chunk) + 1,
        reads: 0,
    };
    let mut buf = vec![0u8; usize::from(*size) * 4];
    let limits = ReadLimits::new(64 * 1024);
    if let Ok(resp) = read_response(&mut stream, &mut buf, limits) {
        assert!(resp.body().len() as u64 <= u64::from(resp.body_len()));
        let reply = Reply::from(resp);
        let _ = reply.outcome.action();
    }
    // Every read but the last consumed at least one byte: no endless loop.
    assert!(stream.reads <= wire.len() + 1);
});
