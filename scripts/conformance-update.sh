#!/usr/bin/env bash
# Regenerates docs/conformance.md from the corpus conformance test. The test itself writes
# only under the target directory (`<target>/tmp/conformance.md`, the CARGO_TARGET_TMPDIR of
# integration tests), so a plain `cargo test` never dirties the checkout; this script runs it
# and copies the result into docs/. With --baseline it also replaces
# tests/conformance_baseline.tsv with the counts just measured (after an improvement).
set -euo pipefail
cd "$(dirname "$0")/.."
baseline=0
case "${1:-}" in
--baseline) baseline=1 ;;
"") ;;
*)
    echo "usage: $0 [--baseline]" >&2
    exit 2
    ;;
esac
# cargo knows the target directory (CARGO_TARGET_DIR, .cargo/config.toml, or ./target).
target=$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
tmp="${target:-target}/tmp"
# A stale table from an earlier run must not be copied if the test skips (no corpus).
rm -f "$tmp/conformance.md" "$tmp/conformance_baseline.new.tsv"
# The test fails on a regression but still writes its table: copy it either way, and
# report the test's status at the end.
status=0
cargo test --profile ci --test conformance -- --nocapture >/dev/null || status=$?
if [[ ! -f "$tmp/conformance.md" ]]; then
    echo "$tmp/conformance.md was not written (is ../shared/corpus or HTTSHARK_CORPUS there?)" >&2
    exit 1
fi
cp "$tmp/conformance.md" docs/conformance.md
echo "docs/conformance.md updated"
if ((baseline)); then
    cp "$tmp/conformance_baseline.new.tsv" tests/conformance_baseline.tsv
    echo "tests/conformance_baseline.tsv updated"
fi
exit "$status"
