#!/usr/bin/env python3
"""An MQTT client that stays connected, for tests/live.rs.

    mqtt_live_client.py HOST PORT

Connects as `nurse-live-01` (MQTT 3.1.1, keep-alive 30 s), subscribes to
`ward/+/status` and publishes its status every second. Prints `connected`
once the broker has accepted it. A line `wildcard` on stdin subscribes to `#`
on the same connection and prints `subscribed`. Runs until stdin closes or it
is killed.
"""

import sys
import threading

import paho.mqtt.client as mqtt

CLIENT_ID = "nurse-live-01"
STATUS_TOPIC = f"ward/{CLIENT_ID}/status"


def new_client():
    # paho-mqtt 2 wants the callback API named; 1.6 (Debian 12) has no such
    # argument and only the version 1 callbacks used here.
    if hasattr(mqtt, "CallbackAPIVersion"):
        return mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION1,
            client_id=CLIENT_ID,
            protocol=mqtt.MQTTv311,
        )
    return mqtt.Client(client_id=CLIENT_ID, protocol=mqtt.MQTTv311)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    stop = threading.Event()
    client = new_client()

    def on_connect(client, userdata, flags, rc):
        if rc != 0:
            print(f"connection refused: {mqtt.connack_string(rc)}", file=sys.stderr, flush=True)
            stop.set()
            return
        client.subscribe("ward/+/status", qos=0)
        print("connected", flush=True)

    client.on_connect = on_connect
    client.connect(host, port, keepalive=30)
    client.loop_start()

    def publish_status():
        count = 0
        while not stop.wait(1.0):
            count += 1
            client.publish(STATUS_TOPIC, f'{{"state":"ok","n":{count}}}', qos=0)

    publisher = threading.Thread(target=publish_status, daemon=True)
    publisher.start()

    for line in sys.stdin:
        if stop.is_set():
            break
        if line.strip() == "wildcard":
            client.subscribe("#", qos=0)
            print("subscribed", flush=True)

    stop.set()
    publisher.join()
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
