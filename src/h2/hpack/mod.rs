//! HPACK (RFC 7541) header block decoding for a passive observer: one `Decoder` per
//! direction of an HTTP/2 connection, fed every complete header block of that direction
//! in order.
//!
//! What it does: the four representations (§6: indexed, literal with incremental indexing,
//! without indexing, never indexed), dynamic table size updates (§6.3), integers (§5.1),
//! string literals raw or Huffman-coded (§5.2, `huffman`), the static and dynamic tables
//! (§2.3, `table`). It is **tolerant** where an endpoint must stop (§2.5, §6 of the
//! research notes; Suricata's decoder does the same):
//! * An index the table cannot resolve gives a visible placeholder and decoding goes on:
//!   the field's name is `x-httshark-unknown-index-N` ([`UNKNOWN_INDEX_PREFIX`] then the
//!   index N as it appeared in the representation) and its value is empty for an indexed
//!   field, or the literal value when only the name was indexed. Such a literal with
//!   incremental indexing still inserts (value known, name unknown), so later indices
//!   stay in step. Counted in [`BlockReport::unknown_indices`].
//! * A malformed integer, string or Huffman code ends the block ([`BlockReport::errors`]);
//!   the fields before it are kept. Index 0 of an indexed field is counted as an error and
//!   skipped (the representation itself is whole).
//! * Size updates are accepted anywhere in a block and above the announced
//!   `SETTINGS_HEADER_TABLE_SIZE` (that SETTINGS frame travels the other way, and its
//!   timing relative to this direction is not certain); above [`Decoder::new`]'s cap the
//!   table keeps only the cap ([`BlockReport::table_capped`]). A smaller table than the
//!   encoder's only turns references to its oldest entries into placeholders, never into
//!   wrong fields (see `table`'s invariant).
//! * After lost state ([`Decoder::mark_desynced`]) the table is filled with placeholder
//!   entries, so references to what was lost give placeholders, not other entries.
//!
//! What it does not: limit the header list size (the session's job), validate field names
//! or values (RFC 9113 §8.2), or encode. Every header block must be decoded, even one whose
//! fields are discarded, or the table falls out of step (sozu PR #1396, pekko-http #1252).
//!
//! Invariants: never panics on any input; allocates at most what the block can produce
//! (a string's length is checked against the block before anything is allocated; Huffman
//! output is at most 8/5 of its input); the dynamic table's size stays at most
//! `table_cap`, so [`Decoder::mem_bytes`] stays about `2 × table_cap` at most.

pub mod huffman;
mod table;

#[cfg(test)]
mod test_encoder;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_differential;

use std::fmt;

use table::{DynamicTable, Lookup};

pub use table::ENTRY_OVERHEAD;

/// Default hard cap of a dynamic table in HPACK octets (32 + name + value per entry),
/// whatever the peers announce: 64 KiB, as Suricata's `HTTP2_MAX_TABLESIZE`. Hitting it
/// is reported per block ([`BlockReport::table_capped`]).
pub const H2_MAX_HPACK_TABLE: usize = 65_536;

/// The initial `SETTINGS_HEADER_TABLE_SIZE` (RFC 9113 §6.5.2), the table size a
/// connection starts with.
pub const DEFAULT_HEADER_TABLE_SIZE: usize = 4_096;

/// The name of a placeholder field starts with this, followed by the decimal index that
/// could not be resolved.
pub const UNKNOWN_INDEX_PREFIX: &str = "x-httshark-unknown-index-";

/// Largest integer accepted (RFC 7541 §5.1: "excessively large integer decodings" are an
/// error): every HPACK integer is an index, a length or a table size, none of which can
/// come near 2^32 in a header block.
const MAX_INTEGER: u64 = u32::MAX as u64;

/// Continuation octets of one integer: 5 carry 35 bits, more than `MAX_INTEGER` needs, and
/// bound the work on zero-padded encodings.
const MAX_CONTINUATION_OCTETS: u32 = 5;

/// One decoded header field, as octets (names and values need not be UTF-8).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderField {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

impl HeaderField {
    /// True for a placeholder made for an index that could not be resolved.
    pub fn is_placeholder(&self) -> bool {
        self.name.starts_with(UNKNOWN_INDEX_PREFIX.as_bytes())
    }
}

/// What went wrong, if anything, in one header block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockReport {
    /// Fields (or names) whose index could not be resolved: placeholders in the output.
    pub unknown_indices: u32,
    /// Malformed representations: a bad integer, string or Huffman code (which ends the
    /// block), or an indexed field with index 0 (skipped).
    pub errors: u32,
    /// Dynamic table size updates in the block.
    pub size_updates: u32,
    /// The encoder's table is larger than the cap: a size update asked for more than
    /// `table_cap`, in this block or before. Informational: the fields are right; the
    /// references this costs show up as `unknown_indices`.
    pub table_capped: bool,
    /// Size updates in this block that asked for more than `table_cap` (clamped to it).
    pub capped_updates: u32,
}

impl BlockReport {
    /// Every field decoded, none a placeholder.
    pub fn is_clean(&self) -> bool {
        self.unknown_indices == 0 && self.errors == 0
    }
}

/// A malformed representation: it ends the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Malformed {
    /// The block ends inside a representation.
    Truncated,
    /// An integer above `MAX_INTEGER` or longer than `MAX_CONTINUATION_OCTETS`.
    IntegerOverflow,
    /// An invalid Huffman-coded string.
    Huffman,
}

/// The HPACK decoding state of one direction of a connection.
pub struct Decoder {
    table: DynamicTable,
    table_cap: usize,
    /// The last `SETTINGS_HEADER_TABLE_SIZE` of the receiving endpoint (unclamped).
    settings_max: usize,
    /// The encoder's last size update asked for more than `table_cap`.
    capped: bool,
}

impl fmt::Debug for Decoder {
    // Sizes only: the table holds header values (cookies, authorization).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("table_size", &self.table.size())
            .field("table_max_size", &self.table.max_size())
            .field("table_cap", &self.table_cap)
            .field("settings_max", &self.settings_max)
            .field("uncertain_entries", &self.table.uncertain())
            .field("capped", &self.capped)
            .finish()
    }
}

impl Decoder {
    /// A decoder for a new connection (table size 4096, RFC 9113 §6.5.2). `table_cap`:
    /// hard cap of the dynamic table in HPACK octets, whatever the peers announce
    /// (normally [`H2_MAX_HPACK_TABLE`]).
    pub fn new(table_cap: usize) -> Decoder {
        Decoder {
            table: DynamicTable::new(DEFAULT_HEADER_TABLE_SIZE.min(table_cap)),
            table_cap,
            settings_max: DEFAULT_HEADER_TABLE_SIZE,
            capped: false,
        }
    }

    /// `SETTINGS_HEADER_TABLE_SIZE` announced by the endpoint that *receives* the blocks
    /// this decoder reads. A decrease below the current table size takes effect at once
    /// (the encoder must follow with a size update, RFC 7541 §4.2); an increase only
    /// allows the encoder to announce a larger table with a size update, so nothing
    /// changes until one arrives. The value is clamped to `table_cap`: the encoder cannot
    /// use more than this before its size update says so, and that update reports
    /// `table_capped`. The value is also the best guess of the table size after a desync.
    pub fn set_max_table_size(&mut self, settings_value: u32) {
        self.settings_max = settings_value as usize;
        let limit = self.settings_max.min(self.table_cap);
        if self.table.max_size() > limit {
            self.table.set_max_size(limit);
        }
    }

    /// Decodes one complete header block (HEADERS or PUSH_PROMISE and its CONTINUATION
    /// payloads concatenated, padding and priority removed), appending its fields to
    /// `out`. Goes on to the end of the block whenever it can (see the module doc); the
    /// table advances even when the caller discards the fields.
    pub fn decode(&mut self, block: &[u8], out: &mut Vec<HeaderField>) -> BlockReport {
        let mut report = BlockReport::default();
        let mut cur = Cursor { block, pos: 0 };
        while cur.pos < block.len() {
            if self.representation(&mut cur, out, &mut report).is_err() {
                report.errors += 1;
                break;
            }
        }
        report.table_capped |= self.capped;
        debug_assert!(self.table.size() <= self.table_cap);
        report
    }

    /// State was lost: a gap swallowed a header block of this direction, or the capture
    /// started mid-connection. The lost blocks may have inserted entries (shifting every
    /// index) and evicted others, so no entry of the table can be trusted any more.
    /// What this does (Wireshark's idea, nghttp2 issue #1389): forget every entry and fill
    /// the table with placeholders, `max / 32` of them, `max` being the most the encoder
    /// may be using (the receiver's `SETTINGS_HEADER_TABLE_SIZE`, or the current size if
    /// larger, clamped to `table_cap`). A reference to a placeholder gives a placeholder
    /// field; new insertions go in front and push the placeholders out; a size update to 0
    /// empties the table and ends the desync at once. The known entries are then always
    /// the encoder's newest (see `table`'s invariant).
    pub fn mark_desynced(&mut self) {
        let max = self
            .table
            .max_size()
            .max(self.settings_max)
            .min(self.table_cap);
        self.table.set_max_size(max);
        self.table.fill_unknown();
    }

    /// True while the table holds entries it does not know in full: placeholders from
    /// [`mark_desynced`](Self::mark_desynced), or entries inserted with an unresolved
    /// name. Once they are evicted every entry of the table is known; references beyond
    /// it still give placeholders.
    pub fn is_desynced(&self) -> bool {
        self.table.uncertain() > 0
    }

    /// Heap and inline bytes held by this decoder.
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.table.mem_bytes()
    }

    /// The dynamic table's size in HPACK octets (RFC 7541 §4.1); at most `table_cap`.
    pub fn table_size(&self) -> usize {
        self.table.size()
    }

    /// The dynamic table's current maximum size in HPACK octets.
    pub fn table_max_size(&self) -> usize {
        self.table.max_size()
    }

    /// One representation (§6) at the cursor.
    fn representation(
        &mut self,
        cur: &mut Cursor<'_>,
        out: &mut Vec<HeaderField>,
        report: &mut BlockReport,
    ) -> Result<(), Malformed> {
        let first = cur.peek()?;
        if first & 0x80 != 0 {
            // §6.1 indexed field: 1xxxxxxx.
            let index = cur.integer(7)?;
            if index == 0 {
                // §6.1: "The index value of 0 is not used."
                report.errors += 1;
                return Ok(());
            }
            let field = match self.table.lookup(index) {
                Lookup::Field(name, value) => HeaderField {
                    name: name.to_vec(),
                    value: value.to_vec(),
                },
                Lookup::NameUnknown(value) => {
                    report.unknown_indices += 1;
                    HeaderField {
                        name: placeholder(index),
                        value: value.to_vec(),
                    }
                }
                Lookup::Unknown => {
                    report.unknown_indices += 1;
                    HeaderField {
                        name: placeholder(index),
                        value: Vec::new(),
                    }
                }
            };
            out.push(field);
        } else if first & 0xc0 == 0x40 {
            // §6.2.1 literal with incremental indexing: 01xxxxxx.
            self.literal(cur, 6, true, out, report)?;
        } else if first & 0xe0 == 0x20 {
            // §6.3 dynamic table size update: 001xxxxx.
            let size = cur.integer(5)? as usize;
            report.size_updates += 1;
            if size > self.table_cap {
                report.capped_updates += 1;
                self.capped = true;
                self.table.set_max_size(self.table_cap);
            } else {
                self.capped = false;
                self.table.set_max_size(size);
            }
        } else {
            // §6.2.2 without indexing (0000xxxx) and §6.2.3 never indexed (0001xxxx): the
            // same to a decoder that forwards nothing.
            self.literal(cur, 4, false, out, report)?;
        }
        Ok(())
    }

    /// A literal field (§6.2) whose name index has `prefix` bits.
    fn literal(
        &mut self,
        cur: &mut Cursor<'_>,
        prefix: u8,
        indexing: bool,
        out: &mut Vec<HeaderField>,
        report: &mut BlockReport,
    ) -> Result<(), Malformed> {
        let index = cur.integer(prefix)?;
        let name = if index == 0 {
            Some(cur.string()?)
        } else {
            match self.table.lookup(index) {
                Lookup::Field(name, _) => Some(name.to_vec()),
                Lookup::NameUnknown(_) | Lookup::Unknown => {
                    report.unknown_indices += 1;
                    None
                }
            }
        };
        let value = cur.string()?;
        if indexing {
            self.table.insert(name.as_deref(), &value);
        }
        out.push(HeaderField {
            name: name.unwrap_or_else(|| placeholder(index)),
            value,
        });
        Ok(())
    }
}

/// The name of a placeholder field for `index`.
fn placeholder(index: u32) -> Vec<u8> {
    format!("{UNKNOWN_INDEX_PREFIX}{index}").into_bytes()
}

/// Reads a header block front to back; every read is checked.
struct Cursor<'a> {
    block: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Result<u8, Malformed> {
        self.block
            .get(self.pos)
            .copied()
            .ok_or(Malformed::Truncated)
    }

    fn next(&mut self) -> Result<u8, Malformed> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    /// An integer with a `prefix`-bit prefix (§5.1), 1 <= prefix <= 8.
    fn integer(&mut self, prefix: u8) -> Result<u32, Malformed> {
        let max_prefix = (1u16 << prefix) - 1;
        let mut value = u64::from(u16::from(self.next()?) & max_prefix);
        if value < u64::from(max_prefix) {
            return Ok(value as u32);
        }
        let mut shift = 0u32;
        for _ in 0..MAX_CONTINUATION_OCTETS {
            let b = self.next()?;
            value += u64::from(b & 0x7f) << shift;
            if value > MAX_INTEGER {
                return Err(Malformed::IntegerOverflow);
            }
            if b & 0x80 == 0 {
                return Ok(value as u32);
            }
            shift += 7;
        }
        Err(Malformed::IntegerOverflow)
    }

    /// A string literal (§5.2): H flag, 7-bit prefixed length, octets.
    fn string(&mut self) -> Result<Vec<u8>, Malformed> {
        let huffman_coded = self.peek()? & 0x80 != 0;
        let len = self.integer(7)? as usize;
        let end = self.pos.checked_add(len).ok_or(Malformed::Truncated)?;
        let raw = self.block.get(self.pos..end).ok_or(Malformed::Truncated)?;
        self.pos = end;
        if huffman_coded {
            let mut text = Vec::new();
            huffman::decode(raw, &mut text).map_err(|_| Malformed::Huffman)?;
            Ok(text)
        } else {
            Ok(raw.to_vec())
        }
    }
}
