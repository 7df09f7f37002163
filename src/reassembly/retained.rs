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

use super::window::position_in;

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
    /// Stream offset of the first byte kept.
    from: u64,
    /// The range's first bytes, copied.
    bytes: VecDeque<u8>,
    /// The range's later bytes, still in the worker's batch of frames: `(position in the
    /// batch, length)` of each piece, in order, after `bytes`. They are copied into `bytes`
    /// when the batch ends (`detach`), so bytes acknowledged within their batch (most of
    /// them) are never copied.
    in_batch: Vec<(usize, usize)>,
    /// Bytes in `in_batch`.
    in_batch_len: usize,
    /// The limit given to `push` (what `detach` reserves at most).
    limit: usize,
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
    /// Bytes kept (copied or in the batch).
    pub(crate) fn len(&self) -> usize {
        self.bytes.len() + self.in_batch_len
    }

    /// Offset just past the last byte kept.
    fn end(&self) -> u64 {
        self.from + self.len() as u64
    }

    /// An empty range that reserves `hint` bytes when its first bytes are copied.
    pub(crate) fn with_hint(hint: usize) -> Retained {
        Retained {
            hint,
            ..Retained::default()
        }
    }

    /// The most bytes kept at once since the range started.
    pub(crate) fn high(&self) -> usize {
        self.high.max(self.len())
    }

    /// What the next range reserves: once all is released, the last range's `high` (for
    /// `with_hint`, when the owner drops this value between bursts).
    pub(crate) fn hint(&self) -> usize {
        self.hint
    }

    /// Memory charged to the budget: the copy's allocation, and the bytes still in the
    /// batch, which become a copy if the batch ends before their ACK.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.in_batch_len
            + self.in_batch.capacity() * std::mem::size_of::<(usize, usize)>()
    }

    /// Whether some bytes kept are still in the batch (`detach` is due at its end).
    pub(crate) fn in_batch(&self) -> bool {
        !self.in_batch.is_empty()
    }

    /// `data` was delivered at stream offset `off`. Kept when it continues the range (or
    /// the range is empty) and within `limit`: by its place when it lies in `batch` (the
    /// worker's batch of frames, until `detach`), else copied. Returns true when this
    /// delivery reached the limit (once per range: the count of `retained_limit_hits`).
    pub(crate) fn push(&mut self, off: u64, data: &[u8], limit: usize, batch: &[u8]) -> bool {
        if self.len() == 0 {
            self.from = off;
        } else if self.full || self.end() != off {
            // Not contiguous (a gap, or bytes skipped at the limit): wait for the release.
            return false;
        }
        self.limit = limit;
        let room = limit.saturating_sub(self.len());
        let take = data.len().min(room);
        let kept = data.get(..take).unwrap_or_default();
        if !kept.is_empty() {
            match position_in(batch, kept) {
                Some(at) => {
                    match self.in_batch.last_mut() {
                        Some((a, l)) if *a + *l == at => *l += take,
                        _ => self.in_batch.push((at, take)),
                    }
                    self.in_batch_len += take;
                }
                None => {
                    // Copied bytes follow the pieces: those are copied first.
                    self.detach(batch);
                    self.copy(kept);
                }
            }
        }
        self.high = self.high.max(self.len());
        if take < data.len() {
            self.full = true;
            return true;
        }
        false
    }

    /// Appends `bytes` to the copy.
    fn copy(&mut self, bytes: &[u8]) {
        self.reserve(bytes.len());
        self.bytes.extend(bytes);
    }

    /// Before `n` bytes are copied: when the copy starts, the hint is reserved at once.
    fn reserve(&mut self, n: usize) {
        if self.bytes.is_empty() && self.bytes.capacity() < n {
            self.bytes
                .reserve_exact(self.hint.clamp(n, self.limit.max(n)));
        }
    }

    /// The batch `push` was given goes: the pieces still in it are copied.
    pub(crate) fn detach(&mut self, batch: &[u8]) {
        if self.in_batch.is_empty() {
            return;
        }
        let pieces = std::mem::take(&mut self.in_batch);
        self.reserve(self.in_batch_len);
        self.in_batch_len = 0;
        for &(at, len) in &pieces {
            match batch.get(at..at + len) {
                Some(piece) => self.bytes.extend(piece),
                None => {
                    // Not the batch the pieces came from: nothing kept can be trusted.
                    debug_assert!(false, "retained pieces detached from another batch");
                    self.in_batch = pieces;
                    self.clear();
                    return;
                }
            }
        }
        // The list's allocation is kept for the next batch.
        self.in_batch = pieces;
        self.in_batch.clear();
    }

    /// The peer acknowledged everything before offset `acked`: those bytes go. Returns
    /// true when nothing is left (the caller may then drop the whole allocation).
    pub(crate) fn release_to(&mut self, acked: u64) -> bool {
        if acked >= self.end() {
            self.clear();
        } else if acked > self.from {
            let mut n = usize::try_from(acked - self.from).unwrap_or(usize::MAX);
            let copied = n.min(self.bytes.len());
            self.bytes.drain(..copied);
            n -= copied;
            // Then whole pieces, and the front of the next.
            let mut whole = 0;
            for (at, len) in &mut self.in_batch {
                if n == 0 {
                    break;
                }
                let k = n.min(*len);
                *at += k;
                *len -= k;
                n -= k;
                self.in_batch_len -= k;
                if *len == 0 {
                    whole += 1;
                }
            }
            self.in_batch.drain(..whole);
            self.from = acked;
        }
        self.len() == 0
    }

    /// Drops every byte kept (memory budget, retention turned off, or all acknowledged).
    pub(crate) fn clear(&mut self) {
        self.hint = self.high();
        self.high = 0;
        self.bytes.clear();
        if self.bytes.capacity() > KEEP_CAPACITY {
            self.bytes = VecDeque::new();
        }
        self.in_batch.clear();
        self.in_batch_len = 0;
        self.full = false;
    }

    /// Compares `data`, a later copy of bytes starting at signed stream offset `start`,
    /// with the bytes kept where they overlap (`batch`: as given to `push`). `None` when
    /// nothing overlaps or nothing differs (identical copies cost one `memcmp` per piece).
    pub(crate) fn compare(&self, start: i64, data: &[u8], batch: &[u8]) -> Option<Difference> {
        let data_end = start.saturating_add(i64::try_from(data.len()).ok()?);
        let lo = start.max(i64::try_from(self.from).ok()?);
        let hi = data_end.min(i64::try_from(self.end()).ok()?);
        if lo >= hi {
            return None;
        }
        let n = usize::try_from(hi - lo).ok()?;
        let copy = data.get(usize::try_from(lo - start).ok()?..)?.get(..n)?;
        let lo = u64::try_from(lo).ok()?;
        // The overlap, relative to `from`.
        let rel = usize::try_from(lo - self.from).ok()?;
        let (s1, s2) = self.bytes.as_slices();
        let pieces = [Some(s1), Some(s2)].into_iter().chain(
            self.in_batch
                .iter()
                .map(|&(at, len)| batch.get(at..at + len)),
        );
        let mut diff: Option<Difference> = None;
        // `pos`: where the current piece starts, relative to `from`.
        let mut pos = 0usize;
        for piece in pieces {
            let piece = piece?;
            let (a, b) = (rel.max(pos), (rel + n).min(pos + piece.len()));
            if a < b {
                let kept = piece.get(a - pos..b - pos)?;
                let other = copy.get(a - rel..b - rel)?;
                if kept != other {
                    for (i, (x, y)) in kept.iter().zip(other).enumerate() {
                        if x != y {
                            let at = lo + (a - rel + i) as u64;
                            let d = diff.get_or_insert(Difference {
                                first: at,
                                end: at,
                                count: 0,
                            });
                            d.end = at + 1;
                            d.count += 1;
                        }
                    }
                }
            }
            pos += piece.len();
            if pos >= rel + n {
                break;
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
        assert!(!r.push(10, b"abcd", 6, &[]));
        assert!(r.push(14, b"efgh", 6, &[]), "the limit is reached");
        assert_eq!(r.len(), 6);
        assert!(!r.push(18, b"ij", 6, &[]), "counted once per range");
        assert_eq!(r.len(), 6);
        r.release_to(12);
        assert_eq!(r.len(), 4, "released from the front");
        assert!(
            !r.push(20, b"kl", 6, &[]),
            "still stopped until all is released"
        );
        assert_eq!(r.len(), 4);
        r.release_to(100);
        assert_eq!(r.len(), 0);
        assert!(!r.push(20, b"kl", 6, &[]));
        assert_eq!(r.len(), 2, "restarts after the release");
    }

    #[test]
    fn a_new_range_reserves_what_the_last_one_reached() {
        let mut r = Retained::default();
        for i in 0..40u64 {
            r.push(i * 100, &[7; 100], 1 << 20, &[]);
        }
        assert_eq!(r.high(), 4000);
        r.release_to(4000);
        assert_eq!(r.len(), 0);
        assert_eq!(
            r.mem_bytes(),
            0,
            "a large buffer is not kept between ranges"
        );
        r.push(4000, &[7; 100], 1 << 20, &[]);
        assert!(r.mem_bytes() >= 4000, "reserved at once: {}", r.mem_bytes());
        // As the owner does when it drops the whole value between bursts.
        r.release_to(4100);
        assert_eq!(r.hint(), 100, "the last range reached 100");
        let mut again = Retained::with_hint(4000);
        again.push(0, b"x", 1 << 20, &[]);
        assert!(again.mem_bytes() >= 4000);
        // Never beyond the limit.
        let mut small = Retained::with_hint(1 << 20);
        small.push(0, b"abc", 10, &[]);
        assert!(small.mem_bytes() < 1 << 20);
    }

    #[test]
    fn a_gap_breaks_the_range() {
        let mut r = Retained::default();
        r.push(0, b"abc", 100, &[]);
        r.push(5, b"fg", 100, &[]);
        assert_eq!(r.len(), 3);
        assert_eq!(
            r.compare(5, b"XY", &[]),
            None,
            "bytes not kept are not compared"
        );
    }

    #[test]
    fn compares_only_where_it_overlaps() {
        let mut r = Retained::default();
        r.push(100, b"hello world", 1000, &[]);
        assert_eq!(r.compare(100, b"hello world", &[]), None);
        assert_eq!(
            r.compare(90, b"0123456789hello", &[]),
            None,
            "before the range"
        );
        assert_eq!(
            r.compare(104, b"oXwoYlZZZ", &[]),
            Some(Difference {
                first: 105,
                end: 111,
                count: 3
            })
        );
        assert_eq!(r.compare(-5, b"abc", &[]), None);
        // Across the deque's wrap point.
        r.release_to(106);
        r.push(111, b"!!!!!!", 1000, &[]);
        assert_eq!(
            r.compare(108, b"rld!?!", &[]),
            Some(Difference {
                first: 112,
                end: 113,
                count: 1
            })
        );
    }

    #[test]
    fn bytes_in_the_batch_are_kept_by_place_and_copied_when_it_ends() {
        let batch = b"hdr1hello hdr2world hdr3!!".to_vec();
        let (hello, world, bang) = (&batch[4..10], &batch[14..19], &batch[24..26]);
        let mut r = Retained::default();
        r.push(0, hello, 1000, &batch);
        r.push(6, world, 1000, &batch);
        assert!(r.in_batch());
        assert_eq!(r.len(), 11);
        assert!(r.mem_bytes() >= 11, "pieces are charged");
        assert_eq!(r.compare(0, b"hello world", &batch), None);
        assert_eq!(
            r.compare(4, b"o_wo", &batch),
            Some(Difference {
                first: 5,
                end: 6,
                count: 1
            })
        );
        // Acknowledged across the first piece: nothing was ever copied.
        r.release_to(8);
        assert_eq!(r.len(), 3);
        assert_eq!(r.compare(8, b"rld", &batch), None);
        assert_eq!(r.bytes.capacity(), 0, "no copy while in the batch");
        // A copied delivery after the pieces copies them first, in order.
        r.push(11, b"??", 1000, &batch);
        assert!(!r.in_batch());
        assert_eq!(r.compare(8, b"rld??", &[]), None);
        // The batch ends: the pieces still held are copied, and read without it.
        r.push(13, bang, 1000, &batch);
        r.detach(&batch);
        assert!(!r.in_batch());
        let other = vec![0u8; 64];
        assert_eq!(r.compare(8, b"rld??!!", &other), None);
        assert!(r.compare(8, b"rld??!?", &other).is_some());
        assert!(r.release_to(15));
    }

    /// Differential: bytes kept by their place in the batch, released, detached and
    /// compared in any order, give what copying every byte gives (the same type with no
    /// batch: the behaviour before pieces), at every step.
    #[test]
    fn pieces_behave_as_copies_would() {
        let batch: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut x = 0x9e37_79b9_u32;
        let mut rnd = |n: u32| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % n.max(1)
        };
        for round in 0..300 {
            let (mut pieces, mut copies) = (Retained::default(), Retained::default());
            let limit = 64 + rnd(512) as usize;
            let mut next = 0u64;
            for step in 0..60 {
                let what = format!("round {round} step {step}");
                match rnd(6) {
                    0..=2 => {
                        // A delivery (now and then after a gap), from the batch or not.
                        if rnd(8) == 0 {
                            next += u64::from(rnd(30));
                        }
                        let at = rnd(4000) as usize;
                        let len = 1 + rnd(60) as usize;
                        let owned = batch[at..at + len].to_vec();
                        let data: &[u8] = if rnd(3) > 0 {
                            &batch[at..at + len]
                        } else {
                            &owned
                        };
                        assert_eq!(
                            pieces.push(next, data, limit, &batch),
                            copies.push(next, data, limit, &[]),
                            "{what}"
                        );
                        next += len as u64;
                    }
                    3 => {
                        let acked = next.saturating_sub(u64::from(rnd(200)));
                        assert_eq!(pieces.release_to(acked), copies.release_to(acked), "{what}");
                    }
                    4 => pieces.detach(&batch),
                    _ => {
                        let start = next as i64 - i64::from(rnd(300));
                        let len = rnd(80) as usize;
                        let mut copy: Vec<u8> = (0..len).map(|i| (i * 3) as u8).collect();
                        if rnd(2) == 0 {
                            // The bytes kept, where known, with one changed.
                            for (i, b) in copy.iter_mut().enumerate() {
                                if let Some(k) = copies.compare_source(start + i as i64) {
                                    *b = k;
                                }
                            }
                            if let Some(b) = copy.get_mut(rnd(len as u32 + 4) as usize) {
                                *b ^= 0x20;
                            }
                        }
                        assert_eq!(
                            pieces.compare(start, &copy, &batch),
                            copies.compare(start, &copy, &[]),
                            "{what}"
                        );
                    }
                }
                assert_eq!(pieces.len(), copies.len(), "{what}");
                assert_eq!(pieces.high(), copies.high(), "{what}");
            }
        }
    }

    impl Retained {
        /// The byte kept at stream offset `off`, if any (copies only).
        fn compare_source(&self, off: i64) -> Option<u8> {
            let rel = usize::try_from(off.checked_sub(i64::try_from(self.from).ok()?)?).ok()?;
            self.bytes.get(rel).copied()
        }
    }
}
