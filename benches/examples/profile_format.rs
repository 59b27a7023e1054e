//! Formats the canonical point in a loop, for `valgrind --tool=callgrind`:
//! `profile_format` with `&str` names, `profile_format const` with `Name`s
//! checked at compile time. `opaque` and `opaque-const` hide every value
//! (and, with `&str` names, every name) from the optimiser with
//! `black_box`, as values read from a sensor at run time are: the
//! criterion bench's literals let the inlined builder steps check and
//! format some of them at compile time.
use std::hint::black_box;

use linewire::Batch;
use linewire_benches::{linewire_const_names, linewire_point, opaque, opaque_const_names, LINE};

fn main() {
    let format: fn(&mut Batch<512>) = match std::env::args().nth(1).as_deref() {
        None => linewire_point,
        Some("const") => linewire_const_names,
        Some("opaque") => opaque,
        Some("opaque-const") => opaque_const_names,
        Some(other) => panic!("unknown mode {other}: const, opaque or opaque-const"),
    };
    let mut batch = Batch::<512>::new();
    for _ in 0..100_000 {
        format(&mut batch);
        black_box(batch.as_bytes());
    }
    assert_eq!(batch.as_str(), LINE);
}
