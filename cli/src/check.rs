//! The local check of every line: what `--dry-run` reports, and what keeps
//! a bad line out of a request when sending.
//!
//! Both use [`check_line`], the core's rules for a line (the ones its point
//! builder applies), so a dry run and a real run refuse the same lines with
//! the same messages. A line refused here is never sent: one bad line can
//! no longer make InfluxDB 2 or 3 refuse the whole request it is in.

use linewire_std::linewire::{check_line, Precision};
use linewire_std::server_text::for_display;

use crate::report::Fate;
use crate::run::{Run, MESSAGE_CHARS};

/// The line as it is checked and sent: without the spaces and tabs before
/// it, which every server skips too.
pub(crate) fn trimmed(text: &str) -> &str {
    text.trim_start_matches([' ', '\t'])
}

/// Checks line `line_no`; when it is refused, counts it rejected and
/// reports it (invalid in a dry run, rejected otherwise) under a
/// display-safe sentence that quotes the part at fault, and returns true.
pub(crate) fn refused(
    text: &str,
    precision: Precision,
    line_no: u64,
    dry_run: bool,
    run: &mut Run,
) -> bool {
    let Err(e) = check_line(text, precision) else {
        return false;
    };
    run.summary.rejected += 1;
    let fate = if dry_run {
        Fate::Invalid
    } else {
        Fate::Rejected
    };
    let why = for_display(&e.to_string(), None, MESSAGE_CHARS);
    run.report.add(fate, &why, [line_no]);
    run.not_stored(line_no, fate, &why, text.as_bytes());
    true
}
