-- A demo worker's step (pgbench -M extended): grab a job from one of the two
-- queues, "run" it, and report it complete with an output file, or failed
-- (one job in ten).
\set q random(0, 1)
\set fail random(1, 10)
SELECT count(*) AS got, coalesce(min(encode(job_id, 'hex')), '') AS jid
  FROM compute.grab_job(CASE WHEN :q = 0 THEN 'render' ELSE 'encode' END) \gset
\if :got
\if :fail = 1
SELECT status FROM compute.finish_job(decode(:jid, 'hex'), 'failed');
\else
SELECT status FROM compute.finish_job(decode(:jid, 'hex'), 'complete', ARRAY[:jid || '.out']);
\endif
\endif
