//! TCP sequence numbers: 32-bit values that wrap (RFC 9293 §3.4), compared by signed
//! distance, as smoltcp's `TcpSeqNumber`.
//!
//! `SeqNum` keeps the modular arithmetic in one place, so that callers never cast: `+`
//! wraps modulo 2^32, `distance` is the signed difference (`a.distance(b) > 0`: `a` is
//! after `b`), and `<`/`>` compare by that distance.
//!
//! What it does not do: order numbers more than 2^31 apart (they compare as the nearer
//! reading, the RFC's "within half the space" rule), or know where a stream starts. Stream
//! offsets (64-bit, never wrapping) are the reassembler's business (`reassembly::half`);
//! `offset` and `plus_offset` are the bridge between the two.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Add, Sub};

/// A TCP sequence (or acknowledgment) number.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// `self - base` as the nearer of the two readings around the 2^32 circle: positive
    /// when `self` comes after `base`, negative before, in `-2^31..2^31`.
    pub fn distance(self, base: SeqNum) -> i32 {
        // Reinterpreting the wrapped difference as two's complement is the point.
        #[allow(clippy::cast_possible_wrap)]
        let d = self.0.wrapping_sub(base.0) as i32;
        d
    }

    /// The sequence number of stream offset `off` when offset 0 is at `self`: the offset
    /// modulo 2^32 (a stream may cross 2^32 any number of times).
    pub fn plus_offset(self, off: u64) -> SeqNum {
        // Keeping the low 32 bits is the point: sequence numbers are the offset mod 2^32.
        #[allow(clippy::cast_possible_truncation)]
        let low = off as u32;
        SeqNum(self.0.wrapping_add(low))
    }

    /// The stream offset of `self`, reading it as the nearer of the two around `near`,
    /// the sequence number of offset `near_off`. Negative: before the stream start.
    pub fn offset(self, near: SeqNum, near_off: u64) -> i64 {
        signed_offset(near_off) + i64::from(self.distance(near))
    }
}

/// A stream offset as a signed number. Offsets stay below 2^63 (8 EiB on one connection);
/// beyond that it saturates instead of wrapping negative.
pub fn signed_offset(off: u64) -> i64 {
    i64::try_from(off).unwrap_or(i64::MAX)
}

/// `seq + n`, modulo 2^32.
impl Add<u32> for SeqNum {
    type Output = SeqNum;
    fn add(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }
}

/// `seq + n` for a byte count (a payload length), modulo 2^32.
impl Add<usize> for SeqNum {
    type Output = SeqNum;
    fn add(self, n: usize) -> SeqNum {
        self.plus_offset(n as u64)
    }
}

/// `seq - n`, modulo 2^32.
impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    fn sub(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }
}

/// Ordered by signed distance. Not a total order (`a < b < c < a` happens around the
/// circle), hence no `Ord`; two numbers exactly 2^31 apart are each before the other (the
/// distance is `i32::MIN` both ways round).
impl PartialOrd for SeqNum {
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        Some(self.distance(*other).cmp(&0))
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SeqNum({})", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOP: u32 = u32::MAX;

    #[test]
    fn addition_wraps_at_2_pow_32() {
        assert_eq!(SeqNum(TOP) + 1u32, SeqNum(0));
        assert_eq!(SeqNum(TOP - 1) + 5usize, SeqNum(3));
        assert_eq!(SeqNum(2) - 3u32, SeqNum(TOP));
        assert_eq!(SeqNum(10).plus_offset(1 << 32), SeqNum(10));
        assert_eq!(SeqNum(TOP).plus_offset((3 << 32) + 2), SeqNum(1));
    }

    #[test]
    fn distance_is_signed_and_crosses_the_wrap() {
        assert_eq!(SeqNum(5).distance(SeqNum(TOP - 4)), 10);
        assert_eq!(SeqNum(TOP - 4).distance(SeqNum(5)), -10);
        assert_eq!(SeqNum(7).distance(SeqNum(7)), 0);
        // Half the circle away: the reading is the negative one.
        assert_eq!(SeqNum(1 << 31).distance(SeqNum(0)), i32::MIN);
        assert_eq!(SeqNum((1 << 31) - 1).distance(SeqNum(0)), i32::MAX);
    }

    #[test]
    fn ordering_follows_the_distance_not_the_value() {
        assert!(SeqNum(3) > SeqNum(TOP));
        assert!(SeqNum(TOP) < SeqNum(3));
        assert!(SeqNum(100) > SeqNum(99));
        assert!(SeqNum(0) >= SeqNum(0) && SeqNum(0) <= SeqNum(0));
        // Not a total order: three numbers a third of the circle apart go round.
        let (a, b, c) = (SeqNum(0), SeqNum(0x5555_5555), SeqNum(0xaaaa_aaaa));
        assert!(a < b && b < c && c < a);
    }

    #[test]
    fn offsets_are_read_around_the_nearest_known_point() {
        // Offset 2^32 + 10 is at `base + 10`; 20 bytes earlier is just below the wrap.
        let base = SeqNum(TOP - 9);
        let near_off = (1u64 << 32) + 10;
        let near = base.plus_offset(near_off);
        assert_eq!(near, SeqNum(0));
        assert_eq!(
            (near - 20).offset(near, near_off),
            signed_offset(near_off) - 20
        );
        assert_eq!(
            (near + 5u32).offset(near, near_off),
            signed_offset(near_off) + 5
        );
        // Before the stream start: negative.
        assert_eq!((base - 1).offset(base, 0), -1);
        assert_eq!(signed_offset(u64::MAX), i64::MAX);
    }
}
