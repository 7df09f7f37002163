//! The `tls_split` target: its input format and oracle are documented in
//! `httshark::fuzzing::tls_split` (src/fuzzing/tls_split.rs), the same code
//! `tests/fuzz_replay.rs` runs on stable over `fuzz/regressions/tls_split/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::tls_split::check(data));
