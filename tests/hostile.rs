//! Hostile traffic through the binary (issue 4): each attack of `testgen::hostile` at a small
//! scale, with legitimate connections interleaved. Each test checks that every legitimate
//! transaction is exported exactly (same checks as `tests/generated.rs`) and that the attack
//! was met by the limit meant for it, with its counter in the exit summary. The full-scale
//! runs with peak RSS are `scripts/robustness.sh` (docs/robustness.md, "Hostile traffic").

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use httshark_gen::hostile::{write_hostile, HostileConfig, Kind};
use httshark_gen::{parse_expected_tsv, ExpectedTx};
use serde_json::Value;

/// Default limits the expectations below are computed from (docs/limits.md).
const MAX_CONNECTIONS: u64 = 100_000;
const MAX_PENDING_REQUESTS: u64 = 256;

struct Run {
    truth: Vec<ExpectedTx>,
    /// HAR entries of the legitimate clients.
    seen: Vec<Seen>,
    /// HAR entries of the attack clients (198.18.0.0/15), reduced to what the tests check.
    attack: Vec<AttackEntry>,
    counters: HashMap<String, u64>,
}

struct AttackEntry {
    url: String,
    status: i64,
    /// A response was seen.
    answered: bool,
    resp_content: i64,
    /// Length of the response body text kept.
    text_len: usize,
    anomalies: Vec<String>,
}

impl AttackEntry {
    fn flagged(&self, what: &str) -> bool {
        self.anomalies.iter().any(|a| a == what)
    }
}

impl Run {
    fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }

    fn flagged(&self, what: &str) -> u64 {
        self.attack.iter().filter(|a| a.flagged(what)).count() as u64
    }
}

/// Splits the HAR files of `out`: attack entries are reduced to [`AttackEntry`] (a run can
/// export 100,000 of them), the legitimate ones are written to `legit_dir` as one HAR file
/// and read back with the shared helper.
fn split_entries(out: &Path, legit_dir: &Path) -> (Vec<Seen>, Vec<AttackEntry>) {
    let mut legit = Vec::new();
    let mut attack = Vec::new();
    for f in std::fs::read_dir(out).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_none_or(|x| x != "har") {
            continue;
        }
        let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let Some(Value::Array(entries)) = v["log"].get_mut("entries").map(std::mem::take) else {
            panic!("{}: no log.entries", path.display());
        };
        for e in entries {
            let client = e["_clientIPAddress"].as_str().unwrap_or("");
            if !(client.starts_with("198.18.") || client.starts_with("198.19.")) {
                legit.push(e);
                continue;
            }
            let resp = &e["response"];
            attack.push(AttackEntry {
                url: e["request"]["url"].as_str().unwrap_or("").to_string(),
                status: resp["status"].as_i64().unwrap_or(-2),
                answered: resp["httpVersion"].as_str().is_some_and(|v| !v.is_empty()),
                resp_content: resp["content"]["size"].as_i64().unwrap_or(-2),
                text_len: resp["content"]["text"].as_str().map_or(0, str::len),
                anomalies: e["_anomalies"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
            });
        }
    }
    std::fs::create_dir_all(legit_dir).unwrap();
    let har = serde_json::json!({"log": {"version": "1.2", "entries": legit}});
    std::fs::write(legit_dir.join("legit.har"), har.to_string()).unwrap();
    (read_entries(legit_dir), attack)
}

/// Writes the hostile capture for `cfg`, runs httshark on it with `extra` arguments, and
/// returns the ground truth, the HAR entries and the exit summary's counters.
fn run_hostile(cfg: &HostileConfig, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("hostile.pcap");
    let mut expected = Vec::new();
    let file = std::io::BufWriter::new(std::fs::File::create(&pcap).unwrap());
    let sum = write_hostile(cfg, file, Some(&mut expected)).unwrap();
    let truth: Vec<ExpectedTx> = parse_expected_tsv(std::str::from_utf8(&expected).unwrap())
        .unwrap()
        .into_iter()
        .map(|(tx, _)| tx)
        .collect();
    assert_eq!(truth.len() as u64, sum.legit_transactions);
    assert!(truth.len() >= cfg.legit as usize);
    let out = dir.path().join("out");
    let o = run_file(&pcap, &out, extra);
    let counters = summary_counters(&String::from_utf8_lossy(&o.stderr));
    let (seen, attack) = split_entries(&out, &dir.path().join("legit"));
    Run {
        truth,
        seen,
        attack,
        counters,
    }
}

/// Every legitimate transaction is in the HAR with exactly the ground truth's method, host,
/// target, status, header and body sizes and wire bytes, and no anomaly.
fn assert_legit_exact(r: &Run, what: &str) {
    let map: HashMap<(String, u32), &Seen> = r
        .seen
        .iter()
        .map(|s| ((s.client.clone(), (s.depth - 1) as u32), s))
        .collect();
    let errors: Vec<String> = r
        .truth
        .iter()
        .filter_map(|tx| match map.get(&(client_key(tx), tx.depth)) {
            Some(s) => check_legit(tx, s).err(),
            None => Some(format!(
                "missing: {} {} (client {} depth {})",
                tx.method, tx.uri, tx.client, tx.depth
            )),
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {} of {} legitimate transactions wrong:\n{}",
        errors.len(),
        r.truth.len(),
        errors.join("\n")
    );
}

/// `common::check_exact`, and more: legitimate traffic is always answered and never
/// flagged.
fn check_legit(tx: &ExpectedTx, s: &Seen) -> Result<(), String> {
    if tx.status.is_none() {
        return Err("the legitimate traffic is always answered".into());
    }
    check_exact(tx, s)?;
    if s.anomalies.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {} (client {} depth {}): anomalies: got {:?}, want []",
            tx.method, tx.uri, tx.client, tx.depth, s.anomalies
        ))
    }
}

fn cfg(kind: Kind, scale: u64) -> HostileConfig {
    HostileConfig {
        scale,
        legit: 12,
        ..HostileConfig::new(kind)
    }
}

#[test]
fn syn_flood_beyond_the_connection_limit_evicts_half_open_connections_only() {
    // 1% more half-open connections than the table holds.
    let scale = MAX_CONNECTIONS + MAX_CONNECTIONS / 100;
    let r = run_hostile(&cfg(Kind::SynFlood, scale), &[]);
    assert_legit_exact(&r, "syn-flood");
    let evicted = r.counter("connections_evicted");
    // The least recently active go first: old SYNs, never a live legitimate connection.
    assert!(
        (scale - MAX_CONNECTIONS..=scale - MAX_CONNECTIONS + 12).contains(&evicted),
        "connections_evicted {evicted}"
    );
    assert_eq!(r.counter("connections_opened"), scale + 12);
    assert!(r.attack.is_empty(), "a SYN is not a transaction");
    assert_eq!(r.counter("transactions"), r.truth.len() as u64);
}

#[test]
fn pending_requests_on_many_open_connections_are_all_exported_unanswered() {
    let scale = 3000;
    let r = run_hostile(&cfg(Kind::Pending, scale), &[]);
    assert_legit_exact(&r, "pending");
    assert_eq!(
        r.attack.len() as u64,
        scale,
        "every pending request exported"
    );
    assert!(r.attack.iter().all(|s| !s.answered));
    assert_eq!(r.flagged("unanswered-end-of-capture"), scale);
    assert_eq!(r.counter("unanswered"), scale);
    assert_eq!(r.counter("connections_evicted"), 0);
}

#[test]
fn pending_requests_on_evicted_connections_are_exported_flagged() {
    // 500 more open connections than the table holds (with a budget large enough that
    // only `max_connections` acts): the oldest are evicted and their requests go out at
    // once, flagged; the others at the end of the capture.
    let scale = MAX_CONNECTIONS + 500;
    let r = run_hostile(&cfg(Kind::Pending, scale), &["-memory-limit", "4GiB"]);
    assert_legit_exact(&r, "pending beyond the connection limit");
    let evicted = r.counter("connections_evicted");
    assert!(
        (500..=512).contains(&evicted),
        "connections_evicted {evicted}"
    );
    assert_eq!(r.counter("memory_limit_evictions"), 0);
    assert_eq!(r.attack.len() as u64, scale, "no pending request lost");
    assert_eq!(r.flagged("unanswered-evicted"), evicted);
    assert_eq!(r.flagged("unanswered-end-of-capture"), scale - evicted);
}

#[test]
fn pending_requests_over_the_memory_budget_evict_connections_not_legit_bodies() {
    // 20,000 connections with a request each do not fit the smallest budget (4 MiB per
    // worker): the least recently active are evicted, their requests exported flagged,
    // while the legitimate exchanges interleaved with them stay exact.
    let scale = 20_000;
    let r = run_hostile(&cfg(Kind::Pending, scale), &["-memory-limit", "8MiB"]);
    assert_legit_exact(&r, "pending over the memory budget");
    let evicted = r.counter("memory_limit_evictions");
    assert!(evicted > scale / 2, "memory_limit_evictions {evicted}");
    assert_eq!(r.counter("connections_evicted"), evicted);
    assert_eq!(r.counter("memory_limit_bodies_dropped"), 0);
    assert_eq!(r.attack.len() as u64, scale, "no pending request lost");
    // Half-open connections go first: one evicted between its handshake and its request
    // comes back mid-stream and its request is exported at the end.
    let flagged = r.flagged("unanswered-evicted");
    assert!(
        flagged <= evicted && flagged > evicted * 9 / 10,
        "{flagged} flagged, {evicted} evicted"
    );
    assert_eq!(r.flagged("unanswered-end-of-capture"), scale - flagged);
}

#[test]
fn endless_chunked_body_is_cut_at_the_keep_limit_and_sized_exactly() {
    let scale = 3_000_000;
    let r = run_hostile(
        &cfg(Kind::EndlessChunked, scale),
        &["-max-body-size", "1MiB"],
    );
    assert_legit_exact(&r, "endless-chunked");
    assert_eq!(r.counter("bodies_truncated"), 1);
    assert_eq!(r.attack.len(), 1);
    let s = &r.attack[0];
    assert_eq!(s.status, 200);
    // Sizes stay exact; the text kept stops at the limit.
    assert_eq!(s.resp_content, scale as i64);
    assert!(
        s.text_len > 0 && s.text_len <= 1 << 20,
        "kept {} bytes",
        s.text_len
    );
    for flag in ["body-truncated", "response-interrupted"] {
        assert!(s.flagged(flag), "{:?}", s.anomalies);
    }
}

#[test]
fn huge_header_lines_stop_at_the_head_limit() {
    let r = run_hostile(&cfg(Kind::HugeHeader, 300_000), &[]);
    assert_legit_exact(&r, "huge-header");
    assert_eq!(
        r.counter("head_too_large"),
        2,
        "the request and the response"
    );
    assert_eq!(r.attack.len(), 2);
    assert_eq!(r.flagged("head-too-large"), 2);
}

#[test]
fn pipelined_requests_beyond_the_pending_limit_are_exported_unanswered() {
    let scale = 1000;
    let r = run_hostile(&cfg(Kind::Pipelined, scale), &[]);
    assert_legit_exact(&r, "pipelined");
    assert_eq!(
        r.counter("pending_limit_hits"),
        scale - MAX_PENDING_REQUESTS
    );
    assert_eq!(r.attack.len() as u64, scale, "no request lost");
    let mut urls: Vec<&str> = r.attack.iter().map(|s| s.url.as_str()).collect();
    urls.sort();
    urls.dedup();
    assert_eq!(urls.len() as u64, scale);
    assert_eq!(
        r.flagged("unanswered-pending-limit"),
        scale - MAX_PENDING_REQUESTS
    );
    assert!(r.attack.iter().all(|s| !s.answered));
}

#[test]
fn out_of_order_windows_that_never_fill_are_bounded_per_direction() {
    // Connection 0 sends 16 x 100 kB = 1.6 MB after its hole: over the 1 MiB limit once;
    // the other 19 hold 100 kB each until the capture ends.
    let c = HostileConfig {
        ooo_bytes: 100_000,
        ..cfg(Kind::OooWindow, 20)
    };
    let r = run_hostile(&c, &[]);
    assert_legit_exact(&r, "ooo-window");
    assert_eq!(r.counter("ooo_limit_hits"), 1);
    assert_eq!(r.counter("close_gaps"), 19, "the others' holes, at the end");
    assert_eq!(r.counter("gaps"), 20);
}

#[test]
fn summary_counter_parsing() {
    let c = summary_counters(
        "httshark: packets  12\nhttshark: warning: x 1\nhttshark: ooo_limit_hits  3\nother 4\n",
    );
    assert_eq!(c.len(), 2);
    assert_eq!(c["ooo_limit_hits"], 3);
}
