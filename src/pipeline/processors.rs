//! The processor thread: feeds transactions to every processor, ticks them with the
//! workers' watermark (the minimum of their clocks), prints the stats line and updates the
//! metrics; finishes the processors when every worker is done.
//!
//! What it does not do: reorder transactions (processors place them by `completed_at`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::capture_loop::SharedCapture;
use super::in_flight::{CloseOnDrop, InFlight, Returned};
use super::{FlowCounters, FromWorker, ThreadStats};
use crate::counters::CounterSet;
use crate::processor::Processor;
use crate::time::Timestamp;
use crate::worker::WorkerCounters;

/// The stats line (`-stats-interval`, packet time) and the metrics snapshot.
pub(super) struct Reporter {
    pub(super) capture: Arc<SharedCapture>,
    pub(super) metrics: Option<crate::metrics::SharedMetrics>,
    pub(super) interval: Duration,
    pub(super) print: bool,
    pub(super) next: Option<Timestamp>,
    /// When the metrics are next published between stats lines (`PUBLISH_EVERY`), for
    /// the web view's health strip; None until the first tick.
    pub(super) next_publish: Option<Timestamp>,
}

/// How often (packet time) the metrics snapshot is refreshed for the web view's health
/// strip, besides every `-stats-interval`.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(1);

impl Reporter {
    /// Called when the watermark reaches `now`, with the latest stats of every worker.
    fn on_tick(
        &mut self,
        now: Timestamp,
        workers: &[ThreadStats],
        processors: &[Box<dyn Processor>],
    ) {
        // For the "stopping" note: what a stop now would flush.
        let pending: u64 = workers
            .iter()
            .map(|w| w.worker.counters.http.pending())
            .sum();
        self.capture.pending.store(pending, Ordering::Relaxed);
        if self.metrics.is_some() && self.next_publish.is_none_or(|t| now >= t) {
            self.next_publish = Some(now.floor_to(PUBLISH_EVERY) + PUBLISH_EVERY);
            self.publish(workers, processors);
        }
        let due = match self.next {
            None => {
                self.next = Some(now.floor_to(self.interval) + self.interval);
                false
            }
            Some(t) => now >= t,
        };
        if !due {
            return;
        }
        self.next = Some(now.floor_to(self.interval) + self.interval);
        self.report(now, workers, processors, false);
    }

    fn report(
        &self,
        now: Timestamp,
        workers: &[ThreadStats],
        processors: &[Box<dyn Processor>],
        last: bool,
    ) {
        let (total, _) = totals(workers);
        let open: u64 = workers.iter().map(|w| w.worker.open_connections).sum();
        let h = &total.http;
        let pending = h.pending();
        let anomalies = h.anomalies + h.interrupted_messages + h.parse_errors;
        let memory = crate::metrics::resident_memory_bytes();
        let packets = self.capture.packets.load(Ordering::Relaxed);
        let bytes = self.capture.bytes.load(Ordering::Relaxed);
        let dropped = self.capture.kernel_dropped.load(Ordering::Relaxed);
        if self.print && !last {
            crate::stderr_line!(
                "httshark: stats {} packets={packets} bytes={bytes} kernel_dropped={dropped} \
                 connections={open} transactions={} pending={pending} unanswered={} gaps={} \
                 anomalies={anomalies} memory={}MiB",
                crate::log::format_time(now),
                h.transactions,
                h.unanswered,
                total.reassembly.gaps,
                memory.unwrap_or(0) >> 20
            );
        }
        if self.metrics.is_some() {
            self.publish(workers, processors);
        }
    }

    /// Publishes the counters and gauges to the metrics registry.
    fn publish(&self, workers: &[ThreadStats], processors: &[Box<dyn Processor>]) {
        let Some(m) = &self.metrics else {
            return;
        };
        let (total, flow) = totals(workers);
        let open: u64 = workers.iter().map(|w| w.worker.open_connections).sum();
        let buffered: u64 = workers.iter().map(|w| w.worker.memory_used).sum();
        let pending = total.http.pending();
        let memory = crate::metrics::resident_memory_bytes();
        // The summary's counters, in its order (`super::counter_names`).
        let mut counters: Vec<(&'static str, u64)> = Vec::new();
        let mut push = |name, value| counters.push((name, value));
        self.capture.counters().visit(&mut push);
        total.visit(&mut push);
        flow.visit(&mut push);
        crate::log::counters().visit(&mut push);
        for p in processors {
            p.visit_counters(&mut push);
        }
        m.set_counters(&counters);
        m.set_gauges(crate::metrics::Gauges {
            open_connections: Some(open),
            pending_requests: Some(pending),
            buffered_bytes: Some(buffered),
            memory_bytes: memory,
        });
    }
}

/// Process attribution on the processor thread: every transaction gets its connection's
/// owner before any processor sees it (`attrib::Joiner`), then `-process` keeps or drops it.
pub(super) struct Join {
    pub(super) joiner: crate::attrib::Joiner,
    pub(super) filter: Option<crate::attrib::ProcessFilter>,
    /// Transactions `filter` left out.
    pub(super) filtered_out: u64,
}

/// What the processor thread hands back when every worker is done.
pub(super) struct Done {
    /// Every worker's counters, summed.
    pub(super) workers: WorkerCounters,
    pub(super) flow: FlowCounters,
    /// The processors' counters, in processor order.
    pub(super) processors: Vec<(&'static str, u64)>,
    /// Each processor's name and what it wrote (`Processor::written`).
    pub(super) written: Vec<(&'static str, String)>,
    /// The distinct output errors seen.
    pub(super) errors: Vec<String>,
    /// Transactions with an anomaly flag other than "unanswered".
    pub(super) flagged: u64,
    /// Attribution, handed back (its `Joiner` must drop for the thread to end).
    pub(super) join: Option<Join>,
}

/// The processor thread: feeds transactions to every processor, ticks them with the
/// workers' watermark, finishes them when every worker is done.
pub(super) fn process(
    rx: Receiver<FromWorker>,
    mut processors: Vec<Box<dyn Processor>>,
    returns: Vec<(Sender<Returned>, Receiver<Returned>)>,
    mut reporter: Reporter,
    gates: &[Arc<InFlight>],
    mut join: Option<Join>,
) -> Done {
    let _open_gates: Vec<CloseOnDrop<'_>> = gates.iter().map(|g| CloseOnDrop(g)).collect();
    let workers = returns.len();
    let mut errors = Vec::new();
    let mut watermarks: Vec<Option<Timestamp>> = vec![None; workers];
    let mut latest: Vec<ThreadStats> = vec![ThreadStats::default(); workers];
    let mut ticked: Option<Timestamp> = None;
    let mut flagged = 0u64;
    // Output errors are reported once per processor and kind; later ones are counted.
    let report = |errors: &mut Vec<String>, r: Result<(), crate::processor::ProcessorError>| {
        if let Err(e) = r {
            let text = e.to_string();
            if errors.len() < MAX_ERRORS_KEPT && !errors.contains(&text) {
                crate::stderr_line!("httshark: error: {text}");
                errors.push(text);
            }
        }
    };
    for msg in rx {
        match msg {
            FromWorker::Transactions {
                worker,
                mut txs,
                mut har,
                process_at,
                bytes,
            } => {
                for (i, tx) in txs.iter_mut().enumerate() {
                    let mut json = har.get_mut(i).map(std::mem::take);
                    if let Some(j) = join.as_mut() {
                        let owner = j.joiner.owner(tx.conn.id, tx.conn.client, tx.conn.server);
                        let keep = j.filter.as_ref().is_none_or(|f| f.matches(&owner));
                        if !keep {
                            j.filtered_out += 1;
                            continue;
                        }
                        // The owner shows in the entry the worker encoded without it.
                        json = match (json, process_at.get(i)) {
                            (Some(encoded), Some(&at)) => Some(
                                crate::har::splice_process(&encoded, at, &owner).into_boxed_slice(),
                            ),
                            _ => None,
                        };
                        tx.process = Some(owner);
                    }
                    if tx
                        .anomalies
                        .iter()
                        .any(|a| !matches!(a, crate::model::Anomaly::Unanswered(_)))
                    {
                        flagged += 1;
                    }
                    if !tx.anomalies.is_empty() && crate::log::enabled(crate::log::Level::Debug) {
                        let names: Vec<&str> = tx.anomalies.iter().map(|a| a.name()).collect();
                        crate::log_debug!(
                            key: "transaction-anomaly",
                            "{} {} (connection {}, depth {}): {}",
                            tx.request.method,
                            tx.request.target,
                            tx.conn.id,
                            tx.depth,
                            names.join(", ")
                        );
                    }
                    for p in processors.iter_mut() {
                        report(&mut errors, p.on_encoded(tx, &mut json));
                    }
                }
                // Freed by the worker (see `Returned`); here only when it cannot take them.
                let (Some((back, _)), Some(gate)) = (returns.get(worker), gates.get(worker)) else {
                    continue;
                };
                match back.try_send(Returned(txs, bytes)) {
                    Ok(()) => gate.notify(),
                    Err(_) => gate.release(bytes),
                }
            }
            FromWorker::Tick { worker, now, stats } => {
                watermarks[worker] = Some(now);
                latest[worker] = *stats;
                let low = watermarks
                    .iter()
                    .copied()
                    .collect::<Option<Vec<_>>>()
                    .and_then(|w| w.into_iter().min());
                if let Some(low) = low {
                    if ticked.is_none_or(|t| low > t) {
                        ticked = Some(low);
                        for p in processors.iter_mut() {
                            report(&mut errors, p.on_tick(low));
                        }
                        reporter.on_tick(low, &latest, &processors);
                    }
                }
            }
            FromWorker::Done { worker, stats } => {
                latest[worker] = *stats;
                // Everything the worker sent came before Done and was handed back: free
                // what it did not take, so its bytes leave the budget.
                if let (Some((_, back)), Some(gate)) = (returns.get(worker), gates.get(worker)) {
                    gate.free_returned(back);
                }
            }
        }
    }
    let end = watermarks
        .iter()
        .flatten()
        .copied()
        .max()
        .unwrap_or_default();
    for p in processors.iter_mut() {
        report(&mut errors, p.finish(end));
    }
    reporter.report(end, &latest, &processors, true);
    let (totals, flow) = totals(&latest);
    let mut processor_counters = Vec::new();
    let mut written = Vec::new();
    for p in &processors {
        p.visit_counters(&mut |name, value| processor_counters.push((name, value)));
        if let Some(w) = p.written() {
            written.push((p.name(), w));
        }
    }
    Done {
        workers: totals,
        flow,
        processors: processor_counters,
        written,
        errors,
        flagged,
        join,
    }
}

/// Distinct output errors kept for the summary (the rest are counted by the processors).
const MAX_ERRORS_KEPT: usize = 32;

/// Every worker's counters summed, and their flow counters summed.
fn totals(workers: &[ThreadStats]) -> (WorkerCounters, FlowCounters) {
    let mut total = WorkerCounters::default();
    let mut flow = FlowCounters::default();
    for w in workers {
        total.merge(&w.worker.counters);
        flow.merge(&w.flow);
    }
    (total, flow)
}
