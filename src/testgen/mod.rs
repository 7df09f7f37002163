//! Deterministic capture generator for tests, fuzz seeds and benchmarks: HTTP conversations
//! over TCP, written as pcap, with seeded segmentation, reordering, duplication and loss.

pub mod pcap;
pub mod rng;
pub mod tcp;
