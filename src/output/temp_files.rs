//! The temporary files `write_atomically` is writing right now, so that the second
//! SIGINT/SIGTERM, which ends the process at once from its signal handler, can remove them
//! first: an output folder never keeps a half-written `.NAME.tmpPID` file, even when the
//! operator cuts the drain short.
//!
//! What it is: a fixed table of [`SLOTS`] path buffers, each guarded by an atomic state.
//! [`remove_all_now`] only loads atomics and calls unlink(2), both async-signal-safe; it
//! never allocates or takes a lock.
//!
//! It also holds the `-- COMMAND` key log and its private folder (`register_dir`): the
//! key log holds TLS secrets and must not outlive the run either.
//!
//! What it does not do: track more than [`SLOTS`] files written at once, or paths longer
//! than [`PATH_BYTES`]; such a file is written as before, unregistered. The processor
//! thread writes one whole file at a time, plus the HAR files streamed while their
//! interval is open (at most [`STREAM_SLOTS`]: two per stream, `har_file::MAX_HAR_STREAMS`).
//!
//! Invariants: a slot's buffer is written only by the thread that claimed it (`CLAIMED`),
//! and read only by the signal handler, which first moves the slot from `READY` to
//! `REMOVING`; a writer releasing a slot the handler is removing waits for it, and the
//! handler ends the process right after, so the buffer is never read while rewritten.

use std::cell::UnsafeCell;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Slots kept for HAR files streamed while their interval is open (a stream's file and
/// its spool of late entries).
pub const STREAM_SLOTS: usize = 256;
/// Temporary files that can be registered at once: streamed HAR files and 8 more for
/// whole files written in one go. 264 x 4 KiB of zeroed static memory, only touched where
/// used.
pub const SLOTS: usize = STREAM_SLOTS + 8;
/// Longest registered path, in bytes, with its terminating NUL.
pub const PATH_BYTES: usize = 4096;

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const READY: u8 = 2;
const REMOVING: u8 = 3;

struct Slot {
    state: AtomicU8,
    /// The path is a folder, removed (rmdir) after every file is.
    dir: AtomicBool,
    path: UnsafeCell<[u8; PATH_BYTES]>,
}

// SAFETY: `path` is only accessed under the state protocol described in the module docs.
unsafe impl Sync for Slot {}

/// A table of slots; httshark uses the one static [`TABLE`] (tests use their own).
pub struct Table {
    slots: [Slot; SLOTS],
}

/// The temporary files `write_atomically` is writing.
pub static TABLE: Table = Table::new();

impl Table {
    pub const fn new() -> Table {
        Table {
            slots: [const {
                Slot {
                    state: AtomicU8::new(FREE),
                    dir: AtomicBool::new(false),
                    path: UnsafeCell::new([0; PATH_BYTES]),
                }
            }; SLOTS],
        }
    }

    /// Registers `path` (a temporary file about to be created) until the guard drops.
    pub fn register(&'static self, path: &Path) -> Registered {
        self.claim(path, false)
    }

    /// Registers `path`, a private folder of temporary files (the `-- COMMAND` key log's),
    /// until the guard drops: removed once empty, after the files.
    pub fn register_dir(&'static self, path: &Path) -> Registered {
        self.claim(path, true)
    }

    fn claim(&'static self, path: &Path, dir: bool) -> Registered {
        let bytes = OsStr::as_bytes(path.as_os_str());
        if bytes.len() >= PATH_BYTES || bytes.contains(&0) {
            return Registered(None);
        }
        for slot in &self.slots {
            if slot
                .state
                .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                // SAFETY: CLAIMED: this thread alone accesses the buffer.
                let buf = unsafe { &mut *slot.path.get() };
                buf[..bytes.len()].copy_from_slice(bytes);
                buf[bytes.len()] = 0;
                slot.dir.store(dir, Ordering::Relaxed);
                slot.state.store(READY, Ordering::Release);
                return Registered(Some(&slot.state));
            }
        }
        Registered(None)
    }

    /// Removes every registered temporary file, then every registered folder (rmdir: one
    /// that still holds files stays). Async-signal-safe: for the signal handler that ends
    /// the process.
    pub fn remove_all_now(&self) {
        for dirs in [false, true] {
            for slot in &self.slots {
                if slot
                    .state
                    .compare_exchange(READY, REMOVING, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
                {
                    // SAFETY: REMOVING: no writer touches the buffer, which holds a
                    // NUL-terminated path.
                    unsafe {
                        let path = (*slot.path.get()).as_ptr().cast();
                        if slot.dir.load(Ordering::Relaxed) == dirs {
                            if dirs {
                                libc::rmdir(path);
                            } else {
                                libc::unlink(path);
                            }
                        }
                    }
                    slot.state.store(READY, Ordering::Release);
                }
            }
        }
    }
}

impl Default for Table {
    fn default() -> Table {
        Table::new()
    }
}

/// A registered temporary file; dropping it unregisters it (after the rename or removal).
pub struct Registered(Option<&'static AtomicU8>);

impl Drop for Registered {
    fn drop(&mut self) {
        let Some(state) = self.0 else { return };
        while state
            .compare_exchange(READY, FREE, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            // REMOVING: the signal handler is reading the path and ends the process next.
            std::hint::spin_loop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_files_are_removed_and_slots_freed() {
        static T: Table = Table::new();
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join(".a.tmp1");
        let b = dir.path().join(".b.tmp1");
        std::fs::write(&a, "x").unwrap();
        std::fs::write(&b, "x").unwrap();
        let ga = T.register(&a);
        {
            let _gb = T.register(&b);
        }
        T.remove_all_now();
        assert!(!a.exists(), "registered: removed");
        assert!(b.exists(), "unregistered: kept");
        drop(ga);
        // Every slot is free again; one more than the table holds is not registered.
        let all: Vec<_> = (0..SLOTS).map(|_| T.register(&a)).collect();
        assert!(all.iter().all(|g| g.0.is_some()));
        assert!(T.register(&a).0.is_none(), "table full: unregistered");
        let long = dir.path().join("x".repeat(PATH_BYTES));
        drop(all);
        assert!(T.register(&long).0.is_none(), "too long: unregistered");
    }

    /// A registered folder goes after its files, whatever order they were registered in;
    /// one still holding an unregistered file stays.
    #[test]
    fn registered_folders_are_removed_after_their_files() {
        static T: Table = Table::new();
        let top = tempfile::tempdir().unwrap();
        let (keys, other) = (top.path().join("keys"), top.path().join("other"));
        std::fs::create_dir(&keys).unwrap();
        std::fs::create_dir(&other).unwrap();
        let log = keys.join("keys.log");
        std::fs::write(&log, "CLIENT_RANDOM ...").unwrap();
        std::fs::write(other.join("kept"), "x").unwrap();
        let _d = T.register_dir(&keys);
        let _o = T.register_dir(&other);
        let _f = T.register(&log);
        T.remove_all_now();
        assert!(!log.exists() && !keys.exists(), "file, then folder");
        assert!(
            other.join("kept").exists(),
            "a folder with other files stays"
        );
    }
}
