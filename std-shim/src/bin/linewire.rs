//! `linewire`: write line protocol files to InfluxDB.
//!
//! ```sh
//! linewire write metrics.lp --url http://localhost:8086 --bucket b --token T
//! zcat big.lp.gz | INFLUX_TOKEN=T linewire write - --url ... --bucket b --precision s
//! linewire write metrics.lp --dry-run
//! ```
//!
//! Files of any size are streamed line by line in batches. Rejected lines
//! are reported with their line numbers; the exit status is 0 when every
//! line was written, 1 when any was not, 2 on a usage, configuration or
//! read error.

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use linewire::http::Action;
use linewire::{Precision, RetryPolicy};
use linewire_std::cli::{self, Line, Settled};
use linewire_std::{Client, FailureReason};

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
    /// Seconds one request may take.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
}

/// The most bytes of line protocol in one request (servers' default limit
/// is 10 MiB).
const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

fn main() -> ExitCode {
    let Command::Write(args) = Cli::parse().command;
    match write(&args) {
        Ok(summary) => {
            if summary.all_written() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("linewire: {e}");
            ExitCode::from(2)
        }
    }
}

#[derive(Debug, Default)]
struct Summary {
    lines: u64,
    written: u64,
    rejected: u64,
    failed: u64,
    aborted: bool,
}

impl Summary {
    fn all_written(&self) -> bool {
        self.rejected == 0 && self.failed == 0 && !self.aborted
    }
}

/// Reports to the terminal (above the progress bar) or plain stderr.
struct Out {
    bar: Option<ProgressBar>,
}

impl Out {
    fn error(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.suspend(|| eprintln!("{msg}")),
            None => eprintln!("{msg}"),
        }
    }
}

fn open(path: &str) -> io::Result<(Box<dyn Read>, Option<u64>)> {
    if path == "-" {
        Ok((Box::new(io::stdin().lock()), None))
    } else {
        let file = File::open(PathBuf::from(path))?;
        let len = file.metadata().ok().map(|m| m.len());
        Ok((Box::new(file), len))
    }
}

fn write(args: &WriteArgs) -> Result<Summary, String> {
    let (input, len) = open(&args.file).map_err(|e| format!("cannot open {}: {e}", args.file))?;
    let mut reader = BufReader::with_capacity(256 * 1024, input);
    let bar = (io::stderr().is_terminal()).then(|| {
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
    });
    let out = Out { bar };
    let started = Instant::now();

    let client = if args.dry_run {
        None
    } else {
        let url = args.url.as_deref().ok_or("--url is required")?;
        let bucket = args.bucket.as_deref().ok_or("--bucket is required")?;
        let mut c = Client::new(url, args.token.as_deref())
            .map_err(|e| e.to_string())?
            .bucket(bucket)
            .precision(args.precision.into())
            .gzip(!args.no_gzip)
            .timeout(Duration::from_secs(args.timeout));
        if let Some(org) = &args.org {
            c = c.org(org);
        }
        Some(c)
    };
    let policy = RetryPolicy::new()
        .first_interval_ms(args.retry_interval_ms)
        .max_retries(Some(args.max_retries));
    let mut sender = client.as_ref().map(|c| cli::Sender::new(c, policy));

    let mut summary = Summary::default();
    let mut batch: Vec<Line> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut raw = Vec::new();
    let mut line_no = 0u64;
    let batch_lines = usize::try_from(args.batch_lines).unwrap_or(usize::MAX);
    loop {
        raw.clear();
        let n = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| format!("cannot read {}: {e}", args.file))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        if let Some(bar) = &out.bar {
            bar.inc(n as u64);
        }
        let text = match std::str::from_utf8(&raw) {
            Ok(t) => t.trim_end_matches(['\n', '\r']),
            Err(_) => {
                summary.lines += 1;
                summary.rejected += 1;
                out.error(&format!("line {line_no}: rejected: not valid UTF-8"));
                continue;
            }
        };
        if text.trim().is_empty() || text.trim_start().starts_with('#') {
            continue;
        }
        summary.lines += 1;
        if args.dry_run {
            if let Some(Err(e)) = influxdb_line_protocol::parse_lines(text).next() {
                summary.rejected += 1;
                out.error(&format!("line {line_no}: invalid: {e}"));
            }
            continue;
        }
        batch_bytes += text.len() + 1;
        batch.push(Line::new(line_no, text.to_owned()));
        if batch.len() >= batch_lines || batch_bytes >= MAX_BATCH_BYTES {
            if let Some(s) = sender.as_mut() {
                send(s, std::mem::take(&mut batch), &mut summary, &out);
            }
            batch_bytes = 0;
            if summary.aborted {
                break;
            }
        }
    }
    if !batch.is_empty() && !summary.aborted {
        if let Some(s) = sender.as_mut() {
            send(s, batch, &mut summary, &out);
        }
    }
    if let Some(bar) = &out.bar {
        bar.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    if args.dry_run {
        println!(
            "{} lines checked: {} valid, {} invalid ({secs:.2} s)",
            summary.lines,
            summary.lines - summary.rejected,
            summary.rejected
        );
    } else {
        println!(
            "{} lines: {} written, {} rejected, {} failed{} ({secs:.2} s)",
            summary.lines,
            summary.written,
            summary.rejected,
            summary.failed,
            if summary.aborted {
                ", stopped early"
            } else {
                ""
            }
        );
    }
    Ok(summary)
}

fn send(sender: &mut cli::Sender<'_>, batch: Vec<Line>, summary: &mut Summary, out: &Out) {
    for settled in sender.send(batch) {
        match settled {
            Settled::Sent(n) => summary.written += n as u64,
            Settled::Failed(f) => {
                summary.written += f.written as u64;
                let stop = match &f.reason {
                    FailureReason::Server(e) => {
                        matches!(e.action(), Action::Stop)
                    }
                    FailureReason::GaveUp(_) | FailureReason::Config(_) => true,
                    _ => false,
                };
                let rejected = matches!(
                    &f.reason,
                    FailureReason::Server(e) if matches!(e.action(), Action::Drop | Action::Split)
                );
                if rejected {
                    summary.rejected += f.lines.len() as u64;
                    for (line, reason) in f.lines.iter().zip(&f.reasons) {
                        let why = reason.clone().unwrap_or_else(|| f.reason.to_string());
                        out.error(&format!("line {}: rejected: {why}", line.tag()));
                    }
                } else {
                    summary.failed += f.lines.len() as u64;
                    let first = f.lines.first().map_or(0, Line::tag);
                    let last = f.lines.last().map_or(0, Line::tag);
                    out.error(&format!(
                        "lines {first}-{last} ({}) not written: {}",
                        f.lines.len(),
                        f.reason
                    ));
                }
                if stop {
                    out.error("stopping: fix the configuration and run again");
                    summary.aborted = true;
                }
            }
        }
    }
}
