//! The networked firmware lane: `examples/firmware-net` under
//! `qemu-system-arm -machine lm3s6965evb -nic user,model=stellaris` writes
//! its batches through the emulated Ethernet controller, `smoltcp` and
//! `linewire::nal` to the test kit on the host's loopback (slirp: the
//! device is 10.0.2.15, the host 10.0.2.2), on the port the test kit was
//! given (bound to port 0, passed on the semihosting command line). Each
//! test asserts what the test kit stored, exactly, and what the firmware
//! reported. Four variants, each delivering through `linewire::Writer`
//! (the firmware's shared `delivery` loop, one `POLL` record a poll and a
//! `STATS` record of the writer's counters): blocking (`firmware-net`,
//! `Writer::poll` over `NalStream`), async (`firmware-async`: embassy-net,
//! `Writer::poll_async`), and TLS over each (`firmware-tls`,
//! `firmware-async-tls`: embedded-tls 0.19 against the test kit's HTTPS
//! server, its certificate verified against the test kit's CA and name).

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use linewire_firmware_test::{build_release, build_release_with, footprint, missing_prerequisite};
use linewire_testkit::{Fault, FaultPlan, FieldValue, Point, TestServer};

#[path = "../../../examples/firmware-net/src/batches.rs"]
#[allow(dead_code)]
mod batches;
#[path = "../../../examples/firmware-net/src/config.rs"]
mod config;
#[path = "../../../examples/firmware-net/src/fifo.rs"]
mod fifo;

/// A hung run fails the test after this long (the child is killed).
const QEMU_TIMEOUT: Duration = Duration::from_secs(50);

/// The plain path's budgets (`tests/firmware.rs`), printed next to this
/// firmware's figures.
const PLAIN_FLASH_BUDGET: u64 = 16 * 1024;
const PLAIN_STACK_BUDGET: usize = 2 * 1024;

/// This firmware's budgets (whole image: driver, smoltcp, adapter,
/// linewire, formatting): measured, with room; a regression fails.
const NET_FLASH_BUDGET: u64 = 64 * 1024;
const NET_RAM_BUDGET: u64 = 16 * 1024;
const NET_STACK_BUDGET: usize = 8 * 1024;

/// The firmware ELF, built once; `None` when the prerequisites are missing
/// outside CI (skipped loudly).
fn firmware() -> Option<&'static Path> {
    bin_dir().map(|d| &*d.firmware)
}

/// The baseline ELF (the same network without linewire).
fn baseline() -> Option<&'static Path> {
    bin_dir().map(|d| &*d.baseline)
}

struct Elves {
    firmware: PathBuf,
    baseline: PathBuf,
}

fn bin_dir() -> Option<&'static Elves> {
    static ELVES: OnceLock<Option<Elves>> = OnceLock::new();
    ELVES
        .get_or_init(|| {
            if !prerequisites() {
                return None;
            }
            let bin = build_release(&crate_dir()).unwrap_or_else(|e| panic!("{e}"));
            Some(Elves {
                firmware: bin.join("firmware-net"),
                baseline: bin.join("baseline-net"),
            })
        })
        .as_ref()
}

fn crate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/firmware-net")
}

/// Whether qemu and the target are there; outside CI, says loudly why not.
fn prerequisites() -> bool {
    match missing_prerequisite() {
        None => true,
        Some(why) if std::env::var_os("CI").is_some() => {
            panic!("the network lane cannot run in CI: {why}")
        }
        Some(why) => {
            eprintln!("SKIPPED: network lane: {why}");
            false
        }
    }
}

/// A variant's ELF (`--features FEATURES --bin BIN`), built once into `cell`.
fn variant(
    cell: &'static OnceLock<Option<PathBuf>>,
    features: &str,
    bin: &str,
) -> Option<&'static Path> {
    cell.get_or_init(|| {
        if !prerequisites() {
            return None;
        }
        let args = ["--features", features, "--bin", bin];
        let dir = build_release_with(&crate_dir(), &args).unwrap_or_else(|e| panic!("{e}"));
        Some(dir.join(bin))
    })
    .as_deref()
}

/// The async variant's ELF (embassy-net).
fn async_firmware() -> Option<&'static Path> {
    static ELF: OnceLock<Option<PathBuf>> = OnceLock::new();
    variant(&ELF, "async", "firmware-async")
}

/// The TLS variant's ELF (embedded-tls over smoltcp and `NalStream`).
fn tls_firmware() -> Option<&'static Path> {
    static ELF: OnceLock<Option<PathBuf>> = OnceLock::new();
    variant(&ELF, "tls", "firmware-tls")
}

/// The async TLS variant's ELF (embedded-tls over embassy-net).
fn async_tls_firmware() -> Option<&'static Path> {
    static ELF: OnceLock<Option<PathBuf>> = OnceLock::new();
    variant(&ELF, "async,tls", "firmware-async-tls")
}

/// What a run printed and how it ended.
#[derive(Debug, Default)]
struct NetRun {
    success: bool,
    /// `POLL` records without the tag.
    polls: Vec<String>,
    /// The `STATS` record without the tag.
    stats: Option<String>,
    /// `HANDSHAKE` records (the TLS variant) without the tag.
    handshakes: Vec<String>,
    stack: Option<usize>,
    painted: usize,
    enet: String,
    baseline: Option<String>,
    done: Option<String>,
    /// `ERROR` records without the tag.
    errors: Vec<String>,
    output: String,
}

/// Runs the firmware against `port` on the host's loopback.
fn run(elf: &Path, port: u16) -> NetRun {
    run_with(elf, &format!("arg=firmware-net,arg=port={port}"))
}

/// Runs the firmware with the semihosting `args`; kills qemu after
/// [`QEMU_TIMEOUT`].
fn run_with(elf: &Path, args: &str) -> NetRun {
    let mut child = Command::new("qemu-system-arm")
        .args(["-cpu", "cortex-m3", "-machine", "lm3s6965evb", "-nographic"])
        .args(["-nic", "user,model=stellaris"])
        .arg("-semihosting-config")
        .arg(format!("enable=on,target=native,{args}"))
        .arg("-kernel")
        .arg(elf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("qemu-system-arm starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait().expect("waiting for qemu") {
            Some(status) => break status,
            None if start.elapsed() > QEMU_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                let out = reader.join().unwrap_or_default();
                panic!("qemu timed out after {QEMU_TIMEOUT:?}; output:\n{out}");
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let output = reader.join().unwrap_or_default();
    let errors = err_reader.join().unwrap_or_default();
    let mut run = NetRun {
        success: status.success(),
        output: format!("{output}\n(qemu stderr:)\n{errors}"),
        ..NetRun::default()
    };
    for line in output.lines() {
        if let Some(e) = line.strip_prefix("ERROR ") {
            run.errors.push(e.to_string());
        }
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        match tag {
            "POLL" => run.polls.push(rest.to_string()),
            "HANDSHAKE" => run.handshakes.push(rest.to_string()),
            "STATS" => run.stats = Some(rest.to_string()),
            "STACK" => run.stack = rest.strip_prefix("run ").and_then(|n| n.parse().ok()),
            "PAINTED" => run.painted = rest.parse().unwrap_or(0),
            "ENET" => run.enet = rest.to_string(),
            "BASELINE" => run.baseline = Some(rest.to_string()),
            "DONE" => run.done = Some(rest.to_string()),
            _ => {}
        }
    }
    run
}

/// A port nothing listens on, below the ephemeral range: a port bound to 0
/// and closed could be handed at once to another test's server (bound to 0
/// too), which would then receive this run's writes. Found once: a second
/// search would bind it while the first test's firmware connects.
fn refused_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        (10_000..10_100)
            .find(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
            .expect("a free port from 10000 to 10099")
    })
}

/// The points of batches `range`, as the test kit stores them.
fn expected_points(batches: std::ops::Range<u32>) -> Vec<Point> {
    let per = batches::POINTS_PER_BATCH;
    (batches.start * per..batches.end * per)
        .map(|k| {
            let r = batches::reading(k);
            Point {
                measurement: batches::MEASUREMENT.into(),
                tags: BTreeMap::from([
                    ("device".into(), batches::DEVICE.into()),
                    ("link".into(), batches::LINK.into()),
                ]),
                fields: BTreeMap::from([
                    ("seq".into(), FieldValue::I64(r.seq)),
                    ("temp".into(), FieldValue::F64(r.temp)),
                    ("ok".into(), FieldValue::Bool(r.ok)),
                    ("note".into(), FieldValue::Str(batches::NOTE.into())),
                ]),
                timestamp_ns: r.time * 1_000_000_000,
            }
        })
        .collect()
}

fn stored(server: &TestServer) -> Vec<Point> {
    let mut points = server.points(batches::BUCKET);
    points.sort_by_key(|p| p.timestamp_ns);
    points
}

const DELIVERED: &str = "Delivered lines=3 reconnect=false";

/// A `POLL` record without the tag: poll `poll` of batch `n`.
fn poll_line(n: u32, poll: u32, connects: u32, text: &str) -> String {
    format!("{n} {poll} connects={connects} {text}")
}

/// A `STATS` record without the tag: every point accepted, `sent`
/// stored, the rest given up.
fn stats_line(sent: u64, requests: u64, retries: u64) -> String {
    let accepted = u64::from(batches::BATCHES * batches::POINTS_PER_BATCH);
    let gave_up = accepted - sent;
    format!(
        "accepted={accepted} sent={sent} rejected=0 gave_up={gave_up} lost={gave_up} \
         requests={requests} retries={retries} stale_retries=0 queued=0"
    )
}

/// A networked variant: its ELF, and whether it speaks TLS (to the test
/// kit's HTTPS server, trusting its CA for [`TLS_NAME`]). Every variant
/// delivers through `linewire::Writer` (`examples/firmware-net/src/delivery.rs`)
/// and prints the same `POLL` and `STATS` records, so the scenarios below
/// hold each of them to the same exact lists.
#[derive(Clone, Copy)]
struct Variant {
    elf: &'static Path,
    tls: bool,
}

impl Variant {
    fn plain(elf: &'static Path) -> Self {
        Variant { elf, tls: false }
    }

    fn tls(elf: &'static Path) -> Self {
        Variant { elf, tls: true }
    }

    /// Runs against a new test kit (HTTPS for TLS) that follows `plan`.
    fn run(self, plan: FaultPlan) -> (TestServer, NetRun) {
        let builder = TestServer::builder().fault_plan(plan);
        if self.tls {
            let server = builder.https().start();
            let ca = CaFile::new(server.ca_pem());
            let run = run_tls(self.elf, &server, &ca, TLS_NAME);
            (server, run)
        } else {
            let server = builder.start();
            let run = run(self.elf, server.addr().port());
            (server, run)
        }
    }

    /// The handshakes a TLS variant made (one per connection), none for
    /// plain TCP.
    fn handshakes(self, sessions: usize) -> Vec<String> {
        let n = if self.tls { sessions } else { 0 };
        (1..=n).map(|s| format!("{s} ok")).collect()
    }
}

/// Three batches, three requests, one kept-alive connection (one TLS
/// session).
fn check_batches_are_stored_over_one_kept_alive_connection(v: Variant) -> NetRun {
    let (server, run) = v.run(FaultPlan::new());
    assert!(run.success, "the firmware failed:\n{}", run.output);
    assert_eq!(run.done.as_deref(), Some("ok"), "{}", run.output);
    let expected: Vec<String> = (0..batches::BATCHES)
        .map(|n| poll_line(n, 1, 1, DELIVERED))
        .collect();
    assert_eq!(run.polls, expected, "{}", run.output);
    assert_eq!(
        run.stats.as_deref(),
        Some(&*stats_line(9, 3, 0)),
        "{}",
        run.output
    );
    assert_eq!(handshakes(&run), v.handshakes(1), "{}", run.output);
    assert_eq!(stored(&server), expected_points(0..batches::BATCHES));
    assert_eq!(server.write_requests().len(), batches::BATCHES as usize);
    run
}

/// The second answer closes the connection (the writer says to
/// reconnect: a new connection, and a new TLS handshake); the third is a
/// 503 (nothing stored), which the writer retries after its backoff, on
/// the same connection.
fn check_a_closed_connection_and_a_503_are_survived(v: Variant) {
    let plan = FaultPlan::new()
        .on_request(2, Fault::ConnectionClose)
        .on_request(
            3,
            Fault::ServiceUnavailable {
                retry_after_secs: None,
            },
        );
    let (server, run) = v.run(plan);
    assert!(run.success, "the firmware failed:\n{}", run.output);
    let expected = vec![
        poll_line(0, 1, 1, DELIVERED),
        poll_line(1, 1, 1, "Delivered lines=3 reconnect=true"),
        poll_line(2, 1, 2, "Retrying reconnect=false"),
        poll_line(2, 2, 2, DELIVERED),
    ];
    assert_eq!(run.polls, expected, "{}", run.output);
    assert_eq!(
        run.stats.as_deref(),
        Some(&*stats_line(9, 4, 1)),
        "{}",
        run.output
    );
    assert_eq!(handshakes(&run), v.handshakes(2), "{}", run.output);
    assert_eq!(stored(&server), expected_points(0..batches::BATCHES));
    assert_eq!(server.write_requests().len(), 4);
}

/// The first request is stored but never answered (the connection
/// closes); the writer backs off and resends it on a new connection, and
/// the same points overwrite themselves. The third answer comes a byte a
/// write.
fn check_an_unanswered_write_is_resent_and_stored_once(v: Variant, error: &str) {
    let plan = FaultPlan::new()
        .on_request(1, Fault::CloseAfterBody)
        .on_request(3, Fault::SplitWrites);
    let (server, run) = v.run(plan);
    assert!(run.success, "the firmware failed:\n{}", run.output);
    let expected = vec![
        poll_line(0, 1, 1, error),
        poll_line(0, 2, 2, DELIVERED),
        poll_line(1, 1, 2, DELIVERED),
        poll_line(2, 1, 2, DELIVERED),
    ];
    assert_eq!(run.polls, expected, "{}", run.output);
    assert_eq!(
        run.stats.as_deref(),
        Some(&*stats_line(9, 4, 1)),
        "{}",
        run.output
    );
    assert_eq!(handshakes(&run), v.handshakes(2), "{}", run.output);
    assert_eq!(stored(&server), expected_points(0..batches::BATCHES));
    assert_eq!(server.write_requests().len(), 4);
}

/// Every answer is a 500: each batch is tried three times (two retries)
/// on the kept connection, then given up; the run fails.
fn check_a_server_that_keeps_failing_fails_the_run(v: Variant) {
    let (server, run) = v.run(FaultPlan::new().always(Fault::InternalError));
    assert!(
        !run.success,
        "the firmware reported success:\n{}",
        run.output
    );
    assert_eq!(run.done.as_deref(), Some("failed"), "{}", run.output);
    let expected: Vec<String> = (0..batches::BATCHES)
        .flat_map(|n| {
            [
                poll_line(n, 1, 1, "Retrying reconnect=false"),
                poll_line(n, 2, 1, "Retrying reconnect=false"),
                poll_line(n, 3, 1, "GaveUp lines=3 reconnect=false"),
            ]
        })
        .collect();
    assert_eq!(run.polls, expected, "{}", run.output);
    assert_eq!(
        run.stats.as_deref(),
        Some(&*stats_line(0, 9, 6)),
        "{}",
        run.output
    );
    assert_eq!(server.write_requests().len(), 9);
    assert!(stored(&server).is_empty());
}

/// Nothing listens: each batch's three connects are refused (the writer
/// backs off after each, `connect_failed`), then it is given up.
fn check_a_refused_connection_is_retried_and_reported(v: Variant) {
    let run = run(v.elf, refused_port());
    assert!(
        !run.success,
        "the firmware reported success:\n{}",
        run.output
    );
    assert_eq!(run.done.as_deref(), Some("failed"), "{}", run.output);
    let expected: Vec<String> = (0..batches::BATCHES)
        .flat_map(|n| {
            [
                poll_line(n, 1, 0, "connect-failed Retrying"),
                poll_line(n, 2, 0, "connect-failed Retrying"),
                poll_line(n, 3, 0, "connect-failed GaveUp lines=3"),
            ]
        })
        .collect();
    assert_eq!(run.polls, expected, "{}", run.output);
    assert_eq!(
        run.stats.as_deref(),
        Some(&*stats_line(0, 9, 6)),
        "{}",
        run.output
    );
}

const PEER_CLOSED: &str = "error=transport: the peer closed the connection before responding";

#[test]
fn batches_are_stored_over_one_kept_alive_connection() {
    let Some(elf) = firmware() else { return };
    let run = check_batches_are_stored_over_one_kept_alive_connection(Variant::plain(elf));
    assert_eq!(run.enet, "dropped=0 unsent=0");
}

#[test]
fn a_closed_connection_and_a_503_are_survived() {
    let Some(elf) = firmware() else { return };
    check_a_closed_connection_and_a_503_are_survived(Variant::plain(elf));
}

#[test]
fn an_unanswered_write_is_resent_and_stored_once() {
    let Some(elf) = firmware() else { return };
    check_an_unanswered_write_is_resent_and_stored_once(Variant::plain(elf), PEER_CLOSED);
}

#[test]
fn a_server_that_keeps_failing_fails_the_run() {
    let Some(elf) = firmware() else { return };
    check_a_server_that_keeps_failing_fails_the_run(Variant::plain(elf));
}

#[test]
fn a_refused_connection_is_retried_and_reported() {
    let Some(elf) = firmware() else { return };
    check_a_refused_connection_is_retried_and_reported(Variant::plain(elf));
}

#[test]
fn the_baseline_reaches_the_test_kit_without_linewire() {
    let Some(elf) = baseline() else { return };
    let server = TestServer::start();
    let run = run(elf, server.addr().port());
    assert!(run.success, "the baseline failed:\n{}", run.output);
    assert_eq!(
        run.baseline.as_deref(),
        Some("status=204"),
        "{}",
        run.output
    );
    let point = Point {
        measurement: "baseline".into(),
        tags: BTreeMap::from([("device".into(), batches::DEVICE.into())]),
        fields: BTreeMap::from([("v".into(), FieldValue::I64(1))]),
        timestamp_ns: batches::T0 * 1_000_000_000,
    };
    assert_eq!(stored(&server), [point]);
}

#[test]
fn network_budgets() {
    let (Some(elf), Some(base)) = (firmware(), baseline()) else {
        return;
    };
    let server = TestServer::start();
    let with = run(elf, server.addr().port());
    assert!(with.success, "the firmware failed:\n{}", with.output);
    let without = run(base, server.addr().port());
    assert!(without.success, "the baseline failed:\n{}", without.output);
    let fp = footprint(elf).unwrap_or_else(|e| panic!("{e}"));
    let base_fp = footprint(base).unwrap_or_else(|e| panic!("{e}"));
    let stack = with.stack.unwrap_or(usize::MAX);
    let base_stack = without.stack.unwrap_or(usize::MAX);
    let lib_flash = fp.flash.saturating_sub(base_fp.flash);
    let lib_ram = fp.ram.saturating_sub(base_fp.ram);
    let kib = |b: u64| b as f64 / 1024.0;
    println!(
        "network firmware budgets (examples/firmware-net, blocking: Stellaris Ethernet driver, \
         smoltcp 0.13, embedded-nal stack, Writer::poll over linewire::nal; thumbv7m-none-eabi, opt-level \"z\", \
         fat LTO, lm3s6965evb under qemu, -nic user)"
    );
    println!("| image | flash (.text+.rodata) | RAM (.data+.bss) | peak stack |");
    println!("|---|---|---|---|");
    println!(
        "| firmware-net (whole image) | {} B ({:.1} KiB; budget {} KiB) | {} B (budget {} KiB) | {stack} B (budget {} KiB) |",
        fp.flash,
        kib(fp.flash),
        NET_FLASH_BUDGET / 1024,
        fp.ram,
        NET_RAM_BUDGET / 1024,
        NET_STACK_BUDGET / 1024,
    );
    println!(
        "| baseline-net (same network, no linewire) | {} B ({:.1} KiB) | {} B | {base_stack} B |",
        base_fp.flash,
        kib(base_fp.flash),
        base_fp.ram,
    );
    println!(
        "| linewire and its use over the network (batches, the writer and its 512 B queue, write transaction, nal adapter, poll printing, response buffer) | {lib_flash} B ({:.1} KiB) | {lib_ram} B | {} B more |",
        kib(lib_flash),
        stack.saturating_sub(base_stack),
    );
    println!(
        "| today's budgets for the plain path (tests/firmware.rs, linewire's own cost) | {} KiB | 0 B | {} KiB |",
        PLAIN_FLASH_BUDGET / 1024,
        PLAIN_STACK_BUDGET / 1024
    );
    println!("stack painted: {} B", with.painted);
    assert!(stack < with.painted, "the stack paint was exhausted");
    assert!(
        fp.flash <= NET_FLASH_BUDGET,
        "flash {} B over budget",
        fp.flash
    );
    assert!(fp.ram <= NET_RAM_BUDGET, "RAM {} B over budget", fp.ram);
    assert!(stack <= NET_STACK_BUDGET, "stack {stack} B over budget");
}

/// The async variant's budgets (whole image: driver, embassy-net and its
/// smoltcp, the time driver, linewire's writer and its queue): measured,
/// with room; a regression fails.
const ASYNC_FLASH_BUDGET: u64 = 72 * 1024;
const ASYNC_RAM_BUDGET: u64 = 8 * 1024;
const ASYNC_STACK_BUDGET: usize = 8 * 1024;

#[test]
fn async_batches_are_stored_over_one_kept_alive_connection() {
    let Some(elf) = async_firmware() else { return };
    check_batches_are_stored_over_one_kept_alive_connection(Variant::plain(elf));
}

#[test]
fn async_a_closed_connection_and_a_503_are_survived() {
    let Some(elf) = async_firmware() else { return };
    check_a_closed_connection_and_a_503_are_survived(Variant::plain(elf));
}

#[test]
fn async_an_unanswered_write_is_resent_and_stored_once() {
    let Some(elf) = async_firmware() else { return };
    check_an_unanswered_write_is_resent_and_stored_once(Variant::plain(elf), PEER_CLOSED);
}

#[test]
fn async_a_server_that_keeps_failing_fails_the_run() {
    let Some(elf) = async_firmware() else { return };
    check_a_server_that_keeps_failing_fails_the_run(Variant::plain(elf));
}

#[test]
fn async_a_refused_connection_is_retried_and_reported() {
    let Some(elf) = async_firmware() else { return };
    check_a_refused_connection_is_retried_and_reported(Variant::plain(elf));
}

/// A variant's figures against its budgets, printed as a table row.
struct Figures {
    flash: u64,
    ram: u64,
    stack: usize,
}

fn figures(elf: &Path, run: &NetRun) -> Figures {
    let fp = footprint(elf).unwrap_or_else(|e| panic!("{e}"));
    let stack = run.stack.unwrap_or(usize::MAX);
    assert!(stack < run.painted, "the stack paint was exhausted");
    Figures {
        flash: fp.flash,
        ram: fp.ram,
        stack,
    }
}

#[test]
fn async_network_budgets() {
    let (Some(elf), Some(plain)) = (async_firmware(), firmware()) else {
        return;
    };
    let server = TestServer::start();
    let with = run(elf, server.addr().port());
    assert!(with.success, "the async firmware failed:\n{}", with.output);
    let blocking = run(plain, server.addr().port());
    assert!(
        blocking.success,
        "the firmware failed:\n{}",
        blocking.output
    );
    let a = figures(elf, &with);
    let b = figures(plain, &blocking);
    let kib = |b: u64| b as f64 / 1024.0;
    println!(
        "async network firmware budgets (examples/firmware-net --features async: the same \
         Stellaris driver under embassy-net 0.9, embassy_futures::block_on, a semihosting time \
         driver, Writer::poll_async over a TcpSocket; thumbv7m-none-eabi, opt-level \"z\", fat LTO)"
    );
    println!("| image | flash (.text+.rodata) | RAM (.data+.bss) | peak stack |");
    println!("|---|---|---|---|");
    println!(
        "| firmware-async (whole image) | {} B ({:.1} KiB; budget {} KiB) | {} B (budget {} KiB) | {} B (budget {} KiB) |",
        a.flash,
        kib(a.flash),
        ASYNC_FLASH_BUDGET / 1024,
        a.ram,
        ASYNC_RAM_BUDGET / 1024,
        a.stack,
        ASYNC_STACK_BUDGET / 1024,
    );
    println!(
        "| firmware-net (blocking, for comparison) | {} B ({:.1} KiB) | {} B | {} B |",
        b.flash,
        kib(b.flash),
        b.ram,
        b.stack,
    );
    println!(
        "| async over blocking (embassy-net's runner and time, futures on the stack) | {:+} B | {:+} B | {:+} B |",
        a.flash as i64 - b.flash as i64,
        a.ram as i64 - b.ram as i64,
        a.stack as i64 - b.stack as i64,
    );
    println!("stack painted: {} B", with.painted);
    assert!(
        a.flash <= ASYNC_FLASH_BUDGET,
        "flash {} B over budget",
        a.flash
    );
    assert!(a.ram <= ASYNC_RAM_BUDGET, "RAM {} B over budget", a.ram);
    assert!(
        a.stack <= ASYNC_STACK_BUDGET,
        "stack {} B over budget",
        a.stack
    );
}

/// The TLS variants' budgets (whole image: the blocking or async network,
/// then embedded-tls with P-256, AES-GCM, SHA-256 and the certificate
/// check, ChaCha20 for the random numbers; the 16 KiB read and 2 KiB write
/// record buffers, the CA's buffer): measured, with room (the stack: about
/// 32 KiB blocking, 35 KiB async); a regression fails, and so do statics
/// and stack that would not fit in the chip's RAM.
const TLS_FLASH_BUDGET: u64 = 160 * 1024;
const TLS_RAM_BUDGET: u64 = 32 * 1024;
const TLS_STACK_BUDGET: usize = 36 * 1024;
/// The lm3s6965's RAM: the statics and the peak stack must fit in it.
const CHIP_RAM: u64 = 64 * 1024;

/// The server name in the test kit's certificate (it also has
/// 127.0.0.1, which embedded-tls does not match: it checks DNS names only).
const TLS_NAME: &str = "localhost";

/// The DER bytes of the first certificate in `pem`.
fn pem_to_der(pem: &str) -> Vec<u8> {
    let b64: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:?}"),
        }
    };
    let digits: Vec<u8> = b64.bytes().filter(|&c| c != b'=').collect();
    let mut der = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        der.extend_from_slice(&bytes[1..chunk.len()]);
    }
    assert!(!der.is_empty(), "no certificate in the PEM");
    der
}

/// A DER file of the CA in `pem` for the firmware to read, removed on drop.
struct CaFile(PathBuf);

impl CaFile {
    fn new(pem: &str) -> Self {
        static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("linewire-ca-{}-{n}.der", std::process::id()));
        std::fs::write(&path, pem_to_der(pem)).expect("the CA file is written");
        CaFile(path)
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Runs the TLS firmware against `server`, trusting `ca` for `name`.
fn run_tls(elf: &Path, server: &TestServer, ca: &CaFile, name: &str) -> NetRun {
    run_with(
        elf,
        &format!(
            "arg=firmware-tls,arg=port={},arg=ca={},arg=name={name}",
            server.addr().port(),
            ca.0.display()
        ),
    )
}

/// The handshake records without their times.
fn handshakes(run: &NetRun) -> Vec<String> {
    run.handshakes
        .iter()
        .map(|h| match h.split_once(" ms=") {
            Some((head, _)) => head.to_string(),
            None => h.clone(),
        })
        .collect()
}

#[test]
fn tls_batches_are_stored_over_one_verified_session() {
    if let Some(elf) = tls_firmware() {
        let run = check_batches_are_stored_over_one_kept_alive_connection(Variant::tls(elf));
        // The blocking firmware owns the driver to the end (embassy-net's
        // runner keeps it in the async one).
        assert_eq!(run.enet, "dropped=0 unsent=0");
    }
}

#[test]
fn async_tls_batches_are_stored_over_one_verified_session() {
    if let Some(elf) = async_tls_firmware() {
        check_batches_are_stored_over_one_kept_alive_connection(Variant::tls(elf));
    }
}

#[test]
fn tls_a_closed_connection_and_a_503_are_survived_with_a_new_handshake() {
    if let Some(elf) = tls_firmware() {
        check_a_closed_connection_and_a_503_are_survived(Variant::tls(elf));
    }
}

#[test]
fn async_tls_a_closed_connection_and_a_503_are_survived_with_a_new_handshake() {
    if let Some(elf) = async_tls_firmware() {
        check_a_closed_connection_and_a_503_are_survived(Variant::tls(elf));
    }
}

#[test]
fn tls_an_unanswered_write_is_resent_with_a_new_handshake() {
    if let Some(elf) = tls_firmware() {
        check_an_unanswered_write_is_resent_and_stored_once(Variant::tls(elf), TLS_PEER_CLOSED);
    }
}

#[test]
fn async_tls_an_unanswered_write_is_resent_with_a_new_handshake() {
    if let Some(elf) = async_tls_firmware() {
        check_an_unanswered_write_is_resent_and_stored_once(Variant::tls(elf), TLS_PEER_CLOSED);
    }
}

/// The poll of a request whose connection the server closed after the
/// body, without an answer, over TLS: embedded-tls reports the peer's
/// close as an error of kind `Other` (not an end of stream), which the
/// transaction reports as a failed read.
const TLS_PEER_CLOSED: &str = "error=transport: reading the response failed: an unspecified error \
     of the stream (a std socket's timeout, or a TLS session the peer closed)";

/// Each batch's three tries: a connection and a handshake that fails
/// (`connect_failed`), the third given up.
fn refused_handshakes() -> Vec<String> {
    (0..batches::BATCHES)
        .flat_map(|n| {
            (1..=3).map(move |p| {
                let event = if p == 3 { "GaveUp lines=3" } else { "Retrying" };
                poll_line(n, p, n * 3 + p, &format!("connect-failed {event}"))
            })
        })
        .collect()
}

#[test]
fn tls_another_servers_ca_is_refused() {
    if let Some(elf) = tls_firmware() {
        check_another_servers_ca_is_refused(elf);
    }
}

#[test]
fn async_tls_another_servers_ca_is_refused() {
    if let Some(elf) = async_tls_firmware() {
        check_another_servers_ca_is_refused(elf);
    }
}

fn check_another_servers_ca_is_refused(elf: &Path) {
    let server = TestServer::builder().https().start();
    let other = TestServer::builder().https().start();
    let ca = CaFile::new(other.ca_pem());
    let run = run_tls(elf, &server, &ca, TLS_NAME);
    assert!(
        !run.success,
        "the TLS firmware trusted another CA:\n{}",
        run.output
    );
    // Each batch's three handshakes fail on the certificate's signature
    // (the writer backs off after each); no request is sent.
    assert_eq!(run.handshakes.len(), 9, "{}", run.output);
    assert!(
        run.handshakes
            .iter()
            .all(|h| h.ends_with("error=InvalidCertificate")),
        "{}",
        run.output
    );
    assert_eq!(run.polls, refused_handshakes(), "{}", run.output);
    assert_eq!(
        run.stats.as_deref(),
        Some(&*stats_line(0, 9, 6)),
        "{}",
        run.output
    );
    assert!(server.write_requests().is_empty());
    assert!(stored(&server).is_empty());
}

#[test]
fn tls_a_name_the_certificate_lacks_is_refused() {
    if let Some(elf) = tls_firmware() {
        check_a_name_the_certificate_lacks_is_refused(elf);
    }
}

#[test]
fn async_tls_a_name_the_certificate_lacks_is_refused() {
    if let Some(elf) = async_tls_firmware() {
        check_a_name_the_certificate_lacks_is_refused(elf);
    }
}

fn check_a_name_the_certificate_lacks_is_refused(elf: &Path) {
    let server = TestServer::builder().https().start();
    let ca = CaFile::new(server.ca_pem());
    let run = run_tls(elf, &server, &ca, batches::HOST);
    assert!(
        !run.success,
        "the TLS firmware accepted a certificate for another name:\n{}",
        run.output
    );
    assert_eq!(run.handshakes.len(), 9, "{}", run.output);
    assert!(
        run.handshakes
            .iter()
            .all(|h| h.ends_with("error=InvalidCertificate")),
        "{}",
        run.output
    );
    assert_eq!(run.polls, refused_handshakes(), "{}", run.output);
    assert!(server.write_requests().is_empty());
}

#[test]
fn tls_a_run_without_a_ca_fails_with_a_sentence() {
    let Some(elf) = tls_firmware() else { return };
    let run = run_with(elf, "arg=firmware-tls,arg=port=8086");
    assert!(!run.success, "{}", run.output);
    assert_eq!(
        run.errors,
        ["the command line names no CA file or server name (pass ca=PATH name=HOST)"],
        "{}",
        run.output
    );
    let run = run_with(
        elf,
        "arg=firmware-tls,arg=port=8086,arg=ca=/nonexistent/ca.der,arg=name=localhost",
    );
    assert!(!run.success, "{}", run.output);
    assert_eq!(
        run.errors,
        ["the CA file cannot be read (or is over 2048 bytes)"],
        "{}",
        run.output
    );
    assert!(run.handshakes.is_empty() && run.polls.is_empty());
}

#[test]
fn tls_network_budgets() {
    let (Some(elf), Some(plain)) = (tls_firmware(), firmware()) else {
        return;
    };
    tls_budgets(
        "TLS network firmware budgets (examples/firmware-net --features tls: blocking, over \
         smoltcp and linewire::nal",
        ("firmware-tls", elf),
        ("firmware-net", plain),
    );
}

#[test]
fn async_tls_network_budgets() {
    let (Some(elf), Some(plain)) = (async_tls_firmware(), async_firmware()) else {
        return;
    };
    tls_budgets(
        "async TLS network firmware budgets (examples/firmware-net --features async,tls: \
         embedded-tls's async connection over an embassy-net TcpSocket, Writer::poll_async, \
         block_on",
        ("firmware-async-tls", elf),
        ("firmware-async", plain),
    );
}

/// Runs a TLS firmware and the same without TLS, prints their figures
/// and the difference, and holds the TLS one to its budgets.
fn tls_budgets(title: &str, (name, elf): (&str, &Path), (plain_name, plain): (&str, &Path)) {
    let server = TestServer::builder().https().start();
    let ca = CaFile::new(server.ca_pem());
    let with = run_tls(elf, &server, &ca, TLS_NAME);
    assert!(with.success, "{name} failed:\n{}", with.output);
    let http = TestServer::start();
    let without = run(plain, http.addr().port());
    assert!(without.success, "{plain_name} failed:\n{}", without.output);
    let t = figures(elf, &with);
    let b = figures(plain, &without);
    let kib = |b: u64| b as f64 / 1024.0;
    let handshake_ms = with
        .handshakes
        .first()
        .and_then(|h| h.split_once(" ms="))
        .map_or("?", |(_, ms)| ms);
    println!(
        "{title}; embedded-tls 0.19, TLS 1.3 TLS_AES_128_GCM_SHA256, P-256 key share, the \
         certificate verified against the test kit's CA and \"{TLS_NAME}\" (rustpki), ChaCha20 \
         random numbers; thumbv7m-none-eabi, opt-level \"z\", fat LTO)"
    );
    println!("| image | flash (.text+.rodata) | RAM (.data+.bss) | peak stack |");
    println!("|---|---|---|---|");
    println!(
        "| {name} (whole image) | {} B ({:.1} KiB; budget {} KiB) | {} B ({:.1} KiB; budget {} KiB) | {} B ({:.1} KiB; budget {} KiB) |",
        t.flash,
        kib(t.flash),
        TLS_FLASH_BUDGET / 1024,
        t.ram,
        kib(t.ram),
        TLS_RAM_BUDGET / 1024,
        t.stack,
        kib(t.stack as u64),
        TLS_STACK_BUDGET / 1024,
    );
    println!(
        "| {plain_name} (the same without TLS) | {} B ({:.1} KiB) | {} B ({:.1} KiB) | {} B ({:.1} KiB) |",
        b.flash,
        kib(b.flash),
        b.ram,
        kib(b.ram),
        b.stack,
        kib(b.stack as u64),
    );
    println!(
        "| TLS's cost (embedded-tls and its crypto, the record buffers, the CA buffer, the handshake on the stack) | {:+} B ({:+.1} KiB) | {:+} B ({:+.1} KiB) | {:+} B ({:+.1} KiB) |",
        t.flash as i64 - b.flash as i64,
        (t.flash as f64 - b.flash as f64) / 1024.0,
        t.ram as i64 - b.ram as i64,
        (t.ram as f64 - b.ram as f64) / 1024.0,
        t.stack as i64 - b.stack as i64,
        (t.stack as f64 - b.stack as f64) / 1024.0,
    );
    println!(
        "first handshake: {handshake_ms} ms of qemu's clock; stack painted: {} B",
        with.painted
    );
    assert!(
        t.flash <= TLS_FLASH_BUDGET,
        "flash {} B over budget",
        t.flash
    );
    assert!(t.ram <= TLS_RAM_BUDGET, "RAM {} B over budget", t.ram);
    assert!(
        t.stack <= TLS_STACK_BUDGET,
        "stack {} B over budget",
        t.stack
    );
    assert!(
        t.ram + t.stack as u64 <= CHIP_RAM,
        "statics and stack ({} B) over the chip's 64 KiB",
        t.ram + t.stack as u64
    );
}

#[test]
fn a_run_without_a_port_fails_with_a_sentence() {
    let Some(elf) = firmware() else { return };
    let run = run_with(elf, "arg=firmware-net");
    assert!(
        !run.success,
        "the firmware reported success:\n{}",
        run.output
    );
    assert_eq!(
        run.errors,
        [
            "the command line names no server port (pass port=N): run qemu with \
          -semihosting-config enable=on,arg=firmware-net,arg=port=N"
        ],
        "{}",
        run.output
    );
    assert!(run.polls.is_empty());
    let run = run_with(elf, "arg=firmware-net,arg=port=70000");
    assert!(!run.success);
    assert!(
        run.errors
            .first()
            .is_some_and(|e| e.starts_with("the command line's port is not a number")),
        "{}",
        run.output
    );
}

#[test]
fn the_port_comes_from_the_command_line() {
    use config::PortError;
    assert_eq!(config::port("firmware-net port=8086"), Ok(8086));
    assert_eq!(config::port("port=1 port=2"), Ok(1));
    assert_eq!(config::port("x=1 port=65535 y"), Ok(65535));
    assert_eq!(config::port("firmware-net"), Err(PortError::Missing));
    assert_eq!(config::port(""), Err(PortError::Missing));
    assert_eq!(config::port("sport=80"), Err(PortError::Missing));
    for bad in [
        "port=",
        "port=0",
        "port=65536",
        "port=-1",
        "port=80x",
        "port= 80",
    ] {
        assert_eq!(config::port(bad), Err(PortError::Invalid), "{bad}");
    }
    assert_eq!(config::arg("a=1 b=x=y", "b"), Some("x=y"));
}

/// qemu's `stellaris_enet` transmit side: the frame the words describe.
fn qemu_transmit(words: &[u32]) -> Vec<u8> {
    let (first, rest) = words.split_first().expect("a first word");
    let len = (first & 0xffff) as usize + fifo::HEADER;
    let mut frame: Vec<u8> = first.to_le_bytes()[2..].to_vec();
    for w in rest {
        frame.extend_from_slice(&w.to_le_bytes());
    }
    frame.truncate(len);
    frame
}

/// qemu's `stellaris_enet` receive side: the record of `frame`, as words.
fn qemu_record(frame: &[u8]) -> Vec<u32> {
    let mut record = ((frame.len() + fifo::RX_OVERHEAD) as u16)
        .to_le_bytes()
        .to_vec();
    record.extend_from_slice(frame);
    record.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // the FCS
    record
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_le_bytes(w)
        })
        .collect()
}

#[test]
fn frames_cross_the_fifo_unchanged() {
    for len in [
        fifo::HEADER,
        15,
        16,
        17,
        60,
        61,
        62,
        63,
        64,
        1000,
        fifo::MAX_FRAME,
    ] {
        let frame: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
        let words: Vec<u32> = fifo::tx_words(&frame).expect("a valid length").collect();
        assert_eq!(words.len(), 1 + (len - 2).div_ceil(4), "{len}");
        assert_eq!(qemu_transmit(&words), frame, "{len}");

        let record = qemu_record(&frame);
        let head = fifo::rx_record(record[0]);
        assert_eq!(head.frame_len, Some(len));
        assert_eq!(head.words, record.len(), "{len}");
        let mut rx = vec![0u8; fifo::MAX_FRAME];
        for (i, w) in record.iter().enumerate() {
            fifo::unpack(i, *w, &mut rx);
        }
        assert_eq!(&rx[..len], &frame[..], "{len}");
    }
    assert!(fifo::tx_words(&[0; fifo::HEADER - 1]).is_none());
    assert!(fifo::tx_words(&[0; fifo::MAX_FRAME + 1]).is_none());
}

#[test]
fn impossible_record_lengths_are_drained_and_dropped() {
    let cases = [
        (0u32, 1, None),
        (5, 2, None),
        (19, 5, None),
        (20, 5, Some(14)),
        (1520, 380, Some(1514)),
        (1521, 381, None),
        (0xffff, 512, None),
        // Only the low half is the length.
        (0xabcd_0040, 16, Some(58)),
    ];
    for (first, words, frame_len) in cases {
        assert_eq!(
            fifo::rx_record(first),
            fifo::RxRecord { words, frame_len },
            "{first:#x}"
        );
    }
    // Bytes past the buffer are skipped, not written.
    let mut small = [0u8; 3];
    fifo::unpack(0, 0x4433_2211, &mut small);
    fifo::unpack(1, 0x8877_6655, &mut small);
    assert_eq!(small, [0x33, 0x44, 0x55]);
}
