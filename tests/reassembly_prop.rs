//! Property tests of `reassembly::ConnTable` against an obviously-correct model (in the
//! style of smoltcp's assembler tests): a bitmap of which stream offsets the capture holds.
//!
//! Each case makes one connection with a random byte stream per direction, ISNs near 2^32
//! (so sequence numbers wrap), cuts each stream into random segments, adds duplicates and
//! overlapping copies (same bytes), drops some (property 2 and 3), shuffles everything
//! across both directions, and interleaves ACKs that respect causality: a peer acknowledges
//! only bytes the capture has already shown or will never show (lost by the capture).
//!
//! 1. Nothing lost: each direction's delivered bytes are its stream exactly, no gap, one FIN.
//! 2. Some segments lost for good, FIN present: data and gaps cover exactly the stream,
//!    every delivered byte is the stream's byte at that offset, and gaps cover exactly the
//!    offsets no kept segment carried.
//! 3. Tiny out-of-order limits: no panic, data and gaps still cover exactly the stream,
//!    delivered bytes are still the stream's bytes.

use std::net::SocketAddr;

use httshark::hosts::ServerSet;
use httshark::model::{ConnInfo, Direction};
use httshark::reassembly::{
    CloseReason, ConnTable, HandlerFactory, ReassemblyLimits, StreamHandler,
};
use httshark::time::Timestamp;
use httshark::wire::{TcpFlags, TcpSegment};
use proptest::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ev {
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
    Fin(Direction),
    Close(CloseReason),
}

struct Rec;

impl StreamHandler for Rec {
    type Ctx = Vec<Ev>;
    fn on_data(
        &mut self,
        ctx: &mut Vec<Ev>,
        _: &ConnInfo,
        dir: Direction,
        data: &[u8],
        _: Timestamp,
    ) {
        ctx.push(Ev::Data(dir, data.to_vec()));
    }
    fn on_gap(&mut self, ctx: &mut Vec<Ev>, _: &ConnInfo, dir: Direction, len: u64, _: Timestamp) {
        ctx.push(Ev::Gap(dir, len));
    }
    fn on_fin(&mut self, ctx: &mut Vec<Ev>, _: &ConnInfo, dir: Direction, _: Timestamp) {
        ctx.push(Ev::Fin(dir));
    }
    fn on_close(&mut self, ctx: &mut Vec<Ev>, _: &ConnInfo, reason: CloseReason, _: Timestamp) {
        ctx.push(Ev::Close(reason));
    }
    fn on_tick(&mut self, _: &mut Vec<Ev>, _: &ConnInfo, _: Timestamp) {}
}

struct Fac;

impl HandlerFactory for Fac {
    type Handler = Rec;
    fn new_handler(&mut self, _: &ConnInfo) -> Rec {
        Rec
    }
}

/// A small deterministic generator: the case's randomness beyond what proptest shrinks.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One packet of the case: `len` bytes of direction `dir` from offset `off`, maybe a FIN.
#[derive(Clone, Copy, Debug)]
struct Pkt {
    dir: usize,
    off: usize,
    len: usize,
    fin: bool,
}

#[derive(Clone, Debug)]
struct Case {
    streams: [Vec<u8>; 2],
    isns: [u32; 2],
    seed: u64,
    max_seg: usize,
    drop_percent: u64,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(any::<u8>(), 0..1500),
        prop::collection::vec(any::<u8>(), 0..1500),
        (u32::MAX - 3000)..=u32::MAX,
        (u32::MAX - 3000)..=u32::MAX,
        any::<u64>(),
        1usize..120,
        0u64..50,
    )
        .prop_map(|(a, b, ia, ib, seed, max_seg, drop_percent)| Case {
            streams: [a, b],
            isns: [ia, ib],
            seed: seed | 1,
            max_seg,
            drop_percent,
        })
}

const CLIENT: &str = "192.0.2.1:51000";
const SERVER: &str = "192.0.2.2:8080";

struct Run {
    events: Vec<Ev>,
    /// Which offsets of each stream some kept packet carried.
    received: [Vec<bool>; 2],
}

/// Builds the packets of `case`, drops `drop_percent` of the data packets (FINs are never
/// dropped), shuffles, and feeds them with causal ACKs. Ends with `close_all`.
fn run(case: &Case, limits: ReassemblyLimits, drops: bool) -> Run {
    let mut rng = Rng(case.seed);
    let mut pkts = Vec::new();
    for dir in 0..2 {
        let len = case.streams[dir].len();
        let mut off = 0;
        let fin_on_last = !drops && rng.chance(50);
        while off < len {
            let n = (1 + rng.below(case.max_seg as u64) as usize).min(len - off);
            let last = off + n == len;
            pkts.push(Pkt {
                dir,
                off,
                len: n,
                fin: last && fin_on_last,
            });
            if rng.chance(15) {
                pkts.push(Pkt {
                    dir,
                    off,
                    len: n,
                    fin: false,
                });
            }
            if rng.chance(15) {
                let a = rng.below(len as u64) as usize;
                let b = (a + 1 + rng.below(2 * case.max_seg as u64) as usize).min(len);
                pkts.push(Pkt {
                    dir,
                    off: a,
                    len: b - a,
                    fin: false,
                });
            }
            off += n;
        }
        if !fin_on_last || len == 0 {
            pkts.push(Pkt {
                dir,
                off: len,
                len: 0,
                fin: true,
            });
        }
    }
    for i in (1..pkts.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        pkts.swap(i, j);
    }
    if drops {
        pkts.retain(|p| p.len == 0 || !rng.chance(case.drop_percent));
    }
    let mut received = [
        vec![false; case.streams[0].len()],
        vec![false; case.streams[1].len()],
    ];
    for p in &pkts {
        received[p.dir][p.off..p.off + p.len]
            .iter_mut()
            .for_each(|b| *b = true);
    }

    let addrs: [SocketAddr; 2] = [CLIENT.parse().unwrap(), SERVER.parse().unwrap()];
    let seq_of = |dir: usize, off: usize| case.isns[dir].wrapping_add(1).wrapping_add(off as u32);
    let mut captured = [
        vec![false; case.streams[0].len()],
        vec![false; case.streams[1].len()],
    ];
    let mut fin_captured = [false; 2];
    // The highest offset the peer may acknowledge now: every byte below it was captured
    // already or is never captured (lost); one more for a captured FIN.
    let causal_ack = |dir: usize, captured: &[Vec<bool>; 2], fin_captured: &[bool; 2]| -> u32 {
        let len = captured[dir].len();
        let first_missing = (0..len).find(|&o| received[dir][o] && !captured[dir][o]);
        match first_missing {
            Some(o) => seq_of(dir, o),
            None => seq_of(dir, len + fin_captured[dir] as usize),
        }
    };

    let mut table = ConnTable::new(Fac, ServerSet::default(), limits);
    let mut events = Vec::new();
    let mut index = 0u64;
    let mut feed =
        |events: &mut Vec<Ev>, src: usize, seq: u32, ack: u32, flags: TcpFlags, payload: &[u8]| {
            let seg = TcpSegment {
                src: addrs[src],
                dst: addrs[1 - src],
                seq,
                ack,
                flags,
                payload,
                auth_option: false,
                timestamp: None,
                window: 65535,
            };
            let ts = Timestamp::from_secs_nanos(1_700_000_000, index as u32);
            table.on_segment(events, &seg, index, ts, ts);
            index += 1;
        };
    let syn = TcpFlags {
        syn: true,
        ..Default::default()
    };
    let synack = TcpFlags {
        syn: true,
        ack: true,
        ..Default::default()
    };
    let ackf = TcpFlags {
        ack: true,
        ..Default::default()
    };
    feed(&mut events, 0, case.isns[0], 0, syn, b"");
    feed(&mut events, 1, case.isns[1], seq_of(0, 0), synack, b"");
    feed(&mut events, 0, seq_of(0, 0), seq_of(1, 0), ackf, b"");
    for p in &pkts {
        let ack = causal_ack(1 - p.dir, &captured, &fin_captured);
        let flags = TcpFlags {
            ack: true,
            fin: p.fin,
            ..Default::default()
        };
        let payload = &case.streams[p.dir][p.off..p.off + p.len];
        feed(
            &mut events,
            p.dir,
            seq_of(p.dir, p.off),
            ack,
            flags,
            payload,
        );
        captured[p.dir][p.off..p.off + p.len]
            .iter_mut()
            .for_each(|b| *b = true);
        fin_captured[p.dir] |= p.fin;
        if rng.chance(30) {
            let from = rng.below(2) as usize;
            let ack = causal_ack(1 - from, &captured, &fin_captured);
            let seq = seq_of(from, 0);
            feed(&mut events, from, seq, ack, ackf, b"");
        }
    }
    table.close_all(&mut events, Timestamp::from_secs_nanos(1_700_000_001, 0));
    assert_eq!(table.open_connections(), 0);
    Run { events, received }
}

/// What one direction's events add up to, checked against the stream as they are walked:
/// every data byte must be the stream's byte at its offset, and nothing may follow the FIN.
struct Walk {
    data: Vec<u8>,
    gaps: Vec<(usize, usize)>,
    fins: usize,
    total: usize,
}

fn walk(events: &[Ev], dir: Direction, stream: &[u8]) -> Result<Walk, TestCaseError> {
    let mut w = Walk {
        data: Vec::new(),
        gaps: Vec::new(),
        fins: 0,
        total: 0,
    };
    for e in events {
        match e {
            Ev::Data(d, bytes) if *d == dir => {
                prop_assert_eq!(w.fins, 0, "data after fin");
                let end = w.total + bytes.len();
                prop_assert!(end <= stream.len(), "data beyond the stream");
                prop_assert_eq!(
                    &bytes[..],
                    &stream[w.total..end],
                    "wrong bytes at offset {}",
                    w.total
                );
                w.data.extend_from_slice(bytes);
                w.total = end;
            }
            Ev::Gap(d, len) if *d == dir => {
                prop_assert_eq!(w.fins, 0, "gap after fin");
                prop_assert!(*len > 0, "empty gap");
                let end = w.total + *len as usize;
                prop_assert!(end <= stream.len(), "gap beyond the stream");
                w.gaps.push((w.total, end));
                w.total = end;
            }
            Ev::Fin(d) if *d == dir => w.fins += 1,
            _ => {}
        }
    }
    Ok(w)
}

fn closes(events: &[Ev]) -> usize {
    events.iter().filter(|e| matches!(e, Ev::Close(_))).count()
}

const DIRS: [Direction; 2] = [Direction::ToServer, Direction::ToClient];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_loss_delivers_each_stream_exactly(case in case()) {
        let limits = ReassemblyLimits { max_ooo_segments_per_direction: 1 << 20, ..Default::default() };
        let r = run(&case, limits, false);
        for (i, dir) in DIRS.into_iter().enumerate() {
            let w = walk(&r.events, dir, &case.streams[i])?;
            prop_assert_eq!(&w.data, &case.streams[i]);
            prop_assert!(w.gaps.is_empty(), "gaps {:?}", w.gaps);
            prop_assert_eq!(w.fins, 1);
        }
        prop_assert_eq!(closes(&r.events), 1);
        prop_assert!(r.events.contains(&Ev::Close(CloseReason::Fin)) || case.streams.iter().all(Vec::is_empty));
    }

    #[test]
    fn losses_become_gaps_exactly_where_bytes_are_missing(case in case()) {
        let limits = ReassemblyLimits { max_ooo_segments_per_direction: 1 << 20, ..Default::default() };
        let r = run(&case, limits, true);
        for (i, dir) in DIRS.into_iter().enumerate() {
            let w = walk(&r.events, dir, &case.streams[i])?;
            prop_assert_eq!(w.total, case.streams[i].len());
            prop_assert_eq!(w.fins, 1);
            // The model: gaps are exactly the maximal runs of offsets nobody carried.
            let mut missing = Vec::new();
            let rec = &r.received[i];
            let mut o = 0;
            while o < rec.len() {
                if rec[o] {
                    o += 1;
                    continue;
                }
                let start = o;
                while o < rec.len() && !rec[o] {
                    o += 1;
                }
                missing.push((start, o));
            }
            // Adjacent gaps may come as several calls: merge before comparing.
            let mut merged: Vec<(usize, usize)> = Vec::new();
            for (a, b) in w.gaps {
                match merged.last_mut() {
                    Some(last) if last.1 == a => last.1 = b,
                    _ => merged.push((a, b)),
                }
            }
            prop_assert_eq!(merged, missing);
        }
        prop_assert_eq!(closes(&r.events), 1);
    }

    #[test]
    fn tiny_ooo_limits_still_account_for_every_byte(
        case in case(),
        max_bytes in 0usize..64,
        max_segs in 0usize..4,
    ) {
        let limits = ReassemblyLimits {
            max_ooo_bytes_per_direction: max_bytes,
            max_ooo_segments_per_direction: max_segs,
            ..Default::default()
        };
        let r = run(&case, limits, true);
        for (i, dir) in DIRS.into_iter().enumerate() {
            let w = walk(&r.events, dir, &case.streams[i])?;
            prop_assert_eq!(w.total, case.streams[i].len());
            prop_assert_eq!(w.fins, 1);
        }
        prop_assert_eq!(closes(&r.events), 1);
    }
}

/// One arbitrary segment: which of three 4-tuples, which way, flags (SYN, ACK, FIN, RST
/// bits), sequence and acknowledgment numbers near the wrap, and a payload.
fn soup_segment() -> impl Strategy<Value = (usize, bool, u8, u32, u32, Vec<u8>)> {
    (
        0usize..3,
        any::<bool>(),
        any::<u8>(),
        prop_oneof![(u32::MAX - 200)..=u32::MAX, 0u32..200, any::<u32>()],
        prop_oneof![(u32::MAX - 200)..=u32::MAX, 0u32..200, any::<u32>()],
        prop::collection::vec(any::<u8>(), 0..40),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Garbage in (any flags, any numbers, tiny limits, time jumps): no panic, the table
    /// stays within `max_connections`, and its counters agree with what it holds.
    #[test]
    fn arbitrary_segments_never_panic(
        segs in prop::collection::vec(soup_segment(), 0..200),
        max_bytes in 0usize..100,
        max_segs in 0usize..5,
        tick_every in 1usize..50,
        budget in prop_oneof![Just(usize::MAX), 0usize..4000],
    ) {
        let limits = ReassemblyLimits {
            max_ooo_bytes_per_direction: max_bytes,
            max_ooo_segments_per_direction: max_segs,
            max_connections: 2,
            memory_budget: budget,
            idle_timeout: std::time::Duration::from_secs(5),
            // 0 (off) to 4 segments held in causal order.
            causal_window: max_segs,
        };
        let mut table = ConnTable::new(Fac, ServerSet::default(), limits);
        let mut events = Vec::new();
        let hosts: [SocketAddr; 4] =
            ["10.0.0.1:80", "10.0.0.2:1234", "10.0.0.3:1234", "10.0.0.4:443"].map(|a| a.parse().unwrap());
        for (i, (tuple, forward, bits, seq, ack, payload)) in segs.iter().enumerate() {
            let (a, b) = (hosts[*tuple], hosts[tuple + 1]);
            let (src, dst) = if *forward { (a, b) } else { (b, a) };
            let flags = TcpFlags { syn: bits & 1 != 0, ack: bits & 2 != 0, fin: bits & 4 != 0, rst: bits & 8 != 0 };
            let seg = TcpSegment { src, dst, seq: *seq, ack: *ack, flags, payload, auth_option: false, timestamp: None, window: 65535 };
            let now = Timestamp::from_secs_nanos(i as i64, 0);
            table.on_segment(&mut events, &seg, i as u64, now, now);
            prop_assert!(table.open_connections() <= 2);
            if i % tick_every == 0 {
                table.on_tick(&mut events, now);
            }
        }
        let c = table.counters().clone();
        prop_assert_eq!(c.connections_opened - c.connections_closed, table.open_connections() as u64);
        table.close_all(&mut events, Timestamp::from_secs_nanos(1_000, 0));
        prop_assert_eq!(table.open_connections(), 0);
        prop_assert_eq!(table.memory_used(), 0);
        prop_assert_eq!(table.counters().connections_opened, table.counters().connections_closed);
        let gap_bytes: u64 = events.iter().map(|e| if let Ev::Gap(_, n) = e { *n } else { 0 }).sum();
        prop_assert_eq!(gap_bytes, table.counters().gap_bytes);
    }
}
