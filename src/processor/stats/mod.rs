//! Statistics helpers shared by the `sites-stats` and `transactions-sizes` processors:
//! what a site is (`group_by`), the latency histogram (`histogram`), and the interval,
//! CSV and error plumbing both processors use (`common`).
//!
//! What it does not do: implement `Processor` or write files itself.

pub mod common;
pub mod group_by;
pub mod histogram;
