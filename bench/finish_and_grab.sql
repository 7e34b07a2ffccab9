-- finish_and_grab: compute's one-call worker loop. Each transaction is one
-- statement (autocommit) that finishes the job the client holds, with its
-- attempt token, and grabs the next: one commit per job.
--
-- The client keeps the job it holds in its pgbench variables job_id and
-- attempt, which persist from one transaction to the next. A client holds
-- no job before its first transaction: `held` (-D held=0) says whether it
-- does. The client's first transaction only grabs (grab_job, as a worker
-- starts) and sets it; every later one finishes and grabs. Jobs are counted
-- as the complete rows, so the first transaction of each client (a grab)
-- and the job each client holds at the end (in progress) count as no job.
-- Needs -D held=0.
\if :held
SELECT job_id, attempt FROM compute.finish_and_grab(:job_id, 'complete', 'q', NULL, :attempt) \gset
\else
SELECT job_id, attempt FROM compute.grab_job('q') \gset
\set held 1
\endif
