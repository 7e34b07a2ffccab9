-- check-marks: a submitter that commits 0-100 ms after its insert, so that a
-- job's created (the transaction's start) is older than jobs other
-- submitters commit meanwhile.
\set k random(1, 2000000000)
BEGIN;
SELECT NULL FROM compute.submit_job(decode(md5(:client_id || ' ' || :k || ' ' || random()), 'hex'), 'q');
SELECT pg_sleep(random() * 0.1);
COMMIT;
