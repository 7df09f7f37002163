//! `TlsLayer` (issue 10) against its oracle: `httshark::tls::oracle` says what the input
//! format is and what is checked (the same code `tests/tls_fuzz_regressions.rs` replays on
//! stable).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| httshark::tls::oracle::check(data));
