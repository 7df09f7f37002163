//! The `keylog` target: its input format and oracle are documented in
//! `httshark::fuzzing::keylog` (src/fuzzing/keylog.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/keylog/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::keylog::check(data));
