//! The h2c Upgrade (RFC 7540 §3.2; RFC 9113 §3.1 removed it, but servers such as hypercorn
//! still speak it): an HTTP/1.1 request with `Upgrade: h2c` and `HTTP2-Settings`, answered
//! `101 Switching Protocols` with `Upgrade: h2c`, after which both directions speak
//! HTTP/2 and the request is stream 1, half-closed from the client.
//!
//! The HTTP/1 session (`http::tunnel`) recognises the switch and hands over an `Upgrade`:
//! the request as it parsed it, its interim responses with the 101 last, and the
//! `HTTP2-Settings` payload. `H2Conn::upgraded` makes stream 1 of it, so the request, the
//! 101 and the final response from stream 1 are one transaction; `HTTP2-Settings` are
//! applied as the client's SETTINGS.
//!
//! What it does not do: decide that a response switched (HTTP/1's), or read the bytes
//! after the switch (the session's, from `proto::Handoff::rest`). An upgrade the server
//! declines never gets here: the connection stays HTTP/1.

use crate::http::HttpCtx;
use crate::model::{Anomaly, Interim, Request};

use super::conn::H2Conn;
use super::stream::Stream;

/// What the HTTP/1 session hands to HTTP/2 at an h2c Upgrade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upgrade {
    /// The HTTP/1.1 request that asked for the upgrade (stream 1's request).
    pub request: Request,
    /// Whether the request had ended (its body, if any, was whole) at the switch.
    pub request_done: bool,
    /// Its 1xx responses, the 101 last.
    pub interim: Vec<Interim>,
    /// Its position on the connection.
    pub depth: u32,
    /// The decoded `HTTP2-Settings` (a SETTINGS payload), when present and decodable.
    pub settings: Option<Vec<u8>>,
    /// What the HTTP/1 session flagged on the request.
    pub anomalies: Vec<Anomaly>,
}

impl H2Conn {
    /// The session after an h2c Upgrade: stream 1 is the upgraded request; the client
    /// preface is expected next on the client's stream.
    pub fn upgraded(ctx: &mut HttpCtx, up: Upgrade) -> H2Conn {
        ctx.h2.h2_upgrades += 1;
        // The switch point is known: both directions start at a frame boundary.
        let mut h2 = H2Conn::new(ctx, false);
        if let Some(settings) = &up.settings {
            h2.client_settings(settings);
        }
        let mut s = Stream::new(1, up.depth, ctx.limits.max_body_keep);
        s.sizes_only(!ctx.keep_bodies);
        s.upgraded = true;
        s.interim = up.interim;
        s.ended[0] = up.request_done;
        s.anomalies = up.anomalies;
        s.request = Some(up.request);
        h2.adopt(s);
        h2
    }
}

/// The `HTTP2-Settings` value decoded: base64url without padding per RFC 7540 §3.2.1,
/// leniently also standard base64 and padded (Suricata decodes standard base64, research
/// §6 item 12). Whitespace is skipped; any other byte outside both alphabets fails it.
pub fn decode_settings_header(value: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(value.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for c in value.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' | b' ' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_header_in_either_base64_alphabet() {
        // SETTINGS_MAX_CONCURRENT_STREAMS = 100, SETTINGS_INITIAL_WINDOW_SIZE = 0xfffffe.
        let want = vec![0, 3, 0, 0, 0, 100, 0, 4, 0, 0xff, 0xff, 0xfe];
        assert_eq!(
            decode_settings_header("AAMAAABkAAQA___-"),
            Some(want.clone())
        );
        assert_eq!(decode_settings_header("AAMAAABkAAQA///+"), Some(want));
        // Padded, and unpadded with a partial group.
        assert_eq!(decode_settings_header("AAQ="), Some(vec![0, 4]));
        assert_eq!(decode_settings_header("AAQ"), Some(vec![0, 4]));
        assert_eq!(decode_settings_header(""), Some(vec![]));
        assert_eq!(decode_settings_header("AA*Q"), None);
    }
}
