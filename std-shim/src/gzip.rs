//! gzip request bodies: the core's [`linewire::gzip`] (`miniz_oxide`), plus
//! [`GzipReader`], the same member as a [`std::io::Read`] for streamed
//! request bodies.
//!
//! # Memory
//!
//! About 250 KiB of compressor state per request in flight, freed when the
//! body has been sent; a streamed body's compressed form is never held
//! whole (see [`linewire::gzip`]). The client compresses a large body
//! beforehand instead (see [`crate::client`], "Early 413").

pub use linewire::gzip::{gzip, GzipEncoder, GzipError, DEFAULT_LEVEL, MAX_LEVEL};

use std::io::Read;

/// A gzip member of `input`, compressed as it is read: what a request body
/// streams from, so that compressing overlaps with sending and with the
/// server's reading instead of coming before both.
///
/// ```
/// use std::io::Read;
///
/// let body = b"cpu,host=a usage=0.5 1700000000\n".repeat(100);
/// let mut streamed = Vec::new();
/// let mut reader = linewire_std::gzip::GzipReader::new(&body, 1);
/// reader.read_to_end(&mut streamed)?;
/// assert_eq!(streamed, linewire_std::gzip::gzip(&body, 1));
/// assert_eq!(reader.wire_len(), streamed.len() as u64);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct GzipReader<'a>(GzipEncoder<'a>);

impl<'a> GzipReader<'a> {
    /// Compresses `input` at `level` (see [`gzip`]) as it is read.
    pub fn new(input: &'a [u8], level: u8) -> Self {
        GzipReader(GzipEncoder::new(input, level))
    }

    /// Bytes handed out so far: the size on the wire once all is read.
    pub fn wire_len(&self) -> u64 {
        self.0.wire_len()
    }
}

impl Read for GzipReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf).map_err(std::io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_same_member_as_the_core_encoder() {
        let body = "m,t=a f=1i,s=\"x y\" 1\nm,t=b f=2i 2\n".repeat(3000);
        let mut out = Vec::new();
        let mut reader = GzipReader::new(body.as_bytes(), 1);
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, gzip(body.as_bytes(), 1));
        assert_eq!(reader.wire_len(), out.len() as u64);
        let mut empty = Vec::new();
        GzipReader::new(b"", 1).read_to_end(&mut empty).unwrap();
        assert_eq!(empty, gzip(b"", 1));
    }
}
