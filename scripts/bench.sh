#!/usr/bin/env bash
# Runs the S3 sync benchmarks against a local S3-compatible server (started and stopped here).
#
#   bash scripts/bench.sh            the sync service in-process: requests, bytes, times (SwampBench)
#   bash scripts/bench.sh network    the swamp CLI against rclone and `aws s3 sync` on the same
#                                    data, through a proxy adding 0, 20 and 80 ms per request
#                                    (scripts/bench-network.py; installs rclone if missing)
#   bash scripts/bench.sh large      1 x 1 GiB and 100 x 10 MiB pushed and pulled by swamp and by
#                                    `aws s3 cp`/`aws s3 sync`: wall time and peak memory of each
#                                    process, then a 1 GiB run → push → pull → data get
#                                    (scripts/bench-large.py; SWAMP_BENCH_RUNS default 3 here)
#
# SWAMP_BENCH_CONFIGURATION=release for optimised timings (the default for `network`; a first
# release build takes ~9 min). SWAMP_BENCH_RUNS sets the repetitions (default 5);
# SWAMP_BENCH_DELAYS the delays of `network` (default 0,20,80); SWAMP_BENCH_BASELINE another
# swamp binary (an earlier commit's release build) to measure beside this one;
# SWAMP_BENCH_HANDSHAKES the round trips a new connection costs (default 2; 0: per request only).
set -euo pipefail
# Never the cloud metadata addresses: the credential chain's instance-metadata step is off.
export AWS_EC2_METADATA_DISABLED=true
cd "$(dirname "$0")/.."
mode="${1:-sync}"
case "$mode" in
  sync) configuration="${SWAMP_BENCH_CONFIGURATION:-debug}" ;;
  network | large) configuration="${SWAMP_BENCH_CONFIGURATION:-release}" ;;
  *) echo "usage: scripts/bench.sh [sync|network|large]" >&2; exit 2 ;;
esac
if [ "$mode" = network ] && ! command -v rclone >/dev/null; then
  echo "installing rclone (Debian package) for the comparison" >&2
  { apt-get update -qq && apt-get install -y -qq rclone; } >/dev/null
fi
if [ "$mode" = large ] && [ ! -x /usr/bin/time ]; then
  echo "installing GNU time (Debian package): it takes each command's peak memory" >&2
  { apt-get update -qq && apt-get install -y -qq time; } >/dev/null
fi
if { [ "$mode" = network ] || [ "$mode" = large ]; } && ! command -v aws >/dev/null; then
  echo "installing the AWS CLI (pip) for the comparison" >&2
  pip install --quiet awscli >&2
fi
# A release build is the one that ships (scripts/release.sh: its functions laid out for the
# common commands); a debug one is plain.
build() { if [ "$configuration" = release ]; then bash scripts/release.sh "$@"; else swift build -c "$configuration" "$@"; fi; }
if [ "$mode" = network ] || [ "$mode" = large ]; then
  build --product swamp >&2
else
  build --product SwampBench >&2
fi
bin="$(build --show-bin-path)"
source scripts/s3-server.sh
trap stop_s3_servers EXIT
echo "mode: $mode; configuration: $configuration; server: moto (serialised), loopback; runs: ${SWAMP_BENCH_RUNS:-5}" >&2
if [ "$mode" = large ]; then
  python3 scripts/bench-large.py --swamp "$bin/swamp" --endpoint "$SWAMP_TEST_S3_ENDPOINT" --runs "${SWAMP_BENCH_RUNS:-3}" --server-pid "${_swamp_s3_pids[0]}"
elif [ "$mode" = network ]; then
  python3 scripts/bench-network.py --swamp "$bin/swamp" --endpoint "$SWAMP_TEST_S3_ENDPOINT" \
    --runs "${SWAMP_BENCH_RUNS:-5}" --delays "${SWAMP_BENCH_DELAYS:-0,20,80}" \
    --handshakes "${SWAMP_BENCH_HANDSHAKES:-2}" ${SWAMP_BENCH_BASELINE:+--baseline "$SWAMP_BENCH_BASELINE"}
else
  SWAMP_BENCH_S3_ENDPOINT="$SWAMP_TEST_S3_ENDPOINT" "$bin/SwampBench"
fi
