//! A Raspberry Pi (or any Linux host) metrics daemon: every N seconds it
//! samples the CPU temperature (`/sys/class/thermal`, skipped when absent),
//! load (`/proc/loadavg`), memory (`/proc/meminfo`), uptime and the root
//! file system (`statvfs`), tags them with the host name and writes them
//! through the background writer. It keeps its points through server
//! outages (retrying without giving up, dropping the oldest points past
//! 100,000) and on Ctrl-C or SIGTERM flushes what it holds and exits.
//!
//! ```sh
//! cargo run --example pi_daemon -- --url http://influx:8086 --bucket pi \
//!     [--token T | INFLUX_TOKEN=T] [--org O] [--interval 10] [--iterations N | --once]
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use linewire_std::{BackgroundWriter, Backpressure, Client, Stats};
use linewire_std::{Batch, DefaultTags, Precision, RetryPolicy};

/// Command-line options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Server URL.
    pub url: String,
    /// API token.
    pub token: Option<String>,
    /// Bucket.
    pub bucket: String,
    /// Organization.
    pub org: Option<String>,
    /// Seconds between samples.
    pub interval: Duration,
    /// Stop after this many samples (`--once` is 1).
    pub iterations: Option<u64>,
}

const USAGE: &str = "usage: pi_daemon --url URL --bucket B [--token T] [--org O] \
                     [--interval SECS] [--iterations N | --once]";

/// Parses `args` (without the program name); the token falls back to `INFLUX_TOKEN`.
pub fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut url = std::env::var("INFLUX_URL").ok();
    let mut token = std::env::var("INFLUX_TOKEN").ok().filter(|t| !t.is_empty());
    let mut bucket = std::env::var("INFLUX_BUCKET").ok();
    let mut org = std::env::var("INFLUX_ORG").ok().filter(|o| !o.is_empty());
    let mut interval = Duration::from_secs(10);
    let mut iterations = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or(format!("{arg} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--url" => url = Some(value()?),
            "--token" => token = Some(value()?),
            "--bucket" => bucket = Some(value()?),
            "--org" => org = Some(value()?),
            "--interval" => {
                let v = value()?;
                let secs: f64 = v.parse().map_err(|_| format!("bad --interval {v:?}"))?;
                interval = Duration::try_from_secs_f64(secs)
                    .map_err(|_| format!("bad --interval {v:?}"))?;
            }
            "--iterations" => {
                let v = value()?;
                iterations = Some(v.parse().map_err(|_| format!("bad --iterations {v:?}"))?);
            }
            "--once" => iterations = Some(1),
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(Options {
        url: url.ok_or(format!("--url (or INFLUX_URL) is required\n{USAGE}"))?,
        token,
        bucket: bucket.ok_or(format!("--bucket (or INFLUX_BUCKET) is required\n{USAGE}"))?,
        org,
        interval,
        iterations,
    })
}

#[allow(dead_code)] // the pi_daemon test includes this file as a module
fn main() {
    env_logger_lite();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = install_signal_handler(Arc::clone(&stop)) {
        eprintln!("cannot handle signals: {e}");
        std::process::exit(1);
    }
    match run(&options, &stop) {
        Ok(stats) => {
            println!(
                "pi_daemon: {} points sent, {} lost, {} retries",
                stats.sent,
                stats.lost(),
                stats.retries
            );
            if stats.lost() > 0 {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("pi_daemon: {e}");
            std::process::exit(1);
        }
    }
}

/// Logs warnings and errors to stderr (no logger crate needed).
fn env_logger_lite() {
    struct Stderr;
    impl log::Log for Stderr {
        fn enabled(&self, m: &log::Metadata<'_>) -> bool {
            m.level() <= log::Level::Warn
        }
        fn log(&self, r: &log::Record<'_>) {
            if self.enabled(r.metadata()) {
                eprintln!("{} {}", r.level(), r.args());
            }
        }
        fn flush(&self) {}
    }
    static LOGGER: Stderr = Stderr;
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(log::LevelFilter::Warn);
    }
}

/// Ctrl-C and SIGTERM set `stop`.
pub fn install_signal_handler(stop: Arc<AtomicBool>) -> Result<(), ctrlc::Error> {
    ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst))
}

/// Samples until `stop` is set or the iterations are done, then closes the
/// writer (flushing) and returns its counters.
pub fn run(options: &Options, stop: &AtomicBool) -> Result<Stats, Box<dyn std::error::Error>> {
    let mut client = Client::new(&options.url, options.token.as_deref())?
        .bucket(&options.bucket)
        .precision(Precision::Milliseconds)
        .timeout(Duration::from_secs(10));
    if let Some(org) = &options.org {
        client = client.org(org);
    }
    let writer = BackgroundWriter::builder(client)
        .batch_lines(1000)
        .flush_interval(Duration::from_secs(1))
        .capacity_lines(100_000)
        .backpressure(Backpressure::DropOldest)
        // Survive outages: never give up on a batch, wait at most 30 s between tries.
        .retry_policy(
            RetryPolicy::new()
                .first_interval_ms(500)
                .max_interval_ms(30_000)
                .max_retry_after_ms(30_000)
                .max_retries(None)
                .max_elapsed_ms(None),
        )
        .close_timeout(Duration::from_secs(5))
        .on_failure(|f| eprintln!("pi_daemon: {} points lost: {}", f.lines.len(), f.reason))
        .start();

    let mut tags = DefaultTags::<128>::new();
    tags.add("host", &hostname())?;

    let mut done = 0u64;
    while !stop.load(Ordering::SeqCst) && options.iterations.map_or(true, |n| done < n) {
        let started = Instant::now();
        let batch = sample(&tags)?;
        if let Err(e) = writer.push(&batch) {
            eprintln!("pi_daemon: sample not queued: {e}");
        }
        done += 1;
        if options.iterations.is_some_and(|n| done >= n) {
            break;
        }
        // Sleep in small steps so a signal is noticed quickly.
        while !stop.load(Ordering::SeqCst) && started.elapsed() < options.interval {
            std::thread::sleep(Duration::from_millis(20).min(options.interval));
        }
    }
    Ok(writer.close())
}

/// One sample of every source, as points at millisecond precision.
pub fn sample(tags: &DefaultTags<128>) -> Result<Batch<2048>, Box<dyn std::error::Error>> {
    let now = linewire_std::now(Precision::Milliseconds);
    let mut batch = Batch::<2048>::with_precision(Precision::Milliseconds);

    if let Some(celsius) = cpu_temperature() {
        batch
            .point_with(tags, "cpu_temperature")?
            .field("celsius", celsius)?
            .timestamp(now)?;
    }
    if let Some((l1, l5, l15)) = load() {
        batch
            .point_with(tags, "load")?
            .field("load1", l1)?
            .field("load5", l5)?
            .field("load15", l15)?
            .timestamp(now)?;
    }
    if let Some(m) = memory() {
        let used_percent = if m.total > 0 {
            100.0 * (m.total.saturating_sub(m.available)) as f64 / m.total as f64
        } else {
            0.0
        };
        batch
            .point_with(tags, "memory")?
            .field("total", m.total)?
            .field("available", m.available)?
            .field("used_percent", used_percent)?
            .field("swap_total", m.swap_total)?
            .field("swap_free", m.swap_free)?
            .timestamp(now)?;
    }
    if let Some(d) = disk("/") {
        batch
            .point_with(tags, "disk")?
            .tag("path", "/")?
            .field("total", d.total)?
            .field("free", d.free)?
            .field("available", d.available)?
            .field("used_percent", d.used_percent)?
            .timestamp(now)?;
    }
    if let Some(up) = uptime() {
        batch
            .point_with(tags, "system")?
            .field("uptime_secs", up)?
            .timestamp(now)?;
    }
    Ok(batch)
}

/// The host name (`gethostname`), or "unknown".
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".into();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_owned();
    if name.is_empty() {
        "unknown".into()
    } else {
        name
    }
}

/// The first thermal zone's temperature in °C (`None` without one).
pub fn cpu_temperature() -> Option<f64> {
    let mut zones: Vec<_> = std::fs::read_dir("/sys/class/thermal")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("thermal_zone"))
        })
        .collect();
    zones.sort();
    zones.iter().find_map(|z| {
        let milli: f64 = std::fs::read_to_string(z.join("temp"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(milli / 1000.0)
    })
}

/// 1, 5 and 15 minute load averages.
pub fn load() -> Option<(f64, f64, f64)> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut it = text.split_whitespace().map(str::parse::<f64>);
    Some((it.next()?.ok()?, it.next()?.ok()?, it.next()?.ok()?))
}

/// Memory in bytes.
pub struct Memory {
    /// MemTotal.
    pub total: u64,
    /// MemAvailable.
    pub available: u64,
    /// SwapTotal.
    pub swap_total: u64,
    /// SwapFree.
    pub swap_free: u64,
}

/// From `/proc/meminfo`.
pub fn memory() -> Option<Memory> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let get = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb.saturating_mul(1024))
    };
    Some(Memory {
        total: get("MemTotal:")?,
        available: get("MemAvailable:").or_else(|| get("MemFree:"))?,
        swap_total: get("SwapTotal:").unwrap_or(0),
        swap_free: get("SwapFree:").unwrap_or(0),
    })
}

/// File system sizes in bytes.
pub struct Disk {
    /// Total size.
    pub total: u64,
    /// Free (root included).
    pub free: u64,
    /// Available to unprivileged users.
    pub available: u64,
    /// Used, as `df` computes it.
    pub used_percent: f64,
}

/// `statvfs(path)`.
pub fn disk(path: &str) -> Option<Disk> {
    let c_path = std::ffi::CString::new(path).ok()?;
    // SAFETY: statvfs is plain old data; all-zero is a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid out pointer.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return None;
    }
    #[allow(clippy::useless_conversion)] // the field types differ between targets
    let (frsize, blocks, bfree, bavail) = (
        u64::from(st.f_frsize),
        u64::from(st.f_blocks),
        u64::from(st.f_bfree),
        u64::from(st.f_bavail),
    );
    let used = blocks.saturating_sub(bfree);
    let denom = used.saturating_add(bavail);
    Some(Disk {
        total: blocks.saturating_mul(frsize),
        free: bfree.saturating_mul(frsize),
        available: bavail.saturating_mul(frsize),
        used_percent: if denom > 0 {
            100.0 * used as f64 / denom as f64
        } else {
            0.0
        },
    })
}

/// Seconds since boot.
pub fn uptime() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
