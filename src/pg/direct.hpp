// The direct path of the hot calls: a finish (the primary-key UPDATE of one
// job) and a grab (the UPDATE of the oldest queued jobs of a queue, FOR
// UPDATE SKIP LOCKED) made with the executor routines PostgreSQL's logical
// replication applies rows with (find the rows with the statement's
// snapshot and lock them as the statement would, BEFORE ROW triggers,
// constraints, heap update, index entries) instead of a statement through
// SPI. What it saves is the per-statement set-up: the table's CHECK
// expressions are built once per backend (forgotten when the table's
// relcache entry is invalidated), and no plan, portal or ModifyTable state
// is made per call.
//
// It steps aside (the caller runs its SPI statement) whenever the SPI path
// could behave differently: compute.direct_path off, a table that is not a
// plain local heap (partitioned, foreign, a Citus table), row-level
// security, AFTER or statement-level UPDATE triggers (foreign keys
// included), a CHECK constraint calling a function that is not built in, a
// jobs_queued_idx that is not the grab statement's index, a REPEATABLE
// READ or SERIALIZABLE transaction, a read-only transaction or parallel
// mode. The transition check is the same trigger either way.
#pragma once

#include "pg/postgres.hpp"

namespace compute::pg {

// compute.direct_path (on): let finishes and grabs use the direct path.
extern bool direct_path_enabled;

// From _PG_init.
void
InitDirect();

// A finish as the Finish10 / Finish / FinishFenced statements of plans.cpp
// write it: status = status, output_files = COALESCE(files, output_files),
// and, when given, error = error (a NULL error clears it) and attempt.
struct DirectFinish {
	Datum job_id;
	Datum status;
	Datum files; // (Datum) 0: keep those recorded
	bool files_given;
	bool sets_error;
	Datum error;
	bool error_null;
	bool sets_attempt;
	int32 attempt;
};

enum class DirectResult { Updated, NotFound, StepAside };

// A grab as the Grab10 / Grab / GrabFromMark statements of plans.cpp write
// it: the oldest `max_jobs` queued jobs of `queue` (after the mark when
// `from_mark`), FOR UPDATE SKIP LOCKED, set in-progress (with `lease`).
struct DirectGrab {
	Datum queue; // text
	int64 max_jobs;
	bool sets_lease;
	Datum lease;
	bool from_mark;
	TimestampTz mark_created;
	const unsigned char *mark_job_id;
	size_t mark_job_id_len;
};

// A grabbed job: the row as written (compute.jobs) and its grab position.
struct DirectGrabbed {
	Datum job;
	TimestampTz created;
	Datum job_id; // bytea
};

// Runs `grab` directly: returns how many jobs it took, in grab order, in
// *rows (palloc'd in the caller's context), or -1 when it stepped aside
// (nothing done: use the SPI statement).
int64
RunDirectGrab(const DirectGrab &grab, DirectGrabbed **rows);

// Runs `finish` directly; on Updated, *job is the new row (a compute.jobs
// value in the caller's memory context). NotFound: no such job (or a
// BEFORE trigger skipped the row), as an UPDATE of no row. StepAside:
// nothing was done; use the SPI statement.
DirectResult
RunDirectFinish(const DirectFinish &finish, Datum *job);

} // namespace compute::pg
