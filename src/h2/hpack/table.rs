//! HPACK's index space (RFC 7541 §2.3): the static table (Appendix A) and one dynamic
//! table, with its size accounting (§4.1) and eviction (§4.3, §4.4).
//!
//! What it does beyond the RFC, for a passive decoder that may have lost state:
//! * **Unknown entries.** After a desync the table is filled with placeholders
//!   (`fill_unknown`): they stand for entries the encoder has but this table never saw.
//!   They are the oldest entries, so they are evicted first, and each is counted as 32
//!   octets (the least an entry can take), which is the size accounting that keeps them
//!   longest.
//! * **Entries with an unknown name** (a literal with incremental indexing whose name
//!   index could not be resolved): the value is kept, the name is not, and the entry is
//!   counted as `32 + value` octets, no more than it really takes.
//!
//! Invariant (the reason both kinds undercount and never overcount): the *known* entries
//! of this table are exactly the newest entries of the encoder's table, at the same
//! indices. The encoder's table may hold more beyond them (placeholders, or nothing here:
//! such references become placeholders), but never different ones. Undercounting can only
//! keep an old entry here longer than the encoder does, and the encoder never references
//! an entry it evicted; overcounting would evict entries the encoder still references.
//! `size <= max_size` after every operation.

use std::collections::VecDeque;

/// RFC 7541 §4.1: the size of an entry is its name and value lengths plus 32.
pub const ENTRY_OVERHEAD: usize = 32;

/// Room of the dynamic table's byte log beyond `1.5 * max_size`, so a small table's log
/// need not be reallocated by a few octets.
const LOG_SLACK: usize = 64;

/// RFC 7541 Appendix A: indices 1 to 61.
pub(crate) static STATIC_TABLE: [(&[u8], &[u8]); 61] = [
    (b":authority", b""),
    (b":method", b"GET"),
    (b":method", b"POST"),
    (b":path", b"/"),
    (b":path", b"/index.html"),
    (b":scheme", b"http"),
    (b":scheme", b"https"),
    (b":status", b"200"),
    (b":status", b"204"),
    (b":status", b"206"),
    (b":status", b"304"),
    (b":status", b"400"),
    (b":status", b"404"),
    (b":status", b"500"),
    (b"accept-charset", b""),
    (b"accept-encoding", b"gzip, deflate"),
    (b"accept-language", b""),
    (b"accept-ranges", b""),
    (b"accept", b""),
    (b"access-control-allow-origin", b""),
    (b"age", b""),
    (b"allow", b""),
    (b"authorization", b""),
    (b"cache-control", b""),
    (b"content-disposition", b""),
    (b"content-encoding", b""),
    (b"content-language", b""),
    (b"content-length", b""),
    (b"content-location", b""),
    (b"content-range", b""),
    (b"content-type", b""),
    (b"cookie", b""),
    (b"date", b""),
    (b"etag", b""),
    (b"expect", b""),
    (b"expires", b""),
    (b"from", b""),
    (b"host", b""),
    (b"if-match", b""),
    (b"if-modified-since", b""),
    (b"if-none-match", b""),
    (b"if-range", b""),
    (b"if-unmodified-since", b""),
    (b"last-modified", b""),
    (b"link", b""),
    (b"location", b""),
    (b"max-forwards", b""),
    (b"proxy-authenticate", b""),
    (b"proxy-authorization", b""),
    (b"range", b""),
    (b"referer", b""),
    (b"refresh", b""),
    (b"retry-after", b""),
    (b"server", b""),
    (b"set-cookie", b""),
    (b"strict-transport-security", b""),
    (b"transfer-encoding", b""),
    (b"user-agent", b""),
    (b"vary", b""),
    (b"via", b""),
    (b"www-authenticate", b""),
];

/// One dynamic entry: where its octets lie in the table's byte log.
#[derive(Clone, Copy)]
struct Entry {
    /// Offset of `name ++ value` in the log, counted (mod 2^32) from the log's creation,
    /// so entries keep their offset when the log drops evicted octets from its front. The
    /// log is far shorter than 2^32, so `off - base` (wrapping) is the place in it.
    off: u32,
    /// Names and values are shorter than 2^32 (HPACK integers are capped there).
    name_len: u32,
    value_len: u32,
    /// False for an entry inserted with a name index that could not be resolved (its name
    /// is then empty).
    name_known: bool,
}

impl Entry {
    fn len(&self) -> usize {
        self.name_len as usize + self.value_len as usize
    }

    /// The size this table accounts for the entry (see the module doc).
    fn accounted(&self) -> usize {
        ENTRY_OVERHEAD + self.len()
    }
}

/// What an index of the combined index space (§2.3.3) refers to.
pub(crate) enum Lookup<'a> {
    /// A known entry: name and value.
    Field(&'a [u8], &'a [u8]),
    /// A dynamic entry whose name is unknown: its value.
    NameUnknown(&'a [u8]),
    /// Nothing this table knows: a placeholder entry, or beyond the table.
    Unknown,
}

/// The dynamic table of one direction (entries newest first: index 62 is the front).
///
/// The octets of all entries live in one byte log, oldest first: an insertion appends,
/// an eviction only forgets the entry, and the log drops its dead front (memmove of the
/// live octets) once it is half as long as the live part. So no allocation per entry,
/// each entry contiguous (lookups return slices), amortised O(1) per octet (a compaction
/// moves at most twice the octets that died since the last), and the log holds at most
/// `1.5 * max_size` octets (its room is grown to no more, `LOG_SLACK` aside).
pub(crate) struct DynamicTable {
    entries: VecDeque<Entry>,
    /// `name ++ value` of every entry, oldest first, behind a dead front.
    log: Vec<u8>,
    /// Offset (as in `Entry::off`) of `log[0]`.
    base: u32,
    /// Placeholder entries older than all of `entries` (after a desync).
    unknown: usize,
    /// Entries in `entries` whose name is unknown.
    names_unknown: usize,
    /// HPACK size: accounted sizes of `entries` plus 32 per placeholder.
    size: usize,
    max_size: usize,
    /// Octets held by `entries` (names and values).
    held: usize,
}

impl DynamicTable {
    pub(crate) fn new(max_size: usize) -> DynamicTable {
        DynamicTable {
            entries: VecDeque::new(),
            log: Vec::new(),
            base: 0,
            unknown: 0,
            names_unknown: 0,
            size: 0,
            max_size,
            held: 0,
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn max_size(&self) -> usize {
        self.max_size
    }

    /// Placeholders and entries with unknown names still in the table.
    pub(crate) fn uncertain(&self) -> usize {
        self.unknown + self.names_unknown
    }

    /// Heap bytes: entry slots and the byte log, by capacity.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + self.log.capacity()
    }

    /// The octets of `e` (`name ++ value`); empty if the log is out of step (a bug, never
    /// a panic).
    fn bytes(&self, e: &Entry) -> &[u8] {
        let start = e.off.wrapping_sub(self.base) as usize;
        start
            .checked_add(e.len())
            .and_then(|end| self.log.get(start..end))
            .unwrap_or_default()
    }

    /// Index `index` of the combined space (1-based; 0 is not an index and is unknown).
    pub(crate) fn lookup(&self, index: u32) -> Lookup<'_> {
        let index = index as usize;
        if index == 0 {
            return Lookup::Unknown;
        }
        if let Some(&(name, value)) = STATIC_TABLE.get(index - 1) {
            return Lookup::Field(name, value);
        }
        match self.entries.get(index - 1 - STATIC_TABLE.len()) {
            Some(e) if e.name_known => {
                let bytes = self.bytes(e);
                let (name, value) = bytes.split_at((e.name_len as usize).min(bytes.len()));
                Lookup::Field(name, value)
            }
            Some(e) => Lookup::NameUnknown(self.bytes(e)),
            None => Lookup::Unknown,
        }
    }

    /// Inserts a field (§4.4): evicts from the end until it fits; a field larger than the
    /// whole table empties it and is not inserted. `name` is `None` when unknown.
    pub(crate) fn insert(&mut self, name: Option<&[u8]>, value: &[u8]) {
        let name_bytes = name.unwrap_or_default();
        let size = ENTRY_OVERHEAD + name_bytes.len() + value.len();
        if size > self.max_size {
            self.clear();
            return;
        }
        self.evict_to(self.max_size - size);
        self.compact();
        let n = name_bytes.len() + value.len();
        if self.log.len() + n > self.log.capacity() {
            // Grow by doubling, but never past what the table can need (1.5 * max_size).
            let want = (2 * self.log.capacity())
                .min(self.max_size + self.max_size / 2 + LOG_SLACK)
                .max(self.log.len() + n);
            self.log.reserve_exact(want - self.log.len());
        }
        if self.entries.len() == self.entries.capacity() {
            // Slots likewise: doubling, but no more than the table can hold (32 octets each).
            let most = self.max_size / ENTRY_OVERHEAD + 1;
            let more = self
                .entries
                .len()
                .max(4)
                .min(most.saturating_sub(self.entries.len()));
            self.entries.reserve_exact(more.max(1));
        }
        let off = self.base.wrapping_add(self.log.len() as u32);
        self.log.extend_from_slice(name_bytes);
        self.log.extend_from_slice(value);
        self.held += name_bytes.len() + value.len();
        self.size += size;
        if name.is_none() {
            self.names_unknown += 1;
        }
        // Both fit in u32: together they are at most `max_size` <= `table_cap`.
        self.entries.push_front(Entry {
            off,
            name_len: u32::try_from(name_bytes.len()).unwrap_or(u32::MAX),
            value_len: u32::try_from(value.len()).unwrap_or(u32::MAX),
            name_known: name.is_some(),
        });
        debug_assert!(self.size <= self.max_size);
    }

    /// A new maximum size (§4.3): evicts until the table fits.
    pub(crate) fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        self.evict_to(max_size);
    }

    /// Forgets every entry and fills the table with placeholders, as many as fit when each
    /// takes the least an entry can (32 octets).
    pub(crate) fn fill_unknown(&mut self) {
        self.clear();
        self.unknown = self.max_size / ENTRY_OVERHEAD;
        self.size = self.unknown * ENTRY_OVERHEAD;
    }

    /// Drops the log's dead front (octets of evicted entries) once it is half as long as
    /// the live part, which bounds the log to 1.5 times the live octets.
    fn compact(&mut self) {
        let live_from = self
            .entries
            .back()
            .map_or(self.log.len(), |e| e.off.wrapping_sub(self.base) as usize)
            .min(self.log.len());
        if live_from > 0 && 2 * live_from >= self.log.len() - live_from {
            self.log.drain(..live_from);
            self.base = self.base.wrapping_add(live_from as u32);
        }
    }

    fn clear(&mut self) {
        self.entries.clear();
        self.base = self.base.wrapping_add(self.log.len() as u32);
        self.log.clear();
        self.unknown = 0;
        self.names_unknown = 0;
        self.size = 0;
        self.held = 0;
        // A table that shrank for good (a size update to 0) gives its slots back.
        if self.entries.capacity() > self.max_size / ENTRY_OVERHEAD + 1 {
            self.entries.shrink_to_fit();
        }
        if self.log.capacity() > self.max_size + self.max_size / 2 + LOG_SLACK {
            self.log.shrink_to_fit();
        }
    }

    /// Evicts the oldest entries (placeholders first: they are older than every entry
    /// here) until the size is at most `target`.
    fn evict_to(&mut self, target: usize) {
        while self.size > target && self.unknown > 0 {
            self.unknown -= 1;
            self.size -= ENTRY_OVERHEAD;
        }
        while self.size > target {
            let Some(e) = self.entries.pop_back() else {
                // Unreachable while the accounting is right; never loop or underflow.
                debug_assert!(false, "size {} with no entries", self.size);
                self.size = 0;
                break;
            };
            self.size = self.size.saturating_sub(e.accounted());
            self.held = self.held.saturating_sub(e.len());
            if !e.name_known {
                self.names_unknown = self.names_unknown.saturating_sub(1);
            }
        }
        if self.entries.len() < self.entries.capacity() / 4 && self.entries.capacity() > 64 {
            self.entries.shrink_to(self.entries.len() * 2);
        }
        if self.entries.is_empty() {
            self.base = self.base.wrapping_add(self.log.len() as u32);
            self.log.clear();
        }
        // A table that shrank (a size update) gives the log's room back.
        let room = self.max_size + self.max_size / 2 + LOG_SLACK;
        if self.log.capacity() > room {
            self.compact();
            self.log.shrink_to(room);
        }
    }

    /// The entries, newest first: `(name or None, value)`; then the placeholder count.
    #[cfg(test)]
    #[allow(clippy::type_complexity)]
    pub(crate) fn entries(&self) -> (Vec<(Option<Vec<u8>>, Vec<u8>)>, usize) {
        let list = self
            .entries
            .iter()
            .map(|e| {
                let bytes = self.bytes(e);
                if e.name_known {
                    let (n, v) = bytes.split_at(e.name_len as usize);
                    (Some(n.to_vec()), v.to_vec())
                } else {
                    (None, bytes.to_vec())
                }
            })
            .collect();
        (list, self.unknown)
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;

    /// The byte log against a plain model (a list of owned entries, RFC 7541 §4.4
    /// eviction) over many insertions, compactions, size changes and unknown names: every
    /// index resolves to the same field, and the log stays within its bound.
    #[test]
    fn byte_log_matches_a_list_of_entries() {
        let mut t = DynamicTable::new(4_096);
        let mut model: VecDeque<(Option<Vec<u8>>, Vec<u8>)> = VecDeque::new();
        let mut max = 4_096usize;
        let mut seed = 0x2545_f491_u64;
        let mut rand = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for step in 0..20_000u32 {
            if step % 2_500 == 1_000 {
                max = [0, 100, 4_096, 16_384][rand(4) as usize];
                t.set_max_size(max);
            }
            let name: Option<Vec<u8>> = (rand(10) != 0).then(|| {
                format!("n{}", rand(50))
                    .into_bytes()
                    .repeat(rand(4) as usize + 1)
            });
            let value = vec![b'a' + (step % 26) as u8; rand(300) as usize];
            t.insert(name.as_deref(), &value);
            model.push_front((name, value));
            let size = |m: &VecDeque<(Option<Vec<u8>>, Vec<u8>)>| {
                m.iter()
                    .map(|(n, v)| 32 + n.as_ref().map_or(0, Vec::len) + v.len())
                    .sum::<usize>()
            };
            while size(&model) > max {
                model.pop_back();
            }
            assert_eq!(t.size(), size(&model), "step {step}");
            assert_eq!(t.entries(), (model.iter().cloned().collect(), 0));
            for (i, (n, v)) in model.iter().enumerate() {
                match (t.lookup(62 + i as u32), n) {
                    (Lookup::Field(tn, tv), Some(n)) => assert_eq!((tn, tv), (&n[..], &v[..])),
                    (Lookup::NameUnknown(tv), None) => assert_eq!(tv, &v[..]),
                    _ => panic!("step {step}: index {} differs", 62 + i),
                }
            }
            assert!(matches!(t.lookup(62 + model.len() as u32), Lookup::Unknown));
            assert!(
                t.log.len() <= max + max / 2 + 300,
                "step {step}: log {}",
                t.log.len()
            );
            assert!(t.log.capacity() <= (max + max / 2 + LOG_SLACK).max(t.log.len() + 300));
        }
    }
}
