//! Interleaving connections in time, streaming: a bounded number of connections are live at
//! once, each fully generated when it starts, and their frames are merged by timestamp.
//!
//! Memory is bounded by `max_concurrent` connections' frames, never by the capture size:
//! a 500 MB capture is written with a few MB resident. Connection `i` starts at
//! `max(planned_i, time of the last frame written)`, planned starts being spaced uniformly
//! at random around `conn_interval`, so output timestamps never go backwards and the whole schedule is a
//! function of the seed and parameters.
//!
//! Ground truth comes out as [`Event::Conn`] before the connection's first frame, so a
//! consumer can write it as it goes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use super::faults::{self, FaultReport, FaultSpec};
use super::http::{
    generate_conn, ConnEnd, ExpectedTx, Framing, HttpParams, RNG_FAULTS, RNG_SCHEDULE,
};
use super::pcap::{PcapWriter, PcapngWriter, TsResolution};
use super::rng::Rng;
use super::tcp::Packet;
use crate::time::Timestamp;

/// Connections generated when neither a connection count nor a size is given.
pub const DEFAULT_CONNECTIONS: u64 = 100;

/// Per-record overhead of classic pcap, used for the size target.
const RECORD_OVERHEAD: u64 = 16;

/// A connection's ground truth.
#[derive(Clone, Debug)]
pub struct ConnTruth {
    pub index: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub end: ConnEnd,
    pub midstream: bool,
    pub txs: Vec<ExpectedTx>,
    /// Faults applied to this connection's frames (empty without faults).
    pub faults: FaultReport,
    /// Its NSS key log lines (TLS mode; empty otherwise and for a midstream connection).
    pub keylog: String,
}

/// What the scenario produces, in output order.
#[derive(Clone, Debug)]
pub enum Event {
    Conn(ConnTruth),
    Packet(Packet),
}

/// The streaming scenario: an iterator of [`Event`]s.
pub struct Scenario {
    p: HttpParams,
    faults: Option<FaultSpec>,
    sched: Rng,
    started: u64,
    next_start: Timestamp,
    last_ts: Timestamp,
    heap: BinaryHeap<Reverse<(Timestamp, u32)>>,
    active: HashMap<u32, VecDeque<Packet>>,
    /// Capture bytes emitted and still queued in live connections (pcap accounting).
    emitted_bytes: u64,
    pending_bytes: u64,
}

impl Scenario {
    /// A scenario; parameters that [`HttpParams::validate`] rejects are clamped to the
    /// nearest usable value, so the iterator always ends.
    pub fn new(mut p: HttpParams, faults: Option<FaultSpec>) -> Scenario {
        p.tcp.mss = p.tcp.mss.clamp(1, 65_000);
        let sched = Rng::derive(p.seed, 0, RNG_SCHEDULE);
        Scenario {
            next_start: p.start,
            last_ts: p.start,
            p,
            faults: faults.filter(|f| !f.is_none()),
            sched,
            started: 0,
            heap: BinaryHeap::new(),
            active: HashMap::new(),
            emitted_bytes: 24,
            pending_bytes: 0,
        }
    }

    /// Connections with frames still to emit (at most `max_concurrent`).
    pub fn live_connections(&self) -> usize {
        self.active.len()
    }

    fn may_start(&self) -> bool {
        let limit = match (self.p.connections, self.p.target_bytes) {
            (None, None) => Some(DEFAULT_CONNECTIONS),
            (c, _) => c,
        };
        limit.is_none_or(|n| self.started < n)
            && self.started < u32::MAX as u64
            && self
                .p
                .target_bytes
                .is_none_or(|t| self.emitted_bytes + self.pending_bytes < t)
    }

    fn start_conn(&mut self) -> ConnTruth {
        let index = self.started as u32;
        self.started += 1;
        let start = self.next_start.max(self.last_ts);
        let mean = self.p.conn_interval.as_nanos().min(u64::MAX as u128) as u64;
        self.next_start = self.next_start + Duration::from_nanos(self.sched.around(mean));
        let g = generate_conn(&self.p, index, start);
        let (packets, report) = match &self.faults {
            Some(spec) => {
                let mut r = Rng::derive(self.p.seed, index as u64, RNG_FAULTS);
                faults::apply(spec, &mut r, g.packets)
            }
            None => (g.packets, FaultReport::default()),
        };
        let q: VecDeque<Packet> = packets.into();
        self.pending_bytes += q
            .iter()
            .map(|p| RECORD_OVERHEAD + p.data.len() as u64)
            .sum::<u64>();
        if let Some(first) = q.front() {
            self.heap.push(Reverse((first.ts, index)));
            self.active.insert(index, q);
        }
        ConnTruth {
            index,
            client: g.client,
            server: g.server,
            end: g.end,
            midstream: g.midstream,
            txs: g.txs,
            faults: report,
            keylog: g.keylog,
        }
    }
}

impl Iterator for Scenario {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        let head = self.heap.peek().map(|Reverse((ts, _))| *ts);
        let start_now = self.may_start()
            && match head {
                None => true,
                Some(ts) => {
                    self.active.len() < self.p.max_concurrent.max(1) && self.next_start <= ts
                }
            };
        if start_now {
            return Some(Event::Conn(self.start_conn()));
        }
        let Reverse((_, conn)) = self.heap.pop()?;
        let q = self.active.get_mut(&conn)?;
        let p = q.pop_front()?;
        match q.front() {
            Some(next) => self.heap.push(Reverse((next.ts, conn))),
            None => {
                self.active.remove(&conn);
            }
        }
        let size = RECORD_OVERHEAD + p.data.len() as u64;
        self.pending_bytes = self.pending_bytes.saturating_sub(size);
        self.emitted_bytes += size;
        self.last_ts = self.last_ts.max(p.ts);
        Some(Event::Packet(p))
    }
}

/// The capture file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Pcap(TsResolution),
    Pcapng,
}

/// Everything that decides a generated capture.
#[derive(Clone, Debug)]
pub struct GenConfig {
    pub http: HttpParams,
    pub faults: Option<FaultSpec>,
    pub format: Format,
    /// Cut every frame at this length (tcpdump `-s`).
    pub snaplen: Option<u32>,
}

impl GenConfig {
    pub fn new(http: HttpParams) -> GenConfig {
        GenConfig {
            http,
            faults: None,
            format: Format::Pcap(TsResolution::Micro),
            snaplen: None,
        }
    }
}

/// Totals of a generated capture.
#[derive(Clone, Debug, Default)]
pub struct GenSummary {
    pub connections: u64,
    pub transactions: u64,
    /// Transactions whose bytes all survived the faults.
    pub intact_transactions: u64,
    pub packets: u64,
    pub bytes: u64,
    pub faults: FaultReport,
    /// TLS mode: connections with their hellos (their secrets in the key log), and
    /// midstream ones (no hellos; secrets logged only with `TlsParams::log_midstream`).
    pub tls_connections: u64,
    pub tls_midstream: u64,
}

enum Sink<W: Write> {
    Pcap(PcapWriter<W>),
    Pcapng(PcapngWriter<W>),
}

/// Streams the capture to `out` and, if given, the ground truth as TSV to `expected`.
pub fn write_capture<W: Write, E: Write>(
    cfg: &GenConfig,
    out: W,
    expected: Option<E>,
) -> io::Result<GenSummary> {
    write_capture_with_keylog::<W, E, io::Sink>(cfg, out, expected, None)
}

impl GenConfig {
    /// What the generator cannot do: [`HttpParams::validate`], and, in TLS mode, faults or
    /// a snap length that lose bytes. A lost byte of a record loses the whole record to a
    /// decryptor, which the ground truth (byte ranges of the HTTP stream) cannot state.
    pub fn validate(&self) -> Result<(), String> {
        self.http.validate()?;
        if self.http.tls.is_some() {
            if let Some(f) = self
                .faults
                .as_ref()
                .filter(|f| f.drop > 0.0 || f.truncate > 0.0)
            {
                return Err(format!(
                    "TLS mode: faults that lose bytes (drop={}, truncate={}) are not supported; \
                     dup and reorder are",
                    f.drop, f.truncate
                ));
            }
            if self.snaplen.is_some() {
                return Err("TLS mode: a snap length loses bytes; not supported".to_string());
            }
        }
        Ok(())
    }
}

/// [`write_capture`], and in TLS mode the key log (NSS format) to `keylog`, each
/// connection's lines before its first frame.
pub fn write_capture_with_keylog<W: Write, E: Write, K: Write>(
    cfg: &GenConfig,
    out: W,
    mut expected: Option<E>,
    mut keylog: Option<K>,
) -> io::Result<GenSummary> {
    cfg.validate()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let link = cfg.http.tcp.link;
    let mut sink = match cfg.format {
        Format::Pcap(res) => Sink::Pcap(PcapWriter::new(out, link, res, cfg.snaplen)?),
        Format::Pcapng => Sink::Pcapng(PcapngWriter::new(out, link, cfg.snaplen)?),
    };
    if let Some(e) = expected.as_mut() {
        writeln!(e, "{}", ExpectedTx::TSV_HEADER)?;
    }
    let mut sum = GenSummary::default();
    for ev in Scenario::new(cfg.http.clone(), cfg.faults.clone()) {
        match ev {
            Event::Packet(p) => match &mut sink {
                Sink::Pcap(w) => w.write_packet_with_orig_len(p.ts, &p.data, p.orig_len)?,
                Sink::Pcapng(w) => w.write_packet_with_orig_len(p.ts, &p.data, p.orig_len)?,
            },
            Event::Conn(c) => {
                sum.connections += 1;
                if cfg.http.tls.is_some() {
                    if c.midstream {
                        sum.tls_midstream += 1;
                    } else {
                        sum.tls_connections += 1;
                    }
                }
                if let Some(k) = keylog.as_mut() {
                    k.write_all(c.keylog.as_bytes())?;
                }
                for tx in &c.txs {
                    let intact = c.faults.tx_intact(tx);
                    sum.transactions += 1;
                    sum.intact_transactions += intact as u64;
                    if let Some(e) = expected.as_mut() {
                        writeln!(e, "{}", tx.to_tsv_row(intact))?;
                    }
                }
                sum.faults.merge(c.faults);
            }
        }
    }
    let (packets, bytes) = match sink {
        Sink::Pcap(w) => {
            let counts = (w.packets_written(), w.bytes_written());
            w.into_inner()?;
            counts
        }
        Sink::Pcapng(w) => {
            let counts = (w.packets_written(), w.bytes_written());
            w.into_inner()?;
            counts
        }
    };
    sum.packets = packets;
    sum.bytes = bytes;
    if let Some(mut e) = expected {
        e.flush()?;
    }
    if let Some(mut k) = keylog {
        k.flush()?;
    }
    Ok(sum)
}

/// The whole scenario in memory (for tests): frames in output order, transactions in
/// connection order, and the merged fault report.
pub fn generate(
    http: &HttpParams,
    faults: Option<&FaultSpec>,
) -> (Vec<Packet>, Vec<ExpectedTx>, FaultReport) {
    let mut packets = Vec::new();
    let mut txs = Vec::new();
    let mut report = FaultReport::default();
    for ev in Scenario::new(http.clone(), faults.cloned()) {
        match ev {
            Event::Packet(p) => packets.push(p),
            Event::Conn(c) => {
                txs.extend(c.txs);
                report.merge(c.faults);
            }
        }
    }
    (packets, txs, report)
}

fn ts_str(ts: Timestamp) -> String {
    format!("{}.{:09}", ts.secs(), ts.subsec_nanos())
}

fn parse_ts(s: &str) -> Option<Timestamp> {
    let (a, b) = s.split_once('.')?;
    Some(Timestamp::from_secs_nanos(a.parse().ok()?, b.parse().ok()?))
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

impl ExpectedTx {
    /// Column names of the ground-truth TSV (one transaction per line).
    pub const TSV_HEADER: &'static str = "conn_index\tclient\tserver\tdepth\tin_flight\tmethod\thost\turi\tstatus\treq_head_len\treq_body_len\treq_wire_body_len\treq_framing\tresp_interim_len\tresp_head_len\tresp_body_len\tresp_wire_body_len\tresp_framing\tcontent_encoding\treq_start\treq_end\tresp_start\tresp_end\treq_stream_start\treq_stream_end\tresp_stream_start\tresp_stream_end\tintact";

    /// One TSV line (no newline). `-` stands for "none"; times are `secs.nanos`.
    pub fn to_tsv_row(&self, intact: bool) -> String {
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            self.conn_index,
            self.client,
            self.server,
            self.depth,
            self.in_flight,
            self.method,
            self.host,
            self.uri,
            opt(self.status),
            self.req_head_len,
            self.req_body_len,
            self.req_wire_body_len,
            self.req_framing.as_str(),
            self.resp_interim_len,
            self.resp_head_len,
            self.resp_body_len,
            self.resp_wire_body_len,
            self.resp_framing.as_str(),
            opt(self.content_encoding.as_deref()),
            ts_str(self.req_start),
            ts_str(self.req_end),
            opt(self.resp_start.map(ts_str)),
            opt(self.resp_end.map(ts_str)),
            self.req_stream.start,
            self.req_stream.end,
            self.resp_stream.start,
            self.resp_stream.end,
            intact as u8,
        )
    }

    /// Parses a line written by [`ExpectedTx::to_tsv_row`]; returns the transaction and its
    /// `intact` flag.
    pub fn from_tsv_row(line: &str) -> Result<(ExpectedTx, bool), String> {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != 28 {
            return Err(format!("expected 28 columns, found {}", f.len()));
        }
        fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, String> {
            s.parse().map_err(|_| format!("{what}: bad value `{s}`"))
        }
        let ts = |s: &str, what: &str| parse_ts(s).ok_or_else(|| format!("{what}: bad time `{s}`"));
        let ots = |s: &str, what: &str| -> Result<Option<Timestamp>, String> {
            if s == "-" {
                Ok(None)
            } else {
                ts(s, what).map(Some)
            }
        };
        let framing = |s: &str| Framing::parse(s).ok_or_else(|| format!("bad framing `{s}`"));
        let tx = ExpectedTx {
            conn_index: num(f[0], "conn_index")?,
            client: num(f[1], "client")?,
            server: num(f[2], "server")?,
            depth: num(f[3], "depth")?,
            in_flight: num(f[4], "in_flight")?,
            method: f[5].to_string(),
            host: f[6].to_string(),
            uri: f[7].to_string(),
            status: if f[8] == "-" {
                None
            } else {
                Some(num(f[8], "status")?)
            },
            req_head_len: num(f[9], "req_head_len")?,
            req_body_len: num(f[10], "req_body_len")?,
            req_wire_body_len: num(f[11], "req_wire_body_len")?,
            req_framing: framing(f[12])?,
            resp_interim_len: num(f[13], "resp_interim_len")?,
            resp_head_len: num(f[14], "resp_head_len")?,
            resp_body_len: num(f[15], "resp_body_len")?,
            resp_wire_body_len: num(f[16], "resp_wire_body_len")?,
            resp_framing: framing(f[17])?,
            content_encoding: if f[18] == "-" {
                None
            } else {
                Some(f[18].to_string())
            },
            req_start: ts(f[19], "req_start")?,
            req_end: ts(f[20], "req_end")?,
            resp_start: ots(f[21], "resp_start")?,
            resp_end: ots(f[22], "resp_end")?,
            req_stream: num(f[23], "req_stream_start")?..num(f[24], "req_stream_end")?,
            resp_stream: num(f[25], "resp_stream_start")?..num(f[26], "resp_stream_end")?,
        };
        let intact = match f[27] {
            "1" => true,
            "0" => false,
            s => return Err(format!("intact: bad value `{s}`")),
        };
        Ok((tx, intact))
    }
}

/// Parses a whole ground-truth TSV (header line first).
pub fn parse_expected_tsv(text: &str) -> Result<Vec<(ExpectedTx, bool)>, String> {
    let mut lines = text.lines();
    match lines.next() {
        Some(h) if h == ExpectedTx::TSV_HEADER => {}
        _ => return Err("missing or unexpected TSV header".to_string()),
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.is_empty())
        .map(|(i, l)| ExpectedTx::from_tsv_row(l).map_err(|e| format!("line {}: {e}", i + 2)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls_conn::TlsParams;

    /// The ground truth without its times (the TLS handshake and record overhead move
    /// them).
    fn timeless(mut t: ExpectedTx) -> ExpectedTx {
        let zero = Timestamp::from_secs_nanos(0, 0);
        (t.req_start, t.req_end) = (zero, zero);
        t.resp_start = t.resp_start.map(|_| zero);
        t.resp_end = t.resp_end.map(|_| zero);
        t
    }

    fn render(cfg: &GenConfig) -> (Vec<u8>, Vec<u8>, GenSummary) {
        let (mut pcap, mut keys) = (Vec::new(), Vec::new());
        let sum = write_capture_with_keylog(cfg, &mut pcap, None::<Vec<u8>>, Some(&mut keys))
            .expect("in-memory write");
        (pcap, keys, sum)
    }

    #[test]
    fn tls_mode_keeps_the_http_truth_and_logs_four_secrets_per_full_connection() {
        for preset in ["small", "mixed"] {
            let plain = HttpParams::preset(preset, 11).unwrap();
            let mut tls = plain.clone();
            tls.tls = Some(TlsParams::default());
            let (p_packets, p_truth, _) = generate(&plain, None);
            let (t_packets, t_truth, _) = generate(&tls, None);
            assert!(!p_truth.is_empty());
            let a: Vec<_> = p_truth.into_iter().map(timeless).collect();
            let b: Vec<_> = t_truth.into_iter().map(timeless).collect();
            assert_eq!(
                a, b,
                "{preset}: same transactions, sizes and stream offsets"
            );
            let bytes = |v: &[Packet]| v.iter().map(|p| p.data.len()).sum::<usize>();
            assert!(
                bytes(&t_packets) > bytes(&p_packets),
                "{preset}: records add bytes"
            );

            let (pcap, keys, sum) = render(&GenConfig::new(tls.clone()));
            let keys = String::from_utf8(keys).unwrap();
            assert!(
                sum.tls_connections > 0 && sum.tls_midstream > 0,
                "{preset}: {sum:?}"
            );
            assert_eq!(sum.tls_connections + sum.tls_midstream, sum.connections);
            assert_eq!(keys.lines().count() as u64, 4 * sum.tls_connections);
            let randoms: std::collections::HashSet<&str> =
                keys.lines().filter_map(|l| l.split(' ').nth(1)).collect();
            assert_eq!(
                randoms.len() as u64,
                sum.tls_connections,
                "one client random each"
            );
            // Deterministic: the same configuration, the same capture and key log.
            let (pcap2, keys2, _) = render(&GenConfig::new(tls));
            assert!(pcap == pcap2 && keys.as_bytes() == keys2);
        }
    }

    #[test]
    fn tls_mode_refuses_what_loses_bytes_and_takes_dup_and_reorder() {
        let mut cfg = GenConfig::new(HttpParams::small(1));
        cfg.http.tls = Some(TlsParams::default());
        cfg.faults = Some(FaultSpec::parse("dup=0.1,reorder=0.1").unwrap());
        assert!(cfg.validate().is_ok());
        for lossy in ["drop=0.01", "truncate=0.01"] {
            cfg.faults = Some(FaultSpec::parse(lossy).unwrap());
            let e = cfg.validate().unwrap_err();
            assert!(e.contains("TLS"), "{e}");
            let r = write_capture(&cfg, Vec::new(), None::<Vec<u8>>);
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        cfg.faults = None;
        cfg.snaplen = Some(200);
        assert!(cfg.validate().is_err());
        cfg.http.tls = None;
        assert!(cfg.validate().is_ok(), "the same without TLS is fine");
    }
}
