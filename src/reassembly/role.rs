//! Which end of a new connection is the client, decided at its first packet.
//!
//! TCP tells when the handshake is seen (SYN, SYN-ACK). When it is not (mid-stream pickup),
//! the application protocol may tell from the first payload: that question goes to the
//! `HandlerFactory` (`probe_role`), so this module knows no protocol. Then `-hosts`, then
//! ports.
//!
//! What it does not do: change its mind. The decision is made once, when the connection
//! opens; later packets never swap the roles.

use super::HandlerFactory;
use crate::hosts::ServerSet;
use crate::wire::TcpSegment;

/// Which end of a connection sent some bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The end that opened the connection (sends requests).
    Client,
    /// The end that accepted it (sends responses).
    Server,
}

/// Decides, at a connection's first packet, whether its destination is the server. The
/// first rule that applies wins:
/// 1. SYN without ACK: the sender is the client (active open, RFC 9293 §3.5).
/// 2. SYN+ACK: the sender is the server.
/// 3. and 4. The factory recognises the payload (`HandlerFactory::probe_role`): for HTTP
///    (`http::probe_role`), a request line means the sender is the client, a status line
///    the server.
/// 5. `-hosts` lists the destination: it is the server; else if it lists the source, the
///    source is.
/// 6. The lower port is the server (servers listen on well-known ports, clients use
///    ephemeral ones); on a tie, the destination.
pub fn server_is_dst<F: HandlerFactory + ?Sized>(
    seg: &TcpSegment<'_>,
    servers: &ServerSet,
    factory: &F,
) -> bool {
    let f = seg.flags;
    if f.syn {
        return !f.ack;
    }
    match factory.probe_role(seg.payload) {
        Some(Role::Client) => return true,
        Some(Role::Server) => return false,
        None => {}
    }
    if servers.is_server(&seg.dst) {
        return true;
    }
    if servers.is_server(&seg.src) {
        return false;
    }
    seg.dst.port() <= seg.src.port()
}
