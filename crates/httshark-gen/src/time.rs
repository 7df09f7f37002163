//! Packet time of generated captures: nanoseconds since the Unix epoch.
//!
//! The generator's own type, not `httshark::time::Timestamp`: the generator does not
//! depend on the sniffer it checks. Same representation (an `i64` of nanoseconds, public),
//! so a test converts with `httshark::time::Timestamp(ts.as_nanos())`. Only what the
//! generator needs: no clock, no HAR arithmetic.

use std::fmt;
use std::ops::Add;
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

    pub fn as_nanos(self) -> i64 {
        self.0
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(1_000_000_000)
    }

    pub fn subsec_nanos(self) -> u32 {
        self.0.rem_euclid(1_000_000_000) as u32
    }
}

/// Saturates at the end of the range rather than wrapping: a capture's clock never jumps
/// back to 1677.
impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(d.as_nanos().min(i64::MAX as u128) as i64),
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:09}", self.secs(), self.subsec_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_nanoseconds_split_with_the_floor() {
        let t = Timestamp::from_secs_nanos(12, 345);
        assert_eq!((t.secs(), t.subsec_nanos()), (12, 345));
        assert_eq!(t.as_nanos(), 12_000_000_345);
        let neg = Timestamp(-1);
        assert_eq!((neg.secs(), neg.subsec_nanos()), (-1, 999_999_999));
        assert_eq!(format!("{neg:?}"), "-1.999999999");
    }

    #[test]
    fn adding_saturates() {
        let t = Timestamp::from_secs_nanos(1, 0) + Duration::from_millis(1500);
        assert_eq!(t, Timestamp::from_secs_nanos(2, 500_000_000));
        assert_eq!(Timestamp(i64::MAX - 1) + Duration::MAX, Timestamp(i64::MAX));
        assert_eq!(
            Timestamp::from_secs_nanos(i64::MAX, 0),
            Timestamp(i64::MAX),
            "from_secs_nanos saturates too"
        );
    }
}
