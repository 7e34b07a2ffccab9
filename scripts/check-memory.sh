#!/usr/bin/env bash
# Memory: one backend calls every function of the extension, and their error
# paths, MEMORY_ROUNDS times (default 20,000 rounds of 60 calls: about 1.2
# million calls), each call its own transaction, as workers and a service
# would make them, and its memory must stay flat. The server has compute in
# shared_preload_libraries, so grab_job reads and advances its queue's mark
# in shared memory (src/pg/marks.cpp) and the transaction callbacks run.
#
# A round, number i, with four jobs a, b, c, d of queue 'mem':
#   submit_job x3 (b with a NULL config), queue_position(c) = 2,
#   grab_job('mem', 3, lease) takes a, b, c (from the queue's mark),
#   heartbeat(a), then 19 calls that must raise, each with its SQLSTATE
#   (anything else fails the check): a bad job id (submit_job, get_job,
#   queue_position, delete_job), a NULL queue, max_jobs 0, a negative lease,
#   heartbeat with a stale and a NULL token, a fenced finish with a stale
#   token, a finish as 'queued', finish_job/finish_jobs/expire_job of an
#   unknown job, finish_jobs naming a job twice, with attempts of another
#   length, with a stale token, expire with a negative interval,
#   requeue_stale(NULL); then finish_job(a) fenced (every tenth fails, with
#   an error text), finish_jobs([b], 'complete', [attempt]) fenced,
#   finish_jobs([c]) unfenced, get_job(a), expire_job(c), expire('0'),
#   submit_job(d), grab_job(d) with a lease of 1 us, requeue_stale() (d's
#   lease is lost), grab_job(d) again, requeue_stale('0'), the waiting
#   grab_job(d) (wait 1 s; d is there), finish_and_grab(d) with a stale token
#   (55000) and a negative wait (22023), finish_and_grab(d) fenced with
#   nothing left to grab, get_job(d), _queue_marks(), delete_job x4 (every
#   tenth round also a waiting grab of nothing, 1 ms);
#   queue rights (1.2.0): grant_queue (its trigger invalidates every
#   backend's cache), as the restricted role a submit_job to another queue
#   (42501) and one to its own, revoke_queue; the queue-carrying forms
#   (1.2.0): grab_job, heartbeat_in, a stale finish_job_in (55000),
#   finish_jobs_in as failed, submit_job (a resubmission), grab_job,
#   finish_job_in; delete_job.
# Every result is checked in the round. At the end the server's function
# statistics (track_functions = all) must show every C function of schema
# compute (triggers included) called at least once per round, so that a
# function added later and not driven here fails the check.
#
# After every MEMORY_ROUNDS/80 rounds the backend samples itself: the total
# of its memory contexts (pg_backend_memory_contexts: what palloc holds) and
# its RssAnon and VmRSS from /proc/self/status. RssAnon is the private heap,
# so it also sees what C++ new/malloc would leak outside palloc; VmRSS also
# counts the shared buffers the backend has touched: shown, not judged.
#
# After a warm-up of the first 10% of the rounds (the "warm" sample),
# neither figure may grow by more than 10% of its warm value nor by more
# than MEMORY_TOLERANCE_KB (default 4096 kB), whichever is less, but never
# less than 512 kB (RSS moves by pages): with the defaults, a leak of 64
# bytes in any one call of a round fails the check. The end value is the
# least of the last 4 samples, so that one passing spike does not count and
# a leak does.
#
# The extension is built from this tree in a scratch copy (ordinary flags)
# and served by a private copy of this machine's PostgreSQL 15 whose
# extension directory holds this tree's files: nothing is installed.
#
#   bash scripts/check-memory.sh                       20,000 rounds
#   MEMORY_ROUNDS=250000 bash scripts/check-memory.sh  longer
#   MEMORY_TOLERANCE_KB=2048 bash scripts/check-memory.sh
#   KEEP=1  keep the scratch directory (samples.csv, server.log)
#
# Ends with the line "check-memory: passed|FAILED: ...".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib.sh

rounds=${MEMORY_ROUNDS:-20000}
tolerance_kb=${MEMORY_TOLERANCE_KB:-4096}
per_round=60 # calls of compute's functions in a round (below)
calls=$((rounds * per_round))
every=$((rounds / 80))
[ "$every" -ge 1 ] || every=1
start_s=$SECONDS

dir=$(scratch_dir memory)
fail() {
	echo "check-memory: outputs kept in $dir"
	echo "check-memory: FAILED: $*"
	exit 1
}


# Build this tree's compute.so in a scratch copy.
copy=$dir/src-copy
mkdir -p "$copy"
tar -C "$root" --exclude=./.git --exclude=./build --exclude='*.o' --exclude='*.d' --exclude='*.so' \
	--exclude='*.bc' -cf - . | tar -C "$copy" -xf -
make -C "$copy" -j2 >"$dir/build.log" 2>&1 || { tail -n 30 "$dir/build.log"; fail "build (log: $dir/build.log)"; }
bin=$(private_install "$dir/inst" "$copy" "$copy/compute.so") || fail "private install"

# autovacuum_naptime=1: compute.jobs starts empty, and a backend's saved
# plans made then scan it sequentially until autoanalyze gives it statistics
# (which invalidates them): without an early autoanalyze the first minute of
# the run would slow down with every job added.
port=$((20000 + RANDOM % 20000))
chown -R postgres: "$dir" 2>/dev/null || true
as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log"; fail initdb; }
trap 'as_pg "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1' EXIT
as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "-p $port -k $dir -c listen_addresses= \
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB -c autovacuum_naptime=1 \
	-c shared_preload_libraries=compute -c track_functions=all" \
	start >/dev/null ||
	{ cat "$dir/server.log"; fail "server start"; }
export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres
"$bin/psql" -qX -v ON_ERROR_STOP=1 -c 'CREATE EXTENSION compute' || fail "CREATE EXTENSION"

# A sample, taken by the backend itself: the total of its memory contexts and
# its RssAnon and VmRSS (read from /proc/self/status as a superuser may).
"$bin/psql" -qX -v ON_ERROR_STOP=1 >/dev/null <<'EOF' || fail "creating the sampler"
CREATE TABLE memory_samples (round bigint PRIMARY KEY, ctx_bytes bigint, anon_kb bigint, rss_kb bigint,
  taken timestamptz DEFAULT clock_timestamp());
CREATE FUNCTION memory_sample(r bigint) RETURNS void LANGUAGE sql AS $$
  INSERT INTO memory_samples (round, ctx_bytes, anon_kb, rss_kb)
  SELECT r, (SELECT sum(total_bytes) FROM pg_backend_memory_contexts),
         substring(s FROM 'RssAnon:\s+(\d+) kB')::bigint, substring(s FROM 'VmRSS:\s+(\d+) kB')::bigint
    FROM pg_read_file('/proc/self/status') AS s
$$;
EOF

# The rounds, in DO blocks of $every rounds that COMMIT after every call
# (one psql session: one backend), a sample after each block. A call that
# must fail runs through must_fail(), which catches exactly its SQLSTATE.
echo "== check-memory: $rounds rounds of $per_round calls ($calls calls) in one backend, preloaded," \
	"a sample every $every rounds"
{
	echo '\set ON_ERROR_STOP 1'
	cat <<'EOF'
-- A role restricted by a queue grant (1.2.0) to submit to queue 'mem' only.
CREATE ROLE mem_worker;
GRANT USAGE ON SCHEMA compute TO mem_worker;
GRANT EXECUTE ON FUNCTION compute.submit_job(bytea, text, text, text[]) TO mem_worker;
-- must_fail(sqlstate, statement): the statement must raise that SQLSTATE;
-- any other outcome raises.
CREATE PROCEDURE must_fail(state text, stmt text) LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    EXECUTE stmt;
  EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE = state THEN
      RETURN;
    END IF;
    RAISE EXCEPTION 'expected SQLSTATE % from %, got %: %', state, stmt, SQLSTATE, SQLERRM;
  END;
  RAISE EXCEPTION 'expected SQLSTATE % from %: no error', state, stmt;
END
$$;
EOF
	for ((blk = 0; blk * every < rounds; blk++)); do
		lo=$((blk * every + 1))
		hi=$(((blk + 1) * every < rounds ? (blk + 1) * every : rounds))
		cat <<-EOF
			DO \$\$
			DECLARE
			  a bytea; b bytea; c bytea; d bytea; e bytea; x bytea;
			  att_a int; att_b int; att_c int; att_d int;
			  r compute.jobs; n bigint; st text; ok boolean;
			BEGIN
			  FOR i IN $lo..$hi LOOP
			    a := decode(md5('a-' || i), 'hex'); b := decode(md5('b-' || i), 'hex');
			    c := decode(md5('c-' || i), 'hex'); d := decode(md5('d-' || i), 'hex');
			    e := decode(md5('e-' || i), 'hex'); x := decode(md5('unknown-' || i), 'hex');
			    st := CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'complete' END;
			    PERFORM compute.submit_job(a, 'mem', 'config ' || i, ARRAY['in-' || i]);
			    COMMIT;
			    PERFORM compute.submit_job(b, 'mem', NULL, ARRAY['in-b']);
			    COMMIT;
			    PERFORM compute.submit_job(c, 'mem', 'c', ARRAY['in-c', 'in-c2']);
			    COMMIT;
			    n := compute.queue_position(c);
			    IF n IS DISTINCT FROM 2 THEN RAISE EXCEPTION 'round %: queue_position %', i, n; END IF;
			    COMMIT;
			    n := 0;
			    att_a := NULL; att_b := NULL; att_c := NULL;
			    FOR r IN SELECT * FROM compute.grab_job('mem', 3, interval '1 hour') LOOP
			      n := n + 1;
			      IF r.job_id = a THEN att_a := r.attempt; ELSIF r.job_id = b THEN att_b := r.attempt;
			      ELSIF r.job_id = c THEN att_c := r.attempt; END IF;
			    END LOOP;
			    IF n <> 3 OR att_a IS NULL OR att_b IS NULL OR att_c IS NULL THEN
			      RAISE EXCEPTION 'round %: grabbed % jobs', i, n;
			    END IF;
			    COMMIT;
			    r := compute.heartbeat(a, att_a, interval '2 hours');
			    IF r.attempt <> att_a THEN RAISE EXCEPTION 'round %: heartbeat', i; END IF;
			    COMMIT;
			    -- The error paths, while a, b and c are in progress.
			    CALL must_fail('22023', format('SELECT compute.submit_job(%L, %L, NULL, ARRAY[%L])', '\\x0102', 'mem', 'f'));
			    CALL must_fail('22004', format('SELECT compute.submit_job(%L, NULL, NULL, ARRAY[%L])', x, 'f'));
			    CALL must_fail('22023', format('SELECT compute.get_job(%L)', '\\x01'));
			    CALL must_fail('22023', format('SELECT compute.queue_position(%L)', '\\x'));
			    CALL must_fail('22023', format('SELECT compute.delete_job(%L)', '\\x0102030405'));
			    CALL must_fail('22023', 'SELECT compute.grab_job(''mem'', 0, interval ''1 hour'')');
			    CALL must_fail('22023', 'SELECT compute.grab_job(''mem'', 1, interval ''-1 second'')');
			    CALL must_fail('55000', format('SELECT compute.heartbeat(%L, %s)', a, att_a + 1));
			    CALL must_fail('22004', format('SELECT compute.heartbeat(%L, NULL)', a));
			    CALL must_fail('55000', format('SELECT compute.finish_job(%L, %L, NULL, %s)', a, st, att_a + 1));
			    CALL must_fail('22023', format('SELECT compute.finish_job(%L, %L)', a, 'queued'));
			    CALL must_fail('P0002', format('SELECT compute.finish_job(%L, %L)', x, 'complete'));
			    CALL must_fail('22023', format('SELECT compute.finish_jobs(ARRAY[%L, %L]::bytea[], %L, ARRAY[%s, %s])', b, b, 'complete', att_b, att_b));
			    CALL must_fail('22023', format('SELECT compute.finish_jobs(ARRAY[%L]::bytea[], %L, ARRAY[1, 2])', b, 'complete'));
			    CALL must_fail('P0002', format('SELECT compute.finish_jobs(ARRAY[%L]::bytea[], %L)', x, 'complete'));
			    CALL must_fail('55000', format('SELECT compute.finish_jobs(ARRAY[%L]::bytea[], %L, ARRAY[%s])', b, 'complete', att_b + 1));
			    CALL must_fail('22023', 'SELECT compute.expire(interval ''-1 day'')');
			    CALL must_fail('P0002', format('SELECT compute.expire_job(%L)', x));
			    CALL must_fail('22004', 'SELECT compute.requeue_stale(NULL)');
			    COMMIT;
			    -- Finishing: fenced, in a batch, unfenced.
			    r := compute.finish_job(a, st, ARRAY['out-' || i], att_a, CASE WHEN st = 'failed' THEN 'error ' || i END);
			    IF r.status <> st THEN RAISE EXCEPTION 'round %: finish_job fenced: %', i, r.status; END IF;
			    COMMIT;
			    n := compute.finish_jobs(ARRAY[b], 'complete', ARRAY[att_b]);
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: finish_jobs fenced: %', i, n; END IF;
			    COMMIT;
			    n := compute.finish_jobs(ARRAY[c], 'complete');
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: finish_jobs: %', i, n; END IF;
			    COMMIT;
			    r := compute.get_job(a);
			    IF r.status <> st OR r.output_files::text[] <> ARRAY['out-' || i] THEN RAISE EXCEPTION 'round %: get_job', i; END IF;
			    COMMIT;
			    r := compute.expire_job(c);
			    IF r.status <> 'expired' THEN RAISE EXCEPTION 'round %: expire_job: %', i, r.status; END IF;
			    COMMIT;
			    n := compute.expire(interval '0');
			    IF n <> (CASE WHEN st = 'complete' THEN 2 ELSE 1 END) THEN RAISE EXCEPTION 'round %: expire: %', i, n; END IF;
			    COMMIT;
			    -- A lost lease, and a stale grab.
			    PERFORM compute.submit_job(d, 'mem', 'd', ARRAY['in-d']);
			    COMMIT;
			    att_d := NULL;
			    SELECT attempt INTO att_d FROM compute.grab_job('mem', 1, interval '1 microsecond');
			    IF att_d IS NULL THEN RAISE EXCEPTION 'round %: grab of d', i; END IF;
			    COMMIT;
			    n := compute.requeue_stale();
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: requeue_stale(): %', i, n; END IF;
			    COMMIT;
			    att_d := NULL;
			    SELECT attempt INTO att_d FROM compute.grab_job('mem', 1, interval '1 hour');
			    IF att_d IS NULL THEN RAISE EXCEPTION 'round %: second grab of d', i; END IF;
			    COMMIT;
			    n := compute.requeue_stale(interval '0');
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: requeue_stale(0): %', i, n; END IF;
			    COMMIT;
			    -- The waiting grab (a job is there), then finish_and_grab of
			    -- d, fenced, with nothing left to grab; every tenth round a
			    -- waiting grab that finds nothing and sleeps 1 ms.
			    att_d := NULL;
			    SELECT attempt INTO att_d FROM compute.grab_job('mem', 1, interval '1 hour', interval '1 second');
			    IF att_d IS NULL THEN RAISE EXCEPTION 'round %: waiting grab of d', i; END IF;
			    COMMIT;
			    CALL must_fail('55000', format('SELECT compute.finish_and_grab(%L, %L, %L, NULL, %s)', d, 'complete', 'mem', att_d + 1));
			    CALL must_fail('22023', 'SELECT compute.grab_job(''mem'', 1, interval ''1 hour'', interval ''-1 second'')');
			    SELECT count(*) INTO n FROM compute.finish_and_grab(d, 'complete', 'mem', ARRAY['out-d'], att_d);
			    IF n <> 0 OR (compute.get_job(d)).status <> 'complete' THEN RAISE EXCEPTION 'round %: finish_and_grab(d)', i; END IF;
			    COMMIT;
			    -- wait_job of a finished job returns at once.
			    IF (compute.wait_job(d, interval '1 hour')).status <> 'complete' THEN RAISE EXCEPTION 'round %: wait_job(d)', i; END IF;
			    COMMIT;
			    IF i % 10 = 0 THEN
			      SELECT count(*) INTO n FROM compute.grab_job('mem', 1, interval '1 hour', interval '1 millisecond');
			      IF n <> 0 THEN RAISE EXCEPTION 'round %: waiting grab of nothing', i; END IF;
			      COMMIT;
			    END IF;
			    SELECT count(*) INTO n FROM compute._queue_marks() WHERE queue = 'mem';
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: % queue marks', i, n; END IF;
			    COMMIT;
			    -- Gone: the table stays small.
			    ok := compute.delete_job(a) AND compute.delete_job(b) AND compute.delete_job(c) AND compute.delete_job(d);
			    IF NOT ok THEN RAISE EXCEPTION 'round %: delete_job', i; END IF;
			    COMMIT;
			    -- Queue rights: a grant (its trigger tells every backend), a
			    -- restricted role refused another queue and let into its own,
			    -- the revoke.
			    PERFORM compute.grant_queue('mem_worker', 'mem', 'submit');
			    COMMIT;
			    PERFORM set_config('role', 'mem_worker', true);
			    CALL must_fail('42501', format('SELECT compute.submit_job(%L, %L, NULL, ARRAY[%L])', e, 'other', 'f'));
			    PERFORM compute.submit_job(e, 'mem', NULL, ARRAY['in-e']);
			    COMMIT;
			    -- submit_jobs of e again: a dedupe.
			    SELECT count(*) INTO n FROM compute.submit_jobs(ARRAY[e], 'mem', ARRAY['again']);
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: submit_jobs', i; END IF;
			    COMMIT;
			    -- Live statistics: this round's work counted, then forgotten.
			    SELECT count(*) INTO n FROM compute.stats WHERE queue = 'mem' AND submitted > 0 AND dedupe_hits > 0;
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: compute.stats', i; END IF;
			    IF compute.stats_reset() < 1 THEN RAISE EXCEPTION 'round %: stats_reset', i; END IF;
			    COMMIT;
			    n := compute.revoke_queue('mem_worker', 'mem', 'submit');
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: revoke_queue: %', i, n; END IF;
			    COMMIT;
			    -- The queue-carrying forms (1.2.0), on e: grabbed, its lease
			    -- extended, failed by a batch of its queue, resubmitted,
			    -- grabbed again, finished.
			    att_d := NULL;
			    SELECT attempt INTO att_d FROM compute.grab_job('mem', 1, interval '1 hour');
			    IF att_d IS NULL THEN RAISE EXCEPTION 'round %: grab of e', i; END IF;
			    COMMIT;
			    r := compute.heartbeat_in('mem', e, att_d, interval '2 hours');
			    IF r.attempt <> att_d THEN RAISE EXCEPTION 'round %: heartbeat_in', i; END IF;
			    COMMIT;
			    CALL must_fail('55000', format('SELECT compute.finish_job_in(%L, %L, %L, NULL, %s)', 'mem', e, 'complete', att_d + 1));
			    n := compute.finish_jobs_in('mem', ARRAY[e], 'failed', ARRAY[att_d]);
			    IF n <> 1 THEN RAISE EXCEPTION 'round %: finish_jobs_in: %', i, n; END IF;
			    COMMIT;
			    PERFORM compute.submit_job(e, 'mem', 'again', ARRAY['in-e']);
			    COMMIT;
			    att_d := NULL;
			    SELECT attempt INTO att_d FROM compute.grab_job('mem', 1, interval '1 hour');
			    COMMIT;
			    r := compute.finish_job_in('mem', e, 'complete', ARRAY['out-e'], att_d);
			    IF r.status <> 'complete' THEN RAISE EXCEPTION 'round %: finish_job_in: %', i, r.status; END IF;
			    COMMIT;
			    IF NOT compute.delete_job(e) THEN RAISE EXCEPTION 'round %: delete_job(e)', i; END IF;
			    COMMIT;
			  END LOOP;
			END
			\$\$;
			SELECT memory_sample($hi);
		EOF
	done
} >"$dir/rounds.sql"
t0=$(date +%s%N)
if ! timeout --kill-after=30 1800 "$bin/psql" -qX -f "$dir/rounds.sql" >"$dir/driver.log" 2>&1; then
	tail -n 20 "$dir/driver.log"
	fail "psql failed: $(grep -m1 -E 'ERROR' "$dir/driver.log" | cut -c1-300) (a result or an error was wrong, or the time limit)"
fi
ms=$((($(date +%s%N) - t0) / 1000000))
"$bin/psql" -qAtX -F, -c "SELECT round, round * $per_round, ctx_bytes, anon_kb, rss_kb FROM memory_samples ORDER BY round" \
	>"$dir/samples.csv" || fail "reading the samples"

# Every round deleted its jobs; every C function of schema compute (the
# trigger's too) was called at least once per round (the statistics of the
# driver's backend, sent when it exited).
jobs=$("$bin/psql" -qAtX -c "SELECT count(*) FROM compute.jobs") || fail "counting the jobs"
[ "$jobs" -eq 0 ] || fail "after $rounds rounds the table holds $jobs jobs, not 0"
"$bin/psql" -qAtX -F' ' -c "SELECT coalesce(s.calls, 0), p.oid::regprocedure
	FROM pg_proc p LEFT JOIN pg_stat_user_functions s ON s.funcid = p.oid
	WHERE p.pronamespace = 'compute'::regnamespace AND p.prolang = (SELECT oid FROM pg_language WHERE lanname = 'c')
	ORDER BY 2::text" >"$dir/functions.txt" || fail "reading the function statistics"
functions=$(wc -l <"$dir/functions.txt")
undriven=$(awk -v r="$rounds" '$1 < r { $1 = $1 " calls:"; print }' "$dir/functions.txt" | paste -sd';' -)
[ "$functions" -ge 10 ] && [ -z "$undriven" ] || {
	cat "$dir/functions.txt"
	fail "not every C function of compute was called once per round ($rounds): ${undriven:-only $functions functions}"
}
echo "calls per function (track_functions):"
sed 's/^/  /' "$dir/functions.txt"

samples=$(wc -l <"$dir/samples.csv")
[ "$samples" -ge 10 ] || { cat "$dir/samples.csv"; fail "only $samples samples"; }
# The warm sample: the first taken after 10% of the calls; the last: at the end.
warm=$(awk -F, -v r=$((rounds / 10)) '$1 >= r { print; exit }' "$dir/samples.csv")
last=$(tail -n 1 "$dir/samples.csv")
first=$(head -n 1 "$dir/samples.csv")
IFS=, read -r _ first_calls first_ctx first_anon first_rss <<<"$first"
IFS=, read -r _ warm_calls warm_ctx warm_anon warm_rss <<<"$warm"
IFS=, read -r _ last_calls last_ctx last_anon last_rss <<<"$last"
[ -n "$warm_anon" ] && [ -n "$warm_ctx" ] || { cat "$dir/samples.csv"; fail "a sample lacks a figure"; }
# The end value: the least of the last 4 samples (a leak raises them all; a
# passing spike in one does not count). The largest after warm-up is shown.
end_of() { tail -n 4 "$dir/samples.csv" | awk -F, -v k="$1" 'NR == 1 || $k < m { m = $k } END { print m }'; }
end_ctx=$(end_of 3)
end_anon=$(end_of 4)
max_ctx=$(awk -F, -v c="$warm_calls" '$2 >= c && $3 > m { m = $3 } END { print m }' "$dir/samples.csv")
max_anon=$(awk -F, -v c="$warm_calls" '$2 >= c && $4 > m { m = $4 } END { print m }' "$dir/samples.csv")
grow_ctx_kb=$(((end_ctx - warm_ctx) / 1024))
grow_anon_kb=$((end_anon - warm_anon))

echo "samples (calls, context bytes, RssAnon kB, VmRSS kB), every 8th:"
awk -F, 'NR % 8 == 1 { printf "  %9d %10d %8d %8d\n", $2, $3, $4, $5 }' "$dir/samples.csv"
echo "  last: $last_calls calls, contexts $last_ctx bytes, RssAnon $last_anon kB, VmRSS $last_rss kB"

signed() { if [ "$1" -ge 0 ]; then echo "+$1"; else echo "$1"; fi; }
verdict=passed
why=()
over() { # over NAME GROWTH_KB WARM_KB
	local limit=$tolerance_kb pct=$(($3 / 10))
	[ "$pct" -lt "$limit" ] && limit=$pct
	[ "$limit" -lt 512 ] && limit=512 # page-granular RSS noise: never below 512 kB
	if [ "$2" -gt "$limit" ]; then
		verdict=FAILED
		why+=("$1 grew $2 kB after warm-up (limit $limit kB)")
	fi
}
over "memory contexts" "$grow_ctx_kb" $((warm_ctx / 1024))
over RssAnon "$grow_anon_kb" "$warm_anon"

took=$((SECONDS - start_s))
summary="$calls calls in $((ms / 1000)).$((ms % 1000 / 100)) s ($((calls * 1000 / (ms > 0 ? ms : 1))) calls/s), $samples samples;"
summary+=" memory contexts $((first_ctx / 1024)) kB at ${first_calls} calls, $((warm_ctx / 1024)) kB at ${warm_calls}"
summary+=" (warm), $((end_ctx / 1024)) kB at the end ($(signed "$grow_ctx_kb") kB, max $((max_ctx / 1024)) kB);"
summary+=" RssAnon ${first_anon} kB, ${warm_anon} kB (warm), ${end_anon} kB at the end ($(signed "$grow_anon_kb") kB,"
summary+=" max ${max_anon} kB);"
summary+=" VmRSS ${warm_rss} -> ${last_rss} kB (shared buffers included); ${functions} functions driven, each at least once per round; total ${took} s"
if [ "$verdict" = passed ]; then
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
	trap - EXIT
	[ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
	echo "check-memory: passed: $summary"
	exit 0
fi
echo "check-memory: outputs kept in $dir"
echo "check-memory: FAILED: $(IFS=";"; echo "${why[*]}" | sed "s/;/; /g"); $summary"
exit 1
