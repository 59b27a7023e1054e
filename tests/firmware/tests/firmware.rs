//! The firmware proof: the Cortex-M3 build under qemu produces the same
//! request bytes and the same decisions as the host, the bytes store the
//! points it formatted, and its cost stays within budget.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::time::Duration;

use linewire::http::{read_response, Action, Outcome, ReadLimits, Reply, RetryAfter};
use linewire_firmware_demo::{
    describe, exchange, fill_batch, DemoBatch, BOOT_COUNT, BUCKET, DEFAULT_TAGS, MEASUREMENT,
    PERIOD, READINGS, REPLIES, RESPONSE_BUF, STATUS_MEASUREMENT, STATUS_MESSAGE, T0,
};
use linewire_firmware_test::{
    build_firmware, footprint, missing_prerequisite, parse_run, run_qemu, symbol_names, Footprint,
    Run,
};
use linewire_testkit::{FieldValue, Point, TestServer};

/// The library's flash budget of issue 7: formatting, request, response,
/// error bodies. Enforced by `budgets` and `flash_within_the_issue_budget`.
///
/// Measured 16,208 B (firmware minus baseline, opt-level "z", fat LTO,
/// `linewire/small`; the example's own code no longer links a bounds-check
/// panic); 16,300 B before that, 16,348 B before the reader kept a parsed status
/// whatever follows it (16,920 B with that, before inlining was measured
/// again for microcontrollers), 17,092 B, 20,296 B and 27,344 B before
/// that. Of the 16.0 KiB (by source function, inlining blurs the edges),
/// about 1.7 KiB are number formatting (the `small` float printer: Ryū's
/// digit loop with its products computed exactly in a small bignum, no
/// tables; integers a digit at a time), 5.2 KiB the write transaction
/// (request, own head parser, body decoding, IMF-fixdate `Retry-After`,
/// outcome), 3.2 KiB the error-body scanner (with core's UTF-8 check and
/// its 256-byte width table), 3.4 KiB the point builder and escaping (byte
/// classes by a match, no 256-byte table), 1.5 KiB string constants, the
/// rest the demo's calls into the builder. No `memmove`, `memcmp`,
/// `httparse`, `itoa`, 64-bit division or shift routine, 8-aligned
/// `memcpy` or panic path of the library is linked any more.
const FLASH_BUDGET: u64 = 16 * 1024;
/// Peak stack of the write path beyond the caller's batch and buffers.
const STACK_BUDGET: usize = 2 * 1024;
/// The library's statics (`.data` + `.bss`): it has no heap and keeps no
/// state of its own.
const RAM_BUDGET: u64 = 0;
const QEMU_TIMEOUT: Duration = Duration::from_secs(60);

struct Proof {
    firmware: Run,
    baseline: Run,
    with_lib: Footprint,
    without_lib: Footprint,
    /// The firmware's symbol names.
    symbols: Vec<String>,
}

/// Builds and runs both binaries once for all tests; `None` when the
/// prerequisites are missing outside CI (skipped loudly).
fn proof() -> Option<&'static Proof> {
    static PROOF: OnceLock<Option<Proof>> = OnceLock::new();
    PROOF
        .get_or_init(|| {
            if let Some(why) = missing_prerequisite() {
                if std::env::var_os("CI").is_some() {
                    panic!("firmware proof cannot run in CI: {why}");
                }
                eprintln!("SKIPPED: firmware proof: {why}");
                return None;
            }
            let elves = build_firmware().unwrap_or_else(|e| panic!("{e}"));
            let run = |elf| {
                let out = run_qemu(elf, QEMU_TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
                let run = parse_run(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
                assert!(run.done, "the firmware did not finish:\n{out}");
                run
            };
            Some(Proof {
                firmware: run(&elves.firmware),
                baseline: run(&elves.baseline),
                with_lib: footprint(&elves.firmware).unwrap(),
                without_lib: footprint(&elves.baseline).unwrap(),
                symbols: symbol_names(&elves.firmware).unwrap_or_else(|e| panic!("{e}")),
            })
        })
        .as_ref()
}

/// A host stream like the firmware's: records writes, reads a canned reply.
struct Canned<'r> {
    reply: &'r [u8],
    sent: Vec<u8>,
}

impl embedded_io::ErrorType for Canned<'_> {
    type Error = std::convert::Infallible;
}
impl embedded_io::Read for Canned<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        embedded_io::Read::read(&mut self.reply, buf)
    }
}
impl embedded_io::Write for Canned<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.sent.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn text(reply: &Reply<'_>) -> String {
    let mut s = String::new();
    describe(reply, &mut s).unwrap();
    s
}

/// What the same code decides on the host: (request bytes, outcome text)
/// per canned reply, plus the decided outcomes themselves.
fn host_exchanges() -> Vec<(Vec<u8>, String, Outcome)> {
    let mut batch = DemoBatch::new();
    fill_batch(&mut batch).unwrap();
    REPLIES
        .iter()
        .map(|reply| {
            let mut stream = Canned {
                reply,
                sent: Vec::new(),
            };
            let mut buf = [0u8; RESPONSE_BUF];
            let r = exchange(&mut stream, &batch, &mut buf).unwrap();
            (stream.sent, text(&r), r.outcome)
        })
        .collect()
}

#[test]
fn host_decisions_are_the_expected_ones() {
    let host = host_exchanges();
    match host[0].2 {
        Outcome::PartiallyWritten(p) => assert_eq!(p.rejected.lines(), &[2, 5]),
        other => panic!("expected a partial write, got {other:?}"),
    }
    assert_eq!(host[0].2.action(), Action::Drop);
    assert_eq!(
        host[1].2,
        Outcome::Throttled {
            retry_after: Some(RetryAfter::Seconds(30))
        }
    );
    assert_eq!(host[2].2, Outcome::Written);
    // The bytes of every exchange are the same request.
    assert!(host.iter().all(|(req, _, _)| req == &host[0].0));
}

#[test]
fn firmware_request_bytes_equal_the_hosts() {
    let Some(p) = proof() else { return };
    let host = host_exchanges();
    assert_eq!(p.firmware.requests.len(), REPLIES.len());
    for (i, (fw, (h, _, _))) in p.firmware.requests.iter().zip(&host).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(fw),
            String::from_utf8_lossy(h),
            "exchange {}",
            i + 1
        );
        assert_eq!(fw, h, "exchange {}", i + 1);
    }
    let req = &p.firmware.requests[0];
    assert!(req.starts_with(b"POST /api/v2/write?bucket=sensors&precision=s HTTP/1.1\r\n"));
    let mut batch = DemoBatch::new();
    fill_batch(&mut batch).unwrap();
    assert!(req.ends_with(batch.as_bytes()));
}

#[test]
fn firmware_outcomes_equal_the_hosts() {
    let Some(p) = proof() else { return };
    let host: Vec<String> = host_exchanges().into_iter().map(|(_, t, _)| t).collect();
    assert_eq!(p.firmware.outcomes, host);
    assert!(p.firmware.outcomes[0].contains("outcome=PartiallyWritten action=Drop"));
    assert!(p.firmware.outcomes[1].contains("outcome=Throttled action=RetryLater retry_after=30s"));
    assert!(p.firmware.outcomes[2].contains("outcome=Written action=Done"));
}

/// An `embedded-io` reader over a TCP stream, for the core's response reader.
struct Tcp(TcpStream);
impl embedded_io::ErrorType for Tcp {
    type Error = std::io::Error;
}
impl embedded_io::Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf)
    }
}

fn expected_points() -> Vec<Point> {
    let tags = |extra: Option<(&str, &str)>| {
        let mut t: BTreeMap<String, String> = DEFAULT_TAGS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some((k, v)) = extra {
            t.insert(k.into(), v.into());
        }
        t
    };
    let mut points: Vec<Point> = READINGS
        .iter()
        .zip(0..)
        .map(|(r, i)| Point {
            measurement: MEASUREMENT.into(),
            tags: tags(Some(("room", r.room))),
            fields: BTreeMap::from([
                ("temp c".into(), FieldValue::F64(r.temperature_c())),
                ("pressure,hpa".into(), FieldValue::F64(r.pressure_hpa())),
                ("vcc=v".into(), FieldValue::F64(r.vcc_v())),
                ("humidity".into(), FieldValue::I64(r.humidity)),
                ("uptime".into(), FieldValue::U64(r.uptime_s)),
                ("door".into(), FieldValue::Bool(r.door_open)),
                ("note".into(), FieldValue::Str(r.note.into())),
            ]),
            timestamp_ns: (T0 + i * PERIOD) * 1_000_000_000,
        })
        .collect();
    points.push(Point {
        measurement: STATUS_MEASUREMENT.into(),
        tags: tags(None),
        fields: BTreeMap::from([
            ("boot_count".into(), FieldValue::I64(BOOT_COUNT)),
            ("message".into(), FieldValue::Str(STATUS_MESSAGE.into())),
        ]),
        timestamp_ns: (T0 + READINGS.len() as i64 * PERIOD) * 1_000_000_000,
    });
    points
}

#[test]
fn firmware_bytes_replayed_to_the_testkit_store_its_points() {
    let Some(p) = proof() else { return };
    let server = TestServer::start();
    let mut conn = TcpStream::connect(server.addr()).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(&p.firmware.requests[0]).unwrap();
    let mut buf = [0u8; RESPONSE_BUF];
    let mut tcp = Tcp(conn);
    let response = read_response(&mut tcp, &mut buf, ReadLimits::default()).unwrap();
    let reply = Reply::from(response);
    assert_eq!(reply.outcome, Outcome::Written, "{}", text(&reply));

    let mut stored = server.points(BUCKET);
    stored.sort_by_key(|p| p.timestamp_ns);
    assert_eq!(stored, expected_points());
}

#[test]
fn budgets() {
    let Some(p) = proof() else { return };
    let lib_flash = p.with_lib.flash.saturating_sub(p.without_lib.flash);
    let lib_ram = p.with_lib.ram.saturating_sub(p.without_lib.ram);
    let stack = |r: &Run, k: &str| r.stacks.get(k).copied().unwrap_or(usize::MAX);
    let fw = &p.firmware;
    let write_stack = (1..=REPLIES.len())
        .map(|n| stack(fw, &format!("exchange{n}")))
        .max()
        .unwrap_or(usize::MAX);
    let format_stack = stack(fw, "format");
    let base_stack = (1..=REPLIES.len())
        .map(|n| stack(&p.baseline, &format!("exchange{n}")))
        .max()
        .unwrap_or(usize::MAX);
    let peak = write_stack.max(format_stack);

    println!(
        "firmware budgets (thumbv7m-none-eabi, opt-level \"z\", fat LTO, lm3s6965evb under qemu)"
    );
    println!("| image | flash (.text+.rodata) | RAM (.data+.bss) |");
    println!("|---|---|---|");
    println!(
        "| firmware with linewire | {} B | {} B |",
        p.with_lib.flash, p.with_lib.ram
    );
    println!(
        "| baseline without linewire | {} B | {} B |",
        p.without_lib.flash, p.without_lib.ram
    );
    println!("| linewire's cost | {lib_flash} B ({:.1} KiB; budget {} KiB) | {lib_ram} B (budget {RAM_BUDGET} B, no heap) |",
        lib_flash as f64 / 1024.0, FLASH_BUDGET / 1024);
    println!("peak stack below the caller's frame: formatting {format_stack} B, write transaction {write_stack} B \
              (the baseline's stand-in writer and reader: {base_stack} B); budget {STACK_BUDGET} B; painted {} B",
        fw.painted);

    assert!(peak < fw.painted, "the stack paint was exhausted");
    assert!(
        peak <= STACK_BUDGET,
        "peak stack {peak} B exceeds the {STACK_BUDGET} B budget"
    );
    assert!(
        p.with_lib.ram <= p.without_lib.ram + RAM_BUDGET,
        "linewire adds {lib_ram} B of statics (budget {RAM_BUDGET} B)"
    );
    // Also here: `scripts/test.sh` runs this test alone.
    assert!(
        lib_flash <= FLASH_BUDGET,
        "linewire costs {lib_flash} B of flash, over the {FLASH_BUDGET} B budget"
    );
}

/// The issue's 16 KiB flash budget (16,208 B at opt-level "z" with fat
/// LTO, from 26.7 KiB).
#[test]
fn flash_within_the_issue_budget() {
    let Some(p) = proof() else { return };
    let lib_flash = p.with_lib.flash.saturating_sub(p.without_lib.flash);
    assert!(
        lib_flash <= FLASH_BUDGET,
        "linewire costs {lib_flash} B of flash, over the {FLASH_BUDGET} B budget"
    );
}

/// The no-panic contract, seen in the image: the firmware (linewire's
/// formatting, transaction, reader and error-body parser, and the example
/// around them) links no panic path at all: no bounds check, slice index,
/// length mismatch, unwrap, expect, overflow or formatting of a panic
/// message. The panic handler is there, unreachable.
#[test]
fn the_firmware_links_no_panic_path() {
    let Some(p) = proof() else { return };
    assert!(
        p.symbols.iter().any(|s| s.contains("linewire")),
        "the symbol table names no linewire function: the check would see nothing"
    );
    let panics: Vec<&String> = p
        .symbols
        .iter()
        .filter(|s| {
            [
                "panicking",
                "panic_bounds_check",
                "slice_index",
                "len_mismatch",
                "unwrap_failed",
                "expect_failed",
                "panic_const",
            ]
            .iter()
            .any(|needle| s.contains(needle))
        })
        .collect();
    assert!(panics.is_empty(), "panic paths linked: {panics:?}");
}
