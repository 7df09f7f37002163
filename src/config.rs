//! The resolved configuration: what `cli` validated, turned into the values and limits the
//! pipeline is built from. Every limit lives here with its documented default.

use std::path::PathBuf;
use std::time::Duration;

use crate::hosts::ServerSet;
use crate::http::HttpLimits;
use crate::processor::stats::group_by::GroupBy;
use crate::reassembly::ReassemblyLimits;

/// Where packets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A live interface (`-device eth0`, or `any`).
    Device(String),
    /// A pcap or pcapng file.
    File(PathBuf),
    /// A pcap or pcapng stream on standard input (`-file -`).
    Stdin,
}

/// A processor named in `-har-processors`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProcessorKind {
    File,
    SitesStats,
    TransactionsSizes,
    SampledTransactions,
    Ndjson,
    Console,
}

impl ProcessorKind {
    pub const ALL: &'static [(&'static str, ProcessorKind)] = &[
        ("file", ProcessorKind::File),
        ("sites-stats", ProcessorKind::SitesStats),
        ("transactions-sizes", ProcessorKind::TransactionsSizes),
        ("sampled-transactions", ProcessorKind::SampledTransactions),
        ("ndjson", ProcessorKind::Ndjson),
        ("console", ProcessorKind::Console),
    ];

    pub fn parse(name: &str) -> Option<ProcessorKind> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }
}

#[derive(Clone, Debug)]
pub struct Config {
    pub source: Source,
    pub servers: ServerSet,
    /// The capture filter: `-bpf`, else the one built from `-hosts`.
    pub bpf: String,
    pub snaplen: i32,
    /// Kernel capture buffer in bytes (`-buffer-size`).
    pub buffer_size: i32,
    pub response_check_interval: Duration,
    pub export_interval: Duration,
    pub output_folder: PathBuf,
    pub split_by_host: bool,
    pub processors: Vec<ProcessorKind>,
    /// Worker threads that decode, reassemble and parse; connections are sharded over
    /// them by a symmetric hash of the 4-tuple.
    pub workers: usize,
    /// Capacity, in packet batches, of each channel between stages.
    pub channel_capacity: usize,
    /// `-memory-limit`: the global memory budget in bytes, split by `memory_shares`.
    pub memory_limit: usize,
    pub verbose: u8,
    pub http: HttpLimits,
    pub reassembly: ReassemblyLimits,
    pub stats: StatsConfig,
    pub outputs: OutputsConfig,
    pub log: crate::log::LogConfig,
    /// Which bodies keep their bytes (`-drop-content-type`, `-keep-content-type`).
    pub bodies: crate::transform::body_select::BodySelector,
    /// `-metrics-listen`: serve Prometheus metrics on this address.
    pub metrics_listen: Option<String>,
    /// `-redact-headers`: header values replaced by a marker before any processor sees them.
    pub redaction: crate::transform::redact::Redaction,
    /// `-Z USER`: the user the process becomes once the capture and the outputs are open.
    pub run_as: Option<crate::privileges::User>,
}

/// Settings of the `console`, `ndjson` and `sampled-transactions` processors.
#[derive(Clone, Debug)]
pub struct OutputsConfig {
    pub console: crate::processor::console::ConsoleConfig,
    /// `-ndjson-file`: `-` is standard output.
    pub ndjson_file: String,
    /// `-sample-transactions-rate`: transactions sampled per `-stats-interval`.
    pub sample_rate: usize,
    /// `-sampled-transactions-folder`.
    pub sampled_folder: PathBuf,
}

impl Default for OutputsConfig {
    fn default() -> Self {
        OutputsConfig {
            console: crate::processor::console::ConsoleConfig::default(),
            ndjson_file: "-".into(),
            sample_rate: 1,
            sampled_folder: PathBuf::from("sampled"),
        }
    }
}

/// Settings of the statistics processors (`sites-stats`, `transactions-sizes`).
#[derive(Clone, Debug)]
pub struct StatsConfig {
    /// How often (packet time) the CSV files are rewritten (`-stats-interval`).
    pub interval: Duration,
    /// `-sites-stats-file`.
    pub sites_file: PathBuf,
    /// `-stats-group-by`: what a "site" is.
    pub group_by: GroupBy,
    /// Sites tracked at most; the rest are summed into one `(other)` row.
    pub max_sites: usize,
    /// `-requests-sizes-stats-file`.
    pub requests_sizes_file: PathBuf,
    /// `-responses-sizes-stats-file`.
    pub responses_sizes_file: PathBuf,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            interval: Duration::from_secs(10),
            sites_file: PathBuf::from("statistics.csv"),
            group_by: GroupBy::Host,
            max_sites: crate::processor::sites_stats::DEFAULT_MAX_SITES,
            requests_sizes_file: PathBuf::from("requests_sizes.csv"),
            responses_sizes_file: PathBuf::from("responses_sizes.csv"),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: Source::Stdin,
            servers: ServerSet::default(),
            bpf: "tcp".into(),
            snaplen: 262_144,
            buffer_size: 32 << 20,
            response_check_interval: Duration::from_secs(10),
            export_interval: Duration::from_secs(10),
            output_folder: PathBuf::from("."),
            split_by_host: true,
            processors: vec![ProcessorKind::File],
            workers: 1,
            channel_capacity: 16,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            verbose: 0,
            http: HttpLimits::default(),
            reassembly: ReassemblyLimits::default(),
            stats: StatsConfig::default(),
            outputs: OutputsConfig::default(),
            log: crate::log::LogConfig::default(),
            bodies: crate::transform::body_select::BodySelector::new(
                crate::transform::body_select::DEFAULT_DROP,
                None,
            )
            .expect("the default drop list is valid"),
            metrics_listen: None,
            redaction: crate::transform::redact::Redaction::default(),
            run_as: None,
        }
    }
}

/// Default of `-memory-limit`.
pub const DEFAULT_MEMORY_LIMIT: usize = 512 << 20;

/// How `-memory-limit` is split between the stages that hold data. Each stage enforces its
/// share on its own, so a replay gives the same output whatever the thread scheduling
/// (a shared counter would make which connection gets evicted depend on timing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryShares {
    /// Per worker: connection state, out-of-order data, heads, bodies, pending requests
    /// (`ReassemblyLimits::memory_budget`). Half the budget, split over the workers.
    pub per_worker: usize,
    /// Transactions on their way from the workers to the processors (1/8).
    pub in_flight: usize,
    /// HAR entries held until their export (`HarFileLimits::max_held_bytes`, 1/4).
    pub har_held: usize,
    /// Sampled transactions held until their interval is written (1/8).
    pub sampled_held: usize,
}

impl Config {
    pub fn memory_shares(&self) -> MemoryShares {
        let m = self.memory_limit;
        MemoryShares {
            per_worker: m / 2 / self.workers.max(1),
            in_flight: m / 8,
            har_held: m / 4,
            sampled_held: m / 8,
        }
    }
}
