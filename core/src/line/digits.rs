//! Decimal digits of integers, eight at a time and without lookup tables.
//!
//! `itoa` writes two digits per step from a 200-byte table and leaves the
//! digits in its own buffer; here eight digits come out of a handful of
//! multiplies, shifts and masks on one 64-bit word, which matters for the
//! 19-digit nanosecond timestamp of every point and costs no table in flash.

use crate::MCU;

/// The eight decimal digits of `x` (below 10^8), most significant first,
/// as ASCII, leading zeros included.
///
/// A larger `x` gives wrong digits, never a panic: the lane arithmetic
/// wraps rather than checks, so that it costs no more than in release.
// Hosts only (microcontrollers use `u64_digits_by_one`).
#[inline]
pub(crate) fn eight_digits(x: u32) -> [u8; 8] {
    let x = u64::from(x);
    // Two 32-bit lanes of four digits each, the high half in the low lane so
    // that it lands first in little-endian byte order.
    let mut v = (x / 10_000) | ((x % 10_000) << 32);
    // Per lane: v / 100 as (v * 10486) >> 20, exact for v below 43699.
    let hundreds = (v.wrapping_mul(10_486) >> 20) & 0x0000_007F_0000_007F;
    v = hundreds | (v.wrapping_sub(hundreds.wrapping_mul(100)) << 16);
    // Per 16-bit lane: v / 10 as (v * 103) >> 10, exact for v below 179.
    let tens = (v.wrapping_mul(103) >> 10) & 0x000F_000F_000F_000F;
    v = tens | (v.wrapping_sub(tens.wrapping_mul(10)) << 8);
    v.wrapping_add(0x3030_3030_3030_3030).to_le_bytes()
}

/// The high 64 bits of `a * b`.
// Out of line on microcontrollers: less flash than a copy per caller.
#[cfg_attr(target_os = "none", inline(never))]
#[cfg_attr(not(target_os = "none"), inline(always))]
pub(crate) fn mul_high(a: u64, b: u64) -> u64 {
    ((u128::from(a) * u128::from(b)) >> 64) as u64
}

/// `n / 10^8`. On microcontrollers as a multiply by the rounded-up
/// reciprocal `ceil(2^90 / 10^8)` (exact for every `u64`), so no 64-bit
/// division routine is linked (0.9 KiB on a Cortex-M); elsewhere the
/// compiler does the same with native instructions.
#[inline(always)]
pub(crate) fn div_1e8(n: u64) -> u64 {
    if MCU {
        mul_high(n, 0xABCC_7711_8461_CEFD) >> 26
    } else {
        n / 100_000_000
    }
}

/// Room for the digits of any `u64` (20), in whole eight-digit chunks.
pub(crate) const U64_DIGITS: usize = 24;

/// Writes the digits of `n` to `out` so that they end at `end`, which must
/// be at least [`U64_DIGITS`] (or 16 for `n` below 10^16); returns where
/// they start. Bytes before that may be overwritten with zeros.
#[cfg_attr(not(target_os = "none"), inline(always))]
pub(crate) fn u64_digits(n: u64, out: &mut [u8], end: usize) -> usize {
    if MCU {
        u64_digits_by_one(n, out, end)
    } else {
        u64_digits_by_eight(n, out, end)
    }
}

/// [`u64_digits`] on microcontrollers: a digit at a time (32-bit
/// multiplies by a constant) from chunks below 10^8, so neither the
/// eight-digit lane code nor a 64-bit division is linked.
fn u64_digits_by_one(n: u64, out: &mut [u8], end: usize) -> usize {
    const CHUNK: u32 = 100_000_000;
    let mut at = end;
    let mut rest = n;
    loop {
        let q = div_1e8(rest);
        let mut chunk = (rest as u32).wrapping_sub((q as u32).wrapping_mul(CHUNK));
        rest = q;
        // All eight digits while a chunk follows; else up to the last
        // nonzero one (at least one digit).
        let mut k = 0;
        while k < 8 && (rest != 0 || chunk != 0 || k == 0) {
            at = at.saturating_sub(1);
            if let Some(slot) = out.get_mut(at) {
                *slot = b'0' + (chunk % 10) as u8;
            }
            chunk /= 10;
            k += 1;
        }
        if rest == 0 {
            return at;
        }
    }
}

/// [`u64_digits`] on hosts: eight digits per step.
#[inline(always)]
fn u64_digits_by_eight(n: u64, out: &mut [u8], end: usize) -> usize {
    const CHUNK: u32 = 100_000_000;
    let mut at = end.saturating_sub(8);
    let mut rest = div_1e8(n);
    // The remainder from the quotient: wrapping 32-bit arithmetic is exact.
    let mut top = eight_digits((n as u32).wrapping_sub((rest as u32).wrapping_mul(CHUNK)));
    put(out, at, top);
    // u64::MAX / 10^16 is 1844: three chunks at most.
    while rest != 0 {
        at = at.saturating_sub(8);
        let q = div_1e8(rest);
        top = eight_digits((rest as u32).wrapping_sub((q as u32).wrapping_mul(CHUNK)));
        put(out, at, top);
        rest = q;
    }
    at + leading_zeros(top)
}

/// How many of the eight digits are leading zeros, keeping at least one digit.
// Hosts only (microcontrollers use `u64_digits_by_one`).
#[inline]
pub(crate) fn leading_zeros(digits: [u8; 8]) -> usize {
    let values = u64::from_le_bytes(digits).wrapping_sub(0x3030_3030_3030_3030);
    (values.trailing_zeros() as usize / 8).min(7)
}

// Hosts only (microcontrollers use `u64_digits_by_one`).
#[inline(always)]
fn put<const N: usize>(out: &mut [u8], at: usize, bytes: [u8; N]) {
    if let Some(dst) = out.get_mut(at..at + N) {
        dst.copy_from_slice(&bytes);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use proptest::prelude::*;

    fn formatted(n: u64) -> std::string::String {
        let mut out = [0u8; U64_DIGITS];
        let start = u64_digits(n, &mut out, U64_DIGITS);
        let text = std::string::String::from_utf8(out[start..].to_vec()).unwrap();
        // The microcontrollers' digit-at-a-time version writes the same.
        let mut out = [0u8; U64_DIGITS];
        let start = u64_digits_by_one(n, &mut out, U64_DIGITS);
        assert_eq!(&out[start..], text.as_bytes());
        text
    }

    #[test]
    fn edges() {
        for n in [
            0,
            1,
            9,
            10,
            99,
            100,
            9_999,
            10_000,
            99_999_999,
            100_000_000,
            100_000_001,
            9_999_999_999_999_999,
            10_000_000_000_000_000,
            1_465_839_830_100_400_200,
            u64::MAX,
        ] {
            assert_eq!(formatted(n), std::format!("{n}"));
        }
        // Out of range: wrong digits, but no panic (this runs with overflow checks).
        for x in [100_000_000, 4_294_967_295] {
            leading_zeros(eight_digits(x));
        }
        for x in 0..100_000u32 {
            let expected = std::format!("{x:08}");
            assert_eq!(&eight_digits(x), expected.as_bytes());
        }
    }

    #[test]
    fn div_1e8_by_reciprocal() {
        let by_reciprocal = |n: u64| mul_high(n, 0xABCC_7711_8461_CEFD) >> 26;
        for n in [
            0,
            1,
            99_999_999,
            100_000_000,
            u64::MAX,
            u64::MAX - 1,
            1 << 63,
        ] {
            assert_eq!(by_reciprocal(n), n / 100_000_000);
            assert_eq!(div_1e8(n), n / 100_000_000);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 20_000, ..ProptestConfig::default() })]
        #[test]
        fn matches_display(n in any::<u64>(), shift in 0u32..64) {
            let n = n >> shift;
            prop_assert_eq!(formatted(n), std::format!("{n}"));
            prop_assert_eq!(mul_high(n, 0xABCC_7711_8461_CEFD) >> 26, n / 100_000_000);
            let x = (n % 100_000_000) as u32;
            let expected = std::format!("{x:08}");
            prop_assert_eq!(&eight_digits(x)[..], expected.as_bytes());
        }
    }
}
