#!/usr/bin/env bash
# Builds swamp and runs a real end-to-end flow on the embedded default datastore
# (the filesystem, in the repository's .swamp/ directory; no server).
set -euo pipefail
# Never the cloud metadata addresses: the credential chain's instance-metadata step is off.
export AWS_EC2_METADATA_DISABLED=true
cd "$(dirname "$0")/.."
# SWAMP_BUILD_CONFIGURATION=release runs the release build (scripts/release.sh).
build() {
  if [ "${SWAMP_BUILD_CONFIGURATION:-debug}" = release ]; then bash scripts/release.sh "$@"; else swift build -c "${SWAMP_BUILD_CONFIGURATION:-debug}" "$@"; fi
}
build >&2
swamp="$(build --show-bin-path)/swamp"
repo=$(mktemp -d "${TMPDIR:-/tmp}/swamp-demo.XXXXXX")
trap 'rm -rf "$repo"' EXIT
run() { echo "\$ swamp $(printf '%q ' "$@")"; "$swamp" "$@" --repo-dir "$repo"; echo; }

run repo init
run model create command/shell greeting --set run='echo "hello from $SWAMP_MODEL_NAME"'
run model create command/shell kernel --set run='uname -sr'
run model create command/shell random --set run='head -c 4096 /dev/urandom'
run model method run greeting execute
run model method run kernel execute
run model method run random execute
run model method run greeting execute --json
run model list
run data list
run data versions greeting result
echo "\$ swamp data get greeting result"; "$swamp" data get greeting result --repo-dir "$repo"; echo
echo "\$ swamp data get random result | sha256sum   (matches the sha256 in 'data list --json')"
"$swamp" data get random result --repo-dir "$repo" | sha256sum
"$swamp" data list random --json --repo-dir "$repo" | grep sha256
echo
run datastore status
run datastore sync
run data gc --keep 1
echo "demo repository was $repo (removed on exit)"
