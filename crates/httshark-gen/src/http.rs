//! HTTP/1.1 scenario generation: what each simulated client asked and each server answered,
//! as TCP frames (through [`super::tcp`]) and as ground truth ([`ExpectedTx`]).
//!
//! One connection is generated at a time from its own random stream
//! (`Rng::derive(seed, conn_index, ..)`), so a connection's bytes depend only on the seed,
//! its index and the parameters, never on what other connections did or on how they are
//! interleaved (that is [`super::scenario`]'s job).
//!
//! Features, each with a share in [`HttpParams`]: keep-alive with several transactions per
//! connection, pipelining (RFC 9112 section 9.3.2), POST/PUT with Content-Length or chunked
//! bodies, `Expect: 100-continue` with an interim `100 Continue` (RFC 9110 section 10.1.1),
//! chunked responses (RFC 9112 section 7.1), gzip content coding (RFC 9110 section 8.4.1),
//! HEAD (RFC 9110 section 9.3.2: Content-Length without a body), 204 and 304 (no body,
//! RFC 9112 section 6.3 rule 1), responses delimited by the server closing the connection
//! (RFC 9112 section 6.3 rule 8), connections reset with a request left unanswered, captures
//! that start on an established connection (`midstream`, always at a message boundary), and
//! connections the capture ends on before they close.
//!
//! What it does not make: HTTP/1.0 requests, trailers, CONNECT/Upgrade, multiple interim
//! responses, malformed messages. Those belong in hand-written transcripts.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::sync::OnceLock;
use std::time::Duration;

use super::rng::Rng;
use super::tcp::{Direction, Packet, TcpConn, TcpParams};
use super::tls_conn::{TlsConn, TlsParams};
use crate::time::Timestamp;

/// How a message body is delimited on the wire (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// No body by rule (GET without body, HEAD response, 204, 304).
    None,
    ContentLength,
    Chunked,
    /// The body runs until the server closes the connection.
    Close,
}

impl Framing {
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::None => "none",
            Framing::ContentLength => "length",
            Framing::Chunked => "chunked",
            Framing::Close => "close",
        }
    }

    pub fn parse(s: &str) -> Option<Framing> {
        match s {
            "none" => Some(Framing::None),
            "length" => Some(Framing::ContentLength),
            "chunked" => Some(Framing::Chunked),
            "close" => Some(Framing::Close),
            _ => None,
        }
    }
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnEnd {
    ClientFin,
    ServerFin,
    ClientRst,
    ServerRst,
    /// Still open when the capture ends.
    Open,
}

/// What one client and server did in one transaction: the ground truth to compare a
/// sniffer's output with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedTx {
    /// Index of the connection in the scenario (0-based, in connection start order).
    pub conn_index: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Index of the transaction on its connection (0-based keep-alive depth).
    pub depth: u32,
    /// Earlier requests on the connection still unanswered when this one was sent
    /// (0 unless pipelined).
    pub in_flight: u32,
    pub method: String,
    /// The Host header value (with `:port` when the port is not 80).
    pub host: String,
    /// The request-target exactly as on the request line.
    pub uri: String,
    /// Final status; `None` when the server reset the connection instead of answering.
    pub status: Option<u16>,
    pub req_head_len: u64,
    /// Request body after removing chunked framing.
    pub req_body_len: u64,
    /// Request body bytes on the wire (with chunked framing).
    pub req_wire_body_len: u64,
    pub req_framing: Framing,
    /// Bytes of the interim `100 Continue` response before the final one (0 if none).
    pub resp_interim_len: u64,
    pub resp_head_len: u64,
    /// Response body after removing chunked framing and content coding.
    pub resp_body_len: u64,
    /// Response body bytes on the wire (with chunked framing, still content-coded).
    pub resp_wire_body_len: u64,
    pub resp_framing: Framing,
    /// The Content-Encoding of the response, if any.
    pub content_encoding: Option<String>,
    /// Time of the first and last request segments.
    pub req_start: Timestamp,
    pub req_end: Timestamp,
    /// Time of the first and last segments of the final response.
    pub resp_start: Option<Timestamp>,
    pub resp_end: Option<Timestamp>,
    /// Where the request (head and body) lies in the client's byte stream.
    pub req_stream: Range<u64>,
    /// Where the response (interim, head and body) lies in the server's byte stream.
    pub resp_stream: Range<u64>,
}

/// A size distribution: `zero_share` of zero, the rest log-uniform in `min..=max`.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub zero_share: f64,
    pub min: u64,
    pub max: u64,
}

impl Sizes {
    pub fn draw(&self, rng: &mut Rng) -> u64 {
        if rng.chance(self.zero_share) {
            0
        } else {
            rng.log_uniform(self.min, self.max)
        }
    }
}

/// Scenario parameters. Shares are probabilities in `[0, 1]`.
#[derive(Clone, Debug)]
pub struct HttpParams {
    pub seed: u64,
    /// Stop after this many connections (`None`: until `target_bytes`).
    pub connections: Option<u64>,
    /// Stop starting connections once the capture reaches about this many bytes.
    pub target_bytes: Option<u64>,
    /// Transactions per connection, uniform in this range.
    pub tx_per_conn: (u32, u32),
    /// Share of connections with several transactions that pipeline their requests.
    pub pipelining: f64,
    /// At most this many requests are sent ahead of their responses.
    pub max_pipeline: u32,
    /// Number of distinct virtual hosts (each on its own server address).
    pub hosts: u32,
    /// Number of distinct client addresses.
    pub clients: u32,
    pub resp_body: Sizes,
    pub req_body: Sizes,
    /// Share of requests that are POST or PUT with a body.
    pub post_put_share: f64,
    /// Share of bodies (requests and responses) sent chunked.
    pub chunked_share: f64,
    /// Share of text responses sent gzip-coded.
    pub gzip_share: f64,
    pub head_share: f64,
    /// Share of requests answered 204 (POST/PUT) or 304 (conditional GET).
    pub no_content_share: f64,
    /// Share of requests with a body that send `Expect: 100-continue` (not pipelined).
    pub expect_continue_share: f64,
    /// Share of connections whose last response is delimited by the server's FIN.
    pub close_delimited_share: f64,
    /// Share of connections the capture joins after the handshake.
    pub midstream_share: f64,
    /// Share of connections ended by a RST (half of them with the last request unanswered).
    pub rst_share: f64,
    /// Share of connections still open at the end.
    pub open_share: f64,
    /// Share of connections whose ISNs are within 4 KiB of 2^32, so sequence numbers wrap.
    pub isn_wrap_share: f64,
    pub ipv6: bool,
    /// Link type, MSS, RTT and gaps (ISNs are drawn per connection).
    pub tcp: TcpParams,
    /// Time of the first connection.
    pub start: Timestamp,
    /// Mean time between connection starts (uniform in `0..=2*conn_interval`).
    pub conn_interval: Duration,
    /// At most this many connections have packets pending at once.
    pub max_concurrent: usize,
    /// Client think time between transactions, uniform up to this.
    pub think_max: Duration,
    /// Server processing time, uniform up to this.
    pub server_time_max: Duration,
    /// Every connection inside TLS 1.3 (`None`: plaintext HTTP). The HTTP bytes, and so
    /// the ground truth's transactions, sizes and stream offsets (then offsets in the
    /// decrypted stream), are those of the plaintext scenario; only times differ, by the
    /// handshake and the record overhead. See [`crate::tls_conn`].
    pub tls: Option<TlsParams>,
}

impl HttpParams {
    /// A mix of every feature, moderate sizes.
    pub fn mixed(seed: u64) -> HttpParams {
        HttpParams {
            seed,
            connections: Some(100),
            target_bytes: None,
            tx_per_conn: (1, 6),
            pipelining: 0.15,
            max_pipeline: 4,
            hosts: 8,
            clients: 32,
            resp_body: Sizes {
                zero_share: 0.1,
                min: 16,
                max: 64 * 1024,
            },
            req_body: Sizes {
                zero_share: 0.05,
                min: 8,
                max: 16 * 1024,
            },
            post_put_share: 0.2,
            chunked_share: 0.2,
            gzip_share: 0.2,
            head_share: 0.05,
            no_content_share: 0.08,
            expect_continue_share: 0.3,
            close_delimited_share: 0.1,
            midstream_share: 0.05,
            rst_share: 0.08,
            open_share: 0.04,
            isn_wrap_share: 0.1,
            ipv6: false,
            tcp: TcpParams::default(),
            start: Timestamp::from_secs_nanos(1_700_000_000, 0),
            conn_interval: Duration::from_millis(30),
            max_concurrent: 32,
            think_max: Duration::from_millis(150),
            server_time_max: Duration::from_millis(40),
            tls: None,
        }
    }

    /// The committed fixture `fixtures/generated-small.pcap`: a few dozen transactions on
    /// 3 hosts, every feature present, under 200 KB.
    pub fn small(seed: u64) -> HttpParams {
        HttpParams {
            connections: Some(14),
            tx_per_conn: (1, 5),
            pipelining: 0.25,
            hosts: 3,
            clients: 4,
            resp_body: Sizes {
                zero_share: 0.1,
                min: 10,
                max: 12 * 1024,
            },
            req_body: Sizes {
                zero_share: 0.05,
                min: 5,
                max: 3000,
            },
            post_put_share: 0.3,
            chunked_share: 0.35,
            gzip_share: 0.25,
            head_share: 0.08,
            no_content_share: 0.1,
            expect_continue_share: 0.5,
            close_delimited_share: 0.2,
            midstream_share: 0.15,
            rst_share: 0.15,
            open_share: 0.07,
            isn_wrap_share: 0.2,
            max_concurrent: 6,
            ..HttpParams::mixed(seed)
        }
    }

    /// Bulk traffic for benchmarks: many transactions, bodies up to 256 KiB, fewer rarities.
    pub fn bench(seed: u64) -> HttpParams {
        HttpParams {
            connections: None,
            target_bytes: Some(100 * 1_000_000),
            tx_per_conn: (1, 20),
            hosts: 50,
            clients: 500,
            resp_body: Sizes {
                zero_share: 0.2,
                min: 100,
                max: 256 * 1024,
            },
            gzip_share: 0.1,
            expect_continue_share: 0.1,
            close_delimited_share: 0.05,
            midstream_share: 0.01,
            rst_share: 0.03,
            open_share: 0.01,
            conn_interval: Duration::from_millis(5),
            max_concurrent: 64,
            ..HttpParams::mixed(seed)
        }
    }

    /// Checks what the generator cannot work with (shares need no check: a share above 1
    /// acts as 1, below 0 as 0).
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=65_000).contains(&self.tcp.mss) {
            return Err(format!("MSS {} outside 1..=65000", self.tcp.mss));
        }
        if self.tx_per_conn.0 > self.tx_per_conn.1 {
            return Err(format!("tx_per_conn {:?}: min above max", self.tx_per_conn));
        }
        if self.hosts == 0 || self.clients == 0 || self.max_concurrent == 0 {
            return Err("hosts, clients and max_concurrent must be at least 1".to_string());
        }
        Ok(())
    }

    /// The preset of this name: `small`, `mixed` or `bench`.
    pub fn preset(name: &str, seed: u64) -> Option<HttpParams> {
        match name {
            "small" => Some(HttpParams::small(seed)),
            "mixed" => Some(HttpParams::mixed(seed)),
            "bench" => Some(HttpParams::bench(seed)),
            _ => None,
        }
    }
}

/// Purpose tags for `Rng::derive`, so the content, schedule and fault streams never share
/// draws.
pub(crate) const RNG_CONN: u64 = 1;
pub(crate) const RNG_SCHEDULE: u64 = 2;
pub(crate) const RNG_FAULTS: u64 = 3;
pub(crate) const RNG_TLS: u64 = 4;

const HOST_NAMES: &[&str] = &[
    "www.example.com",
    "api.example.net",
    "static.example.org",
    "shop.example.com",
    "cdn.example.net",
    "news.example.org",
    "mail.example.com",
    "img.example.net",
];

/// The Host header, server address and port of virtual host `i`.
pub fn host(i: u32, ipv6: bool) -> (String, SocketAddr) {
    let base = HOST_NAMES[i as usize % HOST_NAMES.len()];
    let round = i as usize / HOST_NAMES.len();
    let name = if round == 0 {
        base.to_string()
    } else {
        format!("h{round}.{base}")
    };
    // Every third host listens on 8080 (a port tshark also dissects as HTTP by default).
    let port = if i % 3 == 2 { 8080 } else { 80 };
    let ip = if ipv6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x5,
            0,
            0,
            0,
            (i >> 16) as u16,
            (i as u16).wrapping_add(10),
        ))
    } else {
        // Documentation ranges (RFC 5737) first, then a private range.
        let v = match i {
            0..=239 => Ipv4Addr::new(192, 0, 2, 10 + i as u8),
            240..=479 => Ipv4Addr::new(198, 51, 100, (i - 230) as u8),
            480..=719 => Ipv4Addr::new(203, 0, 113, (i - 470) as u8),
            _ => Ipv4Addr::new(172, 16 + ((i >> 16) & 0x0f) as u8, (i >> 8) as u8, i as u8),
        };
        IpAddr::V4(v)
    };
    let header = if port == 80 {
        name
    } else {
        format!("{name}:{port}")
    };
    (header, SocketAddr::new(ip, port))
}

/// The address of client `k` and the source port of connection `conn`.
fn client_addr(k: u32, conn: u32, ipv6: bool) -> SocketAddr {
    // Ephemeral ports cycle through 32768..61000 with the connection index: two
    // connections only share a 4-tuple 28232 connections apart, long after the first ended.
    let port = 32768 + (conn % 28_232) as u16;
    // Host numbers from 2 up, 250 per /24, so no address ends in .0, .1 or .255.
    let (net, host) = (k / 250, k % 250 + 2);
    let ip = if ipv6 {
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0xc,
            0,
            0,
            0,
            net as u16,
            host as u16,
        ))
    } else {
        IpAddr::V4(Ipv4Addr::new(
            10,
            1 + (net >> 8) as u8,
            net as u8,
            host as u8,
        ))
    };
    SocketAddr::new(ip, port)
}

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Wget/1.21.4",
];

const SERVERS: &[&str] = &[
    "nginx/1.24.0",
    "Apache/2.4.58 (Debian)",
    "envoy",
    "gunicorn",
];

const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "packet",
    "capture",
    "stream",
    "segment",
    "window",
    "header",
    "request",
    "response",
];

/// A 64 KiB block of text that text bodies are cut from (built once, from a fixed seed).
fn corpus() -> &'static [u8] {
    static CORPUS: OnceLock<Vec<u8>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut r = Rng::new(0x5eed);
        let mut s = String::with_capacity(66_000);
        while s.len() < 65_536 {
            let n = r.range(4, 14);
            for i in 0..n {
                let w = r.pick(WORDS).copied().unwrap_or("x");
                if i > 0 {
                    s.push(' ');
                }
                s.push_str(w);
            }
            s.push_str(".\n");
        }
        s.into_bytes()
    })
}

/// What a body holds, which decides its Content-Type and whether it compresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Html,
    Json,
    Css,
    Js,
    Image,
    Octet,
    Form,
}

impl Kind {
    fn content_type(self) -> &'static str {
        match self {
            Kind::Html => "text/html; charset=utf-8",
            Kind::Json => "application/json",
            Kind::Css => "text/css",
            Kind::Js => "application/javascript",
            Kind::Image => "image/webp",
            Kind::Octet => "application/octet-stream",
            Kind::Form => "application/x-www-form-urlencoded",
        }
    }

    fn is_text(self) -> bool {
        !matches!(self, Kind::Image | Kind::Octet)
    }
}

/// A body of exactly `len` bytes of the given kind.
fn body(rng: &mut Rng, kind: Kind, len: u64) -> Vec<u8> {
    let len = len as usize;
    let mut out = Vec::with_capacity(len);
    if kind.is_text() {
        let (pre, post): (&[u8], &[u8]) = match kind {
            Kind::Html => (b"<!DOCTYPE html>\n<html><body><p>", b"</p></body></html>\n"),
            Kind::Json => (b"{\"items\":[\"", b"\"]}"),
            Kind::Form => (b"field=", b"&submit=1"),
            _ => (b"/* ", b" */\n"),
        };
        let c = corpus();
        if len >= pre.len() + post.len() {
            out.extend_from_slice(pre);
            let mut at = rng.below(c.len() as u64) as usize;
            while out.len() < len - post.len() {
                let take = (len - post.len() - out.len()).min(c.len() - at);
                out.extend_from_slice(c.get(at..at + take).unwrap_or_default());
                at = 0;
            }
            out.extend_from_slice(post);
        } else if kind == Kind::Json && len >= 2 {
            // Too short for the wrapper: a JSON string is still valid JSON.
            out.push(b'"');
            out.extend(c.iter().take(len - 2));
            out.push(b'"');
        } else if kind == Kind::Json {
            out.extend(b"0".iter().take(len));
        } else {
            out.extend(c.iter().take(len));
        }
        if kind == Kind::Json {
            // Keep JSON strings free of control characters (RFC 8259 section 7).
            for b in out.iter_mut() {
                if *b == b'\n' {
                    *b = b' ';
                }
            }
        }
        if kind == Kind::Form {
            // Form bodies must not carry raw spaces or newlines.
            for b in out.iter_mut() {
                if *b == b' ' || *b == b'\n' {
                    *b = b'+';
                }
            }
        }
    } else {
        if kind == Kind::Image && len >= 4 {
            out.extend_from_slice(b"RIFF");
        }
        while out.len() + 8 <= len {
            out.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        let rest = rng.next_u64().to_le_bytes();
        let need = len - out.len();
        out.extend_from_slice(rest.get(..need).unwrap_or_default());
    }
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    // mtime 0 and OS 255 ("unknown") so the output depends on the data only.
    let mut e = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(
            Vec::with_capacity(data.len() / 3 + 64),
            flate2::Compression::fast(),
        );
    // Writing into a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Chunked transfer coding (RFC 9112 section 7.1) with random chunk sizes, no trailers.
fn chunk(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 256 + 16);
    let mut rest = data;
    while !rest.is_empty() {
        let n = (rng.log_uniform(1, 16 * 1024) as usize).min(rest.len());
        let (c, r) = rest.split_at(n);
        let _ = write!(&mut out, "{n:x}\r\n");
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
        rest = r;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

fn http_date(ts: Timestamp) -> String {
    chrono::DateTime::from_timestamp(ts.secs(), 0)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 GMT".to_string())
}

/// A request-target with realistic shapes: static files, API paths, query strings (with
/// repeated keys sometimes) and percent-encoding.
fn uri(rng: &mut Rng, method: &str, kind: Kind) -> String {
    let n = rng.below(10_000);
    match (method, kind) {
        ("POST", Kind::Form) => "/login".to_string(),
        ("POST", _) => format!("/api/v1/items?batch={}", rng.below(100)),
        ("PUT", _) => format!("/upload/files/report%20{n}.bin"),
        (_, Kind::Html) => match rng.below(4) {
            0 => "/".to_string(),
            1 => format!("/news/{n}.html"),
            2 => format!(
                "/search?q={}&tag={}&tag={}&page={}",
                rng.pick(WORDS).copied().unwrap_or("q"),
                rng.pick(WORDS).copied().unwrap_or("a"),
                rng.pick(WORDS).copied().unwrap_or("b"),
                rng.range(1, 9)
            ),
            _ => "/index.html".to_string(),
        },
        (_, Kind::Json) => match rng.below(2) {
            0 => format!("/api/v1/items/{n}"),
            _ => format!("/api/v1/items?id={n}&id={}&fields=name,price", n + 1),
        },
        (_, Kind::Css) => format!("/static/site.{n:x}.css"),
        (_, Kind::Js) => format!("/static/app.{n:x}.js?v={}", rng.below(50)),
        (_, Kind::Image) => format!("/img/photo_{n}.webp"),
        _ => format!("/download/file{n}.bin"),
    }
}

/// One planned transaction.
struct TxPlan {
    method: &'static str,
    uri: String,
    req_head: Vec<u8>,
    req_body_wire: Vec<u8>,
    req_body_len: u64,
    req_framing: Framing,
    expect_continue: bool,
    status: u16,
    resp_head: Vec<u8>,
    resp_body_wire: Vec<u8>,
    resp_body_len: u64,
    resp_framing: Framing,
    content_encoding: Option<&'static str>,
}

/// Per-connection choices that shape the transactions.
struct ConnPlan {
    host: String,
    /// This transaction is the last one and its response ends with the connection.
    close_delimited_last: bool,
    /// The client announces `Connection: close` on its last request.
    client_close_header: bool,
    pipelined: bool,
}

fn plan_tx(rng: &mut Rng, p: &HttpParams, cp: &ConnPlan, last: bool, ts: Timestamp) -> TxPlan {
    let ua = rng.pick(USER_AGENTS).copied().unwrap_or("curl/8.5.0");
    let server = rng.pick(SERVERS).copied().unwrap_or("nginx");
    // Method and what the request carries.
    let roll = rng.unit();
    let (method, req_kind) = if roll < p.post_put_share {
        if rng.chance(0.6) {
            (
                "POST",
                if rng.chance(0.4) {
                    Kind::Form
                } else {
                    Kind::Json
                },
            )
        } else {
            ("PUT", Kind::Octet)
        }
    } else if roll < p.post_put_share + p.head_share {
        ("HEAD", Kind::Html)
    } else {
        let kinds = [
            Kind::Html,
            Kind::Json,
            Kind::Css,
            Kind::Js,
            Kind::Image,
            Kind::Octet,
        ];
        ("GET", rng.pick(&kinds).copied().unwrap_or(Kind::Html))
    };
    let uri = uri(rng, method, req_kind);
    let has_req_body = method == "POST" || method == "PUT";
    let no_content = rng.chance(p.no_content_share);
    let conditional = method == "GET" && no_content;

    let (req_body_wire, req_body_len, req_framing) = if has_req_body {
        let len = p.req_body.draw(rng).max(1);
        let b = body(rng, req_kind, len);
        if method == "PUT" && rng.chance(p.chunked_share) {
            (chunk(rng, &b), len, Framing::Chunked)
        } else {
            (b, len, Framing::ContentLength)
        }
    } else {
        (Vec::new(), 0, Framing::None)
    };
    let expect_continue = has_req_body && !cp.pipelined && rng.chance(p.expect_continue_share);

    let mut h = String::with_capacity(512);
    let _ = write!(
        h,
        "{method} {uri} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {ua}\r\n",
        cp.host
    );
    let accept = match req_kind {
        Kind::Html | Kind::Form => "text/html,application/xhtml+xml,*/*;q=0.8",
        Kind::Json | Kind::Octet => "application/json, */*",
        Kind::Image => "image/avif,image/webp,*/*",
        _ => "*/*",
    };
    let _ = write!(h, "Accept: {accept}\r\nAccept-Encoding: gzip, deflate\r\n");
    if rng.chance(0.5) {
        h.push_str("Accept-Language: en-US,en;q=0.9\r\n");
    }
    if rng.chance(0.3) {
        let _ = write!(h, "Cookie: sid={:016x}; theme=dark\r\n", rng.next_u64());
    }
    if conditional {
        let _ = write!(h, "If-None-Match: \"{:08x}\"\r\n", rng.next_u32());
    }
    if has_req_body {
        let _ = write!(h, "Content-Type: {}\r\n", req_kind.content_type());
        match req_framing {
            Framing::Chunked => h.push_str("Transfer-Encoding: chunked\r\n"),
            _ => {
                let _ = write!(h, "Content-Length: {req_body_len}\r\n");
            }
        }
    }
    if expect_continue {
        h.push_str("Expect: 100-continue\r\n");
    }
    if last && cp.client_close_header {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    let req_head = h.into_bytes();

    // The response.
    let (status, reason, resp_kind) = if method == "HEAD" {
        (200, "OK", Kind::Html)
    } else if conditional {
        (304, "Not Modified", req_kind)
    } else if has_req_body && no_content {
        (204, "No Content", req_kind)
    } else if has_req_body {
        if method == "PUT" {
            (201, "Created", Kind::Json)
        } else {
            (200, "OK", Kind::Json)
        }
    } else if rng.chance(0.04) {
        (404, "Not Found", Kind::Html)
    } else if rng.chance(0.03) {
        (301, "Moved Permanently", Kind::Html)
    } else {
        (200, "OK", req_kind)
    };
    let bodyless = method == "HEAD" || status == 204 || status == 304;
    let plain_len = if bodyless {
        0
    } else if status == 404 || status == 301 {
        rng.range(100, 300)
    } else {
        p.resp_body.draw(rng)
    };
    let plain = if bodyless {
        Vec::new()
    } else {
        body(rng, resp_kind, plain_len)
    };
    let content_encoding =
        if !bodyless && resp_kind.is_text() && plain_len > 0 && rng.chance(p.gzip_share) {
            Some("gzip")
        } else {
            None
        };
    let coded = match content_encoding {
        Some(_) => gzip(&plain),
        None => plain,
    };
    let resp_framing = if bodyless {
        Framing::None
    } else if last && cp.close_delimited_last {
        Framing::Close
    } else if rng.chance(p.chunked_share) {
        Framing::Chunked
    } else {
        Framing::ContentLength
    };
    let resp_body_wire = match resp_framing {
        Framing::Chunked => chunk(rng, &coded),
        _ => coded,
    };
    let mut h = String::with_capacity(400);
    let _ = write!(
        h,
        "HTTP/1.1 {status} {reason}\r\nDate: {}\r\nServer: {server}\r\n",
        http_date(ts)
    );
    if status != 204 && status != 304 {
        let _ = write!(h, "Content-Type: {}\r\n", resp_kind.content_type());
    }
    match resp_framing {
        Framing::ContentLength => {
            let _ = write!(h, "Content-Length: {}\r\n", resp_body_wire.len());
        }
        Framing::Chunked => h.push_str("Transfer-Encoding: chunked\r\n"),
        Framing::Close => {}
        Framing::None => {
            if method == "HEAD" {
                // The length a GET would have had (RFC 9110 section 9.3.2).
                let _ = write!(h, "Content-Length: {}\r\n", p.resp_body.draw(rng));
            }
        }
    }
    if let Some(ce) = content_encoding {
        let _ = write!(h, "Content-Encoding: {ce}\r\nVary: Accept-Encoding\r\n");
    }
    if status == 301 {
        let _ = write!(h, "Location: https://{}/\r\n", cp.host);
    }
    if status == 304 || (status == 200 && rng.chance(0.3)) {
        let _ = write!(
            h,
            "ETag: \"{:08x}\"\r\nCache-Control: max-age=3600\r\n",
            rng.next_u32()
        );
    }
    if rng.chance(0.2) {
        let _ = write!(
            h,
            "Set-Cookie: sid={:016x}; Path=/; HttpOnly\r\n",
            rng.next_u64()
        );
        if rng.chance(0.3) {
            h.push_str("Set-Cookie: consent=yes; Path=/; Max-Age=31536000\r\n");
        }
    }
    if resp_framing == Framing::Close || (last && cp.client_close_header) {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    TxPlan {
        method,
        uri,
        req_head,
        req_body_len,
        req_framing,
        req_body_wire,
        expect_continue,
        status,
        resp_head: h.into_bytes(),
        resp_body_len: plain_len,
        resp_body_wire,
        resp_framing,
        content_encoding,
    }
}

/// One generated connection: its frames (time-sorted) and its transactions.
#[derive(Clone, Debug)]
pub struct GeneratedConn {
    pub index: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub end: ConnEnd,
    pub midstream: bool,
    pub packets: Vec<Packet>,
    pub txs: Vec<ExpectedTx>,
    /// NSS key log lines of the connection's TLS secrets (empty without TLS, or for a
    /// midstream connection, whose hellos the capture missed).
    pub keylog: String,
}

/// Sends the scenario's bytes `data` from `dir`: as they are, or sealed into TLS records.
fn send(conn: &mut TcpConn, tls: &mut Option<TlsConn>, dir: Direction, data: &[u8]) {
    match tls {
        Some(t) => t.send(conn, dir, data),
        None => conn.send(dir, data),
    }
}

/// Scenario (plaintext) bytes sent so far in `dir`.
fn stream_len(conn: &TcpConn, tls: &Option<TlsConn>, dir: Direction) -> u64 {
    match tls {
        Some(t) => t.stream_len(dir),
        None => conn.stream_len(dir),
    }
}

fn dur_upto(rng: &mut Rng, max: Duration) -> Duration {
    Duration::from_nanos(rng.below(max.as_nanos().min(u64::MAX as u128) as u64 + 1))
}

/// Generates connection `index` starting at `start`. Deterministic in (params, index, start).
pub fn generate_conn(p: &HttpParams, index: u32, start: Timestamp) -> GeneratedConn {
    let mut rng = Rng::derive(p.seed, index as u64, RNG_CONN);
    let host_i = rng.below(p.hosts.max(1) as u64) as u32;
    let (host_header, server) = host(host_i, p.ipv6);
    let client_k = rng.below(p.clients.max(1) as u64) as u32;
    let client = client_addr(client_k, index, p.ipv6);
    let n_tx = rng
        .range(p.tx_per_conn.0 as u64, p.tx_per_conn.1 as u64)
        .max(1) as u32;

    // How the connection ends.
    let close_delimited_last = rng.chance(p.close_delimited_share);
    let end_roll = rng.unit();
    let end = if close_delimited_last {
        ConnEnd::ServerFin
    } else if end_roll < p.rst_share {
        if rng.chance(0.5) {
            ConnEnd::ClientRst
        } else {
            ConnEnd::ServerRst
        }
    } else if end_roll < p.rst_share + p.open_share {
        ConnEnd::Open
    } else if rng.chance(0.7) {
        ConnEnd::ClientFin
    } else {
        ConnEnd::ServerFin
    };
    // A server reset leaves the last request unanswered half the time.
    let unanswered_last = end == ConnEnd::ServerRst && rng.chance(0.5);
    let cp = ConnPlan {
        host: host_header.clone(),
        close_delimited_last,
        client_close_header: end == ConnEnd::ClientFin && rng.chance(0.3),
        pipelined: n_tx > 1 && rng.chance(p.pipelining),
    };
    let midstream = rng.chance(p.midstream_share);
    let mut tcp = p.tcp.clone();
    if rng.chance(p.isn_wrap_share) {
        tcp.client_isn = u32::MAX - rng.below(4096) as u32;
        tcp.server_isn = u32::MAX - rng.below(4096) as u32;
    } else {
        tcp.client_isn = rng.next_u32();
        tcp.server_isn = rng.next_u32();
    }
    // Per-connection RTT between 0.5x and 1.5x the configured one.
    let rtt_ns = tcp.rtt.as_nanos().min(u64::MAX as u128 / 2) as u64;
    tcp.rtt = Duration::from_nanos(rtt_ns / 2 + rng.below(rtt_ns + 1));

    let mut conn = match TcpConn::new(index, client, server, tcp, start) {
        Ok(c) => c,
        // Unreachable with the addresses above (same family, MSS validated by the caller):
        // an empty connection keeps the generator total.
        Err(_) => {
            return GeneratedConn {
                index,
                client,
                server,
                end,
                midstream,
                packets: Vec::new(),
                txs: Vec::new(),
                keylog: String::new(),
            }
        }
    };
    if !midstream {
        conn.handshake();
        conn.wait(dur_upto(&mut rng, Duration::from_millis(2)));
    }

    let mut txs = Vec::with_capacity(n_tx as usize);
    let plans: Vec<TxPlan> = (0..n_tx)
        .map(|i| plan_tx(&mut rng, p, &cp, i + 1 == n_tx, conn.now()))
        .collect();
    let rtt = conn.params().rtt;
    // TLS after the plans, from its own random stream: the HTTP bytes stay those of the
    // plaintext scenario (the Date headers were drawn at the same point of the timeline).
    let mut tls = p.tls.as_ref().and_then(|t| {
        let mut s = TlsConn::new(t, Rng::derive(p.seed, index as u64, RNG_TLS))?;
        if midstream {
            s.join_midstream();
        } else {
            let sni = host_header.split(':').next().unwrap_or(&host_header);
            s.handshake(&mut conn, sni);
        }
        Some(s)
    });
    let batch = if cp.pipelined {
        p.max_pipeline.max(2) as usize
    } else {
        1
    };
    let mut depth = 0u32;
    for group in plans.chunks(batch) {
        // Requests of the group, back to back.
        let mut pending = Vec::with_capacity(group.len());
        for (k, tx) in group.iter().enumerate() {
            if k > 0 {
                conn.wait(conn.params().gap);
            }
            let req_from = stream_len(&conn, &tls, Direction::ToServer);
            let resp_from = stream_len(&conn, &tls, Direction::ToClient);
            let req_start = conn.now();
            let mut interim = 0u64;
            if tx.expect_continue {
                send(&mut conn, &mut tls, Direction::ToServer, &tx.req_head);
                conn.wait(rtt);
                let cont = b"HTTP/1.1 100 Continue\r\n\r\n";
                send(&mut conn, &mut tls, Direction::ToClient, cont);
                interim = cont.len() as u64;
                conn.wait(conn.params().ack_delay);
                send(&mut conn, &mut tls, Direction::ToServer, &tx.req_body_wire);
            } else {
                let mut msg = Vec::with_capacity(tx.req_head.len() + tx.req_body_wire.len());
                msg.extend_from_slice(&tx.req_head);
                msg.extend_from_slice(&tx.req_body_wire);
                send(&mut conn, &mut tls, Direction::ToServer, &msg);
            }
            let req_span = req_from..stream_len(&conn, &tls, Direction::ToServer);
            let req_end = conn.now();
            pending.push((
                tx, req_span, resp_from, req_start, req_end, interim, k as u32,
            ));
        }
        let last_group = depth as usize + group.len() == plans.len();
        conn.wait(rtt + dur_upto(&mut rng, p.server_time_max));
        for (k, (tx, req_stream, resp_from0, req_start, req_end, interim, in_flight)) in
            pending.into_iter().enumerate()
        {
            if k > 0 {
                conn.wait(conn.params().gap);
            }
            let unanswered = unanswered_last && last_group && k + 1 == group.len();
            // The interim response, when there is one, sits before the final one.
            let resp_from = if interim > 0 {
                resp_from0
            } else {
                stream_len(&conn, &tls, Direction::ToClient)
            };
            let (status, resp_start, resp_end) = if unanswered {
                (None, None, None)
            } else {
                let s = conn.now();
                let mut msg = Vec::with_capacity(tx.resp_head.len() + tx.resp_body_wire.len());
                msg.extend_from_slice(&tx.resp_head);
                msg.extend_from_slice(&tx.resp_body_wire);
                send(&mut conn, &mut tls, Direction::ToClient, &msg);
                (Some(tx.status), Some(s), Some(conn.now()))
            };
            txs.push(ExpectedTx {
                conn_index: index,
                client,
                server,
                depth,
                in_flight,
                method: tx.method.to_string(),
                host: host_header.clone(),
                uri: tx.uri.clone(),
                status,
                req_head_len: tx.req_head.len() as u64,
                req_body_len: tx.req_body_len,
                req_wire_body_len: tx.req_body_wire.len() as u64,
                req_framing: tx.req_framing,
                resp_interim_len: interim,
                resp_head_len: if status.is_some() {
                    tx.resp_head.len() as u64
                } else {
                    0
                },
                resp_body_len: if status.is_some() {
                    tx.resp_body_len
                } else {
                    0
                },
                resp_wire_body_len: if status.is_some() {
                    tx.resp_body_wire.len() as u64
                } else {
                    0
                },
                resp_framing: if status.is_some() {
                    tx.resp_framing
                } else {
                    Framing::None
                },
                content_encoding: if status.is_some() {
                    tx.content_encoding.map(str::to_string)
                } else {
                    None
                },
                req_start,
                req_end,
                resp_start,
                resp_end,
                req_stream,
                resp_stream: resp_from..stream_len(&conn, &tls, Direction::ToClient),
            });
            depth += 1;
            if unanswered {
                break;
            }
        }
        if !last_group {
            conn.wait(dur_upto(&mut rng, p.think_max));
        }
    }
    // The close.
    match end {
        ConnEnd::ClientFin => {
            conn.wait(Duration::from_millis(1) + dur_upto(&mut rng, p.think_max));
            if let Some(t) = tls.as_mut() {
                t.close_notify(&mut conn, Direction::ToServer);
            }
            conn.close(Direction::ToServer);
        }
        ConnEnd::ServerFin => {
            if !close_delimited_last {
                // An idle keep-alive timeout on the server.
                conn.wait(Duration::from_millis(200) + dur_upto(&mut rng, p.think_max));
            } else {
                conn.wait(conn.params().gap);
            }
            if let Some(t) = tls.as_mut() {
                t.close_notify(&mut conn, Direction::ToClient);
            }
            conn.close(Direction::ToClient);
        }
        ConnEnd::ClientRst => {
            conn.wait(dur_upto(&mut rng, p.think_max));
            conn.reset(Direction::ToServer);
        }
        ConnEnd::ServerRst => {
            conn.wait(dur_upto(&mut rng, p.server_time_max));
            conn.reset(Direction::ToClient);
        }
        ConnEnd::Open => {}
    }
    GeneratedConn {
        index,
        client,
        server,
        end,
        midstream,
        packets: conn.finish(),
        txs,
        keylog: tls.as_ref().map(TlsConn::keylog).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_exactly_the_drawn_length() {
        let mut r = Rng::new(1);
        let kinds = [
            Kind::Html,
            Kind::Json,
            Kind::Css,
            Kind::Js,
            Kind::Image,
            Kind::Octet,
            Kind::Form,
        ];
        for k in kinds {
            for len in (0..80).chain([1000, 70_000, 200_001]) {
                let b = body(&mut r, k, len);
                assert_eq!(b.len() as u64, len, "{k:?}");
                if k == Kind::Json && len >= 2 {
                    assert!(!b.contains(&b'\n'));
                }
                if k == Kind::Form {
                    assert!(!b.contains(&b' '));
                }
            }
        }
    }

    #[test]
    fn chunking_round_trips() {
        let mut r = Rng::new(2);
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
        let wire = chunk(&mut r, &data);
        // Decode by hand: hex size line, data, CRLF, ..., 0 CRLF CRLF.
        let mut out = Vec::new();
        let mut rest = &wire[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
            rest = &rest[eol + 2..];
            if n == 0 {
                assert_eq!(rest, b"\r\n");
                break;
            }
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n + 2..];
        }
        assert_eq!(out, data);
        assert_eq!(chunk(&mut r, b""), b"0\r\n\r\n");
    }

    #[test]
    fn gzip_is_deterministic_and_decodes() {
        use std::io::Read;
        let plain = body(&mut Rng::new(3), Kind::Html, 10_000);
        let z = gzip(&plain);
        assert_eq!(z, gzip(&plain));
        assert!(z.len() < plain.len() / 2, "text compresses");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, plain);
    }

    #[test]
    fn a_connection_depends_only_on_seed_index_and_start() {
        let p = HttpParams::mixed(9);
        let t = Timestamp::from_secs_nanos(1_700_000_000, 0);
        let a = generate_conn(&p, 5, t);
        let b = generate_conn(&p, 5, t);
        assert_eq!(a.packets, b.packets);
        assert_eq!(a.txs, b.txs);
        assert_ne!(generate_conn(&p, 6, t).txs, a.txs);
        assert!(a.txs.iter().enumerate().all(|(i, x)| x.depth as usize == i));
    }

    #[test]
    fn hosts_and_clients_have_distinct_addresses() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..2000 {
            assert!(seen.insert(host(i, false).1.ip()), "host {i}");
            assert!(seen.insert(host(i, true).1.ip()), "v6 host {i}");
        }
        let mut clients = std::collections::HashSet::new();
        for k in 0..70_000 {
            assert!(clients.insert(client_addr(k, 0, false).ip()), "client {k}");
            assert!(clients.insert(client_addr(k, 0, true).ip()));
        }
        assert_eq!(host(2, false).0, "static.example.org:8080");
    }

    #[test]
    fn validate_rejects_unusable_parameters() {
        assert!(HttpParams::small(1).validate().is_ok());
        let mut p = HttpParams::small(1);
        p.tcp.mss = 0;
        assert!(p.validate().is_err());
        let mut p = HttpParams::small(1);
        p.tx_per_conn = (5, 2);
        assert!(p.validate().is_err());
        assert!(HttpParams::preset("nope", 1).is_none());
    }
}
