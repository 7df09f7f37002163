//! The `file` processor: HAR files in `-output-folder`, one per host when split, written
//! atomically every `-export-interval`.
//!
//! A transaction belongs to the interval that holds its `completed_at` (not its arrival
//! order), and within a file entries are sorted by (start time, connection id, depth), so a
//! replayed capture gives byte-identical files whatever the thread scheduling. An interval
//! is written when `on_tick(now)` reaches its end; `finish` writes whatever is still held.
//!
//! Entries are streamed to disk while their interval is open (`stream.rs`, issue 12): a
//! reorder buffer of `HarFileLimits::reorder_bytes` releases them in sort order into one
//! private temporary file per file of the interval, renamed into place at export (merged
//! with the entries that came too late for the buffer, if any). Memory then holds the
//! buffer and 40 bytes of index per entry streamed, whatever the rate; the index is
//! bounded by `HarFileLimits::max_indexed_entries` (past it, the open intervals are
//! written early as parts, `har_early_exports_index_limit`).
//!
//! At most `HarFileLimits::max_streams` files are streamed at once (each keeps a file
//! descriptor and a slot of the second signal's removal list); entries of further files,
//! and every entry while the output is failing, are held in memory as compact JSON until
//! written, as before streaming (`har_stream_limit_hits`). Those are bounded by
//! `HarFileLimits::max_held_bytes`. Two early exports keep it there (the interval stays
//! open and is written in parts, each file numbered: `<stem>_<stamp>.p0001.har`,
//! `.p0002.har`, ..., so `ls` lists them in order; see `part_label`):
//! - on a tick, when the entries completed before the tick (a set no thread scheduling can
//!   change: every worker has passed that time) hold more than a quarter of the limit, those are
//!   written (`har_early_exports`). Which entries go into which part is then the same on
//!   every replay, whatever the number of workers;
//! - when a new entry would pass the limit itself (a burst within one tick), everything
//!   held is written at once (`har_early_exports_at_arrival`); with several workers, how
//!   those entries split into parts depends on arrival order (the entries are the same).
//!
//! Only when an export cannot free room (the output is failing) is the new entry dropped,
//! counted. Files are created mode 0600: HAR holds cookies and credentials.
//!
//! File names: `<host>_<interval start, UTC, YYYYMMDDTHHMMSSZ>.har` (split) or
//! `httshark_<...>.har`; `.pNNNN` before `.har` for the parts of an interval written early. The host comes from the Host header, which is attacker-controlled:
//! `file_stem` makes any string a single safe path component, and distinct hosts never
//! share a file (hash suffix when the name was changed, numbered suffix on a collision).
//!
//! Output faults (docs/robustness.md, "Faults"): a removed output folder is recreated at
//! the next write (warned, counted). A failed write leaves no file behind (see
//! `write_atomically`); its entries stay held, within `max_held_bytes`, and are retried at
//! every later export, so a disk that fills up and frees again loses nothing. Each
//! distinct error is logged once (error level) and every failure is counted; the capture
//! goes on. Mid-run failures are not returned as errors (the run may recover); `finish`
//! tries once more and returns an error saying how many transactions could not be written
//! when any were lost, which makes the exit status non-zero.

mod names;
mod stream;
pub mod writer;

#[cfg(test)]
use names::fnv1a;
use names::unique_name;
pub use names::{file_stem, interval_stamp, is_safe_component, part_label, PART_DIGITS};

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Processor, ProcessorError};
use crate::counters::CounterSet;
use crate::har;
use crate::model::Transaction;
use crate::output::{prepare_folder, FolderStep};
use crate::time::Timestamp;

/// The name in `-har-processors`.
pub const NAME: &str = "file";

/// Longest sanitised host kept in a file name (before the hash suffix).
pub const MAX_STEM_CHARS: usize = 100;

/// Default `-output-folder`.
pub const DEFAULT_FOLDER: &str = ".";
/// Default `-export-interval`.
pub const DEFAULT_EXPORT_INTERVAL: Duration = Duration::from_secs(10);

/// Settings of the `file` processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HarFileConfig {
    /// `-output-folder`: where the HAR files go; created if missing, must be writable.
    pub folder: PathBuf,
    /// `-split-by-host`: one file per request host (default true).
    pub split_by_host: bool,
    /// `-export-interval`: how often, in packet time, held entries are written (default 10s).
    pub interval: Duration,
}

impl Default for HarFileConfig {
    fn default() -> Self {
        HarFileConfig {
            folder: PathBuf::from(DEFAULT_FOLDER),
            split_by_host: true,
            interval: DEFAULT_EXPORT_INTERVAL,
        }
    }
}

/// Files streamed at once (see the module docs): each keeps up to two temporary files
/// open (the run and, for entries that came too late for the reorder buffer, a spool).
/// Files beyond it are held in memory until written (`har_stream_limit_hits`).
pub const MAX_HAR_STREAMS: usize = crate::output::temp_files::STREAM_SLOTS / 2;

/// Default reorder buffer: serialised entries waiting to be streamed in sort order. The
/// longer a transaction lasts, the more entries that started after it are released
/// before it arrives; those are merged in (`har_entries_spooled_late`) instead of appended.
pub const REORDER_BYTES: u64 = 8 << 20;

/// Default bound on the entries streamed to the open intervals' files (each keeps 40
/// bytes of index in memory for the export's merge: 10 MiB).
pub const MAX_INDEXED_ENTRIES: u64 = 1 << 18;

/// Bounds of the `file` processor.
#[derive(Clone, Debug)]
pub struct HarFileLimits {
    /// Serialised entry bytes held in memory (files not streamed, failed writes, retries)
    /// at most. Reaching it triggers an early export; entries that still do not fit (the
    /// output is failing) are dropped and counted in `har_entries_dropped_held_limit`.
    pub max_held_bytes: u64,
    /// Files streamed at once (`MAX_HAR_STREAMS`; 0: every entry held in memory).
    pub max_streams: usize,
    /// The reorder buffer in front of the streamed files (`REORDER_BYTES`).
    pub reorder_bytes: u64,
    /// Entries streamed to files still open, at most (`MAX_INDEXED_ENTRIES`).
    pub max_indexed_entries: u64,
}

impl Default for HarFileLimits {
    fn default() -> Self {
        HarFileLimits {
            max_held_bytes: 1 << 30,
            max_streams: MAX_HAR_STREAMS,
            reorder_bytes: REORDER_BYTES,
            max_indexed_entries: MAX_INDEXED_ENTRIES,
        }
    }
}

// Every streamed file can register its two temporary files for the second signal.
const _: () = assert!(2 * MAX_HAR_STREAMS <= crate::output::temp_files::STREAM_SLOTS);

crate::counters! {
    /// `file` processor counters.
    pub struct HarFileCounters {
        /// HAR files written (renamed into place).
        har_files_written,
        /// Entries in the files written.
        har_entries_written,
        /// Bytes of the files written.
        har_bytes_written,
        /// Failed file writes (their entries are kept and retried).
        har_write_errors,
        /// Entries lost because their file could still not be written at the end.
        har_entries_dropped_write_error,
        /// Entries dropped because `max_held_bytes` was reached and an early export could
        /// not make room (the output was failing).
        har_entries_dropped_held_limit,
        /// Exports made before their interval ended, on a tick, because the entries
        /// completed before it held more than `max_held_bytes / EARLY_EXPORT_FRACTION`.
        har_early_exports,
        /// Exports of everything held made when a new entry would pass `max_held_bytes`
        /// between two ticks (their split into parts depends on arrival order).
        har_early_exports_at_arrival,
        /// Times the output folder had disappeared and was created again.
        har_folder_recreated,
        /// Entries whose interval had already been written (a caller broke the
        /// `on_tick` promise; the pipeline keeps it, see the workers'
        /// `completed_after_tick`); put into the oldest interval still open.
        har_entries_late,
        /// Entries that could not be serialised: always 0 since entries are written
        /// straight as JSON (`har::entry_json`); kept so counter names stay stable.
        har_entries_serialize_errors,
        /// Entries written to the temporary file of their open interval as they came.
        har_entries_streamed,
        /// Streamed entries that sorted before their file's last one (their transaction
        /// outlasted the reorder buffer): spooled and merged (in place, or at export).
        har_entries_spooled_late,
        /// Merges of late or unwritten entries into their file: in place while the
        /// interval is open, or at export.
        har_stream_merges,
        /// Bytes those merges wrote besides streaming the entries: the file's part from the
        /// first late entry on when merged in place (at most twice what the file grew by
        /// since the last such merge), the whole file otherwise.
        har_stream_merge_bytes,
        /// Entries held in memory because `max_streams` files were streamed already.
        har_stream_limit_hits,
        /// Failed writes to a streamed file (its entries are kept in memory, written at
        /// export), or failed merges of late entries into it (they stay spooled, merged at
        /// export).
        har_stream_write_errors,
        /// Exports of every open interval made because the entries streamed to them
        /// reached `max_indexed_entries`.
        har_early_exports_index_limit,
    }
}

/// A tick writes early the entries completed before it once they hold more than
/// `max_held_bytes / EARLY_EXPORT_FRACTION`. The rest of the limit is headroom for entries
/// that complete after the tick, which arrive early from a worker running ahead of
/// another (bounded by the other's packet channel); only a burst beyond it forces the
/// arrival-order export.
pub const EARLY_EXPORT_FRACTION: u64 = 4;

/// One entry waiting to be written, with its sort key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Held {
    started: Timestamp,
    conn: u64,
    depth: u32,
    json: Box<[u8]>,
    /// `Transaction::completed_at` (after the sort key: it does not order entries).
    completed: Timestamp,
}

/// A file that failed, waiting to be retried under the same name.
struct Retry {
    name: String,
    file: Pending,
}

/// What one file of an interval holds.
enum Pending {
    Memory(Vec<Held>),
    Streamed(Box<stream::Stream>),
}

/// An entry in the reorder buffer, for stream `stream`.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Buffered {
    entry: stream::Entry,
    stream: u64,
}

/// A file of an open interval being streamed.
struct Open {
    start: Timestamp,
    key: String,
    stream: stream::Stream,
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
    /// (interval start, file key) -> id of its stream.
    stream_ids: BTreeMap<(Timestamp, String), u64>,
    /// Stream id -> the stream.
    streams: BTreeMap<u64, Open>,
    next_stream: u64,
    /// The reorder buffer: entries released smallest first.
    reorder: BinaryHeap<Reverse<Buffered>>,
    reorder_bytes: u64,
    /// Entries indexed by the open streams.
    indexed: u64,
    /// Interval start -> files of that interval already attempted (early exports); the
    /// next ones get part numbers so nothing is overwritten.
    parts: BTreeMap<Timestamp, u32>,
    /// The last write failed and none succeeded since: no early export is tried (it would
    /// fail too), retries wait for the next export.
    failing: bool,
    /// Distinct write errors already logged (bounded by `MAX_REPORTED_ERRORS`).
    reported: BTreeSet<String>,
    /// The last write error, for the final report.
    last_error: Option<String>,
    /// Every interval that starts before this has been written.
    written_until: Option<Timestamp>,
    /// The first and the last file written, for the summary.
    first_written: Option<PathBuf>,
    last_written: Option<PathBuf>,
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
            stream_ids: BTreeMap::new(),
            streams: BTreeMap::new(),
            next_stream: 1,
            reorder: BinaryHeap::new(),
            reorder_bytes: 0,
            indexed: 0,
            parts: BTreeMap::new(),
            failing: false,
            reported: BTreeSet::new(),
            last_error: None,
            written_until: None,
            first_written: None,
            last_written: None,
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

    /// Serialised entry bytes currently held in memory (reorder buffer included).
    pub fn held_bytes(&self) -> u64 {
        self.held_bytes + self.reorder_bytes
    }

    /// Memory the streamed files' indexes take.
    pub fn index_bytes(&self) -> u64 {
        self.indexed * stream::INDEX_BYTES
    }

    /// Releases the reorder buffer's smallest entries until it holds at most `target`
    /// bytes (`None`: those of the streams `due` says are exported now, all of them), and
    /// appends them to their streams.
    fn release(&mut self, target: Option<u64>, due: impl Fn(Timestamp) -> bool) {
        let mut batches: BTreeMap<u64, Vec<stream::Entry>> = BTreeMap::new();
        match target {
            Some(target) => {
                while self.reorder_bytes > target {
                    let Some(Reverse(b)) = self.reorder.pop() else {
                        break;
                    };
                    self.reorder_bytes -= b.entry.json.len() as u64;
                    batches.entry(b.stream).or_default().push(b.entry);
                }
            }
            None => {
                let mut all = std::mem::take(&mut self.reorder).into_vec();
                let streams = &self.streams;
                let is_due =
                    |b: &Reverse<Buffered>| streams.get(&b.0.stream).is_some_and(|o| due(o.start));
                let mut keep = Vec::with_capacity(all.len());
                let mut out: Vec<Buffered> = Vec::new();
                for b in all.drain(..) {
                    if is_due(&b) {
                        out.push(b.0);
                    } else {
                        keep.push(b);
                    }
                }
                self.reorder = BinaryHeap::from(keep);
                out.sort();
                for b in out {
                    self.reorder_bytes -= b.entry.json.len() as u64;
                    batches.entry(b.stream).or_default().push(b.entry);
                }
            }
        }
        for (id, batch) in batches {
            self.append(id, batch);
        }
    }

    fn append(&mut self, id: u64, batch: Vec<stream::Entry>) {
        if self
            .streams
            .get(&id)
            .is_some_and(|o| o.stream.entries() == 0)
        {
            self.ensure_folder();
        }
        let Some(open) = self.streams.get_mut(&id) else {
            return;
        };
        let n = batch.len() as u64;
        let r = open.stream.append(batch);
        self.indexed += r.written;
        self.counters.har_entries_streamed += r.written;
        self.counters.har_entries_spooled_late += r.late;
        self.counters.har_stream_merges += u64::from(r.rewritten > 0);
        self.counters.har_stream_merge_bytes += r.rewritten;
        self.held_bytes += r.unwritten_bytes;
        if let Some(e) = r.error {
            self.counters.har_stream_write_errors += 1;
            self.failing = true;
            let reason = e.to_string();
            if !self.reported.contains(&reason) && self.reported.len() < MAX_REPORTED_ERRORS {
                if n > r.written {
                    crate::stderr_line!(
                        "httshark: error: file: cannot write HAR entries to {}: {reason}; {} \
                         entries are kept in memory and written at the export (the capture \
                         goes on; failures are counted in har_stream_write_errors)",
                        self.folder.display(),
                        n - r.written
                    );
                } else {
                    // Every entry is on disk; merging late ones into their file failed.
                    crate::stderr_line!(
                        "httshark: error: file: cannot merge late HAR entries into their file \
                         in {}: {reason}; they stay in a temporary file and are merged at the \
                         export (the capture goes on; failures are counted in \
                         har_stream_write_errors)",
                        self.folder.display()
                    );
                }
                self.reported.insert(reason.clone());
            }
            self.last_error = Some(format!("{}: {reason}", self.folder.display()));
        }
    }

    /// Creates the output folder again if it disappeared (counted, warned).
    fn ensure_folder(&mut self) {
        if !self.folder.is_dir() {
            // On failure the write that follows fails and reports it.
            if std::fs::create_dir_all(&self.folder).is_ok() {
                self.counters.har_folder_recreated += 1;
                // Printed whatever -verbose, as output errors are: the operator must know.
                crate::stderr_line!(
                    "httshark: warning: output folder {} had disappeared; created it again",
                    self.folder.display()
                );
            }
        }
    }

    /// Writes the retries, then every interval that starts before `end` (all when None).
    /// With `early`, also the intervals still open (they stay open); `streams`: streamed
    /// files too (else only those held in memory). Failures keep their entries for the
    /// next export.
    fn write_until(&mut self, end: Option<Timestamp>, early: bool, streams: bool) {
        for r in std::mem::take(&mut self.retries) {
            self.write_pending(r.name, r.file);
        }
        let interval = self.interval;
        let is_due = |start: Timestamp| early || end.is_none_or(|end| start + interval <= end);
        if streams {
            self.release(None, is_due);
        }
        let mut due: BTreeSet<Timestamp> = self
            .pending
            .keys()
            .copied()
            .filter(|s| is_due(*s))
            .collect();
        if streams {
            due.extend(
                self.stream_ids
                    .keys()
                    .map(|(s, _)| *s)
                    .filter(|s| is_due(*s)),
            );
        }
        for start in due {
            let mut files: BTreeMap<String, Pending> = self
                .pending
                .remove(&start)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, Pending::Memory(v)))
                .collect();
            if streams {
                let keys: Vec<(Timestamp, String)> = self
                    .stream_ids
                    .range((start, String::new())..)
                    .take_while(|((s, _), _)| *s == start)
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in keys {
                    let id = self.stream_ids.remove(&k).expect("listed");
                    if let Some(mut open) = self.streams.remove(&id) {
                        // Entries held in memory while the output failed join their file.
                        if let Some(Pending::Memory(held)) = files.remove(&open.key) {
                            open.stream.absorb(held.into_iter().map(|h| stream::Entry {
                                key: stream::Key {
                                    started: h.started,
                                    conn: h.conn,
                                    depth: h.depth,
                                },
                                json: h.json,
                                completed: h.completed,
                            }));
                        }
                        files.insert(open.key, Pending::Streamed(Box::new(open.stream)));
                    }
                }
            }
            let closes = !early && end.is_none_or(|end| start + interval <= end);
            let part = self.parts.get(&start).copied().unwrap_or(0);
            // An interval written in one go keeps the plain name; one written in parts
            // numbers every part, the first included (it is written before the others).
            let stamp = if part == 0 && closes {
                interval_stamp(start)
            } else {
                format!("{}.{}", interval_stamp(start), part_label(part + 1))
            };
            let mut used = BTreeSet::new();
            for (key, file) in files {
                let stem = if self.split_by_host {
                    file_stem(&key)
                } else {
                    "httshark".to_string()
                };
                let name = unique_name(&stem, &stamp, &mut used);
                self.write_pending(name, file);
            }
            if closes {
                self.parts.remove(&start);
                let after = start + interval;
                self.written_until = Some(self.written_until.map_or(after, |w| w.max(after)));
            } else {
                self.parts.insert(start, part + 1);
            }
        }
    }

    /// Writes one file of an interval under `name`; on failure keeps it as a retry.
    fn write_pending(&mut self, name: String, file: Pending) {
        match file {
            Pending::Memory(entries) => {
                let bytes: u64 = entries.iter().map(|h| h.json.len() as u64).sum();
                if self.write_file(&name, &entries) {
                    self.held_bytes = self.held_bytes.saturating_sub(bytes);
                } else {
                    // Still counted as held; retried under the same name.
                    self.retries.push(Retry {
                        name,
                        file: Pending::Memory(entries),
                    });
                }
            }
            Pending::Streamed(mut stream) => {
                self.ensure_folder();
                let (indexed, unwritten) = (stream.indexed(), stream.unwritten_bytes());
                let entries = stream.entries();
                let path = self.folder.join(&name);
                let result = stream.export(&path);
                if let Ok(r) = &result {
                    self.counters.har_stream_merges += u64::from(r.merged);
                    self.counters.har_stream_merge_bytes += r.rewritten;
                }
                if self.written(&path, entries, result.map(|r| r.bytes)) {
                    self.indexed -= indexed;
                    self.held_bytes = self.held_bytes.saturating_sub(unwritten);
                } else {
                    self.retries.push(Retry {
                        name,
                        file: Pending::Streamed(stream),
                    });
                }
            }
        }
    }

    /// The tick's early export: when the entries of the open intervals completed before
    /// `now` hold more than `max_held_bytes / EARLY_EXPORT_FRACTION`, writes them as the next part of their
    /// intervals (later entries stay held). Every worker has passed `now`, so no entry
    /// completed before it can still arrive: the parts are the same on every replay.
    fn write_completed_before(&mut self, now: Timestamp) {
        if self.failing {
            return;
        }
        let done: u64 = self
            .pending
            .values()
            .flat_map(|files| files.values().flatten())
            .filter(|h| h.completed < now)
            .map(|h| h.json.len() as u64)
            .sum();
        if done <= self.limits.max_held_bytes / EARLY_EXPORT_FRACTION {
            return;
        }
        self.counters.har_early_exports += 1;
        crate::log_info!(
            key: "har-early-export",
            "{done} bytes of HAR entries completed before their interval ends (limit {}): \
             writing them now",
            self.limits.max_held_bytes
        );
        let mut ready: BTreeMap<Timestamp, BTreeMap<String, Vec<Held>>> = BTreeMap::new();
        for (start, files) in self.pending.iter_mut() {
            for (key, entries) in files.iter_mut() {
                let (now_done, later): (Vec<Held>, Vec<Held>) = std::mem::take(entries)
                    .into_iter()
                    .partition(|h| h.completed < now);
                *entries = later;
                if !now_done.is_empty() {
                    ready
                        .entry(*start)
                        .or_default()
                        .insert(key.clone(), now_done);
                }
            }
            files.retain(|_, entries| !entries.is_empty());
        }
        self.pending.retain(|_, files| !files.is_empty());
        // Written as an early export of those intervals; what is still pending in them
        // comes in their later parts.
        let still = std::mem::replace(&mut self.pending, ready);
        self.write_until(None, true, false);
        for (start, files) in still {
            let slot = self.pending.entry(start).or_default();
            for (key, entries) in files {
                slot.entry(key).or_default().extend(entries);
            }
        }
    }

    /// Writes one file: entries sorted, then streamed into a private temporary file that
    /// is renamed into place. Recreates a removed folder first. False when it failed (the
    /// error is counted, and logged when it is a new one).
    fn write_file(&mut self, name: &str, entries: &[Held]) -> bool {
        let path = self.folder.join(name);
        self.ensure_folder();
        let mut order: Vec<&Held> = entries.iter().collect();
        order.sort();
        let result = writer::write_file(&path, order.iter().map(|h| &h.json[..]));
        self.written(&path, entries.len() as u64, result)
    }

    /// Counts and reports a file write of `entries` entries to `path`; true when it
    /// succeeded.
    fn written(&mut self, path: &Path, entries: u64, result: std::io::Result<u64>) -> bool {
        match result {
            Ok(total) => {
                self.counters.har_files_written += 1;
                if self.first_written.is_none() {
                    self.first_written = Some(path.to_path_buf());
                }
                self.last_written = Some(path.to_path_buf());
                crate::log_info!(
                    key: "har-file-written",
                    "wrote {} ({} entries, {total} bytes)",
                    path.display(),
                    entries
                );
                self.counters.har_entries_written += entries;
                self.counters.har_bytes_written += total;
                if self.failing {
                    self.failing = false;
                    crate::stderr_line!(
                        "httshark: note: HAR output to {} works again",
                        self.folder.display()
                    );
                }
                true
            }
            Err(e) => {
                self.counters.har_write_errors += 1;
                self.failing = true;
                let reason = e.to_string();
                if !self.reported.contains(&reason) && self.reported.len() < MAX_REPORTED_ERRORS {
                    // Printed whatever -verbose (as the pipeline prints output errors).
                    crate::stderr_line!(
                        "httshark: error: file: cannot write HAR file {}: {reason}; its {} \
                         entries are kept and retried at the next export (the capture goes \
                         on; failures are counted in har_write_errors)",
                        path.display(),
                        entries
                    );
                    self.reported.insert(reason.clone());
                }
                self.last_error = Some(format!("{}: {reason}", path.display()));
                false
            }
        }
    }

    /// Entries lost so far to output failures or the held-bytes limit.
    fn lost(&self) -> u64 {
        self.counters.har_entries_dropped_write_error + self.counters.har_entries_dropped_held_limit
    }
}

/// Distinct write errors logged per run; later distinct ones are only counted.
const MAX_REPORTED_ERRORS: usize = 16;

impl HarFileProcessor {
    /// One entry (`json`: `har::entry_json(tx)`) into its interval's file.
    fn add(&mut self, tx: &Transaction, json: Box<[u8]>) -> Result<(), ProcessorError> {
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
        let held_here = self
            .pending
            .get(&start)
            .is_some_and(|files| files.contains_key(&key));
        let id = match self.stream_ids.get(&(start, key.clone())) {
            // While the output fails, entries are held in memory, within `max_held_bytes`
            // (a stream's own failed writes are bounded by the reorder buffer).
            _ if self.failing => None,
            Some(id) => Some(*id),
            None if held_here => None,
            None if self.streams.len() >= self.limits.max_streams => {
                self.counters.har_stream_limit_hits += 1;
                None
            }
            None => {
                let id = self.next_stream;
                self.next_stream += 1;
                self.stream_ids.insert((start, key.clone()), id);
                let stream = stream::Stream::new(&self.folder, id);
                self.streams.insert(
                    id,
                    Open {
                        start,
                        key: key.clone(),
                        stream,
                    },
                );
                Some(id)
            }
        };
        if let Some(id) = id {
            self.reorder_bytes += json.len() as u64;
            self.reorder.push(Reverse(Buffered {
                entry: stream::Entry {
                    key: stream::Key {
                        started: tx.request.first_ts,
                        conn: tx.conn.id,
                        depth: tx.depth,
                    },
                    json,
                    completed: tx.completed_at,
                },
                stream: id,
            }));
            if self.reorder_bytes > self.limits.reorder_bytes {
                self.release(Some(self.limits.reorder_bytes / 2), |_| false);
            }
            if self.indexed > self.limits.max_indexed_entries {
                self.counters.har_early_exports_index_limit += 1;
                crate::log_info!(
                    key: "har-early-export",
                    "{} HAR entries streamed to files still open (limit {}): writing them \
                     before their interval ends",
                    self.indexed,
                    self.limits.max_indexed_entries
                );
                self.write_until(None, true, true);
            }
            return Ok(());
        }
        let fits =
            |p: &Self| p.held_bytes.saturating_add(json.len() as u64) <= p.limits.max_held_bytes;
        if !fits(self) && !self.failing {
            // Write what is held now rather than drop what comes next.
            self.counters.har_early_exports_at_arrival += 1;
            crate::log_info!(
                key: "har-early-export",
                "{} bytes of HAR entries held (limit {}): writing them before their \
                 interval ends",
                self.held_bytes,
                self.limits.max_held_bytes
            );
            self.write_until(None, true, false);
        }
        if !fits(self) {
            self.counters.har_entries_dropped_held_limit += 1;
            return Ok(());
        }
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
                completed: tx.completed_at,
            });
        Ok(())
    }
}

impl Processor for HarFileProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        self.add(tx, har::entry_json(tx).into_boxed_slice())
    }

    fn takes_har_json(&self) -> bool {
        true
    }

    fn on_encoded(
        &mut self,
        tx: &Transaction,
        json: &mut Option<Box<[u8]>>,
    ) -> Result<(), ProcessorError> {
        match json.take() {
            Some(json) => self.add(tx, json),
            None => self.on_transaction(tx),
        }
    }

    fn on_tick(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        // Failures are logged and counted by `write_file`, and retried at the next export;
        // only `finish` reports a loss.
        self.write_until(Some(now), false, true);
        self.write_completed_before(now);
        Ok(())
    }

    fn finish(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        let _ = now;
        self.write_until(None, false, true);
        // A file that failed just now gets one more attempt: there is no next export.
        if !self.retries.is_empty() {
            self.write_until(None, false, true);
        }
        for r in std::mem::take(&mut self.retries) {
            let (bytes, entries) = match &r.file {
                Pending::Memory(entries) => (
                    entries.iter().map(|h| h.json.len() as u64).sum(),
                    entries.len() as u64,
                ),
                Pending::Streamed(s) => {
                    self.indexed -= s.indexed();
                    (s.unwritten_bytes(), s.entries())
                }
            };
            self.held_bytes = self.held_bytes.saturating_sub(bytes);
            self.counters.har_entries_dropped_write_error += entries;
        }
        let lost = self.lost();
        if lost == 0 {
            return Ok(());
        }
        let why = self
            .last_error
            .as_deref()
            .map_or_else(String::new, |e| format!("; last error: {e}"));
        Err(err(format!(
            "{lost} transactions could not be written to {} ({} after write errors, {} over \
             the held-bytes limit){why}",
            self.folder.display(),
            self.counters.har_entries_dropped_write_error,
            self.counters.har_entries_dropped_held_limit
        )))
    }

    fn written(&self) -> Option<String> {
        let c = &self.counters;
        Some(format!(
            "{} ({}) in {}{}{}",
            super::count_of(c.har_files_written, "HAR file", "HAR files"),
            super::count_of(c.har_entries_written, "entry", "entries"),
            self.folder.display(),
            if c.har_files_written > 0 { ": " } else { "" },
            super::first_and_last(
                self.first_written.as_deref(),
                self.last_written.as_deref(),
                c.har_files_written
            )
        ))
    }

    fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.counters.visit(f);
    }
}

#[cfg(test)]
mod tests;
