//! IP and TCP headers, as etherparse sliced them, turned into a `Decoded` or a `DecodeError`.

use std::net::{IpAddr, SocketAddr};

use etherparse::err::packet::SliceError;
use etherparse::err::{Layer, LenError};
use etherparse::{ip_number, EtherType, LaxNetSlice, LaxSlicedPacket, LenSource, TransportSlice};

use super::link::VLAN_ETHER_TYPES;
use super::tcp_options::{has_auth_option, timestamp_option};
use super::{DecodeError, Decoded, TcpFlags, TcpSegment};

/// Turns etherparse's lax slicing into what httshark needs to know. The order matters:
/// link/IP errors first, then fragments (a non-first fragment's bytes are not headers,
/// so errors etherparse finds past a fragment header mean nothing), then the protocol,
/// then errors in the TCP header.
pub(super) fn interpret<'a>(packet: &LaxSlicedPacket<'a>) -> Result<Decoded<'a>, DecodeError> {
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

pub(super) fn ip_header_error(err: etherparse::err::ip::LaxHeaderSliceError) -> DecodeError {
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
