//! Throughput of the pure core, without libpcap or file I/O: decode -> reassembly -> HTTP
//! (bytes of capture per second), and transaction -> HAR JSON. The whole-program comparison
//! with a bare libpcap read loop and with tshark is scripts/bench.sh (docs/benchmarks.md).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use httshark::hosts::ServerSet;
use httshark::http::{HttpCtx, HttpFactory, HttpLimits};
use httshark::model::Transaction;
use httshark::reassembly::{ConnTable, ReassemblyLimits};
use httshark::testgen::{self, HttpParams};
use httshark::time::MonotonicClock;
use httshark::wire::{self, Decoded, LinkType};

/// Runs the core over `packets`, returning the transactions.
fn core(packets: &[testgen::tcp::Packet]) -> Vec<Transaction> {
    let mut table = ConnTable::new(
        HttpFactory,
        ServerSet::parse(":80").unwrap(),
        ReassemblyLimits::default(),
    );
    let mut ctx = HttpCtx::new(HttpLimits::default());
    let mut clock = MonotonicClock::default();
    let mut out = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        let now = clock.advance(p.ts);
        if let Ok(Decoded::Tcp(seg)) = wire::decode(LinkType::Ethernet, &p.data) {
            table.on_segment(&mut ctx, &seg, i as u64, p.ts, now);
        }
        out.append(&mut ctx.out);
    }
    table.close_all(&mut ctx, clock.now().unwrap_or_default());
    out.append(&mut ctx.out);
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
