#!/usr/bin/env bash
# The queue marks against late commits (issue 14, item 2): SUBMITTERS
# clients (default 4) submit jobs that commit 0-100 ms after their insert while
# WORKERS clients (default 8) grab and finish, for MARKS_SECONDS (default 12)
# seconds, once with the queue marks and once with compute.queue_marks = off,
# each in a database of its own on one preloaded server. For every job it
# measures how long it waited after a newer job had been grabbed (a job left
# behind the mark waits until a full scan finds it). Fails if the longest
# such wait with marks exceeds the one without by more than MARKS_MARGIN
# seconds (default 0.5), or if a job is left queued or in-progress.
#
#   bash scripts/check-marks.sh
#   MARKS_SECONDS=40 bash scripts/check-marks.sh     the issue's long run
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
seconds=${MARKS_SECONDS:-12}
submitters=${SUBMITTERS:-4}
workers=${WORKERS:-8}
margin=${MARKS_MARGIN:-0.5}

dir=$(scratch_dir marks)
trap 'pg_stop "$dir"; rm -rf "$dir"' EXIT
pg_start "$dir" 5432 synchronous_commit=off shared_preload_libraries=compute
cp test/marks/*.sql "$dir/"

run() { # run MODE: prints "longest over_1s jobs left"
	local mode=$1 options=""
	[ "$mode" = off ] && options="-c compute.queue_marks=off"
	psql -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE marks_$mode" -d postgres
	psql -qX -v ON_ERROR_STOP=1 -c "CREATE EXTENSION compute" -d "marks_$mode"
	PGOPTIONS="$options" pgbench -n -c "$workers" -j 2 -T $((seconds + 3)) -f "$dir/grab.sql" "marks_$mode" \
		>"$dir/grab.$mode.log" 2>&1 &
	local grabbers=$!
	pgbench -n -c "$submitters" -j 1 -T "$seconds" -f "$dir/submit.sql" "marks_$mode" >"$dir/submit.$mode.log" 2>&1 || {
		cat "$dir/submit.$mode.log"
		return 1
	}
	wait "$grabbers" || {
		cat "$dir/grab.$mode.log"
		return 1
	}
	local left
	left=$(psql -qAtX -d "marks_$mode" -c "SELECT count(*) FROM compute.jobs WHERE status <> 'complete'")
	echo "$(psql -qAtX -F' ' -d "marks_$mode" -f "$dir/passed.sql") $left"
}

read -r on_longest on_over on_jobs on_left <<<"$(run on)"
read -r off_longest off_over off_jobs off_left <<<"$(run off)"
echo "check-marks: with marks: $on_jobs jobs, longest wait behind a newer job ${on_longest} s, $on_over over 1 s, $on_left left"
echo "check-marks: without:    $off_jobs jobs, longest wait behind a newer job ${off_longest} s, $off_over over 1 s, $off_left left"
if [ "$on_left" -eq 0 ] && [ "$off_left" -eq 0 ] && [ "$on_jobs" -gt 0 ] &&
	awk -v on="$on_longest" -v off="$off_longest" -v m="$margin" 'BEGIN { exit !(on <= off + m) }'; then
	echo "check-marks: passed (margin $margin s)"
else
	echo "check-marks: FAILED: the marks make jobs wait behind newer ones longer than without them (margin $margin s), or jobs were left"
	exit 1
fi
