//! The transaction model shared by the HTTP layer (which fills it), and the HAR builder and
//! processors (which read it). Plain data, no behaviour beyond small helpers.
//!
//! Sizes are exact wire sizes; body bytes are kept only up to a limit (`Body::truncated`),
//! so a transaction's memory is bounded while its sizes stay exact.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;

use compact_str::CompactString;

use crate::time::Timestamp;

/// Which way bytes flow on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }

    pub fn reverse(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }
}

/// One value per direction of a connection, indexed by `Direction` (the HTTP parser's two
/// halves, per-direction stream offsets).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerDirection<T> {
    pub to_server: T,
    pub to_client: T,
}

impl<T> PerDirection<T> {
    pub const fn new(to_server: T, to_client: T) -> Self {
        PerDirection {
            to_server,
            to_client,
        }
    }

    /// Both values, `ToServer` first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        [&self.to_server, &self.to_client].into_iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        [&mut self.to_server, &mut self.to_client].into_iter()
    }

    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> PerDirection<U> {
        PerDirection {
            to_server: f(self.to_server),
            to_client: f(self.to_client),
        }
    }
}

impl<T> std::ops::Index<Direction> for PerDirection<T> {
    type Output = T;
    fn index(&self, dir: Direction) -> &T {
        match dir {
            Direction::ToServer => &self.to_server,
            Direction::ToClient => &self.to_client,
        }
    }
}

impl<T> std::ops::IndexMut<Direction> for PerDirection<T> {
    fn index_mut(&mut self, dir: Direction) -> &mut T {
        match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }
}

/// What is known of a TCP connection. Built by the reassembler, copied onto every
/// transaction of the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// Unique per run and deterministic: the capture index of the connection's first packet.
    pub id: u64,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Time of the client's SYN, when the handshake was seen.
    pub syn_ts: Option<Timestamp>,
    /// Time of the server's SYN-ACK.
    pub synack_ts: Option<Timestamp>,
    /// Time of the client's ACK completing the handshake.
    pub established_ts: Option<Timestamp>,
    /// The capture began after the connection did: no SYN was seen, and each direction
    /// synchronises at the first message start.
    pub midstream: bool,
}

/// HTTP version on a start line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpVersion {
    Http09,
    Http10,
    Http11,
    /// HTTP/2 (RFC 9113): no start line; pseudo-header fields instead.
    Http2,
}

impl HttpVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http09 => "HTTP/0.9",
            HttpVersion::Http10 => "HTTP/1.0",
            HttpVersion::Http11 => "HTTP/1.1",
            HttpVersion::Http2 => "HTTP/2",
        }
    }
}

/// One header field as it was on the wire (name case kept; value lossily made UTF-8).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// Borrowed when it is a common name, byte for byte (`header_name`).
    pub name: Cow<'static, str>,
    /// Inline up to 24 bytes (most values: lengths, types, tokens), else on the heap: one
    /// allocation per field was a fifth of a statistics-only worker's allocator calls.
    pub value: CompactString,
}

/// `name` as a header field name: borrowed when it is one of the names most messages
/// carry, in the cases clients and servers send them (byte for byte), else a copy. Two
/// allocations per field were the largest share of a statistics-only worker's allocator
/// time; the `match` compiles to a test of the length, then of the bytes.
pub fn header_name(name: &str) -> Cow<'static, str> {
    match common_name(name) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(name.to_owned()),
    }
}

/// `header_name` of a name already copied: kept when not a common one.
pub fn header_name_owned(name: String) -> Cow<'static, str> {
    match common_name(&name) {
        Some(n) => Cow::Borrowed(n),
        None => Cow::Owned(name),
    }
}

fn common_name(name: &str) -> Option<&'static str> {
    macro_rules! common {
        ($($n:literal),* $(,)?) => {
            match name {
                $($n => Some($n),)*
                _ => None,
            }
        };
    }
    common!(
        "Host",
        "User-Agent",
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Accept-Ranges",
        "Authorization",
        "Cache-Control",
        "Connection",
        "Content-Encoding",
        "Content-Length",
        "Content-Range",
        "Content-Type",
        "Cookie",
        "Date",
        "ETag",
        "Expires",
        "If-Modified-Since",
        "If-None-Match",
        "Keep-Alive",
        "Last-Modified",
        "Location",
        "Origin",
        "Pragma",
        "Range",
        "Referer",
        "Server",
        "Set-Cookie",
        "Transfer-Encoding",
        "Upgrade",
        "Vary",
        "X-Forwarded-For",
        "host",
        "user-agent",
        "accept",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "authorization",
        "cache-control",
        "connection",
        "content-encoding",
        "content-length",
        "content-range",
        "content-type",
        "cookie",
        "date",
        "etag",
        "expires",
        "if-modified-since",
        "if-none-match",
        "keep-alive",
        "last-modified",
        "location",
        "origin",
        "pragma",
        "range",
        "referer",
        "server",
        "set-cookie",
        "transfer-encoding",
        "upgrade",
        "vary",
        "x-forwarded-for"
    )
}

/// Finds the first header named `name` (ASCII case-insensitive).
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

/// The result of undoing `Content-Encoding`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Decoded {
    /// No content coding (or `identity`): the body is the content.
    #[default]
    Identity,
    /// Decoded content; `len` is the full decoded size, `data` at most the keep limit.
    Decoded {
        data: Vec<u8>,
        len: u64,
        truncated: bool,
    },
    /// Could not decode (unknown coding, corrupt stream, bomb limit, body incomplete).
    Failed { reason: String },
    /// Not decoded: no output of the run reads bodies (`HttpCtx::keep_bodies` false), so
    /// the content coding is left alone (`content_len` is the encoded length).
    Skipped,
}

/// Most gap ranges a body records (`Body::gap_ranges`); later gaps are only in `missing`.
pub const MAX_GAP_RANGES: usize = 16;

/// A message body.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Body {
    /// Bytes of the body on the wire, chunk framing and trailers included.
    pub wire_len: u64,
    /// Length of the body without transfer coding (de-chunked): the encoded content.
    /// Includes `missing` bytes.
    pub len: u64,
    /// Bytes of the body that the capture lost (gaps), included in `len`.
    pub missing: u64,
    /// The de-chunked body bytes kept, at most the body keep limit. Gap bytes are not
    /// filled in: when `missing > 0` this is not the true body.
    pub data: Vec<u8>,
    /// `data` was cut at the keep limit (`data.len() < len - missing`).
    pub truncated: bool,
    /// `Content-Encoding` codings in the order they were applied, lowercased.
    pub content_encoding: Vec<String>,
    /// The content after undoing `content_encoding`.
    pub decoded: Decoded,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<Header>,
    /// Where the capture lost bytes: `(offset in data, length)` of each gap, in order, at
    /// most [`MAX_GAP_RANGES`] (`missing` stays the exact total). The offset is where the
    /// gap sits in `data` (gap bytes are not in it); the web view marks them in place.
    pub gap_ranges: Vec<(u64, u64)>,
    /// The body's bytes were dropped by the content-type policy
    /// (`transform::body_select`), or because the outputs were behind
    /// (`transform::overload`, the transaction flagged `Anomaly::OutputsBehind`): `data`
    /// and the decoded data are empty, while every size (`wire_len`, `len`, `missing`, the
    /// decoded length) is still exact.
    pub dropped: bool,
}

impl Body {
    /// The content size after decoding, when known.
    pub fn content_len(&self) -> u64 {
        match &self.decoded {
            Decoded::Decoded { len, .. } => *len,
            _ => self.len,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// The request target exactly as on the request line.
    pub target: String,
    pub version: HttpVersion,
    /// Header fields in wire order, duplicates kept.
    pub headers: Vec<Header>,
    /// Bytes of the start line, header fields and the empty line ending the head.
    pub head_len: u64,
    pub body: Body,
    /// Packet time of the first byte of the request.
    pub first_ts: Timestamp,
    /// Packet time of the last byte of the request.
    pub last_ts: Timestamp,
    /// The whole message was seen (false: interrupted by a gap, close or limit).
    pub complete: bool,
}

/// A 1xx interim response (100 Continue, 103 Early Hints, ...), kept on the transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interim {
    pub status: u16,
    pub reason: String,
    pub version: HttpVersion,
    pub headers: Vec<Header>,
    pub head_len: u64,
    pub ts: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub version: HttpVersion,
    pub headers: Vec<Header>,
    pub head_len: u64,
    pub body: Body,
    pub first_ts: Timestamp,
    pub last_ts: Timestamp,
    pub complete: bool,
    /// Interim responses that came before this final one, in order.
    pub interim: Vec<Interim>,
}

/// Why a request has no response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unanswered {
    /// No response within `-response-timeout`.
    Timeout,
    /// The connection closed (FIN/RST/idle) first.
    ConnectionClosed,
    /// The capture ended (end of file, SIGINT, SIGTERM) first.
    EndOfCapture,
    /// More requests were waiting than `max_pending_requests`: the oldest was exported.
    PendingLimit,
    /// The connection was evicted (`max_connections` or `-memory-limit`) first.
    Evicted,
    /// HTTP/2: RST_STREAM or GOAWAY ended the stream first (`H2Stream::error_code`).
    StreamReset,
}

/// Something a reader of the entry should know before trusting it. Written into HAR as
/// underscore-prefixed fields; each one is also counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// The connection was picked up mid-stream (no SYN seen).
    MidStreamPickup,
    /// The request was cut short (gap, close or limit) before its end.
    RequestInterrupted,
    /// The response was cut short before its end.
    ResponseInterrupted,
    /// No response was paired with this request.
    Unanswered(Unanswered),
    /// Two or more different Content-Length values (RFC 9112 §6.3 item 5): a request's body
    /// is framed by the last one (as Zeek and Wireshark do); a response's body is read
    /// until the connection closes (the client must close after it).
    ConflictingContentLength,
    /// Content-Length that is not a number.
    InvalidContentLength,
    /// Both Transfer-Encoding and Content-Length: Transfer-Encoding won (RFC 9112 §6.3).
    TransferEncodingAndContentLength,
    /// A Transfer-Encoding other than chunked last: the body is read until close.
    UnknownTransferEncoding,
    /// Lines ended by a bare LF instead of CRLF (accepted).
    BareLf,
    /// A header value continued on the next line (obs-fold, RFC 9112 §5.2): joined with a space.
    ObsFold,
    /// A malformed chunk size line: the body ends there.
    InvalidChunk,
    /// Content-Encoding could not be undone.
    DecodeFailed(String),
    /// The head exceeded the head size limit.
    HeadTooLarge,
    /// Body bytes beyond the keep limit were not kept (sizes are still exact).
    BodyTruncated,
    /// The connection switched protocols (101) or became a CONNECT tunnel; the tunnelled
    /// bytes were skipped and counted.
    Tunnel,
    /// Bytes of the body were lost (gap inside a body of known length); parsing went on.
    /// `Body::missing` says how many.
    BodyGap,
    /// The response came after this request had already timed out and been exported; it
    /// is counted, not paired.
    LateResponse,
    /// The request line is not `method SP target SP HTTP/1.x` (a missing target, space or
    /// version, a method that is not a token, an HTTP/0.9 line with a method other than
    /// GET or followed by header fields). The request was recorded as well as it parses:
    /// method and target as seen.
    MalformedRequestLine,
    /// The global memory budget (`-memory-limit`) ran out while this message's body was
    /// held: its body bytes were dropped (sizes are still exact).
    MemoryLimit,
    /// The outputs were behind a live capture when this transaction left its worker
    /// (`-overload drop-bodies`): the body bytes of its request, its response or both were
    /// dropped (`Body::dropped`; sizes are still exact).
    OutputsBehind,
    /// The response answers a request the capture lost: its first segment acknowledged
    /// request bytes the capture never delivered, and no request it could answer was seen.
    /// The request is a placeholder (no method, no target); its depth is the next one on
    /// the connection when the response came.
    RequestLost,
    /// Request bytes were lost before this request, and the response's ACK could not tell
    /// whether it answers this request or one hidden in the lost bytes (pipelining): the
    /// response may belong to an earlier request.
    PairingUncertain,
    /// HTTP/2: RST_STREAM, or a GOAWAY whose last stream id is below this stream's, ended
    /// the stream before both its messages did (`H2Stream::error_code` says why).
    StreamReset,
    /// HTTP/2: a header block of this stream was decoded while the HPACK state was lost
    /// (after a gap that may have taken a header block, or a mid-stream pickup): fields
    /// may be placeholders (`:unknown-index-N`) or missing.
    HpackDesync,
    /// HTTP/2: the capture lost bytes of a direction, where the frame boundary was lost,
    /// while this stream was open in it: some of its frames (DATA, trailers, its end) may
    /// be missing.
    FramesLost,
    /// The response to an HTTP/1.x request had no status line: bytes until the close,
    /// taken as an HTTP/0.9-style response (status 0, version HTTP/0.9), as Zeek reports
    /// it. A server may do this; it is also an evasion against 1.x parsers.
    NoStatusLine,
    /// The capture held two different copies of some of this message's bytes (an
    /// overlapping retransmission whose bytes differ: a broken middlebox, or an evasion
    /// that shows a sniffer other bytes than the receiver): the first copy captured was
    /// used (docs/robustness.md, overlap policy); the receiver may have used the other.
    OverlapConflict,
}

impl Anomaly {
    /// The stable kebab-case name of the anomaly: the HAR `_anomalies` value and the
    /// debug log's. Exhaustive on purpose: a new variant must be named here (and in
    /// docs/har.md).
    pub fn name(&self) -> &'static str {
        match self {
            Anomaly::MidStreamPickup => "midstream-pickup",
            Anomaly::RequestInterrupted => "request-interrupted",
            Anomaly::ResponseInterrupted => "response-interrupted",
            Anomaly::Unanswered(Unanswered::Timeout) => "unanswered-timeout",
            Anomaly::Unanswered(Unanswered::ConnectionClosed) => "unanswered-connection-closed",
            Anomaly::Unanswered(Unanswered::EndOfCapture) => "unanswered-end-of-capture",
            Anomaly::Unanswered(Unanswered::PendingLimit) => "unanswered-pending-limit",
            Anomaly::Unanswered(Unanswered::Evicted) => "unanswered-evicted",
            Anomaly::Unanswered(Unanswered::StreamReset) => "unanswered-stream-reset",
            Anomaly::BodyGap => "body-gap",
            Anomaly::ConflictingContentLength => "conflicting-content-length",
            Anomaly::InvalidContentLength => "invalid-content-length",
            Anomaly::TransferEncodingAndContentLength => "transfer-encoding-and-content-length",
            Anomaly::UnknownTransferEncoding => "unknown-transfer-encoding",
            Anomaly::BareLf => "bare-lf",
            Anomaly::ObsFold => "obs-fold",
            Anomaly::InvalidChunk => "invalid-chunk",
            Anomaly::DecodeFailed(_) => "decode-failed",
            Anomaly::HeadTooLarge => "head-too-large",
            Anomaly::BodyTruncated => "body-truncated",
            Anomaly::MemoryLimit => "body-dropped-memory-limit",
            Anomaly::OutputsBehind => "body-dropped-outputs-behind",
            Anomaly::Tunnel => "tunnel",
            Anomaly::LateResponse => "late-response",
            Anomaly::MalformedRequestLine => "malformed-request-line",
            Anomaly::RequestLost => "request-lost",
            Anomaly::PairingUncertain => "pairing-uncertain",
            Anomaly::StreamReset => "stream-reset",
            Anomaly::HpackDesync => "hpack-desync",
            Anomaly::FramesLost => "frames-lost",
            Anomaly::NoStatusLine => "no-status-line",
            Anomaly::OverlapConflict => "overlap-conflict",
        }
    }
}

/// What the TLS layer learnt of a decrypted connection (HAR `_tls`, `timings.ssl`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsInfo {
    /// The negotiated version on the wire form: 0x0303 TLS 1.2, 0x0304 TLS 1.3.
    pub version: u16,
    /// The negotiated cipher suite (IANA number).
    pub cipher_suite: u16,
    /// Server Name Indication from the ClientHello.
    pub sni: Option<String>,
    /// The protocol ALPN settled on (ServerHello in TLS 1.2, EncryptedExtensions in 1.3).
    pub alpn: Option<String>,
    /// An abbreviated handshake (session ID, ticket or PSK).
    pub resumed: bool,
    /// The ClientHello's packet time and the handshake's last Finished: `timings.ssl`.
    pub handshake: Option<(Timestamp, Timestamp)>,
}

/// Which local process owned a connection's socket (live captures, `src/attrib`): HAR
/// `_process`, the console's `---> ` line, `-group-by process`, `-process`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    Process(ProcessInfo),
    /// No process could be named; `uid` when the kernel still told the socket's owner.
    Unattributed {
        why: NoOwner,
        uid: Option<u32>,
    },
}

/// Which end of the connection the attributed socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The process that opened the connection (the usual answer: "who made the request").
    Client,
    /// The client was not local; the server's process (a local server's accepted socket).
    Server,
}

/// A process, as /proc told it when the connection was looked up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProcessInfo {
    pub pid: u32,
    /// `comm`: the kernel's short command name (at most 15 bytes).
    pub name: String,
    /// The executable's path (`/proc/PID/exe`), when readable.
    pub exe: Option<String>,
    pub uid: u32,
    /// The uid's user name, when the passwd database has one.
    pub user: Option<String>,
    /// The cgroup v2 path (`0::/...`), when there is one.
    pub cgroup: Option<String>,
    /// A container id found in the cgroup path (docker, containerd, cri-o, podman), the
    /// first 12 hex digits as `docker ps` shows them.
    pub container: Option<String>,
    /// The process's ancestors, parent first (pid, comm), up to init or
    /// `attrib::MAX_ANCESTORS`: what `-process` matches children by.
    pub ancestors: Vec<(u32, String)>,
    pub side: Option<Side>,
}

/// Why a connection has no process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoOwner {
    /// The socket was gone, or in TIME_WAIT (no owner left), when it was looked up: the
    /// connection closed first.
    Closed,
    /// Neither end's address is on this host: a connection between two other machines.
    Remote,
    /// No socket with the 4-tuple in this network namespace (another namespace, such as a
    /// container's, or a socket closed before the look-up).
    NotFound,
    /// The socket exists but no process's descriptors could be read (another user's, and
    /// this run lacks CAP_SYS_PTRACE / CAP_DAC_READ_SEARCH).
    NoPermission,
    /// The socket has an inode but no process holds it any more.
    NoProcess,
    /// The look-up queue was full, or the attribution thread did not answer in time.
    Overloaded,
    /// The kernel refused the look-up (sock_diag unavailable).
    Failed,
}

impl Owner {
    /// How the console and the web view name it: `curl 4242` (command name and pid), or
    /// `? closed` (why none was found). Raw: the console makes it terminal-safe.
    pub fn label(&self) -> String {
        match self {
            Owner::Process(p) => format!("{} {}", p.name, p.pid),
            Owner::Unattributed { why, .. } => format!("? {}", why.name()),
        }
    }
}

impl NoOwner {
    /// The stable kebab-case name (HAR `_process.unattributed`, the console).
    pub fn name(self) -> &'static str {
        match self {
            NoOwner::Closed => "closed",
            NoOwner::Remote => "remote",
            NoOwner::NotFound => "not-found",
            NoOwner::NoPermission => "no-permission",
            NoOwner::NoProcess => "no-process",
            NoOwner::Overloaded => "overloaded",
            NoOwner::Failed => "lookup-failed",
        }
    }
}

impl Owner {
    pub fn process(&self) -> Option<&ProcessInfo> {
        match self {
            Owner::Process(p) => Some(p),
            Owner::Unattributed { .. } => None,
        }
    }
}

/// The HTTP/2 stream behind a transaction.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct H2Stream {
    /// The stream identifier (odd: client-initiated; even: pushed).
    pub stream_id: u32,
    /// The request came in a PUSH_PROMISE (server push): `Request::first_ts` is the
    /// promise's time.
    pub pushed: bool,
    /// RST_STREAM or GOAWAY ended the stream early, with this error code.
    pub error_code: Option<u32>,
    /// HPACK header block bytes (after padding and priority) of request and final
    /// response (also their `head_len`).
    pub headers_compressed: (u64, u64),
    /// The request came in HTTP/1.1 and was upgraded to h2c (RFC 7540 §3.2): the 101 is
    /// the response's interim, the final response came on stream 1.
    pub upgraded: bool,
}

/// One HTTP exchange: a request and, when one was seen, its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub conn: ConnInfo,
    /// 1-based position of the request on its connection.
    pub depth: u32,
    pub request: Request,
    pub response: Option<Response>,
    pub anomalies: Vec<Anomaly>,
    /// The TLS session the exchange travelled in, when it was decrypted (`src/tls`); shared
    /// by every transaction of the connection.
    pub tls: Option<Arc<TlsInfo>>,
    /// The HTTP/2 stream the exchange was, when it was one (`src/h2`).
    pub h2: Option<Box<H2Stream>>,
    /// The local process that owned the connection (live captures with attribution);
    /// shared by every transaction of the connection.
    pub process: Option<Arc<Owner>>,
    /// Clock time at which the transaction left the HTTP layer. Processors use it (not
    /// arrival order) to put the transaction into an export interval, so the output does
    /// not depend on thread scheduling.
    pub completed_at: Timestamp,
}

impl Transaction {
    /// The site: the Host header as sent (port included), else the server address.
    pub fn host(&self) -> String {
        // HTTP/2's `:authority` (RFC 9113 §8.3.1) is the Host of HTTP/1; HTTP/1 heads
        // cannot carry a field of that name.
        let authority = header(&self.request.headers, ":authority");
        match authority
            .filter(|h| !h.trim().is_empty())
            .or_else(|| header(&self.request.headers, "host"))
        {
            Some(h) if !h.trim().is_empty() => h.trim().to_string(),
            _ => self.conn.server.to_string(),
        }
    }

    /// Request and response bytes on the wire (heads, bodies and interim responses).
    pub fn wire_bytes(&self) -> u64 {
        let req = self.request.head_len + self.request.body.wire_len;
        let resp = self.response.as_ref().map_or(0, |r| {
            r.head_len + r.body.wire_len + r.interim.iter().map(|i| i.head_len).sum::<u64>()
        });
        req + resp
    }
}

// ------------------------------------------------------------------ heap accounting
//
// Estimates of the heap memory a message holds, for the global memory budget
// (`-memory-limit`). They count allocated capacities plus the inline size of vector
// elements; allocator overhead is left to the budget's fixed margin.

/// Heap held by a field name: none when borrowed (the `Cow` itself is what tells).
#[allow(clippy::ptr_arg)]
fn name_heap_bytes(name: &Cow<'static, str>) -> usize {
    match name {
        Cow::Borrowed(_) => 0,
        Cow::Owned(s) => s.capacity(),
    }
}

/// What a field value holds on the heap: nothing when it is inline.
fn value_heap_bytes(v: &CompactString) -> usize {
    if v.is_heap_allocated() {
        v.capacity()
    } else {
        0
    }
}

fn headers_heap(h: &Vec<Header>) -> usize {
    h.capacity() * std::mem::size_of::<Header>()
        + h.iter()
            .map(|f| name_heap_bytes(&f.name) + value_heap_bytes(&f.value))
            .sum::<usize>()
}

impl Body {
    /// Heap bytes held (kept data, decoded data, codings, trailers).
    pub fn heap_bytes(&self) -> usize {
        let decoded = match &self.decoded {
            Decoded::Decoded { data, .. } => data.capacity(),
            Decoded::Failed { reason } => reason.capacity(),
            Decoded::Identity | Decoded::Skipped => 0,
        };
        self.data.capacity()
            + decoded
            + self.gap_ranges.capacity() * std::mem::size_of::<(u64, u64)>()
            + self.content_encoding.capacity() * std::mem::size_of::<String>()
            + self
                .content_encoding
                .iter()
                .map(String::capacity)
                .sum::<usize>()
            + headers_heap(&self.trailers)
    }

    /// Drops the kept body bytes (and decoded bytes), keeping every size: the memory
    /// budget ran out. Returns whether anything was dropped.
    pub fn drop_data(&mut self) -> bool {
        let mut dropped = self.data.capacity() > 0;
        if !self.data.is_empty() {
            self.truncated = true;
        }
        self.data = Vec::new();
        if let Decoded::Decoded {
            data, truncated, ..
        } = &mut self.decoded
        {
            dropped |= data.capacity() > 0;
            if !data.is_empty() {
                *truncated = true;
            }
            *data = Vec::new();
        }
        dropped
    }
}

impl Request {
    pub fn heap_bytes(&self) -> usize {
        self.method.capacity()
            + self.target.capacity()
            + headers_heap(&self.headers)
            + self.body.heap_bytes()
    }
}

impl Interim {
    pub fn heap_bytes(&self) -> usize {
        self.reason.capacity() + headers_heap(&self.headers)
    }
}

impl Response {
    pub fn heap_bytes(&self) -> usize {
        self.reason.capacity()
            + headers_heap(&self.headers)
            + self.body.heap_bytes()
            + self.interim.capacity() * std::mem::size_of::<Interim>()
            + self.interim.iter().map(Interim::heap_bytes).sum::<usize>()
    }
}

impl Transaction {
    /// Memory the transaction holds, inline size included.
    pub fn mem_bytes(&self) -> usize {
        std::mem::size_of::<Transaction>()
            + self.request.heap_bytes()
            + self.response.as_ref().map_or(0, Response::heap_bytes)
            + self.anomalies.capacity() * std::mem::size_of::<Anomaly>()
            + self
                .h2
                .as_ref()
                .map_or(0, |_| std::mem::size_of::<H2Stream>())
    }
}

#[cfg(test)]
mod tests {
    use super::{header_name, header_name_owned, Direction, PerDirection};
    use std::borrow::Cow;

    /// A common name in a case it is sent in is borrowed; any other spelling is kept as it
    /// came, byte for byte (HAR shows names as on the wire).
    #[test]
    fn common_header_names_are_borrowed_and_every_name_kept_as_sent() {
        for name in ["Host", "host", "Content-Length", "x-forwarded-for", "ETag"] {
            let n = header_name(name);
            assert!(matches!(n, Cow::Borrowed(_)), "{name}");
            assert_eq!(n, name);
        }
        for name in ["HOST", "Content-length", "X-Custom", "", "Host "] {
            let n = header_name(name);
            assert!(matches!(n, Cow::Owned(_)), "{name:?}");
            assert_eq!(n, name);
            let o = header_name_owned(name.to_string());
            assert!(matches!(o, Cow::Owned(_)), "{name:?}");
            assert_eq!(o, name);
        }
        assert!(matches!(
            header_name_owned("Set-Cookie".to_string()),
            Cow::Borrowed("Set-Cookie")
        ));
    }

    #[test]
    fn per_direction_indexes_by_direction() {
        let mut p = PerDirection::new(1u64, 2u64);
        assert_eq!(p[Direction::ToServer], 1);
        assert_eq!(p[Direction::ToClient], 2);
        p[Direction::ToClient] += 40;
        assert_eq!(p.to_client, 42);
        assert_eq!(p[Direction::ToServer.reverse()], 42);
        for v in p.iter_mut() {
            *v *= 2;
        }
        assert_eq!(p.iter().copied().collect::<Vec<_>>(), vec![2, 84]);
        assert_eq!(p.map(|v| v + 1), PerDirection::new(3, 85));
    }
}
