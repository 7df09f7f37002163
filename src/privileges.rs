//! `-Z USER`: give up root once the capture handle and the outputs are open, as tcpdump's
//! `-Z` does.
//!
//! A packet parser is the part of a sniffer most exposed to hostile input; it should not
//! run as root. Opening a live capture needs root (or CAP_NET_RAW), and binding a low
//! metrics port may too, so the binary opens those first and then calls [`drop_to`]:
//!
//! 1. the folders httshark itself created for this run's outputs (they did not exist
//!    before [`missing_folders`] looked) are handed to USER with `chown`, so the HAR and
//!    CSV files written later can be created in them. Folders that already existed are
//!    never chowned (`-output-folder .` must not give the current directory away); USER
//!    must already be able to write them, which step 4 checks;
//! 2. the supplementary groups become USER's (`initgroups`), then `setgid`, then `setuid`
//!    (in that order: once the uid is not 0 the gid can no longer be changed);
//! 3. the drop is verified: real and effective uid and gid are USER's, `setuid(0)` fails,
//!    and on Linux every thread of the process (`/proc/self/task/*/status`) runs as USER;
//! 4. every folder an output writes into later is probed by creating and removing a file,
//!    as USER.
//!
//! Any failure is fatal before a packet is read (exit status 2, one line). USER is looked
//! up ([`User::lookup`]) while the command line is checked, so a misspelt name never costs
//! a capture; [`check_can_become`] refuses `-Z` early when not root and not already USER.
//!
//! What it does not do: chroot, drop capabilities of a non-root process, or sandbox system
//! calls. Files opened before the drop (the capture, an `-ndjson-file`, the metrics
//! socket) stay open with root's rights; that is the point.

use std::ffi::CString;
use std::fs;
use std::path::PathBuf;

/// Largest buffer `getpwnam_r` is given (it starts at the system's suggestion and doubles
/// on ERANGE): a passwd entry longer than this is refused rather than chased forever.
pub const MAX_PASSWD_BUFFER: usize = 1 << 20;

/// The user named by `-Z`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl User {
    /// Resolves `name` with `getpwnam_r` (the name only: a number is not taken as a uid,
    /// as in tcpdump). Refuses an unknown user and root itself (uid 0: nothing would be
    /// given up). Errors are one line naming `-Z`.
    pub fn lookup(name: &str) -> Result<User, String> {
        if name.is_empty() {
            return Err("-Z: the user name is empty".to_string());
        }
        let c_name =
            CString::new(name).map_err(|_| format!("-Z {name:?}: NUL byte in the user name"))?;
        // SAFETY: sysconf takes a constant and touches no memory of ours.
        let mut size = match unsafe { libc::sysconf(libc::_SC_GETPW_R_SIZE_MAX) } {
            n if n > 0 => usize::try_from(n).unwrap_or(1024).min(MAX_PASSWD_BUFFER),
            _ => 1024,
        };
        loop {
            let mut buf: Vec<libc::c_char> = vec![0; size];
            // SAFETY: `pwd` is plain data filled by getpwnam_r; `buf` outlives every use of
            // the pointers it holds (only pw_uid/pw_gid are read, before `buf` is dropped).
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: `c_name` is NUL-terminated, `pwd` and `result` are live locals, and
            // `buf.len()` is the true size of `buf`, which getpwnam_r never writes past.
            let rc = unsafe {
                libc::getpwnam_r(
                    c_name.as_ptr(),
                    &mut pwd,
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut result,
                )
            };
            if rc == libc::ERANGE && size < MAX_PASSWD_BUFFER {
                size = (size * 2).min(MAX_PASSWD_BUFFER);
                continue;
            }
            if rc != 0 {
                return Err(format!(
                    "-Z {name}: can't look the user up: {}",
                    std::io::Error::from_raw_os_error(rc)
                ));
            }
            if result.is_null() {
                return Err(format!("-Z {name}: no such user"));
            }
            let user = User {
                name: name.to_string(),
                uid: pwd.pw_uid,
                gid: pwd.pw_gid,
            };
            if user.uid == 0 {
                return Err(format!(
                    "-Z {name}: that is root (uid 0); name an unprivileged user such as nobody"
                ));
            }
            return Ok(user);
        }
    }
}

/// Checked before the capture opens: as root anything goes; otherwise `-Z` is only
/// accepted when the process already runs as USER (a no-op, as tcpdump allows).
pub fn check_can_become(user: &User) -> Result<(), String> {
    // SAFETY: getuid/geteuid take no arguments and cannot fail.
    let (uid, euid) = unsafe { (libc::getuid(), libc::geteuid()) };
    if euid == 0 || (uid == user.uid && euid == user.uid) {
        Ok(())
    } else {
        Err(format!(
            "-Z {}: not running as root (uid {euid}), so can't become {} (uid {})",
            user.name, user.name, user.uid
        ))
    }
}

/// The folders (each listed folder and its missing ancestors) that do not exist yet:
/// called before the outputs are prepared, it tells which folders httshark is about to
/// create and may therefore hand to USER. Outermost first, so `chown` follows creation.
pub fn missing_folders(folders: &[(&'static str, PathBuf)]) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for (_, dir) in folders {
        for d in crate::output::missing_ancestors(dir) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

/// Steps 1 to 4 of the module docs. `created` comes from [`missing_folders`] (taken
/// before the outputs were prepared), `folders` from `Config::output_folders`.
pub fn drop_to(
    user: &User,
    created: &[PathBuf],
    folders: &[(&'static str, PathBuf)],
) -> Result<(), String> {
    // SAFETY: geteuid takes no arguments and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        check_can_become(user)?;
        return probe_folders(user, folders);
    }
    for dir in created {
        // Only real folders, not a symlink planted meanwhile (lchown semantics).
        match fs::symlink_metadata(dir) {
            Ok(m) if m.is_dir() => {}
            _ => continue,
        }
        std::os::unix::fs::lchown(dir, Some(user.uid), Some(user.gid)).map_err(|e| {
            format!(
                "-Z {}: can't hand '{}' to {}: {e}",
                user.name,
                dir.display(),
                user.name
            )
        })?;
    }
    let c_name = CString::new(user.name.as_str())
        .map_err(|_| format!("-Z {:?}: NUL byte in the user name", user.name))?;
    // initgroups' group argument is gid_t on Linux, int on some BSDs and macOS.
    #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
    let group = user.gid as _;
    // Each call's failure comes back as its return value, checked in the loop below.
    let steps: [(&str, &dyn Fn() -> libc::c_int); 3] = [
        // SAFETY: `c_name` is NUL-terminated and outlives the loop that calls this.
        ("initgroups", &|| unsafe {
            libc::initgroups(c_name.as_ptr(), group)
        }),
        // SAFETY: a system call on an integer; touches no memory of ours.
        ("setgid", &|| unsafe { libc::setgid(user.gid) }),
        // SAFETY: as for setgid.
        ("setuid", &|| unsafe { libc::setuid(user.uid) }),
    ];
    for (what, call) in steps {
        if call() != 0 {
            return Err(format!(
                "-Z {}: {what} failed: {}",
                user.name,
                std::io::Error::last_os_error()
            ));
        }
    }
    verify(user)?;
    probe_folders(user, folders)
}

/// Step 3: refuses to go on unless the process really is USER and can't get root back.
fn verify(user: &User) -> Result<(), String> {
    // SAFETY: the four id getters take no arguments and cannot fail.
    let ids = unsafe {
        (
            libc::getuid(),
            libc::geteuid(),
            libc::getgid(),
            libc::getegid(),
        )
    };
    if ids != (user.uid, user.uid, user.gid, user.gid) {
        return Err(format!(
            "-Z {}: still uid {}/{} gid {}/{} after dropping privileges; refusing to go on",
            user.name, ids.0, ids.1, ids.2, ids.3
        ));
    }
    // SAFETY: setuid on an integer; success is exactly what this check refuses.
    if unsafe { libc::setuid(0) } == 0 {
        return Err(format!(
            "-Z {}: setuid(0) succeeded after the drop; refusing to go on as root",
            user.name
        ));
    }
    if let Some(t) = threads_not_as(user.uid) {
        return Err(format!(
            "-Z {}: thread {t} still runs as another user; refusing to go on",
            user.name
        ));
    }
    Ok(())
}

/// Linux: the first thread whose real, effective, saved or filesystem uid is not `uid`
/// (setuid is per thread in the kernel; libc applies it to every thread, this checks it).
#[cfg(target_os = "linux")]
fn threads_not_as(uid: u32) -> Option<String> {
    let tasks = fs::read_dir("/proc/self/task").ok()?;
    for task in tasks.flatten() {
        let Ok(status) = fs::read_to_string(task.path().join("status")) else {
            continue; // the thread ended meanwhile
        };
        let uids: Vec<&str> = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .map(|l| l.split_whitespace().collect())
            .unwrap_or_default();
        if uids.len() != 4 || uids.iter().any(|u| u.parse::<u32>() != Ok(uid)) {
            return Some(task.file_name().to_string_lossy().into_owned());
        }
    }
    None
}

#[cfg(not(target_os = "linux"))]
fn threads_not_as(_uid: u32) -> Option<String> {
    None
}

/// Step 4: every output folder takes a new file as the current (dropped) user.
fn probe_folders(user: &User, folders: &[(&'static str, PathBuf)]) -> Result<(), String> {
    for (flag, dir) in folders {
        let probe = dir.join(format!(".httshark-probe-{}", std::process::id()));
        let made = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .and_then(|_| fs::remove_file(&probe));
        if let Err(e) = made {
            return Err(format!(
                "{flag} '{}' is not writable by {} after -Z: {e} (it existed before this run, so it was not chowned; make it writable by {} or choose another)",
                dir.display(),
                user.name,
                user.name
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_users_and_refuses_the_rest() {
        assert_eq!(User::lookup("").unwrap_err(), "-Z: the user name is empty");
        assert_eq!(
            User::lookup("no-such-user-httshark").unwrap_err(),
            "-Z no-such-user-httshark: no such user"
        );
        assert!(User::lookup("a\0b").unwrap_err().contains("NUL"));
        assert!(User::lookup("root").unwrap_err().contains("uid 0"));
        // `nobody` exists on every Linux and BSD this builds on.
        let n = User::lookup("nobody").unwrap();
        assert_ne!(n.uid, 0);
        assert_eq!(n.name, "nobody");
    }

    #[test]
    fn can_become_self_but_not_another_unless_root() {
        // SAFETY: getuid/getgid/geteuid take no arguments and cannot fail.
        let me = User {
            name: "me".into(),
            uid: unsafe { libc::getuid() },
            gid: unsafe { libc::getgid() },
        };
        assert!(check_can_become(&me).is_ok());
        let other = User {
            name: "other".into(),
            uid: me.uid.wrapping_add(12345),
            gid: 1,
        };
        let r = check_can_become(&other);
        // SAFETY: geteuid takes no arguments and cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            assert!(r.is_ok());
        } else {
            assert!(r.unwrap_err().contains("not running as root"));
        }
    }

    #[test]
    fn missing_folders_lists_what_will_be_created_outermost_first() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path();
        fs::create_dir(base.join("exists")).unwrap();
        let folders = vec![
            ("-output-folder", base.join("exists")),
            ("-sampled-transactions-folder", base.join("a/b/c")),
            ("-sites-stats-file", base.join("a/b/d")),
        ];
        assert_eq!(
            missing_folders(&folders),
            [
                base.join("a"),
                base.join("a/b"),
                base.join("a/b/c"),
                base.join("a/b/d")
            ]
        );
        assert!(missing_folders(&[("-output-folder", PathBuf::from("."))]).is_empty());
    }

    #[test]
    fn probe_names_the_flag_and_user() {
        let tmp = tempfile::tempdir().unwrap();
        let u = User {
            name: "u".into(),
            uid: 1,
            gid: 1,
        };
        probe_folders(&u, &[("-output-folder", tmp.path().to_path_buf())]).unwrap();
        let e = probe_folders(&u, &[("-output-folder", tmp.path().join("missing"))]).unwrap_err();
        assert!(
            e.starts_with("-output-folder '") && e.contains("not writable by u"),
            "{e}"
        );
    }
}
