//! Link, IP and TCP decoding: a captured frame in, a TCP segment view out.
//!
//! Pure and zero-copy: `decode` borrows the frame. Non-TCP and undecodable frames are
//! reported as values (and counted by the caller, see [`DecodeCounters`]), never as panics.
//!
//! Link types: Ethernet (with 802.1Q and QinQ VLAN tags), Linux cooked SLL and SLL2 (what
//! `-device any` gives), BSD NULL and OpenBSD LOOP, raw IP (DLT_RAW 12/14 and LINKTYPE_RAW 101,
//! LINKTYPE_IPV4 228, LINKTYPE_IPV6 229). IPv4 and IPv6 (extension headers skipped).
//!
//! How it is split: the common frame (no VLAN tag; IPv4 not fragmented, or IPv6 without
//! extension headers; a whole TCP header; IP lengths within the captured bytes) is decoded
//! by hand in `fast.rs`, on every link type, and gives what the general way would
//! (differential tests in `tests.rs` and the `decode` fuzz target). Every other frame
//! takes the general way: the link headers etherparse does not know (NULL, LOOP, SLL2,
//! and SLL, whose protocol field we read directly) are peeled here by hand; everything
//! from the Ethernet header or the ether type down (VLAN tags, IP, IP extension headers,
//! TCP) is etherparse's *lax* slicer, which tolerates IP lengths that disagree with the
//! captured bytes. What its result means for httshark is decided in one place,
//! `interpret`.
//!
//! What this module does not do, on purpose:
//! - No checksum verification: captures taken on the sending host carry checksums the NIC
//!   fills in later (offload), so they are wrong on the wire image libpcap sees.
//! - No IP fragment reassembly: fragments are reported as [`Decoded::Fragment`] and counted.
//!   HTTP over TCP is practically never fragmented (PMTU discovery, MSS clamping).
//! - No tunnels (GRE, VXLAN, IP-in-IP): the inner packet is not TCP as far as we see.
//!
//! Invariants:
//! - `decode` never panics and never reads outside `frame` (no indexing; only `get`).
//! - A returned `TcpSegment::payload` lies inside `frame`, ends no later than the IP length
//!   says (Ethernet padding and trailers removed) and no later than the captured bytes.
//!
//! Snaplen-cut frames: when the capture kept fewer bytes than the IP length announces,
//! `decode` returns the segment with the *captured* part of its payload (a shorter
//! segment), not an error. Sequence numbers are exact, so the reassembler sees the missing
//! tail as a hole, and reports it as a gap when the next segment arrives. That keeps
//! headers and every byte that was captured, and loses only what really is missing.
//! Callers who want to count such frames compare the pcap `orig_len` with the frame length.
//! If the TCP header itself is cut, the frame is [`DecodeError::Truncated`].
//!
//! Odd IP lengths, as etherparse's lax slicer treats them: an IPv4 total length smaller
//! than its header (0 is what Linux TSO/GSO captures show) and an IPv6 payload length of 0
//! (jumbograms, or the same offload) fall back to the captured length.

mod fast;
mod flow_hash;
mod ip;
mod link;
mod seq;
mod tcp_options;
#[cfg(test)]
mod tests;

pub use flow_hash::symmetric_flow_hash;
pub use link::MAX_LINK_EXTENSIONS;
pub use seq::{signed_offset, SeqNum};

use std::net::SocketAddr;

use etherparse::{EtherType, LaxSlicedPacket};

use ip::{interpret, ip_header_error};
use link::{
    loopback_ether_type, split_cooked_header, split_loopback_header, SLL2_HEADER_LEN,
    SLL2_PROTOCOL_AT, SLL_HEADER_LEN, SLL_PROTOCOL_AT,
};

/// The link types httshark decodes, from a pcap DLT/LINKTYPE number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    Ethernet,
    /// BSD loopback: 4-byte address family in the capturing host's byte order.
    Null,
    /// OpenBSD loopback: 4-byte address family in network byte order.
    Loop,
    /// Raw IPv4 or IPv6 (version nibble decides).
    Raw,
    Ipv4,
    Ipv6,
    LinuxSll,
    LinuxSll2,
}

impl LinkType {
    /// Every link type httshark decodes (the fuzz target picks one by index: keep the order).
    pub const ALL: [LinkType; 8] = [
        LinkType::Ethernet,
        LinkType::Null,
        LinkType::Loop,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
    ];

    /// Maps a pcap link-type number; `None` for link types httshark does not decode.
    ///
    /// Numbers are from <https://www.tcpdump.org/linktypes.html>. Raw IP has three: DLT_RAW
    /// is 12 on most BSDs and 14 on OpenBSD, and pcap files store LINKTYPE_RAW 101.
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        Some(match dlt {
            0 => LinkType::Null,
            1 => LinkType::Ethernet,
            12 | 14 | 101 => LinkType::Raw,
            108 => LinkType::Loop,
            113 => LinkType::LinuxSll,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            276 => LinkType::LinuxSll2,
            _ => return None,
        })
    }
}

/// TCP header flags that matter to reassembly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

#[cfg(test)]
impl TcpFlags {
    /// The flags named by the letters in `s` (S, A, F, R), for tests.
    pub(crate) fn from_letters(s: &str) -> TcpFlags {
        TcpFlags {
            syn: s.contains('S'),
            ack: s.contains('A'),
            fin: s.contains('F'),
            rst: s.contains('R'),
        }
    }
}

/// A decoded TCP segment, borrowing its payload from the frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub flags: TcpFlags,
    /// TCP payload, with Ethernet padding and anything beyond the IP length removed.
    pub payload: &'a [u8],
    /// The segment carries a TCP-MD5 signature (RFC 2385, option 19) or a TCP-AO MAC
    /// (RFC 5925, option 29). A receiver that does not use them discards the segment.
    pub auth_option: bool,
    /// The TCP timestamps option (RFC 7323 §3): (TSval, TSecr). Read for PAWS (§5).
    pub timestamp: Option<(u32, u32)>,
    /// The advertised window, unscaled (a zero-window probe is recognised by it, RFC 9293
    /// §3.8.6.1).
    pub window: u16,
}

/// What a frame turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    Tcp(TcpSegment<'a>),
    /// A well-formed frame that is not TCP over IP (ARP, UDP, ICMP, ...).
    NotTcp,
    /// An IP fragment (not reassembled; counted).
    Fragment,
}

/// Why a frame could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame is shorter than its headers say (snaplen cut, corrupt).
    Truncated,
    /// A header field is invalid (bad IP version, header length, ...).
    Malformed(&'static str),
}

crate::counters! {
    /// Outcomes of `decode`, for whoever calls it (see [`DecodeCounters::record`]).
    pub struct DecodeCounters {
        /// Frames given to `decode`.
        frames,
        /// Frames that were TCP segments.
        tcp_segments,
        /// Well-formed frames that are not TCP over IP (ARP, UDP, ICMP, other ether types).
        not_tcp,
        /// IP fragments, dropped (no IP reassembly).
        ip_fragments,
        /// Frames shorter than their headers (snaplen cut inside a header, corrupt).
        truncated,
        /// Frames with an invalid header field.
        malformed
    }
}

impl DecodeCounters {
    /// Counts one `decode` outcome.
    pub fn record(&mut self, outcome: &Result<Decoded<'_>, DecodeError>) {
        self.frames += 1;
        match outcome {
            Ok(Decoded::Tcp(_)) => self.tcp_segments += 1,
            Ok(Decoded::NotTcp) => self.not_tcp += 1,
            Ok(Decoded::Fragment) => self.ip_fragments += 1,
            Err(DecodeError::Truncated) => self.truncated += 1,
            Err(DecodeError::Malformed(_)) => self.malformed += 1,
        }
    }
}

/// Decodes one captured frame of link type `link`.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    match fast::decode(link, frame) {
        Some(segment) => Ok(Decoded::Tcp(segment)),
        None => decode_general(link, frame),
    }
}

/// The endpoints of the TCP segment `decode` finds in `frame`, or None when it finds no
/// segment: the common frame's without decoding the rest of it (`fast::endpoints`).
pub fn tcp_endpoints(link: LinkType, frame: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    fast::endpoints(link, frame).or_else(|| match decode_general(link, frame) {
        Ok(Decoded::Tcp(seg)) => Some((seg.src, seg.dst)),
        _ => None,
    })
}

/// `decode` through etherparse, for every frame (`decode` takes the common case itself:
/// `fast.rs`, which must agree with this wherever it decides).
pub(crate) fn decode_general(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    let packet = match link {
        LinkType::Ethernet => {
            LaxSlicedPacket::from_ethernet(frame).map_err(|_| DecodeError::Truncated)?
        }
        LinkType::Null => {
            let (family, rest) = split_loopback_header(frame)?;
            // The capturing host's byte order, which the file does not record: try both.
            // The values cannot collide (2 read the other way round is 0x0200_0000).
            let ether_type = loopback_ether_type(u32::from_be_bytes(family))
                .or_else(|| loopback_ether_type(u32::from_le_bytes(family)));
            match ether_type {
                Some(ether_type) => LaxSlicedPacket::from_ether_type(ether_type, rest),
                None => return Ok(Decoded::NotTcp),
            }
        }
        LinkType::Loop => {
            let (family, rest) = split_loopback_header(frame)?;
            match loopback_ether_type(u32::from_be_bytes(family)) {
                Some(ether_type) => LaxSlicedPacket::from_ether_type(ether_type, rest),
                None => return Ok(Decoded::NotTcp),
            }
        }
        LinkType::Raw => match LaxSlicedPacket::from_ip(frame) {
            Ok(packet) => packet,
            Err(err) => return Err(ip_header_error(err)),
        },
        LinkType::Ipv4 => LaxSlicedPacket::from_ether_type(EtherType::IPV4, frame),
        LinkType::Ipv6 => LaxSlicedPacket::from_ether_type(EtherType::IPV6, frame),
        LinkType::LinuxSll => {
            let (ether_type, rest) = split_cooked_header(frame, SLL_HEADER_LEN, SLL_PROTOCOL_AT)?;
            LaxSlicedPacket::from_ether_type(ether_type, rest)
        }
        LinkType::LinuxSll2 => {
            let (ether_type, rest) = split_cooked_header(frame, SLL2_HEADER_LEN, SLL2_PROTOCOL_AT)?;
            LaxSlicedPacket::from_ether_type(ether_type, rest)
        }
    };
    interpret(&packet)
}
