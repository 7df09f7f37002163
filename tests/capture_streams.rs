//! `-file` naming a stream rather than a regular file (a FIFO, `/dev/stdin`, `<(...)`):
//! it can be read once, so it is opened once and read by the capture alone. The search
//! for a pcapng file's Decryption Secrets Blocks used to read it first (a classic pcap
//! then lost its header: "not a pcap or pcapng file"; a pcapng stream was read to its end
//! and the capture waited for a writer that was gone).
// Tests may read the clock (deadlines, complexity guards); clippy.toml keeps it out of
// the library.
#![allow(clippy::disallowed_methods)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

/// The fixture's records as a pcapng file: a section, one Ethernet interface (microsecond
/// timestamps, the default), an Enhanced Packet Block per record.
fn as_pcapng(pcap: &[u8]) -> Vec<u8> {
    fn block(out: &mut Vec<u8>, kind: u32, body: &[u8]) {
        let pad = (4 - body.len() % 4) % 4;
        let len = (12 + body.len() + pad) as u32;
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(body);
        out.extend(std::iter::repeat_n(0u8, pad));
        out.extend_from_slice(&len.to_le_bytes());
    }
    let u32_at = |at: usize| u32::from_le_bytes(pcap[at..at + 4].try_into().unwrap());
    assert_eq!(u32_at(0), 0xa1b2_c3d4, "a little-endian microsecond pcap");
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    block(&mut out, 0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&(u32_at(20) as u16).to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&u32_at(16).to_le_bytes());
    block(&mut out, 1, &idb);
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let (secs, micros, caplen, len) =
            (u32_at(at), u32_at(at + 4), u32_at(at + 8), u32_at(at + 12));
        let data = &pcap[at + 16..at + 16 + caplen as usize];
        let ts = u64::from(secs) * 1_000_000 + u64::from(micros);
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(ts as u32).to_le_bytes());
        epb.extend_from_slice(&caplen.to_le_bytes());
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(data);
        epb.extend(std::iter::repeat_n(0u8, (4 - data.len() % 4) % 4));
        block(&mut out, 6, &epb);
        at += 16 + caplen as usize;
    }
    out
}

/// The HAR entries httshark writes for `-file path`, with a writer feeding `bytes` into
/// `path` when it is a FIFO.
fn entries_from(path: &Path, bytes: Option<Vec<u8>>, out: &Path) -> usize {
    let writer = bytes.map(|b| {
        let fifo = path.to_path_buf();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            f.write_all(&b).unwrap();
        })
    });
    let child = Command::new(bin())
        .args(["-file", path.to_str().unwrap(), "-hosts="])
        .args(["-output-folder", out.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = wait_output(child, Duration::from_secs(60));
    if let Some(w) = writer {
        w.join().expect("the writer was not cut off");
    }
    assert!(
        o.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    read_entries(out).len()
}

fn wait_output(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("httshark still reading the stream after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn a_fifo_gives_what_the_file_gives_pcap_and_pcapng() {
    let pcap = std::fs::read(repo().join("fixtures/real-curl.pcap")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [("pcap", pcap.clone()), ("pcapng", as_pcapng(&pcap))] {
        let file = dir.path().join(format!("c.{name}"));
        std::fs::write(&file, &bytes).unwrap();
        let want = entries_from(&file, None, &dir.path().join(format!("{name}-file")));
        assert!(want > 0, "{name}: the fixture has transactions");
        let fifo = dir.path().join(format!("fifo-{name}"));
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let got = entries_from(&fifo, Some(bytes), &dir.path().join(format!("{name}-fifo")));
        assert_eq!(got, want, "{name} through a FIFO");
    }
}
