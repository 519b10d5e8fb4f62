#!/usr/bin/env bash
# Regenerates scripts/symbol-order.txt, the order in which the release link lays out the
# functions of `swamp` (`--symbol-ordering-file`, Package.swift; the release build,
# scripts/release.sh, puts every function in a section of its own so that each can be moved).
# The functions each command runs are kept together (scripts/symbol-order.py says how), so a
# command touches a few MiB of code pages instead of ~10 MiB scattered over 26 (each page fault
# maps the 64 KiB around it): it peaks lower and starts with fewer faults (docs/benchmarks.md).
# The link map (`--Map`) says which input sections the functions are in: a section is what the
# linker moves, and some of the toolchain's hold thousands of functions. The names are found by
# running the commands below under valgrind's callgrind: the filesystem
# flow, and on the test S3 server a setup, a teammate's pull, model runs that push, a streamed
# and a multipart upload and a ranged download (with 5 MiB thresholds), a lazy cache's hydration, status and
# verify. The file only orders: a name it lists that no longer exists is skipped, a function it
# does not list is laid out after the others, so a stale file costs memory, never correctness.
# SwiftPM does not relink when only the file changed: the script removes the binary and links
# again. Run it after large changes; ~2 min.
set -euo pipefail
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
cd "$(dirname "$0")/.."
root=$(pwd)
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
bin=$(bash scripts/release.sh --show-bin-path)
work=$(mktemp -d "${TMPDIR:-/tmp}/swamp-symbol-order.XXXXXX")
source scripts/s3-server.sh
trap 'stop_s3_servers; rm -rf "$work"' EXIT
# Linked again for its map: which input sections `.text` is made of, and the functions in each.
rm -f "$bin/swamp"
bash scripts/release.sh -Xlinker --Map="$work/swamp.map" -Xlinker --no-demangle >&2
# valgrind 3.19 cannot read this toolchain's debug information: profile a copy without it.
objcopy --strip-debug "$bin/swamp" "$work/swamp"
swamp() {  # runs one command under callgrind, in the current directory (a profile per process)
  local profiles=$(($(cat "$work/profiles" 2>/dev/null || echo 0) + 1))
  echo "$profiles" > "$work/profiles"
  valgrind --tool=callgrind --dump-instr=yes --compress-pos=no -q --callgrind-out-file="$work/$(printf %02d "$profiles")-${1:-}-${2:-}.%p.cg" "$work/swamp" "$@"
}
export SWAMP_HOME="$work/home-a"
mkdir -p "$work/a" "$work/b" "$work/c" && cd "$work/a"
head -c $((12 << 20)) /dev/urandom > "$work/large"
head -c $((2 << 20)) /dev/urandom > "$work/medium"  # a streamed upload: 1 MiB up to the multipart threshold
swamp --version >/dev/null
swamp --help >/dev/null
swamp repo init >/dev/null
swamp model create command/shell hello --set 'run=echo hello' >/dev/null
swamp model create command/shell large --set "run=cat '$work/large'" >/dev/null
swamp model create command/shell medium --set "run=cat '$work/medium'" >/dev/null
swamp model method run hello execute >/dev/null
swamp model method run medium execute >/dev/null
# Many files, as a team's repository has (sorting, concurrency and dictionaries take other paths
# with 20 than with 3): written without the profiler.
for model in $(seq 1 20); do
  head -c $((1 << 20)) /dev/urandom > "$work/many-$model"
  "$work/swamp" model create command/shell "many-$model" --set "run=cat '$work/many-$model'" >/dev/null
  "$work/swamp" model method run "many-$model" execute >/dev/null
done
swamp model method run large execute --json >/dev/null
swamp model list >/dev/null
swamp data list --json >/dev/null
swamp data versions hello result >/dev/null
swamp data get large result | cmp - "$work/large"
swamp datastore status >/dev/null
aws --endpoint-url "$SWAMP_TEST_S3_ENDPOINT" s3 mb s3://symbol-order >/dev/null
config="{\"bucket\":\"symbol-order\",\"endpoint\":\"$SWAMP_TEST_S3_ENDPOINT\",\"forcePathStyle\":true,\"multipartThreshold\":5242880,\"partSize\":5242880}"
swamp datastore setup s3 --config "$config" >/dev/null
swamp model method run hello execute >/dev/null
for user in b c; do
  cp "$work/a/.swamp.yaml" "$work/$user/" && cp -r "$work/a/models" "$work/$user/"
done
cd "$work/b"
export SWAMP_HOME="$work/home-b"
swamp datastore sync --pull >/dev/null
swamp data get large result | cmp - "$work/large"
swamp model method run large execute --json >/dev/null
swamp model method run medium execute >/dev/null
swamp datastore sync >/dev/null
swamp datastore status --json >/dev/null
swamp datastore verify >/dev/null
cd "$work/c"
export SWAMP_HOME="$work/home-c"
swamp datastore setup s3 --config "$config" --hydration-strategy lazy >/dev/null
swamp data get large result | cmp - "$work/large"
swamp model method run hello execute >/dev/null
cd "$root"
python3 scripts/symbol-order.py "$work/swamp" "$work/swamp.map" "$work"/*.cg > scripts/symbol-order.txt
echo "scripts/symbol-order.txt: $(wc -l < scripts/symbol-order.txt) sections from $(ls "$work"/*.cg | wc -l) commands" >&2
rm -f "$bin/swamp"
bash scripts/release.sh >&2
