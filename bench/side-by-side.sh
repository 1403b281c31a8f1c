#!/usr/bin/env bash
# Runs the shared side-by-side harness (shared/bench/run.sh, beside this
# repository) for Prometheus, VictoriaMetrics and Beacon, one after the
# other, at each size given, appending to bench/results/results.jsonl.
#
#     bash bench/side-by-side.sh              # 10k and 100k series
#     SIZES="10x1000" T=150 bash bench/side-by-side.sh
#
# Needs: the Debian packages prometheus and victoria-metrics, and a release
# build of `beacon` on PATH (cargo build --release -p beacon-server, then
# put target/release on PATH). Ratios are only comparable within one run
# of this script: the machine is shared and its load varies.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
harness="${HARNESS:-$here/../../shared/bench}"
[[ -x "$harness/run.sh" ]] || { echo "side-by-side: harness not found at $harness (set HARNESS)" >&2; exit 1; }
command -v beacon >/dev/null || { echo "side-by-side: no beacon on PATH; build it with cargo build --release -p beacon-server" >&2; exit 1; }
for b in prometheus victoria-metrics; do
    command -v "$b" >/dev/null || { echo "side-by-side: $b missing; apt-get install $b" >&2; exit 1; }
done

results="$here/results/results.jsonl"
mkdir -p "$here/results"
export RESULTS="$results" T="${T:-150}"
beacon_cmd='beacon --config.file="$BENCH_CONFIG" --storage.tsdb.path="$BENCH_DATA_DIR" --web.listen-address="$BENCH_LISTEN"'

for size in ${SIZES:-10x1000 50x2000}; do
    k="${size%x*}"
    n="${size#*x}"
    echo "=== $k targets x $n series ($(date -u +%H:%M:%S))"
    (cd "$harness" && K="$k" N="$n" NOTE="side-by-side $size" ./run.sh prometheus)
    (cd "$harness" && K="$k" N="$n" NOTE="side-by-side $size" ./run.sh victoria-metrics)
    (cd "$harness" && SERVER=custom SERVER_CMD="$beacon_cmd" \
        SAMPLES_METRIC=prometheus_tsdb_head_samples_appended_total \
        SERIES_METRIC=prometheus_tsdb_head_series \
        K="$k" N="$n" NOTE="side-by-side $size" ./run.sh custom)
done
echo "=== done; tables in $here/results/summary.md"
