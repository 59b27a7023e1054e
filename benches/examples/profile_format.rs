//! Formats the canonical point in a loop, for `valgrind --tool=callgrind`.
use std::hint::black_box;
fn main() {
    let mut batch = linewire::Batch::<512>::new();
    for _ in 0..100_000 {
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
            .and_then(|p| p.timestamp(black_box(1_465_839_830_100_400_200)))
            .expect("canonical point");
        black_box(batch.as_bytes());
    }
}
