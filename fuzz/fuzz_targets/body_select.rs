//! The `body_select` target: its input format and oracle are documented in
//! `httshark::fuzzing::body_select` (src/fuzzing/body_select.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/body_select/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::body_select::check(data));
