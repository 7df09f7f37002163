//! The `tls_split` target, a differential oracle for the TLS layer (issue 16): the same
//! bytes fed whole, byte by byte and at pseudo-random split points (seeded by the input)
//! must give the same plaintext, gaps and FINs, in the same order and at the same packet
//! times, and the same counters. It must hold on whatever the fuzzer makes of the records,
//! so the conversation is mutated before it is fed.
//!
//! Input: byte 0 picks the mode: bit 0 = raw, bit 1 = without the keys, bit 2 = keys not
//! final (a live capture: records wait for their keys until a tick gives up), bit 3 = no
//! mid-stream pickup trial, bit 4 = the connection closes at the end without its FINs
//! (`Layer::on_end`, then `on_close`) instead of ending with them.
//! - Raw: the rest are arbitrary bytes, in chunks of 97 alternating direction, the keys of
//!   `testing::exchange` in the store.
//! - Structured (the `tls` target's layout up to the ops, so its seeds serve): a suite
//!   byte and a length byte pick a conversation with known secrets (`tls::testing`: TLS
//!   1.3 or 1.2, the suite, a KeyUpdate, an application payload of 97 x length bytes from
//!   the input), its segments one event each. Then edits of 5 bytes `[k, i, p, p, v]`
//!   on event `i` (mod their number), at position `p` (u16): 0 flips bits (`^ v`), 1 loses
//!   it (a gap of its length), 2 truncates it at `p`, 3 inserts up to `p % 256` raw
//!   bytes from the input (direction `v & 1`), 4 inserts a tick (`v` x 40 ms), 5 a FIN,
//!   6 duplicates it, 7 swaps it with the next.
//!
//! Oracle: the three runs emit the same events (adjacent `Data` of a direction at one
//! time merged, as are adjacent gaps) and the same `TlsCounters` and `ProtoCounters`; the
//! layer's memory stays bounded; an unedited conversation with its keys comes out whole
//! (so the runs compared are not all empty).

use std::time::Duration;

use super::Split;
use crate::http::HttpLimits;
use crate::model::{Direction, PerDirection};
use crate::proto::{Emitted, Layer, LayerEvent, ProtoCtx};
use crate::time::Timestamp;
use crate::tls::testing::{self, conn, layer_mem_bound as mem_bound};
use crate::tls::TlsLayer;

/// Edits applied at most (each is 5 input bytes; more would only slow the target).
const MAX_EDITS: usize = 64;

#[derive(Clone, Debug)]
enum Event {
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
    Tick(u64),
    Fin(Direction),
}

fn dir(bit: u8) -> Direction {
    if bit & 1 == 0 {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

/// What an input describes: the events, the keys to load, and the plaintext an unedited
/// conversation must come out as (`None` when edited, raw or keyless).
struct Plan {
    mode: u8,
    events: Vec<Event>,
    entries: Vec<crate::keylog::Entry>,
    expect: Option<PerDirection<Vec<u8>>>,
}

fn plan(data: &[u8]) -> Option<Plan> {
    let (&mode, rest) = data.split_first()?;
    if mode & 1 == 1 {
        let conv = testing::tls13(0x1301, None, false, &testing::exchange());
        let events = rest
            .chunks(97)
            .enumerate()
            .map(|(i, c)| Event::Data(dir(i as u8), c.to_vec()))
            .collect();
        return Some(Plan {
            mode,
            events,
            entries: conv.entries,
            expect: None,
        });
    }
    let (_, conv, mut ops) = testing::fuzz_conversation(rest);
    let mut events: Vec<Event> = conv
        .segments
        .iter()
        .map(|(d, b)| Event::Data(*d, b.clone()))
        .collect();
    let mut edited = false;
    for _ in 0..MAX_EDITS {
        let Some((op, after)) = ops.split_first_chunk::<5>() else {
            break;
        };
        ops = after;
        let [k, i, p0, p1, v] = *op;
        let i = usize::from(i) % events.len().max(1);
        let p = usize::from(u16::from_be_bytes([p0, p1]));
        edited = true;
        match k % 8 {
            0 => {
                if let Some(Event::Data(_, b)) = events.get_mut(i) {
                    let at = p % b.len().max(1);
                    if let Some(x) = b.get_mut(at) {
                        *x ^= v;
                    }
                }
            }
            1 => {
                if let Some(Event::Data(d, b)) = events.get(i) {
                    events[i] = Event::Gap(*d, b.len() as u64);
                }
            }
            2 => {
                if let Some(Event::Data(_, b)) = events.get_mut(i) {
                    b.truncate(p % (b.len() + 1));
                }
            }
            3 => {
                let n = (p % 256).min(ops.len());
                let (raw, after) = ops.split_at(n);
                ops = after;
                events.insert(i, Event::Data(dir(v), raw.to_vec()));
            }
            4 => events.insert(i, Event::Tick(u64::from(v) * 40)),
            5 => events.insert(i, Event::Fin(dir(v))),
            6 => {
                if let Some(e) = events.get(i).cloned() {
                    events.insert(i, e);
                }
            }
            _ => {
                if i + 1 < events.len() {
                    events.swap(i, i + 1);
                }
            }
        }
    }
    let expect = (!edited && mode & 6 == 0).then_some(conv.plaintext);
    Some(Plan {
        mode,
        events,
        entries: conv.entries,
        expect,
    })
}

/// A normalised event: adjacent `Data` (and adjacent gaps) of one direction at one
/// packet time merged, so pieces cut differently compare equal.
fn push(norm: &mut Vec<Emitted>, e: Emitted) {
    if let Some(last) = norm.last_mut() {
        if last.dir == e.dir && last.ts == e.ts {
            match (&mut last.event, &e.event) {
                (LayerEvent::Data(a), LayerEvent::Data(b)) => {
                    a.extend_from_slice(b);
                    return;
                }
                (LayerEvent::Gap(a), LayerEvent::Gap(b)) => {
                    *a = a.saturating_add(*b);
                    return;
                }
                _ => {}
            }
        }
    }
    if !matches!(&e.event, LayerEvent::Data(d) if d.is_empty()) {
        norm.push(e);
    }
}

/// Feeds the plan to a `TlsLayer`: the normalised events and the counters' `Debug` text.
fn run(plan: &Plan, split: Split) -> (Vec<Emitted>, String) {
    let mut ctx = ProtoCtx::new(HttpLimits::default());
    ctx.tls_settings.enabled = true;
    ctx.tls_settings.keys_final = plan.mode & 4 == 0;
    ctx.tls_settings.pickup_trial = plan.mode & 8 == 0;
    if plan.mode & 2 == 0 {
        ctx.keys.add(&plan.entries);
    }
    let mut layer = TlsLayer::new();
    let mut ts = Timestamp::from_secs_nanos(1_700_000_000, 0);
    let mut rng = split.rng();
    let mut finished = [false; 2];
    let mut norm = Vec::new();
    let mut out = Vec::new();
    for e in &plan.events {
        match e {
            Event::Data(d, bytes) => {
                if finished[d.index()] {
                    continue;
                }
                let mut rest = &bytes[..];
                while !rest.is_empty() {
                    let n = split.piece_len(&mut rng, rest.len());
                    let (piece, after) = rest.split_at(n);
                    layer.on_data(&mut ctx, &conn(), *d, piece, ts, &mut out);
                    assert!(layer.mem_bytes() < mem_bound(), "{}", layer.mem_bytes());
                    rest = after;
                }
            }
            Event::Gap(d, len) => {
                if !finished[d.index()] && *len > 0 {
                    layer.on_gap(&mut ctx, &conn(), *d, *len, ts, &mut out);
                }
            }
            Event::Tick(ms) => {
                ts = ts + Duration::from_millis(*ms);
                layer.on_tick(&mut ctx, ts, &mut out);
            }
            Event::Fin(d) => {
                if !finished[d.index()] {
                    finished[d.index()] = true;
                    layer.on_fin(&mut ctx, &conn(), *d, ts, &mut out);
                }
            }
        }
        for e in out.drain(..) {
            push(&mut norm, e);
        }
    }
    // The end of the capture: time enough for any wait to end, then both FINs, or (bit 4)
    // the connection closes without them, as `ProtoConn::on_close` ends a layer.
    ts = ts + Duration::from_secs(3600);
    layer.on_tick(&mut ctx, ts, &mut out);
    for d in [Direction::ToServer, Direction::ToClient] {
        if plan.mode & 16 != 0 {
            layer.on_end(&mut ctx, &conn(), d, ts, &mut out);
        } else if !finished[d.index()] {
            layer.on_fin(&mut ctx, &conn(), d, ts, &mut out);
        }
    }
    if plan.mode & 16 != 0 {
        layer.on_close(&mut ctx);
    }
    for e in out.drain(..) {
        push(&mut norm, e);
    }
    assert_eq!(
        ctx.tls.tls_resync_held_limit, 0,
        "the header scan held more than RESYNC_MAX_HELD"
    );
    let counters = format!(
        "{:?} {:?} waiting={}",
        ctx.tls,
        ctx.counters,
        layer.waiting()
    );
    (norm, counters)
}

fn plaintext(events: &[Emitted]) -> PerDirection<Vec<u8>> {
    let mut p = PerDirection::<Vec<u8>>::default();
    for e in events {
        if let LayerEvent::Data(d) = &e.event {
            p[e.dir].extend_from_slice(d);
        }
    }
    p
}

fn compare(whole: &[Emitted], other: &[Emitted], how: &str) {
    assert_eq!(whole.len(), other.len(), "{how}: another number of events");
    for (i, (w, o)) in whole.iter().zip(other).enumerate() {
        assert_eq!(w, o, "{how}: event {i} differs");
    }
}

/// The `tls_split` target: whole, byte by byte and at random split points, the same
/// events and counters.
pub fn check(data: &[u8]) {
    let Some(plan) = plan(data) else { return };
    let (whole, counters) = run(&plan, Split::Whole);
    if let Some(expect) = &plan.expect {
        let got = plaintext(&whole);
        for d in [Direction::ToServer, Direction::ToClient] {
            assert!(got[d] == expect[d], "{d:?}: the unedited plaintext differs");
        }
    }
    let (bytes, bytes_counters) = run(&plan, Split::Bytes);
    compare(&whole, &bytes, "byte by byte");
    assert_eq!(counters, bytes_counters, "byte by byte: counters differ");
    // The seed from the input, so a finding replays; pieces up to 2..=64 bytes.
    let seed = data.iter().fold(0x9e37_79b9_7f4a_7c15u64, |a, &b| {
        (a ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let max = 2 + (seed >> 58) as usize;
    let (random, random_counters) = run(&plan, Split::Random { seed, max });
    let how = format!("random split (pieces up to {max})");
    compare(&whole, &random, &how);
    assert_eq!(counters, random_counters, "{how}: counters differ");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(mode: u8, suite: u8, edits: &[u8]) -> Vec<u8> {
        let mut v = vec![mode, suite, 1];
        v.extend(32..129u8);
        v.extend_from_slice(edits);
        v
    }

    /// The runs compared are not empty: an unedited conversation with its keys comes out
    /// whole, fed whole and byte by byte.
    #[test]
    fn unedited_conversation_comes_out_whole() {
        for suite in [0x00, 0x41, 0x80, 0x83] {
            let p = plan(&input(0, suite, &[])).unwrap();
            let expect = p.expect.clone().expect("unedited");
            for split in [Split::Whole, Split::Bytes] {
                let (events, _) = run(&p, split);
                let got = plaintext(&events);
                assert_eq!(got[Direction::ToServer].len(), 97, "{suite:#x} {split:?}");
                assert!(got[Direction::ToServer] == expect[Direction::ToServer]);
                assert!(got[Direction::ToClient] == expect[Direction::ToClient]);
            }
            check(&input(0, suite, &[]));
        }
    }

    /// Edits change what comes out (a flipped byte fails a record), and the oracle holds.
    #[test]
    fn an_edit_is_applied_and_the_oracle_holds() {
        let data = input(0, 0, &[0, 3, 0, 40, 0x40]);
        let p = plan(&data).unwrap();
        assert!(p.expect.is_none());
        let (events, counters) = run(&p, Split::Whole);
        let clean = run(&plan(&input(0, 0, &[])).unwrap(), Split::Whole);
        assert_ne!((events, counters), clean);
        check(&data);
    }

    /// The comparison sees a piece out of place.
    #[test]
    #[should_panic(expected = "event 0 differs")]
    fn compare_fails_on_different_plaintext() {
        let e = |b: &[u8]| Emitted {
            dir: Direction::ToServer,
            event: LayerEvent::Data(b.to_vec()),
            ts: Timestamp::from_secs_nanos(1, 0),
        };
        let mut a = Vec::new();
        push(&mut a, e(b"ab"));
        push(&mut a, e(b"c"));
        let mut b = Vec::new();
        push(&mut b, e(b"a"));
        push(&mut b, e(b"bd"));
        compare(&a, &b, "test");
    }
}
