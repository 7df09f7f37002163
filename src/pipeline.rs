//! Threads and channels: capture -> workers (sharded by connection) -> processors.

use crate::capture::PacketSource;
use crate::config::Config;
use crate::processor::Processor;

/// What a run did, printed on exit.
#[derive(Debug, Default)]
pub struct Summary {
    /// Every counter of every stage, by name, in a fixed order.
    pub counters: Vec<(&'static str, u64)>,
    /// Warnings to print (truncated file, ...).
    pub warnings: Vec<String>,
    /// Output errors that happened during the run (the run went on).
    pub errors: Vec<String>,
}

/// Runs the pipeline until the source ends or SIGINT/SIGTERM, then flushes every pending
/// transaction into the processors. Errors are output failures that stopped the run.
pub fn run(
    config: &Config,
    source: PacketSource,
    processors: Vec<Box<dyn Processor>>,
) -> Result<Summary, String> {
    let _ = (config, source, processors);
    todo!("pipeline")
}
