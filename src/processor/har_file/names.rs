//! HAR file names: the interval stamp, part labels, and a host made into one safe path
//! component. Pure functions; the `file` processor decides when a name is used.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::DateTime;

use super::MAX_STEM_CHARS;
use crate::time::Timestamp;

/// `YYYYMMDDTHHMMSSZ` of an interval start, UTC.
pub fn interval_stamp(start: Timestamp) -> String {
    DateTime::from_timestamp(start.secs(), 0).map_or_else(
        || "19700101T000000Z".to_string(),
        |d| d.format("%Y%m%dT%H%M%SZ").to_string(),
    )
}

/// Digits of a part number: names sort in writing order, by `ls` and by plain byte order,
/// up to this many digits' worth of parts (`p0001` ... `p9999`; later parts get more
/// digits, which `ls -v` and `sort -V` still order).
pub const PART_DIGITS: usize = 4;

/// `p0001`, `p0002`, ...: the label of part `n` (1-based) of an interval written in parts.
pub fn part_label(n: u32) -> String {
    format!("p{n:0width$}", width = PART_DIGITS)
}

/// FNV-1a, 64 bits: stable across runs and platforms (std's hasher is not).
pub(super) fn fnv1a(s: &[u8]) -> u64 {
    s.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A host as one safe file-name component: `[A-Za-z0-9._-]` kept, `:` (the port) becomes
/// `_`, anything else `_`; no leading dot; at most `MAX_STEM_CHARS` characters. When
/// anything other than `:` was changed, `-` and 8 hex digits of a hash of the original are
/// appended, so hosts that differ only in replaced characters get distinct names.
pub fn file_stem(host: &str) -> String {
    let mut out = String::with_capacity(host.len().min(MAX_STEM_CHARS) + 9);
    let mut lossy = false;
    for (i, c) in host.chars().enumerate() {
        if out.len() >= MAX_STEM_CHARS {
            lossy = true;
            break;
        }
        match c {
            // A leading dot hides the file; a leading dash reads as an option in shells.
            '.' | '-' if i == 0 => {
                out.push('_');
                lossy = true;
            }
            'A'..='Z' | 'a'..='z' | '0'..='9' | '.' | '_' | '-' => out.push(c),
            ':' => out.push('_'),
            _ => {
                out.push('_');
                lossy = true;
            }
        }
    }
    if out.is_empty() {
        out.push('_');
        lossy = true;
    }
    if lossy {
        out.push_str(&format!("-{:08x}", fnv1a(host.as_bytes()) as u32));
    }
    out
}

/// `<stem>_<stamp>.har`, with `-2`, `-3`, ... added to the stem when another host of the
/// same interval already has the name (e.g. `a:1` and `a_1`). Callers iterate hosts in a
/// fixed order, so the numbering is deterministic.
pub(super) fn unique_name(stem: &str, stamp: &str, used: &mut BTreeSet<String>) -> String {
    let mut name = format!("{stem}_{stamp}.har");
    let mut n = 2u64;
    while used.contains(&name) {
        name = format!("{stem}-{n}_{stamp}.har");
        n += 1;
    }
    used.insert(name.clone());
    name
}

/// True when `name` is a single path component that stays inside a folder.
pub fn is_safe_component(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.starts_with('.')
        && name.len() <= 255
        && Path::new(name).components().count() == 1
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}
