//! The view's server over real loopback sockets, in-process: auth, Host and Origin
//! checks, ring eviction as the API reports it, filters through the API, SSE resume with
//! Last-Event-ID after a reconnect, and a stuck browser that never blocks the pushes.
// Tests read the clock for deadlines; clippy.toml keeps it out of the library.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::entry::{Fields, UiEntry};
use super::{server, Shared, UiConfig};

struct Ui {
    addr: SocketAddr,
    token: String,
    shared: Arc<Shared>,
}

fn start(max_entries: usize, max_bytes: usize) -> Ui {
    let config = UiConfig {
        listen: "127.0.0.1:0".into(),
        max_entries,
        max_bytes,
        ..UiConfig::default()
    };
    let bound = server::bind(&config).unwrap();
    let addr = bound.addr;
    let token = bound.url().rsplit('=').next().unwrap().to_string();
    let shared = Shared::new(&config, crate::metrics::SharedMetrics::new(), 512 << 20);
    bound.serve(Arc::clone(&shared)).unwrap();
    Ui {
        addr,
        token,
        shared,
    }
}

impl Ui {
    fn push(&self, cost: usize, fields: Fields) -> u64 {
        let seq = self.shared.ring.next_seq();
        self.shared.ring.push(UiEntry::test_with(seq, cost, fields));
        seq
    }

    /// One request; `extra` header lines; returns (status, head, body).
    fn get(&self, path: &str, extra: &[&str]) -> (u16, String, String) {
        self.request("GET", path, extra)
    }

    fn request(&self, method: &str, path: &str, extra: &[&str]) -> (u16, String, String) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut req = format!("{method} {path} HTTP/1.1\r\n");
        if !extra
            .iter()
            .any(|h| h.to_ascii_lowercase().starts_with("host:"))
        {
            req.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for h in extra {
            req.push_str(h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        (status, head.to_string(), body.to_string())
    }

    fn bearer(&self) -> String {
        format!("Authorization: Bearer {}", self.token)
    }

    fn counter(&self, name: &str) -> u64 {
        let mut v = 0;
        use crate::counters::CounterSet;
        self.shared.counters().visit(&mut |n, x| {
            if n == name {
                v = x
            }
        });
        v
    }

    /// Opens the stream and returns the socket after its head.
    fn stream(&self, query: &str, extra: &[&str]) -> TcpStream {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut req = format!(
            "GET /api/v1/stream{query} HTTP/1.1\r\nHost: {}\r\n{}\r\n",
            self.addr,
            self.bearer()
        );
        for h in extra {
            req.push_str(h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        s
    }
}

/// Reads from `s` until `done(text so far)` or the deadline.
fn read_until(s: &mut TcpStream, limit: Duration, done: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    let mut text = String::new();
    let mut buf = [0u8; 65536];
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    while start.elapsed() < limit && !done(&text) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => continue,
        }
    }
    text
}

/// The seqs of the summaries in the stream's `data: [...]` lines.
fn streamed_seqs(text: &str) -> Vec<u64> {
    let mut seqs = Vec::new();
    for line in text.lines() {
        if let Some(d) = line.strip_prefix("data: [") {
            let v: serde_json::Value = serde_json::from_str(&format!("[{d}")).unwrap();
            seqs.extend(
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|e| e["seq"].as_u64().unwrap()),
            );
        }
    }
    seqs
}

#[test]
fn the_api_needs_the_token() {
    let ui = start(100, 1 << 20);
    ui.push(100, Fields::default());
    let (s, _, body) = ui.get("/api/v1/entries", &[]);
    assert_eq!(s, 401, "{body}");
    assert_eq!(ui.get("/", &[]).0, 401);
    assert_eq!(
        ui.get("/api/v1/entries", &["Authorization: Bearer nope"]).0,
        401
    );
    assert_eq!(
        ui.get("/api/v1/entries/1", &["Cookie: httshark_ui=nope"]).0,
        401
    );
    assert_eq!(ui.get("/?token=0123", &[]).0, 401);
    assert_eq!(ui.counter("ui_auth_refused"), 5);
    // The token is exchanged for a cookie and leaves the URL.
    let (s, head, _) = ui.get(&format!("/?token={}", ui.token), &[]);
    assert_eq!(s, 303);
    assert!(head.contains("Location: /\r\n"), "{head}");
    let cookie = format!("httshark_ui={}", ui.token);
    assert!(head.contains(&format!(
        "Set-Cookie: {cookie}; HttpOnly; SameSite=Strict; Path=/"
    )));
    let (s, head, body) = ui.get("/", &[&format!("Cookie: a=b; {cookie}")]);
    assert_eq!(s, 200);
    assert!(body.contains("/assets/app.js"));
    assert!(head.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"));
    assert!(head.contains("X-Content-Type-Options: nosniff"));
    assert_eq!(ui.get("/api/v1/entries", &[&ui.bearer()]).0, 200);
    // Read-only: nothing but GET and HEAD.
    for m in ["POST", "PUT", "DELETE"] {
        assert_eq!(
            ui.request(m, "/api/v1/entries", &[&ui.bearer()]).0,
            405,
            "{m}"
        );
    }
    // The assets need no token (nothing secret), but the Host check still applies.
    assert_eq!(ui.get("/assets/app.js", &[]).0, 200);
    assert_eq!(ui.get("/assets/app.js", &["Host: evil.example"]).0, 421);
}

#[test]
fn host_and_origin_are_checked() {
    let ui = start(100, 1 << 20);
    let b = ui.bearer();
    // DNS rebinding: a name that resolves to 127.0.0.1 but is not ours.
    assert_eq!(
        ui.get("/api/v1/entries", &["Host: rebind.evil.example:80", &b])
            .0,
        421
    );
    assert_eq!(ui.get("/", &["Host: rebind.evil.example"]).0, 421);
    assert_eq!(
        ui.get(
            "/api/v1/entries",
            &[&format!("Host: localhost:{}", ui.addr.port()), &b]
        )
        .0,
        200
    );
    // Cross-site requests, even with a valid token.
    let origin = |o: &str| ui.get("/api/v1/entries", &[&b, &format!("Origin: {o}")]).0;
    assert_eq!(origin("http://evil.example"), 403);
    assert_eq!(origin("null"), 403);
    assert_eq!(origin(&format!("http://{}", ui.addr)), 200);
    assert_eq!(
        ui.get("/api/v1/entries", &[&b, "Sec-Fetch-Site: cross-site"])
            .0,
        403
    );
    let s = ui.stream("", &["Origin: http://evil.example"]);
    let mut s = s;
    let text = read_until(&mut s, Duration::from_secs(5), |t| t.contains("\r\n\r\n"));
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
    assert_eq!(ui.counter("ui_origin_refused"), 6);
}

#[test]
fn ring_eviction_by_count_and_bytes_is_reported() {
    let ui = start(5, 10_000);
    for _ in 0..8 {
        ui.push(100, Fields::default());
    }
    let (_, _, body) = ui.get("/api/v1/health", &[&ui.bearer()]);
    let h: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["ring"]["entries"], 5);
    assert_eq!(h["ring"]["evicted"], 3);
    assert_eq!(h["ui"]["ui_evicted_bytes"], 0);
    // Three entries of 4,000 bytes: the byte cap (10,000) evicts.
    for _ in 0..3 {
        ui.push(4_000, Fields::default());
    }
    let (_, _, body) = ui.get("/api/v1/health", &[&ui.bearer()]);
    let h: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(h["ring"]["bytes"].as_u64().unwrap() <= 10_000, "{h}");
    assert_eq!(
        h["ring"]["evicted"].as_u64().unwrap(),
        11 - h["ring"]["entries"].as_u64().unwrap(),
        "{h}"
    );
    assert!(h["ui"]["ui_evicted_bytes"].as_u64().unwrap() >= 3, "{h}");
    // An evicted entry is gone from the detail API.
    assert_eq!(ui.get("/api/v1/entries/1", &[&ui.bearer()]).0, 404);
    assert_eq!(ui.get("/api/v1/entries/11", &[&ui.bearer()]).0, 200);
}

#[test]
fn filters_run_on_the_server_and_errors_say_where() {
    let ui = start(100, 1 << 20);
    for (host, status) in [("a.example", 200), ("b.example", 404), ("a.example", 503)] {
        ui.push(
            100,
            Fields {
                host: host.into(),
                status: Some(status),
                ..Fields::default()
            },
        );
    }
    let seqs = |filter: &str| -> Vec<u64> {
        let q = super::http::percent_decode(filter)
            .replace(' ', "%20")
            .replace(':', "%3A");
        let (s, _, body) = ui.get(&format!("/api/v1/entries?filter={q}"), &[&ui.bearer()]);
        assert_eq!(s, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(seqs(""), [1, 2, 3]);
    assert_eq!(seqs("host:a.example"), [1, 3]);
    assert_eq!(seqs("status:>=400"), [2, 3]);
    assert_eq!(seqs("host:a.example -status:5xx"), [1]);
    let (s, _, body) = ui.get(
        "/api/v1/entries?filter=host%3Aa%20status%3A9x",
        &[&ui.bearer()],
    );
    assert_eq!(s, 400);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["error"]["start"].as_u64(), v["error"]["end"].as_u64()),
        (Some(7), Some(16))
    );
    // The export of a filter holds the matching entries only.
    let (s, head, body) = ui.get("/api/v1/export.har?filter=status%3A404", &[&ui.bearer()]);
    assert_eq!(s, 200);
    assert!(head.contains("attachment"));
    let har: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(har["log"]["entries"].as_array().unwrap().len(), 1);
    assert_eq!(har["log"]["entries"][0]["request"]["url"], "http://h/2");
}

#[test]
fn a_stream_resumes_after_a_reconnect_from_last_event_id() {
    let ui = start(100, 1 << 20);
    for _ in 0..10 {
        ui.push(100, Fields::default());
    }
    let mut s = ui.stream("", &["Last-Event-ID: 4"]);
    let text = read_until(&mut s, Duration::from_secs(5), |t| t.contains("id: 10\n"));
    assert!(text.contains("Content-Type: text/event-stream"), "{text}");
    assert!(text.contains("retry: 2000"));
    assert_eq!(streamed_seqs(&text), [5, 6, 7, 8, 9, 10]);
    drop(s);
    // Gone for a while: two more arrive; the reconnect sends the last id it saw.
    ui.push(100, Fields::default());
    ui.push(100, Fields::default());
    let mut s = ui.stream("", &["Last-Event-ID: 10"]);
    let text = read_until(&mut s, Duration::from_secs(5), |t| t.contains("id: 12\n"));
    assert_eq!(streamed_seqs(&text), [11, 12]);
    // Live: one pushed while connected arrives.
    ui.push(100, Fields::default());
    let text = read_until(&mut s, Duration::from_secs(5), |t| t.contains("id: 13\n"));
    assert_eq!(streamed_seqs(&text), [13]);
}

#[test]
fn a_stream_that_was_away_too_long_is_told_what_it_missed() {
    let ui = start(5, 1 << 20);
    for _ in 0..12 {
        ui.push(100, Fields::default());
    }
    let mut s = ui.stream("", &["Last-Event-ID: 2"]);
    let text = read_until(&mut s, Duration::from_secs(5), |t| t.contains("id: 12\n"));
    assert!(
        text.contains("event: evicted\ndata: {\"from\":3,\"to\":7,\"count\":5}"),
        "{text}"
    );
    assert_eq!(streamed_seqs(&text), [8, 9, 10, 11, 12]);
    assert_eq!(ui.counter("ui_stream_dropped"), 5);
}

#[test]
fn a_stuck_browser_never_blocks_the_capture_and_its_losses_are_counted() {
    let ui = start(200, 64 << 20);
    // A browser that opens the stream and then reads nothing.
    let mut stuck = ui.stream("", &[]);
    read_until(&mut stuck, Duration::from_secs(5), |t| {
        t.contains("event: hello")
    });
    // 20,000 entries of 8 KiB: far more than the socket buffers hold. The pushes (what
    // the processor thread does) must all complete while the browser reads nothing.
    let started = Instant::now();
    for _ in 0..20_000 {
        ui.push(8_192, Fields::default());
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "pushes were held up"
    );
    // The browser now reads again: it is told what it lost, and the loss is counted.
    let text = read_until(&mut stuck, Duration::from_secs(20), |t| {
        t.contains("id: 20000\n")
    });
    assert!(
        text.contains("event: evicted"),
        "{}",
        &text[..text.len().min(500)]
    );
    assert!(text.contains("id: 20000\n"));
    let dropped = ui.counter("ui_stream_dropped");
    assert!(dropped > 10_000, "{dropped}");
    // The ring kept its cap all along.
    assert_eq!(ui.shared.ring.stats().entries, 200);
}
