//! The last record of a classic pcap file that was cut short (the capture tool was killed
//! while writing it): libpcap reports "truncated dump file" and drops the record; tshark
//! shows its captured bytes as a snaplen-cut packet. This reads them back (issue 9, item 4).
//!
//! What it does not do: pcapng (an Enhanced Packet Block's timestamp resolution lives in
//! its interface's options), standard input (the bytes are gone), or a record whose
//! captured length is larger than the file's snapshot length (a corrupt length, not a cut
//! file: the bytes that follow are other records). The record header itself must be whole.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use pcap::{BpfProgram, PacketHeader};

use crate::time::Timestamp;

/// Global header length of a classic pcap file; its snapshot length is at byte 16.
const FILE_HEADER: usize = 24;
/// Per-record header: seconds, fraction, captured length, original length.
pub(super) const RECORD_HEADER: usize = 16;

/// A cut record's header and the bytes of it the file holds.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct CutRecord {
    pub(super) ts: Timestamp,
    pub(super) data: Vec<u8>,
    /// Length on the wire (at least `data.len()`).
    pub(super) orig_len: u32,
    /// The captured length the header announced.
    pub(super) caplen: u32,
}

/// After libpcap found the file cut short inside a record's data ("truncated dump
/// file; tried to read N captured bytes"), that record as far as the file holds it,
/// if it passes the capture filter (`tail.rs` says which records are read back).
/// `file`: the path and the device and inode of the file libpcap read.
pub(super) fn read_back(
    file: Option<(&Path, (u64, u64))>,
    record_start: Option<u64>,
    program: Option<&BpfProgram>,
    message: &str,
) -> Option<CutRecord> {
    if !(message.starts_with("truncated dump file") && message.contains("captured bytes")) {
        return None;
    }
    let (path, opened) = file?;
    let cut = read_cut_record(path, opened, record_start?)?;
    if let Some(program) = program {
        let header = PacketHeader {
            ts: libc::timeval {
                tv_sec: cut.ts.secs() as libc::time_t,
                tv_usec: (cut.ts.subsec_nanos() / 1000) as libc::suseconds_t,
            },
            caplen: u32::try_from(cut.data.len()).ok()?,
            len: cut.orig_len,
        };
        if !super::file::offline_filter(program, &header, &cut.data) {
            return None;
        }
    }
    Some(cut)
}

/// Whether the file at `path` is a regular file (not a FIFO, whose bytes a second reader
/// would take from libpcap) beginning with a classic pcap magic number (either byte
/// order, micro- or nanosecond timestamps).
pub(super) fn is_classic_pcap(path: &Path) -> bool {
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic));
    read.is_ok()
        && matches!(
            u32::from_le_bytes(magic),
            0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1
        )
}

/// The record starting at byte `start` of the classic pcap file at `path`, when the file
/// ends inside its data (see the module docs for what is refused).
pub(super) fn read_cut_record(path: &Path, opened: (u64, u64), start: u64) -> Option<CutRecord> {
    use std::os::unix::fs::MetadataExt;
    let mut file = std::fs::File::open(path).ok()?;
    // The file libpcap read, not one renamed over the path since (a rotated capture).
    let meta = file.metadata().ok()?;
    if (meta.dev(), meta.ino()) != opened {
        return None;
    }
    let mut head = [0u8; FILE_HEADER];
    file.read_exact(&mut head).ok()?;
    file.seek(SeekFrom::Start(start)).ok()?;
    let mut rest = Vec::new();
    // At most a record header and the largest snapshot libpcap accepts.
    file.take((RECORD_HEADER + (1 << 18)) as u64)
        .read_to_end(&mut rest)
        .ok()?;
    parse_cut_record(&head, &rest)
}

/// `read_cut_record` on bytes: the file header and everything from the record's start.
fn parse_cut_record(head: &[u8; FILE_HEADER], rest: &[u8]) -> Option<CutRecord> {
    let magic = u32::from_le_bytes(head.get(..4)?.try_into().ok()?);
    // Written little-endian, `magic` reads as the constant; big-endian, byte-swapped.
    let (little, nanos) = match magic {
        0xa1b2_c3d4 => (true, false),
        0xa1b2_3c4d => (true, true),
        0xd4c3_b2a1 => (false, false),
        0x4d3c_b2a1 => (false, true),
        _ => return None,
    };
    let word = |b: &[u8], at: usize| -> Option<u32> {
        let w: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if little {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        })
    };
    let snaplen = word(head, 16)?;
    let (secs, frac, caplen, orig) = (
        word(rest, 0)?,
        word(rest, 4)?,
        word(rest, 8)?,
        word(rest, 12)?,
    );
    let data = rest.get(RECORD_HEADER..)?;
    let cut = !data.is_empty() && data.len() < caplen as usize;
    if !cut || caplen > snaplen.max(1) {
        return None;
    }
    let ts = if nanos {
        Timestamp::from_secs_nanos(i64::from(secs), frac.min(999_999_999))
    } else {
        Timestamp::from_secs_micros(i64::from(secs), frac.min(999_999))
    };
    Some(CutRecord {
        ts,
        data: data.to_vec(),
        orig_len: orig.max(caplen),
        caplen,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(little: bool, nanos: bool, snaplen: u32, records: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let w = |v: u32| {
            if little {
                v.to_le_bytes()
            } else {
                v.to_be_bytes()
            }
        };
        let magic = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut out = Vec::new();
        out.extend_from_slice(&w(magic));
        out.extend_from_slice(&[0, 2, 0, 4].map(|b| b));
        out.extend_from_slice(&[0u8; 8]);
        out.extend_from_slice(&w(snaplen));
        out.extend_from_slice(&w(1));
        for (caplen, orig, data) in records {
            out.extend_from_slice(&w(1_700_000_000));
            out.extend_from_slice(&w(5));
            out.extend_from_slice(&w(*caplen));
            out.extend_from_slice(&w(*orig));
            out.extend_from_slice(data);
        }
        out
    }

    fn parse(bytes: &[u8], start: usize) -> Option<CutRecord> {
        let head: [u8; FILE_HEADER] = bytes[..FILE_HEADER].try_into().unwrap();
        parse_cut_record(&head, &bytes[start..])
    }

    #[test]
    fn a_record_cut_inside_its_data_is_read_back_in_either_byte_order() {
        for little in [true, false] {
            for nanos in [false, true] {
                let f = file(little, nanos, 65535, &[(10, 20, b"0123")]);
                let r = parse(&f, FILE_HEADER).expect("cut record");
                assert_eq!(r.data, b"0123");
                assert_eq!((r.caplen, r.orig_len), (10, 20));
                let frac = if nanos { 5 } else { 5_000 };
                assert_eq!(r.ts, Timestamp::from_secs_nanos(1_700_000_000, frac));
            }
        }
    }

    #[test]
    fn whole_records_corrupt_lengths_and_cut_headers_are_not_read() {
        let whole = file(true, false, 65535, &[(4, 4, b"0123")]);
        assert_eq!(parse(&whole, FILE_HEADER), None, "not cut");
        let over = file(true, false, 100, &[(200, 200, b"0123")]);
        assert_eq!(parse(&over, FILE_HEADER), None, "caplen over the snaplen");
        let empty = file(true, false, 65535, &[(10, 10, b"")]);
        assert_eq!(parse(&empty, FILE_HEADER), None, "no byte of it");
        let f = file(true, false, 65535, &[(10, 10, b"0123")]);
        assert_eq!(
            parse(&f[..FILE_HEADER + 7], FILE_HEADER),
            None,
            "header cut"
        );
        let mut ng = f.clone();
        ng[..4].copy_from_slice(&0x0a0d_0d0au32.to_le_bytes());
        assert_eq!(parse(&ng, FILE_HEADER), None, "pcapng");
    }

    /// Only the file libpcap read is read back: one renamed over its path since (a
    /// rotated capture) is not.
    #[test]
    fn a_file_renamed_over_the_path_is_not_read_back() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.pcap");
        std::fs::write(&path, file(true, false, 65535, &[(10, 20, b"0123")])).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let opened = (meta.dev(), meta.ino());
        let r = read_cut_record(&path, opened, FILE_HEADER as u64).expect("the same file");
        assert_eq!(r.data, b"0123");
        let other = dir.path().join("new.pcap");
        std::fs::write(&other, file(true, false, 65535, &[(10, 20, b"4567")])).unwrap();
        std::fs::rename(&other, &path).unwrap();
        assert_eq!(read_cut_record(&path, opened, FILE_HEADER as u64), None);
    }
}
