//! Cookie and Set-Cookie parsing for HAR (RFC 6265 §5.2, §5.4; the nameless-cookie rule of
//! RFC 6265bis §5.6).
//!
//! Values are kept as sent: no unquoting, no percent-decoding (cookies have no defined
//! encoding). Attributes of Set-Cookie that HAR has a field for are parsed; the last
//! occurrence of an attribute wins (RFC 6265 §5.3 step 11 reads the last one). What it
//! does not do: decide whether a browser would have stored the cookie (domain matching,
//! prefixes, SameSite).

use chrono::{NaiveDate, NaiveDateTime};

use crate::time::Timestamp;

/// A cookie as HAR wants it; `expires` is already an RFC 3339 UTC string.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Cookie {
    pub name: String,
    pub value: String,
    pub path: Option<String>,
    pub domain: Option<String>,
    pub expires: Option<String>,
    pub http_only: bool,
    pub secure: bool,
}

/// `name=value` split at the first `=`, both trimmed. Without `=` the name is empty and
/// the whole piece is the value (RFC 6265bis §5.6, as browsers do).
fn name_value(pair: &str) -> (String, String) {
    match pair.split_once('=') {
        Some((n, v)) => (n.trim().to_string(), v.trim().to_string()),
        None => (String::new(), pair.trim().to_string()),
    }
}

/// Every `name=value` pair of a Cookie header (RFC 6265 §4.2.1), in order. Separators are
/// `;` with any whitespace around (clients send `; `, some send `;`); empty pieces are
/// skipped.
pub fn parse_cookie_header(value: &str) -> Vec<(String, String)> {
    value
        .split(';')
        .filter(|p| !p.trim().is_empty())
        .map(name_value)
        .collect()
}

/// One Set-Cookie header field (never split on commas: `Expires` holds one). `response_ts`
/// anchors `Max-Age`, which takes precedence over `Expires` (RFC 6265 §5.3 step 3).
pub fn parse_set_cookie(value: &str, response_ts: Timestamp) -> Cookie {
    let mut parts = value.split(';');
    let (name, value) = name_value(parts.next().unwrap_or(""));
    let mut c = Cookie {
        name,
        value,
        ..Cookie::default()
    };
    let mut expires = None;
    let mut max_age = None;
    for attr in parts {
        let (k, v) = attr
            .split_once('=')
            .map_or((attr.trim(), ""), |(k, v)| (k.trim(), v.trim()));
        if k.eq_ignore_ascii_case("expires") {
            if let Some(t) = parse_cookie_date(v) {
                expires = Some(t);
            }
        } else if k.eq_ignore_ascii_case("max-age") {
            if let Some(t) = parse_max_age(v, response_ts) {
                max_age = Some(t);
            }
        } else if k.eq_ignore_ascii_case("domain") {
            if !v.is_empty() {
                c.domain = Some(v.to_string());
            }
        } else if k.eq_ignore_ascii_case("path") {
            if v.starts_with('/') {
                c.path = Some(v.to_string());
            }
        } else if k.eq_ignore_ascii_case("secure") {
            c.secure = true;
        } else if k.eq_ignore_ascii_case("httponly") {
            c.http_only = true;
        }
    }
    c.expires = max_age.or(expires);
    c
}

/// `Max-Age` (RFC 6265 §5.2.2): `-`? DIGIT+; zero or negative means already expired (the
/// epoch stands for "the earliest representable time"). Time saturates at 2262.
fn parse_max_age(v: &str, response_ts: Timestamp) -> Option<String> {
    let (neg, digits) = v.strip_prefix('-').map_or((false, v), |d| (true, d));
    if digits.is_empty() || !digits.bytes().all(|d| d.is_ascii_digit()) {
        return None;
    }
    if neg || digits.bytes().all(|d| d == b'0') {
        return Some(super::format_ts(Timestamp::ZERO));
    }
    // More than 12 digits is beyond 2262 anyway; the addition saturates.
    let secs: u64 = if digits.len() > 12 {
        u64::MAX
    } else {
        digits.parse().unwrap_or(u64::MAX)
    };
    Some(super::format_ts(
        response_ts + std::time::Duration::from_secs(secs),
    ))
}

/// RFC 6265 §5.1.1 delimiter.
fn is_delimiter(c: u8) -> bool {
    matches!(c, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E)
}

/// Leading digits of `tok` when there are `min..=max` of them and the rest does not start
/// with a digit (`1*2DIGIT ( non-digit *OCTET )`).
fn leading_digits(tok: &[u8], min: usize, max: usize) -> Option<u32> {
    let n = tok.iter().take_while(|c| c.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    tok.get(..n)
        .and_then(|d| std::str::from_utf8(d).ok())
        .and_then(|d| d.parse().ok())
}

/// `hms-time = time-field ":" time-field ":" time-field`, each 1*2DIGIT.
fn parse_time(tok: &[u8]) -> Option<(u32, u32, u32)> {
    let mut fields = [0u32; 3];
    let mut rest = tok;
    for (i, f) in fields.iter_mut().enumerate() {
        let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
        *f = leading_digits(rest, 1, 2)?;
        rest = rest.get(n..)?;
        if i < 2 {
            rest = rest.strip_prefix(b":")?;
        }
    }
    Some((fields[0], fields[1], fields[2]))
}

/// The cookie-date algorithm of RFC 6265 §5.1.1, tolerant of every format servers send
/// (RFC 1123, RFC 850, asctime, and mixes). Returns RFC 3339 UTC, or None when the
/// algorithm fails; the caller then omits `expires` (HAR wants an ISO 8601 string).
pub fn parse_cookie_date(s: &str) -> Option<String> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let (mut time, mut day, mut month, mut year) = (None, None, None, None);
    for tok in s
        .as_bytes()
        .split(|&c| is_delimiter(c))
        .filter(|t| !t.is_empty())
    {
        if time.is_none() {
            if let Some(t) = parse_time(tok) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some(d) = leading_digits(tok, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            let prefix = tok.get(..3).map(|p| p.to_ascii_lowercase());
            if let Some(m) = MONTHS
                .iter()
                .position(|m| prefix.as_deref() == Some(&m[..]))
            {
                month = Some(m as u32 + 1);
                continue;
            }
        }
        if year.is_none() {
            if let Some(y) = leading_digits(tok, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }
    let (h, mi, sec) = time?;
    let mut y = year?;
    if (70..=99).contains(&y) {
        y += 1900;
    } else if y <= 69 {
        y += 2000;
    }
    if y < 1601 || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    let dt: NaiveDateTime =
        NaiveDate::from_ymd_opt(y as i32, month?, day?)?.and_hms_opt(h, mi, sec)?;
    Some(dt.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_header_every_pair() {
        assert_eq!(
            parse_cookie_header("a=1; b=2;c=3 ;  a=4; flag; =x; e=\"q=1\""),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "2".into()),
                ("c".into(), "3".into()),
                ("a".into(), "4".into()),
                ("".into(), "flag".into()),
                ("".into(), "x".into()),
                ("e".into(), "\"q=1\"".into()),
            ]
        );
        assert!(parse_cookie_header("").is_empty());
        assert!(parse_cookie_header(" ; ;").is_empty());
    }

    #[test]
    fn set_cookie_attributes() {
        let ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
        let c = parse_set_cookie("sid=abc=def; Path=/app; Domain=.example.com; Expires=Wed, 21 Oct 2026 07:28:00 GMT; Secure; HttpOnly; SameSite=Lax", ts);
        assert_eq!(c.name, "sid");
        assert_eq!(c.value, "abc=def");
        assert_eq!(c.path.as_deref(), Some("/app"));
        assert_eq!(c.domain.as_deref(), Some(".example.com"));
        assert_eq!(c.expires.as_deref(), Some("2026-10-21T07:28:00.000Z"));
        assert!(c.secure && c.http_only);

        let plain = parse_set_cookie("k=v", ts);
        assert_eq!(
            plain,
            Cookie {
                name: "k".into(),
                value: "v".into(),
                ..Cookie::default()
            }
        );
    }

    #[test]
    fn max_age_wins_and_anchors_at_response_time() {
        let ts = Timestamp::from_secs_nanos(1_700_000_000, 0); // 2023-11-14T22:13:20Z
        let c = parse_set_cookie("k=v; Max-Age=60; Expires=Wed, 21 Oct 2026 07:28:00 GMT", ts);
        assert_eq!(c.expires.as_deref(), Some("2023-11-14T22:14:20.000Z"));
        let gone = parse_set_cookie("k=v; max-age=0", ts);
        assert_eq!(gone.expires.as_deref(), Some("1970-01-01T00:00:00.000Z"));
        let neg = parse_set_cookie("k=v; Max-Age=-5", ts);
        assert_eq!(neg.expires.as_deref(), Some("1970-01-01T00:00:00.000Z"));
        let huge = parse_set_cookie("k=v; Max-Age=99999999999999999999999", ts);
        assert!(
            huge.expires
                .as_deref()
                .is_some_and(|e| e.starts_with("2262-")),
            "{huge:?}"
        );
        let bad = parse_set_cookie("k=v; Max-Age=1e3", ts);
        assert_eq!(bad.expires, None);
    }

    #[test]
    fn cookie_dates_in_every_common_format() {
        let want = Some("1994-11-06T08:49:37.000Z".to_string());
        assert_eq!(parse_cookie_date("Sun, 06 Nov 1994 08:49:37 GMT"), want);
        assert_eq!(parse_cookie_date("Sunday, 06-Nov-94 08:49:37 GMT"), want);
        assert_eq!(parse_cookie_date("Sun Nov  6 08:49:37 1994"), want);
        assert_eq!(parse_cookie_date("6 november 1994 8:49:37"), want);
        assert_eq!(
            parse_cookie_date("Thu, 01-Jan-2037 00:00:00 GMT").as_deref(),
            Some("2037-01-01T00:00:00.000Z")
        );
        assert_eq!(
            parse_cookie_date("Mon, 01 Jan 30 00:00:00 GMT").as_deref(),
            Some("2030-01-01T00:00:00.000Z")
        );
    }

    #[test]
    fn unparseable_dates_are_none() {
        for s in [
            "",
            "tomorrow",
            "Sun, 31 Feb 2026 00:00:00 GMT",
            "Sun, 06 Nov 1994 25:00:00",
            "Sun, 06 Nov 1500 08:49:37",
            "06 Nov 1994",
            "Sun, 06 Nov 1994 08:49:37 123 GMT x",
        ] {
            // The last one is valid by the algorithm (extra tokens are ignored).
            if s.ends_with(" x") {
                assert!(parse_cookie_date(s).is_some());
            } else {
                assert_eq!(parse_cookie_date(s), None, "{s}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics_and_dates_are_rfc3339(s in proptest::prelude::any::<String>()) {
            if let Some(d) = parse_cookie_date(&s) {
                proptest::prop_assert_eq!(d.len(), 24, "{}", d);
            }
            let _ = parse_set_cookie(&s, Timestamp(0));
            let _ = parse_cookie_header(&s);
        }
    }
}
