//! The HAR entry as the `har` crate's serde structs: the test oracle of the JSON writer.
//!
//! [`entry`] builds the HAR 1.2 schema types of the `har` crate (plus httshark's custom
//! fields) from the same [`EntryView`] that `super::json` encodes, and serde writes them.
//! The tests, the fuzz target and the validation tests compare the two outputs: the view
//! makes every decision once, so what they check is the encoding (field order, omissions,
//! escapes, number formats), and the `har` crate's types check the schema's field names
//! and shapes.
//!
//! What it does not do: run in production. It is built for tests and behind the
//! `har-reference` cargo feature (which the crate's own dev-dependency turns on), never for
//! the binary: the processors write `super::entry_json`.

use std::io::{self, Write};

use har::v1_2 as h;
use serde::Serialize;

use super::view::{
    ContentView, CustomView, EntryView, InterimView, PostDataView, RequestView, ResponseView, Text,
};
use super::LogWriter;
use crate::model::{Header, Transaction};

/// A HAR entry plus httshark's custom fields, serialised flat.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub entry: h::Entries,
    #[serde(flatten)]
    pub custom: Custom,
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
    pub time: f64,
}

/// httshark's custom entry fields, as `CustomView` documents them; left out as the view
/// says (flags off, zero counts, empty lists).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Custom {
    #[serde(rename = "_anomalies", skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
    #[serde(rename = "_requestMissingBytes", skip_serializing_if = "is_zero")]
    pub request_missing_bytes: u64,
    #[serde(rename = "_responseMissingBytes", skip_serializing_if = "is_zero")]
    pub response_missing_bytes: u64,
    #[serde(rename = "_interrupted", skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<&'static str>,
    #[serde(rename = "_unanswered", skip_serializing_if = "Option::is_none")]
    pub unanswered: Option<&'static str>,
    #[serde(rename = "_bodyTruncated", skip_serializing_if = "Option::is_none")]
    pub body_truncated: Option<&'static str>,
    #[serde(rename = "_decodeError", skip_serializing_if = "Option::is_none")]
    pub decode_error: Option<String>,
    #[serde(
        rename = "_requestDecodeError",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_decode_error: Option<String>,
    #[serde(rename = "_requestBodyDropped", skip_serializing_if = "is_false")]
    pub request_body_dropped: bool,
    #[serde(rename = "_responseBodyDropped", skip_serializing_if = "is_false")]
    pub response_body_dropped: bool,
    #[serde(rename = "_postDataEncoding", skip_serializing_if = "Option::is_none")]
    pub post_data_encoding: Option<&'static str>,
    #[serde(rename = "_requestTarget", skip_serializing_if = "Option::is_none")]
    pub request_target: Option<String>,
    #[serde(rename = "_interimResponses", skip_serializing_if = "Vec::is_empty")]
    pub interim_responses: Vec<InterimEntry>,
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
    #[serde(rename = "_midstream", skip_serializing_if = "is_false")]
    pub midstream: bool,
    #[serde(rename = "_wireBytes")]
    pub wire_bytes: u64,
    #[serde(rename = "_depth")]
    pub depth: u32,
    #[serde(rename = "_tls", skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    #[serde(rename = "_process", skip_serializing_if = "Option::is_none")]
    pub process: Option<Process>,
    #[serde(rename = "_streamId", skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<u32>,
    #[serde(rename = "_pushed", skip_serializing_if = "is_false")]
    pub pushed: bool,
    #[serde(rename = "_upgraded", skip_serializing_if = "is_false")]
    pub upgraded: bool,
    #[serde(rename = "_h2ErrorCode", skip_serializing_if = "Option::is_none")]
    pub h2_error_code: Option<u32>,
    #[serde(
        rename = "_requestHeadersCompressedSize",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_headers_compressed: Option<u64>,
    #[serde(
        rename = "_responseHeadersCompressedSize",
        skip_serializing_if = "Option::is_none"
    )]
    pub response_headers_compressed: Option<u64>,
}

/// `_process`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Process {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ppid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unattributed: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side: Option<String>,
}

/// `_tls`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Tls {
    pub version: String,
    #[serde(rename = "cipherSuite")]
    pub cipher_suite: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub resumed: bool,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// The serde model of the HAR entry of `tx`.
pub fn entry(tx: &Transaction) -> Entry {
    from_view(&EntryView::new(tx))
}

/// The serde model of a decided entry.
pub fn from_view(v: &EntryView<'_>) -> Entry {
    let t = &v.timings;
    let timings = h::Timings {
        blocked: Some(-1.0),
        dns: Some(-1.0),
        connect: Some(t.connect_or_na()),
        send: t.send_ms(),
        wait: t.wait_ms(),
        receive: t.receive_ms(),
        ssl: Some(t.ssl_or_na()),
        comment: None,
    };
    Entry {
        entry: h::Entries {
            pageref: None,
            started_date_time: v.started_date_time.clone(),
            time: t.time(),
            request: request(&v.request),
            response: v.response.as_ref().map_or_else(unanswered, response),
            cache: h::Cache::default(),
            timings,
            server_ip_address: Some(v.server_ip_address.to_string()),
            connection: Some(v.connection.to_string()),
            comment: None,
        },
        custom: custom(&v.custom),
    }
}

fn request(r: &RequestView<'_>) -> h::Request {
    h::Request {
        method: r.method.to_string(),
        url: r.url.clone(),
        http_version: r.http_version.to_string(),
        cookies: r
            .cookies()
            .map(|(name, value)| h::Cookies {
                name,
                value,
                ..h::Cookies::default()
            })
            .collect(),
        headers: headers(r.headers),
        query_string: r
            .query_string()
            .into_iter()
            .map(|(name, value)| h::QueryString {
                name,
                value,
                comment: None,
            })
            .collect(),
        post_data: r.post_data.as_ref().map(post_data),
        headers_size: r.headers_size,
        body_size: r.body_size,
        comment: None,
    }
}

fn post_data(pd: &PostDataView<'_>) -> h::PostData {
    h::PostData {
        mime_type: pd.mime_type.to_string(),
        params: pd.params().map(|ps| {
            ps.into_iter()
                .map(|(name, value)| h::Params {
                    name,
                    value: Some(value),
                    ..h::Params::default()
                })
                .collect()
        }),
        text: pd.text.as_ref().map(text),
        comment: None,
    }
}

fn response(r: &ResponseView<'_>) -> h::Response {
    h::Response {
        status: i64::from(r.status),
        status_text: r.status_text.to_string(),
        http_version: r.http_version.to_string(),
        cookies: r
            .cookies()
            .map(|c| h::Cookies {
                name: c.name,
                value: c.value,
                path: c.path,
                domain: c.domain,
                expires: c.expires,
                http_only: Some(c.http_only),
                secure: Some(c.secure),
                comment: None,
            })
            .collect(),
        headers: headers(r.headers),
        content: content(&r.content),
        redirect_url: Some(r.redirect_url.to_string()),
        headers_size: r.headers_size,
        body_size: r.body_size,
        comment: None,
    }
}

/// How browsers export a request that got no response.
fn unanswered() -> h::Response {
    h::Response {
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
    }
}

fn content(c: &ContentView<'_>) -> h::Content {
    h::Content {
        size: c.size,
        compression: c.compression,
        mime_type: Some(c.mime_type.to_string()),
        text: c.text.as_ref().map(text),
        encoding: c.text.as_ref().and_then(Text::encoding).map(str::to_string),
        comment: None,
    }
}

fn custom(c: &CustomView<'_>) -> Custom {
    Custom {
        anomalies: c.anomalies.clone(),
        request_missing_bytes: c.request_missing_bytes,
        response_missing_bytes: c.response_missing_bytes,
        interrupted: c.interrupted.map(|s| s.name()),
        unanswered: c.unanswered,
        body_truncated: c.body_truncated.map(|s| s.name()),
        decode_error: c.decode_error.map(str::to_string),
        request_decode_error: c.request_decode_error.map(str::to_string),
        request_body_dropped: c.request_body_dropped,
        response_body_dropped: c.response_body_dropped,
        post_data_encoding: c.post_data_encoding,
        request_target: c.request_target.map(str::to_string),
        interim_responses: c.interim_responses.iter().map(interim).collect(),
        request_trailers: headers(c.request_trailers),
        response_trailers: headers(c.response_trailers),
        client_ip_address: c.client_ip_address.to_string(),
        client_port: c.client_port,
        server_port: c.server_port,
        midstream: c.midstream,
        wire_bytes: c.wire_bytes,
        depth: c.depth,
        tls: c.tls.as_ref().map(|t| Tls {
            version: t.version.clone(),
            cipher_suite: t.cipher_suite.clone(),
            sni: t.sni.clone(),
            alpn: t.alpn.clone(),
            resumed: t.resumed,
        }),
        process: c.process.map(|o| match o {
            crate::model::Owner::Process(p) => Process {
                pid: Some(p.pid),
                name: Some(p.name.clone()),
                ppid: p.ancestors.first().map(|a| a.0),
                exe: p.exe.clone(),
                user: p.user.clone(),
                uid: Some(p.uid),
                cgroup: p.cgroup.clone(),
                container: p.container.clone(),
                side: p.side.map(|s| {
                    match s {
                        crate::model::Side::Client => "client",
                        crate::model::Side::Server => "server",
                    }
                    .to_string()
                }),
                unattributed: None,
            },
            crate::model::Owner::Unattributed { why, uid } => Process {
                unattributed: Some(why.name().to_string()),
                uid: *uid,
                ..Process::default()
            },
        }),
        stream_id: c.h2.map(|h| h.stream_id),
        pushed: c.h2.is_some_and(|h| h.pushed),
        upgraded: c.h2.is_some_and(|h| h.upgraded),
        h2_error_code: c.h2.and_then(|h| h.error_code),
        request_headers_compressed: c.h2.and_then(|h| h.request_headers_compressed),
        response_headers_compressed: c.h2.and_then(|h| h.response_headers_compressed),
    }
}

fn interim(i: &InterimView<'_>) -> InterimEntry {
    InterimEntry {
        status: i.status,
        status_text: i.status_text.to_string(),
        http_version: i.http_version,
        headers: headers(i.headers),
        headers_size: i.headers_size,
        time: i.time,
    }
}

fn headers(hs: &[Header]) -> Vec<h::Headers> {
    hs.iter()
        .map(|x| h::Headers {
            name: x.name.to_string(),
            value: x.value.to_string(),
            comment: None,
        })
        .collect()
}

/// Body text as a String: as is, or the base64 of the bytes.
fn text(t: &Text<'_>) -> String {
    match t.decided() {
        Text::Utf8(s) => s.to_string(),
        Text::Base64(bytes) | Text::Undecided { bytes, .. } => base64(bytes),
    }
}

/// Standard base64 with padding (RFC 4648 §4), written the plain way: the reference for
/// `json::base64_into`.
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

/// One entry as compact JSON, by serde.
pub fn entry_json_bytes(e: &Entry) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(e)
}

/// Writes a complete HAR 1.2 document holding `entries`, serialised by serde.
pub fn write_log<W: Write>(w: W, entries: &[Entry]) -> io::Result<()> {
    let mut lw = LogWriter::begin(w)?;
    for e in entries {
        lw.entry_json(&entry_json_bytes(e).map_err(io::Error::from)?)?;
    }
    lw.finish()?.flush()
}
