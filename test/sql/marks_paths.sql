-- More paths that can leave a queued job behind a queue mark (with compute
-- in shared_preload_libraries; see src/core/queue_mark.hpp): a transaction
-- that writes queued rows in more queues than a backend keeps notes for
-- (16 today: then every mark of the database must be invalidated), and
-- PREPARE TRANSACTION / COMMIT PREPARED / ROLLBACK PREPARED, also with a
-- grab in between. Only what grab_job returns is
-- checked, so the output is the same with and without marks (one expected
-- file for both runs): whatever the marks do, the oldest queued job comes
-- first. The suites' servers run with max_prepared_transactions > 0
-- (SUITE_SETTINGS in scripts/lib.sh).
\set SHOW_CONTEXT never
SELECT current_setting('max_prepared_transactions')::int > 0 AS prepared_transactions_enabled;
DELETE FROM compute.jobs;

-- t.pgrab(queue, n): the names of the jobs grab_job returns, in its order.
CREATE TABLE t.pnames (name text PRIMARY KEY, id bytea NOT NULL);
INSERT INTO t.pnames
SELECT q || i, t.id(q || i) FROM unnest(ARRAY['ov', 'pr']) q, generate_series(0, 9) i;
INSERT INTO t.pnames VALUES ('ov-old-a', t.id('ov-old-a')), ('ov-old-b', t.id('ov-old-b')),
    ('pr-old-a', t.id('pr-old-a')), ('pr-old-b', t.id('pr-old-b'));
CREATE FUNCTION t.pgrab(queue text, n int) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(coalesce(name, '?'), ' ' ORDER BY g.ordinality), '-')
      FROM compute.grab_job(queue, n) WITH ORDINALITY AS g
      LEFT JOIN t.pnames ON t.pnames.id = g.job_id
$$;
-- t.queue_job(queue, job, age): inserts a queued job created `age` ago; 1.
CREATE FUNCTION t.queue_job(queue text, job text, age interval) RETURNS int LANGUAGE sql AS $$
    INSERT INTO compute.jobs (job_id, status, queue, created) VALUES (t.id(job), 'queued', queue, now() - age)
    RETURNING 1
$$;

-- Queue ov: ov1..ov9, a minute apart.
SELECT sum(t.queue_job('ov', 'ov' || i, (60 - i) * interval '1 minute')) AS queued FROM generate_series(1, 9) i;
SELECT t.pgrab('ov', 2) AS grabbed;

-- One transaction writes queued rows in 16 other queues, then an older job
-- in ov: 17 queues, one more than the notes hold. Committed, the older job
-- is the oldest queued job of ov and comes first.
BEGIN;
SELECT sum(t.queue_job('other' || i, 'other' || i, interval '0')) AS queued FROM generate_series(1, 16) i;
SELECT t.queue_job('ov', 'ov-old-a', interval '1 day') AS queued;
COMMIT;
SELECT t.pgrab('ov', 2) AS grabbed;

-- The same with ov written first and the 16 other queues after it.
BEGIN;
SELECT t.queue_job('ov', 'ov-old-b', interval '2 days') AS queued;
SELECT sum(t.queue_job('again' || i, 'again' || i, interval '0')) AS queued FROM generate_series(1, 16) i;
COMMIT;
SELECT t.pgrab('ov', 2) AS grabbed;

-- Requeues (UPDATEs) in 17 queues in one transaction: jobs grabbed from 16
-- other queues and put back, then ov1 and ov2, the oldest of ov again.
BEGIN;
SELECT count(*) AS grabbed_elsewhere FROM generate_series(1, 16) i, compute.grab_job('other' || i);
UPDATE compute.jobs SET status = 'queued' WHERE queue LIKE 'other%' AND status = 'in-progress';
UPDATE compute.jobs SET status = 'queued' WHERE job_id IN (t.id('ov1'), t.id('ov2'));
COMMIT;
SELECT t.pgrab('ov', 3) AS grabbed;

-- The rest of ov, in order.
SELECT t.pgrab('ov', 100) AS grabbed;

-- Queue pr: pr1..pr9, a minute apart.
SELECT sum(t.queue_job('pr', 'pr' || i, (60 - i) * interval '1 minute')) AS queued FROM generate_series(1, 9) i;
SELECT t.pgrab('pr', 1) AS grabbed;

-- An older job inserted by a prepared transaction, committed with COMMIT
-- PREPARED: the oldest queued job of pr, grabbed next.
BEGIN;
-- (compute's NOTIFY is sent at commit only, so a transaction that queues a
-- job can be prepared; a prepared transaction notifies nothing.)
SELECT t.queue_job('pr', 'pr-old-a', interval '1 day') AS queued;
PREPARE TRANSACTION 'compute_marks_paths_a';
COMMIT PREPARED 'compute_marks_paths_a';
SELECT t.pgrab('pr', 2) AS grabbed;

-- A grab prepared, then rolled back with ROLLBACK PREPARED: its job is
-- queued again and grabbed next.
BEGIN;
SELECT t.pgrab('pr', 1) AS grabbed_then_rolled_back;
PREPARE TRANSACTION 'compute_marks_paths_b';
ROLLBACK PREPARED 'compute_marks_paths_b';
SELECT t.pgrab('pr', 2) AS grabbed;

-- An older job inserted by a prepared transaction while a grab runs between
-- PREPARE and COMMIT PREPARED (the row is not visible to that grab):
-- once committed, it is the oldest queued job and comes next.
BEGIN;
SELECT t.queue_job('pr', 'pr-old-b', interval '2 days') AS queued;
PREPARE TRANSACTION 'compute_marks_paths_c';
SELECT t.pgrab('pr', 1) AS grabbed_while_prepared;
COMMIT PREPARED 'compute_marks_paths_c';
SELECT t.pgrab('pr', 2) AS grabbed;

-- A grab prepared, another grab while it is prepared (which passes the
-- prepared grab's locked job), then ROLLBACK PREPARED: the job is queued
-- again, the oldest, and comes next.
BEGIN;
SELECT t.pgrab('pr', 1) AS grabbed_then_rolled_back;
PREPARE TRANSACTION 'compute_marks_paths_d';
SELECT t.pgrab('pr', 1) AS grabbed_while_prepared;
ROLLBACK PREPARED 'compute_marks_paths_d';
SELECT t.pgrab('pr', 2) AS grabbed;

-- Nothing is left in pr, nor prepared; what is queued is in the other queues.
SELECT t.pgrab('pr', 100) AS grabbed;
SELECT count(*) AS prepared_left FROM pg_prepared_xacts WHERE gid LIKE 'compute_marks_paths_%';
SELECT count(*) FILTER (WHERE queue IN ('ov', 'pr')) AS queued_in_ov_pr,
       count(*) FILTER (WHERE queue NOT IN ('ov', 'pr')) AS queued_elsewhere
  FROM compute.jobs WHERE status = 'queued';
DELETE FROM compute.jobs;
DROP FUNCTION t.queue_job(text, text, interval);
DROP FUNCTION t.pgrab(text, int);
DROP TABLE t.pnames;
