#!/usr/bin/env bash
# Side-by-side speed and memory on two kinds of capture of SIZE_MB each: real traffic
# (nginx serving wrk and curl in network namespaces, captured with tcpdump:
# scripts/bench-real-capture.sh) and the generator's (httshark-gen). On each: the floor (a
# bare libpcap pcap_next_ex loop, scripts/bench-floor.c), httshark HAR + CSV with one and
# two workers, CSV only, and tshark as HttShark runs it (capped at TSHARK_CAP seconds).
# Checks httshark's transaction count against the ground truth and writes the tables into
# docs/benchmarks.md (between the <!-- bench --> markers; the rest of the file is kept).
#
#   scripts/bench.sh [SIZE_MB]      (default 300; needs root for the namespaces)
#
# Captures are cached in $BENCH_DIR (default target/bench) by size: a rerun only times.
# httshark writes its HAR and CSV files in a folder of its own under $BENCH_OUT (default /dev/shm,
# so that what is timed is httshark and not the disk's write-back, which on a shared
# machine depends on everyone else's writes; set BENCH_OUT to a disk folder to include it).
# TSHARK=0 leaves tshark out.
# Each variant runs RUNS times (default 3), interleaved (round 1: every variant, round 2:
# ...), so a burst of other load hits all of them alike; the table gives the median wall
# time (and the best: on a VM whose host hands back memory lazily, a large write now and
# then stalls on fresh pages, dd alike, which the best run is free of) and CPU time, and the
# largest peak RSS (/usr/bin/time -v).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-300}
runs=${RUNS:-3}
tshark_cap=${TSHARK_CAP:-300}
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
# Absolute: httshark puts relative output paths under -output-folder.
work=$(realpath "$work")
bin=${HTTSHARK_BIN:-./target/release/httshark}
# A folder of our own inside it: removed between runs and at the end.
bench_out=${BENCH_OUT:-/dev/shm}/httshark-bench-$$
trap 'rm -rf "$bench_out"' EXIT
mkdir -p "$bench_out"

if [ -z "${HTTSHARK_BIN:-}" ]; then nice -n 10 cargo build --release --quiet --bins; fi
floor="$work/floor"
if [ ! -x "$floor" ] || [ scripts/bench-floor.c -nt "$floor" ]; then
  cc -O2 -o "$floor" scripts/bench-floor.c -lpcap
fi

gen="$work/gen-${size}mb.pcap"
if [ ! -f "$gen" ]; then
  ./target/release/httshark-gen --out "$gen.tmp" --seed 42 --size-mb "$size" --expected "$gen.expected.tsv" >/dev/null
  mv "$gen.tmp" "$gen"
fi
real="$work/real-${size}mb.pcap"
if [ ! -f "$real" ]; then
  scripts/bench-real-capture.sh "$size" "$real.tmp" "${BENCH_NET:-83}"
  mv "$real.tmp.truth" "$real.truth"; mv "$real.tmp" "$real"
fi

# One timed run: appends "secs cpu_secs rss_kb exit" to $work/t/NAME.
timed() {
  local name=$1; shift
  local v="$work/t/$name.v"
  sync
  local rc=0
  /usr/bin/time -v -o "$v" "$@" > "$work/t/$name.stdout" 2> "$work/t/$name.stderr" || rc=$?
  awk -v rc="$rc" -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i] }
    /User time/ { u = $2 } /System time/ { k = $2 } /Maximum resident set size/ { m = $2 }
    END { printf "%.3f %.3f %d %d", s, u + k, m, rc }' "$v" >> "$work/t/$name"
  # httshark's own split of its CPU time by stage (its summary's "CPU:" line), or "- - -".
  local stages
  stages=$(sed -nE 's/^httshark: CPU: capture ([0-9.]+) s, .*worker[s]? ([0-9.]+) s, outputs ([0-9.]+) s$/\1 \2 \3/p' \
    "$work/t/$name.stderr" | tail -1)
  echo " ${stages:-- - -}" >> "$work/t/$name"
}

# Bytes the last HAR + CSV run wrote (0 before one ran).
written() { cat "$work/t/written" 2>/dev/null || echo 0; }

# NAME_SUFFIX CAPTURE: every variant, RUNS rounds interleaved, then tshark once.
variants=(floor har-csv-w1 write-floor har-csv-w2 csv-only csv-only-w2)
# BASE_BIN: another httshark build (say, before a change) run in the same rounds.
base=${BASE_BIN:-}
if [ -n "$base" ]; then variants+=(base-har-csv-w1 base-har-csv-w2 base-csv-only base-csv-only-w2); fi
bench_capture() {
  local tag=$1 cap=$2 out=$bench_out
  rm -rf "$work/t"; mkdir -p "$work/t"
  local stats=(-sites-stats-file "$out/statistics.csv" -requests-sizes-stats-file "$out/requests_sizes.csv"
    -responses-sizes-stats-file "$out/responses_sizes.csv")
  for r in $(seq "$runs"); do
    for v in "${variants[@]}"; do
      rm -rf "$out"; mkdir -p "$out"
      local b=$bin
      [ "${v#base-}" != "$v" ] && b=$base
      case ${v#base-} in
        floor) timed "$v" "$floor" "$cap" ;;
        har-csv-w1) timed "$v" "$b" -file "$cap" -hosts '' -output-folder "$out" \
          -har-processors file,sites-stats,transactions-sizes "${stats[@]}" -workers 1
          # What it wrote: the write floor below writes as many bytes.
          du -sb "$out" | cut -f1 > "$work/t/written" ;;
        # The kernel's share of writing that much into the output folder: one dd of as
        # many bytes (1 MiB blocks), no encoding at all.
        write-floor) timed "$v" dd if=/dev/zero of="$out/written" bs=1M \
          count=$(( $(written) / 1048576 )) status=none ;;
        har-csv-w2) timed "$v" "$b" -file "$cap" -hosts '' -output-folder "$out" \
          -har-processors file,sites-stats,transactions-sizes "${stats[@]}" -workers 2 ;;
        csv-only) timed "$v" "$b" -file "$cap" -hosts '' -output-folder "$out" \
          -har-processors sites-stats "${stats[@]}" ;;
        csv-only-w2) timed "$v" "$b" -file "$cap" -hosts '' -output-folder "$out" \
          -har-processors sites-stats "${stats[@]}" -workers 2 ;;
      esac
      echo "bench: $tag round $r $v: $(tail -1 "$work/t/$v")"
    done
  done
  if [ "${TSHARK:-1}" != 0 ] && command -v tshark >/dev/null; then
    timed tshark timeout "$tshark_cap" tshark -r "$cap" -d tcp.port==80,http -Y http -T json \
      -e frame.time_epoch -e tcp.stream -e http.request -e http.request.method -e http.request.version \
      -e http.request.uri.path -e http.request.uri.query -e http.request.line -e http.file_data \
      -e http.response -e http.response.version -e http.response.code -e http.response.line
    echo "bench: $tag tshark: $(tail -1 "$work/t/tshark")"
  fi
  rm -rf "$out"
}

# The table rows of the last bench_capture: median wall and CPU time, largest RSS.
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
table() {
  local bytes=$1 fl fc flb
  fl=$(awk '{print $1}' "$work/t/floor" | median)
  flb=$(awk '{print $1}' "$work/t/floor" | sort -n | head -1)
  fc=$(awk '{print $2}' "$work/t/floor" | median)
  echo "| program | wall s: median (best) | × floor (wall): median (best) | CPU s | × floor (CPU) | CPU s by stage: capture / workers / outputs | MB/s (wall) | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  for v in "${variants[@]}" tshark; do
    [ -f "$work/t/$v" ] || continue
    local secs best cpu kb rc label
    secs=$(awk '{print $1}' "$work/t/$v" | median)
    best=$(awk '{print $1}' "$work/t/$v" | sort -n | head -1)
    cpu=$(awk '{print $2}' "$work/t/$v" | median)
    kb=$(awk '$3 > m { m = $3 } END { print m + 0 }' "$work/t/$v")
    rc=$(awk '$4 != 0 { r = $4 } END { print r + 0 }' "$work/t/$v")
    local split=""
    if [ "$(awk '{print $5}' "$work/t/$v" | tail -1)" != "-" ]; then
      split=$(for f in 5 6 7; do awk -v f=$f '{print $f}' "$work/t/$v" | median; done |
        awk '{ printf "%s%.2f", (NR > 1 ? " / " : ""), $1 }')
    fi
    case $v in
      floor) label="floor: bare libpcap \`pcap_next_ex\` loop" ;;
      write-floor) label="write floor: \`dd\` of as many bytes as HAR + CSV wrote ($(( $(written) / 1000000 )) MB) into its folder" ;;
      har-csv-w1) label="httshark HAR + CSV, \`-workers 1\`" ;;
      har-csv-w2) label="httshark HAR + CSV, \`-workers 2\`" ;;
      csv-only) label="httshark CSV only (\`-har-processors sites-stats\`)" ;;
      csv-only-w2) label="httshark CSV only, \`-workers 2\`" ;;
      base-*) label="BASE_BIN: $(echo "$v" | sed 's/^base-//; s/har-csv-w\(.\)/HAR + CSV, `-workers \1`/; s/csv-only-w2/CSV only, `-workers 2`/; s/csv-only/CSV only/')" ;;
      tshark) label="tshark as HttShark runs it"
        [ "$rc" = 124 ] && label="$label (stopped at the ${tshark_cap} s cap)" ;;
    esac
    awk -v n="$label" -v s="$secs" -v m="$best" -v c="$cpu" -v f="$fl" -v fb="$flb" -v fc="$fc" -v b="$bytes" \
      -v k="$kb" -v sp="$split" \
      'BEGIN { r = (f > 0) ? sprintf("%.1f", s / f) : "n/a"; rb = (fb > 0) ? sprintf("%.1f", m / fb) : "n/a"
        rc = (fc > 0) ? sprintf("%.1f", c / fc) : "n/a"
        printf "| %s | %.2f (%.2f) | %s (%s) | %.2f | %s | %s | %.0f | %.0f |\n", n, s, m, r, rb, c, rc, sp,
          (s > 0 ? b / 1e6 / s : 0), k / 1024 }'
  done
}
# From the summary line "httshark: transactions: N (A answered, U unanswered, ...)".
counter() {
  sed -nE 's/^httshark: transactions: ([0-9]+) \(([0-9]+) answered, ([0-9]+) unanswered.*/\1 \2 \3/p' "$2" |
    awk -v f="$1" '{ print (f == "transactions") ? $1 : (f == "answered") ? $2 : $3 }' | tail -1
}

section="$work/section.md"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "<!-- bench -->"
  echo "## Side by side (\`scripts/bench.sh $size\`)"
  echo
  echo "Made by \`scripts/bench.sh $size\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(uname -m)), page cache warm."
  echo "httshark: \`-hosts '' -har-processors file,sites-stats,transactions-sizes\` (HAR + CSV) or"
  echo "\`-har-processors sites-stats\` (CSV only; one worker). Each variant ran $runs times, interleaved;"
  echo "wall and CPU (user + system, all threads) times are medians, peak RSS the largest (\`/usr/bin/time -v\`);"
  echo "the best wall time beside the median (a VM's host may stall a large write on fresh memory, \`dd\` alike)."
  echo "Under other load wall time stretches with the wait for a core; CPU time much less so: compare both."
  [ -n "$base" ] && echo "Rows marked BASE_BIN ran \`$base\` in the same rounds (a build to compare with)."
  echo "tshark ran once, capped at ${tshark_cap} s. httshark's output folder: \`$(df --output=fstype "$bench_out" | tail -1)\`"
  echo "($([ -n "${BENCH_OUT:-}" ] && echo "under $BENCH_OUT" || echo "under /dev/shm: the disk's write-back speed is not in the figures"))."
} > "$section"
for kind in real gen; do
  if [ $kind = real ]; then cap=$real; else cap=$gen; fi
  bytes=$(stat -c %s "$cap")
  bench_capture "$kind" "$cap"
  tx=$(counter transactions "$work/t/har-csv-w1.stderr")
  unanswered=$(counter unanswered "$work/t/har-csv-w1.stderr")
  tx2=$(counter transactions "$work/t/har-csv-w2.stderr")
  {
    echo
    if [ $kind = real ]; then
      client=$(awk '/^client_exchanges/ {print $2}' "$real.truth")
      logged=$(awk '/^nginx_logged/ {print $2}' "$real.truth")
      dropped=$(awk '/^tcpdump_dropped/ {print $2}' "$real.truth")
      answered=$(counter answered "$work/t/har-csv-w1.stderr")
      echo "### Real traffic: $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB"
      echo
      echo "nginx serving wrk (8 keep-alive connections: gzip pages sent chunked, 200 KB downloads, POST uploads,"
      echo "small JSON) and curl rounds beside it, in network namespaces, captured with tcpdump (kernel drops: $dropped)."
      echo "Clients completed $client exchanges; nginx logged $logged: the difference is wrk's requests in flight"
      echo "when a round stopped (answered on the wire or not, never counted by wrk), so the exact count lies between."
      echo "httshark: ${tx:-?} transactions, $answered answered, ${unanswered:-?} unanswered"
      if [ "${answered:-0}" -ge "$client" ] && [ "${answered:-0}" -le "$logged" ]; then
        echo "(answered within [clients, nginx]: consistent);"
      else
        echo "(**answered outside [clients, nginx]**);"
      fi
      echo "\`-workers 2\`: ${tx2:-?} transactions."
    else
      expected=$(($(wc -l < "$gen.expected.tsv") - 1))
      echo "### Generated: $(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }') MB"
      echo
      echo "\`httshark-gen --seed 42 --size-mb $size\`: the generator wrote $expected transactions; httshark reported"
      echo "${tx:-?} ($([ "${tx:-}" = "$expected" ] && echo equal || echo "**differs**")), \`-workers 2\` ${tx2:-?}."
    fi
    echo
    table "$bytes"
  } >> "$section"
done
{
  echo
  echo "Load average before and after: $load_before; $(cut -d' ' -f1-3 /proc/loadavg) (other work shared the cores)."
  echo "<!-- /bench -->"
} >> "$section"

doc=docs/benchmarks.md
if [ -f "$doc" ] && grep -q '^<!-- bench -->$' "$doc"; then
  { sed '/^<!-- bench -->$/,$d' "$doc"; cat "$section"; sed '1,/^<!-- \/bench -->$/d' "$doc"; } > "$doc.new"
else
  { echo "# Benchmarks"; echo; cat "$section"; [ -f "$doc" ] && { echo; cat "$doc"; }; } > "$doc.new"
fi
mv "$doc.new" "$doc"
cat "$section"
