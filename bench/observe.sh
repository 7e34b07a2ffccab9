#!/usr/bin/env bash
# How fast the operator's views are on a big table (issue 11): the time of
# compute.queue_stats and compute.health() on OBSERVE_JOBS jobs (1,000,000 by
# default), with EXPLAIN (ANALYZE, BUFFERS) evidence, and what the index they
# read (jobs_finished_idx) costs a worker that grabs and finishes jobs. A tool,
# not a test: it asserts nothing about speed.
#
#   bash bench/observe.sh          # the extension must be installed (make install)
#
# On a throwaway instance (scripts/lib.sh) with the settings of bench/run.sh:
#   1. loads the jobs of bench/observe_load.sql (a week of history on 8
#      queues, as a restore loads it), VACUUM ANALYZE;
#   2. times each of these in one session: its first call, then the median,
#      min and max of OBSERVE_REPEAT more:
#        overview   SELECT of the queue_stats columns the exporter reads every
#                   scrape (everything but the totals of finished jobs)
#        all        SELECT * FROM compute.queue_stats (with those totals)
#        function   compute.queue_stats('5 minutes', totals => false)
#        health     SELECT * FROM compute.health()
#        overview without jobs_finished_idx (dropped in a transaction that
#                   is rolled back)
#      and keeps the EXPLAIN (ANALYZE, BUFFERS) of each;
#   3. grab + finish throughput with and without jobs_finished_idx:
#      OBSERVE_ROUNDS rounds, each one OBSERVE_SECONDS pgbench run of 8
#      clients per variant (order alternating), every run on a fresh queue
#      of OBSERVE_QUEUE queued jobs in the same 1M-job table.
# Writes build/bench/observe/report.md and the plans next to it.
#
# Environment (defaults in brackets): OBSERVE_JOBS [1000000], OBSERVE_REPEAT
# [5], OBSERVE_ROUNDS [3], OBSERVE_SECONDS [10], OBSERVE_QUEUE [150000],
# OBSERVE_PORT [5432] (its socket is in a private directory).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
. scripts/lib.sh

JOBS=${OBSERVE_JOBS:-1000000}
REPEAT=${OBSERVE_REPEAT:-5}
ROUNDS=${OBSERVE_ROUNDS:-3}
SECONDS_PER_RUN=${OBSERVE_SECONDS:-10}
QUEUE_JOBS=${OBSERVE_QUEUE:-150000}
PORT=${OBSERVE_PORT:-5432}
SETTINGS="synchronous_commit=off shared_buffers=1GB max_connections=50 autovacuum=on checkpoint_timeout=30min max_wal_size=8GB shared_preload_libraries=compute"

out=build/bench/observe
mkdir -p "$out"
rm -f "$out"/*
dir=$(scratch_dir observe)
trap 'pg_stop "$dir"; rm -rf "$dir"' EXIT
q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
log() { echo "observe: $*" >&2; }

# shellcheck disable=SC2086 # settings are words on purpose
pg_start "$dir" "$PORT" $SETTINGS
q -c 'CREATE EXTENSION compute'
log "loading $JOBS jobs (bench/observe_load.sql)"
t0=$(date +%s)
q -v jobs="$JOBS" -f bench/observe_load.sql
q -c 'VACUUM ANALYZE compute.jobs'
log "loaded in $(($(date +%s) - t0)) s: $(q -c "SELECT string_agg(status || ' ' || n, ', ' ORDER BY status)
	FROM (SELECT status, count(*) n FROM compute.jobs GROUP BY 1) s"); table $(q -c "SELECT pg_size_pretty(pg_table_size('compute.jobs'))"), indexes $(q -c "SELECT pg_size_pretty(pg_indexes_size('compute.jobs'))")"

overview="SELECT queue, queued, in_progress, oldest_queued_age, lease_expired, grabbed_recent, completed_recent,
       failed_recent, wait_p50, wait_p95, wait_p99, run_p50, run_p95, run_p99 FROM compute.queue_stats"
declare -A statements=(
	[overview]="$overview"
	[all]="SELECT * FROM compute.queue_stats"
	[function]="SELECT * FROM compute.queue_stats('5 minutes', totals => false)"
	[health]="SELECT * FROM compute.health()"
)
order=(overview all function health)

# times_ms SQL: the server's execution times of SQL, in ms, one a line:
# OBSERVE_REPEAT + 1 runs in one session (EXPLAIN ANALYZE with TIMING OFF,
# so that the instrumentation does not inflate them). The first run of a
# session also plans the statements inside compute's functions (PL/pgSQL
# keeps the plans for the session's later calls, as the exporter's one
# connection does).
times_ms() {
	local args=() i
	for i in $(seq $((REPEAT + 1))); do args+=(-c "EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) $1"); done
	q "${args[@]}" | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p'
}
stats() { # median min max of the numbers on stdin
	sort -n | awk '{ v[NR] = $1 } END { printf "%.1f %.1f %.1f\n", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[1], v[NR] }'
}

report=$out/report.md
{
	echo "# queue_stats and health on $JOBS jobs"
	echo
	echo "$(q -c 'SELECT version()' | cut -d, -f1), $(nproc) cores, load average at the start $(cut -d' ' -f1-3 /proc/loadavg)"
	echo
	echo "Execution times in ms: the first call in a session (plans the statements of"
	echo "compute's functions), then the median, min and max of $REPEAT more in that session."
	echo
	echo "| statement | first | median | min | max | plan |"
	echo "|---|---:|---:|---:|---:|---|"
} >"$report"
for name in "${order[@]}"; do
	sql=${statements[$name]}
	times_ms "$sql" >/dev/null # warm the cache
	times=$(times_ms "$sql")
	first=$(head -1 <<<"$times")
	read -r med min max < <(tail -n +2 <<<"$times" | stats)
	# The statements a function runs do not show in its EXPLAIN: auto_explain
	# shows them (nested statements of 1 ms or more, as notices).
	q -c "LOAD 'auto_explain'" -c "SET auto_explain.log_min_duration = 1" -c "SET auto_explain.log_analyze = on" \
		-c "SET auto_explain.log_buffers = on" -c "SET auto_explain.log_nested_statements = on" \
		-c "SET auto_explain.log_level = notice" -c "EXPLAIN (ANALYZE, BUFFERS) $sql" >"$out/$name.txt" 2>&1
	log "$name: first call in a session $first ms; then median $med ms (min $min, max $max)"
	echo "| $name | $first | $med | $min | $max | $name.txt |" >>"$report"
done
# The overview without the index of finished jobs: the recent window then
# reads the whole table.
noindex() {
	q -c "BEGIN" -c "DROP INDEX compute.jobs_finished_idx" -c "EXPLAIN (ANALYZE, $1) $overview" -c "ROLLBACK"
}
noindex "BUFFERS" >"$out/overview_without_index.txt"
times=$(noindex "TIMING OFF, SUMMARY ON" | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p')
for _ in $(seq "$REPEAT"); do
	times="$times
$(noindex "TIMING OFF, SUMMARY ON" | sed -n 's/^Execution Time: \([0-9.]*\) ms/\1/p')"
done
first=$(head -1 <<<"$times")
read -r med min max < <(tail -n +2 <<<"$times" | stats)
log "overview without jobs_finished_idx: first $first ms; then median $med ms (min $min, max $max)"
echo "| overview without jobs_finished_idx | $first | $med | $min | $max | overview_without_index.txt |" >>"$report"

# Grab + finish throughput with and without the index.
cat >"$dir/worker.sql" <<'SQL'
BEGIN;
SELECT job_id FROM compute.grab_job(:queue) \gset
SELECT NULL FROM compute.finish_job(:job_id, 'complete');
END;
SQL
chmod 644 "$dir/worker.sql"
run=0
declare -A jps
throughput() { # RUN VARIANT: one pgbench run on a fresh queue; prints jobs/s
	local run=$1 variant=$2 queue
	queue="bench$run"
	q -c "INSERT INTO compute.jobs (job_id, status, queue, created)
	      SELECT decode(md5('observe bench $run ' || i), 'hex'), 'queued', '$queue', now() - interval '1 day' + i * interval '1 millisecond'
	        FROM generate_series(1, $QUEUE_JOBS) i" -c "VACUUM ANALYZE compute.jobs" -c "CHECKPOINT"
	if [ "$variant" = without ]; then
		q -c "DROP INDEX IF EXISTS compute.jobs_finished_idx"
	else
		q -c "CREATE INDEX IF NOT EXISTS jobs_finished_idx ON compute.jobs (finished) WHERE status::text = ANY ('{complete,failed}'::text[])"
	fi
	pgbench -n -M prepared -c 8 -j 2 -T "$SECONDS_PER_RUN" -D queue="$queue" -f "$dir/worker.sql" >"$out/pgbench-$run-$variant.log" 2>&1 || {
		cat "$out/pgbench-$run-$variant.log" >&2
		return 1
	}
	local done left
	done=$(q -c "SELECT count(*) FROM compute.jobs WHERE queue = '$queue' AND status = 'complete'")
	left=$(q -c "SELECT count(*) FROM compute.jobs WHERE queue = '$queue' AND status = 'queued'")
	[ "$left" -gt 0 ] || log "run $run ran its queue dry: raise OBSERVE_QUEUE"
	awk -v n="$done" -v s="$SECONDS_PER_RUN" 'BEGIN { printf "%.0f\n", n / s }'
}
for round in $(seq "$ROUNDS"); do
	if [ $((round % 2)) = 1 ]; then variants="with without"; else variants="without with"; fi
	for v in $variants; do
		run=$((run + 1))
		r=$(throughput "$run" "$v")
		jps[$v]="${jps[$v]:-} $r"
		log "round $round, $v jobs_finished_idx: $r jobs/s"
	done
done
q -c "CREATE INDEX IF NOT EXISTS jobs_finished_idx ON compute.jobs (finished) WHERE status::text = ANY ('{complete,failed}'::text[])"
{
	echo
	echo "grab + finish (one job per transaction, 8 pgbench clients, ${SECONDS_PER_RUN} s runs, $ROUNDS rounds), jobs/s:"
	echo
	echo "| jobs_finished_idx | median | min | max | runs |"
	echo "|---|---:|---:|---:|---|"
	for v in with without; do
		read -r med min max < <(tr ' ' '\n' <<<"${jps[$v]}" | grep . | stats)
		echo "| $v | $med | $min | $max |${jps[$v]} |"
	done
	echo
	echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$report"
cat "$report"
