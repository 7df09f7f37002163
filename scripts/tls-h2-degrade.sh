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
derive() { # SOURCE NAME: the key log and the truth of the damaged copy
  local src=$out/tls/$1 dst=$out/tls/$2
  cp "$src.keys" "$dst.keys"
  cp "$src.expected.tsv" "$dst.expected.tsv"
}
# A TCP segment lost in the middle of a 100 000-byte response over TLS 1.2 CBC: the record
# it falls in is lost, the layer must resync at a later record; the next requests on the
# connection are intact.
src=tls12-ecdhe-rsa-aes128-sha-h1
mid=$(tshark -r "$out/tls/$src.pcap" -Y 'tcp.srcport == 8444 && tcp.len >= 1400' \
  -T fields -e frame.number 2>/dev/null | awk '{ f[NR] = $1 } END { print f[int(NR / 2)] }')
derive $src $src-lost-segment
editcap -F pcap "$out/tls/$src.pcap" "$out/tls/$src-lost-segment.pcap" "$mid"
printf '/big.bin?r=1\n' > "$out/tls/$src-lost-segment.affected"
# A capture that starts after the TLS 1.3 handshake, with the second request: no
# ClientHello to find the secrets by, so only trial decryption can read it.
src=tls13-aes-128-gcm-h1
first=$(tshark -r "$out/tls/$src.pcap" -o "tls.keylog_file:$out/tls/$src.keys" \
  -d tcp.port==8444,tls -Y 'http.request.uri == "/text.txt?r=2"' -T fields -e frame.number 2>/dev/null)
last=$(tshark -r "$out/tls/$src.pcap" -T fields -e frame.number 2>/dev/null | tail -1)
derive $src $src-midstream
editcap -F pcap -r "$out/tls/$src.pcap" "$out/tls/$src-midstream.pcap" "$first-$last"
printf '/mid.bin?r=1\n' > "$out/tls/$src-midstream.affected"
echo "tls-h2-degrade: derived $src-midstream (from frame $first) and the lost segment (frame $mid)"

