//! Seeded fault injection over a time-ordered list of frames: loss, duplication, reordering
//! within a window, truncation (a snaplen cut of one frame), and swaps of two frames within
//! a window of N (capture-order reordering: multi-queue NICs, merged captures). Returns what was damaged, so a
//! test can demand exact results for the transactions whose bytes all survived.
//!
//! Accounting rules (what [`FaultReport::tx_intact`] promises):
//! - a dropped frame loses its payload range and, if it carried SYN, FIN or RST, its control
//!   information (the connection is listed in `lost_control`);
//! - a truncated frame loses the payload bytes past the cut; a cut inside the headers loses
//!   the whole frame for a decoder, so it counts as a drop;
//! - duplicated and reordered frames lose nothing; their connections are listed in
//!   `disturbed` (a reassembler must absorb them, within its limits).
//!
//! Output timestamps never go backwards for `reorder`: a frame held back takes the time of
//! the frame it is released after, as a capture point downstream of the reordering would
//! stamp it. `swap` is the other kind of reordering: each frame keeps its own timestamp and
//! only the capture order changes (a multi-queue NIC stamps packets as they arrive and
//! delivers them to the capture ring out of order; tshark says "timestamps out of order").
//! A swap exchanges any two frames (SYN, SYN-ACK, FIN and RST included) at most
//! `swap_window - 1` positions apart; each frame moves at most once, so no frame ends up
//! further than that from its place.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use super::http::{ExpectedTx, Framing};
use super::rng::Rng;
use super::tcp::{Direction, Packet};

/// Fault probabilities per frame.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FaultSpec {
    pub drop: f64,
    pub dup: f64,
    pub reorder: f64,
    /// A reordered frame is released after 1..=`reorder_window` later frames.
    pub reorder_window: usize,
    pub truncate: f64,
    /// Probability per frame of being swapped with a later one.
    pub swap: f64,
    /// Swapped frames are at most `swap_window - 1` positions apart (a window of N frames).
    pub swap_window: usize,
}

impl FaultSpec {
    /// Parses `drop=0.01,dup=0.01,reorder=0.05,truncate=0.001,window=4,swap=0.1,swap_window=6`
    /// (any subset).
    pub fn parse(s: &str) -> Result<FaultSpec, String> {
        let mut f = FaultSpec {
            reorder_window: 4,
            swap_window: 6,
            ..FaultSpec::default()
        };
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (k, v) = item
                .split_once('=')
                .ok_or_else(|| format!("fault `{item}`: expected name=value"))?;
            if k == "window" {
                f.reorder_window = v
                    .parse::<usize>()
                    .ok()
                    .filter(|w| (1..=1000).contains(w))
                    .ok_or_else(|| format!("fault window `{v}`: expected 1..=1000"))?;
                continue;
            }
            if k == "swap_window" {
                f.swap_window = v
                    .parse::<usize>()
                    .ok()
                    .filter(|w| (2..=1000).contains(w))
                    .ok_or_else(|| format!("fault swap_window `{v}`: expected 2..=1000"))?;
                continue;
            }
            let p = v
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| format!("fault `{k}`: `{v}` is not a probability in [0, 1]"))?;
            match k {
                "drop" => f.drop = p,
                "dup" => f.dup = p,
                "reorder" => f.reorder = p,
                "truncate" => f.truncate = p,
                "swap" => f.swap = p,
                _ => {
                    return Err(format!(
                    "unknown fault `{k}` (drop, dup, reorder, truncate, window, swap, swap_window)"
                ))
                }
            }
        }
        Ok(f)
    }

    pub fn is_none(&self) -> bool {
        self.drop == 0.0
            && self.dup == 0.0
            && self.reorder == 0.0
            && self.truncate == 0.0
            && self.swap == 0.0
    }
}

/// What the faults did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultReport {
    pub dropped: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub truncated: u64,
    /// Pairs of frames swapped.
    pub swapped: u64,
    /// Lost payload byte ranges (stream offsets) per (connection, `Direction::index`).
    pub lost: BTreeMap<(u32, usize), Vec<Range<u64>>>,
    /// Connections that lost a SYN, FIN or RST.
    pub lost_control: BTreeSet<u32>,
    /// (connection, `Direction::index`) whose FIN was lost.
    pub lost_fin: BTreeSet<(u32, usize)>,
    /// Connections with duplicated or reordered frames.
    pub disturbed: BTreeSet<u32>,
}

impl FaultReport {
    pub fn merge(&mut self, other: FaultReport) {
        self.dropped += other.dropped;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.truncated += other.truncated;
        self.swapped += other.swapped;
        for (k, mut v) in other.lost {
            self.lost.entry(k).or_default().append(&mut v);
        }
        self.lost_control.extend(other.lost_control);
        self.lost_fin.extend(other.lost_fin);
        self.disturbed.extend(other.disturbed);
    }

    /// No fault touched the connection at all.
    pub fn conn_untouched(&self, conn: u32) -> bool {
        !self.lost_control.contains(&conn)
            && !self.disturbed.contains(&conn)
            && !self.lost.contains_key(&(conn, 0))
            && !self.lost.contains_key(&(conn, 1))
    }

    fn overlaps(&self, conn: u32, dir: Direction, r: &Range<u64>) -> bool {
        self.lost
            .get(&(conn, dir.index()))
            .is_some_and(|v| v.iter().any(|l| l.start < r.end && r.start < l.end))
    }

    /// Every byte of the transaction's request and response survived (and, for a response
    /// delimited by the close, the server's FIN too).
    pub fn tx_intact(&self, tx: &ExpectedTx) -> bool {
        let c = tx.conn_index;
        !self.overlaps(c, Direction::ToServer, &tx.req_stream)
            && !self.overlaps(c, Direction::ToClient, &tx.resp_stream)
            && (tx.resp_framing != Framing::Close
                || !self.lost_fin.contains(&(c, Direction::ToClient.index())))
    }

    /// Indices (into `txs`) of transactions that lost bytes.
    pub fn affected(&self, txs: &[ExpectedTx]) -> Vec<usize> {
        (0..txs.len())
            .filter(|&i| !self.tx_intact(&txs[i]))
            .collect()
    }

    fn lose(&mut self, p: &Packet, from_payload_byte: u64) {
        let m = &p.meta;
        let end = m.stream_off + m.payload_len as u64;
        let start = m.stream_off + from_payload_byte.min(m.payload_len as u64);
        if start < end {
            self.lost
                .entry((m.conn, m.dir.index()))
                .or_default()
                .push(start..end);
        }
    }

    fn lose_control(&mut self, p: &Packet) {
        let m = &p.meta;
        if m.syn || m.fin || m.rst {
            self.lost_control.insert(m.conn);
        }
        if m.fin {
            self.lost_fin.insert((m.conn, m.dir.index()));
        }
    }
}

/// Applies `spec` to time-ordered `packets`. Deterministic in (`spec`, `rng` state, input).
pub fn apply(spec: &FaultSpec, rng: &mut Rng, packets: Vec<Packet>) -> (Vec<Packet>, FaultReport) {
    let mut report = FaultReport::default();
    let mut out: Vec<Packet> = Vec::with_capacity(packets.len() + packets.len() / 16);
    // Held back frames: (frames still to pass before release, frame).
    let mut held: Vec<(usize, Packet)> = Vec::new();
    let window = spec.reorder_window.max(1);
    for mut p in packets {
        if rng.chance(spec.drop) {
            report.dropped += 1;
            report.lose(&p, 0);
            report.lose_control(&p);
            continue;
        }
        if p.data.len() > 1 && rng.chance(spec.truncate) {
            let cut = rng.range(1, p.data.len() as u64 - 1) as usize;
            report.truncated += 1;
            let at = p.meta.payload_at as usize;
            if cut < at {
                // The TCP header is gone: to a decoder this frame does not exist.
                report.lose(&p, 0);
                report.lose_control(&p);
            } else {
                report.lose(&p, (cut - at) as u64);
            }
            p.data.truncate(cut);
        }
        let dup = rng.chance(spec.dup);
        if rng.chance(spec.reorder) {
            report.reordered += 1;
            report.disturbed.insert(p.meta.conn);
            held.push((rng.range(1, window as u64) as usize, p));
            continue;
        }
        if dup {
            report.duplicated += 1;
            report.disturbed.insert(p.meta.conn);
            out.push(p.clone());
        }
        out.push(p);
        release(&mut held, &mut out);
    }
    // Whatever is still held goes out at the end, in the order it was held.
    let last = out.last().map(|p| p.ts);
    for (_, mut p) in held {
        if let Some(t) = last {
            p.ts = p.ts.max(t);
        }
        out.push(p);
    }
    swap(spec, rng, &mut out, &mut report);
    (out, report)
}

/// Swaps frames pairwise within `spec.swap_window`, each frame at most once; timestamps
/// travel with their frames.
fn swap(spec: &FaultSpec, rng: &mut Rng, out: &mut [Packet], report: &mut FaultReport) {
    if spec.swap == 0.0 {
        return;
    }
    let reach = spec.swap_window.max(2) - 1;
    let mut moved = vec![false; out.len()];
    for i in 0..out.len() {
        if moved[i] || !rng.chance(spec.swap) {
            continue;
        }
        let last = (i + reach).min(out.len() - 1);
        if last == i {
            continue;
        }
        let j = rng.range(i as u64 + 1, last as u64) as usize;
        if moved[j] {
            continue;
        }
        moved[i] = true;
        moved[j] = true;
        out.swap(i, j);
        report.swapped += 1;
        report.disturbed.insert(out[i].meta.conn);
        report.disturbed.insert(out[j].meta.conn);
    }
}

fn release(held: &mut Vec<(usize, Packet)>, out: &mut Vec<Packet>) {
    if held.is_empty() {
        return;
    }
    let now = out.last().map(|p| p.ts);
    let mut i = 0;
    while i < held.len() {
        let (n, _) = &mut held[i];
        *n = n.saturating_sub(1);
        if *n == 0 {
            let (_, mut p) = held.remove(i);
            if let Some(t) = now {
                p.ts = p.ts.max(t);
            }
            out.push(p);
        } else {
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::PacketMeta;
    use crate::time::Timestamp;

    fn pkts(n: usize) -> Vec<Packet> {
        (0..n)
            .map(|i| Packet {
                ts: Timestamp(i as i64 * 10),
                data: vec![0u8; 60],
                orig_len: 60,
                meta: PacketMeta {
                    conn: 0,
                    dir: Direction::ToServer,
                    stream_off: i as u64 * 6,
                    payload_len: 6,
                    payload_at: 54,
                    syn: false,
                    fin: i + 1 == n,
                    rst: false,
                },
            })
            .collect()
    }

    #[test]
    fn parse_spec() {
        let f = FaultSpec::parse("drop=0.01, dup=0.5,reorder=1,window=3").unwrap();
        assert_eq!(
            (f.drop, f.dup, f.reorder, f.truncate),
            (0.01, 0.5, 1.0, 0.0)
        );
        assert_eq!(f.reorder_window, 3);
        assert!(FaultSpec::parse("drop=2").is_err());
        assert!(FaultSpec::parse("jitter=0.1").is_err());
        assert!(FaultSpec::parse("drop").is_err());
        assert!(FaultSpec::parse("window=0").is_err());
        assert!(FaultSpec::parse("").unwrap().is_none());
    }

    #[test]
    fn no_faults_is_identity() {
        let spec = FaultSpec::default();
        let (out, rep) = apply(&spec, &mut Rng::new(1), pkts(50));
        assert_eq!(out, pkts(50));
        assert_eq!(rep, FaultReport::default());
        assert!(rep.conn_untouched(0));
    }

    #[test]
    fn drops_are_accounted_per_byte_range() {
        let spec = FaultSpec {
            drop: 0.3,
            ..FaultSpec::default()
        };
        let (out, rep) = apply(&spec, &mut Rng::new(2), pkts(100));
        assert_eq!(out.len() as u64 + rep.dropped, 100);
        let lost: u64 = rep.lost.values().flatten().map(|r| r.end - r.start).sum();
        assert_eq!(lost, rep.dropped * 6);
        // Surviving offsets and lost ranges partition the stream.
        let mut covered: Vec<u64> = out.iter().map(|p| p.meta.stream_off).collect();
        covered.extend(rep.lost.values().flatten().map(|r| r.start));
        covered.sort();
        assert_eq!(covered, (0..100).map(|i| i * 6).collect::<Vec<_>>());
    }

    #[test]
    fn reorder_and_dup_keep_every_frame_and_time_order() {
        let spec = FaultSpec {
            dup: 0.2,
            reorder: 0.3,
            reorder_window: 3,
            ..FaultSpec::default()
        };
        let (out, rep) = apply(&spec, &mut Rng::new(3), pkts(200));
        assert!(rep.reordered > 0 && rep.duplicated > 0);
        assert_eq!(out.len() as u64, 200 + rep.duplicated);
        assert!(out.windows(2).all(|w| w[0].ts <= w[1].ts));
        let mut offs: Vec<u64> = out.iter().map(|p| p.meta.stream_off).collect();
        offs.dedup();
        offs.sort();
        offs.dedup();
        assert_eq!(offs.len(), 200);
        assert!(out
            .windows(2)
            .any(|w| w[0].meta.stream_off > w[1].meta.stream_off));
        assert!(rep.lost.is_empty());
        assert!(!rep.conn_untouched(0));
    }

    #[test]
    fn swaps_stay_within_the_window_and_keep_every_frame_and_its_time() {
        let spec = FaultSpec::parse("swap=0.5,swap_window=4").unwrap();
        let clean = pkts(300);
        let (out, rep) = apply(&spec, &mut Rng::new(5), clean.clone());
        assert!(rep.swapped > 20);
        assert_eq!(out.len(), 300);
        assert!(rep.lost.is_empty());
        let mut displaced = 0;
        for (pos, p) in out.iter().enumerate() {
            // Frame i had offset 6 i and time 10 i: both travel with it.
            let orig = (p.meta.stream_off / 6) as usize;
            assert_eq!(p.ts, clean[orig].ts);
            assert!(pos.abs_diff(orig) <= 3, "frame {orig} moved to {pos}");
            displaced += usize::from(pos != orig);
        }
        assert_eq!(displaced as u64, 2 * rep.swapped);
        assert!(FaultSpec::parse("swap_window=1").is_err());
    }

    #[test]
    fn truncation_loses_the_tail_only() {
        let spec = FaultSpec {
            truncate: 1.0,
            ..FaultSpec::default()
        };
        let (out, rep) = apply(&spec, &mut Rng::new(4), pkts(30));
        assert_eq!(rep.truncated, 30);
        for p in &out {
            assert!(p.data.len() < 60 && p.orig_len == 60);
        }
        let lost: u64 = rep.lost.values().flatten().map(|r| r.end - r.start).sum();
        let kept: u64 = out
            .iter()
            .map(|p| p.data.len().saturating_sub(54) as u64)
            .sum();
        assert_eq!(lost + kept, 30 * 6);
    }
}
