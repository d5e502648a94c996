#!/bin/sh
# Regenerates schema/ecs/fields.json, what tests/formats.rs checks ECS
# documents against, from schema/ecs/ecs_flat.ts (ECS 8.11.0 field
# definitions as published in the @elastic/ecs npm package 8.11.1, the
# TypeScript rendering of ECS's generated/ecs/ecs_flat.yml).
#
# Each field keeps what the test needs: its type, whether it is an array
# (normalize), and for event.kind/category/type the allowed values (with the
# event types each category expects).
set -eu
cd "$(dirname "$0")"
sed -e 's/^export const EcsFlat = {/module.exports = {/' ecs_flat.ts > /tmp/ecs_flat.$$.js
node -e '
const flat = require(process.argv[1]);
const out = {};
for (const name of Object.keys(flat).sort()) {
  const f = flat[name];
  const row = { type: f.type, array: (f.normalize || []).includes("array") };
  if (f.allowed_values) {
    row.allowed = f.allowed_values.map(a => a.name);
    const expected = {};
    for (const a of f.allowed_values) if (a.expected_event_types) expected[a.name] = a.expected_event_types;
    if (Object.keys(expected).length) row.expected_event_types = expected;
  }
  out[name] = row;
}
process.stdout.write(JSON.stringify({ version: "8.11.0", fields: out }, null, 1) + "\n");
' /tmp/ecs_flat.$$.js > fields.json
rm -f /tmp/ecs_flat.$$.js
