//! `h2::hpack::Decoder` on a sequence of header blocks and state events. Input: the first
//! two octets (LE) pick the table cap (×4, so up to 256 KiB); then ops, one octet each:
//! 0..=0xef: a header block of that many octets (or what is left); 0xf0: a block whose
//! length follows as two octets (LE); 0xf1: `mark_desynced`; 0xf2: `set_max_table_size`
//! with the next four octets (LE); 0xf3..: a block of the rest of the input.
//! Invariants: no panic; the table within its maximum and the cap; memory about 2× the
//! cap at most; no more fields than octets; no field larger than the cap or than the
//! block could spell (8/5 of it, Huffman); errors end a block (index 0 aside).

use super::Cursor;
use crate::h2::hpack::{Decoder, HeaderField, ENTRY_OVERHEAD};

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    let mut cur = Cursor::new(data);
    let Some(cap) = cur.u16() else {
        return;
    };
    let cap = usize::from(cap) * 4;
    let mut dec = Decoder::new(cap);
    let mut out: Vec<HeaderField> = Vec::new();
    while let Some(op) = cur.u8() {
        let block = match op {
            0..=0xef => cur.bytes_upto(usize::from(op)),
            0xf0 => {
                let Some(len) = cur.u16() else {
                    break;
                };
                cur.bytes_upto(usize::from(len))
            }
            0xf1 => {
                dec.mark_desynced();
                check_table(&dec, cap);
                continue;
            }
            0xf2 => {
                let Some(v) = cur.u32() else {
                    break;
                };
                dec.set_max_table_size(v);
                check_table(&dec, cap);
                continue;
            }
            _ => cur.bytes_upto(usize::MAX),
        };
        out.clear();
        let report = dec.decode(block, &mut out);
        assert!(report.errors as usize <= block.len());
        check_table(&dec, cap);
        assert!(out.len() <= block.len());
        let spelled = block.len() / 5 * 8 + 8;
        for f in &out {
            // From the table (at most an entry: the cap) or from the block.
            let len = f.name.len() + f.value.len();
            assert!(len <= (cap.saturating_sub(ENTRY_OVERHEAD)).max(2 * spelled) + 64);
        }
    }
}

fn check_table(dec: &Decoder, cap: usize) {
    assert!(dec.table_size() <= dec.table_max_size());
    assert!(dec.table_max_size() <= cap);
    assert!(
        dec.mem_bytes() <= 2 * cap + 4096,
        "{} bytes",
        dec.mem_bytes()
    );
}
