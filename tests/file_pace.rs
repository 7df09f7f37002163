//! `-file-pace`: a capture file read at its packets' pace (times a factor) takes that long
//! and gives the same output as read at full speed; bad factors and live captures are
//! refused.
// Tests read the clock (how long a paced run took); clippy.toml keeps it out of the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::*;

fn fixture() -> PathBuf {
    // 1.16 s of capture time (capinfos), 38 transactions.
    repo().join("fixtures/generated-small.pcap")
}

fn har_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "har"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_paced_file_takes_its_capture_time_and_gives_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let (fast, paced) = (dir.path().join("fast"), dir.path().join("paced"));
    let t = Instant::now();
    run_file(&fixture(), &fast, &[]);
    let fast_took = t.elapsed();
    let t = Instant::now();
    // 1.16 s of packets at twice their pace: at least 0.58 s.
    run_file(&fixture(), &paced, &["-file-pace", "2"]);
    let paced_took = t.elapsed();
    assert!(
        paced_took >= Duration::from_millis(560),
        "paced run took {paced_took:?} (unpaced {fast_took:?})"
    );
    assert!(
        paced_took < Duration::from_secs(20),
        "paced run took {paced_took:?}"
    );
    let (a, b) = (har_files(&fast), har_files(&paced));
    assert!(!a.is_empty());
    assert_eq!(a, b, "the pace changed the HAR files");
}

#[test]
fn bad_pace_factors_and_live_captures_are_refused() {
    for bad in ["-1", "nan", "inf", "fast", "2000000"] {
        let o = run(&["-file", fixture().to_str().unwrap(), "-file-pace", bad]);
        assert_eq!(o.status.code(), Some(2), "-file-pace {bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("pace factor"), "{bad}: {err}");
    }
    let o = run(&["-device", "lo", "-file-pace", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-file-pace paces a capture file"));
}
