//! Processors: where transactions go. Each is behind the `Processor` trait, owned by the
//! processor thread (no locks), chosen with `-har-processors`.
//!
//! Time reaches processors only through `on_tick(now)` and `Transaction::completed_at`, so
//! the output of a replayed capture does not depend on the wall clock or on scheduling.

pub mod har_file;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::model::Transaction;
use crate::time::Timestamp;

/// An output failure. Fatal for the processor's current write; the pipeline reports it.
#[derive(Debug)]
pub struct ProcessorError {
    pub processor: &'static str,
    pub message: String,
}

impl fmt::Display for ProcessorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.processor, self.message)
    }
}

impl std::error::Error for ProcessorError {}

/// A consumer of transactions (ripgrep's push-style Sink, Vector's sink component).
pub trait Processor: Send {
    /// The name used in `-har-processors`.
    fn name(&self) -> &'static str;
    /// A transaction completed.
    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError>;
    /// Time advanced to `now`: every transaction with `completed_at <= now` has been seen.
    fn on_tick(&mut self, now: Timestamp) -> Result<(), ProcessorError>;
    /// The capture ended at `now`: write everything still held.
    fn finish(&mut self, now: Timestamp) -> Result<(), ProcessorError>;
}

/// Writes `path` atomically: into a temporary file beside it, synced, then renamed over
/// `path`. On error the temporary file is removed and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp: PathBuf = dir.join(tmp_name);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 16, file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomically(&p, |w| w.write_all(b"first")).unwrap();
        write_atomically(&p, |w| w.write_all(b"second")).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "second");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left"
        );
    }

    #[test]
    fn failed_write_leaves_old_file_and_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        write_atomically(&p, |w| w.write_all(b"good")).unwrap();
        let err = write_atomically(&p, |w| {
            w.write_all(b"partial")?;
            Err(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_to_string(&p).unwrap(), "good");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

/// Builds the processors named in `-har-processors`, creating output folders; fails (before
/// any capture starts) when an output location is not writable.
pub fn build(config: &crate::config::Config) -> Result<Vec<Box<dyn Processor>>, ProcessorError> {
    let _ = config;
    todo!("processors")
}
