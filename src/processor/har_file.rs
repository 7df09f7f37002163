//! The `file` processor: HAR files in `-output-folder`, one per host when split, written
//! atomically every `-export-interval`.
//!
//! A transaction belongs to the interval that holds its `completed_at` (not its arrival
//! order), and within a file entries are sorted by (start time, connection id, depth), so a
//! replayed capture gives byte-identical files whatever the thread scheduling. An interval
//! is written when `on_tick(now)` reaches its end; `finish` writes whatever is still held.
//!
//! Entries are held as compact JSON until written; their total is bounded by
//! `HarFileLimits::max_held_bytes` (beyond it new entries are dropped and counted). Files
//! are created mode 0600: HAR holds cookies and credentials.
//!
//! File names: `<host>_<interval start, UTC, YYYYMMDDTHHMMSSZ>.har` (split) or
//! `httshark_<...>.har`. The host comes from the Host header, which is attacker-controlled:
//! `file_stem` makes any string a single safe path component, and distinct hosts never
//! share a file (hash suffix when the name was changed, numbered suffix on a collision).
//!
//! Write errors: the entries of a file that failed are kept for one retry at the next tick
//! (or at `finish`); a second failure drops them (counted). The error is returned each time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::DateTime;

use super::{prepare_folder, FolderStep, Processor, ProcessorError};
use crate::counters::CounterSet;
use crate::har;
use crate::model::Transaction;
use crate::time::Timestamp;

const NAME: &str = "file";

/// Longest sanitised host kept in a file name (before the hash suffix).
pub const MAX_STEM_CHARS: usize = 100;

/// Bounds of the `file` processor.
#[derive(Clone, Debug)]
pub struct HarFileLimits {
    /// Serialised entry bytes held (waiting for their interval to end, or for a retry) at
    /// most; entries beyond it are dropped and counted in `entries_dropped_held_limit`.
    pub max_held_bytes: u64,
}

impl Default for HarFileLimits {
    fn default() -> Self {
        HarFileLimits {
            max_held_bytes: 1 << 30,
        }
    }
}

crate::counters! {
    /// `file` processor counters.
    pub struct HarFileCounters {
        /// HAR files written (renamed into place).
        har_files_written,
        /// Entries in the files written.
        har_entries_written,
        /// Bytes of the files written.
        har_bytes_written,
        /// Failed file writes (each retried once).
        har_write_errors,
        /// Entries lost because their file failed twice.
        har_entries_dropped_write_error,
        /// Entries dropped because `max_held_bytes` was reached.
        har_entries_dropped_held_limit,
        /// Entries whose interval had already been written (a caller broke the
        /// `on_tick` promise); put into the oldest interval still open.
        har_entries_late,
        /// Entries that could not be serialised (not expected; counted, not fatal).
        har_entries_serialize_errors,
    }
}

/// One entry waiting to be written, with its sort key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    started: Timestamp,
    conn: u64,
    depth: u32,
    json: Box<[u8]>,
}

/// A file that failed once, waiting for its retry.
#[derive(Debug)]
struct Retry {
    name: String,
    entries: Vec<Held>,
}

/// Writes HAR files; see the module docs.
pub struct HarFileProcessor {
    folder: PathBuf,
    split_by_host: bool,
    interval: Duration,
    limits: HarFileLimits,
    /// Interval start -> file key (lowercased host, or "" when not split) -> entries.
    pending: BTreeMap<Timestamp, BTreeMap<String, Vec<Held>>>,
    retries: Vec<Retry>,
    held_bytes: u64,
    /// Every interval that starts before this has been written.
    written_until: Option<Timestamp>,
    counters: HarFileCounters,
}

fn err(message: String) -> ProcessorError {
    ProcessorError {
        processor: NAME,
        message,
    }
}

impl HarFileProcessor {
    /// Creates `output_folder` if missing and checks that a file can be created in it, so
    /// a bad location fails before the capture starts.
    pub fn new(
        output_folder: PathBuf,
        split_by_host: bool,
        export_interval: Duration,
    ) -> Result<Self, ProcessorError> {
        prepare_folder(&output_folder).map_err(|(step, e)| {
            let shown = output_folder.display();
            err(match step {
                FolderStep::Create => format!("cannot create output folder {shown}: {e}"),
                _ => format!("output folder {shown} is not writable: {e}"),
            })
        })?;
        Ok(HarFileProcessor {
            folder: output_folder,
            split_by_host,
            interval: export_interval.max(Duration::from_millis(1)),
            limits: HarFileLimits::default(),
            pending: BTreeMap::new(),
            retries: Vec::new(),
            held_bytes: 0,
            written_until: None,
            counters: HarFileCounters::default(),
        })
    }

    pub fn with_limits(mut self, limits: HarFileLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn counters(&self) -> &HarFileCounters {
        &self.counters
    }

    /// Serialised entry bytes currently held.
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes
    }

    /// Writes every interval that starts before `end` (all when None), then the retries
    /// that were pending before this call.
    fn write_until(&mut self, end: Option<Timestamp>) -> Result<(), ProcessorError> {
        let mut first_err = None;
        // Retries first, with the entries they had: one more attempt each.
        for r in std::mem::take(&mut self.retries) {
            let n = r.entries.len() as u64;
            let bytes: u64 = r.entries.iter().map(|h| h.json.len() as u64).sum();
            self.held_bytes = self.held_bytes.saturating_sub(bytes);
            if let Err(e) = self.write_file(&r.name, &r.entries) {
                self.counters.har_entries_dropped_write_error += n;
                first_err.get_or_insert(err(format!("{e}; {n} entries dropped after one retry")));
            }
        }
        let interval = self.interval;
        let due: Vec<Timestamp> = self
            .pending
            .keys()
            .copied()
            .filter(|start| end.is_none_or(|end| *start + interval <= end))
            .collect();
        for start in due {
            let Some(files) = self.pending.remove(&start) else {
                continue;
            };
            let stamp = interval_stamp(start);
            let mut used = BTreeSet::new();
            for (key, entries) in files {
                let stem = if self.split_by_host {
                    file_stem(&key)
                } else {
                    "httshark".to_string()
                };
                let name = unique_name(&stem, &stamp, &mut used);
                let bytes: u64 = entries.iter().map(|h| h.json.len() as u64).sum();
                if let Err(e) = self.write_file(&name, &entries) {
                    // Kept (still counted as held) for one retry.
                    self.retries.push(Retry { name, entries });
                    first_err.get_or_insert(err(format!("{e}; kept for one retry")));
                } else {
                    self.held_bytes = self.held_bytes.saturating_sub(bytes);
                }
            }
            let after = start + interval;
            self.written_until = Some(self.written_until.map_or(after, |w| w.max(after)));
        }
        first_err.map_or(Ok(()), Err)
    }

    /// Writes one file: entries sorted, then streamed into a private temporary file that
    /// is renamed into place.
    fn write_file(&mut self, name: &str, entries: &[Held]) -> Result<(), String> {
        let path = self.folder.join(name);
        let mut order: Vec<&Held> = entries.iter().collect();
        order.sort();
        let result = har::write_file(&path, order.iter().map(|h| &h.json[..]));
        match result {
            Ok(total) => {
                self.counters.har_files_written += 1;
                crate::log_info!(
                    key: "har-file-written",
                    "wrote {} ({} entries, {total} bytes)",
                    path.display(),
                    entries.len()
                );
                self.counters.har_entries_written += entries.len() as u64;
                self.counters.har_bytes_written += total;
                Ok(())
            }
            Err(e) => {
                self.counters.har_write_errors += 1;
                Err(format!("writing {}: {e}", path.display()))
            }
        }
    }
}

impl Processor for HarFileProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        let entry = har::entry(tx);
        let json = match har::entry_json_bytes(&entry) {
            Ok(j) => j.into_boxed_slice(),
            Err(_) => {
                self.counters.har_entries_serialize_errors += 1;
                return Ok(());
            }
        };
        if self.held_bytes.saturating_add(json.len() as u64) > self.limits.max_held_bytes {
            self.counters.har_entries_dropped_held_limit += 1;
            return Ok(());
        }
        let mut start = tx.completed_at.floor_to(self.interval);
        if let Some(w) = self.written_until.filter(|w| start < *w) {
            // Its file is already written; rewriting it would replace it. Keep the entry
            // in the oldest interval still open instead.
            self.counters.har_entries_late += 1;
            start = w;
        }
        // Hosts are case-insensitive (RFC 3986 §3.2.2), and so are some file systems.
        let key = if self.split_by_host {
            tx.host().to_ascii_lowercase()
        } else {
            String::new()
        };
        self.held_bytes += json.len() as u64;
        self.pending
            .entry(start)
            .or_default()
            .entry(key)
            .or_default()
            .push(Held {
                started: tx.request.first_ts,
                conn: tx.conn.id,
                depth: tx.depth,
                json,
            });
        Ok(())
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

    fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.counters.visit(f);
    }
}

/// `YYYYMMDDTHHMMSSZ` of an interval start, UTC.
pub fn interval_stamp(start: Timestamp) -> String {
    DateTime::from_timestamp(start.secs(), 0).map_or_else(
        || "19700101T000000Z".to_string(),
        |d| d.format("%Y%m%dT%H%M%SZ").to_string(),
    )
}

/// FNV-1a, 64 bits: stable across runs and platforms (std's hasher is not).
fn fnv1a(s: &[u8]) -> u64 {
    s.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A host as one safe file-name component: `[A-Za-z0-9._-]` kept, `:` (the port) becomes
/// `_`, anything else `_`; no leading dot; at most `MAX_STEM_CHARS` characters. When
/// anything other than `:` was changed, `-` and 8 hex digits of a hash of the original are
/// appended, so hosts that differ only in replaced characters get distinct names.
pub fn file_stem(host: &str) -> String {
    let mut out = String::with_capacity(host.len().min(MAX_STEM_CHARS) + 9);
    let mut lossy = false;
    for (i, c) in host.chars().enumerate() {
        if out.len() >= MAX_STEM_CHARS {
            lossy = true;
            break;
        }
        match c {
            // A leading dot hides the file; a leading dash reads as an option in shells.
            '.' | '-' if i == 0 => {
                out.push('_');
                lossy = true;
            }
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | '-' => out.push(c),
            ':' => out.push('_'),
            _ => {
                out.push('_');
                lossy = true;
            }
        }
    }
    if out.is_empty() {
        out.push('_');
        lossy = true;
    }
    if lossy {
        out.push_str(&format!("-{:08x}", fnv1a(host.as_bytes()) as u32));
    }
    out
}

/// `<stem>_<stamp>.har`, with `-2`, `-3`, ... added to the stem when another host of the
/// same interval already has the name (e.g. `a:1` and `a_1`). Callers iterate hosts in a
/// fixed order, so the numbering is deterministic.
fn unique_name(stem: &str, stamp: &str, used: &mut BTreeSet<String>) -> String {
    let mut name = format!("{stem}_{stamp}.har");
    let mut n = 2u64;
    while used.contains(&name) {
        name = format!("{stem}-{n}_{stamp}.har");
        n += 1;
    }
    used.insert(name.clone());
    name
}

/// True when `name` is a single path component that stays inside a folder.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name.len() <= 255
        && Path::new(name).components().count() == 1
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests;
