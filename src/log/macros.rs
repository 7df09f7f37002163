//! The logging macros (`crate::log_warn!` etc.) and stderr writes that cannot panic.

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
