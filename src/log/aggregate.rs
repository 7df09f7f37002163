//! Aggregation of repeated messages by key (`-aggregated-log-interval`).

use std::fmt;
use std::time::Duration;

use crate::go_syntax::format_duration;
use crate::time::Timestamp;

use super::{bounded, Inner, Level, Logger, MAX_AGGREGATE_KEYS};

/// One kind of aggregated message in its current interval.
pub(super) struct Aggregate {
    level: Level,
    window_start: Timestamp,
    /// Repeats since the window started (the first message was printed).
    repeats: u64,
    /// The text of the latest repeat.
    last: String,
}

impl Logger {
    /// Logs a message of the kind `key`, aggregated over the aggregation interval.
    pub fn log_keyed(&self, level: Level, key: &'static str, args: fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        let text = bounded(args, &mut inner.counters);
        self.expire(&mut inner, now, false);
        if self.aggregate_interval.is_zero() {
            self.emit(&mut inner, now, level, &text);
            return;
        }
        if let Some(agg) = inner.aggregates.get_mut(key) {
            agg.repeats += 1;
            agg.last = text;
            inner.counters.log_messages_repeated += 1;
            return;
        }
        if inner.aggregates.len() >= MAX_AGGREGATE_KEYS {
            inner.counters.log_aggregate_keys_full += 1;
            self.emit(&mut inner, now, level, &text);
            return;
        }
        self.emit(&mut inner, now, level, &text);
        inner.aggregates.insert(
            key,
            Aggregate {
                level,
                window_start: now,
                repeats: 0,
                last: String::new(),
            },
        );
        let end = now + self.aggregate_interval;
        inner.next_expiry = Some(inner.next_expiry.map_or(end, |e| e.min(end)));
    }

    /// Ends aggregation windows that are over at `now` (all of them when `all`): prints
    /// the summary of each that had repeats and starts it a new window; forgets the others.
    pub(super) fn expire(&self, inner: &mut Inner, now: Timestamp, all: bool) {
        match inner.next_expiry {
            Some(t) if all || now >= t => {}
            _ => return,
        }
        let interval = self.aggregate_interval;
        let mut ended: Vec<(Timestamp, &'static str)> = inner
            .aggregates
            .iter()
            .filter(|(_, a)| all || now >= a.window_start + interval)
            .map(|(k, a)| (a.window_start, *k))
            .collect();
        // Several windows ending together print in a fixed order.
        ended.sort_unstable();
        for (_, key) in ended {
            let Some(agg) = inner.aggregates.remove(key) else {
                continue;
            };
            if agg.repeats == 0 {
                continue;
            }
            let elapsed = now.since(agg.window_start);
            let text = format!(
                "{} (repeated {} times in the last {})",
                agg.last,
                agg.repeats,
                format_duration(round_to_unit(elapsed, interval))
            );
            self.emit(inner, now, agg.level, &text);
            if !all {
                inner.aggregates.insert(
                    key,
                    Aggregate {
                        level: agg.level,
                        window_start: now,
                        repeats: 0,
                        last: String::new(),
                    },
                );
            }
        }
        inner.next_expiry = inner
            .aggregates
            .values()
            .map(|a| a.window_start + interval)
            .min();
    }
}

/// `d` rounded down to the unit of `interval`: whole seconds for intervals of a second or
/// more, else whole milliseconds. A window that ended a few ms late still reads "1m0s".
fn round_to_unit(d: Duration, interval: Duration) -> Duration {
    if interval >= Duration::from_secs(1) {
        Duration::from_secs(d.as_secs())
    } else {
        Duration::from_millis(d.as_millis().min(u64::MAX as u128) as u64)
    }
}
