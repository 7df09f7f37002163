//! HTTP/2 on public captures (`../shared/corpus`, skipped when absent): the h2c Upgrade
//! of suricata-verify's `http2-h2c-upgrade` gives the upgraded `/robots.txt` (its HTTP/1.1
//! request, the 101 as interim, the 200 from stream 1) and `/humans.txt` (404, stream 3),
//! and, where tshark is installed, the same streams, statuses and body sizes as
//! Wireshark's HTTP/2 dissector.

mod common;

use std::process::Command;

use common::*;

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Stream {
    id: u64,
    path: String,
    status: i64,
    body: i64,
}

fn ours(pcap: &std::path::Path) -> (Vec<Seen>, Vec<Stream>) {
    let dir = tempfile::tempdir().unwrap();
    run_file(pcap, dir.path(), &[]);
    validate_har_dir(dir.path());
    let seen = read_entries(dir.path());
    let mut streams: Vec<Stream> = seen
        .iter()
        .map(|s| Stream {
            id: s.raw["_streamId"].as_u64().unwrap_or(0),
            path: s.target.clone(),
            status: s.status,
            body: s.resp_body,
        })
        .collect();
    streams.sort();
    (seen, streams)
}

#[test]
fn the_h2c_upgrade_capture_gives_the_upgraded_request_and_stream_3() {
    let Some(corpus) = corpus() else {
        eprintln!("SKIPPED: ../shared/corpus is absent");
        return;
    };
    let pcap = corpus.join("pcaps/sv_http2-h2c-upgrade.pcap");
    let (seen, streams) = ours(&pcap);
    assert_eq!(
        streams,
        [
            Stream {
                id: 1,
                path: "/robots.txt".into(),
                status: 200,
                body: 62
            },
            Stream {
                id: 3,
                path: "/humans.txt".into(),
                status: 404,
                body: 9
            },
        ]
    );
    let up = &seen[0].raw;
    assert_eq!(up["request"]["httpVersion"], "HTTP/1.1");
    assert_eq!(up["response"]["httpVersion"], "http/2.0");
    assert_eq!(up["_upgraded"], true);
    assert_eq!(up["_interimResponses"][0]["status"], 101);
    assert_eq!(up["request"]["url"], "http://nghttp2.org/robots.txt");
    let h2 = &seen[1].raw;
    assert_eq!(h2["request"]["url"], "http://nghttp2.org/humans.txt");
    assert_eq!(h2["request"]["headersSize"], -1);
    assert_eq!(h2["request"]["headers"][0]["name"], ":method");
    // The capture starts after the handshake; nothing else is wrong with it.
    for s in &seen {
        assert_eq!(s.anomalies, ["midstream-pickup"], "{:?}", s.raw);
    }
}

/// Wireshark follows the h2c Upgrade on its own (port 80 is HTTP; `-d tcp.port==80,http2`
/// would make it read the HTTP/1.1 start as frames). Its streams: id, `:path` (from the
/// request HEADERS, or the upgraded request's URI for stream 1), `:status`, DATA bytes.
#[test]
fn tshark_agrees_on_the_h2c_upgrade_capture() {
    let Some(corpus) = corpus() else {
        eprintln!("SKIPPED: ../shared/corpus is absent");
        return;
    };
    let pcap = corpus.join("pcaps/sv_http2-h2c-upgrade.pcap");
    let Ok(out) = Command::new("tshark")
        .args(["-r", pcap.to_str().unwrap(), "-T", "fields"])
        .args([
            "-e",
            "http2.streamid",
            "-e",
            "http2.type",
            "-e",
            "http2.length",
        ])
        .args(["-e", "http2.header.name", "-e", "http2.header.value"])
        .args(["-e", "http.request.uri", "-E", "separator=|"])
        .output()
    else {
        eprintln!("SKIPPED: tshark is not installed");
        return;
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut theirs: std::collections::BTreeMap<u64, Stream> = Default::default();
    let mut upgraded_uri = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('|').collect();
        if let Some(uri) = f.get(5).filter(|u| !u.is_empty()) {
            upgraded_uri = uri.to_string();
        }
        let ids: Vec<&str> = f[0].split(',').collect();
        let types: Vec<&str> = f.get(1).unwrap_or(&"").split(',').collect();
        let lens: Vec<&str> = f.get(2).unwrap_or(&"").split(',').collect();
        let names: Vec<&str> = f.get(3).unwrap_or(&"").split(',').collect();
        let values: Vec<&str> = f.get(4).unwrap_or(&"").split(',').collect();
        for (i, id) in ids.iter().enumerate() {
            let Ok(id) = id.parse::<u64>() else { continue };
            if id == 0 {
                continue;
            }
            let s = theirs.entry(id).or_insert(Stream {
                id,
                path: String::new(),
                status: 0,
                body: 0,
            });
            match types.get(i).copied() {
                Some("0") => s.body += lens.get(i).and_then(|l| l.parse::<i64>().ok()).unwrap_or(0),
                Some("1") => {
                    for (n, v) in names.iter().zip(&values) {
                        match *n {
                            ":path" => s.path = v.to_string(),
                            ":status" => s.status = v.parse().unwrap_or(0),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }
    if let Some(s) = theirs.get_mut(&1) {
        if s.path.is_empty() {
            s.path = upgraded_uri;
        }
    }
    let theirs: Vec<Stream> = theirs.into_values().collect();
    assert!(!theirs.is_empty(), "tshark saw no HTTP/2 stream");
    let (_, ours) = ours(&pcap);
    assert_eq!(ours, theirs);
}
