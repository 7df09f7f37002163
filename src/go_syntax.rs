//! The value syntaxes HttShark's users type and read: Go's durations
//! (`time.ParseDuration`, and `Duration.String` for printing them), Go's bools
//! (`strconv.ParseBool`) and byte sizes (`32MiB`). Flags parse with these, and defaults and
//! log messages print with them, so a value reads the same everywhere.
//!
//! What it does not do: know about flags or clap (`cli`). Pure functions, no dependencies,
//! so the logger can print durations without depending on the command line.

use std::fmt::Write as _;
use std::time::Duration;

/// Go's `strconv.ParseBool`, which `flag` uses for bool flags.
pub fn parse_go_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err("not a bool (true, false, 1, 0)".to_string()),
    }
}

/// Go's `time.ParseDuration`, to the nanosecond: a possibly signed sequence of decimal
/// numbers, each with an optional fraction and a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`,
/// `h`), as `300ms`, `-1.5h`, `2h45m`; a bare `0` needs no unit. Returns nanoseconds; the
/// range is Go's (an `i64` of nanoseconds, about 292 years).
pub fn parse_go_duration(s: &str) -> Result<i64, String> {
    const UNITS: &[(&str, u64)] = &[
        ("ns", 1),
        ("us", 1_000),
        ("µs", 1_000), // U+00B5 micro sign
        ("μs", 1_000), // U+03BC Greek small letter mu
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60 * 1_000_000_000),
        ("h", 3600 * 1_000_000_000),
    ];
    const LIMIT: u64 = 1 << 63;
    let invalid = || "not a duration (Go syntax: 300ms, 10s, 5m, 1m0s, 1.5h)".to_string();

    let (neg, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let is_num = |b: u8| b == b'.' || b.is_ascii_digit();
        if !rest.as_bytes().first().copied().is_some_and(is_num) {
            return Err(invalid());
        }
        // Integer part; overflow is an error, as in Go's leadingInt.
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let mut v: u64 = 0;
        for b in rest.bytes().take(int_len) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .filter(|v| *v <= LIMIT)
                .ok_or_else(invalid)?;
        }
        rest = &rest[int_len..];
        // Fraction part; digits beyond what fits are dropped, as in Go's leadingFraction.
        let (mut frac, mut scale, mut frac_len) = (0u64, 1f64, 0usize);
        if let Some(after_dot) = rest.strip_prefix('.') {
            rest = after_dot;
            let mut overflow = false;
            for b in rest.bytes().take_while(u8::is_ascii_digit) {
                frac_len += 1;
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|f| f.checked_add(u64::from(b - b'0')))
                {
                    Some(f) if f <= LIMIT => {
                        frac = f;
                        scale *= 10.0;
                    }
                    _ => overflow = true,
                }
            }
            rest = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid()); // "." or ".s"
        }
        let unit_len = rest.bytes().take_while(|&b| !is_num(b)).count();
        if unit_len == 0 {
            return Err(format!(
                "missing unit (Go units: ns, us, ms, s, m, h; as in {s}s)"
            ));
        }
        let unit_str = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit = UNITS
            .iter()
            .find(|(u, _)| *u == unit_str)
            .map(|(_, n)| *n)
            .ok_or_else(|| format!("unknown unit '{unit_str}' (Go units: ns, us, ms, s, m, h)"))?;
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if frac > 0 {
            // Go computes this in float64 too; the result is exact for any realistic input.
            v = v
                .checked_add((frac as f64 * (unit as f64 / scale)) as u64)
                .ok_or_else(invalid)?;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(v)
            .filter(|t| *t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if neg {
        // -(1 << 63) is i64::MIN, the one value whose magnitude does not fit an i64.
        Ok(0i64.wrapping_sub_unsigned(total))
    } else {
        i64::try_from(total).map_err(|_| invalid())
    }
}

/// A duration as Go prints one (`1m0s`, `1h0m0s`, `10s`, `1.5s`, `500ms`, `0s`), which is
/// how HttShark's flags and messages show them.
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000 {
        return format!("{nanos}ns");
    }
    if nanos < 1_000_000 {
        return format!("{}µs", frac(nanos, 1_000));
    }
    if nanos < 1_000_000_000 {
        return format!("{}ms", frac(nanos, 1_000_000));
    }
    let total_secs = d.as_secs();
    let (h, m) = (total_secs / 3600, (total_secs / 60) % 60);
    let secs = frac(
        u128::from(total_secs % 60) * 1_000_000_000 + u128::from(d.subsec_nanos()),
        1_000_000_000,
    );
    let mut s = String::new();
    if h > 0 {
        let _ = write!(s, "{h}h");
    }
    if h > 0 || m > 0 {
        let _ = write!(s, "{m}m");
    }
    let _ = write!(s, "{secs}s");
    s
}

/// `n / unit` with its fraction, trailing zeros dropped (`1500, 1000` -> `1.5`).
fn frac(n: u128, unit: u128) -> String {
    let whole = n / unit;
    let rest = n % unit;
    if rest == 0 {
        return whole.to_string();
    }
    let width = unit.ilog10() as usize;
    let digits = format!("{rest:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// A byte count as `parse_byte_size` reads it back: the largest binary unit that divides it
/// exactly (`32MiB`, `10MiB`, `512MiB`), else plain bytes.
pub fn format_byte_size(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n != 0 && n % size == 0 {
            return format!("{}{unit}", n / size);
        }
    }
    n.to_string()
}

/// A byte count: digits, optionally followed (after optional spaces) by a unit, case
/// insensitive: `B`, `KB`/`MB`/`GB` (powers of 1000), `KiB`/`MiB`/`GiB` (powers of 1024).
pub fn parse_byte_size(s: &str) -> Result<u64, String> {
    const UNITS: &[(&str, u64)] = &[
        ("", 1),
        ("b", 1),
        ("kb", 1_000),
        ("mb", 1_000_000),
        ("gb", 1_000_000_000),
        ("kib", 1 << 10),
        ("mib", 1 << 20),
        ("gib", 1 << 30),
    ];
    let s = s.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(
            "not a byte size (a number of bytes, or with a unit: 64KiB, 32MiB, 1GB)".to_string(),
        );
    }
    let n: u64 = s[..digits]
        .parse()
        .map_err(|_| "number too large".to_string())?;
    let unit_str = s[digits..].trim_start().to_ascii_lowercase();
    let unit = UNITS
        .iter()
        .find(|(u, _)| *u == unit_str)
        .map(|(_, m)| *m)
        .ok_or_else(|| {
            format!(
                "unknown unit '{}' (B, KB, MB, GB, KiB, MiB, GiB)",
                s[digits..].trim_start()
            )
        })?;
    n.checked_mul(unit)
        .ok_or_else(|| "number too large".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(format_duration(Duration::from_secs(3725)), "1h2m5s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
        assert_eq!(format_duration(Duration::from_nanos(800)), "800ns");
        assert_eq!(format_duration(Duration::from_nanos(2_500)), "2.5µs");
    }

    #[test]
    fn byte_sizes_print_as_they_parse() {
        for (n, want) in [
            (0u64, "0"),
            (7, "7"),
            (32 << 20, "32MiB"),
            (10 << 20, "10MiB"),
            (512 << 20, "512MiB"),
            (1 << 30, "1GiB"),
            (3072, "3KiB"),
            (1536, "1536"),
            (1_000_000, "1000000"),
        ] {
            assert_eq!(format_byte_size(n), want);
            assert_eq!(parse_byte_size(want), Ok(n));
        }
    }

    #[test]
    fn durations_print_as_they_parse() {
        for d in [
            Duration::ZERO,
            Duration::from_secs(10),
            Duration::from_secs(300),
            Duration::from_millis(1500),
            Duration::from_secs(3725),
        ] {
            let s = format_duration(d);
            assert_eq!(parse_go_duration(&s), Ok(d.as_nanos() as i64), "{s}");
        }
    }
}
