//! CONNECT and Upgrade (RFC 9110 §9.3.6, §15.2.2): after such a request the request side
//! holds its bytes (`AwaitSwitch`) until the response says whether the protocol switched;
//! after 101 or a 2xx to CONNECT both directions carry another protocol (`Tunnel`: counted
//! and skipped), except that a CONNECT tunnel's first client bytes are probed first
//! (`TunnelProbe`): plain HTTP through the tunnel is parsed on, as Suricata does.
//!
//! Held bytes are bounded by `max_head_bytes`; beyond it they are counted as tunnel bytes
//! and the request side resyncs when they are released.

use crate::model::{ConnInfo, Direction};
use crate::time::Timestamp;

use super::conn::HttpConn;
use super::half::Phase;
use super::head::Match;
use super::HttpCtx;

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

    /// `Tunnel`: bytes are counted and skipped.
    pub(super) fn step_tunnel(&mut self, ctx: &mut HttpCtx, dir: Direction, data: &[u8]) -> usize {
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
