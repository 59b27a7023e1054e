//! Standard error and output, and the progress bar above which log lines are printed.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// The progress bar, when standard error is a terminal: log lines and
/// reports are printed above it.
pub(crate) static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// Prints one line on standard error (above the progress bar). Errors
/// (a closed standard error) are ignored: there is nowhere to report them.
pub(crate) fn say(msg: &str) {
    let print = || {
        let mut err = io::stderr().lock();
        let _ = writeln!(err, "linewire: {msg}");
    };
    match BAR.get() {
        Some(bar) if !bar.is_finished() => bar.suspend(print),
        _ => print(),
    }
}

/// Prints one line on standard output; a closed pipe is not an error.
pub(crate) fn say_out(msg: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{msg}");
    let _ = out.flush();
}

pub(crate) fn progress_bar(len: Option<u64>) -> ProgressBar {
    let bar = match len {
        Some(n) => ProgressBar::new(n).with_style(
            ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
