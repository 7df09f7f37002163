#!/usr/bin/env bash
# Hostile traffic and faults proof (issue 4): generates each attack of `httshark-gen hostile` at the
# issue's scale, runs httshark on it under /usr/bin/time, and records capture size, wall time,
# peak RSS, the memory-related counters of the exit summary and how many of the legitimate
# transactions interleaved with the attack came out exact. Writes a markdown table to stdout
# and to the results file; exits 1 when a legitimate transaction is missing or wrong, when a
# run fails, or when peak RSS exceeds the budget plus the fixed overhead.
#
# Usage: scripts/robustness.sh [--results FILE] [--legit N] [--quick] [KIND[=SCALE] ...]
#   --no-fault-tests: only the hostile captures (by default the fault tests run after them)
#   KIND: syn-flood pending endless-chunked huge-header pipelined ooo-window (default: all,
#   at the issue's scale: 1M SYNs, 100k pending, 2 GB chunked body, 10 MB header line, 10k
#   pipelined requests, 1000 out-of-order windows of 1 MB). --quick divides every scale by 100.
# Environment:
#   HTTSHARK_BIN, HTTSHARK_GEN   binaries (default target/release/{httshark,httshark-gen};
#                                built with `cargo build --release` when missing)
#   MEMORY_LIMIT                 budget passed as -memory-limit when httshark has the flag
#                                (default 64MiB); without the flag the documented default
#                                budget (512MiB) is the reference and nothing is passed
#   OVERHEAD_SLACK_MIB           allowance on top of the empty-capture RSS for the pipeline's
#                                packet batches on their way to the workers (default 16:
#                                Config::channel_capacity = 4 batches of at most 1 MiB
#                                per worker, for up to four workers)
#   RUN_TIMEOUT                  seconds per httshark run (default 900)
#   VMEM_LIMIT_KB                ulimit -v for each httshark run (default 8 GiB)
#   ROBUSTNESS_DIR               work folder (default: a fresh temp dir, removed at the end)
set -euo pipefail
cd "$(dirname "$0")/.."

results=docs/robustness-results.md
fault_tests=1
legit=100
quick=0
cases=()
while [ $# -gt 0 ]; do
  case "$1" in
    --results) results=$2; shift 2 ;;
    --legit) legit=$2; shift 2 ;;
    --quick) quick=1; shift ;;
    --no-fault-tests) fault_tests=0; shift ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) cases+=("$1"); shift ;;
  esac
done
declare -A default_scale=(
  [syn-flood]=1000000 [pending]=100000 [endless-chunked]=2000000000
  [huge-header]=10000000 [pipelined]=10000 [ooo-window]=1000
)
order=(syn-flood pending endless-chunked huge-header pipelined ooo-window)
[ ${#cases[@]} -eq 0 ] && cases=("${order[@]}")

bin=${HTTSHARK_BIN:-target/release/httshark}
gen=${HTTSHARK_GEN:-target/release/httshark-gen}
if [ ! -x "$bin" ] || [ ! -x "$gen" ]; then
  cargo build --release --quiet --bins
fi
if [ ! -x /usr/bin/time ]; then
  echo "robustness: /usr/bin/time is missing (apt-get install time)" >&2
  exit 2
fi
command -v python3 >/dev/null || { echo "robustness: python3 is needed" >&2; exit 2; }

work=${ROBUSTNESS_DIR:-}
if [ -z "$work" ]; then
  work=$(mktemp -d -t httshark-robustness.XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
timeout_s=${RUN_TIMEOUT:-900}
vmem_kb=${VMEM_LIMIT_KB:-8388608}
slack_mib=${OVERHEAD_SLACK_MIB:-16}

# The budget: -memory-limit when this build has it, else the issue's documented default.
to_bytes() {
  python3 -c '
import re, sys
m = re.fullmatch(r"(\d+)\s*(|B|KB|MB|GB|KiB|MiB|GiB)", sys.argv[1].strip())
if not m: sys.exit("bad size " + sys.argv[1])
mult = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}
print(int(m.group(1)) * mult[m.group(2)])' "$1"
}
if "$bin" --help 2>/dev/null | grep -q -- 'memory-limit'; then
  limit=${MEMORY_LIMIT:-64MiB}
  limit_args=(-memory-limit "$limit")
  budget_note="httshark has -memory-limit: every run uses \`-memory-limit $limit\`."
else
  limit=512MiB
  limit_args=()
  budget_note="This httshark build has NO -memory-limit flag: the runs use the per-item default limits only (docs/limits.md), and peak RSS is checked against the issue's default budget of 512 MiB."
fi
budget_kib=$(( $(to_bytes "$limit") / 1024 ))
echo "robustness: $budget_note" >&2

# The legitimate transactions: each ground-truth row must match one HAR entry exactly
# (same checks as tests/generated.rs). Prints "found expected" and the first mismatches.
cat > "$work/check_legit.py" <<'EOF'
import glob, json, os, sys
tsv, out = sys.argv[1], sys.argv[2]
rows = [l.rstrip("\n").split("\t") for l in open(tsv)][1:]
cols = "conn_index client server depth in_flight method host uri status req_head_len req_body_len req_wire_body_len req_framing resp_interim_len resp_head_len resp_body_len resp_wire_body_len resp_framing content_encoding".split()
entries = {}
for f in glob.glob(os.path.join(out, "**", "*.har"), recursive=True):
    for e in json.load(open(f))["log"]["entries"]:
        key = (f'{e.get("_clientIPAddress")}:{e.get("_clientPort")}', e.get("_depth", 0) - 1)
        entries.setdefault(key, []).append(e)
found, bad = 0, []
for r in rows:
    if len(r) < len(cols):
        continue
    t = dict(zip(cols, r))
    cands = entries.get((t["client"], int(t["depth"])), [])
    if not cands:
        bad.append(f'missing {t["method"]} {t["uri"]} client {t["client"]} depth {t["depth"]}')
        continue
    e = cands[0]
    req, resp = e["request"], e["response"]
    host = next((h["value"] for h in req.get("headers", []) if h["name"].lower() == "host"), "")
    url = req.get("url", "")
    rest = url.split("://", 1)[1] if "://" in url else url
    cut = min([i for i in (rest.find(c) for c in "/*?") if i >= 0], default=len(rest))
    target = e.get("_requestTarget") or rest[cut:]
    status = int(t["status"]) if t["status"] != "-" else 0
    want_wire = sum(int(t[c]) for c in ("req_head_len", "req_wire_body_len", "resp_interim_len", "resp_head_len", "resp_wire_body_len"))
    checks = [("method", req.get("method"), t["method"]), ("host", host, t["host"]),
              ("uri", target, t["uri"]), ("req headersSize", req.get("headersSize"), int(t["req_head_len"])),
              ("req bodySize", req.get("bodySize"), int(t["req_body_len"])),
              ("status", resp.get("status"), status),
              ("resp headersSize", resp.get("headersSize"), int(t["resp_head_len"])),
              ("content.size", resp.get("content", {}).get("size"), int(t["resp_body_len"])),
              ("_wireBytes", e.get("_wireBytes"), want_wire),
              ("anomalies", e.get("_anomalies", []), [])]
    wrong = [f"{n}: got {g!r} want {w!r}" for n, g, w in checks if g != w]
    if wrong:
        bad.append(f'{t["method"]} {t["uri"]} client {t["client"]}: ' + "; ".join(wrong))
    else:
        found += 1
print(found, len(rows))
for b in bad[:5]:
    print("  " + b, file=sys.stderr)
EOF

# The counters the table shows (every one whose name says it is about memory or a limit).
counter_re='memory_limit|evicted|ooo_limit|head_too_large|pending_limit|bodies_truncated|har_entries_dropped|^transactions$|^unanswered$|^connections_opened$'

# run NAME CAPTURE: one httshark run; sets rss_kib, wall, rc, counters.
run() {
  local name=$1 cap=$2 out="$work/out-$1"
  rm -rf "$out"
  mkdir -p "$out"
  set +e
  (
    ulimit -v "$vmem_kb"
    exec /usr/bin/time -f '%e %M' -o "$work/$name.time" timeout "$timeout_s" \
      "$bin" -file "$cap" -output-folder "$out" -hosts :80 "${limit_args[@]}"
  ) > "$work/$name.stdout" 2> "$work/$name.stderr"
  rc=$?
  set -e
  wall=? rss_kib=0
  read -r wall rss_kib < <(grep -E '^[0-9.]+ [0-9]+$' "$work/$name.time" | tail -1) || true
  counters=$(sed -n 's/^httshark: \([a-z_0-9]*\) \+\([0-9]\+\)$/\1 \2/p' "$work/$name.stderr" |
    awk -v re="$counter_re" '$1 ~ re { printf "%s%s=%s", sep, $1, $2; sep=", " }')
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# The fixed overhead: httshark on a capture with no packets.
"$gen" hostile syn-flood --scale 0 --legit 0 --out "$work/empty.pcap" 2>/dev/null
run empty "$work/empty.pcap"
[ "$rc" -eq 0 ] || { echo "robustness: httshark failed on an empty capture:"; cat "$work/empty.stderr"; exit 1; }
empty_kib=$rss_kib
overhead_kib=$((empty_kib + slack_mib * 1024))
ceiling_kib=$((budget_kib + overhead_kib))
echo "robustness: empty capture: peak RSS $(mib "$empty_kib") MiB; ceiling = budget $(mib "$budget_kib") + overhead $(mib "$overhead_kib") = $(mib "$ceiling_kib") MiB" >&2

rows=()
failed=0
add_row() { rows+=("$1"); echo "$1"; }
header="| case | scale | capture | wall | peak RSS | legit exact | counters | verdict |"
echo "$header"
echo "|---|---|---|---|---|---|---|---|"
# The legitimate traffic alone, for reference.
cases=(baseline "${cases[@]}")
for c in "${cases[@]}"; do
  kind=${c%%=*}
  if [ "$kind" = baseline ]; then
    scale=0; gkind=syn-flood
  else
    gkind=$kind
    [ -n "${default_scale[$kind]:-}" ] || { echo "robustness: unknown kind $kind" >&2; exit 2; }
    if [[ "$c" == *=* ]]; then scale=${c#*=}; else scale=${default_scale[$kind]}; fi
    [ "$quick" -eq 1 ] && scale=$((scale / 100))
  fi
  cap="$work/$kind.pcap"
  "$gen" hostile "$gkind" --scale "$scale" --legit "$legit" --out "$cap" \
    --expected "$work/$kind.expected.tsv" 2> "$work/$kind.gen"
  size=$(stat -c %s "$cap")
  run "$kind" "$cap"
  rm -f "$cap"
  verdict=ok
  if [ "$rc" -ne 0 ]; then
    case "$rc" in
      124) verdict="FAIL: timed out after ${timeout_s}s" ;;
      *) why=$(grep -m1 -E 'memory allocation|panicked|^httshark: (error|warning)' "$work/$kind.stderr" ||
             grep -v '^httshark: [a-z_0-9]* \+[0-9]*$' "$work/$kind.stderr" | tail -1 || true)
         verdict="FAIL: exit $rc ($(echo "$why" | cut -c1-100))" ;;
    esac
    failed=1
  fi
  read -r found expected < <(python3 "$work/check_legit.py" "$work/$kind.expected.tsv" "$work/out-$kind" 2> "$work/$kind.legit" || echo "0 ?")
  if [ "$found" != "$expected" ]; then
    verdict="FAIL: legit $found/$expected; $verdict"
    failed=1
    sed 's/^/robustness: /' "$work/$kind.legit" >&2
  fi
  if [ "${rss_kib:-0}" -gt "$ceiling_kib" ]; then
    verdict="FAIL: RSS over $(mib "$ceiling_kib") MiB; $verdict"
    failed=1
  fi
  rm -rf "$work/out-$kind"
  add_row "| $kind | $scale | $(awk -v b="$size" 'BEGIN { printf "%.1f MB", b / 1e6 }') | ${wall}s | $(mib "$rss_kib") MiB | $found/$expected | ${counters:--} | ${verdict%; ok} |"
done

{
  echo "<!-- written by scripts/robustness.sh on $(date -u +%Y-%m-%d); $(uname -m), $(nproc) cores -->"
  echo
  echo "$budget_note Fixed overhead: $(mib "$empty_kib") MiB (peak RSS on an empty capture) + ${slack_mib} MiB (the pipeline's bounded in-flight batches) = $(mib "$overhead_kib") MiB; ceiling $(mib "$ceiling_kib") MiB. $legit legitimate connections per case."
  echo
  echo "$header"
  echo "|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$results"
echo "robustness: table written to $results" >&2

# The faults of docs/robustness.md ("Faults"): seeded fault injection, corrupt capture files,
# output folder removed or full, signals (live ones in network namespaces: root), the memory
# budget's policy. They are tests with exact expectations; their per-seed lines are printed.
if [ "$fault_tests" = 1 ]; then
  echo "robustness: fault tests (cargo test --profile ci)" >&2
  log="$work/fault-tests.log"
  if cargo test --profile ci --quiet --test generated --test capture_corrupt --test output_faults \
      --test signals_stdin --test live_signals --test live_signals_netns --test memory_budget \
      --test hostile -- --nocapture --test-threads=1 > "$log" 2>&1; then
    grep -E '^seed [0-9]+: intact' "$log" | sed 's/^/robustness: fault injection /' >&2
    grep -E '^test result' "$log" | sed 's/^/robustness: /' >&2
  else
    grep -E '^(test .* FAILED|failures:|---- )' "$log" | sed 's/^/robustness: /' >&2
    echo "robustness: FAIL: fault tests (log: $log)" >&2
    failed=1
    trap - EXIT
  fi
fi
exit "$failed"
