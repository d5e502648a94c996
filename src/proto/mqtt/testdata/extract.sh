#!/usr/bin/env bash
# Extracts the TCP stream bytes of the MQTT test captures into
# src/proto/mqtt/testdata/streams/*.bin, one file per TCP stream, for the
# parser's replay tests. Needs tshark and python3.
#
# File format (all streams): a sequence of chunks, each
#   1 byte   direction: '>' client to server, '<' server to client
#   4 bytes  chunk length, big endian
#   n bytes  the chunk, as tshark's "follow,tcp,raw" printed it
# except where tshark reports bytes missing from the capture: then the
# direction byte is '}' (client to server) or '{' (server to client), the
# length is the number of bytes lost, and no bytes follow.
# The client is the side that sent the SYN; for a stream picked up midstream,
# the side not on a well-known MQTT port (1883, 1884, 8883, 17500, 17501).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
out="$here/streams"
rm -rf "$out"
mkdir -p "$out"

pcaps=(
  "$root"/fixtures/public/suricata-verify-mqtt/*/*.pcap
  "$root"/fixtures/public/ndpi/mqtt.pcap
  "$root"/fixtures/public/ndpi/coap_mqtt.pcap
  "$here"/*.pcap
)

for pcap in "${pcaps[@]}"; do
  [ -f "$pcap" ] || continue
  case "$pcap" in
    */suricata-verify-mqtt/*) name="sv-$(basename "$(dirname "$pcap")")" ;;
    */ndpi/*) name="ndpi-$(basename "$pcap" .pcap)" ;;
    *) name="own-$(basename "$pcap" .pcap)" ;;
  esac
  for stream in $(tshark -r "$pcap" -T fields -e tcp.stream 2>/dev/null | sort -nu); do
    syn="$(tshark -r "$pcap" -Y "tcp.stream eq $stream && tcp.flags.syn==1 && tcp.flags.ack==0" \
      -T fields -e tcp.srcport 2>/dev/null | head -n1)"
    tshark -r "$pcap" -q -z "follow,tcp,raw,$stream" 2>/dev/null |
      python3 -c '
import re, struct, sys
syn_port, path = sys.argv[1], sys.argv[2]
servers = {"1883", "1884", "8883", "17500", "17501"}
nodes, chunks = {}, []
for line in sys.stdin:
    m = re.match(r"Node ([01]): .*:(\d+)$", line.strip())
    if m:
        nodes[m.group(1)] = m.group(2)
        continue
    s = line.rstrip("\n")
    if not s.strip() or not re.fullmatch(r"\t?[0-9a-f]+", s):
        continue
    chunks.append((s.startswith("\t"), bytes.fromhex(s.strip())))
if not chunks:
    sys.exit(0)
# Node 0 is the first sender; decide whether it is the client.
if syn_port:
    node0_client = nodes.get("0") == syn_port
else:
    node0_client = nodes.get("0") not in servers
with open(path, "wb") as f:
    for from_node1, data in chunks:
        to_server = (not from_node1) == node0_client
        gap = re.fullmatch(rb"\[(\d+) bytes missing in capture file\]\x00?", data)
        if gap:
            f.write(b"}" if to_server else b"{")
            f.write(struct.pack(">I", int(gap.group(1))))
            continue
        f.write(b">" if to_server else b"<")
        f.write(struct.pack(">I", len(data)))
        f.write(data)
' "$syn" "$out/$name.$stream.bin"
  done
done
ls -l "$out"
