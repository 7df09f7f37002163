//! A small HPACK encoder for the tests: every representation, Huffman or raw strings, size
//! updates, and a model of the encoder's dynamic table (a plain list, newest first) so that
//! the indices it writes are the ones a real encoder would write. It shares no code with
//! the decoder except the Huffman code table (itself checked against the RFC).

use super::huffman;
use super::table::STATIC_TABLE;

/// How a literal is indexed (RFC 7541 §6.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Incremental,
    Without,
    Never,
}

/// One representation to write.
#[derive(Clone, Debug)]
pub(crate) enum Rep {
    Indexed(u32),
    /// A literal whose name is the one at `index`.
    IndexedName {
        index: u32,
        value: Vec<u8>,
        mode: Mode,
        huffman: bool,
    },
    NewName {
        name: Vec<u8>,
        value: Vec<u8>,
        mode: Mode,
        huffman: bool,
    },
    SizeUpdate(u32),
}

/// §5.1: `value` with a `prefix`-bit prefix; `flags` fills the bits above the prefix.
pub(crate) fn integer(out: &mut Vec<u8>, flags: u8, prefix: u8, value: u32) {
    let max = (1u32 << prefix) - 1;
    if value < max {
        out.push(flags | value as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

/// §5.2: a string literal.
pub(crate) fn string(out: &mut Vec<u8>, s: &[u8], huffman_coded: bool) {
    if huffman_coded {
        integer(out, 0x80, 7, huffman::encoded_len(s) as u32);
        huffman::encode(s, out);
    } else {
        integer(out, 0, 7, s.len() as u32);
        out.extend_from_slice(s);
    }
}

/// The flags and name-index prefix of a literal (§6.2.1, §6.2.2, §6.2.3).
fn literal_flags(mode: Mode) -> (u8, u8) {
    match mode {
        Mode::Incremental => (0x40, 6),
        Mode::Without => (0x00, 4),
        Mode::Never => (0x10, 4),
    }
}

/// Writes one representation (no table bookkeeping: see `Encoder`).
pub(crate) fn write(out: &mut Vec<u8>, rep: &Rep) {
    match rep {
        Rep::Indexed(index) => integer(out, 0x80, 7, *index),
        Rep::IndexedName {
            index,
            value,
            mode,
            huffman,
        } => {
            let (flags, prefix) = literal_flags(*mode);
            integer(out, flags, prefix, *index);
            string(out, value, *huffman);
        }
        Rep::NewName {
            name,
            value,
            mode,
            huffman,
        } => {
            let (flags, prefix) = literal_flags(*mode);
            integer(out, flags, prefix, 0);
            string(out, name, *huffman);
            string(out, value, *huffman);
        }
        Rep::SizeUpdate(size) => integer(out, 0x20, 5, *size),
    }
}

/// An encoder's dynamic table: the model the decoder must agree with.
pub(crate) struct Encoder {
    /// Newest first.
    pub(crate) entries: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) max_size: usize,
}

impl Encoder {
    pub(crate) fn new() -> Encoder {
        Encoder {
            entries: Vec::new(),
            max_size: 4096,
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.entries
            .iter()
            .map(|(n, v)| 32 + n.len() + v.len())
            .sum()
    }

    fn evict_to(&mut self, target: usize) {
        while self.size() > target {
            self.entries.pop();
        }
    }

    /// The index (1-based, static then dynamic) of `(name, value)`, and of `name` alone.
    pub(crate) fn find(&self, name: &[u8], value: &[u8]) -> (Option<u32>, Option<u32>) {
        let all = STATIC_TABLE
            .iter()
            .map(|&(n, v)| (n, v))
            .chain(self.entries.iter().map(|(n, v)| (&n[..], &v[..])));
        let (mut full, mut name_only) = (None, None);
        for (i, (n, v)) in all.enumerate() {
            if n == name {
                name_only.get_or_insert(i as u32 + 1);
                if v == value {
                    full.get_or_insert(i as u32 + 1);
                }
            }
        }
        (full, name_only)
    }

    /// Writes `rep` to `out` and updates the table as the decoder must.
    pub(crate) fn encode(&mut self, out: &mut Vec<u8>, rep: &Rep) {
        write(out, rep);
        match rep {
            Rep::SizeUpdate(size) => {
                self.max_size = *size as usize;
                self.evict_to(self.max_size);
            }
            Rep::IndexedName {
                index,
                value,
                mode: Mode::Incremental,
                ..
            } => {
                let name = self.name_at(*index);
                self.insert(name, value.clone());
            }
            Rep::NewName {
                name,
                value,
                mode: Mode::Incremental,
                ..
            } => self.insert(name.clone(), value.clone()),
            _ => {}
        }
    }

    fn name_at(&self, index: u32) -> Vec<u8> {
        let i = index as usize - 1;
        match STATIC_TABLE.get(i) {
            Some((n, _)) => n.to_vec(),
            None => self.entries[i - STATIC_TABLE.len()].0.clone(),
        }
    }

    fn insert(&mut self, name: Vec<u8>, value: Vec<u8>) {
        let size = 32 + name.len() + value.len();
        if size > self.max_size {
            self.entries.clear();
            return;
        }
        self.evict_to(self.max_size - size);
        self.entries.insert(0, (name, value));
    }
}
