#!/usr/bin/env bash
# Source-based coverage of one fuzz target over its corpus, restricted to the code the
# target is about. Usage: fuzz/coverage.sh TARGET [CORPUS_DIR]
# Needs cargo-fuzz and an llvm-profdata/llvm-cov of rustc's LLVM major version: the
# toolchain's llvm-tools component, or LLVM_BIN (default /usr/lib/llvm-22/bin, Debian's
# llvm-22 package; rustc 1.95 is LLVM 22). Writes fuzz/coverage/TARGET/{report,functions}.txt
# and prints the TOTAL line (regions, functions, lines covered).
set -euo pipefail
cd "$(dirname "$0")"
target=${1:?target}
corpus=${2:-corpus/$target}
llvm=${LLVM_BIN:-/usr/lib/llvm-22/bin}
case $target in
  decode)              files=(../src/wire) ;;
  reassembly)          files=(../src/reassembly) ;;
  http|http_split)     files=(../src/http) ;;
  h2)                  files=(../src/h2) ;;
  hpack)               files=(../src/h2/hpack) ;;
  tls)                 files=(../src/tls) ;;
  keylog)              files=(../src/keylog) ;;
  pipeline)            files=(../src/worker.rs ../src/wire ../src/reassembly ../src/proto ../src/http ../src/har) ;;
  redact)              files=(../src/transform/redact.rs) ;;
  body_select)         files=(../src/transform/body_select.rs) ;;
  hosts)               files=(../src/hosts.rs) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
RUSTC_BOOTSTRAP=1 cargo fuzz coverage -s none --llvm-path "$llvm" "$target" "$corpus" \
  > "coverage/$target.log" 2>&1 || { mkdir -p coverage; tail -20 "coverage/$target.log"; exit 1; }
# llvm-cov matches source files by their absolute paths, one by one.
mapfile -t srcs < <(for f in "${files[@]}"; do find "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" -name '*.rs'; done \
  | grep -Ev '/(\w+_)?tests?(_\w+)?\.rs$|/tests/|/testing\.rs$|/oracle\.rs$' | sort)
bin=$(find target -path "*coverage*/release/$target" -type f | head -1)
prof=coverage/$target/coverage.profdata
# (Test modules compiled into the library are left out: they are not what a target reaches.)
"$llvm/llvm-cov" report "$bin" -instr-profile="$prof" "${srcs[@]}" > "coverage/$target/report.txt"
"$llvm/llvm-cov" report "$bin" -instr-profile="$prof" -Xdemangler="$llvm/llvm-cxxfilt" --show-functions "${srcs[@]}" \
  | sed "s|$(cd .. && pwd)/||" > "coverage/$target/functions.txt"
grep TOTAL "coverage/$target/report.txt"
