#!/usr/bin/env bash
# Process attribution overhead (issue 15): the same replay captured live with
# -attribution=false and -attribution=true, side by side.
#
# A generated capture (httshark-gen, seed 42) is sent frame by frame onto one end of a
# veth pair inside a network namespace this script creates (tag "pab", deleted at the end);
# httshark captures on the other end. Its CPU time (user + system) and the packets it read
# give packets per CPU-second; the ratio of the two modes is the overhead. Every SYN of the
# replay is looked up (sock_diag; its addresses are not local, so each ends "remote"), so
# this is the look-up path's full cost, plus libpcap's immediate mode.
#
# Usage: scripts/attrib-bench.sh [SIZE_MB] [RUNS]   (as root; builds with --profile ci)
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-20}
runs=${2:-3}
bin=target/ci/httshark
gen=target/ci/httshark-gen
nice -n 10 cargo build --profile ci --bins >/dev/null 2>&1
work=$(mktemp -d)
ns="pab-$$"
cleanup() { ip netns del "$ns" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
cap="$work/replay.pcap"
"$gen" --out "$cap" --seed 42 --size-mb "$size" --expected "$work/expected.tsv" >/dev/null
ip netns add "$ns"
ip -n "$ns" link add pabA type veth peer name pabB
ip -n "$ns" link set lo up
ip -n "$ns" link set pabA up
ip -n "$ns" link set pabB up
# Sends every frame of a pcap file on an interface (AF_PACKET), as fast as it can.
cat > "$work/replay.py" <<'PY'
import socket, struct, sys, time
path, ifname = sys.argv[1:3]
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
with open(path, 'rb') as f:
    data = f.read()
endian = '<' if data[:4] in (b'\xd4\xc3\xb2\xa1', b'\x4d\x3c\xb2\xa1') else '>'
off, n, start = 24, 0, time.time()
while off + 16 <= len(data):
    _, _, incl, _ = struct.unpack(endian + 'IIII', data[off:off + 16])
    off += 16
    frame = data[off:off + incl]
    off += incl
    while True:
        try:
            s.send(frame)
            break
        except OSError:
            time.sleep(0.0005)
    n += 1
print(n, time.time() - start)
PY
echo "| mode | run | packets read | kernel dropped | transactions | look-ups | CPU s | packets per CPU-second |"
echo "|---|---|---|---|---|---|---|---|"
for run in $(seq "$runs"); do
  for mode in false true; do
    err="$work/err-$mode-$run"
    ip netns exec "$ns" /usr/bin/time -f "cpu %U %S" "$bin" -device pabB -hosts '' \
      -har-processors sites-stats -output-folder "$work/out" -attribution="$mode" \
      -stats-interval=1s -verbose=3 -buffer-size=256MiB 2>"$err" &
    pid=$!
    for _ in $(seq 300); do grep -q "httshark: stats " "$err" && break; sleep 0.05; done
    ip netns exec "$ns" python3 "$work/replay.py" "$cap" pabA >"$work/sent-$mode-$run"
    sleep 1.5
    kill -INT "$(pgrep -P "$pid" -x httshark)"
    wait "$pid" || true
    get() { awk -v k="$1" '$1=="httshark:" && $2==k {print $3}' "$err" | tail -1; }
    packets=$(get packets); dropped=$(get kernel_dropped); tx=$(get transactions)
    lookups=$(get attrib_lookups); lookups=${lookups:-0}
    cpu=$(awk '$1=="cpu" {print $2 + $3}' "$err")
    rate=$(awk -v p="$packets" -v c="$cpu" 'BEGIN {printf "%.0f", p / c}')
    echo "| attribution=$mode | $run | $packets | ${dropped:-0} | $tx | $lookups | $cpu | $rate |"
  done
done
