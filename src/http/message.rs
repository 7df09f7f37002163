//! What a complete head becomes, and what a message's end does to its entry: a request
//! head makes a queue entry (`queue.rs`); an interim response is kept on its request; a
//! final response is set on the entry `response_owner` (`pairing.rs`) picks; a head cut
//! by a gap, a close or a limit is kept as far as it parses, flagged; a finished body is
//! decoded and counted.
//!
//! Not here: finding heads (`half.rs`), framing bodies (`body.rs`), deciding pairing.

use crate::model::{
    header, Anomaly, Body, ConnInfo, Decoded, Direction, HttpVersion, Interim, Request, Response,
};
use crate::time::Timestamp;

use super::body::BodyReader;
use super::conn::{HttpConn, MAX_INTERIM};
use super::decode::{decode_detailed, Inflater};
use super::half::{HeadKind, Phase};
use super::head::{self, Framing, ParsedHead};
use super::pairing::Owner;
use super::queue::add_anomaly;
use super::{HttpCounters, HttpCtx, HttpLimits};

/// A final response's body framing (RFC 9112 §6.3 items 1 and 2: no body after HEAD, 1xx,
/// 204, 304, 2xx to CONNECT, or a switch); `p.anomalies` gets the framing's anomalies.
fn final_framing(p: &mut ParsedHead, method: &str, complete: bool, switch: bool) -> Framing {
    let status = p.status;
    let connect = method.eq_ignore_ascii_case("CONNECT");
    if !complete
        || switch
        || method.eq_ignore_ascii_case("HEAD")
        || status < 200
        || status == 204
        || status == 304
        || (connect && (200..300).contains(&status))
    {
        Framing::None
    } else {
        head::body_framing(&p.headers, false, &mut p.anomalies)
    }
}

impl HttpConn {
    pub(super) fn parse(&self, ctx: &mut HttpCtx, request: bool) -> Option<ParsedHead> {
        let half = if request {
            &self.halves.to_server
        } else {
            &self.halves.to_client
        };
        let buf = &half.buf;
        match head::parse_scanned_head(buf, &half.scanner, request, ctx.limits.max_headers) {
            Some(p) => Some(p),
            None => {
                ctx.counters.parse_errors += 1;
                head::parse_head_lenient(buf, request, ctx.limits.max_headers)
            }
        }
    }

    pub(super) fn head_complete(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
    ) {
        let request = dir == Direction::ToServer;
        let Some(parsed) = self.parse(ctx, request) else {
            // Matched a start line but the head is unusable: drop it and resync.
            ctx.counters.resync_skipped_bytes += self.halves[dir].buf.len() as u64;
            if !request {
                self.lose_front_response(ctx, ts);
            }
            self.halves[dir].resync(true);
            return;
        };
        if parsed.too_many_headers {
            self.interrupt_head(ctx, conn, dir, ts, Some(Anomaly::HeadTooLarge));
            return;
        }
        let head_len = self.halves[dir].buf.len() as u64;
        self.halves[dir].reset_candidate();
        if request {
            self.request_head(ctx, conn, parsed, head_len, ts, true);
        } else {
            self.response_head(ctx, conn, parsed, head_len, ts, true);
        }
    }

    /// A request head: a new entry, then its body (or none).
    pub(super) fn request_head(
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
        let h = &mut self.halves.to_server;
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
        let h = &mut self.halves.to_server;
        h.owner = Owner::Entry(depth);
        h.body_gap = false;
        match framing {
            Framing::None => {
                h.phase = Phase::Start { resync: false };
                self.request_done(ctx, conn, depth, None, complete, ts);
                if may_switch {
                    self.halves.to_server.phase = Phase::AwaitSwitch { depth };
                }
            }
            f => {
                let mut reader =
                    BodyReader::new(f, ctx.limits.max_body_keep, ctx.limits.max_head_bytes);
                reader.sizes_only = !ctx.keep_bodies;
                reader.body.content_encoding = codings;
                self.halves.to_server.phase = Phase::Body(Box::new(reader));
                self.halves.to_server.switch_after = may_switch;
            }
        }
    }

    /// `GET /path` without a version: an HTTP/0.9 request, answered by raw bytes to close.
    /// Another method (`POST /x`) is taken the same way, as Zeek does, and flagged: HTTP/0.9
    /// has only GET.
    pub(super) fn request_head_09(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        ts: Timestamp,
        get: bool,
    ) {
        let h = &mut self.halves.to_server;
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
        self.halves.to_server.phase = Phase::Start { resync: false };
        self.request_done(ctx, conn, depth, None, true, ts);
        self.halves.to_server.after09 = Some(depth);
    }

    /// A response head: an interim one is kept on its request; a final one becomes the
    /// response of its owner (`response_owner`), then its body (or none).
    fn response_head(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        mut p: ParsedHead,
        head_len: u64,
        ts: Timestamp,
        complete: bool,
    ) {
        let status = p.status;
        let interim = (100..200).contains(&status) && status != 101;
        self.pairing.resp_broken = false;
        self.lose_responses_shown_by_ack(ctx, conn, ts, interim);
        let (owner, method, late) = self.response_owner(ctx, interim);
        if interim {
            // Interim response (RFC 9110 §15.2): kept on the request, the final one follows.
            ctx.counters.interim_responses += 1;
            self.attach_interim(owner, p, head_len, ts);
            self.halves.to_client.phase = Phase::Start { resync: false };
            return;
        }
        ctx.counters.responses += 1;
        self.settle_owner(ctx, conn, owner, late, ts);
        let method = method.unwrap_or_else(|| "GET".to_string());
        let connect = method.eq_ignore_ascii_case("CONNECT");
        let switch = complete && (status == 101 || (connect && (200..300).contains(&status)));
        let framing = final_framing(&mut p, &method, complete, switch);
        let codings = self.attach_response(owner, p, head_len, ts, complete, switch);
        let h = &mut self.halves.to_client;
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
                reader.sizes_only = !ctx.keep_bodies;
                reader.body.content_encoding = codings;
                self.halves.to_client.phase = Phase::Body(Box::new(reader));
            }
        }
        // A CONNECT or Upgrade that did not switch: the held request bytes are requests.
        if !switch {
            self.release_held(ctx, conn, ts, false);
        }
    }

    /// Keeps an interim response on its owner (at most `MAX_INTERIM`).
    fn attach_interim(&mut self, owner: Owner, p: ParsedHead, head_len: u64, ts: Timestamp) {
        let Some(e) = self.owner_entry(owner) else {
            return;
        };
        if e.interim.len() < MAX_INTERIM {
            e.interim.push(Interim {
                status: p.status,
                reason: p.reason,
                version: p.version.unwrap_or(HttpVersion::Http11),
                headers: p.headers,
                head_len,
                ts,
            });
        }
        for a in p.anomalies {
            add_anomaly(&mut e.resp_anomalies, a);
        }
    }

    /// What a final response's owner means before its body: a late one frees its
    /// tombstone, a response to a lost request gets its placeholder entry.
    fn settle_owner(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        owner: Owner,
        late: bool,
        ts: Timestamp,
    ) {
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
                let placeholder = self.lost_placeholder(self.halves.to_client.first_ts);
                if let Some(old) = self.pairing.lost.replace(Box::new(placeholder)) {
                    // Unreachable: the previous response ended before this head began.
                    self.emit(ctx, conn, *old, ts);
                }
            }
            Owner::Entry(_) => {}
        }
    }

    /// Sets a final response on its owner's entry. Returns its content codings.
    fn attach_response(
        &mut self,
        owner: Owner,
        p: ParsedHead,
        head_len: u64,
        ts: Timestamp,
        complete: bool,
        switch: bool,
    ) -> Vec<String> {
        let codings = head::content_codings(&p.headers);
        let first_ts = self.halves.to_client.first_ts;
        let Some(e) = self.owner_entry(owner) else {
            return codings;
        };
        let interim = std::mem::take(&mut e.interim);
        e.response = Some(Response {
            status: p.status,
            reason: p.reason,
            version: p.version.unwrap_or(HttpVersion::Http11),
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
        for a in p.anomalies {
            add_anomaly(&mut e.resp_anomalies, a);
        }
        if switch {
            add_anomaly(&mut e.resp_anomalies, Anomaly::Tunnel);
        }
        codings
    }

    /// The response to the waiting HTTP/1.x request starts with `held` (then the byte that
    /// ruled out a status line, not consumed): an HTTP/0.9-style response read to close,
    /// flagged `no-status-line` (issue 9, item 3).
    pub(super) fn start_bare_response(&mut self, ctx: &mut HttpCtx, ts: Timestamp, held: &[u8]) {
        let Some(depth) = self.front_waiting().map(|e| e.depth) else {
            return;
        };
        ctx.counters.responses_without_status_line += 1;
        self.start_http09_response(ctx, ts);
        if let Some(e) = self.entry_mut(depth) {
            add_anomaly(&mut e.resp_anomalies, Anomaly::NoStatusLine);
        }
        if let Phase::Body(reader) = &mut self.halves.to_client.phase {
            // Close-delimited: takes every byte.
            let _ = reader.feed(held);
        }
    }

    pub(super) fn start_http09_response(&mut self, ctx: &mut HttpCtx, ts: Timestamp) {
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
        let h = &mut self.halves.to_client;
        h.owner = Owner::Entry(depth);
        h.switch_after = false;
        h.body_gap = false;
        let mut reader = BodyReader::new(Framing::Close, ctx.limits.max_body_keep, 0);
        reader.sizes_only = !ctx.keep_bodies;
        h.phase = Phase::Body(Box::new(reader));
    }

    /// The head in progress of `dir` cannot be completed (gap, close, limit): keep what
    /// parses of it, flag it, and resync.
    pub(super) fn interrupt_head(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        extra: Option<Anomaly>,
    ) {
        let request = dir == Direction::ToServer;
        if request && self.halves.to_server.head_kind != HeadKind::Normal {
            // Not known to be a request (or fields of one) until its empty line: dropped.
            let h = &mut self.halves.to_server;
            ctx.counters.resync_skipped_bytes += h.buf.len() as u64;
            h.resync(false);
            return;
        }
        let in_head = matches!(self.halves[dir].phase, Phase::Head);
        let had_bytes = !self.halves[dir].buf.is_empty();
        if extra == Some(Anomaly::HeadTooLarge) {
            ctx.counters.head_too_large += 1;
        }
        if had_bytes {
            ctx.counters.interrupted_messages += 1;
        }
        let parsed = if in_head {
            let buf = &self.halves[dir].buf;
            head::parse_partial_head(buf, request, ctx.limits.max_headers)
        } else {
            None
        };
        let head_len = self.halves[dir].buf.len() as u64;
        self.halves[dir].resync(false);
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
        let h = &mut self.halves[dir];
        if !matches!(h.phase, Phase::Ended) {
            h.resync(false);
        }
        self.pop_done(ctx, conn, ts);
    }

    /// The body in progress of `dir` ended (`complete`) or was cut short.
    pub(super) fn finish_message(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        complete: bool,
        extra: Option<Anomaly>,
    ) {
        let phase = std::mem::replace(&mut self.halves[dir].phase, Phase::Start { resync: false });
        let Phase::Body(reader) = phase else {
            self.halves[dir].phase = phase;
            return;
        };
        // A body past an over-long chunk line is invalid however it ends (its LF, a gap,
        // the connection's end), so the flag does not depend on what came after.
        let extra = extra.or(reader.over_long_line.then_some(Anomaly::InvalidChunk));
        if dir == Direction::ToServer {
            let depth = match self.halves.to_server.owner {
                Owner::Entry(d) => d,
                Owner::Lost | Owner::Discard => return,
            };
            self.request_done(ctx, conn, depth, Some((*reader, extra)), complete, ts);
            if self.halves.to_server.switch_after && complete {
                self.halves.to_server.switch_after = false;
                if matches!(self.halves.to_server.phase, Phase::Start { .. }) {
                    self.halves.to_server.phase = Phase::AwaitSwitch { depth };
                }
            }
        } else {
            self.response_done(ctx, conn, Some((*reader, extra)), complete, ts);
        }
    }

    /// Turns a finished body reader into the message's `Body`: anomalies, counters and
    /// content decoding. HTTP/2 streams use it too (`http::finish_body`).
    pub(super) fn finish_body(
        limits: &HttpLimits,
        inflater: &mut Inflater,
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
        let sizes_only = reader.sizes_only;
        let mut body = reader.body;
        if body.truncated {
            counters.bodies_truncated += 1;
            add_anomaly(anomalies, Anomaly::BodyTruncated);
        }
        let encoded = body.content_encoding.iter().any(|c| c != "identity");
        if encoded && body.len > 0 {
            body.decoded = if sizes_only {
                // No output reads the content: its coding is left alone (nor are decode
                // failures looked for, flagged or counted).
                Decoded::Skipped
            } else if !complete {
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
                    inflater,
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
        if sizes_only && body.len > 0 {
            // No output reads the bytes: as a body the content-type policy dropped
            // (`Body::dropped`), every size exact.
            body.dropped = true;
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
        let gap = std::mem::take(&mut self.halves.to_server.body_gap);
        let conflict = std::mem::take(&mut self.halves.to_server.overlap_conflict);
        let Some(e) = self.entry_mut(depth) else {
            return;
        };
        let mut anomalies = std::mem::take(&mut e.req_anomalies);
        if conflict {
            ctx.counters.overlap_conflict_messages += 1;
            add_anomaly(&mut anomalies, Anomaly::OverlapConflict);
        }
        let body = finished_body(ctx, reader, complete, gap, &mut anomalies);
        if let Some(r) = e.request.as_mut() {
            if let Some(body) = body {
                r.body = body;
            }
            r.last_ts = ts;
            r.complete = complete && !gap;
            if !complete {
                mark_interrupted(ctx, &mut anomalies, Anomaly::RequestInterrupted);
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
            self.pairing.resp_broken = true;
        }
        let h = &mut self.halves.to_client;
        let gap = std::mem::take(&mut h.body_gap);
        let conflict = std::mem::take(&mut h.overlap_conflict);
        let switch = std::mem::take(&mut h.switch_after);
        let owner = h.owner;
        h.owner = Owner::Discard;
        if let Some(e) = self.owner_entry(owner) {
            let mut anomalies = std::mem::take(&mut e.resp_anomalies);
            if conflict {
                ctx.counters.overlap_conflict_messages += 1;
                add_anomaly(&mut anomalies, Anomaly::OverlapConflict);
            }
            let body = finished_body(ctx, reader, complete, gap, &mut anomalies);
            if let Some(r) = e.response.as_mut() {
                if let Some(body) = body {
                    r.body = body;
                }
                r.last_ts = ts;
                r.complete = complete && !gap;
                if !complete {
                    mark_interrupted(ctx, &mut anomalies, Anomaly::ResponseInterrupted);
                }
            }
            e.resp_anomalies = anomalies;
            e.resp_done = true;
        }
        if owner == Owner::Lost {
            if let Some(e) = self.pairing.lost.take() {
                self.emit(ctx, conn, *e, ts);
            }
        }
        if switch && self.h2c_switch(ctx, owner) {
            // h2c Upgrade: the entry went to the HTTP/2 session (`tunnel.rs`).
            return;
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
}

/// The body of a finished message from its reader (decoded, limits applied), the reader's
/// last anomaly added to `anomalies`; `None` when the message had no body reader.
fn finished_body(
    ctx: &mut HttpCtx,
    reader: Option<(BodyReader, Option<Anomaly>)>,
    complete: bool,
    gap: bool,
    anomalies: &mut Vec<Anomaly>,
) -> Option<Body> {
    let (reader, extra) = reader?;
    if let Some(a) = extra {
        add_anomaly(anomalies, a);
    }
    Some(HttpConn::finish_body(
        &ctx.limits,
        &mut ctx.inflater,
        &mut ctx.counters,
        reader,
        complete,
        gap,
        anomalies,
    ))
}

/// Flags a message cut short (once) and counts it.
fn mark_interrupted(ctx: &mut HttpCtx, anomalies: &mut Vec<Anomaly>, a: Anomaly) {
    if !anomalies.contains(&a) {
        anomalies.push(a);
        ctx.counters.interrupted_messages += 1;
    }
}
