//! Reading key log files: whole (offline, [`read_keylog_file`]) or followed while clients
//! append to them during a live capture ([`Follower`]).
//!
//! Clients write a session's secrets after its handshake is on the wire (research notes
//! §6.1), so a live capture must keep reading the file. Each [`Follower::poll`] reads what
//! was appended since the last one, at most [`MAX_FOLLOW_READ`] bytes, and parses only
//! complete lines: an incomplete last line waits for its newline (Wireshark's `fgets` loses
//! such a line). The file is read again from its start, with a fresh parser, when the path
//! now names another file (device or inode changed: replaced by rename, or deleted and
//! recreated), when it got smaller than what was read (truncated), or when its first bytes
//! changed (rewritten in place and already longer again by the next poll): Wireshark's
//! `file_needs_reopen` has the first two checks. Re-reading gives entries already seen;
//! the store replaces them with equal ones.
//!
//! A missing file is not an error while following (a client creates it with its first
//! session): the state says [`FollowState::Missing`] and polls return nothing until it
//! appears. When the path is deleted while open, the open file is still read (a client
//! that holds it open goes on appending to it) until another file takes the path.
//!
//! What it does not do: watch with inotify (a poll per capture tick is enough and needs
//! no thread), read the clock, or write: every file is opened read-only.
//!
//! Invariants: a poll reads at most `MAX_FOLLOW_READ` bytes; read buffers are zeroized.

use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use zeroize::{Zeroize, Zeroizing};

use super::parse::{ParseReport, Parser};
use super::Entry;

/// Most bytes one [`Follower::poll`] reads (4 MiB, some 20,000 lines), so a huge file
/// cannot stall the capture thread; the rest is read by the following polls.
pub const MAX_FOLLOW_READ: usize = 4 << 20;

/// Bytes at the start of the file compared on each poll to notice an in-place rewrite.
const HEAD_CHECK: usize = 64;

/// Size of one read.
const CHUNK: usize = 64 * 1024;

/// Reads a whole key log file (offline), including a last line without newline.
pub fn read_keylog_file(
    path: &Path,
    out: &mut Vec<Entry>,
    report: &mut ParseReport,
) -> io::Result<()> {
    Parser::new().read_all(File::open(path)?, out, report)
}

/// Where a [`Follower`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowState {
    /// No file at the path, none open: waiting for a client to create it.
    Missing,
    /// Reading the file the path names.
    Following,
    /// The path is gone; still reading the file that had it (its writer may hold it open).
    Unlinked,
}

/// Follows one key log file; owned by the capture thread, polled on its ticks.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<Open>,
    parser: ParserBox,
    state: FollowState,
    max_read: usize,
    reopens: u64,
    bytes_read: u64,
    caught_up: bool,
}

/// The parser has no `Debug` (it holds secret text).
struct ParserBox(Parser);

impl std::fmt::Debug for ParserBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Parser({} bytes pending)", self.0.pending())
    }
}

struct Open {
    file: File,
    dev: u64,
    ino: u64,
    /// Bytes read (and parsed) so far.
    pos: u64,
    /// The first bytes read, up to `HEAD_CHECK`.
    head: Zeroizing<Vec<u8>>,
}

impl Follower {
    /// Starts following `path`. Reads nothing yet (the first [`poll`](Follower::poll)
    /// does). A missing file is fine; a directory or a file that cannot be opened
    /// (permission) is an error.
    pub fn open(path: &Path) -> io::Result<Follower> {
        let mut f = Follower {
            path: path.to_path_buf(),
            file: None,
            parser: ParserBox(Parser::new()),
            state: FollowState::Missing,
            max_read: MAX_FOLLOW_READ,
            reopens: 0,
            bytes_read: 0,
            caught_up: false,
        };
        match fs::metadata(path) {
            Ok(meta) => {
                not_a_directory(&meta)?;
                f.file = Some(Open::new(File::open(path)?)?);
                f.state = FollowState::Following;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        Ok(f)
    }

    /// Reads what was appended since the last poll (reopening first when the file was
    /// replaced, truncated or rewritten), parsing complete lines into `out`.
    pub fn poll(&mut self, out: &mut Vec<Entry>, report: &mut ParseReport) -> io::Result<()> {
        self.caught_up = false;
        match fs::metadata(&self.path) {
            Ok(meta) => {
                not_a_directory(&meta)?;
                let stale = match &self.file {
                    None => true,
                    Some(o) => o.replaced_by(&meta)?,
                };
                if stale {
                    match File::open(&self.path) {
                        Ok(file) => {
                            if self.file.is_some() || self.bytes_read > 0 {
                                self.reopens = self.reopens.saturating_add(1);
                            }
                            self.file = Some(Open::new(file)?);
                            self.parser.0.reset();
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
                self.state = if self.file.is_some() {
                    FollowState::Following
                } else {
                    FollowState::Missing
                };
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.state = if self.file.is_some() {
                    FollowState::Unlinked
                } else {
                    FollowState::Missing
                };
            }
            Err(e) => return Err(e),
        }
        let Some(open) = self.file.as_mut() else {
            self.caught_up = true;
            return Ok(());
        };
        let mut chunk = Zeroizing::new(vec![0u8; CHUNK.min(self.max_read.max(1))]);
        let mut budget = self.max_read;
        while budget > 0 {
            let want = budget.min(chunk.len());
            let Some(buf) = chunk.get_mut(..want) else {
                break;
            };
            let n = match open.file.read(buf) {
                Ok(0) => {
                    self.caught_up = true;
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let data = buf.get(..n).unwrap_or_default();
            if open.head.len() < HEAD_CHECK {
                let take = n.min(HEAD_CHECK - open.head.len());
                open.head
                    .extend_from_slice(data.get(..take).unwrap_or_default());
            }
            self.parser.0.push(data, out, report);
            open.pos = open.pos.saturating_add(n as u64);
            self.bytes_read = self.bytes_read.saturating_add(n as u64);
            budget -= n;
        }
        chunk.zeroize();
        Ok(())
    }

    /// Parses a last line that never got its newline (at the end of a capture).
    pub fn finish(&mut self, out: &mut Vec<Entry>, report: &mut ParseReport) {
        self.parser.0.finish(out, report);
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn state(&self) -> FollowState {
        self.state
    }

    /// Times the file was read again from its start.
    pub fn reopens(&self) -> u64 {
        self.reopens
    }

    /// Bytes read over all files the path named.
    pub fn bytes_read(&self) -> u64 {
        self.bytes_read
    }

    /// Whether the last poll read to the end of the file (false: `MAX_FOLLOW_READ` was
    /// reached and the next poll reads on).
    pub fn caught_up(&self) -> bool {
        self.caught_up
    }
}

/// Without `head`: it is key log text.
impl std::fmt::Debug for Open {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Open")
            .field("dev", &self.dev)
            .field("ino", &self.ino)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl Open {
    fn new(file: File) -> io::Result<Open> {
        let meta = file.metadata()?;
        not_a_directory(&meta)?;
        Ok(Open {
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            pos: 0,
            head: Zeroizing::new(Vec::with_capacity(HEAD_CHECK)),
        })
    }

    /// Whether the path (whose metadata is `meta`) no longer holds what was read.
    fn replaced_by(&self, meta: &Metadata) -> io::Result<bool> {
        if (meta.dev(), meta.ino()) != (self.dev, self.ino) || meta.len() < self.pos {
            return Ok(true);
        }
        if self.head.is_empty() {
            return Ok(false);
        }
        let mut now = Zeroizing::new(vec![0u8; self.head.len()]);
        let mut got = 0;
        while got < now.len() {
            let Some(rest) = now.get_mut(got..) else {
                break;
            };
            match self.file.read_at(rest, got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(now.get(..got) != Some(&self.head[..]))
    }
}

fn not_a_directory(meta: &Metadata) -> io::Result<()> {
    if meta.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a key log must be a file, not a directory",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "follow_tests.rs"]
mod tests;
