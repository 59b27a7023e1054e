//! Where the lines come from: `--file`s, the argument (line protocol or a
//! file), standard input; gzip recognized by its magic bytes and
//! decompressed while streaming; annotated CSV recognized and refused
//! before anything is sent.
//!
//! # The argument
//!
//! `influx write` takes line protocol as its argument; `linewire write`
//! took a file. Both work: the argument is a file when it is `-`
//! (standard input), starts with `@` (`@metrics.lp`, as influx takes it)
//! or names an existing file. Otherwise it is line protocol when it has a
//! space and an `=` (every line protocol line has both: fields follow a
//! space, each is `key=value`), and a missing file when it has not
//! (`metrics.lp` mistyped is "no such file", never sent as a line).
//!
//! # gzip
//!
//! A file or standard input starting with gzip's magic bytes (1f 8b) is
//! decompressed while it is read, whatever its name; concatenated members
//! (`cat a.gz b.gz`) are read in turn. Data cut short, or a member whose
//! checksum does not match, is a read error (exit status 2) after the
//! lines before it were sent and counted. Deflate data has no check of
//! its own: corruption inside it is found only by the checksum at the end
//! of its member, and what was decoded before (garbage, mostly rejected by
//! the server) was sent by then, as `zcat | ...` would have.
//!
//! # Line numbers
//!
//! Each line is tagged with its source and its line number in that source
//! ([`tag`]); with more than one source, messages name the source
//! (`metrics.lp line 7`). Source 0's tags are its line numbers.

use std::fmt;
use std::fs::File;
use std::io::{self, Cursor, Read};

use clap::ValueEnum;
use flate2::read::MultiGzDecoder;
use linewire_std::server_text::for_display;

use crate::run::MESSAGE_CHARS;

/// `--format`: what the input is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Line protocol.
    Lp,
    /// Annotated CSV: refused (not supported).
    Csv,
}

/// How a user converts CSV to line protocol.
pub(crate) const CSV_ADVICE: &str = "convert it to line protocol first, e.g. \
     `influx write dryrun --format csv -f file.csv > file.lp`, then \
     `linewire write -f file.lp ...`";

/// Bits of a [`tag`] for the line number: a source has at most 2^40 lines
/// (a trillion) before its numbers saturate.
const LINE_BITS: u32 = 40;
const LINE_MASK: u64 = (1 << LINE_BITS) - 1;

/// The tag of line `line` (1-based) of source `source`: ordered by source,
/// then line; source 0's tags are its line numbers.
pub(crate) fn tag(source: usize, line: u64) -> u64 {
    let source = u64::try_from(source).unwrap_or(u64::MAX) & ((1 << (64 - LINE_BITS)) - 1);
    (source << LINE_BITS) | line.min(LINE_MASK)
}

/// The source and the line number of a [`tag`].
pub(crate) fn untag(tag: u64) -> (usize, u64) {
    (
        usize::try_from(tag >> LINE_BITS).unwrap_or(usize::MAX),
        tag & LINE_MASK,
    )
}

/// Where one source's lines come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Stdin,
    File(String),
    /// Line protocol given as the argument.
    Text(String),
}

/// What an input could not be opened, read or accepted for.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum InputError {
    /// The argument looks like a file name, and there is no such file.
    NoSuchFile(String),
    /// Opening a file failed.
    Open(String, io::Error),
    /// Standard input given twice (`-f - -f -`).
    StdinTwice,
    /// Reading failed (the gzip data was corrupt or cut short, or an I/O error).
    Read(String, io::Error),
    /// The input is CSV (`--format csv`, or it looks like it).
    Csv(String, &'static str),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSuchFile(name) => write!(
                f,
                "cannot open {name}: no such file (line protocol given as the argument has a space and an `=`)"
            ),
            Self::Open(name, e) => write!(f, "cannot open {name}: {}", io_text(e)),
            Self::StdinTwice => f.write_str("standard input is given more than once"),
            Self::Read(name, e) => write!(f, "cannot read {name}: {}", read_text(e)),
            Self::Csv(name, why) => write!(
                f,
                "{name} {why}: CSV is not supported; {CSV_ADVICE}"
            ),
        }
    }
}

impl std::error::Error for InputError {}

/// An I/O error as a sentence part (no Debug output).
fn io_text(e: &io::Error) -> String {
    for_display(&e.to_string(), None, MESSAGE_CHARS)
}

/// A read error as a sentence part.
pub(crate) fn read_text(e: &io::Error) -> String {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<CorruptGzip>())
    {
        Some(gz) => gz.to_string(),
        None => io_text(e),
    }
}

/// The gzip decoder found the data corrupt or cut short.
#[derive(Debug)]
pub(crate) struct CorruptGzip(String);

impl fmt::Display for CorruptGzip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the gzip data is corrupt or cut short ({})", self.0)
    }
}

impl std::error::Error for CorruptGzip {}

/// A gzip decoder whose own errors are [`CorruptGzip`]; the underlying
/// reader's other I/O errors pass unchanged.
struct Gunzip<R: Read>(MultiGzDecoder<R>);

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            // What flate2 reports for a bad header, bad deflate data, a
            // checksum mismatch and data cut short.
            io::ErrorKind::InvalidInput
            | io::ErrorKind::InvalidData
            | io::ErrorKind::UnexpectedEof => io::Error::new(
                e.kind(),
                CorruptGzip(for_display(&e.to_string(), None, MESSAGE_CHARS)),
            ),
            _ => e,
        })
    }
}

/// The sources of a run, in the order they are read: the `--file`s, then
/// the argument; standard input when there is neither.
pub(crate) fn resolve(arg: Option<&str>, files: &[String]) -> Result<Vec<Kind>, InputError> {
    let mut kinds: Vec<Kind> = files
        .iter()
        .map(|f| {
            if f == "-" {
                Kind::Stdin
            } else {
                Kind::File(f.clone())
            }
        })
        .collect();
    match arg {
        None if kinds.is_empty() => kinds.push(Kind::Stdin),
        None => {}
        Some(a) => kinds.push(classify(a)?),
    }
    if kinds.iter().filter(|k| **k == Kind::Stdin).count() > 1 {
        return Err(InputError::StdinTwice);
    }
    Ok(kinds)
}

/// The argument: a file, standard input or line protocol (see the module
/// documentation).
pub(crate) fn classify(arg: &str) -> Result<Kind, InputError> {
    if arg == "-" {
        return Ok(Kind::Stdin);
    }
    if let Some(path) = arg.strip_prefix('@').filter(|p| !p.is_empty()) {
        return Ok(Kind::File(path.to_owned()));
    }
    if std::path::Path::new(arg).exists() {
        return Ok(Kind::File(arg.to_owned()));
    }
    if arg.contains(char::is_whitespace) && arg.contains('=') {
        Ok(Kind::Text(arg.to_owned()))
    } else {
        Err(InputError::NoSuchFile(shown(arg)))
    }
}

/// The first file among `kinds` that is `path` (the same file by its
/// canonical path), display-safe.
pub(crate) fn same_file(path: &std::path::Path, kinds: &[Kind]) -> Option<String> {
    let target = std::fs::canonicalize(path).ok()?;
    kinds.iter().find_map(|k| match k {
        Kind::File(f) if std::fs::canonicalize(f).ok().as_ref() == Some(&target) => Some(shown(f)),
        _ => None,
    })
}

fn shown(name: &str) -> String {
    for_display(name, None, MESSAGE_CHARS)
}

/// One opened source, gzip unwrapped, its first lines checked.
pub(crate) struct Source {
    /// Display-safe: the file name, `standard input` or `the argument`.
    pub(crate) name: String,
    /// The decompressed bytes.
    pub(crate) reader: Box<dyn Read>,
    /// The size of a plain file (for progress); `None` for gzip or stdin.
    pub(crate) len: Option<u64>,
    pub(crate) gzip: bool,
    /// A regular file: it can be opened again from the start (a pipe such
    /// as `-f <(zcat x.gz)` or `/dev/stdin` cannot).
    pub(crate) reopenable: bool,
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("len", &self.len)
            .field("gzip", &self.gzip)
            .field("reopenable", &self.reopenable)
            .finish_non_exhaustive()
    }
}

/// The most bytes read ahead to tell line protocol from CSV.
const SNIFF_MAX: usize = 64 * 1024;

/// Opens `kind`: gzip is recognized by its magic bytes (1f 8b), CSV by its
/// first lines unless `format` is `lp`.
pub(crate) fn open(kind: &Kind, format: Option<Format>) -> Result<Source, InputError> {
    let mut reopenable = false;
    let (name, raw, len, csv_ext): (String, Box<dyn Read>, Option<u64>, bool) = match kind {
        Kind::Stdin => (
            "standard input".to_owned(),
            Box::new(io::stdin().lock()),
            None,
            false,
        ),
        Kind::Text(t) => (
            "the argument".to_owned(),
            Box::new(Cursor::new(t.clone().into_bytes())),
            Some(t.len() as u64),
            false,
        ),
        Kind::File(path) => {
            let name = shown(path);
            let file = File::open(path).map_err(|e| InputError::Open(name.clone(), e))?;
            let meta = file
                .metadata()
                .map_err(|e| InputError::Open(name.clone(), e))?;
            if meta.is_dir() {
                return Err(InputError::Open(
                    name,
                    io::Error::other("it is a directory"),
                ));
            }
            let lower = path.to_ascii_lowercase();
            let csv_ext = lower.ends_with(".csv") || lower.ends_with(".csv.gz");
            reopenable = meta.is_file();
            let len = reopenable.then_some(meta.len());
            (name, Box::new(file), len, csv_ext)
        }
    };
    if format == Some(Format::Csv) {
        return Err(InputError::Csv(name, "is given as CSV (--format csv)"));
    }
    let (magic, raw) = peek(raw, 2).map_err(|e| InputError::Read(name.clone(), e))?;
    let gzip = magic.starts_with(&[0x1f, 0x8b]);
    let (reader, len): (Box<dyn Read>, _) = if gzip {
        (Box::new(Gunzip(MultiGzDecoder::new(raw))), None)
    } else {
        (raw, len)
    };
    let reader = if format == Some(Format::Lp) {
        reader
    } else {
        let (head, reader) = sniff(reader).map_err(|e| InputError::Read(name.clone(), e))?;
        if let Some(why) = csv_verdict(&head, csv_ext) {
            return Err(InputError::Csv(name, why));
        }
        reader
    };
    Ok(Source {
        name,
        reader,
        len,
        gzip,
        reopenable,
    })
}

/// The first `n` bytes (fewer at the end of the input) and a reader that
/// still yields them.
fn peek(mut r: Box<dyn Read>, n: usize) -> io::Result<(Vec<u8>, Box<dyn Read>)> {
    let mut head = vec![0; n];
    let mut got = 0;
    while got < n {
        match r.read(head.get_mut(got..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    head.truncate(got);
    Ok((head.clone(), Box::new(Cursor::new(head).chain(r))))
}

/// Reads ahead until the first line that is neither blank nor a comment is
/// complete (or [`SNIFF_MAX`] bytes, or the end); returns what was read
/// and a reader that still yields it.
fn sniff(mut r: Box<dyn Read>) -> io::Result<(Vec<u8>, Box<dyn Read>)> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 8192];
    while head.len() < SNIFF_MAX && !first_data_line_complete(&head) {
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(k) => head.extend_from_slice(chunk.get(..k).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((head.clone(), Box::new(Cursor::new(head).chain(r))))
}

fn first_data_line_complete(head: &[u8]) -> bool {
    let mut lines = head.split(|&b| b == b'\n');
    // The last piece has no line feed yet: not complete.
    let _ = lines.next_back();
    lines.any(|l| {
        let t = l.trim_ascii();
        !t.is_empty() && !t.starts_with(b"#")
    })
}

/// The annotations of annotated CSV (`#datatype,string,long,...`).
const ANNOTATIONS: [&str; 5] = ["#datatype", "#group", "#default", "#constant", "#timezone"];

/// Why `head` (the first lines of an input) is CSV, if it is: an
/// annotation line before the first data line, or a first data line that
/// is a CSV header (`_measurement,...`, `,result,table,...`, one naming
/// `_field`/`_value`/`_time` columns, or, in a `.csv` file, commas and no
/// `=`).
pub(crate) fn csv_verdict(head: &[u8], csv_ext: bool) -> Option<&'static str> {
    let head = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    for line in head.split(|&b| b == b'\n') {
        let t = line.trim_ascii();
        if t.is_empty() {
            continue;
        }
        if t.starts_with(b"#") {
            let word = t
                .split(|&b| b == b',' || b == b' ')
                .next()
                .unwrap_or_default();
            if ANNOTATIONS
                .iter()
                .any(|a| word.eq_ignore_ascii_case(a.as_bytes()))
            {
                return Some("starts with an annotated CSV annotation line");
            }
            continue;
        }
        let header = t.starts_with(b"_measurement,")
            || t.starts_with(b",result,table,")
            || t.starts_with(b"result,table,")
            || (!t.contains(&b'=')
                && t.contains(&b',')
                && t.split(|&b| b == b',').any(|cell| {
                    matches!(
                        cell.trim_ascii(),
                        b"_measurement" | b"_field" | b"_value" | b"_time"
                    )
                }));
        if header {
            return Some("starts with a CSV header");
        }
        if csv_ext && !t.contains(&b'=') && t.contains(&b',') {
            return Some("is a .csv file with a CSV header");
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_order_by_source_then_line() {
        assert_eq!(tag(0, 7), 7);
        assert_eq!(untag(tag(3, 42)), (3, 42));
        assert!(tag(1, 1) > tag(0, u64::MAX));
        assert_eq!(untag(tag(0, u64::MAX)), (0, LINE_MASK));
    }

    #[test]
    fn the_argument_is_a_file_stdin_or_line_protocol() {
        assert_eq!(classify("-").unwrap(), Kind::Stdin);
        assert_eq!(classify("@x.lp").unwrap(), Kind::File("x.lp".into()));
        assert_eq!(
            classify("m,t=a v=1 1700000000").unwrap(),
            Kind::Text("m,t=a v=1 1700000000".into())
        );
        assert!(matches!(
            classify("/nonexistent/metrics.lp"),
            Err(InputError::NoSuchFile(_))
        ));
        assert!(matches!(classify("m,t=a"), Err(InputError::NoSuchFile(_))));
        let here = env!("CARGO_MANIFEST_DIR").to_owned() + "/Cargo.toml";
        assert_eq!(classify(&here).unwrap(), Kind::File(here.clone()));
    }

    #[test]
    fn stdin_once_and_files_before_the_argument() {
        assert_eq!(resolve(None, &[]).unwrap(), [Kind::Stdin]);
        assert_eq!(
            resolve(Some("m v=1"), &["a".into(), "-".into()]).unwrap(),
            [
                Kind::File("a".into()),
                Kind::Stdin,
                Kind::Text("m v=1".into())
            ]
        );
        assert!(matches!(
            resolve(Some("-"), &["-".into()]),
            Err(InputError::StdinTwice)
        ));
    }

    #[test]
    fn csv_is_recognized_and_line_protocol_is_not() {
        let annotated = b"#group,false,false,true\n#datatype,string,long,dateTime:RFC3339\n#default,_result,,\n,result,table,_time\n";
        assert!(csv_verdict(annotated, false).is_some());
        assert!(csv_verdict(b"\n_measurement,_field,_value\ncpu,usage,1\n", false).is_some());
        assert!(csv_verdict(b",result,table,_start,_stop\n", false).is_some());
        assert!(csv_verdict(b"time,_value,host\n", false).is_some());
        assert!(csv_verdict(b"time,host,value\n1,a,2\n", true).is_some());
        assert!(csv_verdict(b"time,host,value\n1,a,2\n", false).is_none());
        assert!(csv_verdict(b"# a comment\nm,host=a v=1 1\n", true).is_none());
        assert!(csv_verdict(b"m,host=a v=1 1\n#datatype\n", false).is_none());
        assert!(csv_verdict(b"", false).is_none());
    }

    /// Any bytes: a verdict, no panic.
    #[test]
    fn csv_verdict_takes_any_bytes() {
        let pieces: [&[u8]; 9] = [
            b"#",
            b"datatype",
            b",",
            b"=",
            b"\n",
            b" ",
            b"_value",
            b"\xef\xbb\xbf",
            b"\xff",
        ];
        let mut head = Vec::new();
        for i in 0..9usize.pow(5) {
            head.clear();
            let mut k = i;
            for _ in 0..5 {
                head.extend_from_slice(pieces[k % 9]);
                k /= 9;
            }
            let _ = csv_verdict(&head, i % 2 == 0);
            let _ = first_data_line_complete(&head);
        }
    }

    #[test]
    fn sniffing_keeps_every_byte() {
        let data = b"# c\n\nm v=1 1\nm v=2 2\n".repeat(10_000);
        let (head, mut r) = sniff(Box::new(Cursor::new(data.clone()))).unwrap();
        assert!(head.len() < data.len());
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, data);
    }
}
