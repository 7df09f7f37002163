//! A transaction's HAR entry written straight as compact JSON, without building the
//! `har` crate structs first.
//!
//! Why: the `file`, `ndjson` and `sampled` processors only need the entry's bytes. Building
//! `Entry` cloned every header, cookie and body text into Strings that were thrown away
//! right after serde wrote them; body text was copied, then escaped byte by byte. Here the
//! body is checked for UTF-8 once and escaped straight from the transaction's buffer,
//! clean runs copied in bulk (`escape` scans eight bytes at a time).
//!
//! Invariant: `write_entry(tx)` is byte for byte `serde_json::to_vec(&entry(tx))` (same
//! fields, order, omissions, escapes and number formats). `entry` stays the reference:
//! the tests in `har/tests.rs` compare both on many transactions, and the golden tests
//! compare whole output folders.

use super::{
    anomaly_name, content_bytes, cookie, essence, format_ts, u2i, unanswered_name, url, Side,
};
use crate::model::{header, Anomaly, Decoded, Header, Transaction};

/// Appends the entry of `tx` to `out` as one compact JSON object.
pub fn write_entry(tx: &Transaction, out: &mut Vec<u8>) {
    let req = &tx.request;
    let mut anomalies: Vec<&'static str> = Vec::new();
    for a in &tx.anomalies {
        let name = anomaly_name(a);
        if !anomalies.contains(&name) {
            anomalies.push(name);
        }
    }

    out.extend_from_slice(b"{\"startedDateTime\":");
    string(out, &format_ts(req.first_ts));

    // Timings first: `time` comes before the request.
    let send = req.last_ts.millis_since(req.first_ts);
    let connect = match (tx.depth, tx.conn.syn_ts, tx.conn.established_ts) {
        (1, Some(syn), Some(est)) => Some(est.millis_since(syn)),
        _ => None,
    };
    let (wait, receive) = match &tx.response {
        Some(r) => (
            r.first_ts.millis_since(req.last_ts),
            r.last_ts.millis_since(r.first_ts),
        ),
        None => (0.0, 0.0),
    };
    let time = connect.unwrap_or(0.0) + send + wait + receive;
    out.extend_from_slice(b",\"time\":");
    float(out, time);

    // Request.
    let host = tx.host();
    let (url_text, form) = url::request_url(&req.method, &req.target, &host);
    out.extend_from_slice(b",\"request\":{\"method\":");
    string(out, &req.method);
    out.extend_from_slice(b",\"url\":");
    string(out, &url_text);
    out.extend_from_slice(b",\"httpVersion\":");
    string(out, req.version.as_str());
    out.extend_from_slice(b",\"cookies\":[");
    let mut first = true;
    for h in req
        .headers
        .iter()
        .filter(|x| x.name.eq_ignore_ascii_case("cookie"))
    {
        for (name, value) in cookie::parse_cookie_header(&h.value) {
            comma(out, &mut first);
            out.extend_from_slice(b"{\"name\":");
            string(out, &name);
            out.extend_from_slice(b",\"value\":");
            string(out, &value);
            out.push(b'}');
        }
    }
    out.extend_from_slice(b"],\"headers\":");
    headers(out, &req.headers);
    out.extend_from_slice(b",\"queryString\":");
    pairs(
        out,
        &url::query_of(&req.target)
            .map(url::parse_form)
            .unwrap_or_default(),
    );
    let mut req_truncated = false;
    let mut post_data_encoding = None;
    if req.body.len > 0 {
        out.extend_from_slice(b",\"postData\":{\"mimeType\":");
        let mime = header(&req.headers, "content-type").unwrap_or("");
        string(out, mime);
        if let Some((bytes, truncated)) = content_bytes(&req.body) {
            req_truncated = truncated;
            out.extend_from_slice(b",\"text\":");
            match text(out, bytes, truncated) {
                Text::Utf8(bytes) => {
                    // As `entry`: params only from a whole form body (which is UTF-8).
                    if !truncated && essence(mime) == "application/x-www-form-urlencoded" {
                        out.extend_from_slice(b",\"params\":");
                        pairs(
                            out,
                            &url::parse_form(std::str::from_utf8(bytes).unwrap_or("")),
                        );
                    }
                }
                Text::Base64 => post_data_encoding = Some("base64"),
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b",\"headersSize\":");
    int(out, u2i(req.head_len));
    out.extend_from_slice(b",\"bodySize\":");
    int(out, u2i(req.body.len));
    out.push(b'}');

    // Response.
    let mut resp_truncated = false;
    out.extend_from_slice(b",\"response\":");
    match &tx.response {
        Some(r) => {
            out.extend_from_slice(b"{\"status\":");
            int(out, i64::from(r.status));
            out.extend_from_slice(b",\"statusText\":");
            string(out, &r.reason);
            out.extend_from_slice(b",\"httpVersion\":");
            string(out, r.version.as_str());
            out.extend_from_slice(b",\"cookies\":[");
            let mut first = true;
            for h in r
                .headers
                .iter()
                .filter(|x| x.name.eq_ignore_ascii_case("set-cookie"))
            {
                let c = cookie::parse_set_cookie(&h.value, r.first_ts);
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
            headers(out, &r.headers);
            let size = r.body.content_len();
            out.extend_from_slice(b",\"content\":{\"size\":");
            int(out, u2i(size));
            if matches!(r.body.decoded, Decoded::Decoded { .. }) {
                out.extend_from_slice(b",\"compression\":");
                int(out, u2i(size).saturating_sub(u2i(r.body.len)));
            }
            out.extend_from_slice(b",\"mimeType\":");
            string(out, header(&r.headers, "content-type").unwrap_or(""));
            if let Some((bytes, truncated)) = content_bytes(&r.body).filter(|(b, _)| !b.is_empty())
            {
                resp_truncated = truncated;
                out.extend_from_slice(b",\"text\":");
                if let Text::Base64 = text(out, bytes, truncated) {
                    out.extend_from_slice(b",\"encoding\":\"base64\"");
                }
            }
            out.extend_from_slice(b"},\"redirectURL\":");
            string(out, header(&r.headers, "location").unwrap_or(""));
            out.extend_from_slice(b",\"headersSize\":");
            int(out, u2i(r.head_len));
            out.extend_from_slice(b",\"bodySize\":");
            int(out, u2i(r.body.len));
            out.push(b'}');
        }
        None => out.extend_from_slice(
            b"{\"status\":0,\"statusText\":\"\",\"httpVersion\":\"\",\"cookies\":[],\
              \"headers\":[],\"content\":{\"size\":0,\"mimeType\":\"\"},\"redirectURL\":\"\",\
              \"headersSize\":-1,\"bodySize\":-1}",
        ),
    }

    out.extend_from_slice(b",\"cache\":{},\"timings\":{\"blocked\":-1.0,\"dns\":-1.0,\"connect\":");
    float(out, connect.unwrap_or(-1.0));
    out.extend_from_slice(b",\"send\":");
    float(out, send);
    out.extend_from_slice(b",\"wait\":");
    float(out, wait);
    out.extend_from_slice(b",\"receive\":");
    float(out, receive);
    out.extend_from_slice(b",\"ssl\":-1.0},\"serverIPAddress\":");
    string(out, &tx.conn.server.ip().to_string());
    out.extend_from_slice(b",\"connection\":");
    string(out, &tx.conn.id.to_string());

    // Custom fields, in `Custom`'s order.
    if !anomalies.is_empty() {
        out.extend_from_slice(b",\"_anomalies\":[");
        let mut first = true;
        for a in &anomalies {
            comma(out, &mut first);
            string(out, a);
        }
        out.push(b']');
    }
    if req.body.missing != 0 {
        out.extend_from_slice(b",\"_requestMissingBytes\":");
        uint(out, req.body.missing);
    }
    if let Some(r) = &tx.response {
        if r.body.missing != 0 {
            out.extend_from_slice(b",\"_responseMissingBytes\":");
            uint(out, r.body.missing);
        }
    }
    let req_interrupted = !req.complete || tx.anomalies.contains(&Anomaly::RequestInterrupted);
    let resp_interrupted = tx.response.as_ref().is_some_and(|r| !r.complete)
        || tx.anomalies.contains(&Anomaly::ResponseInterrupted);
    if let Some(side) = Side::of(req_interrupted, resp_interrupted) {
        out.extend_from_slice(b",\"_interrupted\":");
        string(out, side.name());
    }
    if tx.response.is_none() {
        let reason = tx.anomalies.iter().find_map(|a| match a {
            Anomaly::Unanswered(u) => Some(unanswered_name(*u)),
            _ => None,
        });
        out.extend_from_slice(b",\"_unanswered\":");
        string(out, reason.unwrap_or("unknown"));
    }
    if let Some(side) = Side::of(req_truncated, resp_truncated) {
        out.extend_from_slice(b",\"_bodyTruncated\":");
        string(out, side.name());
    }
    if let Some(Decoded::Failed { reason }) = tx.response.as_ref().map(|r| &r.body.decoded) {
        out.extend_from_slice(b",\"_decodeError\":");
        string(out, reason);
    }
    if req.body.len > 0 {
        if let Decoded::Failed { reason } = &req.body.decoded {
            out.extend_from_slice(b",\"_requestDecodeError\":");
            string(out, reason);
        }
    }
    if req.body.dropped && req.body.len > 0 {
        out.extend_from_slice(b",\"_requestBodyDropped\":true");
    }
    if tx
        .response
        .as_ref()
        .is_some_and(|r| r.body.dropped && r.body.len > 0)
    {
        out.extend_from_slice(b",\"_responseBodyDropped\":true");
    }
    if let Some(enc) = post_data_encoding {
        out.extend_from_slice(b",\"_postDataEncoding\":");
        string(out, enc);
    }
    if form != url::TargetForm::Origin {
        out.extend_from_slice(b",\"_requestTarget\":");
        string(out, &req.target);
    }
    if let Some(r) = tx.response.as_ref().filter(|r| !r.interim.is_empty()) {
        out.extend_from_slice(b",\"_interimResponses\":[");
        let mut first = true;
        for i in &r.interim {
            comma(out, &mut first);
            out.extend_from_slice(b"{\"status\":");
            uint(out, u64::from(i.status));
            out.extend_from_slice(b",\"statusText\":");
            string(out, &i.reason);
            out.extend_from_slice(b",\"httpVersion\":");
            string(out, i.version.as_str());
            out.extend_from_slice(b",\"headers\":");
            headers(out, &i.headers);
            out.extend_from_slice(b",\"headersSize\":");
            uint(out, i.head_len);
            out.extend_from_slice(b",\"time\":");
            float(out, i.ts.millis_since(req.first_ts));
            out.push(b'}');
        }
        out.push(b']');
    }
    if !req.body.trailers.is_empty() {
        out.extend_from_slice(b",\"_requestTrailers\":");
        headers(out, &req.body.trailers);
    }
    if let Some(r) = tx.response.as_ref().filter(|r| !r.body.trailers.is_empty()) {
        out.extend_from_slice(b",\"_responseTrailers\":");
        headers(out, &r.body.trailers);
    }
    out.extend_from_slice(b",\"_clientIPAddress\":");
    string(out, &tx.conn.client.ip().to_string());
    out.extend_from_slice(b",\"_clientPort\":");
    uint(out, u64::from(tx.conn.client.port()));
    out.extend_from_slice(b",\"_serverPort\":");
    uint(out, u64::from(tx.conn.server.port()));
    if tx.conn.midstream {
        out.extend_from_slice(b",\"_midstream\":true");
    }
    out.extend_from_slice(b",\"_wireBytes\":");
    uint(out, tx.wire_bytes());
    out.extend_from_slice(b",\"_depth\":");
    uint(out, u64::from(tx.depth));
    out.push(b'}');
}

/// What `text` wrote.
enum Text<'a> {
    /// The bytes as a JSON string (UTF-8, a cut sequence dropped from the end): these.
    Utf8(&'a [u8]),
    /// Their base64, as a JSON string.
    Base64,
}

/// Writes body bytes as a JSON string, as `super::text_of` decides: as is when UTF-8 (a
/// sequence cut by the keep limit dropped from the end), else base64.
///
/// ASCII text (most text bodies) is escaped in one pass, without a separate UTF-8 check:
/// the escape stops at the first byte that is not ASCII, and only then is the body
/// checked (and written again, escaped or as base64).
fn text<'a>(out: &mut Vec<u8>, bytes: &'a [u8], truncated: bool) -> Text<'a> {
    let mark = out.len();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if escape::<true>(bytes, out) {
        out.push(b'"');
        return Text::Utf8(bytes);
    }
    out.truncate(mark);
    match std::str::from_utf8(bytes) {
        Ok(_) => {
            out.push(b'"');
            escape::<false>(bytes, out);
            out.push(b'"');
            Text::Utf8(bytes)
        }
        // error_len None: the input ends inside a sequence, which is what a cut does.
        Err(e) if truncated && e.error_len().is_none() => {
            // The prefix is valid UTF-8 (that is what valid_up_to says).
            let prefix = bytes.get(..e.valid_up_to()).unwrap_or(&[]);
            out.push(b'"');
            escape::<false>(prefix, out);
            out.push(b'"');
            Text::Utf8(prefix)
        }
        Err(_) => {
            out.push(b'"');
            base64_into(bytes, out);
            out.push(b'"');
            Text::Base64
        }
    }
}

fn comma(out: &mut Vec<u8>, first: &mut bool) {
    if !*first {
        out.push(b',');
    }
    *first = false;
}

/// `[{"name":..,"value":..},..]` of header fields.
fn headers(out: &mut Vec<u8>, hs: &[Header]) {
    out.push(b'[');
    let mut first = true;
    for h in hs {
        comma(out, &mut first);
        out.extend_from_slice(b"{\"name\":");
        string(out, &h.name);
        out.extend_from_slice(b",\"value\":");
        string(out, &h.value);
        out.push(b'}');
    }
    out.push(b']');
}

/// `[{"name":..,"value":..},..]` of decoded name/value pairs (query strings, form params).
fn pairs(out: &mut Vec<u8>, ps: &[(String, String)]) {
    out.push(b'[');
    let mut first = true;
    for (name, value) in ps {
        comma(out, &mut first);
        out.extend_from_slice(b"{\"name\":");
        string(out, name);
        out.extend_from_slice(b",\"value\":");
        string(out, value);
        out.push(b'}');
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
    escape::<false>(s.as_bytes(), out);
    out.push(b'"');
}

/// Marks (high bit of the byte) the bytes of `w` (little endian) that are below 0x20, `"`
/// or `\\`. The lowest mark is exact; marks above a marked byte may be false (a borrow):
/// callers only trust the lowest (the classic "has zero byte" / "has byte less than"
/// tests).
#[inline]
fn escape_mask(w: u64) -> u64 {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
    below_space | has_zero(w ^ (LO * u64::from(b'"'))) | has_zero(w ^ (LO * u64::from(b'\\')))
}

/// Writes the escape of `b` (a byte that needs one), or `b` itself.
#[inline(always)]
fn push_escape(b: u8, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\x08' => b"\\b",
        b'\t' => b"\\t",
        b'\n' => b"\\n",
        b'\x0c' => b"\\f",
        b'\r' => b"\\r",
        0..=0x1f => {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
            return;
        }
        _ => {
            out.push(b);
            return;
        }
    };
    out.extend_from_slice(short);
}

/// Escapes `bytes` (UTF-8 text) into `out`: eight bytes are tested at a time, the run
/// before the first byte to escape is copied whole. With `ASCII_ONLY`, stops at the first
/// byte that is not ASCII and returns false (what was written is then to be discarded).
#[inline(always)]
fn escape<const ASCII_ONLY: bool>(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut start = 0; // first byte not yet copied
    let mut i = 0;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        if ASCII_ONLY && w & HI != 0 {
            return false;
        }
        let mask = escape_mask(w);
        if mask == 0 {
            i += 8;
            continue;
        }
        // The lowest mark is a byte to escape.
        let at = i + (mask.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&bytes[start..at]);
        push_escape(bytes[at], out);
        start = at + 1;
        i = at + 1;
    }
    while let Some(&b) = bytes.get(i) {
        if ASCII_ONLY && b >= 0x80 {
            return false;
        }
        if b < 0x20 || b == b'"' || b == b'\\' {
            out.extend_from_slice(&bytes[start..i]);
            push_escape(b, out);
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(&bytes[start..]);
    true
}

/// Standard base64 with padding (RFC 4648 §4), appended to `out`.
pub fn base64_into(data: &[u8], out: &mut Vec<u8>) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let whole = data.len() / 3;
    let start = out.len();
    // Sized once, then filled four output bytes per three input bytes.
    out.resize(start + whole * 4, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    for (o, c) in dst.chunks_exact_mut(4).zip(data.chunks_exact(3)) {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        o[0] = ALPHABET[(n >> 18) as usize & 63];
        o[1] = ALPHABET[(n >> 12) as usize & 63];
        o[2] = ALPHABET[(n >> 6) as usize & 63];
        o[3] = ALPHABET[n as usize & 63];
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
