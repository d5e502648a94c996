#!/usr/bin/env python3
"""Writes medtap-template.json: the composable index template for the
logs-medtap-* data streams, with the ECS 8.11.0 mapping (types and
ignore_above taken from schema/ecs/fields.json and ecs_flat.ts) of every
field medtap's ECS encoder (src/output/format/ecs.rs) writes, and the
medtap.* custom fields. Run it again when the encoder gains a field;
tests/formats.rs fails while one is unmapped."""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

ECS_FIELDS = """
@timestamp ecs.version message tags labels
event.kind event.category event.type event.severity event.id event.dataset
event.module event.action event.start event.end event.ingested
observer.name observer.type observer.vendor observer.product observer.version
source.ip source.port source.mac destination.ip destination.port destination.mac
network.transport network.iana_number network.type network.protocol
network.community_id network.vlan.id network.inner.vlan.id
rule.id rule.name rule.category rule.ruleset rule.version rule.description
threat.framework threat.technique.id threat.technique.name
threat.technique.reference threat.tactic.id threat.tactic.name
threat.tactic.reference
device.id device.manufacturer device.model.name device.model.identifier
host.id host.mac host.ip host.hostname host.name host.type host.os.family
host.os.type host.os.version host.os.full host.os.kernel
host.risk.static_score_norm host.risk.static_level
user.name related.ip related.hosts related.user
""".split()

# What ECS has no field for: the EVE objects, kept whole and searchable as
# flattened fields (one mapping each, however many keys they grow), and the
# few scalars beside them. New medtap.* keys are kept in _source unindexed
# (dynamic: false) rather than growing the mapping.
MEDTAP = {
    "truncated": {"type": "boolean"},
    "flow_id": {"type": "long"},
    "pcap_cnt": {"type": "long"},
    "pcap_filename": {"type": "keyword", "ignore_above": 1024},
    "icmp_type": {"type": "long"},
    "icmp_code": {"type": "long"},
    "vlan": {"type": "long"},
}
for obj in ["alert", "device", "peer", "evidence", "baseline", "stats",
            "dicom", "hl7", "mqtt", "warning"]:
    MEDTAP[obj] = {"type": "flattened", "ignore_above": 1024}


def main():
    with open(os.path.join(ROOT, "schema/ecs/fields.json")) as f:
        fields = json.load(f)["fields"]
    props = {}

    def put(name, mapping):
        at = props
        parts = name.split(".")
        for p in parts[:-1]:
            at = at.setdefault(p, {"properties": {}})["properties"]
        at[parts[-1]] = mapping

    for name in ECS_FIELDS:
        ty = fields[name]["type"]
        m = {"type": ty}
        if ty == "keyword":
            m["ignore_above"] = 1024
        put(name, m)
    for dim, value in [("type", "logs"), ("dataset", "medtap"), ("namespace", None)]:
        m = {"type": "constant_keyword"}
        if value:
            m["value"] = value
        put("data_stream." + dim, m)
    props["medtap"] = {"type": "object", "dynamic": False, "properties": MEDTAP}

    template = {
        "index_patterns": ["logs-medtap-*"],
        "data_stream": {},
        "priority": 200,
        "template": {
            "settings": {
                "index.default_pipeline": "medtap-ecs",
                "index.mapping.total_fields.limit": 2000,
            },
            "mappings": {
                "dynamic": False,
                "date_detection": False,
                "properties": props,
            },
        },
        "_meta": {
            "description": "medtap ECS 8.11.0 events (src/output/format/ecs.rs)",
            "managed_by": "medtap",
            "ecs_version": "8.11.0",
        },
    }
    with open(os.path.join(HERE, "medtap-template.json"), "w") as f:
        json.dump(template, f, indent=2, sort_keys=True)
        f.write("\n")


main()
