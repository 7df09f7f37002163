//! Live capture on loopback: SIGINT and SIGTERM flush every pending transaction (a request
//! that was never answered is still exported, flagged), and `-metrics-listen` serves
//! Prometheus metrics while capturing. Needs root (capture privileges).
// Tests may read the clock (deadlines, complexity guards); clippy.toml keeps it out of
// the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn skip(why: &str) -> bool {
    if is_root() {
        return false;
    }
    assert!(std::env::var_os("CI").is_none(), "CI runs as root: {why}");
    eprintln!("SKIPPED {why}: needs root");
    true
}

fn wait_exit(mut child: Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("httshark did not exit within {limit:?} of the signal");
}

fn pending_request_is_flushed_on(sig: i32) {
    let dir = tempfile::tempdir().unwrap();
    // Bound first, on a port the kernel picks: no other test can take it in between.
    let server = TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = server.local_addr().unwrap().port();
    let mut child = Command::new(bin())
        .args([
            "-device",
            "lo",
            "-hosts",
            &format!("127.0.0.1:{port}"),
            "-verbose=3",
            // The live stats line is the readiness signal: the capture is open, filtered
            // and running once it prints.
            "-stats-interval=1s",
        ])
        .args(["-output-folder", dir.path().to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = StderrWatch::new(&mut child);
    stderr.wait_for(&mut child, "httshark: stats ", Duration::from_secs(30));
    let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (mut accepted, _) = server.accept().unwrap();
    client
        .write_all(b"GET /never-answered HTTP/1.1\r\nHost: pending.test\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    accepted
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let _ = accepted.read(&mut buf).unwrap();
    // The capture has seen the request: the stats line counts it pending.
    stderr.wait_for(&mut child, " pending=1 ", Duration::from_secs(30));
    signal_pid(child.id(), sig);
    let out = wait_exit(child, Duration::from_secs(10));
    let stderr = stderr.finish();
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    let seen = read_entries(dir.path());
    let e = seen
        .iter()
        .find(|s| s.target == "/never-answered")
        .unwrap_or_else(|| panic!("not exported: {stderr}"));
    assert_eq!(e.status, 0);
    assert!(
        e.anomalies.iter().any(|a| a == "unanswered-end-of-capture"),
        "{:?}",
        e.anomalies
    );
    validate_har_dir(dir.path());
    drop(accepted);
}

#[test]
fn sigint_flushes_a_pending_request() {
    if skip("SIGINT live test") {
        return;
    }
    pending_request_is_flushed_on(libc::SIGINT);
}

#[test]
fn sigterm_flushes_a_pending_request() {
    if skip("SIGTERM live test") {
        return;
    }
    pending_request_is_flushed_on(libc::SIGTERM);
}

#[test]
fn metrics_are_served_while_capturing() {
    if skip("metrics live test") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(bin())
        .args([
            "-device",
            "lo",
            "-bpf",
            "tcp port 9",
            "-stats-interval",
            "1s",
        ])
        .args(["-metrics-listen", &format!("127.0.0.1:{port}")])
        .args(["-output-folder", dir.path().to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let body = loop {
        // A readiness poll: until httshark listens, an attempt may fail in any way (refused;
        // reset; on the port the kernel may also hand out as a source port, a connection
        // to itself, which the read timeout ends), and is tried again until the deadline.
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            let mut text = String::new();
            let answered = s
                .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .and_then(|()| s.read_to_string(&mut text))
                .is_ok();
            // Every counter is registered (at 0) before the server starts.
            if answered && text.contains("httshark_packets_total") {
                break text;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            let out = wait_exit(child, Duration::from_secs(1));
            panic!(
                "httshark ended ({status}) before serving metrics: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no metrics within 10 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(body.starts_with("HTTP/1.1 200"), "{body}");
    assert!(body.contains("httshark_open_connections"), "{body}");
    let exposition = body.split("\r\n\r\n").nth(1).unwrap_or("");
    let file = dir.path().join("metrics.txt");
    std::fs::write(&file, exposition).unwrap();
    if let Ok(o) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
    {
        assert!(
            o.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    signal_pid(child.id(), libc::SIGTERM);
    let out = wait_exit(child, Duration::from_secs(10));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// libpcap's netfilter module (`nflog`) reports an empty non-blocking read as an error
/// (EAGAIN): that is an idle capture, which runs until `-duration`, not the end of the
/// capture (it used to stop at once, "capture stopped after 0 packets", exit 0).
#[test]
fn nflog_waits_for_packets_until_the_duration() {
    if skip("live capture on nflog") {
        return;
    }
    let listed = run(&["-D"]);
    if !String::from_utf8_lossy(&listed.stdout).contains(".nflog ") {
        eprintln!("SKIPPED: no nflog interface here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[
        "-device",
        "nflog",
        "-hosts=",
        "-duration",
        "1s",
        "-output-folder",
        dir.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("done (-duration 1s reached)"), "{stderr}");
    assert!(!stderr.contains("capture stopped"), "{stderr}");
}
