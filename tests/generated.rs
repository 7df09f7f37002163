//! Whole pipeline on captures made by the project's generator, against its ground truth:
//! every transaction the generated clients and servers exchanged, with exact sizes; the
//! same under reordering and duplication; and, with packets lost, every transaction whose
//! packets all survived is still exact.

mod common;

use std::collections::HashMap;
use std::path::Path;

use common::*;
use httshark_gen::{
    self as testgen, rng::Rng, ExpectedTx, FaultReport, FaultSpec, HttpParams, LinkKind, Packet,
    PcapWriter, TsResolution,
};

fn write_pcap(path: &Path, packets: &[Packet]) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = PcapWriter::new(file, LinkKind::Ethernet, TsResolution::Nano, None).unwrap();
    for p in packets {
        w.write_packet_with_orig_len(p.ts, &p.data, p.orig_len)
            .unwrap();
    }
    w.into_inner().unwrap();
}

/// Entries keyed by (client address, 0-based depth), as the ground truth numbers them.
fn by_client_depth(seen: &[Seen]) -> HashMap<(String, u32), Seen> {
    seen.iter()
        .map(|s| ((s.client.clone(), (s.depth - 1) as u32), s.clone()))
        .collect()
}

#[test]
fn generated_fixture_matches_its_ground_truth() {
    let truth = testgen::parse_expected_tsv(
        &std::fs::read_to_string(repo().join("fixtures/generated-small.expected.tsv")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    run_file(
        &repo().join("fixtures/generated-small.pcap"),
        dir.path(),
        &[],
    );
    let seen = read_entries(dir.path());
    let map = by_client_depth(&seen);
    let errors: Vec<String> = truth
        .iter()
        .filter_map(|(tx, _)| match map.get(&(client_key(tx), tx.depth)) {
            Some(s) => check_exact(tx, s).err(),
            None => Some(format!(
                "missing: {} {} (client {} depth {})",
                tx.method, tx.uri, tx.client, tx.depth
            )),
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{} of {} wrong:\n{}",
        errors.len(),
        truth.len(),
        errors.join("\n")
    );
    assert_eq!(seen.len(), truth.len(), "no extra entries");
    validate_har_dir(dir.path());
}

/// Generates a mixed capture, applies `faults` (if any), runs httshark, and returns the
/// ground truth with its `intact` flags and what httshark saw.
fn run_generated(seed: u64, faults: Option<&str>) -> (Vec<(ExpectedTx, bool)>, Vec<Seen>) {
    let mut params = HttpParams::mixed(seed);
    params.connections = Some(60);
    let (packets, truth, _) = testgen::generate(&params, None);
    let (packets, intact): (Vec<Packet>, Vec<bool>) = match faults {
        None => (packets, vec![true; truth.len()]),
        Some(spec) => {
            let spec = FaultSpec::parse(spec).unwrap();
            let mut rng = Rng::new(seed ^ 0x5eed);
            let (p, report) = testgen::faults::apply(&spec, &mut rng, packets);
            let intact = truth.iter().map(|t| report.tx_intact(t)).collect();
            (p, intact)
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("gen.pcap");
    write_pcap(&pcap, &packets);
    let out = dir.path().join("out");
    run_file(&pcap, &out, &[]);
    (truth.into_iter().zip(intact).collect(), read_entries(&out))
}

#[test]
fn mixed_traffic_is_exact_and_so_is_its_reordered_duplicated_copy() {
    for seed in [1, 2, 3] {
        for faults in [None, Some("dup=0.05,reorder=0.1,window=6")] {
            let (truth, seen) = run_generated(seed, faults);
            let map = by_client_depth(&seen);
            let errors: Vec<String> = truth
                .iter()
                .filter_map(|(tx, _)| match map.get(&(client_key(tx), tx.depth)) {
                    Some(s) => check_exact(tx, s).err(),
                    None => Some(format!(
                        "missing: {} {} (client {} depth {})",
                        tx.method, tx.uri, tx.client, tx.depth
                    )),
                })
                .collect();
            assert!(
                errors.is_empty(),
                "seed {seed} faults {faults:?}: {} of {} wrong:\n{}",
                errors.len(),
                truth.len(),
                errors.join("\n")
            );
            assert_eq!(
                seen.len(),
                truth.len(),
                "seed {seed} faults {faults:?}: no extra entries"
            );
        }
    }
}

/// Loss flags: what an entry that lost bytes (or is built around a loss) must carry.
const LOSS_FLAGS: &[&str] = &[
    "request-interrupted",
    "response-interrupted",
    "body-gap",
    "unanswered-timeout",
    "unanswered-connection-closed",
    "unanswered-end-of-capture",
    "request-lost",
    "pairing-uncertain",
];

fn loss_flagged(s: &Seen) -> bool {
    s.anomalies.iter().any(|a| LOSS_FLAGS.contains(&a.as_str()))
}

fn hits(report: &FaultReport, conn: u32, dir: usize, r: std::ops::Range<u64>) -> bool {
    report
        .lost
        .get(&(conn, dir))
        .is_some_and(|v| v.iter().any(|l| l.start < r.end && r.start < l.end))
}

/// What the strict check found on one lossy run.
#[derive(Default)]
struct LossOutcome {
    intact: usize,
    intact_exact: usize,
    damaged: usize,
    damaged_flagged: usize,
    /// Damaged transactions whose request head lost bytes and which are exported only as
    /// the flagged placeholder of a response to a lost request.
    as_placeholder: usize,
    /// Damaged transactions with no trace: request head and final response head both hit.
    absent_both_lost: usize,
    /// Damaged transactions whose request lost every byte from the start of the client's
    /// stream: the capture's view of the connection begins after it, so its response is
    /// an orphan of a mid-stream pickup (counted by `orphan_responses`, not exported).
    before_pickup: usize,
    /// Intact transactions of a pipelined batch in which an earlier request was lost:
    /// every response's ACK covers the whole batch, so which request a response answers
    /// cannot be told; they are exported in order and flagged `pairing-uncertain`.
    uncertain: usize,
    /// Intact transactions of a connection picked up mid-stream (flagged
    /// `midstream-pickup`) whose first request was lost before the pickup, pipelined with
    /// them: nothing seen tells that a request preceded them, and the ACK of the lost
    /// request's response covers them all. Their responses are shifted by one.
    pickup_shifted: usize,
    /// Damaged transactions whose request was lost in a pipelined batch: their response
    /// went to the next request, flagged `pairing-uncertain`.
    absent_shifted: usize,
    /// Exact transactions flagged `pairing-uncertain` all the same (false alarms).
    needless_flags: Vec<String>,
    errors: Vec<String>,
}

/// Runs one lossy capture and checks, per ground-truth transaction:
/// - intact (every byte survived): present (client, method, target, start time) and exact;
/// - damaged with its request head intact: present and loss-flagged;
/// - damaged with its request head hit: the request may not parse, so it may be absent;
///   then, if its final response head survived, a `request-lost` placeholder with that
///   status must be on the client's connection; if both heads were hit, nothing can be
///   shown (counted in `absent_both_lost`);
///
/// Per exported entry: every one is matched to a ground-truth transaction or is a
/// `request-lost` placeholder. No exported entry differs from its ground truth unflagged,
/// except the explicit, counted cases of `LossOutcome::pickup_shifted`.
fn check_lossy(seed: u64, spec: &str) -> LossOutcome {
    let mut params = HttpParams::mixed(seed);
    params.connections = Some(60);
    let (packets, truth, _) = testgen::generate(&params, None);
    let spec = FaultSpec::parse(spec).unwrap();
    let mut rng = Rng::new(seed ^ 0x5eed);
    let (packets, report) = testgen::faults::apply(&spec, &mut rng, packets);
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("gen.pcap");
    write_pcap(&pcap, &packets);
    if let Ok(keep) = std::env::var("LOSSY_KEEP") {
        std::fs::copy(&pcap, format!("{keep}/lossy-{seed}.pcap")).unwrap();
    }
    let out = dir.path().join("out");
    run_file(&pcap, &out, &[]);
    let seen = read_entries(&out);

    if let Ok(debug) = std::env::var("LOSSY_DEBUG") {
        // `LOSSY_DEBUG=seed/client:port`: the ground truth, losses and output of one connection.
        for tx in truth
            .iter()
            .filter(|t| format!("{seed}/{}", client_key(t)) == debug)
        {
            eprintln!(
                "truth d{} {} {} -> {:?} req {:?} head {} resp {:?} interim {} in_flight {} intact {}",
                tx.depth, tx.method, tx.uri, tx.status, tx.req_stream, tx.req_head_len,
                tx.resp_stream, tx.resp_interim_len, tx.in_flight, report.tx_intact(tx)
            );
            if tx.depth == 0 {
                for d in 0..2 {
                    eprintln!("lost dir {d}: {:?}", report.lost.get(&(tx.conn_index, d)));
                }
            }
        }
        for s in seen
            .iter()
            .filter(|s| format!("{seed}/{}", s.client) == debug)
        {
            eprintln!(
                "seen d{} {} {} -> {} {:?}",
                s.depth, s.method, s.target, s.status, s.anomalies
            );
        }
    }
    let placeholder = |s: &Seen| s.anomalies.iter().any(|a| a == "request-lost");
    let mut used = vec![false; seen.len()];
    let mut o = LossOutcome::default();
    // Entries are matched by connection (client address and port), method and target, the
    // first unused one in start order. A request lost whole shifts the depth of the later
    // ones, so depth is not used. Transactions whose request head lost bytes may be absent:
    // they are matched last, from what the others left.
    let head_hit = |tx: &ExpectedTx| {
        let req_head = tx.req_stream.start..tx.req_stream.start + tx.req_head_len;
        hits(&report, tx.conn_index, 0, req_head)
    };
    // A connection with a `pairing-uncertain` entry: its responses were shifted by a lost
    // request; every entry after it in the batch is flagged (uncertain or a loss flag).
    let uncertain_conn = |key: &str| {
        seen.iter()
            .any(|s| s.client == key && s.anomalies.iter().any(|a| a == "pairing-uncertain"))
    };
    let mut pickup_suspects: Vec<(String, String)> = Vec::new();
    let mut lost_before_pickup: Vec<String> = Vec::new();
    let order = truth
        .iter()
        .filter(|tx| !head_hit(tx))
        .chain(truth.iter().filter(|tx| head_hit(tx)));
    for tx in order {
        let intact = report.tx_intact(tx);
        let key = client_key(tx);
        let found = (0..seen.len()).find(|&i| {
            !used[i]
                && !placeholder(&seen[i])
                && seen[i].client == key
                && seen[i].method == tx.method
                && seen[i].target == tx.uri
        });
        if let Some(i) = found {
            used[i] = true;
        }
        let what = format!(
            "{} {} (client {} depth {})",
            tx.method, tx.uri, tx.client, tx.depth
        );
        if intact {
            o.intact += 1;
            match found {
                Some(i) => match check_exact(tx, &seen[i]) {
                    Ok(()) => {
                        o.intact_exact += 1;
                        if seen[i].anomalies.iter().any(|a| a == "pairing-uncertain") {
                            o.needless_flags.push(what.clone());
                        }
                    }
                    Err(_) if uncertain_conn(&key) && loss_flagged(&seen[i]) => o.uncertain += 1,
                    Err(e) if seen[i].anomalies.iter().any(|a| a == "midstream-pickup") => {
                        // Decided once the damaged ones are known (`pickup_shifted`).
                        pickup_suspects.push((key.clone(), e))
                    }
                    Err(e) => o.errors.push(format!("intact, not exact: {e}")),
                },
                None => o.errors.push(format!("intact, missing: {what}")),
            }
            continue;
        }
        o.damaged += 1;
        if let Some(i) = found {
            if loss_flagged(&seen[i]) {
                o.damaged_flagged += 1;
            } else if check_exact(tx, &seen[i]).is_ok() {
                // Lost bytes that did not matter (a retransmitted FIN, ...): exact is fine.
                o.damaged_flagged += 1;
            } else {
                o.errors.push(format!(
                    "damaged, exported wrong without a loss flag: {}",
                    check_exact(tx, &seen[i]).unwrap_err()
                ));
            }
            continue;
        }
        if !head_hit(tx) {
            o.errors
                .push(format!("damaged, missing (request head intact): {what}"));
            continue;
        }
        let c = tx.conn_index;
        let resp_head_at = tx.resp_stream.start + tx.resp_interim_len;
        let resp_head = resp_head_at..resp_head_at + tx.resp_head_len;
        let Some(status) = tx.status.filter(|_| !hits(&report, c, 1, resp_head)) else {
            o.absent_both_lost += 1;
            continue;
        };
        // With pairing-uncertain entries on the connection, the responses were shifted by
        // the lost request: its placeholder holds a neighbour's response.
        let shifted = seen
            .iter()
            .any(|s| s.client == key && s.anomalies.iter().any(|a| a == "pairing-uncertain"));
        let ph = (0..seen.len())
            .find(|&i| {
                !used[i]
                    && placeholder(&seen[i])
                    && seen[i].client == key
                    && seen[i].status == status as i64
            })
            .or_else(|| {
                (0..seen.len()).find(|&i| {
                    shifted && !used[i] && placeholder(&seen[i]) && seen[i].client == key
                })
            });
        match ph {
            Some(i) => {
                used[i] = true;
                o.as_placeholder += 1;
            }
            // Without a SYN or any earlier client byte, a lost first request is before
            // the reassembler's view of the client's stream.
            None if hits(&report, c, 0, 0..1)
                && report.lost.get(&(c, 0)).is_some_and(|v| {
                    // Every byte from the stream start to the end of this request was lost.
                    let mut v = v.clone();
                    v.sort_by_key(|r| r.start);
                    v.iter()
                        .try_fold(0, |at, r| (r.start <= at).then_some(at.max(r.end)))
                        .is_some_and(|end| end >= tx.req_stream.end)
                }) =>
            {
                o.before_pickup += 1;
                lost_before_pickup.push(key.clone());
            }
            // Pipelined behind an earlier request: its response went, flagged, to the next.
            None if shifted => o.absent_shifted += 1,
            None => o.errors.push(format!(
                "damaged, request lost and no request-lost placeholder with status {status}: \
                 {what}"
            )),
        }
    }
    for (key, e) in pickup_suspects {
        if lost_before_pickup.contains(&key) {
            o.pickup_shifted += 1;
        } else {
            o.errors.push(format!("intact, not exact: {e}"));
        }
    }
    for (i, s) in seen.iter().enumerate() {
        if !used[i] {
            o.errors.push(format!(
                "exported entry matching no transaction: {} {} client {} depth {} status {} {:?}",
                s.method, s.target, s.client, s.depth, s.status, s.anomalies
            ));
        }
    }
    o
}

#[test]
fn with_packet_loss_every_intact_transaction_is_exact() {
    let spec = "drop=0.02,dup=0.02,reorder=0.05,window=4,truncate=0.01";
    let mut damaged = 0;
    let (mut uncertain, mut pickup_shifted, mut absent_shifted) = (0, 0, 0);
    let mut failures = Vec::new();
    for seed in [
        4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
    ] {
        let o = check_lossy(seed, spec);
        eprintln!(
            "seed {seed}: intact {}/{} exact, {} flagged pairing-uncertain, {} shifted at a \
             pickup; damaged {}: {} \
             flagged, {} as request-lost placeholders, {} with both heads lost, {} before \
             the pickup, {} answered to the next; {} errors",
            o.intact_exact,
            o.intact,
            o.uncertain,
            o.pickup_shifted,
            o.damaged,
            o.damaged_flagged,
            o.as_placeholder,
            o.absent_both_lost,
            o.before_pickup,
            o.absent_shifted,
            o.errors.len()
        );
        damaged += o.damaged;
        for w in &o.needless_flags {
            failures.push(format!(
                "seed {seed}: exact but flagged pairing-uncertain: {w}"
            ));
        }
        uncertain += o.uncertain;
        pickup_shifted += o.pickup_shifted;
        absent_shifted += o.absent_shifted;
        for e in o.errors {
            failures.push(format!("seed {seed}: {e}"));
        }
    }
    assert!(damaged > 0, "the faults should damage something");
    // The cases no ACK can decide (see `LossOutcome`), counted so they can only go down:
    // two pipelined batches that lost a request (seeds 6 and 16) and one mid-stream
    // pickup that lost its first, pipelined request (seed 20).
    assert!(
        uncertain <= 5 && absent_shifted <= 1 && pickup_shifted <= 3,
        "undecidable cases grew: {uncertain} pairing-uncertain, {absent_shifted} answered \
         to the next, {pickup_shifted} shifted at a pickup"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
