-- Version 1.2.0: the platform's own statements (issue 8) and the promises
-- that 1.1.0 did not keep on every path (issue 14).
DELETE FROM compute.jobs;
\set SHOW_CONTEXT never

-- t.job(name): the columns these tests look at.
CREATE FUNCTION t.job(name text, OUT status text, OUT attempt int, OUT output_files varchar[], OUT has_finished boolean)
    LANGUAGE sql AS $$
    SELECT status, attempt, output_files, finished IS NOT NULL FROM compute.jobs WHERE job_id = t.id(name)
$$;

-- 1. Output files are recorded while the job runs, as the platform does
-- (SetJobOutputFiles), and kept by a finish that names none.
SELECT status FROM compute.submit_job(t.id('out'), 'p');
SELECT count(*) FROM compute.grab_job('p');
UPDATE compute.jobs SET output_files = ARRAY['a.txt', 'b.txt'] WHERE job_id = t.id('out');
SELECT * FROM t.job('out');
UPDATE compute.jobs SET status = 'complete', finished = now() WHERE job_id = t.id('out');
SELECT * FROM t.job('out');
-- finish_job without output files keeps them; with an array replaces them.
SELECT status FROM compute.submit_job(t.id('out2'), 'p');
SELECT count(*) FROM compute.grab_job('p');
UPDATE compute.jobs SET output_files = '{early}' WHERE job_id = t.id('out2');
SELECT status, output_files FROM compute.finish_job(t.id('out2'), 'failed');
SELECT status FROM compute.submit_job(t.id('out3'), 'p');
SELECT count(*) FROM compute.grab_job('p');
UPDATE compute.jobs SET output_files = '{early}' WHERE job_id = t.id('out3');
SELECT status, output_files FROM compute.finish_job(t.id('out3'), 'complete', output_files => NULL, attempt => 1);
SELECT status FROM compute.submit_job(t.id('out4'), 'p');
SELECT count(*) FROM compute.grab_job('p');
UPDATE compute.jobs SET output_files = '{early}' WHERE job_id = t.id('out4');
SELECT status, output_files FROM compute.finish_job(t.id('out4'), 'complete', '{final}');
-- finish_jobs keeps them too; entering queued still clears them.
SELECT status FROM compute.submit_job(t.id('out5'), 'p');
SELECT count(*) FROM compute.grab_job('p');
UPDATE compute.jobs SET output_files = '{early}' WHERE job_id = t.id('out5');
SELECT compute.finish_jobs(ARRAY[t.id('out5')], 'complete');
SELECT * FROM t.job('out5');
SELECT status FROM compute.submit_job(t.id('out6'), 'p');
SELECT count(*) FROM compute.grab_job('p');
UPDATE compute.jobs SET output_files = '{partial}' WHERE job_id = t.id('out6');
UPDATE compute.jobs SET status = 'queued' WHERE job_id = t.id('out6');
SELECT * FROM t.job('out6');

-- 2. A failed job can be expired (the platform's expireJob), by plain SQL
-- and by expire_job; expire(older_than) still expires complete jobs only.
UPDATE compute.jobs SET status = 'expired' WHERE job_id = t.id('out2');
SELECT status FROM compute.jobs WHERE job_id = t.id('out2');
SELECT status FROM compute.submit_job(t.id('fail2'), 'p2');
SELECT count(*) FROM compute.grab_job('p2');
SELECT status FROM compute.finish_job(t.id('fail2'), 'failed', NULL, NULL, 'broken');
SELECT compute.expire('0 seconds') AS expired_by_age;
SELECT status FROM compute.jobs WHERE job_id = t.id('fail2');
SELECT status, error FROM compute.expire_job(t.id('fail2'));
SELECT t.try($$SELECT compute.expire_job(t.id('fail2'))$$);

-- 3. Every message names the job when one was given.
SELECT t.try($$SELECT compute.finish_job(t.id('out'), NULL)$$);
SELECT t.try($$SELECT compute.finish_job(t.id('out'), 'complete', '{""}')$$);
SELECT t.try($$SELECT compute.submit_job(t.id('out'), NULL)$$);
SELECT t.try($$SELECT compute.heartbeat(t.id('out'), 1, '-1 minute')$$);

-- 4. Fencing tokens never repeat for a job id: not after delete_job and a
-- new submission, not after a plain DELETE and INSERT, not after TRUNCATE.
SELECT status FROM compute.submit_job(t.id('tok'), 'tok');
SELECT job_id = t.id('tok') AS mine, attempt FROM compute.grab_job('tok');
SELECT compute.delete_job(t.id('tok'));
SELECT attempt FROM compute.submit_job(t.id('tok'), 'tok');
SELECT attempt FROM compute.grab_job('tok');
SELECT t.try($$SELECT compute.finish_job(t.id('tok'), 'complete', NULL, 1)$$);
SELECT status, attempt FROM compute.finish_job(t.id('tok'), 'complete', NULL, 2);
DELETE FROM compute.jobs WHERE job_id = t.id('tok');
INSERT INTO compute.jobs (job_id, status, queue, attempt) VALUES (t.id('tok'), 'queued', 'tok', 0);
SELECT attempt FROM compute.jobs WHERE job_id = t.id('tok');
SELECT attempt FROM compute.grab_job('tok');
TRUNCATE compute.jobs;
SELECT attempt FROM compute.submit_job(t.id('tok'), 'tok');
SELECT attempt FROM compute.grab_job('tok');
SELECT attempt FROM compute.retired_attempts WHERE job_id = t.id('tok');
-- A role that may delete jobs needs no privilege on retired_attempts.
CREATE ROLE promises_deleter;
GRANT USAGE ON SCHEMA compute, t TO promises_deleter;
GRANT SELECT, DELETE ON compute.jobs TO promises_deleter;
GRANT EXECUTE ON FUNCTION t.id(text) TO promises_deleter;
SET ROLE promises_deleter;
DELETE FROM compute.jobs WHERE job_id = t.id('tok');
RESET ROLE;
SELECT attempt FROM compute.retired_attempts WHERE job_id = t.id('tok');
SELECT attempt FROM compute.submit_job(t.id('tok'), 'tok');

-- 5. A BEFORE ROW trigger that would fire after the check (and could
-- rewrite the row after it) makes every write fail; one that fires before
-- it is checked like any client.
CREATE FUNCTION t.rewrite() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.status := 'complete';
    NEW.attempt := 99;
    RETURN NEW;
END $$;
CREATE TRIGGER zz_after_guard BEFORE UPDATE ON compute.jobs FOR EACH ROW EXECUTE FUNCTION t.rewrite();
SELECT t.try($$UPDATE compute.jobs SET config = 'x' WHERE job_id = t.id('tok')$$);
DROP TRIGGER zz_after_guard ON compute.jobs;
CREATE TRIGGER aa_before_guard BEFORE UPDATE ON compute.jobs FOR EACH ROW EXECUTE FUNCTION t.rewrite();
SELECT t.try($$UPDATE compute.jobs SET config = 'x' WHERE job_id = t.id('tok')$$);
DROP TRIGGER aa_before_guard ON compute.jobs;
-- The same from a role that is granted only TRIGGER and UPDATE on the table
-- (issue 14, item 6: "whatever a role is granted").
CREATE ROLE promises_trigger;
GRANT USAGE ON SCHEMA compute, t TO promises_trigger;
GRANT TRIGGER, SELECT, UPDATE ON compute.jobs TO promises_trigger;
GRANT EXECUTE ON FUNCTION t.id(text), t.try(text), t.rewrite() TO promises_trigger;
SET ROLE promises_trigger;
CREATE TRIGGER zz_role_after_guard BEFORE UPDATE ON compute.jobs FOR EACH ROW EXECUTE FUNCTION t.rewrite();
SELECT t.try($$UPDATE compute.jobs SET config = 'x' WHERE job_id = t.id('tok')$$);
RESET ROLE;
DROP TRIGGER zz_role_after_guard ON compute.jobs;  -- (dropping takes the owner)
SELECT status, attempt FROM compute.jobs WHERE job_id = t.id('tok');

-- 6. heartbeat(job, attempt) without extend extends by the grab's lease,
-- whatever extensions came before.
SELECT status FROM compute.submit_job(t.id('hb'), 'hb');
SELECT lease FROM compute.grab_job('hb', 1, '1 minute');
SELECT lease, lease_expires - now() AS left FROM compute.heartbeat(t.id('hb'), 1, '1 hour');
SELECT lease, lease_expires - now() AS left FROM compute.heartbeat(t.id('hb'), 1);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('hb'), t.id('hb')], 'failed')$$);

-- 7. Leases: the same rules through plain SQL as through the functions,
-- judged by the arithmetic that sets the expiry.
SELECT status FROM compute.submit_job(t.id('lease'), 'lease');
SELECT t.try($$UPDATE compute.jobs SET status = 'in-progress', lease = '-1 hour' WHERE job_id = t.id('lease')$$);
SELECT t.try($$UPDATE compute.jobs SET status = 'in-progress', lease = '170000000 years' WHERE job_id = t.id('lease')$$);
SELECT t.try($$SELECT compute.grab_job('lease', 1, '170000000 years')$$);
SELECT t.try($$SELECT compute.heartbeat(t.id('hb'), 1, '170000000 years')$$);
SELECT (t.try($$SELECT compute.grab_job('lease', 1, '-2 months 60 days 12 hours')$$) LIKE '22023%')
     = (now() + interval '-2 months 60 days 12 hours' <= now()) AS same_arithmetic;
-- '-1 year 365 days' ends at or before it starts on every date (a year
-- back is 365 or 366 days), though counting a month as 30 days makes it
-- 5 days long: refused, by the functions and by plain SQL.
SELECT t.try($$SELECT compute.grab_job('lease', 1, '-1 year 365 days')$$);
SELECT t.try($$UPDATE compute.jobs SET status = 'in-progress', lease = '-1 year 365 days' WHERE job_id = t.id('lease')$$);
SELECT status FROM compute.jobs WHERE job_id = t.id('lease');

-- 8. The file-name rules hold for plain SQL.
SELECT t.try($$INSERT INTO compute.jobs (job_id, status, queue, input_files) VALUES (t.id('f1'), 'queued', 'f', '{""}')$$);
SELECT t.try($$INSERT INTO compute.jobs (job_id, status, queue, input_files) VALUES (t.id('f1'), 'queued', 'f', '{NULL}')$$);
SELECT t.try($$INSERT INTO compute.jobs (job_id, status, queue, input_files) VALUES (t.id('f1'), 'queued', 'f', '{{a},{b}}')$$);
SELECT t.try($$UPDATE compute.jobs SET output_files = '{a,""}' WHERE job_id = t.id('hb')$$);
SELECT t.try($$UPDATE compute.jobs SET output_files = '{{a},{b}}' WHERE job_id = t.id('hb')$$);
SELECT status, output_files FROM compute.jobs WHERE job_id = t.id('hb');

-- 9. A MERGE is judged on all the columns its UPDATE actions name (the
-- union, as PostgreSQL gives it to row triggers): an action that touches
-- last_accessed of a complete job counts as naming status when another
-- action names it, and is refused as a second finish. Use one UPDATE action
-- per MERGE, or plain UPDATEs, to touch finished jobs.
SELECT status FROM compute.submit_job(t.id('merge'), 'm');
SELECT count(*) FROM compute.grab_job('m');
SELECT status FROM compute.finish_job(t.id('merge'), 'complete');
SELECT t.try($$MERGE INTO compute.jobs j USING (SELECT t.id('merge') AS id) s ON j.job_id = s.id
               WHEN MATCHED AND j.status = 'failed' THEN UPDATE SET status = 'queued'
               WHEN MATCHED THEN UPDATE SET last_accessed = now()$$);
SELECT t.try($$MERGE INTO compute.jobs j USING (SELECT t.id('merge') AS id) s ON j.job_id = s.id
               WHEN MATCHED THEN UPDATE SET last_accessed = now()$$);

-- 10. Queue rights: the owner lets a role work on, submit to or administer
-- only some queues; a role holding no queue grant keeps what its EXECUTE
-- grants give it.
CREATE ROLE promises_render;   -- works on render queues only
CREATE ROLE promises_hostile;  -- works on its own queue only, would grab others
CREATE ROLE promises_free;     -- no queue grants: every queue, as before 1.2.0
GRANT USAGE ON SCHEMA compute, t TO promises_render, promises_hostile, promises_free;
GRANT EXECUTE ON FUNCTION t.id(text), t.try(text) TO promises_render, promises_hostile, promises_free;
GRANT EXECUTE ON FUNCTION compute.submit_job(bytea, text, text, text[]), compute.grab_job(text, int, interval, interval),
    compute.finish_job(bytea, text, text[], int, text), compute.heartbeat(bytea, int, interval),
    compute.finish_jobs(bytea[], text, int[]), compute.expire_job(bytea), compute.delete_job(bytea),
    compute.requeue_stale(), compute.expire(interval)
    TO promises_render, promises_hostile, promises_free;
SELECT compute.grant_queue('promises_render', 'render%', 'work');
SELECT compute.grant_queue('promises_render', 'render%', 'submit');
SELECT compute.grant_queue('promises_hostile', 'hostile', 'work');
SELECT compute.grant_queue('promises_render', 'render%', 'admin');
SELECT t.try($$SELECT compute.grant_queue('promises_render', 'x', 'rule')$$);
SELECT status FROM compute.submit_job(t.id('rights batch1'), 'batch');
SELECT status FROM compute.submit_job(t.id('rights batch2'), 'batch');
SELECT status FROM compute.submit_job(t.id('rights render1'), 'render-hi');
SET ROLE promises_hostile;
SELECT t.try($$SELECT compute.grab_job('batch', 10, '1 microsecond')$$);
SELECT t.try($$SELECT compute.submit_job(t.id('rights hostile1'), 'batch')$$);
RESET ROLE;
SET ROLE promises_render;
SELECT t.try($$SELECT compute.grab_job('batch')$$);
SELECT t.try($$SELECT compute.submit_job(t.id('rights render2'), 'batch')$$);
SELECT status FROM compute.submit_job(t.id('rights render2'), 'render-lo');
SELECT job_id = t.id('rights render1') AS render1, attempt FROM compute.grab_job('render-hi');
SELECT t.try($$SELECT compute.expire()$$);
SELECT t.try($$SELECT compute.requeue_stale()$$);
SELECT t.try($$SELECT compute.delete_job(t.id('rights batch2'))$$);
RESET ROLE;
-- A job of another queue, grabbed by someone else: the render worker may
-- not finish, heartbeat or expire it, alone or in a batch.
SELECT attempt FROM compute.grab_job('batch', 1);
SET ROLE promises_render;
SELECT t.try($$SELECT compute.finish_job(t.id('rights batch1'), 'complete')$$);
SELECT t.try($$SELECT compute.heartbeat(t.id('rights batch1'), 1)$$);
SELECT t.try($$SELECT compute.finish_jobs(ARRAY[t.id('rights render1'), t.id('rights batch1')], 'complete')$$);
SELECT t.try($$SELECT compute.expire_job(t.id('rights batch1'))$$);
SELECT status FROM compute.finish_job(t.id('rights render1'), 'complete', NULL, 1);
RESET ROLE;
SELECT status, attempt FROM compute.jobs WHERE job_id IN (t.id('rights batch1'), t.id('rights batch2')) ORDER BY status;
-- A role with no queue grants works every queue; revoking a role's queue
-- grants gives it back every queue.
SET ROLE promises_free;
SELECT job_id = t.id('rights batch2') AS batch2 FROM compute.grab_job('batch');
RESET ROLE;
SELECT compute.revoke_queue('promises_render', right => 'work');
SET ROLE promises_render;
SELECT status FROM compute.finish_job(t.id('rights batch1'), 'complete');
RESET ROLE;
SELECT grantee, queue_pattern, right_name FROM compute.queue_grants ORDER BY 1, 2, 3;
SELECT compute.revoke_queue('promises_render') + compute.revoke_queue('promises_hostile') AS revoked;
