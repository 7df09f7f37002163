//! Flag values: Go durations, bools, byte sizes and numeric ranges, accepted and refused
//! as HttShark's users typed them.

use std::time::Duration;

use super::go::*;
use super::tests::{config, har, usage_error, H, M, MS, NS, S, US};

#[test]
fn good_durations() {
    let table: &[(&str, i64)] = &[
        ("10s", 10 * S),
        ("5m", 5 * M),
        ("1m0s", M),
        ("5m0s", 5 * M),
        ("1h", H),
        ("1h2m3.5s", H + 2 * M + 3 * S + 500 * MS),
        ("300ms", 300 * MS),
        ("1.5h", 90 * M),
        ("0s", 0),
        ("0", 0),
        ("-0", 0),
        ("+0", 0),
        ("+5s", 5 * S),
        ("-1.5h", -90 * M),
        ("1ns", NS),
        ("1us", US),
        ("1µs", US),
        ("1μs", US),
        ("2h45m", 2 * H + 45 * M),
        (".5s", 500 * MS),
        ("1.s", S),
        ("0.000000001s", NS),
        ("1.0000000000000000000000001s", S),
        ("100000000000000000ns", 100_000_000_000_000_000),
        ("2562047h47m16.854775807s", i64::MAX),
        ("-2562047h47m16.854775808s", i64::MIN),
        ("9223372036854775807ns", i64::MAX),
    ];
    for (s, want) in table {
        assert_eq!(parse_go_duration(s), Ok(*want), "{s}");
    }
}

#[test]
fn bad_durations() {
    for s in [
        "",
        "10",
        "1",
        "-",
        "+",
        "s",
        ".",
        ".s",
        "1d",
        "1 s",
        " 1s",
        "1s ",
        "1S",
        "1sec",
        "1h-2m",
        "--1s",
        "+-1s",
        "1e3s",
        "1,5s",
        "0x10s",
        "00",
        "1.5",
        "9223372036854775808ns",
        "2562048h",
        "-9223372036854775809ns",
        "99999999999999999999s",
    ] {
        assert!(parse_go_duration(s).is_err(), "{s:?} should not parse");
    }
    assert!(parse_go_duration("10")
        .unwrap_err()
        .contains("missing unit"));
    assert!(parse_go_duration("3d")
        .unwrap_err()
        .contains("unknown unit 'd'"));
}

#[test]
fn intervals_and_timeouts_must_be_positive() {
    assert_eq!(parse_positive_duration("1ns"), Ok(Duration::from_nanos(1)));
    assert_eq!(
        parse_positive_duration("1h2m3.5s"),
        Ok(Duration::from_millis(3_723_500))
    );
    for s in ["0", "0s", "-1s", "-0"] {
        assert!(parse_positive_duration(s).is_err(), "{s}");
    }
    for flag in [
        "-response-timeout",
        "-response-check-interval",
        "-export-interval",
    ] {
        let m = usage_error(&["-device", "e", flag, "0s"]);
        assert!(m.starts_with(&format!("{flag}: invalid value '0s'")), "{m}");
        assert!(m.contains("greater than zero"), "{m}");
        let m = usage_error(&["-device", "e", &format!("{flag}=-5s")]);
        assert!(m.contains("greater than zero"), "{m}");
        let m = usage_error(&["-device", "e", &format!("{flag}=10")]);
        assert!(m.contains("missing unit"), "{m}");
    }
    let c = config(&[
        "-device",
        "e",
        "-response-timeout=90s",
        "-response-check-interval=2s",
        "-export-interval=1m",
    ])
    .unwrap();
    assert_eq!(c.http.response_timeout, Duration::from_secs(90));
    assert_eq!(c.response_check_interval, Duration::from_secs(2));
    assert_eq!(har(&c).interval, Duration::from_secs(60));
}

#[test]
fn bool_forms() {
    let split = |args: &[&str]| {
        let mut all = vec!["-device", "e"];
        all.extend_from_slice(args);
        config(&all).map(|c| har(&c).split_by_host)
    };
    assert!(split(&[]).unwrap(), "default is true");
    for t in ["-split-by-host", "--split-by-host"] {
        assert!(split(&[t]).unwrap());
    }
    for v in ["1", "t", "T", "TRUE", "true", "True"] {
        assert!(split(&[&format!("-split-by-host={v}")]).unwrap(), "{v}");
        assert!(split(&[&format!("--split-by-host={v}")]).unwrap(), "{v}");
    }
    for v in ["0", "f", "F", "FALSE", "false", "False"] {
        assert!(!split(&[&format!("-split-by-host={v}")]).unwrap(), "{v}");
        assert!(!split(&[&format!("--split-by-host={v}")]).unwrap(), "{v}");
    }
    for v in ["yes", "no", "", "tRuE", "2"] {
        let m = usage_error(&["-device", "e", &format!("-split-by-host={v}")]);
        assert!(m.starts_with("-split-by-host: invalid value"), "{m}");
    }
    // Go never gives a bool flag the next token as its value.
    let m = usage_error(&["-device", "e", "-split-by-host", "false"]);
    assert!(m.contains("-split-by-host=false"), "{m}");
    // A bool flag followed by another flag is just the bool.
    assert!(har(&config(&["-split-by-host", "-device", "e"]).unwrap()).split_by_host);
}

#[test]
fn byte_sizes() {
    let table: &[(&str, u64)] = &[
        ("0", 0),
        ("33554432", 32 << 20),
        ("32MiB", 32 << 20),
        ("32mib", 32 << 20),
        ("32 MiB", 32 << 20),
        ("64KiB", 64 << 10),
        ("1GiB", 1 << 30),
        ("1KB", 1_000),
        ("2MB", 2_000_000),
        ("1gb", 1_000_000_000),
        ("7B", 7),
    ];
    for (s, want) in table {
        assert_eq!(parse_byte_size(s), Ok(*want), "{s}");
    }
    for s in [
        "",
        "MiB",
        "-1",
        "1.5MiB",
        "1K",
        "1M",
        "1 TiB",
        "18446744073709551616",
        "17179869184GiB",
    ] {
        assert!(parse_byte_size(s).is_err(), "{s:?}");
    }
    assert_eq!(parse_buffer_size("2147483647"), Ok(i32::MAX));
    assert!(parse_buffer_size("2GiB").is_err());
    assert!(parse_buffer_size("0").is_err());
    assert_eq!(
        config(&["-device", "e", "-max-body-size=0"])
            .unwrap()
            .http
            .max_body_keep,
        0
    );
    let c = config(&["-device", "e", "-memory-limit", "64MiB", "-workers=2"]).unwrap();
    assert_eq!(c.memory_limit, 64 << 20);
    let shares = c.memory_shares();
    assert_eq!(shares.per_worker, 16 << 20);
    assert_eq!(
        shares.per_worker * 2 + shares.in_flight + shares.har_held + shares.sampled_held,
        64 << 20
    );
    let m = usage_error(&["-device", "e", "-memory-limit=16MiB", "-workers=16"]);
    assert_eq!(
        m,
        "-memory-limit: 16 MiB leaves 512 KiB to each of the 16 workers (half the budget, \
         split); give at least 32 MiB, or fewer -workers"
    );
    assert!(config(&["-device", "e", "-memory-limit=16MiB", "-workers=8"]).is_ok());
    assert!(config(&["-device", "e", "-workers=256"]).is_ok());
    let m = usage_error(&["-device", "e", "-memory-limit=1MiB"]);
    assert!(
        m.starts_with("-memory-limit: invalid value '1MiB': must be at least 8MiB"),
        "{m}"
    );
    let m = usage_error(&["-device", "e", "-buffer-size", "3x"]);
    assert!(
        m.starts_with("-buffer-size: invalid value '3x': unknown unit 'x'"),
        "{m}"
    );
}

#[test]
fn numeric_ranges() {
    assert_eq!(
        config(&["-device", "e", "-snaplen=128"]).unwrap().snaplen,
        128
    );
    assert_eq!(
        config(&["-device", "e", "-workers=256"]).unwrap().workers,
        256
    );
    assert_eq!(
        config(&["-device", "e", "-verbose=5"]).unwrap().log.verbose,
        5
    );
    for args in [
        ["-snaplen", "127"],
        ["-snaplen", "262145"],
        ["-snaplen", "abc"],
        ["-workers", "0"],
        ["-workers", "257"],
        ["-verbose", "6"],
        ["-verbose", "-1"],
        ["-channel-buffer", "x"],
    ] {
        let m = usage_error(&["-device", "e", args[0], args[1]]);
        assert!(
            m.starts_with(&format!("{}: invalid value '{}'", args[0], args[1])),
            "{m}"
        );
    }
}

/// `-har-encoding` takes auto, workers or processor; auto by default; anything else is a
/// usage error that names the values.
#[test]
fn har_encoding_values() {
    use crate::config::HarEncoding;
    assert_eq!(
        config(&["-device", "e"]).unwrap().har_encoding,
        HarEncoding::Auto
    );
    for (value, mode) in [
        ("auto", HarEncoding::Auto),
        ("workers", HarEncoding::Workers),
        ("processor", HarEncoding::Processor),
    ] {
        let c = config(&["-device", "e", "-har-encoding", value]).unwrap();
        assert_eq!(c.har_encoding, mode);
    }
    let m = usage_error(&["-device", "e", "-har-encoding=both"]);
    assert!(m.contains("give auto, workers or processor"), "{m}");
}

/// `-overload` takes auto, drop-bodies or wait; auto by default, which drops bodies live
/// and waits on a file; anything else is a usage error that names the values.
#[test]
fn overload_values() {
    use crate::config::Overload;
    assert_eq!(config(&["-device", "e"]).unwrap().overload, Overload::Auto);
    for (value, mode, live, file) in [
        ("auto", Overload::Auto, true, false),
        ("drop-bodies", Overload::DropBodies, true, true),
        ("wait", Overload::Wait, false, false),
    ] {
        let c = config(&["-device", "e", "-overload", value]).unwrap();
        assert_eq!(c.overload, mode);
        assert_eq!(
            (mode.drops_bodies(true), mode.drops_bodies(false)),
            (live, file)
        );
    }
    let m = usage_error(&["-device", "e", "-overload=drop"]);
    assert!(m.contains("give auto, drop-bodies or wait"), "{m}");
}
