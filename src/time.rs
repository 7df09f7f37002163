//! Packet time. The only clock the core knows: every stateful call takes `now`.
//!
//! Offline, time is the capture's packet time, so replaying a file gives the same output
//! every time. Live, the capture thread also advances time while traffic is idle. The
//! core never reads the wall clock.

use std::fmt;
use std::ops::{Add, Sub};
use std::time::Duration;

/// Nanoseconds since the Unix epoch, UTC. Covers 1677..2262.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub fn from_secs_nanos(secs: i64, nanos: u32) -> Timestamp {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(nanos as i64),
        )
    }

    pub fn from_secs_micros(secs: i64, micros: u32) -> Timestamp {
        Timestamp::from_secs_nanos(secs, micros.saturating_mul(1000))
    }

    pub fn as_nanos(self) -> i64 {
        self.0
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }

    /// Milliseconds from `earlier` to `self`, as HAR timings want them; never negative
    /// (captures can have timestamps that go backwards).
    pub fn millis_since(self, earlier: Timestamp) -> f64 {
        (self.0.saturating_sub(earlier.0)).max(0) as f64 / 1e6
    }

    /// The time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0).max(0) as u64)
    }

    /// The start of the `period`-long slot that holds `self` (periods counted from the
    /// epoch); the earliest time there is when that start would be before it (a packet
    /// stamped near 1677: a pcapng `if_tsoffset` of -2^62 gives one).
    pub fn floor_to(self, period: Duration) -> Timestamp {
        let p = period.as_nanos().clamp(1, i64::MAX as u128) as i64;
        Timestamp(self.0.saturating_sub(self.0.rem_euclid(p)))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(d.as_nanos().min(i64::MAX as u128) as i64),
        )
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_sub(d.as_nanos().min(i64::MAX as u128) as i64),
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs(), self.subsec_nanos())
    }
}

/// A clock that never goes backwards: the greatest time seen so far. Packet timestamps
/// that jump back are kept on their packets, but timeouts run on this clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct MonotonicClock {
    now: Option<Timestamp>,
}

impl MonotonicClock {
    /// Offer a time; returns the clock's time afterwards.
    pub fn advance(&mut self, ts: Timestamp) -> Timestamp {
        let now = match self.now {
            Some(now) if now >= ts => now,
            _ => ts,
        };
        self.now = Some(now);
        now
    }

    pub fn now(&self) -> Option<Timestamp> {
        self.now
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_to_never_overflows() {
        let s = Duration::from_secs(1);
        assert_eq!(
            Timestamp(2_500_000_000).floor_to(s),
            Timestamp(2_000_000_000)
        );
        assert_eq!(Timestamp(-1).floor_to(s), Timestamp(-1_000_000_000));
        assert_eq!(Timestamp(i64::MIN).floor_to(s), Timestamp(i64::MIN));
        assert_eq!(
            Timestamp(i64::MAX).floor_to(s),
            Timestamp(i64::MAX - i64::MAX % 1_000_000_000)
        );
        assert_eq!(
            Timestamp(i64::MIN).floor_to(Duration::MAX),
            Timestamp(i64::MIN)
        );
    }

    #[test]
    fn clock_never_goes_back() {
        let mut c = MonotonicClock::default();
        assert_eq!(c.advance(Timestamp(10)), Timestamp(10));
        assert_eq!(c.advance(Timestamp(5)), Timestamp(10));
        assert_eq!(c.advance(Timestamp(12)), Timestamp(12));
    }

    #[test]
    fn millis_since_is_never_negative() {
        assert_eq!(Timestamp(1_000_000).millis_since(Timestamp(3_000_000)), 0.0);
        assert_eq!(Timestamp(3_500_000).millis_since(Timestamp(1_000_000)), 2.5);
    }

    #[test]
    fn floor_to_period() {
        let t = Timestamp::from_secs_nanos(25, 5);
        assert_eq!(
            t.floor_to(Duration::from_secs(10)),
            Timestamp::from_secs_nanos(20, 0)
        );
        let neg = Timestamp(-1);
        assert_eq!(
            neg.floor_to(Duration::from_secs(1)),
            Timestamp::from_secs_nanos(-1, 0)
        );
    }
}
