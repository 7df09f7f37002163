//! TEMPORARY stand-in for the HPACK decoder being written on branch `hpack`
//! (`src/h2/hpack/`), with its API. It decodes only literal fields with literal names,
//! without Huffman (what the tests' encoder writes); everything else counts an error and
//! ends the block. Removed when `hpack` is merged.

/// One decoded header field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderField {
    pub name: Vec<u8>,
    pub value: Vec<u8>,
}

/// What decoding one block met.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockReport {
    pub unknown_indices: u32,
    pub errors: u32,
    pub size_updates: u32,
    pub table_capped: bool,
}

/// The stand-in decoder.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    desynced: bool,
}

impl Decoder {
    pub fn new(_table_cap: usize) -> Decoder {
        Decoder::default()
    }
    pub fn set_max_table_size(&mut self, _settings_value: u32) {}
    pub fn mark_desynced(&mut self) {
        self.desynced = true;
    }
    pub fn is_desynced(&self) -> bool {
        self.desynced
    }
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
    }

    pub fn decode(&mut self, block: &[u8], out: &mut Vec<HeaderField>) -> BlockReport {
        let mut r = BlockReport::default();
        let mut p = block;
        while let Some(&b) = p.first() {
            if b & 0xe0 == 0x20 {
                r.size_updates += 1;
                let Some((_, rest)) = int(p, 5) else { break };
                p = rest;
                continue;
            }
            if !matches!(b, 0x00 | 0x10 | 0x40) {
                r.errors += 1;
                break;
            }
            p = &p[1..];
            let Some((name, rest)) = string(p) else {
                r.errors += 1;
                break;
            };
            let Some((value, rest)) = string(rest) else {
                r.errors += 1;
                break;
            };
            p = rest;
            out.push(HeaderField {
                name: name.to_vec(),
                value: value.to_vec(),
            });
        }
        r
    }
}

fn int(p: &[u8], prefix: u8) -> Option<(u64, &[u8])> {
    let max = (1u64 << prefix) - 1;
    let (&b, mut rest) = p.split_first()?;
    let mut v = u64::from(b) & max;
    if v < max {
        return Some((v, rest));
    }
    let mut shift = 0;
    loop {
        let (&b, r) = rest.split_first()?;
        rest = r;
        v = v.checked_add(u64::from(b & 0x7f).checked_shl(shift)?)?;
        shift += 7;
        if b & 0x80 == 0 || shift > 56 {
            return Some((v, rest));
        }
    }
}

fn string(p: &[u8]) -> Option<(&[u8], &[u8])> {
    if p.first()? & 0x80 != 0 {
        return None; // Huffman: not in the stand-in
    }
    let (n, rest) = int(p, 7)?;
    let n = usize::try_from(n).ok()?;
    Some((rest.get(..n)?, rest.get(n..)?))
}
