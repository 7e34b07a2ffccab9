-- Queue marks belong to one database (issue 14, item 1): a grab in one
-- database never scans from another database's position of a queue of the
-- same name, and _queue_marks() shows only the marks of its own database.
-- The output is the same with and without preloading.
\set home :DBNAME
CREATE DATABASE compute_marks_other;
\c compute_marks_other
CREATE EXTENSION compute;
-- Three jobs queued an hour ago in 'shared', in the other database.
INSERT INTO compute.jobs (job_id, status, queue, created)
SELECT decode(md5('other ' || i), 'hex'), 'queued', 'shared', now() - interval '1 hour' + i * interval '1 second'
  FROM generate_series(1, 3) AS i;
\c :home
-- Here, a newer job of a queue with the same name is grabbed: with marks,
-- this database's mark of 'shared' now stands at it.
SELECT status FROM compute.submit_job(decode(md5('home 1'), 'hex'), 'shared');
SELECT job_id = decode(md5('home 1'), 'hex') AS home_job FROM compute.grab_job('shared');
-- And a queue only this database has: with marks, it has a mark here.
SELECT status FROM compute.submit_job(decode(md5('home 2'), 'hex'), 'home only');
SELECT job_id = decode(md5('home 2'), 'hex') AS home_job FROM compute.grab_job('home only');
\c compute_marks_other
-- The other database's older jobs are grabbed, oldest first.
SELECT job_id = decode(md5('other ' || n), 'hex') AS in_order FROM compute.grab_job('shared', 3) WITH ORDINALITY AS g(job_id, status, queue, config, input_files, created, last_accessed, grabbed, finished, output_files, attempt, lease_expires, lease, lost_leases, error, n);
-- Its marks name only its own queues: not 'home only', and 'shared' once
-- (its own; none without preloading).
SELECT count(*) AS foreign_marks FROM compute._queue_marks() WHERE queue <> 'shared';
SELECT count(*) <= 1 AS one_shared_mark FROM compute._queue_marks() WHERE queue = 'shared';
\c :home
DROP DATABASE compute_marks_other;
