//! The output filesystem: how every output file reaches the disk. Files are written
//! atomically (a temporary file beside the target, synced, renamed over it), HAR files
//! readable by their owner only, and a folder is proven writable before a capture starts.
//! `temp_files` remembers the temporary files being written so a second signal can remove
//! them.
//!
//! What it does not do: decide what goes into a file (processors and the log snapshot do)
//! or name flags in its errors (callers turn an `io::Error` into their own one-line message).

pub mod temp_files;

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

/// Writes `path` atomically: into a temporary file beside it, synced, then renamed over
/// `path`. On error the temporary file is removed and `path` is untouched. A folder that
/// disappeared is created again (warned).
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    write_atomically_mode(path, None, write)
}

/// `write_atomically` for files that hold secrets (HAR: cookies, credentials): on Unix the
/// file is mode 0600 from its creation, whatever the umask or a stale temporary file.
pub fn write_atomically_private(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> io::Result<()> {
    write_atomically_mode(path, Some(0o600), write)
}

/// Opens the temporary file, with `mode` (Unix permission bits) when given, else the
/// umask's default. A stale temporary file (or a symlink planted in a shared folder under
/// the predictable name) is removed first, then the file is created exclusively:
/// `O_EXCL` never follows a symlink, so a run as root cannot be made to truncate and fill
/// another file; one planted again in between makes the open fail instead.
fn create_temp(tmp: &Path, mode: Option<u32>) -> io::Result<File> {
    match fs::remove_file(tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let mut opts = fs::OpenOptions::new();
    // Readable too: a streamed HAR file is read back when its late entries are merged.
    opts.read(true).write(true).create_new(true);
    #[cfg(unix)]
    if let Some(m) = mode {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(m);
        let file = opts.open(tmp)?;
        // The umask can only clear bits; set them exactly anyway.
        file.set_permissions(fs::Permissions::from_mode(m))?;
        return Ok(file);
    }
    #[cfg(not(unix))]
    let _ = mode;
    opts.open(tmp)
}

/// A private (0600) temporary file that lives longer than one `write_atomically` call: a
/// HAR file streamed while its export interval is open. `name` is a hidden name that no
/// final output ever has (`.stream1.har.tmpPID`), so a process that dies leaves only a
/// temporary file, never a half-written file under a final name. Registered with
/// `temp_files` until the returned guard drops, so a second signal removes it. A folder
/// that disappeared is created again (warned).
pub fn create_private_temp(
    dir: &Path,
    name: &str,
) -> io::Result<(File, PathBuf, temp_files::Registered)> {
    let tmp = dir.join(name);
    let registered = temp_files::TABLE.register(&tmp);
    let file = match create_temp(&tmp, Some(0o600)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.is_dir() => {
            fs::create_dir_all(dir)?;
            crate::stderr_line!(
                "httshark: warning: output folder {} had disappeared; created it again",
                dir.display()
            );
            create_temp(&tmp, Some(0o600))?
        }
        other => other?,
    };
    Ok((file, tmp, registered))
}

fn write_atomically_mode(
    path: &Path,
    mode: Option<u32>,
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
    // Until renamed or removed, a second signal's immediate exit removes it too.
    let _registered = temp_files::TABLE.register(&tmp);
    let result = (|| {
        let file = match create_temp(&tmp, mode) {
            // The output folder was removed while running (docs/robustness.md, "Faults"):
            // created again, once, then the write proceeds.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.is_dir() => {
                fs::create_dir_all(dir)?;
                crate::stderr_line!(
                    "httshark: warning: output folder {} had disappeared; created it again",
                    dir.display()
                );
                create_temp(&tmp, mode)?
            }
            other => other?,
        };
        let mut w = BufWriter::with_capacity(1 << 16, file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        fs::rename(&tmp, path)?;
        sync_folder(dir);
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes a rename in `dir` durable (the file's bytes were synced before it): without it a
/// power cut can leave the old file, or none, under the name. Best effort: a folder that
/// cannot be opened or synced (some network filesystems) leaves the rename as it is.
pub(crate) fn sync_folder(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// The step of `prepare_folder` that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderStep {
    /// The folder (or a parent) could not be created.
    Create,
    /// A probe file could not be created or written in it.
    Write,
    /// The probe file could not be removed again.
    Remove,
}

/// Creates `dir` if missing and proves it writable by creating, writing and removing a
/// probe file in it (permission bits alone don't tell: ACLs, read-only mounts, root, a full
/// disk). Callers turn the failed step into their own one-line error.
pub fn prepare_folder(dir: &Path) -> Result<(), (FolderStep, io::Error)> {
    use std::io::Write as _;
    fs::create_dir_all(dir).map_err(|e| (FolderStep::Create, e))?;
    let probe = dir.join(format!(".httshark-probe-{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(b"probe"));
    if let Err(e) = written {
        let _ = fs::remove_file(&probe);
        return Err((FolderStep::Write, e));
    }
    fs::remove_file(&probe).map_err(|e| (FolderStep::Remove, e))
}

/// `-output-folder`, prepared before the capture starts whichever processors run (the log
/// snapshot may live in it): created if missing and proven writable by creating and removing a
/// probe file in it (permission bits alone don't tell: ACLs, read-only mounts, root).
pub fn prepare_output_folder(dir: &Path) -> Result<(), String> {
    let shown = dir.display();
    if let Ok(meta) = fs::metadata(dir) {
        if !meta.is_dir() {
            return Err(format!(
                "-output-folder '{shown}' exists and is not a directory"
            ));
        }
    }
    prepare_folder(dir).map_err(|(step, e)| {
        let reason = io_reason(&e);
        match step {
            FolderStep::Create => format!("-output-folder '{shown}' can't be created: {reason}"),
            FolderStep::Write => format!("-output-folder '{shown}' is not writable: {reason}"),
            FolderStep::Remove => {
                format!("-output-folder '{shown}': can't remove its probe file: {reason}")
            }
        }
    })
}

/// What the outputs of a run are about to create, recorded before they are opened, so a
/// run refused after that point (exit status 2: a capture that can't be opened, an
/// unwritable statistics path, a metrics address in use) leaves nothing behind (issue 13).
///
/// Only what did not exist when recorded is ever removed, and only when it is still what
/// the refused run left: a file that is empty (nothing was captured), a folder that is
/// empty (`remove_dir`, never a recursive removal). Removal is best effort.
#[derive(Debug, Default)]
pub struct Undo {
    /// Missing folders, outermost first.
    folders: Vec<PathBuf>,
    /// Missing files.
    files: Vec<PathBuf>,
}

impl Undo {
    /// Records which of `folders`, `files` and the folders holding `files` (and their
    /// missing parents) do not exist yet.
    pub fn record(folders: &[PathBuf], files: &[PathBuf]) -> Undo {
        let mut undo = Undo::default();
        let parents = files.iter().map(|f| match f.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        });
        for dir in folders.iter().cloned().chain(parents) {
            for d in missing_ancestors(&dir) {
                if !undo.folders.contains(&d) {
                    undo.folders.push(d);
                }
            }
        }
        undo.files = files
            .iter()
            .filter(|f| fs::symlink_metadata(f).is_err())
            .cloned()
            .collect();
        undo
    }

    /// Removes what was recorded missing and is now an empty file or an empty folder;
    /// innermost folders first.
    pub fn run(&self) {
        for f in &self.files {
            if fs::symlink_metadata(f).is_ok_and(|m| m.is_file() && m.len() == 0) {
                let _ = fs::remove_file(f);
            }
        }
        for d in self.folders.iter().rev() {
            if fs::symlink_metadata(d).is_ok_and(|m| m.is_dir()) {
                let _ = fs::remove_dir(d);
            }
        }
    }
}

/// An io::Error as a short reason, without Rust's "(os error N)" suffix.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// The folders of `dir`'s path that do not exist yet, `dir` included, outermost first (the
/// order they would be created in). Nothing is followed or created.
pub fn missing_ancestors(dir: &Path) -> Vec<PathBuf> {
    let mut chain = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur.filter(|d| !d.as_os_str().is_empty()) {
        if fs::symlink_metadata(d).is_ok() {
            break;
        }
        chain.push(d.to_path_buf());
        cur = d.parent();
    }
    chain.reverse();
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

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

    #[cfg(unix)]
    #[test]
    fn private_write_is_mode_0600_even_over_a_stale_temp() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret.har");
        let stale = dir
            .path()
            .join(format!(".secret.har.tmp{}", std::process::id()));
        fs::write(&stale, b"old").unwrap();
        fs::set_permissions(&stale, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomically_private(&p, |w| w.write_all(b"cookie")).unwrap();
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_to_string(&p).unwrap(), "cookie");
        assert!(!stale.exists());
    }

    /// Neither kind of write follows a symlink planted under the temporary file's
    /// predictable name (a shared folder, a run as root): the target keeps its bytes and
    /// the output is a regular file of its own.
    #[cfg(unix)]
    #[test]
    fn writes_do_not_follow_a_planted_symlink() {
        type Write = fn(&Path, &[u8]) -> io::Result<()>;
        let writes: [(&str, Write); 2] = [
            ("x.har", |p, b| {
                write_atomically_private(p, |w| w.write_all(b))
            }),
            ("statistics.csv", |p, b| {
                write_atomically(p, |w| w.write_all(b))
            }),
        ];
        for (name, write) in writes {
            let dir = tempfile::tempdir().unwrap();
            let victim = dir.path().join("victim");
            fs::write(&victim, b"keep").unwrap();
            let p = dir.path().join(name);
            std::os::unix::fs::symlink(
                &victim,
                dir.path()
                    .join(format!(".{name}.tmp{}", std::process::id())),
            )
            .unwrap();
            write(&p, b"new").unwrap();
            assert_eq!(fs::read_to_string(&victim).unwrap(), "keep", "{name}");
            assert_eq!(fs::read_to_string(&p).unwrap(), "new", "{name}");
            assert!(fs::symlink_metadata(&p).unwrap().is_file(), "{name}");
        }
    }

    #[test]
    fn undo_removes_only_what_was_missing_and_is_still_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        fs::create_dir(base.join("kept")).unwrap();
        fs::write(base.join("kept/old.ndjson"), b"").unwrap();
        let folders = [base.join("kept"), base.join("a/b/c"), base.join("full")];
        let files = [
            base.join("kept/old.ndjson"),
            base.join("n/e.ndjson"),
            base.join("kept/snap.log"),
            base.join("kept/data.log"),
        ];
        let undo = Undo::record(&folders, &files);
        for d in &folders {
            fs::create_dir_all(d).unwrap();
        }
        fs::create_dir_all(base.join("n")).unwrap();
        fs::write(base.join("n/e.ndjson"), b"").unwrap();
        fs::write(base.join("kept/snap.log"), b"").unwrap();
        // Written meanwhile by someone else: not the refused run's to remove.
        fs::write(base.join("kept/data.log"), b"data").unwrap();
        fs::write(base.join("full/x"), b"x").unwrap();
        undo.run();
        let mut left: Vec<String> = walk(base);
        left.sort();
        assert_eq!(
            left,
            ["full", "full/x", "kept", "kept/data.log", "kept/old.ndjson"]
        );
    }

    /// Every path under `dir`, relative.
    fn walk(dir: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.extend(walk(&p).into_iter().map(|s| format!("{rel}/{s}")));
            }
            out.push(rel);
        }
        out
    }

    #[test]
    fn output_folder_is_created_probed_and_left_clean() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("a/b/c");
        prepare_output_folder(&out).unwrap();
        assert!(out.is_dir());
        assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "probe file removed");
        prepare_output_folder(&out).unwrap(); // existing folder is fine

        let file = tmp.path().join("plain");
        fs::write(&file, b"x").unwrap();
        let Err(m) = prepare_output_folder(&file) else {
            panic!("a file is not a folder")
        };
        assert!(m.contains("is not a directory"), "{m}");
        let Err(m) = prepare_output_folder(&file.join("sub")) else {
            panic!("nothing can be created under a file")
        };
        assert!(
            m.starts_with(&format!(
                "-output-folder '{}' can't be created",
                file.join("sub").display()
            )),
            "{m}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn read_only_output_folder_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let ro = tmp.path().join("ro");
        fs::create_dir(&ro).unwrap();
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
        // Root writes anyway; the probe sees what really happens, so only check when it bites.
        let writable = fs::write(ro.join("t"), b"").is_ok();
        let result = prepare_output_folder(&ro);
        fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
        if writable {
            assert!(result.is_ok());
        } else {
            let Err(m) = result else {
                panic!("read-only folder accepted")
            };
            assert!(m.contains("is not writable"), "{m}");
        }
    }

    #[test]
    fn missing_ancestors_are_listed_outermost_first() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b/c");
        assert_eq!(
            missing_ancestors(&deep),
            vec![dir.path().join("a"), dir.path().join("a/b"), deep.clone()]
        );
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        assert_eq!(missing_ancestors(&deep), vec![dir.path().join("a/b"), deep]);
        assert!(missing_ancestors(dir.path()).is_empty());
    }
}
