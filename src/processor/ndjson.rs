//! The `ndjson` processor: one HAR entry per line, written as each transaction arrives, to
//! standard output or appended to a file (`-ndjson-file`, `-` = standard output).
//!
//! Each line is the compact JSON of exactly the entry the HAR files hold (`har::entry_json`),
//! followed by `\n`. JSON escapes every control character inside strings (RFC 8259 §7), so
//! a body or header holding newlines never splits a line: one line is one entry, which is
//! what log shippers (Vector, Fluent Bit, Filebeat) and `jq -c` expect.
//!
//! What it does not do: order or group entries. Unlike the HAR files (which sort each
//! interval), this is a stream: lines come in arrival order, i.e. the order in which
//! transactions complete and reach the processor thread. With `-workers 1` that order is
//! deterministic for a given capture; with more workers, entries of different connections
//! may interleave differently from run to run (each connection stays in order).
//!
//! Buffering: lines collect in a buffer of `BUFFER_BYTES` and are written when it fills,
//! at every `on_tick` (once per second of packet time, and on live idle timeouts) and at
//! `finish`, so a reader sees lines within about a second without one system call per
//! entry. Only whole lines are ever buffered, and a write that fails part-way keeps the
//! unwritten rest, so the output never holds a torn line followed by another one.
//!
//! Errors: the first failed write is returned (and counted); until a later flush succeeds,
//! new lines are dropped and counted (`ndjson_lines_dropped`) rather than reported one by
//! one (a closed pipe must not flood the error log). Each tick retries the pending bytes;
//! `finish` reports what was lost. The file is opened for appending (mode 0600 when it is
//! created: entries hold cookies and credentials; an existing file keeps its mode).

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

use super::{Processor, ProcessorError};
use crate::counters::CounterSet;
use crate::har;
use crate::model::Transaction;
use crate::time::Timestamp;

/// The name in `-har-processors`.
pub const NAME: &str = "ndjson";

/// Bytes of whole lines buffered before a write (a single longer line is written alone).
pub const BUFFER_BYTES: usize = 64 * 1024;

/// The `-ndjson-file` value meaning standard output (its default).
pub const STDOUT: &str = "-";

/// Settings of the `ndjson` processor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NdjsonConfig {
    /// `-ndjson-file`: the file lines are appended to; `None` = standard output.
    pub path: Option<PathBuf>,
}

impl NdjsonConfig {
    /// From the `-ndjson-file` value: `-` is standard output (a file named `-` is `./-`).
    pub fn from_flag(value: &str) -> NdjsonConfig {
        NdjsonConfig {
            path: (value != STDOUT).then(|| PathBuf::from(value)),
        }
    }
}

crate::counters! {
    /// `ndjson` processor counters.
    pub struct NdjsonCounters {
        /// Lines (entries) written to the output, counted as their `\n` goes out.
        ndjson_lines_written,
        /// Bytes written to the output.
        ndjson_bytes_written,
        /// Failed writes or flushes.
        ndjson_write_errors,
        /// Lines not written because the output was failing (at `finish`, also the lines
        /// still owed).
        ndjson_lines_dropped,
        /// Entries that could not be serialised: always 0 since entries are written
        /// straight as JSON (`har::entry_json`); kept so counter names stay stable.
        ndjson_serialize_errors,
    }
}

/// Streams entries as NDJSON; see the module docs.
pub struct NdjsonProcessor {
    out: Box<dyn Write + Send>,
    /// Whole lines not yet written; `buf[written..]` is still owed to `out`.
    buf: Vec<u8>,
    written: usize,
    /// The last write failed and has not been retried successfully since.
    failing: bool,
    /// Where the output goes, for messages.
    target: String,
    counters: NdjsonCounters,
}

fn err(message: String) -> ProcessorError {
    ProcessorError {
        processor: NAME,
        message,
    }
}

impl NdjsonProcessor {
    /// Opens the output: standard output, or `path` for appending (created mode 0600, its
    /// parent folder created if missing). An unwritable path is an error before capture.
    pub fn new(config: NdjsonConfig) -> Result<Self, ProcessorError> {
        let Some(path) = config.path else {
            return Ok(Self::with_writer(
                Box::new(io::stdout()),
                "standard output".into(),
            ));
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create folder {}: {e}", dir.display())))?;
        }
        let mut opts = OpenOptions::new();
        opts.append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(&path)
            .map_err(|e| err(format!("cannot open {} for appending: {e}", path.display())))?;
        Ok(Self::with_writer(
            Box::new(file),
            path.display().to_string(),
        ))
    }

    /// A processor writing to `out` (tests, or an already opened stream); `target` names
    /// it in error messages.
    pub fn with_writer(out: Box<dyn Write + Send>, target: String) -> Self {
        NdjsonProcessor {
            out,
            buf: Vec::with_capacity(BUFFER_BYTES),
            written: 0,
            failing: false,
            target,
            counters: NdjsonCounters::default(),
        }
    }

    pub fn counters(&self) -> &NdjsonCounters {
        &self.counters
    }

    /// Writes the owed bytes, then flushes `out`. On error the unwritten rest is kept.
    fn flush_buf(&mut self) -> io::Result<()> {
        while let Some(rest) = self.buf.get(self.written..).filter(|r| !r.is_empty()) {
            match self.out.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    let done = rest.get(..n).unwrap_or(rest);
                    self.counters.ndjson_lines_written +=
                        done.iter().filter(|&&b| b == b'\n').count() as u64;
                    self.counters.ndjson_bytes_written += done.len() as u64;
                    self.written += n;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.buf.clear();
        self.written = 0;
        self.out.flush()
    }

    /// Flushes; returns an error only when the output starts failing.
    fn flush_and_report(&mut self) -> Result<(), ProcessorError> {
        match self.flush_buf() {
            Ok(()) => {
                self.failing = false;
                Ok(())
            }
            Err(e) => {
                self.counters.ndjson_write_errors += 1;
                let first = !self.failing;
                self.failing = true;
                if first {
                    Err(err(format!(
                        "writing {}: {e}; lines are dropped until a write succeeds",
                        self.target
                    )))
                } else {
                    Ok(())
                }
            }
        }
    }
}

impl Processor for NdjsonProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        if self.failing {
            self.counters.ndjson_lines_dropped += 1;
            return Ok(());
        }
        let mut line = har::entry_json(tx);
        // serde_json's compact output has no raw newline: strings escape control
        // characters and there is no pretty whitespace. Checked in tests.
        debug_assert!(!line.contains(&b'\n'));
        line.push(b'\n');
        if self.buf.is_empty() && line.len() >= BUFFER_BYTES {
            // Too long to buffer: make it the buffer, so a failed write keeps its rest.
            self.buf = line;
            self.written = 0;
        } else {
            self.buf.extend_from_slice(&line);
        }
        if self.buf.len() >= BUFFER_BYTES {
            let r = self.flush_and_report();
            if self.buf.capacity() > 2 * BUFFER_BYTES && self.buf.is_empty() {
                // A long line grew the buffer; give the memory back.
                self.buf = Vec::with_capacity(BUFFER_BYTES);
            }
            return r;
        }
        Ok(())
    }

    fn on_tick(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        let _ = now;
        self.flush_and_report()
    }

    fn finish(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        let _ = now;
        let r = self.flush_and_report();
        if !self.failing {
            return r;
        }
        // Still failing at the end: what is owed is lost; say once what was lost in all.
        let owed = self.buf.get(self.written..).unwrap_or(&[]);
        self.counters.ndjson_lines_dropped += owed.iter().filter(|&&b| b == b'\n').count() as u64;
        self.buf.clear();
        self.written = 0;
        let lost = format!(
            "{} lines dropped in all (output failing at the end)",
            self.counters.ndjson_lines_dropped
        );
        Err(match r {
            Err(e) => err(format!("{}; {lost}", e.message)),
            Ok(()) => err(format!("writing {}: {lost}", self.target)),
        })
    }

    fn written(&self) -> Option<String> {
        Some(format!(
            "{} lines to {}",
            self.counters.ndjson_lines_written, self.target
        ))
    }

    fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.counters.visit(f);
    }
}
