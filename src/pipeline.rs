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
//! - SIGINT/SIGTERM stop the capture loop; the pipeline then drains as at end of file:
//!   every pending transaction is flushed and exported. A second signal exits at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::capture::{Next, PacketSource};
use crate::config::Config;
use crate::counters::CounterSet;
use crate::hosts::ServerSet;
use crate::http::{HttpCounters, HttpCtx, HttpFactory, HttpLimits};
use crate::model::Transaction;
use crate::processor::Processor;
use crate::reassembly::{ConnTable, ReassemblyCounters, ReassemblyLimits};
use crate::time::{MonotonicClock, Timestamp};
use crate::wire::{self, DecodeCounters, Decoded, LinkType};

/// Packet time between two ticks sent by the capture thread.
const TICK_PERIOD: Duration = Duration::from_secs(1);
/// Packets per batch sent to a worker (amortises channel costs).
const BATCH_PACKETS: usize = 512;
/// Bytes per batch sent to a worker.
const BATCH_BYTES: usize = 1 << 20;

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
}

impl Summary {
    pub fn get(&self, name: &str) -> u64 {
        self.counters
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, v)| *v)
    }
}

crate::counters! {
    /// Capture-side counters (capture thread).
    pub struct CaptureCounters {
        /// Frames read from the source.
        packets,
        /// Captured bytes read from the source.
        bytes,
        /// Frames cut by the snaplen (captured length < length on the wire); their lost
        /// bytes reach HTTP as gaps.
        snaplen_cut,
        /// Frames dropped by the kernel (live; from libpcap statistics).
        kernel_dropped,
        /// Frames dropped by the interface or driver (live; from libpcap statistics).
        interface_dropped,
    }
}

/// A batch of captured frames, stored back to back.
struct Batch {
    data: Vec<u8>,
    /// (capture index, packet time, end offset in `data`)
    packets: Vec<(u64, Timestamp, usize)>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            data: Vec::with_capacity(BATCH_BYTES),
            packets: Vec::with_capacity(BATCH_PACKETS),
        }
    }

    fn is_full(&self) -> bool {
        self.packets.len() >= BATCH_PACKETS || self.data.len() >= BATCH_BYTES
    }
}

enum ToWorker {
    Packets(Batch),
    Tick(Timestamp),
    End(Timestamp),
}

enum FromWorker {
    Transactions(Vec<Transaction>),
    Tick { worker: usize, now: Timestamp },
    Done { counters: WorkerCounters },
}

#[derive(Clone, Debug, Default)]
struct WorkerCounters {
    decode: DecodeCounters,
    reassembly: ReassemblyCounters,
    http: HttpCounters,
}

/// Sets `flag` on SIGINT/SIGTERM; a second signal exits at once (status 130).
fn install_signal_handlers(flag: &Arc<AtomicBool>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(flag))
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
        signal_hook::flag::register(sig, Arc::clone(flag))
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
    }
    Ok(())
}

/// Runs the pipeline until the source ends or SIGINT/SIGTERM, then flushes every pending
/// transaction into the processors. Errors are setup failures that stopped the run.
pub fn run(
    config: &Config,
    source: PacketSource,
    processors: Vec<Box<dyn Processor>>,
) -> Result<Summary, String> {
    let stop = Arc::new(AtomicBool::new(false));
    install_signal_handlers(&stop)?;
    run_until(config, source, processors, &stop)
}

/// As `run`, with the stop flag given by the caller (tests set it themselves).
pub fn run_until(
    config: &Config,
    mut source: PacketSource,
    processors: Vec<Box<dyn Processor>>,
    stop: &AtomicBool,
) -> Result<Summary, String> {
    let workers = config.workers.max(1);
    let link = source.link_type();
    let (out_tx, out_rx) = bounded::<FromWorker>(config.channel_capacity.max(1) * workers);

    let mut to_workers = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    for index in 0..workers {
        let (tx, rx) = bounded::<ToWorker>(config.channel_capacity.max(1));
        to_workers.push(tx);
        let out = out_tx.clone();
        let servers = config.servers.clone();
        let reassembly = config.reassembly.clone();
        let http = config.http.clone();
        let check_interval = config.response_check_interval;
        let handle = thread::Builder::new()
            .name(format!("httshark-worker-{index}"))
            .spawn(move || {
                worker(
                    index,
                    link,
                    rx,
                    out,
                    servers,
                    reassembly,
                    http,
                    check_interval,
                )
            })
            .map_err(|e| format!("cannot start worker thread: {e}"))?;
        handles.push(handle);
    }
    drop(out_tx);

    let processor_thread = thread::Builder::new()
        .name("httshark-processors".into())
        .spawn(move || process(out_rx, processors, workers))
        .map_err(|e| format!("cannot start processor thread: {e}"))?;

    let mut summary = Summary::default();
    let mut capture = CaptureCounters::default();
    let end = capture_loop(
        &mut source,
        &to_workers,
        workers,
        link,
        stop,
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
    for handle in handles {
        if handle.join().is_err() {
            summary.errors.push("a worker thread panicked".into());
        }
    }
    let (worker_counters, processor_counters, errors) = processor_thread
        .join()
        .map_err(|_| "the processor thread panicked".to_string())?;
    summary.errors.extend(errors);
    summary.interrupted = stop.load(Ordering::Relaxed);

    let mut push = |name, value| summary.counters.push((name, value));
    capture.visit(&mut push);
    worker_counters.decode.visit(&mut push);
    worker_counters.reassembly.visit(&mut push);
    worker_counters.http.visit(&mut push);
    summary.counters.extend(processor_counters);
    Ok(summary)
}

/// Reads the source until it ends or `stop` is set; returns the final clock time.
fn capture_loop(
    source: &mut PacketSource,
    to_workers: &[Sender<ToWorker>],
    workers: usize,
    link: LinkType,
    stop: &AtomicBool,
    counters: &mut CaptureCounters,
    summary: &mut Summary,
) -> Timestamp {
    let mut clock = MonotonicClock::default();
    let mut next_tick: Option<Timestamp> = None;
    let mut batches: Vec<Batch> = (0..workers).map(|_| Batch::new()).collect();
    let send = |w: usize, batch: &mut Batch| {
        if !batch.packets.is_empty() {
            let full = std::mem::replace(batch, Batch::new());
            let _ = to_workers[w].send(ToWorker::Packets(full));
        }
    };
    let tick = |now: Timestamp, batches: &mut Vec<Batch>| {
        for (w, batch) in batches.iter_mut().enumerate() {
            send(w, batch);
            let _ = to_workers[w].send(ToWorker::Tick(now));
        }
    };

    while !stop.load(Ordering::Relaxed) {
        let (ts, now) = match source.next() {
            Next::Packet(p) => {
                let index = counters.packets;
                counters.packets += 1;
                counters.bytes += p.data.len() as u64;
                if (p.orig_len as usize) > p.data.len() {
                    counters.snaplen_cut += 1;
                }
                let w = if workers == 1 {
                    0
                } else {
                    shard(link, p.data, workers)
                };
                let batch = &mut batches[w];
                batch.data.extend_from_slice(p.data);
                batch.packets.push((index, p.ts, batch.data.len()));
                if batch.is_full() {
                    send(w, batch);
                }
                (Some(p.ts), clock.advance(p.ts))
            }
            Next::Idle { now } => (None, clock.advance(now)),
            Next::End { warning } => {
                summary.warnings.extend(warning);
                break;
            }
        };
        let due = match next_tick {
            None => {
                next_tick = Some(now.floor_to(TICK_PERIOD) + TICK_PERIOD);
                false
            }
            Some(t) => now >= t,
        };
        if due || (ts.is_none() && next_tick.is_some()) {
            tick(now, &mut batches);
            next_tick = Some(now.floor_to(TICK_PERIOD) + TICK_PERIOD);
        }
    }
    for (w, batch) in batches.iter_mut().enumerate() {
        send(w, batch);
    }
    clock.now().unwrap_or_default()
}

/// Which worker owns the connection of this frame (frames that are not TCP go to 0).
fn shard(link: LinkType, frame: &[u8], workers: usize) -> usize {
    match wire::decode(link, frame) {
        Ok(Decoded::Tcp(seg)) => {
            (wire::symmetric_flow_hash(&seg.src, &seg.dst) % workers as u64) as usize
        }
        _ => 0,
    }
}

#[allow(clippy::too_many_arguments)]
fn worker(
    index: usize,
    link: LinkType,
    rx: Receiver<ToWorker>,
    out: Sender<FromWorker>,
    servers: ServerSet,
    reassembly: ReassemblyLimits,
    http: HttpLimits,
    check_interval: Duration,
) {
    let mut table = ConnTable::new(HttpFactory, servers, reassembly);
    let mut ctx = HttpCtx::new(http);
    let mut decode = DecodeCounters::default();
    let mut clock = MonotonicClock::default();
    let mut next_check: Option<Timestamp> = None;
    let flush = |ctx: &mut HttpCtx| {
        if !ctx.out.is_empty() {
            let _ = out.send(FromWorker::Transactions(std::mem::take(&mut ctx.out)));
        }
    };
    for msg in rx {
        match msg {
            ToWorker::Packets(batch) => {
                let mut start = 0;
                for &(packet_index, ts, end) in &batch.packets {
                    let frame = &batch.data[start..end];
                    start = end;
                    let now = clock.advance(ts);
                    let decoded = wire::decode(link, frame);
                    decode.record(&decoded);
                    if let Ok(Decoded::Tcp(seg)) = decoded {
                        table.on_segment(&mut ctx, &seg, packet_index, ts, now);
                    }
                }
                flush(&mut ctx);
            }
            ToWorker::Tick(ts) => {
                let now = clock.advance(ts);
                if next_check.is_none_or(|t| now >= t) {
                    table.on_tick(&mut ctx, now);
                    next_check = Some(now + check_interval);
                }
                flush(&mut ctx);
                let _ = out.send(FromWorker::Tick { worker: index, now });
            }
            ToWorker::End(ts) => {
                let now = clock.advance(ts);
                table.close_all(&mut ctx, now);
                flush(&mut ctx);
                let _ = out.send(FromWorker::Tick { worker: index, now });
                break;
            }
        }
    }
    let counters = WorkerCounters {
        decode,
        reassembly: table.counters().clone(),
        http: ctx.counters.clone(),
    };
    let _ = out.send(FromWorker::Done { counters });
}

/// The processor thread: feeds transactions to every processor, ticks them with the
/// workers' watermark, finishes them when every worker is done. Returns the summed worker
/// counters and the output errors seen.
fn process(
    rx: Receiver<FromWorker>,
    mut processors: Vec<Box<dyn Processor>>,
    workers: usize,
) -> (WorkerCounters, Vec<(&'static str, u64)>, Vec<String>) {
    let mut errors = Vec::new();
    let mut watermarks: Vec<Option<Timestamp>> = vec![None; workers];
    let mut ticked: Option<Timestamp> = None;
    let mut totals = WorkerCounters::default();
    let report = |errors: &mut Vec<String>, r: Result<(), crate::processor::ProcessorError>| {
        if let Err(e) = r {
            eprintln!("httshark: error: {e}");
            errors.push(e.to_string());
        }
    };
    for msg in rx {
        match msg {
            FromWorker::Transactions(txs) => {
                for tx in &txs {
                    for p in processors.iter_mut() {
                        report(&mut errors, p.on_transaction(tx));
                    }
                }
            }
            FromWorker::Tick { worker, now } => {
                watermarks[worker] = Some(now);
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
                    }
                }
            }
            FromWorker::Done { counters } => {
                totals.decode.merge(&counters.decode);
                totals.reassembly.merge(&counters.reassembly);
                totals.http.merge(&counters.http);
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
    let mut processor_counters = Vec::new();
    for p in &processors {
        p.visit_counters(&mut |name, value| processor_counters.push((name, value)));
    }
    (totals, processor_counters, errors)
}
