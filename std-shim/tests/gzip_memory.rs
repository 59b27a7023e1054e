//! The memory cost of gzip, measured with a counting allocator: the peak
//! heap above the input during one `gzip` call.

#[path = "../../core/tests/counting_alloc/mod.rs"]
mod counting_alloc;

use counting_alloc::{held_bytes, peak_bytes, reset_peak, Counting};

#[global_allocator]
static ALLOC: Counting = Counting;

#[test]
fn gzip_peak_heap_is_the_compressor_state_plus_the_output() {
    let body: String = (0..20_000)
        .map(|i| {
            format!(
                "cpu,host=h{},core={} usage={}.25 {}\n",
                i % 13,
                i % 8,
                i % 1000,
                1_700_000_000 + i
            )
        })
        .collect();
    let base = held_bytes();
    reset_peak();
    let gz = linewire_std::gzip::gzip(body.as_bytes(), linewire_std::gzip::DEFAULT_LEVEL);
    let peak = peak_bytes() - base;
    let after = held_bytes().wrapping_sub(base);
    // miniz_oxide reserves half the input for its output first, then
    // allocates its compressor state.
    let state = peak.saturating_sub(body.len() / 2);
    eprintln!(
        "input {} B, output {} B, peak {} B, compressor state {} KiB",
        body.len(),
        gz.len(),
        peak,
        state / 1024
    );
    assert!((200 * 1024..300 * 1024).contains(&state), "state {state}");
    // Freed afterwards: only the output remains.
    assert!(after <= gz.capacity() + 64, "{after}");
}
