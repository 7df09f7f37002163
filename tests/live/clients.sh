#!/usr/bin/env bash
# Real clients for httshark's live tests and fixtures: curl against tests/live/server.py.
# Usage: clients.sh BASE_URL   (for example http://10.77.0.2:8080)
# Every request is bounded in time; the set is fixed, so the server log is the ground truth.
set -u
base=$1
# Each URL gets its own -o /dev/null (curl applies one -o per URL).
c() {
  local args=()
  for u in "$@"; do
    case $u in http://*) args+=(-o /dev/null "$u") ;; *) args+=("$u") ;; esac
  done
  curl -sS --max-time 10 "${args[@]}"
}
# Keep-alive: several requests on one connection.
c "$base/bytes/100" "$base/bytes/5000" "$base/chunked" "$base/json?a=1&a=2&b=x%20y"
# Compressed response (curl asks for gzip and decodes it).
c --compressed "$base/gzip"
# HEAD, 204, 304, redirect followed on the same connection.
c -I "$base/bytes/777"
c "$base/empty" "$base/cached"
c -L "$base/redirect"
# POSTs: a form, a JSON body, and a large body with Expect: 100-continue.
c -d "name=httshark&tool=sniffer&tool=passive" "$base/echo"
c -H "Content-Type: application/json" -d '{"k":"v"}' "$base/echo"
head -c 300000 /dev/zero | tr '\0' 'x' > "${TMPDIR:-/tmp}/httshark-big-body.$$"
c -H "Expect: 100-continue" --data-binary "@${TMPDIR:-/tmp}/httshark-big-body.$$" "$base/echo"
rm -f "${TMPDIR:-/tmp}/httshark-big-body.$$"
# PUT and DELETE, a 404, and a cookie sent back.
c -X PUT -d "x=1" "$base/echo"
c -X DELETE "$base/bytes/1"
c -b "sid=abc123; theme=dark" "$base/missing"
# A big body over many segments.
c "$base/bytes/200000"
