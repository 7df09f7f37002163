//! Unit tests of `ConnTable` through a recording handler: every handler call becomes an
//! event, and the tests compare the events with what the TCP exchange should give.

use std::net::SocketAddr;
use std::time::Duration;

use super::*;
use crate::hosts::ServerSet;
use crate::wire::{TcpFlags, TcpSegment};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Ev {
    Data(u64, Direction, Vec<u8>, Timestamp),
    Gap(u64, Direction, u64),
    Fin(u64, Direction),
    Close(ConnInfo, CloseReason),
    Tick(u64),
    /// `on_ack`: the next data of `dir` was sent after the other direction's offset.
    Ack(u64, Direction, u64),
    /// `on_overlap_conflict`: offset and length of bytes whose copies differed.
    Conflict(u64, Direction, u64, u64),
}

pub(super) struct Rec;

impl StreamHandler for Rec {
    type Ctx = Vec<Ev>;
    fn on_data(
        &mut self,
        ctx: &mut Vec<Ev>,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) {
        ctx.push(Ev::Data(conn.id, dir, data.to_vec(), ts));
    }
    fn on_ack(&mut self, ctx: &mut Vec<Ev>, conn: &ConnInfo, dir: Direction, ack: u64) {
        ctx.push(Ev::Ack(conn.id, dir, ack));
    }
    fn on_gap(
        &mut self,
        ctx: &mut Vec<Ev>,
        conn: &ConnInfo,
        dir: Direction,
        len: u64,
        _ts: Timestamp,
    ) {
        ctx.push(Ev::Gap(conn.id, dir, len));
    }
    fn on_fin(&mut self, ctx: &mut Vec<Ev>, conn: &ConnInfo, dir: Direction, _ts: Timestamp) {
        ctx.push(Ev::Fin(conn.id, dir));
    }
    fn on_close(
        &mut self,
        ctx: &mut Vec<Ev>,
        conn: &ConnInfo,
        reason: CloseReason,
        _ts: Timestamp,
    ) {
        ctx.push(Ev::Close(conn.clone(), reason));
    }
    fn on_tick(&mut self, ctx: &mut Vec<Ev>, conn: &ConnInfo, _now: Timestamp) {
        ctx.push(Ev::Tick(conn.id));
    }
    fn on_overlap_conflict(
        &mut self,
        ctx: &mut Vec<Ev>,
        conn: &ConnInfo,
        dir: Direction,
        offset: u64,
        len: u64,
    ) {
        ctx.push(Ev::Conflict(conn.id, dir, offset, len));
    }
}

pub(super) struct Fac;

impl HandlerFactory for Fac {
    type Handler = Rec;
    fn new_handler(&mut self, _conn: &ConnInfo) -> Rec {
        Rec
    }
    /// The HTTP rule, which these tests were written against.
    fn probe_role(&self, payload: &[u8]) -> Option<Role> {
        crate::http::probe_role(payload)
    }
}

/// What a direction's stream looked like to the handler: data merged, gaps, fin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Piece {
    D(Vec<u8>),
    G(u64),
    Fin,
}

pub(super) fn d(s: &[u8]) -> Piece {
    Piece::D(s.to_vec())
}

pub(super) const C: &str = "10.0.0.1:40000";
pub(super) const S: &str = "10.0.0.2:80";

pub(super) fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

pub(super) struct H {
    pub(super) table: ConnTable<Fac>,
    pub(super) ev: Vec<Ev>,
    n: u64,
    pub(super) t: Timestamp,
}

impl H {
    pub(super) fn new() -> H {
        H::with(ReassemblyLimits::default(), ServerSet::default())
    }

    /// A table without the causal window (these tests look at each segment's effect as it
    /// is fed); `with_window` keeps it.
    pub(super) fn with(limits: ReassemblyLimits, servers: ServerSet) -> H {
        let limits = ReassemblyLimits {
            causal_window: 0,
            ..limits
        };
        H::with_window(limits, servers)
    }

    pub(super) fn with_window(limits: ReassemblyLimits, servers: ServerSet) -> H {
        H {
            table: ConnTable::new(Fac, servers, limits),
            ev: Vec::new(),
            n: 0,
            t: Timestamp::from_secs_nanos(1000, 0),
        }
    }

    /// Feeds a segment; `flags` holds S, A, F, R. Each packet is 1 ms after the previous.
    pub(super) fn pkt(
        &mut self,
        src: &str,
        dst: &str,
        flags: &str,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) {
        self.pkt_ts(src, dst, flags, seq, ack, payload, None);
    }

    /// `pkt` with a TCP timestamps option of TSval `tsval` (RFC 7323).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pkt_ts(
        &mut self,
        src: &str,
        dst: &str,
        flags: &str,
        seq: u32,
        ack: u32,
        payload: &[u8],
        tsval: Option<u32>,
    ) {
        self.pkt_full(src, dst, flags, seq, ack, payload, tsval, 65535);
    }

    /// `pkt` advertising window `window`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pkt_win(
        &mut self,
        src: &str,
        dst: &str,
        flags: &str,
        seq: u32,
        ack: u32,
        payload: &[u8],
        window: u16,
    ) {
        self.pkt_full(src, dst, flags, seq, ack, payload, None, window);
    }

    #[allow(clippy::too_many_arguments)]
    fn pkt_full(
        &mut self,
        src: &str,
        dst: &str,
        flags: &str,
        seq: u32,
        ack: u32,
        payload: &[u8],
        tsval: Option<u32>,
        window: u16,
    ) {
        let seg = TcpSegment {
            src: addr(src),
            dst: addr(dst),
            seq,
            ack,
            flags: TcpFlags::from_letters(flags),
            payload,
            auth_option: flags.contains('M'),
            timestamp: tsval.map(|v| (v, 0)),
            window,
        };
        self.table
            .on_segment(&mut self.ev, &seg, self.n, self.t, self.t);
        self.n += 1;
        self.t = self.t + Duration::from_millis(1);
    }

    /// SYN, SYN-ACK, ACK between C and S with ISNs `ci` and `si`.
    pub(super) fn handshake(&mut self, ci: u32, si: u32) {
        self.pkt(C, S, "S", ci, 0, b"");
        self.pkt(S, C, "SA", si, ci.wrapping_add(1), b"");
        self.pkt(C, S, "A", ci.wrapping_add(1), si.wrapping_add(1), b"");
    }

    pub(super) fn stream(&self, id: u64, dir: Direction) -> Vec<Piece> {
        let mut out: Vec<Piece> = Vec::new();
        for e in &self.ev {
            match e {
                Ev::Data(i, d, bytes, _) if *i == id && *d == dir => match out.last_mut() {
                    Some(Piece::D(prev)) => prev.extend_from_slice(bytes),
                    _ => out.push(Piece::D(bytes.clone())),
                },
                Ev::Gap(i, d, len) if *i == id && *d == dir => out.push(Piece::G(*len)),
                Ev::Fin(i, d) if *i == id && *d == dir => out.push(Piece::Fin),
                _ => {}
            }
        }
        out
    }

    pub(super) fn closes(&self) -> Vec<(u64, CloseReason)> {
        self.ev
            .iter()
            .filter_map(|e| match e {
                Ev::Close(info, r) => Some((info.id, *r)),
                _ => None,
            })
            .collect()
    }

    pub(super) fn info(&self, id: u64) -> ConnInfo {
        self.ev
            .iter()
            .find_map(|e| match e {
                Ev::Close(info, _) if info.id == id => Some(info.clone()),
                _ => None,
            })
            .expect("connection closed")
    }

    pub(super) fn close_all(&mut self) {
        self.table.close_all(&mut self.ev, self.t);
    }

    /// Bytes charged to the memory budget now.
    pub(super) fn mem(&self) -> usize {
        self.table.memory_used()
    }

    /// Advances time by `secs` seconds and ticks the table.
    pub(super) fn tick(&mut self, secs: u64) {
        self.t = self.t + Duration::from_secs(secs);
        self.table.on_tick(&mut self.ev, self.t);
    }

    pub(super) fn c(&self) -> &ReassemblyCounters {
        self.table.counters()
    }

    /// The conflicts reported for `dir` of connection `id`: (offset, length, bytes of the
    /// direction delivered, as data or gap, when it was reported).
    pub(super) fn conflicts(&self, id: u64, dir: Direction) -> Vec<(u64, u64, u64)> {
        let mut delivered = 0u64;
        let mut out = Vec::new();
        for e in &self.ev {
            match e {
                Ev::Data(i, d, bytes, _) if *i == id && *d == dir => {
                    delivered += bytes.len() as u64
                }
                Ev::Gap(i, d, len) if *i == id && *d == dir => delivered += len,
                Ev::Conflict(i, d, off, len) if *i == id && *d == dir => {
                    out.push((*off, *len, delivered))
                }
                _ => {}
            }
        }
        out
    }

    /// Each data delivery of `dir` with the ACK announced just before it (`None`: none).
    fn acked_data(&self, dir: Direction) -> Vec<(Vec<u8>, Option<u64>)> {
        let mut out = Vec::new();
        let mut ack = None;
        for e in &self.ev {
            match e {
                Ev::Ack(_, d, a) if *d == dir => ack = Some(*a),
                Ev::Data(_, d, bytes, _) if *d == dir => out.push((bytes.clone(), ack.take())),
                _ => {}
            }
        }
        out
    }
}

use Direction::{ToClient, ToServer};

#[test]
fn handshake_then_data_in_order_then_fins() {
    let mut h = H::new();
    h.handshake(1000, 5000);
    h.pkt(C, S, "A", 1001, 5001, b"GET / HTTP/1.1\r\n");
    h.pkt(C, S, "A", 1017, 5001, b"\r\n");
    h.pkt(S, C, "A", 5001, 1019, b"HTTP/1.1 200 OK\r\n\r\n");
    h.pkt(C, S, "FA", 1019, 5020, b"");
    h.pkt(S, C, "FA", 5020, 1020, b"");
    h.pkt(C, S, "A", 1020, 5021, b"");
    assert_eq!(
        h.stream(0, ToServer),
        vec![d(b"GET / HTTP/1.1\r\n\r\n"), Piece::Fin]
    );
    assert_eq!(
        h.stream(0, ToClient),
        vec![d(b"HTTP/1.1 200 OK\r\n\r\n"), Piece::Fin]
    );
    assert_eq!(h.closes(), vec![(0, CloseReason::Fin)]);
    let info = h.info(0);
    assert_eq!((info.client, info.server), (addr(C), addr(S)));
    let t = |ms: i64| Some(Timestamp::from_secs_nanos(1000, (ms * 1_000_000) as u32));
    assert_eq!(
        (info.syn_ts, info.synack_ts, info.established_ts),
        (t(0), t(1), t(2))
    );
    assert!(!info.midstream);
    assert_eq!(
        h.c().segments_after_close,
        1,
        "the final ACK is a straggler"
    );
    assert_eq!(h.c().bytes_delivered, 37);
    assert_eq!(h.c().connections_fin_closed, 1);
    assert_eq!(h.table.open_connections(), 0);
}

#[test]
fn out_of_order_is_buffered_and_delivered_with_the_completing_packet_time() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 7, 1, b"ghi");
    h.pkt(C, S, "A", 1, 1, b"abc");
    h.pkt(C, S, "A", 4, 1, b"def");
    assert_eq!(h.stream(0, ToServer), vec![d(b"abcdefghi")]);
    let times: Vec<(Vec<u8>, Timestamp)> =
        h.ev.iter()
            .filter_map(|e| match e {
                Ev::Data(_, _, b, ts) => Some((b.clone(), *ts)),
                _ => None,
            })
            .collect();
    let t = |ms: u32| Timestamp::from_secs_nanos(1000, ms * 1_000_000);
    assert_eq!(
        times,
        vec![
            (b"abc".to_vec(), t(4)),
            (b"def".to_vec(), t(5)),
            (b"ghi".to_vec(), t(5))
        ]
    );
    assert_eq!(h.c().out_of_order_segments, 1);
    assert_eq!(h.c().gaps, 0);
}

#[test]
fn retransmissions_are_dropped_and_counted() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 1, 1, b"abc");
    h.pkt(C, S, "A", 1, 1, b"abc");
    h.pkt(C, S, "A", 7, 1, b"ghi");
    h.pkt(C, S, "A", 7, 1, b"ghi");
    h.pkt(C, S, "A", 4, 1, b"def");
    assert_eq!(h.stream(0, ToServer), vec![d(b"abcdefghi")]);
    assert_eq!(
        h.c().retransmitted_segments,
        2,
        "one of delivered bytes, one of buffered bytes"
    );
}

#[test]
fn overlaps_keep_the_first_copy_and_count_conflicts() {
    let mut h = H::new();
    h.handshake(0, 0);
    // [4,8) buffered first; then [0,6) whose last two bytes disagree with it.
    h.pkt(C, S, "A", 5, 1, b"EFGH");
    h.pkt(C, S, "A", 1, 1, b"abcdXY");
    // [6,10) overlaps delivered bytes (compared with the retained copy: "zz" is not
    // "GH") and brings "IJ".
    h.pkt(C, S, "A", 7, 1, b"zzIJ");
    assert_eq!(h.stream(0, ToServer), vec![d(b"abcdEFGHIJ")]);
    let c = h.c();
    assert_eq!(
        (
            c.overlapping_segments,
            c.overlap_conflicts,
            c.overlap_conflicts_delivered,
            c.overlap_conflict_bytes
        ),
        (2, 2, 1, 4)
    );
    // Reported to the handler before bytes 4..6 were delivered (0..4 were); bytes 6..8
    // after their delivery (0..8 were).
    assert_eq!(h.conflicts(0, ToServer), vec![(4, 2, 4), (6, 2, 8)]);
}

#[test]
fn a_segment_spanning_several_buffered_chunks_fills_only_the_holes() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 3, 1, b"C");
    h.pkt(C, S, "A", 6, 1, b"F");
    h.pkt(C, S, "A", 1, 1, b"ab_de_g");
    assert_eq!(h.stream(0, ToServer), vec![d(b"abCdeFg")]);
    assert_eq!(h.c().overlap_conflict_bytes, 2);
    // Each differing chunk is reported just before it is delivered.
    assert_eq!(h.conflicts(0, ToServer), vec![(2, 1, 2), (5, 1, 5)]);
}

#[test]
fn sequence_numbers_wrap_around_2_pow_32() {
    let mut h = H::new();
    let isn = u32::MAX - 5;
    h.handshake(isn, 7);
    let seq = |off: u32| isn.wrapping_add(1).wrapping_add(off);
    h.pkt(C, S, "A", seq(8), 8, b"89ab");
    h.pkt(C, S, "A", seq(0), 8, b"0123");
    h.pkt(C, S, "FA", seq(12), 8, b"cd");
    h.pkt(C, S, "A", seq(4), 8, b"4567");
    assert_eq!(
        h.stream(0, ToServer),
        vec![d(b"0123456789abcd"), Piece::Fin]
    );
    assert_eq!(h.c().gaps, 0);
}

#[test]
fn fin_out_of_order_is_held_until_the_data_before_it() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(S, C, "FA", 4, 1, b"def");
    h.pkt(S, C, "A", 1, 1, b"abc");
    assert_eq!(h.stream(0, ToClient), vec![d(b"abcdef"), Piece::Fin]);
    h.pkt(S, C, "FA", 4, 1, b"def");
    assert_eq!(h.c().retransmitted_fins, 1);
    assert_eq!(h.stream(0, ToClient).len(), 2, "no second fin");
}

#[test]
fn rst_flushes_with_gaps_then_closes_and_stragglers_are_counted() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 1, 1, b"ab");
    h.pkt(C, S, "A", 6, 1, b"fg");
    h.pkt(S, C, "RA", 1, 3, b"");
    assert_eq!(h.stream(0, ToServer), vec![d(b"ab"), Piece::G(3), d(b"fg")]);
    assert_eq!(h.closes(), vec![(0, CloseReason::Reset)]);
    h.pkt(C, S, "A", 8, 1, b"late");
    h.pkt(C, S, "RA", 12, 1, b"");
    assert_eq!(h.c().segments_after_close, 2);
    assert_eq!(h.table.open_connections(), 0);
    assert_eq!(h.c().connections_opened, 1);
}

#[test]
fn a_signed_rst_on_an_unsigned_connection_is_ignored_but_counted() {
    // An injected RST with a TCP-MD5 option ('M'): the receiver drops it, the stream goes on.
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "RAM", 1, 1, b"");
    h.pkt(C, S, "A", 1, 1, b"GET");
    h.pkt(S, C, "A", 1, 4, b"HTTP");
    assert!(h.closes().is_empty());
    assert_eq!(h.c().signed_rsts_ignored, 1);
    assert_eq!(h.stream(0, ToServer), vec![d(b"GET")]);
    assert_eq!(h.stream(0, ToClient), vec![d(b"HTTP")]);
    // An unsigned RST still ends it.
    h.pkt(C, S, "RA", 4, 5, b"");
    assert_eq!(h.closes(), vec![(0, CloseReason::Reset)]);
}

#[test]
fn a_signed_rst_ends_a_connection_whose_syn_was_signed() {
    let mut h = H::new();
    h.pkt(C, S, "SM", 0, 0, b"");
    h.pkt(S, C, "SAM", 0, 1, b"");
    h.pkt(C, S, "AM", 1, 1, b"x");
    h.pkt(S, C, "RAM", 1, 2, b"");
    assert_eq!(h.closes(), vec![(0, CloseReason::Reset)]);
    assert_eq!(h.c().signed_rsts_ignored, 0);
}

#[test]
fn a_new_syn_on_the_tuple_reuses_it_but_a_retransmitted_syn_does_not() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.pkt(C, S, "S", 100, 0, b""); // retransmitted SYN
    h.pkt(C, S, "A", 101, 201, b"GET / HTTP/1.1\r\n\r\n");
    assert!(h.closes().is_empty());
    h.pkt(C, S, "S", 90_000, 0, b""); // packet 5: a new connection
    h.pkt(S, C, "SA", 7000, 90_001, b"");
    h.pkt(C, S, "A", 90_001, 7001, b"GET /2 HTTP/1.1\r\n\r\n");
    h.close_all();
    assert_eq!(
        h.closes(),
        vec![(0, CloseReason::Reused), (5, CloseReason::EndOfCapture)]
    );
    assert_eq!(h.stream(5, ToServer), vec![d(b"GET /2 HTTP/1.1\r\n\r\n")]);
    assert_eq!(h.c().connections_reused, 1);
}

#[test]
fn a_syn_after_fin_close_opens_a_new_connection() {
    let mut h = H::new();
    h.handshake(100, 200);
    h.pkt(C, S, "A", 101, 201, b"x");
    h.pkt(C, S, "FA", 102, 201, b"");
    h.pkt(S, C, "FA", 201, 103, b"");
    h.pkt(C, S, "S", 5000, 0, b""); // packet 6
    h.pkt(C, S, "A", 5001, 1, b"y");
    h.close_all();
    assert_eq!(
        h.closes(),
        vec![(0, CloseReason::Fin), (6, CloseReason::EndOfCapture)]
    );
    assert!(!h.info(6).midstream);
}

#[test]
fn midstream_pickup_starts_at_the_first_segment_seen() {
    let mut h = H::new();
    h.pkt(S, C, "A", 5000, 77, b"HTTP/1.1 200 OK\r\n");
    h.pkt(S, C, "A", 4990, 77, b"earlier bytes");
    h.pkt(S, C, "A", 5017, 77, b"\r\n");
    h.pkt(C, S, "A", 77, 5019, b"GET / HTTP/1.1\r\n\r\n");
    h.close_all();
    let info = h.info(0);
    assert!(info.midstream);
    assert_eq!((info.client, info.server), (addr(C), addr(S)));
    assert_eq!(info.syn_ts, None);
    assert_eq!(h.stream(0, ToClient), vec![d(b"HTTP/1.1 200 OK\r\n\r\n")]);
    assert_eq!(h.stream(0, ToServer), vec![d(b"GET / HTTP/1.1\r\n\r\n")]);
    assert_eq!(h.c().midstream_pickups, 1);
    assert_eq!(
        h.c().retransmitted_segments,
        1,
        "bytes before the pickup point are dropped"
    );
}

#[test]
fn client_and_server_are_decided_by_each_rule_in_order() {
    let seg = |src: &str, dst: &str, flags: &str, payload: &'static [u8]| TcpSegment {
        src: addr(src),
        dst: addr(dst),
        seq: 1,
        ack: 1,
        flags: TcpFlags {
            syn: flags.contains('S'),
            ack: flags.contains('A'),
            fin: false,
            rst: false,
        },
        payload,
        auth_option: false,
        timestamp: None,
        window: 65535,
    };
    let none = ServerSet::default();
    let hi = "10.0.0.1:50000";
    let lo = "10.0.0.2:80";
    // Each case is chosen so that the later rules would give the other answer.
    // 1. SYN: sender is the client, even from the low port.
    assert!(server_is_dst(&seg(lo, hi, "S", b""), &none, &Fac));
    // 2. SYN+ACK: sender is the server, even from the high port.
    assert!(!server_is_dst(&seg(hi, lo, "SA", b""), &none, &Fac));
    // 3. Request line: sender is the client.
    assert!(server_is_dst(
        &seg(lo, hi, "A", b"GET / HTTP/1.1\r\n"),
        &none,
        &Fac
    ));
    assert!(server_is_dst(
        &seg(lo, hi, "A", b"M-SEARCH * HTTP/1.1\r\n"),
        &none,
        &Fac
    ));
    assert!(server_is_dst(&seg(lo, hi, "A", b"X_Y "), &none, &Fac));
    // 4. Status line: sender is the server.
    assert!(!server_is_dst(
        &seg(hi, lo, "A", b"HTTP/1.1 200 OK\r\n"),
        &none,
        &Fac
    ));
    // Not requests (the HTTP parser's start-line rule): not HTTP/1.x, too long a method
    // token (32 at most), no space.
    assert!(!server_is_dst(
        &seg(lo, hi, "A", b"GET / HTTP/2.0\r\n"),
        &none,
        &Fac
    ));
    assert!(!server_is_dst(
        &seg(lo, hi, "A", b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG /"),
        &none,
        &Fac
    ));
    assert!(server_is_dst(
        &seg(lo, hi, "A", b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF /"),
        &none,
        &Fac
    ));
    assert!(!server_is_dst(&seg(lo, hi, "A", b"GET"), &none, &Fac));
    // 5. -hosts: destination listed, then source listed.
    let hosts = ServerSet::parse(":50000").unwrap();
    assert!(server_is_dst(&seg(lo, hi, "A", b"\x00body"), &hosts, &Fac));
    assert!(!server_is_dst(&seg(hi, lo, "A", b"\x00body"), &hosts, &Fac));
    // 6. Lower port; tie: destination.
    assert!(server_is_dst(&seg(hi, lo, "A", b"\x00body"), &none, &Fac));
    assert!(!server_is_dst(&seg(lo, hi, "A", b"\x00body"), &none, &Fac));
    assert!(server_is_dst(
        &seg("10.0.0.1:80", "10.0.0.2:80", "A", b"\x00"),
        &none,
        &Fac
    ));
    assert!(!server_is_dst(
        &seg("10.0.0.1:80", "10.0.0.2:80", "A", b"HTTP/1.0 200"),
        &none,
        &Fac
    ));

    // Through the table: a response seen first from the high port makes it the server.
    let mut h = H::new();
    h.pkt(hi, lo, "A", 1, 1, b"HTTP/1.1 200 OK\r\n");
    h.close_all();
    assert_eq!((h.info(0).client, h.info(0).server), (addr(lo), addr(hi)));
    assert_eq!(h.stream(0, ToClient), vec![d(b"HTTP/1.1 200 OK\r\n")]);
}

#[test]
fn close_delivers_buffered_data_and_fin_in_both_directions() {
    let mut h = H::new();
    h.handshake(0, 0);
    h.pkt(C, S, "A", 3, 1, b"cd");
    h.pkt(S, C, "FA", 6, 1, b"fg");
    h.close_all();
    assert_eq!(h.stream(0, ToServer), vec![Piece::G(2), d(b"cd")]);
    assert_eq!(
        h.stream(0, ToClient),
        vec![Piece::G(5), d(b"fg"), Piece::Fin]
    );
    assert_eq!(h.closes(), vec![(0, CloseReason::EndOfCapture)]);
    assert_eq!(h.c().close_gaps, 2);
}

#[test]
fn data_comes_with_its_segments_ack_as_an_offset_of_the_other_stream() {
    let mut h = H::new();
    // ISNs just below 2^32: both streams wrap, offsets do not care.
    h.handshake(u32::MAX - 3, u32::MAX - 1);
    let (c0, s0) = (
        (u32::MAX - 3).wrapping_add(1),
        (u32::MAX - 1).wrapping_add(1),
    );
    h.pkt(C, S, "A", c0, s0, b"GET /a HTTP/1.1\r\n\r\n");
    h.pkt(
        S,
        C,
        "A",
        s0,
        c0.wrapping_add(19),
        b"HTTP/1.1 204 No Content\r\n\r\n",
    );
    h.pkt(
        C,
        S,
        "A",
        c0.wrapping_add(19),
        s0.wrapping_add(27),
        b"GET /b",
    );
    assert_eq!(
        h.acked_data(ToClient),
        vec![(b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(), Some(19))]
    );
    assert_eq!(
        h.acked_data(ToServer),
        vec![
            (b"GET /a HTTP/1.1\r\n\r\n".to_vec(), Some(0)),
            (b"GET /b".to_vec(), Some(27))
        ]
    );
}

#[test]
fn buffered_bytes_carry_no_ack_but_a_held_segment_keeps_its_own() {
    let mut h = H::new();
    h.handshake(100, 500);
    h.pkt(C, S, "A", 101, 501, b"GET / HTTP/1.1\r\n\r\n");
    // The second response segment is captured first: buffered, delivered later with the
    // first, whose ACK says nothing about it.
    h.pkt(S, C, "A", 511, 119, b"second");
    h.pkt(S, C, "A", 501, 119, b"HTTP/1.1 2");
    assert_eq!(
        h.acked_data(ToClient),
        vec![
            (b"HTTP/1.1 2".to_vec(), Some(18)),
            (b"second".to_vec(), None)
        ]
    );
    // A response acknowledging request bytes not captured yet waits for them (causal
    // hold), then comes with its own ACK.
    h.pkt(S, C, "A", 517, 138, b"more");
    h.pkt(C, S, "A", 119, 517, b"GET /x HTTP/1.1\r\n\r\n");
    assert_eq!(
        h.acked_data(ToClient).last(),
        Some(&(b"more".to_vec(), Some(37)))
    );
}

#[test]
fn a_mid_stream_ack_before_the_other_streams_start_is_not_given() {
    let mut h = H::new();
    // Picked up at a response: the client's stream is not known yet, no ACK to give.
    h.pkt(S, C, "A", 7000, 3000, b"HTTP/1.1 200 OK\r\n");
    h.pkt(C, S, "A", 3000, 7017, b"GET / HTTP/1.1\r\n\r\n");
    // The client's stream starts at the server's ACK hint (3000): offsets from there.
    h.pkt(S, C, "A", 7017, 3018, b"\r\n");
    assert_eq!(
        h.acked_data(ToClient),
        vec![
            (b"HTTP/1.1 200 OK\r\n".to_vec(), None),
            (b"\r\n".to_vec(), Some(18))
        ]
    );
    assert_eq!(
        h.acked_data(ToServer),
        vec![(b"GET / HTTP/1.1\r\n\r\n".to_vec(), Some(17))]
    );
}

/// Found by the `reassembly` fuzz target: bytes buffered beyond a direction's FIN were
/// released by the memory budget (step 3 of `enforce_budget`) as a gap after the FIN.
#[test]
fn the_memory_budget_never_releases_bytes_beyond_a_delivered_fin() {
    let limits = ReassemblyLimits {
        memory_budget: 8 << 10,
        ..Default::default()
    };
    let mut h = H::with(limits, ServerSet::default());
    h.handshake(0, 0);
    h.pkt(C, S, "A", 11, 1, b"xyz"); // ahead of a hole: buffered
    h.pkt(C, S, "FA", 6, 1, b""); // the FIN, at offset 5, before the bytes above
    h.pkt(C, S, "A", 1, 1, b"hello"); // fills the hole: data and FIN delivered
    assert_eq!(h.c().memory_limit_hits, 0);
    // The server's direction goes over the budget: its buffer is released, and the
    // client's bytes beyond its FIN are dropped, not delivered.
    h.pkt(S, C, "A", 101, 7, &[b'z'; 20_000]);
    assert!(h.c().memory_limit_buffers_released > 0);
    assert_eq!(h.stream(0, ToServer), vec![d(b"hello"), Piece::Fin]);
    assert_eq!(
        h.stream(0, ToClient),
        vec![Piece::G(100), d(&[b'z'; 20_000])]
    );
    h.close_all();
    assert_eq!(h.table.memory_used(), 0);
}
