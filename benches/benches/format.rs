//! Formats one canonical point with linewire and, in the same run, with the
//! peer crates, plus a plain copy of the finished line as the floor.
//!
//! `cd benches && cargo bench --bench format`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use influxdb::{Timestamp, WriteQuery};
use influxdb2::models::{DataPoint, WriteDataPoint};
use influxdb_line_protocol::builder::LineProtocolBuilder;
use linewire::{Batch, Name};

const TS: i64 = 1_465_839_830_100_400_200;
const LINE: &str = "weather,location=us-midwest,station=KORD,sensor=bme280 \
temperature=82.5,humidity=71i,pressure=1013.25,ok=true,note=\"clear sky\" 1465839830100400200\n";

fn linewire_point(batch: &mut Batch<512>) {
    batch.clear();
    batch
        .point(black_box("weather"))
        .and_then(|p| p.tag("location", black_box("us-midwest")))
        .and_then(|p| p.tag("station", "KORD"))
        .and_then(|p| p.tag("sensor", "bme280"))
        .and_then(|p| p.field("temperature", black_box(82.5)))
        .and_then(|p| p.field("humidity", black_box(71i64)))
        .and_then(|p| p.field("pressure", 1013.25))
        .and_then(|p| p.field("ok", true))
        .and_then(|p| p.field("note", "clear sky"))
        .and_then(|p| p.timestamp(black_box(TS)))
        .expect("canonical point");
}

// The same point with every name checked at compile time (`Name::new` in a
// `const`): how firmware with fixed measurement, tag and field names writes.
const WEATHER: Name = Name::new("weather");
const LOCATION: Name = Name::new("location");
const US_MIDWEST: Name = Name::new("us-midwest");
const STATION: Name = Name::new("station");
const KORD: Name = Name::new("KORD");
const SENSOR: Name = Name::new("sensor");
const BME280: Name = Name::new("bme280");
const TEMPERATURE: Name = Name::new("temperature");
const HUMIDITY: Name = Name::new("humidity");
const PRESSURE: Name = Name::new("pressure");
const OK: Name = Name::new("ok");
const NOTE: Name = Name::new("note");

fn linewire_const_names(batch: &mut Batch<512>) {
    batch.clear();
    batch
        .point(black_box(WEATHER))
        .and_then(|p| p.tag(LOCATION, black_box(US_MIDWEST)))
        .and_then(|p| p.tag(STATION, KORD))
        .and_then(|p| p.tag(SENSOR, BME280))
        .and_then(|p| p.field(TEMPERATURE, black_box(82.5)))
        .and_then(|p| p.field(HUMIDITY, black_box(71i64)))
        .and_then(|p| p.field(PRESSURE, 1013.25))
        .and_then(|p| p.field(OK, true))
        .and_then(|p| p.field(NOTE, "clear sky"))
        .and_then(|p| p.timestamp(black_box(TS)))
        .expect("canonical point");
}

fn format(c: &mut Criterion) {
    // Every contender must produce the same line, or the comparison is void.
    let mut batch = Batch::<512>::new();
    linewire_point(&mut batch);
    assert_eq!(batch.as_str(), LINE);
    linewire_const_names(&mut batch);
    assert_eq!(batch.as_str(), LINE);

    let lp = LineProtocolBuilder::new()
        .measurement("weather")
        .tag("location", "us-midwest")
        .tag("station", "KORD")
        .tag("sensor", "bme280")
        .field("temperature", 82.5)
        .field("humidity", 71i64)
        .field("pressure", 1013.25)
        .field("ok", true)
        .field("note", "clear sky")
        .timestamp(TS)
        .close_line()
        .build();
    assert_eq!(String::from_utf8_lossy(&lp), LINE, "influxdb-line-protocol");
    let mut v2 = Vec::new();
    DataPoint::builder("weather")
        .tag("location", "us-midwest")
        .tag("station", "KORD")
        .tag("sensor", "bme280")
        .field("temperature", 82.5)
        .field("humidity", 71i64)
        .field("pressure", 1013.25)
        .field("ok", true)
        .field("note", "clear sky")
        .timestamp(TS)
        .build()
        .expect("canonical point")
        .write_data_point_to(&mut v2)
        .expect("write to Vec");
    println!(
        "influxdb2 writes: {}",
        String::from_utf8_lossy(&v2).trim_end()
    );
    {
        use influxdb::Query;
        let q = WriteQuery::new(Timestamp::Nanoseconds(TS as u128), "weather")
            .add_tag("location", "us-midwest")
            .add_tag("station", "KORD")
            .add_tag("sensor", "bme280")
            .add_field("temperature", 82.5)
            .add_field("humidity", 71i64)
            .add_field("pressure", 1013.25)
            .add_field("ok", true)
            .add_field("note", "clear sky");
        println!(
            "influxdb writes:  {}",
            q.build().expect("canonical point").get()
        );
    }

    let mut g = c.benchmark_group("format_one_point");
    g.throughput(Throughput::Elements(1));

    g.bench_function("linewire", |b| {
        let mut batch = Batch::<512>::new();
        b.iter(|| {
            linewire_point(&mut batch);
            black_box(batch.as_bytes().len())
        })
    });

    g.bench_function("linewire, const names", |b| {
        let mut batch = Batch::<512>::new();
        b.iter(|| {
            linewire_const_names(&mut batch);
            black_box(batch.as_bytes().len())
        })
    });

    g.bench_function("influxdb-line-protocol", |b| {
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        b.iter(|| {
            buf.clear();
            buf = LineProtocolBuilder::new_with(std::mem::take(&mut buf))
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
                .build();
            black_box(buf.len())
        })
    });

    g.bench_function("influxdb2", |b| {
        let mut buf: Vec<u8> = Vec::with_capacity(512);
        b.iter(|| {
            buf.clear();
            let point = DataPoint::builder(black_box("weather"))
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
                .expect("canonical point");
            point.write_data_point_to(&mut buf).expect("write to Vec");
            black_box(buf.len())
        })
    });

    g.bench_function("influxdb", |b| {
        use influxdb::Query;
        b.iter(|| {
            let query = WriteQuery::new(
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
            .add_field("note", "clear sky");
            black_box(query.build().expect("canonical point").get().len())
        })
    });

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
