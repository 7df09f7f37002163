//! Throughput of the pure core, without libpcap or file I/O: the `Worker` the binary runs
//! (decode -> reassembly -> protocol layer -> HTTP -> body selection, default settings,
//! ticks every second of packet time as the capture thread sends them; bytes of capture
//! per second), and transaction -> HAR JSON. The whole-program comparison
//! with a bare libpcap read loop and with tshark is scripts/bench.sh (docs/benchmarks.md).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use std::time::Duration;

use httshark::config::Config;
use httshark::model::Transaction;
use httshark::time::Timestamp;
use httshark::wire::LinkType;
use httshark::worker::{Worker, WorkerConfig};
use httshark_gen::{self as testgen, HttpParams};

/// Runs the core over `packets` as a pipeline worker does, returning the transactions.
fn core(packets: &[testgen::tcp::Packet]) -> Vec<Transaction> {
    let mut worker = Worker::new(WorkerConfig::from_config(
        &Config::default(),
        LinkType::Ethernet,
    ));
    let mut out = Vec::new();
    let mut next_tick = None;
    for (i, p) in packets.iter().enumerate() {
        // The generator has its own Timestamp (same nanoseconds since the epoch).
        let ts = Timestamp(p.ts.as_nanos());
        worker.on_frame(&p.data, i as u64, ts);
        if next_tick.is_none_or(|t| ts >= t) {
            let now = worker.on_tick(ts);
            next_tick = Some(now.floor_to(Duration::from_secs(1)) + Duration::from_secs(1));
        }
        out.append(&mut worker.take_transactions());
    }
    let end = packets
        .last()
        .map(|p| Timestamp(p.ts.as_nanos()))
        .unwrap_or_default();
    worker.finish(end);
    out.append(&mut worker.take_transactions());
    out
}

fn benches(c: &mut Criterion) {
    let mut params = HttpParams::bench(7);
    params.target_bytes = Some(32 << 20);
    let (packets, expected, _) = testgen::generate(&params, None);
    let bytes: u64 = packets.iter().map(|p| p.data.len() as u64).sum();
    assert_eq!(
        core(&packets).len(),
        expected.len(),
        "the core must see every generated transaction"
    );

    let mut g = c.benchmark_group("core");
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function("decode+reassembly+http", |b| b.iter(|| core(&packets)));
    g.finish();

    let txs = core(&packets);
    let json_bytes: u64 = txs
        .iter()
        .map(|t| httshark::har::entry_json(t).len() as u64)
        .sum();
    let mut g = c.benchmark_group("har");
    g.throughput(Throughput::Bytes(json_bytes));
    g.sample_size(10);
    // What the processors run: the view decided, then written as JSON.
    g.bench_function("entry_json", |b| {
        b.iter(|| {
            txs.iter()
                .map(|t| httshark::har::entry_json(t).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(core_benches, benches);
criterion_main!(core_benches);
