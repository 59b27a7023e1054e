//! The memory cost of gzip, measured with a counting allocator: the peak
//! heap above the input during one `gzip` call.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

thread_local! {
    // Only the measuring thread counts: the test harness's own threads
    // allocate too, at times of their choosing.
    static MEASURED: Cell<bool> = const { Cell::new(false) };
}

fn measured() -> bool {
    MEASURED.try_with(Cell::get).unwrap_or(false)
}
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !measured() {
            // SAFETY: forwarded.
            return unsafe { System.alloc(layout) };
        }
        let now = CURRENT.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(now, Ordering::SeqCst);
        // SAFETY: same layout, forwarded.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !measured() {
            // SAFETY: forwarded.
            return unsafe { System.dealloc(ptr, layout) };
        }
        CURRENT.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        if !measured() {
            // SAFETY: forwarded.
            return unsafe { System.realloc(ptr, layout, new) };
        }
        if new > layout.size() {
            let now =
                CURRENT.fetch_add(new - layout.size(), Ordering::SeqCst) + new - layout.size();
            PEAK.fetch_max(now, Ordering::SeqCst);
        } else {
            CURRENT.fetch_sub(layout.size() - new, Ordering::SeqCst);
        }
        // SAFETY: forwarded.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

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
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    MEASURED.with(|m| m.set(true));
    let gz = linewire_std::gzip::gzip(body.as_bytes(), linewire_std::gzip::DEFAULT_LEVEL);
    MEASURED.with(|m| m.set(false));
    let peak = PEAK.load(Ordering::SeqCst) - base;
    let after = CURRENT.load(Ordering::SeqCst).wrapping_sub(base);
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
