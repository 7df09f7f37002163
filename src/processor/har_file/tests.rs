use std::collections::BTreeMap;
use std::fs;

use super::*;
use crate::model::{Body, ConnInfo, Header, HttpVersion, Request, Response};

const T0: i64 = 1_795_302_300; // 2026-11-21T23:05:00Z, a multiple of 10 s

fn at(secs: i64, ms: i64) -> Timestamp {
    Timestamp((T0 + secs) * 1_000_000_000 + ms * 1_000_000)
}

fn tx(id: u64, depth: u32, host: &str, start: Timestamp, done: Timestamp) -> Transaction {
    Transaction {
        conn: ConnInfo {
            id,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
            syn_ts: None,
            synack_ts: None,
            established_ts: None,
            midstream: true,
        },
        depth,
        request: Request {
            method: "GET".into(),
            target: format!("/{id}/{depth}"),
            version: HttpVersion::Http11,
            headers: vec![Header {
                name: "Host".into(),
                value: host.into(),
            }],
            head_len: 40,
            body: Body::default(),
            first_ts: start,
            last_ts: start,
            complete: true,
        },
        response: Some(Response {
            status: 204,
            reason: "No Content".into(),
            version: HttpVersion::Http11,
            headers: vec![],
            head_len: 30,
            body: Body::default(),
            first_ts: done,
            last_ts: done,
            complete: true,
            interim: vec![],
        }),
        anomalies: vec![],
        process: None,
        completed_at: done,
        tls: None,
        h2: None,
    }
}

/// File name -> content of every file in `dir`.
fn files(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect()
}

/// `id/depth` of every entry in a HAR file, in order.
fn targets(har: &str) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_str(har).unwrap();
    v["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let url = e["request"]["url"].as_str().unwrap();
            let parts: Vec<&str> = url.rsplitn(3, '/').collect();
            format!("{}/{}", parts[1], parts[0])
        })
        .collect()
}

#[test]
fn new_creates_the_folder_and_leaves_no_probe() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a/b");
    HarFileProcessor::new(out.clone(), true, Duration::from_secs(10)).unwrap();
    assert!(out.is_dir());
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn new_fails_clearly_when_the_folder_cannot_be_made() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    let e = HarFileProcessor::new(file.join("sub"), true, Duration::from_secs(10))
        .err()
        .unwrap();
    assert_eq!(e.processor, "file");
    assert!(
        e.message.contains("cannot create output folder"),
        "{}",
        e.message
    );
}

#[test]
fn out_of_order_arrivals_land_in_their_intervals() {
    let dir = tempfile::tempdir().unwrap();
    let mut p =
        HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10)).unwrap();
    // Arrival order is not completion order.
    p.on_transaction(&tx(2, 1, "b.example", at(12, 0), at(13, 0)))
        .unwrap();
    p.on_transaction(&tx(1, 1, "a.example", at(1, 0), at(2, 0)))
        .unwrap();
    p.on_transaction(&tx(1, 2, "a.example", at(9, 0), at(10, 0)))
        .unwrap(); // exactly on the boundary: next interval
    p.on_transaction(&tx(3, 1, "a.example", at(0, 500), at(9, 999)))
        .unwrap();

    p.on_tick(at(9, 999)).unwrap();
    assert!(
        files(dir.path()).is_empty(),
        "the first interval has not ended"
    );
    p.on_tick(at(10, 0)).unwrap();
    let f = files(dir.path());
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        vec!["a.example_20261121T230500Z.har"]
    );
    assert_eq!(
        targets(&f["a.example_20261121T230500Z.har"]),
        vec!["3/1", "1/1"],
        "sorted by start time"
    );
    assert_eq!(p.counters().har_files_written, 1);
    assert_eq!(p.counters().har_entries_written, 2);

    p.finish(at(11, 0)).unwrap();
    let f = files(dir.path());
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        vec![
            "a.example_20261121T230500Z.har",
            "a.example_20261121T230510Z.har",
            "b.example_20261121T230510Z.har"
        ]
    );
    assert_eq!(p.counters().har_entries_written, 4);
    assert_eq!(p.held_bytes(), 0);
    assert_eq!(
        p.counters().har_bytes_written,
        f.values().map(|s| s.len() as u64).sum::<u64>()
    );
}

#[test]
fn not_split_writes_one_file_per_interval() {
    let dir = tempfile::tempdir().unwrap();
    let mut p =
        HarFileProcessor::new(dir.path().to_path_buf(), false, Duration::from_secs(60)).unwrap();
    p.on_transaction(&tx(1, 1, "a", at(1, 0), at(2, 0)))
        .unwrap();
    p.on_transaction(&tx(2, 1, "b", at(1, 0), at(3, 0)))
        .unwrap();
    p.finish(at(3, 0)).unwrap();
    let f = files(dir.path());
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        vec!["httshark_20261121T230500Z.har"]
    );
    assert_eq!(
        targets(f.values().next().unwrap()),
        vec!["1/1", "2/1"],
        "ties on start broken by connection id"
    );
}

#[test]
fn same_set_in_two_arrival_orders_gives_identical_files() {
    let mut txs = Vec::new();
    for id in 0..30u64 {
        for depth in 1..=3u32 {
            let host = ["a.example", "B.example", "b.example:8080"][(id % 3) as usize];
            // Many equal start times, to exercise the tie-breaks.
            txs.push(tx(
                id,
                depth,
                host,
                at((id % 4) as i64, 0),
                at((id * 7 % 25) as i64, depth as i64),
            ));
        }
    }
    let run = |order: &[Transaction]| {
        let dir = tempfile::tempdir().unwrap();
        let mut p =
            HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10)).unwrap();
        for t in order {
            p.on_transaction(t).unwrap();
        }
        p.on_tick(at(20, 0)).unwrap();
        p.finish(at(30, 0)).unwrap();
        files(dir.path())
    };
    let a = run(&txs);
    let mut rev = txs.clone();
    rev.reverse();
    // And an interleaving that is neither.
    let mut mixed: Vec<Transaction> = txs.iter().step_by(2).cloned().collect();
    mixed.extend(txs.iter().skip(1).step_by(2).cloned());
    assert_eq!(a, run(&rev));
    assert_eq!(a, run(&mixed));
    assert!(a.len() >= 6, "{:?}", a.keys());
    // `B.example` and `b.example` are one host.
    assert!(!a.keys().any(|k| k.starts_with('B')));
}

#[test]
fn hosts_that_sanitise_alike_get_distinct_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut p =
        HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10)).unwrap();
    for (i, h) in ["a:1", "a_1", "x/y", "x?y", "../../etc/passwd", "", "\0"]
        .iter()
        .enumerate()
    {
        p.on_transaction(&tx(i as u64, 1, h, at(1, 0), at(2, 0)))
            .unwrap();
    }
    p.finish(at(3, 0)).unwrap();
    let f = files(dir.path());
    // "" falls back to the server address.
    assert_eq!(f.len(), 7, "{:?}", f.keys());
    assert!(f.keys().all(|k| is_safe_component(k)), "{:?}", f.keys());
    assert!(f.contains_key("a_1_20261121T230500Z.har"));
    assert!(f.contains_key("a_1-2_20261121T230500Z.har"));
    assert!(f.contains_key("10.0.0.2_80_20261121T230500Z.har"));
}

#[cfg(unix)]
#[test]
fn har_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut p =
        HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10)).unwrap();
    p.on_transaction(&tx(1, 1, "h", at(1, 0), at(2, 0)))
        .unwrap();
    p.finish(at(3, 0)).unwrap();
    for e in fs::read_dir(dir.path()).unwrap() {
        assert_eq!(
            e.unwrap().metadata().unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

/// Makes `out` unusable as a folder: a plain file in its place (root ignores permission
/// bits, so a read-only folder would not fail).
fn block(out: &Path) {
    let _ = fs::remove_dir_all(out);
    fs::write(out, b"not a folder").unwrap();
}

fn unblock(out: &Path) {
    fs::remove_file(out).unwrap();
    fs::create_dir(out).unwrap();
}

#[test]
fn failed_files_are_kept_and_retried_until_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut p = HarFileProcessor::new(out.clone(), true, Duration::from_secs(10)).unwrap();
    p.on_transaction(&tx(1, 1, "h", at(1, 0), at(2, 0)))
        .unwrap();
    block(&out);
    // Mid-run failures are logged and counted, not returned: the capture goes on.
    p.on_tick(at(10, 0)).unwrap();
    p.on_tick(at(20, 0)).unwrap();
    p.on_transaction(&tx(2, 1, "h", at(21, 0), at(22, 0)))
        .unwrap();
    p.on_tick(at(30, 0)).unwrap();
    assert_eq!(p.counters().har_write_errors, 4);
    assert_eq!(p.counters().har_entries_dropped_write_error, 0);
    assert!(p.held_bytes() > 0);
    // Space is back: both files are written under their own names, nothing lost.
    unblock(&out);
    p.on_tick(at(40, 0)).unwrap();
    assert_eq!(
        files(&out).keys().collect::<Vec<_>>(),
        vec!["h_20261121T230500Z.har", "h_20261121T230520Z.har"]
    );
    assert_eq!(p.held_bytes(), 0);
    p.finish(at(41, 0)).unwrap();
}

#[test]
fn a_removed_folder_is_recreated_at_the_next_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut p = HarFileProcessor::new(out.clone(), true, Duration::from_secs(10)).unwrap();
    p.on_transaction(&tx(1, 1, "h", at(1, 0), at(2, 0)))
        .unwrap();
    fs::remove_dir_all(&out).unwrap();
    p.on_tick(at(10, 0)).unwrap();
    assert_eq!(p.counters().har_folder_recreated, 1);
    assert_eq!(p.counters().har_write_errors, 0);
    assert_eq!(files(&out).len(), 1);
}

#[test]
fn finish_reports_what_could_not_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut p = HarFileProcessor::new(out.clone(), true, Duration::from_secs(10)).unwrap();
    p.on_transaction(&tx(1, 1, "h", at(1, 0), at(2, 0)))
        .unwrap();
    p.on_transaction(&tx(2, 1, "h", at(1, 0), at(2, 0)))
        .unwrap();
    block(&out);
    let e = p.finish(at(3, 0)).unwrap_err();
    assert!(
        e.message
            .starts_with("2 transactions could not be written to "),
        "{}",
        e.message
    );
    assert!(e.message.contains("last error"), "{}", e.message);
    assert_eq!(p.counters().har_write_errors, 2);
    assert_eq!(p.counters().har_entries_dropped_write_error, 2);
    assert_eq!(p.held_bytes(), 0);
}

#[test]
fn reaching_the_held_limit_exports_early_instead_of_dropping() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10))
        .unwrap()
        .with_limits(HarFileLimits {
            max_held_bytes: 1500,
            // Held in memory: these tests are about that path.
            max_streams: 0,
            ..HarFileLimits::default()
        });
    for i in 0..10 {
        p.on_transaction(&tx(i, 1, "h", at(1, 0), at(2, 0)))
            .unwrap();
        assert!(p.held_bytes() <= 1500);
    }
    assert_eq!(p.counters().har_entries_dropped_held_limit, 0);
    let early = p.counters().har_early_exports_at_arrival;
    assert!(early > 0, "{early}");
    p.finish(at(3, 0)).unwrap();
    assert_eq!(p.counters().har_entries_written, 10);
    // One interval, several parts, each numbered (the first too), no file overwritten.
    let f = files(dir.path());
    assert_eq!(f.len() as u64, early + 1, "{:?}", f.keys());
    assert!(f.contains_key("h_20261121T230500Z.p0001.har"));
    assert!(
        f.contains_key("h_20261121T230500Z.p0002.har"),
        "{:?}",
        f.keys()
    );
    assert!(!f.contains_key("h_20261121T230500Z.har"), "{:?}", f.keys());
    let mut all: Vec<String> = f.values().flat_map(|h| targets(h)).collect();
    all.sort();
    assert_eq!(all.len(), 10);
    all.dedup();
    assert_eq!(all.len(), 10);
}

#[test]
fn held_bytes_are_bounded_while_the_output_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut p = HarFileProcessor::new(out.clone(), true, Duration::from_secs(10))
        .unwrap()
        .with_limits(HarFileLimits {
            max_held_bytes: 1500,
            // Held in memory: these tests are about that path.
            max_streams: 0,
            ..HarFileLimits::default()
        });
    block(&out);
    for i in 0..10 {
        p.on_transaction(&tx(i, 1, "h", at(1, 0), at(2, 0)))
            .unwrap();
        assert!(p.held_bytes() <= 1500);
    }
    let dropped = p.counters().har_entries_dropped_held_limit;
    assert!(dropped > 0 && dropped < 10, "{dropped}");
    // One early export was tried, failed; no write per entry after that.
    assert_eq!(p.counters().har_early_exports_at_arrival, 1);
    unblock(&out);
    let e = p.finish(at(3, 0)).unwrap_err();
    assert!(
        e.message.starts_with(&format!("{dropped} transactions")),
        "{}",
        e.message
    );
    assert_eq!(p.counters().har_entries_written, 10 - dropped);
}

#[test]
fn a_late_entry_never_overwrites_a_written_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut p =
        HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10)).unwrap();
    p.on_transaction(&tx(1, 1, "h", at(1, 0), at(2, 0)))
        .unwrap();
    p.on_tick(at(10, 0)).unwrap();
    p.on_transaction(&tx(2, 1, "h", at(3, 0), at(4, 0)))
        .unwrap();
    p.finish(at(11, 0)).unwrap();
    let f = files(dir.path());
    assert_eq!(targets(&f["h_20261121T230500Z.har"]), vec!["1/1"]);
    assert_eq!(targets(&f["h_20261121T230510Z.har"]), vec!["2/1"]);
    assert_eq!(p.counters().har_entries_late, 1);
}

#[test]
fn file_stem_examples() {
    assert_eq!(file_stem("example.com"), "example.com");
    assert_eq!(file_stem("example.com:8080"), "example.com_8080");
    assert_eq!(
        file_stem("[::1]:80"),
        format!("___1__80-{:08x}", fnv1a(b"[::1]:80") as u32)
    );
    assert!(file_stem("../../etc/passwd").starts_with("_._.._etc_passwd-"));
    assert!(file_stem(".hidden").starts_with("_hidden-"));
    assert!(file_stem("-rf").starts_with("_rf-"));
    assert!(file_stem("").starts_with("_-"));
    assert!(file_stem("ünï").starts_with("_n_-"));
    assert_ne!(file_stem("a/b"), file_stem("a?b"));
    let long_a = "a".repeat(10_000);
    let long_b = format!("{}b", "a".repeat(9_999));
    assert_ne!(file_stem(&long_a), file_stem(&long_b));
    assert!(file_stem(&long_a).len() <= MAX_STEM_CHARS + 9);
}

#[test]
fn interval_stamps() {
    assert_eq!(interval_stamp(at(0, 0)), "20261121T230500Z");
    assert_eq!(interval_stamp(Timestamp(0)), "19700101T000000Z");
}

proptest::proptest! {
    #[test]
    fn any_host_is_one_safe_component_inside_the_folder(host in proptest::prelude::any::<String>()) {
        let name = format!("{}_{}.har", file_stem(&host), interval_stamp(at(0, 0)));
        proptest::prop_assert!(is_safe_component(&name), "{:?}", name);
        let folder = Path::new("/out");
        let joined = folder.join(&name);
        proptest::prop_assert_eq!(joined.parent(), Some(folder));
    }

    #[test]
    fn changed_hosts_get_distinct_stems(a in "[a-z/?#:. \\x00-\\x1f]{0,20}", b in "[a-z/?#:. \\x00-\\x1f]{0,20}") {
        // Hosts that differ only by `:` vs `_` are told apart by `unique_name`, not here.
        if a != b && a.replace(':', "_") != b.replace(':', "_") {
            proptest::prop_assert_ne!(file_stem(&a), file_stem(&b));
        }
    }
}

#[test]
fn a_tick_writes_early_only_the_entries_completed_before_it() {
    // Completed at 1.5 s .. 5.5 s; the interval [0, 10 s) stays open.
    let txs: Vec<Transaction> = (0..5)
        .map(|i| tx(i, 1, "h", at(1 + i as i64, 0), at(1 + i as i64, 500)))
        .collect();
    let probe_dir = tempfile::tempdir().unwrap();
    let mut probe = HarFileProcessor::new(
        probe_dir.path().to_path_buf(),
        true,
        Duration::from_secs(10),
    )
    .unwrap();
    for t in &txs {
        probe.on_transaction(t).unwrap();
    }
    // Entries are about the same size: the threshold sits at three of them.
    let entry = probe.held_bytes() / 5;
    let dir = tempfile::tempdir().unwrap();
    let mut p = HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10))
        .unwrap()
        .with_limits(HarFileLimits {
            max_held_bytes: 3 * entry * EARLY_EXPORT_FRACTION,
            // Held in memory: these tests are about that path.
            max_streams: 0,
            ..HarFileLimits::default()
        });
    for t in &txs {
        p.on_transaction(t).unwrap();
    }
    // Before 3 s: two entries, under the threshold: no export.
    p.on_tick(at(3, 0)).unwrap();
    assert_eq!(p.counters().har_early_exports, 0);
    // Before 5 s: four entries, over it: written as the interval's first part.
    p.on_tick(at(5, 0)).unwrap();
    assert_eq!(p.counters().har_early_exports, 1);
    assert_eq!(p.counters().har_early_exports_at_arrival, 0);
    assert_eq!(p.counters().har_entries_written, 4);
    p.finish(at(20, 0)).unwrap();
    let f = files(dir.path());
    assert_eq!(f.len(), 2, "{:?}", f.keys());
    assert_eq!(targets(&f["h_20261121T230500Z.p0001.har"]).len(), 4);
    assert_eq!(targets(&f["h_20261121T230500Z.p0002.har"]).len(), 1);
}

#[test]
fn parts_sort_in_writing_order() {
    // Issue 13: parts named `.har`, `.2.har` ... `.10.har` were listed by `ls` as
    // `.10, .2, ..., .9, .har`. Twelve parts of one interval, then the next interval in
    // one go: byte order of the names (what `ls` and a BTreeMap use) is writing order.
    let dir = tempfile::tempdir().unwrap();
    // Room for one entry, not two: everything held is written as each entry arrives.
    let entry = har::entry_json(&tx(100, 1, "h", at(11, 0), at(11, 0))).len() as u64;
    let mut p = HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10))
        .unwrap()
        .with_limits(HarFileLimits {
            max_held_bytes: entry * 3 / 2,
            // Held in memory: these tests are about that path.
            max_streams: 0,
            ..HarFileLimits::default()
        });
    for i in 0..12 {
        p.on_transaction(&tx(i, 1, "h", at(1, 0), at(1, 10 * i as i64)))
            .unwrap();
    }
    p.on_transaction(&tx(100, 1, "h", at(11, 0), at(11, 0)))
        .unwrap();
    p.finish(at(30, 0)).unwrap();
    assert_eq!(p.counters().har_entries_dropped_held_limit, 0);
    let f = files(dir.path());
    let names: Vec<&str> = f.keys().map(String::as_str).collect();
    assert_eq!(names.len(), 13, "{names:?}");
    assert_eq!(names[0], "h_20261121T230500Z.p0001.har");
    assert_eq!(names[9], "h_20261121T230500Z.p0010.har");
    assert_eq!(names[11], "h_20261121T230500Z.p0012.har");
    assert_eq!(names[12], "h_20261121T230510Z.har");
    // Sorted by name, the entries come out in the order they were written.
    let order: Vec<String> = f.values().flat_map(|h| targets(h)).collect();
    let mut written: Vec<String> = (0..12).map(|i| format!("{i}/1")).collect();
    written.push("100/1".into());
    assert_eq!(order, written);
}

/// The files a run of `txs` (in this arrival order, ticking every second of completion
/// time) writes with `limits`, and the processor's counters.
fn run_with(
    txs: &[Transaction],
    limits: HarFileLimits,
) -> (BTreeMap<String, String>, HarFileCounters) {
    let dir = tempfile::tempdir().unwrap();
    let mut p = HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10))
        .unwrap()
        .with_limits(limits);
    let mut tick = at(1, 0);
    for t in txs {
        // The watermark promise: a tick only once every entry completed before it came.
        // Arrival order within a second is free (several workers).
        if t.completed_at >= tick + Duration::from_secs(1) {
            tick = Timestamp(t.completed_at.0 - t.completed_at.0 % 1_000_000_000);
            p.on_tick(tick).unwrap();
        }
        p.on_transaction(t).unwrap();
    }
    p.finish(at(100, 0)).unwrap();
    assert_eq!(p.held_bytes(), 0);
    assert_eq!(p.index_bytes(), 0);
    // Nothing left behind: no temporary file, every file a final one.
    for name in files(dir.path()).keys() {
        assert!(!name.starts_with('.') && name.ends_with(".har"), "{name}");
    }
    (files(dir.path()), p.counters().clone())
}

/// Transactions of 3 hosts over 35 s, lasting 0 to 8 s, arriving in completion order
/// shuffled within each second (as several workers deliver them); a few share a start.
fn mixed_arrivals(seed: u64) -> Vec<Transaction> {
    let mut rng = seed;
    let mut next = move |n: u64| {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (rng >> 33) % n
    };
    let mut txs: Vec<Transaction> = (0..300u64)
        .map(|i| {
            let start_ms = next(35_000) as i64;
            let lasts = if next(5) == 0 { next(8_000) } else { next(50) } as i64;
            let host = ["a.example", "b.example", "c.example:8080"][next(3) as usize];
            let start = if i % 50 == 7 {
                at(5, 0)
            } else {
                at(0, start_ms)
            };
            tx(
                i / 3,
                (i % 3) as u32 + 1,
                host,
                start,
                at(0, start_ms + lasts),
            )
        })
        .collect();
    let mut tagged: Vec<(i64, u64, Transaction)> = txs
        .drain(..)
        .map(|t| (t.completed_at.0 / 1_000_000_000, next(1000), t))
        .collect();
    tagged.sort_by_key(|(s, r, _)| (*s, *r));
    tagged.into_iter().map(|(_, _, t)| t).collect()
}

#[test]
fn streamed_files_are_byte_identical_to_files_held_until_export() {
    for seed in 1..=4 {
        let txs = mixed_arrivals(seed);
        let memory = HarFileLimits {
            max_streams: 0,
            ..HarFileLimits::default()
        };
        let (want, c) = run_with(&txs, memory);
        assert_eq!(c.har_entries_streamed, 0);
        assert!(want.len() >= 9, "{:?}", want.keys());
        // A buffer that holds everything; one of about 3 entries (most long transactions
        // arrive late: spooled and merged); none at all (every entry released at once).
        let entry = har::entry_json(&txs[0]).len() as u64;
        for reorder_bytes in [1 << 30, 3 * entry, 0] {
            let (got, c) = run_with(
                &txs,
                HarFileLimits {
                    reorder_bytes,
                    ..HarFileLimits::default()
                },
            );
            assert_eq!(got, want, "seed {seed}, reorder buffer {reorder_bytes}");
            assert_eq!(c.har_entries_streamed, 300);
            assert_eq!(c.har_stream_limit_hits, 0);
            if reorder_bytes == 0 {
                assert!(c.har_entries_spooled_late > 0 && c.har_stream_merges > 0);
            }
            if reorder_bytes == 1 << 30 {
                assert_eq!(c.har_entries_spooled_late, 0);
            }
        }
        // Two files streamed at once: the rest are held in memory, the same bytes again.
        let (got, c) = run_with(
            &txs,
            HarFileLimits {
                max_streams: 2,
                reorder_bytes: 0,
                ..HarFileLimits::default()
            },
        );
        assert_eq!(got, want, "seed {seed}, two streams");
        assert!(c.har_stream_limit_hits > 0 && c.har_entries_streamed > 0);
    }
}

#[test]
fn an_open_interval_is_on_disk_under_a_temporary_name_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10))
        .unwrap()
        .with_limits(HarFileLimits {
            reorder_bytes: 0,
            ..HarFileLimits::default()
        });
    for i in 0..20 {
        p.on_transaction(&tx(i, 1, "h", at(1, i as i64), at(2, i as i64)))
            .unwrap();
    }
    // Streamed: nothing held but the index; the bytes are in a hidden temporary file.
    assert_eq!(p.held_bytes(), 0);
    assert_eq!(p.index_bytes(), 20 * stream::INDEX_BYTES);
    let f = files(dir.path());
    assert_eq!(f.len(), 1, "{:?}", f.keys());
    let (name, text) = f.iter().next().unwrap();
    assert!(
        name.starts_with(".stream") && name.contains(".tmp"),
        "{name}"
    );
    assert_eq!(targets(&format!("{text}\n]}}}}\n")).len(), 20);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    p.on_tick(at(10, 0)).unwrap();
    let f = files(dir.path());
    assert_eq!(f.keys().collect::<Vec<_>>(), vec!["h_20261121T230500Z.har"]);
    assert_eq!(targets(&f["h_20261121T230500Z.har"]).len(), 20);
    assert_eq!(p.index_bytes(), 0);
}

#[test]
fn the_index_limit_writes_the_open_intervals_early() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(10))
        .unwrap()
        .with_limits(HarFileLimits {
            reorder_bytes: 0,
            max_indexed_entries: 5,
            ..HarFileLimits::default()
        });
    for i in 0..12 {
        p.on_transaction(&tx(i, 1, "h", at(1, i as i64), at(2, i as i64)))
            .unwrap();
        assert!(p.index_bytes() <= 6 * stream::INDEX_BYTES);
    }
    p.finish(at(3, 0)).unwrap();
    // Past 5 indexed entries, at the 6th and the 12th.
    assert_eq!(p.counters().har_early_exports_index_limit, 2);
    let f = files(dir.path());
    assert_eq!(
        f.keys().collect::<Vec<_>>(),
        vec![
            "h_20261121T230500Z.p0001.har",
            "h_20261121T230500Z.p0002.har"
        ]
    );
    let all: Vec<String> = f.values().flat_map(|h| targets(h)).collect();
    assert_eq!(all.len(), 12);
}

#[test]
fn the_index_costs_what_the_docs_say() {
    // docs/limits.md and docs/har.md: 40 bytes per entry streamed.
    assert_eq!(stream::INDEX_BYTES, 40);
}

#[test]
fn a_streamed_file_survives_its_folder_failing_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut p = HarFileProcessor::new(out.clone(), true, Duration::from_secs(10))
        .unwrap()
        .with_limits(HarFileLimits {
            reorder_bytes: 0,
            ..HarFileLimits::default()
        });
    p.on_transaction(&tx(1, 1, "h", at(1, 0), at(2, 0)))
        .unwrap();
    p.on_transaction(&tx(2, 1, "h", at(3, 0), at(4, 0)))
        .unwrap();
    assert_eq!(p.counters().har_entries_streamed, 2);
    // The folder (and the streamed file in it) goes; a file takes its place.
    fs::remove_dir_all(&out).unwrap();
    block(&out);
    p.on_transaction(&tx(3, 1, "h", at(5, 0), at(6, 0)))
        .unwrap();
    p.on_tick(at(10, 0)).unwrap();
    assert!(p.counters().har_write_errors > 0);
    // Failing: held in memory.
    p.on_transaction(&tx(4, 1, "h", at(12, 0), at(13, 0)))
        .unwrap();
    p.on_tick(at(20, 0)).unwrap();
    unblock(&out);
    p.finish(at(30, 0)).unwrap();
    let f = files(&out);
    assert!(f.keys().all(|n| !n.starts_with('.')), "{:?}", f.keys());
    let all: Vec<String> = f.values().flat_map(|h| targets(h)).collect();
    assert_eq!(all, vec!["1/1", "2/1", "3/1", "4/1"], "{:?}", f.keys());
    assert_eq!(p.counters().har_entries_dropped_write_error, 0);
    assert_eq!(p.held_bytes(), 0);
    assert_eq!(p.index_bytes(), 0);
}

/// Entries the workers encoded (`on_encoded` with the JSON) make the same files as entries
/// encoded here; the JSON is taken, and without it the processor encodes it itself.
#[test]
fn entries_encoded_by_the_workers_make_the_same_files() {
    let txs = [
        tx(2, 1, "b.example", at(12, 0), at(13, 0)),
        tx(1, 1, "a.example", at(1, 0), at(2, 0)),
        tx(1, 2, "a.example", at(9, 0), at(10, 0)),
        tx(3, 1, "a.example", at(0, 500), at(9, 999)),
    ];
    let here = tempfile::tempdir().unwrap();
    let mut p =
        HarFileProcessor::new(here.path().to_path_buf(), true, Duration::from_secs(10)).unwrap();
    for t in &txs {
        p.on_transaction(t).unwrap();
    }
    p.finish(at(20, 0)).unwrap();
    let encoded = tempfile::tempdir().unwrap();
    let mut q =
        HarFileProcessor::new(encoded.path().to_path_buf(), true, Duration::from_secs(10)).unwrap();
    assert!(q.takes_har_json());
    for (i, t) in txs.iter().enumerate() {
        // One without its JSON: the processor encodes it.
        let mut json = (i != 2).then(|| har::entry_json(t).into_boxed_slice());
        q.on_encoded(t, &mut json).unwrap();
        assert!(json.is_none());
    }
    q.finish(at(20, 0)).unwrap();
    let (a, b) = (files(here.path()), files(encoded.path()));
    assert_eq!(a.len(), 3);
    assert_eq!(a, b);
}
