//! RFC 7541 Appendix C examples (fields, table contents and sizes after each block) and
//! the tolerant behaviour: lost blocks, malformed input, caps.

use super::test_encoder::{self, Encoder, Mode, Rep};
use super::*;

/// Octets from a hex dump as printed in the RFC (spaces and line breaks ignored).
fn hex(dump: &str) -> Vec<u8> {
    let digits: Vec<u8> = dump.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    assert_eq!(digits.len() % 2, 0, "odd hex dump");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn fields(list: &[(&str, &str)]) -> Vec<HeaderField> {
    list.iter()
        .map(|(n, v)| HeaderField {
            name: n.as_bytes().to_vec(),
            value: v.as_bytes().to_vec(),
        })
        .collect()
}

/// Decodes `dump` and checks the fields, the dynamic table (newest first) and its size
/// as the RFC prints them.
fn step(dec: &mut Decoder, dump: &str, want: &[(&str, &str)], table: &[(&str, &str)], size: usize) {
    let mut out = Vec::new();
    let report = dec.decode(&hex(dump), &mut out);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(out, fields(want));
    let (entries, unknown) = dec.table.entries();
    let entries: Vec<HeaderField> = entries
        .into_iter()
        .map(|(n, v)| HeaderField {
            name: n.expect("known name"),
            value: v,
        })
        .collect();
    assert_eq!(entries, fields(table));
    assert_eq!(unknown, 0);
    assert_eq!(dec.table_size(), size);
}

#[test]
fn rfc7541_c1_integers() {
    // C.1.1: 10 with a 5-bit prefix (the bits above the prefix are not the integer's).
    let mut cur = Cursor {
        block: &[0xea],
        pos: 0,
    };
    assert_eq!(cur.integer(5), Ok(10));
    // C.1.2: 1337 with a 5-bit prefix.
    let mut cur = Cursor {
        block: &[0x1f, 0x9a, 0x0a],
        pos: 0,
    };
    assert_eq!(cur.integer(5), Ok(1337));
    assert_eq!(cur.pos, 3);
    // C.1.3: 42 on an octet boundary.
    let mut cur = Cursor {
        block: &[0x2a],
        pos: 0,
    };
    assert_eq!(cur.integer(8), Ok(42));
}

#[test]
fn rfc7541_c2_representations() {
    // C.2.1 literal with indexing.
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    step(
        &mut dec,
        "400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572",
        &[("custom-key", "custom-header")],
        &[("custom-key", "custom-header")],
        55,
    );
    // C.2.2 literal without indexing.
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    step(
        &mut dec,
        "040c 2f73 616d 706c 652f 7061 7468",
        &[(":path", "/sample/path")],
        &[],
        0,
    );
    // C.2.3 literal never indexed.
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    step(
        &mut dec,
        "1008 7061 7373 776f 7264 0673 6563 7265 74",
        &[("password", "secret")],
        &[],
        0,
    );
    // C.2.4 indexed.
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    step(&mut dec, "82", &[(":method", "GET")], &[], 0);
}

const AUTH: (&str, &str) = (":authority", "www.example.com");
const NO_CACHE: (&str, &str) = ("cache-control", "no-cache");
const CUSTOM: (&str, &str) = ("custom-key", "custom-value");

/// C.3 and C.4: the same three requests, raw and Huffman-coded.
fn requests(dumps: [&str; 3]) {
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    let get = [(":method", "GET"), (":scheme", "http"), (":path", "/")];
    step(
        &mut dec,
        dumps[0],
        &[get[0], get[1], get[2], AUTH],
        &[AUTH],
        57,
    );
    step(
        &mut dec,
        dumps[1],
        &[get[0], get[1], get[2], AUTH, NO_CACHE],
        &[NO_CACHE, AUTH],
        110,
    );
    step(
        &mut dec,
        dumps[2],
        &[
            (":method", "GET"),
            (":scheme", "https"),
            (":path", "/index.html"),
            AUTH,
            CUSTOM,
        ],
        &[CUSTOM, NO_CACHE, AUTH],
        164,
    );
}

#[test]
fn rfc7541_c3_requests_without_huffman() {
    requests([
        "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
        "8286 84be 5808 6e6f 2d63 6163 6865",
        "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
    ]);
}

#[test]
fn rfc7541_c4_requests_with_huffman() {
    requests([
        "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
        "8286 84be 5886 a8eb 1064 9cbf",
        "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
    ]);
}

const LOCATION: (&str, &str) = ("location", "https://www.example.com");
const DATE21: (&str, &str) = ("date", "Mon, 21 Oct 2013 20:13:21 GMT");
const DATE22: (&str, &str) = ("date", "Mon, 21 Oct 2013 20:13:22 GMT");
const PRIVATE: (&str, &str) = ("cache-control", "private");
const GZIP: (&str, &str) = ("content-encoding", "gzip");
const COOKIE: (&str, &str) = (
    "set-cookie",
    "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1",
);

/// C.5 and C.6: three responses with SETTINGS_HEADER_TABLE_SIZE 256, so entries are
/// evicted.
fn responses(dumps: [&str; 3]) {
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    dec.set_max_table_size(256);
    assert_eq!(dec.table_max_size(), 256);
    step(
        &mut dec,
        dumps[0],
        &[(":status", "302"), PRIVATE, DATE21, LOCATION],
        &[LOCATION, DATE21, PRIVATE, (":status", "302")],
        222,
    );
    step(
        &mut dec,
        dumps[1],
        &[(":status", "307"), PRIVATE, DATE21, LOCATION],
        &[(":status", "307"), LOCATION, DATE21, PRIVATE],
        222,
    );
    step(
        &mut dec,
        dumps[2],
        &[(":status", "200"), PRIVATE, DATE22, LOCATION, GZIP, COOKIE],
        &[COOKIE, GZIP, DATE22],
        215,
    );
}

#[test]
fn rfc7541_c5_responses_without_huffman() {
    responses([
        "4803 3330 3258 0770 7269 7661 7465 611d
         4d6f 6e2c 2032 3120 4f63 7420 3230 3133
         2032 303a 3133 3a32 3120 474d 546e 1768
         7474 7073 3a2f 2f77 7777 2e65 7861 6d70
         6c65 2e63 6f6d",
        "4803 3330 37c1 c0bf",
        "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420
         3230 3133 2032 303a 3133 3a32 3220 474d
         54c0 5a04 677a 6970 7738 666f 6f3d 4153
         444a 4b48 514b 425a 584f 5157 454f 5049
         5541 5851 5745 4f49 553b 206d 6178 2d61
         6765 3d33 3630 303b 2076 6572 7369 6f6e
         3d31",
    ]);
}

#[test]
fn rfc7541_c6_responses_with_huffman() {
    responses([
        "4882 6402 5885 aec3 771a 4b61 96d0 7abe
         9410 54d4 44a8 2005 9504 0b81 66e0 82a6
         2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8
         e9ae 82ae 43d3",
        "4883 640e ffc1 c0bf",
        "88c1 6196 d07a be94 1054 d444 a820 0595
         040b 8166 e084 a62d 1bff c05a 839b d9ab
         77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b
         3960 d5af 2708 7f36 72c1 ab27 0fb5 291f
         9587 3160 65c0 03ed 4ee5 b106 3d50 07",
    ]);
}

fn decode(dec: &mut Decoder, block: &[u8]) -> (Vec<HeaderField>, BlockReport) {
    let mut out = Vec::new();
    let report = dec.decode(block, &mut out);
    (out, report)
}

fn field(name: &str, value: &str) -> HeaderField {
    fields(&[(name, value)]).remove(0)
}

fn lit(name: &str, value: &str) -> Rep {
    Rep::NewName {
        name: name.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        mode: Mode::Incremental,
        huffman: false,
    }
}

/// Encodes a block with the model encoder.
fn block(enc: &mut Encoder, reps: &[Rep]) -> Vec<u8> {
    let mut out = Vec::new();
    for rep in reps {
        enc.encode(&mut out, rep);
    }
    out
}

#[test]
fn lost_block_gives_placeholders_then_the_table_recovers() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    let b1 = block(&mut enc, &[lit("a", "1"), lit("b", "2")]);
    let (out, report) = decode(&mut dec, &b1);
    assert!(report.is_clean());
    assert_eq!(out, [field("a", "1"), field("b", "2")]);
    // Lost: inserts c and d, so the encoder's table is d, c, b, a (62..=65).
    let _lost = block(&mut enc, &[lit("c", "3"), lit("d", "4")]);
    dec.mark_desynced();
    assert!(dec.is_desynced());
    assert_eq!(dec.table_size(), 4096, "128 placeholders of 32 octets");
    // References a (65) and c (63), a static field, a new literal e; and a literal whose
    // name is c's (63) with a new value, inserted.
    let b3 = block(
        &mut enc,
        &[
            Rep::Indexed(65),
            Rep::Indexed(2),
            Rep::Indexed(63),
            lit("e", "5"),
            Rep::IndexedName {
                index: 64,
                value: b"33".to_vec(),
                mode: Mode::Incremental,
                huffman: true,
            },
        ],
    );
    let (out, report) = decode(&mut dec, &b3);
    assert_eq!(
        out,
        [
            field("x-httshark-unknown-index-65", ""),
            field(":method", "GET"),
            field("x-httshark-unknown-index-63", ""),
            field("e", "5"),
            // c moved to 64 once e was inserted: its name is unknown, its new value not.
            field("x-httshark-unknown-index-64", "33"),
        ]
    );
    assert_eq!(report.unknown_indices, 3);
    assert_eq!(report.errors, 0);
    assert!(!report.is_clean());
    // The encoder's table is now c:33, e, d, c, b, a. e (63) is known; the entry at 62
    // has a known value and an unknown name; d (64) is a placeholder.
    let b4 = block(
        &mut enc,
        &[Rep::Indexed(63), Rep::Indexed(62), Rep::Indexed(64)],
    );
    let (out, report) = decode(&mut dec, &b4);
    assert_eq!(
        out,
        [
            field("e", "5"),
            field("x-httshark-unknown-index-62", "33"),
            field("x-httshark-unknown-index-64", ""),
        ]
    );
    assert_eq!(report.unknown_indices, 2);
    // Enough insertions push every placeholder and uncertain entry out: 4096 octets.
    let many: Vec<Rep> = (0..40)
        .map(|i| lit(&format!("name-{i:02}"), &"v".repeat(100)))
        .collect();
    let (out, report) = decode(&mut dec, &block(&mut enc, &many));
    assert!(report.is_clean());
    assert_eq!(out.len(), 40);
    assert!(!dec.is_desynced());
    // In step: the same entries as the encoder, and every index resolves as it does.
    let (entries, unknown) = dec.table.entries();
    assert_eq!(unknown, 0);
    let entries: Vec<(Vec<u8>, Vec<u8>)> =
        entries.into_iter().map(|(n, v)| (n.unwrap(), v)).collect();
    assert_eq!(entries, enc.entries);
    assert_eq!(dec.table_size(), enc.size());
    let refs: Vec<Rep> = (62..62 + enc.entries.len() as u32)
        .map(Rep::Indexed)
        .collect();
    let (out, report) = decode(&mut dec, &block(&mut enc, &refs));
    assert!(report.is_clean());
    let want: Vec<HeaderField> = enc
        .entries
        .iter()
        .map(|(n, v)| HeaderField {
            name: n.clone(),
            value: v.clone(),
        })
        .collect();
    assert_eq!(out, want);
}

#[test]
fn size_update_to_zero_ends_a_desync() {
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    dec.mark_desynced();
    assert!(dec.is_desynced());
    let (out, report) = decode(&mut dec, &[0x20, 0x3f, 0xe1, 0x1f, 0x82]);
    assert_eq!(out, [field(":method", "GET")]);
    assert_eq!(report.size_updates, 2);
    assert!(!dec.is_desynced());
    assert_eq!(dec.table_size(), 0);
    assert_eq!(dec.table_max_size(), 4096);
}

#[test]
fn desync_assumes_the_announced_table_size() {
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    dec.set_max_table_size(10_000);
    // An increase changes nothing until the encoder's size update.
    assert_eq!(dec.table_max_size(), 4096);
    dec.mark_desynced();
    assert_eq!(dec.table_max_size(), 10_000);
    assert_eq!(dec.table_size(), 10_000 / 32 * 32);
    // Capped: at most the cap, whatever is announced.
    let mut dec = Decoder::new(1000);
    dec.set_max_table_size(u32::MAX);
    dec.mark_desynced();
    assert_eq!(dec.table_max_size(), 1000);
    assert_eq!(dec.table_size(), 992);
}

#[test]
fn settings_decrease_shrinks_at_once() {
    let mut enc = Encoder::new();
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    let reps: Vec<Rep> = (0..10)
        .map(|i| lit(&format!("k{i}"), "0123456789"))
        .collect();
    decode(&mut dec, &block(&mut enc, &reps));
    assert_eq!(dec.table_size(), 10 * (32 + 2 + 10));
    dec.set_max_table_size(100);
    assert_eq!(dec.table_max_size(), 100);
    assert_eq!(dec.table_size(), 2 * 44);
    let (out, _) = decode(&mut dec, &[0xbe, 0xbf]);
    assert_eq!(out, [field("k9", "0123456789"), field("k8", "0123456789")]);
}

#[test]
fn size_update_above_the_cap_is_clamped_and_reported() {
    let cap = 1000;
    let mut dec = Decoder::new(cap);
    let mut enc = Encoder::new();
    let mut reps = vec![Rep::SizeUpdate(4000)];
    reps.extend((0..30).map(|i| lit(&format!("h{i:02}"), &"x".repeat(50))));
    let (out, report) = decode(&mut dec, &block(&mut enc, &reps));
    assert_eq!(out.len(), 30, "every field decoded");
    assert!(report.table_capped);
    assert_eq!(report.capped_updates, 1);
    assert!(report.is_clean(), "capping alone loses nothing");
    assert_eq!(dec.table_max_size(), cap);
    assert!(dec.table_size() <= cap);
    assert_eq!(dec.table_size(), 11 * 85);
    // The newest entry resolves; one the cap pushed out (the encoder still has it) is a
    // placeholder, never another entry.
    let (out, report) = decode(
        &mut dec,
        &block(&mut enc, &[Rep::Indexed(62), Rep::Indexed(80)]),
    );
    assert_eq!(out[0], field("h29", &"x".repeat(50)));
    assert!(out[1].is_placeholder());
    assert_eq!(report.unknown_indices, 1);
    assert_eq!(report.capped_updates, 0, "no update in this block");
    assert!(
        report.table_capped,
        "still capped until a size update within the cap"
    );
    let (_, report) = decode(&mut dec, &block(&mut enc, &[Rep::SizeUpdate(500)]));
    assert!(!report.table_capped);
    assert_eq!(dec.table_max_size(), 500);
}

#[test]
fn malformed_input_is_an_error_never_a_panic() {
    let cases: &[(&[u8], usize)] = &[
        // RUSTSEC-2023-0085 (hpack 0.3, fluke-hpack 0.3.1): a size update needing more
        // octets than the block has.
        (&[0x3f], 0),
        // Indexed, integer too long / too large.
        (&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 0),
        (&[0xff, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 0),
        (&[0xff, 0xff, 0xff, 0xff, 0xff, 0x1f], 0),
        // A string length of about 2^32 in a short block: not allocated.
        (&[0x40, 0x7f, 0xff, 0xff, 0xff, 0xff, 0x0f], 0),
        (&[0x00, 0x7f, 0x80, 0xff, 0xff, 0xff, 0x0f, b'a'], 0),
        // Truncated strings, raw and Huffman-coded.
        (&[0x40, 0x05, b'a', b'b'], 0),
        (&[0x82, 0x40, 0x85, 0xff], 1),
        (&[0x10, 0x01, b'a'], 0),
        // Huffman: 8 bits of padding; EOS in the string; zero padding.
        (&[0x82, 0x04, 0x81, 0xff], 1),
        (&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff], 0),
        (&[0x04, 0x81, 0x18], 0),
    ];
    for &(block, fields_before) in cases {
        let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
        let (out, report) = decode(&mut dec, block);
        assert_eq!(report.errors, 1, "{block:02x?}");
        assert_eq!(out.len(), fields_before, "{block:02x?}");
        assert!(
            dec.mem_bytes() < 4096,
            "{block:02x?}: nothing large allocated"
        );
    }
}

#[test]
fn index_zero_is_skipped_and_decoding_goes_on() {
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    let (out, report) = decode(&mut dec, &[0x82, 0x80, 0x84]);
    assert_eq!(out, [field(":method", "GET"), field(":path", "/")]);
    assert_eq!(report.errors, 1);
}

#[test]
fn an_index_beyond_the_table_is_a_placeholder_even_in_step() {
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    // 0xbe = 62 on an empty table; then a literal named by index 70, indexed.
    let mut b = vec![0xbe];
    test_encoder::write(
        &mut b,
        &Rep::IndexedName {
            index: 70,
            value: b"v".to_vec(),
            mode: Mode::Incremental,
            huffman: false,
        },
    );
    b.push(0x84);
    let (out, report) = decode(&mut dec, &b);
    assert_eq!(
        out,
        [
            field("x-httshark-unknown-index-62", ""),
            field("x-httshark-unknown-index-70", "v"),
            field(":path", "/"),
        ]
    );
    assert_eq!(report.unknown_indices, 2);
    assert!(out[0].is_placeholder() && !out[2].is_placeholder());
    // The entry went in with its value: 32 + 1 octets accounted, name unknown.
    assert_eq!(dec.table_size(), 33);
    assert!(dec.is_desynced());
    let (out, _) = decode(&mut dec, &[0xbe]);
    assert_eq!(out, [field("x-httshark-unknown-index-62", "v")]);
}

#[test]
fn size_update_in_the_middle_or_at_the_end_is_applied() {
    let mut dec = Decoder::new(H2_MAX_HPACK_TABLE);
    let mut enc = Encoder::new();
    let b = block(
        &mut enc,
        &[
            lit("a", "1"),
            Rep::SizeUpdate(0),
            lit("b", "2"),
            Rep::SizeUpdate(100),
        ],
    );
    let (out, report) = decode(&mut dec, &b);
    assert_eq!(out, [field("a", "1"), field("b", "2")]);
    assert!(report.is_clean());
    assert_eq!(report.size_updates, 2);
    assert_eq!(dec.table_size(), 0, "b did not fit a table of 0");
    assert_eq!(dec.table_max_size(), 100);
}

#[test]
fn memory_stays_bounded_by_the_cap() {
    let cap = H2_MAX_HPACK_TABLE;
    let mut dec = Decoder::new(cap);
    let mut enc = Encoder::new();
    let mut out = Vec::new();
    dec.decode(&block(&mut enc, &[Rep::SizeUpdate(1 << 30)]), &mut out);
    // Smallest entries (most slots), then large ones, then desync placeholders.
    for round in 0..3 {
        let reps: Vec<Rep> = (0..3000)
            .map(|i| {
                lit(
                    "",
                    &if round == 1 {
                        "y".repeat(1000 + i % 7)
                    } else {
                        String::new()
                    },
                )
            })
            .collect();
        out.clear();
        let report = dec.decode(&block(&mut enc, &reps), &mut out);
        assert!(report.table_capped);
        assert!(dec.table_size() <= cap);
        assert!(
            dec.mem_bytes() <= 2 * cap + 1024,
            "{} bytes",
            dec.mem_bytes()
        );
    }
    dec.mark_desynced();
    assert_eq!(dec.table_size(), cap);
    assert!(dec.mem_bytes() <= 2 * cap + 1024);
}
