//! Transaction -> HAR 1.2 entry. The only user of the `har` crate.
//!
//! Entries validate against the HAR 1.2 schema and carry what a passive capture knows:
//! exact wire sizes, packet-time timings, the server address and a connection id.
//! Anomalies go into underscore-prefixed custom fields so a reader knows which entries
//! to trust.

use std::io::{self, Write};

use serde::Serialize;

use crate::model::Transaction;

/// A HAR entry plus httshark's custom fields, serialised flat.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    #[serde(flatten)]
    pub entry: har::v1_2::Entries,
    #[serde(flatten)]
    pub custom: Custom,
}

/// httshark's custom entry fields (HAR 1.2 allows fields starting with `_`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Custom {}

/// Builds the HAR entry of a transaction.
pub fn entry(tx: &Transaction) -> Entry {
    let _ = tx;
    todo!("har")
}

/// Writes a complete HAR 1.2 document holding `entries`.
pub fn write_log<W: Write>(w: W, entries: &[Entry]) -> io::Result<()> {
    let _ = (w, entries);
    todo!("har")
}
