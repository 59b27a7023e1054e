//! The canonical point of the benchmarks, formatted by linewire, shared by
//! `benches/format.rs` and `examples/profile_format.rs`.

pub mod sink;
pub mod weather;

use std::hint::black_box;

use linewire::{Batch, Name};

/// The canonical point's timestamp.
pub const TS: i64 = 1_465_839_830_100_400_200;

/// The canonical point, as every contender must write it.
pub const LINE: &str = "weather,location=us-midwest,station=KORD,sensor=bme280 \
temperature=82.5,humidity=71i,pressure=1013.25,ok=true,note=\"clear sky\" 1465839830100400200\n";

/// Formats the canonical point with `&str` names into an emptied `batch`.
pub fn linewire_point(batch: &mut Batch<512>) {
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

/// Formats the canonical point with const-checked names into an emptied `batch`.
pub fn linewire_const_names(batch: &mut Batch<512>) {
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

/// The canonical point with every name and value hidden from the optimiser
/// (`black_box`), as values read from a sensor at run time are.
pub fn opaque(batch: &mut Batch<512>) {
    batch.clear();
    batch
        .point(black_box("weather"))
        .and_then(|p| p.tag(black_box("location"), black_box("us-midwest")))
        .and_then(|p| p.tag(black_box("station"), black_box("KORD")))
        .and_then(|p| p.tag(black_box("sensor"), black_box("bme280")))
        .and_then(|p| p.field(black_box("temperature"), black_box(82.5)))
        .and_then(|p| p.field(black_box("humidity"), black_box(71i64)))
        .and_then(|p| p.field(black_box("pressure"), black_box(1013.25)))
        .and_then(|p| p.field(black_box("ok"), black_box(true)))
        .and_then(|p| p.field(black_box("note"), black_box("clear sky")))
        .and_then(|p| p.timestamp(black_box(TS)))
        .expect("canonical point");
}

/// Const-checked names, every value hidden from the optimiser.
pub fn opaque_const_names(batch: &mut Batch<512>) {
    batch.clear();
    batch
        .point(WEATHER)
        .and_then(|p| p.tag(LOCATION, black_box("us-midwest")))
        .and_then(|p| p.tag(STATION, black_box("KORD")))
        .and_then(|p| p.tag(SENSOR, black_box("bme280")))
        .and_then(|p| p.field(TEMPERATURE, black_box(82.5)))
        .and_then(|p| p.field(HUMIDITY, black_box(71i64)))
        .and_then(|p| p.field(PRESSURE, black_box(1013.25)))
        .and_then(|p| p.field(OK, black_box(true)))
        .and_then(|p| p.field(NOTE, black_box("clear sky")))
        .and_then(|p| p.timestamp(black_box(TS)))
        .expect("canonical point");
}
