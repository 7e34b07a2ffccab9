-- compute.queue_stats (1.2.0): per queue, jobs per status, the oldest queued
-- job, jobs past their lease, and wait and run times of a recent window; the
-- view (1 hour) and the function (any window, totals optional). Times are
-- checked exactly where the jobs' times are set in the same transaction as
-- the query (now() is the transaction's), else as bounds.
\set SHOW_CONTEXT never
DELETE FROM compute.jobs;
SELECT * FROM compute.queue_stats;

-- Through the API: 5 jobs on render, 3 on encode; two render jobs grabbed,
-- one finished complete and one failed, one encode job grabbed and left
-- running; one render job expired.
SELECT count(compute.submit_job(t.id('qs-render-' || i), 'render')) FROM generate_series(1, 5) i;
SELECT count(compute.submit_job(t.id('qs-encode-' || i), 'encode')) FROM generate_series(1, 3) i;
SELECT count(*) FROM compute.grab_job('render', 2, '1 hour');
SELECT count(*) FROM compute.grab_job('encode', 1, '1 hour');
SELECT (compute.finish_job(job_id, CASE WHEN n = 1 THEN 'complete' ELSE 'failed' END)).status
  FROM (SELECT job_id, row_number() OVER (ORDER BY job_id) AS n
          FROM compute.jobs WHERE queue = 'render' AND status = 'in-progress') j
 ORDER BY n;
SELECT (compute.expire_job(job_id)).status
  FROM (SELECT job_id FROM compute.jobs WHERE queue = 'render' AND status = 'queued' ORDER BY job_id LIMIT 1) j;
SELECT queue, queued, in_progress, complete, failed, expired, lease_expired, recent,
       grabbed_recent, completed_recent, failed_recent,
       oldest_queued_age >= '0' AND oldest_queued_age < '1 hour' AS oldest_queued_age_ok,
       wait_p50 >= '0' AND wait_p99 < '1 hour' AS wait_ok,
       run_p50 IS NULL OR (run_p50 >= '0' AND run_p99 < '1 hour') AS run_ok
  FROM compute.queue_stats ORDER BY queue;

-- Exact times, written with session_replication_role = replica (as a
-- restore writes them) in one transaction. Queue timed: ten jobs finished in
-- the last hour, job i waited i * 10 s and ran i minutes; two finished 2
-- hours ago (outside the view's window); one in progress, grabbed 40 s
-- after it was created, past its lease; one queued for 2 hours.
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO compute.jobs (job_id, status, queue, created, last_accessed, grabbed, finished, attempt, lease_expires, lease)
SELECT t.id('timed-' || i), CASE WHEN i % 3 = 0 THEN 'failed' ELSE 'complete' END, 'timed',
       now() - interval '55 minutes', now() - interval '55 minutes',
       now() - interval '55 minutes' + i * interval '10 seconds',
       now() - interval '55 minutes' + i * interval '10 seconds' + i * interval '1 minute', 1,
       NULL::timestamptz, NULL::interval
  FROM generate_series(1, 10) i
UNION ALL
SELECT t.id('timed-old-' || i), 'complete', 'timed', now() - interval '3 hours', now() - interval '3 hours',
       now() - interval '3 hours' + interval '1 hour', now() - interval '2 hours', 1, NULL, NULL
  FROM generate_series(1, 2) i
UNION ALL
SELECT t.id('timed-running'), 'in-progress', 'timed', now() - interval '10 minutes', now() - interval '10 minutes',
       now() - interval '10 minutes' + interval '40 seconds', NULL, 1, now() - interval '1 minute', interval '5 minutes'
UNION ALL
SELECT t.id('timed-waiting'), 'queued', 'timed', now() - interval '2 hours', now() - interval '2 hours', NULL, NULL, 0,
       NULL, NULL;
SET LOCAL session_replication_role = origin;
-- Waits: 10, 20, ..., 100 s of the finished ones and 40 s of the running one;
-- runs: 1 ... 10 minutes (percentile_cont interpolates).
SELECT queue, queued, in_progress, complete, failed, expired, oldest_queued_age, lease_expired, recent,
       grabbed_recent, completed_recent, failed_recent, wait_p50, wait_p95, wait_p99, run_p50, run_p95, run_p99
  FROM compute.queue_stats WHERE queue = 'timed';
-- Another window: the last 3 hours take the two old jobs in; without totals
-- the counts of finished jobs are not taken (NULL).
SELECT queue, complete, failed, expired, recent, grabbed_recent, completed_recent, failed_recent,
       wait_p50, run_p50, run_p99
  FROM compute.queue_stats('3 hours', totals => false) WHERE queue = 'timed';
-- A window of 0 holds nothing.
SELECT queue, grabbed_recent, completed_recent, wait_p50, run_p50
  FROM compute.queue_stats('0 seconds') ORDER BY queue;
-- The view is the function with its defaults.
SELECT count(*) AS differences
  FROM ((TABLE compute.queue_stats EXCEPT SELECT * FROM compute.queue_stats())
        UNION ALL (SELECT * FROM compute.queue_stats() EXCEPT TABLE compute.queue_stats)) d;
COMMIT;

-- A queue is listed while it has queued or in-progress jobs or finishes in
-- the window; its totals count every job of it. Jobs finished long ago
-- only: not listed.
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO compute.jobs (job_id, status, queue, created, last_accessed, grabbed, finished)
VALUES (t.id('history-1'), 'complete', 'history', now() - interval '3 days', now() - interval '3 days',
        now() - interval '3 days', now() - interval '3 days');
COMMIT;
SELECT queue FROM compute.queue_stats ORDER BY queue;
SELECT queue, complete FROM compute.queue_stats('4 days') WHERE queue = 'history';

-- The totals of finished jobs need a scan of the whole table: a query of the
-- view that does not name complete, failed or expired does not count them
-- (the planner drops that part; the status 'expired' is only counted there).
CREATE FUNCTION t.plan_mentions(query text, pattern text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    line text;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query LOOP
        IF line LIKE '%' || pattern || '%' THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END $$;
SELECT t.plan_mentions('SELECT queue, queued, in_progress, oldest_queued_age, lease_expired, wait_p50, run_p99
                          FROM compute.queue_stats', '''expired''') AS overview_counts_expired,
       t.plan_mentions('SELECT queue, expired FROM compute.queue_stats', '''expired''') AS totals_count_expired,
       t.plan_mentions('SELECT * FROM compute.queue_stats', '''expired''') AS star_counts_expired;

-- Bad arguments.
SELECT t.try($$SELECT * FROM compute.queue_stats(NULL)$$);
SELECT t.try($$SELECT * FROM compute.queue_stats('1 hour', NULL)$$);
SELECT t.try($$SELECT * FROM compute.queue_stats('-1 hour')$$);
SELECT t.try($$SELECT * FROM compute.queue_stats('1 month -31 days')$$);
SELECT t.try($$SELECT * FROM compute.queue_stats('2147483647 days')$$);
SELECT count(*) AS queues FROM compute.queue_stats('1000 years');

-- Privileges: nobody but the owner until granted; the view needs no
-- privilege on compute.jobs (it reads it as its owner).
CREATE ROLE regress_qs_monitor;
GRANT USAGE ON SCHEMA t TO regress_qs_monitor;
SET ROLE regress_qs_monitor;
SELECT t.try($$SELECT count(*) FROM compute.queue_stats$$);
RESET ROLE;
GRANT USAGE ON SCHEMA compute TO regress_qs_monitor;
SET ROLE regress_qs_monitor;
SELECT t.try($$SELECT count(*) FROM compute.queue_stats$$);
SELECT t.try($$SELECT count(*) FROM compute.queue_stats('1 day')$$);
RESET ROLE;
GRANT SELECT ON compute.queue_stats TO regress_qs_monitor;
GRANT EXECUTE ON FUNCTION compute.queue_stats(interval, boolean) TO regress_qs_monitor;
SET ROLE regress_qs_monitor;
SELECT t.try($$SELECT count(*) FROM compute.queue_stats$$) AS view,
       t.try($$SELECT count(*) FROM compute.queue_stats('1 day')$$) AS function,
       t.try($$SELECT count(*) FROM compute.jobs$$) AS table;
SELECT queue, queued, in_progress FROM compute.queue_stats ORDER BY queue;
RESET ROLE;
DROP OWNED BY regress_qs_monitor;
DROP ROLE regress_qs_monitor;
DELETE FROM compute.jobs;
