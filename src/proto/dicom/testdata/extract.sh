#!/usr/bin/env bash
# Extracts the TCP payload of the first TCP stream of each DICOM capture into
# NAME.stream, with tshark's "follow,tcp,raw": one record per chunk, as
#   direction (1 byte: 0 = client to server, 1 = server to client)
#   length    (4 bytes, big endian)
#   bytes     (length bytes)
# Captures: the ones make.sh writes here, and the public tapirx ones
# (fixtures/public/tapirx/dicom_arq_*.pcap, DICOM on port 104).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../.." && pwd)
convert() {
    tshark -r "$1" -q -z follow,tcp,raw,0 | python3 -c '
import struct, sys
out = open(sys.argv[1], "wb")
body = False
for line in sys.stdin:
    line = line.rstrip("\n")
    if line.startswith("Node 1:"):
        body = True
        continue
    if not body or not line.strip() or line.startswith("====="):
        continue
    direction = 1 if line.startswith("\t") else 0
    data = bytes.fromhex(line.strip())
    out.write(struct.pack(">BI", direction, len(data)) + data)
' "$2"
}
for pcap in "$here"/*.pcap; do
    convert "$pcap" "${pcap%.pcap}.stream"
done
for pcap in "$root"/fixtures/public/tapirx/dicom_arq_*.pcap; do
    name=$(basename "$pcap" .pcap)
    convert "$pcap" "$here/tapirx_$name.stream"
done
ls -la "$here"/*.stream
