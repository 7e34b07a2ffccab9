-- sql10: the hand-written SKIP LOCKED claim of the ten oldest queued jobs,
-- then one UPDATE that finishes all ten, in one transaction (10 jobs).
BEGIN;
WITH claimed AS (
    UPDATE bench.jobs SET status = 'in-progress', grabbed = now()
     WHERE job_id IN (SELECT job_id FROM bench.jobs
                       WHERE queue = 'q' AND status = 'queued'
                       ORDER BY created LIMIT 10
                       FOR UPDATE SKIP LOCKED)
    RETURNING job_id)
SELECT array_agg(job_id) AS ids FROM claimed \gset
UPDATE bench.jobs SET status = 'complete', finished = now() WHERE job_id = ANY (:ids::bytea[]);
END;
