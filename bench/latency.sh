#!/usr/bin/env bash
# The latency benchmark of issue 9 (`make bench-latency`): submit-to-grab
# latency of compute's waiting grab, LISTEN + grab, polling every 100 ms and
# graphile-worker 0.18, and submit-to-result latency of wait_job against
# polling get_job, on one throwaway PostgreSQL instance with compute
# preloaded. A tool, not a test: it asserts nothing about speed (it fails
# only when a job is lost, taken twice or a worker breaks).
#
# bench/latency/latency.py is the driver (its docstring says exactly what is
# measured and lists the LATENCY_* settings); bench/latency/graphile.mjs is
# graphile-worker's runner. Prints a markdown table and writes it to
# build/bench-latency/results.md (every sample: samples.tsv).
#
#   LATENCY_JOBS=50 bash bench/latency.sh      # a smoke run of a few seconds
#
# Besides latency.py's settings: LATENCY_PORT [5432] the port of the instance
# (its socket is in a private directory).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

PORT=${LATENCY_PORT:-5432}
# track_commit_timestamp: latency counts from each submit's commit timestamp.
SETTINGS="shared_preload_libraries=compute track_commit_timestamp=on"
export LATENCY_SETTINGS="$SETTINGS max_connections=50 fsync=off" # the last two from lib.sh

# graphile-worker from npm, pinned by bench/latency/package-lock.json
# (`make bench-latency` runs npm ci every time; here only when missing).
if [[ " ${LATENCY_SYSTEMS:-graphile} " == *" graphile "* ]] &&
	[ ! -f bench/latency/node_modules/graphile-worker/package.json ]; then
	(cd bench/latency && npm ci --no-audit --no-fund --loglevel=error)
fi

dir=$(scratch_dir bench-latency)
cleanup() {
	pg_stop "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT

# shellcheck disable=SC2086 # settings are words on purpose
pg_start "$dir" "$PORT" $SETTINGS
/usr/bin/python3 bench/latency/latency.py run
