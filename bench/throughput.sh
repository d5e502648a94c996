#!/usr/bin/env bash
# Whole-process throughput: `medtap -r` against `tcpdump -r` (bare libpcap
# reading and writing the same records) on one synthetic capture, timed with
# hyperfine. Builds medtap and the generator (release), writes the capture
# into target/bench/ (reused while the parameters and the generator are
# unchanged), times every command, and prints packets/s, Gbit/s and the
# ratio to tcpdump.
#
#   bench/throughput.sh [--packets N] [--workers N[,N…]] [--runs N] [--devices D] [--seed S]
#
# --workers lists explicit worker counts timed besides medtap's default
# (default list: 1,2); medtap --no-baselines is timed too, for the cost of
# baselines and alerts. Results: target/bench/throughput.json (hyperfine),
# target/bench/throughput.txt (the table).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

packets=1000000
devices=4000
seed=120282244473200 # the generator's default (0x6d6564746170)
workers=1,2
runs=10

usage() {
  sed -n '9p' "$0" | sed 's/^#   //' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --packets) packets=${2:?}; shift 2 ;;
    --devices) devices=${2:?}; shift 2 ;;
    --seed) seed=${2:?}; shift 2 ;;
    --workers) workers=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    -h | --help) usage ;;
    *) echo "throughput: unknown argument: $1" >&2; usage ;;
  esac
done
for n in "$packets" "$devices" "$seed" "$runs" ${workers//,/ }; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "throughput: not a number: $n" >&2; exit 2; }
done
[ "$runs" -ge 3 ] || { echo "throughput: --runs must be at least 3" >&2; exit 2; }

# Tools: libpcap and tcpdump through scripts/setup.sh; hyperfine and python3
# too when absent (installed when run as root).
extra=()
command -v hyperfine >/dev/null 2>&1 || extra+=(hyperfine)
command -v python3 >/dev/null 2>&1 || extra+=(python3)
scripts/setup.sh "${extra[@]}"

echo "throughput: building (release)" >&2
cargo build --release --quiet --bin medtap --example synth_capture

mkdir -p target/bench
pcap="target/bench/synth-${packets}p-${devices}d-${seed}.pcap"
meta="$pcap.meta"
source_hash=$(sha256sum examples/synth_capture.rs | cut -d' ' -f1)
if [ -f "$pcap" ] && [ -f "$meta" ] && grep -qx "source=$source_hash" "$meta"; then
  echo "throughput: reusing $pcap" >&2
else
  echo "throughput: writing $pcap" >&2
  rm -f "$pcap" "$meta"
  line=$(target/release/examples/synth_capture "$pcap.tmp" --packets "$packets" \
    --devices "$devices" --seed "$seed")
  mv "$pcap.tmp" "$pcap"
  { echo "$line" | tr ' ' '\n'; echo "source=$source_hash"; } >"$meta"
  echo "sha256=$(sha256sum "$pcap" | cut -d' ' -f1)" >>"$meta"
fi

medtap=target/release/medtap
nproc=$(nproc)
default_workers=$((nproc > 1 ? nproc - 1 : 1))
plural=$([ "$default_workers" -eq 1 ] || echo s)

# One plain run for the figures medtap reports itself: packets and wire bytes
# from its final stats event.
events=target/bench/events.json
rm -f "$events"
"$medtap" -r "$pcap" -o "$events"

commands=(
  -n "tcpdump -r" "tcpdump -r $pcap -w /dev/null"
  -n "medtap (default: $default_workers worker$plural)" "$medtap -r $pcap -o /dev/null"
  -n "medtap --no-baselines" "$medtap -r $pcap -o /dev/null --no-baselines"
)
for w in ${workers//,/ }; do
  commands+=(-n "medtap --workers $w" "$medtap -r $pcap -o /dev/null --workers $w")
done
json=target/bench/throughput.json
hyperfine -N --warmup 1 --runs "$runs" --export-json "$json" "${commands[@]}"

python3 - "$json" "$events" "$meta" "$pcap" "$nproc" <<'EOF' | tee target/bench/throughput.txt
import json, os, sys

json_path, events_path, meta_path, pcap, nproc = sys.argv[1:]
meta = dict(l.strip().split("=", 1) for l in open(meta_path) if "=" in l)
stats = None
for line in open(events_path):
    event = json.loads(line)
    if event.get("event_type") == "stats":
        stats = event["stats"]
if stats is None:
    sys.exit("throughput: no stats event from medtap")
packets = stats["capture"]["packets"]
wire = stats["capture"]["bytes"]
if packets != int(meta["packets"]) or wire != int(meta["wire_bytes"]):
    print(f"warning: medtap read {packets} packets / {wire} bytes, the generator wrote "
          f"{meta['packets']} / {meta['wire_bytes']}", file=sys.stderr)
results = json.load(open(json_path))["results"]
base = results[0]["mean"]
print()
print(f"capture: {pcap}: {packets} packets, {wire} bytes on the wire, "
      f"{os.path.getsize(pcap)} bytes in the file; {nproc} cores")
print(f"{'command':<30} {'mean s':>7} {'± s':>6} {'min s':>6} {'CPU s':>6} {'Mpkt/s':>7} "
      f"{'Gbit/s':>6} {'vs tcpdump':>10} {'(by min)':>8}")
for r in results:
    mean = r["mean"]
    print(f"{r['command']:<30} {mean:>7.3f} {r['stddev']:>6.3f} {r['min']:>6.3f} "
          f"{r['user'] + r['system']:>6.3f} {packets / mean / 1e6:>7.3f} "
          f"{wire * 8 / mean / 1e9:>6.2f} {base / mean:>10.0%} {results[0]['min'] / r['min']:>8.0%}")
default = results[1]
ratio = base / default["mean"]
verdict = "meets" if ratio >= 0.5 else "is below"
print(f"\nmedtap with the default worker count runs at {ratio:.0%} of tcpdump's rate: "
      f"{verdict} the 50 % target.")
protocol_only = results[2]
cost = default["mean"] / protocol_only["mean"] - 1
cost_min = default["min"] / protocol_only["min"] - 1
print(f"baselines and alerts cost {cost:+.0%} of the time without them (by min {cost_min:+.0%}); "
      f"the target is at most +10 %.")
EOF
