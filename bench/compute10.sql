-- compute10: grab the ten oldest queued jobs and finish them with the batch
-- finish_jobs, in one transaction (10 jobs); the same two round trips as
-- sql10.
BEGIN;
SELECT array_agg(job_id) AS ids FROM compute.grab_job('q', 10) \gset
SELECT compute.finish_jobs(:ids::bytea[], 'complete');
END;
