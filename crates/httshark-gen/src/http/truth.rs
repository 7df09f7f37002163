//! The ground truth of a generated connection: how bodies are framed, how the connection
//! ended, and what each transaction was ([`ExpectedTx`]).

use std::net::SocketAddr;
use std::ops::Range;

use crate::time::Timestamp;

/// How a message body is delimited on the wire (RFC 9112 section 6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// No body by rule (GET without body, HEAD response, 204, 304).
    None,
    ContentLength,
    Chunked,
    /// The body runs until the server closes the connection.
    Close,
}

impl Framing {
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::None => "none",
            Framing::ContentLength => "length",
            Framing::Chunked => "chunked",
            Framing::Close => "close",
        }
    }

    pub fn parse(s: &str) -> Option<Framing> {
        match s {
            "none" => Some(Framing::None),
            "length" => Some(Framing::ContentLength),
            "chunked" => Some(Framing::Chunked),
            "close" => Some(Framing::Close),
            _ => None,
        }
    }
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConnEnd {
    ClientFin,
    ServerFin,
    ClientRst,
    ServerRst,
    /// Still open when the capture ends.
    Open,
}

/// What one client and server did in one transaction: the ground truth to compare a
/// sniffer's output with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedTx {
    /// Index of the connection in the scenario (0-based, in connection start order).
    pub conn_index: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// Index of the transaction on its connection (0-based keep-alive depth).
    pub depth: u32,
    /// Earlier requests on the connection still unanswered when this one was sent
    /// (0 unless pipelined).
    pub in_flight: u32,
    pub method: String,
    /// The Host header value (with `:port` when the port is not 80).
    pub host: String,
    /// The request-target exactly as on the request line.
    pub uri: String,
    /// Final status; `None` when the server reset the connection instead of answering.
    pub status: Option<u16>,
    pub req_head_len: u64,
    /// Request body after removing chunked framing.
    pub req_body_len: u64,
    /// Request body bytes on the wire (with chunked framing).
    pub req_wire_body_len: u64,
    pub req_framing: Framing,
    /// Bytes of the interim `100 Continue` response before the final one (0 if none).
    pub resp_interim_len: u64,
    pub resp_head_len: u64,
    /// Response body after removing chunked framing and content coding.
    pub resp_body_len: u64,
    /// Response body bytes on the wire (with chunked framing, still content-coded).
    pub resp_wire_body_len: u64,
    pub resp_framing: Framing,
    /// The Content-Encoding of the response, if any.
    pub content_encoding: Option<String>,
    /// Time of the first and last request segments.
    pub req_start: Timestamp,
    pub req_end: Timestamp,
    /// Time of the first and last segments of the final response.
    pub resp_start: Option<Timestamp>,
    pub resp_end: Option<Timestamp>,
    /// Where the request (head and body) lies in the client's byte stream.
    pub req_stream: Range<u64>,
    /// Where the response (interim, head and body) lies in the server's byte stream.
    pub resp_stream: Range<u64>,
}
