//! The `h2_split` target: its input format (the `h2` target's) and oracle are documented
//! in `httshark::fuzzing::h2` (src/fuzzing/h2.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/h2_split/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::h2::check_split(data));
