//! Delivery: the queue, the retry policy, the sans-IO machine that decides
//! what happens to queued points, and its drivers over `embedded-io`
//! (`Writer::poll`) and `embedded-io-async` (`Writer::poll_async`). Uses the
//! line protocol and HTTP layers; nothing below it uses it.

pub(crate) mod machine;
pub(crate) mod queue;
pub(crate) mod retry;
pub(crate) mod writer;
#[cfg(feature = "async")]
pub(crate) mod writer_async;
