-- compute at a steady queue depth: the compute transaction, plus one new job
-- submitted at the tail, so the queue keeps the depth it was loaded with.
-- Needs -D n=0.
\set n :n + 1
\set k :client_id * 1000000000 + :n
BEGIN;
SELECT job_id FROM compute.grab_job('q') \gset
SELECT NULL FROM compute.finish_job(:job_id, 'complete');
SELECT NULL FROM compute.submit_job(decode(md5('new ' || :k::text), 'hex'), 'q', 'config');
END;
