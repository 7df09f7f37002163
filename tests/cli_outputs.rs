//! Where a run's files go (issue 13): every file a run writes lands under `-output-folder`
//! unless its flag gives an absolute path, and a refused run (exit status 2) leaves nothing
//! behind, not even an empty output folder, whichever step refused it.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pcap() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/real-curl.pcap")
}

fn run_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_httshark"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run httshark")
}

/// Every path under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        if p.is_dir() {
            out.extend(tree(&p).into_iter().map(|s| format!("{rel}/{s}")));
        }
        out.push(rel);
    }
    out.sort();
    out
}

#[test]
fn the_readme_main_job_writes_everything_under_the_output_folder() {
    // The README's command, with no CSV paths: the CSVs go beside the HAR files.
    let cwd = tempfile::tempdir().unwrap();
    let o = run_in(
        cwd.path(),
        &[
            "-file",
            pcap().to_str().unwrap(),
            "-hosts",
            ":8080",
            "-output-folder",
            "out",
            "-har-processors",
            "file,sites-stats,transactions-sizes",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let all = tree(cwd.path());
    assert!(all.iter().all(|p| p.starts_with("out")), "{all:?}");
    for f in [
        "statistics.csv",
        "requests_sizes.csv",
        "responses_sizes.csv",
    ] {
        let p = cwd.path().join("out").join(f);
        assert!(fs::metadata(&p).unwrap().len() > 0, "{p:?}");
    }
    assert!(all.iter().any(|p| p.ends_with(".har")), "{all:?}");
}

#[test]
fn relative_paths_resolve_under_the_output_folder_absolute_ones_stay() {
    let cwd = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let abs_stats = elsewhere.path().join("stats/sites.csv");
    let o = run_in(
        cwd.path(),
        &[
            "-file",
            pcap().to_str().unwrap(),
            "-hosts",
            ":8080",
            "-output-folder",
            "runs/one",
            "-har-processors",
            "file,sites-stats,transactions-sizes,sampled-transactions,ndjson",
            "-sites-stats-file",
            abs_stats.to_str().unwrap(),
            "-requests-sizes-stats-file",
            "csv/req.csv",
            "-sampled-transactions-folder",
            "samples",
            "-sample-transactions-rate",
            "1000",
            "-ndjson-file",
            "entries.ndjson",
            "-log-snapshot-amount",
            "10",
            "-log-snapshot-level",
            "5",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let all = tree(cwd.path());
    assert!(all.iter().all(|p| p.starts_with("runs")), "{all:?}");
    let one = cwd.path().join("runs/one");
    for f in [
        "csv/req.csv",
        "responses_sizes.csv",
        "entries.ndjson",
        "snapshot.log",
    ] {
        assert!(
            one.join(f).is_file(),
            "{f} not under the output folder: {all:?}"
        );
    }
    assert!(
        fs::read_dir(one.join("samples")).unwrap().count() > 0,
        "{all:?}"
    );
    assert!(!one.join("sites.csv").exists() && !one.join("statistics.csv").exists());
    assert!(fs::metadata(&abs_stats).unwrap().len() > 0);
}

#[test]
fn the_help_says_where_relative_paths_go() {
    let o = run_in(Path::new("."), &["--help"]);
    let help = String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    for flag in [
        "--sites-stats-file",
        "--requests-sizes-stats-file",
        "--responses-sizes-stats-file",
        "--sampled-transactions-folder",
        "--ndjson-file",
        "--log-snapshot-file",
    ] {
        let at = help.find(flag).unwrap_or_else(|| panic!("{flag} missing"));
        let block = &help[at..];
        let end = block[2..].find(" --").map_or(block.len(), |i| i + 2);
        assert!(
            block[..end].contains("relative: under -output-folder"),
            "{flag}: {}",
            &block[..end]
        );
    }
}

/// Runs `args` (after `-output-folder <cwd>/a/b/out`) in a fresh folder holding only what
/// `setup` made, and checks the run is refused with exit status 2 and leaves the folder as
/// it was: no output folder, no parent of it, no file.
fn assert_refused_leaves_nothing(setup: impl Fn(&Path), args: &[&str], needle: &str) {
    let cwd = tempfile::tempdir().unwrap();
    setup(cwd.path());
    let before = tree(cwd.path());
    let mut all = vec!["-output-folder", "a/b/out"];
    all.extend_from_slice(args);
    let o = run_in(cwd.path(), &all);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
    assert_eq!(tree(cwd.path()), before, "{args:?} left files: {stderr}");
}

#[test]
fn a_refused_run_creates_nothing() {
    let none = |_: &Path| {};
    let garbage =
        |d: &Path| fs::write(d.join("garbage.pcap"), b"this is not a capture file").unwrap();
    let fixture = pcap();
    let fixture = fixture.to_str().unwrap();
    // Refused by the command line.
    assert_refused_leaves_nothing(none, &["-file", fixture, "-export-interval=10x"], "10x");
    assert_refused_leaves_nothing(
        none,
        &["-file", fixture, "-har-processors", "file,nosuch"],
        "nosuch",
    );
    assert_refused_leaves_nothing(none, &["-file", "nope.pcap"], "nope.pcap");
    // Refused once the outputs are open: the capture is not a pcap file (with every
    // processor that creates something before the capture, and the log snapshot).
    assert_refused_leaves_nothing(garbage, &["-file", "garbage.pcap"], "garbage.pcap");
    assert_refused_leaves_nothing(
        garbage,
        &[
            "-file",
            "garbage.pcap",
            "-har-processors",
            "file,sites-stats,transactions-sizes,sampled-transactions,ndjson",
            "-ndjson-file",
            "n/entries.ndjson",
            "-log-snapshot-amount",
            "10",
            "-log-snapshot-level",
            "5",
        ],
        "garbage.pcap",
    );
    // An unwritable statistics path (under a plain file).
    let plain = |d: &Path| fs::write(d.join("plain"), b"x").unwrap();
    for flag in ["-sites-stats-file", "-requests-sizes-stats-file"] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("plain"), b"x").unwrap();
        let bad = dir.path().join("plain/x.csv");
        assert_refused_leaves_nothing(
            plain,
            &[
                "-file",
                fixture,
                "-har-processors",
                "file,sites-stats,transactions-sizes",
                flag,
                bad.to_str().unwrap(),
            ],
            "plain",
        );
    }
    // A metrics address that can't be listened on.
    assert_refused_leaves_nothing(
        none,
        &["-file", fixture, "-metrics-listen", "256.1.1.1:1"],
        "metrics",
    );
}
