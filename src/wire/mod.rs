//! Link, IP and TCP decoding: a captured frame in, a TCP segment view out.
//!
//! Pure and zero-copy: `decode` borrows the frame. Non-TCP and undecodable frames are
//! reported as values (and counted by the caller, see [`DecodeCounters`]), never as panics.
//!
//! Link types: Ethernet (with 802.1Q and QinQ VLAN tags), Linux cooked SLL and SLL2 (what
//! `-device any` gives), BSD NULL and OpenBSD LOOP, raw IP (DLT_RAW 12/14 and LINKTYPE_RAW 101,
//! LINKTYPE_IPV4 228, LINKTYPE_IPV6 229). IPv4 and IPv6 (extension headers skipped).
//!
//! How it is split: the link headers etherparse does not know (NULL, LOOP, SLL2, and SLL,
//! whose protocol field we read directly) are peeled here by hand; everything from the
//! Ethernet header or the ether type down (VLAN tags, IP, IP extension headers, TCP) is
//! etherparse's *lax* slicer, which tolerates IP lengths that disagree with the captured
//! bytes. What the result means for httshark is decided in one place, `interpret`.
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

mod seq;

pub use seq::{signed_offset, SeqNum};

use std::net::{IpAddr, SocketAddr};

use etherparse::err::packet::SliceError;
use etherparse::err::{Layer, LenError};
use etherparse::{ip_number, EtherType, LaxNetSlice, LaxSlicedPacket, LenSource, TransportSlice};

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

/// Length of the Linux cooked v1 header (`LINKTYPE_LINUX_SLL`); the protocol is its last
/// two bytes, big-endian. <https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>
const SLL_HEADER_LEN: usize = 16;
const SLL_PROTOCOL_AT: usize = 14;
/// Length of the Linux cooked v2 header (`LINKTYPE_LINUX_SLL2`); the protocol is its first
/// two bytes, big-endian. <https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html>
const SLL2_HEADER_LEN: usize = 20;
const SLL2_PROTOCOL_AT: usize = 0;
/// Length of the NULL/LOOP address-family header.
const LOOPBACK_HEADER_LEN: usize = 4;

/// BSD address family values for IPv4 and IPv6 in NULL/LOOP headers. AF_INET is 2
/// everywhere; AF_INET6 differs: 24 on NetBSD/OpenBSD/BSD/OS, 28 on FreeBSD/DragonFly,
/// 30 on macOS/iOS. A capture may come from any of them, so all are accepted
/// (<https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html>).
const BSD_AF_INET: u32 = 2;
const BSD_AF_INET6: [u32; 3] = [24, 28, 30];

/// Link-layer VLAN tag ether types: 802.1Q, 802.1ad (QinQ S-tag) and the pre-standard
/// 0x9100 QinQ tag. etherparse parses at most [`MAX_LINK_EXTENSIONS`] of them.
const VLAN_ETHER_TYPES: [EtherType; 3] = [
    EtherType::VLAN_TAGGED_FRAME,
    EtherType::PROVIDER_BRIDGING,
    EtherType::VLAN_DOUBLE_TAGGED_FRAME,
];

/// How many VLAN tags (and MACsec headers) a frame may carry. QinQ needs two; a frame with
/// more is reported as `Malformed` rather than misread. The bound is etherparse's own.
pub const MAX_LINK_EXTENSIONS: usize = LaxSlicedPacket::LINK_EXTS_CAP;

/// Decodes one captured frame of link type `link`.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
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

/// Splits the 4-byte address family off a NULL/LOOP frame.
fn split_loopback_header(frame: &[u8]) -> Result<([u8; 4], &[u8]), DecodeError> {
    let (head, rest) = frame
        .split_first_chunk::<LOOPBACK_HEADER_LEN>()
        .ok_or(DecodeError::Truncated)?;
    Ok((*head, rest))
}

fn loopback_ether_type(family: u32) -> Option<EtherType> {
    if family == BSD_AF_INET {
        Some(EtherType::IPV4)
    } else if BSD_AF_INET6.contains(&family) {
        Some(EtherType::IPV6)
    } else {
        None
    }
}

/// Splits a Linux cooked header of `header_len` bytes off `frame`, reading its protocol
/// field (an ether type for IP; other values mean non-IP, which ends as `NotTcp`).
fn split_cooked_header(
    frame: &[u8],
    header_len: usize,
    protocol_at: usize,
) -> Result<(EtherType, &[u8]), DecodeError> {
    let rest = frame.get(header_len..).ok_or(DecodeError::Truncated)?;
    let protocol: [u8; 2] = frame
        .get(protocol_at..protocol_at + 2)
        .and_then(|b| b.try_into().ok())
        .ok_or(DecodeError::Truncated)?;
    Ok((EtherType(u16::from_be_bytes(protocol)), rest))
}

/// Turns etherparse's lax slicing into what httshark needs to know. The order matters:
/// link/IP errors first, then fragments (a non-first fragment's bytes are not headers,
/// so errors etherparse finds past a fragment header mean nothing), then the protocol,
/// then errors in the TCP header.
fn interpret<'a>(packet: &LaxSlicedPacket<'a>) -> Result<Decoded<'a>, DecodeError> {
    let (src_ip, dst_ip, ip_payload) = match &packet.net {
        None => {
            if let Some((err, _)) = &packet.stop_err {
                return Err(slice_error(err));
            }
            // etherparse stops quietly when the link extension list is full; the frame
            // still has a tag we did not look behind.
            if let Some(ether) = packet.ether_payload() {
                if VLAN_ETHER_TYPES.contains(&ether.ether_type) {
                    return Err(DecodeError::Malformed("more VLAN tags than supported"));
                }
            }
            return Ok(Decoded::NotTcp);
        }
        Some(LaxNetSlice::Arp(_)) => return Ok(Decoded::NotTcp),
        Some(LaxNetSlice::Ipv4(ip)) => {
            check_ip_version(packet, EtherType::IPV4)?;
            let header = ip.header();
            (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                ip.payload(),
            )
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            check_ip_version(packet, EtherType::IPV6)?;
            let header = ip.header();
            (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                ip.payload(),
            )
        }
    };
    // IPv4: MF set or offset != 0 (RFC 791 §3.2). IPv6: a fragment header with MF set or
    // offset != 0; an "atomic fragment" (offset 0, MF clear) holds the whole packet and is
    // processed as one, as RFC 6946 §4 requires.
    if ip_payload.fragmented {
        return Ok(Decoded::Fragment);
    }
    let is_tcp = ip_payload.ip_number == ip_number::TCP;
    if let Some((err, layer)) = &packet.stop_err {
        // An error in an IPv4 AH or an IPv6 extension header hides the protocol; one in
        // a UDP or ICMP header does not concern us (the frame is simply not TCP).
        if is_tcp || !is_transport_layer(*layer) {
            return Err(slice_error(err));
        }
    }
    if !is_tcp {
        return Ok(Decoded::NotTcp);
    }
    let Some(TransportSlice::Tcp(tcp)) = &packet.transport else {
        // etherparse parses TCP whenever the IP payload is TCP and nothing stopped it.
        return Err(DecodeError::Malformed("TCP header missing"));
    };
    Ok(Decoded::Tcp(TcpSegment {
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags {
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
        },
        payload: tcp.payload(),
        auth_option: has_auth_option(tcp.options()),
        timestamp: timestamp_option(tcp.options()),
        window: tcp.window_size(),
    }))
}

/// TCP option kinds of a segment authentication: MD5 signature (RFC 2385) and TCP-AO
/// (RFC 5925).
const TCP_OPT_MD5: u8 = 19;
const TCP_OPT_AO: u8 = 29;

/// TCP option kind of the timestamps option (RFC 7323 §3.2: kind 8, length 10).
const TCP_OPT_TIMESTAMPS: u8 = 8;

/// Walks the TCP options (RFC 9293 §3.1: kind 0 ends the list, kind 1 is one byte of
/// padding, any other kind has a length byte covering kind and length) and returns the
/// first for which `f(kind, option bytes)` gives a value.
fn find_option<T>(mut opts: &[u8], f: impl Fn(u8, &[u8]) -> Option<T>) -> Option<T> {
    while let Some(&kind) = opts.first() {
        match kind {
            0 => return None,
            1 => opts = opts.get(1..).unwrap_or_default(),
            _ => {
                let len = opts.get(1).copied().unwrap_or(0) as usize;
                if len < 2 {
                    return None;
                }
                // A length past the end: the bytes that are there (a truncated option).
                if let Some(v) = f(kind, opts.get(..len).unwrap_or(opts)) {
                    return Some(v);
                }
                opts = opts.get(len..).unwrap_or_default();
            }
        }
    }
    None
}

fn has_auth_option(opts: &[u8]) -> bool {
    find_option(opts, |kind, _| {
        matches!(kind, TCP_OPT_MD5 | TCP_OPT_AO).then_some(())
    })
    .is_some()
}

/// (TSval, TSecr) of a well-formed timestamps option; a malformed one is ignored, as a
/// receiver ignores it.
fn timestamp_option(opts: &[u8]) -> Option<(u32, u32)> {
    find_option(opts, |kind, o| {
        if kind != TCP_OPT_TIMESTAMPS || o.len() != 10 {
            return None;
        }
        let word = |at: usize| Some(u32::from_be_bytes(o.get(at..at + 4)?.try_into().ok()?));
        Some((word(2)?, word(6)?))
    })
}

fn is_transport_layer(layer: Layer) -> bool {
    matches!(
        layer,
        Layer::TcpHeader
            | Layer::UdpHeader
            | Layer::UdpPayload
            | Layer::Icmpv4
            | Layer::Icmpv4Timestamp
            | Layer::Icmpv4TimestampReply
            | Layer::Icmpv6
            | Layer::Igmp
    )
}

/// The link layer said IPv4 (or IPv6) but the version nibble says otherwise. etherparse
/// goes by the nibble; we refuse, since one of the two is wrong. Raw IP (no link protocol)
/// has nothing to disagree with.
fn check_ip_version(packet: &LaxSlicedPacket<'_>, found: EtherType) -> Result<(), DecodeError> {
    match packet.ether_payload() {
        Some(ether) if ether.ether_type != found => Err(DecodeError::Malformed(
            "IP version differs from the link-layer protocol",
        )),
        _ => Ok(()),
    }
}

fn ip_header_error(err: etherparse::err::ip::LaxHeaderSliceError) -> DecodeError {
    use etherparse::err::ip::LaxHeaderSliceError as E;
    match err {
        E::Len(len) => len_error(&len),
        E::Content(content) => ip_content_error(&content),
    }
}

fn ip_content_error(err: &etherparse::err::ip::HeaderError) -> DecodeError {
    use etherparse::err::ip::HeaderError as E;
    DecodeError::Malformed(match err {
        E::UnsupportedIpVersion { .. } => "IP version is neither 4 nor 6",
        E::Ipv4HeaderLengthSmallerThanHeader { .. } => "IPv4 header length below 20 bytes",
    })
}

/// A length error is a truncation when the captured bytes ran out, but a malformed packet
/// when a length field inside it (IP total length, payload length) cut a header short.
fn len_error(err: &LenError) -> DecodeError {
    if err.len_source == LenSource::Slice {
        DecodeError::Truncated
    } else {
        DecodeError::Malformed("IP length too short for the headers it carries")
    }
}

fn slice_error(err: &SliceError) -> DecodeError {
    match err {
        SliceError::Len(len) => len_error(len),
        SliceError::Ip(content) => ip_content_error(content),
        SliceError::LinuxSll(_) => DecodeError::Malformed("invalid Linux cooked header"),
        SliceError::Macsec(_) => DecodeError::Malformed("invalid MACsec header"),
        SliceError::Ipv4(_) => DecodeError::Malformed("invalid IPv4 header"),
        SliceError::Ipv6(_) => DecodeError::Malformed("invalid IPv6 header"),
        SliceError::Ipv4Exts(_) => DecodeError::Malformed("invalid IPv4 authentication header"),
        SliceError::Ipv6Exts(_) => DecodeError::Malformed("invalid IPv6 extension header"),
        SliceError::Tcp(_) => DecodeError::Malformed("TCP data offset below 5 words"),
    }
}

/// A hash of the connection that is the same for both directions, for routing a
/// connection's packets to one worker.
///
/// The two endpoints are put in a fixed order first, so (a, b) and (b, a) hash the same
/// input; then address words and ports are folded with a fixed-constant multiply-xorshift
/// mixer (the MurmurHash3 64-bit finalizer). No random seed: the same flow lands on the
/// same worker in every run, which keeps offline replays reproducible.
pub fn symmetric_flow_hash(a: &SocketAddr, b: &SocketAddr) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = FLOW_HASH_SEED;
    for endpoint in [lo, hi] {
        let (ip, family) = match endpoint.ip() {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4u64),
            IpAddr::V6(v6) => (u128::from(v6), 6u64),
        };
        h = fmix64(h ^ (ip >> 64) as u64);
        h = fmix64(h ^ ip as u64);
        h = fmix64(h ^ (u64::from(endpoint.port()) << 8 | family));
    }
    h
}

/// Any odd 64-bit constant works; this one is the golden ratio, a common choice.
const FLOW_HASH_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

#[cfg(test)]
mod tests {

    #[test]
    fn tcp_timestamps_option_is_read_only_when_well_formed() {
        let ts = [8, 10, 0, 0, 1, 2, 0, 0, 0, 3];
        assert_eq!(timestamp_option(&ts), Some((258, 3)));
        let mut behind = vec![1, 1, 2, 4, 5, 0xb4];
        behind.extend_from_slice(&ts);
        assert_eq!(timestamp_option(&behind), Some((258, 3)));
        assert_eq!(timestamp_option(&ts[..9]), None, "cut short");
        assert_eq!(timestamp_option(&[8, 9, 0, 0, 1, 2, 0, 0, 0]), None);
        assert_eq!(timestamp_option(&[0, 8, 10, 0, 0, 1, 2, 0, 0, 0, 3]), None);
    }

    #[test]
    fn tcp_auth_options_are_found_behind_others_and_never_past_the_end() {
        assert!(!has_auth_option(&[]));
        assert!(has_auth_option(&[19, 18]));
        assert!(has_auth_option(&[1, 1, 29, 4, 0, 0]));
        // MSS, SACK-permitted, then MD5.
        assert!(has_auth_option(&[2, 4, 5, 0xb4, 4, 2, 19, 18]));
        // End of list before it; a bad length; a length past the end.
        assert!(!has_auth_option(&[0, 19, 18]));
        assert!(!has_auth_option(&[2, 0, 19, 18]));
        assert!(!has_auth_option(&[8, 200]));
    }

    use super::*;
    use etherparse::{PacketBuilder, TcpOptionElement, VlanId};
    use proptest::prelude::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const PAYLOAD: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    const V4_SRC: [u8; 4] = [10, 0, 0, 1];
    const V4_DST: [u8; 4] = [10, 0, 0, 2];
    const V6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const V6_DST: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const MAC_A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const MAC_B: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const IPV4_TCP_HEADERS: usize = 20 + 20;
    const IPV6_TCP_HEADERS: usize = 40 + 20;

    /// IPv4 + TCP (seq 1000, ack 77, PSH|ACK), from 10.0.0.1:40000 to 10.0.0.2:80.
    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ipv4(V4_SRC, V4_DST, 64)
            .tcp(40000, 80, 1000, 4096)
            .ack(77)
            .psh();
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    /// IPv6 + TCP (SYN), from [2001:db8::1]:40000 to [2001:db8::2]:80.
    fn ipv6_tcp(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ipv6(V6_SRC, V6_DST, 64)
            .tcp(40000, 80, 5000, 4096)
            .syn();
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    fn ethernet(ether_type: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&MAC_B);
        f.extend_from_slice(&MAC_A);
        f.extend_from_slice(&ether_type.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    /// Ethernet with the given VLAN tags (TPID, VLAN id), outermost first.
    fn tagged(tags: &[(u16, u16)], ether_type: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&MAC_B);
        f.extend_from_slice(&MAC_A);
        for (tpid, vid) in tags {
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&vid.to_be_bytes());
        }
        f.extend_from_slice(&ether_type.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }

    fn sll(protocol: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0, 0, 0, 1, 0, 6]; // packet type host, ARPHRD_ETHER, addr len 6
        f.extend_from_slice(&MAC_A);
        f.extend_from_slice(&[0, 0]); // address padding to 8 bytes
        f.extend_from_slice(&protocol.to_be_bytes());
        assert_eq!(f.len(), SLL_HEADER_LEN);
        f.extend_from_slice(l3);
        f
    }

    fn sll2(protocol: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = protocol.to_be_bytes().to_vec();
        f.extend_from_slice(&[0, 0]); // reserved
        f.extend_from_slice(&3u32.to_be_bytes()); // interface index
        f.extend_from_slice(&[0, 1, 4, 6]); // ARPHRD_ETHER, outgoing, addr len 6
        f.extend_from_slice(&MAC_A);
        f.extend_from_slice(&[0, 0]);
        assert_eq!(f.len(), SLL2_HEADER_LEN);
        f.extend_from_slice(l3);
        f
    }

    fn loopback(family: [u8; 4], l3: &[u8]) -> Vec<u8> {
        let mut f = family.to_vec();
        f.extend_from_slice(l3);
        f
    }

    /// Inserts an 8-byte IPv6 extension header of type `ext` right after the fixed header.
    fn with_ipv6_ext(packet: &[u8], ext: u8, body: [u8; 6]) -> Vec<u8> {
        let mut p = packet.to_vec();
        let inner_next = p[6];
        p[6] = ext;
        let payload_len = u16::from_be_bytes([p[4], p[5]]) + 8;
        p[4..6].copy_from_slice(&payload_len.to_be_bytes());
        let mut header = vec![inner_next, 0];
        header.extend_from_slice(&body);
        p.splice(40..40, header);
        p
    }

    fn fragment_header(offset_units: u16, more: bool) -> [u8; 6] {
        let field = (offset_units << 3) | u16::from(more);
        let f = field.to_be_bytes();
        [f[0], f[1], 0xde, 0xad, 0xbe, 0xef]
    }

    fn tcp(d: Result<Decoded<'_>, DecodeError>) -> TcpSegment<'_> {
        match d {
            Ok(Decoded::Tcp(seg)) => seg,
            other => panic!("expected a TCP segment, got {other:?}"),
        }
    }

    fn assert_v4_segment(seg: &TcpSegment<'_>, payload: &[u8]) {
        assert_eq!(seg.src, SocketAddr::from((Ipv4Addr::from(V4_SRC), 40000)));
        assert_eq!(seg.dst, SocketAddr::from((Ipv4Addr::from(V4_DST), 80)));
        assert_eq!((seg.seq, seg.ack), (1000, 77));
        let flags = TcpFlags {
            ack: true,
            ..TcpFlags::default()
        };
        assert_eq!(seg.flags, flags);
        assert_eq!(seg.payload, payload);
    }

    fn assert_v6_segment(seg: &TcpSegment<'_>, payload: &[u8]) {
        assert_eq!(seg.src, SocketAddr::from((Ipv6Addr::from(V6_SRC), 40000)));
        assert_eq!(seg.dst, SocketAddr::from((Ipv6Addr::from(V6_DST), 80)));
        assert_eq!(seg.seq, 5000);
        let flags = TcpFlags {
            syn: true,
            ..TcpFlags::default()
        };
        assert_eq!(seg.flags, flags);
        assert_eq!(seg.payload, payload);
    }

    /// Decodes every prefix of `frame`: shorter than `headers` must be `Truncated`, longer
    /// must be the segment with the captured part of `payload` (the snaplen-cut policy).
    fn sweep_prefixes(link: LinkType, frame: &[u8], headers: usize, payload: &[u8]) {
        assert_eq!(frame.len(), headers + payload.len(), "test frame layout");
        for n in 0..=frame.len() {
            let got = decode(link, &frame[..n]);
            if n < headers {
                assert_eq!(got, Err(DecodeError::Truncated), "{link:?} prefix {n}");
            } else {
                let seg = tcp(got);
                assert_eq!(seg.payload, &payload[..n - headers], "{link:?} prefix {n}");
            }
        }
    }

    #[test]
    fn from_dlt_maps_the_documented_numbers() {
        let cases = [
            (0, LinkType::Null),
            (1, LinkType::Ethernet),
            (12, LinkType::Raw),
            (14, LinkType::Raw),
            (101, LinkType::Raw),
            (108, LinkType::Loop),
            (113, LinkType::LinuxSll),
            (228, LinkType::Ipv4),
            (229, LinkType::Ipv6),
            (276, LinkType::LinuxSll2),
        ];
        for (dlt, link) in cases {
            assert_eq!(LinkType::from_dlt(dlt), Some(link), "DLT {dlt}");
        }
        for dlt in [-1, 2, 9, 105, 127, 147, 192, 277, i32::MAX] {
            assert_eq!(LinkType::from_dlt(dlt), None, "DLT {dlt}");
        }
    }

    #[test]
    fn ethernet_ipv4_from_packet_builder() {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(V4_SRC, V4_DST, 64)
            .tcp(40000, 80, 1000, 4096)
            .ack(77)
            .write(&mut frame, PAYLOAD)
            .unwrap();
        assert_v4_segment(&tcp(decode(LinkType::Ethernet, &frame)), PAYLOAD);
    }

    #[test]
    fn ethernet_single_vlan_from_packet_builder() {
        let mut frame = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .single_vlan(VlanId::try_new(42).unwrap())
            .ipv4(V4_SRC, V4_DST, 64)
            .tcp(40000, 80, 1000, 4096)
            .ack(77)
            .write(&mut frame, PAYLOAD)
            .unwrap();
        assert_eq!(&frame[12..14], &[0x81, 0x00], "builder wrote an 802.1Q tag");
        assert_v4_segment(&tcp(decode(LinkType::Ethernet, &frame)), PAYLOAD);
    }

    #[test]
    fn ethernet_qinq_with_every_tag_type() {
        let l3 = ipv4_tcp(PAYLOAD);
        let stacks: [&[(u16, u16)]; 4] = [
            &[(0x88a8, 100), (0x8100, 42)], // 802.1ad
            &[(0x9100, 100), (0x8100, 42)], // pre-standard QinQ
            &[(0x8100, 100), (0x8100, 42)], // 802.1Q in 802.1Q
            &[(0x88a8, 7), (0x88a8, 100), (0x8100, 42)],
        ];
        for tags in stacks {
            let frame = tagged(tags, 0x0800, &l3);
            assert_v4_segment(&tcp(decode(LinkType::Ethernet, &frame)), PAYLOAD);
        }
        let v6 = tagged(&[(0x88a8, 100), (0x8100, 42)], 0x86dd, &ipv6_tcp(PAYLOAD));
        assert_v6_segment(&tcp(decode(LinkType::Ethernet, &v6)), PAYLOAD);
    }

    #[test]
    fn more_vlan_tags_than_supported_is_malformed_not_silently_skipped() {
        let tags = [(0x88a8, 1), (0x88a8, 2), (0x8100, 3), (0x8100, 4)];
        assert!(tags.len() > MAX_LINK_EXTENSIONS);
        let frame = tagged(&tags, 0x0800, &ipv4_tcp(PAYLOAD));
        assert!(matches!(
            decode(LinkType::Ethernet, &frame),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn ipv6_with_extension_headers() {
        let plain = ipv6_tcp(PAYLOAD);
        // Hop-by-hop (0) with a PadN option filling its 6 bytes.
        let hbh = with_ipv6_ext(&plain, 0, [1, 4, 0, 0, 0, 0]);
        assert_v6_segment(&tcp(decode(LinkType::Raw, &hbh)), PAYLOAD);
        // Then a destination options header (60) in front of TCP as well.
        let mut both = with_ipv6_ext(&plain, 60, [1, 4, 0, 0, 0, 0]);
        both = with_ipv6_ext(&both, 0, [1, 4, 0, 0, 0, 0]);
        assert_v6_segment(&tcp(decode(LinkType::Ipv6, &both)), PAYLOAD);
        let frame = ethernet(0x86dd, &both);
        assert_v6_segment(&tcp(decode(LinkType::Ethernet, &frame)), PAYLOAD);
        sweep_prefixes(
            LinkType::Ethernet,
            &frame,
            14 + IPV6_TCP_HEADERS + 16,
            PAYLOAD,
        );
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let v4 = ipv4_tcp(PAYLOAD);
        let v6 = ipv6_tcp(PAYLOAD);
        assert_v4_segment(&tcp(decode(LinkType::LinuxSll, &sll(0x0800, &v4))), PAYLOAD);
        assert_v6_segment(&tcp(decode(LinkType::LinuxSll, &sll(0x86dd, &v6))), PAYLOAD);
        assert_v4_segment(
            &tcp(decode(LinkType::LinuxSll2, &sll2(0x0800, &v4))),
            PAYLOAD,
        );
        assert_v6_segment(
            &tcp(decode(LinkType::LinuxSll2, &sll2(0x86dd, &v6))),
            PAYLOAD,
        );
        // A VLAN tag the kernel left in place, behind the cooked header.
        let mut vlan = vec![0x00, 42, 0x08, 0x00];
        vlan.extend_from_slice(&v4);
        assert_v4_segment(
            &tcp(decode(LinkType::LinuxSll2, &sll2(0x8100, &vlan))),
            PAYLOAD,
        );
        // ETH_P_802_2 (LLC) and ARP are not IP.
        assert_eq!(
            decode(LinkType::LinuxSll, &sll(0x0004, &v4)),
            Ok(Decoded::NotTcp)
        );
        assert_eq!(
            decode(LinkType::LinuxSll2, &sll2(0x0806, &[0; 28])),
            Ok(Decoded::NotTcp)
        );
        // The etherparse builder's SLL header agrees with ours.
        let mut built = Vec::new();
        PacketBuilder::linux_sll(
            etherparse::LinuxSllPacketType::OUTGOING,
            6,
            [2, 0, 0, 0, 0, 1, 0, 0],
        )
        .ipv4(V4_SRC, V4_DST, 64)
        .tcp(40000, 80, 1000, 4096)
        .ack(77)
        .write(&mut built, PAYLOAD)
        .unwrap();
        assert_v4_segment(&tcp(decode(LinkType::LinuxSll, &built)), PAYLOAD);
    }

    #[test]
    fn null_accepts_both_byte_orders_and_every_bsd_inet6_value() {
        let v4 = ipv4_tcp(PAYLOAD);
        let v6 = ipv6_tcp(PAYLOAD);
        for family in [2u32.to_le_bytes(), 2u32.to_be_bytes()] {
            let frame = loopback(family, &v4);
            assert_v4_segment(&tcp(decode(LinkType::Null, &frame)), PAYLOAD);
        }
        for af in BSD_AF_INET6 {
            for family in [af.to_le_bytes(), af.to_be_bytes()] {
                let frame = loopback(family, &v6);
                assert_v6_segment(&tcp(decode(LinkType::Null, &frame)), PAYLOAD);
            }
        }
        // AF_INET with an IPv6 packet behind it: one of the two is lying.
        let lie = loopback(2u32.to_le_bytes(), &v6);
        assert!(matches!(
            decode(LinkType::Null, &lie),
            Err(DecodeError::Malformed(_))
        ));
        // An unknown family (AF_APPLETALK 16) is not IP.
        let other = loopback(16u32.to_le_bytes(), &v4);
        assert_eq!(decode(LinkType::Null, &other), Ok(Decoded::NotTcp));
    }

    #[test]
    fn loop_is_network_byte_order() {
        let v4 = ipv4_tcp(PAYLOAD);
        let v6 = ipv6_tcp(PAYLOAD);
        let frame = loopback(2u32.to_be_bytes(), &v4);
        assert_v4_segment(&tcp(decode(LinkType::Loop, &frame)), PAYLOAD);
        let frame = loopback(24u32.to_be_bytes(), &v6);
        assert_v6_segment(&tcp(decode(LinkType::Loop, &frame)), PAYLOAD);
        let little = loopback(2u32.to_le_bytes(), &v4);
        assert_eq!(decode(LinkType::Loop, &little), Ok(Decoded::NotTcp));
    }

    #[test]
    fn raw_ip_link_types() {
        let v4 = ipv4_tcp(PAYLOAD);
        let v6 = ipv6_tcp(PAYLOAD);
        assert_v4_segment(&tcp(decode(LinkType::Raw, &v4)), PAYLOAD);
        assert_v6_segment(&tcp(decode(LinkType::Raw, &v6)), PAYLOAD);
        assert_v4_segment(&tcp(decode(LinkType::Ipv4, &v4)), PAYLOAD);
        assert_v6_segment(&tcp(decode(LinkType::Ipv6, &v6)), PAYLOAD);
        // LINKTYPE_IPV4 with an IPv6 packet and the reverse.
        assert!(matches!(
            decode(LinkType::Ipv4, &v6),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            decode(LinkType::Ipv6, &v4),
            Err(DecodeError::Malformed(_))
        ));
        let mut v5 = v4.clone();
        v5[0] = 0x55;
        assert!(matches!(
            decode(LinkType::Raw, &v5),
            Err(DecodeError::Malformed(_))
        ));
    }

    #[test]
    fn ethernet_padding_and_trailers_are_not_payload() {
        // 14 + 20 + 20 + 2 = 56 bytes: the NIC pads to 60; padding is not always zero.
        let payload = b"ok";
        let mut frame = ethernet(0x0800, &ipv4_tcp(payload));
        frame.resize(60, 0xAA);
        frame.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]); // an FCS kept by the capture
        assert_v4_segment(&tcp(decode(LinkType::Ethernet, &frame)), payload);
        // Same on IPv6: its payload length bounds the segment.
        let mut frame = ethernet(0x86dd, &ipv6_tcp(payload));
        frame.extend_from_slice(&[0xAA; 9]);
        assert_v6_segment(&tcp(decode(LinkType::Ethernet, &frame)), payload);
        // And with no payload at all: an empty segment, not the padding.
        let mut frame = ethernet(0x0800, &ipv4_tcp(b""));
        frame.resize(60, 0x55);
        assert_eq!(tcp(decode(LinkType::Ethernet, &frame)).payload, b"");
    }

    #[test]
    fn truncation_sweep_every_link_type() {
        let v4 = ipv4_tcp(PAYLOAD);
        let v6 = ipv6_tcp(PAYLOAD);
        let h4 = IPV4_TCP_HEADERS;
        let h6 = IPV6_TCP_HEADERS;
        sweep_prefixes(LinkType::Ethernet, &ethernet(0x0800, &v4), 14 + h4, PAYLOAD);
        sweep_prefixes(LinkType::Ethernet, &ethernet(0x86dd, &v6), 14 + h6, PAYLOAD);
        let qinq = tagged(&[(0x88a8, 1), (0x8100, 2)], 0x0800, &v4);
        sweep_prefixes(LinkType::Ethernet, &qinq, 22 + h4, PAYLOAD);
        sweep_prefixes(LinkType::LinuxSll, &sll(0x0800, &v4), 16 + h4, PAYLOAD);
        sweep_prefixes(LinkType::LinuxSll2, &sll2(0x86dd, &v6), 20 + h6, PAYLOAD);
        let null = loopback(2u32.to_le_bytes(), &v4);
        sweep_prefixes(LinkType::Null, &null, 4 + h4, PAYLOAD);
        let lo = loopback(30u32.to_be_bytes(), &v6);
        sweep_prefixes(LinkType::Loop, &lo, 4 + h6, PAYLOAD);
        sweep_prefixes(LinkType::Raw, &v4, h4, PAYLOAD);
        sweep_prefixes(LinkType::Raw, &v6, h6, PAYLOAD);
        sweep_prefixes(LinkType::Ipv4, &v4, h4, PAYLOAD);
        sweep_prefixes(LinkType::Ipv6, &v6, h6, PAYLOAD);
    }

    #[test]
    fn truncation_sweep_with_tcp_options() {
        let mut l3 = Vec::new();
        PacketBuilder::ipv4(V4_SRC, V4_DST, 64)
            .tcp(40000, 80, 1000, 4096)
            .ack(77)
            .options(&[
                TcpOptionElement::MaximumSegmentSize(1460),
                TcpOptionElement::Timestamp(1, 2),
            ])
            .unwrap()
            .write(&mut l3, PAYLOAD)
            .unwrap();
        let frame = ethernet(0x0800, &l3);
        // MSS (4) + timestamps (10) padded to 16 option bytes.
        sweep_prefixes(LinkType::Ethernet, &frame, 14 + 20 + 36, PAYLOAD);
    }

    #[test]
    fn ipv4_fragments() {
        let whole = ipv4_tcp(PAYLOAD);
        // First fragment: MF set, offset 0 (a complete TCP header is there, still a fragment).
        let mut first = whole.clone();
        first[6] |= 0x20;
        assert_eq!(decode(LinkType::Raw, &first), Ok(Decoded::Fragment));
        // A later fragment: offset 185 * 8, MF clear; its bytes are not a TCP header.
        let mut later = whole.clone();
        later[6..8].copy_from_slice(&185u16.to_be_bytes());
        later[20..].fill(0xff);
        assert_eq!(decode(LinkType::Raw, &later), Ok(Decoded::Fragment));
        let framed = ethernet(0x0800, &later);
        assert_eq!(decode(LinkType::Ethernet, &framed), Ok(Decoded::Fragment));
        // DF set is not a fragment.
        let mut df = whole.clone();
        df[6] |= 0x40;
        assert_v4_segment(&tcp(decode(LinkType::Raw, &df)), PAYLOAD);
    }

    #[test]
    fn ipv6_fragments() {
        let plain = ipv6_tcp(PAYLOAD);
        let first = with_ipv6_ext(&plain, 44, fragment_header(0, true));
        assert_eq!(decode(LinkType::Raw, &first), Ok(Decoded::Fragment));
        let mut later = with_ipv6_ext(&plain, 44, fragment_header(185, false));
        later[48..].fill(0xff);
        assert_eq!(decode(LinkType::Raw, &later), Ok(Decoded::Fragment));
        // Atomic fragment (RFC 6946): the whole packet, processed as one.
        let atomic = with_ipv6_ext(&plain, 44, fragment_header(0, false));
        assert_v6_segment(&tcp(decode(LinkType::Raw, &atomic)), PAYLOAD);
    }

    #[test]
    fn non_tcp_frames() {
        let mut udp = Vec::new();
        PacketBuilder::ethernet2(MAC_A, MAC_B)
            .ipv4(V4_SRC, V4_DST, 64)
            .udp(5353, 5353)
            .write(&mut udp, b"dns")
            .unwrap();
        assert_eq!(decode(LinkType::Ethernet, &udp), Ok(Decoded::NotTcp));
        // A UDP packet cut inside its header is still not TCP.
        assert_eq!(decode(LinkType::Ethernet, &udp[..38]), Ok(Decoded::NotTcp));
        let mut icmp6 = Vec::new();
        PacketBuilder::ipv6(V6_SRC, V6_DST, 64)
            .icmpv6_echo_request(1, 2)
            .write(&mut icmp6, b"ping")
            .unwrap();
        assert_eq!(decode(LinkType::Raw, &icmp6), Ok(Decoded::NotTcp));
        let arp = ethernet(
            0x0806,
            &[
                0, 1, 8, 0, 6, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
        assert_eq!(decode(LinkType::Ethernet, &arp), Ok(Decoded::NotTcp));
        // 802.3 length field instead of an ether type (LLC/STP).
        let llc = ethernet(0x0026, &[0x42; 38]);
        assert_eq!(decode(LinkType::Ethernet, &llc), Ok(Decoded::NotTcp));
        let lldp = ethernet(0x88cc, &[0; 40]);
        assert_eq!(decode(LinkType::Ethernet, &lldp), Ok(Decoded::NotTcp));
    }

    #[test]
    fn malformed_headers() {
        let v4 = ipv4_tcp(PAYLOAD);
        let mut short_ihl = v4.clone();
        short_ihl[0] = 0x44;
        assert_eq!(
            decode(LinkType::Raw, &short_ihl),
            Err(DecodeError::Malformed("IPv4 header length below 20 bytes"))
        );
        let mut bad_offset = v4.clone();
        bad_offset[20 + 12] = 0x40; // data offset 4 words
        assert_eq!(
            decode(LinkType::Raw, &bad_offset),
            Err(DecodeError::Malformed("TCP data offset below 5 words"))
        );
        // IP total length 30: the TCP header would end past the IP packet though the
        // bytes are there. That is a lie in the packet, not a short capture.
        let mut short_total = v4.clone();
        short_total[2..4].copy_from_slice(&30u16.to_be_bytes());
        assert_eq!(
            decode(LinkType::Raw, &short_total),
            Err(DecodeError::Malformed(
                "IP length too short for the headers it carries"
            ))
        );
        // An IPv6 extension header cut by the capture.
        let hbh = with_ipv6_ext(&ipv6_tcp(b""), 0, [1, 4, 0, 0, 0, 0]);
        assert_eq!(
            decode(LinkType::Raw, &hbh[..44]),
            Err(DecodeError::Truncated)
        );
    }

    #[test]
    fn offload_zero_lengths_fall_back_to_the_capture() {
        // Linux TSO/GSO: captured before segmentation, IPv4 total length 0.
        let mut v4 = ipv4_tcp(PAYLOAD);
        v4[2..4].copy_from_slice(&0u16.to_be_bytes());
        assert_v4_segment(&tcp(decode(LinkType::Raw, &v4)), PAYLOAD);
        let mut v6 = ipv6_tcp(PAYLOAD);
        v6[4..6].copy_from_slice(&0u16.to_be_bytes());
        assert_v6_segment(&tcp(decode(LinkType::Raw, &v6)), PAYLOAD);
    }

    #[test]
    fn empty_frames_are_truncated_on_every_link() {
        for link in ALL_LINKS {
            assert_eq!(decode(link, &[]), Err(DecodeError::Truncated), "{link:?}");
        }
    }

    const ALL_LINKS: [LinkType; 8] = [
        LinkType::Ethernet,
        LinkType::Null,
        LinkType::Loop,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
    ];

    fn assert_payload_inside(frame: &[u8], outcome: &Result<Decoded<'_>, DecodeError>) {
        if let Ok(Decoded::Tcp(seg)) = outcome {
            let f = frame.as_ptr_range();
            let p = seg.payload.as_ptr_range();
            assert!(
                f.start <= p.start && p.end <= f.end,
                "payload outside the frame"
            );
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(link in 0..ALL_LINKS.len(), bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
            let outcome = decode(ALL_LINKS[link], &bytes);
            assert_payload_inside(&bytes, &outcome);
        }

        #[test]
        fn mutated_valid_frames_never_panic(
            which in 0..4usize,
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
            cut in any::<prop::sample::Index>(),
        ) {
            let v4 = ipv4_tcp(PAYLOAD);
            let (link, mut frame) = match which {
                0 => (LinkType::Ethernet, tagged(&[(0x88a8, 1), (0x8100, 2)], 0x0800, &v4)),
                1 => (LinkType::Ethernet, ethernet(0x86dd, &with_ipv6_ext(&ipv6_tcp(PAYLOAD), 0, [1, 4, 0, 0, 0, 0]))),
                2 => (LinkType::LinuxSll2, sll2(0x0800, &v4)),
                _ => (LinkType::Null, loopback(2u32.to_le_bytes(), &v4)),
            };
            for (at, byte) in edits {
                let i = at.index(frame.len());
                frame[i] = byte;
            }
            let frame = &frame[..cut.index(frame.len() + 1)];
            let outcome = decode(link, frame);
            assert_payload_inside(frame, &outcome);
        }
    }

    #[test]
    fn flow_hash_is_symmetric_and_separates_flows() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200u16 {
            let a = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 40000 + i));
            let b = SocketAddr::from(([192, 168, 1, 1], 80));
            let h = symmetric_flow_hash(&a, &b);
            assert_eq!(h, symmetric_flow_hash(&b, &a));
            assert!(seen.insert(h), "collision for flow {i}");
            let a6 = SocketAddr::from((Ipv6Addr::from(u128::from(i) << 64 | 1), 443));
            let b6 = SocketAddr::from((Ipv6Addr::from(V6_DST), 50000));
            let h6 = symmetric_flow_hash(&a6, &b6);
            assert_eq!(h6, symmetric_flow_hash(&b6, &a6));
            assert!(seen.insert(h6), "collision for v6 flow {i}");
        }
        // Swapping only the ports of one side is a different connection.
        let a = SocketAddr::from(([10, 0, 0, 1], 1000));
        let b = SocketAddr::from(([10, 0, 0, 2], 2000));
        let a2 = SocketAddr::from(([10, 0, 0, 1], 2000));
        let b2 = SocketAddr::from(([10, 0, 0, 2], 1000));
        assert_ne!(symmetric_flow_hash(&a, &b), symmetric_flow_hash(&a2, &b2));
        // ::a.b.c.d is not the IPv4 address a.b.c.d.
        let v4 = SocketAddr::from(([1, 2, 3, 4], 80));
        let v6 = SocketAddr::from((Ipv4Addr::new(1, 2, 3, 4).to_ipv6_compatible(), 80));
        assert_ne!(symmetric_flow_hash(&v4, &b), symmetric_flow_hash(&v6, &b));
    }

    #[test]
    fn flow_hash_is_pinned_across_runs() {
        // A fixed value: changing the hash moves flows between workers, so it must be a
        // deliberate change (and this number updated with it).
        let a = SocketAddr::from(([10, 0, 0, 1], 40000));
        let b = SocketAddr::from(([10, 0, 0, 2], 80));
        assert_eq!(symmetric_flow_hash(&a, &b), PINNED_FLOW_HASH);
    }
    const PINNED_FLOW_HASH: u64 = 15_299_536_006_355_667_867;

    #[test]
    fn flow_hash_spreads_evenly_over_workers() {
        // Many clients to one server, as on a busy web server: every worker gets a share.
        const WORKERS: u64 = 4;
        const FLOWS: u64 = 20_000;
        let server = SocketAddr::from(([192, 168, 1, 1], 80));
        let mut buckets = [0u64; WORKERS as usize];
        for i in 0..FLOWS {
            let client =
                SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 32768 + (i % 7) as u16));
            buckets[(symmetric_flow_hash(&client, &server) % WORKERS) as usize] += 1;
        }
        let fair = FLOWS / WORKERS;
        for (w, n) in buckets.iter().enumerate() {
            assert!(
                n.abs_diff(fair) < fair / 20,
                "worker {w} got {n} of {FLOWS}"
            );
        }
    }

    #[test]
    fn counters_record_each_outcome() {
        let mut c = DecodeCounters::default();
        let v4 = ipv4_tcp(PAYLOAD);
        c.record(&decode(LinkType::Raw, &v4));
        c.record(&decode(LinkType::Raw, &v4[..10]));
        c.record(&decode(LinkType::Raw, &[0x55; 40]));
        let mut frag = v4.clone();
        frag[6] |= 0x20;
        c.record(&decode(LinkType::Raw, &frag));
        c.record(&decode(LinkType::Null, &[99, 0, 0, 0]));
        let expected = DecodeCounters {
            frames: 5,
            tcp_segments: 1,
            not_tcp: 1,
            ip_fragments: 1,
            truncated: 1,
            malformed: 1,
        };
        assert_eq!(c, expected);
    }
}
