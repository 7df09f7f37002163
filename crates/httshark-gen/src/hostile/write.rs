//! Streaming a hostile capture: attack and legitimate frames through one time-ordered
//! heap, written as soon as no later step can produce an earlier frame, with the
//! legitimate transactions' ground truth.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

use super::attack::{Attack, ATTACK_CONN_BASE};
use super::{legit_params, HostileConfig, HostileSummary};
use crate::http::{generate_conn, ExpectedTx, GeneratedConn};
use crate::pcap::{LinkKind, PcapWriter, TsResolution};
use crate::tcp::Packet;
use crate::time::Timestamp;

/// A frame waiting in the time-ordered heap: (time, arrival order) keeps equal times in
/// the order they were made.
struct Queued {
    key: (Timestamp, u64),
    packet: Packet,
}

impl PartialEq for Queued {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Queued {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key.cmp(&o.key)
    }
}

/// Frames waiting to be written, in time order (equal times in the order they were made).
#[derive(Default)]
struct TimeQueue {
    heap: BinaryHeap<Reverse<Queued>>,
    order: u64,
}

impl TimeQueue {
    fn push(&mut self, packet: Packet) {
        self.order += 1;
        self.heap.push(Reverse(Queued {
            key: (packet.ts, self.order),
            packet,
        }));
    }

    /// The earliest frame, if it is at or before `until` (`None`: any).
    fn pop_until(&mut self, until: Option<Timestamp>) -> Option<Packet> {
        let Reverse(q) = self.heap.peek()?;
        if until.is_some_and(|t| q.key.0 > t) {
            return None;
        }
        self.heap.pop().map(|Reverse(q)| q.packet)
    }
}

/// Queues a legitimate connection's frames and writes its ground truth.
fn add_legit<E: Write>(
    g: GeneratedConn,
    queue: &mut TimeQueue,
    sum: &mut HostileSummary,
    expected: &mut Option<E>,
) -> io::Result<()> {
    sum.legit_connections += 1;
    for tx in &g.txs {
        sum.legit_transactions += 1;
        if let Some(e) = expected.as_mut() {
            writeln!(e, "{}", tx.to_tsv_row(true))?;
        }
    }
    for p in g.packets {
        queue.push(p);
    }
    Ok(())
}

/// Time of the first frame.
const START_SECS: i64 = 1_700_000_000;

/// Streams the capture for `cfg` to `out`, calling `on_packet` for every frame written
/// (tests count what they need there) and writing the legitimate transactions' ground
/// truth to `expected` as TSV.
pub fn write_hostile_with<W: Write, E: Write>(
    cfg: &HostileConfig,
    out: W,
    mut expected: Option<E>,
    mut on_packet: impl FnMut(&Packet, bool),
) -> io::Result<HostileSummary> {
    let start = Timestamp::from_secs_nanos(START_SECS, 0);
    let mut w = PcapWriter::new(out, LinkKind::Ethernet, TsResolution::Micro, None)?;
    if let Some(e) = expected.as_mut() {
        writeln!(e, "{}", ExpectedTx::TSV_HEADER)?;
    }
    let legit_p = legit_params(cfg.seed);
    let mut attack = Attack::new(cfg, start);
    let mut queue = TimeQueue::default();
    let mut sum = HostileSummary::default();
    let mut batch = Vec::new();
    let mut next_legit = 0u32;
    let steps = attack.steps;
    // Legitimate connection `j` starts with attack step `j * steps / legit`.
    let legit_step = |j: u32| (j as u128 * steps as u128 / cfg.legit.max(1) as u128) as u64;

    let mut flush_until = |queue: &mut TimeQueue,
                           until: Option<Timestamp>,
                           sum: &mut HostileSummary|
     -> io::Result<()> {
        while let Some(p) = queue.pop_until(until) {
            let is_attack = p.meta.conn >= ATTACK_CONN_BASE;
            w.write_packet_with_orig_len(p.ts, &p.data, p.orig_len)?;
            on_packet(&p, is_attack);
            sum.attack_packets += is_attack as u64;
        }
        Ok(())
    };

    for i in 0..steps {
        let t = attack.next_start();
        flush_until(&mut queue, Some(t), &mut sum)?;
        while next_legit < cfg.legit && legit_step(next_legit) == i {
            let g = generate_conn(&legit_p, next_legit, t);
            add_legit(g, &mut queue, &mut sum, &mut expected)?;
            next_legit += 1;
        }
        attack.step(i, &mut batch);
        for p in batch.drain(..) {
            queue.push(p);
        }
    }
    // Legitimate connections the attack left no step for (scale 0) start at the end.
    while next_legit < cfg.legit {
        let g = generate_conn(&legit_p, next_legit, attack.next_start());
        add_legit(g, &mut queue, &mut sum, &mut expected)?;
        next_legit += 1;
    }
    flush_until(&mut queue, None, &mut sum)?;
    sum.attack_connections = attack.conns;
    sum.packets = w.packets_written();
    sum.bytes = w.bytes_written();
    w.into_inner()?;
    if let Some(mut e) = expected {
        e.flush()?;
    }
    Ok(sum)
}

/// [`write_hostile_with`] without a per-frame callback.
pub fn write_hostile<W: Write, E: Write>(
    cfg: &HostileConfig,
    out: W,
    expected: Option<E>,
) -> io::Result<HostileSummary> {
    write_hostile_with(cfg, out, expected, |_, _| {})
}
