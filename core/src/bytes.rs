//! Byte helpers every layer uses: a fixed buffer's writable end, comparisons
//! and copies that link no `memcmp` and no panic path, a UTF-8 prefix. The
//! leaf of the crate: it uses nothing else in it.

use crate::MCU;

/// The writable end of a fixed byte buffer: `bytes[..len]` is written.
///
/// Not `heapless::Vec`: its `extend_from_slice` copies byte by byte and
/// updates the length each time, which was most of the cost of a point.
/// The length is a copy, stored back by the owner once a step is done: a
/// length behind a reference is reloaded after every byte written, as the
/// compiler cannot tell that the bytes do not overlap it.
pub(crate) struct Buf<'a> {
    pub(crate) bytes: &'a mut [u8],
    pub(crate) len: usize,
}

impl Buf<'_> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// `a == b` as a byte loop: slice equality links `memcmp` (0.1 KiB on a
/// Cortex-M) for the few short keys compared off the hot path.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// `b` after the prefix `p`, if it starts with it (`strip_prefix` without
/// `memcmp`, as [`same`]).
pub(crate) fn strip<'a>(b: &'a [u8], p: &[u8]) -> Option<&'a [u8]> {
    let (head, tail) = b.split_at_checked(p.len())?;
    same(head, p).then_some(tail)
}

/// `dst.copy_from_slice(src)` for slices of the same length. On
/// microcontrollers a zipped copy: the same bytes (LLVM makes it a
/// `memcpy`) without `copy_from_slice`'s length-mismatch panic path, its
/// location and its file name in flash.
#[inline(always)]
pub(crate) fn copy(dst: &mut [u8], src: &[u8]) {
    if MCU {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// The longest valid UTF-8 prefix of `b` (a body cut in the middle of a
/// character keeps the characters before it).
pub(crate) fn utf8_prefix(b: &[u8]) -> &str {
    // `utf8_chunks` rather than `from_utf8`: the same validation in less
    // flash (no word-at-a-time ASCII path).
    b.utf8_chunks().next().map_or("", |c| c.valid())
}
