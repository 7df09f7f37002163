//! The `http` target: its input format and oracle are documented in
//! `httshark::fuzzing::http` (src/fuzzing/http.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/http/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::http::check(data));
