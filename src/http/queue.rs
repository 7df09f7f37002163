//! The pending queue of a connection: requests enter it (`Entry`) when their head is
//! parsed, so that a response (or a 100 Continue) can pair with a request whose body is
//! still arriving; entries leave it as `Transaction`s, in order, once both their request
//! and their response are finished. Timeouts are the exception: they leave a tombstone
//! (the method only) so a late response is framed correctly and consumed instead of being
//! paired with the next request.
//!
//! Bounded by `max_pending_requests` entries, tombstones included: at the limit the oldest
//! is exported, and its response, if it comes, is skipped (`skip_responses`).
//!
//! Which entry a response belongs to is `pairing.rs`'s.

use std::cell::Cell;
use std::collections::VecDeque;

use crate::model::{Anomaly, ConnInfo, Interim, Request, Response, Transaction, Unanswered};
use crate::time::Timestamp;

use super::conn::HttpConn;
use super::half::Phase;
use super::HttpCtx;

/// The entries of a connection, oldest first, with their heap bytes remembered until one
/// changes: the reassembler re-measures a connection after every segment it delivers
/// (`StreamHandler::mem_bytes`), and summing every queued header's capacity each time was
/// 4% of a worker's time. Reading goes through `Deref`; each way to change an entry
/// forgets the sum.
#[derive(Debug, Default)]
pub(super) struct EntryQueue {
    entries: VecDeque<Entry>,
    /// `Entry::heap_bytes` summed over `entries`, when known.
    heap: Cell<Option<usize>>,
}

impl std::ops::Deref for EntryQueue {
    type Target = VecDeque<Entry>;
    fn deref(&self) -> &VecDeque<Entry> {
        &self.entries
    }
}

impl EntryQueue {
    /// The entries, to change: the remembered sum is forgotten.
    fn entries_mut(&mut self) -> &mut VecDeque<Entry> {
        self.heap.set(None);
        &mut self.entries
    }

    pub(super) fn get_mut(&mut self, i: usize) -> Option<&mut Entry> {
        self.entries_mut().get_mut(i)
    }

    pub(super) fn back_mut(&mut self) -> Option<&mut Entry> {
        self.entries_mut().back_mut()
    }

    pub(super) fn iter_mut(&mut self) -> std::collections::vec_deque::IterMut<'_, Entry> {
        self.entries_mut().iter_mut()
    }

    pub(super) fn pop_front(&mut self) -> Option<Entry> {
        self.entries_mut().pop_front()
    }

    pub(super) fn push_back(&mut self, e: Entry) {
        self.entries_mut().push_back(e);
    }

    pub(super) fn remove(&mut self, i: usize) -> Option<Entry> {
        self.entries_mut().remove(i)
    }

    pub(super) fn reserve_exact(&mut self, n: usize) {
        self.entries.reserve_exact(n);
    }

    /// Heap held by the queue: its slots and every entry's heap.
    pub(super) fn heap_bytes(&self) -> usize {
        let entries = match self.heap.get() {
            Some(n) => {
                debug_assert_eq!(
                    n,
                    self.entries.iter().map(Entry::heap_bytes).sum::<usize>(),
                    "an entry changed without forgetting the queue's heap sum"
                );
                n
            }
            None => {
                let n = self.entries.iter().map(Entry::heap_bytes).sum();
                self.heap.set(Some(n));
                n
            }
        };
        self.entries.capacity() * std::mem::size_of::<Entry>() + entries
    }
}

/// A request waiting for (or receiving) its response.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) depth: u32,
    pub(super) method: String,
    /// None: a tombstone (the request was exported on timeout; its response is skipped).
    pub(super) request: Option<Request>,
    pub(super) req_done: bool,
    pub(super) req_anomalies: Vec<Anomaly>,
    pub(super) interim: Vec<Interim>,
    pub(super) response: Option<Response>,
    /// The final response ended (or was lost, or will never come).
    pub(super) resp_done: bool,
    pub(super) resp_anomalies: Vec<Anomaly>,
    /// Why it has no response, set when that became certain.
    pub(super) unanswered: Option<Unanswered>,
    pub(super) http09: bool,
    /// Request-stream offset of the request's first byte, when known.
    pub(super) req_start: Option<u64>,
    /// Response-stream offset the client had received when it sent that byte (its ACK).
    pub(super) client_ack: Option<u64>,
    /// When it was sent, no earlier response was still due: every earlier request was
    /// done and the response side was between messages (see `AckPairing::shows_lost_response`).
    pub(super) clean_send: bool,
}

impl Entry {
    pub(super) fn is_tombstone(&self) -> bool {
        self.request.is_none()
    }

    /// The request timed out: returns the entry to export (unanswered, `Timeout`) and
    /// leaves this one a tombstone (the method only).
    pub(super) fn expire(&mut self) -> Entry {
        Entry {
            depth: self.depth,
            method: self.method.clone(),
            request: self.request.take(),
            req_done: true,
            req_anomalies: std::mem::take(&mut self.req_anomalies),
            interim: std::mem::take(&mut self.interim),
            response: None,
            resp_done: true,
            resp_anomalies: std::mem::take(&mut self.resp_anomalies),
            unanswered: Some(Unanswered::Timeout),
            http09: self.http09,
            req_start: self.req_start,
            client_ack: self.client_ack,
            clean_send: self.clean_send,
        }
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.method.capacity()
            + self.request.as_ref().map_or(0, Request::heap_bytes)
            + self.response.as_ref().map_or(0, Response::heap_bytes)
            + self.interim.capacity() * std::mem::size_of::<Interim>()
            + self.interim.iter().map(Interim::heap_bytes).sum::<usize>()
            + (self.req_anomalies.capacity() + self.resp_anomalies.capacity())
                * std::mem::size_of::<Anomaly>()
    }
}

/// Adds `a` to `list` unless it is there already.
pub(super) fn add_anomaly(list: &mut Vec<Anomaly>, a: Anomaly) {
    if !list.contains(&a) {
        list.push(a);
    }
}

impl HttpConn {
    pub(super) fn entry_mut(&mut self, depth: u32) -> Option<&mut Entry> {
        let i = self.queue.binary_search_by_key(&depth, |e| e.depth).ok()?;
        self.queue.get_mut(i)
    }

    /// The oldest entry still waiting for its final response.
    pub(super) fn front_waiting(&self) -> Option<&Entry> {
        self.queue.iter().find(|e| !e.resp_done)
    }

    /// Adds an entry, making room at `max_pending_requests` by exporting the oldest.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn push_entry(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        method: String,
        request: Request,
        req_anomalies: Vec<Anomaly>,
        http09: bool,
        ts: Timestamp,
    ) -> u32 {
        let max = ctx.limits.max_pending_requests.max(1);
        while self.queue.len() >= max {
            let Some(mut old) = self.queue.pop_front() else {
                break;
            };
            ctx.counters.pending_limit_hits += 1;
            if old.is_tombstone() {
                self.skip_responses = self.skip_responses.saturating_add(1);
                continue;
            }
            if old.response.is_none() && !old.resp_done {
                // Its response, if it comes, is skipped rather than mis-paired.
                self.skip_responses = self.skip_responses.saturating_add(1);
                old.unanswered = Some(Unanswered::PendingLimit);
            } else if let Some(r) = old.response.as_mut() {
                if !old.resp_done {
                    r.complete = false;
                    add_anomaly(&mut old.resp_anomalies, Anomaly::ResponseInterrupted);
                    ctx.counters.interrupted_messages += 1;
                }
            }
            self.emit(ctx, conn, old, ts);
        }
        let client_ack = self.halves.to_server.first_ack;
        let clean_send = self.queue.iter().all(|e| e.resp_done)
            && matches!(self.halves.to_client.phase, Phase::Start { .. })
            && self.pairing.response_end_known(client_ack);
        self.depth = self.depth.saturating_add(1);
        if self.queue.capacity() == 0 {
            // Most connections never pipeline: room for one entry, not the four (2.5 KiB)
            // a first push would allocate; pipelining grows it as usual.
            self.queue.reserve_exact(1);
        }
        self.queue.push_back(Entry {
            depth: self.depth,
            method,
            request: Some(request),
            req_done: false,
            req_anomalies,
            interim: Vec::new(),
            response: None,
            resp_done: false,
            resp_anomalies: Vec::new(),
            unanswered: None,
            http09,
            req_start: self.halves.to_server.first_off,
            client_ack,
            clean_send,
        });
        self.depth
    }

    /// The response to the oldest waiting request was lost (its start line is missing):
    /// that request gets no response, flagged, so later responses pair correctly.
    pub(super) fn lose_front_response(&mut self, ctx: &mut HttpCtx, _ts: Timestamp) {
        if self.skip_responses > 0 {
            self.skip_responses -= 1;
            return;
        }
        if let Some(e) = self.queue.iter_mut().find(|e| !e.resp_done) {
            e.resp_done = true;
            if !e.is_tombstone() {
                add_anomaly(&mut e.resp_anomalies, Anomaly::ResponseInterrupted);
                ctx.counters.interrupted_messages += 1;
            }
        }
    }

    /// Emits finished entries from the front of the queue, in order.
    pub(super) fn pop_done(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp) {
        while let Some(front) = self.queue.front() {
            let done = front.resp_done && (front.req_done || front.is_tombstone());
            if !done {
                break;
            }
            let Some(e) = self.queue.pop_front() else {
                break;
            };
            if !e.is_tombstone() {
                self.emit(ctx, conn, e, ts);
            }
        }
    }

    pub(super) fn emit(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, e: Entry, ts: Timestamp) {
        let Some(request) = e.request else { return };
        let mut anomalies = Vec::new();
        if conn.midstream {
            anomalies.push(Anomaly::MidStreamPickup);
        }
        for a in e.req_anomalies.into_iter().chain(e.resp_anomalies) {
            add_anomaly(&mut anomalies, a);
        }
        let mut response = e.response;
        if response.is_none() {
            if let Some(u) = e.unanswered {
                ctx.counters.unanswered += 1;
                add_anomaly(&mut anomalies, Anomaly::Unanswered(u));
            }
        }
        if let Some(r) = response.as_mut() {
            // Interim responses that came without a final one are not kept anywhere else.
            if r.interim.is_empty() && !e.interim.is_empty() {
                r.interim = e.interim;
            }
        }
        ctx.counters.transactions += 1;
        ctx.counters.anomalies += anomalies.len() as u64;
        ctx.complete(Transaction {
            conn: conn.clone(),
            depth: e.depth,
            request,
            response,
            anomalies,
            process: None,
            completed_at: ts,
            tls: None,
            h2: None,
        });
    }

    /// Every request still waiting is answered no more.
    pub(super) fn abandon_waiting(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        why: Unanswered,
        ts: Timestamp,
    ) {
        for e in self.queue.iter_mut() {
            if !e.resp_done {
                e.resp_done = true;
                if e.response.is_none() {
                    e.unanswered = Some(why);
                }
            }
        }
        self.skip_responses = 0;
        self.pop_done(ctx, conn, ts);
    }
}
