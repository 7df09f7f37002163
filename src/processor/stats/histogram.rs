//! A log-scale histogram of `u64` values with bounded memory, for latency percentiles.
//!
//! What it is: HdrHistogram's bucket layout with 5 bits of mantissa. Values below 32 get a
//! bucket each (exact); above, every power of two `[2^e, 2^(e+1))` is cut into 32 equal
//! buckets. A bucket's width is therefore at most 1/32 of its lower bound.
//!
//! What it is not: a store of samples. Percentiles are read from bucket counts, so they
//! are approximate (see below), and the result does not depend on the order in which
//! values were recorded: recording is a commutative sum of counts, and two histograms
//! merge by adding counts.
//!
//! Error: a percentile is reported as the midpoint of the bucket holding the nearest-rank
//! sample, clamped to the exact minimum and maximum recorded (the first and last ranks are
//! the exact minimum and maximum). The true sample lies in the same bucket, so the
//! reported value is within half a bucket of it: exact below 32, and otherwise a relative
//! error of at most 1/64 (1.6 %) of the true value.
//!
//! Memory: counts are kept sparse (only buckets that were hit), sorted by bucket index.
//! There are at most [`BUCKETS`] buckets, so one histogram never holds more than
//! `BUCKETS` entries (16 bytes each) whatever it records.

/// Bits of mantissa per power of two: 2^5 = 32 buckets per octave.
const SUB_BITS: u32 = 5;
/// Buckets per octave.
const SUB_COUNT: u64 = 1 << SUB_BITS;
/// The number of distinct buckets over the whole `u64` range.
pub const BUCKETS: usize = ((64 - SUB_BITS as usize) + 1) * SUB_COUNT as usize;

/// A sparse log-scale histogram. Invariant: `counts` is sorted by bucket index, holds no
/// duplicate index and no zero count; `total` is the sum of the counts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogHistogram {
    counts: Vec<(u16, u64)>,
    total: u64,
    min: u64,
    max: u64,
}

/// The bucket index of `v`.
fn bucket_of(v: u64) -> u16 {
    if v < SUB_COUNT {
        return v as u16;
    }
    // v >= 32, so the highest set bit `e` is >= SUB_BITS.
    let e = 63 - v.leading_zeros();
    let shift = e - SUB_BITS;
    let mantissa = v >> shift; // in [32, 64)
    ((u64::from(shift) + 1) * SUB_COUNT + (mantissa - SUB_COUNT)) as u16
}

/// The inclusive range of values that fall in bucket `index`.
fn bucket_range(index: u16) -> (u64, u64) {
    let index = u64::from(index);
    if index < SUB_COUNT {
        return (index, index);
    }
    let shift = index / SUB_COUNT - 1;
    let mantissa = index % SUB_COUNT + SUB_COUNT;
    let low = mantissa << shift;
    let width = 1u64 << shift;
    (low, low.saturating_add(width - 1))
}

impl LogHistogram {
    pub fn new() -> LogHistogram {
        LogHistogram::default()
    }

    /// Records one value.
    pub fn record(&mut self, v: u64) {
        self.record_n(bucket_of(v), 1);
        if self.total == 1 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
    }

    fn record_n(&mut self, index: u16, n: u64) {
        match self.counts.binary_search_by_key(&index, |&(i, _)| i) {
            Ok(pos) => {
                if let Some(slot) = self.counts.get_mut(pos) {
                    slot.1 = slot.1.saturating_add(n);
                }
            }
            Err(pos) => self.counts.insert(pos, (index, n)),
        }
        self.total = self.total.saturating_add(n);
        debug_assert!(self.counts.len() <= BUCKETS);
    }

    /// Adds every count of `other` into `self`.
    pub fn merge(&mut self, other: &LogHistogram) {
        if other.total == 0 {
            return;
        }
        let was_empty = self.total == 0;
        for &(index, n) in &other.counts {
            self.record_n(index, n);
        }
        if was_empty {
            self.min = other.min;
            self.max = other.max;
        } else {
            self.min = self.min.min(other.min);
            self.max = self.max.max(other.max);
        }
    }

    /// The number of values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// The `p`-th percentile (0 < p <= 100) by nearest rank: the smallest recorded value
    /// such that at least `p` % of the values are <= it, approximated as described in the
    /// module docs. `None` when nothing was recorded.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if self.total == 0 {
            return None;
        }
        // Nearest rank, 1-based: ceil(p/100 * n), at least 1. Computed on integers in
        // parts per million so the rank is the same on every platform.
        let ppm = (p.clamp(0.0, 100.0) * 10_000.0).round() as u128;
        let rank = (ppm * u128::from(self.total)).div_ceil(1_000_000).max(1);
        // The extremes are known exactly.
        if rank >= u128::from(self.total) {
            return Some(self.max);
        }
        if rank == 1 {
            return Some(self.min);
        }
        let mut seen: u128 = 0;
        for &(index, n) in &self.counts {
            seen += u128::from(n);
            if seen >= rank {
                let (low, high) = bucket_range(index);
                let mid = low + (high - low) / 2;
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }

    /// Buckets in use (for tests and memory accounting).
    pub fn buckets_used(&self) -> usize {
        self.counts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        for v in 0..SUB_COUNT {
            assert_eq!(bucket_range(bucket_of(v)), (v, v));
        }
    }

    #[test]
    fn buckets_are_contiguous_and_cover_u64() {
        let mut next = 0u64;
        for i in 0..BUCKETS as u16 {
            let (low, high) = bucket_range(i);
            assert_eq!(low, next, "bucket {i}");
            assert!(high >= low);
            assert_eq!(bucket_of(low), i);
            assert_eq!(bucket_of(high), i);
            if high == u64::MAX {
                assert_eq!(i as usize, BUCKETS - 1);
                return;
            }
            next = high + 1;
        }
        panic!("buckets do not reach u64::MAX");
    }

    #[test]
    fn relative_error_is_bounded() {
        // Every value's reported midpoint is within 1/64 of it.
        let mut v = 1u64;
        while v < u64::MAX / 7 {
            for x in [v, v + 1, v * 3 / 2, v * 2 - 1] {
                let (low, high) = bucket_range(bucket_of(x));
                let mid = low + (high - low) / 2;
                let err = mid.abs_diff(x) as f64 / x as f64;
                assert!(err <= 1.0 / 64.0, "x={x} mid={mid} err={err}");
            }
            v = v * 7 / 5 + 1;
        }
    }

    #[test]
    fn percentiles_nearest_rank() {
        let mut h = LogHistogram::new();
        for v in 1..=100u64 {
            h.record(v * 1000);
        }
        for (p, exact) in [(50.0, 50_000u64), (95.0, 95_000), (99.0, 99_000)] {
            let got = h.percentile(p).unwrap();
            let err = got.abs_diff(exact) as f64 / exact as f64;
            assert!(err <= 1.0 / 64.0, "p{p}: {got} vs {exact}");
        }
        assert_eq!(
            h.percentile(100.0),
            Some(100_000),
            "clamped to the exact max"
        );
        assert_eq!(h.percentile(0.0), Some(1000), "clamped to the exact min");
        assert_eq!(LogHistogram::new().percentile(50.0), None);
    }

    #[test]
    fn single_value_is_exact() {
        let mut h = LogHistogram::new();
        h.record(123_457);
        assert_eq!(h.percentile(50.0), Some(123_457));
        assert_eq!(h.percentile(99.0), Some(123_457));
    }

    #[test]
    fn order_independent_and_mergeable() {
        let values: Vec<u64> = (0..500u64).map(|i| (i * 7919) % 100_003).collect();
        let mut a = LogHistogram::new();
        let mut b = LogHistogram::new();
        for v in &values {
            a.record(*v);
        }
        for v in values.iter().rev() {
            b.record(*v);
        }
        assert_eq!(a, b);
        let (left, right) = values.split_at(200);
        let mut l = LogHistogram::new();
        let mut r = LogHistogram::new();
        left.iter().for_each(|v| l.record(*v));
        right.iter().for_each(|v| r.record(*v));
        l.merge(&r);
        assert_eq!(l, a);
    }

    #[test]
    fn memory_is_bounded() {
        let mut h = LogHistogram::new();
        let mut v = 0u64;
        for _ in 0..100_000 {
            h.record(v);
            v = v
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
        }
        h.record(u64::MAX);
        assert!(h.buckets_used() <= BUCKETS);
        assert_eq!(h.count(), 100_001);
    }
}
