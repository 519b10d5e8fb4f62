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
# No test may reach the cloud metadata addresses: the credential chain's last resort (EC2
# instance metadata) is off unless a test points it at a loopback server it started.
export AWS_EC2_METADATA_DISABLED=true
unset AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI

if [ $# -gt 0 ]; then
  swift test --skip-build "$@"
  exit
fi
# Three passes. 1: the suites in parallel. 2: the suites that measure time (interrupts within
# 2 s, a trickled body within its timeout, lock waits, a skewed clock) one test at a time: on 2
# cores, beside the parallel pass they would measure the load, not swamp. 3: the randomized
# multi-user checker alone (it loads the machine itself).
timed="InterruptTests|NestedCommandTests|HostileServerTests|S3LockFaultTests|S3RobustnessTests|LockConformanceTests|FileLockTests"
status=0
swift test --skip-build --skip "$timed|RandomizedCheckerTests" || status=$?
swift test --skip-build --no-parallel --filter "$timed" || status=$?
swift test --skip-build --filter RandomizedCheckerTests || status=$?
exit $status
