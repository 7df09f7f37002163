//! The real-traffic TLS and HTTP/2 fixtures (`fixtures/tls/`, `fixtures/h2/`, made by
//! `scripts/tls-h2-fixtures.sh`): reading their ground truth (`NAME.expected.tsv`, the
//! server's own log joined with the sha256 of each body as the client saw it) and tshark's
//! view of them (`NAME.tshark.tsv`), and comparing the truth with httshark's HAR entries.
//!
//! The comparison is exact and one-to-one: every logged request must be one HAR entry with
//! the same method, request target, status, request body size, decoded response length and
//! sha256, on the logged client port, with an `https` URL exactly when the row is TLS; and
//! no other entry may exist. Request targets are unique within a scenario (the script adds
//! `?r=N`), so rows and entries pair up without depending on completion order.
//!
//! It does not run httshark or tshark: `tests/tls_h2_fixtures.rs` does.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::Seen;

/// The header line of every `NAME.expected.tsv` (fixtures/README.md explains each column).
pub const EXPECTED_COLUMNS: [&str; 17] = [
    "conn_port",
    "method",
    "uri",
    "status",
    "req_body_len",
    "http_version",
    "h2",
    "tls_protocol",
    "tls_cipher",
    "session_reused",
    "early_data",
    "request_length",
    "bytes_sent",
    "body_bytes_sent",
    "content_len",
    "content_sha256",
    "source",
];

/// One request the server logged, with what the client received for it.
#[derive(Clone, Debug, PartialEq)]
pub struct ExpectedRow {
    /// The client's TCP port: rows with the same port were on one connection.
    pub conn_port: u16,
    pub method: String,
    /// The request target as sent (origin form, with the query).
    pub uri: String,
    pub status: u16,
    /// Request body bytes (nginx: the Content-Length header; hypercorn: counted).
    pub req_body_len: u64,
    /// `HTTP/1.1` or `HTTP/2.0` as the server saw the request.
    pub http_version: String,
    /// `h2`, `h2c` or `-`.
    pub h2: String,
    /// `TLSv1.2`, `TLSv1.3` or `-` (plaintext).
    pub tls_protocol: String,
    /// OpenSSL's name of the suite, or `-`.
    pub tls_cipher: String,
    /// `r` when nginx resumed the session, `.` when not, `-` when unknown.
    pub session_reused: String,
    /// `1` for the request sent as TLS 1.3 early data.
    pub early_data: String,
    /// The response body after undoing Content-Encoding, as the client saved it.
    pub content_len: u64,
    pub content_sha256: String,
    /// `nginx` or `hypercorn`.
    pub source: String,
}

impl ExpectedRow {
    pub fn is_tls(&self) -> bool {
        self.tls_protocol != "-"
    }
}

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    crate::common::repo().join("fixtures")
}

/// Parses an expected.tsv text; `what` names it in errors.
pub fn parse_expected(text: &str, what: &str) -> Result<Vec<ExpectedRow>, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    if header != EXPECTED_COLUMNS {
        return Err(format!("{what}: header {header:?}"));
    }
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let at = format!("{what}:{}", n + 2);
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() != EXPECTED_COLUMNS.len() {
            return Err(format!("{at}: {} fields", f.len()));
        }
        let num = |i: usize| -> Result<u64, String> {
            f[i].parse::<u64>()
                .map_err(|e| format!("{at}: {} {:?}: {e}", EXPECTED_COLUMNS[i], f[i]))
        };
        let sha = f[15].to_string();
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{at}: content_sha256 {sha:?}"));
        }
        rows.push(ExpectedRow {
            conn_port: u16::try_from(num(0)?).map_err(|e| format!("{at}: port: {e}"))?,
            method: f[1].to_string(),
            uri: f[2].to_string(),
            status: u16::try_from(num(3)?).map_err(|e| format!("{at}: status: {e}"))?,
            req_body_len: num(4)?,
            http_version: f[5].to_string(),
            h2: f[6].to_string(),
            tls_protocol: f[7].to_string(),
            tls_cipher: f[8].to_string(),
            session_reused: f[9].to_string(),
            early_data: f[10].to_string(),
            content_len: num(14)?,
            content_sha256: sha,
            source: f[16].to_string(),
        });
    }
    Ok(rows)
}

/// Reads `path` (an expected.tsv); panics naming the file when it is malformed.
pub fn read_expected(path: &Path) -> Vec<ExpectedRow> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    parse_expected(&text, &path.display().to_string()).unwrap_or_else(|e| panic!("{e}"))
}

/// Standard base64 (RFC 4648 section 4, with padding) decoding, for `content.text` with
/// `content.encoding: "base64"`. None on anything else.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.as_bytes();
    if bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for (i, quad) in bytes.chunks(4).enumerate() {
        let last = i + 1 == bytes.len() / 4;
        let pad = quad.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &quad[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let three = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&three[..3 - pad]);
    }
    Some(out)
}

/// The decoded response body of a HAR entry: `content.text`, base64-decoded when
/// `content.encoding` says so; empty when there is no text. None when the text is base64
/// that does not decode.
pub fn decoded_body(entry: &Value) -> Option<Vec<u8>> {
    let content = &entry["response"]["content"];
    let text = content["text"].as_str().unwrap_or("");
    if content["encoding"].as_str() == Some("base64") {
        base64_decode(text)
    } else {
        Some(text.as_bytes().to_vec())
    }
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What a comparison checks beyond method, target, status, sizes and body hash.
#[derive(Clone, Copy, Debug)]
pub struct Checks {
    /// The HAR `response.httpVersion` must be the logged version (case aside: Chrome writes
    /// `http/2.0`). Off for an h2c Upgrade, whose upgraded request was HTTP/1.1 and whose
    /// response came on stream 1.
    pub http_version: bool,
}

impl Default for Checks {
    fn default() -> Checks {
        Checks { http_version: true }
    }
}

/// The differences between one row and the HAR entry paired with it.
fn row_mismatches(row: &ExpectedRow, s: &Seen, checks: Checks) -> Vec<String> {
    let mut bad = Vec::new();
    let mut eq = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!("{what}: got {got}, want {want}"));
        }
    };
    eq("status", s.status.to_string(), row.status.to_string());
    eq(
        "request bodySize",
        s.req_body.to_string(),
        row.req_body_len.to_string(),
    );
    eq(
        "content.size",
        s.resp_content.to_string(),
        row.content_len.to_string(),
    );
    let port = s.client.rsplit(':').next().unwrap_or("").to_string();
    eq("client port", port, row.conn_port.to_string());
    let scheme = s.url.split("://").next().unwrap_or("").to_string();
    let want_scheme = if row.is_tls() { "https" } else { "http" };
    eq("URL scheme", scheme, want_scheme.to_string());
    match decoded_body(&s.raw) {
        Some(body) => {
            eq(
                "body length",
                body.len().to_string(),
                row.content_len.to_string(),
            );
            eq("body sha256", sha256_hex(&body), row.content_sha256.clone());
        }
        None => eq("content.text", "invalid base64".into(), "a body".into()),
    }
    if checks.http_version {
        let v = s.raw["response"]["httpVersion"].as_str().unwrap_or("");
        eq(
            "response httpVersion",
            v.to_ascii_uppercase(),
            row.http_version.clone(),
        );
    }
    eq("anomalies", format!("{:?}", s.anomalies), "[]".into());
    bad
}

/// Compares the ground truth with httshark's HAR entries (see the module doc). Err lists
/// every difference, one per line.
pub fn compare(rows: &[ExpectedRow], seen: &[Seen], checks: Checks) -> Result<(), String> {
    let mut problems = Vec::new();
    let mut by_key: HashMap<(&str, &str), Vec<&Seen>> = HashMap::new();
    for s in seen {
        by_key
            .entry((s.method.as_str(), s.target.as_str()))
            .or_default()
            .push(s);
    }
    for row in rows {
        let key = (row.method.as_str(), row.uri.as_str());
        match by_key
            .get_mut(&key)
            .and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
        {
            None => problems.push(format!("{} {}: no HAR entry", row.method, row.uri)),
            Some(s) => {
                for p in row_mismatches(row, s, checks) {
                    problems.push(format!("{} {}: {p}", row.method, row.uri));
                }
            }
        }
    }
    let mut extra: Vec<String> = by_key
        .values()
        .flatten()
        .map(|s| format!("unexpected HAR entry {} {}", s.method, s.url))
        .collect();
    extra.sort();
    problems.extend(extra);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// The request targets a damaged copy's damage touches (`NAME.affected`, one per line).
pub fn read_affected(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// [`compare`] for a damaged capture: a row whose target is in `affected` may have no
/// entry, and an entry it has must be flagged (carry an anomaly); every other row must be
/// exact, and no other entry may exist.
pub fn compare_degraded(
    rows: &[ExpectedRow],
    affected: &[String],
    seen: &[Seen],
    checks: Checks,
) -> Result<(), String> {
    let mut problems = Vec::new();
    let hit: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| affected.contains(&r.uri))
        .map(|r| (r.method.as_str(), r.uri.as_str()))
        .collect();
    let mut rest = Vec::new();
    for s in seen {
        if hit.contains(&(s.method.as_str(), s.target.as_str())) {
            if s.anomalies.is_empty() {
                problems.push(format!(
                    "{} {}: damaged but not flagged",
                    s.method, s.target
                ));
            }
        } else {
            rest.push(s.clone());
        }
    }
    let intact: Vec<ExpectedRow> = rows
        .iter()
        .filter(|r| !affected.contains(&r.uri))
        .cloned()
        .collect();
    if let Err(e) = compare(&intact, &rest, checks) {
        problems.push(e);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Frames in a classic pcap file (either byte order), without a pcap library.
pub fn pcap_frame_count(data: &[u8]) -> Option<usize> {
    let magic = data.get(..4)?;
    let big = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => false,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => true,
        _ => return None,
    };
    let mut pos = 24usize;
    let mut n = 0;
    while pos < data.len() {
        let b: [u8; 4] = data.get(pos + 8..pos + 12)?.try_into().ok()?;
        let len = if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        };
        pos = pos.checked_add(16)?.checked_add(len as usize)?;
        n += 1;
    }
    (pos == data.len()).then_some(n)
}

/// What tshark (with the key log, or told the port is HTTP/2) found in a capture: request
/// (method, target) pairs and final statuses, HTTP/1 and HTTP/2 alike; 1xx left out.
#[derive(Debug, Default, PartialEq)]
pub struct TsharkView {
    pub requests: BTreeMap<(String, String), usize>,
    pub statuses: BTreeMap<u16, usize>,
}

/// Reads a `NAME.tshark.tsv` text (fields as named in its header; several values in one
/// field, from several HTTP/2 frames in one packet, joined by `|`).
pub fn parse_tshark(text: &str) -> Result<TsharkView, String> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no {name} column"))
    };
    let (m1, u1, c1) = (
        col("http.request.method")?,
        col("http.request.uri")?,
        col("http.response.code")?,
    );
    let (m2, p2, c2) = (
        col("http2.headers.method")?,
        col("http2.headers.path")?,
        col("http2.headers.status")?,
    );
    let mut view = TsharkView::default();
    let split = |s: &str| -> Vec<String> {
        s.split('|')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    for line in lines {
        let f: Vec<&str> = line.split('\t').collect();
        let get = |i: usize| f.get(i).copied().unwrap_or("");
        for (m, u) in [(m1, u1), (m2, p2)] {
            let (methods, uris) = (split(get(m)), split(get(u)));
            if methods.len() != uris.len() {
                return Err(format!("methods {methods:?} vs targets {uris:?}: {line}"));
            }
            for pair in methods.into_iter().zip(uris) {
                *view.requests.entry(pair).or_default() += 1;
            }
        }
        for c in [c1, c2] {
            for code in split(get(c)) {
                let code: u16 = code.parse().map_err(|e| format!("status {code:?}: {e}"))?;
                if code >= 200 {
                    *view.statuses.entry(code).or_default() += 1;
                }
            }
        }
    }
    Ok(view)
}

/// The view the ground truth implies: what tshark must find.
pub fn expected_view(rows: &[ExpectedRow]) -> TsharkView {
    let mut view = TsharkView::default();
    for r in rows {
        *view
            .requests
            .entry((r.method.clone(), r.uri.clone()))
            .or_default() += 1;
        *view.statuses.entry(r.status).or_default() += 1;
    }
    view
}

/// One scenario's files: `DIR/NAME.{pcap,keys,expected.tsv,tshark.tsv}`.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub pcap: PathBuf,
    /// None for plaintext (h2c) scenarios and for a pcapng carrying its own secrets.
    pub keys: Option<PathBuf>,
    pub expected: PathBuf,
    /// None for a variant that shares its capture with another scenario.
    pub tshark: Option<PathBuf>,
}

/// The scenario `sub/NAME` (e.g. `tls/tls13-aes-128-gcm-h2`), with the files that exist.
pub fn scenario(path: &str) -> Scenario {
    let base = fixtures_dir().join(path);
    let with = |ext: &str| PathBuf::from(format!("{}{ext}", base.display()));
    let existing = |p: PathBuf| p.is_file().then_some(p);
    Scenario {
        name: path.to_string(),
        pcap: with(".pcap"),
        keys: existing(with(".keys")),
        expected: with(".expected.tsv"),
        tshark: existing(with(".tshark.tsv")),
    }
}

/// Every scenario with an expected.tsv under fixtures/tls and fixtures/h2, sorted.
pub fn all_expected_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for sub in ["tls", "h2"] {
        let dir = fixtures_dir().join(sub);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.to_string_lossy().ends_with(".expected.tsv") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
