//! The view's buffer: the latest entries, capped by count and by bytes, oldest evicted
//! first (issue 14 "Bounded"). One writer (the processor thread) pushes; the server's
//! threads read under the same short lock and only clone `Arc`s out of it, so a reader
//! never holds the lock while it writes to a socket.
//!
//! Invariants: `seq` grows by one per pushed entry and is never reused (a cleared or
//! evicted entry's seq is gone for good, so an SSE `Last-Event-ID` is unambiguous);
//! `bytes` is the sum of the held entries' `cost`; after `push`, `len <= max_entries`
//! and `bytes <= max_bytes` (an entry larger than `max_bytes` alone is not held and is
//! counted as evicted).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::entry::UiEntry;

/// The caps of the ring (`-ui-max-entries`, `-ui-memory`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingLimits {
    pub max_entries: usize,
    pub max_bytes: usize,
}

/// What a reader sees of the ring's state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RingStats {
    pub entries: u64,
    pub bytes: u64,
    /// The seq of the oldest held entry (the next seq when empty).
    pub oldest: u64,
    /// The seq the next entry will get.
    pub next: u64,
    /// Entries evicted (by count or bytes) since the start.
    pub evicted: u64,
    /// Of those, evicted because of the byte cap.
    pub evicted_bytes: u64,
    pub max_entries: u64,
    pub max_bytes: u64,
}

struct Inner {
    entries: VecDeque<Arc<UiEntry>>,
    bytes: usize,
    next: u64,
    evicted: u64,
    evicted_bytes: u64,
}

/// The ring, shared by the processor thread and the server.
pub struct Ring {
    limits: RingLimits,
    inner: Mutex<Inner>,
    /// Signalled on every push, so SSE threads wake without polling.
    pushed: Condvar,
}

impl Ring {
    pub fn new(limits: RingLimits) -> Ring {
        Ring {
            limits,
            inner: Mutex::new(Inner {
                entries: VecDeque::new(),
                bytes: 0,
                next: 1,
                evicted: 0,
                evicted_bytes: 0,
            }),
            pushed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The seq the next pushed entry will get (entries are built with it).
    pub fn next_seq(&self) -> u64 {
        self.lock().next
    }

    /// Adds `entry` (its `seq` must be `next_seq()`), evicting the oldest entries while
    /// over a cap. O(1) amortised; never blocks on a reader for longer than its clone.
    pub fn push(&self, entry: UiEntry) {
        let mut g = self.lock();
        debug_assert_eq!(entry.seq, g.next);
        g.next = entry.seq.max(g.next) + 1;
        let cost = entry.cost;
        if cost > self.limits.max_bytes || self.limits.max_entries == 0 {
            // Cannot be held without emptying the ring beyond reason: counted as evicted.
            g.evicted += 1;
            g.evicted_bytes += 1;
        } else {
            g.entries.push_back(Arc::new(entry));
            g.bytes += cost;
            while g.entries.len() > self.limits.max_entries || g.bytes > self.limits.max_bytes {
                let by_bytes = g.entries.len() <= self.limits.max_entries;
                let Some(old) = g.entries.pop_front() else {
                    break;
                };
                g.bytes -= old.cost;
                g.evicted += 1;
                if by_bytes {
                    g.evicted_bytes += 1;
                }
            }
        }
        debug_assert_eq!(g.bytes, g.entries.iter().map(|e| e.cost).sum::<usize>());
        drop(g);
        self.pushed.notify_all();
    }

    pub fn stats(&self) -> RingStats {
        let g = self.lock();
        RingStats {
            entries: g.entries.len() as u64,
            bytes: g.bytes as u64,
            oldest: g.entries.front().map_or(g.next, |e| e.seq),
            next: g.next,
            evicted: g.evicted,
            evicted_bytes: g.evicted_bytes,
            max_entries: self.limits.max_entries as u64,
            max_bytes: self.limits.max_bytes as u64,
        }
    }

    /// The entry with `seq`, when still held.
    pub fn get(&self, seq: u64) -> Option<Arc<UiEntry>> {
        let g = self.lock();
        let first = g.entries.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        g.entries.get(i).filter(|e| e.seq == seq).cloned()
    }

    /// Held entries with `seq > after`, oldest first, at most `limit`, and the seq of the
    /// oldest held entry (to tell a reader how many it missed).
    pub fn after(&self, after: u64, limit: usize) -> (Vec<Arc<UiEntry>>, u64) {
        let g = self.lock();
        let oldest = g.entries.front().map_or(g.next, |e| e.seq);
        let skip =
            usize::try_from(after.saturating_add(1).saturating_sub(oldest)).unwrap_or(usize::MAX);
        let out = g.entries.iter().skip(skip).take(limit).cloned().collect();
        (out, oldest)
    }

    /// Every held entry, oldest first (a snapshot of `Arc`s; filters run outside the lock).
    pub fn snapshot(&self) -> Vec<Arc<UiEntry>> {
        self.lock().entries.iter().cloned().collect()
    }

    /// Waits until an entry with `seq > after` exists or `timeout` passes; returns whether
    /// one does.
    pub fn wait_after(&self, after: u64, timeout: Duration) -> bool {
        let g = self.lock();
        if g.next > after + 1 {
            return true;
        }
        let (g, _) = self
            .pushed
            .wait_timeout_while(g, timeout, |g| g.next <= after + 1)
            .unwrap_or_else(|e| e.into_inner());
        g.next > after + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, cost: usize) -> UiEntry {
        UiEntry::test_entry(seq, cost)
    }

    fn ring(max_entries: usize, max_bytes: usize) -> Ring {
        Ring::new(RingLimits {
            max_entries,
            max_bytes,
        })
    }

    #[test]
    fn evicts_by_count() {
        let r = ring(3, 1 << 20);
        for seq in 1..=5 {
            r.push(entry(seq, 10));
        }
        let s = r.stats();
        assert_eq!((s.entries, s.oldest, s.next, s.evicted), (3, 3, 6, 2));
        assert_eq!(s.evicted_bytes, 0);
        assert!(r.get(2).is_none());
        assert_eq!(r.get(4).map(|e| e.seq), Some(4));
    }

    #[test]
    fn evicts_by_bytes() {
        let r = ring(100, 250);
        for seq in 1..=5 {
            r.push(entry(seq, 100));
        }
        let s = r.stats();
        assert_eq!((s.entries, s.bytes, s.oldest, s.evicted), (2, 200, 4, 3));
        assert_eq!(s.evicted_bytes, 3);
        // Larger than the whole cap: not held, counted.
        r.push(entry(6, 300));
        let s = r.stats();
        assert_eq!((s.entries, s.next, s.evicted), (2, 7, 4));
    }

    #[test]
    fn after_resumes_and_reports_the_oldest() {
        let r = ring(3, 1 << 20);
        for seq in 1..=5 {
            r.push(entry(seq, 1));
        }
        let (v, oldest) = r.after(0, 10);
        assert_eq!(oldest, 3);
        assert_eq!(v.iter().map(|e| e.seq).collect::<Vec<_>>(), [3, 4, 5]);
        let (v, _) = r.after(4, 10);
        assert_eq!(v.iter().map(|e| e.seq).collect::<Vec<_>>(), [5]);
        assert!(r.after(5, 10).0.is_empty());
        assert!(!r.wait_after(5, Duration::from_millis(1)));
        assert!(r.wait_after(4, Duration::from_millis(1)));
    }
}
