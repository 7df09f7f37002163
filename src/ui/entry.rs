//! One transaction as the view holds it: the HAR entry exactly as the `file` processor
//! writes it (`har::entry_json`, the one mapping), a compact summary row for the list, and
//! the few fields the filter language reads, decided once when the entry arrives.
//!
//! What it does not do: a second HAR mapping. The detail pane, the export and the curl
//! command all read the HAR entry JSON; the summary only repeats what the list shows.

use std::net::SocketAddr;

use crate::har::{self, view::EntryView};
use crate::model::{Body, Decoded, Owner, Transaction};

/// Most bytes of each body kept for `body:` searches and downloads (the HAR entry keeps
/// what `-max-body-size` kept; this copy is cut and the cut flagged in `Fields`).
pub const UI_MAX_BODY: usize = 1 << 20;

/// What the filter language reads of an entry.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields {
    pub url: String,
    pub host: String,
    pub method: String,
    /// None when unanswered.
    pub status: Option<u16>,
    /// The request target (path and query as on the request line).
    pub path: String,
    /// The response's Content-Type (else the request's), lowercased.
    pub content_type: String,
    pub client: Option<SocketAddr>,
    /// The connection's process as `Owner::label` names it (`curl 4242`, `? closed`);
    /// empty when unknown (offline, attribution off).
    pub process: String,
    pub server: Option<SocketAddr>,
    /// Body sizes (content after transfer decoding, missing bytes included).
    pub request_size: u64,
    pub response_size: u64,
    /// HAR `time` and `timings.wait`, milliseconds.
    pub time_ms: f64,
    pub wait_ms: f64,
    /// Anomaly names (HAR `_anomalies`), `unanswered-*` included.
    pub anomalies: Vec<&'static str>,
    pub unanswered: bool,
    /// Request then response header fields, wire order, duplicates kept.
    pub headers: Vec<(String, String)>,
    /// Decoded bodies, at most [`UI_MAX_BODY`] each.
    pub request_body: Vec<u8>,
    pub response_body: Vec<u8>,
}

/// An entry of the view.
#[derive(Debug)]
pub struct UiEntry {
    pub seq: u64,
    /// Bytes charged to the ring's byte cap: everything this entry holds.
    pub cost: usize,
    /// The list row, compact JSON.
    pub summary: String,
    /// The HAR entry, compact JSON (`har::entry_json`).
    pub entry: Vec<u8>,
    pub fields: Fields,
}

/// The gap ranges of a body in the bytes the HAR entry shows: the captured bytes when no
/// Content-Encoding was undone (a decoded body's offsets would not apply: empty).
fn gaps(b: &Body) -> &[(u64, u64)] {
    match b.decoded {
        Decoded::Decoded { .. } => &[],
        _ => &b.gap_ranges,
    }
}

/// The content bytes of a body (decoded when a Content-Encoding was undone), cut.
fn body_bytes(b: &Body) -> Vec<u8> {
    let data = match &b.decoded {
        Decoded::Decoded { data, .. } => data,
        _ => &b.data,
    };
    data.get(..data.len().min(UI_MAX_BODY))
        .unwrap_or(&[])
        .to_vec()
}

impl UiEntry {
    /// Builds the entry numbered `seq` from `tx`.
    pub fn new(seq: u64, tx: &Transaction) -> UiEntry {
        let entry = har::entry_json(tx);
        let view = EntryView::new(tx);
        let req = &tx.request;
        let resp = tx.response.as_ref();
        let ct = |h: &[crate::model::Header]| {
            crate::model::header(h, "content-type").map(|v| v.trim().to_ascii_lowercase())
        };
        let content_type = resp
            .and_then(|r| ct(&r.headers))
            .or_else(|| ct(&req.headers))
            .unwrap_or_default();
        let mut headers: Vec<(String, String)> = req
            .headers
            .iter()
            .map(|h| (h.name.to_string(), h.value.to_string()))
            .collect();
        if let Some(r) = resp {
            headers.extend(
                r.headers
                    .iter()
                    .map(|h| (h.name.to_string(), h.value.to_string())),
            );
        }
        let fields = Fields {
            url: view.request.url.clone(),
            host: tx.host(),
            method: req.method.clone(),
            status: resp.map(|r| r.status),
            path: req.target.clone(),
            content_type,
            client: Some(tx.conn.client),
            process: tx.process.as_deref().map(Owner::label).unwrap_or_default(),
            server: Some(tx.conn.server),
            request_size: req.body.content_len(),
            response_size: resp.map_or(0, |r| r.body.content_len()),
            time_ms: view.timings.time(),
            wait_ms: view.timings.wait_ms(),
            anomalies: view.custom.anomalies.clone(),
            unanswered: resp.is_none(),
            headers,
            request_body: body_bytes(&req.body),
            response_body: resp.map_or_else(Vec::new, |r| body_bytes(&r.body)),
        };
        let summary = serde_json::json!({
            "seq": seq,
            "ts": view.started_date_time,
            "client": tx.conn.client.to_string(),
            "process": (!fields.process.is_empty()).then_some(fields.process.as_str()),
            "server": tx.conn.server.to_string(),
            "method": req.method,
            "host": fields.host,
            "path": req.target,
            "url": fields.url,
            "scheme": if fields.url.starts_with("https:") { "https" } else { "http" },
            "version": view.request.http_version,
            "status": fields.status,
            "reason": resp.map(|r| r.reason.as_str()),
            "ct": fields.content_type,
            "reqSize": fields.request_size,
            "respSize": resp.map(|r| r.body.content_len()),
            "time": fields.time_ms,
            "wait": fields.wait_ms,
            "depth": tx.depth,
            "conn": tx.conn.id,
            "anomalies": fields.anomalies,
            "unanswered": view.custom.unanswered,
            "reqMissing": req.body.missing,
            "respMissing": resp.map_or(0, |r| r.body.missing),
            "reqGaps": gaps(&req.body),
            "respGaps": resp.map_or(&[][..], |r| gaps(&r.body)),
        })
        .to_string();
        let cost = std::mem::size_of::<UiEntry>()
            + summary.len()
            + entry.len()
            + fields.url.len()
            + fields.host.len()
            + fields.method.len()
            + fields.path.len()
            + fields.content_type.len()
            + fields
                .headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 48)
                .sum::<usize>()
            + fields.request_body.len()
            + fields.response_body.len();
        UiEntry {
            seq,
            cost,
            summary,
            entry,
            fields,
        }
    }

    /// An entry with a seq, a cost and a summary of about `cost` bytes (tests).
    #[cfg(test)]
    pub fn test_entry(seq: u64, cost: usize) -> UiEntry {
        UiEntry::test_with(seq, cost, Fields::default())
    }

    /// As `test_entry`, with the filter's fields.
    #[cfg(test)]
    pub fn test_with(seq: u64, cost: usize, fields: Fields) -> UiEntry {
        let pad = "x".repeat(cost.saturating_sub(40).min(1 << 20));
        UiEntry {
            seq,
            cost,
            summary: format!("{{\"seq\":{seq},\"pad\":\"{pad}\"}}"),
            entry: format!(
                "{{\"request\":{{\"method\":\"GET\",\"url\":\"http://h/{seq}\",\"headers\":[]}}}}"
            )
            .into_bytes(),
            fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NoOwner, ProcessInfo};
    use std::sync::Arc;

    fn summary(e: &UiEntry) -> serde_json::Value {
        serde_json::from_str(&e.summary).unwrap()
    }

    /// What the page reads of an entry: lost ranges where they sit (none for a decoded
    /// body, whose offsets would not apply), the process as the console names it, and
    /// the header fields of both sides in wire order, duplicates kept.
    #[test]
    fn summary_and_fields_carry_gaps_process_and_wire_order() {
        let mut tx = crate::har::tests::tx();
        let r = tx.response.as_mut().unwrap();
        r.body.missing = 7;
        r.body.len += 7;
        r.body.gap_ranges = vec![(2, 7)];
        tx.process = Some(Arc::new(Owner::Process(ProcessInfo {
            pid: 4242,
            name: "curl".into(),
            ..ProcessInfo::default()
        })));
        let e = UiEntry::new(9, &tx);
        let s = summary(&e);
        assert_eq!(s["seq"], 9);
        assert_eq!(s["respGaps"], serde_json::json!([[2, 7]]));
        assert_eq!(s["respMissing"], 7);
        assert_eq!(s["reqGaps"], serde_json::json!([]));
        assert_eq!(s["process"], "curl 4242");
        assert_eq!(e.fields.process, "curl 4242");
        let names: Vec<&str> = e.fields.headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["Host", "Cookie", "Cookie", "Content-Type", "Set-Cookie"]
        );
        assert_eq!(e.fields.response_body, b"hello");
        assert!(e.cost > e.summary.len() + e.entry.len());

        // A decoded body: the gap offsets are in the encoded bytes, so none are sent.
        let r = tx.response.as_mut().unwrap();
        r.body.decoded = Decoded::Decoded {
            data: b"hello, decoded".to_vec(),
            len: 14,
            truncated: false,
        };
        tx.process = Some(Arc::new(Owner::Unattributed {
            why: NoOwner::Closed,
            uid: None,
        }));
        let e = UiEntry::new(10, &tx);
        let s = summary(&e);
        assert_eq!(s["respGaps"], serde_json::json!([]));
        assert_eq!(s["respMissing"], 7);
        assert_eq!(s["process"], "? closed");
        assert_eq!(e.fields.response_body, b"hello, decoded");
        // Offline (no attribution): no process in the row.
        tx.process = None;
        assert!(summary(&UiEntry::new(11, &tx))["process"].is_null());
    }
}
