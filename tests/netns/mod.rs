#![allow(dead_code)] // Each live test uses part of the lab.
//! A pair of network namespaces joined by a veth pair for live tests: tests/live/server.py
//! (plain or TLS) on one side, clients and httshark on the other, cleaned up on drop.
//!
//! Included by the live namespace tests with `mod netns;` (next to `mod common;`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;

/// Whether a lab test must be skipped: it needs root, the `tools` on PATH and the
/// Python `modules`. Outside CI a missing need skips the test with a message naming
/// `test`; CI runs as root with all of them (`.ci/run` installs them), so there a missing
/// need fails it.
pub fn skip_lab(test: &str, tools: &[&str], modules: &[&str]) -> bool {
    let found = |cmd: &mut Command| {
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let tools_found = tools.iter().all(|t| found(Command::new("which").arg(t)));
    let modules_found = modules
        .iter()
        .all(|m| found(Command::new("python3").args(["-c", &format!("import {m}")])));
    if is_root() && tools_found && modules_found {
        return false;
    }
    let mut needs = format!("root, {}", tools.join(", "));
    if !modules.is_empty() {
        needs += &format!(" and the Python modules {}", modules.join(", "));
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs the {test} test with {needs} (.ci/run installs them)"
    );
    eprintln!("SKIPPED {test} test: needs {needs}");
    true
}

/// The server's port in every lab.
pub const PORT: u16 = 8080;

pub fn ip(args: &[&str]) {
    let o = Command::new("ip").args(args).output().unwrap();
    assert!(
        o.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A client and a server namespace joined by a veth pair, and the processes started in
/// them. Dropping it (also on panic) kills every process group it started and deletes the
/// namespaces (which deletes the veth pair).
pub struct Lab {
    pub srv: String,
    pub cli: String,
    /// The client's end of the veth pair (where httshark captures).
    pub ifname: String,
    pub server_addr: String,
    pub dir: tempfile::TempDir,
    pub groups: Vec<Child>,
    pub httshark: Option<Child>,
    /// httshark's stderr, read as it comes.
    pub stderr: Option<StderrWatch>,
    /// The server speaks HTTPS (`start_tls_server`).
    pub tls: bool,
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(mut c) = self.httshark.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for c in &mut self.groups {
            // Each was started as the leader of its own process group: curl children of
            // a shell loop go too.
            unsafe {
                libc::kill(-(c.id() as i32), libc::SIGKILL);
            }
            let _ = c.wait();
        }
        for ns in [&self.cli, &self.srv] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Lab {
    /// A new lab; `tag` (two letters) names its namespaces and interfaces, `net` is the
    /// second byte of its 10.x.y.0/24 networks (one per test binary, so binaries running
    /// at once do not collide).
    pub fn new(tag: &str, net: u8) -> Lab {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let lab = Lab {
            srv: format!("hs{tag}-{pid}-{n}-srv"),
            cli: format!("hs{tag}-{pid}-{n}-cli"),
            // Interface names: at most 15 bytes (pid <= 7 digits).
            ifname: format!("{tag}{pid}a{n}"),
            server_addr: format!("10.{net}.{}.2", n % 250),
            dir: tempfile::tempdir().unwrap(),
            groups: Vec::new(),
            httshark: None,
            stderr: None,
            tls: false,
        };
        // The guard exists before anything is created: a failure below still cleans up.
        let peer = format!("{tag}{pid}b{n}");
        let client_addr = format!("10.{net}.{}.1/24", n % 250);
        let server_cidr = format!("{}/24", lab.server_addr);
        ip(&["netns", "add", &lab.srv]);
        ip(&["netns", "add", &lab.cli]);
        ip(&[
            "link",
            "add",
            &lab.ifname,
            "type",
            "veth",
            "peer",
            "name",
            &peer,
        ]);
        ip(&["link", "set", &lab.ifname, "netns", &lab.cli]);
        ip(&["link", "set", &peer, "netns", &lab.srv]);
        ip(&[
            "-n",
            &lab.cli,
            "addr",
            "add",
            &client_addr,
            "dev",
            &lab.ifname,
        ]);
        ip(&["-n", &lab.srv, "addr", "add", &server_cidr, "dev", &peer]);
        for (ns, dev) in [(&lab.cli, &lab.ifname), (&lab.srv, &peer)] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            // Wire-sized segments, as on a real NIC (as scripts/netns-capture.sh does).
            let _ = Command::new("ip")
                .args(["netns", "exec", ns, "ethtool", "-K", dev])
                .args(["tso", "off", "gso", "off", "gro", "off"])
                .output();
        }
        lab
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}:{PORT}", self.server_addr)
    }

    pub fn in_ns(ns: &str, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]);
        c
    }

    /// Starts `cmd` as the leader of a new process group, killed when the lab drops.
    pub fn spawn_group(&mut self, mut cmd: Command) -> usize {
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.groups.push(child);
        self.groups.len() - 1
    }

    /// Starts tests/live/server.py in the server namespace and waits until it accepts.
    pub fn start_server(&mut self) {
        self.start_server_with(&[]);
    }

    /// The same server over TLS, with a throwaway self-signed certificate made here.
    pub fn start_tls_server(&mut self) {
        let (cert, key) = (self.path("cert.pem"), self.path("key.pem"));
        let o = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args([
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=lab",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        self.tls = true;
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        self.start_server_with(&[&cert, &key]);
    }

    fn start_server_with(&mut self, extra: &[&str]) {
        std::fs::write(self.path("server.tsv"), "").unwrap();
        let mut c = Lab::in_ns(&self.srv, "python3");
        c.arg(repo().join("tests/live/server.py"))
            .arg(&self.server_addr)
            .arg(PORT.to_string())
            .arg(self.path("server.tsv"))
            .args(extra);
        self.spawn_group(c);
        let probe = format!("exec 3<>/dev/tcp/{}/{PORT}", self.server_addr);
        let start = Instant::now();
        loop {
            let ok = Lab::in_ns(&self.cli, "bash")
                .args(["-c", &probe])
                .stderr(Stdio::null())
                .status()
                .unwrap()
                .success();
            if ok {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "server not up");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts httshark in the client namespace, capturing on the client's veth, and waits
    /// until its capture runs (its first live stats line).
    pub fn start_httshark(&mut self, processors: &str, stdout: Stdio) -> &mut Child {
        self.start_httshark_with(processors, stdout, &[])
    }

    /// As `start_httshark`, with more flags.
    pub fn start_httshark_with(
        &mut self,
        processors: &str,
        stdout: Stdio,
        extra: &[String],
    ) -> &mut Child {
        let out = self.path("out");
        let mut c = Lab::in_ns(&self.cli, bin());
        c.args(["-device", &self.ifname])
            .args(["-hosts", &format!("{}:{PORT}", self.server_addr)])
            .args(["-har-processors", processors])
            .args(["-export-interval=1s", "-stats-interval=1s", "-verbose=3"])
            .arg("-output-folder")
            .arg(&out)
            .arg("-sites-stats-file")
            .arg(out.join("statistics.csv"))
            .arg("-requests-sizes-stats-file")
            .arg(out.join("requests_sizes.csv"))
            .arg("-responses-sizes-stats-file")
            .arg(out.join("responses_sizes.csv"))
            .args(extra)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let pid = child.id();
        let stderr = StderrWatch::new(&mut child);
        self.httshark = Some(child);
        // `ip netns exec` execs the program: the pid is httshark's. Its packet socket shows
        // in /proc/PID/net/packet (the namespace's) once the capture is open.
        let start = Instant::now();
        loop {
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let sockets = std::fs::read_to_string(format!("/proc/{pid}/net/packet"))
                .map(|t| t.lines().count().saturating_sub(1))
                .unwrap_or(0);
            if comm.trim() == "httshark" && sockets > 0 {
                break;
            }
            let h = self.httshark.as_mut().unwrap();
            if let Some(status) = h.try_wait().unwrap() {
                panic!("httshark exited at start ({status}): {}", stderr.text());
            }
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "no capture socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // The BPF filter is attached after the socket is opened; the pipeline starts (and
        // prints its stats line every second, -stats-interval=1s) only once it is.
        let h = self.httshark.as_mut().unwrap();
        stderr.wait_for(h, "httshark: stats ", Duration::from_secs(30));
        self.stderr = Some(stderr);
        self.httshark.as_mut().unwrap()
    }
}

/// One exchange of tests/live/server.py's log.
#[derive(Debug)]
pub struct Logged {
    pub method: String,
    pub target: String,
    pub status: i64,
    pub req_len: i64,
    pub resp_len: i64,
    /// Wall time when the response had been handed to the socket.
    pub sent: f64,
}

/// The complete lines of the server log (a line being written is ignored).
pub fn read_log(path: &Path) -> Vec<Logged> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .map(|l| {
            let f: Vec<&str> = l.trim_end().split('\t').collect();
            assert_eq!(f.len(), 6, "server log line {l:?}");
            Logged {
                method: f[0].into(),
                target: f[1].into(),
                status: f[2].parse().unwrap(),
                req_len: f[3].parse().unwrap(),
                resp_len: f[4].parse().unwrap(),
                sent: f[5].parse().unwrap(),
            }
        })
        .collect()
}
