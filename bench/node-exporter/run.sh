#!/bin/sh
# Side-by-side figures for beacon-node-exporter and Prometheus's
# node_exporter 1.5 (Debian package prometheus-node-exporter) on this host:
# CPU time per scrape, scrape latency p50/p99 and resident memory.
#
# Usage: bench/node-exporter/run.sh [SCRAPES]   (default 200)
# Needs: cargo, python3, /usr/bin/prometheus-node-exporter.
# Writes the raw report to bench/node-exporter/results/<UTC date>.txt.
set -eu

SCRAPES=${1:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
REF=/usr/bin/prometheus-node-exporter
[ -x "$REF" ] || { echo "node_exporter NOT FOUND at $REF: apt-get install -y prometheus-node-exporter" >&2; exit 1; }

(cd "$ROOT" && cargo build --release -q -p beacon-node-exporter)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
OURS=$TARGET/release/beacon-node-exporter

mkdir -p "$HERE/results"
OUT=$HERE/results/$(date -u +%Y-%m-%dT%H%M%SZ).txt
{
    echo "# beacon-node-exporter vs node_exporter, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "# host: $(uname -srm), $(nproc) CPUs; scrapes per exporter: $SCRAPES"
    echo "# command: bench/node-exporter/run.sh $SCRAPES"
    echo "# reference: $($REF --version 2>&1 | head -n 1)"
    python3 "$HERE/measure.py" "$SCRAPES" "$REF" "$OURS"
} | tee "$OUT"
echo "raw report: $OUT" >&2
