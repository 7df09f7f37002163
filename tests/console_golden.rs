//! Golden output of the `console` processor for hand-built transactions: plain, with heads,
//! with bodies (text, decoded, binary, cut, lost), unanswered, odd targets, colour on/off.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use httshark::model::{
    Anomaly, Body, ConnInfo, Decoded, Header, HttpVersion, Interim, Request, Response, Transaction,
    Unanswered,
};
use httshark::processor::console::{ColorChoice, ConsoleConfig, ConsoleProcessor};
use httshark::processor::Processor;
use httshark::time::Timestamp;

fn hdrs(list: &[(&str, &str)]) -> Vec<Header> {
    list.iter()
        .map(|(n, v)| Header {
            name: n.to_string().into(),
            value: (*v).into(),
        })
        .collect()
}

fn body(data: &[u8]) -> Body {
    Body {
        wire_len: data.len() as u64,
        len: data.len() as u64,
        data: data.to_vec(),
        ..Body::default()
    }
}

/// A response: status, header fields, body.
type Resp<'a> = (u16, &'a [(&'a str, &'a str)], Body);

fn tx(
    server: &str,
    method: &str,
    target: &str,
    req_headers: &[(&str, &str)],
    resp: Option<Resp>,
) -> Transaction {
    let server: SocketAddr = server.parse().unwrap();
    Transaction {
        conn: ConnInfo {
            id: 1,
            client: "10.0.0.1:40000".parse().unwrap(),
            server,
            syn_ts: None,
            synack_ts: None,
            established_ts: None,
            midstream: false,
        },
        depth: 1,
        request: Request {
            method: method.into(),
            target: target.into(),
            version: HttpVersion::Http11,
            headers: hdrs(req_headers),
            head_len: 100,
            body: Body::default(),
            first_ts: Timestamp(1_000),
            last_ts: Timestamp(2_000),
            complete: true,
        },
        response: resp.map(|(status, h, body)| Response {
            status,
            reason: "OK".into(),
            version: HttpVersion::Http11,
            headers: hdrs(h),
            head_len: 80,
            body,
            first_ts: Timestamp(3_000),
            last_ts: Timestamp(4_000),
            complete: true,
            interim: Vec::new(),
        }),
        anomalies: Vec::new(),
        process: None,
        completed_at: Timestamp(4_000),
        tls: None,
        h2: None,
    }
}

fn console(head: bool, body: bool, color: ColorChoice, max: usize) -> ConsoleProcessor {
    ConsoleProcessor::new(
        ConsoleConfig {
            head,
            body,
            color,
            max_body_chars: max,
        },
        Box::new(io::sink()),
    )
}

fn plain() -> ConsoleProcessor {
    console(false, false, ColorChoice::Never, 4096)
}

fn full() -> ConsoleProcessor {
    console(true, true, ColorChoice::Never, 4096)
}

fn html_get() -> Transaction {
    tx(
        "192.0.2.10:80",
        "GET",
        "/index.html?q=1",
        &[("Host", "example.com"), ("Accept", "*/*")],
        Some((
            200,
            &[
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", "29"),
            ],
            body(b"<html>\r\n<p>hello</p>\r\n</html>"),
        )),
    )
}

#[test]
fn summary_lines_like_httptap() {
    let mut c = plain();
    assert_eq!(
        c.render(&html_get()),
        "---> GET http://example.com/index.html?q=1\n\
         <--- 200 http://example.com/index.html?q=1 (29 bytes, 0.0 ms)\n"
    );
}

#[test]
fn heads_prefixed_like_httptap() {
    let mut c = console(true, false, ColorChoice::Never, 4096);
    assert_eq!(
        c.render(&html_get()),
        "---> GET http://example.com/index.html?q=1\n\
         > Host: example.com\n\
         > Accept: */*\n\
         <--- 200 http://example.com/index.html?q=1 (29 bytes, 0.0 ms)\n\
         < Content-Type: text/html; charset=utf-8\n\
         < Content-Length: 29\n"
    );
}

#[test]
fn text_body_indented_crlf_removed() {
    let mut c = console(false, true, ColorChoice::Never, 4096);
    assert_eq!(
        c.render(&html_get()),
        "---> GET http://example.com/index.html?q=1\n\
         <--- 200 http://example.com/index.html?q=1 (29 bytes, 0.0 ms)\n    \
         <html>\n    \
         <p>hello</p>\n    \
         </html>\n"
    );
}

#[test]
fn post_with_json_and_decoded_gzip_response() {
    let mut t = tx(
        "192.0.2.10:8080",
        "POST",
        "/api/items",
        &[
            ("Host", "api.example.com:8080"),
            ("Content-Type", "application/json"),
        ],
        Some((
            201,
            &[
                ("Content-Type", "application/json"),
                ("Content-Encoding", "gzip"),
            ],
            Body {
                wire_len: 40,
                len: 40,
                data: vec![0x1f, 0x8b, 8, 0, 0, 0],
                content_encoding: vec!["gzip".into()],
                decoded: Decoded::Decoded {
                    data: b"{\"id\":7,\"name\":\"caf\xc3\xa9\"}".to_vec(),
                    len: 25,
                    truncated: false,
                },
                ..Body::default()
            },
        )),
    );
    t.request.body = body(b"{\"name\":\"caf\xc3\xa9\"}");
    let mut c = full();
    assert_eq!(
        c.render(&t),
        "---> POST http://api.example.com:8080/api/items\n\
         > Host: api.example.com:8080\n\
         > Content-Type: application/json\n    \
         {\"name\":\"café\"}\n\
         <--- 201 http://api.example.com:8080/api/items (25 bytes, 0.0 ms)\n\
         < Content-Type: application/json\n\
         < Content-Encoding: gzip\n    \
         {\"id\":7,\"name\":\"café\"}\n"
    );
}

#[test]
fn binary_body_is_a_note() {
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let t = tx(
        "192.0.2.10:80",
        "GET",
        "/logo.png",
        &[("Host", "img.example.com")],
        Some((200, &[("Content-Type", "image/png")], body(png))),
    );
    let mut c = console(false, true, ColorChoice::Never, 4096);
    assert_eq!(
        c.render(&t),
        "---> GET http://img.example.com/logo.png\n\
         <--- 200 http://img.example.com/logo.png (16 bytes, 0.0 ms)\n    \
         [binary, 16 bytes, image/png]\n"
    );
    assert_eq!(c.counters().console_bodies_binary, 1);

    // Without a Content-Type the bytes decide.
    let t = tx(
        "192.0.2.10:80",
        "GET",
        "/blob",
        &[("Host", "h")],
        Some((200, &[], body(png))),
    );
    assert!(c.render(&t).ends_with("    [binary, 16 bytes]\n"));
}

#[test]
fn unanswered_variants() {
    let cases = [
        (
            Some(Anomaly::Unanswered(Unanswered::Timeout)),
            "(no response: timeout)",
        ),
        (
            Some(Anomaly::Unanswered(Unanswered::ConnectionClosed)),
            "(no response: connection closed)",
        ),
        (
            Some(Anomaly::Unanswered(Unanswered::EndOfCapture)),
            "(no response: end of capture)",
        ),
        (None, "(no response)"),
    ];
    for (anomaly, text) in cases {
        let mut t = tx("[2001:db8::1]:8080", "DELETE", "/x/1", &[], None);
        t.anomalies.extend(anomaly);
        let mut c = plain();
        assert_eq!(
            c.render(&t),
            format!(
                "---> DELETE http://[2001:db8::1]:8080/x/1\n\
                 <--- {text} http://[2001:db8::1]:8080/x/1\n"
            )
        );
    }
}

#[test]
fn anomalies_in_a_bracket_note() {
    let mut t = html_get();
    t.anomalies = vec![
        Anomaly::MidStreamPickup,
        Anomaly::ResponseInterrupted,
        Anomaly::BareLf,
    ];
    assert_eq!(
        plain().render(&t),
        "---> GET http://example.com/index.html?q=1\n\
         <--- 200 http://example.com/index.html?q=1 (29 bytes, 0.0 ms) \
         [midstream, response interrupted, bare LF]\n"
    );
    let mut t = tx("192.0.2.1:80", "GET", "/", &[("Host", "h")], None);
    t.anomalies = vec![
        Anomaly::RequestInterrupted,
        Anomaly::Unanswered(Unanswered::ConnectionClosed),
    ];
    assert_eq!(
        plain().render(&t),
        "---> GET http://h/\n<--- (no response: connection closed) http://h/ [request interrupted]\n"
    );
}

#[test]
fn truncated_and_cut_bodies_are_noted() {
    // Kept only 10 of 1000 bytes (keep limit).
    let mut b = body(b"0123456789");
    b.len = 1000;
    b.wire_len = 1000;
    b.truncated = true;
    let mut t = tx(
        "192.0.2.1:80",
        "GET",
        "/big.txt",
        &[("Host", "h")],
        Some((200, &[("Content-Type", "text/plain")], b)),
    );
    t.anomalies.push(Anomaly::BodyTruncated);
    assert_eq!(
        full().render(&t),
        "---> GET http://h/big.txt\n\
         > Host: h\n\
         <--- 200 http://h/big.txt (1000 bytes, 0.0 ms) [body truncated]\n\
         < Content-Type: text/plain\n    \
         0123456789\n    \
         [truncated: 10 of 1000 bytes shown]\n"
    );

    // Cut by max_body_chars, counting characters not bytes.
    let t = tx(
        "192.0.2.1:80",
        "GET",
        "/u",
        &[("Host", "h")],
        Some((200, &[], body("ééééé\nabc".as_bytes()))),
    );
    let mut c = console(false, true, ColorChoice::Never, 3);
    assert_eq!(
        c.render(&t),
        "---> GET http://h/u\n\
         <--- 200 http://h/u (14 bytes, 0.0 ms)\n    \
         ééé\n    \
         [truncated: 6 of 14 bytes shown]\n"
    );
    assert_eq!(c.counters().console_bodies_cut, 1);

    // max_body_chars = 0: everything that was kept.
    let mut c = console(false, true, ColorChoice::Never, 0);
    assert!(c.render(&t).ends_with("    ééééé\n    abc\n"));
}

#[test]
fn lost_and_undecodable_bodies() {
    let mut b = body(b"abcdef");
    b.len = 10;
    b.missing = 4;
    let t = tx(
        "192.0.2.1:80",
        "GET",
        "/",
        &[("Host", "h")],
        Some((200, &[], b)),
    );
    assert_eq!(
        console(false, true, ColorChoice::Never, 100).render(&t),
        "---> GET http://h/\n\
         <--- 200 http://h/ (10 bytes, 0.0 ms)\n    \
         [4 of 10 bytes lost in capture]\n    \
         abcdef\n    \
         [truncated: 6 of 10 bytes shown]\n"
    );

    let mut b = body(b"\x1f\x8b garbage");
    b.content_encoding = vec!["gzip".into()];
    b.decoded = Decoded::Failed {
        reason: "corrupt deflate stream".into(),
    };
    let t = tx(
        "192.0.2.1:80",
        "GET",
        "/",
        &[("Host", "h")],
        Some((200, &[], b)),
    );
    assert_eq!(
        console(false, true, ColorChoice::Never, 100).render(&t),
        "---> GET http://h/\n\
         <--- 200 http://h/ (10 bytes, 0.0 ms)\n    \
         [body not decoded (corrupt deflate stream): 10 bytes gzip]\n"
    );
}

#[test]
fn odd_targets_and_hosts() {
    // Absolute-form (to a proxy) as is.
    let t = tx(
        "192.0.2.1:3128",
        "GET",
        "http://example.org/a",
        &[("Host", "example.org")],
        None,
    );
    assert!(plain()
        .render(&t)
        .starts_with("---> GET http://example.org/a\n"));
    // Authority-form.
    let t = tx(
        "192.0.2.1:3128",
        "CONNECT",
        "example.org:443",
        &[("Host", "example.org:443")],
        None,
    );
    assert!(plain()
        .render(&t)
        .starts_with("---> CONNECT example.org:443\n"));
    // No Host: the server address; empty Host too.
    let t = tx("192.0.2.7:8000", "GET", "/p", &[("Host", "  ")], None);
    assert!(plain()
        .render(&t)
        .starts_with("---> GET http://192.0.2.7:8000/p\n"));
}

#[test]
fn wire_text_cannot_drive_the_terminal() {
    let t = tx(
        "192.0.2.1:80",
        "GET",
        "/\x1b[2J",
        &[("Host", "h\x1b]0;pwned\x07"), ("X-Evil", "\x1b[31mred")],
        Some((
            200,
            &[("Content-Type", "text/plain")],
            body(b"line\x1b[1A\x1b[2Kover\n"),
        )),
    );
    let out = full().render(&t);
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(!out.contains('\x07'), "{out:?}");
    assert!(out.contains("> X-Evil: \\x1b[31mred\n"), "{out}");
    assert!(out.contains("    line\\x1b[1A\\x1b[2Kover\n"), "{out}");
}

#[test]
fn interim_responses_shown_with_head() {
    let mut t = html_get();
    if let Some(r) = t.response.as_mut() {
        r.interim.push(Interim {
            status: 100,
            reason: "Continue".into(),
            version: HttpVersion::Http11,
            headers: Vec::new(),
            head_len: 25,
            ts: Timestamp(2_500),
        });
    }
    let out = console(true, false, ColorChoice::Never, 10).render(&t);
    assert!(
        out.contains("(29 bytes, 0.0 ms)\n< HTTP/1.1 100 Continue\n< Content-Type"),
        "{out}"
    );
}

#[test]
fn colour_only_when_enabled() {
    let mut t = html_get();
    t.anomalies.push(Anomaly::MidStreamPickup);
    assert!(!plain().render(&t).contains('\x1b'));
    // Auto with an arbitrary writer: not a terminal, so no colour.
    let mut auto = console(true, true, ColorChoice::Auto, 10);
    assert!(!auto.color());
    assert!(!auto.render(&t).contains('\x1b'));

    let mut c = console(false, false, ColorChoice::Always, 10);
    assert!(c.color());
    assert_eq!(
        c.render(&t),
        "---> \x1b[1;34mGET\x1b[0m http://example.com/index.html?q=1\n\
         <--- \x1b[1;32m200\x1b[0m http://example.com/index.html?q=1 (29 bytes, 0.0 ms) \
         \x1b[33m[midstream]\x1b[0m\n"
    );
    // Status classes and unsafe methods.
    let mut t = tx(
        "192.0.2.1:80",
        "POST",
        "/",
        &[("Host", "h")],
        Some((503, &[], Body::default())),
    );
    assert!(c.render(&t).contains("\x1b[1;35mPOST\x1b[0m"));
    assert!(c.render(&t).contains("\x1b[1;31m503\x1b[0m"));
    t.response.as_mut().unwrap().status = 404;
    assert!(c.render(&t).contains("\x1b[1;33m404\x1b[0m"));
    t.response = None;
    assert!(c.render(&t).contains("\x1b[1;31m(no response)\x1b[0m"));
}

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn processor_writes_each_transaction_as_it_arrives() {
    let out = Shared::default();
    let mut p = ConsoleProcessor::new(ConsoleConfig::default(), Box::new(out.clone()));
    assert_eq!(p.name(), "console");
    p.on_transaction(&html_get()).unwrap();
    assert_eq!(
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap(),
        "---> GET http://example.com/index.html?q=1\n\
         <--- 200 http://example.com/index.html?q=1 (29 bytes, 0.0 ms)\n"
    );
    p.on_tick(Timestamp(10)).unwrap();
    p.on_transaction(&tx("192.0.2.1:80", "HEAD", "/", &[("Host", "h")], None))
        .unwrap();
    p.finish(Timestamp(20)).unwrap();
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    assert!(text.ends_with("---> HEAD http://h/\n<--- (no response) http://h/\n"));
    assert_eq!(p.counters().console_transactions, 2);
}

struct Broken;
impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "closed"))
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn write_errors_are_reported_not_panics() {
    let mut p = ConsoleProcessor::new(ConsoleConfig::default(), Box::new(Broken));
    let err = p.on_transaction(&html_get()).unwrap_err();
    assert_eq!(err.processor, "console");
    assert!(err.message.contains("closed"), "{err}");
}

/// Issue 13: the `<---` line says how long the transaction took (request first byte to
/// response last byte), in ms below a second.
#[test]
fn response_line_shows_the_duration() {
    let mut c = plain();
    let mut t = html_get();
    let resp = t.response.as_mut().unwrap();
    resp.last_ts = Timestamp(1_000 + 12_345_678);
    assert!(
        c.render(&t).contains("(29 bytes, 12.3 ms)\n"),
        "{}",
        c.render(&t)
    );
    t.response.as_mut().unwrap().last_ts = Timestamp(1_000 + 2_500_000_000);
    assert!(c.render(&t).contains("(29 bytes, 2.50 s)\n"));
}
