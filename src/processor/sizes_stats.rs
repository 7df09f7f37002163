//! The `transactions-sizes` processor: how many requests and responses fall in each wire
//! size bucket, in two CSV files rewritten atomically every `-stats-interval` of packet time
//! and at the end (cumulative since the start of the capture).
//!
//! Columns: `bucket, lower_bytes, upper_bytes, count, percent`.
//! - A bucket holds sizes `lower_bytes <= size < upper_bytes`; `upper_bytes` is empty for
//!   the last, unbounded bucket. Edges ([`SIZE_BUCKETS`]) are 0, 1 B, then powers of 4
//!   from 128 B to 1 GiB: fine where HTTP heads and API bodies are (100 B .. 64 KiB),
//!   coarse for downloads. Every bucket is always written, even when empty, so the file
//!   has a fixed shape.
//! - The responses file has a last row [`NO_RESPONSE`] (empty bounds) counting requests
//!   that got no response; `percent` there is of all transactions.
//! - `percent` has three decimals, computed on integers; empty when nothing was counted.
//!
//! Sizes are wire sizes as in [`crate::model::Transaction::wire_bytes`]: head plus body as
//! framed; a response also counts its interim 1xx heads.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::counters;
use crate::model::Transaction;
use crate::output::write_atomically;
use crate::processor::stats::common::{
    check_interval, fixed3, prepare_output, write_error, Pending, Schedule,
};
use crate::processor::{Processor, ProcessorError};
use crate::time::Timestamp;

/// The name in `-har-processors`.
pub const NAME: &str = "transactions-sizes";

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

/// Bucket labels and inclusive lower bounds, ascending; each bucket ends where the next
/// one starts.
pub const SIZE_BUCKETS: [(&str, u64); 15] = [
    ("0B", 0),
    ("1B-128B", 1),
    ("128B-512B", 128),
    ("512B-1KiB", 512),
    ("1KiB-4KiB", KIB),
    ("4KiB-16KiB", 4 * KIB),
    ("16KiB-64KiB", 16 * KIB),
    ("64KiB-256KiB", 64 * KIB),
    ("256KiB-1MiB", 256 * KIB),
    ("1MiB-4MiB", MIB),
    ("4MiB-16MiB", 4 * MIB),
    ("16MiB-64MiB", 16 * MIB),
    ("64MiB-256MiB", 64 * MIB),
    ("256MiB-1GiB", 256 * MIB),
    (">=1GiB", GIB),
];

/// The responses file's row for requests without a response.
pub const NO_RESPONSE: &str = "no response";

/// The header row of both files.
pub const COLUMNS: [&str; 5] = ["bucket", "lower_bytes", "upper_bytes", "count", "percent"];

/// Default `-requests-sizes-stats-file`.
pub const DEFAULT_REQUESTS_PATH: &str = "requests_sizes.csv";
/// Default `-responses-sizes-stats-file`.
pub const DEFAULT_RESPONSES_PATH: &str = "responses_sizes.csv";

/// Configuration of the `transactions-sizes` processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SizesStatsConfig {
    /// Request sizes CSV (`-requests-sizes-stats-file`, default `requests_sizes.csv`).
    pub requests_path: PathBuf,
    /// Response sizes CSV (`-responses-sizes-stats-file`, default `responses_sizes.csv`).
    pub responses_path: PathBuf,
    /// Packet time between two rewrites (`-stats-interval`, default 10 s; must be > 0).
    pub interval: Duration,
}

impl Default for SizesStatsConfig {
    fn default() -> Self {
        SizesStatsConfig {
            requests_path: PathBuf::from(DEFAULT_REQUESTS_PATH),
            responses_path: PathBuf::from(DEFAULT_RESPONSES_PATH),
            interval: crate::processor::stats::common::DEFAULT_INTERVAL,
        }
    }
}

counters! {
    /// What the `transactions-sizes` processor did.
    pub struct SizesStatsCounters {
        /// Transactions counted.
        sizes_stats_transactions,
        /// Times `MAX_PENDING` transactions were waiting for the watermark and were folded early.
        sizes_stats_pending_limit_hits,
        /// Times the two CSV files were rewritten.
        sizes_stats_writes,
    }
}

/// The bucket index of a size.
fn bucket_of(size: u64) -> usize {
    // The first lower bound is 0, so at least one bound is <= size.
    SIZE_BUCKETS
        .partition_point(|&(_, lower)| lower <= size)
        .saturating_sub(1)
}

/// One transaction's sizes; the derived order (after `completed_at`) is the fold order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sample {
    conn_id: u64,
    depth: u32,
    request_bytes: u64,
    response_bytes: Option<u64>,
}

/// The `transactions-sizes` processor.
pub struct SizesStatsProcessor {
    cfg: SizesStatsConfig,
    requests: [u64; SIZE_BUCKETS.len()],
    responses: [u64; SIZE_BUCKETS.len()],
    no_response: u64,
    pending: Pending<Sample>,
    schedule: Schedule,
    counters: SizesStatsCounters,
}

impl SizesStatsProcessor {
    /// Checks the configuration and that both paths are writable (creating their folders),
    /// so the command line can fail before the capture starts.
    pub fn new(cfg: SizesStatsConfig) -> Result<SizesStatsProcessor, ProcessorError> {
        check_interval(NAME, cfg.interval)?;
        if cfg.requests_path == cfg.responses_path {
            return Err(ProcessorError {
                processor: NAME,
                message: format!(
                    "requests and responses sizes files are the same file: {}",
                    cfg.requests_path.display()
                ),
            });
        }
        prepare_output(NAME, &cfg.requests_path)?;
        prepare_output(NAME, &cfg.responses_path)?;
        Ok(SizesStatsProcessor {
            schedule: Schedule::new(cfg.interval),
            cfg,
            requests: [0; SIZE_BUCKETS.len()],
            responses: [0; SIZE_BUCKETS.len()],
            no_response: 0,
            pending: Pending::default(),
            counters: SizesStatsCounters::default(),
        })
    }

    pub fn counters(&self) -> &SizesStatsCounters {
        &self.counters
    }

    fn fold(&mut self, samples: Vec<Sample>) {
        for s in samples {
            self.counters.sizes_stats_transactions += 1;
            if let Some(c) = self.requests.get_mut(bucket_of(s.request_bytes)) {
                *c += 1;
            }
            match s.response_bytes {
                Some(b) => {
                    if let Some(c) = self.responses.get_mut(bucket_of(b)) {
                        *c += 1;
                    }
                }
                None => self.no_response += 1,
            }
        }
    }

    fn write(&mut self) -> Result<(), ProcessorError> {
        write_table(&self.cfg.requests_path, &self.requests, None)?;
        write_table(
            &self.cfg.responses_path,
            &self.responses,
            Some(self.no_response),
        )?;
        self.counters.sizes_stats_writes += 1;
        Ok(())
    }
}

fn write_table(
    path: &Path,
    counts: &[u64; SIZE_BUCKETS.len()],
    no_response: Option<u64>,
) -> Result<(), ProcessorError> {
    let total: u128 =
        counts.iter().map(|&c| u128::from(c)).sum::<u128>() + u128::from(no_response.unwrap_or(0));
    let percent = |c: u64| fixed3(u128::from(c) * 100, total).unwrap_or_default();
    write_atomically(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        csv.write_record(COLUMNS)?;
        for (i, (&(label, lower), &count)) in SIZE_BUCKETS.iter().zip(counts).enumerate() {
            let upper = SIZE_BUCKETS
                .get(i + 1)
                .map(|&(_, next)| next.to_string())
                .unwrap_or_default();
            csv.write_record([
                label.to_string(),
                lower.to_string(),
                upper,
                count.to_string(),
                percent(count),
            ])?;
        }
        if let Some(n) = no_response {
            csv.write_record([
                NO_RESPONSE.to_string(),
                String::new(),
                String::new(),
                n.to_string(),
                percent(n),
            ])?;
        }
        csv.flush()
    })
    .map_err(|e| write_error(NAME, path, e))
}

impl Processor for SizesStatsProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn written(&self) -> Option<String> {
        let (req, resp) = (
            self.cfg.requests_path.display(),
            self.cfg.responses_path.display(),
        );
        Some(if self.counters.sizes_stats_writes == 0 {
            format!("nothing written to {req}, {resp}")
        } else {
            format!(
                "{req}, {resp} ({} transactions)",
                self.counters.sizes_stats_transactions
            )
        })
    }

    fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        crate::counters::CounterSet::visit(self.counters(), f);
    }

    /// Wire sizes, status and times only.
    fn reads_bodies(&self) -> bool {
        false
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        if self.pending.is_full() {
            self.counters.sizes_stats_pending_limit_hits += 1;
            let all = self.pending.take_all();
            self.fold(all);
        }
        let request = &tx.request;
        let sample = Sample {
            conn_id: tx.conn.id,
            depth: tx.depth,
            request_bytes: request.head_len.saturating_add(request.body.wire_len),
            // The response's share of `Transaction::wire_bytes` (interim heads included).
            response_bytes: tx.response.as_ref().map(|_| {
                tx.wire_bytes()
                    .saturating_sub(request.head_len.saturating_add(request.body.wire_len))
            }),
        };
        self.pending.push(tx.completed_at, sample);
        Ok(())
    }

    fn on_tick(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        let ready = self.pending.take_upto(now);
        self.fold(ready);
        if self.schedule.due(now) {
            self.write()?;
        }
        Ok(())
    }

    fn finish(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        let all = self.pending.take_all();
        self.fold(all);
        self.write()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_edges() {
        let cases = [
            (0, "0B"),
            (1, "1B-128B"),
            (127, "1B-128B"),
            (128, "128B-512B"),
            (1023, "512B-1KiB"),
            (1024, "1KiB-4KiB"),
            (GIB - 1, "256MiB-1GiB"),
            (GIB, ">=1GiB"),
            (u64::MAX, ">=1GiB"),
        ];
        for (size, label) in cases {
            assert_eq!(SIZE_BUCKETS[bucket_of(size)].0, label, "{size}");
        }
    }

    #[test]
    fn edges_ascend() {
        assert!(SIZE_BUCKETS.windows(2).all(|w| w[0].1 < w[1].1));
        assert_eq!(SIZE_BUCKETS[0].1, 0);
    }
}
