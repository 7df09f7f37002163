//! `FrameReader`: cuts one direction's byte stream into HTTP/2 frames whatever the segment
//! (or TLS record) boundaries are, and finds the frame boundary again after a gap or at a
//! mid-stream pickup.
//!
//! What it does: DATA payloads are streamed to the caller as they arrive, padding stripped
//! (a 16 MiB DATA frame is never held); every other frame is held whole up to
//! `MAX_FRAME_BUFFER` and larger ones are skipped (`ReadEvent::Skipped`); a gap inside a
//! frame whose end is known keeps the framing (`GapEffect`); otherwise the reader is
//! `Lost` and scans for a frame header that is plausible (`FrameHeader::plausible`) and
//! chains to a second plausible one (research §7.5), then replays the bytes from there.
//!
//! What it does not do: interpret frames (see `conn.rs`). Invariants: it holds at most
//! `MAX_FRAME_BUFFER + 2 * HEADER_LEN` bytes (plus the replay of what resync found, which
//! is at most that); each input byte is scanned a bounded number of times; events do not
//! depend on how the input is split (only their timestamps do); no input panics it.

use crate::time::Timestamp;

use super::frame::{FrameHeader, DATA, FLAG_PADDED, HEADER_LEN, MAX_FRAME_BUFFER};

/// What the reader found in the bytes it was given.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadEvent<'a> {
    /// A whole non-DATA frame; `ts` is the packet time of its first byte.
    Frame {
        header: FrameHeader,
        payload: &'a [u8],
        ts: Timestamp,
    },
    /// Bytes of a DATA frame's content (padding stripped), as they arrive. `first` marks
    /// the frame's first piece (`ts` is the frame's start), `last` its end (where
    /// END_STREAM, if set, applies). A DATA frame with no content gives one empty piece.
    Data {
        header: FrameHeader,
        bytes: &'a [u8],
        first: bool,
        last: bool,
        ts: Timestamp,
    },
    /// A DATA frame whose padding does not fit its length (§6.1): skipped.
    BadData { header: FrameHeader },
    /// A non-DATA frame over `MAX_FRAME_BUFFER`: its payload is skipped unread.
    Skipped { header: FrameHeader },
    /// The reader found the frame boundary again after skipping `skipped` bytes.
    Resynced { skipped: u64 },
}

/// What a gap did to the reader's framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GapEffect {
    /// Inside bytes being skipped anyway: nothing lost that mattered.
    Absorbed,
    /// Inside a DATA frame's content: `missing` content bytes lost; the frame goes on.
    DataMissing { header: FrameHeader, missing: u64 },
    /// Part of a frame whose end is still known was lost: that frame is gone (a DATA frame
    /// whose pad length byte was lost counts here too), framing is intact.
    FrameLost { header: FrameHeader },
    /// Framing is lost; `header`: the frame the gap began in, if one was being read.
    Lost { header: Option<FrameHeader> },
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// Collecting a frame header (`buf` holds its first bytes).
    Header,
    /// Collecting a non-DATA payload into `buf`.
    Payload { header: FrameHeader, ts: Timestamp },
    /// Skipping `left` bytes (an over-large frame, DATA padding, a frame's lost rest).
    Skip { left: u64 },
    /// Inside a DATA frame. `pad_known`: its pad length byte was read (or it has none);
    /// then `content` bytes are still to deliver and `pad` to skip after them.
    Data {
        header: FrameHeader,
        pad_known: bool,
        content: u32,
        pad: u32,
        started: bool,
        ts: Timestamp,
    },
    /// The frame boundary is unknown: `buf` holds bytes scanned for it.
    Lost,
}

/// Cuts one direction's bytes into frames (`ReadEvent`s).
#[derive(Clone, Debug)]
pub struct FrameReader {
    state: State,
    buf: Vec<u8>,
    /// Bytes at the front of `buf` that an event handed out still borrows: dropped at
    /// the next call.
    used: usize,
    /// Packet time of the first byte of the header being collected.
    header_ts: Timestamp,
    /// In `Lost`: offsets of `buf` before this hold no candidate header.
    scan_from: usize,
    /// In `Lost`: bytes dropped since the boundary was lost.
    lost_bytes: u64,
    /// After `Resynced`: the bytes from the found boundary on, which the caller reads
    /// again (`take_replay`) before the rest of its input.
    replay: Vec<u8>,
}

impl Default for FrameReader {
    fn default() -> Self {
        FrameReader::new(false)
    }
}

impl FrameReader {
    /// A reader at a frame boundary, or (`lost`) looking for one (a mid-stream pickup).
    pub fn new(lost: bool) -> FrameReader {
        FrameReader {
            state: if lost { State::Lost } else { State::Header },
            buf: Vec::new(),
            used: 0,
            header_ts: Timestamp::default(),
            scan_from: 0,
            lost_bytes: 0,
            replay: Vec::new(),
        }
    }

    /// Whether the reader is looking for the frame boundary.
    #[cfg(test)]
    pub fn is_lost(&self) -> bool {
        matches!(self.state, State::Lost)
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.buf.capacity() + self.replay.capacity()
    }

    /// After `ReadEvent::Resynced`: the bytes from the found frame boundary on, to be
    /// given to `next` before the rest of the input.
    pub fn take_replay(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.replay)
    }

    /// The direction ended while the boundary was being looked for: the bytes held are
    /// scanned once more, a last frame ending exactly at their end counting as chained.
    /// `Resynced` (then `take_replay`) or None.
    pub fn finish(&mut self, max_frame: u32) -> Option<ReadEvent<'static>> {
        if !matches!(self.state, State::Lost) {
            return None;
        }
        self.scan_from = 0;
        match self.scan(&mut &[][..], max_frame, true) {
            Some(ReadEvent::Resynced { skipped }) => Some(ReadEvent::Resynced { skipped }),
            _ => None,
        }
    }

    /// The other direction spoke while this one looks for its frame boundary and waits
    /// for the header that would chain to a candidate: the peer answering says this
    /// direction paused, so a candidate frame ending exactly where the held bytes end
    /// counts as chained (as at the direction's end, `finish`). A candidate still
    /// incomplete keeps being waited for. Makes a pickup's lone request (one HEADERS in
    /// its segment, then the answer) readable before its answer. `Resynced` (then
    /// `take_replay`, and `held_ts` for its time) or None.
    pub fn settle(&mut self, max_frame: u32) -> Option<ReadEvent<'static>> {
        if !matches!(self.state, State::Lost) {
            return None;
        }
        let at = self.scan_from;
        let h = FrameHeader::parse(self.buf.get(at..)?)?;
        let max_frame = max_frame.min(MAX_FRAME_BUFFER as u32);
        if !h.plausible(max_frame) || at + HEADER_LEN + h.len as usize != self.buf.len() {
            return None;
        }
        Some(self.resync_at(at))
    }

    /// The frame boundary was found at `at` of the held bytes: what comes before it is
    /// skipped (with what was lost before), the rest is replayed from a frame header.
    fn resync_at(&mut self, at: usize) -> ReadEvent<'static> {
        let skipped = self.lost_bytes + at as u64;
        self.buf.drain(..at);
        self.replay = std::mem::take(&mut self.buf);
        self.scan_from = 0;
        self.lost_bytes = 0;
        self.state = State::Header;
        ReadEvent::Resynced { skipped }
    }

    /// Packet time of the last bytes taken while the boundary was looked for.
    pub fn held_ts(&self) -> Timestamp {
        self.header_ts
    }

    /// `len` bytes of this direction were lost.
    pub fn gap(&mut self, len: u64) -> GapEffect {
        self.release();
        if !self.replay.is_empty() {
            // Bytes not read again yet come before the gap: the found boundary is useless.
            self.lost_bytes += self.replay.len() as u64;
            self.replay = Vec::new();
            self.lose();
            return GapEffect::Lost { header: None };
        }
        let effect = match self.state {
            State::Header | State::Lost => GapEffect::Lost { header: None },
            State::Skip { left } if len <= left => {
                self.state = State::Skip { left: left - len };
                return GapEffect::Absorbed;
            }
            State::Skip { .. } => GapEffect::Lost { header: None },
            State::Payload { header, .. } => {
                let left = u64::from(header.len).saturating_sub(self.buf.len() as u64);
                if len <= left {
                    self.buf.clear();
                    self.state = State::Skip { left: left - len };
                    return GapEffect::FrameLost { header };
                }
                GapEffect::Lost {
                    header: Some(header),
                }
            }
            State::Data {
                header,
                pad_known: false,
                ..
            } => {
                // The pad length byte is lost: the frame's end is known, its content not.
                let left = u64::from(header.len);
                if len <= left {
                    self.state = State::Skip { left: left - len };
                    return GapEffect::FrameLost { header };
                }
                GapEffect::Lost {
                    header: Some(header),
                }
            }
            State::Data {
                header,
                pad_known: true,
                content,
                pad,
                started,
                ts,
            } => {
                let content64 = u64::from(content);
                if len <= content64 + u64::from(pad) {
                    let missing = len.min(content64);
                    let pad_lost = len - missing;
                    self.state = State::Data {
                        header,
                        pad_known: true,
                        content: content - missing as u32,
                        pad: pad - pad_lost as u32,
                        started,
                        ts,
                    };
                    return GapEffect::DataMissing { header, missing };
                }
                GapEffect::Lost {
                    header: Some(header),
                }
            }
        };
        self.lose();
        effect
    }

    fn release(&mut self) {
        if self.used > 0 {
            self.buf.drain(..self.used.min(self.buf.len()));
            self.used = 0;
        }
    }

    /// The boundary is lost: scan anew from the next bytes.
    fn lose(&mut self) {
        self.lost_bytes += self.buf.len() as u64;
        self.buf.clear();
        self.scan_from = 0;
        self.state = State::Lost;
    }

    /// The next event from `input` (consumed from its front), or None when `input` is
    /// used up without completing one. `max_frame`: the largest frame the receiver of
    /// this direction announced (resync plausibility).
    pub fn next<'a>(
        &'a mut self,
        input: &mut &'a [u8],
        ts: Timestamp,
        max_frame: u32,
    ) -> Option<ReadEvent<'a>> {
        self.release();
        loop {
            match self.state {
                State::Header => {
                    if self.buf.is_empty() {
                        if let Some(h) = FrameHeader::parse(input) {
                            // Fast path: a whole header in the input.
                            *input = input.get(HEADER_LEN..).unwrap_or_default();
                            self.header_ts = ts;
                            if let Some(ev) = self.start_frame(h, ts) {
                                return Some(ev);
                            }
                            continue;
                        }
                        if input.is_empty() {
                            return None;
                        }
                        self.header_ts = ts;
                    }
                    let take = (HEADER_LEN - self.buf.len().min(HEADER_LEN)).min(input.len());
                    self.buf
                        .extend_from_slice(input.get(..take).unwrap_or_default());
                    *input = input.get(take..).unwrap_or_default();
                    let h = FrameHeader::parse(&self.buf)?;
                    self.buf.clear();
                    let at = self.header_ts;
                    if let Some(ev) = self.start_frame(h, at) {
                        return Some(ev);
                    }
                }
                State::Payload { header, ts: at } => {
                    let want = header.len as usize;
                    if self.buf.is_empty() && input.len() >= want {
                        // Fast path: the whole payload in the input, borrowed.
                        let (payload, rest) = input.split_at(want);
                        *input = rest;
                        self.state = State::Header;
                        return Some(ReadEvent::Frame {
                            header,
                            payload,
                            ts: at,
                        });
                    }
                    let take = want.saturating_sub(self.buf.len()).min(input.len());
                    self.buf
                        .extend_from_slice(input.get(..take).unwrap_or_default());
                    *input = input.get(take..).unwrap_or_default();
                    if self.buf.len() < want {
                        return None;
                    }
                    self.state = State::Header;
                    self.used = want;
                    return Some(ReadEvent::Frame {
                        header,
                        payload: self.buf.get(..want).unwrap_or_default(),
                        ts: at,
                    });
                }
                State::Skip { left } => {
                    let take = left.min(input.len() as u64);
                    *input = input.get(take as usize..).unwrap_or_default();
                    if take < left {
                        self.state = State::Skip { left: left - take };
                        return None;
                    }
                    self.state = State::Header;
                }
                State::Data {
                    header,
                    pad_known: false,
                    started,
                    ts: at,
                    ..
                } => {
                    let (&p, rest) = input.split_first()?;
                    *input = rest;
                    let body = header.len.saturating_sub(1);
                    if u32::from(p) > body {
                        self.state = State::Skip {
                            left: u64::from(body),
                        };
                        return Some(ReadEvent::BadData { header });
                    }
                    self.state = State::Data {
                        header,
                        pad_known: true,
                        content: body - u32::from(p),
                        pad: u32::from(p),
                        started,
                        ts: at,
                    };
                }
                State::Data {
                    header,
                    pad_known: true,
                    content,
                    pad,
                    started,
                    ts: at,
                } => {
                    if content > 0 && input.is_empty() {
                        return None;
                    }
                    let take = (content as usize).min(input.len());
                    let (bytes, rest) = input.split_at(take);
                    *input = rest;
                    let content = content - take as u32;
                    let last = content == 0;
                    self.state = if last {
                        State::Skip {
                            left: u64::from(pad),
                        }
                    } else {
                        State::Data {
                            header,
                            pad_known: true,
                            content,
                            pad,
                            started: true,
                            ts: at,
                        }
                    };
                    return Some(ReadEvent::Data {
                        header,
                        bytes,
                        first: !started,
                        last,
                        ts: at,
                    });
                }
                State::Lost => {
                    if !input.is_empty() {
                        self.header_ts = ts;
                    }
                    return self.scan(input, max_frame, false);
                }
            }
        }
    }

    /// A frame header was read: what its payload needs, and the event it makes at once.
    fn start_frame(&mut self, h: FrameHeader, ts: Timestamp) -> Option<ReadEvent<'static>> {
        if h.kind == DATA {
            let padded = h.has(FLAG_PADDED);
            if padded && h.len == 0 {
                self.state = State::Header;
                return Some(ReadEvent::BadData { header: h });
            }
            self.state = State::Data {
                header: h,
                pad_known: !padded,
                content: if padded { 0 } else { h.len },
                pad: 0,
                started: false,
                ts,
            };
            None
        } else if h.len as usize > MAX_FRAME_BUFFER {
            self.state = State::Skip {
                left: u64::from(h.len),
            };
            Some(ReadEvent::Skipped { header: h })
        } else {
            self.state = State::Payload { header: h, ts };
            None
        }
    }

    /// `Lost`: takes `input` into `buf` and looks for an offset where a plausible frame
    /// header is followed, right after its payload, by another one. Found: `buf` is
    /// trimmed to start there and `Resynced` is returned (the caller replays `buf`).
    fn scan<'a>(
        &mut self,
        input: &mut &'a [u8],
        max_frame: u32,
        at_end: bool,
    ) -> Option<ReadEvent<'a>> {
        // A candidate's chained header must fit in what is held: frames up to the
        // buffer's size can be checked.
        let limit = MAX_FRAME_BUFFER + 2 * HEADER_LEN;
        let max_frame = max_frame.min(MAX_FRAME_BUFFER as u32);
        loop {
            let room = limit.saturating_sub(self.buf.len());
            let take = room.min(input.len());
            self.buf
                .extend_from_slice(input.get(..take).unwrap_or_default());
            *input = input.get(take..).unwrap_or_default();
            let mut at = self.scan_from;
            let mut waiting = false;
            while at + HEADER_LEN <= self.buf.len() {
                let h = FrameHeader::parse(self.buf.get(at..).unwrap_or_default());
                let Some(h) = h.filter(|h| h.plausible(max_frame)) else {
                    at += 1;
                    continue;
                };
                let next = at + HEADER_LEN + h.len as usize;
                match FrameHeader::parse(self.buf.get(next..).unwrap_or_default()) {
                    Some(h2) if h2.plausible(max_frame) => {
                        return Some(self.resync_at(at));
                    }
                    Some(_) => at += 1,
                    // The direction ended: a plausible frame ending exactly at its end
                    // chains to that end.
                    None if at_end && next == self.buf.len() => {
                        return Some(self.resync_at(at));
                    }
                    None if at_end => at += 1,
                    None => {
                        // The chained header is not here yet: wait for it.
                        waiting = true;
                        break;
                    }
                }
            }
            self.scan_from = at;
            if !waiting || self.buf.len() >= limit {
                // Offsets before `at` can hold no boundary: drop them.
                let drop = if waiting && self.buf.len() >= limit {
                    // Cannot wait longer at `at`: move past it.
                    at + 1
                } else {
                    at
                };
                let drop = drop.min(self.buf.len());
                self.buf.drain(..drop);
                self.lost_bytes += drop as u64;
                self.scan_from = 0;
            }
            if input.is_empty() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests;
