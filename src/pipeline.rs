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

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use crossbeam_channel::{bounded, Receiver, Sender};

use crate::capture::{Next, PacketSource};
use crate::config::Config;
use crate::counters::CounterSet;
use crate::hosts::ServerSet;
use crate::http::{HttpCounters, HttpCtx, HttpFactory, HttpLimits};
use crate::model::Transaction;
use crate::processor::body_select::BodySelector;
use crate::processor::redact::Redaction;
use crate::processor::{Outputs, Processor};
use crate::reassembly::{ConnTable, ReassemblyCounters, ReassemblyLimits};
use crate::signals::without_stop_signals;
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
    /// Transactions of `worker` and the bytes they were charged to the in-flight budget.
    Transactions {
        worker: usize,
        txs: Vec<Transaction>,
        bytes: usize,
    },
    /// The worker's clock reached `now`; its counters and gauges at that time.
    Tick {
        worker: usize,
        now: Timestamp,
        stats: Box<WorkerStats>,
    },
    Done {
        worker: usize,
        stats: Box<WorkerStats>,
    },
}

/// A worker's counters and gauges.
#[derive(Clone, Debug, Default)]
struct WorkerStats {
    counters: WorkerCounters,
    open_connections: u64,
    /// Bytes charged to the worker's memory budget.
    memory_used: u64,
}

/// Bytes of transactions between the workers and the processor thread, bounded by the
/// in-flight share of `-memory-limit`: a worker waits before sending a batch that would go
/// over it (unless nothing is in flight, so one large batch always passes). Waiting only
/// delays: it never changes what is exported.
struct InFlight {
    used: Mutex<usize>,
    freed: Condvar,
    cap: usize,
    /// The processor thread is gone (finished or panicked): nobody will release.
    closed: AtomicBool,
}

impl InFlight {
    fn new(cap: usize) -> InFlight {
        InFlight {
            used: Mutex::new(0),
            freed: Condvar::new(),
            cap,
            closed: AtomicBool::new(false),
        }
    }

    /// Takes `n` bytes of the budget; returns whether it had to wait. While it waits it
    /// frees the transactions the processor thread hands back on `back` (their bytes are
    /// released only then: see `Returned`).
    fn acquire(&self, n: usize, back: &Receiver<Returned>) -> bool {
        let mut waited = false;
        loop {
            {
                let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if *used == 0
                        || used.saturating_add(n) <= self.cap
                        || self.closed.load(Ordering::Relaxed)
                    {
                        *used += n;
                        return waited;
                    }
                    if !back.is_empty() {
                        break;
                    }
                    // The processor thread hands back (then notifies) under this lock, so
                    // a hand-back after this check wakes the wait.
                    waited = true;
                    used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
                }
            }
            self.free_returned(back);
        }
    }

    /// Frees the transactions handed back on `back` and releases their bytes.
    fn free_returned(&self, back: &Receiver<Returned>) {
        for Returned(txs, bytes) in back.try_iter() {
            drop(txs);
            self.release(bytes);
        }
    }

    /// Wakes a worker waiting in `acquire` (something was handed back).
    fn notify(&self) {
        let _used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        self.freed.notify_all();
    }

    fn release(&self, n: usize) {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        *used = used.saturating_sub(n);
        self.freed.notify_all();
    }
}

/// Transactions the processor thread is done with, handed back to the worker that made
/// them, with the bytes they were charged. The worker frees them: glibc malloc gives each
/// thread its own arena, and a free from another thread takes the owner's arena lock,
/// which the owner contends for on every allocation (that lock was a tenth of the run
/// time). The bytes stay charged to the in-flight budget until the memory is freed.
struct Returned(Vec<Transaction>, usize);

/// Opens the in-flight gate for good when the processor thread ends, even by a panic, so
/// that no worker waits forever.
struct CloseOnDrop<'a>(&'a InFlight);

impl Drop for CloseOnDrop<'_> {
    fn drop(&mut self) {
        let _used = self.0.used.lock().unwrap_or_else(|e| e.into_inner());
        self.0.closed.store(true, Ordering::Relaxed);
        self.0.freed.notify_all();
    }
}

/// Capture-thread counters the processor thread reads for the stats line and metrics.
#[derive(Debug, Default)]
struct SharedCapture {
    packets: AtomicU64,
    bytes: AtomicU64,
    kernel_dropped: AtomicU64,
}

#[derive(Clone, Debug, Default)]
struct WorkerCounters {
    decode: DecodeCounters,
    reassembly: ReassemblyCounters,
    http: HttpCounters,
    flow: FlowCounters,
}

crate::counters! {
    /// Worker-to-processor flow counters.
    pub struct FlowCounters {
        /// Times a worker waited because the transactions in flight to the processors
        /// filled their share of `-memory-limit` (the processors were behind).
        memory_limit_in_flight_waits,
    }
}

/// Sets `flag` on SIGINT/SIGTERM; a second signal removes the temporary output files being
/// written (`processor::temp_files`) and exits at once (status 130).
///
/// The handlers are installed without SA_RESTART, and the threads `run_until` starts block
/// both signals, so the signal is taken by the capture (calling) thread and interrupts a
/// read(2) it is blocked in with EINTR: a `-file -` pipe that stays open and quiet still
/// stops at once (the capture module reads EINTR as a stop, not as damage).
fn install_signal_handlers(flag: &Arc<AtomicBool>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    for sig in [SIGINT, SIGTERM] {
        // The second signal: exit at once, without leaving a temporary output file.
        let first = Arc::clone(flag);
        let shutdown = move || {
            if first.load(Ordering::SeqCst) {
                crate::processor::temp_files::TABLE.remove_all_now();
                signal_hook::low_level::exit(130);
            }
        };
        // SAFETY: the handler only loads atomics and calls unlink(2) and _exit(2), all
        // async-signal-safe.
        unsafe { signal_hook::low_level::register(sig, shutdown) }
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
        signal_hook::flag::register(sig, Arc::clone(flag))
            .map_err(|e| format!("cannot install signal handler: {e}"))?;
        // signal-hook installs its handler with SA_RESTART; keep the handler, drop the flag.
        // SAFETY: reads the installed action and writes it back with one flag cleared.
        let cleared = unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut act) == 0 && {
                act.sa_flags &= !libc::SA_RESTART;
                libc::sigaction(sig, &act, std::ptr::null_mut()) == 0
            }
        };
        if !cleared {
            return Err(format!(
                "cannot install signal handler: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Runs the pipeline until the source ends or SIGINT/SIGTERM, then flushes every pending
/// transaction into the processors. Errors are setup failures that stopped the run.
pub fn run(config: &Config, source: PacketSource, outputs: Outputs) -> Result<Summary, String> {
    let stop = Arc::new(AtomicBool::new(false));
    install_signal_handlers(&stop)?;
    run_until(config, source, outputs, &stop)
}

/// As `run`, with the stop flag given by the caller (tests set it themselves).
pub fn run_until(
    config: &Config,
    mut source: PacketSource,
    outputs: Outputs,
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
    let (out_tx, out_rx) = bounded::<FromWorker>(config.channel_capacity.max(1) * workers);

    let mut to_workers = Vec::with_capacity(workers);
    let mut handles = Vec::with_capacity(workers);
    let mut returns = Vec::with_capacity(workers);
    // Packet batches go back to the capture thread the same way (see `Returned`).
    let (spare_tx, spare_rx) = bounded::<Batch>(workers * 2);
    for (index, gate) in gates.iter().enumerate() {
        let (tx, rx) = bounded::<ToWorker>(config.channel_capacity.max(1));
        to_workers.push(tx);
        let (back_tx, back_rx) = bounded::<Returned>(config.channel_capacity.max(1));
        // The processor thread keeps a receiver too, to free what a finished worker did
        // not.
        returns.push((back_tx, back_rx.clone()));
        let spare = spare_tx.clone();
        let out = out_tx.clone();
        let setup = WorkerSetup {
            index,
            link,
            servers: config.servers.clone(),
            reassembly: ReassemblyLimits {
                memory_budget: shares.per_worker,
                ..config.reassembly.clone()
            },
            in_flight: Arc::clone(gate),
            http: config.http.clone(),
            check_interval: config.response_check_interval,
            bodies: config.bodies.clone(),
            redaction: config.redaction.clone(),
        };
        let handle = without_stop_signals(|| {
            thread::Builder::new()
                .name(format!("httshark-worker-{index}"))
                .spawn(move || worker(setup, rx, out, back_rx, spare))
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
        interval: config.stats.interval,
        // The stats line is a live heartbeat; offline it is info (-verbose=3).
        print: source.is_live() || config.verbose >= 3,
        next: None,
    };
    let processors = outputs.processors;
    let processor_thread = without_stop_signals(|| {
        thread::Builder::new()
            .name("httshark-processors".into())
            .spawn(move || process(out_rx, processors, returns, reporter, &gates))
    })
    .map_err(|e| format!("cannot start processor thread: {e}"))?;

    let mut summary = Summary::default();
    let mut capture = CaptureCounters::default();
    let progress = match &config.source {
        crate::config::Source::File(path) if std::io::stderr().is_terminal() => {
            std::fs::metadata(path).ok().map(|m| Progress::new(m.len()))
        }
        _ => None,
    };
    let end = capture_loop(
        &mut source,
        &to_workers,
        CaptureSetup {
            workers,
            link,
            stop,
            shared: &shared,
            progress,
            spare: spare_rx,
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
    worker_counters.flow.visit(&mut push);
    summary.counters.extend(processor_counters);
    Ok(summary)
}

struct CaptureSetup<'a> {
    workers: usize,
    link: LinkType,
    stop: &'a AtomicBool,
    shared: &'a SharedCapture,
    progress: Option<Progress>,
    /// Batches the workers are done with, to fill again.
    spare: Receiver<Batch>,
}

/// The progress bar of an offline run on a terminal: bytes of the file read, rate, ETA.
/// Redrawn at most every 200 ms of wall time; cleared at the end.
struct Progress {
    total: u64,
    started: std::time::Instant,
    drawn: Option<std::time::Instant>,
}

impl Progress {
    fn new(total: u64) -> Progress {
        Progress {
            total: total.max(1),
            started: std::time::Instant::now(),
            drawn: None,
        }
    }

    /// `read`: file bytes consumed so far (frames plus their record headers).
    fn update(&mut self, read: u64) {
        if self
            .drawn
            .is_some_and(|d| d.elapsed() < Duration::from_millis(200))
        {
            return;
        }
        self.drawn = Some(std::time::Instant::now());
        let done = read.min(self.total);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let eta = if rate > 0.0 {
            (self.total - done) as f64 / rate
        } else {
            0.0
        };
        let width = 30;
        let filled = (done as u128 * width as u128 / self.total as u128) as usize;
        crate::stderr_write!(
            "\r[{}{}] {:3}% {:7.1} MB/s ETA {:02}:{:02}  ",
            "#".repeat(filled),
            ".".repeat(width - filled),
            done * 100 / self.total,
            rate / 1e6,
            (eta as u64) / 60,
            (eta as u64) % 60
        );
    }

    fn finish(&self) {
        if self.drawn.is_none() {
            return;
        }
        crate::stderr_write!("\r{}\r", " ".repeat(72));
    }
}

/// Reads the source until it ends or `stop` is set; returns the final clock time.
fn capture_loop(
    source: &mut PacketSource,
    to_workers: &[Sender<ToWorker>],
    mut setup: CaptureSetup<'_>,
    counters: &mut CaptureCounters,
    summary: &mut Summary,
) -> Timestamp {
    let workers = setup.workers;
    let mut clock = MonotonicClock::default();
    let mut next_tick: Option<Timestamp> = None;
    let mut batches: Vec<Batch> = (0..workers).map(|_| Batch::new()).collect();
    // Bytes of the file consumed (pcap: 24-byte header, 16 bytes per record).
    let mut file_read: u64 = 24;
    let spare = &setup.spare;
    let send = |w: usize, batch: &mut Batch| {
        if !batch.packets.is_empty() {
            let next = spare.try_recv().unwrap_or_else(|_| Batch::new());
            let full = std::mem::replace(batch, next);
            let _ = to_workers[w].send(ToWorker::Packets(full));
        }
    };
    let tick = |now: Timestamp, batches: &mut Vec<Batch>| {
        for (w, batch) in batches.iter_mut().enumerate() {
            send(w, batch);
            let _ = to_workers[w].send(ToWorker::Tick(now));
        }
    };

    // Live: when the stop came, and until when the packets already received are read.
    let mut stopping: Option<(Timestamp, Timestamp)> = None;
    loop {
        if stopping.is_none() && setup.stop.load(Ordering::Relaxed) {
            match source.live_stop_time() {
                Some(t) => stopping = Some((t, t + crate::capture::STOP_DRAIN)),
                None => break,
            }
        }
        let (ts, now) = match source.next() {
            Next::Packet(p) => {
                let index = counters.packets;
                counters.packets += 1;
                counters.bytes += p.data.len() as u64;
                file_read += 16 + p.data.len() as u64;
                if (p.orig_len as usize) > p.data.len() {
                    counters.snaplen_cut += 1;
                }
                let w = if workers == 1 {
                    0
                } else {
                    shard(setup.link, p.data, workers)
                };
                let batch = &mut batches[w];
                batch.data.extend_from_slice(p.data);
                batch.packets.push((index, p.ts, batch.data.len()));
                if batch.is_full() {
                    send(w, batch);
                    if let Some(progress) = setup.progress.as_mut() {
                        progress.update(file_read);
                    }
                }
                (Some(p.ts), clock.advance(p.ts))
            }
            Next::Idle { now } => (None, clock.advance(now)),
            Next::End { warning } => {
                if let Some(w) = &warning {
                    crate::log_warn!("{w}");
                }
                summary.warnings.extend(warning);
                break;
            }
        };
        if let Some((at, until)) = stopping {
            // Packets come out of the ring in arrival order: one stamped at or after the
            // stop means every packet received before it has been read (and batched).
            if ts.is_some_and(|ts| ts >= at) || now >= until {
                break;
            }
        }
        let due = match next_tick {
            None => {
                next_tick = Some(now.floor_to(TICK_PERIOD) + TICK_PERIOD);
                false
            }
            Some(t) => now >= t,
        };
        if due || (ts.is_none() && next_tick.is_some()) {
            setup
                .shared
                .packets
                .store(counters.packets, Ordering::Relaxed);
            setup.shared.bytes.store(counters.bytes, Ordering::Relaxed);
            if ts.is_none() {
                // Live and idle: a good moment to read the kernel's drop counter.
                if let Some(stats) = source.stats() {
                    setup
                        .shared
                        .kernel_dropped
                        .store(stats.dropped, Ordering::Relaxed);
                }
            }
            tick(now, &mut batches);
            next_tick = Some(now.floor_to(TICK_PERIOD) + TICK_PERIOD);
        }
    }
    for (w, batch) in batches.iter_mut().enumerate() {
        send(w, batch);
    }
    setup
        .shared
        .packets
        .store(counters.packets, Ordering::Relaxed);
    setup.shared.bytes.store(counters.bytes, Ordering::Relaxed);
    if let Some(progress) = &setup.progress {
        progress.finish();
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

struct WorkerSetup {
    index: usize,
    link: LinkType,
    servers: ServerSet,
    reassembly: ReassemblyLimits,
    in_flight: Arc<InFlight>,
    http: HttpLimits,
    check_interval: Duration,
    bodies: BodySelector,
    redaction: Redaction,
}

fn worker(
    setup: WorkerSetup,
    rx: Receiver<ToWorker>,
    out: Sender<FromWorker>,
    back: Receiver<Returned>,
    spare: Sender<Batch>,
) {
    let WorkerSetup {
        index,
        link,
        servers,
        reassembly,
        in_flight,
        http,
        check_interval,
        bodies,
        redaction,
    } = setup;
    let mut flow = FlowCounters::default();
    let mut table = ConnTable::new(HttpFactory, servers, reassembly);
    let mut ctx = HttpCtx::new(http);
    let mut decode = DecodeCounters::default();
    let mut clock = MonotonicClock::default();
    let mut next_check: Option<Timestamp> = None;
    // Body selection and header redaction run here, so dropped bytes and redacted values
    // never cross threads. Redaction goes second: body selection reads Content-Type.
    let flush = |ctx: &mut HttpCtx, flow: &mut FlowCounters| {
        if !ctx.out.is_empty() {
            let mut txs = std::mem::take(&mut ctx.out);
            if !bodies.is_noop() {
                for tx in &mut txs {
                    bodies.apply(tx);
                }
            }
            if !redaction.is_noop() {
                for tx in &mut txs {
                    redaction.apply(tx);
                }
            }
            let bytes = txs.iter().map(Transaction::mem_bytes).sum();
            if in_flight.acquire(bytes, &back) {
                flow.memory_limit_in_flight_waits += 1;
            }
            let msg = FromWorker::Transactions {
                worker: index,
                txs,
                bytes,
            };
            if out.send(msg).is_err() {
                in_flight.release(bytes);
            }
        }
    };
    let stats = |table: &ConnTable<HttpFactory>,
                 ctx: &HttpCtx,
                 decode: &DecodeCounters,
                 flow: &FlowCounters| {
        Box::new(WorkerStats {
            counters: WorkerCounters {
                decode: decode.clone(),
                reassembly: table.counters().clone(),
                http: ctx.counters.clone(),
                flow: flow.clone(),
            },
            open_connections: table.open_connections() as u64,
            memory_used: table.memory_used() as u64,
        })
    };
    for msg in rx {
        in_flight.free_returned(&back);
        match msg {
            ToWorker::Packets(mut batch) => {
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
                batch.data.clear();
                batch.packets.clear();
                // The capture thread makes a new batch when none comes back.
                let _ = spare.try_send(batch);
                flush(&mut ctx, &mut flow);
            }
            ToWorker::Tick(ts) => {
                let now = clock.advance(ts);
                if next_check.is_none_or(|t| now >= t) {
                    table.on_tick(&mut ctx, now);
                    next_check = Some(now + check_interval);
                }
                flush(&mut ctx, &mut flow);
                let stats = stats(&table, &ctx, &decode, &flow);
                let _ = out.send(FromWorker::Tick {
                    worker: index,
                    now,
                    stats,
                });
            }
            ToWorker::End(ts) => {
                let now = clock.advance(ts);
                table.close_all(&mut ctx, now);
                flush(&mut ctx, &mut flow);
                let stats = stats(&table, &ctx, &decode, &flow);
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

/// The stats line (`-stats-interval`, packet time) and the metrics snapshot.
struct Reporter {
    capture: Arc<SharedCapture>,
    metrics: Option<crate::metrics::SharedMetrics>,
    interval: Duration,
    print: bool,
    next: Option<Timestamp>,
}

impl Reporter {
    /// Called when the watermark reaches `now`, with the latest stats of every worker.
    fn on_tick(&mut self, now: Timestamp, workers: &[WorkerStats]) {
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
        self.report(workers, false);
    }

    fn report(&self, workers: &[WorkerStats], last: bool) {
        let mut total = WorkerCounters::default();
        let mut open = 0;
        let mut buffered = 0;
        for w in workers {
            total.decode.merge(&w.counters.decode);
            total.reassembly.merge(&w.counters.reassembly);
            total.http.merge(&w.counters.http);
            total.flow.merge(&w.counters.flow);
            open += w.open_connections;
            buffered += w.memory_used;
        }
        let h = &total.http;
        let pending = h.requests.saturating_sub(h.transactions);
        let anomalies = h.anomalies + h.interrupted_messages + h.parse_errors;
        let memory = crate::metrics::resident_memory_bytes();
        let packets = self.capture.packets.load(Ordering::Relaxed);
        let bytes = self.capture.bytes.load(Ordering::Relaxed);
        let dropped = self.capture.kernel_dropped.load(Ordering::Relaxed);
        if self.print && !last {
            crate::stderr_line!(
                "httshark: stats packets={packets} bytes={bytes} kernel_dropped={dropped} \
                 connections={open} transactions={} pending={pending} unanswered={} gaps={} \
                 anomalies={anomalies} memory={}MiB",
                h.transactions,
                h.unanswered,
                total.reassembly.gaps,
                memory.unwrap_or(0) >> 20
            );
        }
        if let Some(m) = &self.metrics {
            let mut counters: Vec<(&'static str, u64)> = vec![
                ("packets", packets),
                ("bytes", bytes),
                ("kernel_dropped", dropped),
            ];
            let mut push = |name, value| counters.push((name, value));
            total.decode.visit(&mut push);
            total.reassembly.visit(&mut push);
            total.http.visit(&mut push);
            total.flow.visit(&mut push);
            m.set_counters(&counters);
            m.set_gauges(crate::metrics::Gauges {
                open_connections: Some(open),
                pending_requests: Some(pending),
                buffered_bytes: Some(buffered),
                memory_bytes: memory,
            });
        }
    }
}

/// The processor thread: feeds transactions to every processor, ticks them with the
/// workers' watermark, finishes them when every worker is done. Returns the summed worker
/// counters, the processors' counters and the output errors seen.
fn process(
    rx: Receiver<FromWorker>,
    mut processors: Vec<Box<dyn Processor>>,
    returns: Vec<(Sender<Returned>, Receiver<Returned>)>,
    mut reporter: Reporter,
    gates: &[Arc<InFlight>],
) -> (WorkerCounters, Vec<(&'static str, u64)>, Vec<String>) {
    let _open_gates: Vec<CloseOnDrop<'_>> = gates.iter().map(|g| CloseOnDrop(g)).collect();
    let workers = returns.len();
    let mut errors = Vec::new();
    let mut watermarks: Vec<Option<Timestamp>> = vec![None; workers];
    let mut latest: Vec<WorkerStats> = vec![WorkerStats::default(); workers];
    let mut ticked: Option<Timestamp> = None;
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
            FromWorker::Transactions { worker, txs, bytes } => {
                for tx in &txs {
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
                        report(&mut errors, p.on_transaction(tx));
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
                        reporter.on_tick(low, &latest);
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
    reporter.report(&latest, true);
    let mut totals = WorkerCounters::default();
    for w in &latest {
        totals.decode.merge(&w.counters.decode);
        totals.reassembly.merge(&w.counters.reassembly);
        totals.http.merge(&w.counters.http);
        totals.flow.merge(&w.counters.flow);
    }
    let mut processor_counters = Vec::new();
    for p in &processors {
        p.visit_counters(&mut |name, value| processor_counters.push((name, value)));
    }
    (totals, processor_counters, errors)
}

/// Distinct output errors kept for the summary (the rest are counted by the processors).
const MAX_ERRORS_KEPT: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_waiting_worker_frees_what_is_handed_back_and_goes_on() {
        let gate = Arc::new(InFlight::new(100));
        let (back_tx, back_rx) = bounded::<Returned>(4);
        assert!(!gate.acquire(80, &back_rx));
        let g = Arc::clone(&gate);
        let waiter = thread::spawn(move || (g.acquire(50, &back_rx), back_rx));
        thread::sleep(Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "80 + 50 is over the cap: it must wait"
        );
        // The processor thread hands the first batch back: only then are its bytes free.
        back_tx.send(Returned(Vec::new(), 80)).unwrap();
        gate.notify();
        let (waited, back_rx) = waiter.join().unwrap();
        assert!(waited);
        assert!(
            back_rx.is_empty(),
            "the waiting worker freed what came back"
        );
        assert_eq!(*gate.used.lock().unwrap(), 50);
    }
}
