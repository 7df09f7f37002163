#!/usr/bin/env bash
# Load check of the live web view (issue 14): about RATE transactions/s for SECONDS live
# through a veth pair in two network namespaces (wrk -> a keep-alive asyncio server),
# captured by httshark with -ui and the file processor, with headless chromium attached
# to the view the whole time. Reports the achieved rate, kernel drops, the view's
# evictions and stream drops, and httshark's peak RSS (VmHWM).
#
# usage: sudo scripts/ui-load.sh [RATE] [SECONDS]     (defaults 5000 60; bounded by both)
# Needs root, iproute2, wrk, python3 with selenium, chromium, chromium-driver, and
# target/release/httshark (cargo build --release).
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-5000}
SECONDS_RUN=${2:-60}
BIN=target/release/httshark
[ -x "$BIN" ] || { echo "ui-load: build $BIN first (cargo build --release)" >&2; exit 2; }
TAG="uiL$$"
SRV="$TAG-srv" CLI="$TAG-cli" VA="${TAG}a" VB="${TAG}b"
ADDR=10.81.200.2 PORT=8080
WORK=$(mktemp -d)
cleanup() {
  [ -n "${HPID:-}" ] && kill -INT "$HPID" 2>/dev/null || true
  for p in ${SPID:-} ${BPID:-}; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  ip netns del "$SRV" 2>/dev/null || true
  ip netns del "$CLI" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ip netns add "$SRV"; ip netns add "$CLI"
ip link add "$VA" type veth peer name "$VB"
ip link set "$VA" netns "$CLI"; ip link set "$VB" netns "$SRV"
ip -n "$CLI" addr add 10.81.200.1/24 dev "$VA"; ip -n "$SRV" addr add "$ADDR/24" dev "$VB"
for ns_dev in "$CLI:$VA" "$SRV:$VB"; do
  ns=${ns_dev%%:*} dev=${ns_dev#*:}
  ip -n "$ns" link set lo up; ip -n "$ns" link set "$dev" up
  ip netns exec "$ns" ethtool -K "$dev" tso off gso off gro off >/dev/null 2>&1 || true
done
ip netns exec "$SRV" python3 scripts/ui-load-server.py "$ADDR" "$PORT" & SPID=$!
sleep 1
ip netns exec "$CLI" "$BIN" -device "$VA" -hosts "$ADDR:$PORT" -ui 127.0.0.1:8484 \
  -output-folder "$WORK/out" -export-interval 10s -counters 2>"$WORK/err" & HPID=$!
for _ in $(seq 1 100); do grep -q 'ui: open' "$WORK/err" 2>/dev/null && break; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*token=[0-9a-f]*' "$WORK/err")
TOKEN=${URL##*=}
sleep 1
ip netns exec "$CLI" python3 scripts/ui-load-browser.py "$URL" "$((SECONDS_RUN + 5))" & BPID=$!
sleep 4
# wrk: 2 threads, 50 connections, each waiting 50*1000/RATE ms between requests.
DELAY=$(python3 -c "print(max(0, 50 * 1000 / $RATE))")
cat >"$WORK/delay.lua" <<LUA
function delay() return $DELAY end
LUA
ip netns exec "$CLI" wrk -t2 -c50 -d"${SECONDS_RUN}s" -s "$WORK/delay.lua" "http://$ADDR:$PORT/load" | tee "$WORK/wrk"
sleep 2
HEALTH=$(ip netns exec "$CLI" curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8484/api/v1/health)
HWM=$(grep VmHWM "/proc/$HPID/status" | awk '{print $2" "$3}')
wait "$BPID" || true
BPID=
kill -INT "$HPID"; wait "$HPID" || true
HPID=
grep -E 'httshark: (transactions|kernel_dropped|interface_dropped|gaps|ui_evicted|ui_stream_dropped|ui_streams_stuck|har_entries_written) ' "$WORK/err" || true
echo "health at the end: $HEALTH"
echo "httshark peak RSS (VmHWM): $HWM"
echo "wrk: $(grep -E 'Requests/sec' "$WORK/wrk")"
