#!/usr/bin/env bash
# Real TLS and HTTP/2 traffic in network namespaces made for the purpose, captured on the
# client's side, with each server's own log as the ground truth (issues 10 and 11).
#
#   scripts/tls-h2-fixtures.sh [OUT_DIR]        (default: the repository's fixtures/)
#
# Regenerates everything under OUT_DIR/tls/ and OUT_DIR/h2/ (and nothing else); running it
# again gives new captures of the same scenarios (keys, ports and timings differ).
# Per scenario NAME: NAME.pcap (client-side capture, full snaplen), NAME.keys (NSS key log
# written by the client; TLS only), NAME.expected.tsv (the server's log joined with the
# sha256 of each body as the client saw it; columns in fixtures/README.md) and
# NAME.tshark.tsv (tshark's view, so tests can cross-check without tshark).
#
# Two namespaces joined by a veth pair with offloads off (as scripts/netns-capture.sh), so
# segments are at most 1500 bytes and TLS records and HTTP/2 frames straddle them. In the
# server namespace: nginx (TLS 1.2/1.3, h2 by ALPN, h2c prior knowledge; access log = truth)
# on 10.77.0.2, hypercorn with tests/live/h2app.py (h2c Upgrade and prior knowledge; its
# own log = truth) on 10.77.0.2:8090, and a second hypercorn on the server's loopback as
# nginx's backend for POST /echo. Clients (curl, openssl s_client, Python ssl) run in the
# client namespace. Certificates (EC P-256 and RSA 2048, CN fixture.test) and DH
# parameters are made at run time in a temporary directory and thrown away: no server key
# is ever committed. Client keys are in the committed .keys files on purpose.
#
# Needs root, iproute2, ethtool, nginx (nginx-light is enough), tcpdump, tshark, editcap,
# curl, openssl, python3, and hypercorn in a venv ($HYPERCORN, default
# /tmp/fx-venv/bin/hypercorn: python3 -m venv /tmp/fx-venv && /tmp/fx-venv/bin/pip install hypercorn).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$here/fixtures}")
hypercorn=${HYPERCORN:-/tmp/fx-venv/bin/hypercorn}
helper=$here/scripts/tls-h2-fixtures.py
for t in ip ethtool nginx tcpdump tshark editcap curl openssl python3 "$hypercorn"; do
  command -v "$t" >/dev/null || { echo "tls-h2-fixtures: $t is missing" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "tls-h2-fixtures: needs root (network namespaces)" >&2; exit 2; }

id=$$
srv=fx-srv-$id cli=fx-cli-$id
a=fxa$id b=fxb$id
W=$(mktemp -d /tmp/tls-h2-fixtures.XXXXXX)
pids=()
cleanup() {
  set +e
  [ -n "${cap_pid:-}" ] && kill -TERM "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
  [ -f "$W/nginx/nginx.pid" ] && kill "$(cat "$W/nginx/nginx.pid")" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  # nginx's master removes its pid file when it exits; give it a moment.
  for _ in $(seq 30); do [ -f "$W/nginx/nginx.pid" ] || break; sleep 0.1; done
  ip netns del "$srv" 2>/dev/null
  ip netns del "$cli" 2>/dev/null
  [ -n "${FX_KEEP_TMP:-}" ] && echo "tls-h2-fixtures: kept $W" >&2 || rm -rf "$W"
}
trap cleanup EXIT
S() { ip netns exec "$srv" "$@"; }
C() { ip netns exec "$cli" "$@"; }

ip netns add "$srv"; ip netns add "$cli"
ip link add "$a" type veth peer name "$b"
ip link set "$a" netns "$cli"; ip link set "$b" netns "$srv"
ip -n "$cli" addr add 10.77.0.1/24 dev "$a"; ip -n "$srv" addr add 10.77.0.2/24 dev "$b"
for ns in "$cli" "$srv"; do ip -n "$ns" link set lo up; done
ip -n "$cli" link set "$a" up; ip -n "$srv" link set "$b" up
# Wire-sized segments, as on a real NIC.
C ethtool -K "$a" tso off gso off gro off >/dev/null 2>&1 || true
S ethtool -K "$b" tso off gso off gro off >/dev/null 2>&1 || true

# ---------------------------------------------------------------- certificates, content
mkdir -p "$W/pki" "$W/www" "$W/nginx/logs" "$W/bodies" "$W/cap"
(
  cd "$W/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key \
    -out ec.crt -days 2 -subj /CN=fixture.test -addext subjectAltName=DNS:fixture.test 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa.key -out rsa.crt -days 2 \
    -subj /CN=fixture.test -addext subjectAltName=DNS:fixture.test 2>/dev/null
  # RFC 7919 ffdhe2048 for the DHE suite (named group: nothing to generate).
  openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 -out dh.pem 2>/dev/null
)
python3 "$helper" content "$W/www"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 32)' > "$W/post8k.bin"
python3 -c 'import sys; sys.stdout.buffer.write(bytes(range(251)) * 400)' > "$W/post100k.bin"

# ---------------------------------------------------------------- servers
# POST /echo goes to the backend (nginx reads the whole body first); "location" must sit
# in each server block.
echo='location /echo { proxy_pass http://127.0.0.1:9000; proxy_http_version 1.1; }'
# Server push (nginx 1.22 still has http2_push): /pushed.html is index.html, and pushes /small.bin.
push='location = /pushed.html { http2_push /small.bin; try_files /index.html =404; }'
cat > "$W/nginx/nginx.conf" <<EOF
user root;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/logs/error.log warn;
events { worker_connections 256; }
http {
  client_body_temp_path $W/nginx/body; proxy_temp_path $W/nginx/proxy;
  fastcgi_temp_path $W/nginx/fcgi; uwsgi_temp_path $W/nginx/uwsgi; scgi_temp_path $W/nginx/scgi;
  types { text/html html; text/plain txt; application/octet-stream bin; }
  default_type application/octet-stream;
  log_format fx '\$remote_port\t\$request_method\t\$request_uri\t\$status\t\$content_length\t\$server_protocol\t\$http2\t\$ssl_protocol\t\$ssl_cipher\t\$ssl_session_reused\t\$ssl_early_data\t\$request_length\t\$bytes_sent\t\$body_bytes_sent';
  gzip on; gzip_types text/plain; gzip_min_length 1000;
  sendfile off;
  keepalive_timeout 10s;
  large_client_header_buffers 4 64k;
  ssl_certificate $W/pki/ec.crt; ssl_certificate_key $W/pki/ec.key;
  ssl_certificate $W/pki/rsa.crt; ssl_certificate_key $W/pki/rsa.key;
  ssl_dhparam $W/pki/dh.pem;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA384:ECDHE-ECDSA-AES128-SHA:AES128-SHA256:AES128-SHA';
  ssl_session_cache shared:fx:1m; ssl_session_tickets on;
  root $W/www;
  access_log $W/nginx/logs/access.tsv fx;
  server { listen 10.77.0.2:443 ssl http2; server_name fixture.test; $echo }
  server { listen 10.77.0.2:8444 ssl; server_name fixture.test; $echo }
  server { listen 10.77.0.2:8446 ssl http2; server_name fixture.test; $echo ssl_ecdh_curve prime256v1; }
  server { listen 10.77.0.2:8447 ssl; server_name fixture.test; $echo ssl_early_data on; }
  server { listen 10.77.0.2:8080 http2; server_name fixture.test; $echo $push }
}
EOF
S nginx -c "$W/nginx/nginx.conf" -p "$W/nginx" -e "$W/nginx/logs/error.log"
nglog=$W/nginx/logs/access.tsv
: > "$W/hyper.tsv"; : > "$W/backend.tsv"
(cd "$here/tests/live" && FX_LOG=$W/hyper.tsv exec ip netns exec "$srv" "$hypercorn" \
  --bind 10.77.0.2:8090 h2app:app >"$W/hyper.out" 2>&1) &
pids+=($!)
(cd "$here/tests/live" && FX_LOG=$W/backend.tsv exec ip netns exec "$srv" "$hypercorn" \
  --bind 127.0.0.1:9000 h2app:app >"$W/backend.out" 2>&1) &
pids+=($!)
wait_port() { # NS HOST PORT
  for _ in $(seq 100); do
    ip netns exec "$1" bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "tls-h2-fixtures: nothing listens on $2:$3" >&2; exit 1
}
for p in 443 8444 8446 8447 8080 8090; do wait_port "$cli" 10.77.0.2 $p; done
wait_port "$srv" 127.0.0.1 9000

# ---------------------------------------------------------------- capture helpers
rm -rf "$out/tls" "$out/h2"
mkdir -p "$out/tls" "$out/h2"
B=$W/bodies
cap_start() { # DEST_PREFIX PORT
  cap_dest=$1 cap_port=$2
  rm -f "$B/$(basename "$cap_dest").map"
  : > "$W/cap.err"
  ip netns exec "$cli" tcpdump --immediate-mode -Z root -i "$a" -s 0 -U -w "$cap_dest.pcap" "tcp port $cap_port" 2>"$W/cap.err" &
  cap_pid=$!
  for _ in $(seq 100); do grep -q 'listening on' "$W/cap.err" && break; sleep 0.05; done
  ng_mark=$(wc -l < "$nglog"); hy_mark=$(wc -l < "$W/hyper.tsv")
}
cap_stop() {
  sleep 0.5 # the last ACKs and FINs
  kill -TERM "$cap_pid"; wait "$cap_pid" || true; cap_pid=
  # Without --immediate-mode, libpcap would still hold the last packets in its ring when
  # tcpdump is told to stop; a drop would leave a hole the ground truth does not know of.
  grep -q '^0 packets dropped by kernel' "$W/cap.err" ||
    { echo "tls-h2-fixtures: tcpdump dropped packets: $(cat "$W/cap.err")" >&2; exit 1; }
}
# Writes NAME.expected.tsv from the lines the server (nginx or hypercorn) logged since
# cap_start, joined with the client's saved bodies; then the tshark view.
finish() { # nginx|hypercorn [DECODE_AS...]
  local kind=$1 name; shift
  name=$(basename "$cap_dest")
  local log=$nglog mark=$ng_mark
  [ "$kind" = hypercorn ] && log=$W/hyper.tsv mark=$hy_mark
  tail -n +$((mark + 1)) "$log" > "$W/slice.tsv"
  python3 "$helper" expected "$kind" "$W/slice.tsv" "$B/$name.map" > "$cap_dest.expected.tsv"
  # curl creates $SSLKEYLOGFILE even on plaintext connections: keep only real key logs.
  [ -s "$cap_dest.keys" ] || rm -f "$cap_dest.keys"
  local tls=()
  [ -f "$cap_dest.keys" ] && tls=(-o "tls.keylog_file:$cap_dest.keys")
  local dec=()
  for d in "$@"; do dec+=(-d "$d"); done
  tshark -r "$cap_dest.pcap" "${tls[@]}" "${dec[@]}" \
    -Y 'http.request || http.response || http2.type==1 || http2.type==5' -T fields -E header=y \
    -E separator=/t -E occurrence=a -E 'aggregator=|' \
    -e frame.number -e tcp.stream -e tcp.srcport -e http2.streamid -e http.request.method \
    -e http.request.uri -e http.response.code -e http2.headers.method -e http2.headers.path \
    -e http2.headers.status -e http2.header.name -e http2.header.value \
    > "$cap_dest.tshark.tsv" 2>/dev/null
  printf '%-44s %3d rows %7d bytes\n' "$name" "$(($(wc -l < "$cap_dest.expected.tsv") - 1))" \
    "$(stat -c %s "$cap_dest.pcap")"
}

# Column COL of data row ROW (1-based) of an expected.tsv must be VALUE.
want() { # FILE ROW COL VALUE
  local got
  got=$(awk -F'\t' -v r="$(($2 + 1))" -v c="$3" 'NR == r { print $c }' "$1")
  [ "$got" = "$4" ] || { echo "tls-h2-fixtures: $1 row $2 column $3: $got, want $4" >&2; exit 1; }
}

# curl in the client namespace. COMMON is repeated after every --next (curl resets options
# there, and reuses a connection only when the TLS options match). Each URL gets its own
# -o file, recorded in the scenario's map (request target -> file).
fx_curl() { # ARGS...
  local name args=() i u
  name=$(basename "$cap_dest")
  i=0
  if [ -f "$B/$name.map" ]; then i=$(wc -l < "$B/$name.map"); fi
  args=(-sS --no-progress-meter --max-time 20 "${COMMON[@]}")
  for u in "$@"; do
    case $u in
      http://* | https://*)
        i=$((i + 1))
        args+=(-o "$B/$name.$i" "$u")
        local rest=${u#*://}
        printf '/%s\t%s\n' "${rest#*/}" "$B/$name.$i" >> "$B/$name.map" ;;
      --next) args+=(--next -sS --no-progress-meter --max-time 20 "${COMMON[@]}") ;;
      *) args+=("$u") ;;
    esac
  done
  C env SSLKEYLOGFILE="$cap_dest.keys" curl "${args[@]}"
}
TLSH=https://fixture.test
RES=(--resolve fixture.test:443:10.77.0.2 --resolve fixture.test:8444:10.77.0.2
  --resolve fixture.test:8446:10.77.0.2 --resolve fixture.test:8447:10.77.0.2)

echo "tls-h2-fixtures: writing $out/tls and $out/h2"
# ---------------------------------------------------------------- TLS 1.3, curl
for suite in TLS_AES_128_GCM_SHA256 TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256; do
  short=$(echo "$suite" | sed -e 's/^TLS_//' -e 's/_SHA[0-9]*$//' | tr 'A-Z_' 'a-z-')
  big=mid.bin; [ "$short" = aes-128-gcm ] && big=big.bin
  # h2: GET (large), gzip, POST with a body, 404, on one connection.
  cap_start "$out/tls/tls13-$short-h2" 443
  COMMON=(-k "${RES[@]}" --http2 --tlsv1.3 --tls13-ciphers "$suite" --compressed)
  fx_curl "$TLSH/$big?r=1" "$TLSH/text.txt?r=2" --next --data-binary @"$W/post8k.bin" \
    "$TLSH/echo?r=3" --next "$TLSH/missing?r=4" "$TLSH/index.html?r=5"
  cap_stop; finish nginx
  cap_start "$out/tls/tls13-$short-h1" 8444
  COMMON=(-k "${RES[@]}" --http1.1 --tlsv1.3 --tls13-ciphers "$suite" --compressed)
  fx_curl "$TLSH:8444/mid.bin?r=1" "$TLSH:8444/text.txt?r=2" --next \
    --data-binary @"$W/post8k.bin" "$TLSH:8444/echo?r=3" --next "$TLSH:8444/missing?r=4"
  cap_stop; finish nginx tcp.port==8444,tls
done

# ---------------------------------------------------------------- TLS 1.2, curl
for cipher in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 \
  ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-SHA ECDHE-RSA-AES256-SHA384 AES128-SHA256 \
  DHE-RSA-AES128-GCM-SHA256; do
  lc=$(echo "$cipher" | tr 'A-Z' 'a-z')
  body=mid.bin; [ "$cipher" = ECDHE-RSA-AES128-SHA ] && body=big.bin
  cap_start "$out/tls/tls12-$lc-h1" 8444
  COMMON=(-k "${RES[@]}" --http1.1 --tlsv1.2 --tls-max 1.2 --ciphers "$cipher" --compressed)
  fx_curl "$TLSH:8444/$body?r=1" "$TLSH:8444/text.txt?r=2" --next \
    --data-binary @"$W/post8k.bin" "$TLSH:8444/echo?r=3" --next "$TLSH:8444/missing?r=4"
  cap_stop; finish nginx tcp.port==8444,tls
done
for cipher in ECDHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 \
  ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-RSA-AES128-SHA; do
  lc=$(echo "$cipher" | tr 'A-Z' 'a-z')
  cap_start "$out/tls/tls12-$lc-h2" 443
  COMMON=(-k "${RES[@]}" --http2 --tlsv1.2 --tls-max 1.2 --ciphers "$cipher" --compressed)
  fx_curl "$TLSH/mid.bin?r=1" "$TLSH/text.txt?r=2" --next --data-binary @"$W/post8k.bin" \
    "$TLSH/echo?r=3" --next "$TLSH/missing?r=4"
  cap_stop; finish nginx
done

# ---------------------------------------------------------------- TLS 1.3 corners
# Many concurrent streams on one h2 connection (curl waits for the connection, then
# multiplexes every transfer on it).
cap_start "$out/tls/tls13-h2-parallel" 443
COMMON=(-k "${RES[@]}" --http2 --tlsv1.3 --compressed)
urls=()
for i in $(seq 1 16); do
  f=small.bin; [ $((i % 4)) = 0 ] && f=index.html
  urls+=("$TLSH/$f?r=$i")
done
fx_curl --parallel --parallel-max 16 "${urls[@]}"
cap_stop; finish nginx

# HelloRetryRequest: this listener accepts only P-256, curl's first key share is X25519.
cap_start "$out/tls/tls13-hrr-h2" 8446
COMMON=(-k "${RES[@]}" --http2 --tlsv1.3 --compressed)
fx_curl "$TLSH:8446/index.html?r=1" "$TLSH:8446/small.bin?r=2"
cap_stop; finish nginx tcp.port==8446,tls
hellos=$(tshark -r "$out/tls/tls13-hrr-h2.pcap" -d tcp.port==8446,tls -Y 'tls.handshake.type==2' 2>/dev/null | wc -l)
[ "$hellos" -ge 2 ] || { echo "tls-h2-fixtures: no HelloRetryRequest in tls13-hrr-h2" >&2; exit 1; }

# openssl s_client: one GET with Connection: close; s_client (-quiet) exits when nginx closes.
sclient_get() { # PORT TARGET S_CLIENT_ARGS...
  local port=$1 target=$2
  shift 2
  printf 'GET %s HTTP/1.1\r\nHost: fixture.test\r\nConnection: close\r\n\r\n' "$target" |
    C timeout 15 openssl s_client -connect "10.77.0.2:$port" -servername fixture.test \
      -keylogfile "$cap_dest.keys" -quiet "$@" > "$W/sc.out" 2> "$W/sc.err"
  python3 "$helper" split-http "$W/sc.out" "$B" "$(basename "$cap_dest")" "$target"
}

# KeyUpdate (update_requested): s_client's interactive "K" command, between two requests on
# one HTTP/1.1 connection. Only without -quiet/-ign_eof; s_client ends when its input does.
cap_start "$out/tls/tls13-keyupdate" 8444
{
  printf 'GET /mid.bin?r=1 HTTP/1.1\r\nHost: fixture.test\r\n\r\n'; sleep 1
  printf 'K\n'; sleep 1
  printf 'GET /index.html?r=2 HTTP/1.1\r\nHost: fixture.test\r\nConnection: close\r\n\r\n'; sleep 1.5
} | C timeout 15 openssl s_client -connect 10.77.0.2:8444 -servername fixture.test -tls1_3 \
  -keylogfile "$out/tls/tls13-keyupdate.keys" > "$W/sc.out" 2> "$W/sc.err" || true
grep -q KEYUPDATE "$W/sc.out" "$W/sc.err" || { echo "tls-h2-fixtures: s_client did no KeyUpdate" >&2; exit 1; }
python3 "$helper" split-http "$W/sc.out" "$B" tls13-keyupdate "/mid.bin?r=1" "/index.html?r=2"
cap_stop; finish nginx tcp.port==8444,tls

# TLS 1.2 resumption, by ticket and by session ID (-no_ticket): a full handshake, then an
# abbreviated one with the saved session.
for mode in ticket sessionid; do
  extra=(-tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)
  [ $mode = sessionid ] && extra+=(-no_ticket)
  cap_start "$out/tls/tls12-resume-$mode" 8444
  sclient_get 8444 "/index.html?r=1" "${extra[@]}" -sess_out "$W/s12.$mode"
  sclient_get 8444 "/small.bin?r=2" "${extra[@]}" -sess_in "$W/s12.$mode"
  cap_stop; finish nginx tcp.port==8444,tls
  want "$out/tls/tls12-resume-$mode.expected.tsv" 1 10 .
  want "$out/tls/tls12-resume-$mode.expected.tsv" 2 10 r
done

# TLS 1.3 resumption with 0-RTT: nginx with ssl_early_data on. The second connection sends
# one request as early data, another after the handshake.
cap_start "$out/tls/tls13-0rtt" 8447
sclient_get 8447 "/index.html?r=1" -tls1_3 -sess_out "$W/s13"
printf 'GET /small.bin?r=2 HTTP/1.1\r\nHost: fixture.test\r\n\r\n' > "$W/early.txt"
printf 'GET /index.html?r=3 HTTP/1.1\r\nHost: fixture.test\r\nConnection: close\r\n\r\n' |
  C timeout 15 openssl s_client -connect 10.77.0.2:8447 -servername fixture.test -tls1_3 \
    -keylogfile "$out/tls/tls13-0rtt.keys" -sess_in "$W/s13" -early_data "$W/early.txt" \
    -ign_eof > "$W/sc.out" 2> "$W/sc.err"
grep -q 'Early data was accepted' "$W/sc.out" ||
  { echo "tls-h2-fixtures: nginx did not accept the early data" >&2; exit 1; }
python3 "$helper" split-http "$W/sc.out" "$B" tls13-0rtt "/small.bin?r=2" "/index.html?r=3"
cap_stop; finish nginx tcp.port==8447,tls
# nginx's $ssl_early_data is 1 only when it handled the request before the handshake
# completed, which races with the client's Finished; the client knows what it sent as
# accepted early data, so the truth's early_data column says so for that request.
awk -F'\t' -v OFS='\t' '$3 == "/small.bin?r=2" { $11 = "1" } { print }' \
  "$out/tls/tls13-0rtt.expected.tsv" > "$W/e.tsv" && mv "$W/e.tsv" "$out/tls/tls13-0rtt.expected.tsv"
want "$out/tls/tls13-0rtt.expected.tsv" 2 10 r
# The same capture with a key log lacking the early traffic secret: the early request
# cannot be decrypted, everything else can.
grep -v '^CLIENT_EARLY_TRAFFIC_SECRET ' "$out/tls/tls13-0rtt.keys" > "$out/tls/tls13-0rtt-noearly.keys"
awk -F'\t' 'NR == 1 || $11 != "1"' "$out/tls/tls13-0rtt.expected.tsv" > "$out/tls/tls13-0rtt-noearly.expected.tsv"

# Python's ssl module with keylog_filename: TLS 1.3, and TLS 1.2 CBC without encrypt-then-MAC.
for mode in tls13 tls12-cbc-noetm; do
  cap_start "$out/tls/python-$mode-h1" 8444
  C python3 "$here/tests/live/tlsclient.py" 10.77.0.2 8444 fixture.test \
    "$out/tls/python-$mode-h1.keys" "$B" "python-$mode-h1" $mode "$W/post8k.bin"
  cap_stop; finish nginx tcp.port==8444,tls
done
etm=$(tshark -r "$out/tls/python-tls12-cbc-noetm-h1.pcap" -d tcp.port==8444,tls \
  -Y 'tls.handshake.extension.type == 22' 2>/dev/null | wc -l)
[ "$etm" = 0 ] || { echo "tls-h2-fixtures: encrypt_then_mac was offered" >&2; exit 1; }

# A self-contained twin: the key log inside the pcapng (Decryption Secrets Block).
editcap --inject-secrets "tls,$out/tls/tls13-aes-128-gcm-h2.keys" \
  "$out/tls/tls13-aes-128-gcm-h2.pcap" "$out/tls/tls13-aes-128-gcm-h2-dsb.pcapng"

# ---------------------------------------------------------------- h2c prior knowledge
# curl 7.88.1 fails with "Error in the HTTP2 framing layer" when a second transfer uses a
# prior-knowledge connection (with or without --parallel), so several streams on one h2c
# connection come from tests/live/h2client.py (python-hyper h2, from hypercorn's venv).
h2c() { # PORT REQUEST...
  local port=$1
  shift
  C "$(dirname "$hypercorn")/python" "$here/tests/live/h2client.py" 10.77.0.2 "$port" "$B" \
    "$(basename "$cap_dest")" "$@"
}
cap_start "$out/h2/h2c-prior-nginx" 8080
h2c 8080 "GET /big.bin?r=1" "GET /text.txt?r=2 gzip" "POST /echo?r=3 @$W/post8k.bin" \
  "GET /missing?r=4" "GET /index.html?r=5"
cap_stop; finish nginx tcp.port==8080,http2

# curl's own h2c prior knowledge, one transfer per connection.
cap_start "$out/h2/h2c-prior-curl-nginx" 8080
COMMON=(--http2-prior-knowledge --compressed)
fx_curl "http://10.77.0.2:8080/text.txt?r=1"
fx_curl --data-binary @"$W/post8k.bin" "http://10.77.0.2:8080/echo?r=2"
cap_stop; finish nginx tcp.port==8080,http2

cap_start "$out/h2/h2c-many-streams-nginx" 8080
reqs=()
for i in $(seq 1 24); do
  f=small.bin; [ $((i % 3)) = 0 ] && f=index.html
  reqs+=("GET /$f?r=$i")
done
h2c 8080 "${reqs[@]}"
cap_stop; finish nginx tcp.port==8080,http2

# Server push: nginx promises /small.bin with /pushed.html.
cap_start "$out/h2/h2c-push-nginx" 8080
h2c 8080 "GET /pushed.html?r=1" "GET /index.html?r=2"
cap_stop; finish nginx tcp.port==8080,http2
pushes=$(tshark -r "$out/h2/h2c-push-nginx.pcap" -d tcp.port==8080,http2 -Y 'http2.type == 5' \
  2>/dev/null | wc -l)
[ "$pushes" -ge 1 ] || { echo "tls-h2-fixtures: no PUSH_PROMISE" >&2; exit 1; }

# ---------------------------------------------------------------- hypercorn
# h2c Upgrade: curl --http2 on http:// sends Upgrade: h2c with its first GET; hypercorn
# answers 101 and the response on stream 1; the later transfers are h2 streams 3 and 5.
cap_start "$out/h2/h2c-upgrade-hypercorn" 8090
COMMON=(--http2)
fx_curl "http://10.77.0.2:8090/bytes/30000?r=1" "http://10.77.0.2:8090/hello?r=2" \
  "http://10.77.0.2:8090/missing?r=3"
cap_stop; finish hypercorn tcp.port==8090,http
want "$out/h2/h2c-upgrade-hypercorn.expected.tsv" 1 6 HTTP/2.0

# A POST with a body: curl still offers Upgrade: h2c, hypercorn declines; HTTP/1.1 it stays.
cap_start "$out/h2/h2c-upgrade-declined-hypercorn" 8090
COMMON=(--http2)
fx_curl --data-binary @"$W/post8k.bin" "http://10.77.0.2:8090/echo?r=1"
cap_stop; finish hypercorn tcp.port==8090,http
want "$out/h2/h2c-upgrade-declined-hypercorn.expected.tsv" 1 6 HTTP/1.1

cap_start "$out/h2/h2c-prior-hypercorn" 8090
# The 100 400-byte POST outgrows the 65 535-byte initial window: WINDOW_UPDATE paces it.
h2c 8090 "GET /bytes/50000?r=1" "POST /echo?r=2 @$W/post8k.bin" "GET /missing?r=3" \
  "POST /echo?r=4 @$W/post100k.bin"
cap_stop; finish hypercorn tcp.port==8090,http2

# A 50 000-byte header (37 500 bytes once Huffman-coded): the request's header block is a HEADERS frame and CONTINUATION frames.
cap_start "$out/h2/h2c-continuation-hypercorn" 8090
h2c 8090 "GET /hello?r=1 big=50000" "GET /hello?r=2"
cap_stop; finish hypercorn tcp.port==8090,http2
conts=$(tshark -r "$out/h2/h2c-continuation-hypercorn.pcap" -d tcp.port==8090,http2 \
  -Y 'http2.type == 9' 2>/dev/null | wc -l)
[ "$conts" -ge 1 ] || { echo "tls-h2-fixtures: no CONTINUATION frame" >&2; exit 1; }
# hypercorn's log names the longest header value it received (column 9): all 50 000 bytes.
awk -F'\t' '$3 == "/hello?r=1" && $9 == 50000' "$W/slice.tsv" | grep -q . ||
  { echo "tls-h2-fixtures: hypercorn did not get the 50 000-byte header" >&2; exit 1; }

# Damaged copies of two captures (no network needed; also runs alone).
"$here/scripts/tls-h2-degrade.sh" "$out"

for f in "$out"/tls/*.pcap* "$out"/h2/*.pcap; do
  [ "$(stat -c %s "$f")" -le 204800 ] || { echo "tls-h2-fixtures: $f is over 200 KiB" >&2; exit 1; }
done
total=$(du -cb "$out"/tls/* "$out"/h2/* | tail -1 | cut -f1)
echo "tls-h2-fixtures: done, $(ls "$out"/tls/*.pcap* "$out"/h2/*.pcap | wc -l) captures, $total bytes"
