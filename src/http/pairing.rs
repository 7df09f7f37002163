//! Which request a response answers: the oldest entry without a final response (RFC 9112
//! §9.3.2, in order), unless TCP acknowledgments say otherwise after a loss.
//!
//! `AckPairing` holds what the ACKs showed: both streams' offsets (counted here, data and
//! gaps), the ACKs of the bytes being delivered, where the request stream lost bytes, and
//! whether the response stream did. Its methods are the rules of docs/architecture.md,
//! "Pairing when the capture lost packets", each a pure decision over stream offsets:
//! 1. `rules_out`: the server's ACK rules a request out;
//! 2. `answers_lost_request` (+ `lost_placeholder`): a response to a lost request is
//!    exported with a `RequestLost` placeholder, not shifted onto the next request;
//! 3. `shows_lost_response`: the client's ACKs show a lost response;
//! 4. `request_boundary`: request resync restarts at the server's ACK;
//! 5. `lost_before` / `lost_own`: what no ACK decides is flagged `PairingUncertain`.
//!
//! The `impl HttpConn` below applies them to the queue (`queue.rs`). Not here: framing
//! (a response's owner only changes which entry its head and body go to).

use crate::model::{Anomaly, Body, ConnInfo, Direction, HttpVersion, PerDirection, Request};
use crate::time::Timestamp;

use super::conn::HttpConn;
use super::half::Phase;
use super::queue::{add_anomaly, Entry};
use super::HttpCtx;

/// Who the response in progress belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Owner {
    Entry(u32),
    /// The response answers a request the capture lost (see `AckPairing::lost`).
    Lost,
    /// Orphan or late response: framed and skipped.
    Discard,
}

/// What TCP acknowledgments tell about pairing, per connection.
#[derive(Debug, Default)]
pub(super) struct AckPairing {
    /// Bytes (data and gaps) delivered so far per direction: the stream offset of the next.
    pub(super) delivered: PerDirection<u64>,
    /// During a call from the reassembler: the stream offset of the next byte `step`
    /// looks at. `None` while bytes held earlier are fed again (their offsets are gone).
    pub(super) at: PerDirection<Option<u64>>,
    /// The ACK given by `on_ack` for the response bytes of the current `on_data` call.
    pub(super) resp_ack: Option<u64>,
    /// The same for the request bytes.
    pub(super) req_ack: Option<u64>,
    /// Request-stream span where gaps may have hidden whole requests (a gap outside a
    /// body of known length), not yet passed by a paired response.
    pub(super) lost_span: Option<(u64, u64)>,
    /// Request-stream offset from which the server's ACKs say a request starts: the
    /// highest ACK of a response segment (in a non-pipelined exchange, the next request
    /// follows the answered one's last byte). Lets the request side resync there.
    pub(super) req_boundary: Option<u64>,
    /// The placeholder entry of a lost request whose response is in progress.
    pub(super) lost: Option<Box<Entry>>,
    /// The last response ended cut short, or the response stream lost bytes since: where
    /// it really ended is unknown.
    pub(super) resp_broken: bool,
    /// The response stream lost bytes outside a body of known length since the last
    /// response head: a whole response may have been lost there.
    pub(super) resp_lost: bool,
}

impl AckPairing {
    /// `len` bytes (or a gap of `len`) of `dir` are delivered. Returns the stream offset
    /// of the first.
    pub(super) fn deliver(&mut self, dir: Direction, len: u64) -> u64 {
        let start = self.delivered[dir];
        self.delivered[dir] = start.saturating_add(len);
        start
    }

    /// The ACKs given for the bytes of one delivery hold for those bytes only.
    pub(super) fn clear_acks(&mut self) {
        self.resp_ack = None;
        self.req_ack = None;
    }

    /// A delivery of `dir` was parsed: its offsets and ACKs are gone.
    pub(super) fn end_delivery(&mut self, dir: Direction) {
        self.at[dir] = None;
        self.clear_acks();
    }

    /// A response's ACK says how much of the request stream the server had received when
    /// it sent the response (`rules_out`); a request's ACK says how much of the response
    /// stream the client had received when it sent the request (`shows_lost_response`).
    pub(super) fn on_ack(&mut self, dir: Direction, ack: u64) {
        match dir {
            Direction::ToClient => {
                self.resp_ack = Some(ack);
                self.req_boundary = Some(self.req_boundary.map_or(ack, |b| b.max(ack)));
            }
            Direction::ToServer => self.req_ack = Some(ack),
        }
    }

    /// A gap of `len` at stream offset `start` of `dir`; `absorbed`: it lay inside a body
    /// of known length (or in bytes that are not messages) and hid no whole message.
    pub(super) fn after_gap(&mut self, dir: Direction, start: u64, len: u64, absorbed: bool) {
        if absorbed {
            return;
        }
        match dir {
            Direction::ToClient => {
                self.resp_lost = true;
                self.resp_broken = true;
            }
            Direction::ToServer => {
                // Outside a body of known length: whole requests may have been lost here.
                let end = start.saturating_add(len);
                self.lost_span = Some(self.lost_span.map_or((start, end), |(s, _)| (s, end)));
            }
        }
    }

    /// The ACK of the message of `dir` beginning now, as an offset of the other stream.
    pub(super) fn first_ack(&self, dir: Direction) -> Option<u64> {
        match dir {
            // No response byte delivered yet: the client had received none of the
            // response stream as seen here (its offset 0).
            Direction::ToServer => self
                .req_ack
                .or((self.delivered.to_client == 0).then_some(0)),
            Direction::ToClient => self.resp_ack,
        }
    }

    /// Where the last response really ended is known to a client whose ACK is `client_ack`:
    /// no response was cut, or the client had received every response byte seen so far
    /// (see `Entry::clean_send`).
    pub(super) fn response_end_known(&self, client_ack: Option<u64>) -> bool {
        !self.resp_broken || client_ack.is_some_and(|c| c >= self.delivered.to_client)
    }

    /// Rule 1. A response whose first segment acknowledged the request stream only up to
    /// `ack` cannot answer a request starting at `req_start` at or after `ack`: the server
    /// had not received a byte of it (RFC 9112 §9.3: a server responds to a request it
    /// received). A response answers request k only if `ack > start(k)`; usually
    /// `ack >= end(k)`, but a server may answer before a request's body is in (100
    /// Continue, an early 4xx). With an unknown ACK or start, nothing is ruled out
    /// (pairing in order).
    pub(super) fn rules_out(ack: Option<u64>, req_start: Option<u64>) -> bool {
        match (ack, req_start) {
            (Some(a), Some(s)) => a <= s,
            _ => false,
        }
    }

    /// Rule 2. No waiting request can take a response with `ack`: if the request stream
    /// lost bytes before the ACK (or the ACK is unknown), the answered request was most
    /// likely among them.
    pub(super) fn answers_lost_request(&self, ack: Option<u64>) -> bool {
        self.lost_span
            .is_some_and(|(s, _)| ack.is_none_or(|a| s < a))
    }

    /// Rule 3. Before pairing a response head that starts at response-stream offset
    /// `start`, with `w` the oldest waiting request and `n` the next: W was sent when no
    /// earlier response was due (`clean_send`), having received the response stream up
    /// to `client_ack(W)`; N was sent having received more (`client_ack(N) >
    /// client_ack(W)`): those bytes are W's response (or its start). A response head at or
    /// after `client_ack(N)` is therefore not W's: W's was lost. A pipelining client sends
    /// N before any of W's response arrives (equal ACKs): no conclusion.
    pub(super) fn shows_lost_response(w: &Entry, n: &Entry, start: u64) -> bool {
        !w.is_tombstone()
            && w.response.is_none()
            && w.clean_send
            && match (w.client_ack, n.client_ack) {
                (Some(cw), Some(cn)) => cn > cw && start >= cn,
                _ => false,
            }
    }

    /// Rule 4. While the request side resyncs over bytes starting at request-stream
    /// offset `at.to_server`: how far into them the server's ACKs say a request starts.
    pub(super) fn request_boundary(&self) -> Option<u64> {
        match (self.req_boundary, self.at.to_server) {
            (Some(b), Some(at)) => b.checked_sub(at),
            _ => None,
        }
    }

    /// Rule 5. Request bytes were lost before a request starting at `req_start`, where
    /// the server may have received a request that a response with `ack` answers (the
    /// ACK does not rule it out: pipelining, or no ACK): its pairing is uncertain.
    pub(super) fn lost_before(&self, req_start: Option<u64>, ack: Option<u64>) -> bool {
        req_start.is_some_and(|s| {
            self.lost_span
                .is_some_and(|(from, to)| to <= s && ack.is_none_or(|a| from < a))
        })
    }

    /// The lost bytes began inside the request starting at `req_start`, and the server
    /// had them all when it answered with `ack`: they were that request's own (if it was
    /// cut), not a lost request's.
    pub(super) fn lost_own(&self, req_start: Option<u64>, ack: Option<u64>) -> bool {
        req_start.is_some_and(|s| {
            self.lost_span
                .is_some_and(|(from, to)| from >= s && ack.is_some_and(|a| a >= to))
        })
    }

    /// The client sent its request bytes having received exactly the response stream so
    /// far (no byte after the head it had): see `HttpConn::end_lost_bodyless`.
    pub(super) fn client_has_all_responses(&self) -> bool {
        self.req_ack == Some(self.delivered.to_client)
    }
}

/// Rule 2's placeholder entry for a response to a request the capture lost: no method, no
/// target, flagged `RequestLost`, at `depth`.
pub(super) fn lost_placeholder(depth: u32, ts: Timestamp) -> Entry {
    Entry {
        depth,
        method: String::new(),
        request: Some(Request {
            method: String::new(),
            target: String::new(),
            version: HttpVersion::Http11,
            headers: Vec::new(),
            head_len: 0,
            body: Body::default(),
            first_ts: ts,
            last_ts: ts,
            complete: false,
        }),
        req_done: true,
        req_anomalies: vec![Anomaly::RequestLost],
        interim: Vec::new(),
        response: None,
        resp_done: false,
        resp_anomalies: Vec::new(),
        unanswered: None,
        http09: false,
        req_start: None,
        client_ack: None,
        clean_send: false,
    }
}

impl HttpConn {
    /// Pairs a response head with the oldest waiting entry, unless its ACK says it was
    /// sent before any byte of that request reached the server (rule 1).
    /// Returns the owner, the request method (for framing), and whether the response is
    /// late (its request timed out).
    pub(super) fn response_owner(
        &mut self,
        ctx: &mut HttpCtx,
        interim: bool,
    ) -> (Owner, Option<String>, bool) {
        if self.skip_responses > 0 {
            return (Owner::Discard, None, true);
        }
        let ack = self.halves.to_client.first_ack;
        let resp_lost = !interim && std::mem::take(&mut self.pairing.resp_lost);
        let front = self.front_waiting();
        let ruled_out = front.is_some_and(|e| AckPairing::rules_out(ack, e.req_start));
        match front {
            Some(e) if e.is_tombstone() && !ruled_out => {
                (Owner::Discard, Some(e.method.clone()), true)
            }
            Some(e) if !ruled_out => {
                let (depth, method) = (e.depth, e.method.clone());
                let before = self.pairing.lost_before(e.req_start, ack);
                // A request with a gap of its own was cut (a complete request has no such
                // gap: one inside a body of known length is absorbed). A request
                // pipelined into the lost bytes is not looked for.
                let own = !interim
                    && self.pairing.lost_own(e.req_start, ack)
                    && !(e.req_done && e.request.as_ref().is_some_and(|r| r.complete));
                if own {
                    self.pairing.lost_span = None;
                }
                if before && !interim {
                    self.uncertain_pairing(ctx, depth, resp_lost);
                } else if ack.is_some() && !interim {
                    ctx.counters.responses_paired_by_ack += 1;
                }
                (Owner::Entry(depth), Some(method), false)
            }
            _ => {
                if self.pairing.answers_lost_request(ack) && !interim {
                    self.pairing.lost_span = None;
                    (Owner::Lost, None, false)
                } else {
                    (Owner::Discard, None, false)
                }
            }
        }
    }

    /// Rule 5: entry `depth` takes a response although a lost request before it may have
    /// been the one answered.
    fn uncertain_pairing(&mut self, ctx: &mut HttpCtx, depth: u32, resp_lost: bool) {
        if resp_lost {
            // The response stream lost bytes too since the last response: the lost
            // request's response is taken to be among them.
            self.pairing.lost_span = None;
            ctx.counters.lost_pairs_balanced += 1;
        } else if let Some(e) = self.entry_mut(depth) {
            // Kept: until a response shows up for the lost request (ruled out for every
            // waiting one), later pairings may be shifted too.
            add_anomaly(&mut e.resp_anomalies, Anomaly::PairingUncertain);
            ctx.counters.uncertain_pairings += 1;
        }
    }

    /// Rule 3, before pairing a final response head: while the client's ACKs show that
    /// the oldest waiting request W lost its response (its head in a gap, or
    /// unparseable), W is exported flagged `ResponseInterrupted` instead of taking a
    /// later response. Repeats for the next W.
    pub(super) fn lose_responses_shown_by_ack(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        ts: Timestamp,
        interim: bool,
    ) {
        let Some(start) = self.halves.to_client.first_off else {
            return;
        };
        if interim || self.skip_responses > 0 {
            return;
        }
        loop {
            let Some(w) = self.queue.iter().position(|e| !e.resp_done) else {
                return;
            };
            let (Some(e), Some(n)) = (self.queue.get(w), self.queue.get(w + 1)) else {
                return;
            };
            if !AckPairing::shows_lost_response(e, n, start) {
                return;
            }
            ctx.counters.responses_lost_by_ack += 1;
            self.lose_front_response(ctx, ts);
            self.pop_done(ctx, conn, ts);
        }
    }

    /// A response to a lost request is framed as if the request were a GET; if it was a
    /// HEAD, its Content-Length announces a body that never comes (RFC 9110 §9.3.2) and
    /// the next response would be read as that body. The client's next request tells: it
    /// was sent having received exactly the response head (its ACK is where the body
    /// would start, and no body byte came), so the body is empty and the response ends
    /// there.
    pub(super) fn end_lost_bodyless(&mut self, ctx: &mut HttpCtx, conn: &ConnInfo, ts: Timestamp) {
        let h = &self.halves.to_client;
        let Phase::Body(reader) = &h.phase else {
            return;
        };
        let bodyless = h.owner == Owner::Lost
            && reader.body.wire_len == 0
            && self.pairing.client_has_all_responses();
        if bodyless {
            ctx.counters.lost_responses_ended_by_ack += 1;
            self.finish_message(ctx, conn, Direction::ToClient, ts, true, None);
        }
    }

    /// The entry a response in progress belongs to.
    pub(super) fn owner_entry(&mut self, owner: Owner) -> Option<&mut Entry> {
        match owner {
            Owner::Entry(d) => self.entry_mut(d),
            Owner::Lost => self.pairing.lost.as_deref_mut(),
            Owner::Discard => None,
        }
    }

    /// The placeholder entry for a response to a request the capture lost. It takes the
    /// next depth: the lost request did occupy a position on the connection, and without
    /// pipelining (the request after it is sent once this response is in) that is its
    /// very position.
    pub(super) fn lost_placeholder(&mut self, ts: Timestamp) -> Entry {
        self.depth = self.depth.saturating_add(1);
        lost_placeholder(self.depth, ts)
    }
}
