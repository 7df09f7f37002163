//! Link headers etherparse does not know (NULL, LOOP, SLL, SLL2), peeled by hand, and the
//! VLAN tag bounds.

use etherparse::{EtherType, LaxSlicedPacket};

use super::DecodeError;

/// Length of the Linux cooked v1 header (`LINKTYPE_LINUX_SLL`); the protocol is its last
/// two bytes, big-endian. <https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html>
pub(super) const SLL_HEADER_LEN: usize = 16;
pub(super) const SLL_PROTOCOL_AT: usize = 14;
/// Length of the Linux cooked v2 header (`LINKTYPE_LINUX_SLL2`); the protocol is its first
/// two bytes, big-endian. <https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html>
pub(super) const SLL2_HEADER_LEN: usize = 20;
pub(super) const SLL2_PROTOCOL_AT: usize = 0;
/// Length of the NULL/LOOP address-family header.
pub(super) const LOOPBACK_HEADER_LEN: usize = 4;

/// BSD address family values for IPv4 and IPv6 in NULL/LOOP headers. AF_INET is 2
/// everywhere; AF_INET6 differs: 24 on NetBSD/OpenBSD/BSD/OS, 28 on FreeBSD/DragonFly,
/// 30 on macOS/iOS. A capture may come from any of them, so all are accepted
/// (<https://www.tcpdump.org/linktypes/LINKTYPE_NULL.html>).
pub(super) const BSD_AF_INET: u32 = 2;
pub(super) const BSD_AF_INET6: [u32; 3] = [24, 28, 30];

/// Link-layer VLAN tag ether types: 802.1Q, 802.1ad (QinQ S-tag) and the pre-standard
/// 0x9100 QinQ tag. etherparse parses at most [`MAX_LINK_EXTENSIONS`] of them.
pub(super) const VLAN_ETHER_TYPES: [EtherType; 3] = [
    EtherType::VLAN_TAGGED_FRAME,
    EtherType::PROVIDER_BRIDGING,
    EtherType::VLAN_DOUBLE_TAGGED_FRAME,
];

/// How many VLAN tags (and MACsec headers) a frame may carry. QinQ needs two; a frame with
/// more is reported as `Malformed` rather than misread. The bound is etherparse's own.
pub const MAX_LINK_EXTENSIONS: usize = LaxSlicedPacket::LINK_EXTS_CAP;

/// Splits the 4-byte address family off a NULL/LOOP frame.
pub(super) fn split_loopback_header(frame: &[u8]) -> Result<([u8; 4], &[u8]), DecodeError> {
    let (head, rest) = frame
        .split_first_chunk::<LOOPBACK_HEADER_LEN>()
        .ok_or(DecodeError::Truncated)?;
    Ok((*head, rest))
}

pub(super) fn loopback_ether_type(family: u32) -> Option<EtherType> {
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
pub(super) fn split_cooked_header(
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
