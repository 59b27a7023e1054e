//! Shortest round-trip float digits for flash-constrained builds (feature
//! `small`): Ryū's `d2d` with its compact tables, translated from the `ryu`
//! crate (1.0.23, `src/d2s.rs`, `src/d2s_small_table.rs`,
//! `src/d2s_intrinsics.rs`, `src/common.rs`) without `unsafe`, and a printer
//! that writes the same text as `ryu::Buffer::format_finite`.
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

const MANTISSA_BITS: u32 = 52;
const BIAS: i32 = 1023;
const POW5_INV_BITCOUNT: i32 = 125;
const POW5_BITCOUNT: i32 = 125;

static POW5_INV_SPLIT2: [(u64, u64); 15] = [
    (1, 2305843009213693952),
    (5955668970331000884, 1784059615882449851),
    (8982663654677661702, 1380349269358112757),
    (7286864317269821294, 2135987035920910082),
    (7005857020398200553, 1652639921975621497),
    (17965325103354776697, 1278668206209430417),
    (8928596168509315048, 1978643211784836272),
    (10075671573058298858, 1530901034580419511),
    (597001226353042382, 1184477304306571148),
    (1527430471115325346, 1832889850782397517),
    (12533209867169019542, 1418129833677084982),
    (5577825024675947042, 2194449627517475473),
    (11006974540203867551, 1697873161311732311),
    (10313493231639821582, 1313665730009899186),
    (12701016819766672773, 2032799256770390445),
];

static POW5_INV_OFFSETS: [u32; 19] = [
    0x54544554, 0x04055545, 0x10041000, 0x00400414, 0x40010000, 0x41155555, 0x00000454, 0x00010044,
    0x40000000, 0x44000041, 0x50454450, 0x55550054, 0x51655554, 0x40004000, 0x01000001, 0x00010500,
    0x51515411, 0x05555554, 0x00000000,
];

static POW5_SPLIT2: [(u64, u64); 13] = [
    (0, 1152921504606846976),
    (0, 1490116119384765625),
    (1032610780636961552, 1925929944387235853),
    (7910200175544436838, 1244603055572228341),
    (16941905809032713930, 1608611746708759036),
    (13024893955298202172, 2079081953128979843),
    (6607496772837067824, 1343575221513417750),
    (17332926989895652603, 1736530273035216783),
    (13037379183483547984, 2244412773384604712),
    (1605989338741628675, 1450417759929778918),
    (9630225068416591280, 1874621017369538693),
    (665883850346957067, 1211445438634777304),
    (14931890668723713708, 1565756531257009982),
];

static POW5_OFFSETS: [u32; 21] = [
    0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x40000000, 0x59695995, 0x55545555, 0x56555515,
    0x41150504, 0x40555410, 0x44555145, 0x44504540, 0x45555550, 0x40004000, 0x96440440, 0x55565565,
    0x54454045, 0x40154151, 0x55559155, 0x51405555, 0x00000105,
];

fn pow5bits(e: i32) -> i32 {
    (((e as u32 * 1217359) >> 19) + 1) as i32
}

fn log10_pow2(e: i32) -> u32 {
    (e as u32 * 78913) >> 18
}

fn log10_pow5(e: i32) -> u32 {
    (e as u32 * 732923) >> 20
}

fn get<T: Copy + Default>(t: &[T], i: u32) -> T {
    t.get(i as usize).copied().unwrap_or_default()
}

/// `5^i` (`inv == false`) or `1/5^i` (`inv == true`) as a 128-bit
/// fixed-point number, from the compact tables (Ryū's `compute_pow5` and
/// `compute_inv_pow5` in one function: one copy of the 128-bit arithmetic).
#[inline(never)]
fn compute_pow5(i: u32, inv: bool) -> (u64, u64) {
    // Ryū's table of 5^0 ..= 5^25, computed: 208 bytes less flash.
    let n = 26;
    let (base, split, offsets): (u32, &[(u64, u64)], &[u32]) = if inv {
        (i.div_ceil(n), &POW5_INV_SPLIT2, &POW5_INV_OFFSETS)
    } else {
        (i / n, &POW5_SPLIT2, &POW5_OFFSETS)
    };
    let base2 = base * n;
    let mul = get(split, base);
    if base2 == i {
        return mul;
    }
    let mut m = 1u64; // 5^offset
    for _ in 0..base2.abs_diff(i) {
        m *= 5;
    }
    let b0 = m as u128 * (mul.0 - inv as u64) as u128;
    let b2 = m as u128 * mul.1 as u128;
    let delta = pow5bits(i as i32).abs_diff(pow5bits(base2 as i32));
    // (b0 >> delta) + (b2 << (64 - delta)) + extra, in 64-bit halves
    // (2 <= delta <= 59): a 128-bit shift by a variable amount is long code
    // on a 32-bit target.
    let (b0l, b0h) = (b0 as u64, (b0 >> 64) as u64);
    let (b2l, b2h) = (b2 as u64, (b2 >> 64) as u64);
    let left = 64 - delta;
    let extra = inv as u64 + ((get(offsets, i / 16) >> ((i % 16) << 1)) & 3) as u64;
    let (lo, c1) = ((b0l >> delta) | (b0h << left)).overflowing_add(b2l << left);
    let (lo, c2) = lo.overflowing_add(extra);
    let hi = (b0h >> delta)
        .wrapping_add((b2h << left) | (b2l >> delta))
        .wrapping_add(c1 as u64 + c2 as u64);
    (lo, hi)
}

/// `x / 10` as a multiply by the rounded-up reciprocal `ceil(2^67 / 10)`
/// (exact for every `u64`): no 64-bit division routine on a 32-bit target.
/// One copy, not inlined: the multiply is a few instructions there.
#[inline(never)]
fn div10(x: u64) -> u64 {
    crate::digits::mul_high(x, 0xCCCC_CCCC_CCCC_CCCD) >> 3
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

fn mul_shift_64(m: u64, mul: (u64, u64), j: u32) -> u64 {
    let b0 = m as u128 * mul.0 as u128;
    let b2 = m as u128 * mul.1 as u128;
    let sum = (b0 >> 64) + b2;
    // `sum >> (j - 64)` with 0 < j - 64 < 64 (Ryū's `shiftright128`), in
    // 64-bit halves: shorter code on a 32-bit target.
    let s = j - 64;
    ((sum as u64) >> s) | (((sum >> 64) as u64) << (64 - s))
}

/// `(vr, vp, vm)`.
fn mul_shift_all_64(m: u64, mul: (u64, u64), j: u32, mm_shift: u32) -> (u64, u64, u64) {
    (
        mul_shift_64(4 * m, mul, j),
        mul_shift_64(4 * m + 2, mul, j),
        mul_shift_64(4 * m - 1 - mm_shift as u64, mul, j),
    )
}

/// The shortest decimal `mantissa × 10^exponent` that reads back as the
/// double (Ryū's `d2d`).
#[inline(never)]
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
    let (mut vr, mut vp, mut vm);
    let e10: i32;
    let mut vm_is_trailing_zeros = false;
    let mut vr_is_trailing_zeros = false;
    if e2 >= 0 {
        let q = log10_pow2(e2) - (e2 > 3) as u32;
        e10 = q as i32;
        let k = POW5_INV_BITCOUNT + pow5bits(q as i32) - 1;
        let i = -e2 + q as i32 + k;
        (vr, vp, vm) = mul_shift_all_64(m2, compute_pow5(q, true), i as u32, mm_shift);
        if q <= 21 {
            // Only one of mp, mv and mm can be a multiple of 5, if any.
            // `mv / 5` by the rounded-up reciprocal `ceil(2^66 / 5)` (exact
            // for every `u64`): no 64-bit division.
            let mv_div5 = crate::digits::mul_high(mv, 0xCCCC_CCCC_CCCC_CCCD) >> 2;
            let mv_mod5 = (mv as u32).wrapping_sub(5u32.wrapping_mul(mv_div5 as u32));
            if mv_mod5 == 0 {
                vr_is_trailing_zeros = multiple_of_power_of_5(mv, q);
            } else if accept_bounds {
                vm_is_trailing_zeros = multiple_of_power_of_5(mv - 1 - mm_shift as u64, q);
            } else {
                vp -= multiple_of_power_of_5(mv + 2, q) as u64;
            }
        }
    } else {
        let q = log10_pow5(-e2) - (-e2 > 1) as u32;
        e10 = q as i32 + e2;
        let i = -e2 - q as i32;
        let k = pow5bits(i) - POW5_BITCOUNT;
        let j = q as i32 - k;
        (vr, vp, vm) = mul_shift_all_64(m2, compute_pow5(i as u32, false), j as u32, mm_shift);
        if q <= 1 {
            vr_is_trailing_zeros = true;
            if accept_bounds {
                vm_is_trailing_zeros = mm_shift == 1;
            } else {
                vp -= 1;
            }
        } else if q < 63 {
            vr_is_trailing_zeros = (mv & ((1u64 << q) - 1)) == 0;
        }
    }

    // Step 4: the shortest representation in the interval.
    let mut removed = 0i32;
    let mut last_removed_digit = 0u8;
    // Ryū's general case only: its common case (~99.3%, no trailing zeros
    // in the interval) is this loop with both flags false, digit pairs
    // removed at a time for speed; one loop is less flash.
    loop {
        let vp_div10 = div10(vp);
        let vm_div10 = div10(vm);
        if vp_div10 <= vm_div10 {
            break;
        }
        let vm_mod10 = (vm as u32).wrapping_sub(10u32.wrapping_mul(vm_div10 as u32));
        let vr_div10 = div10(vr);
        let vr_mod10 = (vr as u32).wrapping_sub(10u32.wrapping_mul(vr_div10 as u32));
        vm_is_trailing_zeros &= vm_mod10 == 0;
        vr_is_trailing_zeros &= last_removed_digit == 0;
        last_removed_digit = vr_mod10 as u8;
        vr = vr_div10;
        vp = vp_div10;
        vm = vm_div10;
        removed += 1;
    }
    if vm_is_trailing_zeros {
        loop {
            let vm_div10 = div10(vm);
            let vm_mod10 = (vm as u32).wrapping_sub(10u32.wrapping_mul(vm_div10 as u32));
            if vm_mod10 != 0 {
                break;
            }
            let vp_div10 = div10(vp);
            let vr_div10 = div10(vr);
            let vr_mod10 = (vr as u32).wrapping_sub(10u32.wrapping_mul(vr_div10 as u32));
            vr_is_trailing_zeros &= last_removed_digit == 0;
            last_removed_digit = vr_mod10 as u8;
            vr = vr_div10;
            vp = vp_div10;
            vm = vm_div10;
            removed += 1;
        }
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
#[inline(never)]
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
    let mut digits = [0u8; 20];
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
        let mut exp = [0u8; 20];
        out.extend(decimal(u64::from((kk - 1).unsigned_abs()), &mut exp));
    }
    out
}

/// The decimal digits of `m`, at the end of `digits`.
fn decimal(mut m: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut first = digits.len();
    while first > 0 {
        first -= 1;
        if let Some(d) = digits.get_mut(first) {
            let q = div10(m);
            *d = b'0' + (m - q * 10) as u8;
            m = q;
        }
        if m == 0 {
            break;
        }
    }
    digits.get(first..).unwrap_or_default()
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
