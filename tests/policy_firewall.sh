#!/usr/bin/env bash
# A ward behind a real nftables router, for tests/policy_firewall.rs:
#
#   MEDTAP=target/debug/medtap tests/policy_firewall.sh WORKDIR
#
# Network namespaces (named mtpf<pid>-*, deleted on exit): a router whose
# bridge br-ward joins a CT, an infusion pump and a patient monitor, and
# whose second link leads to a server namespace holding the PACS (dcmtk
# dcmqrscp, 10.77.2.10:104), the HL7 engine (MLLP, 10.77.2.20:2575), the MQTT
# broker (mosquitto, 10.77.2.30:1883), a DNS server (10.77.2.53) and an
# "internet" host (203.0.113.50). tcpdump records br-ward, as a SPAN port
# would.
#
# 1. Learning: two rounds of the ward's normal traffic (the CT verifies and
#    stores an image with dcmtk, the monitor sends ORU^R01 with python-hl7's
#    mllp_send, the pump publishes with mosquitto_pub; each pings its
#    gateway and resolves its server first). medtap learns it (--learn all)
#    and writes the policy, as JSON and as an nftables ruleset, which the
#    router loads.
# 2. Watching: the same normal traffic again, which must pass; then the
#    departures: the CT queries the PACS (C-FIND, on the port it stores on),
#    the pump scans three PACS ports, the pump publishes to the internet
#    host, the monitor sends to a second HL7 engine address.
#
# WORKDIR gets learn.pcap, watch.pcap, base.json, policy.json, ward.nft,
# counters.json (nft -j list table inet medtap after the departures),
# outcomes.txt ("<step> passed|blocked", one line per departure) and
# departures.txt ("<client> <server> <proto> <port>", the connections the
# policy does not allow: the C-FIND's by its DICOM requests, the others by
# their ports). A normal step that fails stops the script with
# its name and exit status 1.
set -euo pipefail
export PYTHONDONTWRITEBYTECODE=1

WORK=${1:?usage: policy_firewall.sh WORKDIR}
MEDTAP=${MEDTAP:?set MEDTAP to the medtap binary}
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
APPS=$REPO/fixtures/tools/apps.py
# dcmtk's own tools, ahead of any Python environment's same-named scripts;
# python-hl7's mllp_send runs with the system Python that has it.
PATH=/usr/bin:/bin:/usr/sbin:/sbin:$PATH
mkdir -p "$WORK"

# A prefix of this run's own: tests may run side by side.
NS_PREFIX=mtpf$$-
NETNS_WHO=policy_firewall.sh
# Name look-ups stay inside the namespaces (ns_new): dcmtk's reverse
# look-ups of its peers are answered at once.
NETNS_HOSTS=$'127.0.0.1 localhost\n10.77.1.11 ct\n10.77.1.21 pump\n10.77.1.13 mon\n10.77.2.10 pacs'
# shellcheck source-path=SCRIPTDIR source=../fixtures/tools/netns.sh
. "$REPO/fixtures/tools/netns.sh"
# shellcheck source-path=SCRIPTDIR source=../fixtures/tools/dicom.sh
. "$REPO/fixtures/tools/dicom.sh"
# Traps only: with a prefix of its own, no earlier run left any of this
# run's namespaces (and those of other runs are theirs). WORKDIR is the
# caller's: it stays.
netns_traps

fail() {
    echo "policy_firewall.sh: $*" >&2
    exit 1
}

# ------------------------------------------------------------------ the ward

# No IPv6 anywhere: its neighbour discovery is not what this test is about.
ns_new router noipv6
in_ns router sysctl -qw net.ipv4.ip_forward=1
in_ns router ip link add br-ward type bridge
in_ns router ip addr add 10.77.1.1/24 dev br-ward
in_ns router ip link set br-ward address f4:bd:9e:77:01:01 up

# name, address, MAC (real vendor prefixes: GE Healthcare, Baxter, Philips)
WARD=("ct 10.77.1.11 44:4b:5d:77:01:11" "pump 10.77.1.21 58:46:e1:77:01:21" "mon 10.77.1.13 00:09:5c:77:01:13")
for host in "${WARD[@]}"; do
    read -r name addr mac <<<"$host"
    ns_new "$name" noipv6
    veth "$name" eth0 router "v-$name" "$mac"
    in_ns router ip link set "v-$name" master br-ward up
    in_ns "$name" ip link set eth0 up
    in_ns "$name" ip addr add "$addr/24" dev eth0
    in_ns "$name" ip route add default via 10.77.1.1
done

ns_new srv noipv6
veth srv eth0 router v-srv
in_ns router ip addr add 10.77.2.1/24 dev v-srv
in_ns router ip addr add 203.0.113.1/24 dev v-srv
in_ns router ip link set v-srv up
in_ns srv ip link set eth0 up
# The DNS server's address first: it is the one its UDP answers leave from.
for addr in 10.77.2.53/24 10.77.2.10/24 10.77.2.20/24 10.77.2.21/24 10.77.2.30/24 203.0.113.50/24; do
    in_ns srv ip addr add "$addr" dev eth0
done
in_ns srv ip route add default via 10.77.2.1

# ------------------------------------------------------------------ servers

DNS=10.77.2.53 PACS=10.77.2.10 HL7=10.77.2.20 HL7_OTHER=10.77.2.21 BROKER=10.77.2.30 CLOUD=203.0.113.50

pixels=$(gradient_pixels)
{
    cat <<EOF
(0008,0005) CS [ISO_IR 100]
(0008,0008) CS [ORIGINAL\\PRIMARY\\AXIAL]
(0008,0016) UI =CTImageStorage
(0008,0018) UI [2.25.302301203720830915466127392047386460101]
(0008,0020) DA [20240315]
(0008,0060) CS [CT]
(0008,0070) LO [GE MEDICAL SYSTEMS]
(0008,1090) LO [Revolution EVO]
(0010,0010) PN [TEST^PATIENT^ONE]
(0010,0020) LO [FAKE000123]
(0020,000d) UI [2.25.302301203720830915466127392047386460102]
(0020,000e) UI [2.25.302301203720830915466127392047386460103]
(0020,0013) IS [1]
EOF
    image_pixel_module 8 8 "$pixels"
} >"$WORK/ct.dump"
dump2dcm -q +te "$WORK/ct.dump" "$WORK/ct.dcm"

mkdir -p "$WORK/db/PACS"
cat >"$WORK/dcmqrscp.cfg" <<EOF
NetworkTCPPort  = 104
MaxPDUSize      = 16384
MaxAssociations = 16
HostTable BEGIN
HostTable END
VendorTable BEGIN
VendorTable END
AETable BEGIN
PACS      $WORK/db/PACS      RW (200, 1024mb) ANY
AETable END
EOF

cat >"$WORK/mosquitto.conf" <<EOF
listener 1883 0.0.0.0
allow_anonymous true
persistence false
user root
log_dest stderr
EOF

# One ORU^R01 in its MLLP block, as mllp_send reads a file.
printf '\x0bMSH|^~\\&|INTELLIVUE|WARD3|HL7ENGINE|GENERAL_HOSPITAL|20240315103000||ORU^R01|MSG0001|P|2.5\rPID|1||FAKE000123^^^GH^MR||TEST^PATIENT^ONE\rOBR|1|||8867-4^Heart rate^LN\rOBX|1|NM|8867-4^Heart rate^LN||72|/min|||||F\r\x1c\r' >"$WORK/oru.hl7"

bg dns srv python3 "$APPS" dns-server 53 pacs.ward.example=$PACS hl7.ward.example=$HL7 mqtt.ward.example=$BROKER
wait_for "$WORK/dns.log" ready
bg hl7 srv python3 "$APPS" mllp-server 2575 HL7ENGINE
wait_for "$WORK/hl7.log" ready
bg pacs srv dcmqrscp -c "$WORK/dcmqrscp.cfg" 104
bg broker srv mosquitto -c "$WORK/mosquitto.conf"
wait_for "$WORK/broker.log" "running"
sleep 0.5

# ------------------------------------------------------------------ traffic

step() { # NAME COMMAND...: a normal step, which must succeed
    local name=$1
    shift
    echo "== $(date +%T.%N) $name" >>"$WORK/steps.log"
    "$@" >>"$WORK/steps.log" 2>&1 || fail "normal step '$name' failed (exit $?; see $WORK/steps.log)"
}

normal_round() {
    step "ct ping" in_ns ct ping -q -c 1 -W 2 10.77.1.1
    step "ct resolves" in_ns ct python3 "$APPS" dns-query $DNS pacs.ward.example
    step "ct C-ECHO" in_ns ct echoscu -aet CT01 -aec PACS $PACS 104
    step "ct C-STORE" in_ns ct storescu -aet CT01 -aec PACS $PACS 104 "$WORK/ct.dcm"
    step "mon ping" in_ns mon ping -q -c 1 -W 2 10.77.1.1
    step "mon resolves" in_ns mon python3 "$APPS" dns-query $DNS hl7.ward.example
    step "mon ORU^R01" in_ns mon /usr/bin/python3 /usr/bin/mllp_send --port 2575 --file "$WORK/oru.hl7" $HL7
    step "pump ping" in_ns pump ping -q -c 1 -W 2 10.77.1.1
    step "pump resolves" in_ns pump python3 "$APPS" dns-query $DNS mqtt.ward.example
    step "pump PUBLISH" in_ns pump mosquitto_pub -h $BROKER -i pump-07 -q 1 \
        -t ward3/pump-07/status -m '{"state":"infusing","rate_ml_h":25.0}'
}

record() { # FILE: tcpdump on the ward bridge until stop_recording
    capture_start router br-ward "$1" -s 0
}
stop_recording() {
    sleep 0.5
    capture_stop lossless
}

record "$WORK/learn.pcap"
normal_round
normal_round
stop_recording

"$MEDTAP" -r "$WORK/learn.pcap" --learn all --state "$WORK/base.json" -q -o /dev/null
"$MEDTAP" policy --state "$WORK/base.json" >"$WORK/policy.json"
"$MEDTAP" policy --state "$WORK/base.json" --format nftables >"$WORK/ward.nft"
in_ns router nft -f "$WORK/ward.nft"

record "$WORK/watch.pcap"
normal_round
: >"$WORK/outcomes.txt"
: >"$WORK/departures.txt"
departure() { # NAME COMMAND...: passed or blocked
    local name=$1
    shift
    if "$@" >>"$WORK/steps.log" 2>&1; then
        echo "$name passed" >>"$WORK/outcomes.txt"
    else
        echo "$name blocked" >>"$WORK/outcomes.txt"
    fi
}
departure "ct-c-find" in_ns ct findscu -aet CT01 -aec PACS -S -k QueryRetrieveLevel=STUDY \
    -k StudyInstanceUID -k ModalitiesInStudy=CT $PACS 104
# On the port the CT stores on: the ruleset lets it pass, the policy's
# DICOM requests do not.
echo "10.77.1.11 $PACS tcp 104" >>"$WORK/departures.txt"
for port in 22 80 445; do
    # Without an answer connect-scan prints "no answer" and exits 0: the
    # outcome is what it printed.
    if in_ns pump python3 "$APPS" connect-scan $PACS $port | grep -q "no answer"; then
        echo "pump-scan-$port blocked" >>"$WORK/outcomes.txt"
    else
        echo "pump-scan-$port passed" >>"$WORK/outcomes.txt"
    fi
    echo "10.77.1.21 $PACS tcp $port" >>"$WORK/departures.txt"
done
departure "pump-external" in_ns pump timeout 4 mosquitto_pub -h $CLOUD -i pump-07 -q 1 \
    -t ward3/pump-07/status -m '{"state":"infusing","rate_ml_h":25.0}'
echo "10.77.1.21 $CLOUD tcp 1883" >>"$WORK/departures.txt"
departure "mon-new-hl7-destination" in_ns mon timeout 4 /usr/bin/python3 /usr/bin/mllp_send \
    --port 2575 --file "$WORK/oru.hl7" $HL7_OTHER
echo "10.77.1.13 $HL7_OTHER tcp 2575" >>"$WORK/departures.txt"
stop_recording
in_ns router nft -j list table inet medtap >"$WORK/counters.json"
echo "policy_firewall.sh: done in $WORK" >&2
