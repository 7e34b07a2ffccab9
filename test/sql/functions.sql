-- Each function of SPEC section 4: normal and edge cases.

-- submit_job creates a queued job with the given fields.
SELECT encode(job_id, 'hex') AS job, status, queue, config, input_files,
       created = now() AS created_now, last_accessed = now() AS accessed_now,
       grabbed, finished, output_files
  FROM compute.submit_job(t.id('a'), 'render', '{"frames": 10}', '{scene.blend,tex.png}');
-- Defaults: no config, no input files.
SELECT status, config, input_files FROM compute.submit_job(t.id('b'), 'render');
-- A queue name of exactly 32 characters, multi-byte ones counted as one each.
SELECT queue FROM compute.submit_job(t.id('q32'), repeat('é', 32));

-- Dedupe by hash: a queued job is returned unchanged, last_accessed touched.
UPDATE compute.jobs SET last_accessed = now() - interval '1 hour' WHERE job_id = t.id('a');
SELECT status, queue, config, input_files, last_accessed = now() AS touched
  FROM compute.submit_job(t.id('a'), 'other', 'other config', '{other}');
SELECT count(*) FROM compute.jobs WHERE job_id = t.id('a');

-- grab_job: an empty or unknown queue returns no rows.
SELECT count(*) FROM compute.grab_job('nothing-here');
-- Oldest first (by created, then job_id), only from the named queue.
INSERT INTO compute.jobs (job_id, status, queue, input_files, created)
SELECT t.id('fifo' || i), 'queued', 'fifo', '{}', now() - (10 - i) * interval '1 minute'
  FROM generate_series(1, 5) i;
SELECT (compute.submit_job(t.id('other-queue'), 'fifo2')).status;
SELECT encode(job_id, 'hex') = encode(t.id('fifo1'), 'hex') AS is_fifo1, status,
       grabbed = now() AS grabbed_now, finished
  FROM compute.grab_job('fifo');
-- max_jobs takes several, in order.
SELECT array_agg(j ORDER BY j) = ARRAY['fifo2', 'fifo3', 'fifo4'] AS oldest_three
  FROM (SELECT (SELECT 'fifo' || i FROM generate_series(1, 5) i WHERE t.id('fifo' || i) = g.job_id) AS j
          FROM compute.grab_job('fifo', 3) g) s;
-- More than there are: the rest.
SELECT count(*) AS rest FROM compute.grab_job('fifo', 100);
SELECT count(*) AS none_left FROM compute.grab_job('fifo', 100);
SELECT status FROM compute.jobs WHERE job_id = t.id('other-queue');

-- queue_position: jobs ahead in the same queue; NULL unless queued.
INSERT INTO compute.jobs (job_id, status, queue, input_files, created)
SELECT t.id('pos' || i), 'queued', 'pos', '{}', now() - (10 - i) * interval '1 minute'
  FROM generate_series(1, 4) i;
SELECT i, compute.queue_position(t.id('pos' || i)) FROM generate_series(1, 4) i;
SELECT count(*) FROM compute.grab_job('pos');
SELECT i, compute.queue_position(t.id('pos' || i)) FROM generate_series(1, 4) i;
SELECT compute.queue_position(t.id('unknown')) AS unknown;

-- finish_job: complete with output files, or failed.
SELECT status, output_files, finished = now() AS finished_now, grabbed IS NOT NULL AS grabbed
  FROM compute.finish_job(t.id('fifo1'), 'complete', '{out.exr,log.txt}');
SELECT status, output_files, finished = now() AS finished_now
  FROM compute.finish_job(t.id('fifo2'), 'failed');
SELECT status, output_files FROM compute.finish_job(t.id('fifo3'), 'complete', '{}');

-- submit_job of a complete job returns it unchanged (the cached result).
SELECT status, output_files, queue FROM compute.submit_job(t.id('fifo1'), 'elsewhere');
-- submit_job of a failed job resubmits it: queued again with the new queue,
-- config and inputs, run fields cleared, created kept.
SELECT created AS fifo2_created FROM compute.jobs WHERE job_id = t.id('fifo2') \gset
SELECT status, queue, config, input_files, grabbed, finished, output_files,
       created = :'fifo2_created' AS kept_created
  FROM compute.submit_job(t.id('fifo2'), 'retry', 'new config', '{new.in}');
-- The resubmitted job keeps its place: it is the oldest of its new queue.
SELECT (compute.submit_job(t.id('newer'), 'retry')).status;
SELECT encode(job_id, 'hex') = encode(t.id('fifo2'), 'hex') AS resubmitted_first FROM compute.grab_job('retry');

-- get_job: the job, touching last_accessed; NULL when unknown.
UPDATE compute.jobs SET last_accessed = now() - interval '1 day' WHERE job_id = t.id('fifo1');
SELECT status, last_accessed = now() AS touched FROM compute.get_job(t.id('fifo1'));
SELECT compute.get_job(t.id('unknown')) IS NULL AS unknown_is_null;

-- expire: complete jobs not accessed for older_than; returns how many.
UPDATE compute.jobs SET last_accessed = now() - interval '40 days' WHERE job_id IN (t.id('fifo1'), t.id('fifo3'));
UPDATE compute.jobs SET last_accessed = now() - interval '40 days' WHERE job_id = t.id('fifo4'); -- in-progress
SELECT compute.expire() AS expired_default_30_days;
SELECT compute.expire() AS again_none;
SELECT job, status FROM (VALUES ('fifo1'), ('fifo3'), ('fifo4')) v(job)
  JOIN compute.jobs ON job_id = t.id(job) ORDER BY job;
SELECT (compute.finish_job(t.id('fifo4'), 'complete')).status;
-- Finishing is no access: fifo4 was last accessed 40 days ago.
SELECT compute.expire('41 days') AS not_old_enough, compute.expire('39 days') AS old_enough;
SELECT (compute.submit_job(t.id('fifo4'), 'fifo')).status AS resubmitted;
SELECT count(*) FROM compute.grab_job('fifo');
SELECT (compute.finish_job(t.id('fifo4'), 'complete')).status;
UPDATE compute.jobs SET last_accessed = now() - interval '10 minutes' WHERE job_id = t.id('fifo4');
SELECT compute.expire('1 hour') AS recent_kept, compute.expire('5 minutes') AS older_expired;
SELECT count(*) FILTER (WHERE status = 'complete') AS complete_left FROM compute.jobs;
-- An expired job is resubmitted by submit_job.
SELECT status, output_files FROM compute.submit_job(t.id('fifo1'), 'fifo');

-- expire_job: one job, from queued, in-progress or complete.
SELECT status FROM compute.expire_job(t.id('b'));
SELECT status, finished FROM compute.expire_job(t.id('fifo5'));

-- requeue_stale: in-progress jobs grabbed before now() - older_than.
SELECT (compute.submit_job(t.id('stale' || i), 'stale')).status FROM generate_series(1, 3) i;
SELECT count(*) FROM compute.grab_job('stale', 3);
UPDATE compute.jobs SET grabbed = now() - interval '2 hours' WHERE job_id IN (t.id('stale1'), t.id('stale2'));
SELECT compute.requeue_stale('1 hour') AS requeued;
SELECT job, status, grabbed IS NULL AS grabbed_cleared FROM (VALUES ('stale1'), ('stale2'), ('stale3')) v(job)
  JOIN compute.jobs ON job_id = t.id(job) ORDER BY job;
SELECT compute.requeue_stale('0 seconds') AS requeued_rest;

-- delete_job: true once, then false.
SELECT compute.delete_job(t.id('stale1')) AS deleted, compute.delete_job(t.id('stale1')) AS again;
SELECT compute.get_job(t.id('stale1')) IS NULL AS gone;

-- Functions work whatever the caller's search_path.
SET search_path = pg_temp;
SELECT status FROM compute.submit_job(t.id('path'), 'path');
SELECT count(*) FROM compute.grab_job('path');
RESET search_path;

-- Large configs (toasted) come back whole.
SELECT length(config) FROM compute.submit_job(t.id('big'), 'big', repeat('x', 100000));
SELECT length(config) FROM compute.grab_job('big');
SELECT length(config) FROM compute.get_job(t.id('big'));
