//! A small logger for httshark's own messages (not for transactions): levels, aggregation
//! of repeated messages, truncation of long error texts and a bounded log snapshot file,
//! after HttShark's log flags.
//!
//! Levels (`-verbose=N` prints every message at level N or below; 0 prints nothing):
//!
//! | N | level | what is logged today |
//! |---|-------|----------------------|
//! | 1 | ERROR | nothing: output and setup failures are printed as `httshark: error:` lines whatever `-verbose` (not through this logger) |
//! | 2 | WARN  | a capture that ended on a truncated or corrupt record; a failed accept on the metrics listener |
//! | 3 | INFO  | every HAR file written and every early HAR export (aggregated) |
//! | 4 | DEBUG | every transaction with anomalies (aggregated); a failed metrics client |
//! | 5 | TRACE | nothing yet (reserved for per-message detail) |
//!
//! Limits hit are counted, not logged one by one (exit summary, stats line, metrics). The
//! periodic stats line is printed by the pipeline directly, not through this logger: live
//! always, offline at `-verbose=3` or more.
//!
//! Aggregation (`-aggregated-log-interval`, default 1m): a message logged with a key (a
//! caller-chosen `&'static str` naming the kind of message) is printed the first time; its
//! repeats within the interval are counted, not printed; when the interval ends, the last
//! repeat is printed once with `(repeated N times in the last 1m0s)` and a new interval
//! starts. A kind that stayed quiet for a whole interval starts afresh. Messages without a
//! key are never aggregated. Interval 0 turns aggregation off.
//!
//! Truncation (`-limited-error-length`, default 20, 0 = unlimited): [`limited`] cuts an
//! error text to that many characters and ends it with `…`. Callers wrap error values in
//! it; the rest of a message is not cut (every message is still capped at
//! [`MAX_MESSAGE_CHARS`]).
//!
//! Snapshot (`-log-snapshot-amount N`, `-log-snapshot-level L`, `-log-snapshot-file`,
//! `-log-snapshot-interval`): the last N messages at level L or below (whether or not
//! `-verbose` prints them) are kept in a ring buffer and the file is rewritten atomically
//! every interval, so it never holds more than N lines. With interval 0 it is written only
//! at exit ([`flush`]).
//!
//! What it does not do: it is not on the per-packet path (a mutex inside is fine), it does
//! not rotate files, and it does not use the `log` crate facade.
//!
//! Invariants:
//! - A disabled level costs one comparison: the macros check [`enabled`] before formatting.
//! - Memory is bounded: at most [`MAX_AGGREGATE_KEYS`] aggregated kinds, N snapshot lines,
//!   each message at most [`MAX_MESSAGE_CHARS`] characters; every cap hit is counted.
//! - Time comes from an injected [`Clock`]: the wall clock live (this module is an I/O edge,
//!   like the capture thread), a [`ManualClock`] in tests.
//! - Log output is best effort: a failed write to stderr or to the snapshot is counted and
//!   never fails the run.

mod aggregate;
mod clock;
mod global;
mod macros;
mod snapshot;
#[cfg(test)]
mod tests;

pub use clock::{Clock, ManualClock, WallClock};
pub use global::{
    counters, enabled, flush, init, init_with, limited, logger, logger_for, TICK_PERIOD,
};
pub use snapshot::SnapshotConfig;

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::counters::CounterSet;
use crate::time::Timestamp;

use aggregate::Aggregate;

/// Message levels; the number is the `-verbose` value that first prints it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

/// Every message is cut to this many characters (with `…`), so a caller formatting wire
/// data cannot make one line unbounded. Counted in `log_messages_cut`.
pub const MAX_MESSAGE_CHARS: usize = 4096;
/// Kinds of aggregated message tracked at once; keys are `&'static str`, so this is only
/// reached by a bug. Past it, keyed messages are printed unaggregated and counted in
/// `log_aggregate_keys_full`.
pub const MAX_AGGREGATE_KEYS: usize = 1024;
/// Default `-aggregated-log-interval`.
pub const DEFAULT_AGGREGATE_INTERVAL: Duration = Duration::from_secs(60);
/// Default `-limited-error-length`.
pub const DEFAULT_MAX_ERROR_CHARS: usize = 20;
/// Default `-log-snapshot-file`.
pub const DEFAULT_SNAPSHOT_FILE: &str = "snapshot.log";

/// The logger's configuration, one field per flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogConfig {
    /// `-verbose`: 0 prints nothing, 5 everything. Values above 5 act as 5.
    pub verbose: u8,
    /// `-aggregated-log-interval` (default 1m; zero: no aggregation).
    pub aggregate_interval: Duration,
    /// `-limited-error-length` (default 20; zero: unlimited).
    pub max_error_chars: usize,
    pub snapshot: SnapshotConfig,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            verbose: 0,
            aggregate_interval: DEFAULT_AGGREGATE_INTERVAL,
            max_error_chars: DEFAULT_MAX_ERROR_CHARS,
            snapshot: SnapshotConfig::default(),
        }
    }
}

crate::counters! {
    /// Logger counters.
    pub struct LogCounters {
        /// Messages printed or kept (aggregate summaries included).
        log_messages,
        /// Repeats of an aggregated message folded into a `(repeated N times ...)` line.
        log_messages_repeated,
        /// Messages cut at `MAX_MESSAGE_CHARS`.
        log_messages_cut,
        /// Keyed messages printed unaggregated because `MAX_AGGREGATE_KEYS` kinds were tracked.
        log_aggregate_keys_full,
        /// Failed writes to the log output (stderr).
        log_write_errors,
        /// Snapshot files written.
        log_snapshots_written,
        /// Failed snapshot writes.
        log_snapshot_errors,
    }
}

struct Inner {
    out: Box<dyn Write + Send>,
    aggregates: HashMap<&'static str, Aggregate>,
    /// The earliest end of an aggregation window, so most calls skip the expiry scan.
    next_expiry: Option<Timestamp>,
    ring: VecDeque<String>,
    ring_dirty: bool,
    next_snapshot: Option<Timestamp>,
    snapshot_error_reported: bool,
    counters: LogCounters,
}

/// The logger. Thread-safe; one global instance is set by [`init`], tests build their own
/// with [`Logger::new`].
pub struct Logger {
    verbose: u8,
    /// Highest level that is printed or kept: `max(verbose, snapshot level)`.
    threshold: u8,
    aggregate_interval: Duration,
    max_error_chars: usize,
    snapshot: SnapshotConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
    /// Serialises snapshot writes (the ticker and `flush`), held without `inner`.
    snapshot_write: Mutex<()>,
}

impl Logger {
    /// A logger writing to `out` with time from `clock`. Does not touch the snapshot file
    /// until the first [`Logger::tick`] that is due, or [`Logger::flush`].
    pub fn new(cfg: &LogConfig, out: Box<dyn Write + Send>, clock: Arc<dyn Clock>) -> Logger {
        let verbose = cfg.verbose.min(5);
        let snap_level = if cfg.snapshot.active() {
            cfg.snapshot.level.min(5)
        } else {
            0
        };
        let now = clock.now();
        let next_snapshot = (snap_level > 0 && !cfg.snapshot.interval.is_zero())
            .then(|| now + cfg.snapshot.interval);
        Logger {
            verbose,
            threshold: verbose.max(snap_level),
            aggregate_interval: cfg.aggregate_interval,
            max_error_chars: cfg.max_error_chars,
            snapshot: SnapshotConfig {
                level: snap_level,
                ..cfg.snapshot.clone()
            },
            clock,
            inner: Mutex::new(Inner {
                out,
                aggregates: HashMap::new(),
                next_expiry: None,
                ring: VecDeque::new(),
                ring_dirty: false,
                next_snapshot,
                snapshot_error_reported: false,
                counters: LogCounters::default(),
            }),
            snapshot_write: Mutex::new(()),
        }
    }

    /// Whether a message at `level` would be printed or kept. Check it before formatting.
    #[inline]
    pub fn enabled(&self, level: Level) -> bool {
        (level as u8) <= self.threshold
    }

    /// Logs a message (never aggregated).
    pub fn log(&self, level: Level, args: fmt::Arguments<'_>) {
        if !self.enabled(level) {
            return;
        }
        let now = self.clock.now();
        let mut inner = self.lock();
        let text = bounded(args, &mut inner.counters);
        self.expire(&mut inner, now, false);
        self.emit(&mut inner, now, level, &text);
    }

    /// `text` cut to `-limited-error-length` characters, ending with `…` when cut.
    pub fn limit_error(&self, text: &str) -> String {
        truncate_chars(text, self.max_error_chars)
    }

    /// Periodic work: prints the summaries of aggregation intervals that ended, and
    /// rewrites the snapshot file when its interval is due. Called by the ticker thread.
    pub fn tick(&self) {
        let now = self.clock.now();
        let due = {
            let mut inner = self.lock();
            self.expire(&mut inner, now, false);
            match inner.next_snapshot {
                Some(t) if now >= t => {
                    let mut next = t + self.snapshot.interval;
                    if next <= now {
                        // The ticker fell behind: skip the missed slots, no burst of writes.
                        next = now + self.snapshot.interval;
                    }
                    inner.next_snapshot = Some(next);
                    true
                }
                _ => false,
            }
        };
        if due {
            self.write_snapshot(false);
        }
    }

    /// At exit: prints the summaries of every pending aggregation and writes the snapshot.
    pub fn flush(&self) {
        let now = self.clock.now();
        {
            let mut inner = self.lock();
            self.expire(&mut inner, now, true);
            let _ = inner.out.flush();
        }
        self.write_snapshot(true);
    }

    pub fn counters(&self) -> LogCounters {
        self.lock().counters.clone()
    }

    /// Calls `f(name, value)` for every logger counter (for the stats line and metrics).
    pub fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.counters().visit(f);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while logging leaves nothing half-updated that matters more than the log.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn emit(&self, inner: &mut Inner, now: Timestamp, level: Level, text: &str) {
        let line = format!("{} {:<5} {}", format_time(now), level.as_str(), text);
        inner.counters.log_messages += 1;
        if (level as u8) <= self.verbose {
            let written = inner
                .out
                .write_all(line.as_bytes())
                .and_then(|()| inner.out.write_all(b"\n"));
            if written.is_err() {
                inner.counters.log_write_errors += 1;
            }
        }
        if (level as u8) <= self.snapshot.level {
            if inner.ring.len() >= self.snapshot.amount {
                inner.ring.pop_front();
            }
            inner.ring.push_back(line);
            inner.ring_dirty = true;
        }
    }
}

/// Formats `args` into a message of at most `MAX_MESSAGE_CHARS` characters.
fn bounded(args: fmt::Arguments<'_>, counters: &mut LogCounters) -> String {
    let mut text = String::new();
    let _ = text.write_fmt(args);
    if text.chars().any(|c| c.is_control() && c != '\t') {
        text = safe_text(&text);
    }
    if text.len() > MAX_MESSAGE_CHARS && text.chars().count() > MAX_MESSAGE_CHARS {
        counters.log_messages_cut += 1;
        text = truncate_chars(&text, MAX_MESSAGE_CHARS);
    }
    text
}

/// `text` with every control character (C0, DEL, C1), except tab, shown as an escape, so
/// wire bytes cannot drive the terminal or forge a line: the console's fields and every
/// logged message (`bounded`).
pub fn safe_text(text: &str) -> String {
    if !text.chars().any(|c| c.is_control() && c != '\t') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            let n = c as u32;
            if n <= 0xff {
                let _ = write!(out, "\\x{n:02x}");
            } else {
                let _ = write!(out, "\\u{{{n:x}}}");
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `text` cut to `max` characters plus `…` (nothing cut when `max` is 0 or not exceeded).
pub fn truncate_chars(text: &str, max: usize) -> String {
    if max == 0 {
        return text.to_string();
    }
    match text.char_indices().nth(max) {
        Some((i, _)) => {
            let mut s = String::with_capacity(i + 3);
            s.push_str(&text[..i]);
            s.push('…');
            s
        }
        None => text.to_string(),
    }
}

/// `2024-05-01T12:00:00.123Z`.
pub fn format_time(t: Timestamp) -> String {
    match chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos()) {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{t:?}"),
    }
}
