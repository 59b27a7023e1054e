//! The action each status class must lead to, whatever follows the status
//! line: shared by `http_status_decides` and the `response_reader` fuzz
//! target.

use linewire::http::{Action, Outcome};

/// The action a status class must lead to, whatever the body says (a 400
/// may also be about the request itself: `InvalidRequest`, Stop).
pub fn action_ok(status: u16, outcome: &Outcome) -> bool {
    let action = outcome.action();
    match status {
        200..=299 => action == Action::Done,
        400 => action == Action::Drop || *outcome == Outcome::InvalidRequest,
        422 => action == Action::Drop,
        401 | 403 | 404 => action == Action::Stop,
        413 => action == Action::Split,
        429 | 503 => action == Action::RetryLater,
        408 | 500..=599 => action == Action::Retry,
        _ => action == Action::Stop,
    }
}
