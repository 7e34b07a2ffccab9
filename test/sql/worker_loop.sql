-- The worker's loop in one call per job (1.2.0): finish_and_grab finishes a
-- job exactly as finish_job does and grabs as grab_job does, in one
-- statement; grab_job's wait. (The wake-ups of waiting grabs by other
-- sessions' commits are tested by scripts/check-wait.sh.)
DELETE FROM compute.jobs;
\set SHOW_CONTEXT never
CREATE FUNCTION t.names(ids bytea[]) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(n, ' ' ORDER BY o), '-')
      FROM unnest(ids) WITH ORDINALITY AS u(id, o),
           LATERAL (SELECT 'w' || i AS n FROM generate_series(1, 9) i WHERE t.id('w' || i) = u.id) x
$$;
INSERT INTO compute.jobs (job_id, status, queue, created)
SELECT t.id('w' || i), 'queued', 'loop', now() - (10 - i) * interval '1 minute' FROM generate_series(1, 6) i;

-- First grab, then finish and grab the next, fenced, with output files.
SELECT t.names(array_agg(job_id)), min(attempt) FROM compute.grab_job('loop');
SELECT t.names(array_agg(job_id)), min(attempt), min(lease) FROM compute.finish_and_grab(t.id('w1'), 'complete', 'loop', '{out1}', 1, lease => '1 minute');
SELECT status, output_files, attempt FROM compute.jobs WHERE job_id = t.id('w1');
-- Unfenced, failed with an error, two next jobs.
SELECT t.names(array_agg(job_id)) FROM compute.finish_and_grab(t.id('w2'), 'failed', 'loop', error => 'broken', max_jobs => 2);
SELECT status, error FROM compute.jobs WHERE job_id = t.id('w2');
-- Output files recorded while running are kept by a finish that names none.
UPDATE compute.jobs SET output_files = '{early}' WHERE job_id = t.id('w3');
SELECT t.names(array_agg(job_id)) FROM compute.finish_and_grab(t.id('w3'), 'complete', 'loop', attempt => 1);
SELECT status, output_files FROM compute.jobs WHERE job_id = t.id('w3');

-- A refused finish grabs nothing and changes nothing: a stale token, a job
-- finished already, an unknown job, a bad argument of either part.
SELECT t.try($$SELECT compute.finish_and_grab(t.id('w4'), 'complete', 'loop', NULL, 7)$$);
SELECT t.try($$SELECT compute.finish_and_grab(t.id('w1'), 'complete', 'loop')$$);
SELECT t.try($$SELECT compute.finish_and_grab(t.id('nope'), 'complete', 'loop')$$);
SELECT t.try($$SELECT compute.finish_and_grab(t.id('w4'), 'queued', 'loop')$$);
SELECT t.try($$SELECT compute.finish_and_grab(t.id('w4'), 'complete', NULL)$$);
SELECT t.try($$SELECT compute.finish_and_grab(t.id('w4'), 'complete', 'loop', max_jobs => 0)$$);
SELECT t.try($$SELECT compute.finish_and_grab(t.id('w4'), 'complete', 'loop', lease => '-1 minute')$$);
SELECT t.try($$SELECT compute.finish_and_grab(t.id('w4'), 'complete', 'loop', wait => '-1 second')$$);
SELECT t.try($$SELECT compute.finish_and_grab(t.id('w4'), 'complete', 'loop', '{""}')$$);
SELECT t.names(array_agg(job_id ORDER BY created)), string_agg(DISTINCT status, ',') FROM compute.jobs WHERE status <> 'complete' AND status <> 'failed';

-- With no next job, the finish stands and nothing is grabbed; the last one
-- waits a little for a job that never comes.
SELECT t.names(array_agg(job_id)) FROM compute.finish_and_grab(t.id('w4'), 'complete', 'loop');
SELECT t.names(array_agg(job_id)) FROM compute.finish_and_grab(t.id('w5'), 'complete', 'loop');
SELECT t.names(array_agg(job_id)) FROM compute.finish_and_grab(t.id('w6'), 'complete', 'loop', wait => '200 ms');
SELECT status, count(*) FROM compute.jobs GROUP BY status ORDER BY status;

-- grab_job's wait: checked like any interval; an empty queue returns no
-- rows once the wait has passed; a job present is taken at once.
SELECT t.try($$SELECT compute.grab_job('loop', 1, '1 minute', NULL)$$);
SELECT t.try($$SELECT compute.grab_job('loop', 1, '1 minute', '-1 second')$$);
SELECT count(*) FROM compute.grab_job('loop', 1, '1 minute', '300 ms');
SELECT status FROM compute.submit_job(t.id('w7'), 'loop');
SELECT t.names(array_agg(job_id)) FROM compute.grab_job('loop', 1, '1 minute', '1 hour');
-- A statement_timeout ends a wait with 57014 and changes nothing.
SET statement_timeout = '300ms';
SELECT count(*) FROM compute.grab_job('loop', 1, '1 minute', '1 hour');
RESET statement_timeout;
SELECT status, count(*) FROM compute.jobs GROUP BY status ORDER BY status;

-- submit_jobs: submit_job's rules for each job, in one statement, all or
-- nothing: a new job is queued, a queued/in-progress/complete one returned
-- as it is (dedupe), a failed or expired one resubmitted.
SELECT status FROM compute.submit_job(t.id('s1'), 'subs');
SELECT count(*) FROM compute.grab_job('subs');
SELECT status FROM compute.finish_job(t.id('s1'), 'failed');
SELECT status FROM compute.submit_job(t.id('s2'), 'subs');
SELECT array_agg(job_id) = ARRAY[t.id('s1'), t.id('s2'), t.id('s3')] AS in_order, string_agg(status, ',') AS statuses, string_agg(coalesce(config, '-'), ',') AS configs
  FROM compute.submit_jobs(ARRAY[t.id('s1'), t.id('s2'), t.id('s3')], 'subs', ARRAY['c1', 'c2', NULL], '{in.txt}');
SELECT t.try($$SELECT compute.submit_jobs(ARRAY[t.id('s4'), t.id('s5')], 'subs', ARRAY['only one'])$$);
SELECT t.try($$SELECT compute.submit_jobs(ARRAY[t.id('s4'), NULL], 'subs')$$);
SELECT t.try($$SELECT compute.submit_jobs(ARRAY[t.id('s4'), '\x01'], 'subs')$$);
SELECT t.try($$SELECT compute.submit_jobs(ARRAY[t.id('s4')], repeat('q', 33))$$);
SELECT t.try($$SELECT compute.submit_jobs(ARRAY[t.id('s4')], 'subs', NULL, '{""}')$$);
SELECT t.try($$SELECT compute.submit_jobs(NULL, 'subs')$$);
SELECT count(*) AS none_of_s4 FROM compute.jobs WHERE job_id = t.id('s4');
SELECT count(*) FROM compute.submit_jobs('{}', 'subs');

-- wait_job: a finished job at once, an unfinished one as it stands once the
-- timeout has passed, an unknown one P0002. (Woken by the finishing commit
-- of another session: scripts/check-wait.sh.)
SELECT status FROM compute.wait_job(t.id('w1'), '1 hour');
SELECT status FROM compute.wait_job(t.id('s3'), '100 ms');
SELECT t.try($$SELECT compute.wait_job(t.id('nope'))$$);
SELECT t.try($$SELECT compute.wait_job(t.id('s3'), '-1 second')$$);
SELECT compute.queue_channel('subs'), length(compute.queue_channel(repeat('é', 32)));
