//! Checking a line of line protocol written by someone else against the
//! rules the point builder applies, without building anything.
//!
//! [`check_line`] accepts a line exactly when it is the way this crate
//! writes some point that the builder accepts, up to the spelling of
//! values that every server reads the same way (`1`, `1.50` or `15e-1`
//! for a float, `t` or `TRUE` for a boolean, a backslash before an
//! ordinary character inside a string). So a line it accepts is one the
//! builder could have written, and one it refuses is refused for the same
//! reason the builder would refuse the point, or because it is not line
//! protocol at all.

use core::fmt;

use crate::bytes;
use crate::line::escape::{self, BACKSLASH, ESC_KEY, ESC_STRING, FORBIDDEN};
use crate::line::point::{Part, PointError, MAX_STRING_FIELD_LEN};
use crate::line::precision::{self, Precision};

/// The most characters of the line an error message quotes.
const QUOTED_CHARS: usize = 40;

/// What is wrong with a line: see [`LineError`].
///
/// ```
/// use linewire::{check_line, LineErrorKind, PointError, Precision};
///
/// let err = check_line("m v=1,v=2", Precision::Nanoseconds).unwrap_err();
/// assert_eq!(err.kind(), LineErrorKind::Point(PointError::DuplicateField));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum LineErrorKind {
    /// A rule the point builder applies too, with the error it gives:
    /// a name that is empty, reserved, holds a forbidden character or an
    /// ambiguous backslash; a tag or field given twice; NaN or an
    /// infinity; a string field over 64 KiB; a timestamp out of range.
    Point(PointError),
    /// The line ends before its fields.
    NoFields,
    /// A tag key without `=` and a value after it.
    MissingTagValue,
    /// A field key without `=` and a value after it.
    MissingFieldValue,
    /// An `=` in a tag value without a backslash before it, which
    /// InfluxDB 1.x and 2.x refuse.
    UnescapedEquals,
    /// A field value that is not a number, a string in double quotes or a
    /// boolean.
    NotAValue,
    /// A string field value without its closing `"`.
    UnclosedString,
    /// An integer (`i`) or unsigned (`u`) field value out of its range.
    IntegerOutOfRange,
    /// A timestamp that is not an integer.
    NotATimestamp,
    /// Two spaces in a row, or a space at the end of the line: parts are
    /// separated by exactly one space. (A space at the start leaves the
    /// line without a measurement.)
    ExtraSpace,
    /// Text after a string field value, or after the timestamp.
    Unexpected,
}

/// Why [`check_line`] refused a line: the [`kind`](LineError::kind) of
/// problem, where in the line it was found ([`offset`](LineError::offset)),
/// and the part of the line it is about ([`text`](LineError::text)).
///
/// Its `Display` is a sentence that quotes that part (at most 40
/// characters of it, as written in the line: pass it through a sanitizer
/// before showing it on a terminal).
///
/// ```
/// use linewire::{check_line, Precision};
///
/// let err = check_line("m v=oops", Precision::Nanoseconds).unwrap_err();
/// assert_eq!(err.offset(), 4);
/// assert_eq!(err.text(), "oops");
/// assert_eq!(
///     err.to_string(),
///     "the field value `oops` is not a number, a string in double quotes, or a boolean"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct LineError<'a> {
    kind: LineErrorKind,
    offset: usize,
    text: &'a str,
    precision: Precision,
}

impl<'a> LineError<'a> {
    /// What is wrong.
    ///
    /// ```
    /// use linewire::{check_line, LineErrorKind, Precision};
    /// let err = check_line("m", Precision::Seconds).unwrap_err();
    /// assert_eq!(err.kind(), LineErrorKind::NoFields);
    /// ```
    pub fn kind(&self) -> LineErrorKind {
        self.kind
    }

    /// The byte offset in the line (0 for its first byte) where the
    /// problem was found: the start of the name, value or timestamp at
    /// fault, or the offending byte inside a name.
    ///
    /// ```
    /// use linewire::{check_line, Precision};
    /// let err = check_line("m,room= v=1", Precision::Seconds).unwrap_err();
    /// assert_eq!(err.offset(), 7);
    /// ```
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// The part of the line the error is about, as written there: the name
    /// at fault, the field value, the field key (for a string that is not
    /// closed, too long, or a field given twice), the tag key (for an empty
    /// tag value or a tag given twice), or the timestamp.
    ///
    /// ```
    /// use linewire::{check_line, Precision};
    /// let err = check_line("m s=\"open", Precision::Seconds).unwrap_err();
    /// assert_eq!(err.text(), "s");
    /// ```
    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// `text` cut to [`QUOTED_CHARS`] characters, with `...` when cut.
struct Quoted<'a>(&'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(QUOTED_CHARS) {
            Some((at, _)) => {
                f.write_str("`")?;
                f.write_str(self.0.get(..at).unwrap_or_default())?;
                f.write_str("...`")
            }
            None => write!(f, "`{}`", self.0),
        }
    }
}

impl fmt::Display for LineError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = Quoted(self.text);
        match self.kind {
            LineErrorKind::Point(e) => match e {
                PointError::Empty(Part::Measurement) => f.write_str("the line has no measurement"),
                PointError::Empty(Part::TagValue) => write!(f, "the tag {t} has an empty value"),
                PointError::Empty(part) => write!(f, "a {part} is empty"),
                PointError::ForbiddenCharacter(part) => write!(
                    f,
                    "the {part} {t} contains a line feed, carriage return, tab or NUL"
                ),
                PointError::TrailingBackslash(part) => {
                    write!(f, "the {part} {t} ends with a backslash")
                }
                PointError::AmbiguousBackslash(part) => write!(
                    f,
                    "the {part} {t} has a backslash before {}, which InfluxDB versions read differently",
                    match part {
                        Part::Measurement => "a backslash, quote or equals sign",
                        Part::FieldKey => "a backslash or quote",
                        _ => "another backslash",
                    }
                ),
                PointError::Reserved(Part::Measurement) => {
                    f.write_str("measurement names cannot start with `_`")
                }
                PointError::Reserved(part) => {
                    write!(f, "the {part} {t} is reserved ({part}s cannot start with `_` or be `time`)")
                }
                PointError::CommentMarker => {
                    write!(f, "the measurement {t} starts with `#`, which makes the line a comment")
                }
                PointError::DuplicateTag => write!(f, "the tag {t} is given twice"),
                PointError::DuplicateField => write!(f, "the field {t} is given twice"),
                PointError::NotFinite => write!(
                    f,
                    "the field value {t} is not finite: NaN and infinity cannot be written"
                ),
                PointError::StringTooLong => {
                    write!(f, "the string field {t} is longer than 64 KiB")
                }
                PointError::TimestampOutOfRange => write!(
                    f,
                    "the timestamp {} is out of range for precision {} (1677-09-21 to 2262-04-11)",
                    self.text, self.precision
                ),
                other => write!(f, "{other}"),
            },
            LineErrorKind::NoFields => f.write_str("the line has no fields"),
            LineErrorKind::MissingTagValue => {
                write!(f, "the tag key {t} is not followed by `=` and a value")
            }
            LineErrorKind::MissingFieldValue => write!(f, "the field {t} has no value"),
            LineErrorKind::UnescapedEquals => write!(
                f,
                "the tag value {t} has an `=` without a backslash before it"
            ),
            LineErrorKind::NotAValue => write!(
                f,
                "the field value {t} is not a number, a string in double quotes, or a boolean"
            ),
            LineErrorKind::UnclosedString => {
                write!(f, "the string field {t} is not closed (missing `\"`)")
            }
            LineErrorKind::IntegerOutOfRange => {
                write!(f, "the integer field value {t} is out of range")
            }
            LineErrorKind::NotATimestamp => write!(f, "the timestamp {t} is not an integer"),
            LineErrorKind::ExtraSpace => f.write_str(
                "the line has a space too many (parts are separated by exactly one space, with none at the end)",
            ),
            LineErrorKind::Unexpected => write!(f, "unexpected text {t}"),
        }
    }
}

impl core::error::Error for LineError<'_> {}

/// Checks one line of line protocol (without its line feed) against the
/// rules the point builder applies, with timestamps in `precision`.
///
/// Allocates nothing and never panics; the time taken grows with the
/// square of the number of fields (each key is compared with the earlier
/// ones, as the builder does), linearly otherwise.
///
/// ```
/// use linewire::{check_line, Precision};
///
/// check_line("weather,station=KORD temperature=82.5,ok=true 1465839830", Precision::Seconds)?;
/// let err = check_line("m v=1 99999999999999999999", Precision::Seconds).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "the timestamp 99999999999999999999 is out of range for precision s (1677-09-21 to 2262-04-11)"
/// );
/// # Ok::<(), linewire::LineError>(())
/// ```
///
/// # The rules
///
/// A line is `measurement[,tag_key=tag_value...] field_key=value[,...]
/// [timestamp]`, with exactly one space between the three parts.
///
/// - Names (measurement, tag keys, tag values, field keys) are written
///   escaped as the builder writes them: a backslash before `,` and space
///   (and `=`, except in the measurement). Unescaped, they may not be
///   empty, hold a line feed, carriage return, tab or NUL, or end with a
///   backslash; a literal backslash may not come before a backslash (nor
///   before `"` in a measurement or field key, nor `=` in a measurement),
///   which InfluxDB versions read differently; the measurement and keys
///   may not start with `_`, and keys may not be `time`; the measurement
///   may not start with `#`. An `=` in a tag value needs a backslash.
/// - A tag key or field key may not be given twice.
/// - A field value is a float (`-?digits[.digits][e[+-]digits]`, finite:
///   no NaN or infinity), an integer (`-12i`, within `i64`), an unsigned
///   integer (`12u`, within `u64`), a boolean (`t`, `T`, `true`, `True`,
///   `TRUE` and the same for false) or a string in double quotes, with
///   `\"` and `\\` for a quote and a backslash, of at most 64 KiB once
///   unescaped.
/// - The timestamp is an integer within 1677-09-21 ..= 2262-04-11 in
///   `precision`. (A [`Batch`](crate::Batch) in minutes or hours writes
///   its timestamps in seconds: check its lines with
///   [`Precision::wire`].)
pub fn check_line(line: &str, precision: Precision) -> Result<(), LineError<'_>> {
    Checker { line, precision }.check()
}

struct Checker<'a> {
    line: &'a str,
    precision: Precision,
}

/// A name's extent: where it ends and the byte that ended it (`None` at
/// the end of the line).
struct Scanned {
    end: usize,
    stop: Option<u8>,
}

impl<'a> Checker<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.line.as_bytes()
    }

    fn text(&self, start: usize, end: usize) -> &'a str {
        self.line.get(start..end).unwrap_or_default()
    }

    fn err(&self, kind: LineErrorKind, offset: usize, text: &'a str) -> LineError<'a> {
        LineError {
            kind,
            offset,
            text,
            precision: self.precision,
        }
    }

    fn point_err(&self, e: PointError, offset: usize, text: &'a str) -> LineError<'a> {
        self.err(LineErrorKind::Point(e), offset, text)
    }

    fn check(&self) -> Result<(), LineError<'a>> {
        let b = self.bytes();
        let m = self.name(0, Part::Measurement)?;
        let mut at = m.end;
        let mut stop = m.stop;
        let tags_start = m.end;
        while stop == Some(b',') {
            let key_start = at + 1;
            let key = self.name(key_start, Part::TagKey)?;
            let key_text = self.text(key_start, key.end);
            if key.stop != Some(b'=') {
                return Err(self.err(LineErrorKind::MissingTagValue, key_start, key_text));
            }
            let value = self.name(key.end + 1, Part::TagValue).map_err(|e| {
                if e.kind == LineErrorKind::Point(PointError::Empty(Part::TagValue)) {
                    // The key says which tag it is.
                    self.point_err(PointError::Empty(Part::TagValue), e.offset, key_text)
                } else {
                    e
                }
            })?;
            let earlier = b.get(tags_start..at).unwrap_or_default();
            let new_key = b.get(key_start..key.end).unwrap_or_default();
            for (ks, ke) in escape::tag_keys(earlier) {
                if bytes::same(earlier.get(ks..ke).unwrap_or_default(), new_key) {
                    return Err(self.point_err(PointError::DuplicateTag, key_start, key_text));
                }
            }
            at = value.end;
            stop = value.stop;
        }
        if stop != Some(b' ') {
            return Err(self.err(LineErrorKind::NoFields, at, ""));
        }
        let fields_start = at + 1;
        if b.get(fields_start).is_none() {
            return Err(self.err(LineErrorKind::NoFields, fields_start, ""));
        }
        let mut key_start = fields_start;
        loop {
            if b.get(key_start) == Some(&b' ') {
                return Err(self.err(LineErrorKind::ExtraSpace, key_start, ""));
            }
            let key = self.name(key_start, Part::FieldKey)?;
            let key_text = self.text(key_start, key.end);
            if key.stop != Some(b'=') {
                return Err(self.err(LineErrorKind::MissingFieldValue, key_start, key_text));
            }
            let value_end = self.value(key.end + 1, key_text)?;
            if key_start > fields_start {
                let earlier = b.get(fields_start..key_start - 1).unwrap_or_default();
                let new_key = b.get(key_start..key.end).unwrap_or_default();
                for (ks, ke) in escape::field_keys(earlier) {
                    if bytes::same(earlier.get(ks..ke).unwrap_or_default(), new_key) {
                        return Err(self.point_err(
                            PointError::DuplicateField,
                            key_start,
                            key_text,
                        ));
                    }
                }
            }
            match b.get(value_end) {
                None => return Ok(()),
                Some(b',') => key_start = value_end + 1,
                Some(b' ') => return self.timestamp(value_end + 1),
                Some(_) => {
                    let end = token_end(b, value_end);
                    return Err(self.err(
                        LineErrorKind::Unexpected,
                        value_end,
                        self.text(value_end, end),
                    ));
                }
            }
        }
    }

    /// Scans the escaped name starting at `start` in `part`, applying the
    /// builder's rules ([`escape::write_name`]) to it in the same order.
    fn name(&self, start: usize, part: Part) -> Result<Scanned, LineError<'a>> {
        let b = self.bytes();
        let esc = escape::escape_bit(part);
        // The characters a literal backslash may not precede (see
        // `write_name_slow`).
        let quote = match part {
            Part::TagKey | Part::TagValue => 0,
            _ => ESC_STRING,
        };
        let mut first_err: Option<(LineErrorKind, usize)> = None;
        let mut note = |kind: LineErrorKind, at: usize| {
            if first_err.is_none() {
                first_err = Some((kind, at));
            }
        };
        let mut i = start;
        let stop = loop {
            let Some(&c) = b.get(i) else {
                break None;
            };
            let class = escape::class(c);
            if part == Part::TagValue && c == b'=' {
                // Not the end of the value: InfluxDB 1.x/2.x refuse the line.
                note(LineErrorKind::UnescapedEquals, i);
            } else if class & esc != 0 {
                break Some(c);
            } else if class & FORBIDDEN != 0 {
                note(
                    LineErrorKind::Point(PointError::ForbiddenCharacter(part)),
                    i,
                );
            } else if class & BACKSLASH != 0 {
                match b.get(i + 1) {
                    None => note(LineErrorKind::Point(PointError::TrailingBackslash(part)), i),
                    // An escape, as the builder writes it.
                    Some(&next) if escape::class(next) & esc != 0 => i += 1,
                    Some(&next) if escape::class(next) & (ESC_KEY | BACKSLASH | quote) != 0 => {
                        note(
                            LineErrorKind::Point(PointError::AmbiguousBackslash(part)),
                            i,
                        );
                        // Read past the pair, as the parsers do.
                        i += 1;
                    }
                    // A literal backslash.
                    Some(_) => {}
                }
            }
            i += 1;
        };
        let end = i.min(b.len());
        let name = b.get(start..end).unwrap_or_default();
        let text = self.text(start, end);
        let point = |e| self.point_err(e, start, text);
        let Some(&first) = name.first() else {
            return Err(point(PointError::Empty(part)));
        };
        if part != Part::TagValue {
            if first == b'_' || (part != Part::Measurement && escape::is_time(name)) {
                return Err(point(PointError::Reserved(part)));
            }
            if part == Part::Measurement && first == b'#' {
                return Err(point(PointError::CommentMarker));
            }
        }
        if let Some((kind, at)) = first_err {
            return Err(self.err(kind, at, text));
        }
        Ok(Scanned { end, stop })
    }

    /// Checks the field value starting at `start`; returns where it ends.
    fn value(&self, start: usize, key: &'a str) -> Result<usize, LineError<'a>> {
        let b = self.bytes();
        if b.get(start) == Some(&b'"') {
            return self.string(start, key);
        }
        let end = token_end(b, start);
        let token = b.get(start..end).unwrap_or_default();
        let text = self.text(start, end);
        let kind = match classify(token) {
            Value::Ok => return Ok(end),
            Value::Empty => return Err(self.err(LineErrorKind::MissingFieldValue, start, key)),
            Value::NotFinite => LineErrorKind::Point(PointError::NotFinite),
            Value::OutOfRange => LineErrorKind::IntegerOutOfRange,
            Value::Bad => LineErrorKind::NotAValue,
        };
        Err(self.err(kind, start, text))
    }

    /// Checks the string field value whose `"` is at `start`; returns the
    /// index just past its closing quote.
    fn string(&self, start: usize, key: &'a str) -> Result<usize, LineError<'a>> {
        let b = self.bytes();
        let mut i = start + 1;
        // `\"` and `\\` are one byte once unescaped.
        let mut escapes = 0usize;
        loop {
            match b.get(i) {
                None => return Err(self.err(LineErrorKind::UnclosedString, start, key)),
                Some(b'\\') => {
                    match b.get(i + 1) {
                        None => return Err(self.err(LineErrorKind::UnclosedString, start, key)),
                        Some(&next) if escape::class(next) & ESC_STRING != 0 => escapes += 1,
                        Some(_) => {}
                    }
                    i += 2;
                }
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        let len = (i - start - 1) - escapes;
        if len > MAX_STRING_FIELD_LEN {
            return Err(self.point_err(PointError::StringTooLong, start, key));
        }
        Ok(i + 1)
    }

    fn timestamp(&self, start: usize) -> Result<(), LineError<'a>> {
        let b = self.bytes();
        if matches!(b.get(start), None | Some(b' ')) {
            return Err(self.err(LineErrorKind::ExtraSpace, start.saturating_sub(1), ""));
        }
        let end = b
            .iter()
            .skip(start)
            .position(|&c| c == b' ')
            .map_or(b.len(), |p| start + p);
        let text = self.text(start, end);
        let digits = text.strip_prefix('-').unwrap_or(text);
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(self.err(LineErrorKind::NotATimestamp, start, text));
        }
        let in_range = text
            .parse::<i64>()
            .ok()
            .is_some_and(|ts| precision::check_range(ts, self.precision).is_ok());
        if !in_range {
            return Err(self.point_err(PointError::TimestampOutOfRange, start, text));
        }
        if end < b.len() {
            let rest = b.get(end..).unwrap_or_default();
            return match rest.iter().position(|&c| c != b' ') {
                Some(p) => Err(self.err(
                    LineErrorKind::Unexpected,
                    end + p,
                    self.text(end + p, b.len()),
                )),
                None => Err(self.err(LineErrorKind::ExtraSpace, end, "")),
            };
        }
        Ok(())
    }
}

/// The index of the `,` or space that ends the unquoted value at `start`,
/// or the end of the line.
fn token_end(b: &[u8], start: usize) -> usize {
    b.iter()
        .skip(start)
        .position(|&c| c == b',' || c == b' ')
        .map_or(b.len(), |p| start + p)
}

enum Value {
    Ok,
    Empty,
    NotFinite,
    OutOfRange,
    Bad,
}

fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// What an unquoted field value is.
fn classify(token: &[u8]) -> Value {
    if token.is_empty() {
        return Value::Empty;
    }
    if matches!(
        token,
        b"t" | b"T" | b"true" | b"True" | b"TRUE" | b"f" | b"F" | b"false" | b"False" | b"FALSE"
    ) {
        return Value::Ok;
    }
    let text = core::str::from_utf8(token).unwrap_or_default();
    if let Some(int) = text.strip_suffix('i') {
        let digits = int.strip_prefix('-').unwrap_or(int);
        if !all_digits(digits.as_bytes()) {
            return Value::Bad;
        }
        return match int.parse::<i64>() {
            Ok(_) => Value::Ok,
            Err(_) => Value::OutOfRange,
        };
    }
    if let Some(int) = text.strip_suffix('u') {
        let (negative, digits) = match int.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, int),
        };
        if !all_digits(digits.as_bytes()) {
            return Value::Bad;
        }
        // A sign (`-0u` too) is out of range: no server reads one there.
        return match int.parse::<u64>() {
            Ok(_) if !negative => Value::Ok,
            _ => Value::OutOfRange,
        };
    }
    if is_float(token) {
        return match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Value::Ok,
            _ => Value::NotFinite,
        };
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text).as_bytes();
    let word = |w: &[u8]| unsigned.eq_ignore_ascii_case(w);
    if word(b"nan") || word(b"inf") || word(b"infinity") {
        return Value::NotFinite;
    }
    Value::Bad
}

/// `-?digits[.digits][(e|E)[+-]digits]`: the floats every server reads.
fn is_float(token: &[u8]) -> bool {
    let rest = bytes::strip(token, b"-").unwrap_or(token);
    let digits = |s: &[u8]| s.iter().take_while(|c| c.is_ascii_digit()).count();
    let n = digits(rest);
    if n == 0 {
        return false;
    }
    let mut rest = rest.get(n..).unwrap_or_default();
    if let Some(frac) = bytes::strip(rest, b".") {
        let n = digits(frac);
        if n == 0 {
            return false;
        }
        rest = frac.get(n..).unwrap_or_default();
    }
    if let Some((&e, exp)) = rest.split_first() {
        if e != b'e' && e != b'E' {
            return false;
        }
        let exp = match exp.first() {
            Some(b'+' | b'-') => exp.get(1..).unwrap_or_default(),
            _ => exp,
        };
        return all_digits(exp);
    }
    true
}
