//! The `sites-stats` processor: one CSV row per site (see [`GroupBy`]) with byte and
//! transaction totals and rates, status classes, latency percentiles and size extremes,
//! rewritten atomically every `-stats-interval` of packet time and at the end.
//!
//! Columns (docs/processors.md has an example):
//! `site, run_seconds, total_bytes, total_transactions, bytes_per_second,
//! transactions_per_second, average_transaction_bytes, requests_without_response` (the
//! columns of HttShark's statistics file), then `request_bytes,
//! response_bytes, status_1xx .. status_5xx, status_other, latency_p50_ms, latency_p95_ms,
//! latency_p99_ms, request_min_bytes, request_max_bytes, response_min_bytes,
//! response_max_bytes`.
//!
//! - Bytes are wire bytes ([`Transaction::wire_bytes`]): heads, bodies as framed (chunk
//!   sizes and trailers included) and interim 1xx heads; not TCP/IP headers.
//! - Run time is capture time: from the earliest request first byte to the latest `now`
//!   seen. It is the same for every row, so rates compare across sites. Nothing here reads
//!   the wall clock, so replaying a capture gives byte-identical files.
//! - Latency is HAR's `time` for an answered transaction: response last byte minus request
//!   first byte, in ms with three decimals, from a [`LogHistogram`] (error <= 1.6 %).
//!   Unanswered transactions are not in the latency columns.
//! - Undefined values (no answered transaction, zero run time) are empty fields.
//! - Rows are sorted by site (byte order); when `max_sites` sites have rows, transactions
//!   of further sites go into one last row named [`OTHER_SITE`], and are counted.
//!
//! What it does not do: per-interval (windowed) figures. Every row is cumulative since the
//! start of the capture, as in HttShark.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::counters;
use crate::model::Transaction;
use crate::output::{write_atomically, write_atomically_private};
use crate::processor::stats::common::{
    check_interval, fixed3, opt, prepare_output, write_error, Pending, Schedule,
};
use crate::processor::stats::group_by::GroupBy;
use crate::processor::stats::histogram::LogHistogram;
use crate::processor::{Processor, ProcessorError};
use crate::time::Timestamp;

/// The name in `-har-processors`.
pub const NAME: &str = "sites-stats";

/// The row that aggregates the sites beyond `max_sites`. Parenthesised so that it cannot
/// be a Host header (parentheses are not allowed in a host, RFC 3986 §3.2.2).
pub const OTHER_SITE: &str = "(other)";

/// The header row.
pub const COLUMNS: [&str; 23] = [
    "site",
    "run_seconds",
    "total_bytes",
    "total_transactions",
    "bytes_per_second",
    "transactions_per_second",
    "average_transaction_bytes",
    "requests_without_response",
    "request_bytes",
    "response_bytes",
    "status_1xx",
    "status_2xx",
    "status_3xx",
    "status_4xx",
    "status_5xx",
    "status_other",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "request_min_bytes",
    "request_max_bytes",
    "response_min_bytes",
    "response_max_bytes",
];

/// Configuration of the `sites-stats` processor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SitesStatsConfig {
    /// The CSV file (`-sites-stats-file`, default `statistics.csv`).
    pub path: PathBuf,
    /// Packet time between two rewrites (`-stats-interval`, default 10 s; must be > 0).
    pub interval: Duration,
    /// What a site is (`-stats-group-by`, default `host`).
    pub group_by: GroupBy,
    /// Most sites with a row of their own (default 10 000); the first sites seen, in
    /// `completed_at` order, get them. Later sites are aggregated into [`OTHER_SITE`].
    /// Memory per site is about 0.5 KiB plus its latency histogram (at most 31 KiB).
    pub max_sites: usize,
}

/// Default `-sites-stats-file`.
pub const DEFAULT_PATH: &str = "statistics.csv";

/// Default of [`SitesStatsConfig::max_sites`].
pub const DEFAULT_MAX_SITES: usize = 10_000;

impl Default for SitesStatsConfig {
    fn default() -> Self {
        SitesStatsConfig {
            path: PathBuf::from(DEFAULT_PATH),
            interval: crate::processor::stats::common::DEFAULT_INTERVAL,
            group_by: GroupBy::Host,
            max_sites: DEFAULT_MAX_SITES,
        }
    }
}

counters! {
    /// What the `sites-stats` processor did.
    pub struct SitesStatsCounters {
        /// Transactions counted in the statistics.
        sites_stats_transactions,
        /// Sites that have a row of their own.
        sites_stats_sites,
        /// Transactions aggregated into the `(other)` row because `max_sites` was reached.
        sites_stats_overflow_transactions,
        /// Site keys cut at `MAX_SITE_KEY_BYTES`.
        sites_stats_keys_truncated,
        /// Times `MAX_PENDING` transactions were waiting for the watermark and were folded early.
        sites_stats_pending_limit_hits,
        /// Times the CSV file was rewritten.
        sites_stats_writes,
    }
}

/// What one transaction contributes, extracted on arrival. Field order is the fold order
/// after `completed_at` (connection id and depth identify a transaction in a run).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sample {
    conn_id: u64,
    depth: u32,
    first_ts: Timestamp,
    key: String,
    request_bytes: u64,
    response: Option<ResponseSample>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ResponseSample {
    status: u16,
    bytes: u64,
    latency_us: u64,
}

/// Cumulative figures of one site.
#[derive(Clone, Debug, Default)]
struct SiteStats {
    transactions: u64,
    request_bytes: u64,
    response_bytes: u64,
    unanswered: u64,
    /// 1xx, 2xx, 3xx, 4xx, 5xx, other.
    status: [u64; 6],
    latency_us: LogHistogram,
    request_min_max: Option<(u64, u64)>,
    response_min_max: Option<(u64, u64)>,
}

fn widen(range: Option<(u64, u64)>, v: u64) -> Option<(u64, u64)> {
    Some(range.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
}

#[cfg(test)]
fn union(a: Option<(u64, u64)>, b: Option<(u64, u64)>) -> Option<(u64, u64)> {
    match (a, b) {
        (Some((alo, ahi)), Some((blo, bhi))) => Some((alo.min(blo), ahi.max(bhi))),
        (x, None) | (None, x) => x,
    }
}

/// Index in `SiteStats::status` of a final status code.
fn status_class(status: u16) -> usize {
    match status {
        100..=599 => usize::from(status / 100 - 1),
        _ => 5,
    }
}

impl SiteStats {
    fn add(&mut self, s: &Sample) {
        self.transactions += 1;
        self.request_bytes = self.request_bytes.saturating_add(s.request_bytes);
        self.request_min_max = widen(self.request_min_max, s.request_bytes);
        match &s.response {
            None => self.unanswered += 1,
            Some(r) => {
                self.response_bytes = self.response_bytes.saturating_add(r.bytes);
                self.response_min_max = widen(self.response_min_max, r.bytes);
                if let Some(c) = self.status.get_mut(status_class(r.status)) {
                    *c += 1;
                }
                self.latency_us.record(r.latency_us);
            }
        }
    }

    #[cfg(test)]
    fn merge(&mut self, o: &SiteStats) {
        self.transactions += o.transactions;
        self.request_bytes = self.request_bytes.saturating_add(o.request_bytes);
        self.response_bytes = self.response_bytes.saturating_add(o.response_bytes);
        self.unanswered += o.unanswered;
        for (a, b) in self.status.iter_mut().zip(o.status) {
            *a += b;
        }
        self.latency_us.merge(&o.latency_us);
        self.request_min_max = union(self.request_min_max, o.request_min_max);
        self.response_min_max = union(self.response_min_max, o.response_min_max);
    }

    fn row(&self, site: &str, run_ns: Option<u64>) -> Vec<String> {
        let total = self.request_bytes.saturating_add(self.response_bytes);
        let ms = |p: f64| {
            self.latency_us
                .percentile(p)
                .map(|us| format!("{}.{:03}", us / 1000, us % 1000))
        };
        let per_second =
            |n: u64| run_ns.and_then(|d| fixed3(u128::from(n) * 1_000_000_000, u128::from(d)));
        let mut row = vec![
            site.to_string(),
            opt(run_ns.and_then(|d| fixed3(u128::from(d), 1_000_000_000))),
            total.to_string(),
            self.transactions.to_string(),
            opt(per_second(total)),
            opt(per_second(self.transactions)),
            opt(fixed3(u128::from(total), u128::from(self.transactions))),
            self.unanswered.to_string(),
            self.request_bytes.to_string(),
            self.response_bytes.to_string(),
        ];
        row.extend(self.status.iter().map(u64::to_string));
        row.extend([ms(50.0), ms(95.0), ms(99.0)].map(opt));
        row.extend([
            opt(self.request_min_max.map(|r| r.0)),
            opt(self.request_min_max.map(|r| r.1)),
            opt(self.response_min_max.map(|r| r.0)),
            opt(self.response_min_max.map(|r| r.1)),
        ]);
        debug_assert_eq!(row.len(), COLUMNS.len());
        row
    }
}

/// The `sites-stats` processor.
pub struct SitesStatsProcessor {
    cfg: SitesStatsConfig,
    sites: BTreeMap<String, SiteStats>,
    other: Option<SiteStats>,
    pending: Pending<(Sample, Timestamp)>,
    schedule: Schedule,
    /// Earliest request first byte folded.
    first_ts: Option<Timestamp>,
    /// Latest `now` seen, or latest `completed_at` folded if later.
    end: Option<Timestamp>,
    counters: SitesStatsCounters,
}

impl SitesStatsProcessor {
    /// Checks the configuration and that the CSV path is writable (creating its folder),
    /// so the command line can fail before the capture starts.
    pub fn new(cfg: SitesStatsConfig) -> Result<SitesStatsProcessor, ProcessorError> {
        check_interval(NAME, cfg.interval)?;
        prepare_output(NAME, &cfg.path)?;
        Ok(SitesStatsProcessor {
            schedule: Schedule::new(cfg.interval),
            cfg,
            sites: BTreeMap::new(),
            other: None,
            pending: Pending::default(),
            first_ts: None,
            end: None,
            counters: SitesStatsCounters::default(),
        })
    }

    pub fn counters(&self) -> &SitesStatsCounters {
        &self.counters
    }

    fn sample(&mut self, tx: &Transaction) -> Sample {
        let key = self.cfg.group_by.key(tx);
        if key.truncated {
            self.counters.sites_stats_keys_truncated += 1;
        }
        let request = &tx.request;
        let request_bytes = request.head_len.saturating_add(request.body.wire_len);
        Sample {
            conn_id: tx.conn.id,
            depth: tx.depth,
            first_ts: request.first_ts,
            key: key.key,
            request_bytes,
            response: tx.response.as_ref().map(|r| ResponseSample {
                status: r.status,
                // The response's share of `Transaction::wire_bytes` (interim heads included).
                bytes: tx.wire_bytes().saturating_sub(request_bytes),
                latency_us: r.last_ts.since(request.first_ts).as_micros() as u64,
            }),
        }
    }

    fn fold(&mut self, samples: Vec<(Sample, Timestamp)>) {
        for (s, completed_at) in samples {
            self.counters.sites_stats_transactions += 1;
            self.first_ts = Some(self.first_ts.map_or(s.first_ts, |t| t.min(s.first_ts)));
            self.end = Some(self.end.map_or(completed_at, |t| t.max(completed_at)));
            if let Some(site) = self.sites.get_mut(&s.key) {
                site.add(&s);
            } else if self.sites.len() < self.cfg.max_sites {
                let mut site = SiteStats::default();
                site.add(&s);
                self.sites.insert(s.key.clone(), site);
                self.counters.sites_stats_sites += 1;
            } else {
                self.counters.sites_stats_overflow_transactions += 1;
                self.other.get_or_insert_with(SiteStats::default).add(&s);
            }
        }
    }

    fn advance(&mut self, now: Timestamp) {
        self.end = Some(self.end.map_or(now, |t| t.max(now)));
    }

    fn write(&mut self) -> Result<(), ProcessorError> {
        let run_ns = match (self.first_ts, self.end) {
            (Some(first), Some(end)) => {
                Some(end.since(first).as_nanos().min(u128::from(u64::MAX)) as u64)
                    .filter(|d| *d > 0)
            }
            _ => None,
        };
        let rows = self
            .sites
            .iter()
            .map(|(site, st)| st.row(site, run_ns))
            .chain(self.other.iter().map(|st| st.row(OTHER_SITE, run_ns)));
        let table = |w: &mut std::io::BufWriter<std::fs::File>| {
            let mut csv = csv::Writer::from_writer(w);
            csv.write_record(COLUMNS)?;
            for row in rows {
                csv.write_record(&row)?;
            }
            csv.flush()
        };
        // Keys that can be secrets (a header's or query parameter's value, path segments)
        // make the file private, like a HAR file.
        if self.cfg.group_by.may_hold_secrets() {
            write_atomically_private(&self.cfg.path, table)
        } else {
            write_atomically(&self.cfg.path, table)
        }
        .map_err(|e| write_error(NAME, &self.cfg.path, e))?;
        self.counters.sites_stats_writes += 1;
        Ok(())
    }
}

impl Processor for SitesStatsProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn written(&self) -> Option<String> {
        let c = &self.counters;
        Some(if c.sites_stats_writes == 0 {
            format!("nothing written to {}", self.cfg.path.display())
        } else {
            format!(
                "{} ({} sites, {} transactions)",
                self.cfg.path.display(),
                c.sites_stats_sites,
                c.sites_stats_transactions
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
            self.counters.sites_stats_pending_limit_hits += 1;
            let all = self.pending.take_all();
            self.fold(all);
        }
        let sample = self.sample(tx);
        self.pending
            .push(tx.completed_at, (sample, tx.completed_at));
        Ok(())
    }

    fn on_tick(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        let ready = self.pending.take_upto(now);
        self.fold(ready);
        self.advance(now);
        if self.schedule.due(now) {
            self.write()?;
        }
        Ok(())
    }

    fn finish(&mut self, now: Timestamp) -> Result<(), ProcessorError> {
        let all = self.pending.take_all();
        self.fold(all);
        self.advance(now);
        self.write()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(key: &str, req: u64, resp: Option<(u16, u64, u64)>) -> Sample {
        Sample {
            conn_id: 1,
            depth: 1,
            first_ts: Timestamp(0),
            key: key.into(),
            request_bytes: req,
            response: resp.map(|(status, bytes, latency_us)| ResponseSample {
                status,
                bytes,
                latency_us,
            }),
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(status_class(100), 0);
        assert_eq!(status_class(204), 1);
        assert_eq!(status_class(399), 2);
        assert_eq!(status_class(404), 3);
        assert_eq!(status_class(599), 4);
        assert_eq!(status_class(600), 5);
        assert_eq!(status_class(99), 5);
        assert_eq!(status_class(0), 5);
    }

    #[test]
    fn totals_add_up_and_merge_equals_adding() {
        let samples = [
            sample("a", 100, Some((200, 1000, 5000))),
            sample("a", 50, None),
            sample("a", 70, Some((503, 10, 100))),
            sample("a", 80, Some((700, 20, 10))),
        ];
        let mut all = SiteStats::default();
        samples.iter().for_each(|s| all.add(s));
        assert_eq!(all.transactions, 4);
        assert_eq!(
            all.status.iter().sum::<u64>() + all.unanswered,
            all.transactions
        );
        assert_eq!(all.request_min_max, Some((50, 100)));
        assert_eq!(all.response_min_max, Some((10, 1000)));
        let mut a = SiteStats::default();
        let mut b = SiteStats::default();
        samples[..2].iter().for_each(|s| a.add(s));
        samples[2..].iter().for_each(|s| b.add(s));
        a.merge(&b);
        assert_eq!(a.row("a", Some(1)), all.row("a", Some(1)));
    }

    #[test]
    fn undefined_values_are_empty_fields() {
        let mut st = SiteStats::default();
        st.add(&sample("a", 10, None));
        let row = st.row("a", None);
        assert_eq!(row[1], "", "run_seconds");
        assert_eq!(row[4], "", "bytes_per_second");
        assert_eq!(row[16], "", "p50 without answered transactions");
        assert_eq!(row[21], "", "response_min_bytes");
        assert_eq!(row[6], "10.000", "average_transaction_bytes");
    }
}
