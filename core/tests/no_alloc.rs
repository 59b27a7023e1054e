//! Formatting points must not touch the heap: a counting global allocator
//! sees every allocation made while points are written.

mod counting_alloc;

use counting_alloc::{allocations, Counting};
use linewire::{Batch, DefaultTags, PointError, Precision};

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn formatting_points_allocates_nothing() {
    // Everything, including the test's own setup, lives on the stack.
    let mut defaults = DefaultTags::<64>::new();
    let mut batch = Batch::<8192>::with_precision(Precision::Milliseconds).sort_tags(true);
    let before = allocations();

    defaults.add("device", "esp32 #7").unwrap();
    let mut refused = 0;
    for i in 0..40i64 {
        let result: Result<(), PointError> = batch
            .point_with(&defaults, "weather")
            .and_then(|p| p.tag("station", "KORD"))
            .and_then(|p| p.tag("location", "us,midwest"))
            .and_then(|p| p.field("temperature", 82.5 + i as f64 / 3.0))
            .and_then(|p| p.field("humidity", 71 + i))
            .and_then(|p| p.field("count", i as u64))
            .and_then(|p| p.field("ok", i % 2 == 0))
            .and_then(|p| p.field("note", "clear \"sky\""))
            .and_then(|p| p.field("note", "duplicate"))
            .and_then(|p| p.timestamp(1_465_839_830_100 + i));
        refused += usize::from(result.is_err());
        batch
            .point_with(&defaults, "weather")
            .and_then(|p| p.tag("station", "KORD"))
            .and_then(|p| p.field("temperature", 82.5 + i as f64 / 3.0))
            .and_then(|p| p.field("note", "clear \"sky\""))
            .and_then(|p| p.timestamp(1_465_839_830_100 + i))
            .unwrap();
    }
    let lines = batch.lines().count();
    batch.remove_first_lines(10);

    let after = allocations();
    assert_eq!(refused, 40);
    assert_eq!(lines, 40);
    assert_eq!(after - before, 0, "allocations while formatting");
}

#[test]
fn the_counter_sees_allocations() {
    counting_alloc::assert_the_counter_counts();
}
