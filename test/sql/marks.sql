-- Queue marks (with compute in shared_preload_libraries, grab_job scans from
-- just after the last job grabbed from the queue). Every case that could
-- leave a queued job behind the mark must still see it grabbed, oldest
-- first: an aborted grab, a savepoint rolled back, a plain INSERT of an
-- older job, a requeue, a resubmission, a re-route from another queue. The
-- results are the same with and without marks; only the first query and
-- the marks table differ (marks_1.out is the run without the library
-- preloaded).
\set SHOW_CONTEXT never
SELECT current_setting('shared_preload_libraries') LIKE '%compute%' AS marks_in_shared_memory;
DELETE FROM compute.jobs;

-- t.grab(queue, n): the names (m1, m2, ...) of the jobs grab_job returns.
CREATE TABLE t.names (name text, id bytea);
INSERT INTO t.names SELECT 'm' || i, t.id('m' || i) FROM generate_series(1, 20) i;
INSERT INTO t.names VALUES ('old', t.id('old')), ('other', t.id('other')), ('replica', t.id('replica'));
CREATE FUNCTION t.grab(queue text, n int) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(name, ' ' ORDER BY g.ordinality), '-')
      FROM compute.grab_job(queue, n) WITH ORDINALITY AS g
      JOIN t.names ON t.names.id = g.job_id
$$;

INSERT INTO compute.jobs (job_id, status, queue, created)
SELECT t.id('m' || i), 'queued', 'm', now() - (100 - i) * interval '1 minute' FROM generate_series(1, 20) i;

SELECT t.grab('m', 3) AS grabbed;
SELECT valid, mark_job_id = t.id('m3') AS mark_after_m3 FROM compute._queue_marks() WHERE queue = 'm';

-- An aborted grab puts its jobs back; the next grab takes them again.
BEGIN;
SELECT t.grab('m', 2) AS grabbed_then_rolled_back;
ROLLBACK;
SELECT t.grab('m', 2) AS grabbed;

-- A savepoint rolled back, the same.
BEGIN;
SAVEPOINT s;
SELECT t.grab('m', 1) AS grabbed_then_rolled_back;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT t.grab('m', 1) AS grabbed;

-- A plain INSERT of a job older than everything: grabbed next.
INSERT INTO compute.jobs (job_id, status, queue, created) VALUES (t.id('old'), 'queued', 'm', now() - interval '1 day');
SELECT t.grab('m', 2) AS grabbed;

-- A requeue by hand of m1: grabbed next.
UPDATE compute.jobs SET status = 'queued' WHERE job_id = t.id('m1');
SELECT t.grab('m', 1) AS grabbed;

-- requeue_stale of m2 and m3.
UPDATE compute.jobs SET grabbed = now() - interval '1 hour' WHERE job_id IN (t.id('m2'), t.id('m3'));
SELECT compute.requeue_stale('30 minutes') AS requeued;
SELECT t.grab('m', 3) AS grabbed;

-- A failed job resubmitted keeps its place: grabbed next.
SELECT status FROM compute.finish_job(t.id('m4'), 'failed');
SELECT status FROM compute.submit_job(t.id('m4'), 'm');
SELECT t.grab('m', 1) AS grabbed;

-- A job of another queue re-routed here, older than the mark: grabbed next.
INSERT INTO compute.jobs (job_id, status, queue, created) VALUES (t.id('other'), 'queued', 'elsewhere', now() - interval '2 days');
UPDATE compute.jobs SET status = 'queued', queue = 'm' WHERE job_id = t.id('other');
SELECT t.grab('m', 1) AS grabbed;

-- A lost lease requeued by requeue_stale().
UPDATE compute.jobs SET lease_expires = now() - interval '1 second' WHERE job_id = t.id('m5');
SELECT compute.requeue_stale() AS requeued;
SELECT t.grab('m', 2) AS grabbed;

-- An older job loaded with session_replication_role = replica (a restore,
-- logical replication: the guard checks nothing then, but still notes it).
SET session_replication_role = replica;
INSERT INTO compute.jobs (job_id, status, queue, created) VALUES (t.id('replica'), 'queued', 'm', now() - interval '3 days');
RESET session_replication_role;
SELECT t.grab('m', 1) AS grabbed;

-- The rest, in order, then nothing.
SELECT t.grab('m', 100) AS grabbed;
SELECT t.grab('m', 1) AS grabbed;
SELECT count(*) FILTER (WHERE status = 'queued') AS queued, count(*) AS jobs FROM compute.jobs;
SELECT queue, valid FROM compute._queue_marks() WHERE queue = 'm';
