#!/usr/bin/env bash
# pg_dump / pg_restore of a database using compute keeps every job, the
# user's rows of compute.meta and the grants on compute's functions.
#
# compute.jobs is an extension configuration table, so pg_dump dumps its
# rows, and pg_restore loads them after CREATE EXTENSION has installed the
# transition trigger. A restored complete job would be a "new" job entering
# complete, which the trigger refuses (with a hint); the documented restore
# runs with session_replication_role = replica, so that the rows come back
# exactly as dumped. This check proves both.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

dir=$(scratch_dir dump)
trap 'pg_stop "$dir"; rm -rf "$dir"' EXIT
pg_start "$dir" 5432
q() { psql -qAtX -v ON_ERROR_STOP=1 "$@"; }

createdb src
q -d src >/dev/null <<'SQL'
CREATE EXTENSION compute;
CREATE ROLE regress_dump_worker;
GRANT USAGE ON SCHEMA compute TO regress_dump_worker;
GRANT EXECUTE ON FUNCTION compute.grab_job(text, int, interval, interval) TO regress_dump_worker;
INSERT INTO compute.meta VALUES ('platform', 'render farm');
SELECT count(compute.submit_job(decode(md5('job ' || i), 'hex'), 'q' || (i % 3), 'config ' || i, ARRAY['in' || i]))
  FROM generate_series(1, 300) i;
SELECT count(*) FROM compute.grab_job('q0', 100, '1 hour');
SELECT count(*) FROM compute.grab_job('q1', 60, '1 hour');
SELECT count(compute.finish_job(job_id, 'complete', ARRAY['out'], attempt))
  FROM compute.jobs WHERE queue = 'q0' AND status = 'in-progress' AND get_byte(job_id, 0) < 160;
SELECT count(compute.finish_job(job_id, 'failed', NULL, attempt, 'broken'))
  FROM compute.jobs WHERE queue = 'q0' AND status = 'in-progress';
SELECT count(compute.expire_job(job_id)) FROM compute.jobs WHERE queue = 'q1' AND status = 'in-progress'
   AND get_byte(job_id, 0) < 100;
SQL
snapshot() {
	q -d "$1" -c "SELECT md5(string_agg(j::text, ',' ORDER BY job_id)) FROM compute.jobs j" \
		-c "SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM compute.meta" \
		-c "SELECT has_function_privilege('regress_dump_worker', 'compute.grab_job(text, int, interval, interval)', 'EXECUTE')"
}
statuses=$(q -d src -c "SELECT string_agg(status || ':' || n, ' ' ORDER BY status) FROM
                          (SELECT status, count(*) n FROM compute.jobs GROUP BY status) s")
before=$(snapshot src)
as_pg pg_dump -Fc -d src -f "$dir/src.dump"

# A plain restore: the trigger refuses the finished jobs, and says what to do.
createdb plain
if as_pg pg_restore -d plain "$dir/src.dump" 2>"$dir/plain.err"; then
	echo "dump: FAILED: a plain restore loaded finished jobs past the transition check"
	exit 1
fi
grep -q 'restore with session_replication_role = replica' "$dir/plain.err" ||
	{ cat "$dir/plain.err"; echo "dump: FAILED: the refused restore gives no hint"; exit 1; }

# The documented restore.
createdb restored
as_pg env PGOPTIONS='-c session_replication_role=replica' pg_restore -d restored "$dir/src.dump"
after=$(snapshot restored)
if [ "$before" != "$after" ]; then
	printf 'before:\n%s\nafter:\n%s\n' "$before" "$after"
	echo "dump: FAILED: the restored database differs"
	exit 1
fi

# The restored jobs work: the trigger is back in force for normal sessions.
check=$(q -d restored <<'SQL'
SELECT (SELECT count(*) FROM compute.grab_job('q1', 1000)) + (SELECT count(*) FROM compute.grab_job('q2', 1000));
SELECT count(compute.finish_job(job_id, 'complete', NULL, attempt)) FROM compute.jobs WHERE status = 'in-progress';
SELECT (SELECT count(*) FROM compute.jobs WHERE status IN ('queued', 'in-progress'));
SQL
)
read -r -d '' grabbed finished left <<<"$check" || true
if [ "$left" != 0 ] || [ "$grabbed" -eq 0 ]; then
	echo "dump: FAILED: restored jobs do not work (grabbed=$grabbed finished=$finished left=$left)"
	exit 1
fi
# An updated database (1.0.0 -> today's version) with the README's role
# model: the grants that the update moved from the old grab_job and
# finish_job to their new forms, grant option included, survive the dump
# (issue 14, item 7), and so do the retired tokens of deleted jobs.
createdb upd
q -d upd >/dev/null <<'SQL'
CREATE EXTENSION compute VERSION '1.0.0';
CREATE ROLE regress_dump_lead;
GRANT USAGE ON SCHEMA compute TO regress_dump_lead;
GRANT EXECUTE ON FUNCTION compute.grab_job(text, int), compute.finish_job(bytea, text, text[])
    TO regress_dump_worker;
GRANT EXECUTE ON FUNCTION compute.grab_job(text, int) TO regress_dump_lead WITH GRANT OPTION;
ALTER EXTENSION compute UPDATE;
SELECT compute.submit_job(decode(md5('deleted'), 'hex'), 'd');
SELECT count(*) FROM compute.grab_job('d');
SELECT compute.delete_job(decode(md5('deleted'), 'hex'));
SQL
grants() {
	q -d "$1" -c "SELECT has_function_privilege('regress_dump_worker', 'compute.grab_job(text, int, interval, interval)', 'EXECUTE'),
	                     has_function_privilege('regress_dump_worker', 'compute.finish_job(bytea, text, text[], int, text)', 'EXECUTE'),
	                     has_function_privilege('regress_dump_lead', 'compute.grab_job(text, int, interval, interval)', 'EXECUTE WITH GRANT OPTION'),
	                     (SELECT string_agg(attempt::text, ',') FROM compute.retired_attempts)"
}
upd_before=$(grants upd)
[ "$upd_before" = "t|t|t|1" ] || { echo "dump: FAILED: the update lost grants before any dump: $upd_before"; exit 1; }
as_pg pg_dump -Fc -d upd -f "$dir/upd.dump"
createdb upd_restored
as_pg env PGOPTIONS='-c session_replication_role=replica' pg_restore -d upd_restored "$dir/upd.dump"
upd_after=$(grants upd_restored)
if [ "$upd_before" != "$upd_after" ]; then
	echo "dump: FAILED: an updated database lost grants or retired tokens in dump and restore: before $upd_before, after $upd_after"
	exit 1
fi
token=$(q -d upd_restored -c "SELECT count(compute.submit_job(decode(md5('deleted'), 'hex'), 'd'))" \
	-c "SELECT attempt FROM compute.grab_job('d')" | tail -1)
[ "$token" = 2 ] || { echo "dump: FAILED: a resubmitted deleted job got token $token after the restore, not 2"; exit 1; }

jobs=$(q -d restored -c "SELECT count(*) FROM compute.jobs")
echo "dump: an updated database (1.0.0 -> $(q -d upd -c "SELECT extversion FROM pg_extension WHERE extname = 'compute'")) keeps its moved grants (grant option included) and retired tokens through dump and restore"
echo "dump: passed: $jobs jobs ($statuses) restored identical with their meta rows and grants;" \
	"a plain restore is refused with a hint; afterwards $finished in-progress jobs finished"
