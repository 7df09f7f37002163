//! Corrupt capture files, through the binary: every damaged file is built here from the
//! bytes of `fixtures/generated-small.pcap` (classic pcap, microseconds, Ethernet).
//!
//! The rules (docs/robustness.md, "Faults"): never a panic, never a large allocation
//! (peak RSS of the children stays under `MAX_CHILD_RSS_KIB`), a prompt exit; a file that
//! cannot be read from its start is one `httshark: ` line and exit status 2; damage after
//! good records is one warning naming the file, the place and libpcap's reason, every
//! transaction before the damage is exported, and the exit status is 0.
// Tests may read the clock (deadlines, complexity guards); clippy.toml keeps it out of
// the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use httshark_gen::pcap::{LinkKind, PcapngWriter};
use httshark_gen::Timestamp;

/// Bound on any child's peak resident set: far below what one absurd record length
/// (4 GiB) would take if it were allocated, far above httshark's real need (~10 MiB).
const MAX_CHILD_RSS_KIB: i64 = 100 * 1024;
/// Bound on the time of one run on a damaged file (they take milliseconds).
const MAX_RUN: Duration = Duration::from_secs(10);

fn fixture() -> Vec<u8> {
    std::fs::read(repo().join("fixtures/generated-small.pcap")).unwrap()
}

/// The fixture's records: (offset of the 16-byte record header, ts, frame).
fn records(pcap: &[u8]) -> Vec<(usize, Timestamp, Vec<u8>)> {
    let u32_at = |o: usize| u32::from_le_bytes(pcap[o..o + 4].try_into().unwrap());
    assert_eq!(
        u32_at(0),
        0xa1b2_c3d4,
        "fixture is little-endian microseconds"
    );
    let mut out = Vec::new();
    let mut off = 24;
    while off < pcap.len() {
        let caplen = u32_at(off + 8) as usize;
        let ts = Timestamp::from_secs_nanos(i64::from(u32_at(off)), u32_at(off + 4) * 1000);
        out.push((off, ts, pcap[off + 16..off + 16 + caplen].to_vec()));
        off += 16 + caplen;
    }
    out
}

fn set_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// The record where damage is put: the middle one, so there are good records before it.
fn middle(pcap: &[u8]) -> usize {
    let r = records(pcap);
    r[r.len() / 2].0
}

/// Largest peak RSS of the children waited for so far (KiB on Linux).
fn children_max_rss_kib() -> i64 {
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    usage.ru_maxrss
}

/// Runs httshark on `input` (a path, or standard input when `stdin` is given) and checks
/// the rules every run follows: prompt exit, no panic, bounded memory.
fn run_on(input: &str, stdin: Option<&[u8]>, out: &Path) -> Output {
    let started = Instant::now();
    let mut child = Command::new(bin())
        .args(["-file", input, "-hosts=", "-output-folder"])
        .arg(out)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(bytes) = stdin {
        // The child may stop reading at the damage: a broken pipe is expected then.
        let _ = child.stdin.take().unwrap().write_all(bytes);
    }
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        started.elapsed() < MAX_RUN,
        "{input}: took {:?}",
        started.elapsed()
    );
    assert!(!stderr.contains("panicked"), "{input}: {stderr}");
    assert!(
        o.status.code().is_some(),
        "{input}: killed by a signal: {stderr}"
    );
    let rss = children_max_rss_kib();
    assert!(
        rss < MAX_CHILD_RSS_KIB,
        "{input}: a child peaked at {rss} KiB RSS"
    );
    o
}

fn lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

fn har_files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "har"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Files that cannot be read from their start: exit status 2, exactly one line on
/// stderr naming the file and what is wrong, no output file.
#[test]
fn unreadable_starts_are_one_line_and_status_2() {
    let good = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    let mut bad_magic = good.clone();
    set_u32(&mut bad_magic, 0, 0xdead_beef);
    cases.push(("bad-magic.pcap", bad_magic, "not a pcap or pcapng file"));
    for n in [0usize, 10, 23] {
        let name: &'static str = Box::leak(format!("header-{n}.pcap").into_boxed_str());
        cases.push((name, good[..n].to_vec(), "truncated"));
    }
    let mut link147 = good.clone();
    set_u32(&mut link147, 20, 147);
    cases.push(("link-147.pcap", link147, "DLT 147"));
    // A pcapng section header block whose length is below the minimum block size.
    let mut ng = Vec::new();
    for v in [0x0a0d_0d0au32, 7, 0x1a2b_3c4d, 1] {
        ng.extend_from_slice(&v.to_le_bytes());
    }
    ng.extend_from_slice(&[0u8; 24]);
    cases.push(("bad-shb.pcapng", ng, "invalid length"));

    let mut inputs: Vec<(String, &str)> = cases
        .iter()
        .map(|(name, bytes, why)| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            (p.to_str().unwrap().to_string(), *why)
        })
        .collect();
    inputs.push((dir.path().to_str().unwrap().to_string(), "is a directory"));
    let missing = dir.path().join("no-such.pcap");
    inputs.push((missing.to_str().unwrap().to_string(), "No such file"));

    for (input, why) in &inputs {
        let out = dir.path().join("out");
        let o = run_on(input, None, &out);
        let shown = lines(&o);
        assert_eq!(o.status.code(), Some(2), "{input}: {shown:?}");
        assert_eq!(shown.len(), 1, "{input}: one line expected: {shown:?}");
        let line = &shown[0];
        assert!(line.starts_with("httshark: "), "{line}");
        assert!(
            line.contains(input.as_str()),
            "{input}: file not named: {line}"
        );
        assert!(line.contains(why), "{input}: expected {why:?}: {line}");
        assert!(har_files(&out).is_empty(), "{input}: wrote output");
    }
}

/// The same input, cut cleanly just before the damaged record: what a damaged run must
/// still export.
fn entries_of(pcap: &[u8], dir: &Path, name: &str) -> (Output, Vec<Seen>) {
    let path = dir.join(name);
    std::fs::write(&path, pcap).unwrap();
    let out = dir.join(format!("{name}.out"));
    let o = run_on(path.to_str().unwrap(), None, &out);
    let seen = if out.is_dir() {
        read_entries(&out)
    } else {
        Vec::new()
    };
    (o, seen)
}

fn key(s: &Seen) -> (String, String, i64, String, i64) {
    (
        s.connection.clone(),
        s.url.clone(),
        s.status,
        s.started.clone(),
        s.resp_body,
    )
}

/// Damage after good records: exit 0, one warning naming the file, the place and the
/// reason, and exactly the transactions of the clean prefix exported.
#[test]
fn damage_after_good_records_warns_and_keeps_what_came_before() {
    let good = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mid = middle(&good);
    let (clean, expected) = entries_of(&good[..mid], dir.path(), "clean-prefix.pcap");
    assert!(clean.status.success(), "{:?}", lines(&clean));
    assert!(!expected.is_empty(), "the prefix holds transactions");

    let mut cases: Vec<(&str, Vec<u8>, &str)> = Vec::new();
    cases.push((
        "cut-record-header.pcap",
        good[..mid + 7].to_vec(),
        "16 header bytes, only got 7",
    ));
    cases.push((
        "cut-record-body.pcap",
        good[..mid + 20].to_vec(),
        "only got 4",
    ));
    let mut huge = good.clone();
    set_u32(&mut huge, mid + 8, 0xFFFF_FFF0);
    cases.push((
        "caplen-huge.pcap",
        huge,
        "invalid packet capture length 4294967280",
    ));
    // Over the largest snaplen libpcap accepts for Ethernet (256 KiB).
    let mut over_max = good.clone();
    set_u32(&mut over_max, mid + 8, 300_000);
    cases.push((
        "caplen-over-max.pcap",
        over_max,
        "invalid packet capture length 300000",
    ));
    // Over the file's own snaplen (set to the largest record here) but under libpcap's
    // maximum: libpcap reads it, and runs out of file.
    let mut over_snap = good.clone();
    let largest = records(&good).iter().map(|r| r.2.len()).max().unwrap() as u32;
    set_u32(&mut over_snap, 16, largest);
    set_u32(&mut over_snap, mid + 8, 200_000);
    cases.push(("caplen-over-snaplen.pcap", over_snap, "truncated dump file"));

    for (name, bytes, why) in &cases {
        let (o, seen) = entries_of(bytes, dir.path(), name);
        let shown = lines(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {shown:?}");
        let warnings: Vec<&String> = shown.iter().filter(|l| l.contains("warning")).collect();
        assert_eq!(warnings.len(), 1, "{name}: {shown:?}");
        let w = warnings[0];
        assert!(w.contains(name), "{name}: file not named: {w}");
        assert!(w.contains("damaged capture"), "{w}");
        assert!(w.contains("byte offset"), "{name}: no offset: {w}");
        assert!(w.contains(why), "{name}: expected {why:?}: {w}");
        assert!(w.contains("the packets before it were processed"), "{w}");
        // Transactions complete in the prefix are exported exactly as from the clean
        // prefix (the damaged record is never read, so nothing may differ).
        let got: Vec<_> = seen.iter().map(key).collect();
        let want: Vec<_> = expected.iter().map(key).collect();
        assert_eq!(
            got, want,
            "{name}: exported transactions differ from the clean prefix"
        );
    }
}

/// The same damage through standard input: no offset (a pipe cannot tell), same rules.
#[test]
fn damage_on_standard_input_warns_and_keeps_what_came_before() {
    let good = fixture();
    let dir = tempfile::tempdir().unwrap();
    let mid = middle(&good);
    let (_, expected) = entries_of(&good[..mid], dir.path(), "clean-prefix.pcap");
    let mut huge = good.clone();
    set_u32(&mut huge, mid + 8, 0xFFFF_FFF0);
    let out = dir.path().join("stdin.out");
    let o = run_on("-", Some(&huge), &out);
    let shown = lines(&o);
    assert_eq!(o.status.code(), Some(0), "{shown:?}");
    let w: Vec<&String> = shown.iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(w.len(), 1, "{shown:?}");
    assert!(w[0].contains("standard input: damaged capture"), "{}", w[0]);
    assert!(w[0].contains("4294967280"), "{}", w[0]);
    let got: Vec<_> = read_entries(&out).iter().map(key).collect();
    let want: Vec<_> = expected.iter().map(key).collect();
    assert_eq!(got, want);
}

/// pcapng: good packets, then a block whose length field is absurd.
#[test]
fn pcapng_block_with_absurd_length_after_good_packets() {
    let good = fixture();
    let dir = tempfile::tempdir().unwrap();
    let all = records(&good);
    let half = all.len() / 2;
    let mut w = PcapngWriter::new(Vec::new(), LinkKind::Ethernet, None).unwrap();
    for (_, ts, frame) in &all[..half] {
        w.write_packet(*ts, frame).unwrap();
    }
    let clean = w.into_inner().unwrap();
    let (_, expected) = entries_of(&clean, dir.path(), "clean.pcapng");
    assert!(!expected.is_empty());
    for (name, len) in [
        ("block-huge.pcapng", 0xFFFF_FFF0u32),
        ("block-short.pcapng", 8),
    ] {
        let mut bad = clean.clone();
        bad.extend_from_slice(&6u32.to_le_bytes());
        bad.extend_from_slice(&len.to_le_bytes());
        bad.extend_from_slice(&[0u8; 64]);
        let (o, seen) = entries_of(&bad, dir.path(), name);
        let shown = lines(&o);
        assert_eq!(o.status.code(), Some(0), "{name}: {shown:?}");
        let w: Vec<&String> = shown.iter().filter(|l| l.contains("warning")).collect();
        assert_eq!(w.len(), 1, "{name}: {shown:?}");
        assert!(
            w[0].contains(name) && w[0].contains("damaged capture"),
            "{}",
            w[0]
        );
        assert!(
            w[0].contains("block"),
            "{name}: libpcap's reason missing: {}",
            w[0]
        );
        let got: Vec<_> = seen.iter().map(key).collect();
        let want: Vec<_> = expected.iter().map(key).collect();
        assert_eq!(got, want, "{name}");
    }
}

/// A record whose captured length exceeds its wire length: used as captured, reported
/// once at the end, exit 0, every transaction exported.
#[test]
fn captured_length_over_wire_length_is_used_and_reported() {
    let good = fixture();
    let dir = tempfile::tempdir().unwrap();
    let (_, expected) = entries_of(&good, dir.path(), "whole.pcap");
    let mut bad = good.clone();
    let mut n = 0;
    for (off, _, frame) in records(&good).iter().step_by(10) {
        set_u32(&mut bad, off + 12, (frame.len() as u32).saturating_sub(5));
        n += 1;
    }
    let (o, seen) = entries_of(&bad, dir.path(), "orig-short.pcap");
    let shown = lines(&o);
    assert_eq!(o.status.code(), Some(0), "{shown:?}");
    let w: Vec<&String> = shown.iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(w.len(), 1, "{shown:?}");
    assert!(
        w[0].contains(&format!("{n} records have a captured length larger")),
        "{}",
        w[0]
    );
    let got: Vec<_> = seen.iter().map(key).collect();
    let want: Vec<_> = expected.iter().map(key).collect();
    assert_eq!(got, want);
}

/// Issue 9, item 4: a file whose last record is cut inside its data (the capture tool was
/// killed while writing it). Its captured bytes are processed as a snaplen-cut packet, as
/// tshark shows them, and the warning stays: the response it starts is exported (with its
/// body short) instead of an unanswered request.
#[test]
fn a_last_record_cut_short_is_processed_as_a_snaplen_cut_packet() {
    use httshark_gen::pcap::{PcapWriter, TsResolution};
    use httshark_gen::tcp::{TcpConn, TcpParams};
    use httshark_gen::Direction as GenDir;

    let body = vec![b'x'; 400];
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n".to_vec();
    resp.extend_from_slice(&body);
    let mut c = TcpConn::new(
        0,
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
        TcpParams::default(),
        Timestamp::from_secs_nanos(1_700_000_000, 0),
    )
    .unwrap();
    c.handshake();
    c.send(
        GenDir::ToServer,
        b"GET /cut HTTP/1.1\r\nHost: a.test\r\n\r\n",
    );
    c.wait(Duration::from_millis(5));
    c.send(GenDir::ToClient, &resp);
    let mut packets = c.finish();
    // The capture ends with the response's segment.
    let last = packets
        .iter()
        .rposition(|p| p.data.windows(8).any(|w| w == b"HTTP/1.1"))
        .unwrap();
    packets.truncate(last + 1);
    let mut w = PcapWriter::new(Vec::new(), LinkKind::Ethernet, TsResolution::Micro, None).unwrap();
    for p in &packets {
        w.write_packet(p.ts, &p.data).unwrap();
    }
    let whole = w.into_inner().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (o, seen) = entries_of(&whole, dir.path(), "whole.pcap");
    assert!(o.status.success());
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].status, seen[0].resp_body), (200, 400));

    let cut = &whole[..whole.len() - 100];
    let (o, seen) = entries_of(cut, dir.path(), "cut-last.pcap");
    let shown = lines(&o);
    assert_eq!(o.status.code(), Some(0), "{shown:?}");
    let warnings: Vec<&String> = shown.iter().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{shown:?}");
    let warning = warnings[0];
    assert!(warning.contains("truncated dump file"), "{warning}");
    assert!(
        warning.contains("processed as a snaplen-cut packet"),
        "{warning}"
    );
    assert_eq!(seen.len(), 1, "{shown:?}");
    assert_eq!(seen[0].url, "http://a.test/cut");
    assert_eq!(seen[0].status, 200, "the cut response is exported");
    assert!(
        seen[0]
            .anomalies
            .iter()
            .any(|a| a == "response-interrupted"),
        "{:?}",
        seen[0].anomalies
    );
}

/// The same with a record before the cut one that is longer than the file's snapshot
/// length (libpcap shortens it and skips the rest): where the cut record starts is then
/// asked of libpcap's stream, not added up from the shortened length, so its bytes are
/// still read back, all of them.
#[test]
fn a_cut_last_record_after_one_libpcap_shortened_is_read_back() {
    use httshark_gen::pcap::{PcapWriter, TsResolution};
    use httshark_gen::tcp::{TcpConn, TcpParams};
    use httshark_gen::Direction as GenDir;

    let mut c = TcpConn::new(
        0,
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
        TcpParams::default(),
        Timestamp::from_secs_nanos(1_700_000_000, 0),
    )
    .unwrap();
    c.handshake();
    let mut req = b"POST /up HTTP/1.1\r\nHost: a.test\r\nContent-Length: 1200\r\n\r\n".to_vec();
    req.extend_from_slice(&[b'y'; 1200]);
    c.send(GenDir::ToServer, &req);
    c.wait(Duration::from_millis(5));
    c.send(
        GenDir::ToClient,
        b"HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n",
    );
    let mut packets = c.finish();
    let last = packets
        .iter()
        .rposition(|p| p.data.windows(8).any(|w| w == b"HTTP/1.1"))
        .unwrap();
    packets.truncate(last + 1);
    let response_frame = packets[last].data.len();
    assert!(
        packets.iter().any(|p| p.data.len() > 600) && response_frame < 600,
        "the request's segment must be longer than the snapshot length, the response's shorter"
    );
    let mut w = PcapWriter::new(Vec::new(), LinkKind::Ethernet, TsResolution::Micro, None).unwrap();
    for p in &packets {
        w.write_packet(p.ts, &p.data).unwrap();
    }
    let mut whole = w.into_inner().unwrap();
    set_u32(&mut whole, 16, 600);
    let kept = response_frame - 10;
    let cut = &whole[..whole.len() - 10];
    let dir = tempfile::tempdir().unwrap();
    let (o, _) = entries_of(cut, dir.path(), "cut-after-long.pcap");
    let shown = lines(&o);
    assert_eq!(o.status.code(), Some(0), "{shown:?}");
    let warning = shown
        .iter()
        .find(|l| l.contains("truncated dump file"))
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert!(
        warning.contains(&format!(
            "its {kept} captured bytes (of {response_frame}) were processed as a snaplen-cut packet"
        )),
        "{warning}"
    );
}

/// One record stamped 2038 in the middle of the capture (a damaged timestamp: here a copy
/// of the record before it, a retransmission): packet time is not moved there for the
/// rest of the file. The transactions are those of the undamaged file, the HAR files are
/// named for the capture's time, the record is counted and said. It used to idle out
/// every open connection and export its waiting requests unanswered, in a file named
/// for 2038.
#[test]
fn one_record_stamped_far_ahead_does_not_move_packet_time() {
    let good = fixture();
    let recs = records(&good);
    let at = recs[recs.len() / 2].0;
    let prev = &recs[recs.len() / 2 - 1];
    let mut damaged = good[..at].to_vec();
    let mut header = [0u8; 16];
    set_u32(&mut header, 0, 0x7fff_ffff);
    set_u32(&mut header, 8, prev.2.len() as u32);
    set_u32(&mut header, 12, prev.2.len() as u32);
    damaged.extend_from_slice(&header);
    damaged.extend_from_slice(&prev.2);
    damaged.extend_from_slice(&good[at..]);
    let dir = tempfile::tempdir().unwrap();
    let (good_path, bad_path) = (dir.path().join("good.pcap"), dir.path().join("bad.pcap"));
    std::fs::write(&good_path, &good).unwrap();
    std::fs::write(&bad_path, &damaged).unwrap();
    let key = |s: &Seen| {
        (
            s.url.clone(),
            s.status,
            s.started.clone(),
            s.anomalies.clone(),
        )
    };
    let entries = |path: &Path, out: &str| {
        let out = dir.path().join(out);
        let o = run_on(path.to_str().unwrap(), None, &out);
        assert_eq!(o.status.code(), Some(0), "{:?}", lines(&o));
        let mut seen: Vec<_> = read_entries(&out).iter().map(key).collect();
        seen.sort();
        (seen, har_files(&out), lines(&o))
    };
    let (want, _, _) = entries(&good_path, "good");
    let (got, files, said) = entries(&bad_path, "bad");
    assert!(!want.is_empty());
    assert_eq!(got, want, "the transactions of the undamaged file");
    assert!(
        files.iter().all(|f| !f.to_string_lossy().contains("2038")),
        "{files:?}"
    );
    assert!(
        said.iter()
            .any(|l| l.contains("1 records were stamped more than a day ahead")),
        "{said:?}"
    );
}

/// A capture taken with a small snapshot length (`tcpdump -s 60`) holds headers only: no
/// transaction can be found, and the summary says why and what to do.
#[test]
fn a_capture_cut_by_its_snaplen_says_so() {
    let good = fixture();
    let mut cut = good[..24].to_vec();
    set_u32(&mut cut, 16, 60);
    for (off, _, frame) in records(&good) {
        let mut header = good[off..off + 16].to_vec();
        let keep = frame.len().min(60);
        set_u32(&mut header, 8, keep as u32);
        cut.extend_from_slice(&header);
        cut.extend_from_slice(&frame[..keep]);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s60.pcap");
    std::fs::write(&path, &cut).unwrap();
    let o = run_on(path.to_str().unwrap(), None, &dir.path().join("out"));
    let said = lines(&o);
    assert_eq!(o.status.code(), Some(0), "{said:?}");
    assert!(
        said.iter()
            .any(|l| l.contains("cut by the capture's snapshot length")
                && l.contains("tcpdump -s 0")),
        "{said:?}"
    );
}
