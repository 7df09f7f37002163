//! Test support for the HTTP parser's unit tests: a driver that feeds an `HttpConn` data,
//! gaps and ACKs (stated as offsets of the other stream, as the reassembler gives them)
//! and collects what it emits.

use std::net::SocketAddr;

use crate::model::{ConnInfo, Direction, PerDirection, Transaction};
use crate::reassembly::{CloseReason, StreamHandler};
use crate::time::Timestamp;

use super::{HttpConn, HttpCtx, HttpLimits};

pub(super) const REQ_A: &[u8] = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
pub(super) const REQ_B: &[u8] = b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
pub(super) const REQ_C: &[u8] = b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n";
pub(super) const RESP_A: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na";
pub(super) const RESP_B: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nbb";
pub(super) const RESP_C: &[u8] = b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nccc";

fn conn_info(midstream: bool) -> ConnInfo {
    let client = SocketAddr::from(([10, 0, 0, 1], 40000));
    let server = SocketAddr::from(([10, 0, 0, 2], 80));
    ConnInfo {
        id: 1,
        client,
        server,
        syn_ts: None,
        synack_ts: None,
        established_ts: None,
        midstream,
    }
}

pub(super) struct Drive {
    pub(super) h: HttpConn,
    pub(super) ctx: HttpCtx,
    pub(super) conn: ConnInfo,
    t: i64,
    /// Bytes (and gaps) so far per direction: the offsets ACKs are stated in.
    pub(super) len: PerDirection<u64>,
}

impl Drive {
    pub(super) fn new(midstream: bool) -> Drive {
        Drive::with_limits(midstream, HttpLimits::default())
    }

    pub(super) fn with_limits(midstream: bool, limits: HttpLimits) -> Drive {
        let conn = conn_info(midstream);
        Drive {
            h: HttpConn::new(&conn),
            ctx: HttpCtx::new(limits),
            conn,
            t: 1000,
            len: PerDirection::default(),
        }
    }

    pub(super) fn ts(&mut self) -> Timestamp {
        self.t += 1;
        Timestamp::from_secs_nanos(self.t, 0)
    }

    /// Bytes of `dir`, sent after the other direction's offset `ack` (`None`: unknown).
    pub(super) fn data(&mut self, dir: Direction, bytes: &[u8], ack: Option<u64>) {
        let ts = self.ts();
        if let Some(a) = ack {
            self.h.on_ack(&mut self.ctx, &self.conn, dir, a);
        }
        self.h.on_data(&mut self.ctx, &self.conn, dir, bytes, ts);
        self.len[dir] += bytes.len() as u64;
    }

    /// Bytes of `dir` sent after everything of the other direction so far.
    pub(super) fn after_all(&mut self, dir: Direction, bytes: &[u8]) {
        let ack = self.len[dir.reverse()];
        self.data(dir, bytes, Some(ack));
    }

    pub(super) fn gap(&mut self, dir: Direction, len: u64) {
        let ts = self.ts();
        self.h.on_gap(&mut self.ctx, &self.conn, dir, len, ts);
        self.len[dir] += len;
    }

    pub(super) fn fin(&mut self, dir: Direction) {
        let ts = self.ts();
        self.h.on_fin(&mut self.ctx, &self.conn, dir, ts);
    }

    /// Closes the connection; returns every transaction emitted.
    pub(super) fn end(mut self) -> (Vec<Transaction>, HttpCtx) {
        let ts = self.ts();
        self.h
            .on_close(&mut self.ctx, &self.conn, CloseReason::Fin, ts);
        let out = std::mem::take(&mut self.ctx.out);
        (out, self.ctx)
    }
}

/// (method, target, status or 0) of each transaction, in output order.
pub(super) fn pairs(txs: &[Transaction]) -> Vec<(String, String, u16)> {
    txs.iter()
        .map(|t| {
            (
                t.request.method.clone(),
                t.request.target.clone(),
                t.response.as_ref().map_or(0, |r| r.status),
            )
        })
        .collect()
}

pub(super) fn pair(method: &str, target: &str, status: u16) -> (String, String, u16) {
    (method.to_string(), target.to_string(), status)
}
