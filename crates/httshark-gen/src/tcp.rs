//! A TCP conversation builder: one connection's frames, with correct sequence and
//! acknowledgement numbers, on a timeline the caller drives.
//!
//! Frames are built with `etherparse::PacketBuilder` (Ethernet II, Linux SLL, raw IP or BSD
//! NULL, then IPv4 or IPv6, then TCP with valid checksums). The capture point is taken to be
//! next to the client: a segment the client sends appears at once, the server's answer to it
//! appears one RTT later, and the client's ACKs follow what they acknowledge closely.
//!
//! What it models: the 3-way handshake with an MSS option (or a `midstream` start without
//! one, as when a capture starts on an established connection), data cut at the MSS, ACKs
//! from the receiver every `ack_every` segments and at the end of each burst (RFC 9293
//! section 3.8.6.3 delayed ACKs), FIN close from either side, RST. Sequence numbers wrap
//! modulo 2^32 (RFC 9293 section 3.4): pick an ISN near `u32::MAX` to exercise wraparound.
//!
//! What it does not model: windows filling up, retransmission, SACK, timestamps options,
//! congestion. Those are what [`crate::faults`] approximates (loss, duplication,
//! reordering) on the finished frames.
//!
//! Invariants: in each direction, `seq(first payload byte) = ISN + 1 + stream offset` (mod
//! 2^32), SYN and FIN each take one sequence number; [`TcpConn::finish`] returns frames sorted
//! by timestamp (stable, so ties keep the order they were made in).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use etherparse::{
    IpHeaders, IpNumber, Ipv4Header, Ipv6FlowLabel, Ipv6Header, LinuxSllPacketType, PacketBuilder,
    PacketBuilderStep, TcpHeader, TcpOptionElement,
};

use crate::pcap::LinkKind;
use crate::time::Timestamp;

/// Which way a segment goes. The generator's own, like [`Timestamp`]: it does not depend on
/// the sniffer it checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ToServer,
    ToClient,
}

impl Direction {
    /// 0 for the client's direction, 1 for the server's: the index of per-direction arrays.
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

/// What the generator knows about a frame, for ground truth and fault accounting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PacketMeta {
    /// Index of the connection in the scenario.
    pub conn: u32,
    pub dir: Direction,
    /// Offset of the first payload byte in this direction's byte stream (0 = first data
    /// byte after the SYN).
    pub stream_off: u64,
    pub payload_len: u32,
    /// Where the TCP payload starts in the frame.
    pub payload_at: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
}

/// One captured frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Packet {
    pub ts: Timestamp,
    /// The captured bytes (may be shorter than the frame after a truncation fault).
    pub data: Vec<u8>,
    /// The length on the wire.
    pub orig_len: usize,
    pub meta: PacketMeta,
}

/// Timing and shape of a connection.
#[derive(Clone, Debug)]
pub struct TcpParams {
    pub link: LinkKind,
    /// Payload bytes per full segment.
    pub mss: usize,
    /// Round-trip time seen from the capture point (next to the client).
    pub rtt: Duration,
    /// Gap between back-to-back segments of one burst.
    pub gap: Duration,
    /// Delay before the client's ACK (the server's ACKs come one RTT after the data).
    pub ack_delay: Duration,
    /// The receiver sends a pure ACK after this many full segments (2 = classic delayed ACK).
    pub ack_every: u32,
    pub client_isn: u32,
    pub server_isn: u32,
    pub window: u16,
    pub ttl: u8,
}

impl Default for TcpParams {
    fn default() -> TcpParams {
        TcpParams {
            link: LinkKind::Ethernet,
            mss: 1448,
            rtt: Duration::from_millis(20),
            gap: Duration::from_micros(40),
            ack_delay: Duration::from_micros(200),
            ack_every: 2,
            client_isn: 1_000_000,
            server_isn: 3_000_000_000,
            window: 65_535,
            ttl: 64,
        }
    }
}

/// Why a connection could not be set up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TcpGenError {
    /// Client and server addresses are not of the same IP family.
    MixedFamilies,
    /// MSS of zero or larger than an IP packet can carry.
    BadMss,
}

impl std::fmt::Display for TcpGenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TcpGenError::MixedFamilies => write!(f, "client and server IP families differ"),
            TcpGenError::BadMss => write!(f, "MSS must be 1..=65000"),
        }
    }
}

impl std::error::Error for TcpGenError {}

#[derive(Clone, Copy, Debug, Default)]
struct Flags {
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    psh: bool,
}

/// A locally administered MAC derived from an IP address, so each host keeps one MAC.
fn mac_for(ip: &IpAddr) -> [u8; 6] {
    let h = match ip {
        IpAddr::V4(a) => u32::from_be_bytes(a.octets()) as u64,
        IpAddr::V6(a) => {
            let o = a.octets();
            let mut h = 0xcbf2_9ce4_8422_2325u64;
            for b in o {
                h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
            }
            h
        }
    };
    let b = h.to_be_bytes();
    [0x02, b[3], b[4], b[5], b[6], b[7]]
}

/// One TCP connection being built.
pub struct TcpConn {
    conn: u32,
    client: SocketAddr,
    server: SocketAddr,
    p: TcpParams,
    now: Timestamp,
    /// Next sequence number to send, per direction (index = `Direction::index`).
    next_seq: [u32; 2],
    /// Payload bytes sent so far, per direction.
    sent: [u64; 2],
    fin_sent: [bool; 2],
    ip_id: [u16; 2],
    /// Time of the latest frame each direction has sent (reactions are scheduled ahead).
    last_ts: [Timestamp; 2],
    /// The window each direction advertises (`TcpParams::window` unless a zero-window
    /// episode closed it, see `crate::stack`).
    window: [u16; 2],
    /// The SYN carries a TCP Fast Open cookie option (RFC 7413), see `handshake_fast_open`.
    tfo_cookie: bool,
    packets: Vec<Packet>,
}

impl TcpConn {
    /// A connection `conn` (an index carried in every frame's metadata) starting at `start`.
    pub fn new(
        conn: u32,
        client: SocketAddr,
        server: SocketAddr,
        params: TcpParams,
        start: Timestamp,
    ) -> Result<TcpConn, TcpGenError> {
        if client.is_ipv4() != server.is_ipv4() {
            return Err(TcpGenError::MixedFamilies);
        }
        if params.mss == 0 || params.mss > 65_000 {
            return Err(TcpGenError::BadMss);
        }
        let isn = [params.client_isn, params.server_isn];
        Ok(TcpConn {
            conn,
            client,
            server,
            now: start,
            // The first data byte follows the SYN's sequence number, handshake or not.
            next_seq: [isn[0].wrapping_add(1), isn[1].wrapping_add(1)],
            sent: [0, 0],
            fin_sent: [false, false],
            ip_id: [
                (conn as u16).wrapping_mul(7919),
                (conn as u16).wrapping_mul(104_729u32 as u16),
            ],
            window: [params.window; 2],
            tfo_cookie: false,
            p: params,
            last_ts: [start, start],
            packets: Vec::new(),
        })
    }

    pub fn client(&self) -> SocketAddr {
        self.client
    }

    pub fn server(&self) -> SocketAddr {
        self.server
    }

    pub fn params(&self) -> &TcpParams {
        &self.p
    }

    /// The time the next frame will carry (the last frame's time after a send).
    pub fn now(&self) -> Timestamp {
        self.now
    }

    /// Moves the timeline forward.
    pub fn wait(&mut self, d: Duration) {
        self.now = self.now + d;
    }

    /// Payload bytes sent so far in `dir`.
    pub fn stream_len(&self, dir: Direction) -> u64 {
        self.sent[dir.index()]
    }

    /// Whether `dir` has sent its FIN.
    pub fn fin_sent(&self, dir: Direction) -> bool {
        self.fin_sent[dir.index()]
    }

    fn peer_ack(&self, dir: Direction) -> u32 {
        self.next_seq[dir.reverse().index()]
    }

    /// When the receiver's reaction to a frame sent by `dir` at `ts` shows up.
    fn reaction_time(&self, dir: Direction, ts: Timestamp) -> Timestamp {
        match dir {
            Direction::ToServer => ts + self.p.rtt,
            Direction::ToClient => ts + self.p.ack_delay,
        }
    }

    /// SYN, SYN-ACK (one RTT later), ACK. The SYNs carry an MSS option.
    pub fn handshake(&mut self) {
        let t0 = self.now;
        let c = Direction::ToServer;
        let s = Direction::ToClient;
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        self.emit(t0, c, self.p.client_isn, 0, syn, &[]);
        let t1 = t0 + self.p.rtt;
        let synack = Flags {
            syn: true,
            ack: true,
            ..Flags::default()
        };
        self.emit(
            t1,
            s,
            self.p.server_isn,
            self.next_seq[c.index()],
            synack,
            &[],
        );
        let t2 = t1 + self.p.ack_delay;
        self.emit(
            t2,
            c,
            self.next_seq[c.index()],
            self.next_seq[s.index()],
            ack(),
            &[],
        );
        self.now = t2;
    }

    /// A lone SYN from the client, as a SYN flood sends (the handshake never completes).
    pub fn syn(&mut self) {
        let f = Flags {
            syn: true,
            ..Flags::default()
        };
        let t = self.now;
        self.now = self.emit(t, Direction::ToServer, self.p.client_isn, 0, f, &[]);
    }

    /// Takes the frames made so far, sorted by time (stable), so a long connection can be
    /// written out as it goes instead of being held whole. The connection can go on.
    pub fn take_packets(&mut self) -> Vec<Packet> {
        let mut out = std::mem::take(&mut self.packets);
        out.sort_by_key(|p| p.ts);
        out
    }

    /// Sends `data` from `dir` as MSS-sized segments `gap` apart, starting at `now`; the
    /// receiver ACKs every `ack_every` segments and after the last one. `now` ends at the
    /// last data segment.
    pub fn send(&mut self, dir: Direction, data: &[u8]) {
        let mut t = self.now;
        let mut unacked = 0u32;
        let chunks = data.chunks(self.p.mss);
        let n = chunks.len();
        for (i, chunk) in chunks.enumerate() {
            if i > 0 {
                t = t + self.p.gap;
            }
            let last = i + 1 == n;
            let f = Flags {
                ack: true,
                psh: last,
                ..Flags::default()
            };
            let seq = self.next_seq[dir.index()];
            t = self.emit(t, dir, seq, self.peer_ack(dir), f, chunk);
            unacked += 1;
            if unacked >= self.p.ack_every.max(1) || last {
                unacked = 0;
                let rt = self.reaction_time(dir, t);
                let rdir = dir.reverse();
                let rseq = self.next_seq[rdir.index()];
                self.emit(rt, rdir, rseq, self.next_seq[dir.index()], ack(), &[]);
            }
        }
        self.now = t;
    }

    /// Orderly close: `first` sends FIN, the peer answers FIN+ACK, `first` ACKs (RFC 9293
    /// section 3.6). A side that already sent its FIN is not made to send another.
    pub fn close(&mut self, first: Direction) {
        let second = first.reverse();
        let mut t = self.now;
        if !self.fin_sent[first.index()] {
            t = self.send_fin(t, first);
        }
        t = self.reaction_time(first, t);
        if !self.fin_sent[second.index()] {
            t = self.send_fin(t, second);
        }
        t = self.reaction_time(second, t);
        let seq = self.next_seq[first.index()];
        self.now = self.emit(t, first, seq, self.peer_ack(first), ack(), &[]);
    }

    /// A half close: only `dir` sends its FIN (and the peer ACKs it).
    pub fn fin(&mut self, dir: Direction) {
        if self.fin_sent[dir.index()] {
            return;
        }
        let t = self.send_fin(self.now, dir);
        let rt = self.reaction_time(dir, t);
        let rdir = dir.reverse();
        let seq = self.next_seq[rdir.index()];
        self.emit(rt, rdir, seq, self.next_seq[dir.index()], ack(), &[]);
    }

    fn send_fin(&mut self, t: Timestamp, dir: Direction) -> Timestamp {
        let f = Flags {
            fin: true,
            ack: true,
            ..Flags::default()
        };
        let seq = self.next_seq[dir.index()];
        let t = self.emit(t, dir, seq, self.peer_ack(dir), f, &[]);
        self.next_seq[dir.index()] = seq.wrapping_add(1);
        self.fin_sent[dir.index()] = true;
        t
    }

    /// Abort: `from` sends RST+ACK at the current sequence number.
    pub fn reset(&mut self, from: Direction) {
        let f = Flags {
            rst: true,
            ack: true,
            ..Flags::default()
        };
        let seq = self.next_seq[from.index()];
        self.now = self.emit(self.now, from, seq, self.peer_ack(from), f, &[]);
    }

    /// The frames, sorted by time (stable).
    pub fn finish(mut self) -> Vec<Packet> {
        self.packets.sort_by_key(|p| p.ts);
        self.packets
    }

    fn endpoints(&self, dir: Direction) -> (SocketAddr, SocketAddr) {
        match dir {
            Direction::ToServer => (self.client, self.server),
            Direction::ToClient => (self.server, self.client),
        }
    }

    /// Builds and records one frame; returns its time. A side never sends before a frame it
    /// already sent (an ACK scheduled `ack_delay` ahead, say): the frame is delayed to that
    /// time, so each direction's sequence numbers never go back in capture order.
    fn emit(
        &mut self,
        ts: Timestamp,
        dir: Direction,
        seq: u32,
        ackn: u32,
        f: Flags,
        payload: &[u8],
    ) -> Timestamp {
        let ts = ts.max(self.last_ts[dir.index()]);
        self.last_ts[dir.index()] = ts;
        let (src, dst) = self.endpoints(dir);
        let mut tcp = TcpHeader::new(src.port(), dst.port(), seq, self.window[dir.index()]);
        tcp.syn = f.syn;
        tcp.fin = f.fin;
        tcp.rst = f.rst;
        tcp.psh = f.psh;
        if f.ack {
            tcp.ack = true;
            tcp.acknowledgment_number = ackn;
        }
        if f.syn {
            let mss = u16::try_from(self.p.mss).unwrap_or(u16::MAX);
            if self.tfo_cookie && dir == Direction::ToServer {
                // MSS, then a Fast Open cookie (kind 34, RFC 7413 §4.1.1), NOP-padded:
                // 16 of the 40 bytes of option space.
                let [m0, m1] = mss.to_be_bytes();
                let _ = tcp.set_options_raw(&[
                    2, 4, m0, m1, 34, 10, 0xc0, 0x0c, 0x1e, 0x5a, 0x11, 0x22, 0x33, 0x44, 1, 1,
                ]);
            } else {
                // Two options of 4 bytes each at most: never exceeds the 40-byte option space.
                let _ = tcp.set_options(&[TcpOptionElement::MaximumSegmentSize(mss)]);
            }
        }
        let id = self.ip_id[dir.index()];
        self.ip_id[dir.index()] = id.wrapping_add(1);
        let ip = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                let mut h = Ipv4Header::new(0, self.p.ttl, IpNumber::TCP, s.octets(), d.octets())
                    .unwrap_or_default();
                h.identification = id;
                IpHeaders::Ipv4(h, Default::default())
            }
            (s, d) => IpHeaders::Ipv6(
                Ipv6Header {
                    traffic_class: 0,
                    flow_label: Ipv6FlowLabel::ZERO,
                    payload_length: 0,
                    next_header: IpNumber::TCP,
                    hop_limit: self.p.ttl,
                    source: v6_octets(s),
                    destination: v6_octets(d),
                },
                Default::default(),
            ),
        };
        let (step, prefix): (PacketBuilderStep<IpHeaders>, Option<[u8; 4]>) = match self.p.link {
            LinkKind::Ethernet => (
                PacketBuilder::ethernet2(mac_for(&src.ip()), mac_for(&dst.ip())).ip(ip),
                None,
            ),
            LinkKind::LinuxSll => {
                let m = mac_for(&src.ip());
                let ptype = match dir {
                    Direction::ToServer => LinuxSllPacketType::OUTGOING,
                    Direction::ToClient => LinuxSllPacketType::HOST,
                };
                (
                    PacketBuilder::linux_sll(ptype, 6, [m[0], m[1], m[2], m[3], m[4], m[5], 0, 0])
                        .ip(ip),
                    None,
                )
            }
            LinkKind::Raw => (PacketBuilder::ip(ip), None),
            LinkKind::Null => {
                // BSD AF_INET is 2 everywhere; for IPv6 the value differs per OS: 24 is
                // NetBSD/OpenBSD, the one libpcap's DLT_NULL readers all accept.
                let af: u32 = if src.is_ipv4() { 2 } else { 24 };
                (PacketBuilder::ip(ip), Some(af.to_le_bytes()))
            }
        };
        let builder = step.tcp_header(tcp);
        let size = builder.size(payload.len());
        let mut data = Vec::with_capacity(size + 4);
        if let Some(pfx) = prefix {
            data.extend_from_slice(&pfx);
        }
        // Writing into a Vec fails only for payloads larger than an IP packet, which the
        // MSS check in `new` rules out; a failure leaves a header-only frame, never a panic.
        let _ = builder.write_to_vec(&mut data, payload);
        let payload_at = (data.len().saturating_sub(payload.len())) as u32;
        let stream_off = self.sent[dir.index()];
        self.packets.push(Packet {
            ts,
            orig_len: data.len(),
            data,
            meta: PacketMeta {
                conn: self.conn,
                dir,
                stream_off,
                payload_len: payload.len() as u32,
                payload_at,
                syn: f.syn,
                fin: f.fin,
                rst: f.rst,
            },
        });
        if !payload.is_empty() {
            self.sent[dir.index()] += payload.len() as u64;
            self.next_seq[dir.index()] = seq.wrapping_add(payload.len() as u32);
        }
        ts
    }
}

/// Segments of the TCP behaviours of [`crate::stack`] (issue 9, item 5): what a real stack
/// sends in each case, with the sequence numbers it would use.
impl TcpConn {
    /// Records a frame that neither advances `dir`'s sequence number nor counts as new
    /// stream bytes (a probe, a retransmission): its metadata says where it lies.
    fn emit_again(
        &mut self,
        ts: Timestamp,
        dir: Direction,
        seq: u32,
        f: Flags,
        payload: &[u8],
    ) -> Timestamp {
        let (sent, next) = (self.sent[dir.index()], self.next_seq[dir.index()]);
        let ackn = self.peer_ack(dir);
        let ts = self.emit(ts, dir, seq, ackn, f, payload);
        self.sent[dir.index()] = sent;
        self.next_seq[dir.index()] = next;
        // The stream offset of `seq`: behind `next` by the wrapping distance.
        let back = u64::from(next.wrapping_sub(seq));
        if let Some(p) = self.packets.last_mut() {
            p.meta.stream_off = sent.saturating_sub(back);
        }
        ts
    }

    /// TCP Fast Open (RFC 7413): the client's SYN carries a cookie and `data` (at most one
    /// MSS), the SYN-ACK acknowledges the data with the SYN, the client's ACK follows.
    pub fn handshake_fast_open(&mut self, data: &[u8]) {
        let data = &data[..data.len().min(self.p.mss)];
        let (c, s) = (Direction::ToServer, Direction::ToClient);
        let t0 = self.now;
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        self.tfo_cookie = true;
        self.emit(t0, c, self.p.client_isn, 0, syn, data);
        self.tfo_cookie = false;
        // `emit` advanced past the data from `client_isn`; the SYN takes one more.
        self.next_seq[c.index()] = self.p.client_isn.wrapping_add(1 + data.len() as u32);
        let synack = Flags {
            syn: true,
            ack: true,
            ..Flags::default()
        };
        let t1 = t0 + self.p.rtt;
        let cack = self.next_seq[c.index()];
        self.emit(t1, s, self.p.server_isn, cack, synack, &[]);
        let t2 = t1 + self.p.ack_delay;
        let (cseq, sack) = (self.next_seq[c.index()], self.next_seq[s.index()]);
        self.emit(t2, c, cseq, sack, ack(), &[]);
        self.now = t2;
    }

    /// A simultaneous open (RFC 9293 §3.5, figure 8), seen next to the client: both SYNs
    /// cross, then each side answers the other's SYN with SYN-ACK.
    pub fn simultaneous_open(&mut self) {
        let (c, s) = (Direction::ToServer, Direction::ToClient);
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        let synack = Flags {
            syn: true,
            ack: true,
            ..Flags::default()
        };
        let t0 = self.now;
        self.emit(t0, c, self.p.client_isn, 0, syn, &[]);
        // The server's SYN was sent before the client's arrived: it arrives half an RTT
        // after the client sent its own.
        let t1 = t0 + self.p.rtt / 2;
        self.emit(t1, s, self.p.server_isn, 0, syn, &[]);
        let t2 = t1 + self.p.ack_delay;
        let (cseq, sack) = (self.p.client_isn, self.next_seq[s.index()]);
        self.emit(t2, c, cseq, sack, synack, &[]);
        let t3 = t0 + self.p.rtt;
        let (sseq, cack) = (self.p.server_isn, self.next_seq[c.index()]);
        self.emit(t3, s, sseq, cack, synack, &[]);
        self.now = t3 + self.p.ack_delay;
    }

    /// The client's SYN with `first_isn` goes unanswered; the SYN retransmitted after
    /// `after` carries a new ISN (`TcpParams::client_isn`, as a stack does after a
    /// restart or when it picks the ISN per attempt), then the handshake completes.
    pub fn handshake_after_syn_with(&mut self, first_isn: u32, after: std::time::Duration) {
        let syn = Flags {
            syn: true,
            ..Flags::default()
        };
        let t = self.now;
        self.emit(t, Direction::ToServer, first_isn, 0, syn, &[]);
        self.now = t + after;
        self.handshake();
    }

    /// A keep-alive probe from `from` (RFC 9293 §3.8.4): the sequence number one before
    /// the next, with no byte (`byte == None`, Linux) or one garbage byte (older
    /// Windows); the peer answers with a pure ACK of what it has.
    pub fn keepalive_probe(&mut self, from: Direction, byte: Option<u8>) {
        let seq = self.next_seq[from.index()].wrapping_sub(1);
        let payload: &[u8] = match &byte {
            Some(b) => std::slice::from_ref(b),
            None => &[],
        };
        let t = self.emit_again(self.now, from, seq, ack(), payload);
        let rt = self.reaction_time(from, t);
        let rdir = from.reverse();
        let (rseq, rack) = (self.next_seq[rdir.index()], self.next_seq[from.index()]);
        self.now = self.emit(rt, rdir, rseq, rack, ack(), &[]);
    }

    /// A zero-window episode before `dir` sends `data`: the receiver advertises a zero
    /// window; `dir` probes `probes` times with the first byte of `data` (RFC 9293
    /// §3.8.6.1), each answered by an ACK that does not take it; then the window opens
    /// and `data` goes as usual.
    pub fn send_after_zero_window(&mut self, dir: Direction, data: &[u8], probes: u32) {
        let rdir = dir.reverse();
        let (rseq, rack) = (self.next_seq[rdir.index()], self.next_seq[dir.index()]);
        self.window[rdir.index()] = 0;
        let mut t = self.emit(self.now, rdir, rseq, rack, ack(), &[]);
        if let Some(first) = data.first() {
            for _ in 0..probes {
                t = t + self.p.rtt;
                let seq = self.next_seq[dir.index()];
                t = self.emit_again(t, dir, seq, ack(), std::slice::from_ref(first));
                let rt = self.reaction_time(dir, t);
                self.emit(rt, rdir, rseq, rack, ack(), &[]);
            }
        }
        self.window[rdir.index()] = self.p.window;
        t = t + self.p.rtt;
        self.emit(t, rdir, rseq, rack, ack(), &[]);
        self.now = t + self.p.ack_delay;
        self.send(dir, data);
    }

    /// `data` (at most one MSS) from `dir` whose first `split` bytes the capture misses:
    /// the bytes from `split` on are captured, the peer's ACK still asks for the first
    /// byte, and the sender retransmits all of `data` in one segment (Linux collapses
    /// retransmissions) whose copy of the bytes from `split` on is `other` there: a
    /// broken middlebox, or an evasion. `other` is as long as `data`, and only its bytes
    /// from `split` on are used.
    pub fn send_overlap_conflict(
        &mut self,
        dir: Direction,
        data: &[u8],
        split: usize,
        other: &[u8],
    ) {
        let n = data.len().min(self.p.mss);
        let split = split.min(n);
        let (seq0, sent0) = (self.next_seq[dir.index()], self.sent[dir.index()]);
        let rdir = dir.reverse();
        let f = Flags {
            ack: true,
            psh: true,
            ..Flags::default()
        };
        // The first segment went uncaptured: only the sequence space moves on.
        self.next_seq[dir.index()] = seq0.wrapping_add(split as u32);
        self.sent[dir.index()] = sent0 + split as u64;
        let seq = self.next_seq[dir.index()];
        let peer = self.peer_ack(dir);
        let t = self.emit(self.now, dir, seq, peer, f, &data[split..n]);
        // The peer's duplicate ACK: it still waits for the first byte.
        let rt = self.reaction_time(dir, t);
        let rseq = self.next_seq[rdir.index()];
        self.emit(rt, rdir, rseq, seq0, ack(), &[]);
        let mut copy = data[..n].to_vec();
        for (i, b) in copy.iter_mut().enumerate().skip(split) {
            *b = other.get(i).copied().unwrap_or(*b);
        }
        let t = self.emit_again(rt + self.p.rtt, dir, seq0, f, &copy);
        let rt = self.reaction_time(dir, t);
        let (rseq, rack) = (self.next_seq[rdir.index()], self.next_seq[dir.index()]);
        self.now = self.emit(rt, rdir, rseq, rack, ack(), &[]);
    }
}

impl TcpConn {
    /// Sends `data` (one segment, at most an MSS) from `dir`, then, before the peer's ACK
    /// (the retransmission timer fired first, or a forger raced it), the same segment
    /// again with `other`'s bytes: the receiver may keep either copy. Then the peer's ACK;
    /// `now` ends there.
    pub fn send_then_retransmit_other(&mut self, dir: Direction, data: &[u8], other: &[u8]) {
        let n = data.len().min(self.p.mss);
        let seq0 = self.next_seq[dir.index()];
        let rdir = dir.reverse();
        let f = Flags {
            ack: true,
            psh: true,
            ..Flags::default()
        };
        let t = self.emit(self.now, dir, seq0, self.peer_ack(dir), f, &data[..n]);
        let copy: Vec<u8> = (0..n)
            .map(|i| other.get(i).copied().unwrap_or(data[i]))
            .collect();
        // Sent before the ACK comes back (an RTO shorter than the RTT, or a forged copy).
        let t = self.emit_again(t + self.p.gap, dir, seq0, f, &copy);
        let rt = self.reaction_time(dir, t);
        let (rseq, rack) = (self.next_seq[rdir.index()], self.next_seq[dir.index()]);
        self.now = self.emit(rt, rdir, rseq, rack, ack(), &[]);
    }
}

fn ack() -> Flags {
    Flags {
        ack: true,
        ..Flags::default()
    }
}

fn v6_octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(a) => a.octets(),
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};

    fn conn(link: LinkKind, v6: bool, isn: u32) -> TcpConn {
        let (c, s): (SocketAddr, SocketAddr) = if v6 {
            (
                "[2001:db8::1]:40000".parse().unwrap(),
                "[2001:db8::2]:80".parse().unwrap(),
            )
        } else {
            (
                "10.0.0.1:40000".parse().unwrap(),
                "10.0.0.2:80".parse().unwrap(),
            )
        };
        let p = TcpParams {
            link,
            mss: 100,
            client_isn: isn,
            server_isn: isn.wrapping_add(12345),
            ..TcpParams::default()
        };
        TcpConn::new(3, c, s, p, Timestamp::from_secs_nanos(1000, 0)).unwrap()
    }

    struct Seg {
        seq: u32,
        ack: u32,
        syn: bool,
        fin: bool,
        rst: bool,
        payload: Vec<u8>,
        src_port: u16,
    }

    fn parse(link: LinkKind, p: &Packet) -> Seg {
        let sliced = match link {
            LinkKind::Ethernet => SlicedPacket::from_ethernet(&p.data),
            LinkKind::LinuxSll => SlicedPacket::from_linux_sll(&p.data),
            LinkKind::Raw => SlicedPacket::from_ip(&p.data),
            LinkKind::Null => SlicedPacket::from_ip(&p.data[4..]),
        }
        .expect("frame decodes");
        match &sliced.net {
            Some(NetSlice::Ipv4(_)) | Some(NetSlice::Ipv6(_)) => {}
            other => panic!("no IP: {other:?}"),
        }
        let Some(TransportSlice::Tcp(t)) = sliced.transport else {
            panic!("not tcp")
        };
        Seg {
            seq: t.sequence_number(),
            ack: t.acknowledgment_number(),
            syn: t.syn(),
            fin: t.fin(),
            rst: t.rst(),
            payload: t.payload().to_vec(),
            src_port: t.source_port(),
        }
    }

    #[test]
    fn handshake_data_close_sequence_numbers_wrap() {
        for link in [
            LinkKind::Ethernet,
            LinkKind::Raw,
            LinkKind::Null,
            LinkKind::LinuxSll,
        ] {
            for v6 in [false, true] {
                let isn = u32::MAX - 150;
                let mut c = conn(link, v6, isn);
                c.handshake();
                let req: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
                c.send(Direction::ToServer, &req);
                c.wait(Duration::from_millis(5));
                c.send(Direction::ToClient, b"hello");
                c.close(Direction::ToClient);
                let pkts = c.finish();
                assert!(pkts.windows(2).all(|w| w[0].ts <= w[1].ts));
                let segs: Vec<Seg> = pkts.iter().map(|p| parse(link, p)).collect();
                assert!(segs[0].syn && segs[1].syn);
                assert_eq!(segs[0].seq, isn);
                assert_eq!(segs[1].ack, isn.wrapping_add(1));
                let mut up = Vec::new();
                let mut expect_seq = isn.wrapping_add(1);
                for (p, s) in pkts.iter().zip(&segs) {
                    assert_eq!(p.meta.payload_len as usize, s.payload.len());
                    assert_eq!(&p.data[p.meta.payload_at as usize..], &s.payload[..]);
                    if s.src_port == 40000 && !s.payload.is_empty() {
                        assert_eq!(s.seq, expect_seq, "client seq continuity ({link:?})");
                        assert_eq!(p.meta.stream_off, up.len() as u64);
                        expect_seq = expect_seq.wrapping_add(s.payload.len() as u32);
                        up.extend_from_slice(&s.payload);
                    }
                    assert!(s.payload.len() <= 100);
                }
                assert_eq!(up, req);
                // The stream wrapped: some later segment has a sequence number below the ISN.
                assert!(segs.iter().any(|s| s.src_port == 40000 && s.seq < 100));
                // Both FINs present, server's first; last frame is the client's ACK of it.
                let fins: Vec<u16> = segs.iter().filter(|s| s.fin).map(|s| s.src_port).collect();
                assert_eq!(fins, vec![80, 40000]);
                let last = segs.last().unwrap();
                assert!(!last.fin && last.src_port == 80);
                assert!(!segs.iter().any(|s| s.rst));
            }
        }
    }

    #[test]
    fn midstream_reset_and_acks() {
        let mut c = conn(LinkKind::Ethernet, false, 5000);
        c.send(Direction::ToServer, &[b'x'; 450]);
        c.reset(Direction::ToClient);
        let pkts = c.finish();
        let segs: Vec<Seg> = pkts.iter().map(|p| parse(LinkKind::Ethernet, p)).collect();
        assert!(!segs.iter().any(|s| s.syn));
        // 5 data segments (100*4 + 50), ACKs after segments 2, 4 and 5.
        let data = segs.iter().filter(|s| !s.payload.is_empty()).count();
        let acks = segs
            .iter()
            .filter(|s| s.payload.is_empty() && !s.rst)
            .count();
        assert_eq!((data, acks), (5, 3));
        let rst = segs.iter().find(|s| s.rst).unwrap();
        assert_eq!(rst.seq, 5000u32 + 12345 + 1);
        assert_eq!(rst.ack, 5000 + 1 + 450);
    }

    #[test]
    fn rejects_bad_setup() {
        let p = TcpParams::default();
        let v4: SocketAddr = "10.0.0.1:1".parse().unwrap();
        let v6: SocketAddr = "[::1]:2".parse().unwrap();
        assert!(matches!(
            TcpConn::new(0, v4, v6, p.clone(), Timestamp::ZERO),
            Err(TcpGenError::MixedFamilies)
        ));
        let bad = TcpParams { mss: 0, ..p };
        assert!(matches!(
            TcpConn::new(0, v4, v4, bad, Timestamp::ZERO),
            Err(TcpGenError::BadMss)
        ));
    }
}
