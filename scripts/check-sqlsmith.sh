#!/usr/bin/env bash
# SQL fuzzing: Debian's sqlsmith, plus a generator of compute calls with
# random and edge arguments (test/hardening/fuzz_calls.py), run at the same
# time for SQLSMITH_SECONDS (60; 600 with HARDENING_LONG=1) against a
# throwaway cluster whose database holds the extension, jobs in every status
# and schema fz that biases sqlsmith towards compute
# (test/hardening/sqlsmith_setup.sql). sqlsmith connects as the unprivileged
# role `fuzzer`, in batches of SQLSMITH_BATCH queries with seeds
# SQLSMITH_SEED, SQLSMITH_SEED+1, ... (the seed is printed; a batch replays
# with `sqlsmith --seed=N --max-queries=M` against the same setup).
#
# Passes when afterwards: the server log has no backend terminated by a
# signal (nor PANIC, failed assertion or crash restart), the postmaster is
# the one started (same PID), no error of sqlsmith's or the generator's
# queries that compute raised is an internal error (XX000) or carries a
# SQLSTATE compute does not document (the server logs every error with
# log_error_verbosity = verbose, whose LOCATION tells compute's C++ from
# PostgreSQL's C: test/hardening/server_errors.py), every job row is in a
# valid state (SPEC section 3's timestamp rules and the lease columns),
# every compute function completed at least SQLSMITH_MIN_CALLS calls (one per
# 4 s of the run: 15 in 60 s;
# sqlsmith's and the generator's together), compute still works, and the
# generator saw no lost connection, internal error, unexpected SQLSTATE or
# error message that is not valid UTF-8.
#
# SQLSMITH_MUTATE=crash (a backend killed by SIGSEGV mid-run),
# SQLSMITH_MUTATE=invariant (a queued row with output files, written behind
# compute's back) or SQLSMITH_MUTATE=lease (a row not in progress holding a
# lease)
# shows that the check fails when what it checks breaks.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

long=${HARDENING_LONG:-0}
duration=${SQLSMITH_SECONDS:-$([ "$long" = 1 ] && echo 600 || echo 60)}
seed=${SQLSMITH_SEED:-$(($(od -An -N2 -tu2 /dev/urandom) + 1))}
batch_size=${SQLSMITH_BATCH:-2000}
port=${SQLSMITH_PORT:-5442}
mutate=${SQLSMITH_MUTATE:-}
min_calls=${SQLSMITH_MIN_CALLS:-$(((duration + 3) / 4))}
# The SQLSTATEs compute's own code may raise: SPEC section 5 and the README's
# Errors section (55000, P0002, 22023, 22001, 22004, 42501), and three that are
# PostgreSQL's convention rather than compute's documented API: 40001
# (submit_job: the job changed concurrently twice, retry), 39P01 (the
# trigger function called directly), 53200 (out of memory in the C++ core).
compute_codes=55000,P0002,22023,22001,22004,42501,40001,39P01,53200

install_missing() { # install_missing PACKAGE TEST-COMMAND...
	local pkg=$1
	shift
	"$@" >/dev/null 2>&1 && return 0
	echo "check-sqlsmith: installing $pkg"
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg"; } >/dev/null ||
		{ echo "check-sqlsmith: could not install $pkg"; exit 1; }
}
install_missing sqlsmith command -v sqlsmith
install_missing python3-psycopg2 /usr/bin/python3 -c 'import psycopg2'

dir=$(scratch_dir sqlsmith)
keep=0
cleanup() {
	pg_stop "$dir" immediate
	if [ "$keep" = 1 ]; then echo "check-sqlsmith: outputs kept in $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT
# Every ERROR goes to the log, with its SQLSTATE and LOCATION (verbose), so
# that compute's own errors can be told apart and checked; the statements
# stay out (log_min_error_statement=panic: sqlsmith's are long).
pg_start "$dir" "$port" track_functions=all log_min_messages=error log_error_verbosity=verbose \
	log_min_error_statement=panic max_connections=50 || exit 1
export PGDATABASE=fuzz
psql -qX -d postgres -c 'CREATE DATABASE fuzz' || exit 1
psql -qX -f test/hardening/sqlsmith_setup.sql >"$dir/setup.log" 2>&1 || { cat "$dir/setup.log"; exit 1; }
pm_pid=$(head -1 "$dir/data/postmaster.pid")
target="host=$dir port=$port dbname=fuzz user=fuzzer"

echo "check-sqlsmith: seed $seed, ${duration} s, sqlsmith batches of $batch_size queries as role fuzzer" \
	"+ compute call generator${mutate:+, MUTATION $mutate}"
start=$(date +%s)
end=$((start + duration))

FUZZ_SEED=$seed FUZZ_SECONDS=$duration /usr/bin/python3 test/hardening/fuzz_calls.py >"$dir/fuzz_calls.log" 2>&1 &
gen_pid=$!

if [ "$mutate" = crash ]; then
	(sleep $((duration / 3)); victim=$(psql -qAtX -c "SELECT pid FROM pg_stat_activity WHERE datname = 'fuzz'
		AND backend_type = 'client backend' AND pid <> pg_backend_pid() LIMIT 1")
	 [ -n "$victim" ] && kill -SEGV "$victim") &
fi

batches=0 queries=0 errors=0 timeouts=0
while [ "$(date +%s)" -lt "$end" ]; do
	left=$((end - $(date +%s)))
	err="$dir/sqlsmith.$batches.err"
	timeout -s INT "$left" sqlsmith --target="$target" --exclude-catalog --seed=$((seed + batches)) \
		--max-queries="$batch_size" --verbose >/dev/null 2>"$err"
	# The progress lines: one character per query (. ok, e error, t timeout, ...).
	progress=$(grep -E '^[a-zA-Z.]+$' "$err" | tr -d '\n')
	n=$(grep -oE '^queries: [0-9]+' "$err" | tail -1 | cut -d' ' -f2)
	# (A batch cut short by the time limit ends after its last report.)
	[ -z "$n" ] || [ "$n" -lt "${#progress}" ] && n=${#progress}
	queries=$((queries + n))
	e=${progress//[^e]/}
	errors=$((errors + ${#e}))
	# Timeouts are among the errors: the last (cumulative) report of the batch.
	t=$(awk '/^queries:/ { n = 0 } /canceling statement due to statement timeout/ { n += $1 } END { print n + 0 }' "$err")
	timeouts=$((timeouts + t))
	batches=$((batches + 1))
	if ! grep -q '^Generating indexes' "$err"; then
		echo "check-sqlsmith: sqlsmith did not start:"
		head -20 "$err"
		break
	fi
done
wait "$gen_pid"
gen_rc=$?
elapsed=$(($(date +%s) - start))
if [ "$mutate" = invariant ] || [ "$mutate" = lease ]; then
	# A job row left broken, as a bug might leave it: written with the
	# transition trigger off (it refuses both), a queued job with output files
	# (invariant) or a job not in progress that holds a lease (lease).
	if [ "$mutate" = invariant ]; then
		broken="output_files = '{stray}' WHERE job_id = (SELECT job_id FROM compute.jobs WHERE status = 'queued' LIMIT 1)"
	else
		broken="lease = '1 hour', lease_expires = now() + '1 hour'
			WHERE job_id = (SELECT job_id FROM compute.jobs WHERE status <> 'in-progress' LIMIT 1)"
	fi
	mode=$(psql -qAtX -c "SELECT tgenabled FROM pg_trigger WHERE tgname = 'jobs_guard'")
	psql -qX -v ON_ERROR_STOP=1 <<SQL
BEGIN;
ALTER TABLE compute.jobs DISABLE TRIGGER jobs_guard;
UPDATE compute.jobs SET $broken;
ALTER TABLE compute.jobs ENABLE $([ "$mode" = A ] && echo ALWAYS) TRIGGER jobs_guard;
COMMIT;
SQL
fi

failed=0
fail() {
	echo "check-sqlsmith: FAIL: $*"
	failed=1
}

crash_lines=$(grep -cE 'terminated by signal|server process .* was terminated|terminating any other active server processes|all server processes terminated|PANIC|TRAP:|database system was interrupted' "$dir/server.log")
if [ "$crash_lines" -gt 0 ]; then
	fail "the server log reports a crash:"
	grep -E -A2 'terminated by signal|server process .* was terminated|PANIC|TRAP:' "$dir/server.log" | head -30
fi
now_pid=$(head -1 "$dir/data/postmaster.pid" 2>/dev/null)
if [ "$now_pid" != "$pm_pid" ] || ! kill -0 "$pm_pid" 2>/dev/null; then
	fail "the postmaster is not the one started (PID $pm_pid, now ${now_pid:-none})"
fi

# A valid row (IS TRUE: a NULL where the rules need a value is invalid too).
valid="(length(job_id) = 16 AND status IN ('queued', 'in-progress', 'complete', 'failed', 'expired')
	AND (status <> 'queued' OR (grabbed IS NULL AND finished IS NULL AND output_files IS NULL))
	AND (status <> 'in-progress' OR grabbed IS NOT NULL)
	AND (status NOT IN ('complete', 'failed') OR finished IS NOT NULL)
	AND created IS NOT NULL AND last_accessed IS NOT NULL AND input_files IS NOT NULL
	AND attempt >= 0 AND lost_leases >= 0
	AND (status = 'in-progress' OR (lease IS NULL AND lease_expires IS NULL))
	AND (lease IS NULL OR lease > interval '0')) IS TRUE"
invalid=$(psql -qAtX -c "SELECT count(*) FROM compute.jobs WHERE NOT $valid" 2>&1)
if [ "$invalid" != 0 ]; then
	fail "$invalid job row(s) in an invalid state:"
	psql -X -c "SELECT job_id, status, grabbed, finished, output_files, attempt, lease, lease_expires, lost_leases
		FROM compute.jobs WHERE NOT $valid LIMIT 5"
fi
jobs=$(psql -qAtX -c "SELECT count(*) FROM compute.jobs" 2>&1)
by_status=$(psql -qAtX -c "SELECT string_agg(status || '=' || n, ' ' ORDER BY status)
	FROM (SELECT status, count(*) n FROM compute.jobs GROUP BY 1) s" 2>&1)
works=$(psql -qAtX 2>&1 <<'SQL'
SELECT (compute.submit_job('\x0123456789abcdef0123456789abcdef', 'after-fuzz')).job_id IS NOT NULL;
SELECT count(*) FROM compute.grab_job('after-fuzz');
SELECT (compute.finish_job('\x0123456789abcdef0123456789abcdef', 'complete')).status;
SQL
)
[ "$(echo $works)" = "t 1 complete" ] || fail "compute does not work after the fuzzing: $works"

# Errors that compute raised, from the server log.
/usr/bin/python3 test/hardening/server_errors.py "$dir/server.log" "$compute_codes" >"$dir/server_errors.log" 2>&1
log_rc=$?
sed 's/^/check-sqlsmith: /' "$dir/server_errors.log"
[ "$log_rc" -eq 0 ] || fail "compute raised internal errors or undocumented SQLSTATEs (server log, above)"

sleep 1 # function statistics of ended sessions
# Completed calls per function (errors are not counted), every overload
# apart; the trigger function is not called by name.
percall=$(psql -qAtX -c "SELECT p.proname || CASE WHEN count(*) OVER (PARTITION BY p.proname) > 1
		THEN '(' || pg_get_function_identity_arguments(p.oid) || ')' ELSE '' END, coalesce(s.calls, 0)
	FROM pg_proc p LEFT JOIN pg_stat_user_functions s ON s.funcid = p.oid
	WHERE p.pronamespace = 'compute'::regnamespace AND p.prorettype <> 'trigger'::regtype
	  AND p.proname <> 'distribute' -- (it completes on a Citus coordinator only: make test-citus)
	ORDER BY 1" 2>&1)
calls=$(awk -F'|' '{ n += $2; s = s " " $1 "=" $2 } END { print n + 0 " (" substr(s, 2) ")" }' <<<"$percall")
few=$(awk -F'|' -v min="$min_calls" '$2 < min { printf "%s%s=%s", sep, $1, $2; sep = ", " }' <<<"$percall")
[ -n "$percall" ] || fail "no compute function found in pg_proc"
[ -z "$few" ] || fail "compute functions completed fewer than $min_calls calls: $few"
[ -n "${SQLSMITH_DEBUG:-}" ] && psql -X -c "SELECT * FROM pg_stat_user_functions WHERE schemaname = 'compute'"

cat "$dir/fuzz_calls.log"
if [ "$gen_rc" -ne 0 ]; then fail "the compute call generator failed (above)"; fi
gen_line=$(grep -E '^fuzz_calls: (passed|FAILED)' "$dir/fuzz_calls.log" | tail -1)
gen_statements=$(sed -nE 's/.*: ([0-9]+) statements.*/\1/p' <<<"$gen_line")
gen_errors=$(sed -nE 's/.*statements, ([0-9]+) errors.*/\1/p' <<<"$gen_line")

echo "check-sqlsmith: compute function calls that completed (errors are not counted): $calls"
echo "check-sqlsmith: jobs afterwards: $jobs ($by_status)"
summary="$queries sqlsmith queries in $batches batches ($errors errors, $timeouts of them timeouts) +" 
summary="$summary ${gen_statements:-0} generated compute statements (${gen_errors:-0} errors), ${elapsed} s, seed $seed;"
summary="$summary postmaster $pm_pid alive, $crash_lines crash lines in the log, $jobs jobs, ${invalid} invalid"
if [ "$failed" -ne 0 ] || [ "$queries" -eq 0 ]; then
	[ "$queries" -eq 0 ] && echo "check-sqlsmith: FAIL: sqlsmith ran no query"
	keep=1
	echo "check-sqlsmith: FAILED: $summary"
	exit 1
fi
echo "check-sqlsmith: passed: $summary"
