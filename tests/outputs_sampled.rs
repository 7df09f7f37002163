//! The `sampled-transactions` processor: bottom-k sampling per interval, checked against a
//! brute-force model; the same files whatever the arrival order; exactly min(N, count)
//! entries per interval; no bias towards small (fast) transactions; valid private HAR
//! files; and its bounds and error paths.

mod outputs_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use httshark::model::{Body, Transaction};
use httshark::processor::sampled::{SampleKey, SampledConfig, SampledLimits, SampledProcessor};
use httshark::processor::Processor;
use httshark::time::Timestamp;
use outputs_support::{assert_valid_har, at, files, tx, Rng};
use serde_json::Value;

const INTERVAL: Duration = Duration::from_secs(10);

fn config(dir: &Path, rate: usize) -> SampledConfig {
    SampledConfig {
        folder: dir.to_path_buf(),
        rate,
        interval: INTERVAL,
    }
}

/// `per_interval[i]` transactions completing in interval i (10 s each, from T0); several
/// per connection so depth matters in the key.
fn population(per_interval: &[usize]) -> Vec<Transaction> {
    let mut out = Vec::new();
    let mut conn = 100;
    for (i, &n) in per_interval.iter().enumerate() {
        for k in 0..n {
            if k % 3 == 0 {
                conn += 1;
            }
            let mut t = tx(
                conn,
                i as i64 * 10_000 + (k as i64 * 9_000) / n.max(1) as i64,
            );
            t.depth = (k % 3) as u32 + 1;
            out.push(t);
        }
    }
    out
}

/// Every file of `dir` by name, with its bytes.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    files(dir)
        .into_iter()
        .map(|f| {
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&f).unwrap(),
            )
        })
        .collect()
}

/// (connection, depth) of every entry of a HAR file.
fn entry_keys(bytes: &[u8]) -> Vec<(u64, u32)> {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    v["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["connection"].as_str().unwrap().parse().unwrap(),
                e["_depth"].as_u64().unwrap() as u32,
            )
        })
        .collect()
}

/// Feeds `txs` in completion order with a tick after each interval, as the pipeline does.
fn run_in_order(dir: &Path, rate: usize, txs: &[Transaction]) -> SampledProcessor {
    let mut p = SampledProcessor::new(config(dir, rate)).unwrap();
    let mut sorted: Vec<&Transaction> = txs.iter().collect();
    sorted.sort_by_key(|t| t.completed_at);
    let mut next_tick = at(10_000);
    for t in sorted {
        while t.completed_at > next_tick {
            p.on_tick(next_tick).unwrap();
            next_tick = next_tick + INTERVAL;
        }
        p.on_transaction(t).unwrap();
    }
    p.finish(next_tick).unwrap();
    p
}

#[test]
fn the_sample_is_the_bottom_k_of_each_interval() {
    let dir = tempfile::tempdir().unwrap();
    let per = [0, 3, 7, 20, 1, 0, 50];
    let txs = population(&per);
    let rate = 7;
    let p = run_in_order(dir.path(), rate, &txs);
    let got = contents(dir.path());
    // No file for an empty interval; exactly min(N, count) entries in the others.
    let want_names: Vec<String> = per
        .iter()
        .enumerate()
        .filter(|(_, &n)| n > 0)
        .map(|(i, _)| SampledProcessor::file_name(at(i as i64 * 10_000)))
        .collect();
    assert_eq!(
        got.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        want_names
    );
    assert_eq!(want_names[0], "sampled_20261121T230510Z.har");
    for (name, bytes) in &got {
        let i = per
            .iter()
            .enumerate()
            .position(|(i, _)| SampledProcessor::file_name(at(i as i64 * 10_000)) == *name)
            .unwrap();
        let keys = entry_keys(bytes);
        assert_eq!(keys.len(), per[i].min(rate), "{name}");
        // Model: sort the interval's transactions by their key, take the first N.
        let mut model: Vec<SampleKey> = txs
            .iter()
            .filter(|t| t.completed_at.floor_to(INTERVAL) == at(i as i64 * 10_000))
            .map(SampleKey::of)
            .collect();
        model.sort();
        let want: BTreeSet<(u64, u32)> =
            model.iter().take(rate).map(|k| (k.conn, k.depth)).collect();
        assert_eq!(
            keys.iter().copied().collect::<BTreeSet<_>>(),
            want,
            "{name}"
        );
    }
    let c = p.counters();
    assert_eq!(c.sampled_transactions_seen, txs.len() as u64);
    assert_eq!(c.sampled_entries_written, 3 + 7 + 7 + 1 + 7);
    assert_eq!(c.sampled_files_written, 5);
    assert_eq!(c.sampled_late + c.sampled_dropped_held_limit, 0);
}

#[test]
fn the_same_capture_gives_the_same_files_in_any_order() {
    let txs = population(&[40, 13, 2, 77]);
    let reference = tempfile::tempdir().unwrap();
    run_in_order(reference.path(), 5, &txs);
    let want = contents(reference.path());
    assert_eq!(want.len(), 4);

    // Reversed, everything before the first tick.
    let dir = tempfile::tempdir().unwrap();
    let mut p = SampledProcessor::new(config(dir.path(), 5)).unwrap();
    for t in txs.iter().rev() {
        p.on_transaction(t).unwrap();
    }
    p.finish(at(100_000)).unwrap();
    assert_eq!(contents(dir.path()), want, "reversed");

    // Seeded shuffles, each interval shuffled on its own and ticked like a pipeline with
    // several workers would (a tick only once every worker passed it).
    for seed in [1u64, 0xdead_beef, 0x1234_5678_9abc] {
        let mut rng = Rng(seed);
        let dir = tempfile::tempdir().unwrap();
        let mut p = SampledProcessor::new(config(dir.path(), 5)).unwrap();
        let mut all: Vec<&Transaction> = txs.iter().collect();
        rng.shuffle(&mut all);
        for i in 0..4 {
            let end = at((i + 1) * 10_000);
            for t in all
                .iter()
                .filter(|t| t.completed_at.floor_to(INTERVAL) + INTERVAL == end)
            {
                p.on_transaction(t).unwrap();
            }
            p.on_tick(end).unwrap();
        }
        p.finish(at(100_000)).unwrap();
        assert_eq!(contents(dir.path()), want, "seed {seed:#x}");
    }
}

/// Half the population is tiny and fast, half huge and slow, and within each interval the
/// tiny ones complete (and arrive) first, as on a real network. "The first N" would sample
/// only tiny transactions; the hash does not see sizes, so about half of the sample is
/// huge. 200 intervals x 4 = 800 draws: the binomial standard deviation is 1.8 %, the
/// tolerance 5 % (2.8 sigma); the population is fixed, so the result is too.
#[test]
fn the_sample_is_not_biased_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let intervals = 200;
    let per = 40;
    let mut txs = Vec::new();
    for i in 0..intervals {
        for k in 0..per {
            let id = (i * per + k) as u64 + 1;
            let huge = k >= per / 2;
            let mut t = tx(id, i as i64 * 10_000 + k as i64 * 100);
            let len: u64 = if huge { 50 << 20 } else { 10 };
            t.response.as_mut().unwrap().body = Body {
                wire_len: len,
                len,
                data: vec![b'x'; 10],
                truncated: huge,
                ..Body::default()
            };
            txs.push(t);
        }
    }
    // Arrival order: within each interval, tiny first.
    let mut p = SampledProcessor::new(config(dir.path(), 4)).unwrap();
    for (i, chunk) in txs.chunks(per).enumerate() {
        for t in chunk {
            p.on_transaction(t).unwrap();
        }
        p.on_tick(at((i as i64 + 1) * 10_000)).unwrap();
    }
    p.finish(at(intervals as i64 * 10_000)).unwrap();
    let (mut huge, mut total) = (0u64, 0u64);
    for f in files(dir.path()) {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        for e in v["log"]["entries"].as_array().unwrap() {
            total += 1;
            if e["response"]["bodySize"].as_i64().unwrap() > 1000 {
                huge += 1;
            }
        }
    }
    assert_eq!(total, intervals as u64 * 4);
    let share = huge as f64 / total as f64;
    assert!(
        (share - 0.5).abs() <= 0.05,
        "huge share {share:.3} ({huge}/{total})"
    );
}

#[test]
fn files_are_valid_private_har() {
    let dir = tempfile::tempdir().unwrap();
    let txs = population(&[12, 5]);
    run_in_order(dir.path(), 3, &txs);
    let fs = files(dir.path());
    assert_eq!(fs.len(), 2);
    for f in &fs {
        let har = har::from_path(f).unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
        let har::Spec::V1_2(log) = har.log else {
            panic!("not HAR 1.2")
        };
        assert_eq!(log.entries.len(), 3);
        // Sorted by start time.
        let starts: Vec<&str> = log
            .entries
            .iter()
            .map(|e| e.started_date_time.as_str())
            .collect();
        let mut sorted = starts.clone();
        sorted.sort();
        assert_eq!(starts, sorted);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
    assert_valid_har(&fs);
}

#[test]
fn an_interval_is_written_when_the_watermark_passes_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = SampledProcessor::new(config(dir.path(), 2)).unwrap();
    p.on_transaction(&tx(1, 1_000)).unwrap();
    p.on_transaction(&tx(2, 12_000)).unwrap();
    p.on_tick(at(9_999)).unwrap();
    assert!(files(dir.path()).is_empty());
    p.on_tick(at(10_000)).unwrap();
    assert_eq!(
        files(dir.path()).len(),
        1,
        "the first interval, not the second"
    );
    // A transaction for the written interval breaks the tick promise: counted, not added.
    p.on_transaction(&tx(3, 2_000)).unwrap();
    p.finish(at(13_000)).unwrap();
    let c = p.counters();
    assert_eq!((c.sampled_late, c.sampled_files_written), (1, 2));
    let first = std::fs::read(&files(dir.path())[0]).unwrap();
    assert_eq!(entry_keys(&first), [(1, 1)]);
}

#[test]
fn open_intervals_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = SampledProcessor::new(config(dir.path(), 1))
        .unwrap()
        .with_limits(SampledLimits {
            max_open_intervals: 2,
            ..SampledLimits::default()
        });
    // Three intervals ahead of any tick: opening the third writes the first early.
    for (id, ms) in [(1, 0), (2, 10_000), (3, 20_000)] {
        p.on_transaction(&tx(id, ms)).unwrap();
    }
    assert_eq!(p.counters().sampled_intervals_forced, 1);
    assert_eq!(files(dir.path()).len(), 1);
    // Older than every open interval: late now.
    p.on_transaction(&tx(4, 1_000)).unwrap();
    p.finish(at(40_000)).unwrap();
    let c = p.counters();
    assert_eq!((c.sampled_late, c.sampled_files_written), (1, 3));
}

#[test]
fn held_bytes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = SampledProcessor::new(config(dir.path(), 100))
        .unwrap()
        .with_limits(SampledLimits {
            max_held_bytes: 2_000,
            ..SampledLimits::default()
        });
    for id in 1..=20 {
        p.on_transaction(&tx(id, 0)).unwrap();
        assert!(p.held_bytes() <= 2_000);
    }
    let dropped = p.counters().sampled_dropped_held_limit;
    assert!(dropped > 0);
    p.finish(at(10_000)).unwrap();
    assert_eq!(p.held_bytes(), 0);
    assert_eq!(p.counters().sampled_entries_written + dropped, 20);
}

#[test]
fn a_failed_write_is_retried_once() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("sampled");
    let mut p = SampledProcessor::new(config(&folder, 1)).unwrap();
    p.on_transaction(&tx(1, 0)).unwrap();
    // A plain file in the folder's place: a removed folder would just be recreated.
    std::fs::remove_dir(&folder).unwrap();
    std::fs::write(&folder, b"not a folder").unwrap();
    let e = p.on_tick(at(10_000)).unwrap_err().to_string();
    assert!(e.contains("kept for one retry"), "{e}");
    std::fs::remove_file(&folder).unwrap();
    std::fs::create_dir(&folder).unwrap();
    p.on_tick(at(20_000)).unwrap();
    assert_eq!(files(&folder).len(), 1, "written at the retry");

    // Twice failed: dropped and counted.
    p.on_transaction(&tx(2, 25_000)).unwrap();
    std::fs::remove_dir_all(&folder).unwrap();
    std::fs::write(&folder, b"not a folder").unwrap();
    assert!(p.finish(at(40_000)).is_err());
    let c = p.counters();
    assert_eq!(
        (c.sampled_write_errors, c.sampled_dropped_write_error),
        (3, 1)
    );
    assert_eq!(p.held_bytes(), 0);
}

#[test]
fn a_bad_folder_fails_before_capture() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    std::fs::write(&file, b"x").unwrap();
    let e = SampledProcessor::new(config(&file.join("sampled"), 1))
        .err()
        .expect("a folder under a file is refused");
    assert!(e.to_string().starts_with("sampled-transactions:"), "{e}");
}

#[test]
fn the_key_depends_on_identity_not_content() {
    let a = tx(5, 100);
    let mut b = a.clone();
    b.response.as_mut().unwrap().body = Body {
        len: 1 << 30,
        ..Body::default()
    };
    b.completed_at = Timestamp(b.completed_at.0 + 1);
    assert_eq!(SampleKey::of(&a), SampleKey::of(&b));
    let mut c = a.clone();
    c.depth = 2;
    assert_ne!(SampleKey::of(&a).hash, SampleKey::of(&c).hash);
}
