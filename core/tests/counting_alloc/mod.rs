//! A global allocator that counts the allocations of the current thread, so
//! a test can show that a code path touches no heap, and the bytes it holds,
//! so a test can measure a peak. Per thread, so the test harness and tests
//! running in parallel do not count. Also used by `std-shim/tests`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Install with `#[global_allocator] static GLOBAL: Counting = Counting;`.
pub struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    // Bytes allocated minus bytes freed by this thread, and the highest
    // that has been since `reset_peak`. Wrapping: a thread may free what
    // another allocated.
    static HELD: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

// `try_with`: the slots may be gone while a thread is being torn down.
fn count(grown: usize, shrunk: usize) {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + usize::from(grown > 0)));
    let _ = HELD.try_with(|h| {
        let now = h.get().wrapping_add(grown).wrapping_sub(shrunk);
        h.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

/// Allocations (and reallocations) made by this thread so far.
#[allow(dead_code)]
pub fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Bytes this thread holds now.
#[allow(dead_code)]
pub fn held_bytes() -> usize {
    HELD.with(Cell::get)
}

/// Starts a new peak at the bytes held now.
#[allow(dead_code)]
pub fn reset_peak() {
    PEAK.with(|p| p.set(held_bytes()));
}

/// The most bytes this thread held since [`reset_peak`].
#[allow(dead_code)]
pub fn peak_bytes() -> usize {
    PEAK.with(Cell::get)
}

/// Guards a no-allocation test against a counter that never counts.
#[allow(dead_code)]
pub fn assert_the_counter_counts() {
    let before = allocations();
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(16));
    drop(v);
    assert!(allocations() > before);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size(), 0);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Counted as an allocation even when it shrinks.
        count(new_size.max(1), layout.size());
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
