//! The HTTP/1.1 edge of the view's server: reads one request head (bounded in size and
//! time, parsed by httparse) and writes responses with the hardening headers every answer
//! carries. Every response closes its connection (no keep-alive), except the event stream.
//!
//! What it does not do: request bodies (the API is GET only), chunked encoding, HTTP/2.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Most bytes of a request head.
pub const MAX_REQUEST_HEAD: usize = 8192;
/// How long a client may take to send its request head.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a write may block before the client is dropped (a stuck browser).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// The Content-Security-Policy of every response: nothing but this origin's own script,
/// style and connections; images also from blob: (the body preview); no frames, no
/// inline code (bodies are shown with textContent, never as HTML).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// A parsed request head.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The path without the query.
    pub path: String,
    /// The query's pairs, percent-decoded.
    pub query: Vec<(String, String)>,
    /// Header fields, names lowercased.
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why no request could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The client closed or timed out: nothing to answer.
    Gone,
    /// Answer with this status.
    Status(u16),
}

/// Reads one request head from `stream`.
pub fn read_request(stream: &mut TcpStream) -> Result<Request, ReadError> {
    stream
        .set_read_timeout(Some(READ_TIMEOUT))
        .map_err(|_| ReadError::Gone)?;
    let mut buf = vec![0u8; MAX_REQUEST_HEAD];
    let mut len = 0;
    loop {
        if len == buf.len() {
            return Err(ReadError::Status(431));
        }
        let n = stream.read(&mut buf[len..]).map_err(|_| ReadError::Gone)?;
        if n == 0 {
            return Err(ReadError::Gone);
        }
        len += n;
        match parse(&buf[..len]) {
            Ok(Some(r)) => return Ok(r),
            Ok(None) => continue,
            Err(s) => return Err(ReadError::Status(s)),
        }
    }
}

/// Parses a request head: `Ok(None)` while incomplete, `Err(status)` when bad.
pub fn parse(bytes: &[u8]) -> Result<Option<Request>, u16> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(bytes) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(_)) => {
            let target = req.path.unwrap_or("/");
            let (path, query) = target.split_once('?').unwrap_or((target, ""));
            Ok(Some(Request {
                method: req.method.unwrap_or("").to_string(),
                path: percent_decode(path),
                query: query
                    .split('&')
                    .filter(|kv| !kv.is_empty())
                    .map(|kv| {
                        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                        (form_decode(k), form_decode(v))
                    })
                    .collect(),
                headers: req
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect(),
            }))
        }
        Err(httparse::Error::TooManyHeaders) => Err(431),
        Err(_) => Err(400),
    }
}

fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// `%XX` decoding; invalid escapes are kept as they are; the result is lossy UTF-8.
pub fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |x: u8| (x as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The reason phrase of the statuses the server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        303 => "See Other",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        421 => "Misdirected Request",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// A response to write.
#[derive(Clone, Debug, Default)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response::new(status, "application/json", body)
    }

    /// A plain-text error: `403 Forbidden: why`.
    pub fn error(status: u16, why: &str) -> Response {
        Response::new(
            status,
            "text/plain; charset=utf-8",
            format!("{status} {}: {why}\n", reason(status)),
        )
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }
}

/// The head of a response: status line, the hardening headers, the given ones.
pub fn head(status: u16, content_type: &str, extra: &[(&'static str, String)]) -> String {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\n\
         Content-Security-Policy: {CSP}\r\nX-Content-Type-Options: nosniff\r\n\
         Referrer-Policy: no-referrer\r\nCross-Origin-Opener-Policy: same-origin\r\n\
         Cross-Origin-Resource-Policy: same-origin\r\nX-Frame-Options: DENY\r\n\
         Cache-Control: no-store\r\n",
        reason(status)
    );
    for (n, v) in extra {
        // Values come from this server, but a CR or LF must never split the head.
        let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
        h.push_str(&format!("{n}: {v}\r\n"));
    }
    h
}

/// Writes `r` and closes the writing side.
pub fn write_response(stream: &mut TcpStream, r: &Response, send_body: bool) -> io::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut h = head(r.status, r.content_type, &r.headers);
    h.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        r.body.len()
    ));
    stream.write_all(h.as_bytes())?;
    if send_body {
        stream.write_all(&r.body)?;
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_heads_and_queries() {
        let r = parse(b"GET /api/v1/entries?filter=host%3Aa+b&limit=5 HTTP/1.1\r\nHost: x\r\nCookie: a=b\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(r.path, "/api/v1/entries");
        assert_eq!(r.param("filter"), Some("host:a b"));
        assert_eq!(r.param("limit"), Some("5"));
        assert_eq!(r.header("host"), Some("x"));
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(parse(b"\x00\x01 / HTTP/1.1\r\n\r\n"), Err(400));
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("a%20b%"), "a b%");
    }

    #[test]
    fn heads_carry_the_hardening_headers() {
        let h = head(200, "text/html", &[("X-A", "v\r\nInjected: 1".into())]);
        for want in [
            "Content-Security-Policy: default-src 'none'",
            "X-Content-Type-Options: nosniff",
            "X-A: vInjected: 1\r\n",
        ] {
            assert!(h.contains(want), "{want} in {h}");
        }
    }
}
