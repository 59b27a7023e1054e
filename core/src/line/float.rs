//! Shortest round-trip float digits for flash-constrained builds (feature
//! `small`): Ryū's `d2d`, translated from the `ryu` crate (1.0.23,
//! `src/d2s.rs`, `src/common.rs`) without `unsafe`, and a printer that
//! writes the same text as `ryu::Buffer::format_finite`.
//!
//! Ryū's tables of 128-bit powers of five (0.6 KiB even in their compact
//! form, plus the code that expands them) are not used: the three products
//! they approximate, `floor(m * 2^a / 5^b)` and `floor(m * 5^a / 2^b)`, are
//! computed exactly in a 27-limb bignum on the stack ([`scale`]), and Ryū's
//! digit loop continues from there unchanged. That is 1.2 KiB less flash
//! on a Cortex-M3, for more work per float (not measured on hardware): a
//! handful of passes over 27 limbs for everyday magnitudes, about 75 at
//! the extremes of the exponent range.
//!
//! # Why not `ryu`
//!
//! `ryu` is what the crate uses everywhere else. On a Cortex-M3 with the
//! `small` feature (opt-level "z", fat LTO), its printer moves digits with
//! `ptr::copy`, which links `compiler_builtins`' 1.6 KiB `memmove`, and
//! brings its own 200-byte digit table and two mantissa/exponent writers:
//! about 2 KiB of flash for formatting a float, against the 16 KiB budget
//! of issue 7 for the whole library. This printer produces the digits with
//! plain division and never moves bytes backwards.
//!
//! The digits are bit-exact `ryu`'s: the tests below compare the two on
//! every kind of double (random bits, decimals, powers of ten and two,
//! subnormals, the extremes), and the firmware proof compares the
//! firmware's request bytes with the host's (which uses `ryu`).
//!
//! The original C code (<https://github.com/ulfjack/ryu>) is Copyright 2018
//! Ulf Adams, and its Rust translation (`ryu`) is by David Tolnay; both are
//! under the Apache License 2.0 (or the Boost Software License 1.0).

use core::num::NonZeroU32;

use crate::line::digits::{u64_digits, U64_DIGITS};

const MANTISSA_BITS: u32 = 52;
const BIAS: i32 = 1023;
fn log10_pow2(e: i32) -> u32 {
    (e as u32 * 78913) >> 18
}

fn log10_pow5(e: i32) -> u32 {
    (e as u32 * 732923) >> 20
}

/// Limbs of [`scale`]'s exact products: the largest is `4 * m2 * 5^325`
/// (the smallest doubles), under 810 bits.
const LIMBS: usize = 27;

/// `base^k` for the chunks [`scale`] multiplies and divides by (at most
/// `2^31`, `5^13`), never zero.
fn power(base: u32, k: u32) -> NonZeroU32 {
    let mut p = 1u32;
    for _ in 0..k {
        p = p.wrapping_mul(base);
    }
    NonZeroU32::new(p).unwrap_or(NonZeroU32::MIN)
}

/// `floor(x * up.0^up.1 / down.0^down.1)`, exactly, for bases 2 and 5:
/// what Ryū's 128-bit multipliers approximate (close enough that its
/// results are these floors), computed with a small bignum instead of
/// Ryū's tables. The caller's exponents keep the result below 2^64.
// Inlined on microcontrollers: less flash there.
#[cfg_attr(not(target_os = "none"), inline(never))]
fn scale(x: u64, up: (u32, u32), down: (u32, u32)) -> u64 {
    let mut n = [0u32; LIMBS];
    n[0] = x as u32;
    n[1] = (x >> 32) as u32;
    // Multiply in chunks of at most 2^31 (a limb times it plus a carry
    // fits 64 bits)...
    let (base, mut e) = up;
    while e > 0 {
        let k = e.min(if base == 2 { 31 } else { 13 });
        e -= k;
        let m = u64::from(power(base, k).get());
        let mut carry = 0u64;
        for limb in n.iter_mut() {
            let p = u64::from(*limb) * m + carry;
            *limb = p as u32;
            carry = p >> 32;
        }
    }
    // ...and divide in chunks below 2^16, a half-limb at a time, so each
    // step is a 32-bit division (no 64-bit division routine).
    let (base, mut e) = down;
    while e > 0 {
        let k = e.min(if base == 2 { 15 } else { 6 });
        e -= k;
        let d = power(base, k);
        let mut r = 0u32;
        for limb in n.iter_mut().rev() {
            let hi = (r << 16) | (*limb >> 16);
            let lo = ((hi % d) << 16) | (*limb & 0xffff);
            *limb = ((hi / d) << 16) | (lo / d);
            r = lo % d;
        }
    }
    u64::from(n[0]) | (u64::from(n[1]) << 32)
}

/// `x / 10` as a multiply by the rounded-up reciprocal `ceil(2^67 / 10)`
/// (exact for every `u64`): no 64-bit division routine on a 32-bit target.
/// One copy, not inlined: the multiply is a few instructions there.
#[inline(never)]
fn div10(x: u64) -> u64 {
    crate::line::digits::mul_high(x, 0xCCCC_CCCC_CCCC_CCCD) >> 3
}

fn multiple_of_power_of_5(mut value: u64, p: u32) -> bool {
    const M_INV_5: u64 = 14757395258967641293; // 5 * m_inv_5 = 1 (mod 2^64)
    const N_DIV_5: u64 = 3689348814741910323; // 2^64 / 5
    let mut count = 0u32;
    loop {
        value = value.wrapping_mul(M_INV_5);
        if value > N_DIV_5 {
            break;
        }
        count += 1;
    }
    count >= p
}

/// The shortest decimal `mantissa × 10^exponent` that reads back as the
/// double (Ryū's `d2d`).
// Inlined on microcontrollers: less flash there.
#[cfg_attr(not(target_os = "none"), inline(never))]
fn d2d(ieee_mantissa: u64, ieee_exponent: u32) -> (u64, i32) {
    let (e2, m2) = if ieee_exponent == 0 {
        (1 - BIAS - MANTISSA_BITS as i32 - 2, ieee_mantissa)
    } else {
        (
            ieee_exponent as i32 - BIAS - MANTISSA_BITS as i32 - 2,
            (1u64 << MANTISSA_BITS) | ieee_mantissa,
        )
    };
    let even = (m2 & 1) == 0;
    let accept_bounds = even;

    // Step 2: the interval of valid decimal representations.
    let mv = 4 * m2;
    let mm_shift = (ieee_mantissa != 0 || ieee_exponent <= 1) as u32;

    // Step 3: to a decimal power base.
    let mut vm_is_trailing_zeros = false;
    let mut vr_is_trailing_zeros = false;
    // Ryū's `mulShiftAll64`: mv, mp and mm scaled by 10^-e10, each floored.
    let mm = mv - 1 - mm_shift as u64;
    let e10: i32;
    let (q, up, down) = if e2 >= 0 {
        let q = log10_pow2(e2) - (e2 > 3) as u32;
        e10 = q as i32;
        // mv * 2^e2 / 10^q = mv * 2^(e2 - q) / 5^q
        (q, (2, e2 as u32 - q), (5, q))
    } else {
        let q = log10_pow5(-e2) - (-e2 > 1) as u32;
        e10 = q as i32 + e2;
        // mv * 2^e2 / 10^(q + e2) = mv * 5^(-e2 - q) / 2^q
        (q, (5, (-e2) as u32 - q), (2, q))
    };
    let mut v = [mv, mv + 2, mm];
    for x in v.iter_mut() {
        *x = scale(*x, up, down);
    }
    let [mut vr, mut vp, mut vm] = v;
    if e2 >= 0 {
        if q <= 21 {
            // Only one of mp, mv and mm can be a multiple of 5, if any.
            // (`mv % 5 == 0` by the same function: no 64-bit division.)
            if multiple_of_power_of_5(mv, 1) {
                vr_is_trailing_zeros = multiple_of_power_of_5(mv, q);
            } else if accept_bounds {
                vm_is_trailing_zeros = multiple_of_power_of_5(mm, q);
            } else {
                vp -= multiple_of_power_of_5(mv + 2, q) as u64;
            }
        }
    } else {
        if q <= 1 {
            vr_is_trailing_zeros = true;
            if accept_bounds {
                vm_is_trailing_zeros = mm_shift == 1;
            } else {
                vp -= 1;
            }
        } else if q < 63 {
            // `mv % 2^q == 0` without a variable 64-bit shift (mv > 0).
            vr_is_trailing_zeros = mv.trailing_zeros() >= q;
        }
    }

    // Step 4: the shortest representation in the interval.
    let mut removed = 0i32;
    let mut last_removed_digit = 0u8;
    // Ryū's general case only: its common case (~99.3%, no trailing zeros
    // in the interval) is this loop with both flags false, digit pairs
    // removed at a time for speed; one loop is less flash.
    // Ryū's second loop (after the first, while vm ends in zeros and may
    // be the output) folded into the first: `more_zeros`.
    let mut more_zeros = false;
    loop {
        let vm_div10 = div10(vm);
        let vm_mod10 = (vm as u32).wrapping_sub(10u32.wrapping_mul(vm_div10 as u32));
        if more_zeros {
            if vm_mod10 != 0 {
                break;
            }
        } else {
            let vp_div10 = div10(vp);
            if vp_div10 <= vm_div10 {
                if !vm_is_trailing_zeros {
                    break;
                }
                more_zeros = true;
                continue;
            }
            vm_is_trailing_zeros &= vm_mod10 == 0;
            vp = vp_div10;
        }
        let vr_div10 = div10(vr);
        let vr_mod10 = (vr as u32).wrapping_sub(10u32.wrapping_mul(vr_div10 as u32));
        vr_is_trailing_zeros &= last_removed_digit == 0;
        last_removed_digit = vr_mod10 as u8;
        vr = vr_div10;
        vm = vm_div10;
        removed += 1;
    }
    if vr_is_trailing_zeros && last_removed_digit == 5 && vr % 2 == 0 {
        // Round even if the exact number is .....50..0.
        last_removed_digit = 4;
    }
    // We need to take vr + 1 if vr is outside bounds or we need to round up.
    let output = vr
        + ((vr == vm && (!accept_bounds || !vm_is_trailing_zeros)) || last_removed_digit >= 5)
            as u64;
    (output, e10 + removed)
}

/// The text of a float, at most 24 bytes.
pub(crate) struct Text {
    bytes: [u8; 24],
    len: usize,
}

impl Text {
    #[inline(never)]
    fn push(&mut self, b: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = b;
            self.len += 1;
        }
    }

    fn extend(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.push(b);
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or_default()
    }
}

/// `v` (finite) as `ryu::Buffer::format_finite` writes it: `-0.0`,
/// `21.5`, `1e-7`, `1.2345e30`.
// Inlined on microcontrollers: less flash there.
#[cfg_attr(not(target_os = "none"), inline(never))]
pub(crate) fn format_finite(v: f64) -> Text {
    let mut out = Text {
        bytes: [0; 24],
        len: 0,
    };
    let bits = v.to_bits();
    let ieee_mantissa = bits & ((1u64 << MANTISSA_BITS) - 1);
    let ieee_exponent = (bits >> MANTISSA_BITS) as u32 & 0x7ff;
    if bits >> 63 != 0 {
        out.push(b'-');
    }
    if ieee_exponent == 0 && ieee_mantissa == 0 {
        out.extend(b"0.0");
        return out;
    }
    let (m, k) = d2d(ieee_mantissa, ieee_exponent);
    let mut digits = [0u8; U64_DIGITS];
    let d = decimal(m, &mut digits);
    let length = d.len() as i32;
    let kk = length + k; // 10^(kk-1) <= v < 10^kk
    if -5 < kk && kk <= 16 {
        // Plain decimal, the point after digit `kk` (0-based positions;
        // zeros before and after the digits): 1234e7 -> 12340000000.0,
        // 1234e-2 -> 12.34, 1234e-6 -> 0.001234.
        let digit = |p: i32| d.get(p as usize).copied().unwrap_or(b'0');
        if kk <= 0 {
            out.push(b'0');
        }
        for p in 0..kk {
            out.push(digit(p));
        }
        out.push(b'.');
        if length <= kk {
            out.push(b'0');
        }
        for p in kk..length {
            out.push(digit(p));
        }
    } else {
        // 1e30, 1234e30 -> 1.234e33
        let (lead, rest) = d.split_first().unwrap_or((&b'0', &[]));
        out.push(*lead);
        if !rest.is_empty() {
            out.push(b'.');
            out.extend(rest);
        }
        out.push(b'e');
        if kk < 1 {
            out.push(b'-');
        }
        let mut exp = [0u8; U64_DIGITS];
        out.extend(decimal(u64::from((kk - 1).unsigned_abs()), &mut exp));
    }
    out
}

/// The decimal digits of `m`, at the end of `digits` (the integer
/// printer the point formatting links anyway).
fn decimal(m: u64, digits: &mut [u8; U64_DIGITS]) -> &[u8] {
    let start = u64_digits(m, digits, U64_DIGITS);
    digits.get(start..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::format_finite;
    use proptest::prelude::*;

    fn check(v: f64) {
        if v.is_finite() {
            let mut ryu = ryu::Buffer::new();
            assert_eq!(
                format_finite(v).as_bytes(),
                ryu.format_finite(v).as_bytes(),
                "{v:e} ({:#x})",
                v.to_bits()
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(100_000))]
        #[test]
        fn equals_ryu_on_any_bits(bits in any::<u64>()) {
            check(f64::from_bits(bits));
        }

        #[test]
        fn equals_ryu_on_decimals(n in any::<i64>(), k in 0i32..25, shift in 0u32..64) {
            check((n >> shift) as f64 / 10f64.powi(k));
            check((n >> shift) as f64 * 10f64.powi(k));
        }
    }

    #[test]
    fn equals_ryu_on_edges() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.3,
            21.5,
            1013.25,
            3297.0 * 0.001,
            1e-5,
            1e-4,
            1e15,
            1e16,
            1e17,
            9007199254740993.0,
            123456789012345680.0,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            f64::EPSILON,
        ] {
            check(v);
        }
        for e in -400..400 {
            for m in [1.0, 1.5, 2.0, 5.0, 9.999999999999999, 1.2345678901234567] {
                check(m * 10f64.powi(e));
                check(-m * 10f64.powi(e));
            }
        }
        for e in -1080..1030 {
            check(2f64.powi(e));
        }
        for bits in [
            0u64,
            1,
            2,
            0x000f_ffff_ffff_ffff,
            0x10000000000000,
            0x7fef_ffff_ffff_ffff,
        ] {
            check(f64::from_bits(bits));
        }
    }
}
