//! Throughput of each stage of the core on its own, in bytes per second, so a regression
//! shows where it is (scripts/bench.sh measures the whole program against the floor):
//!
//! - `decode`: link -> IP -> TCP (`wire::decode`) over every frame (bytes: frames);
//! - `reassembly`: decoded segments into the connection table, a handler that only counts
//!   the in-order bytes (bytes: frames; decoding included), the frames in one buffer as a
//!   worker's are in their chunk; `reassembly_no_window` the same without the causal window
//!   (`causal_window` 0), so that its share shows;
//! - `http_parse`: the reassembled streams, recorded once, replayed into `HttpConn`s
//!   (framing, heads, bodies, content decoding, pairing; bytes: stream bytes);
//! - `har_encode`: finished transactions -> HAR entry JSON (bytes: JSON written).
//!
//!     cargo bench --bench stages [-- FILTER]

use std::collections::HashMap;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use httshark::hosts::ServerSet;
use httshark::http::{HttpConn, HttpCtx, HttpFactory, HttpLimits};
use httshark::model::{ConnInfo, Direction, Transaction};
use httshark::reassembly::{
    CloseReason, ConnTable, HandlerFactory, ReassemblyLimits, StreamHandler,
};
use httshark::time::{MonotonicClock, Timestamp};
use httshark::wire::{self, Decoded, LinkType};
use httshark_gen::{self as testgen, HttpParams, Packet};

/// One reassembler callback, recorded for the HTTP stage's replay.
enum Event {
    Data(Direction, Vec<u8>, Timestamp),
    Ack(Direction, u64),
    Gap(Direction, u64, Timestamp),
    Fin(Direction, Timestamp),
    Close(CloseReason, Timestamp),
    Tick(Timestamp),
}

/// The reassembler's output: every connection's callbacks in order, by connection id.
#[derive(Default)]
struct Recorded {
    conns: HashMap<u64, ConnInfo>,
    events: Vec<(u64, Event)>,
    /// In-order stream bytes delivered (the counting handler's total).
    bytes: u64,
    /// Record the events (the HTTP stage's input), or only count bytes (the timed run).
    keep: bool,
}

struct Rec;
impl StreamHandler for Rec {
    type Ctx = Recorded;
    fn on_data(
        &mut self,
        r: &mut Recorded,
        c: &ConnInfo,
        d: Direction,
        data: &[u8],
        ts: Timestamp,
    ) {
        r.bytes += data.len() as u64;
        if r.keep {
            r.conns.entry(c.id).or_insert_with(|| c.clone());
            r.events.push((c.id, Event::Data(d, data.to_vec(), ts)));
        }
    }
    fn on_ack(&mut self, r: &mut Recorded, c: &ConnInfo, d: Direction, ack: u64) {
        if r.keep {
            r.events.push((c.id, Event::Ack(d, ack)));
        }
    }
    fn on_gap(&mut self, r: &mut Recorded, c: &ConnInfo, d: Direction, len: u64, ts: Timestamp) {
        if r.keep {
            r.events.push((c.id, Event::Gap(d, len, ts)));
        }
    }
    fn on_fin(&mut self, r: &mut Recorded, c: &ConnInfo, d: Direction, ts: Timestamp) {
        if r.keep {
            r.events.push((c.id, Event::Fin(d, ts)));
        }
    }
    fn on_close(&mut self, r: &mut Recorded, c: &ConnInfo, why: CloseReason, ts: Timestamp) {
        if r.keep {
            r.conns.entry(c.id).or_insert_with(|| c.clone());
            r.events.push((c.id, Event::Close(why, ts)));
        }
    }
    fn on_tick(&mut self, r: &mut Recorded, c: &ConnInfo, now: Timestamp) {
        if r.keep {
            r.events.push((c.id, Event::Tick(now)));
        }
    }
}

struct RecFactory;
impl HandlerFactory for RecFactory {
    type Handler = Rec;
    fn new_handler(&mut self, _: &ConnInfo) -> Rec {
        Rec
    }
    fn probe_role(&self, payload: &[u8]) -> Option<httshark::reassembly::Role> {
        HttpFactory.probe_role(payload)
    }
}

fn servers() -> ServerSet {
    ServerSet::parse("").unwrap()
}

/// Decode + reassembly into the recording handler. The frames lie in one buffer, as a
/// worker's lie in the chunk they were read into, so the causal window holds payloads by
/// position, not by copies.
fn reassemble(frames: &Frames, keep: bool, limits: ReassemblyLimits) -> Recorded {
    let mut table = ConnTable::new(RecFactory, servers(), limits);
    let mut out = Recorded {
        keep,
        ..Recorded::default()
    };
    let mut clock = MonotonicClock::default();
    for (i, &(ts, at, len)) in frames.index.iter().enumerate() {
        let ts = Timestamp(ts);
        let now = clock.advance(ts);
        let frame = &frames.bytes[at..at + len];
        if let Ok(Decoded::Tcp(seg)) = wire::decode(LinkType::Ethernet, frame) {
            table.on_segment_in(&mut out, &seg, i as u64, ts, now, &frames.bytes);
        }
    }
    // What the window still holds of the buffer is copied before the buffer goes, as a
    // worker does at the end of each batch (`ConnTable::detach_window`).
    table.detach_window(&frames.bytes);
    table.close_all(&mut out, clock.now().unwrap_or_default());
    out
}

/// Every frame in one buffer: (time, offset, length) of each.
struct Frames {
    bytes: Vec<u8>,
    index: Vec<(i64, usize, usize)>,
}

impl Frames {
    fn of(packets: &[Packet]) -> Frames {
        let mut f = Frames {
            bytes: Vec::new(),
            index: Vec::with_capacity(packets.len()),
        };
        for p in packets {
            f.index.push((p.ts.as_nanos(), f.bytes.len(), p.data.len()));
            f.bytes.extend_from_slice(&p.data);
        }
        f
    }
}

/// The recorded streams replayed into one `HttpConn` per connection.
fn http_parse(rec: &Recorded) -> Vec<Transaction> {
    let mut ctx = HttpCtx::new(HttpLimits::default());
    let mut conns: HashMap<u64, HttpConn> = HashMap::new();
    let mut out = Vec::new();
    for (id, ev) in &rec.events {
        let info = &rec.conns[id];
        let h = conns.entry(*id).or_insert_with(|| HttpConn::new(info));
        match ev {
            Event::Data(d, data, ts) => h.on_data(&mut ctx, info, *d, data, *ts),
            Event::Ack(d, ack) => h.on_ack(&mut ctx, info, *d, *ack),
            Event::Gap(d, len, ts) => h.on_gap(&mut ctx, info, *d, *len, *ts),
            Event::Fin(d, ts) => h.on_fin(&mut ctx, info, *d, *ts),
            Event::Tick(now) => h.on_tick(&mut ctx, info, *now),
            Event::Close(why, ts) => {
                h.on_close(&mut ctx, info, *why, *ts);
                conns.remove(id);
            }
        }
        out.append(&mut ctx.out);
    }
    out
}

fn benches(c: &mut Criterion) {
    let mut params = HttpParams::bench(7);
    params.target_bytes = Some(32 << 20);
    let (packets, expected, _) = testgen::generate(&params, None);
    let frame_bytes: u64 = packets.iter().map(|p| p.data.len() as u64).sum();

    let frames = Frames::of(&packets);

    let mut g = c.benchmark_group("stages");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(frame_bytes));
    g.bench_function("decode", |b| {
        b.iter(|| {
            packets
                .iter()
                .filter(|p| {
                    matches!(
                        wire::decode(LinkType::Ethernet, &p.data),
                        Ok(Decoded::Tcp(_))
                    )
                })
                .count()
        })
    });
    g.bench_function("reassembly", |b| {
        b.iter(|| reassemble(&frames, false, ReassemblyLimits::default()).bytes)
    });
    // The same without the causal window (`causal_window` 0): what holding every segment
    // for the window's span costs.
    let no_window = ReassemblyLimits {
        causal_window: 0,
        ..ReassemblyLimits::default()
    };
    g.bench_function("reassembly_no_window", |b| {
        b.iter(|| reassemble(&frames, false, no_window.clone()).bytes)
    });

    let rec = reassemble(&frames, true, ReassemblyLimits::default());
    let txs = http_parse(&rec);
    assert_eq!(
        txs.len(),
        expected.len(),
        "the HTTP stage must see every generated transaction"
    );
    g.throughput(Throughput::Bytes(rec.bytes));
    g.bench_function("http_parse", |b| b.iter(|| http_parse(&rec).len()));

    let json_bytes: u64 = txs
        .iter()
        .map(|t| httshark::har::entry_json(t).len() as u64)
        .sum();
    g.throughput(Throughput::Bytes(json_bytes));
    g.bench_function("har_encode", |b| {
        b.iter(|| {
            txs.iter()
                .map(|t| httshark::har::entry_json(t).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(stage_benches, benches);
criterion_main!(stage_benches);
