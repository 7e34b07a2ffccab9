#!/usr/bin/env bash
# Crashes under load: pgbench clients grab and finish CRASH_JOBS jobs
# (20,000; 100,000 with HARDENING_LONG=1) while backends are killed with
# SIGKILL in the middle of compute.grab_job and compute.finish_job (and
# between finish_job and COMMIT), and the whole server is stopped with
# `pg_ctl -m immediate stop` and restarted; CRASH_EACH of each (3; 6 with
# HARDENING_LONG=1) in an order drawn from CRASH_SEED, or the kinds listed
# in CRASH_PLAN (grab, finish, uncommitted, immediate, comma-separated).
# After each recovery and at the end: every job complete before the crash is
# still complete exactly as it was, with exactly one finish_log row, no job
# is complete without one or twice, the jobs stuck in-progress are requeued
# by compute.requeue_stale('0 seconds'), and the load runs on until all jobs
# are complete. See test/hardening/crash.py. CRASH_MUTATE=lost-row or no-requeue
# shows that the check fails when what it checks breaks.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

if [ "${HARDENING_LONG:-0}" = 1 ]; then
	: "${CRASH_JOBS:=100000}" "${CRASH_EACH:=6}"
fi
export CRASH_JOBS=${CRASH_JOBS:-20000}
export CRASH_CLIENTS=${CRASH_CLIENTS:-8}
export CRASH_SEED=${CRASH_SEED:-$(($(od -An -N2 -tu2 /dev/urandom) + 1))}
export CRASH_PLAN=${CRASH_PLAN:-} CRASH_EACH=${CRASH_EACH:-3} CRASH_MUTATE=${CRASH_MUTATE:-}
port=${CRASH_PORT:-5443}

/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || {
	echo "check-crash: installing python3-psycopg2"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-psycopg2; } >/dev/null ||
		{ echo "check-crash: could not install python3-psycopg2"; exit 1; }
}
command -v pgbench >/dev/null || { echo "check-crash: pgbench missing (bash scripts/deps.sh)"; exit 1; }

dir=$(scratch_dir crash)
keep=0
cleanup() {
	pg_stop "$dir" immediate
	if [ "$keep" = 1 ]; then echo "check-crash: outputs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
# synchronous_commit=on: a commit that pgbench saw is durable. fsync=off (from
# pg_start) loses nothing here: the processes die, the OS page cache stays.
# restart_after_crash=on (the default) is what brings the server back after
# a backend is killed.
pg_start "$dir" "$port" synchronous_commit=on restart_after_crash=on shared_preload_libraries=compute || exit 1
psql -qX -v ON_ERROR_STOP=1 <<SQL || exit 1
CREATE EXTENSION compute;
CREATE TABLE finish_log (job_id bytea NOT NULL, worker int NOT NULL, finished timestamptz, grabbed timestamptz,
                         logged timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE INDEX ON finish_log (job_id);  -- not unique: a job finished twice must show
SELECT count(compute.submit_job(decode(md5('crash job ' || i), 'hex'), 'q' || (i % 2), 'config ' || i))
  FROM generate_series(1, $CRASH_JOBS) i;
SQL

CRASH_DIR=$dir /usr/bin/python3 test/hardening/crash.py
rc=$?
crashes=$(grep -cE 'terminated by signal 9|received immediate shutdown request' "$dir/server.log")
echo "check-crash: server log: $crashes crash(es) seen ($(grep -c 'terminated by signal 9' "$dir/server.log") backends killed," \
	"$(grep -c 'received immediate shutdown request' "$dir/server.log") immediate shutdowns)," \
	"$(grep -c 'database system was not properly shut down; automatic recovery in progress\|all server processes terminated; reinitializing' "$dir/server.log") recoveries"
if [ "$rc" -ne 0 ]; then
	keep=1
	exit 1
fi
