//! The plan of one transaction: method, request-target, request and response heads and
//! wire bodies, drawn from the connection's random stream before anything is sent.

use std::fmt::Write as _;

use super::content::{body, chunk, gzip, http_date, uri, Kind};
use super::params::HttpParams;
use super::truth::Framing;
use crate::rng::Rng;
use crate::time::Timestamp;

const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Wget/1.21.4",
];

const SERVERS: &[&str] = &[
    "nginx/1.24.0",
    "Apache/2.4.58 (Debian)",
    "envoy",
    "gunicorn",
];

/// One planned transaction.
pub(super) struct TxPlan {
    pub(super) method: &'static str,
    pub(super) uri: String,
    pub(super) req_head: Vec<u8>,
    pub(super) req_body_wire: Vec<u8>,
    pub(super) req_body_len: u64,
    pub(super) req_framing: Framing,
    pub(super) expect_continue: bool,
    pub(super) status: u16,
    pub(super) resp_head: Vec<u8>,
    pub(super) resp_body_wire: Vec<u8>,
    pub(super) resp_body_len: u64,
    pub(super) resp_framing: Framing,
    pub(super) content_encoding: Option<&'static str>,
}

/// Per-connection choices that shape the transactions.
pub(super) struct ConnPlan {
    pub(super) host: String,
    /// This transaction is the last one and its response ends with the connection.
    pub(super) close_delimited_last: bool,
    /// The client announces `Connection: close` on its last request.
    pub(super) client_close_header: bool,
    pub(super) pipelined: bool,
}

pub(super) fn plan_tx(
    rng: &mut Rng,
    p: &HttpParams,
    cp: &ConnPlan,
    last: bool,
    ts: Timestamp,
) -> TxPlan {
    let ua = rng.pick(USER_AGENTS).copied().unwrap_or("curl/8.5.0");
    let server = rng.pick(SERVERS).copied().unwrap_or("nginx");
    // Method and what the request carries.
    let roll = rng.unit();
    let (method, req_kind) = if roll < p.post_put_share {
        if rng.chance(0.6) {
            (
                "POST",
                if rng.chance(0.4) {
                    Kind::Form
                } else {
                    Kind::Json
                },
            )
        } else {
            ("PUT", Kind::Octet)
        }
    } else if roll < p.post_put_share + p.head_share {
        ("HEAD", Kind::Html)
    } else {
        let kinds = [
            Kind::Html,
            Kind::Json,
            Kind::Css,
            Kind::Js,
            Kind::Image,
            Kind::Octet,
        ];
        ("GET", rng.pick(&kinds).copied().unwrap_or(Kind::Html))
    };
    let uri = uri(rng, method, req_kind);
    let has_req_body = method == "POST" || method == "PUT";
    let no_content = rng.chance(p.no_content_share);
    let conditional = method == "GET" && no_content;

    let (req_body_wire, req_body_len, req_framing) = if has_req_body {
        let len = p.req_body.draw(rng).max(1);
        let b = body(rng, req_kind, len);
        if method == "PUT" && rng.chance(p.chunked_share) {
            (chunk(rng, &b), len, Framing::Chunked)
        } else {
            (b, len, Framing::ContentLength)
        }
    } else {
        (Vec::new(), 0, Framing::None)
    };
    let expect_continue = has_req_body && !cp.pipelined && rng.chance(p.expect_continue_share);

    let mut h = String::with_capacity(512);
    let _ = write!(
        h,
        "{method} {uri} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {ua}\r\n",
        cp.host
    );
    let accept = match req_kind {
        Kind::Html | Kind::Form => "text/html,application/xhtml+xml,*/*;q=0.8",
        Kind::Json | Kind::Octet => "application/json, */*",
        Kind::Image => "image/avif,image/webp,*/*",
        _ => "*/*",
    };
    let _ = write!(h, "Accept: {accept}\r\nAccept-Encoding: gzip, deflate\r\n");
    if rng.chance(0.5) {
        h.push_str("Accept-Language: en-US,en;q=0.9\r\n");
    }
    if rng.chance(0.3) {
        let _ = write!(h, "Cookie: sid={:016x}; theme=dark\r\n", rng.next_u64());
    }
    if conditional {
        let _ = write!(h, "If-None-Match: \"{:08x}\"\r\n", rng.next_u32());
    }
    if has_req_body {
        let _ = write!(h, "Content-Type: {}\r\n", req_kind.content_type());
        match req_framing {
            Framing::Chunked => h.push_str("Transfer-Encoding: chunked\r\n"),
            _ => {
                let _ = write!(h, "Content-Length: {req_body_len}\r\n");
            }
        }
    }
    if expect_continue {
        h.push_str("Expect: 100-continue\r\n");
    }
    if last && cp.client_close_header {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    let req_head = h.into_bytes();

    // The response.
    let (status, reason, resp_kind) = if method == "HEAD" {
        (200, "OK", Kind::Html)
    } else if conditional {
        (304, "Not Modified", req_kind)
    } else if has_req_body && no_content {
        (204, "No Content", req_kind)
    } else if has_req_body {
        if method == "PUT" {
            (201, "Created", Kind::Json)
        } else {
            (200, "OK", Kind::Json)
        }
    } else if rng.chance(0.04) {
        (404, "Not Found", Kind::Html)
    } else if rng.chance(0.03) {
        (301, "Moved Permanently", Kind::Html)
    } else {
        (200, "OK", req_kind)
    };
    let bodyless = method == "HEAD" || status == 204 || status == 304;
    let plain_len = if bodyless {
        0
    } else if status == 404 || status == 301 {
        rng.range(100, 300)
    } else {
        p.resp_body.draw(rng)
    };
    let plain = if bodyless {
        Vec::new()
    } else {
        body(rng, resp_kind, plain_len)
    };
    let content_encoding =
        if !bodyless && resp_kind.is_text() && plain_len > 0 && rng.chance(p.gzip_share) {
            Some("gzip")
        } else {
            None
        };
    let coded = match content_encoding {
        Some(_) => gzip(&plain),
        None => plain,
    };
    let resp_framing = if bodyless {
        Framing::None
    } else if last && cp.close_delimited_last {
        Framing::Close
    } else if rng.chance(p.chunked_share) {
        Framing::Chunked
    } else {
        Framing::ContentLength
    };
    let resp_body_wire = match resp_framing {
        Framing::Chunked => chunk(rng, &coded),
        _ => coded,
    };
    let mut h = String::with_capacity(400);
    let _ = write!(
        h,
        "HTTP/1.1 {status} {reason}\r\nDate: {}\r\nServer: {server}\r\n",
        http_date(ts)
    );
    if status != 204 && status != 304 {
        let _ = write!(h, "Content-Type: {}\r\n", resp_kind.content_type());
    }
    match resp_framing {
        Framing::ContentLength => {
            let _ = write!(h, "Content-Length: {}\r\n", resp_body_wire.len());
        }
        Framing::Chunked => h.push_str("Transfer-Encoding: chunked\r\n"),
        Framing::Close => {}
        Framing::None => {
            if method == "HEAD" {
                // The length a GET would have had (RFC 9110 section 9.3.2).
                let _ = write!(h, "Content-Length: {}\r\n", p.resp_body.draw(rng));
            }
        }
    }
    if let Some(ce) = content_encoding {
        let _ = write!(h, "Content-Encoding: {ce}\r\nVary: Accept-Encoding\r\n");
    }
    if status == 301 {
        let _ = write!(h, "Location: https://{}/\r\n", cp.host);
    }
    if status == 304 || (status == 200 && rng.chance(0.3)) {
        let _ = write!(
            h,
            "ETag: \"{:08x}\"\r\nCache-Control: max-age=3600\r\n",
            rng.next_u32()
        );
    }
    if rng.chance(0.2) {
        let _ = write!(
            h,
            "Set-Cookie: sid={:016x}; Path=/; HttpOnly\r\n",
            rng.next_u64()
        );
        if rng.chance(0.3) {
            h.push_str("Set-Cookie: consent=yes; Path=/; Max-Age=31536000\r\n");
        }
    }
    if resp_framing == Framing::Close || (last && cp.client_close_header) {
        h.push_str("Connection: close\r\n");
    }
    h.push_str("\r\n");
    TxPlan {
        method,
        uri,
        req_head,
        req_body_len,
        req_framing,
        req_body_wire,
        expect_continue,
        status,
        resp_head: h.into_bytes(),
        resp_body_len: plain_len,
        resp_body_wire,
        resp_framing,
        content_encoding,
    }
}
