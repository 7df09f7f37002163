//! The `redact` target: its input format and oracle are documented in
//! `httshark::fuzzing::redact` (src/fuzzing/redact.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/redact/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::redact::check(data));
