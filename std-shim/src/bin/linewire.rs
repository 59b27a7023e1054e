//! `linewire`: write line protocol files to InfluxDB.
//!
//! ```sh
//! linewire write metrics.lp --url http://localhost:8086 --bucket b --token T
//! zcat big.lp.gz | INFLUX_TOKEN=T linewire write - --url ... --bucket b --precision s
//! linewire write metrics.lp --dry-run
//! ```
//!
//! Files of any size are streamed line by line in batches. Lines the
//! server rejected are reported once per distinct message, with the line
//! numbers it applies to; what the server says is shown through
//! [`for_display`] (token redacted, control characters replaced, bounded),
//! so the report stays short whatever the server answers.
//!
//! Retries, waits and 413 splits are logged on standard error as they
//! happen (`-v` or `RUST_LOG` for more); `--max-retry-wait` caps every
//! wait, a server's `Retry-After` included. The exit status is 0 when
//! every line was written, 1 when any was not (rejected, not sent, or the
//! run stopped), 2 on a usage, configuration or read error.

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use linewire::http::{Action, Outcome};
use linewire::{Precision, RetryPolicy};
use linewire_std::cli::{self, Failed, Line, Settled};
use linewire_std::server_text::for_display;
use linewire_std::{Client, FailureReason, GaveUp, Retried, ServerError};

#[derive(Parser, Debug)]
#[command(name = "linewire", version, about = "Write InfluxDB line protocol")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write line protocol from a file (or `-` for standard input).
    Write(WriteArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum PrecisionArg {
    Ns,
    Us,
    Ms,
    S,
    M,
    H,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::Ns => Precision::Nanoseconds,
            PrecisionArg::Us => Precision::Microseconds,
            PrecisionArg::Ms => Precision::Milliseconds,
            PrecisionArg::S => Precision::Seconds,
            PrecisionArg::M => Precision::Minutes,
            PrecisionArg::H => Precision::Hours,
        }
    }
}

#[derive(Args, Debug)]
struct WriteArgs {
    /// The line protocol file; `-` (the default) reads standard input.
    #[arg(default_value = "-")]
    file: String,
    /// Server URL, e.g. http://localhost:8086.
    #[arg(long, env = "INFLUX_URL", required_unless_present = "dry_run")]
    url: Option<String>,
    /// Bucket to write to.
    #[arg(long, env = "INFLUX_BUCKET", required_unless_present = "dry_run")]
    bucket: Option<String>,
    /// Organization.
    #[arg(long, env = "INFLUX_ORG")]
    org: Option<String>,
    /// API token (or INFLUX_TOKEN).
    #[arg(long, env = "INFLUX_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Timestamp precision of the file.
    #[arg(long, value_enum, default_value = "ns")]
    precision: PrecisionArg,
    /// gzip request bodies (the default).
    #[arg(long, overrides_with = "no_gzip")]
    gzip: bool,
    /// Send request bodies uncompressed.
    #[arg(long)]
    no_gzip: bool,
    /// Lines per request.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    batch_lines: u64,
    /// Validate the lines locally; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// Retries of a failed request before giving up.
    #[arg(long, default_value_t = 5)]
    max_retries: u32,
    /// First wait before a retry, in milliseconds (doubling, with jitter).
    #[arg(long, default_value_t = 5000)]
    retry_interval_ms: u32,
    /// The longest wait before one retry, in seconds, whatever the server's
    /// Retry-After asks for (default 125).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u32).range(1..=86_400))]
    max_retry_wait: Option<u32>,
    /// Seconds one request may take.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// More log lines on standard error (-v: info, -vv: linewire's debug
    /// lines, -vvv: everything). Without it, RUST_LOG is used, else
    /// warnings only (retries, waits, splits); failures are reported at
    /// the end.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

/// The most bytes of line protocol in one request (servers' default limit
/// is 10 MiB).
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// The most characters of one server message shown.
const MESSAGE_CHARS: usize = 240;

/// The most characters of one log line.
const LOG_CHARS: usize = 400;

/// The most distinct messages reported; lines with further messages are
/// only counted.
const MAX_MESSAGES: usize = 10;

/// The most line ranges listed per message; further lines are counted.
const MAX_RANGES: usize = 8;

/// A partial write naming this many bad lines may have rejected more
/// (InfluxDB Cloud Serverless lists the first 100).
const SERVER_LIST_CAP: usize = 100;

/// The progress bar, when standard error is a terminal: log lines and
/// reports are printed above it.
static BAR: OnceLock<ProgressBar> = OnceLock::new();

/// Prints one line on standard error (above the progress bar). Errors
/// (a closed standard error) are ignored: there is nowhere to report them.
fn say(msg: &str) {
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
fn say_out(msg: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{msg}");
    let _ = out.flush();
}

fn main() -> ExitCode {
    let Command::Write(args) = Cli::parse().command;
    init_logging(args.verbose, args.token.as_deref());
    match write(&args) {
        Ok(summary) => summary.exit_code(),
        Err(e) => {
            say(&e);
            ExitCode::from(2)
        }
    }
}

/// The log: retries, waits and errors of the delivery, each line passed
/// through [`for_display`] (it may quote the server) and printed above the
/// progress bar.
struct Logger {
    filter: env_logger::Logger,
    token: Option<String>,
    /// Leave out the delivery's error lines (without `-v` or `RUST_LOG`):
    /// the report at the end has each of them, once per distinct message.
    hide_delivery_errors: bool,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.filter.matches(record) {
            return;
        }
        if self.hide_delivery_errors
            && record.level() == log::Level::Error
            && record.target().starts_with("linewire_std")
        {
            return;
        }
        let text = for_display(&record.args().to_string(), self.token.as_deref(), LOG_CHARS);
        match record.level() {
            log::Level::Error => say(&format!("error: {text}")),
            log::Level::Warn => say(&format!("warning: {text}")),
            level => say(&format!(
                "{} {}: {text}",
                level.as_str().to_ascii_lowercase(),
                for_display(record.target(), None, 80)
            )),
        }
    }

    fn flush(&self) {}
}

fn init_logging(verbose: u8, token: Option<&str>) {
    let quiet = verbose == 0 && std::env::var_os("RUST_LOG").is_none();
    let filter = if verbose == 0 {
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).build()
    } else {
        let (ours, others) = match verbose {
            1 => (log::LevelFilter::Info, log::LevelFilter::Info),
            2 => (log::LevelFilter::Debug, log::LevelFilter::Info),
            _ => (log::LevelFilter::Trace, log::LevelFilter::Trace),
        };
        env_logger::Builder::new()
            .filter_level(others)
            .filter_module("linewire", ours)
            .filter_module("linewire_std", ours)
            .build()
    };
    let max = filter.filter();
    let logger = Logger {
        filter,
        token: token.map(str::to_owned),
        hide_delivery_errors: quiet,
    };
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(max);
    }
}

/// Sorted line numbers, kept as at most [`MAX_RANGES`] ranges plus a count
/// of the others.
#[derive(Debug, Default)]
struct LineSet {
    ranges: Vec<(u64, u64)>,
    count: u64,
}

impl LineSet {
    /// Adds `n` (callers add in increasing order).
    fn add(&mut self, n: u64) {
        self.count += 1;
        if let Some(last) = self.ranges.last_mut() {
            if n == last.1.saturating_add(1) {
                last.1 = n;
                return;
            }
        }
        if self.ranges.len() < MAX_RANGES {
            self.ranges.push((n, n));
        }
    }

    /// `line 7`, `lines 1-5000`, `lines 4, 7, 10-12 and 4,990 more`.
    fn describe(&self) -> String {
        let mut s = String::from(if self.count == 1 { "line " } else { "lines " });
        for (i, (a, b)) in self.ranges.iter().enumerate() {
            if i > 0 {
                s.push_str(", ");
            }
            if a == b {
                let _ = write!(s, "{a}");
            } else {
                let _ = write!(s, "{a}-{b}");
            }
        }
        let listed: u64 = self.ranges.iter().map(|(a, b)| b - a + 1).sum();
        let more = self.count.saturating_sub(listed);
        if more > 0 {
            let _ = write!(s, " and {} more", thousands(more));
        }
        s
    }
}

/// `4990` as `4,990`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What became of the lines a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// Refused by the server (or not valid UTF-8): resending will not help.
    Rejected,
    /// Found invalid by `--dry-run`.
    Invalid,
    /// Never stored: the request failed or the run stopped.
    NotSent,
}

impl Fate {
    fn word(self) -> &'static str {
        match self {
            Self::Rejected => "rejected",
            Self::Invalid => "invalid",
            Self::NotSent => "not sent",
        }
    }
}

#[derive(Debug)]
struct Group {
    fate: Fate,
    /// Display-safe and bounded.
    message: String,
    lines: LineSet,
}

/// Every line not stored, grouped by message: each distinct message is
/// printed once, with the line numbers it applies to. At most
/// [`MAX_MESSAGES`] messages and [`MAX_RANGES`] ranges per message are
/// kept, so the report is bounded whatever the server says.
#[derive(Debug, Default)]
struct Report {
    groups: Vec<Group>,
    /// How many lines had a message that was not kept.
    other: u64,
}

impl Report {
    /// Adds lines (in increasing order) with a display-safe `message`.
    fn add(&mut self, fate: Fate, message: &str, lines: impl IntoIterator<Item = u64>) {
        let idx = match self
            .groups
            .iter()
            .position(|g| g.fate == fate && g.message == message)
        {
            Some(i) => Some(i),
            None if self.groups.len() < MAX_MESSAGES => {
                self.groups.push(Group {
                    fate,
                    message: message.to_owned(),
                    lines: LineSet::default(),
                });
                Some(self.groups.len() - 1)
            }
            None => None,
        };
        match idx.and_then(|i| self.groups.get_mut(i)) {
            Some(g) => lines.into_iter().for_each(|n| g.lines.add(n)),
            None => self.other += lines.into_iter().count() as u64,
        }
    }

    fn print(&self) {
        for g in &self.groups {
            say(&format!(
                "{}: {}: {}",
                g.lines.describe(),
                g.fate.word(),
                g.message
            ));
        }
        if self.other > 0 {
            say(&format!(
                "{} more {} not stored for other reasons (not shown)",
                thousands(self.other),
                if self.other == 1 { "line" } else { "lines" }
            ));
        }
    }
}

#[derive(Debug, Default)]
struct Summary {
    lines: u64,
    written: u64,
    rejected: u64,
    not_sent: u64,
    /// Rejected lines the server counted but did not name (in `rejected`).
    unnamed: u64,
    /// Lines counted written from requests whose list of bad lines may
    /// have been cut by the server.
    unsure: u64,
    /// Why the run stopped before the end of the input, and what to do.
    stopped: Option<String>,
    /// The run stopped with input left unread: the last line read.
    unread_after: Option<u64>,
    /// Reading the input failed.
    read_error: Option<String>,
    dry_run: bool,
}

impl Summary {
    fn exit_code(&self) -> ExitCode {
        if self.read_error.is_some() {
            return ExitCode::from(2);
        }
        let complete = if self.dry_run {
            self.rejected == 0
        } else {
            self.written >= self.lines
                && self.rejected == 0
                && self.not_sent == 0
                && self.stopped.is_none()
        };
        if complete {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        }
    }
}

/// Everything one run reports.
struct Run {
    summary: Summary,
    report: Report,
    token: Option<String>,
}

fn open(path: &str) -> io::Result<(Box<dyn Read>, Option<u64>)> {
    if path == "-" {
        Ok((Box::new(io::stdin().lock()), None))
    } else {
        let file = File::open(path)?;
        let len = file.metadata().ok().map(|m| m.len());
        Ok((Box::new(file), len))
    }
}

fn progress_bar(len: Option<u64>) -> ProgressBar {
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

fn write(args: &WriteArgs) -> Result<Summary, String> {
    let shown_file = for_display(&args.file, None, MESSAGE_CHARS);
    let (input, len) = open(&args.file).map_err(|e| format!("cannot open {shown_file}: {e}"))?;
    let mut reader = BufReader::with_capacity(256 * 1024, input);

    let client = if args.dry_run {
        None
    } else {
        let url = args.url.as_deref().ok_or("--url is required")?;
        let bucket = args.bucket.as_deref().ok_or("--bucket is required")?;
        let mut c = Client::new(url, args.token.as_deref())
            .map_err(|e| {
                let why = match e {
                    linewire_std::Error::Config(m) => m,
                    other => other.to_string(),
                };
                format!(
                    "cannot write to {}: {}",
                    for_display(url, None, MESSAGE_CHARS),
                    for_display(&why, args.token.as_deref(), LOG_CHARS)
                )
            })?
            .bucket(bucket)
            .precision(args.precision.into())
            .gzip(!args.no_gzip)
            .timeout(Duration::from_secs(args.timeout));
        if let Some(org) = &args.org {
            c = c.org(org);
        }
        Some(c)
    };
    let mut policy = RetryPolicy::new()
        .first_interval_ms(args.retry_interval_ms)
        .max_retries(Some(args.max_retries));
    if let Some(secs) = args.max_retry_wait {
        // No single wait longer than the cap: neither the server's
        // Retry-After nor the backoff. A cap
        // above the default also lets the retries run that long (the
        // policy gives up on a batch once its next try would start more
        // than `max_elapsed` after its first failure).
        let ms = secs.saturating_mul(1000);
        let retries = args.max_retries.saturating_add(1);
        let elapsed = policy
            .max_elapsed()
            .map(|e| e.max(ms.saturating_mul(retries)));
        policy = policy
            .max_interval_ms(ms.min(policy.max_interval()))
            .max_elapsed_ms(elapsed)
            .max_retry_after_ms(ms);
    }
    let mut sender = client.as_ref().map(|c| cli::Sender::new(c, policy));

    if io::stderr().is_terminal() {
        let _ = BAR.set(progress_bar(len));
    }
    let started = Instant::now();
    let mut run = Run {
        summary: Summary {
            dry_run: args.dry_run,
            ..Summary::default()
        },
        report: Report::default(),
        token: args.token.clone(),
    };
    let mut batch: Vec<Line> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut raw = Vec::new();
    let mut line_no = 0u64;
    let batch_lines = usize::try_from(args.batch_lines).unwrap_or(usize::MAX);
    loop {
        raw.clear();
        let n = match reader.read_until(b'\n', &mut raw) {
            Ok(n) => n,
            Err(e) => {
                run.summary.read_error = Some(format!(
                    "cannot read {shown_file} after line {line_no}: {e}"
                ));
                break;
            }
        };
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some(bar) = BAR.get() {
            bar.inc(n as u64);
        }
        let text = match std::str::from_utf8(&raw) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(_) => {
                run.summary.lines += 1;
                run.summary.rejected += 1;
                let fate = if args.dry_run {
                    Fate::Invalid
                } else {
                    Fate::Rejected
                };
                run.report
                    .add(fate, "not valid UTF-8 (not sent)", [line_no]);
                continue;
            }
        };
        let start = text.trim_start();
        if start.is_empty() || start.starts_with('#') {
            continue;
        }
        run.summary.lines += 1;
        if args.dry_run {
            if let Some(Err(e)) = influxdb_line_protocol::parse_lines(text).next() {
                run.summary.rejected += 1;
                let msg = for_display(&e.to_string(), None, MESSAGE_CHARS);
                run.report.add(Fate::Invalid, &msg, [line_no]);
            }
            continue;
        }
        batch_bytes += text.len() + 1;
        batch.push(Line::new(line_no, text.to_owned()));
        if batch.len() >= batch_lines || batch_bytes >= MAX_BATCH_BYTES {
            if let Some(s) = sender.as_mut() {
                send(s, std::mem::take(&mut batch), &mut run);
            }
            batch_bytes = 0;
            if run.summary.stopped.is_some() {
                if reader.fill_buf().map_or(true, |b| !b.is_empty()) {
                    run.summary.unread_after = Some(line_no);
                }
                break;
            }
        }
    }
    if !batch.is_empty() && run.summary.stopped.is_none() {
        if let Some(s) = sender.as_mut() {
            send(s, batch, &mut run);
        }
    }
    if let Some(bar) = BAR.get() {
        bar.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    run.report.print();
    let s = &run.summary;
    if let Some(why) = &s.stopped {
        match s.unread_after {
            Some(line) => say(&format!(
                "stopped after line {line}, the rest was not read: {why}"
            )),
            None => say(&format!("stopped: {why}")),
        }
    }
    if s.unnamed > 0 {
        say(&format!(
            "{} more {} rejected: the server counted them without saying which",
            thousands(s.unnamed),
            if s.unnamed == 1 {
                "line was"
            } else {
                "lines were"
            }
        ));
    }
    if s.unsure > 0 {
        say(&format!(
            "the server listed only the first {SERVER_LIST_CAP} bad lines of some requests: up to {} of the lines counted written may have been rejected too",
            thousands(s.unsure)
        ));
    }
    if args.dry_run {
        say_out(&format!(
            "{} {} checked: {} valid, {} invalid ({secs:.2} s)",
            s.lines,
            if s.lines == 1 { "line" } else { "lines" },
            s.lines.saturating_sub(s.rejected),
            s.rejected
        ));
    } else {
        // With a cut list of bad lines, `written` is an upper bound.
        let (up_to, or_more) = if s.unsure > 0 {
            ("up to ", " or more")
        } else {
            ("", "")
        };
        say_out(&format!(
            "{} {}: {up_to}{} written, {}{or_more} rejected, {} not sent{} ({secs:.2} s)",
            s.lines,
            if s.lines == 1 { "line" } else { "lines" },
            s.written,
            s.rejected,
            s.not_sent,
            if s.unread_after.is_some() {
                "; stopped early, the rest of the input was not read"
            } else {
                ""
            }
        ));
    }
    if let Some(e) = &s.read_error {
        say(e);
    }
    Ok(run.summary)
}

fn send(sender: &mut cli::Sender<'_>, batch: Vec<Line>, run: &mut Run) {
    let started = Instant::now();
    for settled in sender.send(batch) {
        match settled {
            Settled::Sent(n) => run.summary.written += n as u64,
            Settled::Failed(f) => settle(f, started.elapsed(), run),
        }
    }
}

/// Counts and reports lines that were not stored.
fn settle(f: Failed, took: Duration, run: &mut Run) {
    let token = run.token.as_deref();
    let n = f.lines.len() as u64;
    let written = f.written as u64;
    if let FailureReason::Server(e) = &f.reason {
        if matches!(e.outcome, Outcome::PartiallyWritten(_)) {
            // The server counted more rejected lines than it named
            // (`dropped=N`, a larger count); which lines they are is unknown.
            let unnamed = f.unnamed as u64;
            run.summary.rejected += unnamed;
            run.summary.unnamed += unnamed;
            // A server that lists a fixed number of bad lines (Cloud
            // Serverless: 100) may have rejected more than it listed.
            if n >= SERVER_LIST_CAP as u64 {
                run.summary.unsure += written;
            }
        }
    }
    run.summary.written += written;
    let (what, stopped) = match &f.reason {
        FailureReason::Server(e) if matches!(e.action(), Action::Drop | Action::Split) => {
            return rejected(&f, e, run);
        }
        FailureReason::Server(e) => {
            let (what, advice) = refusal(e, token);
            (what, Some(advice))
        }
        FailureReason::GaveUp(g) => (
            gave_up(g, took, token),
            Some("the server did not take the data: run again later".to_owned()),
        ),
        FailureReason::Config(m) => (
            for_display(m, token, MESSAGE_CHARS),
            Some("fix the configuration and run again".to_owned()),
        ),
        other => (for_display(&other.to_string(), token, MESSAGE_CHARS), None),
    };
    run.summary.not_sent += n;
    run.report
        .add(Fate::NotSent, &what, f.lines.iter().map(Line::tag));
    if stopped.is_some() {
        run.summary.stopped = stopped;
    }
}

/// Counts and reports lines the server refused (each under its own reason
/// when the server gave one).
fn rejected(f: &Failed, e: &ServerError, run: &mut Run) {
    let token = run.token.as_deref();
    run.summary.rejected += f.lines.len() as u64;
    let mut whole = server_message(e, token);
    if matches!(e.outcome, Outcome::Rejected) && f.reasons.iter().any(Option::is_some) {
        // InfluxDB 3 Core and 2.x refuse a whole request for its
        // bad lines: the others may be fine.
        whole = format!("with the whole request, for the bad lines named: {whole}");
    }
    // Each line under its own reason when the server gave one, the
    // others under the answer's message; line numbers in order.
    let mut tagged: Vec<(u64, Option<String>)> = f
        .lines
        .iter()
        .zip(f.reasons.iter().chain(std::iter::repeat(&None)))
        .map(|(line, reason)| {
            let msg = reason
                .as_deref()
                .map(|r| for_display(r, token, MESSAGE_CHARS));
            (line.tag(), msg)
        })
        .collect();
    tagged.sort_by_key(|(tag, _)| *tag);
    for (tag, msg) in &tagged {
        run.report
            .add(Fate::Rejected, msg.as_deref().unwrap_or(&whole), [*tag]);
    }
}

/// `HTTP 400 (invalid): message; detail; X-Influxdb-Error: ...`, every
/// part from the server passed through [`for_display`].
fn server_message(e: &ServerError, token: Option<&str>) -> String {
    let show = |s: &str| for_display(s, token, MESSAGE_CHARS);
    let mut s = format!("HTTP {}", e.status);
    if let Some(code) = e.code.as_deref().filter(|c| !c.is_empty()) {
        let _ = write!(s, " ({})", for_display(code, token, 40));
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(m) = e.message.as_deref().filter(|m| !m.is_empty()) {
        parts.push(show(m));
    }
    if let Some(d) = e.detail.as_deref().filter(|d| !d.is_empty()) {
        if e.message.as_deref() != Some(d) {
            parts.push(show(d));
        }
    }
    if let Some(h) = e.influxdb_error.as_deref().filter(|h| !h.is_empty()) {
        if e.message.as_deref() != Some(h) {
            parts.push(format!("X-Influxdb-Error: {}", show(h)));
        }
    }
    if let Some(p) = e.platform_error_code.as_deref().filter(|p| !p.is_empty()) {
        parts.push(format!(
            "X-Platform-Error-Code: {}",
            for_display(p, token, 40)
        ));
    }
    if !parts.is_empty() {
        s.push_str(": ");
        s.push_str(&parts.join("; "));
    }
    if e.body_truncated {
        s.push_str(" (answer cut)");
    }
    s
}

/// What a refusal that stops the run means, and the advice.
fn refusal(e: &ServerError, token: Option<&str>) -> (String, String) {
    let fix = "fix the configuration and run again".to_owned();
    let msg = server_message(e, token);
    match e.outcome {
        Outcome::Unauthorized => (format!("the server refused the token: {msg}"), fix),
        Outcome::Forbidden => (
            format!("the token may not write to this bucket: {msg}"),
            fix,
        ),
        Outcome::NotFound => (
            format!("the bucket, org or endpoint does not exist: {msg}"),
            fix,
        ),
        Outcome::InvalidRequest => (format!("the server refused the request: {msg}"), fix),
        _ if (300..400).contains(&e.status) => {
            let to = e.location.as_deref().map_or_else(
                || "an unknown location (no Location header)".to_owned(),
                |l| for_display(l, token, MESSAGE_CHARS),
            );
            (
                format!(
                    "the server redirected the write (HTTP {}) to {to}; redirects are never followed for writes",
                    e.status
                ),
                "fix the configuration (--url should be the final address) and run again"
                    .to_owned(),
            )
        }
        _ => (format!("unexpected answer: {msg}"), fix),
    }
}

/// What giving up means: unreachable, throttled or a server error, how
/// often and for how long it was tried.
fn gave_up(g: &GaveUp, took: Duration, token: Option<&str>) -> String {
    let kind = match g.kind {
        Retried::Unreachable => "the server is unreachable".to_owned(),
        Retried::Throttled => "the server is throttling writes (HTTP 429)".to_owned(),
        Retried::Unavailable => "the server is unavailable (HTTP 503)".to_owned(),
        Retried::ServerError(status) => format!("the server keeps failing (HTTP {status})"),
        _ => "the server did not take the data".to_owned(),
    };
    format!(
        "{kind}: gave up after {} {} over {}; last error: {}",
        g.tries,
        if g.tries == 1 { "try" } else { "tries" },
        span(took.max(g.waited)),
        for_display(&g.last_error, token, MESSAGE_CHARS)
    )
}

/// `25 ms`, `3.2 s`.
fn span(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
