#!/usr/bin/env bash
# Regenerates data/p0f/p0f-tcp.fp from Debian's p0f package (p0f 3.09b):
# the file's header comment and its [tcp:request] and [tcp:response]
# sections, unchanged; the [mtu] and [http:*] sections are left out.
#
#   apt-get install p0f && data/p0f/make-p0f.sh
#
# The database is LGPL-2.1 (see LICENSE beside this script), as p0f.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOURCE=${1:-/etc/p0f/p0f.fp}
{
    printf '; Trimmed from %s (Debian p0f %s): the TCP sections only.\n' \
        "$SOURCE" "$(dpkg-query -W -f '${Version}' p0f 2>/dev/null || echo unknown)"
    printf '; Regenerate with data/p0f/make-p0f.sh. Licence: LGPL-2.1 (LICENSE).\n'
    # The header up to the classes line, then the two TCP sections.
    awk '
        !header_done { print; if ($0 ~ /^classes/) header_done = 1; next }
        /^\[/ { keep = ($0 == "[tcp:request]" || $0 == "[tcp:response]") }
        keep { print }
    ' "$SOURCE"
} >"$HERE/p0f-tcp.fp"
echo "data/p0f/p0f-tcp.fp: $(grep -c '^sig' "$HERE/p0f-tcp.fp") signatures, $(grep -c '^label' "$HERE/p0f-tcp.fp") labels"
