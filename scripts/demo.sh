#!/usr/bin/env bash
# Sets up, builds and runs medtap on shipped captures:
#  1. the ward capture: device events (and the ward's cleartext alerts) on
#     stdout, the inventory in target/demo/devices.json;
#  2. the forensics workflow: learn a baseline from a capture known to be
#     clean (--learn all --state), then replay three incidents against it;
#     their alerts on stdout;
#  3. connections that never end: a ward whose MQTT, HL7 and DICOM clients
#     each hold one connection open for the whole capture, departing from
#     what they did on those connections after a minute of learning; its
#     alerts, each at the packet that made the departure;
#  4. isolation: the segmentation policy learned from the clean baseline,
#     as JSON in target/demo/policy.json and as an nftables ruleset in
#     target/demo/ward.nft (checked with `nft -c` when nft is there); then
#     the pump's scan replayed with --policy: the first of its
#     policy_violation alerts.
# Extra arguments go to the first run (e.g. --learn 2s).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh
cargo build --release --quiet
medtap=target/release/medtap
mkdir -p target/demo
echo "== ward: fixtures/ward.pcapng" >&2
"$medtap" -r fixtures/ward.pcapng --inventory target/demo/devices.json "$@"
echo "inventory: target/demo/devices.json" >&2

base=target/demo/base.json
rm -f "$base"
echo "== learning a baseline from fixtures/scenarios/benign_ward.pcapng (30 minutes of normal ward traffic)" >&2
"$medtap" -r fixtures/scenarios/benign_ward.pcapng --learn all --state "$base" -o /dev/null
for incident in dicom_query_from_modality mqtt_wildcard_subscribe fanout; do
  echo "== replaying fixtures/scenarios/$incident.pcapng against it: its alerts" >&2
  # Each replay on a copy: a run saves what it learned back to its state file.
  cp "$base" target/demo/incident.json
  "$medtap" -r "fixtures/scenarios/$incident.pcapng" --state target/demo/incident.json |
    grep '"event_type":"alert"'
done
echo "baseline: $base" >&2

echo "== connections that never end: fixtures/longlived/open.pcapng, learned for 60 s; its alerts" >&2
"$medtap" -r fixtures/longlived/open.pcapng --learn 60s | grep '"event_type":"alert"'

echo "== isolation: the policy learned from $base" >&2
"$medtap" policy --state "$base" > target/demo/policy.json
"$medtap" policy --state "$base" --format nftables > target/demo/ward.nft
grep -m 20 -E '^\s*(chain|set) |comment "' target/demo/ward.nft
if command -v nft >/dev/null 2>&1; then
  nft -c -f target/demo/ward.nft && echo "nft -c: ruleset accepted" >&2
fi
echo "policy: target/demo/policy.json, target/demo/ward.nft (docs/policy.md)" >&2
echo "== watching against the policy: fixtures/scenarios/fanout.pcapng with --policy; what it would not allow" >&2
cp "$base" target/demo/incident.json
"$medtap" -r fixtures/scenarios/fanout.pcapng --state target/demo/incident.json \
  --policy target/demo/policy.json | grep -m 5 '"kind":"policy_violation"'
