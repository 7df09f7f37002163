//! The capture thread: reads the packet source, batches frames per worker (sharded by a
//! symmetric hash of the 4-tuple), sends ticks of packet time, and stops on a signal after
//! reading what a live capture already received.
//!
//! What it does not do: decode beyond the flow hash, or look at payloads.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::batch::{Batch, Batcher};
use super::outliers::Outliers;
use super::progress::Progress;
use super::{Summary, ToWorker};
use crate::capture::{Next, PacketSource};
use crate::time::{MonotonicClock, Timestamp};
use crate::wire::{self, Decoded, LinkType};

/// Packet time between two ticks sent by the capture thread.
pub(super) const TICK_PERIOD: Duration = Duration::from_secs(1);
crate::counters! {
    /// Capture-side counters (capture thread).
    pub struct CaptureCounters {
        /// Frames read from the source (that matched the capture filter).
        packets,
        /// Records of a capture file (or standard input) that the capture filter rejected.
        /// Live captures filter in the kernel, before anything is counted: always 0 there.
        filtered_out,
        /// Captured bytes read from the source.
        bytes,
        /// Frames cut by the snaplen (captured length < length on the wire); their lost
        /// bytes reach HTTP as gaps.
        snaplen_cut,
        /// Records of a capture file stamped more than `MAX_TIMESTAMP_JUMP` (a day) ahead
        /// of the capture's clock that the next record did not confirm (a damaged
        /// timestamp): used with the clock's time instead of their own, so that one bad
        /// record does not move packet time for the rest of the file.
        timestamp_outliers,
        /// Frames dropped by the kernel (live; from libpcap statistics).
        kernel_dropped,
        /// Frames dropped by the interface or driver (live; from libpcap statistics).
        interface_dropped,
        /// Times a batch of packets found its worker's queue full and the capture thread
        /// waited (the workers were behind; live, the kernel buffer fills meanwhile). Set
        /// by thread scheduling, not by the capture: it varies from run to run.
        worker_queue_full_waits,
    }
}

/// Capture-thread counters the processor thread reads for the stats line and metrics.
#[derive(Debug, Default)]
pub(super) struct SharedCapture {
    pub(super) packets: AtomicU64,
    pub(super) bytes: AtomicU64,
    pub(super) kernel_dropped: AtomicU64,
    pub(super) snaplen_cut: AtomicU64,
    pub(super) timestamp_outliers: AtomicU64,
    pub(super) interface_dropped: AtomicU64,
    /// Requests waiting for their response at the processors' last watermark (for the
    /// "stopping" note).
    pub(super) pending: AtomicU64,
    /// Records the filter rejected (files and stdin; see `CaptureCounters::filtered_out`).
    pub(super) filtered_out: AtomicU64,
    pub(super) worker_queue_full_waits: AtomicU64,
}

impl SharedCapture {
    /// The counters as last published by the capture thread.
    pub(super) fn counters(&self) -> CaptureCounters {
        CaptureCounters {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            snaplen_cut: self.snaplen_cut.load(Ordering::Relaxed),
            timestamp_outliers: self.timestamp_outliers.load(Ordering::Relaxed),
            kernel_dropped: self.kernel_dropped.load(Ordering::Relaxed),
            interface_dropped: self.interface_dropped.load(Ordering::Relaxed),
            filtered_out: self.filtered_out.load(Ordering::Relaxed),
            worker_queue_full_waits: self.worker_queue_full_waits.load(Ordering::Relaxed),
        }
    }

    fn publish(&self, counters: &CaptureCounters) {
        self.packets.store(counters.packets, Ordering::Relaxed);
        self.bytes.store(counters.bytes, Ordering::Relaxed);
        self.snaplen_cut
            .store(counters.snaplen_cut, Ordering::Relaxed);
        self.timestamp_outliers
            .store(counters.timestamp_outliers, Ordering::Relaxed);
        self.filtered_out
            .store(counters.filtered_out, Ordering::Relaxed);
        self.worker_queue_full_waits
            .store(counters.worker_queue_full_waits, Ordering::Relaxed);
    }
}

/// Where the capture stops before its source ends (`-c`, `-duration`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct StopAfter {
    /// `-c COUNT`: after this many packets (that matched the filter), as tcpdump.
    pub(super) packets: Option<u64>,
    /// `-duration`: after this much capture time, from the first packet (files) or the
    /// start (live). Packets stamped at or after the limit are not used.
    pub(super) duration: Option<Duration>,
}

/// Why the capture loop stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ended {
    /// The source ended (end of file), or failed (a warning says why).
    #[default]
    Source,
    /// SIGINT or SIGTERM.
    Signal,
    /// `-c COUNT` packets were read.
    Count,
    /// `-duration` of capture time passed.
    Duration,
}

pub(super) struct CaptureSetup<'a> {
    pub(super) workers: usize,
    pub(super) link: LinkType,
    pub(super) stop: &'a AtomicBool,
    pub(super) shared: &'a SharedCapture,
    pub(super) progress: Option<Progress>,
    /// Chunks the workers are done with, to fill again.
    pub(super) spare: Receiver<Vec<u8>>,
    pub(super) stop_after: StopAfter,
    /// Live: the key logs followed; polled before packets leave for the workers.
    pub(super) keys: &'a mut super::Keys,
    /// Live with attribution: told of every SYN (never waits).
    pub(super) attrib: Option<crate::attrib::Asker>,
    /// `-file-pace`: packet time per wall time (0: as fast as the file is read).
    pub(super) pace: f64,
}

/// Reads the source until it ends, `stop` is set or a `-c`/`-duration` limit is reached;
/// returns the final clock time and why it stopped.
pub(super) fn capture_loop(
    source: &mut PacketSource,
    to_workers: &[Sender<ToWorker>],
    mut setup: CaptureSetup<'_>,
    counters: &mut CaptureCounters,
    summary: &mut Summary,
) -> (Timestamp, Ended) {
    let workers = setup.workers;
    if source.is_live() {
        // Live: the ring fills while this thread waits for a core (every other thread
        // of the pipeline is spawned by now, so none inherits it).
        crate::sched::raise_this_thread("capture thread");
    }
    let mut clock = MonotonicClock::default();
    // Files only: the kernel stamps a live capture.
    let mut outliers = Outliers::new(!source.is_live());
    let mut next_tick: Option<Timestamp> = None;
    let mut batcher = Batcher::new(workers, setup.spare.clone());
    let mut pacer = super::pace::Pacer::new(setup.pace);
    // Bytes of the file consumed (pcap: 24-byte header, 16 bytes per record).
    let mut file_read: u64 = 24;
    // Secrets a client wrote before the packets of a batch were captured reach the workers
    // before that batch: the key logs are polled right before any batch leaves.
    let send_keys = |keys: &mut super::Keys| {
        if let Some(fresh) = keys.poll() {
            for tx in to_workers {
                let _ = tx.send(ToWorker::Secrets(Arc::clone(&fresh)));
            }
        }
    };
    let send = |batcher: &mut Batcher, keys: &mut super::Keys, counters: &mut CaptureCounters| {
        let batches: Vec<(usize, Batch)> = batcher.take();
        if !batches.is_empty() {
            send_keys(keys);
            for (w, batch) in batches {
                if super::send_or_wait(&to_workers[w], ToWorker::Packets(batch)) == Some(true) {
                    counters.worker_queue_full_waits += 1;
                }
            }
        }
    };
    let tick = |now: Timestamp,
                latest: u64,
                batcher: &mut Batcher,
                keys: &mut super::Keys,
                counters: &mut CaptureCounters| {
        send_keys(keys);
        send(batcher, keys, counters);
        for tx in to_workers {
            let _ = tx.send(ToWorker::Tick(now, latest));
        }
    };

    // Chunks the workers handed back, for the source (given to it between reads: a packet
    // borrows the source).
    let mut returned: Vec<Vec<u8>> = Vec::new();
    // Live: when the stop came, and until when the packets already received are read.
    let mut stopping: Option<(Timestamp, Timestamp)> = None;
    let mut ended = Ended::Source;
    // `-duration`: live, from now; offline, from the first packet.
    let mut deadline = setup
        .stop_after
        .duration
        .and_then(|d| source.live_stop_time().map(|t| t + d));
    if setup.stop_after.packets == Some(0) {
        return (Timestamp::default(), Ended::Count);
    }
    'read: loop {
        if stopping.is_none() && setup.stop.load(Ordering::Relaxed) {
            ended = Ended::Signal;
            let pending = setup.shared.pending.load(Ordering::Relaxed);
            match source.live_stop_time() {
                Some(t) => {
                    crate::stderr_line!(
                        "httshark: stopping: reading what the kernel received, flushing \
                         {pending} pending transactions (interrupt again to quit at once)"
                    );
                    stopping = Some((t, t + crate::capture::STOP_DRAIN));
                }
                None => {
                    crate::stderr_line!(
                        "httshark: stopping: flushing {pending} pending transactions \
                         (interrupt again to quit at once)"
                    );
                    break;
                }
            }
        }
        for chunk in returned.drain(..) {
            source.recycle(chunk);
        }
        // Uses one record (`ts` its time, after `outliers.rs`): batched for its worker;
        // `Some` when the capture stops here (`-duration` before it, `-c` with it).
        let mut admit = |ts: Timestamp,
                         data: &[u8],
                         orig_len: u32,
                         chunk: Option<&Arc<Vec<u8>>>|
         -> Option<Ended> {
            if let Some(d) = setup.stop_after.duration {
                if ts >= *deadline.get_or_insert(ts + d) {
                    // Packets come in arrival order: everything before the limit is read.
                    return Some(Ended::Duration);
                }
            }
            if let Some(pacer) = pacer.as_mut() {
                let wait = pacer.due_in(ts);
                if super::pace::Pacer::worth_waiting(wait) {
                    // What was read reaches the workers (and the view) before the pause.
                    send(&mut batcher, setup.keys, counters);
                    super::pace::Pacer::sleep(wait, setup.stop);
                }
            }
            let index = counters.packets;
            counters.packets += 1;
            if let Some(asker) = &setup.attrib {
                // A connection's first packet: its id (`ConnInfo::id`) is this index.
                if let Ok(Decoded::Tcp(seg)) = wire::decode(setup.link, data) {
                    if seg.flags.syn && !seg.flags.ack {
                        asker.seen(index, seg.src, seg.dst);
                    }
                }
            }
            counters.bytes += data.len() as u64;
            file_read += 16 + data.len() as u64;
            if (orig_len as usize) > data.len() {
                counters.snaplen_cut += 1;
            }
            let w = if workers == 1 {
                0
            } else {
                shard(setup.link, data, workers)
            };
            if !batcher.fits(chunk) {
                send(&mut batcher, setup.keys, counters);
            }
            let new_chunk = chunk.is_some() && batcher.is_empty();
            batcher.push(w, index, ts, data, chunk);
            if new_chunk {
                // The source reads its next chunks into those the workers are done with.
                returned.extend(batcher.returned());
            }
            if batcher.is_full() {
                send(&mut batcher, setup.keys, counters);
                if let Some(progress) = setup.progress.as_mut() {
                    progress.update(file_read);
                }
            }
            if setup.stop_after.packets == Some(counters.packets) {
                return Some(Ended::Count);
            }
            None
        };
        let (ts, now) = match source.next() {
            // Nearly every record: nothing held, stamped near the clock.
            Next::Packet(p) if outliers.passes(p.ts, clock.now()) => {
                if let Some(why) = admit(p.ts, p.data, p.orig_len, p.chunk) {
                    ended = why;
                    break 'read;
                }
                (Some(p.ts), clock.advance(p.ts))
            }
            Next::Packet(p) => {
                // A file's record stamped far ahead waits for the next one to say whether
                // its jump is real (`outliers.rs`); the one held before may go first.
                let verdict = outliers.offer(p.ts, clock.now());
                if verdict.hold {
                    outliers.hold(p.ts, p.data, p.orig_len);
                }
                let held = verdict
                    .release
                    .as_ref()
                    .map(|(ts, h)| (*ts, h.data.as_slice(), h.orig_len, None));
                let this = (!verdict.hold).then_some((p.ts, p.data, p.orig_len, p.chunk));
                let mut last = None;
                for (ts, data, orig_len, chunk) in held.into_iter().chain(this) {
                    if let Some(why) = admit(ts, data, orig_len, chunk) {
                        ended = why;
                        break 'read;
                    }
                    clock.advance(ts);
                    last = Some(ts);
                }
                // The clock has taken every record used (in the loop).
                let (Some(ts), Some(now)) = (last, clock.now()) else {
                    continue;
                };
                (Some(ts), now)
            }
            Next::Filtered => {
                counters.filtered_out += 1;
                continue;
            }
            Next::Idle { now } => {
                if let Some(limit) = deadline {
                    if stopping.is_none() && now >= limit {
                        // Live and past the limit: read what the kernel already holds
                        // (stamped before it), as on a signal.
                        ended = Ended::Duration;
                        stopping = Some((limit, now + crate::capture::STOP_DRAIN));
                    }
                }
                (None, clock.advance(now))
            }
            Next::End { warning } => {
                // A record still held (the last, stamped far ahead) goes now.
                if let Some((ts, h)) = outliers.finish(clock.now()) {
                    if let Some(why) = admit(ts, &h.data, h.orig_len, None) {
                        ended = why;
                    }
                    clock.advance(ts);
                }
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
            setup.shared.publish(counters);
            if ts.is_none() {
                // Live and idle: a good moment to read the kernel's drop counters.
                if let Some(stats) = source.stats() {
                    setup
                        .shared
                        .kernel_dropped
                        .store(stats.dropped, Ordering::Relaxed);
                    setup
                        .shared
                        .interface_dropped
                        .store(stats.if_dropped, Ordering::Relaxed);
                }
            }
            // The index of the last packet read (indices start at 0).
            let latest = counters.packets.saturating_sub(1);
            tick(now, latest, &mut batcher, setup.keys, counters);
            next_tick = Some(now.floor_to(TICK_PERIOD) + TICK_PERIOD);
        }
    }
    send(&mut batcher, setup.keys, counters);
    counters.timestamp_outliers = outliers.count;
    setup.shared.publish(counters);
    if let Some(progress) = &setup.progress {
        progress.finish();
    }
    (clock.now().unwrap_or_default(), ended)
}

/// Which worker owns the connection of this frame (frames that are not TCP go to 0).
fn shard(link: LinkType, frame: &[u8], workers: usize) -> usize {
    match wire::tcp_endpoints(link, frame) {
        Some((src, dst)) => (wire::symmetric_flow_hash(&src, &dst) % workers as u64) as usize,
        None => 0,
    }
}
