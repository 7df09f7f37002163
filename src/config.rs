//! The resolved configuration: what `cli` validated, turned into the values and limits the
//! pipeline is built from. Limits and settings live with the component that uses them
//! (`HttpLimits`, `ReassemblyLimits`, each processor's config, `LogConfig`), each with its
//! documented default; this gathers them, and holds the run-wide ones.
//!
//! What it does not do: parse flags (`cli`) or open anything (processors open their
//! outputs, `capture` the packet source).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::hosts::ServerSet;
use crate::http::HttpLimits;
use crate::log::LogConfig;
use crate::privileges::User;
use crate::processor::{HeldBudget, ProcessorConfig};
use crate::reassembly::ReassemblyLimits;
use crate::transform::{BodySelector, Redaction};

/// Largest snapshot length libpcap accepts (its `MAXIMUM_SNAPLEN`); the default `-snaplen`.
pub const MAX_SNAPLEN: i32 = 262_144;
/// Default `-buffer-size`: the kernel capture buffer, in bytes. 64 MiB: a replay of real
/// traffic at 400,000 packets/s (3.9 Gbit/s, tcpreplay on one of 2 cores) lost nothing in
/// 3 of 3 runs, against 14-15,754 packets in 5 runs at 32 MiB (docs/benchmarks.md, "Live
/// replay"). It is mapped into the process and counted in its RSS as the kernel fills it
/// (Zeek's AF_Packet default is 128 MiB).
pub const DEFAULT_BUFFER_SIZE: i32 = 64 << 20;
/// Default `-hosts` (HttShark's): port 80 on any address.
pub const DEFAULT_HOSTS: &str = ":80";
/// Default `-hosts` when TLS secrets are given (`-tls-keylog`, or a pcapng file's
/// Decryption Secrets Blocks) and neither `-hosts` nor `-bpf` is: HTTPS's port as well, so
/// `httshark -file capture.pcapng -tls-keylog keys.log` finds the HTTPS it was given keys for.
pub const DEFAULT_HOSTS_WITH_TLS: &str = ":80,:443";
/// Default `-workers`.
pub const DEFAULT_WORKERS: u16 = 1;
/// Default `-response-check-interval`.
pub const DEFAULT_RESPONSE_CHECK_INTERVAL: Duration = Duration::from_secs(10);

/// Where an output path from the command line (`-sites-stats-file`, `-log-snapshot-file`,
/// ...) is written: an absolute path as given, a relative one under `-output-folder`, so
/// every file a run writes goes under that folder unless a flag says otherwise (issue 13).
/// With the default folder `.` a relative path stays as given (the same file).
pub fn under_output_folder(folder: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() || folder == Path::new(".") {
        path.to_path_buf()
    } else {
        folder.join(path)
    }
}

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
    /// `-output-folder`: prepared (created, proven writable) before the capture starts,
    /// whichever processors run; the `file` processor writes its HAR files there.
    pub output_folder: PathBuf,
    /// The processors, in `-har-processors` order.
    pub processors: Vec<ProcessorConfig>,
    /// `-stats-interval`: how often (packet time) the stats line is printed; the
    /// statistics processors carry their own copy.
    pub stats_interval: Duration,
    /// Worker threads that decode, reassemble and parse; connections are sharded over
    /// them by a symmetric hash of the 4-tuple.
    pub workers: usize,
    /// `-har-encoding`: which threads encode HAR entries.
    pub har_encoding: HarEncoding,
    /// `-overload`: what a worker does when the outputs are behind.
    pub overload: Overload,
    /// Capacity, in packet batches, of the channels between stages (the packet queue is
    /// shared by the workers, at least 2 each). 4 by default: enough to
    /// keep a worker busy while the capture thread is descheduled (the kernel ring, not
    /// this queue, absorbs live bursts). Offline the capture thread is always ahead, so
    /// every queued batch is memory not charged to the budget (up to 1 MiB each), and the
    /// queue is how far one worker can run ahead of another: 16 batches were 10-16 MiB per
    /// worker and, with two workers on real traffic, more skew than the HAR reorder buffer
    /// absorbs (late entries, files merged at export; docs/benchmarks.md).
    pub channel_capacity: usize,
    /// `-memory-limit`: the global memory budget in bytes, split by `memory_shares`.
    pub memory_limit: usize,
    pub http: HttpLimits,
    pub reassembly: ReassemblyLimits,
    /// The logger, with `-verbose` (the one place verbosity is stored).
    pub log: LogConfig,
    /// Which bodies keep their bytes (`-drop-content-type`, `-keep-content-type`).
    pub bodies: BodySelector,
    /// `-metrics-listen`: serve Prometheus metrics on this address.
    pub metrics_listen: Option<String>,
    /// `-redact-headers`: header values replaced by a marker before any processor sees them.
    pub redaction: Redaction,
    /// `-Z USER`: the user the process becomes once the capture and the outputs are open.
    pub run_as: Option<User>,
    /// `-c COUNT`: stop after this many packets (that matched the filter).
    pub count: Option<u64>,
    /// `-duration`: stop after this much capture time (from the first packet of a file,
    /// from the start of a live capture).
    pub duration: Option<Duration>,
    /// `-file-pace`, in thousandths: a file read at its packets' pace times this factor
    /// (0: as fast as it can be read).
    pub file_pace_milli: u32,
    /// Where `bpf` came from, as the summary names it: `-hosts :80` or `-bpf`.
    pub filter_origin: String,
    /// Neither `-hosts` nor `-bpf` was given (nor `-- COMMAND`, which watches everything):
    /// TLS secrets widen the default to `DEFAULT_HOSTS_WITH_TLS`.
    pub hosts_defaulted: bool,
    /// `-counters` (or `-verbose` 3 and up): the full counter table at the end.
    pub print_counters: bool,
    /// TLS decryption (`-tls-keylog`, `-tls-keylog-wait`).
    pub tls: TlsConfig,
    /// `-ui`: the live web view, when asked for.
    pub ui: Option<crate::ui::UiConfig>,
    /// Process attribution (`-attribution`, live captures only; `src/attrib`).
    pub attribution: bool,
    /// `-attribution-immediate`: libpcap immediate mode for attribution.
    pub attribution_immediate: bool,
    /// `-process NAME|PID`: only these processes' (and their descendants') traffic.
    pub process_filter: Option<crate::attrib::ProcessFilter>,
    /// `-har FILE`: every transaction in one HAR file, written at the end.
    pub har: Option<PathBuf>,
    /// `-- COMMAND [ARGS...]`: the program to run and capture.
    pub command: Option<CommandConfig>,
}

/// `httshark [flags] -- COMMAND [ARGS...]` (issue 15).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandConfig {
    pub argv: Vec<std::ffi::OsString>,
    /// `-command-as-root`: allowed to run COMMAND as root.
    pub as_root: bool,
}

/// Where TLS secrets come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    /// `-tls-keylog`: NSS key log files, in the order given.
    pub keylogs: Vec<PathBuf>,
    /// `-tls-keylog-wait`: how long records wait for their keys in a live capture.
    pub wait: Duration,
    /// `-tls-pickup-trial`: TLS 1.3 connections picked up without their ClientHello are
    /// tried against the key log's secrets.
    pub pickup_trial: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            keylogs: Vec::new(),
            wait: crate::tls::DEFAULT_KEYLOG_WAIT,
            pickup_trial: false,
        }
    }
}

/// Which threads encode the HAR entries of a processor that writes them as they are
/// (`-har-encoding`; `pipeline::workers_encode` decides `Auto`). Either way the bytes are
/// the same: the transaction is final when it leaves its worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HarEncoding {
    /// The workers when there are two or more and the capture is live or every thread of
    /// the pipeline (the capture thread, the workers, the processor thread) has a CPU of
    /// its own; else the processor thread.
    #[default]
    Auto,
    /// The workers, in parallel, each as its transactions leave it.
    Workers,
    /// The processor thread, the one that writes them.
    Processor,
}

impl HarEncoding {
    /// The value of `-har-encoding`.
    pub fn parse(s: &str) -> Result<HarEncoding, String> {
        match s {
            "auto" => Ok(HarEncoding::Auto),
            "workers" => Ok(HarEncoding::Workers),
            "processor" => Ok(HarEncoding::Processor),
            _ => Err(format!(
                "invalid value {s:?}: give auto, workers or processor"
            )),
        }
    }
}

/// What a worker does when its transactions do not fit into its share of the bytes in
/// flight to the processor thread, i.e. the outputs are behind (`-overload`;
/// `transform::overload`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overload {
    /// `DropBodies` on a live capture, `Wait` when reading a file (a replay then gives the
    /// same output however fast the machine writes).
    #[default]
    Auto,
    /// Drop the body bytes of the largest transactions until the rest fits (sizes exact,
    /// messages flagged `body-dropped-outputs-behind`): every transaction is kept, and the
    /// capture is not slowed.
    DropBodies,
    /// Wait for the outputs: nothing is dropped here, but the capture slows, and live the
    /// kernel drops packets once its buffer is full.
    Wait,
}

impl Overload {
    /// The value of `-overload`.
    pub fn parse(s: &str) -> Result<Overload, String> {
        match s {
            "auto" => Ok(Overload::Auto),
            "drop-bodies" => Ok(Overload::DropBodies),
            "wait" => Ok(Overload::Wait),
            _ => Err(format!(
                "invalid value {s:?}: give auto, drop-bodies or wait"
            )),
        }
    }

    /// Whether a worker drops body bytes rather than wait, on a capture live or not.
    pub fn drops_bodies(self, live: bool) -> bool {
        match self {
            Overload::Auto => live,
            Overload::DropBodies => true,
            Overload::Wait => false,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            source: Source::Stdin,
            servers: ServerSet::default(),
            bpf: "tcp".into(),
            snaplen: MAX_SNAPLEN,
            buffer_size: DEFAULT_BUFFER_SIZE,
            response_check_interval: DEFAULT_RESPONSE_CHECK_INTERVAL,
            output_folder: PathBuf::from(crate::processor::har_file::DEFAULT_FOLDER),
            processors: vec![ProcessorConfig::File(Default::default())],
            stats_interval: crate::processor::stats::common::DEFAULT_INTERVAL,
            workers: DEFAULT_WORKERS as usize,
            har_encoding: HarEncoding::Auto,
            overload: Overload::Auto,
            channel_capacity: 4,
            memory_limit: DEFAULT_MEMORY_LIMIT,
            http: HttpLimits::default(),
            reassembly: ReassemblyLimits::default(),
            log: LogConfig::default(),
            bodies: BodySelector::new(crate::transform::body_select::DEFAULT_DROP, None)
                .expect("the default drop list is valid"),
            metrics_listen: None,
            redaction: Redaction::default(),
            run_as: None,
            count: None,
            duration: None,
            file_pace_milli: 0,
            filter_origin: String::new(),
            hosts_defaulted: false,
            print_counters: false,
            tls: TlsConfig::default(),
            ui: None,
            attribution: false,
            attribution_immediate: false,
            process_filter: None,
            har: None,
            command: None,
        }
    }
}

/// Default of `-memory-limit`.
pub const DEFAULT_MEMORY_LIMIT: usize = 512 << 20;

/// Most bytes of transactions in flight between the workers and the processor thread,
/// whatever `-memory-limit` (issue 12): when the processor thread is the slower stage
/// (writing HAR), the workers run ahead only this far, so peak memory does not grow with
/// the rate. Waiting only delays; a transaction larger than it still passes alone.
pub const IN_FLIGHT_CAP: usize = 16 << 20;

/// How `-memory-limit` is split between the stages that hold data. Each stage enforces its
/// share on its own, so a replay gives the same output whatever the thread scheduling
/// (a shared counter would make which connection gets evicted depend on timing).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryShares {
    /// Per worker: connection state, out-of-order data, heads, bodies, pending requests
    /// (`ReassemblyLimits::memory_budget`). Half the budget, split over the workers.
    pub per_worker: usize,
    /// Transactions on their way from the workers to the processors (1/8, at most
    /// `IN_FLIGHT_CAP`).
    pub in_flight: usize,
    /// HAR entries held until their export (`HarFileLimits::max_held_bytes`, 1/4).
    pub har_held: usize,
    /// Sampled transactions held until their interval is written (1/8).
    pub sampled_held: usize,
}

impl MemoryShares {
    /// The processors' part of the budget.
    pub fn held(&self) -> HeldBudget {
        HeldBudget {
            har_held: self.har_held,
            sampled_held: self.sampled_held,
        }
    }
}

impl Config {
    /// TLS secrets are at hand (`-tls-keylog`, or a pcapng file's Decryption Secrets
    /// Blocks): when the user chose neither `-hosts` nor `-bpf`, watch
    /// `DEFAULT_HOSTS_WITH_TLS` instead of plain HTTP's `DEFAULT_HOSTS`. Says whether it
    /// changed the filter (the caller tells the user).
    pub fn watch_https_by_default(&mut self) -> bool {
        if !self.hosts_defaulted {
            return false;
        }
        self.hosts_defaulted = false;
        self.servers =
            ServerSet::parse(DEFAULT_HOSTS_WITH_TLS).expect("the default hosts list is valid");
        self.bpf = self.servers.bpf();
        self.filter_origin = format!("-hosts {DEFAULT_HOSTS_WITH_TLS}");
        true
    }

    /// Every folder an output writes into after the capture starts, with the flag that
    /// names it (each folder once, first flag wins): `-output-folder`, then the
    /// processors' (`ProcessorConfig::output_paths`), then the log snapshot's. `-Z` hands
    /// the new ones to USER and probes them all as USER.
    pub fn output_folders(&self) -> Vec<(&'static str, PathBuf)> {
        let mut v: Vec<(&'static str, PathBuf)> =
            vec![("-output-folder", self.output_folder.clone())];
        // A fixed order, whatever the order of -har-processors, so the folder named in an
        // error does not depend on it.
        let mut processors: Vec<&ProcessorConfig> = self.processors.iter().collect();
        processors.sort_by_key(|p| folder_rank(p));
        for p in processors {
            v.extend(p.output_paths());
        }
        if self.log.snapshot.active() {
            let file = &self.log.snapshot.file;
            let dir = match file.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            v.push(("-log-snapshot-file", dir));
        }
        let mut seen: Vec<PathBuf> = Vec::new();
        v.retain(|(_, p)| {
            let fresh = !seen.contains(p);
            seen.push(p.clone());
            fresh
        });
        v
    }

    /// The files the outputs create before the capture starts (the `ndjson` file, the log
    /// snapshot): with `output_folders`, what a refused run removes again when it created
    /// them (`output::Undo`).
    pub fn output_files(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        for p in &self.processors {
            if let ProcessorConfig::Ndjson(crate::processor::ndjson::NdjsonConfig {
                path: Some(path),
            }) = p
            {
                v.push(path.clone());
            }
        }
        if self.log.snapshot.active() {
            v.push(self.log.snapshot.file.clone());
        }
        v
    }

    /// The processor named `name`, when it runs.
    pub fn processor(&self, name: &str) -> Option<&ProcessorConfig> {
        self.processors.iter().find(|p| p.name() == name)
    }

    pub fn memory_shares(&self) -> MemoryShares {
        let m = self.memory_limit;
        MemoryShares {
            per_worker: m / 2 / self.workers.max(1),
            in_flight: (m / 8).min(IN_FLIGHT_CAP),
            har_held: m / 4,
            sampled_held: m / 8,
        }
    }
}

/// The order `output_folders` lists the processors' folders in.
fn folder_rank(p: &ProcessorConfig) -> u8 {
    match p {
        ProcessorConfig::File(_) => 0,
        ProcessorConfig::SampledTransactions(_) => 1,
        ProcessorConfig::SitesStats(_) => 2,
        ProcessorConfig::TransactionsSizes(_) => 3,
        ProcessorConfig::Ndjson(_) => 4,
        ProcessorConfig::Console(_) => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::processor::{sampled, sites_stats, sizes_stats};

    #[test]
    fn output_folders_follow_the_processors() {
        let file = ProcessorConfig::File(crate::processor::har_file::HarFileConfig {
            folder: PathBuf::from("out"),
            ..Default::default()
        });
        let mut c = Config {
            output_folder: PathBuf::from("out"),
            processors: vec![file],
            ..Config::default()
        };
        assert_eq!(
            c.output_folders(),
            [("-output-folder", PathBuf::from("out"))]
        );
        c.processors = vec![
            ProcessorConfig::File(crate::processor::har_file::HarFileConfig {
                folder: PathBuf::from("out"),
                ..Default::default()
            }),
            ProcessorConfig::SitesStats(sites_stats::SitesStatsConfig {
                path: PathBuf::from("stats/s.csv"),
                ..Default::default()
            }),
            ProcessorConfig::TransactionsSizes(sizes_stats::SizesStatsConfig {
                requests_path: PathBuf::from("stats/r.csv"),
                responses_path: PathBuf::from("x.csv"),
                ..Default::default()
            }),
            ProcessorConfig::SampledTransactions(sampled::SampledConfig {
                folder: PathBuf::from("out"),
                ..Default::default()
            }),
        ];
        let got: Vec<PathBuf> = c.output_folders().into_iter().map(|(_, p)| p).collect();
        assert_eq!(
            got,
            [
                PathBuf::from("out"),
                PathBuf::from("stats"),
                PathBuf::from(".")
            ]
        );
    }

    #[test]
    fn output_folders_keep_their_order_whatever_the_processor_order() {
        let sampled = ProcessorConfig::SampledTransactions(sampled::SampledConfig {
            folder: PathBuf::from("s"),
            ..Default::default()
        });
        let sites = ProcessorConfig::SitesStats(sites_stats::SitesStatsConfig {
            path: PathBuf::from("s/x.csv"),
            ..Default::default()
        });
        let c = Config {
            processors: vec![sites.clone(), sampled.clone()],
            ..Config::default()
        };
        assert_eq!(
            c.output_folders(),
            [
                ("-output-folder", PathBuf::from(".")),
                ("-sampled-transactions-folder", PathBuf::from("s"))
            ]
        );
    }
}
