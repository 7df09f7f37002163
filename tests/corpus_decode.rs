//! Decodes every packet of the public captures in `../shared/corpus/pcaps` (not ours; see
//! its MANIFEST.tsv) with the link type the file declares. Checks: no frame fails to
//! decode, every capture yields TCP segments with payload, the corpus exercises every
//! link type, QinQ and IPv6, and, when `tshark` is installed, every frame agrees with
//! Wireshark's dissection (TCP or not; sequence number, source port, payload length).
//! Read through libpcap directly, so a problem shows here as a decode problem, not one
//! of `capture`.
#![cfg(feature = "capture")]

use std::collections::BTreeMap;
use std::path::PathBuf;

use httshark::wire::{decode, DecodeCounters, Decoded, LinkType};

/// Where the corpus is: `$HTTSHARK_CORPUS` if set, else `../shared/corpus` next to the
/// repository, else two levels up (a git worktree under `<root>/wt/<name>`).
fn corpus_pcaps() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("HTTSHARK_CORPUS").map(PathBuf::from),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/corpus"
        ))),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/corpus"
        ))),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(|root| root.join("pcaps"))
        .find(|p| p.is_dir())
}

/// Captures known to hold frames that do not decode, and why. Empty: every frame of
/// every capture in the corpus decodes today. Add an entry only with the reason.
const KNOWN_CORRUPT: &[(&str, &str)] = &[];

/// Captures that legitimately carry no TCP payload we can see. Empty: it13_tls13-capture,
/// the one suspected, is TLS over TCP on a NULL link and has payload.
const NO_TCP_PAYLOAD_EXPECTED: &[(&str, &str)] = &[];

/// One frame as tshark sees it.
#[derive(Debug, PartialEq)]
enum TsharkFrame {
    NotTcp,
    /// Payload length, raw sequence number, source port.
    Tcp(usize, u32, u16),
    /// More than one TCP layer (an ICMP error quoting a TCP header): not compared.
    Nested,
}

/// Wireshark's view of every frame of `path`, or `None` when tshark is not installed.
fn tshark_frames(path: &std::path::Path) -> Option<Vec<TsharkFrame>> {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args([
            "-T",
            "fields",
            "-e",
            "tcp.len",
            "-e",
            "tcp.seq_raw",
            "-e",
            "tcp.srcport",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let frames = text
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                [len, ..] if len.contains(',') => TsharkFrame::Nested,
                [len, seq, port] if !len.is_empty() => {
                    match (len.parse(), seq.parse(), port.parse()) {
                        (Ok(len), Ok(seq), Ok(port)) => TsharkFrame::Tcp(len, seq, port),
                        _ => TsharkFrame::Nested,
                    }
                }
                _ => TsharkFrame::NotTcp,
            }
        })
        .collect();
    Some(frames)
}

#[test]
fn every_corpus_frame_decodes() {
    let Some(dir) = corpus_pcaps() else {
        eprintln!(
            "skipped: corpus not found (../shared/corpus next to the repository, or set \
             HTTSHARK_CORPUS); it lives outside the repository"
        );
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("read corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("pcap" | "pcapng")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no captures in {}", dir.display());

    let mut failures = Vec::new();
    let mut links_seen = BTreeMap::new();
    let (mut ipv6_segments, mut qinq_frames, mut tshark_compared) = (0u64, 0u64, 0u64);
    for path in &files {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let mut cap =
            pcap::Capture::from_file(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let dlt = cap.get_datalink().0;
        let Some(link) = LinkType::from_dlt(dlt) else {
            failures.push(format!("{stem}: DLT {dlt} not supported"));
            continue;
        };
        *links_seen.entry(format!("{link:?}")).or_insert(0) += 1;
        let wireshark = tshark_frames(path);
        let mut counts = DecodeCounters::default();
        let mut with_payload = 0u64;
        let mut first_error = None;
        let mut index = 0u64;
        loop {
            let packet = match cap.next_packet() {
                Ok(p) => p,
                Err(pcap::Error::NoMorePackets) => break,
                Err(e) => {
                    failures.push(format!("{stem}: read error after {index} packets: {e}"));
                    break;
                }
            };
            index += 1;
            let outcome = decode(link, packet.data);
            counts.record(&outcome);
            if link == LinkType::Ethernet && is_qinq(packet.data) {
                qinq_frames += 1;
            }
            if let Ok(Decoded::Tcp(seg)) = &outcome {
                ipv6_segments += u64::from(seg.src.is_ipv6());
            }
            let theirs = wireshark
                .as_ref()
                .and_then(|frames| frames.get(index as usize - 1));
            let ours = match &outcome {
                Ok(Decoded::Tcp(seg)) => {
                    TsharkFrame::Tcp(seg.payload.len(), seg.seq, seg.src.port())
                }
                _ => TsharkFrame::NotTcp,
            };
            match theirs {
                Some(TsharkFrame::Nested) | None => {}
                Some(theirs) => {
                    tshark_compared += 1;
                    if *theirs != ours {
                        failures.push(format!(
                            "{stem}: packet {index}: tshark (len, seq, sport) {theirs:?}, ours {ours:?}"
                        ));
                    }
                }
            }
            match &outcome {
                Ok(Decoded::Tcp(seg)) if !seg.payload.is_empty() => with_payload += 1,
                Err(e) if first_error.is_none() => first_error = Some((index, e.clone())),
                _ => {}
            }
        }
        eprintln!("{stem}: {link:?} {counts:?}, {with_payload} segments with payload");
        let known_corrupt = KNOWN_CORRUPT.iter().any(|(name, _)| *name == stem);
        if let Some((at, err)) = first_error {
            if !known_corrupt {
                failures.push(format!("{stem}: packet {at}: {err:?} ({counts:?})"));
            }
        } else if known_corrupt {
            failures.push(format!("{stem}: listed as corrupt but decodes cleanly"));
        }
        let payload_optional = NO_TCP_PAYLOAD_EXPECTED.iter().any(|(n, _)| *n == stem);
        if with_payload == 0 && !payload_optional {
            failures.push(format!("{stem}: no TCP segment with payload ({counts:?})"));
        }
    }
    eprintln!(
        "link types: {links_seen:?}; IPv6 segments {ipv6_segments}; QinQ frames {qinq_frames}; \
         frames compared with tshark {tshark_compared}"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The corpus is here to cover these; if it stops doing so, this test says so.
    for link in ["Ethernet", "Null", "LinuxSll", "LinuxSll2"] {
        assert!(
            links_seen.contains_key(link),
            "no {link} capture in the corpus"
        );
    }
    assert!(ipv6_segments > 0, "no IPv6 TCP segment decoded");
    assert!(qinq_frames > 0, "no QinQ frame seen");
}

/// Two stacked VLAN tags right after the MAC addresses.
fn is_qinq(frame: &[u8]) -> bool {
    let tpid = |at: usize| {
        frame
            .get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let vlan = |t: Option<u16>| matches!(t, Some(0x8100 | 0x88a8 | 0x9100));
    vlan(tpid(12)) && vlan(tpid(16))
}
