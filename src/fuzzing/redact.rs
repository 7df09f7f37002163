//! `-redact-headers` (`transform::Redaction`) on arbitrary lists and header fields.
//! Input: the list (lossy UTF-8) up to the first NUL; after it, raw header-field bytes put
//! into both heads of one exchange (`super::exchange`). `-max_len` 4096 (fuzz/run.sh): the
//! list's limits (`MAX_NAMES` names, `MAX_NAME_LEN` bytes per name) are reachable within it.
//!
//! Checks: a parsed list has lowercase token names, none `host`, within both limits, and
//! reparses from its own names to itself; a refused list says which flag. Applied to the
//! exchange's transactions: the number, order and names of header fields stay; a field not
//! listed keeps its value; a listed field's value is the marker, except Cookie (every
//! cookie's value is the marker, as `har::cookie` reads it back) and Set-Cookie (the
//! cookie's value is the marker); nothing but header fields changes; applying twice is
//! applying once.

use crate::har::cookie::{parse_cookie_header, parse_set_cookie};
use crate::model::{Header, Transaction};
use crate::time::Timestamp;
use crate::transform::redact::{Redaction, MARKER, MAX_NAMES, MAX_NAME_LEN};

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    let (list, fields) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let list = String::from_utf8_lossy(list);
    let r = match Redaction::parse(&list) {
        Ok(r) => r,
        Err(e) => {
            assert!(e.starts_with("-redact-headers: "), "{e}");
            return;
        }
    };
    let names = r.names();
    assert!(names.len() <= MAX_NAMES);
    for n in names {
        assert!(!n.is_empty() && n.len() <= MAX_NAME_LEN, "{n:?}");
        assert_eq!(*n, n.to_ascii_lowercase());
        assert_ne!(n, "host");
        assert!(n
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b",;:\"()/<>?@[]\\{}=".contains(&b)));
    }
    assert_eq!(Redaction::parse(&names.join(",")).as_ref(), Ok(&r));

    for tx in super::exchange(fields, fields, 3) {
        let mut once = tx.clone();
        r.apply(&mut once);
        let mut twice = once.clone();
        r.apply(&mut twice);
        assert_eq!(once, twice, "applying twice differs from once");
        compare(&r, &tx.request.headers, &once.request.headers);
        compare(&r, &tx.request.body.trailers, &once.request.body.trailers);
        match (&tx.response, &once.response) {
            (Some(a), Some(b)) => {
                compare(&r, &a.headers, &b.headers);
                compare(&r, &a.body.trailers, &b.body.trailers);
                assert_eq!(a.interim.len(), b.interim.len());
                for (x, y) in a.interim.iter().zip(&b.interim) {
                    compare(&r, &x.headers, &y.headers);
                }
            }
            (None, None) => {}
            _ => panic!("redaction added or removed a response"),
        }
        // Nothing else changes: with the header values put back, the same transaction.
        let mut restored = once.clone();
        restore(&mut restored, &tx);
        assert_eq!(restored, tx, "redaction changed more than header values");
    }
}

fn compare(r: &Redaction, before: &[Header], after: &[Header]) {
    assert_eq!(before.len(), after.len(), "number of fields changed");
    for (b, a) in before.iter().zip(after) {
        assert_eq!(b.name, a.name, "a field name changed");
        if !r.covers(&b.name) {
            assert_eq!(b.value, a.value, "{}: not listed, yet changed", b.name);
        } else if b.name.eq_ignore_ascii_case("cookie") {
            for (name, value) in parse_cookie_header(&a.value) {
                assert_eq!(
                    value, MARKER,
                    "cookie {name:?} kept its value in {:?}",
                    a.value
                );
            }
        } else if b.name.eq_ignore_ascii_case("set-cookie") {
            let c = parse_set_cookie(&a.value, Timestamp(0));
            assert_eq!(c.value, MARKER, "Set-Cookie kept its value: {:?}", a.value);
        } else {
            assert_eq!(a.value, MARKER, "{}: value left", b.name);
        }
    }
}

fn restore(t: &mut Transaction, from: &Transaction) {
    let copy = |to: &mut Vec<Header>, from: &Vec<Header>| to.clone_from(from);
    copy(&mut t.request.headers, &from.request.headers);
    copy(&mut t.request.body.trailers, &from.request.body.trailers);
    if let (Some(a), Some(b)) = (&mut t.response, &from.response) {
        copy(&mut a.headers, &b.headers);
        copy(&mut a.body.trailers, &b.body.trailers);
        for (x, y) in a.interim.iter_mut().zip(&b.interim) {
            copy(&mut x.headers, &y.headers);
        }
    }
}
