//! The `transactions-sizes` processor: exact CSV contents, bucket edges, order
//! independence, the rewrite schedule and output errors.

mod stats_support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use httshark::processor::sizes_stats::{SizesStatsConfig, SizesStatsProcessor};
use httshark::processor::Processor;
use httshark::time::Timestamp;
use stats_support::{golden, ms, shuffled, Tx};

fn config(dir: &Path) -> SizesStatsConfig {
    SizesStatsConfig {
        requests_path: dir.join("requests_sizes.csv"),
        responses_path: dir.join("responses_sizes.csv"),
        interval: Duration::from_secs(10),
    }
}

fn run(dir: &Path, txs: &[httshark::model::Transaction], end: Timestamp) -> (String, String) {
    let cfg = config(dir);
    let mut p = SizesStatsProcessor::new(cfg.clone()).unwrap();
    for tx in txs {
        p.on_transaction(tx).unwrap();
    }
    p.finish(end).unwrap();
    (
        fs::read_to_string(cfg.requests_path).unwrap(),
        fs::read_to_string(cfg.responses_path).unwrap(),
    )
}

#[test]
fn golden_sizes_csv() {
    let dir = tempfile::tempdir().unwrap();
    let (req, resp) = run(dir.path(), &golden(), ms(1_010_000));
    // Requests: 60, 60, 80, 90 B | 200, 250, 300, 400 B.
    assert_eq!(
        req,
        "bucket,lower_bytes,upper_bytes,count,percent
0B,0,1,0,0.000
1B-128B,1,128,4,50.000
128B-512B,128,512,4,50.000
512B-1KiB,512,1024,0,0.000
1KiB-4KiB,1024,4096,0,0.000
4KiB-16KiB,4096,16384,0,0.000
16KiB-64KiB,16384,65536,0,0.000
64KiB-256KiB,65536,262144,0,0.000
256KiB-1MiB,262144,1048576,0,0.000
1MiB-4MiB,1048576,4194304,0,0.000
4MiB-16MiB,4194304,16777216,0,0.000
16MiB-64MiB,16777216,67108864,0,0.000
64MiB-256MiB,67108864,268435456,0,0.000
256MiB-1GiB,268435456,1073741824,0,0.000
>=1GiB,1073741824,,0,0.000
"
    );
    // Responses: 40, 40, 100, 110, 125 (100 Continue head + 201) | 500 | 1000 | unanswered.
    assert_eq!(
        resp,
        "bucket,lower_bytes,upper_bytes,count,percent
0B,0,1,0,0.000
1B-128B,1,128,5,62.500
128B-512B,128,512,1,12.500
512B-1KiB,512,1024,1,12.500
1KiB-4KiB,1024,4096,0,0.000
4KiB-16KiB,4096,16384,0,0.000
16KiB-64KiB,16384,65536,0,0.000
64KiB-256KiB,65536,262144,0,0.000
256KiB-1MiB,262144,1048576,0,0.000
1MiB-4MiB,1048576,4194304,0,0.000
4MiB-16MiB,4194304,16777216,0,0.000
16MiB-64MiB,16777216,67108864,0,0.000
64MiB-256MiB,67108864,268435456,0,0.000
256MiB-1GiB,268435456,1073741824,0,0.000
>=1GiB,1073741824,,0,0.000
no response,,,1,12.500
"
    );
}

#[test]
fn bucket_edges_are_lower_inclusive_upper_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    // (head, body): wire size is their sum.
    let sizes: [(u64, u64); 8] = [
        (0, 0),
        (126, 1),
        (127, 1),
        (128, 0),
        (1023, 0),
        (1023, 1),
        ((1 << 30) - 1, 0),
        (1 << 30, 0),
    ];
    let txs: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, &(head, body))| {
            Tx::new(i as u64, Some("h"), "/", 0, head)
                .req_body(body)
                .resp(200, head, body, 10)
                .build()
        })
        .collect();
    let (req, resp) = run(dir.path(), &txs, ms(1));
    assert_eq!(req, resp.rsplit_once("no response").unwrap().0);
    let count = |label: &str| -> String {
        let line = req
            .lines()
            .find(|l| l.starts_with(&format!("{label},")))
            .unwrap();
        line.split(',').nth(3).unwrap().to_string()
    };
    assert_eq!(count("0B"), "1");
    assert_eq!(count("1B-128B"), "1", "127 B");
    assert_eq!(count("128B-512B"), "2", "127 + 1 B and 128 B");
    assert_eq!(count("512B-1KiB"), "1", "1023 B");
    assert_eq!(count("1KiB-4KiB"), "1", "1023 + 1 B");
    assert_eq!(count("256MiB-1GiB"), "1", "1 GiB - 1");
    assert_eq!(count(">=1GiB"), "1");
    let percent: f64 = req
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((percent - 100.0).abs() < 0.01, "{percent}");
}

#[test]
fn same_transactions_in_another_order_give_identical_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let txs = golden();
    assert_eq!(
        run(a.path(), &txs, ms(1_010_000)),
        run(b.path(), &shuffled(&txs), ms(1_010_000))
    );
}

#[test]
fn rewritten_on_tick_only_when_interval_passed_and_at_finish() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let mut p = SizesStatsProcessor::new(cfg.clone()).unwrap();
    p.on_tick(ms(5_000)).unwrap();
    // Completes at 12 s, after the watermark of the tick at 10 s.
    p.on_transaction(
        &Tx::new(1, Some("h"), "/", 11_000_000, 100)
            .resp(200, 100, 0, 1_000_000)
            .build(),
    )
    .unwrap();
    p.on_tick(ms(9_999)).unwrap();
    assert!(!cfg.requests_path.exists() && !cfg.responses_path.exists());
    p.on_tick(ms(10_000)).unwrap();
    let req = fs::read_to_string(&cfg.requests_path).unwrap();
    assert!(
        req.contains("\n1B-128B,1,128,0,\n"),
        "not yet completed: {req}"
    );
    assert!(cfg.responses_path.exists());
    fs::remove_file(&cfg.requests_path).unwrap();
    p.on_tick(ms(19_000)).unwrap();
    assert!(!cfg.requests_path.exists(), "same interval: not rewritten");
    p.on_tick(ms(20_000)).unwrap();
    let req = fs::read_to_string(&cfg.requests_path).unwrap();
    assert!(req.contains("\n1B-128B,1,128,1,100.000\n"), "{req}");
    fs::remove_file(&cfg.requests_path).unwrap();
    p.finish(ms(20_500)).unwrap();
    assert!(cfg.requests_path.exists(), "written at finish");
    assert_eq!(p.counters().sizes_stats_writes, 3);
    assert_eq!(p.counters().sizes_stats_transactions, 1);
}

#[test]
fn unwritable_paths_fail_at_construction() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regular-file");
    fs::write(&file, "x").unwrap();
    let bad = SizesStatsConfig {
        responses_path: file.join("responses_sizes.csv"),
        ..config(dir.path())
    };
    let err = SizesStatsProcessor::new(bad)
        .err()
        .expect("under a regular file");
    assert_eq!(err.processor, "transactions-sizes");
    assert!(err.message.contains("regular-file"), "{err}");
    let same = SizesStatsConfig {
        responses_path: dir.path().join("requests_sizes.csv"),
        ..config(dir.path())
    };
    assert!(
        SizesStatsProcessor::new(same).is_err(),
        "one file for both tables"
    );
    let zero = SizesStatsConfig {
        interval: Duration::ZERO,
        ..config(dir.path())
    };
    assert!(SizesStatsProcessor::new(zero).is_err());
}

#[test]
fn empty_capture_writes_zero_rows_with_empty_percent() {
    let dir = tempfile::tempdir().unwrap();
    let (req, resp) = run(dir.path(), &[], ms(1));
    assert!(req.contains("\n0B,0,1,0,\n"), "{req}");
    assert!(resp.ends_with("\nno response,,,0,\n"), "{resp}");
}
