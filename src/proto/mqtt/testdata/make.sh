#!/usr/bin/env bash
# Records real MQTT traffic between mosquitto's own clients and a mosquitto
# broker on 127.0.0.1:1884 into src/proto/mqtt/testdata/*.pcap, then runs
# extract.sh to turn them into stream files. Needs root (tcpdump on lo),
# mosquitto, mosquitto_pub, mosquitto_sub, mosquitto_passwd, tcpdump, tshark.
#
# The scenarios, one capture each:
#   v311-pub-will      3.1.1 publish QoS 1 by "pump-07" with user/password and a will
#   v5-pub-bulk        5.0 publish QoS 1 of a 3 MB payload (skip by length)
#   v5-sub-wildcard    5.0 subscriber to "#" (QoS 2) receiving a retained message
#   v311-sub-wildcard  3.1.1 subscriber to "#" and a second filter, then unsubscribe
#   refused-login      3.1.1 and 5.0 logins with a wrong password (refused)
# The password used is PASSWORD below; the tests assert it never reaches a record.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
port=1884
user=nurse
PASSWORD='Infus1on-Secret-77'
work="$(mktemp -d)"
chmod 755 "$work" # the broker drops root and must read its files
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

mosquitto_passwd -b -c "$work/passwd" "$user" "$PASSWORD" >/dev/null 2>&1
chmod 644 "$work/passwd"
cat >"$work/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
password_file $work/passwd
persistence false
CONF
mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
broker=$!
sleep 1

# 3 MB of a repeating, compressible pattern: the point is its length.
python3 -c 'import sys; sys.stdout.write(("ward3 pump-07 log line 0123456789abcdef\n" * 80000)[:3000000])' >"$work/bulk.bin"

capture() { # name, then the command that makes the traffic
  local name="$1"; shift
  tcpdump -i lo -U -s 0 -B 65536 -w "$here/$name.pcap" "tcp port $port" >/dev/null 2>&1 &
  local dump=$!
  sleep 1
  "$@"
  sleep 1
  kill "$dump"
  wait "$dump" 2>/dev/null || true
}

pub_will() {
  mosquitto_pub -p $port -h 127.0.0.1 -V mqttv311 -i pump-07 -u "$user" -P "$PASSWORD" \
    -k 30 --will-topic ward3/pump-07/status --will-payload offline --will-qos 1 --will-retain \
    -t ward3/pump-07/telemetry -q 1 -m '{"rate_ml_h":5.0}'
}
pub_bulk() {
  mosquitto_pub -p $port -h 127.0.0.1 -V mqttv5 -i pump-07 -u "$user" -P "$PASSWORD" \
    -D connect session-expiry-interval 60 -D connect receive-maximum 20 \
    -t ward3/pump-07/log -q 1 -f "$work/bulk.bin"
}
sub_v5() {
  mosquitto_pub -p $port -h 127.0.0.1 -V mqttv5 -i setup -r -t ward3/monitor-01/alarm -m low-battery
  mosquitto_sub -p $port -h 127.0.0.1 -V mqttv5 -i monitor-01 -t '#' -q 2 -C 1 -W 5 >/dev/null
  mosquitto_pub -p $port -h 127.0.0.1 -V mqttv5 -i setup -r -t ward3/monitor-01/alarm -n
}
sub_v311() {
  mosquitto_sub -p $port -h 127.0.0.1 -V mqttv311 -i monitor-02 -t '#' -t 'ward3/+/status' -q 1 \
    -C 2 -W 5 >/dev/null &
  local sub=$!
  sleep 1
  mosquitto_pub -p $port -h 127.0.0.1 -V mqttv311 -i pump-08 -t ward3/pump-08/telemetry -q 1 -m 'rate=3'
  mosquitto_pub -p $port -h 127.0.0.1 -V mqttv311 -i pump-08 -t ward3/pump-08/telemetry -q 0 -m 'rate=4'
  wait $sub || true
  mosquitto_sub -p $port -h 127.0.0.1 -V mqttv311 -i monitor-02 -t 'ward3/#' -U 'ward3/#' -E >/dev/null || true
}
refused() {
  mosquitto_pub -p $port -h 127.0.0.1 -V mqttv311 -i pump-09 -u "$user" -P "wrong-$PASSWORD" \
    -t ward3/pump-09/telemetry -m x || true
  mosquitto_pub -p $port -h 127.0.0.1 -V mqttv5 -i pump-09 -u "$user" -P "wrong-$PASSWORD" \
    -t ward3/pump-09/telemetry -m x || true
}

capture v311-pub-will pub_will
capture v5-pub-bulk pub_bulk
capture v5-sub-wildcard sub_v5
capture v311-sub-wildcard sub_v311
capture refused-login refused

kill "$broker"
"$here/extract.sh" >/dev/null
du -ch "$here"/*.pcap "$here"/streams | tail -n1
