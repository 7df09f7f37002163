//! docs/counters.md is generated from the counters' doc comments (`crate::counters!`): it
//! must match what the code renders, and the counters a run reports (summary and metrics)
//! must be exactly the documented ones, every one exported at 0 from the first scrape.
//!
//! `HTTSHARK_BLESS=1 cargo test --test counters_doc` (or `scripts/counters-doc.sh`)
//! rewrites docs/counters.md; nothing else writes into the source tree.
// Tests may read the clock (deadlines); clippy.toml keeps it out of the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use common::*;
use httshark::counters::{render_markdown, stages};

const DOC: &str = "docs/counters.md";

#[test]
fn counters_md_is_generated_from_the_code() {
    let path = repo().join(DOC);
    let rendered = render_markdown();
    if std::env::var_os("HTTSHARK_BLESS").is_some_and(|v| v == "1") {
        let tmp = path.with_extension("md.tmp");
        std::fs::write(&tmp, &rendered).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != rendered {
        let first = committed
            .lines()
            .zip(rendered.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || "one file is a prefix of the other".to_string(),
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "{DOC} differs from the counters' doc comments ({first}); run \
             `scripts/counters-doc.sh` (HTTSHARK_BLESS=1 cargo test --test counters_doc) \
             and commit the result"
        );
    }
}

/// Every processor that has counters, with its outputs under `dir`.
fn all_processors(dir: &Path) -> Vec<String> {
    let d = |name: &str| dir.join(name).to_str().unwrap().to_string();
    vec![
        "-har-processors".into(),
        "file,sampled-transactions,sites-stats,transactions-sizes,ndjson".into(),
        "-output-folder".into(),
        d("har"),
        "-har".into(),
        d("all.har"),
        "-sampled-transactions-folder".into(),
        d("sampled"),
        "-sites-stats-file".into(),
        d("sites.csv"),
        "-requests-sizes-stats-file".into(),
        d("req.csv"),
        "-responses-sizes-stats-file".into(),
        d("resp.csv"),
        "-ndjson-file".into(),
        d("out.ndjson"),
        "-ui".into(),
        "127.0.0.1:0".into(),
    ]
}

/// Every documented counter, in the docs' order (the processors in the order above).
fn documented() -> Vec<&'static str> {
    stages()
        .iter()
        .flat_map(|s| s.counters.iter().map(|(name, _)| *name))
        .collect()
}

#[test]
fn a_run_reports_exactly_the_documented_counters() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = repo().join("fixtures/generated-small.pcap");
    let mut args = vec!["httshark".to_string(), "-file".into()];
    args.push(pcap.to_str().unwrap().into());
    args.push("-hosts=".into());
    args.extend(all_processors(dir.path()));
    let config = httshark::cli::prepare(args).unwrap().config;
    let mut outputs = httshark::processor::build(
        &config.processors,
        config.memory_shares().held(),
        true,
        config.har.as_deref(),
    )
    .unwrap();
    let shared = outputs.metrics.clone().unwrap();
    // The view's processor, as main adds it for -ui (its server is not needed here).
    let ui = httshark::ui::Shared::new(config.ui.as_ref().unwrap(), shared.clone(), 1 << 30);
    let ui = httshark::ui::processor::UiProcessor::new(ui, String::new());
    shared.set_counters(&httshark::ui::processor::zeroes(&ui));
    outputs.processors.push(Box::new(ui));
    let at_start: Vec<(String, u64)> = shared.snapshot().counters;
    let source = httshark::capture::PacketSource::open(&config).unwrap();
    let summary = httshark::pipeline::run_until(
        &config,
        source,
        outputs,
        httshark::pipeline::Keys::load(&config).unwrap(),
        &AtomicBool::new(false),
    )
    .unwrap();

    let names: Vec<&str> = summary.counters.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, documented(), "summary counters vs {DOC}");
    assert!(summary.get("transactions") > 0, "the fixture has traffic");

    // The metrics: every counter registered at 0 before the run, in the same order, and
    // the same set (with the run's values) after it.
    let start_names: Vec<&str> = at_start.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(start_names, documented(), "metrics at start vs {DOC}");
    assert!(at_start.iter().all(|(_, v)| *v == 0), "{at_start:?}");
    let end = shared.snapshot().counters;
    let end_names: Vec<&str> = end.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(end_names, documented(), "metrics at the end vs {DOC}");
    for (name, value) in &end {
        // The metrics' last report comes before the capture's final drop statistics.
        if !name.ends_with("_dropped") {
            assert_eq!(*value, summary.get(name), "{name}: metrics vs summary");
        }
    }
}

fn scrape(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    Some(body.to_string())
}

/// `httshark_<name>_total` samples and gauges of an exposition, name -> value.
fn samples(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.contains('{'))
        .filter_map(|l| l.split_once(' '))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn every_counter_is_exported_from_the_first_scrape() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // Standard input stays empty: the capture has not even read the pcap header, so no
    // stats interval can have passed when the scrape comes.
    let mut child = Command::new(bin())
        .args(["-file", "-", "-hosts=", "-stats-interval", "1h"])
        .args(all_processors(dir.path()))
        .args(["-metrics-listen", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    let start = Instant::now();
    let body = loop {
        if let Some(body) = scrape(port) {
            break body;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("no /metrics within 10 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };

    let exported = samples(&body);
    let counters: BTreeSet<&str> = exported
        .iter()
        .filter_map(|(n, _)| n.strip_prefix("httshark_")?.strip_suffix("_total"))
        .filter(|n| !n.starts_with("metrics_site_"))
        .collect();
    let docs: BTreeSet<&str> = documented().into_iter().collect();
    assert_eq!(counters, docs, "first scrape vs {DOC}:\n{body}");
    for (name, value) in &exported {
        if name != "httshark_memory_bytes" {
            assert_eq!(value, "0", "{name} at start:\n{body}");
        }
    }
    for gauge in ["open_connections", "pending_requests", "buffered_bytes"] {
        let metric = format!("httshark_{gauge}");
        assert!(exported.iter().any(|(n, _)| *n == metric), "{metric}");
    }
    // HELP is the counter's doc, pointing at the file.
    assert!(
        body.contains(
            "# HELP httshark_packets_total Frames read from the source (that matched the \
             capture filter). (docs/counters.md)\n"
        ),
        "{body}"
    );
    if let Ok(o) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut p| {
            p.stdin.take().unwrap().write_all(body.as_bytes())?;
            p.wait_with_output()
        })
    {
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(o.status.success() && report.trim().is_empty(), "{report}");
    } else {
        assert!(std::env::var_os("CI").is_none(), "promtool not available");
    }

    // Feed the capture and end it: the run completes normally.
    let mut stdin = stdin;
    stdin
        .write_all(&std::fs::read(repo().join("fixtures/generated-small.pcap")).unwrap())
        .unwrap();
    drop(stdin);
    // With -ui the view stays up after the end of the input until SIGINT/SIGTERM.
    let start = Instant::now();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("the view stays up") {
        let n = stderr.read(&mut buf).unwrap();
        assert!(
            n > 0 && start.elapsed() < Duration::from_secs(30),
            "{}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    // SAFETY: kill(2) on the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&seen));
}
