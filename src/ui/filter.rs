//! The view's filter language, parsed and evaluated in Rust over everything the server
//! holds (issue 14): DevTools-style `key:value` tokens, ANDed, `-` negating one token, a
//! comma an OR inside one value.
//!
//! ```text
//! api                 free text: a substring of the URL (case-insensitive)
//! host:example.com    substring of the host      method:POST,PUT   exact, any of
//! status:404 status:4xx status:>=500 status:<300   path:/v1   ct:json
//! client:10.0.0.0/8   server:192.0.2.1  (CIDR or address)      port:8080 (either end)
//! process:curl  process:4242 (the connection's process: a name substring or the pid)
//! size:>1m  size:<=10k (response body; k/m/g are 1024)   time:>500ms time:<2s
//! anomaly:any  anomaly:body-gap (a prefix: anomaly:unanswered)   unanswered
//! header:x-trace   header:user-agent~curl   body:"needle"   -host:cdn   "two words"
//! ```
//!
//! Pure: no I/O, no clock. `body:` is bounded: a query reads at most
//! [`BODY_SCAN_BUDGET`] body bytes in all, and the entries it could not read are reported
//! (`Budget::exhausted`) so the caller counts them and the UI says the result is partial.
//!
//! Errors carry the byte span of the offending token so the UI can underline it.

use std::net::{IpAddr, SocketAddr};

use super::entry::Fields;

/// Most body bytes one filter evaluation (one list query or one SSE batch) may search.
pub const BODY_SCAN_BUDGET: u64 = 256 << 20;
/// Longest filter accepted, in bytes.
pub const MAX_FILTER_BYTES: usize = 4096;
/// Most tokens in one filter.
pub const MAX_TOKENS: usize = 64;

/// A parse error and where it is (byte offsets into the filter text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub message: String,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Cmp {
    fn test(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Eq => a == b,
            Cmp::Ge => a >= b,
            Cmp::Gt => a > b,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Status {
    Exact(u16),
    Class(u16),
    Compare(Cmp, u16),
}

#[derive(Clone, Debug, PartialEq)]
struct Cidr {
    addr: IpAddr,
    bits: u8,
}

impl Cidr {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            (IpAddr::V4(n), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a| {
                Cidr {
                    addr: IpAddr::V4(n),
                    bits: self.bits,
                }
                .contains(IpAddr::V4(a))
            }),
            _ => false,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Term {
    Url(String),
    Host(String),
    Method(Vec<String>),
    Status(Vec<Status>),
    Path(String),
    ContentType(String),
    Process(String),
    Client(Vec<Cidr>),
    Server(Vec<Cidr>),
    Port(Vec<u16>),
    Size(Cmp, f64),
    Time(Cmp, f64),
    Anomaly(Vec<String>),
    Unanswered,
    Header(String, Option<String>),
    Body(String),
}

/// A parsed filter: every token must match (a negated one must not).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    terms: Vec<(bool, Term)>,
}

/// How many body bytes an evaluation may still read.
#[derive(Debug)]
pub struct Budget {
    pub left: u64,
    /// Entries whose `body:` test could not run (budget spent): treated as not matching.
    pub exhausted: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            left: BODY_SCAN_BUDGET,
            exhausted: 0,
        }
    }
}

/// Splits the text into tokens with their spans; `"..."` quotes keep spaces (in a value
/// too: `body:"a b"`).
fn tokens(text: &str) -> Result<Vec<(usize, usize, String)>, ParseError> {
    let mut out = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut tok = String::new();
        let mut end = start;
        let mut quoted = false;
        while let Some(&(i, c)) = chars.peek() {
            if c.is_whitespace() && !quoted {
                break;
            }
            chars.next();
            end = i + c.len_utf8();
            if c == '"' {
                quoted = !quoted;
            } else {
                tok.push(c);
            }
        }
        if quoted {
            return Err(ParseError {
                message: "unclosed quote".into(),
                start,
                end,
            });
        }
        out.push((start, end, tok));
    }
    Ok(out)
}

fn err(message: impl Into<String>, start: usize, end: usize) -> ParseError {
    ParseError {
        message: message.into(),
        start,
        end,
    }
}

/// `>=500` -> (Ge, "500"); no operator is `Eq`.
fn split_cmp(v: &str) -> (Cmp, &str) {
    for (p, c) in [
        (">=", Cmp::Ge),
        ("<=", Cmp::Le),
        (">", Cmp::Gt),
        ("<", Cmp::Lt),
        ("=", Cmp::Eq),
    ] {
        if let Some(rest) = v.strip_prefix(p) {
            return (c, rest);
        }
    }
    (Cmp::Eq, v)
}

/// `1m` -> 1048576; k, m, g are 1024-based, an optional trailing `b`.
fn parse_size(v: &str) -> Option<f64> {
    let v = v.to_ascii_lowercase();
    let v = v.strip_suffix('b').unwrap_or(&v);
    let (num, mult) = match v.chars().last()? {
        'k' => (&v[..v.len() - 1], 1024.0),
        'm' => (&v[..v.len() - 1], 1024.0 * 1024.0),
        'g' => (&v[..v.len() - 1], 1024.0 * 1024.0 * 1024.0),
        _ => (v, 1.0),
    };
    let n: f64 = num.parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n * mult)
}

/// `500ms`, `2s`, `250us`, bare number = milliseconds; returns milliseconds.
fn parse_time(v: &str) -> Option<f64> {
    let v = v.to_ascii_lowercase();
    let (num, mult) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000.0)
    } else {
        (v.as_str(), 1.0)
    };
    let n: f64 = num.parse().ok()?;
    (n.is_finite() && n >= 0.0).then_some(n * mult)
}

fn parse_status(v: &str) -> Option<Status> {
    let lower = v.to_ascii_lowercase();
    if lower.len() == 3 && lower.ends_with("xx") {
        let d = lower.chars().next()?.to_digit(10)?;
        return (1..=5)
            .contains(&d)
            .then(|| Status::Class(u16::try_from(d).unwrap_or(0)));
    }
    let (cmp, n) = split_cmp(v);
    let n: u16 = n.parse().ok()?;
    Some(match cmp {
        Cmp::Eq => Status::Exact(n),
        c => Status::Compare(c, n),
    })
}

fn parse_cidr(v: &str) -> Option<Cidr> {
    let (a, bits) = match v.split_once('/') {
        Some((a, b)) => (a, Some(b.parse::<u8>().ok()?)),
        None => (v, None),
    };
    let a = a.trim_start_matches('[').trim_end_matches(']');
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some(Cidr { addr, bits })
}

/// Every value of a comma list, parsed by `f`; the error names the bad one.
fn list<T>(
    v: &str,
    start: usize,
    end: usize,
    what: &str,
    f: impl Fn(&str) -> Option<T>,
) -> Result<Vec<T>, ParseError> {
    v.split(',')
        .map(|x| f(x.trim()).ok_or_else(|| err(format!("{what}: cannot read {x:?}"), start, end)))
        .collect()
}

impl Filter {
    /// Parses `text`; an empty text matches everything.
    pub fn parse(text: &str) -> Result<Filter, ParseError> {
        if text.len() > MAX_FILTER_BYTES {
            return Err(err(
                format!("the filter is longer than {MAX_FILTER_BYTES} bytes"),
                MAX_FILTER_BYTES,
                text.len(),
            ));
        }
        let toks = tokens(text)?;
        if toks.len() > MAX_TOKENS {
            let (s, e, _) = &toks[MAX_TOKENS];
            return Err(err(format!("more than {MAX_TOKENS} tokens"), *s, *e));
        }
        let mut terms = Vec::with_capacity(toks.len());
        for (start, end, tok) in toks {
            let (neg, body) = match tok.strip_prefix('-') {
                Some(rest) if !rest.is_empty() => (true, rest),
                _ => (false, tok.as_str()),
            };
            let term = match body.split_once(':') {
                Some((key, value)) if is_key(key) && !value.starts_with("//") => {
                    Self::term(&key.to_ascii_lowercase(), value, start, end)?
                }
                _ if body.eq_ignore_ascii_case("unanswered") => Term::Unanswered,
                _ => Term::Url(body.to_lowercase()),
            };
            terms.push((neg, term));
        }
        Ok(Filter { terms })
    }

    fn term(key: &str, v: &str, start: usize, end: usize) -> Result<Term, ParseError> {
        if v.is_empty() {
            return Err(err(format!("{key}: needs a value"), start, end));
        }
        Ok(match key {
            "host" => Term::Host(v.to_lowercase()),
            "method" => Term::Method(
                v.split(',')
                    .map(|m| m.trim().to_ascii_uppercase())
                    .collect(),
            ),
            "status" => Term::Status(list(v, start, end, "status", parse_status)?),
            "path" => Term::Path(v.to_lowercase()),
            "ct" => Term::ContentType(v.to_lowercase()),
            "process" => Term::Process(v.to_lowercase()),
            "client" => Term::Client(list(v, start, end, "client", parse_cidr)?),
            "server" => Term::Server(list(v, start, end, "server", parse_cidr)?),
            "port" => Term::Port(list(v, start, end, "port", |p| p.parse().ok())?),
            "size" => {
                let (c, n) = split_cmp(v);
                let n = parse_size(n).ok_or_else(|| {
                    err(format!("size: cannot read {n:?} (e.g. >1m)"), start, end)
                })?;
                Term::Size(c, n)
            }
            "time" => {
                let (c, n) = split_cmp(v);
                let n = parse_time(n).ok_or_else(|| {
                    err(format!("time: cannot read {n:?} (e.g. >500ms)"), start, end)
                })?;
                Term::Time(c, n)
            }
            "anomaly" => Term::Anomaly(
                v.split(',')
                    .map(|a| a.trim().to_ascii_lowercase())
                    .collect(),
            ),
            "header" => match v.split_once('~') {
                Some((n, t)) if !n.is_empty() => {
                    Term::Header(n.to_ascii_lowercase(), Some(t.to_lowercase()))
                }
                Some(_) => return Err(err("header: needs a name before ~", start, end)),
                None => Term::Header(v.to_ascii_lowercase(), None),
            },
            "body" => Term::Body(v.to_lowercase()),
            _ => return Err(err(format!("unknown key {key}:"), start, end)),
        })
    }

    /// True when the filter has no token.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether `f` passes every token.
    pub fn matches(&self, f: &Fields, budget: &mut Budget) -> bool {
        self.terms
            .iter()
            .all(|(neg, t)| Self::test(t, f, budget) != *neg)
    }

    fn test(t: &Term, f: &Fields, budget: &mut Budget) -> bool {
        match t {
            Term::Url(s) => contains_ci(f.url.as_bytes(), s.as_bytes()),
            Term::Host(s) => contains_ci(f.host.as_bytes(), s.as_bytes()),
            Term::Method(ms) => ms.iter().any(|m| m.eq_ignore_ascii_case(&f.method)),
            Term::Status(ss) => f.status.is_some_and(|st| {
                ss.iter().any(|s| match s {
                    Status::Exact(n) => st == *n,
                    Status::Class(c) => st / 100 == *c,
                    Status::Compare(c, n) => c.test(f64::from(st), f64::from(*n)),
                })
            }),
            Term::Path(s) => contains_ci(f.path.as_bytes(), s.as_bytes()),
            Term::ContentType(s) => contains_ci(f.content_type.as_bytes(), s.as_bytes()),
            // A pid matches the label's pid exactly; anything else is a substring of it.
            Term::Process(s) => match s.parse::<u32>() {
                Ok(pid) => f.process.rsplit(' ').next() == Some(pid.to_string().as_str()),
                Err(_) => contains_ci(f.process.as_bytes(), s.as_bytes()),
            },
            Term::Client(c) => in_any(c, f.client),
            Term::Server(c) => in_any(c, f.server),
            Term::Port(ps) => ps.iter().any(|p| {
                f.client.is_some_and(|a| a.port() == *p) || f.server.is_some_and(|a| a.port() == *p)
            }),
            Term::Size(c, n) => c.test(f.response_size as f64, *n),
            Term::Time(c, n) => c.test(f.time_ms, *n),
            Term::Anomaly(names) => names.iter().any(|n| {
                if n == "any" {
                    f.anomalies.iter().any(|a| !a.starts_with("unanswered-"))
                } else {
                    f.anomalies.iter().any(|a| a.starts_with(n.as_str()))
                }
            }),
            Term::Unanswered => f.unanswered,
            Term::Header(name, text) => f.headers.iter().any(|(n, v)| {
                n.eq_ignore_ascii_case(name)
                    && text
                        .as_ref()
                        .is_none_or(|t| contains_ci(v.as_bytes(), t.as_bytes()))
            }),
            Term::Body(s) => {
                let cost = (f.request_body.len() + f.response_body.len()) as u64;
                if cost > budget.left {
                    budget.exhausted += 1;
                    return false;
                }
                budget.left -= cost;
                contains_ci(&f.request_body, s.as_bytes())
                    || contains_ci(&f.response_body, s.as_bytes())
            }
        }
    }
}

fn is_key(k: &str) -> bool {
    !k.is_empty() && k.bytes().all(|b| b.is_ascii_alphabetic())
}

fn in_any(cidrs: &[Cidr], a: Option<SocketAddr>) -> bool {
    a.is_some_and(|a| cidrs.iter().any(|c| c.contains(a.ip())))
}

/// ASCII-case-insensitive substring test (`needle` is already lowercase); non-ASCII
/// bytes compare exactly.
pub fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() {
        return true;
    }
    if needle.len() > hay.len() {
        return false;
    }
    let first = needle[0];
    (0..=hay.len() - needle.len()).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle.len()]
                .iter()
                .zip(needle)
                .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields() -> Fields {
        Fields {
            url: "http://api.example.com/v1/users?id=7".into(),
            host: "api.example.com".into(),
            method: "POST".into(),
            status: Some(404),
            path: "/v1/users?id=7".into(),
            content_type: "application/json; charset=utf-8".into(),
            client: Some("10.1.2.3:40000".parse().unwrap()),
            process: "curl 4242".into(),
            server: Some("192.0.2.10:8080".parse().unwrap()),
            request_size: 10,
            response_size: 2 << 20,
            time_ms: 750.0,
            wait_ms: 600.0,
            anomalies: vec!["body-gap"],
            unanswered: false,
            headers: vec![
                ("User-Agent".into(), "curl/8.0".into()),
                ("Set-Cookie".into(), "a=1".into()),
                ("Set-Cookie".into(), "b=2".into()),
            ],
            request_body: b"{\"name\":\"Alice\"}".to_vec(),
            response_body: b"Not Found here".to_vec(),
        }
    }

    fn m(q: &str) -> bool {
        Filter::parse(q)
            .unwrap_or_else(|e| panic!("{q}: {e:?}"))
            .matches(&fields(), &mut Budget::default())
    }

    #[test]
    fn every_key_matches_and_negates() {
        for q in [
            "",
            "users",
            "USERS",
            "host:example",
            "method:get,post",
            "status:404",
            "status:4xx",
            "status:>=400",
            "status:2xx,4xx",
            "path:/v1",
            "ct:json",
            "process:curl",
            "process:CURL",
            "process:4242",
            "client:10.0.0.0/8",
            "server:192.0.2.10",
            "server:192.0.2.0/24",
            "port:8080",
            "port:40000",
            "size:>1m",
            "size:<=2m",
            "time:>500ms",
            "time:<1s",
            "anomaly:any",
            "anomaly:body-gap",
            "anomaly:body",
            "header:user-agent",
            "header:user-agent~CURL",
            "header:set-cookie~b=2",
            "body:alice",
            "body:\"not found\"",
            "-unanswered",
            "-host:cdn",
            "users host:api status:4xx",
        ] {
            assert!(m(q), "{q} should match");
            if !q.is_empty() {
                let neg = if let Some(rest) = q.strip_prefix('-') {
                    rest.to_string()
                } else if q.contains(' ') {
                    continue;
                } else {
                    format!("-{q}")
                };
                assert!(!m(&neg), "{neg} should not match");
            }
        }
        for q in [
            "orders",
            "host:cdn",
            "method:GET",
            "status:200",
            "status:5xx",
            "status:<400",
            "client:192.168.0.0/16",
            "process:wget",
            "process:424",
            "process:42",
            "port:80",
            "size:<1k",
            "time:>1s",
            "anomaly:midstream",
            "unanswered",
            "header:authorization",
            "header:user-agent~wget",
            "body:bob",
            "users host:cdn",
        ] {
            assert!(!m(q), "{q} should not match");
        }
    }

    #[test]
    fn unanswered_entries() {
        let f = Fields {
            status: None,
            unanswered: true,
            anomalies: vec!["unanswered-timeout"],
            ..fields()
        };
        let p = |q: &str| {
            Filter::parse(q)
                .unwrap()
                .matches(&f, &mut Budget::default())
        };
        assert!(p("unanswered"));
        assert!(p("anomaly:unanswered"));
        assert!(
            !p("anomaly:any"),
            "any means a fidelity flag, not unanswered"
        );
        assert!(!p("status:>=0"));
        assert!(p("-status:4xx"));
    }

    #[test]
    fn errors_say_where() {
        let e = Filter::parse("host:a status:4x9 b").unwrap_err();
        assert_eq!((e.start, e.end), (7, 17));
        assert!(e.message.contains("status"), "{e:?}");
        let e = Filter::parse("a nope:1").unwrap_err();
        assert_eq!((e.start, e.end), (2, 8));
        assert_eq!(e.message, "unknown key nope:");
        let e = Filter::parse("body:\"abc").unwrap_err();
        assert_eq!(e.message, "unclosed quote");
        assert!(Filter::parse("size:>1x").is_err());
        assert!(Filter::parse("time:fast").is_err());
        assert!(Filter::parse("client:10.0.0.0/33").is_err());
        assert!(Filter::parse("host:").is_err());
        assert!(Filter::parse("header:~x").is_err());
        // A URL with a colon is free text, not a key.
        assert!(m("http://api"));
    }

    #[test]
    fn body_search_is_bounded() {
        let f = Filter::parse("body:alice").unwrap();
        let mut b = Budget {
            left: 40,
            exhausted: 0,
        };
        assert!(f.matches(&fields(), &mut b));
        assert!(!f.matches(&fields(), &mut b), "budget spent: not matched");
        assert_eq!(b.exhausted, 1);
    }

    #[test]
    fn ipv6_and_mapped() {
        let f = Fields {
            client: Some("[::ffff:10.0.0.1]:1".parse().unwrap()),
            server: Some("[2001:db8::1]:443".parse().unwrap()),
            ..fields()
        };
        let p = |q: &str| {
            Filter::parse(q)
                .unwrap()
                .matches(&f, &mut Budget::default())
        };
        assert!(p("client:10.0.0.0/8"));
        assert!(p("server:2001:db8::/32"));
        assert!(p("server:[2001:db8::1]"));
        assert!(!p("server:2001:db9::/32"));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_spans_are_in_bounds(s in "\\PC{0,80}") {
            if let Err(e) = Filter::parse(&s) {
                prop_assert!(e.start <= e.end && e.end <= s.len(), "{e:?}");
                prop_assert!(s.is_char_boundary(e.start) && s.is_char_boundary(e.end));
            }
        }

        #[test]
        fn negation_is_the_complement(
            key in prop::sample::select(vec!["host:", "method:", "status:", "path:", "ct:", "port:", "size:>", "time:<", "anomaly:", "header:", "body:", ""]),
            value in "[a-z0-9]{1,6}",
            status in prop::option::of(100u16..600),
            size in 0u64..5_000_000,
        ) {
            let q = format!("{key}{value}");
            if let Ok(f) = Filter::parse(&q) {
                let n = Filter::parse(&format!("-{q}")).unwrap();
                let fl = Fields { status, response_size: size, unanswered: status.is_none(), ..fields() };
                prop_assert_ne!(
                    f.matches(&fl, &mut Budget::default()),
                    n.matches(&fl, &mut Budget::default())
                );
            }
        }

        #[test]
        fn status_class_agrees_with_a_model(st in 0u16..1000, d in 1u16..6) {
            let f = Filter::parse(&format!("status:{d}xx")).unwrap();
            let fl = Fields { status: Some(st), ..fields() };
            prop_assert_eq!(f.matches(&fl, &mut Budget::default()), st / 100 == d);
        }

        #[test]
        fn contains_ci_agrees_with_std(h in "[a-cA-C]{0,12}", n in "[a-c]{0,3}") {
            prop_assert_eq!(contains_ci(h.as_bytes(), n.as_bytes()), h.to_ascii_lowercase().contains(&n));
        }
    }
}
