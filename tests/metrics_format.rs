//! Prometheus exposition: golden rendering from a `MetricsProcessor` fed hand-built
//! transactions, `promtool check metrics` on it, and scrapes over loopback.
// Tests may read the clock (deadlines, complexity guards); clippy.toml keeps it out of
// the library.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

use httshark::metrics::{self, Gauges, SharedMetrics};
use httshark::model::{
    Anomaly, Body, ConnInfo, Header, HttpVersion, Request, Response, Transaction, Unanswered,
};
use httshark::processor::metrics::MetricsProcessor;
use httshark::processor::Processor;
use httshark::time::Timestamp;

const MS: i64 = 1_000_000;

fn tx(host: Option<&str>, status: Option<u16>, wait_ms: i64) -> Transaction {
    let headers = host
        .map(|h| {
            vec![Header {
                name: "Host".into(),
                value: h.into(),
            }]
        })
        .unwrap_or_default();
    let req_last = Timestamp(1_000 * MS);
    Transaction {
        conn: ConnInfo {
            id: 1,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "[2001:db8::5]:8080".parse().unwrap(),
            syn_ts: None,
            synack_ts: None,
            established_ts: None,
            midstream: false,
        },
        depth: 1,
        request: Request {
            method: "GET".into(),
            target: "/".into(),
            version: HttpVersion::Http11,
            headers,
            head_len: 50,
            body: Body::default(),
            first_ts: Timestamp(999 * MS),
            last_ts: req_last,
            complete: true,
        },
        response: status.map(|s| Response {
            status: s,
            reason: String::new(),
            version: HttpVersion::Http11,
            headers: Vec::new(),
            head_len: 40,
            body: Body::default(),
            first_ts: Timestamp(req_last.0 + wait_ms * MS),
            last_ts: Timestamp(req_last.0 + wait_ms * MS + MS),
            complete: true,
            interim: Vec::new(),
        }),
        anomalies: if status.is_none() {
            vec![Anomaly::Unanswered(Unanswered::Timeout)]
        } else {
            Vec::new()
        },
        process: None,
        completed_at: Timestamp(2_000 * MS),
        tls: None,
        h2: None,
    }
}

/// A registry filled the way the pipeline and the processor fill it.
fn filled(max_sites: usize) -> SharedMetrics {
    let shared = SharedMetrics::new();
    shared.set_counters(&[("packets", 1200), ("tcp_segments", 1100), ("gaps", 3)]);
    shared.set_gauges(Gauges {
        open_connections: Some(12),
        pending_requests: Some(4),
        buffered_bytes: None,
        memory_bytes: Some(52_428_800),
    });
    let mut p = MetricsProcessor::new(max_sites, shared.clone());
    for t in [
        tx(Some("Example.com"), Some(200), 3),
        tx(Some("example.com"), Some(200), 120),
        tx(Some("example.com"), Some(404), 7),
        tx(Some("api.test:8080"), Some(503), 2_000),
        tx(Some("api.test:8080"), None, 0),
        tx(None, Some(301), 0),
        tx(Some("quote\"back\\slash"), Some(200), 70_000),
    ] {
        p.on_transaction(&t).unwrap();
    }
    p.on_tick(Timestamp(3_000 * MS)).unwrap();
    shared
}

const GOLDEN: &str = r#"# HELP httshark_packets_total Frames read from the source (that matched the capture filter). (docs/counters.md)
# TYPE httshark_packets_total counter
httshark_packets_total 1200
# HELP httshark_tcp_segments_total Frames that were TCP segments. (docs/counters.md)
# TYPE httshark_tcp_segments_total counter
httshark_tcp_segments_total 1100
# HELP httshark_gaps_total Gaps delivered. (docs/counters.md)
# TYPE httshark_gaps_total counter
httshark_gaps_total 3
# HELP httshark_open_connections TCP connections tracked.
# TYPE httshark_open_connections gauge
httshark_open_connections 12
# HELP httshark_pending_requests Requests waiting for their response.
# TYPE httshark_pending_requests gauge
httshark_pending_requests 4
# HELP httshark_memory_bytes Resident memory of the process in bytes (Linux only).
# TYPE httshark_memory_bytes gauge
httshark_memory_bytes 52428800
# HELP httshark_site_requests_total Requests by site (Host header, else server address) and final status class (none: unanswered); sites past the limit are counted as site="other".
# TYPE httshark_site_requests_total counter
httshark_site_requests_total{site="[2001:db8::5]:8080",status_class="3xx"} 1
httshark_site_requests_total{site="api.test:8080",status_class="5xx"} 1
httshark_site_requests_total{site="api.test:8080",status_class="none"} 1
httshark_site_requests_total{site="example.com",status_class="2xx"} 2
httshark_site_requests_total{site="example.com",status_class="4xx"} 1
httshark_site_requests_total{site="other",status_class="2xx"} 1
# HELP httshark_site_response_latency_seconds Time from the last byte of the request to the first byte of the response (HAR timings.wait), by site, in packet time.
# TYPE httshark_site_response_latency_seconds histogram
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="0.001"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="0.005"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="0.01"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="0.025"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="0.05"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="0.1"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="0.25"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="0.5"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="1"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="2.5"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="5"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="10"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="30"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="60"} 1
httshark_site_response_latency_seconds_bucket{site="[2001:db8::5]:8080",le="+Inf"} 1
httshark_site_response_latency_seconds_sum{site="[2001:db8::5]:8080"} 0
httshark_site_response_latency_seconds_count{site="[2001:db8::5]:8080"} 1
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="0.001"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="0.005"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="0.01"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="0.025"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="0.05"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="0.1"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="0.25"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="0.5"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="1"} 0
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="2.5"} 1
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="5"} 1
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="10"} 1
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="30"} 1
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="60"} 1
httshark_site_response_latency_seconds_bucket{site="api.test:8080",le="+Inf"} 1
httshark_site_response_latency_seconds_sum{site="api.test:8080"} 2
httshark_site_response_latency_seconds_count{site="api.test:8080"} 1
httshark_site_response_latency_seconds_bucket{site="example.com",le="0.001"} 0
httshark_site_response_latency_seconds_bucket{site="example.com",le="0.005"} 1
httshark_site_response_latency_seconds_bucket{site="example.com",le="0.01"} 2
httshark_site_response_latency_seconds_bucket{site="example.com",le="0.025"} 2
httshark_site_response_latency_seconds_bucket{site="example.com",le="0.05"} 2
httshark_site_response_latency_seconds_bucket{site="example.com",le="0.1"} 2
httshark_site_response_latency_seconds_bucket{site="example.com",le="0.25"} 3
httshark_site_response_latency_seconds_bucket{site="example.com",le="0.5"} 3
httshark_site_response_latency_seconds_bucket{site="example.com",le="1"} 3
httshark_site_response_latency_seconds_bucket{site="example.com",le="2.5"} 3
httshark_site_response_latency_seconds_bucket{site="example.com",le="5"} 3
httshark_site_response_latency_seconds_bucket{site="example.com",le="10"} 3
httshark_site_response_latency_seconds_bucket{site="example.com",le="30"} 3
httshark_site_response_latency_seconds_bucket{site="example.com",le="60"} 3
httshark_site_response_latency_seconds_bucket{site="example.com",le="+Inf"} 3
httshark_site_response_latency_seconds_sum{site="example.com"} 0.13
httshark_site_response_latency_seconds_count{site="example.com"} 3
httshark_site_response_latency_seconds_bucket{site="other",le="0.001"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="0.005"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="0.01"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="0.025"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="0.05"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="0.1"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="0.25"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="0.5"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="1"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="2.5"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="5"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="10"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="30"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="60"} 0
httshark_site_response_latency_seconds_bucket{site="other",le="+Inf"} 1
httshark_site_response_latency_seconds_sum{site="other"} 70
httshark_site_response_latency_seconds_count{site="other"} 1
# HELP httshark_metrics_site_overflow_total Transactions counted under site="other" because the site limit was reached.
# TYPE httshark_metrics_site_overflow_total counter
httshark_metrics_site_overflow_total 1
# HELP httshark_metrics_site_labels_cut_total Site labels cut to the maximum label length.
# TYPE httshark_metrics_site_labels_cut_total counter
httshark_metrics_site_labels_cut_total 0
"#;

#[test]
fn golden_exposition() {
    // Three sites fit, taken first come: example.com (Host lowercased), api.test:8080 and
    // the server address (no Host); the fourth distinct site is counted as "other".
    let text = filled(3).render();
    if text != GOLDEN {
        for (i, (a, b)) in text.lines().zip(GOLDEN.lines()).enumerate() {
            assert_eq!(a, b, "line {}", i + 1);
        }
        assert_eq!(text, GOLDEN);
    }
}

#[test]
fn hostile_labels_are_escaped() {
    let text = filled(10).render();
    assert!(
        text.contains(
            "httshark_site_requests_total{site=\"quote\\\"back\\\\slash\",status_class=\"2xx\"} 1\n"
        ),
        "{text}"
    );
}

/// `promtool check metrics` reads the exposition on stdin and lints it.
fn promtool(text: &str) -> Option<(bool, String)> {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("promtool not available ({e}); `apt-get install prometheus`");
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            println!("skipping: {msg}");
            return None;
        }
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success() && report.trim().is_empty(), report))
}

#[test]
fn promtool_accepts_the_exposition() {
    for text in [
        filled(3).render(),
        filled(100).render(),
        SharedMetrics::new().render(),
    ] {
        if let Some((ok, report)) = promtool(&text) {
            assert!(ok, "promtool: {report}\n{text}");
        }
    }
}

#[test]
fn promtool_rejects_a_broken_exposition() {
    // The check above can fail: promtool does flag a malformed exposition.
    let broken = GOLDEN.replace("{site=\"example.com\",", "{site=\"exa\"mple.com\",");
    if let Some((ok, _)) = promtool(&broken) {
        assert!(!ok);
    }
}

fn request(addr: SocketAddr, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(raw).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Waits until everything sent on `s` has been read by the application at the other end
/// (Linux: both queues of the connection empty in /proc/net/tcp); without procfs, 20 ms.
fn wait_read_by_peer(s: &TcpStream) {
    let (me, peer) = (
        s.local_addr().unwrap().port(),
        s.peer_addr().unwrap().port(),
    );
    let port = |field: &str| {
        field
            .rsplit_once(':')
            .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
    };
    // (tx_queue, rx_queue) of the socket from `local` to `remote`.
    let queues = |text: &str, local: u16, remote: u16| {
        text.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() < 5 || port(f[1]) != Some(local) || port(f[2]) != Some(remote) {
                return None;
            }
            let (tx, rx) = f[4].split_once(':')?;
            Some((
                u64::from_str_radix(tx, 16).ok()?,
                u64::from_str_radix(rx, 16).ok()?,
            ))
        })
    };
    let start = std::time::Instant::now();
    loop {
        let Ok(text) = std::fs::read_to_string("/proc/net/tcp") else {
            std::thread::sleep(Duration::from_millis(20));
            return;
        };
        let sent = queues(&text, me, peer).is_some_and(|(tx, _)| tx == 0);
        let read = queues(&text, peer, me).is_some_and(|(_, rx)| rx == 0);
        if sent && read {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the server did not read the first part within 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn serves_metrics_over_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let shared = filled(3);
    metrics::serve_listener(listener, shared.clone()).unwrap();

    let r = request(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    let (head, body) = r.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
        "{head}"
    );
    assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
    assert_eq!(body, GOLDEN);

    // Updates are visible on the next scrape.
    shared.set_counters(&[("packets", 1201)]);
    let r = request(addr, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n");
    assert!(r.contains("\nhttshark_packets_total 1201\n"));

    // Request split over several writes.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /met").unwrap();
    // The server has read the first part before the rest is sent: two reads for sure.
    wait_read_by_peer(&s);
    s.write_all(b"rics HTTP/1.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"));

    let r = request(addr, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(
        r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\n"),
        "{r}"
    );

    let r = request(addr, b"GET / HTTP/1.1\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
    let r = request(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"), "{r}");
    assert!(r.contains("\r\nAllow: GET, HEAD\r\n"));
    let r = request(addr, b"\x16\x03\x01garbage\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");

    // An endless head is cut at the request limit.
    let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
    while big.len() <= metrics::MAX_REQUEST_BYTES {
        big.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    let r = request(addr, &big);
    assert!(r.starts_with("HTTP/1.1 431 "), "{r}");

    // A client that connects and goes away does not stop the server.
    drop(TcpStream::connect(addr).unwrap());
    let r = request(addr, b"GET /metrics HTTP/1.1\r\n\r\n");
    assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
}

#[test]
fn bind_errors_are_clear() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = metrics::serve(&addr, SharedMetrics::new()).unwrap_err();
    assert!(
        err.starts_with(&format!("-metrics-listen {addr}: cannot listen:")),
        "{err}"
    );
    let err = metrics::bind("not an address").unwrap_err();
    assert!(err.contains("not a listen address"), "{err}");
    // Go's ":port" spelling is accepted.
    let l = metrics::bind(":0").unwrap();
    assert!(l.local_addr().unwrap().ip().is_unspecified());
}
