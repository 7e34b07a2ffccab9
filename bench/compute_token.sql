-- compute_token: as compute, but the worker finishes with its fencing token
-- (the attempt grab_job returned), as a lease-using worker does.
BEGIN;
SELECT job_id, attempt FROM compute.grab_job('q') \gset
SELECT NULL FROM compute.finish_job(:job_id, 'complete', NULL, :attempt);
END;
