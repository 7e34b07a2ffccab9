-- The privilege model (README, "Privileges"): every function is SECURITY
-- DEFINER with EXECUTE revoked from PUBLIC, so a role can do what it was
-- granted functions for and nothing else; the trigger holds for every role;
-- objects in a caller's schemas cannot hijack compute's internal queries.
\set SHOW_CONTEXT never
DELETE FROM compute.jobs;

-- The roles of the model, with the grants that the README shows.
CREATE ROLE regress_submitter;
CREATE ROLE regress_worker;
CREATE ROLE regress_admin;
CREATE ROLE regress_nobody;
GRANT USAGE ON SCHEMA compute TO regress_submitter, regress_worker, regress_admin;
GRANT EXECUTE ON FUNCTION compute.submit_job(bytea, text, text, text[]), compute.get_job(bytea),
    compute.queue_position(bytea) TO regress_submitter;
GRANT EXECUTE ON FUNCTION compute.grab_job(text, int, interval, interval), compute.heartbeat(bytea, int, interval),
    compute.finish_job(bytea, text, text[], int, text), compute.finish_jobs(bytea[], text, int[]),
    compute.get_job(bytea) TO regress_worker;
GRANT EXECUTE ON FUNCTION compute.expire(interval), compute.expire_job(bytea), compute.requeue_stale(),
    compute.requeue_stale(interval), compute.delete_job(bytea) TO regress_admin;
GRANT SELECT ON compute.jobs, compute.meta TO regress_admin;

-- The test helpers are everyone's.
GRANT USAGE ON SCHEMA t TO PUBLIC;
-- t.try_as(role, sql): run sql as role; 'ok' or the SQLSTATE.
CREATE FUNCTION t.try_as(who text, sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    outcome text;
BEGIN
    BEGIN
        EXECUTE pg_catalog.format('SET LOCAL ROLE %I', who);
        EXECUTE sql;
        outcome := 'ok';
    EXCEPTION WHEN OTHERS THEN
        outcome := SQLSTATE;
    END;
    RESET ROLE;
    RETURN outcome;
END $$;

-- For each role, jobs prepared for each operation (so that an allowed call
-- succeeds), then every operation tried by every role.
DO $$
DECLARE
    who text;
BEGIN
    PERFORM compute.submit_job(t.id('base'), 'base', 'secret config');
    FOREACH who IN ARRAY ARRAY['regress_submitter', 'regress_worker', 'regress_admin', 'regress_nobody'] LOOP
        PERFORM compute.submit_job(t.id('grab ' || who), 'grab ' || who);
        PERFORM compute.submit_job(t.id('fin ' || who), 'fin ' || who);
        PERFORM compute.grab_job('fin ' || who);
        PERFORM compute.submit_job(t.id('hb ' || who), 'hb ' || who);
        PERFORM compute.grab_job('hb ' || who);
        PERFORM compute.submit_job(t.id('fins ' || who), 'fins ' || who);
        PERFORM compute.grab_job('fins ' || who);
        PERFORM compute.submit_job(t.id('exp ' || who), 'exp ' || who);
        PERFORM compute.submit_job(t.id('del ' || who), 'del ' || who);
    END LOOP;
END $$;

CREATE TABLE t.operations (n int, op text, sql text);
INSERT INTO t.operations VALUES
    (1, 'submit_job', $$SELECT compute.submit_job(t.id('new %1$s'), 'q')$$),
    (2, 'get_job', $$SELECT compute.get_job(t.id('base'))$$),
    (3, 'queue_position', $$SELECT compute.queue_position(t.id('base'))$$),
    (4, 'grab_job', $$SELECT compute.grab_job('grab %1$s')$$),
    (5, 'heartbeat', $$SELECT compute.heartbeat(t.id('hb %1$s'), 1)$$),
    (6, 'finish_job', $$SELECT compute.finish_job(t.id('fin %1$s'), 'complete', NULL, 1)$$),
    (6, 'finish_jobs', $$SELECT compute.finish_jobs(ARRAY[t.id('fins %1$s')], 'complete', ARRAY[1])$$),
    (7, 'expire', $$SELECT compute.expire()$$),
    (8, 'expire_job', $$SELECT compute.expire_job(t.id('exp %1$s'))$$),
    (9, 'requeue_stale()', $$SELECT compute.requeue_stale()$$),
    (10, 'requeue_stale(interval)', $$SELECT compute.requeue_stale('1 day')$$),
    (11, 'delete_job', $$SELECT compute.delete_job(t.id('del %1$s'))$$),
    (12, 'read config', $$SELECT config FROM compute.jobs LIMIT 1$$),
    (13, 'read meta', $$SELECT value FROM compute.meta$$),
    (14, 'plain UPDATE', $$UPDATE compute.jobs SET config = 'changed' WHERE job_id = t.id('base')$$),
    (15, 'plain INSERT', $$INSERT INTO compute.jobs (job_id, status, queue) VALUES (t.id('ins %1$s'), 'queued', 'q')$$),
    (16, 'plain DELETE', $$DELETE FROM compute.jobs WHERE job_id = t.id('base')$$),
    (17, 'trigger function', $$SELECT compute._jobs_guard()$$);

SELECT op,
       t.try_as('regress_submitter', format(sql, 'regress_submitter')) AS submitter,
       t.try_as('regress_worker', format(sql, 'regress_worker')) AS worker,
       t.try_as('regress_admin', format(sql, 'regress_admin')) AS admin,
       t.try_as('regress_nobody', format(sql, 'regress_nobody')) AS nobody
  FROM t.operations ORDER BY n;
SELECT config FROM compute.jobs WHERE job_id = t.id('base');

-- A role granted plain UPDATE on the table still cannot break the state
-- machine or the fencing: the trigger holds for every role.
CREATE ROLE regress_sql_client;
GRANT USAGE ON SCHEMA compute TO regress_sql_client;
GRANT SELECT, UPDATE ON compute.jobs TO regress_sql_client;
SELECT t.try_as('regress_sql_client', $$UPDATE compute.jobs SET status = 'complete' WHERE job_id = t.id('base')$$);
SELECT t.try_as('regress_sql_client', $$UPDATE compute.jobs SET status = 'in-progress', attempt = 5 WHERE job_id = t.id('base')$$);
SELECT t.try_as('regress_sql_client', $$UPDATE compute.jobs SET job_id = t.id('other') WHERE job_id = t.id('base')$$);
SELECT status, attempt FROM compute.jobs WHERE job_id = t.id('base');

-- Hostile objects in a caller's schema: an = operator on bytea that is
-- always true, a now() stuck in 2000, a jobs table. With the caller's
-- search_path putting them first, compute's statements are unmoved: they
-- run with search_path = pg_catalog, pg_temp and name compute.jobs.
CREATE SCHEMA regress_evil;
CREATE FUNCTION regress_evil.always(bytea, bytea) RETURNS boolean LANGUAGE sql AS 'SELECT true';
CREATE OPERATOR regress_evil.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = regress_evil.always);
CREATE FUNCTION regress_evil.now() RETURNS timestamptz LANGUAGE sql AS $$ SELECT '2000-01-01'::timestamptz $$;
CREATE TABLE regress_evil.jobs (LIKE compute.jobs);
SELECT count(*) AS jobs_before FROM compute.jobs \gset
SET search_path = regress_evil, pg_catalog, public;
SELECT '\x01'::bytea = '\x02'::bytea AS hostile_operator_active;
SELECT compute.get_job(t.id('unknown')) IS NULL AS unknown_still_unknown;
SELECT compute.delete_job(t.id('unknown')) AS deleted_something;
SELECT (compute.submit_job(t.id('evil'), 'evil')).created > '2020-01-01' AS real_now;
SELECT count(*) AS evil_grabs FROM compute.grab_job('evil');
SELECT compute.queue_position(t.id('base')) AS base_position;
RESET search_path;
SELECT count(*) - :jobs_before AS jobs_added, (SELECT count(*) FROM regress_evil.jobs) AS evil_rows
  FROM compute.jobs;

DROP SCHEMA regress_evil CASCADE;
DROP OWNED BY regress_submitter, regress_worker, regress_admin, regress_nobody, regress_sql_client;
DROP ROLE regress_submitter, regress_worker, regress_admin, regress_nobody, regress_sql_client;
