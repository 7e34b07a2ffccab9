-- compute 1.1.0 -> 1.2.0: the platform's own statements run unchanged, and
-- the promises of 1.1.0 hold on every path.
\echo Use "ALTER EXTENSION compute UPDATE TO '1.2.0'" to load this file. \quit

-- Tokens never repeat for a job id: a deleted job's last attempt is kept
-- here, and a job submitted again under the same id goes on from it (the
-- trigger reads it on INSERT, as the table's owner). Dumped with the jobs.
CREATE TABLE compute.retired_attempts (
    job_id  bytea   PRIMARY KEY,
    attempt integer NOT NULL
);
COMMENT ON TABLE compute.retired_attempts IS
    'the last fencing token (attempt) of each deleted job id: a job submitted again under it goes on from there';
SELECT pg_catalog.pg_extension_config_dump('compute.retired_attempts', '');

CREATE FUNCTION compute._jobs_retire() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'compute_jobs_retire';
CREATE TRIGGER jobs_retire
    BEFORE DELETE ON compute.jobs
    FOR EACH ROW EXECUTE FUNCTION compute._jobs_retire();

-- TRUNCATE fires no row trigger: keep the tokens of every job it removes.
CREATE FUNCTION compute._jobs_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    INSERT INTO compute.retired_attempts AS r (job_id, attempt)
    SELECT job_id, attempt FROM compute.jobs WHERE attempt > 0
    ON CONFLICT (job_id) DO UPDATE SET attempt = GREATEST(r.attempt, excluded.attempt);
    RETURN NULL;
END $$;
REVOKE EXECUTE ON FUNCTION compute._jobs_truncate(), compute._jobs_retire() FROM PUBLIC;
CREATE TRIGGER jobs_truncate
    BEFORE TRUNCATE ON compute.jobs
    FOR EACH STATEMENT EXECUTE FUNCTION compute._jobs_truncate();

-- The guard, created again with the argument that turns on the 1.2.0 rules
-- (retired tokens, file-name rules for plain SQL, lease bounds), and firing
-- ALWAYS: with session_replication_role = replica (a restore, logical
-- replication) it checks nothing but tells the queue marks of queued rows.
DROP TRIGGER jobs_guard ON compute.jobs;
CREATE TRIGGER jobs_guard
    BEFORE INSERT OR UPDATE ON compute.jobs
    FOR EACH ROW EXECUTE FUNCTION compute._jobs_guard('retired');
ALTER TABLE compute.jobs ENABLE ALWAYS TRIGGER jobs_guard;

COMMENT ON COLUMN compute.jobs.lease IS
    'the length of the lease the job was grabbed with (what heartbeat extends by when given no extend); NULL unless in-progress';
COMMENT ON COLUMN compute.jobs.attempt IS
    'how many times the job id was grabbed (0 before the first; a job submitted again after a delete goes on counting); the fencing token';
COMMENT ON FUNCTION compute.expire_job(bytea) IS
    'expire one job: queued, in-progress, complete or failed';

-- Queue rights: the owner may let a role submit to, work on or administer
-- only the queues that match its patterns (LIKE). A role with no queue
-- grant of a right keeps what its EXECUTE grants give it on every queue.
CREATE TABLE compute.queue_grants (
    grantee       regrole NOT NULL,
    queue_pattern text    NOT NULL,
    right_name    text    NOT NULL CHECK (right_name IN ('submit', 'work', 'admin')),
    PRIMARY KEY (grantee, right_name, queue_pattern)
);
COMMENT ON TABLE compute.queue_grants IS
    'queue rights: a role listed for a right may use it only on queues matching one of its patterns (LIKE)';
SELECT pg_catalog.pg_extension_config_dump('compute.queue_grants', '');

CREATE FUNCTION compute._queue_grants_changed() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'compute_queue_grants_changed';
CREATE TRIGGER queue_grants_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON compute.queue_grants
    FOR EACH STATEMENT EXECUTE FUNCTION compute._queue_grants_changed();

CREATE FUNCTION compute.grant_queue(role regrole, queue_pattern text, "right" text)
    RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF role IS NULL OR queue_pattern IS NULL OR "right" IS NULL THEN
        RAISE EXCEPTION 'role, queue_pattern and right must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF "right" NOT IN ('submit', 'work', 'admin') THEN
        RAISE EXCEPTION 'unknown right "%"', "right" USING ERRCODE = '22023',
            DETAIL = 'A queue grant gives one of submit, work, admin.';
    END IF;
    INSERT INTO compute.queue_grants VALUES (role, queue_pattern, "right") ON CONFLICT DO NOTHING;
END $$;

CREATE FUNCTION compute.revoke_queue(role regrole, queue_pattern text DEFAULT NULL, "right" text DEFAULT NULL)
    RETURNS bigint LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM compute.queue_grants g
         WHERE g.grantee = role
           AND (revoke_queue.queue_pattern IS NULL OR g.queue_pattern = revoke_queue.queue_pattern)
           AND (revoke_queue."right" IS NULL OR g.right_name = revoke_queue."right")
        RETURNING 1)
    SELECT count(*) FROM gone
$$;

COMMENT ON FUNCTION compute.grant_queue(regrole, text, text) IS
    'let role use right (submit, work or admin) on the queues matching queue_pattern; a role with queue grants of a right may use it on those queues only';
COMMENT ON FUNCTION compute.revoke_queue(regrole, text, text) IS
    'remove queue grants of role (all, or those of one pattern and/or right); returns how many';
REVOKE EXECUTE ON FUNCTION compute.grant_queue(regrole, text, text), compute.revoke_queue(regrole, text, text),
    compute._queue_grants_changed() FROM PUBLIC;

-- grab_job gains a wait (the waiting grab) and finish_and_grab joins a
-- finish and the next grab in one statement and one commit. The new
-- grab_job takes over the grants of the old one (with their grant option;
-- the initial privileges are set right below) before it is dropped.
CREATE FUNCTION compute.grab_job(queue text, max_jobs int DEFAULT 1, lease interval DEFAULT '5 minutes',
                                 wait interval DEFAULT '0')
    RETURNS SETOF compute.jobs
    LANGUAGE c VOLATILE ROWS 1 SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
    AS 'MODULE_PATHNAME', 'compute_grab_job';
REVOKE EXECUTE ON FUNCTION compute.grab_job(text, int, interval, interval) FROM PUBLIC;
DO $$
DECLARE
    grant_row record;
BEGIN
    FOR grant_row IN
        SELECT CASE WHEN acl.grantee = 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(acl.grantee))
               END AS grantee,
               CASE WHEN acl.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END AS grant_option
          FROM pg_catalog.pg_proc old, pg_catalog.aclexplode(old.proacl) acl
         WHERE old.oid = 'compute.grab_job(text, int, interval)'::pg_catalog.regprocedure
           AND acl.privilege_type = 'EXECUTE' AND acl.grantee <> old.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION compute.grab_job(text, int, interval, interval) TO %s%s',
                                  grant_row.grantee, grant_row.grant_option);
    END LOOP;
END $$;
DROP FUNCTION compute.grab_job(text, int, interval);
COMMENT ON FUNCTION compute.grab_job(text, int, interval, interval) IS
    'take up to max_jobs oldest queued jobs of a queue, mark them in-progress with a lease; with wait, sleep until one can be taken or wait has passed';

CREATE FUNCTION compute.finish_and_grab(job_id bytea, status text, queue text, output_files text[] DEFAULT NULL,
                                        attempt int DEFAULT NULL, error text DEFAULT NULL, max_jobs int DEFAULT 1,
                                        lease interval DEFAULT '5 minutes', wait interval DEFAULT '0')
    RETURNS SETOF compute.jobs
    LANGUAGE c VOLATILE ROWS 1 SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    SET enable_seqscan = off
    AS 'MODULE_PATHNAME', 'compute_finish_and_grab';
REVOKE EXECUTE ON FUNCTION compute.finish_and_grab(bytea, text, text, text[], int, text, int, interval, interval)
    FROM PUBLIC;
COMMENT ON FUNCTION compute.finish_and_grab(bytea, text, text, text[], int, text, int, interval, interval) IS
    'finish a job as finish_job does, then grab as grab_job does, in one statement and one commit; a refused finish grabs nothing';

-- Services that submit and wait for results (no polling), and listeners.
CREATE FUNCTION compute.wait_job(job_id bytea, timeout interval DEFAULT '30 seconds')
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_wait_job';
CREATE FUNCTION compute.submit_jobs(job_ids bytea[], queue text, configs text[] DEFAULT NULL,
                                    input_files text[] DEFAULT '{}')
    RETURNS SETOF compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_submit_jobs';
-- The NOTIFY channel of a queue: safe for any queue name (at most 63 bytes).
CREATE FUNCTION compute.queue_channel(queue text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
    RETURN 'compute_queue_' || pg_catalog.md5(queue);
REVOKE EXECUTE ON FUNCTION compute.wait_job(bytea, interval), compute.submit_jobs(bytea[], text, text[], text[])
    FROM PUBLIC;
COMMENT ON FUNCTION compute.wait_job(bytea, interval) IS
    'the job once it is complete, failed or expired (sleeping until then), or as it stands when timeout has passed';
COMMENT ON FUNCTION compute.submit_jobs(bytea[], text, text[], text[]) IS
    'submit_job for each of job_ids (configs[i] is job i''s), in one statement: all or nothing';
COMMENT ON FUNCTION compute.queue_channel(text) IS
    'the NOTIFY channel on which a transaction that queues jobs of this queue notifies at commit';

-- Live statistics: counters per queue in shared memory (compute in
-- shared_preload_libraries; otherwise the view is empty), committed work
-- only, refusals as they happen. Readable by pg_monitor.
CREATE FUNCTION compute._stats(OUT queue text, OUT since timestamptz, OUT counters bigint[],
                               OUT refused_codes text[], OUT refused_counts bigint[])
    RETURNS SETOF record
    LANGUAGE c VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'compute_stats';
CREATE FUNCTION compute.stats_reset() RETURNS bigint
    LANGUAGE c VOLATILE STRICT
    AS 'MODULE_PATHNAME', 'compute_stats_reset';
CREATE VIEW compute.stats AS
SELECT s.queue, s.since,
       s.counters[1] AS submitted, s.counters[2] AS dedupe_hits, s.counters[3] AS resubmitted,
       s.counters[4] AS grabbed, s.counters[5] AS requeued, s.counters[6] AS leases_lost,
       s.counters[7] AS completed, s.counters[8] AS failed, s.counters[9] AS expired,
       COALESCE((SELECT pg_catalog.sum(n) FROM pg_catalog.unnest(s.refused_counts) AS n), 0)::bigint AS refused,
       COALESCE((SELECT pg_catalog.jsonb_object_agg(r.code, r.n)
                   FROM ROWS FROM (pg_catalog.unnest(s.refused_codes), pg_catalog.unnest(s.refused_counts)) AS r (code, n)),
                 '{}') AS refused_by_sqlstate
  FROM compute._stats() AS s;
REVOKE EXECUTE ON FUNCTION compute._stats(), compute.stats_reset() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION compute._stats() TO pg_monitor;
GRANT SELECT ON compute.stats TO pg_monitor;
COMMENT ON VIEW compute.stats IS
    'per queue of this database: jobs submitted, dedupe hits, resubmitted, grabbed, requeued, leases lost, completed, failed, expired (committed), and refused writes by SQLSTATE, since the queue was first counted or compute.stats_reset()';
COMMENT ON FUNCTION compute.stats_reset() IS
    'forgets the counters of compute.stats of this database; returns how many queues it forgot';

-- Grants made by the 1.0.0 -> 1.1.0 update (moved from the old grab_job and
-- finish_job) ran inside an extension script, so PostgreSQL recorded them as
-- the extension's initial privileges and pg_dump left them out. The initial
-- privileges of compute's functions are the owner's alone (EXECUTE revoked
-- from PUBLIC); every other grant is the user's, and dumped as such.
UPDATE pg_catalog.pg_init_privs ip
   SET initprivs = ARRAY(SELECT item FROM pg_catalog.unnest(ip.initprivs) AS item
                          WHERE (SELECT e.grantee FROM pg_catalog.aclexplode(ARRAY[item]) AS e LIMIT 1) = p.proowner)
  FROM pg_catalog.pg_proc p
 WHERE ip.classoid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND ip.objoid = p.oid AND ip.objsubid = 0
   AND p.pronamespace = 'compute'::pg_catalog.regnamespace;

UPDATE compute.meta SET value = '1.2.0' WHERE key = 'version';
