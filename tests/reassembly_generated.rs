//! The reassembler on generated traffic: under duplication and reordering every
//! connection's two byte streams come out exactly as the clean capture's, with no gap
//! (connections picked up mid-stream: a suffix of it).

use std::collections::BTreeMap;

use httshark::hosts::ServerSet;
use httshark::model::{ConnInfo, Direction};
use httshark::reassembly::{
    CloseReason, ConnTable, HandlerFactory, ReassemblyLimits, StreamHandler,
};
use httshark::time::{MonotonicClock, Timestamp};
use httshark::wire::{self, Decoded, LinkType};
use httshark_gen::{self as testgen, rng::Rng, FaultSpec, HttpParams, Packet};

/// Streams per (client, direction): bytes, with gaps written as `<gap N>`.
type Streams = BTreeMap<(String, usize), Vec<u8>>;

struct Recorder;
struct Rec {
    key: String,
}

impl StreamHandler for Rec {
    type Ctx = Streams;
    fn on_data(
        &mut self,
        ctx: &mut Streams,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        _: Timestamp,
    ) {
        if conn.midstream {
            ctx.entry(("midstream".into(), 0))
                .or_default()
                .extend_from_slice(format!("[{}]", self.key).as_bytes());
        }
        ctx.entry((self.key.clone(), dir.index()))
            .or_default()
            .extend_from_slice(data);
    }
    fn on_gap(&mut self, ctx: &mut Streams, _: &ConnInfo, dir: Direction, len: u64, _: Timestamp) {
        ctx.entry((self.key.clone(), dir.index()))
            .or_default()
            .extend_from_slice(format!("<gap {len}>").as_bytes());
    }
    fn on_fin(&mut self, _: &mut Streams, _: &ConnInfo, _: Direction, _: Timestamp) {}
    fn on_close(&mut self, _: &mut Streams, _: &ConnInfo, _: CloseReason, _: Timestamp) {}
    fn on_tick(&mut self, _: &mut Streams, _: &ConnInfo, _: Timestamp) {}
}

impl HandlerFactory for Recorder {
    type Handler = Rec;
    fn new_handler(&mut self, conn: &ConnInfo) -> Rec {
        Rec {
            key: format!("{} {}", conn.client, conn.server),
        }
    }
}

fn streams(packets: &[Packet]) -> Streams {
    let mut table = ConnTable::new(
        Recorder,
        ServerSet::parse(":80,:8080").unwrap(),
        ReassemblyLimits::default(),
    );
    let mut out = Streams::new();
    let mut clock = MonotonicClock::default();
    for (i, p) in packets.iter().enumerate() {
        // The generator has its own Timestamp (same nanoseconds since the epoch).
        let ts = Timestamp(p.ts.as_nanos());
        let now = clock.advance(ts);
        if let Ok(Decoded::Tcp(seg)) = wire::decode(LinkType::Ethernet, &p.data) {
            table.on_segment(&mut out, &seg, i as u64, ts, now);
        }
    }
    table.close_all(&mut out, clock.now().unwrap_or_default());
    out
}

#[test]
fn duplicated_and_reordered_streams_equal_the_clean_ones() {
    for seed in 1..=24 {
        let mut params = HttpParams::mixed(seed);
        params.connections = Some(60);
        let (clean, _, _) = testgen::generate(&params, None);
        let spec = FaultSpec::parse("dup=0.05,reorder=0.1,window=6").unwrap();
        let (faulty, _) = testgen::faults::apply(&spec, &mut Rng::new(seed), clean.clone());
        let (a, b) = (streams(&clean), streams(&faulty));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "seed {seed}: same connections"
        );
        for (k, v) in &a {
            let w = &b[k];
            // A connection picked up mid-stream starts at its first segment captured: when
            // reordering moved a later segment first, the bytes before it are not
            // reassembled (the HTTP layer resyncs). That stream is a suffix of the clean one.
            let midstream = |m: &Streams| {
                m.get(&("midstream".to_string(), 0))
                    .is_some_and(|l| String::from_utf8_lossy(l).contains(&format!("[{}]", k.0)))
            };
            if k.0 == "midstream" || ((midstream(&a) || midstream(&b)) && v.ends_with(w)) {
                continue;
            }
            if v != w {
                let at = v
                    .iter()
                    .zip(w.iter())
                    .position(|(x, y)| x != y)
                    .unwrap_or(v.len().min(w.len()));
                panic!(
                    "seed {seed}: stream {k:?} differs at byte {at} (clean {} bytes, faulty {} bytes): clean {:?} faulty {:?}",
                    v.len(),
                    w.len(),
                    String::from_utf8_lossy(&v[at.saturating_sub(20)..(at + 40).min(v.len())]),
                    String::from_utf8_lossy(&w[at.saturating_sub(20)..(at + 40).min(w.len())])
                );
            }
            assert!(
                !v.windows(5).any(|x| x == b"<gap "),
                "seed {seed}: clean stream {k:?} has a gap"
            );
        }
    }
}
