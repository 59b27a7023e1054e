//! Escaping and validation of each position of a line, and scanners over
//! lines this crate wrote.
//!
//! The rules are the intersection of what the Go parser (InfluxDB 1.x/2.x)
//! and the Rust `influxdb-line-protocol` parser (InfluxDB 3) read back the
//! same way. Where they disagree (a backslash before a character that needs
//! escaping or that either parser unescapes, or at the end of a name) the
//! input is refused instead of written in a form one of them would misread.
//!
//! What each parser removes a backslash before (so what a literal
//! backslash may not precede, besides the characters escaped here):
//!
//! | element | Go (`pkg/escape`, `unescapeTag`) | `influxdb-line-protocol` |
//! |---|---|---|
//! | measurement | `,` `"` space `=` | `,` space `\` |
//! | tag key, tag value | `,` space `=` | `,` space `=` `\` |
//! | field key | `,` `"` space `=` | `,` space `=` `\` |

use crate::bytes::{copy, Buf};
use crate::line::point::{Part, PointError};
use crate::MCU;

/// Needs a backslash before it in a measurement.
pub(crate) const ESC_MEASUREMENT: u8 = 1;
/// Needs a backslash before it in a tag key, tag value or field key.
pub(crate) const ESC_KEY: u8 = 2;
/// Cannot be represented in a name at all: line breaks, tab (a field
/// separator to the InfluxDB 3 parser), NUL.
pub(crate) const FORBIDDEN: u8 = 4;
pub(crate) const BACKSLASH: u8 = 8;
/// Needs a backslash before it inside a string field value.
pub(crate) const ESC_STRING: u8 = 16;

// Evaluated at compile time: an index out of range would be a build error.
#[allow(clippy::indexing_slicing)]
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    table[b',' as usize] = ESC_MEASUREMENT | ESC_KEY;
    table[b' ' as usize] = ESC_MEASUREMENT | ESC_KEY;
    table[b'=' as usize] = ESC_KEY;
    table[b'\n' as usize] = FORBIDDEN;
    table[b'\r' as usize] = FORBIDDEN;
    table[b'\t' as usize] = FORBIDDEN;
    table[0] = FORBIDDEN;
    table[b'\\' as usize] = BACKSLASH | ESC_STRING;
    table[b'"' as usize] = ESC_STRING;
    table
};

/// The escape classes of `b`: a table lookup on hosts, [`class_by_match`]
/// on microcontrollers.
#[cfg_attr(target_os = "none", inline(always))]
#[cfg_attr(not(target_os = "none"), inline)]
pub(crate) fn class(b: u8) -> u8 {
    if MCU {
        return class_by_match(b);
    }
    // A u8 always indexes a 256-entry table, so the `None` arm is compiled
    // out: the same single load as indexing.
    match CLASS.get(usize::from(b)) {
        Some(&class) => class,
        None => 0,
    }
}

/// On microcontrollers [`class`] is this match: the same classes without
/// the 256-byte table in flash.
#[cfg_attr(target_os = "none", inline(never))]
fn class_by_match(b: u8) -> u8 {
    match b {
        b',' | b' ' => ESC_MEASUREMENT | ESC_KEY,
        b'=' => ESC_KEY,
        b'\n' | b'\r' | b'\t' | 0 => FORBIDDEN,
        b'\\' => BACKSLASH | ESC_STRING,
        b'"' => ESC_STRING,
        _ => 0,
    }
}

pub(crate) fn escape_bit(part: Part) -> u8 {
    match part {
        Part::Measurement => ESC_MEASUREMENT,
        _ => ESC_KEY,
    }
}

/// Appends a [`Name`](crate::Name): plain ones as they are, others
/// through [`write_name`].
#[cfg_attr(target_os = "none", inline(always))]
#[cfg_attr(not(target_os = "none"), inline)]
pub(crate) fn write_name_arg(
    out: &mut Buf<'_>,
    name: crate::Name<'_>,
    part: Part,
) -> Result<(), PointError> {
    if name.is_plain() {
        extend(out, name.as_str().as_bytes())
    } else {
        write_name(out, name.as_str().as_bytes(), part)
    }
}

/// `name == b"time"`; on microcontrollers as a slice pattern, which does
/// not link `memcmp`.
#[inline(always)]
pub(crate) fn is_time(name: &[u8]) -> bool {
    if MCU {
        matches!(name, [b't', b'i', b'm', b'e'])
    } else {
        name == b"time"
    }
}

/// Validates `name` and appends it, escaped for `part`, in one pass.
/// On error the caller discards what was appended.
///
/// Inlined on hosts, as the point builder's steps are, so that `part` is a
/// constant there.
#[cfg_attr(not(target_os = "none"), inline(always))]
pub(crate) fn write_name(out: &mut Buf<'_>, name: &[u8], part: Part) -> Result<(), PointError> {
    let Some(&first) = name.first() else {
        return Err(PointError::Empty(part));
    };
    if part != Part::TagValue {
        if first == b'_' || (part != Part::Measurement && is_time(name)) {
            return Err(PointError::Reserved(part));
        }
        if part == Part::Measurement && first == b'#' {
            return Err(PointError::CommentMarker);
        }
    }
    // Most names need no escape: check and copy them a word at a time.
    // Not on microcontrollers, where flash is scarcer than cycles: the
    // byte loop below gives the same bytes.
    if !MCU {
        let at = out.len;
        if let Some(dst) = out.bytes.get_mut(at..at + name.len()) {
            if copy_plain(dst, name, part != Part::Measurement) {
                out.len = at + name.len();
                return Ok(());
            }
        }
    }
    out.len = write_name_slow(out.bytes, out.len, name, part)?;
    Ok(())
}

/// Something to escape or refuse (or a false alarm, or no room): byte by
/// byte. On hosts kept out of line so the common path stays small; on
/// microcontrollers inlined into its one caller, which takes less flash.
///
/// Takes the buffer's parts rather than the buffer, which would then have
/// to live in memory on the fast path too; returns the new length.
#[cold]
#[cfg_attr(target_os = "none", inline(always))]
#[cfg_attr(not(target_os = "none"), inline(never))]
fn write_name_slow(
    bytes: &mut [u8],
    len: usize,
    name: &[u8],
    part: Part,
) -> Result<usize, PointError> {
    let out = &mut Buf { bytes, len };
    let esc = escape_bit(part);
    let special = esc | FORBIDDEN | BACKSLASH;
    // On hosts the clean prefix is copied whole first; on
    // microcontrollers the loop below alone does the same in less flash.
    let clean = if MCU {
        0
    } else {
        let clean = name
            .iter()
            .position(|&b| class(b) & special != 0)
            .unwrap_or(name.len());
        extend(out, name.get(..clean).unwrap_or_default())?;
        if clean == name.len() {
            return Ok(out.len);
        }
        clean
    };
    let mut start = clean;
    for (i, &b) in name.iter().enumerate().skip(start) {
        let c = class(b);
        if c & special == 0 {
            continue;
        }
        if c & esc != 0 {
            extend(out, name.get(start..i).unwrap_or_default())?;
            push(out, b'\\')?;
            start = i;
        } else if c & FORBIDDEN != 0 {
            return Err(PointError::ForbiddenCharacter(part));
        } else {
            // A backslash: literal only before a character neither parser
            // unescapes (see the module docs): never before `,` space `=`
            // or `\`, nor before `"` outside tags.
            let quote = match part {
                Part::TagKey | Part::TagValue => 0,
                _ => ESC_STRING,
            };
            match name.get(i + 1) {
                None => return Err(PointError::TrailingBackslash(part)),
                Some(&next) if class(next) & (ESC_KEY | BACKSLASH | quote) != 0 => {
                    return Err(PointError::AmbiguousBackslash(part))
                }
                Some(_) => {}
            }
        }
    }
    extend(out, name.get(start..).unwrap_or_default())?;
    Ok(out.len)
}

/// Appends a string field value in quotes, with `"` and `\` escaped.
#[cfg_attr(not(target_os = "none"), inline)]
pub(crate) fn write_string(out: &mut Buf<'_>, value: &[u8]) -> Result<(), PointError> {
    // The word-wide check first is faster, but on a microcontroller not
    // worth its flash: there the byte loop alone does.
    if MCU || has_quote_or_backslash(value) {
        out.len = write_string_escaped(out.bytes, out.len, value)?;
        Ok(())
    } else {
        push(out, b'"')?;
        extend(out, value)?;
        push(out, b'"')
    }
}

/// Whether `value` holds a byte to escape in a string field: a word at a
/// time, as most strings have none.
#[inline]
fn has_quote_or_backslash(value: &[u8]) -> bool {
    let hit = |word: [u8; 8]| {
        let w = u64::from_le_bytes(word);
        let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
        zero_byte(w ^ (ONES * u64::from(b'"'))) | zero_byte(w ^ (ONES * u64::from(b'\\'))) != 0
    };
    let n = value.len();
    if n < 8 {
        return value.iter().any(|&b| class(b) & ESC_STRING != 0);
    }
    let mut at = 0;
    while at + 8 < n {
        if load8(value, at).is_some_and(hit) {
            return true;
        }
        at += 8;
    }
    // The last word overlaps the one before.
    load8(value, n - 8).is_some_and(hit)
}

/// Like [`write_name_slow`], takes and returns the parts of the buffer.
#[cold]
#[cfg_attr(target_os = "none", inline(always))]
#[cfg_attr(not(target_os = "none"), inline(never))]
fn write_string_escaped(bytes: &mut [u8], len: usize, value: &[u8]) -> Result<usize, PointError> {
    let out = &mut Buf { bytes, len };
    push(out, b'"')?;
    let mut start = 0;
    for (i, &b) in value.iter().enumerate() {
        if class(b) & ESC_STRING != 0 {
            extend(out, value.get(start..i).unwrap_or_default())?;
            push(out, b'\\')?;
            start = i;
        }
    }
    extend(out, value.get(start..).unwrap_or_default())?;
    push(out, b'"')?;
    Ok(out.len)
}

#[cfg_attr(not(target_os = "none"), inline(always))]
pub(crate) fn extend(out: &mut Buf<'_>, bytes: &[u8]) -> Result<(), PointError> {
    let start = out.len;
    let end = start + bytes.len();
    let dst = out.bytes.get_mut(start..end).ok_or(PointError::BatchFull)?;
    // Short copies without a `memcpy` call, except on microcontrollers
    // (flash is scarcer than cycles there).
    if !MCU && bytes.len() <= 32 {
        copy_short(dst, bytes);
        out.len = end;
        return Ok(());
    }
    copy(dst, bytes);
    out.len = end;
    Ok(())
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

#[inline(always)]
fn load8(src: &[u8], at: usize) -> Option<[u8; 8]> {
    src.get(at..at + 8)?.try_into().ok()
}

#[inline(always)]
fn load16(src: &[u8], at: usize) -> Option<[u8; 16]> {
    src.get(at..at + 16)?.try_into().ok()
}

#[inline(always)]
fn load4(src: &[u8], at: usize) -> Option<[u8; 4]> {
    src.get(at..at + 4)?.try_into().ok()
}

#[inline(always)]
fn store<const W: usize>(dst: &mut [u8], at: usize, word: [u8; W]) {
    if let Some(d) = dst.get_mut(at..at + W) {
        d.copy_from_slice(&word);
    }
}

/// Whether any byte of `word` may need escaping or refusing: every such
/// byte is below `-` (0x2D), a backslash, or (in keys and tag values) `=`.
/// False alarms (`!` to `+`) only send the name down the slow path.
#[inline(always)]
fn may_be_special(word: [u8; 8], key: bool) -> bool {
    let w = u64::from_le_bytes(word);
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v;
    let mut hits = w.wrapping_sub(ONES * 0x2D) & !w;
    hits |= zero_byte(w ^ (ONES * u64::from(b'\\')));
    if key {
        hits |= zero_byte(w ^ (ONES * u64::from(b'=')));
    }
    hits & HIGHS != 0
}

/// Copies `src` to the start of `dst` (as long as `src`) when none of its
/// bytes needs a closer look, with whole-word loads and stores (the last
/// word overlapping the one before) instead of a call to `memcpy`.
/// Returns false, having perhaps written part of `dst`, otherwise.
#[inline(always)]
fn copy_plain(dst: &mut [u8], src: &[u8], key: bool) -> bool {
    let n = src.len();
    if n >= 8 {
        let mut at = 0;
        loop {
            let Some(word) = load8(src, at) else {
                return false;
            };
            if may_be_special(word, key) {
                return false;
            }
            store(dst, at, word);
            if at + 8 == n {
                return true;
            }
            at = (at + 8).min(n - 8);
        }
    } else if n >= 4 {
        let (Some(head), Some(tail)) = (load4(src, 0), load4(src, n - 4)) else {
            return false;
        };
        let mut word = [0u8; 8];
        word[..4].copy_from_slice(&head);
        word[4..].copy_from_slice(&tail);
        if may_be_special(word, key) {
            return false;
        }
        store(dst, 0, head);
        store(dst, n - 4, tail);
        true
    } else {
        let special =
            escape_bit(if key { Part::TagKey } else { Part::Measurement }) | FORBIDDEN | BACKSLASH;
        for (d, &b) in dst.iter_mut().zip(src) {
            if class(b) & special != 0 {
                return false;
            }
            *d = b;
        }
        true
    }
}

/// Copies up to 32 bytes with at most two overlapping word copies.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    if n >= 16 {
        if let (Some(head), Some(tail)) = (load16(src, 0), load16(src, n - 16)) {
            store(dst, 0, head);
            store(dst, n - 16, tail);
        }
    } else if n >= 8 {
        if let (Some(head), Some(tail)) = (load8(src, 0), load8(src, n - 8)) {
            store(dst, 0, head);
            store(dst, n - 8, tail);
        }
    } else if n >= 4 {
        if let (Some(head), Some(tail)) = (load4(src, 0), load4(src, n - 4)) {
            store(dst, 0, head);
            store(dst, n - 4, tail);
        }
    } else {
        for (d, &b) in dst.iter_mut().zip(src) {
            *d = b;
        }
    }
}

// One out-of-line copy on microcontrollers: less flash.
#[cfg_attr(target_os = "none", inline(never))]
#[cfg_attr(not(target_os = "none"), inline)]
pub(crate) fn push(out: &mut Buf<'_>, byte: u8) -> Result<(), PointError> {
    let at = out.len;
    *out.bytes.get_mut(at).ok_or(PointError::BatchFull)? = byte;
    out.len = at + 1;
    Ok(())
}

/// The bytes of an escaped name as the parsers read them back.
///
/// Valid only for names this module wrote: there a backslash is either an
/// escape before a special character or a literal before an ordinary one.
fn unescaped(escaped: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let mut i = 0;
    core::iter::from_fn(move || {
        let b = *escaped.get(i)?;
        i += 1;
        if b == b'\\' {
            if let Some(&next) = escaped.get(i) {
                if class(next) & (ESC_MEASUREMENT | ESC_KEY) != 0 {
                    i += 1;
                    return Some(next);
                }
            }
        }
        Some(b)
    })
}

/// Orders two escaped keys by their unescaped bytes, as InfluxDB sorts tags.
pub(crate) fn cmp_escaped(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    unescaped(a).cmp(unescaped(b))
}

/// Index of the first byte at or after `from` that is `target` and not
/// escaped, in the measurement/tag section of a line written here.
pub(crate) fn find_unescaped(bytes: &[u8], from: usize, targets: &[u8]) -> Option<usize> {
    let mut i = from;
    while let Some(&b) = bytes.get(i) {
        if b == b'\\' {
            i += 2;
            continue;
        }
        // Not `contains`: for one or two targets a loop is as fast, and
        // `contains` links a 160-byte memchr on microcontrollers.
        for &t in targets {
            if t == b {
                return Some(i);
            }
        }
        i += 1;
    }
    None
}

/// Iterates the `(key_start, key_end)` of each `,key=value` tag in
/// `region`, a run of tags as written here (each starting with a comma).
pub(crate) fn tag_keys(region: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0;
    core::iter::from_fn(move || {
        if region.get(pos) != Some(&b',') {
            return None;
        }
        let key_start = pos + 1;
        let key_end = find_unescaped(region, key_start, b"=")?;
        pos = find_unescaped(region, key_end + 1, b",").unwrap_or(region.len());
        Some((key_start, key_end))
    })
}

/// Iterates the `(key_start, key_end)` of each field in `region`, the
/// field set of a line written here (`k=v,k2="s",...`, no leading space).
pub(crate) fn field_keys(region: &[u8]) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut pos = 0;
    core::iter::from_fn(move || {
        if pos >= region.len() {
            return None;
        }
        let key_start = pos;
        let key_end = find_unescaped(region, key_start, b"=")?;
        pos = skip_field_value(region, key_end + 1)? + 1;
        Some((key_start, key_end))
    })
}

/// Returns the index just past a field value starting at `start` (the
/// index of the following `,`, space, newline, or the end).
fn skip_field_value(bytes: &[u8], start: usize) -> Option<usize> {
    if bytes.get(start) == Some(&b'"') {
        let mut i = start + 1;
        loop {
            match *bytes.get(i)? {
                b'\\' => i += 2,
                b'"' => return Some(i + 1),
                _ => i += 1,
            }
        }
    }
    let rest = bytes.get(start..)?;
    Some(
        start
            + rest
                .iter()
                .position(|&b| b == b',' || b == b' ' || b == b'\n')
                .unwrap_or(rest.len()),
    )
}

/// The index of the first `\n` in `rest` when no `"` or `\\` comes before
/// it; `None` otherwise (or without a `\n`).
fn plain_line_end(rest: &[u8]) -> Option<usize> {
    // Blocks without any of the three bytes are skipped whole (the
    // compiler vectorizes the test).
    let mut at = 0;
    for block in rest.chunks_exact(16) {
        let hit = block.iter().fold(false, |hit, &b| {
            hit | (b == b'\n') | (b == b'"') | (b == b'\\')
        });
        if hit {
            break;
        }
        at += 16;
    }
    for (i, &b) in rest.get(at..)?.iter().enumerate() {
        match b {
            b'\n' => return Some(at + i),
            b'"' | b'\\' => return None,
            _ => {}
        }
    }
    None
}

/// Index of the `\n` that ends the line starting at `start`, in bytes this
/// crate wrote. String field values may hold raw line feeds, so this tracks
/// quoting rather than searching for the first `\n`.
pub(crate) fn line_end(bytes: &[u8], start: usize) -> Option<usize> {
    // Most lines hold no quote and no backslash: then nothing is quoted or
    // escaped, and the line ends at its first `\n` (the walk below finds
    // the same). The queue frames every line it pushes, hands out and
    // removes, so this is its hot path. With `small` (flash first) only
    // the walk is linked.
    if cfg!(feature = "small") {
        return walk_line_end(bytes, start);
    }
    if let Some(end) = bytes.get(start..).and_then(plain_line_end) {
        return Some(start + end);
    }
    quick_line_end(bytes, start).or_else(|| walk_line_end(bytes, start))
}

/// How many `\n` bytes `bytes` holds (counted in blocks the compiler
/// vectorizes).
pub(crate) fn count_newlines(bytes: &[u8]) -> usize {
    bytes
        .chunks(128)
        .map(|block| {
            usize::from(
                block
                    .iter()
                    .fold(0u8, |n, &b| n.wrapping_add(u8::from(b == b'\n'))),
            )
        })
        .sum()
}

/// `(bytes, lines)` of the first lines of `region` (whole lines, each
/// ending at its first `\n`: none holds a raw line feed) that fit in
/// `max_bytes` and `max_lines`, at least one line when `max_lines > 0`.
/// What a walk with [`line_end`] finds there, by blocks of newlines.
pub(crate) fn plain_lines(region: &[u8], max_bytes: usize, max_lines: usize) -> (usize, usize) {
    const BLOCK: usize = 64;
    let (mut lines, mut at) = (0, 0);
    // The end of the last line taken in a byte-wise pass, and the start of
    // the last whole block taken that holds a line's end (its last `\n` is
    // looked for only once, at the end).
    let (mut end, mut last_block) = (0, None);
    let settle = |end: usize, last_block: Option<usize>| {
        last_block
            .and_then(|b: usize| {
                let block = region.get(b..(b + BLOCK).min(region.len()))?;
                block.iter().rposition(|&x| x == b'\n').map(|i| b + i + 1)
            })
            .map_or(end, |e| e.max(end))
    };
    if max_lines == 0 {
        return (0, 0);
    }
    for block in region.chunks(BLOCK) {
        let block_end = at + block.len();
        let c = count_newlines(block);
        if lines + c < max_lines && block_end <= max_bytes {
            // Every line ending in the block fits.
            if c > 0 {
                last_block = Some(at);
            }
            lines += c;
            at = block_end;
            continue;
        }
        for (i, &b) in block.iter().enumerate() {
            if b == b'\n' {
                let next = at + i + 1;
                if lines > 0 && next > max_bytes {
                    return (settle(end, last_block), lines);
                }
                end = next;
                lines += 1;
                if lines >= max_lines {
                    return (end, lines);
                }
            }
        }
        at = block_end;
    }
    (settle(end, last_block), lines)
}

/// The first index from `from` whose byte is in `set`, skipping blocks of
/// 16 bytes holding none (the compiler vectorizes the test).
pub(crate) fn find_any<const N: usize>(bytes: &[u8], from: usize, set: [u8; N]) -> Option<usize> {
    let rest = bytes.get(from..)?;
    let mut at = 0;
    for block in rest.chunks_exact(16) {
        let hit = block.iter().fold(false, |hit, &b| {
            hit | set.iter().fold(false, |h, &t| h | (b == t))
        });
        if hit {
            break;
        }
        at += 16;
    }
    rest.get(at..)?
        .iter()
        .position(|b| set.iter().any(|t| t == b))
        .map(|p| from + at + p)
}

/// [`walk_line_end`] for a line without a backslash, with fast searches:
/// `None` when it meets a backslash (or no end), and the walk decides.
fn quick_line_end(bytes: &[u8], start: usize) -> Option<usize> {
    let byte = |i: usize| bytes.get(i).copied();
    // Measurement and tags: up to the first space.
    let mut i = find_any(bytes, start, [b' ', b'\n', b'\\'])?;
    match byte(i)? {
        b' ' => {}
        b'\n' => return Some(i),
        _ => return None,
    }
    i += 1;
    loop {
        let key_end = find_any(bytes, i, [b'=', b'\n', b' ', b'\\'])?;
        match byte(key_end)? {
            b'=' => {}
            b'\\' => return None,
            // The timestamp (or a malformed line): the next newline.
            _ => return find_any(bytes, key_end, [b'\n']),
        }
        let value = key_end + 1;
        let value_end = if byte(value) == Some(b'"') {
            let close = find_any(bytes, value + 1, [b'"', b'\\'])?;
            if byte(close)? == b'\\' {
                return None;
            }
            close + 1
        } else {
            find_any(bytes, value, [b',', b' ', b'\n']).unwrap_or(bytes.len())
        };
        match byte(value_end)? {
            b',' => i = value_end + 1,
            b'\n' => return Some(value_end),
            _ => return find_any(bytes, value_end, [b'\n']),
        }
    }
}

/// [`line_end`], walking the line's parts.
fn walk_line_end(bytes: &[u8], start: usize) -> Option<usize> {
    // Measurement and tags: everything up to the first unescaped space.
    let mut i = find_unescaped(bytes, start, b" \n")?;
    if bytes.get(i) == Some(&b'\n') {
        return Some(i);
    }
    // Fields, then an optional timestamp.
    i += 1;
    loop {
        let key_end = find_unescaped(bytes, i, b"=\n ")?;
        if bytes.get(key_end) != Some(&b'=') {
            // The timestamp (after a space) or a malformed line: end at the newline.
            let rest = bytes.get(key_end..)?;
            return rest.iter().position(|&b| b == b'\n').map(|p| key_end + p);
        }
        let value_end = skip_field_value(bytes, key_end + 1)?;
        match bytes.get(value_end) {
            Some(b',') => i = value_end + 1,
            Some(b'\n') => return Some(value_end),
            Some(_) => {
                let rest = bytes.get(value_end..)?;
                return rest.iter().position(|&b| b == b'\n').map(|p| value_end + p);
            }
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn class_match_equals_the_table() {
        for b in 0..=u8::MAX {
            assert_eq!(class_by_match(b), CLASS[usize::from(b)], "{b:#04x}");
        }
    }

    fn escaped(name: &str, part: Part) -> Result<std::vec::Vec<u8>, PointError> {
        let mut bytes = [0u8; 64];
        let mut buf = Buf {
            bytes: &mut bytes,
            len: 0,
        };
        write_name(&mut buf, name.as_bytes(), part)?;
        Ok(buf.as_slice().to_vec())
    }

    #[test]
    fn string_escape_scan_finds_every_position() {
        for len in 0..40 {
            let plain: std::vec::Vec<u8> =
                (0..len).map(|i| [b'a', 0xE9, b'!', b'#'][i % 4]).collect();
            assert!(!has_quote_or_backslash(&plain), "{len}");
            for at in 0..len {
                for special in [b'"', b'\\'] {
                    let mut s = plain.clone();
                    s[at] = special;
                    assert!(has_quote_or_backslash(&s), "{len} {at}");
                }
            }
        }
    }

    #[test]
    fn the_plain_path_ends_lines_where_the_walk_does() {
        let texts: [&[u8]; 9] = [
            b"m v=1i 1\n",
            b"m,t=a v=1,w=2 3\nnext\n",
            b"bad\n",
            b"m,tag=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa v=1i,w=2.5,s=true 1700000000000000000\nm v=2\n",
            b"m s=\"a\nb\" 1\n",
            b"m,t=a\\ b v=1\n",
            b"m,t=aaaaaaaaaaaaaaaaaaaaaaaaaaaaa v=\"x\ny\" 1\n",
            b"m v=1i",
            b"",
        ];
        let mut plain = 0;
        for text in texts {
            for start in 0..=text.len() {
                if let Some(end) = text.get(start..).and_then(plain_line_end) {
                    plain += 1;
                    assert_eq!(
                        walk_line_end(text, start),
                        Some(start + end),
                        "{text:?} from {start}"
                    );
                }
                assert_eq!(
                    line_end(text, start).is_some(),
                    walk_line_end(text, start).is_some()
                );
            }
        }
        assert!(plain > 100, "{plain}");
    }

    #[test]
    fn the_fast_searches_end_lines_where_the_walk_does() {
        // Every start in many short texts over the bytes that matter.
        let alphabet = *b"a =,\"\n1\\ab\"=";
        let mut state = 0x2545_f491_u32;
        let mut checked = 0;
        for _ in 0..40_000 {
            let mut text = [0u8; 40];
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let len = 8 + (state % 33) as usize;
            for b in text.iter_mut().take(len) {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                *b = alphabet[(state % alphabet.len() as u32) as usize];
            }
            let text = &text[..len];
            for start in 0..=len {
                assert_eq!(
                    line_end(text, start),
                    walk_line_end(text, start),
                    "{:?} from {start}",
                    core::str::from_utf8(text)
                );
                if quick_line_end(text, start).is_some() {
                    checked += 1;
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    #[test]
    fn plain_lines_counts_as_the_walk_does() {
        let mut text = std::vec::Vec::new();
        for i in 0..300usize {
            let pad = "x".repeat(i % 97);
            text.extend_from_slice(std::format!("m,t={pad} v={i}i {i}\n").as_bytes());
        }
        for max_lines in [0, 1, 2, 7, 64, 299, 300, 1000] {
            for max_bytes in [0, 1, 50, 63, 64, 65, 1000, 4096, usize::MAX] {
                let (mut end, mut lines) = (0, 0);
                while lines < max_lines && end < text.len() {
                    let next = line_end(&text, end).unwrap() + 1;
                    if lines > 0 && next > max_bytes {
                        break;
                    }
                    end = next;
                    lines += 1;
                }
                assert_eq!(
                    plain_lines(&text, max_bytes, max_lines),
                    (end, lines),
                    "{max_bytes} {max_lines}"
                );
            }
        }
        assert_eq!(count_newlines(&text), 300);
    }

    #[test]
    fn line_end_skips_newlines_inside_strings() {
        let text = b"m,t=a\\ b f=\"x\ny\\\"\n\",g=1i 5\nm f=1\n";
        let first = line_end(text, 0).unwrap();
        assert_eq!(&text[..first], &b"m,t=a\\ b f=\"x\ny\\\"\n\",g=1i 5"[..]);
        let second = line_end(text, first + 1).unwrap();
        assert_eq!(&text[first + 1..second], b"m f=1");
        assert_eq!(line_end(text, second + 1), None);
    }

    #[test]
    fn unescaped_compare_orders_by_raw_bytes() {
        let a = escaped("a b", Part::TagKey).unwrap();
        let b = escaped("a=b", Part::TagKey).unwrap();
        // ' ' (0x20) < '=' (0x3d) although the escaped forms are "a\ b" and "a\=b".
        assert_eq!(cmp_escaped(&a, &b), core::cmp::Ordering::Less);
        let c = escaped("a\\b", Part::TagKey).unwrap();
        assert_eq!(&c[..], b"a\\b");
        assert!(unescaped(&c).eq(b"a\\b".iter().copied()));
    }
}
