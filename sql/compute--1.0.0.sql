-- compute 1.0.0: schema, tables, state-machine trigger and job API.
\echo Use "CREATE EXTENSION compute" to load this file. \quit

-- The extension owns its schema, so DROP EXTENSION compute removes it with
-- everything in it.
CREATE SCHEMA compute;

-- Tables of the platform's database reference, version 1 (SPEC section 2).
CREATE TABLE compute.meta (
    key   VARCHAR(32)  PRIMARY KEY CHECK (length(key) > 2),
    value VARCHAR(256) NOT NULL
);

CREATE TABLE compute.jobs (
    job_id        BYTEA        PRIMARY KEY CHECK (length(job_id) = 16),
    -- One of the five statuses, as one array constant: PostgreSQL rebuilds
    -- each CHECK expression at every statement that writes the table, and
    -- one constant costs a fraction of five.
    status        VARCHAR(11)  NOT NULL
                  CHECK (status::text = ANY ('{queued,in-progress,complete,failed,expired}'::text[])),
    queue         VARCHAR(32)  NOT NULL,
    config        TEXT,
    input_files   VARCHAR[]    NOT NULL DEFAULT '{}',
    created       TIMESTAMPTZ  NOT NULL DEFAULT now(),
    last_accessed TIMESTAMPTZ  NOT NULL DEFAULT now(),
    grabbed       TIMESTAMPTZ,
    finished      TIMESTAMPTZ,
    output_files  VARCHAR[]
);

-- grab_job and queue_position: the queued jobs of one queue in grab order,
-- without reading other queues' or other statuses' rows.
CREATE INDEX jobs_queued_idx ON compute.jobs (queue, created, job_id) WHERE status = 'queued';
-- expire: complete jobs by last access.
CREATE INDEX jobs_complete_idx ON compute.jobs (last_accessed) WHERE status = 'complete';
-- requeue_stale: in-progress jobs by grab time.
CREATE INDEX jobs_in_progress_idx ON compute.jobs (grabbed) WHERE status = 'in-progress';

INSERT INTO compute.meta (key, value) VALUES ('version', '1.0.0');

-- pg_dump keeps the jobs, and meta but for the version row that this
-- script writes itself.
SELECT pg_catalog.pg_extension_config_dump('compute.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('compute.meta', $$WHERE key <> 'version'$$);

-- The transition check (SPEC section 3), for every client and every path.
CREATE FUNCTION compute._jobs_guard() RETURNS trigger
    LANGUAGE c AS 'MODULE_PATHNAME', 'compute_jobs_guard';

CREATE TRIGGER jobs_guard
    BEFORE INSERT OR UPDATE ON compute.jobs
    FOR EACH ROW EXECUTE FUNCTION compute._jobs_guard();

-- The job API (SPEC section 4). None is STRICT: a NULL where a value is
-- required raises 22004 instead of silently returning NULL.
--
-- Privileges: each function is SECURITY DEFINER (it runs as the extension's
-- owner), and EXECUTE is revoked from PUBLIC below, so a role may do exactly
-- what it was granted functions for, without any privilege on the tables
-- (see README, "Privileges"). Each pins its search_path, so that objects in
-- a caller's schemas cannot change what the internal statements mean.
CREATE FUNCTION compute.submit_job(job_id bytea, queue text, config text DEFAULT NULL,
                                   input_files text[] DEFAULT '{}')
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_submit_job';

CREATE FUNCTION compute.grab_job(queue text, max_jobs int DEFAULT 1)
    RETURNS SETOF compute.jobs
    LANGUAGE c VOLATILE ROWS 1 SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    -- Its statement is planned once per backend, perhaps while the table is
    -- still empty; a queue is read through its index, never sequentially.
    SET enable_seqscan = off
    AS 'MODULE_PATHNAME', 'compute_grab_job';

CREATE FUNCTION compute.finish_job(job_id bytea, status text, output_files text[] DEFAULT NULL)
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_finish_job';

CREATE FUNCTION compute.expire(older_than interval DEFAULT '30 days')
    RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_expire';

CREATE FUNCTION compute.expire_job(job_id bytea)
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_expire_job';

CREATE FUNCTION compute.get_job(job_id bytea)
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_get_job';

CREATE FUNCTION compute.queue_position(job_id bytea)
    RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_queue_position';

CREATE FUNCTION compute.requeue_stale(older_than interval)
    RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_requeue_stale';

CREATE FUNCTION compute.delete_job(job_id bytea)
    RETURNS boolean
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_delete_job';

COMMENT ON FUNCTION compute.submit_job(bytea, text, text, text[]) IS
    'queue a job, or return the existing one (dedupe by hash); failed and expired jobs are resubmitted';
COMMENT ON FUNCTION compute.grab_job(text, int) IS
    'take up to max_jobs oldest queued jobs of a queue and mark them in-progress; never waits, never shares';
COMMENT ON FUNCTION compute.finish_job(bytea, text, text[]) IS
    'finish an in-progress job as complete or failed, with its output files';
COMMENT ON FUNCTION compute.expire(interval) IS
    'expire complete jobs not accessed for older_than; returns how many';
COMMENT ON FUNCTION compute.expire_job(bytea) IS
    'expire one queued, in-progress or complete job';
COMMENT ON FUNCTION compute.get_job(bytea) IS
    'the job, touching last_accessed; NULL when unknown';
COMMENT ON FUNCTION compute.queue_position(bytea) IS
    'for a queued job, how many queued jobs of its queue are ahead of it; NULL otherwise';
COMMENT ON FUNCTION compute.requeue_stale(interval) IS
    'put in-progress jobs grabbed more than older_than ago back in the queue; returns how many';
COMMENT ON FUNCTION compute.delete_job(bytea) IS
    'delete a job; false when unknown';

-- Nobody but the owner may call the API until granted (README, "Privileges").
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA compute FROM PUBLIC;
