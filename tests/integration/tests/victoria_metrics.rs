//! A real VictoriaMetrics (`/usr/bin/victoria-metrics`, Debian package
//! `victoria-metrics`) on a free loopback port: batches written through
//! `linewire::nal::NalStream` to `/api/v2/write` are read back from
//! `/api/v1/export`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use linewire::http::{Outcome, Target};
use linewire::nal::NalStream;
use linewire::{Batch, Precision};
use linewire_integration::{
    encode_query, http_get, http_post, patient, require_binary, start_victoria_metrics,
    ServerProcess, VICTORIA_METRICS,
};

fn start() -> Option<ServerProcess> {
    let bin = require_binary(VICTORIA_METRICS, "victoria-metrics")?;
    Some(start_victoria_metrics(&bin, "victoria-metrics"))
}

/// Exported series: metric labels -> (values, timestamps in ms).
type Series = BTreeMap<BTreeMap<String, String>, (Vec<f64>, Vec<i64>)>;

fn export(vm: &ServerProcess, name_regex: &str, want: usize) -> Series {
    let query = format!(
        "/api/v1/export?match[]={}",
        encode_query(&format!("{{__name__=~\"{name_regex}\"}}"))
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = http_post(vm.addr, "/internal/force_flush").expect("force_flush");
        assert_eq!(status, 200, "force_flush");
        let (status, body) = http_get(vm.addr, &query).expect("export");
        assert_eq!(status, 200, "export: {body}");
        let mut out = Series::new();
        for line in body.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line).expect("export line is JSON");
            let labels: BTreeMap<String, String> = v["metric"]
                .as_object()
                .expect("metric")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect();
            let values = v["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|x| x.as_f64().expect("number"))
                .collect();
            let ts = v["timestamps"]
                .as_array()
                .expect("timestamps")
                .iter()
                .map(|x| x.as_i64().expect("integer"))
                .collect();
            out.insert(labels, (values, ts));
        }
        let points: usize = out.values().map(|(v, _)| v.len()).sum();
        if points >= want || Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn victoria_metrics_stores_what_the_adapter_wrote() {
    let Some(vm) = start() else { return };
    // VictoriaMetrics drops samples outside its retention: write "now".
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let target = Target::v2("127.0.0.1", "sensors", "")
        .unwrap()
        .port(vm.addr.port());
    let mut conn = NalStream::new(
        std_embedded_nal::Stack,
        vm.addr,
        patient(Duration::from_secs(20)),
    );
    let mut buf = [0u8; 512];
    for i in 0..3i64 {
        let mut batch = Batch::<512>::with_precision(Precision::Milliseconds);
        batch
            .point("wx st,1")
            .unwrap()
            .tag("room name", "loft, north=2")
            .unwrap()
            .tag("unit", "°C ✓")
            .unwrap()
            .field("temp", 21.5 + i as f64)
            .unwrap()
            .field("count", -3 - i)
            .unwrap()
            .field("ok", i % 2 == 0)
            .unwrap()
            .timestamp(now_ms + i)
            .unwrap();
        let reply = conn.write_batch(&target, &batch, &mut buf).unwrap();
        assert_eq!(
            reply.outcome,
            Outcome::Written,
            "status {} {:?}\n{}",
            reply.status,
            reply.error.message,
            vm.log()
        );
    }
    assert_eq!(conn.connects(), 1, "keep-alive across the three batches");

    let series = export(&vm, "wx st,1_.*", 9);
    let tags = [("room name", "loft, north=2"), ("unit", "°C ✓")];
    let with = |name: &str| {
        let mut l = labels(&tags);
        l.insert("__name__".into(), name.into());
        l
    };
    let ts = vec![now_ms, now_ms + 1, now_ms + 2];
    assert_eq!(series.len(), 3, "{series:#?}");
    assert_eq!(
        series[&with("wx st,1_temp")],
        (vec![21.5, 22.5, 23.5], ts.clone())
    );
    assert_eq!(
        series[&with("wx st,1_count")],
        (vec![-3.0, -4.0, -5.0], ts.clone())
    );
    assert_eq!(series[&with("wx st,1_ok")], (vec![1.0, 0.0, 1.0], ts));
}
