//! `-overload`: outputs slower than the capture. With `drop-bodies` a worker drops the
//! bytes of the largest bodies rather than wait: every transaction still arrives, with
//! every size exact, flagged; with `wait`, and with `auto` on a file, nothing is dropped.
//! The slow output is a processor that sleeps on every transaction.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use httshark::model::{Anomaly, Transaction};
use httshark::processor::{Processor, ProcessorError};
use httshark::time::Timestamp;
use httshark_gen::http::Sizes;
use httshark_gen::{self as testgen, HttpParams, LinkKind, PcapWriter, TsResolution};

/// What the slow processor saw of one transaction, keyed by (connection, depth).
#[derive(Clone, Debug, PartialEq)]
struct Seen {
    wire_bytes: u64,
    /// (len, wire_len, kept bytes, dropped) of the request and the response body.
    bodies: [(u64, u64, usize, bool); 2],
    outputs_behind: bool,
}

struct Slow {
    delay: Duration,
    seen: Arc<Mutex<BTreeMap<(u64, u32), Seen>>>,
}

impl Processor for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        std::thread::sleep(self.delay);
        let body = |b: &httshark::model::Body| (b.len, b.wire_len, b.data.len(), b.dropped);
        let resp = tx.response.as_ref().map(|r| body(&r.body));
        let seen = Seen {
            wire_bytes: tx.wire_bytes(),
            bodies: [body(&tx.request.body), resp.unwrap_or_default()],
            outputs_behind: tx.anomalies.contains(&Anomaly::OutputsBehind),
        };
        self.seen
            .lock()
            .unwrap()
            .insert((tx.conn.id, tx.depth), seen);
        Ok(())
    }

    fn on_tick(&mut self, _: Timestamp) -> Result<(), ProcessorError> {
        Ok(())
    }

    fn finish(&mut self, _: Timestamp) -> Result<(), ProcessorError> {
        Ok(())
    }
}

/// A capture of ~120 transactions with 40-160 KB response bodies: far more than the
/// 1 MiB in flight that `-memory-limit 8MiB` allows.
fn capture(dir: &std::path::Path) -> std::path::PathBuf {
    let mut params = HttpParams::mixed(7);
    params.connections = Some(24);
    params.tx_per_conn = (4, 6);
    params.resp_body = Sizes {
        zero_share: 0.0,
        min: 40_000,
        max: 160_000,
    };
    params.midstream_share = 0.0;
    params.rst_share = 0.0;
    params.open_share = 0.0;
    let (packets, truth, _) = testgen::generate(&params, None);
    assert!(truth.len() >= 100, "{} transactions", truth.len());
    let path = dir.join("bodies.pcap");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut w = PcapWriter::new(file, LinkKind::Ethernet, TsResolution::Nano, None).unwrap();
    for p in &packets {
        w.write_packet_with_orig_len(p.ts, &p.data, p.orig_len)
            .unwrap();
    }
    w.into_inner().unwrap();
    path
}

/// What a run saw: each transaction, the run's `outputs_behind_bodies_dropped`, and the
/// text of its HAR files.
type Run = (BTreeMap<(u64, u32), Seen>, u64, String);

/// Runs the pipeline on `pcap` with the slow processor and `flags` (HAR files too).
fn run(pcap: &std::path::Path, flags: &[&str], delay: Duration) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec!["httshark".into(), "-file".into()];
    args.push(pcap.to_str().unwrap().into());
    args.extend(
        [
            "-hosts=",
            "-memory-limit",
            "8MiB",
            "-har-processors",
            "file,sites-stats",
            "-output-folder",
        ]
        .map(String::from),
    );
    args.push(dir.path().to_str().unwrap().into());
    args.extend(flags.iter().map(|f| f.to_string()));
    let config = httshark::cli::prepare(args).unwrap().config;
    let mut outputs = httshark::processor::build(
        &config.processors,
        config.memory_shares().held(),
        true,
        config.har.as_deref(),
    )
    .unwrap();
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    outputs.processors.push(Box::new(Slow {
        delay,
        seen: Arc::clone(&seen),
    }));
    let source = httshark::capture::PacketSource::open(&config).unwrap();
    let summary = httshark::pipeline::run_until(
        &config,
        source,
        outputs,
        httshark::pipeline::Keys::load(&config).unwrap(),
        &AtomicBool::new(false),
    )
    .unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(summary.get("transactions"), seen.len() as u64);
    let mut har = String::new();
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|e| e == "har") {
            har.push_str(&std::fs::read_to_string(path).unwrap());
        }
    }
    (seen, summary.get("outputs_behind_bodies_dropped"), har)
}

#[test]
fn behind_outputs_drop_body_bytes_not_transactions_and_a_replay_waits() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = capture(dir.path());
    let reference = |flags: &[&str]| run(&pcap, flags, Duration::ZERO);
    let (all, none, har_all) = reference(&["-overload", "wait"]);
    assert!(!har_all.contains("body-dropped-outputs-behind"));
    assert_eq!(none, 0);
    assert!(all.values().all(|s| !s.outputs_behind));
    let with_bodies = all.values().filter(|s| s.bodies[1].2 > 0).count();
    assert!(
        with_bodies * 10 >= all.len() * 8,
        "{with_bodies} of {} kept a body",
        all.len()
    );

    let slow = Duration::from_millis(3);
    // A file waits by default: the slow output changes nothing.
    let (waited, dropped, _) = run(&pcap, &[], slow);
    assert_eq!(dropped, 0);
    assert_eq!(waited, all, "-overload auto on a file waits");

    let (shed, dropped, har) = run(&pcap, &["-overload", "drop-bodies"], slow);
    assert_eq!(
        shed.keys().collect::<Vec<_>>(),
        all.keys().collect::<Vec<_>>(),
        "every transaction is still there"
    );
    let flagged = shed.values().filter(|s| s.outputs_behind).count() as u64;
    // Bodies dropped here and not by the content-type policy (-drop-content-type).
    let bodies_dropped: u64 = shed
        .iter()
        .flat_map(|(k, s)| s.bodies.iter().zip(&all[k].bodies))
        .filter(|(b, r)| b.3 && !r.3)
        .count() as u64;
    assert!(flagged > 0, "a 3 ms output is behind this capture");
    assert_eq!(bodies_dropped, dropped, "each dropped body is counted");
    assert!(flagged <= dropped);
    // The HAR entries say so, each once, and leave the text out.
    assert_eq!(
        har.matches("\"body-dropped-outputs-behind\"").count() as u64,
        flagged
    );
    let marked = |h: &str| {
        h.matches("\"_requestBodyDropped\":true").count()
            + h.matches("\"_responseBodyDropped\":true").count()
    };
    assert_eq!((marked(&har) - marked(&har_all)) as u64, dropped);
    assert!(
        flagged < all.len() as u64,
        "only what does not fit is dropped: {flagged} of {}",
        all.len()
    );
    for (key, s) in &shed {
        let a = &all[key];
        assert_eq!(s.wire_bytes, a.wire_bytes, "{key:?}: sizes are exact");
        for (b, r) in s.bodies.iter().zip(&a.bodies) {
            assert_eq!((b.0, b.1), (r.0, r.1), "{key:?}: body sizes are exact");
            if b.3 && !r.3 {
                assert!(s.outputs_behind, "{key:?}: a dropped body is flagged");
                assert_eq!(b.2, 0, "{key:?}: its bytes are gone");
            } else {
                assert_eq!(b.2, r.2, "{key:?}: a kept body is whole");
            }
        }
        if !s.outputs_behind {
            assert_eq!(s, a, "{key:?}: untouched");
        }
    }
}
