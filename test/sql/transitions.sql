-- Every cell of the transition table (SPEC section 3), through plain SQL and
-- through the functions, with the column rules of each transition.
DELETE FROM compute.jobs;

-- t.make(name, status): a job in that status, reached through the functions.
-- Each job gets a queue of its own, so a grab takes exactly that job.
CREATE FUNCTION t.make(name text, st text) RETURNS bytea LANGUAGE plpgsql AS $$
DECLARE
    id bytea := t.id(name);
BEGIN
    PERFORM compute.submit_job(id, name, 'config of ' || name, '{in.dat}');
    IF st IN ('in-progress', 'complete', 'failed') THEN
        PERFORM compute.grab_job(name);
    END IF;
    IF st IN ('complete', 'failed') THEN
        PERFORM compute.finish_job(id, st, '{out.dat}');
    END IF;
    IF st = 'expired' THEN
        PERFORM compute.expire_job(id);
    END IF;
    IF (SELECT status FROM compute.jobs WHERE job_id = id) IS DISTINCT FROM st THEN
        RAISE EXCEPTION 'could not make % %', name, st;
    END IF;
    RETURN id;
END $$;

-- t.rules(id, before): what breaks the column rules after a transition of
-- job id from the row `before`; empty when they hold.
CREATE FUNCTION t.rules(id bytea, before compute.jobs) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    j compute.jobs;
    broken text := '';
BEGIN
    SELECT * INTO j FROM compute.jobs WHERE job_id = id;
    IF j.job_id <> before.job_id OR j.created <> before.created THEN
        broken := broken || ' id/created changed';
    END IF;
    IF j.status = 'queued' AND (j.grabbed IS NOT NULL OR j.finished IS NOT NULL OR j.output_files IS NOT NULL) THEN
        broken := broken || ' queued but not cleared';
    END IF;
    IF j.status = 'in-progress' AND j.grabbed IS DISTINCT FROM now() THEN
        broken := broken || ' grabbed not set';
    END IF;
    IF j.status IN ('complete', 'failed') AND j.finished IS DISTINCT FROM now() THEN
        broken := broken || ' finished not set';
    END IF;
    IF j.status = 'expired' AND (j.grabbed IS DISTINCT FROM before.grabbed OR j.finished IS DISTINCT FROM before.finished) THEN
        broken := broken || ' expired changed run fields';
    END IF;
    RETURN broken;
END $$;

-- Plain UPDATE ... SET status = <to> on a job in each status, and INSERT as
-- <to> for a new job. A cell is 'yes' when allowed (and the column rules
-- hold), 'no' when refused with 55000 and nothing changed.
CREATE TABLE t.sql_cells (from_status text, to_status text, cell text);
DO $$
DECLARE
    statuses text[] := ARRAY['queued', 'in-progress', 'complete', 'failed', 'expired'];
    f text;
    t_ text;
    id bytea;
    before compute.jobs;
    outcome text;
    broken text;
BEGIN
    FOREACH t_ IN ARRAY statuses LOOP
        -- new -> t_
        id := t.id('new-' || t_);
        outcome := t.try(format(
            'INSERT INTO compute.jobs (job_id, status, queue, input_files, grabbed, finished, output_files)'
            ' VALUES (%L, %L, %L, %L, now() - interval ''1 day'', now() - interval ''1 day'', ''{x}'')',
            id, t_, 'new', '{}'));
        IF outcome = 'ok' THEN
            before := NULL;
            SELECT * INTO before FROM compute.jobs WHERE job_id = id;
            broken := t.rules(id, before);
            INSERT INTO t.sql_cells VALUES ('(new)', t_, CASE WHEN broken = '' THEN 'yes' ELSE 'yes but' || broken END);
        ELSE
            INSERT INTO t.sql_cells VALUES ('(new)', t_,
                CASE WHEN outcome LIKE '55000:%' AND NOT EXISTS (SELECT FROM compute.jobs WHERE job_id = id)
                     THEN 'no' ELSE outcome END);
        END IF;

        FOREACH f IN ARRAY statuses LOOP
            id := t.make(f || '>' || t_, f);
            SELECT * INTO before FROM compute.jobs WHERE job_id = id;
            outcome := t.try(format('UPDATE compute.jobs SET status = %L WHERE job_id = %L', t_, id));
            IF outcome = 'ok' THEN
                broken := t.rules(id, before);
                INSERT INTO t.sql_cells VALUES (f, t_, CASE WHEN broken = '' THEN 'yes' ELSE 'yes but' || broken END);
            ELSE
                INSERT INTO t.sql_cells VALUES (f, t_,
                    CASE WHEN outcome LIKE '55000:%'
                              AND (SELECT j::text FROM compute.jobs j WHERE job_id = id) = before::text
                         THEN 'no' ELSE outcome END);
            END IF;
        END LOOP;
    END LOOP;
END $$;

-- The table of SPEC section 3, rows "to", columns "from".
SELECT to_status AS "to \ from",
       max(cell) FILTER (WHERE from_status = '(new)') AS "(new)",
       max(cell) FILTER (WHERE from_status = 'queued') AS queued,
       max(cell) FILTER (WHERE from_status = 'in-progress') AS "in-progress",
       max(cell) FILTER (WHERE from_status = 'complete') AS complete,
       max(cell) FILTER (WHERE from_status = 'failed') AS failed,
       max(cell) FILTER (WHERE from_status = 'expired') AS expired
  FROM t.sql_cells
 GROUP BY to_status
 ORDER BY array_position(ARRAY['queued', 'in-progress', 'complete', 'failed', 'expired'], to_status);

-- The refusal names the job and both statuses.
SELECT t.try(format('UPDATE compute.jobs SET status = %L WHERE job_id = %L', 'in-progress', t.id('complete>in-progress')));

-- An UPDATE that does not name status is no transition; one that names it
-- with the same value is (a re-route of a queued job; a second finish of a
-- complete job is refused).
SELECT t.make('touch', 'complete') IS NOT NULL AS made;
SELECT t.try($$UPDATE compute.jobs SET last_accessed = now(), config = 'changed' WHERE job_id = t.id('touch')$$);
SELECT status, config FROM compute.jobs WHERE job_id = t.id('touch');
SELECT t.try($$UPDATE compute.jobs SET status = status WHERE job_id = t.id('touch')$$);
SELECT t.make('reroute', 'queued') IS NOT NULL AS made;
SELECT t.try($$UPDATE compute.jobs SET status = 'queued', queue = 'elsewhere' WHERE job_id = t.id('reroute')$$);
SELECT status, queue FROM compute.jobs WHERE job_id = t.id('reroute');

-- job_id and created never change, with or without a status change.
SELECT t.try($$UPDATE compute.jobs SET job_id = t.id('renamed') WHERE job_id = t.id('touch')$$);
SELECT t.try($$UPDATE compute.jobs SET created = now() - interval '1 day' WHERE job_id = t.id('touch')$$);
SELECT t.try($$UPDATE compute.jobs SET status = 'queued', created = now() - interval '1 day' WHERE job_id = t.id('touch')$$);

-- An UPDATE that does not name status still leaves the row consistent with
-- its status: no run fields on a queued job, grabbed and no finish on an
-- in-progress one, grabbed and finished on a finished one.
SELECT t.make('consistent-q', 'queued') IS NOT NULL AND t.make('consistent-p', 'in-progress') IS NOT NULL
       AND t.make('consistent-c', 'complete') IS NOT NULL AS made;
SELECT t.try($$UPDATE compute.jobs SET grabbed = now() WHERE job_id = t.id('consistent-q')$$);
SELECT t.try($$UPDATE compute.jobs SET output_files = '{x}', finished = now() WHERE job_id = t.id('consistent-q')$$);
SELECT t.try($$UPDATE compute.jobs SET grabbed = NULL WHERE job_id = t.id('consistent-p')$$);
SELECT t.try($$UPDATE compute.jobs SET finished = now() WHERE job_id = t.id('consistent-p')$$);
SELECT t.try($$UPDATE compute.jobs SET finished = NULL WHERE job_id = t.id('consistent-c')$$);
-- Moving a time, or fixing a finished job's outputs, is allowed.
SELECT t.try($$UPDATE compute.jobs SET grabbed = grabbed - interval '1 hour' WHERE job_id = t.id('consistent-p')$$);
SELECT t.try($$UPDATE compute.jobs SET output_files = '{fixed.out}' WHERE job_id = t.id('consistent-c')$$);

-- INSERT ... ON CONFLICT DO UPDATE passes the same check.
SELECT t.try($$INSERT INTO compute.jobs (job_id, status, queue, input_files) VALUES (t.id('touch'), 'queued', 'q', '{}')
              ON CONFLICT (job_id) DO UPDATE SET status = 'in-progress'$$);

-- A multi-row UPDATE with one forbidden row changes nothing at all.
SELECT count(*) AS jobs, count(*) FILTER (WHERE status = 'queued') AS queued FROM compute.jobs \gset
SELECT md5(string_agg(j::text, ',' ORDER BY job_id)) AS snapshot FROM compute.jobs j \gset
SELECT split_part(t.try($$UPDATE compute.jobs SET status = 'in-progress'$$), ':', 1) AS refused;
SELECT md5(string_agg(j::text, ',' ORDER BY job_id)) = :'snapshot' AS unchanged FROM compute.jobs j;

-- Through the functions: what each call does to a job in each status
-- (resulting status, or the SQLSTATE of the refusal).
CREATE TABLE t.fn_cells (from_status text, call text, outcome text);
DO $$
DECLARE
    statuses text[] := ARRAY['queued', 'in-progress', 'complete', 'failed', 'expired'];
    calls text[] := ARRAY['submit_job', 'grab_job', 'finish complete', 'finish failed', 'expire_job',
                          'expire', 'requeue_stale'];
    f text;
    c text;
    id bytea;
    name text;
    before compute.jobs;
    outcome text;
    sql text;
BEGIN
    FOREACH f IN ARRAY statuses LOOP
        FOREACH c IN ARRAY calls LOOP
            name := 'fn ' || f || ' ' || c;
            id := t.make(name, f);
            UPDATE compute.jobs SET last_accessed = now() - interval '1 year',
                                    grabbed = CASE WHEN grabbed IS NULL THEN NULL ELSE now() - interval '1 year' END
             WHERE job_id = id;
            SELECT * INTO before FROM compute.jobs WHERE job_id = id;
            sql := CASE c
                WHEN 'submit_job' THEN format('SELECT compute.submit_job(%L, %L)', id, name)
                WHEN 'grab_job' THEN format('SELECT compute.grab_job(%L)', name)
                WHEN 'finish complete' THEN format('SELECT compute.finish_job(%L, ''complete'')', id)
                WHEN 'finish failed' THEN format('SELECT compute.finish_job(%L, ''failed'')', id)
                WHEN 'expire_job' THEN format('SELECT compute.expire_job(%L)', id)
                WHEN 'expire' THEN 'SELECT compute.expire(''1 day'')'
                WHEN 'requeue_stale' THEN 'SELECT compute.requeue_stale(''1 day'')'
            END;
            outcome := t.try(sql);
            IF outcome = 'ok' THEN
                -- The column rules apply when the status changed.
                SELECT status || CASE WHEN status = before.status OR t.rules(id, before) = '' THEN ''
                                      ELSE ' but' || t.rules(id, before) END
                  INTO outcome FROM compute.jobs WHERE job_id = id;
            ELSIF (SELECT j::text FROM compute.jobs j WHERE job_id = id) = before::text THEN
                outcome := split_part(outcome, ':', 1);
            ELSE
                outcome := outcome || ' AND CHANGED';
            END IF;
            INSERT INTO t.fn_cells VALUES (f, c, outcome);
        END LOOP;
    END LOOP;
END $$;

SELECT call,
       max(outcome) FILTER (WHERE from_status = 'queued') AS queued,
       max(outcome) FILTER (WHERE from_status = 'in-progress') AS "in-progress",
       max(outcome) FILTER (WHERE from_status = 'complete') AS complete,
       max(outcome) FILTER (WHERE from_status = 'failed') AS failed,
       max(outcome) FILTER (WHERE from_status = 'expired') AS expired
  FROM t.fn_cells
 GROUP BY call
 ORDER BY array_position(ARRAY['submit_job', 'grab_job', 'finish complete', 'finish failed', 'expire_job',
                               'expire', 'requeue_stale'], call);

-- The trigger's column numbers are kept per table (1.2.0) and forgotten when
-- the table changes: once status is dropped and added again (a new column
-- number), the trigger reads and checks the new column.
CREATE TABLE t.cols (job_id bytea PRIMARY KEY, status varchar(11) NOT NULL, queue text NOT NULL,
                     input_files text[], created timestamptz NOT NULL DEFAULT now(), grabbed timestamptz,
                     finished timestamptz, output_files text[], last_accessed timestamptz);
CREATE TRIGGER guard BEFORE INSERT OR UPDATE ON t.cols FOR EACH ROW EXECUTE FUNCTION compute._jobs_guard();
INSERT INTO t.cols (job_id, status, queue) VALUES (decode(md5('cols'), 'hex'), 'queued', 'cols');
UPDATE t.cols SET status = 'complete';
ALTER TABLE t.cols DROP COLUMN status;
ALTER TABLE t.cols ADD COLUMN status varchar(11) NOT NULL DEFAULT 'queued';
UPDATE t.cols SET status = 'complete';
UPDATE t.cols SET status = 'in-progress';
SELECT status, grabbed IS NOT NULL AS grabbed FROM t.cols;
DROP TABLE t.cols;
