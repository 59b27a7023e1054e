//! Formats the canonical point in a loop, for `valgrind --tool=callgrind`:
//! `profile_format` with `&str` names, `profile_format const` with `Name`s
//! checked at compile time.
use std::hint::black_box;

use linewire::{Batch, Name};

fn main() {
    let consts = std::env::args().nth(1).as_deref() == Some("const");
    let mut batch = Batch::<512>::new();
    for _ in 0..100_000 {
        batch.clear();
        if consts {
            const N: [Name; 12] = [
                Name::new("weather"),
                Name::new("location"),
                Name::new("us-midwest"),
                Name::new("station"),
                Name::new("KORD"),
                Name::new("sensor"),
                Name::new("bme280"),
                Name::new("temperature"),
                Name::new("humidity"),
                Name::new("pressure"),
                Name::new("ok"),
                Name::new("note"),
            ];
            batch
                .point(black_box(N[0]))
                .and_then(|p| p.tag(N[1], black_box(N[2])))
                .and_then(|p| p.tag(N[3], N[4]))
                .and_then(|p| p.tag(N[5], N[6]))
                .and_then(|p| p.field(N[7], black_box(82.5)))
                .and_then(|p| p.field(N[8], black_box(71i64)))
                .and_then(|p| p.field(N[9], 1013.25))
                .and_then(|p| p.field(N[10], true))
                .and_then(|p| p.field(N[11], "clear sky"))
                .and_then(|p| p.timestamp(black_box(1_465_839_830_100_400_200)))
                .expect("canonical point");
        } else {
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
        }
        black_box(batch.as_bytes());
    }
}
