#!/usr/bin/env bash
# The multi-client run: CLIENTS pgbench clients (default 8) grab and finish
# JOBS jobs (default 20,000) spread over 2 queues until both are empty; then
# every job must be complete, finished exactly once, and nothing may be left
# queued or in-progress. Runs on its own throwaway cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
JOBS=${JOBS:-20000}
CLIENTS=${CLIENTS:-8}

dir=$(scratch_dir multiclient)
trap 'pg_stop "$dir"; rm -rf "$dir"' EXIT
# Preloaded: grab_job scans from the queue marks in shared memory.
pg_start "$dir" 5432 synchronous_commit=off shared_preload_libraries=compute
cp test/multiclient/worker.sql "$dir/"

psql -qX -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION compute;
CREATE TABLE finish_log (job_id bytea NOT NULL, worker int NOT NULL);
SELECT count(compute.submit_job(decode(md5('job ' || i), 'hex'), 'q' || (i % 2), 'config ' || i))
  FROM generate_series(1, $JOBS) i;
SQL

start=$(date +%s%N)
per_client=$(((JOBS + CLIENTS - 1) / CLIENTS + 50))
for round in 1 2 3 4 5; do
	pgbench -n -M extended -c "$CLIENTS" -j 2 -t "$per_client" -f "$dir/worker.sql" >"$dir/pgbench.$round.log" 2>&1 || {
		cat "$dir/pgbench.$round.log"
		echo "multiclient: pgbench failed (a client hit an error)"
		exit 1
	}
	left=$(psql -qAtX -c "SELECT count(*) FROM compute.jobs WHERE status IN ('queued', 'in-progress')")
	[ "$left" -eq 0 ] && break
	per_client=$((left / CLIENTS + 50))
done
ms=$((($(date +%s%N) - start) / 1000000))

result=$(psql -qAtX -F' ' <<'SQL'
SELECT (SELECT count(*) FROM compute.jobs),
       (SELECT count(*) FROM compute.jobs WHERE status = 'complete'),
       (SELECT count(*) FROM compute.jobs WHERE status IN ('queued', 'in-progress')),
       (SELECT count(*) FROM finish_log),
       (SELECT count(DISTINCT job_id) FROM finish_log),
       (SELECT count(*) FROM compute.jobs j JOIN finish_log l USING (job_id)
         WHERE j.status = 'complete' AND j.output_files = ARRAY['out-' || encode(j.job_id, 'hex')]::varchar[]
           AND j.grabbed IS NOT NULL AND j.finished >= j.grabbed),
       (SELECT count(DISTINCT worker) FROM finish_log),
       (SELECT count(DISTINCT queue) FROM compute.jobs)
SQL
)
read -r total complete left logged distinct consistent workers queues <<<"$result"
echo "multiclient: $JOBS jobs, $CLIENTS clients, $round round(s), ${ms} ms:" \
	"complete=$complete left=$left finishes=$logged distinct=$distinct consistent=$consistent workers=$workers queues=$queues"
echo "multiclient: $((JOBS * 1000 / ms)) jobs/s (grab + finish, with a log insert)"
if [ "$total" -eq "$JOBS" ] && [ "$complete" -eq "$JOBS" ] && [ "$left" -eq 0 ] && [ "$logged" -eq "$JOBS" ] &&
	[ "$distinct" -eq "$JOBS" ] && [ "$consistent" -eq "$JOBS" ] && [ "$workers" -eq "$CLIENTS" ] && [ "$queues" -eq 2 ]; then
	echo "multiclient: passed: every job complete exactly once, nothing left"
else
	echo "multiclient: FAILED"
	exit 1
fi
