#!/usr/bin/env bash
# Peak memory under floods: medtap's peak RSS (GNU time's maximum resident
# set size) on four flood captures written by examples/flood.rs, with the
# default budget and with --memcap 256M, and what each run evicted (from its
# final `stats` event). Fails when a run with --memcap 256M peaks above
# 384 MiB: the budget plus the documented constant.
#
#   bench/memory.sh [--scale F] [--workers N]
#
# --scale multiplies every flood's size (default 1: a 2 M-packet MAC flood,
# a 2 M-packet ARP flood, 20 000 half-open DICOM and 100 000 half-open MQTT
# connections). Captures go to target/bench/ and are reused while the
# generator is unchanged. Results: target/bench/memory.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

scale=1
workers=1
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) scale=${2:?}; shift 2 ;;
    --workers) workers=${2:?}; shift 2 ;;
    -h | --help) sed -n '8p' "$0" | sed 's/^#   //' >&2; exit 2 ;;
    *) echo "memory: unknown argument: $1" >&2; exit 2 ;;
  esac
done
limit_kib=$((384 * 1024))

if [ ! -x /usr/bin/time ] || ! command -v python3 >/dev/null; then
  [ "$(id -u)" -eq 0 ] || { echo "memory: needs GNU time and python3 (apt-get install time python3)" >&2; exit 1; }
  apt-get install -y time python3 >/dev/null
fi
cargo build --release --quiet --bin medtap --example flood
out=target/bench
mkdir -p "$out"
stamp=$(sha256sum examples/flood.rs | cut -c1-12)

cases=(
  "mac-flood $(python3 -c "print(int(2000000 * $scale))")"
  "arp-flood $(python3 -c "print(int(2000000 * $scale))")"
  "dicom-halfopen $(python3 -c "print(int(20000 * $scale))")"
  "mqtt-halfopen $(python3 -c "print(int(100000 * $scale))")"
)

report=$out/memory.txt
printf '%-16s %-9s %10s %11s %12s %9s %12s %8s\n' \
  case memcap packets peak_MiB flows_evicted devices dev_evicted seconds | tee "$report"
failed=0
for c in "${cases[@]}"; do
  set -- $c
  kind=$1 count=$2
  pcap=$out/flood-$kind-$count-$stamp.pcap
  [ -f "$pcap" ] || ./target/release/examples/flood "$kind" "$count" "$pcap" >/dev/null
  for memcap in default 256M; do
    args=(-r "$pcap" -o "$out/memory-events.json" --workers "$workers")
    [ "$memcap" = default ] || args+=(--memcap "$memcap")
    rm -f "$out/memory-events.json"
    start=$(date +%s.%N)
    /usr/bin/time -f '%M' -o "$out/memory-rss" ./target/release/medtap "${args[@]}"
    end=$(date +%s.%N)
    rss=$(tail -1 "$out/memory-rss")
    line=$(tail -1 "$out/memory-events.json" | python3 -c '
import json, sys
s = json.load(sys.stdin)["stats"]
print(s["capture"]["packets"], s["flow"]["evicted"], s["device"]["total"], s["device"]["evicted"])')
    set -- $line
    printf '%-16s %-9s %10s %11.0f %12s %9s %12s %8.1f\n' "$kind" "$memcap" "$1" \
      "$(awk "BEGIN { print $rss / 1024 }")" "$2" "$3" "$4" "$(awk "BEGIN { print $end - $start }")" | tee -a "$report"
    if [ "$memcap" = 256M ] && [ "$rss" -gt "$limit_kib" ]; then
      echo "memory: $kind with --memcap 256M peaked at $((rss / 1024)) MiB, above 384 MiB" >&2
      failed=1
    fi
  done
done
rm -f "$out/memory-events.json" "$out/memory-rss"
exit $failed
