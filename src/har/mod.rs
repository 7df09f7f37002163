//! Transaction -> HAR 1.2 entry, as the compact JSON every processor writes.
//!
//! Entries validate against the HAR 1.2 schema (`har-schema`, checked by
//! `tests/har_validate.rs`) and carry what a passive capture knows: exact wire sizes,
//! packet-time timings, the server address and a connection id. Anomalies go into
//! underscore-prefixed custom fields so a reader knows which entries to trust; a clean
//! entry carries only the always-present ones (`_clientIPAddress`, `_clientPort`,
//! `_serverPort`, `_wireBytes`, `_depth`). docs/har.md documents every field and choice.
//!
//! One mapping, in two steps: [`view::EntryView`] decides every field once, borrowed from
//! the transaction, and [`json::write_entry`] encodes it ([`entry_json`] does both).
//! `reference` (tests and the `har-reference` feature only) builds the `har` crate's
//! serde structs from the same view: the oracle the JSON writer is tested against, and
//! the crate's only use of the `har` crate. [`LogWriter`] frames entries into a HAR
//! document (in memory; `processor::har_file::writer` writes files the same way).
//!
//! What it does not do: I/O of any kind, guess what it did not see (no DNS, TLS or
//! queueing time: those timings are -1), or choose where files go (processors do).
//!
//! Invariants: no timing is negative except the "not applicable" -1; `time` is the sum of
//! the non-negative timings; every string is valid JSON text (bodies that are not UTF-8
//! are base64); a missing response is written the way browsers export failed requests
//! (status 0, sizes -1).

pub mod cookie;
mod escape;
pub mod json;
#[cfg(feature = "har-reference")]
pub mod reference;
pub mod url;
pub mod view;

use std::io::{self, Write};

use chrono::{DateTime, SecondsFormat};

use crate::model::{Body, Decoded, Transaction};
use crate::time::Timestamp;

/// RFC 3339 UTC with milliseconds (`2026-11-21T23:05:10.123Z`), truncated, not rounded,
/// so an entry never appears to start after its first byte.
pub fn format_ts(ts: Timestamp) -> String {
    // Every i64 nanosecond time (1677..2262) is inside chrono's range; the fallback is
    // unreachable but keeps this total.
    DateTime::from_timestamp(ts.secs(), ts.subsec_nanos())
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

/// Writes a HAR document one entry at a time: `begin`, `entry_json` per entry,
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

    /// Appends one entry already serialised as a JSON object (`entry_json`).
    pub fn entry_json(&mut self, json: &[u8]) -> io::Result<()> {
        self.w.write_all(if self.first { b"\n" } else { b",\n" })?;
        self.first = false;
        self.w.write_all(json)
    }

    /// Closes the document and returns the writer (not flushed).
    pub fn finish(mut self) -> io::Result<W> {
        self.w
            .write_all(if self.first { b"]}}\n" } else { b"\n]}}\n" })?;
        Ok(self.w)
    }
}

/// The HAR entry of `tx` as compact JSON: decided once (`view::EntryView`), then encoded
/// (`json::write_entry`). What every processor writes.
pub fn entry_json(tx: &Transaction) -> Vec<u8> {
    entry_json_with_process_at(tx).0
}

/// `entry_json(tx)`, and the offset where its `_process` begins, or would begin when `tx`
/// has no owner (for `splice_process`).
pub fn entry_json_with_process_at(tx: &Transaction) -> (Vec<u8>, usize) {
    // Room for the body text (base64 is 4/3 of its bytes, plus padding), the heads (as
    // JSON objects a field takes about twice its wire bytes) and the fixed fields, so the
    // buffer rarely grows while written: a growth late in a large entry copies all of it.
    let body = |b: &Body| match &b.decoded {
        Decoded::Decoded { data, .. } => data.len(),
        _ => b.data.len(),
    };
    let bodies = body(&tx.request.body) + tx.response.as_ref().map_or(0, |r| body(&r.body));
    let heads = tx.request.head_len + tx.response.as_ref().map_or(0, |r| r.head_len);
    let heads = usize::try_from(heads).unwrap_or(usize::MAX).min(1 << 20);
    let mut out = Vec::with_capacity(2048 + 2 * heads + bodies + bodies.div_ceil(3) + 8);
    let process_at = json::write_entry(&view::EntryView::new(tx), &mut out);
    (out, process_at)
}

/// `entry_json(tx)` with `owner` as its `_process` (which `tx` had none of), from
/// `entry_json_with_process_at(tx)`: the same bytes as encoding it with the owner. Workers
/// encode entries before the processor thread knows a live connection's owner; this
/// puts it in without encoding the entry again.
pub fn splice_process(json: &[u8], process_at: usize, owner: &crate::model::Owner) -> Vec<u8> {
    let at = process_at.min(json.len());
    let mut out = Vec::with_capacity(json.len() + 256);
    out.extend_from_slice(&json[..at]);
    json::write_process(&mut out, owner);
    out.extend_from_slice(&json[at..]);
    out
}

#[cfg(test)]
pub(crate) mod tests;
