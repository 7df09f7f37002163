//! Message content: bodies of a given kind and exact length cut from a fixed text corpus
//! (or random bytes), gzip coding, chunked transfer coding, HTTP dates and request-targets.

use std::io::Write as _;
use std::sync::OnceLock;

use crate::rng::Rng;
use crate::time::Timestamp;

const WORDS: &[&str] = &[
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "incididunt",
    "ut",
    "labore",
    "et",
    "dolore",
    "magna",
    "aliqua",
    "packet",
    "capture",
    "stream",
    "segment",
    "window",
    "header",
    "request",
    "response",
];

/// A 64 KiB block of text that text bodies are cut from (built once, from a fixed seed).
fn corpus() -> &'static [u8] {
    static CORPUS: OnceLock<Vec<u8>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut r = Rng::new(0x5eed);
        let mut s = String::with_capacity(66_000);
        while s.len() < 65_536 {
            let n = r.range(4, 14);
            for i in 0..n {
                let w = r.pick(WORDS).copied().unwrap_or("x");
                if i > 0 {
                    s.push(' ');
                }
                s.push_str(w);
            }
            s.push_str(".\n");
        }
        s.into_bytes()
    })
}

/// What a body holds, which decides its Content-Type and whether it compresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Html,
    Json,
    Css,
    Js,
    Image,
    Octet,
    Form,
}

impl Kind {
    pub(super) fn content_type(self) -> &'static str {
        match self {
            Kind::Html => "text/html; charset=utf-8",
            Kind::Json => "application/json",
            Kind::Css => "text/css",
            Kind::Js => "application/javascript",
            Kind::Image => "image/webp",
            Kind::Octet => "application/octet-stream",
            Kind::Form => "application/x-www-form-urlencoded",
        }
    }

    pub(super) fn is_text(self) -> bool {
        !matches!(self, Kind::Image | Kind::Octet)
    }
}

/// A body of exactly `len` bytes of the given kind.
pub(super) fn body(rng: &mut Rng, kind: Kind, len: u64) -> Vec<u8> {
    let len = len as usize;
    let mut out = Vec::with_capacity(len);
    if kind.is_text() {
        let (pre, post): (&[u8], &[u8]) = match kind {
            Kind::Html => (b"<!DOCTYPE html>\n<html><body><p>", b"</p></body></html>\n"),
            Kind::Json => (b"{\"items\":[\"", b"\"]}"),
            Kind::Form => (b"field=", b"&submit=1"),
            _ => (b"/* ", b" */\n"),
        };
        let c = corpus();
        if len >= pre.len() + post.len() {
            out.extend_from_slice(pre);
            let mut at = rng.below(c.len() as u64) as usize;
            while out.len() < len - post.len() {
                let take = (len - post.len() - out.len()).min(c.len() - at);
                out.extend_from_slice(c.get(at..at + take).unwrap_or_default());
                at = 0;
            }
            out.extend_from_slice(post);
        } else if kind == Kind::Json && len >= 2 {
            // Too short for the wrapper: a JSON string is still valid JSON.
            out.push(b'"');
            out.extend(c.iter().take(len - 2));
            out.push(b'"');
        } else if kind == Kind::Json {
            out.extend(b"0".iter().take(len));
        } else {
            out.extend(c.iter().take(len));
        }
        if kind == Kind::Json {
            // Keep JSON strings free of control characters (RFC 8259 section 7).
            for b in out.iter_mut() {
                if *b == b'\n' {
                    *b = b' ';
                }
            }
        }
        if kind == Kind::Form {
            // Form bodies must not carry raw spaces or newlines.
            for b in out.iter_mut() {
                if *b == b' ' || *b == b'\n' {
                    *b = b'+';
                }
            }
        }
    } else {
        if kind == Kind::Image && len >= 4 {
            out.extend_from_slice(b"RIFF");
        }
        while out.len() + 8 <= len {
            out.extend_from_slice(&rng.next_u64().to_le_bytes());
        }
        let rest = rng.next_u64().to_le_bytes();
        let need = len - out.len();
        out.extend_from_slice(rest.get(..need).unwrap_or_default());
    }
    out
}

pub(super) fn gzip(data: &[u8]) -> Vec<u8> {
    // mtime 0 and OS 255 ("unknown") so the output depends on the data only.
    let mut e = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(
            Vec::with_capacity(data.len() / 3 + 64),
            flate2::Compression::fast(),
        );
    // Writing into a Vec cannot fail.
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

/// Chunked transfer coding (RFC 9112 section 7.1) with random chunk sizes, no trailers.
pub(super) fn chunk(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 256 + 16);
    let mut rest = data;
    while !rest.is_empty() {
        let n = (rng.log_uniform(1, 16 * 1024) as usize).min(rest.len());
        let (c, r) = rest.split_at(n);
        let _ = write!(&mut out, "{n:x}\r\n");
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
        rest = r;
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

pub(super) fn http_date(ts: Timestamp) -> String {
    chrono::DateTime::from_timestamp(ts.secs(), 0)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_else(|| "Thu, 01 Jan 1970 00:00:00 GMT".to_string())
}

/// A request-target with realistic shapes: static files, API paths, query strings (with
/// repeated keys sometimes) and percent-encoding.
pub(super) fn uri(rng: &mut Rng, method: &str, kind: Kind) -> String {
    let n = rng.below(10_000);
    match (method, kind) {
        ("POST", Kind::Form) => "/login".to_string(),
        ("POST", _) => format!("/api/v1/items?batch={}", rng.below(100)),
        ("PUT", _) => format!("/upload/files/report%20{n}.bin"),
        (_, Kind::Html) => match rng.below(4) {
            0 => "/".to_string(),
            1 => format!("/news/{n}.html"),
            2 => format!(
                "/search?q={}&tag={}&tag={}&page={}",
                rng.pick(WORDS).copied().unwrap_or("q"),
                rng.pick(WORDS).copied().unwrap_or("a"),
                rng.pick(WORDS).copied().unwrap_or("b"),
                rng.range(1, 9)
            ),
            _ => "/index.html".to_string(),
        },
        (_, Kind::Json) => match rng.below(2) {
            0 => format!("/api/v1/items/{n}"),
            _ => format!("/api/v1/items?id={n}&id={}&fields=name,price", n + 1),
        },
        (_, Kind::Css) => format!("/static/site.{n:x}.css"),
        (_, Kind::Js) => format!("/static/app.{n:x}.js?v={}", rng.below(50)),
        (_, Kind::Image) => format!("/img/photo_{n}.webp"),
        _ => format!("/download/file{n}.bin"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_exactly_the_drawn_length() {
        let mut r = Rng::new(1);
        let kinds = [
            Kind::Html,
            Kind::Json,
            Kind::Css,
            Kind::Js,
            Kind::Image,
            Kind::Octet,
            Kind::Form,
        ];
        for k in kinds {
            for len in (0..80).chain([1000, 70_000, 200_001]) {
                let b = body(&mut r, k, len);
                assert_eq!(b.len() as u64, len, "{k:?}");
                if k == Kind::Json && len >= 2 {
                    assert!(!b.contains(&b'\n'));
                }
                if k == Kind::Form {
                    assert!(!b.contains(&b' '));
                }
            }
        }
    }

    #[test]
    fn chunking_round_trips() {
        let mut r = Rng::new(2);
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
        let wire = chunk(&mut r, &data);
        // Decode by hand: hex size line, data, CRLF, ..., 0 CRLF CRLF.
        let mut out = Vec::new();
        let mut rest = &wire[..];
        loop {
            let eol = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&rest[..eol]).unwrap(), 16).unwrap();
            rest = &rest[eol + 2..];
            if n == 0 {
                assert_eq!(rest, b"\r\n");
                break;
            }
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n + 2..];
        }
        assert_eq!(out, data);
        assert_eq!(chunk(&mut r, b""), b"0\r\n\r\n");
    }

    #[test]
    fn gzip_is_deterministic_and_decodes() {
        use std::io::Read;
        let plain = body(&mut Rng::new(3), Kind::Html, 10_000);
        let z = gzip(&plain);
        assert_eq!(z, gzip(&plain));
        assert!(z.len() < plain.len() / 2, "text compresses");
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..])
            .read_to_end(&mut back)
            .unwrap();
        assert_eq!(back, plain);
    }
}
