use std::process::Command;

use super::*;
use crate::keylog::Label;

fn u32b(v: u32, le: bool) -> [u8; 4] {
    if le {
        v.to_le_bytes()
    } else {
        v.to_be_bytes()
    }
}

/// One block: type, total length, body padded to 4, total length.
fn block(kind: u32, body: &[u8], le: bool) -> Vec<u8> {
    let mut body = body.to_vec();
    while body.len() % 4 != 0 {
        body.push(0);
    }
    let len = 12 + body.len() as u32;
    let mut b = Vec::new();
    b.extend_from_slice(&u32b(kind, le));
    b.extend_from_slice(&u32b(len, le));
    b.extend_from_slice(&body);
    b.extend_from_slice(&u32b(len, le));
    b
}

fn shb(le: bool) -> Vec<u8> {
    let mut body = u32b(BYTE_ORDER_MAGIC, le).to_vec();
    if le {
        body.extend_from_slice(&[1, 0, 0, 0]);
    } else {
        body.extend_from_slice(&[0, 1, 0, 0]);
    }
    body.extend_from_slice(&[0xFF; 8]); // section length: unknown
    block(BLOCK_SHB, &body, le)
}

fn idb(le: bool) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&if le { [1, 0, 0, 0] } else { [0, 1, 0, 0] }); // Ethernet
    body.extend_from_slice(&u32b(65535, le));
    block(1, &body, le)
}

fn dsb(kind: u32, text: &[u8], le: bool) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&u32b(kind, le));
    body.extend_from_slice(&u32b(text.len() as u32, le));
    body.extend_from_slice(text);
    block(BLOCK_DSB, &body, le)
}

fn epb(le: bool) -> Vec<u8> {
    let data = [0xEEu8; 61];
    let mut body = Vec::new();
    for v in [0, 1, 2, data.len() as u32, data.len() as u32] {
        body.extend_from_slice(&u32b(v, le));
    }
    body.extend_from_slice(&data);
    block(6, &body, le)
}

fn keys(seed: u8) -> Vec<u8> {
    let random: String = (0..32).map(|i| format!("{:02x}", seed ^ i)).collect();
    let secret: String = (0..48)
        .map(|i| format!("{:02x}", seed.wrapping_add(i)))
        .collect();
    // No final newline: a DSB's text need not end with one.
    format!("# keys {seed}\nCLIENT_RANDOM {random} {secret}").into_bytes()
}

/// A section: SHB, IDB, a TLS DSB, a DSB of another type, a packet, another TLS DSB.
fn section(le: bool, seed: u8) -> (Vec<u8>, Vec<usize>) {
    let mut f = Vec::new();
    let mut ends = Vec::new();
    for b in [
        shb(le),
        idb(le),
        dsb(SECRETS_TYPE_TLS, &keys(seed), le),
        dsb(0x5747_4b4c, b"wireguard keys", le),
        epb(le),
        dsb(SECRETS_TYPE_TLS, &keys(seed + 1), le),
    ] {
        f.extend_from_slice(&b);
        ends.push(f.len());
    }
    (f, ends)
}

fn texts(scan: &DsbScan) -> Vec<Vec<u8>> {
    scan.texts.iter().map(|t| t.to_vec()).collect()
}

#[test]
fn dsbs_are_read_in_either_byte_order() {
    for le in [true, false] {
        let (file, _) = section(le, 1);
        let scan = scan_pcapng_secrets(&file[..]).unwrap();
        assert!(!scan.corrupt, "le={le}: {scan:?}");
        assert_eq!(texts(&scan), vec![keys(1), keys(2)], "le={le}");
        assert_eq!((scan.sections, scan.blocks, scan.other_secrets), (1, 6, 1));
        let (mut out, mut rep) = (Vec::new(), ParseReport::default());
        scan.parse(&mut out, &mut rep);
        assert_eq!(out.len(), 2, "{rep}");
        assert_eq!(out[1].label, Label::ClientRandom);
        assert_eq!(out[1].client_random[0], 2);
    }
}

#[test]
fn every_section_sets_its_own_byte_order() {
    let (mut file, _) = section(true, 1);
    file.extend_from_slice(&section(false, 5).0);
    file.extend_from_slice(&section(true, 9).0);
    let scan = scan_pcapng_secrets(&file[..]).unwrap();
    assert!(!scan.corrupt);
    assert_eq!(scan.sections, 3);
    assert_eq!(
        texts(&scan),
        vec![keys(1), keys(2), keys(5), keys(6), keys(9), keys(10)]
    );
    let shown = format!("{scan:?}");
    assert!(
        !shown.contains("CLIENT_RANDOM") && !shown.contains("67"),
        "{shown}"
    );
}

#[test]
fn files_that_are_not_pcapng_give_nothing() {
    let classic = [0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0, 0, 0];
    for f in [&[][..], &[0x0A][..], &classic[..], b"CLIENT_RANDOM 00 11\n"] {
        let scan = scan_pcapng_secrets(f).unwrap();
        assert!(scan.texts.is_empty() && !scan.corrupt && scan.sections == 0);
    }
}

#[test]
fn a_file_cut_at_any_length_keeps_what_came_before() {
    for le in [true, false] {
        let (file, ends) = section(le, 1);
        let full = texts(&scan_pcapng_secrets(&file[..]).unwrap());
        for cut in 0..file.len() {
            let scan = scan_pcapng_secrets(&file[..cut]).unwrap();
            let whole_blocks = ends.iter().filter(|&&e| e <= cut).count();
            let at_boundary = cut == 0 || ends.contains(&cut);
            assert_eq!(scan.corrupt, !at_boundary && cut >= 8, "cut {cut}");
            assert_eq!(scan.blocks as usize, whole_blocks, "cut {cut}");
            // The texts are those of the complete TLS DSBs (blocks 3 and 6).
            let complete = [2usize, 5].iter().filter(|&&i| ends[i] <= cut).count();
            assert_eq!(texts(&scan), full[..complete], "cut {cut}");
        }
    }
}

#[test]
fn broken_lengths_stop_the_walk() {
    let (good, ends) = section(true, 1);
    let len_at = ends[1] + 4; // the first DSB's length field
    for (what, bad) in [
        ("not a multiple of 4", 30u32),
        ("shorter than a block", 8),
        ("too short for a DSB", 12),
        ("longer than the file", 1 << 30),
    ] {
        let mut f = good.clone();
        f[len_at..len_at + 4].copy_from_slice(&bad.to_le_bytes());
        let scan = scan_pcapng_secrets(&f[..]).unwrap();
        assert!(scan.corrupt, "{what}");
        assert!(scan.texts.is_empty(), "{what}");
        assert_eq!(scan.blocks, 2, "{what}");
    }
    // A trailing length that differs from the leading one.
    let mut f = good.clone();
    let trailer = ends[2] - 4;
    f[trailer] ^= 4;
    let scan = scan_pcapng_secrets(&f[..]).unwrap();
    assert!(scan.corrupt && scan.blocks == 2);
    // A secrets length past the block.
    let mut f = good.clone();
    f[len_at + 8..len_at + 12].copy_from_slice(&1000u32.to_le_bytes());
    let scan = scan_pcapng_secrets(&f[..]).unwrap();
    assert!(scan.corrupt && scan.texts.is_empty());
    // An SHB whose byte-order magic is neither.
    let mut f = good;
    f[8] = 0;
    let scan = scan_pcapng_secrets(&f[..]).unwrap();
    assert!(scan.corrupt && scan.sections == 0);
}

#[test]
fn secrets_past_the_limit_are_skipped_and_counted() {
    let (file, _) = section(true, 1);
    let limit = keys(1).len() + 3;
    let scan = scan_limited(&file[..], limit).unwrap();
    assert!(!scan.corrupt);
    assert_eq!(texts(&scan), vec![keys(1)]);
    assert_eq!(scan.over_limit, 1);
    assert_eq!(scan.blocks, 6, "the walk goes on past the skipped block");
}

/// A classic pcap of one 60-byte Ethernet frame.
fn tiny_pcap() -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 1] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    for v in [1_700_000_000u32, 0, 60, 60] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    let mut frame = vec![0u8; 60];
    frame[12] = 0x08; // EtherType IPv4
    f.extend_from_slice(&frame);
    f
}

#[test]
fn editcap_inject_secrets_output_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, key_path, out) = (
        dir.path().join("in.pcap"),
        dir.path().join("keys.log"),
        dir.path().join("out.pcapng"),
    );
    std::fs::write(&pcap, tiny_pcap()).unwrap();
    let mut text = keys(3);
    text.push(b'\n');
    text.extend_from_slice(&keys(4));
    text.push(b'\n');
    std::fs::write(&key_path, &text).unwrap();
    let run = Command::new("editcap")
        .arg("--inject-secrets")
        .arg(format!("tls,{}", key_path.display()))
        .arg(&pcap)
        .arg(&out)
        .output();
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            println!("SKIPPED: editcap not runnable ({e}); it comes with tshark");
            return;
        }
    };
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let scan = read_pcapng_secrets(&out).unwrap();
    assert!(!scan.corrupt, "{scan:?}");
    assert_eq!(texts(&scan).concat(), text);
    let (mut got, mut rep) = (Vec::new(), ParseReport::default());
    scan.parse(&mut got, &mut rep);
    assert_eq!(got.len(), 2, "{rep}");
    assert_eq!(rep.total_problems(), 0, "{rep}");
    // The input pcap itself has none.
    let plain = read_pcapng_secrets(&pcap).unwrap();
    assert!(plain.texts.is_empty() && !plain.corrupt);
}

proptest::proptest! {
    /// Any bytes changed and any cut: no panic, and nothing found that the file did not hold.
    #[test]
    fn damaged_files_never_panic(
        le in proptest::bool::ANY,
        edits in proptest::collection::vec((proptest::num::usize::ANY, proptest::num::u8::ANY), 0..6),
        cut in proptest::num::usize::ANY,
    ) {
        let (mut file, _) = section(le, 1);
        file.extend_from_slice(&section(!le, 5).0);
        for (at, v) in edits {
            let n = file.len();
            file[at % n] = v;
        }
        let cut = cut % (file.len() + 1);
        let scan = scan_pcapng_secrets(&file[..cut]).unwrap();
        let total: usize = scan.texts.iter().map(|t| t.len()).sum();
        proptest::prop_assert!(total <= cut);
        proptest::prop_assert!(scan.blocks as usize <= cut / 12 && scan.sections as usize <= cut / 12);
    }
}
