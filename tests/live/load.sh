#!/usr/bin/env bash
# Bounded load for httshark's live signal tests: curl against tests/live/server.py.
# Usage: load.sh BASE_URL MAX_REQUESTS MAX_SECONDS [TAG]
#
# Each round opens a new connection and sends four requests on it (keep-alive): a GET with
# a Content-Length body, a chunked GET, a POST with a body, a JSON GET. Every target carries
# `?TAG=ROUND` so that each exchange is unique in the server log and in the HAR output.
# Stops after MAX_REQUESTS requests or MAX_SECONDS seconds, whichever comes first; every
# curl is bounded in time too.
set -u
base=$1 max=$2 secs=$3 tag=${4:-r}
end=$((SECONDS + secs))
n=0 i=0
while [ "$n" -lt "$max" ] && [ "$SECONDS" -lt "$end" ]; do
  i=$((i + 1))
  q="?$tag=$i"
  curl -sS --max-time 5 -o /dev/null "$base/bytes/$((100 + (i % 7) * 900))$q" \
    -o /dev/null "$base/chunked$q" \
    --next -sS --max-time 5 -H "Expect:" -d "round=$i&pad=$(printf '%*s' $((i % 50 * 20)) '' | tr ' ' p)" \
    -o /dev/null "$base/echo$q" \
    --next -sS --max-time 5 -o /dev/null "$base/json$q" || true
  n=$((n + 4))
done
echo "load.sh: $n requests in $i rounds"
