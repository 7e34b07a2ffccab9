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

-- Operating compute: the queue overview and the health check (issue 11).
-- Both only read. See README, "Operating".

-- Jobs by the time they finished: the recent window of queue_stats (wait
-- and run times, finishes) and health's "last grab of a queue" read a range
-- of it instead of the whole table. Queued, in-progress and expired rows have
-- no entry, so a submit, a grab, a requeue and an expiry write nothing to it;
-- each finish adds one entry (bench/observe.sh measures what that costs).
CREATE INDEX jobs_finished_idx ON compute.jobs (finished) WHERE status::text = ANY ('{complete,failed}'::text[]);

-- The argument checks of queue_stats() and health(): an interval that is
-- NULL (22004), negative, or too long to subtract from now() (22023).
CREATE FUNCTION compute._check_interval(name text, value interval) RETURNS void
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF value IS NULL THEN
        RAISE EXCEPTION '% must not be NULL', name USING ERRCODE = '22004';
    END IF;
    IF value < interval '0' THEN
        RAISE EXCEPTION '% must not be negative', name USING ERRCODE = '22023';
    END IF;
    BEGIN
        PERFORM pg_catalog.now() - value;
    EXCEPTION WHEN datetime_field_overflow THEN
        RAISE EXCEPTION '% is too long', name USING ERRCODE = '22023',
            DETAIL = 'It must reach back no further than the earliest timestamp.';
    END;
END $$;
REVOKE EXECUTE ON FUNCTION compute._check_interval(text, interval) FROM PUBLIC;

-- compute.queue_stats (a view, window 1 hour) and compute.queue_stats(recent,
-- totals) (a function, any window) are one query, written once here and
-- instantiated twice: %1$s is the window, %2$s says whether the per-status
-- totals of finished jobs are counted. Every part but those totals reads the
-- partial indexes only (queued: jobs_queued_idx, in-progress: the lease and
-- grab indexes, the window: jobs_finished_idx). The totals need a scan of
-- the whole table; in the view they are a LEFT JOIN that the planner drops
-- when a query does not name complete, failed or expired (grouped by its
-- output column, so that it is provably unique per queue).
DO $do$
DECLARE
    overview constant text := $q$
SELECT queue,
       coalesce(qd.queued, 0) AS queued,
       coalesce(ip.in_progress, 0) AS in_progress,
       CASE WHEN %2$s THEN coalesce(t.complete, 0) END AS complete,
       CASE WHEN %2$s THEN coalesce(t.failed, 0) END AS failed,
       CASE WHEN %2$s THEN coalesce(t.expired, 0) END AS expired,
       pg_catalog.now() - qd.oldest_created AS oldest_queued_age,
       coalesce(ip.lease_expired, 0) AS lease_expired,
       (%1$s)::interval AS recent,
       coalesce(w.grabbed_recent, 0) AS grabbed_recent,
       coalesce(w.completed_recent, 0) AS completed_recent,
       coalesce(w.failed_recent, 0) AS failed_recent,
       w.wait[1] AS wait_p50, w.wait[2] AS wait_p95, w.wait[3] AS wait_p99,
       w.run[1] AS run_p50, w.run[2] AS run_p95, w.run[3] AS run_p99
  FROM (SELECT j.queue::text AS queue, pg_catalog.count(*) AS queued, pg_catalog.min(j.created) AS oldest_created
          FROM compute.jobs j
         WHERE j.status = 'queued'
         GROUP BY 1) qd
  FULL JOIN (SELECT j.queue::text AS queue, pg_catalog.count(*) AS in_progress,
                    pg_catalog.count(*) FILTER (WHERE j.lease_expires < pg_catalog.now()) AS lease_expired
               FROM compute.jobs j
              WHERE j.status = 'in-progress'
              GROUP BY 1) ip USING (queue)
  FULL JOIN (SELECT r.queue::text AS queue,
                    pg_catalog.count(*) FILTER (WHERE r.grabbed >= pg_catalog.now() - (%1$s)) AS grabbed_recent,
                    pg_catalog.count(*) FILTER (WHERE r.status = 'complete') AS completed_recent,
                    pg_catalog.count(*) FILTER (WHERE r.status = 'failed') AS failed_recent,
                    pg_catalog.percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.grabbed - r.created)
                        FILTER (WHERE r.grabbed >= pg_catalog.now() - (%1$s)) AS wait,
                    pg_catalog.percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY r.finished - r.grabbed)
                        FILTER (WHERE r.status IN ('complete', 'failed')) AS run
               FROM (SELECT j.queue, j.status, j.created, j.grabbed, j.finished
                       FROM compute.jobs j
                      WHERE j.status IN ('complete', 'failed') AND j.finished >= pg_catalog.now() - (%1$s)
                     UNION ALL
                     SELECT j.queue, j.status, j.created, j.grabbed, NULL
                       FROM compute.jobs j
                      WHERE j.status = 'in-progress' AND j.grabbed >= pg_catalog.now() - (%1$s)) r
              GROUP BY 1) w USING (queue)
  LEFT JOIN (SELECT j.queue::text AS queue,
                    pg_catalog.count(*) FILTER (WHERE j.status = 'complete') AS complete,
                    pg_catalog.count(*) FILTER (WHERE j.status = 'failed') AS failed,
                    pg_catalog.count(*) FILTER (WHERE j.status = 'expired') AS expired
               FROM compute.jobs j
              WHERE %2$s
              GROUP BY 1) t USING (queue)
$q$;
BEGIN
    EXECUTE pg_catalog.format('CREATE VIEW compute.queue_stats AS %s', pg_catalog.format(overview, $$interval '1 hour'$$, 'true'));
    EXECUTE pg_catalog.format($f$
CREATE FUNCTION compute.queue_stats(recent interval DEFAULT '1 hour', totals boolean DEFAULT true)
    RETURNS SETOF compute.queue_stats
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    -- A few milliseconds of work: compiling it to machine code costs more.
    SET jit = off
    AS $body$
BEGIN
    PERFORM compute._check_interval('recent', recent);
    IF totals IS NULL THEN
        RAISE EXCEPTION 'totals must not be NULL' USING ERRCODE = '22004';
    END IF;
    RETURN QUERY %s;
END $body$ $f$, pg_catalog.format(overview, 'recent', 'totals'));
END $do$;
COMMENT ON VIEW compute.queue_stats IS
    'per queue: jobs per status, the oldest queued job, jobs past their lease, and wait and run times of the last hour';
COMMENT ON FUNCTION compute.queue_stats(interval, boolean) IS
    'compute.queue_stats over another window (recent); totals => false skips the per-status counts of finished jobs (a scan of the whole table)';
REVOKE EXECUTE ON FUNCTION compute.queue_stats(interval, boolean) FROM PUBLIC;

-- A duration in words: "45 s", "12 min 3 s", "5 h", "3 days 4 h".
CREATE FUNCTION compute._duration(d interval) RETURNS text
    LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN d IS NULL THEN 'an unknown time'
                WHEN s < 60 THEN s::text || ' s'
                ELSE pg_catalog.concat_ws(' ', big::text || unit, NULLIF(small, 0)::text || small_unit)
           END
      FROM (SELECT greatest(pg_catalog.round(pg_catalog.date_part('epoch', d)::numeric), 0)::bigint AS s) x,
           LATERAL (SELECT CASE WHEN s < 3600 THEN s / 60 WHEN s < 86400 THEN s / 3600 ELSE s / 86400 END AS big,
                           CASE WHEN s < 3600 THEN ' min' WHEN s < 86400 THEN ' h' WHEN s < 2 * 86400 THEN ' day'
                                ELSE ' days' END AS unit,
                           CASE WHEN s < 3600 THEN s % 60 WHEN s < 86400 THEN s % 3600 / 60 ELSE s % 86400 / 3600 END AS small,
                           CASE WHEN s < 3600 THEN ' s' WHEN s < 86400 THEN ' min' ELSE ' h' END AS small_unit) y
$$;

-- compute.health(): one row per finding, worst first within each check.
-- Runs as the extension's owner, so that it sees every session, slot and
-- prepared transaction and reads compute.jobs: whoever may call it sees
-- what pg_monitor members see in pg_stat_activity (README, "Operating").
CREATE FUNCTION compute.health(horizon_warn interval DEFAULT '5 minutes', horizon_critical interval DEFAULT '1 hour',
                               lease_warn interval DEFAULT '5 minutes', lease_critical interval DEFAULT '1 hour',
                               stall_warn interval DEFAULT '15 minutes', stall_critical interval DEFAULT '1 hour',
                               dead_warn float8 DEFAULT 0.3, dead_critical float8 DEFAULT 0.6,
                               slot_warn_xids bigint DEFAULT 10000000, slot_critical_xids bigint DEFAULT 100000000)
    RETURNS TABLE (check_name text, subject text, verdict text, value float8, reason text)
    LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET jit = off AS $$
#variable_conflict use_column
DECLARE
    -- Fewer dead row versions than this are fine whatever their share (a
    -- small table that autovacuum has not come by yet).
    dead_floor constant bigint := 10000;
    -- An index is reported as mostly empty from this size on ...
    index_floor constant bigint := 64 * 1024 * 1024;
    -- ... when it has this many bytes or more per live entry.
    index_bytes_per_entry constant bigint := 1024;
    lookback interval;
BEGIN
    PERFORM compute._check_interval('horizon_warn', horizon_warn), compute._check_interval('horizon_critical', horizon_critical),
            compute._check_interval('lease_warn', lease_warn), compute._check_interval('lease_critical', lease_critical),
            compute._check_interval('stall_warn', stall_warn), compute._check_interval('stall_critical', stall_critical);
    IF dead_warn IS NULL OR dead_critical IS NULL OR slot_warn_xids IS NULL OR slot_critical_xids IS NULL THEN
        RAISE EXCEPTION 'the thresholds of compute.health() must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF NOT (dead_warn >= 0 AND dead_critical <= 1) OR slot_warn_xids < 0 THEN
        RAISE EXCEPTION 'a threshold of compute.health() is out of range' USING ERRCODE = '22023',
            DETAIL = 'Dead row shares are between 0 and 1; transaction counts are not negative.';
    END IF;
    IF horizon_warn > horizon_critical OR lease_warn > lease_critical OR stall_warn > stall_critical
       OR dead_warn > dead_critical OR slot_warn_xids > slot_critical_xids THEN
        RAISE EXCEPTION 'a warn threshold of compute.health() is above its critical one' USING ERRCODE = '22023';
    END IF;

    -- Dead row versions of compute.jobs, and when it was last vacuumed.
    RETURN QUERY
    SELECT 'dead_rows', 'compute.jobs', v.verdict, v.share,
           pg_catalog.format('%s%% of the row versions of compute.jobs are dead (%s dead, %s live); %s',
                             pg_catalog.round((v.share * 100)::numeric, 1), s.n_dead_tup, s.n_live_tup,
                             CASE WHEN s.last_vacuum IS NULL AND s.last_autovacuum IS NULL
                                  THEN 'never vacuumed since its statistics were reset'
                                  ELSE pg_catalog.format('last vacuumed %s ago (%s)',
                                           compute._duration(pg_catalog.now() - greatest(s.last_vacuum, s.last_autovacuum)),
                                           CASE WHEN s.last_autovacuum >= s.last_vacuum OR s.last_vacuum IS NULL
                                                THEN 'autovacuum' ELSE 'VACUUM' END)
                             END
                             || CASE WHEN v.verdict <> 'ok'
                                     THEN ': autovacuum is not keeping up, or a transaction, prepared transaction or'
                                          ' replication slot holds the xmin horizon back (the horizon rows) so that'
                                          ' vacuum cannot remove them'
                                     ELSE '' END)
      FROM pg_catalog.pg_stat_user_tables s,
           LATERAL (SELECT CASE WHEN s.n_dead_tup + s.n_live_tup = 0 THEN 0::float8
                                ELSE s.n_dead_tup::float8 / (s.n_dead_tup + s.n_live_tup) END AS share) d,
           LATERAL (SELECT d.share,
                           CASE WHEN s.n_dead_tup < dead_floor THEN 'ok'
                                WHEN d.share >= dead_critical THEN 'critical'
                                WHEN d.share >= dead_warn THEN 'warn'
                                ELSE 'ok' END AS verdict) v
     WHERE s.relid = 'compute.jobs'::pg_catalog.regclass;

    -- The indexes of compute.jobs: size, live entries as of the last vacuum,
    -- scans. A large index with few entries (a drained backlog) keeps its
    -- pages; REINDEX INDEX CONCURRENTLY gives them back.
    RETURN QUERY
    SELECT 'index_size', i.indexrelid::pg_catalog.regclass::text,
           CASE WHEN x.bytes >= index_floor AND c.reltuples >= 0
                     AND x.bytes >= index_bytes_per_entry * greatest(c.reltuples, 1) THEN 'warn'
                ELSE 'ok' END,
           x.bytes::float8,
           pg_catalog.format('%s: %s, %s; index scans since the statistics were reset: %s',
                             i.indexrelid::pg_catalog.regclass, pg_catalog.pg_size_pretty(x.bytes),
                             CASE WHEN c.reltuples < 0 THEN 'its entries not counted yet'
                                  ELSE pg_catalog.format('%s live entries when last counted (by vacuum, analyze or its build)',
                                                         c.reltuples::bigint) END,
                             coalesce(si.idx_scan, 0))
           || CASE WHEN x.bytes >= index_floor AND c.reltuples >= 0
                        AND x.bytes >= index_bytes_per_entry * greatest(c.reltuples, 1)
                   THEN pg_catalog.format(': mostly empty pages; REINDEX INDEX CONCURRENTLY %s gives them back',
                                          i.indexrelid::pg_catalog.regclass)
                   ELSE '' END
      FROM pg_catalog.pg_index i
      JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
      LEFT JOIN pg_catalog.pg_stat_user_indexes si ON si.indexrelid = i.indexrelid,
           LATERAL (SELECT pg_catalog.pg_relation_size(i.indexrelid) AS bytes) x
     WHERE i.indrelid = 'compute.jobs'::pg_catalog.regclass
     ORDER BY 2;

    -- What holds the xmin horizon back, one row per kind: the oldest holder
    -- in this database (or in none: walsenders, physical slots). Time held
    -- decides for sessions and prepared transactions, transactions behind for
    -- replication (a slot does not say since when).
    RETURN QUERY
    WITH holders AS (
        SELECT CASE WHEN a.state LIKE 'idle in transaction%' THEN 'horizon_idle'
                    WHEN a.backend_type = 'walsender' THEN 'horizon_replication'
                    ELSE 'horizon_transaction' END AS kind,
               'pid ' || a.pid AS who,
               CASE WHEN a.backend_type = 'walsender' THEN NULL ELSE a.xact_start END AS since,
               greatest(pg_catalog.age(a.backend_xid), pg_catalog.age(a.backend_xmin))::bigint AS xids,
               pg_catalog.format('pid %s (role %s, application %L%s, %s)', a.pid, coalesce(a.usename::text, '?'),
                                 a.application_name,
                                 CASE WHEN a.client_addr IS NULL THEN '' ELSE ', client ' || pg_catalog.host(a.client_addr) END,
                                 CASE WHEN a.state LIKE 'idle in transaction%'
                                      THEN pg_catalog.format('%s for %s', a.state, compute._duration(pg_catalog.now() - a.state_change))
                                      WHEN a.backend_type = 'walsender' THEN 'walsender, hot_standby_feedback'
                                      ELSE coalesce(a.state, a.backend_type) END) AS description,
               false AS inactive
          FROM pg_catalog.pg_stat_activity a
         WHERE a.pid <> pg_catalog.pg_backend_pid()
           AND (a.backend_xmin IS NOT NULL OR a.backend_xid IS NOT NULL)
           AND (a.datid IS NULL OR a.datname = pg_catalog.current_database())
           -- (a vacuum's own snapshot does not hold the horizon back)
           AND a.backend_type IS DISTINCT FROM 'autovacuum worker'
        UNION ALL
        SELECT 'horizon_prepared', pg_catalog.format('gid %L', p.gid), p.prepared, pg_catalog.age(p.transaction)::bigint,
               pg_catalog.format('prepared transaction %L (owner %s)', p.gid, p.owner), false
          FROM pg_catalog.pg_prepared_xacts p
         WHERE p.database = pg_catalog.current_database()
        UNION ALL
        SELECT 'horizon_replication', pg_catalog.format('slot %L', r.slot_name), NULL, pg_catalog.age(r.xmin)::bigint,
               pg_catalog.format('replication slot %L (%s, %s)', r.slot_name, r.slot_type,
                                 CASE WHEN r.active THEN 'active, pid ' || r.active_pid ELSE 'inactive' END),
               NOT r.active
          FROM pg_catalog.pg_replication_slots r
         WHERE r.xmin IS NOT NULL AND (r.database IS NULL OR r.database = pg_catalog.current_database())
    ),
    judged AS (
        SELECT h.*,
               CASE WHEN h.since IS NOT NULL THEN
                        CASE WHEN pg_catalog.now() - h.since >= horizon_critical THEN 2
                             WHEN pg_catalog.now() - h.since >= horizon_warn THEN 1 ELSE 0 END
                    ELSE
                        CASE WHEN h.xids >= slot_critical_xids THEN 2
                             WHEN h.xids >= slot_warn_xids OR h.inactive THEN 1 ELSE 0 END
               END AS severity
          FROM holders h
    ),
    worst AS (
        SELECT DISTINCT ON (j.kind) j.*
          FROM judged j
         ORDER BY j.kind, j.severity DESC, j.xids DESC NULLS LAST, j.since NULLS LAST
    )
    SELECT k.kind, w.who,
           CASE coalesce(w.severity, 0) WHEN 2 THEN 'critical' WHEN 1 THEN 'warn' ELSE 'ok' END,
           CASE WHEN w.kind IS NULL THEN 0::float8
                WHEN w.since IS NOT NULL THEN pg_catalog.date_part('epoch', pg_catalog.now() - w.since)
                ELSE w.xids::float8 END,
           CASE WHEN w.kind IS NULL THEN k.none
                ELSE pg_catalog.format('%s %s; it holds the xmin horizon %s %s back: vacuum cannot remove'
                                       ' the row versions of compute.jobs that died since%s',
                                       w.description,
                                       CASE WHEN w.since IS NULL THEN 'does not say since when'
                                            WHEN k.kind = 'horizon_prepared'
                                            THEN 'was prepared ' || compute._duration(pg_catalog.now() - w.since) || ' ago'
                                            ELSE 'has been in its transaction for ' || compute._duration(pg_catalog.now() - w.since) END,
                                       coalesce(w.xids::text, '?'),
                                       CASE WHEN w.xids = 1 THEN 'transaction' ELSE 'transactions' END,
                                       CASE WHEN w.severity = 0 THEN ''
                                            WHEN k.kind = 'horizon_prepared' THEN ' (COMMIT PREPARED or ROLLBACK PREPARED it)'
                                            WHEN k.kind = 'horizon_replication' AND w.who LIKE 'slot %'
                                            THEN ' (a standby gone for good: pg_drop_replication_slot)'
                                            WHEN k.kind = 'horizon_replication' THEN ' (a long query on the standby)'
                                            ELSE ' (end it, or pg_terminate_backend)' END)
           END
      FROM (VALUES (1, 'horizon_transaction', 'no transaction of another session holds the xmin horizon back'),
                   (2, 'horizon_idle', 'no session idle in a transaction holds the xmin horizon back'),
                   (3, 'horizon_prepared', 'no prepared transaction holds the xmin horizon back'),
                   (4, 'horizon_replication', 'no replication slot or standby holds the xmin horizon back'))
           AS k(n, kind, none)
      LEFT JOIN worst w ON w.kind = k.kind
     ORDER BY k.n;

    -- Jobs that lost their lease long ago and are still in progress: nobody
    -- calls requeue_stale() (jobs_lease_idx).
    RETURN QUERY
    WITH stuck AS (
        SELECT j.queue::text AS queue, pg_catalog.count(*) AS jobs, pg_catalog.min(j.lease_expires) AS oldest
          FROM compute.jobs j
         WHERE j.status = 'in-progress' AND j.lease_expires < pg_catalog.now() - lease_warn
         GROUP BY 1
    )
    SELECT f.* FROM (
        SELECT 'stuck_leases' AS check_name, s.queue AS subject,
               CASE WHEN pg_catalog.now() - s.oldest >= lease_critical THEN 'critical' ELSE 'warn' END AS verdict,
               s.jobs::float8 AS value,
               pg_catalog.format('%s in-progress %s of queue %L whose lease ran out more than %s ago (the oldest %s ago),'
                                 ' not requeued: is compute.requeue_stale() called every few seconds?',
                                 s.jobs, CASE WHEN s.jobs = 1 THEN 'job' ELSE 'jobs' END, s.queue, compute._duration(lease_warn), compute._duration(pg_catalog.now() - s.oldest))
                   AS reason
          FROM stuck s
        UNION ALL
        SELECT 'stuck_leases', NULL, 'ok', 0::float8,
               pg_catalog.format('no in-progress job is past its lease by more than %s', compute._duration(lease_warn))
         WHERE NOT EXISTS (SELECT FROM stuck)) f
     ORDER BY f.verdict = 'critical' DESC, f.value DESC, f.subject;

    -- Queues whose queued jobs wait while nobody grabs: the oldest queued job
    -- waits since longer than stall_warn, and no job of the queue was grabbed
    -- since it was queued (looking back stall_critical at most).
    lookback := stall_critical;
    RETURN QUERY
    WITH candidates AS (
        SELECT j.queue::text AS queue, pg_catalog.count(*) AS queued, pg_catalog.min(j.created) AS oldest
          FROM compute.jobs j
         WHERE j.status = 'queued'
         GROUP BY 1
        HAVING pg_catalog.min(j.created) < pg_catalog.now() - stall_warn
    ),
    idle AS (
        SELECT c.*, g.last_grab,
               pg_catalog.now() - greatest(c.oldest, g.last_grab) AS idle_for
          FROM candidates c,
               LATERAL (SELECT pg_catalog.max(x.grabbed) AS last_grab
                          FROM (SELECT j.grabbed FROM compute.jobs j
                                 WHERE j.status = 'in-progress' AND j.queue = c.queue
                                   AND j.grabbed >= pg_catalog.now() - lookback
                                UNION ALL
                                SELECT j.grabbed FROM compute.jobs j
                                 WHERE j.status IN ('complete', 'failed') AND j.queue = c.queue
                                   AND j.finished >= pg_catalog.now() - lookback
                                   AND j.grabbed >= pg_catalog.now() - lookback) x) g
    ),
    stalled AS (
        SELECT i.*, CASE WHEN i.idle_for >= stall_critical THEN 'critical' ELSE 'warn' END AS verdict
          FROM idle i
         WHERE i.idle_for >= stall_warn
    )
    SELECT f.* FROM (
        SELECT 'stalled_queue' AS check_name, s.queue AS subject, s.verdict,
               pg_catalog.date_part('epoch', s.idle_for) AS value,
               pg_catalog.format('queue %L has %s queued %s, the oldest queued %s ago, and %s: are its workers running?',
                                 s.queue, s.queued, CASE WHEN s.queued = 1 THEN 'job' ELSE 'jobs' END, compute._duration(pg_catalog.now() - s.oldest),
                                 CASE WHEN s.last_grab IS NULL
                                      THEN 'no job of it was grabbed in the last ' || compute._duration(lookback)
                                      ELSE 'its last grab was ' || compute._duration(pg_catalog.now() - s.last_grab) || ' ago'
                                 END) AS reason
          FROM stalled s
        UNION ALL
        SELECT 'stalled_queue', NULL, 'ok', 0::float8,
               pg_catalog.format('every queue with jobs queued for more than %s had a grab since',
                                 compute._duration(stall_warn))
         WHERE NOT EXISTS (SELECT FROM stalled)) f
     ORDER BY f.verdict = 'critical' DESC, f.value DESC, f.subject;
END $$;
COMMENT ON FUNCTION compute.health(interval, interval, interval, interval, interval, interval, float8, float8, bigint, bigint) IS
    'one row per finding (ok, warn, critical) with its reason: dead rows and indexes of compute.jobs, what holds the xmin horizon back, jobs stuck past their lease, queues nobody grabs from';
REVOKE EXECUTE ON FUNCTION compute.health(interval, interval, interval, interval, interval, interval, float8, float8, bigint, bigint),
    compute._duration(interval) FROM PUBLIC;

-- Queue-carrying forms of the hot calls (issue 12): the same as finish_job,
-- heartbeat and finish_jobs, given the queue of the job(s) as well. On one
-- server they answer exactly as the forms without it. On a distributed
-- table (compute.distribute()) the queue lets Citus route each statement to
-- the one shard that holds the job (a job that is not in that queue is
-- looked for everywhere, as by the forms without it, so a wrong queue costs
-- time, never a wrong answer).
CREATE FUNCTION compute.finish_job_in(queue text, job_id bytea, status text, output_files text[] DEFAULT NULL,
                                      attempt int DEFAULT NULL, error text DEFAULT NULL)
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_finish_job_in';
CREATE FUNCTION compute.heartbeat_in(queue text, job_id bytea, attempt int, extend interval DEFAULT NULL)
    RETURNS compute.jobs
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_heartbeat_in';
CREATE FUNCTION compute.finish_jobs_in(queue text, job_ids bytea[], status text, attempts int[] DEFAULT NULL)
    RETURNS bigint
    LANGUAGE c VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'compute_finish_jobs_in';
REVOKE EXECUTE ON FUNCTION compute.finish_job_in(text, bytea, text, text[], int, text),
    compute.heartbeat_in(text, bytea, int, interval), compute.finish_jobs_in(text, bytea[], text, int[]) FROM PUBLIC;
COMMENT ON FUNCTION compute.finish_job_in(text, bytea, text, text[], int, text) IS
    'finish_job, given the job''s queue too: on a distributed table, routed to the one shard of that queue';
COMMENT ON FUNCTION compute.heartbeat_in(text, bytea, int, interval) IS
    'heartbeat, given the job''s queue too: on a distributed table, routed to the one shard of that queue';
COMMENT ON FUNCTION compute.finish_jobs_in(text, bytea[], text, int[]) IS
    'finish_jobs, given the jobs'' queue too: on a distributed table, routed to the one shard of that queue';

-- Distributed mode (issue 12): compute.jobs becomes a Citus table
-- distributed by queue, on a Citus coordinator. A mode the user turns on,
-- never the default: the primary key becomes (queue, job_id) (Citus wants
-- the distribution column in every unique index); job_id stays unique
-- across queues because every submit through compute's functions looks the
-- id up first, under a lock of the id on the coordinator (see README,
-- "Distributed mode"). The row triggers that write other tables
-- (retired tokens on DELETE and TRUNCATE) step aside: delete_job records
-- the token on the coordinator instead.
CREATE FUNCTION compute.distribute(shard_count int DEFAULT 32)
    RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF shard_count IS NULL THEN
        RAISE EXCEPTION 'shard_count must not be NULL' USING ERRCODE = '22004';
    END IF;
    IF shard_count < 1 OR shard_count > 64000 THEN
        RAISE EXCEPTION 'shard_count must be between 1 and 64000' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        RAISE EXCEPTION 'compute.distribute() needs the Citus extension in this database' USING ERRCODE = '55000',
            HINT = 'CREATE EXTENSION citus on the coordinator and every worker, add the workers (citus_add_node), then call it again.';
    END IF;
    IF NOT pg_catalog.citus_is_coordinator() THEN
        RAISE EXCEPTION 'compute.distribute() must run on the Citus coordinator' USING ERRCODE = '55000';
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'compute.jobs'::pg_catalog.regclass) THEN
        RAISE EXCEPTION 'compute.jobs is distributed already' USING ERRCODE = '55000';
    END IF;
    -- Triggers on a distributed table: the guard fires on the shards.
    PERFORM pg_catalog.set_config('citus.enable_unsafe_triggers', 'on', true);
    DROP TRIGGER IF EXISTS jobs_retire ON compute.jobs;
    DROP TRIGGER IF EXISTS jobs_truncate ON compute.jobs;
    ALTER TABLE compute.jobs DROP CONSTRAINT jobs_pkey,
        ADD CONSTRAINT jobs_pkey PRIMARY KEY (queue, job_id);
    -- The calls that name only a job id find it on every shard by this index.
    CREATE INDEX jobs_job_id_idx ON compute.jobs (job_id);
    -- Citus copies the existing rows into the shards with INSERTs that the
    -- guard would judge as new jobs (an in-progress one "cannot be
    -- created"): they were judged when written, so the guard sleeps during
    -- the copy and wakes on every shard after it.
    ALTER TABLE compute.jobs DISABLE TRIGGER jobs_guard;
    PERFORM pg_catalog.create_distributed_table('compute.jobs', 'queue', shard_count => shard_count);
    ALTER TABLE compute.jobs ENABLE ALWAYS TRIGGER jobs_guard;
END $$;
REVOKE EXECUTE ON FUNCTION compute.distribute(int) FROM PUBLIC;
COMMENT ON FUNCTION compute.distribute(int) IS
    'on a Citus coordinator: distribute compute.jobs by queue over shard_count shards (primary key (queue, job_id)); see README, "Distributed mode"';

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
