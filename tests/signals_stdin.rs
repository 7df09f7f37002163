//! SIGINT/SIGTERM with `-file -` (a pipe that stays open): the first signal stops the
//! capture at once even while libpcap is blocked in read(2), and everything fed so far is
//! exported (exit status 0); a second signal exits at once with status 130, even when an
//! output is stuck. No capture privileges needed.
// Tests may read the clock (deadlines, complexity guards); clippy.toml keeps it out of
// the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn spawn(args: &[&str], out: &Path, stdout: Stdio) -> (Child, ChildStdin) {
    let mut child = Command::new(bin())
        .args(["-file", "-", "-hosts="])
        .args(args)
        .arg("-output-folder")
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

fn fixture() -> Vec<u8> {
    std::fs::read(repo().join("fixtures/generated-small.pcap")).unwrap()
}

fn key(s: &Seen) -> (String, String, i64, String, Vec<String>) {
    (
        s.connection.clone(),
        s.url.clone(),
        s.status,
        s.started.clone(),
        s.anomalies.clone(),
    )
}

/// The capture is blocked reading a quiet pipe when the signal comes: it must still stop
/// within 2 s and export every transaction fed, exactly as if the input had ended there.
fn one_signal_stops_a_blocked_stdin_read(sig: i32) {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference");
    run_file(
        &repo().join("fixtures/generated-small.pcap"),
        &reference,
        &[],
    );
    let expected: Vec<_> = read_entries(&reference).iter().map(key).collect();
    assert!(!expected.is_empty());

    let out = dir.path().join("signalled");
    let (mut child, mut stdin) = spawn(&[], &out, Stdio::null());
    stdin.write_all(&fixture()).unwrap();
    stdin.flush().unwrap();
    // Everything is in the pipe; wait until the capture has read it all and blocks on the
    // next record header (panics if it exited first). The pipe stays open (`stdin` is alive
    // until the end of the test).
    wait_reading_stdin(&mut child, Duration::from_secs(30));
    let sent = Instant::now();
    signal_pid(child.id(), sig);
    let status = exited_within(&mut child, Duration::from_secs(2));
    let Some(status) = status else {
        let _ = child.kill();
        panic!("still running 2 s after the signal: the blocked read was not interrupted");
    };
    let stderr = child.wait_with_output().unwrap().stderr;
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("warning"),
        "a stop is not damage: {stderr}"
    );
    eprintln!("exited {:?} after the signal", sent.elapsed());
    let got: Vec<_> = read_entries(&out).iter().map(key).collect();
    assert_eq!(got, expected, "the transactions fed before the signal");
    validate_har_dir(&out);
    drop(stdin);
}

#[test]
fn sigterm_stops_a_blocked_stdin_read_and_exports_what_was_fed() {
    one_signal_stops_a_blocked_stdin_read(libc::SIGTERM);
}

#[test]
fn sigint_stops_a_blocked_stdin_read_and_exports_what_was_fed() {
    one_signal_stops_a_blocked_stdin_read(libc::SIGINT);
}

/// Waits until `child` has taken what was fed (blocked reading more of stdin) or its
/// output already blocks it (writing stdout); panics if it exits instead. Without a view
/// of system calls, waits half a second.
fn wait_fed(child: &mut Child) {
    let pid = child.id();
    if !can_see_syscalls() {
        std::thread::sleep(Duration::from_millis(500));
        return;
    }
    wait_until(
        Duration::from_secs(30),
        "reading stdin or writing stdout",
        || {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("exited ({status}) before the first signal");
            }
            blocked_in(pid, &[libc::SYS_read], 0)
                || blocked_in(pid, &[libc::SYS_write, libc::SYS_writev], 1)
        },
    );
}

/// The first signal starts the drain; here the drain cannot finish (the ndjson processor
/// writes to a stdout pipe nobody reads, and one replay is larger than the pipe buffer).
/// The second signal must end the process at once, with status 130.
fn second_signal_exits_at_once(first: i32, second: i32) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (mut child, mut stdin) = spawn(&["-har-processors", "ndjson"], &out, Stdio::piped());
    let stdout = child.stdout.take().unwrap(); // kept open, never read
    stdin.write_all(&fixture()).unwrap();
    stdin.flush().unwrap();
    // Running: either it has read the whole fixture, or its output already blocks it.
    wait_fed(&mut child);
    // Taken, not merely sent: two SIGTERMs both pending are delivered as one.
    signal_and_wait_taken(&mut child, first, Duration::from_secs(30));
    // Past the window in which a second signal is the same stop (`timeout`'s two).
    std::thread::sleep(httshark::signals::SAME_STOP_WITHIN + Duration::from_millis(100));
    // Stuck on its output: the first signal cannot end it. Waits until it is seen blocked
    // writing stdout (panics if it exits instead: then the test would prove nothing).
    wait_writing_stdout(&mut child, Duration::from_secs(30));
    signal_pid(child.id(), second);
    let status = exited_within(&mut child, Duration::from_secs(2));
    let Some(status) = status else {
        let _ = child.kill();
        panic!("still running 2 s after the second signal");
    };
    assert_eq!(status.code(), Some(130));
    drop(stdout);
    drop(stdin);
}

#[test]
fn second_sigterm_exits_at_once_with_130() {
    second_signal_exits_at_once(libc::SIGTERM, libc::SIGTERM);
}

#[test]
fn sigint_then_sigterm_exits_at_once_with_130() {
    second_signal_exits_at_once(libc::SIGINT, libc::SIGTERM);
}

/// Only a pcap header was written and the pipe stays open: the signal still ends the run
/// promptly, with no output error and no warning.
#[test]
fn signal_with_only_a_header_fed_exits_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (mut child, mut stdin) = spawn(&[], &out, Stdio::null());
    stdin.write_all(&fixture()[..24]).unwrap();
    stdin.flush().unwrap();
    // Opened (the header is read) and waiting for the first record.
    wait_reading_stdin(&mut child, Duration::from_secs(30));
    signal_pid(child.id(), libc::SIGTERM);
    let Some(status) = exited_within(&mut child, Duration::from_secs(2)) else {
        let _ = child.kill();
        panic!("still running 2 s after SIGTERM");
    };
    let stderr = child.wait_with_output().unwrap().stderr;
    let stderr = String::from_utf8_lossy(&stderr);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("warning") && !stderr.contains("error"),
        "{stderr}"
    );
    drop(stdin);
}

/// `timeout 60 httshark ...`: the signal comes twice within microseconds (to the child,
/// then to its process group). That is one stop: with the drain held up (an ndjson pipe
/// nobody reads yet, as in `second_signal_exits_at_once`), a second signal within
/// `SAME_STOP_WITHIN` does not end the process, and once the pipe is read the run ends
/// normally (it used to quit at once, losing the outputs not yet written).
#[test]
fn a_signal_sent_twice_at_once_is_one_stop() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let (mut child, mut stdin) = spawn(&["-har-processors", "ndjson"], &out, Stdio::piped());
    let mut stdout = child.stdout.take().unwrap(); // not read until the end
    stdin.write_all(&fixture()).unwrap();
    stdin.flush().unwrap();
    let pid = child.id();
    wait_fed(&mut child);
    let first = Instant::now();
    signal_and_wait_taken(&mut child, libc::SIGTERM, Duration::from_secs(30));
    // The drain is held up writing stdout: the first signal cannot end the run yet.
    wait_writing_stdout(&mut child, Duration::from_secs(30));
    signal_pid(pid, libc::SIGTERM);
    let second = first.elapsed();
    if second >= httshark::signals::SAME_STOP_WITHIN {
        eprintln!("SKIPPED: the second signal went {second:?} after the first");
        let _ = child.kill();
        return;
    }
    std::thread::sleep(Duration::from_millis(200));
    if let Some(status) = child.try_wait().unwrap() {
        panic!("the second signal, {second:?} after the first, ended the run ({status})");
    }
    let mut lines = String::new();
    stdout.read_to_string(&mut lines).unwrap();
    let status = exited_within(&mut child, Duration::from_secs(10)).expect("exits");
    let stderr = child.wait_with_output().unwrap().stderr;
    assert_eq!(
        status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&stderr)
    );
    assert!(lines.lines().count() > 1, "the ndjson lines were written");
    drop(stdin);
}
