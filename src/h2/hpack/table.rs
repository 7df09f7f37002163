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

/// One dynamic entry: name and value in one allocation.
struct Entry {
    /// `name ++ value`; the name is empty when unknown.
    bytes: Box<[u8]>,
    name_len: usize,
    /// False for an entry inserted with a name index that could not be resolved.
    name_known: bool,
}

impl Entry {
    /// The size this table accounts for the entry (see the module doc).
    fn accounted(&self) -> usize {
        ENTRY_OVERHEAD + self.bytes.len()
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
pub(crate) struct DynamicTable {
    entries: VecDeque<Entry>,
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

    /// Heap bytes: entry slots (by capacity) and their contents.
    pub(crate) fn mem_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + self.held
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
                let (name, value) = e.bytes.split_at(e.name_len.min(e.bytes.len()));
                Lookup::Field(name, value)
            }
            Some(e) => Lookup::NameUnknown(&e.bytes),
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
        let mut bytes = Vec::with_capacity(name_bytes.len() + value.len());
        bytes.extend_from_slice(name_bytes);
        bytes.extend_from_slice(value);
        self.held += bytes.len();
        self.size += size;
        if name.is_none() {
            self.names_unknown += 1;
        }
        self.entries.push_front(Entry {
            bytes: bytes.into_boxed_slice(),
            name_len: name_bytes.len(),
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

    fn clear(&mut self) {
        self.entries.clear();
        self.unknown = 0;
        self.names_unknown = 0;
        self.size = 0;
        self.held = 0;
        // A table that shrank for good (a size update to 0) gives its slots back.
        if self.entries.capacity() > self.max_size / ENTRY_OVERHEAD + 1 {
            self.entries.shrink_to_fit();
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
            self.held = self.held.saturating_sub(e.bytes.len());
            if !e.name_known {
                self.names_unknown = self.names_unknown.saturating_sub(1);
            }
        }
        if self.entries.len() < self.entries.capacity() / 4 && self.entries.capacity() > 64 {
            self.entries.shrink_to(self.entries.len() * 2);
        }
    }

    /// The entries, newest first: `(name or None, value)`; then the placeholder count.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> (Vec<(Option<Vec<u8>>, Vec<u8>)>, usize) {
        let list = self
            .entries
            .iter()
            .map(|e| {
                if e.name_known {
                    let (n, v) = e.bytes.split_at(e.name_len);
                    (Some(n.to_vec()), v.to_vec())
                } else {
                    (None, e.bytes.to_vec())
                }
            })
            .collect();
        (list, self.unknown)
    }
}
