//! The progress bar of an offline run on a terminal (wall-clock paced, display only).

use std::time::Duration;

/// The progress bar of an offline run on a terminal: bytes of the file read, rate, ETA.
/// Redrawn at most every 200 ms of wall time; cleared at the end.
pub(super) struct Progress {
    total: u64,
    started: std::time::Instant,
    drawn: Option<std::time::Instant>,
}

impl Progress {
    // The progress bar shows elapsed real time and an ETA for a person watching: wall
    // clock on purpose, and it never reaches the output.
    #[allow(clippy::disallowed_methods)]
    pub(super) fn new(total: u64) -> Progress {
        Progress {
            total: total.max(1),
            started: std::time::Instant::now(),
            drawn: None,
        }
    }

    /// `read`: file bytes consumed so far (frames plus their record headers).
    // Redraws at most every 200 ms of real time (see `new`).
    #[allow(clippy::disallowed_methods)]
    pub(super) fn update(&mut self, read: u64) {
        if self
            .drawn
            .is_some_and(|d| d.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.drawn = Some(std::time::Instant::now());
        let done = read.min(self.total);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 {
            (self.total - done) as f64 / rate
        } else {
            0.0
        };
        let width = 30;
        let filled = (done as u128 * width as u128 / self.total as u128) as usize;
        crate::stderr_write!(
            "\r[{}{}] {:3}% {:7.1} MB/s ETA {:02}:{:02}  ",
            "#".repeat(filled),
            ".".repeat(width - filled),
            done * 100 / self.total,
            rate / 1e6,
            (eta as u64) / 60,
            (eta as u64) % 60
        );
    }

    pub(super) fn finish(&self) {
        if self.drawn.is_none() {
            return;
        }
        crate::stderr_write!("\r{}\r", " ".repeat(72));
    }
}
