//! The `hosts` target: its input format and oracle are documented in
//! `httshark::fuzzing::hosts` (src/fuzzing/hosts.rs), the same code `tests/fuzz_replay.rs`
//! runs on stable over `fuzz/regressions/hosts/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::fuzzing::hosts::check(data));
