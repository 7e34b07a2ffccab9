-- compute.health() (1.2.0): one row per finding with its verdict and the
-- reason in words. Here, in one session: the rows of a quiet database, jobs
-- stuck past their lease, queues nobody grabs from, the thresholds as
-- arguments, bad arguments and privileges. The jobs' times are written in the
-- same transaction as the call (now() is the transaction's), so the reasons'
-- durations are exact. What holds the xmin horizon back needs other
-- sessions: iso_health_horizon (isolation) and health_prepared.
\set SHOW_CONTEXT never
DELETE FROM compute.jobs;

-- A quiet database: every check is ok, no session of another holds the
-- horizon (the calling session never counts), one row per index.
SELECT check_name, subject, verdict,
       CASE WHEN check_name IN ('dead_rows', 'index_size') THEN '(measured)' ELSE value::text END AS value,
       CASE WHEN check_name IN ('dead_rows', 'index_size') THEN '(measured)' ELSE reason END AS reason
  FROM compute.health();

-- Stuck leases and stalled queues.
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO compute.jobs (job_id, status, queue, created, last_accessed, grabbed, finished, attempt, lease_expires, lease)
VALUES
    -- stuck-a: two jobs whose lease ran out 10 and 20 minutes ago (warn);
    (t.id('stuck-a-1'), 'in-progress', 'stuck-a', now() - interval '1 hour', now(), now() - interval '30 minutes', NULL, 1,
     now() - interval '10 minutes', interval '20 minutes'),
    (t.id('stuck-a-2'), 'in-progress', 'stuck-a', now() - interval '1 hour', now(), now() - interval '40 minutes', NULL, 1,
     now() - interval '20 minutes', interval '20 minutes'),
    -- stuck-b: one 2 hours ago (critical);
    (t.id('stuck-b-1'), 'in-progress', 'stuck-b', now() - interval '3 hours', now(), now() - interval '150 minutes', NULL, 1,
     now() - interval '2 hours', interval '30 minutes'),
    -- fine: one a minute ago (requeue_stale() may not have come by yet), one
    -- still leased, one from 1.0.0 without a lease.
    (t.id('fine-1'), 'in-progress', 'fine', now() - interval '1 hour', now(), now() - interval '6 minutes', NULL, 1,
     now() - interval '1 minute', interval '5 minutes'),
    (t.id('fine-2'), 'in-progress', 'fine', now() - interval '1 hour', now(), now() - interval '1 minute', NULL, 1,
     now() + interval '4 minutes', interval '5 minutes'),
    (t.id('fine-3'), 'in-progress', 'fine', now() - interval '1 hour', now(), now() - interval '2 days', NULL, 0, NULL, NULL),
    -- idle-q: queued for 2 hours, never grabbed (critical);
    (t.id('idle-q-1'), 'queued', 'idle-q', now() - interval '2 hours', now(), NULL, NULL, 0, NULL, NULL),
    (t.id('idle-q-2'), 'queued', 'idle-q', now() - interval '1 minute', now(), NULL, NULL, 0, NULL, NULL),
    -- slow-q: queued for 30 minutes, last grab 20 minutes ago (warn);
    (t.id('slow-q-1'), 'queued', 'slow-q', now() - interval '30 minutes', now(), NULL, NULL, 0, NULL, NULL),
    (t.id('slow-q-2'), 'complete', 'slow-q', now() - interval '40 minutes', now(), now() - interval '20 minutes',
     now() - interval '19 minutes', 1, NULL, NULL),
    -- busy-q: queued for 2 hours, but a worker grabbed one a minute ago;
    (t.id('busy-q-1'), 'queued', 'busy-q', now() - interval '2 hours', now(), NULL, NULL, 0, NULL, NULL),
    (t.id('busy-q-2'), 'in-progress', 'busy-q', now() - interval '3 hours', now(), now() - interval '1 minute', NULL, 1,
     now() + interval '4 minutes', interval '5 minutes'),
    -- fresh-q: queued a minute ago.
    (t.id('fresh-q-1'), 'queued', 'fresh-q', now() - interval '1 minute', now(), NULL, NULL, 0, NULL, NULL);
SET LOCAL session_replication_role = origin;
SELECT check_name, subject, verdict, value, reason
  FROM compute.health() WHERE check_name IN ('stuck_leases', 'stalled_queue');

-- The thresholds are the caller's: stricter ones find more, looser ones
-- nothing.
SELECT check_name, subject, verdict, value
  FROM compute.health(lease_warn => '30 seconds', lease_critical => '15 minutes',
                      stall_warn => '1 minute', stall_critical => '25 minutes')
 WHERE check_name IN ('stuck_leases', 'stalled_queue');
SELECT check_name, subject, verdict, reason
  FROM compute.health(lease_warn => '3 hours', lease_critical => '4 hours',
                      stall_warn => '3 hours', stall_critical => '4 hours')
 WHERE check_name IN ('stuck_leases', 'stalled_queue');
-- requeue_stale() takes the stuck jobs back, and the finding goes; the
-- requeued jobs now wait in stalled queues.
SELECT compute.requeue_stale() AS requeued;
SELECT check_name, subject, verdict, value
  FROM compute.health() WHERE check_name IN ('stuck_leases', 'stalled_queue');
ROLLBACK;

-- Bad thresholds.
SELECT t.try($$SELECT * FROM compute.health(horizon_warn => NULL)$$);
SELECT t.try($$SELECT * FROM compute.health(slot_critical_xids => NULL)$$);
SELECT t.try($$SELECT * FROM compute.health(lease_warn => '-1 minute')$$);
SELECT t.try($$SELECT * FROM compute.health(stall_warn => '1 hour', stall_critical => '178000000 years')$$);
SELECT t.try($$SELECT * FROM compute.health(dead_warn => 'NaN')$$);
SELECT t.try($$SELECT * FROM compute.health(dead_critical => 1.5)$$);
SELECT t.try($$SELECT * FROM compute.health(dead_warn => -0.1)$$);
SELECT t.try($$SELECT * FROM compute.health(stall_warn => '2 hours', stall_critical => '1 hour')$$);
SELECT t.try($$SELECT * FROM compute.health(dead_warn => 0.7, dead_critical => 0.6)$$);

-- Privileges: nobody but the owner until granted; a role granted EXECUTE
-- sees what the owner sees (it runs as the owner), without any privilege on
-- compute.jobs or pg_read_all_stats.
CREATE ROLE regress_health_monitor;
GRANT USAGE ON SCHEMA t TO regress_health_monitor;
SET ROLE regress_health_monitor;
SELECT t.try($$SELECT count(*) FROM compute.health()$$);
RESET ROLE;
GRANT USAGE ON SCHEMA compute TO regress_health_monitor;
GRANT EXECUTE ON FUNCTION compute.health(interval, interval, interval, interval, interval, interval, float8, float8,
                                         bigint, bigint) TO regress_health_monitor;
SET ROLE regress_health_monitor;
SELECT t.try($$SELECT count(*) FROM compute.health()$$) AS health, t.try($$SELECT count(*) FROM compute.jobs$$) AS jobs;
SELECT count(*) AS rows FROM compute.health();
RESET ROLE;
DROP OWNED BY regress_health_monitor;
DROP ROLE regress_health_monitor;
