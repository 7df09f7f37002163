//! `Worker`: the one entry point to the core. Frames and their packet time in,
//! transactions out; ticks and the end of the capture are calls (smoltcp's
//! `Interface::poll` is the model: the caller owns the clock and the I/O).
//!
//! ```text
//!  on_frame(frame, index, ts) ─▶ wire::decode ─▶ reassembly::ConnTable ─▶ proto::ProtoConn
//!  on_tick(ts)  (timeouts when due)                (per 4-tuple)           (detect, layers,
//!  finish(ts)   (every connection closed)                                    HTTP/1, HTTP/2)
//!  take_transactions() ◀─ body selection, then redaction ◀─ Transaction ◀──────┘
//! ```
//!
//! What it does not do: threads, channels, files or the wall clock. The pipeline's worker
//! thread is a channel loop around it; the bench, the fuzz `pipeline` target and the tests
//! drive the same type, so what they measure and check is what production runs.
//!
//! Invariant: time only moves forward inside (`MonotonicClock`), so a capture whose
//! timestamps step back cannot move timeouts back.

use std::sync::Arc;
use std::time::Duration;

use crate::counters::CounterSet;
use crate::h2::H2Counters;
use crate::hosts::ServerSet;
use crate::http::{HttpCounters, HttpLimits};
use crate::keylog::{Entry, KeyStore};
use crate::model::Transaction;
use crate::proto::{ProtoCounters, ProtoCtx, ProtoFactory};
use crate::reassembly::{ConnTable, ReassemblyCounters, ReassemblyLimits};
use crate::time::{MonotonicClock, Timestamp};
use crate::tls::{TlsCounters, TlsKeys, TlsSettings};
use crate::transform::{BodySelector, Redaction};
use crate::wire::{self, DecodeCounters, Decoded, LinkType};

/// One frame of a batch (`Worker::on_batch`): its position in the capture (connection
/// ids are made from it), its packet time, and where its bytes lie in the batch's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub index: u64,
    pub ts: Timestamp,
    pub start: usize,
    pub end: usize,
}

/// Everything a worker needs to know, resolved from the command line.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    /// Link type of the frames.
    pub link: LinkType,
    /// Which endpoints are servers (`-hosts`).
    pub servers: ServerSet,
    /// Reassembly limits, with this worker's share of `-memory-limit`.
    pub reassembly: ReassemblyLimits,
    pub http: HttpLimits,
    /// How often response timeouts and idle connections are checked (packet time).
    pub check_interval: Duration,
    /// Which bodies keep their bytes (`-drop-content-type`, `-keep-content-type`).
    pub bodies: BodySelector,
    /// Header values replaced in every output (`-redact-headers`).
    pub redaction: Redaction,
    /// TLS decryption: whether it is on, and how missing keys are treated.
    pub tls: TlsSettings,
    /// The secrets known when the worker starts (every key log of a file replay, and its
    /// pcapng Decryption Secrets Blocks); a live capture adds more with `add_secrets`.
    pub keys: Arc<KeyStore>,
    /// Some output reads body bytes (`HttpCtx::keep_bodies`; default true).
    pub keep_bodies: bool,
}

impl WorkerConfig {
    /// The worker of a run with `config` (what the binary runs), for frames of `link`.
    /// Each worker gets its share of `-memory-limit`.
    pub fn from_config(config: &crate::config::Config, link: LinkType) -> WorkerConfig {
        WorkerConfig {
            link,
            servers: config.servers.clone(),
            reassembly: ReassemblyLimits {
                memory_budget: config.memory_shares().per_worker,
                ..config.reassembly.clone()
            },
            http: config.http.clone(),
            check_interval: config.response_check_interval,
            bodies: config.bodies.clone(),
            redaction: config.redaction.clone(),
            tls: TlsSettings::default(),
            keys: Arc::default(),
            keep_bodies: true,
        }
    }
}

/// Every counter of one worker, in the order the summary prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkerCounters {
    pub decode: DecodeCounters,
    pub reassembly: ReassemblyCounters,
    pub http: HttpCounters,
    pub h2: H2Counters,
    pub proto: ProtoCounters,
    pub tls: TlsCounters,
}

impl WorkerCounters {
    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &WorkerCounters) {
        self.decode.merge(&other.decode);
        self.reassembly.merge(&other.reassembly);
        self.http.merge(&other.http);
        self.h2.merge(&other.h2);
        self.proto.merge(&other.proto);
        self.tls.merge(&other.tls);
    }

    /// Calls `f(name, value)` for every counter, in the summary's order.
    pub fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
        self.decode.visit(f);
        self.reassembly.visit(f);
        self.http.visit(f);
        self.h2.visit(f);
        self.proto.visit(f);
        self.tls.visit(f);
    }
}

/// A worker's counters and gauges at one time.
#[derive(Clone, Debug, Default)]
pub struct WorkerStats {
    pub counters: WorkerCounters,
    pub open_connections: u64,
    /// Bytes charged to the worker's memory budget.
    pub memory_used: u64,
}

/// The sans-I/O core of one shard of connections.
pub struct Worker {
    link: LinkType,
    table: ConnTable<ProtoFactory>,
    ctx: ProtoCtx,
    decode: DecodeCounters,
    clock: MonotonicClock,
    next_check: Option<Timestamp>,
    check_interval: Duration,
    bodies: BodySelector,
    redaction: Redaction,
}

impl Worker {
    pub fn new(config: WorkerConfig) -> Worker {
        let WorkerConfig {
            link,
            servers,
            reassembly,
            http,
            check_interval,
            bodies,
            redaction,
            tls,
            keys,
            keep_bodies,
        } = config;
        let mut ctx = ProtoCtx::new(http);
        ctx.http.keep_bodies = keep_bodies;
        ctx.tls_settings = tls;
        ctx.keys = TlsKeys::new(keys);
        Worker {
            link,
            table: ConnTable::new(ProtoFactory, servers, reassembly),
            ctx,
            decode: DecodeCounters::default(),
            clock: MonotonicClock::default(),
            next_check: None,
            check_interval,
            bodies,
            redaction,
        }
    }

    /// One captured frame; `index` is its position in the capture (connection ids are
    /// made from it), `ts` its packet time.
    pub fn on_frame(&mut self, frame: &[u8], index: u64, ts: Timestamp) {
        self.frame_in(frame, index, ts, &[]);
    }

    /// The frames of a batch, all in `data`, in capture order. As `on_frame` for each,
    /// but the causal window holds segments by their place in `data` and copies only the
    /// few still held when the batch is done (not every segment).
    pub fn on_batch(&mut self, data: &[u8], frames: &[Frame]) {
        for (i, f) in frames.iter().enumerate() {
            // The next frame's headers: written on another core (by the capture thread,
            // or by the kernel's read), and reading them cold was the largest single
            // stall of a worker.
            if let Some(next) = frames.get(i + 1) {
                prefetch(data, next.start);
                prefetch(data, next.start + 64);
            }
            self.frame_in(
                data.get(f.start..f.end).unwrap_or_default(),
                f.index,
                f.ts,
                data,
            );
        }
        self.table.detach_window(data);
    }

    fn frame_in(&mut self, frame: &[u8], index: u64, ts: Timestamp, batch: &[u8]) {
        let now = self.clock.advance(ts);
        let decoded = wire::decode(self.link, frame);
        self.decode.record(&decoded);
        if let Ok(Decoded::Tcp(seg)) = decoded {
            self.table
                .on_segment_in(&mut self.ctx, &seg, index, ts, now, batch);
        }
    }

    /// Time advanced to `ts` (packet time, or the wall clock of an idle live capture):
    /// response timeouts and idle connections are checked when `check_interval` has
    /// passed since the last check. Returns the worker's clock.
    pub fn on_tick(&mut self, ts: Timestamp) -> Timestamp {
        let now = self.clock.advance(ts);
        crate::proto::linger_tick(&mut self.ctx, now, false);
        if self.next_check.is_none_or(|t| now >= t) {
            self.table.on_tick(&mut self.ctx, now);
            self.next_check = Some(now + self.check_interval);
        }
        now
    }

    /// A pipeline tick at `ts`, when the capture (all workers' share of it) had reached
    /// packet index `latest`: segments the causal window holds that are old enough by
    /// capture position, or stamped before the tick, go now, so that what a connection
    /// sees, and which transactions complete before the tick, does not depend on the other
    /// connections of its worker. Call it before `on_tick`.
    pub fn captured_up_to(&mut self, latest: u64, ts: Timestamp) {
        let now = self.clock.advance(ts);
        self.table.captured_up_to(&mut self.ctx, latest, now);
    }

    /// The pipeline's tick at `ts`, when the capture had reached packet index `latest`:
    /// `captured_up_to`, then `on_tick`. The processors then take every transaction with
    /// `completed_at` up to the returned clock to have reached them, so one completed
    /// after it, by a packet stamped before it (timestamps going backwards), is stamped
    /// 1 ns after it (`HttpCtx::complete`, counted `completed_after_tick`): else, with
    /// several workers, whether it counted before the tick would depend on which worker
    /// passed the tick last.
    pub fn pipeline_tick(&mut self, latest: u64, ts: Timestamp) -> Timestamp {
        self.captured_up_to(latest, ts);
        let now = self.on_tick(ts);
        self.ctx.http.after_tick = Some(now);
        now
    }

    /// The capture ended at `ts`: every connection is closed and its pending requests
    /// become transactions. Returns the worker's clock.
    pub fn finish(&mut self, ts: Timestamp) -> Timestamp {
        let now = self.clock.advance(ts);
        self.table.close_all(&mut self.ctx, now);
        crate::proto::linger_tick(&mut self.ctx, now, true);
        now
    }

    /// Secrets from a key log that grew (live capture), in packet order with the frames:
    /// connections waiting for them are retried at their next packet or tick.
    pub fn add_secrets(&mut self, entries: &[Entry]) {
        if entries.is_empty() {
            return;
        }
        self.ctx.tls.tls_keylog_evictions += self.ctx.keys.add(entries);
    }

    /// Whether transactions are waiting to be taken.
    pub fn has_transactions(&self) -> bool {
        !self.ctx.http.out.is_empty()
    }

    /// The transactions completed since the last call, body selection then redaction
    /// applied (redaction goes second: body selection reads Content-Type), so dropped
    /// bytes and redacted values never leave the worker.
    pub fn take_transactions(&mut self) -> Vec<Transaction> {
        // The next batch's vector sized like this one's: grown from empty it was moved
        // (transactions are large) four or five times per batch.
        let room = self.ctx.http.out.len();
        let mut txs = std::mem::replace(&mut self.ctx.http.out, Vec::with_capacity(room));
        if !self.bodies.is_noop() {
            for tx in &mut txs {
                self.bodies.apply(tx);
            }
        }
        if !self.redaction.is_noop() {
            for tx in &mut txs {
                self.redaction.apply(tx);
            }
        }
        txs
    }

    pub fn counters(&self) -> WorkerCounters {
        WorkerCounters {
            decode: self.decode.clone(),
            reassembly: self.table.counters().clone(),
            http: self.ctx.http.counters.clone(),
            h2: self.ctx.http.h2.clone(),
            proto: self.ctx.counters.clone(),
            tls: self.ctx.tls.clone(),
        }
    }

    pub fn stats(&self) -> WorkerStats {
        WorkerStats {
            counters: self.counters(),
            open_connections: self.table.open_connections() as u64,
            memory_used: self.table.memory_used() as u64,
        }
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.table.open_connections()
    }

    /// Bytes charged to this worker's memory budget now.
    pub fn memory_used(&self) -> usize {
        self.table.memory_used()
    }
}

/// Asks the CPU to bring the cache line of `data[at]` closer (a hint: nothing happens past
/// the end, or on other architectures).
#[inline(always)]
fn prefetch(data: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(byte) = data.get(at) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE is part of every x86_64 CPU, and a prefetch neither reads nor writes
        // the memory it is given (the address is a live byte besides).
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(byte).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, at);
}
