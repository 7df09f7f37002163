//! One direction of an HTTP/1.x connection (`Half`) and its framing up to the end of a
//! head: `Start` (looking for a start line; strict at a clean message boundary, tolerant
//! in resync), `Head` (the start line matched, waiting for the empty line), and the odd
//! request heads (a malformed request line, field lines after an HTTP/0.9 line).
//!
//! At a clean message boundary, a text line that is not a request line is read on as a
//! head and recorded as a request flagged `MalformedRequestLine` if field lines and an
//! empty line follow (Zeek logs such exchanges); otherwise it is skipped (resync). A
//! version-less line is HTTP/0.9 (any method with an origin-form target, as Zeek); field
//! lines right after it are kept on it.
//!
//! What a complete head becomes is `message.rs`'s; bodies are `body.rs`'s; the tunnel
//! phases are `tunnel.rs`'s. Both directions share this one type: the request-only
//! fields (`held`, `held_lost`, `head_kind`, `after09`) and the response-only one
//! (`switch_after`) are few, and one type keeps `HttpConn`'s size (and so its memory
//! accounting) as it was.

use std::ops::ControlFlow;

use crate::model::{Anomaly, ConnInfo, Direction};
use crate::time::Timestamp;

use super::body::BodyReader;
use super::conn::HttpConn;
use super::head::{self, HeadScanner, Match, StartMatcher};
use super::pairing::Owner;
use super::queue::add_anomaly;
use super::HttpCtx;

#[derive(Debug)]
pub(super) enum Phase {
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
pub(super) enum HeadKind {
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

/// One direction of the connection.
#[derive(Debug)]
pub(super) struct Half {
    pub(super) phase: Phase,
    /// The start-line candidate, then the head, bounded by `max_head_bytes`.
    pub(super) buf: Vec<u8>,
    pub(super) matcher: StartMatcher,
    pub(super) scanner: HeadScanner,
    /// Requests in resync: the next byte may start a request line (it follows a line end,
    /// a gap, or a byte that cannot be part of a method token, such as the stray byte of
    /// a TCP keep-alive probe).
    pub(super) at_line_start: bool,
    /// Packet time of the first byte of the message in progress.
    pub(super) first_ts: Timestamp,
    /// Stream offset of that byte, when known (not for bytes re-fed after being held).
    pub(super) first_off: Option<u64>,
    /// The ACK of the segment that carried that byte, as an offset of the other
    /// direction's stream, when the reassembler gave one (`StreamHandler::on_ack`).
    pub(super) first_ack: Option<u64>,
    /// The message in progress (request: its entry's depth; response: its owner).
    pub(super) owner: Owner,
    /// Response side: switch both directions to tunnel mode when this message ends.
    pub(super) switch_after: bool,
    /// The body in progress lost bytes to a gap.
    pub(super) body_gap: bool,
    /// Bytes of the message in progress had two different copies in the capture
    /// (`StreamHandler::on_overlap_conflict`): flagged `OverlapConflict` at its end.
    pub(super) overlap_conflict: bool,
    /// Request side, `AwaitSwitch`: bytes held (bounded by `max_head_bytes`).
    pub(super) held: Vec<u8>,
    /// Held bytes were lost (over the bound, or a gap): resync when they are released.
    pub(super) held_lost: bool,
    /// Request side: what the head in progress is.
    pub(super) head_kind: HeadKind,
    /// Bytes were skipped in `Tunnel` phase.
    pub(super) tunnelled: bool,
    /// Request side: the last request was an HTTP/0.9 line (entry depth); field lines
    /// right after it belong to it.
    pub(super) after09: Option<u32>,
}

impl Half {
    pub(super) fn new(request: bool, resync: bool) -> Self {
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
            overlap_conflict: false,
            held: Vec::new(),
            held_lost: false,
            head_kind: HeadKind::Normal,
            after09: None,
            tunnelled: false,
        }
    }

    pub(super) fn reset_candidate(&mut self) {
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

    pub(super) fn resync(&mut self, at_line_start: bool) {
        self.after09 = None;
        self.reset_candidate();
        self.phase = Phase::Start { resync: true };
        self.at_line_start = at_line_start;
    }

    /// Rule 4 of the pairing (docs/architecture.md): the server's ACKs say a request
    /// starts here. A request line may start here even after a token byte. A candidate
    /// that began before it and does not start like a method (uppercase, as every
    /// registered one) is the tail of a lost body: dropped.
    fn restart_at_boundary(&mut self, ctx: &mut HttpCtx) {
        if !self.buf.first().is_some_and(u8::is_ascii_uppercase) {
            ctx.counters.resync_skipped_bytes += self.buf.len() as u64;
            self.reset_candidate();
        }
        self.at_line_start = true;
    }

    /// The candidate (with `b`) is not a start line: it is skipped, and the direction
    /// resyncs. `Break(0)`: `b` is looked at again; otherwise `b` is skipped too.
    fn not_a_start_line(
        &mut self,
        ctx: &mut HttpCtx,
        b: u8,
        request: bool,
        resync: bool,
    ) -> ControlFlow<usize> {
        let candidate = self.buf.len();
        ctx.counters.resync_skipped_bytes += candidate as u64;
        self.reset_candidate();
        if !resync {
            ctx.counters.parse_errors += 1;
            self.phase = Phase::Start { resync: true };
            self.at_line_start = false;
        }
        if candidate > 0 && !request {
            // `HTTP/1.` has no repeated prefix: the failing byte may itself start a
            // status line.
            return ControlFlow::Break(0);
        }
        ctx.counters.resync_skipped_bytes += 1;
        self.at_line_start = !head::is_tchar(b);
        if resync {
            ControlFlow::Continue(())
        } else {
            ControlFlow::Break(1)
        }
    }
}

/// What a byte at `Start`, with no candidate begun, leads to.
enum Before {
    /// Skipped (an empty line, or a byte that cannot start a request in resync).
    Skip,
    /// Something else took over (an HTTP/0.9 response or trailer): step again.
    Stop,
    /// A candidate start line begins with it.
    Begin,
}

/// The second space-separated word of a request line (its target), line end excluded.
fn second_word(line: &[u8]) -> Option<&[u8]> {
    line.split(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .filter(|w| !w.is_empty())
        .nth(1)
}

/// What a direction's head buffer (`buf`) reserves when its first start line is accepted
/// (at most the head limit): most request and response heads are a few hundred bytes.
const FIRST_HEAD_CAPACITY: usize = 512;

/// What it reserves when its first candidate begins (at most the head limit): a request
/// line, without charging a connection whose bytes are not HTTP (a candidate that fails
/// at once) for a whole head.
const FIRST_LINE_CAPACITY: usize = 64;

impl HttpConn {
    /// `Start`: skips what cannot begin a message and feeds the start-line matcher until
    /// it decides. Returns the bytes consumed.
    pub(super) fn step_start(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
        resync: bool,
    ) -> usize {
        // Resyncing requests: the offset where the server's ACKs say a request starts.
        let boundary = if dir == Direction::ToServer && resync {
            self.pairing.request_boundary()
        } else {
            None
        };
        let mut j = 0usize;
        while let Some(&b) = data.get(j) {
            if boundary == Some(j as u64) {
                self.halves.to_server.restart_at_boundary(ctx);
            }
            if self.halves[dir].buf.is_empty() {
                match self.before_candidate(ctx, dir, b, ts, resync) {
                    Before::Skip => {
                        j += 1;
                        continue;
                    }
                    Before::Stop => return j,
                    Before::Begin => {
                        self.begin_candidate(dir, j, ts, ctx.limits.max_head_bytes);
                    }
                }
            }
            match self.start_byte(ctx, conn, dir, b, ts, resync) {
                ControlFlow::Continue(()) => j += 1,
                ControlFlow::Break(used) => return j + used,
            }
        }
        j
    }

    /// At `Start` with no candidate yet: what byte `b` is.
    fn before_candidate(
        &mut self,
        ctx: &mut HttpCtx,
        dir: Direction,
        b: u8,
        ts: Timestamp,
        resync: bool,
    ) -> Before {
        let request = dir == Direction::ToServer;
        if !resync && matches!(b, b'\r' | b'\n') {
            // Empty lines before a start line are ignored (RFC 9112 §2.2).
            return Before::Skip;
        }
        if request {
            if let Some(depth) = self.halves.to_server.after09.take() {
                // Bytes right after an HTTP/0.9-looking line: its field lines?
                let h = &mut self.halves.to_server;
                h.first_ts = ts;
                h.enter_head(HeadKind::Trailer09(depth));
                return Before::Stop;
            }
        }
        if !resync
            && !request
            && self
                .front_waiting()
                .is_some_and(|e| e.http09 && !e.is_tombstone())
        {
            self.start_http09_response(ctx, ts);
            return Before::Stop;
        }
        let h = &mut self.halves[dir];
        if resync && request && !h.at_line_start {
            ctx.counters.resync_skipped_bytes += 1;
            h.at_line_start = !head::is_tchar(b);
            return Before::Skip;
        }
        Before::Begin
    }

    /// The candidate begins at `data[j]`: its time, stream offset and ACK.
    fn begin_candidate(&mut self, dir: Direction, j: usize, ts: Timestamp, max_head: usize) {
        let first_off = self.pairing.at[dir].map(|a| a + j as u64);
        let first_ack = self.pairing.first_ack(dir);
        let h = &mut self.halves[dir];
        h.first_ts = ts;
        h.first_off = first_off;
        h.first_ack = first_ack;
        // Room for a start line at once (see `FIRST_HEAD_CAPACITY` for the rest).
        if h.buf.capacity() == 0 {
            h.buf.reserve_exact(FIRST_LINE_CAPACITY.min(max_head));
        }
    }

    /// Feeds `b` to the start-line matcher. `Continue`: `b` was taken, go on; `Break(n)`:
    /// stop after `n` more bytes (0 or 1).
    fn start_byte(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        b: u8,
        ts: Timestamp,
        resync: bool,
    ) -> ControlFlow<usize> {
        let request = dir == Direction::ToServer;
        let max_head = ctx.limits.max_head_bytes;
        let m = self.halves[dir].matcher.feed(b);
        if matches!(m, Match::Fail) && !request && !resync && self.bare_response_possible(b) {
            // Not a status line where the response to a waiting request starts: an
            // HTTP/0.9-style bare body (Zeek logs such replies with status 0). `b` is
            // looked at again, as body.
            let held = std::mem::take(&mut self.halves[dir].buf);
            self.halves[dir].reset_candidate();
            self.start_bare_response(ctx, ts, &held);
            return ControlFlow::Break(0);
        }
        let h = &mut self.halves[dir];
        match m {
            Match::NeedMore if h.buf.len() < max_head => {
                h.buf.push(b);
                ControlFlow::Continue(())
            }
            Match::NeedMore if !resync => {
                // A start line longer than the head limit.
                self.interrupt_head(ctx, conn, dir, ts, Some(Anomaly::HeadTooLarge));
                ControlFlow::Break(0)
            }
            Match::Accept => {
                h.buf.push(b);
                // A head's buffer is kept from message to message; once a start line
                // says a message is there, it takes the size most heads fit at once
                // instead of doubling up to it (a realloc and a copy each time, on every
                // new connection). Not before: a candidate that fails (any other
                // protocol's bytes) keeps its few bytes' worth, and the limit caps it.
                let first = FIRST_HEAD_CAPACITY.min(max_head);
                if h.buf.capacity() < first {
                    h.buf.reserve_exact(first - h.buf.len());
                }
                h.scanner = HeadScanner::default();
                let _ = h.scanner.scan(&h.buf);
                h.phase = Phase::Head;
                ControlFlow::Break(1)
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
                ControlFlow::Break(1)
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
                ControlFlow::Break(1)
            }
            _ => h.not_a_start_line(ctx, b, request, resync),
        }
    }

    /// A response starting with the candidate and `next` can be a bare (HTTP/0.9-style)
    /// body: a request waits for its response, and the bytes do not begin like a status
    /// line (`HTTP/`, a malformed status line stays a parse error).
    fn bare_response_possible(&self, next: u8) -> bool {
        let buf = &self.halves.to_client.buf;
        let mut start = buf.iter().copied().chain(std::iter::once(next));
        let looks_http = b"HTTP/"
            .iter()
            .all(|c| start.next().is_some_and(|x| x.eq_ignore_ascii_case(c)));
        !looks_http
            && self
                .front_waiting()
                .is_some_and(|e| !e.is_tombstone() && !e.http09)
    }

    pub(super) fn step_head(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) -> usize {
        let max_head = ctx.limits.max_head_bytes;
        let h = &mut self.halves[dir];
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
        let h = &mut self.halves.to_server;
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
        let h = &self.halves.to_server;
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
                self.halves.to_server.reset_candidate();
                if p.too_many_headers {
                    // Same as a well-formed head over the limit: cut, flagged.
                    let mut p = p;
                    p.anomalies.push(Anomaly::HeadTooLarge);
                    p.anomalies.push(Anomaly::RequestInterrupted);
                    ctx.counters.head_too_large += 1;
                    ctx.counters.interrupted_messages += 1;
                    self.request_head(ctx, conn, p, head_len, ts, false);
                    self.halves.to_server.resync(false);
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
                let h = &mut self.halves.to_server;
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
        let h = &mut self.halves.to_server;
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
}

#[cfg(test)]
mod tests {
    use crate::http::testing::{pair, pairs, Drive, REQ_A, RESP_A};
    use crate::model::{Anomaly, Direction::ToClient, Direction::ToServer, HttpVersion};

    /// A candidate that fails (another protocol's bytes) leaves a start line's room in the
    /// head buffer, never a head's; an accepted start line gets a head's room at once,
    /// never past the head limit.
    #[test]
    fn the_head_buffer_grows_to_a_head_only_for_a_start_line() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, b"\x16\x03\x01\x02\x00\x01");
        d.after_all(ToClient, b"SSH-2.0-OpenSSH_9.2\r\n");
        let caps = |d: &Drive| {
            [
                d.h.halves.to_server.buf.capacity(),
                d.h.halves.to_client.buf.capacity(),
            ]
        };
        assert!(
            caps(&d).iter().all(|&c| c <= super::FIRST_LINE_CAPACITY),
            "{:?}",
            caps(&d)
        );

        let mut d = Drive::new(false);
        d.after_all(ToServer, b"GET /a HTTP/1.1\r\nHo");
        assert_eq!(caps(&d)[0], super::FIRST_HEAD_CAPACITY);

        let limits = crate::http::HttpLimits {
            max_head_bytes: 200,
            ..Default::default()
        };
        let mut d = Drive::with_limits(false, limits);
        d.after_all(ToServer, b"GET /a HTTP/1.1\r\nHo");
        assert_eq!(caps(&d)[0], 200);
        d.after_all(ToServer, b"st: a\r\n\r\n");
        d.after_all(ToClient, RESP_A);
        let (out, _) = d.end();
        assert_eq!(pairs(&out), vec![pair("GET", "/a", 200)]);
    }

    #[test]
    fn empty_lines_before_a_start_line_are_ignored_at_a_boundary() {
        let mut d = Drive::new(false);
        let mut req = b"\r\n\r\n".to_vec();
        req.extend_from_slice(REQ_A);
        d.after_all(ToServer, &req);
        d.after_all(ToClient, RESP_A);
        let (out, ctx) = d.end();
        assert_eq!(pairs(&out), vec![pair("GET", "/a", 200)]);
        assert_eq!(ctx.counters.resync_skipped_bytes, 0);
        assert_eq!(ctx.counters.parse_errors, 0);
    }

    #[test]
    fn a_midstream_pickup_skips_to_the_next_line_start() {
        let mut d = Drive::new(true);
        let mut req = b"dy tail\r\n".to_vec();
        req.extend_from_slice(REQ_A);
        d.after_all(ToServer, &req);
        let mut resp = b"xx".to_vec();
        resp.extend_from_slice(RESP_A);
        d.after_all(ToClient, &resp);
        let (out, ctx) = d.end();
        assert_eq!(pairs(&out), vec![pair("GET", "/a", 200)]);
        assert!(out[0].anomalies.contains(&Anomaly::MidStreamPickup));
        assert_eq!(ctx.counters.resync_skipped_bytes, 9 + 2);
    }

    #[test]
    fn a_head_split_byte_by_byte_parses_as_whole() {
        let mut d = Drive::new(false);
        for b in REQ_A.chunks(1) {
            d.after_all(ToServer, b);
        }
        for b in RESP_A.chunks(1) {
            d.after_all(ToClient, b);
        }
        let (out, _) = d.end();
        assert_eq!(pairs(&out), vec![pair("GET", "/a", 200)]);
        assert_eq!(out[0].request.head_len, REQ_A.len() as u64);
    }

    #[test]
    fn a_text_line_that_is_not_a_request_line_is_a_malformed_request_if_fields_follow() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, b"OPTIONS HTTP/1.1\r\nHost: x\r\n\r\n");
        d.after_all(ToClient, RESP_A);
        let (out, ctx) = d.end();
        assert_eq!(out.len(), 1);
        assert!(out[0].anomalies.contains(&Anomaly::MalformedRequestLine));
        assert_eq!(ctx.counters.parse_errors, 1);
    }

    #[test]
    fn field_lines_after_an_http09_line_belong_to_it() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, b"GET /HTTP/1.1\r\nHost: x\r\n\r\n");
        let (out, _) = d.end();
        assert_eq!(out.len(), 1);
        let r = &out[0].request;
        assert_eq!(r.version, HttpVersion::Http09);
        assert_eq!(r.headers.len(), 1);
        assert!(out[0].anomalies.contains(&Anomaly::MalformedRequestLine));
    }
}
