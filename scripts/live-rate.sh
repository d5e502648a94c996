#!/usr/bin/env bash
# Replays fixtures/ward.pcapng onto a veth pair (far end in a namespace of its
# own) while BIN captures the near end; prints what tcpreplay sent and what
# medtap saw. Root only. Usage: scripts/live-rate.sh BIN TCPREPLAY-RATE-ARGS...
# e.g. scripts/live-rate.sh target/release/medtap --loop 3000 --topspeed
set -u
BIN=$1; shift
ns=mtm-$$; h=mtmh$$; n=mtmn$$
ip netns add $ns; ip link add $h type veth peer name $n; ip link set $n netns $ns
sysctl -qw net.ipv6.conf.$h.disable_ipv6=1; ip netns exec $ns sysctl -qw net.ipv6.conf.$n.disable_ipv6=1
ip link set $h up; ip -n $ns link set $n up
out=$(mktemp); $BIN -i $h -o $out --log-protocols --stats-interval 1 2>/dev/null & pid=$!
until grep -q '"stats"' $out; do sleep 0.1; done
ip netns exec $ns tcpreplay -q -i $n "$@" fixtures/ward.pcapng 2>&1 | grep -E "Actual|Rated" | tr '\n' ' '
sleep 1.5; kill -TERM $pid; wait $pid; echo "exit=$?"
python3 -c "
import json,sys
ev=[json.loads(l) for l in open('$out')]
k=lambda t:sorted(json.dumps(e[t],sort_keys=True) for e in ev if e['event_type']==t)
st=[e for e in ev if e['event_type']=='stats'][-1]['stats']['capture']
print('devices',len({e['device']['id'] for e in ev if e['event_type']=='device'}),'dicom',len(k('dicom')),'hl7',len(k('hl7')),'mqtt',len(k('mqtt')),'packets',st['packets'],'kernel_drops',st.get('kernel_drops'))"
ip link del $h; ip netns del $ns; rm -f $out
