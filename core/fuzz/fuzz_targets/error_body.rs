//! The error-body parser on arbitrary bytes, and on arbitrary bytes wrapped
//! in the JSON shapes servers send (to reach the string unescaper).
#![no_main]

use libfuzzer_sys::fuzz_target;
use linewire::http::{ErrorBody, Outcome};

fuzz_target!(|data: &[u8]| {
    let mut raw = data.to_vec();
    let len = raw.len();
    let e = ErrorBody::parse(&mut raw);
    check(&e, len);
    let _ = Outcome::classify(400, None, &e).action();

    // Inside a message string, so escapes are decoded.
    let mut wrapped = br#"{"code":"invalid","line":2,"message":""#.to_vec();
    wrapped.extend_from_slice(data);
    wrapped.extend_from_slice(br#"","data":[{"error_message":"x","line_number":3}]}"#);
    let len = wrapped.len();
    let e = ErrorBody::parse(&mut wrapped);
    check(&e, len);
});

fn check(e: &ErrorBody<'_>, len: usize) {
    for s in [e.code, e.message, e.detail].into_iter().flatten() {
        assert!(s.len() <= len);
    }
    assert!(e.rejected.lines().len() <= linewire::http::MAX_REJECTED_LINES);
}
