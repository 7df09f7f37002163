//! Writing a HAR file to disk: the one place HAR documents meet the filesystem. `har`
//! turns transactions into entry JSON without I/O; this writes already-serialised entries
//! into a whole document, atomically and private (mode 0600), with vectored writes.

use std::io::{self, Write};
use std::path::Path;

use crate::har;
use crate::output::write_atomically_private;

/// Writes a HAR file at `path` holding the already-serialised `entries`, atomically and
/// readable by the owner only (HAR holds cookies and credentials). Returns the bytes
/// written.
///
/// The entries go to the file with vectored writes straight from the caller's buffers (the
/// document is the bytes `LogWriter` writes), not copied through the `BufWriter` first:
/// HAR files are mostly body text, and that copy was a few percent of a run.
pub fn write_file<'a>(path: &Path, entries: impl IntoIterator<Item = &'a [u8]>) -> io::Result<u64> {
    /// Slices per writev(2) call (Linux's IOV_MAX is 1024).
    const MAX_SLICES: usize = 512;
    let mut total = 0u64;
    write_atomically_private(path, |w| {
        let mut head = Vec::new();
        har::LogWriter::begin(&mut head)?;
        w.write_all(&head)?;
        w.flush()?;
        total += head.len() as u64;
        let file = w.get_mut();
        let mut slices: Vec<io::IoSlice<'_>> = Vec::with_capacity(MAX_SLICES + 1);
        let mut first = true;
        for json in entries {
            // As `LogWriter::entry_json`.
            slices.push(io::IoSlice::new(if first { b"\n" } else { b",\n" }));
            first = false;
            slices.push(io::IoSlice::new(json));
            if slices.len() >= MAX_SLICES {
                total += write_all_vectored(file, &mut slices)?;
                slices.clear();
            }
        }
        // As `LogWriter::finish`.
        slices.push(io::IoSlice::new(if first { b"]}}\n" } else { b"\n]}}\n" }));
        total += write_all_vectored(file, &mut slices)?;
        Ok(())
    })?;
    Ok(total)
}

/// Writes every byte of `bufs`; returns how many.
pub(super) fn write_all_vectored(
    w: &mut impl Write,
    bufs: &mut [io::IoSlice<'_>],
) -> io::Result<u64> {
    let total = bufs.iter().map(|b| b.len() as u64).sum();
    let mut bufs = bufs;
    io::IoSlice::advance_slices(&mut bufs, 0);
    while !bufs.is_empty() {
        match w.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut bufs, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(total)
}
