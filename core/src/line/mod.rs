//! Line protocol: names, escaping, numbers, timestamps, points, batches and
//! the line checker. Uses only the byte helpers ([`crate::bytes`]).

pub(crate) mod batch;
pub(crate) mod check;
pub(crate) mod digits;
pub(crate) mod escape;
#[cfg(any(feature = "small", test))]
pub(crate) mod float;
pub(crate) mod name;
pub(crate) mod point;
pub(crate) mod precision;
