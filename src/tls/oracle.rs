//! The `TlsLayer` oracle (issue 10) that the `tls` fuzz target runs and
//! `tests/tls_fuzz_regressions.rs` replays on the inputs the fuzzer found: `check` panics
//! when the layer breaks a promise. Not used by the product.
//!
//! The input: the first byte picks a mode.
//!
//! - Structured (even): a TLS conversation with known secrets (`tls::testing`: TLS 1.3 or
//!   1.2, a suite and an application payload taken from the input), delivered with
//!   fuzz-chosen segmentation, gaps, flipped bytes, ticks and FINs, with or without its keys.
//!   Oracle: every plaintext byte the layer emits sits at its true offset in what the
//!   direction carried, counting the gaps it emitted (exact for TLS 1.3 and 1.2 AEAD
//!   suites without padding), so no byte is invented, reordered or misplaced; without
//!   damage, all of it comes out, identical at any segmentation.
//! - Raw (odd): arbitrary bytes both ways, the conversation's keys in the store: no panic,
//!   memory within bounds.
//!
//! Always: the layer's memory stays within `TLS_MAX_HELD_BYTES` plus two records per
//! direction and its fixed parts.

use super::testing::{self, conn, layer_mem_bound as mem_bound};
use super::TlsLayer;
use crate::http::HttpLimits;
use crate::model::{Direction, PerDirection};
use crate::proto::{Emitted, Layer, LayerEvent, ProtoCtx};
use crate::time::Timestamp;

/// Checks emitted plaintext against the truth, moving `pos` per direction.
struct Oracle {
    truth: PerDirection<Vec<u8>>,
    pos: PerDirection<usize>,
    exact: bool,
}

impl Oracle {
    fn check(&mut self, out: Vec<Emitted>) {
        for e in out {
            let pos = &mut self.pos[e.dir];
            match e.event {
                LayerEvent::Data(d) => {
                    if self.exact {
                        let truth = &self.truth[e.dir];
                        assert!(
                            truth.get(*pos..*pos + d.len()) == Some(&d[..]),
                            "{:?}: {} bytes at {} are not what was sent",
                            e.dir,
                            d.len(),
                            *pos
                        );
                    }
                    *pos += d.len();
                }
                LayerEvent::Gap(n) => *pos += n as usize,
                _ => {}
            }
        }
    }
}

/// Runs `data` (the fuzz target's input format, above) through a `TlsLayer`, panicking on
/// any broken promise.
pub fn check(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    ctx.tls_settings.enabled = true;
    ctx.tls_settings.keys_final = mode & 4 == 0;
    ctx.tls_settings.pickup_trial = true;
    let mut layer = TlsLayer::new();
    let mut ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    if mode & 1 == 1 {
        // Raw: arbitrary bytes, split at the first byte of each chunk.
        let conv = testing::tls13(0x1301, None, false, &testing::exchange());
        ctx.keys.add(&conv.entries);
        let mut out = Vec::new();
        for (i, chunk) in rest.chunks(97).enumerate() {
            let dir = if i % 2 == 0 {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            layer.on_data(&mut ctx, &conn(), dir, chunk, ts, &mut out);
            assert!(layer.mem_bytes() < mem_bound());
        }
        return;
    }
    // Structured: [suite byte][payload len][payload][ops...]
    let (suite_byte, conv, ops) = testing::fuzz_conversation(rest);
    let tls13 = suite_byte & 0x80 == 0;
    let with_keys = mode & 2 == 0;
    if with_keys {
        ctx.keys.add(&conv.entries);
    }
    // The streams each direction carried, and how far each was delivered.
    let mut streams = PerDirection::<Vec<u8>>::default();
    for (dir, bytes) in &conv.segments {
        streams[*dir].extend_from_slice(bytes);
    }
    let key_update = tls13 && suite_byte & 0x40 != 0;
    let cbc = !tls13 && usize::from(suite_byte & 0x7f) % testing::FUZZ_SUITES12.len() >= 3;
    // The gap estimates are exact for AEAD records of application data. A TLS 1.2 loss
    // may take the encrypted Finished (a handshake record in the application epoch), and a
    // TLS 1.3 one a KeyUpdate: after such damage the offsets are estimates.
    let mut oracle = Oracle {
        truth: conv.plaintext.clone(),
        pos: PerDirection::default(),
        exact: !cbc,
    };
    let mut at = PerDirection::<usize>::default();
    let mut damaged = false;
    let mut ops = ops.iter();
    while let Some(&op) = ops.next() {
        let dir = if op & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let n = usize::from(ops.next().copied().unwrap_or(0)) * 7 + 1;
        let stream = &streams[dir];
        let from = at[dir];
        let to = (from + n).min(stream.len());
        let mut out = Vec::new();
        match (op >> 1) % 8 {
            // Deliver, mostly.
            0..=4 => layer.on_data(&mut ctx, &conn(), dir, &stream[from..to], ts, &mut out),
            5 => {
                damaged = true;
                oracle.exact &= tls13 && !key_update;
                layer.on_gap(&mut ctx, &conn(), dir, (to - from) as u64, ts, &mut out);
            }
            6 => {
                damaged = true;
                oracle.exact &= tls13 && !key_update;
                let mut bytes = stream[from..to].to_vec();
                if let Some(b) = bytes.last_mut() {
                    *b ^= 0x40;
                }
                layer.on_data(&mut ctx, &conn(), dir, &bytes, ts, &mut out);
            }
            // A tick delivers nothing: the direction's bytes stay to come.
            _ => {
                ts = ts + std::time::Duration::from_millis(u64::from(op) * 40);
                layer.on_tick(&mut ctx, ts, &mut out);
                oracle.check(out);
                continue;
            }
        }
        at[dir] = to;
        oracle.check(out);
        assert!(layer.mem_bytes() < mem_bound(), "{}", layer.mem_bytes());
    }
    // The rest, undamaged.
    for dir in [Direction::ToServer, Direction::ToClient] {
        let mut out = Vec::new();
        let from = at[dir];
        layer.on_data(&mut ctx, &conn(), dir, &streams[dir][from..], ts, &mut out);
        oracle.check(out);
    }
    if with_keys && !damaged && ctx.tls_settings.keys_final {
        for dir in [Direction::ToServer, Direction::ToClient] {
            assert_eq!(
                oracle.pos[dir],
                conv.plaintext[dir].len(),
                "{dir:?} incomplete"
            );
        }
    }
}
