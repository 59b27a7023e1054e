//! The crate's response-head parser against `httparse` (the parser it
//! replaced, with the configuration the crate used): the same answer
//! (complete, partial, invalid; neither limits the number of headers), and
//! for a complete head the same length, status, version and header ranges.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../src/http/head_oracle.rs"]
mod head_oracle;

use head_oracle::{httparse_head, normalized, Head};

fn own_head(buf: &[u8]) -> Result<Head, u8> {
    let mut fields = Vec::new();
    let (n, status, http10) =
        linewire::http::__parse_head(buf, &mut |name, value| fields.push((name, value)))?;
    Ok((n, status, http10, fields))
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
