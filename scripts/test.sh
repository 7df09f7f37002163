#!/usr/bin/env bash
# The project's test command (README "Run the tests"): formatting, lints, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
# --workspace: the product and the test capture generator (crates/httshark-gen), whose own
# unit tests pin its output.
cargo clippy --workspace --all-targets --quiet -- -D warnings
mkdir -p target
cargo test --profile ci --workspace --all-targets 2>&1 | tee target/test.log
# The core builds without libpcap (fuzzers and benches use that), and so do its tests: the
# tests that need the binary or libpcap are gated on the `capture` feature (Cargo.toml
# [[test]] required-features). A check, not a second optimised build: CI time stays small.
cargo check --no-default-features --all-targets --quiet
