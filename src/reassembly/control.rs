//! Control-segment validation: which RSTs and FINs the receiving stack would accept (issue
//! 9). A RST or FIN the receiver discards (injected by a middlebox or an attacker, or a
//! stale one) must not end, truncate or corrupt the session the endpoints go on with.
//!
//! Policy, each rejection counted by reason (`ReassemblyCounters`):
//! 1. A RST carrying a TCP-MD5/TCP-AO option on a connection whose SYNs had none
//!    (`signed_rsts_ignored`): the receiver discards it (Linux: TCPMD5Unexpected).
//! 2. PAWS (RFC 7323 §5): a RST or FIN whose TSval is older than the latest TSval of its
//!    sender's accepted segments (`rsts_rejected_paws`, `fins_rejected_paws`). The whole
//!    segment is dropped. RFC 7323 §5.2 recommends accepting a RST whatever its timestamp;
//!    we follow Suricata's stream engine instead, which rejects it: a genuine RST carries its
//!    sender's current clock, and a forged one copied from an old segment does not. Data
//!    segments are not judged by PAWS: a passive observer sees retransmissions and capture
//!    reordering that the receiver would drop harmlessly, and their bytes are genuine.
//! 3. In the handshake (RFC 9293 §3.10.7.3, SYN-SENT): a RST from the server before its
//!    SYN-ACK is accepted only with an ACK of the client's ISN + 1 (`rsts_out_of_window`).
//! 4. Sequence window (RFC 5961 §3.2 for RST, §5 in spirit for FIN): a RST must lie between
//!    what the receiver acknowledged and `CONTROL_WINDOW` past the furthest byte known of its
//!    sender; a FIN between what was delivered and the same bound (`rsts_out_of_window`,
//!    `fins_out_of_window`). So a RST or FIN made for another ISN (before the real
//!    handshake, or in it) is discarded. RFC 5961 also asks a RST inside the window but not
//!    at RCV.NXT to be answered by a challenge ACK instead of closing: the observer cannot
//!    tell RCV.NXT exactly (it may have lost bytes), so any RST inside the window closes.
//!
//! What it does not do: judge SYNs (a new SYN is `table::is_new_syn`'s business) or data,
//! and it never judges a direction it has no sequence number for (picked up at the RST).

use super::conn::Conn;
use super::ReassemblyCounters;
use crate::model::Direction;
use crate::wire::{SeqNum, TcpSegment};

/// How far past the furthest byte known of a sender a RST or FIN may lie (2 MiB): stands
/// for the receiver's window, which a passive observer does not know.
pub const CONTROL_WINDOW: u64 = 1 << 21;

/// What to do with a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Process it.
    Accept,
    /// A RST the receiver accepts: the connection ends.
    Reset,
    /// Drop it whole (counted).
    Discard,
}

/// `a` is older than `b` on the 2^32 circle of TCP timestamps (RFC 7323 §5.3).
fn ts_older(a: u32, b: u32) -> bool {
    // Reinterpreting the wrapped difference as two's complement is the point.
    #[allow(clippy::cast_possible_wrap)]
    let d = a.wrapping_sub(b) as i32;
    d < 0
}

impl<H> Conn<H> {
    /// Judges segment `seg` of direction `dir` (see the module docs), and records its
    /// TSval as the sender's latest when it is accepted and in window.
    pub(super) fn check_control(
        &mut self,
        seg: &TcpSegment<'_>,
        dir: Direction,
        c: &mut ReassemblyCounters,
    ) -> Verdict {
        let f = seg.flags;
        if f.syn && seg.auth_option {
            self.signed = true;
        }
        let me = &self.halves[dir.index()];
        let recent = self.ts_recent[dir.index()];
        let stale = matches!((seg.timestamp, recent), (Some((v, _)), Some(r)) if ts_older(v, r));
        if f.rst {
            if seg.auth_option && !self.signed {
                c.signed_rsts_ignored += 1;
                return Verdict::Discard;
            }
            if stale {
                c.rsts_rejected_paws += 1;
                return Verdict::Discard;
            }
            if !self.rst_acceptable(seg, dir) {
                c.rsts_out_of_window += 1;
                return Verdict::Discard;
            }
            return Verdict::Reset;
        }
        if f.fin && !f.syn && !me.fin_seen() {
            if stale {
                c.fins_rejected_paws += 1;
                return Verdict::Discard;
            }
            let at = SeqNum(seg.seq) + u32::try_from(seg.payload.len()).unwrap_or(u32::MAX);
            if me.control_in_window(at, true, CONTROL_WINDOW) == Some(false) {
                c.fins_out_of_window += 1;
                return Verdict::Discard;
            }
        }
        // The sender's latest TSval, from a segment that lies where its bytes are (an
        // injected segment far off must not poison PAWS for the genuine ones).
        if let Some((v, _)) = seg.timestamp {
            let here = f.syn
                || me.control_in_window(SeqNum(seg.seq), false, CONTROL_WINDOW) != Some(false);
            if here && recent.is_none_or(|r| ts_older(r, v)) {
                self.ts_recent[dir.index()] = Some(v);
            }
        }
        Verdict::Accept
    }

    /// Whether the receiver of a RST from `dir` accepts it (rules 3 and 4).
    fn rst_acceptable(&self, seg: &TcpSegment<'_>, dir: Direction) -> bool {
        let me = &self.halves[dir.index()];
        let client = &self.halves[Direction::ToServer.index()];
        let synack_seen = self.app.info.synack_ts.is_some();
        if dir == Direction::ToClient && !synack_seen && !me.is_synchronised() {
            if let Some(isn) = client.isn() {
                // SYN-SENT: only a RST that acknowledges our SYN is ours.
                return seg.flags.ack && SeqNum(seg.ack) == isn + 1u32;
            }
        }
        me.control_in_window(SeqNum(seg.seq), false, CONTROL_WINDOW) != Some(false)
    }
}

#[cfg(test)]
mod tests {
    use super::ts_older;

    #[test]
    fn timestamps_compare_on_the_circle() {
        assert!(ts_older(1, 2));
        assert!(!ts_older(2, 1));
        assert!(!ts_older(5, 5));
        assert!(ts_older(u32::MAX, 3), "across the wrap");
        assert!(!ts_older(3, u32::MAX));
    }
}
