//! `-redact-headers` end to end: the whole binary on `fixtures/real-curl.pcap` (real curl
//! traffic with `Cookie: sid=abc123; theme=dark` and `Set-Cookie: sid=abc123`) writes the
//! marker and never the values, in every output that holds headers (HAR files, sampled HAR
//! files, ndjson, the console view), with sizes identical to an unredacted run; and
//! hand-built transactions carrying credentials everywhere a header can be (request,
//! response, 1xx, trailers) give schema-valid HAR without a trace of them.

mod common;
mod outputs_support;

use std::fs;
use std::path::Path;
use std::process::Command;

use httshark::model::{Header, Interim, Transaction};
use httshark::processor::har_file::HarFileProcessor;
use httshark::processor::Processor;
use httshark::transform::redact::{Redaction, MARKER};
use serde_json::Value;

use common::{bin, repo, run_file, validate_har_dir};
use outputs_support::{assert_valid_har, at, files, h, tx};

const SECRETS: &[&str] = &["abc123", "theme=dark", "\"dark\"", "curl/"];

fn pcap() -> std::path::PathBuf {
    repo().join("fixtures/real-curl.pcap")
}

/// Every entry of every `.har` file in `dir`, in file then entry order.
fn har_entries(dir: &Path) -> Vec<Value> {
    let mut out = Vec::new();
    for f in files(dir) {
        if f.extension().is_some_and(|x| x == "har") {
            let v: Value = serde_json::from_slice(&fs::read(&f).unwrap()).unwrap();
            out.extend(v["log"]["entries"].as_array().unwrap().iter().cloned());
        }
    }
    out
}

fn header_values<'a>(side: &'a Value, name: &str) -> Vec<&'a str> {
    side["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
        .map(|h| h["value"].as_str().unwrap())
        .collect()
}

fn cookie_pairs(side: &Value) -> Vec<(String, String)> {
    side["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn real_curl_capture_redacted_in_every_output() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tmp.path().join("plain");
    let red = tmp.path().join("red");
    let sampled = tmp.path().join("sampled");
    let ndjson = tmp.path().join("entries.ndjson");
    run_file(&pcap(), &plain, &[]);
    let o = run_file(
        &pcap(),
        &red,
        &[
            "-redact-headers",
            "Cookie,set-cookie,USER-AGENT",
            "-har-processors",
            "file,sampled-transactions,ndjson",
            "-sampled-transactions-folder",
            sampled.to_str().unwrap(),
            "-sample-transactions-rate",
            "1000",
            "-ndjson-file",
            ndjson.to_str().unwrap(),
        ],
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("transactions"));

    // The unredacted run does hold the values: the test can fail.
    let plain_text: String = files(&plain)
        .iter()
        .map(|f| fs::read_to_string(f).unwrap())
        .collect();
    for s in SECRETS {
        assert!(plain_text.contains(s), "fixture lacks {s}");
    }

    let mut outputs = files(&red);
    outputs.extend(files(&sampled));
    outputs.push(ndjson.clone());
    assert!(outputs.len() >= 3, "{outputs:?}");
    for f in &outputs {
        let text = fs::read_to_string(f).unwrap();
        assert!(text.contains(MARKER), "{}: no marker", f.display());
        for s in SECRETS {
            assert!(!text.contains(s), "{}: {s} leaked", f.display());
        }
    }

    // Same entries, same sizes, same header names; only the listed values changed.
    let (a, b) = (har_entries(&plain), har_entries(&red));
    assert_eq!(a.len(), b.len());
    assert!(!a.is_empty());
    let mut seen_cookie = false;
    for (pa, pb) in a.iter().zip(&b) {
        assert_eq!(pa["request"]["url"], pb["request"]["url"]);
        assert_eq!(pa["request"]["queryString"], pb["request"]["queryString"]);
        assert_eq!(pa["_wireBytes"], pb["_wireBytes"]);
        for side in ["request", "response"] {
            let (x, y) = (&pa[side], &pb[side]);
            for size in ["headersSize", "bodySize"] {
                assert_eq!(x[size], y[size], "{side}.{size}");
            }
            let names = |v: &Value| -> Vec<Value> {
                v["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| h["name"].clone())
                    .collect()
            };
            assert_eq!(names(x), names(y));
            for hdr in y["headers"].as_array().unwrap() {
                let name = hdr["name"].as_str().unwrap().to_ascii_lowercase();
                let value = hdr["value"].as_str().unwrap();
                match name.as_str() {
                    "user-agent" => assert_eq!(value, MARKER),
                    "cookie" | "set-cookie" => assert!(value.contains(MARKER), "{value}"),
                    _ => assert!(!value.contains(MARKER), "{name} redacted: {value}"),
                }
            }
            // Cookie names kept, values gone.
            let (ca, cb) = (cookie_pairs(x), cookie_pairs(y));
            assert_eq!(ca.len(), cb.len());
            for ((na, _), (nb, vb)) in ca.iter().zip(&cb) {
                seen_cookie = true;
                assert_eq!(na, nb);
                assert_eq!(vb, MARKER);
            }
        }
        if !header_values(&pa["request"], "cookie").is_empty() {
            assert_eq!(
                header_values(&pb["request"], "cookie"),
                ["sid=[redacted]; theme=[redacted]"]
            );
        }
    }
    assert!(seen_cookie, "the capture has cookies");
    validate_har_dir(&red);
    validate_har_dir(&sampled);
}

#[test]
fn console_head_prints_the_marker() {
    let out = Command::new(bin())
        .args([
            "-file",
            pcap().to_str().unwrap(),
            "-hosts=",
            "-har-processors",
            "console",
            "-head",
            "-redact-headers=user-agent,Cookie",
        ])
        .current_dir(tempfile::tempdir().unwrap().path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("> User-Agent: [redacted]"), "{stdout}");
    assert!(
        stdout.contains("> Cookie: sid=[redacted]; theme=[redacted]"),
        "{stdout}"
    );
    assert!(!stdout.contains("curl/"), "{stdout}");
    assert!(
        stdout
            .lines()
            .filter(|l| l.starts_with("> "))
            .all(|l| !l.contains("abc123") && !l.contains("dark")),
        "{stdout}"
    );
    // Not listed, so still printed as sent.
    assert!(stdout.contains("< Set-Cookie: sid=abc123"), "{stdout}");
}

#[test]
fn bad_lists_are_refused_before_capture() {
    let dir = tempfile::tempdir().unwrap();
    for (list, needle) in [
        ("Host", "Host can't be redacted"),
        ("Authorization,Bad Name", "not a header field name"),
    ] {
        let out = Command::new(bin())
            .args(["-file", pcap().to_str().unwrap(), "-redact-headers", list])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{stderr}");
    }
    let out = Command::new(bin())
        .args([
            "-file",
            pcap().to_str().unwrap(),
            "-redact-headers=X-Tenant",
            "-har-processors=sites-stats",
            "-stats-group-by=header:x-tenant",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-stats-group-by header:x-tenant"));
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

/// Credentials in every header position a transaction has.
fn loaded() -> Transaction {
    let mut t = tx(7, 0);
    t.request.headers.extend([
        h("Authorization", "Basic dXNlcjpodW50ZXIy"),
        h("proxy-authorization", "Bearer pr0xy-t0ken"),
        h("Cookie", "session=c00kie-v4lue; lang=en-x"),
    ]);
    t.request.body.trailers = vec![h("AUTHORIZATION", "Bearer tr4iler")];
    let r = t.response.as_mut().unwrap();
    r.headers.extend([
        h(
            "Set-Cookie",
            "session=s3t-v4lue; Path=/app; Secure; HttpOnly",
        ),
        h("Content-Length", "2"),
    ]);
    r.interim = vec![Interim {
        status: 103,
        reason: "Early Hints".into(),
        version: httshark::model::HttpVersion::Http11,
        headers: vec![Header {
            name: "Set-Cookie".into(),
            value: "early=e4rly-v4lue".into(),
        }],
        head_len: 30,
        ts: at(2),
    }];
    r.body.trailers = vec![h("Proxy-Authorization", "Basic cmVzcHRyYWlsZXI=")];
    t
}

const LOADED_SECRETS: &[&str] = &[
    "dXNlcjpodW50ZXIy",
    "pr0xy-t0ken",
    "c00kie-v4lue",
    "en-x",
    "tr4iler",
    "s3t-v4lue",
    "e4rly-v4lue",
    "cmVzcHRyYWlsZXI",
];

#[test]
fn credentials_everywhere_leave_no_trace_and_validate() {
    let tmp = tempfile::tempdir().unwrap();
    let redaction =
        Redaction::parse("Authorization,Proxy-Authorization,Cookie,Set-Cookie").unwrap();
    let mut t = loaded();
    let before = t.clone();
    redaction.apply(&mut t);
    let mut p = HarFileProcessor::new(
        tmp.path().to_path_buf(),
        true,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    p.on_transaction(&t).unwrap();
    p.finish(at(60_000)).unwrap();
    let written = files(tmp.path());
    assert_eq!(written.len(), 1);
    let text = fs::read_to_string(&written[0]).unwrap();
    for s in LOADED_SECRETS {
        assert!(!text.contains(s), "{s} leaked: {text}");
    }
    let v: Value = serde_json::from_str(&text).unwrap();
    let e = &v["log"]["entries"][0];
    assert_eq!(header_values(&e["request"], "authorization"), [MARKER]);
    assert_eq!(
        header_values(&e["request"], "Proxy-Authorization"),
        [MARKER]
    );
    assert_eq!(
        cookie_pairs(&e["request"]),
        [
            ("session".to_string(), MARKER.to_string()),
            ("lang".to_string(), MARKER.to_string())
        ]
    );
    let c = &e["response"]["cookies"][0];
    assert_eq!(
        (c["name"].as_str(), c["value"].as_str()),
        (Some("session"), Some(MARKER))
    );
    assert_eq!(
        (c["path"].as_str(), c["secure"].as_bool()),
        (Some("/app"), Some(true))
    );
    assert_eq!(e["_requestTrailers"][0]["value"], MARKER);
    assert_eq!(e["_responseTrailers"][0]["value"], MARKER);
    assert_eq!(
        e["_interimResponses"][0]["headers"][0]["value"],
        "early=[redacted]"
    );
    // Unlisted headers and all sizes as they were.
    assert_eq!(header_values(&e["response"], "content-length"), ["2"]);
    assert_eq!(e["request"]["headersSize"], before.request.head_len);
    assert_eq!(e["response"]["headersSize"], 60);
    assert_eq!(e["response"]["bodySize"], 2);
    assert_eq!(e["_interimResponses"][0]["headersSize"], 30);
    assert_eq!(e["_wireBytes"], before.wire_bytes());
    assert_valid_har(&written);
}
