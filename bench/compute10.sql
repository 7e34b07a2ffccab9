-- compute10: grab the ten oldest queued jobs and finish each, in one
-- transaction (10 jobs); the same two round trips as sql10.
BEGIN;
SELECT array_agg(job_id) AS ids FROM compute.grab_job('q', 10) \gset
SELECT count(compute.finish_job(id, 'complete')) FROM unnest(:ids::bytea[]) AS id;
END;
