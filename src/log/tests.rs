//! Unit tests of the logger: levels, aggregation, truncation, snapshot, global instance.

use super::*;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

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
    // Readable by its owner only: messages can carry captured request targets.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
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

#[test]
fn safe_text_escapes_terminal_controls() {
    assert_eq!(safe_text("a\x1b[2Jb"), "a\\x1b[2Jb");
    assert_eq!(safe_text("tab\there"), "tab\there");
    assert_eq!(safe_text("del\x7f c1\u{9b}"), "del\\x7f c1\\x9b");
    assert_eq!(safe_text("plain ü"), "plain ü");
}

/// Logged messages carry captured bytes (a request's method and target): a control
/// character could drive the terminal or forge a log line, so it is shown escaped, in
/// plain and aggregated messages alike.
#[test]
fn logged_wire_bytes_cannot_drive_the_terminal() {
    let (l, buf, _) = setup(LogConfig {
        verbose: 4,
        aggregate_interval: Duration::ZERO,
        ..LogConfig::default()
    });
    let target = "/\x1b]0;PWNED\x07\x1b[2J\n2023-11-14T22:13:20.000Z ERROR forged";
    l.log(Level::Debug, format_args!("GET {target}"));
    l.log_keyed(Level::Debug, "k", format_args!("GET {target}"));
    let out = buf.take();
    assert!(!out.contains('\x1b') && !out.contains('\x07'), "{out:?}");
    assert_eq!(out.lines().count(), 2, "{out:?}");
    assert!(
        out.contains("\\x1b]0;PWNED\\x07\\x1b[2J\\x0a2023"),
        "{out:?}"
    );
}
