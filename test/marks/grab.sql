-- check-marks: a worker that grabs the oldest job and finishes it, in one
-- statement (an empty queue grabs nothing).
SELECT count(compute.finish_job(job_id, 'complete')) FROM compute.grab_job('q');
