//! gzip (RFC 1952) of request bodies: a 10-byte header, raw deflate from
//! `miniz_oxide`, then the CRC-32 (`crc32fast`) and the length mod 2³².
//!
//! # Memory
//!
//! One [`gzip`] call allocates `miniz_oxide`'s compressor state, about
//! 250 KiB (a 32 KiB dictionary, two 64 KiB hash chains, a 64 KiB LZ code
//! buffer and the Huffman tables), freed when the call returns, plus the
//! deflate output (half the input's size reserved up front, grown as
//! needed) and the final gzip copy (line protocol usually compresses to
//! 5–15 %). So the peak is about 250 KiB + input/2: 680 KB for an 860 KB
//! body of 20,000 lines. `tests/gzip_memory.rs` measures it with a
//! counting allocator.

/// The default compression level: 1, the fastest. On the throughput
/// benchmark's line protocol (`benches/`, `--bin throughput`) it shrinks
/// bodies 5.1x (level 6, zlib's default: 7.6x) in 0.42 s per 151 MB against
/// level 6's 3.04 s, so a writer keeps up with a server on a fast link;
/// raise it with [`Client::gzip_level`](crate::Client::gzip_level)
/// where bandwidth costs more than CPU.
pub const DEFAULT_LEVEL: u8 = 1;

use std::io::Read;

use miniz_oxide::deflate::core::{
    compress, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush, TDEFLStatus,
};

/// The highest compression level `miniz_oxide` knows (levels above are
/// clamped to it).
pub const MAX_LEVEL: u8 = 10;

/// Compresses `data` into a complete gzip member at `level` (0 = stored,
/// 1 = fastest, 6 = default, [`MAX_LEVEL`] = smallest).
///
/// ```
/// let body = b"cpu,host=a usage=0.5 1700000000\n".repeat(100);
/// let gz = linewire_std::gzip::gzip(&body, linewire_std::gzip::DEFAULT_LEVEL);
/// assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
/// assert!(gz.len() < body.len() / 10);
/// // The trailer holds the CRC-32 and the input length.
/// assert_eq!(&gz[gz.len() - 4..], &(body.len() as u32).to_le_bytes());
/// ```
pub fn gzip(data: &[u8], level: u8) -> Vec<u8> {
    let level = level.min(MAX_LEVEL);
    let deflated = miniz_oxide::deflate::compress_to_vec(data, level);
    let xfl = match level {
        0 | 1 => 4,
        9 | 10 => 2,
        _ => 0,
    };
    let mut out = Vec::with_capacity(deflated.len().saturating_add(18));
    // ID1 ID2, CM = deflate, FLG = 0, MTIME = 0, XFL, OS = unknown.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]);
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    // ISIZE: the input length modulo 2^32 (RFC 1952), truncation intended.
    #[allow(clippy::cast_possible_truncation)]
    let isize = data.len() as u32;
    out.extend_from_slice(&isize.to_le_bytes());
    out
}

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
pub struct GzipReader<'a> {
    input: &'a [u8],
    consumed: usize,
    compressor: Box<CompressorOxide>,
    crc: crc32fast::Hasher,
    /// Bytes of header or trailer still to hand out, and how many were.
    frame: [u8; 10],
    frame_len: usize,
    frame_pos: usize,
    stage: Stage,
    wire_len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Header,
    Body,
    Trailer,
    Done,
}

impl std::fmt::Debug for GzipReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GzipReader")
            .field("input_len", &self.input.len())
            .field("consumed", &self.consumed)
            .field("wire_len", &self.wire_len)
            .finish_non_exhaustive()
    }
}

impl<'a> GzipReader<'a> {
    /// Compresses `input` at `level` (see [`gzip`]) as it is read.
    pub fn new(input: &'a [u8], level: u8) -> Self {
        let level = level.min(MAX_LEVEL);
        // Raw deflate (negative window bits): the gzip frame is ours.
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
        GzipReader {
            input,
            consumed: 0,
            compressor: Box::new(CompressorOxide::new(flags)),
            crc: crc32fast::Hasher::new(),
            frame: header(level),
            frame_len: 10,
            frame_pos: 0,
            stage: Stage::Header,
            wire_len: 0,
        }
    }

    /// Bytes handed out so far: the size on the wire once all is read.
    pub fn wire_len(&self) -> u64 {
        self.wire_len
    }

    fn frame_out(&mut self, buf: &mut [u8]) -> usize {
        let rest = self
            .frame
            .get(self.frame_pos..self.frame_len)
            .unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        if let (Some(dst), Some(src)) = (buf.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.frame_pos += n;
        n
    }
}

fn header(level: u8) -> [u8; 10] {
    let xfl = match level {
        0 | 1 => 4,
        9 | 10 => 2,
        _ => 0,
    };
    // ID1 ID2, CM = deflate, FLG = 0, MTIME = 0, XFL, OS = unknown.
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

impl Read for GzipReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match self.stage {
                Stage::Header | Stage::Trailer => {
                    let n = self.frame_out(buf);
                    if self.frame_pos >= self.frame_len {
                        self.stage = if self.stage == Stage::Header {
                            Stage::Body
                        } else {
                            Stage::Done
                        };
                    }
                    if n > 0 {
                        self.wire_len += n as u64;
                        return Ok(n);
                    }
                }
                Stage::Body => {
                    let rest = self.input.get(self.consumed..).unwrap_or(&[]);
                    let (status, used, produced) =
                        compress(&mut self.compressor, rest, buf, TDEFLFlush::Finish);
                    if let Some(fed) = rest.get(..used) {
                        self.crc.update(fed);
                    }
                    self.consumed += used;
                    match status {
                        TDEFLStatus::Done => {
                            let crc = self.crc.clone().finalize();
                            // ISIZE: the input length modulo 2^32 (RFC 1952).
                            #[allow(clippy::cast_possible_truncation)]
                            let isize = self.input.len() as u32;
                            self.frame[..4].copy_from_slice(&crc.to_le_bytes());
                            self.frame[4..8].copy_from_slice(&isize.to_le_bytes());
                            self.frame_len = 8;
                            self.frame_pos = 0;
                            self.stage = Stage::Trailer;
                        }
                        TDEFLStatus::Okay if used > 0 || produced > 0 => {}
                        other => {
                            return Err(std::io::Error::other(format!(
                                "deflate stopped: {other:?}"
                            )))
                        }
                    }
                    if produced > 0 {
                        self.wire_len += produced as u64;
                        return Ok(produced);
                    }
                }
                Stage::Done => return Ok(0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_a_decoder() {
        let body = "m,t=a f=1i 1\nm,t=b f=2i 2\n".repeat(500);
        for level in [0, 1, 6, 10, 200] {
            let gz = gzip(body.as_bytes(), level);
            let inflated = miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8])
                .expect("valid deflate");
            assert_eq!(inflated, body.as_bytes(), "level {level}");
            let crc = u32::from_le_bytes(gz[gz.len() - 8..gz.len() - 4].try_into().unwrap());
            assert_eq!(crc, crc32fast::hash(body.as_bytes()));
        }
    }

    #[test]
    fn streaming_gives_the_same_member_whatever_the_read_sizes() {
        let body = "m,t=a f=1i,s=\"x y\" 1\nm,t=b f=2i 2\n".repeat(3000);
        for level in [0, 1, 6, 10] {
            let whole = gzip(body.as_bytes(), level);
            for chunk in [1, 7, 4096, 1 << 20] {
                let mut reader = GzipReader::new(body.as_bytes(), level);
                let mut out = Vec::new();
                let mut buf = vec![0u8; chunk];
                loop {
                    let n = reader.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                }
                assert_eq!(out, whole, "level {level}, reads of {chunk}");
                assert_eq!(reader.wire_len(), whole.len() as u64);
                assert_eq!(reader.read(&mut buf).unwrap(), 0);
            }
        }
        let mut empty = Vec::new();
        GzipReader::new(b"", 1).read_to_end(&mut empty).unwrap();
        assert_eq!(empty, gzip(b"", 1));
    }

    #[test]
    fn empty_input_is_a_valid_member() {
        let gz = gzip(b"", DEFAULT_LEVEL);
        assert_eq!(&gz[gz.len() - 8..], &[0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(
            miniz_oxide::inflate::decompress_to_vec(&gz[10..gz.len() - 8])
                .unwrap()
                .is_empty()
        );
    }
}
