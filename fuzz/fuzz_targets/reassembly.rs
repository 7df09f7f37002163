//! The `reassembly` target: its input format and oracle are documented in
//! `httshark::fuzzing::reassembly` (src/fuzzing/reassembly.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/reassembly/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::reassembly::check(data));
