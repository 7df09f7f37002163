//! Conformance with the public corpus in ../shared/corpus: httshark's HAR output against
//! every row of expected.tsv (the transactions mature peers report). Prints a score table,
//! writes it under the target directory (`$CARGO_TARGET_TMPDIR/conformance.md`, never into
//! the source tree; `scripts/conformance-update.sh` copies it to docs/conformance.md), and
//! fails on any regression from
//! tests/conformance_baseline.tsv. Known disagreements are listed with their reason in
//! tests/conformance_known.tsv and shown in the table, never skipped silently.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

use common::*;
use httshark::capture::{Next, PacketSource};
use httshark::config::{Config, Source};
use httshark::wire::{self, Decoded};

#[derive(Debug, Clone)]
struct Row {
    capture: String,
    source: String,
    conn: Option<usize>,
    depth: Option<usize>,
    method: String,
    host: String,
    uri: String,
    status: String,
    resp_body_len: String,
    req_body_len: String,
    exactness: String,
}

fn read_rows(corpus: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(corpus.join("expected.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let (c_cap, c_src, c_conn, c_depth) =
        (col("capture"), col("source"), col("conn"), col("depth"));
    let (c_m, c_h, c_u, c_s) = (col("method"), col("host"), col("uri"), col("status"));
    let (c_rb, c_qb, c_x) = (col("resp_body_len"), col("req_body_len"), col("exactness"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let g = |i: usize| f.get(i).copied().unwrap_or("").to_string();
            Row {
                capture: g(c_cap),
                source: g(c_src),
                conn: g(c_conn).parse().ok(),
                depth: g(c_depth).parse().ok(),
                method: g(c_m),
                host: g(c_h),
                uri: g(c_u),
                status: g(c_s),
                resp_body_len: g(c_rb),
                req_body_len: g(c_qb),
                exactness: g(c_x),
            }
        })
        .collect()
}

/// tshark's tcp.stream numbering: TCP connections in order of their first packet.
fn stream_index(pcap: &Path) -> HashMap<(String, String), usize> {
    let config = Config {
        source: Source::File(pcap.to_path_buf()),
        bpf: String::new(),
        ..Config::default()
    };
    let mut src = PacketSource::open(&config).expect("open capture");
    let link = src.link_type();
    let mut map = HashMap::new();
    loop {
        match src.next() {
            Next::Packet(p) => {
                if let Ok(Decoded::Tcp(seg)) = wire::decode(link, p.data) {
                    let (a, b) = (seg.src.to_string(), seg.dst.to_string());
                    let key = if a <= b { (a, b) } else { (b, a) };
                    let n = map.len();
                    map.entry(key).or_insert(n);
                }
            }
            Next::Idle { .. } | Next::Filtered => {}
            Next::End { .. } => break,
        }
    }
    map
}

fn conn_of(seen: &Seen, streams: &HashMap<(String, String), usize>) -> Option<usize> {
    let fix = |s: &str| {
        // HAR has IPv6 without brackets: rebuild "[ip]:port".
        let (ip, port) = s.rsplit_once(':').unwrap_or((s, ""));
        if ip.contains(':') {
            format!("[{ip}]:{port}")
        } else {
            s.to_string()
        }
    };
    let (a, b) = (fix(&seen.client), fix(&seen.server));
    let key = if a <= b { (a, b) } else { (b, a) };
    streams.get(&key).copied()
}

fn strip_port(h: &str) -> &str {
    if h.starts_with('[') {
        return h.find(']').map_or(h, |i| &h[..=i]);
    }
    match h.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => h,
    }
}

/// Whether the entry switched protocols on its way: a 101 among its interim responses.
fn switched(seen: &Seen) -> bool {
    seen.raw["_interimResponses"]
        .as_array()
        .is_some_and(|a| a.iter().any(|i| i["status"] == 101))
}

/// The fields of `row` that `seen` gets wrong (empty fields in the row are not compared).
fn mismatches(row: &Row, seen: &Seen) -> Vec<String> {
    let mut bad = Vec::new();
    let mut check = |name: &str, want: &str, got: String| {
        if !want.is_empty() && want != got {
            bad.push(format!("{name} {want:?}!={got:?}"));
        }
    };
    check("method", &row.method, seen.method.clone());
    let host = seen.host.clone().unwrap_or_default();
    let host = if row.source == "suricata" {
        strip_port(&host).to_string()
    } else {
        host
    };
    check("host", &row.host, host);
    check("uri", &row.uri, seen.target.clone());
    // No response: empty; an HTTP/0.9 reply: 0 (Zeek's code for it).
    let status = if !seen.answered {
        String::new()
    } else if row.status == "101" && switched(seen) {
        // An h2c Upgrade (issue 11): peers stop at the 101 that HTTP/1 ends with; the
        // entry goes on to stream 1's final response and keeps the 101 as an interim.
        "101".to_string()
    } else {
        seen.status.to_string()
    };
    check("status", &row.status, status);
    check(
        "resp_body_len",
        &row.resp_body_len,
        seen.resp_content.max(0).to_string(),
    );
    check(
        "req_body_len",
        &row.req_body_len,
        seen.req_body.max(0).to_string(),
    );
    bad
}

struct Score {
    source: String,
    rows: usize,
    matched: usize,
    problems: Vec<String>,
}

fn score_capture(
    rows: &[&Row],
    seen: &[Seen],
    streams: &HashMap<(String, String), usize>,
) -> Score {
    let mut score = Score {
        source: rows[0].source.clone(),
        rows: 0,
        matched: 0,
        problems: Vec::new(),
    };
    // A capture with no HTTP/1.x at all: one row with empty fields; right when nothing is seen.
    if rows.len() == 1
        && rows[0].method.is_empty()
        && rows[0].uri.is_empty()
        && rows[0].status.is_empty()
        && rows[0].host.is_empty()
    {
        score.rows = 1;
        if seen.is_empty() {
            score.matched = 1;
        } else {
            score
                .problems
                .push(format!("expected no HTTP/1.x, saw {} entries", seen.len()));
        }
        return score;
    }
    let mut used = vec![false; seen.len()];
    // Rows for one transaction (conn + depth) first, then count-only rows.
    for row in rows.iter().filter(|r| r.exactness != "count_only") {
        score.rows += 1;
        let candidates: Vec<usize> = match row.conn {
            Some(c) => (0..seen.len())
                .filter(|&i| conn_of(&seen[i], streams) == Some(c))
                .collect(),
            None => (0..seen.len()).collect(),
        };
        // The depth-th transaction of that connection, else the first unused one whose
        // method and uri agree.
        let by_depth = row
            .depth
            .and_then(|d| candidates.get(d.wrapping_sub(1)).copied())
            .filter(|&i| !used[i]);
        let pick = by_depth
            .filter(|&i| mismatches(row, &seen[i]).is_empty())
            .or_else(|| {
                candidates
                    .iter()
                    .copied()
                    .find(|&i| !used[i] && mismatches(row, &seen[i]).is_empty())
            })
            .or(by_depth);
        match pick {
            Some(i) => {
                let bad = mismatches(row, &seen[i]);
                used[i] = true;
                if bad.is_empty() {
                    score.matched += 1;
                } else {
                    score.problems.push(format!(
                        "conn {:?} depth {:?}: {}",
                        row.conn,
                        row.depth,
                        bad.join(", ")
                    ));
                }
            }
            None => score.problems.push(format!(
                "conn {:?} depth {:?} {} {}: no transaction",
                row.conn, row.depth, row.method, row.uri
            )),
        }
    }
    let mut groups: BTreeMap<Vec<String>, Vec<&Row>> = BTreeMap::new();
    for row in rows.iter().filter(|r| r.exactness == "count_only") {
        let key = vec![
            row.method.clone(),
            row.host.clone(),
            row.uri.clone(),
            row.status.clone(),
            row.resp_body_len.clone(),
        ];
        groups.entry(key).or_default().push(row);
    }
    for (key, group) in groups {
        let row = group[0];
        let found = (0..seen.len())
            .filter(|&i| !used[i] && mismatches(row, &seen[i]).is_empty())
            .take(group.len())
            .collect::<Vec<_>>();
        for &i in &found {
            used[i] = true;
        }
        score.rows += group.len();
        score.matched += found.len();
        if found.len() < group.len() {
            let close: Vec<String> = seen
                .iter()
                .map(|s| mismatches(row, s).join(", "))
                .filter(|m| !m.is_empty())
                .take(2)
                .collect();
            score.problems.push(format!(
                "{}x {:?}: found {} ({})",
                group.len(),
                key,
                found.len(),
                close.join(" | ")
            ));
        }
    }
    score
}

fn read_tsv_map(path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            l.split_once('\t')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        })
        .collect()
}

#[test]
fn conformance_with_public_corpus() {
    let Some(corpus) = corpus() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have ../shared/corpus beside the repository"
        );
        eprintln!("SKIPPED conformance: ../shared/corpus is absent");
        return;
    };
    let rows = read_rows(&corpus);
    let mut by_capture: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        by_capture.entry(r.capture.clone()).or_default().push(r);
    }
    let baseline = read_tsv_map(&repo().join("tests/conformance_baseline.tsv"));
    let known = read_tsv_map(&repo().join("tests/conformance_known.tsv"));

    let mut table = String::new();
    let mut regressions = Vec::new();
    let mut new_baseline = String::from("# capture\tmatched rows (regenerated by tests/conformance.rs; a lower number fails the test)\n");
    let (mut total_rows, mut total_matched, mut exact_captures) = (0, 0, 0);
    for (capture, rows) in &by_capture {
        let pcap = ["pcap", "pcapng"]
            .iter()
            .map(|x| corpus.join(format!("pcaps/{capture}.{x}")))
            .find(|p| p.is_file());
        let Some(pcap) = pcap else {
            regressions.push(format!("{capture}: capture file missing"));
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec![
            "-file".to_string(),
            pcap.display().to_string(),
            "-output-folder".to_string(),
            dir.path().display().to_string(),
            "-hosts=".to_string(),
            "-split-by-host=false".to_string(),
        ];
        // The corpus's key log for a TLS capture (keys/<capture>.keylog): decrypted as a user
        // with SSLKEYLOGFILE would (issue 10).
        let keylog = corpus.join(format!("keys/{capture}.keylog"));
        if keylog.is_file() {
            args.push("-tls-keylog".to_string());
            args.push(keylog.display().to_string());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&args);
        let seen = if out.status.success() {
            read_entries(dir.path())
        } else {
            Vec::new()
        };
        let mut score = score_capture(rows, &seen, &stream_index(&pcap));
        if !out.status.success() {
            score.problems.insert(
                0,
                format!(
                    "httshark failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            );
        }
        total_rows += score.rows;
        total_matched += score.matched;
        if score.matched == score.rows {
            exact_captures += 1;
        }
        let want: usize = baseline
            .get(capture)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if score.matched < want {
            regressions.push(format!(
                "{capture}: {} of {} rows match, baseline {want}: {}",
                score.matched,
                score.rows,
                score.problems.join("; ")
            ));
        }
        let _ = writeln!(new_baseline, "{capture}\t{}", score.matched);
        let mut notes = score.problems.join("; ").replace('|', "\\|");
        if let Some(reason) = known.get(capture) {
            notes = format!(
                "**known:** {reason}{}{notes}",
                if notes.is_empty() { "" } else { " — " }
            );
        }
        let mark = if score.matched == score.rows {
            "yes"
        } else {
            "no"
        };
        let _ = writeln!(
            table,
            "| {capture} | {} | {} | {} | {mark} | {notes} |",
            score.source, score.rows, score.matched
        );
    }
    let doc = format!(
        "# Conformance with the public corpus\n\n\
         Generated by `tests/conformance.rs` (part of the test suite; `scripts/conformance-update.sh`\n\
         copies its result here): httshark runs on every capture in\n\
         `../shared/corpus/pcaps` (`-hosts=` so every TCP connection is watched) and its HAR entries are\n\
         compared with every row of `expected.tsv` — method, host, URI, final status, decoded response\n\
         body length and request body length, wherever the row states them. Rows marked `count_only`\n\
         are compared by count. A capture whose matched count drops below `tests/conformance_baseline.tsv`\n\
         fails the suite; known disagreements and their reasons are in `tests/conformance_known.tsv`.\n\n\
         **{total_matched} of {total_rows} rows match; {exact_captures} of {} captures are exact.**\n\n\
         | capture | source | rows | matched | exact | notes |\n|---|---|---|---|---|---|\n{table}",
        by_capture.len()
    );
    println!("{doc}");
    // Under the target directory, never the source tree: a test run leaves git clean and
    // works on a read-only checkout. scripts/conformance-update.sh copies these to docs/.
    let out = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(out.join("conformance.md"), doc).unwrap();
    std::fs::write(out.join("conformance_baseline.new.tsv"), new_baseline).unwrap();
    assert!(
        regressions.is_empty(),
        "conformance regressions:\n{}",
        regressions.join("\n")
    );
}
