//! Replays the committed fuzz corpus (`fuzz/regressions/<target>/`) through every fuzz
//! target's oracle (`httshark::fuzzing`, the code the targets run under libFuzzer) on
//! stable, without a sanitizer, in the normal `cargo test` (issue 16): a bug a target found
//! stays fixed, and an oracle that stops compiling or starts failing on its seeds is seen
//! in CI. Each target's directory holds the inputs that once failed (named after the bug)
//! and a few seeds that reach its main paths; docs/robustness.md says how they were chosen.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use httshark::fuzzing::TARGETS;

fn dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target)
}

/// Runs every file of the target's directory; fails naming each input that panicked.
fn replay(target: &str) {
    let check = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap_or_else(|| panic!("no oracle for target {target}"))
        .1;
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir(target))
        .unwrap_or_else(|e| panic!("fuzz/regressions/{target}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "fuzz/regressions/{target} is empty");
    let failed: Vec<String> = files
        .iter()
        .filter(|f| {
            let data = std::fs::read(f).unwrap();
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(failed.is_empty(), "{target}: inputs failing: {failed:#?}");
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*
        /// Every target of fuzz/Cargo.toml has an oracle here, a test above and a directory.
        #[test]
        fn every_fuzz_target_is_replayed() {
            let tested = [$(stringify!($name)),*];
            let manifest = std::fs::read_to_string(
                Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/Cargo.toml"),
            )
            .unwrap();
            let bins: Vec<&str> = manifest
                .lines()
                .filter_map(|l| l.strip_prefix("name = \""))
                .filter_map(|l| l.strip_suffix('"'))
                .filter(|n| *n != "httshark-fuzz")
                .collect();
            assert!(bins.len() >= 12, "{bins:?}");
            for b in &bins {
                assert!(tested.contains(b), "fuzz target {b} is not replayed");
                assert!(TARGETS.iter().any(|(n, _)| n == b), "fuzz target {b}: no oracle");
                assert!(dir(b).is_dir(), "fuzz target {b}: no fuzz/regressions/{b}");
            }
            assert_eq!(bins.len(), TARGETS.len(), "an oracle without a fuzz target");
        }
    };
}

replay_tests!(
    decode,
    reassembly,
    http,
    pipeline,
    tls,
    keylog,
    h2,
    hpack,
    http_split,
    redact,
    body_select,
    hosts,
    h2_split,
    tls_split,
);

/// Issue 16: a chunked POST with a 607-byte trailer line (bound 512) had a body
/// `wire_len` of 610 fed whole and 516 byte by byte. The `http_split` oracle on it.
#[test]
fn issue16_over_long_trailer_line() {
    let data = std::fs::read(dir("http_split").join("issue16-over-long-trailer-line")).unwrap();
    httshark::fuzzing::http::check_split(&data);
}

/// Found by the `pipeline` target's sharded differential: a connection whose last segments
/// the causal window held until a tick (its worker saw no later segments to push them out)
/// was dated active at the tick, not when its segments were stamped, so one worker closed
/// it idle at a 600-million-second time jump and three workers did not
/// (`connections_idle_closed` 1 against 0). Activity is now the segment's own time.
#[test]
fn pipeline_idle_close_does_not_depend_on_workers() {
    let data =
        std::fs::read(dir("pipeline").join("workers-idle-close-after-causal-release")).unwrap();
    httshark::fuzzing::pipeline::check(&data);
}

/// Found by `tls_split` in its first 124 executions: after a loss the TLS framer's header
/// scan accepted a record that ended exactly at the end of the buffered bytes, so whether
/// the scan accepted it (or went on, when more bytes were already there and did not chain)
/// depended on where the segments ended: counted `tls_resync_failures` 2 and
/// `tls_framing_errors` 2 fed whole, 1 and 3 byte by byte. Such a record now waits for the
/// header after it, or for the direction's end (FIN, or the close: `Layer::on_end`).
#[test]
fn tls_resync_does_not_depend_on_segmentation() {
    let data =
        std::fs::read(dir("tls_split").join("resync-accepts-a-record-ending-at-the-buffer-end"))
            .unwrap();
    httshark::fuzzing::tls_split::check(&data);
}

/// Found by the `pipeline` target's sharded differential (2026-12-05): a connection whose
/// only segment was stamped 136 million seconds before another connection's went to the
/// front of the recency list, so with one worker the idle scan stopped at the other one
/// (not idle) and never saw it, while with three it was alone and closed idle
/// (`connections_idle_closed` 0 against 1). The list is now kept ordered by last activity.
#[test]
fn pipeline_idle_close_of_a_connection_stamped_earlier() {
    let data =
        std::fs::read(dir("pipeline").join("workers-idle-close-of-a-connection-stamped-earlier"))
            .unwrap();
    httshark::fuzzing::pipeline::check(&data);
}

/// Found by the `pipeline` target's sharded differential (2026-12-05): a SYN reusing a
/// 4-tuple (its sequence number 875 KB before the old connection's) joined the causal
/// window before the segments that were already due were released; with three workers the
/// old connection's request was due but still held when the SYN came, and the SYN went
/// first (it "must precede" it by sequence number), so the request landed on the new
/// connection; with one worker it had gone at an earlier packet. What is due goes now
/// before the new segment joins the window.
#[test]
fn pipeline_causal_window_release_does_not_depend_on_workers() {
    let data =
        std::fs::read(dir("pipeline").join("workers-reused-tuple-syn-ahead-of-due-segments"))
            .unwrap();
    httshark::fuzzing::pipeline::check(&data);
}

/// What the hand-made `pipeline` seeds of `fuzz/seed.sh` are for (issue 16, reach): 48 KB
/// out of order behind a hole on one connection pass the target's 32 KiB budget, so its
/// last step releases the connection's buffers early (the hole as a gap); a zstd body is
/// decoded (alone and under gzip), 30 bytes of zstd give 300 KB of zeros (under the default
/// `max_decoded_bytes`), a damaged one fails.
#[test]
fn pipeline_seeds_reach_the_early_release_and_zstd() {
    use httshark::model::Decoded;
    let run = |name: &str| {
        let data = std::fs::read(dir("pipeline").join(name)).unwrap();
        httshark::fuzzing::pipeline::run_one(&data).expect("a pcap")
    };
    for name in [
        "seed-ooo-past-the-budget",
        "seed-ooo-past-the-budget-hole-filled-late",
    ] {
        let (txs, c) = run(name);
        assert!(
            c.reassembly.memory_limit_buffers_released >= 1,
            "{name}: {c:?}"
        );
        assert_eq!(txs.len(), 1, "{name}");
        let body = &txs[0].response.as_ref().expect("a response").body;
        assert!(
            body.missing >= 1400,
            "{name}: the hole is a gap: {}",
            body.missing
        );
    }
    let decoded = |name: &str| {
        let (txs, _) = run(name);
        assert_eq!(txs.len(), 1, "{name}");
        let body = &txs[0].response.as_ref().expect("a response").body;
        assert!(body.content_encoding.iter().any(|c| c == "zstd"), "{name}");
        body.decoded.clone()
    };
    assert!(
        matches!(decoded("seed-zstd-body"), Decoded::Decoded { len: 293, .. }),
        "{:?}",
        decoded("seed-zstd-body")
    );
    assert!(matches!(
        decoded("seed-gzip-then-zstd"),
        Decoded::Decoded { len: 293, .. }
    ));
    assert!(matches!(
        decoded("seed-zstd-damaged"),
        Decoded::Failed { .. }
    ));
    assert!(matches!(
        decoded("seed-zstd-bomb"),
        Decoded::Decoded { len: 300_000, .. }
    ));
}

/// What the budget seeds of `fuzz/seed.sh` for `reassembly` are for (issue 16, reach):
/// under the target's 1.5 KiB budget, one connection with 1,000 bytes out of order behind
/// a hole is over it alone (its buffers are released early), two with 400 each pass it
/// together (one is evicted).
#[test]
fn reassembly_seeds_reach_every_budget_step() {
    let run = |name: &str| {
        let data = std::fs::read(dir("reassembly").join(name)).unwrap();
        httshark::fuzzing::reassembly::run(&data)
    };
    let c = run("seed-budget-early-release");
    assert!(c.memory_limit_buffers_released >= 1, "{c:?}");
    let c = run("seed-budget-eviction");
    assert!(c.memory_limit_evictions >= 1, "{c:?}");
}
