//! `linewire`: write line protocol files to InfluxDB.
//!
//! ```sh
//! linewire write metrics.lp --host http://localhost:8086 -b b -t T
//! zcat big.lp.gz | INFLUX_TOKEN=T linewire write - --host ... -b b -p s
//! linewire write metrics.lp -c cloud -b b   # the influx CLI's config "cloud"
//! linewire write metrics.lp --dry-run
//! ```
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
//! run stopped), 2 on a usage, configuration or read error.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use linewire_std::linewire::Precision;

mod config;
mod logging;
mod output;
mod report;
mod run;

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
pub(crate) enum PrecisionArg {
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
pub(crate) struct WriteArgs {
    /// The line protocol file; `-` (the default) reads standard input.
    #[arg(default_value = "-")]
    file: String,
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
