//! Header redaction: `-redact-headers Authorization,Cookie,Set-Cookie`.
//!
//! What it does: replaces the values of the named header fields (names compared ignoring
//! ASCII case) with [`MARKER`], in every place a header field of the transaction lives:
//! the request's and the final response's headers, every interim (1xx) response's headers
//! and the trailer fields of both bodies. It runs once per transaction in the worker that
//! built it (next to body selection), so no processor ever sees the values: the HAR
//! `file`, `sampled-transactions` and `ndjson` outputs, the `console` view, the statistics
//! (`-stats-group-by header:NAME` is refused for a redacted name by `cli`) and the metrics
//! all get the redacted transaction.
//!
//! Cookies keep their names: `Cookie: sid=abc; theme=dark` becomes
//! `Cookie: sid=[redacted]; theme=[redacted]`, and `Set-Cookie: sid=abc; Path=/; HttpOnly`
//! becomes `Set-Cookie: sid=[redacted]; Path=/; HttpOnly`, so HAR's `cookies` lists still
//! say which cookies went by (and their Set-Cookie attributes), never their values. A
//! piece without `=` is a nameless cookie whose whole text is its value (RFC 6265bis §5.6,
//! as `har::cookie` parses it): it becomes the marker. Set-Cookie attributes other than the
//! ones RFC 6265 §5.2 and RFC 6265bis define keep their name only.
//!
//! Every field derived from a header in the HAR entry is derived from the redacted value:
//! `mimeType` (Content-Type), `redirectURL` (Location), `cookies`. `Host` cannot be
//! redacted (`cli` refuses it): the entry's URL and the split-by-host file names are built
//! from it.
//!
//! What it does not do: change any size. `head_len` (HAR `headersSize`) is the head's size
//! on the wire and the body sizes are the bodies' own, so sizes are exact with or without
//! redaction. It does not touch the request line: the URL and `queryString` are not header
//! fields, nor bodies (a form posting a password keeps it; `-drop-content-type` /
//! `-keep-content-type` decide about bodies). Body decoding and body selection have already
//! happened when it runs, so redacting Content-Type or Content-Encoding does not change
//! which bodies are kept or decoded.
//!
//! Set-Cookie attributes keep their value only when it has the attribute's own shape (a
//! date, a number, a host name, a path without a comma): two Set-Cookie fields folded into
//! one line put the second cookie into an attribute's value. A field whose name HPACK
//! could not resolve (`x-httshark-unknown-index-N`: an HTTP/2 stream picked up
//! mid-connection) could be any listed one, so its value is redacted whenever a list is
//! given.
//!
//! Invariants: a pure function of the transaction; applying it twice is applying it once;
//! a name not listed (nor an unresolved HPACK name) is never touched; the number, order and
//! names of header fields stay.

use crate::model::{Header, Transaction};

/// What a redacted value (or a redacted cookie value) is replaced with.
pub const MARKER: &str = "[redacted]";
/// Header names per `-redact-headers` list at most (a longer list is refused).
pub const MAX_NAMES: usize = 256;
/// Bytes per header name at most.
pub const MAX_NAME_LEN: usize = 255;

/// Set-Cookie attributes whose values are kept (RFC 6265 §5.2, RFC 6265bis §5.6.7 and
/// CHIPS' `Partitioned`): they say where and how long the cookie lives, never what it is.
const KNOWN_ATTRIBUTES: &[&str] = &[
    "expires",
    "max-age",
    "domain",
    "path",
    "secure",
    "httponly",
    "samesite",
    "partitioned",
];

/// The header names whose values are redacted. Empty: nothing is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Redaction {
    /// Lowercased, distinct, valid field names.
    names: Vec<String>,
}

/// An RFC 9110 §5.1 field name: a `token` (`tchar`s).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

impl Redaction {
    /// Parses `-redact-headers`: a comma-separated list of field names, items trimmed,
    /// empty items skipped, duplicates (ignoring case) merged. `Host` is refused (see the
    /// module docs), as is anything that is not a field name.
    pub fn parse(list: &str) -> Result<Redaction, String> {
        let mut names: Vec<String> = Vec::new();
        for item in list.split(',') {
            let name = item.trim();
            if name.is_empty() {
                continue;
            }
            if name.len() > MAX_NAME_LEN {
                return Err(format!(
                    "-redact-headers: header name longer than {MAX_NAME_LEN} bytes: {:?}...",
                    name.chars().take(20).collect::<String>()
                ));
            }
            if !is_token(name) {
                return Err(format!(
                    "-redact-headers: {name:?} is not a header field name (RFC 9110 §5.1)"
                ));
            }
            let lower = name.to_ascii_lowercase();
            if lower == "host" {
                return Err(
                    "-redact-headers: Host can't be redacted: every entry's URL and the split-by-host file names are built from it"
                        .to_string(),
                );
            }
            if !names.contains(&lower) {
                if names.len() == MAX_NAMES {
                    return Err(format!("-redact-headers: more than {MAX_NAMES} names"));
                }
                names.push(lower);
            }
        }
        Ok(Redaction { names })
    }

    /// Nothing to redact: the worker skips the pass.
    pub fn is_noop(&self) -> bool {
        self.names.is_empty()
    }

    /// Whether values of the field `name` are redacted (ignoring ASCII case).
    pub fn covers(&self, name: &str) -> bool {
        self.names.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The lowercased names, in the order given.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Redacts every listed header field of `tx` in place.
    pub fn apply(&self, tx: &mut Transaction) {
        if self.is_noop() {
            return;
        }
        self.headers(&mut tx.request.headers);
        self.headers(&mut tx.request.body.trailers);
        if let Some(r) = &mut tx.response {
            self.headers(&mut r.headers);
            self.headers(&mut r.body.trailers);
            for i in &mut r.interim {
                self.headers(&mut i.headers);
            }
        }
    }

    /// Redacts the listed fields of `headers`, and every field whose name HPACK lost (an
    /// HTTP/2 stream picked up mid-connection: `x-httshark-unknown-index-N`), which could
    /// be any listed one.
    fn headers(&self, headers: &mut [Header]) {
        for h in headers
            .iter_mut()
            .filter(|h| self.covers(&h.name) || is_unknown_name(&h.name))
        {
            h.value = if h.name.eq_ignore_ascii_case("cookie") {
                redact_cookie(&h.value).into()
            } else if h.name.eq_ignore_ascii_case("set-cookie") {
                redact_set_cookie(&h.value).into()
            } else {
                MARKER.into()
            };
        }
    }
}

/// A field name standing for one HPACK could not resolve (`hpack::UNKNOWN_INDEX_PREFIX`).
fn is_unknown_name(name: &str) -> bool {
    let prefix = crate::h2::hpack::UNKNOWN_INDEX_PREFIX;
    name.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// `name=value` -> `name=[redacted]`; a piece without `=` (a nameless cookie) -> the
/// marker. Splits at the first `=` and trims, as `har::cookie` does, so the names HAR
/// shows are the names that were sent.
fn redact_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((name, _)) => format!("{}={MARKER}", name.trim()),
        None => MARKER.to_string(),
    }
}

/// A Cookie field value: every pair's value redacted, names kept, pieces joined with `; `
/// (RFC 6265 §4.2.1). A value that is all separators stays empty-ish (nothing to hide).
fn redact_cookie(value: &str) -> String {
    let pieces: Vec<String> = value
        .split(';')
        .filter(|p| !p.trim().is_empty())
        .map(redact_pair)
        .collect();
    if pieces.is_empty() {
        // Only separators and spaces: no cookie, nothing secret; say it was redacted anyway.
        return MARKER.to_string();
    }
    pieces.join("; ")
}

/// A Set-Cookie field value: the cookie's value redacted; known attributes kept as sent
/// when their value has the attribute's own shape (`plain_attribute`), else reduced to
/// their name, like unknown ones (their value could be anything).
fn redact_set_cookie(value: &str) -> String {
    let mut parts = value.split(';');
    let mut out = redact_pair(parts.next().unwrap_or(""));
    for attr in parts {
        let attr = attr.trim();
        if attr.is_empty() {
            continue;
        }
        let (name, value) = match attr.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (attr, None),
        };
        out.push_str("; ");
        let known = KNOWN_ATTRIBUTES
            .iter()
            .find(|k| k.eq_ignore_ascii_case(name));
        match (known, value) {
            // A known flag (`Secure`), or a known attribute's value of its own shape.
            (Some(_), None) => out.push_str(attr),
            (Some(k), Some(v)) if v == MARKER || plain_attribute(k, v) => out.push_str(attr),
            (_, Some(_)) => {
                out.push_str(name);
                out.push('=');
                out.push_str(MARKER);
            }
            // A bare unknown word: it is its own value, so it goes too.
            (None, None) => out.push_str(MARKER),
        }
    }
    out
}

/// Whether `value` has the shape known attribute `name` (lowercase) gives it, so keeping
/// it shows nothing else. A server or proxy that folds two Set-Cookie fields into one
/// line joins them with a comma (`a=1; Path=/, b=secret; Path=/`): the second cookie then
/// sits in an attribute's value, and these shapes leave it out. `Expires`' one comma is
/// the one after the weekday (`Wed, 21 Oct 2015 07:28:00 GMT`, RFC 6265 §4.1.1); a date
/// without a weekday has none.
fn plain_attribute(name: &str, value: &str) -> bool {
    let b = value.as_bytes();
    match name {
        "expires" => {
            let commas = b.iter().filter(|&&c| c == b',').count();
            let first_digit = b.iter().position(u8::is_ascii_digit).unwrap_or(b.len());
            b.len() <= 64
                && b.iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b' ' | b':' | b'-' | b','))
                && (commas == 0
                    || (commas == 1 && b.iter().position(|&c| c == b',') < Some(first_digit)))
        }
        "max-age" => {
            let digits = b.strip_prefix(b"-").unwrap_or(b);
            (1..=20).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit)
        }
        "domain" => {
            let host = b.strip_prefix(b".").unwrap_or(b);
            (1..=253).contains(&host.len())
                && host
                    .iter()
                    .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-'))
        }
        "path" => {
            b.first() == Some(&b'/')
                && b.len() <= 1024
                && b.iter().all(|&c| c.is_ascii_graphic() && c != b',')
        }
        "samesite" => (1..=16).contains(&b.len()) && b.iter().all(u8::is_ascii_alphabetic),
        // Flags (`Secure`, `HttpOnly`, `Partitioned`) have no value.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{
        Body, ConnInfo, HttpVersion, Interim, Request, Response, Transaction as Tx,
    };
    use crate::time::Timestamp;

    fn h(n: &str, v: &str) -> Header {
        Header {
            name: n.to_string().into(),
            value: v.into(),
        }
    }

    fn tx() -> Tx {
        Tx {
            conn: ConnInfo {
                id: 1,
                client: "192.0.2.1:40000".parse().unwrap(),
                server: "198.51.100.7:80".parse().unwrap(),
                syn_ts: None,
                synack_ts: None,
                established_ts: None,
                midstream: true,
            },
            depth: 1,
            request: Request {
                method: "GET".into(),
                target: "/?token=q".into(),
                version: HttpVersion::Http11,
                headers: vec![
                    h("Host", "example.com"),
                    h("authorization", "Bearer s3cret"),
                    h("Cookie", "sid=abc123; theme=dark"),
                    h("X-Other", "keep"),
                ],
                head_len: 123,
                body: Body {
                    trailers: vec![h("AUTHORIZATION", "Basic dHJhaWxlcg==")],
                    ..Body::default()
                },
                first_ts: Timestamp(1),
                last_ts: Timestamp(2),
                complete: true,
            },
            response: Some(Response {
                status: 200,
                reason: "OK".into(),
                version: HttpVersion::Http11,
                headers: vec![
                    h("Set-Cookie", "sid=abc123; Path=/; HttpOnly; Foo=bar; weird"),
                    h("WWW-Authenticate", "Basic realm=x"),
                ],
                head_len: 77,
                body: Body::default(),
                first_ts: Timestamp(3),
                last_ts: Timestamp(4),
                complete: true,
                interim: vec![Interim {
                    status: 103,
                    reason: "Early Hints".into(),
                    version: HttpVersion::Http11,
                    headers: vec![h("Set-Cookie", "early=e4rly")],
                    head_len: 40,
                    ts: Timestamp(3),
                }],
            }),
            anomalies: Vec::new(),
            process: None,
            completed_at: Timestamp(4),
            tls: None,
            h2: None,
        }
    }

    #[test]
    fn every_listed_header_everywhere_ignoring_case() {
        let r = Redaction::parse(" Authorization , cookie,SET-COOKIE,www-authenticate,").unwrap();
        assert_eq!(
            r.names(),
            ["authorization", "cookie", "set-cookie", "www-authenticate"]
        );
        let mut t = tx();
        r.apply(&mut t);
        let req = &t.request;
        assert_eq!(req.headers[0], h("Host", "example.com"));
        assert_eq!(req.headers[1], h("authorization", MARKER));
        assert_eq!(
            req.headers[2],
            h("Cookie", "sid=[redacted]; theme=[redacted]")
        );
        assert_eq!(req.headers[3], h("X-Other", "keep"));
        assert_eq!(req.body.trailers[0], h("AUTHORIZATION", MARKER));
        let resp = t.response.as_ref().unwrap();
        assert_eq!(
            resp.headers[0].value,
            "sid=[redacted]; Path=/; HttpOnly; Foo=[redacted]; [redacted]"
        );
        assert_eq!(resp.headers[1].value, MARKER);
        assert_eq!(resp.interim[0].headers[0].value, "early=[redacted]");
        // Sizes and the request line are untouched.
        assert_eq!((req.head_len, resp.head_len), (123, 77));
        assert_eq!(req.target, "/?token=q");
        let dump = format!("{t:?}");
        for secret in [
            "s3cret",
            "abc123",
            "dark",
            "dHJhaWxlcg",
            "realm",
            "e4rly",
            "bar",
        ] {
            assert!(!dump.contains(secret), "{secret} leaked: {dump}");
        }
        // Idempotent.
        let once = t.clone();
        r.apply(&mut t);
        assert_eq!(t, once);
    }

    #[test]
    fn unlisted_headers_and_empty_lists_touch_nothing() {
        let mut t = tx();
        Redaction::parse("").unwrap().apply(&mut t);
        assert_eq!(t, tx());
        assert!(Redaction::parse(" , ,").unwrap().is_noop());
        let mut t = tx();
        Redaction::parse("X-Absent").unwrap().apply(&mut t);
        assert_eq!(t, tx());
    }

    #[test]
    fn cookie_shapes() {
        assert_eq!(redact_cookie("a=1"), "a=[redacted]");
        assert_eq!(
            redact_cookie(" a = 1 ;b=2=3;;"),
            "a=[redacted]; b=[redacted]"
        );
        // A nameless cookie is all value.
        assert_eq!(redact_cookie("tok3n; a=1"), "[redacted]; a=[redacted]");
        assert_eq!(redact_cookie(""), MARKER);
        assert_eq!(redact_cookie(" ; "), MARKER);
        assert_eq!(redact_set_cookie("tok3n"), MARKER);
        assert_eq!(
            redact_set_cookie("id=x; Expires=Wed, 21 Oct 2026 07:28:00 GMT; max-age=60; SameSite=Lax; Secure; Partitioned; Domain=example.com"),
            "id=[redacted]; Expires=Wed, 21 Oct 2026 07:28:00 GMT; max-age=60; SameSite=Lax; Secure; Partitioned; Domain=example.com"
        );
    }

    /// Two Set-Cookie fields folded into one line with a comma put the second cookie into
    /// an attribute's value: only values of the attribute's own shape are kept.
    #[test]
    fn folded_set_cookies_keep_no_second_value() {
        for (folded, want) in [
            (
                "a=1; Path=/, b=F0LDED; Path=/",
                "a=[redacted]; Path=[redacted]; Path=/",
            ),
            (
                "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT, d=EXPS3CRET",
                "a=[redacted]; Expires=[redacted]",
            ),
            (
                "a=1; Expires=21 Oct 2026 07:28:00 GMT, N0NAME",
                "a=[redacted]; Expires=[redacted]",
            ),
            (
                "a=1; Domain=x.test,f=D0MSECRET",
                "a=[redacted]; Domain=[redacted]",
            ),
            ("a=1; Max-Age=60, g=AG3", "a=[redacted]; Max-Age=[redacted]"),
            (
                "a=1; SameSite=Lax, h=S4ME",
                "a=[redacted]; SameSite=[redacted]",
            ),
            ("a=1; Secure=, i=FL4G", "a=[redacted]; Secure=[redacted]"),
            (
                "a=1; HttpOnly, j=FL4G2",
                "a=[redacted]; HttpOnly, j=[redacted]",
            ),
        ] {
            let got = redact_set_cookie(folded);
            assert_eq!(got, want, "{folded}");
            assert_eq!(redact_set_cookie(&got), got, "idempotent: {folded}");
        }
        // Values of their own shape stay, whatever the case of the name.
        for kept in [
            "a=[redacted]; Expires=Wednesday, 21-Oct-26 07:28:00 GMT",
            "a=[redacted]; expires=21 Oct 2026 07:28:00 GMT",
            "a=[redacted]; MAX-AGE=-1; Domain=.Example-1.test; Path=/a/b.c?x; SameSite=None",
        ] {
            assert_eq!(redact_set_cookie(kept), kept);
        }
    }

    /// A field whose name HPACK lost could be any listed one: its value goes whenever
    /// something is redacted, and stays when nothing is.
    #[test]
    fn unknown_hpack_names_are_redacted_when_anything_is() {
        let mut t = tx();
        t.request
            .headers
            .push(h("x-httshark-unknown-index-62", "SECRET-API-KEY"));
        let mut none = t.clone();
        Redaction::parse("").unwrap().apply(&mut none);
        assert_eq!(none, t);
        Redaction::parse("X-Api-Key").unwrap().apply(&mut t);
        assert_eq!(
            t.request.headers.last(),
            Some(&h("x-httshark-unknown-index-62", MARKER))
        );
    }

    #[test]
    fn har_cookies_keep_names_and_lose_values() {
        let r = Redaction::parse("Cookie,Set-Cookie").unwrap();
        let mut t = tx();
        r.apply(&mut t);
        let e = crate::har::reference::entry(&t);
        let req: Vec<(&str, &str)> = e
            .entry
            .request
            .cookies
            .iter()
            .map(|c| (c.name.as_str(), c.value.as_str()))
            .collect();
        assert_eq!(req, [("sid", MARKER), ("theme", MARKER)]);
        let c = &e.entry.response.cookies[0];
        assert_eq!((c.name.as_str(), c.value.as_str()), ("sid", MARKER));
        assert_eq!(c.path.as_deref(), Some("/"));
        assert_eq!(c.http_only, Some(true));
        assert_eq!(e.entry.request.headers_size, 123);
        assert_eq!(e.entry.response.headers_size, 77);
        let json = serde_json::to_string(&e).unwrap();
        assert!(!json.contains("abc123") && !json.contains("dark"), "{json}");
    }

    #[test]
    fn refused_lists() {
        for (list, needle) in [
            ("Host", "Host can't be redacted"),
            ("cookie, HOST", "Host can't be redacted"),
            ("Bad Name", "not a header field name"),
            ("a:b", "not a header field name"),
            ("caf\u{e9}", "not a header field name"),
        ] {
            let e = Redaction::parse(list).unwrap_err();
            assert!(
                e.starts_with("-redact-headers: ") && e.contains(needle),
                "{e}"
            );
        }
        let long = "a".repeat(MAX_NAME_LEN + 1);
        assert!(Redaction::parse(&long).unwrap_err().contains("longer than"));
        let many: Vec<String> = (0..=MAX_NAMES).map(|i| format!("x-{i}")).collect();
        assert!(Redaction::parse(&many.join(","))
            .unwrap_err()
            .contains("more than"));
        // Duplicates merge, so the limit counts distinct names.
        let dup = vec!["a"; MAX_NAMES + 10].join(",");
        assert_eq!(Redaction::parse(&dup).unwrap().names(), ["a"]);
    }
}
