-- Every error of SPEC section 5, with its SQLSTATE, and proof that a failed
-- call changes nothing.
DELETE FROM compute.jobs;
SELECT (compute.submit_job(t.id('queued'), 'q')).status;
SELECT (compute.submit_job(t.id('running'), 'r')).status;
SELECT count(*) FROM compute.grab_job('r');
SELECT (compute.submit_job(t.id('done'), 'd')).status;
SELECT count(*) FROM compute.grab_job('d');
SELECT (compute.finish_job(t.id('done'), 'complete')).status;

SELECT md5(string_agg(j::text, ',' ORDER BY job_id)) AS snapshot FROM compute.jobs j \gset

-- Each call below must fail with the SQLSTATE shown and change nothing.
CREATE TABLE t.bad_calls (n serial, expect text, call text);
INSERT INTO t.bad_calls (expect, call) VALUES
    -- 55000: forbidden transition
    ('55000', $$SELECT compute.finish_job(t.id('queued'), 'complete')$$),
    ('55000', $$SELECT compute.finish_job(t.id('done'), 'failed')$$),
    ('55000', $$SELECT compute.expire_job(t.id('done')) FROM compute.expire_job(t.id('done'))$$),
    ('55000', $$UPDATE compute.jobs SET status = 'complete' WHERE job_id = t.id('queued')$$),
    ('55000', $$UPDATE compute.jobs SET status = 'in-progress' WHERE job_id = t.id('done')$$),
    ('55000', $$INSERT INTO compute.jobs (job_id, status, queue, input_files) VALUES (t.id('new'), 'complete', 'q', '{}')$$),
    ('55000', $$UPDATE compute.jobs SET job_id = t.id('other') WHERE job_id = t.id('queued')$$),
    -- P0002: unknown job where one is required
    ('P0002', $$SELECT compute.finish_job(t.id('nope'), 'complete')$$),
    ('P0002', $$SELECT compute.expire_job(t.id('nope'))$$),
    -- ... with a token too (README's error table; the lease is lost with it)
    ('P0002', $$SELECT compute.finish_job(t.id('nope'), 'complete', NULL, 1)$$),
    ('P0002', $$SELECT compute.heartbeat(t.id('nope'), 1)$$),
    -- 22023: job_id not 16 bytes
    ('22023', $$SELECT compute.submit_job('\x0102', 'q')$$),
    ('22023', $$SELECT compute.finish_job('\x', 'complete')$$),
    ('22023', $$SELECT compute.expire_job(decode(repeat('ab', 17), 'hex'))$$),
    ('22023', $$SELECT compute.get_job('\x01')$$),
    ('22023', $$SELECT compute.queue_position('\x01')$$),
    ('22023', $$SELECT compute.delete_job('\x01')$$),
    -- 22023: unknown status value
    ('22023', $$SELECT compute.finish_job(t.id('running'), 'done')$$),
    ('22023', $$SELECT compute.finish_job(t.id('running'), 'Complete')$$),
    ('22023', $$SELECT compute.finish_job(t.id('running'), 'queued')$$),
    ('22023', $$SELECT compute.finish_job(t.id('running'), 'expired')$$),
    ('22023', $$UPDATE compute.jobs SET status = 'paused' WHERE job_id = t.id('running')$$),
    -- 22023: max_jobs < 1
    ('22023', $$SELECT compute.grab_job('q', 0)$$),
    ('22023', $$SELECT compute.grab_job('q', -5)$$),
    -- 22023: negative interval
    ('22023', $$SELECT compute.expire('-1 second')$$),
    ('22023', $$SELECT compute.expire('1 day -25 hours')$$),
    ('22023', $$SELECT compute.requeue_stale('-1 minute')$$),
    -- 22023: empty queue name, empty file name, two-dimensional file array
    ('22023', $$SELECT compute.submit_job(t.id('new'), '')$$),
    ('22023', $$SELECT compute.submit_job(t.id('new'), 'q', NULL, '{a,""}')$$),
    ('22023', $$SELECT compute.submit_job(t.id('new'), 'q', NULL, '{{a},{b}}')$$),
    ('22023', $$SELECT compute.finish_job(t.id('running'), 'complete', '{""}')$$),
    -- 22001: queue longer than 32 characters
    ('22001', $$SELECT compute.submit_job(t.id('new'), repeat('q', 33))$$),
    ('22001', $$SELECT compute.submit_job(t.id('queued'), repeat('é', 33))$$),
    ('22001', $$SELECT compute.grab_job(repeat('q', 33))$$),
    -- 22004: NULL where a value is required
    ('22004', $$SELECT compute.submit_job(NULL, 'q')$$),
    ('22004', $$SELECT compute.submit_job(t.id('new'), NULL)$$),
    ('22004', $$SELECT compute.submit_job(t.id('new'), 'q', NULL, NULL)$$),
    ('22004', $$SELECT compute.submit_job(t.id('new'), 'q', NULL, '{a,NULL}')$$),
    ('22004', $$SELECT compute.grab_job(NULL)$$),
    ('22004', $$SELECT compute.grab_job('q', NULL)$$),
    ('22004', $$SELECT compute.finish_job(NULL, 'complete')$$),
    ('22004', $$SELECT compute.finish_job(t.id('running'), NULL)$$),
    ('22004', $$SELECT compute.finish_job(t.id('running'), 'complete', '{NULL}')$$),
    ('22004', $$SELECT compute.expire(NULL)$$),
    ('22004', $$SELECT compute.expire_job(NULL)$$),
    ('22004', $$SELECT compute.get_job(NULL)$$),
    ('22004', $$SELECT compute.queue_position(NULL)$$),
    ('22004', $$SELECT compute.requeue_stale(NULL)$$),
    ('22004', $$SELECT compute.delete_job(NULL)$$);

-- Every call fails with the expected SQLSTATE (none listed here otherwise).
SELECT n, expect, t.try(call) AS got, call FROM t.bad_calls
 WHERE split_part(t.try(call), ':', 1) IS DISTINCT FROM expect ORDER BY n;
SELECT count(*) AS bad_calls_tried FROM t.bad_calls;

-- ... and the table is exactly as before.
SELECT md5(string_agg(j::text, ',' ORDER BY job_id)) = :'snapshot' AS unchanged FROM compute.jobs j;

-- The messages name the job in hex and say what was wrong. (The CONTEXT
-- line, which shows compute's internal statement, is hidden.)
\set VERBOSITY default
\set SHOW_CONTEXT never
SELECT compute.finish_job(t.id('queued'), 'complete');
SELECT compute.expire_job(t.id('nope'));
SELECT compute.submit_job('\x0102', 'q');
SELECT compute.finish_job(t.id('running'), 'done');
SELECT compute.finish_job(t.id('running'), 'queued');
SELECT compute.grab_job('q', 0);
SELECT compute.requeue_stale('-1 minute');
SELECT compute.submit_job(t.id('new'), repeat('q', 33));
SELECT compute.submit_job(t.id('new'), 'q', NULL, '{a,NULL}');
SELECT compute.grab_job(NULL);
UPDATE compute.jobs SET status = 'paused' WHERE job_id = t.id('running');
-- ... the batch checks of finish_jobs name its first job, as submit_jobs'
-- do; a plain INSERT or UPDATE names the job of the row it refuses.
SELECT compute.finish_jobs(ARRAY[t.id('running')], 'complete', '{1,2}');
SELECT compute.finish_jobs(ARRAY[[t.id('running')]], 'complete');
SELECT compute.submit_jobs(ARRAY[t.id('new')], 'q', '{a,b}');
INSERT INTO compute.jobs (job_id, status, queue) VALUES (t.id('new'), 'queued', '');

-- The SQLSTATEs themselves, as a client sees them.
\set VERBOSITY sqlstate
SELECT compute.finish_job(t.id('queued'), 'complete');
SELECT compute.expire_job(t.id('nope'));
SELECT compute.get_job('\x01');
SELECT compute.submit_job(t.id('new'), repeat('q', 33));
SELECT compute.delete_job(NULL);
\set VERBOSITY default

-- A message that quotes long multi-byte input is cut on a character
-- boundary: it stays valid UTF-8 (PL/pgSQL can handle it).
SELECT length(convert_to(t.try($$SELECT compute.submit_job(t.id('new'), repeat('é', 1000))$$), 'UTF8')) > 1000
       AS long_message_is_valid_utf8;

-- Intervals too large for now() - interval: nothing is that old.
SELECT compute.expire('100000000 years') AS expired, compute.requeue_stale('100000000 years') AS requeued;
SELECT count(*) FILTER (WHERE status = 'in-progress') AS still_in_progress FROM compute.jobs;

-- The queue-name rule of the functions holds for plain SQL too.
SELECT t.try($$INSERT INTO compute.jobs (job_id, status, queue) VALUES (t.id('empty'), 'queued', '')$$);
SELECT t.try($$UPDATE compute.jobs SET queue = '' WHERE job_id = t.id('queued')$$);

-- Calling the trigger function directly is refused, without crashing.
SELECT t.try('SELECT compute._jobs_guard()');
