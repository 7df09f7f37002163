//! Machinery shared by the CSV statistics processors (`sites-stats`, `transactions-sizes`):
//! the output-path check made at construction, the watermark buffer that makes snapshots
//! independent of arrival order, the rewrite schedule, and fixed-point number formatting.
//!
//! Determinism: a snapshot written at `on_tick(now)` holds exactly the transactions with
//! `completed_at <= now`, folded in a total order of their content, and its numbers are
//! computed on integers. Replaying a capture therefore rewrites every file with the same
//! bytes at the same packet times, whatever the worker count or thread scheduling.

use std::path::Path;
use std::time::Duration;

use crate::output::{prepare_folder, FolderStep};
use crate::processor::ProcessorError;
use crate::time::Timestamp;

/// Default `-stats-interval`: how often, in packet time, the statistics are written.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// Most transactions held back because their `completed_at` is ahead of the watermark.
/// The skew between workers is bounded by the channel capacity and the 1 s tick period,
/// so this is only reached by a stalled worker; then everything held is folded at once
/// (order-dependent for that one snapshot) and the hit is counted. 65,536 samples of at
/// most ~350 bytes (a site key is at most 200) bound it to about 22 MiB per processor
/// (issue 12: memory flat whatever the rate); a second of traffic at 60,000 transactions
/// per second fits.
pub const MAX_PENDING: usize = 1 << 16;

/// Checks, before any capture starts, that `path` can be written the way
/// `write_atomically` writes it: creates its parent folder, then creates and removes a
/// probe file there. The error names the path and the reason, for an exit code 2.
pub fn prepare_output(processor: &'static str, path: &Path) -> Result<(), ProcessorError> {
    let err = |message: String| ProcessorError { processor, message };
    if path.file_name().is_none() {
        return Err(err(format!("{}: not a file path", path.display())));
    }
    if path.is_dir() {
        return Err(err(format!("{}: is a directory", path.display())));
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    prepare_folder(dir).map_err(|(step, e)| {
        let shown = dir.display();
        err(match step {
            FolderStep::Create => format!("{shown}: cannot create folder: {e}"),
            FolderStep::Write => format!("{shown}: folder not writable: {e}"),
            FolderStep::Remove => format!("{shown}: cannot remove probe file: {e}"),
        })
    })?;
    Ok(())
}

/// Samples waiting for the watermark. Invariant: at most [`MAX_PENDING`] items.
#[derive(Debug)]
pub struct Pending<T: Ord> {
    items: Vec<(Timestamp, T)>,
}

impl<T: Ord> Default for Pending<T> {
    fn default() -> Self {
        Pending { items: Vec::new() }
    }
}

impl<T: Ord> Pending<T> {
    pub fn is_full(&self) -> bool {
        self.items.len() >= MAX_PENDING
    }

    pub fn push(&mut self, completed_at: Timestamp, item: T) {
        debug_assert!(!self.is_full());
        self.items.push((completed_at, item));
    }

    /// Removes and returns, in `(completed_at, content)` order, every item completed at
    /// or before `now`.
    pub fn take_upto(&mut self, now: Timestamp) -> Vec<T> {
        // Sorting on the whole content is a total order: equal items are identical, so
        // the result does not depend on arrival order.
        self.items.sort_unstable();
        let ready = self.items.partition_point(|(ts, _)| *ts <= now);
        self.items.drain(..ready).map(|(_, t)| t).collect()
    }

    /// Removes and returns every item, in `(completed_at, content)` order.
    pub fn take_all(&mut self) -> Vec<T> {
        self.items.sort_unstable();
        self.items.drain(..).map(|(_, t)| t).collect()
    }
}

/// When to rewrite a file: each time packet time enters a new `interval`-long slot
/// (slots counted from the epoch, so a replay rewrites at the same packet times). The
/// first tick only starts the schedule.
#[derive(Debug)]
pub struct Schedule {
    interval: Duration,
    slot: Option<Timestamp>,
}

impl Schedule {
    pub fn new(interval: Duration) -> Schedule {
        Schedule {
            interval,
            slot: None,
        }
    }

    /// True when `now` is in a later slot than the previous tick.
    pub fn due(&mut self, now: Timestamp) -> bool {
        let slot = now.floor_to(self.interval);
        match self.slot {
            Some(prev) if slot <= prev => false,
            Some(_) => {
                self.slot = Some(slot);
                true
            }
            None => {
                self.slot = Some(slot);
                false
            }
        }
    }
}

/// Rejects a zero interval: "rewrite on every tick" is not a meaningful statistics period.
pub fn check_interval(processor: &'static str, interval: Duration) -> Result<(), ProcessorError> {
    if interval.is_zero() {
        return Err(ProcessorError {
            processor,
            message: "the statistics interval must be greater than zero".into(),
        });
    }
    Ok(())
}

/// `num / den` with exactly three decimals, rounded half up, computed on integers so the
/// text is the same on every platform. `None` when `den` is zero.
pub fn fixed3(num: u128, den: u128) -> Option<String> {
    if den == 0 {
        return None;
    }
    let scaled = num
        .saturating_mul(2000)
        .saturating_add(den)
        .checked_div(den.saturating_mul(2))?;
    Some(format!("{}.{:03}", scaled / 1000, scaled % 1000))
}

/// An optional number as a CSV field: empty when undefined.
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// Wraps an output error for the pipeline.
pub fn write_error(processor: &'static str, path: &Path, e: std::io::Error) -> ProcessorError {
    ProcessorError {
        processor,
        message: format!("writing {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn fixed3_rounds_half_up() {
        assert_eq!(fixed3(1, 3).as_deref(), Some("0.333"));
        assert_eq!(fixed3(2, 3).as_deref(), Some("0.667"));
        assert_eq!(fixed3(1, 2000).as_deref(), Some("0.001"));
        assert_eq!(fixed3(1, 2001).as_deref(), Some("0.000"));
        assert_eq!(fixed3(12345, 1).as_deref(), Some("12345.000"));
        assert_eq!(fixed3(5, 0), None);
        assert!(fixed3(u128::MAX, 1).is_some(), "no overflow panic");
    }

    #[test]
    fn schedule_fires_on_new_slots_only() {
        let s = |secs| Timestamp::from_secs_nanos(secs, 0);
        let mut sch = Schedule::new(Duration::from_secs(10));
        assert!(!sch.due(s(12)), "first tick starts the schedule");
        assert!(!sch.due(s(19)));
        assert!(sch.due(s(20)));
        assert!(!sch.due(s(29)));
        assert!(!sch.due(s(5)), "time going back does not fire");
        assert!(sch.due(s(45)));
    }

    #[test]
    fn pending_releases_by_watermark_in_content_order() {
        let mut p = Pending::default();
        p.push(Timestamp(30), "c");
        p.push(Timestamp(10), "b");
        p.push(Timestamp(10), "a");
        p.push(Timestamp(20), "d");
        assert_eq!(p.take_upto(Timestamp(20)), vec!["a", "b", "d"]);
        assert_eq!(p.take_upto(Timestamp(25)), Vec::<&str>::new());
        assert_eq!(p.take_all(), vec!["c"]);
    }

    #[test]
    fn probe_rejects_a_path_under_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let e = prepare_output("t", &file.join("stats.csv")).unwrap_err();
        assert!(e.message.contains("plain"), "{}", e.message);
        assert!(prepare_output("t", dir.path()).is_err(), "a directory");
        let ok = dir.path().join("sub/dir/stats.csv");
        prepare_output("t", &ok).unwrap();
        assert!(ok.parent().unwrap().is_dir());
        assert_eq!(fs::read_dir(ok.parent().unwrap()).unwrap().count(), 0);
    }
}
