//! httshark's outputs on the real-traffic TLS fixtures of `fixtures/tls/` beyond the
//! per-scenario comparison of `tls_h2_fixtures.rs` (issue 10): the default filter with TLS
//! secrets, HAR `timings.ssl` and `connect` against the handshake packets, the CBC record
//! layouts the fixtures cover, and `-tls-keylog` given more than once.

mod common;
mod tls_h2_support;

use std::path::Path;
use std::process::Command;

use common::*;
use tls_h2_support::*;

/// The issue's own commands, with no -hosts: TLS secrets (a key log, or the pcapng's own)
/// make the default filter watch 443 as well as 80, so HTTPS on 443 is decrypted; without
/// secrets the default stays HttShark's `:80`.
#[test]
fn https_on_443_needs_no_hosts_flag_when_secrets_are_given() {
    let dir = fixtures_dir().join("tls");
    let expected = read_expected(&dir.join("tls13-aes-128-gcm-h2.expected.tsv"));
    let pcap = dir.join("tls13-aes-128-gcm-h2.pcap");
    let keys = dir.join("tls13-aes-128-gcm-h2.keys");
    let dsb = dir.join("tls13-aes-128-gcm-h2-dsb.pcapng");
    let p = |p: &Path| p.to_str().unwrap().to_string();
    for (args, decrypted) in [
        (
            vec!["-file".into(), p(&pcap), "-tls-keylog".into(), p(&keys)],
            true,
        ),
        (vec!["-file".into(), p(&dsb)], true),
        (vec!["-file".into(), p(&pcap)], false),
    ] {
        let out = tempfile::tempdir().unwrap();
        let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
        a.extend(["-output-folder", out.path().to_str().unwrap()]);
        let o = common::run(&a);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{a:?}: {stderr}");
        let seen = read_entries(out.path());
        if decrypted {
            assert!(stderr.contains("(-hosts :80,:443)"), "{a:?}: {stderr}");
            if let Err(e) = compare(&expected, &seen, Checks::default()) {
                panic!("{a:?}:\n{e}");
            }
        } else {
            assert!(stderr.contains("(-hosts :80)"), "{stderr}");
            assert!(seen.is_empty(), "{seen:?}");
        }
    }
}

/// HAR `timings.ssl` and `timings.connect` of the first request of each TLS connection,
/// in milliseconds, against the packet times tshark shows for these captures (with their
/// key logs): `ssl` = first ClientHello to the later Finished, `connect` = SYN to that
/// Finished. Full handshakes of both versions, a HelloRetryRequest (from the first
/// ClientHello), a TLS 1.2 resumption; a 0-RTT request, sent before the handshake ended,
/// has no `ssl` and `connect` is the TCP handshake's. Later requests have -1 for both.
#[test]
fn har_ssl_and_connect_timings_come_from_the_handshake_packets() {
    // (scenario, [(client port, connect, ssl)]) for each connection's first entry.
    type FirstEntry = (i64, f64, f64);
    let cases: &[(&str, &[FirstEntry])] = &[
        ("tls/tls13-aes-128-gcm-h1", &[(0, 23.026, 1.538)]),
        (
            "tls/tls12-ecdhe-rsa-aes128-gcm-sha256-h1",
            &[(0, 14.083, 4.114)],
        ),
        ("tls/tls13-hrr-h2", &[(54460, 15.69, 3.986)]),
        (
            "tls/tls12-resume-sessionid",
            &[(44578, 14.61, 1.933), (44582, 6.164, 0.439)],
        ),
        (
            "tls/tls13-0rtt",
            &[(52928, 15.73, 1.905), (52938, 0.064, -1.0)],
        ),
    ];
    for (name, firsts) in cases {
        let s = scenario(name);
        let dir = tempfile::tempdir().unwrap();
        let keys = s.keys.as_ref().unwrap().display().to_string();
        run_file(&s.pcap, dir.path(), &["-tls-keylog", &keys]);
        let seen = read_entries(dir.path());
        assert!(!seen.is_empty(), "{name}");
        let mut ports: Vec<i64> = seen
            .iter()
            .map(|e| e.raw["_clientPort"].as_i64().unwrap())
            .collect();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), firsts.len(), "{name}: connections");
        for e in &seen {
            let port = e.raw["_clientPort"].as_i64().unwrap();
            let t = &e.raw["timings"];
            let got = (t["connect"].as_f64().unwrap(), t["ssl"].as_f64().unwrap());
            let want = match (e.depth, firsts.len()) {
                (1, 1) => (firsts[0].1, firsts[0].2),
                (1, _) => {
                    let f = firsts.iter().find(|f| f.0 == port).expect("a known port");
                    (f.1, f.2)
                }
                _ => (-1.0, -1.0),
            };
            assert!(
                (got.0 - want.0).abs() < 0.0015 && (got.1 - want.1).abs() < 0.0015,
                "{name} {}: (connect, ssl) {got:?}, want {want:?}",
                e.url
            );
            if want.1 > 0.0 {
                assert!(got.0 >= got.1, "connect includes ssl");
            }
        }
    }
}

/// The CBC scenarios cover both record layouts of TLS 1.2 CBC: nginx's negotiate
/// encrypt-then-MAC (RFC 7366, extension 22 in the ServerHello), Python's was made without
/// it (MAC-then-encrypt); both decrypt exactly (the scenario tests above). Read with
/// tshark; skipped with a message when it is not installed.
#[test]
fn cbc_scenarios_cover_encrypt_then_mac_and_mac_then_encrypt() {
    let tshark = Path::new("/usr/bin/tshark");
    if !tshark.exists() {
        eprintln!("SKIPPED encrypt-then-MAC check: /usr/bin/tshark is not installed");
        return;
    }
    for (name, etm) in [
        ("tls/tls12-ecdhe-rsa-aes128-sha-h1", true),
        ("tls/tls12-ecdhe-rsa-aes256-sha384-h1", true),
        ("tls/tls12-aes128-sha256-h1", true),
        ("tls/tls12-ecdhe-rsa-aes128-sha-h2", true),
        ("tls/python-tls12-cbc-noetm-h1", false),
    ] {
        let o = Command::new(tshark)
            .arg("-r")
            .arg(scenario(name).pcap)
            .args(["-d", "tcp.port==8444,tls", "-d", "tcp.port==443,tls"])
            .args(["-Y", "tls.handshake.type == 2", "-T", "fields"])
            .args(["-e", "tls.handshake.extension.type"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        let types: Vec<&str> = out.trim().split(',').collect();
        assert!(types.len() > 1, "{name}: no ServerHello extensions: {out}");
        assert_eq!(types.contains(&"22"), etm, "{name}: {out}");
    }
}

/// `-tls-keylog` is repeatable: the 0-RTT scenario's key log split by session into two
/// files, both given, decrypts everything; one alone decrypts only its own connection
/// (and the other is counted as `tls_no_key`).
#[test]
fn tls_keylog_is_repeatable() {
    let s = scenario("tls/tls13-0rtt");
    let text = std::fs::read_to_string(s.keys.as_ref().unwrap()).unwrap();
    let mut randoms: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(' ').nth(1))
        .collect();
    randoms.sort();
    randoms.dedup();
    assert_eq!(randoms.len(), 2);
    let dir = tempfile::tempdir().unwrap();
    let part = |r: &str| {
        let p = dir.path().join(format!("{}.keys", &r[..8]));
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(r)).collect();
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p.display().to_string()
    };
    let (a, b) = (part(randoms[0]), part(randoms[1]));
    let out = dir.path().join("both");
    run_file(&s.pcap, &out, &["-tls-keylog", &a, "-tls-keylog", &b]);
    if let Err(e) = compare(
        &read_expected(&s.expected),
        &read_entries(&out),
        Checks::default(),
    ) {
        panic!("both key logs:\n{e}");
    }
    let out = dir.path().join("one");
    let o = run_file(&s.pcap, &out, &["-tls-keylog", &a]);
    let seen = read_entries(&out);
    assert!(!seen.is_empty() && seen.len() < read_expected(&s.expected).len());
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(summary_counter(&stderr, "tls_no_key"), 1, "{stderr}");
}
