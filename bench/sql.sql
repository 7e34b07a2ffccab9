-- sql: the hand-written SKIP LOCKED claim of the oldest queued job, then its
-- finish, in one transaction, on bench.jobs (no trigger).
BEGIN;
UPDATE bench.jobs SET status = 'in-progress', grabbed = now()
 WHERE job_id = (SELECT job_id FROM bench.jobs
                  WHERE queue = 'q' AND status = 'queued'
                  ORDER BY created LIMIT 1
                  FOR UPDATE SKIP LOCKED)
RETURNING job_id \gset
UPDATE bench.jobs SET status = 'complete', finished = now() WHERE job_id = :job_id;
END;
