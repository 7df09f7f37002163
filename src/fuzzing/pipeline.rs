//! The whole product minus file output, from a classic pcap file: records -> the `Worker`
//! the binary runs (default settings, a 128 KiB memory budget) -> each transaction's HAR
//! entry as the processors write it (`har::entry_json`), checked to give the bytes serde
//! writes for the reference model (`har::reference::entry`). Ticks every second of capture
//! time, as the capture thread does, and `finish` at the end.
//!
//! The memory charge is checked after every frame, not only at the end: at most the
//! budget plus what `ConnTable::enforce_budget` documents it cannot take back from the
//! connection that just grew (a head being read, `max_head_bytes` per direction, and the
//! protocol layer's bounded holdings: `TLS_MAX_HELD_BYTES`), plus `RESIDUE_SLACK` for the
//! fixed parts of that connection.

use std::time::Duration;

use crate::har;
use crate::config::Config;
use crate::http::HttpLimits;
use crate::model::Transaction;
use crate::wire::LinkType;
use crate::worker::{Worker, WorkerConfig};
use super::{check_transaction, pcap_file};

/// The fixed parts of one connection (its slot, half streams, HTTP state, an HPACK table
/// at its default size) above what the docs name.
const RESIDUE_SLACK: usize = 64 << 10;

fn export(txs: Vec<Transaction>, limits: &HttpLimits) {
    for tx in txs {
        check_transaction(&tx, limits);
        let entry = har::reference::entry(&tx);
        let json = har::reference::entry_json_bytes(&entry).expect("a HAR entry serialises");
        assert!(json.starts_with(b"{"));
        // What the processors write: the same bytes, written straight from the transaction.
        assert!(har::entry_json(&tx) == json, "har::entry_json differs from the serde reference");
    }
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
    let mut config = WorkerConfig::from_config(&Config::default(), link);
    // Small enough that inputs of a few hundred KiB run the budget policy.
    config.reassembly.memory_budget = 128 << 10;
    let limits = config.http.clone();
    let ceiling = config.reassembly.memory_budget
        + 2 * limits.max_head_bytes
        + crate::tls::TLS_MAX_HELD_BYTES
        + RESIDUE_SLACK;
    let mut worker = Worker::new(config);
    let mut next_tick = None;
    let mut end = None;
    for (packet_index, (ts, frame)) in file.enumerate() {
        worker.on_frame(frame, packet_index as u64, ts);
        if next_tick.is_none_or(|t| ts >= t) {
            let now = worker.on_tick(ts);
            next_tick = Some(now + Duration::from_secs(1));
        }
        end = Some(ts);
        let used = worker.memory_used();
        assert!(
            used <= ceiling,
            "packet {packet_index}: {used} bytes charged, over the budget's ceiling {ceiling}"
        );
        export(worker.take_transactions(), &limits);
    }
    if let Some(end) = end {
        worker.finish(end);
    }
    export(worker.take_transactions(), &limits);
    assert_eq!(worker.open_connections(), 0);
    assert_eq!(worker.memory_used(), 0, "memory budget charge left");
}
