-- One step of a worker in scripts/check-crash.sh (pgbench -M extended): grab
-- one job from a random queue (its own transaction); if there was one,
-- finish it and log the finish, with what finish_job returned, in one
-- transaction. The crash check compares the log with the jobs afterwards.
\set q random(0, 1)
SELECT count(*) AS got, coalesce(min(encode(job_id, 'hex')), '') AS jid FROM compute.grab_job('q' || :q) \gset
\if :got
BEGIN;
SELECT finished AS fin, grabbed AS gr FROM compute.finish_job(decode(:jid, 'hex'), 'complete', ARRAY['out-' || :jid]) \gset
INSERT INTO finish_log (job_id, worker, finished, grabbed) VALUES (decode(:jid, 'hex'), :client_id, :fin, :gr);
COMMIT;
\endif
