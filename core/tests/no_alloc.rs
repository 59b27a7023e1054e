//! Formatting points must not touch the heap: a counting global allocator
//! sees every allocation made while points are written.

mod counting_alloc;

use counting_alloc::{allocations, Counting};
use linewire::{check_line, Batch, DefaultTags, PointError, Precision};

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
fn checking_lines_allocates_nothing() {
    use core::fmt::Write as _;
    /// A fixed buffer for the messages.
    struct Sink([u8; 512], usize);
    impl core::fmt::Write for Sink {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(core::fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let lines = [
        "weather,station=KORD,loc=us\\,midwest temperature=82.5,n=3i,u=4u,ok=t,s=\"a \\\"b\\\"\" 1000",
        "m v=1,v=2",
        "m,k=1,k=2 v=1",
        "m v=NaN",
        "m v=1e999",
        "m s=\"open",
        "_m v=1",
        "m v=1 99999999999999999999",
        "m v=oops",
    ];
    let mut sink = Sink([0; 512], 0);
    let before = allocations();
    let mut refused = 0;
    for _ in 0..10 {
        for line in lines {
            for precision in Precision::ALL {
                if let Err(e) = check_line(line, precision) {
                    refused += 1;
                    sink.1 = 0;
                    write!(sink, "{e}").unwrap();
                }
            }
        }
    }
    let after = allocations();
    assert_eq!(refused, 10 * 8 * 6);
    assert_eq!(after - before, 0, "allocations while checking lines");
}

#[test]
fn the_counter_sees_allocations() {
    counting_alloc::assert_the_counter_counts();
}
