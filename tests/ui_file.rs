//! The live web view over a capture file (issue 14), against the `file` processor's HAR
//! output of the same run as ground truth: the view holds the same entries (the one HAR
//! mapping), its ring evicts by count as told, the filter and the export agree with the
//! HAR file, the stream serves every entry, and the view stays up after the end of the
//! file until SIGINT.
// Tests read the clock (deadlines); clippy.toml keeps it out of the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

struct View {
    host: String,
    token: String,
}

impl View {
    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.host).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
            self.host, self.token
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        (head[9..12].parse().unwrap(), body.to_string())
    }

    fn json(&self, path: &str) -> serde_json::Value {
        let (s, body) = self.get(path);
        assert_eq!(s, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }
}

fn start(out: &std::path::Path, extra: &[&str]) -> (std::process::Child, StderrWatch, View) {
    start_on("fixtures/real-curl.pcap", out, extra)
}

fn start_on(
    pcap: &str,
    out: &std::path::Path,
    extra: &[&str],
) -> (std::process::Child, StderrWatch, View) {
    let mut child = Command::new(bin())
        .arg("-file")
        .arg(repo().join(pcap))
        .args(["-hosts", "", "-ui", "127.0.0.1:0"])
        .arg("-output-folder")
        .arg(out)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = StderrWatch::new(&mut child);
    err.wait_for(&mut child, "the view stays up", Duration::from_secs(30));
    let text = err.text();
    let url = text
        .lines()
        .find_map(|l| l.strip_prefix("httshark: ui: open http://"))
        .unwrap()
        .trim();
    let (host, token) = url.split_once("/?token=").unwrap();
    let view = View {
        host: host.to_string(),
        token: token.to_string(),
    };
    (child, err, view)
}

fn har_entries(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut all = Vec::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let p = f.unwrap().path();
        if p.extension().is_some_and(|x| x == "har") {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            all.extend(v["log"]["entries"].as_array().unwrap().iter().cloned());
        }
    }
    all
}

fn key(e: &serde_json::Value) -> String {
    format!(
        "{} {} {}",
        e["startedDateTime"], e["_clientPort"], e["request"]["url"]
    )
}

#[test]
fn the_view_over_a_file_holds_what_the_har_file_holds_and_stays_up() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, err, view) = start(tmp.path(), &[]);
    let har = har_entries(tmp.path());
    assert_eq!(har.len(), 17);
    // The same entries, byte for byte the same JSON values, as the file processor's.
    let list = view.json("/api/v1/entries?limit=100");
    let rows = list["entries"].as_array().unwrap();
    assert_eq!(rows.len(), har.len());
    let mut from_view: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| view.json(&format!("/api/v1/entries/{}", r["seq"]))["entry"].clone())
        .collect();
    let mut from_file = har.clone();
    from_view.sort_by_key(key);
    from_file.sort_by_key(key);
    assert_eq!(from_view, from_file);
    // A filter agrees with the HAR file.
    let want_404 = har
        .iter()
        .filter(|e| e["response"]["status"] == 404)
        .count();
    assert!(want_404 > 0);
    let got = view.json("/api/v1/entries?filter=status%3A4xx");
    assert_eq!(got["entries"].as_array().unwrap().len(), want_404);
    // The export of everything is the HAR file's entries (nothing sensitive in this
    // capture to mask), in the view's order.
    let exported = view.json("/api/v1/export.har?sensitive=1");
    let mut exported: Vec<_> = exported["log"]["entries"].as_array().unwrap().clone();
    exported.sort_by_key(key);
    assert_eq!(exported, from_file);
    // curl of an entry names its URL.
    let (s, curl) = view.get(&format!("/api/v1/entries/{}/curl", rows[0]["seq"]));
    assert_eq!(s, 200);
    assert!(
        curl.starts_with("curl -X 'GET' 'http://10.77.0.2:8080/"),
        "{curl}"
    );
    // The stream from the start serves every entry.
    let mut s = TcpStream::connect(&view.host).unwrap();
    write!(
        s,
        "GET /api/v1/stream?since=0 HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
        view.host, view.token
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut text = String::new();
    let mut buf = [0u8; 65536];
    for _ in 0..30 {
        if text.contains("id: 17\n") {
            break;
        }
        if let Ok(n) = s.read(&mut buf) {
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
    let streamed: usize = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: ["))
        .map(|d| {
            serde_json::from_str::<serde_json::Value>(&format!("[{d}"))
                .unwrap()
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(streamed, 17, "{text}");
    // Health: the pipeline's counters reach the view.
    let h = view.json("/api/v1/health");
    assert_eq!(h["packets"], 653, "{h}");
    assert_eq!(h["ring"]["entries"], 17);
    // Still up after the end of the file, until SIGINT; then a clean exit.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "exited after the end of the file"
    );
    signal_pid(child.id(), libc::SIGINT);
    let status = child.wait().unwrap();
    let text = err.finish();
    assert!(status.success(), "{status}: {text}");
}

#[test]
fn the_ring_evicts_by_count_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, err, view) = start(tmp.path(), &["-ui-max-entries", "5"]);
    let h = view.json("/api/v1/health");
    assert_eq!(h["ring"]["entries"], 5, "{h}");
    assert_eq!(h["ring"]["evicted"], 12, "{h}");
    let list = view.json("/api/v1/entries");
    let seqs: Vec<u64> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, [13, 14, 15, 16, 17]);
    signal_pid(child.id(), libc::SIGTERM);
    assert!(child.wait().unwrap().success());
    let text = err.finish();
    assert!(
        text.contains("17 entries shown at http://127.0.0.1:"),
        "{text}"
    );
    assert!(text.contains("(12 evicted from the view)"), "{text}");
}

#[test]
fn bad_ui_flags_are_refused_before_the_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let pcap = repo().join("fixtures/real-curl.pcap");
    let run = |extra: &[&str]| {
        Command::new(bin())
            .arg("-file")
            .arg(&pcap)
            .arg("-output-folder")
            .arg(tmp.path())
            .args(extra)
            .output()
            .unwrap()
    };
    let o = run(&["-ui", "0.0.0.0:0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("not a loopback address; give -ui-token-file"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = run(&["-ui", "127.0.0.1:0", "-ui-memory", "1GiB"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-ui-memory"));
    let o = run(&["-ui", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
}

/// HTTPS decrypted with a key log and HTTP/2 streams reach the view as the HAR file has
/// them (https URLs and `_tls`; one entry per h2 stream).
#[test]
fn tls_and_h2_entries_are_the_har_files_entries() {
    for (pcap, keys, scheme, version) in [
        (
            "fixtures/tls/python-tls13-h1.pcap",
            Some("fixtures/tls/python-tls13-h1.keys"),
            "https",
            "HTTP/1.1",
        ),
        (
            "fixtures/h2/h2c-prior-curl-nginx.pcap",
            None,
            "http",
            "http/2.0",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let keys = keys.map(|k| repo().join(k).display().to_string());
        let mut extra = vec![];
        if let Some(k) = &keys {
            extra.extend(["-tls-keylog", k.as_str()]);
        }
        let (mut child, err, view) = start_on(pcap, tmp.path(), &extra);
        let har = har_entries(tmp.path());
        assert!(!har.is_empty(), "{pcap}");
        let list = view.json("/api/v1/entries?limit=1000");
        let rows = list["entries"].as_array().unwrap();
        assert_eq!(rows.len(), har.len(), "{pcap}");
        for r in rows {
            assert_eq!(r["scheme"], scheme, "{pcap}: {r}");
            assert_eq!(r["version"], version, "{pcap}: {r}");
        }
        let mut from_view: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| view.json(&format!("/api/v1/entries/{}", r["seq"]))["entry"].clone())
            .collect();
        let mut from_file = har;
        from_view.sort_by_key(key);
        from_file.sort_by_key(key);
        assert_eq!(from_view, from_file, "{pcap}");
        if scheme == "https" {
            assert!(from_view.iter().all(|e| e["_tls"].is_object()), "{pcap}");
        }
        signal_pid(child.id(), libc::SIGINT);
        assert!(child.wait().unwrap().success());
        drop(err.finish());
    }
}
