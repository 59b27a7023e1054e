//! `linewire`: write line protocol files to InfluxDB.
//!
//! ```sh
//! linewire write metrics.lp --host http://localhost:8086 -b b -t T
//! linewire write -f a.lp -f b.lp.gz --host ... -b b --errors-file rejected.lp
//! linewire write 'm,host=a v=1 1700000000' --host ... -b b -p s
//! zcat big.lp.gz | INFLUX_TOKEN=T linewire write --host ... -b b --rate-limit 1MB/s
//! linewire write metrics.lp -c cloud -b b   # the influx CLI's config "cloud"
//! linewire write metrics.lp --dry-run
//! ```
//!
//! Input comes from `-f/--file` (repeatable, in order; `-` is standard
//! input), then the argument: line protocol, or a file when it names one
//! (see [`input`] for the rule); standard input when there is neither.
//! gzip input is recognized by its content and decompressed while it is
//! read; annotated CSV is refused before anything is sent.
//!
//! Files of any size are streamed line by line in batches. Lines the
//! server rejected are reported once per distinct message, with the line
//! numbers it applies to; what the server says is shown through
//! `for_display` (token redacted, control characters replaced, bounded),
//! so the report stays short whatever the server answers.
//!
//! Retries, waits and 413 splits are logged on standard error as they
//! happen (`-v` or `RUST_LOG` for more); `--max-retry-wait` caps every
//! wait, a server's `Retry-After` included. The exit status is 0 when
//! every line was written, 1 when any was not (rejected, not sent, or the
//! run stopped), 2 on a usage, configuration or read error (a corrupt
//! gzip input, an errors file that cannot be written, CSV input).
//!
//! A reader of standard output or error that goes away (`| head -1`)
//! does not stop the run: see [`output`].

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use linewire_std::linewire::Precision;

mod check;
mod config;
mod errors_file;
mod input;
mod logging;
mod output;
mod progress;
mod rate;
mod report;
mod run;
mod tls;

#[derive(Parser, Debug)]
#[command(name = "linewire", version, about = "Write InfluxDB line protocol")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write line protocol given as an argument, from files (`-f`) or from
    /// standard input.
    Write(WriteArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
/// The precisions the write API takes (`precision=`), as `influx write`
/// offers them. The core's minutes and hours exist only for points it
/// formats itself (it writes their timestamps in seconds); lines read from
/// a file are sent as they are, so a file in minutes would be stored as
/// seconds.
pub(crate) enum PrecisionArg {
    Ns,
    Us,
    Ms,
    S,
}

impl From<PrecisionArg> for Precision {
    fn from(p: PrecisionArg) -> Self {
        match p {
            PrecisionArg::Ns => Precision::Nanoseconds,
            PrecisionArg::Us => Precision::Microseconds,
            PrecisionArg::Ms => Precision::Milliseconds,
            PrecisionArg::S => Precision::Seconds,
        }
    }
}

/// How request bodies are sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Compression {
    None,
    Gzip,
}

#[derive(Args, Debug)]
pub(crate) struct WriteArgs {
    /// Line protocol to write, or (for compatibility) a file to read:
    /// the argument is a file when it names an existing file, starts with
    /// `@` (`@metrics.lp`, as influx write takes it) or is `-` (standard
    /// input); else it is line protocol when it has a space and an `=`
    /// (`'m,t=a v=1 1700000000'`); anything else is a missing file. Read
    /// after the `--file`s; standard input is read when there is neither.
    #[arg(value_name = "LINES|FILE")]
    input: Option<String>,
    /// A line protocol file to read (repeatable: read in order; `-` is
    /// standard input). gzip files are recognized by their content.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<String>,
    /// Input format: `lp` (line protocol) reads every input as line
    /// protocol. `csv` is not supported (convert it with `influx write
    /// dryrun --format csv`). Without it, input that looks like annotated
    /// CSV is refused before anything is sent.
    #[arg(long, value_enum, value_name = "lp|csv")]
    format: Option<input::Format>,
    /// Request body compression: `gzip` (the default) or `none`. (influx
    /// write's flag of this name is about its input; linewire recognizes
    /// gzip input by itself.)
    #[arg(long, value_enum, value_name = "none|gzip", conflicts_with_all = ["gzip", "no_gzip"])]
    compression: Option<Compression>,
    /// Write every line not stored (rejected, invalid, or not sent because
    /// the run stopped) to this file, each after a `# <source> line N:
    /// <reason>` comment, so it can be fixed and written again.
    #[arg(long, value_name = "PATH")]
    errors_file: Option<std::path::PathBuf>,
    /// The most line protocol bytes sent per period, as influx write takes
    /// it: `1MB/s`, `100kB/s`, `5MB/5min`, `2GB/h` (1 kB = 1024 B; spaces
    /// ignored). Each batch waits for its turn; a batch larger than the
    /// budget is still sent whole, and the next one waits longer.
    #[arg(long, value_name = "RATE", value_parser = rate::parse_rate)]
    rate_limit: Option<rate::Rate>,
    /// InfluxDB URL, e.g. http://localhost:8086 (`--url` and INFLUX_URL
    /// also work); else the influx CLI config's `url`.
    #[arg(
        long = "host",
        visible_alias = "url",
        env = "INFLUX_HOST",
        value_name = "URL"
    )]
    url: Option<String>,
    /// Bucket name (INFLUX_BUCKET also works).
    #[arg(short = 'b', long, env = "INFLUX_BUCKET_NAME")]
    bucket: Option<String>,
    /// Organization name; else the influx CLI config's `org`.
    #[arg(short = 'o', long, env = "INFLUX_ORG")]
    org: Option<String>,
    /// API token; else the influx CLI config's `token`.
    #[arg(short = 't', long, env = "INFLUX_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Timestamp precision of the file.
    #[arg(
        short = 'p',
        long,
        value_enum,
        env = "INFLUX_PRECISION",
        default_value = "ns"
    )]
    precision: PrecisionArg,
    /// gzip request bodies (the default; `--compression gzip`).
    #[arg(long, overrides_with = "no_gzip")]
    gzip: bool,
    /// Send request bodies uncompressed (`--compression none`).
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
    /// Trust the certificate authorities in this PEM file for https://
    /// instead of the system's (default: the system's store, or the file
    /// SSL_CERT_FILE names).
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<String>,
    /// Do not verify the server's TLS certificate. DANGEROUS: anyone on the
    /// path can read and change the data and see the token; for tests only.
    #[arg(long)]
    skip_verify: bool,
    /// An extra HTTP header for every request, "Name: value" (for a proxy;
    /// repeatable).
    #[arg(long, value_name = "NAME: VALUE")]
    header: Vec<String>,
    /// Bucket ID, instead of its name (sent as the bucket, as `influx
    /// write` does).
    #[arg(long, env = "INFLUX_BUCKET_ID", value_name = "ID")]
    bucket_id: Option<String>,
    /// Organization ID, instead of its name (sent as the org, as `influx
    /// write` does).
    #[arg(long, env = "INFLUX_ORG_ID", value_name = "ID")]
    org_id: Option<String>,
    /// The influx CLI's configs file (default ~/.influxdbv2/configs),
    /// read for the URL, token and org not given otherwise.
    #[arg(long, env = "INFLUX_CONFIGS_PATH", value_name = "PATH")]
    configs_path: Option<std::path::PathBuf>,
    /// Use this config of the configs file instead of the active one.
    #[arg(short = 'c', long, env = "INFLUX_ACTIVE_CONFIG", value_name = "NAME")]
    active_config: Option<String>,
}

impl WriteArgs {
    /// Whether request bodies are gzipped: `--compression`, else
    /// `--gzip`/`--no-gzip`, else yes.
    pub(crate) fn gzip_body(&self) -> bool {
        match self.compression {
            Some(c) => c == Compression::Gzip,
            None => !self.no_gzip,
        }
    }
}

fn main() -> ExitCode {
    use logging::init_logging;
    use output::say;
    use run::write;

    let Command::Write(mut args) = Cli::parse().command;
    if let Err(e) = config::resolve(&mut args) {
        say(&e);
        return ExitCode::from(2);
    }
    init_logging(args.verbose, args.token.as_deref());
    match write(&args) {
        Ok(summary) => summary.exit_code(),
        Err(e) => {
            say(&e);
            ExitCode::from(2)
        }
    }
}
