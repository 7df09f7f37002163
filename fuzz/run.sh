#!/usr/bin/env bash
# Runs one fuzz target with its settings: its dictionary and its -max_len (why each value:
# docs/robustness.md, "Targets"). Usage: fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
# Needs cargo-fuzz; RUSTC_BOOTSTRAP=1 lets a stable rustc take its -Zsanitizer=address.
# Prints libFuzzer's last status line and final stats; the full log goes to
# fuzz/logs/TARGET.log (git-ignored with the corpora).
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?target}
secs=${2:?seconds}
shift 2
case $target in
  decode)                 max_len=9019;   dict= ;;          # a jumbo frame + the link byte
  reassembly)             max_len=4096;   dict= ;;          # ~1,000 segment ops
  http|http_split)        max_len=16384;  dict=http.dict ;; # several messages, bodies past the keep limit
  pipeline)               max_len=262144; dict=http.dict ;; # one libpcap record at most 256 KiB
  tls|tls_split)          max_len=8192;   dict=tls.dict ;;
  h2|h2_split)            max_len=16384;  dict=h2.dict ;;
  hpack)                  max_len=8192;   dict=h2.dict ;;
  keylog)                 max_len=16384;  dict=keylog.dict ;;
  redact|body_select|hosts) max_len=4096; dict=strings.dict ;;  # command-line values
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
mkdir -p "corpus/$target" logs
args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1)
[ -n "$dict" ] && args+=(-dict="dict/$dict")
RUSTC_BOOTSTRAP=1 cargo fuzz run "$target" "corpus/$target" -- "${args[@]}" "$@" \
  > "logs/$target.log" 2>&1 && rc=0 || rc=$?
grep -E "INITED|^#[0-9]+[[:space:]]+DONE|stat::|SUMMARY|panicked|Test unit written" "logs/$target.log" || true
tail -1 "logs/$target.log"
exit $rc
