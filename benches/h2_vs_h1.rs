//! HTTP/2 against HTTP/1.1 on the same content through the `Worker` the binary runs
//! (issue 11: h2 traffic at no worse bytes/s than HTTP/1.1 of the same content). Both
//! captures are made here with the generator's TCP layer: 200 connections of 20 exchanges
//! each, the same exchanges on both sides:
//! * request: GET of the same path with the same fields (host/`:authority`, user-agent,
//!   accept, accept-language, cookie); HTTP/2 adds `:method` and `:scheme` (static-table
//!   indices), as every h2 client does;
//! * response: status 200 with content-type, server and content-length, and the same
//!   body of 2 to 40 KB (`body_len`).
//!
//! What each side carries: HTTP/1.1 sends the heads as text on a keep-alive connection,
//! the body Content-Length-delimited. HTTP/2 (h2c prior knowledge) sends the preface and
//! a SETTINGS frame each way, then one stream per exchange: the request a HEADERS frame
//! (END_STREAM), the response a HEADERS frame and DATA frames of at most 16,384 bytes
//! (the default SETTINGS_MAX_FRAME_SIZE), the last with END_STREAM. Header blocks use
//! HPACK literals with incremental indexing, so later blocks are mostly indexed, as real
//! clients send them (no Huffman). Both are read by the same `Worker` with the default
//! `Config` (bodies kept, HAR-like transactions made); each run checks that every
//! exchange comes out as one transaction.
//!
//! Throughput is per *content* byte (body bytes: the same on both sides), so the two
//! MiB/s figures compare directly; the capture sizes are printed at the start.
//!
//! `H2_VS_H1_CPU=N cargo bench --bench h2_vs_h1` instead runs each side N times,
//! interleaved, timed by the thread's CPU time (steadier than criterion's wall time on a
//! shared machine), and prints the medians and the ratio.
//!
//! `H2_VS_H1_PCAP=DIR cargo bench --bench h2_vs_h1` writes both captures (checked) to
//! `DIR/h1.pcap` and `DIR/h2.pcap` and stops, for timing the binary itself on them.

use std::net::SocketAddr;
use std::time::Duration;

use criterion::{criterion_group, Criterion, Throughput};

use httshark::config::Config;
use httshark::time::Timestamp;
use httshark::wire::LinkType;
use httshark::worker::{Worker, WorkerConfig};
use httshark_gen::tcp::{Direction, Packet, TcpConn, TcpParams};
use httshark_gen::Timestamp as GenTs;

const CONNS: u32 = 200;
const EXCHANGES: u32 = 20;

fn request_fields(i: u32) -> Vec<(String, String)> {
    vec![
        (
            "user-agent".into(),
            "Mozilla/5.0 (X11; Linux x86_64) bench/1.0".into(),
        ),
        (
            "accept".into(),
            "text/html,application/xhtml+xml,*/*;q=0.8".into(),
        ),
        ("accept-language".into(), "en-US,en;q=0.5".into()),
        ("cookie".into(), format!("session=abcdef{}", i % 7)),
    ]
}

fn body_len(c: u32, i: u32) -> usize {
    2_000 + ((c * 7919 + i * 104_729) % 38_000) as usize
}

/// HPACK literal with incremental indexing, new name, no Huffman (RFC 7541 §6.2.1), or
/// the index of an equal entry in the dynamic table.
fn hpack(out: &mut Vec<u8>, table: &mut Vec<(String, String)>, name: &str, value: &str) {
    if let Some(pos) = table.iter().position(|(n, v)| n == name && v == value) {
        // Dynamic entries start at 62, newest first.
        let index = 62 + (table.len() - 1 - pos);
        int(out, 0x80, 7, index as u64);
        return;
    }
    out.push(0x40);
    int(out, 0, 7, name.len() as u64);
    out.extend_from_slice(name.as_bytes());
    int(out, 0, 7, value.len() as u64);
    out.extend_from_slice(value.as_bytes());
    table.push((name.into(), value.into()));
}

fn int(out: &mut Vec<u8>, flags: u8, prefix: u32, v: u64) {
    let max = (1u64 << prefix) - 1;
    if v < max {
        out.push(flags | v as u8);
        return;
    }
    out.push(flags | max as u8);
    let mut v = v - max;
    while v >= 128 {
        out.push((v % 128 + 128) as u8);
        v /= 128;
    }
    out.push(v as u8);
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.push(kind);
    f.push(flags);
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

fn conn(c: u32) -> TcpConn {
    let client: SocketAddr = format!("10.1.{}.{}:40000", c / 250, c % 250 + 1)
        .parse()
        .unwrap();
    let server: SocketAddr = "10.2.0.1:8080".parse().unwrap();
    let start = GenTs((1_700_000_000 + i64::from(c)) * 1_000_000_000);
    let mut t = TcpConn::new(c, client, server, TcpParams::default(), start).unwrap();
    t.handshake();
    t
}

/// Both captures, and the content bytes they carry.
fn captures() -> (Vec<Packet>, Vec<Packet>, u64) {
    let (mut h1, mut h2, mut content) = (Vec::new(), Vec::new(), 0u64);
    for c in 0..CONNS {
        let (mut a, mut b) = (conn(c), conn(c));
        let mut tables = (Vec::new(), Vec::new());
        b.send(Direction::ToServer, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        b.send(Direction::ToServer, &frame(4, 0, 0, &[]));
        b.send(Direction::ToClient, &frame(4, 0, 0, &[]));
        for i in 0..EXCHANGES {
            let path = format!("/c{c}/item{i}.html");
            let body = vec![b'x'; body_len(c, i)];
            content += body.len() as u64;
            // HTTP/1.1
            let mut req = format!("GET {path} HTTP/1.1\r\nHost: bench.test:8080\r\n");
            for (n, v) in request_fields(i) {
                req.push_str(&format!("{n}: {v}\r\n"));
            }
            req.push_str("\r\n");
            a.send(Direction::ToServer, req.as_bytes());
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nserver: bench\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            a.send(Direction::ToClient, &[head.as_bytes(), &body].concat());
            // HTTP/2: one stream per exchange.
            let id = 2 * i + 1;
            let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
            hpack(&mut block, &mut tables.0, ":authority", "bench.test:8080");
            hpack(&mut block, &mut tables.0, ":path", &path);
            for (n, v) in request_fields(i) {
                hpack(&mut block, &mut tables.0, &n, &v);
            }
            b.send(Direction::ToServer, &frame(1, 0x5, id, &block));
            let mut block = vec![0x88]; // :status 200
            hpack(&mut block, &mut tables.1, "content-type", "text/html");
            hpack(&mut block, &mut tables.1, "server", "bench");
            hpack(
                &mut block,
                &mut tables.1,
                "content-length",
                &body.len().to_string(),
            );
            let mut resp = frame(1, 0x4, id, &block);
            let chunks: Vec<&[u8]> = body.chunks(16_384).collect();
            for (k, chunk) in chunks.iter().enumerate() {
                let end = if k + 1 == chunks.len() { 1 } else { 0 };
                resp.extend(frame(0, end, id, chunk));
            }
            b.send(Direction::ToClient, &resp);
            a.wait(Duration::from_millis(5));
            b.wait(Duration::from_millis(5));
        }
        a.close(Direction::ToServer);
        b.close(Direction::ToServer);
        h1.extend(a.finish());
        h2.extend(b.finish());
    }
    (h1, h2, content)
}

/// Reads `packets` as the binary does: (transactions made, of which flagged).
fn run(packets: &[Packet]) -> (usize, usize) {
    let mut w = Worker::new(WorkerConfig::from_config(
        &Config::default(),
        LinkType::Ethernet,
    ));
    let (mut n, mut flagged) = (0, 0);
    let mut count = |txs: Vec<httshark::model::Transaction>| {
        n += txs.len();
        flagged += txs.iter().filter(|t| !t.anomalies.is_empty()).count();
    };
    for (i, p) in packets.iter().enumerate() {
        w.on_frame(&p.data, i as u64, Timestamp(p.ts.as_nanos()));
        count(w.take_transactions());
    }
    w.finish(Timestamp(packets.last().map_or(0, |p| p.ts.as_nanos())));
    count(w.take_transactions());
    (n, flagged)
}

/// Both captures, checked: every exchange one clean transaction on both sides (an HPACK
/// placeholder or a lost body would flag it, and make the sides unequal work).
fn checked_captures() -> (Vec<Packet>, Vec<Packet>, u64) {
    let (h1, h2, content) = captures();
    let want = (CONNS * EXCHANGES) as usize;
    assert_eq!(run(&h1), (want, 0), "every HTTP/1.1 exchange, unflagged");
    assert_eq!(run(&h2), (want, 0), "every HTTP/2 stream, unflagged");
    let bytes = |p: &[Packet]| p.iter().map(|p| p.data.len() as u64).sum::<u64>();
    eprintln!(
        "content {content} bytes; capture HTTP/1.1 {} bytes, HTTP/2 {} bytes",
        bytes(&h1),
        bytes(&h2)
    );
    (h1, h2, content)
}

fn benches(c: &mut Criterion) {
    let (h1, h2, content) = checked_captures();
    let mut g = c.benchmark_group("same_content");
    g.throughput(Throughput::Bytes(content));
    g.sample_size(10);
    g.bench_function("http1.1", |b| b.iter(|| run(&h1)));
    g.bench_function("h2c", |b| b.iter(|| run(&h2)));
    g.finish();
}

/// On-CPU nanoseconds of this thread so far (Linux schedstat): unlike wall time, not
/// stretched by other processes on a shared machine.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// `H2_VS_H1_CPU=N`: N runs of each side, interleaved (h1, h2, h1, ...), timed by thread
/// CPU time; prints each side's median content MiB/s and the ratio h2 / h1.
fn cpu_mode(rounds: usize) {
    let (h1, h2, content) = checked_captures();
    let (mut t1, mut t2) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        for (packets, times) in [(&h1, &mut t1), (&h2, &mut t2)] {
            let before = thread_cpu_ns().expect("/proc/thread-self/schedstat");
            std::hint::black_box(run(packets));
            let after = thread_cpu_ns().expect("/proc/thread-self/schedstat");
            times.push(after.saturating_sub(before).max(1));
        }
    }
    let median = |t: &mut Vec<u64>| {
        t.sort_unstable();
        t[t.len() / 2]
    };
    let mib_s = |ns: u64| content as f64 / (ns as f64 / 1e9) / (1024.0 * 1024.0);
    let (m1, m2) = (median(&mut t1), median(&mut t2));
    println!(
        "cpu-time medians of {rounds}: http1.1 {:.1} ms {:.0} MiB/s; h2c {:.1} ms {:.0} MiB/s; h2c/http1.1 {:.2}",
        m1 as f64 / 1e6,
        mib_s(m1),
        m2 as f64 / 1e6,
        mib_s(m2),
        mib_s(m2) / mib_s(m1)
    );
}

/// `H2_VS_H1_PCAP=DIR`: both captures as pcap files.
fn write_pcaps(dir: &str) {
    use httshark_gen::pcap::{LinkKind, PcapWriter, TsResolution};
    let (h1, h2, _) = checked_captures();
    for (name, packets) in [("h1.pcap", &h1), ("h2.pcap", &h2)] {
        let path = std::path::Path::new(dir).join(name);
        let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create pcap"));
        let mut w = PcapWriter::new(file, LinkKind::Ethernet, TsResolution::Nano, None)
            .expect("pcap header");
        for p in packets.iter() {
            w.write_packet(p.ts, &p.data).expect("write pcap");
        }
        w.flush().expect("flush pcap");
        eprintln!("wrote {}", path.display());
    }
}

criterion_group!(h2_benches, benches);

fn main() {
    if let Ok(dir) = std::env::var("H2_VS_H1_PCAP") {
        write_pcaps(&dir);
        return;
    }
    if let Some(n) = std::env::var("H2_VS_H1_CPU")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        cpu_mode(n);
        return;
    }
    h2_benches();
    Criterion::default().configure_from_args().final_summary();
}
