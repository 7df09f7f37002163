//! The whole product minus file output, from a classic pcap file: records -> the `Worker`
//! the binary runs (default settings, a 32 KiB memory budget) -> each transaction's HAR
//! entry as the processors write it (`har::entry_json`), checked to give the bytes serde
//! writes for the reference model (`har::reference::entry`). Ticks every second of capture
//! time, as the capture thread does (`pipeline_tick`, on every worker),
//! and `finish` at the end.
//!
//! Differential: the same capture is run again sharded over `SHARDS` workers as the
//! binary shards it (the symmetric hash of the 4-tuple, `pipeline::capture_loop`), and must
//! give the same transactions (as sets: their order across workers is the scheduler's)
//! and the same summed counters, when the one-worker run never reached its budget (a
//! shard's connections are a subset of all, so no shard reaches it either; under memory
//! pressure the two may rightly differ: which connection the budget evicts depends on its
//! neighbours).
//!
//! The memory charge is checked after every frame, not only at the end: at most the
//! budget plus what `ConnTable::enforce_budget` documents it cannot take back from the
//! connection that just grew (a head being read, `max_head_bytes` per direction, and the
//! protocol layer's bounded holdings: `TLS_MAX_HELD_BYTES`), plus `RESIDUE_SLACK` for the
//! fixed parts of that connection.

use std::time::Duration;

use super::{check_transaction, pcap_file};
use crate::config::Config;
use crate::har;
use crate::http::HttpLimits;
use crate::model::Transaction;
use crate::time::MonotonicClock;
use crate::wire::LinkType;
use crate::wire::{symmetric_flow_hash, Decoded};
use crate::worker::WorkerCounters;
use crate::worker::{Worker, WorkerConfig};

/// The fixed parts of one connection (its slot, half streams, HTTP state, an HPACK table
/// at its default size) above what the docs name.
const RESIDUE_SLACK: usize = 64 << 10;

/// Workers of the sharded run.
const SHARDS: usize = 3;

fn export(txs: Vec<Transaction>, limits: &HttpLimits, out: &mut Vec<Transaction>) {
    for tx in txs {
        check_transaction(&tx, limits);
        let entry = har::reference::entry(&tx);
        let json = har::reference::entry_json_bytes(&entry).expect("a HAR entry serialises");
        assert!(json.starts_with(b"{"));
        // What the processors write: the same bytes, written straight from the transaction.
        assert!(
            har::entry_json(&tx) == json,
            "har::entry_json differs from the serde reference"
        );
        out.push(tx);
    }
}

/// Which worker the binary gives this frame to (`capture_loop::shard`).
fn shard(link: LinkType, frame: &[u8], workers: usize) -> usize {
    match crate::wire::decode(link, frame) {
        Ok(Decoded::Tcp(seg)) => {
            (symmetric_flow_hash(&seg.src, &seg.dst) % workers as u64) as usize
        }
        _ => 0,
    }
}

/// The capture through `workers` workers, each with the budget; every transaction checked.
fn run(data: &[u8], link: LinkType, workers: usize) -> (Vec<Transaction>, WorkerCounters) {
    let Some(file) = pcap_file(data) else {
        return Default::default();
    };
    let mut config = WorkerConfig::from_config(&Config::default(), link);
    // Small enough that inputs of a few tens of KiB run the budget policy: with 128 KiB,
    // a 2-minute run never got past its first test (coverage, docs/robustness.md).
    config.reassembly.memory_budget = 32 << 10;
    let limits = config.http.clone();
    let ceiling = config.reassembly.memory_budget
        + 2 * limits.max_head_bytes
        + crate::tls::TLS_MAX_HELD_BYTES
        + RESIDUE_SLACK;
    let mut shards: Vec<Worker> = (0..workers).map(|_| Worker::new(config.clone())).collect();
    let mut clock = MonotonicClock::default();
    let mut next_tick = None;
    let mut end = None;
    let mut out = Vec::new();
    for (packet_index, (ts, frame)) in file.enumerate() {
        let w = shard(link, frame, workers);
        shards[w].on_frame(frame, packet_index as u64, ts);
        let now = clock.advance(ts);
        // As the capture thread: a tick to every worker each second of capture time.
        let period = Duration::from_secs(1);
        let due = next_tick.is_some_and(|t| now >= t);
        if next_tick.is_none() || due {
            next_tick = Some(now.floor_to(period) + period);
        }
        if due {
            for worker in &mut shards {
                worker.pipeline_tick(packet_index as u64, now);
            }
        }
        end = Some(now);
        for worker in &mut shards {
            let used = worker.memory_used();
            assert!(
                used <= ceiling,
                "packet {packet_index}: {used} bytes charged, over the budget's ceiling {ceiling}"
            );
            export(worker.take_transactions(), &limits, &mut out);
        }
    }
    let mut counters = WorkerCounters::default();
    for worker in &mut shards {
        if let Some(end) = end {
            worker.finish(end);
        }
        export(worker.take_transactions(), &limits, &mut out);
        assert_eq!(worker.open_connections(), 0);
        assert_eq!(worker.memory_used(), 0, "memory budget charge left");
        counters.merge(&worker.counters());
    }
    (out, counters)
}

/// The capture through one worker with the target's settings (checked as in `check`):
/// its transactions and counters, for tests of what the seeds reach. `None` when the
/// input is not a classic pcap of a known link type.
pub fn run_one(data: &[u8]) -> Option<(Vec<Transaction>, WorkerCounters)> {
    let file = pcap_file(data)?;
    let link = i32::try_from(file.linktype)
        .ok()
        .and_then(LinkType::from_dlt)?;
    Some(run(data, link, 1))
}

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    let Some(file) = pcap_file(data) else {
        return;
    };
    let Some(link) = i32::try_from(file.linktype)
        .ok()
        .and_then(LinkType::from_dlt)
    else {
        return;
    };
    let (one, one_counters) = run(data, link, 1);
    // Under memory pressure, or past `RECENCY_WALK_MAX`, which connection goes when
    // depends on its neighbours: the runs may rightly differ.
    let r = &one_counters.reassembly;
    if r.memory_limit_hits > 0 || r.recency_walk_limit_hits > 0 {
        return;
    }
    let (many, many_counters) = run(data, link, SHARDS);
    let key = |t: &Transaction| format!("{t:?}");
    let mut a: Vec<String> = one.iter().map(key).collect();
    let mut b: Vec<String> = many.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(
        a.len(),
        b.len(),
        "{SHARDS} workers: another number of transactions"
    );
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{SHARDS} workers: a transaction differs");
    }
    assert_eq!(
        one_counters, many_counters,
        "{SHARDS} workers: counters differ"
    );
}
