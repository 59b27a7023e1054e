//! The response head's syntax: status line and header fields, parsed in
//! place from the bytes received so far.
//!
//! # Why not `httparse`
//!
//! The crate parsed response heads with `httparse` until the flash budget
//! of issue 7 (16 KiB for the whole library on a Cortex-M3). There,
//! `httparse`'s response parser cost about 1.9 KiB of flash (its code
//! inlined into the reader plus two 256-byte lookup tables) and a 384-byte
//! header array on the stack, for a job that needs one pass over a few
//! hundred bytes. This parser is a byte loop of a fifth of that size that
//! hands each header to a callback, so no header array is kept.
//!
//! It accepts exactly what `httparse` 1.x accepts with the configuration
//! the crate used (`allow_spaces_after_header_name_in_responses`,
//! `allow_obsolete_multiline_headers_in_responses`,
//! `allow_multiple_spaces_in_response_status_delimiters`), with the same
//! head length, status, version, header names and values (as ranges of the
//! same bytes), and the same partial/complete/error answer, given an
//! `httparse` header array with room for every field: this parser has no
//! limit on the number of fields (the reader interprets each as it comes). `httparse`
//! stays as a development dependency: a proptest on generated and mutated
//! heads (`oracle` below) and a fuzz target (`core/fuzz`, `head_parser`)
//! hold the two together.

/// Why a head was not parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The bytes so far are a valid beginning: read more.
    Partial,
    /// Not an HTTP/1.x response head.
    Invalid,
}

/// A parsed status line: head length, status code, HTTP/1.0.
pub(crate) type StatusLine = (usize, u16, bool);

struct Cur<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cur<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn next(&mut self) -> Result<u8, Stop> {
        let c = self.peek().ok_or(Stop::Partial)?;
        self.i += 1;
        Ok(c)
    }

    /// After a CR: the LF.
    fn lf(&mut self) -> Result<(), Stop> {
        if self.next()? == b'\n' {
            Ok(())
        } else {
            Err(Stop::Invalid)
        }
    }

    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }

    /// After a line end inside a header value: `Ok(true)` when the next
    /// line continues it (obsolete line folding).
    // Inlined into its two callers on microcontrollers: less flash.
    #[cfg_attr(target_os = "none", inline(always))]
    fn folded(&self) -> Result<bool, Stop> {
        match self.peek() {
            None => Err(Stop::Partial),
            Some(b) => Ok(b == b' ' || b == b'\t'),
        }
    }
}

/// RFC 9110 `tchar`.
fn is_token(b: u8) -> bool {
    matches!(b,
        b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z'
        | b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^'..=b'`' | b'|' | b'~')
}

/// A header value byte: HTAB, SP, VCHAR, obs-text.
fn is_value(b: u8) -> bool {
    // HTAB, SP, VCHAR, obs-text: all but the other controls and DEL.
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

/// Parses the head at the start of `buf`, calling `on_header(name, value)`
/// with byte ranges of `buf` for each header field (the value without
/// surrounding whitespace, folded lines included as sent). The calls made
/// before an `Err` are to be discarded. The reader uses [`status_line`]
/// and [`fields`] step by step; this whole-head form is for the tests and
/// the fuzz target that hold the parser to `httparse`.
#[cfg(any(test, fuzzing))]
pub(crate) fn parse(
    buf: &[u8],
    on_header: &mut dyn FnMut((usize, usize), (usize, usize)),
) -> Result<StatusLine, Stop> {
    let (i, status, http10) = status_line(buf)?;
    Ok((fields(buf, i, on_header)?, status, http10))
}

/// Parses the status line (after any empty lines) at the start of `buf`:
/// the index after it, the status and whether it is HTTP/1.0.
pub(crate) fn status_line(buf: &[u8]) -> Result<StatusLine, Stop> {
    let mut c = Cur { b: buf, i: 0 };
    // Empty lines before the status line.
    loop {
        match c.peek() {
            Some(b'\r') => {
                c.i += 1;
                c.lf()?;
            }
            Some(b'\n') => c.i += 1,
            Some(_) => break,
            None => return Err(Stop::Partial),
        }
    }
    for &want in b"HTTP/1." {
        if c.next()? != want {
            return Err(Stop::Invalid);
        }
    }
    let http10 = match c.next()? {
        b'0' => true,
        b'1' => false,
        _ => return Err(Stop::Invalid),
    };
    if c.next()? != b' ' {
        return Err(Stop::Invalid);
    }
    c.skip_spaces();
    let mut status = 0u16;
    for _ in 0..3 {
        let d = c.next()?;
        if !d.is_ascii_digit() {
            return Err(Stop::Invalid);
        }
        status = status * 10 + u16::from(d - b'0');
    }
    match c.next()? {
        b' ' => {
            c.skip_spaces();
            // The reason phrase: HTAB, SP, VCHAR, obs-text.
            loop {
                match c.next()? {
                    b'\r' => break c.lf()?,
                    b'\n' => break,
                    b => {
                        if !is_value(b) {
                            return Err(Stop::Invalid);
                        }
                    }
                }
            }
        }
        b'\r' => c.lf()?,
        b'\n' => {}
        _ => return Err(Stop::Invalid),
    }
    Ok((c.i, status, http10))
}

/// Parses header fields from `buf[from..]` to the empty line that ends the
/// head; returns the head's length (the index after that line). No limit
/// on the number of fields: each is handed to `on_header` and forgotten.
pub(crate) fn fields(
    buf: &[u8],
    from: usize,
    on_header: &mut dyn FnMut((usize, usize), (usize, usize)),
) -> Result<usize, Stop> {
    let mut c = Cur { b: buf, i: from };
    loop {
        let mut b = c.next()?;
        if b == b'\r' {
            c.lf()?;
        }
        if b == b'\r' || b == b'\n' {
            return Ok(c.i);
        }
        let name_start = c.i - 1;
        while is_token(b) {
            b = c.next()?;
        }
        let name = (name_start, c.i - 1);
        if name.0 == name.1 {
            return Err(Stop::Invalid);
        }
        while b == b' ' || b == b'\t' {
            b = c.next()?;
        }
        if b != b':' {
            return Err(Stop::Invalid);
        }
        // Whitespace (and folded line ends) before the value.
        let mut start = c.i;
        let has_value = loop {
            b = c.next()?;
            if b == b' ' || b == b'\t' {
                start = c.i;
                continue;
            }
            if is_value(b) {
                start = c.i - 1;
                break true;
            }
            if b == b'\r' {
                c.lf()?;
            } else if b != b'\n' {
                return Err(Stop::Invalid);
            }
            if !c.folded()? {
                break false;
            }
        };
        let mut end = start;
        if has_value {
            // The value, to the end of its last (folded) line.
            loop {
                b = c.next()?;
                if is_value(b) {
                    continue;
                }
                end = c.i - 1;
                if b == b'\r' {
                    c.lf()?;
                } else if b != b'\n' {
                    return Err(Stop::Invalid);
                }
                if !c.folded()? {
                    break;
                }
            }
            while end > start && matches!(buf.get(end - 1), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                end -= 1;
            }
        }
        on_header(name, (start, end));
    }
}

/// The parser against `httparse` (the parser it replaced), on generated
/// and mutated heads: the same answer, the same ranges.
#[cfg(test)]
pub(crate) mod oracle {
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    use super::{parse, Stop};
    use proptest::prelude::*;

    use crate::http::head_oracle::{httparse_head, normalized, Head};

    /// The parser's answer in the oracle's terms.
    fn own_head(buf: &[u8]) -> Result<Head, u8> {
        let mut fields = Vec::new();
        let (n, status, http10) = parse(buf, &mut |name, value| fields.push((name, value)))
            .map_err(|e| match e {
                Stop::Partial => 0,
                Stop::Invalid => 2,
            })?;
        Ok((n, status, http10, fields))
    }

    pub(crate) fn check(buf: &[u8]) {
        assert_eq!(
            normalized(own_head(buf)),
            normalized(httparse_head(buf)),
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }

    const PIECES: &[&str] = &[
        "HTTP/1.1 ",
        "HTTP/1.0 ",
        "HTTP/1.1",
        "HTTP/2 ",
        "HTTP/1.",
        "http/1.1 ",
        "200",
        "204",
        "429",
        "100",
        "20",
        "2x0",
        " ",
        "  ",
        "\t",
        "\r\n",
        "\n",
        "\r",
        "OK",
        "No Content",
        "Too Many",
        "\u{e9}",
        "\x7f",
        "\0",
        ":",
        " :",
        "Content-Length",
        "content-length: 12",
        "Transfer-Encoding: chunked",
        "Retry-After: 30",
        "X-Platform-Error-Code: not found",
        "X-Influxdb-Error: boom",
        "Connection: close",
        "A",
        "a b",
        "x-y",
        "Bad\"Name",
        "{",
        ",",
        "v",
        "  v  ",
        "\r\n \r\n",
        "\r\n\t",
        "abc\x01",
        "\u{80}\u{ff}",
    ];

    fn soup() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(PIECES), 0..24)
            .prop_map(|t| t.concat().into_bytes())
    }

    fn header() -> impl Strategy<Value = String> {
        (
            prop::sample::select(&PIECES[26..40]),
            prop::sample::select(&["", " ", "  ", "\t"][..]),
            prop::sample::select(&[":", " :", ""][..]),
            prop::sample::select(&["", " ", " \t "][..]),
            prop::sample::select(
                &[
                    "", "v", "a b ", "1,2", "x\r\n y", "\r\n z", "\u{e9}", "\x01",
                ][..],
            ),
            prop::sample::select(&["\r\n", "\n", "\r", " \r\n"][..]),
        )
            .prop_map(|(n, s1, c, s2, v, e)| [n, s1, c, s2, v, e].concat())
    }

    fn structured() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::sample::select(&["", "\r\n", "\n"][..]),
            prop::sample::select(&["HTTP/1.1 ", "HTTP/1.0  ", "HTTP/1.1", "HTTP/1.2 "][..]),
            prop::sample::select(&["200", "204", "400", "100", "999", "20"][..]),
            prop::sample::select(
                &[
                    " OK\r\n",
                    "\r\n",
                    "\n",
                    "  Reason \t x\r\n",
                    " \u{e9}\n",
                    "x",
                ][..],
            ),
            prop::collection::vec(header(), 0..30),
            prop::sample::select(&["\r\n", "\n", "", "\r"][..]),
            prop::option::of((0usize..200, prop::sample::select(PIECES))),
            prop::option::of(0usize..200),
            0usize..300,
        )
            .prop_map(|(pre, v, s, r, h, end, insert, delete, cut)| {
                let mut b = [pre, v, s, r, &h.concat(), end, "body"]
                    .concat()
                    .into_bytes();
                if let Some((at, t)) = insert {
                    let at = at.min(b.len());
                    b.splice(at..at, t.bytes());
                }
                if let Some(at) = delete {
                    if at < b.len() {
                        b.remove(at);
                    }
                }
                b.truncate(cut.max(b.len() / 2));
                b
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn parser_equals_httparse_on_soup(b in soup()) {
            check(&b);
        }

        #[test]
        fn parser_equals_httparse_on_heads(b in structured()) {
            check(&b);
            // Every prefix: partial or the same answer.
            for cut in 0..b.len() {
                check(&b[..cut]);
            }
        }
    }

    #[test]
    fn parser_equals_httparse_on_samples() {
        for s in [
            &b"HTTP/1.1 204 No Content\r\n\r\n"[..],
            b"\r\n\nHTTP/1.0   200\nA:b\n\n",
            b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX:\r\n \r\nY: z\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX :  v  \r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX\t: v\r\n\r\n",
            b"HTTP/1.1 200 OK\r\n: v\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: v\r\n",
            b"HTTP/1.1 200 OK\r\nX: v\r",
            b"HTTP/1.1 200 OK\r\nX: v\rY\r\n\r\n",
            b"HTTP/1.1 200 \xff\r\n\r\n",
            b"HTTP/1.1 200 \x7f\r\n\r\n",
            b"HTTP/1.1 2000\r\n\r\n",
            b"HTTP/1.1\r\n",
            b"HTTP",
            b"HTTX",
            b"\r",
            b"\rx",
        ] {
            check(s);
        }
        let many: String = (0..=40).map(|i| std::format!("H{i}: v\r\n")).collect();
        for extra in ["", "\r\n", "X"] {
            check(std::format!("HTTP/1.1 200 OK\r\n{many}{extra}").as_bytes());
        }
    }
}
