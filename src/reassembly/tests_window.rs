//! The causal window's tests: release order, late and forced counts, and the in-order
//! shortcut against comparing every segment.

use super::*;

fn seg<'a>(
    from_client: bool,
    flags: &str,
    seq: u32,
    ack: u32,
    payload: &'a [u8],
) -> TcpSegment<'a> {
    let (c, s): (SocketAddr, SocketAddr) = (
        "10.0.0.1:40000".parse().unwrap(),
        "10.0.0.2:80".parse().unwrap(),
    );
    let (src, dst) = if from_client { (c, s) } else { (s, c) };
    TcpSegment {
        src,
        dst,
        seq,
        ack,
        flags: TcpFlags::from_letters(flags),
        payload,
        auth_option: false,
        timestamp: None,
        window: 1000,
    }
}

/// Pushes `segs` in the given order through a window of `limit` (`run`); the indices
/// of the segments in release order.
fn order(limit: usize, segs: &[(u64, TcpSegment<'_>)]) -> (Vec<u64>, ReassemblyCounters) {
    let capture: Vec<(u16, TcpSegment<'_>)> = segs.iter().map(|(_, s)| (0, *s)).collect();
    let (out, c) = run(&capture, None, limit);
    // The window reads capture positions (arrival order); the test names segments by
    // their place in the sender's order.
    (out.iter().map(|&(_, at)| segs[at as usize].0).collect(), c)
}

/// `s`'s ordering facts, as one connection's (the direction by the address order).
fn meta(s: &TcpSegment<'_>) -> Meta {
    Meta::of(s, s.src < s.dst)
}

static BYTES: [u8; 1400] = [b'x'; 1400];

/// Connection `k`'s packets in the order its ends sent them (client port 40000 + k):
/// handshake, a request in `req` segments, a response in `resp` segments with an ACK
/// every second one, FINs. Sequence numbers start at `isn` (near the wrap, say).
fn flow(k: u16, isn: (u32, u32), req: &[u16], resp: &[u16]) -> Vec<TcpSegment<'static>> {
    let c: SocketAddr = SocketAddr::from(([10, 0, 0, 1], 40000 + k));
    let s: SocketAddr = SocketAddr::from(([10, 0, 0, 2], 80));
    let mk = |from_client: bool, flags: &str, seq: u32, ack: u32, len: u16| {
        let mut t = seg(from_client, flags, seq, ack, &BYTES[..usize::from(len)]);
        (t.src, t.dst) = if from_client { (c, s) } else { (s, c) };
        t
    };
    let (mut cs, mut ss) = isn;
    let mut v = vec![mk(true, "S", cs, 0, 0)];
    cs = cs.wrapping_add(1);
    v.push(mk(false, "SA", ss, cs, 0));
    ss = ss.wrapping_add(1);
    v.push(mk(true, "A", cs, ss, 0));
    for &n in req {
        v.push(mk(true, "A", cs, ss, n));
        cs = cs.wrapping_add(u32::from(n));
    }
    for (i, &n) in resp.iter().enumerate() {
        v.push(mk(false, "A", ss, cs, n));
        ss = ss.wrapping_add(u32::from(n));
        if i % 2 == 1 {
            v.push(mk(true, "A", cs, ss, 0));
        }
    }
    v.push(mk(false, "AF", ss, cs, 0));
    ss = ss.wrapping_add(1);
    v.push(mk(true, "AF", cs, ss, 0));
    cs = cs.wrapping_add(1);
    v.push(mk(false, "A", ss, cs, 0));
    v
}

/// The window over `capture` (connection, segment) as a worker runs it (what was due
/// before a packet goes before it is pushed), holding only the segments of `only`
/// when given (a worker that has only those connections sees every capture position
/// through its ticks). The (connection, position) of each segment in release order.
fn run(
    capture: &[(u16, TcpSegment<'_>)],
    only: Option<u16>,
    limit: usize,
) -> (Vec<(u16, u64)>, ReassemblyCounters) {
    let mut w = CausalWindow::default();
    let mut c = ReassemblyCounters::default();
    let mut out = Vec::new();
    let conn_of = |i: u64| capture[i as usize].0;
    for (pos, (k, s)) in capture.iter().enumerate() {
        let pos = pos as u64;
        let mut release = |w: &mut CausalWindow, c: &mut ReassemblyCounters, at: u64| {
            while let Some(h) = w.pop_full(at, limit, c) {
                out.push((conn_of(h.index), h.index));
                w.recycle(h);
            }
        };
        release(&mut w, &mut c, pos.saturating_sub(1));
        if only.is_none_or(|o| o == *k) {
            w.push(s, &[], pos, Timestamp(0), limit, &mut c);
        }
        release(&mut w, &mut c, pos);
    }
    while let Some(h) = w.pop(&mut c) {
        out.push((conn_of(h.index), h.index));
    }
    (out, c)
}

/// Initial sequence numbers: any, near the wrap, or in a narrow range that
/// connections share (so that one connection's numbers could be read as another's
/// cause, which the window must not do).
fn isn() -> impl proptest::strategy::Strategy<Value = u32> {
    use proptest::prelude::*;
    prop_oneof![any::<u32>(), Just(u32::MAX - 3), 1000u32..1100]
}

proptest::proptest! {
    /// Several connections interleaved, then two packets at most five places apart
    /// swapped: every pair TCP orders comes out in that order, nothing is counted late
    /// or forced, and each connection's segments come out in the order they do when
    /// its worker holds no other connection (the window decides per connection).
    #[test]
    fn connections_interleaved_come_out_in_causal_order_each_as_if_alone(
        flows in proptest::collection::vec(
            (
                isn(),
                isn(),
                proptest::collection::vec(1u16..1400, 1..3),
                proptest::collection::vec(1u16..1400, 1..7),
            ),
            1..5,
        ),
        picks in proptest::collection::vec(0usize..4, 0..200),
        swap in (0usize..1000, 1usize..6),
    ) {
        use proptest::prelude::*;
        // Interleave: each pick takes the next packet of a connection (round robin
        // over the ones left when picks run out).
        let mut queues: Vec<std::collections::VecDeque<TcpSegment<'static>>> = flows
            .iter()
            .enumerate()
            .map(|(k, (a, b, req, resp))| flow(k as u16, (*a, *b), req, resp).into())
            .collect();
        let mut capture = Vec::new();
        let mut picks = picks.into_iter();
        while queues.iter().any(|q| !q.is_empty()) {
            let live: Vec<usize> = (0..queues.len()).filter(|&k| !queues[k].is_empty()).collect();
            let k = live[picks.next().unwrap_or(capture.len()) % live.len()];
            capture.push((k as u16, queues[k].pop_front().unwrap()));
        }
        let sent = capture.clone();
        let (i, d) = swap;
        let i = i % capture.len();
        let j = (i + d).min(capture.len() - 1);
        capture.swap(i, j);
        // Capture position of each sent packet.
        let at: Vec<usize> = (0..sent.len())
            .map(|x| if x == i { j } else if x == j { i } else { x })
            .collect();

        let (mixed, c) = run(&capture, None, CAUSAL_WINDOW);
        prop_assert_eq!(mixed.len(), capture.len());
        prop_assert_eq!((c.causal_window_late, c.causal_window_forced), (0, 0));
        let out_pos = |x: usize| mixed.iter().position(|&(_, p)| p == at[x] as u64).unwrap();
        for a in 0..sent.len() {
            for b in 0..sent.len() {
                if sent[a].0 == sent[b].0
                    && must_precede(&meta(&sent[a].1), &meta(&sent[b].1))
                {
                    prop_assert!(out_pos(a) < out_pos(b), "{} before {}: {:?}", a, b, mixed);
                }
            }
        }
        let mut reorders = 0;
        for k in 0..flows.len() as u16 {
            let (alone, ck) = run(&capture, Some(k), CAUSAL_WINDOW);
            let mine: Vec<_> = mixed.iter().filter(|&&(o, _)| o == k).copied().collect();
            prop_assert_eq!(&alone, &mine, "connection {}", k);
            reorders += ck.causal_reorders;
        }
        prop_assert_eq!(reorders, c.causal_reorders);
    }
}

/// One step of a worker's window: a segment pushed (with the releases around it, as
/// `on_segment_in` does), or a pipeline tick, or a quiet moment.
#[derive(Clone, Debug)]
enum Step {
    /// (4-tuple, from the client, flags, seq, ack, payload length, positions skipped)
    Push(u8, bool, u8, u32, u32, u16, u8),
    /// Ticks back `0` positions and `1` ms.
    Tick(u8, u8),
    Aged(u8),
}

/// Every release of a window (compared in full, or with the in-order shortcut) over
/// `steps`: (position, counters at the time), then the 4-tuple entries left.
fn replay(steps: &[Step], limit: usize, compare_all: bool) -> (Vec<(u64, u64, u64, u64)>, usize) {
    let mut w = CausalWindow {
        compare_all,
        ..CausalWindow::default()
    };
    let mut c = ReassemblyCounters::default();
    let mut out = Vec::new();
    let mut pos = 0u64;
    let ms = |p: u64| Timestamp(i64::try_from(p).unwrap() * 1_000_000);
    let mut note = |h: Held, c: &ReassemblyCounters, w: &mut CausalWindow| {
        out.push((
            h.index,
            c.causal_reorders,
            c.causal_window_late,
            c.causal_window_forced,
        ));
        w.recycle(h);
    };
    let payload = [b'x'; 1400];
    for step in steps {
        match *step {
            Step::Push(t, from_client, flags, seq, ack, len, skip) => {
                pos += 1 + u64::from(skip);
                // Three 4-tuples, and a connection to itself.
                let client = SocketAddr::from(([10, 0, 0, 1], 40000 + u16::from(t % 4)));
                let server = if t % 4 == 3 {
                    client
                } else {
                    SocketAddr::from(([10, 0, 0, 2], 80))
                };
                let (src, dst) = if from_client {
                    (client, server)
                } else {
                    (server, client)
                };
                let s = TcpSegment {
                    src,
                    dst,
                    seq,
                    ack,
                    flags: TcpFlags {
                        syn: flags & 1 != 0,
                        ack: flags & 2 != 0,
                        fin: flags & 4 != 0,
                        rst: flags & 8 != 0,
                    },
                    payload: &payload[..usize::from(len)],
                    auth_option: false,
                    timestamp: None,
                    window: 1000,
                };
                while let Some(h) = w.pop_full(pos - 1, limit, &mut c) {
                    note(h, &c, &mut w);
                }
                w.push(&s, &[], pos, ms(pos), limit, &mut c);
                while let Some(h) = w.pop_full(pos, limit, &mut c) {
                    note(h, &c, &mut w);
                }
            }
            Step::Tick(back, before) => {
                let tick = ms(pos.saturating_sub(u64::from(before)));
                while let Some(h) =
                    w.pop_at_tick(pos - u64::from(back).min(pos), tick, limit, &mut c)
                {
                    note(h, &c, &mut w);
                }
            }
            Step::Aged(later) => {
                let now = ms(pos + u64::from(later) * 20);
                while let Some(h) = w.pop_aged(now, &mut c) {
                    note(h, &c, &mut w);
                }
            }
        }
    }
    while let Some(h) = w.pop(&mut c) {
        note(h, &c, &mut w);
    }
    (out, w.tuples.live())
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    // Numbers from a narrow range (so that they meet, tie and cross), near the wrap,
    // or anywhere.
    // Or about the shortcut's bounds away (`in_order.rs`: 2^24, 2^28).
    let near = |d: u32| {
        let at = 1000u32.wrapping_add(d);
        at.wrapping_sub(20)..at.wrapping_add(40)
    };
    let num = prop_oneof![
        8 => 1000u32..1040,
        1 => u32::MAX - 20..=u32::MAX,
        1 => near(1 << 24),
        1 => near(0u32.wrapping_sub(1 << 24)),
        1 => near(1 << 28),
        2 => any::<u32>(),
    ];
    prop_oneof![
        20 => (
            0u8..4,
            any::<bool>(),
            prop_oneof![Just(2u8), Just(2), Just(2), Just(1), Just(3), Just(6), Just(10), 0u8..16],
            num.clone(),
            num,
            prop_oneof![Just(0u16), 1u16..20, Just(1400)],
            prop_oneof![8 => Just(0u8), 1 => 1u8..80],
        )
            .prop_map(|(t, d, f, s, a, l, k)| Step::Push(t, d, f, s, a, l, k)),
        1 => (0u8..20, 0u8..30).prop_map(|(b, t)| Step::Tick(b, t)),
        1 => (0u8..10).prop_map(Step::Aged),
    ]
}

/// An in-order exchange, numbers rising as TCP sends them, with some steps replaced
/// by arbitrary ones: what the shortcut is for, and where it must step aside.
fn mostly_in_order() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
    use proptest::prelude::*;
    (
        proptest::collection::vec((0u8..3, any::<bool>(), 0u16..1400, any::<bool>()), 1..150),
        proptest::collection::vec((0usize..150, step()), 0..6),
        any::<u32>(),
    )
        .prop_map(|(plan, wild, isn)| {
            let mut next = [[isn; 2]; 3];
            let mut steps: Vec<Step> = plan
                .into_iter()
                .map(|(t, from_client, len, ack)| {
                    let (d, o) = (usize::from(from_client), usize::from(!from_client));
                    let k = usize::from(t);
                    let seq = next[k][d];
                    next[k][d] = seq.wrapping_add(u32::from(len));
                    let flags = if ack { 2 } else { 0 };
                    Step::Push(t, from_client, flags, seq, next[k][o], len.min(1400), 0)
                })
                .collect();
            for (at, s) in wild {
                if !steps.is_empty() {
                    let at = at % steps.len();
                    steps[at] = s;
                }
            }
            steps
        })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1500))]
    /// The in-order shortcut (`in_order.rs`) changes nothing: with and without it the
    /// window releases the same segments in the same order and counts the same, for
    /// any segments (forged numbers, ties, the wrap, RSTs, a connection to itself,
    /// ticks and quiet moments, windows past the shortcut's limit).
    #[test]
    fn the_in_order_shortcut_releases_exactly_what_comparing_every_segment_does(
        steps in proptest::prop_oneof![
            proptest::collection::vec(step(), 0..120),
            mostly_in_order(),
        ],
        limit in proptest::prop_oneof![
            proptest::strategy::Just(CAUSAL_WINDOW),
            1usize..6,
            proptest::strategy::Just(24usize),
            proptest::strategy::Just(25usize),
        ],
    ) {
        let (fast, live) = replay(&steps, limit, false);
        let (full, _) = replay(&steps, limit, true);
        proptest::prop_assert_eq!(&fast, &full);
        // Entries out of the window are freed: never more than the window spans.
        proptest::prop_assert!(live <= 4, "{} 4-tuple entries", live);
    }
}

/// A connection's in-order packets: handshake, request, response, FINs.
fn conn() -> Vec<(u64, TcpSegment<'static>)> {
    vec![
        (0, seg(true, "S", 100, 0, b"")),
        (1, seg(false, "SA", 500, 101, b"")),
        (2, seg(true, "A", 101, 501, b"")),
        (3, seg(true, "A", 101, 501, b"GET / HTTP/1.1\r\n\r\n")),
        (4, seg(false, "A", 501, 119, b"HTTP/1.1 200 OK\r\n")),
        (5, seg(false, "A", 518, 119, b"Content-Length: 0\r\n\r\n")),
        (6, seg(false, "AF", 539, 119, b"")),
        (7, seg(true, "AF", 119, 540, b"")),
        (8, seg(false, "A", 540, 120, b"")),
    ]
}

#[test]
fn every_swap_within_the_window_is_undone() {
    let clean = conn();
    let want: Vec<u64> = (0..clean.len() as u64).collect();
    for i in 0..clean.len() {
        for j in i + 1..clean.len().min(i + 7) {
            let mut s = clean.clone();
            s.swap(i, j);
            let (got, c) = order(CAUSAL_WINDOW, &s);
            // Two pure ACKs (2, 8) or the two segments that carry no order between
            // them may legitimately stay swapped; the ones TCP orders may not.
            let pos = |x: u64| got.iter().position(|&g| g == x).unwrap();
            for a in 0..clean.len() {
                for b in 0..clean.len() {
                    if must_precede(&meta(&clean[a].1), &meta(&clean[b].1)) {
                        assert!(pos(a as u64) < pos(b as u64), "swap {i},{j}: {got:?}");
                    }
                }
            }
            assert_eq!(got.len(), want.len());
            assert_eq!(c.causal_window_late, 0, "swap {i},{j}");
        }
    }
}

#[test]
fn the_handshake_and_request_come_before_what_depends_on_them() {
    let c = conn();
    let m = |i: usize| meta(&c[i].1);
    assert!(must_precede(&m(0), &m(1)), "SYN before SYN-ACK");
    assert!(must_precede(&m(0), &m(3)), "SYN before the client's data");
    assert!(must_precede(&m(1), &m(2)), "SYN-ACK before the ACK of it");
    assert!(must_precede(&m(3), &m(4)), "request before response");
    assert!(must_precede(&m(5), &m(6)), "last data before the FIN");
    assert!(
        must_precede(&m(2), &m(3)),
        "the handshake's ACK before data at its seq"
    );
    assert!(!must_precede(&m(3), &m(2)));
    assert!(!must_precede(&m(2), &m(2)), "a duplicate ACK");
    assert!(!must_precede(&m(4), &m(3)));
    assert!(!must_precede(&m(3), &m(3)), "a duplicate");
}

#[test]
fn a_retransmission_is_late_only_while_its_acknowledgment_is_remembered() {
    // Data, the server's ACK of it, `quiet` pure ACKs from the client, the data again.
    let late_after = |quiet: usize| {
        let mut s = vec![
            (0, seg(true, "A", 101, 501, b"0123456789")),
            (1, seg(false, "A", 501, 111, b"")),
        ];
        for i in 0..quiet {
            s.push((2 + i as u64, seg(true, "A", 111, 501, b"")));
        }
        s.push((2 + quiet as u64, seg(true, "A", 101, 501, b"0123456789")));
        order(2, &s).1.causal_window_late
    };
    // A window of 2 still holds the ACK: the data goes before it.
    assert_eq!(late_after(1), 0);
    // It remembers released segments 4 positions back: the ACK at 1 until position 5.
    assert_eq!(late_after(2), 1);
    assert_eq!(late_after(3), 1);
    assert_eq!(late_after(4), 0, "the ACK was forgotten");
}

#[test]
fn wider_reordering_is_counted_late_and_cycles_are_forced() {
    let mut s = conn();
    // The response (4) captured 4 places before its request (3): beyond a window of 2.
    let req = s.remove(3);
    s.insert(6, req);
    let (_, c) = order(2, &s);
    assert!(c.causal_window_late >= 1);
    let (got, c) = order(CAUSAL_WINDOW, &s);
    assert!(got.iter().position(|&g| g == 3) < got.iter().position(|&g| g == 4));
    assert_eq!((c.causal_window_late, c.causal_window_forced), (0, 0));
    assert!(c.causal_reorders >= 1);
    // Forged: each acknowledges the other's data.
    let cyc = vec![
        (0, seg(true, "A", 100, 510, b"0123456789")),
        (1, seg(false, "A", 500, 110, b"0123456789")),
    ];
    let (got, c) = order(CAUSAL_WINDOW, &cyc);
    assert_eq!((got, c.causal_window_forced), (vec![0, 1], 1));
}
