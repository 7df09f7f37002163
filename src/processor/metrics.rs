//! The metrics processor (`-metrics-listen`): counts transactions per site and status
//! class, observes their latency, and publishes a copy into the shared registry that the
//! metrics server renders on every tick.
//!
//! What it does not do: serve HTTP or render the exposition format (`crate::metrics`).

use crate::metrics::{SharedMetrics, SiteMetrics, DEFAULT_BUCKETS};
use crate::model::Transaction;
use crate::processor::{Processor, ProcessorError};
use crate::time::Timestamp;

/// The `metrics` processor: per-site counts and latencies, published on each tick.
pub struct MetricsProcessor {
    sites: SiteMetrics,
    shared: SharedMetrics,
    dirty: bool,
}

impl MetricsProcessor {
    pub fn new(max_sites: usize, shared: SharedMetrics) -> MetricsProcessor {
        MetricsProcessor {
            sites: SiteMetrics::new(max_sites, DEFAULT_BUCKETS),
            shared,
            dirty: false,
        }
    }

    pub fn sites(&self) -> &SiteMetrics {
        &self.sites
    }

    fn publish(&mut self) {
        if self.dirty {
            self.shared.set_sites(self.sites.clone());
            self.dirty = false;
        }
    }
}

impl Processor for MetricsProcessor {
    fn name(&self) -> &'static str {
        "metrics"
    }

    /// Host, status and times only.
    fn reads_bodies(&self) -> bool {
        false
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        let status = tx.response.as_ref().map(|r| r.status);
        let latency = tx
            .response
            .as_ref()
            .map(|r| r.first_ts.since(tx.request.last_ts));
        self.sites.record(&tx.host(), status, latency);
        self.dirty = true;
        Ok(())
    }

    fn on_tick(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        self.publish();
        Ok(())
    }

    fn finish(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        self.publish();
        Ok(())
    }
}
