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

/// A classic pcap file header in the machine's byte order (version 2.4, Ethernet).
pub(in crate::capture) fn file_header(nanos: bool, snaplen: u32) -> Vec<u8> {
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
    read_all(reader)
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
    // Half the records, every chunk held (as batches would).
    let mut held = Vec::new();
    for i in 0..50u8 {
        let Step::Record(r) = reader.next() else {
            panic!("record {i}")
        };
        assert_eq!(r.data, &[i; 100]);
        held.push(Arc::clone(r.chunk));
    }
    held.dedup_by(|a, b| Arc::ptr_eq(a, b));
    let current = held.pop().expect("chunks");
    let done: Vec<Vec<u8>> = held.into_iter().filter_map(Arc::into_inner).collect();
    assert!(done.len() >= SPARE_CHUNKS, "{} chunks", done.len());
    let recycled: Vec<*const u8> = done.iter().map(|v| v.as_ptr()).collect();
    for c in done {
        reader.recycle(c);
    }
    assert_eq!(reader.spare.len(), SPARE_CHUNKS);
    drop(current);
    // The next chunk read is a recycled one, and the records go on unchanged.
    let mut reused = false;
    for i in 50..100u8 {
        let Step::Record(r) = reader.next() else {
            panic!("record {i}")
        };
        assert_eq!(r.data, &[i; 100]);
        reused |= recycled.contains(&r.chunk.as_ptr());
    }
    assert!(reused, "no recycled chunk was read into");
    assert!(matches!(reader.next(), Step::End));
    // At the end the reader keeps no chunk, and takes none back.
    assert!(reader.spare.is_empty() && reader.chunk.is_empty());
    reader.recycle(vec![0; 1000]);
    assert!(reader.spare.is_empty());
}

/// A source that hands out at most `step` bytes a read, is interrupted (EINTR) before
/// every other read, and fails with EIO once `fail_at` bytes are out.
struct Awkward<'a> {
    bytes: &'a [u8],
    step: usize,
    interrupt: bool,
    fail_at: Option<usize>,
    out: usize,
}

impl Read for Awkward<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        if self.fail_at.is_some_and(|at| self.out >= at) {
            return Err(std::io::Error::from_raw_os_error(libc::EIO));
        }
        let end = self.bytes.len().min(self.out + self.step);
        let end = self.fail_at.map_or(end, |at| end.min(at));
        let n = (end - self.out).min(buf.len());
        buf[..n].copy_from_slice(&self.bytes[self.out..self.out + n]);
        self.out += n;
        Ok(n)
    }
}

fn read_all<R: Read>(mut reader: RecordReader<R>) -> Vec<Seen> {
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
                return seen;
            }
            Step::Failed { message, offset } => {
                seen.push(Seen::Failed { message, offset });
                return seen;
            }
        }
    }
}

#[test]
fn short_and_interrupted_reads_give_the_same_records() {
    let mut bytes = file_header(false, 65535);
    for i in 0..50u32 {
        record(
            &mut bytes,
            i,
            i,
            20 + i,
            20 + i,
            &vec![i as u8; 20 + i as usize],
        );
    }
    let whole = read_all(RecordReader::new(&bytes[FILE_HEADER..], false, 65535));
    assert_eq!(whole.len(), 51);
    for step in [1, 7, 100, 4096] {
        let src = Awkward {
            bytes: &bytes[FILE_HEADER..],
            step,
            interrupt: false,
            fail_at: None,
            out: 0,
        };
        let mut reader = RecordReader::new(src, false, 65535);
        reader.chunk_bytes = 300;
        assert_eq!(read_all(reader), whole, "{step} bytes a read");
    }
}

#[test]
fn a_read_error_ends_with_its_message_after_the_whole_records() {
    let mut bytes = file_header(false, 65535);
    for i in 0..10u32 {
        record(&mut bytes, i, 0, 84, 84, &[i as u8; 84]);
    }
    // The error comes 3 records and 40 bytes in: the 4th record is incomplete.
    let src = Awkward {
        bytes: &bytes[FILE_HEADER..],
        step: 50,
        interrupt: false,
        fail_at: Some(3 * 100 + 40),
        out: 0,
    };
    let seen = read_all(RecordReader::new(src, false, 65535));
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(matches!(&seen[2], Seen::Packet { secs: 2, data, .. } if data == &[2; 84]));
    let reason = std::io::Error::from_raw_os_error(libc::EIO).to_string();
    let reason = reason.split(" (os error").next().unwrap();
    assert_eq!(
        seen[3],
        Seen::Failed {
            message: format!("error reading dump file: {reason}"),
            offset: (FILE_HEADER + 3 * 100 + 40) as u64,
        }
    );
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
