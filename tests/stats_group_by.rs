//! `-stats-group-by`: the parsing table and each kind's key extraction on transactions.

mod stats_support;

use httshark::processor::stats::group_by::{GroupBy, EMPTY_KEY, MAX_SITE_KEY_BYTES, NONE_KEY};
use stats_support::Tx;

#[test]
fn parse_table() {
    let ok = [
        ("host", GroupBy::Host),
        (" host ", GroupBy::Host),
        ("path-prefix:1", GroupBy::PathPrefix(1)),
        ("path-prefix:2", GroupBy::PathPrefix(2)),
        ("path-prefix:64", GroupBy::PathPrefix(64)),
        ("query:s", GroupBy::Query("s".into())),
        ("query:tenant id", GroupBy::Query("tenant id".into())),
        ("header:X-Tenant", GroupBy::Header("X-Tenant".into())),
        ("header:user-agent", GroupBy::Header("user-agent".into())),
    ];
    for (spec, want) in ok {
        assert_eq!(GroupBy::parse(spec), Ok(want), "{spec:?}");
    }
    let bad = [
        ("", "unknown grouping"),
        ("hosts", "unknown grouping"),
        ("Host", "unknown grouping"),
        ("url", "unknown grouping"),
        ("host:x", "host takes no argument"),
        ("path-prefix", "path-prefix needs a number"),
        ("path-prefix:", "path-prefix needs a number"),
        ("path-prefix:x", "path-prefix needs a number"),
        ("path-prefix:0", "from 1 to 64"),
        ("path-prefix:65", "from 1 to 64"),
        ("path-prefix:-1", "from 1 to 64"),
        ("query", "query needs a parameter name"),
        ("query:", "query needs a parameter name"),
        ("header", "header needs a header field name"),
        ("header:", "header needs a header field name"),
        ("header:X Tenant", "header needs a header field name"),
        ("header:X:Y", "header needs a header field name"),
    ];
    for (spec, msg) in bad {
        let err = GroupBy::parse(spec).expect_err(spec);
        assert!(err.contains(msg), "{spec:?}: {err}");
        assert!(err.contains("-stats-group-by"), "{spec:?}: {err}");
    }
    assert_eq!(GroupBy::default(), GroupBy::Host);
}

fn key(spec: &str, tx: &Tx) -> String {
    GroupBy::parse(spec).unwrap().key(&tx.build()).key
}

#[test]
fn host_key_is_host_header_as_sent_else_server_address() {
    let t = Tx::new(1, Some("Example.COM:8080"), "/", 0, 10);
    assert_eq!(key("host", &t), "Example.COM:8080");
    let t = Tx::new(1, Some("  "), "/", 0, 10).server("192.0.2.7:8000");
    assert_eq!(key("host", &t), "192.0.2.7:8000", "blank Host");
    let t = Tx::new(1, None, "/", 0, 10).server("[2001:db8::1]:80");
    assert_eq!(key("host", &t), "[2001:db8::1]:80");
}

#[test]
fn path_prefix_key() {
    let cases = [
        ("path-prefix:2", "/api/v1/users/42?page=3", "/api/v1"),
        ("path-prefix:1", "/api/v1/users/42", "/api"),
        ("path-prefix:3", "/api", "/api"),
        ("path-prefix:2", "/", "/"),
        ("path-prefix:2", "http://proxy.example/api/v2/x", "/api/v2"),
        ("path-prefix:2", "example.com:443", "example.com:443"),
        ("path-prefix:2", "*", "*"),
        ("path-prefix:2", "/a%2Fb/c/d", "/a%2Fb/c"),
    ];
    for (spec, target, want) in cases {
        assert_eq!(
            key(spec, &Tx::new(1, Some("h"), target, 0, 10)),
            want,
            "{target}"
        );
    }
}

#[test]
fn query_key() {
    let cases = [
        ("/x?s=yo", "yo"),
        ("/x?a=1&s=yo2", "yo2"),
        ("/x?s=first&s=second", "first"),
        ("/x?s=a%20b+c", "a b c"),
        ("/x?s=", EMPTY_KEY),
        ("/x?s", EMPTY_KEY),
        ("/x?S=upper", NONE_KEY),
        ("/x", NONE_KEY),
        ("/x?t=1", NONE_KEY),
    ];
    for (target, want) in cases {
        assert_eq!(
            key("query:s", &Tx::new(1, Some("h"), target, 0, 10)),
            want,
            "{target}"
        );
    }
}

#[test]
fn header_key() {
    let t = Tx::new(1, Some("h"), "/", 0, 10)
        .header("x-tenant", " acme ")
        .header("X-Tenant", "second");
    assert_eq!(
        key("header:X-Tenant", &t),
        "acme",
        "first, trimmed, any case"
    );
    assert_eq!(key("header:X-Other", &t), NONE_KEY);
    let t = Tx::new(1, Some("h"), "/", 0, 10).header("X-Tenant", "");
    assert_eq!(key("header:x-tenant", &t), EMPTY_KEY);
    let t = Tx::new(1, Some("h"), "/", 0, 10).header("X-Tenant", "a\u{1b}[31mred");
    assert_eq!(
        key("header:x-tenant", &t),
        "a\\x1b[31mred",
        "control characters escaped"
    );
}

#[test]
fn keys_are_bounded() {
    let long = format!("/{}", "p".repeat(1000));
    let gb = GroupBy::parse("path-prefix:1").unwrap();
    let k = gb.key(&Tx::new(1, Some("h"), &long, 0, 10).build());
    assert!(k.truncated);
    assert_eq!(k.key.len(), MAX_SITE_KEY_BYTES);
    let k = gb.key(&Tx::new(1, Some("h"), "/short", 0, 10).build());
    assert!(!k.truncated);
}
