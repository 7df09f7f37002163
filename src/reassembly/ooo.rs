//! The out-of-order buffer of one direction: bytes received ahead of the next expected
//! byte, as non-overlapping chunks keyed by their absolute stream offset.
//!
//! What it does not do: decide policy. It never overwrites a byte it holds (the caller
//! implements "first copy wins" by inserting only into holes), never delivers, and never
//! grows past the limits the caller checks with `can_insert`.
//!
//! Invariants (checked by `debug_assert!` in `check`):
//! - chunks never overlap and are never empty;
//! - `bytes` is the sum of the chunk lengths.
//!
//! Cost: a segment that lands right after a chunk is appended to it (amortised O(len), the
//! common case of one hole followed by a run of segments); any other segment becomes its
//! own chunk. Chunks are never concatenated with each other, so no byte is ever copied
//! twice: insertion is O(len + log chunks), never quadratic, whatever the arrival order.

use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(crate) struct OooBuffer {
    /// start offset -> bytes. `BTreeMap::new` does not allocate: an idle direction costs
    /// only the map header.
    chunks: BTreeMap<u64, Vec<u8>>,
    bytes: usize,
    /// Sum of the chunks' allocated capacities (what the memory budget charges).
    capacity: usize,
}

/// Bookkeeping charged per chunk on top of its bytes: the B-tree slot and `Vec` header.
const CHUNK_OVERHEAD: usize = 64;

impl OooBuffer {
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Chunks held (what `max_ooo_segments_per_direction` bounds).
    #[cfg(test)]
    pub(crate) fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Heap memory held, for the memory budget: chunk capacities plus bookkeeping.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.capacity + self.chunks.len() * CHUNK_OVERHEAD
    }

    /// Offset of the first byte held.
    pub(crate) fn first_start(&self) -> Option<u64> {
        self.chunks.keys().next().copied()
    }

    /// Offset just past the last byte held.
    pub(crate) fn last_end(&self) -> Option<u64> {
        let (start, bytes) = self.chunks.iter().next_back()?;
        Some(start + bytes.len() as u64)
    }

    /// The chunk holding offset `off`, as `(start, end)`.
    pub(crate) fn containing(&self, off: u64) -> Option<(u64, u64)> {
        let (&start, data) = self.chunks.range(..=off).next_back()?;
        let end = start + data.len() as u64;
        (off < end).then_some((start, end))
    }

    /// Start of the first chunk that begins at or after `off`.
    pub(crate) fn next_start_from(&self, off: u64) -> Option<u64> {
        self.chunks.range(off..).next().map(|(&s, _)| s)
    }

    /// Whether `len` bytes at `off` (a hole: no chunk holds any of them) fit within the
    /// limits: `max_bytes` in all, `max_chunks` chunks.
    pub(crate) fn can_insert(
        &self,
        off: u64,
        len: usize,
        max_bytes: usize,
        max_chunks: usize,
    ) -> bool {
        if self.bytes.saturating_add(len) > max_bytes {
            return false;
        }
        self.appends_to(off).is_some() || self.chunks.len() < max_chunks
    }

    /// The chunk that ends exactly at `off`, if any.
    fn appends_to(&self, off: u64) -> Option<u64> {
        let (&start, data) = self.chunks.range(..off).next_back()?;
        (start + data.len() as u64 == off).then_some(start)
    }

    /// Stores `data` at `off`. The caller guarantees that no chunk holds any of these bytes
    /// and that `can_insert` said yes.
    pub(crate) fn insert(&mut self, off: u64, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        debug_assert!(self.containing(off).is_none());
        debug_assert!(self
            .next_start_from(off)
            .is_none_or(|n| n >= off + data.len() as u64));
        match self.appends_to(off) {
            Some(start) => {
                if let Some(chunk) = self.chunks.get_mut(&start) {
                    let before = chunk.capacity();
                    chunk.extend_from_slice(data);
                    self.capacity += chunk.capacity() - before;
                }
            }
            None => {
                let chunk = data.to_vec();
                self.capacity += chunk.capacity();
                self.chunks.insert(off, chunk);
            }
        }
        self.bytes += data.len();
        self.check();
    }

    /// Number of bytes of `data` (which lies at `off`, inside one chunk) that differ from
    /// the bytes held.
    pub(crate) fn count_differences(&self, off: u64, data: &[u8]) -> u64 {
        let Some((&start, chunk)) = self.chunks.range(..=off).next_back() else {
            return 0;
        };
        let from = (off - start) as usize;
        let held = chunk.get(from..).unwrap_or(&[]);
        held.iter().zip(data).filter(|(a, b)| a != b).count() as u64
    }

    /// Removes and returns the first chunk if it starts at `off`.
    pub(crate) fn pop_at(&mut self, off: u64) -> Option<Vec<u8>> {
        let first = self.chunks.first_entry()?;
        if *first.key() != off {
            return None;
        }
        let data = first.remove();
        self.bytes -= data.len();
        self.capacity -= data.capacity();
        self.check();
        Some(data)
    }

    fn check(&self) {
        #[cfg(debug_assertions)]
        {
            let mut end = 0u64;
            let mut sum = 0usize;
            let mut cap = 0usize;
            for (i, (&s, d)) in self.chunks.iter().enumerate() {
                cap += d.capacity();
                debug_assert!(!d.is_empty(), "empty chunk");
                debug_assert!(i == 0 || s >= end, "overlapping chunks");
                end = s + d.len() as u64;
                sum += d.len();
            }
            debug_assert_eq!(sum, self.bytes);
            debug_assert_eq!(cap, self.capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_adjacent_and_keeps_prepends_separate() {
        let mut b = OooBuffer::default();
        b.insert(10, b"abc");
        b.insert(13, b"de");
        assert_eq!(b.chunks(), 1);
        assert_eq!(b.containing(14), Some((10, 15)));
        b.insert(5, b"01234");
        assert_eq!(
            b.chunks(),
            2,
            "a prepend is not copied into the later chunk"
        );
        assert_eq!(b.bytes(), 10);
        assert_eq!(b.first_start(), Some(5));
        assert_eq!(b.next_start_from(6), Some(10));
        assert_eq!(b.pop_at(10), None);
        assert_eq!(b.pop_at(5).as_deref(), Some(&b"01234"[..]));
        assert_eq!(b.pop_at(10).as_deref(), Some(&b"abcde"[..]));
        assert!(b.is_empty());
        assert_eq!(b.bytes(), 0);
    }

    #[test]
    fn limits_and_differences() {
        let mut b = OooBuffer::default();
        assert!(b.can_insert(0, 4, 4, 1));
        assert!(!b.can_insert(0, 5, 4, 1));
        b.insert(0, b"ab");
        assert!(b.can_insert(2, 2, 4, 1), "appending needs no new chunk");
        assert!(
            !b.can_insert(3, 1, 4, 1),
            "a second chunk is over the chunk limit"
        );
        assert_eq!(
            b.count_differences(1, b"bX"),
            0,
            "only held bytes are compared"
        );
        assert_eq!(b.count_differences(0, b"xb"), 1);
        assert_eq!(b.containing(2), None);
    }
}
