//! The common frame decoded without etherparse: a link header without VLAN tags, then
//! IPv4 (not a fragment, no reserved flag, a total length that covers its header and lies
//! within the captured bytes) or IPv6 without extension headers (a payload length that is
//! not 0 and lies within them), carrying a whole TCP header. That is nearly every frame of
//! an HTTP capture, and etherparse's lax slicer built and moved a structure of several
//! hundred bytes for each (3.5% of a CSV-only run's samples in its copies alone).
//!
//! Anything else, or any doubt, gives `None`, and `decode` takes the general way: the
//! fast path never decides an error, a fragment or a non-TCP frame. Where it decides, it
//! gives exactly what the general way gives (`tests::the_fast_path_agrees_*`, and the
//! `decode` fuzz target's oracle).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::link::{
    loopback_ether_type, LOOPBACK_HEADER_LEN, SLL2_HEADER_LEN, SLL2_PROTOCOL_AT, SLL_HEADER_LEN,
    SLL_PROTOCOL_AT,
};
use super::tcp_options::{has_auth_option, timestamp_option};
use super::{LinkType, TcpFlags, TcpSegment};

const ETHER_TYPE_IPV4: u16 = 0x0800;
const ETHER_TYPE_IPV6: u16 = 0x86dd;
const ETHERNET_HEADER_LEN: usize = 14;
const IP_PROTOCOL_TCP: u8 = 6;

/// The TCP segment in `frame`, when it is the common case (see the module docs).
pub(super) fn decode(link: LinkType, frame: &[u8]) -> Option<TcpSegment<'_>> {
    let (src, dst, segment) = ip_payload(link, frame)?;
    tcp(src, dst, segment)
}

/// The two endpoints of the TCP segment in `frame`, when `decode` would decode it: the
/// same checks, without reading the TCP options or building the segment (what the
/// capture thread needs to route a frame to its worker).
pub(super) fn endpoints(link: LinkType, frame: &[u8]) -> Option<(SocketAddr, SocketAddr)> {
    let (src, dst, segment) = ip_payload(link, frame)?;
    tcp_header_len(segment)?;
    Some((
        SocketAddr::new(src, be16(segment, 0)?),
        SocketAddr::new(dst, be16(segment, 2)?),
    ))
}

/// Source, destination and the TCP bytes of the common frame.
fn ip_payload(link: LinkType, frame: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    let (ether_type, ip) = match link {
        LinkType::Ethernet => (be16(frame, 12)?, frame.get(ETHERNET_HEADER_LEN..)?),
        LinkType::LinuxSll => (be16(frame, SLL_PROTOCOL_AT)?, frame.get(SLL_HEADER_LEN..)?),
        LinkType::LinuxSll2 => (
            be16(frame, SLL2_PROTOCOL_AT)?,
            frame.get(SLL2_HEADER_LEN..)?,
        ),
        LinkType::Null | LinkType::Loop => {
            let family: [u8; 4] = frame.get(..LOOPBACK_HEADER_LEN)?.try_into().ok()?;
            // As `decode`: NULL is in the capturing host's byte order, so both are tried.
            let ether_type = loopback_ether_type(u32::from_be_bytes(family)).or_else(|| {
                (link == LinkType::Null)
                    .then(|| loopback_ether_type(u32::from_le_bytes(family)))
                    .flatten()
            })?;
            (ether_type.0, frame.get(LOOPBACK_HEADER_LEN..)?)
        }
        LinkType::Raw => match frame.first()? >> 4 {
            4 => (ETHER_TYPE_IPV4, frame),
            6 => (ETHER_TYPE_IPV6, frame),
            _ => return None,
        },
        LinkType::Ipv4 => (ETHER_TYPE_IPV4, frame),
        LinkType::Ipv6 => (ETHER_TYPE_IPV6, frame),
    };
    match ether_type {
        ETHER_TYPE_IPV4 => ipv4(ip),
        ETHER_TYPE_IPV6 => ipv6(ip),
        _ => None,
    }
}

/// Source, destination and the IP payload, cut at the total length.
fn ipv4(ip: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    let first = *ip.first()?;
    let header_len = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || header_len < 20 || ip.len() < header_len {
        return None;
    }
    let total = usize::from(be16(ip, 2)?);
    // The reserved flag, more fragments, or a fragment offset: the general way.
    let flags_offset = be16(ip, 6)?;
    if total < header_len || total > ip.len() || flags_offset & 0xbfff != 0 {
        return None;
    }
    if ip.get(9) != Some(&IP_PROTOCOL_TCP) {
        return None;
    }
    let addr = |at: usize| -> Option<IpAddr> {
        let b: [u8; 4] = ip.get(at..at + 4)?.try_into().ok()?;
        Some(IpAddr::V4(Ipv4Addr::from(b)))
    };
    Some((addr(12)?, addr(16)?, ip.get(header_len..total)?))
}

/// Source, destination and the IP payload, cut at the payload length.
fn ipv6(ip: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    const HEADER_LEN: usize = 40;
    if ip.len() < HEADER_LEN || *ip.first()? >> 4 != 6 || ip.get(6) != Some(&IP_PROTOCOL_TCP) {
        return None;
    }
    let payload_len = usize::from(be16(ip, 4)?);
    if payload_len == 0 || HEADER_LEN + payload_len > ip.len() {
        return None;
    }
    let addr = |at: usize| -> Option<IpAddr> {
        let b: [u8; 16] = ip.get(at..at + 16)?.try_into().ok()?;
        Some(IpAddr::V6(Ipv6Addr::from(b)))
    };
    Some((
        addr(8)?,
        addr(24)?,
        ip.get(HEADER_LEN..HEADER_LEN + payload_len)?,
    ))
}

/// The TCP header's length, when it is at least the fixed header and lies within `segment`.
fn tcp_header_len(segment: &[u8]) -> Option<usize> {
    let header_len = usize::from(*segment.get(12)? >> 4) * 4;
    (header_len >= 20 && segment.len() >= header_len).then_some(header_len)
}

fn tcp(src: IpAddr, dst: IpAddr, segment: &[u8]) -> Option<TcpSegment<'_>> {
    let header_len = tcp_header_len(segment)?;
    let options = segment.get(20..header_len)?;
    let flags = *segment.get(13)?;
    Some(TcpSegment {
        src: SocketAddr::new(src, be16(segment, 0)?),
        dst: SocketAddr::new(dst, be16(segment, 2)?),
        seq: be32(segment, 4)?,
        ack: be32(segment, 8)?,
        flags: TcpFlags {
            syn: flags & 0x02 != 0,
            ack: flags & 0x10 != 0,
            fin: flags & 0x01 != 0,
            rst: flags & 0x04 != 0,
        },
        payload: segment.get(header_len..)?,
        auth_option: has_auth_option(options),
        timestamp: timestamp_option(options),
        window: be16(segment, 14)?,
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
