//! End-to-end write throughput against a real VictoriaMetrics on loopback.
//!
//! ```text
//! cd benches && cargo run --release --bin throughput
//! cargo run --release --bin throughput -- --points 200000 --python-points 50000
//! cargo run --release --bin throughput -- --rounds 5 --no-python
//! ```
//!
//! The same generated points (measurement `weather`, 3 tags, 5 fields:
//! float, signed, float, boolean, string; nanosecond timestamps) go to a
//! fresh VictoriaMetrics (`/api/v2/write`) per contender:
//!
//! - `curl`: the points pre-formatted (by linewire, untimed) into files of
//!   5000 lines, posted by one `curl` process over one keep-alive
//!   connection (`-K` config, `--data-binary @file` per file): the
//!   server-bound ceiling; again with the files gzipped beforehand
//!   (untimed), the ceiling with gzip;
//! - linewire: `linewire_std::BackgroundWriter` (batches of 5000), the
//!   timed loop formatting every point with `linewire::Batch` itself, with
//!   gzip off, on at the default level (1), and on at level 6;
//! - Python: the official `influxdb-client` in batching mode (batch 5000),
//!   fewer points (default 200,000, the first of the same set), twice:
//!   building a `Point` per point from the same values (it formats them, as
//!   linewire does; checked to give the same lines but for its sorting of
//!   tags and fields), and given the finished lines as raw strings; see
//!   `throughput_influxdb_client.py`.
//!
//! Then linewire (gzip off) and both Python modes again against a sink
//! (`linewire_benches::sink`: a separate process that answers 204 and only
//! counts lines), which shows how fast each client goes when the server is
//! not the limit.
//!
//! The five VictoriaMetrics contenders run in rounds (`--rounds K`,
//! default 3), each round all of them in turn, so a slow spell of the
//! machine falls on every contender alike. A row of the table is the
//! contender's run of median time; the ratios to `curl` are taken within
//! each round and their median decides the targets (the per-round ratios
//! are printed too). The Python and sink runs go once.
//!
//! Each row also gives the client's CPU time (this process for linewire,
//! the `curl` or `python` process otherwise), the server's CPU time and
//! the CPU time the whole machine was idle, so a row shows whether the
//! machine or the request path was the limit; the end shows what
//! formatting and gzip cost linewire without any I/O.
//!
//! After each run VictoriaMetrics must hold exactly points x 5 samples
//! (`count_over_time` after `/internal/force_flush`), or the run is marked
//! lossy. Missing tools are installed: `apt-get install -y victoria-metrics
//! curl`, and `influxdb-client` into a venv under `benches/target/`.

use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use linewire::{Batch, Precision};
use linewire_benches::sink::{self, Sink};
use linewire_benches::weather::{
    format_point, generate, station_names, Pt, LOCATIONS, NOTES, SENSORS,
};
use linewire_integration::{
    encode_query, http_get, http_post, start_victoria_metrics, ServerProcess, TempDir,
    VICTORIA_METRICS,
};
use linewire_std::{BackgroundWriter, Client};

const VM_BIN: &str = VICTORIA_METRICS;
const LINES_PER_FILE: usize = 5000;
const FIELDS: u64 = 5;
const BUCKET: &str = "bench";

// ---------------------------------------------------------------- tools

fn have(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd} >/dev/null 2>&1"))
        .status()
        .is_ok_and(|s| s.success())
}

fn run_ok(cmd: &mut Command) -> bool {
    cmd.status().is_ok_and(|s| s.success())
}

/// `apt-get install -y victoria-metrics curl` when either is missing.
fn ensure_system_tools() {
    if Path::new(VM_BIN).is_file() && have("curl") {
        return;
    }
    eprintln!("installing victoria-metrics and curl with apt-get ...");
    let install = || {
        run_ok(
            Command::new("apt-get")
                .args(["install", "-y", "-q", "victoria-metrics", "curl"])
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    if !install() {
        let _ = run_ok(Command::new("apt-get").args(["update", "-q"]));
        assert!(
            install(),
            "could not install victoria-metrics and curl: run `apt-get install -y victoria-metrics curl` as root"
        );
    }
    assert!(Path::new(VM_BIN).is_file(), "{VM_BIN} still missing");
}

/// The venv's python with `influxdb-client`, installed when missing; or
/// why there is none.
fn ensure_python_client() -> Result<PathBuf, String> {
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/throughput-venv");
    let python = venv.join("bin/python");
    let importable = |py: &Path| {
        Command::new(py)
            .args(["-c", "import influxdb_client"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if python.is_file() && importable(&python) {
        return Ok(python);
    }
    eprintln!("installing influxdb-client into {} ...", venv.display());
    if !python.is_file() && !run_ok(Command::new("python3").arg("-m").arg("venv").arg(&venv)) {
        return Err("`python3 -m venv` failed".into());
    }
    if !run_ok(Command::new(venv.join("bin/pip")).args(["install", "-q", "influxdb-client"])) {
        return Err("`pip install influxdb-client` failed".into());
    }
    if importable(&python) {
        Ok(python)
    } else {
        Err("influxdb_client not importable after pip install".into())
    }
}

// ------------------------------------------------------ VictoriaMetrics

fn start_vm(name: &str) -> ServerProcess {
    start_victoria_metrics(Path::new(VM_BIN), &format!("throughput-{name}"))
}

/// Samples of `weather_*` stored, once `want` are visible or after 60 s.
fn stored_samples(vm: &ServerProcess, want: u64) -> u64 {
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let query = format!(
        "/api/v1/query?nocache=1&time={now_s}&query={}",
        encode_query("sum(count_over_time({__name__=~\"weather_.*\"}[3h]))")
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let _ = http_post(vm.addr, "/internal/force_flush");
        let count = match http_get(vm.addr, &query) {
            Ok((200, body)) => parse_count(&body),
            Ok((status, body)) => panic!("count query: {status} {body}"),
            Err(e) => panic!("count query: {e}"),
        };
        if count == want || Instant::now() > deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The value of a one-sample instant-query answer (`0` when empty).
fn parse_count(body: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(body).expect("query answer is JSON");
    v["data"]["result"][0]["value"][1]
        .as_str()
        .map_or(0, |s| s.parse::<f64>().expect("count") as u64)
}

// ----------------------------------------------------------- contenders

/// CPU seconds (user + system) of this process and of its reaped
/// children, from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_seconds() -> (f64, f64) {
    proc_cpu_seconds("self")
}

/// Seconds all CPUs of the machine have been idle since boot, from the
/// first line of `/proc/stat` (idle + iowait, in ticks of 10 ms).
fn machine_idle_seconds() -> f64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    (f.get(3).copied().unwrap_or(0.0) + f.get(4).copied().unwrap_or(0.0)) / 100.0
}

/// The server's CPU time and the machine's idle time over a run.
struct Meter {
    server_pid: u32,
    server_cpu: f64,
    idle: f64,
}

impl Meter {
    fn start(server_pid: u32) -> Meter {
        Meter {
            server_pid,
            server_cpu: proc_cpu_seconds(server_pid).0,
            idle: machine_idle_seconds(),
        }
    }

    /// CPU seconds of the server and idle CPU seconds of the machine since
    /// `start`.
    fn stop(&self) -> (f64, f64) {
        (
            proc_cpu_seconds(self.server_pid).0 - self.server_cpu,
            machine_idle_seconds() - self.idle,
        )
    }
}

/// CPU seconds (own, reaped children) of process `pid` ("self" or a
/// number), from `/proc/<pid>/stat`.
fn proc_cpu_seconds(pid: impl std::fmt::Display) -> (f64, f64) {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which ends with the last ')').
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // utime, stime, cutime, cstime are fields 14..=17 (1-based), 12..=15 here.
    let tick = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    (tick(11) + tick(12), tick(13) + tick(14))
}

struct Run {
    name: String,
    points: u64,
    seconds: f64,
    /// CPU seconds (user + system) of the client: this process for
    /// linewire, the `curl` or `python` process otherwise.
    cpu: f64,
    /// CPU seconds of the server process over the run (VictoriaMetrics or
    /// the sink). For Python, from its start to its exit, interpreter
    /// start-up included, where `seconds` is what the script timed.
    server_cpu: f64,
    /// CPU-seconds the whole machine was idle over the run (the same span
    /// as `server_cpu`).
    idle: f64,
    stored: u64,
    note: String,
}

impl Run {
    fn rate(&self) -> f64 {
        self.points as f64 / self.seconds
    }
    fn cpu_us_per_point(&self) -> f64 {
        self.cpu * 1e6 / self.points as f64
    }
    fn complete(&self) -> bool {
        self.stored == self.points * FIELDS
    }
}

fn write_files(points: &[Pt], stations: &[String], dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut batch = Box::new(Batch::<{ 256 * 1024 }>::new());
    for (n, chunk) in points.chunks(LINES_PER_FILE).enumerate() {
        let path = dir.join(format!("points-{n:04}.lp"));
        let mut out = fs::File::create(&path).expect("create points file");
        for p in chunk {
            format_point(&mut batch, p, stations);
            if batch.remaining() < 1024 {
                out.write_all(batch.as_bytes()).expect("write points file");
                batch.clear();
            }
        }
        out.write_all(batch.as_bytes()).expect("write points file");
        batch.clear();
        files.push(path);
    }
    files
}

/// `gzip` copies of `files` (at the client's default level).
fn gzip_files(files: &[PathBuf]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| {
            let gz = f.with_extension("lp.gz");
            let body = fs::read(f).expect("read points file");
            fs::write(
                &gz,
                linewire_std::gzip::gzip(&body, linewire_std::gzip::DEFAULT_LEVEL),
            )
            .expect("write gzip file");
            gz
        })
        .collect()
}

/// `curl` posting `files` (gzip files when `gzip`) over one connection.
fn run_curl(files: &[PathBuf], points: u64, gzip: bool) -> Run {
    let vm = start_vm(if gzip { "curl-gzip" } else { "curl" });
    let encoding = if gzip {
        "header = \"Content-Encoding: gzip\"\n"
    } else {
        ""
    };
    let url = format!(
        "http://{}/api/v2/write?bucket={BUCKET}&precision=ns",
        vm.addr
    );
    let mut config = String::new();
    for (i, f) in files.iter().enumerate() {
        if i > 0 {
            config.push_str("next\n");
        }
        let _ = writeln!(
            config,
            "url = \"{url}\"\ndata-binary = \"@{}\"\nheader = \"Content-Type: text/plain; charset=utf-8\"\n\
             {encoding}header = \"Expect:\"\noutput = \"/dev/null\"\nmax-time = 120\n\
             write-out = \"%{{http_code}} %{{num_connects}}\\n\"",
            f.display()
        );
    }
    let cfg = vm.dir.path().join("curl.cfg");
    fs::write(&cfg, config).expect("write curl config");
    let (_, children_before) = cpu_seconds();
    let meter = Meter::start(vm.pid());
    let start = Instant::now();
    let out = Command::new("curl")
        .arg("-sS")
        .arg("-K")
        .arg(&cfg)
        .output()
        .expect("run curl");
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().1 - children_before;
    let (server_cpu, idle) = meter.stop();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut codes_ok = 0usize;
    let mut connects = 0u64;
    for line in text.lines() {
        let mut it = line.split_whitespace();
        if it.next() == Some("204") {
            codes_ok += 1;
        }
        connects += it.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    }
    let stored = stored_samples(&vm, points * FIELDS);
    let mut note = format!("{} requests, {connects} connection(s)", files.len());
    if !out.status.success() || codes_ok != files.len() {
        let _ = write!(
            note,
            "; FAILED: {codes_ok}/{} answered 204: {}",
            files.len(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Run {
        name: if gzip {
            format!(
                "curl, the same files gzipped (level {}, untimed)",
                linewire_std::gzip::DEFAULT_LEVEL
            )
        } else {
            "curl, 5000-line files, 1 keep-alive conn".into()
        },
        points,
        seconds,
        cpu,
        server_cpu,
        idle,
        stored,
        note,
    }
}

/// A run's server: a fresh VictoriaMetrics, or the shared sink.
enum Server<'s> {
    Vm(ServerProcess),
    Sink(&'s Sink),
}

impl Server<'_> {
    fn start<'a>(sink: Option<&'a Sink>, name: &str) -> Server<'a> {
        match sink {
            Some(sink) => Server::Sink(sink),
            None => Server::Vm(start_vm(name)),
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        match self {
            Server::Vm(vm) => vm.addr,
            Server::Sink(sink) => sink.addr,
        }
    }

    /// Samples stored (VictoriaMetrics), or lines received x fields (sink).
    fn stored(&self, want: u64) -> u64 {
        match self {
            Server::Vm(vm) => stored_samples(vm, want),
            Server::Sink(sink) => sink.take_lines() * FIELDS,
        }
    }

    fn pid(&self) -> u32 {
        match self {
            Server::Vm(vm) => vm.pid(),
            Server::Sink(sink) => sink.pid(),
        }
    }

    fn suffix(&self) -> &'static str {
        match self {
            Server::Vm(_) => "",
            Server::Sink(_) => ", to the sink",
        }
    }
}

/// The background writer; `gzip`: `None` off, or the level.
fn run_linewire(points: &[Pt], stations: &[String], gzip: Option<u8>, sink: Option<&Sink>) -> Run {
    let vm = Server::start(sink, &format!("linewire-gzip-{gzip:?}"));
    let client = Client::new(&format!("http://{}", vm.addr()), Some("bench"))
        .expect("client")
        .bucket(BUCKET)
        .precision(Precision::Nanoseconds)
        .gzip(false)
        .timeout(Duration::from_secs(120));
    let client = match gzip {
        Some(level) => client.gzip_level(level),
        None => client,
    };
    let mut batch = Box::new(Batch::<{ 64 * 1024 }>::new());
    let (cpu_before, _) = cpu_seconds();
    let meter = Meter::start(vm.pid());
    let start = Instant::now();
    let writer = BackgroundWriter::builder(client)
        .batch_lines(LINES_PER_FILE)
        .close_timeout(Duration::from_secs(300))
        .start();
    for p in points {
        format_point(&mut batch, p, stations);
        if batch.remaining() < 1024 {
            writer.push(&*batch).expect("push");
            batch.clear();
        }
    }
    writer.push(&*batch).expect("push");
    let flushed = writer.flush_timeout(Duration::from_secs(300));
    let stats = writer.close();
    let seconds = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds().0 - cpu_before;
    let (server_cpu, idle) = meter.stop();
    let n = points.len() as u64;
    let stored = vm.stored(n * FIELDS);
    let mut note = format!("{} requests", stats.requests);
    if !flushed || stats.sent != n || stats.lost() != 0 {
        let _ = write!(note, "; FAILED: {stats:?}");
    }
    Run {
        name: match gzip {
            Some(level) => format!("linewire BackgroundWriter, gzip on (level {level})"),
            None => "linewire BackgroundWriter, gzip off".into(),
        } + vm.suffix(),
        points: n,
        seconds,
        cpu,
        server_cpu,
        idle,
        stored,
        note,
    }
}

/// The point values as tab-separated text, for the Python client's
/// `Point` mode.
fn write_values(points: &[Pt], stations: &[String], path: &Path) {
    let mut text = String::with_capacity(points.len() * 100);
    for p in points {
        let station = usize::from(p.station);
        let _ = writeln!(
            text,
            "{}\t{}\t{}\t{:?}\t{}\t{:?}\t{}\t{}\t{}",
            LOCATIONS[station % LOCATIONS.len()],
            stations[station],
            SENSORS[usize::from(p.sensor)],
            p.temperature,
            p.humidity,
            p.pressure,
            p.ok,
            NOTES[usize::from(p.note)],
            p.ts_ns
        );
    }
    fs::write(path, text).expect("write values file");
}

/// The Python client: `mode` is `points` (it builds `Point`s from the
/// values in `values`) or `lines` (raw line protocol from `files`).
fn run_python(
    python: &Path,
    mode: &str,
    values: &Path,
    files: &[PathBuf],
    points: u64,
    sink: Option<&Sink>,
) -> Run {
    let vm = Server::start(sink, &format!("python-{mode}"));
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin/throughput_influxdb_client.py");
    let mut cmd = Command::new(python);
    cmd.arg(&script)
        .arg(format!("http://{}", vm.addr()))
        .arg(BUCKET)
        .arg(points.to_string())
        .arg(mode);
    if mode == "points" {
        cmd.arg(values);
    }
    let meter = Meter::start(vm.pid());
    let mut child = cmd
        .args(files)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    // Bound the run: 10 minutes.
    let deadline = Instant::now() + Duration::from_secs(600);
    while child.try_wait().expect("wait python").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("python output");
    let (server_cpu, idle) = meter.stop();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: serde_json::Value = text
        .lines()
        .last()
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("python printed no result ({}): {text}", out.status));
    let written = v["points"].as_u64().unwrap_or(0);
    let stored = vm.stored(written * FIELDS);
    let mut note = format!(
        "{} batches; {:.2} s until close() returned",
        v["batches"],
        v["seconds_to_close"].as_f64().unwrap_or(f64::NAN)
    );
    if mode == "points" {
        let _ = write!(
            note,
            "; same points as linewire's lines (tag/field order aside): {}",
            match &v["same_lines"] {
                serde_json::Value::Bool(true) => "yes".to_string(),
                other => format!("NO: {other}"),
            }
        );
    }
    let errors = v["errors"].as_array().map_or(0, Vec::len);
    if !out.status.success() || errors > 0 || written != points {
        let _ = write!(note, "; FAILED: {}", v["errors"]);
    }
    Run {
        name: format!(
            "Python influxdb-client, batching 5000, {}",
            if mode == "points" {
                "Point API"
            } else {
                "raw lines"
            }
        ) + vm.suffix(),
        points: written,
        seconds: v["seconds"].as_f64().expect("seconds"),
        cpu: v["cpu_seconds"].as_f64().expect("cpu_seconds"),
        server_cpu,
        idle,
        stored,
        note,
    }
}

/// Seconds linewire needs to format `points` with no I/O, and to gzip the
/// formatted files (the writer's share of the CPU, for reading the table).
/// Seconds to format every point; then, per gzip level (the default and
/// 6), seconds to compress every body and how many times smaller they got.
fn cpu_costs(points: &[Pt], stations: &[String], files: &[PathBuf]) -> (f64, Vec<(u8, f64, f64)>) {
    let mut batch = Box::new(Batch::<{ 64 * 1024 }>::new());
    let mut bytes = 0usize;
    let start = Instant::now();
    for p in points {
        format_point(&mut batch, p, stations);
        if batch.remaining() < 1024 {
            bytes += batch.len();
            batch.clear();
        }
    }
    bytes += batch.len();
    let format = start.elapsed().as_secs_f64();
    std::hint::black_box(bytes);
    let bodies: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).expect("read")).collect();
    let plain: usize = bodies.iter().map(Vec::len).sum();
    let levels = [linewire_std::gzip::DEFAULT_LEVEL, 6]
        .into_iter()
        .map(|level| {
            let start = Instant::now();
            let zipped: usize = bodies
                .iter()
                .map(|b| linewire_std::gzip::gzip(b, level).len())
                .sum();
            let secs = start.elapsed().as_secs_f64();
            (level, secs, plain as f64 / zipped.max(1) as f64)
        })
        .collect();
    (format, levels)
}

/// Per contender (the inner index), the run of median time over the
/// rounds.
fn median_runs(rounds: Vec<Vec<Run>>) -> Vec<Run> {
    let mut per: Vec<Vec<Run>> = Vec::new();
    for round in rounds {
        for (i, run) in round.into_iter().enumerate() {
            if per.len() <= i {
                per.push(Vec::new());
            }
            per[i].push(run);
        }
    }
    per.into_iter()
        .map(|mut runs| {
            runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
            runs.swap_remove(runs.len() / 2)
        })
        .collect()
}

/// The median of `xs` (the upper one of an even count).
fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// `xs` as "0.91x 0.88x ...".
fn list(xs: &[f64]) -> String {
    xs.iter()
        .map(|x| format!("{x:.2}x"))
        .collect::<Vec<_>>()
        .join(" ")
}

// ----------------------------------------------------------------- main

struct Args {
    points: usize,
    python_points: usize,
    python: bool,
    rounds: usize,
}

fn args() -> Args {
    let mut a = Args {
        points: 1_000_000,
        python_points: 200_000,
        python: true,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut num = || -> usize {
            it.next()
                .and_then(|v| v.replace('_', "").parse().ok())
                .unwrap_or_else(|| panic!("{arg} needs a number"))
        };
        match arg.as_str() {
            "--points" => a.points = num(),
            "--python-points" => a.python_points = num(),
            "--no-python" => a.python = false,
            "--rounds" => a.rounds = num().max(1),
            "--bench" => {} // passed by `cargo bench`
            other => panic!(
                "unknown argument {other}; usage: throughput [--points N] [--python-points N] [--no-python] [--rounds K]"
            ),
        }
    }
    a.python_points = a.python_points.min(a.points);
    a
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("--serve-sink") {
        sink::serve();
    }
    let args = args();
    ensure_system_tools();
    let python = if args.python {
        ensure_python_client()
    } else {
        Err("--no-python".into())
    };

    let now_ns = i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos(),
    )
    .expect("time");
    let points_ms = i64::try_from(args.points).expect("points");
    // The newest point about 13 minutes old, well inside the 3 h window.
    let base_ns = now_ns - (13 * 60_000 + points_ms) * 1_000_000;
    let points = generate(args.points, base_ns);
    let stations = station_names();
    let files_dir = TempDir::new("throughput-files");
    let files = write_files(&points, &stations, files_dir.path());
    let bytes: u64 = files
        .iter()
        .map(|f| fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "throughput: {} points ({:.1} MB of line protocol, {:.0} bytes/point), {} fields each, {cpus} CPUs, load average before: {}",
        args.points,
        bytes as f64 / 1e6,
        bytes as f64 / args.points as f64,
        FIELDS,
        loadavg()
    );

    let n = args.points as u64;
    let gz_files = gzip_files(&files);
    // Indices: 0 curl, 1 curl gzip, 2 linewire, 3 linewire gzip at the
    // default level, 4 linewire gzip 6 (for comparison, not a target).
    // Every round runs them all in turn, so a slow spell of the machine
    // falls on every contender alike; each row of the table is the round
    // of median time, and ratios are taken within a round.
    let mut rounds: Vec<Vec<Run>> = Vec::new();
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            eprintln!("round {round} of {} ...", args.rounds);
        }
        rounds.push(vec![
            run_curl(&files, n, false),
            run_curl(&gz_files, n, true),
            run_linewire(&points, &stations, None, None),
            run_linewire(
                &points,
                &stations,
                Some(linewire_std::gzip::DEFAULT_LEVEL),
                None,
            ),
            run_linewire(&points, &stations, Some(6), None),
        ]);
    }
    // Per round, each contender's points/s over curl's (plain, gzipped).
    let contenders = rounds.first().map_or(0, Vec::len);
    let ratios: Vec<Vec<(f64, f64)>> = (0..contenders)
        .map(|i| {
            rounds
                .iter()
                .map(|r| (r[i].rate() / r[0].rate(), r[i].rate() / r[1].rate()))
                .collect()
        })
        .collect();
    let mut runs = median_runs(rounds);
    // The same writers against a server that does no work: how fast each
    // client can go when the server is not the limit.
    let sink = Sink::start();
    let mut sink_runs = vec![run_linewire(&points, &stations, None, Some(&sink))];
    match &python {
        Ok(py) => {
            let values = files_dir.path().join("values.tsv");
            write_values(&points[..args.python_points], &stations, &values);
            let n = args.python_points as u64;
            runs.push(run_python(py, "points", &values, &files, n, None));
            runs.push(run_python(py, "lines", &values, &files, n, None));
            sink_runs.push(run_python(py, "points", &values, &files, n, Some(&sink)));
            sink_runs.push(run_python(py, "lines", &values, &files, n, Some(&sink)));
        }
        Err(why) => println!("Python influxdb-client: not run ({why})"),
    }
    drop(sink);
    let (format_s, gzip_costs) = cpu_costs(&points, &stations, &files);

    let curl = runs[0].rate();
    println!();
    println!(
        "| contender | points | seconds | points/s | vs curl | client CPU s | CPU µs/point | server CPU s | idle CPU s | samples stored / expected | notes |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|");
    for r in runs.iter().chain(&sink_runs) {
        println!(
            "| {} | {} | {:.2} | {:.0} | {:.2}x | {:.2} | {:.2} | {:.2} | {:.2} | {} / {}{} | {} |",
            r.name,
            r.points,
            r.seconds,
            r.rate(),
            r.rate() / curl,
            r.cpu,
            r.cpu_us_per_point(),
            r.server_cpu,
            r.idle,
            r.stored,
            r.points * FIELDS,
            if r.complete() { "" } else { " LOSSY" },
            r.note
        );
    }
    println!();
    let mut all_ok = runs
        .iter()
        .chain(&sink_runs)
        .all(|r| r.complete() && !r.note.contains("FAILED"));
    for (i, r) in runs.iter().enumerate().skip(2).take(3) {
        let plain: Vec<f64> = ratios[i].iter().map(|x| x.0).collect();
        let ratio = median(&plain);
        // The targets are gzip off and gzip at the default level.
        let target = i < 4;
        let pass = ratio >= 0.9;
        all_ok &= pass || !target;
        print!(
            "{}: {ratio:.2}x curl{}{}",
            r.name,
            if args.rounds > 1 {
                format!(" (median of {} rounds: {})", args.rounds, list(&plain))
            } else {
                String::new()
            },
            match (target, pass) {
                (false, _) => " (for comparison)",
                (true, true) => " (target >= 0.90x): met",
                (true, false) => " (target >= 0.90x): NOT met",
            }
        );
        if i > 2 {
            let zipped: Vec<f64> = ratios[i].iter().map(|x| x.1).collect();
            print!(
                "; {:.2}x curl with gzipped files{}",
                median(&zipped),
                if args.rounds > 1 {
                    format!(" ({})", list(&zipped))
                } else {
                    String::new()
                }
            );
        }
        println!();
    }
    for py in runs.iter().skip(5) {
        for r in &runs[2..4] {
            let ratio = r.rate() / py.rate();
            let pass = ratio >= 20.0;
            all_ok &= pass;
            println!(
                "{} vs {}: {ratio:.1}x the points/s (target >= 20x): {}; {:.1}x less client CPU per point",
                r.name,
                py.name,
                if pass { "met" } else { "NOT met" },
                py.cpu_us_per_point() / r.cpu_us_per_point()
            );
        }
    }
    for py in sink_runs.iter().skip(1) {
        let r = &sink_runs[0];
        println!(
            "{} vs {}: {:.1}x the points/s (the 20x target without the server bound)",
            r.name,
            py.name,
            r.rate() / py.rate()
        );
    }
    println!(
        "linewire CPU alone, no I/O: formatting {} points {format_s:.2} s ({:.0} points/s)",
        args.points,
        args.points as f64 / format_s,
    );
    for (level, secs, ratio) in &gzip_costs {
        println!(
            "gzip level {level} of the {} bodies: {secs:.2} s, {ratio:.1}x smaller",
            files.len()
        );
    }
    println!("load average after: {}", loadavg());
    drop(files_dir);
    if !all_ok {
        std::process::exit(1);
    }
}
