//! `ConnTable` on arbitrary segment sequences between a server and up to four client ports
//! (so `max_connections` = 2 evicts), with tiny out-of-order limits.
//!
//! Every payload byte is the low byte of its own sequence number, so the handler can check
//! the promise of the reassembler: each direction is delivered in order, never spliced —
//! a byte follows the previous one, or a gap of exactly the missing length. Also checked:
//! no call after `on_close`, nothing after a direction's FIN, no more bytes delivered than
//! were fed, gaps within the sequence space.
//!
//! Input: 3 bytes (+ operands) per segment:
//! - byte 0: bit 0 direction (0 client->server), bits 1-4 SYN ACK FIN RST, bit 5 TCP-AO
//!   option, bits 6-7 client port (one of four).
//! - byte 1: bits 0-3 time step (index into `STEPS`; 12+ also calls `on_tick`), bits 4-5
//!   seq mode (0/3 next, 1 next + i16 LE operand, 2 u32 LE operand), bits 6-7 ack mode (0
//!   peer's next, 1 u32 LE operand, 2 peer's next - u16 LE operand, 3 last ack).
//! - byte 2: payload length. An odd length also gives the segment a TCP timestamp (its
//!   index minus byte 1's bits 0-1, so PAWS sees old ones); a pure ACK whose byte 1 has
//!   bit 0 set advertises a zero window. The causal window holds 4 segments. An odd
//!   length with seq mode 1 and byte 1's bit 1 set makes a forged copy: its bytes have
//!   bit 7 flipped, so copies of the same bytes can differ (`on_overlap_conflict`).
//!
//! Segments go in batches, as the worker gives them: each payload is appended to a batch
//! of `1 + input length % 8` segments (`ConnTable::on_segment_in`), which ends with
//! `detach_window` (and before every tick); the causal window and the retained bytes keep
//! payloads by their place in the batch until then.
//!
//! Bytes are compared on their low 7 bits (a forged copy may be the one kept). Checked
//! for conflicts: each is reported before its bytes are delivered or, for bytes already
//! delivered (retained until acknowledged), wholly before the next byte; never after the
//! direction's FIN, and never when no forged copy was fed.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::Cursor;
use crate::hosts::ServerSet;
use crate::model::{ConnInfo, Direction};
use crate::reassembly::{
    CloseReason, ConnTable, HandlerFactory, ReassemblyCounters, ReassemblyLimits, StreamHandler,
};
use crate::time::{MonotonicClock, Timestamp};
use crate::wire::{TcpFlags, TcpSegment};

/// Time steps in milliseconds; 31 s is beyond the 30 s idle timeout below.
const STEPS: [u64; 16] = [
    0, 0, 0, 0, 1, 1, 10, 100, 500, 1000, 5000, 31_000, 0, 100, 1000, 31_000,
];

/// What every handler reports into (the table's `Ctx`).
#[derive(Default)]
struct Totals {
    fed: u64,
    delivered: u64,
    /// Forged segments fed, and conflicts reported.
    forged: u64,
    conflicts: u64,
}

#[derive(Default)]
struct Half {
    /// The byte the next delivered byte must be (unknown before the first byte).
    expect: Option<u8>,
    finished: bool,
    /// Bytes delivered so far, data and gaps: the stream offset of the next.
    delivered: u64,
}

struct Checker {
    halves: [Half; 2],
    closed: bool,
    /// `on_ack` was called for this direction: the next call must be its `on_data`.
    ack_for: Option<Direction>,
}

impl Checker {
    fn live(&self, conn: &ConnInfo) {
        assert!(!self.closed, "call after on_close");
        assert!(self.ack_for.is_none(), "on_ack not followed by on_data");
        // Either side may be taken for the server (a SYN from port 80 makes it the client).
        let ports = [conn.client.port(), conn.server.port()];
        assert!(ports.contains(&80) && ports.iter().any(|p| (40_000..40_004).contains(p)));
    }
}

impl StreamHandler for Checker {
    type Ctx = Totals;

    fn on_data(
        &mut self,
        t: &mut Totals,
        conn: &ConnInfo,
        dir: Direction,
        data: &[u8],
        _: Timestamp,
    ) {
        assert!(
            self.ack_for.is_none_or(|d| d == dir),
            "on_ack for the other direction"
        );
        self.ack_for = None;
        self.live(conn);
        assert!(!data.is_empty(), "empty on_data");
        let h = &mut self.halves[dir.index()];
        assert!(!h.finished, "data after FIN");
        let mut expect = h.expect;
        for &b in data {
            if let Some(e) = expect {
                assert_eq!(b & 0x7f, e & 0x7f, "{dir:?}: bytes spliced or reordered");
            }
            expect = Some((b & 0x7f).wrapping_add(1));
        }
        h.expect = expect;
        h.delivered += data.len() as u64;
        t.delivered += data.len() as u64;
        assert!(
            t.delivered <= t.fed,
            "delivered {} of {} bytes fed",
            t.delivered,
            t.fed
        );
    }

    fn on_ack(&mut self, _: &mut Totals, conn: &ConnInfo, dir: Direction, _ack: u64) {
        self.live(conn);
        self.ack_for = Some(dir);
    }

    fn on_gap(&mut self, _: &mut Totals, conn: &ConnInfo, dir: Direction, len: u64, _: Timestamp) {
        self.live(conn);
        assert!(len > 0, "empty gap");
        assert!(
            len < 1 << 32,
            "gap of {len} bytes: beyond the sequence space"
        );
        let h = &mut self.halves[dir.index()];
        assert!(!h.finished, "gap after FIN");
        h.expect = h.expect.map(|e| e.wrapping_add(len as u8));
        h.delivered += len;
    }

    fn on_overlap_conflict(
        &mut self,
        t: &mut Totals,
        conn: &ConnInfo,
        dir: Direction,
        offset: u64,
        len: u64,
    ) {
        self.live(conn);
        assert!(len > 0, "empty conflict");
        let h = &self.halves[dir.index()];
        assert!(!h.finished, "conflict after FIN");
        // Buffered bytes are reported before their delivery; delivered ones (retained
        // until acknowledged) wholly before the next byte: never a report that straddles.
        assert!(
            offset >= h.delivered || offset + len <= h.delivered,
            "conflict {offset}+{len} straddles the delivery point {}",
            h.delivered
        );
        t.conflicts += 1;
    }

    fn on_fin(&mut self, _: &mut Totals, conn: &ConnInfo, dir: Direction, _: Timestamp) {
        self.live(conn);
        let h = &mut self.halves[dir.index()];
        assert!(!h.finished, "two FINs");
        h.finished = true;
    }

    fn on_close(&mut self, _: &mut Totals, conn: &ConnInfo, _: CloseReason, _: Timestamp) {
        self.live(conn);
        self.closed = true;
    }

    fn on_tick(&mut self, _: &mut Totals, conn: &ConnInfo, _: Timestamp) {
        self.live(conn);
    }
}

struct Factory;

impl HandlerFactory for Factory {
    type Handler = Checker;
    fn new_handler(&mut self, conn: &ConnInfo) -> Checker {
        assert_ne!(conn.client, conn.server);
        Checker {
            halves: Default::default(),
            closed: false,
            ack_for: None,
        }
    }
}

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    run(data);
}

/// Runs one input as `check` does and returns the table's counters (tests of what the
/// seeds reach).
pub fn run(data: &[u8]) -> ReassemblyCounters {
    let limits = ReassemblyLimits {
        max_ooo_bytes_per_direction: 1024,
        max_ooo_segments_per_direction: 8,
        max_connections: 2,
        // Small enough that every step of the budget policy runs: a bare connection is
        // charged about 650 bytes, so two fit, and one with 900 bytes out of order (under
        // the 1 KiB per direction) is over it alone, so after evicting the other it
        // releases its buffers early. With 4 KiB, two connections of 1 KiB / 8 segments
        // out of order per direction rarely passed it: the policy's steps after the first
        // test were never reached (coverage, docs/robustness.md).
        memory_budget: 1536,
        idle_timeout: Duration::from_secs(30),
        // Small, so that segments go through the causal window and out of it often.
        causal_window: 4,
    };
    let mut table = ConnTable::new(Factory, ServerSet::default(), limits);
    let mut totals = Totals::default();
    let server = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80));
    // Next sequence number and last ack of each side: [client port][0 client, 1 server].
    let mut next = [[1_000u32, 5_000_000u32]; 4];
    let mut last_ack = [[0u32; 2]; 4];
    let mut clock = MonotonicClock::default();
    let mut ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    let mut c = Cursor::new(data);
    let mut index = 0u64;
    let mut batch: Vec<u8> = Vec::new();
    let mut in_batch = 0usize;
    let batch_len = 1 + data.len() % 8;
    while let (Some(b0), Some(b1), Some(len)) = (c.u8(), c.u8(), c.u8()) {
        let side = (b0 & 1) as usize;
        let port = (b0 >> 6) as usize;
        let client = SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 40_000 + port as u16));
        let (src, dst) = if side == 0 {
            (client, server)
        } else {
            (server, client)
        };
        let seq = match (b1 >> 4) & 3 {
            1 => match c.u16() {
                Some(d) => next[port][side].wrapping_add(d as i16 as i32 as u32),
                None => break,
            },
            2 => match c.u32() {
                Some(s) => s,
                None => break,
            },
            _ => next[port][side],
        };
        let ack = match b1 >> 6 {
            0 => next[port][1 - side],
            1 => match c.u32() {
                Some(a) => a,
                None => break,
            },
            2 => match c.u16() {
                Some(d) => next[port][1 - side].wrapping_sub(u32::from(d)),
                None => break,
            },
            _ => last_ack[port][side],
        };
        let flags = TcpFlags {
            syn: b0 & 2 != 0,
            ack: b0 & 4 != 0,
            fin: b0 & 8 != 0,
            rst: b0 & 16 != 0,
        };
        // The payload's bytes are the low bytes of their sequence numbers (after the SYN's).
        let first = seq.wrapping_add(flags.syn as u32);
        let forged = (b1 >> 4) & 3 == 1 && len & 1 == 1 && b1 & 2 != 0;
        let flip = if forged { 0x80 } else { 0 };
        totals.forged += u64::from(forged);
        let at = batch.len();
        batch.extend((0..len as u32).map(|i| first.wrapping_add(i) as u8 ^ flip));
        let payload = batch.get(at..).unwrap_or_default();
        let end = first
            .wrapping_add(len as u32)
            .wrapping_add(flags.fin as u32);
        if end.wrapping_sub(next[port][side]) as i32 > 0 {
            next[port][side] = end;
        }
        last_ack[port][side] = ack;
        let seg = TcpSegment {
            src,
            dst,
            seq,
            ack,
            flags,
            payload,
            auth_option: b0 & 32 != 0,
            // Odd lengths carry a TSval that follows the segment index, sometimes going
            // back by up to 3 (PAWS); pure ACKs sometimes close the window (zero-window
            // probes). Derived from bytes already read, so older corpora keep their meaning.
            timestamp: (len & 1 == 1).then(|| ((index as u32).wrapping_sub(u32::from(b1 & 3)), 0)),
            window: if len == 0 && b1 & 1 == 1 { 0 } else { 65535 },
        };
        ts = ts + Duration::from_millis(STEPS[(b1 & 15) as usize]);
        let now = clock.advance(ts);
        totals.fed += len as u64;
        table.on_segment_in(&mut totals, &seg, index, ts, now, &batch);
        index += 1;
        in_batch += 1;
        let tick = b1 & 15 >= 12;
        if tick || in_batch == batch_len {
            table.detach_window(&batch);
            batch.clear();
            in_batch = 0;
        }
        if tick {
            table.on_tick(&mut totals, now);
        }
        assert!(table.open_connections() <= 2, "max_connections exceeded");
    }
    table.detach_window(&batch);
    let now = clock.advance(ts);
    table.close_all(&mut totals, now);
    assert_eq!(table.open_connections(), 0);
    assert_eq!(table.memory_used(), 0, "memory budget charge left");
    if totals.forged == 0 {
        assert_eq!(totals.conflicts, 0, "conflicts without a forged copy");
    }
    table.counters().clone()
}
