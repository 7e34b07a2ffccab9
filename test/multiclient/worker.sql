-- One step of a worker in the multi-client run (pgbench -M extended): grab
-- one job from a random queue; if there was one, finish it and log the
-- finish in the same transaction.
\set q random(0, 1)
SELECT count(*) AS got, coalesce(min(encode(job_id, 'hex')), '') AS jid FROM compute.grab_job('q' || :q) \gset
\if :got
BEGIN;
SELECT status FROM compute.finish_job(decode(:jid, 'hex'), 'complete', ARRAY['out-' || :jid]);
INSERT INTO finish_log (job_id, worker) VALUES (decode(:jid, 'hex'), :client_id);
COMMIT;
\endif
