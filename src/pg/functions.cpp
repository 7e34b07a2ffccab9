// The SQL-callable functions of schema compute (SPEC section 4).
//
// Each one reads its arguments into plain values, validates them with the
// core (CoreCheck), then runs one saved statement through SPI. The status
// change itself is checked by the trigger (trigger.cpp) that every write to
// compute.jobs passes, so a refused transition raises from there, and the
// statement's effects are rolled back with it.
//
// Per the boundary rule (boundary.hpp), these functions hold no C++ object
// with a destructor: only Datums, pointers and plain structs.

#include "pg/args.hpp"
#include "pg/boundary.hpp"
#include "pg/distributed.hpp"
#include "pg/plans.hpp"
#include "pg/rights.hpp"
#include "pg/stats.hpp"
#include "pg/waiters.hpp"

#include "core/lease.hpp"
#include "core/stats.hpp"
#include "core/validate.hpp"
#include "pg/marks.hpp"
#include "pg/direct.hpp"
#include "pg/module.hpp"

using compute::pg::ArgBytes;
using compute::pg::Bytes;
using compute::pg::CoreCheck;
using compute::pg::Execute;
using compute::pg::Statement;

namespace {

// CoreCheck of a function that was given a job: the error names it.
template <typename F>
void
JobCheck(const Bytes *job, F &&core) {
	if (job == nullptr) {
		CoreCheck(core);
	} else {
		CoreCheck([&] { return compute::ForJob(job->ViewOrEmpty(), core()); });
	}
}

Bytes
JobIdArg(FunctionCallInfo fcinfo, int n) {
	Bytes id = ArgBytes(fcinfo, n);
	CoreCheck([&] { return compute::CheckJobId(id.View()); });
	return id;
}

Bytes
QueueArg(FunctionCallInfo fcinfo, int n, const Bytes *job = nullptr) {
	Bytes queue = ArgBytes(fcinfo, n);
	size_t chars = queue.null ? 0 : static_cast<size_t>(pg_mbstrlen_with_len(queue.data, static_cast<int>(queue.len)));
	JobCheck(job, [&] { return compute::CheckQueue(queue.View(), chars); });
	return queue;
}

// A text[] of file names: one dimension, no NULL or empty element; NULL as a
// whole only where `nullable`.
void
CheckFilesArg(FunctionCallInfo fcinfo, int n, const char *column, bool nullable, const Bytes *job) {
	if (PG_ARGISNULL(n)) {
		JobCheck(job, [&] { return compute::CheckNotNull(column, !nullable); });
		return;
	}
	ArrayType *files = PG_GETARG_ARRAYTYPE_P(n);
	int ndim = ARR_NDIM(files);
	JobCheck(job, [&] { return compute::CheckFileArrayShape(column, ndim); });

	Datum *elems;
	bool *nulls;
	int count;
	deconstruct_array(files, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
	for (int i = 0; i < count; i++) {
		Bytes name = compute::pg::BytesOf(elems[i], nulls[i]);
		JobCheck(job, [&] { return compute::CheckFileName(column, static_cast<size_t>(i) + 1, name.View()); });
	}
}

// Compares an interval with zero: -1, 0 or 1.
int
IntervalSign(Datum interval) {
	Interval zero = {0, 0, 0};
	return DatumGetInt32(DirectFunctionCall2(interval_cmp, interval, IntervalPGetDatum(&zero)));
}

// An "older than" interval: not NULL, not negative. Returns it, clamped to
// 5,000 years: now() minus more would leave the timestamp range (an error),
// and no stored time is older than that anyway (timestamps start in 4713 BC).
Datum
OlderThanArg(FunctionCallInfo fcinfo, int n, const char *name) {
	bool is_null = PG_ARGISNULL(n);
	bool negative = !is_null && IntervalSign(PG_GETARG_DATUM(n)) < 0;
	CoreCheck([&] { return compute::CheckInterval(name, is_null, negative); });
	Interval *limit = static_cast<Interval *>(palloc0(sizeof(Interval)));
	limit->month = 5000 * MONTHS_PER_YEAR;
	Datum limit_datum = IntervalPGetDatum(limit);
	Datum older_than = PG_GETARG_DATUM(n);
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, older_than, limit_datum)) > 0) {
		return limit_datum;
	}
	return older_than;
}

// A lease length: not NULL (unless `nullable`), greater than zero.
void
CheckLeaseArg(FunctionCallInfo fcinfo, int n, const char *name, bool nullable, const Bytes *job = nullptr) {
	bool is_null = PG_ARGISNULL(n);
	if (is_null && nullable) {
		return;
	}
	compute::pg::LeaseFit fit = is_null ? compute::pg::LeaseFit::Ok
	                                    : compute::pg::FitLease(GetCurrentTransactionStartTimestamp(), PG_GETARG_DATUM(n));
	JobCheck(job, [&] {
		return compute::CheckLeaseLength(name, is_null, fit != compute::pg::LeaseFit::NotPositive,
		                                 fit == compute::pg::LeaseFit::TooLong, compute::pg::kMaxLeaseYears);
	});
}

[[noreturn]] void
RaiseLeaseLost(const Bytes &id, int32 attempt) {
	CoreCheck([&] { return compute::Check(compute::LeaseLostDeleted(id.ViewOrEmpty(), attempt)); });
	pg_unreachable();
}

[[noreturn]] void
RaiseUnknownJob(const Bytes &id) {
	CoreCheck([&] { return compute::Check(compute::UnknownJob(id.ViewOrEmpty())); });
	pg_unreachable();
}

// The job in the first row of the last SPI result, copied out of SPI's
// memory into the caller's. Call before SPI_finish().
Datum
FirstJob() {
	bool isnull;
	Datum job = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return SPI_datumTransfer(job, false, -1);
}

// qsort_arg comparator of grabbed rows (job, created, job_id): by created,
// then job_id.
int
CompareGrabbed(const void *a, const void *b, void *arg) {
	TupleDesc desc = static_cast<TupleDesc>(arg);
	HeapTuple left = *static_cast<const HeapTuple *>(a);
	HeapTuple right = *static_cast<const HeapTuple *>(b);
	bool isnull;
	TimestampTz left_created = DatumGetTimestampTz(SPI_getbinval(left, desc, 2, &isnull));
	TimestampTz right_created = DatumGetTimestampTz(SPI_getbinval(right, desc, 2, &isnull));
	if (left_created != right_created) {
		return left_created < right_created ? -1 : 1;
	}
	return DatumGetInt32(DirectFunctionCall2(byteacmp, SPI_getbinval(left, desc, 3, &isnull),
	                                         SPI_getbinval(right, desc, 3, &isnull)));
}

// A bytea of the 16 bytes of a job id kept in a queue mark.
Datum
JobIdDatum(const unsigned char (&job_id)[16]) {
	bytea *value = static_cast<bytea *>(palloc(VARHDRSZ + sizeof(job_id)));
	SET_VARSIZE(value, VARHDRSZ + sizeof(job_id));
	memcpy(VARDATA(value), job_id, sizeof(job_id));
	return PointerGetDatum(value);
}

// Runs a statement that returns at most one job; returns whether it did, and
// the job in *job.
bool
RunForJob(Statement plan, Datum *args, const char *nulls, Datum *job) {
	SPI_connect();
	bool found = Execute(plan, args, nulls) > 0;
	if (found) {
		*job = FirstJob();
	}
	SPI_finish();
	return found;
}

// Runs a statement and returns how many rows it affected.
int64
RunForCount(Statement plan, Datum *args) {
	SPI_connect();
	uint64 count = Execute(plan, args, nullptr);
	SPI_finish();
	return static_cast<int64>(count);
}

// A bytea[] of job ids (argument n): not NULL, each 16 bytes. Returns the
// array and its elements.
ArrayType *
JobIdsArg(FunctionCallInfo fcinfo, int n, Datum **elems, int *count) {
	bool ids_null = PG_ARGISNULL(n);
	CoreCheck([&] { return compute::CheckNotNull("job_ids", ids_null); });
	ArrayType *ids = PG_GETARG_ARRAYTYPE_P(n);
	bool *nulls;
	deconstruct_array(ids, BYTEAOID, -1, false, TYPALIGN_INT, elems, &nulls, count);
	for (int i = 0; i < *count; i++) {
		Bytes id = compute::pg::BytesOf((*elems)[i], nulls[i]);
		CoreCheck([&] { return compute::CheckJobId(id.View()); });
	}
	return ids;
}

// Adds a job (a compute.jobs composite) to a materialized result set.
void
PutJob(ReturnSetInfo *rsinfo, Datum job) {
	HeapTupleHeader header = DatumGetHeapTupleHeader(job);
	HeapTupleData tuple;
	tuple.t_len = HeapTupleHeaderGetDatumLength(header);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = header;
	tuplestore_puttuple(rsinfo->setResult, &tuple);
}

// Distributed mode: the trigger runs on the worker that holds the row, so
// the notes that wake this node's waiters (wait_job, waiting grabs) are
// taken here, by the coordinator's function that made the change; they take
// effect when its transaction commits. On one server the trigger takes them.
void
NoteFinished(const Bytes &id) {
	if (compute::pg::Distributed() && !id.null && id.len == 16) {
		compute::pg::NoteFinishedJob(id.data);
	}
}

void
NoteQueuedJob(Datum queue, Datum created, Datum job_id) {
	if (!compute::pg::Distributed()) {
		return;
	}
	Bytes name = compute::pg::BytesOf(queue, false);
	Bytes id = compute::pg::BytesOf(job_id, false);
	compute::pg::NoteQueuedRow(name.data, name.len,
	                           compute::pg::PositionOf(DatumGetTimestampTz(created), id.data, id.len));
}

// Where a function's finish arguments are (-1: not declared).
struct FinishArgs {
	int id, status, files, attempt, error;
};

// A finish, read and checked.
struct FinishRequest {
	FinishArgs at;
	Bytes id;
	bool fenced;
	int32 attempt;
	bool has_error;
};

bool
Given(FunctionCallInfo fcinfo, int n) {
	return n >= 0 && !PG_ARGISNULL(n);
}

FinishRequest
ReadFinish(FunctionCallInfo fcinfo, FinishArgs at) {
	FinishRequest finish;
	finish.at = at;
	finish.id = JobIdArg(fcinfo, at.id);
	const Bytes &id = finish.id;
	Bytes status = ArgBytes(fcinfo, at.status);
	compute::Status finished_as;
	JobCheck(&id, [&] { return compute::CheckFinishStatus(id.ViewOrEmpty(), status.View(), &finished_as); });
	CheckFilesArg(fcinfo, at.files, "output_files", true, &id);
	finish.fenced = Given(fcinfo, at.attempt);
	finish.attempt = finish.fenced ? PG_GETARG_INT32(at.attempt) : 0;
	finish.has_error = Given(fcinfo, at.error);
	bool has_error = finish.has_error;
	CoreCheck([&] { return compute::CheckFinishError(id.ViewOrEmpty(), finished_as, has_error); });
	return finish;
}

// Runs a checked finish; returns the finished job. With `queue` (argument
// number, -1: none), the finish first looks in that queue only (a single
// shard of a distributed table), then, if the job is not there, everywhere.
Datum
RunFinish(FunctionCallInfo fcinfo, const FinishRequest &finish, int queue = -1) {
	const FinishArgs &at = finish.at;
	bool files = Given(fcinfo, at.files);
	Datum args[6] = {PG_GETARG_DATUM(at.id), PG_GETARG_DATUM(at.status), files ? PG_GETARG_DATUM(at.files) : Datum(0),
	                 finish.has_error ? PG_GETARG_DATUM(at.error) : Datum(0), Int32GetDatum(finish.attempt), Datum(0)};
	char nulls[6] = {' ', ' ', files ? ' ' : 'n', finish.has_error ? ' ' : 'n', ' ', ' '};
	Datum job;
	if (Given(fcinfo, queue) && at.error >= 0 && compute::pg::Distributed()) {
		// FinishIn takes the queue as $5, FinishFencedIn as $6. (On one
		// server, looking in the queue first would answer the same.)
		args[finish.fenced ? 5 : 4] = PG_GETARG_DATUM(queue);
		if (RunForJob(finish.fenced ? Statement::FinishFencedIn : Statement::FinishIn, args, nulls, &job)) {
			compute::pg::RequireJobRight(job, compute::Right::Work, finish.id);
			NoteFinished(finish.id);
			return job;
		}
		args[4] = Int32GetDatum(finish.attempt);
		args[5] = Datum(0);
	}
	Statement statement = finish.fenced ? Statement::FinishFenced : at.error >= 0 ? Statement::Finish
	                                                                              : Statement::Finish10;
	compute::pg::DirectFinish direct = {args[0],
	                                    args[1],
	                                    args[2],
	                                    files,
	                                    statement != Statement::Finish10,
	                                    args[3],
	                                    !finish.has_error,
	                                    finish.fenced,
	                                    finish.attempt};
	compute::pg::DirectResult done = compute::pg::RunDirectFinish(direct, &job);
	bool found = done == compute::pg::DirectResult::StepAside ? RunForJob(statement, args, nulls, &job)
	                                                         : done == compute::pg::DirectResult::Updated;
	if (!found) {
		if (finish.fenced) {
			RaiseLeaseLost(finish.id, finish.attempt);
		}
		RaiseUnknownJob(finish.id);
	}
	compute::pg::RequireJobRight(job, compute::Right::Work, finish.id);
	NoteFinished(finish.id);
	return job;
}

// Where a function's grab arguments are (-1: not declared).
struct GrabArgs {
	int queue, max_jobs, lease, wait;
};

// A grab, read and checked.
struct GrabRequest {
	GrabArgs at;
	Bytes queue;
	int64 max_jobs;
	int64 wait_micros; // 0: do not wait
};

// A wait: not NULL, not negative, at most a day; in microseconds.
int64
WaitArg(FunctionCallInfo fcinfo, int n, const Bytes *job, const char *name = "wait") {
	bool is_null = PG_ARGISNULL(n);
	int sign = is_null ? 0 : IntervalSign(PG_GETARG_DATUM(n));
	bool negative = sign < 0;
	JobCheck(job, [&] { return compute::CheckInterval(name, is_null, negative); });
	if (sign == 0) {
		return 0; // no wait: the usual grab pays no more
	}
	Interval day = {USECS_PER_DAY, 0, 0};
	Datum wait = PG_GETARG_DATUM(n);
	if (DatumGetInt32(DirectFunctionCall2(interval_cmp, wait, IntervalPGetDatum(&day))) > 0) {
		wait = IntervalPGetDatum(&day);
	}
	const Interval *span = DatumGetIntervalP(wait);
	return span->time + (static_cast<int64>(span->day) + static_cast<int64>(span->month) * DAYS_PER_MONTH) * USECS_PER_DAY;
}

// `job`: the job that finish_and_grab finishes, named in the messages.
GrabRequest
ReadGrab(FunctionCallInfo fcinfo, GrabArgs at, const Bytes *job = nullptr) {
	GrabRequest grab;
	grab.at = at;
	grab.queue = QueueArg(fcinfo, at.queue, job);
	bool max_null = PG_ARGISNULL(at.max_jobs);
	grab.max_jobs = max_null ? 0 : PG_GETARG_INT32(at.max_jobs);
	int64 max_jobs = grab.max_jobs;
	JobCheck(job, [&] { return compute::CheckMaxJobs(max_null ? std::nullopt : std::optional<int64_t>(max_jobs)); });
	if (at.lease >= 0) {
		CheckLeaseArg(fcinfo, at.lease, "lease", false, job);
	}
	grab.wait_micros = at.wait >= 0 ? WaitArg(fcinfo, at.wait, job) : 0;
	compute::pg::RequireQueueRight(grab.queue, compute::Right::Work, nullptr);
	return grab;
}

// One grab into the function's result set; returns how many it took.
uint64
GrabOnce(FunctionCallInfo fcinfo, const GrabRequest &grab) {
	ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	bool with_lease = grab.at.lease >= 0;
	const Bytes &queue = grab.queue;
	// With the queue's mark (shared memory), scan from just after it.
	compute::MarkRead mark = {};
	// (Not on a distributed table: the rows are committed on the workers,
	// where this node's marks would not hear of them; scan from the head.)
	bool marked = with_lease && !compute::pg::Distributed() && compute::pg::ReadQueueMark(queue.data, queue.len, &mark);
	Statement statement = !with_lease ? Statement::Grab10 : marked && mark.from_mark ? Statement::GrabFromMark
	                                                                                 : Statement::Grab;
	Datum args[5] = {PG_GETARG_DATUM(grab.at.queue), Int64GetDatum(grab.max_jobs),
	                 with_lease ? PG_GETARG_DATUM(grab.at.lease) : Datum(0), Datum(0), Datum(0)};
	compute::pg::DirectGrab direct = {args[0],
	                                  grab.max_jobs,
	                                  with_lease,
	                                  args[2],
	                                  statement == Statement::GrabFromMark,
	                                  mark.mark.created,
	                                  mark.mark.job_id,
	                                  sizeof(mark.mark.job_id)};
	compute::pg::DirectGrabbed *rows;
	int64 direct_taken = compute::pg::RunDirectGrab(direct, &rows);
	if (direct_taken >= 0) {
		if (marked && direct_taken > 0) {
			const compute::pg::DirectGrabbed &last = rows[direct_taken - 1];
			Bytes last_id = compute::pg::BytesOf(last.job_id, false);
			compute::pg::AdvanceQueueMark(queue.data, queue.len, mark,
			                              compute::pg::PositionOf(last.created, last_id.data, last_id.len));
		}
		for (int64 i = 0; i < direct_taken; i++) {
			PutJob(rsinfo, rows[i].job);
		}
		return static_cast<uint64>(direct_taken);
	}
	if (statement == Statement::GrabFromMark) {
		args[3] = TimestampTzGetDatum(mark.mark.created);
		args[4] = JobIdDatum(mark.mark.job_id);
	}
	SPI_connect();
	uint64 taken = Execute(statement, args, nullptr);
	if (taken > 1) {
		// Oldest first: by created, then job_id (columns 2 and 3).
		qsort_arg(SPI_tuptable->vals, taken, sizeof(HeapTuple), CompareGrabbed, SPI_tuptable->tupdesc);
	}
	if (marked && taken > 0) {
		bool isnull;
		HeapTuple last = SPI_tuptable->vals[taken - 1];
		Bytes last_id = compute::pg::BytesOf(SPI_getbinval(last, SPI_tuptable->tupdesc, 3, &isnull), false);
		TimestampTz last_created = DatumGetTimestampTz(SPI_getbinval(last, SPI_tuptable->tupdesc, 2, &isnull));
		compute::pg::AdvanceQueueMark(queue.data, queue.len, mark,
		                              compute::pg::PositionOf(last_created, last_id.data, last_id.len));
	}
	for (uint64 i = 0; i < taken; i++) {
		bool isnull;
		Datum job = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		PutJob(rsinfo, job);
	}
	SPI_finish();
	return taken;
}

// Grabs; with a wait, sleeps on the backend's latch until a transaction
// that makes a job of the queue grabbable commits (see waiters.hpp), then
// grabs again, until the wait has passed.
void
RunGrab(FunctionCallInfo fcinfo, const GrabRequest &grab) {
	InitMaterializedSRF(fcinfo, 0);
	if (GrabOnce(fcinfo, grab) > 0 || grab.wait_micros <= 0 || IsolationUsesXactSnapshot()) {
		return; // (a transaction snapshot would never see a new job)
	}
	TimestampTz deadline = GetCurrentTimestamp() + grab.wait_micros;
	for (;;) {
		// Registered before the next look, so that a commit between the
		// look and the sleep still sets the latch.
		compute::pg::AwaitQueue(grab.queue.data, grab.queue.len);
		compute::pg::NoteWoke(); // what it takes now gets its lease from now
		if (GrabOnce(fcinfo, grab) > 0) {
			break;
		}
		long left_ms = static_cast<long>((deadline - GetCurrentTimestamp()) / 1000);
		if (left_ms <= 0) {
			break;
		}
		compute::pg::SleepForQueue(left_ms);
		CHECK_FOR_INTERRUPTS();
	}
	compute::pg::StopAwaiting();
}

// One submit: a new job, an existing one touched (a dedupe hit), or a
// failed or expired one queued again (Resubmit); false if none of them
// (a concurrent delete). The first two are counted here (compute.stats),
// the resubmission by the trigger.
bool SubmitOnceDistributed(Datum *args, const char *nulls, const Bytes &queue);

bool
SubmitOnce(Datum *args, const char *nulls, const Bytes &queue) {
	if (compute::pg::Distributed()) {
		return SubmitOnceDistributed(args, nulls, queue);
	}
	compute::pg::SetSubmitting(true);
	bool found = Execute(Statement::Submit, args, nulls) > 0;
	compute::pg::SetSubmitting(false);
	if (found) {
		bool isnull;
		bool inserted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		compute::pg::CountWrite(queue.data, queue.len,
		                        1u << static_cast<unsigned>(inserted ? compute::Counter::Submitted
		                                                             : compute::Counter::DedupeHits));
		return true;
	}
	return Execute(Statement::Resubmit, args, nulls) > 0;
}

// Where a job id is already, on a distributed table: found or not, and its
// queue and status (valid until SPI_finish).
struct Located {
	bool found;
	Datum queue;
	Bytes status;
};

int
CompareKeys(const void *a, const void *b) {
	int32 x = *static_cast<const int32 *>(a);
	int32 y = *static_cast<const int32 *>(b);
	return x < y ? -1 : x > y ? 1 : 0;
}

// Locks the job ids (their first 4 bytes) under compute's advisory key, in
// ascending order (two batches that share ids cannot deadlock on them).
void
LockJobIds(Datum *ids, int count) {
	int32 *keys = static_cast<int32 *>(palloc(sizeof(int32) * Max(count, 1)));
	for (int i = 0; i < count; i++) {
		Bytes id = compute::pg::BytesOf(ids[i], false);
		memcpy(&keys[i], id.data, sizeof(int32));
	}
	qsort(keys, count, sizeof(int32), CompareKeys);
	for (int i = 0; i < count; i++) {
		if (i > 0 && keys[i] == keys[i - 1]) {
			continue;
		}
		Datum lock_args[1] = {Int32GetDatum(keys[i])};
		Execute(Statement::LockJobId, lock_args, nullptr);
	}
}

// Distributed mode's submit of one job whose place was looked up (README,
// "Distributed mode"): a new job is written on its queue's shard and goes
// on from the id's retired token; an existing one is touched (a dedupe, in
// whichever queue it is) or, failed or expired, resubmitted in its own
// queue (another queue is refused).
bool
SubmitLocated(Datum *args, const char *nulls, const Bytes &queue, const Located &at) {
	Bytes id = compute::pg::BytesOf(args[0], false);
	Datum target = args[1];
	if (at.found) {
		Datum where = at.queue;
		Bytes where_name = compute::pg::BytesOf(where, false);
		const Bytes &status = at.status;
		bool same = where_name.len == queue.len && memcmp(where_name.data, queue.data, queue.len) == 0;
		bool ended = (status.len == 6 && memcmp(status.data, "failed", 6) == 0) ||
		             (status.len == 7 && memcmp(status.data, "expired", 7) == 0);
		if (!same && ended) {
			CoreCheck([&] {
				return compute::Check(
				    compute::ResubmitInOtherQueue(id.ViewOrEmpty(), status.ViewOrEmpty(), where_name.ViewOrEmpty()));
			});
		}
		target = where; // a dedupe hit in another queue: touched there
	}
	int32 first = 0;
	if (Execute(Statement::RetiredToken, args, nullptr) > 0) {
		bool isnull;
		Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		first = isnull ? 0 : DatumGetInt32(value);
	}
	Datum submit_args[6] = {args[0], target, args[2], args[3], Int32GetDatum(first),
	                        TimestampTzGetDatum(GetCurrentTransactionStartTimestamp())};
	const char submit_nulls[6] = {nulls[0], nulls[1], nulls[2], nulls[3], ' ', ' '};
	Bytes target_name = compute::pg::BytesOf(target, false);
	if (Execute(Statement::SubmitIn, submit_args, submit_nulls) > 0) {
		bool isnull;
		bool inserted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		compute::pg::CountWrite(target_name.data, target_name.len,
		                        1u << static_cast<unsigned>(inserted ? compute::Counter::Submitted
		                                                             : compute::Counter::DedupeHits));
		if (inserted) {
			NoteQueuedJob(target, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), args[0]);
		}
		return true;
	}
	if (Execute(Statement::ResubmitIn, submit_args, submit_nulls) > 0) {
		NoteQueuedJob(target, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), args[0]);
		return true;
	}
	return false;
}

// One submit on a distributed table: the id locked on the coordinator,
// looked for on every shard (job_id stays unique across queues), then
// written.
bool
SubmitOnceDistributed(Datum *args, const char *nulls, const Bytes &queue) {
	LockJobIds(args, 1);
	Located at = {false, Datum(0), {nullptr, 0, true}};
	if (Execute(Statement::LocateJob, args, nullptr) > 0) {
		bool isnull;
		at.found = true;
		at.queue = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		at.status = compute::pg::BytesOf(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull), false);
	}
	return SubmitLocated(args, nulls, queue, at);
}

// heartbeat's arguments from `at` (job_id, attempt, extend); with `queue`
// (argument number, -1: none) it looks in that queue first.
Datum
RunHeartbeat(FunctionCallInfo fcinfo, int at, int queue) {
	Bytes id = JobIdArg(fcinfo, at);
	if (queue >= 0) {
		QueueArg(fcinfo, queue, &id);
	}
	bool attempt_null = PG_ARGISNULL(at + 1);
	JobCheck(&id, [&] { return compute::CheckNotNull("attempt", attempt_null); });
	CheckLeaseArg(fcinfo, at + 2, "extend", true, &id);
	int32 attempt = PG_GETARG_INT32(at + 1);

	Interval *fallback = static_cast<Interval *>(palloc0(sizeof(Interval)));
	fallback->time = compute::kDefaultLeaseSeconds * USECS_PER_SEC;
	bool extend_null = PG_ARGISNULL(at + 2);
	Datum args[5] = {PG_GETARG_DATUM(at), Int32GetDatum(attempt), extend_null ? Datum(0) : PG_GETARG_DATUM(at + 2),
	                 IntervalPGetDatum(fallback), queue >= 0 ? PG_GETARG_DATUM(queue) : Datum(0)};
	const char nulls[5] = {' ', ' ', extend_null ? 'n' : ' ', ' ', ' '};
	Datum job;
	bool found = queue >= 0 && RunForJob(Statement::HeartbeatIn, args, nulls, &job);
	if (!found && !RunForJob(Statement::Heartbeat, args, nulls, &job)) {
		RaiseLeaseLost(id, attempt);
	}
	compute::pg::RequireJobRight(job, compute::Right::Work, id);
	return job;
}

// finish_jobs_in's statement: one queue, one shard of a distributed table.
// Jobs it did not finish are not of that queue (or not at all): the first
// of them is refused as unknown, unless it was named twice.
int64
RunFinishBatchIn(FunctionCallInfo fcinfo, int at, int queue, int count, Datum *id_elems, bool fenced,
                 const int32 *attempt_values) {
	Datum args[4] = {PG_GETARG_DATUM(at), PG_GETARG_DATUM(at + 1), fenced ? PG_GETARG_DATUM(at + 2) : Datum(0),
	                 PG_GETARG_DATUM(queue)};
	if (!fenced) {
		args[2] = PG_GETARG_DATUM(queue);
	}
	SPI_connect();
	uint64 finished = Execute(fenced ? Statement::FinishBatchFencedIn : Statement::FinishBatchIn, args, nullptr);
	int left = -1; // the first job not finished
	if (finished < static_cast<uint64>(count)) {
		for (int i = 0; i < count && left < 0; i++) {
			Bytes candidate = compute::pg::BytesOf(id_elems[i], false);
			bool done = false;
			for (uint64 r = 0; r < finished && !done; r++) {
				bool isnull;
				Bytes id = compute::pg::BytesOf(SPI_getbinval(SPI_tuptable->vals[r], SPI_tuptable->tupdesc, 1, &isnull),
				                                false);
				done = id.len == candidate.len && memcmp(id.data, candidate.data, id.len) == 0;
			}
			if (!done) {
				left = i;
			}
		}
	}
	SPI_finish();
	if (left < 0 && finished < static_cast<uint64>(count)) {
		left = 0; // (cannot happen: fewer rows than ids leave one out)
	}
	if (left >= 0) {
		Bytes id = compute::pg::BytesOf(id_elems[left], false);
		// Named twice: the same as finish_jobs says.
		for (int i = 0; i < count; i++) {
			Bytes other = compute::pg::BytesOf(id_elems[i], false);
			if (i != left && other.len == id.len && memcmp(other.data, id.data, id.len) == 0) {
				JobCheck(&id, [&] { return compute::Check(compute::DuplicateInBatch()); });
			}
		}
		if (fenced) {
			RaiseLeaseLost(id, attempt_values[left]);
		}
		RaiseUnknownJob(id);
	}
	compute::pg::RequireBatchRight(PG_GETARG_DATUM(at), compute::Right::Work);
	for (int i = 0; i < count; i++) {
		NoteFinished(compute::pg::BytesOf(id_elems[i], false));
	}
	return static_cast<int64>(finished);
}

// finish_jobs' arguments from `at` (job_ids, status, attempts); with
// `queue` (argument number, -1: none), only jobs of that queue.
int64
RunFinishBatch(FunctionCallInfo fcinfo, int at, int queue) {
	Datum *id_elems;
	int count;
	ArrayType *ids = JobIdsArg(fcinfo, at, &id_elems, &count);
	Bytes first = count > 0 ? compute::pg::BytesOf(id_elems[0], false) : Bytes {nullptr, 0, true};
	Bytes status = ArgBytes(fcinfo, at + 1);
	compute::Status finished_as;
	JobCheck(count > 0 ? &first : nullptr,
	         [&] { return compute::CheckFinishStatus(first.ViewOrEmpty(), status.View(), &finished_as); });
	bool fenced = !PG_ARGISNULL(at + 2);
	ArrayType *attempts = fenced ? PG_GETARG_ARRAYTYPE_P(at + 2) : nullptr;
	int32 *attempt_values = nullptr;
	int attempt_count = 0;
	if (fenced) {
		Datum *elems;
		bool *nulls;
		deconstruct_array(attempts, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &attempt_count);
		attempt_values = static_cast<int32 *>(palloc(sizeof(int32) * (attempt_count + 1)));
		for (int i = 0; i < attempt_count; i++) {
			bool null = nulls[i];
			Bytes job = i < count ? compute::pg::BytesOf(id_elems[i], false) : first;
			JobCheck(count > 0 ? &job : nullptr, [&] { return compute::CheckNotNull("an element of attempts", null); });
			attempt_values[i] = DatumGetInt32(elems[i]);
		}
	}
	int ids_ndim = ARR_NDIM(ids);
	std::optional<int> attempts_ndim;
	if (fenced) {
		attempts_ndim = ARR_NDIM(attempts);
	}
	JobCheck(count > 0 ? &first : nullptr, [&] {
		return compute::CheckBatch(ids_ndim, static_cast<size_t>(count), attempts_ndim,
		                           static_cast<size_t>(attempt_count));
	});
	if (queue >= 0) {
		QueueArg(fcinfo, queue, count > 0 ? &first : nullptr);
	}
	if (count == 0) {
		return 0;
	}
	if (queue >= 0) {
		return RunFinishBatchIn(fcinfo, at, queue, count, id_elems, fenced, attempt_values);
	}

	Datum args[3] = {PG_GETARG_DATUM(at), PG_GETARG_DATUM(at + 1), fenced ? PG_GETARG_DATUM(at + 2) : Datum(0)};
	char missing[16];
	bool found_missing = false;
	int missing_index = -1;
	SPI_connect();
	uint64 finished = Execute(fenced ? Statement::FinishBatchFenced : Statement::FinishBatch, args, nullptr);
	if (finished < static_cast<uint64>(count) && Execute(Statement::FirstMissing, args, nullptr) > 0) {
		bool isnull;
		Bytes id = compute::pg::BytesOf(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull), false);
		memcpy(missing, id.data, sizeof(missing));
		found_missing = true;
		for (int i = 0; i < count && missing_index < 0; i++) {
			Bytes candidate = compute::pg::BytesOf(id_elems[i], false);
			if (memcmp(candidate.data, missing, sizeof(missing)) == 0) {
				missing_index = i;
			}
		}
	}
	SPI_finish();
	if (found_missing) {
		Bytes id = {missing, sizeof(missing), false};
		if (fenced) {
			RaiseLeaseLost(id, attempt_values[missing_index < 0 ? 0 : missing_index]);
		}
		RaiseUnknownJob(id);
	}
	if (finished < static_cast<uint64>(count)) {
		// Every job exists and none refused: one is named twice.
		char twice[16];
		bool found_twice = false;
		SPI_connect();
		if (Execute(Statement::FirstDuplicate, args, nullptr) > 0) {
			bool isnull;
			Bytes id = compute::pg::BytesOf(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull), false);
			memcpy(twice, id.data, sizeof(twice));
			found_twice = true;
		}
		SPI_finish();
		Bytes id = {twice, sizeof(twice), !found_twice};
		JobCheck(found_twice ? &id : nullptr, [&] { return compute::Check(compute::DuplicateInBatch()); });
	}
	compute::pg::RequireBatchRight(PG_GETARG_DATUM(at), compute::Right::Work);
	for (int i = 0; i < count; i++) {
		NoteFinished(compute::pg::BytesOf(id_elems[i], false));
	}
	return static_cast<int64>(finished);
}


// requeue_stale() on a distributed table: the jobs whose lease ran out are
// read from every shard without a lock (Citus locks no rows of a
// multi-shard read), then each is requeued or failed on its shard by a
// statement that checks again, under the row's lock, that it is still
// in progress, past its lease and at the lost-lease count read.
int64
RequeueLostLeasesDistributed() {
	int64 requeued = 0;
	SPI_connect();
	uint64 lost = Execute(Statement::LeasesRunOut, nullptr, nullptr);
	SPITupleTable *candidates = SPI_tuptable;
	for (uint64 i = 0; i < lost; i++) {
		bool isnull;
		Datum job_id = SPI_getbinval(candidates->vals[i], candidates->tupdesc, 1, &isnull);
		Datum lost_datum = SPI_getbinval(candidates->vals[i], candidates->tupdesc, 2, &isnull);
		Datum queue = SPI_getbinval(candidates->vals[i], candidates->tupdesc, 3, &isnull);
		int64 lost_before = DatumGetInt32(lost_datum);
		compute::LeaseLoss loss = compute::DecideLeaseLoss(lost_before, compute::pg::max_attempts);
		Datum args[5] = {job_id, CStringGetTextDatum(compute::StatusName(loss.next).data()),
		                 loss.error[0] ? CStringGetTextDatum(loss.error) : Datum(0), queue, lost_datum};
		const char nulls[5] = {' ', ' ', loss.error[0] ? ' ' : 'n', ' ', ' '};
		uint64 done = Execute(Statement::LoseLeaseIn, args, nulls);
		requeued += static_cast<int64>(done);
		if (done > 0 && loss.next == compute::Status::Queued) {
			NoteQueuedJob(queue, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), job_id);
		}
	}
	SPI_finish();
	return requeued;
}

} // namespace

extern "C" {

PG_FUNCTION_INFO_V1(compute_submit_job);
PG_FUNCTION_INFO_V1(compute_grab_job);
PG_FUNCTION_INFO_V1(compute_finish_job);
PG_FUNCTION_INFO_V1(compute_expire);
PG_FUNCTION_INFO_V1(compute_expire_job);
PG_FUNCTION_INFO_V1(compute_get_job);
PG_FUNCTION_INFO_V1(compute_queue_position);
PG_FUNCTION_INFO_V1(compute_requeue_stale);
PG_FUNCTION_INFO_V1(compute_delete_job);
PG_FUNCTION_INFO_V1(compute_heartbeat);
PG_FUNCTION_INFO_V1(compute_finish_jobs);
PG_FUNCTION_INFO_V1(compute_requeue_lost_leases);
PG_FUNCTION_INFO_V1(compute_queue_marks);
PG_FUNCTION_INFO_V1(compute_finish_and_grab);
PG_FUNCTION_INFO_V1(compute_wait_job);
PG_FUNCTION_INFO_V1(compute_submit_jobs);
PG_FUNCTION_INFO_V1(compute_finish_job_in);
PG_FUNCTION_INFO_V1(compute_heartbeat_in);
PG_FUNCTION_INFO_V1(compute_finish_jobs_in);

// submit_job(job_id bytea, queue text, config text, input_files text[])
Datum
compute_submit_job(PG_FUNCTION_ARGS) {
	Bytes id = JobIdArg(fcinfo, 0);
	Bytes queue = QueueArg(fcinfo, 1, &id);
	CheckFilesArg(fcinfo, 3, "input_files", false, &id);
	compute::pg::RequireQueueRight(queue, compute::Right::Submit, &id);

	Datum args[4] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_ARGISNULL(2) ? Datum(0) : PG_GETARG_DATUM(2),
	                 PG_GETARG_DATUM(3)};
	const char nulls[4] = {' ', ' ', PG_ARGISNULL(2) ? 'n' : ' ', ' '};
	Datum job = 0;
	bool found = false;

	SPI_connect();
	// Submit locks an existing failed or expired job without returning it, so
	// Resubmit finds it; a second round only matters if a concurrent
	// transaction deleted the job in between.
	for (int round = 0; round < 2 && !found; round++) {
		found = SubmitOnce(args, nulls, queue);
	}
	if (found) {
		job = FirstJob();
	}
	SPI_finish();
	if (!found) {
		CoreCheck([&] { return compute::Check(compute::SubmitConflict(id.ViewOrEmpty())); });
	}
	PG_RETURN_DATUM(job);
}

// grab_job(queue text, max_jobs int, lease interval, wait interval) returns
// setof compute.jobs (1.0.0 declares it without lease, 1.1.0 without wait)
Datum
compute_grab_job(PG_FUNCTION_ARGS) {
	GrabRequest grab = ReadGrab(fcinfo, {0, 1, PG_NARGS() > 2 ? 2 : -1, PG_NARGS() > 3 ? 3 : -1});
	RunGrab(fcinfo, grab);
	return Datum(0);
}

// finish_job(job_id bytea, status text, output_files text[], attempt int,
// error text) returns compute.jobs (1.0.0 declares the first three only)
Datum
compute_finish_job(PG_FUNCTION_ARGS) {
	bool with_lease = PG_NARGS() > 3;
	FinishRequest finish = ReadFinish(fcinfo, {0, 1, 2, with_lease ? 3 : -1, with_lease ? 4 : -1});
	PG_RETURN_DATUM(RunFinish(fcinfo, finish));
}

// finish_job_in(queue text, job_id bytea, status text, output_files text[],
// attempt int, error text) returns compute.jobs: finish_job, looking in
// that queue first.
Datum
compute_finish_job_in(PG_FUNCTION_ARGS) {
	FinishRequest finish = ReadFinish(fcinfo, {1, 2, 3, 4, 5});
	QueueArg(fcinfo, 0, &finish.id);
	PG_RETURN_DATUM(RunFinish(fcinfo, finish, 0));
}

// finish_and_grab(job_id bytea, status text, queue text, output_files text[],
// attempt int, error text, max_jobs int, lease interval, wait interval)
// returns setof compute.jobs: finish_job, then grab_job, in one statement.
// Every argument is checked first; a refused finish grabs nothing.
Datum
compute_finish_and_grab(PG_FUNCTION_ARGS) {
	FinishRequest finish = ReadFinish(fcinfo, {0, 1, 3, 4, 5});
	GrabRequest grab = ReadGrab(fcinfo, {2, 6, 7, 8}, &finish.id);
	RunFinish(fcinfo, finish, 2); // (the job is most often of the queue it grabs from)
	RunGrab(fcinfo, grab);
	return Datum(0);
}

// finish_jobs(job_ids bytea[], status text, attempts int[]) returns bigint:
// finishes every job in one statement, all or none.
Datum
compute_finish_jobs(PG_FUNCTION_ARGS) {
	PG_RETURN_INT64(RunFinishBatch(fcinfo, 0, -1));
}

// finish_jobs_in(queue text, job_ids bytea[], status text, attempts int[])
// returns bigint: finish_jobs for jobs of that queue, in one statement that
// a distributed table routes to one shard. A job that is not in that queue
// is refused as unknown (P0002; 55000 with attempts), like a job that does
// not exist.
Datum
compute_finish_jobs_in(PG_FUNCTION_ARGS) {
	PG_RETURN_INT64(RunFinishBatch(fcinfo, 1, 0));
}

// heartbeat(job_id bytea, attempt int, extend interval) returns compute.jobs
Datum
compute_heartbeat(PG_FUNCTION_ARGS) {
	PG_RETURN_DATUM(RunHeartbeat(fcinfo, 0, -1));
}

// heartbeat_in(queue text, job_id bytea, attempt int, extend interval)
// returns compute.jobs: heartbeat, looking in that queue first.
Datum
compute_heartbeat_in(PG_FUNCTION_ARGS) {
	PG_RETURN_DATUM(RunHeartbeat(fcinfo, 1, 0));
}

// expire(older_than interval) returns bigint
Datum
compute_expire(PG_FUNCTION_ARGS) {
	Datum args[1] = {OlderThanArg(fcinfo, 0, "older_than")};
	compute::pg::RequireAllQueues("expire", compute::Right::Admin);
	PG_RETURN_INT64(RunForCount(Statement::Expire, args));
}

// expire_job(job_id bytea) returns compute.jobs
Datum
compute_expire_job(PG_FUNCTION_ARGS) {
	Bytes id = JobIdArg(fcinfo, 0);
	Datum args[1] = {PG_GETARG_DATUM(0)};
	Datum job;
	if (!RunForJob(Statement::ExpireJob, args, nullptr, &job)) {
		RaiseUnknownJob(id);
	}
	compute::pg::RequireJobRight(job, compute::Right::Admin, id);
	PG_RETURN_DATUM(job);
}

// get_job(job_id bytea) returns compute.jobs, NULL when unknown
Datum
compute_get_job(PG_FUNCTION_ARGS) {
	JobIdArg(fcinfo, 0);
	Datum args[1] = {PG_GETARG_DATUM(0)};
	Datum job;
	if (!RunForJob(Statement::GetJob, args, nullptr, &job)) {
		PG_RETURN_NULL();
	}
	PG_RETURN_DATUM(job);
}

// queue_position(job_id bytea) returns bigint, NULL unless queued
Datum
compute_queue_position(PG_FUNCTION_ARGS) {
	JobIdArg(fcinfo, 0);
	Datum args[1] = {PG_GETARG_DATUM(0)};
	int64 position = 0;
	SPI_connect();
	bool queued = Execute(Statement::QueuePosition, args, nullptr) > 0;
	if (queued) {
		bool isnull;
		position = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	if (!queued) {
		PG_RETURN_NULL();
	}
	PG_RETURN_INT64(position);
}

// requeue_stale(older_than interval) returns bigint
Datum
compute_requeue_stale(PG_FUNCTION_ARGS) {
	Datum args[1] = {OlderThanArg(fcinfo, 0, "older_than")};
	compute::pg::RequireAllQueues("requeue_stale", compute::Right::Admin);
	PG_RETURN_INT64(RunForCount(Statement::RequeueStale, args));
}

// requeue_stale() returns bigint: in-progress jobs whose lease expired go
// back to the queue, or fail once they lost compute.max_attempts leases.
Datum
compute_requeue_lost_leases(PG_FUNCTION_ARGS) {
	compute::pg::RequireAllQueues("requeue_stale", compute::Right::Admin);
	int64 requeued = 0;
	if (compute::pg::Distributed()) {
		PG_RETURN_INT64(RequeueLostLeasesDistributed());
	}
	SPI_connect();
	uint64 lost = Execute(Statement::ExpiredLeases, nullptr, nullptr);
	SPITupleTable *candidates = SPI_tuptable;
	for (uint64 i = 0; i < lost; i++) {
		bool isnull;
		Datum job_id = SPI_getbinval(candidates->vals[i], candidates->tupdesc, 1, &isnull);
		int64 lost_before = DatumGetInt32(SPI_getbinval(candidates->vals[i], candidates->tupdesc, 2, &isnull));
		compute::LeaseLoss loss = compute::DecideLeaseLoss(lost_before, compute::pg::max_attempts);
		Datum args[3] = {job_id, CStringGetTextDatum(compute::StatusName(loss.next).data()),
		                 loss.error[0] ? CStringGetTextDatum(loss.error) : Datum(0)};
		const char nulls[3] = {' ', ' ', loss.error[0] ? ' ' : 'n'};
		requeued += static_cast<int64>(Execute(Statement::LoseLease, args, nulls));
	}
	SPI_finish();
	PG_RETURN_INT64(requeued);
}

// _queue_marks() returns table (queue, valid, created, job_id, generation):
// the queue marks in shared memory (none without shared_preload_libraries).
Datum
compute_queue_marks(PG_FUNCTION_ARGS) {
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	compute::QueueMark *marks =
	    static_cast<compute::QueueMark *>(palloc(sizeof(compute::QueueMark) * compute::pg::MarkSlots()));
	size_t count = compute::pg::CopyMarks(marks);
	for (size_t i = 0; i < count; i++) {
		const compute::QueueMark &mark = marks[i];
		Datum values[5] = {PointerGetDatum(cstring_to_text_with_len(mark.queue, mark.queue_len)),
		                   BoolGetDatum(mark.valid), TimestampTzGetDatum(mark.mark.created),
		                   JobIdDatum(mark.mark.job_id), Int64GetDatum(static_cast<int64>(mark.generation))};
		bool nulls[5] = {false, false, !mark.valid, !mark.valid, false};
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return Datum(0);
}

// submit_jobs(job_ids bytea[], queue text, configs text[], input_files
// text[]) returns setof compute.jobs: submit_job for each job, in order, in
// one statement (configs[i] is job i's; input_files are every job's). All
// arguments are checked before any job is written; any error undoes all.
Datum
compute_submit_jobs(PG_FUNCTION_ARGS) {
	Datum *id_elems;
	int count;
	ArrayType *ids = JobIdsArg(fcinfo, 0, &id_elems, &count);
	Bytes first = count > 0 ? compute::pg::BytesOf(id_elems[0], false) : Bytes {nullptr, 0, true};
	const Bytes *job = count > 0 ? &first : nullptr;
	Bytes queue = QueueArg(fcinfo, 1, job);
	Datum *config_elems = nullptr;
	bool *config_nulls = nullptr;
	int config_count = 0;
	std::optional<int> configs_ndim;
	if (!PG_ARGISNULL(2)) {
		ArrayType *configs = PG_GETARG_ARRAYTYPE_P(2);
		configs_ndim = ARR_NDIM(configs);
		deconstruct_array(configs, TEXTOID, -1, false, TYPALIGN_INT, &config_elems, &config_nulls, &config_count);
	}
	int ids_ndim = ARR_NDIM(ids);
	JobCheck(job, [&] {
		return compute::CheckSubmitBatch(ids_ndim, static_cast<size_t>(count), configs_ndim,
		                                 static_cast<size_t>(config_count));
	});
	CheckFilesArg(fcinfo, 3, "input_files", false, job);
	compute::pg::RequireQueueRight(queue, compute::Right::Submit, job);

	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = reinterpret_cast<ReturnSetInfo *>(fcinfo->resultinfo);
	SPI_connect();
	// On a distributed table: every id locked, and looked for on every
	// shard, once for the batch (README, "Distributed mode").
	Located *located = nullptr;
	if (compute::pg::Distributed() && count > 0) {
		LockJobIds(id_elems, count);
		located = static_cast<Located *>(palloc0(sizeof(Located) * count));
		Datum locate_args[1] = {PG_GETARG_DATUM(0)};
		uint64 rows = Execute(Statement::LocateJobs, locate_args, nullptr);
		SPITupleTable *found_rows = SPI_tuptable;
		for (uint64 r = 0; r < rows; r++) {
			bool isnull;
			Bytes row_id = compute::pg::BytesOf(SPI_getbinval(found_rows->vals[r], found_rows->tupdesc, 1, &isnull), false);
			for (int i = 0; i < count; i++) {
				Bytes id = compute::pg::BytesOf(id_elems[i], false);
				if (!located[i].found && id.len == row_id.len && memcmp(id.data, row_id.data, id.len) == 0) {
					located[i].found = true;
					located[i].queue = SPI_getbinval(found_rows->vals[r], found_rows->tupdesc, 2, &isnull);
					located[i].status =
					    compute::pg::BytesOf(SPI_getbinval(found_rows->vals[r], found_rows->tupdesc, 3, &isnull), false);
				}
			}
		}
	}
	for (int i = 0; i < count; i++) {
		bool config_null = config_elems == nullptr || config_nulls[i];
		Datum args[4] = {id_elems[i], PG_GETARG_DATUM(1), config_null ? Datum(0) : config_elems[i], PG_GETARG_DATUM(3)};
		const char nulls[4] = {' ', ' ', config_null ? 'n' : ' ', ' '};
		bool found = located != nullptr && SubmitLocated(args, nulls, queue, located[i]);
		for (int round = 0; round < 2 && !found; round++) {
			found = SubmitOnce(args, nulls, queue);
		}
		if (!found) {
			Bytes id = compute::pg::BytesOf(id_elems[i], false);
			CoreCheck([&] { return compute::Check(compute::SubmitConflict(id.ViewOrEmpty())); });
		}
		bool isnull;
		PutJob(rsinfo, SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();
	return Datum(0);
}

// wait_job(job_id bytea, timeout interval) returns compute.jobs: the job once
// it is complete, failed or expired, or as it stands when the timeout has
// passed; P0002 when unknown. Sleeps on the latch between looks, woken by
// the commit that finishes the job (see waiters.hpp).
Datum
compute_wait_job(PG_FUNCTION_ARGS) {
	Bytes id = JobIdArg(fcinfo, 0);
	int64 timeout = WaitArg(fcinfo, 1, &id, "timeout");
	Datum args[1] = {PG_GETARG_DATUM(0)};
	TimestampTz deadline = GetCurrentTimestamp() + timeout;
	bool first = true;
	for (;;) {
		if (!first) {
			compute::pg::AwaitJob(id.data); // listed before the look
		}
		SPI_connect();
		bool found = Execute(Statement::JobFinished, args, nullptr) > 0;
		bool finished = false;
		if (found) {
			bool isnull;
			finished = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		}
		SPI_finish();
		if (!found) {
			compute::pg::StopAwaiting();
			RaiseUnknownJob(id);
		}
		long left_ms = static_cast<long>((deadline - GetCurrentTimestamp()) / 1000);
		if (finished || left_ms <= 0 || IsolationUsesXactSnapshot()) {
			break;
		}
		if (!first) {
			compute::pg::SleepForQueue(left_ms);
			CHECK_FOR_INTERRUPTS();
		}
		first = false;
	}
	compute::pg::StopAwaiting();
	Datum job;
	if (!RunForJob(Statement::GetJob, args, nullptr, &job)) {
		RaiseUnknownJob(id);
	}
	PG_RETURN_DATUM(job);
}

// delete_job(job_id bytea) returns boolean
Datum
compute_delete_job(PG_FUNCTION_ARGS) {
	JobIdArg(fcinfo, 0);
	Datum args[1] = {PG_GETARG_DATUM(0)};
	compute::pg::RequireBatchRight(PointerGetDatum(construct_array(args, 1, BYTEAOID, -1, false, TYPALIGN_INT)),
	                               compute::Right::Admin);
	if (compute::pg::Distributed()) {
		// The shards' delete trigger does not write the coordinator's
		// compute.retired_attempts: the deleted row's token is kept here.
		SPI_connect();
		uint64 deleted = Execute(Statement::DeleteReturning, args, nullptr);
		for (uint64 i = 0; i < deleted; i++) {
			bool isnull;
			Datum attempt = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull && DatumGetInt32(attempt) > 0) {
				Datum retired[2] = {args[0], attempt};
				Execute(Statement::RecordRetired, retired, nullptr);
			}
		}
		SPI_finish();
		PG_RETURN_BOOL(deleted > 0);
	}
	PG_RETURN_BOOL(RunForCount(Statement::DeleteJob, args) > 0);
}

} // extern "C"
