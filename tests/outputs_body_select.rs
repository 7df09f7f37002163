//! Body selection (`-drop-content-type`, `-keep-content-type`): the rule on a table of
//! media types, sizes kept exact, each message judged by its own type, and the HAR it
//! gives (no text, `_requestBodyDropped` / `_responseBodyDropped`, still schema-valid).

mod outputs_support;

use std::time::Duration;

use httshark::har;
use httshark::model::{Body, Decoded, Transaction};
use httshark::processor::har_file::HarFileProcessor;
use httshark::processor::Processor;
use httshark::transform::body_select::BodySelector;
use outputs_support::{assert_valid_har, at, body, files, h, tx};
use serde_json::Value;

const DEFAULT_DROP: &str = "image,audio,video";

#[test]
fn the_rule_on_a_table_of_types() {
    // (drop, keep, Content-Type, kept?)
    let table: &[(&str, Option<&str>, &str, bool)] = &[
        // Default drop list: substring, any case, parameters ignored.
        (DEFAULT_DROP, None, "image/png", false),
        (DEFAULT_DROP, None, "IMAGE/SVG+XML", false),
        (DEFAULT_DROP, None, "audio/mpeg", false),
        (DEFAULT_DROP, None, "video/mp4; codecs=\"avc1\"", false),
        (DEFAULT_DROP, None, "application/x-video-stream", false),
        (DEFAULT_DROP, None, "text/html; charset=utf-8", true),
        (DEFAULT_DROP, None, "application/json", true),
        (DEFAULT_DROP, None, "", true),
        // A parameter value never matches.
        (DEFAULT_DROP, None, "text/plain; name=image", true),
        // Empty drop list: nothing dropped.
        ("", None, "image/png", true),
        (" , ", None, "video/mp4", true),
        // Own list.
        (
            "json, Octet-Stream",
            None,
            "application/problem+json",
            false,
        ),
        (
            "json, Octet-Stream",
            None,
            "application/octet-stream",
            false,
        ),
        ("json, Octet-Stream", None, "image/png", true),
        // Keep list decides alone; the drop list is then ignored.
        (DEFAULT_DROP, Some("json,text/"), "application/json", true),
        (DEFAULT_DROP, Some("json,text/"), "text/html", true),
        (DEFAULT_DROP, Some("json,text/"), "application/xml", false),
        (DEFAULT_DROP, Some("json,text/"), "image/png", false),
        (DEFAULT_DROP, Some("json,text/"), "", false),
        (
            DEFAULT_DROP,
            Some("json,text/"),
            "application/problem+json",
            true,
        ),
        (
            DEFAULT_DROP,
            Some("json,text/"),
            "video/mp4; codecs=\"avc1\"",
            false,
        ),
        (
            DEFAULT_DROP,
            Some("json,text/"),
            "text/html; charset=utf-8",
            true,
        ),
        (DEFAULT_DROP, Some("image/svg"), "image/svg+xml", true),
        (DEFAULT_DROP, Some("image/svg"), "image/png", false),
        ("json", Some("json"), "application/json", true),
        // An empty keep list keeps no body.
        ("", Some(""), "text/plain", false),
        ("", Some(""), "", false),
    ];
    for &(drop, keep, mime, want) in table {
        let s = BodySelector::new(drop, keep).unwrap();
        assert_eq!(
            s.keeps(mime),
            want,
            "drop {drop:?} keep {keep:?} type {mime:?}"
        );
        // apply agrees with keeps, on the response and on the request.
        let mut t = tx(1, 0);
        let r = t.response.as_mut().unwrap();
        r.headers = if mime.is_empty() {
            vec![]
        } else {
            vec![h("content-type", mime)]
        };
        r.body = body(b"response bytes");
        t.request.headers = r.headers.clone();
        t.request.body = body(b"request bytes");
        s.apply(&mut t);
        let r = t.response.as_ref().unwrap();
        assert_eq!(!r.body.dropped, want, "{mime:?}");
        assert_eq!(r.body.data.is_empty(), !want, "{mime:?}");
        assert_eq!(!t.request.body.dropped, want, "{mime:?}");
    }
}

/// A transaction with a gzip JSON request and a decoded, truncated image response.
fn upload_and_image() -> Transaction {
    let mut t = tx(9, 0);
    t.request.method = "POST".into();
    t.request
        .headers
        .push(h("Content-Type", "application/json"));
    t.request.body = body(br#"{"q":"cat pictures"}"#);
    let r = t.response.as_mut().unwrap();
    r.headers = vec![
        h("Content-Type", "image/webp"),
        h("Content-Encoding", "gzip"),
    ];
    r.body = Body {
        wire_len: 5_000,
        len: 4_900,
        missing: 0,
        gap_ranges: Vec::new(),
        data: vec![1; 100],
        truncated: true,
        content_encoding: vec!["gzip".into()],
        decoded: Decoded::Decoded {
            data: vec![2; 100],
            len: 20_000,
            truncated: true,
        },
        trailers: vec![h("X-Sum", "1")],
        dropped: false,
    };
    t
}

#[test]
fn a_dropped_body_keeps_every_size() {
    let s = BodySelector::new(DEFAULT_DROP, None).unwrap();
    let before = upload_and_image();
    let mut t = before.clone();
    s.apply(&mut t);
    let (b, a) = (
        &before.response.as_ref().unwrap().body,
        &t.response.as_ref().unwrap().body,
    );
    assert!(a.dropped);
    assert!(a.data.is_empty());
    assert_eq!(
        (a.wire_len, a.len, a.missing, a.truncated, a.content_len()),
        (b.wire_len, b.len, b.missing, b.truncated, b.content_len())
    );
    assert_eq!(a.content_len(), 20_000);
    assert_eq!(
        (&a.content_encoding, &a.trailers),
        (&b.content_encoding, &b.trailers)
    );
    let Decoded::Decoded { data, len, .. } = &a.decoded else {
        panic!("still decoded")
    };
    assert_eq!((data.len(), *len), (0, 20_000));
    assert_eq!(t.wire_bytes(), before.wire_bytes());
    // Only the response changed; applying again changes nothing.
    assert_eq!(t.request, before.request);
    let once = t.clone();
    s.apply(&mut t);
    assert_eq!(t, once);
}

/// HttShark dropped the response because of the *request's* type; each message is judged
/// by its own.
#[test]
fn each_message_is_judged_by_its_own_type() {
    let s = BodySelector::new(DEFAULT_DROP, None).unwrap();
    // JSON request, image response: only the response goes.
    let mut t = upload_and_image();
    s.apply(&mut t);
    assert!(!t.request.body.dropped && !t.request.body.data.is_empty());
    assert!(t.response.as_ref().unwrap().body.dropped);

    // Image upload answered with JSON: only the request goes.
    let mut t = tx(2, 0);
    t.request.method = "PUT".into();
    t.request.headers.push(h("Content-Type", "image/jpeg"));
    t.request.body = body(&[0xff, 0xd8, 0xff, 0xe0]);
    let r = t.response.as_mut().unwrap();
    r.headers = vec![h("Content-Type", "application/json")];
    r.body = body(br#"{"stored":true}"#);
    s.apply(&mut t);
    assert!(t.request.body.dropped && t.request.body.data.is_empty());
    let r = t.response.as_ref().unwrap();
    assert!(!r.body.dropped);
    assert_eq!(r.body.data, br#"{"stored":true}"#);
}

#[test]
fn an_empty_body_is_never_marked_dropped() {
    let s = BodySelector::new("", Some("")).unwrap();
    let mut t = tx(3, 0);
    t.response.as_mut().unwrap().body = Body::default();
    s.apply(&mut t);
    assert!(!t.request.body.dropped);
    assert!(!t.response.as_ref().unwrap().body.dropped);
    let v = serde_json::to_value(har::reference::entry(&t)).unwrap();
    assert!(v.get("_requestBodyDropped").is_none());
    assert!(v.get("_responseBodyDropped").is_none());
}

#[test]
fn har_leaves_out_dropped_text_and_says_so() {
    let s = BodySelector::new("json,image", None).unwrap();
    let mut dropped_both = upload_and_image();
    s.apply(&mut dropped_both);
    let mut kept = upload_and_image();
    kept.conn.id = 10;
    BodySelector::new("", None).unwrap().apply(&mut kept);

    let d = serde_json::to_value(har::reference::entry(&dropped_both)).unwrap();
    let k = serde_json::to_value(har::reference::entry(&kept)).unwrap();
    assert_eq!(d["_requestBodyDropped"], true);
    assert_eq!(d["_responseBodyDropped"], true);
    assert!(d["request"]["postData"].get("text").is_none());
    assert_eq!(d["request"]["postData"]["mimeType"], "application/json");
    assert!(d["response"]["content"].get("text").is_none());
    assert!(d.get("_bodyTruncated").is_none(), "no text, so no prefix");
    // Sizes and everything else as without the policy.
    for (path, field) in [
        ("request", "bodySize"),
        ("response", "bodySize"),
        ("request", "headersSize"),
    ] {
        assert_eq!(d[path][field], k[path][field], "{path}.{field}");
    }
    assert_eq!(d["response"]["content"]["size"], 20_000);
    assert_eq!(
        d["response"]["content"]["size"],
        k["response"]["content"]["size"]
    );
    assert_eq!(
        d["response"]["content"]["compression"],
        k["response"]["content"]["compression"]
    );
    assert_eq!(d["_wireBytes"], k["_wireBytes"]);
    assert_eq!(d["_responseTrailers"], k["_responseTrailers"]);
    // The undropped entry has the text and no flag.
    assert!(k["request"]["postData"]["text"].is_string());
    assert!(k["response"]["content"]["text"].is_string());
    assert!(k.get("_requestBodyDropped").is_none() && k.get("_responseBodyDropped").is_none());
}

#[test]
fn har_files_with_dropped_bodies_validate() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = HarFileProcessor::new(dir.path().into(), false, Duration::from_secs(60)).unwrap();
    let s = BodySelector::new(DEFAULT_DROP, None).unwrap();
    let mut t = upload_and_image();
    s.apply(&mut t);
    p.on_transaction(&t).unwrap();
    // A form upload dropped by a keep list: no params either.
    let keep_json = BodySelector::new(DEFAULT_DROP, Some("json")).unwrap();
    let mut t = tx(11, 100);
    t.request.method = "POST".into();
    t.request
        .headers
        .push(h("Content-Type", "application/x-www-form-urlencoded"));
    t.request.body = body(b"user=al&pass=secret");
    keep_json.apply(&mut t);
    p.on_transaction(&t).unwrap();
    p.finish(at(120_000)).unwrap();
    let fs = files(dir.path());
    assert_eq!(fs.len(), 1);
    let v: Value = serde_json::from_slice(&std::fs::read(&fs[0]).unwrap()).unwrap();
    let entries = v["log"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let form = entries.iter().find(|e| e["connection"] == "11").unwrap();
    assert_eq!(form["_requestBodyDropped"], true);
    assert_eq!(form["_responseBodyDropped"], true, "text/plain is not json");
    assert!(form["request"]["postData"].get("params").is_none());
    assert!(!std::fs::read_to_string(&fs[0]).unwrap().contains("secret"));
    assert_valid_har(&fs);
}
