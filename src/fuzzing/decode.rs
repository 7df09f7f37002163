//! `wire::decode` on arbitrary frames of every link type: the first byte picks the link
//! type, the rest is the frame. No panic; a decoded segment's payload lies inside the
//! frame; **differential**: the result is what the general way (etherparse for every
//! frame, `wire::decode_general`) gives, whether or not the fast path took the frame; and
//! the capture thread's routing key (`wire::tcp_endpoints`) is the decoded segment's
//! endpoints, or none when no segment is decoded.

use crate::wire::{decode, decode_general, tcp_endpoints, DecodeCounters, Decoded, LinkType};

/// Runs one input; panics when an invariant above breaks.
pub fn check(data: &[u8]) {
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let link = LinkType::ALL[pick as usize % LinkType::ALL.len()];
    let outcome = decode(link, frame);
    assert_eq!(
        outcome,
        decode_general(link, frame),
        "the fast path and etherparse differ"
    );
    let endpoints = match &outcome {
        Ok(Decoded::Tcp(seg)) => Some((seg.src, seg.dst)),
        _ => None,
    };
    assert_eq!(
        tcp_endpoints(link, frame),
        endpoints,
        "the routing key and the decoded segment differ"
    );
    if let Ok(Decoded::Tcp(seg)) = &outcome {
        let (start, end) = (
            frame.as_ptr() as usize,
            frame.as_ptr() as usize + frame.len(),
        );
        let p = seg.payload.as_ptr() as usize;
        assert!(
            seg.payload.is_empty() || (p >= start && p + seg.payload.len() <= end),
            "payload outside the frame"
        );
    }
    DecodeCounters::default().record(&outcome);
}
