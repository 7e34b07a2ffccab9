-- Leases with fencing (1.1.0): attempts, heartbeats, fenced finishes,
-- lease-based requeue_stale() and the crash-loop guard, through the
-- functions and through plain SQL.
DELETE FROM compute.jobs;
\set SHOW_CONTEXT never

-- t.expire_lease(name): make a job's lease run out, without waiting.
CREATE FUNCTION t.expire_lease(name text) RETURNS void LANGUAGE sql AS $$
    UPDATE compute.jobs SET lease_expires = now() - interval '1 second' WHERE job_id = t.id(name)
$$;
-- t.row(name): the columns of a job that these tests look at.
CREATE FUNCTION t.row(name text, OUT status text, OUT attempt int, OUT lease interval, OUT has_lease boolean,
                      OUT lost_leases int, OUT error text)
    LANGUAGE sql AS $$
    SELECT status, attempt, lease, lease_expires > now(), lost_leases, error FROM compute.jobs WHERE job_id = t.id(name)
$$;

-- A new job is at attempt 0, with no lease.
SELECT status, attempt, lease_expires, lease, lost_leases, error FROM compute.submit_job(t.id('a'), 'lease');
-- Each grab starts an attempt: attempt + 1, lease_expires = grabbed + lease.
SELECT status, attempt, lease, lease_expires - grabbed AS lease_left FROM compute.grab_job('lease');
SELECT (compute.submit_job(t.id('b'), 'lease')).status;
SELECT status, attempt, lease, lease_expires - grabbed AS lease_left FROM compute.grab_job('lease', 1, '30 seconds');

-- heartbeat extends the lease: by `extend`, which becomes the lease, or by
-- the lease the job has.
SELECT status, attempt, lease, lease_expires - now() AS lease_left FROM compute.heartbeat(t.id('b'), 1, '2 minutes');
SELECT status, attempt, lease, lease_expires - now() AS lease_left FROM compute.heartbeat(t.id('b'), 1);

-- A finish with the current attempt is accepted; the lease is gone.
SELECT status, attempt, lease_expires, lease FROM compute.finish_job(t.id('b'), 'complete', '{b.out}', 1);

-- The job's leases run out; requeue_stale() takes only expired leases.
SELECT (compute.submit_job(t.id('c'), 'lease')).status;
SELECT count(*) FROM compute.grab_job('lease');
SELECT t.expire_lease('a');
SELECT compute.requeue_stale() AS requeued;
SELECT * FROM t.row('a');
SELECT * FROM t.row('c');

-- The worker of attempt 1 has lost its lease: finish and heartbeat with its
-- token are refused (55000), and the job is unchanged.
SELECT md5(j::text) AS before FROM compute.jobs j WHERE job_id = t.id('a') \gset
SELECT compute.finish_job(t.id('a'), 'complete', NULL, 1);
SELECT compute.heartbeat(t.id('a'), 1);
-- A second worker grabs it (attempt 2); the first worker still cannot
-- finish, the second can.
SELECT md5(j::text) = :'before' AS unchanged FROM compute.jobs j WHERE job_id = t.id('a');
SELECT encode(job_id, 'hex') = encode(t.id('a'), 'hex') AS same_job, attempt FROM compute.grab_job('lease');
SELECT compute.finish_job(t.id('a'), 'complete', '{stale.out}', 1);
SELECT compute.heartbeat(t.id('a'), 1);
SELECT status, attempt, output_files FROM compute.finish_job(t.id('a'), 'complete', '{a.out}', 2);
-- Once finished, even the last attempt's token is refused.
SELECT compute.finish_job(t.id('a'), 'failed', NULL, 2);
SELECT compute.heartbeat(t.id('a'), 2);

-- An expired or deleted job: the lease is lost too. Without a token, the
-- SPEC's own errors stand (55000 forbidden transition, P0002 unknown job).
SELECT (compute.expire_job(t.id('c'))).status;
SELECT compute.finish_job(t.id('c'), 'complete', NULL, 1);
SELECT compute.finish_job(t.id('c'), 'complete');
SELECT (compute.submit_job(t.id('d'), 'lease')).status;
SELECT attempt FROM compute.grab_job('lease');
SELECT compute.delete_job(t.id('d'));
SELECT compute.finish_job(t.id('d'), 'complete', NULL, 1);
SELECT compute.heartbeat(t.id('d'), 1);
SELECT compute.finish_job(t.id('d'), 'complete');

-- The token-less finish keeps working for clients that do not use leases.
SELECT (compute.submit_job(t.id('e'), 'lease')).status;
SELECT attempt FROM compute.grab_job('lease');
SELECT status, attempt FROM compute.finish_job(t.id('e'), 'complete');

-- A failed finish can record why; a complete one cannot.
SELECT (compute.submit_job(t.id('f'), 'lease')).status;
SELECT attempt FROM compute.grab_job('lease');
SELECT compute.finish_job(t.id('f'), 'complete', NULL, 1, 'not an error');
SELECT status, error FROM compute.finish_job(t.id('f'), 'failed', NULL, 1, 'out of memory on node 7');
-- Resubmitting clears the error, keeps the attempt count (tokens never
-- repeat) and starts a new budget of lost leases.
SELECT status, attempt, error, lost_leases FROM compute.submit_job(t.id('f'), 'lease');

-- The crash-loop guard: a job that loses compute.max_attempts leases since
-- it was submitted fails instead of going back to the queue.
SHOW compute.max_attempts;
SET compute.max_attempts = 3;
SELECT (compute.submit_job(t.id('poison'), 'poison')).status;
DO $$
BEGIN
    FOR i IN 1..3 LOOP
        PERFORM compute.grab_job('poison', 1, '1 minute');
        PERFORM t.expire_lease('poison');
        RAISE NOTICE 'lease % lost: requeue_stale() = %', i, compute.requeue_stale();
    END LOOP;
END $$;
SELECT status, attempt, lost_leases, error, finished IS NOT NULL AS finished, lease_expires
  FROM compute.jobs WHERE job_id = t.id('poison');
-- A resubmission gets a new budget.
SELECT status, attempt, lost_leases, error FROM compute.submit_job(t.id('poison'), 'poison');
SELECT attempt FROM compute.grab_job('poison');
SELECT t.expire_lease('poison');
SELECT compute.requeue_stale() AS requeued;
SELECT * FROM t.row('poison');
-- The setting is per session (and per role or database, like any setting).
RESET compute.max_attempts;
SHOW compute.max_attempts;
SET compute.max_attempts = 0;
ALTER ROLE CURRENT_USER SET compute.max_attempts = 2;
\c
SHOW compute.max_attempts;
ALTER ROLE CURRENT_USER RESET compute.max_attempts;
\c
-- (The setting exists once the library is loaded: at the first call of a
-- compute function, or at connection with session_preload_libraries.)
LOAD 'compute';
SHOW compute.max_attempts;
\set SHOW_CONTEXT never

-- requeue_stale(interval) keeps its SPEC meaning: by grab time, always
-- back to the queue, no lost lease counted.
SELECT attempt FROM compute.grab_job('poison');
SELECT compute.requeue_stale('0 seconds') AS requeued;
SELECT * FROM t.row('poison');

-- Plain SQL: the same rules.
SELECT (compute.submit_job(t.id('sql'), 'sql')).status;
-- A plain grab starts an attempt with the default lease of 5 minutes.
UPDATE compute.jobs SET status = 'in-progress' WHERE job_id = t.id('sql');
SELECT * FROM t.row('sql');
-- A plain heartbeat may move lease_expires of an in-progress job.
UPDATE compute.jobs SET lease_expires = now() + interval '1 hour' WHERE job_id = t.id('sql');
SELECT lease_expires - now() > interval '59 minutes' AS extended FROM compute.jobs WHERE job_id = t.id('sql');
-- Naming attempt is presenting a token: a wrong one is refused, and attempt
-- itself never changes by hand.
SELECT t.try($$UPDATE compute.jobs SET status = 'complete', attempt = 7 WHERE job_id = t.id('sql')$$);
SELECT t.try($$UPDATE compute.jobs SET attempt = attempt + 1 WHERE job_id = t.id('sql')$$);
SELECT t.try($$UPDATE compute.jobs SET status = 'complete', attempt = 1 WHERE job_id = t.id('sql')$$);
SELECT * FROM t.row('sql');
-- A finished job holds no lease, whatever an UPDATE says; nor does a
-- queued one. A requeue by hand keeps the lost-lease count.
UPDATE compute.jobs SET lease_expires = now() + interval '1 hour', lease = '1 hour' WHERE job_id = t.id('sql');
SELECT * FROM t.row('sql');
UPDATE compute.jobs SET status = 'queued' WHERE job_id = t.id('sql');
UPDATE compute.jobs SET lost_leases = 1 WHERE job_id = t.id('sql');
UPDATE compute.jobs SET status = 'in-progress' WHERE job_id = t.id('sql');
UPDATE compute.jobs SET status = 'queued' WHERE job_id = t.id('sql');
SELECT * FROM t.row('sql');
-- lost_leases cannot go negative.
SELECT t.try($$UPDATE compute.jobs SET lost_leases = -1 WHERE job_id = t.id('sql')$$);

-- An INSERT starts at attempt 0, whatever it says.
INSERT INTO compute.jobs (job_id, status, queue, attempt, lost_leases, lease_expires)
VALUES (t.id('inserted'), 'queued', 'sql', 42, 9, now());
SELECT * FROM t.row('inserted');

-- finish_jobs: a batch in one statement, all or none.
INSERT INTO compute.jobs (job_id, status, queue, created)
SELECT t.id('batch' || i), 'queued', 'batch', now() - (10 - i) * interval '1 minute' FROM generate_series(1, 5) i;
SELECT count(*) FROM compute.grab_job('batch', 4);
SELECT compute.finish_jobs(ARRAY[t.id('batch1'), t.id('batch2')], 'complete') AS finished;
SELECT compute.finish_jobs(ARRAY[t.id('batch3'), t.id('batch4')], 'failed', ARRAY[1, 1]) AS finished;
SELECT job, status, finished IS NOT NULL AS has_finished, lease_expires FROM (VALUES ('batch1'), ('batch2'), ('batch3'), ('batch4'), ('batch5')) v(job)
  JOIN compute.jobs ON job_id = t.id(job) ORDER BY job;
SELECT compute.finish_jobs('{}', 'complete') AS none;
-- One job that cannot finish, and none does.
SELECT count(*) FROM compute.grab_job('batch', 1);
SELECT md5(string_agg(j::text, ',' ORDER BY job_id)) AS before FROM compute.jobs j \gset
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5'), t.id('batch1')], 'complete')$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5'), t.id('nope')], 'complete')$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5'), t.id('nope')], 'complete', ARRAY[1, 1])$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5')], 'complete', ARRAY[2])$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5'), t.id('batch5')], 'complete')$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5')], 'complete', ARRAY[1, 2])$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5')], 'complete', ARRAY[NULL]::int[])$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5'), NULL], 'complete')$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY['\x01'::bytea], 'complete')$$);
SELECT t.try($$SELECT compute.finish_jobs(NULL, 'complete')$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('batch5')], 'queued')$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[ARRAY[t.id('batch5')]], 'complete')$$);
SELECT md5(string_agg(j::text, ',' ORDER BY job_id)) = :'before' AS unchanged FROM compute.jobs j;
SELECT compute.finish_jobs(ARRAY[t.id('batch5')], 'complete', ARRAY[1]) AS finished;

-- Bad lease arguments.
SELECT t.try($$SELECT compute.grab_job('lease', 1, NULL)$$);
SELECT t.try($$SELECT compute.grab_job('lease', 1, '0 seconds')$$);
SELECT t.try($$SELECT compute.grab_job('lease', 1, '-1 minute')$$);
SELECT t.try($$SELECT compute.heartbeat(t.id('a'), NULL)$$);
SELECT t.try($$SELECT compute.heartbeat(t.id('a'), 2, '0 seconds')$$);
SELECT t.try($$SELECT compute.heartbeat('\x01', 2)$$);
SELECT t.try($$SELECT compute.heartbeat(NULL, 2)$$);
