-- sql at a steady queue depth: the sql transaction, plus one new job queued
-- at the tail, so the queue keeps the depth it was loaded with.
-- Needs -D n=0.
\set n :n + 1
\set k :client_id * 1000000000 + :n
BEGIN;
UPDATE bench.jobs SET status = 'in-progress', grabbed = now()
 WHERE job_id = (SELECT job_id FROM bench.jobs
                  WHERE queue = 'q' AND status = 'queued'
                  ORDER BY created LIMIT 1
                  FOR UPDATE SKIP LOCKED)
RETURNING job_id \gset
UPDATE bench.jobs SET status = 'complete', finished = now() WHERE job_id = :job_id;
INSERT INTO bench.jobs (job_id, status, queue, config, input_files, created, last_accessed)
VALUES (decode(md5('new ' || :k::text), 'hex'), 'queued', 'q', 'config', '{}', now(), now());
END;
