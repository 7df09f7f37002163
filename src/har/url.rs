//! Request URL reconstruction and `application/x-www-form-urlencoded` parsing for HAR.
//!
//! A passive capture sees a request target (RFC 9112 §3.2), not a URL: the URL is rebuilt
//! from the target and the Host header (or the server address when there is none). The
//! scheme is always `http`: httshark only sees cleartext HTTP/1.x.
//!
//! What it does not do: normalise. Dot segments, case and percent-encodings already in the
//! target are kept as sent. Only bytes that may not appear in a URI at all (RFC 3986 §2)
//! are percent-encoded, so every URL is a valid `uri` for the HAR schema while a reader
//! still sees what was on the wire. Invariant: every output string is ASCII with no
//! whitespace or control characters.

/// How the request target was written (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetForm {
    /// `/path?query`: the URL is `http://` + authority + target.
    Origin,
    /// `http://host/path` (to a proxy): the URL is the target.
    Absolute,
    /// `host:port` of a CONNECT request: the URL is `http://host:port`.
    Authority,
    /// `*` of a server-wide OPTIONS: the URL is `http://` + authority.
    Asterisk,
    /// Anything else (not valid HTTP, but seen on the wire): `http://` + authority + `/` +
    /// target.
    Other,
}

/// Classifies a request target. `method` matters: only CONNECT uses authority-form, and
/// `host:8080` is not a URL with scheme `host`.
pub fn target_form(method: &str, target: &str) -> TargetForm {
    if target.starts_with('/') {
        TargetForm::Origin
    } else if target == "*" {
        TargetForm::Asterisk
    } else if scheme_len(target).is_some() {
        TargetForm::Absolute
    } else if method.eq_ignore_ascii_case("CONNECT") && !target.is_empty() {
        TargetForm::Authority
    } else {
        TargetForm::Other
    }
}

/// Length of `scheme` when `s` starts with `scheme://` (RFC 3986 §3.1:
/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`).
fn scheme_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if !b.first().is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let n = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        .count();
    s.get(n..).filter(|rest| rest.starts_with("://")).map(|_| n)
}

/// The URL of a request. `authority` is the Host header, else the server address
/// (`ip:port`, IPv6 in brackets), as `Transaction::host` gives it; `scheme` is `https` for
/// a request decrypted from TLS, else `http` (an absolute-form target keeps its own).
pub fn request_url(
    scheme: &str,
    method: &str,
    target: &str,
    authority: &str,
) -> (String, TargetForm) {
    let form = target_form(method, target);
    let mut url = String::with_capacity(scheme.len() + 3 + authority.len() + target.len());
    let origin = |url: &mut String| {
        url.push_str(scheme);
        url.push_str("://");
    };
    match form {
        TargetForm::Origin => {
            origin(&mut url);
            encode_authority(authority, &mut url);
            encode_path(target, &mut url);
        }
        TargetForm::Absolute => {
            // Kept as sent, except bytes not allowed in a URI. The authority is encoded by
            // its own rules so an IPv6 literal keeps its brackets.
            let n = scheme_len(target).unwrap_or(0) + 3;
            let (head, rest) = target.split_at(n.min(target.len()));
            encode_path(head, &mut url);
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let (auth, path) = rest.split_at(end);
            encode_authority(auth, &mut url);
            encode_path(path, &mut url);
        }
        TargetForm::Authority => {
            origin(&mut url);
            encode_authority(target, &mut url);
        }
        TargetForm::Asterisk => {
            origin(&mut url);
            encode_authority(authority, &mut url);
        }
        TargetForm::Other => {
            origin(&mut url);
            encode_authority(authority, &mut url);
            url.push('/');
            encode_path(target, &mut url);
        }
    }
    (url, form)
}

/// RFC 3986 §2.3 unreserved and §2.2 sub-delims.
fn is_unreserved_or_sub_delim(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

/// Appends `%XX` for `c`.
fn push_pct(c: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(HEX[usize::from(c >> 4)] as char);
    out.push(HEX[usize::from(c & 15)] as char);
}

/// Appends `s`, keeping bytes for which `keep` holds and `%XX` escapes that are already
/// valid, percent-encoding every other byte (a lone `%` becomes `%25`).
fn encode_with(s: &str, keep: impl Fn(usize, u8) -> bool, out: &mut String) {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        let valid_escape = c == b'%'
            && b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
            && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
        if valid_escape || (c != b'%' && keep(i, c)) {
            out.push(c as char);
        } else {
            push_pct(c, out);
        }
    }
}

/// Path and query of a target (RFC 3986 §3.3 pchar, plus `/` and `?`). `#` is encoded:
/// a request target has no fragment (RFC 9112 §3.2), so a `#` on the wire is data.
fn encode_path(s: &str, out: &mut String) {
    encode_with(
        s,
        |_, c| is_unreserved_or_sub_delim(c) || matches!(c, b':' | b'@' | b'/' | b'?'),
        out,
    );
}

/// An authority (RFC 3986 §3.2). Brackets are kept only around an IP literal at the start
/// (`[::1]:8080`); `@`, `/`, `?`, `#` are encoded so a hostile Host header cannot move the
/// URL's host, path or query.
fn encode_authority(s: &str, out: &mut String) {
    let close = if s.starts_with('[') {
        s.find(']')
    } else {
        None
    };
    let literal_ok = close.is_some_and(|c| {
        let after = s.get(c + 1..).unwrap_or("");
        after.is_empty()
            || (after.starts_with(':') && after.bytes().skip(1).all(|d| d.is_ascii_digit()))
    });
    encode_with(
        s,
        |i, c| {
            is_unreserved_or_sub_delim(c)
                || c == b':'
                || (literal_ok && ((c == b'[' && i == 0) || (c == b']' && Some(i) == close)))
        },
        out,
    );
}

/// Undoes percent-encoding; `plus_is_space` for form encoding (WHATWG URL,
/// application/x-www-form-urlencoded parser). Invalid escapes stay as they are; bytes that
/// are not UTF-8 after decoding become U+FFFD.
pub fn percent_decode(s: &str, plus_is_space: bool) -> String {
    let b = s.as_bytes();
    // The bytes that may change: `%`, and `+` in a form.
    let special = |from: &[u8]| {
        if plus_is_space {
            memchr::memchr2(b'%', b'+', from)
        } else {
            memchr::memchr(b'%', from)
        }
    };
    // Nothing to undo (most names and values): the text as it is, already UTF-8.
    let Some(first) = special(b) else {
        return s.to_owned();
    };
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(b.get(..first).unwrap_or_default());
    let mut i = first;
    while let Some(&c) = b.get(i) {
        let hex = |j: usize| b.get(j).and_then(|h| (*h as char).to_digit(16));
        match c {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(c),
            },
            b'+' if plus_is_space => out.push(b' '),
            _ => {
                // A run of unchanged bytes, up to the next that may change.
                let rest = b.get(i..).unwrap_or_default();
                let run = special(rest).unwrap_or(rest.len());
                out.extend_from_slice(rest.get(..run).unwrap_or_default());
                i += run;
                continue;
            }
        }
        i += 1;
    }
    // Valid UTF-8 (nearly always) is taken as it is, without a second pass and copy.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Parses `a=1&b=2&a=3` into every pair, in order, decoded as a form (`+` is a space).
/// Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` has the value "".
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (n, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(n, true), percent_decode(v, true))
        })
        .collect()
}

/// The query of a request target: what follows the first `?`, up to a `#` if any.
pub fn query_of(target: &str) -> Option<&str> {
    let (_, q) = target.split_once('?')?;
    Some(q.split_once('#').map_or(q, |(q, _)| q))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(method: &str, target: &str, auth: &str) -> String {
        request_url("http", method, target, auth).0
    }

    #[test]
    fn origin_form_uses_host() {
        assert_eq!(
            url("GET", "/a/b?x=1", "example.com"),
            "http://example.com/a/b?x=1"
        );
        assert_eq!(
            url("GET", "/", "example.com:8080"),
            "http://example.com:8080/"
        );
        assert_eq!(target_form("GET", "/"), TargetForm::Origin);
    }

    #[test]
    fn server_address_ipv6_keeps_brackets() {
        assert_eq!(
            url("GET", "/x", "[2001:db8::1]:8080"),
            "http://[2001:db8::1]:8080/x"
        );
        assert_eq!(url("GET", "/x", "[::1]"), "http://[::1]/x");
        // A bracket anywhere else is data.
        assert_eq!(url("GET", "/", "a[b]"), "http://a%5Bb%5D/");
        assert_eq!(url("GET", "/", "[::1]x"), "http://%5B::1%5Dx/");
    }

    #[test]
    fn absolute_form_kept() {
        let (u, f) = request_url("http", "GET", "http://other.example/p?q", "ignored");
        assert_eq!(
            (u.as_str(), f),
            ("http://other.example/p?q", TargetForm::Absolute)
        );
        assert_eq!(url("GET", "HTTP://[::1]:81/", "h"), "HTTP://[::1]:81/");
        assert_eq!(url("GET", "http://h", "x"), "http://h");
        assert_eq!(url("GET", "http://a b/c d", "x"), "http://a%20b/c%20d");
    }

    #[test]
    fn connect_and_asterisk() {
        assert_eq!(
            request_url("http", "CONNECT", "example.com:443", "h"),
            ("http://example.com:443".to_string(), TargetForm::Authority)
        );
        assert_eq!(
            request_url("http", "OPTIONS", "*", "h:1"),
            ("http://h:1".to_string(), TargetForm::Asterisk)
        );
        // `host:8080` is not a scheme outside CONNECT.
        assert_eq!(
            request_url("http", "GET", "host:8080", "h"),
            ("http://h/host:8080".to_string(), TargetForm::Other)
        );
        assert_eq!(
            request_url("http", "GET", "", "h"),
            ("http://h/".to_string(), TargetForm::Other)
        );
    }

    #[test]
    fn hostile_host_cannot_move_the_url() {
        assert_eq!(
            url("GET", "/", "../../etc/passwd"),
            "http://..%2F..%2Fetc%2Fpasswd/"
        );
        assert_eq!(url("GET", "/", "evil@good"), "http://evil%40good/");
        assert_eq!(url("GET", "/", "a?b#c"), "http://a%3Fb%23c/");
        assert_eq!(url("GET", "/", "a\0b c"), "http://a%00b%20c/");
        assert_eq!(url("GET", "/", "ünï"), "http://%C3%BCn%C3%AF/");
    }

    #[test]
    fn target_bytes_not_allowed_in_uri_are_encoded() {
        assert_eq!(
            url("GET", "/a b\"<>\\^`{|}#f", "h"),
            "http://h/a%20b%22%3C%3E%5C%5E%60%7B%7C%7D%23f"
        );
        // Valid escapes are kept, a lone % is encoded.
        assert_eq!(url("GET", "/%41%zz%", "h"), "http://h/%41%25zz%25");
        assert_eq!(url("GET", "/é", "h"), "http://h/%C3%A9");
    }

    #[test]
    fn query_parsing_keeps_every_pair_in_order() {
        let q = query_of("/p?a=1&b=x+y&a=2&&c&d=%41%2B&e=%zz#frag").unwrap();
        assert_eq!(
            parse_form(q),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("a".into(), "2".into()),
                ("c".into(), "".into()),
                ("d".into(), "A+".into()),
                ("e".into(), "%zz".into()),
            ]
        );
        assert_eq!(query_of("/p"), None);
        assert_eq!(query_of("/p?"), Some(""));
        assert!(parse_form("").is_empty());
    }

    #[test]
    fn percent_decode_edges() {
        assert_eq!(percent_decode("%", false), "%");
        assert_eq!(percent_decode("%4", false), "%4");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("%FF", false), "\u{FFFD}");
        assert_eq!(percent_decode("%e2%82%ac", false), "€");
    }

    /// `percent_decode` against the byte-at-a-time version it replaced, on text made of
    /// the pieces that matter (escapes valid and not, `+`, UTF-8 beyond ASCII, plain).
    #[test]
    fn percent_decode_is_the_byte_loop() {
        use proptest::prelude::*;
        fn reference(s: &str, plus_is_space: bool) -> String {
            let b = s.as_bytes();
            let mut out = Vec::with_capacity(b.len());
            let mut i = 0;
            while let Some(&c) = b.get(i) {
                let hex = |j: usize| b.get(j).and_then(|h| (*h as char).to_digit(16));
                match c {
                    b'%' => match (hex(i + 1), hex(i + 2)) {
                        (Some(h), Some(l)) => {
                            out.push((h * 16 + l) as u8);
                            i += 3;
                            continue;
                        }
                        _ => out.push(c),
                    },
                    b'+' if plus_is_space => out.push(b' '),
                    _ => out.push(c),
                }
                i += 1;
            }
            String::from_utf8_lossy(&out).into_owned()
        }
        let piece = prop::sample::select(vec![
            "%",
            "%4",
            "%41",
            "%e2%82%ac",
            "%FF",
            "%c3",
            "%a9",
            "+",
            "a",
            "é",
            "€",
            "=",
            "%%",
            "%2",
            "B",
        ]);
        proptest!(ProptestConfig::with_cases(4000), |(
            pieces in prop::collection::vec(piece, 0..12),
            plus in any::<bool>(),
        )| {
            let s = pieces.concat();
            prop_assert_eq!(percent_decode(&s, plus), reference(&s, plus));
        });
    }

    proptest::proptest! {
        #[test]
        fn urls_are_ascii_without_whitespace(
            m in "[A-Z]{1,8}",
            t in proptest::prelude::any::<String>(),
            a in proptest::prelude::any::<String>(),
        ) {
            let (u, _) = request_url("http", &m, &t, &a);
            proptest::prop_assert!(u.bytes().all(|c| c.is_ascii_graphic()), "{u}");
            proptest::prop_assert!(u.starts_with("http://") || t.len() > 3);
        }
    }
}
