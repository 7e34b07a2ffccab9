#!/usr/bin/env bash
# The main job end to end, on a throwaway PostgreSQL cluster: submit jobs on
# two queues, let concurrent workers grab and finish them (some fail),
# resubmit a failed one, expire old results, and print a report, then the
# queue overview (compute.queue_stats) and the health check (compute.health()).
# The extension must be installed (make demo does that first).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
JOBS=${JOBS:-400}
WORKERS=${WORKERS:-4}

dir=$(scratch_dir demo)
trap 'pg_stop "$dir"; rm -rf "$dir"' EXIT
echo "== starting a throwaway PostgreSQL 15 cluster in $dir"
pg_start "$dir" 5432 shared_preload_libraries=compute  # as the README recommends
cp demo/worker.sql "$dir/"
q() { psql -X -v ON_ERROR_STOP=1 "$@"; }

echo "== CREATE EXTENSION compute; submitting $JOBS jobs on queues render and encode"
q -q <<SQL
CREATE EXTENSION compute;
SELECT count(compute.submit_job(decode(md5('job ' || i), 'hex'),
                                CASE WHEN i % 2 = 0 THEN 'render' ELSE 'encode' END,
                                format('{"frame": %s}', i), ARRAY['scene-' || i || '.blend']))
       AS submitted
  FROM generate_series(1, $JOBS) i;
-- The same configuration gives the same job: submitting again is a no-op.
SELECT count(compute.submit_job(decode(md5('job ' || i), 'hex'), 'render')) AS submitted_again,
       (SELECT count(*) FROM compute.jobs) AS jobs_in_table
  FROM generate_series(1, 10) i;
SELECT queue, count(*) AS queued FROM compute.jobs GROUP BY queue ORDER BY queue;
SQL

echo "== $WORKERS concurrent workers grab and finish jobs until the queues are empty"
start=$(date +%s%N)
for round in 1 2 3 4 5; do
	left=$(q -qAt -c "SELECT count(*) FROM compute.jobs WHERE status = 'queued'")
	[ "$left" -eq 0 ] && break
	pgbench -n -M extended -c "$WORKERS" -j 2 -t $((left / WORKERS + 20)) -f "$dir/worker.sql" >"$dir/pgbench.log" 2>&1 ||
		{ cat "$dir/pgbench.log"; exit 1; }
done
ms=$((($(date +%s%N) - start) / 1000000))
[ "$ms" -gt 0 ] || ms=1
q -q <<'SQL'
SELECT status, count(*) FROM compute.jobs GROUP BY status ORDER BY status;
SQL

echo "== a failed job is resubmitted (same job_id), grabbed and completed"
q -q <<'SQL'
SELECT job_id AS failed_job FROM compute.jobs WHERE status = 'failed' ORDER BY job_id LIMIT 1 \gset
SELECT encode(job_id, 'hex') AS job, status, queue, grabbed IS NULL AS grabbed_cleared
  FROM compute.submit_job(:'failed_job', 'render', '{"frame": "retry"}');
SELECT compute.queue_position(:'failed_job') AS queue_position;
SELECT encode(job_id, 'hex') AS job, status FROM compute.grab_job('render');
SELECT encode(job_id, 'hex') AS job, status, output_files
  FROM compute.finish_job(:'failed_job', 'complete', ARRAY['retry.out']);
SQL

echo "== a finished job is asked for again: the cached result comes back"
q -q <<'SQL'
SELECT encode(job_id, 'hex') AS job, status, output_files
  FROM compute.submit_job(decode(md5('job 2'), 'hex'), 'render')
 WHERE status = 'complete'
UNION ALL
SELECT encode(job_id, 'hex'), status, output_files
  FROM compute.get_job(decode(md5('job 4'), 'hex'))
 WHERE status = 'complete';
SQL

echo "== results nobody asked for in 30 days expire"
q -q <<'SQL'
-- Pretend half of the complete jobs were last asked for 40 days ago.
UPDATE compute.jobs SET last_accessed = now() - interval '40 days'
 WHERE status = 'complete' AND get_byte(job_id, 0) < 128;
SELECT compute.expire('30 days') AS expired_now, compute.expire('30 days') AS expired_again;
SQL

echo "== report"
q -q <<SQL
SELECT queue, status, count(*) FROM compute.jobs GROUP BY ROLLUP (queue, status) ORDER BY queue, status;
SELECT count(*) FILTER (WHERE finished IS NOT NULL) AS finished_jobs,
       $ms AS worker_ms,
       round(count(*) FILTER (WHERE finished IS NOT NULL) * 1000.0 / $ms) AS jobs_per_second
  FROM compute.jobs;
SQL
echo "== the queue overview: SELECT * FROM compute.queue_stats (times of the last hour, in ms)"
q -q <<'SQL'
SELECT queue, queued, in_progress, complete, failed, expired, lease_expired, grabbed_recent AS grabbed,
       completed_recent AS completed, failed_recent AS failed_1h,
       round(extract(epoch FROM wait_p50) * 1000, 1) AS wait_p50, round(extract(epoch FROM wait_p99) * 1000, 1) AS wait_p99,
       round(extract(epoch FROM run_p50) * 1000, 1) AS run_p50, round(extract(epoch FROM run_p99) * 1000, 1) AS run_p99
  FROM compute.queue_stats ORDER BY queue;
SQL
echo "== the health check: SELECT check_name, subject, verdict, reason FROM compute.health()"
q -q -c "SELECT check_name, subject, verdict, reason FROM compute.health()"
echo "== demo done; the cluster is removed"
