//! TLS decryption on the generator's TLS 1.3 captures (`httshark-gen --tls`): the same
//! scenario (seed and preset) written in plaintext and inside TLS with its key log must
//! give the same transactions, each exactly its ground truth (method, target, status,
//! head and body sizes, wire bytes), with `https://` URLs and `_tls`; every connection
//! with its hellos is decrypted, none fails authentication, and the midstream ones (no
//! ClientHello) are counted and give nothing. Without a key log nothing comes out.
//!
//! The generator seals with its own code (`httshark_gen::tls`, checked against RFC 8448),
//! so this checks httshark's decryption against an independent implementation.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use common::*;
use httshark_gen::http::ConnEnd;
use httshark_gen::scenario::{Event, Scenario};
use httshark_gen::{ExpectedTx, HttpParams, Suite, TlsParams};

/// One generated capture and what the generator says about it.
struct Generated {
    pcap: PathBuf,
    keys: Option<PathBuf>,
    truth: Vec<ExpectedTx>,
    /// Connections the capture joins midstream.
    midstream: HashSet<u32>,
    /// Connections ended by a reset.
    reset: HashSet<u32>,
    connections: usize,
}

/// Writes `preset` with `seed` (TLS with `suite` if given) through the generator's
/// command line into `dir`.
fn generate(
    dir: &Path,
    preset: &str,
    seed: u64,
    suite: Option<Suite>,
    extra: &[&str],
) -> Generated {
    let tag = suite.map_or("plain", |s| s.name());
    let pcap = dir.join(format!("{preset}-{tag}.pcap"));
    let tsv = dir.join(format!("{preset}-{tag}.tsv"));
    let keys = dir.join(format!("{preset}-{tag}.keys"));
    let seed_s = seed.to_string();
    let mut args: Vec<String> = [
        "httshark-gen",
        "--out",
        pcap.to_str().unwrap(),
        "--profile",
        preset,
        "--seed",
        &seed_s,
        "--expected",
        tsv.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(extra.iter().map(|a| a.to_string()));
    if let Some(s) = suite {
        args.extend([
            "--tls".to_string(),
            "--tls-keylog".to_string(),
            keys.to_str().unwrap().to_string(),
            "--tls-suite".to_string(),
            format!("0x{:04x}", s.id()),
        ]);
    }
    httshark_gen::cli::run_from(&args).unwrap();
    let truth = httshark_gen::parse_expected_tsv(&std::fs::read_to_string(&tsv).unwrap())
        .unwrap()
        .into_iter()
        .map(|(tx, _)| tx)
        .collect();
    // The same scenario again, for which connections are midstream (not in the TSV).
    let mut params = HttpParams::preset(preset, seed).unwrap();
    params.tls = suite.map(|suite| TlsParams {
        suite,
        ..TlsParams::default()
    });
    let (mut midstream, mut reset, mut connections) = (HashSet::new(), HashSet::new(), 0);
    for ev in Scenario::new(params, None) {
        if let Event::Conn(c) = ev {
            connections += 1;
            if c.midstream {
                midstream.insert(c.index);
            }
            if matches!(c.end, ConnEnd::ClientRst | ConnEnd::ServerRst) {
                reset.insert(c.index);
            }
        }
    }
    Generated {
        pcap,
        keys: suite.map(|_| keys),
        truth,
        midstream,
        reset,
        connections,
    }
}

/// Entries keyed by (client address, 0-based depth), as the ground truth numbers them.
fn by_client_depth(seen: &[Seen]) -> HashMap<(String, u32), Seen> {
    seen.iter()
        .map(|s| ((s.client.clone(), (s.depth - 1) as u32), s.clone()))
        .collect()
}

/// Every transaction of `truth` (but those of `skip` connections) is exactly in `seen`,
/// and `seen` has nothing else.
fn assert_exact(what: &str, truth: &[ExpectedTx], skip: &HashSet<u32>, seen: &[Seen]) {
    let map = by_client_depth(seen);
    let want: Vec<&ExpectedTx> = truth
        .iter()
        .filter(|t| !skip.contains(&t.conn_index))
        .collect();
    let errors: Vec<String> = want
        .iter()
        .filter_map(|tx| match map.get(&(client_key(tx), tx.depth)) {
            Some(s) => check_exact(tx, s).err(),
            None => Some(format!(
                "missing: {} {} (client {} depth {})",
                tx.method, tx.uri, tx.client, tx.depth
            )),
        })
        .collect();
    assert!(
        errors.is_empty(),
        "{what}: {} of {} wrong:\n{}",
        errors.len(),
        want.len(),
        errors.join("\n")
    );
    assert_eq!(seen.len(), want.len(), "{what}: no extra entries");
}

/// Runs httshark on `g` (with its key log unless `keys` is false); entries and stderr.
fn run(g: &Generated, out: &Path, keys: bool) -> (Vec<Seen>, String) {
    let mut extra = Vec::new();
    if let (true, Some(k)) = (keys, &g.keys) {
        // With the pickup trial: the midstream connections' secrets, when logged, are found.
        extra.extend(["-tls-keylog", k.to_str().unwrap(), "-tls-pickup-trial"]);
    }
    let o = run_file(&g.pcap, out, &extra);
    let seen = if out.is_dir() {
        read_entries(out)
    } else {
        Vec::new()
    };
    (seen, String::from_utf8_lossy(&o.stderr).into_owned())
}

fn plain_and_tls_agree(preset: &str, seed: u64, suite: Suite) {
    let dir = tempfile::tempdir().unwrap();
    let plain = generate(dir.path(), preset, seed, None, &[]);
    let tls = generate(dir.path(), preset, seed, Some(suite), &[]);
    let what = format!("{preset} seed {seed} {}", suite.name());
    assert_eq!(plain.connections, tls.connections);
    assert_eq!(
        plain.midstream, tls.midstream,
        "{what}: same scenario, same midstream connections"
    );
    assert!(
        !tls.midstream.is_empty() && tls.midstream.len() < tls.connections,
        "{what}: the scenario has both kinds of connections"
    );

    let (p_seen, _) = run(&plain, &dir.path().join("plain"), true);
    assert_exact(
        &format!("{what} plaintext"),
        &plain.truth,
        &HashSet::new(),
        &p_seen,
    );

    let (t_seen, stderr) = run(&tls, &dir.path().join("tls"), true);
    // Midstream connections have no ClientHello: nothing to look their keys up by.
    assert_exact(
        &format!("{what} decrypted"),
        &tls.truth,
        &tls.midstream,
        &t_seen,
    );
    for s in &t_seen {
        assert!(s.url.starts_with("https://"), "{what}: {}", s.url);
        let t = &s.raw["_tls"];
        let sni = s
            .host
            .as_deref()
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("");
        assert_eq!(
            (
                t["version"].as_str(),
                t["cipherSuite"].as_str(),
                t["sni"].as_str(),
                t["alpn"].as_str()
            ),
            (
                Some("TLS 1.3"),
                Some(suite.name()),
                Some(sni),
                Some("http/1.1")
            ),
            "{what}: _tls of {}",
            s.url
        );
    }
    // The decrypted run and the plaintext run agree on what both can see.
    let p_map = by_client_depth(&p_seen);
    for s in &t_seen {
        let p = &p_map[&(s.client.clone(), (s.depth - 1) as u32)];
        assert_eq!(
            (
                &s.method,
                &s.target,
                s.status,
                s.req_body,
                s.resp_content,
                s.resp_body
            ),
            (
                &p.method,
                &p.target,
                p.status,
                p.req_body,
                p.resp_content,
                p.resp_body
            ),
            "{what}: {}",
            s.url
        );
    }
    let full = (tls.connections - tls.midstream.len()) as u64;
    let c = summary_counters(&stderr);
    let get = |n: &str| c.get(n).copied().unwrap_or(0);
    assert_eq!(
        get("tls_connections"),
        tls.connections as u64,
        "{what}: {stderr}"
    );
    assert_eq!(get("tls_decrypted_connections"), full, "{what}: {stderr}");
    assert_eq!(
        get("tls_no_client_hello"),
        tls.midstream.len() as u64,
        "{what}: {stderr}"
    );
    for zero in [
        "tls_auth_failures",
        "tls_no_key",
        "tls_wrong_key",
        "tls_records_lost",
    ] {
        assert_eq!(get(zero), 0, "{what}: {zero}: {stderr}");
    }

    // Without any key log: TLS connections are counted and skipped (no layer is stacked,
    // so no `tls_no_key` either), nothing exported.
    let (none, stderr) = run(&tls, &dir.path().join("nokeys"), false);
    assert!(
        none.is_empty(),
        "{what}: {} entries without keys",
        none.len()
    );
    let c = summary_counters(&stderr);
    assert_eq!(
        c.get("tls_connections").copied(),
        Some(tls.connections as u64),
        "{stderr}"
    );
    assert_eq!(c.get("tls_decrypted_connections"), None, "{stderr}");
}

#[test]
fn mixed_preset_decrypts_to_its_plaintext_truth() {
    plain_and_tls_agree("mixed", 1, Suite::Aes128GcmSha256);
}

#[test]
fn small_preset_decrypts_to_its_plaintext_truth_with_every_suite() {
    for suite in Suite::ALL {
        plain_and_tls_agree("small", 35, suite);
    }
}

/// Duplicated and reordered segments (the faults TLS mode accepts) change nothing: the
/// reassembly hands the TLS layer the same bytes.
#[test]
fn reordered_duplicated_tls_is_still_exact() {
    let dir = tempfile::tempdir().unwrap();
    let faults = "dup=0.05,reorder=0.1,window=6";
    let tls = generate(
        dir.path(),
        "mixed",
        2,
        Some(Suite::Aes128GcmSha256),
        &["--faults", faults],
    );
    let (mut seen, stderr) = run(&tls, &dir.path().join("out"), true);
    // A segment reordered past its connection's RST is lost to any sniffer (it comes after
    // the connection ended), plaintext or not: those connections are left out.
    let reset_clients: HashSet<String> = tls
        .truth
        .iter()
        .filter(|t| tls.reset.contains(&t.conn_index))
        .map(client_key)
        .collect();
    seen.retain(|s| !reset_clients.contains(&s.client));
    let skip: HashSet<u32> = tls.midstream.union(&tls.reset).copied().collect();
    assert!(
        skip.len() < tls.connections / 4,
        "most connections are checked"
    );
    assert_exact("mixed seed 2 dup+reorder", &tls.truth, &skip, &seen);
    let c = summary_counters(&stderr);
    let full = (tls.connections - tls.midstream.len()) as u64;
    assert_eq!(
        c.get("tls_decrypted_connections").copied(),
        Some(full),
        "{stderr}"
    );
    for zero in ["tls_auth_failures", "tls_wrong_key"] {
        assert_eq!(c.get(zero).copied().unwrap_or(0), 0, "{zero}: {stderr}");
    }
}

/// The midstream connections' secrets in the key log (`--tls-log-midstream`, under client
/// randoms never sent): httshark finds them by trial decryption, at the sequence numbers
/// the generator skipped, and every transaction comes out exact.
#[test]
fn midstream_secrets_in_the_key_log_are_found_by_trial() {
    let dir = tempfile::tempdir().unwrap();
    let tls = generate(
        dir.path(),
        "small",
        35,
        Some(Suite::Chacha20Poly1305Sha256),
        &["--tls-log-midstream"],
    );
    assert!(!tls.midstream.is_empty());
    let (seen, stderr) = run(&tls, &dir.path().join("out"), true);
    assert_exact("small midstream keys", &tls.truth, &HashSet::new(), &seen);
    let c = summary_counters(&stderr);
    let get = |n: &str| c.get(n).copied().unwrap_or(0);
    assert_eq!(
        get("tls_orphans_recovered"),
        tls.midstream.len() as u64,
        "{stderr}"
    );
    assert_eq!(get("tls_no_client_hello"), 0, "{stderr}");
    assert_eq!(get("tls_auth_failures"), 0, "{stderr}");
}

/// Every file under `dir`, relative path -> bytes, sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// A TLS replay gives the same bytes with one worker or three (issue 10: keys reach every
/// worker before the first packet): the HAR files and the CSV statistics are identical;
/// the NDJSON and console streams, written in arrival order, hold the same lines. With
/// faults, a midstream connection whose secret is found by trial, and several
/// connections per worker.
#[test]
fn tls_replay_outputs_are_identical_with_one_or_three_workers() {
    let dir = tempfile::tempdir().unwrap();
    let tls = generate(
        dir.path(),
        "mixed",
        3,
        Some(Suite::Aes256GcmSha384),
        &["--faults", "dup=0.05,reorder=0.1,window=6"],
    );
    let keys = tls.keys.as_ref().unwrap().to_str().unwrap().to_string();
    let run_with = |workers: &str| {
        let out = dir.path().join(format!("w{workers}"));
        let o = run_file(
            &tls.pcap,
            &out,
            &[
                "-tls-keylog",
                &keys,
                "-tls-pickup-trial",
                "-workers",
                workers,
                "-har-processors",
                "file,sites-stats,transactions-sizes,ndjson,console",
                "-ndjson-file",
                "entries.ndjson",
                "-stats-interval",
                "1s",
            ],
        );
        let stdout = String::from_utf8(o.stdout).unwrap();
        (
            files(&out),
            stdout,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (one, console1, stderr1) = run_with("1");
    let (three, console3, _) = run_with("3");
    let c = summary_counters(&stderr1);
    assert!(
        c.get("tls_decrypted_connections").copied().unwrap_or(0) >= 50,
        "{stderr1}"
    );
    let names = |f: &[(PathBuf, Vec<u8>)]| f.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>();
    assert_eq!(names(&one), names(&three));
    for kind in [
        ".har",
        "statistics.csv",
        "requests_sizes.csv",
        "entries.ndjson",
    ] {
        assert!(
            one.iter().any(|(p, _)| p.to_string_lossy().ends_with(kind)),
            "no {kind}"
        );
    }
    let sorted_lines = |b: &[u8]| {
        let mut l: Vec<Vec<u8>> = b.split(|c| *c == b'\n').map(<[u8]>::to_vec).collect();
        l.sort();
        l
    };
    for ((name, a), (_, b)) in one.iter().zip(&three) {
        if name.ends_with("entries.ndjson") {
            assert_eq!(sorted_lines(a), sorted_lines(b), "ndjson lines differ");
        } else {
            assert!(a == b, "{} differs with three workers", name.display());
        }
    }
    assert!(console1.contains("---> GET https://"), "{console1}");
    assert_eq!(
        sorted_lines(console1.as_bytes()),
        sorted_lines(console3.as_bytes()),
        "console lines differ"
    );
}
