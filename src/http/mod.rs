//! HTTP/1.x: one parser per connection owning both directions, because response framing
//! depends on the request (HEAD, CONNECT, 1xx). Pairs requests and responses in order,
//! applies the response timeout, and emits `model::Transaction`s.
//!
//! Input is a stream of chunks per direction: bytes, or a gap of N missing bytes (from the
//! reassembler). Heads are parsed with `httparse`, incrementally; bodies are framed per
//! RFC 9112 §6. A gap inside a body of known length is counted and flagged and parsing goes
//! on; a gap anywhere else ends the message (interrupted) and the direction resynchronises
//! at the next message start.

mod body;
mod conn;
pub mod decode;
mod half;
mod head;
mod message;
mod pairing;
mod queue;
#[cfg(test)]
mod testing;
mod tunnel;

pub use conn::{HttpConn, MAX_INTERIM};
pub use head::probe_role;
// What the HTTP/2 session shares with HTTP/1: body reading (keep limit, memory shedding),
// Content-Encoding from header fields, and a body's finishing (decoding, flags, counts).
pub(crate) use body::BodyReader;
pub(crate) use head::{content_codings, Framing};
pub(crate) use tunnel::H2cSwitch;

use std::time::Duration;

use crate::model::{ConnInfo, Transaction};
use crate::reassembly::{HandlerFactory, Role};
use crate::time::Timestamp;

/// Bounds of the HTTP layer. Each is counted when hit.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Largest message head (start line + fields) kept; larger heads end the message
    /// (`HeadTooLarge`) and the direction resyncs.
    pub max_head_bytes: usize,
    /// Most header fields in one head.
    pub max_headers: usize,
    /// Body bytes kept per message (`-max-body-size`); sizes stay exact beyond it.
    pub max_body_keep: usize,
    /// Requests waiting for a response per connection; beyond it the oldest is exported
    /// unanswered.
    pub max_pending_requests: usize,
    /// Content-Encoding layers undone at most (stacked encodings).
    pub max_decode_layers: usize,
    /// Decoded bytes produced at most per body (decompression bomb guard).
    pub max_decoded_bytes: usize,
    /// A request with no response for this long is exported unanswered (`-response-timeout`).
    pub response_timeout: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_head_bytes: 64 * 1024,
            max_headers: 256,
            max_body_keep: 10 * 1024 * 1024,
            max_pending_requests: 256,
            max_decode_layers: 4,
            max_decoded_bytes: 32 * 1024 * 1024,
            response_timeout: Duration::from_secs(300),
        }
    }
}

crate::counters! {
    /// HTTP layer counters.
    pub struct HttpCounters {
        /// Requests seen (heads parsed, HTTP/0.9 request lines included).
        requests,
        /// Final responses seen, orphan and late ones included (1xx interim responses
        /// are counted in `interim_responses`).
        responses,
        /// Transactions emitted (requests with or without a response).
        transactions,
        /// Transactions completed by a packet stamped at or before a pipeline tick the
        /// worker had already passed (timestamps going backwards: merged captures, a live
        /// ring read after an idle tick): their `completed_at` is set 1 ns after that tick,
        /// so that every output places them after it whatever the worker count.
        completed_after_tick,
        /// Requests exported with no response (timeout, close, end of capture).
        unanswered,
        /// Requests that hit `-response-timeout`.
        response_timeouts,
        /// Responses with no request to pair with.
        orphan_responses,
        /// Responses that came after their request had timed out.
        late_responses,
        /// Responses paired with the oldest waiting request after their ACK confirmed the
        /// server had received some of it (the others pair in order, unchecked).
        responses_paired_by_ack,
        /// Responses whose ACK ruled out every waiting request while the request stream
        /// had lost bytes before that ACK: exported with a placeholder request flagged
        /// `request-lost`.
        responses_to_lost_requests,
        /// Requests whose response the client's ACKs show was lost (a later response head
        /// came after the client had received the response stream past theirs): exported
        /// flagged `response-interrupted` instead of taking a later response.
        responses_lost_by_ack,
        /// Responses to lost requests ended at their head because the client's next request
        /// acknowledged exactly that far (the lost request was a HEAD).
        lost_responses_ended_by_ack,
        /// Responses paired in order although request bytes were lost before their request
        /// and their ACK could not rule out a lost request: flagged `pairing-uncertain`.
        uncertain_pairings,
        /// Such responses when the response stream had lost bytes too since the previous
        /// response: the lost request's response is taken to be among them (not flagged).
        lost_pairs_balanced,
        /// Responses to HTTP/1.x requests without a status line (bytes until close), taken as
        /// HTTP/0.9 responses and flagged `no-status-line`.
        responses_without_status_line,
        /// 1xx interim responses.
        interim_responses,
        /// Messages cut short (gap outside a known-length body, close, limit).
        interrupted_messages,
        /// Gaps inside bodies of known length (parsing went on).
        body_gaps,
        /// Messages flagged `overlap-conflict`: the capture held two different copies of
        /// some of their bytes (the reassembler's `overlap_conflicts`).
        overlap_conflict_messages,
        /// Bytes skipped while looking for a message start (resync, mid-stream pickup).
        resync_skipped_bytes,
        /// Heads that did not parse.
        parse_errors,
        /// Heads over `max_head_bytes`.
        head_too_large,
        /// Bodies whose kept bytes were cut at `max_body_keep`.
        bodies_truncated,
        /// Bodies whose Content-Encoding could not be undone (only where some output reads
        /// bodies: a statistics-only run decodes none).
        decode_failures,
        /// Bodies whose decoding stopped at `max_decoded_bytes` or `max_decode_layers`
        /// (only where some output reads bodies).
        decode_limit_hits,
        /// Requests exported early because `max_pending_requests` was reached.
        pending_limit_hits,
        /// Connections that switched protocols (101) or became CONNECT tunnels.
        tunnels,
        /// CONNECT tunnels whose client spoke plain HTTP through them (parsed as HTTP).
        tunnels_with_http,
        /// Bytes skipped inside tunnels.
        tunnel_bytes,
        /// Times the memory budget (`-memory-limit`) made a connection drop the body bytes
        /// it held (sizes kept, messages flagged `body-dropped-memory-limit`).
        memory_limit_bodies_dropped,
        /// Messages with protocol anomalies (conflicting lengths, bare LF, obs-fold, ...).
        anomalies,
    }
}

impl HttpCounters {
    /// Requests seen that have not become transactions yet (waiting for their response).
    pub fn pending(&self) -> u64 {
        self.requests.saturating_sub(self.transactions)
    }
}

/// Per-worker state shared by every connection's parser.
pub struct HttpCtx {
    pub limits: HttpLimits,
    pub counters: HttpCounters,
    /// Transactions completed since the caller last drained it.
    pub out: Vec<Transaction>,
    /// The inflate state bodies are decoded with, reused from body to body.
    pub(crate) inflater: decode::Inflater,
    /// The HTTP/2 sessions' counters (`src/h2`).
    pub h2: crate::h2::H2Counters,
    /// Some output reads body bytes (default). When none does (`-har-processors
    /// sites-stats,transactions-sizes`: sizes only), bodies without content coding are
    /// counted and not stored (`BodyReader::sizes_only`).
    pub keep_bodies: bool,
    /// The last pipeline tick the worker passed (`Worker::pipeline_tick`): a transaction
    /// completed since is stamped after it (`complete`).
    pub(crate) after_tick: Option<Timestamp>,
}

impl HttpCtx {
    pub fn new(limits: HttpLimits) -> Self {
        HttpCtx {
            limits,
            counters: HttpCounters::default(),
            out: Vec::new(),
            inflater: decode::Inflater::default(),
            h2: crate::h2::H2Counters::default(),
            keep_bodies: true,
            after_tick: None,
        }
    }

    /// Hands over a completed transaction. Processors take a tick at `now` to mean that
    /// every transaction with `completed_at <= now` has reached them
    /// (`Processor::on_tick`): true of packet time while it only moves forward. A
    /// transaction completed after a tick, by a packet stamped at or before it, is stamped
    /// 1 ns after the tick instead, so its interval and its place among the statistics
    /// do not depend on whether the other workers had passed that tick when it arrived
    /// (its entry's own times, from its packets, are kept).
    pub(crate) fn complete(&mut self, mut tx: Transaction) {
        if let Some(tick) = self.after_tick.filter(|&t| tx.completed_at <= t) {
            tx.completed_at = tick + Duration::from_nanos(1);
            self.counters.completed_after_tick += 1;
        }
        self.out.push(tx);
    }
}

/// A finished body (`BodyReader`) as its message's `Body`: anomalies added, counted,
/// Content-Encoding undone; the one way HTTP/1 and HTTP/2 finish a body.
pub(crate) fn finish_body(
    ctx: &mut HttpCtx,
    reader: BodyReader,
    complete: bool,
    gap: bool,
    anomalies: &mut Vec<crate::model::Anomaly>,
) -> crate::model::Body {
    HttpConn::finish_body(
        &ctx.limits,
        &mut ctx.inflater,
        &mut ctx.counters,
        reader,
        complete,
        gap,
        anomalies,
    )
}

/// Makes an `HttpConn` per connection.
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpFactory;

impl HandlerFactory for HttpFactory {
    type Handler = HttpConn;
    fn new_handler(&mut self, conn: &ConnInfo) -> HttpConn {
        HttpConn::new(conn)
    }
    /// A request line: the sender is the client; a status line: the server
    /// (`http::probe_role`).
    fn probe_role(&self, payload: &[u8]) -> Option<Role> {
        probe_role(payload)
    }
}
