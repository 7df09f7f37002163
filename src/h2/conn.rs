//! `H2Conn`: the HTTP/2 session of one connection (RFC 9113), both directions.
//!
//! What it does: skips the client preface (§3.4; counted when missing); reads frames per
//! direction (`FrameReader`); applies SETTINGS (HEADER_TABLE_SIZE to the decoder of the
//! blocks sent *to* the announcer, MAX_FRAME_SIZE to the frames sent to it, §6.5.2);
//! joins HEADERS/PUSH_PROMISE and their CONTINUATIONs into one block (§6.10) and decodes
//! every block, even one whose stream is not tracked, so the HPACK state stays in step
//! (research §6 item 6); routes blocks and DATA to streams; ends streams early on
//! RST_STREAM and GOAWAY; makes a pushed stream of each PUSH_PROMISE (decoded with the
//! server's decoder, §8.4); exports a stream as soon as both its sides ended.
//!
//! Gaps (research §7.5): a gap inside a DATA frame is counted as missing body bytes; one
//! that takes part of another frame whose end is known loses that frame (a header block:
//! its decoder is marked desynced); one that loses the frame boundary makes the reader
//! look for two chaining plausible frame headers, marks the direction's decoder desynced
//! (the lost bytes may have held a header block) and flags every stream open in that
//! direction `frames-lost`. A mid-stream pickup starts that way, without the preface.
//!
//! Invariants: at most `MAX_STREAMS` streams and one header block (`MAX_HEADER_BLOCK`) per
//! direction are held; every frame and byte is counted or used; no input panics it.

use std::collections::BTreeMap;

use crate::http::HttpCtx;
use crate::model::{Anomaly, ConnInfo, Direction, PerDirection, Unanswered};
use crate::proto::detect::H2_PREFACE;
use crate::reassembly::{CloseReason, StreamHandler};
use crate::time::Timestamp;

use super::frame::{self, FrameHeader};
use super::hpack::{Decoder, HeaderField};
use super::reader::{FrameReader, GapEffect, ReadEvent};
use super::stream::{self, side, Block, Stream};
use super::{MAX_HEADER_BLOCK, MAX_STREAMS};

/// How long a reset stream waits for what the other end had already sent (frames in
/// flight when the RST_STREAM went out) before it is exported at a tick: a round trip is
/// far less. Its other side's END_STREAM or the close export it sooner.
const RESET_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Ranges of stream ids possibly opened in lost bytes, kept per initiator; the oldest is
/// forgotten beyond it (its streams' frames then count as late).
const MAX_LOST_RANGES: usize = 16;

/// The most decoded fields whose room the scratch vector keeps between blocks (a larger
/// block's is freed: a hostile block of a million one-byte fields must not pin it).
const SCRATCH_FIELDS: usize = 128;

/// A header block being joined from HEADERS or PUSH_PROMISE and CONTINUATION frames.
struct PendingBlock {
    stream: u32,
    /// PUSH_PROMISE's promised stream id.
    promised: Option<u32>,
    end_stream: bool,
    buf: Vec<u8>,
    ts: Timestamp,
    /// Went over `MAX_HEADER_BLOCK`: its bytes are dropped.
    over: bool,
}

/// The HTTP/2 session of one connection.
pub struct H2Conn {
    readers: PerDirection<FrameReader>,
    st: State,
}

/// Everything but the frame readers (split so a reader's event can borrow its reader
/// while the state changes).
struct State {
    /// Preface bytes still expected at the start of the client's stream.
    preface_left: usize,
    /// Decoders of the header blocks each direction carries.
    hpack: PerDirection<Decoder>,
    /// The largest frame each direction may carry (announced by its receiver).
    max_frame: PerDirection<u32>,
    streams: BTreeMap<u32, Stream>,
    /// Highest stream id seen by initiator (client: odd; server: even); a lower id not in
    /// `streams` has ended, unless it lies in one of `lost` ranges.
    highest: [u32; 2],
    /// Per initiator: ids (exclusive bounds) that streams opened in bytes the capture lost
    /// may have: a lost HEADERS must not make its stream's later frames "late". The upper
    /// bound is `u32::MAX` until the next new stream. At most `MAX_LOST_RANGES` each.
    lost: [Vec<(u32, u32)>; 2],
    blocks: PerDirection<Option<PendingBlock>>,
    depth: u32,
    /// The decoder of each direction lost its state: blocks decoded since are flagged
    /// (kept apart from the decoder's own notion, which may recover).
    desynced: PerDirection<bool>,
    /// Scratch for a block's decoded fields: emptied by every block (its room kept, so a
    /// block costs no allocation of its own).
    fields: Vec<HeaderField>,
}

impl H2Conn {
    /// A session whose client stream starts with the preface (`lost` false: prior
    /// knowledge, which detection only reports at the preface, even when the TCP
    /// connection itself was picked up mid-stream), or (`lost`) anywhere in the HTTP/2
    /// byte streams: frame boundaries and HPACK state unknown (TLS with ALPN `h2` picked
    /// up mid-stream).
    pub fn new(ctx: &mut HttpCtx, lost: bool) -> H2Conn {
        ctx.h2.h2_sessions += 1;
        let decoder = || {
            let mut d = Decoder::new(super::HPACK_TABLE_CAP);
            if lost {
                d.mark_desynced();
            }
            d
        };
        H2Conn {
            readers: PerDirection::new(FrameReader::new(lost), FrameReader::new(lost)),
            st: State {
                preface_left: if lost { 0 } else { H2_PREFACE.len() },
                hpack: PerDirection::new(decoder(), decoder()),
                max_frame: PerDirection::new(frame::DEFAULT_MAX_FRAME, frame::DEFAULT_MAX_FRAME),
                streams: BTreeMap::new(),
                highest: [0, 0],
                // At a pickup, streams opened before it may still send frames: every id
                // below the first new one stays openable.
                lost: if lost {
                    [vec![(0, u32::MAX)], vec![(0, u32::MAX)]]
                } else {
                    [Vec::new(), Vec::new()]
                },
                blocks: PerDirection::default(),
                depth: 0,
                desynced: PerDirection::new(lost, lost),
                fields: Vec::new(),
            },
        }
    }

    /// Adds a stream the session starts with (h2c Upgrade: stream 1, `upgrade.rs`).
    pub(super) fn adopt(&mut self, s: Stream) {
        self.st.depth = self.st.depth.max(s.depth);
        self.st.highest[0] = self.st.highest[0].max(s.id);
        self.st.streams.insert(s.id, s);
    }

    /// Applies a client SETTINGS payload (h2c Upgrade's `HTTP2-Settings`).
    pub(super) fn client_settings(&mut self, payload: &[u8]) {
        self.st.settings(Direction::ToServer, payload);
    }

    /// Streams not exported yet.
    pub fn open_streams(&self) -> usize {
        self.st.streams.len()
    }

    /// Reads `data` of `dir` as frames.
    fn feed(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        ts: Timestamp,
        depth: u32,
    ) {
        let max = self.st.max_frame[dir];
        let mut pos = 0;
        loop {
            let mut rest = data.get(pos..).unwrap_or_default();
            let before = rest.len();
            let ev = self.readers[dir].next(&mut rest, ts, max);
            pos += before - rest.len();
            let Some(ev) = ev else {
                return;
            };
            match ev {
                ReadEvent::Frame {
                    header,
                    payload,
                    ts: start,
                } => {
                    ctx.h2.h2_frames += 1;
                    self.st.frame(ctx, conn, dir, header, payload, start, ts);
                }
                ReadEvent::Data {
                    header,
                    bytes,
                    first,
                    last,
                    ts: start,
                } => {
                    if first {
                        ctx.h2.h2_frames += 1;
                    }
                    self.st
                        .data(ctx, conn, dir, header, bytes, first, last, start, ts);
                }
                ReadEvent::BadData { header } => {
                    ctx.h2.h2_frames += 1;
                    ctx.h2.h2_frames_invalid += 1;
                    // Its content is lost; its END_STREAM still ends the side.
                    self.st
                        .data(ctx, conn, dir, header, &[], true, true, ts, ts);
                }
                ReadEvent::Skipped { header } => {
                    ctx.h2.h2_frames += 1;
                    ctx.h2.h2_frames_oversized += 1;
                    self.st.frame_lost(ctx, dir, header);
                }
                ReadEvent::Resynced { skipped } => {
                    ctx.h2.h2_resyncs += 1;
                    ctx.h2.h2_resync_skipped_bytes += skipped;
                    let replay = self.readers[dir].take_replay();
                    // The replay starts at a frame boundary, so it never resyncs again;
                    // `depth` bounds the recursion all the same.
                    if depth < 2 {
                        self.feed(ctx, conn, dir, &replay, ts, depth + 1);
                    }
                }
            }
        }
    }
}

impl H2Conn {
    /// `dir` ended: if it was looking for its frame boundary, what it holds is read once
    /// more, the last frame allowed to end at the direction's end.
    fn finish_direction(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        ts: Timestamp,
    ) {
        if let Some(ReadEvent::Resynced { skipped }) =
            self.readers[dir].finish(self.st.max_frame[dir])
        {
            ctx.h2.h2_resyncs += 1;
            ctx.h2.h2_resync_skipped_bytes += skipped;
            let replay = self.readers[dir].take_replay();
            self.feed(ctx, conn, dir, &replay, ts, 1);
        }
    }
}

impl H2Conn {
    /// The peer of `dir` spoke: if `dir` looks for its frame boundary, a frame ending
    /// exactly at the end of what it holds is read now (`FrameReader::settle`).
    fn settle(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, dir: Direction) {
        if let Some(ReadEvent::Resynced { skipped }) =
            self.readers[dir].settle(self.st.max_frame[dir])
        {
            ctx.h2.h2_resyncs += 1;
            ctx.h2.h2_resync_skipped_bytes += skipped;
            let replay = self.readers[dir].take_replay();
            let ts = self.readers[dir].held_ts();
            self.feed(ctx, conn, dir, &replay, ts, 1);
        }
    }
}

impl State {
    /// A whole non-DATA frame of `dir`, which began at `start`; `now` is the packet time
    /// that completed it.
    #[allow(clippy::too_many_arguments)]
    fn frame(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        h: FrameHeader,
        payload: &[u8],
        start: Timestamp,
        now: Timestamp,
    ) {
        if h.kind != frame::CONTINUATION && self.blocks[dir].is_some() {
            // §6.10: nothing may come between a block's frames. Decode what there is.
            ctx.h2.h2_continuation_errors += 1;
            self.end_block(ctx, conn, dir, now);
        }
        match h.kind {
            frame::HEADERS => match frame::headers_block(h.flags, payload) {
                Ok(fragment) if h.stream != 0 => {
                    self.start_block(ctx, conn, dir, h, None, fragment, start, now)
                }
                _ => self.invalid_block(ctx, dir),
            },
            frame::PUSH_PROMISE => match frame::push_promise(h.flags, payload) {
                Ok((promised, fragment)) if h.stream != 0 => {
                    self.start_block(ctx, conn, dir, h, Some(promised), fragment, start, now)
                }
                _ => self.invalid_block(ctx, dir),
            },
            frame::CONTINUATION => {
                let Some(b) = self.blocks[dir].as_mut().filter(|b| b.stream == h.stream) else {
                    // Nothing to continue (its HEADERS was lost, or another stream's):
                    // the fragment cannot be decoded alone.
                    ctx.h2.h2_continuation_errors += 1;
                    if self.blocks[dir].is_some() {
                        self.end_block(ctx, conn, dir, now);
                    }
                    self.desync(ctx, dir);
                    return;
                };
                append(ctx, b, payload);
                if h.has(frame::FLAG_END_HEADERS) {
                    self.end_block(ctx, conn, dir, now);
                }
            }
            frame::SETTINGS => {
                if h.stream != 0 || payload.len() % 6 != 0 {
                    ctx.h2.h2_frames_invalid += 1;
                }
                if !h.has(frame::FLAG_ACK) {
                    self.settings(dir, payload);
                }
            }
            frame::RST_STREAM => match frame::u32_at(payload, 0) {
                Some(code) if h.stream != 0 => {
                    ctx.h2.h2_resets += 1;
                    if let Some(s) = self.streams.get_mut(&h.stream) {
                        s.reset(dir, code, now);
                        self.export_if_done(ctx, conn, h.stream, now);
                    }
                }
                _ => ctx.h2.h2_frames_invalid += 1,
            },
            frame::GOAWAY => match frame::goaway(payload) {
                Some((last, code)) => {
                    ctx.h2.h2_goaways += 1;
                    self.goaway(ctx, conn, dir, last, code, now);
                }
                None => ctx.h2.h2_frames_invalid += 1,
            },
            frame::PRIORITY | frame::PING | frame::WINDOW_UPDATE => {}
            _ => ctx.h2.h2_frames_unknown += 1,
        }
    }

    /// A HEADERS or PUSH_PROMISE fragment opens a header block.
    #[allow(clippy::too_many_arguments)]
    fn start_block(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        h: FrameHeader,
        promised: Option<u32>,
        fragment: &[u8],
        start: Timestamp,
        now: Timestamp,
    ) {
        let mut b = PendingBlock {
            stream: h.stream,
            promised,
            end_stream: promised.is_none() && h.has(frame::FLAG_END_STREAM),
            buf: Vec::new(),
            ts: start,
            over: false,
        };
        if h.has(frame::FLAG_END_HEADERS) && fragment.len() <= MAX_HEADER_BLOCK {
            // The whole block in one frame (the usual case): decoded where it lies.
            self.decode_block(ctx, conn, dir, b, fragment, now);
            return;
        }
        append(ctx, &mut b, fragment);
        self.blocks[dir] = Some(b);
        if h.has(frame::FLAG_END_HEADERS) {
            self.end_block(ctx, conn, dir, now);
        }
    }

    /// A HEADERS or PUSH_PROMISE frame whose payload is malformed: its block is lost.
    fn invalid_block(&mut self, ctx: &mut HttpCtx, dir: Direction) {
        ctx.h2.h2_frames_invalid += 1;
        self.desync(ctx, dir);
    }

    /// The HPACK state of `dir` may have lost a block.
    fn desync(&mut self, _ctx: &mut HttpCtx, dir: Direction) {
        self.hpack[dir].mark_desynced();
        self.desynced[dir] = true;
    }

    /// A header block is whole (or cut short): decode it and give it to its stream.
    fn end_block(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, dir: Direction, now: Timestamp) {
        let Some(mut pb) = self.blocks[dir].take() else {
            return;
        };
        let buf = std::mem::take(&mut pb.buf);
        self.decode_block(ctx, conn, dir, pb, &buf, now);
    }

    /// Decodes the block `pb` (its bytes: `bytes`) and gives it to its stream.
    fn decode_block(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        pb: PendingBlock,
        bytes: &[u8],
        now: Timestamp,
    ) {
        if pb.over {
            // Dropped at the limit: the table insertions in it are lost.
            self.desync(ctx, dir);
        }
        let mut fields = std::mem::take(&mut self.fields);
        fields.clear();
        let report = if pb.over {
            Default::default()
        } else {
            self.hpack[dir].decode(bytes, &mut fields)
        };
        ctx.h2.h2_hpack_errors += u64::from(report.errors);
        ctx.h2.h2_hpack_table_cap_hits += u64::from(report.capped_updates);
        let desync = self.desynced[dir] || report.unknown_indices > 0 || pb.over;
        if desync {
            ctx.h2.h2_hpack_desync_blocks += 1;
        }
        let (headers, cut) = stream::to_headers(&mut fields, ctx);
        if fields.capacity() <= SCRATCH_FIELDS {
            self.fields = fields;
        }
        let block = Block {
            fields: headers,
            wire_len: bytes.len() as u64,
            ts: pb.ts,
            desync,
            cut,
        };
        let target = pb.promised.unwrap_or(pb.stream);
        if pb.promised.is_some() {
            // A promised request (§8.4): a stream of its own, its request complete.
            ctx.h2.h2_pushes += 1;
            let Some(s) = self.open(ctx, target) else {
                return;
            };
            s.pushed = true;
            s.request_block(ctx, block, true, now);
            if pb.over {
                s.flag(Anomaly::HeadTooLarge);
            }
            return;
        }
        let Some(s) = self.open(ctx, target) else {
            return;
        };
        if pb.over {
            s.flag(Anomaly::HeadTooLarge);
        }
        if dir == Direction::ToServer {
            s.request_block(ctx, block, pb.end_stream, now);
        } else {
            s.response_block(ctx, block, pb.end_stream, now);
        }
        self.export_if_done(ctx, conn, target, now);
    }

    /// The stream `id`, opened if new. None: it ended already, or `MAX_STREAMS` are open.
    fn open(&mut self, ctx: &mut HttpCtx, id: u32) -> Option<&mut Stream> {
        if !self.streams.contains_key(&id) {
            let parity = (id % 2 == 0) as usize;
            let lost = &mut self.lost[parity];
            // A new id (above every one seen) closes the open-ended lost range; a lower one
            // opens only inside a closed range (found by the fuzz target `h2`: a pickup's
            // first id taken as "inside" (0, MAX) left `highest` behind).
            let new = id > self.highest[parity];
            let in_lost = if new {
                None
            } else {
                lost.iter().position(|&(lo, hi)| lo < id && id < hi)
            };
            if (!new && in_lost.is_none()) || id == 0 {
                ctx.h2.h2_frames_closed_stream += 1;
                return None;
            }
            if self.streams.len() >= MAX_STREAMS {
                ctx.h2.h2_stream_limit_hits += 1;
                return None;
            }
            if let Some(i) = in_lost {
                // Opened in the lost bytes: the range splits around it.
                let (lo, hi) = lost.remove(i);
                let parts = [(lo, id), (id, hi)];
                lost.extend(parts.into_iter().filter(|(l, h)| h.saturating_sub(*l) > 2));
            } else {
                for r in lost.iter_mut().filter(|r| r.1 == u32::MAX) {
                    r.1 = id;
                }
                lost.retain(|(l, h)| h.saturating_sub(*l) > 2);
                self.highest[parity] = id;
            }
            self.depth = self.depth.saturating_add(1);
            let mut s = Stream::new(id, self.depth, ctx.limits.max_body_keep);
            s.sizes_only(!ctx.keep_bodies);
            self.streams.insert(id, s);
        }
        self.streams.get_mut(&id)
    }

    /// Exports stream `id` if both its sides ended.
    fn export_if_done(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, id: u32, now: Timestamp) {
        if self.streams.get(&id).is_some_and(Stream::done) {
            if let Some(s) = self.streams.remove(&id) {
                let tx = s.finish(ctx, conn, Unanswered::ConnectionClosed, now);
                ctx.complete(tx);
            }
        }
    }

    /// DATA content of `dir` (one piece of a frame).
    #[allow(clippy::too_many_arguments)]
    fn data(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        h: FrameHeader,
        bytes: &[u8],
        first: bool,
        last: bool,
        _start: Timestamp,
        now: Timestamp,
    ) {
        if self.blocks[dir].is_some() {
            ctx.h2.h2_continuation_errors += 1;
            self.end_block(ctx, conn, dir, now);
        }
        if h.stream == 0 {
            ctx.h2.h2_frames_invalid += 1;
            return;
        }
        // DATA of a stream whose head was lost opens it (placeholder head, flagged).
        // Only a frame's first piece opens it (or counts it as late): the rest follow it.
        let Some(s) = (if self.streams.contains_key(&h.stream) {
            self.streams.get_mut(&h.stream)
        } else if first {
            self.open(ctx, h.stream)
        } else {
            None
        }) else {
            return;
        };
        s.data(dir, bytes, now);
        if last && h.has(frame::FLAG_END_STREAM) {
            s.end_side(side(dir), now);
            self.export_if_done(ctx, conn, h.stream, now);
        }
    }

    /// SETTINGS sent in `dir`: they bound what the *other* direction carries (§6.5.2).
    fn settings(&mut self, dir: Direction, payload: &[u8]) {
        let to = dir.reverse();
        for (id, value) in frame::settings(payload) {
            match id {
                frame::SETTINGS_HEADER_TABLE_SIZE => self.hpack[to].set_max_table_size(value),
                frame::SETTINGS_MAX_FRAME_SIZE => {
                    self.max_frame[to] = value.clamp(frame::DEFAULT_MAX_FRAME, frame::MAX_FRAME_CAP)
                }
                _ => {}
            }
        }
    }

    /// GOAWAY sent in `dir` (§6.8): streams its receiver opened above `last` were not
    /// processed by the sender and end here.
    fn goaway(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        last: u32,
        code: u32,
        now: Timestamp,
    ) {
        // The server's GOAWAY names client (odd) streams; the client's, pushed (even) ones.
        let odd = dir == Direction::ToClient;
        let ended: Vec<u32> = self
            .streams
            .keys()
            .copied()
            .filter(|id| (id % 2 == 1) == odd && *id > last)
            .collect();
        for id in ended {
            if let Some(mut s) = self.streams.remove(&id) {
                s.refused(code);
                let tx = s.finish(ctx, conn, Unanswered::StreamReset, now);
                ctx.complete(tx);
            }
        }
    }

    /// A frame of `dir` was lost whole (skipped at the size limit, or taken by a gap with
    /// its end known): a header block in it desyncs the direction's HPACK state.
    fn frame_lost(&mut self, ctx: &mut HttpCtx, dir: Direction, h: FrameHeader) {
        if matches!(
            h.kind,
            frame::HEADERS | frame::CONTINUATION | frame::PUSH_PROMISE
        ) {
            self.ids_may_be_lost(dir);
            self.blocks[dir] = None;
            self.desync(ctx, dir);
            if let Some(s) = self.streams.get_mut(&h.stream) {
                s.flag(Anomaly::FramesLost);
                s.flag(Anomaly::HpackDesync);
            }
        }
    }

    /// Bytes of `dir` were lost where a frame opening streams may have been: the client's
    /// HEADERS (odd ids), the server's PUSH_PROMISE (even ids).
    fn ids_may_be_lost(&mut self, dir: Direction) {
        let parity = usize::from(dir == Direction::ToClient);
        let lost = &mut self.lost[parity];
        if lost.iter().any(|r| r.1 == u32::MAX) {
            return;
        }
        if lost.len() >= MAX_LOST_RANGES {
            lost.remove(0);
        }
        lost.push((self.highest[parity], u32::MAX));
    }

    /// The frame boundary of `dir` was lost: any frame may be gone.
    fn boundary_lost(&mut self, ctx: &mut HttpCtx, dir: Direction) {
        self.ids_may_be_lost(dir);
        self.blocks[dir] = None;
        self.desync(ctx, dir);
        let s = side(dir);
        for st in self.streams.values_mut() {
            if !st.ended[s] {
                st.flag(Anomaly::FramesLost);
            }
        }
    }

    /// Every stream still open is exported: the connection ended (`why`).
    fn flush(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, why: Unanswered, now: Timestamp) {
        for dir in [Direction::ToServer, Direction::ToClient] {
            self.end_block(ctx, conn, dir, now);
        }
        for (_, s) in std::mem::take(&mut self.streams) {
            let tx = s.finish(ctx, conn, why, now);
            ctx.complete(tx);
        }
    }
}

/// Appends a fragment to a pending block, bounded by `MAX_HEADER_BLOCK`.
fn append(ctx: &mut HttpCtx, b: &mut PendingBlock, fragment: &[u8]) {
    if b.over {
        return;
    }
    if b.buf.len() + fragment.len() > MAX_HEADER_BLOCK {
        ctx.h2.h2_header_block_limit_hits += 1;
        b.over = true;
        b.buf = Vec::new();
        return;
    }
    b.buf.extend_from_slice(fragment);
}

impl StreamHandler for H2Conn {
    type Ctx = HttpCtx;

    fn on_data(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        dir: Direction,
        mut data: &[u8],
        ts: Timestamp,
    ) {
        if dir == Direction::ToServer && self.st.preface_left > 0 {
            let at = H2_PREFACE.len() - self.st.preface_left;
            let n = self.st.preface_left.min(data.len());
            let expected = H2_PREFACE.get(at..at + n).unwrap_or_default();
            if data.get(..n) == Some(expected) {
                self.st.preface_left -= n;
                data = data.get(n..).unwrap_or_default();
            } else {
                // Not the preface: frames from here (the framing is unknown if part of
                // the preface came first).
                ctx.h2.h2_preface_missing += 1;
                self.st.preface_left = 0;
                if at > 0 {
                    self.readers[dir] = FrameReader::new(true);
                }
            }
        }
        if !data.is_empty() {
            self.settle(ctx, conn, dir.reverse());
            self.feed(ctx, conn, dir, data, ts, 0);
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
        if len == 0 {
            return;
        }
        if dir == Direction::ToServer && self.st.preface_left > 0 {
            self.st.preface_left = 0;
            ctx.h2.h2_preface_missing += 1;
        }
        match self.readers[dir].gap(len) {
            GapEffect::Absorbed => {}
            GapEffect::DataMissing { header, missing } => {
                if let Some(s) = self.st.streams.get_mut(&header.stream) {
                    s.data_missing(dir, missing);
                }
                // A DATA frame emptied by the gap still delivers its end.
                self.feed(ctx, conn, dir, &[], ts, 0);
            }
            GapEffect::FrameLost { header } => self.st.frame_lost(ctx, dir, header),
            GapEffect::Lost { header } => {
                if let Some(h) = header {
                    self.st.frame_lost(ctx, dir, h);
                }
                self.st.boundary_lost(ctx, dir);
            }
        }
    }

    /// A FIN ends no stream (the other direction may still answer), but a direction
    /// looking for its frame boundary reads what it holds one last time.
    fn on_fin(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, dir: Direction, ts: Timestamp) {
        self.finish_direction(ctx, conn, dir, ts);
    }

    fn on_close(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, reason: CloseReason, ts: Timestamp) {
        let why = match reason {
            CloseReason::EndOfCapture => Unanswered::EndOfCapture,
            CloseReason::Evicted => Unanswered::Evicted,
            _ => Unanswered::ConnectionClosed,
        };
        for dir in [Direction::ToServer, Direction::ToClient] {
            self.finish_direction(ctx, conn, dir, ts);
        }
        self.st.flush(ctx, conn, why, ts);
    }

    /// Streams whose request ended and that have had no response for
    /// `-response-timeout` are exported unanswered (their later frames are ignored), and
    /// reset streams once `RESET_GRACE` has passed.
    fn on_tick(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, now: Timestamp) {
        let timeout = ctx.limits.response_timeout;
        let expired: Vec<u32> = self
            .st
            .streams
            .values()
            .filter(|s| {
                s.ended[0]
                    && s.response.is_none()
                    && s.interim.is_empty()
                    && s.request
                        .as_ref()
                        .is_some_and(|r| now.since(r.last_ts) >= timeout)
            })
            .map(|s| s.id)
            .collect();
        for id in expired {
            if let Some(s) = self.st.streams.remove(&id) {
                ctx.counters.response_timeouts += 1;
                let tx = s.finish(ctx, conn, Unanswered::Timeout, now);
                ctx.complete(tx);
            }
        }
        let reset: Vec<u32> = self
            .st
            .streams
            .values()
            .filter(|s| s.reset_at.is_some_and(|t| now.since(t) >= RESET_GRACE))
            .map(|s| s.id)
            .collect();
        for id in reset {
            if let Some(s) = self.st.streams.remove(&id) {
                let tx = s.finish(ctx, conn, Unanswered::StreamReset, now);
                ctx.complete(tx);
            }
        }
    }

    fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.readers.iter().map(FrameReader::heap_bytes).sum::<usize>()
            + self.st.hpack.iter().map(Decoder::mem_bytes).sum::<usize>()
            + self.st.fields.capacity() * std::mem::size_of::<HeaderField>()
            + self
                .st
                .blocks
                .iter()
                .flatten()
                .map(|b| std::mem::size_of::<PendingBlock>() + b.buf.capacity())
                .sum::<usize>()
            // A B-tree node per ~11 entries; the entries themselves by value.
            + self.st.streams.values().map(|s| s.mem_bytes() + 8).sum::<usize>()
    }

    fn shed_memory(&mut self, ctx: &mut HttpCtx) -> bool {
        let mut dropped = false;
        for s in self.st.streams.values_mut() {
            dropped |= s.shed();
        }
        if dropped {
            ctx.counters.memory_limit_bodies_dropped += 1;
        }
        dropped
    }
}

impl crate::proto::Session for H2Conn {}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_limits;
#[cfg(test)]
mod tests_streams;
