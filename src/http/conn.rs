//! `HttpConn`: the HTTP/1.x parser of one TCP connection, both directions, and the pairing
//! of responses with requests.
//!
//! Each direction (`Half`) is a small state machine: `Start` (looking for a start line;
//! strict at a clean message boundary, tolerant in resync), `Head` (the start line matched,
//! waiting for the empty line), `Body`, `AwaitSwitch` (request side after CONNECT or
//! Upgrade, holding bytes until the response says whether the protocol switched),
//! `TunnelProbe` (after a CONNECT's 2xx: plain HTTP through the tunnel is parsed on, as
//! Suricata does; anything else is a tunnel), `Tunnel` and `Ended`.
//!
//! At a clean message boundary, a text line that is not a request line is read on as a
//! head and recorded as a request flagged `MalformedRequestLine` if field lines and an
//! empty line follow (Zeek logs such exchanges); otherwise it is skipped (resync). A
//! version-less line is HTTP/0.9 (any method with an origin-form target, as Zeek); field
//! lines right after it are kept on it.
//!
//! Requests enter a queue (`Entry`) when their head is parsed, so that a response (or a
//! 100 Continue) can pair with a request whose body is still arriving. Responses pair with
//! the oldest entry that has no final response (RFC 9112 §9.3.2, in order), unless TCP
//! acknowledgments (`StreamHandler::on_ack`, as offsets of the other stream) say otherwise
//! after a loss: a response sent before the server had a byte of that request does not
//! answer it (it answers a lost request: exported with a `RequestLost` placeholder, or is
//! an orphan); a request whose response the client had received before sending the next
//! one, with no response head seen, lost it; a pipelined batch that lost a request is
//! paired in order, flagged `PairingUncertain` (docs/architecture.md has the rules). An
//! entry is
//! emitted as a `Transaction` when both its request and its response are finished; entries
//! are emitted in order, except timeouts, which leave a tombstone (the method only) so a
//! late response is framed correctly and consumed instead of being paired with the next
//! request.
//!
//! Gap policy: a gap inside a body of known length (Content-Length, or inside a chunk's
//! data) is counted in `Body::missing` and flagged `BodyGap`, and parsing goes on. A gap
//! anywhere else ends the message in progress (`RequestInterrupted` /
//! `ResponseInterrupted`) and the direction resynchronises at the next start line:
//! - a request with a parsed head (even a partial one: its complete lines) is still emitted,
//!   `complete == false`;
//! - a response whose status line was lost (gap before or inside its start line): the
//!   oldest waiting request is emitted without a response, flagged `ResponseInterrupted`,
//!   so the next response found by resync is not paired with the wrong request;
//! - a gap in a close-delimited body counts its bytes as missing, and ends the message as
//!   interrupted.
//!
//! Invariants: every buffer is bounded (`max_head_bytes` for heads, held bytes and
//! trailers; `max_body_keep` per body; `max_pending_requests` entries, tombstones included;
//! `MAX_INTERIM` interim responses per request); every byte is looked at a bounded number
//! of times (no rescans of a head); nothing here panics on any input.

use std::collections::VecDeque;

use crate::model::{
    header, Anomaly, Body, ConnInfo, Decoded, Direction, HttpVersion, Interim, Request, Response,
    Transaction, Unanswered,
};
use crate::reassembly::{CloseReason, StreamHandler};
use crate::time::Timestamp;

use super::body::{BodyReader, GapEffect, Progress};
use super::decode::decode_detailed;
use super::head::{self, Framing, HeadScanner, Match, ParsedHead, StartMatcher};
use super::{HttpCounters, HttpCtx, HttpLimits};

/// Interim (1xx) responses kept per request; more are counted but not kept.
pub const MAX_INTERIM: usize = 16;

const REQ: usize = 0;
const RESP: usize = 1;

#[derive(Debug)]
enum Phase {
    /// Between messages. `resync`: after lost or unparseable bytes; bytes that do not
    /// start a message are skipped and counted.
    Start {
        resync: bool,
    },
    /// The start line matched (it is in `Half::buf`); reading up to the empty line.
    Head,
    Body(Box<BodyReader>),
    /// Request side after a CONNECT or Upgrade request (entry `depth`): bytes are held
    /// until the response says whether the protocol switched.
    AwaitSwitch {
        depth: u32,
    },
    /// Request side after a 2xx to CONNECT: the first tunnelled bytes (held in
    /// `Half::held`) decide whether the tunnel carries plain HTTP (a request line: parse
    /// on, both directions) or anything else (TLS, ...: `Tunnel`).
    TunnelProbe,
    /// After 101 or a 2xx to CONNECT: bytes are counted and skipped.
    Tunnel,
    /// The direction finished (FIN); later bytes are ignored.
    Ended,
}

/// What the head in progress (`Phase::Head`, request side) is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum HeadKind {
    /// A well-formed start line matched.
    #[default]
    Normal,
    /// At a message boundary, a text line that is not a request line (`OPTIONS HTTP/1.1`,
    /// `GET / HTTP/1.`, `GET/ HTTP/1.1`): recorded as a request flagged
    /// `MalformedRequestLine` if field lines and an empty line follow, else skipped.
    Malformed,
    /// Field lines after an HTTP/0.9-looking request line (entry `depth`): a request line
    /// that lost the space before its version (`GET /HTTP/1.1`). Their fields are added to
    /// that request.
    Trailer09(u32),
}

/// Who the response in progress belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    Entry(u32),
    /// The response answers a request the capture lost (see `HttpConn::lost`).
    Lost,
    /// Orphan or late response: framed and skipped.
    Discard,
}

/// One direction of the connection.
#[derive(Debug)]
struct Half {
    phase: Phase,
    /// The start-line candidate, then the head, bounded by `max_head_bytes`.
    buf: Vec<u8>,
    matcher: StartMatcher,
    scanner: HeadScanner,
    /// Requests in resync: the next byte may start a request line (it follows a line end,
    /// a gap, or a byte that cannot be part of a method token, such as the stray byte of
    /// a TCP keep-alive probe).
    at_line_start: bool,
    /// Packet time of the first byte of the message in progress.
    first_ts: Timestamp,
    /// Stream offset of that byte, when known (not for bytes re-fed after being held).
    first_off: Option<u64>,
    /// The ACK of the segment that carried that byte, as an offset of the other
    /// direction's stream, when the reassembler gave one (`StreamHandler::on_ack`).
    first_ack: Option<u64>,
    /// The message in progress (request: its entry's depth; response: its owner).
    owner: Owner,
    /// Response side: switch both directions to tunnel mode when this message ends.
    switch_after: bool,
    /// The body in progress lost bytes to a gap.
    body_gap: bool,
    /// Request side, `AwaitSwitch`: bytes held (bounded by `max_head_bytes`).
    held: Vec<u8>,
    /// Held bytes were lost (over the bound, or a gap): resync when they are released.
    held_lost: bool,
    /// Request side: what the head in progress is.
    head_kind: HeadKind,
    /// Bytes were skipped in `Tunnel` phase.
    tunnelled: bool,
    /// Request side: the last request was an HTTP/0.9 line (entry depth); field lines
    /// right after it belong to it.
    after09: Option<u32>,
}

impl Half {
    fn new(request: bool, resync: bool) -> Self {
        Half {
            phase: Phase::Start { resync },
            buf: Vec::new(),
            matcher: StartMatcher::new(request),
            scanner: HeadScanner::default(),
            at_line_start: true,
            first_ts: Timestamp::ZERO,
            first_off: None,
            first_ack: None,
            owner: Owner::Discard,
            switch_after: false,
            body_gap: false,
            held: Vec::new(),
            held_lost: false,
            head_kind: HeadKind::Normal,
            after09: None,
            tunnelled: false,
        }
    }

    fn reset_candidate(&mut self) {
        self.buf.clear();
        self.matcher.reset();
        self.scanner = HeadScanner::default();
        self.head_kind = HeadKind::Normal;
    }

    /// Continues the candidate in `buf` as a head of `kind` (the start line, or what
    /// there is of it, is in `buf`).
    fn enter_head(&mut self, kind: HeadKind) {
        self.head_kind = kind;
        self.scanner = HeadScanner::default();
        let _ = self.scanner.scan(&self.buf);
        self.phase = Phase::Head;
    }

    fn resync(&mut self, at_line_start: bool) {
        self.after09 = None;
        self.reset_candidate();
        self.phase = Phase::Start { resync: true };
        self.at_line_start = at_line_start;
    }
}

/// A request waiting for (or receiving) its response.
#[derive(Debug)]
struct Entry {
    depth: u32,
    method: String,
    /// None: a tombstone (the request was exported on timeout; its response is skipped).
    request: Option<Request>,
    req_done: bool,
    req_anomalies: Vec<Anomaly>,
    interim: Vec<Interim>,
    response: Option<Response>,
    /// The final response ended (or was lost, or will never come).
    resp_done: bool,
    resp_anomalies: Vec<Anomaly>,
    /// Why it has no response, set when that became certain.
    unanswered: Option<Unanswered>,
    http09: bool,
    /// Request-stream offset of the request's first byte, when known.
    req_start: Option<u64>,
    /// Response-stream offset the client had received when it sent that byte (its ACK).
    client_ack: Option<u64>,
    /// When it was sent, no earlier response was still due: every earlier request was
    /// done and the response side was between messages (see `ack_shows_lost_response`).
    clean_send: bool,
}

impl Entry {
    fn is_tombstone(&self) -> bool {
        self.request.is_none()
    }

    fn heap_bytes(&self) -> usize {
        self.method.capacity()
            + self.request.as_ref().map_or(0, Request::heap_bytes)
            + self.response.as_ref().map_or(0, Response::heap_bytes)
            + self.interim.capacity() * std::mem::size_of::<Interim>()
            + self.interim.iter().map(Interim::heap_bytes).sum::<usize>()
            + (self.req_anomalies.capacity() + self.resp_anomalies.capacity())
                * std::mem::size_of::<Anomaly>()
    }
}

/// The HTTP parser of one connection.
pub struct HttpConn {
    halves: [Half; 2],
    queue: VecDeque<Entry>,
    /// Responses still to come for requests dropped at the pending limit: skipped.
    skip_responses: u64,
    depth: u32,
    midstream: bool,
    /// Bytes (data and gaps) delivered so far per direction: the stream offset of the next.
    delivered: [u64; 2],
    /// During a call from the reassembler: the stream offset of the next byte `step`
    /// looks at. `None` while bytes held earlier are fed again (their offsets are gone).
    at: [Option<u64>; 2],
    /// The ACK given by `on_ack` for the response bytes of the current `on_data` call.
    resp_ack: Option<u64>,
    /// The same for the request bytes.
    req_ack: Option<u64>,
    /// The last response ended cut short, or the response stream lost bytes since: where
    /// it really ended is unknown.
    resp_broken: bool,
    /// Request-stream span where gaps may have hidden whole requests (a gap outside a
    /// body of known length), not yet passed by a paired response.
    lost_span: Option<(u64, u64)>,
    /// The placeholder entry of a lost request whose response is in progress.
    lost: Option<Box<Entry>>,
    /// The response stream lost bytes outside a body of known length since the last
    /// response head: a whole response may have been lost there.
    resp_lost: bool,
    /// Request-stream offset from which the server's ACKs say a request starts: the
    /// highest ACK of a response segment (in a non-pipelined exchange, the next request
    /// follows the answered one's last byte). Lets the request side resync there.
    req_boundary: Option<u64>,
}

/// The second space-separated word of a request line (its target), line end excluded.
fn second_word(line: &[u8]) -> Option<&[u8]> {
    line.split(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .filter(|w| !w.is_empty())
        .nth(1)
}

fn idx(dir: Direction) -> usize {
    dir.index()
}

fn add_anomaly(list: &mut Vec<Anomaly>, a: Anomaly) {
    if !list.contains(&a) {
        list.push(a);
    }
}

impl HttpConn {
    pub fn new(conn: &ConnInfo) -> Self {
        // Mid-stream pickup: neither direction is known to be at a message start.
        let resync = conn.midstream;
        HttpConn {
            halves: [Half::new(true, resync), Half::new(false, resync)],
            queue: VecDeque::new(),
            skip_responses: 0,
            depth: 0,
            midstream: conn.midstream,
            delivered: [0; 2],
            at: [None; 2],
            resp_ack: None,
            req_ack: None,
            resp_broken: false,
            lost_span: None,
            lost: None,
            resp_lost: false,
            req_boundary: None,
        }
    }

    /// Requests waiting for a response.
    pub fn pending(&self) -> usize {
        self.queue
            .iter()
            .filter(|e| !e.is_tombstone() && !e.resp_done)
            .count()
    }

    fn entry_mut(&mut self, depth: u32) -> Option<&mut Entry> {
        let i = self.queue.binary_search_by_key(&depth, |e| e.depth).ok()?;
        self.queue.get_mut(i)
    }

    /// The oldest entry still waiting for its final response.
    fn front_waiting(&self) -> Option<&Entry> {
        self.queue.iter().find(|e| !e.resp_done)
    }

    // ---------------------------------------------------------------- data path

    fn feed(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) {
        self.feed_at(ctx, conn, dir, data, ts, None);
    }

    /// `feed`, with `base` the stream offset of `data[0]` when known.
    fn feed_at(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
        base: Option<u64>,
    ) {
        let mut pos = 0usize;
        let mut stalls = 0u32;
        while pos < data.len() {
            let rest = data.get(pos..).unwrap_or_default();
            self.at[idx(dir)] = base.map(|b| b + pos as u64);
            let held = self.halves[idx(dir)].buf.len();
            let n = self.step(ctx, conn, dir, rest, ts);
            pos += n;
            // Every step consumes bytes, changes phase, or shrinks the held head (an
            // abandoned malformed head re-feeds all but its first line, which may start
            // another candidate: one line less each time, so this ends). A step that does
            // none of these several times in a row would be a bug: stop rather than spin.
            let shrank = self.halves[idx(dir)].buf.len() < held;
            stalls = if n == 0 && !shrank { stalls + 1 } else { 0 };
            if stalls > 4 {
                debug_assert!(false, "http parser made no progress");
                break;
            }
        }
    }

    fn step(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) -> usize {
        let i = idx(dir);
        match &mut self.halves[i].phase {
            Phase::Start { resync } => {
                let resync = *resync;
                self.step_start(ctx, conn, dir, data, ts, resync)
            }
            Phase::Head => self.step_head(ctx, conn, dir, data, ts),
            Phase::Body(reader) => {
                let (n, progress) = reader.feed(data);
                match progress {
                    Progress::More => {}
                    Progress::Done => self.finish_message(ctx, conn, dir, ts, true, None),
                    Progress::Invalid => {
                        self.finish_message(ctx, conn, dir, ts, false, Some(Anomaly::InvalidChunk));
                        self.halves[i].resync(true);
                    }
                }
                n
            }
            Phase::AwaitSwitch { .. } => {
                let h = &mut self.halves[i];
                let room = ctx.limits.max_head_bytes.saturating_sub(h.held.len());
                let take = room.min(data.len());
                h.held
                    .extend_from_slice(data.get(..take).unwrap_or_default());
                if take < data.len() {
                    h.held_lost = true;
                    ctx.counters.tunnel_bytes += (data.len() - take) as u64;
                }
                data.len()
            }
            Phase::TunnelProbe => self.step_tunnel_probe(ctx, conn, data, ts),
            Phase::Tunnel => {
                ctx.counters.tunnel_bytes += data.len() as u64;
                // Empty lines (a stray line end after the 2xx) still let the other side
                // start strictly if the tunnel turns out to carry HTTP.
                let h = &mut self.halves[i];
                h.tunnelled |= data.iter().any(|&b| !matches!(b, b'\r' | b'\n'));
                data.len()
            }
            Phase::Ended => data.len(),
        }
    }

    fn step_start(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
        resync: bool,
    ) -> usize {
        let i = idx(dir);
        let request = i == REQ;
        let max_head = ctx.limits.max_head_bytes;
        // Resyncing requests: the offset where the server's ACKs say a request starts.
        let boundary = match (request && resync, self.req_boundary, self.at[REQ]) {
            (true, Some(b), Some(at)) => b.checked_sub(at),
            _ => None,
        };
        let mut j = 0usize;
        while let Some(&b) = data.get(j) {
            if boundary == Some(j as u64) {
                // A request line may start here even after a token byte. A candidate that
                // began before it and does not start like a method (uppercase, as every
                // registered one) is the tail of a lost body: dropped.
                let h = &mut self.halves[REQ];
                if !h.buf.first().is_some_and(u8::is_ascii_uppercase) {
                    ctx.counters.resync_skipped_bytes += h.buf.len() as u64;
                    h.reset_candidate();
                }
                h.at_line_start = true;
            }
            if self.halves[i].buf.is_empty() {
                if !resync && matches!(b, b'\r' | b'\n') {
                    // Empty lines before a start line are ignored (RFC 9112 §2.2).
                    j += 1;
                    continue;
                }
                if request {
                    if let Some(depth) = self.halves[REQ].after09.take() {
                        // Bytes right after an HTTP/0.9-looking line: its field lines?
                        let h = &mut self.halves[REQ];
                        h.first_ts = ts;
                        h.enter_head(HeadKind::Trailer09(depth));
                        return j;
                    }
                }
                if !resync
                    && !request
                    && self
                        .front_waiting()
                        .is_some_and(|e| e.http09 && !e.is_tombstone())
                {
                    self.start_http09_response(ctx, ts);
                    return j;
                }
                let h = &mut self.halves[i];
                if resync && request && !h.at_line_start {
                    ctx.counters.resync_skipped_bytes += 1;
                    h.at_line_start = !head::is_tchar(b);
                    j += 1;
                    continue;
                }
                h.first_ts = ts;
                h.first_off = self.at[i].map(|a| a + j as u64);
                h.first_ack = if request {
                    // No response byte delivered yet: the client had received none of
                    // the response stream as seen here (its offset 0).
                    self.req_ack.or((self.delivered[RESP] == 0).then_some(0))
                } else {
                    self.resp_ack
                };
            }
            let h = &mut self.halves[i];
            let m = h.matcher.feed(b);
            match m {
                Match::NeedMore if h.buf.len() < max_head => {
                    h.buf.push(b);
                    j += 1;
                }
                Match::NeedMore if !resync => {
                    // A start line longer than the head limit.
                    self.interrupt_head(ctx, conn, dir, ts, Some(Anomaly::HeadTooLarge));
                    return j;
                }
                Match::Accept => {
                    h.buf.push(b);
                    h.scanner = HeadScanner::default();
                    let _ = h.scanner.scan(&h.buf);
                    h.phase = Phase::Head;
                    return j + 1;
                }
                Match::Accept09 if request && !resync => {
                    h.buf.push(b);
                    let get = h.matcher.is_get();
                    let target = second_word(&h.buf).unwrap_or_default();
                    if target.starts_with(b"HTTP/") || (!get && !target.starts_with(b"/")) {
                        // `OPTIONS HTTP/1.1`: the target is missing, not the version. A
                        // version-less line with another method than GET is taken as
                        // HTTP/0.9 (as Zeek does) only with an origin-form target, so
                        // that any two words of text are not a request.
                        ctx.counters.parse_errors += 1;
                        h.enter_head(HeadKind::Malformed);
                    } else {
                        self.request_head_09(ctx, conn, ts, get);
                    }
                    return j + 1;
                }
                Match::Fail
                    if request && !resync && head::is_head_text(b) && h.buf.len() < max_head =>
                {
                    // At a message boundary, a text line that is not a request line:
                    // read on as a head; kept as a malformed request only if field lines
                    // and an empty line follow (see `odd_head_complete`).
                    ctx.counters.parse_errors += 1;
                    h.buf.push(b);
                    h.enter_head(HeadKind::Malformed);
                    return j + 1;
                }
                _ => {
                    // Not a start line here.
                    let candidate = h.buf.len();
                    ctx.counters.resync_skipped_bytes += candidate as u64;
                    h.reset_candidate();
                    if !resync {
                        ctx.counters.parse_errors += 1;
                        h.phase = Phase::Start { resync: true };
                        h.at_line_start = false;
                    }
                    if candidate > 0 && !request {
                        // `HTTP/1.` has no repeated prefix: the failing byte may itself
                        // start a status line.
                        return j;
                    }
                    ctx.counters.resync_skipped_bytes += 1;
                    h.at_line_start = !head::is_tchar(b);
                    j += 1;
                    if !resync {
                        return j;
                    }
                }
            }
        }
        j
    }

    fn step_head(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) -> usize {
        let i = idx(dir);
        let max_head = ctx.limits.max_head_bytes;
        let h = &mut self.halves[i];
        if h.head_kind != HeadKind::Normal {
            return self.step_odd_head(ctx, conn, data, ts);
        }
        match h.scanner.scan(data) {
            Some(n) if h.buf.len() + n <= max_head => {
                h.buf.extend_from_slice(data.get(..n).unwrap_or_default());
                self.head_complete(ctx, conn, dir, ts);
                n
            }
            found => {
                let room = max_head.saturating_sub(h.buf.len());
                if found.is_some() || data.len() > room {
                    h.buf
                        .extend_from_slice(data.get(..room).unwrap_or_default());
                    self.interrupt_head(ctx, conn, dir, ts, Some(Anomaly::HeadTooLarge));
                    room
                } else {
                    h.buf.extend_from_slice(data);
                    data.len()
                }
            }
        }
    }

    /// `step_head` for a `Malformed` or `Trailer09` head: only text may continue it, and
    /// it must end within `max_head_bytes`; otherwise it is abandoned.
    fn step_odd_head(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        data: &[u8],
        ts: Timestamp,
    ) -> usize {
        let max_head = ctx.limits.max_head_bytes;
        let h = &mut self.halves[REQ];
        let text = data
            .iter()
            .position(|&b| !head::is_head_text(b))
            .unwrap_or(data.len());
        let room = max_head.saturating_sub(h.buf.len());
        let view = data.get(..text.min(room)).unwrap_or_default();
        match h.scanner.scan(view) {
            Some(n) => {
                h.buf.extend_from_slice(view.get(..n).unwrap_or_default());
                self.odd_head_complete(ctx, conn, ts);
                n
            }
            None if view.len() == data.len() => {
                h.buf.extend_from_slice(view);
                view.len()
            }
            None => {
                // A non-text byte, or longer than a head may be: not a head.
                h.buf.extend_from_slice(view);
                self.abandon_odd_head(ctx, conn, ts);
                view.len()
            }
        }
    }

    /// A `Malformed` or `Trailer09` head ended with its empty line.
    fn odd_head_complete(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp) {
        let max_headers = ctx.limits.max_headers;
        let h = &self.halves[REQ];
        let head_len = h.buf.len() as u64;
        match h.head_kind {
            HeadKind::Malformed => {
                let lf = h
                    .buf
                    .iter()
                    .position(|&b| b == b'\n')
                    .unwrap_or(h.buf.len());
                let fields = h.buf.get(lf + 1..).unwrap_or_default();
                let parsed = head::field_lines_plausible(fields)
                    .then(|| head::parse_malformed_request(&h.buf, max_headers))
                    .flatten();
                let Some(p) = parsed else {
                    return self.abandon_odd_head(ctx, conn, ts);
                };
                self.halves[REQ].reset_candidate();
                if p.too_many_headers {
                    // Same as a well-formed head over the limit: cut, flagged.
                    let mut p = p;
                    p.anomalies.push(Anomaly::HeadTooLarge);
                    p.anomalies.push(Anomaly::RequestInterrupted);
                    ctx.counters.head_too_large += 1;
                    ctx.counters.interrupted_messages += 1;
                    self.request_head(ctx, conn, p, head_len, ts, false);
                    self.halves[REQ].resync(false);
                    return;
                }
                self.request_head(ctx, conn, p, head_len, ts, true);
            }
            HeadKind::Trailer09(depth) => {
                let parsed = head::field_lines_plausible(&h.buf)
                    .then(|| head::parse_field_lines(&h.buf, max_headers))
                    .flatten();
                let Some(p) = parsed else {
                    return self.abandon_odd_head(ctx, conn, ts);
                };
                let h = &mut self.halves[REQ];
                h.reset_candidate();
                h.phase = Phase::Start { resync: false };
                if let Some(e) = self.entry_mut(depth) {
                    if let Some(r) = e.request.as_mut() {
                        r.headers.extend(p.headers);
                        r.head_len += head_len;
                        r.last_ts = ts;
                    }
                    for a in p.anomalies {
                        add_anomaly(&mut e.req_anomalies, a);
                    }
                    add_anomaly(&mut e.req_anomalies, Anomaly::MalformedRequestLine);
                }
            }
            HeadKind::Normal => {}
        }
    }

    /// The `Malformed` or `Trailer09` head in progress is not one: a malformed line's
    /// bytes after its first line are looked at again for a request line (resync); bytes
    /// after an HTTP/0.9 line that are not field lines are parsed as usual.
    fn abandon_odd_head(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp) {
        let h = &mut self.halves[REQ];
        let kind = h.head_kind;
        let buf = std::mem::take(&mut h.buf);
        h.reset_candidate();
        match kind {
            HeadKind::Malformed => {
                let cut = buf
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(buf.len(), |p| p + 1);
                ctx.counters.resync_skipped_bytes += cut as u64;
                h.resync(true);
                self.feed(
                    ctx,
                    conn,
                    Direction::ToServer,
                    buf.get(cut..).unwrap_or_default(),
                    ts,
                );
            }
            HeadKind::Trailer09(_) | HeadKind::Normal => {
                h.phase = Phase::Start { resync: false };
                self.feed(ctx, conn, Direction::ToServer, &buf, ts);
            }
        }
    }

    // ---------------------------------------------------------------- heads

    fn parse(&self, ctx: &mut HttpCtx, request: bool) -> Option<ParsedHead> {
        let i = if request { REQ } else { RESP };
        let buf = &self.halves[i].buf;
        match head::parse_head(buf, request, ctx.limits.max_headers) {
            Some(p) => Some(p),
            None => {
                ctx.counters.parse_errors += 1;
                head::parse_head_lenient(buf, request, ctx.limits.max_headers)
            }
        }
    }

    fn head_complete(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, dir: Direction, ts: Timestamp) {
        let request = idx(dir) == REQ;
        let Some(parsed) = self.parse(ctx, request) else {
            // Matched a start line but the head is unusable: drop it and resync.
            ctx.counters.resync_skipped_bytes += self.halves[idx(dir)].buf.len() as u64;
            if !request {
                self.lose_front_response(ctx, ts);
            }
            self.halves[idx(dir)].resync(true);
            return;
        };
        if parsed.too_many_headers {
            self.interrupt_head(ctx, conn, dir, ts, Some(Anomaly::HeadTooLarge));
            return;
        }
        let head_len = self.halves[idx(dir)].buf.len() as u64;
        self.halves[idx(dir)].reset_candidate();
        if request {
            self.request_head(ctx, conn, parsed, head_len, ts, true);
        } else {
            self.response_head(ctx, conn, parsed, head_len, ts, true);
        }
    }

    /// A request head: a new entry, then its body (or none).
    fn request_head(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        p: ParsedHead,
        head_len: u64,
        ts: Timestamp,
        complete: bool,
    ) {
        ctx.counters.requests += 1;
        let mut anomalies = p.anomalies;
        let framing = if complete {
            head::body_framing(&p.headers, true, &mut anomalies)
        } else {
            Framing::None
        };
        let may_switch = complete
            && (p.method.eq_ignore_ascii_case("CONNECT")
                || (header(&p.headers, "upgrade").is_some()
                    && p.version != Some(HttpVersion::Http10)));
        let codings = head::content_codings(&p.headers);
        let body = Body {
            content_encoding: codings.clone(),
            ..Body::default()
        };
        let h = &mut self.halves[REQ];
        let request = Request {
            method: p.method.clone(),
            target: p.target,
            version: p.version.unwrap_or(HttpVersion::Http11),
            headers: p.headers,
            head_len,
            body,
            first_ts: h.first_ts,
            last_ts: ts,
            complete,
        };
        let depth = self.push_entry(ctx, conn, p.method, request, anomalies, false, ts);
        let h = &mut self.halves[REQ];
        h.owner = Owner::Entry(depth);
        h.body_gap = false;
        match framing {
            Framing::None => {
                h.phase = Phase::Start { resync: false };
                self.request_done(ctx, conn, depth, None, complete, ts);
                if may_switch {
                    self.halves[REQ].phase = Phase::AwaitSwitch { depth };
                }
            }
            f => {
                let mut reader =
                    BodyReader::new(f, ctx.limits.max_body_keep, ctx.limits.max_head_bytes);
                reader.body.content_encoding = codings;
                self.halves[REQ].phase = Phase::Body(Box::new(reader));
                self.halves[REQ].switch_after = may_switch;
            }
        }
    }

    /// `GET /path` without a version: an HTTP/0.9 request, answered by raw bytes to close.
    /// Another method (`POST /x`) is taken the same way, as Zeek does, and flagged: HTTP/0.9
    /// has only GET.
    fn request_head_09(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp, get: bool) {
        let h = &mut self.halves[REQ];
        let line = String::from_utf8_lossy(&h.buf).into_owned();
        let head_len = h.buf.len() as u64;
        h.reset_candidate();
        let mut words = line.trim().split(' ').filter(|s| !s.is_empty());
        let method = words.next().unwrap_or("GET").to_string();
        let target = words.next().unwrap_or("").to_string();
        let anomalies = if get {
            Vec::new()
        } else {
            vec![Anomaly::MalformedRequestLine]
        };
        let request = Request {
            method: method.clone(),
            target,
            version: HttpVersion::Http09,
            headers: Vec::new(),
            head_len,
            body: Body::default(),
            first_ts: h.first_ts,
            last_ts: ts,
            complete: true,
        };
        ctx.counters.requests += 1;
        let depth = self.push_entry(ctx, conn, method, request, anomalies, true, ts);
        self.halves[REQ].phase = Phase::Start { resync: false };
        self.request_done(ctx, conn, depth, None, true, ts);
        self.halves[REQ].after09 = Some(depth);
    }

    /// Adds an entry, making room at `max_pending_requests` by exporting the oldest.
    #[allow(clippy::too_many_arguments)]
    fn push_entry(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        method: String,
        request: Request,
        req_anomalies: Vec<Anomaly>,
        http09: bool,
        ts: Timestamp,
    ) -> u32 {
        let max = ctx.limits.max_pending_requests.max(1);
        while self.queue.len() >= max {
            let Some(mut old) = self.queue.pop_front() else {
                break;
            };
            ctx.counters.pending_limit_hits += 1;
            if old.is_tombstone() {
                self.skip_responses += 1;
                continue;
            }
            if old.response.is_none() && !old.resp_done {
                // Its response, if it comes, is skipped rather than mis-paired.
                self.skip_responses += 1;
                old.unanswered = Some(Unanswered::PendingLimit);
            } else if let Some(r) = old.response.as_mut() {
                if !old.resp_done {
                    r.complete = false;
                    add_anomaly(&mut old.resp_anomalies, Anomaly::ResponseInterrupted);
                    ctx.counters.interrupted_messages += 1;
                }
            }
            self.emit(ctx, conn, old, ts);
        }
        let client_ack = self.halves[REQ].first_ack;
        let clean_send = self.queue.iter().all(|e| e.resp_done)
            && matches!(self.halves[RESP].phase, Phase::Start { .. })
            && (!self.resp_broken || client_ack.is_some_and(|c| c >= self.delivered[RESP]));
        self.depth = self.depth.saturating_add(1);
        if self.queue.capacity() == 0 {
            // Most connections never pipeline: room for one entry, not the four (2.5 KiB)
            // a first push would allocate; pipelining grows it as usual.
            self.queue.reserve_exact(1);
        }
        self.queue.push_back(Entry {
            depth: self.depth,
            method,
            request: Some(request),
            req_done: false,
            req_anomalies,
            interim: Vec::new(),
            response: None,
            resp_done: false,
            resp_anomalies: Vec::new(),
            unanswered: None,
            http09,
            req_start: self.halves[REQ].first_off,
            client_ack,
            clean_send,
        });
        self.depth
    }

    /// Pairs a response head with the oldest waiting entry, unless its ACK says it was
    /// sent before any byte of that request reached the server (see `ack_rules_out`).
    /// Returns the owner, the request method (for framing), and whether the response is
    /// late (its request timed out).
    fn response_owner(
        &mut self,
        ctx: &mut HttpCtx,
        interim: bool,
    ) -> (Owner, Option<String>, bool) {
        if self.skip_responses > 0 {
            return (Owner::Discard, None, true);
        }
        let ack = self.halves[RESP].first_ack;
        let resp_lost = !interim && std::mem::take(&mut self.resp_lost);
        let front = self.front_waiting();
        let ruled_out = front.is_some_and(|e| Self::ack_rules_out(ack, e));
        match front {
            Some(e) if e.is_tombstone() && !ruled_out => {
                (Owner::Discard, Some(e.method.clone()), true)
            }
            Some(e) if !ruled_out => {
                let (depth, method) = (e.depth, e.method.clone());
                // Request bytes were lost before this request, where the server may have
                // received a request that this response answers (the ACK does not rule
                // it out: pipelining, or no ACK).
                let before = e.req_start.is_some_and(|s| {
                    self.lost_span
                        .is_some_and(|(from, to)| to <= s && ack.is_none_or(|a| from < a))
                });
                // The lost bytes began inside this request, which was cut (a complete
                // request has no such gap: one inside a body of known length is
                // absorbed), and the server had them all when it answered: they were this
                // request's own. A request pipelined into them is not looked for.
                let own = !interim
                    && e.req_start.is_some_and(|s| {
                        self.lost_span
                            .is_some_and(|(from, to)| from >= s && ack.is_some_and(|a| a >= to))
                    })
                    && !(e.req_done && e.request.as_ref().is_some_and(|r| r.complete));
                if own {
                    self.lost_span = None;
                }
                if before && !interim {
                    if resp_lost {
                        // The response stream lost bytes too since the last response:
                        // the lost request's response is taken to be among them.
                        self.lost_span = None;
                        ctx.counters.lost_pairs_balanced += 1;
                    } else if let Some(e) = self.entry_mut(depth) {
                        // Kept: until a response shows up for the lost request (ruled out
                        // for every waiting one), later pairings may be shifted too.
                        add_anomaly(&mut e.resp_anomalies, Anomaly::PairingUncertain);
                        ctx.counters.uncertain_pairings += 1;
                    }
                } else if ack.is_some() && !interim {
                    ctx.counters.responses_paired_by_ack += 1;
                }
                (Owner::Entry(depth), Some(method), false)
            }
            _ => {
                // No waiting request this can answer. If the request stream lost bytes
                // before the ACK (or the ACK is unknown), the answered request was most
                // likely among them.
                let lost = self
                    .lost_span
                    .is_some_and(|(s, _)| ack.is_none_or(|a| s < a));
                if lost && !interim {
                    self.lost_span = None;
                    (Owner::Lost, None, false)
                } else {
                    (Owner::Discard, None, false)
                }
            }
        }
    }

    /// Before pairing a response head that starts at response-stream offset `first_off`:
    /// the oldest waiting request W lost its response when the client's ACKs show it.
    /// W was sent when no earlier response was due (`clean_send`), having received the
    /// response stream up to `client_ack(W)`; the next request N was sent having received
    /// more (`client_ack(N) > client_ack(W)`): those bytes are W's response (or its
    /// start). A response head at or after `client_ack(N)` is therefore not W's: W's was
    /// lost (its head in a gap, or unparseable), and W is exported flagged
    /// `ResponseInterrupted` instead of taking a later response. Repeats for the next W.
    /// A pipelining client sends N before any of W's response arrives (equal ACKs): no
    /// conclusion, in-order pairing.
    fn lose_responses_shown_by_ack(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        ts: Timestamp,
        interim: bool,
    ) {
        let Some(start) = self.halves[RESP].first_off else {
            return;
        };
        if interim || self.skip_responses > 0 {
            return;
        }
        loop {
            let Some(w) = self.queue.iter().position(|e| !e.resp_done) else {
                return;
            };
            let (Some(e), Some(n)) = (self.queue.get(w), self.queue.get(w + 1)) else {
                return;
            };
            let shown = !e.is_tombstone()
                && e.response.is_none()
                && e.clean_send
                && match (e.client_ack, n.client_ack) {
                    (Some(cw), Some(cn)) => cn > cw && start >= cn,
                    _ => false,
                };
            if !shown {
                return;
            }
            ctx.counters.responses_lost_by_ack += 1;
            self.lose_front_response(ctx, ts);
            self.pop_done(ctx, conn, ts);
        }
    }

    /// A response to a lost request is framed as if the request were a GET; if it was a
    /// HEAD, its Content-Length announces a body that never comes (RFC 9110 §9.3.2) and
    /// the next response would be read as that body. The client's next request tells: it
    /// was sent having received exactly the response head (its ACK is where the body
    /// would start, and no body byte came), so the body is empty and the response ends
    /// there.
    fn end_lost_bodyless(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp) {
        let h = &self.halves[RESP];
        let Phase::Body(reader) = &h.phase else {
            return;
        };
        let bodyless = h.owner == Owner::Lost
            && reader.body.wire_len == 0
            && self.req_ack == Some(self.delivered[RESP]);
        if bodyless {
            ctx.counters.lost_responses_ended_by_ack += 1;
            self.finish_message(ctx, conn, Direction::ToClient, ts, true, None);
        }
    }

    /// A response whose first segment acknowledged the request stream only up to `ack`
    /// cannot answer a request starting at or after `ack`: the server had not received a
    /// byte of it (RFC 9112 §9.3: a server responds to a request it received). A response
    /// answers request k only if `ack > start(k)`; usually `ack >= end(k)`, but a server
    /// may answer before a request's body is in (100 Continue, an early 4xx). With an
    /// unknown ACK or start, nothing is ruled out (pairing in order).
    fn ack_rules_out(ack: Option<u64>, e: &Entry) -> bool {
        match (ack, e.req_start) {
            (Some(a), Some(s)) => a <= s,
            _ => false,
        }
    }

    /// The entry a response in progress belongs to.
    fn owner_entry(&mut self, owner: Owner) -> Option<&mut Entry> {
        match owner {
            Owner::Entry(d) => self.entry_mut(d),
            Owner::Lost => self.lost.as_deref_mut(),
            Owner::Discard => None,
        }
    }

    /// The placeholder entry for a response to a request the capture lost: no method, no
    /// target, flagged `RequestLost`. It takes the next depth: the lost request did occupy
    /// a position on the connection, and without pipelining (the request after it is sent
    /// once this response is in) that is its very position.
    fn lost_placeholder(&mut self, ts: Timestamp) -> Entry {
        self.depth = self.depth.saturating_add(1);
        Entry {
            depth: self.depth,
            method: String::new(),
            request: Some(Request {
                method: String::new(),
                target: String::new(),
                version: HttpVersion::Http11,
                headers: Vec::new(),
                head_len: 0,
                body: Body::default(),
                first_ts: ts,
                last_ts: ts,
                complete: false,
            }),
            req_done: true,
            req_anomalies: vec![Anomaly::RequestLost],
            interim: Vec::new(),
            response: None,
            resp_done: false,
            resp_anomalies: Vec::new(),
            unanswered: None,
            http09: false,
            req_start: None,
            client_ack: None,
            clean_send: false,
        }
    }

    fn response_head(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        p: ParsedHead,
        head_len: u64,
        ts: Timestamp,
        complete: bool,
    ) {
        let status = p.status;
        let interim = (100..200).contains(&status) && status != 101;
        self.resp_broken = false;
        self.lose_responses_shown_by_ack(ctx, conn, ts, interim);
        let (owner, method, late) = self.response_owner(ctx, interim);
        let method = method.unwrap_or_else(|| "GET".to_string());
        let first_ts = self.halves[RESP].first_ts;
        let version = p.version.unwrap_or(HttpVersion::Http11);
        if (100..200).contains(&status) && status != 101 {
            // Interim response (RFC 9110 §15.2): kept on the request, the final one follows.
            ctx.counters.interim_responses += 1;
            {
                if let Some(e) = self.owner_entry(owner) {
                    if e.interim.len() < MAX_INTERIM {
                        e.interim.push(Interim {
                            status,
                            reason: p.reason,
                            version,
                            headers: p.headers,
                            head_len,
                            ts,
                        });
                    }
                    for a in p.anomalies {
                        add_anomaly(&mut e.resp_anomalies, a);
                    }
                }
            }
            self.halves[RESP].phase = Phase::Start { resync: false };
            return;
        }
        ctx.counters.responses += 1;
        match owner {
            Owner::Discard if late => {
                ctx.counters.late_responses += 1;
                if self.skip_responses > 0 {
                    self.skip_responses -= 1;
                } else if let Some(e) = self.queue.iter_mut().find(|e| !e.resp_done) {
                    e.resp_done = true;
                }
                self.pop_done(ctx, conn, ts);
            }
            Owner::Discard => ctx.counters.orphan_responses += 1,
            Owner::Lost => {
                ctx.counters.responses_to_lost_requests += 1;
                let placeholder = self.lost_placeholder(first_ts);
                if let Some(old) = self.lost.replace(Box::new(placeholder)) {
                    // Unreachable: the previous response ended before this head began.
                    self.emit(ctx, conn, *old, ts);
                }
            }
            Owner::Entry(_) => {}
        }
        let connect = method.eq_ignore_ascii_case("CONNECT");
        let switch = complete && (status == 101 || (connect && (200..300).contains(&status)));
        let mut anomalies = p.anomalies;
        // RFC 9112 §6.3 items 1 and 2: no body after HEAD, 1xx, 204, 304, 2xx to CONNECT.
        let framing = if !complete
            || switch
            || method.eq_ignore_ascii_case("HEAD")
            || status < 200
            || status == 204
            || status == 304
            || (connect && (200..300).contains(&status))
        {
            Framing::None
        } else {
            head::body_framing(&p.headers, false, &mut anomalies)
        };
        let codings = head::content_codings(&p.headers);
        {
            if let Some(e) = self.owner_entry(owner) {
                let interim = std::mem::take(&mut e.interim);
                e.response = Some(Response {
                    status,
                    reason: p.reason,
                    version,
                    headers: p.headers,
                    head_len,
                    body: Body {
                        content_encoding: codings.clone(),
                        ..Body::default()
                    },
                    first_ts,
                    last_ts: ts,
                    complete,
                    interim,
                });
                for a in anomalies {
                    add_anomaly(&mut e.resp_anomalies, a);
                }
                if switch {
                    add_anomaly(&mut e.resp_anomalies, Anomaly::Tunnel);
                }
            }
        }
        let h = &mut self.halves[RESP];
        h.owner = owner;
        h.switch_after = switch;
        h.body_gap = false;
        match framing {
            Framing::None => {
                h.phase = Phase::Start { resync: false };
                self.response_done(ctx, conn, None, complete, ts);
            }
            f => {
                let keep = if owner == Owner::Discard {
                    0
                } else {
                    ctx.limits.max_body_keep
                };
                let mut reader = BodyReader::new(f, keep, ctx.limits.max_head_bytes);
                reader.body.content_encoding = codings;
                self.halves[RESP].phase = Phase::Body(Box::new(reader));
            }
        }
        // A CONNECT or Upgrade that did not switch: the held request bytes are requests.
        if !switch {
            self.release_held(ctx, conn, ts, false);
        }
    }

    fn start_http09_response(&mut self, ctx: &mut HttpCtx, ts: Timestamp) {
        let Some(depth) = self.front_waiting().map(|e| e.depth) else {
            return;
        };
        ctx.counters.responses += 1;
        if let Some(e) = self.entry_mut(depth) {
            e.response = Some(Response {
                status: 0,
                reason: String::new(),
                version: HttpVersion::Http09,
                headers: Vec::new(),
                head_len: 0,
                body: Body::default(),
                first_ts: ts,
                last_ts: ts,
                complete: false,
                interim: Vec::new(),
            });
        }
        let h = &mut self.halves[RESP];
        h.owner = Owner::Entry(depth);
        h.switch_after = false;
        h.body_gap = false;
        h.phase = Phase::Body(Box::new(BodyReader::new(
            Framing::Close,
            ctx.limits.max_body_keep,
            0,
        )));
    }

    /// The head in progress of `dir` cannot be completed (gap, close, limit): keep what
    /// parses of it, flag it, and resync.
    fn interrupt_head(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        extra: Option<Anomaly>,
    ) {
        let i = idx(dir);
        let request = i == REQ;
        if request && self.halves[REQ].head_kind != HeadKind::Normal {
            // Not known to be a request (or fields of one) until its empty line: dropped.
            let h = &mut self.halves[REQ];
            ctx.counters.resync_skipped_bytes += h.buf.len() as u64;
            h.resync(false);
            return;
        }
        let in_head = matches!(self.halves[i].phase, Phase::Head);
        let had_bytes = !self.halves[i].buf.is_empty();
        if extra == Some(Anomaly::HeadTooLarge) {
            ctx.counters.head_too_large += 1;
        }
        if had_bytes {
            ctx.counters.interrupted_messages += 1;
        }
        let parsed = if in_head {
            let buf = &self.halves[i].buf;
            head::parse_partial_head(buf, request, ctx.limits.max_headers)
        } else {
            None
        };
        let head_len = self.halves[i].buf.len() as u64;
        self.halves[i].resync(false);
        let interrupted = if request {
            Anomaly::RequestInterrupted
        } else {
            Anomaly::ResponseInterrupted
        };
        match parsed {
            Some(mut p) if request || p.status >= 200 || p.status == 101 => {
                p.anomalies.push(interrupted);
                if let Some(a) = extra {
                    p.anomalies.push(a);
                }
                if request {
                    self.request_head(ctx, conn, p, head_len, ts, false);
                } else {
                    self.response_head(ctx, conn, p, head_len, ts, false);
                }
            }
            // A cut interim response: the final one may still be found by resync.
            Some(_) => {}
            None if !request && had_bytes => self.lose_front_response(ctx, ts),
            None => {}
        }
        let h = &mut self.halves[i];
        if !matches!(h.phase, Phase::Ended) {
            h.resync(false);
        }
        self.pop_done(ctx, conn, ts);
    }

    /// The response to the oldest waiting request was lost (its start line is missing):
    /// that request gets no response, flagged, so later responses pair correctly.
    fn lose_front_response(&mut self, ctx: &mut HttpCtx, _ts: Timestamp) {
        if self.skip_responses > 0 {
            self.skip_responses -= 1;
            return;
        }
        if let Some(e) = self.queue.iter_mut().find(|e| !e.resp_done) {
            e.resp_done = true;
            if !e.is_tombstone() {
                add_anomaly(&mut e.resp_anomalies, Anomaly::ResponseInterrupted);
                ctx.counters.interrupted_messages += 1;
            }
        }
    }

    // ---------------------------------------------------------------- message ends

    /// The body in progress of `dir` ended (`complete`) or was cut short.
    fn finish_message(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        complete: bool,
        extra: Option<Anomaly>,
    ) {
        let i = idx(dir);
        let phase = std::mem::replace(&mut self.halves[i].phase, Phase::Start { resync: false });
        let Phase::Body(reader) = phase else {
            self.halves[i].phase = phase;
            return;
        };
        if i == REQ {
            let depth = match self.halves[REQ].owner {
                Owner::Entry(d) => d,
                Owner::Lost | Owner::Discard => return,
            };
            self.request_done(ctx, conn, depth, Some((*reader, extra)), complete, ts);
            if self.halves[REQ].switch_after && complete {
                self.halves[REQ].switch_after = false;
                if matches!(self.halves[REQ].phase, Phase::Start { .. }) {
                    self.halves[REQ].phase = Phase::AwaitSwitch { depth };
                }
            }
        } else {
            self.response_done(ctx, conn, Some((*reader, extra)), complete, ts);
        }
    }

    /// Turns a finished body reader into the message's `Body`: anomalies, counters and
    /// content decoding.
    fn finish_body(
        limits: &HttpLimits,
        counters: &mut HttpCounters,
        reader: BodyReader,
        complete: bool,
        gap: bool,
        anomalies: &mut Vec<Anomaly>,
    ) -> Body {
        if reader.bare_lf {
            add_anomaly(anomalies, Anomaly::BareLf);
        }
        if reader.obs_fold {
            add_anomaly(anomalies, Anomaly::ObsFold);
        }
        if gap {
            add_anomaly(anomalies, Anomaly::BodyGap);
        }
        if reader.shed && reader.body.truncated {
            add_anomaly(anomalies, Anomaly::MemoryLimit);
        }
        let mut body = reader.body;
        if body.truncated {
            counters.bodies_truncated += 1;
            add_anomaly(anomalies, Anomaly::BodyTruncated);
        }
        let encoded = body.content_encoding.iter().any(|c| c != "identity");
        if encoded && body.len > 0 {
            body.decoded = if !complete {
                Decoded::Failed {
                    reason: "body incomplete".to_string(),
                }
            } else if body.missing > 0 {
                Decoded::Failed {
                    reason: format!("body has {} missing bytes", body.missing),
                }
            } else if body.truncated {
                Decoded::Failed {
                    reason: format!(
                        "body larger than the keep limit of {} bytes",
                        limits.max_body_keep
                    ),
                }
            } else {
                let out = decode_detailed(
                    &body.data,
                    &body.content_encoding,
                    limits.max_body_keep,
                    limits.max_decoded_bytes,
                    limits.max_decode_layers,
                );
                if out.limit_hit {
                    counters.decode_limit_hits += 1;
                }
                if let Decoded::Failed { reason } = &out.decoded {
                    counters.decode_failures += 1;
                    add_anomaly(anomalies, Anomaly::DecodeFailed(reason.clone()));
                } else if let Some(reason) = out.stream_truncated {
                    counters.decode_failures += 1;
                    add_anomaly(anomalies, Anomaly::DecodeFailed(reason));
                }
                out.decoded
            };
        }
        body
    }

    fn request_done(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        depth: u32,
        reader: Option<(BodyReader, Option<Anomaly>)>,
        complete: bool,
        ts: Timestamp,
    ) {
        let gap = std::mem::take(&mut self.halves[REQ].body_gap);
        let limits = ctx.limits.clone();
        let Some(e) = self.entry_mut(depth) else {
            return;
        };
        let mut anomalies = std::mem::take(&mut e.req_anomalies);
        if let Some((reader, extra)) = reader {
            if let Some(a) = extra {
                add_anomaly(&mut anomalies, a);
            }
            let body = Self::finish_body(
                &limits,
                &mut ctx.counters,
                reader,
                complete,
                gap,
                &mut anomalies,
            );
            if let Some(r) = e.request.as_mut() {
                r.body = body;
            }
        }
        if let Some(r) = e.request.as_mut() {
            r.last_ts = ts;
            if !complete {
                r.complete = false;
                if !anomalies.contains(&Anomaly::RequestInterrupted) {
                    anomalies.push(Anomaly::RequestInterrupted);
                    ctx.counters.interrupted_messages += 1;
                }
            } else {
                r.complete = !gap;
            }
        }
        e.req_anomalies = anomalies;
        e.req_done = true;
        self.pop_done(ctx, conn, ts);
    }

    fn response_done(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        reader: Option<(BodyReader, Option<Anomaly>)>,
        complete: bool,
        ts: Timestamp,
    ) {
        if !complete {
            // Cut short: its real end is unknown (see `Entry::clean_send`).
            self.resp_broken = true;
        }
        let h = &mut self.halves[RESP];
        let gap = std::mem::take(&mut h.body_gap);
        let switch = std::mem::take(&mut h.switch_after);
        let owner = h.owner;
        h.owner = Owner::Discard;
        {
            let limits = ctx.limits.clone();
            if let Some(e) = self.owner_entry(owner) {
                let mut anomalies = std::mem::take(&mut e.resp_anomalies);
                if let Some((reader, extra)) = reader {
                    if let Some(a) = extra {
                        add_anomaly(&mut anomalies, a);
                    }
                    let body = Self::finish_body(
                        &limits,
                        &mut ctx.counters,
                        reader,
                        complete,
                        gap,
                        &mut anomalies,
                    );
                    if let Some(r) = e.response.as_mut() {
                        r.body = body;
                    }
                }
                if let Some(r) = e.response.as_mut() {
                    r.last_ts = ts;
                    r.complete = complete && !gap;
                    if !complete && !anomalies.contains(&Anomaly::ResponseInterrupted) {
                        anomalies.push(Anomaly::ResponseInterrupted);
                        ctx.counters.interrupted_messages += 1;
                    }
                }
                e.resp_anomalies = anomalies;
                e.resp_done = true;
            }
        }
        if owner == Owner::Lost {
            if let Some(e) = self.lost.take() {
                self.emit(ctx, conn, *e, ts);
            }
        }
        if switch {
            // Plain HTTP may follow a CONNECT's 2xx (a proxy chain, or a client speaking
            // cleartext through the tunnel): Suricata parses it as HTTP; so does this.
            let connect = match owner {
                Owner::Entry(d) => self
                    .entry_mut(d)
                    .is_some_and(|e| e.method.eq_ignore_ascii_case("CONNECT")),
                Owner::Lost | Owner::Discard => false,
            };
            self.enter_tunnel(ctx, conn, ts, connect);
        }
        self.pop_done(ctx, conn, ts);
    }

    /// 101 Switching Protocols or a 2xx to CONNECT: both directions carry another
    /// protocol from here on (RFC 9110 §9.3.6, §15.2.2). `probe`: a CONNECT tunnel,
    /// whose first client bytes may turn out to be HTTP (`TunnelProbe`).
    fn enter_tunnel(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp, probe: bool) {
        ctx.counters.tunnels += 1;
        let resp = &mut self.halves[RESP];
        resp.reset_candidate();
        resp.tunnelled = false;
        if !matches!(resp.phase, Phase::Ended) {
            resp.phase = Phase::Tunnel;
        }
        let req = &mut self.halves[REQ];
        let held = std::mem::take(&mut req.held);
        let lost = std::mem::take(&mut req.held_lost);
        req.reset_candidate();
        if matches!(req.phase, Phase::Ended) {
            ctx.counters.tunnel_bytes += held.len() as u64;
        } else if probe && !lost {
            req.phase = Phase::TunnelProbe;
            self.feed(ctx, conn, Direction::ToServer, &held, ts);
        } else {
            ctx.counters.tunnel_bytes += held.len() as u64;
            req.phase = Phase::Tunnel;
        }
    }

    /// `TunnelProbe`: feeds the request-line matcher until it decides. A request line:
    /// both directions parse HTTP again (the response side strictly if no tunnelled byte
    /// came from the server yet). Anything else: a tunnel, as for TLS.
    fn step_tunnel_probe(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        data: &[u8],
        ts: Timestamp,
    ) -> usize {
        let max_head = ctx.limits.max_head_bytes;
        let h = &mut self.halves[REQ];
        let mut http = None;
        let mut used = data.len();
        // Only empty lines so far: they may precede a request line (RFC 9112 §2.2).
        let mut blank = h.held.iter().all(|&c| matches!(c, b'\r' | b'\n'));
        for (k, &b) in data.iter().enumerate() {
            if blank && matches!(b, b'\r' | b'\n') && h.held.len() < max_head {
                h.held.push(b);
                continue;
            }
            blank = false;
            match h.matcher.feed(b) {
                Match::NeedMore if h.held.len() < max_head => h.held.push(b),
                Match::Accept => {
                    h.held.push(b);
                    http = Some(true);
                    used = k + 1;
                    break;
                }
                _ => {
                    http = Some(false);
                    used = k;
                    break;
                }
            }
        }
        match http {
            None => {}
            Some(true) => {
                let held = std::mem::take(&mut h.held);
                h.reset_candidate();
                h.phase = Phase::Start { resync: false };
                let resp = &mut self.halves[RESP];
                if matches!(resp.phase, Phase::Tunnel) {
                    let resync = resp.tunnelled;
                    resp.phase = Phase::Start { resync };
                }
                ctx.counters.tunnels_with_http += 1;
                self.feed(ctx, conn, Direction::ToServer, &held, ts);
            }
            Some(false) => {
                ctx.counters.tunnel_bytes += h.held.len() as u64;
                h.held = Vec::new();
                h.reset_candidate();
                h.phase = Phase::Tunnel;
            }
        }
        used
    }

    /// The request side was holding bytes after a CONNECT/Upgrade request whose response
    /// did not switch protocols, or will never come (`force`: close, server FIN): they
    /// are requests after all.
    fn release_held(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp, force: bool) {
        let Phase::AwaitSwitch { depth } = self.halves[REQ].phase else {
            return;
        };
        let waiting = self
            .queue
            .iter()
            .any(|e| e.depth == depth && !e.is_tombstone() && e.response.is_none() && !e.resp_done);
        if waiting && !force {
            return;
        }
        let h = &mut self.halves[REQ];
        let held = std::mem::take(&mut h.held);
        let lost = std::mem::take(&mut h.held_lost);
        h.phase = Phase::Start { resync: lost };
        h.at_line_start = true;
        self.feed(ctx, conn, Direction::ToServer, &held, ts);
    }

    /// Emits finished entries from the front of the queue, in order.
    fn pop_done(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp) {
        while let Some(front) = self.queue.front() {
            let done = front.resp_done && (front.req_done || front.is_tombstone());
            if !done {
                break;
            }
            let Some(e) = self.queue.pop_front() else {
                break;
            };
            if !e.is_tombstone() {
                self.emit(ctx, conn, e, ts);
            }
        }
    }

    fn emit(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, e: Entry, ts: Timestamp) {
        let Some(request) = e.request else { return };
        let mut anomalies = Vec::new();
        if self.midstream {
            anomalies.push(Anomaly::MidStreamPickup);
        }
        for a in e.req_anomalies.into_iter().chain(e.resp_anomalies) {
            add_anomaly(&mut anomalies, a);
        }
        let mut response = e.response;
        if response.is_none() {
            if let Some(u) = e.unanswered {
                ctx.counters.unanswered += 1;
                add_anomaly(&mut anomalies, Anomaly::Unanswered(u));
            }
        }
        if let Some(r) = response.as_mut() {
            // Interim responses that came without a final one are not kept anywhere else.
            if r.interim.is_empty() && !e.interim.is_empty() {
                r.interim = e.interim;
            }
        }
        ctx.counters.transactions += 1;
        ctx.counters.anomalies += anomalies.len() as u64;
        ctx.out.push(Transaction {
            conn: conn.clone(),
            depth: e.depth,
            request,
            response,
            anomalies,
            completed_at: ts,
        });
    }

    // ---------------------------------------------------------------- gaps, ends, time

    /// A gap of `len` bytes in `dir`. Returns true when it lay inside a body of known
    /// length, or in bytes that are not HTTP messages (tunnel, ended direction): it cannot
    /// have hidden a whole message.
    fn gap(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
    ) -> bool {
        let i = idx(dir);
        if len == 0 {
            return true;
        }
        match &mut self.halves[i].phase {
            Phase::Body(reader) => {
                let close = reader.is_close_delimited();
                match reader.gap(len) {
                    GapEffect::Absorbed => {
                        ctx.counters.body_gaps += 1;
                        self.halves[i].body_gap = true;
                        true
                    }
                    GapEffect::Done { rest } => {
                        ctx.counters.body_gaps += 1;
                        self.halves[i].body_gap = true;
                        self.finish_message(ctx, conn, dir, ts, true, None);
                        rest == 0 || self.gap(ctx, conn, dir, rest, ts)
                    }
                    GapEffect::Broken => {
                        if close {
                            ctx.counters.body_gaps += 1;
                            self.halves[i].body_gap = true;
                        }
                        self.finish_message(ctx, conn, dir, ts, false, None);
                        self.halves[i].resync(true);
                        false
                    }
                }
            }
            Phase::Head => {
                self.interrupt_head(ctx, conn, dir, ts, None);
                self.halves[i].at_line_start = true;
                false
            }
            Phase::Start { resync } => {
                let resync = *resync;
                let h = &mut self.halves[i];
                let had_bytes = !h.buf.is_empty();
                if had_bytes {
                    ctx.counters.resync_skipped_bytes += h.buf.len() as u64;
                }
                if !resync && i == RESP {
                    // Between responses (or inside a status line): the lost bytes most
                    // likely held the response to the oldest waiting request.
                    if had_bytes || self.front_waiting().is_some_and(|e| e.response.is_none()) {
                        self.lose_front_response(ctx, ts);
                        self.pop_done(ctx, conn, ts);
                    }
                }
                self.halves[i].resync(true);
                false
            }
            Phase::AwaitSwitch { .. } => {
                self.halves[i].held_lost = true;
                false
            }
            Phase::TunnelProbe => {
                // The tunnel's first bytes are lost: what it carries stays unknown.
                let h = &mut self.halves[i];
                ctx.counters.tunnel_bytes += h.held.len() as u64;
                h.held = Vec::new();
                h.reset_candidate();
                h.phase = Phase::Tunnel;
                true
            }
            Phase::Tunnel | Phase::Ended => true,
        }
    }

    /// Direction `dir` ended: finish what the end delimits, interrupt what it cuts.
    /// `close_ends_body`: a close-delimited body is complete (FIN, RST).
    fn end_direction(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        close_ends_body: bool,
    ) {
        let i = idx(dir);
        match &self.halves[i].phase {
            Phase::Body(reader) => {
                let complete = close_ends_body && reader.is_close_delimited();
                self.finish_message(ctx, conn, dir, ts, complete, None);
            }
            Phase::Head => self.interrupt_head(ctx, conn, dir, ts, None),
            Phase::Start { resync } if !self.halves[i].buf.is_empty() => {
                let strict = !*resync;
                ctx.counters.resync_skipped_bytes += self.halves[i].buf.len() as u64;
                if i == RESP && strict {
                    self.lose_front_response(ctx, ts);
                }
            }
            _ => {}
        }
        let h = &mut self.halves[i];
        h.reset_candidate();
        if !matches!(h.phase, Phase::AwaitSwitch { .. }) {
            h.phase = Phase::Ended;
        }
    }

    /// Every request still waiting is answered no more.
    fn abandon_waiting(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        why: Unanswered,
        ts: Timestamp,
    ) {
        for e in self.queue.iter_mut() {
            if !e.resp_done {
                e.resp_done = true;
                if e.response.is_none() {
                    e.unanswered = Some(why);
                }
            }
        }
        self.skip_responses = 0;
        self.pop_done(ctx, conn, ts);
    }
}

impl StreamHandler for HttpConn {
    type Ctx = HttpCtx;

    fn on_data(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) {
        let i = idx(dir);
        if i == REQ {
            self.end_lost_bodyless(ctx, conn, ts);
        }
        let base = self.delivered[i];
        self.delivered[i] = base.saturating_add(data.len() as u64);
        self.feed_at(ctx, conn, dir, data, ts, Some(base));
        self.at[i] = None;
        self.resp_ack = None;
        self.req_ack = None;
    }

    /// A response's ACK says how much of the request stream the server had received when
    /// it sent the response (`ack_rules_out`); a request's ACK says how much of the
    /// response stream the client had received when it sent the request
    /// (`ack_shows_lost_response`).
    fn on_ack(&mut self, _ctx: &mut HttpCtx, _conn: &ConnInfo, dir: Direction, ack: u64) {
        if dir == Direction::ToClient {
            self.resp_ack = Some(ack);
            self.req_boundary = Some(self.req_boundary.map_or(ack, |b| b.max(ack)));
        } else {
            self.req_ack = Some(ack);
        }
    }

    fn on_gap(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
    ) {
        let i = idx(dir);
        let start = self.delivered[i];
        self.delivered[i] = start.saturating_add(len);
        self.resp_ack = None;
        self.req_ack = None;
        let absorbed = self.gap(ctx, conn, dir, len, ts);
        if i == RESP && !absorbed {
            self.resp_lost = true;
            self.resp_broken = true;
        }
        if i == REQ && !absorbed {
            // Outside a body of known length: whole requests may have been lost here.
            let end = start.saturating_add(len);
            self.lost_span = Some(self.lost_span.map_or((start, end), |(s, _)| (s, end)));
        }
    }

    /// The server's FIN ends close-delimited responses and means nothing more will be
    /// answered. The client's FIN only ends the request side: a half-closed connection
    /// can still carry the answers to requests already sent (RFC 9112 §9.6).
    fn on_fin(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, dir: Direction, ts: Timestamp) {
        self.end_direction(ctx, conn, dir, ts, true);
        if dir == Direction::ToClient {
            self.release_held(ctx, conn, ts, true);
            self.abandon_waiting(ctx, conn, Unanswered::ConnectionClosed, ts);
        }
    }

    fn on_close(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, reason: CloseReason, ts: Timestamp) {
        // RST after a close-delimited body is how many servers end it; idle, eviction and
        // end of capture say nothing about the body being complete.
        let ends_body = matches!(reason, CloseReason::Fin | CloseReason::Reset);
        self.release_held(ctx, conn, ts, true);
        self.end_direction(ctx, conn, Direction::ToServer, ts, ends_body);
        self.end_direction(ctx, conn, Direction::ToClient, ts, ends_body);
        let why = match reason {
            CloseReason::EndOfCapture => Unanswered::EndOfCapture,
            CloseReason::Evicted => Unanswered::Evicted,
            _ => Unanswered::ConnectionClosed,
        };
        self.abandon_waiting(ctx, conn, why, ts);
        if let Some(e) = self.lost.take() {
            // Its response was cut: `end_direction` above finished it unless it never had
            // a body reader (unreachable), so export it as it is.
            self.emit(ctx, conn, *e, ts);
        }
        // Anything left (requests still in progress were finished above) goes out now.
        while let Some(mut e) = self.queue.pop_front() {
            e.req_done = true;
            self.emit(ctx, conn, e, ts);
        }
        self.halves[REQ].phase = Phase::Ended;
        self.halves[RESP].phase = Phase::Ended;
    }

    /// Heap held: head buffers, bodies in progress, and every queued request and response.
    fn mem_bytes(&self) -> usize {
        let halves: usize = self
            .halves
            .iter()
            .map(|h| {
                let body = match &h.phase {
                    Phase::Body(r) => std::mem::size_of::<BodyReader>() + r.heap_bytes(),
                    _ => 0,
                };
                h.buf.capacity() + h.held.capacity() + body
            })
            .sum();
        std::mem::size_of::<Self>()
            + halves
            + self.queue.capacity() * std::mem::size_of::<Entry>()
            + self.queue.iter().map(Entry::heap_bytes).sum::<usize>()
    }

    /// The memory budget ran out: bodies in progress stop keeping bytes and the kept bytes
    /// of queued messages are dropped; every size stays exact, each message is flagged.
    fn shed_memory(&mut self, ctx: &mut HttpCtx) -> bool {
        let mut dropped = false;
        for h in self.halves.iter_mut() {
            if let Phase::Body(r) = &mut h.phase {
                dropped |= r.shed();
            }
        }
        for e in self.queue.iter_mut() {
            if let Some(r) = e.request.as_mut() {
                if r.body.drop_data() {
                    dropped = true;
                    add_anomaly(&mut e.req_anomalies, Anomaly::MemoryLimit);
                }
            }
            if let Some(r) = e.response.as_mut() {
                if r.body.drop_data() {
                    dropped = true;
                    add_anomaly(&mut e.resp_anomalies, Anomaly::MemoryLimit);
                }
            }
        }
        if dropped {
            ctx.counters.memory_limit_bodies_dropped += 1;
        }
        dropped
    }

    fn on_tick(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, now: Timestamp) {
        let timeout = ctx.limits.response_timeout;
        let mut expired = Vec::new();
        for e in self.queue.iter_mut() {
            let Some(r) = e.request.as_ref() else {
                continue;
            };
            if e.req_done && !e.resp_done && e.response.is_none() && now.since(r.last_ts) >= timeout
            {
                // Export now, keep a tombstone: the late response is framed by this
                // method (HEAD!) and skipped, not paired with the next request.
                let request = e.request.take();
                expired.push(Entry {
                    depth: e.depth,
                    method: e.method.clone(),
                    request,
                    req_done: true,
                    req_anomalies: std::mem::take(&mut e.req_anomalies),
                    interim: std::mem::take(&mut e.interim),
                    response: None,
                    resp_done: true,
                    resp_anomalies: std::mem::take(&mut e.resp_anomalies),
                    unanswered: Some(Unanswered::Timeout),
                    http09: e.http09,
                    req_start: e.req_start,
                    client_ack: e.client_ack,
                    clean_send: e.clean_send,
                });
            }
        }
        for e in expired {
            ctx.counters.response_timeouts += 1;
            self.emit(ctx, conn, e, now);
        }
        self.release_held(ctx, conn, now, false);
        self.pop_done(ctx, conn, now);
    }
}
