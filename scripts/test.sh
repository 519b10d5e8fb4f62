#!/usr/bin/env bash
# Runs the whole test suite: builds once (failing on any compiler warning in our
# code), starts the local servers the tests need, runs `swift test`, stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT

swift build --build-tests 2>&1 | tee "$log"
if grep -E "^$PWD/(Sources|Tests)/.*: warning:" "$log" | sort -u | grep .; then
  echo "error: the build has warnings (see above); swamp builds with zero warnings" >&2
  exit 1
fi

# The S3-compatible servers (moto on 127.0.0.1, free ports), stopped by PID on exit.
source scripts/s3-server.sh
trap 'stop_s3_servers; rm -f "$log"' EXIT
export SWAMP_TEST_SCRIPT=1

if [ $# -gt 0 ]; then
  swift test --skip-build "$@"
  exit
fi
# The suites in parallel, then the randomized multi-user checker alone (it loads the machine:
# on 2 cores, timing-sensitive suites beside it would measure the load, not swamp).
status=0
swift test --skip-build --skip RandomizedCheckerTests || status=$?
swift test --skip-build --filter RandomizedCheckerTests || status=$?
exit $status
