//! The `hpack` target: its input format and oracle are documented in
//! `httshark::fuzzing::hpack` (src/fuzzing/hpack.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/hpack/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::hpack::check(data));
