#!/usr/bin/env bash
# Memory: one backend calls submit_job, grab_job, finish_job and get_job
# MEMORY_CALLS times in total (default 1,000,000: 250,000 rounds of the four,
# each call its own transaction, as a worker and a service would make them),
# and its memory must stay flat.
#
# Two drivers of the one backend (MEMORY_DRIVER):
#  plpgsql  (default) one psql session runs the rounds in DO blocks of
#           MEMORY_CALLS/80 rounds that COMMIT after every call;
#  pgbench  one pgbench client (-c 1: one connection), each call its own
#           transaction from the client, the four pipelined. The same calls
#           through the client protocol, about a third slower.
# After every block of MEMORY_CALLS/80 rounds the backend samples itself:
# the total of its memory contexts (pg_backend_memory_contexts: what palloc
# holds) and its RssAnon and VmRSS from /proc/self/status. RssAnon is the
# private heap, so it also sees what C++ new/malloc would leak outside
# palloc; VmRSS also counts the shared buffers the backend has touched, which
# grow with the table and are no leak: shown, not judged.
#
# After a warm-up of the first 10% of the calls (the "warm" sample), neither
# figure may grow by more than 10% of its warm value nor by more than
# MEMORY_TOLERANCE_KB (default 4096 kB), whichever is less, but never less
# than 512 kB (RSS moves by pages): with the defaults, a leak of about one
# byte per call fails the check. The end value is the least of the last 4
# samples, so that one passing spike does not count and a leak does.
#
# The extension is built from this tree in a scratch copy (ordinary flags)
# and served by a private copy of this machine's PostgreSQL 15 whose
# extension directory holds this tree's files: nothing is installed.
#
#   bash scripts/check-memory.sh                       1,000,000 calls
#   MEMORY_CALLS=10000000 bash scripts/check-memory.sh longer
#   MEMORY_DRIVER=pgbench bash scripts/check-memory.sh
#   MEMORY_TOLERANCE_KB=2048 bash scripts/check-memory.sh
#   KEEP=1  keep the scratch directory (samples.csv, server.log)
#
# Ends with the line "check-memory: passed|FAILED: ...".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
. scripts/lib.sh

calls=${MEMORY_CALLS:-1000000}
driver=${MEMORY_DRIVER:-plpgsql}
tolerance_kb=${MEMORY_TOLERANCE_KB:-4096}
rounds=$(((calls + 3) / 4))
every=$((rounds / 80))
[ "$every" -ge 1 ] || every=1
start_s=$SECONDS

dir=$(scratch_dir memory)
fail() {
	echo "check-memory: FAILED: $*"
	echo "check-memory: outputs kept in $dir"
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
	-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_wal_size=4GB -c autovacuum_naptime=1" \
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

# One round, number i: a service submits a new job, a worker grabs it and
# finishes it (every tenth fails), the service reads it; each call is its
# own transaction. Every $every rounds: a sample.
echo "== check-memory: $calls calls ($rounds rounds of submit/grab/finish/get) in one backend ($driver)," \
	"a sample every $every rounds"
t0=$(date +%s%N)
case $driver in
pgbench)
	# One pgbench client: one connection, one backend. The four calls of a
	# round are pipelined (the client does not wait for each answer before
	# sending the next: that only saves round trips).
	cat >"$dir/round.sql" <<-EOF
		\\set i :i + 1
		\\set f :i % 10
		\\startpipeline
		BEGIN;
		SELECT status FROM compute.submit_job(decode(md5('mem-' || :i), 'hex'), 'mem', 'config ' || :i, ARRAY['in-' || :i]);
		COMMIT;
		BEGIN;
		SELECT count(*) FROM compute.grab_job('mem');
		COMMIT;
		BEGIN;
		SELECT status FROM compute.finish_job(decode(md5('mem-' || :i), 'hex'), CASE WHEN :f = 0 THEN 'failed' ELSE 'complete' END, ARRAY['out-' || :i]);
		COMMIT;
		BEGIN;
		SELECT status FROM compute.get_job(decode(md5('mem-' || :i), 'hex'));
		COMMIT;
		\\endpipeline
		\\if :i % $every = 0
		SELECT memory_sample(:i);
		\\endif
	EOF
	if ! timeout --kill-after=30 1800 "$bin/pgbench" -n -M prepared -c 1 -j 1 -t "$rounds" -D i=0 \
		-f "$dir/round.sql" >"$dir/driver.log" 2>&1; then
		tail -n 20 "$dir/driver.log"
		fail "pgbench failed (a call raised an error, or the time limit)"
	fi
	grep -qE "number of transactions actually processed: $rounds/$rounds" "$dir/driver.log" ||
		{ cat "$dir/driver.log"; fail "pgbench did not run all $rounds rounds"; }
	;;
plpgsql)
	# One psql session: batches of rounds in a DO block that commits after
	# every call, a sample after each batch.
	{
		echo '\set ON_ERROR_STOP 1'
		for ((b = 0; b * every < rounds; b++)); do
			lo=$((b * every + 1))
			hi=$(((b + 1) * every < rounds ? (b + 1) * every : rounds))
			cat <<-EOF
				DO \$\$
				DECLARE
				  id bytea;
				BEGIN
				  FOR i IN $lo..$hi LOOP
				    id := decode(md5('mem-' || i), 'hex');
				    PERFORM compute.submit_job(id, 'mem', 'config ' || i, ARRAY['in-' || i]);
				    COMMIT;
				    PERFORM count(*) FROM compute.grab_job('mem');
				    COMMIT;
				    PERFORM compute.finish_job(id, CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'complete' END, ARRAY['out-' || i]);
				    COMMIT;
				    PERFORM compute.get_job(id);
				    COMMIT;
				  END LOOP;
				END
				\$\$;
				SELECT memory_sample($hi);
			EOF
		done
	} >"$dir/rounds.sql"
	if ! timeout --kill-after=30 1800 "$bin/psql" -qX -f "$dir/rounds.sql" >"$dir/driver.log" 2>&1; then
		tail -n 20 "$dir/driver.log"
		fail "psql failed (a call raised an error, or the time limit)"
	fi
	;;
*)
	fail "MEMORY_DRIVER must be plpgsql or pgbench, not $driver"
	;;
esac
ms=$((($(date +%s%N) - t0) / 1000000))
"$bin/psql" -qAtX -F, -c "SELECT round, round * 4, ctx_bytes, anon_kb, rss_kb FROM memory_samples ORDER BY round" \
	>"$dir/samples.csv" || fail "reading the samples"

# The table must hold every job, finished as the rounds said.
read -r jobs complete failed other <<<"$("$bin/psql" -qAtX -F' ' -c "SELECT count(*),
	count(*) FILTER (WHERE status = 'complete'), count(*) FILTER (WHERE status = 'failed'),
	count(*) FILTER (WHERE status NOT IN ('complete', 'failed')) FROM compute.jobs")"
[ "$jobs" -eq "$rounds" ] && [ "$failed" -eq $((rounds / 10)) ] && [ "$other" -eq 0 ] ||
	fail "after $rounds rounds the table holds $jobs jobs, $failed failed, $other neither complete nor failed"

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
summary+=" VmRSS ${warm_rss} -> ${last_rss} kB (shared buffers included); ${jobs} jobs checked; total ${took} s"
if [ "$verdict" = passed ]; then
	as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
	trap - EXIT
	[ "${KEEP:-0}" = 1 ] || rm -rf "$dir"
	echo "check-memory: passed: $summary"
	exit 0
fi
echo "check-memory: FAILED: ${why[*]}; $summary"
echo "check-memory: outputs kept in $dir"
exit 1
