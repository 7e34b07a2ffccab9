-- The benchmark's database: the compute extension, plus the schema `bench`
-- with the reference table that the hand-written SQL systems (limit, sql,
-- sql10) run against, and the loader that every run starts from.
CREATE EXTENSION compute;
CREATE SCHEMA bench;

-- compute.jobs' columns and the indexes of compute 1.0.0
-- (sql/compute--1.0.0.sql), written out rather than copied with LIKE, so
-- that the baseline stays the reference schema whatever compute.jobs grows
-- later. No trigger: the hand-written systems check nothing. The status
-- CHECK is written as compute.jobs writes it (one array constant, which
-- PostgreSQL rebuilds more cheaply at each statement), so that the baseline
-- pays what compute pays for its constraints.
CREATE TABLE bench.jobs (
    job_id        BYTEA        PRIMARY KEY CHECK (length(job_id) = 16),
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
CREATE INDEX jobs_queued_idx ON bench.jobs (queue, created, job_id) WHERE status = 'queued';
CREATE INDEX jobs_complete_idx ON bench.jobs (last_accessed) WHERE status = 'complete';
CREATE INDEX jobs_in_progress_idx ON bench.jobs (grabbed) WHERE status = 'in-progress';

-- bench.load(target, queued, finished): empty target (compute.jobs or
-- bench.jobs) and fill it with
--   `finished` complete jobs 'done <i>' of queue q, last accessed 60 days
--   ago (so compute.expire() takes them all), older than every queued job;
--   `queued` queued jobs 'job <i>' of queue q, created 1 ms apart (distinct
--   created times, oldest first) a day ago.
-- The complete rows skip triggers (session_replication_role = replica):
-- compute's trigger rightly refuses to insert a job as complete. The queued
-- rows go through the trigger like any plain INSERT.
CREATE FUNCTION bench.load(target regclass, queued bigint, finished bigint DEFAULT 0)
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('TRUNCATE %s', target);
    IF finished > 0 THEN
        PERFORM set_config('session_replication_role', 'replica', true);
        EXECUTE format($q$
            INSERT INTO %s (job_id, status, queue, config, input_files, created,
                            last_accessed, grabbed, finished, output_files)
            SELECT decode(md5('done ' || i), 'hex'), 'complete', 'q', 'config done ' || i, '{}',
                   t - interval '1 hour', t, t - interval '1 minute', t, '{out}'
              FROM generate_series(1, $1) i,
                   LATERAL (SELECT now() - interval '60 days' + i * interval '1 ms' AS t) x
            $q$, target) USING finished;
        PERFORM set_config('session_replication_role', 'origin', true);
    END IF;
    EXECUTE format($q$
        INSERT INTO %s (job_id, status, queue, config, input_files, created, last_accessed)
        SELECT decode(md5('job ' || i), 'hex'), 'queued', 'q', 'config ' || i, '{}',
               now() - interval '1 day' + i * interval '1 ms', now()
          FROM generate_series(1, $1) i
        $q$, target) USING queued;
END $$;
