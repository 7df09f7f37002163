//! HPACK's static Huffman code (RFC 7541 §5.2, Appendix B): a decoder driven by a table of
//! 256 states × 16 nibbles, built at compile time from the code table below.
//!
//! What it does: turns a Huffman-coded string literal into its octets, four bits per step,
//! and rejects what §5.2 says a decoder MUST treat as an error: the EOS symbol inside the
//! string, padding longer than 7 bits, and padding that is not the most significant bits of
//! EOS (all ones). What it does not: encode (the tests have a small encoder of their own),
//! or limit the output (the caller bounds the input; the output is at most 8/5 of it, as
//! the shortest code has 5 bits).
//!
//! Invariants: the states are the 256 inner nodes of the code tree (257 symbols make 256
//! inner nodes), so a state fits a `u8` and `DECODE[state][nibble]` cannot be out of bounds;
//! one nibble completes at most one symbol (the shortest code is 5 bits long).
//! `CODES` is checked against `rfc7541_appendix_b.txt` (the RFC's table, row by row) by
//! `tests::code_table_matches_rfc_appendix_b`, and the state table against a bit-by-bit
//! walk of the same codes.

/// RFC 7541 Appendix B: per symbol (0..=255, then EOS as 256) the code, aligned to the
/// least significant bit, and its length in bits.
#[rustfmt::skip]
pub(crate) const CODES: [(u32, u8); 257] = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28),  // 0
    (0xfffffe4, 28), (0xfffffe5, 28), (0xfffffe6, 28), (0xfffffe7, 28),  // 4
    (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),  // 8
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28),  // 12
    (0xfffffed, 28), (0xfffffee, 28), (0xfffffef, 28), (0xffffff0, 28),  // 16
    (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),  // 20
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28),  // 24
    (0xffffff8, 28), (0xffffff9, 28), (0xffffffa, 28), (0xffffffb, 28),  // 28
    (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),  // 32
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11),  // 36
    (0x3fa, 10), (0x3fb, 10), (0xf9, 8), (0x7fb, 11),  // 40
    (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),  // 44
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6),  // 48
    (0x1a, 6), (0x1b, 6), (0x1c, 6), (0x1d, 6),  // 52
    (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),  // 56
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10),  // 60
    (0x1ffa, 13), (0x21, 6), (0x5d, 7), (0x5e, 7),  // 64
    (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),  // 68
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7),  // 72
    (0x67, 7), (0x68, 7), (0x69, 7), (0x6a, 7),  // 76
    (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),  // 80
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7),  // 84
    (0xfc, 8), (0x73, 7), (0xfd, 8), (0x1ffb, 13),  // 88
    (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),  // 92
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5),  // 96
    (0x24, 6), (0x5, 5), (0x25, 6), (0x26, 6),  // 100
    (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),  // 104
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5),  // 108
    (0x2b, 6), (0x76, 7), (0x2c, 6), (0x8, 5),  // 112
    (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),  // 116
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15),  // 120
    (0x7fc, 11), (0x3ffd, 14), (0x1ffd, 13), (0xffffffc, 28),  // 124
    (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),  // 128
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23),  // 132
    (0x3fffd6, 22), (0x7fffda, 23), (0x7fffdb, 23), (0x7fffdc, 23),  // 136
    (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),  // 140
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23),  // 144
    (0xffffee, 24), (0x7fffe1, 23), (0x7fffe2, 23), (0x7fffe3, 23),  // 148
    (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),  // 152
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24),  // 156
    (0x3fffda, 22), (0x1fffdd, 21), (0xfffe9, 20), (0x3fffdb, 22),  // 160
    (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),  // 164
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24),  // 168
    (0x1fffdf, 21), (0x3fffdf, 22), (0x7fffeb, 23), (0x7fffec, 23),  // 172
    (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),  // 176
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23),  // 180
    (0xfffea, 20), (0x3fffe2, 22), (0x3fffe3, 22), (0x3fffe4, 22),  // 184
    (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),  // 188
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19),  // 192
    (0x3fffe7, 22), (0x7ffff2, 23), (0x3fffe8, 22), (0x1ffffec, 25),  // 196
    (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),  // 200
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25),  // 204
    (0x7fff2, 19), (0x1fffe3, 21), (0x3ffffe6, 26), (0x7ffffe0, 27),  // 208
    (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),  // 212
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26),  // 216
    (0xffffffd, 28), (0x7ffffe3, 27), (0x7ffffe4, 27), (0x7ffffe5, 27),  // 220
    (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),  // 224
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23),  // 228
    (0x3fffea, 22), (0x3fffeb, 22), (0x1ffffee, 25), (0x1ffffef, 25),  // 232
    (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),  // 236
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26),  // 240
    (0x7ffffe7, 27), (0x7ffffe8, 27), (0x7ffffe9, 27), (0x7ffffea, 27),  // 244
    (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),  // 248
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26),  // 252
    (0x3fffffff, 30),  // 256
];

/// The end-of-string symbol: only its prefix may appear, as padding (§5.2).
const EOS: usize = 256;

/// A transition emits `sym`.
const EMIT: u8 = 1;
/// The string may end after this transition: the bits since the last symbol are at most
/// 7 ones (a prefix of EOS, the only valid padding, §5.2).
const ACCEPT: u8 = 2;
/// The transition met EOS: the string is invalid (§5.2).
const FAIL: u8 = 4;

/// One step of the decoder: the state after a nibble, what happened, the symbol emitted.
#[derive(Clone, Copy)]
struct Step {
    next: u8,
    flags: u8,
    sym: u8,
}

/// A child in the code tree: an inner node (`< 256`), a symbol (`LEAF + sym`), or nothing.
const LEAF: u16 = 256;
const NONE: u16 = u16::MAX;

/// The code tree of `CODES`: children per inner node (node 0 is the root), and per inner
/// node whether the path to it is at most 7 ones (where a string may end).
/// Evaluated at compile time: an inconsistent `CODES` (not a prefix code, more than 256
/// inner nodes) fails the build.
const fn code_tree() -> ([[u16; 2]; 256], [bool; 256]) {
    let mut child = [[NONE; 2]; 256];
    let mut depth = [0u8; 256];
    let mut ones = [false; 256];
    ones[0] = true;
    let mut nodes = 1usize;
    let mut sym = 0;
    while sym < CODES.len() {
        let (code, len) = CODES[sym];
        let mut node = 0usize;
        let mut i = 0;
        while i < len {
            let bit = ((code >> (len - 1 - i)) & 1) as usize;
            if i + 1 == len {
                assert!(child[node][bit] == NONE, "a code is a prefix of another");
                child[node][bit] = LEAF + sym as u16;
            } else {
                if child[node][bit] == NONE {
                    assert!(nodes < 256, "more than 256 inner nodes");
                    child[node][bit] = nodes as u16;
                    depth[nodes] = depth[node] + 1;
                    ones[nodes] = ones[node] && bit == 1;
                    nodes += 1;
                }
                assert!(child[node][bit] < LEAF, "a code extends another");
                node = child[node][bit] as usize;
            }
            i += 1;
        }
        sym += 1;
    }
    let mut accept = [false; 256];
    let mut n = 0;
    while n < 256 {
        accept[n] = ones[n] && depth[n] <= 7;
        n += 1;
    }
    (child, accept)
}

/// For each state (inner node) and each nibble, most significant bit first: walk the
/// tree, emitting a symbol and restarting at the root on reaching a leaf.
const fn decode_table() -> [[Step; 16]; 256] {
    let (child, accept) = code_tree();
    let mut table = [[Step {
        next: 0,
        flags: FAIL,
        sym: 0,
    }; 16]; 256];
    let mut state = 0;
    while state < 256 {
        let mut nibble = 0;
        while nibble < 16 {
            let mut node = state;
            let mut step = Step {
                next: 0,
                flags: 0,
                sym: 0,
            };
            let mut bit = 0;
            while bit < 4 {
                let c = child[node][(nibble >> (3 - bit)) & 1];
                assert!(c != NONE, "the code is not complete");
                if c >= LEAF {
                    let sym = (c - LEAF) as usize;
                    if sym == EOS {
                        step.flags = FAIL;
                        break;
                    }
                    step.flags |= EMIT;
                    step.sym = sym as u8;
                    node = 0;
                } else {
                    node = c as usize;
                }
                bit += 1;
            }
            if step.flags & FAIL == 0 {
                step.next = node as u8;
                if accept[node] {
                    step.flags |= ACCEPT;
                }
            }
            table[state][nibble] = step;
            nibble += 1;
        }
        state += 1;
    }
    table
}

static DECODE: [[Step; 16]; 256] = decode_table();

/// Why a Huffman-coded string is invalid (RFC 7541 §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HuffmanError {
    /// The EOS symbol was decoded inside the string.
    Eos,
    /// The string ends inside a symbol: with more than 7 bits of padding, or padding that
    /// is not all ones.
    Padding,
}

/// Decodes `src` and appends the octets to `out`. On error, `out` holds what was decoded
/// before it (the caller discards it).
pub fn decode(src: &[u8], out: &mut Vec<u8>) -> Result<(), HuffmanError> {
    // At most 8/5 octets per input octet: every code is at least 5 bits long.
    out.reserve(src.len() / 5 * 8 + 8);
    let mut state = 0u8;
    let mut accept = true;
    for &byte in src {
        for nibble in [byte >> 4, byte & 0x0f] {
            let step = DECODE[state as usize][nibble as usize];
            if step.flags & FAIL != 0 {
                return Err(HuffmanError::Eos);
            }
            if step.flags & EMIT != 0 {
                out.push(step.sym);
            }
            state = step.next;
            accept = step.flags & ACCEPT != 0;
        }
    }
    if accept {
        Ok(())
    } else {
        Err(HuffmanError::Padding)
    }
}

/// Encodes `src` with the Appendix B code, padding with ones (the tests' encoder).
#[cfg(test)]
pub(crate) fn encode(src: &[u8], out: &mut Vec<u8>) {
    let mut acc: u64 = 0;
    let mut bits = 0u32;
    for &b in src {
        let (code, len) = CODES[b as usize];
        acc = (acc << len) | u64::from(code);
        bits += u32::from(len);
        while bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    if bits > 0 {
        let pad = 8 - bits;
        out.push(((acc << pad) | ((1 << pad) - 1)) as u8);
    }
}

/// The length of `src` Huffman-coded, in octets.
#[cfg(test)]
pub(crate) fn encoded_len(src: &[u8]) -> usize {
    let bits: usize = src.iter().map(|&b| CODES[b as usize].1 as usize).sum();
    bits.div_ceil(8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Rows `(sym, bits, hex, len)` of the RFC's Appendix B table, as printed there.
    fn appendix_b_rows() -> Vec<(usize, String, u32, u8)> {
        let text = include_str!("rfc7541_appendix_b.txt");
        let mut rows = Vec::new();
        for line in text.lines() {
            // "   'a' ( 97)  |00011     3  [ 5]": the symbol in parentheses just before
            // ")  |" (the character in quotes may itself be a parenthesis or a bar), then
            // the bits between bars, the hex code, the length in brackets.
            let Some(close) = line.find(")  |") else {
                continue;
            };
            let Some(open) = line[..close].rfind('(') else {
                continue;
            };
            let Ok(sym) = line[open + 1..close].trim().parse::<usize>() else {
                continue;
            };
            let rest: Vec<&str> = line[close + 1..].split_whitespace().collect();
            let bits: String = rest[0].chars().filter(|&c| c != '|').collect();
            let hex = u32::from_str_radix(rest[1], 16).unwrap();
            let len_text: String = rest[2..].concat();
            let len: u8 = len_text.trim_matches(['[', ']']).parse().unwrap();
            rows.push((sym, bits, hex, len));
        }
        rows
    }

    #[test]
    fn code_table_matches_rfc_appendix_b() {
        let rows = appendix_b_rows();
        assert_eq!(rows.len(), 257);
        for (i, (sym, bits, hex, len)) in rows.iter().enumerate() {
            assert_eq!(*sym, i, "rows in symbol order");
            // Each row agrees with itself: the bits, the hex and the length.
            assert_eq!(bits.len(), *len as usize, "symbol {sym}: length");
            assert_eq!(
                u32::from_str_radix(bits, 2).unwrap(),
                *hex,
                "symbol {sym}: bits"
            );
            assert_eq!(CODES[i], (*hex, *len), "symbol {sym}: CODES");
        }
        // A complete prefix code: the Kraft sum is exactly 1 (in units of 2^-30).
        let kraft: u64 = CODES.iter().map(|&(_, len)| 1u64 << (30 - len)).sum();
        assert_eq!(kraft, 1 << 30);
    }

    /// The obvious decoder: accumulate bits, look the prefix up among all 257 codes.
    fn reference_decode(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        let (mut code, mut len) = (0u32, 0u8);
        for i in 0..src.len() * 8 {
            let bit = (src[i / 8] >> (7 - i % 8)) & 1;
            code = (code << 1) | u32::from(bit);
            len += 1;
            if let Some(sym) = CODES.iter().position(|&c| c == (code, len)) {
                if sym == EOS {
                    return Err(HuffmanError::Eos);
                }
                out.push(sym as u8);
                (code, len) = (0, 0);
            }
        }
        // Padding: at most 7 bits, all ones.
        if len > 7 || code != (1 << len) - 1 {
            return Err(HuffmanError::Padding);
        }
        Ok(out)
    }

    fn decoded(src: &[u8]) -> Result<Vec<u8>, HuffmanError> {
        let mut out = Vec::new();
        decode(src, &mut out).map(|()| out)
    }

    #[test]
    fn rfc7541_c4_strings() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let cases = [
            ("f1e3c2e5f23a6ba0ab90f4ff", "www.example.com"),
            ("a8eb10649cbf", "no-cache"),
            ("25a849e95ba97d7f", "custom-key"),
            ("25a849e95bb8e8b4bf", "custom-value"),
            ("6402", "302"),
            ("aec3771a4b", "private"),
            (
                "d07abe941054d444a8200595040b8166e082a62d1bff",
                "Mon, 21 Oct 2013 20:13:21 GMT",
            ),
            (
                "9d29ad171863c78f0b97c8e9ae82ae43d3",
                "https://www.example.com",
            ),
        ];
        for (coded, text) in cases {
            assert_eq!(decoded(&hex(coded)).unwrap(), text.as_bytes(), "{text}");
            let mut again = Vec::new();
            encode(text.as_bytes(), &mut again);
            assert_eq!(again, hex(coded), "{text} encoded");
        }
    }

    #[test]
    fn every_symbol_and_pair_round_trips() {
        for a in 0..=255u8 {
            for b in [0u8, b'a', b'0', 0x7f, 0xff, a] {
                let mut coded = Vec::new();
                encode(&[a, b], &mut coded);
                assert_eq!(coded.len(), encoded_len(&[a, b]));
                assert_eq!(decoded(&coded).unwrap(), [a, b]);
            }
        }
    }

    #[test]
    fn invalid_strings_are_errors() {
        // 8 bits of padding (RFC 7541 §5.2: longer than 7 bits).
        assert_eq!(decoded(&[0xff]), Err(HuffmanError::Padding));
        // 'a' (00011) then zeros instead of ones.
        assert_eq!(decoded(&[0b0001_1000]), Err(HuffmanError::Padding));
        // 'a' then 3 ones: valid.
        assert_eq!(decoded(&[0b0001_1111]).unwrap(), b"a");
        // EOS (30 ones) inside the string.
        assert_eq!(decoded(&[0xff, 0xff, 0xff, 0xfc]), Err(HuffmanError::Eos));
        assert_eq!(decoded(&[0xff; 8]), Err(HuffmanError::Eos));
        // The empty string is valid and empty.
        assert_eq!(decoded(&[]).unwrap(), b"");
    }

    proptest! {
        #[test]
        fn table_decoder_equals_bitwise_decoder(src in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assert_eq!(decoded(&src), reference_decode(&src));
        }

        #[test]
        fn round_trip(src in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut coded = Vec::new();
            encode(&src, &mut coded);
            prop_assert_eq!(decoded(&coded).unwrap(), src);
        }
    }
}
