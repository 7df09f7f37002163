//! Link, IP and TCP decoding: a captured frame in, a TCP segment view out.
//!
//! Pure and zero-copy: `decode` borrows the frame. Non-TCP and undecodable frames are
//! reported as values (and counted by the caller), never as panics.
//!
//! Link types: Ethernet (with 802.1Q and QinQ VLAN tags), Linux cooked SLL and SLL2 (what
//! `-device any` gives), BSD NULL and OpenBSD LOOP, raw IP (DLT_RAW 12/14 and LINKTYPE_RAW 101,
//! LINKTYPE_IPV4 228, LINKTYPE_IPV6 229). IPv4 and IPv6 (extension headers skipped).

use std::net::SocketAddr;

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
    pub fn from_dlt(dlt: i32) -> Option<LinkType> {
        todo!("wire: map {dlt}")
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

/// Decodes one captured frame of link type `link`.
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    todo!("wire: decode {link:?} {}", frame.len())
}

/// A hash of the connection that is the same for both directions, for routing a
/// connection's packets to one worker.
pub fn symmetric_flow_hash(a: &SocketAddr, b: &SocketAddr) -> u64 {
    todo!("wire: hash {a} {b}")
}
