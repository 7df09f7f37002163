//! Capture file writers: classic pcap (microsecond or nanosecond magic) and a minimal pcapng
//! (one Section Header Block, one Interface Description Block, Enhanced Packet Blocks).
//!
//! Formats: classic pcap as in libpcap's `pcap-savefile(5)` and
//! draft-ietf-opsawg-pcap; pcapng as in draft-ietf-opsawg-pcapng (sections 4.1, 4.2, 4.3).
//! Both are written little-endian, which every reader handles through the magic / byte-order
//! magic.
//!
//! What this does not do: name resolution blocks, statistics, several interfaces, or
//! reading. Timestamps before the epoch are written as zero and timestamps beyond 2106
//! saturate (classic pcap has an unsigned 32-bit seconds field); the generator never makes
//! either.
//!
//! Invariant: every record has `captured_len <= snaplen` and `captured_len <= original_len`.

use std::io::{self, Write};

use crate::time::Timestamp;

/// The link types the generator writes, with their LINKTYPE numbers
/// (<https://www.tcpdump.org/linktypes.html>).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkKind {
    /// LINKTYPE_ETHERNET (1): Ethernet II.
    Ethernet,
    /// LINKTYPE_RAW (101): the frame is an IPv4 or IPv6 packet.
    Raw,
    /// LINKTYPE_NULL (0): BSD loopback, a 4-byte address family in the writer's (here:
    /// little-endian) byte order, then the IP packet.
    Null,
    /// LINKTYPE_LINUX_SLL (113): Linux cooked capture v1 (`-i any`).
    LinuxSll,
}

impl LinkKind {
    pub fn linktype(self) -> u32 {
        match self {
            LinkKind::Ethernet => 1,
            LinkKind::Raw => 101,
            LinkKind::Null => 0,
            LinkKind::LinuxSll => 113,
        }
    }

    pub fn parse(s: &str) -> Option<LinkKind> {
        match s {
            "ethernet" | "eth" | "en10mb" => Some(LinkKind::Ethernet),
            "raw" => Some(LinkKind::Raw),
            "null" | "loopback" => Some(LinkKind::Null),
            "sll" | "linux-sll" => Some(LinkKind::LinuxSll),
            _ => None,
        }
    }
}

/// Timestamp resolution of a classic pcap file (chosen by the magic number).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsResolution {
    /// Magic 0xa1b2c3d4: the fractional field is microseconds.
    Micro,
    /// Magic 0xa1b23c4d: the fractional field is nanoseconds.
    Nano,
}

/// The largest snaplen libpcap accepts for reading (MAXIMUM_SNAPLEN in pcap-int.h).
pub const MAX_SNAPLEN: u32 = 262_144;

/// Splits a timestamp into (seconds, nanoseconds) fitting an unsigned 32-bit seconds field.
fn split_ts(ts: Timestamp) -> (u32, u32) {
    if ts.0 < 0 {
        return (0, 0);
    }
    match u32::try_from(ts.secs()) {
        Ok(s) => (s, ts.subsec_nanos()),
        Err(_) => (u32::MAX, 999_999_999),
    }
}

/// A classic pcap writer.
pub struct PcapWriter<W: Write> {
    out: W,
    resolution: TsResolution,
    snaplen: u32,
    packets: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the 24-byte global header. `snaplen` (default [`MAX_SNAPLEN`]) cuts every
    /// frame longer than it, keeping the original length in the record, as tcpdump `-s`.
    pub fn new(
        mut out: W,
        link: LinkKind,
        resolution: TsResolution,
        snaplen: Option<u32>,
    ) -> io::Result<PcapWriter<W>> {
        let snaplen = snaplen.unwrap_or(MAX_SNAPLEN).clamp(1, MAX_SNAPLEN);
        let magic: u32 = match resolution {
            TsResolution::Micro => 0xa1b2_c3d4,
            TsResolution::Nano => 0xa1b2_3c4d,
        };
        let mut h = [0u8; 24];
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes()); // version 2.4
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs: always zero in practice.
        h[16..20].copy_from_slice(&snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&link.linktype().to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter {
            out,
            resolution,
            snaplen,
            packets: 0,
            bytes: 24,
        })
    }

    /// Writes one record; the frame is cut at the snaplen.
    pub fn write_packet(&mut self, ts: Timestamp, frame: &[u8]) -> io::Result<()> {
        self.write_packet_with_orig_len(ts, frame, frame.len())
    }

    /// Writes one record whose frame was already cut (by fault injection): `orig_len` is the
    /// length on the wire (never less than `data.len()`).
    pub fn write_packet_with_orig_len(
        &mut self,
        ts: Timestamp,
        data: &[u8],
        orig_len: usize,
    ) -> io::Result<()> {
        let cap = data.len().min(self.snaplen as usize);
        let data = data.get(..cap).unwrap_or(data);
        let orig = u32::try_from(orig_len.max(data.len())).unwrap_or(u32::MAX);
        let (secs, nanos) = split_ts(ts);
        let frac = match self.resolution {
            TsResolution::Micro => nanos / 1000,
            TsResolution::Nano => nanos,
        };
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&(cap as u32).to_le_bytes());
        h[12..16].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.packets += 1;
        self.bytes += 16 + cap as u64;
        Ok(())
    }

    /// Records written so far.
    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    /// File bytes written so far, global header included.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A minimal pcapng writer: one section, one interface with nanosecond timestamps
/// (`if_tsresol` = 9), Enhanced Packet Blocks.
pub struct PcapngWriter<W: Write> {
    out: W,
    snaplen: u32,
    packets: u64,
    bytes: u64,
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl<W: Write> PcapngWriter<W> {
    pub fn new(mut out: W, link: LinkKind, snaplen: Option<u32>) -> io::Result<PcapngWriter<W>> {
        let snaplen = snaplen.unwrap_or(MAX_SNAPLEN).clamp(1, MAX_SNAPLEN);
        // Section Header Block (type 0x0A0D0D0A), no options, section length unknown (-1).
        let mut shb = Vec::with_capacity(28);
        shb.extend_from_slice(&0x0A0D_0D0Au32.to_le_bytes());
        shb.extend_from_slice(&28u32.to_le_bytes());
        shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        shb.extend_from_slice(&1u16.to_le_bytes());
        shb.extend_from_slice(&0u16.to_le_bytes());
        shb.extend_from_slice(&(-1i64).to_le_bytes());
        shb.extend_from_slice(&28u32.to_le_bytes());
        // Interface Description Block (type 1) with if_tsresol (code 9, 1 byte: 10^-9)
        // then opt_endofopt.
        let mut idb = Vec::with_capacity(32);
        idb.extend_from_slice(&1u32.to_le_bytes());
        idb.extend_from_slice(&32u32.to_le_bytes());
        idb.extend_from_slice(&(link.linktype() as u16).to_le_bytes());
        idb.extend_from_slice(&0u16.to_le_bytes());
        idb.extend_from_slice(&snaplen.to_le_bytes());
        idb.extend_from_slice(&9u16.to_le_bytes());
        idb.extend_from_slice(&1u16.to_le_bytes());
        idb.extend_from_slice(&[9, 0, 0, 0]);
        idb.extend_from_slice(&[0, 0, 0, 0]);
        idb.extend_from_slice(&32u32.to_le_bytes());
        out.write_all(&shb)?;
        out.write_all(&idb)?;
        Ok(PcapngWriter {
            out,
            snaplen,
            packets: 0,
            bytes: 60,
        })
    }

    pub fn write_packet(&mut self, ts: Timestamp, frame: &[u8]) -> io::Result<()> {
        self.write_packet_with_orig_len(ts, frame, frame.len())
    }

    pub fn write_packet_with_orig_len(
        &mut self,
        ts: Timestamp,
        data: &[u8],
        orig_len: usize,
    ) -> io::Result<()> {
        let cap = data.len().min(self.snaplen as usize);
        let data = data.get(..cap).unwrap_or(data);
        let orig = u32::try_from(orig_len.max(data.len())).unwrap_or(u32::MAX);
        let ticks = ts.0.max(0) as u64;
        let total = 32 + cap + pad4(cap);
        let mut h = [0u8; 28];
        h[0..4].copy_from_slice(&6u32.to_le_bytes());
        h[4..8].copy_from_slice(&(total as u32).to_le_bytes());
        // interface id 0 at h[8..12]
        h[12..16].copy_from_slice(&((ticks >> 32) as u32).to_le_bytes());
        h[16..20].copy_from_slice(&(ticks as u32).to_le_bytes());
        h[20..24].copy_from_slice(&(cap as u32).to_le_bytes());
        h[24..28].copy_from_slice(&orig.to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)?;
        self.out.write_all(&[0u8; 3][..pad4(cap)])?;
        self.out.write_all(&(total as u32).to_le_bytes())?;
        self.packets += 1;
        self.bytes += total as u64;
        Ok(())
    }

    pub fn packets_written(&self) -> u64 {
        self.packets
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32le(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn classic_header_and_record_micro() {
        let mut w =
            PcapWriter::new(Vec::new(), LinkKind::Ethernet, TsResolution::Micro, None).unwrap();
        w.write_packet(
            Timestamp::from_secs_nanos(1_700_000_000, 123_456_789),
            &[1, 2, 3],
        )
        .unwrap();
        assert_eq!(w.packets_written(), 1);
        assert_eq!(w.bytes_written(), 24 + 16 + 3);
        let b = w.into_inner().unwrap();
        assert_eq!(b.len(), 43);
        assert_eq!(u32le(&b, 0), 0xa1b2c3d4);
        assert_eq!(u32le(&b, 16), MAX_SNAPLEN);
        assert_eq!(u32le(&b, 20), 1);
        assert_eq!(u32le(&b, 24), 1_700_000_000);
        assert_eq!(u32le(&b, 28), 123_456);
        assert_eq!(u32le(&b, 32), 3);
        assert_eq!(u32le(&b, 36), 3);
        assert_eq!(&b[40..], &[1, 2, 3]);
    }

    #[test]
    fn nano_magic_snaplen_cut_and_linktypes() {
        let mut w =
            PcapWriter::new(Vec::new(), LinkKind::LinuxSll, TsResolution::Nano, Some(2)).unwrap();
        w.write_packet(Timestamp::from_secs_nanos(5, 7), &[9, 8, 7, 6])
            .unwrap();
        w.write_packet_with_orig_len(Timestamp(-5), &[1], 1500)
            .unwrap();
        let b = w.into_inner().unwrap();
        assert_eq!(u32le(&b, 0), 0xa1b23c4d);
        assert_eq!(u32le(&b, 16), 2);
        assert_eq!(u32le(&b, 20), 113);
        assert_eq!(u32le(&b, 28), 7);
        assert_eq!(u32le(&b, 32), 2, "captured length cut at snaplen");
        assert_eq!(u32le(&b, 36), 4, "original length kept");
        assert_eq!(&b[40..42], &[9, 8]);
        assert_eq!(u32le(&b, 42), 0, "pre-epoch time written as zero");
        assert_eq!(u32le(&b, 50), 1);
        assert_eq!(u32le(&b, 54), 1500);
        assert_eq!(b.len(), 42 + 16 + 1);
        for (k, n) in [
            (LinkKind::Ethernet, 1),
            (LinkKind::Raw, 101),
            (LinkKind::Null, 0),
            (LinkKind::LinuxSll, 113),
        ] {
            assert_eq!(k.linktype(), n);
        }
        assert_eq!(LinkKind::parse("sll"), Some(LinkKind::LinuxSll));
        assert_eq!(LinkKind::parse("token-ring"), None);
    }

    #[test]
    fn pcapng_blocks_are_well_formed() {
        let mut w = PcapngWriter::new(Vec::new(), LinkKind::Raw, None).unwrap();
        let ts = Timestamp::from_secs_nanos(1_700_000_000, 5);
        w.write_packet(ts, &[0xaa; 5]).unwrap();
        let b = w.into_inner().unwrap();
        // Walk the blocks: each starts and ends with its total length.
        let mut at = 0;
        let mut types = Vec::new();
        while at < b.len() {
            let len = u32le(&b, at + 4) as usize;
            assert_eq!(len % 4, 0);
            assert_eq!(u32le(&b, at + len - 4) as usize, len);
            types.push(u32le(&b, at));
            at += len;
        }
        assert_eq!(at, b.len());
        assert_eq!(types, vec![0x0A0D0D0A, 1, 6]);
        assert_eq!(u32le(&b, 8), 0x1A2B3C4D);
        assert_eq!(u32le(&b, 28 + 8) & 0xffff, 101);
        let epb = 60;
        let ticks = ((u32le(&b, epb + 12) as u64) << 32) | u32le(&b, epb + 16) as u64;
        assert_eq!(ticks as i64, ts.0);
        assert_eq!(u32le(&b, epb + 20), 5);
        assert_eq!(&b[epb + 28..epb + 33], &[0xaa; 5]);
    }
}
