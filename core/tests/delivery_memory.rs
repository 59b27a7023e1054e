//! Memory of the delivery path, as `size_of` reports it, checked against
//! the figures in the `writer` module docs. The 32-bit figures were read
//! from `size_of` in a build for thumbv7em-none-eabihf (a `const` array
//! length mismatch prints them); this test checks whichever pointer width
//! it runs on.
//!
//! Run with `--nocapture` to print the report.

use core::mem::size_of;

use linewire::{Batch, DefaultTags, Queue, Stats, Writer, XorShift32};

#[test]
fn batch_overhead_is_a_few_words() {
    let batch = size_of::<Batch<4096>>() - 4096;
    let defaults = size_of::<DefaultTags<64>>() - 64;
    println!("Batch<N>: N + {batch} B; DefaultTags<N>: N + {defaults} B");
    assert_eq!(size_of::<Batch<64>>() - 64, batch);
    // Three lengths and the precision/sorting settings (README "Memory").
    let word = size_of::<usize>();
    assert_eq!(batch, 4 * word);
    assert_eq!(defaults, 2 * word);
}

#[test]
fn size_report() {
    let queue = size_of::<Queue<16384>>() - 16384;
    let writer = size_of::<Writer<'static, 16384, XorShift32>>() - 16384;
    let response_buffer = 1024;
    println!(
        "Queue<N>: N + {queue} B; Writer<N>: N + {writer} B (Stats {} B); \
         response buffer {response_buffer} B; 16 KiB queue total: {} B",
        size_of::<Stats>(),
        16384 + writer + response_buffer
    );
    // The overhead does not grow with N.
    assert_eq!(
        size_of::<Queue<64>>() - 64,
        size_of::<Queue<65536>>() - 65536
    );
    assert_eq!(
        size_of::<Writer<'static, 64, XorShift32>>() - 64,
        size_of::<Writer<'static, 65536, XorShift32>>() - 65536
    );
    if cfg!(target_pointer_width = "64") {
        // The figures in the module docs of `writer`.
        assert_eq!(queue, 64);
        assert_eq!(writer, 552);
    } else if cfg!(target_pointer_width = "32") {
        assert_eq!(queue, 48);
        assert_eq!(writer, 400);
    }
}
