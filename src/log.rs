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

use std::collections::{HashMap, VecDeque};
use std::fmt::{self, Write as _};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::Duration;

use crate::counters::CounterSet;
use crate::go_syntax::format_duration;
use crate::output::write_atomically;
use crate::time::Timestamp;

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

/// The log snapshot (`-log-snapshot-*`). Active when `amount > 0` and `level > 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotConfig {
    /// Messages kept (`-log-snapshot-amount`, default 0 = no snapshot).
    pub amount: usize,
    /// The file rewritten (`-log-snapshot-file`, default `snapshot.log`).
    pub file: PathBuf,
    /// How often it is rewritten (`-log-snapshot-interval`, default 0 = only at exit).
    pub interval: Duration,
    /// Highest level kept, 0..=5 (`-log-snapshot-level`, default 0 = no snapshot).
    pub level: u8,
}

impl Default for SnapshotConfig {
    fn default() -> Self {
        SnapshotConfig {
            amount: 0,
            file: PathBuf::from(DEFAULT_SNAPSHOT_FILE),
            interval: Duration::ZERO,
            level: 0,
        }
    }
}

impl SnapshotConfig {
    pub fn active(&self) -> bool {
        self.amount > 0 && self.level > 0
    }
}

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

/// Where the logger's time comes from.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system wall clock (live use).
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    // Log timestamps and aggregation intervals are wall time by design: this is an I/O
    // edge, and tests inject a ManualClock instead.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> Timestamp {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => Timestamp(d.as_nanos().min(i64::MAX as u128) as i64),
            Err(_) => Timestamp::ZERO,
        }
    }
}

/// A clock the caller sets (tests).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(start.0))
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.0, Ordering::SeqCst);
    }
    pub fn advance(&self, d: Duration) {
        let now = Timestamp(self.0.load(Ordering::SeqCst)) + d;
        self.0.store(now.0, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
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

/// One kind of aggregated message in its current interval.
struct Aggregate {
    level: Level,
    window_start: Timestamp,
    /// Repeats since the window started (the first message was printed).
    repeats: u64,
    /// The text of the latest repeat.
    last: String,
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

    /// The messages the snapshot holds now, oldest first.
    pub fn snapshot_lines(&self) -> Vec<String> {
        self.lock().ring.iter().cloned().collect()
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

    /// Ends aggregation windows that are over at `now` (all of them when `all`): prints
    /// the summary of each that had repeats and starts it a new window; forgets the others.
    fn expire(&self, inner: &mut Inner, now: Timestamp, all: bool) {
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

    /// Rewrites the snapshot file with the ring's lines, when they changed (or `force`).
    fn write_snapshot(&self, force: bool) {
        if self.snapshot.level == 0 {
            return;
        }
        let _one_writer = self
            .snapshot_write
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let lines: Vec<String> = {
            let mut inner = self.lock();
            if !inner.ring_dirty && !force {
                return;
            }
            inner.ring_dirty = false;
            inner.ring.iter().cloned().collect()
        };
        let result = write_atomically(&self.snapshot.file, |w| {
            for l in &lines {
                w.write_all(l.as_bytes())?;
                w.write_all(b"\n")?;
            }
            Ok(())
        });
        let mut inner = self.lock();
        match result {
            Ok(()) => inner.counters.log_snapshots_written += 1,
            Err(e) => {
                inner.counters.log_snapshot_errors += 1;
                inner.ring_dirty = true;
                if !inner.snapshot_error_reported {
                    // Said once on the log output; later failures are only counted.
                    inner.snapshot_error_reported = true;
                    let line = format!(
                        "{} ERROR log snapshot {}: {e}",
                        format_time(self.clock.now()),
                        self.snapshot.file.display()
                    );
                    if writeln!(inner.out, "{line}").is_err() {
                        inner.counters.log_write_errors += 1;
                    }
                }
            }
        }
    }
}

/// Formats `args` into a message of at most `MAX_MESSAGE_CHARS` characters.
fn bounded(args: fmt::Arguments<'_>, counters: &mut LogCounters) -> String {
    let mut text = String::new();
    let _ = text.write_fmt(args);
    if text.len() > MAX_MESSAGE_CHARS && text.chars().count() > MAX_MESSAGE_CHARS {
        counters.log_messages_cut += 1;
        text = truncate_chars(&text, MAX_MESSAGE_CHARS);
    }
    text
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

/// `d` rounded down to the unit of `interval`: whole seconds for intervals of a second or
/// more, else whole milliseconds. A window that ended a few ms late still reads "1m0s".
fn round_to_unit(d: Duration, interval: Duration) -> Duration {
    if interval >= Duration::from_secs(1) {
        Duration::from_secs(d.as_secs())
    } else {
        Duration::from_millis(d.as_millis().min(u64::MAX as u128) as u64)
    }
}

// ---------------------------------------------------------------------------------------
// The global instance.

static GLOBAL: OnceLock<Logger> = OnceLock::new();

/// How often the ticker started by [`init`] runs at most (it runs more often when an
/// interval is shorter, but not more often than every 10 ms).
pub const TICK_PERIOD: Duration = Duration::from_secs(1);

/// Sets up the global logger on stderr with the wall clock, creates the snapshot file
/// (so an unwritable path fails now, before the capture starts) and starts a ticker
/// thread that prints aggregation summaries and rewrites the snapshot. Call [`flush`] at
/// exit. Fails if already initialised or the snapshot file cannot be written.
pub fn init(cfg: &LogConfig) -> Result<&'static Logger, String> {
    if cfg.snapshot.active() {
        write_atomically(&cfg.snapshot.file, |_| Ok(())).map_err(|e| {
            format!(
                "cannot write the log snapshot file {}: {e}",
                cfg.snapshot.file.display()
            )
        })?;
    }
    let logger = init_with(Logger::new(
        cfg,
        Box::new(io::stderr()),
        Arc::new(WallClock),
    ))?;
    let mut period = TICK_PERIOD;
    for d in [cfg.aggregate_interval, cfg.snapshot.interval] {
        if !d.is_zero() {
            period = period.min(d);
        }
    }
    let period = period.max(Duration::from_millis(10));
    crate::signals::without_stop_signals(|| {
        thread::Builder::new()
            .name("httshark-log".into())
            .spawn(move || loop {
                thread::sleep(period);
                logger.tick();
            })
    })
    .map_err(|e| format!("cannot start the log thread: {e}"))?;
    Ok(logger)
}

/// Installs `logger` as the global logger, without a ticker (tests, embedders).
pub fn init_with(logger: Logger) -> Result<&'static Logger, String> {
    let mut fresh = false;
    let l = GLOBAL.get_or_init(|| {
        fresh = true;
        logger
    });
    if fresh {
        Ok(l)
    } else {
        Err("the logger is already initialised".into())
    }
}

/// The global logger, once initialised.
/// The global logger's counters (all 0 before `init`, as in tests that run without one).
pub fn counters() -> LogCounters {
    logger().map(Logger::counters).unwrap_or_default()
}

pub fn logger() -> Option<&'static Logger> {
    GLOBAL.get()
}

/// The global logger if it takes messages at `level` (what the macros call).
#[inline]
pub fn logger_for(level: Level) -> Option<&'static Logger> {
    GLOBAL.get().filter(|l| l.enabled(level))
}

/// Whether the global logger takes messages at `level` (false before [`init`]).
#[inline]
pub fn enabled(level: Level) -> bool {
    logger_for(level).is_some()
}

/// An error text cut to `-limited-error-length` characters (20 before [`init`]).
pub fn limited(err: impl fmt::Display) -> String {
    let max = GLOBAL
        .get()
        .map_or(DEFAULT_MAX_ERROR_CHARS, |l| l.max_error_chars);
    truncate_chars(&err.to_string(), max)
}

/// Prints pending aggregation summaries and writes the snapshot (call at exit).
pub fn flush() {
    if let Some(l) = GLOBAL.get() {
        l.flush();
    }
}

/// Logs at `level` through the global logger, formatting only when the level is enabled.
/// `log_at!(Level::Warn, key: "tcp_gap", "gap of {} bytes", n)` aggregates by `key`.
#[macro_export]
macro_rules! log_at {
    ($level:expr, key: $key:expr, $($arg:tt)+) => {{
        let level = $level;
        if let ::std::option::Option::Some(logger) = $crate::log::logger_for(level) {
            logger.log_keyed(level, $key, ::std::format_args!($($arg)+));
        }
    }};
    ($level:expr, $($arg:tt)+) => {{
        let level = $level;
        if let ::std::option::Option::Some(logger) = $crate::log::logger_for(level) {
            logger.log(level, ::std::format_args!($($arg)+));
        }
    }};
}

/// `log_error!("...", args)` or `log_error!(key: "kind", "...", args)`: level 1.
#[macro_export]
macro_rules! log_error {
    ($($t:tt)+) => { $crate::log_at!($crate::log::Level::Error, $($t)+) };
}

/// Level 2; see [`log_error!`].
#[macro_export]
macro_rules! log_warn {
    ($($t:tt)+) => { $crate::log_at!($crate::log::Level::Warn, $($t)+) };
}

/// Level 3; see [`log_error!`].
#[macro_export]
macro_rules! log_info {
    ($($t:tt)+) => { $crate::log_at!($crate::log::Level::Info, $($t)+) };
}

/// Level 4; see [`log_error!`].
#[macro_export]
macro_rules! log_debug {
    ($($t:tt)+) => { $crate::log_at!($crate::log::Level::Debug, $($t)+) };
}

/// Level 5; see [`log_error!`].
#[macro_export]
macro_rules! log_trace {
    ($($t:tt)+) => { $crate::log_at!($crate::log::Level::Trace, $($t)+) };
}

/// Writes to stderr without panicking when stderr is closed (`eprint!` panics, and a panic
/// in the processor thread would lose what it holds).
#[macro_export]
macro_rules! stderr_write {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = write!(::std::io::stderr(), $($arg)*);
    }};
}

/// `stderr_write!` with a newline.
#[macro_export]
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = writeln!(::std::io::stderr(), $($arg)*);
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Buf {
        fn take(&self) -> String {
            String::from_utf8(std::mem::take(&mut *self.0.lock().unwrap())).unwrap()
        }
    }

    const T0: Timestamp = Timestamp(1_700_000_000_000_000_000);

    fn setup(cfg: LogConfig) -> (Logger, Buf, Arc<ManualClock>) {
        let buf = Buf::default();
        let clock = Arc::new(ManualClock::new(T0));
        let l = Logger::new(&cfg, Box::new(buf.clone()), clock.clone());
        (l, buf, clock)
    }

    fn verbose(n: u8) -> LogConfig {
        LogConfig {
            verbose: n,
            ..LogConfig::default()
        }
    }

    #[test]
    fn levels_filter_and_format() {
        let (l, buf, _) = setup(verbose(2));
        assert!(l.enabled(Level::Error) && l.enabled(Level::Warn));
        assert!(!l.enabled(Level::Info) && !l.enabled(Level::Trace));
        l.log(Level::Error, format_args!("disk {}", "full"));
        l.log(Level::Warn, format_args!("dropped {} packets", 3));
        l.log(Level::Info, format_args!("not printed"));
        assert_eq!(
            buf.take(),
            "2023-11-14T22:13:20.000Z ERROR disk full\n\
             2023-11-14T22:13:20.000Z WARN  dropped 3 packets\n"
        );
        assert_eq!(l.counters().log_messages, 2);
    }

    #[test]
    fn verbose_zero_prints_nothing_and_does_not_format() {
        let (l, buf, _) = setup(verbose(0));
        struct Panics;
        impl fmt::Display for Panics {
            fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
                panic!("formatted although disabled")
            }
        }
        for level in [
            Level::Error,
            Level::Warn,
            Level::Info,
            Level::Debug,
            Level::Trace,
        ] {
            assert!(!l.enabled(level));
            l.log(level, format_args!("{}", Panics));
            l.log_keyed(level, "k", format_args!("{}", Panics));
        }
        assert_eq!(buf.take(), "");
    }

    #[test]
    fn repeats_are_aggregated_per_interval() {
        let (l, buf, clock) = setup(verbose(5));
        for i in 0..1235 {
            l.log_keyed(Level::Warn, "gap", format_args!("gap on connection {i}"));
            clock.advance(Duration::from_millis(10));
        }
        // Another kind is independent.
        l.log_keyed(Level::Info, "export", format_args!("exported"));
        assert_eq!(
            buf.take(),
            "2023-11-14T22:13:20.000Z WARN  gap on connection 0\n\
             2023-11-14T22:13:32.350Z INFO  exported\n"
        );
        // The interval (1m) ends: one summary with the last repeat.
        clock.set(T0 + Duration::from_millis(60_004));
        l.tick();
        assert_eq!(
            buf.take(),
            "2023-11-14T22:14:20.004Z WARN  gap on connection 1234 \
             (repeated 1234 times in the last 1m0s)\n"
        );
        // A new window started at the summary: the next repeat is folded into it.
        l.log_keyed(Level::Warn, "gap", format_args!("gap again"));
        assert_eq!(buf.take(), "");
        clock.advance(Duration::from_secs(61));
        l.tick();
        assert_eq!(
            buf.take(),
            "2023-11-14T22:15:21.004Z WARN  gap again (repeated 1 times in the last 1m1s)\n"
        );
        // A quiet interval: the kind starts afresh and prints at once.
        clock.advance(Duration::from_secs(120));
        l.tick();
        assert_eq!(buf.take(), "");
        l.log_keyed(Level::Warn, "gap", format_args!("fresh"));
        assert_eq!(buf.take(), "2023-11-14T22:17:21.004Z WARN  fresh\n");
        let c = l.counters();
        assert_eq!(c.log_messages_repeated, 1235);
    }

    #[test]
    fn expiry_also_happens_on_the_next_message() {
        let (l, buf, clock) = setup(verbose(5));
        l.log_keyed(Level::Warn, "a", format_args!("a1"));
        l.log_keyed(Level::Warn, "a", format_args!("a2"));
        clock.advance(Duration::from_secs(90));
        l.log(Level::Info, format_args!("other"));
        assert_eq!(
            buf.take(),
            "2023-11-14T22:13:20.000Z WARN  a1\n\
             2023-11-14T22:14:50.000Z WARN  a2 (repeated 1 times in the last 1m30s)\n\
             2023-11-14T22:14:50.000Z INFO  other\n"
        );
    }

    #[test]
    fn flush_prints_pending_summaries() {
        let (l, buf, clock) = setup(verbose(5));
        l.log_keyed(Level::Error, "w", format_args!("write failed"));
        l.log_keyed(Level::Error, "w", format_args!("write failed"));
        l.log_keyed(Level::Error, "w", format_args!("write failed"));
        clock.advance(Duration::from_secs(5));
        l.flush();
        assert!(buf
            .take()
            .ends_with("ERROR write failed (repeated 2 times in the last 5s)\n"));
    }

    #[test]
    fn zero_interval_disables_aggregation() {
        let (l, buf, _) = setup(LogConfig {
            verbose: 3,
            aggregate_interval: Duration::ZERO,
            ..LogConfig::default()
        });
        l.log_keyed(Level::Info, "x", format_args!("one"));
        l.log_keyed(Level::Info, "x", format_args!("two"));
        assert_eq!(buf.take().lines().count(), 2);
    }

    #[test]
    fn aggregate_keys_are_bounded() {
        let (l, buf, _) = setup(verbose(5));
        let keys: Vec<&'static str> = (0..MAX_AGGREGATE_KEYS + 5)
            .map(|i| &*Box::leak(format!("k{i}").into_boxed_str()))
            .collect();
        for k in &keys {
            l.log_keyed(Level::Debug, k, format_args!("m"));
            l.log_keyed(Level::Debug, k, format_args!("m"));
        }
        let c = l.counters();
        // The first MAX keys aggregate their repeat; the 5 beyond print both.
        assert_eq!(c.log_aggregate_keys_full, 10);
        assert_eq!(c.log_messages_repeated, MAX_AGGREGATE_KEYS as u64);
        assert_eq!(buf.take().lines().count(), MAX_AGGREGATE_KEYS + 10);
    }

    #[test]
    fn error_texts_are_limited() {
        let (l, _, _) = setup(verbose(1));
        assert_eq!(
            l.limit_error("connection reset by peer while writing"),
            "connection reset by …"
        );
        assert_eq!(l.limit_error("short"), "short");
        assert_eq!(
            l.limit_error("exactly twenty chars"),
            "exactly twenty chars"
        );
        assert_eq!(truncate_chars("ééééé", 2), "éé…");
        assert_eq!(truncate_chars("unlimited text", 0), "unlimited text");
    }

    #[test]
    fn long_messages_are_capped() {
        let (l, buf, _) = setup(verbose(1));
        let long = "x".repeat(MAX_MESSAGE_CHARS * 3);
        l.log(Level::Error, format_args!("{long}"));
        let out = buf.take();
        assert!(out.ends_with("…\n"));
        assert!(out.chars().count() < MAX_MESSAGE_CHARS + 40);
        assert_eq!(l.counters().log_messages_cut, 1);
    }

    fn snapshot_cfg(dir: &std::path::Path, amount: usize, level: u8, verbose: u8) -> LogConfig {
        LogConfig {
            verbose,
            aggregate_interval: Duration::ZERO,
            snapshot: SnapshotConfig {
                amount,
                file: dir.join("snapshot.log"),
                interval: Duration::from_secs(10),
                level,
            },
            ..LogConfig::default()
        }
    }

    #[test]
    fn snapshot_keeps_last_n_at_its_level_and_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.log");
        // Prints nothing on stderr (verbose 0), keeps warnings and errors.
        let (l, buf, clock) = setup(snapshot_cfg(dir.path(), 3, 2, 0));
        assert!(l.enabled(Level::Warn) && !l.enabled(Level::Info));
        for i in 0..10 {
            l.log(Level::Warn, format_args!("w{i}"));
            l.log(Level::Info, format_args!("info {i}"));
        }
        assert_eq!(buf.take(), "");
        l.tick();
        assert!(!path.exists(), "not due before the interval");
        clock.advance(Duration::from_secs(10));
        l.tick();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "2023-11-14T22:13:20.000Z WARN  w7\n\
             2023-11-14T22:13:20.000Z WARN  w8\n\
             2023-11-14T22:13:20.000Z WARN  w9\n"
        );
        // More messages: the file is replaced, still 3 lines.
        l.log(Level::Error, format_args!("e1"));
        clock.advance(Duration::from_secs(10));
        l.tick();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 3);
        assert!(text.ends_with("ERROR e1\n"));
        assert!(text.starts_with("2023-11-14T22:13:20.000Z WARN  w8\n"));
        assert_eq!(l.counters().log_snapshots_written, 2);
        // Nothing new: not rewritten.
        clock.advance(Duration::from_secs(10));
        l.tick();
        assert_eq!(l.counters().log_snapshots_written, 2);
        // No temporary files left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(l.snapshot_lines().len(), 3);
    }

    #[test]
    fn snapshot_bounded_under_many_threads() {
        let dir = tempfile::tempdir().unwrap();
        let (l, _, clock) = setup(snapshot_cfg(dir.path(), 50, 5, 0));
        let l = Arc::new(l);
        let done = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::new();
        for t in 0..4 {
            let l = l.clone();
            let done = done.clone();
            handles.push(thread::spawn(move || {
                for i in 0..2000 {
                    l.log(Level::Debug, format_args!("thread {t} message {i}"));
                }
                done.fetch_add(1, Ordering::SeqCst);
            }));
        }
        while done.load(Ordering::SeqCst) < 4 {
            clock.advance(Duration::from_secs(10));
            l.tick();
        }
        for h in handles {
            h.join().unwrap();
        }
        l.flush();
        let text = std::fs::read_to_string(dir.path().join("snapshot.log")).unwrap();
        assert_eq!(text.lines().count(), 50);
        // The newest message of all is the last line.
        assert!(
            text.lines().last().unwrap().ends_with("message 1999"),
            "{text}"
        );
        assert_eq!(l.counters().log_messages, 8000);
    }

    #[test]
    fn snapshot_write_failure_is_counted_and_said_once() {
        let dir = tempfile::tempdir().unwrap();
        // A regular file where the folder should be: the snapshot cannot be written (a
        // missing folder would be created again).
        std::fs::write(dir.path().join("not-a-dir"), b"").unwrap();
        let mut cfg = snapshot_cfg(&dir.path().join("not-a-dir"), 5, 1, 1);
        cfg.snapshot.interval = Duration::ZERO;
        let (l, buf, _) = setup(cfg);
        l.log(Level::Error, format_args!("boom"));
        l.flush();
        l.flush();
        let out = buf.take();
        assert_eq!(out.matches("log snapshot").count(), 1, "{out}");
        assert_eq!(l.counters().log_snapshot_errors, 2);
    }

    #[test]
    fn global_macros() {
        // Before init: disabled, nothing formatted.
        assert!(!enabled(Level::Error));
        let buf = Buf::default();
        let clock = Arc::new(ManualClock::new(T0));
        init_with(Logger::new(
            &verbose(3),
            Box::new(buf.clone()),
            clock.clone(),
        ))
        .unwrap();
        assert!(init_with(Logger::new(&verbose(3), Box::new(io::sink()), clock)).is_err());
        crate::log_error!("e {}", 1);
        crate::log_info!(key: "stats", "stats {}", 2);
        crate::log_info!(key: "stats", "stats {}", 3);
        crate::log_debug!("not shown");
        crate::log_trace!(key: "t", "not shown");
        crate::log_warn!("w");
        assert_eq!(
            buf.take(),
            "2023-11-14T22:13:20.000Z ERROR e 1\n\
             2023-11-14T22:13:20.000Z INFO  stats 2\n\
             2023-11-14T22:13:20.000Z WARN  w\n"
        );
        assert_eq!(
            limited("a very long error message indeed"),
            "a very long error me…"
        );
        flush();
        assert!(buf
            .take()
            .ends_with("INFO  stats 3 (repeated 1 times in the last 0s)\n"));
    }
}
