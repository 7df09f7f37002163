//! Unit tests of `decode` on every link type, and of the flow hash and counters.

use super::link::BSD_AF_INET6;
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
    for link in LinkType::ALL {
        assert_eq!(decode(link, &[]), Err(DecodeError::Truncated), "{link:?}");
    }
}

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
    fn random_bytes_never_panic(link in 0..LinkType::ALL.len(), bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
        let outcome = decode(LinkType::ALL[link], &bytes);
        assert_payload_inside(&bytes, &outcome);
        prop_assert_eq!(&outcome, &decode_general(LinkType::ALL[link], &bytes));
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
        prop_assert_eq!(&outcome, &decode_general(link, frame));
    }

    /// The frames the fast path takes, with their headers edited and cut: where it decides
    /// it gives what etherparse gives, and it leaves every other frame to it.
    #[test]
    fn the_fast_path_agrees_with_etherparse_on_edited_common_frames(
        which in 0..COMMON_FRAMES,
        edits in proptest::collection::vec((0usize..100, any::<u8>()), 0..4),
        pad in 0usize..8,
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let (link, frame) = edited_common_frame(which, &edits, pad, cut);
        let frame = &frame[..];
        prop_assert_eq!(decode(link, frame), decode_general(link, frame));
    }

    /// The capture thread's routing key: the endpoints `decode` gives, or none when it
    /// gives no segment, on the same edited and cut frames (fast path or not).
    #[test]
    fn tcp_endpoints_are_what_decode_finds(
        which in 0..COMMON_FRAMES,
        edits in proptest::collection::vec((0usize..100, any::<u8>()), 0..4),
        pad in 0usize..8,
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let (link, frame) = edited_common_frame(which, &edits, pad, cut);
        let frame = &frame[..];
        let want = match decode(link, frame) {
            Ok(Decoded::Tcp(seg)) => Some((seg.src, seg.dst)),
            _ => None,
        };
        prop_assert_eq!(tcp_endpoints(link, frame), want);
    }
}

/// `common_frame(which)` padded with `pad` zero bytes, with `edits` (position modulo the
/// length, new byte) applied, then cut where `cut` says (none: whole).
fn edited_common_frame(
    which: usize,
    edits: &[(usize, u8)],
    pad: usize,
    cut: Option<prop::sample::Index>,
) -> (LinkType, Vec<u8>) {
    let (link, mut frame) = common_frame(which);
    frame.extend(std::iter::repeat_n(0u8, pad));
    for &(at, byte) in edits {
        let i = at % frame.len();
        frame[i] = byte;
    }
    let end = cut.map_or(frame.len(), |c| c.index(frame.len() + 1));
    frame.truncate(end);
    (link, frame)
}

/// How many `common_frame`s there are.
const COMMON_FRAMES: usize = 11;

/// Frames of the common case on every link type (`fast.rs`), TCP options included.
fn common_frame(which: usize) -> (LinkType, Vec<u8>) {
    let v4 = ipv4_tcp(PAYLOAD);
    let v6 = ipv6_tcp(PAYLOAD);
    match which {
        0 => (LinkType::Ethernet, ethernet(0x0800, &v4)),
        1 => (LinkType::Ethernet, ethernet(0x86dd, &v6)),
        2 => (LinkType::LinuxSll, sll(0x0800, &v4)),
        3 => (LinkType::LinuxSll2, sll2(0x86dd, &v6)),
        4 => (LinkType::Null, loopback(2u32.to_le_bytes(), &v4)),
        5 => (LinkType::Null, loopback(30u32.to_be_bytes(), &v6)),
        6 => (LinkType::Loop, loopback(2u32.to_be_bytes(), &v4)),
        7 => (LinkType::Raw, v6),
        8 => (LinkType::Ipv4, v4),
        9 => {
            // IPv4 with options (IHL 6: NOP, NOP, NOP, end of options).
            let mut ip = v4[..20].to_vec();
            ip[0] = 0x46;
            let total = u16::from_be_bytes([ip[2], ip[3]]) + 4;
            ip[2..4].copy_from_slice(&total.to_be_bytes());
            ip.extend_from_slice(&[1, 1, 1, 0]);
            ip.extend_from_slice(&v4[20..]);
            (LinkType::Ethernet, ethernet(0x0800, &ip))
        }
        _ => {
            let mut builder = Vec::new();
            PacketBuilder::ipv4(V4_SRC, V4_DST, 64)
                .tcp(40000, 80, 1000, 4096)
                .options(&[TcpOptionElement::Noop, TcpOptionElement::Timestamp(7, 9)])
                .unwrap()
                .ack(77)
                .write(&mut builder, PAYLOAD)
                .unwrap();
            (LinkType::Ethernet, ethernet(0x0800, &builder))
        }
    }
}

#[test]
fn the_fast_path_takes_the_common_frames() {
    for which in 0..COMMON_FRAMES {
        let (link, frame) = common_frame(which);
        let fast = super::fast::decode(link, &frame);
        assert!(
            fast.is_some(),
            "frame {which} ({link:?}) left to etherparse"
        );
        assert_eq!(
            Ok(Decoded::Tcp(fast.unwrap())),
            decode_general(link, &frame)
        );
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
        let client = SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 32768 + (i % 7) as u16));
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
