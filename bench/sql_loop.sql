-- sql_loop: the hand-written worker loop as real workers run it, on
-- bench.jobs (no trigger): the SKIP LOCKED claim of the oldest queued job
-- commits (the job would now run elsewhere), then its finish commits. The
-- statements of sql.sql, each in its own transaction (autocommit): two
-- commits per job. \gset carries the claimed job_id to the finish.
UPDATE bench.jobs SET status = 'in-progress', grabbed = now()
 WHERE job_id = (SELECT job_id FROM bench.jobs
                  WHERE queue = 'q' AND status = 'queued'
                  ORDER BY created LIMIT 1
                  FOR UPDATE SKIP LOCKED)
RETURNING job_id \gset
UPDATE bench.jobs SET status = 'complete', finished = now() WHERE job_id = :job_id;
