//! Hand-built transactions for the statistics processor tests (`tests/stats_*.rs`).
#![allow(dead_code)]

use std::net::SocketAddr;

use httshark::model::Anomaly;
use httshark::model::{
    Body, ConnInfo, Header, HttpVersion, Interim, Request, Response, Transaction, Unanswered,
};
use httshark::time::Timestamp;

/// Milliseconds since the epoch as a `Timestamp`.
pub fn ms(millis: i64) -> Timestamp {
    Timestamp(millis * 1_000_000)
}

/// Microseconds since the epoch as a `Timestamp`.
pub fn us(micros: i64) -> Timestamp {
    Timestamp(micros * 1_000)
}

/// A transaction under construction. Sizes are wire sizes: `req_head + req_body` is the
/// request, `resp_head + resp_body + interim heads` the response.
#[derive(Clone, Debug)]
pub struct Tx {
    pub conn: u64,
    pub depth: u32,
    pub server: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub target: String,
    /// Request first byte, µs since the epoch.
    pub start_us: i64,
    pub req_head: u64,
    pub req_body: u64,
    /// (status, head bytes, body bytes, latency µs = response last byte - request first byte)
    pub resp: Option<(u16, u64, u64, i64)>,
    /// Interim 1xx heads: (status, head bytes).
    pub interim: Vec<(u16, u64)>,
    /// When the transaction left the HTTP layer, µs; default: response last byte, or
    /// request first byte + 30 s for an unanswered one.
    pub completed_us: Option<i64>,
}

impl Tx {
    pub fn new(conn: u64, host: Option<&str>, target: &str, start_us: i64, req_head: u64) -> Tx {
        Tx {
            conn,
            depth: 1,
            server: "10.0.0.2:80",
            headers: host
                .map(|h| vec![("Host", h.to_string())])
                .unwrap_or_default(),
            target: target.to_string(),
            start_us,
            req_head,
            req_body: 0,
            resp: None,
            interim: Vec::new(),
            completed_us: None,
        }
    }

    pub fn depth(mut self, depth: u32) -> Tx {
        self.depth = depth;
        self
    }

    pub fn server(mut self, server: &'static str) -> Tx {
        self.server = server;
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> Tx {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn req_body(mut self, n: u64) -> Tx {
        self.req_body = n;
        self
    }

    pub fn resp(mut self, status: u16, head: u64, body: u64, latency_us: i64) -> Tx {
        self.resp = Some((status, head, body, latency_us));
        self
    }

    pub fn interim(mut self, status: u16, head: u64) -> Tx {
        self.interim.push((status, head));
        self
    }

    pub fn completed(mut self, completed_us: i64) -> Tx {
        self.completed_us = Some(completed_us);
        self
    }

    pub fn build(&self) -> Transaction {
        let start = us(self.start_us);
        let server: SocketAddr = self.server.parse().expect("server address");
        let client: SocketAddr = format!("10.0.0.1:{}", 40000 + self.conn % 20000)
            .parse()
            .expect("client address");
        let headers: Vec<Header> = self
            .headers
            .iter()
            .map(|(n, v)| Header {
                name: n.to_string().into(),
                value: v.as_str().into(),
            })
            .collect();
        let response = self.resp.map(|(status, head, body, latency)| Response {
            status,
            reason: String::new(),
            version: HttpVersion::Http11,
            headers: Vec::new(),
            head_len: head,
            body: Body {
                wire_len: body,
                len: body,
                ..Body::default()
            },
            first_ts: us(self.start_us + latency / 2),
            last_ts: us(self.start_us + latency),
            complete: true,
            interim: self
                .interim
                .iter()
                .map(|&(status, head_len)| Interim {
                    status,
                    reason: String::new(),
                    version: HttpVersion::Http11,
                    headers: Vec::new(),
                    head_len,
                    ts: start,
                })
                .collect(),
        });
        let completed = match (self.completed_us, self.resp) {
            (Some(c), _) => us(c),
            (None, Some((_, _, _, latency))) => us(self.start_us + latency),
            (None, None) => us(self.start_us + 30_000_000),
        };
        let anomalies = if response.is_none() {
            vec![Anomaly::Unanswered(Unanswered::Timeout)]
        } else {
            Vec::new()
        };
        Transaction {
            conn: ConnInfo {
                id: self.conn,
                client,
                server,
                syn_ts: None,
                synack_ts: None,
                established_ts: None,
                midstream: false,
            },
            depth: self.depth,
            request: Request {
                method: "GET".into(),
                target: self.target.clone(),
                version: HttpVersion::Http11,
                headers,
                head_len: self.req_head,
                body: Body {
                    wire_len: self.req_body,
                    len: self.req_body,
                    ..Body::default()
                },
                first_ts: start,
                last_ts: start,
                complete: true,
            },
            response,
            anomalies,
            process: None,
            completed_at: completed,
            tls: None,
            h2: None,
        }
    }
}

/// The transactions of the golden tests: three sites (two by Host header, one by server
/// address), every status class, an unanswered request, an interim response.
/// Request first bytes run from t = 1000 s to 1007 s.
pub fn golden() -> Vec<Transaction> {
    let s = 1_000_000_000i64; // 1000 s in µs
    vec![
        // api.example.com: 200 in 20 ms, 404 in 40.5 ms, one unanswered.
        Tx::new(1, Some("api.example.com"), "/v1/users", s, 200)
            .resp(200, 150, 850, 20_000)
            .build(),
        Tx::new(
            1,
            Some("api.example.com"),
            "/v1/users?page=2",
            s + 1_000_000,
            100,
        )
        .depth(2)
        .req_body(200)
        .resp(404, 120, 380, 40_500)
        .build(),
        Tx::new(2, Some("api.example.com"), "/v1/slow", s + 2_000_000, 250)
            .completed(s + 9_000_000)
            .build(),
        // www.example.com:8080: 100 Continue + 201, 503, 302.
        Tx::new(
            3,
            Some("www.example.com:8080"),
            "/upload",
            s + 3_000_000,
            400,
        )
        .interim(100, 25)
        .resp(201, 100, 0, 5_000)
        .build(),
        Tx::new(3, Some("www.example.com:8080"), "/", s + 4_000_000, 80)
            .depth(2)
            .resp(503, 90, 10, 1_234)
            .build(),
        Tx::new(4, Some("www.example.com:8080"), "/old", s + 5_000_000, 90)
            .resp(302, 110, 0, 500)
            .build(),
        // No Host header: the server address is the site; a 200 and a status out of range.
        Tx::new(5, None, "/metrics", s + 6_000_000, 60)
            .server("10.0.0.9:8000")
            .resp(200, 40, 0, 100_000)
            .build(),
        Tx::new(5, None, "/metrics", s + 7_000_000, 60)
            .depth(2)
            .server("10.0.0.9:8000")
            .resp(999, 40, 0, 3_000)
            .build(),
    ]
}

/// A deterministic permutation of `v` (no RNG: reverse, then interleave halves).
pub fn shuffled<T: Clone>(v: &[T]) -> Vec<T> {
    let rev: Vec<T> = v.iter().rev().cloned().collect();
    let (a, b) = rev.split_at(rev.len() / 2);
    let mut out = Vec::with_capacity(v.len());
    for i in 0..a.len().max(b.len()) {
        if let Some(x) = b.get(i) {
            out.push(x.clone());
        }
        if let Some(x) = a.get(i) {
            out.push(x.clone());
        }
    }
    out
}
