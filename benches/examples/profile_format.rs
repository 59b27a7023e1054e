//! Formats the canonical point in a loop, for `valgrind --tool=callgrind`:
//! `profile_format` with `&str` names, `profile_format const` with `Name`s
//! checked at compile time.
use std::hint::black_box;

use linewire::Batch;
use linewire_benches::{linewire_const_names, linewire_point};

fn main() {
    let consts = std::env::args().nth(1).as_deref() == Some("const");
    let mut batch = Batch::<512>::new();
    for _ in 0..100_000 {
        if consts {
            linewire_const_names(&mut batch);
        } else {
            linewire_point(&mut batch);
        }
        black_box(batch.as_bytes());
    }
}
