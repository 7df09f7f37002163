//! Processors: where transactions go. Each is behind the `Processor` trait, owned by the
//! processor thread (no locks), chosen with `-har-processors`.
//!
//! Time reaches processors only through `on_tick(now)` and `Transaction::completed_at`, so
//! the output of a replayed capture does not depend on the wall clock or on scheduling.

pub mod console;
pub mod har_file;
pub mod metrics;
pub mod ndjson;
pub mod sampled;
pub mod sites_stats;
pub mod sizes_stats;
pub mod stats;

use std::fmt;

use crate::model::Transaction;
use crate::time::Timestamp;

/// An output failure. Fatal for the processor's current write; the pipeline reports it.
#[derive(Debug)]
pub struct ProcessorError {
    pub processor: &'static str,
    pub message: String,
}

impl fmt::Display for ProcessorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.processor, self.message)
    }
}

impl std::error::Error for ProcessorError {}

/// A consumer of transactions (ripgrep's push-style Sink, Vector's sink component).
pub trait Processor: Send {
    /// The name used in `-har-processors`.
    fn name(&self) -> &'static str;
    /// A transaction completed.
    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError>;
    /// Time advanced to `now`: every transaction with `completed_at <= now` has been seen.
    fn on_tick(&mut self, now: Timestamp) -> Result<(), ProcessorError>;
    /// The capture ended at `now`: write everything still held.
    fn finish(&mut self, now: Timestamp) -> Result<(), ProcessorError>;
    /// Calls `f(name, value)` for each of the processor's counters (files written, ...).
    fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        let _ = f;
    }
}

/// What the pipeline feeds: the processors, and the metrics registry they and the pipeline
/// publish to when `-metrics-listen` is given.
pub struct Outputs {
    pub processors: Vec<Box<dyn Processor>>,
    pub metrics: Option<crate::metrics::SharedMetrics>,
}

/// Builds the processors named in `-har-processors` (plus the metrics processor with
/// `-metrics-listen`), creating output folders; fails (before any capture starts) when an
/// output location is not writable.
pub fn build(config: &crate::config::Config) -> Result<Outputs, ProcessorError> {
    use crate::config::ProcessorKind;
    let mut out: Vec<Box<dyn Processor>> = Vec::new();
    let shares = config.memory_shares();
    for kind in &config.processors {
        match kind {
            ProcessorKind::File => out.push(Box::new(
                har_file::HarFileProcessor::new(
                    config.output_folder.clone(),
                    config.split_by_host,
                    config.export_interval,
                )?
                .with_limits(har_file::HarFileLimits {
                    max_held_bytes: shares.har_held as u64,
                }),
            )),
            ProcessorKind::SitesStats => out.push(Box::new(sites_stats::SitesStatsProcessor::new(
                sites_stats::SitesStatsConfig {
                    path: config.stats.sites_file.clone(),
                    interval: config.stats.interval,
                    group_by: config.stats.group_by.clone(),
                    max_sites: config.stats.max_sites,
                },
            )?)),
            ProcessorKind::TransactionsSizes => out.push(Box::new(
                sizes_stats::SizesStatsProcessor::new(sizes_stats::SizesStatsConfig {
                    requests_path: config.stats.requests_sizes_file.clone(),
                    responses_path: config.stats.responses_sizes_file.clone(),
                    interval: config.stats.interval,
                })?,
            )),
            ProcessorKind::SampledTransactions => out.push(Box::new(
                sampled::SampledProcessor::new(sampled::SampledConfig {
                    folder: config.outputs.sampled_folder.clone(),
                    rate: config.outputs.sample_rate,
                    interval: config.stats.interval,
                })?
                .with_limits(sampled::SampledLimits {
                    max_held_bytes: shares.sampled_held as u64,
                    ..sampled::SampledLimits::default()
                }),
            )),
            ProcessorKind::Ndjson => out.push(Box::new(ndjson::NdjsonProcessor::new(
                ndjson::NdjsonConfig::from_flag(&config.outputs.ndjson_file),
            )?)),
            ProcessorKind::Console => out.push(Box::new(console::ConsoleProcessor::stdout(
                config.outputs.console.clone(),
            ))),
        }
    }
    let metrics = config
        .metrics_listen
        .as_ref()
        .map(|_| crate::metrics::SharedMetrics::new());
    if let Some(shared) = &metrics {
        out.push(Box::new(metrics::MetricsProcessor::new(
            crate::metrics::DEFAULT_MAX_SITES,
            shared.clone(),
        )));
    }
    Ok(Outputs {
        processors: out,
        metrics,
    })
}
