//! The `decode` target: its input format and oracle are documented in
//! `httshark::fuzzing::decode` (src/fuzzing/decode.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/decode/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::decode::check(data));
