#!/usr/bin/env bash
# Side-by-side speed and memory on one generated capture: a bare libpcap read loop (the
# baseline), httshark (HAR files + statistics), and tshark driven the way HttShark drives it.
# Writes docs/benchmarks.md. Usage: scripts/bench.sh [SIZE_MB] (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-300}
work=${BENCH_DIR:-target/bench}
mkdir -p "$work"
# Absolute: httshark puts relative output paths under -output-folder.
work=$(realpath "$work")
cap="$work/bench-${size}mb.pcap"

cargo build --release --quiet --bins --example readloop
if [ ! -f "$cap" ]; then
  ./target/release/httshark-gen --out "$cap" --seed 42 --size-mb "$size" --expected "$work/bench-${size}mb.expected.tsv"
fi
bytes=$(stat -c %s "$cap")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')

# measure NAME CMD... : best wall time of 3 runs (1 for slow peers) and peak RSS.
results=()
measure() {
  local name=$1 runs=$2; shift 2
  local best="" rss=0
  for _ in $(seq "$runs"); do
    sync
    /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" > "$work/$name.stdout" 2> "$work/$name.stderr" || {
      echo "bench: $name failed:"; tail -5 "$work/$name.stderr"; return 1; }
    read -r secs kb < "$work/time.txt"
    if [ -z "$best" ] || awk -v a="$secs" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$secs; fi
    [ "$kb" -gt "$rss" ] && rss=$kb
  done
  results+=("$name|$best|$rss")
  echo "bench: $name ${best}s peak RSS $((rss / 1024)) MiB"
}

# End to end: HAR files and the CSV statistics.
procs=${HTTSHARK_PROCESSORS:-file,sites-stats,transactions-sizes}
stats=(-sites-stats-file "$work/out/statistics.csv" -requests-sizes-stats-file "$work/out/requests_sizes.csv"
  -responses-sizes-stats-file "$work/out/responses_sizes.csv")
measure readloop 3 ./target/release/examples/readloop "$cap"
rm -rf "$work/out"; mkdir -p "$work/out"
measure httshark 3 ./target/release/httshark -file "$cap" -hosts :80,:8080 -output-folder "$work/out" \
  -har-processors "$procs" "${stats[@]}"
if [ "$(nproc)" -gt 1 ]; then
  measure httshark-2workers 3 ./target/release/httshark -file "$cap" -hosts :80,:8080 -output-folder "$work/out" \
    -har-processors "$procs" "${stats[@]}" -workers 2
fi
tx=$(grep -E '^httshark: transactions ' "$work/httshark.stderr" | awk '{print $NF}' || true)
expected_tx=$(($(wc -l < "$work/bench-${size}mb.expected.tsv") - 1))
if command -v tshark >/dev/null; then
  measure tshark 1 tshark -r "$cap" -d tcp.port==80,http -Y http -T json -e frame.time_epoch -e tcp.stream \
    -e http.request -e http.request.method -e http.request.version -e http.request.uri.path \
    -e http.request.uri.query -e http.request.line -e http.file_data -e http.response \
    -e http.response.version -e http.response.code -e http.response.line
fi

base=$(echo "${results[0]}" | cut -d'|' -f2)
{
  echo "# Benchmarks"
  echo
  echo "Made by \`scripts/bench.sh $size\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m)."
  echo "Capture: \`httshark-gen --seed 42 --size-mb $size\` ($mb MB, $expected_tx transactions, Ethernet/IPv4, ports 80 and 8080)."
  echo "httshark runs with \`-har-processors $procs\` (HAR files and CSV statistics)."
  echo "Wall time is the best of 3 runs (tshark: 1); RSS is the peak resident set size."
  echo "Ratios are against the bare libpcap read loop (\`examples/readloop.rs\`) on the same file."
  echo
  echo "| program | seconds | MB/s | × read loop | peak RSS MiB |"
  echo "|---|---|---|---|---|"
  for r in "${results[@]}"; do
    IFS='|' read -r name secs kb <<< "$r"
    awk -v n="$name" -v s="$secs" -v b="$base" -v m="$mb" -v k="$kb" \
      'BEGIN { printf "| %s | %.2f | %.0f | %.1f | %.0f |\n", n, s, (s > 0 ? m / s : 0), (b > 0 ? s / b : 0), k / 1024 }'
  done
  echo
  echo "httshark reported ${tx:-?} transactions; the generator wrote $expected_tx."
  cat <<'NOTES'
## Reading the figures

- The goal is end to end (HAR + CSV) within 3× of the bare read loop on one core; this
  build is not there yet (see the ratio column). It is an order of magnitude faster than
  tshark driven the way HttShark drives it, with a fraction of its memory, and it reports
  every transaction the generator wrote.
- Where the time goes (`perf record` on this capture, one worker, share of all samples):
  the kernel's side of writing the HAR files (page cache, ext4; 300 MB out) about 15% and
  of reading the capture about 10%; gzip decoding 10%; copying body bytes (packet → body
  buffer, decoded body) about 10%; glibc malloc/free 8%; writing entry JSON (escaping,
  base64) 8%; the global memory budget's accounting (`mem_bytes`) about 1%. Decoding,
  reassembly and HTTP parsing share the rest. By thread: workers 45%, processor thread
  37%, capture thread 17%.
- What changed since the first figures (1.20 s, 17×): HAR entries are written as JSON
  straight from the transaction (no `har` crate structs; body text escaped from the body
  buffer eight bytes at a time, clean runs copied whole, ASCII bodies read once with no
  separate UTF-8 pass); transactions go back to the worker that allocated them to be
  freed, and packet batches to the capture thread (a free from another thread took the
  owner's malloc arena lock: futex waits were a tenth of the run); HAR files are written
  with writev straight from the held entries; each worker reuses one inflate state.
- Next steps: the kernel's side of writing the files alone is a sixth of the run, work
  the read loop does not do, so 3× needs the remaining user-space work cut to the bone:
  header fields as one allocation per head instead of two Strings per field, body
  buffers sized from Content-Length (the memory budget must then charge the reservation),
  decoding straight into the body's final buffer (today: inflate window → step buffer →
  layer output → body). A faster allocator (mimalloc) was tried before these changes: no
  clear gain, twice the memory, so it was left out.
- With 2 workers on this 2-core machine the capture thread, the workers and the processor
  thread share two cores, so a second worker does not help here; sharding is designed for
  machines with cores to spare.
- Memory stays bounded whatever the capture size: the capture is streamed, and everything
  the traffic can grow (connections, buffered segments, bodies, pending requests,
  transactions in flight, HAR entries awaiting export) is charged to `-memory-limit`
  (default 512 MiB); hostile captures built to break that are measured in
  [robustness.md](robustness.md#hostile-traffic).
NOTES
  # The TLS section belongs to scripts/bench-tls.sh: kept as it is.
  if [ -f docs/benchmarks.md ] && grep -q '^<!-- bench-tls -->$' docs/benchmarks.md; then
    echo
    sed -n '/^<!-- bench-tls -->$/,/^<!-- \/bench-tls -->$/p' docs/benchmarks.md
  fi
} > docs/benchmarks.md.new
mv docs/benchmarks.md.new docs/benchmarks.md
cat docs/benchmarks.md
