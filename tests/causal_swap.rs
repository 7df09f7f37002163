//! Issue 9, item 2: packets captured out of causal order. A seeded swap of two packets
//! within a window of N (SYN, SYN-ACK, FIN and RST included; each keeps its own timestamp,
//! as a multi-queue NIC stamps them) gives exactly the transactions of the in-order capture,
//! for N up to 6 over many seeds. Drives the `Worker`, the core the binary runs.

use std::time::Duration;

use httshark::config::Config;
use httshark::model::Transaction;
use httshark::reassembly::CAUSAL_WINDOW;
use httshark::time::Timestamp;
use httshark::wire::LinkType;
use httshark::worker::{Frame, Worker, WorkerConfig, WorkerCounters};
use httshark_gen::{self as testgen, rng::Rng, FaultSpec, HttpParams, Packet};

/// Runs `packets` in the given (capture) order through a worker with the binary's defaults;
/// the transactions in a canonical order (output order may follow processing order).
fn run(packets: &[Packet]) -> (Vec<String>, WorkerCounters) {
    run_with(packets, CAUSAL_WINDOW)
}

/// `run` with a causal window of `window` segments (0: off).
fn run_with(packets: &[Packet], window: usize) -> (Vec<String>, WorkerCounters) {
    let ts = |p: &Packet| Timestamp(p.ts.as_nanos());
    let mut config = WorkerConfig::from_config(&Config::default(), LinkType::Ethernet);
    config.reassembly.causal_window = window;
    let mut w = Worker::new(config);
    let mut txs: Vec<Transaction> = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        w.on_frame(&p.data, i as u64, ts(p));
        w.on_tick(ts(p));
        txs.extend(w.take_transactions());
    }
    let end = packets.iter().map(ts).max().unwrap_or_default();
    w.finish(end + Duration::from_secs(1));
    txs.extend(w.take_transactions());
    assert_eq!(w.open_connections(), 0);
    (canonical(txs), w.counters())
}

/// The transactions in a canonical order (output order may follow processing order). A
/// connection's id is the capture position of its first packet: a swap with another
/// connection's packet moves it, and nothing can undo that. Everything else must match.
fn canonical(mut txs: Vec<Transaction>) -> Vec<String> {
    let mut out: Vec<String> = txs
        .iter_mut()
        .map(|t| {
            t.conn.id = 0;
            format!("{t:?}")
        })
        .collect();
    out.sort();
    out
}

fn first_difference(a: &[String], b: &[String]) -> String {
    let only_a: Vec<&String> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_b: Vec<&String> = b.iter().filter(|x| !a.contains(x)).collect();
    format!(
        "{} only in clean, {} only in swapped\nclean: {:.1500}\nswapped: {:.1500}",
        only_a.len(),
        only_b.len(),
        only_a.first().map_or("-", |s| s.as_str()),
        only_b.first().map_or("-", |s| s.as_str())
    )
}

fn check(seed: u64, window: usize, p: f64) -> u64 {
    let mut params = HttpParams::mixed(seed);
    params.connections = Some(40);
    let (clean, truth, _) = testgen::generate(&params, None);
    let spec = FaultSpec::parse(&format!("swap={p},swap_window={window}")).unwrap();
    let (swapped, report) =
        testgen::faults::apply(&spec, &mut Rng::new(seed ^ 0x5a9), clean.clone());
    assert_eq!(swapped.len(), clean.len());
    let (a, _) = run(&clean);
    let (b, counters) = run(&swapped);
    assert!(
        a.len() >= truth.len() / 2,
        "seed {seed}: clean run has transactions"
    );
    assert!(
        a == b,
        "seed {seed}, window {window}: {} swaps changed the output: {}",
        report.swapped,
        first_difference(&a, &b)
    );
    assert_eq!(counters.reassembly.causal_window_late, 0, "seed {seed}");
    assert_eq!(counters.reassembly.causal_window_forced, 0, "seed {seed}");
    assert!(
        report.swapped < 10 || counters.reassembly.causal_reorders > 0,
        "seed {seed}: the window reordered"
    );
    report.swapped
}

#[test]
fn swaps_within_a_window_of_up_to_6_give_the_in_order_output() {
    let mut swaps = 0;
    for window in 2..=6 {
        for seed in 1..=12 {
            swaps += check(seed * 31 + window as u64, window, 0.15);
        }
    }
    assert!(swaps > 1000, "the faults did swap ({swaps})");
}

#[test]
fn every_packet_swapped_within_6_gives_the_in_order_output() {
    for seed in 100..106 {
        check(seed, 6, 1.0);
    }
}

/// The test above can fail: without the window (as before issue 9), the same swaps change
/// transactions (unanswered requests, orphan responses, other times).
#[test]
fn without_the_causal_window_the_swaps_change_the_output() {
    let (mut changed, mut total) = (0, 0);
    for seed in 1..=6u64 {
        let mut params = HttpParams::mixed(seed);
        params.connections = Some(40);
        let (clean, _, _) = testgen::generate(&params, None);
        let spec = FaultSpec::parse("swap=0.15,swap_window=6").unwrap();
        let (swapped, _) =
            testgen::faults::apply(&spec, &mut Rng::new(seed ^ 0x5a9), clean.clone());
        let (a, _) = run_with(&clean, 0);
        let (b, _) = run_with(&swapped, 0);
        total += a.len();
        changed += a.iter().filter(|x| !b.contains(x)).count();
    }
    eprintln!("without the window: {changed} of {total} transactions changed");
    assert!(changed > 0);
}

/// `run` through `Worker::on_batch`: frames stored in batches of `sizes` frames in turn,
/// each after a 16-byte record header as in a chunk of a pcap file (the window holds
/// segments by their place in the batch, copying only what it still holds when a batch
/// ends), a tick after each batch as the pipeline does.
fn run_batched(packets: &[Packet], sizes: &[usize]) -> (Vec<String>, WorkerCounters) {
    let ts = |p: &Packet| Timestamp(p.ts.as_nanos());
    let mut w = Worker::new(WorkerConfig::from_config(
        &Config::default(),
        LinkType::Ethernet,
    ));
    let mut txs: Vec<Transaction> = Vec::new();
    let (mut at, mut turn) = (0usize, 0usize);
    let mut data = Vec::new();
    let mut frames = Vec::new();
    while at < packets.len() {
        let n = sizes[turn % sizes.len()].min(packets.len() - at);
        turn += 1;
        data.clear();
        frames.clear();
        for (i, p) in packets[at..at + n].iter().enumerate() {
            data.extend_from_slice(&[0xab; 16]);
            let start = data.len();
            data.extend_from_slice(&p.data);
            frames.push(Frame {
                index: (at + i) as u64,
                ts: ts(p),
                start,
                end: data.len(),
            });
        }
        w.on_batch(&data, &frames);
        // The bytes of a finished batch are overwritten: nothing may still point in them.
        data.iter_mut().for_each(|b| *b = 0xee);
        w.on_tick(ts(&packets[at + n - 1]));
        txs.extend(w.take_transactions());
        at += n;
    }
    let end = packets.iter().map(ts).max().unwrap_or_default();
    w.finish(end + Duration::from_secs(1));
    txs.extend(w.take_transactions());
    (canonical(txs), w.counters())
}

#[test]
fn frames_in_batches_give_what_frames_one_by_one_give() {
    for seed in 0..6u64 {
        let mut params = HttpParams::mixed(seed);
        params.connections = Some(30);
        let (clean, _, _) = testgen::generate(&params, None);
        let spec = FaultSpec::parse("swap=0.2,swap_window=6").unwrap();
        let (swapped, _) = testgen::faults::apply(&spec, &mut Rng::new(seed), clean);
        let one = run(&swapped);
        for sizes in [&[1usize][..], &[7, 1, 512, 3], &[100_000]] {
            let batched = run_batched(&swapped, sizes);
            assert!(
                one.0 == batched.0,
                "seed {seed}, batches {sizes:?}: {}",
                first_difference(&one.0, &batched.0)
            );
            assert_eq!(one.1, batched.1, "seed {seed}, batches {sizes:?}: counters");
        }
    }
}
