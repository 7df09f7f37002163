#!/usr/bin/env bash
# Live capture under load: a capture replayed with tcpreplay onto one end of a veth pair,
# httshark capturing live on the other end (issue 12: no kernel drops at the capture's
# recorded rate and at the highest rate tcpreplay reaches).
#
#   scripts/bench-live.sh CAPTURE [MODE...]
#
# MODE: `recorded` (the capture's average packet rate: its packets over its duration, sent
# with tcpreplay --pps; the default), `topspeed` (as fast as tcpreplay can send), `pps=N`,
# `mbps=N` (tcpreplay's --pps, --mbps) or `x=MULTIPLIER` (tcpreplay's --multiplier: each
# packet's own timestamp, scaled). `recorded` is not `x=1`: honouring each timestamp,
# tcpreplay sleeps once per packet, and on this 2-core machine a sleep took 60-230 us,
# so a capture recorded at 61,000 packets/s went out at 4,300-16,000 (4-16x its duration);
# --pps keeps an absolute schedule and reaches the rate. Each mode runs RUNS times
# (default 1).
#
# Two network namespaces made for the purpose (lbtx-PID, lbrx-PID) joined by a veth pair
# (lbtPID, lbrPID; no address is assigned, so no subnet is needed); no
# address is assigned, so the replayed packets are seen by the capture and then dropped by
# the receiving stack (never answered, never forwarded). tcpreplay sends the frames as they
# are (the destination MAC is not the receiver's: the capture is promiscuous, and the veth
# hands every frame to it). First httshark reads CAPTURE with -file (the reference: packets
# and transactions); each live run then captures with `-device`, `-hosts ''`, HAR + CSV
# processors (`-har-processors file,sites-stats,transactions-sizes`), output into a tmpfs
# folder, and `-c` the reference's packet count, so it stops by itself once every packet is
# read; when packets were lost it is interrupted SETTLE seconds (default 10) after tcpreplay
# ended (it then reads what the kernel holds, flushes, and exits).
#
# Reported per run: packets/s and Mbit/s reached by tcpreplay (its own figures) and its
# failed sends; packets httshark captured and its kernel drops (pcap_stats); drops on the
# veth pair (`ip -s link`: sender's TX, receiver's RX) and the backlog drops of
# /proc/net/softnet_stat (machine-wide, so another job's drops would show there too);
# transactions live against the -file reference (equal when nothing was lost); httshark's
# CPU time, peak RSS, and CPU per thread (perf sampling, when perf exists: PERF=0 skips).
#
# Environment: HTTSHARK_BIN (default ./target/release/httshark, built when missing),
# HTTSHARK_ARGS (more flags for the live runs, e.g. "-buffer-size 256MiB -workers 2"; several
# sets separated by `;` each run every mode, in turn: "; -attribution=false; -workers 2"),
# PROCESSORS (the -har-processors list of the reference and live runs, default
# file,sites-stats,transactions-sizes; sites-stats alone is the CSV-only run),
# LIVE_OUT (tmpfs parent folder, default /dev/shm), REPLAY_TIMEOUT (seconds one tcpreplay run
# may take, default 600), PRELOAD (1: tcpreplay --preload-pcap, reads the whole capture into
# memory before sending, so the disk is not what limits topspeed; default 1), RESULTS (a file
# the table is appended to), SETTLE (seconds httshark may still read after tcpreplay ended,
# default 10), PERF (0: no per-thread sampling).
# Needs root, iproute2, tcpreplay, tcpdump (the capture's duration when capinfos is
# missing), GNU time (/usr/bin/time), timeout; perf and capinfos are optional.
set -euo pipefail
cd "$(dirname "$0")/.."
die() { echo "bench-live: $*" >&2; exit 2; }
[ $# -ge 1 ] || die "usage: scripts/bench-live.sh CAPTURE [recorded|topspeed|pps=N|mbps=N|x=N ...]"
cap=$(realpath -m "$1"); shift
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(recorded)
for m in "${modes[@]}"; do
  case $m in
    recorded | topspeed | pps=[0-9]* | mbps=[0-9]* | x=[0-9]*) ;;
    *) die "unknown mode '$m' (recorded, topspeed, pps=N, mbps=N, x=MULTIPLIER)" ;;
  esac
done
runs=${RUNS:-1}
settle=${SETTLE:-10}
replay_timeout=${REPLAY_TIMEOUT:-600}
preload=${PRELOAD:-1}
# Prerequisites, each with what to do about it.
[ -r "$cap" ] || die "cannot read the capture $cap"
[ "$(id -u)" = 0 ] || die "needs root (network namespaces, a veth pair, tcpreplay's raw socket): run it with sudo"
command -v ip >/dev/null || die "ip is missing: apt-get install iproute2"
for t in tcpreplay tcpdump timeout; do
  command -v "$t" >/dev/null || die "$t is missing: apt-get install ${t/timeout/coreutils}"
done
[ -x /usr/bin/time ] || die "/usr/bin/time (GNU time) is missing: apt-get install time"
perf=0
if [ "${PERF:-1}" != 0 ] && command -v perf >/dev/null; then perf=1; fi
bin=${HTTSHARK_BIN:-./target/release/httshark}
if [ -z "${HTTSHARK_BIN:-}" ] && [ ! -x "$bin" ]; then nice -n 10 cargo build --release --quiet --bin httshark; fi
[ -x "$bin" ] || die "no httshark binary at $bin (set HTTSHARK_BIN)"
bin=$(realpath "$bin")
IFS=';' read -r -a variants <<< "${HTTSHARK_ARGS:-}"
[ ${#variants[@]} -gt 0 ] || variants=("")

tx=lbtx-$$ rx=lbrx-$$ a=lbt$$ b=lbr$$
work=$(mktemp -d "${LIVE_OUT:-/dev/shm}/httshark-live.XXXXXX")
cleanup() {
  # tcpreplay (timeout passes the signal on) and httshark's process group (setsid: time,
  # perf and httshark).
  [ -n "${rp_pid:-}" ] && kill "$rp_pid" 2>/dev/null
  [ -n "${hs_pid:-}" ] && kill -KILL -- "-$hs_pid" 2>/dev/null
  wait 2>/dev/null
  ip netns del "$tx" 2>/dev/null || true
  ip netns del "$rx" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
ip netns add "$tx" 2>/dev/null || die "cannot create a network namespace (ip netns add): needs root with CAP_SYS_ADMIN (in a container: --privileged)"
ip netns add "$rx"
ip link add "$a" type veth peer name "$b" || die "cannot create a veth pair (is the veth module available?)"
ip link set "$a" netns "$tx"; ip link set "$b" netns "$rx"
for ns in "$tx" "$rx"; do ip -n "$ns" link set lo up; done
# No IPv6 on the pair: no router solicitations or DAD beside the replayed frames.
for pair in "$tx $a" "$rx $b"; do
  set -- $pair
  ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" 2>/dev/null || true
done
ip -n "$tx" link set "$a" up; ip -n "$rx" link set "$b" up

procs=(-har-processors "${PROCESSORS:-file,sites-stats,transactions-sizes}")
# "field value" from httshark's summary and counters.
summary_of() {
  local f=$1
  sed -nE 's/.* ([0-9]+) dropped by the kernel.*/dropped \1/p;
    s/^httshark: transactions: ([0-9]+) \(([0-9]+) answered, ([0-9]+) unanswered.*/transactions \1\nanswered \2\nunanswered \3/p' "$f"
  awk '$1 == "httshark:" && $2 ~ /^(packets|kernel_dropped|interface_dropped|har_entries_written|outputs_behind_bodies_dropped)$/ { print $2, $3 }' "$f"
}
get() { awk -v k="$1" '$1 == k { v = $2 } END { print (v == "") ? "?" : v }' "$2"; }
# Drops on the veth pair: the sender's TX dropped + the receiver's RX dropped.
veth_drops() {
  local t r
  t=$(ip -n "$tx" -s link show "$a" | awk '/TX:/ { getline; print $4; exit }')
  r=$(ip -n "$rx" -s link show "$b" | awk '/RX:/ { getline; print $4; exit }')
  echo "$t $r"
}
# Backlog drops of every CPU (second column, hex).
softnet_drops() {
  local s=0 _ d _rest
  while read -r _ d _rest; do s=$((s + 0x$d)); done < /proc/net/softnet_stat
  echo "$s"
}

echo "bench-live: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "bench-live: reference: httshark -file $cap"
mkdir -p "$work/ref"
"$bin" -file "$cap" -hosts '' "${procs[@]}" -output-folder "$work/ref" -counters > /dev/null 2> "$work/ref.err" ||
  die "httshark -file failed: $(tail -3 "$work/ref.err")"
summary_of "$work/ref.err" > "$work/ref.sum"
ref_packets=$(get packets "$work/ref.sum")
ref_tx=$(get transactions "$work/ref.sum")
ref_answered=$(get answered "$work/ref.sum")
rm -rf "$work/ref"
[ "$ref_packets" != "?" ] && [ "$ref_packets" -gt 0 ] || die "the reference read no packet: $(tail -3 "$work/ref.err")"
# The capture's duration, for `recorded`: its first and last timestamps (capinfos is
# quicker when there).
if command -v capinfos >/dev/null; then
  duration=$(capinfos -u -M "$cap" | sed -nE 's/^Capture duration: *([0-9.]+) seconds.*/\1/p')
else
  duration=$(tcpdump -tt -n -r "$cap" 2>/dev/null | sed -n '1p;$p' | awk '{ t[NR] = $1 } END { print t[2] - t[1] }')
fi
rec_pps=$(awk -v n="$ref_packets" -v d="${duration:-0}" 'BEGIN { if (d > 0) printf "%d", n / d + 0.5 }')
echo "bench-live: reference: $ref_packets packets in ${duration:-?} s (${rec_pps:-?} packets/s), $ref_tx transactions ($ref_answered answered)"

rows="$work/rows"
: > "$rows"
one_run() {
  local mode=$1 r=$2 d="$work/run" extra
  read -r -a extra <<< "$3"
  rm -rf "$d"; mkdir -p "$d/out"
  local replay=(tcpreplay -i "$a" --stats=0)
  [ "$preload" = 1 ] && replay+=(--preload-pcap)
  case $mode in
    recorded)
      [ -n "$rec_pps" ] || die "the capture's duration is unknown: give pps=N"
      replay+=(--pps="$rec_pps") ;;
    topspeed) replay+=(--topspeed) ;;
    pps=*) replay+=(--pps="${mode#pps=}") ;;
    mbps=*) replay+=(--mbps="${mode#mbps=}") ;;
    x=*) replay+=(--multiplier="${mode#x=}") ;;
  esac
  local veth0 soft0 veth1 soft1
  veth0=$(veth_drops); soft0=$(softnet_drops)
  local run=(/usr/bin/time -f "%M %e %U %S" -o "$d/time")
  [ "$perf" = 1 ] && run+=(perf record -q -e task-clock -F 499 -o "$d/perf.data" --)
  setsid ip netns exec "$rx" "${run[@]}" "$bin" -device "$b" -hosts '' "${procs[@]}" -output-folder "$d/out" \
    -c "$ref_packets" -counters ${extra[@]+"${extra[@]}"} > /dev/null 2> "$d/httshark.err" &
  hs_pid=$!
  # Ready when it says where it captures (the capture is open before that line).
  local i
  for i in $(seq 100); do
    grep -q "listening on" "$d/httshark.err" 2>/dev/null && break
    kill -0 "$hs_pid" 2>/dev/null || break
    sleep 0.1
  done
  sleep 0.5
  local rc=0
  # In the background: a signal to this script runs its trap at once, not after tcpreplay.
  timeout -k 5 "$replay_timeout" ip netns exec "$tx" "${replay[@]}" "$cap" > "$d/replay.out" 2>&1 &
  rp_pid=$!
  wait "$rp_pid" || rc=$?
  rp_pid=
  [ $rc = 124 ] && echo "bench-live: tcpreplay stopped at the ${replay_timeout} s limit" >&2
  # httshark stops by itself at the last packet; if packets were lost, interrupt it.
  for i in $(seq $((settle * 10))); do
    kill -0 "$hs_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$hs_pid" 2>/dev/null; then
    # The capturing process is the child of time (or of perf under time).
    local target
    target=$(pgrep -P "$hs_pid" | head -1)
    [ "$perf" = 1 ] && [ -n "$target" ] && target=$(pgrep -P "$target" | head -1)
    [ -n "$target" ] && kill -INT "$target"
    for i in $(seq 300); do kill -0 "$hs_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$hs_pid" 2>/dev/null && { echo "bench-live: httshark did not stop in 30 s, killed" >&2; kill -KILL "$target" 2>/dev/null; }
  fi
  wait "$hs_pid" 2>/dev/null || true
  hs_pid=
  veth1=$(veth_drops); soft1=$(softnet_drops)
  summary_of "$d/httshark.err" > "$d/sum"
  local pps mbps sent failed secs
  sent=$(sed -nE 's/^Actual: ([0-9]+) packets.*/\1/p' "$d/replay.out")
  secs=$(sed -nE 's/^Actual: .* sent in ([0-9.]+) seconds.*/\1/p' "$d/replay.out")
  pps=$(sed -nE 's/^Rated: .* ([0-9.]+) pps.*/\1/p' "$d/replay.out")
  mbps=$(sed -nE 's/^Rated: .*Bps, ([0-9.]+) Mbps.*/\1/p' "$d/replay.out")
  failed=$(sed -nE 's/^[[:space:]]*Failed packets:[[:space:]]*([0-9]+).*/\1/p' "$d/replay.out")
  local rss wall u s cpu
  read -r rss wall u s < "$d/time" || true
  cpu=$(echo "${u:-0} ${s:-0}" | awk '{ printf "%.2f", $1 + $2 }')
  local threads=""
  if [ "$perf" = 1 ] && [ -f "$d/perf.data" ]; then
    # The sampled share of each thread (names cut at 15 bytes by the kernel) times the
    # process's CPU time: CPU seconds per thread.
    threads=$(perf report -i "$d/perf.data" --sort pid --stdio 2>/dev/null |
      awk -v cpu="$cpu" '$1 ~ /^[0-9.]+%$/ { split($2, p, ":"); n = p[2]; sub(/^httshark-?/, "", n); if (n == "") n = "capture"; if (n == "proces") n = "processors"
        printf "%s%s %.2f", sep, n, cpu * $1 / 100; sep = ", " }')
  fi
  if [ -z "$threads" ]; then
    # httshark's own split ("httshark: CPU: capture 0.25 s, worker 1.12 s, outputs 1.33 s").
    threads=$(sed -nE 's/^httshark: CPU: capture ([0-9.]+) s, (.*worker[s]?) ([0-9.]+) s, outputs ([0-9.]+) s$/capture \1, \2 \3, outputs \4/p' \
      "$d/httshark.err" | tail -1)
  fi
  local captured live_tx kd vt vr shed
  captured=$(get packets "$d/sum"); live_tx=$(get transactions "$d/sum"); kd=$(get dropped "$d/sum")
  # -counters prints only the counters that are not 0.
  shed=$(get outputs_behind_bodies_dropped "$d/sum"); [ "$shed" = "?" ] && shed=0
  read -r vt vr <<< "$(paste -d' ' <(echo "$veth0") <(echo "$veth1") | awk '{ print $3 - $1, $4 - $2 }')"
  local verdict=equal
  [ "$live_tx" = "$ref_tx" ] || verdict="**differs**"
  printf '| %s | %s | %s | %s | %s | %s | %s | %s/%s | %s | %s | %s/%s | %s | %s (%s) | %s | %s | %s | %s |\n' \
    "$mode" "${3:-(defaults)}" "$(cut -d' ' -f1 /proc/loadavg)" "${secs:-?}" "${sent:-?}" "${pps:-?}" "${mbps:-?}" "${failed:-?}" "$ref_packets" "$captured" "$kd" \
    "$vt" "$vr" "$((soft1 - soft0))" "$live_tx" "$verdict" "$shed" "$cpu" \
    "$(( ${rss:-0} / 1024 ))" "${threads:-n/a}" | tee -a "$rows"
  if [ "$live_tx" != "$ref_tx" ] || [ "$kd" != 0 ]; then
    echo "bench-live: $mode run $r: httshark's summary:" >&2
    grep -E "done|transactions:|CPU:|warning" "$d/httshark.err" | sed 's/^/  /' >&2
  fi
}
header="| mode | more flags | load (1 min) | tcpreplay s | sent | packets/s | Mbit/s | failed sends / packets | httshark captured | kernel dropped (pcap) | veth drops TX/RX | softnet drops | transactions live (vs -file $ref_tx) | bodies dropped (outputs behind) | httshark CPU s | peak RSS MiB | CPU s per thread (perf sampled) or per stage (httshark's summary) |"
sep="|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
echo "$header"; echo "$sep"
for r in $(seq "$runs"); do
  for v in "${variants[@]}"; do
    for m in "${modes[@]}"; do one_run "$m" "$r" "$v"; done
  done
done
echo "bench-live: load average after: $(cut -d' ' -f1-3 /proc/loadavg); httshark flags: -device (veth) -hosts '' ${procs[*]} -c $ref_packets -counters"
if [ -n "${RESULTS:-}" ]; then
  {
    echo "<!-- $(date -u '+%Y-%m-%d %H:%M UTC') scripts/bench-live.sh $cap ${modes[*]} RUNS=$runs HTTSHARK_ARGS='${HTTSHARK_ARGS:-}' load $(cut -d' ' -f1-3 /proc/loadavg) -->"
    echo "$header"; echo "$sep"; cat "$rows"
  } >> "$RESULTS"
fi
