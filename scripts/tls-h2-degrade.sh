#!/usr/bin/env bash
# Damaged copies of two captures made by scripts/tls-h2-fixtures.sh (which runs this last).
#
#   scripts/tls-h2-degrade.sh [OUT_DIR]        (default: the repository's fixtures/)
#
# Needs tshark and editcap; no network, no root. The copies are derived from the committed
# captures, so running it again gives the same files.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$here/fixtures}")
# Damaged copies of two captures (editcap; the same key log). NAME.expected.tsv keeps every
# row of the original; NAME.affected lists the request targets the damage touches (their
# entries may be missing or must be flagged); every other row must still come out exact.
derive() { # SOURCE NAME (under tls/ unless given as h2/...): key log and truth of the copy
  local src=$out/$1 dst=$out/$2
  [ -f "$src.keys" ] && cp "$src.keys" "$dst.keys"
  cp "$src.expected.tsv" "$dst.expected.tsv"
}
# A TCP segment lost in the middle of a 100 000-byte response over TLS 1.2 CBC: the record
# it falls in is lost, the layer must resync at a later record; the next requests on the
# connection are intact.
src=tls12-ecdhe-rsa-aes128-sha-h1
mid=$(tshark -r "$out/tls/$src.pcap" -Y 'tcp.srcport == 8444 && tcp.len >= 1400' \
  -T fields -e frame.number 2>/dev/null | awk '{ f[NR] = $1 } END { print f[int(NR / 2)] }')
derive tls/$src tls/$src-lost-segment
editcap -F pcap "$out/tls/$src.pcap" "$out/tls/$src-lost-segment.pcap" "$mid"
printf '/big.bin?r=1\n' > "$out/tls/$src-lost-segment.affected"
# A capture that starts after the TLS 1.3 handshake, with the second request: no
# ClientHello to find the secrets by, so only trial decryption can read it.
src=tls13-aes-128-gcm-h1
first=$(tshark -r "$out/tls/$src.pcap" -o "tls.keylog_file:$out/tls/$src.keys" \
  -d tcp.port==8444,tls -Y 'http.request.uri == "/text.txt?r=2"' -T fields -e frame.number 2>/dev/null)
last=$(tshark -r "$out/tls/$src.pcap" -T fields -e frame.number 2>/dev/null | tail -1)
derive tls/$src tls/$src-midstream
editcap -F pcap -r "$out/tls/$src.pcap" "$out/tls/$src-midstream.pcap" "$first-$last"
printf '/mid.bin?r=1\n' > "$out/tls/$src-midstream.affected"
# HTTP/2: a segment lost wholly inside the DATA payload of stream 1 (the 100 000-byte
# big.bin) of h2c prior knowledge with five concurrent streams: no frame header and no
# header block is lost, so only that stream is damaged and HPACK stays in step.
src=h2c-prior-nginx
seg=$(python3 "$here/scripts/tls-h2-fixtures.py" h2-data-segment "$out/h2/$src.pcap" 8080 1)
derive h2/$src h2/$src-lost-data
editcap -F pcap "$out/h2/$src.pcap" "$out/h2/$src-lost-data.pcap" "$seg"
printf '/big.bin?r=1\n' > "$out/h2/$src-lost-data.affected"
echo "tls-h2-degrade: derived $src-lost-data (frame $seg)"
# HTTP/2: the segment holding only the response HEADERS of stream 7 (/small.bin?r=4) of
# 24 concurrent h2c streams lost: that stream has no response head; HPACK state of the
# server's direction is lost (its later blocks are flagged hpack-desync) and the framing
# is found again, so every later stream is still exported with its content.
src=h2c-many-streams-nginx
seg=$(tshark -r "$out/h2/$src.pcap" -d tcp.port==8080,http2 \
  -Y 'tcp.srcport == 8080 && http2.type == 1 && http2.streamid == 7' -T fields -e frame.number 2>/dev/null)
derive h2/$src h2/$src-lost-headers
editcap -F pcap "$out/h2/$src.pcap" "$out/h2/$src-lost-headers.pcap" "$seg"
printf '/small.bin?r=4\n' > "$out/h2/$src-lost-headers.affected"
echo "tls-h2-degrade: derived $src-lost-headers (frame $seg)"
# HTTP/2 over TLS 1.3 picked up mid-connection, at the client segment holding the
# requests of streams 19-31: no handshake (no ALPN; secrets by trial), no preface, HPACK
# state unknown. The nine earlier requests are not there (their responses come out
# flagged request-lost); the seven in the capture are exported, flagged.
src=tls13-h2-parallel
first=$(tshark -r "$out/tls/$src.pcap" -o "tls.keylog_file:$out/tls/$src.keys" -d tcp.port==443,tls \
  -Y 'http2.header.value == "/small.bin?r=10"' -T fields -e frame.number 2>/dev/null)
last=$(tshark -r "$out/tls/$src.pcap" -T fields -e frame.number 2>/dev/null | tail -1)
derive tls/$src tls/$src-midstream
editcap -F pcap -r "$out/tls/$src.pcap" "$out/tls/$src-midstream.pcap" "$first-$last"
awk -F'\t' 'NR > 1 && $3 ~ /r=[1-9]$/ { print $3 }' "$out/tls/$src.expected.tsv" \
  > "$out/tls/$src-midstream.affected"
echo "tls-h2-degrade: derived $src-midstream (from frame $first)"
echo "tls-h2-degrade: derived tls13-aes-128-gcm-h1-midstream (from frame $first), tls12-ecdhe-rsa-aes128-sha-h1-lost-segment (frame $mid)"

