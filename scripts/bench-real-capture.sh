#!/usr/bin/env bash
# Real HTTP traffic for scripts/bench.sh: nginx in one network namespace, wrk and curl in
# another, captured with tcpdump on the client's veth until the capture reaches SIZE_MB.
#
#   bench-real-capture.sh SIZE_MB OUT_PCAP [NET]
#
# NET is the second byte of the lab's 10.NET.0.0/24 network (default 83). The traffic:
# wrk on keep-alive connections (a Lua mix of gzip-compressed pages, which nginx sends
# chunked, 200 KB downloads, POST uploads of 2-60 KB, small JSON answers), and curl rounds
# beside it (several requests per connection, --compressed, an upload, a 200 KB download,
# Connection: close). wrk runs in bounded rounds of ROUND_S seconds, at most MAX_ROUNDS.
# Writes OUT_PCAP and OUT_PCAP.truth: the client-side count of complete exchanges (wrk's
# responses plus curl's), nginx's access-log count, and tcpdump's drop count.
# Needs root, iproute2, nginx, wrk, curl, tcpdump. Cleans up the namespaces whatever happens.
set -euo pipefail
size_mb=${1:?SIZE_MB}
out=$(realpath -m "${2:?OUT_PCAP}")
net=${3:-83}
round_s=${ROUND_S:-1}
max_rounds=${MAX_ROUNDS:-200}
for t in ip nginx wrk curl tcpdump; do
  command -v "$t" >/dev/null || { echo "bench-real-capture: $t is missing" >&2; exit 2; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/httshark-real.XXXXXX")
srv=hssp-$$-srv cli=hssp-$$-cli a=sp$$a b=sp$$b
srv_ip=10.$net.0.2 cli_ip=10.$net.0.1
cleanup() {
  [ -n "${cap_pid:-}" ] && kill -INT "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
  [ -n "${nginx_pid:-}" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null
  ip netns del "$srv" 2>/dev/null || true
  ip netns del "$cli" 2>/dev/null || true
  rm -rf "$dir" "${shm:-}"
}
trap cleanup EXIT
ip netns add "$srv"; ip netns add "$cli"
ip link add "$a" type veth peer name "$b"
ip link set "$a" netns "$cli"; ip link set "$b" netns "$srv"
ip -n "$cli" addr add "$cli_ip/24" dev "$a"; ip -n "$srv" addr add "$srv_ip/24" dev "$b"
for ns in "$cli" "$srv"; do ip -n "$ns" link set lo up; done
ip -n "$cli" link set "$a" up; ip -n "$srv" link set "$b" up
# Wire-sized segments, as on a real NIC.
ip netns exec "$cli" ethtool -K "$a" tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$srv" ethtool -K "$b" tso off gso off gro off >/dev/null 2>&1 || true

# The site: a compressible page (gzip on the fly: chunked), a 200 KB download, JSON.
mkdir -p "$dir/www/api" "$dir/logs" "$dir/tmp"
for i in $(seq 400); do echo "<p>row $i: the quick brown fox jumps over the lazy dog $((i * 7919 % 1000))</p>"; done > "$dir/www/page.html"
head -c 204800 /dev/urandom > "$dir/www/big.bin"
echo '{"id":1,"name":"item","tags":["a","b"],"price":12.5}' > "$dir/www/api/item.json"
cat > "$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
user root;
error_log $dir/logs/error.log warn;
pid $dir/nginx.pid;
events { worker_connections 1024; }
http {
  default_type application/octet-stream;
  types { text/html html; application/json json; }
  access_log $dir/logs/access.log;
  client_body_temp_path $dir/tmp;
  keepalive_requests 1000000;
  keepalive_timeout 60;
  gzip on; gzip_types application/json; gzip_min_length 256;
  server {
    listen $srv_ip:80;
    root $dir/www;
    location = /upload { client_max_body_size 1m; client_body_buffer_size 128k;
      default_type text/plain; return 201 "stored\n"; }
  }
}
EOF
ip netns exec "$srv" nice -n 10 nginx -c "$dir/nginx.conf" -p "$dir" &
nginx_pid=$!
for _ in $(seq 50); do
  ip netns exec "$cli" curl -s -o /dev/null --max-time 1 "http://$srv_ip/api/item.json" && break
  sleep 0.1
done
# wrk's mix; done() prints the completed responses (wrk's own count) for the truth file.
head -c 61440 /dev/urandom | base64 -w 0 > "$dir/upload.txt"
cat > "$dir/mix.lua" <<EOF
local f = io.open("$dir/upload.txt"); local blob = f:read("*a"); f:close()
local n = 0
request = function()
  n = n + 1
  local m = n % 20
  if m == 0 then return wrk.format("GET", "/big.bin")
  elseif m < 8 then return wrk.format("GET", "/page.html?v=" .. n, {["Accept-Encoding"] = "gzip"})
  elseif m < 11 then
    return wrk.format("POST", "/upload", {["Content-Type"] = "text/plain"}, blob:sub(1, 2048 + (n * 977) % 59000))
  else return wrk.format("GET", "/api/item.json?id=" .. n, {["Accept-Encoding"] = "gzip"}) end
end
done = function(summary, latency, requests)
  io.write(string.format("wrk_responses %d\n", summary.requests))
end
EOF
: > "$dir/logs/access.log"
# Into memory first (a disk shared with other jobs may not keep up: the kernel then drops
# packets and the clients' count is no longer the truth), tcpdump ahead of the load.
shm=$(mktemp -d /dev/shm/httshark-real.XXXXXX)
ip netns exec "$cli" nice -n -10 tcpdump -i "$a" -w "$shm/capture.pcap" -s 0 -B 262144 "tcp port 80" 2> "$dir/tcpdump.err" &
cap_pid=$!
# Bytes tcpdump has written so far.
captured() { stat -c %s "$shm/capture.pcap" 2>/dev/null || echo 0; }
sleep 1
client=0 rounds=0
# curl round: keep-alive, gzip, upload, download, a closed connection; 8 exchanges.
curl_round() {
  local u=http://$srv_ip
  ip netns exec "$cli" curl -sS --max-time 10 --compressed -o /dev/null "$u/page.html" -o /dev/null "$u/api/item.json?c=1" \
    -o /dev/null "$u/big.bin" -o /dev/null "$u/page.html?c=2"
  ip netns exec "$cli" curl -sS --max-time 10 -o /dev/null --data-binary "@$dir/upload.txt" "$u/upload"
  ip netns exec "$cli" curl -sS --max-time 10 -o /dev/null -H "Connection: close" "$u/api/item.json?c=3"
  ip netns exec "$cli" curl -sS --max-time 10 -o /dev/null -X POST -d "a=1&b=2" "$u/upload" -o /dev/null "$u/big.bin"
}
while [ "$rounds" -lt "$max_rounds" ]; do
  rounds=$((rounds + 1))
  got=$(ip netns exec "$cli" nice -n 10 wrk -t 1 -c 8 -d "${round_s}s" --timeout 5s -s "$dir/mix.lua" "http://$srv_ip" | awk '/^wrk_responses/ {print $2}')
  client=$((client + got))
  curl_round && client=$((client + 8))
  now=$(captured)
  [ "$now" -ge $((size_mb * 1000000)) ] && break
done
# tcpdump may still be reading the kernel's buffer (up to 256 MiB, seconds of traffic when
# the machine is busy): packets left there when it is stopped are neither written nor
# counted as dropped, and the capture then lacks the last exchanges the clients counted.
# Stopped once its file has not grown for a second (at most 60 s).
last=-1 still=0
for _ in $(seq 300); do
  now=$(captured)
  if [ "$now" = "$last" ]; then still=$((still + 1)); else still=0; fi
  [ "$still" -ge 5 ] && break
  last=$now
  sleep 0.2
done
kill -INT "$cap_pid"; wait "$cap_pid" 2>/dev/null || true
cap_pid=
dropped=$(grep -Eo '[0-9]+ packets dropped by kernel' "$dir/tcpdump.err" | awk '{print $1}')
if [ "${dropped:-1}" != 0 ]; then
  echo "bench-real-capture: tcpdump dropped ${dropped:-?} packets (the machine is too busy):" \
    "the capture is incomplete and the clients' count not its truth; try again, or lower the load" >&2
  exit 1
fi
cp "$shm/capture.pcap" "$out"
{
  echo "client_exchanges $client"
  echo "nginx_logged $(wc -l < "$dir/logs/access.log")"
  echo "nginx_499 $(awk '$9 == 499' "$dir/logs/access.log" | wc -l)"
  echo "tcpdump_dropped ${dropped:-?}"
  echo "rounds $rounds"
} > "$out.truth"
echo "bench-real-capture: $(stat -c %s "$out") bytes, $(tr '\n' ' ' < "$out.truth")"
