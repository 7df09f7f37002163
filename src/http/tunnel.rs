//! CONNECT and Upgrade (RFC 9110 §9.3.6, §15.2.2): after such a request the request side
//! holds its bytes (`AwaitSwitch`) until the response says whether the protocol switched;
//! after 101 or a 2xx to CONNECT both directions carry another protocol (`Tunnel`: counted
//! and skipped), except that a CONNECT tunnel's first client bytes are probed first
//! (`TunnelProbe`): plain HTTP through the tunnel is parsed on, as Suricata does.
//!
//! Held bytes are bounded by `max_head_bytes`; beyond it they are counted as tunnel bytes
//! and the request side resyncs when they are released.
//!
//! The h2c Upgrade (RFC 7540 §3.2) is the one switch whose next protocol is decoded: a
//! 101 with `Upgrade: h2c` to a request that asked for it takes the request's entry out
//! of the queue (it becomes HTTP/2 stream 1, `h2::Upgrade`, with the 101 as an interim
//! response) and collects the bytes after the switch in both directions; the session
//! then hands them on (`proto::Session::take_handoff`). A request whose body was still
//! arriving, or whose held bytes overflowed, stays a plain tunnel.

use crate::h2::Upgrade;
use crate::model::{header, ConnInfo, Direction, HttpVersion, Interim, PerDirection};
use crate::time::Timestamp;

use super::conn::HttpConn;
use super::half::Phase;
use super::head::Match;
use super::pairing::Owner;
use super::HttpCtx;

/// An h2c Upgrade the session has made and not handed on yet.
#[derive(Debug)]
pub(crate) struct H2cSwitch {
    pub upgrade: Upgrade,
    /// Bytes of each direction after the switch point.
    pub rest: PerDirection<Vec<u8>>,
}

impl H2cSwitch {
    pub(super) fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.upgrade.request.heap_bytes()
            + self
                .upgrade
                .interim
                .iter()
                .map(Interim::heap_bytes)
                .sum::<usize>()
            + self.rest.iter().map(Vec::capacity).sum::<usize>()
    }
}

/// Whether a comma-separated header value lists `token` (ASCII case-insensitive).
fn lists(value: Option<&str>, token: &str) -> bool {
    value.is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
}

impl HttpConn {
    /// `AwaitSwitch`: holds the request bytes (bounded by `max_head_bytes`; beyond, they
    /// are lost and counted) until the response says whether the protocol switched.
    pub(super) fn step_await_switch(
        &mut self,
        ctx: &mut HttpCtx,
        dir: Direction,
        data: &[u8],
    ) -> usize {
        let h = &mut self.halves[dir];
        let room = ctx.limits.max_head_bytes.saturating_sub(h.held.len());
        let take = room.min(data.len());
        h.held
            .extend_from_slice(data.get(..take).unwrap_or_default());
        if take < data.len() {
            h.held_lost = true;
            ctx.counters.tunnel_bytes += (data.len() - take) as u64;
        }
        data.len()
    }

    /// `Tunnel`: bytes are counted and skipped (after an h2c switch, collected for the
    /// HTTP/2 session instead).
    pub(super) fn step_tunnel(&mut self, ctx: &mut HttpCtx, dir: Direction, data: &[u8]) -> usize {
        if let Some(sw) = self.switch.as_mut() {
            sw.rest[dir].extend_from_slice(data);
            return data.len();
        }
        ctx.counters.tunnel_bytes += data.len() as u64;
        // Empty lines (a stray line end after the 2xx) still let the other side
        // start strictly if the tunnel turns out to carry HTTP.
        let h = &mut self.halves[dir];
        h.tunnelled |= data.iter().any(|&b| !matches!(b, b'\r' | b'\n'));
        data.len()
    }

    /// 101 Switching Protocols or a 2xx to CONNECT: both directions carry another
    /// protocol from here on (RFC 9110 §9.3.6, §15.2.2). `probe`: a CONNECT tunnel,
    /// whose first client bytes may turn out to be HTTP (`TunnelProbe`).
    pub(super) fn enter_tunnel(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        ts: Timestamp,
        probe: bool,
    ) {
        ctx.counters.tunnels += 1;
        let resp = &mut self.halves.to_client;
        resp.reset_candidate();
        resp.tunnelled = false;
        if !matches!(resp.phase, Phase::Ended) {
            resp.phase = Phase::Tunnel;
        }
        let req = &mut self.halves.to_server;
        let held = std::mem::take(&mut req.held);
        let lost = std::mem::take(&mut req.held_lost);
        req.reset_candidate();
        if matches!(req.phase, Phase::Ended) {
            ctx.counters.tunnel_bytes += held.len() as u64;
        } else if probe && !lost {
            req.phase = Phase::TunnelProbe;
            self.feed(ctx, conn, Direction::ToServer, &held, ts);
        } else {
            ctx.counters.tunnel_bytes += held.len() as u64;
            req.phase = Phase::Tunnel;
        }
    }

    /// A 101 finished the response of `owner`: if it is an h2c Upgrade (the request
    /// listed `h2c` in Upgrade, HTTP/1.1, its body done, its held bytes whole; the 101
    /// says `Upgrade: h2c`), the entry leaves the queue for the HTTP/2 session and both
    /// directions are collected from here (`switch`). Returns whether it was one.
    pub(super) fn h2c_switch(&mut self, ctx: &mut HttpCtx, owner: Owner) -> bool {
        let Owner::Entry(depth) = owner else {
            return false;
        };
        let req = &self.halves.to_server;
        if !matches!(req.phase, Phase::AwaitSwitch { .. }) || req.held_lost {
            return false;
        }
        let Some(i) = self.queue.iter().position(|e| e.depth == depth) else {
            return false;
        };
        let Some(e) = self.queue.get(i) else {
            return false;
        };
        let asked = e.request.as_ref().is_some_and(|r| {
            r.version == HttpVersion::Http11 && lists(header(&r.headers, "upgrade"), "h2c")
        });
        let agreed = e
            .response
            .as_ref()
            .is_some_and(|r| r.status == 101 && lists(header(&r.headers, "upgrade"), "h2c"));
        if !(asked && agreed && e.req_done) {
            return false;
        }
        let Some(mut e) = self.queue.remove(i) else {
            return false;
        };
        let (Some(request), Some(r)) = (e.request.take(), e.response.take()) else {
            return false;
        };
        // The 101 is an interim response of the exchange (RFC 7540 §3.2), not its answer.
        ctx.counters.responses = ctx.counters.responses.saturating_sub(1);
        ctx.counters.interim_responses += 1;
        let mut interim = r.interim;
        interim.push(Interim {
            status: r.status,
            reason: r.reason,
            version: r.version,
            headers: r.headers,
            head_len: r.head_len,
            ts: r.first_ts,
        });
        let settings =
            header(&request.headers, "http2-settings").and_then(crate::h2::decode_settings_header);
        let mut anomalies = e.req_anomalies;
        for a in e.resp_anomalies {
            if a != crate::model::Anomaly::Tunnel && !anomalies.contains(&a) {
                anomalies.push(a);
            }
        }
        let req = &mut self.halves.to_server;
        let held = std::mem::take(&mut req.held);
        req.reset_candidate();
        req.phase = Phase::Tunnel;
        let resp = &mut self.halves.to_client;
        resp.reset_candidate();
        resp.phase = Phase::Tunnel;
        self.switch = Some(Box::new(H2cSwitch {
            upgrade: Upgrade {
                request,
                request_done: true,
                interim,
                depth,
                settings,
                anomalies,
            },
            rest: PerDirection::new(held, Vec::new()),
        }));
        true
    }

    /// The h2c switch, once made: the HTTP/2 session's start and the bytes for it.
    pub(crate) fn take_switch(&mut self) -> Option<Box<H2cSwitch>> {
        self.switch.take()
    }

    /// `TunnelProbe`: feeds the request-line matcher until it decides. A request line:
    /// both directions parse HTTP again (the response side strictly if no tunnelled byte
    /// came from the server yet). Anything else: a tunnel, as for TLS.
    pub(super) fn step_tunnel_probe(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        data: &[u8],
        ts: Timestamp,
    ) -> usize {
        let max_head = ctx.limits.max_head_bytes;
        let h = &mut self.halves.to_server;
        let mut http = None;
        let mut used = data.len();
        // Only empty lines so far: they may precede a request line (RFC 9112 §2.2).
        let mut blank = h.held.iter().all(|&c| matches!(c, b'\r' | b'\n'));
        for (k, &b) in data.iter().enumerate() {
            if blank && matches!(b, b'\r' | b'\n') && h.held.len() < max_head {
                h.held.push(b);
                continue;
            }
            blank = false;
            match h.matcher.feed(b) {
                Match::NeedMore if h.held.len() < max_head => h.held.push(b),
                Match::Accept => {
                    h.held.push(b);
                    http = Some(true);
                    used = k + 1;
                    break;
                }
                _ => {
                    http = Some(false);
                    used = k;
                    break;
                }
            }
        }
        match http {
            None => {}
            Some(true) => {
                let held = std::mem::take(&mut h.held);
                h.reset_candidate();
                h.phase = Phase::Start { resync: false };
                let resp = &mut self.halves.to_client;
                if matches!(resp.phase, Phase::Tunnel) {
                    let resync = resp.tunnelled;
                    resp.phase = Phase::Start { resync };
                }
                ctx.counters.tunnels_with_http += 1;
                self.feed(ctx, conn, Direction::ToServer, &held, ts);
            }
            Some(false) => {
                ctx.counters.tunnel_bytes += h.held.len() as u64;
                h.held = Vec::new();
                h.reset_candidate();
                h.phase = Phase::Tunnel;
            }
        }
        used
    }

    /// The request side was holding bytes after a CONNECT/Upgrade request whose response
    /// did not switch protocols, or will never come (`force`: close, server FIN): they
    /// are requests after all.
    pub(super) fn release_held(
        &mut self,
        ctx: &mut HttpCtx,
        conn: &ConnInfo,
        ts: Timestamp,
        force: bool,
    ) {
        let Phase::AwaitSwitch { depth } = self.halves.to_server.phase else {
            return;
        };
        let waiting = self
            .queue
            .iter()
            .any(|e| e.depth == depth && !e.is_tombstone() && e.response.is_none() && !e.resp_done);
        if waiting && !force {
            return;
        }
        let h = &mut self.halves.to_server;
        let held = std::mem::take(&mut h.held);
        let lost = std::mem::take(&mut h.held_lost);
        h.phase = Phase::Start { resync: lost };
        h.at_line_start = true;
        self.feed(ctx, conn, Direction::ToServer, &held, ts);
    }
}

#[cfg(test)]
mod tests {
    use crate::http::testing::{pair, pairs, Drive, REQ_B, RESP_B};
    use crate::model::{Anomaly, Direction::ToClient, Direction::ToServer};

    const CONNECT: &[u8] = b"CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n";
    const OK: &[u8] = b"HTTP/1.1 200 Connection established\r\n\r\n";

    #[test]
    fn a_connect_tunnel_carrying_tls_is_counted_and_skipped() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, CONNECT);
        // The client does not wait for the 2xx: its first bytes are held until it comes.
        d.after_all(ToServer, b"\x16\x03\x01\x00\x05hello");
        d.after_all(ToClient, OK);
        d.after_all(ToClient, b"\x16\x03\x03server");
        let (out, ctx) = d.end();
        assert_eq!(pairs(&out), vec![pair("CONNECT", "x:443", 200)]);
        assert!(out[0].anomalies.contains(&Anomaly::Tunnel));
        assert_eq!(ctx.counters.tunnels, 1);
        assert_eq!(ctx.counters.tunnels_with_http, 0);
        assert_eq!(ctx.counters.tunnel_bytes, 10 + 9);
    }

    #[test]
    fn plain_http_through_a_connect_tunnel_is_parsed_on() {
        let mut d = Drive::new(false);
        d.after_all(ToServer, CONNECT);
        d.after_all(ToClient, OK);
        d.after_all(ToServer, REQ_B);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("CONNECT", "x:443", 200), pair("GET", "/b", 404)]
        );
        assert_eq!(ctx.counters.tunnels_with_http, 1);
        assert_eq!(ctx.counters.tunnel_bytes, 0);
    }

    #[test]
    fn bytes_held_after_an_upgrade_that_did_not_switch_are_requests() {
        let mut d = Drive::new(false);
        d.after_all(
            ToServer,
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        );
        d.after_all(ToServer, REQ_B);
        d.after_all(
            ToClient,
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
        );
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(
            pairs(&out),
            vec![pair("GET", "/ws", 400), pair("GET", "/b", 404)]
        );
        assert_eq!(ctx.counters.tunnels, 0);
    }

    #[test]
    fn switching_protocols_turns_both_directions_into_a_tunnel() {
        let mut d = Drive::new(false);
        d.after_all(
            ToServer,
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        );
        d.after_all(
            ToClient,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        );
        d.after_all(ToServer, REQ_B);
        d.after_all(ToClient, RESP_B);
        let (out, ctx) = d.end();
        assert_eq!(pairs(&out), vec![pair("GET", "/ws", 101)]);
        assert_eq!(ctx.counters.tunnels, 1);
        assert_eq!(
            ctx.counters.tunnel_bytes,
            (REQ_B.len() + RESP_B.len()) as u64
        );
    }
}
