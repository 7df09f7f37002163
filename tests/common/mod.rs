//! Helpers shared by the whole-pipeline tests: run the built binary, read its HAR output.
#![allow(dead_code)]
// Tests may read the clock (deadlines, complexity guards); clippy.toml keeps it out of
// the library.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_httshark")
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The public corpus: `$HTTSHARK_CORPUS`, else `../shared/corpus` beside the repository.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("HTTSHARK_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared/corpus"));
    dir.join("MANIFEST.tsv").is_file().then_some(dir)
}

/// Runs httshark with `args`, returning its output (stdout, stderr, status).
pub fn run(args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .output()
        .expect("run httshark")
}

/// Runs httshark on `pcap` into `out` with everything in one file per export and all TCP
/// watched, the full counter table on stderr (`-counters`, for `summary_counters`); panics
/// with stderr when it fails.
pub fn run_file(pcap: &Path, out: &Path, extra: &[&str]) -> Output {
    let pcap = pcap.to_str().unwrap();
    let out_s = out.to_str().unwrap();
    let mut args = vec![
        "-file",
        pcap,
        "-output-folder",
        out_s,
        "-hosts=",
        "-counters",
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(
        o.status.success(),
        "httshark {:?} failed: {}\n{}",
        args,
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// One HAR entry, reduced to what tests compare.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub url: String,
    /// The request target as on the request line: `_requestTarget` when the HAR has it
    /// (asterisk-form, or a target the URL cannot hold), else recovered from the URL.
    pub target: String,
    pub host: Option<String>,
    pub status: i64,
    /// A response was seen (`response.httpVersion` is set): tells an HTTP/0.9 reply
    /// (status 0) from no reply at all.
    pub answered: bool,
    pub req_body: i64,
    pub resp_content: i64,
    pub resp_body: i64,
    pub anomalies: Vec<String>,
    pub client: String,
    pub server: String,
    pub connection: String,
    pub depth: i64,
    pub started: String,
    pub raw: Value,
}

/// The origin-form target of an HAR URL (other forms are in `_requestTarget`).
fn request_target(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    match rest.find(['/', '*', '?']) {
        Some(i) => rest[i..].to_string(),
        None => String::new(),
    }
}

/// Every entry of every `.har` file under `dir`, in a stable order (start time,
/// connection, depth).
pub fn read_entries(dir: &Path) -> Vec<Seen> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "har"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let v: Value = serde_json::from_slice(&std::fs::read(&f).unwrap())
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", f.display()));
        for e in v["log"]["entries"].as_array().expect("log.entries") {
            let req = &e["request"];
            let resp = &e["response"];
            let method = req["method"].as_str().unwrap_or("").to_string();
            let url = req["url"].as_str().unwrap_or("").to_string();
            let host = req["headers"]
                .as_array()
                .and_then(|h| {
                    h.iter().find(|h| {
                        h["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case("host"))
                    })
                })
                .and_then(|h| h["value"].as_str())
                .map(str::to_string);
            let target = e["_requestTarget"]
                .as_str()
                .map_or_else(|| request_target(&url), str::to_string);
            out.push(Seen {
                target,
                method,
                url,
                host,
                status: resp["status"].as_i64().unwrap_or(-2),
                answered: resp["httpVersion"].as_str().is_some_and(|v| !v.is_empty()),
                req_body: req["bodySize"].as_i64().unwrap_or(-2),
                resp_content: resp["content"]["size"].as_i64().unwrap_or(-2),
                resp_body: resp["bodySize"].as_i64().unwrap_or(-2),
                anomalies: e["_anomalies"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                client: format!(
                    "{}:{}",
                    e["_clientIPAddress"].as_str().unwrap_or(""),
                    e["_clientPort"]
                ),
                server: format!(
                    "{}:{}",
                    e["serverIPAddress"].as_str().unwrap_or(""),
                    e["_serverPort"]
                ),
                connection: e["connection"].as_str().unwrap_or("").to_string(),
                depth: e["_depth"].as_i64().unwrap_or(0),
                started: e["startedDateTime"].as_str().unwrap_or("").to_string(),
                raw: e.clone(),
            });
        }
    }
    out.sort_by(|a, b| {
        (a.started.as_str(), a.connection.as_str(), a.depth).cmp(&(
            b.started.as_str(),
            b.connection.as_str(),
            b.depth,
        ))
    });
    out
}

/// Runs the HAR 1.2 schema validator (npm har-validator) on every `.har` file in `dir`.
/// Without the validator installed: fails under CI, else prints a loud skip notice.
pub fn validate_har_dir(dir: &Path) {
    let validator = repo().join("tests/harvalidate");
    if !validator.join("node_modules").is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tests/harvalidate/node_modules is missing: .ci/run must install it (npm ci)"
        );
        eprintln!("SKIPPED HAR schema validation: run `npm ci` in tests/harvalidate");
        return;
    }
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "har"))
        .collect();
    assert!(!files.is_empty(), "no HAR files in {}", dir.display());
    let o = Command::new("node")
        .arg(validator.join("validate.js"))
        .args(&files)
        .output()
        .expect("run node");
    assert!(
        o.status.success(),
        "HAR schema validation failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

// ------------------------------------------------------------------ processes and signals

/// The tests run as root (CI does): live capture, namespaces, mounts, `-Z`.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Sends `sig` to process `pid`.
pub fn signal_pid(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started.
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// Waits up to `limit` for the child to exit; None when it is still running.
pub fn exited_within(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if start.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

// ------------------------------------------------------------------ readiness

/// Polls `ready` every 10 ms until it holds; panics naming `what` after `limit`. Tests wait
/// for something observable (a file, a stderr line, a blocked system call) with a generous
/// deadline instead of sleeping a fixed time and hoping.
pub fn wait_until(limit: std::time::Duration, what: &str, mut ready: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "not within {limit:?}: {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Whether `/proc/PID/task/TID/syscall` can tell what a thread is blocked in (Linux with
/// procfs, and the right to look at our own children).
pub fn can_see_syscalls() -> bool {
    std::fs::read_to_string("/proc/self/syscall").is_ok()
}

/// Whether some thread of process `pid` is blocked (asleep, not running) in one of the
/// system calls `calls` with `fd` as its first argument. A thread that is running shows
/// `running` there, so a match means the call really waits: a read on an empty pipe, a
/// write to a full one.
pub fn blocked_in(pid: u32, calls: &[i64], fd: u64) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        let text = std::fs::read_to_string(t.path().join("syscall")).unwrap_or_default();
        let mut f = text.split_whitespace();
        let nr = f.next().and_then(|n| n.parse::<i64>().ok());
        let arg0 = f
            .next()
            .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok());
        matches!((nr, arg0), (Some(n), Some(a)) if calls.contains(&n) && a == fd)
    })
}

/// Waits until `child` is blocked reading its standard input (the pipe the test feeds):
/// everything written so far has been read, every packet in it handed on, and the capture
/// loop waits for more. Panics if the child exits first or after `limit`. Without procfs
/// syscall information (not Linux) it falls back to a fixed second.
pub fn wait_reading_stdin(child: &mut std::process::Child, limit: std::time::Duration) {
    wait_blocked(
        child,
        &[libc::SYS_read],
        0,
        limit,
        "blocked reading standard input",
    );
}

/// Waits until `child` is blocked writing its standard output (a pipe nobody reads).
pub fn wait_writing_stdout(child: &mut std::process::Child, limit: std::time::Duration) {
    wait_blocked(
        child,
        &[libc::SYS_write, libc::SYS_writev],
        1,
        limit,
        "blocked writing standard output",
    );
}

fn wait_blocked(
    child: &mut std::process::Child,
    calls: &[i64],
    fd: u64,
    limit: std::time::Duration,
    what: &str,
) {
    if !can_see_syscalls() {
        eprintln!("note: no /proc/PID/syscall here; waiting a fixed second for: {what}");
        std::thread::sleep(std::time::Duration::from_secs(1));
        return;
    }
    let pid = child.id();
    wait_until(limit, what, || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("httshark exited ({status}) before it was {what}");
        }
        blocked_in(pid, calls, fd)
    });
}

/// Whether signal `sig` is still pending for process `pid` (sent, not yet taken by a
/// thread): the `ShdPnd` and `SigPnd` masks of /proc/PID/status and of every thread.
pub fn signal_pending(pid: u32, sig: i32) -> bool {
    let bit = 1u64 << (sig - 1);
    let pending = |status: &str| {
        status.lines().any(|l| {
            let Some((name, mask)) = l.split_once(':') else {
                return false;
            };
            (name == "ShdPnd" || name == "SigPnd")
                && u64::from_str_radix(mask.trim(), 16).is_ok_and(|m| m & bit != 0)
        })
    };
    let main = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task"));
    pending(&main)
        || tasks
            .into_iter()
            .flatten()
            .flatten()
            .any(|t| pending(&std::fs::read_to_string(t.path().join("status")).unwrap_or_default()))
}

/// Sends `sig` and waits until a thread of `child` has taken it (it is no longer pending),
/// so that a second signal sent next is not merged with it (a standard signal sent twice
/// before delivery is delivered once). Without procfs it waits a fixed second.
pub fn signal_and_wait_taken(
    child: &mut std::process::Child,
    sig: i32,
    limit: std::time::Duration,
) {
    let pid = child.id();
    signal_pid(pid, sig);
    if !std::path::Path::new("/proc/self/status").exists() {
        std::thread::sleep(std::time::Duration::from_secs(1));
        return;
    }
    wait_until(limit, &format!("signal {sig} taken"), || {
        child.try_wait().unwrap().is_some() || !signal_pending(pid, sig)
    });
}

/// A child's standard error, read by a thread as it comes, so a test can wait for a line
/// (and the child never blocks on a full stderr pipe).
pub struct StderrWatch {
    text: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl StderrWatch {
    /// Takes `child`'s piped stderr.
    pub fn new(child: &mut std::process::Child) -> StderrWatch {
        use std::io::Read;
        let mut pipe = child.stderr.take().expect("stderr piped");
        let text = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&text);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        StderrWatch {
            text,
            reader: Some(reader),
        }
    }

    /// What the child wrote so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.text.lock().unwrap()).into_owned()
    }

    /// Waits until stderr holds `needle`; panics with what it holds if the child exits
    /// first or after `limit`.
    pub fn wait_for(
        &self,
        child: &mut std::process::Child,
        needle: &str,
        limit: std::time::Duration,
    ) {
        let start = std::time::Instant::now();
        while !self.text().contains(needle) {
            if let Some(status) = child.try_wait().unwrap() {
                // The last bytes may still be on their way through the pipe.
                std::thread::sleep(std::time::Duration::from_millis(100));
                assert!(
                    self.text().contains(needle),
                    "httshark exited ({status}) without writing {needle:?}: {}",
                    self.text()
                );
                return;
            }
            assert!(
                start.elapsed() < limit,
                "no {needle:?} on stderr within {limit:?}: {}",
                self.text()
            );
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Everything the child wrote, once it has exited (the pipe is at its end).
    pub fn finish(mut self) -> String {
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        self.text()
    }
}

// ------------------------------------------------------------------ ground truth

/// The client of a ground-truth transaction as HAR writes it.
pub fn client_key(tx: &httshark_gen::ExpectedTx) -> String {
    // HAR has IPv6 without brackets.
    format!("{}:{}", tx.client.ip(), tx.client.port())
}

/// Everything the ground truth states about one transaction.
pub fn check_exact(tx: &httshark_gen::ExpectedTx, s: &Seen) -> Result<(), String> {
    let e = &s.raw;
    let mut bad = Vec::new();
    let mut eq = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!("{what}: got {got}, want {want}"));
        }
    };
    eq("method", s.method.clone(), tx.method.clone());
    eq("host", s.host.clone().unwrap_or_default(), tx.host.clone());
    eq("uri", s.target.clone(), tx.uri.clone());
    eq(
        "req headersSize",
        e["request"]["headersSize"].to_string(),
        tx.req_head_len.to_string(),
    );
    eq(
        "req bodySize",
        e["request"]["bodySize"].to_string(),
        tx.req_body_len.to_string(),
    );
    match tx.status {
        Some(status) => {
            eq("status", s.status.to_string(), status.to_string());
            eq(
                "resp headersSize",
                e["response"]["headersSize"].to_string(),
                tx.resp_head_len.to_string(),
            );
            eq(
                "content.size",
                s.resp_content.to_string(),
                tx.resp_body_len.to_string(),
            );
            let wire = tx.req_head_len
                + tx.req_wire_body_len
                + tx.resp_interim_len
                + tx.resp_head_len
                + tx.resp_wire_body_len;
            eq("_wireBytes", e["_wireBytes"].to_string(), wire.to_string());
        }
        None => {
            eq("status", s.status.to_string(), "0".into());
            if !s.anomalies.iter().any(|a| a.starts_with("unanswered")) {
                bad.push(format!("no unanswered flag: {:?}", s.anomalies));
            }
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} {} (client {} depth {}): {}",
            tx.method,
            tx.uri,
            tx.client,
            tx.depth,
            bad.join("; ")
        ))
    }
}

// ------------------------------------------------------------------ exit summary

/// The `httshark: name  value` counter lines of the exit summary (printed with
/// `-counters` or `-verbose` 3 and up).
pub fn summary_counters(stderr: &str) -> std::collections::HashMap<String, u64> {
    stderr
        .lines()
        .filter_map(|l| {
            let mut f = l.strip_prefix("httshark: ")?.split_whitespace();
            let (name, value) = (f.next()?, f.next()?);
            match (f.next(), value.parse()) {
                (None, Ok(v)) => Some((name.to_string(), v)),
                _ => None,
            }
        })
        .collect()
}

/// One counter of the exit summary (0 when absent).
pub fn summary_counter(stderr: &str, name: &str) -> u64 {
    summary_counters(stderr).get(name).copied().unwrap_or(0)
}

/// A free port below the kernel's ephemeral range (32768 and up by default). A port the
/// kernel picked for a listener is one it may also hand out as the source port of another
/// connection (the tests beside this one make some) before httshark binds it: the bind
/// then fails, or a poll connects to that socket or to itself (both seen in CI). Each call
/// starts further on, so two tests of one binary do not get the same port.
pub fn free_port() -> u16 {
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let start = (std::process::id().wrapping_mul(7).wrapping_add(call * 101)) % 10_000;
    (0..10_000u32)
        .map(|i| 20_000 + ((start + i) % 10_000) as u16)
        .find(|&p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("a free port in 20000-29999")
}
