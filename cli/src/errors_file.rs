//! `--errors-file`: every line not stored, ready to be fixed and written
//! again.
//!
//! Each line is written as read (bytes unchanged, even when not UTF-8),
//! after a comment naming its source, its line number and why it was not
//! stored:
//!
//! ```text
//! # metrics.lp line 7: rejected: unable to parse 'bad': missing fields
//! bad
//! ```
//!
//! Lines rejected by the server, found invalid, or not sent because their
//! request failed (the run stopped, or the server could not be reached)
//! are all written: each was read and not stored, and writing the file
//! again (comments are skipped) sends them. Lines left unread when a run
//! stops are not: a last comment says from where to resume. Lines a
//! server counted rejected without naming them cannot be written (the
//! report counts them).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use linewire_std::server_text::for_display;

use crate::input::untag;
use crate::run::MESSAGE_CHARS;

/// The errors file of a run.
#[derive(Debug)]
pub(crate) struct ErrorsFile {
    out: BufWriter<File>,
    /// Display-safe source names, by source index.
    names: Vec<String>,
    /// The first write error; nothing more is written after one.
    failed: Option<io::Error>,
    /// Display-safe path, for messages.
    shown: String,
    /// Lines not yet written, with their comments: written in input order
    /// by [`flush`](Self::flush) (a line found not valid UTF-8 when it is
    /// read comes before the rejected lines of its batch).
    pending: Vec<(u64, String, Vec<u8>)>,
}

impl ErrorsFile {
    /// Creates (or truncates) `path`.
    pub(crate) fn create(path: &Path, names: Vec<String>) -> Result<Self, String> {
        let shown = for_display(&path.to_string_lossy(), None, MESSAGE_CHARS);
        let file = File::create(path).map_err(|e| {
            format!(
                "cannot create the errors file {shown}: {}",
                for_display(&e.to_string(), None, MESSAGE_CHARS)
            )
        })?;
        Ok(Self {
            out: BufWriter::new(file),
            names,
            failed: None,
            shown,
            pending: Vec::new(),
        })
    }

    /// The comment before a line: `# metrics.lp line 7: rejected: why`.
    pub(crate) fn comment(names: &[String], tag: u64, fate: &str, reason: &str) -> String {
        let (source, line) = untag(tag);
        let name = names.get(source).map_or("input", String::as_str);
        let reason = for_display(reason, None, MESSAGE_CHARS);
        format!("# {name} line {line}: {fate}: {reason}\n")
    }

    /// Adds the line tagged `tag` (its original bytes), to be written after
    /// its comment by the next [`flush`](Self::flush).
    pub(crate) fn add(&mut self, tag: u64, fate: &str, reason: &str, line: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        let comment = Self::comment(&self.names, tag, fate, reason);
        self.pending.push((tag, comment, line.to_vec()));
    }

    /// Writes the lines added, in input order; call it when no line read
    /// is still waiting to be sent.
    pub(crate) fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.pending);
        if self.failed.is_some() {
            return;
        }
        pending.sort_by_key(|(tag, _, _)| *tag);
        for (_, comment, line) in &pending {
            let result = self
                .out
                .write_all(comment.as_bytes())
                .and_then(|()| self.out.write_all(line))
                .and_then(|()| self.out.write_all(b"\n"));
            if let Err(e) = result {
                self.failed = Some(e);
                return;
            }
        }
    }

    /// A comment line of its own (where the run stopped).
    pub(crate) fn note(&mut self, text: &str) {
        self.flush();
        if self.failed.is_some() {
            return;
        }
        let text = for_display(text, None, MESSAGE_CHARS * 2);
        if let Err(e) = writeln!(self.out, "# {text}") {
            self.failed = Some(e);
        }
    }

    /// Flushes; the first write error, as a sentence.
    pub(crate) fn finish(mut self) -> Result<(), String> {
        self.flush();
        if self.failed.is_none() {
            if let Err(e) = self.out.flush() {
                self.failed = Some(e);
            }
        }
        match self.failed {
            None => Ok(()),
            Some(e) => Err(format!(
                "cannot write the errors file {}: {}; it is incomplete",
                self.shown,
                for_display(&e.to_string(), None, MESSAGE_CHARS)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::tag;

    #[test]
    fn comments_name_the_source_and_line_safely() {
        let names = vec!["a.lp".to_owned(), "standard input".to_owned()];
        assert_eq!(
            ErrorsFile::comment(&names, tag(1, 7), "rejected", "bad\nthing\u{1b}[2J"),
            "# standard input line 7: rejected: bad thing\u{fffd}[2J\n"
        );
    }
}
