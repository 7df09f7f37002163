//! Bytes of one direction already delivered but not yet acknowledged by the peer, kept so
//! that a later copy of them (a retransmission) can be compared with the copy delivered.
//!
//! Why: bytes are delivered as soon as they are in order, so without this a retransmission
//! carrying different bytes for a delivered range (an evasion: the sniffer saw one copy,
//! the receiving host may keep the other, by its OS's overlap policy) passes unnoticed.
//! A receiver never needs a byte it has acknowledged, so the peer's ACK releases them
//! (Zeek's `rexmit_inconsistency` and Suricata's "check-overlap-different-data" keep
//! unacknowledged segments the same way).
//!
//! Policy: one contiguous range `[from, from + bytes.len())` of the oldest unacknowledged
//! bytes, at most `limit` of them. Retransmissions start at the oldest unacknowledged
//! byte (RFC 6298: the retransmission timer resends SND.UNA first), so when the limit is
//! reached the oldest bytes are the ones kept: bytes delivered after that are not kept
//! (`retained_limit_hits`) until the ACKs release the whole range, and the range restarts
//! at the next byte delivered. A gap breaks the range the same way.
//!
//! What it does not do: decide anything. The caller compares, counts and reports.

use std::collections::VecDeque;

/// Most delivered-but-unacknowledged bytes kept per direction for comparison with later
/// copies (`ReassemblyLimits::max_retained_bytes_per_direction`'s default). 256 KiB: a
/// bandwidth-delay product of 20 Mbit/s at 100 ms; beyond it later copies are compared
/// only once the ACKs catch up (counted as `retained_limit_hits`).
pub const MAX_RETAINED_BYTES_PER_DIRECTION: usize = 256 * 1024;

/// A released range's allocation is kept only up to this capacity: an idle direction
/// does not hold a large buffer between bursts.
const KEEP_CAPACITY: usize = 4096;

#[derive(Debug, Default)]
pub(crate) struct Retained {
    /// Stream offset of `bytes[0]`.
    from: u64,
    bytes: VecDeque<u8>,
    /// The limit stopped the range: bytes delivered since were not kept.
    full: bool,
    /// The most bytes kept at once since the range started (the next range's first
    /// reservation: `with_hint`).
    high: usize,
    /// Bytes to reserve when an empty range starts (the previous range's `high`): a
    /// direction that sends bursts of a similar size then grows its buffer once instead
    /// of doubling from nothing each time (a tenth of the reassembly's copying).
    hint: usize,
}

/// What comparing a later copy with the retained bytes found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Difference {
    /// Stream offset of the first differing byte.
    pub first: u64,
    /// Stream offset just past the last differing byte.
    pub end: u64,
    /// Differing bytes.
    pub count: u64,
}

impl Retained {
    /// Offset just past the last byte kept.
    fn end(&self) -> u64 {
        self.from + self.bytes.len() as u64
    }

    /// An empty range that reserves `hint` bytes when its first bytes come.
    pub(crate) fn with_hint(hint: usize) -> Retained {
        Retained {
            hint,
            ..Retained::default()
        }
    }

    /// The most bytes kept at once since the range started.
    pub(crate) fn high(&self) -> usize {
        self.high.max(self.bytes.len())
    }

    /// What the next range reserves: once all is released, the last range's `high` (for
    /// `with_hint`, when the owner drops this value between bursts).
    pub(crate) fn hint(&self) -> usize {
        self.hint
    }

    /// Bytes kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Heap memory held (charged to the memory budget).
    pub(crate) fn mem_bytes(&self) -> usize {
        self.bytes.capacity()
    }

    /// `data` was delivered at stream offset `off`. Kept when it continues the range (or
    /// the range is empty) and within `limit`. Returns true when this delivery reached the
    /// limit (once per range: the count of `retained_limit_hits`).
    pub(crate) fn push(&mut self, off: u64, data: &[u8], limit: usize) -> bool {
        if self.bytes.is_empty() {
            self.from = off;
        } else if self.full || self.end() != off {
            // Not contiguous (a gap, or bytes skipped at the limit): wait for the release.
            return false;
        }
        let room = limit.saturating_sub(self.bytes.len());
        let take = data.len().min(room);
        if self.bytes.is_empty() && self.bytes.capacity() < take {
            self.bytes
                .reserve_exact(self.hint.clamp(take, limit.max(take)));
        }
        self.bytes.extend(data.get(..take).unwrap_or_default());
        self.high = self.high.max(self.bytes.len());
        if take < data.len() {
            self.full = true;
            return true;
        }
        false
    }

    /// The peer acknowledged everything before offset `acked`: those bytes go. Returns
    /// true when nothing is left (the caller may then drop the whole allocation).
    pub(crate) fn release_to(&mut self, acked: u64) -> bool {
        if acked >= self.end() {
            self.clear();
        } else if acked > self.from {
            let n = usize::try_from(acked - self.from).unwrap_or(usize::MAX);
            self.bytes.drain(..n);
            self.from = acked;
        }
        self.bytes.is_empty()
    }

    /// Drops every byte kept (memory budget, retention turned off, or all acknowledged).
    pub(crate) fn clear(&mut self) {
        self.hint = self.high();
        self.high = 0;
        self.bytes.clear();
        if self.bytes.capacity() > KEEP_CAPACITY {
            self.bytes = VecDeque::new();
        }
        self.full = false;
    }

    /// Compares `data`, a later copy of bytes starting at signed stream offset `start`,
    /// with the bytes kept where they overlap. `None` when nothing overlaps or nothing
    /// differs (identical copies cost one `memcmp`).
    pub(crate) fn compare(&self, start: i64, data: &[u8]) -> Option<Difference> {
        let data_end = start.saturating_add(i64::try_from(data.len()).ok()?);
        let lo = start.max(i64::try_from(self.from).ok()?);
        let hi = data_end.min(i64::try_from(self.end()).ok()?);
        if lo >= hi {
            return None;
        }
        let copy =
            data.get(usize::try_from(lo - start).ok()?..usize::try_from(hi - start).ok()?)?;
        let from = usize::try_from(lo).ok()? - usize::try_from(self.from).ok()?;
        // The deque's two slices, cut to `from..from + copy.len()`.
        let (s1, s2) = self.bytes.as_slices();
        let a = s1.get(from.min(s1.len())..).unwrap_or_default();
        let a = a.get(..copy.len().min(a.len())).unwrap_or_default();
        let b_from = from.saturating_sub(s1.len());
        let b = s2
            .get(b_from..b_from + (copy.len() - a.len()))
            .unwrap_or_default();
        let (ca, cb) = copy.split_at(a.len());
        if a == ca && b == cb {
            return None;
        }
        let lo = u64::try_from(lo).ok()?;
        let mut diff: Option<Difference> = None;
        for (i, (x, y)) in a.iter().chain(b).zip(copy).enumerate() {
            if x != y {
                let at = lo + i as u64;
                let d = diff.get_or_insert(Difference {
                    first: at,
                    end: at,
                    count: 0,
                });
                d.end = at + 1;
                d.count += 1;
            }
        }
        diff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_oldest_contiguous_range_within_the_limit() {
        let mut r = Retained::default();
        assert!(!r.push(10, b"abcd", 6));
        assert!(r.push(14, b"efgh", 6), "the limit is reached");
        assert_eq!(r.len(), 6);
        assert!(!r.push(18, b"ij", 6), "counted once per range");
        assert_eq!(r.len(), 6);
        r.release_to(12);
        assert_eq!(r.len(), 4, "released from the front");
        assert!(!r.push(20, b"kl", 6), "still stopped until all is released");
        assert_eq!(r.len(), 4);
        r.release_to(100);
        assert_eq!(r.len(), 0);
        assert!(!r.push(20, b"kl", 6));
        assert_eq!(r.len(), 2, "restarts after the release");
    }

    #[test]
    fn a_new_range_reserves_what_the_last_one_reached() {
        let mut r = Retained::default();
        for i in 0..40u64 {
            r.push(i * 100, &[7; 100], 1 << 20);
        }
        assert_eq!(r.high(), 4000);
        r.release_to(4000);
        assert_eq!(r.len(), 0);
        assert_eq!(
            r.mem_bytes(),
            0,
            "a large buffer is not kept between ranges"
        );
        r.push(4000, &[7; 100], 1 << 20);
        assert!(r.mem_bytes() >= 4000, "reserved at once: {}", r.mem_bytes());
        // As the owner does when it drops the whole value between bursts.
        r.release_to(4100);
        assert_eq!(r.hint(), 100, "the last range reached 100");
        let mut again = Retained::with_hint(4000);
        again.push(0, b"x", 1 << 20);
        assert!(again.mem_bytes() >= 4000);
        // Never beyond the limit.
        let mut small = Retained::with_hint(1 << 20);
        small.push(0, b"abc", 10);
        assert!(small.mem_bytes() < 1 << 20);
    }

    #[test]
    fn a_gap_breaks_the_range() {
        let mut r = Retained::default();
        r.push(0, b"abc", 100);
        r.push(5, b"fg", 100);
        assert_eq!(r.len(), 3);
        assert_eq!(r.compare(5, b"XY"), None, "bytes not kept are not compared");
    }

    #[test]
    fn compares_only_where_it_overlaps() {
        let mut r = Retained::default();
        r.push(100, b"hello world", 1000);
        assert_eq!(r.compare(100, b"hello world"), None);
        assert_eq!(r.compare(90, b"0123456789hello"), None, "before the range");
        assert_eq!(
            r.compare(104, b"oXwoYlZZZ"),
            Some(Difference {
                first: 105,
                end: 111,
                count: 3
            })
        );
        assert_eq!(r.compare(-5, b"abc"), None);
        // Across the deque's wrap point.
        r.release_to(106);
        r.push(111, b"!!!!!!", 1000);
        assert_eq!(
            r.compare(108, b"rld!?!"),
            Some(Difference {
                first: 112,
                end: 113,
                count: 1
            })
        );
    }
}
