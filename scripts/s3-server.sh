#!/usr/bin/env bash
# Source this: starts the test S3 servers (plain and --auth) on free loopback ports,
# exports SWAMP_TEST_S3_ENDPOINT, SWAMP_TEST_S3_AUTH_ENDPOINT and the auth key, and
# defines stop_s3_servers (which kills exactly the PIDs started here).
python3 -c "import moto.moto_server.werkzeug_app, flask_cors" 2>/dev/null || pip install --quiet 'moto[server]'

_swamp_s3_dir=$(mktemp -d "${TMPDIR:-/tmp}/swamp-s3.XXXXXX")
_swamp_s3_pids=()
_start_one() {  # name, extra args
  python3 "$(dirname "${BASH_SOURCE[0]}")/s3-server.py" --info-file "$_swamp_s3_dir/$1" "${@:2}" >"$_swamp_s3_dir/$1.log" 2>&1 &
  _swamp_s3_pids+=($!)
}
_start_one plain
_start_one auth --auth
for name in plain auth; do
  for _ in $(seq 1 300); do [ -s "$_swamp_s3_dir/$name" ] && break; sleep 0.1; done
  if [ ! -s "$_swamp_s3_dir/$name" ]; then
    echo "error: the $name S3 test server did not start:" >&2; cat "$_swamp_s3_dir/$name.log" >&2; exit 1
  fi
done
_port=$(sed -n 's/^port=//p' "$_swamp_s3_dir/plain")
export SWAMP_TEST_S3_ENDPOINT="http://127.0.0.1:$_port"
_port=$(sed -n 's/^port=//p' "$_swamp_s3_dir/auth")
export SWAMP_TEST_S3_AUTH_ENDPOINT="http://127.0.0.1:$_port"
export SWAMP_TEST_S3_AUTH_KEY_ID=$(sed -n 's/^access_key_id=//p' "$_swamp_s3_dir/auth")
export SWAMP_TEST_S3_AUTH_SECRET=$(sed -n 's/^secret_access_key=//p' "$_swamp_s3_dir/auth")
echo "S3 test servers: $SWAMP_TEST_S3_ENDPOINT (pid ${_swamp_s3_pids[0]}), $SWAMP_TEST_S3_AUTH_ENDPOINT with auth (pid ${_swamp_s3_pids[1]})" >&2

stop_s3_servers() {
  for pid in "${_swamp_s3_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${_swamp_s3_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # A request a server left unanswered (its watchdog's report, with every thread's stack).
  for name in plain auth; do
    if grep -q "s3-server watchdog:" "$_swamp_s3_dir/$name.log" 2>/dev/null; then
      echo "the $name S3 test server left requests unanswered:" >&2
      sed -n '/s3-server watchdog:/,$p' "$_swamp_s3_dir/$name.log" >&2
    fi
  done
  rm -rf "$_swamp_s3_dir"
}
