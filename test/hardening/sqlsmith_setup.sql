-- The database that scripts/check-sqlsmith.sh fuzzes: the extension, jobs
-- in every status, an unprivileged role `fuzzer` that sqlsmith connects as
-- (so that random calls of pg_terminate_backend, lo_export and the like
-- cannot take the test itself down), and schema fz, which biases sqlsmith
-- towards compute. sqlsmith picks functions by result type among every
-- routine in pg_proc (some 3,000): fz holds many small SQL wrappers of
-- compute's functions (grab_job, a set-returning function that sqlsmith
-- never calls, among them) with the common result types, and views whose
-- columns call compute row by row.
\set ON_ERROR_STOP 1
CREATE EXTENSION compute;

-- Jobs in every status, on three queues.
SELECT count(compute.submit_job(decode(md5('smith ' || i), 'hex'), 'q' || (i % 3), 'config ' || i,
                                ARRAY['in-' || i]))
  FROM generate_series(1, 300) i;
SELECT count(*) FROM compute.grab_job('q0', 60);
SELECT count(*) FROM compute.grab_job('q1', 60);
SELECT count(compute.finish_job(job_id, 'complete', ARRAY['out'])) FROM compute.jobs
 WHERE status = 'in-progress' AND get_byte(job_id, 0) < 100;
SELECT count(compute.finish_job(job_id, 'failed')) FROM compute.jobs
 WHERE status = 'in-progress' AND get_byte(job_id, 0) < 160;
SELECT count(compute.expire_job(job_id)) FROM compute.jobs
 WHERE status = 'complete' AND get_byte(job_id, 1) < 128;
-- Leases (1.1.0): some run out at once, for requeue_stale() to take back.
SELECT count(*) FROM compute.grab_job('q2', 30, '1 second');
SELECT count(*) FROM compute.grab_job('q2', 10, '1 hour');
SELECT status, count(*) FROM compute.jobs GROUP BY 1 ORDER BY 1;

CREATE ROLE fuzzer LOGIN;
GRANT USAGE ON SCHEMA compute TO fuzzer;
GRANT ALL ON ALL TABLES IN SCHEMA compute TO fuzzer;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA compute TO fuzzer;
-- A worker role that the call generator switches to (SET ROLE), with queue
-- rights (1.2.0) that the generator grants and revokes as it goes.
CREATE ROLE fz_worker NOLOGIN;
GRANT USAGE ON SCHEMA compute TO fz_worker;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA compute TO fz_worker;
CREATE SCHEMA fz AUTHORIZATION fuzzer;
SET ROLE fuzzer;

CREATE VIEW fz.jobs AS SELECT * FROM compute.jobs;  -- updatable: writes go through the trigger
CREATE VIEW fz.job_calls AS
    SELECT j.job_id, j.queue, j.status, (compute.get_job(j.job_id)).last_accessed AS touched,
           compute.queue_position(j.job_id) AS position
      FROM compute.jobs j;
CREATE VIEW fz.queued AS SELECT * FROM compute.jobs WHERE status = 'queued';
CREATE VIEW fz.grabbed AS SELECT g.* FROM (SELECT DISTINCT queue FROM compute.jobs) q, compute.grab_job(q.queue, 2) g;

DO $do$
DECLARE
    i int;
    defs text[] := ARRAY[
        'submit(id bytea, q text) RETURNS text AS $f$ SELECT (compute.submit_job(id, q)).status $f$',
        'submit_all(id bytea, q text, c text, f text[]) RETURNS compute.jobs AS $f$ SELECT compute.submit_job(id, q, c, f) $f$',
        'submit_n(n int, q text) RETURNS bytea AS $f$ SELECT (compute.submit_job(decode(md5(n::text), $$hex$$), q)).job_id $f$',
        'grab_n(q text, n int) RETURNS bigint AS $f$ SELECT count(*) FROM compute.grab_job(q, n) $f$',
        'grab_one(q text) RETURNS bytea AS $f$ SELECT job_id FROM compute.grab_job(q) $f$',
        'grab_row(q text, n int) RETURNS compute.jobs AS $f$ SELECT g FROM compute.grab_job(q, n) g LIMIT 1 $f$',
        'finish(id bytea, s text, o text[]) RETURNS text AS $f$ SELECT (compute.finish_job(id, s, o)).status $f$',
        'finish_ok(id bytea) RETURNS timestamptz AS $f$ SELECT (compute.finish_job(id, $$complete$$)).finished $f$',
        'expire(i interval) RETURNS bigint AS $f$ SELECT compute.expire(i) $f$',
        'expire_job(id bytea) RETURNS text AS $f$ SELECT (compute.expire_job(id)).status $f$',
        'get(id bytea) RETURNS boolean AS $f$ SELECT compute.get_job(id) IS NOT NULL $f$',
        'get_row(id bytea) RETURNS compute.jobs AS $f$ SELECT compute.get_job(id) $f$',
        'pos(id bytea) RETURNS bigint AS $f$ SELECT compute.queue_position(id) $f$',
        'pos_int(id bytea) RETURNS integer AS $f$ SELECT compute.queue_position(id)::int $f$',
        'requeue(i interval) RETURNS bigint AS $f$ SELECT compute.requeue_stale(i) $f$',
        'del(id bytea) RETURNS boolean AS $f$ SELECT compute.delete_job(id) $f$',
        'job(n int) RETURNS bytea AS $f$ SELECT job_id FROM compute.jobs ORDER BY job_id OFFSET abs(n % 300) LIMIT 1 $f$',
        'queue_of(n int) RETURNS text AS $f$ SELECT $$q$$ || abs(n % 4) $f$',
        'set_status(id bytea, s text) RETURNS integer AS $f$ WITH u AS (UPDATE compute.jobs SET status = s WHERE job_id = id RETURNING 1) SELECT count(*)::int FROM u $f$',
        -- 1.1.0: leases, fencing, batches.
        'grab_lease(q text, n int, l interval) RETURNS bigint AS $f$ SELECT count(*) FROM compute.grab_job(q, n, l) $f$',
        'grab_lease_row(q text, l interval) RETURNS compute.jobs AS $f$ SELECT g FROM compute.grab_job(q, 1, l) g LIMIT 1 $f$',
        'finish_fenced(id bytea, s text, a int) RETURNS text AS $f$ SELECT (compute.finish_job(id, s, NULL, a)).status $f$',
        'finish_all(id bytea, s text, o text[], a int, e text) RETURNS compute.jobs AS $f$ SELECT compute.finish_job(id, s, o, a, e) $f$',
        'finish_batch(ids bytea[], s text) RETURNS bigint AS $f$ SELECT compute.finish_jobs(ids, s) $f$',
        'finish_batch_fenced(ids bytea[], s text, a int[]) RETURNS bigint AS $f$ SELECT compute.finish_jobs(ids, s, a) $f$',
        'heartbeat(id bytea, a int) RETURNS timestamptz AS $f$ SELECT (compute.heartbeat(id, a)).lease_expires $f$',
        'heartbeat_row(id bytea, a int, i interval) RETURNS compute.jobs AS $f$ SELECT compute.heartbeat(id, a, i) $f$',
        'requeue_leases() RETURNS bigint AS $f$ SELECT compute.requeue_stale() $f$',
        'attempt_of(id bytea) RETURNS integer AS $f$ SELECT attempt FROM compute.jobs WHERE job_id = id $f$',
        'held(n int) RETURNS bytea AS $f$ SELECT job_id FROM compute.jobs WHERE status = $$in-progress$$ ORDER BY job_id OFFSET abs(n % 50) LIMIT 1 $f$',
        -- With the job's own token: calls that get past the fence.
        'hold(n int, i interval) RETURNS integer AS $f$ SELECT count(compute.heartbeat(job_id, attempt, i))::int FROM compute.jobs WHERE job_id = fz.held_1(n) $f$',
        'finish_held(n int, s text) RETURNS text AS $f$ SELECT (compute.finish_job(job_id, s, NULL, attempt)).status FROM compute.jobs WHERE job_id = fz.held_1(n) $f$',
        'grab_finish(q text, n int, s text) RETURNS bigint AS $f$ SELECT compute.finish_jobs(ARRAY(SELECT job_id FROM compute.grab_job(q, n)), s) $f$',
        -- 1.2.0: the waiting grab (its wait cut to 10 ms) and finish_and_grab.
        'grab_wait(q text, n int, l interval, w interval) RETURNS bigint AS $f$ SELECT count(*) FROM compute.grab_job(q, n, l, LEAST(w, interval $$10 milliseconds$$)) $f$',
        'finish_grab(id bytea, s text, q text) RETURNS bigint AS $f$ SELECT count(*) FROM compute.finish_and_grab(id, s, q) $f$',
        'finish_grab_row(id bytea, s text, q text, a int, n int) RETURNS compute.jobs AS $f$ SELECT g FROM compute.finish_and_grab(id, s, q, NULL, a, NULL, n) g LIMIT 1 $f$',
        'finish_held_grab(n int, s text, q text) RETURNS bigint AS $f$ SELECT count(*) FROM compute.jobs j, compute.finish_and_grab(j.job_id, s, q, NULL, j.attempt) g WHERE j.job_id = fz.held_1(n) $f$',
        -- 1.2.0: wait_job (its timeout cut to 10 ms), submit_jobs, queue_channel.
        'wait_row(id bytea, t interval) RETURNS compute.jobs AS $f$ SELECT compute.wait_job(id, LEAST(t, interval $$10 milliseconds$$)) $f$',
        'wait_status(id bytea) RETURNS text AS $f$ SELECT (compute.wait_job(id, interval $$1 millisecond$$)).status $f$',
        'submit_many(ids bytea[], q text) RETURNS bigint AS $f$ SELECT count(*) FROM compute.submit_jobs(ids, q) $f$',
        'submit_many_all(ids bytea[], q text, c text[], f text[]) RETURNS compute.jobs AS $f$ SELECT s FROM compute.submit_jobs(ids, q, c, f) s LIMIT 1 $f$',
        'channel(q text) RETURNS text AS $f$ SELECT compute.queue_channel(q) $f$',
        -- 1.2.0: live statistics.
        'stats_of(q text) RETURNS bigint AS $f$ SELECT coalesce(sum(submitted + grabbed + refused), 0)::bigint FROM compute.stats WHERE queue = q $f$',
        'stats_forget() RETURNS bigint AS $f$ SELECT compute.stats_reset() $f$'
    ];
BEGIN
    -- 20 copies of each: about 860 of the 3,900 routines sqlsmith sees
    -- (held_1 first: hold_N and finish_held_N call it).
    FOR i IN 1..20 LOOP
        FOR d IN 1..array_length(defs, 1) LOOP
            EXECUTE format('CREATE FUNCTION fz.%s LANGUAGE sql VOLATILE', regexp_replace(defs[d], '^(\w+)', '\1_' || i));
        END LOOP;
    END LOOP;
END $do$;
RESET ROLE;
