#!/usr/bin/env bash
# Runs the S3 sync benchmarks against a local S3-compatible server (started and stopped here).
# SWAMP_BENCH_CONFIGURATION=release for optimised timings (a first release build takes ~9 min).
set -euo pipefail
cd "$(dirname "$0")/.."
configuration="${SWAMP_BENCH_CONFIGURATION:-debug}"
swift build -c "$configuration" --product SwampBench >&2
source scripts/s3-server.sh
trap stop_s3_servers EXIT
echo "configuration: $configuration; server: moto (serialised), loopback; runs: ${SWAMP_BENCH_RUNS:-5}" >&2
SWAMP_BENCH_S3_ENDPOINT="$SWAMP_TEST_S3_ENDPOINT" "$(swift build -c "$configuration" --show-bin-path)/SwampBench"
