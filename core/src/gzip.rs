//! gzip (RFC 1952) request bodies: a 10-byte header, raw deflate from
//! `miniz_oxide`, then the CRC-32 (`crc32fast`) and the length mod 2³².
//! Behind the `gzip` feature, which needs a global allocator.
//!
//! Send the result with [`Payload::compressed`](crate::http::Payload::compressed),
//! which adds `Content-Encoding: gzip`:
//!
//! ```
//! use linewire::http::Payload;
//! use linewire::{gzip, Batch};
//!
//! let mut batch = Batch::<256>::new();
//! batch.point("cpu")?.tag("host", "a")?.field("usage", 0.5)?.finish()?;
//! let body = gzip::gzip(batch.as_bytes(), gzip::DEFAULT_LEVEL);
//! let payload = Payload::new(&body).precision(batch.precision()).compressed(true);
//! assert!(payload.is_compressed());
//! # Ok::<(), linewire::PointError>(())
//! ```
//!
//! # Memory
//!
//! The compressor state is `miniz_oxide`'s, about 250 KiB on the heap (a
//! 32 KiB dictionary, two 64 KiB hash chains, a 64 KiB LZ code buffer and
//! the Huffman tables), held by a [`GzipEncoder`] or for the duration of a
//! [`gzip`] call. [`gzip`] also allocates the output: half the input's size
//! reserved up front and grown only if needed (line protocol usually
//! compresses to 5–20 %). A [`GzipEncoder`] writes into the
//! caller's buffer instead, so its heap cost is the state alone. This is a
//! feature for Linux-class devices: on a microcontroller the state alone is
//! more RAM than most have, which is why the core never needs it.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use miniz_oxide::deflate::core::{
    compress, compress_to_output, create_comp_flags_from_zip_params, CompressorOxide, TDEFLFlush,
    TDEFLStatus,
};

/// The default compression level: 1, the fastest. On a 5000-line body of
/// the throughput benchmark's line protocol (`cd benches && cargo bench
/// --bench gzip`) it shrinks the body 5.1x in 2.0 ms (356 MiB/s), where
/// level 6, zlib's default, shrinks it 7.6x in 15.2 ms: level 1 keeps a
/// writer up with a server on a fast link. Raise it where bandwidth costs
/// more than CPU.
pub const DEFAULT_LEVEL: u8 = 1;

/// The highest compression level `miniz_oxide` knows (levels above are
/// clamped to it).
pub const MAX_LEVEL: u8 = 10;

/// The compressor stopped without finishing: a `miniz_oxide` failure, not
/// something the input can cause. Nothing of the input is lost: the caller
/// still holds it and can send it uncompressed.
///
/// ```
/// let e = linewire::gzip::GzipError;
/// assert_eq!(e.to_string(), "deflate stopped before the end of the input");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct GzipError;

impl fmt::Display for GzipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deflate stopped before the end of the input")
    }
}

impl core::error::Error for GzipError {}

impl embedded_io::Error for GzipError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

/// Compresses `data` into a complete gzip member at `level` (0 = stored,
/// 1 = fastest, 6 = zlib's default, [`MAX_LEVEL`] = smallest).
///
/// ```
/// let body = b"cpu,host=a usage=0.5 1700000000\n".repeat(100);
/// let gz = linewire::gzip::gzip(&body, linewire::gzip::DEFAULT_LEVEL);
/// assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
/// assert!(gz.len() < body.len() / 10);
/// // The trailer holds the CRC-32 and the input length.
/// assert_eq!(&gz[gz.len() - 4..], &(body.len() as u32).to_le_bytes());
/// ```
pub fn gzip(data: &[u8], level: u8) -> Vec<u8> {
    let level = level.min(MAX_LEVEL);
    // Deflated straight after the header, into one buffer: no second copy,
    // and none of `compress_to_vec`'s panic on a compressor failure.
    let mut out = Vec::with_capacity((data.len() / 2).saturating_add(FRAME_LEN));
    out.extend_from_slice(&header(level));
    let (status, _) = compress_to_output(&mut compressor(level), data, TDEFLFlush::Finish, |c| {
        out.extend_from_slice(c);
        true
    });
    if status != TDEFLStatus::Done {
        // Not something the input can cause; the data still goes out whole.
        out.clear();
        out.extend_from_slice(&header(0));
        stored(data, &mut out);
    }
    out.extend_from_slice(&trailer(crc32fast::hash(data), data.len()));
    out
}

/// Bytes a gzip member adds around the deflate stream: header and trailer.
const FRAME_LEN: usize = 18;

/// A raw-deflate compressor at `level` (negative window bits: the gzip
/// frame is ours). The value itself is 64 KiB: [`gzip`] keeps it on its
/// stack for the call, as `miniz_oxide`'s own `compress_to_vec` does, and
/// a [`GzipEncoder`] boxes it.
fn compressor(level: u8) -> CompressorOxide {
    let flags = create_comp_flags_from_zip_params(i32::from(level), -15, 0);
    CompressorOxide::new(flags)
}

/// `data` as deflate stored blocks (RFC 1951 3.2.4), appended to `out`.
fn stored(data: &[u8], out: &mut Vec<u8>) {
    let mut blocks = data.chunks(usize::from(u16::MAX)).peekable();
    if blocks.peek().is_none() {
        // One final empty block.
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        let len = u16::try_from(block.len()).unwrap_or(u16::MAX);
        // BFINAL on the last block, BTYPE 00; the rest of the byte pads.
        out.push(u8::from(blocks.peek().is_none()));
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
}

/// A gzip member of `input`, compressed as it is read into the caller's
/// buffers: what a streamed (chunked) request body reads from, so that
/// compressing overlaps with sending instead of coming before it.
///
/// ```
/// let body = b"cpu,host=a usage=0.5 1700000000\n".repeat(100);
/// let mut encoder = linewire::gzip::GzipEncoder::new(&body, 1);
/// let mut streamed = Vec::new();
/// let mut buf = [0u8; 64];
/// loop {
///     let n = encoder.read(&mut buf)?;
///     if n == 0 {
///         break;
///     }
///     streamed.extend_from_slice(&buf[..n]);
/// }
/// assert_eq!(streamed, linewire::gzip::gzip(&body, 1));
/// assert_eq!(encoder.wire_len(), streamed.len() as u64);
/// # Ok::<(), linewire::gzip::GzipError>(())
/// ```
pub struct GzipEncoder<'a> {
    input: &'a [u8],
    consumed: usize,
    compressor: Box<CompressorOxide>,
    crc: crc32fast::Hasher,
    /// The header or trailer bytes still to hand out.
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

impl fmt::Debug for GzipEncoder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GzipEncoder")
            .field("input_len", &self.input.len())
            .field("consumed", &self.consumed)
            .field("wire_len", &self.wire_len)
            .finish_non_exhaustive()
    }
}

impl<'a> GzipEncoder<'a> {
    /// Compresses `input` at `level` (see [`gzip`]) as it is read.
    ///
    /// ```
    /// let encoder = linewire::gzip::GzipEncoder::new(b"m f=1i\n", 1);
    /// assert_eq!(encoder.wire_len(), 0);
    /// ```
    pub fn new(input: &'a [u8], level: u8) -> Self {
        let level = level.min(MAX_LEVEL);
        GzipEncoder {
            input,
            consumed: 0,
            compressor: Box::new(compressor(level)),
            crc: crc32fast::Hasher::new(),
            frame: header(level),
            frame_len: 10,
            frame_pos: 0,
            stage: Stage::Header,
            wire_len: 0,
        }
    }

    /// Bytes handed out so far: the size on the wire once all is read.
    ///
    /// ```
    /// let mut encoder = linewire::gzip::GzipEncoder::new(b"", 1);
    /// let mut buf = [0u8; 64];
    /// let n = encoder.read(&mut buf)?;
    /// assert_eq!(encoder.wire_len(), n as u64);
    /// # Ok::<(), linewire::gzip::GzipError>(())
    /// ```
    pub fn wire_len(&self) -> u64 {
        self.wire_len
    }

    /// Fills the start of `out` with the next bytes of the member and says
    /// how many; 0 once the member is complete (or when `out` is empty).
    ///
    /// ```
    /// let mut encoder = linewire::gzip::GzipEncoder::new(b"m f=1i\n", 1);
    /// let mut buf = [0u8; 4];
    /// assert_eq!(encoder.read(&mut buf)?, 4);
    /// assert_eq!(&buf[..2], &[0x1f, 0x8b]);
    /// # Ok::<(), linewire::gzip::GzipError>(())
    /// ```
    pub fn read(&mut self, out: &mut [u8]) -> Result<usize, GzipError> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match self.stage {
                Stage::Header | Stage::Trailer => {
                    let n = self.frame_out(out);
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
                        compress(&mut self.compressor, rest, out, TDEFLFlush::Finish);
                    if let Some(fed) = rest.get(..used) {
                        self.crc.update(fed);
                    }
                    self.consumed += used;
                    match status {
                        TDEFLStatus::Done => {
                            let trailer = trailer(self.crc.clone().finalize(), self.input.len());
                            let mut frame = [0u8; 10];
                            for (dst, src) in frame.iter_mut().zip(trailer) {
                                *dst = src;
                            }
                            self.frame = frame;
                            self.frame_len = trailer.len();
                            self.frame_pos = 0;
                            self.stage = Stage::Trailer;
                        }
                        // Progress without an end yet: keep reading.
                        TDEFLStatus::Okay if used > 0 || produced > 0 => {}
                        _ => return Err(GzipError),
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

    fn frame_out(&mut self, out: &mut [u8]) -> usize {
        let rest = self
            .frame
            .get(self.frame_pos..self.frame_len)
            .unwrap_or(&[]);
        let n = rest.len().min(out.len());
        if let (Some(dst), Some(src)) = (out.get_mut(..n), rest.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.frame_pos += n;
        n
    }
}

impl embedded_io::ErrorType for GzipEncoder<'_> {
    type Error = GzipError;
}

/// The member as an [`embedded_io::Read`] stream.
impl embedded_io::Read for GzipEncoder<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, GzipError> {
        GzipEncoder::read(self, buf)
    }
}

fn header(level: u8) -> [u8; 10] {
    // XFL tells decoders how hard the encoder tried (RFC 1952 2.3.1).
    let xfl = match level {
        0 | 1 => 4,
        9 | 10 => 2,
        _ => 0,
    };
    // ID1 ID2, CM = deflate, FLG = 0, MTIME = 0, XFL, OS = unknown.
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

fn trailer(crc: u32, input_len: usize) -> [u8; 8] {
    // ISIZE: the input length modulo 2^32 (RFC 1952), truncation intended.
    #[allow(clippy::cast_possible_truncation)]
    let isize = (input_len as u64 & u64::from(u32::MAX)) as u32;
    let [c0, c1, c2, c3] = crc.to_le_bytes();
    let [s0, s1, s2, s3] = isize.to_le_bytes();
    [c0, c1, c2, c3, s0, s1, s2, s3]
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

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
                let mut reader = GzipEncoder::new(body.as_bytes(), level);
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
        let mut encoder = GzipEncoder::new(b"", 1);
        let mut empty = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match encoder.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => empty.extend_from_slice(&buf[..n]),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(empty, gzip(b"", 1));
    }

    #[test]
    fn stored_blocks_inflate_back() {
        for len in [0, 1, 65_535, 65_536, 200_000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut out = Vec::new();
            stored(&data, &mut out);
            let inflated = miniz_oxide::inflate::decompress_to_vec(&out).expect("valid deflate");
            assert_eq!(inflated, data, "{len} bytes");
        }
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
