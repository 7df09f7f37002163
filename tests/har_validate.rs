//! HAR output end to end: hand-built transactions of every kind go through the `file`
//! processor; each file is re-read with the `har` crate and checked field by field, then
//! validated against the HAR 1.2 JSON schema by `tests/harvalidate/validate.js`.
//!
//! The schema check needs `npm ci --prefix tests/harvalidate`. Without it the check is
//! skipped with a message, or fails when `CI` is set.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use har::v1_2::Entries;
use httshark::model::{
    Anomaly, Body, ConnInfo, Decoded, Header, HttpVersion, Interim, Request, Response, Transaction,
    Unanswered,
};
use httshark::processor::har_file::HarFileProcessor;
use httshark::processor::Processor;
use httshark::time::Timestamp;
use serde_json::{json, Value};

const T0: i64 = 1_795_302_300; // 2026-11-21T23:05:00Z

fn at(ms: i64) -> Timestamp {
    Timestamp(T0 * 1_000_000_000 + ms * 1_000_000)
}

fn h(n: &str, v: &str) -> Header {
    Header {
        name: n.to_string().into(),
        value: v.into(),
    }
}

fn body(data: &[u8]) -> Body {
    Body {
        wire_len: data.len() as u64,
        len: data.len() as u64,
        data: data.to_vec(),
        ..Body::default()
    }
}

/// A GET on connection `id` with a 200 text response; scenarios change what they need.
fn base(id: u64, host: Option<&str>) -> Transaction {
    let start = at(id as i64 * 1000);
    let mut headers = Vec::new();
    if let Some(host) = host {
        headers.push(h("Host", host));
    }
    headers.push(h("User-Agent", "test"));
    Transaction {
        conn: ConnInfo {
            id,
            client: format!("192.0.2.1:{}", 40000 + id).parse().unwrap(),
            server: "198.51.100.7:80".parse().unwrap(),
            syn_ts: Some(start - Duration::from_millis(3)),
            synack_ts: Some(start - Duration::from_millis(2)),
            established_ts: Some(start - Duration::from_millis(1)),
            midstream: false,
        },
        depth: 1,
        request: Request {
            method: "GET".into(),
            target: "/".into(),
            version: HttpVersion::Http11,
            headers,
            head_len: 50,
            body: Body::default(),
            first_ts: start,
            last_ts: start + Duration::from_millis(1),
            complete: true,
        },
        response: Some(Response {
            status: 200,
            reason: "OK".into(),
            version: HttpVersion::Http11,
            headers: vec![h("Content-Type", "text/plain; charset=utf-8")],
            head_len: 70,
            body: body(b"ok"),
            first_ts: start + Duration::from_millis(11),
            last_ts: start + Duration::from_millis(14),
            complete: true,
            interim: Vec::new(),
        }),
        anomalies: Vec::new(),
        process: None,
        completed_at: start + Duration::from_millis(14),
        tls: None,
        h2: None,
    }
}

fn resp(t: &mut Transaction) -> &mut Response {
    t.response.as_mut().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Every scenario, keyed by connection id.
fn scenarios() -> Vec<Transaction> {
    let mut v = Vec::new();

    // 1: query with repeated keys, cookies over two headers.
    let mut t = base(1, Some("shop.example"));
    t.request.target = "/search?q=a+b&tag=x&tag=y%20z&empty=&flag".into();
    t.request.headers.push(h("Cookie", "sid=abc; theme=dark"));
    t.request.headers.push(h("Cookie", "sid=second"));
    v.push(t);

    // 2: POST form.
    let mut t = base(2, Some("shop.example"));
    t.request.method = "POST".into();
    t.request.target = "/login".into();
    t.request
        .headers
        .push(h("Content-Type", "application/x-www-form-urlencoded"));
    t.request.body = body(b"user=al+ice&pass=p%40ss&user=bob");
    v.push(t);

    // 3: POST JSON, JSON response.
    let mut t = base(3, Some("api.example"));
    t.request.method = "POST".into();
    t.request.target = "/v1/items".into();
    t.request
        .headers
        .push(h("Content-Type", "application/json"));
    t.request.body = body(br#"{"name":"widget","n":3}"#);
    resp(&mut t).status = 201;
    resp(&mut t).reason = "Created".into();
    resp(&mut t).headers = vec![
        h("Content-Type", "application/json"),
        h("Location", "/v1/items/9"),
    ];
    resp(&mut t).body = body(br#"{"id":9}"#);
    v.push(t);

    // 4: binary response.
    let mut t = base(4, Some("img.example"));
    t.request.target = "/logo.png".into();
    resp(&mut t).headers = vec![h("Content-Type", "image/png")];
    resp(&mut t).body = body(&[0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
    v.push(t);

    // 5: gzip-encoded, decoded.
    let mut t = base(5, Some("api.example"));
    let content = "hello hello hello hello hello hello hello hello\n".repeat(20);
    let enc = gzip(content.as_bytes());
    let r = resp(&mut t);
    r.headers = vec![
        h("Content-Type", "text/plain"),
        h("Content-Encoding", "gzip"),
    ];
    r.body = Body {
        content_encoding: vec!["gzip".into()],
        decoded: Decoded::Decoded {
            data: content.as_bytes().to_vec(),
            len: content.len() as u64,
            truncated: false,
        },
        ..body(&enc)
    };
    v.push(t);

    // 6: unanswered (timeout).
    let mut t = base(6, Some("slow.example"));
    t.response = None;
    t.anomalies.push(Anomaly::Unanswered(Unanswered::Timeout));
    v.push(t);

    // 7: response interrupted by a gap inside the body.
    let mut t = base(7, Some("big.example"));
    let r = resp(&mut t);
    r.body = Body {
        wire_len: 1000,
        len: 1000,
        missing: 400,
        data: vec![b'x'; 600],
        ..Body::default()
    };
    r.complete = false;
    t.anomalies.push(Anomaly::ResponseInterrupted);
    v.push(t);

    // 8: 100 Continue before the final response.
    let mut t = base(8, Some("upload.example"));
    t.request.method = "PUT".into();
    t.request.target = "/f".into();
    t.request.headers.push(h("Expect", "100-continue"));
    t.request.body = body(b"data");
    t.request.last_ts = t.request.first_ts + Duration::from_millis(5);
    let ts = t.request.first_ts + Duration::from_millis(2);
    resp(&mut t).interim.push(Interim {
        status: 100,
        reason: "Continue".into(),
        version: HttpVersion::Http11,
        headers: vec![],
        head_len: 25,
        ts,
    });
    v.push(t);

    // 9: 101 Switching Protocols, then a tunnel.
    let mut t = base(9, Some("ws.example"));
    t.request.target = "/chat".into();
    t.request.headers.push(h("Upgrade", "websocket"));
    t.request.headers.push(h("Connection", "Upgrade"));
    let r = resp(&mut t);
    r.status = 101;
    r.reason = "Switching Protocols".into();
    r.headers = vec![h("Upgrade", "websocket"), h("Connection", "Upgrade")];
    r.body = Body::default();
    t.anomalies.push(Anomaly::Tunnel);
    v.push(t);

    // 10: Set-Cookie with attributes, a redirect.
    let mut t = base(10, Some("auth.example"));
    let r = resp(&mut t);
    r.status = 302;
    r.reason = "Found".into();
    r.headers = vec![
        h("Location", "https://auth.example/home"),
        h("Set-Cookie", "sid=xyz; Path=/; Domain=auth.example; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure; HttpOnly"),
        h("Set-Cookie", "pref=1; Max-Age=3600"),
        h("Set-Cookie", "odd=v; Expires=someday"),
    ];
    r.body = Body::default();
    v.push(t);

    // 11: IPv6 server, no Host.
    let mut t = base(11, None);
    t.conn.server = "[2001:db8::7]:8080".parse().unwrap();
    t.conn.client = "[2001:db8::1]:40011".parse().unwrap();
    v.push(t);

    // 12: no Host header, HTTP/1.0.
    let mut t = base(12, None);
    t.request.version = HttpVersion::Http10;
    resp(&mut t).version = HttpVersion::Http10;
    v.push(t);

    // 13-15: hostile Host headers.
    v.push(base(13, Some("../../etc/passwd")));
    v.push(base(14, Some("a/b\0c d")));
    v.push(base(15, Some(&format!("ünïcode-{}", "x".repeat(10_000)))));

    // 16: header value that was not UTF-8 on the wire (made lossy by the parser).
    let mut t = base(16, Some("bytes.example"));
    t.request.headers.push(h("X-Raw", "caf\u{FFFD} \u{FFFD}"));
    v.push(t);

    // 17: CONNECT through a proxy; 18: absolute-form proxy GET.
    let mut t = base(17, Some("secure.example:443"));
    t.request.method = "CONNECT".into();
    t.request.target = "secure.example:443".into();
    resp(&mut t).reason = "Connection Established".into();
    resp(&mut t).headers = vec![];
    resp(&mut t).body = Body::default();
    t.anomalies.push(Anomaly::Tunnel);
    v.push(t);
    let mut t = base(18, Some("proxied.example"));
    t.request.target = "http://proxied.example/page?x=1".into();
    v.push(t);

    // 19: mid-stream pickup, second request on the connection, interrupted request.
    let mut t = base(19, Some("mid.example"));
    t.conn.midstream = true;
    t.conn.syn_ts = None;
    t.conn.synack_ts = None;
    t.conn.established_ts = None;
    t.depth = 2;
    t.request.complete = false;
    t.anomalies.push(Anomaly::MidStreamPickup);
    t.anomalies.push(Anomaly::RequestInterrupted);
    v.push(t);

    // 20: Content-Encoding that could not be undone.
    let mut t = base(20, Some("api.example"));
    let r = resp(&mut t);
    r.headers.push(h("Content-Encoding", "gzip"));
    r.body.content_encoding = vec!["gzip".into()];
    r.body.decoded = Decoded::Failed {
        reason: "invalid gzip header".into(),
    };
    t.anomalies
        .push(Anomaly::DecodeFailed("invalid gzip header".into()));
    v.push(t);

    // 21: body beyond the keep limit.
    let mut t = base(21, Some("big.example"));
    resp(&mut t).body = Body {
        wire_len: 5000,
        len: 5000,
        data: vec![b'a'; 100],
        truncated: true,
        ..Body::default()
    };
    t.anomalies.push(Anomaly::BodyTruncated);
    v.push(t);

    // 22: chunked response with trailers, completed in the next interval.
    let mut t = base(22, Some("shop.example"));
    let r = resp(&mut t);
    r.headers.push(h("Transfer-Encoding", "chunked"));
    r.body = Body {
        wire_len: 40,
        trailers: vec![h("X-Checksum", "abc")],
        ..body(b"chunked!")
    };
    t.completed_at = at(61_000);
    v.push(t);

    // 23: an HTTP/2 stream over TLS (`:scheme` https): pseudo-headers, no :status, a push.
    let mut t = base(23, None);
    h2ify(&mut t, 3, "https");
    t.h2.as_mut().unwrap().pushed = true;
    v.push(t);

    // 24: an HTTP/2 stream reset before its response.
    let mut t = base(24, None);
    h2ify(&mut t, 5, "http");
    t.response = None;
    t.h2.as_mut().unwrap().error_code = Some(8);
    t.anomalies.push(Anomaly::StreamReset);
    t.anomalies
        .push(Anomaly::Unanswered(Unanswered::StreamReset));
    v.push(t);

    // 25: an h2c Upgrade: the HTTP/1.1 request, the 101 interim, the h2 response.
    let mut t = base(25, Some("up.example"));
    let mut h2 = base(25, None);
    h2ify(&mut h2, 1, "http");
    let r = resp(&mut t);
    *r = h2.response.unwrap();
    r.interim.push(Interim {
        status: 101,
        reason: "Switching Protocols".into(),
        version: HttpVersion::Http11,
        headers: vec![h("Upgrade", "h2c")],
        head_len: 60,
        ts: at(25_005),
    });
    t.h2 = h2.h2;
    t.h2.as_mut().unwrap().upgraded = true;
    v.push(t);

    v
}

/// Makes `t` an HTTP/2 stream `id`: pseudo-headers, empty status text, HPACK sizes.
fn h2ify(t: &mut Transaction, id: u32, scheme: &str) {
    let r = &mut t.request;
    r.version = HttpVersion::Http2;
    r.target = "/h2?q=1".into();
    r.headers = vec![
        h(":method", "GET"),
        h(":scheme", scheme),
        h(":authority", "h2.example"),
        h(":path", "/h2?q=1"),
        h("user-agent", "test"),
    ];
    r.head_len = 30;
    if let Some(resp) = t.response.as_mut() {
        resp.version = HttpVersion::Http2;
        resp.reason = String::new();
        resp.head_len = 12;
    }
    t.h2 = Some(Box::new(httshark::model::H2Stream {
        stream_id: id,
        headers_compressed: (30, 12),
        ..Default::default()
    }));
}

fn node_validator() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harvalidate");
    let script = dir.join("validate.js");
    let have_modules = dir.join("node_modules/har-validator").is_dir();
    let have_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if have_modules && have_node {
        return Some((dir, script));
    }
    let why = if have_node {
        "tests/harvalidate/node_modules is missing"
    } else {
        "node is not installed"
    };
    if std::env::var_os("CI").is_some() {
        panic!("HAR schema validation cannot run: {why}; run `npm ci --prefix tests/harvalidate`");
    }
    eprintln!("\n**********\nSKIPPING HAR 1.2 schema validation: {why}.\nRun `npm ci --prefix tests/harvalidate` to enable it.\n**********\n");
    None
}

fn run_validator(script: &Path, files: &[PathBuf]) -> (bool, String) {
    let out = Command::new("node")
        .arg(script)
        .args(files)
        .output()
        .expect("run node");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// Writes every scenario and returns the files, the typed entries and the raw JSON entries
/// by connection id.
#[allow(clippy::type_complexity)]
fn produce(dir: &Path) -> (Vec<PathBuf>, BTreeMap<u64, Entries>, BTreeMap<u64, Value>) {
    let mut p = HarFileProcessor::new(dir.to_path_buf(), true, Duration::from_secs(60)).unwrap();
    for t in scenarios().iter().rev() {
        p.on_transaction(t).unwrap();
    }
    p.on_tick(at(60_000)).unwrap();
    p.finish(at(62_000)).unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut typed, mut raw) = (BTreeMap::new(), BTreeMap::new());
    for f in &files {
        let har = har::from_path(f).unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
        let har::Spec::V1_2(log) = har.log else {
            panic!("{} is not HAR 1.2", f.display())
        };
        assert_eq!(log.creator.name, "httshark");
        let v: Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        for (e, j) in log
            .entries
            .into_iter()
            .zip(v["log"]["entries"].as_array().unwrap().iter().cloned())
        {
            let id: u64 = e.connection.as_deref().unwrap().parse().unwrap();
            assert!(typed.insert(id, e).is_none(), "connection {id} twice");
            raw.insert(id, j);
        }
    }
    (files, typed, raw)
}

fn find<'a>(hs: &'a [har::v1_2::Headers], name: &str) -> Option<&'a str> {
    hs.iter().find(|x| x.name == name).map(|x| x.value.as_str())
}

#[test]
fn every_kind_of_transaction_makes_a_valid_complete_har() {
    let dir = tempfile::tempdir().unwrap();
    let (files, e, raw) = produce(dir.path());
    // To look at the files: HTTSHARK_HAR_TEST_OUT=/some/dir cargo test --test har_validate
    if let Some(out) = std::env::var_os("HTTSHARK_HAR_TEST_OUT") {
        std::fs::create_dir_all(&out).unwrap();
        for f in &files {
            std::fs::copy(f, Path::new(&out).join(f.file_name().unwrap())).unwrap();
        }
    }
    assert_eq!(e.len(), 25, "every scenario written once");
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"shop.example_20261121T230500Z.har".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"shop.example_20261121T230600Z.har".to_string()),
        "{names:?}"
    );
    assert!(
        names
            .iter()
            .all(|n| httshark::processor::har_file::is_safe_component(n)),
        "{names:?}"
    );

    // Every entry: the fields every HAR reader relies on.
    for (id, x) in &e {
        let t = &scenarios()[(*id - 1) as usize];
        assert_eq!(x.started_date_time.len(), 24, "{id}");
        assert!(x.started_date_time.ends_with('Z'));
        let tm = &x.timings;
        let sum = [tm.connect.unwrap(), tm.send, tm.wait, tm.receive]
            .iter()
            .filter(|v| **v >= 0.0)
            .sum::<f64>();
        assert!(
            (x.time - sum).abs() < 1e-9,
            "{id}: time {} != {sum}",
            x.time
        );
        assert_eq!(
            (tm.blocked, tm.dns, tm.ssl),
            (Some(-1.0), Some(-1.0), Some(-1.0))
        );
        let head = match t.request.version {
            HttpVersion::Http2 => -1, // no text form of an HPACK block, as Chrome writes
            _ => t.request.head_len as i64,
        };
        assert_eq!(x.request.headers_size, head);
        assert_eq!(x.request.body_size, t.request.body.len as i64);
        assert_eq!(x.request.headers.len(), t.request.headers.len());
        assert!(
            x.response.content.mime_type.is_some(),
            "{id}: mimeType must be present"
        );
        assert!(x.response.redirect_url.is_some());
        assert_eq!(raw[id]["_depth"], t.depth);
        assert_eq!(raw[id]["_wireBytes"], t.wire_bytes());
        assert_eq!(raw[id]["_clientPort"], t.conn.client.port());
    }

    let x = &e[&1];
    assert_eq!(x.started_date_time, "2026-11-21T23:05:01.000Z");
    assert_eq!(
        x.request.url,
        "http://shop.example/search?q=a+b&tag=x&tag=y%20z&empty=&flag"
    );
    let q: Vec<(&str, &str)> = x
        .request
        .query_string
        .iter()
        .map(|q| (q.name.as_str(), q.value.as_str()))
        .collect();
    assert_eq!(
        q,
        vec![
            ("q", "a b"),
            ("tag", "x"),
            ("tag", "y z"),
            ("empty", ""),
            ("flag", "")
        ]
    );
    let c: Vec<(&str, &str)> = x
        .request
        .cookies
        .iter()
        .map(|c| (c.name.as_str(), c.value.as_str()))
        .collect();
    assert_eq!(
        c,
        vec![("sid", "abc"), ("theme", "dark"), ("sid", "second")]
    );
    assert_eq!(
        (
            x.timings.connect,
            x.timings.send,
            x.timings.wait,
            x.timings.receive
        ),
        (Some(2.0), 1.0, 10.0, 3.0)
    );
    assert_eq!(x.server_ip_address.as_deref(), Some("198.51.100.7"));
    assert_eq!(x.response.content.text.as_deref(), Some("ok"));
    assert_eq!(x.response.content.size, 2);
    assert_eq!(x.response.body_size, 2);
    assert_eq!(x.response.headers_size, 70);
    assert_eq!(
        raw[&1]
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with('_'))
            .count(),
        5,
        "clean entry, no flags"
    );

    let pd = e[&2].request.post_data.as_ref().unwrap();
    assert_eq!(pd.mime_type, "application/x-www-form-urlencoded");
    assert_eq!(pd.text.as_deref(), Some("user=al+ice&pass=p%40ss&user=bob"));
    let params: Vec<(&str, &str)> = pd
        .params
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| (p.name.as_str(), p.value.as_deref().unwrap()))
        .collect();
    assert_eq!(
        params,
        vec![("user", "al ice"), ("pass", "p@ss"), ("user", "bob")]
    );

    let x = &e[&3];
    let pd = x.request.post_data.as_ref().unwrap();
    assert_eq!(
        (
            pd.mime_type.as_str(),
            pd.text.as_deref(),
            pd.params.is_none()
        ),
        ("application/json", Some(r#"{"name":"widget","n":3}"#), true)
    );
    assert_eq!(x.response.status, 201);
    assert_eq!(x.response.redirect_url.as_deref(), Some("/v1/items/9"));

    let c = &e[&4].response.content;
    assert_eq!(
        (c.encoding.as_deref(), c.text.as_deref()),
        (Some("base64"), Some("iVBORw0KGgoA/w=="))
    );

    let x = &e[&5];
    let enc_len = scenarios()[4].response.as_ref().unwrap().body.len as i64;
    assert_eq!(x.response.body_size, enc_len);
    assert_eq!(x.response.content.size, 960);
    assert_eq!(x.response.content.compression, Some(960 - enc_len));
    assert_eq!(x.response.content.text.as_ref().map(String::len), Some(960));

    let x = &e[&6];
    assert_eq!(
        (
            x.response.status,
            x.response.headers_size,
            x.response.body_size
        ),
        (0, -1, -1)
    );
    assert_eq!(
        (x.response.http_version.as_str(), x.response.content.size),
        ("", 0)
    );
    assert_eq!((x.timings.wait, x.timings.receive), (0.0, 0.0));
    assert_eq!(raw[&6]["_unanswered"], "timeout");
    assert_eq!(raw[&6]["_anomalies"], json!(["unanswered-timeout"]));

    let x = &e[&7];
    assert_eq!(
        (x.response.body_size, x.response.content.text.is_none()),
        (1000, true)
    );
    assert_eq!(raw[&7]["_responseMissingBytes"], 400);
    assert_eq!(raw[&7]["_interrupted"], "response");

    let x = &e[&8];
    assert_eq!(raw[&8]["_interimResponses"][0]["status"], 100);
    assert_eq!(raw[&8]["_interimResponses"][0]["time"], 2.0);
    assert_eq!(x.timings.send, 5.0);

    assert_eq!(e[&9].response.status, 101);
    assert_eq!(raw[&9]["_anomalies"], json!(["tunnel"]));

    let r = &e[&10].response;
    assert_eq!(r.redirect_url.as_deref(), Some("https://auth.example/home"));
    assert_eq!(r.cookies.len(), 3);
    let sid = &r.cookies[0];
    assert_eq!(
        (
            sid.name.as_str(),
            sid.value.as_str(),
            sid.path.as_deref(),
            sid.domain.as_deref()
        ),
        ("sid", "xyz", Some("/"), Some("auth.example"))
    );
    assert_eq!(
        (sid.expires.as_deref(), sid.http_only, sid.secure),
        (Some("2026-10-21T07:28:00.000Z"), Some(true), Some(true))
    );
    assert_eq!(
        r.cookies[1].expires.as_deref(),
        Some("2026-11-22T00:05:10.011Z"),
        "Max-Age from the response time"
    );
    assert_eq!(r.cookies[2].expires, None);

    let x = &e[&11];
    assert_eq!(x.server_ip_address.as_deref(), Some("2001:db8::7"));
    assert_eq!(x.request.url, "http://[2001:db8::7]:8080/");
    assert_eq!(raw[&11]["_clientIPAddress"], "2001:db8::1");

    assert_eq!(e[&12].request.url, "http://198.51.100.7:80/");
    assert_eq!(e[&12].request.http_version, "HTTP/1.0");

    assert_eq!(e[&13].request.url, "http://..%2F..%2Fetc%2Fpasswd/");
    assert_eq!(e[&14].request.url, "http://a%2Fb%00c%20d/");
    assert!(e[&15]
        .request
        .url
        .starts_with("http://%C3%BCn%C3%AFcode-xxx"));

    assert_eq!(
        find(&e[&16].request.headers, "X-Raw"),
        Some("caf\u{FFFD} \u{FFFD}")
    );

    assert_eq!(e[&17].request.url, "http://secure.example:443");
    assert_eq!(raw[&17]["_requestTarget"], "secure.example:443");
    assert_eq!(e[&18].request.url, "http://proxied.example/page?x=1");
    assert_eq!(e[&18].request.query_string.len(), 1);

    let x = &e[&19];
    assert_eq!(x.timings.connect, Some(-1.0));
    assert_eq!(raw[&19]["_midstream"], true);
    assert_eq!(raw[&19]["_interrupted"], "request");
    assert_eq!(
        raw[&19]["_anomalies"],
        json!(["midstream-pickup", "request-interrupted"])
    );

    assert!(e[&20].response.content.text.is_none());
    assert_eq!(raw[&20]["_decodeError"], "invalid gzip header");

    let c = &e[&21].response.content;
    assert_eq!(
        (c.size, c.text.as_ref().map(String::len)),
        (5000, Some(100))
    );
    assert_eq!(raw[&21]["_bodyTruncated"], "response");

    assert_eq!(
        raw[&22]["_responseTrailers"],
        json!([{"name":"X-Checksum","value":"abc"}])
    );
    assert_eq!(e[&22].response.body_size, 8);

    // HTTP/2 as Chrome exports it (research §5), with httshark's stream fields.
    assert_eq!(e[&23].request.http_version, "http/2.0");
    assert_eq!(e[&23].response.http_version, "http/2.0");
    assert_eq!(e[&23].request.url, "https://h2.example/h2?q=1");
    assert_eq!(e[&23].request.headers_size, -1);
    assert_eq!(e[&23].response.headers_size, -1);
    assert_eq!(e[&23].response.status_text, "");
    assert_eq!(e[&23].request.headers[0].name, ":method");
    assert_eq!(raw[&23]["_streamId"], 3);
    assert_eq!(raw[&23]["_pushed"], true);
    assert_eq!(raw[&23]["_requestHeadersCompressedSize"], 30);
    assert_eq!(raw[&23]["_responseHeadersCompressedSize"], 12);
    assert_eq!(raw[&24]["_h2ErrorCode"], 8);
    assert_eq!(raw[&24]["_unanswered"], "stream-reset");
    assert_eq!(e[&24].request.url, "http://h2.example/h2?q=1");
    assert_eq!(e[&25].request.http_version, "HTTP/1.1");
    assert_eq!(e[&25].response.http_version, "http/2.0");
    assert_eq!(raw[&25]["_upgraded"], true);
    assert_eq!(raw[&25]["_interimResponses"][0]["status"], 101);
    assert!(raw[&25].get("_requestHeadersCompressedSize").is_none());

    // HAR 1.2 schema.
    let Some((_, script)) = node_validator() else {
        return;
    };
    let (ok, out) = run_validator(&script, &files);
    assert!(ok, "schema validation failed:\n{out}");
    assert!(
        out.contains(&format!("{0} of {0} HAR files valid", files.len())),
        "{out}"
    );
}

/// The schema check can fail: a broken file is rejected (loose pass: missing field; strict
/// pass: a URL with a space).
#[test]
fn the_validator_rejects_invalid_har() {
    let Some((_, script)) = node_validator() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (files, _, _) = produce(dir.path());
    let mut v: Value = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
    let good = v.clone();
    v["log"]["entries"][0]
        .as_object_mut()
        .unwrap()
        .remove("time");
    let missing = dir.path().join("missing.json");
    std::fs::write(&missing, v.to_string()).unwrap();
    let (ok, out) = run_validator(&script, &[missing]);
    assert!(!ok && out.contains("time"), "{out}");

    let mut v = good;
    v["log"]["entries"][0]["request"]["url"] = json!("http://a b/");
    let bad_url = dir.path().join("url.json");
    std::fs::write(&bad_url, v.to_string()).unwrap();
    let (ok, out) = run_validator(&script, &[bad_url]);
    assert!(!ok && out.contains("uri"), "{out}");
}

/// A seeded xorshift, so the random scenario below is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    /// A string mixing URL/cookie syntax, controls, non-ASCII and U+FFFD.
    fn string(&mut self, max: u64) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "0", "/", "?", "&", "=", "%", "%41", "%zz", "+", " ", ";", ",", ":", "@",
            "#", "[", "]", "\"", "\\", "\0", "\t", "\u{1}", "é", "\u{FFFD}", "日本", "..",
            "Expires=", "Max-Age=", "GMT", "Nov", "12:30:00", "1999",
        ];
        (0..self.below(max))
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn bytes(&mut self, max: u64) -> Vec<u8> {
        (0..self.below(max)).map(|_| self.next() as u8).collect()
    }
}

/// Random odd-but-possible transactions: every file must still pass the schema.
#[test]
fn random_transactions_stay_schema_valid() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let dir = tempfile::tempdir().unwrap();
    let mut p =
        HarFileProcessor::new(dir.path().to_path_buf(), true, Duration::from_secs(60)).unwrap();
    for id in 1..=300u64 {
        let mut t = base(id, None);
        t.request.method = ["GET", "POST", "CONNECT", "OPTIONS", "X"][rng.below(5) as usize].into();
        t.request.target = match rng.below(4) {
            0 => format!("/{}", rng.string(12)),
            1 => format!("http://{}/{}", rng.string(6), rng.string(6)),
            2 => "*".into(),
            _ => rng.string(12),
        };
        if rng.below(4) > 0 {
            let host = rng.string(10);
            t.request.headers.push(h("Host", &host));
        }
        let (c, ct) = (rng.string(12), rng.string(4));
        t.request.headers.push(h("Cookie", &c));
        t.request.headers.push(h(
            "Content-Type",
            if rng.below(2) == 0 {
                "application/x-www-form-urlencoded"
            } else {
                &ct
            },
        ));
        let rb = if rng.below(2) == 0 {
            rng.string(20).into_bytes()
        } else {
            rng.bytes(20)
        };
        t.request.body = Body {
            truncated: rng.below(3) == 0,
            ..body(&rb)
        };
        if rng.below(2) == 0 {
            t.conn.server = format!("[2001:db8::{:x}]:{}", rng.below(65536), rng.below(65536))
                .parse()
                .unwrap();
        }
        let back = Duration::from_millis(rng.below(50));
        t.request.last_ts = t.request.first_ts - back;
        let sc = rng.string(16);
        let answered = rng.below(5) > 0;
        let truncated = rng.below(3) == 0;
        let data = rng.bytes(30);
        let r = resp(&mut t);
        r.headers = vec![h("Set-Cookie", &sc), h("Location", &ct)];
        r.body = Body {
            truncated,
            ..body(&data)
        };
        if !answered {
            t.response = None;
            t.anomalies
                .push(Anomaly::Unanswered(Unanswered::ConnectionClosed));
        }
        t.completed_at = at(rng.below(180_000) as i64);
        p.on_transaction(&t).unwrap();
    }
    p.finish(at(200_000)).unwrap();
    assert_eq!(p.counters().har_entries_written, 300);
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for f in &files {
        har::from_path(f).unwrap_or_else(|e| panic!("{}: {e:?}", f.display()));
    }
    let Some((_, script)) = node_validator() else {
        return;
    };
    let (ok, out) = run_validator(&script, &files);
    assert!(ok, "schema validation failed:\n{out}");
    assert!(files.len() > 20, "{}", files.len());
    assert!(
        out.contains(&format!("{0} of {0} HAR files valid", files.len())),
        "{out}"
    );
}
