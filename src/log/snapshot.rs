//! The log snapshot: the last N messages, rewritten atomically to a file (`-log-snapshot-*`),
//! mode 0600: messages can carry captured request targets (query tokens).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::output::write_atomically_private;

use super::{format_time, Logger, DEFAULT_SNAPSHOT_FILE};

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

impl Logger {
    /// The messages the snapshot holds now, oldest first.
    pub fn snapshot_lines(&self) -> Vec<String> {
        self.lock().ring.iter().cloned().collect()
    }

    /// Rewrites the snapshot file with the ring's lines, when they changed (or `force`).
    pub(super) fn write_snapshot(&self, force: bool) {
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
        let result = write_atomically_private(&self.snapshot.file, |w| {
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
