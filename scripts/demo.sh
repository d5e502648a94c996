#!/usr/bin/env bash
# Sets up, builds and runs medtap on the shipped ward capture: device events
# on stdout, the inventory in target/demo/devices.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
scripts/setup.sh
cargo build --release --quiet
mkdir -p target/demo
target/release/medtap -r fixtures/ward.pcapng --inventory target/demo/devices.json "$@"
echo "inventory: target/demo/devices.json" >&2
