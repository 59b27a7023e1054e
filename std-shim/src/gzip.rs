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

/// The default compression level: 1, the fastest. On line protocol it
/// still shrinks a body about 7x (level 6, zlib's default, about 9x), at
/// about a sixth of level 6's CPU time, so a writer keeps up with a server
/// on a fast link; raise it with [`Client::gzip_level`](crate::Client::gzip_level)
/// where bandwidth costs more than CPU.
pub const DEFAULT_LEVEL: u8 = 1;

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
