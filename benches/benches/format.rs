//! Formats one canonical point with linewire and, in the same run, with the
//! peer crates, plus a plain copy of the finished line as the floor.
//!
//! `cd benches && cargo bench --bench format`

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use influxdb::{Timestamp, WriteQuery};
use influxdb2::models::{DataPoint, WriteDataPoint};
use influxdb_line_protocol::builder::LineProtocolBuilder;
use linewire::Batch;
use linewire_benches::{
    linewire_const_names, linewire_point, opaque, opaque_const_names, LINE, TS,
};

fn line_protocol_builder(buf: Vec<u8>) -> Vec<u8> {
    LineProtocolBuilder::new_with(buf)
        .measurement(black_box("weather"))
        .tag("location", black_box("us-midwest"))
        .tag("station", "KORD")
        .tag("sensor", "bme280")
        .field("temperature", black_box(82.5))
        .field("humidity", black_box(71i64))
        .field("pressure", 1013.25)
        .field("ok", true)
        .field("note", "clear sky")
        .timestamp(black_box(TS))
        .close_line()
        .build()
}

fn influxdb2_point(buf: &mut Vec<u8>) {
    DataPoint::builder(black_box("weather"))
        .tag("location", black_box("us-midwest"))
        .tag("station", "KORD")
        .tag("sensor", "bme280")
        .field("temperature", black_box(82.5))
        .field("humidity", black_box(71i64))
        .field("pressure", 1013.25)
        .field("ok", true)
        .field("note", "clear sky")
        .timestamp(black_box(TS))
        .build()
        .expect("canonical point")
        .write_data_point_to(buf)
        .expect("write to Vec");
}

fn influxdb_query() -> String {
    use influxdb::Query;
    WriteQuery::new(
        Timestamp::Nanoseconds(black_box(TS) as u128),
        black_box("weather"),
    )
    .add_tag("location", black_box("us-midwest"))
    .add_tag("station", "KORD")
    .add_tag("sensor", "bme280")
    .add_field("temperature", black_box(82.5))
    .add_field("humidity", black_box(71i64))
    .add_field("pressure", 1013.25)
    .add_field("ok", true)
    .add_field("note", "clear sky")
    .build()
    .expect("canonical point")
    .get()
}

/// One linewire variant: `format` fills an emptied batch with the point.
/// Generic, so the call is as direct as if written out.
fn linewire_bench(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    format: impl Fn(&mut Batch<512>),
) {
    g.bench_function(name, |b| {
        let mut batch = Batch::<512>::new();
        b.iter(|| {
            format(&mut batch);
            black_box(batch.as_bytes().len())
        })
    });
}

fn format(c: &mut Criterion) {
    // Every contender must produce the same line, or the comparison is void.
    let mut batch = Batch::<512>::new();
    let variants: [fn(&mut Batch<512>); 4] = [
        linewire_point,
        linewire_const_names,
        opaque,
        opaque_const_names,
    ];
    for format in variants {
        format(&mut batch);
        assert_eq!(batch.as_str(), LINE);
    }

    let lp = line_protocol_builder(Vec::new());
    assert_eq!(String::from_utf8_lossy(&lp), LINE, "influxdb-line-protocol");
    // These two order tags or write booleans differently: same data, shown.
    let mut v2 = Vec::new();
    influxdb2_point(&mut v2);
    println!(
        "influxdb2 writes: {}",
        String::from_utf8_lossy(&v2).trim_end()
    );
    println!("influxdb writes:  {}", influxdb_query());

    let mut g = c.benchmark_group("format_one_point");
    g.throughput(Throughput::Elements(1));

    linewire_bench(&mut g, "linewire", linewire_point);
    linewire_bench(&mut g, "linewire, const names", linewire_const_names);
    linewire_bench(&mut g, "linewire, every name and value opaque", opaque);
    linewire_bench(
        &mut g,
        "linewire, const names, values opaque",
        opaque_const_names,
    );

    g.bench_function("influxdb-line-protocol", |b| {
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        b.iter(|| {
            buf.clear();
            buf = line_protocol_builder(std::mem::take(&mut buf));
            black_box(buf.len())
        })
    });

    g.bench_function("influxdb2", |b| {
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        b.iter(|| {
            buf.clear();
            influxdb2_point(&mut buf);
            black_box(buf.len())
        })
    });

    g.bench_function("influxdb", |b| b.iter(|| black_box(influxdb_query().len())));

    g.bench_function("memcpy of the finished line", |b| {
        let mut buf = [0u8; 512];
        b.iter(|| {
            let line = black_box(LINE.as_bytes());
            buf[..line.len()].copy_from_slice(line);
            black_box(&buf);
        })
    });
    g.finish();
}

criterion_group!(benches, format);
criterion_main!(benches);
