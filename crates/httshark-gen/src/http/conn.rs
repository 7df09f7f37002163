//! One connection: draws its addresses, ending and plans, then sends them over TCP (or
//! inside TLS) with handshake, pipelining, `100 Continue` and the close, and records each
//! transaction's ground truth.

use std::net::SocketAddr;
use std::time::Duration;

use super::addr::{client_addr, host};
use super::params::HttpParams;
use super::plan::{plan_tx, ConnPlan, TxPlan};
use super::truth::{ConnEnd, ExpectedTx, Framing};
use super::{RNG_CONN, RNG_TLS};
use crate::rng::Rng;
use crate::tcp::{Direction, Packet, TcpConn};
use crate::time::Timestamp;
use crate::tls_conn::TlsConn;

/// One generated connection: its frames (time-sorted) and its transactions.
#[derive(Clone, Debug)]
pub struct GeneratedConn {
    pub index: u32,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub end: ConnEnd,
    pub midstream: bool,
    pub packets: Vec<Packet>,
    pub txs: Vec<ExpectedTx>,
    /// NSS key log lines of the connection's TLS secrets (empty without TLS, or for a
    /// midstream connection, whose hellos the capture missed).
    pub keylog: String,
}

/// Sends the scenario's bytes `data` from `dir`: as they are, or sealed into TLS records.
fn send(conn: &mut TcpConn, tls: &mut Option<TlsConn>, dir: Direction, data: &[u8]) {
    match tls {
        Some(t) => t.send(conn, dir, data),
        None => conn.send(dir, data),
    }
}

/// Scenario (plaintext) bytes sent so far in `dir`.
fn stream_len(conn: &TcpConn, tls: &Option<TlsConn>, dir: Direction) -> u64 {
    match tls {
        Some(t) => t.stream_len(dir),
        None => conn.stream_len(dir),
    }
}

fn dur_upto(rng: &mut Rng, max: Duration) -> Duration {
    Duration::from_nanos(rng.below(max.as_nanos().min(u64::MAX as u128) as u64 + 1))
}

/// Ends the connection as `end` says: a FIN (after a TLS close_notify) or a RST, after
/// the idle time that ending takes; nothing for a connection left open.
fn close(
    conn: &mut TcpConn,
    tls: &mut Option<TlsConn>,
    rng: &mut Rng,
    p: &HttpParams,
    end: ConnEnd,
    close_delimited_last: bool,
) {
    match end {
        ConnEnd::ClientFin => {
            conn.wait(Duration::from_millis(1) + dur_upto(rng, p.think_max));
            if let Some(t) = tls.as_mut() {
                t.close_notify(conn, Direction::ToServer);
            }
            conn.close(Direction::ToServer);
        }
        ConnEnd::ServerFin => {
            if !close_delimited_last {
                // An idle keep-alive timeout on the server.
                conn.wait(Duration::from_millis(200) + dur_upto(rng, p.think_max));
            } else {
                conn.wait(conn.params().gap);
            }
            if let Some(t) = tls.as_mut() {
                t.close_notify(conn, Direction::ToClient);
            }
            conn.close(Direction::ToClient);
        }
        ConnEnd::ClientRst => {
            conn.wait(dur_upto(rng, p.think_max));
            conn.reset(Direction::ToServer);
        }
        ConnEnd::ServerRst => {
            conn.wait(dur_upto(rng, p.server_time_max));
            conn.reset(Direction::ToClient);
        }
        ConnEnd::Open => {}
    }
}

/// Generates connection `index` starting at `start`. Deterministic in (params, index, start).
pub fn generate_conn(p: &HttpParams, index: u32, start: Timestamp) -> GeneratedConn {
    let mut rng = Rng::derive(p.seed, index as u64, RNG_CONN);
    let host_i = rng.below(p.hosts.max(1) as u64) as u32;
    let (host_header, server) = host(host_i, p.ipv6);
    let client_k = rng.below(p.clients.max(1) as u64) as u32;
    let client = client_addr(client_k, index, p.ipv6);
    let n_tx = rng
        .range(p.tx_per_conn.0 as u64, p.tx_per_conn.1 as u64)
        .max(1) as u32;

    // How the connection ends.
    let close_delimited_last = rng.chance(p.close_delimited_share);
    let end_roll = rng.unit();
    let end = if close_delimited_last {
        ConnEnd::ServerFin
    } else if end_roll < p.rst_share {
        if rng.chance(0.5) {
            ConnEnd::ClientRst
        } else {
            ConnEnd::ServerRst
        }
    } else if end_roll < p.rst_share + p.open_share {
        ConnEnd::Open
    } else if rng.chance(0.7) {
        ConnEnd::ClientFin
    } else {
        ConnEnd::ServerFin
    };
    // A server reset leaves the last request unanswered half the time.
    let unanswered_last = end == ConnEnd::ServerRst && rng.chance(0.5);
    let cp = ConnPlan {
        host: host_header.clone(),
        close_delimited_last,
        client_close_header: end == ConnEnd::ClientFin && rng.chance(0.3),
        pipelined: n_tx > 1 && rng.chance(p.pipelining),
    };
    let midstream = rng.chance(p.midstream_share);
    let mut tcp = p.tcp.clone();
    if rng.chance(p.isn_wrap_share) {
        tcp.client_isn = u32::MAX - rng.below(4096) as u32;
        tcp.server_isn = u32::MAX - rng.below(4096) as u32;
    } else {
        tcp.client_isn = rng.next_u32();
        tcp.server_isn = rng.next_u32();
    }
    // Per-connection RTT between 0.5x and 1.5x the configured one.
    let rtt_ns = tcp.rtt.as_nanos().min(u64::MAX as u128 / 2) as u64;
    tcp.rtt = Duration::from_nanos(rtt_ns / 2 + rng.below(rtt_ns + 1));

    let mut conn = match TcpConn::new(index, client, server, tcp, start) {
        Ok(c) => c,
        // Unreachable with the addresses above (same family, MSS validated by the caller):
        // an empty connection keeps the generator total.
        Err(_) => {
            return GeneratedConn {
                index,
                client,
                server,
                end,
                midstream,
                packets: Vec::new(),
                txs: Vec::new(),
                keylog: String::new(),
            }
        }
    };
    if !midstream {
        conn.handshake();
        conn.wait(dur_upto(&mut rng, Duration::from_millis(2)));
    }

    let mut txs = Vec::with_capacity(n_tx as usize);
    let plans: Vec<TxPlan> = (0..n_tx)
        .map(|i| plan_tx(&mut rng, p, &cp, i + 1 == n_tx, conn.now()))
        .collect();
    let rtt = conn.params().rtt;
    // TLS after the plans, from its own random stream: the HTTP bytes stay those of the
    // plaintext scenario (the Date headers were drawn at the same point of the timeline).
    let mut tls = p.tls.as_ref().and_then(|t| {
        let mut s = TlsConn::new(t, Rng::derive(p.seed, index as u64, RNG_TLS))?;
        if midstream {
            s.join_midstream();
        } else {
            let sni = host_header.split(':').next().unwrap_or(&host_header);
            s.handshake(&mut conn, sni);
        }
        Some(s)
    });
    let batch = if cp.pipelined {
        p.max_pipeline.max(2) as usize
    } else {
        1
    };
    let mut depth = 0u32;
    for group in plans.chunks(batch) {
        // Requests of the group, back to back.
        let mut pending = Vec::with_capacity(group.len());
        for (k, tx) in group.iter().enumerate() {
            if k > 0 {
                conn.wait(conn.params().gap);
            }
            let req_from = stream_len(&conn, &tls, Direction::ToServer);
            let resp_from = stream_len(&conn, &tls, Direction::ToClient);
            let req_start = conn.now();
            let mut interim = 0u64;
            if tx.expect_continue {
                send(&mut conn, &mut tls, Direction::ToServer, &tx.req_head);
                conn.wait(rtt);
                let cont = b"HTTP/1.1 100 Continue\r\n\r\n";
                send(&mut conn, &mut tls, Direction::ToClient, cont);
                interim = cont.len() as u64;
                conn.wait(conn.params().ack_delay);
                send(&mut conn, &mut tls, Direction::ToServer, &tx.req_body_wire);
            } else {
                let mut msg = Vec::with_capacity(tx.req_head.len() + tx.req_body_wire.len());
                msg.extend_from_slice(&tx.req_head);
                msg.extend_from_slice(&tx.req_body_wire);
                send(&mut conn, &mut tls, Direction::ToServer, &msg);
            }
            let req_span = req_from..stream_len(&conn, &tls, Direction::ToServer);
            let req_end = conn.now();
            pending.push((
                tx, req_span, resp_from, req_start, req_end, interim, k as u32,
            ));
        }
        let last_group = depth as usize + group.len() == plans.len();
        conn.wait(rtt + dur_upto(&mut rng, p.server_time_max));
        for (k, (tx, req_stream, resp_from0, req_start, req_end, interim, in_flight)) in
            pending.into_iter().enumerate()
        {
            if k > 0 {
                conn.wait(conn.params().gap);
            }
            let unanswered = unanswered_last && last_group && k + 1 == group.len();
            // The interim response, when there is one, sits before the final one.
            let resp_from = if interim > 0 {
                resp_from0
            } else {
                stream_len(&conn, &tls, Direction::ToClient)
            };
            let (status, resp_start, resp_end) = if unanswered {
                (None, None, None)
            } else {
                let s = conn.now();
                let mut msg = Vec::with_capacity(tx.resp_head.len() + tx.resp_body_wire.len());
                msg.extend_from_slice(&tx.resp_head);
                msg.extend_from_slice(&tx.resp_body_wire);
                send(&mut conn, &mut tls, Direction::ToClient, &msg);
                (Some(tx.status), Some(s), Some(conn.now()))
            };
            // An unanswered request has no response to account for.
            let (resp_head_len, resp_body_len, resp_wire_body_len, resp_framing, content_encoding) =
                if status.is_some() {
                    (
                        tx.resp_head.len() as u64,
                        tx.resp_body_len,
                        tx.resp_body_wire.len() as u64,
                        tx.resp_framing,
                        tx.content_encoding.map(str::to_string),
                    )
                } else {
                    (0, 0, 0, Framing::None, None)
                };
            txs.push(ExpectedTx {
                conn_index: index,
                client,
                server,
                depth,
                in_flight,
                method: tx.method.to_string(),
                host: host_header.clone(),
                uri: tx.uri.clone(),
                status,
                req_head_len: tx.req_head.len() as u64,
                req_body_len: tx.req_body_len,
                req_wire_body_len: tx.req_body_wire.len() as u64,
                req_framing: tx.req_framing,
                resp_interim_len: interim,
                resp_head_len,
                resp_body_len,
                resp_wire_body_len,
                resp_framing,
                content_encoding,
                req_start,
                req_end,
                resp_start,
                resp_end,
                req_stream,
                resp_stream: resp_from..stream_len(&conn, &tls, Direction::ToClient),
            });
            depth += 1;
            if unanswered {
                break;
            }
        }
        if !last_group {
            conn.wait(dur_upto(&mut rng, p.think_max));
        }
    }
    close(&mut conn, &mut tls, &mut rng, p, end, close_delimited_last);
    GeneratedConn {
        index,
        client,
        server,
        end,
        midstream,
        packets: conn.finish(),
        txs,
        keylog: tls.as_ref().map(TlsConn::keylog).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_depends_only_on_seed_index_and_start() {
        let p = HttpParams::mixed(9);
        let t = Timestamp::from_secs_nanos(1_700_000_000, 0);
        let a = generate_conn(&p, 5, t);
        let b = generate_conn(&p, 5, t);
        assert_eq!(a.packets, b.packets);
        assert_eq!(a.txs, b.txs);
        assert_ne!(generate_conn(&p, 6, t).txs, a.txs);
        assert!(a.txs.iter().enumerate().all(|(i, x)| x.depth as usize == i));
    }
}
