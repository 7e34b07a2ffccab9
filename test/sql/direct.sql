-- The finish's direct path (compute.direct_path, on by default; the suite
-- runs once preloaded with it and once on demand with it off, and must
-- answer the same both times): what it keeps per backend follows the
-- table, and it steps aside where the SQL statement would behave
-- differently.
DELETE FROM compute.jobs;
\set SHOW_CONTEXT never
CREATE FUNCTION t.dname(id bytea) RETURNS text LANGUAGE sql AS
    $$ SELECT 'd' || i FROM generate_series(1, 8) i WHERE t.id('d' || i) = id $$;
INSERT INTO compute.jobs (job_id, status, queue, created)
SELECT t.id('d' || i), 'queued', 'direct', now() - (10 - i) * interval '1 minute' FROM generate_series(1, 8) i;
SELECT count(*) FROM compute.grab_job('direct', 8);
-- A finish stores the output files as the column's type (varchar[]), which
-- a varchar[] can be appended to.
SELECT status, output_files FROM compute.finish_job(t.id('d1'), 'complete', '{a}');
SELECT output_files || '{b}'::varchar[] FROM compute.jobs WHERE job_id = t.id('d1');

-- The CHECK constraints hold as they are at each finish: a new session's
-- first finish keeps the expressions of the table's constraints, which are
-- forgotten with the table's relcache entry when one is replaced by
-- another. Each refusal is the constraint's own error and changes nothing.
\c -
\set SHOW_CONTEXT never
ALTER TABLE compute.jobs ADD CONSTRAINT no_forbidden_file
    CHECK (output_files IS NULL OR NOT 'forbidden' = ANY (output_files));
SELECT status, output_files FROM compute.finish_job(t.id('d2'), 'complete', '{allowed}');
ALTER TABLE compute.jobs DROP CONSTRAINT no_forbidden_file;
ALTER TABLE compute.jobs ADD CONSTRAINT no_banned_file
    CHECK (output_files IS NULL OR NOT 'banned' = ANY (output_files));
SELECT t.try($$SELECT compute.finish_job(t.id('d3'), 'complete', '{banned}')$$);
SELECT status, output_files FROM compute.jobs WHERE job_id = t.id('d3');
SELECT status, output_files FROM compute.finish_job(t.id('d3'), 'complete', '{forbidden}');
ALTER TABLE compute.jobs DROP CONSTRAINT no_banned_file;

-- A constraint calling an SQL function (the direct path keeps only
-- expressions of built-in functions) holds too.
CREATE FUNCTION t.allowed(files varchar[]) RETURNS boolean LANGUAGE sql IMMUTABLE
    AS $$ SELECT files IS NULL OR NOT 'banned' = ANY (files) $$;
ALTER TABLE compute.jobs ADD CONSTRAINT allowed_files CHECK (t.allowed(output_files));
SELECT t.try($$SELECT compute.finish_job(t.id('d4'), 'complete', '{banned}')$$);
SELECT status FROM compute.jobs WHERE job_id = t.id('d4');
ALTER TABLE compute.jobs DROP CONSTRAINT allowed_files;

-- Triggers of the table's owner: a BEFORE ROW trigger (named to fire
-- before the guard) sees the finish and may change the row; an AFTER ROW
-- and a statement trigger fire as for any UPDATE.
CREATE TABLE t.seen (what text, job bytea, status text, files varchar[]);
CREATE FUNCTION t.before_finish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO t.seen VALUES ('before', NEW.job_id, NEW.status, NEW.output_files);
    NEW.output_files := NEW.output_files || '{stamped}'::varchar[];
    RETURN NEW;
END $$;
CREATE FUNCTION t.after_finish() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO t.seen VALUES (TG_LEVEL || ' ' || TG_WHEN, CASE WHEN TG_LEVEL = 'ROW' THEN NEW.job_id END,
                               CASE WHEN TG_LEVEL = 'ROW' THEN NEW.status END,
                               CASE WHEN TG_LEVEL = 'ROW' THEN NEW.output_files END);
    RETURN NULL;
END $$;
CREATE TRIGGER a_before BEFORE UPDATE ON compute.jobs FOR EACH ROW EXECUTE FUNCTION t.before_finish();
SELECT status, output_files FROM compute.finish_job(t.id('d5'), 'complete', '{x}');
CREATE TRIGGER z_after AFTER UPDATE ON compute.jobs FOR EACH ROW EXECUTE FUNCTION t.after_finish();
SELECT status, output_files FROM compute.finish_job(t.id('d6'), 'failed', error => 'broken');
DROP TRIGGER z_after ON compute.jobs;
CREATE TRIGGER z_statement AFTER UPDATE ON compute.jobs FOR EACH STATEMENT EXECUTE FUNCTION t.after_finish();
SELECT status FROM compute.finish_job(t.id('d7'), 'complete');
DROP TRIGGER z_statement ON compute.jobs;
DROP TRIGGER a_before ON compute.jobs;
SELECT what, t.dname(job) AS job, status, files FROM t.seen ORDER BY what, t.dname(job);

-- In a REPEATABLE READ transaction (left to the SQL statement) a finish
-- is the same.
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT status, output_files FROM compute.finish_job(t.id('d8'), 'complete', attempt => 1);
COMMIT;
SELECT string_agg(t.dname(job_id), ' ' ORDER BY t.dname(job_id)), status FROM compute.jobs GROUP BY status ORDER BY status;
