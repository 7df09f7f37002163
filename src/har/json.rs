//! A HAR entry ([`EntryView`]) written as compact JSON: the bytes every processor writes.
//!
//! Pure encoding: every decision (which fields appear, their values, text or base64) is
//! the view's. Written by hand rather than through serde because this is the hottest
//! output path (the HAR JSON of every transaction): nothing is copied into intermediate
//! Strings, body text is escaped straight from the transaction's buffer, clean runs
//! copied in bulk (`super::escape` scans sixteen bytes at a time).
//!
//! What it does not do: decide ([`super::view`]) or write files (processors).
//!
//! Invariant: `write_entry(&EntryView::new(tx))` is byte for byte
//! `serde_json::to_vec(&reference::entry(tx))` (same fields, order, omissions, escapes and
//! number formats). The serde model in `super::reference` is the oracle: the tests in
//! `har/tests.rs` compare both on many generated transactions, and the golden tests
//! compare whole output folders.

use std::io::Write;
use std::net::IpAddr;

use super::escape;
use super::view::{
    ContentView, CustomView, EntryView, InterimView, PostDataView, RequestView, ResponseView, Text,
    Timings,
};
use crate::model::Header;

/// Appends the entry to `out` as one compact JSON object; returns the offset in `out`
/// where its `_process` begins, or would begin without one (`super::splice_process`).
pub fn write_entry(e: &EntryView<'_>, out: &mut Vec<u8>) -> usize {
    out.extend_from_slice(b"{\"startedDateTime\":");
    string(out, &e.started_date_time);
    out.extend_from_slice(b",\"time\":");
    float(out, e.timings.time());
    out.extend_from_slice(b",\"request\":");
    write_request(out, &e.request);
    out.extend_from_slice(b",\"response\":");
    match &e.response {
        Some(r) => write_response(out, r),
        // How browsers export a request that got no response.
        None => out.extend_from_slice(
            b"{\"status\":0,\"statusText\":\"\",\"httpVersion\":\"\",\"cookies\":[],\
              \"headers\":[],\"content\":{\"size\":0,\"mimeType\":\"\"},\"redirectURL\":\"\",\
              \"headersSize\":-1,\"bodySize\":-1}",
        ),
    }
    out.extend_from_slice(b",\"cache\":{},\"timings\":");
    write_timings(out, &e.timings);
    // Addresses and numbers need no escaping.
    out.extend_from_slice(b",\"serverIPAddress\":\"");
    ip(out, &e.server_ip_address);
    out.extend_from_slice(b"\",\"connection\":\"");
    uint(out, e.connection);
    out.push(b'"');
    let process_at = write_custom(out, &e.custom);
    out.push(b'}');
    process_at
}

fn write_request(out: &mut Vec<u8>, r: &RequestView<'_>) {
    out.extend_from_slice(b"{\"method\":");
    string(out, r.method);
    out.extend_from_slice(b",\"url\":");
    string(out, &r.url);
    out.extend_from_slice(b",\"httpVersion\":");
    string(out, r.http_version);
    out.extend_from_slice(b",\"cookies\":[");
    let mut first = true;
    for (name, value) in r.cookies() {
        comma(out, &mut first);
        pair(out, &name, &value);
    }
    out.extend_from_slice(b"],\"headers\":");
    headers(out, r.headers);
    out.extend_from_slice(b",\"queryString\":");
    pairs(out, &r.query_string());
    if let Some(pd) = &r.post_data {
        out.extend_from_slice(b",\"postData\":");
        write_post_data(out, pd);
    }
    out.extend_from_slice(b",\"headersSize\":");
    int(out, r.headers_size);
    out.extend_from_slice(b",\"bodySize\":");
    int(out, r.body_size);
    out.push(b'}');
}

fn write_post_data(out: &mut Vec<u8>, pd: &PostDataView<'_>) {
    out.extend_from_slice(b"{\"mimeType\":");
    string(out, pd.mime_type);
    if let Some(t) = &pd.text {
        out.extend_from_slice(b",\"text\":");
        text(out, t);
    }
    if let Some(params) = pd.params() {
        out.extend_from_slice(b",\"params\":");
        pairs(out, &params);
    }
    out.push(b'}');
}

fn write_response(out: &mut Vec<u8>, r: &ResponseView<'_>) {
    out.extend_from_slice(b"{\"status\":");
    uint(out, u64::from(r.status));
    out.extend_from_slice(b",\"statusText\":");
    string(out, r.status_text);
    out.extend_from_slice(b",\"httpVersion\":");
    string(out, r.http_version);
    out.extend_from_slice(b",\"cookies\":[");
    let mut first = true;
    for c in r.cookies() {
        comma(out, &mut first);
        out.extend_from_slice(b"{\"name\":");
        string(out, &c.name);
        out.extend_from_slice(b",\"value\":");
        string(out, &c.value);
        for (key, v) in [
            (&b",\"path\":"[..], &c.path),
            (b",\"domain\":", &c.domain),
            (b",\"expires\":", &c.expires),
        ] {
            if let Some(v) = v {
                out.extend_from_slice(key);
                string(out, v);
            }
        }
        out.extend_from_slice(b",\"httpOnly\":");
        boolean(out, c.http_only);
        out.extend_from_slice(b",\"secure\":");
        boolean(out, c.secure);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"headers\":");
    headers(out, r.headers);
    out.extend_from_slice(b",\"content\":");
    write_content(out, &r.content);
    out.extend_from_slice(b",\"redirectURL\":");
    string(out, r.redirect_url);
    out.extend_from_slice(b",\"headersSize\":");
    int(out, r.headers_size);
    out.extend_from_slice(b",\"bodySize\":");
    int(out, r.body_size);
    out.push(b'}');
}

fn write_content(out: &mut Vec<u8>, c: &ContentView<'_>) {
    out.extend_from_slice(b"{\"size\":");
    int(out, c.size);
    if let Some(saved) = c.compression {
        out.extend_from_slice(b",\"compression\":");
        int(out, saved);
    }
    out.extend_from_slice(b",\"mimeType\":");
    string(out, c.mime_type);
    if let Some(t) = &c.text {
        out.extend_from_slice(b",\"text\":");
        if let Some(enc) = text(out, t).encoding() {
            out.extend_from_slice(b",\"encoding\":");
            string(out, enc);
        }
    }
    out.push(b'}');
}

fn write_timings(out: &mut Vec<u8>, t: &Timings) {
    out.extend_from_slice(b"{\"blocked\":-1.0,\"dns\":-1.0,\"connect\":");
    float(out, t.connect_or_na());
    out.extend_from_slice(b",\"send\":");
    float(out, t.send_ms());
    out.extend_from_slice(b",\"wait\":");
    float(out, t.wait_ms());
    out.extend_from_slice(b",\"receive\":");
    float(out, t.receive_ms());
    out.extend_from_slice(b",\"ssl\":");
    float(out, t.ssl_or_na());
    out.push(b'}');
}

/// The custom fields, each left out when the view says so.
/// The custom fields; returns where `_process` begins (or would begin).
fn write_custom(out: &mut Vec<u8>, c: &CustomView<'_>) -> usize {
    array(out, b",\"_anomalies\":", &c.anomalies, |out, a| {
        string(out, a)
    });
    for (key, n) in [
        (&b",\"_requestMissingBytes\":"[..], c.request_missing_bytes),
        (b",\"_responseMissingBytes\":", c.response_missing_bytes),
    ] {
        if n != 0 {
            out.extend_from_slice(key);
            uint(out, n);
        }
    }
    let strings = [
        (&b",\"_interrupted\":"[..], c.interrupted.map(|s| s.name())),
        (b",\"_unanswered\":", c.unanswered),
        (b",\"_bodyTruncated\":", c.body_truncated.map(|s| s.name())),
        (b",\"_decodeError\":", c.decode_error),
        (b",\"_requestDecodeError\":", c.request_decode_error),
    ];
    optional_strings(out, &strings);
    flag(
        out,
        b",\"_requestBodyDropped\":true",
        c.request_body_dropped,
    );
    flag(
        out,
        b",\"_responseBodyDropped\":true",
        c.response_body_dropped,
    );
    let strings = [
        (&b",\"_postDataEncoding\":"[..], c.post_data_encoding),
        (b",\"_requestTarget\":", c.request_target),
    ];
    optional_strings(out, &strings);
    array(
        out,
        b",\"_interimResponses\":",
        &c.interim_responses,
        write_interim,
    );
    for (key, hs) in [
        (&b",\"_requestTrailers\":"[..], c.request_trailers),
        (b",\"_responseTrailers\":", c.response_trailers),
    ] {
        if !hs.is_empty() {
            out.extend_from_slice(key);
            headers(out, hs);
        }
    }
    // Addresses and numbers need no escaping.
    out.extend_from_slice(b",\"_clientIPAddress\":\"");
    ip(out, &c.client_ip_address);
    out.extend_from_slice(b"\",\"_clientPort\":");
    uint(out, u64::from(c.client_port));
    out.extend_from_slice(b",\"_serverPort\":");
    uint(out, u64::from(c.server_port));
    flag(out, b",\"_midstream\":true", c.midstream);
    out.extend_from_slice(b",\"_wireBytes\":");
    uint(out, c.wire_bytes);
    out.extend_from_slice(b",\"_depth\":");
    uint(out, u64::from(c.depth));
    if let Some(t) = &c.tls {
        out.extend_from_slice(b",\"_tls\":{\"version\":");
        string(out, &t.version);
        out.extend_from_slice(b",\"cipherSuite\":");
        string(out, &t.cipher_suite);
        let names = [
            (&b",\"sni\":"[..], t.sni.as_deref()),
            (b",\"alpn\":", t.alpn.as_deref()),
        ];
        optional_strings(out, &names);
        flag(out, b",\"resumed\":true", t.resumed);
        out.push(b'}');
    }
    let process_at = out.len();
    if let Some(owner) = c.process {
        write_process(out, owner);
    }
    if let Some(h) = &c.h2 {
        out.extend_from_slice(b",\"_streamId\":");
        uint(out, u64::from(h.stream_id));
        flag(out, b",\"_pushed\":true", h.pushed);
        flag(out, b",\"_upgraded\":true", h.upgraded);
        let numbers = [
            (&b",\"_h2ErrorCode\":"[..], h.error_code.map(u64::from)),
            (
                b",\"_requestHeadersCompressedSize\":",
                h.request_headers_compressed,
            ),
            (
                b",\"_responseHeadersCompressedSize\":",
                h.response_headers_compressed,
            ),
        ];
        for (key, n) in numbers {
            if let Some(n) = n {
                out.extend_from_slice(key);
                uint(out, n);
            }
        }
    }
    process_at
}

/// `_process` (docs/har.md): the owner, or why there is none.
pub(super) fn write_process(out: &mut Vec<u8>, owner: &crate::model::Owner) {
    use crate::model::{Owner, Side};
    out.extend_from_slice(b",\"_process\":{");
    match owner {
        Owner::Process(p) => {
            out.extend_from_slice(b"\"pid\":");
            uint(out, u64::from(p.pid));
            out.extend_from_slice(b",\"name\":");
            string(out, &p.name);
            if let Some((ppid, _)) = p.ancestors.first() {
                out.extend_from_slice(b",\"ppid\":");
                uint(out, u64::from(*ppid));
            }
            let fields = [
                (&b",\"exe\":"[..], p.exe.as_deref()),
                (b",\"user\":", p.user.as_deref()),
            ];
            optional_strings(out, &fields);
            out.extend_from_slice(b",\"uid\":");
            uint(out, u64::from(p.uid));
            let fields = [
                (&b",\"cgroup\":"[..], p.cgroup.as_deref()),
                (b",\"container\":", p.container.as_deref()),
                (
                    b",\"side\":",
                    p.side.map(|s| match s {
                        Side::Client => "client",
                        Side::Server => "server",
                    }),
                ),
            ];
            optional_strings(out, &fields);
        }
        Owner::Unattributed { why, uid } => {
            out.extend_from_slice(b"\"unattributed\":");
            string(out, why.name());
            if let Some(uid) = uid {
                out.extend_from_slice(b",\"uid\":");
                uint(out, u64::from(*uid));
            }
        }
    }
    out.push(b'}');
}

fn write_interim(out: &mut Vec<u8>, i: &InterimView<'_>) {
    out.extend_from_slice(b"{\"status\":");
    uint(out, u64::from(i.status));
    out.extend_from_slice(b",\"statusText\":");
    string(out, i.status_text);
    out.extend_from_slice(b",\"httpVersion\":");
    string(out, i.http_version);
    out.extend_from_slice(b",\"headers\":");
    headers(out, i.headers);
    out.extend_from_slice(b",\"headersSize\":");
    uint(out, i.headers_size);
    out.extend_from_slice(b",\"time\":");
    float(out, i.time);
    out.push(b'}');
}

/// Each `key` followed by its string, for the ones present.
fn optional_strings(out: &mut Vec<u8>, fields: &[(&[u8], Option<&str>)]) {
    for (key, v) in fields {
        if let Some(v) = v {
            out.extend_from_slice(key);
            string(out, v);
        }
    }
}

/// `field` (a key and `true`) when `on`.
fn flag(out: &mut Vec<u8>, field: &[u8], on: bool) {
    if on {
        out.extend_from_slice(field);
    }
}

/// Body text as a JSON string: escaped UTF-8, or base64 (which needs no escaping).
/// Returns the decision (`Text::Undecided` is decided here, see there).
fn text<'a>(out: &mut Vec<u8>, t: &Text<'a>) -> Text<'a> {
    let t = match *t {
        Text::Undecided { bytes, truncated } => {
            let mark = out.len();
            out.reserve(bytes.len() + 2);
            out.push(b'"');
            let Err(at) = escape::escape_ascii(bytes, out) else {
                out.push(b'"');
                return *t;
            };
            // `bytes[..at]` is ASCII, escaped already: the rest decides, as `Text::of`
            // of the whole would (ASCII is UTF-8, and a cut is at the end).
            let rest = bytes.get(at..).unwrap_or_default();
            if let Text::Utf8(s) = Text::of(rest, truncated) {
                escape::escape_str(s.as_bytes(), out);
                out.push(b'"');
                let whole = bytes.get(..at + s.len()).unwrap_or_default();
                // SAFETY: `whole` is ASCII (`escape_ascii` stopped at `at`, the first
                // byte that is not) followed by `s`, a `str`: valid UTF-8.
                return Text::Utf8(unsafe { std::str::from_utf8_unchecked(whole) });
            }
            out.truncate(mark);
            Text::Base64(bytes)
        }
        decided => decided,
    };
    match t {
        Text::Utf8(s) => string(out, s),
        Text::Base64(bytes) | Text::Undecided { bytes, .. } => {
            out.push(b'"');
            base64_into(bytes, out);
            out.push(b'"');
        }
    }
    t
}

/// `key[item,...]`, left out when there is no item.
fn array<T>(out: &mut Vec<u8>, key: &[u8], items: &[T], write: impl Fn(&mut Vec<u8>, &T)) {
    if items.is_empty() {
        return;
    }
    out.extend_from_slice(key);
    out.push(b'[');
    let mut first = true;
    for item in items {
        comma(out, &mut first);
        write(out, item);
    }
    out.push(b']');
}

fn comma(out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

/// `{"name":..,"value":..}`.
fn pair(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(b"{\"name\":");
    string(out, name);
    out.extend_from_slice(b",\"value\":");
    string(out, value);
    out.push(b'}');
}

/// `[{"name":..,"value":..},..]` of header fields.
fn headers(out: &mut Vec<u8>, hs: &[Header]) {
    out.push(b'[');
    let mut first = true;
    for h in hs {
        comma(out, &mut first);
        pair(out, &h.name, &h.value);
    }
    out.push(b']');
}

/// `[{"name":..,"value":..},..]` of decoded name/value pairs (query strings, form params).
fn pairs(out: &mut Vec<u8>, ps: &[(String, String)]) {
    out.push(b'[');
    let mut first = true;
    for (name, value) in ps {
        comma(out, &mut first);
        pair(out, name, value);
    }
    out.push(b']');
}

fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn int(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    uint(out, v.unsigned_abs());
}

/// An address as `Display` writes it: IPv4 digit by digit (every entry has two), IPv6
/// through the formatter (its zero compression is not worth copying).
fn ip(out: &mut Vec<u8>, ip: &IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            uint(out, u64::from(a));
            for octet in [b, c, d] {
                out.push(b'.');
                uint(out, u64::from(octet));
            }
        }
        IpAddr::V6(_) => {
            let _ = write!(out, "{ip}");
        }
    }
}

fn uint(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// A float as serde_json writes it (shortest round-trip form; `null` when not finite).
fn float(out: &mut Vec<u8>, v: f64) {
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, &v);
}

/// A JSON string literal, escaped exactly as serde_json escapes (`"`, `\`, and control
/// characters: `\b \t \n \f \r` short, the others `\u00xx` in lowercase hex).
pub fn string(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    escape::escape_str(s.as_bytes(), out);
    out.push(b'"');
}

/// The base64 alphabet (RFC 4648 §4).
#[cfg(test)]
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The two base64 characters of every 12-bit value: one lookup per two output bytes
/// instead of one per byte (8 KiB, stays in the L1 cache while a body is encoded).
#[cfg(test)]
static PAIRS: [[u8; 2]; 4096] = {
    let mut t = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        t[i] = [ALPHABET[i >> 6], ALPHABET[i & 63]];
        i += 1;
    }
    t
};

/// Standard base64 with padding (RFC 4648 §4), appended to `out` (`base64-simd`: bodies
/// are most of a HAR file's bytes).
pub fn base64_into(data: &[u8], out: &mut Vec<u8>) {
    base64_simd::STANDARD.encode_append(data, out);
}

/// The scalar encoder `base64_into` replaced, kept as the tests' second opinion: six input
/// bytes read as one word become eight characters.
#[cfg(test)]
pub(crate) fn base64_scalar(data: &[u8], out: &mut Vec<u8>) {
    let whole = data.len() / 3;
    let start = out.len();
    // Sized once, then filled four output bytes per three input bytes.
    out.resize(start + whole * 4, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    let pair = |n: u64| PAIRS[(n & 0xfff) as usize];
    let mut dst6 = dst.chunks_exact_mut(8);
    let mut src6 = data.chunks_exact(6);
    for (o, c) in (&mut dst6).zip(&mut src6) {
        let n = (u64::from(c[0]) << 40)
            | (u64::from(c[1]) << 32)
            | (u64::from(c[2]) << 24)
            | (u64::from(c[3]) << 16)
            | (u64::from(c[4]) << 8)
            | u64::from(c[5]);
        o[0..2].copy_from_slice(&pair(n >> 36));
        o[2..4].copy_from_slice(&pair(n >> 24));
        o[4..6].copy_from_slice(&pair(n >> 12));
        o[6..8].copy_from_slice(&pair(n));
    }
    // At most one group of three left whole, then the padded end.
    for (o, c) in dst6
        .into_remainder()
        .chunks_exact_mut(4)
        .zip(src6.remainder().chunks_exact(3))
    {
        let n = (u64::from(c[0]) << 16) | (u64::from(c[1]) << 8) | u64::from(c[2]);
        o[0..2].copy_from_slice(&pair(n >> 12));
        o[2..4].copy_from_slice(&pair(n));
    }
    let rest = data.get(whole * 3..).unwrap_or_default();
    if let Some(&b0) = rest.first() {
        let b1 = rest.get(1).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8);
        out.push(ALPHABET[(n >> 18) as usize & 63]);
        out.push(ALPHABET[(n >> 12) as usize & 63]);
        out.push(if rest.len() == 2 {
            ALPHABET[(n >> 6) as usize & 63]
        } else {
            b'='
        });
        out.push(b'=');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An undecided body encodes exactly as its decision would: the one-pass ASCII path
    /// and the fall-back agree with `Text::of` on every kind of body.
    #[test]
    fn undecided_text_encodes_as_its_decision() {
        let long_ascii = "a\"b\\c\n\u{1}".repeat(20);
        let cases: &[(&[u8], bool)] = &[
            (b"", false),
            (b"plain ascii, 8+ bytes long", false),
            (long_ascii.as_bytes(), true),
            ("caf\u{e9} \u{1F600}".as_bytes(), false),
            (b"caf\xc3", true),
            (b"caf\xc3", false),
            (b"\xffabcdefgh", true),
            (b"abcdefgh\x80", false),
        ];
        for &(bytes, truncated) in cases {
            let lazy = Text::Undecided { bytes, truncated };
            let mut a = Vec::new();
            let decision = text(&mut a, &lazy);
            let mut b = Vec::new();
            let expected = Text::of(bytes, truncated);
            text(&mut b, &expected);
            assert_eq!(a, b, "{bytes:?} truncated={truncated}");
            assert_eq!(decision.encoding(), expected.encoding());
            let parsed: String = serde_json::from_slice(&a).expect("a JSON string");
            assert!(!parsed.is_empty() || bytes.is_empty());
        }
    }

    /// Addresses are written as `Display` writes them.
    #[test]
    fn addresses_as_display() {
        for s in [
            "0.0.0.0",
            "10.83.0.2",
            "255.255.255.255",
            "1.20.100.9",
            "::1",
            "fe80::1:2",
            "::ffff:10.0.0.1",
        ] {
            let a: IpAddr = s.parse().unwrap();
            let mut out = Vec::new();
            ip(&mut out, &a);
            assert_eq!(out, a.to_string().into_bytes());
        }
    }

    /// Pieces of body text: ASCII runs (escapes among them), characters beyond ASCII,
    /// invalid bytes, and the first bytes of a character (what a cut leaves at the end).
    fn body_pieces() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            8 => "[ -~\n\t\"\\\\]{0,40}".prop_map(String::into_bytes),
            2 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
            1 => prop::collection::vec(0x80u8..=0xff, 1..3),
            1 => Just(vec![0xe2, 0x82]),
        ];
        prop::collection::vec(piece, 0..8).prop_map(|v| v.concat())
    }

    proptest::proptest! {
        /// Every body encodes as std's UTF-8 decision says, through serde_json or base64:
        /// the ASCII pass, the validation of the rest (simdutf8) and the cut rule for
        /// truncated bodies agree with `std::str::from_utf8`.
        #[test]
        fn body_text_encodes_as_std_decides(bytes in body_pieces(), truncated: bool) {
            let mut ours = Vec::new();
            let decision = text(&mut ours, &Text::Undecided { bytes: &bytes, truncated });
            let expected = match std::str::from_utf8(&bytes) {
                Ok(s) => Some(s),
                Err(e) if truncated && e.error_len().is_none() => {
                    Some(std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap())
                }
                Err(_) => None,
            };
            match expected {
                Some(s) => {
                    proptest::prop_assert_eq!(&ours, &serde_json::to_vec(s).unwrap());
                    proptest::prop_assert_eq!(decision.decided(), Text::Utf8(s));
                }
                None => {
                    let mut b64 = b"\"".to_vec();
                    base64_scalar(&bytes, &mut b64);
                    b64.push(b'"');
                    proptest::prop_assert_eq!(&ours, &b64);
                    proptest::prop_assert_eq!(decision.decided(), Text::Base64(&bytes));
                }
            }
        }
    }
}
