use std::net::SocketAddr;

use super::reference::{base64, entry, entry_json_bytes, write_log, Entry};
use super::*;
use crate::model::{
    Anomaly, Body, ConnInfo, Decoded, Header, HttpVersion, Interim, Request, Response, Transaction,
    Unanswered,
};

fn hdr(n: &str, v: &str) -> Header {
    Header {
        name: n.to_string().into(),
        value: v.into(),
    }
}

fn ts(ms: i64) -> Timestamp {
    // 2026-11-21T23:05:10Z plus `ms` milliseconds.
    Timestamp(1_795_302_310_000_000_000 + ms * 1_000_000)
}

fn body(data: &[u8]) -> Body {
    Body {
        wire_len: data.len() as u64,
        len: data.len() as u64,
        data: data.to_vec(),
        ..Body::default()
    }
}

pub(crate) fn tx() -> Transaction {
    Transaction {
        conn: ConnInfo {
            id: 7,
            client: "10.0.0.1:50000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
            syn_ts: Some(ts(-3)),
            synack_ts: Some(ts(-2)),
            established_ts: Some(ts(-1)),
            midstream: false,
        },
        depth: 1,
        request: Request {
            method: "GET".into(),
            target: "/index.html?a=1&a=2".into(),
            version: HttpVersion::Http11,
            headers: vec![
                hdr("Host", "example.com"),
                hdr("Cookie", "a=1; b=2"),
                hdr("Cookie", "c=3"),
            ],
            head_len: 80,
            body: Body::default(),
            first_ts: ts(0),
            last_ts: ts(2),
            complete: true,
        },
        response: Some(Response {
            status: 200,
            reason: "OK".into(),
            version: HttpVersion::Http11,
            headers: vec![
                hdr("Content-Type", "text/plain"),
                hdr("Set-Cookie", "s=1; HttpOnly"),
            ],
            head_len: 60,
            body: body(b"hello"),
            first_ts: ts(10),
            last_ts: ts(15),
            complete: true,
            interim: Vec::new(),
        }),
        anomalies: Vec::new(),
        process: None,
        completed_at: ts(15),
        tls: None,
        h2: None,
    }
}

fn json(e: &Entry) -> serde_json::Value {
    serde_json::to_value(e).unwrap()
}

#[test]
fn clean_get_entry() {
    let e = entry(&tx());
    let v = json(&e);
    assert_eq!(v["startedDateTime"], "2026-11-21T23:05:10.000Z");
    assert_eq!(v["request"]["url"], "http://example.com/index.html?a=1&a=2");
    assert_eq!(v["request"]["httpVersion"], "HTTP/1.1");
    assert_eq!(v["request"]["headersSize"], 80);
    assert_eq!(v["request"]["bodySize"], 0);
    assert!(v["request"].get("postData").is_none());
    assert_eq!(
        v["request"]["queryString"],
        serde_json::json!([{"name":"a","value":"1"},{"name":"a","value":"2"}])
    );
    assert_eq!(
        v["request"]["cookies"],
        serde_json::json!([{"name":"a","value":"1"},{"name":"b","value":"2"},{"name":"c","value":"3"}])
    );
    assert_eq!(v["response"]["status"], 200);
    assert_eq!(
        v["response"]["content"],
        serde_json::json!({"size":5,"mimeType":"text/plain","text":"hello"})
    );
    assert_eq!(
        v["response"]["cookies"],
        serde_json::json!([{"name":"s","value":"1","httpOnly":true,"secure":false}])
    );
    assert_eq!(v["response"]["redirectURL"], "");
    assert_eq!(v["response"]["bodySize"], 5);
    assert_eq!(v["cache"], serde_json::json!({}));
    assert_eq!(
        v["timings"],
        serde_json::json!({"blocked":-1.0,"dns":-1.0,"connect":2.0,"send":2.0,"wait":8.0,"receive":5.0,"ssl":-1.0})
    );
    assert_eq!(v["time"], 17.0);
    assert_eq!(v["serverIPAddress"], "10.0.0.2");
    assert_eq!(v["connection"], "7");
    // Only the always-present custom fields on a clean entry.
    let customs: Vec<&str> = v
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with('_'))
        .map(String::as_str)
        .collect();
    assert_eq!(
        customs,
        vec![
            "_clientIPAddress",
            "_clientPort",
            "_depth",
            "_serverPort",
            "_wireBytes"
        ]
    );
    assert_eq!(v["_wireBytes"], 80 + 60 + 5);
}

#[test]
fn started_date_time_has_millis_truncated() {
    assert_eq!(
        format_ts(Timestamp(1_795_302_310_123_999_999)),
        "2026-11-21T23:05:10.123Z"
    );
    assert_eq!(format_ts(Timestamp(-1)), "1969-12-31T23:59:59.999Z");
    assert_eq!(format_ts(Timestamp(i64::MIN)).len(), 24);
}

#[test]
fn connect_only_on_first_transaction_with_handshake() {
    let mut t = tx();
    t.depth = 2;
    assert_eq!(entry(&t).entry.timings.connect, Some(-1.0));
    assert_eq!(entry(&t).entry.time, 15.0);
    let mut t = tx();
    t.conn.syn_ts = None;
    assert_eq!(entry(&t).entry.timings.connect, Some(-1.0));
}

#[test]
fn time_is_the_exact_sum_of_the_timings_in_both_writers() {
    // Issue 13: `time` came out as 0.44099999999999995 for these microsecond timings.
    let us = |n: i64| Timestamp(ts(0).0 + n * 1_000);
    let mut t = tx();
    t.conn.syn_ts = Some(us(-7));
    t.conn.established_ts = Some(us(0));
    t.request.first_ts = us(0);
    t.request.last_ts = us(24);
    let r = t.response.as_mut().unwrap();
    r.first_ts = us(324);
    r.last_ts = us(434);
    let e = entry(&t);
    assert_eq!(e.entry.time, 0.441);
    let written = String::from_utf8(entry_json(&t)).unwrap();
    assert!(written.contains(",\"time\":0.441,"), "{written}");
    assert!(
        written.contains("\"connect\":0.007,\"send\":0.024,\"wait\":0.3,\"receive\":0.11,"),
        "{written}"
    );
}

#[test]
fn timings_never_negative_when_time_goes_backwards() {
    let mut t = tx();
    t.request.last_ts = ts(-5);
    let r = t.response.as_mut().unwrap();
    r.first_ts = ts(-10);
    r.last_ts = ts(-20);
    t.conn.established_ts = ts(-100).into();
    let e = entry(&t).entry;
    assert_eq!(
        (
            e.timings.send,
            e.timings.wait,
            e.timings.receive,
            e.timings.connect
        ),
        (0.0, 0.0, 0.0, Some(0.0))
    );
    assert_eq!(e.time, 0.0);
}

#[test]
fn unanswered_like_a_browser_failed_request() {
    let mut t = tx();
    t.response = None;
    t.anomalies.push(Anomaly::Unanswered(Unanswered::Timeout));
    let v = json(&entry(&t));
    assert_eq!(v["response"]["status"], 0);
    assert_eq!(v["response"]["statusText"], "");
    assert_eq!(v["response"]["httpVersion"], "");
    assert_eq!(
        v["response"]["content"],
        serde_json::json!({"size":0,"mimeType":""})
    );
    assert_eq!(v["response"]["headersSize"], -1);
    assert_eq!(v["response"]["bodySize"], -1);
    assert_eq!(v["timings"]["wait"], 0.0);
    assert_eq!(v["timings"]["receive"], 0.0);
    assert_eq!(v["timings"]["send"], 2.0);
    assert_eq!(v["_unanswered"], "timeout");
    assert_eq!(v["_anomalies"], serde_json::json!(["unanswered-timeout"]));
    t.anomalies.clear();
    assert_eq!(json(&entry(&t))["_unanswered"], "unknown");
}

#[test]
fn form_post_has_text_and_every_param() {
    let mut t = tx();
    t.request.method = "POST".into();
    t.request.headers.push(hdr(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=UTF-8",
    ));
    t.request.body = body(b"a=1&b=x+y%21&a=3");
    let v = json(&entry(&t));
    let pd = &v["request"]["postData"];
    assert_eq!(
        pd["mimeType"],
        "application/x-www-form-urlencoded; charset=UTF-8"
    );
    assert_eq!(pd["text"], "a=1&b=x+y%21&a=3");
    assert_eq!(
        pd["params"],
        serde_json::json!([{"name":"a","value":"1"},{"name":"b","value":"x y!"},{"name":"a","value":"3"}])
    );
    assert_eq!(v["request"]["bodySize"], 16);
}

#[test]
fn binary_bodies_are_base64() {
    let mut t = tx();
    t.request.method = "PUT".into();
    t.request.body = body(&[0xff, 0x00, 0x80]);
    let r = t.response.as_mut().unwrap();
    r.body = body(&[0x89, b'P', b'N', b'G']);
    r.headers = vec![hdr("Content-Type", "image/png")];
    let v = json(&entry(&t));
    assert_eq!(
        v["request"]["postData"],
        serde_json::json!({"mimeType":"","text":"/wCA"})
    );
    assert_eq!(v["_postDataEncoding"], "base64");
    assert_eq!(
        v["response"]["content"],
        serde_json::json!({"size":4,"mimeType":"image/png","text":"iVBORw==","encoding":"base64"})
    );
}

#[test]
fn decoded_content_size_compression_and_text() {
    let mut t = tx();
    let r = t.response.as_mut().unwrap();
    r.body = Body {
        wire_len: 30,
        len: 25,
        data: vec![0x1f; 25],
        content_encoding: vec!["gzip".into()],
        decoded: Decoded::Decoded {
            data: b"0123456789".repeat(10),
            len: 100,
            truncated: false,
        },
        ..Body::default()
    };
    let v = json(&entry(&t));
    let c = &v["response"]["content"];
    assert_eq!(c["size"], 100);
    assert_eq!(c["compression"], 75);
    assert_eq!(c["text"].as_str().unwrap().len(), 100);
    assert_eq!(v["response"]["bodySize"], 25);
}

#[test]
fn failed_decode_and_gaps_leave_text_out() {
    let mut t = tx();
    let r = t.response.as_mut().unwrap();
    r.body.decoded = Decoded::Failed {
        reason: "corrupt gzip".into(),
    };
    t.anomalies
        .push(Anomaly::DecodeFailed("corrupt gzip".into()));
    let v = json(&entry(&t));
    assert!(v["response"]["content"].get("text").is_none());
    assert_eq!(v["_decodeError"], "corrupt gzip");
    assert_eq!(v["_anomalies"], serde_json::json!(["decode-failed"]));

    let mut t = tx();
    let r = t.response.as_mut().unwrap();
    r.body.missing = 2;
    r.complete = false;
    t.anomalies.push(Anomaly::ResponseInterrupted);
    let v = json(&entry(&t));
    assert!(v["response"]["content"].get("text").is_none());
    assert_eq!(v["_responseMissingBytes"], 2);
    assert_eq!(v["_interrupted"], "response");
}

#[test]
fn truncated_text_drops_a_cut_utf8_sequence() {
    let mut t = tx();
    let r = t.response.as_mut().unwrap();
    r.body = Body {
        wire_len: 100,
        len: 100,
        data: "aé".as_bytes()[..2].to_vec(),
        truncated: true,
        ..Body::default()
    };
    let v = json(&entry(&t));
    assert_eq!(v["response"]["content"]["text"], "a");
    assert!(v["response"]["content"].get("encoding").is_none());
    assert_eq!(v["_bodyTruncated"], "response");
    assert_eq!(v["response"]["content"]["size"], 100);
}

#[test]
fn interim_responses_and_redirect() {
    let mut t = tx();
    let r = t.response.as_mut().unwrap();
    r.status = 302;
    r.headers.push(hdr("Location", "/next"));
    r.interim.push(Interim {
        status: 100,
        reason: "Continue".into(),
        version: HttpVersion::Http11,
        headers: vec![],
        head_len: 25,
        ts: ts(1),
    });
    let v = json(&entry(&t));
    assert_eq!(v["response"]["redirectURL"], "/next");
    assert_eq!(v["response"]["headersSize"], 60);
    assert_eq!(
        v["_interimResponses"],
        serde_json::json!([{"status":100,"statusText":"Continue","httpVersion":"HTTP/1.1","headers":[],"headersSize":25,"time":1.0}])
    );
    assert_eq!(v["_wireBytes"], 80 + 60 + 5 + 25);
}

#[test]
fn ipv6_server_and_no_host_header() {
    let mut t = tx();
    t.conn.server = "[2001:db8::2]:8080".parse::<SocketAddr>().unwrap();
    t.conn.client = "[2001:db8::1]:40000".parse::<SocketAddr>().unwrap();
    t.request.headers.retain(|h| h.name != "Host");
    t.request.version = HttpVersion::Http10;
    let v = json(&entry(&t));
    assert_eq!(v["serverIPAddress"], "2001:db8::2");
    assert_eq!(v["_clientIPAddress"], "2001:db8::1");
    assert_eq!(v["_serverPort"], 8080);
    assert_eq!(
        v["request"]["url"],
        "http://[2001:db8::2]:8080/index.html?a=1&a=2"
    );
    assert_eq!(v["request"]["httpVersion"], "HTTP/1.0");
}

#[test]
fn non_origin_targets_are_kept_in_a_custom_field() {
    let mut t = tx();
    t.request.method = "CONNECT".into();
    t.request.target = "example.com:443".into();
    let v = json(&entry(&t));
    assert_eq!(v["request"]["url"], "http://example.com:443");
    assert_eq!(v["_requestTarget"], "example.com:443");
}

#[test]
fn every_anomaly_has_a_distinct_kebab_name() {
    let all = [
        Anomaly::MidStreamPickup,
        Anomaly::RequestInterrupted,
        Anomaly::ResponseInterrupted,
        Anomaly::Unanswered(Unanswered::Timeout),
        Anomaly::Unanswered(Unanswered::ConnectionClosed),
        Anomaly::Unanswered(Unanswered::EndOfCapture),
        Anomaly::ConflictingContentLength,
        Anomaly::InvalidContentLength,
        Anomaly::TransferEncodingAndContentLength,
        Anomaly::UnknownTransferEncoding,
        Anomaly::BareLf,
        Anomaly::ObsFold,
        Anomaly::InvalidChunk,
        Anomaly::DecodeFailed(String::new()),
        Anomaly::HeadTooLarge,
        Anomaly::BodyTruncated,
        Anomaly::Tunnel,
        Anomaly::LateResponse,
        Anomaly::MalformedRequestLine,
        Anomaly::NoStatusLine,
        Anomaly::OverlapConflict,
    ];
    let names: std::collections::BTreeSet<&str> = all.iter().map(Anomaly::name).collect();
    assert_eq!(names.len(), all.len());
    assert!(names
        .iter()
        .all(|n| n.bytes().all(|c| c.is_ascii_lowercase() || c == b'-')));
    let doc = include_str!("../../docs/har.md");
    for n in names {
        assert!(
            doc.contains(&format!("`{n}`")),
            "docs/har.md does not document {n}"
        );
    }
}

#[test]
fn base64_vectors() {
    // RFC 4648 §10.
    for (i, o) in [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ] {
        assert_eq!(base64(i.as_bytes()), o);
        let mut out = b"x".to_vec();
        json::base64_into(i.as_bytes(), &mut out);
        assert_eq!(&out[1..], o.as_bytes(), "appended after what is there");
    }
}

#[test]
fn base64_simd_agrees_with_the_scalar_encoder() {
    // Every length around the SIMD block sizes, and every byte value.
    let data: Vec<u8> = (0..4099u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for len in (0..200).chain([255, 256, 257, 1023, 1024, 1025, 4096, 4099]) {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        json::base64_into(&data[..len], &mut a);
        json::base64_scalar(&data[..len], &mut b);
        assert_eq!(a, b, "length {len}");
    }
    let all: Vec<u8> = (0..=255u8).collect();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    json::base64_into(&all, &mut a);
    json::base64_scalar(&all, &mut b);
    assert_eq!(a, b);
}

#[test]
fn write_log_is_a_har_document() {
    let mut out = Vec::new();
    write_log(&mut out, &[entry(&tx()), entry(&tx())]).unwrap();
    let har = har::from_slice(&out).unwrap();
    let har::Spec::V1_2(log) = har.log else {
        panic!("not 1.2")
    };
    assert_eq!(log.creator.name, "httshark");
    assert_eq!(log.creator.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(log.entries.len(), 2);
    let mut empty = Vec::new();
    write_log(&mut empty, &[]).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&empty).unwrap();
    assert_eq!(v["log"]["entries"], serde_json::json!([]));
    assert_eq!(v["log"]["version"], "1.2");
}

proptest::proptest! {
    /// Whatever the wire gave the parser, the entry is built without panicking, serialises,
    /// and keeps the timing invariants.
    #[test]
    fn any_transaction_gives_a_sane_entry(
        method in "[A-Z]{0,8}",
        target in proptest::prelude::any::<String>(),
        host in proptest::prelude::any::<String>(),
        cookie in proptest::prelude::any::<String>(),
        set_cookie in proptest::prelude::any::<String>(),
        ctype in proptest::prelude::any::<String>(),
        req_body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        resp_body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        truncated in proptest::prelude::any::<bool>(),
        answered in proptest::prelude::any::<bool>(),
        times in proptest::collection::vec(-1_000_000_000i64..1_000_000_000, 5),
    ) {
        let mut t = tx();
        t.request.method = method;
        t.request.target = target;
        t.request.headers = vec![hdr("Host", &host), hdr("Cookie", &cookie), hdr("Content-Type", &ctype)];
        t.request.body = Body { truncated, ..body(&req_body) };
        t.request.first_ts = ts(times[0]);
        t.request.last_ts = ts(times[1]);
        t.conn.established_ts = Some(ts(times[4]));
        let r = t.response.as_mut().unwrap();
        r.headers = vec![hdr("Set-Cookie", &set_cookie), hdr("Content-Type", &ctype)];
        r.body = Body { truncated, ..body(&resp_body) };
        r.first_ts = ts(times[2]);
        r.last_ts = ts(times[3]);
        if !answered {
            t.response = None;
        }
        let e = entry(&t);
        let tm = &e.entry.timings;
        proptest::prop_assert!(tm.send >= 0.0 && tm.wait >= 0.0 && tm.receive >= 0.0);
        proptest::prop_assert!(tm.connect.is_some_and(|c| c >= 0.0 || c == -1.0));
        proptest::prop_assert!(e.entry.time >= 0.0);
        proptest::prop_assert!(e.entry.request.url.bytes().all(|c| c.is_ascii_graphic()));
        let j = entry_json_bytes(&e).unwrap();
        // The direct writer gives the same bytes as serde on the `har` structs.
        let direct = entry_json(&t);
        proptest::prop_assert_eq!(String::from_utf8_lossy(&direct), String::from_utf8_lossy(&j));
        let back: serde_json::Value = serde_json::from_slice(&j).unwrap();
        proptest::prop_assert!(back["response"]["content"]["mimeType"].is_string());
        for c in back["response"]["cookies"].as_array().unwrap() {
            if let Some(x) = c.get("expires") {
                proptest::prop_assert_eq!(x.as_str().map(str::len), Some(24));
            }
        }
    }
}

proptest::proptest! {
    /// `entry_json` (written straight from the transaction) is byte for byte serde's
    /// output for `entry`, whatever flags, codings, interim responses, trailers and
    /// anomalies the transaction carries.
    #[test]
    fn direct_json_is_serde_json_of_the_entry(
        text in proptest::prelude::any::<String>(),
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        flags in proptest::collection::vec(proptest::prelude::any::<bool>(), 12),
        missing in 0u64..3,
        anomalies in proptest::collection::vec(0usize..8, 0..4),
        form in proptest::prelude::any::<bool>(),
        target in "(/[a-z%&=?+]{0,12}|\\*|http://h/x|h:443|x)",
    ) {
        let mut t = tx();
        t.request.target = target;
        t.request.method = if flags[11] { "CONNECT".into() } else { "POST".into() };
        let ctype = if form { "application/x-www-form-urlencoded; charset=utf-8" } else { "text/plain" };
        t.request.headers.push(hdr("Content-Type", ctype));
        t.request.body = Body { truncated: flags[0], missing, dropped: flags[1], trailers: if flags[2] { vec![hdr("T", &text)] } else { Vec::new() }, ..body(text.as_bytes()) };
        if flags[3] {
            t.request.body.decoded = Decoded::Failed { reason: text.clone() };
        }
        t.request.complete = flags[4];
        t.conn.midstream = flags[5];
        t.depth = if flags[6] { 1 } else { 3 };
        let r = t.response.as_mut().unwrap();
        r.body = body(&bytes);
        r.body.decoded = match (flags[7], flags[8]) {
            (true, true) => Decoded::Decoded { data: text.as_bytes().to_vec(), len: text.len() as u64 + 9, truncated: flags[0] },
            (true, false) => Decoded::Failed { reason: "bad \"gzip\"\n".into() },
            _ => Decoded::Identity,
        };
        r.body.dropped = flags[9];
        r.complete = flags[10];
        r.headers.push(hdr("Location", &text));
        if flags[2] {
            r.body.trailers = vec![hdr("X", "1")];
            r.interim = vec![Interim { status: 100, reason: text.clone(), version: HttpVersion::Http11, headers: vec![hdr("A", "b")], head_len: 25, ts: ts(1) }];
        }
        let all = [
            Anomaly::MidStreamPickup,
            Anomaly::RequestInterrupted,
            Anomaly::ResponseInterrupted,
            Anomaly::Unanswered(Unanswered::Timeout),
            Anomaly::Unanswered(Unanswered::Evicted),
            Anomaly::DecodeFailed("x".into()),
            Anomaly::BodyGap,
            Anomaly::Tunnel,
        ];
        t.anomalies = anomalies.iter().map(|&i| all[i].clone()).collect();
        t.process = match (flags[5], flags[6]) {
            (true, _) => Some(std::sync::Arc::new(crate::model::Owner::Process(crate::model::ProcessInfo {
                pid: 42,
                name: text.clone(),
                exe: flags[7].then(|| text.clone()),
                uid: 1000,
                user: flags[8].then(|| "alice".to_string()),
                cgroup: flags[9].then(|| text.clone()),
                container: flags[10].then(|| "0123456789ab".to_string()),
                ancestors: if flags[11] { vec![(7, "bash".into())] } else { Vec::new() },
                side: flags[0].then_some(crate::model::Side::Server),
            }))),
            (false, true) => Some(std::sync::Arc::new(crate::model::Owner::Unattributed {
                why: crate::model::NoOwner::Closed,
                uid: flags[7].then_some(3),
            })),
            (false, false) => None,
        };
        for answered in [true, false] {
            if !answered {
                t.response = None;
            }
            let want = entry_json_bytes(&entry(&t)).unwrap();
            let direct = entry_json(&t);
            proptest::prop_assert_eq!(String::from_utf8_lossy(&direct), String::from_utf8_lossy(&want));
            // Encoded without its owner and the owner spliced in: the same bytes.
            if let Some(owner) = t.process.clone() {
                let mut bare = t.clone();
                bare.process = None;
                let (json, at) = super::entry_json_with_process_at(&bare);
                proptest::prop_assert_eq!(&json, &entry_json(&bare));
                let spliced = super::splice_process(&json, at, &owner);
                proptest::prop_assert_eq!(String::from_utf8_lossy(&spliced), String::from_utf8_lossy(&direct));
            }
        }
    }
}

#[test]
fn process_is_written_as_underscore_process() {
    let mut t = tx();
    t.process = Some(std::sync::Arc::new(crate::model::Owner::Process(
        crate::model::ProcessInfo {
            pid: 4242,
            name: "curl".into(),
            exe: Some("/usr/bin/curl".into()),
            uid: 1000,
            user: Some("alice".into()),
            cgroup: Some("/user.slice".into()),
            container: None,
            ancestors: vec![(4000, "bash".into()), (1, "init".into())],
            side: Some(crate::model::Side::Client),
        },
    )));
    let v: serde_json::Value = serde_json::from_slice(&entry_json(&t)).unwrap();
    assert_eq!(
        v["_process"],
        serde_json::json!({"pid": 4242, "name": "curl", "ppid": 4000, "exe": "/usr/bin/curl",
            "user": "alice", "uid": 1000, "cgroup": "/user.slice", "side": "client"})
    );
    t.process = Some(std::sync::Arc::new(crate::model::Owner::Unattributed {
        why: crate::model::NoOwner::NotFound,
        uid: None,
    }));
    let v: serde_json::Value = serde_json::from_slice(&entry_json(&t)).unwrap();
    assert_eq!(
        v["_process"],
        serde_json::json!({"unattributed": "not-found"})
    );
    t.process = None;
    let v: serde_json::Value = serde_json::from_slice(&entry_json(&t)).unwrap();
    assert!(v.get("_process").is_none());
}

#[test]
fn direct_json_escapes_like_serde() {
    let mut every = String::new();
    for c in (0u8..0x80)
        .map(char::from)
        .chain(['é', '\u{2028}', '\u{10ffff}'])
    {
        every.push(c);
        every.push_str("abcdefgh");
    }
    for s in [
        every.as_str(),
        "",
        "\"",
        "0123456789abcdef\\",
        "\u{7f}\u{1f}",
    ] {
        let mut out = Vec::new();
        json::string(&mut out, s);
        assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
    }
    for n in (0..40usize).chain([255, 256, 257, 4096, 4099]) {
        let data: Vec<u8> = (0..n).map(|i| (i * 37 + i / 7) as u8).collect();
        let mut out = Vec::new();
        json::base64_into(&data, &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), base64(&data));
        // Appended after what `out` already holds.
        let mut out = b"{\"text\":\"".to_vec();
        json::base64_into(&data, &mut out);
        assert_eq!(out[9..], *base64(&data).as_bytes(), "{n}");
    }
}
