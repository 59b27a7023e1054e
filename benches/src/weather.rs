//! The throughput bench's generated points (measurement `weather`, 3 tags,
//! 5 fields, nanosecond timestamps, about 151 bytes a line), shared with
//! the gzip bench so both compress the same bodies.

use linewire::Batch;

pub const LOCATIONS: [&str; 8] = [
    "us-midwest",
    "us-east",
    "us-west",
    "eu-central",
    "eu-north",
    "ap-south",
    "ap-east",
    "sa-east",
];
pub const SENSORS: [&str; 4] = ["bme280", "sht31", "ds18b20", "dht22"];
pub const NOTES: [&str; 5] = ["clear sky", "light rain", "fog", "overcast", "snow"];
pub const STATIONS: usize = 200;

/// One generated point: everything but the names, which are shared.
#[derive(Debug, Clone, Copy)]
pub struct Pt {
    pub station: u16,
    pub sensor: u8,
    pub temperature: f64,
    pub humidity: i64,
    pub pressure: f64,
    pub ok: bool,
    pub note: u8,
    pub ts_ns: i64,
}

/// `n` points, deterministic but for the base time: one millisecond apart
/// (with a sub-millisecond part), the newest about 13 minutes old, so
/// every (series, millisecond) is distinct in VictoriaMetrics.
pub fn generate(n: usize, base_ns: i64) -> Vec<Pt> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let r = next();
            let i64i = i64::try_from(i).expect("point index");
            Pt {
                station: u16::try_from(i % STATIONS).expect("station"),
                sensor: u8::try_from((i / STATIONS) % SENSORS.len()).expect("sensor"),
                temperature: -20.0 + (r % 6000) as f64 / 100.0,
                humidity: i64::try_from((r >> 16) % 101).expect("humidity"),
                pressure: 950.0 + ((r >> 24) % 10_000) as f64 / 100.0,
                ok: (r >> 40) % 10 != 0,
                note: u8::try_from((r >> 44) % NOTES.len() as u64).expect("note"),
                ts_ns: base_ns + i64i * 1_000_000 + (i64i * 7919) % 1_000_000,
            }
        })
        .collect()
}

pub fn station_names() -> Vec<String> {
    (0..STATIONS).map(|s| format!("st{s:04}")).collect()
}

/// Formats `p` into `batch`: the one formatting every contender's bytes
/// come from.
pub fn format_point<const N: usize>(batch: &mut Batch<N>, p: &Pt, stations: &[String]) {
    let station = usize::from(p.station);
    batch
        .point("weather")
        .and_then(|b| b.tag("location", LOCATIONS[station % LOCATIONS.len()]))
        .and_then(|b| b.tag("station", &stations[station]))
        .and_then(|b| b.tag("sensor", SENSORS[usize::from(p.sensor)]))
        .and_then(|b| b.field("temperature", p.temperature))
        .and_then(|b| b.field("humidity", p.humidity))
        .and_then(|b| b.field("pressure", p.pressure))
        .and_then(|b| b.field("ok", p.ok))
        .and_then(|b| b.field("note", NOTES[usize::from(p.note)]))
        .and_then(|b| b.timestamp(p.ts_ns))
        .expect("a generated point fits");
}
