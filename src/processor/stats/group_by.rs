//! `-stats-group-by`: what a "site" is in the statistics files.
//!
//! | spec            | site key                                                         |
//! |-----------------|------------------------------------------------------------------|
//! | `host`          | the Host header as sent (port kept), else the server `ip:port`   |
//! | `path-prefix:N` | the first N non-empty segments of the request path, `/api/v1`    |
//! | `query:NAME`    | the (first) value of query parameter NAME, percent-decoded       |
//! | `header:NAME`   | the (first) value of request header NAME (case-insensitive name) |
//! | `process`       | the command name (comm) of the connection's process (live captures with attribution), `(unattributed:WHY)` when none |
//!
//! A parameter or header that is absent gives [`NONE_KEY`]; one that is present but empty
//! gives [`EMPTY_KEY`].
//!
//! Invariants of every key: at most [`MAX_SITE_KEY_BYTES`] bytes (cut at a character
//! boundary, counted by the caller through [`SiteKey::truncated`]), and no control
//! characters (each is written as `\xNN`), so a key stays on one line of a terminal or a
//! spreadsheet. CSV quoting of commas and quotes is left to the `csv` writer.
//!
//! What it does not do: normalise. Keys are as on the wire (no lowercasing of hosts, no
//! percent-decoding of paths, no dot-segment removal), so what an operator greps for in a
//! HAR file is what the statistics show.

use std::fmt;

use crate::model::{header, Owner, Transaction};

/// Longest site key kept, in bytes. Hosts and header values sent by clients can be of any
/// length; the statistics file must stay readable and its memory bounded.
pub const MAX_SITE_KEY_BYTES: usize = 200;

/// Largest N accepted in `path-prefix:N`.
pub const MAX_PATH_SEGMENTS: usize = 64;

/// The key of a transaction whose query parameter or header is absent.
pub const NONE_KEY: &str = "(none)";

/// The key of a transaction whose query parameter or header is present but empty.
pub const EMPTY_KEY: &str = "(empty)";

/// How transactions are grouped into sites.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum GroupBy {
    /// The Host header as sent, else the server address.
    #[default]
    Host,
    /// The first N (1..=[`MAX_PATH_SEGMENTS`]) segments of the request path.
    PathPrefix(usize),
    /// The value of a query parameter (name matched exactly, after percent-decoding).
    Query(String),
    /// The value of a request header (name matched ASCII case-insensitively).
    Header(String),
    /// The command name of the connection's process (`Transaction::process`).
    Process,
}

impl GroupBy {
    /// Whether its keys are captured values that can be secrets: a header (Authorization,
    /// Cookie), a query parameter (a token) or path segments (`/reset/<token>`). The
    /// statistics file is then written private (mode 0600), like a HAR file; hosts and
    /// command names are not.
    pub fn may_hold_secrets(&self) -> bool {
        matches!(
            self,
            GroupBy::Header(_) | GroupBy::Query(_) | GroupBy::PathPrefix(_)
        )
    }
}

/// A site key and whether it was cut at [`MAX_SITE_KEY_BYTES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteKey {
    pub key: String,
    pub truncated: bool,
}

impl GroupBy {
    /// Parses a `-stats-group-by` spec. The error is a sentence for the command line.
    pub fn parse(spec: &str) -> Result<GroupBy, String> {
        let spec = spec.trim();
        let (kind, arg) = match spec.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (spec, None),
        };
        match (kind, arg) {
            ("host", None) => Ok(GroupBy::Host),
            ("process", None) => Ok(GroupBy::Process),
            ("process", Some(_)) => Err(format!(
                "-stats-group-by {spec:?}: process takes no argument"
            )),
            ("host", Some(_)) => Err(format!("-stats-group-by {spec:?}: host takes no argument")),
            ("path-prefix", Some(n)) => match n.parse::<usize>() {
                Ok(n) if (1..=MAX_PATH_SEGMENTS).contains(&n) => Ok(GroupBy::PathPrefix(n)),
                _ => Err(format!(
                    "-stats-group-by {spec:?}: path-prefix needs a number of path segments \
                     from 1 to {MAX_PATH_SEGMENTS}, e.g. path-prefix:2"
                )),
            },
            ("query", Some(name)) if !name.is_empty() => Ok(GroupBy::Query(name.to_string())),
            ("query", _) => Err(format!(
                "-stats-group-by {spec:?}: query needs a parameter name, e.g. query:s"
            )),
            ("header", Some(name)) if !name.is_empty() && name.bytes().all(is_tchar) => {
                Ok(GroupBy::Header(name.to_string()))
            }
            ("header", _) => Err(format!(
                "-stats-group-by {spec:?}: header needs a header field name \
                 (RFC 9110 token characters), e.g. header:X-Tenant"
            )),
            ("path-prefix", None) => Err(format!(
                "-stats-group-by {spec:?}: path-prefix needs a number of path segments, \
                 e.g. path-prefix:2"
            )),
            _ => Err(format!(
                "-stats-group-by {spec:?}: unknown grouping; use one of host, path-prefix:N, \
                 query:NAME, header:NAME, process"
            )),
        }
    }

    /// The site key of `tx`.
    pub fn key(&self, tx: &Transaction) -> SiteKey {
        match self {
            GroupBy::Host => bounded(&tx.host()),
            GroupBy::PathPrefix(n) => bounded(&path_prefix(&tx.request.target, *n)),
            GroupBy::Query(name) => match query_param(&tx.request.target, name) {
                None => bounded(NONE_KEY),
                Some(v) if v.is_empty() => bounded(EMPTY_KEY),
                Some(v) => bounded(&v),
            },
            GroupBy::Header(name) => match header(&tx.request.headers, name).map(str::trim) {
                None => bounded(NONE_KEY),
                Some("") => bounded(EMPTY_KEY),
                Some(v) => bounded(v),
            },
            GroupBy::Process => match tx.process.as_deref() {
                None => bounded(NONE_KEY),
                Some(Owner::Process(p)) => bounded(&p.name),
                Some(Owner::Unattributed { why, .. }) => {
                    bounded(&format!("(unattributed:{})", why.name()))
                }
            },
        }
    }
}

impl fmt::Display for GroupBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupBy::Host => f.write_str("host"),
            GroupBy::PathPrefix(n) => write!(f, "path-prefix:{n}"),
            GroupBy::Query(name) => write!(f, "query:{name}"),
            GroupBy::Header(name) => write!(f, "header:{name}"),
            GroupBy::Process => f.write_str("process"),
        }
    }
}

/// RFC 9110 §5.6.2 `tchar`: the characters of a field name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Escapes control characters and cuts the key at [`MAX_SITE_KEY_BYTES`].
fn bounded(raw: &str) -> SiteKey {
    let mut key = String::with_capacity(raw.len().min(MAX_SITE_KEY_BYTES));
    let mut truncated = false;
    for c in raw.chars() {
        let escaped;
        let mut buf = [0u8; 4];
        let piece: &str = if c.is_control() {
            // `\xNN` for C0 and DEL; C1 controls (U+0080..U+009F) show their code point.
            escaped = format!("\\x{:02x}", u32::from(c));
            &escaped
        } else {
            c.encode_utf8(&mut buf)
        };
        if key.len() + piece.len() > MAX_SITE_KEY_BYTES {
            truncated = true;
            break;
        }
        key.push_str(piece);
    }
    SiteKey { key, truncated }
}

/// The path of a request target (RFC 9112 §3.2): origin-form as is, absolute-form without
/// its scheme and authority; query and fragment removed. `None` for authority-form
/// (CONNECT) and asterisk-form (`OPTIONS *`), which have no path.
fn target_path(target: &str) -> Option<&str> {
    let end = target.find(['?', '#']).unwrap_or(target.len());
    let no_query = target.get(..end).unwrap_or(target);
    if no_query.starts_with('/') {
        return Some(no_query);
    }
    // absolute-form: scheme "://" authority path
    let (scheme, rest) = no_query.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
    {
        return None;
    }
    Some(rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/"))
}

/// The first `n` non-empty segments of the target's path, joined with `/`. Targets without
/// a path (CONNECT's authority-form, `*`) are their own key.
fn path_prefix(target: &str, n: usize) -> String {
    let Some(path) = target_path(target) else {
        return target.to_string();
    };
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()).take(n) {
        out.push('/');
        out.push_str(seg);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The first value of query parameter `name` (application/x-www-form-urlencoded rules:
/// `&`-separated, `+` is a space, percent-decoded, lossily made UTF-8). A parameter
/// without `=` has an empty value.
fn query_param(target: &str, name: &str) -> Option<String> {
    let (_, rest) = target.split_once('?')?;
    let query = rest.split('#').next().unwrap_or(rest);
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(k) == name).then(|| form_decode(v))
        })
}

fn form_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(v) = hex {
                    out.push(v);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_key_is_the_command_name_or_why_none() {
        use crate::model::{NoOwner, ProcessInfo};
        use std::sync::Arc;
        let mut tx = crate::har::tests::tx();
        let g = GroupBy::parse("process").unwrap();
        assert_eq!(g.to_string(), "process");
        assert!(GroupBy::parse("process:x").is_err());
        assert_eq!(g.key(&tx).key, NONE_KEY);
        tx.process = Some(Arc::new(Owner::Process(ProcessInfo {
            pid: 9,
            name: "curl\u{1b}".into(),
            ..ProcessInfo::default()
        })));
        assert_eq!(g.key(&tx).key, "curl\\x1b");
        tx.process = Some(Arc::new(Owner::Unattributed {
            why: NoOwner::Closed,
            uid: None,
        }));
        assert_eq!(g.key(&tx).key, "(unattributed:closed)");
    }

    #[test]
    fn path_prefixes() {
        let cases = [
            ("/api/v1/users/7?x=1", 2, "/api/v1"),
            ("/api/v1/users/7", 1, "/api"),
            ("/api", 3, "/api"),
            ("/", 2, "/"),
            ("//api//v1/x", 2, "/api/v1"),
            ("/a/b#frag/c", 3, "/a/b"),
            ("http://example.com/api/v2/x?y", 2, "/api/v2"),
            ("http://example.com", 2, "/"),
            ("http://example.com?q=/a/b", 2, "/"),
            ("example.com:443", 2, "example.com:443"),
            ("*", 1, "*"),
        ];
        for (target, n, want) in cases {
            assert_eq!(path_prefix(target, n), want, "{target} {n}");
        }
    }

    #[test]
    fn query_params() {
        assert_eq!(query_param("/x?s=yo", "s").as_deref(), Some("yo"));
        assert_eq!(query_param("/x?a=1&s=yo2&s=3", "s").as_deref(), Some("yo2"));
        assert_eq!(query_param("/x?a=1", "s"), None);
        assert_eq!(query_param("/x", "s"), None);
        assert_eq!(query_param("/x?s", "s").as_deref(), Some(""));
        assert_eq!(
            query_param("/x?s=a+b%2Fc%zz", "s").as_deref(),
            Some("a b/c%zz")
        );
        assert_eq!(query_param("/x?%73=1", "s").as_deref(), Some("1"));
        assert_eq!(query_param("/x?s=1#s=2", "s").as_deref(), Some("1"));
        assert_eq!(query_param("/x?t=1#?s=2", "s"), None);
        assert_eq!(query_param("/x?s=%", "s").as_deref(), Some("%"));
        assert_eq!(query_param("/x?s=%4", "s").as_deref(), Some("%4"));
        assert_eq!(query_param("/x?s=%ff", "s").as_deref(), Some("\u{fffd}"));
    }

    #[test]
    fn keys_are_bounded_and_escaped() {
        let long = "a".repeat(500);
        let k = bounded(&long);
        assert_eq!(k.key.len(), MAX_SITE_KEY_BYTES);
        assert!(k.truncated);
        // A multi-byte character straddling the cap is dropped whole.
        let s = format!("{}é", "a".repeat(MAX_SITE_KEY_BYTES - 1));
        let k = bounded(&s);
        assert_eq!(k.key.len(), MAX_SITE_KEY_BYTES - 1);
        assert!(k.truncated);
        let k = bounded("a\tb\u{7f}c");
        assert_eq!(k.key, "a\\x09b\\x7fc");
        assert!(!k.truncated);
        let exact = "b".repeat(MAX_SITE_KEY_BYTES);
        assert!(!bounded(&exact).truncated);
    }

    #[test]
    fn display_round_trips() {
        for spec in ["host", "path-prefix:3", "query:s", "header:X-Tenant"] {
            assert_eq!(GroupBy::parse(spec).unwrap().to_string(), spec);
        }
    }
}
