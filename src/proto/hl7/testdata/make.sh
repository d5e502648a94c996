#!/usr/bin/env bash
# Makes the HL7/MLLP test captures in this folder from real traffic on
# 127.0.0.1: python-hl7's MLLP client (mllp_send and hl7.client.MLLPClient)
# sends made-up messages to mllp_listener.py, which acknowledges them, while
# tcpdump records port 2575. Then extract.sh turns every capture into stream
# and ground-truth files.
#
# Needs: root (tcpdump on lo), python3 with `pip install hl7`, tcpdump, tshark.
# Run from anywhere: src/proto/hl7/testdata/make.sh
set -euo pipefail
cd "$(dirname "$0")"
PORT=2575

python3 -c 'import hl7.client' 2>/dev/null || { echo "needs: pip install hl7" >&2; exit 1; }

python3 mllp_listener.py "$PORT" &
LISTENER=$!
trap 'kill "$LISTENER" 2>/dev/null || true' EXIT
sleep 0.5

capture() { # capture NAME COMMAND...
    local name=$1; shift
    tcpdump -i lo -U -s 0 -w "$name.pcap" "tcp port $PORT" 2>/dev/null &
    local dump=$!
    sleep 1
    "$@"
    sleep 1
    kill -INT "$dump"
    wait "$dump" || true
    echo "made $name.pcap"
}

adt_with_mllp_send() {
    local file
    file=$(mktemp)
    python3 mllp_scenarios.py "$PORT" write-adt >"$file"
    mllp_send -q -p "$PORT" -f "$file" 127.0.0.1 >/dev/null
    rm -f "$file"
}

capture adt_a01 adt_with_mllp_send
capture oru_r01 python3 mllp_scenarios.py "$PORT" oru
capture batch python3 mllp_scenarios.py "$PORT" batch
capture alt_encoding python3 mllp_scenarios.py "$PORT" encoding
capture split python3 mllp_scenarios.py "$PORT" split
capture garbage python3 mllp_scenarios.py "$PORT" garbage

./extract.sh
