//! One tracked connection: its two directions, its handler, and what one segment does to
//! them (`Conn::process`): control-segment validation (`control.rs`), handshake bookkeeping, then the segment's bytes held for causal
//! order or delivered, then the per-segment patience of acknowledged holes and the FIN check.
//!
//! What it does not do: find connections, decide roles, time them out or account the
//! memory budget (`table.rs`); order bytes (`half.rs`); decide when a held segment goes
//! (`causal.rs`).

use super::causal::Held;
use super::control::Verdict;
use super::half::{Emit, HalfLimits, HalfStream};
use super::table::{ConnKey, Recency};
use super::{CloseReason, Ctx, HandlerFactory, ReassemblyCounters, StreamHandler};
use crate::model::{ConnInfo, Direction};
use crate::time::Timestamp;
use crate::wire::{SeqNum, TcpSegment};

/// One tracked connection. Buffers (`HalfStream::ooo`) and the handler are allocated only
/// when bytes arrive.
pub(super) struct Conn<H> {
    /// Who the connection is, and its handler: where delivered output goes.
    pub(super) app: App<H>,
    /// Indexed by `Direction::index`.
    pub(super) halves: [HalfStream; 2],
    /// Segments held back for causal order (see `Held`); empty (no allocation) normally.
    pub(super) held: Vec<Held>,
    /// A SYN of this connection carried a TCP-MD5 or TCP-AO option: its endpoints
    /// authenticate segments, so a signed RST may be genuine.
    pub(super) signed: bool,
    /// Per direction, the latest TSval of its sender's accepted segments (RFC 7323's
    /// TS.Recent), for PAWS on RSTs and FINs (`control.rs`).
    pub(super) ts_recent: [Option<u32>; 2],
    /// Per direction, its receiver's last advertised window was 0 (zero-window probes).
    pub(super) window_closed: [bool; 2],
    /// Bytes charged to the memory budget for this connection at its last update.
    pub(super) charged: usize,
}

/// The application side of a connection: its identity, and its handler, created at the
/// first output (a SYN-only connection never makes one).
pub(super) struct App<H> {
    pub(super) info: ConnInfo,
    pub(super) handler: Option<Box<H>>,
}

/// What delivering output needs from the worker: the factory (to make a handler at the
/// first output) and the handlers' shared context.
pub(super) struct Env<'a, F: HandlerFactory> {
    pub(super) factory: &'a mut F,
    pub(super) ctx: &'a mut Ctx<F>,
    /// The worker's batch of frames being processed (`Emit::batch`); empty outside one.
    pub(super) batch: &'a [u8],
}

impl<H: StreamHandler> App<H> {
    /// The sink of direction `dir`'s output at time `ts`. `ack`: the ACK of the segment
    /// whose bytes come next, as an offset of the other direction (`StreamHandler::on_ack`),
    /// `None` when unknown or not applicable.
    pub(super) fn emitter<'a, F: HandlerFactory<Handler = H>>(
        &'a mut self,
        env: &'a mut Env<'_, F>,
        dir: Direction,
        ts: Timestamp,
        ack: Option<u64>,
    ) -> Out<'a, F> {
        Out {
            factory: &mut *env.factory,
            handler: &mut self.handler,
            info: &self.info,
            ctx: &mut *env.ctx,
            batch: env.batch,
            dir,
            ts,
            ack,
        }
    }
}

/// Delivers one direction's output to the connection's handler, creating it on first use.
pub(super) struct Out<'a, F: HandlerFactory> {
    factory: &'a mut F,
    handler: &'a mut Option<Box<F::Handler>>,
    info: &'a ConnInfo,
    ctx: &'a mut Ctx<F>,
    batch: &'a [u8],
    dir: Direction,
    ts: Timestamp,
    ack: Option<u64>,
}

impl<F: HandlerFactory> Emit for Out<'_, F> {
    fn data(&mut self, data: &[u8], fresh: bool) {
        let h = self
            .handler
            .get_or_insert_with(|| Box::new(self.factory.new_handler(self.info)));
        if let Some(ack) = self.ack.filter(|_| fresh) {
            h.on_ack(self.ctx, self.info, self.dir, ack);
        }
        h.on_data(self.ctx, self.info, self.dir, data, self.ts);
    }

    fn gap(&mut self, len: u64) {
        let h = self
            .handler
            .get_or_insert_with(|| Box::new(self.factory.new_handler(self.info)));
        h.on_gap(self.ctx, self.info, self.dir, len, self.ts);
    }

    fn fin(&mut self) {
        let h = self
            .handler
            .get_or_insert_with(|| Box::new(self.factory.new_handler(self.info)));
        h.on_fin(self.ctx, self.info, self.dir, self.ts);
    }

    fn conflict(&mut self, offset: u64, len: u64) {
        let h = self
            .handler
            .get_or_insert_with(|| Box::new(self.factory.new_handler(self.info)));
        h.on_overlap_conflict(self.ctx, self.info, self.dir, offset, len);
    }

    fn batch(&self) -> &[u8] {
        self.batch
    }
}

/// One segment's bytes as its connection sees them, after the handshake bookkeeping.
struct Arrival<'s> {
    dir: Direction,
    /// Sequence number of the first payload byte (after the SYN's, if any).
    seq: SeqNum,
    payload: &'s [u8],
    fin: bool,
    ts: Timestamp,
    /// Where the other direction stood when this segment was sent (`StreamHandler::on_ack`).
    ack: Option<u64>,
    /// The other direction's offset this segment acknowledges beyond what that direction
    /// has delivered (the capture reordered it): it must wait (`Held`).
    needs: Option<u64>,
}

impl<H: StreamHandler> Conn<H> {
    pub(super) fn new(info: ConnInfo, signed: bool) -> Self {
        Conn {
            app: App {
                info,
                handler: None,
            },
            halves: Default::default(),
            held: Vec::new(),
            signed,
            ts_recent: [None; 2],
            window_closed: [false; 2],
            charged: 0,
        }
    }

    pub(super) fn info(&self) -> &ConnInfo {
        &self.app.info
    }

    /// Memory the connection holds: its slot, recency link and index entry, its
    /// out-of-order and held segments, and its handler.
    pub(super) fn mem_bytes(&self) -> usize {
        let base = std::mem::size_of::<Option<Conn<H>>>()
            + std::mem::size_of::<Recency>()
            // A hash map slot, at the worst load factor after growth.
            + 2 * (std::mem::size_of::<(ConnKey, u32)>() + 1);
        let held = self.held.capacity() * std::mem::size_of::<Held>()
            + self.held.iter().map(|h| h.payload.len()).sum::<usize>();
        base + self.halves[0].mem_bytes()
            + self.halves[1].mem_bytes()
            + held
            + self.app.handler.as_ref().map_or(0, |h| h.mem_bytes())
    }

    /// Applies one segment. Returns the reason to close the connection, if any.
    pub(super) fn process<F: HandlerFactory<Handler = H>>(
        &mut self,
        env: &mut Env<'_, F>,
        c: &mut ReassemblyCounters,
        lim: HalfLimits,
        seg: &TcpSegment<'_>,
        ts: Timestamp,
    ) -> Option<CloseReason> {
        let dir = if seg.src == self.app.info.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        match self.check_control(seg, dir, c) {
            Verdict::Discard => return None,
            Verdict::Reset => return Some(CloseReason::Reset),
            Verdict::Accept => {}
        }
        let probe = self.is_probe(seg, dir, c);
        let mut arrival = self.on_handshake(seg, ts);
        if probe {
            // Not data: the receiver does not take it (its ACK says so).
            arrival.payload = &[];
            arrival.needs = None;
        }
        let dir = arrival.dir;
        self.hold_or_deliver(env, c, lim, arrival);
        self.after_segment(env, c, dir, ts)
    }

    /// Keep-alive and zero-window probes (counted), and the receiver's window as this
    /// segment advertises it for the other direction.
    fn is_probe(
        &mut self,
        seg: &TcpSegment<'_>,
        dir: Direction,
        c: &mut ReassemblyCounters,
    ) -> bool {
        let f = seg.flags;
        let plain = !f.syn && !f.fin && !f.rst;
        let me = &self.halves[dir.index()];
        let seq = SeqNum(seg.seq);
        let len = seg.payload.len();
        let probe = if plain && me.is_keepalive(seq, len) {
            c.keepalive_probes += 1;
            true
        } else if plain && self.window_closed[dir.index()] && me.is_window_probe(seq, len) {
            c.zero_window_probes += 1;
            true
        } else {
            false
        };
        if f.ack && plain {
            self.window_closed[dir.reverse().index()] = seg.window == 0;
        }
        probe
    }

    /// SYN, SYN-ACK and establishing ACK (their times, each direction's start), a
    /// mid-stream direction's start at its first byte, and the segment's ACK as the
    /// other direction's progress.
    fn on_handshake<'s>(&mut self, seg: &TcpSegment<'s>, ts: Timestamp) -> Arrival<'s> {
        let f = seg.flags;
        let dir = if seg.src == self.app.info.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let (seq, ack) = (SeqNum(seg.seq), SeqNum(seg.ack));
        let info = &mut self.app.info;
        let (me, peer) = me_and_peer(&mut self.halves, dir);
        if f.syn {
            me.on_syn(seq);
            if f.ack {
                // The SYN-ACK acknowledges the client's ISN + 1: where the client's data starts.
                peer.sync_at(ack);
                if dir == Direction::ToClient {
                    info.synack_ts.get_or_insert(ts);
                }
            } else if dir == Direction::ToServer {
                info.syn_ts.get_or_insert(ts);
            }
        } else if f.ack
            && dir == Direction::ToServer
            && info.established_ts.is_none()
            && info.synack_ts.is_some()
            && peer.isn().is_some_and(|isn| ack == isn + 1u32)
        {
            info.established_ts = Some(ts);
        }
        // A SYN takes one sequence number; data on it (TCP Fast Open, RFC 7413) follows it.
        let data_seq = seq + u32::from(f.syn);
        let carries = !seg.payload.is_empty() || f.fin;
        if carries {
            // Mid-stream: this direction starts at its first segment seen.
            me.sync_at(data_seq);
        }
        if f.ack {
            if peer.is_synchronised() {
                peer.on_peer_ack(ack);
            } else if !f.syn {
                peer.on_ack_hint(ack);
            }
        }
        let acks_data = f.ack && !f.syn;
        Arrival {
            dir,
            seq: data_seq,
            payload: seg.payload,
            fin: f.fin,
            ts,
            ack: acks_data
                .then(|| peer.offset_of(ack))
                .flatten()
                .and_then(|o| u64::try_from(o).ok()),
            needs: (acks_data && carries)
                .then(|| peer.lagging_offset(ack))
                .flatten(),
        }
    }

    /// The segment's bytes and FIN: held back when they acknowledge bytes of the other
    /// direction not delivered yet (within the hold limit), else delivered; then the held
    /// segments that can go now.
    fn hold_or_deliver<F: HandlerFactory<Handler = H>>(
        &mut self,
        env: &mut Env<'_, F>,
        c: &mut ReassemblyCounters,
        lim: HalfLimits,
        a: Arrival<'_>,
    ) {
        for h in &mut self.held {
            h.waited += 1;
        }
        if !a.payload.is_empty() || a.fin {
            let held_bytes: usize = self.held.iter().map(|h| h.payload.len()).sum();
            match a.needs {
                Some(needs) if held_bytes + a.payload.len() <= lim.max_bytes => {
                    c.causal_holds += 1;
                    self.hold(a.dir, a.seq, a.payload, a.fin, a.ts, needs);
                }
                _ => {
                    let me = &mut self.halves[a.dir.index()];
                    let mut out = self.app.emitter(env, a.dir, a.ts, a.ack);
                    deliver(me, a.seq, a.payload, a.fin, lim, c, &mut out);
                }
            }
        }
        if !self.held.is_empty() {
            self.release_held(env, c, lim, None);
        }
    }

    /// Each direction's acknowledged holes lose one segment of patience; both FINs
    /// delivered close the connection.
    fn after_segment<F: HandlerFactory<Handler = H>>(
        &mut self,
        env: &mut Env<'_, F>,
        c: &mut ReassemblyCounters,
        dir: Direction,
        ts: Timestamp,
    ) -> Option<CloseReason> {
        for d in [dir, dir.reverse()] {
            let mut out = self.app.emitter(env, d, ts, None);
            self.halves[d.index()].on_segment_seen(ts, c, &mut out);
        }
        self.halves
            .iter()
            .all(HalfStream::finished)
            .then_some(CloseReason::Fin)
    }

    /// Delivers what the connection still holds, at close (`ts`): held segments, then each
    /// direction's buffered bytes with gaps for the holes and the acknowledged tail.
    pub(super) fn flush_at_close<F: HandlerFactory<Handler = H>>(
        &mut self,
        env: &mut Env<'_, F>,
        c: &mut ReassemblyCounters,
        lim: HalfLimits,
        ts: Timestamp,
    ) {
        if !self.held.is_empty() {
            self.release_held(env, c, lim, Some(Timestamp(i64::MAX)));
        }
        for dir in [Direction::ToServer, Direction::ToClient] {
            let mut out = self.app.emitter(env, dir, ts, None);
            self.halves[dir.index()].close(c, &mut out);
        }
    }
}

/// Payload and FIN of one segment into its direction's stream.
pub(super) fn deliver(
    half: &mut HalfStream,
    seq: SeqNum,
    payload: &[u8],
    fin: bool,
    lim: HalfLimits,
    c: &mut ReassemblyCounters,
    out: &mut impl Emit,
) {
    if !payload.is_empty() {
        half.on_payload(seq, payload, lim, c, out);
    }
    if fin {
        half.on_fin(seq + payload.len(), c, out);
    }
}

/// Direction `dir`'s stream and the other's.
fn me_and_peer(halves: &mut [HalfStream; 2], dir: Direction) -> (&mut HalfStream, &mut HalfStream) {
    let [to_server, to_client] = halves;
    match dir {
        Direction::ToServer => (to_server, to_client),
        Direction::ToClient => (to_client, to_server),
    }
}
