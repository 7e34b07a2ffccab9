-- Live statistics (1.2.0): compute.stats counts per queue what committed
-- (submits, dedupe hits, resubmissions, grabs, requeues, lost leases,
-- finishes, expirations) and every refused write by SQLSTATE. The counters
-- live in shared memory: with the library preloaded (stats.out) they count;
-- loaded on demand (stats_1.out) the view is empty.
\set SHOW_CONTEXT never
SELECT current_setting('shared_preload_libraries') LIKE '%compute%' AS counters_in_shared_memory;
SELECT compute.stats_reset() >= 0 AS reset;
CREATE VIEW t.s AS
SELECT queue, submitted, dedupe_hits, resubmitted, grabbed, requeued, leases_lost, completed, failed, expired,
       refused, refused_by_sqlstate
  FROM compute.stats WHERE queue LIKE 'st%' ORDER BY queue;

-- Submits: new jobs, dedupe hits (submit_job and submit_jobs), a plain INSERT.
SELECT count(*) FROM compute.submit_job(t.id('st a'), 'st1');
SELECT count(*) FROM compute.submit_job(t.id('st b'), 'st1');
SELECT count(*) FROM compute.submit_job(t.id('st a'), 'st1');
SELECT count(*) FROM compute.submit_jobs(ARRAY[t.id('st c'), t.id('st a')], 'st1');
INSERT INTO compute.jobs (job_id, status, queue) VALUES (t.id('st d'), 'queued', 'st1');
SELECT * FROM t.s;

-- Grabs and finishes; work that rolls back counts nothing, nor does a
-- rolled-back savepoint.
SELECT count(*) FROM compute.grab_job('st1', 2);
BEGIN;
SELECT count(*) FROM compute.grab_job('st1', 2);
ROLLBACK;
BEGIN;
SAVEPOINT s;
SELECT count(*) FROM compute.grab_job('st1', 1);
ROLLBACK TO SAVEPOINT s;
SELECT count(*) FROM compute.grab_job('st1', 1);
COMMIT;
SELECT count(compute.finish_job(job_id, 'complete')) FROM compute.jobs WHERE job_id = t.id('st a');
SELECT count(compute.finish_job(job_id, 'failed', error => 'no')) FROM compute.jobs WHERE job_id = t.id('st b');
SELECT * FROM t.s;

-- Requeues: a plain UPDATE, and requeue_stale() taking a lost lease back.
UPDATE compute.jobs SET status = 'queued' WHERE job_id = t.id('st c');
SELECT count(*) FROM compute.grab_job('st1', 1, '1 minute');
UPDATE compute.jobs SET lease_expires = now() - interval '1 second' WHERE status = 'in-progress' AND queue = 'st1';
SELECT compute.requeue_stale() AS requeued;
-- Expiry and resubmission.
SELECT count(*) FROM compute.expire_job(t.id('st b'));
SELECT count(*) FROM compute.submit_job(t.id('st b'), 'st1');
SELECT * FROM t.s;

-- Refused writes are counted at once, by SQLSTATE, even though their
-- transaction rolls back; the refused change counts nothing else.
SELECT compute.finish_job(t.id('st b'), 'complete');
UPDATE compute.jobs SET status = 'bogus' WHERE job_id = t.id('st b');
BEGIN;
SELECT count(*) FROM compute.grab_job('st1', 1);
SELECT compute.finish_job(t.id('st a'), 'failed');
ROLLBACK;
SELECT * FROM t.s;

-- Queues are counted apart; stats_reset() forgets them.
SELECT count(*) FROM compute.submit_job(t.id('st f'), 'st2');
SELECT queue, submitted FROM t.s;
SELECT compute.stats_reset() > 0 AS forgot_some;
SELECT count(*) AS queues_after_reset FROM t.s;
DROP VIEW t.s;
