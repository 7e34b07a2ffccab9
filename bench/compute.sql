-- compute: grab the oldest queued job and finish it, in one transaction.
BEGIN;
SELECT job_id FROM compute.grab_job('q') \gset
SELECT NULL FROM compute.finish_job(:job_id, 'complete');
END;
