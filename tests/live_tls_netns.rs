//! HTTPS decrypted live (issue 10): curl talks TLS to tests/live/server.py in a pair of
//! network namespaces while httshark captures with `-tls-keylog` on a key log that curl
//! creates and appends to during the capture (httshark starts before the file exists).
//!
//! - Every exchange the server logged is in the HAR output exactly, with an `https://` URL
//!   and `_tls`, for TLS 1.3 and TLS 1.2 connections.
//! - Secrets that reach the followed key log 2 s after their connection's records (copied
//!   there late from another file) are still used: the records wait (`tls_keys_late`).
//!
//! Needs root (namespaces, capture), iproute2, curl, openssl and python3; skipped with a
//! loud message otherwise, and failing under CI (which runs as root).
// Tests may read the clock (deadlines); clippy.toml keeps it out of the library.
#![allow(clippy::disallowed_methods)]

mod common;
mod netns;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use netns::*;

fn skip() -> bool {
    skip_lab("live TLS", &["ip", "curl", "python3", "openssl"], &[])
}

/// Runs curl in the client namespace with `SSLKEYLOGFILE=keylog`, fetching `urls` on one
/// connection; `tls` is a curl TLS version flag.
fn curl(lab: &Lab, keylog: &std::path::Path, tls: &[&str], urls: &[String]) {
    let mut c = Lab::in_ns(&lab.cli, "curl");
    c.env("SSLKEYLOGFILE", keylog)
        .args(["-sSk", "--max-time", "10"])
        .args(tls);
    for u in urls {
        c.args(["-o", "/dev/null", u]);
    }
    let o = c.stderr(Stdio::piped()).output().unwrap();
    assert!(
        o.status.success(),
        "curl: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn https_is_decrypted_live_from_a_key_log_written_during_the_capture() {
    if skip() {
        return;
    }
    let mut lab = Lab::new("lt", 78);
    lab.start_tls_server();
    let keylog = lab.path("keys.log");
    let late = lab.path("late-keys.log");
    let extra = vec![
        "-tls-keylog".to_string(),
        keylog.display().to_string(),
        "-tls-keylog-wait=8s".to_string(),
    ];
    lab.start_httshark_with("file", Stdio::null(), &extra);
    let base = lab.base();
    let urls = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("{base}{n}"))
            .collect::<Vec<_>>()
    };
    // TLS 1.3, several exchanges on one connection.
    curl(
        &lab,
        &keylog,
        &["--tlsv1.3"],
        &urls(&["/bytes/10", "/gzip", "/json?q=1"]),
    );
    // TLS 1.2 with an AEAD suite, and with CBC.
    curl(
        &lab,
        &keylog,
        &["--tlsv1.2", "--tls-max", "1.2"],
        &urls(&["/chunked"]),
    );
    curl(
        &lab,
        &keylog,
        &[
            "--tlsv1.2",
            "--tls-max",
            "1.2",
            "--ciphers",
            "ECDHE-ECDSA-AES256-SHA384",
        ],
        &urls(&["/bytes/20000"]),
    );
    // Secrets that reach the followed file 2 s after the connection.
    curl(
        &lab,
        &late,
        &["--tlsv1.3"],
        &urls(&["/bytes/33", "/redirect"]),
    );
    std::thread::sleep(Duration::from_secs(2));
    let secrets = std::fs::read(&late).unwrap();
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&keylog)
        .unwrap()
        .write_all(&secrets)
        .unwrap();
    // Two ticks for the follower to read them and the waiting records to go.
    std::thread::sleep(Duration::from_millis(2500));

    let child = lab.httshark.as_mut().unwrap();
    signal_pid(child.id(), libc::SIGINT);
    assert!(
        exited_within(child, Duration::from_secs(10)).is_some_and(|s| s.success()),
        "httshark did not exit cleanly"
    );
    let stderr = lab.stderr.take().unwrap().finish();
    let entries = read_entries(&lab.path("out"));
    let log = read_log(&lab.path("server.tsv"));
    assert_eq!(log.len(), 7, "server log: {log:?}");
    for l in &log {
        let seen = entries
            .iter()
            .find(|s| s.method == l.method && s.target == l.target)
            .unwrap_or_else(|| panic!("{} {} not captured; stderr:\n{stderr}", l.method, l.target));
        assert!(seen.url.starts_with("https://"), "{}", seen.url);
        assert_eq!(seen.status, l.status, "{}", l.target);
        assert_eq!(seen.resp_content, l.resp_len, "{}", l.target);
        assert!(seen.raw["_tls"]["cipherSuite"].is_string(), "{}", seen.raw);
    }
    assert_eq!(entries.len(), log.len(), "{entries:?}");
    let versions: Vec<&str> = entries
        .iter()
        .filter_map(|s| s.raw["_tls"]["version"].as_str())
        .collect();
    assert!(
        versions.contains(&"TLS 1.3") && versions.contains(&"TLS 1.2"),
        "{versions:?}"
    );
    // The late connection waits for its secrets; any other may too when its
    // secrets reach the follower after its first record (the follower polls),
    // so the count lies between 1 and the 4 connections.
    let late = summary_counter(&stderr, "tls_keys_late");
    assert!((1..=4).contains(&late), "tls_keys_late {late}: {stderr}");
    assert_eq!(summary_counter(&stderr, "tls_no_key"), 0, "{stderr}");
    assert_eq!(
        summary_counter(&stderr, "tls_decrypted_connections"),
        4,
        "{stderr}"
    );
    // No secret reaches the log.
    let text = String::from_utf8_lossy(&secrets);
    for line in text.lines() {
        if let Some(secret) = line.split(' ').nth(2) {
            assert!(!stderr.contains(secret), "a secret was logged");
        }
    }
}
