//! HTTP/1.1 scenario generation: what each simulated client asked and each server answered,
//! as TCP frames (through [`super::tcp`]) and as ground truth ([`ExpectedTx`]).
//!
//! One connection is generated at a time from its own random stream
//! (`Rng::derive(seed, conn_index, ..)`), so a connection's bytes depend only on the seed,
//! its index and the parameters, never on what other connections did or on how they are
//! interleaved (that is [`super::scenario`]'s job).
//!
//! Features, each with a share in [`HttpParams`]: keep-alive with several transactions per
//! connection, pipelining (RFC 9112 section 9.3.2), POST/PUT with Content-Length or chunked
//! bodies, `Expect: 100-continue` with an interim `100 Continue` (RFC 9110 section 10.1.1),
//! chunked responses (RFC 9112 section 7.1), gzip content coding (RFC 9110 section 8.4.1),
//! HEAD (RFC 9110 section 9.3.2: Content-Length without a body), 204 and 304 (no body,
//! RFC 9112 section 6.3 rule 1), responses delimited by the server closing the connection
//! (RFC 9112 section 6.3 rule 8), connections reset with a request left unanswered, captures
//! that start on an established connection (`midstream`, always at a message boundary), and
//! connections the capture ends on before they close.
//!
//! What it does not make: HTTP/1.0 requests, trailers, CONNECT/Upgrade, multiple interim
//! responses, malformed messages. Those belong in hand-written transcripts.
//!
//! Layout: `truth` holds the ground-truth types ([`Framing`], [`ConnEnd`], [`ExpectedTx`]);
//! `params` [`HttpParams`] and its presets; `addr` host and client addresses; `content`
//! bodies, gzip, chunking, dates and request-targets; `plan` one transaction's request and
//! response bytes; `conn` [`generate_conn`], which sends the plans over TCP (or TLS).

mod addr;
mod conn;
mod content;
mod params;
mod plan;
mod truth;

pub use addr::host;
pub use conn::{generate_conn, GeneratedConn};
pub use params::{HttpParams, Sizes};
pub use truth::{ConnEnd, ExpectedTx, Framing};

/// Purpose tags for `Rng::derive`, so the content, schedule and fault streams never share
/// draws.
pub(crate) const RNG_CONN: u64 = 1;
pub(crate) const RNG_SCHEDULE: u64 = 2;
pub(crate) const RNG_FAULTS: u64 = 3;
pub(crate) const RNG_TLS: u64 = 4;
