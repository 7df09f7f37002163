//! The symmetric flow hash that routes both directions of a connection to one worker.

use std::net::{IpAddr, SocketAddr};

/// A hash of the connection that is the same for both directions, for routing a
/// connection's packets to one worker.
///
/// The two endpoints are put in a fixed order first, so (a, b) and (b, a) hash the same
/// input; then address words and ports are folded with a fixed-constant multiply-xorshift
/// mixer (the MurmurHash3 64-bit finalizer). No random seed: the same flow lands on the
/// same worker in every run, which keeps offline replays reproducible.
pub fn symmetric_flow_hash(a: &SocketAddr, b: &SocketAddr) -> u64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h = FLOW_HASH_SEED;
    for endpoint in [lo, hi] {
        let (ip, family) = match endpoint.ip() {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 4u64),
            IpAddr::V6(v6) => (u128::from(v6), 6u64),
        };
        h = fmix64(h ^ (ip >> 64) as u64);
        h = fmix64(h ^ ip as u64);
        h = fmix64(h ^ (u64::from(endpoint.port()) << 8 | family));
    }
    h
}

/// Any odd 64-bit constant works; this one is the golden ratio, a common choice.
const FLOW_HASH_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// MurmurHash3's 64-bit finalizer: every input bit affects every output bit.
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}
