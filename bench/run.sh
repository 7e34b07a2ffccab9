#!/usr/bin/env bash
# The benchmark of issues 5 and 10 (`make bench`): jobs/s of compute against
# hand-written SQL on the same schema, on a throwaway PostgreSQL instance with
# fixed settings. A tool, not a test: it asserts nothing about speed.
#
# Every run: reload the same queue for the system under test (TRUNCATE, insert
# queued jobs, VACUUM ANALYZE, CHECKPOINT), then 8 pgbench clients (-c 8 -j 2,
# -M prepared) for BENCH_SECONDS. Rounds interleave every (scenario, system)
# so that drift of the machine hits all alike. Prints a markdown table of
# median/min/max jobs/s and the goal ratios; writes it to build/bench/results.md.
#
# The server runs with synchronous_commit=off fsync=off, except for the
# `sync` scenario: for it the driver restarts the server with
# synchronous_commit=on fsync=on (with fsync=off a WAL flush costs nothing and
# synchronous_commit=on would measure nothing), and back afterwards.
#
# Environment (defaults in brackets):
#   BENCH_ROUNDS [3]      rounds; each runs every (scenario, system) once
#   BENCH_SECONDS [20]    length of one pgbench run
#   BENCH_JOBS [200000]   queued jobs loaded at least (more when a run could
#                         take them all: see BENCH_RATE)
#   BENCH_SCENARIOS ["clean xmin depth sync ops"]
#   BENCH_SYSTEMS ["limit sql sql10 compute compute_spi compute_token compute10
#                   sql_loop compute_loop finish_and_grab finish_and_grab_nonotify"]
#                         each scenario runs those of its systems that are
#                         in the list: clean all but finish_and_grab_nonotify,
#                         xmin the one-transaction ones (limit ... compute10),
#                         depth sql and compute, sync limit, sql_loop,
#                         compute_loop, finish_and_grab, finish_and_grab_nonotify
#   BENCH_RATE [20000]    jobs/s that the queue is sized for: a run loads
#                         max(BENCH_JOBS, BENCH_SECONDS * BENCH_RATE) jobs,
#                         2.5 times that for the batch systems, twice that
#                         for limit; a run that still empties the queue is
#                         rerun with twice the jobs
#   BENCH_SYNC_RATE [10000] the same for the sync scenario
#   BENCH_PG_OPTS [""]    extra server settings, space separated (name=value)
#   BENCH_PORT [5432]     port of the instance (its socket is in a private dir)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_SECONDS:-20}
JOBS=${BENCH_JOBS:-200000}
SCENARIOS=${BENCH_SCENARIOS:-clean xmin depth sync ops}
ALL_SYSTEMS="limit sql sql10 compute compute_spi compute_token compute10 sql_loop compute_loop finish_and_grab finish_and_grab_nonotify"
SYSTEMS=${BENCH_SYSTEMS:-$ALL_SYSTEMS}
# the systems of each scenario (run if in SYSTEMS)
CLEAN_SYSTEMS="limit sql sql10 compute compute_spi compute_token compute10 sql_loop compute_loop finish_and_grab"
XMIN_SYSTEMS="limit sql sql10 compute compute_token compute10"
DEPTH_SYSTEMS="sql compute"
SYNC_SYSTEMS="limit sql_loop compute_loop finish_and_grab finish_and_grab_nonotify"
RATE=${BENCH_RATE:-20000}
SYNC_RATE=${BENCH_SYNC_RATE:-10000}
PORT=${BENCH_PORT:-5432}
CLIENTS=8
THREADS=2
# compute is preloaded, as the README recommends: its queue marks live in
# shared memory (BENCH_PG_OPTS="compute.queue_marks=off" measures without).
SETTINGS="shared_buffers=1GB max_connections=50 autovacuum=on checkpoint_timeout=30min max_wal_size=8GB shared_preload_libraries=compute"
# The durability of a commit, last on the command line (after BENCH_PG_OPTS:
# the last -c wins), so that each mode is what it says: every scenario but
# sync runs with MODE_OFF, sync with MODE_ON.
MODE_OFF="synchronous_commit=off fsync=off"
MODE_ON="synchronous_commit=on fsync=on"

for s in $SCENARIOS; do
	case $s in clean | xmin | depth | sync | ops) ;; *)
		echo "bench: unknown scenario '$s' (clean xmin depth sync ops)" >&2
		exit 2
		;;
	esac
done
for s in $SYSTEMS; do
	case " $ALL_SYSTEMS " in *" $s "*) ;; *)
		echo "bench: unknown system '$s' ($ALL_SYSTEMS)" >&2
		exit 2
		;;
	esac
done

out=build/bench
mkdir -p "$out/logs"
rm -f "$out"/logs/*
runs_tsv=$out/runs.tsv
ops_tsv=$out/ops.tsv
printf 'round\tscenario\tsystem\trows\ttxns\ttps\tjobs\tjobs_per_s\tfirst_tps\tlast_tps\tcommits\tnote\n' >"$runs_tsv"
printf 'round\tqp_first_ms\tqp_last_ms\tqp_last_position\texpire_ms\texpired\n' >"$ops_tsv"

dir=$(scratch_dir bench)
xmin_pid=
cleanup() {
	if [ -n "$xmin_pid" ]; then kill "$xmin_pid" 2>/dev/null || true; fi
	pg_stop "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT

q() { psql -qXAt -v ON_ERROR_STOP=1 "$@"; }
log() { echo "bench: $*" >&2; }

# shellcheck disable=SC2086 # settings are words on purpose
pg_start "$dir" "$PORT" $SETTINGS ${BENCH_PG_OPTS:-} $MODE_OFF
mode=off

# server_mode off|on: the server in that mode (restarted if it is not), and
# checked: SHOW from a new session, as pgbench's sessions will see it.
server_mode() {
	local want=$1 settings now
	if [ "$mode" != "$want" ]; then
		settings=$MODE_OFF
		[ "$want" = on ] && settings=$MODE_ON
		log "restarting the server with $settings"
		# shellcheck disable=SC2086 # settings are words on purpose
		pg_restart "$dir" "$PORT" $SETTINGS ${BENCH_PG_OPTS:-} $settings
		mode=$want
	fi
	now=$(q -F' ' -c "SELECT current_setting('synchronous_commit'), current_setting('fsync')")
	[ "$now" = "$want $want" ] || {
		log "the server runs with synchronous_commit and fsync '$now', not $want"
		exit 1
	}
}
q -f bench/schema.sql
q <<'SQL'
CREATE SCHEMA results;
CREATE TABLE results.runs (round int, scenario text, system text, rows bigint, txns bigint,
    tps float8, jobs bigint, jobs_per_s float8, first_tps float8, last_tps float8, commits bigint, note text);
CREATE TABLE results.ops (round int, qp_first_ms float8, qp_last_ms float8,
    qp_last_position bigint, expire_ms float8, expired bigint);
SQL

# With pg_stat_statements preloaded (BENCH_PG_OPTS), each run's statements
# go to build/bench/logs/<run>.statements.
pgss=0
if q -c 'SHOW shared_preload_libraries' | grep -q pg_stat_statements; then
	q -c 'CREATE EXTENSION pg_stat_statements'
	pgss=1
fi

started=$(date +%s)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
pgversion=$(q -c 'SELECT version()')
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
log "PostgreSQL in $dir; $ROUNDS round(s) of ${DURATION} s runs; scenarios: $SCENARIOS; systems: $SYSTEMS"

has() { # has WORD LIST...: is WORD among LIST?
	local w=$1
	shift
	for x in "$@"; do [ "$x" = "$w" ] && return 0; done
	return 1
}

# load TABLE QUEUED [FINISHED]: the same start for every run.
load() {
	q -c "SELECT bench.load('$1', $2, ${3:-0})" -c "VACUUM ANALYZE $1" -c "CHECKPOINT" >/dev/null
}

# The held xmin horizon: a REPEATABLE READ transaction that has read TABLE
# and then sleeps, from another session, for the whole run. Sets xmin (the
# horizon it holds) and xmin_pid (its psql).
xmin_hold() {
	PGAPPNAME=bench_xmin psql -qX -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
		-c "SELECT count(*) FROM $1" -c "SELECT pg_sleep(86400)" >/dev/null 2>&1 &
	xmin_pid=$!
	local _
	xmin=
	for _ in $(seq 200); do
		# the client backend, once it sleeps (not the parallel workers of its count)
		xmin=$(q -c "SELECT backend_xmin FROM pg_stat_activity WHERE application_name = 'bench_xmin'
		               AND backend_type = 'client backend' AND state = 'active'
		               AND query LIKE '%pg_sleep%' AND backend_xmin IS NOT NULL")
		[ -n "$xmin" ] && break
		sleep 0.05
	done
	[ -n "$xmin" ] || {
		log "the xmin holder did not start"
		exit 1
	}
}
# xmin_release: check that the holder still holds $xmin, then end it. Sets
# xmin_note (how far it held the horizon back, in transactions).
xmin_release() {
	local now
	now=$(q -F' ' -c "SELECT backend_xmin, age(backend_xmin) FROM pg_stat_activity
	                   WHERE application_name = 'bench_xmin' AND backend_type = 'client backend'")
	q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench_xmin'" >/dev/null
	wait "$xmin_pid" 2>/dev/null || true
	xmin_pid=
	if [ "${now%% *}" != "$xmin" ]; then
		log "the xmin holder lost its horizon (had $xmin, now '${now}')"
		xmin_note="XMIN NOT HELD"
	else
		xmin_note="xmin held back ${now#* } xacts"
	fi
}

# committed: the transactions committed in the database so far, once the
# sessions of the last pgbench run have gone (a backend reports its counts
# when it exits). The commits of a run over its jobs: how many commits a
# job took.
committed() {
	local _
	for _ in $(seq 100); do
		[ "$(q -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'")" = 0 ] && break
		sleep 0.05
	done
	q -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
}

# run ROUND SCENARIO SYSTEM: one measured run; appends to runs.tsv and results.runs.
run() {
	local round=$1 scenario=$2 system=$3
	# size: queued jobs loaded, in halves of BENCH_SECONDS * BENCH_RATE
	local table script size=2 rows finished=0 queued_sys=1 defs="" rate=$RATE pgoptions=${PGOPTIONS:-}
	case $system in
	limit) table=bench.jobs script=limit queued_sys=0 size=4 ;;
	sql) table=bench.jobs script=sql ;;
	sql10) table=bench.jobs script=sql10 size=5 ;;
	compute) table=compute.jobs script=compute ;;
	# the same through the SPI statements (the direct path off)
	compute_spi) table=compute.jobs script=compute pgoptions="$pgoptions -c compute.direct_path=off" ;;
	compute_token) table=compute.jobs script=compute_token ;;
	compute10) table=compute.jobs script=compute10 size=5 ;;
	sql_loop) table=bench.jobs script=sql_loop ;;
	compute_loop) table=compute.jobs script=compute_loop ;;
	finish_and_grab) table=compute.jobs script=finish_and_grab ;;
	# the same without the NOTIFY that every finish sends at commit
	finish_and_grab_nonotify) table=compute.jobs script=finish_and_grab pgoptions="$pgoptions -c compute.notify=off" ;;
	esac
	[ "$scenario" = sync ] && rate=$SYNC_RATE
	rows=$((DURATION * rate * size / 2))
	[ "$rows" -ge "$JOBS" ] || rows=$JOBS
	case $scenario in
	depth1k) rows=1000 script=depth_$script ;;
	depth1m) rows=1000000 finished=1000000 script=depth_$script ;;
	esac
	defs="-D n=0 -D held=0 -D clients=$CLIENTS -D rows=$rows"

	local attempt note="" logf txns tps jobs jps first last dry rc commits
	for attempt in 1 2; do
		local t0=$SECONDS
		load "$table" "$rows" "$finished"
		loadtime=$((SECONDS - t0))
		xmin='' xmin_note=''
		[ "$scenario" = xmin ] && xmin_hold "$table"
		logf=$out/logs/r$round-$scenario-$system-$attempt.log
		[ "$pgss" = 0 ] || q -c 'SELECT pg_stat_statements_reset()' >/dev/null
		commits=$(committed)
		rc=0
		# shellcheck disable=SC2086
		PGOPTIONS=$pgoptions pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -T "$DURATION" -P "$(((DURATION + 4) / 5))" \
			$defs -f "bench/$script.sql" >"$logf" 2>&1 || rc=$?
		commits=$(($(committed) - commits))
		[ -n "$xmin" ] && xmin_release
		[ "$pgss" = 0 ] || psql -X -c "SELECT calls, plans, round(mean_plan_time::numeric, 4) AS plan_ms,
		        round(mean_exec_time::numeric, 4) AS exec_ms, shared_blks_hit / calls AS hits_per_call,
		        regexp_replace(query, '\s+', ' ', 'g') AS query
		   FROM pg_stat_statements WHERE calls >= 100 ORDER BY total_exec_time DESC LIMIT 10" \
			>"${logf%.log}.statements" 2>&1 || true
		note=$xmin_note
		txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$logf")
		tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$logf")
		first=$(grep -m1 '^progress:' "$logf" | sed 's/.* s, \([0-9.]*\) tps.*/\1/') || true
		last=$(grep '^progress:' "$logf" | tail -1 | sed 's/.* s, \([0-9.]*\) tps.*/\1/') || true
		: "${txns:=0}" "${tps:=0}" "${first:=0}" "${last:=0}"
		local counts
		counts=$(q -F' ' -c "SELECT count(*) FILTER (WHERE status = 'complete'),
		                            count(*) FILTER (WHERE status = 'queued') FROM $table")
		local complete=${counts% *} left=${counts#* }
		if [ "$queued_sys" = 1 ]; then
			jobs=$((complete - finished))
			dry=$([ "$left" -eq 0 ] && echo 1 || echo 0)
		else
			jobs=$txns
			dry=$([ "$txns" -ge "$rows" ] && echo 1 || echo 0)
		fi
		if [ "$rc" -ne 0 ] && [ "$dry" = 0 ]; then
			log "pgbench failed in round $round, $scenario, $system (exit $rc):"
			tail -20 "$logf" >&2
			note="${note:+$note; }pgbench failed"
		fi
		jps=$(awk -v j="$jobs" -v x="$txns" -v t="$tps" 'BEGIN { printf "%.1f", (x > 0 ? j * t / x : 0) }')
		if [ "$dry" = 1 ] && [ "$attempt" = 1 ]; then
			log "round $round, $scenario, $system: the queue of $rows ran dry; reloading with $((rows * 2)) and running again"
			rows=$((rows * 2))
			defs="-D n=0 -D held=0 -D clients=$CLIENTS -D rows=$rows"
			continue
		fi
		[ "$attempt" = 2 ] && note="${note:+$note; }rerun with 2x queue"
		[ "$dry" = 1 ] && note="${note:+$note; }RAN DRY"
		break
	done
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$scenario" "$system" "$rows" \
		"$txns" "$tps" "$jobs" "$jps" "$first" "$last" "$commits" "$note" >>"$runs_tsv"
	q -v round="$round" -v scenario="$scenario" -v system="$system" -v rows="$rows" -v txns="$txns" \
		-v tps="$tps" -v jobs="$jobs" -v jps="$jps" -v first="$first" -v last="$last" -v commits="$commits" \
		-v note="$note" <<'SQL'
INSERT INTO results.runs VALUES (:round, :'scenario', :'system', :rows, :txns, :tps, :jobs, :jps,
                                 :first, :last, :commits, nullif(:'note', ''));
SQL
	log "round $round $(printf '%-8s %-15s' "$scenario" "$system") $(printf '%9s' "$jps") jobs/s" \
		"($txns txns, $commits commits, $rows queued at start, loaded in ${loadtime} s${note:+; $note})"
}

# ops ROUND: compute.queue_position of the first and the last job in a queue
# of 1,000,000 (plus 1,000,000 complete jobs), then compute.expire() of the
# 1,000,000 complete jobs, last accessed 60 days ago.
ops() {
	local round=$1 r
	load compute.jobs 1000000 1000000
	r=$(q -F' ' <<'SQL'
SELECT job_id AS first FROM compute.jobs WHERE status = 'queued' ORDER BY created, job_id LIMIT 1 \gset
SELECT job_id AS last FROM compute.jobs WHERE status = 'queued' ORDER BY created DESC, job_id DESC LIMIT 1 \gset
SELECT job_id AS mid FROM compute.jobs WHERE job_id = decode(md5('job 500000'), 'hex') \gset
SELECT compute.queue_position(:'mid') IS NOT NULL AS warm \gset
SELECT clock_timestamp() AS t0 \gset
SELECT compute.queue_position(:'first') AS pos_first \gset
SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'), 2) AS qp_first \gset
SELECT clock_timestamp() AS t0 \gset
SELECT compute.queue_position(:'last') AS pos_last \gset
SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'), 2) AS qp_last \gset
SELECT clock_timestamp() AS t0 \gset
SELECT compute.expire() AS expired \gset
SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'), 2) AS expire_ms \gset
SELECT :qp_first, :qp_last, :pos_last, :expire_ms, :expired;
SQL
	)
	read -r qp_first qp_last pos_last expire_ms expired <<<"$r"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$qp_first" "$qp_last" "$pos_last" "$expire_ms" "$expired" >>"$ops_tsv"
	q -c "INSERT INTO results.ops VALUES ($round, $qp_first, $qp_last, $pos_last, $expire_ms, $expired)"
	log "round $round ops: queue_position first ${qp_first} ms, last ${qp_last} ms (= $pos_last);" \
		"expire ${expire_ms} ms ($expired jobs)"
}

for round in $(seq "$ROUNDS"); do
	for scenario in $SCENARIOS; do
		if [ "$scenario" = sync ]; then server_mode on; else server_mode off; fi
		case $scenario in
		clean | xmin | sync)
			list=$CLEAN_SYSTEMS
			[ "$scenario" = xmin ] && list=$XMIN_SYSTEMS
			[ "$scenario" = sync ] && list=$SYNC_SYSTEMS
			for system in $list; do
				# shellcheck disable=SC2086 # a list of words
				has "$system" $SYSTEMS || continue
				run "$round" "$scenario" "$system"
			done
			;;
		depth)
			for system in $DEPTH_SYSTEMS; do
				# shellcheck disable=SC2086 # a list of words
				has "$system" $SYSTEMS || continue
				run "$round" depth1k "$system"
				run "$round" depth1m "$system"
			done
			;;
		ops) ops "$round" ;;
		esac
	done
done

elapsed=$(($(date +%s) - started))
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
{
	echo "# compute benchmark"
	echo
	echo "- machine: $(nproc) CPUs, $cpu, $(awk '/MemTotal/ { printf "%.0f GB RAM", $2 / 1048576 }' /proc/meminfo)," \
		"load average $load_start at start, $load_end at end"
	echo "- server: $pgversion"
	echo "- settings: $SETTINGS${BENCH_PG_OPTS:+ $BENCH_PG_OPTS}, and $MODE_OFF" \
		"(every scenario but sync) or $MODE_ON (sync: the server restarted with these)"
	echo "- run: \`$(for v in BENCH_ROUNDS BENCH_SECONDS BENCH_JOBS BENCH_SCENARIOS BENCH_SYSTEMS BENCH_RATE BENCH_SYNC_RATE BENCH_PG_OPTS; do
		[ -n "${!v:-}" ] && printf "%s='%s' " "$v" "${!v}"
	done)make bench\`: $ROUNDS round(s), ${DURATION} s per run, $CLIENTS clients (-c $CLIENTS -j $THREADS -M prepared)," \
		"$(date -u '+%Y-%m-%d %H:%M UTC'), took $((elapsed / 60)) min $((elapsed % 60)) s"
	echo
	q -f bench/report.sql
} >"$out/results.md"
cat "$out/results.md"
echo
echo "bench: written to $out/results.md (every run: $runs_tsv, pgbench logs: $out/logs/)"
