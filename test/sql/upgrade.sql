-- The upgrade path: install 1.0.0, put jobs in every status, ALTER
-- EXTENSION compute UPDATE, and check that every job and every function
-- still works. (A fresh CREATE EXTENSION runs the same scripts in a row, so
-- a fresh install and an updated one are the same schema.)
\set SHOW_CONTEXT never
SET client_min_messages = warning;
DROP EXTENSION compute CASCADE; -- with the earlier tests' helpers that use its row type
RESET client_min_messages;
CREATE EXTENSION compute VERSION '1.0.0';
SELECT extversion, (SELECT value FROM compute.meta WHERE key = 'version') AS meta_version
  FROM pg_extension WHERE extname = 'compute';

-- The 1.0.0 API, served by today's library.
SELECT (compute.submit_job(t.id('up-' || s), 'up-' || s, 'config ' || s, ARRAY[s || '.in'])).status
  FROM unnest(ARRAY['queued', 'in-progress', 'complete', 'failed', 'expired', 'running2']) s;
SELECT count(*) FROM compute.grab_job('up-in-progress');
SELECT count(*) FROM compute.grab_job('up-running2', 5);
SELECT count(*) FROM compute.grab_job('up-complete');
SELECT count(*) FROM compute.grab_job('up-failed');
SELECT (compute.finish_job(t.id('up-complete'), 'complete', '{done.out}')).status;
SELECT (compute.finish_job(t.id('up-failed'), 'failed')).status;
SELECT (compute.expire_job(t.id('up-expired'))).status;
SELECT t.try($$UPDATE compute.jobs SET status = 'complete' WHERE job_id = t.id('up-queued')$$);
SELECT t.try($$SELECT compute.heartbeat(t.id('up-in-progress'), 0)$$);

-- A worker role granted the 1.0.0 grab_job and finish_job.
CREATE ROLE regress_upgrade_worker;
GRANT EXECUTE ON FUNCTION compute.grab_job(text, int), compute.finish_job(bytea, text, text[])
    TO regress_upgrade_worker;

CREATE TABLE t.before_update AS
SELECT job_id, status, queue, config, input_files, created, last_accessed, grabbed, finished, output_files
  FROM compute.jobs;

ALTER EXTENSION compute UPDATE;
SELECT extversion, (SELECT value FROM compute.meta WHERE key = 'version') AS meta_version
  FROM pg_extension WHERE extname = 'compute';

-- Every job is as it was, with the new columns at their defaults.
SELECT count(*) AS jobs,
       count(*) FILTER (WHERE (b.*)::text = (j.job_id, j.status, j.queue, j.config, j.input_files, j.created,
                                             j.last_accessed, j.grabbed, j.finished, j.output_files)::text) AS unchanged,
       count(*) FILTER (WHERE j.attempt = 0 AND j.lease_expires IS NULL AND j.lease IS NULL
                          AND j.lost_leases = 0 AND j.error IS NULL) AS new_columns_default
  FROM t.before_update b JOIN compute.jobs j USING (job_id);

-- The queue overview and the health check (1.2.0) read the old jobs: the
-- in-progress ones from 1.0.0 have no lease, so none is past it.
SELECT queue, queued, in_progress, complete, failed, expired, lease_expired, grabbed_recent, completed_recent
  FROM compute.queue_stats ORDER BY queue;
SELECT check_name, count(*) AS rows, max(verdict) AS verdict FROM compute.health()
 WHERE check_name IN ('stuck_leases', 'stalled_queue', 'dead_rows') GROUP BY 1 ORDER BY 1;

-- Every function works on the old jobs. An in-progress job from 1.0.0 is at
-- attempt 0 with no lease: its worker may finish it with or without that
-- token, heartbeat it (giving it a lease), and requeue_stale(interval)
-- recovers it by grab time.
SELECT status, attempt, lease_expires > now() AS has_lease FROM compute.heartbeat(t.id('up-in-progress'), 0);
SELECT status, attempt, output_files FROM compute.finish_job(t.id('up-in-progress'), 'complete', '{x.out}', 0);
SELECT compute.requeue_stale() AS lease_requeued, compute.requeue_stale('0 seconds') AS grab_time_requeued;
SELECT status FROM compute.jobs WHERE job_id = t.id('up-running2');
SELECT encode(job_id, 'hex') = encode(t.id('up-queued'), 'hex') AS oldest, attempt, lease
  FROM compute.grab_job('up-queued', 1, '1 minute');
SELECT status FROM compute.finish_job(t.id('up-queued'), 'failed', NULL, 1, 'after the update');
SELECT status, attempt, error IS NULL AS error_cleared FROM compute.submit_job(t.id('up-failed'), 'up-failed');
SELECT status, output_files FROM compute.submit_job(t.id('up-complete'), 'up-complete');
SELECT status FROM compute.get_job(t.id('up-expired'));
SELECT compute.queue_position(t.id('up-failed'));
SELECT compute.expire('0 seconds') >= 2 AS expired_old_results;
SELECT compute.delete_job(t.id('up-expired'));
SELECT (compute.expire_job(t.id('up-running2'))).status;

-- The old grab_job(text, int) and finish_job(bytea, text, text[]) are
-- replaced, not duplicated: one of each name is left, with the new
-- signature, and every old call form resolves to it.
SELECT proname, count(*) FROM pg_proc
 WHERE pronamespace = 'compute'::regnamespace AND proname IN ('grab_job', 'finish_job')
 GROUP BY proname ORDER BY proname;

-- The worker's grants moved to the new forms; PUBLIC still may not call.
SELECT p.oid::regprocedure AS function,
       has_function_privilege('regress_upgrade_worker', p.oid, 'EXECUTE') AS worker_may_call,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call
  FROM pg_proc p
 WHERE p.pronamespace = 'compute'::regnamespace AND p.proname IN ('grab_job', 'finish_job', 'heartbeat')
 ORDER BY 1::text;
DROP OWNED BY regress_upgrade_worker;
DROP ROLE regress_upgrade_worker;

-- Back to a fresh install for whatever runs next.
DROP EXTENSION compute;
CREATE EXTENSION compute;
