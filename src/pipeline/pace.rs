//! `-file-pace`: a capture file read at the pace its packets were captured (or a multiple
//! of it), so the web view and the console show it as it happened. The capture thread is an
//! I/O edge: it reads the wall clock here, and only to wait; packet times stay what the
//! file says, so the output is the same at any pace.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::time::Timestamp;

/// Longest single sleep: a stop (SIGINT) is seen within this.
const STEP: Duration = Duration::from_millis(100);

/// Waits shorter than this are not worth a sleep (the next packet catches up).
const MIN_WAIT: Duration = Duration::from_millis(1);

pub(super) struct Pacer {
    /// Packet time per wall time: 1 replays as recorded, 2 twice as fast.
    factor: f64,
    /// The first packet's time and when it was read.
    start: Option<(Timestamp, Instant)>,
}

impl Pacer {
    /// `None` for factor 0 (as fast as the file can be read).
    pub(super) fn new(factor: f64) -> Option<Pacer> {
        (factor > 0.0 && factor.is_finite()).then_some(Pacer {
            factor,
            start: None,
        })
    }

    /// How long to wait before the packet stamped `ts` is due. Packets stamped before
    /// the first one (a file out of time order) are due at once.
    // Wall clock on purpose: pacing is the I/O edge's job (see the module doc).
    #[allow(clippy::disallowed_methods)]
    pub(super) fn due_in(&mut self, ts: Timestamp) -> Duration {
        let now = Instant::now();
        let (first, started) = *self.start.get_or_insert((ts, now));
        let offset = ts.since(first).div_f64(self.factor);
        (started + offset).saturating_duration_since(now)
    }

    /// Sleeps `wait` (if worth it) in steps, returning early once `stop` is set.
    pub(super) fn sleep(wait: Duration, stop: &AtomicBool) {
        if wait < MIN_WAIT {
            return;
        }
        let mut left = wait;
        while !left.is_zero() && !stop.load(Ordering::Relaxed) {
            let step = left.min(STEP);
            std::thread::sleep(step);
            left -= step;
        }
    }

    /// A wait worth stopping for (sending what was read, then sleeping).
    pub(super) fn worth_waiting(wait: Duration) -> bool {
        wait >= MIN_WAIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_or_nonsense_factors_do_not_pace() {
        assert!(Pacer::new(0.0).is_none());
        assert!(Pacer::new(f64::NAN).is_none());
        assert!(Pacer::new(f64::INFINITY).is_none());
        assert!(Pacer::new(-1.0).is_none());
    }

    #[test]
    fn a_packet_is_due_its_capture_offset_divided_by_the_factor_after_the_first() {
        let mut p = Pacer::new(10.0).unwrap();
        let t0 = Timestamp::from_secs_micros(100, 0);
        assert_eq!(p.due_in(t0), Duration::ZERO);
        // 5 s of capture time at 10x: due 500 ms after the first (less the time taken).
        let wait = p.due_in(Timestamp::from_secs_micros(105, 0));
        assert!(wait > Duration::from_millis(400) && wait <= Duration::from_millis(500));
        // Stamped before the first: at once.
        assert_eq!(p.due_in(Timestamp::from_secs_micros(99, 0)), Duration::ZERO);
    }

    #[test]
    #[allow(clippy::disallowed_methods)]
    fn a_stop_cuts_the_sleep_short() {
        let stop = AtomicBool::new(true);
        let t = Instant::now();
        Pacer::sleep(Duration::from_secs(5), &stop);
        assert!(t.elapsed() < Duration::from_secs(1));
    }
}
