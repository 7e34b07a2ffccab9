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
	Count
};

// Runs `plan` with `args` (and `nulls` in SPI's ' '/'n' form, or NULL) under
// an open SPI connection; returns SPI_processed. Errors are ereported.
uint64
Execute(Statement plan, Datum *args, const char *nulls);

} // namespace compute::pg
