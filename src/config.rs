//! The resolved configuration: what `cli` validated, turned into the values and limits the
//! pipeline is built from. Every limit lives here with its documented default.

use std::path::PathBuf;
use std::time::Duration;

use crate::hosts::ServerSet;
use crate::http::HttpLimits;
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
}

impl ProcessorKind {
    pub const ALL: &'static [(&'static str, ProcessorKind)] = &[("file", ProcessorKind::File)];

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
    pub verbose: u8,
    pub http: HttpLimits,
    pub reassembly: ReassemblyLimits,
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
            channel_capacity: 64,
            verbose: 0,
            http: HttpLimits::default(),
            reassembly: ReassemblyLimits::default(),
        }
    }
}
