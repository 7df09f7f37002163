//! One transaction's HAR entry, decided: every choice the HAR mapping makes, made once and
//! borrowed from the [`Transaction`].
//!
//! [`EntryView::new`] decides the URL and whether the target was origin-form, the timings,
//! the deduplicated anomaly names, whether a body is given as text or base64 (and what of
//! it), which custom `_` fields appear and with what. Cookies, query strings and form
//! params are parsed when their iterator is walked, so an encoder that walks them once
//! parses them once.
//!
//! What it does not do: encode. [`super::json::write_entry`] writes the view as compact
//! JSON (what every processor writes); `super::reference` builds the `har` crate's serde
//! structs from the same view, as the test oracle of that writer. Because both read this
//! view, they can differ only in how they spell a value, never in which value it is.
//!
//! Invariants: no timing is negative except the "not applicable" -1 (`connect` when no
//! handshake was seen); `time` is the sum of the others; every text is valid UTF-8 (a
//! body that is not is [`Text::Base64`]).

use std::net::IpAddr;
use std::time::Duration;

use super::{cookie, format_ts, url};
use crate::model::{
    header, Anomaly, Body, Decoded, Header, HttpVersion, Interim, Response, TlsInfo, Transaction,
};
use crate::time::Timestamp;

/// Everything the HAR entry of one transaction says, in the order HAR writes it.
#[derive(Clone, Debug)]
pub struct EntryView<'a> {
    /// `startedDateTime`: the request's first byte (`format_ts`).
    pub started_date_time: String,
    pub timings: Timings,
    pub request: RequestView<'a>,
    /// None when no response was paired: written the way browsers export a failed request
    /// (status 0, sizes -1), and `custom.unanswered` says why.
    pub response: Option<ResponseView<'a>>,
    pub server_ip_address: IpAddr,
    /// `connection`: httshark's connection id.
    pub connection: u64,
    pub custom: CustomView<'a>,
}

/// The HAR timings a passive capture knows, as durations (never negative): the JSON gives
/// them in milliseconds. `blocked` and `dns` are always -1: they happen before the first
/// packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timings {
    /// SYN to the handshake's end, only for the first request of a connection whose
    /// handshake was seen (later requests reuse the connection).
    pub connect: Option<Duration>,
    /// ClientHello to the handshake's last Finished, for the first request of a connection
    /// decrypted from TLS whose handshake was seen (`connect` includes it).
    pub ssl: Option<Duration>,
    /// Request first byte to last byte.
    pub send: Duration,
    /// Request last byte to response first byte (0 without a response).
    pub wait: Duration,
    /// Response first byte to last byte (0 without a response).
    pub receive: Duration,
}

/// A duration in HAR milliseconds: one division of the exact nanosecond count, so the value
/// has the capture's resolution and no float noise (0.534, never 0.5339999999999999).
pub fn millis(d: Duration) -> f64 {
    d.as_nanos() as f64 / 1e6
}

impl Timings {
    /// HAR `timings.connect`: -1 when not applicable.
    pub fn connect_or_na(&self) -> f64 {
        self.connect.map_or(-1.0, millis)
    }

    /// HAR `timings.ssl`: -1 when not applicable.
    pub fn ssl_or_na(&self) -> f64 {
        self.ssl.map_or(-1.0, millis)
    }

    /// HAR `timings.send`.
    pub fn send_ms(&self) -> f64 {
        millis(self.send)
    }

    /// HAR `timings.wait`.
    pub fn wait_ms(&self) -> f64 {
        millis(self.wait)
    }

    /// HAR `timings.receive`.
    pub fn receive_ms(&self) -> f64 {
        millis(self.receive)
    }

    /// HAR `time`: the sum of the applicable timings, added as durations and converted
    /// once, so it equals the sum of the timings as written (HAR 1.2: `time` is the sum of
    /// the non-negative timings) without the noise of adding rounded floats (issue 13).
    pub fn time(&self) -> f64 {
        millis(self.connect.unwrap_or_default() + self.send + self.wait + self.receive)
    }
}

/// A body's content as HAR text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text<'a> {
    /// UTF-8 text, given as is (for a cut body, without a sequence cut at its end).
    Utf8(&'a str),
    /// Bytes that are not UTF-8, given as base64.
    Base64(&'a [u8]),
    /// A response body, decided when it is encoded: `Text::of` of these bytes
    /// ([`Text::decided`]). The JSON encoder escapes an all-ASCII body in the same pass
    /// that finds it ASCII (ASCII is UTF-8, and a cut cannot split it), and only
    /// otherwise runs `Text::of`: response bodies are most of a HAR file's bytes, and
    /// deciding first meant reading each one twice.
    Undecided { bytes: &'a [u8], truncated: bool },
}

impl<'a> Text<'a> {
    /// The text of a body's content bytes: as is when UTF-8, else base64. `truncated`
    /// bodies were cut at the keep limit, which may split a UTF-8 sequence: that sequence
    /// is dropped from the end rather than making the whole body base64.
    pub fn of(bytes: &'a [u8], truncated: bool) -> Text<'a> {
        // `simdutf8::compat` gives std's answers (valid_up_to, error_len), faster.
        match simdutf8::compat::from_utf8(bytes) {
            Ok(s) => Text::Utf8(s),
            // error_len None: the input ends inside a sequence, which is what a cut does.
            Err(e) if truncated && e.error_len().is_none() => {
                // The prefix is valid UTF-8 (that is what valid_up_to says).
                let prefix = bytes.get(..e.valid_up_to()).unwrap_or(&[]);
                Text::Utf8(std::str::from_utf8(prefix).unwrap_or(""))
            }
            Err(_) => Text::Base64(bytes),
        }
    }

    /// The decision: `Utf8` or `Base64`, never `Undecided`.
    pub fn decided(&self) -> Text<'a> {
        match *self {
            Text::Undecided { bytes, truncated } => Text::of(bytes, truncated),
            other => other,
        }
    }

    /// `Some("base64")` for base64 text: the value of `content.encoding` and
    /// `_postDataEncoding`.
    pub fn encoding(&self) -> Option<&'static str> {
        match self.decided() {
            Text::Base64(_) => Some("base64"),
            _ => None,
        }
    }
}

/// The request as HAR gives it.
#[derive(Clone, Debug)]
pub struct RequestView<'a> {
    pub method: &'a str,
    /// Rebuilt from the target and the Host header (`url::request_url`).
    pub url: String,
    pub http_version: &'static str,
    pub headers: &'a [Header],
    /// `postData`: only for a request with a body.
    pub post_data: Option<PostDataView<'a>>,
    pub headers_size: i64,
    pub body_size: i64,
    target: &'a str,
}

impl<'a> RequestView<'a> {
    /// `cookies`: every pair of every Cookie header, in order.
    pub fn cookies(&self) -> impl Iterator<Item = (String, String)> + 'a {
        self.headers
            .iter()
            .filter(|x| x.name.eq_ignore_ascii_case("cookie"))
            .flat_map(|x| cookie::parse_cookie_header(&x.value))
    }

    /// `queryString`: the decoded pairs of the target's query.
    pub fn query_string(&self) -> Vec<(String, String)> {
        url::query_of(self.target)
            .map(url::parse_form)
            .unwrap_or_default()
    }
}

/// A request body as HAR `postData` gives it.
#[derive(Clone, Debug)]
pub struct PostDataView<'a> {
    /// The Content-Type as sent ("" without one).
    pub mime_type: &'a str,
    /// None when the content is not known or not kept (`content_bytes`).
    pub text: Option<Text<'a>>,
    /// The text to parse `params` from: only a whole UTF-8 form body.
    form: Option<&'a str>,
}

impl PostDataView<'_> {
    /// `params`: the decoded pairs of a form body. Browsers give both `params` and `text`
    /// for forms, although HAR 1.2 calls them exclusive: params alone lose the exact bytes.
    /// Params only from a whole body, so a cut last pair is never presented as a value.
    pub fn params(&self) -> Option<Vec<(String, String)>> {
        self.form.map(url::parse_form)
    }
}

/// A response as HAR gives it.
#[derive(Clone, Debug)]
pub struct ResponseView<'a> {
    pub status: u16,
    pub status_text: &'a str,
    pub http_version: &'static str,
    pub headers: &'a [Header],
    pub content: ContentView<'a>,
    /// The Location header ("" without one).
    pub redirect_url: &'a str,
    pub headers_size: i64,
    pub body_size: i64,
    first_ts: Timestamp,
}

impl<'a> ResponseView<'a> {
    /// `cookies`: one per Set-Cookie header, `Max-Age` anchored at the response's first
    /// byte.
    pub fn cookies(&self) -> impl Iterator<Item = cookie::Cookie> + 'a {
        let ts = self.first_ts;
        self.headers
            .iter()
            .filter(|x| x.name.eq_ignore_ascii_case("set-cookie"))
            .map(move |x| cookie::parse_set_cookie(&x.value, ts))
    }
}

/// A response body as HAR `content` gives it.
#[derive(Clone, Debug)]
pub struct ContentView<'a> {
    /// The content length: decoded when Content-Encoding was undone.
    pub size: i64,
    /// Bytes saved by the Content-Encoding, only when it was undone.
    pub compression: Option<i64>,
    pub mime_type: &'a str,
    /// None when not known, not kept, or empty.
    pub text: Option<Text<'a>>,
}

/// Which message of the exchange a flag is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Request,
    Response,
    Both,
}

impl Side {
    /// The value written in HAR.
    pub fn name(self) -> &'static str {
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

/// A 1xx interim response, as `_interimResponses` gives it.
#[derive(Clone, Debug)]
pub struct InterimView<'a> {
    pub status: u16,
    pub status_text: &'a str,
    pub http_version: &'static str,
    pub headers: &'a [Header],
    pub headers_size: u64,
    /// Milliseconds from the request's first byte to this response's first byte.
    pub time: f64,
}

/// httshark's custom `_` fields (HAR 1.2 allows fields starting with `_`), in the order
/// they are written. A flag that is off, a zero count and an empty list are left out, so
/// a clean entry carries only `_clientIPAddress`, `_clientPort`, `_serverPort`,
/// `_wireBytes` and `_depth`. docs/har.md documents each one.
#[derive(Clone, Debug)]
pub struct CustomView<'a> {
    /// One name per anomaly (`Anomaly::name`), in order, without repeats.
    pub anomalies: Vec<&'static str>,
    /// Request body bytes the capture lost (gaps).
    pub request_missing_bytes: u64,
    pub response_missing_bytes: u64,
    /// The message(s) cut short before their end.
    pub interrupted: Option<Side>,
    /// Why there is no response: `timeout`, `connection-closed`, `end-of-capture`,
    /// `pending-limit`, `evicted`, or `unknown`. None when there is one.
    pub unanswered: Option<&'static str>,
    /// The body text given is only a prefix: the body was longer than the keep limit.
    pub body_truncated: Option<Side>,
    /// Why the response's Content-Encoding could not be undone (`content.text` is then
    /// left out).
    pub decode_error: Option<&'a str>,
    /// The same for a request with a body.
    pub request_decode_error: Option<&'a str>,
    /// The content-type policy dropped the (non-empty) request body: `postData` has no
    /// `text`; sizes are still exact.
    pub request_body_dropped: bool,
    pub response_body_dropped: bool,
    /// `base64` when `postData.text` is base64 (HAR 1.2 postData has no `encoding`).
    pub post_data_encoding: Option<&'static str>,
    /// The request target as sent, when it was not origin-form (`/path`).
    pub request_target: Option<&'a str>,
    pub interim_responses: Vec<InterimView<'a>>,
    /// Trailer fields of chunked bodies.
    pub request_trailers: &'a [Header],
    pub response_trailers: &'a [Header],
    pub client_ip_address: IpAddr,
    pub client_port: u16,
    pub server_port: u16,
    /// The connection was picked up mid-stream (no SYN seen).
    pub midstream: bool,
    /// Request and response bytes on the wire (`Transaction::wire_bytes`).
    pub wire_bytes: u64,
    /// 1-based position of the request on its connection.
    pub depth: u32,
    /// The TLS session the exchange was decrypted from.
    pub tls: Option<TlsView>,
    /// The HTTP/2 stream the exchange was.
    pub h2: Option<H2View>,
    /// `_process`: the local process that owned the connection (live captures).
    pub process: Option<&'a crate::model::Owner>,
}

/// The HTTP/2 fields of an entry (`_streamId` ...; docs/har.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct H2View {
    pub stream_id: u32,
    /// `_pushed`: the request came in a PUSH_PROMISE.
    pub pushed: bool,
    /// `_h2ErrorCode`: RST_STREAM's or GOAWAY's error code.
    pub error_code: Option<u32>,
    /// `_upgraded`: an HTTP/1.1 request upgraded to h2c.
    pub upgraded: bool,
    /// `_requestHeadersCompressedSize`: HPACK bytes of the request's header block (None
    /// for an upgraded HTTP/1.1 request).
    pub request_headers_compressed: Option<u64>,
    /// `_responseHeadersCompressedSize`, with a response.
    pub response_headers_compressed: Option<u64>,
}

/// HAR `httpVersion`: HTTP/2 as Chrome writes it (`http/2.0`, which its importer maps
/// back to `h2`; research §5); the others as on the start line.
pub fn har_version(v: HttpVersion) -> &'static str {
    match v {
        HttpVersion::Http2 => "http/2.0",
        other => other.as_str(),
    }
}

/// HAR `headersSize`: -1 for HTTP/2, whose heads are HPACK blocks with no text form (as
/// Chrome writes it); the head's bytes otherwise.
fn headers_size(v: HttpVersion, head_len: u64) -> i64 {
    if v == HttpVersion::Http2 {
        -1
    } else {
        u2i(head_len)
    }
}

/// The URL's scheme: HTTP/2's `:scheme` when it is `https` (h2 over TLS), else `http`.
fn is_https(tx: &Transaction) -> bool {
    tx.request.version == HttpVersion::Http2
        && header(&tx.request.headers, ":scheme").is_some_and(|s| s.eq_ignore_ascii_case("https"))
}

/// HAR `_tls`: what the handshake negotiated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsView {
    /// `TLS 1.2`, `TLS 1.3` (or the version number in hex).
    pub version: String,
    /// The IANA name of the cipher suite (or its number in hex).
    pub cipher_suite: String,
    pub sni: Option<String>,
    pub alpn: Option<String>,
    pub resumed: bool,
}

impl TlsView {
    fn of(t: &TlsInfo) -> TlsView {
        let version = match t.version {
            0x0301 => "TLS 1.0".to_string(),
            0x0302 => "TLS 1.1".to_string(),
            0x0303 => "TLS 1.2".to_string(),
            0x0304 => "TLS 1.3".to_string(),
            v => format!("0x{v:04x}"),
        };
        let cipher_suite = crate::tls::crypto::suite(t.cipher_suite).map_or_else(
            || format!("0x{:04x}", t.cipher_suite),
            |s| s.name.to_string(),
        );
        TlsView {
            version,
            cipher_suite,
            sni: t.sni.clone(),
            alpn: t.alpn.clone(),
            resumed: t.resumed,
        }
    }
}

impl<'a> EntryView<'a> {
    /// Decides the HAR entry of `tx`.
    pub fn new(tx: &'a Transaction) -> EntryView<'a> {
        let req = &tx.request;
        let scheme = if tx.tls.is_some() || is_https(tx) {
            "https"
        } else {
            "http"
        };
        let (url, form) = url::request_url(scheme, &req.method, &req.target, &tx.host());
        let (post_data, req_truncated) = post_data(req.body.len, &req.body, &req.headers);
        let (response, resp_truncated) = match &tx.response {
            Some(r) => {
                let (view, truncated) = response(r);
                (Some(view), truncated)
            }
            None => (None, false),
        };
        // The TLS handshake, for the first request of the connection only (later ones
        // reuse it); HAR's `connect` includes `ssl`.
        let ssl = match (tx.depth, tx.tls.as_ref().and_then(|t| t.handshake)) {
            (1, Some((hello, finished))) => Some((hello, finished)),
            _ => None,
        };
        let timings = Timings {
            connect: match (tx.depth, tx.conn.syn_ts, tx.conn.established_ts, ssl) {
                (1, Some(syn), _, Some((_, finished))) => Some(finished.since(syn)),
                (1, Some(syn), Some(est), None) => Some(est.since(syn)),
                (1, None, _, Some((hello, finished))) => Some(finished.since(hello)),
                _ => None,
            },
            ssl: ssl.map(|(hello, finished)| finished.since(hello)),
            send: req.last_ts.since(req.first_ts),
            wait: tx
                .response
                .as_ref()
                .map_or(Duration::ZERO, |r| r.first_ts.since(req.last_ts)),
            receive: tx
                .response
                .as_ref()
                .map_or(Duration::ZERO, |r| r.last_ts.since(r.first_ts)),
        };
        let custom = CustomView {
            interrupted: interrupted(tx),
            body_truncated: Side::of(req_truncated, resp_truncated),
            post_data_encoding: post_data
                .as_ref()
                .and_then(|p| p.text.as_ref())
                .and_then(Text::encoding),
            request_target: (form != url::TargetForm::Origin).then_some(req.target.as_str()),
            ..custom(tx)
        };
        EntryView {
            started_date_time: format_ts(req.first_ts),
            timings,
            request: RequestView {
                method: &req.method,
                url,
                http_version: har_version(req.version),
                headers: &req.headers,
                post_data,
                headers_size: headers_size(req.version, req.head_len),
                body_size: u2i(req.body.len),
                target: &req.target,
            },
            response,
            server_ip_address: tx.conn.server.ip(),
            connection: tx.conn.id,
            custom,
        }
    }
}

/// The `postData` of a request body of `len` bytes, and whether its text is cut.
fn post_data<'a>(
    len: u64,
    body: &'a Body,
    headers: &'a [Header],
) -> (Option<PostDataView<'a>>, bool) {
    if len == 0 {
        return (None, false);
    }
    let mime_type = header(headers, "content-type").unwrap_or("");
    let (text, truncated) = match content_bytes(body) {
        Some((bytes, truncated)) => (Some(Text::of(bytes, truncated)), truncated),
        None => (None, false),
    };
    let form = match text {
        Some(Text::Utf8(s))
            if !truncated && essence_is(mime_type, "application/x-www-form-urlencoded") =>
        {
            Some(s)
        }
        _ => None,
    };
    let view = PostDataView {
        mime_type,
        text,
        form,
    };
    (Some(view), truncated)
}

/// The view of a response, and whether its text is cut.
fn response(r: &Response) -> (ResponseView<'_>, bool) {
    let size = r.body.content_len();
    let (text, truncated) = match content_bytes(&r.body).filter(|(b, _)| !b.is_empty()) {
        Some((bytes, truncated)) => (Some(Text::Undecided { bytes, truncated }), truncated),
        None => (None, false),
    };
    let view = ResponseView {
        status: r.status,
        status_text: &r.reason,
        http_version: har_version(r.version),
        headers: &r.headers,
        content: ContentView {
            size: u2i(size),
            compression: matches!(r.body.decoded, Decoded::Decoded { .. })
                .then(|| u2i(size).saturating_sub(u2i(r.body.len))),
            mime_type: header(&r.headers, "content-type").unwrap_or(""),
            text,
        },
        redirect_url: header(&r.headers, "location").unwrap_or(""),
        headers_size: headers_size(r.version, r.head_len),
        body_size: u2i(r.body.len),
        first_ts: r.first_ts,
    };
    (view, truncated)
}

/// Which message was cut short: by the parser's own account (`complete`) or an anomaly.
fn interrupted(tx: &Transaction) -> Option<Side> {
    let req = !tx.request.complete || tx.anomalies.contains(&Anomaly::RequestInterrupted);
    let resp = tx.response.as_ref().is_some_and(|r| !r.complete)
        || tx.anomalies.contains(&Anomaly::ResponseInterrupted);
    Side::of(req, resp)
}

/// The custom fields that do not depend on the request and response views.
fn custom(tx: &Transaction) -> CustomView<'_> {
    let req = &tx.request;
    let resp = tx.response.as_ref();
    let mut anomalies: Vec<&'static str> = Vec::new();
    for a in &tx.anomalies {
        let name = a.name();
        if !anomalies.contains(&name) {
            anomalies.push(name);
        }
    }
    CustomView {
        anomalies,
        request_missing_bytes: req.body.missing,
        response_missing_bytes: resp.map_or(0, |r| r.body.missing),
        interrupted: None,
        unanswered: resp.is_none().then(|| unanswered(tx)),
        body_truncated: None,
        decode_error: resp.and_then(|r| failed(&r.body)),
        // Only with a body: an empty one has nothing that failed to decode.
        request_decode_error: (req.body.len > 0).then(|| failed(&req.body)).flatten(),
        // An empty body has nothing to drop: flagging it would only be noise.
        request_body_dropped: req.body.dropped && req.body.len > 0,
        response_body_dropped: resp.is_some_and(|r| r.body.dropped && r.body.len > 0),
        post_data_encoding: None,
        request_target: None,
        interim_responses: resp.map_or_else(Vec::new, |r| {
            r.interim.iter().map(|i| interim(i, req.first_ts)).collect()
        }),
        request_trailers: &req.body.trailers,
        response_trailers: resp.map_or(&[], |r| &r.body.trailers),
        client_ip_address: tx.conn.client.ip(),
        client_port: tx.conn.client.port(),
        server_port: tx.conn.server.port(),
        midstream: tx.conn.midstream,
        wire_bytes: tx.wire_bytes(),
        depth: tx.depth,
        tls: tx.tls.as_deref().map(TlsView::of),
        h2: tx.h2.as_deref().map(|h| H2View {
            stream_id: h.stream_id,
            pushed: h.pushed,
            error_code: h.error_code,
            upgraded: h.upgraded,
            request_headers_compressed: (!h.upgraded).then_some(h.headers_compressed.0),
            response_headers_compressed: resp.map(|_| h.headers_compressed.1),
        }),
        process: tx.process.as_deref(),
    }
}

fn interim(i: &Interim, request_ts: Timestamp) -> InterimView<'_> {
    InterimView {
        status: i.status,
        status_text: &i.reason,
        http_version: har_version(i.version),
        headers: &i.headers,
        headers_size: i.head_len,
        time: i.ts.millis_since(request_ts),
    }
}

/// Why a body's Content-Encoding could not be undone, if it could not.
fn failed(b: &Body) -> Option<&str> {
    match &b.decoded {
        Decoded::Failed { reason } => Some(reason),
        _ => None,
    }
}

/// `_unanswered` of a transaction without a response: the reason its anomaly gives.
fn unanswered(tx: &Transaction) -> &'static str {
    use crate::model::Unanswered as U;
    let reason = tx.anomalies.iter().find_map(|a| match a {
        Anomaly::Unanswered(u) => Some(*u),
        _ => None,
    });
    match reason {
        Some(U::Timeout) => "timeout",
        Some(U::ConnectionClosed) => "connection-closed",
        Some(U::EndOfCapture) => "end-of-capture",
        Some(U::PendingLimit) => "pending-limit",
        Some(U::Evicted) => "evicted",
        Some(U::StreamReset) => "stream-reset",
        None => "unknown",
    }
}

/// HAR sizes are signed (-1 is "unknown"); a size past i64::MAX saturates.
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
        Decoded::Failed { .. } | Decoded::Skipped => None,
    }
}

/// Whether the media type without parameters is `essence` (ASCII case-insensitive):
/// `Text/HTML; charset=x` is `text/html`.
fn essence_is(mime: &str, essence: &str) -> bool {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case(essence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_utf8_or_base64() {
        assert_eq!(Text::of(b"caf\xc3\xa9", false), Text::Utf8("café"));
        // A cut sequence at the end of a truncated body is dropped, not base64.
        assert_eq!(Text::of(b"caf\xc3", true), Text::Utf8("caf"));
        // The same bytes in a whole body are not UTF-8.
        assert_eq!(Text::of(b"caf\xc3", false), Text::Base64(b"caf\xc3"));
        // An invalid byte before the end is not a cut, even in a truncated body.
        assert_eq!(Text::of(b"\xffabc", true), Text::Base64(b"\xffabc"));
        assert_eq!(Text::of(b"", false).encoding(), None);
        assert_eq!(Text::of(b"\xff", false).encoding(), Some("base64"));
    }

    #[test]
    fn essence_ignores_parameters_and_case() {
        assert!(essence_is(
            " Application/X-WWW-Form-Urlencoded ; charset=utf-8",
            "application/x-www-form-urlencoded"
        ));
        assert!(!essence_is(
            "application/x-www-form-urlencodedx",
            "application/x-www-form-urlencoded"
        ));
        assert!(!essence_is("", "text/plain"));
    }

    #[test]
    fn timings_sum_what_applies() {
        let ms = Duration::from_millis;
        let t = Timings {
            connect: None,
            ssl: None,
            send: ms(1),
            wait: ms(2),
            receive: ms(3),
        };
        assert_eq!((t.time(), t.connect_or_na()), (6.0, -1.0));
        let t = Timings {
            connect: Some(ms(4)),
            ssl: None,
            ..t
        };
        assert_eq!((t.time(), t.connect_or_na()), (10.0, 4.0));
    }

    #[test]
    fn time_has_no_float_noise_and_is_the_sum_of_the_timings() {
        // Issue 13: `time` was the float sum of the timings (0.5339999999999999 in a real
        // capture; 0.44099999999999995 here).
        let us = Duration::from_micros;
        let t = Timings {
            connect: Some(us(7)),
            ssl: None,
            send: us(24),
            wait: us(300),
            receive: us(110),
        };
        let float_sum = t.connect_or_na() + t.send_ms() + t.wait_ms() + t.receive_ms();
        assert_eq!(
            float_sum, 0.44099999999999995,
            "the case that showed the noise"
        );
        assert_eq!(t.time(), 0.441);
        assert_eq!(serde_json::to_string(&t.time()).unwrap(), "0.441");
        // Nanosecond captures keep their resolution.
        let t = Timings {
            connect: None,
            ssl: None,
            send: Duration::from_nanos(1),
            wait: Duration::from_nanos(2),
            receive: Duration::ZERO,
        };
        assert_eq!(t.time(), 0.000003);
    }
}
