//! The fuzz targets' bodies (issue 16), one module per target, so that the same oracle runs
//! under libFuzzer (`fuzz/fuzz_targets/<target>.rs` is one line calling `<target>::check`)
//! and on stable in the normal test suite (`tests/fuzz_replay.rs` replays the committed
//! corpus of `fuzz/regressions/<target>/` through every target). Each `check` panics when
//! the code under test breaks a promise; the module docs say the input format and what is
//! checked. Not used by the product; hidden from the docs like `tls::testing`.
//!
//! Also here: a byte cursor, a classic pcap file reader (httshark's own capture module
//! needs libpcap, which the fuzz build leaves out), the op format of the `http` targets,
//! and the checks every exported transaction must pass. What this is not: a second
//! implementation of anything the product does. The reader only splits a pcap file into
//! records, as libpcap would; everything after that is the product's code.

pub mod body_select;
pub mod decode;
pub mod h2;
pub mod hosts;
pub mod hpack;
pub mod http;
pub mod keylog;
#[cfg(feature = "har-reference")]
pub mod pipeline;
pub mod reassembly;
pub mod redact;
pub mod tls_split;

/// A target's oracle: panics when the input makes the code under test break a promise.
pub type Oracle = fn(&[u8]);

/// Every target's name and its `check`, in the order of `fuzz/Cargo.toml` (`tls` is
/// `tls::oracle::check`): what `tests/fuzz_replay.rs` walks.
pub const TARGETS: &[(&str, Oracle)] = &[
    ("decode", decode::check),
    ("reassembly", reassembly::check),
    ("http", http::check),
    #[cfg(feature = "har-reference")]
    ("pipeline", pipeline::check),
    ("tls", crate::tls::oracle::check),
    ("keylog", keylog::check),
    ("h2", h2::check),
    ("hpack", hpack::check),
    ("http_split", http::check_split),
    ("redact", redact::check),
    ("body_select", body_select::check),
    ("hosts", hosts::check),
    ("h2_split", h2::check_split),
    ("tls_split", tls_split::check),
];

use crate::http::{HttpLimits, MAX_INTERIM};
use crate::model::{Body, Decoded, Header, Transaction};
use crate::time::Timestamp;

/// Reads fixed-size fields off the front of a byte slice; every read is checked.
pub struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Cursor { rest: data }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(b)
    }

    pub fn u16(&mut self) -> Option<u16> {
        let b = self.bytes_exact(2)?;
        Some(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Option<u32> {
        let b = self.bytes_exact(4)?;
        Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Exactly `n` bytes, or `None` (and nothing consumed) when fewer are left.
    pub fn bytes_exact(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn bytes_upto(&mut self, n: usize) -> &'a [u8] {
        let n = n.min(self.rest.len());
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        head
    }
}

/// Largest record a pcap file may claim (libpcap's own bound for most link types is
/// 262144; a larger caplen is a corrupt file).
pub const MAX_PCAP_RECORD: usize = 262_144;

/// A classic pcap file (not pcapng): its link type and records.
pub struct PcapFile<'a> {
    pub linktype: u32,
    records: Cursor<'a>,
    big_endian: bool,
    nanos: bool,
}

/// Parses the 24-byte global header. `None` when the magic is not a pcap magic.
pub fn pcap_file(data: &[u8]) -> Option<PcapFile<'_>> {
    let mut c = Cursor::new(data);
    let magic = c.bytes_exact(4)?;
    let (big_endian, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
        _ => return None,
    };
    let header = c.bytes_exact(20)?;
    let field = |at: usize| {
        let b = [header[at], header[at + 1], header[at + 2], header[at + 3]];
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    // version (4), thiszone, sigfigs, snaplen, then the link type at offset 16.
    Some(PcapFile {
        linktype: field(16) & 0x0fff_ffff,
        records: c,
        big_endian,
        nanos,
    })
}

impl<'a> Iterator for PcapFile<'a> {
    type Item = (Timestamp, &'a [u8]);

    /// The next record, or `None` at the end or at a truncated/corrupt record header (as
    /// libpcap stops there too).
    fn next(&mut self) -> Option<Self::Item> {
        let h = self.records.bytes_exact(16)?;
        let field = |at: usize| {
            let b = [h[at], h[at + 1], h[at + 2], h[at + 3]];
            if self.big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (secs, frac, caplen) = (field(0), field(4), field(8) as usize);
        if caplen > MAX_PCAP_RECORD {
            return None;
        }
        let frame = self.records.bytes_exact(caplen)?;
        // As capture::packet_time: libpcap's tv_sec is the file's u32, the fraction unchecked.
        let frac_nanos = if self.nanos {
            i64::from(frac)
        } else {
            i64::from(frac) * 1000
        };
        let ts = Timestamp(
            i64::from(secs)
                .saturating_mul(1_000_000_000)
                .saturating_add(frac_nanos),
        );
        Some((ts, frame))
    }
}

/// One step of the `http` target's input (see `http_ops`).
#[derive(Clone, Copy, Debug)]
pub enum HttpOp<'a> {
    /// Bytes in one direction (`to_client` false: to the server).
    Data {
        to_client: bool,
        data: &'a [u8],
    },
    Gap {
        to_client: bool,
        len: u64,
    },
    Fin {
        to_client: bool,
    },
    /// Packet time moves by this many nanoseconds (may be negative: captures do that).
    Time(i64),
    Tick,
    /// 0 fin, 1 reset, 2 idle, 3 evicted, 4 reused, 5 end of capture. Ends the input.
    Close(u8),
}

/// Decodes the `http` target's input: a flags byte (bit 0: mid-stream), then ops, each a
/// tag byte whose low 3 bits say what it is and bit 3 the direction:
///
/// | tag & 7 | op    | operands                                 |
/// |---------|-------|------------------------------------------|
/// | 0       | data  | u16 LE length, then the bytes (to server)|
/// | 1       | data  | same, to the client                      |
/// | 2       | gap   | u32 LE length                            |
/// | 3       | fin   | none                                     |
/// | 4       | time  | u16 LE, packet time += n * 10 ms         |
/// | 5       | tick  | none (`on_tick` at the current time)     |
/// | 6       | close | reason = (tag >> 4) % 6; ends the input   |
/// | 7       | time  | u16 LE, packet time -= n * 10 ms         |
///
/// `fuzz/seed.sh` writes the same format from `fixtures/http/*.txt`.
pub fn http_ops(data: &[u8]) -> (bool, Vec<HttpOp<'_>>) {
    let mut c = Cursor::new(data);
    let midstream = c.u8().is_some_and(|f| f & 1 == 1);
    let mut ops = Vec::new();
    while let Some(tag) = c.u8() {
        let to_client = tag & 8 != 0;
        let op = match tag & 7 {
            0 | 1 => {
                let Some(len) = c.u16() else { break };
                HttpOp::Data {
                    to_client: tag & 7 == 1,
                    data: c.bytes_upto(len as usize),
                }
            }
            2 => {
                let Some(len) = c.u32() else { break };
                HttpOp::Gap {
                    to_client,
                    len: len as u64,
                }
            }
            3 => HttpOp::Fin { to_client },
            4 | 7 => {
                let Some(n) = c.u16() else { break };
                let d = i64::from(n) * 10_000_000;
                HttpOp::Time(if tag & 7 == 4 { d } else { -d })
            }
            5 => HttpOp::Tick,
            _ => {
                ops.push(HttpOp::Close((tag >> 4) % 6));
                break;
            }
        };
        ops.push(op);
    }
    (midstream, ops)
}

/// Panics (a fuzz finding) unless `tx` respects the HTTP limits and the body invariants
/// documented in `model.rs`.
pub fn check_transaction(tx: &Transaction, limits: &HttpLimits) {
    check_headers(&tx.request.headers, limits, "request");
    check_body(&tx.request.body, limits, "request");
    assert!(tx.depth >= 1, "depth is 1-based");
    if let Some(r) = &tx.response {
        check_headers(&r.headers, limits, "response");
        check_body(&r.body, limits, "response");
        assert!(
            r.interim.len() <= MAX_INTERIM,
            "{} interim responses kept, limit {MAX_INTERIM}",
            r.interim.len()
        );
        for i in &r.interim {
            check_headers(&i.headers, limits, "interim response");
        }
    }
}

fn check_headers(h: &[Header], limits: &HttpLimits, what: &str) {
    assert!(
        h.len() <= limits.max_headers,
        "{what}: {} headers kept, max_headers {}",
        h.len(),
        limits.max_headers
    );
}

fn check_body(b: &Body, limits: &HttpLimits, what: &str) {
    assert!(
        b.data.len() <= limits.max_body_keep,
        "{what}: {} body bytes kept, max_body_keep {}",
        b.data.len(),
        limits.max_body_keep
    );
    assert!(
        b.missing <= b.len,
        "{what}: missing {} > len {}",
        b.missing,
        b.len
    );
    assert!(
        b.data.len() as u64 <= b.len - b.missing,
        "{what}: {} bytes kept of a body of {} with {} missing",
        b.data.len(),
        b.len,
        b.missing
    );
    if let Decoded::Decoded { data, len, .. } = &b.decoded {
        assert!(
            data.len() <= limits.max_body_keep,
            "{what}: {} decoded bytes kept, max_body_keep {}",
            data.len(),
            limits.max_body_keep
        );
        assert!(
            data.len() as u64 <= *len,
            "{what}: decoded data beyond its length"
        );
        assert!(
            *len <= limits.max_decoded_bytes as u64,
            "{what}: decoded {len} bytes, max_decoded_bytes {}",
            limits.max_decoded_bytes
        );
    }
}

/// The one plain-HTTP connection the HTTP/1 and HTTP/2 targets feed (10.0.0.2:40000 to
/// 10.0.0.1:80); `midstream` when its start was not seen.
pub fn plain_conn(midstream: bool) -> crate::model::ConnInfo {
    use std::net::{Ipv4Addr, SocketAddr};
    crate::model::ConnInfo {
        id: 1,
        client: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40_000)),
        server: SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80)),
        syn_ts: None,
        synack_ts: None,
        established_ts: None,
        midstream,
    }
}

/// Small limits, so that short fuzz inputs reach every limit. `max_body_keep` is 512, not
/// less: a body is decoded only when all of it was kept, and a compression bomb that
/// reaches `max_decoded_bytes` needs a few hundred bytes (gzip of 300 KB of zeros).
pub fn small_http_limits() -> HttpLimits {
    HttpLimits {
        max_head_bytes: 512,
        max_headers: 8,
        max_body_keep: 512,
        max_pending_requests: 4,
        max_decode_layers: 2,
        max_decoded_bytes: 4096,
        response_timeout: std::time::Duration::from_secs(5),
    }
}

/// The transactions `HttpConn` (default limits) makes of one request head and one
/// response head, each given as the start line followed by `fields` (raw bytes, not
/// checked: they may hold CR, LF or a blank line, which then ends the head early) and a
/// body of `body_len` bytes announced by Content-Length. For the targets of the string
/// parsers that judge header fields (`redact`, `body_select`): the fields reach them as
/// the HTTP parser leaves them, as in the product.
pub fn exchange(req_fields: &[u8], resp_fields: &[u8], body_len: usize) -> Vec<Transaction> {
    use crate::http::{HttpConn, HttpCtx};
    use crate::model::Direction;
    use crate::reassembly::{CloseReason, StreamHandler};

    let conn = plain_conn(false);
    let mut ctx = HttpCtx::new(HttpLimits::default());
    let mut h = HttpConn::new(&conn);
    let ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    let body = vec![b'b'; body_len];
    let message = |start: &str, fields: &[u8]| {
        let mut m = format!("{start}\r\nContent-Length: {body_len}\r\n").into_bytes();
        m.extend_from_slice(fields);
        m.extend_from_slice(b"\r\n\r\n");
        m.extend_from_slice(&body);
        m
    };
    let req = message("POST /p HTTP/1.1\r\nHost: h", req_fields);
    let resp = message("HTTP/1.1 200 OK", resp_fields);
    h.on_data(&mut ctx, &conn, Direction::ToServer, &req, ts);
    h.on_data(&mut ctx, &conn, Direction::ToClient, &resp, ts);
    h.on_close(&mut ctx, &conn, CloseReason::Fin, ts);
    std::mem::take(&mut ctx.out)
}

/// How a differential target cuts each piece of data before feeding it: the same bytes
/// whole, byte by byte, or in pseudo-random pieces must give the same result.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Split {
    Whole,
    Bytes,
    /// Pieces of 1..=`max` bytes from a xorshift stream with this seed.
    Random {
        seed: u64,
        max: usize,
    },
}

impl Split {
    /// The xorshift state a run starts from (never 0).
    pub(crate) fn rng(self) -> u64 {
        match self {
            Split::Random { seed, .. } => seed | 1,
            _ => 1,
        }
    }

    /// How many of the `left` bytes the next piece takes (at least 1 when `left` > 0);
    /// `rng` carries the state from piece to piece.
    pub(crate) fn piece_len(self, rng: &mut u64, left: usize) -> usize {
        let n = match self {
            Split::Whole => left,
            Split::Bytes => 1,
            Split::Random { max, .. } => {
                *rng ^= *rng << 13;
                *rng ^= *rng >> 7;
                *rng ^= *rng << 17;
                1 + (*rng % max as u64) as usize
            }
        };
        n.min(left)
    }
}
