//! The `pipeline` target: its input format and oracle are documented in
//! `httshark::fuzzing::pipeline` (src/fuzzing/pipeline.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/pipeline/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::pipeline::check(data));
