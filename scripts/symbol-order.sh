#!/usr/bin/env bash
# Regenerates scripts/symbol-order.txt, the order in which the release link lays out the
# functions of `swamp` (`--symbol-ordering-file`, Package.swift): the ones its common commands
# run come first, together, most executed first. A command then touches a few MiB of code
# pages instead of ~20 MiB scattered over 28 (each page fault maps the 64 KiB around it), so it
# peaks ~10 MiB lower and starts with fewer faults (docs/benchmarks.md). The names are found by
# running the commands below under valgrind's callgrind: the filesystem flow, and on the test
# S3 server a setup, a teammate's pull, model runs that push, a multipart upload and a ranged
# download (with 5 MiB thresholds), a lazy cache's hydration, status and verify.
# Only functions in sections of their own are listed: the Swift runtime, standard library and
# Foundation come that way, but a package's modules put most functions in one `.text` per file
# (their compiler flags are theirs: `-function-sections` cannot be set for them here), and the
# linker moves whole sections. The file only orders: a name it lists that no longer exists is
# skipped, a function it does not list is laid out after the others, so a stale file costs
# memory, never correctness. SwiftPM does not relink when only the file changed: remove the
# binary first. Run it after large changes; ~5 min.
set -euo pipefail
export AWS_EC2_METADATA_DISABLED=true AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
cd "$(dirname "$0")/.."
root=$(pwd)
command -v valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind; }
swift build -c release --product swamp >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/swamp-symbol-order.XXXXXX")
source scripts/s3-server.sh
trap 'stop_s3_servers; rm -rf "$work"' EXIT
# valgrind 3.19 cannot read this toolchain's debug information: profile a copy without it.
objcopy --strip-debug "$(swift build -c release --show-bin-path)/swamp" "$work/swamp"
count=0
swamp() {  # runs one command under callgrind, in the current directory
  count=$((count + 1))
  valgrind --tool=callgrind --demangle=no -q --callgrind-out-file="$work/$count.cg" "$work/swamp" "$@"
}
export SWAMP_HOME="$work/home-a"
mkdir -p "$work/a" "$work/b" "$work/c" && cd "$work/a"
head -c $((12 << 20)) /dev/urandom > "$work/large"
swamp --version >/dev/null
swamp --help >/dev/null
swamp repo init >/dev/null
swamp model create command/shell hello --set 'run=echo hello' >/dev/null
swamp model create command/shell large --set "run=cat '$work/large'" >/dev/null
swamp model method run hello execute >/dev/null
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
swamp datastore sync >/dev/null
swamp datastore status --json >/dev/null
swamp datastore verify >/dev/null
cd "$work/c"
export SWAMP_HOME="$work/home-c"
swamp datastore setup s3 --config "$config" --hydration-strategy lazy >/dev/null
swamp data get large result | cmp - "$work/large"
swamp model method run hello execute >/dev/null
cd "$root"
# The functions of the package's modules that share a `.text` section with others.
find "$(swift build -c release --show-bin-path)" -path '*.build/*.o' -print0 | xargs -0 objdump -t 2>/dev/null \
  | awk '$3 == ".text" || $4 == ".text" { print $NF }' | sort -u > "$work/shared.txt"
python3 scripts/symbol-order.py swamp "$work/shared.txt" "$work"/*.cg > scripts/symbol-order.txt
echo "scripts/symbol-order.txt: $(wc -l < scripts/symbol-order.txt) functions from $count commands" >&2
