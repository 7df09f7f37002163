#!/usr/bin/env bash
# Rewrites docs/counters.md from the counters' doc comments in the code (`crate::counters!`).
# tests/counters_doc.rs fails while the committed file differs from what the code renders.
set -euo pipefail
cd "$(dirname "$0")/.."
HTTSHARK_BLESS=1 cargo test --profile ci --test counters_doc counters_md_is_generated_from_the_code
git --no-pager diff --stat -- docs/counters.md
