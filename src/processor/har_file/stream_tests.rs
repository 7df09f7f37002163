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
    check_export(batches, merged, false).0
}

/// As `check`; with `fail_fold`, every merge in place fails while appending the merged
/// part to the cut run (`fold_late_into_run`) until the last export, which must still
/// give the whole file. `merged`: some merge happened (in place while appending, or at
/// export). Returns the file, what its export said and the bytes merged in place while
/// appending.
fn check_export(batches: &[Vec<Entry>], merged: bool, fail_fold: bool) -> (Vec<u8>, Exported, u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Stream::new(dir.path(), 1);
    s.fail_fold_append = fail_fold;
    let mut all = Vec::new();
    let mut folded = 0;
    for b in batches {
        all.extend(b.iter().map(copy));
        let out = s.append(b.iter().map(copy).collect());
        // Only the merge in place fails: every entry is on disk.
        assert!(fail_fold || out.error.is_none());
        assert_eq!(out.unwritten_bytes, 0);
        folded += out.rewritten;
    }
    let dest = dir.path().join("x.har");
    let mut first = None;
    if fail_fold {
        match s.export(&dest) {
            // No merge in place was tried: exported.
            Ok(done) => first = Some(done),
            Err(_) => assert!(!dest.exists(), "no final file from a failed export"),
        }
        s.fail_fold_append = false;
    }
    let done = match first {
        Some(done) => done,
        None => s.export(&dest).unwrap(),
    };
    let got = fs::read(&dest).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&whole(&all))
    );
    assert_eq!(done.bytes, got.len() as u64);
    assert_eq!(done.merged || folded > 0, merged);
    assert!(done.rewritten <= done.bytes);
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "temporary files removed");
    (got, done, folded)
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
    // The run appends at the end of what it holds, then exports whole.
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
    let mut folded = 0;
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
        let (got, done, in_place) = check_export(&batches, late, false);
        folded += u32::from(in_place > 0 || (done.merged && done.rewritten < got.len() as u64));
        check_export(&batches, late, true);
    }
    assert!(folded > 10, "merged in place {folded} times");
}

#[test]
fn late_entries_near_the_end_are_merged_in_place_not_by_copying_the_file() {
    // 200 entries, two late ones among the last ten: only the end is rewritten, as they
    // come; the export renames the run.
    let (got, done, in_place) = check_export(
        &[
            run(1, 200),
            vec![entry(1_915, 2, "a"), entry(1_985, 1, "zz")],
        ],
        true,
        false,
    );
    assert!(!done.merged);
    assert!(
        in_place > 0 && in_place * 10 < got.len() as u64,
        "{in_place} of {} bytes rewritten",
        got.len()
    );
    // Late entries in the first half: the whole file is merged into a new one at export.
    let (got, done, in_place) = check_export(&[run(1, 200), vec![entry(15, 2, "a")]], true, false);
    assert_eq!((done.rewritten, in_place), (got.len() as u64, 0));
    // Nothing late: nothing rewritten.
    let (_, done, in_place) = check_export(&[run(1, 200)], false, false);
    assert_eq!((done.rewritten, in_place), (0, 0));
}

#[test]
fn a_failed_merge_in_place_loses_nothing_and_the_stream_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Stream::new(dir.path(), 1);
    let mut all = run(1, 200);
    s.append(run(1, 200));
    let late = vec![entry(1_915, 2, "a"), entry(1_985, 1, "zz")];
    all.extend(late.iter().map(copy));
    s.fail_fold_append = true;
    let out = s.append(late);
    assert!(out.error.is_some(), "the merge in place failed");
    assert_eq!((out.written, out.late, out.unwritten_bytes), (2, 2, 0));
    s.fail_fold_append = false;
    // The run was cut and the merged part became the late spool: more entries in order and
    // late ones still go where they belong.
    s.append(run(200, 210));
    s.append(vec![entry(1_500, 3, "later"), entry(2_055, 0, "later")]);
    all.extend(run(200, 210));
    all.extend([entry(1_500, 3, "later"), entry(2_055, 0, "later")]);
    let dest = dir.path().join("x.har");
    s.export(&dest).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&fs::read(&dest).unwrap()),
        String::from_utf8_lossy(&whole(&all))
    );
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "temporary files removed");
}

#[test]
fn after_a_merge_in_place_the_index_still_finds_every_entry() {
    // The merge in place succeeds, then the rename fails (a folder under the final name):
    // the next export merges new late entries through the rewritten index, ties included.
    let dir = tempfile::tempdir().unwrap();
    let mut s = Stream::new(dir.path(), 1);
    let mut all = run(1, 200);
    s.append(run(1, 200));
    let late = vec![entry(1_905, 2, "a"), entry(1_950, 1, "a")];
    all.extend(late.iter().map(copy));
    s.append(late);
    let dest = dir.path().join("x.har");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("keep"), b"x").unwrap();
    assert!(s.export(&dest).is_err());
    fs::remove_dir_all(&dest).unwrap();
    // Ties with a run entry before the cut, a moved run entry and a merged late one.
    let more = vec![
        entry(1_850, 1, "zz"),
        entry(1_905, 2, "0"),
        entry(1_960, 1, "a"),
        entry(1_950, 1, "b"),
    ];
    all.extend(more.iter().map(copy));
    s.append(more);
    let done = s.export(&dest).unwrap();
    assert!(done.merged);
    assert_eq!(
        String::from_utf8_lossy(&fs::read(&dest).unwrap()),
        String::from_utf8_lossy(&whole(&all))
    );
}
