//! One HTTP/2 stream (RFC 9113 §5.1, §8.1): its request (headers, DATA, trailers), its
//! 1xx interim responses, its final response (headers, DATA, trailers), and what it
//! becomes: one `Transaction` with an `H2Stream`.
//!
//! Messages: a side's first header block is its head (the server's 1xx blocks are interim
//! responses, RFC 9113 §8.1); a later block on a side that has its head is its trailers.
//! END_STREAM ends a side. Pseudo-headers become the request's method and target
//! (`:method`, `:path`, or `:authority` for CONNECT) and the response's status; the
//! request keeps them in its header list (first, in wire order, as Chrome's HAR does),
//! the response drops `:status` (it is the status).
//!
//! What it does not do: frames or HPACK (`conn.rs`). Bodies are read by the HTTP/1
//! `BodyReader` (close-delimited framing: every DATA byte is body) so the keep limit, the
//! memory budget's shedding and content decoding are the same code as HTTP/1's.

use compact_str::CompactString;

use crate::http::{self, BodyReader, Framing, HttpCtx, MAX_INTERIM};
use crate::model::{
    Anomaly, Body, ConnInfo, Direction, H2Stream, Header, HttpVersion, Interim, Request, Response,
    Transaction, Unanswered,
};
use crate::time::Timestamp;

use super::hpack::HeaderField;

/// A decoded header block, made into fields, with what it cost.
pub(super) struct Block {
    pub fields: Vec<Header>,
    /// Compressed bytes of the block (HEADERS/PUSH_PROMISE + CONTINUATION fragments).
    pub wire_len: u64,
    /// Packet time of the block's first frame.
    pub ts: Timestamp,
    /// Decoded with HPACK state lost: fields may be placeholders.
    pub desync: bool,
    /// Cut at the header list limits.
    pub cut: bool,
}

/// One stream's state.
pub(super) struct Stream {
    pub id: u32,
    pub depth: u32,
    pub pushed: bool,
    pub upgraded: bool,
    pub request: Option<Request>,
    pub response: Option<Response>,
    pub interim: Vec<Interim>,
    /// The bodies being read: request (to server), response (to client).
    pub bodies: [BodyReader; 2],
    /// Each side ended with END_STREAM (complete).
    pub ended: [bool; 2],
    /// Each side will send no more without having ended: its sender reset the stream, or
    /// its head was lost (a placeholder stands in).
    pub stopped: [bool; 2],
    /// When RST_STREAM came: frames the other end had in flight may still follow, for
    /// `RESET_GRACE` (see `conn.rs`).
    pub reset_at: Option<Timestamp>,
    /// Each side's body lost bytes to a gap.
    pub gap: [bool; 2],
    pub anomalies: Vec<Anomaly>,
    pub error_code: Option<u32>,
    pub compressed: (u64, u64),
}

/// Index of a side in `Stream`'s arrays.
pub(super) fn side(dir: Direction) -> usize {
    dir.index()
}

/// Header fields as the model keeps them (lossy UTF-8, as HTTP/1's heads), cut at the
/// head limits (`max_headers` fields, `max_head_bytes` of names and values plus the 32
/// bytes of RFC 7541 §4.1 per field). Returns the fields and whether they were cut.
/// `fields` is drained: valid UTF-8 (nearly every field) becomes the `String` without a
/// copy, and the caller keeps the vector's room for the next block.
pub(super) fn to_headers(fields: &mut Vec<HeaderField>, ctx: &HttpCtx) -> (Vec<Header>, bool) {
    let mut out = Vec::with_capacity(fields.len().min(ctx.limits.max_headers));
    let mut size = 0usize;
    let mut cut = false;
    for f in fields.drain(..) {
        size = size.saturating_add(f.name.len() + f.value.len() + 32);
        if out.len() >= ctx.limits.max_headers || size > ctx.limits.max_head_bytes {
            cut = true;
            break;
        }
        out.push(Header {
            name: crate::model::header_name_owned(utf8_lossy(f.name)),
            value: value_lossy(f.value),
        });
    }
    (out, cut)
}

/// `bytes` as a `String`, its buffer reused when it is valid UTF-8, else the lossy
/// conversion (U+FFFD for each invalid sequence), as `String::from_utf8_lossy`.
fn utf8_lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A field value: a short valid one copied inline (the vector is freed), a longer one
/// keeping the vector's allocation (`CompactString::from(String)` takes it over).
fn value_lossy(bytes: Vec<u8>) -> CompactString {
    match std::str::from_utf8(&bytes) {
        Ok(s) if s.len() <= std::mem::size_of::<CompactString>() => CompactString::new(s),
        _ => utf8_lossy(bytes).into(),
    }
}

fn pseudo<'a>(fields: &'a [Header], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|h| h.name == name)
        .map(|h| h.value.as_str())
}

/// The request a header block describes (pseudo-headers first, in wire order).
pub(super) fn request_of(b: Block, now: Timestamp) -> Request {
    let mut headers = b.fields;
    // A stable partition: RFC 9113 §8.3 puts pseudo-headers first; a sender that did not
    // still gets them first here, each group in wire order. (Already so: nothing to do.)
    let pseudo_first = |h: &Header| h.name.starts_with(':');
    if headers
        .iter()
        .skip_while(|h| pseudo_first(h))
        .any(pseudo_first)
    {
        headers.sort_by_key(|h| !pseudo_first(h));
    }
    let method = pseudo(&headers, ":method").unwrap_or("").to_string();
    let target = if method.eq_ignore_ascii_case("CONNECT") {
        pseudo(&headers, ":authority")
    } else {
        pseudo(&headers, ":path")
    }
    .unwrap_or("")
    .to_string();
    let codings = http::content_codings(&headers);
    Request {
        method,
        target,
        version: HttpVersion::Http2,
        headers,
        head_len: b.wire_len,
        body: Body {
            content_encoding: codings,
            ..Body::default()
        },
        first_ts: b.ts,
        last_ts: now,
        complete: true,
    }
}

/// The `:status` of a response header block (0 when missing or not a number).
pub(super) fn status_of(fields: &[Header]) -> u16 {
    pseudo(fields, ":status")
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

impl Stream {
    /// Bodies counted, not stored, when no output reads them (`BodyReader::sizes_only`).
    pub fn sizes_only(&mut self, yes: bool) {
        for reader in &mut self.bodies {
            reader.sizes_only = yes;
        }
    }

    pub fn new(id: u32, depth: u32, keep: usize) -> Stream {
        let reader = || BodyReader::new(Framing::Close, keep, 0);
        Stream {
            id,
            depth,
            pushed: false,
            upgraded: false,
            request: None,
            response: None,
            interim: Vec::new(),
            bodies: [reader(), reader()],
            ended: [false, false],
            stopped: [false, false],
            reset_at: None,
            gap: [false, false],
            anomalies: Vec::new(),
            error_code: None,
            compressed: (0, 0),
        }
    }

    pub fn flag(&mut self, a: Anomaly) {
        if !self.anomalies.contains(&a) {
            self.anomalies.push(a);
        }
    }

    fn note_block(&mut self, ctx: &mut HttpCtx, b: &Block) {
        if b.desync {
            self.flag(Anomaly::HpackDesync);
        }
        if b.cut {
            ctx.h2.h2_header_list_limit_hits += 1;
            ctx.counters.head_too_large += 1;
            self.flag(Anomaly::HeadTooLarge);
        }
    }

    /// A header block from the client: the request head, or its trailers.
    pub fn request_block(&mut self, ctx: &mut HttpCtx, b: Block, end: bool, now: Timestamp) {
        self.note_block(ctx, &b);
        if self.request.is_some() {
            let reader = &mut self.bodies[0];
            reader.body.trailers.extend(b.fields);
        } else {
            ctx.counters.requests += 1;
            self.compressed.0 = b.wire_len;
            let r = request_of(b, now);
            self.bodies[0].body.content_encoding = r.body.content_encoding.clone();
            self.request = Some(r);
        }
        if end {
            self.end_side(0, now);
        }
    }

    /// A header block from the server: an interim response, the final head, or trailers.
    pub fn response_block(&mut self, ctx: &mut HttpCtx, b: Block, end: bool, now: Timestamp) {
        self.note_block(ctx, &b);
        if self.request.is_none() {
            // The request was lost (gap, pickup): a placeholder, as HTTP/1 does.
            self.request = Some(placeholder_request(b.ts));
            self.flag(Anomaly::RequestLost);
            self.stopped[0] = true;
        }
        if self.response.is_some() {
            self.bodies[1].body.trailers.extend(b.fields);
        } else {
            let status = status_of(&b.fields);
            let mut headers = b.fields;
            headers.retain(|h| h.name != ":status");
            if (100..200).contains(&status) && !end {
                ctx.counters.interim_responses += 1;
                if self.interim.len() < MAX_INTERIM {
                    self.interim.push(Interim {
                        status,
                        reason: String::new(),
                        version: HttpVersion::Http2,
                        headers,
                        head_len: b.wire_len,
                        ts: b.ts,
                    });
                }
                return;
            }
            ctx.counters.responses += 1;
            self.compressed.1 = b.wire_len;
            let codings = http::content_codings(&headers);
            self.bodies[1].body.content_encoding = codings.clone();
            self.response = Some(Response {
                status,
                reason: String::new(),
                version: HttpVersion::Http2,
                headers,
                head_len: b.wire_len,
                body: Body {
                    content_encoding: codings,
                    ..Body::default()
                },
                first_ts: b.ts,
                last_ts: now,
                complete: true,
                interim: std::mem::take(&mut self.interim),
            });
        }
        if end {
            self.end_side(1, now);
        }
    }

    /// DATA content of `dir`.
    pub fn data(&mut self, dir: Direction, bytes: &[u8], ts: Timestamp) {
        let s = side(dir);
        if s == 1 && self.response.is_none() {
            // Response DATA without its head (lost): a placeholder head, flagged.
            self.response = Some(placeholder_response(ts));
            self.flag(Anomaly::ResponseInterrupted);
        }
        if s == 0 && self.request.is_none() {
            self.request = Some(placeholder_request(ts));
            self.flag(Anomaly::RequestLost);
        }
        self.bodies[s].feed(bytes);
    }

    /// `n` content bytes of `dir`'s body were lost (a gap inside a DATA frame).
    pub fn data_missing(&mut self, dir: Direction, n: u64) {
        let s = side(dir);
        self.bodies[s].gap(n);
        self.gap[s] = true;
    }

    pub fn end_side(&mut self, s: usize, now: Timestamp) {
        if let Some(e) = self.ended.get_mut(s) {
            *e = true;
        }
        if s == 0 {
            if let Some(r) = self.request.as_mut() {
                r.last_ts = now;
            }
        } else if let Some(r) = self.response.as_mut() {
            r.last_ts = now;
        }
    }

    /// Nothing more is expected on either side.
    pub fn done(&self) -> bool {
        (self.ended[0] || self.stopped[0]) && (self.ended[1] || self.stopped[1])
    }

    /// RST_STREAM from `dir` (RFC 9113 §6.4): its sender sends nothing more on the
    /// stream; what the other end had already sent may still arrive.
    pub fn reset(&mut self, dir: Direction, code: u32, now: Timestamp) {
        self.error_code = Some(code);
        if let Some(s) = self.stopped.get_mut(side(dir)) {
            *s = true;
        }
        self.reset_at = Some(now);
    }

    /// GOAWAY's last stream id is below this stream's: neither end goes on with it.
    pub fn refused(&mut self, code: u32) {
        self.error_code = Some(code);
        self.stopped = [true, true];
    }

    /// Heap memory held (inline size included).
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Stream>()
            + self.request.as_ref().map_or(0, Request::heap_bytes)
            + self.response.as_ref().map_or(0, Response::heap_bytes)
            + self.interim.capacity() * std::mem::size_of::<Interim>()
            + self.interim.iter().map(Interim::heap_bytes).sum::<usize>()
            + self
                .bodies
                .iter()
                .map(BodyReader::heap_bytes)
                .sum::<usize>()
            + self.anomalies.capacity() * std::mem::size_of::<Anomaly>()
    }

    /// The memory budget ran out: body bytes are dropped (sizes kept).
    pub fn shed(&mut self) -> bool {
        let mut dropped = false;
        for b in self.bodies.iter_mut() {
            dropped |= b.shed();
        }
        if dropped {
            self.flag(Anomaly::MemoryLimit);
        }
        dropped
    }

    /// The stream's transaction. `why`: the reason a missing response is missing (the
    /// connection's end), else a reset's.
    pub fn finish(
        mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        why: Unanswered,
        now: Timestamp,
    ) -> Transaction {
        let mut anomalies = std::mem::take(&mut self.anomalies);
        if conn.midstream {
            anomalies.insert(0, Anomaly::MidStreamPickup);
        }
        if self.error_code.is_some() && !(self.ended[0] && self.ended[1]) {
            // A reset that cut a message short; one after both ended is only recorded.
            add(&mut anomalies, Anomaly::StreamReset);
        }
        let [req_reader, resp_reader] = self.bodies;
        let mut request = self
            .request
            .take()
            .unwrap_or_else(|| placeholder_request(now));
        let req_complete = self.ended[0];
        if !self.upgraded {
            // (An upgraded request's body was read by HTTP/1 and is in `request` already.)
            request.body =
                http::finish_body(ctx, req_reader, req_complete, self.gap[0], &mut anomalies);
            request.complete = req_complete && !self.gap[0];
        }
        if !req_complete {
            add(&mut anomalies, Anomaly::RequestInterrupted);
            ctx.counters.interrupted_messages += 1;
        }
        let mut response = self.response.take();
        if let Some(r) = response.as_mut() {
            let complete = self.ended[1];
            r.body = http::finish_body(ctx, resp_reader, complete, self.gap[1], &mut anomalies);
            r.complete = complete && !self.gap[1];
            if !complete {
                add(&mut anomalies, Anomaly::ResponseInterrupted);
                ctx.counters.interrupted_messages += 1;
            }
            if r.interim.is_empty() {
                r.interim = std::mem::take(&mut self.interim);
            }
        } else {
            let why = if self.error_code.is_some() {
                Unanswered::StreamReset
            } else {
                why
            };
            ctx.counters.unanswered += 1;
            add(&mut anomalies, Anomaly::Unanswered(why));
        }
        if self.gap.iter().any(|g| *g) {
            ctx.counters.body_gaps += 1;
            add(&mut anomalies, Anomaly::BodyGap);
        }
        ctx.counters.transactions += 1;
        ctx.counters.anomalies += anomalies.len() as u64;
        ctx.h2.h2_streams += 1;
        Transaction {
            conn: conn.clone(),
            depth: self.depth,
            request,
            response,
            anomalies,
            tls: None,
            h2: Some(Box::new(H2Stream {
                stream_id: self.id,
                pushed: self.pushed,
                error_code: self.error_code,
                headers_compressed: self.compressed,
                upgraded: self.upgraded,
            })),
            process: None,
            completed_at: now,
        }
    }
}

fn add(list: &mut Vec<Anomaly>, a: Anomaly) {
    if !list.contains(&a) {
        list.push(a);
    }
}

/// The request of a stream whose request head was lost.
fn placeholder_request(ts: Timestamp) -> Request {
    Request {
        method: String::new(),
        target: String::new(),
        version: HttpVersion::Http2,
        headers: Vec::new(),
        head_len: 0,
        body: Body::default(),
        first_ts: ts,
        last_ts: ts,
        complete: false,
    }
}

/// The response of a stream whose response head was lost (status 0).
fn placeholder_response(ts: Timestamp) -> Response {
    Response {
        status: 0,
        reason: String::new(),
        version: HttpVersion::Http2,
        headers: Vec::new(),
        head_len: 0,
        body: Body::default(),
        first_ts: ts,
        last_ts: ts,
        complete: false,
        interim: Vec::new(),
    }
}
