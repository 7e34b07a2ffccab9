-- compute_loop: compute's worker loop as real workers run it: grab_job
-- commits, then finish_job with the attempt token (the fencing token that
-- grab_job returned) commits. Each statement is its own transaction
-- (autocommit): two commits per job. \gset carries job_id and attempt from
-- the grab to the finish.
SELECT job_id, attempt FROM compute.grab_job('q') \gset
SELECT NULL FROM compute.finish_job(:job_id, 'complete', NULL, :attempt);
