-- limit: the floor of any queue, two primary-key UPDATEs of one row per
-- transaction and no search at all. Client c takes rows c+1, c+1+clients,
-- ... of the loaded 'job <i>' rows, so no two clients touch the same row
-- (the driver loads more rows than a run can take).
-- Needs -D n=0 -D clients=<clients> -D rows=<rows loaded>.
\set n :n + 1
\set id 1 + (:client_id + :clients * :n) % :rows
BEGIN;
UPDATE bench.jobs SET status = 'in-progress', grabbed = now()
 WHERE job_id = decode(md5('job ' || :id::text), 'hex');
UPDATE bench.jobs SET status = 'complete', finished = now()
 WHERE job_id = decode(md5('job ' || :id::text), 'hex');
END;
