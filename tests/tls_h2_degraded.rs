//! The damaged copies of the real-traffic TLS and HTTP/2 fixtures
//! (`scripts/tls-h2-degrade.sh`; issues 10 and 11, "Degraded"): a segment lost inside a
//! TLS record, captures that start after the handshake or mid-connection (with a long key
//! log too), a lost DATA segment and a lost HEADERS segment on h2c. Each comes out exact
//! against the server's log except for the rows its damage touched, which are flagged or
//! missing, never wrong (`tls_h2_support::compare_degraded`).

mod common;
mod tls_h2_support;

use std::path::Path;

use common::*;
use tls_h2_support::*;

/// Damaged copies (scripts/tls-h2-degrade.sh): (copy, its source).
const DEGRADED: &[(&str, &str)] = &[
    (
        "tls/tls12-ecdhe-rsa-aes128-sha-h1-lost-segment",
        "tls/tls12-ecdhe-rsa-aes128-sha-h1",
    ),
    (
        "tls/tls13-aes-128-gcm-h1-midstream",
        "tls/tls13-aes-128-gcm-h1",
    ),
    ("h2/h2c-prior-nginx-lost-data", "h2/h2c-prior-nginx"),
    (
        "h2/h2c-many-streams-nginx-lost-headers",
        "h2/h2c-many-streams-nginx",
    ),
    ("tls/tls13-h2-parallel-midstream", "tls/tls13-h2-parallel"),
];

#[test]
fn damaged_copies_are_what_they_claim() {
    for (copy, source) in DEGRADED {
        let c = scenario(copy);
        let s = scenario(source);
        let rows = read_expected(&c.expected);
        assert_eq!(
            rows,
            read_expected(&s.expected),
            "{copy}: the source's truth"
        );
        let affected = read_affected(&fixtures_dir().join(format!("{copy}.affected")));
        assert!(!affected.is_empty(), "{copy}");
        assert!(
            affected.len() < rows.len(),
            "{copy}: something stays intact"
        );
        for a in &affected {
            assert!(rows.iter().any(|r| &r.uri == a), "{copy}: {a} is not a row");
        }
        let read = |k: &Option<std::path::PathBuf>| k.as_ref().map(|k| std::fs::read(k).unwrap());
        assert_eq!(read(&c.keys), read(&s.keys), "{copy}: the source's key log");
        let frames = |p: &Path| pcap_frame_count(&std::fs::read(p).unwrap()).unwrap();
        let (nc, ns) = (frames(&c.pcap), frames(&s.pcap));
        if copy.ends_with("-lost-segment")
            || copy.ends_with("-lost-data")
            || copy.ends_with("-lost-headers")
        {
            assert_eq!(nc + 1, ns, "{copy}: one frame less");
        } else {
            // Starts after the handshake: its frames (at least 15) are not there.
            assert!(nc + 15 < ns, "{copy}: {nc} of {ns} frames");
        }
    }
}

/// A TCP segment lost inside a TLS 1.2 CBC record of a 100 000-byte response: that
/// response is flagged (or missing), the later requests on the connection are exact.
#[test]
fn tls12_lost_segment_resyncs_at_a_later_record() {
    check_degraded(DEGRADED[0].0);
}

/// A TLS 1.3 capture that starts after the handshake (at the second request): no
/// ClientHello, so the secrets are found by trial; the first exchange is not there.
#[test]
fn tls13_capture_starting_after_the_handshake() {
    check_degraded(DEGRADED[1].0);
}

/// The same capture starting after the handshake, with its secrets after those of 40
/// other TLS 1.3 sessions in the key log (as in a browser's log): the trial reaches every
/// logged secret at the first sequence numbers before any at later ones, so it is found
/// within `TLS_ORPHAN_MAX_TRIALS` all the same.
#[test]
fn tls13_capture_starting_after_the_handshake_with_a_long_key_log() {
    let name = DEGRADED[1].0;
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..40u32 {
        let hex = |tag: u32| format!("{:08x}", i * 16 + tag).repeat(8);
        for (label, tag) in [
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 1),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", 2),
            ("CLIENT_TRAFFIC_SECRET_0", 3),
            ("SERVER_TRAFFIC_SECRET_0", 4),
        ] {
            text.push_str(&format!("{label} {} {}\n", hex(0), hex(tag)));
        }
    }
    text.push_str(&std::fs::read_to_string(scenario(name).keys.unwrap()).unwrap());
    let keys = dir.path().join("long.keys");
    std::fs::write(&keys, text).unwrap();
    check_degraded_with_keys(name, Some(&keys));
}

/// What a degraded scenario's damage allows beyond the truth: (a flag every entry must
/// carry, flags any entry may carry). A capture that starts mid-connection flags every
/// entry `midstream-pickup`; on HTTP/2 every header block after it was decoded without
/// the HPACK state (`hpack-desync`). A lost HEADERS segment loses the server direction's
/// framing and HPACK state: the streams open in it are flagged `frames-lost`, the blocks
/// decoded after it `hpack-desync`, but their content must still be exact.
fn damage_flags(name: &str) -> (Option<&'static str>, &'static [&'static str]) {
    if name.contains("h2") && name.contains("midstream") {
        (Some("midstream-pickup"), &["hpack-desync"])
    } else if name.contains("midstream") {
        (Some("midstream-pickup"), &[])
    } else if name.ends_with("-lost-headers") {
        (None, &["frames-lost", "hpack-desync"])
    } else {
        (None, &[])
    }
}

/// A segment lost wholly inside the DATA payload of h2c stream 1 (big.bin, five
/// concurrent streams): only that stream is damaged (flagged or missing); no frame header
/// or header block was lost, so the other four streams are exact.
#[test]
fn h2c_lost_data_segment_damages_only_its_stream() {
    check_degraded(DEGRADED[2].0);
}

/// A segment holding only the response HEADERS of one of 24 concurrent h2c streams is
/// lost: that stream is flagged (no response head); the framing and HPACK state of the
/// server's direction are found again, so every later stream comes out with its exact
/// content (flagged `frames-lost`/`hpack-desync` only).
#[test]
fn h2c_lost_headers_segment_later_streams_exact() {
    check_degraded(DEGRADED[3].0);
}

/// HTTP/2 over TLS 1.3 picked up mid-connection (no handshake, so no ALPN; no preface;
/// HPACK state unknown): the protocol is found by its frames inside the decrypted records
/// and the seven requests in the capture come out exact, flagged `midstream-pickup` and
/// `hpack-desync`; the earlier streams' responses are flagged `request-lost`.
#[test]
fn tls13_h2_capture_starting_mid_connection() {
    check_degraded(DEGRADED[4].0);
}

fn check_degraded(name: &str) {
    check_degraded_with_keys(name, scenario(name).keys.as_deref());
}

fn check_degraded_with_keys(name: &str, keys: Option<&Path>) {
    let s = scenario(name);
    let dir = tempfile::tempdir().unwrap();
    let keys = keys.map(|k| k.display().to_string());
    let mut args: Vec<&str> = match &keys {
        Some(k) => vec!["-tls-keylog", k],
        None => Vec::new(),
    };
    let (required, tolerated) = damage_flags(name);
    if required.is_some() {
        // A pickup: its TLS 1.3 secret is found by trial.
        args.push("-tls-pickup-trial");
    }
    run_file(&s.pcap, dir.path(), &args);
    let affected = read_affected(&fixtures_dir().join(format!("{name}.affected")));
    let mut seen = read_entries(dir.path());
    assert!(!seen.is_empty(), "{name}: no entry");
    if let Some(flag) = required {
        for s in &mut seen {
            assert!(
                s.anomalies.iter().any(|a| a == flag),
                "{name}: {} not flagged {flag}",
                s.url
            );
            s.anomalies.retain(|a| a != flag);
        }
    }
    for s in &mut seen {
        s.anomalies.retain(|a| !tolerated.contains(&a.as_str()));
    }
    if required.is_some() && name.contains("h2") {
        // HTTP/2 streams whose request went before the pickup: only their responses are
        // there, under a placeholder request that must say so. As many as the rows the
        // capture lost at most.
        let before = seen.len();
        seen.retain(|s| !s.anomalies.iter().any(|a| a == "request-lost"));
        assert!(before - seen.len() <= affected.len(), "{name}");
    }
    if let Err(e) = compare_degraded(
        &read_expected(&s.expected),
        &affected,
        &seen,
        Checks::default(),
    ) {
        panic!("{name}:\n{e}");
    }
}
