//! The `ui` processor: each transaction becomes a [`UiEntry`] pushed into the view's ring.
//! Runs on the processor thread like every processor; the push takes the ring's lock for
//! an O(1) insert and eviction, and never waits on a browser.

use std::sync::Arc;

use super::entry::UiEntry;
use super::{bump, Shared};
use crate::counters::CounterSet;
use crate::model::Transaction;
use crate::processor::{Processor, ProcessorError};
use crate::time::Timestamp;

/// The processor's name (counters, the summary).
pub const NAME: &str = "ui";

pub struct UiProcessor {
    shared: Arc<Shared>,
    url: String,
}

impl UiProcessor {
    /// `url` (without the token) is what the summary names.
    pub fn new(shared: Arc<Shared>, url: String) -> UiProcessor {
        UiProcessor { shared, url }
    }
}

impl Processor for UiProcessor {
    fn name(&self) -> &'static str {
        NAME
    }

    fn on_transaction(&mut self, tx: &Transaction) -> Result<(), ProcessorError> {
        let seq = self.shared.ring.next_seq();
        self.shared.ring.push(UiEntry::new(seq, tx));
        bump(&self.shared.stats.entries, 1);
        Ok(())
    }

    fn on_tick(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        Ok(())
    }

    fn finish(&mut self, _now: Timestamp) -> Result<(), ProcessorError> {
        Ok(())
    }

    fn visit_counters(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.shared.counters().visit(f);
    }

    fn written(&self) -> Option<String> {
        let c = self.shared.counters();
        Some(format!(
            "{} entries shown at {} ({} evicted from the view)",
            c.ui_entries, self.url, c.ui_evicted
        ))
    }
}

/// Every counter of `p` at 0: registered with the metrics when the processor is added,
/// so the first scrape already has them.
pub fn zeroes(p: &UiProcessor) -> Vec<(&'static str, u64)> {
    let mut v = Vec::new();
    p.visit_counters(&mut |n, _| v.push((n, 0)));
    v
}
