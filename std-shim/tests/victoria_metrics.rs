//! The std crate against a real VictoriaMetrics (`/usr/bin/victoria-metrics`,
//! Debian package `victoria-metrics`) on a free loopback port: the
//! [`Client`] (gzip on and off) and the [`BackgroundWriter`] write to
//! `/api/v2/write`; what they wrote is read back from `/api/v1/export`
//! after `/internal/force_flush`.
//!
//! Without the binary these tests skip loudly, or fail when `CI` is set
//! (`scripts/test.sh` installs it). The launcher and HTTP helpers are
//! `linewire-integration`'s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use linewire::{Batch, Precision};
use linewire_integration::{
    encode_query, http_get, http_post, require_binary, start_victoria_metrics, ServerProcess,
    VICTORIA_METRICS,
};
use linewire_std::{BackgroundWriter, Client};

fn start() -> Option<ServerProcess> {
    let bin = require_binary(VICTORIA_METRICS, "victoria-metrics")?;
    Some(start_victoria_metrics(&bin, "std-victoria-metrics"))
}

/// Milliseconds since the epoch, whole: VictoriaMetrics keeps milliseconds
/// and drops samples outside its retention, so tests write "now".
fn now_ms() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Exported series: labels (with `__name__`) -> (value, timestamp in ms)
/// pairs, sorted by timestamp.
type Series = BTreeMap<BTreeMap<String, String>, Vec<(f64, i64)>>;

/// The series whose name starts with `prefix`, once at least `want`
/// samples are visible (or after 30 s, with what there is).
fn export(vm: &ServerProcess, prefix: &str, want: usize) -> Series {
    let query = format!(
        "/api/v1/export?match[]={}",
        encode_query(&format!("{{__name__=~\"{prefix}.*\"}}"))
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http_post(vm.addr, "/internal/force_flush").expect("force_flush");
        assert_eq!(status, 200, "force_flush: {body}");
        let (status, body) = http_get(vm.addr, &query).expect("export");
        assert_eq!(status, 200, "export: {body}");
        let mut out = Series::new();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("export line is JSON");
            let labels = v["metric"]
                .as_object()
                .expect("metric")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().expect("label").to_string()))
                .collect();
            let values = v["values"].as_array().expect("values");
            let stamps = v["timestamps"].as_array().expect("timestamps");
            assert_eq!(values.len(), stamps.len(), "{line}");
            let mut samples: Vec<(f64, i64)> = values
                .iter()
                .zip(stamps)
                .map(|(v, t)| (v.as_f64().expect("number"), t.as_i64().expect("ms")))
                .collect();
            samples.sort_by_key(|s| s.1);
            out.entry(labels).or_default().extend(samples);
        }
        let samples: usize = out.values().map(Vec::len).sum();
        if samples >= want || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn labels(name: &str, tags: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut l: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.insert("__name__".into(), name.into());
    l
}

/// Three points of `measurement` (float, signed, unsigned, boolean and
/// string fields; tags that need escaping) written by one [`Client`],
/// one request per point, at nanosecond precision with a sub-millisecond
/// part that VictoriaMetrics truncates.
fn client_round_trip(vm: &ServerProcess, measurement: &str, gzip: bool) {
    let client = Client::new(&format!("http://{}", vm.addr), Some("ignored-token"))
        .unwrap()
        .bucket("sensors")
        .gzip(gzip);
    let base_ms = now_ms();
    for i in 0..3i64 {
        let mut batch = Batch::<512>::new();
        batch
            .point(measurement)
            .unwrap()
            .tag("room name", "loft, north=2")
            .unwrap()
            .tag("unit", "°C ✓")
            .unwrap()
            .field("temp", 21.25 + i as f64)
            .unwrap()
            .field("count", -3 - i)
            .unwrap()
            .field("total", 10u64 + i as u64)
            .unwrap()
            .field("ok", i % 2 == 0)
            .unwrap()
            .field("note", "clear \"sky\"")
            .unwrap()
            .timestamp((base_ms + i) * 1_000_000 + 123_456)
            .unwrap();
        let written = client
            .write(&batch)
            .unwrap_or_else(|e| panic!("write {i} (gzip {gzip}): {e}\n{}", vm.log()));
        assert_eq!(written.status, 204);
        assert_eq!(written.body_len, batch.len());
        if gzip {
            assert_ne!(
                written.wire_len, written.body_len,
                "gzip on: body compressed"
            );
        } else {
            assert_eq!(written.wire_len, written.body_len, "gzip off: body as is");
        }
    }

    let series = export(vm, &format!("{measurement}_"), 15);
    let tags = [("room name", "loft, north=2"), ("unit", "°C ✓")];
    let ts: Vec<i64> = (0..3).map(|i| base_ms + i).collect();
    let expect = |field: &str, values: [f64; 3]| {
        let got = &series[&labels(&format!("{measurement}_{field}"), &tags)];
        let want: Vec<(f64, i64)> = values.into_iter().zip(ts.iter().copied()).collect();
        assert_eq!(got, &want, "{measurement}_{field} (gzip {gzip})");
    };
    assert_eq!(series.len(), 5, "five fields, one tag set: {series:#?}");
    expect("temp", [21.25, 22.25, 23.25]);
    expect("count", [-3.0, -4.0, -5.0]);
    expect("total", [10.0, 11.0, 12.0]);
    expect("ok", [1.0, 0.0, 1.0]);
    // VictoriaMetrics keeps a string field as a 0 sample.
    expect("note", [0.0, 0.0, 0.0]);
}

#[test]
fn client_writes_to_victoria_metrics_with_and_without_gzip() {
    let Some(vm) = start() else { return };
    client_round_trip(&vm, "plain", false);
    client_round_trip(&vm, "zipped", true);
}

#[test]
fn background_writer_delivers_every_point_to_victoria_metrics() {
    let Some(vm) = start() else { return };
    const POINTS: i64 = 12_000;
    const HOSTS: i64 = 4;
    let client = Client::new(&format!("http://{}", vm.addr), None)
        .unwrap()
        .bucket("sensors")
        .precision(Precision::Milliseconds);
    // Several batches by size (5000), the rest by flush.
    let writer = BackgroundWriter::builder(client)
        .batch_lines(5000)
        .capacity_lines(8000)
        .start();
    let base_ms = now_ms() - POINTS;
    let mut batch = Batch::<8192>::with_precision(Precision::Milliseconds);
    for i in 0..POINTS {
        let host = format!("h{}", i % HOSTS);
        batch
            .point("bg")
            .unwrap()
            .tag("host", &host)
            .unwrap()
            .field("seq", i)
            .unwrap()
            .field("half", i as f64 / 2.0)
            .unwrap()
            .timestamp(base_ms + i)
            .unwrap();
        if batch.remaining() < 256 {
            writer.push(&batch).unwrap();
            batch.clear();
        }
    }
    writer.push(&batch).unwrap();
    assert!(
        writer.flush_timeout(Duration::from_secs(60)),
        "flush: {:?}\n{}",
        writer.stats(),
        vm.log()
    );
    let stats = writer.close();
    assert_eq!(stats.sent, POINTS as u64, "{stats:?}");
    assert_eq!(stats.lost(), 0, "{stats:?}");
    assert!(stats.requests >= 3, "batches of 5000: {stats:?}");

    let series = export(&vm, "bg_", 2 * POINTS as usize);
    assert_eq!(series.len(), 2 * HOSTS as usize, "{:?}", series.keys());
    for h in 0..HOSTS {
        let host = format!("h{h}");
        let want_seq: Vec<(f64, i64)> = (0..POINTS)
            .filter(|i| i % HOSTS == h)
            .map(|i| (i as f64, base_ms + i))
            .collect();
        let want_half: Vec<(f64, i64)> = want_seq.iter().map(|&(v, t)| (v / 2.0, t)).collect();
        assert_eq!(series[&labels("bg_seq", &[("host", &host)])], want_seq);
        assert_eq!(series[&labels("bg_half", &[("host", &host)])], want_half);
    }
}
