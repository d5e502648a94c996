#!/usr/bin/env bash
# Turns each HL7 capture (the public tapirx and nDPI ones, and those make.sh
# records here) into two test files:
#
#   NAME.stream  the TCP payload of its first connection as tshark follows it
#                (`-z follow,tcp,raw,0`): one chunk a line, "C <hex>" from the
#                client (node 0), "S <hex>" from the server.
#   NAME.tshark  what tshark's own HL7 dissector (`-d tcp.port==P,hl7`) says
#                about each message, ground truth for the tests: a line
#                "message <tcp.srcport>" per dissected PDU, "segment <NAME>"
#                per segment, and "<SEG>-<n>\t<value>" for the fields the
#                parser keeps (MSH-3..6, 9..12, MSA-1..2, PRT-10, PRT-16,
#                OBX-18) in HL7 numbering. tshark numbers the segment name as
#                field 1, so its "field N" is SEG-(N-1) except in MSH, where
#                MSH-1 is the separator and tshark's numbering is HL7's.
#                Nothing else of a segment (no PID, no OBX-5) is written.
#
# Run from anywhere: src/proto/hl7/testdata/extract.sh
set -euo pipefail
cd "$(dirname "$0")"
ROOT=../../../..

extract() { # extract PCAP NAME
    local pcap=$1 name=$2 port
    port=$(tshark -r "$pcap" -Y 'tcp.flags.syn==1 && tcp.flags.ack==0' -T fields -e tcp.dstport 2>/dev/null | head -1)
    tshark -r "$pcap" -q -z follow,tcp,raw,0 2>/dev/null |
        awk '/^Node 1:/ { body = 1; next }
             /^=+$/ { body = 0 }
             body && /^\t/ { sub(/^\t/, ""); print "S " $0; next }
             body && NF { print "C " $0 }' >"$name.stream"
    tshark -r "$pcap" -d "tcp.port==$port,hl7" -V -Y hl7 2>/dev/null |
        awk '
        /^Transmission Control Protocol, Src Port: / { split($0, a, /Src Port: |, Dst/); port = a[2] }
        /^Health Level Seven/ { print "message " port; inhl7 = 1; next }
        /^[^ ]/ { inhl7 = 0 }
        inhl7 && /^    [A-Z][A-Z0-9][A-Z0-9] \(/ { seg = $1; print "segment " seg; next }
        inhl7 && /^        field [0-9]+: / {
            n = $2; sub(/:$/, "", n); n = n + 0
            value = $0; sub(/^        field [0-9]+: /, "", value)
            hl7n = (seg == "MSH") ? n : n - 1
            keep = (seg == "MSH" && (hl7n >= 3 && hl7n <= 6 || hl7n >= 9 && hl7n <= 12)) ||
                   (seg == "MSA" && hl7n <= 2) ||
                   (seg == "PRT" && (hl7n == 10 || hl7n == 16)) ||
                   (seg == "OBX" && hl7n == 18)
            if (keep && hl7n >= 1) printf "%s-%d\t%s\n", seg, hl7n, value
        }' >"$name.tshark"
    echo "extracted $name ($(wc -l <"$name.stream") chunks, $(grep -c '^message' "$name.tshark") messages)"
}

for f in HL7-ADT HL7-ORM HL7-ORU HL7-ADT-UDI-PRT HL7-ADT-UDI-OBX; do
    extract "$ROOT/fixtures/public/tapirx/$f.pcap" "tapirx-$f"
done
extract "$ROOT/fixtures/public/ndpi/hl7.pcap" ndpi-hl7
for f in *.pcap; do
    [ -e "$f" ] && extract "$f" "${f%.pcap}"
done
