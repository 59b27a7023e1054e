//! Error bodies: every shape the servers in `write-facts.md` send, parsed
//! by a small JSON scanner (it accepts what `serde-json-core` accepts for
//! these shapes, at a fifth of the code: a differential test holds the
//! two together), strings unescaped in place in the caller's buffer.
//!
//! Shapes understood:
//!
//! - `{"code","message","line"?}`: InfluxDB 2.x, 3.x `/api/v2/write`, Cloud
//!   Serverless (`line` is the first rejected line);
//! - `{"error","data":[{"error_message","line_number",..}]}`: InfluxDB 3
//!   `/api/v3/write_lp` partial writes; `{"error"}`: 1.x and 3.x auth;
//! - `{"code","message","maxLength":"<n>"}`: Telegraf's listener;
//! - anything else (plain text, a proxy's HTML, truncated JSON): kept as
//!   text, cut at the last complete UTF-8 character.
//!
//! Unknown JSON fields are ignored. JSON escapes (`\n`, `\"`, `\u00e9`,
//! surrogate pairs) are decoded in place: an escape is never shorter than
//! what it decodes to, so the decoded text fits where the escaped text was.

use core::fmt;

use crate::bytes::{same, strip, utf8_prefix};

/// The most rejected line numbers kept from one error body.
pub const MAX_REJECTED_LINES: usize = 8;

/// Line numbers (1-based) the server reported as rejected.
///
/// ```
/// use linewire::http::ErrorBody;
///
/// let mut body = *br#"{"error":"partial write of line protocol occurred","data":[{"error_message":"bad","line_number":2,"original_line":"x"}]}"#;
/// let e = ErrorBody::parse(&mut body);
/// assert_eq!(e.rejected.lines(), &[2]);
/// assert_eq!(e.rejected.count(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RejectedLines {
    lines: [u32; MAX_REJECTED_LINES],
    stored: u8,
    count: u32,
}

impl RejectedLines {
    /// The first (at most [`MAX_REJECTED_LINES`]) rejected line numbers, in
    /// the order the server listed them.
    ///
    /// ```
    /// use linewire::http::RejectedLines;
    ///
    /// assert!(RejectedLines::default().lines().is_empty());
    /// ```
    pub fn lines(&self) -> &[u32] {
        self.lines.get(..usize::from(self.stored)).unwrap_or(&[])
    }

    /// How many rejected lines the server reported (may exceed
    /// [`lines`](Self::lines)`.len()`).
    ///
    /// ```
    /// use linewire::http::RejectedLines;
    ///
    /// assert_eq!(RejectedLines::default().count(), 0);
    /// ```
    pub fn count(&self) -> u32 {
        self.count
    }

    /// `true` when no line was reported.
    ///
    /// ```
    /// use linewire::http::RejectedLines;
    ///
    /// assert!(RejectedLines::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub(crate) fn push(&mut self, line: u32) {
        if self.lines().contains(&line) {
            return;
        }
        if let Some(slot) = self.lines.get_mut(usize::from(self.stored)) {
            *slot = line;
            self.stored = self.stored.saturating_add(1);
        }
        self.count = self.count.saturating_add(1);
    }
}

/// The lines as a phrase: `line 2`, `lines 2, 5 and 9`, `12 lines, among
/// them 2, 5 and 9`, or `3 lines it did not name`.
///
/// ```
/// use linewire::http::ErrorBody;
///
/// let mut body = *br#"{"code":"invalid","message":"partial write","line":2}"#;
/// assert_eq!(ErrorBody::parse(&mut body).rejected.to_string(), "line 2");
/// ```
impl fmt::Display for RejectedLines {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = self.lines();
        let listed = u32::try_from(lines.len()).unwrap_or(u32::MAX);
        let count = self.count.max(listed);
        let Some((last, rest)) = lines.split_last() else {
            return match count {
                1 => f.write_str("1 line it did not name"),
                n => write!(f, "{n} lines it did not name"),
            };
        };
        if count > listed {
            write!(f, "{count} lines, among them ")?;
        } else if rest.is_empty() {
            f.write_str("line ")?;
        } else {
            f.write_str("lines ")?;
        }
        for (i, line) in rest.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{line}")?;
        }
        if rest.is_empty() {
            write!(f, "{last}")
        } else {
            write!(f, " and {last}")
        }
    }
}

/// What kind of body it was.
///
/// ```
/// use linewire::http::{BodyKind, ErrorBody};
///
/// let mut body = *b"<html><body>502 Bad Gateway</body></html>";
/// assert_eq!(ErrorBody::parse(&mut body).kind, BodyKind::Text);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BodyKind {
    /// No body, or only whitespace.
    Empty,
    /// A JSON object.
    Json,
    /// Not JSON: [`ErrorBody::message`] is the text.
    Text,
}

/// A parsed error body. Strings borrow the caller's buffer.
///
/// ```
/// use linewire::http::{BodyKind, ErrorBody};
///
/// let mut body = *br#"{"code":"invalid","line":2,"message":"caf\u00e9 \"x\"\nnext"}"#;
/// let e = ErrorBody::parse(&mut body);
/// assert_eq!(e.kind, BodyKind::Json);
/// assert_eq!(e.code, Some("invalid"));
/// assert_eq!(e.message, Some("café \"x\"\nnext"));
/// assert_eq!(e.line, Some(2));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct ErrorBody<'b> {
    /// The shape of the body.
    pub kind: BodyKind,
    /// `code` (2.x/3.x: `"invalid"`, `"not found"`, `"unauthorized"`, ...).
    pub code: Option<&'b str>,
    /// `message`, else `error`, else the text of a non-JSON body (trimmed
    /// of ASCII whitespace).
    pub message: Option<&'b str>,
    /// The first `data[].error_message` of an InfluxDB 3 partial write.
    pub detail: Option<&'b str>,
    /// `line`: the first rejected line (Cloud Serverless).
    pub line: Option<u32>,
    /// Telegraf's `maxLength`: the largest body it accepts, in bytes
    /// (saturating at `u32::MAX`).
    pub max_length: Option<u32>,
    /// `dropped=N` at the end of a 1.x/2.x partial-write message.
    pub dropped: Option<u32>,
    /// Rejected lines: from `line`, `data[].line_number`, or
    /// `line N (1-based)` in the message.
    pub rejected: RejectedLines,
}

impl<'b> ErrorBody<'b> {
    /// An empty body.
    ///
    /// ```
    /// use linewire::http::{BodyKind, ErrorBody};
    ///
    /// assert_eq!(ErrorBody::empty().kind, BodyKind::Empty);
    /// ```
    pub const fn empty() -> Self {
        Self {
            kind: BodyKind::Empty,
            code: None,
            message: None,
            detail: None,
            line: None,
            max_length: None,
            dropped: None,
            rejected: RejectedLines {
                lines: [0; MAX_REJECTED_LINES],
                stored: 0,
                count: 0,
            },
        }
    }

    /// Parses `body`. JSON strings are unescaped in place (the buffer is
    /// modified). Never fails: what is not a JSON object is text.
    ///
    /// ```
    /// use linewire::http::{BodyKind, ErrorBody};
    ///
    /// let mut body = *b"Unauthorized\n";
    /// let e = ErrorBody::parse(&mut body);
    /// assert_eq!(e.kind, BodyKind::Text);
    /// assert_eq!(e.message, Some("Unauthorized"));
    /// ```
    pub fn parse(body: &'b mut [u8]) -> Self {
        let mut out = Self::empty();
        if body.trim_ascii().is_empty() {
            return out;
        }
        // When the typed scan refuses, a lenient one (`code`, `message`,
        // `error`; the other fields stay `None`).
        let Some(f) = scan(body, true).or_else(|| scan(body, false)) else {
            out.kind = BodyKind::Text;
            let text = utf8_prefix(body).trim_ascii();
            out.message = (!text.is_empty()).then_some(text);
            out.scan_message();
            return out;
        };
        out.kind = BodyKind::Json;
        out.line = f.line;
        if let Some(l) = out.line {
            out.rejected.push(l);
        }
        if let Some(d) = &f.data {
            for l in d.lines.lines() {
                out.rejected.push(*l);
            }
            // Count lines reported beyond those kept.
            let extra = d.lines.count().saturating_sub(d.lines.lines().len() as u32);
            out.rejected.count = out.rejected.count.saturating_add(extra);
        }
        out.max_length = f
            .max_length
            .and_then(|(s, e)| body.get(s..e))
            .and_then(parse_u64)
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        // Unescape each string where it is. The ranges are disjoint.
        // Loops, not `array::map`: one copy of each call.
        let mut ranges = [
            f.code,
            f.message.or(f.error),
            f.data.and_then(|d| d.first_message),
        ];
        for r in ranges.iter_mut() {
            *r = r.map(|r| unescape_in_place(body, r));
        }
        let body: &'b [u8] = body;
        let mut texts = [None; 3];
        for (t, r) in texts.iter_mut().zip(ranges) {
            *t = r.and_then(|(s, e)| body.get(s..e)).map(utf8_prefix);
        }
        [out.code, out.message, out.detail] = texts;
        out.scan_message();
        out
    }

    /// Picks `dropped=N` and `line N (1-based)` out of the message.
    pub(crate) fn scan_message(&mut self) {
        let Some(msg) = self.message else { return };
        let bytes = msg.as_bytes();
        // The number at the start of `b` (`None` without digits or past
        // `u32`), and what follows it.
        let number = |b: &'b [u8]| {
            let digits = b.iter().take_while(|b| b.is_ascii_digit()).count();
            let (num, after) = b.split_at(digits.min(b.len()));
            (parse_u64(num).and_then(|n| u32::try_from(n).ok()), after)
        };
        for i in 0..bytes.len() {
            let rest = bytes.get(i..).unwrap_or_default();
            if let Some(after) = strip(rest, b"dropped=") {
                // The last one counts.
                self.dropped = number(after).0;
            } else if let Some(after) = strip(rest, b"line ") {
                // Cloud Serverless: "error parsing line 3 (1-based): ...".
                if let (Some(n), tail) = number(after) {
                    if strip(tail, b" (1-based)").is_some() {
                        self.rejected.push(n);
                    }
                }
            }
        }
    }
}

/// The fields of a JSON error body: strings as ranges of the body (raw,
/// still escaped), numbers parsed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Fields {
    code: Option<(usize, usize)>,
    message: Option<(usize, usize)>,
    error: Option<(usize, usize)>,
    /// `None` also past `u32::MAX` (a `u32` keeps the struct 4-aligned).
    line: Option<u32>,
    max_length: Option<(usize, usize)>,
    data: Option<DataList>,
}

/// `data`: kept line numbers and the first message; any length.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct DataList {
    lines: RejectedLines,
    first_message: Option<(usize, usize)>,
}

/// The deepest nesting of arrays and objects the scanner follows (the
/// error bodies have three levels; a deeper body is text). It bounds the
/// scanner's recursion, so its stack.
const MAX_DEPTH: u8 = 16;

/// Scans `body` as one JSON object with the fields of [`Fields`]; `None`
/// when it is not one. `full`: every field, typed (`line` a number,
/// `maxLength` a string, `data` an array of objects); else only `code`,
/// `message` and `error`, the others skipped whatever their type.
///
/// The grammar is `serde-json-core`'s (`from_slice` of a
/// `#[derive(Deserialize)]` struct of `Option`s with `#[serde(default)]`),
/// quirks included, so the results do not depend on which of the two
/// parsed: a repeated known field fails, unknown fields are skipped
/// (scalars up to the next `,`, `}` or `]` without further checks), a
/// number is `0` or digits without sign, fraction or exponent (a fraction
/// then fails at the next key), strings must be UTF-8 and keep their
/// escapes, only whitespace may follow the object. Unlike `serde-json-core`,
/// nesting deeper than [`MAX_DEPTH`] fails instead of recursing on.
fn scan(body: &[u8], full: bool) -> Option<Fields> {
    let mut j = Json { b: body, i: 0 };
    let mut f = Fields::default();
    // Bit per known field, to refuse repeats.
    let mut seen = 0u8;
    j.container(0, b'{', &mut |j, key| {
        // The known keys; past the first three, only in a `full` scan.
        const KEYS: [&[u8]; 6] = [
            b"code",
            b"message",
            b"error",
            b"maxLength",
            b"line",
            b"data",
        ];
        let known = KEYS.get(..if full { 6 } else { 3 }).unwrap_or_default();
        let Some(idx) = j.known(key, known, &mut seen)? else {
            return j.skip(1);
        };
        let slot = match idx {
            0 => &mut f.code,
            1 => &mut f.message,
            2 => &mut f.error,
            3 => &mut f.max_length,
            4 => {
                f.line = j.opt_u32()?;
                return Some(());
            }
            _ => {
                f.data = j.opt_data()?;
                return Some(());
            }
        };
        *slot = j.opt_str()?;
        Some(())
    })?;
    match j.ws() {
        None => Some(f),
        Some(_) => None,
    }
}

/// A cursor over JSON bytes.
struct Json<'a> {
    b: &'a [u8],
    i: usize,
}

/// What a container does with each member: given the key (a range of the
/// body; `(0, 0)` in an array), with the cursor at the value.
type OnKey<'f, 'a> = dyn FnMut(&mut Json<'a>, (usize, usize)) -> Option<()> + 'f;

impl<'a> Json<'a> {
    /// Which of `keys` the key at `key` is: `Some(None)` for none of them,
    /// `None` (refused) for one already in `seen` (a bit per key).
    fn known(&self, key: (usize, usize), keys: &[&[u8]], seen: &mut u8) -> Option<Option<usize>> {
        let name = self.b.get(key.0..key.1).unwrap_or_default();
        let Some(idx) = keys.iter().position(|k| same(k, name)) else {
            return Some(None);
        };
        let bit = 1u8 << idx;
        if *seen & bit != 0 {
            return None;
        }
        *seen |= bit;
        Some(Some(idx))
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// One byte on. Wrapping, not checked: `i` only moves on past a byte
    /// `peek` found, so it stays at most `b.len()` (never near `usize::MAX`).
    fn bump(&mut self) {
        self.i = self.i.wrapping_add(1);
    }

    /// Skips whitespace; the next byte.
    fn ws(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.bump();
        }
        self.peek()
    }

    /// A string's raw content (escapes kept), which must be UTF-8.
    fn string(&mut self) -> Option<(usize, usize)> {
        if self.ws()? != b'"' {
            return None;
        }
        self.bump();
        let start = self.i;
        loop {
            match self.peek()? {
                b'"' => break,
                b'\\' => self.i = self.i.saturating_add(2),
                _ => self.bump(),
            }
        }
        let end = self.i;
        self.bump();
        let raw = self.b.get(start..end)?;
        if utf8_prefix(raw).len() != raw.len() {
            return None;
        }
        Some((start, end))
    }

    /// `true` past a `null`; `false` before another value.
    fn null(&mut self) -> Option<bool> {
        if self.ws()? != b'n' {
            return Some(false);
        }
        let end = self.i.saturating_add(4);
        if self.b.get(self.i..end)? != b"null" {
            return None;
        }
        self.i = end;
        Some(true)
    }

    // Inlined on microcontrollers: less flash.
    #[cfg_attr(target_os = "none", inline(always))]
    fn opt_str(&mut self) -> Option<Option<(usize, usize)>> {
        if self.null()? {
            return Some(None);
        }
        self.string().map(Some)
    }

    /// A number: `Some(None)` for `null` and past `u32::MAX`; `None`
    /// (refused) past `u64::MAX`, as `serde-json-core` refuses it.
    fn opt_u32(&mut self) -> Option<Option<u32>> {
        if self.null()? {
            return Some(None);
        }
        let first = self.ws()?;
        let start = self.i;
        if !first.is_ascii_digit() {
            return None;
        }
        self.bump();
        if first != b'0' {
            while let Some(b'0'..=b'9') = self.peek() {
                self.bump();
            }
        }
        super::response::digits_value(self.b.get(start..self.i)?).map(|n| u32::try_from(n).ok())
    }

    /// `data`: `null`, or an array of objects with `error_message` and
    /// `line_number`.
    fn opt_data(&mut self) -> Option<Option<DataList>> {
        if self.null()? {
            return Some(None);
        }
        let mut out = DataList::default();
        self.container(1, b'[', &mut |j, _| {
            let (mut message, mut line) = (None, None);
            let mut seen = 0u8;
            j.container(2, b'{', &mut |j, key| {
                let keys: [&[u8]; 2] = [b"error_message", b"line_number"];
                let Some(idx) = j.known(key, &keys, &mut seen)? else {
                    return j.skip(3);
                };
                if idx == 0 {
                    message = j.opt_str()?;
                } else {
                    line = j.opt_u32()?;
                }
                Some(())
            })?;
            if let (None, Some(m)) = (out.first_message, message) {
                // Field by field: a whole-`Option` copy here made LLVM call
                // `memmove` (1.6 KiB on a Cortex-M).
                out.first_message = Some(m);
            }
            match line {
                Some(l) => out.lines.push(l),
                None => out.lines.count = out.lines.count.saturating_add(1),
            }
            Some(())
        })?;
        Some(Some(out))
    }

    /// An object or array (`open` is `{` or `[`) at nesting `depth`.
    /// An object: `{`, then `"key": value` pairs separated by commas
    /// (`on` reads each value, given its key), then `}`. An array: `[`,
    /// values separated by commas (as `serde-json-core`, a comma may also
    /// come first), `]` (`on` reads each value; the key is `(0, 0)`). One
    /// loop for both: less flash than two.
    fn container(&mut self, depth: u8, open: u8, on: &mut OnKey<'_, 'a>) -> Option<()> {
        if depth > MAX_DEPTH || self.ws()? != open {
            return None;
        }
        let object = open == b'{';
        // `}` and `]` are two past `{` and `[`.
        let close = open.wrapping_add(2);
        self.bump();
        let mut first = true;
        loop {
            let mut c = self.ws()?;
            if c == close {
                break;
            }
            if c == b',' && (!first || !object) {
                self.bump();
                c = self.ws()?;
            } else if first {
                first = false;
            } else {
                return None;
            }
            let mut key = (0, 0);
            if object {
                if c != b'"' {
                    return None;
                }
                key = self.string()?;
                if self.ws()? != b':' {
                    return None;
                }
                self.bump();
            } else if c == b']' {
                return None;
            }
            on(self, key)?;
        }
        self.bump();
        Some(())
    }

    /// Skips a value of a field nobody reads, at nesting `depth`.
    fn skip(&mut self, depth: u8) -> Option<()> {
        match self.ws()? {
            b'"' => self.string().map(drop),
            open @ (b'[' | b'{') => {
                self.container(depth, open, &mut |j, _| j.skip(depth.saturating_add(1)))
            }
            b',' | b'}' | b']' => None,
            _ => loop {
                match self.peek()? {
                    b',' | b'}' | b']' => return Some(()),
                    _ => self.bump(),
                }
            },
        }
    }
}

/// Digits, surrounded by ASCII whitespace or not. Inlined on
/// microcontrollers: less flash.
#[cfg_attr(target_os = "none", inline(always))]
fn parse_u64(v: &[u8]) -> Option<u64> {
    super::response::parse_u64(v.trim_ascii())
}

fn hex4(b: &[u8]) -> Option<u32> {
    let digits = b.get(..4)?;
    digits.iter().try_fold(0u32, |acc, &c| {
        // The value of a hex digit, any case (`char::to_digit(16)`).
        let d = match c {
            b'0'..=b'9' => c - b'0',
            _ => match c | 0x20 {
                l @ b'a'..=b'f' => l - b'a' + 10,
                _ => return None,
            },
        };
        Some(acc * 16 + u32::from(d))
    })
}

/// UTF-8 of `cp` (a scalar value, at most U+10FFFF) into `out`; returns its
/// length. What `char::encode_utf8` writes, without its panic path.
// Out of line on microcontrollers: less flash.
#[cfg_attr(target_os = "none", inline(never))]
fn utf8_encode(cp: u32, out: &mut [u8; 4]) -> usize {
    let n = match cp {
        0..=0x7F => 1,
        0x80..=0x7FF => 2,
        0x800..=0xFFFF => 3,
        _ => 4,
    };
    // Lead byte: the length marker and the top bits; then 6 bits a byte.
    const LEAD: [u8; 4] = [0, 0xC0, 0xE0, 0xF0];
    let mut rest = cp;
    for i in (1..n).rev() {
        if let Some(b) = out.get_mut(i) {
            *b = 0x80 | (rest & 0x3F) as u8;
        }
        rest >>= 6;
    }
    out[0] = LEAD.get(n - 1).copied().unwrap_or(0) | rest as u8;
    n
}

/// Decodes the JSON escapes of `buf[start..end]` in place; returns the range
/// of the decoded text (`start..start + n`, `n <= end - start`). Invalid
/// escapes are kept as written; lone surrogates become U+FFFD.
fn unescape_in_place(buf: &mut [u8], (start, end): (usize, usize)) -> (usize, usize) {
    // The one-letter escapes and what they stand for.
    const FROM: &[u8; 8] = b"\"\\/bfnrt";
    const TO: &[u8; 8] = b"\"\\/\x08\x0c\n\r\t";
    let end = end.min(buf.len());
    let mut r = start;
    let mut w = start;
    while r < end {
        let Some(&c) = buf.get(r) else { break };
        let mut decoded = [c, 0, 0, 0];
        let (mut n, mut used) = (1, 1);
        if c == b'\\' {
            let next = buf.get(r + 1).copied().filter(|_| r + 1 < end);
            if let Some(i) = next.and_then(|e| FROM.iter().position(|&f| f == e)) {
                decoded[0] = TO.get(i).copied().unwrap_or(c);
                used = 2;
            } else if next == Some(b'u') {
                if let Some(hi) = buf.get(r + 2..end).and_then(hex4) {
                    let mut cp = hi;
                    used = 6;
                    if matches!(hi, 0xD800..=0xDBFF) {
                        let low = buf
                            .get(r + 6..end)
                            .filter(|t| t.starts_with(b"\\u"))
                            .and_then(|t| t.get(2..))
                            .and_then(hex4)
                            .filter(|lo| matches!(lo, 0xDC00..=0xDFFF));
                        cp = match low {
                            Some(lo) => {
                                used = 12;
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            }
                            None => 0xFFFD,
                        };
                    }
                    // A lone low surrogate is not a char either: U+FFFD.
                    if matches!(cp, 0xD800..=0xDFFF) {
                        cp = 0xFFFD;
                    }
                    n = utf8_encode(cp, &mut decoded);
                }
            }
        }
        // `n <= used`: the decoded bytes never overtake the read position.
        for i in 0..n.min(used) {
            if let (Some(&b), Some(slot)) = (decoded.get(i), buf.get_mut(w)) {
                *slot = b;
                w += 1;
            }
        }
        r += used;
    }
    (start, w)
}

/// The scanner against `serde-json-core` (the parser it replaced), on
/// generated bodies: the same fields, or both refuse.
#[cfg(test)]
mod oracle {
    extern crate std;
    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;

    use super::{scan, DataList, Fields, RejectedLines, MAX_DEPTH};
    use proptest::prelude::*;
    use serde::de::{Deserialize, Deserializer, SeqAccess, Visitor};

    #[derive(serde::Deserialize)]
    struct Full<'a> {
        #[serde(borrow, default)]
        code: Option<&'a str>,
        #[serde(borrow, default)]
        message: Option<&'a str>,
        #[serde(borrow, default)]
        error: Option<&'a str>,
        #[serde(default)]
        line: Option<u64>,
        #[serde(borrow, default, rename = "maxLength")]
        max_length: Option<&'a str>,
        #[serde(borrow, default)]
        data: Option<Data<'a>>,
    }

    #[derive(serde::Deserialize)]
    struct Lenient<'a> {
        #[serde(borrow, default)]
        code: Option<&'a str>,
        #[serde(borrow, default)]
        message: Option<&'a str>,
        #[serde(borrow, default)]
        error: Option<&'a str>,
    }

    #[derive(serde::Deserialize)]
    struct DataItem<'a> {
        #[serde(borrow, default)]
        error_message: Option<&'a str>,
        #[serde(default)]
        line_number: Option<u64>,
    }

    struct Data<'a> {
        lines: RejectedLines,
        first_message: Option<&'a str>,
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V<'a>(core::marker::PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
                type Value = Data<'a>;
                fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                    f.write_str("a list")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Data<'a>, A::Error> {
                    let mut out = Data {
                        lines: RejectedLines::default(),
                        first_message: None,
                    };
                    while let Some(item) = seq.next_element::<DataItem<'a>>()? {
                        if out.first_message.is_none() {
                            out.first_message = item.error_message;
                        }
                        match item.line_number.and_then(|l| u32::try_from(l).ok()) {
                            Some(l) => out.lines.push(l),
                            None => out.lines.count = out.lines.count.saturating_add(1),
                        }
                    }
                    Ok(out)
                }
            }
            d.deserialize_seq(V(core::marker::PhantomData))
        }
    }

    fn at(base: &[u8], part: Option<&str>) -> Option<(usize, usize)> {
        let part = part?;
        let start = part.as_ptr() as usize - base.as_ptr() as usize;
        Some((start, start + part.len()))
    }

    fn serde_scan(b: &[u8], full: bool) -> Option<Fields> {
        if full {
            let (f, _) = serde_json_core::from_slice::<Full<'_>>(b).ok()?;
            Some(Fields {
                code: at(b, f.code),
                message: at(b, f.message),
                error: at(b, f.error),
                line: f.line.and_then(|l| u32::try_from(l).ok()),
                max_length: at(b, f.max_length),
                data: f.data.map(|d| DataList {
                    lines: d.lines,
                    first_message: at(b, d.first_message),
                }),
            })
        } else {
            let (f, _) = serde_json_core::from_slice::<Lenient<'_>>(b).ok()?;
            Some(Fields {
                code: at(b, f.code),
                message: at(b, f.message),
                error: at(b, f.error),
                ..Fields::default()
            })
        }
    }

    fn check(b: &[u8]) {
        // serde-json-core recurses without a bound: only compare within ours.
        if b.iter().filter(|c| matches!(c, b'[' | b'{')).count() > usize::from(MAX_DEPTH) {
            return;
        }
        for full in [true, false] {
            assert_eq!(
                scan(b, full),
                serde_scan(b, full),
                "full={full} {:?}",
                String::from_utf8_lossy(b)
            );
        }
    }

    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        " ",
        "\n",
        "\"code\"",
        "\"message\"",
        "\"error\"",
        "\"line\"",
        "\"maxLength\"",
        "\"data\"",
        "\"error_message\"",
        "\"line_number\"",
        "\"x\"",
        "\"a\\\"b\"",
        "\"\\\\\"",
        "\"\\u00e9\\n\"",
        "\"é\"",
        "\"\u{ff}\"",
        "null",
        "nul",
        "nulx",
        "0",
        "7",
        "12",
        "007",
        "-1",
        "1.5",
        "2e3",
        "18446744073709551615",
        "18446744073709551616",
        "4294967296",
        "true",
        "false",
        "\"",
        "\\",
        "x",
        "\"12\"",
    ];

    fn soup() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(TOKENS), 0..24)
            .prop_map(|t| t.concat().into_bytes())
    }

    fn value() -> impl Strategy<Value = String> {
        let leaf = prop::sample::select(&TOKENS[16..]).prop_map(str::to_string);
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((prop::sample::select(&TOKENS[8..17]), inner), 0..5)
                    .prop_map(|v| {
                        let pairs: Vec<String> =
                            v.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                        format!("{{{}}}", pairs.join(","))
                    }),
            ]
        })
    }

    fn structured() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::collection::vec((prop::sample::select(&TOKENS[8..17]), value()), 0..6),
            prop::option::of((0usize..64, prop::sample::select(TOKENS))),
            prop::option::of(0usize..64),
        )
            .prop_map(|(pairs, insert, delete)| {
                let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k} : {v}")).collect();
                let mut b = format!(" {{{}}} ", pairs.join(",")).into_bytes();
                if let Some((at, t)) = insert {
                    let at = at.min(b.len());
                    b.splice(at..at, t.bytes());
                }
                if let Some(at) = delete {
                    if at < b.len() {
                        b.remove(at);
                    }
                }
                b
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn scanner_equals_serde_json_core_on_soup(b in soup()) {
            check(&b);
        }

        #[test]
        fn scanner_equals_serde_json_core_on_objects(b in structured()) {
            check(&b);
        }
    }

    #[test]
    fn scanner_equals_serde_json_core_on_samples() {
        for s in [
            &br#"{"code":"invalid","message":"x","line":2}"#[..],
            br#"{"error":"partial","data":[{"error_message":"a","line_number":2},{"line_number":5}]}"#,
            br#"{"data":[,{}]}"#,
            br#"{"data":[{} {}]}"#,
            br#"{"data":[,{} {}]}"#,
            br#"{"code":"a","code":"b"}"#,
            br#"{"line":"2","message":"m"}"#,
            br#"{"line":01}"#,
            br#"{"x":tr"ue}"#,
            br#"{"x":[1,2,]}"#,
            br#"{"message":"a\"b\\"} x"#,
            br#"{"maxLength":"1024","code":null}"#,
            br#"{,"code":"a"}"#,
            br#"{"code":"a" "message":"b"}"#,
            br#"{"code":"a",}"#,
            b"{\"message\":\"\xff\"}",
        ] {
            check(s);
        }
        assert!(scan(br#"{"data":[,{}]}"#, true).is_some());
        assert!(scan(br#"{"code":"a" "message":"b"}"#, false).is_none());
    }
}

/// `scan_message` against the one it replaced (substring searches with
/// `windows`), on messages built from the patterns it looks for.
#[cfg(test)]
mod scan_message_oracle {
    extern crate std;
    use super::{parse_u64, ErrorBody, RejectedLines};
    use proptest::prelude::*;

    fn find_first(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }

    fn find_last(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).rposition(|w| w == needle)
    }

    fn old(msg: &str) -> (Option<u32>, RejectedLines) {
        let (mut dropped, mut rejected) = (None, RejectedLines::default());
        let bytes = msg.as_bytes();
        if let Some(pos) = find_last(bytes, b"dropped=") {
            let digits = bytes
                .get(pos.saturating_add(8)..)
                .unwrap_or(&[])
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            let from = pos.saturating_add(8);
            dropped = bytes
                .get(from..from.saturating_add(digits))
                .and_then(parse_u64)
                .and_then(|n| u32::try_from(n).ok());
        }
        let mut rest = bytes;
        while let Some(pos) = find_first(rest, b"line ") {
            rest = rest.get(pos.saturating_add(5)..).unwrap_or(&[]);
            let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let (num, after) = rest.split_at(digits.min(rest.len()));
            if after.starts_with(b" (1-based)") {
                if let Some(n) = parse_u64(num).and_then(|n| u32::try_from(n).ok()) {
                    rejected.push(n);
                }
            }
        }
        (dropped, rejected)
    }

    const PIECES: &[&str] = &[
        "dropped=",
        "dropped=3",
        "line ",
        "line 2",
        " (1-based)",
        "(1-based)",
        "7",
        "4294967296",
        "99999999999999999999",
        " ",
        "x",
        "partial write: ",
        "lin",
        "e ",
        "dropp",
        "ed=",
        "\u{e9}",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn scan_message_equals_the_old_one(parts in prop::collection::vec(prop::sample::select(PIECES), 0..16)) {
            let msg = parts.concat();
            let mut e = ErrorBody::empty();
            e.message = Some(&msg);
            e.scan_message();
            prop_assert_eq!((e.dropped, e.rejected), old(&msg));
        }
    }
}

#[cfg(test)]
mod utf8_encode_test {
    #[test]
    fn utf8_encode_equals_char_encode_utf8() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let mut ours = [0u8; 4];
            let n = super::utf8_encode(u32::from(c), &mut ours);
            let mut core = [0u8; 4];
            assert_eq!(&ours[..n], c.encode_utf8(&mut core).as_bytes());
        }
    }
}
