//! The `sampled-transactions` processor: at most `-sample-transactions-rate` transactions
//! per `-stats-interval`, written as one HAR file per interval into
//! `-sampled-transactions-folder` (default `sampled`).
//!
//! Selection is bottom-k sampling (Cohen & Kaplan, "Summarizing data using bottom-k
//! sketches", PODC 2007): every transaction gets a 64-bit hash of a stable key (connection
//! id, depth on the connection, packet time of the request's first byte); within each
//! interval the N transactions with the smallest hashes are kept. Hence:
//! - **Deterministic**: the same capture gives the same sample, whatever the arrival order,
//!   the worker count or the thread scheduling (intervals are by `completed_at`, and ties
//!   of the hash are broken by the key itself, so the order is total).
//! - **Unbiased**: the hash does not look at sizes, URLs or status, so every transaction
//!   of an interval has the same chance to be kept (a uniform sample without replacement),
//!   unlike "the first N" (biased to early, short exchanges) or "the last N".
//! - **Bounded**: one max-heap of at most N entries per open interval; a transaction
//!   whose hash is not below the heap's largest is rejected before it is serialised.
//!
//! What it does not do: sample across intervals, or keep whole connections together (two
//! requests of one connection are sampled independently).
//!
//! Files: `sampled_<interval start, UTC, YYYYMMDDTHHMMSSZ>.har`, valid HAR 1.2 holding the
//! same entries as the `file` processor, sorted by (start time, connection, depth), written
//! atomically with mode 0600 once `on_tick(now)` passes the interval's end, and at
//! `finish`. An interval without transactions writes no file. A failed write is returned
//! and its entries kept for one retry at the next tick (or at once in `finish`); a second
//! failure drops them (counted).

use std::collections::{BTreeMap, BinaryHeap};
use std::path::PathBuf;
use std::time::Duration;

use super::har_file::{interval_stamp, writer};
use super::{Processor, ProcessorError};
use crate::counters::CounterSet;
use crate::har;
use crate::model::Transaction;
use crate::output::{prepare_folder, FolderStep};
use crate::time::Timestamp;

/// The name in `-har-processors`.
pub const NAME: &str = "sampled-transactions";

/// Default `-sampled-transactions-folder`.
pub const DEFAULT_FOLDER: &str = "sampled";
/// Default `-sample-transactions-rate`.
pub const DEFAULT_RATE: usize = 1;

/// Settings of the `sampled-transactions` processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampledConfig {
    /// `-sampled-transactions-folder`: created if missing.
    pub folder: PathBuf,
    /// `-sample-transactions-rate`: transactions kept per interval, at least 1.
    pub rate: usize,
    /// `-stats-interval`: the sampling interval (slots counted from the Unix epoch).
    pub interval: Duration,
}

impl Default for SampledConfig {
    fn default() -> Self {
        SampledConfig {
            folder: PathBuf::from(DEFAULT_FOLDER),
            rate: DEFAULT_RATE,
            interval: super::stats::common::DEFAULT_INTERVAL,
        }
    }
}

/// Bounds of the `sampled-transactions` processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampledLimits {
    /// Serialised entry bytes held (kept candidates and retries) at most; a candidate
    /// beyond it is dropped and counted in `sampled_dropped_held_limit`.
    pub max_held_bytes: u64,
    /// Intervals open at once at most. Transactions normally reach the processor at most
    /// a tick ahead of the watermark, so a handful are open; a capture whose timestamps
    /// jump about could open many. Opening one more writes the oldest open interval early
    /// (counted in `sampled_intervals_forced`).
    pub max_open_intervals: usize,
}

impl Default for SampledLimits {
    fn default() -> Self {
        SampledLimits {
            max_held_bytes: 256 << 20,
            max_open_intervals: 64,
        }
    }
}

crate::counters! {
    /// `sampled-transactions` processor counters.
    pub struct SampledCounters {
        /// Transactions offered to the sampler.
        sampled_transactions_seen,
        /// Entries written into sample files.
        sampled_entries_written,
        /// Sample files written (renamed into place).
        sampled_files_written,
        /// Bytes of the sample files written.
        sampled_bytes_written,
        /// Failed file writes (each retried once).
        sampled_write_errors,
        /// Entries lost because their file failed twice.
        sampled_dropped_write_error,
        /// Candidates dropped because `max_held_bytes` was reached.
        sampled_dropped_held_limit,
        /// Transactions whose interval had already been written (a caller broke the
        /// `on_tick` promise; the pipeline keeps it, see the workers'
        /// `completed_after_tick`): not sampled, since adding them to another interval
        /// would bias it.
        sampled_late,
        /// Intervals written before the watermark passed them (`max_open_intervals`).
        sampled_intervals_forced,
        /// Entries that could not be serialised: always 0 since entries are written
        /// straight as JSON (`har::entry_json`); kept so counter names stay stable.
        sampled_serialize_errors,
    }
}

/// The sampling key of a transaction: what identifies it in a capture, nothing about its
/// content. Ordered by hash first, then by the key fields, so ties are broken the same way
/// every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SampleKey {
    pub hash: u64,
    pub conn: u64,
    pub depth: u32,
    pub started: Timestamp,
}

impl SampleKey {
    pub fn of(tx: &Transaction) -> SampleKey {
        let (conn, depth, started) = (tx.conn.id, tx.depth, tx.request.first_ts);
        let mut bytes = [0u8; 20];
        bytes[..8].copy_from_slice(&conn.to_le_bytes());
        bytes[8..12].copy_from_slice(&depth.to_le_bytes());
        bytes[12..].copy_from_slice(&started.as_nanos().to_le_bytes());
        SampleKey {
            hash: mix64(fnv1a(&bytes)),
            conn,
            depth,
            started,
        }
    }
}

/// FNV-1a, 64 bits: stable across runs, platforms and Rust versions (std's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// MurmurHash3's 64-bit finaliser (fmix64). FNV-1a's high bits depend weakly on the last
/// bytes of a short key (here the low bytes of the timestamp, which are what differ between
/// neighbouring requests); the finaliser spreads every input bit over the whole word, so
/// the order by hash is close to a uniform random permutation.
fn mix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// A kept candidate. Ordered by key, so the max-heap's top is the one to evict.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Candidate {
    key: SampleKey,
    json: Box<[u8]>,
}

/// Writes sampled HAR files; see the module docs.
pub struct SampledProcessor {
    folder: PathBuf,
    rate: usize,
    interval: Duration,
    limits: SampledLimits,
    /// Interval start -> the interval's bottom-`rate` candidates.
    open: BTreeMap<Timestamp, BinaryHeap<Candidate>>,
    /// A file that failed once: its interval start and entries.
    retries: Vec<(Timestamp, Vec<Candidate>)>,
    held_bytes: u64,
    /// Every interval that starts before this has been written.
    written_until: Option<Timestamp>,
    /// The first and the last file written, for the summary.
    first_written: Option<PathBuf>,
    last_written: Option<PathBuf>,
    counters: SampledCounters,
}

fn err(message: String) -> ProcessorError {
    ProcessorError {
        processor: NAME,
        message,
    }
}

impl SampledProcessor {
    /// Creates the folder if missing and checks that a file can be created in it, so a bad
    /// location fails before the capture starts. A zero rate or interval is refused.
    pub fn new(config: SampledConfig) -> Result<Self, ProcessorError> {
        if config.rate == 0 {
            return Err(err(
                "-sample-transactions-rate must be at least 1".to_string()
            ));
        }
        if config.interval.is_zero() {
            return Err(err("the sampling interval must not be zero".to_string()));
        }
        let folder = config.folder;
        prepare_folder(&folder).map_err(|(step, e)| {
            let shown = folder.display();
            err(match step {
                FolderStep::Create => {
                    format!("cannot create sampled transactions folder {shown}: {e}")
                }
                _ => format!("sampled transactions folder {shown} is not writable: {e}"),
            })
        })?;
        Ok(SampledProcessor {
            folder,
            rate: config.rate,
            interval: config.interval,
            limits: SampledLimits::default(),
            open: BTreeMap::new(),
            retries: Vec::new(),
            held_bytes: 0,
            written_until: None,
            first_written: None,
            last_written: None,
            counters: SampledCounters::default(),
        })
    }

    pub fn with_limits(mut self, limits: SampledLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn counters(&self) -> &SampledCounters {
        &self.counters
    }

    /// Serialised entry bytes currently held.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// The file name of the interval starting at `start`.
    pub fn file_name(start: Timestamp) -> String {
        format!("sampled_{}.har", interval_stamp(start))
    }

    /// Writes every open interval that ends at or before `end` (all when None), after the
    /// retries that were pending before this call.
    fn write_until(&mut self, end: Option<Timestamp>) -> Result<(), ProcessorError> {
        let mut first_err = None;
        for (start, entries) in std::mem::take(&mut self.retries) {
            let n = entries.len() as u64;
            self.release(&entries);
            if let Err(e) = self.write_file(start, &entries) {
                self.counters.sampled_dropped_write_error += n;
                first_err.get_or_insert(err(format!("{e}; {n} entries dropped after one retry")));
            }
        }
        let interval = self.interval;
        let due: Vec<Timestamp> = self
            .open
            .keys()
            .copied()
            .filter(|start| end.is_none_or(|end| *start + interval <= end))
            .collect();
        for start in due {
            if let Err(e) = self.close_interval(start) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Writes the interval starting at `start` and marks it written; a failed file is kept
    /// for one retry.
    fn close_interval(&mut self, start: Timestamp) -> Result<(), ProcessorError> {
        let Some(heap) = self.open.remove(&start) else {
            return Ok(());
        };
        let after = start + self.interval;
        self.written_until = Some(self.written_until.map_or(after, |w| w.max(after)));
        let entries = heap.into_vec();
        if let Err(e) = self.write_file(start, &entries) {
            self.retries.push((start, entries));
            return Err(err(format!("{e}; kept for one retry")));
        }
        self.release(&entries);
        Ok(())
    }

    fn release(&mut self, entries: &[Candidate]) {
        let bytes: u64 = entries.iter().map(|c| c.json.len() as u64).sum();
        self.held_bytes = self.held_bytes.saturating_sub(bytes);
    }

    /// Writes one sample file: entries sorted by (start time, connection, depth).
    fn write_file(&mut self, start: Timestamp, entries: &[Candidate]) -> Result<(), String> {
        let path = self.folder.join(Self::file_name(start));
        let mut order: Vec<&Candidate> = entries.iter().collect();
        order.sort_by_key(|c| (c.key.started, c.key.conn, c.key.depth, c.key.hash));
        let result = writer::write_file(&path, order.iter().map(|c| &c.json[..]));
        match result {
            Ok(total) => {
                self.counters.sampled_files_written += 1;
                if self.first_written.is_none() {
                    self.first_written = Some(path.clone());
                }
                self.last_written = Some(path.clone());
                self.counters.sampled_entries_written += entries.len() as u64;
                self.counters.sampled_bytes_written += total;
                Ok(())
            }
            Err(e) => {
                self.counters.sampled_write_errors += 1;
                Err(format!("writing {}: {e}", path.display()))
            }
        }
    }
}

impl Processor for SampledProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        self.counters.sampled_transactions_seen += 1;
        let start = tx.completed_at.floor_to(self.interval);
        if self.written_until.is_some_and(|w| start < w) {
            self.counters.sampled_late += 1;
            return Ok(());
        }
        let key = SampleKey::of(tx);
        // Cheap rejection first: a full heap whose largest key is below ours.
        if let Some(heap) = self.open.get(&start) {
            if heap.len() >= self.rate && heap.peek().is_some_and(|top| top.key <= key) {
                return Ok(());
            }
        }
        let json = har::entry_json(tx).into_boxed_slice();
        let mut result = Ok(());
        if !self.open.contains_key(&start) && self.open.len() >= self.limits.max_open_intervals {
            // Bounded: the oldest open interval goes out early.
            if let Some(&oldest) = self.open.keys().next() {
                self.counters.sampled_intervals_forced += 1;
                result = self.close_interval(oldest);
                if self.written_until.is_some_and(|w| start < w) {
                    // Ours was older than every open one: it is now late too.
                    self.counters.sampled_late += 1;
                    return result;
                }
            }
        }
        let heap = self.open.entry(start).or_default();
        let full = heap.len() >= self.rate;
        let freed = if full {
            heap.peek().map_or(0, |top| top.json.len() as u64)
        } else {
            0
        };
        let size = json.len() as u64;
        if self.held_bytes.saturating_sub(freed).saturating_add(size) > self.limits.max_held_bytes {
            // Over the byte bound: ours is dropped and counted, the heap is left as it was.
            self.counters.sampled_dropped_held_limit += 1;
            return result;
        }
        if full {
            heap.pop();
        }
        self.held_bytes = self.held_bytes.saturating_sub(freed) + size;
        heap.push(Candidate { key, json });
        result
    }

    fn on_tick(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        self.write_until(Some(now))
    }

    fn finish(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        let _ = now;
        let first = self.write_until(None);
        // A file that failed just now gets its one retry here: there is no next tick.
        let second = if self.retries.is_empty() {
            Ok(())
        } else {
            self.write_until(None)
        };
        first.and(second)
    }

    fn written(&self) -> Option<String> {
        let c = &self.counters;
        Some(format!(
            "{} ({}) in {}{}{}",
            super::count_of(c.sampled_files_written, "sample file", "sample files"),
            super::count_of(c.sampled_entries_written, "entry", "entries"),
            self.folder.display(),
            if c.sampled_files_written > 0 {
                ": "
            } else {
                ""
            },
            super::first_and_last(
                self.first_written.as_deref(),
                self.last_written.as_deref(),
                c.sampled_files_written
            )
        ))
    }

    fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.counters.visit(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference (http://www.isthe.com/chongo/tech/comp/fnv/).
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn mix64_spreads_neighbouring_keys() {
        // Keys that differ in one low bit land far apart: about half the bits flip.
        let a = mix64(fnv1a(&1u64.to_le_bytes()));
        let b = mix64(fnv1a(&2u64.to_le_bytes()));
        let flipped = (a ^ b).count_ones();
        assert!((16..=48).contains(&flipped), "{flipped}");
    }

    #[test]
    fn zero_rate_and_zero_interval_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SampledConfig {
            folder: dir.path().to_path_buf(),
            ..SampledConfig::default()
        };
        assert!(SampledProcessor::new(SampledConfig {
            rate: 0,
            ..cfg.clone()
        })
        .is_err());
        assert!(SampledProcessor::new(SampledConfig {
            interval: Duration::ZERO,
            ..cfg.clone()
        })
        .is_err());
        assert!(SampledProcessor::new(cfg).is_ok());
    }
}
