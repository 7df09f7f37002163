//! TCP stack behaviours as captures (issue 9, item 5): each [`Case`] is one connection
//! carrying two HTTP/1.1 transactions, in which the TCP exchange does one thing a real
//! stack (or a middlebox, or an attacker) does that a sniffer must not take for data, loss
//! or a new connection. The ground truth is the transactions ([`ExpectedTx`], the
//! `.expected.tsv` format) and what a stack-aware observer counts ([`CaseTruth`]).
//!
//! | case | what the capture shows |
//! |---|---|
//! | `fast-open` | TCP Fast Open (RFC 7413): the first request rides on the SYN, with a cookie option |
//! | `keepalive` | an idle second between the transactions, then keep-alive probes (RFC 9293 §3.8.4) from both ends: the client's without a byte (Linux), the server's with one garbage byte (older Windows) |
//! | `zero-window` | the client closes its window before the first response; the server sends two zero-window probes (RFC 9293 §3.8.6.1) with the response's first byte, not taken |
//! | `simultaneous-open` | both ends send SYN, then SYN-ACK (RFC 9293 §3.5, figure 8) |
//! | `syn-new-isn` | the client's first SYN goes unanswered; its retransmission a second later carries another ISN |
//! | `overlap-conflict` | the second request's first bytes are not captured; the bytes after them are, then the sender retransmits the whole request in one segment whose copy of those later bytes differs in the request target: the first copy captured is the truth here (the documented policy), and that request is the one to flag |
//! | `rexmit-after-delivery` | the second request is captured whole (an observer has delivered it), then retransmitted before the server's ACK with another request target: the first copy is the truth, that request is flagged |
//!
//! The request targets name the case (`/stack/<case>/a`, `/stack/<case>/b`), so a capture
//! of several cases tells them apart. Frames are Ethernet/IPv4 from 10.1.0.1 to
//! `www.example.com` (192.0.2.10:80 of [`super::http::host`]); everything is a function of
//! the case and the seed (which moves the ports, the ISNs and the start time).
//!
//! What it does not do: combine cases in one connection, or vary sizes beyond one segment
//! per request head (the overlap needs the whole request in one retransmission).

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::http::{host, ExpectedTx, Framing};
use super::pcap::{LinkKind, PcapWriter, TsResolution};
use super::rng::Rng;
use super::tcp::{Direction, Packet, TcpConn, TcpParams};
use crate::time::Timestamp;

/// The behaviours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Case {
    FastOpen,
    KeepAlive,
    ZeroWindow,
    SimultaneousOpen,
    SynNewIsn,
    OverlapConflict,
    RexmitAfterDelivery,
}

impl Case {
    pub const ALL: [Case; 7] = [
        Case::FastOpen,
        Case::KeepAlive,
        Case::ZeroWindow,
        Case::SimultaneousOpen,
        Case::SynNewIsn,
        Case::OverlapConflict,
        Case::RexmitAfterDelivery,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Case::FastOpen => "fast-open",
            Case::KeepAlive => "keepalive",
            Case::ZeroWindow => "zero-window",
            Case::SimultaneousOpen => "simultaneous-open",
            Case::SynNewIsn => "syn-new-isn",
            Case::OverlapConflict => "overlap-conflict",
            Case::RexmitAfterDelivery => "rexmit-after-delivery",
        }
    }

    pub fn parse(s: &str) -> Option<Case> {
        Case::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// What the TCP exchange of a case holds, as a stack-aware observer counts it. Everything
/// not listed is zero: no segment has a gap before it, and each case is one connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseTruth {
    /// Keep-alive probes (segments at the next sequence number minus one).
    pub keepalive_probes: u64,
    /// Zero-window probes (one new byte sent into a closed window, not taken).
    pub zero_window_probes: u64,
    /// Simultaneous opens.
    pub simultaneous_opens: u64,
    /// SYNs retransmitted with a new ISN before any answer.
    pub syn_isn_changes: u64,
    /// Segments that brought new bytes and repeated bytes captured before (the overlap
    /// case's retransmission: the uncaptured first bytes, and again the rest).
    pub overlapping_segments: u64,
    /// Segments that only repeat bytes captured before (retransmissions).
    pub retransmitted_segments: u64,
    /// Segments whose copy of bytes already captured differed, and how many bytes differed.
    pub overlap_conflicts: u64,
    /// Those of `overlap_conflicts` whose first copy an observer had already delivered
    /// (not yet acknowledged by the receiver).
    pub overlap_conflicts_delivered: u64,
    pub overlap_conflict_bytes: u64,
    /// Indices (into `txs`) of the transactions whose bytes had two different copies.
    pub conflicted: Vec<usize>,
}

/// One case's capture and its ground truth.
#[derive(Clone, Debug)]
pub struct CaseCapture {
    pub case: Case,
    pub packets: Vec<Packet>,
    pub txs: Vec<ExpectedTx>,
    pub truth: CaseTruth,
}

/// Response body of the first transaction (Content-Length framed).
const BODY_A: usize = 3000;
/// Request body of the second transaction.
const BODY_B: &[u8] = b"name=stack&value=1";
/// Response body of the second transaction.
const BODY_B_RESP: &[u8] = b"created\n";

/// The target a conflicting copy shows instead of the second request's: as long, so the
/// framing is the same whichever copy a receiver took.
fn forged_target(target: &str) -> String {
    let keep = target.len().saturating_sub(2);
    format!("{}ZZ", &target[..keep])
}

/// The capture of `case` (seed 0 and up).
pub fn generate(case: Case, seed: u64) -> CaseCapture {
    let mut rng = Rng::derive(seed, case as u64, 0x57ac_4000);
    let (host_name, server) = host(0, false);
    let port = 20_000 + rng.below(40_000) as u16;
    let client = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1)), port);
    let params = TcpParams {
        client_isn: rng.next_u64() as u32,
        server_isn: rng.next_u64() as u32,
        ..TcpParams::default()
    };
    let start = Timestamp::from_secs_nanos(1_700_000_000 + rng.below(1_000_000) as i64, 0);
    let mut conn = match TcpConn::new(0, client, server, params.clone(), start) {
        Ok(c) => c,
        // Same family, MSS of the defaults: cannot fail.
        Err(_) => unreachable!("fixed addresses and MSS"),
    };
    let name = case.as_str();
    let target_a = format!("/stack/{name}/a");
    let target_b = format!("/stack/{name}/b");
    let req_a =
        format!("GET {target_a} HTTP/1.1\r\nHost: {host_name}\r\nUser-Agent: httshark-gen\r\n\r\n");
    let head_b = format!(
        "POST {target_b} HTTP/1.1\r\nHost: {host_name}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        BODY_B.len()
    );
    let resp_a_head =
        format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {BODY_A}\r\n\r\n");
    let body_a: Vec<u8> = (0..BODY_A).map(|i| b'a' + (i % 26) as u8).collect();
    let resp_b_head = format!(
        "HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n",
        BODY_B_RESP.len()
    );
    let mut truth = CaseTruth::default();
    let (c, s) = (Direction::ToServer, Direction::ToClient);

    // The handshake, and the first request.
    let req_a_start = conn.now();
    match case {
        Case::FastOpen => conn.handshake_fast_open(req_a.as_bytes()),
        Case::SimultaneousOpen => {
            conn.simultaneous_open();
            truth.simultaneous_opens = 1;
        }
        Case::SynNewIsn => {
            let first = params.client_isn ^ 0x5a5a_5a5a;
            conn.handshake_after_syn_with(first, Duration::from_secs(1));
            truth.syn_isn_changes = 1;
        }
        _ => conn.handshake(),
    }
    if case != Case::FastOpen {
        conn.wait(Duration::from_micros(100));
        conn.send(c, req_a.as_bytes());
    }
    let req_a_end = conn.now();
    conn.wait(params.rtt / 2);
    let resp_a_start = conn.now();
    let mut resp_a = resp_a_head.clone().into_bytes();
    resp_a.extend_from_slice(&body_a);
    if case == Case::ZeroWindow {
        conn.send_after_zero_window(s, &resp_a, 2);
        truth.zero_window_probes = 2;
    } else {
        conn.send(s, &resp_a);
    }
    let resp_a_end = conn.now();

    if case == Case::KeepAlive {
        conn.wait(Duration::from_secs(1));
        conn.keepalive_probe(c, None);
        conn.wait(Duration::from_millis(500));
        conn.keepalive_probe(s, Some(0));
        truth.keepalive_probes = 2;
    }

    // The second request: head and body in one segment.
    conn.wait(Duration::from_millis(5));
    let req_b_start = conn.now();
    let mut req_b = head_b.clone().into_bytes();
    req_b.extend_from_slice(BODY_B);
    if case == Case::OverlapConflict {
        // Split inside the target, 4 bytes before its end: the captured copy of the bytes
        // from there is the original; the retransmission's shows the forged target.
        let split = "POST ".len() + target_b.len() - 4;
        let forged = head_b.replacen(&target_b, &forged_target(&target_b), 1);
        let mut other = forged.into_bytes();
        other.extend_from_slice(BODY_B);
        conn.send_overlap_conflict(c, &req_b, split, &other);
        truth.overlapping_segments = 1;
        truth.overlap_conflicts = 1;
        truth.overlap_conflict_bytes = 2;
        truth.conflicted = vec![1];
    } else if case == Case::RexmitAfterDelivery {
        let forged = head_b.replacen(&target_b, &forged_target(&target_b), 1);
        let mut other = forged.into_bytes();
        other.extend_from_slice(BODY_B);
        conn.send_then_retransmit_other(c, &req_b, &other);
        // The copy only repeats captured bytes, not yet acknowledged: compared, 2 bytes
        // of the target differ.
        truth.retransmitted_segments = 1;
        truth.overlap_conflicts = 1;
        truth.overlap_conflicts_delivered = 1;
        truth.overlap_conflict_bytes = 2;
        truth.conflicted = vec![1];
    } else {
        conn.send(c, &req_b);
    }
    let req_b_end = conn.now();
    conn.wait(params.rtt / 2);
    let resp_b_start = conn.now();
    let mut resp_b = resp_b_head.clone().into_bytes();
    resp_b.extend_from_slice(BODY_B_RESP);
    conn.send(s, &resp_b);
    let resp_b_end = conn.now();
    conn.wait(Duration::from_millis(5));
    conn.close(c);

    let a_req_len = req_a.len() as u64;
    let a_resp_len = resp_a.len() as u64;
    let tx = |depth: u32,
              method: &str,
              uri: &str,
              status: u16,
              (req_head, req_body): (u64, u64),
              (resp_head, resp_body): (u64, u64),
              req_stream: std::ops::Range<u64>,
              resp_stream: std::ops::Range<u64>,
              times: [Timestamp; 4]| ExpectedTx {
        conn_index: 0,
        client,
        server,
        depth,
        in_flight: 0,
        method: method.to_string(),
        host: host_name.clone(),
        uri: uri.to_string(),
        status: Some(status),
        req_head_len: req_head,
        req_body_len: req_body,
        req_wire_body_len: req_body,
        req_framing: if req_body > 0 {
            Framing::ContentLength
        } else {
            Framing::None
        },
        resp_interim_len: 0,
        resp_head_len: resp_head,
        resp_body_len: resp_body,
        resp_wire_body_len: resp_body,
        resp_framing: Framing::ContentLength,
        content_encoding: None,
        req_start: times[0],
        req_end: times[1],
        resp_start: Some(times[2]),
        resp_end: Some(times[3]),
        req_stream,
        resp_stream,
    };
    let txs = vec![
        tx(
            0,
            "GET",
            &target_a,
            200,
            (a_req_len, 0),
            (resp_a_head.len() as u64, BODY_A as u64),
            0..a_req_len,
            0..a_resp_len,
            [req_a_start, req_a_end, resp_a_start, resp_a_end],
        ),
        tx(
            1,
            "POST",
            &target_b,
            201,
            (head_b.len() as u64, BODY_B.len() as u64),
            (resp_b_head.len() as u64, BODY_B_RESP.len() as u64),
            a_req_len..a_req_len + req_b.len() as u64,
            a_resp_len..a_resp_len + resp_b.len() as u64,
            [req_b_start, req_b_end, resp_b_start, resp_b_end],
        ),
    ];
    CaseCapture {
        case,
        packets: conn.finish(),
        txs,
        truth,
    }
}

/// Writes `case`'s capture (classic pcap, Ethernet, microseconds) to `out` and its ground
/// truth (the `.expected.tsv` format) to `expected`.
pub fn write_case<W: Write, E: Write>(
    case: Case,
    seed: u64,
    out: W,
    mut expected: E,
) -> io::Result<CaseCapture> {
    let cap = generate(case, seed);
    let mut w = PcapWriter::new(out, LinkKind::Ethernet, TsResolution::Micro, None)?;
    for p in &cap.packets {
        w.write_packet_with_orig_len(p.ts, &p.data, p.orig_len)?;
    }
    w.flush()?;
    writeln!(expected, "{}", ExpectedTx::TSV_HEADER)?;
    for t in &cap.txs {
        writeln!(expected, "{}", t.to_tsv_row(true))?;
    }
    Ok(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each case is deterministic and its frames are in time order.
    #[test]
    fn cases_are_deterministic_and_time_ordered() {
        for case in Case::ALL {
            let a = generate(case, 7);
            let b = generate(case, 7);
            assert_eq!(a.packets, b.packets, "{}", case.as_str());
            assert!(a.packets.windows(2).all(|w| w[0].ts <= w[1].ts));
            assert_eq!(Case::parse(case.as_str()), Some(case));
        }
    }

    /// The payload bytes the capture carries for the client, by offset, first copy
    /// first: the truth's two requests, except where a case says bytes were never
    /// captured or differ.
    #[test]
    fn the_overlap_case_carries_two_copies_of_the_target_end() {
        let cap = generate(Case::OverlapConflict, 1);
        let payloads: Vec<(u64, Vec<u8>)> = cap
            .packets
            .iter()
            .filter(|p| p.meta.dir == Direction::ToServer && p.meta.payload_len > 0)
            .map(|p| {
                let at = p.meta.payload_at as usize;
                (p.meta.stream_off, p.data[at..].to_vec())
            })
            .collect();
        // Request a, then the tail of request b, then request b whole (retransmitted).
        assert_eq!(payloads.len(), 3);
        let b = cap.txs[1].req_stream.clone();
        let (tail_off, tail) = &payloads[1];
        let (whole_off, whole) = &payloads[2];
        assert_eq!(*whole_off, b.start);
        assert_eq!(whole.len() as u64, b.end - b.start);
        let skip = (tail_off - whole_off) as usize;
        let differ = tail
            .iter()
            .zip(&whole[skip..])
            .filter(|(x, y)| x != y)
            .count();
        assert_eq!(differ as u64, cap.truth.overlap_conflict_bytes);
        assert!(String::from_utf8_lossy(tail).starts_with("ct/b HTTP/1.1"));
    }

    /// Request b whole, then a whole copy with the forged target before the server's ACK
    /// of it.
    #[test]
    fn the_rexmit_case_repeats_the_delivered_request_before_its_ack() {
        let cap = generate(Case::RexmitAfterDelivery, 1);
        let b = cap.txs[1].req_stream.clone();
        let end_seq_acked =
            |p: &Packet| p.meta.dir == Direction::ToClient && p.meta.payload_len == 0;
        let mut copies = Vec::new();
        let mut acks_before = Vec::new();
        let mut acks = 0;
        for p in &cap.packets {
            if end_seq_acked(p) {
                acks += 1;
            }
            if p.meta.dir == Direction::ToServer
                && p.meta.stream_off == b.start
                && p.meta.payload_len > 0
            {
                let at = p.meta.payload_at as usize;
                copies.push(p.data[at..].to_vec());
                acks_before.push(acks);
            }
        }
        assert_eq!(copies.len(), 2);
        let differ = copies[0]
            .iter()
            .zip(&copies[1])
            .filter(|(x, y)| x != y)
            .count();
        assert_eq!(differ as u64, cap.truth.overlap_conflict_bytes);
        assert_eq!(
            acks_before[1], acks_before[0],
            "the copy comes before the ACK"
        );
    }
}
