//! Helpers shared by the whole-pipeline tests: run the built binary, read its HAR output.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_httshark")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The public corpus: `$HTTSHARK_CORPUS`, else `../shared/corpus` beside the repository.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("HTTSHARK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/corpus"));
    dir.join("MANIFEST.tsv").is_file().then_some(dir)
}

/// Runs httshark with `args`, returning its output (stdout, stderr, status).
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run httshark")
}

/// Runs httshark on `pcap` into `out` with everything in one file per export and all TCP
/// watched; panics with stderr when it fails.
pub fn run_file(pcap: &Path, out: &Path, extra: &[&str]) -> Output {
    let pcap = pcap.to_str().unwrap();
    let out_s = out.to_str().unwrap();
    let mut args = vec!["-file", pcap, "-output-folder", out_s, "-hosts="];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(
        o.status.success(),
        "httshark {:?} failed: {}\n{}",
        args,
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// One HAR entry, reduced to what tests compare.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub url: String,
    /// The request target as on the request line: `_requestTarget` when the HAR has it
    /// (asterisk-form, or a target the URL cannot hold), else recovered from the URL.
    pub target: String,
    pub host: Option<String>,
    pub status: i64,
    /// A response was seen (`response.httpVersion` is set): tells an HTTP/0.9 reply
    /// (status 0) from no reply at all.
    pub answered: bool,
    pub req_body: i64,
    pub resp_content: i64,
    pub resp_body: i64,
    pub anomalies: Vec<String>,
    pub client: String,
    pub server: String,
    pub connection: String,
    pub depth: i64,
    pub started: String,
    pub raw: Value,
}

/// The origin-form target of an HAR URL (other forms are in `_requestTarget`).
fn request_target(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find(['/', '*', '?']) {
        Some(i) => rest[i..].to_string(),
        None => String::new(),
    }
}

/// Every entry of every `.har` file under `dir`, in a stable order (start time,
/// connection, depth).
pub fn read_entries(dir: &Path) -> Vec<Seen> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "har"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap())
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", f.display()));
        for e in v["log"]["entries"].as_array().expect("log.entries") {
            let req = &e["request"];
            let resp = &e["response"];
            let method = req["method"].as_str().unwrap_or("").to_string();
            let url = req["url"].as_str().unwrap_or("").to_string();
            let host = req["headers"]
                .as_array()
                .and_then(|h| {
                    h.iter().find(|h| {
                        h["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case("host"))
                    })
                })
                .and_then(|h| h["value"].as_str())
                .map(str::to_string);
            let target = e["_requestTarget"]
                .as_str()
                .map_or_else(|| request_target(&url), str::to_string);
            out.push(Seen {
                target,
                method,
                url,
                host,
                status: resp["status"].as_i64().unwrap_or(-2),
                answered: resp["httpVersion"].as_str().is_some_and(|v| !v.is_empty()),
                req_body: req["bodySize"].as_i64().unwrap_or(-2),
                resp_content: resp["content"]["size"].as_i64().unwrap_or(-2),
                resp_body: resp["bodySize"].as_i64().unwrap_or(-2),
                anomalies: e["_anomalies"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                client: format!(
                    "{}:{}",
                    e["_clientIPAddress"].as_str().unwrap_or(""),
                    e["_clientPort"]
                ),
                server: format!(
                    "{}:{}",
                    e["serverIPAddress"].as_str().unwrap_or(""),
                    e["_serverPort"]
                ),
                connection: e["connection"].as_str().unwrap_or("").to_string(),
                depth: e["_depth"].as_i64().unwrap_or(0),
                started: e["startedDateTime"].as_str().unwrap_or("").to_string(),
                raw: e.clone(),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.started.as_str(), a.connection.as_str(), a.depth).cmp(&(
            b.started.as_str(),
            b.connection.as_str(),
            b.depth,
        ))
    });
    out
}

/// Runs the HAR 1.2 schema validator (npm har-validator) on every `.har` file in `dir`.
/// Without the validator installed: fails under CI, else prints a loud skip notice.
pub fn validate_har_dir(dir: &Path) {
    let validator = repo().join("tests/harvalidate");
    if !validator.join("node_modules").is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tests/harvalidate/node_modules is missing: .ci/run must install it (npm ci)"
        );
        eprintln!("SKIPPED HAR schema validation: run `npm ci` in tests/harvalidate");
        return;
    }
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "har"))
        .collect();
    assert!(!files.is_empty(), "no HAR files in {}", dir.display());
    let o = Command::new("node")
        .arg(validator.join("validate.js"))
        .args(&files)
        .output()
        .expect("run node");
    assert!(
        o.status.success(),
        "HAR schema validation failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

// ------------------------------------------------------------------ processes and signals

/// The tests run as root (CI does): live capture, namespaces, mounts, `-Z`.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Sends `sig` to process `pid`.
pub fn signal_pid(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// Waits up to `limit` for the child to exit; None when it is still running.
pub fn exited_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

// ------------------------------------------------------------------ ground truth

/// The client of a ground-truth transaction as HAR writes it.
pub fn client_key(tx: &httshark_gen::ExpectedTx) -> String {
    // HAR has IPv6 without brackets.
    format!("{}:{}", tx.client.ip(), tx.client.port())
}

/// Everything the ground truth states about one transaction.
pub fn check_exact(tx: &httshark_gen::ExpectedTx, s: &Seen) -> Result<(), String> {
    let e = &s.raw;
    let mut bad = Vec::new();
    let mut eq = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!("{what}: got {got}, want {want}"));
        }
    };
    eq("method", s.method.clone(), tx.method.clone());
    eq("host", s.host.clone().unwrap_or_default(), tx.host.clone());
    eq("uri", s.target.clone(), tx.uri.clone());
    eq(
        "req headersSize",
        e["request"]["headersSize"].to_string(),
        tx.req_head_len.to_string(),
    );
    eq(
        "req bodySize",
        e["request"]["bodySize"].to_string(),
        tx.req_body_len.to_string(),
    );
    match tx.status {
        Some(status) => {
            eq("status", s.status.to_string(), status.to_string());
            eq(
                "resp headersSize",
                e["response"]["headersSize"].to_string(),
                tx.resp_head_len.to_string(),
            );
            eq(
                "content.size",
                s.resp_content.to_string(),
                tx.resp_body_len.to_string(),
            );
            let wire = tx.req_head_len
                + tx.req_wire_body_len
                + tx.resp_interim_len
                + tx.resp_head_len
                + tx.resp_wire_body_len;
            eq("_wireBytes", e["_wireBytes"].to_string(), wire.to_string());
        }
        None => {
            eq("status", s.status.to_string(), "0".into());
            if !s.anomalies.iter().any(|a| a.starts_with("unanswered")) {
                bad.push(format!("no unanswered flag: {:?}", s.anomalies));
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {} (client {} depth {}): {}",
            tx.method,
            tx.uri,
            tx.client,
            tx.depth,
            bad.join("; ")
        ))
    }
}

// ------------------------------------------------------------------ exit summary

/// The `httshark: name  value` counter lines of the exit summary.
pub fn summary_counters(stderr: &str) -> std::collections::HashMap<String, u64> {
    stderr
        .lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("httshark: ")?.split_whitespace();
            let (name, value) = (f.next()?, f.next()?);
            match (f.next(), value.parse()) {
                (None, Ok(v)) => Some((name.to_string(), v)),
                _ => None,
            }
        })
        .collect()
}

/// One counter of the exit summary (0 when absent).
pub fn summary_counter(stderr: &str, name: &str) -> u64 {
    summary_counters(stderr).get(name).copied().unwrap_or(0)
}
