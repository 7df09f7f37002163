//! Transaction -> HAR 1.2 entry. The only user of the `har` crate.
//!
//! Entries validate against the HAR 1.2 schema (`har-schema`, checked by
//! `tests/har_validate.rs`) and carry what a passive capture knows: exact wire sizes,
//! packet-time timings, the server address and a connection id. Anomalies go into
//! underscore-prefixed custom fields so a reader knows which entries to trust; a clean
//! entry carries only the always-present ones (`_clientIPAddress`, `_clientPort`,
//! `_serverPort`, `_wireBytes`, `_depth`). docs/har.md documents every field and choice.
//!
//! What it does not do: I/O (processors open files), or guess what it did not see (no
//! DNS, TLS or queueing time: those timings are -1).
//!
//! Invariants: no timing is negative except the "not applicable" -1; `time` is the sum of
//! the non-negative timings; every string is valid JSON text (bodies that are not UTF-8
//! are base64); a missing response is written the way browsers export failed requests
//! (status 0, sizes -1).

pub mod cookie;
pub mod json;
pub mod url;

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat};
use har::v1_2 as h;
use serde::Serialize;

use crate::model::{header, Anomaly, Body, Decoded, Header, Transaction, Unanswered};
use crate::time::Timestamp;

/// A HAR entry plus httshark's custom fields, serialised flat.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub entry: har::v1_2::Entries,
    #[serde(flatten)]
    pub custom: Custom,
}

/// Which message of the exchange a flag is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Request,
    Response,
    Both,
}

impl Side {
    /// The name serde writes.
    fn name(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
            Side::Both => "both",
        }
    }

    fn of(request: bool, response: bool) -> Option<Side> {
        match (request, response) {
            (true, true) => Some(Side::Both),
            (true, false) => Some(Side::Request),
            (false, true) => Some(Side::Response),
            (false, false) => None,
        }
    }
}

/// A 1xx interim response, as `_interimResponses` holds it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InterimEntry {
    pub status: u16,
    #[serde(rename = "statusText")]
    pub status_text: String,
    #[serde(rename = "httpVersion")]
    pub http_version: &'static str,
    pub headers: Vec<h::Headers>,
    #[serde(rename = "headersSize")]
    pub headers_size: u64,
    /// Milliseconds from the request's first byte to this response's first byte.
    pub time: f64,
}

/// httshark's custom entry fields (HAR 1.2 allows fields starting with `_`). Flags and
/// empty lists are left out so clean entries stay clean; docs/har.md lists them all.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Custom {
    /// One stable kebab-case name per anomaly (`anomaly_name`), in order, without repeats.
    #[serde(rename = "_anomalies", skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
    /// Request body bytes lost by the capture (gaps).
    #[serde(rename = "_requestMissingBytes", skip_serializing_if = "is_zero")]
    pub request_missing_bytes: u64,
    #[serde(rename = "_responseMissingBytes", skip_serializing_if = "is_zero")]
    pub response_missing_bytes: u64,
    /// The message(s) cut short before their end.
    #[serde(rename = "_interrupted", skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Side>,
    /// Why there is no response: `timeout`, `connection-closed`, `end-of-capture`, or
    /// `unknown`.
    #[serde(rename = "_unanswered", skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<&'static str>,
    /// The body text given is only a prefix: the body was longer than the keep limit.
    #[serde(rename = "_bodyTruncated", skip_serializing_if = "Option::is_none")]
    pub body_truncated: Option<Side>,
    /// Why the response's Content-Encoding could not be undone (content.text is then left
    /// out).
    #[serde(rename = "_decodeError", skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
    /// The same for the request body.
    #[serde(
        rename = "_requestDecodeError",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_decode_error: Option<String>,
    /// The request body was dropped by the content-type policy (`-drop-content-type`,
    /// `-keep-content-type`): `postData` has no `text`; sizes are still exact.
    #[serde(rename = "_requestBodyDropped", skip_serializing_if = "is_false")]
    pub request_body_dropped: bool,
    /// The same for the response body (`content` has no `text`).
    #[serde(rename = "_responseBodyDropped", skip_serializing_if = "is_false")]
    pub response_body_dropped: bool,
    /// `base64` when `postData.text` is the base64 of a body that is not UTF-8 (HAR 1.2
    /// postData has no `encoding` field).
    #[serde(rename = "_postDataEncoding", skip_serializing_if = "Option::is_none")]
    pub post_data_encoding: Option<&'static str>,
    /// The request target as sent, when it was not origin-form (`/path`).
    #[serde(rename = "_requestTarget", skip_serializing_if = "Option::is_none")]
    pub request_target: Option<String>,
    #[serde(rename = "_interimResponses", skip_serializing_if = "Vec::is_empty")]
    pub interim_responses: Vec<InterimEntry>,
    /// Trailer fields of chunked bodies.
    #[serde(rename = "_requestTrailers", skip_serializing_if = "Vec::is_empty")]
    pub request_trailers: Vec<h::Headers>,
    #[serde(rename = "_responseTrailers", skip_serializing_if = "Vec::is_empty")]
    pub response_trailers: Vec<h::Headers>,
    #[serde(rename = "_clientIPAddress")]
    pub client_ip_address: String,
    #[serde(rename = "_clientPort")]
    pub client_port: u16,
    #[serde(rename = "_serverPort")]
    pub server_port: u16,
    /// The connection was picked up mid-stream (no SYN seen).
    #[serde(rename = "_midstream", skip_serializing_if = "is_false")]
    pub midstream: bool,
    /// Request and response bytes on the wire (`Transaction::wire_bytes`).
    #[serde(rename = "_wireBytes")]
    pub wire_bytes: u64,
    /// 1-based position of the request on its connection.
    #[serde(rename = "_depth")]
    pub depth: u32,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// The stable name of an anomaly in `_anomalies`. Exhaustive on purpose: a new variant
/// must be named here (and in docs/har.md).
pub fn anomaly_name(a: &Anomaly) -> &'static str {
    match a {
        Anomaly::MidStreamPickup => "midstream-pickup",
        Anomaly::RequestInterrupted => "request-interrupted",
        Anomaly::ResponseInterrupted => "response-interrupted",
        Anomaly::Unanswered(Unanswered::Timeout) => "unanswered-timeout",
        Anomaly::Unanswered(Unanswered::ConnectionClosed) => "unanswered-connection-closed",
        Anomaly::Unanswered(Unanswered::EndOfCapture) => "unanswered-end-of-capture",
        Anomaly::Unanswered(Unanswered::PendingLimit) => "unanswered-pending-limit",
        Anomaly::Unanswered(Unanswered::Evicted) => "unanswered-evicted",
        Anomaly::BodyGap => "body-gap",
        Anomaly::ConflictingContentLength => "conflicting-content-length",
        Anomaly::InvalidContentLength => "invalid-content-length",
        Anomaly::TransferEncodingAndContentLength => "transfer-encoding-and-content-length",
        Anomaly::UnknownTransferEncoding => "unknown-transfer-encoding",
        Anomaly::BareLf => "bare-lf",
        Anomaly::ObsFold => "obs-fold",
        Anomaly::InvalidChunk => "invalid-chunk",
        Anomaly::DecodeFailed(_) => "decode-failed",
        Anomaly::HeadTooLarge => "head-too-large",
        Anomaly::BodyTruncated => "body-truncated",
        Anomaly::MemoryLimit => "body-dropped-memory-limit",
        Anomaly::Tunnel => "tunnel",
        Anomaly::LateResponse => "late-response",
        Anomaly::MalformedRequestLine => "malformed-request-line",
        Anomaly::RequestLost => "request-lost",
        Anomaly::PairingUncertain => "pairing-uncertain",
    }
}

fn unanswered_name(u: Unanswered) -> &'static str {
    match u {
        Unanswered::Timeout => "timeout",
        Unanswered::ConnectionClosed => "connection-closed",
        Unanswered::EndOfCapture => "end-of-capture",
        Unanswered::PendingLimit => "pending-limit",
        Unanswered::Evicted => "evicted",
    }
}

/// RFC 3339 UTC with milliseconds (`2026-11-21T23:05:10.123Z`), truncated, not rounded,
/// so an entry never appears to start after its first byte.
pub fn format_ts(ts: Timestamp) -> String {
    // Every i64 nanosecond time (1677..2262) is inside chrono's range; the fallback is
    // unreachable but keeps this total.
    DateTime::from_timestamp(ts.secs(), ts.subsec_nanos())
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

fn headers(hs: &[Header]) -> Vec<h::Headers> {
    hs.iter()
        .map(|x| h::Headers {
            name: x.name.clone(),
            value: x.value.clone(),
            comment: None,
        })
        .collect()
}

fn u2i(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The content bytes of a body (after undoing Content-Encoding) and whether they are only
/// a prefix. None when they are not known: bytes were lost to a gap (the kept data would
/// be the body with holes silently closed) or decoding failed; or not kept: the
/// content-type policy dropped them.
fn content_bytes(body: &Body) -> Option<(&[u8], bool)> {
    if body.missing > 0 || body.dropped {
        return None;
    }
    match &body.decoded {
        Decoded::Identity => Some((&body.data, body.truncated)),
        Decoded::Decoded {
            data, truncated, ..
        } => Some((data, *truncated || body.truncated)),
        Decoded::Failed { .. } => None,
    }
}

/// Bytes as JSON text: as is when UTF-8 (a UTF-8 sequence cut by the keep limit is
/// dropped from the end), else base64 (`Some("base64")`).
fn text_of(bytes: &[u8], truncated: bool) -> (String, Option<&'static str>) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_string(), None),
        // error_len None: the input ends inside a sequence, which is what a cut does.
        Err(e) if truncated && e.error_len().is_none() => (
            String::from_utf8_lossy(bytes.get(..e.valid_up_to()).unwrap_or(&[])).into_owned(),
            None,
        ),
        Err(_) => (base64(bytes), Some("base64")),
    }
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The media type without parameters, lowercased (`Text/HTML; charset=x` -> `text/html`).
fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Builds the HAR entry of a transaction.
pub fn entry(tx: &Transaction) -> Entry {
    let req = &tx.request;
    let mut custom = Custom {
        client_ip_address: tx.conn.client.ip().to_string(),
        client_port: tx.conn.client.port(),
        server_port: tx.conn.server.port(),
        midstream: tx.conn.midstream,
        wire_bytes: tx.wire_bytes(),
        depth: tx.depth,
        request_missing_bytes: req.body.missing,
        // An empty body has nothing to drop: flagging it would only be noise.
        request_body_dropped: req.body.dropped && req.body.len > 0,
        request_trailers: headers(&req.body.trailers),
        ..Custom::default()
    };
    for a in &tx.anomalies {
        let name = anomaly_name(a);
        if !custom.anomalies.contains(&name) {
            custom.anomalies.push(name);
        }
    }

    // Request.
    let (url, form) = url::request_url(&req.method, &req.target, &tx.host());
    if form != url::TargetForm::Origin {
        custom.request_target = Some(req.target.clone());
    }
    let query_string = url::query_of(&req.target)
        .map(url::parse_form)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| h::QueryString {
            name,
            value,
            comment: None,
        })
        .collect();
    let cookies = req
        .headers
        .iter()
        .filter(|x| x.name.eq_ignore_ascii_case("cookie"))
        .flat_map(|x| cookie::parse_cookie_header(&x.value))
        .map(|(name, value)| h::Cookies {
            name,
            value,
            ..h::Cookies::default()
        })
        .collect();
    let mut req_truncated = false;
    let post_data = (req.body.len > 0).then(|| {
        let mime = header(&req.headers, "content-type")
            .unwrap_or("")
            .to_string();
        let mut pd = h::PostData {
            mime_type: mime,
            ..h::PostData::default()
        };
        if let Decoded::Failed { reason } = &req.body.decoded {
            custom.request_decode_error = Some(reason.clone());
        }
        if let Some((bytes, truncated)) = content_bytes(&req.body) {
            req_truncated = truncated;
            let (text, enc) = text_of(bytes, truncated);
            // Browsers give both `params` and `text` for forms, although HAR 1.2 calls
            // them exclusive: params alone lose the exact bytes. Params only from a whole
            // body, so a cut last pair is never presented as a value.
            if !truncated
                && enc.is_none()
                && essence(&pd.mime_type) == "application/x-www-form-urlencoded"
            {
                pd.params = Some(
                    url::parse_form(&text)
                        .into_iter()
                        .map(|(name, value)| h::Params {
                            name,
                            value: Some(value),
                            ..h::Params::default()
                        })
                        .collect(),
                );
            }
            pd.text = Some(text);
            custom.post_data_encoding = enc;
        }
        pd
    });
    let request = h::Request {
        method: req.method.clone(),
        url,
        http_version: req.version.as_str().to_string(),
        cookies,
        headers: headers(&req.headers),
        query_string,
        post_data,
        headers_size: u2i(req.head_len),
        body_size: u2i(req.body.len),
        comment: None,
    };

    // Response and timings.
    let send = req.last_ts.millis_since(req.first_ts);
    let connect = match (tx.depth, tx.conn.syn_ts, tx.conn.established_ts) {
        (1, Some(syn), Some(est)) => Some(est.millis_since(syn)),
        _ => None,
    };
    let mut resp_truncated = false;
    let (response, wait, receive) = match &tx.response {
        Some(r) => {
            let mime = header(&r.headers, "content-type").unwrap_or("").to_string();
            let size = r.body.content_len();
            let mut content = h::Content {
                size: u2i(size),
                mime_type: Some(mime),
                ..h::Content::default()
            };
            if matches!(r.body.decoded, Decoded::Decoded { .. }) {
                content.compression = Some(u2i(size).saturating_sub(u2i(r.body.len)));
            }
            if let Decoded::Failed { reason } = &r.body.decoded {
                custom.decode_error = Some(reason.clone());
            }
            if let Some((bytes, truncated)) = content_bytes(&r.body).filter(|(b, _)| !b.is_empty())
            {
                resp_truncated = truncated;
                let (text, enc) = text_of(bytes, truncated);
                content.text = Some(text);
                content.encoding = enc.map(str::to_string);
            }
            let resp_ts = r.first_ts;
            let cookies = r
                .headers
                .iter()
                .filter(|x| x.name.eq_ignore_ascii_case("set-cookie"))
                .map(|x| {
                    let c = cookie::parse_set_cookie(&x.value, resp_ts);
                    h::Cookies {
                        name: c.name,
                        value: c.value,
                        path: c.path,
                        domain: c.domain,
                        expires: c.expires,
                        http_only: Some(c.http_only),
                        secure: Some(c.secure),
                        comment: None,
                    }
                })
                .collect();
            custom.response_missing_bytes = r.body.missing;
            custom.response_body_dropped = r.body.dropped && r.body.len > 0;
            custom.response_trailers = headers(&r.body.trailers);
            custom.interim_responses = r
                .interim
                .iter()
                .map(|i| InterimEntry {
                    status: i.status,
                    status_text: i.reason.clone(),
                    http_version: i.version.as_str(),
                    headers: headers(&i.headers),
                    headers_size: i.head_len,
                    time: i.ts.millis_since(req.first_ts),
                })
                .collect();
            let response = h::Response {
                status: i64::from(r.status),
                status_text: r.reason.clone(),
                http_version: r.version.as_str().to_string(),
                cookies,
                headers: headers(&r.headers),
                content,
                redirect_url: Some(header(&r.headers, "location").unwrap_or("").to_string()),
                headers_size: u2i(r.head_len),
                body_size: u2i(r.body.len),
                comment: None,
            };
            (
                response,
                r.first_ts.millis_since(req.last_ts),
                r.last_ts.millis_since(r.first_ts),
            )
        }
        None => {
            // How browsers export a request that got no response.
            let reason = tx.anomalies.iter().find_map(|a| match a {
                Anomaly::Unanswered(u) => Some(unanswered_name(*u)),
                _ => None,
            });
            custom.unanswered = Some(reason.unwrap_or("unknown"));
            let response = h::Response {
                status: 0,
                status_text: String::new(),
                http_version: String::new(),
                cookies: Vec::new(),
                headers: Vec::new(),
                content: h::Content {
                    size: 0,
                    mime_type: Some(String::new()),
                    ..h::Content::default()
                },
                redirect_url: Some(String::new()),
                headers_size: -1,
                body_size: -1,
                comment: None,
            };
            (response, 0.0, 0.0)
        }
    };

    let req_interrupted = !req.complete || tx.anomalies.contains(&Anomaly::RequestInterrupted);
    let resp_interrupted = tx.response.as_ref().is_some_and(|r| !r.complete)
        || tx.anomalies.contains(&Anomaly::ResponseInterrupted);
    custom.interrupted = Side::of(req_interrupted, resp_interrupted);
    custom.body_truncated = Side::of(req_truncated, resp_truncated);

    let timings = h::Timings {
        blocked: Some(-1.0),
        dns: Some(-1.0),
        connect: Some(connect.unwrap_or(-1.0)),
        send,
        wait,
        receive,
        ssl: Some(-1.0),
        comment: None,
    };
    let time = connect.unwrap_or(0.0) + send + wait + receive;

    Entry {
        entry: h::Entries {
            pageref: None,
            started_date_time: format_ts(req.first_ts),
            time,
            request,
            response,
            cache: h::Cache::default(),
            timings,
            server_ip_address: Some(tx.conn.server.ip().to_string()),
            connection: Some(tx.conn.id.to_string()),
            comment: None,
        },
        custom,
    }
}

/// Writes a HAR document one entry at a time: `begin`, `entry`/`entry_json` per entry,
/// `finish`. The document is never held whole in memory.
pub struct LogWriter<W: Write> {
    w: W,
    first: bool,
}

impl<W: Write> LogWriter<W> {
    /// Writes the log header. `pages` is left out (optional in HAR 1.2; a capture has no
    /// pages).
    pub fn begin(mut w: W) -> io::Result<Self> {
        w.write_all(
            b"{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"httshark\",\"version\":",
        )?;
        serde_json::to_writer(&mut w, env!("CARGO_PKG_VERSION"))?;
        w.write_all(b"},\"entries\":[")?;
        Ok(LogWriter { w, first: true })
    }

    /// Appends one entry already serialised as a JSON object (`entry_json_bytes`).
    pub fn entry_json(&mut self, json: &[u8]) -> io::Result<()> {
        self.w.write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        self.w.write_all(json)
    }

    pub fn entry(&mut self, e: &Entry) -> io::Result<()> {
        self.w.write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        serde_json::to_writer(&mut self.w, e).map_err(io::Error::from)
    }

    /// Closes the document and returns the writer (not flushed).
    pub fn finish(mut self) -> io::Result<W> {
        self.w
            .write_all(if self.first { b"]}}\n" } else { b"\n]}}\n" })?;
        Ok(self.w)
    }
}

/// The entry of `tx` as compact JSON: the bytes of `entry_json_bytes(&entry(tx))`, written
/// straight from the transaction (`json::write_entry`).
pub fn entry_json(tx: &Transaction) -> Vec<u8> {
    // Room for the body text (base64 is 4/3 of its bytes) and a typical head, so the
    // buffer rarely grows while written.
    let body = |b: &Body| match &b.decoded {
        Decoded::Decoded { data, .. } => data.len(),
        _ => b.data.len(),
    };
    let bodies = body(&tx.request.body) + tx.response.as_ref().map_or(0, |r| body(&r.body));
    let mut out = Vec::with_capacity(1024 + bodies + bodies / 3);
    json::write_entry(tx, &mut out);
    out
}

/// One entry as compact JSON, for processors that hold entries before writing them.
pub fn entry_json_bytes(e: &Entry) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(e)
}

/// Writes a complete HAR 1.2 document holding `entries`.
pub fn write_log<W: Write>(w: W, entries: &[Entry]) -> io::Result<()> {
    let mut lw = LogWriter::begin(w)?;
    for e in entries {
        lw.entry(e)?;
    }
    lw.finish()?.flush()
}

#[cfg(test)]
mod tests;
