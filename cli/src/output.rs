//! Standard error and output, and the progress bar above which log lines are printed.
//!
//! # A reader that goes away
//!
//! `linewire write ... 2>&1 | head -1` closes the pipe while the run goes
//! on. Like `tee` or `rsync`, and unlike tools that die of SIGPIPE, the run
//! continues: the data is still sent (it must not be lost because a log
//! reader went away), the exit status still says what became of it, and
//! nothing more is printed on a stream once writing to it failed. Nothing
//! here panics (`println!` would).

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use indicatif::ProgressBar;

/// The progress bar, when standard error is a terminal: log lines and
/// reports are printed above it.
pub(crate) static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// Writing to standard error failed (a closed pipe): no more tries.
static ERR_CLOSED: AtomicBool = AtomicBool::new(false);
/// Writing to standard output failed.
static OUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes `line` and a line feed to `w` unless `closed`; a failure sets
/// `closed` (there is nowhere to report it).
fn put(w: &mut dyn Write, closed: &AtomicBool, line: &str) {
    if closed.load(Ordering::Relaxed) {
        return;
    }
    if writeln!(w, "{line}").and_then(|()| w.flush()).is_err() {
        closed.store(true, Ordering::Relaxed);
    }
}

/// Prints one line on standard error (above the progress bar).
pub(crate) fn say(msg: &str) {
    let print = || {
        put(
            &mut io::stderr().lock(),
            &ERR_CLOSED,
            &format!("linewire: {msg}"),
        )
    };
    match BAR.get() {
        Some(bar) if !bar.is_finished() => bar.suspend(print),
        _ => print(),
    }
}

/// Prints one line on standard output.
pub(crate) fn say_out(msg: &str) {
    put(&mut io::stdout().lock(), &OUT_CLOSED, msg);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pipe whose reader went away.
    struct Closed(u32);
    impl Write for Closed {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            self.0 += 1;
            Err(io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stream_is_tried_once_then_left_alone() {
        let closed = AtomicBool::new(false);
        let mut w = Closed(0);
        put(&mut w, &closed, "one");
        put(&mut w, &closed, "two");
        assert!(closed.load(Ordering::Relaxed));
        assert_eq!(w.0, 1);
    }
}
