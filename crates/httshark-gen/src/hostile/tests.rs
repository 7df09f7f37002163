//! Tests of the hostile captures: each attack's frames, time order, and the legitimate
//! traffic's ground truth.

use std::collections::HashSet;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};

use super::attack::ATTACK_CONN_BASE;
use super::*;
use crate::parse_expected_tsv;
use crate::tcp::{Direction, Packet};

struct Written {
    /// (frame, is attack)
    packets: Vec<(Packet, bool)>,
    bytes: Vec<u8>,
    expected: String,
    sum: HostileSummary,
}

fn write(cfg: &HostileConfig) -> Written {
    let mut packets = Vec::new();
    let mut expected = Vec::new();
    let mut bytes = Vec::new();
    let sum = write_hostile_with(cfg, &mut bytes, Some(&mut expected), |p, a| {
        packets.push((p.clone(), a))
    })
    .unwrap();
    Written {
        packets,
        bytes,
        expected: String::from_utf8(expected).unwrap(),
        sum,
    }
}

fn cfg(kind: Kind, scale: u64, legit: u32) -> HostileConfig {
    HostileConfig {
        scale,
        legit,
        ..HostileConfig::new(kind)
    }
}

struct Tcp {
    src: SocketAddr,
    dst: SocketAddr,
    syn: bool,
    ack: bool,
    payload: Vec<u8>,
}

fn tcp(p: &Packet) -> Tcp {
    let s = SlicedPacket::from_ethernet(&p.data).unwrap();
    let (src, dst) = match s.net {
        Some(NetSlice::Ipv4(ip)) => (
            IpAddr::V4(ip.header().source_addr()),
            IpAddr::V4(ip.header().destination_addr()),
        ),
        _ => panic!("not IPv4"),
    };
    let Some(TransportSlice::Tcp(t)) = s.transport else {
        panic!("not TCP")
    };
    Tcp {
        src: SocketAddr::new(src, t.source_port()),
        dst: SocketAddr::new(dst, t.destination_port()),
        syn: t.syn(),
        ack: t.ack(),
        payload: t.payload().to_vec(),
    }
}

/// The payload bytes of attack connection `n` in `dir`, in capture order.
fn stream(w: &Written, n: u32, dir: Direction) -> Vec<u8> {
    let mut out = Vec::new();
    for (p, _) in &w.packets {
        if p.meta.conn == ATTACK_CONN_BASE + n && p.meta.dir == dir {
            out.extend_from_slice(&tcp(p).payload);
        }
    }
    out
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn syn_flood_is_lone_syns_from_distinct_sources() {
    let w = write(&cfg(Kind::SynFlood, 5000, 3));
    let attack: Vec<Tcp> = w
        .packets
        .iter()
        .filter(|p| p.1)
        .map(|p| tcp(&p.0))
        .collect();
    assert_eq!(attack.len(), 5000);
    assert_eq!(w.sum.attack_packets, 5000);
    assert_eq!(w.sum.attack_connections, 5000);
    let (_, server) = target();
    assert!(attack
        .iter()
        .all(|t| t.syn && !t.ack && t.payload.is_empty() && t.dst == server));
    let sources: HashSet<SocketAddr> = attack.iter().map(|t| t.src).collect();
    assert_eq!(
        sources.len(),
        5000,
        "every SYN from its own address and port"
    );
    assert!(sources
        .iter()
        .all(|s| matches!(s.ip(), IpAddr::V4(a) if a.octets()[..2] == [198, 18] || a.octets()[..2] == [198, 19])));
    // The legitimate connections are there and complete.
    assert_eq!(w.sum.legit_connections, 3);
    assert!(w.packets.iter().any(|(p, a)| !a && p.meta.fin));
}

#[test]
fn attacker_addresses_are_distinct_across_the_port_wrap() {
    let mut seen = HashSet::new();
    for i in (0..300_000u64).chain(131_072 * 63_990..131_072 * 63_990 + 10) {
        assert!(seen.insert(attacker(i)), "attacker {i}");
    }
}

#[test]
fn huge_header_lines_have_the_requested_length() {
    let scale = 200_001;
    let w = write(&cfg(Kind::HugeHeader, scale, 2));
    for (n, dir) in [(0, Direction::ToServer), (1, Direction::ToClient)] {
        let s = stream(&w, n, dir);
        let at = s
            .windows(11)
            .position(|x| x == b"X-Padding: ")
            .expect("the long line");
        let len = s[at..].windows(2).position(|x| x == b"\r\n").unwrap();
        assert_eq!(len as u64, 11 + scale, "conn {n}");
        assert!(!s[at..at + len].iter().any(|&b| b.is_ascii_control()));
        // The head ends right after (request) or after Content-Length (response).
        assert!(s.ends_with(b"\r\n\r\n"));
    }
    // Both connections are closed by the server.
    let fins = w.packets.iter().filter(|(p, a)| *a && p.meta.fin).count();
    assert_eq!(fins, 4);
}

#[test]
fn endless_chunked_body_never_ends() {
    let scale = 300_000;
    let w = write(&cfg(Kind::EndlessChunked, scale, 2));
    let s = stream(&w, 0, Direction::ToClient);
    let head_end = s.windows(4).position(|x| x == b"\r\n\r\n").unwrap() + 4;
    assert!(s[..head_end]
        .windows(26)
        .any(|x| x == b"Transfer-Encoding: chunked"));
    let (mut rest, mut data, mut chunks) = (&s[head_end..], 0u64, 0);
    while !rest.is_empty() {
        let eol = rest.windows(2).position(|x| x == b"\r\n").unwrap();
        let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
        assert!(n > 0, "a last chunk was sent");
        assert_eq!(&rest[eol + 2 + n..eol + 4 + n], b"\r\n");
        rest = &rest[eol + 4 + n..];
        data += n as u64;
        chunks += 1;
    }
    assert_eq!(data, scale);
    assert_eq!(chunks, scale.div_ceil(PIECE as u64));
    assert!(!w
        .packets
        .iter()
        .any(|(p, a)| *a && (p.meta.fin || p.meta.rst)));
}

#[test]
fn pending_and_pipelined_requests_are_never_answered() {
    let w = write(&cfg(Kind::Pending, 300, 2));
    assert_eq!(w.sum.attack_connections, 300);
    for n in [0, 150, 299] {
        let req = stream(&w, n, Direction::ToServer);
        assert!(req.starts_with(format!("GET /pending/{n} ").as_bytes()));
        assert_eq!(count(&req, b"\r\n\r\n"), 1);
        assert!(stream(&w, n, Direction::ToClient).is_empty());
    }
    assert!(!w
        .packets
        .iter()
        .any(|(p, a)| *a && (p.meta.fin || p.meta.rst)));

    let w = write(&cfg(Kind::Pipelined, 500, 2));
    assert_eq!(w.sum.attack_connections, 1);
    let req = stream(&w, 0, Direction::ToServer);
    assert_eq!(count(&req, b"GET /pipelined/"), 500);
    assert_eq!(count(&req, b"\r\n\r\n"), 500);
    assert!(req.ends_with(
        b"GET /pipelined/499 HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: hostile/1\r\n\r\n"
    ));
    assert!(stream(&w, 0, Direction::ToClient).is_empty());
}

#[test]
fn ooo_window_loses_each_first_segment_and_never_fills() {
    let w = write(&HostileConfig {
        ooo_bytes: 20_000,
        ..cfg(Kind::OooWindow, 5, 2)
    });
    assert_eq!(w.sum.attack_connections, 5);
    let mss = TcpParams::default().mss as u64;
    for n in 0..5u32 {
        let segs: Vec<&Packet> = w
            .packets
            .iter()
            .filter(|(p, _)| p.meta.conn == ATTACK_CONN_BASE + n)
            .map(|(p, _)| p)
            .collect();
        // SYN, SYN-ACK, ACK, then client data only.
        assert!(segs[0].meta.syn && segs[1].meta.syn);
        assert!(segs[3..].iter().all(|p| p.meta.dir == Direction::ToServer));
        let mut next = mss;
        for p in segs.iter().filter(|p| p.meta.payload_len > 0) {
            assert_eq!(
                p.meta.stream_off, next,
                "conn {n}: contiguous after the hole"
            );
            next += p.meta.payload_len as u64;
        }
        let want = if n == 0 {
            20_000 * OOO_BIG_FACTOR
        } else {
            20_000
        };
        assert_eq!(next - mss, want, "conn {n}");
    }
}

#[test]
fn frames_are_in_time_order_and_the_truth_matches_the_legit_traffic() {
    for kind in Kind::ALL {
        let scale = match kind {
            Kind::EndlessChunked | Kind::HugeHeader => 150_000,
            Kind::OooWindow => 3,
            _ => 200,
        };
        let c = HostileConfig {
            ooo_bytes: 10_000,
            ..cfg(kind, scale, 7)
        };
        let w = write(&c);
        assert!(
            w.packets.windows(2).all(|x| x[0].0.ts <= x[1].0.ts),
            "{kind:?}: time order"
        );
        assert_eq!(w.sum.packets as usize, w.packets.len());
        assert_eq!(w.sum.bytes as usize, w.bytes.len());
        let truth = parse_expected_tsv(&w.expected).unwrap();
        assert_eq!(truth.len() as u64, w.sum.legit_transactions, "{kind:?}");
        assert_eq!(w.sum.legit_connections, 7);
        // Every transaction is answered, and comes from a legitimate client whose
        // frames are all marked legitimate.
        let legit_clients: HashSet<SocketAddr> = w
            .packets
            .iter()
            .filter(|(_, a)| !a)
            .map(|(p, _)| tcp(p))
            .filter(|t| t.syn && !t.ack)
            .map(|t| t.src)
            .collect();
        assert_eq!(legit_clients.len(), 7, "{kind:?}");
        for (tx, intact) in &truth {
            assert!(*intact && tx.status.is_some());
            assert!(
                legit_clients.contains(&tx.client),
                "{kind:?}: {}",
                tx.client
            );
        }
        // Legitimate connections are spread through the attack, not bunched at the end.
        let first_attack = w.packets.iter().position(|p| p.1).unwrap();
        let last_attack = w.packets.iter().rposition(|p| p.1).unwrap();
        let legit_inside = w.packets[first_attack..last_attack]
            .iter()
            .filter(|(p, a)| !a && p.meta.syn && p.meta.dir == Direction::ToServer)
            .count();
        assert!(
            legit_inside >= 5,
            "{kind:?}: {legit_inside} legit SYNs inside"
        );
        // Deterministic in the config, and the seed matters.
        assert_eq!(write(&c).bytes, w.bytes, "{kind:?}");
        let other = HostileConfig { seed: 2, ..c };
        assert_ne!(write(&other).bytes, w.bytes, "{kind:?}");
    }
}

#[test]
fn scale_zero_and_no_legit_is_an_empty_capture() {
    let w = write(&cfg(Kind::SynFlood, 0, 0));
    assert_eq!(w.bytes.len(), 24);
    assert_eq!(w.expected.lines().count(), 1);
    let w = write(&cfg(Kind::Pipelined, 0, 2));
    assert_eq!(w.sum.legit_connections, 2);
    assert!(
        w.sum.attack_packets > 0,
        "the pipelined connection's handshake"
    );
}

#[test]
fn kinds_round_trip_their_names() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.as_str()), Some(k));
        assert!(k.default_scale() > 0);
    }
    assert_eq!(Kind::parse("smurf"), None);
}
