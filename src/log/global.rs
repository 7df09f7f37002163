//! The global instance: set up by `init`, reached by the macros.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};
use std::thread;
use std::time::Duration;

use crate::output::write_atomically_private;

use super::{
    truncate_chars, Level, LogConfig, LogCounters, Logger, WallClock, DEFAULT_MAX_ERROR_CHARS,
};

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
        write_atomically_private(&cfg.snapshot.file, |_| Ok(())).map_err(|e| {
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

/// The global logger's counters (all 0 before `init`, as in tests that run without one).
pub fn counters() -> LogCounters {
    logger().map(Logger::counters).unwrap_or_default()
}

/// The global logger, once initialised.
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
