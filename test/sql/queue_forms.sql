-- The queue-carrying forms of the hot calls (issue 12): finish_job_in,
-- heartbeat_in, finish_jobs_in, and finish_and_grab's finish. On one
-- server they answer as the forms without the queue; a job that is not in
-- the queue given is looked for everywhere (finish_job_in, heartbeat_in,
-- finish_and_grab) or refused as unknown (finish_jobs_in). On a distributed
-- table they are routed to one shard (scripts/check-citus.sh).
DELETE FROM compute.jobs;
\set SHOW_CONTEXT never

SELECT count(*) FROM compute.submit_jobs(ARRAY[t.id('q1 a'), t.id('q1 b'), t.id('q1 c'), t.id('q1 d')], 'q1');
SELECT count(*) FROM compute.submit_jobs(ARRAY[t.id('q2 a'), t.id('q2 b')], 'q2');
SELECT count(*) FROM compute.grab_job('q1', 4);

-- heartbeat_in: in its queue, and (the same answer) given another queue.
SELECT status, attempt, lease_expires > now() AS leased FROM compute.heartbeat_in('q1', t.id('q1 a'), 1, '1 minute');
SELECT status, attempt, lease FROM compute.heartbeat_in('q2', t.id('q1 a'), 1);
-- Fenced as heartbeat is.
SELECT t.try($$SELECT compute.heartbeat_in('q1', t.id('q1 a'), 2)$$);
SELECT t.try($$SELECT compute.heartbeat_in('q1', t.id('nothing'), 1)$$);
SELECT t.try($$SELECT compute.heartbeat_in(NULL, t.id('q1 a'), 1)$$);

-- finish_job_in: in its queue, given another queue, refused like finish_job.
SELECT status, output_files, attempt FROM compute.finish_job_in('q1', t.id('q1 a'), 'complete', '{out-a}', 1);
SELECT status, error FROM compute.finish_job_in('other', t.id('q1 b'), 'failed', NULL, 1, 'broken');
SELECT t.try($$SELECT compute.finish_job_in('q1', t.id('q1 a'), 'complete', NULL, 1)$$);
SELECT t.try($$SELECT compute.finish_job_in('q1', t.id('q1 c'), 'complete', NULL, 7)$$);
SELECT t.try($$SELECT compute.finish_job_in('q1', t.id('nothing'), 'complete')$$);
SELECT t.try($$SELECT compute.finish_job_in('q1', t.id('q1 c'), 'done')$$);
SELECT t.try($$SELECT compute.finish_job_in('', t.id('q1 c'), 'complete')$$);

-- finish_jobs_in: the batch of one queue, all or none.
SELECT t.try($$SELECT compute.finish_jobs_in('q1', ARRAY[t.id('q1 c'), t.id('q2 a')], 'complete')$$);
SELECT t.try($$SELECT compute.finish_jobs_in('q1', ARRAY[t.id('q1 c'), t.id('q1 c')], 'complete')$$);
SELECT t.try($$SELECT compute.finish_jobs_in('q1', ARRAY[t.id('q1 c'), t.id('q1 d')], 'complete', '{1,2}')$$);
SELECT status FROM compute.jobs WHERE job_id IN (t.id('q1 c'), t.id('q1 d'));
SELECT compute.finish_jobs_in('q1', ARRAY[t.id('q1 c'), t.id('q1 d')], 'complete', '{1,1}');
SELECT compute.finish_jobs_in('q1', '{}', 'complete');
SELECT job_id = t.id('q1 c') AS c, status, attempt FROM compute.jobs WHERE queue = 'q1' ORDER BY job_id;

-- finish_and_grab finishes a job of another queue than the one it grabs.
SELECT count(*) FROM compute.grab_job('q2', 1);
SELECT queue, status, attempt FROM compute.finish_and_grab(t.id('q2 a'), 'complete', 'q1');
SELECT queue, status, attempt FROM compute.finish_and_grab(
    (SELECT job_id FROM compute.grab_job('q2', 1)), 'complete', 'q2');
SELECT queue, status, count(*) FROM compute.jobs GROUP BY 1, 2 ORDER BY 1, 2;

-- Distributed mode needs Citus.
SELECT t.try($$SELECT compute.distribute()$$);
SELECT t.try($$SELECT compute.distribute(0)$$);
