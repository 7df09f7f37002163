//! The `h2` target: its input format and oracle are documented in
//! `httshark::fuzzing::h2` (src/fuzzing/h2.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/h2/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::h2::check(data));
