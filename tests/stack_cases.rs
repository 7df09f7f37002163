//! Issue 9, item 5, as captures through the binary: each TCP stack behaviour of
//! `httshark_gen::stack` (Fast Open, keep-alive and zero-window probes, simultaneous open,
//! a SYN retried with a new ISN, an overlapping retransmission whose bytes differ) is
//! written as a pcap with its ground truth, httshark reads it, and the HAR entries and the
//! exit summary's counters must equal the truth: the exact transactions, the case's own
//! counter, no retransmission (but the case's own), overlap, gap, pickup or second
//! connection, and the `overlap-conflict` flag on exactly the transaction whose bytes had
//! two copies (with the first copy's bytes, the documented policy), whether the second
//! copy came while the first was buffered or after it was delivered.

mod common;

use std::collections::HashMap;

use common::*;
use httshark_gen::stack::{self, Case, CaseCapture};
use httshark_gen::{parse_expected_tsv, ExpectedTx};

struct Run {
    cap: CaseCapture,
    /// The ground truth as written to the `.expected.tsv` file and read back.
    truth: Vec<ExpectedTx>,
    seen: Vec<Seen>,
    counters: HashMap<String, u64>,
}

fn run_case(case: Case, seed: u64, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join(format!("{}.pcap", case.as_str()));
    let mut tsv = Vec::new();
    let file = std::io::BufWriter::new(std::fs::File::create(&pcap).unwrap());
    let cap = stack::write_case(case, seed, file, &mut tsv).unwrap();
    let truth: Vec<ExpectedTx> = parse_expected_tsv(std::str::from_utf8(&tsv).unwrap())
        .unwrap()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    let out = dir.path().join("out");
    let o = run_file(&pcap, &out, extra);
    let stderr = String::from_utf8_lossy(&o.stderr);
    Run {
        cap,
        truth,
        seen: read_entries(&out),
        counters: summary_counters(&stderr),
    }
}

impl Run {
    fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

/// Everything the truth says, for one case and seed.
fn check(case: Case, seed: u64, extra: &[&str]) {
    let r = run_case(case, seed, extra);
    let name = format!("{} (seed {seed}, {extra:?})", case.as_str());
    assert_eq!(r.truth.len(), r.cap.txs.len(), "{name}: TSV round trip");
    assert_eq!(
        r.seen.len(),
        r.truth.len(),
        "{name}: entries {:?}",
        r.seen
            .iter()
            .map(|s| (&s.method, &s.target, s.status, &s.anomalies))
            .collect::<Vec<_>>()
    );
    for (i, (tx, seen)) in r.truth.iter().zip(&r.seen).enumerate() {
        if let Err(e) = check_exact(tx, seen) {
            panic!("{name}: transaction {i}: {e}");
        }
        assert_eq!(seen.client, client_key(tx), "{name}: client of {i}");
        let want: Vec<String> = if r.cap.truth.conflicted.contains(&i) {
            vec!["overlap-conflict".to_string()]
        } else {
            Vec::new()
        };
        assert_eq!(seen.anomalies, want, "{name}: anomalies of transaction {i}");
        assert_eq!(seen.depth, i as i64 + 1, "{name}: depth of {i}");
    }
    let t = &r.cap.truth;
    let expect = [
        ("keepalive_probes", t.keepalive_probes),
        ("zero_window_probes", t.zero_window_probes),
        ("simultaneous_opens", t.simultaneous_opens),
        ("syn_isn_changes", t.syn_isn_changes),
        ("overlap_conflicts", t.overlap_conflicts),
        ("overlap_conflicts_delivered", t.overlap_conflicts_delivered),
        ("overlap_conflict_bytes", t.overlap_conflict_bytes),
        ("overlap_conflict_messages", t.conflicted.len() as u64),
        ("connections_opened", 1),
        ("connections_fin_closed", 1),
        ("connections_reused", 0),
        ("midstream_pickups", 0),
        ("retransmitted_segments", t.retransmitted_segments),
        ("overlapping_segments", t.overlapping_segments),
        ("gaps", 0),
        ("data_after_fin", 0),
        ("out_of_window_segments", 0),
    ];
    for (counter, want) in expect {
        assert_eq!(r.counter(counter), want, "{name}: counter {counter}");
    }
}

#[test]
fn tcp_fast_open_data_on_the_syn_is_the_first_request() {
    check(Case::FastOpen, 1, &[]);
}

#[test]
fn keepalive_probes_are_neither_data_nor_retransmissions() {
    check(Case::KeepAlive, 1, &[]);
}

#[test]
fn zero_window_probes_are_neither_data_nor_retransmissions() {
    check(Case::ZeroWindow, 1, &[]);
}

#[test]
fn a_simultaneous_open_is_one_connection() {
    check(Case::SimultaneousOpen, 1, &[]);
}

#[test]
fn a_syn_retried_with_a_new_isn_is_one_connection() {
    check(Case::SynNewIsn, 1, &[]);
}

/// The retransmission's copy shows another request target (same length): the first copy
/// captured is kept (the entry's target is the truth's, checked by `check_exact`), and
/// only that request is flagged.
#[test]
fn an_overlapping_retransmission_with_other_bytes_keeps_the_first_copy_and_is_flagged() {
    check(Case::OverlapConflict, 1, &[]);
}

/// The second request is delivered whole, then retransmitted with another target before
/// the server's ACK: compared with the retained copy, flagged, the first copy kept.
#[test]
fn a_retransmission_of_delivered_bytes_with_other_bytes_is_flagged() {
    check(Case::RexmitAfterDelivery, 1, &[]);
}

/// Every case over several seeds (ports, ISNs across the 2^32 wrap, start times), with one
/// worker and with several (the connection must not depend on which worker sees it).
#[test]
fn every_case_over_seeds_and_workers() {
    for case in Case::ALL {
        for seed in 2..=4 {
            check(case, seed, &[]);
        }
        check(case, 5, &["-workers", "3"]);
    }
}
