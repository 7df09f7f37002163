//! `ProtoConn`: one connection's protocol stack (detection, layers, session).
//!
//! Invariants: while the top is `Detecting`, every event that reached the top is in
//! `held`, in arrival order, and `held_bytes` counts its data bytes; once a session or a
//! skip is chosen, `held` is empty and stays empty. Events of one direction reach each
//! level in stream order.

use crate::h2::H2Conn;
use crate::http::HttpConn;
use crate::model::{Anomaly, ConnInfo, Direction, PerDirection};
use crate::reassembly::{CloseReason, StreamHandler};
use crate::time::Timestamp;
use crate::tls::TlsLayer;

use super::detect::{self, Detection, Protocol, MAX_DETECT_BYTES};
use super::{Emitted, Handoff, Layer, LayerEvent, ProtoCtx, Session, DETECT_HOLD_LIMIT};

/// Layers one connection may stack (TLS inside TLS is legal, e.g. a proxy tunnel; deeper
/// nesting is skipped as `Protocol::Tls`).
const MAX_LAYERS: usize = 2;

/// An event on its way up the stack.
#[derive(Clone, Copy)]
enum Input<'a> {
    Data(&'a [u8]),
    Gap(u64),
    Ack(u64),
    Fin,
    /// Bytes `start..start + len` of the next `Data` had two different copies in the
    /// capture (see `ProtoConn::on_overlap_conflict`).
    Conflict(u64, u64),
}

/// An event held at the top while the protocol is not known yet.
enum Held {
    Data(Direction, Vec<u8>, Timestamp),
    Ack(Direction, u64),
    Conflict(Direction, u64, u64),
}

/// The top of the stack.
enum Top {
    /// Waiting for the first bytes to tell the protocol.
    Detecting(Detector),
    /// An application session for this protocol owns the bytes.
    Session(Protocol, Box<dyn Session>),
    /// A protocol no session here decodes: its bytes are counted and skipped.
    Skipping(Protocol),
}

#[derive(Default)]
struct Detector {
    held: Vec<Held>,
    held_bytes: usize,
    /// The first bytes of each direction (at most `MAX_DETECT_BYTES`).
    first: PerDirection<Vec<u8>>,
    /// Whether each direction's next byte is its stream's true start.
    at_start: PerDirection<bool>,
    /// HTTP/2 was found at a pickup by its frames, not by the client preface: frame
    /// boundaries and HPACK state are unknown (`H2Conn::new` with `lost`).
    h2_pickup: bool,
}

/// One connection's protocol stack: layers (none for plaintext) and a top.
pub struct ProtoConn {
    layers: Vec<Box<dyn Layer>>,
    top: Top,
    /// Per direction, the TCP stream offset of the next byte (data and gaps delivered).
    tcp_at: PerDirection<u64>,
    /// Per direction, the span of TCP stream offsets not delivered yet whose copies
    /// differed in the capture (one span, widened to cover every report: bounded).
    conflicts: PerDirection<Option<(u64, u64)>>,
    /// Conflicting bytes reached a level that cannot place them in a message (a layer:
    /// TLS; a session without offsets: HTTP/2): every transaction the connection emits
    /// from then on is flagged `OverlapConflict` (a superset of the affected ones: those
    /// emitted before had all their bytes delivered before the conflicting ones).
    conflict_unplaced: bool,
}

impl ProtoConn {
    pub fn new(conn: &ConnInfo) -> ProtoConn {
        ProtoConn {
            layers: Vec::new(),
            top: Top::Detecting(Detector {
                at_start: PerDirection::new(!conn.midstream, !conn.midstream),
                ..Detector::default()
            }),
            tcp_at: PerDirection::new(0, 0),
            conflicts: PerDirection::new(None, None),
            conflict_unplaced: false,
        }
    }

    /// The protocol of the top of the stack, once known.
    pub fn protocol(&self) -> Option<Protocol> {
        match &self.top {
            Top::Detecting(_) => None,
            Top::Session(p, _) => Some(*p),
            Top::Skipping(p) => Some(*p),
        }
    }

    /// A stack with the given layers under a detector (tests, and the TLS layer's entry).
    #[cfg(test)]
    fn with_layers(conn: &ConnInfo, layers: Vec<Box<dyn Layer>>) -> ProtoConn {
        ProtoConn {
            layers,
            ..ProtoConn::new(conn)
        }
    }

    /// Feeds `input` of `dir` into level `level` of the stack (0 is the first layer;
    /// `layers.len()` is the top).
    fn feed(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        level: usize,
        dir: Direction,
        input: Input<'_>,
        ts: Timestamp,
    ) {
        let Some(layer) = self.layers.get_mut(level) else {
            self.at_top(ctx, conn, dir, input, ts);
            return;
        };
        let mut out = Vec::new();
        match input {
            Input::Data(data) => layer.on_data(ctx, conn, dir, data, ts, &mut out),
            Input::Gap(len) => layer.on_gap(ctx, conn, dir, len, ts, &mut out),
            Input::Ack(ack) => layer.on_ack(ctx, dir, ack, &mut out),
            Input::Fin => layer.on_fin(ctx, conn, dir, ts, &mut out),
            // A layer's output offsets are not its input's (TLS records).
            Input::Conflict(..) => self.conflict_unplaced = true,
        }
        self.feed_up(ctx, conn, level, out);
    }

    /// Feeds what layer `level` emitted to the level above it.
    fn feed_up(&mut self, ctx: &mut ProtoCtx, conn: &ConnInfo, level: usize, out: Vec<Emitted>) {
        for Emitted { dir, event, ts } in out {
            let input = match &event {
                LayerEvent::Data(d) => Input::Data(d),
                LayerEvent::Gap(n) => Input::Gap(*n),
                LayerEvent::Ack(a) => Input::Ack(*a),
                LayerEvent::Fin => Input::Fin,
            };
            self.feed(ctx, conn, level + 1, dir, input, ts);
        }
    }

    fn at_top(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        dir: Direction,
        input: Input<'_>,
        ts: Timestamp,
    ) {
        // A layer that knows what it carries (TLS: ALPN) decides before any byte is seen.
        if let (Top::Detecting(_), Input::Data(_)) = (&self.top, input) {
            if let Some(p) = self.layers.last().and_then(|l| l.carries()) {
                self.start(ctx, conn, p, ts);
            }
        }
        let emitted_from = ctx.http.out.len();
        match &mut self.top {
            Top::Session(_, s) => {
                match input {
                    Input::Data(d) => s.on_data(&mut ctx.http, conn, dir, d, ts),
                    Input::Gap(n) => s.on_gap(&mut ctx.http, conn, dir, n, ts),
                    Input::Ack(a) => s.on_ack(&mut ctx.http, conn, dir, a),
                    Input::Fin => s.on_fin(&mut ctx.http, conn, dir, ts),
                    Input::Conflict(start, len) => {
                        if !s.overlap_conflict(&mut ctx.http, dir, start, len) {
                            self.conflict_unplaced = true;
                        }
                    }
                }
                let handoff = s.take_handoff();
                self.stamp(ctx, emitted_from);
                if let Some(handoff) = handoff {
                    self.hand_on(ctx, conn, handoff, ts);
                }
            }
            Top::Skipping(_) => {
                if let Input::Data(d) = input {
                    ctx.counters.skipped_protocol_bytes += d.len() as u64;
                }
            }
            Top::Detecting(det) => match input {
                Input::Data(d) => match det.detect(dir, d) {
                    Detection::Is(p) => {
                        let layers = self.layers.len();
                        self.start(ctx, conn, p, ts);
                        if self.layers.len() > layers {
                            // A new layer (TLS) takes the bytes that showed it.
                            self.feed(ctx, conn, layers, dir, input, ts);
                        } else {
                            self.at_top(ctx, conn, dir, input, ts);
                        }
                    }
                    Detection::NeedMore => {
                        det.held_bytes += d.len();
                        det.held.push(Held::Data(dir, d.to_vec(), ts));
                        if det.held_bytes > DETECT_HOLD_LIMIT {
                            ctx.counters.detection_fallbacks += 1;
                            self.start(ctx, conn, Protocol::Http1, ts);
                        }
                    }
                },
                Input::Ack(a) => det.held.push(Held::Ack(dir, a)),
                Input::Conflict(s, l) => det.held.push(Held::Conflict(dir, s, l)),
                // The start of a direction is lost, or it ended: nothing more will tell.
                // HTTP/1 takes it, as it resynchronises on its own.
                Input::Gap(_) | Input::Fin => {
                    if det.held_bytes > 0 {
                        ctx.counters.detection_fallbacks += 1;
                    }
                    self.start(ctx, conn, Protocol::Http1, ts);
                    self.at_top(ctx, conn, dir, input, ts);
                }
            },
        }
    }

    /// Puts the stack for `protocol` on top and replays what the detector held.
    fn start(&mut self, ctx: &mut ProtoCtx, conn: &ConnInfo, protocol: Protocol, ts: Timestamp) {
        let top = match protocol {
            Protocol::Http1 => {
                ctx.counters.http1_connections += 1;
                Top::Session(protocol, Box::new(HttpConn::new(conn)))
            }
            Protocol::Http2 => {
                ctx.counters.h2_connections += 1;
                // At the client preface the frame boundary and HPACK state are known; at
                // a pickup found by its frames they are not (nor is anything before).
                let pickup = matches!(&self.top, Top::Detecting(d) if d.h2_pickup);
                Top::Session(protocol, Box::new(H2Conn::new(&mut ctx.http, pickup)))
            }
            Protocol::Tls => {
                ctx.counters.tls_connections += 1;
                if ctx.tls_settings.enabled && self.layers.len() < MAX_LAYERS {
                    return self.push_layer(ctx, conn, Box::new(TlsLayer::new()));
                }
                Top::Skipping(protocol)
            }
            Protocol::Unknown => {
                ctx.counters.unknown_protocol_connections += 1;
                Top::Skipping(protocol)
            }
        };
        let Top::Detecting(det) = std::mem::replace(&mut self.top, top) else {
            return;
        };
        let top = self.layers.len();
        for held in det.held {
            match held {
                Held::Data(dir, data, ts) => self.feed(ctx, conn, top, dir, Input::Data(&data), ts),
                Held::Ack(dir, ack) => self.feed(ctx, conn, top, dir, Input::Ack(ack), ts),
                Held::Conflict(dir, s, l) => {
                    self.feed(ctx, conn, top, dir, Input::Conflict(s, l), ts)
                }
            }
        }
    }

    /// The connection's end reaches the top of the stack.
    fn close_now(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        reason: CloseReason,
        ts: Timestamp,
    ) {
        if let Top::Detecting(det) = &self.top {
            // The first bytes never told: what was held goes to HTTP/1, as it did before
            // detection existed.
            if det.held_bytes > 0 {
                ctx.counters.detection_fallbacks += 1;
                self.start(ctx, conn, Protocol::Http1, ts);
            }
        }
        let emitted_from = ctx.http.out.len();
        if let Top::Session(_, s) = &mut self.top {
            s.on_close(&mut ctx.http, conn, reason, ts);
        }
        self.stamp(ctx, emitted_from);
    }

    /// Puts `layer` under a new detector and replays what the detector held into it.
    fn push_layer(&mut self, ctx: &mut ProtoCtx, conn: &ConnInfo, layer: Box<dyn Layer>) {
        let level = self.layers.len();
        self.layers.push(layer);
        // At a pickup the layer's first output may be any record's content, not its
        // stream's start (HTTP/2 frames of an h2 connection whose ALPN was not seen).
        let fresh = Top::Detecting(Detector {
            at_start: PerDirection::new(!conn.midstream, !conn.midstream),
            ..Detector::default()
        });
        let Top::Detecting(det) = std::mem::replace(&mut self.top, fresh) else {
            return;
        };
        for held in det.held {
            match held {
                Held::Data(dir, data, ts) => {
                    self.feed(ctx, conn, level, dir, Input::Data(&data), ts)
                }
                Held::Ack(dir, ack) => {
                    self.feed(ctx, conn, level, dir, Input::Ack(ack), Timestamp::default())
                }
                Held::Conflict(dir, s, l) => self.feed(
                    ctx,
                    conn,
                    level,
                    dir,
                    Input::Conflict(s, l),
                    Timestamp::default(),
                ),
            }
        }
    }

    /// Gives the transactions the session emitted from `from` on what the layers know
    /// (TLS: the session's version, suite, names and handshake times).
    fn stamp(&self, ctx: &mut ProtoCtx, from: usize) {
        if ctx.http.out.len() <= from {
            return;
        }
        if self.conflict_unplaced {
            for tx in &mut ctx.http.out[from..] {
                if !tx.anomalies.contains(&Anomaly::OverlapConflict) {
                    tx.anomalies.push(Anomaly::OverlapConflict);
                    ctx.http.counters.overlap_conflict_messages += 1;
                }
            }
        }
        if let Some(info) = self.layers.iter().rev().find_map(|l| l.tls_info()) {
            for tx in &mut ctx.http.out[from..] {
                tx.tls = Some(info.clone());
            }
        }
    }

    /// The session handed the connection on: the bytes after the switch are detected anew,
    /// or, for an h2c Upgrade, go to the HTTP/2 session that continues its request.
    fn hand_on(&mut self, ctx: &mut ProtoCtx, conn: &ConnInfo, handoff: Handoff, ts: Timestamp) {
        ctx.counters.protocol_handoffs += 1;
        self.top = match handoff.upgrade {
            Some(up) => {
                let h2 = H2Conn::upgraded(&mut ctx.http, *up);
                Top::Session(Protocol::Http2, Box::new(h2))
            }
            None => Top::Detecting(Detector {
                at_start: PerDirection::new(true, true),
                ..Detector::default()
            }),
        };
        let top = self.layers.len();
        for dir in [Direction::ToServer, Direction::ToClient] {
            let rest = &handoff.rest[dir];
            if !rest.is_empty() {
                self.feed(ctx, conn, top, dir, Input::Data(rest), ts);
            }
        }
    }
}

impl Detector {
    /// What the first bytes of `dir`, followed by `data`, say.
    fn detect(&mut self, dir: Direction, data: &[u8]) -> Detection {
        let at_start = self.at_start[dir];
        let first = &mut self.first[dir];
        let bytes: &[u8] = if first.is_empty() {
            data
        } else {
            let take = data.len().min(MAX_DETECT_BYTES.saturating_sub(first.len()));
            first.extend_from_slice(&data[..take]);
            first
        };
        let found = detect::detect(bytes, dir, at_start);
        self.h2_pickup =
            found == Detection::Is(Protocol::Http2) && !bytes.starts_with(detect::H2_PREFACE);
        if found == Detection::NeedMore && first.is_empty() {
            first.extend_from_slice(&data[..data.len().min(MAX_DETECT_BYTES)]);
        }
        found
    }

    fn mem_bytes(&self) -> usize {
        self.held
            .iter()
            .map(|h| match h {
                Held::Data(_, d, _) => d.capacity() + std::mem::size_of::<Held>(),
                Held::Ack(..) | Held::Conflict(..) => std::mem::size_of::<Held>(),
            })
            .sum::<usize>()
            + self.first.iter().map(Vec::capacity).sum::<usize>()
    }
}

/// Stacks that may linger after their connection closed (each holds at most
/// `tls::TLS_MAX_HELD_BYTES`): past it a closing stack gives up at once
/// (`linger_limit_hits`).
pub const MAX_LINGERING: usize = 64;

/// A connection that closed while a layer waited (see `ProtoConn::on_close`).
pub struct Lingering {
    conn: ConnInfo,
    reason: CloseReason,
    stack: ProtoConn,
}

impl ProtoConn {
    /// What is left of a stack that moved to the lingering list.
    fn closed() -> ProtoConn {
        ProtoConn {
            layers: Vec::new(),
            top: Top::Skipping(Protocol::Unknown),
            tcp_at: PerDirection::new(0, 0),
            conflicts: PerDirection::new(None, None),
            conflict_unplaced: false,
        }
    }

    /// Whether a layer still waits.
    fn waiting(&self) -> bool {
        self.layers.iter().any(|l| l.waiting())
    }
}

/// Time advanced (or secrets arrived): lingering stacks retry; those that no longer wait
/// close now. `all`: the capture ended, every one closes.
pub fn linger_tick(ctx: &mut ProtoCtx, now: Timestamp, all: bool) {
    if ctx.lingering.is_empty() {
        return;
    }
    let list = std::mem::take(&mut ctx.lingering);
    let mut keep = Vec::new();
    for mut l in list {
        l.stack.on_tick(ctx, &l.conn, now);
        if !all && l.stack.waiting() {
            keep.push(l);
            continue;
        }
        for layer in &mut l.stack.layers {
            layer.on_close(ctx);
        }
        let reason = l.reason;
        l.stack.close_now(ctx, &l.conn, reason, now);
    }
    ctx.lingering.extend(keep);
}

impl StreamHandler for ProtoConn {
    type Ctx = ProtoCtx;

    fn on_data(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
    ) {
        let at = self.tcp_at[dir];
        let end = at + data.len() as u64;
        self.tcp_at[dir] = end;
        if let Some((s, e)) = self.conflicts[dir] {
            if s < end && at < e {
                let start = s.max(at) - at;
                let len = e.min(end) - at - start;
                self.feed(ctx, conn, 0, dir, Input::Conflict(start, len), ts);
            }
            if e <= end {
                self.conflicts[dir] = None;
            }
        }
        self.feed(ctx, conn, 0, dir, Input::Data(data), ts);
    }

    /// Remembered until the bytes come (`on_data` tells the stack just before them).
    /// Bytes already delivered (the reassembler kept them until acknowledged): the
    /// session flags the message they most likely belong to (`Session::delivered_conflict`);
    /// under a layer (TLS) or while the protocol is not known yet, every transaction the
    /// connection emits from now on is flagged.
    fn on_overlap_conflict(
        &mut self,
        ctx: &mut ProtoCtx,
        _conn: &ConnInfo,
        dir: Direction,
        offset: u64,
        len: u64,
    ) {
        let e = offset.saturating_add(len);
        if e <= self.tcp_at[dir] {
            let placed = match &mut self.top {
                Top::Session(_, s) if self.layers.is_empty() => {
                    s.delivered_conflict(&mut ctx.http, dir)
                }
                Top::Skipping(_) => true,
                _ => false,
            };
            self.conflict_unplaced |= !placed;
            return;
        }
        self.conflicts[dir] = Some(match self.conflicts[dir] {
            Some((a, b)) => (a.min(offset), b.max(e)),
            None => (offset, e),
        });
    }

    fn on_ack(&mut self, ctx: &mut ProtoCtx, conn: &ConnInfo, dir: Direction, ack: u64) {
        // ACKs carry no time of their own: they precede the data of the same segment.
        self.feed(ctx, conn, 0, dir, Input::Ack(ack), Timestamp::default());
    }

    fn on_gap(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
    ) {
        self.tcp_at[dir] = self.tcp_at[dir].saturating_add(len);
        if self.conflicts[dir].is_some_and(|(_, e)| e <= self.tcp_at[dir]) {
            self.conflicts[dir] = None;
        }
        self.feed(ctx, conn, 0, dir, Input::Gap(len), ts);
    }

    fn on_fin(&mut self, ctx: &mut ProtoCtx, conn: &ConnInfo, dir: Direction, ts: Timestamp) {
        self.feed(ctx, conn, 0, dir, Input::Fin, ts);
    }

    fn on_close(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        reason: CloseReason,
        ts: Timestamp,
    ) {
        // The directions end here if they had no FIN: each layer decides what it held for
        // more bytes (`Layer::on_end`), bottom up, so its output reaches the session
        // before the close does. (A layer pushed meanwhile, TLS inside TLS, ends too.)
        let mut level = 0;
        while level < self.layers.len() {
            for dir in [Direction::ToServer, Direction::ToClient] {
                let mut out = Vec::new();
                self.layers[level].on_end(ctx, conn, dir, ts, &mut out);
                self.feed_up(ctx, conn, level, out);
            }
            level += 1;
        }
        // A layer still waiting for something the connection's end cannot bring (TLS:
        // secrets a live key log has not shown yet): the stack lingers in the worker until
        // it has them or gives up (`Lingering`), then closes as it would have now.
        if !ctx.tls_settings.keys_final && self.layers.iter().any(|l| l.waiting()) {
            if ctx.lingering.len() < MAX_LINGERING {
                let stack = std::mem::replace(self, ProtoConn::closed());
                ctx.lingering.push(Lingering {
                    conn: conn.clone(),
                    reason,
                    stack,
                });
                return;
            }
            ctx.counters.linger_limit_hits += 1;
        }
        for layer in &mut self.layers {
            layer.on_close(ctx);
        }
        self.close_now(ctx, conn, reason, ts);
    }

    fn on_tick(&mut self, ctx: &mut ProtoCtx, conn: &ConnInfo, now: Timestamp) {
        for level in 0..self.layers.len() {
            let mut out = Vec::new();
            self.layers[level].on_tick(ctx, now, &mut out);
            self.feed_up(ctx, conn, level, out);
        }
        let emitted_from = ctx.http.out.len();
        if let Top::Session(_, s) = &mut self.top {
            s.on_tick(&mut ctx.http, conn, now);
        }
        self.stamp(ctx, emitted_from);
    }

    fn mem_bytes(&self) -> usize {
        let top = match &self.top {
            Top::Detecting(det) => det.mem_bytes(),
            Top::Session(_, s) => s.mem_bytes(),
            Top::Skipping(_) => 0,
        };
        std::mem::size_of::<Self>()
            + top
            + self.layers.capacity() * std::mem::size_of::<Box<dyn Layer>>()
            + self.layers.iter().map(|l| l.mem_bytes()).sum::<usize>()
    }

    fn shed_memory(&mut self, ctx: &mut ProtoCtx) -> bool {
        match &mut self.top {
            Top::Session(_, s) => s.shed_memory(&mut ctx.http),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests;
