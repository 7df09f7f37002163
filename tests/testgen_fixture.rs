//! The capture generator: the committed fixture is exactly what the generator makes (so its
//! provenance in fixtures/README.md is honest), and what it makes is well-formed: it reads
//! back through libpcap, every frame decodes, TCP sequence numbers are consistent per
//! direction, and the reassembled byte streams are exactly the HTTP messages the ground
//! truth describes (heads parsed by httparse, bodies de-chunked and gunzipped).

#![cfg(feature = "capture")]

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use httshark_gen::http::{ConnEnd, Framing};
use httshark_gen::scenario::{Event, Scenario};
use httshark_gen::{
    generate, parse_expected_tsv, write_capture, ExpectedTx, FaultSpec, Format, GenConfig,
    HttpParams, LinkKind, TsResolution,
};

/// The fixture's seed; fixtures/README.md has the matching command line.
const FIXTURE_SEED: u64 = 35;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn fixture_config() -> GenConfig {
    GenConfig::new(HttpParams::small(FIXTURE_SEED))
}

fn render(cfg: &GenConfig) -> (Vec<u8>, Vec<u8>) {
    let mut pcap = Vec::new();
    let mut tsv = Vec::new();
    write_capture(cfg, &mut pcap, Some(&mut tsv)).expect("in-memory write");
    (pcap, tsv)
}

#[test]
fn fixture_is_byte_identical_to_a_fresh_generation() {
    let (pcap, tsv) = render(&fixture_config());
    let committed = std::fs::read(fixture("generated-small.pcap")).expect("fixture present");
    let committed_tsv =
        std::fs::read(fixture("generated-small.expected.tsv")).expect("ground truth present");
    assert!(
        pcap == committed && tsv == committed_tsv,
        "the generator's output changed; if intended, regenerate with the command line in \
         fixtures/README.md and review the diff of the .tsv"
    );
    assert!(committed.len() < 200_000, "fixture must stay under 200 KB");
}

#[test]
fn cli_command_line_reproduces_the_fixture() {
    // The exact command line fixtures/README.md gives.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g.pcap");
    let exp = dir.path().join("g.tsv");
    // In-process: the binary is the httshark-gen package's, whose `main` only calls this.
    httshark_gen::cli::run_from(
        [
            "httshark-gen",
            "--profile",
            "small",
            "--seed",
            "35",
            "--out",
        ]
        .map(std::ffi::OsString::from)
        .into_iter()
        .chain([out.clone().into_os_string()])
        .chain(["--expected".into(), exp.clone().into_os_string()]),
    )
    .expect("run httshark-gen");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(fixture("generated-small.pcap")).unwrap()
    );
    assert_eq!(
        std::fs::read(&exp).unwrap(),
        std::fs::read(fixture("generated-small.expected.tsv")).unwrap()
    );
}

#[test]
fn cli_rejects_bad_arguments() {
    for args in [
        vec!["--link", "tokenring"],
        vec!["--faults", "drop=7"],
        vec!["--profile", "huge"],
        vec!["--tsres", "ms"],
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.pcap");
        let st = httshark_gen::cli::run_from(
            ["httshark-gen", "--out", out.to_str().unwrap()]
                .into_iter()
                .chain(args.iter().copied()),
        );
        assert!(st.is_err(), "{args:?} accepted");
    }
}

#[test]
fn committed_ground_truth_parses_and_round_trips() {
    let text = std::fs::read_to_string(fixture("generated-small.expected.tsv")).unwrap();
    let rows = parse_expected_tsv(&text).expect("valid TSV");
    let (_, txs, _) = generate(&HttpParams::small(FIXTURE_SEED), None);
    assert_eq!(rows.len(), txs.len());
    for ((row, intact), tx) in rows.iter().zip(&txs) {
        assert!(intact);
        assert_eq!(row, tx);
    }
    assert!(parse_expected_tsv("nonsense\n").is_err());
    let mut bad = text.lines().take(2).collect::<Vec<_>>().join("\n");
    bad.push_str("\textra");
    assert!(parse_expected_tsv(&bad).is_err());
}

/// Which features the `small` scenario of `seed` lacks (empty: all present).
fn missing_features(seed: u64) -> Vec<String> {
    let p = HttpParams::small(seed);
    let mut conns = Vec::new();
    for ev in Scenario::new(p.clone(), None) {
        if let Event::Conn(c) = ev {
            conns.push(c);
        }
    }
    let txs: Vec<&ExpectedTx> = conns.iter().flat_map(|c| &c.txs).collect();
    let hosts: std::collections::BTreeSet<&str> = txs.iter().map(|t| t.host.as_str()).collect();
    let mut missing = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            missing.push(what.to_string());
        }
    };
    need(hosts.len() == 3, "3 hosts");
    need((24..=80).contains(&txs.len()), "a few dozen transactions");
    let has = |f: &dyn Fn(&ExpectedTx) -> bool| txs.iter().any(|t| f(t));
    for m in ["GET", "POST", "PUT", "HEAD"] {
        need(has(&|t| t.method == m), m);
    }
    for s in [200, 201, 204, 304] {
        need(has(&|t| t.status == Some(s)), &format!("status {s}"));
    }
    need(has(&|t| t.status.is_none()), "unanswered request");
    need(has(&|t| t.resp_interim_len > 0), "100-continue");
    need(has(&|t| t.in_flight > 0), "pipelining");
    need(
        has(&|t| t.req_framing == Framing::Chunked),
        "chunked request",
    );
    need(
        has(&|t| t.resp_framing == Framing::Chunked),
        "chunked response",
    );
    need(
        has(&|t| t.resp_framing == Framing::Close),
        "close-delimited response",
    );
    need(
        has(&|t| t.content_encoding.as_deref() == Some("gzip")),
        "gzip",
    );
    need(
        has(&|t| t.uri.matches("tag=").count() == 2),
        "repeated query key",
    );
    need(has(&|t| t.host.ends_with(":8080")), "port 8080");
    need(conns.iter().any(|c| c.midstream), "midstream connection");
    for end in [
        ConnEnd::ClientFin,
        ConnEnd::ServerFin,
        ConnEnd::ClientRst,
        ConnEnd::ServerRst,
        ConnEnd::Open,
    ] {
        need(conns.iter().any(|c| c.end == end), &format!("{end:?}"));
    }
    missing
}

#[test]
fn fixture_covers_every_feature() {
    let missing = missing_features(FIXTURE_SEED);
    assert!(missing.is_empty(), "fixture lacks {missing:?}; run `cargo test --test testgen_fixture -- --ignored find_fixture_seed`");
}

/// Prints the first seed whose `small` scenario has every feature (for when the generator
/// changes and the fixture must be remade).
#[test]
#[ignore]
fn find_fixture_seed() {
    let seed = (1..1000).find(|s| missing_features(*s).is_empty());
    println!("first seed with every feature: {seed:?}");
    assert!(seed.is_some());
}

// ---------------------------------------------------------------------------------------
// Reading a capture back and checking it against the ground truth.

struct Frame {
    ts_ns: i64,
    caplen: usize,
    len: usize,
    data: Vec<u8>,
}

fn read_capture(path: &Path, nano: bool) -> (i32, Vec<Frame>) {
    let precision = if nano {
        pcap::Precision::Nano
    } else {
        pcap::Precision::Micro
    };
    let mut cap =
        pcap::Capture::from_file_with_precision(path, precision).expect("libpcap opens it");
    let dlt = cap.get_datalink().0;
    let mut frames = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => {
                let frac = p.header.ts.tv_usec * if nano { 1 } else { 1000 };
                frames.push(Frame {
                    ts_ns: p.header.ts.tv_sec * 1_000_000_000 + frac,
                    caplen: p.header.caplen as usize,
                    len: p.header.len as usize,
                    data: p.data.to_vec(),
                })
            }
            Err(pcap::Error::NoMorePackets) => break,
            Err(e) => panic!("libpcap read error: {e}"),
        }
    }
    (dlt, frames)
}

struct Seg {
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: Option<u32>,
    syn: bool,
    fin: bool,
    rst: bool,
    payload: Vec<u8>,
}

fn decode(link: LinkKind, frame: &[u8]) -> Seg {
    let sliced = match link {
        LinkKind::Ethernet => SlicedPacket::from_ethernet(frame),
        LinkKind::LinuxSll => SlicedPacket::from_linux_sll(frame),
        LinkKind::Raw => SlicedPacket::from_ip(frame),
        LinkKind::Null => {
            let af = u32::from_le_bytes(frame[..4].try_into().unwrap());
            assert!(af == 2 || af == 24, "BSD address family {af}");
            SlicedPacket::from_ip(&frame[4..])
        }
    }
    .expect("frame decodes");
    let (s, d): (IpAddr, IpAddr) = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => {
            let h = v4.header();
            assert_eq!(h.to_header().calc_header_checksum(), h.header_checksum());
            (h.source_addr().into(), h.destination_addr().into())
        }
        Some(NetSlice::Ipv6(v6)) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
        ),
        other => panic!("not IP: {other:?}"),
    };
    let Some(TransportSlice::Tcp(t)) = &sliced.transport else {
        panic!("not TCP")
    };
    let hdr = t.to_header();
    let sum = match &sliced.net {
        Some(NetSlice::Ipv4(v4)) => hdr.calc_checksum_ipv4(&v4.header().to_header(), t.payload()),
        Some(NetSlice::Ipv6(v6)) => hdr.calc_checksum_ipv6(&v6.header().to_header(), t.payload()),
        _ => unreachable!(),
    };
    assert_eq!(sum.unwrap(), t.checksum(), "TCP checksum");
    Seg {
        src: SocketAddr::new(s, t.source_port()),
        dst: SocketAddr::new(d, t.destination_port()),
        seq: t.sequence_number(),
        ack: t.ack().then(|| t.acknowledgment_number()),
        syn: t.syn(),
        fin: t.fin(),
        rst: t.rst(),
        payload: t.payload().to_vec(),
    }
}

/// One direction of one connection, rebuilt from the capture with strict sequence checks
/// (valid for captures without faults).
#[derive(Default)]
struct DirStream {
    /// Sequence number of the next byte expected (None before the first segment).
    next: Option<u32>,
    bytes: Vec<u8>,
    fin: bool,
    syn: bool,
}

fn rebuild_strict(
    link: LinkKind,
    frames: &[Frame],
) -> HashMap<(SocketAddr, SocketAddr), DirStream> {
    let mut dirs: HashMap<(SocketAddr, SocketAddr), DirStream> = HashMap::new();
    for f in frames {
        let s = decode(link, &f.data);
        // ACKs never acknowledge what the peer has not sent yet (modulo 2^32).
        if let (Some(a), Some(peer)) = (s.ack, dirs.get(&(s.dst, s.src)).and_then(|d| d.next)) {
            assert!(
                peer.wrapping_sub(a) as i32 >= 0,
                "ACK {a} beyond peer's next {peer}"
            );
        }
        let d = dirs.entry((s.src, s.dst)).or_default();
        if s.syn {
            assert!(d.next.is_none() && !d.syn, "one SYN per direction");
            d.syn = true;
            d.next = Some(s.seq.wrapping_add(1));
            continue;
        }
        // A midstream connection starts at a message boundary: the first segment seen is
        // the stream start.
        let next = *d.next.get_or_insert(s.seq);
        if s.rst {
            assert_eq!(s.seq, next, "RST at the next sequence number");
            continue;
        }
        assert_eq!(s.seq, next, "{}->{}: sequence continuity", s.src, s.dst);
        if !s.payload.is_empty() {
            assert!(!d.fin, "data after FIN");
            d.bytes.extend_from_slice(&s.payload);
            d.next = Some(next.wrapping_add(s.payload.len() as u32));
        }
        if s.fin {
            assert!(!d.fin, "one FIN per direction");
            d.fin = true;
            d.next = Some(d.next.unwrap_or(next).wrapping_add(1));
        }
    }
    dirs
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let n =
            usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap(), 16).expect("hex size");
        b = &b[eol + 2..];
        if n == 0 {
            assert_eq!(b, b"\r\n", "no trailers, final CRLF");
            return out;
        }
        out.extend_from_slice(&b[..n]);
        assert_eq!(&b[n..n + 2], b"\r\n");
        b = &b[n + 2..];
    }
}

fn header<'a>(headers: &'a [httparse::Header<'a>], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| std::str::from_utf8(h.value).unwrap())
}

fn check_request(tx: &ExpectedTx, bytes: &[u8]) {
    let mut hs = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut hs);
    let n = match req.parse(bytes).expect("request parses") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => panic!("partial request head"),
    };
    assert_eq!(n as u64, tx.req_head_len);
    assert_eq!(req.method, Some(tx.method.as_str()));
    assert_eq!(req.path, Some(tx.uri.as_str()));
    assert_eq!(header(req.headers, "Host"), Some(tx.host.as_str()));
    assert!(header(req.headers, "User-Agent").is_some());
    let body = &bytes[n..];
    assert_eq!(body.len() as u64, tx.req_wire_body_len);
    match tx.req_framing {
        Framing::None => {
            assert!(body.is_empty() && header(req.headers, "Content-Length").is_none())
        }
        Framing::ContentLength => {
            assert_eq!(
                header(req.headers, "Content-Length"),
                Some(body.len().to_string().as_str())
            );
            assert_eq!(body.len() as u64, tx.req_body_len);
        }
        Framing::Chunked => {
            assert_eq!(header(req.headers, "Transfer-Encoding"), Some("chunked"));
            assert_eq!(dechunk(body).len() as u64, tx.req_body_len);
        }
        Framing::Close => panic!("requests are never close-delimited"),
    }
    assert_eq!(
        header(req.headers, "Expect").is_some(),
        tx.resp_interim_len > 0
    );
}

fn check_response(tx: &ExpectedTx, mut bytes: &[u8], at_stream_end: bool) {
    if tx.resp_interim_len > 0 {
        let (interim, rest) = bytes.split_at(tx.resp_interim_len as usize);
        assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
        bytes = rest;
    }
    let Some(status) = tx.status else {
        assert!(bytes.is_empty());
        return;
    };
    let mut hs = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut hs);
    let n = match resp.parse(bytes).expect("response parses") {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => panic!("partial response head"),
    };
    assert_eq!(n as u64, tx.resp_head_len);
    assert_eq!(resp.code, Some(status));
    let wire = &bytes[n..];
    assert_eq!(wire.len() as u64, tx.resp_wire_body_len);
    let coded = match tx.resp_framing {
        Framing::None => {
            assert!(wire.is_empty());
            assert!(tx.method == "HEAD" || status == 204 || status == 304);
            Vec::new()
        }
        Framing::ContentLength => {
            assert_eq!(
                header(resp.headers, "Content-Length"),
                Some(wire.len().to_string().as_str())
            );
            wire.to_vec()
        }
        Framing::Chunked => {
            assert_eq!(header(resp.headers, "Transfer-Encoding"), Some("chunked"));
            dechunk(wire)
        }
        Framing::Close => {
            assert!(header(resp.headers, "Content-Length").is_none());
            assert!(header(resp.headers, "Transfer-Encoding").is_none());
            assert_eq!(header(resp.headers, "Connection"), Some("close"));
            assert!(
                at_stream_end,
                "a close-delimited body runs to the end of the stream"
            );
            wire.to_vec()
        }
    };
    assert_eq!(
        header(resp.headers, "Content-Encoding"),
        tx.content_encoding.as_deref()
    );
    let plain = if tx.content_encoding.as_deref() == Some("gzip") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&coded[..])
            .read_to_end(&mut out)
            .expect("valid gzip");
        out
    } else {
        coded
    };
    assert_eq!(plain.len() as u64, tx.resp_body_len);
}

/// Checks a fault-free capture against its ground truth; returns the number of frames.
fn check_capture(cfg: &GenConfig) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.pcap");
    let mut tsv = Vec::new();
    let file = std::fs::File::create(&path).unwrap();
    let sum = write_capture(cfg, std::io::BufWriter::new(file), Some(&mut tsv)).unwrap();
    let txs: Vec<ExpectedTx> = parse_expected_tsv(std::str::from_utf8(&tsv).unwrap())
        .unwrap()
        .into_iter()
        .map(|(t, intact)| {
            assert!(intact);
            t
        })
        .collect();
    assert_eq!(sum.transactions as usize, txs.len());
    let link = cfg.http.tcp.link;
    let nano = !matches!(cfg.format, Format::Pcap(TsResolution::Micro));
    let (dlt, frames) = read_capture(&path, nano);
    // libpcap reports LINKTYPE_RAW (101) as its DLT_RAW (12 on Linux).
    let want = if link == LinkKind::Raw {
        vec![12, 14, 101]
    } else {
        vec![link.linktype()]
    };
    assert!(want.contains(&(dlt as u32)), "datalink {dlt} for {link:?}");
    assert_eq!(frames.len() as u64, sum.packets);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), sum.bytes);
    assert!(
        frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns),
        "time never goes back"
    );
    for f in &frames {
        assert!(f.caplen == f.data.len() && f.len == f.caplen);
    }
    let streams = rebuild_strict(link, &frames);
    // Group the ground truth by connection.
    let mut by_conn: BTreeMap<u32, Vec<&ExpectedTx>> = BTreeMap::new();
    for t in &txs {
        by_conn.entry(t.conn_index).or_default().push(t);
    }
    assert_eq!(by_conn.len() as u64, sum.connections);
    for conn in by_conn.values() {
        let (c, s) = (conn[0].client, conn[0].server);
        assert!(cfg.http.ipv6 == c.is_ipv6());
        let up = streams
            .get(&(c, s))
            .map(|d| d.bytes.as_slice())
            .unwrap_or_default();
        let down = streams
            .get(&(s, c))
            .map(|d| d.bytes.as_slice())
            .unwrap_or_default();
        let up_total: u64 = conn
            .iter()
            .map(|t| t.req_head_len + t.req_wire_body_len)
            .sum();
        let down_total: u64 = conn
            .iter()
            .map(|t| t.resp_interim_len + t.resp_head_len + t.resp_wire_body_len)
            .sum();
        assert_eq!(up.len() as u64, up_total, "client bytes of {c}");
        assert_eq!(down.len() as u64, down_total, "server bytes of {s}->{c}");
        for (i, t) in conn.iter().enumerate() {
            assert_eq!(t.depth as usize, i);
            check_request(
                t,
                &up[t.req_stream.start as usize..t.req_stream.end as usize],
            );
            let at_end = t.resp_stream.end == down.len() as u64;
            check_response(
                t,
                &down[t.resp_stream.start as usize..t.resp_stream.end as usize],
                at_end,
            );
            if t.resp_framing == Framing::Close {
                assert!(
                    streams[&(s, c)].fin,
                    "server FIN ends a close-delimited body"
                );
            }
            assert!(t.req_start <= t.req_end);
            if let (Some(a), Some(b)) = (t.resp_start, t.resp_end) {
                assert!(t.req_end <= a && a <= b);
            }
        }
    }
    frames.len()
}

#[test]
fn fixture_reads_back_and_matches_ground_truth() {
    let n = check_capture(&fixture_config());
    assert!(n > 100);
    // And the committed file itself, through libpcap.
    let (dlt, frames) = read_capture(&fixture("generated-small.pcap"), false);
    assert_eq!(dlt, 1);
    assert_eq!(frames.len(), n);
}

#[test]
fn every_link_type_family_and_format_is_well_formed() {
    for link in [
        LinkKind::Ethernet,
        LinkKind::Raw,
        LinkKind::Null,
        LinkKind::LinuxSll,
    ] {
        for ipv6 in [false, true] {
            for format in [
                Format::Pcap(TsResolution::Micro),
                Format::Pcap(TsResolution::Nano),
                Format::Pcapng,
            ] {
                let mut p = HttpParams::small(11);
                p.connections = Some(5);
                p.tcp.link = link;
                p.ipv6 = ipv6;
                let cfg = GenConfig {
                    format,
                    ..GenConfig::new(p)
                };
                check_capture(&cfg);
            }
        }
    }
}

#[test]
fn mixed_profile_with_small_mss_and_wrapping_isns_is_well_formed() {
    let mut p = HttpParams::mixed(77);
    p.connections = Some(40);
    p.tcp.mss = 536;
    p.isn_wrap_share = 0.5;
    check_capture(&GenConfig::new(p));
}

#[test]
fn same_seed_same_truth_across_links_different_seed_differs() {
    let base = HttpParams::small(5);
    let (_, a, _) = generate(&base, None);
    let mut raw = base.clone();
    raw.tcp.link = LinkKind::Raw;
    let (_, b, _) = generate(&raw, None);
    assert_eq!(a, b);
    let (_, c, _) = generate(&HttpParams::small(6), None);
    assert_ne!(a, c);
}

#[test]
fn size_target_is_met_approximately_and_streaming_is_bounded() {
    let mut p = HttpParams::bench(3);
    p.target_bytes = Some(3_000_000);
    let max = p.max_concurrent;
    let mut sc = Scenario::new(p, None);
    let mut bytes = 24u64;
    let mut peak = 0;
    while let Some(ev) = sc.next() {
        if let Event::Packet(pk) = ev {
            bytes += 16 + pk.data.len() as u64;
        }
        peak = peak.max(sc.live_connections());
    }
    assert!(peak <= max, "peak {peak} > {max}");
    assert!(peak > 1, "connections overlap in time");
    assert!((3_000_000..3_600_000).contains(&bytes), "{bytes}");
}

// ---------------------------------------------------------------------------------------
// Faults.

/// Lax decode of an Ethernet frame that may have been cut: `None` if the TCP header did
/// not survive.
fn decode_lax(frame: &[u8]) -> Option<(SocketAddr, SocketAddr, u32, Vec<u8>)> {
    let sliced = etherparse::LaxSlicedPacket::from_ethernet(frame).ok()?;
    let (s, d): (IpAddr, IpAddr) = match &sliced.net {
        Some(etherparse::LaxNetSlice::Ipv4(v4)) => (
            v4.header().source_addr().into(),
            v4.header().destination_addr().into(),
        ),
        Some(etherparse::LaxNetSlice::Ipv6(v6)) => (
            v6.header().source_addr().into(),
            v6.header().destination_addr().into(),
        ),
        _ => return None,
    };
    let Some(TransportSlice::Tcp(t)) = &sliced.transport else {
        return None;
    };
    Some((
        SocketAddr::new(s, t.source_port()),
        SocketAddr::new(d, t.destination_port()),
        t.sequence_number(),
        t.payload().to_vec(),
    ))
}

#[test]
fn faults_report_exactly_which_transactions_lost_bytes() {
    let mut p = HttpParams::mixed(21);
    p.connections = Some(60);
    let spec = FaultSpec::parse("drop=0.03,dup=0.03,reorder=0.05,truncate=0.02,window=5").unwrap();
    let (clean, txs, none) = generate(&p, None);
    assert_eq!(none, Default::default());
    let (faulty, txs_f, report) = generate(&p, Some(&spec));
    assert_eq!(txs, txs_f, "faults never change the ground truth");
    assert!(
        report.dropped > 0 && report.duplicated > 0 && report.reordered > 0 && report.truncated > 0
    );

    // Both captures, through libpcap.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = GenConfig::new(p.clone());
    let clean_path = dir.path().join("clean.pcap");
    write_capture::<_, Vec<u8>>(&cfg, std::fs::File::create(&clean_path).unwrap(), None).unwrap();
    cfg.faults = Some(spec);
    let faulty_path = dir.path().join("faulty.pcap");
    write_capture::<_, Vec<u8>>(&cfg, std::fs::File::create(&faulty_path).unwrap(), None).unwrap();
    let (_, clean_frames) = read_capture(&clean_path, false);
    let (_, faulty_frames) = read_capture(&faulty_path, false);
    assert_eq!(clean_frames.len(), clean.len());
    assert_eq!(faulty_frames.len(), faulty.len());
    assert!(faulty_frames.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    assert!(
        faulty_frames.iter().any(|f| f.caplen < f.len),
        "truncated records keep orig len"
    );

    // Streams from the clean capture; the faulty capture's bytes placed at their offsets.
    let streams = rebuild_strict(LinkKind::Ethernet, &clean_frames);
    let mut base: HashMap<(SocketAddr, SocketAddr), u32> = HashMap::new();
    for f in &clean_frames {
        let s = decode(LinkKind::Ethernet, &f.data);
        let b = if s.syn { s.seq.wrapping_add(1) } else { s.seq };
        base.entry((s.src, s.dst)).or_insert(b);
    }
    let mut got: HashMap<(SocketAddr, SocketAddr), BTreeMap<u64, u8>> = HashMap::new();
    for f in &faulty_frames {
        let Some((src, dst, seq, payload)) = decode_lax(&f.data) else {
            continue;
        };
        let Some(b) = base.get(&(src, dst)) else {
            continue;
        };
        let off = seq.wrapping_sub(*b) as u64;
        let m = got.entry((src, dst)).or_default();
        for (i, byte) in payload.iter().enumerate() {
            // Duplicates must carry the same bytes.
            assert_eq!(*m.entry(off + i as u64).or_insert(*byte), *byte);
        }
    }
    let complete = |key: (SocketAddr, SocketAddr), r: &std::ops::Range<u64>| -> bool {
        let want = &streams[&key].bytes;
        let have = got.get(&key);
        r.clone()
            .all(|o| have.and_then(|m| m.get(&o)) == Some(&want[o as usize]))
    };
    let affected = report.affected(&txs);
    assert!(!affected.is_empty() && affected.len() < txs.len());
    for (i, t) in txs.iter().enumerate() {
        let req_ok = complete((t.client, t.server), &t.req_stream);
        let resp_ok = complete((t.server, t.client), &t.resp_stream);
        if report.tx_intact(t) {
            assert!(req_ok && resp_ok, "tx {i} reported intact but lost bytes");
        } else if t.resp_framing != Framing::Close || (!req_ok || !resp_ok) {
            assert!(
                !(req_ok && resp_ok),
                "tx {i} reported damaged but every byte is there"
            );
        }
    }
    // Untouched connections are byte-for-byte the clean ones.
    let untouched = (0..60u32).filter(|c| report.conn_untouched(*c)).count();
    assert!(untouched > 0);
}
