//! Helpers shared by the `outputs_*` tests: hand-built transactions and the HAR 1.2 schema
//! check (the same node validator `tests/har_validate.rs` runs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use httshark::model::{Body, ConnInfo, Header, HttpVersion, Request, Response, Transaction};
use httshark::time::Timestamp;

pub const T0: i64 = 1_795_302_300; // 2026-11-21T23:05:00Z

/// `T0` plus `ms` milliseconds.
pub fn at(ms: i64) -> Timestamp {
    Timestamp(T0 * 1_000_000_000 + ms * 1_000_000)
}

pub fn h(n: &str, v: &str) -> Header {
    Header {
        name: n.to_string().into(),
        value: v.into(),
    }
}

pub fn body(data: &[u8]) -> Body {
    Body {
        wire_len: data.len() as u64,
        len: data.len() as u64,
        data: data.to_vec(),
        ..Body::default()
    }
}

/// A GET on connection `id` started at `start_ms`, answered 200 `text/plain` "ok" 10 ms
/// later; `completed_at` is the response's last byte.
pub fn tx(id: u64, start_ms: i64) -> Transaction {
    let start = at(start_ms);
    Transaction {
        conn: ConnInfo {
            id,
            client: format!("192.0.2.1:{}", 10000 + id % 50000).parse().unwrap(),
            server: "198.51.100.7:80".parse().unwrap(),
            syn_ts: None,
            synack_ts: None,
            established_ts: None,
            midstream: true,
        },
        depth: 1,
        request: Request {
            method: "GET".into(),
            target: format!("/item/{id}"),
            version: HttpVersion::Http11,
            headers: vec![h("Host", "shop.example")],
            head_len: 40,
            body: Body::default(),
            first_ts: start,
            last_ts: start,
            complete: true,
        },
        response: Some(Response {
            status: 200,
            reason: "OK".into(),
            version: HttpVersion::Http11,
            headers: vec![h("Content-Type", "text/plain")],
            head_len: 60,
            body: body(b"ok"),
            first_ts: start + Duration::from_millis(5),
            last_ts: start + Duration::from_millis(10),
            complete: true,
            interim: Vec::new(),
        }),
        anomalies: Vec::new(),
        process: None,
        completed_at: start + Duration::from_millis(10),
        tls: None,
        h2: None,
    }
}

/// A seeded xorshift64, so shuffles are the same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

/// The validator script, when node and `tests/harvalidate/node_modules` are there. Without
/// them: None with a loud message, or a panic when `CI` is set.
pub fn node_validator() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harvalidate");
    let have_modules = dir.join("node_modules/har-validator").is_dir();
    let have_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if have_modules && have_node {
        return Some(dir.join("validate.js"));
    }
    let why = if have_node {
        "tests/harvalidate/node_modules is missing"
    } else {
        "node is not installed"
    };
    if std::env::var_os("CI").is_some() {
        panic!("HAR schema validation cannot run: {why}; run `npm ci --prefix tests/harvalidate`");
    }
    eprintln!("\n**********\nSKIPPING HAR 1.2 schema validation: {why}.\nRun `npm ci --prefix tests/harvalidate` to enable it.\n**********\n");
    None
}

/// Validates `files` against the HAR 1.2 schema (skipped as `node_validator` says).
pub fn assert_valid_har(files: &[PathBuf]) {
    assert!(!files.is_empty(), "no HAR files to validate");
    let Some(script) = node_validator() else {
        return;
    };
    let out = Command::new("node")
        .arg(&script)
        .args(files)
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schema validation failed:\n{text}");
    assert!(
        text.contains(&format!("{0} of {0} HAR files valid", files.len())),
        "{text}"
    );
}

/// The files of `dir`, sorted by name.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}
