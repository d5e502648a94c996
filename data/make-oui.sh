#!/usr/bin/env bash
# Regenerates data/oui.tsv, the MAC vendor table shipped inside medtap, from
# the IEEE registries as Debian's ieee-data package carries them (MA-L, MA-M,
# MA-S and the older IAB blocks). medtap needs no network at run time.
#
# Columns: prefix length in bits, prefix in upper-case hex, organisation.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="${1:-/usr/share/ieee-data}"
if [ ! -f "$src/oui.csv" ]; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ieee-data >/dev/null
  else
    echo "make-oui: $src/oui.csv missing (apt-get install ieee-data)" >&2
    exit 1
  fi
fi
python3 - "$src" > "$here/oui.tsv.tmp" <<'PY'
import csv, re, sys
src = sys.argv[1]
bits = {"MA-L": 24, "MA-M": 28, "MA-S": 36, "IAB": 36}
rows = {}
for name in ("oui.csv", "mam.csv", "oui36.csv", "iab.csv"):
    try:
        f = open(f"{src}/{name}", newline="", encoding="utf-8")
    except FileNotFoundError:
        continue
    with f:
        for rec in csv.DictReader(f):
            width = bits.get(rec["Registry"])
            prefix = rec["Assignment"].strip().upper()
            org = re.sub(r"\s+", " ", rec["Organization Name"]).strip()
            if width is None or not org or not re.fullmatch(r"[0-9A-F]+", prefix):
                continue
            if len(prefix) * 4 != width:
                continue
            rows[(width, prefix)] = org
for (width, prefix), org in sorted(rows.items()):
    print(f"{width}\t{prefix}\t{org}")
PY
mv "$here/oui.tsv.tmp" "$here/oui.tsv"
echo "make-oui: $(wc -l < "$here/oui.tsv") prefixes" >&2
