//! An independent check that the generated traffic is valid HTTP: tshark's own TCP
//! reassembly and HTTP dissector must find exactly the requests and responses of the
//! ground truth. Skipped (with a message) when tshark is not installed.

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;

use httshark_gen::http::Framing;
use httshark_gen::scenario::{Event, Scenario};
use httshark_gen::{
    parse_expected_tsv, write_capture, write_capture_with_keylog, ExpectedTx, GenConfig,
    HttpParams, LinkKind, Suite, TlsParams,
};

const TSHARK: &str = "/usr/bin/tshark";

/// tshark's `fields` on `pcap`, after the options `opts` (a key log, decode-as rules).
fn tshark_fields(pcap: &Path, opts: &[String], filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new(TSHARK);
    cmd.arg("-r")
        .arg(pcap)
        .args(opts)
        .args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn check(pcap: &Path, txs: &[ExpectedTx], opts: &[String]) {
    let mut got: Vec<Vec<String>> = tshark_fields(
        pcap,
        opts,
        "http.request",
        &["http.request.method", "http.host", "http.request.uri"],
    );
    let mut want: Vec<Vec<String>> = txs
        .iter()
        .map(|t| vec![t.method.clone(), t.host.clone(), t.uri.clone()])
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "requests tshark sees vs ground truth");

    // Final responses (interim 100 Continue excluded), per client and status. Wireshark
    // frames a HEAD response by the HEAD request it matched; when the next request was
    // pipelined behind the HEAD it loses that match, reads the Content-Length as a body and
    // swallows the next response. Those connections are only checked for "no more than".
    let mut pipelined_head: HashSet<SocketAddr> = txs
        .windows(2)
        .filter(|w| {
            w[0].conn_index == w[1].conn_index && w[0].method == "HEAD" && w[1].in_flight > 0
        })
        .map(|w| w[0].client)
        .collect();
    // Over TLS (`opts` has the key log), tshark does not end a response delimited by the
    // server's close (RFC 9112 section 6.3 rule 8): its HTTP-over-TLS reassembly never sees
    // the TCP FIN. Those connections are only checked for "no more than" too.
    if !opts.is_empty() {
        pipelined_head.extend(
            txs.iter()
                .filter(|t| t.resp_framing == Framing::Close)
                .map(|t| t.client),
        );
    }
    let mut codes: Vec<(SocketAddr, String)> = tshark_fields(
        pcap,
        opts,
        "http.response && http.response.code != 100",
        &["ip.dst", "ipv6.dst", "tcp.dstport", "http.response.code"],
    )
    .into_iter()
    // A frame that ends several responses (TLS records decrypted together) lists their
    // codes comma-separated.
    .flat_map(|f| {
        let ip: IpAddr = format!("{}{}", f[0], f[1]).parse().expect("client address");
        let client = SocketAddr::new(ip, f[2].parse().expect("port"));
        f[3].split(',')
            .filter(|c| *c != "100")
            .map(|c| (client, c.to_string()))
            .collect::<Vec<_>>()
    })
    .collect();
    let mut want_codes: Vec<(SocketAddr, String)> = txs
        .iter()
        .filter_map(|t| t.status.map(|s| (t.client, s.to_string())))
        .collect();
    for c in &pipelined_head {
        let n_got = codes.iter().filter(|(a, _)| a == c).count();
        let n_want = want_codes.iter().filter(|(a, _)| a == c).count();
        assert!(n_got <= n_want, "{c}: {n_got} responses, {n_want} sent");
    }
    codes.retain(|(a, _)| !pipelined_head.contains(a));
    want_codes.retain(|(a, _)| !pipelined_head.contains(a));
    codes.sort();
    want_codes.sort();
    assert!(!want_codes.is_empty());
    assert_eq!(codes, want_codes, "response codes");
    let continues = tshark_fields(
        pcap,
        opts,
        "http.response.code == 100",
        &["http.response.code"],
    )
    .len();
    assert_eq!(
        continues,
        txs.iter().filter(|t| t.resp_interim_len > 0).count()
    );
}

#[test]
fn tshark_sees_the_fixture_requests() {
    if !Path::new(TSHARK).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs tshark (.ci/run)"
        );
        eprintln!("skipping: {TSHARK} not installed");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let text = std::fs::read_to_string(dir.join("generated-small.expected.tsv")).unwrap();
    let txs: Vec<ExpectedTx> = parse_expected_tsv(&text)
        .unwrap()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert!(!txs.is_empty());
    check(&dir.join("generated-small.pcap"), &txs, &[]);
}

#[test]
fn tshark_sees_ipv6_sll_mixed_traffic() {
    if !Path::new(TSHARK).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs tshark (.ci/run)"
        );
        eprintln!("skipping: {TSHARK} not installed");
        return;
    }
    let mut p = HttpParams::mixed(9);
    p.connections = Some(30);
    p.ipv6 = true;
    p.tcp.link = LinkKind::LinuxSll;
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.pcap");
    let mut tsv = Vec::new();
    write_capture(
        &GenConfig::new(p),
        std::fs::File::create(&path).unwrap(),
        Some(&mut tsv),
    )
    .unwrap();
    let txs: Vec<ExpectedTx> = parse_expected_tsv(std::str::from_utf8(&tsv).unwrap())
        .unwrap()
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    check(&path, &txs, &[]);
}

/// The generator's TLS 1.3 mode, read by an independent decryptor: with the key log,
/// tshark finds exactly the ground truth's requests and responses (but for the midstream
/// connections, which have no hellos and no secrets), for each suite.
#[test]
fn tshark_decrypts_generated_tls_to_the_ground_truth() {
    if !Path::new(TSHARK).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs tshark (.ci/run)"
        );
        eprintln!("skipping: {TSHARK} not installed");
        return;
    }
    for suite in Suite::ALL {
        let mut p = HttpParams::mixed(4);
        p.connections = Some(40);
        p.tls = Some(TlsParams {
            suite,
            ..TlsParams::default()
        });
        let midstream: HashSet<u32> = Scenario::new(p.clone(), None)
            .filter_map(|e| match e {
                Event::Conn(c) if c.midstream => Some(c.index),
                _ => None,
            })
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        let (path, keys) = (tmp.path().join("t.pcap"), tmp.path().join("t.keys"));
        let mut tsv = Vec::new();
        write_capture_with_keylog(
            &GenConfig::new(p),
            std::fs::File::create(&path).unwrap(),
            Some(&mut tsv),
            Some(std::fs::File::create(&keys).unwrap()),
        )
        .unwrap();
        let txs: Vec<ExpectedTx> = parse_expected_tsv(std::str::from_utf8(&tsv).unwrap())
            .unwrap()
            .into_iter()
            .map(|(t, _)| t)
            .filter(|t| !midstream.contains(&t.conn_index))
            .collect();
        assert!(!midstream.is_empty() && !txs.is_empty());
        // The generator keeps the plaintext scenario's ports (80, 8080): tshark must be
        // told these are TLS.
        let opts: Vec<String> = [
            "-o".to_string(),
            format!("tls.keylog_file:{}", keys.display()),
            "-d".to_string(),
            "tcp.port==80,tls".to_string(),
            "-d".to_string(),
            "tcp.port==8080,tls".to_string(),
        ]
        .into();
        check(&path, &txs, &opts);
        let malformed = tshark_fields(&path, &opts, "_ws.malformed", &["frame.number"]);
        assert!(
            malformed.is_empty(),
            "{suite:?}: malformed frames {malformed:?}"
        );
    }
}

/// The TCP stack behaviours of `httshark_gen::stack` are valid TCP to tshark: its own
/// reassembly finds the ground truth's requests and responses in each (the overlap case
/// excepted: its two copies of the second request are the point, and tshark's own policy
/// decides what it shows).
#[test]
fn tshark_sees_the_stack_cases_requests() {
    use httshark_gen::stack::{self, Case};
    if !Path::new(TSHARK).exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs tshark (.ci/run)"
        );
        eprintln!("skipping: {TSHARK} not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for case in Case::ALL {
        if case == Case::OverlapConflict {
            continue;
        }
        let pcap = dir.path().join(format!("{}.pcap", case.as_str()));
        let file = std::io::BufWriter::new(std::fs::File::create(&pcap).unwrap());
        let cap = stack::write_case(case, 1, file, std::io::sink()).unwrap();
        check(&pcap, &cap.txs, &[]);
    }
}
