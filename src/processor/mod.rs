//! Processors: where transactions go. Each is behind the `Processor` trait, owned by the
//! processor thread (no locks), chosen with `-har-processors`.
//!
//! Time reaches processors only through `on_tick(now)` and `Transaction::completed_at`, so
//! the output of a replayed capture does not depend on the wall clock or on scheduling.

pub mod console;
pub mod har_file;
pub mod har_one;
pub mod metrics;
pub mod ndjson;
pub mod sampled;
pub mod sites_stats;
pub mod sizes_stats;
pub mod stats;

use std::fmt;
use std::path::{Path, PathBuf};

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
    /// What the processor wrote and where, for the end-of-run summary: one short line
    /// with the paths (`3 HAR files (120 entries) in out: out/a.har ... out/c.har`).
    /// None for processors that write no file.
    fn written(&self) -> Option<String> {
        None
    }
    /// Whether the processor reads body bytes (content or decoded content), not only
    /// sizes. When no processor of a run does, the workers count body bytes instead of
    /// storing them (`HttpCtx::keep_bodies`). True unless a processor says otherwise.
    fn reads_bodies(&self) -> bool {
        true
    }
    /// Whether the processor writes `har::entry_json` as it is: then the workers may encode
    /// each entry where its transaction completes (in parallel with `-workers N`, off the
    /// processor thread; `-har-encoding` and `pipeline::workers_encode` decide) and hand it
    /// to `on_encoded`.
    fn takes_har_json(&self) -> bool {
        false
    }
    /// `on_transaction`, with `tx`'s HAR entry as `har::entry_json` encodes it when a
    /// worker did (`takes_har_json`); a processor that writes it takes it out of `json`.
    fn on_encoded(
        &mut self,
        tx: &Transaction,
        json: &mut Option<Box<[u8]>>,
    ) -> Result<(), ProcessorError> {
        let _ = json;
        self.on_transaction(tx)
    }
}

/// `1 HAR file`, `3 HAR files`: `one` or `many` after the number.
pub fn count_of(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `first, second` for two files, `first ... last` for more: the summary names the files
/// a processor wrote without listing hundreds.
pub fn first_and_last(first: Option<&Path>, last: Option<&Path>, files: u64) -> String {
    match (first, last) {
        (Some(a), Some(b)) if files > 1 => {
            let sep = if files == 2 { ", " } else { " ... " };
            format!("{}{sep}{}", a.display(), b.display())
        }
        (Some(a), _) => a.display().to_string(),
        _ => String::new(),
    }
}

/// What the pipeline feeds: the processors, and the metrics registry they and the pipeline
/// publish to when `-metrics-listen` is given.
pub struct Outputs {
    pub processors: Vec<Box<dyn Processor>>,
    pub metrics: Option<crate::metrics::SharedMetrics>,
}

/// A processor named in `-har-processors`, with its settings: the one place a processor's
/// name, output paths and construction meet (Vector's component config). Each variant's
/// struct documents its fields and owns its defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessorConfig {
    File(har_file::HarFileConfig),
    SitesStats(sites_stats::SitesStatsConfig),
    TransactionsSizes(sizes_stats::SizesStatsConfig),
    SampledTransactions(sampled::SampledConfig),
    Ndjson(ndjson::NdjsonConfig),
    Console(console::ConsoleConfig),
}

/// Every processor name, in the order `-har-processors` errors list them.
pub const NAMES: [&str; 6] = [
    har_file::NAME,
    sites_stats::NAME,
    sizes_stats::NAME,
    sampled::NAME,
    ndjson::NAME,
    console::NAME,
];

/// How much of the memory budget the processors that hold entries may use, in bytes
/// (`config::MemoryShares`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeldBudget {
    /// HAR entries held until their export (`file`).
    pub har_held: usize,
    /// Sampled transactions held until their interval is written (`sampled-transactions`).
    pub sampled_held: usize,
}

impl ProcessorConfig {
    /// The name used in `-har-processors`.
    pub fn name(&self) -> &'static str {
        match self {
            ProcessorConfig::File(_) => har_file::NAME,
            ProcessorConfig::SitesStats(_) => sites_stats::NAME,
            ProcessorConfig::TransactionsSizes(_) => sizes_stats::NAME,
            ProcessorConfig::SampledTransactions(_) => sampled::NAME,
            ProcessorConfig::Ndjson(_) => ndjson::NAME,
            ProcessorConfig::Console(_) => console::NAME,
        }
    }

    /// Whether the processor writes whole HAR entries, bodies included (HAR files, NDJSON,
    /// sampled transactions): body bytes are then most of what it writes.
    pub fn writes_entries(&self) -> bool {
        matches!(
            self,
            ProcessorConfig::File(_)
                | ProcessorConfig::Ndjson(_)
                | ProcessorConfig::SampledTransactions(_)
        )
    }

    /// The folders this processor writes into after the capture starts, with the flag that
    /// names each: HAR files are created in their folder, CSV statistics are rewritten
    /// beside themselves (temporary file + rename). `ndjson` opens its file before the
    /// capture and only appends, and `console` writes to standard output: none.
    pub fn output_paths(&self) -> Vec<(&'static str, PathBuf)> {
        match self {
            ProcessorConfig::File(c) => vec![("-output-folder", c.folder.clone())],
            ProcessorConfig::SitesStats(c) => vec![("-sites-stats-file", parent(&c.path))],
            ProcessorConfig::TransactionsSizes(c) => vec![
                ("-requests-sizes-stats-file", parent(&c.requests_path)),
                ("-responses-sizes-stats-file", parent(&c.responses_path)),
            ],
            ProcessorConfig::SampledTransactions(c) => {
                vec![("-sampled-transactions-folder", c.folder.clone())]
            }
            ProcessorConfig::Ndjson(_) | ProcessorConfig::Console(_) => Vec::new(),
        }
    }

    /// Where the processor writes, for the startup line: `file -> out/`,
    /// `sites-stats -> statistics.csv`, `console -> stdout`.
    pub fn destination(&self) -> String {
        let place = match self {
            ProcessorConfig::File(c) => format!("{}/", c.folder.display()),
            ProcessorConfig::SitesStats(c) => c.path.display().to_string(),
            ProcessorConfig::TransactionsSizes(c) => format!(
                "{}, {}",
                c.requests_path.display(),
                c.responses_path.display()
            ),
            ProcessorConfig::SampledTransactions(c) => format!("{}/", c.folder.display()),
            ProcessorConfig::Ndjson(c) => match &c.path {
                Some(p) => p.display().to_string(),
                None => "stdout".to_string(),
            },
            ProcessorConfig::Console(_) => "stdout".to_string(),
        };
        format!("{} -> {place}", self.name())
    }

    /// Opens the processor's outputs (creating folders, proving them writable) and returns
    /// it, ready for the capture. Fails before any capture starts.
    pub fn build(&self, budget: HeldBudget) -> Result<Box<dyn Processor>, ProcessorError> {
        Ok(match self {
            ProcessorConfig::File(c) => Box::new(
                har_file::HarFileProcessor::new(c.folder.clone(), c.split_by_host, c.interval)?
                    .with_limits(har_file::HarFileLimits {
                        max_held_bytes: budget.har_held as u64,
                        // An eighth of the share (16 MiB of the default 128 MiB).
                        reorder_bytes: (budget.har_held as u64 / 8).min(har_file::REORDER_BYTES),
                        ..har_file::HarFileLimits::default()
                    }),
            ),
            ProcessorConfig::SitesStats(c) => {
                Box::new(sites_stats::SitesStatsProcessor::new(c.clone())?)
            }
            ProcessorConfig::TransactionsSizes(c) => {
                Box::new(sizes_stats::SizesStatsProcessor::new(c.clone())?)
            }
            ProcessorConfig::SampledTransactions(c) => Box::new(
                sampled::SampledProcessor::new(c.clone())?.with_limits(sampled::SampledLimits {
                    max_held_bytes: budget.sampled_held as u64,
                    ..sampled::SampledLimits::default()
                }),
            ),
            ProcessorConfig::Ndjson(c) => Box::new(ndjson::NdjsonProcessor::new(c.clone())?),
            ProcessorConfig::Console(c) => Box::new(console::ConsoleProcessor::stdout(c.clone())),
        })
    }
}

/// The folder a file path is written in (`.` for a bare name).
fn parent(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Builds `processors` in order (plus the metrics processor and its registry with
/// `-metrics-listen`); fails, before any capture starts, when an output location is not
/// writable.
pub fn build(
    processors: &[ProcessorConfig],
    budget: HeldBudget,
    metrics_listen: bool,
    har: Option<&Path>,
) -> Result<Outputs, ProcessorError> {
    let mut out = Vec::with_capacity(processors.len() + 2);
    for p in processors {
        out.push(p.build(budget)?);
    }
    // `-har FILE` (after the named processors, before the metrics that count them all).
    if let Some(path) = har {
        out.push(Box::new(har_one::HarOneProcessor::new(
            path.to_path_buf(),
            budget.har_held,
        )?));
    }
    // Every counter at 0 from the first scrape, before the pipeline reports any.
    let metrics = metrics_listen
        .then(|| crate::metrics::SharedMetrics::registered(&crate::counters::run_names(&out)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_come_from_the_configs() {
        let all = [
            ProcessorConfig::File(Default::default()),
            ProcessorConfig::SitesStats(Default::default()),
            ProcessorConfig::TransactionsSizes(Default::default()),
            ProcessorConfig::SampledTransactions(Default::default()),
            ProcessorConfig::Ndjson(Default::default()),
            ProcessorConfig::Console(Default::default()),
        ];
        let names: Vec<_> = all.iter().map(ProcessorConfig::name).collect();
        assert_eq!(names, NAMES);
        assert_eq!(
            all[2].output_paths(),
            [
                ("-requests-sizes-stats-file", PathBuf::from(".")),
                ("-responses-sizes-stats-file", PathBuf::from("."))
            ]
        );
        let sites = ProcessorConfig::SitesStats(sites_stats::SitesStatsConfig {
            path: PathBuf::from("a/b.csv"),
            ..Default::default()
        });
        assert_eq!(
            sites.output_paths(),
            [("-sites-stats-file", PathBuf::from("a"))]
        );
        assert!(all[4].output_paths().is_empty() && all[5].output_paths().is_empty());
        assert_eq!(sites.destination(), "sites-stats -> a/b.csv");
        assert_eq!(all[5].destination(), "console -> stdout");
        assert_eq!(all[4].destination(), "ndjson -> stdout");
    }

    #[test]
    fn build_names_the_processor_whose_output_fails() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plain");
        std::fs::write(&file, b"x").unwrap();
        let bad = ProcessorConfig::SampledTransactions(sampled::SampledConfig {
            folder: file.join("sub"),
            ..Default::default()
        });
        let Err(e) = build(&[bad], HeldBudget::default(), false, None) else {
            panic!("a folder under a file was accepted")
        };
        assert_eq!(e.processor, sampled::NAME);
        let ok = build(
            &[ProcessorConfig::Console(Default::default())],
            HeldBudget::default(),
            true,
            None,
        )
        .unwrap();
        assert_eq!(ok.processors.len(), 2);
        assert!(ok.metrics.is_some());
    }
}
