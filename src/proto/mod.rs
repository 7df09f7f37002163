//! The per-connection protocol layer, between TCP reassembly and the application parsers.
//!
//! The reassembler hands each connection's ordered bytes, gaps, ACKs, FINs and ticks to a
//! `ProtoConn` (made by `ProtoFactory`). It first *detects* the protocol from the first
//! bytes of each direction (`detect`), then owns one stack for the connection:
//!
//! ```text
//!  reassembly ──bytes/gaps/acks/fin──▶ [Layer]* ──plaintext/gaps──▶ Session ──▶ Transaction
//!                                      (TLS)                         (HTTP/1, HTTP/2)
//! ```
//!
//! - A `Layer` transforms bytes (TLS will be the first: ciphertext and gaps in, plaintext
//!   and gaps out). Above the last layer the detector runs again on what it emits (TLS
//!   can carry HTTP/1 or HTTP/2).
//! - A `Session` is an application parser that emits `Transaction`s into the worker's
//!   `HttpCtx`: HTTP/1 (`http::HttpConn`) and HTTP/2 (`h2::H2Conn`).
//! - A session can hand the connection on (`Session::take_handoff`: 101 Switching
//!   Protocols to h2c, CONNECT to TLS inside the tunnel): the bytes after the switch go
//!   through detection again, into a new stack top.
//! - Protocols detected but not decoded yet (HTTP/2 prior knowledge, TLS without a layer,
//!   binary bytes no session reads) are counted and their bytes skipped: they never reach
//!   the HTTP/1 parser as garbage entries.
//!
//! Adding TLS or HTTP/2 is one new module: a `Layer` or a `Session`, and one arm in
//! `ProtoConn::start` that builds it for its `Protocol`.
//!
//! What it does not do: parse any protocol itself, or look beyond the first bytes of a
//! direction; HTTP/1 stays the default for anything text-like, so a mid-stream pickup
//! reaches the HTTP/1 parser exactly as before this layer existed.

mod conn;
pub mod detect;

pub use conn::{linger_tick, Lingering, ProtoConn, MAX_LINGERING};
pub use detect::{Detection, Protocol};

use crate::http::{HttpConn, HttpCtx, HttpLimits};
use std::sync::Arc;

use crate::model::{ConnInfo, Direction, PerDirection, TlsInfo};
use crate::reassembly::{HandlerFactory, Role, StreamHandler};
use crate::time::Timestamp;
use crate::tls::{TlsCounters, TlsKeys, TlsSettings};

crate::counters! {
    /// Protocol-layer counters: what each connection was detected as.
    pub struct ProtoCounters {
        /// Connections handed to the HTTP/1 parser (its first bytes were HTTP/1, text it
        /// resynchronises on, or a pickup that showed nothing else).
        http1_connections,
        /// Connections that opened with the HTTP/2 client preface (prior knowledge), handed
        /// to the HTTP/2 session.
        h2_connections,
        /// Connections that opened with a TLS record (decrypted when a key log is given:
        /// see the `tls` stage; skipped otherwise).
        tls_connections,
        /// Connections that opened with binary bytes no session reads: skipped.
        unknown_protocol_connections,
        /// Bytes skipped on those connections (TLS, unknown).
        skipped_protocol_bytes,
        /// Connections whose first bytes did not decide the protocol within
        /// `DETECT_HOLD_LIMIT` held bytes, or before a gap or FIN: handed to HTTP/1.
        detection_fallbacks,
        /// Sessions that handed their connection on to another protocol (101, CONNECT).
        protocol_handoffs,
        /// Connections that closed while a layer waited (TLS: live secrets not in the key
        /// log yet) when `MAX_LINGERING` others already lingered: given up at once.
        linger_limit_hits,
    }
}

/// Bytes (both directions) held while the first bytes do not yet tell the protocol; past
/// it the connection goes to HTTP/1 (`detection_fallbacks`). Detection needs at most
/// `detect::MAX_DETECT_BYTES` of one direction, so this is only reached when the other
/// direction sends while the first one stalls mid-preface.
pub const DETECT_HOLD_LIMIT: usize = 4096;

/// Per-worker state shared by every connection's stack.
pub struct ProtoCtx {
    /// What the application sessions share: limits, counters, the transactions out.
    pub http: HttpCtx,
    pub counters: ProtoCounters,
    /// The TLS layers' counters.
    pub tls: TlsCounters,
    /// The secrets of the key logs, as far as they reached this worker.
    pub keys: TlsKeys,
    pub tls_settings: TlsSettings,
    /// Connections that closed while a layer waited (`conn::linger_tick`).
    pub lingering: Vec<Lingering>,
}

impl ProtoCtx {
    pub fn new(limits: HttpLimits) -> ProtoCtx {
        ProtoCtx {
            http: HttpCtx::new(limits),
            counters: ProtoCounters::default(),
            tls: TlsCounters::default(),
            keys: TlsKeys::default(),
            tls_settings: TlsSettings::default(),
            lingering: Vec::new(),
        }
    }
}

/// An application session: an HTTP/1 or HTTP/2 parser for one connection, emitting
/// `Transaction`s into `HttpCtx::out`. It takes the calls of a `StreamHandler` (bytes,
/// gaps, ACKs, FINs, ticks, close, in stream order per direction).
pub trait Session: StreamHandler<Ctx = HttpCtx> + Send {
    /// After any call: the session is done with the connection, which now speaks another
    /// protocol. The session has already emitted everything it had and gets no further
    /// call; the bytes it received after the switch point come back in `Handoff::rest`.
    fn take_handoff(&mut self) -> Option<Handoff> {
        None
    }
    /// Bytes `start..start + len` of the next `on_data` of `dir` had two different copies
    /// in the capture (`StreamHandler::on_overlap_conflict`): the session flags the
    /// messages they belong to and returns true, or returns false when it cannot place
    /// them (the default; the stack then flags what the connection emits from now on).
    fn overlap_conflict(
        &mut self,
        ctx: &mut HttpCtx,
        dir: Direction,
        start: u64,
        len: u64,
    ) -> bool {
        let _ = (ctx, dir, start, len);
        false
    }
    /// A later copy of bytes of `dir` already delivered to the session differed from the
    /// copy delivered (`StreamHandler::on_overlap_conflict` with an offset before the next
    /// byte): the session flags the message they most likely belong to and returns true,
    /// or returns false when it cannot (the default; the stack then flags what the
    /// connection emits from now on).
    fn delivered_conflict(&mut self, ctx: &mut HttpCtx, dir: Direction) -> bool {
        let _ = (ctx, dir);
        false
    }
}

impl Session for HttpConn {
    fn overlap_conflict(
        &mut self,
        _ctx: &mut HttpCtx,
        dir: Direction,
        start: u64,
        len: u64,
    ) -> bool {
        HttpConn::overlap_conflict(self, dir, start, len);
        true
    }

    fn delivered_conflict(&mut self, ctx: &mut HttpCtx, dir: Direction) -> bool {
        HttpConn::delivered_conflict(self, ctx, dir);
        true
    }

    /// After an h2c Upgrade (101 with `Upgrade: h2c`): the HTTP/2 session's start.
    fn take_handoff(&mut self) -> Option<Handoff> {
        let sw = self.take_switch()?;
        let crate::http::H2cSwitch { upgrade, rest } = *sw;
        Some(Handoff {
            rest,
            upgrade: Some(Box::new(upgrade)),
        })
    }
}

/// A session handing its connection on (see `Session::take_handoff`).
#[derive(Debug, Default)]
pub struct Handoff {
    /// Bytes each direction carried after the switch point, in stream order; they go
    /// through detection again, unless the next protocol is known (`upgrade`).
    pub rest: PerDirection<Vec<u8>>,
    /// An h2c Upgrade: the connection continues in HTTP/2 with this stream 1; `rest`
    /// goes straight to that session (the client's starts with the preface).
    pub upgrade: Option<Box<crate::h2::Upgrade>>,
}

/// What a layer emits, in stream order per direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LayerEvent {
    /// Transformed bytes (plaintext for TLS).
    Data(Vec<u8>),
    /// Transformed bytes that are lost (a TCP gap inside a record loses the record).
    Gap(u64),
    /// The sender had received the other direction's *output* stream up to this offset
    /// (a layer translates the ACK offsets it is given, or drops them).
    Ack(u64),
    /// The direction ended.
    Fin,
}

/// One emitted event, with its direction and the packet time of the bytes behind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emitted {
    pub dir: Direction,
    pub event: LayerEvent,
    pub ts: Timestamp,
}

/// A byte-transforming layer under the session (TLS will be the first). It receives what
/// the layer below (or the reassembler) delivers and pushes what it makes of it to `out`.
pub trait Layer: Send {
    fn on_data(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    );
    fn on_gap(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        dir: Direction,
        len: u64,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    );
    /// An ACK as an offset of the other direction's *input* stream; the default drops it
    /// (the session then pairs in order, as with no ACK at all).
    fn on_ack(&mut self, ctx: &mut ProtoCtx, dir: Direction, ack: u64, out: &mut Vec<Emitted>) {
        let _ = (ctx, dir, ack, out);
    }
    /// The direction ended with a FIN: the layer first decides what it held waiting for
    /// more bytes (TLS: after a loss, a record ending at the last byte), then sends the
    /// `Fin` up (after what it still holds for keys, if anything).
    fn on_fin(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        let _ = (ctx, conn);
        out.push(Emitted {
            dir,
            event: LayerEvent::Fin,
            ts,
        });
    }
    /// The direction ended without a FIN: the connection closed (RST, idle timeout,
    /// eviction, a reused 4-tuple, the end of the capture). `ProtoConn::on_close` calls it
    /// for both directions of every layer, bottom up, before `on_close`; a layer decides
    /// what it held waiting for more bytes as at a FIN (so what comes out never depends on
    /// whether the bytes ended with a FIN or the capture ended there), sends no `Fin`, and
    /// ignores the call for a direction that had its FIN. The default does nothing.
    fn on_end(
        &mut self,
        ctx: &mut ProtoCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
        out: &mut Vec<Emitted>,
    ) {
        let _ = (ctx, conn, dir, ts, out);
    }
    /// Time advanced (packet time, or an idle live capture's clock): a layer waiting for
    /// something (TLS: keys) may let held bytes go, or give up.
    fn on_tick(&mut self, ctx: &mut ProtoCtx, now: Timestamp, out: &mut Vec<Emitted>) {
        let _ = (ctx, now, out);
    }
    /// Whether the layer holds bytes it waits to make sense of (TLS: records whose secrets
    /// a live key log has not shown yet): a closing connection then lingers.
    fn waiting(&self) -> bool {
        false
    }
    /// The connection is gone: what the layer still holds is lost (and counted).
    fn on_close(&mut self, ctx: &mut ProtoCtx) {
        let _ = ctx;
    }
    /// Heap memory the layer holds, its own size included.
    fn mem_bytes(&self) -> usize;
    /// What the transactions of this connection carry about the layer (TLS: version,
    /// suite, SNI, ALPN, handshake times).
    fn tls_info(&self) -> Option<Arc<TlsInfo>> {
        None
    }
    /// The protocol the layer says its output carries (TLS: from ALPN), or `None` to let
    /// the detector look at the output's first bytes.
    fn carries(&self) -> Option<Protocol> {
        None
    }
}

/// Makes a `ProtoConn` per connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProtoFactory;

impl HandlerFactory for ProtoFactory {
    type Handler = ProtoConn;
    fn new_handler(&mut self, conn: &ConnInfo) -> ProtoConn {
        ProtoConn::new(conn)
    }
    /// TLS hellos and the HTTP/2 preface, then HTTP/1 start lines (`detect::probe_role`).
    fn probe_role(&self, payload: &[u8]) -> Option<Role> {
        detect::probe_role(payload)
    }
}
