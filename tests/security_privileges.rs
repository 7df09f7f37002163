//! `-Z USER` end to end. Refusals (unknown user, root, not root and not USER) exit 2 with
//! one line before anything is read or written. As root: a replay of
//! `fixtures/real-curl.pcap` with `-Z nobody` completes and every file it wrote, and the
//! folders it created, belong to nobody (so the process really ran as nobody when it
//! wrote them), while an existing folder nobody can't write is refused before capture.
//! The root-only cases print a message and pass when not run as root.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use httshark::privileges::User;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_httshark")
}

fn pcap() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/real-curl.pcap")
}

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

fn run(cwd: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run httshark")
}

fn assert_refused(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("httshark: "), "{stderr}");
    assert!(stderr.contains(needle), "'{stderr}' lacks '{needle}'");
    assert!(out.stdout.is_empty());
}

/// A temporary folder other users can traverse (tempfile makes it 0700).
fn open_tempdir() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    fs::set_permissions(t.path(), fs::Permissions::from_mode(0o755)).unwrap();
    t
}

#[test]
fn unknown_user_is_refused_before_capture() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap();
    let file = pcap();
    let file = file.to_str().unwrap();
    for args in [
        vec!["-Z", "nosuchuser", "-file", file, "-output-folder", out_s],
        vec!["-file", file, "-output-folder", out_s, "-Z=nosuchuser"],
        vec![
            "-file",
            file,
            "-output-folder",
            out_s,
            "-relinquish-privileges",
            "nosuchuser",
        ],
    ] {
        assert_refused(&run(tmp.path(), &args), "-Z nosuchuser: no such user");
        assert!(!out.exists(), "{args:?}: output folder created");
    }
    assert_refused(
        &run(
            tmp.path(),
            &["-Z", "root", "-file", file, "-output-folder", out_s],
        ),
        "uid 0",
    );
    assert_refused(
        &run(tmp.path(), &["-Z=", "-file", file, "-output-folder", out_s]),
        "-Z",
    );
    assert!(!out.exists());
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn drops_to_nobody_and_writes_as_nobody() {
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root: -Z must be tested"
        );
        eprintln!("SKIPPED drops_to_nobody_and_writes_as_nobody: needs root");
        return;
    }
    let nobody = User::lookup("nobody").unwrap();
    let tmp = open_tempdir();
    let out = tmp.path().join("out/har");
    let stats = tmp.path().join("stats");
    let o = run(
        tmp.path(),
        &[
            "-Z",
            "nobody",
            "-file",
            pcap().to_str().unwrap(),
            "-hosts=",
            "-output-folder",
            out.to_str().unwrap(),
            "-har-processors",
            "file,sites-stats",
            "-sites-stats-file",
            stats.join("sites.csv").to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // Folders this run created were handed over; the existing parent was not.
    for dir in [tmp.path().join("out"), out.clone(), stats.clone()] {
        let m = fs::metadata(&dir).unwrap();
        assert_eq!((m.uid(), m.gid()), (nobody.uid, nobody.gid), "{dir:?}");
    }
    assert_eq!(fs::metadata(tmp.path()).unwrap().uid(), 0);
    let hars: Vec<PathBuf> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "har"))
        .collect();
    assert!(!hars.is_empty(), "no HAR files; stderr: {stderr}");
    for f in hars.iter().chain([&stats.join("sites.csv")]) {
        let m = fs::metadata(f).unwrap();
        // Created after the drop: owned by nobody, which only a process running as
        // nobody can do without a chown.
        assert_eq!(m.uid(), nobody.uid, "{f:?} not written by nobody");
    }
    for f in &hars {
        assert_eq!(fs::metadata(f).unwrap().mode() & 0o777, 0o600, "{f:?}");
        let text = fs::read_to_string(f).unwrap();
        assert!(text.contains("\"entries\":["), "{f:?}");
    }
}

#[test]
fn existing_folder_nobody_cannot_write_is_refused_before_capture() {
    if !is_root() {
        eprintln!(
            "SKIPPED existing_folder_nobody_cannot_write_is_refused_before_capture: needs root"
        );
        return;
    }
    let tmp = open_tempdir();
    let out = tmp.path().join("rootonly");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o755)).unwrap();
    let o = run(
        tmp.path(),
        &[
            "-Z",
            "nobody",
            "-file",
            pcap().to_str().unwrap(),
            "-hosts=",
            "-output-folder",
            out.to_str().unwrap(),
        ],
    );
    assert_refused(&o, "-output-folder '");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("not writable by nobody after -Z"),
        "{stderr}"
    );
    // Never chowned, and nothing captured into it.
    assert_eq!(fs::metadata(&out).unwrap().uid(), 0);
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0);
}

/// Not root: `-Z` is accepted only for the user the process already is. As root this is
/// checked by running the binary as nobody.
#[test]
fn without_root_only_the_current_user_is_accepted() {
    let tmp = open_tempdir();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
    let (me, other, as_uid) = if is_root() {
        let nobody = User::lookup("nobody").unwrap();
        let other = ["daemon", "bin", "sys"]
            .into_iter()
            .find_map(|n| User::lookup(n).ok().filter(|u| u.uid != nobody.uid));
        (nobody, other, Some(()))
    } else {
        let uid = unsafe { libc::getuid() };
        let name = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_string();
        let me = User::lookup(&name).unwrap();
        assert_eq!(me.uid, uid);
        (
            me,
            User::lookup("nobody").ok().filter(|u| u.uid != uid),
            None,
        )
    };
    let run_as = |user: &str| {
        let mut c = Command::new(bin());
        c.args([
            "-Z",
            user,
            "-file",
            pcap().to_str().unwrap(),
            "-hosts=",
            "-output-folder",
            out.to_str().unwrap(),
        ])
        .current_dir(tmp.path());
        if as_uid.is_some() {
            c.gid(me.gid).uid(me.uid);
        }
        c.output().unwrap()
    };
    let o = run_as(&me.name);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    match other {
        Some(other) => {
            let o = run_as(&other.name);
            assert_refused(&o, "not running as root");
            assert!(String::from_utf8_lossy(&o.stderr).contains(&other.name));
        }
        None => eprintln!("SKIPPED the refusal half: no second unprivileged user"),
    }
}
