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
//! late spool, a second temporary file, and is merged in place as soon as that is cheap
//! (`fold_late_into_run`): the run's entries from the first late one's place on (the
//! tail: the few entries released after it) and the late entries are merged into a third
//! temporary file, the run is cut there and that file appended. That is done when the
//! tail is no longer than what the run grew by since the last such merge and than half the
//! run, so a run is written at most three times over plus twice its late entries,
//! whatever the traffic. The run is cut only once the merged part is complete; if
//! appending it fails, the merged part becomes the late spool (its index says where each
//! entry is), so nothing is lost and the next merge takes it. At export:
//! - nothing late left: the document's tail is written, the file synced and renamed to its
//!   final name (the same I/O as writing it whole);
//! - late entries left: merged in place first if that rewrites less than half the file;
//!   otherwise run and late entries are merged, in sort order, into the final file
//!   (written atomically as any output file), and both temporary files removed.
//!
//! Either merge copies the run's entries between two late ones as one stretch of the run
//! file, separators included, already in their final bytes, in the kernel
//! (`copy_file_range` through `io::copy`), never read into memory; only late entries,
//! and run entries whose key equals a late one's (the tie is broken by the bytes), are
//! read and written one by one. Counted: `har_stream_merges`, and the bytes they wrote
//! in `har_stream_merge_bytes` (a merge at export of a 2 GB interval took 2-5 s of system
//! time on tmpfs; merged in place as they came, 4 late entries rewrote 4.4 MB).
//!
//! What stays in memory per entry is its index (sort key, offset, length: 40 bytes), so the
//! merge can find it; entries whose write failed (disk full) are kept in memory as late
//! entries, charged to the held-bytes limit by the caller, and the run goes on.
//!
//! Temporary names (`.streamN.har.tmpPID`) are never a final name: a process that dies
//! mid-interval leaves hidden temporary files, never a truncated `.har`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
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

    /// Appends `parts` (separators and entries) at the end of what it holds, wherever a
    /// merge left the cursor; on failure cuts the file back to that, so the index stays
    /// true.
    fn append(&mut self, parts: &mut [io::IoSlice<'_>]) -> io::Result<u64> {
        self.file.seek(SeekFrom::Start(self.len))?;
        match write_all_vectored(&mut self.file, parts) {
            Ok(n) => {
                self.len += n;
                Ok(n)
            }
            Err(e) => {
                let _ = self.file.set_len(self.len);
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
    /// Merges in place tried (`fold_late_into_run`): names their temporary files.
    folds: u32,
    /// The run's length after the last merge in place (0 before any).
    folded_at: u64,
    /// Tests: appending the merged part to the cut run fails (`fold_late_into_run`).
    #[cfg(test)]
    fail_fold_append: bool,
}

/// A file exported.
pub(super) struct Exported {
    pub bytes: u64,
    /// Entries had to be merged (late, unwritten, or the run's file was gone).
    pub merged: bool,
    /// Bytes a merge wrote besides streaming: the whole file, or the part from the first
    /// late entry on when merged in place (`fold_late_into_run`).
    pub rewritten: u64,
}

/// Where a batch's entries went; the caller keeps the `unwritten` ones charged.
pub(super) struct Appended {
    pub written: u64,
    /// Entries that sorted before the run's last (spooled, or kept if that failed).
    pub late: u64,
    pub unwritten_bytes: u64,
    /// Bytes rewritten by a merge in place of the late entries (`fold_late_into_run`).
    pub rewritten: u64,
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
            folds: 0,
            folded_at: 0,
            #[cfg(test)]
            fail_fold_append: false,
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
            rewritten: 0,
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
            // Merged into the run at once when cheap (module docs): a late entry then costs
            // the few entries released after it instead of the file at export.
            if out.error.is_none() {
                let grown = self.run.as_ref().map_or(0, |r| r.len - self.folded_at);
                match self.fold_late_into_run(grown) {
                    Ok(n) => out.rewritten += n,
                    Err(e) => out.error = Some(e),
                }
            }
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
        // In place when it rewrites less than half the file; else merged whole below.
        let folded = self.fold_late_into_run(u64::MAX)?;
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
                    if let Some(dir) = dest.parent() {
                        crate::output::sync_folder(dir);
                    }
                    let bytes = run.len + tail.len() as u64;
                    self.run = None;
                    return Ok(Exported {
                        bytes,
                        merged: folded > 0,
                        rewritten: folded,
                    });
                }
            }
        }
        let bytes = self.merge_into(dest)?;
        Ok(Exported {
            bytes,
            merged: true,
            rewritten: folded + bytes,
        })
    }

    /// Late entries (spool and memory) in sort order; ties on the key are broken by the
    /// bytes, read outside the sort.
    fn sorted_late(&self) -> io::Result<Vec<(Key, From)>> {
        let mut late: Vec<(Key, From)> = self
            .late
            .as_ref()
            .map_or(&[][..], |s| &s.index)
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
        late.sort_by_key(|(k, _)| *k);
        let mut i = 0;
        while i < late.len() {
            let n = late[i..]
                .iter()
                .take_while(|(k, _)| *k == late[i].0)
                .count();
            if n > 1 {
                let mut tied: Vec<(Vec<u8>, (Key, From))> = Vec::with_capacity(n);
                for item in late.drain(i..i + n) {
                    let mut buf = Vec::new();
                    self.read_entry(&item.1, &mut buf)?;
                    tied.push((buf, item));
                }
                tied.sort_by(|x, y| x.0.cmp(&y.0));
                late.splice(i..i, tied.into_iter().map(|(_, item)| item));
            }
            i += n;
        }
        Ok(late)
    }

    /// The bytes of one entry, wherever it is.
    fn read_entry(&self, from: &From, buf: &mut Vec<u8>) -> io::Result<()> {
        match *from {
            From::Run(i) => {
                let run = self.run.as_ref().expect("run entries: a run");
                run.read(&run.index[i], buf)
            }
            From::Late(i) => {
                let s = self.late.as_ref().expect("late entries: a spool");
                s.read(&s.index[i], buf)
            }
            From::Memory(i) => {
                buf.clear();
                buf.extend_from_slice(&self.unwritten[i].json);
                Ok(())
            }
        }
    }

    /// Writes the run's entries from `i` on and the `late` ones, merged in sort order, to
    /// `w`, each after its separator (`first`: the document has no entry before them).
    /// `at` is `w`'s position; with `index`, where each entry went is pushed to it.
    /// Returns the bytes written. Moves the run's cursor (`copy_range`).
    fn write_merged(
        &self,
        w: &mut BufWriter<File>,
        late: &[(Key, From)],
        mut i: usize,
        mut first: bool,
        mut at: u64,
        mut index: Option<&mut Vec<Indexed>>,
    ) -> io::Result<u64> {
        let begin = at;
        let run_index = self.run.as_ref().map_or(&[][..], |s| &s.index[..]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let mut j = 0;
        loop {
            let sep: &[u8] = if first { b"\n" } else { b",\n" };
            // Run entries before the next late one (all of them after the last): one
            // stretch of the run file, separators included, copied in the kernel. An equal
            // key stops the stretch so the bytes break the tie below.
            let end = match late.get(j) {
                Some((k, _)) => i + run_index[i..].partition_point(|r| r.key < *k),
                None => run_index.len(),
            };
            if end > i {
                let run = self.run.as_ref().expect("run entries: a run");
                first = false;
                w.write_all(sep)?;
                w.flush()?;
                at += sep.len() as u64;
                let (from, to) = (&run_index[i], &run_index[end - 1]);
                let n = to.offset + to.len - from.offset;
                copy_range(&run.file, from.offset, n, w.get_mut())?;
                if let Some(index) = index.as_deref_mut() {
                    index.extend(run_index[i..end].iter().map(|r| Indexed {
                        offset: at + (r.offset - from.offset),
                        ..*r
                    }));
                }
                at += n;
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
                        self.read_entry(&From::Run(i), &mut a)?;
                        self.read_entry(from, &mut b)?;
                        a <= b
                    }
                },
            };
            let key = if take_run {
                self.read_entry(&From::Run(i), &mut a)?;
                i += 1;
                run_index[i - 1].key
            } else {
                self.read_entry(&late[j].1, &mut a)?;
                j += 1;
                late[j - 1].0
            };
            first = false;
            w.write_all(sep)?;
            at += sep.len() as u64;
            if let Some(index) = index.as_deref_mut() {
                index.push(Indexed {
                    key,
                    offset: at,
                    len: a.len() as u64,
                });
            }
            w.write_all(&a)?;
            at += a.len() as u64;
        }
        Ok(at - begin)
    }

    /// Writes run, late spool and unwritten entries, merged in sort order, to `dest`.
    fn merge_into(&mut self, dest: &Path) -> io::Result<u64> {
        let late = self.sorted_late()?;
        let mut total = 0u64;
        let result = write_atomically_private(dest, |w| {
            let mut head = Vec::new();
            har::LogWriter::begin(&mut head)?;
            w.write_all(&head)?;
            total += head.len() as u64;
            total += self.write_merged(w, &late, 0, true, total, None)?;
            let tail: &[u8] = if total == head.len() as u64 {
                b"]}}\n"
            } else {
                b"\n]}}\n"
            };
            w.write_all(tail)?;
            total += tail.len() as u64;
            Ok(())
        });
        result?;
        // Written: the temporary files go (dropping a spool removes its file).
        self.run = None;
        self.late = None;
        self.unwritten.clear();
        Ok(total)
    }

    /// Merges the late spool into the run in place when the run's part from the first
    /// late entry's place on (the tail) is at most `max_tail` bytes and less than half the
    /// run: the run's entries from the first that does not sort before every late one
    /// (the cut) and the late entries are merged into a third temporary file, the run is
    /// cut there and that file appended. The run is then the whole document, exported as
    /// when nothing came late: a transaction that outlasted the reorder buffer by a few
    /// entries costs a few entries' copies, not a copy of the file.
    ///
    /// Returns the bytes rewritten (0: not worth it, nothing done). Never loses an entry:
    /// until the merged part is complete the stream is untouched (the third file is
    /// removed); when appending it to the cut run fails, the run is left cut, with its index,
    /// and the merged part becomes the late spool (its index says where each entry is), so
    /// the next export merges them again.
    fn fold_late_into_run(&mut self, max_tail: u64) -> io::Result<u64> {
        let (Some(run), Some(_)) = (self.run.as_ref(), self.late.as_ref()) else {
            return Ok(0);
        };
        if !self.unwritten.is_empty() {
            return Ok(0);
        }
        let late = self.sorted_late()?;
        let Some((first_late, _)) = late.first() else {
            return Ok(0);
        };
        let c = run.index.partition_point(|r| r.key < *first_late);
        let Some(before) = c.checked_sub(1).map(|k| &run.index[k]) else {
            return Ok(0);
        };
        let cut = before.offset + before.len;
        // Less than half the run, or the merge at export (a copy of the run) is cheaper.
        if run.len - cut > max_tail.min(run.len.saturating_sub(1) / 2) {
            return Ok(0);
        }
        // A new name each time: after a failed append the last one is the late spool.
        self.folds += 1;
        let name = format!(
            ".stream{}.merge{}.tmp{}",
            self.seq,
            self.folds,
            std::process::id()
        );
        let mut part = Spool::create(&self.dir, &name)?;
        let mut index = Vec::new();
        let written = {
            let mut w = BufWriter::new(part.file.try_clone()?);
            let n = self.write_merged(&mut w, &late, c, false, 0, Some(&mut index))?;
            w.flush()?;
            n
        };
        part.len = written;
        part.index = index;
        #[cfg(test)]
        let fail = self.fail_fold_append;
        let run = self.run.as_mut().expect("checked above");
        let appended = run
            .file
            .set_len(cut)
            .and_then(|()| run.file.seek(SeekFrom::Start(cut)).map(|_| ()))
            .and_then(|()| {
                #[cfg(test)]
                if fail {
                    // Half of it lands, as when the disk fills up mid-copy.
                    copy_range(&part.file, 0, written / 2, &mut run.file)?;
                    return Err(io::Error::other("injected: append of the merged part"));
                }
                copy_range(&part.file, 0, written, &mut run.file)
            });
        run.index.truncate(c);
        match appended {
            Ok(()) => {
                run.len = cut + written;
                run.index.extend(part.index.iter().map(|x| Indexed {
                    offset: cut + x.offset,
                    ..*x
                }));
                self.late = None;
                self.folded_at = run.len;
                Ok(written)
            }
            Err(e) => {
                let _ = run.file.set_len(cut);
                run.len = cut;
                // `part` holds the run's entries after the cut and the late ones: it is
                // the late spool now (an entry's place is its index, separators between
                // them are never read; the next append seeks to its end).
                self.late = Some(part);
                Err(e)
            }
        }
    }
}

/// Where an entry to merge is.
enum From {
    /// The run's entry at this index.
    Run(usize),
    /// The late spool's.
    Late(usize),
    /// `unwritten`'s.
    Memory(usize),
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
