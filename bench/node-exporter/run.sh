#!/bin/sh
# Side-by-side figures for beacon-node-exporter and Prometheus's
# node_exporter 1.5 (Debian package prometheus-node-exporter) on this host:
# CPU time per scrape, scrape latency p50/p99 and resident memory.
#
# Usage: [STATIC=1] bench/node-exporter/run.sh [SCRAPES]   (default 200)
# Needs: cargo, python3, /usr/bin/prometheus-node-exporter.
# Writes the raw report to bench/node-exporter/results/<UTC date>.txt.
set -eu

SCRAPES=${1:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REF=/usr/bin/prometheus-node-exporter
[ -x "$REF" ] || { echo "node_exporter NOT FOUND at $REF: apt-get install -y prometheus-node-exporter" >&2; exit 1; }

# Two builds: the default one, and one without the `web-config` feature
# (no TLS/basic auth), whose smaller binary shows what that feature costs
# in resident memory. STATIC=1 links glibc statically (what a shipped
# single-file binary would do); it builds for an explicit --target so
# build scripts and proc macros stay dynamic.
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "${STATIC:-0}" = 1 ]; then
    export RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static"
    TRIPLE=$(rustc -vV | sed -n 's/^host: //p')
    BUILD="cargo build --release -q --target $TRIPLE -p beacon-node-exporter"
    BIN=$TARGET/$TRIPLE/release/beacon-node-exporter
else
    BUILD="cargo build --release -q -p beacon-node-exporter"
    BIN=$TARGET/release/beacon-node-exporter
fi
LEAN=$TARGET/beacon-node-exporter-lean
(cd "$ROOT" && $BUILD --no-default-features) && cp "$BIN" "$LEAN"
(cd "$ROOT" && $BUILD)
OURS=$BIN

mkdir -p "$HERE/results"
OUT=$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt
{
    echo "# beacon-node-exporter vs node_exporter, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# host: $(uname -srm), $(nproc) CPUs; scrapes per exporter: $SCRAPES"
    echo "# command: STATIC=${STATIC:-0} bench/node-exporter/run.sh $SCRAPES"
    echo "# reference: $($REF --version 2>&1 | head -n 1)"
    python3 "$HERE/measure.py" "$SCRAPES" "$REF" "beacon=$OURS" "beacon-lean=$LEAN"
} | tee "$OUT"
echo "raw report: $OUT" >&2
