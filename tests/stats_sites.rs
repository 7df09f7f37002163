//! The `sites-stats` processor, driven through the `Processor` trait with hand-built
//! transactions: exact CSV contents, order independence, the cardinality cap, the rewrite
//! schedule and output errors.

mod stats_support;

use std::fs;
use std::path::Path;
use std::time::Duration;

use httshark::processor::sites_stats::{SitesStatsConfig, SitesStatsProcessor, OTHER_SITE};
use httshark::processor::stats::group_by::GroupBy;
use httshark::processor::Processor;
use httshark::time::Timestamp;
use stats_support::{golden, ms, shuffled, us, Tx};

const HEADER: &str = "site,run_seconds,total_bytes,total_transactions,bytes_per_second,\
transactions_per_second,average_transaction_bytes,requests_without_response,request_bytes,\
response_bytes,status_1xx,status_2xx,status_3xx,status_4xx,status_5xx,status_other,\
latency_p50_ms,latency_p95_ms,latency_p99_ms,request_min_bytes,request_max_bytes,\
response_min_bytes,response_max_bytes\n";

fn config(path: &Path) -> SitesStatsConfig {
    SitesStatsConfig {
        path: path.to_path_buf(),
        ..SitesStatsConfig::default()
    }
}

/// Feeds `txs` in the given order, then finishes at `end`; returns the file.
fn run(cfg: SitesStatsConfig, txs: &[httshark::model::Transaction], end: Timestamp) -> String {
    let path = cfg.path.clone();
    let mut p = SitesStatsProcessor::new(cfg).unwrap();
    for tx in txs {
        p.on_transaction(tx).unwrap();
    }
    p.finish(end).unwrap();
    fs::read_to_string(path).unwrap()
}

#[test]
fn golden_sites_csv() {
    let dir = tempfile::tempdir().unwrap();
    let got = run(
        config(&dir.path().join("statistics.csv")),
        &golden(),
        ms(1_010_000),
    );
    // Run time 1000 s .. 1010 s. Worked by hand:
    // - 10.0.0.9:8000: 120 B of requests, 80 B of responses; statuses 200 and 999 (other);
    //   latencies 100 ms and 3 ms: p50 is rank 1 (the minimum), p95/p99 rank 2 (maximum).
    // - api.example.com: 200+300+250 B requests, 1000+500 B responses; p50 rank 1 = 20 ms.
    // - www.example.com:8080: responses 25+100 (interim head counted), 100, 110 B;
    //   latencies 0.5, 1.234, 5 ms: p50 is rank 2, 1234 µs, in bucket [1216, 1247] whose
    //   midpoint 1231 µs is reported (0.24 % off, within the documented 1.6 %).
    let want = format!(
        "{HEADER}\
10.0.0.9:8000,10.000,200,2,20.000,0.200,100.000,0,120,80,0,1,0,0,0,1,3.000,100.000,100.000,60,60,40,40
api.example.com,10.000,2250,3,225.000,0.300,750.000,1,750,1500,0,1,0,1,0,0,20.000,40.500,40.500,200,300,500,1000
www.example.com:8080,10.000,905,3,90.500,0.300,301.667,0,570,335,0,1,1,0,1,0,1.231,5.000,5.000,80,400,100,125
"
    );
    assert_eq!(got, want);
}

#[test]
fn total_bytes_is_wire_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let txs = golden();
    let got = run(config(&dir.path().join("s.csv")), &txs, ms(1_010_000));
    let total: u64 = txs.iter().map(|t| t.wire_bytes()).sum();
    let from_csv: u64 = got
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(from_csv, total);
    assert_eq!(total, 200 + 2250 + 905);
}

#[test]
fn percentiles_over_many_samples_are_within_documented_error() {
    let dir = tempfile::tempdir().unwrap();
    // Latencies 1 ms .. 100 ms, one per transaction, fed in a scrambled order.
    let txs: Vec<_> = (1..=100i64)
        .map(|i| {
            let k = (i * 37) % 100 + 1;
            Tx::new(k as u64, Some("h"), "/", 1_000_000 * k, 100)
                .resp(200, 100, 0, k * 1000)
                .build()
        })
        .collect();
    let got = run(config(&dir.path().join("s.csv")), &txs, ms(200_000));
    let row: Vec<&str> = got.lines().nth(1).unwrap().split(',').collect();
    // Nearest rank: p50 = 50 ms, p95 = 95 ms, p99 = 99 ms, reported as bucket midpoints.
    assert_eq!(&row[16..19], ["49.663", "95.231", "99.327"]);
    for (got, exact) in row[16..19].iter().zip([50.0, 95.0, 99.0]) {
        let got: f64 = got.parse().unwrap();
        assert!(
            (got - exact).abs() / exact <= 1.0 / 64.0,
            "{got} vs {exact}"
        );
    }
}

#[test]
fn same_transactions_in_another_order_give_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let txs = golden();
    let a = run(config(&dir.path().join("a.csv")), &txs, ms(1_010_000));
    let b = run(
        config(&dir.path().join("b.csv")),
        &shuffled(&txs),
        ms(1_010_000),
    );
    assert_eq!(a, b);
    // Also with ticks interleaved and a cap that sends a site to "(other)". Each order
    // keeps the watermark contract (every transaction completed by a tick's `now` arrives
    // before the tick) but delivers some later ones early: what each snapshot holds, and
    // which sites get rows, depends on `completed_at`, not on arrival order.
    // Completion times (s): a1 1000.02, a2 1001.04, a3 1009, b1 1003.005, b2 1004.001,
    // b3 1005.0005, c1 1006.1, c2 1007.003.
    let capped = |name: &str, phases: &[(&[usize], i64)]| {
        let path = dir.path().join(name);
        let mut p = SitesStatsProcessor::new(SitesStatsConfig {
            max_sites: 2,
            interval: Duration::from_secs(1),
            ..config(&path)
        })
        .unwrap();
        p.on_tick(ms(1_000_000)).unwrap();
        let mut snapshots = Vec::new();
        for (batch, tick_ms) in phases {
            for &i in *batch {
                p.on_transaction(&txs[i]).unwrap();
            }
            p.on_tick(ms(*tick_ms)).unwrap();
            snapshots.push(fs::read_to_string(&path).unwrap());
        }
        p.finish(ms(1_010_000)).unwrap();
        snapshots.push(fs::read_to_string(&path).unwrap());
        snapshots
    };
    let x = capped(
        "x.csv",
        &[(&[0, 1, 2, 3], 1_003_500), (&[4, 5, 6, 7], 1_006_500)],
    );
    let y = capped(
        "y.csv",
        &[(&[5, 3, 2, 0, 1], 1_003_500), (&[7, 4, 6], 1_006_500)],
    );
    assert_eq!(x, y);
    assert!(
        !x[0].contains("10.0.0.9"),
        "c1, c2 not completed at 1003.5 s: {}",
        x[0]
    );
    assert!(!x[0].contains("www.example.com:8080,10.000"));
    let last = &x[2];
    assert!(last.contains("\napi.example.com,"), "{last}");
    assert!(last.contains("\nwww.example.com:8080,"), "{last}");
    assert!(
        last.contains(&format!("\n{OTHER_SITE},10.000,200,2,")),
        "{last}"
    );
    assert!(!last.contains("10.0.0.9"), "{last}");
}

#[test]
fn cardinality_cap_aggregates_into_other_row_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    let mut p = SitesStatsProcessor::new(SitesStatsConfig {
        max_sites: 2,
        ..config(&path)
    })
    .unwrap();
    // Completion order decides which sites get rows: b (t=1), a (t=2), then c and d.
    // Arrival order is different on purpose.
    let txs = [
        Tx::new(3, Some("c"), "/", 3_000_000, 10).resp(200, 10, 0, 1000),
        Tx::new(1, Some("b"), "/", 1_000_000, 10).resp(200, 10, 0, 1000),
        Tx::new(4, Some("d"), "/", 4_000_000, 10).resp(500, 10, 0, 1000),
        Tx::new(2, Some("a"), "/", 2_000_000, 10).resp(200, 10, 0, 1000),
        Tx::new(5, Some("a"), "/", 5_000_000, 10).resp(200, 10, 0, 1000),
        Tx::new(6, Some("d"), "/", 6_000_000, 10),
    ];
    for t in &txs {
        p.on_transaction(&t.build()).unwrap();
    }
    p.finish(ms(10_000)).unwrap();
    let got = fs::read_to_string(&path).unwrap();
    let sites: Vec<&str> = got
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(sites, ["a", "b", OTHER_SITE], "sorted, (other) last");
    let other: Vec<&str> = got.lines().last().unwrap().split(',').collect();
    assert_eq!(other[3], "3", "c, d and d's unanswered request");
    assert_eq!(other[7], "1", "requests without response");
    assert_eq!(other[14], "1", "d's 5xx");
    let c = p.counters();
    assert_eq!(c.sites_stats_overflow_transactions, 3);
    assert_eq!(c.sites_stats_sites, 2);
    assert_eq!(c.sites_stats_transactions, 6);
}

#[test]
fn rewritten_on_tick_only_when_interval_passed_and_at_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    let mut p = SitesStatsProcessor::new(SitesStatsConfig {
        interval: Duration::from_secs(10),
        ..config(&path)
    })
    .unwrap();
    let s = 1_000_000i64; // 1 s in µs
    p.on_transaction(
        &Tx::new(1, Some("a"), "/", 11 * s, 100)
            .resp(200, 50, 0, 1000)
            .build(),
    )
    .unwrap();
    p.on_tick(ms(12_000)).unwrap();
    assert!(!path.exists(), "the first tick only starts the schedule");
    p.on_tick(ms(19_999)).unwrap();
    assert!(!path.exists(), "still in the 10..20 s slot");
    // Completed at 21 s: ahead of the next tick's watermark.
    p.on_transaction(
        &Tx::new(2, Some("b"), "/", 20 * s, 100)
            .resp(200, 50, 0, s)
            .build(),
    )
    .unwrap();
    p.on_tick(ms(20_000)).unwrap();
    let first = fs::read_to_string(&path).unwrap();
    assert!(first.contains("\na,"), "{first}");
    assert!(
        !first.contains("\nb,"),
        "b completed after the watermark: {first}"
    );
    assert_eq!(p.counters().sites_stats_writes, 1);
    fs::remove_file(&path).unwrap();
    p.on_tick(ms(29_999)).unwrap();
    assert!(!path.exists(), "not rewritten within the same interval");
    p.on_tick(ms(30_000)).unwrap();
    let second = fs::read_to_string(&path).unwrap();
    assert!(second.contains("\nb,"), "{second}");
    assert_eq!(p.counters().sites_stats_writes, 2);
    fs::remove_file(&path).unwrap();
    p.finish(ms(31_000)).unwrap();
    assert!(path.exists(), "written at finish");
    assert_eq!(p.counters().sites_stats_writes, 3);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary or probe file left"
    );
}

#[test]
fn empty_capture_writes_header_only() {
    let dir = tempfile::tempdir().unwrap();
    let got = run(config(&dir.path().join("s.csv")), &[], ms(5_000));
    assert_eq!(got, HEADER);
}

#[test]
fn unwritable_path_fails_at_construction() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("regular-file");
    fs::write(&file, "x").unwrap();
    let err = SitesStatsProcessor::new(config(&file.join("statistics.csv")))
        .err()
        .expect("a path under a regular file is not writable");
    assert_eq!(err.processor, "sites-stats");
    assert!(err.to_string().contains("regular-file"), "{err}");
    let err = SitesStatsProcessor::new(config(dir.path()))
        .err()
        .expect("a directory");
    assert!(err.message.contains("directory"), "{err}");
    let zero = SitesStatsConfig {
        interval: Duration::ZERO,
        ..config(&dir.path().join("s.csv"))
    };
    assert!(SitesStatsProcessor::new(zero).is_err(), "zero interval");
    // A missing folder is created.
    let nested = dir.path().join("out/stats/s.csv");
    SitesStatsProcessor::new(config(&nested)).unwrap();
    assert!(nested.parent().unwrap().is_dir());
}

#[test]
fn write_failure_during_run_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    let path = sub.join("s.csv");
    let mut p = SitesStatsProcessor::new(config(&path)).unwrap();
    p.on_transaction(&Tx::new(1, Some("a"), "/", 0, 10).build())
        .unwrap();
    // A regular file where the folder was: it cannot be created again (a removed folder
    // would be).
    fs::remove_dir(&sub).unwrap();
    fs::write(&sub, b"").unwrap();
    let err = p.finish(us(1)).unwrap_err();
    assert!(err.message.contains("s.csv"), "{err}");
}

#[test]
fn a_removed_folder_is_created_again_at_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    let path = sub.join("s.csv");
    let mut p = SitesStatsProcessor::new(config(&path)).unwrap();
    p.on_transaction(&Tx::new(1, Some("a"), "/", 0, 10).build())
        .unwrap();
    fs::remove_dir(&sub).unwrap();
    p.finish(us(1)).unwrap();
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.lines().count() >= 2, "{text}");
}

#[test]
fn site_keys_are_csv_quoted_and_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let long = "x".repeat(300);
    let txs = [
        Tx::new(1, Some("a,\"b\""), "/", 0, 10),
        Tx::new(2, Some(&long), "/", 0, 10),
    ];
    let path = dir.path().join("s.csv");
    let mut p = SitesStatsProcessor::new(config(&path)).unwrap();
    for t in &txs {
        p.on_transaction(&t.build()).unwrap();
    }
    p.finish(ms(1_000)).unwrap();
    assert_eq!(p.counters().sites_stats_keys_truncated, 1);
    let mut r = csv::Reader::from_path(&path).unwrap();
    let sites: Vec<String> = r
        .records()
        .map(|rec| rec.unwrap().get(0).unwrap().to_string())
        .collect();
    assert_eq!(sites, ["a,\"b\"".to_string(), "x".repeat(200)]);
}

#[test]
fn group_by_query_param_accounts_bytes_per_service() {
    // The per-service accounting of the eBPF gist that asked for this feature: requests
    // `GET /x?s=yo` (136 B) and `/x?s=yo2` (137 B), each answered by a 410 B 404.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.csv");
    let mut txs = Vec::new();
    for (i, s) in ["yo", "yo", "yo", "yo2"].iter().enumerate() {
        let req = if *s == "yo" { 136 } else { 137 };
        let t = Tx::new(
            i as u64 + 1,
            Some("localhost:8080"),
            &format!("/x?s={s}"),
            0,
            req,
        )
        .resp(404, 410, 0, 1000);
        txs.push(t.build());
    }
    txs.push(Tx::new(9, Some("localhost:8080"), "/x", 0, 120).build());
    let got = run(
        SitesStatsConfig {
            group_by: GroupBy::parse("query:s").unwrap(),
            ..config(&path)
        },
        &txs,
        ms(2_000),
    );
    let cols = |site: &str| -> Vec<String> {
        let line = got
            .lines()
            .find(|l| l.starts_with(&format!("{site},")))
            .unwrap();
        line.split(',').map(str::to_string).collect()
    };
    // request_bytes (inbound to the service) and response_bytes (outbound from it).
    assert_eq!(&cols("yo")[8..10], ["408", "1230"]);
    assert_eq!(&cols("yo2")[8..10], ["137", "410"]);
    assert_eq!(&cols("(none)")[8..10], ["120", "0"]);
}

/// Keyed by a header's, a query parameter's or the path's values (which can be tokens and
/// credentials), the file is readable by its owner only, like a HAR file; keyed by host,
/// it holds no such value and keeps the umask's mode.
#[cfg(unix)]
#[test]
fn keys_that_can_be_secrets_make_the_file_private() {
    use std::os::unix::fs::PermissionsExt;
    for (spec, private) in [
        ("host", false),
        ("header:Authorization", true),
        ("query:token", true),
        ("path-prefix:2", true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("statistics.csv");
        run(
            SitesStatsConfig {
                group_by: GroupBy::parse(spec).unwrap(),
                ..config(&path)
            },
            &golden(),
            ms(1_010_000),
        );
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        if private {
            assert_eq!(mode, 0o600, "{spec}");
        } else {
            assert_ne!(mode & 0o044, 0, "{spec}: the umask's mode, {mode:o}");
        }
    }
}
