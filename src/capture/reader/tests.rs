//! The reader against libpcap on the same bytes: well-formed files, damaged lengths, cut
//! files, large and negative timestamps, small chunks (records across chunk boundaries).

use std::path::Path;

use pcap::{Capture, Precision};
use proptest::prelude::*;

use super::*;
use crate::capture::error::pcap_message;
use crate::capture::file::file_offset;

/// What a reader gave, in a form both readers produce.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Packet {
        secs: i64,
        nanos: i64,
        len: u32,
        data: Vec<u8>,
    },
    End,
    Failed {
        message: String,
        offset: u64,
    },
}

fn file_header(nanos: bool, snaplen: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    out.extend_from_slice(&magic.to_ne_bytes());
    out.extend_from_slice(&2u16.to_ne_bytes());
    out.extend_from_slice(&4u16.to_ne_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&snaplen.to_ne_bytes());
    out.extend_from_slice(&1u32.to_ne_bytes());
    out
}

fn record(out: &mut Vec<u8>, secs: u32, frac: u32, caplen: u32, len: u32, data: &[u8]) {
    for w in [secs, frac, caplen, len] {
        out.extend_from_slice(&w.to_ne_bytes());
    }
    out.extend_from_slice(data);
}

/// libpcap's reading of `path`, and its snapshot length.
fn by_libpcap(path: &Path) -> (Vec<Seen>, u32) {
    let mut cap = Capture::from_file_with_precision(path, Precision::Nano).expect("libpcap opens");
    let raw = cap.as_ptr().cast::<std::ffi::c_void>();
    // SAFETY: the handle is valid while `cap` lives.
    let snapshot = unsafe { super::super::pcap_snapshot(raw) } as u32;
    let mut seen = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => seen.push(Seen::Packet {
                secs: p.header.ts.tv_sec,
                nanos: p.header.ts.tv_usec,
                len: p.header.len,
                data: p.data.to_vec(),
            }),
            Err(pcap::Error::NoMorePackets) => {
                seen.push(Seen::End);
                break;
            }
            Err(e) => {
                seen.push(Seen::Failed {
                    message: pcap_message(&e),
                    // SAFETY: as above.
                    offset: unsafe { file_offset(raw) }.expect("a file's offset"),
                });
                break;
            }
        }
    }
    (seen, snapshot)
}

fn by_reader(path: &Path, snapshot: u32, chunk_bytes: usize) -> Vec<Seen> {
    let bytes = std::fs::read(path).unwrap();
    let nanos = takes(&bytes).expect("a file the reader takes");
    let mut file = std::fs::File::open(path).unwrap();
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(FILE_HEADER as u64)).unwrap();
    let mut reader = RecordReader::new(file, nanos, snapshot);
    reader.chunk_bytes = chunk_bytes;
    let mut seen = Vec::new();
    loop {
        match reader.next() {
            Step::Record(r) => seen.push(Seen::Packet {
                secs: r.secs,
                nanos: r.nanos,
                len: r.len,
                data: r.data.to_vec(),
            }),
            Step::End => {
                seen.push(Seen::End);
                break;
            }
            Step::Failed { message, offset } => {
                seen.push(Seen::Failed { message, offset });
                break;
            }
        }
    }
    seen
}

fn compare(bytes: &[u8], chunk_bytes: usize) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.pcap");
    std::fs::write(&path, bytes).unwrap();
    let (expected, snapshot) = by_libpcap(&path);
    let got = by_reader(&path, snapshot, chunk_bytes);
    prop_assert_eq!(got, expected);
    Ok(())
}

#[test]
fn takes_native_order_version_2_4_only() {
    assert_eq!(takes(&file_header(false, 65535)), Some(false));
    assert_eq!(takes(&file_header(true, 65535)), Some(true));
    let mut swapped = file_header(false, 65535);
    swapped[..4].reverse();
    assert_eq!(takes(&swapped), None, "byte-swapped");
    let mut old = file_header(false, 65535);
    old[6] = 3;
    assert_eq!(takes(&old), None, "version 2.3");
    let mut ng = file_header(false, 65535);
    ng[..4].copy_from_slice(&0x0a0d_0d0au32.to_ne_bytes());
    assert_eq!(takes(&ng), None, "pcapng");
    assert_eq!(takes(&[0xd4, 0xc3]), None, "short");
}

#[test]
fn the_same_as_libpcap_on_the_damage_cases() {
    let mut base = file_header(false, 200);
    record(&mut base, 1, 2, 10, 10, &[7; 10]);
    let cases: Vec<Vec<u8>> = vec![
        base.clone(),
        // Captured length over the snapshot length: shortened, the rest skipped.
        [base.clone(), {
            let mut r = Vec::new();
            record(&mut r, 3, 4, 300, 300, &[9; 300]);
            record(&mut r, 5, 6, 4, 4, b"tail");
            r
        }]
        .concat(),
        // Over the maximum; and over the snapshot but cut inside the snapshot's part,
        // and inside the skipped part.
        [base.clone(), {
            let mut r = Vec::new();
            record(&mut r, 3, 4, MAX_CAPLEN + 1, 0, &[]);
            r
        }]
        .concat(),
        [base.clone(), {
            let mut r = Vec::new();
            record(&mut r, 3, 4, 300, 300, &[9; 150]);
            r
        }]
        .concat(),
        [base.clone(), {
            let mut r = Vec::new();
            record(&mut r, 3, 4, 300, 300, &[9; 250]);
            r
        }]
        .concat(),
        // A header cut short; data cut short; negative and huge timestamps.
        [base.clone(), vec![1, 2, 3]].concat(),
        [base.clone(), {
            let mut r = Vec::new();
            record(&mut r, 3, 4, 50, 50, &[9; 20]);
            r
        }]
        .concat(),
        [base.clone(), {
            let mut r = Vec::new();
            record(&mut r, u32::MAX, u32::MAX, 1, 0, &[1]);
            record(&mut r, 0x8000_0000, 999_999_999, 1, 1, &[1]);
            r
        }]
        .concat(),
    ];
    for (i, case) in cases.iter().enumerate() {
        for chunk in [1, 17, 40, 1 << 20] {
            if let Err(e) = compare(case, chunk) {
                panic!("case {i}, chunk {chunk}: {e}");
            }
        }
    }
}

#[test]
fn recycled_chunks_are_reused_and_small_ones_are_not() {
    let mut bytes = file_header(false, 65535);
    for i in 0..100u32 {
        record(&mut bytes, i, 0, 100, 100, &[i as u8; 100]);
    }
    let mut reader = RecordReader::new(&bytes[FILE_HEADER..], false, 65535);
    reader.chunk_bytes = 1000;
    reader.recycle(Vec::with_capacity(10));
    assert!(reader.spare.is_empty(), "too small to hold a chunk");
    let mut held = Vec::new();
    let mut packets = 0;
    while let Step::Record(r) = reader.next() {
        assert_eq!(r.data, &[packets as u8; 100]);
        packets += 1;
        held.push(Arc::clone(r.chunk));
    }
    assert_eq!(packets, 100);
    let chunks: Vec<Vec<u8>> = {
        held.dedup_by(|a, b| Arc::ptr_eq(a, b));
        held.into_iter().filter_map(Arc::into_inner).collect()
    };
    assert!(chunks.len() >= 10, "{} chunks", chunks.len());
    for c in chunks {
        reader.recycle(c);
    }
    assert_eq!(reader.spare.len(), SPARE_CHUNKS);
    assert!(reader.spare.iter().all(Vec::is_empty));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn the_same_as_libpcap_on_any_records(
        nanos in any::<bool>(),
        snaplen in prop::sample::select(vec![0u32, 64, 200, 65535, MAX_CAPLEN, MAX_CAPLEN + 5]),
        records in prop::collection::vec(
            (any::<u32>(), any::<u32>(), 0usize..400, any::<u16>()), 0..12),
        bad_caplen in prop::option::of((0usize..12, prop::sample::select(
            vec![65, 201, 65536, MAX_CAPLEN, MAX_CAPLEN + 1, u32::MAX]))),
        cut in prop::option::of(any::<prop::sample::Index>()),
        chunk in prop::sample::select(vec![1usize, 16, 33, 500, 1 << 20]),
    ) {
        let mut bytes = file_header(nanos, snaplen);
        for (i, &(secs, frac, size, extra)) in records.iter().enumerate() {
            let mut caplen = size as u32;
            if let Some((at, value)) = bad_caplen {
                if at == i {
                    caplen = value;
                }
            }
            let data: Vec<u8> = (0..size).map(|b| (b ^ i) as u8).collect();
            record(&mut bytes, secs, frac, caplen, size as u32 + u32::from(extra), &data);
        }
        if let Some(cut) = cut {
            let keep = FILE_HEADER + cut.index(bytes.len() - FILE_HEADER + 1);
            bytes.truncate(keep);
        }
        compare(&bytes, chunk)?;
    }
}
