//! The whole product minus file output, from a classic pcap file: records -> `wire::decode`
//! -> `ConnTable` + `HttpFactory` (default limits, as the binary runs) -> each transaction's
//! HAR entry as the processors write it (`har::entry_json`), checked to give the bytes
//! serde writes for the reference model (`har::reference::entry`). Ticks every second of
//! capture time, as the pipeline's workers do, and `close_all` at the end.
#![no_main]

use std::time::Duration;

use httshark::har;
use httshark::hosts::ServerSet;
use httshark::http::{HttpCtx, HttpFactory, HttpLimits};
use httshark::reassembly::{ConnTable, ReassemblyLimits};
use httshark::time::MonotonicClock;
use httshark::wire::{decode, DecodeCounters, Decoded, LinkType};
use httshark_fuzz::{check_transaction, pcap_file};
use libfuzzer_sys::fuzz_target;

fn export(ctx: &mut HttpCtx) {
    for tx in ctx.out.drain(..) {
        check_transaction(&tx, &ctx.limits);
        let entry = har::reference::entry(&tx);
        let json = har::reference::entry_json_bytes(&entry).expect("a HAR entry serialises");
        assert!(json.starts_with(b"{"));
        // What the processors write: the same bytes, written straight from the transaction.
        assert!(har::entry_json(&tx) == json, "har::entry_json differs from the serde reference");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(file) = pcap_file(data) else {
        return;
    };
    let Some(link) = i32::try_from(file.linktype)
        .ok()
        .and_then(LinkType::from_dlt)
    else {
        return;
    };
    let mut table = ConnTable::new(
        HttpFactory,
        ServerSet::default(),
        ReassemblyLimits {
            // Small enough that inputs of a few hundred KiB run the budget policy.
            memory_budget: 128 << 10,
            ..ReassemblyLimits::default()
        },
    );
    let mut ctx = HttpCtx::new(HttpLimits::default());
    let mut decode_counters = DecodeCounters::default();
    let mut clock = MonotonicClock::default();
    let mut next_check = None;
    for (packet_index, (ts, frame)) in file.enumerate() {
        let now = clock.advance(ts);
        let decoded = decode(link, frame);
        decode_counters.record(&decoded);
        if let Ok(Decoded::Tcp(seg)) = decoded {
            table.on_segment(&mut ctx, &seg, packet_index as u64, ts, now);
        }
        if next_check.is_none_or(|t| now >= t) {
            table.on_tick(&mut ctx, now);
            next_check = Some(now + Duration::from_secs(1));
        }
        export(&mut ctx);
    }
    if let Some(now) = clock.now() {
        table.close_all(&mut ctx, now);
    }
    export(&mut ctx);
    assert_eq!(table.open_connections(), 0);
    assert_eq!(table.memory_used(), 0, "memory budget charge left");
});
