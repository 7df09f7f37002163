//! Differential tests against `loona_hpack` (a dev-dependency, used only here): header
//! lists encoded by the tests' model encoder with random representations, then random and
//! mutated bytes; and the tolerant mode against the model when a block is lost.

use proptest::prelude::*;

use super::test_encoder::{Encoder, Mode, Rep};
use super::*;

/// A header to encode and how: `sel` picks the representation among those the table
/// allows, the literal mode and Huffman coding.
#[derive(Clone, Debug)]
struct Planned {
    name: Vec<u8>,
    value: Vec<u8>,
    sel: u8,
}

/// One block: an optional size update first, then the headers.
#[derive(Clone, Debug)]
struct PlannedBlock {
    size_update: Option<u32>,
    headers: Vec<Planned>,
}

fn name() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Names of the static table, so indexed names and fields occur.
        prop::sample::select(vec![
            ":method",
            ":path",
            ":status",
            ":authority",
            "cookie",
            "content-type",
            "accept-encoding",
            "user-agent",
            "www-authenticate",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        // A few repeated names, so the dynamic table is referenced.
        prop::sample::select(vec!["x-a", "x-b", "x-trace-id"]).prop_map(|s| s.as_bytes().to_vec()),
        "[a-z0-9-]{0,12}".prop_map(String::into_bytes),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec!["GET", "/", "200", "gzip, deflate", "", "1"])
            .prop_map(|s| s.as_bytes().to_vec()),
        // Any octets: every Huffman code.
        prop::collection::vec(any::<u8>(), 0..40),
        "[ -~]{0,300}".prop_map(String::into_bytes),
    ]
}

fn planned_block() -> impl Strategy<Value = PlannedBlock> {
    let size = prop_oneof![
        3 => Just(None),
        1 => prop_oneof![Just(0u32), Just(64), Just(256), Just(4096), 0u32..=4096].prop_map(Some),
    ];
    let header =
        (name(), value(), any::<u8>()).prop_map(|(name, value, sel)| Planned { name, value, sel });
    (size, prop::collection::vec(header, 0..12)).prop_map(|(size_update, headers)| PlannedBlock {
        size_update,
        headers,
    })
}

/// Picks the representation of `h` as an encoder might, given its table.
fn representation(enc: &Encoder, h: &Planned) -> Rep {
    let (full, name_only) = enc.find(&h.name, &h.value);
    let mode = match (h.sel >> 2) % 3 {
        0 => Mode::Incremental,
        1 => Mode::Without,
        _ => Mode::Never,
    };
    let huffman = h.sel & 0x20 != 0;
    match (full, name_only, h.sel % 4) {
        (Some(index), _, 0..=2) => Rep::Indexed(index),
        (_, Some(index), 0..=2) => Rep::IndexedName {
            index,
            value: h.value.clone(),
            mode,
            huffman,
        },
        _ => Rep::NewName {
            name: h.name.clone(),
            value: h.value.clone(),
            mode,
            huffman,
        },
    }
}

/// Encodes the blocks with the model encoder: per block its octets, the fields it
/// carries and the encoder's table after it.
#[allow(clippy::type_complexity)]
fn encode(blocks: &[PlannedBlock]) -> Vec<(Vec<u8>, Vec<HeaderField>, Vec<(Vec<u8>, Vec<u8>)>)> {
    let mut enc = Encoder::new();
    blocks
        .iter()
        .map(|b| {
            let mut out = Vec::new();
            // loona rejects a block that ends with a size update (SizeUpdateAtEnd).
            if let (Some(size), false) = (b.size_update, b.headers.is_empty()) {
                enc.encode(&mut out, &Rep::SizeUpdate(size));
            }
            let mut want = Vec::new();
            for h in &b.headers {
                let rep = representation(&enc, h);
                enc.encode(&mut out, &rep);
                want.push(HeaderField {
                    name: h.name.clone(),
                    value: h.value.clone(),
                });
            }
            (out, want, enc.entries.clone())
        })
        .collect()
}

fn loona_fields(list: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<HeaderField> {
    list.into_iter()
        .map(|(name, value)| HeaderField { name, value })
        .collect()
}

/// Decodes `blocks` with both decoders, comparing while loona accepts them; stops at
/// loona's first error (its table is then left half-way). Returns how many blocks loona
/// accepted.
fn compare_with_loona(blocks: &[Vec<u8>]) -> Result<usize, TestCaseError> {
    let mut ours = Decoder::new(H2_MAX_HPACK_TABLE);
    let mut theirs = loona_hpack::Decoder::new();
    let mut ours_alive = true;
    for (i, block) in blocks.iter().enumerate() {
        let mut out = Vec::new();
        let report = ours.decode(block, &mut out);
        prop_assert!(ours.table_size() <= H2_MAX_HPACK_TABLE);
        prop_assert!(ours.mem_bytes() <= 2 * H2_MAX_HPACK_TABLE + 1024);
        if !ours_alive {
            continue;
        }
        match theirs.decode(block) {
            Ok(list) => {
                prop_assert_eq!(&out, &loona_fields(list), "block {}", i);
                prop_assert!(report.is_clean(), "block {}: {:?}", i, report);
            }
            Err(_) => {
                // Keep feeding ours (it must not panic), stop comparing.
                ours_alive = false;
                let _ = i;
            }
        }
        if !ours_alive {
            return Ok(i);
        }
    }
    Ok(blocks.len())
}

/// A change to the encoded octets.
#[derive(Clone, Debug)]
enum Mutation {
    Flip { block: usize, at: usize, bit: u8 },
    Set { block: usize, at: usize, byte: u8 },
    Insert { block: usize, at: usize, byte: u8 },
    Remove { block: usize, at: usize },
    Truncate { block: usize, at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let (b, a) = (any::<usize>(), any::<usize>());
    prop_oneof![
        (b, a, 0u8..8).prop_map(|(block, at, bit)| Mutation::Flip { block, at, bit }),
        (b, a, any::<u8>()).prop_map(|(block, at, byte)| Mutation::Set { block, at, byte }),
        (b, a, any::<u8>()).prop_map(|(block, at, byte)| Mutation::Insert { block, at, byte }),
        (b, a).prop_map(|(block, at)| Mutation::Remove { block, at }),
        (b, a).prop_map(|(block, at)| Mutation::Truncate { block, at }),
    ]
}

fn apply(blocks: &mut [Vec<u8>], m: &Mutation) {
    let n = blocks.len();
    if n == 0 {
        return;
    }
    let (Mutation::Flip { block, .. }
    | Mutation::Set { block, .. }
    | Mutation::Insert { block, .. }
    | Mutation::Remove { block, .. }
    | Mutation::Truncate { block, .. }) = *m;
    let b = &mut blocks[block % n];
    let len = b.len();
    match *m {
        Mutation::Flip { at, bit, .. } if len > 0 => b[at % len] ^= 1 << bit,
        Mutation::Set { at, byte, .. } if len > 0 => b[at % len] = byte,
        Mutation::Insert { at, byte, .. } => b.insert(at % (len + 1), byte),
        Mutation::Remove { at, .. } if len > 0 => {
            b.remove(at % len);
        }
        Mutation::Truncate { at, .. } => b.truncate(at % (len + 1)),
        _ => {}
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Well-formed blocks: ours, loona and the model agree on every field and on the
    /// table after every block.
    #[test]
    fn encoded_blocks_decode_like_loona(blocks in prop::collection::vec(planned_block(), 1..8)) {
        let encoded = encode(&blocks);
        let mut ours = Decoder::new(H2_MAX_HPACK_TABLE);
        let mut theirs = loona_hpack::Decoder::new();
        for (i, (octets, want, table)) in encoded.iter().enumerate() {
            let mut out = Vec::new();
            let report = ours.decode(octets, &mut out);
            prop_assert!(report.is_clean(), "block {}: {:?}", i, report);
            let updated = blocks[i].size_update.is_some() && !blocks[i].headers.is_empty();
            prop_assert_eq!(report.size_updates, u32::from(updated));
            prop_assert_eq!(&out, want, "block {}", i);
            let list = theirs.decode(octets).map_err(|e| TestCaseError::fail(format!("loona: {e:?}")))?;
            prop_assert_eq!(&out, &loona_fields(list), "block {}", i);
            let (entries, unknown) = ours.table.entries();
            prop_assert_eq!(unknown, 0);
            let entries: Vec<(Vec<u8>, Vec<u8>)> =
                entries.into_iter().map(|(n, v)| (n.unwrap_or_default(), v)).collect();
            prop_assert_eq!(&entries, table, "table after block {}", i);
        }
    }

    /// Mutated blocks: ours never panics, and while loona accepts the blocks ours gives
    /// the same fields, cleanly.
    #[test]
    fn mutated_blocks_decode_like_loona_where_it_accepts_them(
        blocks in prop::collection::vec(planned_block(), 1..6),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut octets: Vec<Vec<u8>> = encode(&blocks).into_iter().map(|(o, _, _)| o).collect();
        for m in &mutations {
            apply(&mut octets, m);
        }
        compare_with_loona(&octets)?;
    }

    /// Random octets, biased towards short valid-looking prefixes.
    #[test]
    fn random_blocks_decode_like_loona_where_it_accepts_them(
        blocks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..64), 1..6),
    ) {
        compare_with_loona(&blocks)?;
    }

    /// Tolerant mode: one block lost. Before it, exact; after it, every field is either
    /// the right one or a placeholder (with the right value when only the name was
    /// indexed), never another field; the table's known entries are the encoder's newest.
    #[test]
    fn a_lost_block_never_gives_a_wrong_field(
        blocks in prop::collection::vec(planned_block(), 2..10),
        lost in any::<prop::sample::Index>(),
    ) {
        let encoded = encode(&blocks);
        let lost = lost.index(encoded.len());
        let mut ours = Decoder::new(H2_MAX_HPACK_TABLE);
        for (i, (octets, want, table)) in encoded.iter().enumerate() {
            if i == lost {
                ours.mark_desynced();
                continue;
            }
            let mut out = Vec::new();
            let report = ours.decode(octets, &mut out);
            prop_assert_eq!(report.errors, 0);
            prop_assert_eq!(out.len(), want.len());
            let mut placeholders = 0;
            for (got, want) in out.iter().zip(want) {
                if got != want {
                    prop_assert!(i > lost, "block {} before the loss: {:?}", i, got);
                    prop_assert!(got.is_placeholder(), "block {}: {:?} for {:?}", i, got, want);
                    prop_assert!(got.value.is_empty() || got.value == want.value);
                    placeholders += 1;
                }
            }
            // Placeholders are counted (a placeholder may also match by chance: a field
            // named like one, or an empty value in both).
            prop_assert!(report.unknown_indices >= placeholders);
            let (entries, _) = ours.table.entries();
            for (j, (name, value)) in entries.iter().enumerate() {
                if let Some(theirs) = table.get(j) {
                    if let Some(name) = name {
                        prop_assert_eq!(name, &theirs.0, "entry {} after block {}", j, i);
                    }
                    prop_assert_eq!(value, &theirs.1, "entry {} after block {}", j, i);
                }
            }
        }
    }
}
