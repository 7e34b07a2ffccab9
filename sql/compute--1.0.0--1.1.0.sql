-- compute 1.0.0 -> 1.1.0: leases with fencing.
\echo Use "ALTER EXTENSION compute UPDATE TO '1.1.0'" to load this file. \quit

-- Every grab starts a new attempt and gives the worker a lease; the attempt
-- number is the fencing token. Defaults keep plain SQL against the columns
-- of the reference schema working. (attempt >= 0 and lost_leases >= 0 are
-- kept by the trigger rather than by CHECK constraints: PostgreSQL rebuilds
-- every CHECK expression at each statement that writes the table, a
-- measurable share of each grab and finish.) Jobs from 1.0.0 start at attempt 0 with
-- no lease (requeue_stale(interval) still recovers them by grab time).
ALTER TABLE compute.jobs
    ADD COLUMN attempt       integer     NOT NULL DEFAULT 0,
    ADD COLUMN lease_expires timestamptz,
    ADD COLUMN lease         interval,
    ADD COLUMN lost_leases   integer     NOT NULL DEFAULT 0,
    ADD COLUMN error         text;

COMMENT ON COLUMN compute.jobs.attempt IS
    'how many times the job was grabbed (0 before the first); the fencing token of the current worker';
COMMENT ON COLUMN compute.jobs.lease_expires IS
    'when the current worker''s lease runs out; NULL unless in-progress';
COMMENT ON COLUMN compute.jobs.lease IS
    'the length of the current lease (what heartbeat extends by); NULL unless in-progress';
COMMENT ON COLUMN compute.jobs.lost_leases IS
    'leases lost since the job was last submitted (see compute.max_attempts)';
COMMENT ON COLUMN compute.jobs.error IS
    'why the job failed: given to finish_job, or recorded by the crash-loop guard';

-- requeue_stale(): in-progress jobs by lease expiry.
CREATE INDEX jobs_lease_idx ON compute.jobs (lease_expires) WHERE status = 'in-progress';

-- grab_job and finish_job gain arguments with defaults, so every 1.0.0 call
-- keeps working. The new forms take over the grants of the old ones (see the
-- end of this script) before those are dropped.
CREATE FUNCTION compute.grab_job(queue text, max_jobs int DEFAULT 1, lease interval DEFAULT '5 minutes')
    RETURNS SETOF compute.jobs
    LANGUAGE c VOLATILE ROWS 1 SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    -- Its statement is planned once per backend, perhaps while the table is
    -- still empty; a queue is read through its index, never sequentially.
    SET enable_seqscan = off
    AS 'MODULE_PATHNAME', 'compute_grab_job';

CREATE FUNCTION compute.finish_job(job_id bytea, status text, output_files text[] DEFAULT NULL,
                                   attempt int DEFAULT NULL, error text DEFAULT NULL)
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_finish_job';

CREATE FUNCTION compute.finish_jobs(job_ids bytea[], status text, attempts int[] DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_finish_jobs';

CREATE FUNCTION compute.heartbeat(job_id bytea, attempt int, extend interval DEFAULT NULL)
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_heartbeat';

CREATE FUNCTION compute.requeue_stale()
    RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_requeue_lost_leases';

-- The queue marks in shared memory (with compute in shared_preload_libraries):
-- where each queue's grabs start their scan. For operators and tests.
CREATE FUNCTION compute._queue_marks(OUT queue text, OUT valid boolean, OUT mark_created timestamptz,
                                     OUT mark_job_id bytea, OUT generation bigint)
    RETURNS SETOF record
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_queue_marks';

COMMENT ON FUNCTION compute.grab_job(text, int, interval) IS
    'take up to max_jobs oldest queued jobs of a queue, mark them in-progress with a lease; never waits, never shares';
COMMENT ON FUNCTION compute.finish_job(bytea, text, text[], int, text) IS
    'finish an in-progress job as complete or failed; with attempt, only while that attempt holds the lease';
COMMENT ON FUNCTION compute.finish_jobs(bytea[], text, int[]) IS
    'finish a batch of in-progress jobs as complete or failed in one statement, all or none; with attempts, fenced';
COMMENT ON FUNCTION compute.heartbeat(bytea, int, interval) IS
    'extend the lease of attempt of an in-progress job (by extend, else by its lease)';
COMMENT ON FUNCTION compute.requeue_stale() IS
    'requeue in-progress jobs whose lease expired; fail those that lost compute.max_attempts leases';

-- As in 1.0.0: nobody but the owner may call the API until granted.
REVOKE EXECUTE ON FUNCTION compute.grab_job(text, int, interval), compute.finish_job(bytea, text, text[], int, text),
    compute.heartbeat(bytea, int, interval), compute.requeue_stale(), compute._queue_marks(),
    compute.finish_jobs(bytea[], text, int[]) FROM PUBLIC;

-- Whoever could call the old grab_job or finish_job can call the new one.
DO $$
DECLARE
    grant_row record;
BEGIN
    FOR grant_row IN
        SELECT CASE old.proname
                   WHEN 'grab_job' THEN 'compute.grab_job(text, int, interval)'
                   ELSE 'compute.finish_job(bytea, text, text[], int, text)'
               END AS new_function,
               CASE WHEN acl.grantee = 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(acl.grantee))
               END AS grantee,
               CASE WHEN acl.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END AS grant_option
          FROM pg_catalog.pg_proc old, pg_catalog.aclexplode(old.proacl) acl
         WHERE old.oid IN ('compute.grab_job(text, int)'::pg_catalog.regprocedure,
                           'compute.finish_job(bytea, text, text[])'::pg_catalog.regprocedure)
           AND acl.privilege_type = 'EXECUTE' AND acl.grantee <> old.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s%s', grant_row.new_function, grant_row.grantee,
                                  grant_row.grant_option);
    END LOOP;
END $$;
DROP FUNCTION compute.grab_job(text, int);
DROP FUNCTION compute.finish_job(bytea, text, text[]);

UPDATE compute.meta SET value = '1.1.0' WHERE key = 'version';
