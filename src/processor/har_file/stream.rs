//! One HAR file streamed to disk while its export interval is open (issue 12: memory
//! flat whatever the rate), so the `file` processor never holds an interval's entries.
//!
//! A file's entries must come out sorted by (start, connection, depth) — byte-identical
//! to writing them all at the end, whatever the arrival order and the number of workers —
//! but they arrive roughly in completion order. The processor puts them through a bounded
//! reorder buffer (`HarFileLimits::reorder_bytes`), which releases them in sort order; a
//! stream then appends each entry to its run, a private temporary file that already is
//! the HAR document (head, entries), when it sorts after the last one appended. One that
//! sorts before it (its transaction outlasted the reorder buffer) goes to the stream's
//! late spool, a second temporary file. At export:
//! - no late entry: the document's tail is written, the file synced and renamed to its
//!   final name (the same I/O as writing it whole);
//! - late entries: run and late entries are merged, in sort order, into the final file
//!   (written atomically as any output file), and both temporary files removed. Late
//!   entries are few (hundreds against tens of thousands), so the run's entries between
//!   two late ones are one stretch of the run file, separators included, already in their
//!   final bytes: each stretch is copied in the kernel (`copy_file_range` through
//!   `io::copy`), never read into memory; only late entries, and run entries whose key
//!   equals a late one's (the tie is broken by the bytes), are read and written one by
//!   one. Cutting the run in place and appending the rest would save the copy but lose
//!   the run on a failed export; the final file is a new file renamed into place.
//!
//! What stays in memory per entry is its index (sort key, offset, length: 40 bytes), so the
//! merge can find it; entries whose write failed (disk full) are kept in memory as late
//! entries, charged to the held-bytes limit by the caller, and the run goes on.
//!
//! Temporary names (`.streamN.har.tmpPID`) are never a final name: a process that dies
//! mid-interval leaves hidden temporary files, never a truncated `.har`.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::writer::write_all_vectored;
use crate::har;
use crate::output::{create_private_temp, temp_files::Registered, write_atomically_private};
use crate::time::Timestamp;

/// The order of entries in a HAR file (ties, which need two transactions of the same
/// connection and depth, are broken by the entry's bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    pub started: Timestamp,
    pub conn: u64,
    pub depth: u32,
}

/// An entry kept in memory: released by the reorder buffer, or late after a failed write.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Entry {
    pub key: Key,
    pub json: Box<[u8]>,
    pub completed: Timestamp,
}

/// Where an entry written to a temporary file is.
#[derive(Clone, Copy, Debug)]
struct Indexed {
    key: Key,
    offset: u64,
    len: u64,
}

/// Bytes of memory an entry written to a stream keeps (its index).
pub(super) const INDEX_BYTES: u64 = std::mem::size_of::<Indexed>() as u64;

/// An append-only temporary file and the index of what it holds.
struct Spool {
    file: File,
    path: PathBuf,
    /// Unregisters the file from the second signal's removal list when dropped.
    _registered: Registered,
    /// Bytes written and kept (a failed append is cut off again).
    len: u64,
    index: Vec<Indexed>,
}

impl Spool {
    fn create(dir: &Path, name: &str) -> io::Result<Spool> {
        let (file, path, registered) = create_private_temp(dir, name)?;
        Ok(Spool {
            file,
            path,
            _registered: registered,
            len: 0,
            index: Vec::new(),
        })
    }

    /// Appends `parts` (separators and entries); on failure cuts the file back to what it
    /// held, so the index stays true.
    fn append(&mut self, parts: &mut [io::IoSlice<'_>]) -> io::Result<u64> {
        match write_all_vectored(&mut self.file, parts) {
            Ok(n) => {
                self.len += n;
                Ok(n)
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
                let _ = self.file.seek(SeekFrom::Start(self.len));
                Err(e)
            }
        }
    }

    fn read(&self, at: &Indexed, buf: &mut Vec<u8>) -> io::Result<()> {
        buf.clear();
        buf.resize(at.len as usize, 0);
        self.file.read_exact_at(buf, at.offset)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Renamed into place already (NotFound), or no longer needed.
        let _ = fs::remove_file(&self.path);
    }
}

/// One file of an open interval, streamed; see the module docs.
pub(super) struct Stream {
    dir: PathBuf,
    /// Unique in the process: names the temporary files.
    seq: u64,
    /// The run: the HAR document so far, entries in sort order. None until the first
    /// entry is written (or while it cannot be created).
    run: Option<Spool>,
    late: Option<Spool>,
    /// Entries whose write failed; merged at export.
    unwritten: Vec<Entry>,
    /// Key of the run's last entry: an entry sorting after it goes to the run.
    last: Option<Key>,
}

/// A file exported.
pub(super) struct Exported {
    pub bytes: u64,
    /// Entries had to be merged (late, unwritten, or the run's file was gone).
    pub merged: bool,
}

/// Where a batch's entries went; the caller keeps the `unwritten` ones charged.
pub(super) struct Appended {
    pub written: u64,
    /// Entries that sorted before the run's last (spooled, or kept if that failed).
    pub late: u64,
    pub unwritten_bytes: u64,
    pub error: Option<io::Error>,
}

impl Stream {
    pub fn new(dir: &Path, seq: u64) -> Stream {
        Stream {
            dir: dir.to_path_buf(),
            seq,
            run: None,
            late: None,
            unwritten: Vec::new(),
            last: None,
        }
    }

    /// Entries indexed on disk (their index is in memory).
    pub fn indexed(&self) -> u64 {
        let n = |s: &Option<Spool>| s.as_ref().map_or(0, |s| s.index.len() as u64);
        n(&self.run) + n(&self.late)
    }

    /// Bytes of entries kept in memory after failed writes.
    pub fn unwritten_bytes(&self) -> u64 {
        self.unwritten.iter().map(|e| e.json.len() as u64).sum()
    }

    pub fn entries(&self) -> u64 {
        self.indexed() + self.unwritten.len() as u64
    }

    /// Whether the export needs a merge (anything but the run).
    fn needs_merge(&self) -> bool {
        self.late.is_some() || !self.unwritten.is_empty() || self.run.is_none()
    }

    /// Appends `batch` (in sort order, as the reorder buffer releases it): entries after
    /// the run's last to the run, others to the late spool. Entries whose write fails are
    /// kept in memory (`unwritten`).
    pub fn append(&mut self, batch: Vec<Entry>) -> Appended {
        let mut out = Appended {
            written: 0,
            late: 0,
            unwritten_bytes: 0,
            error: None,
        };
        let (mut in_order, mut late) = (Vec::new(), Vec::new());
        for e in batch {
            if self.last.is_none_or(|l| e.key > l) {
                self.last = Some(e.key);
                in_order.push(e);
            } else {
                late.push(e);
            }
        }
        if !in_order.is_empty() {
            if self.run.is_none() {
                match self.open_run() {
                    Ok(run) => self.run = Some(run),
                    Err(e) => out.error = Some(e),
                }
            }
            let rest = match self.run.as_mut() {
                Some(run) => write_entries(run, in_order, true, &mut out),
                None => in_order,
            };
            self.keep(rest, &mut out);
        }
        out.late = late.len() as u64;
        if !late.is_empty() {
            if self.late.is_none() && out.error.is_none() {
                let name = format!(".stream{}.late.tmp{}", self.seq, std::process::id());
                match Spool::create(&self.dir, &name) {
                    Ok(s) => self.late = Some(s),
                    Err(e) => out.error = Some(e),
                }
            }
            let rest = match self.late.as_mut() {
                Some(spool) if out.error.is_none() => write_entries(spool, late, false, &mut out),
                _ => late,
            };
            self.keep(rest, &mut out);
        }
        out
    }

    /// Adds entries held in memory (while the output failed) to be merged at export.
    pub fn absorb(&mut self, entries: impl IntoIterator<Item = Entry>) {
        self.unwritten.extend(entries);
    }

    fn keep(&mut self, rest: Vec<Entry>, out: &mut Appended) {
        out.unwritten_bytes += rest.iter().map(|e| e.json.len() as u64).sum::<u64>();
        self.unwritten.extend(rest);
    }

    fn open_run(&self) -> io::Result<Spool> {
        let name = format!(".stream{}.har.tmp{}", self.seq, std::process::id());
        let mut run = Spool::create(&self.dir, &name)?;
        let mut head = Vec::new();
        har::LogWriter::begin(&mut head)?;
        run.append(&mut [io::IoSlice::new(&head)])?;
        Ok(run)
    }

    /// Writes the file under its final name `dest`; returns its bytes. On failure the
    /// stream is intact and the export can be tried again.
    pub fn export(&mut self, dest: &Path) -> io::Result<Exported> {
        if !self.needs_merge() {
            let run = self.run.as_mut().expect("needs_merge: a run");
            let tail: &[u8] = if run.index.is_empty() {
                b"]}}\n"
            } else {
                b"\n]}}\n"
            };
            // At the run's end, not appended: a failed try leaves the run as it was.
            run.file.write_all_at(tail, run.len)?;
            run.file.sync_data()?;
            match fs::rename(&run.path, dest) {
                // The folder was removed while the run was written: its bytes are still
                // there through the open file, merged into a new file.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                other => {
                    other?;
                    let bytes = run.len + tail.len() as u64;
                    self.run = None;
                    return Ok(Exported {
                        bytes,
                        merged: false,
                    });
                }
            }
        }
        Ok(Exported {
            bytes: self.merge_into(dest)?,
            merged: true,
        })
    }

    /// Writes run, late spool and unwritten entries, merged in sort order, to `dest`.
    fn merge_into(&mut self, dest: &Path) -> io::Result<u64> {
        enum From {
            Run(usize),
            Late(usize),
            Memory(usize),
        }
        let empty = Vec::new();
        let run_index = self.run.as_ref().map_or(&empty, |s| &s.index);
        // Late entries (spool and memory) sorted; ties on the key read the bytes.
        let mut late: Vec<(Key, From)> = self
            .late
            .as_ref()
            .map_or(&empty, |s| &s.index)
            .iter()
            .enumerate()
            .map(|(i, x)| (x.key, From::Late(i)))
            .chain(
                self.unwritten
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (e.key, From::Memory(i))),
            )
            .collect();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let bytes = |from: &From, buf: &mut Vec<u8>| -> io::Result<()> {
            match *from {
                From::Run(i) => self.run.as_ref().expect("run").read(&run_index[i], buf),
                From::Late(i) => {
                    let s = self.late.as_ref().expect("late");
                    s.read(&s.index[i], buf)
                }
                From::Memory(i) => {
                    buf.clear();
                    buf.extend_from_slice(&self.unwritten[i].json);
                    Ok(())
                }
            }
        };
        // By key; entries with the same key (rare) by their bytes, read outside the sort.
        late.sort_by_key(|(k, _)| *k);
        let mut i = 0;
        while i < late.len() {
            let n = late[i..]
                .iter()
                .take_while(|(k, _)| *k == late[i].0)
                .count();
            if n > 1 {
                let mut run: Vec<(Vec<u8>, (Key, From))> = Vec::with_capacity(n);
                for item in late.drain(i..i + n) {
                    let mut buf = Vec::new();
                    bytes(&item.1, &mut buf)?;
                    run.push((buf, item));
                }
                run.sort_by(|x, y| x.0.cmp(&y.0));
                late.splice(i..i, run.into_iter().map(|(_, item)| item));
            }
            i += n;
        }
        let mut total = 0u64;
        let result = write_atomically_private(dest, |w| {
            let mut head = Vec::new();
            har::LogWriter::begin(&mut head)?;
            w.write_all(&head)?;
            total += head.len() as u64;
            let (mut i, mut j, mut first) = (0, 0, true);
            loop {
                // Run entries before the next late one (all of them after the last): one
                // stretch of the run file, separators included, copied in the kernel. An
                // equal key stops the stretch so the bytes break the tie below.
                let end = match late.get(j) {
                    Some((k, _)) => i + run_index[i..].partition_point(|r| r.key < *k),
                    None => run_index.len(),
                };
                if end > i {
                    let run = self.run.as_ref().expect("run entries: a run");
                    let sep: &[u8] = if first { b"\n" } else { b",\n" };
                    first = false;
                    w.write_all(sep)?;
                    w.flush()?;
                    let (from, to) = (&run_index[i], &run_index[end - 1]);
                    let n = to.offset + to.len - from.offset;
                    copy_range(&run.file, from.offset, n, w.get_mut())?;
                    total += sep.len() as u64 + n;
                    i = end;
                    continue;
                }
                let take_run = match (run_index.get(i), late.get(j)) {
                    (None, None) => break,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    (Some(r), Some((k, from))) => match r.key.cmp(k) {
                        std::cmp::Ordering::Less => true,
                        std::cmp::Ordering::Greater => false,
                        std::cmp::Ordering::Equal => {
                            bytes(&From::Run(i), &mut a)?;
                            bytes(from, &mut b)?;
                            a <= b
                        }
                    },
                };
                if take_run {
                    bytes(&From::Run(i), &mut a)?;
                    i += 1;
                } else {
                    bytes(&late[j].1, &mut a)?;
                    j += 1;
                }
                let sep: &[u8] = if first { b"\n" } else { b",\n" };
                first = false;
                w.write_all(sep)?;
                w.write_all(&a)?;
                total += (sep.len() + a.len()) as u64;
            }
            let tail: &[u8] = if first { b"]}}\n" } else { b"\n]}}\n" };
            w.write_all(tail)?;
            total += tail.len() as u64;
            Ok(())
        });
        if let Err(e) = result {
            // The copies moved the run's cursor: back to its end, where the next append
            // goes, so the stream can append and export again.
            if let Some(run) = self.run.as_mut() {
                run.file.seek(SeekFrom::Start(run.len))?;
            }
            return Err(e);
        }
        // Written: the temporary files go (dropping a spool removes its file).
        self.run = None;
        self.late = None;
        self.unwritten.clear();
        Ok(total)
    }
}

/// Copies `n` bytes of `run` from `offset` to `to`, at `to`'s cursor; moves `run`'s cursor.
/// `io::copy` between files is a kernel copy on Linux (`copy_file_range`, falling back to
/// `sendfile` or read/write by itself): the bytes never come into this process.
fn copy_range(mut run: &File, offset: u64, n: u64, to: &mut File) -> io::Result<()> {
    run.seek(SeekFrom::Start(offset))?;
    if io::copy(&mut run.take(n), to)? != n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "streamed HAR file shorter than its index",
        ));
    }
    Ok(())
}

/// Writes `entries` to `spool` in one vectored write (`run`: with the document's
/// separators; the late spool holds bare entries). Returns what could not be written.
fn write_entries(
    spool: &mut Spool,
    entries: Vec<Entry>,
    run: bool,
    out: &mut Appended,
) -> Vec<Entry> {
    /// Slices per writev(2) call (Linux's IOV_MAX is 1024).
    const MAX_SLICES: usize = 512;
    let mut done = 0;
    while done < entries.len() {
        let chunk = &entries[done..entries.len().min(done + MAX_SLICES / 2)];
        let mut slices = Vec::with_capacity(2 * chunk.len());
        let mut index = Vec::with_capacity(chunk.len());
        let mut at = spool.len;
        let mut first = spool.index.is_empty();
        for e in chunk {
            if run {
                let sep: &[u8] = if first { b"\n" } else { b",\n" };
                first = false;
                slices.push(io::IoSlice::new(sep));
                at += sep.len() as u64;
            }
            slices.push(io::IoSlice::new(&e.json));
            index.push(Indexed {
                key: e.key,
                offset: at,
                len: e.json.len() as u64,
            });
            at += e.json.len() as u64;
        }
        if let Err(e) = spool.append(&mut slices) {
            out.error = Some(e);
            break;
        }
        spool.index.extend(index);
        out.written += chunk.len() as u64;
        done += chunk.len();
    }
    entries.into_iter().skip(done).collect()
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
