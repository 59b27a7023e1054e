//! Formats the canonical point in a loop, for `valgrind --tool=callgrind`:
//! `profile_format` with `&str` names, `profile_format const` with `Name`s
//! checked at compile time. `opaque` and `opaque-const` hide every value
//! (and, with `&str` names, every name) from the optimiser with
//! `black_box`, as values read from a sensor at run time are: the
//! criterion bench's literals let the inlined builder steps check and
//! format some of them at compile time.
use std::hint::black_box;

use linewire::{Batch, Name};
use linewire_benches::{linewire_const_names, linewire_point, LINE, TS};

fn opaque(batch: &mut Batch<512>) {
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

const WEATHER: Name = Name::new("weather");
const LOCATION: Name = Name::new("location");
const STATION: Name = Name::new("station");
const SENSOR: Name = Name::new("sensor");
const TEMPERATURE: Name = Name::new("temperature");
const HUMIDITY: Name = Name::new("humidity");
const PRESSURE: Name = Name::new("pressure");
const OK: Name = Name::new("ok");
const NOTE: Name = Name::new("note");

fn opaque_const(batch: &mut Batch<512>) {
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

fn main() {
    let format: fn(&mut Batch<512>) = match std::env::args().nth(1).as_deref() {
        None => linewire_point,
        Some("const") => linewire_const_names,
        Some("opaque") => opaque,
        Some("opaque-const") => opaque_const,
        Some(other) => panic!("unknown mode {other}: const, opaque or opaque-const"),
    };
    let mut batch = Batch::<512>::new();
    for _ in 0..100_000 {
        format(&mut batch);
        black_box(batch.as_bytes());
    }
    assert_eq!(batch.as_str(), LINE);
}
