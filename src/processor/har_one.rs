//! `-har FILE`: every transaction of the run in one HAR file, written once at the end
//! (atomically, mode 0600), as httptap's `--dump-har`. Entries are in request order
//! (`startedDateTime`, then arrival).
//!
//! Entries are spooled as they come into a private temporary file beside FILE
//! (`.FILE.spoolPID`, mode 0600, registered with `temp_files` so a second signal removes
//! it); memory holds 32 bytes of index per entry. At the end the index is sorted and the
//! entries are copied from the spool into FILE, then the spool is removed.
//!
//! Bounded: the index is charged to the HAR share of `-memory-limit` (a 16 MiB share holds
//! half a million entries); past it an entry is left out and counted
//! (`har_one_entries_dropped`), as is one the spool could not take
//! (`har_one_entries_dropped_write_error`: a full disk). Either loss is reported at the end
//! and makes the run's exit status 1; FILE still holds every other entry, never a partial
//! document.
//!
//! What it does not do: rotate, split by host or write before the end (the `file`
//! processor does).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use super::{Processor, ProcessorError};
use crate::counters::CounterSet;
use crate::model::Transaction;
use crate::output::temp_files::Registered;
use crate::time::Timestamp;

pub const NAME: &str = "har";

/// Bytes of index per spooled entry, charged to the memory share.
const INDEX_BYTES: usize = std::mem::size_of::<Spooled>();

crate::counters! {
    /// `-har FILE`: the one HAR file of the run.
    pub struct HarOneCounters {
        /// Entries written into the -har file.
        har_one_entries,
        /// Entries left out of the -har file: their index (32 bytes each) reached the HAR
        /// share of -memory-limit.
        har_one_entries_dropped,
        /// Entries left out of the -har file: the spool beside it could not be written
        /// (a full disk, an unwritable folder).
        har_one_entries_dropped_write_error,
    }
}

/// Where one entry lies in the spool, and its sort key (its start, then its arrival).
#[derive(Clone, Copy, Debug)]
struct Spooled {
    started: Timestamp,
    /// Its place among the entries spooled.
    seq: u64,
    at: u64,
    len: u64,
}

/// The private temporary file entries wait in.
struct Spool {
    file: File,
    path: PathBuf,
    len: u64,
    _registered: Registered,
}

pub struct HarOneProcessor {
    path: PathBuf,
    max_held: usize,
    spool: Option<Spool>,
    index: Vec<Spooled>,
    /// The first spool error, said at the end.
    spool_error: Option<String>,
    counters: HarOneCounters,
    wrote: bool,
}

impl HarOneProcessor {
    /// Checks the file's folder now (before any capture), as every output does.
    pub fn new(path: PathBuf, max_held: usize) -> Result<HarOneProcessor, ProcessorError> {
        let folder = super::parent(&path);
        if !folder.is_dir() {
            return Err(error(format!(
                "-har {}: no folder {}",
                path.display(),
                folder.display()
            )));
        }
        Ok(HarOneProcessor {
            path,
            max_held,
            spool: None,
            index: Vec::new(),
            spool_error: None,
            counters: HarOneCounters::default(),
            wrote: false,
        })
    }

    /// Appends `json` to the spool (created at the first entry); returns where it lies.
    fn spool(&mut self, json: &[u8]) -> io::Result<u64> {
        let spool = match &mut self.spool {
            Some(s) => s,
            None => {
                let name = self.path.file_name().unwrap_or_default().to_string_lossy();
                let (file, path, registered) = crate::output::create_private_temp(
                    &super::parent(&self.path),
                    &format!(".{name}.spool{}", std::process::id()),
                )?;
                self.spool.insert(Spool {
                    file,
                    path,
                    len: 0,
                    _registered: registered,
                })
            }
        };
        let at = spool.len;
        spool.file.write_all_at(json, at)?;
        spool.len += json.len() as u64;
        Ok(at)
    }

    /// Writes FILE: the spooled entries in request order.
    fn write(&mut self) -> io::Result<()> {
        self.index.sort_unstable_by_key(|e| (e.started, e.seq));
        let (index, spool) = (&self.index, self.spool.as_ref());
        crate::output::write_atomically_private(&self.path, |w| {
            copy_entries(w, index, spool.map(|s| &s.file))
        })
    }

    /// Removes the spool (after FILE was written, or failed to be).
    fn remove_spool(&mut self) {
        if let Some(s) = self.spool.take() {
            let _ = std::fs::remove_file(&s.path);
        }
    }
}

/// The HAR document of the `index` entries read from `spool`, as `har::LogWriter` writes it.
fn copy_entries(
    w: &mut BufWriter<File>,
    index: &[Spooled],
    spool: Option<&File>,
) -> io::Result<()> {
    let mut log = crate::har::LogWriter::begin(w)?;
    let mut buf = Vec::new();
    for e in index {
        let spool = spool.ok_or_else(|| io::Error::other("entries without a spool"))?;
        buf.resize(usize::try_from(e.len).map_err(io::Error::other)?, 0);
        spool.read_exact_at(&mut buf, e.at)?;
        log.entry_json(&buf)?;
    }
    log.finish()?.flush()
}

fn error(message: String) -> ProcessorError {
    ProcessorError {
        processor: NAME,
        message,
    }
}

impl Processor for HarOneProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        if (self.index.len() + 1) * INDEX_BYTES > self.max_held {
            self.counters.har_one_entries_dropped += 1;
            return Ok(());
        }
        let json = crate::har::entry_json(tx);
        match self.spool(&json) {
            Ok(at) => {
                self.index.push(Spooled {
                    started: tx.request.first_ts,
                    seq: self.index.len() as u64,
                    at,
                    len: json.len() as u64,
                });
            }
            Err(e) => {
                self.counters.har_one_entries_dropped_write_error += 1;
                self.spool_error
                    .get_or_insert_with(|| crate::output::io_reason(&e));
            }
        }
        Ok(())
    }

    fn on_tick(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        Ok(())
    }

    fn finish(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        let written = self.write();
        self.remove_spool();
        let shown = self.path.display().to_string();
        written.map_err(|e| error(format!("-har {shown}: {}", crate::output::io_reason(&e))))?;
        self.counters.har_one_entries = self.index.len() as u64;
        self.wrote = true;
        self.index = Vec::new();
        let c = &self.counters;
        let mut lost = Vec::new();
        if c.har_one_entries_dropped > 0 {
            lost.push(format!(
                "{} left out at the HAR share of -memory-limit ({} bytes of index each)",
                super::count_of(c.har_one_entries_dropped, "entry", "entries"),
                INDEX_BYTES
            ));
        }
        if c.har_one_entries_dropped_write_error > 0 {
            lost.push(format!(
                "{} left out: the spool beside it could not be written ({})",
                super::count_of(c.har_one_entries_dropped_write_error, "entry", "entries"),
                self.spool_error.as_deref().unwrap_or("unknown error")
            ));
        }
        if lost.is_empty() {
            return Ok(());
        }
        Err(error(format!("-har {shown}: {}", lost.join("; "))))
    }

    fn written(&self) -> Option<String> {
        self.wrote.then(|| {
            format!(
                "{} to {}",
                super::count_of(self.counters.har_one_entries, "entry", "entries"),
                self.path.display()
            )
        })
    }

    fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.counters.visit(f);
    }
}

impl Drop for HarOneProcessor {
    /// A run that ends without `finish` (an error) leaves no spool behind.
    fn drop(&mut self) {
        self.remove_spool();
    }
}

/// `Path` of the spool of FILE `path` (tests).
#[cfg(test)]
fn spool_path(path: &std::path::Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    super::parent(path).join(format!(".{name}.spool{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The HAR tests' transaction, as connection `i` whose request started at `started`.
    fn tx(i: u64, started: i64) -> Transaction {
        let mut t = crate::har::tests::tx();
        t.conn.id = i;
        t.request.target = format!("/{i}");
        t.request.first_ts = Timestamp(started);
        t.request.last_ts = Timestamp(started);
        t.completed_at = Timestamp(started);
        t
    }

    fn targets(path: &std::path::Path) -> Vec<String> {
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        v["log"]["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["request"]["url"].as_str().unwrap().to_string())
            .collect()
    }

    /// Every entry reaches FILE in request order, however many the memory share would
    /// have held as JSON; the spool is gone at the end.
    #[test]
    fn entries_are_spooled_sorted_and_the_spool_removed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.har");
        // Room for the index of 100 entries: far less than their JSON.
        let mut p = HarOneProcessor::new(path.clone(), 100 * INDEX_BYTES).unwrap();
        for i in 0..100u64 {
            // Arrival order is not request order.
            let started = 1_000_000_000 * ((i as i64 * 37) % 100);
            p.on_transaction(&tx(i, started)).unwrap();
            if i == 0 {
                assert!(spool_path(&path).exists(), "spooled from the first entry");
            }
        }
        p.finish(Timestamp(0)).unwrap();
        let got = targets(&path);
        assert_eq!(got.len(), 100);
        let order: Vec<u64> = got
            .iter()
            .map(|u| u.rsplit('/').next().unwrap().parse().unwrap())
            .collect();
        let mut want: Vec<u64> = (0..100).collect();
        want.sort_by_key(|i| (i * 37) % 100);
        assert_eq!(order, want);
        assert!(!spool_path(&path).exists(), "spool removed");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    /// Past the memory share, entries are left out, counted, and the loss is an error at
    /// the end (exit status 1), FILE holding the others.
    #[test]
    fn entries_past_the_share_are_counted_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.har");
        let mut p = HarOneProcessor::new(path.clone(), 3 * INDEX_BYTES).unwrap();
        for i in 0..5u64 {
            p.on_transaction(&tx(i, i as i64)).unwrap();
        }
        let e = p.finish(Timestamp(0)).unwrap_err();
        assert!(e.message.contains("2 entries left out"), "{}", e.message);
        assert_eq!(targets(&path).len(), 3);
        let mut counters = Vec::new();
        p.visit_counters(&mut |n, v| counters.push((n, v)));
        assert!(counters.contains(&("har_one_entries", 3)));
        assert!(counters.contains(&("har_one_entries_dropped", 2)));
    }

    /// A run that ends in an error, without `finish`, leaves no spool.
    #[test]
    fn dropped_without_finish_leaves_no_spool() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.har");
        let mut p = HarOneProcessor::new(path.clone(), 1 << 20).unwrap();
        p.on_transaction(&tx(1, 1)).unwrap();
        assert!(spool_path(&path).exists());
        drop(p);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
