//! Issue 9, item 1, through the `Worker`: RST and FIN segments injected before the real
//! handshake and inside it, made for another ISN (as a new user tried it: such a capture
//! gave no transaction at all), leave the generated connections' transactions exactly as
//! in the clean capture, and each is counted by reason.

use std::time::Duration;

use httshark::config::Config;
use httshark::time::Timestamp;
use httshark::wire::LinkType;
use httshark::worker::{Worker, WorkerConfig, WorkerCounters};
use httshark_gen::{self as testgen, HttpParams, Packet};

fn run(packets: &[Packet]) -> (Vec<String>, WorkerCounters) {
    let ts = |p: &Packet| Timestamp(p.ts.as_nanos());
    let mut w = Worker::new(WorkerConfig::from_config(
        &Config::default(),
        LinkType::Ethernet,
    ));
    let mut txs = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        w.on_frame(&p.data, i as u64, ts(p));
        w.on_tick(ts(p));
        txs.extend(w.take_transactions());
    }
    let end = packets.iter().map(ts).max().unwrap_or_default();
    w.finish(end + Duration::from_secs(1));
    txs.extend(w.take_transactions());
    let mut out: Vec<String> = txs
        .iter_mut()
        .map(|t| {
            // Injected packets shift capture positions, hence connection ids.
            t.conn.id = 0;
            format!("{t:?}")
        })
        .collect();
    out.sort();
    (out, w.counters())
}

/// Offset of the TCP header in the generator's Ethernet/IPv4 frames.
const TCP: usize = 14 + 20;

/// A copy of `p` with its TCP sequence, acknowledgment and flags replaced, no payload.
fn forged(p: &Packet, seq: u32, ack: u32, flags: u8, reverse: bool) -> Packet {
    let mut q = p.clone();
    let tcp_len = usize::from(q.data[TCP + 12] >> 4) * 4;
    q.data.truncate(TCP + tcp_len);
    let ip_len = (20 + tcp_len) as u16;
    q.data[16..18].copy_from_slice(&ip_len.to_be_bytes());
    if reverse {
        // Swap addresses and ports: the segment comes from the other end.
        let (mut a, mut b) = ([0u8; 4], [0u8; 4]);
        a.copy_from_slice(&q.data[26..30]);
        b.copy_from_slice(&q.data[30..34]);
        q.data[26..30].copy_from_slice(&b);
        q.data[30..34].copy_from_slice(&a);
        let (sp, dp) = (
            q.data[TCP..TCP + 2].to_vec(),
            q.data[TCP + 2..TCP + 4].to_vec(),
        );
        q.data[TCP..TCP + 2].copy_from_slice(&dp);
        q.data[TCP + 2..TCP + 4].copy_from_slice(&sp);
    }
    q.data[TCP + 4..TCP + 8].copy_from_slice(&seq.to_be_bytes());
    q.data[TCP + 8..TCP + 12].copy_from_slice(&ack.to_be_bytes());
    q.data[TCP + 13] = flags;
    q.orig_len = q.data.len();
    q
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

#[test]
fn injected_rsts_and_fins_around_the_handshake_change_nothing() {
    for seed in 1..=4 {
        let mut params = HttpParams::mixed(seed);
        params.connections = Some(30);
        params.midstream_share = 0.0;
        let (clean, _, _) = testgen::generate(&params, None);
        let (want, _) = run(&clean);
        assert!(!want.is_empty());
        // Each client end's server ISN (from the SYN-ACKs), so that the forged server
        // segments are far from it too (the generator wraps some ISNs near 2^32).
        let seq = |p: &Packet| u32::from_be_bytes(p.data[TCP + 4..TCP + 8].try_into().unwrap());
        let server_isn: std::collections::HashMap<Vec<u8>, u32> = clean
            .iter()
            .filter(|p| p.data[TCP + 13] & (SYN | ACK) == SYN | ACK)
            .map(|p| {
                (
                    [&p.data[30..34], &p.data[TCP + 2..TCP + 4]].concat(),
                    seq(p),
                )
            })
            .collect();
        let mut dirty = Vec::new();
        let mut injected = 0;
        for p in &clean {
            let flags = p.data[TCP + 13];
            if flags & (SYN | ACK) == SYN {
                let isn = seq(p);
                let other = isn.wrapping_add(0x4000_0000);
                let client = [&p.data[26..30], &p.data[TCP..TCP + 2]].concat();
                let far = server_isn
                    .get(&client)
                    .copied()
                    .unwrap_or(0)
                    .wrapping_add(0x4000_0000);
                // Before the SYN: a RST each way and a FIN from the client, another ISN.
                dirty.push(forged(p, other, 0, RST, false));
                dirty.push(forged(p, far, other, RST | ACK, true));
                dirty.push(forged(p, other, 9, FIN | ACK, false));
                dirty.push(p.clone());
                // Inside the handshake: the server "refuses" a SYN it was not sent, the
                // client "resets" and "closes" from another ISN.
                dirty.push(forged(p, far, other.wrapping_add(1), RST | ACK, true));
                dirty.push(forged(p, other, 0, RST, false));
                dirty.push(forged(p, other, 1, FIN | ACK, false));
                injected += 6;
                continue;
            }
            dirty.push(p.clone());
        }
        assert!(injected > 0);
        let (got, c) = run(&dirty);
        let only = |a: &[String], b: &[String]| -> Vec<String> {
            a.iter()
                .filter(|x| !b.contains(x))
                .map(|x| x.chars().take(700).collect())
                .collect()
        };
        assert!(
            got == want,
            "seed {seed}: injected control segments changed the output:\nclean only {:#?}\ninjected only {:#?}\n{:?}",
            only(&want, &got),
            only(&got, &want),
            c.reassembly
        );
        let r = &c.reassembly;
        assert_eq!(r.connections_reset, run_resets(&clean), "seed {seed}");
        assert!(
            r.rsts_out_of_window >= injected / 6 * 2,
            "seed {seed}: {r:?}"
        );
        assert!(r.fins_out_of_window >= injected / 6, "seed {seed}: {r:?}");
    }
}

/// Connections the clean capture resets (the generator's own RSTs).
fn run_resets(clean: &[Packet]) -> u64 {
    run(clean).1.reassembly.connections_reset
}
