//! Issue 9's proof on real traffic: curl against tests/live/server.py in network namespaces
//! this test creates (subnet 10.84.x.0/24), captured with tcpdump on the client's veth,
//! then rewritten with scapy (tests/real_stack_scapy.py; this kernel has no netem qdisc):
//!
//! - (a) packets swapped within a window of 6 (SYN, SYN-ACK, FIN included), several seeds:
//!   the transactions equal the clean capture's;
//! - (b) a RST with another ISN and a FIN before the handshake, an out-of-window RST and a
//!   PAWS-failing FIN inside the connection: the transactions equal the clean capture's,
//!   the rejections are counted;
//! - (c) a retransmission of the first request, after its delivery and before the server's
//!   ACK, whose target differs: the first copy is kept, that transaction alone is flagged
//!   `overlap-conflict`, and `overlap_conflicts_delivered` counts it.
//!
//! Needs root, ip, curl, tcpdump, python3 and scapy; skipped with a loud message otherwise
//! (failing under CI, whose .ci/run installs scapy).
// Tests may read the clock (deadlines); clippy.toml keeps it out of the library.
#![allow(clippy::disallowed_methods)]

mod common;
mod netns;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use netns::*;

/// This binary's labs: subnet 10.84.x.0/24, names tagged "sc".
const NET: u8 = 84;
const TAG: &str = "sc";

fn skip() -> bool {
    skip_lab(
        "real-traffic scapy",
        &["ip", "curl", "tcpdump", "python3"],
        &["scapy.all"],
    )
}

/// What a transaction is, for comparing two runs: everything but times.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tx {
    method: String,
    target: String,
    status: i64,
    req_body: i64,
    resp_body: i64,
    anomalies: Vec<String>,
    client: String,
    depth: i64,
}

fn txs(out: &Path) -> Vec<Tx> {
    let mut v: Vec<Tx> = read_entries(out)
        .into_iter()
        .map(|s| Tx {
            method: s.method,
            target: s.target,
            status: s.status,
            req_body: s.req_body,
            resp_body: s.resp_body,
            anomalies: s.anomalies,
            client: s.client,
            depth: s.depth,
        })
        .collect();
    v.sort_by(|a, b| (&a.client, a.depth).cmp(&(&b.client, b.depth)));
    v
}

/// httshark on `pcap`: its transactions and its exit counters.
fn replay(pcap: &Path, out: &Path) -> (Vec<Tx>, HashMap<String, u64>) {
    let o = run_file(pcap, out, &[]);
    let counters = summary_counters(&String::from_utf8_lossy(&o.stderr));
    (txs(out), counters)
}

fn helper(args: &[&str]) -> String {
    let o = Command::new("python3")
        .arg(repo().join("tests/real_stack_scapy.py"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "real_stack_scapy.py {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// Waits for `child` at most `limit`, then kills it.
fn wait_bounded(child: &mut Child, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The clean capture: curl's connections to the lab's server, captured by tcpdump.
fn capture(lab: &mut Lab) -> PathBuf {
    let pcap = lab.path("clean.pcap");
    let mut tcpdump = Lab::in_ns(&lab.cli, "tcpdump")
        // Immediate mode: each packet is written as it comes (libpcap's ring would hold
        // the last ones back until a block fills or times out, and SIGTERM drops them).
        .args(["-i", &lab.ifname, "-s", "0", "-U", "--immediate-mode", "-w"])
        .arg(&pcap)
        .arg(format!("tcp port {PORT}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // tcpdump says "listening on" once its capture runs.
    let stderr = tcpdump.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("listening on") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("tcpdump did not start");
    let base = lab.base();
    let runs: Vec<Vec<String>> = vec![
        // One keep-alive connection, three transactions.
        vec![
            format!("{base}/bytes/2000"),
            format!("{base}/json?q=1"),
            format!("{base}/chunked"),
        ],
        vec![format!("{base}/bytes/60000")],
        vec!["-d".into(), "a=1&b=2".into(), format!("{base}/echo")],
        vec![format!("{base}/redirect"), format!("{base}/empty")],
        vec![format!("{base}/gzip")],
    ];
    for args in runs {
        let urls = args.iter().filter(|a| a.starts_with("http")).count();
        let st = Lab::in_ns(&lab.cli, "curl")
            .args(["-s", "--max-time", "10"])
            .args(std::iter::repeat_n(["-o", "/dev/null"], urls).flatten())
            .args(&args)
            .status()
            .unwrap();
        assert!(st.success(), "curl {args:?}");
    }
    // Let the last FIN/ACKs reach the capture, then stop tcpdump (it flushes on SIGTERM).
    std::thread::sleep(Duration::from_millis(300));
    unsafe {
        libc::kill(tcpdump.id() as i32, libc::SIGTERM);
    }
    wait_bounded(&mut tcpdump, Duration::from_secs(10));
    pcap
}

#[test]
fn rewritten_real_captures_give_the_clean_transactions() {
    if skip() {
        return;
    }
    let started = Instant::now();
    let mut lab = Lab::new(TAG, NET);
    lab.start_server();
    let clean = capture(&mut lab);
    if let Some(keep) = std::env::var_os("HTTSHARK_KEEP_CAPTURE") {
        std::fs::copy(&clean, keep).unwrap();
    }
    let (want, clean_counters) = replay(&clean, &lab.path("out-clean"));
    assert_eq!(want.len(), 8, "the clean capture's transactions: {want:#?}");
    assert!(
        want.iter().all(|t| t.anomalies.is_empty() && t.status > 0),
        "{want:#?}"
    );
    let clean_counter = |name: &str| clean_counters.get(name).copied().unwrap_or(0);
    assert_eq!(clean_counter("overlap_conflicts"), 0);

    // (a) Swaps within a window of 6, several seeds.
    let mut reorders = 0;
    for seed in 1..=8u32 {
        let pcap = lab.path(&format!("swap{seed}.pcap"));
        let (p, s) = (pcap.to_str().unwrap(), seed.to_string());
        helper(&["swap", clean.to_str().unwrap(), p, &s, "6"]);
        let (got, c) = replay(&pcap, &lab.path(&format!("out-swap{seed}")));
        assert_eq!(got, want, "swap seed {seed}");
        reorders += c.get("causal_reorders").copied().unwrap_or(0);
    }
    assert!(reorders > 0, "the swaps reordered nothing causal");

    // (b) Injected control segments the receiver rejects.
    let injected = lab.path("inject.pcap");
    let n = helper(&[
        "inject",
        clean.to_str().unwrap(),
        injected.to_str().unwrap(),
    ]);
    assert_eq!(n.trim(), "4");
    let (got, c) = replay(&injected, &lab.path("out-inject"));
    assert_eq!(got, want, "injected RST and FIN segments");
    let counter = |name: &str| c.get(name).copied().unwrap_or(0);
    assert_eq!(counter("rsts_out_of_window"), 1, "{c:?}");
    assert_eq!(counter("fins_rejected_paws"), 1, "{c:?}");
    assert_eq!(counter("connections_reset"), 0);
    assert_eq!(
        counter("connections_opened"),
        clean_counter("connections_opened")
    );
    // The two before the handshake open nothing (a RST and a FIN never open one).
    assert_eq!(
        counter("segments_ignored"),
        clean_counter("segments_ignored") + 2,
        "{c:?}"
    );

    // (c) A retransmission of delivered, unacknowledged bytes whose copy differs.
    let rexmit = lab.path("rexmit.pcap");
    let lines = helper(&["rexmit", clean.to_str().unwrap(), rexmit.to_str().unwrap()]);
    let (orig, forged) = lines.trim().split_once('\n').unwrap();
    assert_ne!(orig, forged);
    let (got, c) = replay(&rexmit, &lab.path("out-rexmit"));
    let counter = |name: &str| c.get(name).copied().unwrap_or(0);
    assert_eq!(counter("overlap_conflicts_delivered"), 1, "{c:?}");
    assert_eq!(
        (
            counter("overlap_conflicts"),
            counter("overlap_conflict_bytes")
        ),
        (1, 2)
    );
    assert_eq!(counter("overlap_conflict_messages"), 1);
    // The first copy is kept; exactly the request it belonged to is flagged.
    let target = orig.split(' ').nth(1).unwrap();
    let flagged: Vec<&Tx> = got
        .iter()
        .filter(|t| t.anomalies == ["overlap-conflict"])
        .collect();
    assert_eq!(flagged.len(), 1, "{got:#?}");
    assert_eq!(flagged[0].target, target);
    let unflag = |v: &[Tx]| -> Vec<Tx> {
        v.iter()
            .cloned()
            .map(|mut t| {
                t.anomalies.clear();
                t
            })
            .collect()
    };
    assert_eq!(unflag(&got), want, "otherwise the clean transactions");
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "took {:?}",
        started.elapsed()
    );
}
