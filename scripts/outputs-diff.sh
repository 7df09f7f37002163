#!/usr/bin/env bash
# Behaviour-unchanged check for refactors: runs two httshark binaries on the same captures
# with every processor on and compares everything they write (HAR files, CSVs, sampled HAR,
# NDJSON, console text, and the end-of-run counters: the `-counters` table, passed only to a
# binary whose -help lists it).
#
#   scripts/outputs-diff.sh OLD_BIN NEW_BIN [CAPTURE...]
#
# Without captures: fixtures/*.pcap, ../shared/corpus/pcaps/* (when present) and a generated
# capture of $GEN_MB MB (default 100, made once with the NEW tree's httshark-gen into $WORK).
# Exit 0 when every output is byte-identical; otherwise the differing files are listed.
# Counter lines that exist in only one run are reported but allowed (a refactor may add
# counters); a counter present in both runs with different values is a difference, and so
# is one that went back to zero, unless named in ALLOW_GONE="name ...". Counters of waits
# between threads depend on scheduling, not on the capture: their values are not compared
# (SCHEDULING_COUNTERS, below).
# PROCESSORS="sites-stats,transactions-sizes" compares the run where no output reads
# bodies (they are counted, not stored: a path of its own in the HTTP layer).
set -euo pipefail
cd "$(dirname "$0")/.."
old=${1:?OLD_BIN}; new=${2:?NEW_BIN}; shift 2
work=${WORK:-${CARGO_TARGET_DIR:-target}/outputs-diff}
mkdir -p "$work"
# Absolute: httshark puts relative output paths under -output-folder.
work=$(realpath "$work")
caps=("$@")
if [ ${#caps[@]} -eq 0 ]; then
  caps=(fixtures/*.pcap)
  [ -d ../shared/corpus/pcaps ] && caps+=(../shared/corpus/pcaps/*) || echo "outputs-diff: ../shared/corpus absent, corpus skipped" >&2
  gen="$work/generated-${GEN_MB:-100}mb.pcap"
  if [ ! -f "$gen" ]; then
    gen_bin=${GEN_BIN:-$(dirname "$new")/httshark-gen}
    "$gen_bin" --out "$gen" --seed 7 --size-mb "${GEN_MB:-100}" >/dev/null
  fi
  caps+=("$gen")
fi

# The counter table: since issue 13 the summary is for people and the table comes with
# -counters; a binary from before prints it always and does not know the flag. Asked of
# each binary's own -help, so either side may be the older one.
# (grep without -q reads all of -help: no SIGPIPE for pipefail to see.)
counters_flag() { if "$1" -help 2>/dev/null | grep -- '--counters' >/dev/null; then echo -counters; fi; }

run() { # BIN CAPTURE OUTDIR
  local bin=$1 cap=$2 out=$3
  local flags; flags=$(counters_flag "$bin")
  rm -rf "$out"; mkdir -p "$out"
  # shellcheck disable=SC2086 # $flags is empty or one word
  "$bin" $flags -file "$cap" -hosts '' -output-folder "$out/har" \
    -har-processors "${PROCESSORS:-file,sites-stats,transactions-sizes,sampled-transactions,ndjson,console}" \
    -head=true -body=true -sample-transactions-rate 5 \
    -sites-stats-file "$out/statistics.csv" \
    -requests-sizes-stats-file "$out/requests_sizes.csv" \
    -responses-sizes-stats-file "$out/responses_sizes.csv" \
    -sampled-transactions-folder "$out/sampled" -ndjson-file "$out/entries.ndjson" \
    >"$out/console.txt" 2>"$out/stderr.txt" || echo "exit $?" >>"$out/stderr.txt"
  # The console's per-transaction duration (issue 13: `(29 bytes, 12.3 ms)`) is left out
  # of the comparison, so a binary from before it compares equal on everything else.
  sed -E 's/ bytes, [0-9.]+ m?s\)/ bytes)/' "$out/console.txt" >"$out/console.cmp"
  # The summary's counters, one "name value" per line, sorted; the rest of stderr is not compared.
  grep -E '^httshark: [a-z0-9_]+ +[0-9]+$' "$out/stderr.txt" | awk '{print $2, $3}' | sort >"$out/counters.txt" || true
}

# Waits between threads: how often a queue was full depends on the scheduler.
scheduling=${SCHEDULING_COUNTERS:-worker_queue_full_waits output_queue_full_waits memory_limit_in_flight_waits}
fail=0
for cap in "${caps[@]}"; do
  name=$(basename "$cap"); name=${name%.*}
  run "$old" "$cap" "$work/old/$name"
  run "$new" "$cap" "$work/new/$name"
  if ! diff -rq --exclude=stderr.txt --exclude=counters.txt --exclude=console.txt "$work/old/$name" "$work/new/$name" >/dev/null; then
    echo "DIFF $name:"; diff -rq --exclude=stderr.txt --exclude=counters.txt --exclude=console.txt "$work/old/$name" "$work/new/$name" | sed 's/^/  /' || true
    fail=1
  fi
  # Counters present in both with different values (those of scheduling aside).
  changed=$(join "$work/old/$name/counters.txt" "$work/new/$name/counters.txt" |
    awk -v skip=" $scheduling " '$2 != $3 && index(skip, " " $1 " ") == 0')
  if [ -n "$changed" ]; then echo "COUNTERS $name:"; echo "$changed" | sed 's/^/  /'; fail=1; fi
  # Counters that went back to zero (the summary leaves zeros out), unless allowed by name.
  gone=$(join -v1 "$work/old/$name/counters.txt" "$work/new/$name/counters.txt" | awk -v allow=" ${ALLOW_GONE:-} $scheduling " 'index(allow, " " $1 " ") == 0')
  if [ -n "$gone" ]; then echo "COUNTERS gone $name:"; echo "$gone" | sed 's/^/  /'; fail=1; fi
  allowed=$(join -v1 "$work/old/$name/counters.txt" "$work/new/$name/counters.txt" | awk -v allow=" ${ALLOW_GONE:-} " 'index(allow, " " $1 " ") > 0')
  [ -n "$allowed" ] && { echo "counters gone (allowed by ALLOW_GONE) $name:"; echo "$allowed" | sed 's/^/  /'; }
  added=$(join -v2 "$work/old/$name/counters.txt" "$work/new/$name/counters.txt" | awk '$2 != 0')
  [ -n "$added" ] && { echo "new counters (allowed) $name:"; echo "$added" | sed 's/^/  /'; }
  true
done
n=${#caps[@]}
if [ $fail -eq 0 ]; then echo "outputs-diff: $n captures, every output byte-identical"; else echo "outputs-diff: differences found"; fi
exit $fail
