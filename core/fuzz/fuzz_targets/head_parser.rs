//! The crate's response-head parser against `httparse` (the parser it
//! replaced, with the configuration the crate used): the same answer
//! (complete, partial, too many headers, invalid), and for a complete head
//! the same length, status, version and header ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;
use linewire::http::MAX_HEADERS;

type Head = (usize, u16, bool, Vec<((usize, usize), (usize, usize))>);

fn at(base: &[u8], part: &[u8]) -> (usize, usize) {
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    (start, start + part.len())
}

fn httparse_head(buf: &[u8]) -> Result<Head, u8> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
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
            Ok((n, resp.code.unwrap(), resp.version == Some(0), fields))
        }
        Ok(httparse::Status::Partial) => Err(0),
        Err(httparse::Error::TooManyHeaders) => Err(1),
        Err(_) => Err(2),
    }
}

fn own_head(buf: &[u8]) -> Result<Head, u8> {
    let mut fields = Vec::new();
    let (n, status, http10) =
        linewire::http::__parse_head(buf, &mut |name, value| fields.push((name, value)))?;
    Ok((n, status, http10, fields))
}

/// Empty values point anywhere in `httparse`: compare them as empty.
fn normalized(r: Result<Head, u8>) -> Result<Head, u8> {
    r.map(|(n, s, v, f)| {
        let f = f
            .into_iter()
            .map(|(k, v)| (k, if v.0 == v.1 { (0, 0) } else { v }))
            .collect();
        (n, s, v, f)
    })
}

fuzz_target!(|data: &[u8]| {
    // As sent, and behind a valid status line (to reach the headers).
    let mut framed = b"HTTP/1.1 200 OK\r\n".to_vec();
    framed.extend_from_slice(data);
    for buf in [data, &framed[..]] {
        assert_eq!(
            normalized(own_head(buf)),
            normalized(httparse_head(buf)),
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
});
