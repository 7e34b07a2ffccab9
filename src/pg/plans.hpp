// The SQL statements of compute's functions, each prepared once per backend
// and kept (SPI_keepplan) across calls and transactions.
//
// Every statement reaches compute.jobs through SPI, so triggers (the
// transition check), constraints, row locks and a distributed table work as
// for any client. Statements that return a job return it as one column of
// type compute.jobs (a whole-row value built by the executor).
#pragma once

#include "pg/postgres.hpp"

namespace compute::pg {

// Statements marked 1.0 serve a database still at extension version 1.0.0
// (no lease columns): the library serves every installable version.
enum class Statement {
	Submit,          // ($1 job_id, $2 queue, $3 config, $4 input_files) -> job
	Resubmit,        // same arguments -> job, when failed or expired
	Grab10,          // ($1 queue, $2 max_jobs) -> jobs
	Grab,            // ($1 queue, $2 max_jobs, $3 lease) -> jobs
	GrabFromMark,    // ($1 .. $3 as Grab, $4 created, $5 job_id of the mark) -> jobs
	Finish10,        // ($1 job_id, $2 status, $3 output_files) -> job
	Finish,          // ($1 job_id, $2 status, $3 output_files, $4 error) -> job
	FinishFenced,    // ($1 .. $4 as Finish, $5 attempt) -> job
	FinishBatch,       // ($1 job_ids, $2 status) -> count
	FinishBatchFenced, // ($1 job_ids, $2 status, $3 attempts) -> count
	FirstMissing,      // ($1 job_ids) -> the first job_id that does not exist
	FirstDuplicate,    // ($1 job_ids) -> a job_id named more than once
	JobFinished,       // ($1 job_id) -> whether it is complete, failed or expired
	Heartbeat,       // ($1 job_id, $2 attempt, $3 extend, $4 default lease) -> job
	Expire,          // ($1 older_than) -> count
	ExpireJob,       // ($1 job_id) -> job
	GetJob,          // ($1 job_id) -> job
	QueuePosition,   // ($1 job_id) -> bigint
	RequeueStale,    // ($1 older_than) -> count
	ExpiredLeases,   // () -> (job_id, lost_leases) rows, locked
	LoseLease,       // ($1 job_id, $2 next status, $3 error) -> count
	DeleteJob,       // ($1 job_id) -> count
	ExpireBatch,     // ($1 older_than, $2 max rows) -> count (the maintenance worker)
	// Queue-carrying forms (finish_job_in, heartbeat_in, finish_jobs_in,
	// finish_and_grab): the statement above, limited to one queue, which
	// Citus routes to one shard when compute.jobs is distributed.
	FinishIn,            // ($1 .. $4 as Finish, $5 queue) -> job
	FinishFencedIn,      // ($1 .. $5 as FinishFenced, $6 queue) -> job
	HeartbeatIn,         // ($1 .. $4 as Heartbeat, $5 queue) -> job
	FinishBatchIn,       // ($1 job_ids, $2 status, $3 queue) -> job_id rows
	FinishBatchFencedIn, // ($1 job_ids, $2 status, $3 attempts, $4 queue) -> job_id rows
	// Distributed mode only (compute.jobs distributed by queue; README,
	// "Distributed mode").
	LockJobId,       // ($1 key) -> locks the job id on the coordinator until the transaction ends
	LocateJob,       // ($1 job_id) -> (queue, status) on whichever shard holds it
	LocateJobs,      // ($1 job_ids) -> (job_id, queue, status) of those that exist
	RetiredToken,    // ($1 job_id) -> attempt, from compute.retired_attempts (coordinator)
	SubmitIn,        // ($1 .. $4 as Submit, $5 first attempt) -> (job, inserted), by (queue, job_id)
	ResubmitIn,      // ($1 .. $4 as Resubmit) -> job, in its own queue
	DeleteReturning, // ($1 job_id) -> attempt of the deleted row
	RecordRetired,   // ($1 job_id, $2 attempt) -> into compute.retired_attempts (coordinator)
	LeasesRunOut,    // () -> (job_id, lost_leases, queue) rows, unlocked
	LoseLeaseIn,     // ($1 .. $3 as LoseLease, $4 queue, $5 lost_leases read) -> count
	Count
};

// Runs `plan` with `args` (and `nulls` in SPI's ' '/'n' form, or NULL) under
// an open SPI connection; returns SPI_processed. Errors are ereported.
uint64
Execute(Statement plan, Datum *args, const char *nulls);

} // namespace compute::pg
