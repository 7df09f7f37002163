//! Timestamps of a capture file that jump far ahead of the capture for one record only: a
//! damaged record (a bit flipped in its seconds) or a merged capture's stray. Packet time
//! is the only clock there is (`crate::time`), and it never goes back: one record stamped
//! 2038 in a 2023 capture would move it to 2038 for good, so every open connection idles
//! out, every waiting request is exported unanswered, the HAR files are named for 2038 and
//! `-file-pace` sleeps for years.
//!
//! A record stamped more than [`MAX_TIMESTAMP_JUMP`] ahead of the clock is held back
//! (copied) until the next record says what it was: stamped near it, the jump is real (a
//! capture resumed after a pause) and both go as stamped; back near the clock, it was an
//! outlier and goes with the clock's time instead, counted (`timestamp_outliers`). The
//! first record is held the same way, the clock not being set yet: when the second is
//! stamped more than the jump before it, the first was the outlier.
//!
//! What it does not do: judge live captures (the kernel stamps them), records stamped
//! backwards by any amount (they do not move the clock; their own times are kept), or a
//! record that jumps ahead as the last of the file (nothing confirms it: it goes with the
//! clock's time, counted).

use std::time::Duration;

use crate::time::Timestamp;

/// How far ahead of the capture's clock one record may be stamped without the next one
/// confirming the jump: a day, far more than any gap between two packets of one capture
/// session, far less than a flipped bit in the seconds moves a timestamp.
pub const MAX_TIMESTAMP_JUMP: Duration = Duration::from_secs(24 * 60 * 60);

/// A record held back: its own timestamp, its bytes and its length on the wire.
pub(super) struct Held {
    pub(super) ts: Timestamp,
    pub(super) data: Vec<u8>,
    pub(super) orig_len: u32,
}

/// What to do with the record just read.
pub(super) struct Verdict {
    /// Hold it (copy it, `Outliers::hold`) instead of using it now.
    pub(super) hold: bool,
    /// A record held before, to use first, with the time it goes with.
    pub(super) release: Option<(Timestamp, Held)>,
}

#[derive(Default)]
pub(super) struct Outliers {
    /// Records are judged (a file); else every record passes (a live capture).
    judge: bool,
    held: Option<Held>,
    /// Records that went with the clock's time instead of their own.
    pub(super) count: u64,
}

fn far_ahead(ts: Timestamp, of: Timestamp) -> bool {
    ts > of + MAX_TIMESTAMP_JUMP
}

impl Outliers {
    /// Judging the records of a file (`judge`), or passing every one (a live capture).
    pub(super) fn new(judge: bool) -> Outliers {
        Outliers {
            judge,
            ..Outliers::default()
        }
    }

    /// Whether a record stamped `ts` goes as stamped with nothing else to decide (not
    /// judged, or nothing held and not far ahead of `clock`): `offer` would say so too,
    /// at more cost.
    pub(super) fn passes(&self, ts: Timestamp, clock: Option<Timestamp>) -> bool {
        !self.judge || (self.held.is_none() && clock.is_some_and(|c| !far_ahead(ts, c)))
    }

    /// The record just read is stamped `ts`; `clock` is the capture's clock (None before
    /// any record was used).
    pub(super) fn offer(&mut self, ts: Timestamp, clock: Option<Timestamp>) -> Verdict {
        let Some(held) = self.held.take() else {
            let hold = clock.is_none_or(|c| far_ahead(ts, c));
            return Verdict {
                hold,
                release: None,
            };
        };
        let confirmed = !far_ahead(ts, held.ts) && !far_ahead(held.ts, ts);
        match clock {
            // The jump is real: both as stamped.
            _ if confirmed => Verdict {
                hold: false,
                release: Some((held.ts, held)),
            },
            // The first record: the second, stamped far before it, says it was the stray;
            // stamped far after it, the second is the one to judge next.
            None if far_ahead(held.ts, ts) => {
                self.count += 1;
                Verdict {
                    hold: false,
                    release: Some((ts, held)),
                }
            }
            None => Verdict {
                hold: true,
                release: Some((held.ts, held)),
            },
            // Back near the clock (or off somewhere else): the held one was a stray.
            Some(c) => {
                self.count += 1;
                Verdict {
                    hold: far_ahead(ts, c),
                    release: Some((c, held)),
                }
            }
        }
    }

    /// Keeps the record `offer` said to hold.
    pub(super) fn hold(&mut self, ts: Timestamp, data: &[u8], orig_len: u32) {
        debug_assert!(self.held.is_none(), "offer took the held record first");
        self.held = Some(Held {
            ts,
            data: data.to_vec(),
            orig_len,
        });
    }

    /// The end of the file: a record still held goes, as stamped when it is the only one
    /// (no clock), else with the clock's time (nothing confirmed its jump).
    pub(super) fn finish(&mut self, clock: Option<Timestamp>) -> Option<(Timestamp, Held)> {
        let held = self.held.take()?;
        match clock {
            None => Some((held.ts, held)),
            Some(c) => {
                self.count += 1;
                Some((c, held))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const DAY: i64 = 24 * 3600 * S;

    /// Feeds records stamped `stamps` as the capture loop does; returns the time each
    /// went with, in the order they went.
    fn run(stamps: &[i64]) -> (Vec<(usize, i64)>, u64) {
        let mut o = Outliers::new(true);
        let mut clock: Option<Timestamp> = None;
        let mut out = Vec::new();
        let mut held_index = None;
        let mut used = |i: usize, t: Timestamp, clock: &mut Option<Timestamp>| {
            out.push((i, t.0));
            *clock = Some(clock.map_or(t, |c| c.max(t)));
        };
        for (i, &ts) in stamps.iter().enumerate() {
            if o.passes(Timestamp(ts), clock) {
                used(i, Timestamp(ts), &mut clock);
                continue;
            }
            let v = o.offer(Timestamp(ts), clock);
            if let Some((t, h)) = v.release {
                assert_eq!(h.data, vec![held_index.unwrap() as u8]);
                used(held_index.take().unwrap(), t, &mut clock);
            }
            if v.hold {
                o.hold(Timestamp(ts), &[i as u8], 60);
                held_index = Some(i);
            } else {
                used(i, Timestamp(ts), &mut clock);
            }
        }
        if let Some((t, _)) = o.finish(clock) {
            used(held_index.take().unwrap(), t, &mut clock);
        }
        (out, o.count)
    }

    #[test]
    fn a_stray_ahead_goes_with_the_clock() {
        let t0 = 1_700_000_000 * S;
        let (out, n) = run(&[t0, t0 + S, 2_147_483_647 * S, t0 + 2 * S, t0 + 3 * S]);
        assert_eq!(
            out,
            [
                (0, t0),
                (1, t0 + S),
                (2, t0 + S),
                (3, t0 + 2 * S),
                (4, t0 + 3 * S)
            ]
        );
        assert_eq!(n, 1);
    }

    #[test]
    fn a_real_jump_is_kept() {
        let t0 = 1_700_000_000 * S;
        let later = t0 + 3 * DAY;
        let (out, n) = run(&[t0, t0 + S, later, later + S, later + 2 * S]);
        assert_eq!(
            out,
            [
                (0, t0),
                (1, t0 + S),
                (2, later),
                (3, later + S),
                (4, later + 2 * S)
            ]
        );
        assert_eq!(n, 0);
    }

    #[test]
    fn a_stray_first_record_goes_with_the_second_ones_time() {
        let t0 = 1_700_000_000 * S;
        let (out, n) = run(&[2_147_483_647 * S, t0, t0 + S]);
        assert_eq!(out, [(0, t0), (1, t0), (2, t0 + S)]);
        assert_eq!(n, 1);
        // Stamped near each other: nothing to judge.
        let (out, n) = run(&[t0, t0 + S]);
        assert_eq!((out, n), (vec![(0, t0), (1, t0 + S)], 0));
        // A single record goes as stamped.
        let (out, n) = run(&[t0]);
        assert_eq!((out, n), (vec![(0, t0)], 0));
    }

    #[test]
    fn two_strays_in_a_row_and_one_at_the_end() {
        let t0 = 1_700_000_000 * S;
        let (a, b) = (2_000_000_000 * S, 2_100_000_000 * S);
        let (out, n) = run(&[t0, a, b, t0 + S, a]);
        assert_eq!(out, [(0, t0), (1, t0), (2, t0), (3, t0 + S), (4, t0 + S)]);
        assert_eq!(n, 3);
    }

    #[test]
    fn records_stamped_backwards_are_not_judged() {
        let t0 = 1_700_000_000 * S;
        let (out, n) = run(&[t0, t0 + S, t0 - 5 * DAY, t0 + 2 * S]);
        assert_eq!(
            out,
            [(0, t0), (1, t0 + S), (2, t0 - 5 * DAY), (3, t0 + 2 * S)]
        );
        assert_eq!(n, 0);
    }
}
