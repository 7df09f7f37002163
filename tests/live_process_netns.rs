//! Process attribution live (issue 15), in network namespaces this test creates: curl, a
//! Python client and its forked child make HTTP and HTTPS requests to the lab's servers
//! (tests/live/server.py over TLS on 8080, Python's http.server on 8081).
//!
//! - Every request is attributed to the pid and command that made it (HAR `_process`),
//!   HTTPS decrypted from the clients' SSLKEYLOGFILE.
//! - `httshark -- COMMAND`: exactly COMMAND's tree's requests are shown (a client looping
//!   in the same namespace is not), HTTPS decrypted through the private key log httshark
//!   sets, COMMAND's exit status passed through; under sudo it runs as SUDO_UID.
//! - Short connections: over 1,000 loopback connections of under a millisecond; the share
//!   attributed is printed, and no connection is attributed to a wrong process.
//! - `-process PID`: that process's tree only.
//! - The process shows in NDJSON, the console's `--->` line, `-stats-group-by process`
//!   and the web view (its rows and its `process:` filter).
//! - Ctrl-C stops COMMAND and httshark; without root, `cap_net_raw,cap_net_admin`
//!   attribute one's own processes and the summary names what other users' need.
//!
//! Needs root (namespaces, capture), iproute2, curl, openssl and python3; skipped with a
//! loud message otherwise, and failing under CI (which runs as root).
// Tests may read the clock (deadlines); clippy.toml keeps it out of the library.
#![allow(clippy::disallowed_methods)]

mod common;
mod netns;

use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use netns::*;

/// This binary's labs: subnet 10.82.x.0/24, names tagged "pa".
const NET: u8 = 82;
const TAG: &str = "pa";
/// The plain HTTP server's port (Python's http.server, next to server.py's TLS on PORT).
const PLAIN_PORT: u16 = 8081;

fn skip() -> bool {
    skip_lab("live process", &["ip", "curl", "python3", "openssl"], &[])
}

/// A lab with HTTPS on PORT and plain HTTP on PLAIN_PORT.
fn lab() -> Lab {
    let mut lab = Lab::new(TAG, NET);
    lab.start_tls_server();
    let www = lab.path("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "hello\n").unwrap();
    let mut c = Lab::in_ns(&lab.srv, "python3");
    c.args(["-m", "http.server", &PLAIN_PORT.to_string(), "--bind"])
        .arg(&lab.server_addr)
        .arg("--directory")
        .arg(&www);
    lab.spawn_group(c);
    let probe = format!("exec 3<>/dev/tcp/{}/{PLAIN_PORT}", lab.server_addr);
    wait_until(Duration::from_secs(5), "plain server up", || {
        Lab::in_ns(&lab.cli, "bash")
            .args(["-c", &probe])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    });
    lab
}

fn plain(lab: &Lab) -> String {
    format!("http://{}:{PLAIN_PORT}", lab.server_addr)
}

fn tls(lab: &Lab) -> String {
    format!("https://{}:{PORT}", lab.server_addr)
}

fn read_pid(path: &Path) -> u32 {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .parse()
        .unwrap()
}

/// The NDJSON entries of `path`.
fn ndjson(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The `who=` tag of an entry's URL.
fn who(e: &serde_json::Value) -> Option<String> {
    let url = e["request"]["url"].as_str()?;
    let at = url.find("who=")? + 4;
    Some(url[at..].split('&').next()?.to_string())
}

/// Starts httshark in the client namespace with `args`, waits for its capture to run.
fn start_httshark(lab: &mut Lab, args: &[String]) {
    let mut c = Lab::in_ns(&lab.cli, bin());
    c.args(args)
        .args(["-stats-interval=1s", "-verbose=3"])
        .arg("-output-folder")
        .arg(lab.path("out"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let stderr = StderrWatch::new(&mut child);
    stderr.wait_for(&mut child, "httshark: stats ", Duration::from_secs(30));
    lab.httshark = Some(child);
    lab.stderr = Some(stderr);
}

fn stop_httshark(lab: &mut Lab) -> String {
    let child = lab.httshark.as_mut().unwrap();
    signal_pid(child.id(), libc::SIGINT);
    assert!(
        exited_within(child, Duration::from_secs(15)).is_some_and(|s| s.success()),
        "httshark did not exit cleanly: {}",
        lab.stderr.as_ref().unwrap().text()
    );
    lab.stderr.take().unwrap().finish()
}

#[test]
fn every_request_is_attributed_to_the_process_that_made_it() {
    if skip() {
        return;
    }
    let mut lab = lab();
    let keylog = lab.path("keys.log");
    let out = lab.path("entries.ndjson");
    let sites = lab.path("sites.csv");
    // `start_httshark` gives -output-folder.
    let har_folder = lab.path("out");
    // Two workers encoding the HAR entries (`-har-encoding workers`, what `auto` does live),
    // the owner spliced in on the processor thread; the NDJSON entries are encoded there
    // whole (compared below).
    let args: Vec<String> = [
        "-device",
        &lab.ifname,
        "-hosts",
        &format!("{}:", lab.server_addr),
        "-attribution-immediate",
        "-workers",
        "2",
        "-har-encoding",
        "workers",
        "-har-processors",
        "ndjson,sites-stats,file",
        "-ndjson-file",
        &out.display().to_string(),
        "-stats-group-by",
        "process",
        "-sites-stats-file",
        &sites.display().to_string(),
        "-ui",
        "127.0.0.1:0",
        "-tls-keylog",
        &keylog.display().to_string(),
        "-counters",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    start_httshark(&mut lab, &args);

    // Two curl processes, each with one plain and one HTTPS request; `exec` keeps the pid
    // the shell wrote.
    let mut expected: HashMap<String, (u32, &str)> = HashMap::new();
    for n in 1..=2 {
        let pidfile = lab.path(&format!("curl{n}.pid"));
        let script = format!(
            "echo $$ > {pidfile}; exec curl -sk --max-time 10 -o /dev/null '{p}/?who=curl{n}-plain' \
             -o /dev/null '{t}/json?who=curl{n}-tls'",
            pidfile = pidfile.display(),
            p = plain(&lab),
            t = tls(&lab)
        );
        let st = Lab::in_ns(&lab.cli, "sh")
            .args(["-c", &script])
            .env("SSLKEYLOGFILE", &keylog)
            .status()
            .unwrap();
        assert!(st.success());
        let pid = read_pid(&pidfile);
        expected.insert(format!("curl{n}-plain"), (pid, "curl"));
        expected.insert(format!("curl{n}-tls"), (pid, "curl"));
    }
    // Python, forking: parent and child each make their own two requests.
    let pyout = lab.path("py");
    let st = Lab::in_ns(&lab.cli, "python3")
        .arg(repo().join("tests/live/attrib_client.py"))
        .args([plain(&lab), tls(&lab), "py".to_string()])
        .arg(&pyout)
        .env("SSLKEYLOGFILE", &keylog)
        .status()
        .unwrap();
    assert!(st.success());
    for who in ["parent", "child"] {
        let pid = read_pid(&lab.path(&format!("py.{who}")));
        for kind in ["plain", "tls"] {
            expected.insert(format!("py-{who}-{kind}"), (pid, "python3"));
        }
    }
    // Two ticks: the last transactions and key lines are read.
    std::thread::sleep(Duration::from_millis(2500));
    // The web view (its server is on the client namespace's loopback): the process of
    // every row, and the `process:` filter by name and by pid.
    let ui = lab.stderr.as_ref().unwrap().text();
    let ui = ui
        .lines()
        .find_map(|l| l.strip_prefix("httshark: ui: open "))
        .unwrap_or_else(|| panic!("no ui URL: {ui}"))
        .trim()
        .to_string();
    let (base, token) = ui.split_once("/?token=").unwrap();
    let view = |query: &str| -> Vec<serde_json::Value> {
        let o = Lab::in_ns(&lab.cli, "curl")
            .args(["-sf", "-H", &format!("Authorization: Bearer {token}")])
            .arg(format!("{base}/api/v1/entries?limit=1000&filter={query}"))
            .output()
            .unwrap();
        assert!(o.status.success(), "view {query}: {o:?}");
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["entries"].as_array().unwrap().clone()
    };
    let rows = view("");
    let by_name = view("process%3Acurl");
    let by_pid = view(&format!("process%3A{}", read_pid(&lab.path("py.parent"))));
    let stderr = stop_httshark(&mut lab);
    let entries = ndjson(&out);
    // The view holds the NDJSON entries, each row with the same process label as the
    // console's (`curl 4242`, `? closed`).
    assert_eq!(rows.len(), entries.len(), "{rows:?}");
    let label = |p: &serde_json::Value| match p["pid"].as_u64() {
        Some(pid) => format!("{} {pid}", p["name"].as_str().unwrap()),
        None => format!("? {}", p["unattributed"].as_str().unwrap()),
    };
    let mut want: Vec<(String, String)> = entries
        .iter()
        .map(|e| {
            (
                e["request"]["url"].as_str().unwrap().to_string(),
                label(&e["_process"]),
            )
        })
        .collect();
    let mut got: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["url"].as_str().unwrap().to_string(),
                r["process"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    let mut seen: HashMap<String, &serde_json::Value> = HashMap::new();
    for e in &entries {
        let tag = who(e).unwrap_or_else(|| panic!("an entry without a tag: {e}"));
        assert!(seen.insert(tag.clone(), e).is_none(), "{tag} twice");
    }
    // Known limit (docs/processes.md): a connection that is over before its socket's
    // holder is found in /proc (a new process's plain request to this HTTP/1.0 server, which
    // closes at once, lasts about a millisecond) is unattributed, with why; never another
    // process. A TLS connection lasts a few milliseconds more (its handshake), which is
    // usually enough, but not when the prober waits for a core (CI once missed the Python
    // parent's): any connection may be missed, with why, and at most a quarter are.
    let own_cgroup = std::fs::read_to_string("/proc/self/cgroup")
        .ok()
        .and_then(|t| {
            let line = t
                .lines()
                .find(|l| l.starts_with("0::"))
                .or_else(|| t.lines().next())?;
            line.splitn(3, ':')
                .nth(2)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
        });
    let mut missed = Vec::new();
    for (tag, (pid, name)) in &expected {
        let e = seen
            .get(tag)
            .unwrap_or_else(|| panic!("{tag} not captured; stderr:\n{stderr}"));
        let p = &e["_process"];
        // Decrypted or plain as made, attributed or not.
        let https = tag.ends_with("-tls");
        let url = e["request"]["url"].as_str().unwrap();
        assert_eq!(url.starts_with("https://"), https, "{tag}: {url}");
        if https {
            assert!(e["_tls"].is_object(), "{tag} not decrypted");
        }
        if p["pid"].is_null() {
            let why = p["unattributed"].as_str().unwrap_or_default();
            assert!(
                ["closed", "not-found", "no-process"].contains(&why),
                "{tag}: {p}"
            );
            missed.push(format!("{tag}: {why}"));
            continue;
        }
        assert_eq!(p["pid"].as_u64(), Some(u64::from(*pid)), "{tag}: {p}");
        assert_eq!(p["name"].as_str(), Some(*name), "{tag}: {p}");
        assert_eq!(p["side"].as_str(), Some("client"), "{tag}: {p}");
        assert_eq!(p["uid"].as_u64(), Some(0), "{tag}: {p}");
        assert_eq!(p["user"].as_str(), Some("root"), "{tag}: {p}");
        // The clients run in this test's cgroup (they are its descendants).
        assert_eq!(p["cgroup"].as_str(), own_cgroup.as_deref(), "{tag}: {p}");
        assert!(
            p["exe"].as_str().is_some_and(|x| x.contains(name)),
            "{tag}: {p}"
        );
    }
    eprintln!(
        "attributed {} of {} requests; missed: {missed:?}",
        expected.len() - missed.len(),
        expected.len()
    );
    assert!(missed.len() * 4 <= expected.len(), "{missed:?}");
    // The forked child's parent is the parent python process (on the child's attributed
    // entries; at least one of its two is).
    let parent = u64::from(read_pid(&lab.path("py.parent")));
    let child: Vec<_> = ["py-child-tls", "py-child-plain"]
        .iter()
        .map(|t| &seen[*t]["_process"])
        .filter(|p| !p["pid"].is_null())
        .collect();
    assert!(
        !child.is_empty(),
        "neither of the child's requests attributed"
    );
    for p in child {
        assert_eq!(p["ppid"].as_u64(), Some(parent), "{p}");
    }
    assert_eq!(entries.len(), expected.len(), "{entries:?}");
    assert_eq!(
        summary_counter(&stderr, "attrib_attributed") as usize,
        expected.len() - missed.len(),
        "{stderr}"
    );
    // The view's `process:` filter (queried while it ran), by name and by pid, against
    // the labels above.
    let named = |who: &str| {
        want.iter()
            .filter(|(_, l)| l.starts_with(&format!("{who} ")))
            .count()
    };
    assert_eq!(by_name.len(), named("curl"), "{by_name:?}");
    let ppid = read_pid(&lab.path("py.parent"));
    assert!(by_pid
        .iter()
        .all(|r| r["process"] == format!("python3 {ppid}")));
    assert_eq!(
        by_pid.len(),
        want.iter()
            .filter(|(_, l)| *l == format!("python3 {ppid}"))
            .count()
    );
    // `-stats-group-by process`: one row per command name (and per reason none was found),
    // with the transactions of that process.
    let csv = std::fs::read_to_string(&sites).unwrap();
    let mut lines = csv.lines();
    let head: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = head
        .iter()
        .position(|c| *c == "total_transactions")
        .unwrap();
    let mut per_site: HashMap<String, usize> = HashMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        per_site.insert(f[0].to_string(), f[col].parse().unwrap());
    }
    let mut by_process: HashMap<String, usize> = HashMap::new();
    for e in &entries {
        let p = &e["_process"];
        let key = match p["name"].as_str() {
            Some(n) => n.to_string(),
            None => format!("(unattributed:{})", p["unattributed"].as_str().unwrap()),
        };
        *by_process.entry(key).or_default() += 1;
    }
    assert_eq!(per_site, by_process, "{csv}");
    // The HAR files hold the NDJSON's entries, byte for byte (an owner spliced into an
    // entry encoded without it gives the bytes of encoding it with the owner).
    let mut har_entries = Vec::new();
    for f in std::fs::read_dir(&har_folder).unwrap() {
        let path = f.unwrap().path();
        if path.extension().is_some_and(|x| x == "har") {
            let v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            har_entries.extend(v["log"]["entries"].as_array().unwrap().iter().cloned());
        }
    }
    let text = |es: &[serde_json::Value]| {
        let mut t: Vec<String> = es.iter().map(|e| e.to_string()).collect();
        t.sort();
        t
    };
    assert_eq!(text(&har_entries), text(&entries), "{stderr}");
    assert!(har_entries.iter().all(|e| e["_process"].is_object()));
}

#[test]
fn command_mode_shows_exactly_its_tree_decrypted_and_passes_its_exit_status() {
    if skip() {
        return;
    }
    let mut lab = lab();
    // A concurrent client in the same namespace (bounded: 300 requests, 50 ms apart).
    let other = format!(
        "for i in $(seq 300); do curl -s -o /dev/null '{}/?who=other'; sleep 0.05; done",
        plain(&lab)
    );
    let mut c = Lab::in_ns(&lab.cli, "sh");
    c.args(["-c", &other]);
    lab.spawn_group(c);
    let har = lab.path("out.har");
    let script = format!(
        "echo \"$SSLKEYLOGFILE\" > {kp}; sleep 0.3; curl -sk --max-time 10 -o /dev/null '{t}/json?who=cmd-curl-tls'; \
         curl -s --max-time 10 -o /dev/null '{p}/?who=cmd-curl-plain'; \
         python3 {py} '{p}' '{t}' cmd {out} || exit 9; sleep 0.3; exit 7",
        t = tls(&lab),
        p = plain(&lab),
        py = repo().join("tests/live/attrib_client.py").display(),
        out = lab.path("cmd").display(),
        kp = lab.path("keylog.path").display()
    );
    let start = Instant::now();
    let o = Lab::in_ns(&lab.cli, bin())
        .arg("-har")
        .arg(&har)
        .args(["-command-as-root", "-counters", "--", "sh", "-c", &script])
        .current_dir(lab.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(7), "{stdout}\n{stderr}");
    let tags = [
        "cmd-curl-tls",
        "cmd-curl-plain",
        "cmd-parent-plain",
        "cmd-parent-tls",
        "cmd-child-plain",
        "cmd-child-tls",
    ];
    // A request is shown (TLS decrypted) unless it was over before its process was found
    // (see the test above: usually only plain ones, any under load); at most half (the
    // three plain ones) are missed, and none is ever shown from another process.
    let mut shown = 0;
    for tag in tags {
        let https = tag.ends_with("-tls");
        let Some(line) = stdout
            .lines()
            .find(|l| l.starts_with("---> GET ") && l.contains(&format!("who={tag}")))
        else {
            eprintln!("{tag}: not shown (unattributed)");
            continue;
        };
        shown += 1;
        assert_eq!(line.contains("https://"), https, "{line}");
        assert!(
            stdout.lines().any(|l| l.starts_with("<--- ")
                && l.contains(&format!("who={tag}"))
                && l.contains(if https { "https://" } else { "http://" })),
            "{tag}: no response line:\n{stdout}"
        );
    }
    assert!(!stdout.contains("who=other"), "{stdout}");
    assert!(
        (tags.len() - shown) * 2 <= tags.len(),
        "{} of {} not shown:\n{stdout}\n{stderr}",
        tags.len() - shown,
        tags.len()
    );
    // The HAR file: the same six, each from the command's tree.
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&har).unwrap()).unwrap();
    let entries = doc["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), shown, "{stdout}");
    let child = read_pid(&lab.path("cmd.child"));
    let parent = read_pid(&lab.path("cmd.parent"));
    for e in entries {
        let tag = who(e).unwrap();
        let pid = e["_process"]["pid"].as_u64().unwrap() as u32;
        // The console's request line ends with the process, as the HAR names it.
        let bracket = format!("[{} {pid}]", e["_process"]["name"].as_str().unwrap());
        assert!(
            stdout.lines().any(|l| l.starts_with("---> GET ")
                && l.contains(&format!("who={tag}"))
                && l.ends_with(&bracket)),
            "{tag}: no request line ending {bracket}:\n{stdout}"
        );
        if tag.contains("-child-") {
            assert_eq!(pid, child, "{tag}");
        } else if tag.contains("-parent-") {
            assert_eq!(pid, parent, "{tag}");
        } else {
            assert_eq!(e["_process"]["name"], "curl", "{tag}");
        }
        if tag.ends_with("-tls") {
            assert!(e["_tls"].is_object(), "{tag} not decrypted: {e}");
        }
    }
    assert!(
        summary_counter(&stderr, "attrib_filtered_out") > 0,
        "{stderr}"
    );
    // The private key log was set for the command, written by its clients, and is gone.
    let keylog = std::fs::read_to_string(lab.path("keylog.path")).unwrap();
    let keylog = Path::new(keylog.trim());
    assert!(
        keylog.file_name().is_some_and(|n| n == "keys.log"),
        "{keylog:?}"
    );
    assert!(!keylog.exists() && !keylog.parent().unwrap().exists());
}

#[test]
fn command_runs_as_the_sudo_user_and_root_is_refused_without_the_flag() {
    if skip() {
        return;
    }
    let lab = Lab::new(TAG, NET);
    let dir = lab.path("shared");
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let _ = std::fs::set_permissions(lab.dir.path(), std::fs::Permissions::from_mode(0o755));
    let idfile = dir.join("id");
    let o = Lab::in_ns(&lab.cli, bin())
        .args(["-device", "lo", "--", "sh", "-c"])
        .arg(format!(
            "id -u > {f}; id -g >> {f}; stat -c %a \"$(dirname \"$SSLKEYLOGFILE\")\" >> {f}; stat -c %a \"$SSLKEYLOGFILE\" >> {f}",
            f = idfile.display()
        ))
        .env("SUDO_UID", "65534")
        .env("SUDO_GID", "65534")
        .env_remove("SUDO_USER")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&idfile).unwrap();
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        ["65534", "65534", "700", "600"]
    );
    let o = Lab::in_ns(&lab.cli, bin())
        .args(["-device", "lo", "--", "true"])
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("-command-as-root"));
}

/// `-process PID` keeps the traffic of that process and its descendants only: a shell's
/// curl children are kept (each with the shell as its parent), a curl outside the tree in
/// the same namespace is left out and counted.
#[test]
fn process_pid_keeps_that_process_tree_only() {
    if skip() {
        return;
    }
    let mut lab = lab();
    let (keylog, out) = (lab.path("keys.log"), lab.path("tree.ndjson"));
    let (pf, go, done) = (
        lab.path("tree.pid"),
        lab.path("tree.go"),
        lab.path("tree.done"),
    );
    // The tree's root waits for the capture, then runs two curls (HTTPS: a handshake
    // makes each connection outlive its look-up; plain: may be over first).
    let script = format!(
        "echo $$ > {pf}; while [ ! -e {go} ]; do sleep 0.05; done; \
         curl -sk --max-time 10 -o /dev/null '{t}/json?who=tree-tls'; \
         curl -sk --max-time 10 -o /dev/null '{t}/json?who=tree-tls2'; touch {done}",
        pf = pf.display(),
        go = go.display(),
        done = done.display(),
        t = tls(&lab)
    );
    let mut c = Lab::in_ns(&lab.cli, "sh");
    c.args(["-c", &script]).env("SSLKEYLOGFILE", &keylog);
    lab.spawn_group(c);
    wait_until(Duration::from_secs(10), "the tree's root started", || {
        std::fs::read_to_string(&pf).is_ok_and(|t| t.ends_with('\n'))
    });
    let root = read_pid(&pf);
    let args: Vec<String> = [
        "-device",
        &lab.ifname,
        "-hosts",
        &format!("{}:", lab.server_addr),
        "-attribution-immediate",
        "-process",
        &root.to_string(),
        "-har-processors",
        "ndjson",
        "-ndjson-file",
        &out.display().to_string(),
        "-tls-keylog",
        &keylog.display().to_string(),
        "-counters",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    start_httshark(&mut lab, &args);
    // Outside the tree: two curls before and after the tree's.
    let other = |n: u32| {
        let st = Lab::in_ns(&lab.cli, "curl")
            .args(["-sk", "--max-time", "10", "-o", "/dev/null"])
            .arg(format!("{}/json?who=other{n}", tls(&lab)))
            .env("SSLKEYLOGFILE", &keylog)
            .status()
            .unwrap();
        assert!(st.success());
    };
    other(1);
    std::fs::write(&go, "").unwrap();
    other(2);
    wait_until(Duration::from_secs(30), "the tree's curls done", || {
        done.exists()
    });
    std::thread::sleep(Duration::from_millis(2500));
    let stderr = stop_httshark(&mut lab);
    let entries = ndjson(&out);
    let tags: Vec<String> = entries.iter().filter_map(who).collect();
    assert!(
        tags.iter().all(|t| t.starts_with("tree-")),
        "{tags:?}\n{stderr}"
    );
    assert!(
        !tags.is_empty(),
        "none of the tree's requests kept:\n{stderr}"
    );
    for e in &entries {
        let p = &e["_process"];
        assert_eq!(p["name"], "curl", "{p}");
        assert_eq!(p["ppid"].as_u64(), Some(u64::from(root)), "{p}");
    }
    assert!(
        summary_counter(&stderr, "attrib_filtered_out") >= 2,
        "{stderr}"
    );
}

/// Ctrl-C at a terminal is SIGINT to the foreground process group: httshark and COMMAND
/// (and COMMAND's children). Both stop: COMMAND ends, httshark drains and exits with
/// COMMAND's status (130: SIGINT), nothing of the group is left, the key log is gone.
/// The signal goes once COMMAND's child (which writes its pid when it runs) is up, as
/// a user's Ctrl-C would.
#[test]
fn ctrl_c_stops_the_command_and_httshark() {
    if skip() {
        return;
    }
    let lab = Lab::new(TAG, NET);
    let (pf, kp) = (lab.path("cmd.pid"), lab.path("keylog.path"));
    let mut c = Lab::in_ns(&lab.cli, bin());
    c.args(["-device", "lo", "-command-as-root", "--", "sh", "-c"])
        .arg(format!(
            "echo \"$SSLKEYLOGFILE\" > {kp}; \
             python3 -c 'import os, time; open(\"{pf}\", \"w\").write(\"%d\\n\" % os.getpid()); time.sleep(30)'; \
             exit 0",
            kp = kp.display(),
            pf = pf.display()
        ))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let group = child.id() as i32;
    let err = StderrWatch::new(&mut child);
    wait_until(Duration::from_secs(20), "COMMAND's child started", || {
        std::fs::read_to_string(&pf).is_ok_and(|t| t.ends_with('\n'))
    });
    err.wait_for(&mut child, "listening on", Duration::from_secs(20));
    let started = Instant::now();
    // SAFETY: kill(2) of the process group this test made.
    unsafe { libc::kill(-group, libc::SIGINT) };
    let status = exited_within(&mut child, Duration::from_secs(10));
    let text = err.finish();
    let status = status.unwrap_or_else(|| panic!("httshark still runs after Ctrl-C: {text}"));
    assert!(started.elapsed() < Duration::from_secs(5), "{text}");
    assert_eq!(status.code(), Some(130), "{text}");
    assert!(text.contains("stopping"), "{text}");
    // Every process of the group (httshark, sh, sleep) is gone.
    wait_until(Duration::from_secs(5), "the process group gone", || {
        // SAFETY: signal 0 only checks whether the group still exists.
        unsafe { libc::kill(-group, 0) != 0 }
    });
    let keylog = std::fs::read_to_string(&kp).unwrap();
    let keylog = Path::new(keylog.trim());
    assert!(keylog.ends_with("keys.log") && !keylog.parent().unwrap().exists());
}

/// Without root: a copy of the binary given cap_net_raw,cap_net_admin (setcap), run as
/// nobody, captures and attributes its own COMMAND's request; a connection of another
/// user's (root's) process is `no-permission`, and the summary names what is missing
/// (docs/processes.md, Privileges). Without the capabilities the capture is refused with
/// what to do.
#[test]
fn without_root_the_capabilities_attribute_own_processes_and_name_what_is_missing() {
    if skip_lab(
        "live process capabilities",
        &["ip", "curl", "python3", "setcap", "setpriv"],
        &[],
    ) {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let mut lab = Lab::new(TAG, NET);
    let port = 8092;
    // Answers after 200 ms: the connection outlives its look-up.
    let server = format!(
        "import socket, time\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port})); s.listen(16)\n\
         r = b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'\n\
         while True:\n\
         \x20   c, _ = s.accept(); c.recv(4096); time.sleep(0.2); c.sendall(r); c.close()\n"
    );
    let mut c = Lab::in_ns(&lab.cli, "python3");
    c.args(["-c", &server]);
    lab.spawn_group(c);
    let probe = format!("exec 3<>/dev/tcp/127.0.0.1/{port}");
    wait_until(Duration::from_secs(5), "server up", || {
        Lab::in_ns(&lab.cli, "bash")
            .args(["-c", &probe])
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    });
    let _ = std::fs::set_permissions(lab.dir.path(), std::fs::Permissions::from_mode(0o755));
    let work = lab.path("nobody");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::set_permissions(&work, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (capbin, plainbin) = (work.join("httshark-cap"), work.join("httshark-plain"));
    std::fs::copy(bin(), &capbin).unwrap();
    std::fs::copy(bin(), &plainbin).unwrap();
    let st = std::process::Command::new("setcap")
        .arg("cap_net_raw,cap_net_admin+ep")
        .arg(&capbin)
        .status()
        .unwrap();
    assert!(st.success(), "setcap failed");
    let as_nobody = |exe: &Path| {
        let mut c = Lab::in_ns(&lab.cli, "setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(exe)
            .current_dir(&work)
            .stdin(Stdio::null());
        c
    };
    let hosts = format!("127.0.0.1:{port}");
    let url = format!("http://{hosts}/own");

    // 1. `-- COMMAND` as nobody with the capabilities: its own request, attributed.
    let o = as_nobody(&capbin)
        .args([
            "-device",
            "lo",
            "-hosts",
            &hosts,
            "--",
            "curl",
            "-s",
            "-o",
            "/dev/null",
            &url,
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("---> GET {url} [curl ")))
        .unwrap_or_else(|| panic!("no attributed request line:\n{stdout}\n{stderr}"));
    assert!(line.ends_with(']'), "{line}");
    assert!(
        stdout.contains(&format!("<--- 200 {url} (2 bytes")),
        "{stdout}"
    );

    // 2. A capture as nobody; root's curl: not attributed, and the summary says why and
    // what to add.
    let out = work.join("console.txt");
    let mut h = as_nobody(&capbin)
        .args([
            "-device",
            "lo",
            "-hosts",
            &hosts,
            "-har-processors",
            "console",
        ])
        .args(["-attribution-immediate", "-stats-interval=1s"])
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = StderrWatch::new(&mut h);
    err.wait_for(&mut h, "httshark: stats ", Duration::from_secs(20));
    let st = Lab::in_ns(&lab.cli, "curl")
        .args(["-s", "-o", "/dev/null", &format!("http://{hosts}/root")])
        .status()
        .unwrap();
    assert!(st.success());
    let console = || std::fs::read_to_string(&out).unwrap_or_default();
    wait_until(Duration::from_secs(10), "root's request shown", || {
        console().contains("<--- 200 ")
    });
    signal_pid(h.id(), libc::SIGINT);
    let st = exited_within(&mut h, Duration::from_secs(15));
    let text = err.finish();
    assert!(st.is_some_and(|s| s.success()), "{text}");
    assert!(
        console().contains(&format!("---> GET http://{hosts}/root [? no-permission]")),
        "{}",
        console()
    );
    assert!(
        text.contains("not attributed: their /proc/PID/fd cannot be read")
            && text.contains("cap_sys_ptrace"),
        "{text}"
    );

    // 3. Without the capabilities: refused, saying what is needed.
    let o = as_nobody(&plainbin)
        .args(["-device", "lo", "-hosts", &hosts])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("cap_net_raw,cap_net_admin"), "{stderr}");
}

/// Over 1,000 connections of under a millisecond on the client namespace's loopback: the
/// share attributed is printed; a connection is never given a wrong process. The client
/// paces its connections 2 ms apart: the test binary may be a debug build, whose capture
/// would otherwise fall behind (kernel drops), which is not what is measured here.
#[test]
fn short_loopback_connections_are_attributed_or_counted_never_wrong() {
    if skip() {
        return;
    }
    const CONNECTIONS: usize = 1200;
    let mut lab = Lab::new(TAG, NET);
    let port = 8090;
    let server = format!(
        "import socket\n\
         s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
         s.bind(('127.0.0.1', {port})); s.listen(128)\n\
         r = b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'\n\
         while True:\n\
         \x20   c, _ = s.accept(); c.recv(4096); c.sendall(r); c.close()\n"
    );
    let mut c = Lab::in_ns(&lab.cli, "python3");
    c.args(["-c", &server]);
    lab.spawn_group(c);
    let out = lab.path("short.ndjson");
    let args: Vec<String> = [
        "-device",
        "lo",
        "-attribution-immediate",
        "-hosts",
        &format!("127.0.0.1:{port}"),
        "-har-processors",
        "ndjson",
        "-ndjson-file",
        &out.display().to_string(),
        "-counters",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    start_httshark(&mut lab, &args);
    let pidfile = lab.path("short.pid");
    let client = format!(
        "import os, socket, time\n\
         open('{pf}', 'w').write(str(os.getpid()))\n\
         for i in range({CONNECTIONS}):\n\
         \x20   for attempt in range(50):\n\
         \x20       try:\n\
         \x20           c = socket.create_connection(('127.0.0.1', {port})); break\n\
         \x20       except ConnectionRefusedError: time.sleep(0.02)\n\
         \x20   c.sendall(b'GET /s%d HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' % i)\n\
         \x20   while c.recv(4096): pass\n\
         \x20   c.close()\n\
         \x20   time.sleep(0.002)\n",
        pf = pidfile.display()
    );
    let st = Lab::in_ns(&lab.cli, "python3")
        .args(["-c", &client])
        .status()
        .unwrap();
    assert!(st.success());
    let pid = u64::from(read_pid(&pidfile));
    std::thread::sleep(Duration::from_millis(2500));
    let stderr = stop_httshark(&mut lab);
    let entries = ndjson(&out);
    assert!(entries.len() >= 1000, "{} entries; {stderr}", entries.len());
    let (mut right, mut wrong, mut unattributed, mut under_ms) = (0, 0, 0, 0);
    let mut why: HashMap<String, usize> = HashMap::new();
    for e in &entries {
        let p = &e["_process"];
        if e["time"].as_f64().is_some_and(|t| t < 1.0) {
            under_ms += 1;
        }
        match p["pid"].as_u64() {
            Some(got) if got == pid && p["side"] == "client" => right += 1,
            Some(_) => wrong += 1,
            None => {
                unattributed += 1;
                *why.entry(p["unattributed"].as_str().unwrap_or("?").to_string())
                    .or_default() += 1;
            }
        }
    }
    eprintln!(
        "short connections: {} entries ({under_ms} under 1 ms), {right} attributed to the client \
         ({:.1}%), {unattributed} unattributed {why:?}, {wrong} wrong",
        entries.len(),
        100.0 * right as f64 / entries.len() as f64
    );
    assert_eq!(wrong, 0, "attributed to a wrong process");
    assert!(under_ms * 2 > entries.len(), "most connections under 1 ms");
    assert_eq!(right + unattributed, entries.len());
    assert_eq!(
        summary_counter(&stderr, "attrib_attributed") as usize,
        right,
        "{stderr}"
    );
}
