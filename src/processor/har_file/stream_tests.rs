//! The merge at export against the file written whole: late entries at the run's start,
//! middle and end, ties on the key around the cut, unwritten entries, a failed export.

use super::*;

fn key(ms: i64, conn: u64) -> Key {
    Key {
        started: Timestamp(ms * 1_000_000),
        conn,
        depth: 0,
    }
}

fn entry(ms: i64, conn: u64, body: &str) -> Entry {
    Entry {
        key: key(ms, conn),
        json: format!("{{\"at\":{ms},\"c\":{conn},\"b\":\"{body}\"}}")
            .into_bytes()
            .into(),
        completed: Timestamp(ms * 1_000_000),
    }
}

/// The file written whole: every entry sorted by key, then bytes.
fn whole(entries: &[Entry]) -> Vec<u8> {
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by(|a, b| (a.key, &a.json).cmp(&(b.key, &b.json)));
    let mut out = Vec::new();
    let mut w = har::LogWriter::begin(&mut out).unwrap();
    for e in sorted {
        w.entry_json(&e.json).unwrap();
    }
    w.finish().unwrap();
    out
}

fn copy(e: &Entry) -> Entry {
    Entry {
        key: e.key,
        json: e.json.clone(),
        completed: e.completed,
    }
}

/// Streams `batches` in turn, exports, and checks the file against `whole`.
fn check(batches: &[Vec<Entry>], merged: bool) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Stream::new(dir.path(), 1);
    let mut all = Vec::new();
    for b in batches {
        all.extend(b.iter().map(copy));
        let out = s.append(b.iter().map(copy).collect());
        assert!(out.error.is_none());
    }
    let dest = dir.path().join("x.har");
    let done = s.export(&dest).unwrap();
    let got = fs::read(&dest).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&whole(&all))
    );
    assert_eq!(done.bytes, got.len() as u64);
    assert_eq!(done.merged, merged);
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "temporary files removed");
    got
}

fn run(from: i64, to: i64) -> Vec<Entry> {
    (from..to).map(|ms| entry(ms * 10, 1, "r")).collect()
}

#[test]
fn late_entries_at_the_start_middle_and_end_of_the_run() {
    // Start: nothing of the run is before the cut.
    check(&[run(1, 20), vec![entry(5, 1, "late")]], true);
    check(&[run(1, 20), vec![entry(10, 0, "late")]], true);
    // Middle, and several late entries spread out.
    check(
        &[run(1, 20), vec![entry(95, 1, "a"), entry(35, 2, "b")]],
        true,
    );
    // End: between the last two, and just before the last.
    check(&[run(1, 20), vec![entry(185, 1, "late")]], true);
    check(&[run(1, 20), vec![entry(190, 0, "late")]], true);
    // Late batches after more in-order ones.
    check(
        &[
            run(1, 10),
            vec![entry(55, 1, "l")],
            run(10, 20),
            vec![entry(150, 3, "m")],
        ],
        true,
    );
    // No late entry: the run is renamed.
    check(&[run(1, 20)], false);
}

#[test]
fn ties_on_the_key_around_the_cut_are_broken_by_the_bytes() {
    // The run holds key (100, 1) with body "m"; late entries with the same key sort
    // before ("a") and after ("z") it by their bytes.
    for late in [vec!["a"], vec!["z"], vec!["a", "z"], vec!["m2", "a"]] {
        let late: Vec<Entry> = late.iter().map(|b| entry(100, 1, b)).collect();
        check(&[run(1, 20), late], true);
    }
    // The tied key is the run's first and its last.
    check(&[run(1, 20), vec![entry(10, 1, "a")]], true);
    check(
        &[run(1, 20), vec![entry(190, 1, "a"), entry(190, 1, "zz")]],
        true,
    );
}

#[test]
fn unwritten_entries_are_merged_and_cut_the_run_too() {
    for (mem, spooled) in [(35, None), (185, Some(95)), (5, Some(185)), (195, None)] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Stream::new(dir.path(), 1);
        let mut all = run(1, 20);
        s.append(run(1, 20));
        s.absorb([entry(mem, 7, "mem")]);
        all.push(entry(mem, 7, "mem"));
        if let Some(ms) = spooled {
            s.append(vec![entry(ms, 7, "late")]);
            all.push(entry(ms, 7, "late"));
        }
        let dest = dir.path().join("x.har");
        assert!(s.export(&dest).unwrap().merged);
        assert_eq!(fs::read(&dest).unwrap(), whole(&all), "{mem} {spooled:?}");
    }
    // Only memory entries: no run at all.
    let dir = tempfile::tempdir().unwrap();
    let mut s = Stream::new(dir.path(), 1);
    s.absorb([entry(20, 1, "b"), entry(10, 1, "a")]);
    let dest = dir.path().join("x.har");
    s.export(&dest).unwrap();
    assert_eq!(
        fs::read(&dest).unwrap(),
        whole(&[entry(20, 1, "b"), entry(10, 1, "a")])
    );
}

#[test]
fn a_failed_merge_leaves_the_stream_intact_to_append_and_retry() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Stream::new(dir.path(), 1);
    let mut all = run(1, 20);
    s.append(run(1, 20));
    // The last late entry ties with the run's last and sorts after it: the run's last
    // entry is read, not copied, so the copies leave the run's cursor before its end.
    s.append(vec![entry(150, 2, "late"), entry(190, 1, "zz")]);
    all.extend([entry(150, 2, "late"), entry(190, 1, "zz")]);
    // A non-empty folder under the final name: the prefix is copied, then the rename fails.
    let dest = dir.path().join("x.har");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("keep"), b"x").unwrap();
    assert!(s.export(&dest).is_err());
    fs::remove_dir_all(&dest).unwrap();
    // The run appends where it did (its cursor is back at its end), then exports whole.
    s.append(run(20, 25));
    s.append(vec![entry(45, 2, "later")]);
    all.extend(run(20, 25));
    all.push(entry(45, 2, "later"));
    let done = s.export(&dest).unwrap();
    assert!(done.merged);
    assert_eq!(
        String::from_utf8_lossy(&fs::read(&dest).unwrap()),
        String::from_utf8_lossy(&whole(&all))
    );
}

#[test]
fn random_arrivals_merge_to_the_file_written_whole() {
    // Keys drawn from a small range so ties on the key are frequent.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    for _ in 0..300 {
        let n = 1 + next(40) as usize;
        let batches: Vec<Vec<Entry>> = (0..1 + next(5))
            .map(|_| {
                let mut b: Vec<Entry> = (0..next(n as u64))
                    .map(|_| {
                        let body = format!("{}", next(3));
                        entry(next(20) as i64, next(2), &body)
                    })
                    .collect();
                b.sort();
                b
            })
            .collect();
        let late = {
            let mut last: Option<Key> = None;
            batches.iter().flatten().any(|e| {
                let l = last.is_some_and(|l| e.key <= l);
                if !l {
                    last = Some(e.key);
                }
                l
            })
        };
        if batches.iter().all(|b| b.is_empty()) {
            continue;
        }
        check(&batches, late);
    }
}
