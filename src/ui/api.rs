//! The view's JSON API (read-only, GET): the list (filtered on the server), one entry's
//! detail (its HAR entry as the `file` processor writes it), a body download, a curl
//! command, a HAR export of a selection or a filter, and the capture's health.
//!
//! What it does not do: change anything (no clear, replay, options or paths).

use std::sync::Arc;

use serde_json::{json, Value};

use super::entry::UiEntry;
use super::filter::{Budget, Filter, ParseError};
use super::http::{Request, Response};
use super::{bump, Shared};

/// Default and largest page of the list.
pub const DEFAULT_PAGE: usize = 500;
pub const MAX_PAGE: usize = 10_000;
/// Header fields whose values a HAR export masks unless `sensitive=1` (DevTools' set).
pub const SENSITIVE_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];
/// What a masked value becomes.
pub const MASK: &str = "[masked]";

/// `rest` is the path after `/api/v1/`.
pub fn route(rest: &str, req: &Request, shared: &Shared) -> Response {
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        ["entries"] => list(req, shared),
        ["entries", seq] => with_entry(shared, seq, detail),
        ["entries", seq, "curl"] => with_entry(shared, seq, curl),
        ["entries", seq, "body", side] => with_entry(shared, seq, |e| body(e, side)),
        ["export.har"] => export(req, shared),
        ["health"] => Response::json(200, health(shared).to_string()),
        _ => Response::error(404, "no such API"),
    }
}

fn with_entry(shared: &Shared, seq: &str, f: impl Fn(&UiEntry) -> Response) -> Response {
    match seq.parse::<u64>().ok().and_then(|s| shared.ring.get(s)) {
        Some(e) => f(&e),
        None => Response::error(404, "no such entry (evicted from the view, or never seen)"),
    }
}

/// A parse error as the UI underlines it.
pub fn filter_error(e: &ParseError) -> Response {
    Response::json(
        400,
        json!({"error": {"message": e.message, "start": e.start, "end": e.end}}).to_string(),
    )
}

/// Parses `?filter=`.
pub fn parse_filter(req: &Request) -> Result<Filter, Response> {
    Filter::parse(req.param("filter").unwrap_or("")).map_err(|e| filter_error(&e))
}

/// The newest `limit` entries matching `filter` with `after < seq < before`, oldest
/// first; and how many a `body:` search could not read.
pub fn select(
    shared: &Shared,
    filter: &Filter,
    after: u64,
    before: u64,
    limit: usize,
) -> (Vec<Arc<UiEntry>>, Budget) {
    let mut budget = Budget::default();
    let mut out: Vec<Arc<UiEntry>> = shared
        .ring
        .snapshot()
        .into_iter()
        .rev()
        .filter(|e| e.seq > after && e.seq < before)
        .filter(|e| filter.matches(&e.fields, &mut budget))
        .take(limit)
        .collect();
    out.reverse();
    if budget.exhausted > 0 {
        bump(&shared.stats.body_search_exhausted, budget.exhausted);
    }
    (out, budget)
}

fn num(req: &Request, name: &str, default: u64) -> u64 {
    req.param(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `GET entries?filter=&after=&before=&limit=`: summaries, oldest first.
fn list(req: &Request, shared: &Shared) -> Response {
    let filter = match parse_filter(req) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let limit = (num(req, "limit", DEFAULT_PAGE as u64) as usize).clamp(1, MAX_PAGE);
    let (entries, budget) = select(
        shared,
        &filter,
        num(req, "after", 0),
        num(req, "before", u64::MAX),
        limit,
    );
    let stats = shared.ring.stats();
    let mut out = String::with_capacity(256 + entries.len() * 300);
    out.push_str(&format!(
        "{{\"oldest\":{},\"next\":{},\"partial\":{},\"entries\":[",
        stats.oldest,
        stats.next,
        budget.exhausted > 0
    ));
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&e.summary);
    }
    out.push_str("]}");
    Response::json(200, out)
}

/// `GET entries/SEQ`: the HAR entry as written by the `file` processor, with the seq and
/// what the capture lost of each body.
fn detail(e: &UiEntry) -> Response {
    let mut out = Vec::with_capacity(e.entry.len() + e.summary.len() + 64);
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(e.seq.to_string().as_bytes());
    out.extend_from_slice(b",\"summary\":");
    out.extend_from_slice(e.summary.as_bytes());
    out.extend_from_slice(b",\"entry\":");
    out.extend_from_slice(&e.entry);
    out.push(b'}');
    Response::json(200, out)
}

/// `GET entries/SEQ/body/request|response`: the decoded body bytes, as an attachment
/// that no browser will render (captured bytes are hostile).
fn body(e: &UiEntry, side: &str) -> Response {
    let bytes = match side {
        "request" => &e.fields.request_body,
        "response" => &e.fields.response_body,
        _ => return Response::error(404, "request or response"),
    };
    Response::new(200, "application/octet-stream", bytes.clone())
        .with(
            "Content-Disposition",
            format!("attachment; filename=\"entry-{}-{side}.bin\"", e.seq),
        )
        .with("Content-Security-Policy", "sandbox")
}

/// Single-quotes `s` for a POSIX shell.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The curl command of an entry's HAR request: method, URL, headers in wire order
/// (HTTP/2 pseudo-headers and framing headers left out), the body when it is text.
pub fn curl_command(entry: &Value) -> String {
    let req = &entry["request"];
    let method = req["method"].as_str().unwrap_or("GET");
    let url = req["url"].as_str().unwrap_or("");
    let mut cmd = format!("curl -X {} {}", shell_quote(method), shell_quote(url));
    if let Some(hs) = req["headers"].as_array() {
        for h in hs {
            let name = h["name"].as_str().unwrap_or("");
            let value = h["value"].as_str().unwrap_or("");
            let lower = name.to_ascii_lowercase();
            if name.starts_with(':')
                || ["content-length", "transfer-encoding", "connection"].contains(&lower.as_str())
            {
                continue;
            }
            cmd.push_str(&format!(" -H {}", shell_quote(&format!("{name}: {value}"))));
        }
    }
    let post = &req["postData"];
    if let Some(text) = post["text"].as_str() {
        if post["_encoding"].as_str() == Some("base64") {
            cmd.push_str(" # the request body is binary (base64 in the HAR entry)");
        } else {
            cmd.push_str(&format!(" --data-binary {}", shell_quote(text)));
        }
    }
    cmd
}

fn curl(e: &UiEntry) -> Response {
    match serde_json::from_slice::<Value>(&e.entry) {
        Ok(v) => Response::new(200, "text/plain; charset=utf-8", curl_command(&v) + "\n"),
        Err(_) => Response::error(404, "entry not readable"),
    }
}

/// Masks the values of [`SENSITIVE_HEADERS`] and of every cookie in a HAR entry, wherever
/// a header field lives: the request's and response's headers, every interim (1xx)
/// response's, and both bodies' trailers. A field whose name HPACK lost (an HTTP/2 stream
/// picked up mid-connection: `x-httshark-unknown-index-N`) could be any of them, and is
/// masked too.
pub fn mask(entry: &mut Value) {
    for side in ["request", "response"] {
        let Some(side) = entry.get_mut(side) else {
            continue;
        };
        mask_headers(side.get_mut("headers"));
        if let Some(cs) = side.get_mut("cookies").and_then(Value::as_array_mut) {
            for c in cs {
                c["value"] = Value::from(MASK);
            }
        }
    }
    mask_headers(entry.get_mut("_requestTrailers"));
    mask_headers(entry.get_mut("_responseTrailers"));
    if let Some(interim) = entry
        .get_mut("_interimResponses")
        .and_then(Value::as_array_mut)
    {
        for i in interim {
            mask_headers(i.get_mut("headers"));
        }
    }
}

/// Masks the sensitive fields of a HAR header list (`[{"name", "value"}]`), if it is one.
fn mask_headers(list: Option<&mut Value>) {
    let Some(hs) = list.and_then(Value::as_array_mut) else {
        return;
    };
    for h in hs {
        let sensitive = h["name"].as_str().is_some_and(|n| {
            let n = n.to_ascii_lowercase();
            SENSITIVE_HEADERS.contains(&n.as_str())
                || n.starts_with(crate::h2::hpack::UNKNOWN_INDEX_PREFIX)
        });
        if sensitive {
            h["value"] = Value::from(MASK);
        }
    }
}

/// `GET export.har?seqs=1,2,3` or `?filter=`, `&sensitive=1` to keep credentials: a HAR
/// 1.2 document of the same entries the `file` processor writes.
fn export(req: &Request, shared: &Shared) -> Response {
    let entries: Vec<Arc<UiEntry>> = match req.param("seqs") {
        Some(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse::<u64>().ok())
            .filter_map(|s| shared.ring.get(s))
            .collect(),
        None => {
            let filter = match parse_filter(req) {
                Ok(f) => f,
                Err(r) => return r,
            };
            select(shared, &filter, 0, u64::MAX, usize::MAX).0
        }
    };
    let sensitive = req.param("sensitive") == Some("1");
    let mut w = match crate::har::LogWriter::begin(Vec::new()) {
        Ok(w) => w,
        Err(_) => return Response::error(503, "cannot write"),
    };
    for e in &entries {
        let r = if sensitive {
            w.entry_json(&e.entry)
        } else {
            match serde_json::from_slice::<Value>(&e.entry) {
                Ok(mut v) => {
                    mask(&mut v);
                    w.entry_json(v.to_string().as_bytes())
                }
                Err(_) => continue,
            }
        };
        if r.is_err() {
            return Response::error(503, "cannot write");
        }
    }
    match w.finish() {
        Ok(body) => Response::new(200, "application/json", body).with(
            "Content-Disposition",
            "attachment; filename=\"httshark-view.har\"",
        ),
        Err(_) => Response::error(503, "cannot write"),
    }
}

/// The capture's health: the pipeline's counters (as last published, about once a
/// second of packet time), its gauges, and the view's own state. The page turns the
/// counters into rates.
pub fn health(shared: &Shared) -> Value {
    let m = shared.metrics.snapshot();
    let c = |name: &str| -> u64 {
        m.counters
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| *v)
            .sum()
    };
    let r = shared.ring.stats();
    let ui = shared.counters();
    let mut ui_counters = serde_json::Map::new();
    ui.visit(&mut |n, v| {
        ui_counters.insert(n.to_string(), Value::from(v));
    });
    json!({
        "packets": c("packets"),
        "bytes": c("bytes"),
        "kernelDropped": c("kernel_dropped"),
        "interfaceDropped": c("interface_dropped"),
        "gaps": c("gaps"),
        "gapBytes": c("gap_bytes"),
        "transactions": c("transactions"),
        "unanswered": c("unanswered"),
        "openConnections": m.gauges.open_connections,
        "pendingRequests": m.gauges.pending_requests,
        "bufferedBytes": m.gauges.buffered_bytes,
        "memoryBytes": m.gauges.memory_bytes,
        "memoryLimit": shared.memory_limit,
        "ring": {
            "entries": r.entries, "bytes": r.bytes, "oldest": r.oldest, "next": r.next,
            "evicted": r.evicted, "maxEntries": r.max_entries, "maxBytes": r.max_bytes,
        },
        "ui": ui_counters,
    })
}

use crate::counters::CounterSet as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_quotes_and_skips_framing() {
        let v: Value = serde_json::from_str(
            r#"{"request":{"method":"POST","url":"http://h/a?x='1'","headers":[
              {"name":":authority","value":"h"},{"name":"Content-Length","value":"3"},
              {"name":"X-A","value":"it's"},{"name":"X-A","value":"2"}],
              "postData":{"mimeType":"text/plain","text":"a'b"}}}"#,
        )
        .unwrap();
        assert_eq!(
            curl_command(&v),
            r#"curl -X 'POST' 'http://h/a?x='\''1'\''' -H 'X-A: it'\''s' -H 'X-A: 2' --data-binary 'a'\''b'"#
        );
    }

    #[test]
    fn mask_hides_credentials_only() {
        let mut v: Value = serde_json::from_str(
            r#"{"request":{"headers":[{"name":"Authorization","value":"Bearer x"},{"name":"Accept","value":"*/*"}],
               "cookies":[{"name":"sid","value":"s3cret"}]},
               "response":{"headers":[{"name":"set-cookie","value":"sid=s3cret"}],"cookies":[]}}"#,
        )
        .unwrap();
        mask(&mut v);
        let s = v.to_string();
        assert!(!s.contains("s3cret") && !s.contains("Bearer x"), "{s}");
        assert!(s.contains("*/*") && s.contains("\"sid\""));
        assert!(!s.contains("_requestTrailers"), "no field added: {s}");
    }

    /// Interim responses and trailers carry header fields too, and a field whose name
    /// HPACK lost could be any of the sensitive ones.
    #[test]
    fn mask_reaches_interim_responses_trailers_and_unknown_names() {
        let mut v: Value = serde_json::from_str(
            r#"{"request":{"headers":[{"name":"x-httshark-unknown-index-62","value":"k3y"}],"cookies":[]},
               "response":{"headers":[],"cookies":[]},
               "_interimResponses":[{"status":103,"headers":[{"name":"Set-Cookie","value":"early=s3cret"},{"name":"Link","value":"</a.css>"}]}],
               "_requestTrailers":[{"name":"Authorization","value":"Basic t0ken"}],
               "_responseTrailers":[{"name":"Proxy-Authorization","value":"pr0xy"}]}"#,
        )
        .unwrap();
        mask(&mut v);
        let s = v.to_string();
        for secret in ["k3y", "s3cret", "t0ken", "pr0xy"] {
            assert!(!s.contains(secret), "{secret} in {s}");
        }
        assert!(s.contains("</a.css>"), "{s}");
    }
}
