//! `httparse` (the parser `head.rs` replaced, with the configuration the
//! crate used) as the oracle of the response-head parser. Shared by the
//! unit tests in `head.rs` and the fuzz target `core/fuzz` `head_parser`
//! (through `#[path]`), so both hold the parser to the same reference.
//! Errors are `__parse_head`'s codes: 0 read more, 2 invalid (1, too many
//! headers, cannot happen: the oracle has room for every header).
#![allow(dead_code)]

extern crate std;
use std::vec;
use std::vec::Vec;

/// Head length, status, whether HTTP/1.0, and each header's name and
/// value ranges.
pub type Head = (usize, u16, bool, Vec<((usize, usize), (usize, usize))>);

fn at(base: &[u8], part: &[u8]) -> (usize, usize) {
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    (start, start + part.len())
}

/// What `httparse` says of `buf`, with room for every header `buf` can
/// hold (a field takes at least three bytes, `a:\n`): the crate's parser
/// has no header limit.
pub fn httparse_head(buf: &[u8]) -> Result<Head, u8> {
    let mut headers = vec![httparse::EMPTY_HEADER; buf.len() / 3 + 1];
    let mut resp = httparse::Response::new(&mut headers);
    let mut cfg = httparse::ParserConfig::default();
    cfg.allow_spaces_after_header_name_in_responses(true)
        .allow_obsolete_multiline_headers_in_responses(true)
        .allow_multiple_spaces_in_response_status_delimiters(true);
    match cfg.parse_response(&mut resp, buf) {
        Ok(httparse::Status::Complete(n)) => {
            let fields = resp
                .headers
                .iter()
                .map(|h| (at(buf, h.name.as_bytes()), at(buf, h.value)))
                .collect();
            Ok((n, resp.code.unwrap_or(0), resp.version == Some(0), fields))
        }
        Ok(httparse::Status::Partial) => Err(0),
        Err(httparse::Error::TooManyHeaders) => Err(1),
        Err(_) => Err(2),
    }
}

/// Empty values point anywhere in `httparse`: compare them as empty.
pub fn normalized(r: Result<Head, u8>) -> Result<Head, u8> {
    r.map(|(n, s, v, f)| {
        let f = f
            .into_iter()
            .map(|(k, v)| (k, if v.0 == v.1 { (0, 0) } else { v }))
            .collect();
        (n, s, v, f)
    })
}
