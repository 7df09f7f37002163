//! HTTP/2 (RFC 9113) as a passive `proto::Session`: frames, HPACK, streams to transactions.
//!
//! ```text
//!  bytes/gaps ─▶ reader (frames, resync) ─▶ conn (connection frames, header blocks,
//!  per direction                              HPACK per direction) ─▶ stream (one request,
//!                                             its 1xx, response, bodies, trailers)
//!                                             ─▶ Transaction into HttpCtx::out
//! ```
//!
//! - `frame.rs`: the 9-byte header and every frame type's payload layout;
//! - `reader.rs`: one direction's bytes cut into frames at any split, resync after gaps;
//! - `conn.rs`: `H2Conn`, the session: preface, SETTINGS, header blocks (CONTINUATION),
//!   RST_STREAM, GOAWAY, PUSH_PROMISE, gaps; limits and counters;
//! - `stream.rs`: a stream's messages and what it becomes (`Transaction`, `H2Stream`);
//! - `upgrade.rs`: the h2c Upgrade hand-off from the HTTP/1 session (RFC 7540 §3.2).
//!
//! Every stream becomes one `Transaction` in `HttpCtx::out`, like an HTTP/1 exchange, so
//! processors need nothing of their own; bodies reuse the HTTP/1 body reader (keep limit,
//! memory shedding) and content decoding. Whether TLS is underneath is not known here.
//!
//! What it does not do: flow control, priorities, or validating what endpoints would
//! reject; a passive decoder goes on where an endpoint would stop (Suricata's approach,
//! research §2.5), counts what was wrong and flags the entries it touched.

mod conn;
pub mod frame;
pub mod hpack;
mod reader;
mod stream;
#[cfg(test)]
pub(crate) mod testing;
mod upgrade;

pub use conn::H2Conn;
pub use upgrade::{decode_settings_header, Upgrade};

/// Streams open at once per connection (as Suricata's `HTTP2_MAX_STREAMS`): a stream
/// opened beyond it is not tracked (its header block is still decoded, to keep HPACK in
/// step), counted in `h2_stream_limit_hits`.
pub const MAX_STREAMS: usize = 4096;

/// Bytes of one header block (HEADERS or PUSH_PROMISE and its CONTINUATIONs, after padding
/// and priority) kept until END_HEADERS. A longer block is dropped: the direction's HPACK
/// decoder is marked desynced and the stream flagged `head-too-large`
/// (`h2_header_block_limit_hits`).
pub const MAX_HEADER_BLOCK: usize = 256 * 1024;

/// The HPACK dynamic table size a decoder keeps at most, whatever SETTINGS announce
/// (Suricata's `HTTP2_MAX_TABLESIZE`); past it the decoder keeps what fits and reports
/// `table_capped`.
pub const HPACK_TABLE_CAP: usize = hpack::H2_MAX_HPACK_TABLE;

crate::counters! {
    /// HTTP/2 session counters.
    pub struct H2Counters {
        /// HTTP/2 sessions started: prior knowledge, ALPN `h2`, or an h2c Upgrade.
        h2_sessions,
        /// HTTP/2 streams that became transactions (pushed ones included).
        h2_streams,
        /// HTTP/2 frames read (DATA frames once each).
        h2_frames,
        /// Frames whose payload did not fit their type (bad padding, short fixed
        /// fields, a stream id where none belongs): skipped.
        h2_frames_invalid,
        /// Frames of a type RFC 9113 does not define (extensions): skipped, as the RFC
        /// says (§5.5).
        h2_frames_unknown,
        /// Non-DATA frames larger than `MAX_FRAME_BUFFER`: skipped unread.
        h2_frames_oversized,
        /// Frames for a stream that had already ended and been exported: ignored.
        h2_frames_closed_stream,
        /// CONTINUATION frames with no header block to continue, and header blocks
        /// interrupted by another frame (RFC 9113 §6.10): decoded as far as they go.
        h2_continuation_errors,
        /// Client streams that did not start with the connection preface (§3.4).
        h2_preface_missing,
        /// Times a direction lost its frame boundary (a gap, a pickup) and found it again
        /// at two chaining plausible frame headers.
        h2_resyncs,
        /// Bytes skipped while looking for a frame boundary.
        h2_resync_skipped_bytes,
        /// HPACK decoding errors (bad integers, strings, Huffman, indices).
        h2_hpack_errors,
        /// Header blocks decoded with HPACK state lost (after a gap or a pickup), whose
        /// entry is flagged `hpack-desync`.
        h2_hpack_desync_blocks,
        /// RST_STREAM frames.
        h2_resets,
        /// GOAWAY frames.
        h2_goaways,
        /// Streams promised by PUSH_PROMISE (server push).
        h2_pushes,
        /// Connections upgraded from HTTP/1.1 to h2c (`Upgrade: h2c`, 101).
        h2_upgrades,
        /// Streams not tracked because `MAX_STREAMS` were open.
        h2_stream_limit_hits,
        /// Header blocks dropped at `MAX_HEADER_BLOCK`.
        h2_header_block_limit_hits,
        /// Header lists cut at `max_head_bytes` / `max_headers` once decoded.
        h2_header_list_limit_hits,
        /// HPACK dynamic table size updates above `HPACK_TABLE_CAP`, clamped to it (the
        /// encoder's older entries past the cap then give placeholder fields).
        h2_hpack_table_cap_hits,
    }
}
