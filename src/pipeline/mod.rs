//! Threads and channels: capture -> workers (sharded by connection) -> processors.
//!
//! ```text
//!  capture thread            worker threads (1..N)                  processor thread
//!  PacketSource::next() --> decode, ConnTable, HttpConn --Vec<Tx>--> Processor::on_transaction
//!      | Tick(now)  ------>  on_tick (timeouts) ------- Tick ------>  on_tick(min over workers)
//!      | End(now)   ------>  close_all             ------ Done ------>  finish(now)
//! ```
//!
//! - Connections are sharded by a symmetric hash of the 4-tuple, so each connection's
//!   packets stay in order on one worker and no state is shared between workers.
//! - Every channel is bounded; the overflow policy is `Block`: a slow stage slows the
//!   capture thread, and on a live interface the kernel buffer then drops packets, which
//!   libpcap counts (`kernel_dropped`). Offline nothing is ever lost.
//! - Time is packet time. The capture thread sends `Tick(now)` to every worker each time the
//!   capture clock passes a tick boundary (1 s of packet time), and on live idle timeouts.
//!   Workers forward ticks after the transactions that precede them; the processor thread
//!   ticks its processors with the minimum over workers (a watermark). Processors place a
//!   transaction by `completed_at`, never by arrival order, so a replay gives the same
//!   files whatever the thread scheduling.
//! - SIGINT/SIGTERM stop the capture loop (a live capture first reads the packets the
//!   kernel received before the signal, for at most `capture::STOP_DRAIN`, so exchanges
//!   completed before it are not lost); the pipeline then drains as at end of file:
//!   every pending transaction is flushed and exported. A second signal exits at once.

mod batch;
mod capture_loop;
mod in_flight;
mod keys;
mod outliers;
mod overload;
mod pace;
mod processors;
mod progress;

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::capture::PacketSource;
use crate::config::{Config, HarEncoding};
use crate::counters::CounterSet;
use crate::model::Transaction;
use crate::processor::Outputs;
use crate::signals::without_stop_signals;
use crate::time::Timestamp;
use crate::worker::{Worker, WorkerConfig, WorkerStats};

use batch::Batch;
use capture_loop::{capture_loop, CaptureSetup, SharedCapture, StopAfter};
pub use capture_loop::{CaptureCounters, Ended};
use in_flight::{InFlight, Returned};
pub use keys::Keys;
use overload::Shedder;
use processors::{process, Reporter};
use progress::Progress;

/// What a run did, printed on exit.
#[derive(Debug, Default)]
pub struct Summary {
    /// Every counter of every stage, by name, in a fixed order.
    pub counters: Vec<(&'static str, u64)>,
    /// Warnings to print (truncated file, ...).
    pub warnings: Vec<String>,
    /// Output errors that happened during the run (the run went on).
    pub errors: Vec<String>,
    /// True when a signal ended the capture.
    pub interrupted: bool,
    /// Why the capture stopped.
    pub ended: Ended,
    /// Each processor's name and what it wrote (`Processor::written`), in order.
    pub written: Vec<(&'static str, String)>,
    /// Transactions with an anomaly flag other than "unanswered".
    pub flagged: u64,
    /// The workers encoded the HAR entries (`-har-encoding`, `workers_encode`), not the
    /// processor thread.
    pub workers_encoded_har: bool,
    /// CPU time each stage's threads used.
    pub cpu: StageCpu,
}

/// CPU time (user + system) of each stage of a run: which stage a faster run needs
/// (with `worker_queue_full_waits` and `output_queue_full_waits`, which say who waited).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct StageCpu {
    /// The capture thread: reading the source, decoding the frames' headers, handing out
    /// batches (and the kernel's copy of the file's bytes).
    pub capture: Duration,
    /// All workers together, and how many there were.
    pub workers: Duration,
    pub worker_threads: usize,
    /// The processor thread: every output, and the kernel's copy of what they write.
    pub outputs: Duration,
}

impl Summary {
    pub fn get(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }
}

enum ToWorker {
    Packets(Batch),
    /// Secrets a followed key log gained (live), ahead of the packets captured after.
    Secrets(Arc<[crate::keylog::Entry]>),
    /// Time advanced, and the capture reached this packet index (the causal window
    /// releases by capture position, the same on every worker).
    Tick(Timestamp, u64),
    End(Timestamp),
}

enum FromWorker {
    /// Transactions of `worker` and the bytes they were charged to the in-flight budget.
    Transactions {
        worker: usize,
        txs: Vec<Transaction>,
        /// Each transaction's HAR entry (`har::entry_json`), when a processor takes them
        /// (`Processor::takes_har_json`); else empty.
        har: Vec<Box<[u8]>>,
        /// Where each entry's `_process` goes (`har::splice_process`: the owner of a live
        /// connection is joined on the processor thread).
        process_at: Vec<usize>,
        bytes: usize,
    },
    /// The worker's clock reached `now`; its counters and gauges at that time.
    Tick {
        worker: usize,
        now: Timestamp,
        stats: Box<ThreadStats>,
    },
    Done {
        worker: usize,
        stats: Box<ThreadStats>,
    },
}

/// A worker thread's counters and gauges: its `Worker`'s and the channel flow's.
#[derive(Clone, Debug, Default)]
struct ThreadStats {
    worker: WorkerStats,
    flow: FlowCounters,
}

crate::counters! {
    /// Worker-to-processor flow counters.
    pub struct FlowCounters {
        /// Times a worker waited because the transactions in flight to the processors
        /// filled their share of `-memory-limit` (the processors were behind).
        memory_limit_in_flight_waits,
        /// Times a worker's transactions found the processors' queue full and the worker
        /// waited (the processors were behind). Set by thread scheduling, not by the
        /// capture: it varies from run to run.
        output_queue_full_waits,
        /// Bodies whose bytes a worker dropped because its transactions would not fit into
        /// its in-flight share: the processors were behind (`-overload drop-bodies`, the
        /// default live; sizes kept, transactions flagged `body-dropped-outputs-behind`).
        /// Set by thread scheduling, like the waits.
        outputs_behind_bodies_dropped,
    }
}

/// Runs the pipeline until the source ends or `stop` is set (the binary's SIGINT/SIGTERM
/// handlers set it, see `signals::install_signal_handlers`; tests set it themselves), then
/// flushes every pending transaction into the processors. Errors are setup failures that
/// stopped the run.
pub fn run_until(
    config: &Config,
    mut source: PacketSource,
    outputs: Outputs,
    mut keys: Keys,
    stop: &AtomicBool,
) -> Result<Summary, String> {
    let workers = config.workers.max(1);
    let link = source.link_type();
    let shares = config.memory_shares();
    // One gate per worker: a worker waits only for its own transactions to come back, which
    // it frees itself while it waits (a shared gate could wait on an idle worker's).
    let gates: Vec<Arc<InFlight>> = (0..workers)
        .map(|_| Arc::new(InFlight::new((shares.in_flight / workers).max(1))))
        .collect();
    // Body bytes are stored only when some output reads them (CSV statistics read sizes).
    let keep_bodies = outputs.processors.iter().any(|p| p.reads_bodies());
    // Live, a worker drops body bytes rather than wait for outputs that are behind
    // (`transform::overload`), when there are any; a replay waits, so its output does not
    // depend on timing.
    let drop_bodies = keep_bodies && config.overload.drops_bodies(source.is_live());
    // Transactions are bounded by their bytes (the gates). When workers drop bodies rather
    // than wait, the queue must not bound them by count first: a full queue of batches
    // would make a worker wait whatever their size.
    let out_capacity = if drop_bodies {
        overload::OVERLOAD_QUEUE
    } else {
        config.channel_capacity.max(1)
    };
    let (out_tx, out_rx) = bounded::<FromWorker>(out_capacity * workers);
    // HAR entries are encoded by the workers (in parallel, off the processor thread) when
    // a processor writes them as they are and `workers_encode` says so; an owner joined on
    // the processor thread (live attribution) is spliced into the encoded entry there
    // (`har::splice_process`).
    let cpus = thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let encode_har = outputs.processors.iter().any(|p| p.takes_har_json())
        && workers_encode(config.har_encoding, workers, cpus, source.is_live());
    let mut to_workers = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    let mut returns = Vec::with_capacity(workers);
    // Packet batches go back to the capture thread the same way (see `Returned`).
    let (spare_tx, spare_rx) = bounded::<Vec<u8>>(workers * 2);
    for (index, gate) in gates.iter().enumerate() {
        // The packets queued for the workers are as many as for one, shared: a worker
        // running ahead of another by a whole queue made the HAR entries of the other
        // arrive too late for the reorder buffer (spooled, merged at export: a second
        // write of their files), and the queues' memory grew with -workers.
        let (tx, rx) = bounded::<ToWorker>(per_worker_queue(config.channel_capacity, workers));
        to_workers.push(tx);
        let (back_tx, back_rx) = bounded::<Returned>(config.channel_capacity.max(1));
        // The processor thread keeps a receiver too, to free what a finished worker did
        // not.
        returns.push((back_tx, back_rx.clone()));
        let spare = spare_tx.clone();
        let out = out_tx.clone();
        let mut worker_config = WorkerConfig::from_config(config, link);
        worker_config.tls = keys.settings;
        worker_config.keys = Arc::clone(&keys.initial);
        worker_config.keep_bodies = keep_bodies;
        let worker = Worker::new(worker_config);
        let gate = Arc::clone(gate);
        let handle = without_stop_signals(|| {
            thread::Builder::new()
                .name(format!("httshark-worker-{index}"))
                .spawn(move || {
                    let channels = WorkerChannels {
                        rx,
                        out,
                        back: back_rx,
                        spare,
                    };
                    let shedder = drop_bodies.then(|| Shedder::new(overload::OVERLOAD_GRACE));
                    worker_thread(index, worker, gate, channels, encode_har, shedder);
                    crate::sched::this_thread_cpu()
                })
        })
        .map_err(|e| format!("cannot start worker thread: {e}"))?;
        handles.push(handle);
    }
    drop(out_tx);
    drop(spare_tx);

    let shared = Arc::new(SharedCapture::default());
    let reporter = Reporter {
        capture: Arc::clone(&shared),
        metrics: outputs.metrics.clone(),
        interval: config.stats_interval,
        // The stats line is a live heartbeat; offline it is info (-verbose=3).
        print: source.is_live() || config.log.verbose >= 3,
        next: None,
        next_publish: None,
    };
    let processors = outputs.processors;
    // Process attribution: live captures only (a file's processes are gone).
    let mut attrib_warnings = Vec::new();
    let started = if config.attribution && source.is_live() {
        match crate::attrib::Service::start() {
            Ok(s) => Some(s),
            // Without a filter the capture goes on, unattributed, and says why.
            Err(e) if config.process_filter.is_none() => {
                crate::log_warn!("{e}; connections are not attributed");
                attrib_warnings.push(format!("{e}; connections are not attributed"));
                None
            }
            Err(e) => return Err(e),
        }
    } else {
        None
    };
    let (attrib_service, asker, join) = match started {
        Some((service, asker, joiner)) => {
            let join = processors::Join {
                joiner,
                filter: config.process_filter.clone(),
                filtered_out: 0,
            };
            (Some(service), Some(asker), Some(join))
        }
        None => (None, None, None),
    };
    let processor_thread = without_stop_signals(|| {
        thread::Builder::new()
            .name("httshark-processors".into())
            .spawn(move || {
                if drop_bodies {
                    // What this thread cannot do in time is shed as body bytes: the
                    // capture thread and the workers, whose work cannot be, go first.
                    crate::sched::lower_this_thread("processor thread");
                }
                let done = process(out_rx, processors, returns, reporter, &gates, join);
                (done, crate::sched::this_thread_cpu())
            })
    })
    .map_err(|e| format!("cannot start processor thread: {e}"))?;

    let mut summary = Summary {
        warnings: attrib_warnings,
        workers_encoded_har: encode_har,
        ..Summary::default()
    };
    let mut capture = CaptureCounters::default();
    let progress = match &config.source {
        crate::config::Source::File(path) if std::io::stderr().is_terminal() => {
            std::fs::metadata(path).ok().map(|m| Progress::new(m.len()))
        }
        _ => None,
    };
    let live = source.is_live();
    // The capture thread is this one: what it used before the capture is setup.
    let cpu_before = crate::sched::this_thread_cpu();
    let (end, ended) = capture_loop(
        &mut source,
        &to_workers,
        CaptureSetup {
            workers,
            link,
            stop,
            shared: &shared,
            progress,
            spare: spare_rx,
            stop_after: StopAfter {
                packets: config.count,
                duration: config.duration,
            },
            keys: &mut keys,
            attrib: asker,
            pace: if live {
                0.0
            } else {
                f64::from(config.file_pace_milli) / 1000.0
            },
        },
        &mut capture,
        &mut summary,
    );
    for tx in &to_workers {
        // A worker that is gone has already reported (or panicked, reported below).
        let _ = tx.send(ToWorker::End(end));
    }
    drop(to_workers);
    if let Some(stats) = source.stats() {
        capture.kernel_dropped = stats.dropped;
        capture.interface_dropped = stats.if_dropped;
    }
    summary.cpu.capture = crate::sched::this_thread_cpu().saturating_sub(cpu_before);
    summary.cpu.worker_threads = handles.len();
    for handle in handles {
        match handle.join() {
            Ok(cpu) => summary.cpu.workers += cpu,
            Err(_) => summary.errors.push("a worker thread panicked".into()),
        }
    }
    let (done, outputs_cpu) = processor_thread
        .join()
        .map_err(|_| "the processor thread panicked".to_string())?;
    summary.cpu.outputs = outputs_cpu;
    summary.errors.extend(done.errors);
    summary.written = done.written;
    summary.flagged = done.flagged;
    summary.interrupted = stop.load(Ordering::Relaxed);
    summary.ended = ended;
    let (worker_counters, flow_counters, processor_counters) =
        (done.workers, done.flow, done.processors);
    let attrib_counters = match (attrib_service, done.join) {
        (Some(service), Some(join)) => {
            let (timeouts, filtered_out) = (join.joiner.timeouts, join.filtered_out);
            // The thread ends when its last sender (the joiner's) is gone.
            drop(join);
            let mut c = service.finish(timeouts);
            c.attrib_filtered_out = filtered_out;
            Some(c)
        }
        _ => None,
    };

    let mut push = |name, value| summary.counters.push((name, value));
    capture.visit(&mut push);
    worker_counters.visit(&mut push);
    flow_counters.visit(&mut push);
    // Zero when attribution is off (offline, -attribution=false): every core stage's
    // counters are always reported (docs/counters.md).
    let attrib_counters = attrib_counters.unwrap_or_default();
    attrib_counters.visit(&mut push);
    summary
        .warnings
        .extend(crate::attrib::missing_warnings(&attrib_counters));
    crate::log::counters().visit(&mut push);
    summary.counters.extend(processor_counters);
    Ok(summary)
}

/// Batches queued for each worker: `capacity` shared by the `workers`, at least 2 each
/// (one being filled by the capture thread while the worker reads the other).
fn per_worker_queue(capacity: usize, workers: usize) -> usize {
    (capacity.max(1) / workers.max(1)).max(2)
}

/// A worker thread's channels: packets in, transactions out, transactions handed back
/// to be freed, packet batches handed back to the capture thread.
struct WorkerChannels {
    rx: Receiver<ToWorker>,
    out: Sender<FromWorker>,
    back: Receiver<Returned>,
    spare: Sender<Vec<u8>>,
}

/// Sends `msg` on a bounded channel, waiting for room when it is full: `Some(waited)` once
/// sent (`waited`: the queue was full, counted by the callers as the stage after them being
/// behind), `None` when the receiver is gone.
fn send_or_wait<T>(tx: &Sender<T>, msg: T) -> Option<bool> {
    match tx.try_send(msg) {
        Ok(()) => Some(false),
        Err(TrySendError::Full(msg)) => tx.send(msg).ok().map(|()| true),
        Err(TrySendError::Disconnected(_)) => None,
    }
}

/// Whether the workers encode HAR entries (`-har-encoding`). `Auto`: when they are two or
/// more, and the capture is `live` or every thread of the pipeline (capture, `workers`,
/// processor) has one of the `cpus` to itself. With one worker the worker is already the
/// longer stage and the processor thread encodes beside it (docs/architecture.md). Reading
/// a file with more threads than CPUs, nothing runs in parallel anyway and entries made on
/// one thread and freed on another cost more CPU than they move (2 workers on 2 CPUs: the
/// same or up to 11% less time with the processor thread encoding). Live, a processor
/// thread behind loses packets (the kernel's buffer fills), and its writes slow most while
/// the machine is busy: there the workers take the encoding off it (2 workers on 2 CPUs at
/// 214,670 packets/s: 14% of the packets dropped against 44%; docs/architecture.md).
fn workers_encode(mode: HarEncoding, workers: usize, cpus: usize, live: bool) -> bool {
    match mode {
        HarEncoding::Workers => true,
        HarEncoding::Processor => false,
        HarEncoding::Auto => workers > 1 && (live || cpus >= workers + 2),
    }
}

/// A worker thread: a channel loop around a `Worker`; with `encode_har` it also encodes
/// each transaction's HAR entry (`har::entry_json`, the same bytes the processor would
/// make: the transaction is final once it leaves the worker); with a `shedder` it drops
/// body bytes rather than wait when the outputs are behind (`-overload`).
fn worker_thread(
    index: usize,
    mut worker: Worker,
    gate: Arc<InFlight>,
    channels: WorkerChannels,
    encode_har: bool,
    mut shedder: Option<Shedder>,
) {
    let WorkerChannels {
        rx,
        out,
        back,
        spare,
    } = channels;
    let mut flow = FlowCounters::default();
    let flush = |worker: &mut Worker, flow: &mut FlowCounters, shedder: &mut Option<Shedder>| {
        if worker.has_transactions() {
            let mut txs = worker.take_transactions();
            if let Some(shedder) = shedder.as_mut() {
                flow.outputs_behind_bodies_dropped +=
                    shedder.fit(&gate, &back, &mut txs, encode_har);
            }
            let (har, process_at): (Vec<Box<[u8]>>, Vec<usize>) = if encode_har {
                txs.iter()
                    .map(|tx| {
                        let (json, at) = crate::har::entry_json_with_process_at(tx);
                        (json.into_boxed_slice(), at)
                    })
                    .unzip()
            } else {
                (Vec::new(), Vec::new())
            };
            let bytes = txs.iter().map(Transaction::mem_bytes).sum::<usize>()
                + har.iter().map(|j| j.len()).sum::<usize>();
            if gate.acquire(bytes, &back) {
                flow.memory_limit_in_flight_waits += 1;
            }
            let msg = FromWorker::Transactions {
                worker: index,
                txs,
                har,
                process_at,
                bytes,
            };
            match send_or_wait(&out, msg) {
                Some(waited) => flow.output_queue_full_waits += u64::from(waited),
                None => gate.release(bytes),
            }
        }
    };
    let stats = |worker: &Worker, flow: &FlowCounters| {
        Box::new(ThreadStats {
            worker: worker.stats(),
            flow: flow.clone(),
        })
    };
    for msg in rx {
        gate.free_returned(&back);
        match msg {
            ToWorker::Packets(batch) => {
                worker.on_batch(&batch.data, &batch.frames);
                // The last worker done with a chunk hands it back to be filled again (the
                // capture thread makes a new one when none comes back).
                if let Some(chunk) = Arc::into_inner(batch.data) {
                    let _ = spare.try_send(chunk);
                }
                flush(&mut worker, &mut flow, &mut shedder);
            }
            ToWorker::Secrets(entries) => worker.add_secrets(&entries),
            ToWorker::Tick(ts, latest) => {
                let now = worker.pipeline_tick(latest, ts);
                flush(&mut worker, &mut flow, &mut shedder);
                let stats = stats(&worker, &flow);
                let _ = out.send(FromWorker::Tick {
                    worker: index,
                    now,
                    stats,
                });
            }
            ToWorker::End(ts) => {
                let now = worker.finish(ts);
                flush(&mut worker, &mut flow, &mut shedder);
                let stats = stats(&worker, &flow);
                let _ = out.send(FromWorker::Tick {
                    worker: index,
                    now,
                    stats: stats.clone(),
                });
                let _ = out.send(FromWorker::Done {
                    worker: index,
                    stats,
                });
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `auto` lets two or more workers encode live, and reading a file only when every
    /// thread has a CPU; the other two modes are what they say, whatever the counts.
    #[test]
    fn workers_encode_live_or_when_every_thread_has_a_cpu() {
        let file = |workers, cpus| workers_encode(HarEncoding::Auto, workers, cpus, false);
        let live = |workers, cpus| workers_encode(HarEncoding::Auto, workers, cpus, true);
        assert!(
            !file(1, 64),
            "one worker: the processor thread encodes beside it"
        );
        assert!(!live(1, 64));
        assert!(!file(2, 2));
        assert!(!file(2, 3));
        assert!(file(2, 4));
        assert!(!file(4, 5));
        assert!(file(4, 6));
        assert!(live(2, 2));
        assert!(live(4, 2));
        for (workers, cpus) in [(1, 1), (2, 2), (8, 64)] {
            for is_live in [false, true] {
                assert!(workers_encode(HarEncoding::Workers, workers, cpus, is_live));
                assert!(!workers_encode(
                    HarEncoding::Processor,
                    workers,
                    cpus,
                    is_live
                ));
            }
        }
    }
}
