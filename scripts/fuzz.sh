#!/usr/bin/env bash
# Builds the libFuzzer targets of Fuzz/Targets — the path validator and the parsers of what a
# remote holds (partition index, meta, lock records) — into one binary, and runs each target for
# a bounded time against the seed corpus in Fuzz/corpus/TARGET. A crash or a violated property
# stops that target, leaves the input in .build-fuzz/crash-TARGET-*, and fails the script: add it
# to Fuzz/regressions/TARGET/ (Tests/S3DatastoreTests/FuzzRegressionTests.swift replays those).
#
# Usage: scripts/fuzz.sh [seconds per target, default 60] [target ...]   (targets: path index meta lock)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(path index meta lock)
out=.build-fuzz
rm -rf "$out/src"
mkdir -p "$out/src"
# One module: the contracts, the remote parsers, the targets — with their module imports removed.
shopt -s globstar
for file in Sources/SwampContracts/**/*.swift Sources/S3Datastore/Remote/*.swift Sources/S3Datastore/S3SyncError.swift Fuzz/Targets/*.swift; do
  sed -E '/^import (SwampContracts|SwampCore|S3Client)$/d' "$file" > "$out/src/$(echo "$file" | tr '/' '_')"
done
echo "building the fuzz targets (swiftc -sanitize=fuzzer,address)…" >&2
swiftc -sanitize=fuzzer,address -parse-as-library -g -module-name SwampFuzz "$out"/src/*.swift -o "$out/swamp-fuzz"

status=0
for target in "${targets[@]}"; do
  mkdir -p "$out/corpus-$target"
  echo "fuzzing $target for ${seconds}s…" >&2
  if ! FUZZ_TARGET=$target "$out/swamp-fuzz" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
    -artifact_prefix="$out/crash-$target-" "$out/corpus-$target" "Fuzz/corpus/$target" 2>"$out/log-$target"; then
    echo "fuzz target $target FAILED: see $out/log-$target and $out/crash-$target-*" >&2
    status=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log-$target" | tail -1)
  echo "fuzz target $target: ${runs:-?} executions in ${seconds}s" >&2
done
exit $status
