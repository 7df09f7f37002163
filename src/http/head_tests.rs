//! Tests of `head.rs`: start-line matching, head parsing and normalizing.

use super::*;

/// `HeadShape::of` against the byte-by-byte splits it replaced, on heads made of the
/// bytes that matter (CR, LF, SP, HTAB, a letter): every line shape, empty lines,
/// bare LFs, folds, a last line without LF.
#[test]
fn head_shape_is_what_splitting_the_lines_finds() {
    use proptest::prelude::*;
    fn reference(raw: &[u8]) -> (bool, bool, usize, usize) {
        let bare_lf = raw
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || raw.get(i - 1) != Some(&b'\r')));
        let (mut fold, mut fields) = (false, 0);
        for line in raw.split(|&b| b == b'\n').skip(1) {
            if line.is_empty() || line == b"\r" {
                break;
            }
            if matches!(line.first(), Some(b' ' | b'\t')) {
                fold = true;
            } else {
                fields += 1;
            }
        }
        let lfs = raw.iter().filter(|&&b| b == b'\n').count();
        (bare_lf, fold, fields, lfs)
    }
    let byte = prop::sample::select(vec![b'\r', b'\n', b' ', b'\t', b'a']);
    proptest!(ProptestConfig::with_cases(4000), |(raw in prop::collection::vec(byte, 0..40))| {
        let s = HeadShape::of(&raw);
        prop_assert_eq!((s.bare_lf, s.fold, s.fields as usize, s.lfs as usize), reference(&raw));
    });
}

/// `HeadScanner::scan` against the byte-at-a-time state machine it replaced, on bytes
/// that matter (CR, LF, SP, HTAB, a letter) cut into pieces anywhere: the same end, found
/// in the same piece, and then the shape `HeadShape::of` finds in the bytes scanned.
#[test]
fn head_scanner_is_the_byte_machine() {
    use proptest::prelude::*;
    fn reference(state: &mut u8, data: &[u8]) -> Option<usize> {
        for (i, &b) in data.iter().enumerate() {
            *state = match (b, *state) {
                (b'\n', 0 | 1) => {
                    *state = 0;
                    return Some(i + 1);
                }
                (b'\n', _) => 0,
                (b'\r', 0) => 1,
                _ => 2,
            };
        }
        None
    }
    let byte = prop::sample::select(vec![b'\r', b'\n', b' ', b'\t', b'a']);
    proptest!(ProptestConfig::with_cases(4000), |(
        raw in prop::collection::vec(byte, 0..40),
        cuts in prop::collection::vec(0usize..40, 0..4),
    )| {
        let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= raw.len()).collect();
        cuts.push(raw.len());
        cuts.sort_unstable();
        let (mut s, mut state, mut from) = (HeadScanner::default(), 0u8, 0);
        for to in cuts {
            let piece = raw.get(from..to).unwrap_or_default();
            let want = reference(&mut state, piece);
            prop_assert_eq!(s.scan(piece), want);
            if let Some(n) = want {
                prop_assert_eq!(s.shape(), HeadShape::of(&raw[..from + n]));
                break;
            }
            prop_assert_eq!(s.state, state);
            from = to;
        }
    });
}

fn run(m: &mut StartMatcher, s: &[u8]) -> Match {
    let mut last = Match::NeedMore;
    for &b in s {
        last = m.feed(b);
        if last != Match::NeedMore {
            return last;
        }
    }
    last
}

#[test]
fn request_start_lines() {
    assert_eq!(
        run(&mut StartMatcher::new(true), b"GET / HTTP/1.1\r\n"),
        Match::Accept
    );
    assert_eq!(
        run(&mut StartMatcher::new(true), b"M-SEARCH * HTTP/1.0\n"),
        Match::Accept
    );
    assert_eq!(
        run(&mut StartMatcher::new(true), b"GET /x\r\n"),
        Match::Accept09
    );
    let mut m = StartMatcher::new(true);
    assert_eq!(run(&mut m, b"POST /x\r\n"), Match::Accept09);
    assert!(!m.is_get(), "only GET is an HTTP/0.9 method");
    let mut m = StartMatcher::new(true);
    assert_eq!(run(&mut m, b"GET /x\n"), Match::Accept09);
    assert!(m.is_get());
    assert_eq!(
        run(&mut StartMatcher::new(true), b"GET / HTTP/2.0\r\n"),
        Match::Fail
    );
    assert_eq!(
        run(&mut StartMatcher::new(true), b"\x16\x03\x01"),
        Match::Fail
    );
    assert_eq!(
        run(&mut StartMatcher::new(true), b"GET / HTTP/1.1"),
        Match::NeedMore
    );
}

#[test]
fn role_probe_reads_a_prefix_of_one_segment() {
    assert_eq!(
        probe_role(b"GET / HTTP/1.1\r\nHost: a\r\n"),
        Some(Role::Client)
    );
    assert_eq!(probe_role(b"M-SEARCH * HTTP/1.1\r\n"), Some(Role::Client));
    assert_eq!(probe_role(b"GET /x\r\n"), Some(Role::Client));
    // Cut anywhere after the method's space: still a request line's start.
    assert_eq!(probe_role(b"X_Y "), Some(Role::Client));
    assert_eq!(probe_role(b"get /a HTT"), Some(Role::Client));
    assert_eq!(probe_role(b"HTTP/1.1 200 OK\r\n"), Some(Role::Server));
    assert_eq!(probe_role(b"HTTP/1.0 20"), Some(Role::Server));
    // Too short to tell, a line that is not HTTP/1.x, a method longer than the
    // matcher's limit, no space, a status line's digits, empty.
    assert_eq!(probe_role(b"GET"), None);
    assert_eq!(probe_role(b"HTTP/"), None);
    assert_eq!(probe_role(b"PRI * HTTP/2.0\r\n\r\nSM"), None);
    assert_eq!(probe_role(b"HTTP/2 200"), None);
    assert_eq!(probe_role(b"GET / HTTP/1.1 x"), None);
    let long = [b'A'; MAX_METHOD_LEN + 1];
    assert_eq!(probe_role(&[&long[..], b" /"].concat()), None);
    assert_eq!(probe_role(b"GET\t/"), None);
    assert_eq!(probe_role(b"220 mail.example.com ESMTP"), None);
    assert_eq!(probe_role(b""), None);
}

#[test]
fn response_start_lines() {
    assert_eq!(
        run(&mut StartMatcher::new(false), b"HTTP/1.1 200 OK"),
        Match::Accept
    );
    assert_eq!(
        run(&mut StartMatcher::new(false), b"HTTP/1.0 404\r\n"),
        Match::Accept
    );
    assert_eq!(
        run(&mut StartMatcher::new(false), b"HTTP/1.1 20 OK"),
        Match::Fail
    );
    assert_eq!(
        run(&mut StartMatcher::new(false), b"HTTP/2 200 "),
        Match::Fail
    );
    assert_eq!(run(&mut StartMatcher::new(false), b"<html>"), Match::Fail);
}

#[test]
fn head_end_found_across_any_split() {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nrest";
    let end = head.len() - 4;
    for split in 0..head.len() {
        let mut s = HeadScanner::default();
        let (a, b) = head.split_at(split);
        let got = match s.scan(a) {
            Some(n) => n,
            None => split + s.scan(b).unwrap(),
        };
        assert_eq!(got, end, "split {split}");
    }
    assert_eq!(
        HeadScanner::default().scan(b"GET / HTTP/1.1\nHost: a\n\nX"),
        Some(24)
    );
    assert_eq!(
        HeadScanner::default().scan(b"GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n"),
        None
    );
}

#[test]
fn bare_lf_and_obs_fold_are_normalised_and_flagged() {
    let p = parse_head(
        b"HTTP/1.1 200 OK\nX-A: one\n  two\nContent-Length: 3\n\n",
        false,
        10,
    )
    .unwrap();
    assert_eq!(p.status, 200);
    assert_eq!(p.headers[0].value, "one two");
    assert_eq!(p.headers[1].value, "3");
    assert_eq!(p.anomalies, vec![Anomaly::BareLf, Anomaly::ObsFold]);
    let p = parse_head(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", true, 10).unwrap();
    assert!(p.anomalies.is_empty());
    assert_eq!((p.method.as_str(), p.target.as_str()), ("GET", "/"));
}

/// Field values are text as each one alone would be: a head that is valid UTF-8 is
/// checked once, and a value that is not (Latin-1 here), also one continued on a folded
/// line, is replaced on its own without touching its neighbours. The same through the
/// rewritten buffer (a bare LF), and on request and response heads of any bytes httparse
/// accepts (whitespace inside and around values).
#[test]
fn field_values_are_text_one_by_one() {
    use proptest::prelude::*;
    let values =
        |p: &ParsedHead| -> Vec<String> { p.headers.iter().map(|h| h.value.to_string()).collect() };
    let head = b"HTTP/1.1 200 OK\r\nA: caf\xc3\xa9\r\nB: caf\xe9\r\nC: \xe2\x82\xac 1\r\n\r\n";
    let p = parse_head(head, false, 10).unwrap();
    assert_eq!(values(&p), ["caf\u{e9}", "caf\u{fffd}", "\u{20ac} 1"]);
    let p = parse_head(b"GET / HTTP/1.1\nA: caf\xc3\xa9\nB: x\n\n", true, 10).unwrap();
    assert_eq!(values(&p), ["caf\u{e9}", "x"]);
    let folded = b"HTTP/1.1 200 OK\r\nA: x\r\n caf\xe9\r\nB: caf\xc3\xa9\r\n\r\n";
    let p = parse_head(folded, false, 10).unwrap();
    assert_eq!(values(&p), ["x caf\u{fffd}", "caf\u{e9}"]);

    let byte = prop::sample::select(vec![
        b'a', b' ', b'\t', b':', 0xc3, 0xa9, 0xe9, 0xe2, 0x82, 0xac,
    ]);
    let value = prop::collection::vec(byte, 0..12);
    proptest!(ProptestConfig::with_cases(1000), |(
        vals in prop::collection::vec(value, 1..5),
        request: bool,
    )| {
        let mut head = if request {
            b"GET / HTTP/1.1\r\n".to_vec()
        } else {
            b"HTTP/1.1 200 OK\r\n".to_vec()
        };
        for (i, v) in vals.iter().enumerate() {
            head.extend_from_slice(format!("F{i}: ").as_bytes());
            head.extend_from_slice(v);
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        if let Some(p) = parse_head(&head, request, 10) {
            for h in &p.headers {
                let i: usize = h.name[1..].parse().unwrap();
                let raw = &vals[i];
                // httparse trims the whitespace around a value.
                let trimmed = raw.trim_ascii();
                prop_assert_eq!(h.value.as_str(), String::from_utf8_lossy(trimmed));
            }
        }
    });
}

#[test]
fn too_many_headers_keeps_the_first() {
    let p = parse_head(b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", true, 2).unwrap();
    assert!(p.too_many_headers);
    assert_eq!(p.headers.len(), 2);
}

/// `body_framing` against the list-building version it replaced: the same framing and the
/// same anomalies in the same order, for fields made of the pieces that matter.
#[test]
fn framing_is_what_the_lists_said() {
    use proptest::prelude::*;
    fn reference(headers: &[Header], request: bool, anomalies: &mut Vec<Anomaly>) -> Framing {
        let mut codings: Vec<String> = Vec::new();
        let mut lengths: Vec<u64> = Vec::new();
        let mut invalid_length = false;
        for h in headers {
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                codings.extend(
                    h.value
                        .split(',')
                        .map(|c| c.trim().to_ascii_lowercase())
                        .filter(|c| !c.is_empty()),
                );
            } else if h.name.eq_ignore_ascii_case("content-length") {
                for v in h.value.split(',').map(str::trim) {
                    match parse_length(v) {
                        Some(n) => lengths.push(n),
                        None => invalid_length = true,
                    }
                }
            }
        }
        if invalid_length {
            anomalies.push(Anomaly::InvalidContentLength);
        }
        let conflicting = lengths
            .first()
            .is_some_and(|first| lengths.iter().any(|l| l != first));
        if conflicting {
            anomalies.push(Anomaly::ConflictingContentLength);
        }
        if !codings.is_empty() {
            if !lengths.is_empty() || invalid_length {
                anomalies.push(Anomaly::TransferEncodingAndContentLength);
            }
            return if codings.last().map(String::as_str) == Some("chunked") {
                Framing::Chunked
            } else {
                anomalies.push(Anomaly::UnknownTransferEncoding);
                Framing::Close
            };
        }
        if conflicting && !request {
            return Framing::Close;
        }
        match lengths.last() {
            Some(0) => Framing::None,
            Some(&n) => Framing::Length(n),
            None if request => Framing::None,
            None => Framing::Close,
        }
    }
    let name = prop::sample::select(vec!["Transfer-Encoding", "content-length", "X-A"]);
    let piece = prop::sample::select(vec![
        "chunked", "CHUNKED", "gzip", "0", "5", "7", "x", ",", " ", "",
    ]);
    let field = (name, prop::collection::vec(piece, 0..4));
    proptest!(ProptestConfig::with_cases(4000), |(
        fields in prop::collection::vec(field, 0..4),
        request in any::<bool>(),
    )| {
        let headers: Vec<Header> = fields
            .iter()
            .map(|(n, v)| Header { name: (*n).into(), value: v.concat().into() })
            .collect();
        let (mut got, mut want) = (Vec::new(), Vec::new());
        prop_assert_eq!(
            body_framing(&headers, request, &mut got),
            reference(&headers, request, &mut want)
        );
        prop_assert_eq!(got, want);
    });
}

#[test]
fn framing_rules() {
    let h = |list: &[(&str, &str)]| -> Vec<Header> {
        list.iter()
            .map(|(n, v)| Header {
                name: n.to_string().into(),
                value: (*v).into(),
            })
            .collect()
    };
    let mut a = Vec::new();
    assert_eq!(
        body_framing(&h(&[("Content-Length", "5")]), true, &mut a),
        Framing::Length(5)
    );
    assert_eq!(body_framing(&h(&[]), true, &mut a), Framing::None);
    assert_eq!(body_framing(&h(&[]), false, &mut a), Framing::Close);
    assert!(a.is_empty());
    assert_eq!(
        body_framing(&h(&[("content-length", "5, 5")]), true, &mut a),
        Framing::Length(5)
    );
    assert!(a.is_empty());
    assert_eq!(
        body_framing(
            &h(&[("Content-Length", "11"), ("Content-Length", "93")]),
            true,
            &mut a
        ),
        Framing::Length(93)
    );
    assert_eq!(a, vec![Anomaly::ConflictingContentLength]);
    a.clear();
    assert_eq!(
        body_framing(
            &h(&[("Content-Length", "68"), ("Content-Length", "34")]),
            false,
            &mut a
        ),
        Framing::Close,
        "a response with conflicting lengths runs to the close"
    );
    assert_eq!(a, vec![Anomaly::ConflictingContentLength]);
    a.clear();
    let te_cl = h(&[("Content-Length", "68"), ("Transfer-Encoding", "chunked")]);
    assert_eq!(body_framing(&te_cl, false, &mut a), Framing::Chunked);
    assert_eq!(a, vec![Anomaly::TransferEncodingAndContentLength]);
    a.clear();
    assert_eq!(
        body_framing(&h(&[("Content-Length", "x")]), false, &mut a),
        Framing::Close
    );
    assert_eq!(
        body_framing(&h(&[("Content-Length", "-1")]), true, &mut a),
        Framing::None
    );
    assert_eq!(
        a,
        vec![Anomaly::InvalidContentLength, Anomaly::InvalidContentLength]
    );
    a.clear();
    assert_eq!(
        body_framing(&h(&[("Transfer-Encoding", "gzip")]), false, &mut a),
        Framing::Close
    );
    assert_eq!(a, vec![Anomaly::UnknownTransferEncoding]);
}

/// Optional whitespace around a field value is SP and HTAB only (RFC 9110 §5.6.3): other
/// Unicode white space (U+2028, U+2029, NBSP) is part of the value, on the strict path and
/// on the lenient one (a head httparse rejects: here a space inside the target).
#[test]
fn field_values_lose_only_sp_and_htab() {
    let value = "\u{2028}\u{a0}x\u{2029}";
    let field = format!("X-Sep: \t{value} \t\r\n");
    let strict = format!("GET / HTTP/1.1\r\nHost: a\r\n{field}\r\n");
    let lenient = format!("GET /a b HTTP/1.1\r\nHost: a\r\n{field}\r\n");
    let parsed = parse_head(strict.as_bytes(), true, 64).expect("strict");
    let found = |p: &ParsedHead| {
        p.headers
            .iter()
            .find(|h| h.name == "X-Sep")
            .map(|h| h.value.to_string())
    };
    assert_eq!(found(&parsed).as_deref(), Some(value), "strict");
    assert!(
        parse_head(lenient.as_bytes(), true, 64).is_none(),
        "httparse rejects it"
    );
    let parsed = parse_head_lenient(lenient.as_bytes(), true, 64).expect("lenient");
    assert_eq!(found(&parsed).as_deref(), Some(value), "lenient");
}
