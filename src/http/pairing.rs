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
    fn rules_out(ack: Option<u64>, req_start: Option<u64>) -> bool {
        match (ack, req_start) {
            (Some(a), Some(s)) => a <= s,
            _ => false,
        }
    }

    /// Rule 2. No waiting request can take a response with `ack`: if the request stream
    /// lost bytes before the ACK (or the ACK is unknown), the answered request was most
    /// likely among them.
    fn answers_lost_request(&self, ack: Option<u64>) -> bool {
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
    fn lost_before(&self, req_start: Option<u64>, ack: Option<u64>) -> bool {
        req_start.is_some_and(|s| {
            self.lost_span
                .is_some_and(|(from, to)| to <= s && ack.is_none_or(|a| from < a))
        })
    }

    /// The lost bytes began inside the request starting at `req_start`, and the server
    /// had them all when it answered with `ack`: they were that request's own (if it was
    /// cut), not a lost request's.
    fn lost_own(&self, req_start: Option<u64>, ack: Option<u64>) -> bool {
        req_start.is_some_and(|s| {
            self.lost_span
                .is_some_and(|(from, to)| from >= s && ack.is_some_and(|a| a >= to))
        })
    }

    /// The client sent its request bytes having received exactly the response stream so
    /// far (no byte after the head it had): see `HttpConn::end_lost_bodyless`.
    fn client_has_all_responses(&self) -> bool {
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

#[cfg(test)]
mod tests {
    use super::{lost_placeholder, AckPairing};
    use crate::http::queue::Entry;
    use crate::http::testing::{pair, pairs, Drive, REQ_A, REQ_B, REQ_C, RESP_A, RESP_B, RESP_C};
    use crate::model::{Anomaly, Direction::ToClient, Direction::ToServer};
    use crate::time::Timestamp;

    /// A waiting request entry starting at `req_start`, sent having received the response
    /// stream up to `client_ack`.
    fn waiting(depth: u32, client_ack: Option<u64>, clean_send: bool) -> Entry {
        let mut e = lost_placeholder(depth, Timestamp::ZERO);
        e.method = "GET".to_string();
        e.req_anomalies.clear();
        e.client_ack = client_ack;
        e.clean_send = clean_send;
        e
    }

    fn with_span(from: u64, to: u64) -> AckPairing {
        AckPairing {
            lost_span: Some((from, to)),
            ..AckPairing::default()
        }
    }

    // ------------------------------------------------------------ the rules, pure

    #[test]
    fn rule1_an_ack_at_or_before_a_request_start_rules_it_out() {
        assert!(AckPairing::rules_out(Some(100), Some(100)));
        assert!(AckPairing::rules_out(Some(40), Some(100)));
        // One byte of the request had reached the server: it may be answered (early 4xx).
        assert!(!AckPairing::rules_out(Some(101), Some(100)));
        // Unknown ACK or start: nothing is ruled out.
        assert!(!AckPairing::rules_out(None, Some(100)));
        assert!(!AckPairing::rules_out(Some(100), None));
    }

    #[test]
    fn rule2_a_response_answers_a_lost_request_only_if_bytes_were_lost_before_its_ack() {
        let p = with_span(50, 80);
        assert!(p.answers_lost_request(Some(51)));
        assert!(p.answers_lost_request(Some(500)));
        // Sent before the server had any of the lost bytes: an orphan.
        assert!(!p.answers_lost_request(Some(50)));
        // Unknown ACK: the lost bytes may be it.
        assert!(p.answers_lost_request(None));
        assert!(!AckPairing::default().answers_lost_request(None));
        let e = lost_placeholder(7, Timestamp::ZERO);
        assert_eq!(e.depth, 7);
        assert_eq!(e.req_anomalies, vec![Anomaly::RequestLost]);
        assert!(e.req_done && !e.resp_done && !e.is_tombstone());
        assert_eq!(e.request.as_ref().map(|r| r.method.as_str()), Some(""));
    }

    #[test]
    fn rule3_the_next_requests_ack_past_a_clean_send_shows_a_lost_response() {
        let w = waiting(1, Some(0), true);
        let n = waiting(2, Some(40), false);
        // A response head at or after where N's ACK says the client was: not W's.
        assert!(AckPairing::shows_lost_response(&w, &n, 40));
        assert!(AckPairing::shows_lost_response(&w, &n, 90));
        // Before it: it may be W's own (its head among the bytes the client had).
        assert!(!AckPairing::shows_lost_response(&w, &n, 39));
        // Pipelined (equal ACKs): no conclusion.
        let n_pipelined = waiting(2, Some(0), false);
        assert!(!AckPairing::shows_lost_response(&w, &n_pipelined, 90));
        // W sent while an earlier response was still due: its ACK says nothing of W's.
        let w_unclean = waiting(1, Some(0), false);
        assert!(!AckPairing::shows_lost_response(&w_unclean, &n, 90));
        // Unknown ACKs: no conclusion.
        assert!(!AckPairing::shows_lost_response(
            &waiting(1, None, true),
            &n,
            90
        ));
        assert!(!AckPairing::shows_lost_response(
            &w,
            &waiting(2, None, false),
            90
        ));
        // W already has a response head, or is a tombstone: nothing to lose.
        let mut answered = waiting(1, Some(0), true);
        answered.response = Some(crate::model::Response {
            status: 200,
            reason: String::new(),
            version: crate::model::HttpVersion::Http11,
            headers: Vec::new(),
            head_len: 0,
            body: Default::default(),
            first_ts: Timestamp::ZERO,
            last_ts: Timestamp::ZERO,
            complete: false,
            interim: Vec::new(),
        });
        assert!(!AckPairing::shows_lost_response(&answered, &n, 90));
        let mut tomb = waiting(1, Some(0), true);
        tomb.request = None;
        assert!(!AckPairing::shows_lost_response(&tomb, &n, 90));
    }

    #[test]
    fn rule4_the_highest_server_ack_marks_where_a_request_starts() {
        let mut p = AckPairing::default();
        p.on_ack(ToClient, 70);
        p.on_ack(ToClient, 50);
        p.on_ack(ToServer, 999); // a request's ACK is of the other stream: no boundary
        assert_eq!(p.req_boundary, Some(70));
        p.at.to_server = Some(60);
        assert_eq!(p.request_boundary(), Some(10));
        p.at.to_server = Some(70);
        assert_eq!(p.request_boundary(), Some(0));
        // Bytes past the boundary, or re-fed held bytes (no offset): none.
        p.at.to_server = Some(71);
        assert_eq!(p.request_boundary(), None);
        p.at.to_server = None;
        assert_eq!(p.request_boundary(), None);
    }

    #[test]
    fn rule5_lost_bytes_before_a_request_that_no_ack_excludes_make_it_uncertain() {
        let p = with_span(30, 60);
        // The request starts after the lost bytes, and the ACK covers some of them.
        assert!(p.lost_before(Some(60), Some(120)));
        assert!(p.lost_before(Some(90), None));
        // The ACK is before the lost bytes: the server had none of them.
        assert!(!p.lost_before(Some(60), Some(30)));
        // The lost bytes are not before the request.
        assert!(!p.lost_before(Some(40), Some(120)));
        assert!(!p.lost_before(None, Some(120)));
        // Lost bytes inside a request the server had entirely when it answered: its own.
        assert!(p.lost_own(Some(20), Some(60)));
        assert!(!p.lost_own(Some(20), Some(59)));
        assert!(!p.lost_own(Some(20), None));
        assert!(!p.lost_own(Some(31), Some(60)));
    }

    #[test]
    fn offsets_count_data_and_gaps_and_lost_spans_grow_from_their_first_start() {
        let mut p = AckPairing::default();
        assert_eq!(p.deliver(ToServer, 10), 0);
        assert_eq!(p.deliver(ToServer, 5), 10);
        p.after_gap(ToServer, 10, 5, false);
        assert_eq!(p.lost_span, Some((10, 15)));
        p.after_gap(ToServer, 20, 4, false);
        assert_eq!(p.lost_span, Some((10, 24)));
        // A gap absorbed by a body of known length hid no request.
        p.after_gap(ToServer, 30, 4, true);
        assert_eq!(p.lost_span, Some((10, 24)));
        assert!(!p.resp_lost && !p.resp_broken);
        p.after_gap(ToClient, 0, 4, false);
        assert!(p.resp_lost && p.resp_broken);
        // The first request's ACK defaults to 0 while no response byte came.
        assert_eq!(p.first_ack(ToServer), Some(0));
        p.deliver(ToClient, 3);
        assert_eq!(p.first_ack(ToServer), None);
        p.on_ack(ToServer, 3);
        assert_eq!(p.first_ack(ToServer), Some(3));
        assert!(p.client_has_all_responses());
        p.end_delivery(ToServer);
        assert_eq!(p.first_ack(ToServer), None);
        // A cut response: its end is known only to a client past every response byte.
        assert!(!p.response_end_known(Some(2)));
        assert!(p.response_end_known(Some(3)));
    }

    // ------------------------------------------------------------ the rules, applied

    #[test]
    fn rule1_2_a_response_to_a_lost_request_gets_a_placeholder_not_the_next_request() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, REQ_A);
        d.after_all(ToClient, RESP_A);
        d.gap(ToServer, REQ_B.len() as u64);
        let b_end = d.len.to_server;
        d.after_all(ToServer, REQ_C);
        // B's response was sent before any byte of C reached the server.
        d.data(ToClient, RESP_B, Some(b_end));
        d.after_all(ToClient, RESP_C);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![
                pair("GET", "/a", 200),
                pair("", "", 404),
                pair("GET", "/c", 201)
            ]
        );
        assert!(out[1].anomalies.contains(&Anomaly::RequestLost));
        assert_eq!(ctx.counters.responses_to_lost_requests, 1);
        assert_eq!(ctx.counters.orphan_responses, 0);
    }

    #[test]
    fn rule2_without_lost_request_bytes_a_ruled_out_response_is_an_orphan() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, REQ_A);
        // Sent before the server had A (ACK 0): a 408 on an idle connection, say.
        d.data(ToClient, RESP_B, Some(0));
        d.after_all(ToClient, RESP_A);
        let (out, ctx) = d.end();
        assert_eq!(pairs(&out), vec![pair("GET", "/a", 200)]);
        assert_eq!(ctx.counters.orphan_responses, 1);
        assert_eq!(ctx.counters.responses_to_lost_requests, 0);
    }

    #[test]
    fn rule3_a_status_line_lost_in_resync_is_shown_by_the_clients_ack() {
        // Picked up mid-stream: the response side resyncs, so a lost status line leaves
        // only unparseable bytes.
        let mut d = Drive::new(true);
        d.data(ToServer, REQ_A, Some(0));
        let tail = b"tail of A's response";
        d.after_all(ToClient, tail);
        // B was sent having received those bytes: they were A's response.
        d.after_all(ToServer, REQ_B);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/a", 0), pair("GET", "/b", 404)]
        );
        assert!(out[0].anomalies.contains(&Anomaly::ResponseInterrupted));
        assert_eq!(ctx.counters.responses_lost_by_ack, 1);
    }

    #[test]
    fn rule3_pipelined_requests_with_equal_acks_pair_in_order() {
        let mut d = Drive::new(true);
        d.data(ToServer, REQ_A, Some(0));
        d.data(ToServer, REQ_B, Some(0));
        d.after_all(ToClient, RESP_A);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/a", 200), pair("GET", "/b", 404)]
        );
        assert_eq!(ctx.counters.responses_lost_by_ack, 0);
    }

    #[test]
    fn rule4_request_resync_finds_a_request_line_right_after_a_lost_body_tail() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, REQ_A);
        d.after_all(ToClient, RESP_A);
        // B's head is lost; its body's last bytes come glued to C's request line.
        let b_head = b"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
        d.gap(ToServer, b_head.len() as u64);
        let b_end = d.len.to_server + 3;
        // The server answered B having received all of it: C starts at its ACK.
        d.data(ToClient, RESP_B, Some(b_end));
        let mut glued = b"xyz".to_vec();
        glued.extend_from_slice(REQ_C);
        d.after_all(ToServer, &glued);
        d.after_all(ToClient, RESP_C);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![
                pair("GET", "/a", 200),
                pair("", "", 404),
                pair("GET", "/c", 201)
            ]
        );
        assert_eq!(ctx.counters.resync_skipped_bytes, 3);
    }

    #[test]
    fn rule5_a_request_lost_inside_a_pipelined_batch_flags_the_pairing_uncertain() {
        let mut d = Drive::new(false);
        d.data(ToServer, REQ_A, Some(0));
        d.gap(ToServer, REQ_B.len() as u64);
        d.data(ToServer, REQ_C, Some(0));
        // Every response acknowledges the whole batch: no ACK tells B's from C's.
        d.after_all(ToClient, RESP_A);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/a", 200), pair("GET", "/c", 404)]
        );
        assert!(!out[0].anomalies.contains(&Anomaly::PairingUncertain));
        assert!(out[1].anomalies.contains(&Anomaly::PairingUncertain));
        assert_eq!(ctx.counters.uncertain_pairings, 1);
        assert_eq!(ctx.counters.lost_pairs_balanced, 0);
    }

    #[test]
    fn rule5_a_response_stream_that_lost_bytes_too_balances_the_lost_request() {
        let mut d = Drive::new(false);
        d.data(ToServer, REQ_A, Some(0));
        d.gap(ToServer, REQ_B.len() as u64);
        d.data(ToServer, REQ_C, Some(0));
        // A's chunked body is cut by a gap that also took B's whole response.
        d.after_all(
            ToClient,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        d.gap(ToClient, 30 + RESP_B.len() as u64);
        d.after_all(ToClient, RESP_C);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/a", 200), pair("GET", "/c", 201)]
        );
        assert!(!out[1].anomalies.contains(&Anomaly::PairingUncertain));
        assert_eq!(ctx.counters.uncertain_pairings, 0);
        assert_eq!(ctx.counters.lost_pairs_balanced, 1);
    }
}
