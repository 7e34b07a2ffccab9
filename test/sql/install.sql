-- CREATE EXTENSION builds the schema of SPEC sections 1 and 2; DROP
-- EXTENSION removes all of it.
CREATE EXTENSION compute;

SELECT extname, extversion, extrelocatable FROM pg_extension WHERE extname = 'compute';
SELECT key, value = (SELECT extversion FROM pg_extension WHERE extname = 'compute') AS is_current
  FROM compute.meta;

-- Columns: names, types, nullability, in order.
SELECT table_name, column_name, data_type, character_maximum_length AS maxlen,
       udt_name, is_nullable
  FROM information_schema.columns
 WHERE table_schema = 'compute'
 ORDER BY table_name, ordinal_position;

-- Constraints and indexes.
SELECT conrelid::regclass AS tab, contype, pg_get_constraintdef(oid) AS def
  FROM pg_constraint WHERE connamespace = 'compute'::regnamespace
 ORDER BY conrelid::regclass::text, contype, def;
SELECT indexrelid::regclass AS index, pg_get_indexdef(indexrelid) AS def
  FROM pg_index WHERE indrelid = 'compute.jobs'::regclass ORDER BY 1::text;

-- Every function of SPEC section 4, with its signature; none is STRICT;
-- each runs as its owner with a pinned search_path, and PUBLIC may not call
-- it (README, "Privileges").
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result, p.proisstrict AS strict, l.lanname,
       p.prosecdef AS definer, p.proconfig AS config,
       has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'compute'::regnamespace
 ORDER BY p.proname, 2;

-- The jobs table is dumped by pg_dump; meta is, but for the version row.
SELECT extconfig::regclass[] AS config, extcondition FROM pg_extension WHERE extname = 'compute';

-- DROP EXTENSION removes the schema and everything in it.
SELECT (compute.submit_job(decode(md5('x'), 'hex'), 'q')).status;
DROP EXTENSION compute;
SELECT count(*) AS compute_schemas FROM pg_namespace WHERE nspname = 'compute';
SELECT count(*) AS compute_functions FROM pg_proc WHERE proname IN ('grab_job', 'finish_job', '_jobs_guard');
SELECT count(*) AS compute_types FROM pg_type WHERE typname = 'jobs';

-- ... and it installs again, empty.
CREATE EXTENSION compute;
SELECT count(*) AS jobs FROM compute.jobs;

-- A schema named compute that the extension does not own is not taken over.
DROP EXTENSION compute;
CREATE SCHEMA compute;
CREATE EXTENSION compute;
DROP SCHEMA compute;
CREATE EXTENSION compute;

-- Helpers for the tests that follow (schema t is not part of compute):
-- t.id(name) is a job id; t.try(sql) runs a statement and returns 'ok' or
-- 'SQLSTATE: message'.
CREATE SCHEMA t;
CREATE FUNCTION t.id(name text) RETURNS bytea
    LANGUAGE sql IMMUTABLE AS $$ SELECT decode(md5(name), 'hex') $$;
CREATE FUNCTION t.try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
