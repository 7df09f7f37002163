//! `httshark [flags] -- COMMAND [ARGS...]` (issue 15): runs COMMAND with a private
//! SSLKEYLOGFILE, as the invoking user, and reports how it ended.
//!
//! - **Who runs it**: httshark's own user when it is not root; under sudo the invoking
//!   user (`SUDO_UID`, `SUDO_GID`, and that user's supplementary groups); as root only with
//!   `-command-as-root`. A capture privilege is never handed to the program.
//! - **The key log**: a fresh folder (mode 0700, `mkdtemp`) under the temporary folder, a
//!   file `keys.log` in it (mode 0600), both owned by COMMAND's user, so only that user (and
//!   root) can read the secrets; httshark follows the file (`-tls-keylog` machinery) and
//!   removes both at the end. Clients that honour SSLKEYLOGFILE log there (docs/command.md).
//! - **Its end**: a thread waits for COMMAND, then, `COMMAND_DRAIN` later (its last
//!   packets and key lines reach the capture), stops the capture as a signal would; the
//!   pipeline drains, and httshark exits with COMMAND's status (128 + N for signal N).
//!
//! What it does not do: put COMMAND in a namespace or a proxy (the capture is passive: its
//! traffic goes out as it would without httshark), or follow a daemon that leaves the
//! process tree (a double fork reparents it to init: its connections no longer match).

use std::ffi::{CString, OsString};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Wall time between COMMAND's exit and the stop of the capture: its last packets and key
/// log lines are read first (the capture then drains as on a signal).
pub const COMMAND_DRAIN: Duration = Duration::from_millis(500);
/// How long a COMMAND still running when the capture stopped gets after SIGTERM before
/// SIGKILL.
pub const COMMAND_KILL_GRACE: Duration = Duration::from_secs(2);
/// Supplementary groups read for the invoking user.
const MAX_GROUPS: usize = 256;

/// The user COMMAND runs as (None: httshark's own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<libc::gid_t>,
}

/// Decides who runs COMMAND (see the module docs). `env` reads an environment variable.
pub fn run_as(
    euid: u32,
    as_root: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<RunAs>, String> {
    if euid != 0 {
        return Ok(None);
    }
    let num = |name: &str| -> Result<Option<u32>, String> {
        match env(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| format!("-- COMMAND: {name}={v:?} is not a number")),
        }
    };
    match (num("SUDO_UID")?, num("SUDO_GID")?) {
        (Some(uid), Some(gid)) if uid != 0 => Ok(Some(RunAs {
            uid,
            gid,
            groups: env("SUDO_USER")
                .map(|u| groups_of(&u, gid))
                .unwrap_or_else(|| vec![gid]),
        })),
        _ if as_root => Ok(None),
        _ => Err(
            "-- COMMAND: httshark runs as root and not through sudo (no SUDO_UID): \
                  refusing to run COMMAND as root; start httshark with sudo, give it \
                  cap_net_raw,cap_net_admin and run it as yourself, or pass -command-as-root"
                .to_string(),
        ),
    }
}

fn groups_of(user: &str, gid: u32) -> Vec<libc::gid_t> {
    let Ok(name) = CString::new(user) else {
        return vec![gid];
    };
    let mut groups: Vec<libc::gid_t> = vec![0; MAX_GROUPS];
    let mut n = MAX_GROUPS as libc::c_int;
    // SAFETY: `groups` has room for `n` entries; getgrouplist writes at most `n` and sets
    // `n` to the count.
    let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut n) };
    if rc < 0 || n < 0 {
        return vec![gid];
    }
    groups.truncate(n as usize);
    groups
}

/// The private key log folder; removed (with the file) when dropped.
/// Both paths are registered with `output::temp_files` until it drops, so the second
/// Ctrl-C's immediate exit removes them too: the file holds TLS secrets, and COMMAND may
/// go on writing into it after httshark is gone.
pub struct KeyLog {
    dir: PathBuf,
    pub file: PathBuf,
    _registered: [crate::output::temp_files::Registered; 2],
}

impl KeyLog {
    /// Creates the folder and the empty file, owned by `owner` when given.
    pub fn create(owner: Option<&RunAs>) -> Result<KeyLog, String> {
        KeyLog::create_in(owner, &crate::output::temp_files::TABLE)
    }

    /// `create`, registered with `table` (tests use their own).
    fn create_in(
        owner: Option<&RunAs>,
        table: &'static crate::output::temp_files::Table,
    ) -> Result<KeyLog, String> {
        let template = std::env::temp_dir().join("httshark-keys-XXXXXX");
        let mut bytes = template.into_os_string().into_encoded_bytes();
        bytes.push(0);
        // SAFETY: `bytes` is a NUL-terminated template mkdtemp rewrites in place.
        let p = unsafe { libc::mkdtemp(bytes.as_mut_ptr().cast()) };
        if p.is_null() {
            return Err(format!(
                "-- COMMAND: cannot create a private key log folder: {}",
                std::io::Error::last_os_error()
            ));
        }
        bytes.pop();
        // SAFETY: the bytes came from an OsString and mkdtemp only replaced X's by ASCII.
        let dir = PathBuf::from(unsafe { OsString::from_encoded_bytes_unchecked(bytes) });
        let file = dir.join("keys.log");
        let log = KeyLog {
            _registered: [table.register_dir(&dir), table.register(&file)],
            file,
            dir,
        };
        let fail = |what: &str, e: std::io::Error| format!("-- COMMAND: {what}: {e}");
        std::fs::set_permissions(&log.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail("key log folder", e))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&log.file)
            .map_err(|e| fail("key log file", e))?;
        if let Some(u) = owner {
            for p in [&log.dir, &log.file] {
                std::os::unix::fs::chown(p, Some(u.uid), Some(u.gid))
                    .map_err(|e| fail("key log owner", e))?;
            }
        }
        Ok(log)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for KeyLog {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// COMMAND, running.
pub struct Running {
    pid: u32,
    waiter: thread::JoinHandle<std::io::Result<ExitStatus>>,
    done: Arc<AtomicBool>,
}

/// Starts COMMAND with `SSLKEYLOGFILE=keylog`; when it exits, `stop` is set
/// `COMMAND_DRAIN` later.
pub fn spawn(
    argv: &[OsString],
    user: Option<&RunAs>,
    keylog: &Path,
    stop: &Arc<AtomicBool>,
) -> Result<Running, String> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| "-- COMMAND: no command given".to_string())?;
    let mut cmd = Command::new(program);
    cmd.args(args).env("SSLKEYLOGFILE", keylog);
    // SAFETY: sigprocmask(2) is async-signal-safe. COMMAND starts with SIGINT and SIGTERM
    // deliverable whatever thread spawns it (pipeline threads block them), so Ctrl-C and
    // a forwarded SIGTERM reach it.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    if let Some(u) = user {
        let RunAs { uid, gid, groups } = u.clone();
        // In this order, in the child, before exec: std's own `uid`/`gid` would run before
        // any pre_exec closure, after which setgroups is no longer allowed.
        // SAFETY: setgroups, setgid and setuid are async-signal-safe; `groups` was
        // allocated before fork.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let child: Child = cmd.spawn().map_err(|e| {
        format!(
            "-- COMMAND: cannot run {}: {e}",
            Path::new(program).display()
        )
    })?;
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let (stop, finished) = (Arc::clone(stop), Arc::clone(&done));
    let waiter = crate::signals::without_stop_signals(|| {
        thread::Builder::new()
            .name("httshark-command".into())
            .spawn(move || {
                let mut child = child;
                let status = child.wait();
                finished.store(true, Ordering::SeqCst);
                thread::sleep(COMMAND_DRAIN);
                stop.store(true, Ordering::SeqCst);
                status
            })
    })
    .map_err(|e| format!("-- COMMAND: cannot start its waiter thread: {e}"))?;
    Ok(Running { pid, waiter, done })
}

impl Running {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// After the capture stopped: COMMAND's exit status (terminated first when it still
    /// runs: SIGTERM, then SIGKILL after `COMMAND_KILL_GRACE`).
    pub fn finish(self) -> Result<ExitStatus, String> {
        if !self.done.load(Ordering::SeqCst) {
            let pid = self.pid as libc::pid_t;
            // SAFETY: plain kill(2) of our own child, which has not been reaped (the
            // waiter has not returned), so the pid is still its.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let mut waited = Duration::ZERO;
            while !self.done.load(Ordering::SeqCst) && waited < COMMAND_KILL_GRACE {
                thread::sleep(Duration::from_millis(20));
                waited += Duration::from_millis(20);
            }
            if !self.done.load(Ordering::SeqCst) {
                // SAFETY: as above.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        self.waiter
            .join()
            .map_err(|_| "-- COMMAND: its waiter thread panicked".to_string())?
            .map_err(|e| format!("-- COMMAND: cannot wait for it: {e}"))
    }
}

/// The exit status httshark passes on: COMMAND's code, or 128 + N when signal N ended it
/// (as a shell reports it).
pub fn exit_code(status: ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(s)) => (128 + s) as u8,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_runs_the_command() {
        let none = |_: &str| None;
        assert_eq!(run_as(1000, false, none), Ok(None));
        assert!(run_as(0, false, none)
            .unwrap_err()
            .contains("-command-as-root"));
        assert_eq!(run_as(0, true, none), Ok(None));
        let sudo = |k: &str| match k {
            "SUDO_UID" => Some("1000".to_string()),
            "SUDO_GID" => Some("1001".to_string()),
            _ => None,
        };
        assert_eq!(
            run_as(0, false, sudo),
            Ok(Some(RunAs {
                uid: 1000,
                gid: 1001,
                groups: vec![1001]
            }))
        );
        // sudo from root itself: still root, so still refused without the flag.
        let root = |k: &str| (k.starts_with("SUDO_")).then(|| "0".to_string());
        assert!(run_as(0, false, root).is_err());
        let bad = |k: &str| (k == "SUDO_UID").then(|| "x".to_string());
        assert!(run_as(0, false, bad).is_err());
    }

    #[test]
    fn key_log_is_private_and_removed() {
        let log = KeyLog::create(None).unwrap();
        let dir = log.dir().to_path_buf();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&log.file), 0o600);
        drop(log);
        assert!(!dir.exists());
    }

    /// The second signal's immediate exit removes the temporary files registered with the
    /// table (`temp_files::remove_all_now`): the key log and its folder are among them.
    #[test]
    fn key_log_goes_with_the_second_signal() {
        static TABLE: crate::output::temp_files::Table = crate::output::temp_files::Table::new();
        let log = KeyLog::create_in(None, &TABLE).unwrap();
        std::fs::write(&log.file, "CLIENT_RANDOM 00 00\n").unwrap();
        TABLE.remove_all_now();
        assert!(!log.file.exists(), "key log left");
        assert!(!log.dir().exists(), "key log folder left");
    }

    #[test]
    fn exit_status_passes_through_and_the_stop_is_set() {
        let log = KeyLog::create(None).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let argv: Vec<OsString> = ["sh", "-c", "test -n \"$SSLKEYLOGFILE\" && exit 7"]
            .iter()
            .map(OsString::from)
            .collect();
        // As in a run: the capture stops (the waiter sets `stop` once COMMAND exited), then
        // `finish` (which would terminate a COMMAND still running).
        let wait_stop = |stop: &AtomicBool| {
            for _ in 0..500 {
                if stop.swap(false, Ordering::SeqCst) {
                    return;
                }
                thread::sleep(Duration::from_millis(10));
            }
            panic!("the stop was not set");
        };
        let r = spawn(&argv, None, &log.file, &stop).unwrap();
        wait_stop(&stop);
        assert_eq!(exit_code(r.finish().unwrap()), 7);
        let argv: Vec<OsString> = ["sh", "-c", "kill -TERM $$"]
            .iter()
            .map(OsString::from)
            .collect();
        let r = spawn(&argv, None, &log.file, &stop).unwrap();
        wait_stop(&stop);
        assert_eq!(exit_code(r.finish().unwrap()), 128 + 15);
        // Still running when the capture stops: terminated, and its status says so.
        let argv: Vec<OsString> = ["sleep", "30"].iter().map(OsString::from).collect();
        let r = spawn(&argv, None, &log.file, &stop).unwrap();
        assert_eq!(exit_code(r.finish().unwrap()), 128 + 15);
        assert!(spawn(&[OsString::from("/nonexistent/x")], None, &log.file, &stop).is_err());
    }
}
