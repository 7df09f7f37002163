//! Protocol detection from the first bytes of a direction.
//!
//! What it does: looks at the first bytes a direction carried (at the start of the stream
//! when the handshake was seen, or at a mid-stream pickup) and says which protocol stack
//! the connection needs: HTTP/1 (the default: HTTP/1 resynchronises on its own), the
//! HTTP/2 client preface (RFC 9113 §3.4), a TLS record header (RFC 8446 §5.1), or
//! something else that no session here can read.
//!
//! What it does not do: look past the first record or line, keep state, or allocate. It is
//! deliberately conservative: whatever could be HTTP/1 (printable text, line ends) is
//! HTTP/1, so a pickup in the middle of a text body, or an evasive request, still reaches
//! the HTTP/1 parser exactly as before this layer existed.

use crate::model::Direction;
use crate::reassembly::Role;

/// The HTTP/2 connection preface a client sends first (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Bytes a direction may need before the detector decides (the HTTP/2 preface is the
/// longest thing it compares).
pub const MAX_DETECT_BYTES: usize = H2_PREFACE.len();

/// Bytes looked at to call a stream's start binary: two controls among them make it so.
const BINARY_PROBE_BYTES: usize = 4;

/// A protocol the layer can recognise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// HTTP/1.x (and HTTP/0.9): also the default for text the detector cannot place.
    Http1,
    /// HTTP/2 with prior knowledge (the client preface).
    Http2,
    /// TLS records (a handshake or, at a pickup, any record type).
    Tls,
    /// Binary bytes at the true start of a stream that no session here reads.
    Unknown,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Http1 => "http/1",
            Protocol::Http2 => "h2",
            Protocol::Tls => "tls",
            Protocol::Unknown => "unknown",
        }
    }
}

/// The detector's answer for the bytes seen so far.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detection {
    /// The bytes say which protocol this is.
    Is(Protocol),
    /// Too few bytes to tell (a prefix of the HTTP/2 preface, or of a TLS header).
    NeedMore,
}

/// Which protocol the first bytes `first` of direction `dir` belong to. `at_start` is
/// true when `first` is the true start of the stream (the handshake was seen), false at a
/// mid-stream pickup, where the bytes may be the middle of anything and only a TLS record
/// header, the HTTP/2 preface or whole HTTP/2 frames (`h2_frames_at`) are trusted.
pub fn detect(first: &[u8], dir: Direction, at_start: bool) -> Detection {
    let Some(&b0) = first.first() else {
        return Detection::NeedMore;
    };
    if dir == Direction::ToServer && b0 == H2_PREFACE[0] {
        let n = first.len().min(H2_PREFACE.len());
        if first[..n] == H2_PREFACE[..n] {
            return if n == H2_PREFACE.len() {
                Detection::Is(Protocol::Http2)
            } else {
                Detection::NeedMore
            };
        }
    }
    match tls_record_header(first, at_start) {
        Some(true) => return Detection::Is(Protocol::Tls),
        None => return Detection::NeedMore,
        Some(false) => {}
    }
    if !at_start && h2_frames_at(first) {
        return Detection::Is(Protocol::Http2);
    }
    if at_start && !could_be_http1(b0) {
        // One stray control byte before a request (a keep-alive probe's old byte) is
        // something HTTP/1 skips; binary protocols have several in their first bytes.
        let head = &first[..first.len().min(BINARY_PROBE_BYTES)];
        let controls = head.iter().filter(|b| !could_be_http1(**b)).count();
        if controls >= 2 {
            return Detection::Is(Protocol::Unknown);
        }
        if head.len() < BINARY_PROBE_BYTES {
            return Detection::NeedMore;
        }
    }
    Detection::Is(Protocol::Http1)
}

/// Whether `first` starts with a TLS record header: a content type, version 3.x with
/// x <= 4 (SSL 3.0 to TLS 1.3's legacy value). At the true start only a handshake record
/// (22) opens a connection; at a pickup any record type (20 to 23) will do. `None`: too
/// short to tell.
fn tls_record_header(first: &[u8], at_start: bool) -> Option<bool> {
    let opens = |t: u8| {
        if at_start {
            t == 22
        } else {
            (20..=23).contains(&t)
        }
    };
    match first {
        [t, ..] if !opens(*t) => Some(false),
        [_] => None,
        [_, 3] => None,
        [_, 3, minor, ..] => Some(*minor <= 4),
        _ => Some(false),
    }
}

/// Whether `first`, the first bytes of a direction at a pickup, start with HTTP/2 frames
/// (an h2c connection, or h2 inside TLS without its ALPN, picked up mid-connection):
/// plausible frame headers (`FrameHeader::plausible` at the default 16 KiB frame size)
/// chaining from the first byte, two of them, or one frame ending exactly where `first`
/// ends (a peer writes whole frames, so a segment often holds exactly some). HTTP/1 text
/// never passes (its first bytes read as a length far over 16 KiB); chance binary bytes
/// need a known type, its flags, stream id and fixed length, and then the chain.
pub fn h2_frames_at(first: &[u8]) -> bool {
    use crate::h2::frame::{FrameHeader, DEFAULT_MAX_FRAME, HEADER_LEN};
    let mut at = 0usize;
    let mut headers = 0;
    while let Some(h) = first.get(at..).and_then(FrameHeader::parse) {
        if !h.plausible(DEFAULT_MAX_FRAME) {
            return false;
        }
        headers += 1;
        at += HEADER_LEN + h.len as usize;
        if headers == 2 || at == first.len() {
            return true;
        }
    }
    false
}

/// A byte the HTTP/1 parser can make something of at a message start: anything but an
/// ASCII control other than white space. Bytes of 0x80 and up stay HTTP/1: servers answer
/// requests with such methods (`zk_methods` in the corpus has one, answered 405), and
/// evasion tests use them.
fn could_be_http1(b: u8) -> bool {
    !b.is_ascii_control() || matches!(b, b'\t' | b'\r' | b'\n')
}

/// Which end sent `payload`, the first payload of a connection picked up without its
/// handshake: a TLS ClientHello or the HTTP/2 preface come from the client, a TLS
/// ServerHello from the server, and HTTP/1 start lines as `http::probe_role` says (the
/// one request-line rule). `None` when the bytes do not tell.
pub fn probe_role(payload: &[u8]) -> Option<Role> {
    if payload.starts_with(H2_PREFACE) {
        return Some(Role::Client);
    }
    // Record header (5 bytes), then the handshake message type (RFC 8446 §4).
    match payload {
        [22, 3, minor, _, _, 1, ..] if *minor <= 4 => Some(Role::Client),
        [22, 3, minor, _, _, 2, ..] if *minor <= 4 => Some(Role::Server),
        _ => crate::http::probe_role(payload),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{ToClient, ToServer};

    #[test]
    fn http1_requests_and_responses() {
        assert_eq!(
            detect(b"GET / HTTP/1.1\r\n", ToServer, true),
            Detection::Is(Protocol::Http1)
        );
        assert_eq!(
            detect(b"HTTP/1.1 200 OK\r\n", ToClient, true),
            Detection::Is(Protocol::Http1)
        );
        // Lower-case and odd methods stay HTTP/1: the parser decides what they are.
        assert_eq!(
            detect(b"get /", ToServer, true),
            Detection::Is(Protocol::Http1)
        );
        assert_eq!(
            detect(b"\r\nGET /", ToServer, true),
            Detection::Is(Protocol::Http1)
        );
        // "P" could be "POST" or the HTTP/2 preface; "PO" cannot be the preface.
        assert_eq!(detect(b"P", ToServer, true), Detection::NeedMore);
        assert_eq!(
            detect(b"POST / HTTP/1.1", ToServer, true),
            Detection::Is(Protocol::Http1)
        );
        assert_eq!(
            detect(b"PRI * HTTP/1.1\r\n", ToServer, true),
            Detection::Is(Protocol::Http1)
        );
    }

    #[test]
    fn the_h2_preface_at_every_length() {
        for n in 1..H2_PREFACE.len() {
            assert_eq!(
                detect(&H2_PREFACE[..n], ToServer, true),
                Detection::NeedMore,
                "{n}"
            );
        }
        let mut with_settings = H2_PREFACE.to_vec();
        with_settings.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        assert_eq!(
            detect(&with_settings, ToServer, true),
            Detection::Is(Protocol::Http2)
        );
        assert_eq!(
            detect(H2_PREFACE, ToServer, false),
            Detection::Is(Protocol::Http2)
        );
        // From the server the preface means nothing (text: HTTP/1 resyncs).
        assert_eq!(
            detect(H2_PREFACE, ToClient, true),
            Detection::Is(Protocol::Http1)
        );
    }

    #[test]
    fn tls_record_headers() {
        let hello = [22, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3];
        assert_eq!(detect(&hello, ToServer, true), Detection::Is(Protocol::Tls));
        assert_eq!(detect(&hello[..1], ToServer, true), Detection::NeedMore);
        assert_eq!(detect(&hello[..2], ToServer, true), Detection::NeedMore);
        assert_eq!(
            detect(&hello[..3], ToServer, true),
            Detection::Is(Protocol::Tls)
        );
        // Application data opens no connection, but at a pickup it is TLS.
        let data = [23, 3, 3, 0, 40];
        assert_eq!(
            detect(&data, ToClient, true),
            Detection::Is(Protocol::Unknown)
        );
        assert_eq!(detect(&data, ToClient, false), Detection::Is(Protocol::Tls));
        // Version 3.9 is no TLS.
        assert_eq!(
            detect(&[22, 3, 9, 0], ToServer, true),
            Detection::Is(Protocol::Unknown)
        );
    }

    #[test]
    fn one_stray_control_byte_is_not_binary() {
        assert_eq!(
            detect(b"\x00GET / HTTP/1.1", ToServer, true),
            Detection::Is(Protocol::Http1)
        );
        assert_eq!(detect(b"\x00", ToServer, true), Detection::NeedMore);
        assert_eq!(detect(b"\x00GE", ToServer, true), Detection::NeedMore);
        assert_eq!(
            detect(b"\x00\x01", ToServer, true),
            Detection::Is(Protocol::Unknown)
        );
    }

    #[test]
    fn binary_is_unknown_only_at_the_true_start() {
        assert_eq!(
            detect(&[0, 0, 1], ToServer, true),
            Detection::Is(Protocol::Unknown)
        );
        assert_eq!(
            detect(&[0x1f, 0x8b, 8], ToClient, true),
            Detection::Is(Protocol::Unknown)
        );
        // High-bit bytes can be a (hostile) method that a server answers.
        assert_eq!(
            detect("ÃÂÃ / HTTP/1.1".as_bytes(), ToServer, true),
            Detection::Is(Protocol::Http1)
        );
        // At a pickup the bytes may be the middle of a gzip body: HTTP/1 resyncs.
        assert_eq!(
            detect(&[0x1f, 0x8b, 8], ToClient, false),
            Detection::Is(Protocol::Http1)
        );
        assert_eq!(detect(b"", ToServer, true), Detection::NeedMore);
    }

    #[test]
    fn h2_frames_tell_http2_only_at_a_pickup() {
        use crate::h2::testing::{data, frame, headers};
        let resp = headers(7, &[(":status", "200")], false);
        let mut two = resp.clone();
        two.extend(data(7, b"body", true));
        // A segment of whole frames, or two chaining headers, at a pickup.
        for bytes in [&resp, &two, &two[..resp.len() + 9]] {
            assert_eq!(
                detect(bytes, ToClient, false),
                Detection::Is(Protocol::Http2)
            );
        }
        let ping = frame(crate::h2::frame::PING, 0, 0, &[0; 8]);
        assert_eq!(
            detect(&ping, ToServer, false),
            Detection::Is(Protocol::Http2)
        );
        // Not at the true start (binary: no session reads it), not a frame cut short
        // before a second header, not one whose next header is implausible.
        assert_eq!(
            detect(&resp, ToClient, true),
            Detection::Is(Protocol::Unknown)
        );
        assert_eq!(
            detect(&resp[..resp.len() - 1], ToClient, false),
            Detection::Is(Protocol::Http1)
        );
        let mut bad = resp.clone();
        bad.extend_from_slice(&[0xff; 12]);
        assert_eq!(
            detect(&bad, ToClient, false),
            Detection::Is(Protocol::Http1)
        );
        // Flags a type does not define, or DATA on stream 0: not a frame.
        let mut flags = resp.clone();
        flags[4] |= 0x40;
        assert_eq!(
            detect(&flags, ToClient, false),
            Detection::Is(Protocol::Http1)
        );
        assert_eq!(
            detect(&data(0, b"x", false), ToClient, false),
            Detection::Is(Protocol::Http1)
        );
        // HTTP/1 text reads as a length far over 16 KiB.
        assert!(!h2_frames_at(b"HTTP/1.1 200 OK\r\n\r\n"));
        assert!(!h2_frames_at(b""));
    }

    #[test]
    fn who_sent_the_first_payload() {
        assert_eq!(probe_role(H2_PREFACE), Some(Role::Client));
        assert_eq!(probe_role(&[22, 3, 1, 0, 200, 1, 0]), Some(Role::Client));
        assert_eq!(probe_role(&[22, 3, 3, 0, 90, 2, 0]), Some(Role::Server));
        assert_eq!(probe_role(&[23, 3, 3, 0, 90, 2, 0]), None);
        assert_eq!(probe_role(b"GET / HTTP/1.1"), Some(Role::Client));
        assert_eq!(probe_role(b"HTTP/1.1 200 OK"), Some(Role::Server));
        assert_eq!(probe_role(b"\x00\x01"), None);
    }
}
