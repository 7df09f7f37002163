//! The binary's global allocator (feature `jemalloc`, on by default; `src/main.rs` installs
//! it): small blocks from jemalloc, large ones from the system's allocator.
//!
//! Why split by size (docs/speed-rounds.md, fifteenth round, has the figures): a worker
//! makes many small allocations per message (header values past their inline 24 bytes,
//! field lists, transactions, the causal window's bookkeeping), which jemalloc's thread
//! caches serve in fewer instructions than glibc's malloc (the worker 4-10% cheaper in CPU
//! on the bench captures). With jemalloc for every size, the processor thread writing HAR
//! got 5-10% slower and peak RSS grew by 4-12 MiB: its entry buffers (hundreds of KiB
//! each, one per entry) went through jemalloc's extents, whose freed pages are given back
//! and faulted in again (half as many page faults again as with glibc). glibc keeps those
//! in its heap. So blocks up to `SMALL_MAX` go to jemalloc and larger ones to the system.
//!
//! Sound because Rust hands `dealloc` and `realloc` the layout the block was allocated with
//! (`GlobalAlloc`'s contract): the size alone says which allocator owns a block. A
//! `realloc` across `SMALL_MAX` moves the block from one allocator to the other (a copy,
//! once per buffer that grows past it).
//!
//! What it risks: a dependency that frees a block with another size than it allocated it
//! with (already undefined behaviour, which glibc's `free` tolerates, since it ignores the
//! size) would hand the block to the wrong allocator when the two sizes lie on either side
//! of `SMALL_MAX`. An independent review of the dependencies that rebuild allocations
//! (zlib-rs, compact_str, brotli, vsimd) found none; C libraries (libpcap, zstd) allocate
//! and free with glibc's `malloc`, which jemalloc's prefixed symbols leave alone.
//!
//! What it does not do: change what httshark charges to `-memory-limit` (capacities, not
//! the allocator's pages), or apply to the library's own unit tests and the fuzz targets,
//! which keep the system's allocator.

use std::alloc::{GlobalAlloc, Layout, System};

use tikv_jemallocator::Jemalloc;

/// Largest block served by jemalloc, 16 KiB: its small size classes end at 14 KiB and its
/// thread caches hold blocks up to 32 KiB; an HTTP head, a field list or a transaction fits,
/// a body or a HAR entry of a large response does not.
pub const SMALL_MAX: usize = 16 * 1024;

/// The allocator: jemalloc up to `SMALL_MAX` bytes, the system's above.
pub struct SplitAllocator;

fn small(size: usize) -> bool {
    size <= SMALL_MAX
}

// SAFETY: every block is allocated, grown, shrunk and freed by the allocator its size
// selects, and `GlobalAlloc` callers pass the size the block has (module docs); both
// allocators uphold `GlobalAlloc`'s contract for any layout.
unsafe impl GlobalAlloc for SplitAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if small(layout.size()) {
            Jemalloc.alloc(layout)
        } else {
            System.alloc(layout)
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if small(layout.size()) {
            Jemalloc.alloc_zeroed(layout)
        } else {
            System.alloc_zeroed(layout)
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if small(layout.size()) {
            Jemalloc.dealloc(ptr, layout)
        } else {
            System.dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (small(layout.size()), small(new_size)) {
            (true, true) => Jemalloc.realloc(ptr, layout, new_size),
            (false, false) => System.realloc(ptr, layout, new_size),
            _ => {
                // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`,
                // does not overflow `isize` (`GlobalAlloc::realloc`).
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new_ptr = self.alloc(new_layout);
                if !new_ptr.is_null() {
                    // SAFETY: both blocks are valid for the smaller size and distinct.
                    std::ptr::copy_nonoverlapping(ptr, new_ptr, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new_ptr
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fills `len` bytes at `p` with a pattern that depends on the position.
    unsafe fn fill(p: *mut u8, len: usize) {
        for i in 0..len {
            p.add(i).write((i % 251) as u8);
        }
    }

    unsafe fn holds_pattern(p: *const u8, len: usize) -> bool {
        (0..len).all(|i| p.add(i).read() == (i % 251) as u8)
    }

    #[test]
    fn blocks_of_every_size_class_round_trip() {
        let a = SplitAllocator;
        for &size in &[
            1,
            24,
            4096,
            SMALL_MAX - 1,
            SMALL_MAX,
            SMALL_MAX + 1,
            1 << 20,
        ] {
            for &align in &[1, 8, 64, 4096] {
                let layout = Layout::from_size_align(size, align).unwrap();
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null(), "{size} bytes aligned {align}");
                    assert_eq!(p as usize % align, 0, "{size} bytes aligned {align}");
                    fill(p, size);
                    assert!(holds_pattern(p, size));
                    a.dealloc(p, layout);
                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null());
                    assert!(
                        (0..size).all(|i| z.add(i).read() == 0),
                        "{size}: not zeroed"
                    );
                    a.dealloc(z, layout);
                }
            }
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_within_and_across_the_split() {
        let a = SplitAllocator;
        // Grow from small to large in steps that cross SMALL_MAX, then shrink back.
        let sizes = [16, 1000, SMALL_MAX, SMALL_MAX + 1, 3 * SMALL_MAX, 1 << 20];
        for &align in &[1, 16, 256] {
            unsafe {
                let mut layout = Layout::from_size_align(sizes[0], align).unwrap();
                let mut p = a.alloc(layout);
                fill(p, layout.size());
                for &next in sizes[1..].iter().chain(sizes.iter().rev()) {
                    let kept = layout.size().min(next);
                    p = a.realloc(p, layout, next);
                    assert!(!p.is_null(), "{} -> {next}", layout.size());
                    assert_eq!(p as usize % align, 0, "{} -> {next}", layout.size());
                    assert!(holds_pattern(p, kept), "{} -> {next}", layout.size());
                    layout = Layout::from_size_align(next, align).unwrap();
                    fill(p, next);
                }
                a.dealloc(p, layout);
            }
        }
    }
}
