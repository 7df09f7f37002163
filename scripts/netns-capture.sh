#!/usr/bin/env bash
# Real HTTP traffic in a pair of network namespaces made for the purpose, captured live.
#
#   netns-capture.sh OUT_DIR [CAPTURE_CMD...]
#
# Creates a server namespace with tests/live/server.py on 10.77.0.2:8080, connected by a
# veth pair to a client namespace (10.77.0.1), runs tests/live/clients.sh from the client
# side, and captures on the client's veth with CAPTURE_CMD (default: tcpdump writing
# OUT_DIR/capture.pcap). In CAPTURE_CMD, {IF} is replaced by the interface name and
# {OUT} by OUT_DIR; it runs inside the client namespace. Writes OUT_DIR/server.tsv (the
# server's log: the ground truth). Cleans up the namespaces whatever happens.
# Needs root and iproute2, python3, curl (tcpdump for the default capture).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "$1"); shift
mkdir -p "$out"
id=$$
srv=hs-srv-$id cli=hs-cli-$id
a=hsa$id b=hsb$id
cleanup() {
  [ -n "${cap_pid:-}" ] && kill -INT "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
  [ -n "${srv_pid:-}" ] && kill "$srv_pid" 2>/dev/null
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$srv"; ip netns add "$cli"
ip link add "$a" type veth peer name "$b"
ip link set "$a" netns "$cli"; ip link set "$b" netns "$srv"
ip -n "$cli" addr add 10.77.0.1/24 dev "$a"; ip -n "$srv" addr add 10.77.0.2/24 dev "$b"
for ns in "$cli" "$srv"; do ip -n "$ns" link set lo up; done
ip -n "$cli" link set "$a" up; ip -n "$srv" link set "$b" up
# Disable offloads so the capture sees wire-sized segments, as on a real NIC.
ip netns exec "$cli" ethtool -K "$a" tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$srv" ethtool -K "$b" tso off gso off gro off >/dev/null 2>&1 || true

: > "$out/server.tsv"
ip netns exec "$srv" python3 "$here/tests/live/server.py" 10.77.0.2 8080 "$out/server.tsv" &
srv_pid=$!
for _ in $(seq 50); do
  ip netns exec "$cli" bash -c 'exec 3<>/dev/tcp/10.77.0.2/8080' 2>/dev/null && break
  sleep 0.1
done

if [ $# -eq 0 ]; then set -- tcpdump -i {IF} -w {OUT}/capture.pcap -U -s 0 "tcp port 8080"; fi
cmd=()
for arg in "$@"; do arg=${arg//\{IF\}/$a}; cmd+=("${arg//\{OUT\}/$out}"); done
# The readiness probe above is a connection too: start capturing after it.
ip netns exec "$cli" "${cmd[@]}" > "$out/capture.stdout" 2> "$out/capture.stderr" &
cap_pid=$!
sleep 1.5
ip netns exec "$cli" "$here/tests/live/clients.sh" http://10.77.0.2:8080
sleep 1
kill -INT "$cap_pid" 2>/dev/null || true
wait "$cap_pid" 2>/dev/null || true
cap_pid=
echo "netns-capture: $(wc -l < "$out/server.tsv") exchanges logged in $out/server.tsv"
