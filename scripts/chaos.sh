#!/usr/bin/env bash
# The chaos run of issue 3 (leases with fencing): worker threads grab jobs
# with a 1-second lease while a killer terminates their backends at random
# points, some workers stall past their lease, poison jobs crash their worker,
# and a reaper calls compute.requeue_stale() with compute.max_attempts = 3.
# At the end every normal job must be complete exactly once, by the last
# attempt a grab handed out (no stale finish accepted), every poison job failed after 3 lost
# leases, nothing left queued or in-progress. The driver is
# test/chaos/chaos.py (Debian's python3 with psycopg2); see it for the
# CHAOS_* settings (CHAOS_SEED replays the same choices). Runs on its own
# throwaway cluster; exits 0 on pass, 1 on failure, and prints one summary
# line with the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
PY=/usr/bin/python3
PORT=${CHAOS_PORT:-5433}
TIMEOUT=${CHAOS_TIMEOUT:-150}
export CHAOS_TIMEOUT=$TIMEOUT

if ! $PY -c 'import psycopg2' 2>/dev/null; then
	echo "chaos: installing python3-psycopg2"
	apt-get install -y -qq python3-psycopg2 >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq python3-psycopg2 >/dev/null; }
	$PY -c 'import psycopg2' || { echo "chaos: FAILED: no psycopg2 for $PY"; exit 1; }
fi

dir=$(scratch_dir chaos)
trap 'pg_stop "$dir" immediate; rm -rf "$dir"' EXIT
# 6 workers, their reconnects, the killer, the reaper and the driver fit in
# max_connections = 50; log what the kills do, for a failed run's post-mortem.
pg_start "$dir" "$PORT" synchronous_commit=off log_min_messages=warning shared_preload_libraries=compute
psql -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION compute' >/dev/null

rc=0
timeout --kill-after=10 $((TIMEOUT + 60)) $PY test/chaos/chaos.py || rc=$?
if [ "$rc" -ne 0 ]; then
	[ "$rc" -eq 124 ] && echo "chaos: FAILED: the driver hung past the hard timeout (${TIMEOUT} s + 60 s)"
	echo "chaos: server log (last lines):"
	tail -n 20 "$dir/server.log"
	exit 1
fi
