//! `-har FILE`: every transaction of the run in one HAR file, written once at the end
//! (atomically, mode 0600), as httptap's `--dump-har`. Entries are in request order
//! (`startedDateTime`, then arrival).
//!
//! Bounded: the entries held are charged to the HAR share of `-memory-limit`; past it an
//! entry is left out and counted (`har_one_entries_dropped`), never a partial file.
//! What it does not do: rotate, split by host or write before the end (the `file`
//! processor does).

use std::path::PathBuf;

use super::{Processor, ProcessorError};
use crate::counters::CounterSet;
use crate::model::Transaction;
use crate::time::Timestamp;

pub const NAME: &str = "har";

crate::counters! {
    /// `-har FILE`: the one HAR file of the run.
    pub struct HarOneCounters {
        /// Entries written into the -har file.
        har_one_entries,
        /// Entries left out of the -har file: the entries held reached the HAR share of
        /// -memory-limit.
        har_one_entries_dropped,
    }
}

pub struct HarOneProcessor {
    path: PathBuf,
    max_held: usize,
    held: usize,
    entries: Vec<(Timestamp, u64, Vec<u8>)>,
    seq: u64,
    counters: HarOneCounters,
    wrote: bool,
}

impl HarOneProcessor {
    /// Checks the file's folder now (before any capture), as every output does.
    pub fn new(path: PathBuf, max_held: usize) -> Result<HarOneProcessor, ProcessorError> {
        let folder = super::parent(&path);
        if !folder.is_dir() {
            return Err(ProcessorError {
                processor: NAME,
                message: format!("-har {}: no folder {}", path.display(), folder.display()),
            });
        }
        Ok(HarOneProcessor {
            path,
            max_held,
            held: 0,
            entries: Vec::new(),
            seq: 0,
            counters: HarOneCounters::default(),
            wrote: false,
        })
    }
}

impl Processor for HarOneProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        let json = crate::har::entry_json(tx);
        if self.held + json.len() > self.max_held {
            self.counters.har_one_entries_dropped += 1;
            return Ok(());
        }
        self.held += json.len();
        self.seq += 1;
        self.entries.push((tx.request.first_ts, self.seq, json));
        Ok(())
    }

    fn on_tick(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        Ok(())
    }

    fn finish(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        self.entries.sort_by_key(|(ts, seq, _)| (*ts, *seq));
        let r = super::har_file::writer::write_file(
            &self.path,
            self.entries.iter().map(|(_, _, j)| j.as_slice()),
        );
        match r {
            Ok(_) => {
                self.counters.har_one_entries = self.entries.len() as u64;
                self.wrote = true;
                self.entries = Vec::new();
                Ok(())
            }
            Err(e) => Err(ProcessorError {
                processor: NAME,
                message: format!(
                    "-har {}: {}",
                    self.path.display(),
                    crate::output::io_reason(&e)
                ),
            }),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_one_private_document_in_request_order_and_counts_what_did_not_fit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.har");
        let base = crate::har::tests::tx();
        let mut p = HarOneProcessor::new(path.clone(), 1 << 20).unwrap();
        let mut late = base.clone();
        late.request.first_ts = Timestamp(base.request.first_ts.0 + 5_000_000);
        late.request.target = "/late".into();
        p.on_transaction(&late).unwrap();
        p.on_transaction(&base).unwrap();
        p.finish(Timestamp(0)).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let entries = v["log"]["entries"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert!(entries[1]["request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/late"));
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let mut small = HarOneProcessor::new(dir.path().join("small.har"), 10).unwrap();
        small.on_transaction(&base).unwrap();
        small.finish(Timestamp(0)).unwrap();
        assert_eq!(small.counters.har_one_entries_dropped, 1);
        assert!(HarOneProcessor::new(dir.path().join("no/such/x.har"), 10).is_err());
    }
}
