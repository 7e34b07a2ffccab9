// compute._jobs_guard(): the BEFORE INSERT OR UPDATE row trigger on
// compute.jobs that enforces SPEC section 3 for every path, the functions
// and plain SQL from any client alike.
//
// A write is a transition when it is an INSERT, when the UPDATE names status
// in its SET list (tg_updatedcols), or when status changed anyway. A
// transition is checked against the table in src/core/transition.cpp, and
// entering a status sets or clears grabbed, finished and output_files. Any
// UPDATE is refused if it changes job_id or created.
//
// From version 1.1.0 the table has lease columns (src/core/lease.hpp), and
// the trigger also: fences an UPDATE that names attempt (the token must be
// the current attempt of an in-progress job), starts a lease on entering
// in-progress (attempt + 1, lease_expires = now() + lease), clears the lease
// of any job that is not in-progress, and resets the lost-lease budget of a
// new submission. With a 1.0.0 table (no attempt column) it skips all that,
// since one library serves every installed version.
//
// From version 1.2.0 (the trigger is created with the argument 'retired'):
// a new row's first token continues after the last one a deleted row of the
// same job_id had handed out (compute.retired_attempts), so a token is never
// handed out twice for one job id; the file-name rules of the functions hold
// for plain SQL; a lease given by plain SQL must end after it starts. The
// trigger fires ALWAYS: with session_replication_role = replica (a restore,
// logical replication) it checks nothing but still notes queued rows for the
// queue marks.
//
// The check reads only the old and the new row (and, for a new row, the
// retired token of its job id), so it works the same on a distributed
// table's shards. There (distributed mode, README "Distributed mode") a new
// row keeps the token its INSERT gives (submit_job looked it up on the
// coordinator), and the notes for queue marks, waiting grabs, NOTIFY and
// compute.stats go to the worker node's own shared memory, where nobody
// reads them: the coordinator's functions tell its own waiters. No BEFORE ROW trigger may fire after it (it would change
// the row after the check): such a trigger makes every write fail.

#include "pg/args.hpp"
#include "pg/boundary.hpp"
#include "pg/distributed.hpp"
#include "pg/marks.hpp"
#include "pg/module.hpp"
#include "pg/stats.hpp"
#include "pg/waiters.hpp"

#include "core/lease.hpp"
#include "core/stats.hpp"
#include "core/transition.hpp"
#include "core/validate.hpp"

extern "C" {
#include "utils/inval.h"
#include "utils/rel.h"
}

using compute::pg::Bytes;
using compute::pg::BytesOf;

namespace {

// The queue of the row the trigger is writing (empty: none yet): a
// refusal is counted under it (compute.stats).
Bytes refusing_queue = {nullptr, 0, true};

// The trigger's core checks: a refusal is counted, then raised.
template <typename F>
void
CoreCheck(F &&core) {
	compute::pg::PgError error;
	if (!compute::pg::RunCore(std::forward<F>(core), error)) {
		compute::pg::CountRefusal(refusing_queue.null ? nullptr : refusing_queue.data, refusing_queue.len,
		                          error.sqlstate);
		compute::pg::Raise(error);
	}
}

// Attribute numbers of the columns the trigger reads or writes; the lease
// columns are 0 on a 1.0.0 table.
struct Columns {
	int job_id, status, queue, input_files, created, grabbed, finished, output_files;
	int attempt, lease_expires, lease, lost_leases, error;
};

int
Column(TupleDesc desc, const char *name, bool required) {
	int attnum = SPI_fnumber(desc, name);
	if (attnum > 0) {
		return attnum;
	}
	if (required) {
		elog(ERROR, "compute._jobs_guard: table has no column \"%s\"", name);
	}
	return 0;
}

Columns
ColumnsOf(TupleDesc desc) {
	Columns col;
	col.job_id = Column(desc, "job_id", true);
	col.status = Column(desc, "status", true);
	col.queue = Column(desc, "queue", true);
	col.input_files = Column(desc, "input_files", true);
	col.created = Column(desc, "created", true);
	col.grabbed = Column(desc, "grabbed", true);
	col.finished = Column(desc, "finished", true);
	col.output_files = Column(desc, "output_files", true);
	col.attempt = Column(desc, "attempt", false);
	bool leases = col.attempt > 0;
	col.lease_expires = Column(desc, "lease_expires", leases);
	col.lease = Column(desc, "lease", leases);
	col.lost_leases = Column(desc, "lost_leases", leases);
	col.error = Column(desc, "error", leases);
	return col;
}

// The column numbers of the tables the triggers fire on, kept per backend
// (resolving 13 names on every row was a measurable part of a write) and
// forgotten when the table's relcache entry is invalidated (ALTER TABLE).
struct CachedColumns {
	Oid relid;
	Columns col;
};
constexpr int kCachedTables = 4;
CachedColumns cached_columns[kCachedTables];
int cached_count = 0;

void
ForgetColumns(Datum, Oid relid) {
	int kept = 0;
	for (int i = 0; i < cached_count; i++) {
		if (OidIsValid(relid) && cached_columns[i].relid != relid) {
			cached_columns[kept++] = cached_columns[i];
		}
	}
	cached_count = kept;
}

Columns
ColumnsOf(Relation rel) {
	Oid relid = RelationGetRelid(rel);
	for (int i = 0; i < cached_count; i++) {
		if (cached_columns[i].relid == relid) {
			return cached_columns[i].col;
		}
	}
	Columns col = ColumnsOf(RelationGetDescr(rel));
	if (cached_count == kCachedTables) {
		cached_count--; // rare (more than 4 tables): the last one makes room
	}
	cached_columns[cached_count++] = {relid, col};
	return col;
}

Bytes
Field(HeapTuple tuple, TupleDesc desc, int attnum) {
	bool isnull;
	Datum value = heap_getattr(tuple, attnum, desc, &isnull);
	return BytesOf(value, isnull);
}

int32
IntField(HeapTuple tuple, TupleDesc desc, int attnum) {
	bool isnull;
	Datum value = heap_getattr(tuple, attnum, desc, &isnull);
	return isnull ? 0 : DatumGetInt32(value);
}

bool
IsNull(HeapTuple tuple, int attnum) {
	return heap_attisnull(tuple, attnum, nullptr);
}

bool
SameBytes(const Bytes &a, const Bytes &b) {
	return a.null == b.null && a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

bool
SameTimestamp(HeapTuple a, HeapTuple b, TupleDesc desc, int attnum) {
	bool a_null, b_null;
	Datum a_value = heap_getattr(a, attnum, desc, &a_null);
	Datum b_value = heap_getattr(b, attnum, desc, &b_null);
	return a_null == b_null && (a_null || DatumGetTimestampTz(a_value) == DatumGetTimestampTz(b_value));
}

// The columns to change in the new row, collected for one
// heap_modify_tuple_by_cols() call.
struct Changes {
	int columns[8];
	Datum values[8];
	bool nulls[8];
	int count;

	void
	Set(int attnum, Datum value, bool isnull) {
		Assert(count < 8);
		columns[count] = attnum;
		values[count] = value;
		nulls[count] = isnull;
		count++;
	}
	void
	SetNull(int attnum) {
		Set(attnum, Datum(0), true);
	}
};

// Refuses the write if an enabled BEFORE ROW INSERT/UPDATE trigger fires
// after this one (triggers fire in name order): it could change the row
// after the check.
void
CheckNoTriggerAfter(const TriggerData *trigger) {
	const TriggerDesc *triggers = trigger->tg_relation->trigdesc;
	bool after_self = false;
	for (int i = 0; triggers != nullptr && i < triggers->numtriggers; i++) {
		const Trigger &other = triggers->triggers[i];
		if (other.tgoid == trigger->tg_trigger->tgoid) {
			after_self = true;
			continue;
		}
		if (after_self && other.tgenabled != TRIGGER_DISABLED && TRIGGER_FOR_ROW(other.tgtype) &&
		    TRIGGER_FOR_BEFORE(other.tgtype) &&
		    (TRIGGER_FOR_INSERT(other.tgtype) || TRIGGER_FOR_UPDATE(other.tgtype))) {
			const char *name = other.tgname;
			const char *self = trigger->tg_trigger->tgname;
			CoreCheck([&] { return compute::Check(compute::TriggerAfterCheck(name, self)); });
		}
	}
}

// The file-name rules of the functions (one dimension, no NULL or empty
// name) for a file-name column written by plain SQL.
void
CheckFilesColumn(HeapTuple tuple, TupleDesc desc, int attnum, const char *column, const Bytes &id) {
	bool isnull;
	Datum value = heap_getattr(tuple, attnum, desc, &isnull);
	if (isnull) {
		return; // NOT NULL constraints are the table's
	}
	ArrayType *files = DatumGetArrayTypeP(value);
	int ndim = ARR_NDIM(files);
	CoreCheck([&] { return compute::ForJob(id.ViewOrEmpty(), compute::CheckFileArrayShape(column, ndim)); });
	Datum *elems;
	bool *nulls;
	int count;
	int16 typlen;
	bool typbyval;
	char typalign;
	get_typlenbyvalalign(ARR_ELEMTYPE(files), &typlen, &typbyval, &typalign);
	deconstruct_array(files, ARR_ELEMTYPE(files), typlen, typbyval, typalign, &elems, &nulls, &count);
	for (int i = 0; i < count; i++) {
		Bytes name = BytesOf(elems[i], nulls[i]);
		CoreCheck([&] {
			return compute::ForJob(id.ViewOrEmpty(),
			                       compute::CheckFileName(column, static_cast<size_t>(i) + 1, name.View()));
		});
	}
}

// Runs the SPI work of `body` as the owner of `relation` (compute.jobs,
// the extension's owner), as PostgreSQL's own RI triggers do: the writing
// role needs no privilege on compute.retired_attempts. An error restores
// the caller's role when its (sub)transaction aborts.
template <typename F>
void
AsTableOwner(Relation relation, F &&body) {
	Oid saved_user;
	int saved_context;
	GetUserIdAndSecContext(&saved_user, &saved_context);
	SetUserIdAndSecContext(relation->rd_rel->relowner, saved_context | SECURITY_LOCAL_USERID_CHANGE);
	body();
	SetUserIdAndSecContext(saved_user, saved_context);
}

SPIPlanPtr
KeptPlan(SPIPlanPtr *plan, const char *sql) {
	if (*plan == nullptr) {
		Oid types[1] = {BYTEAOID};
		SPIPlanPtr prepared = SPI_prepare_cursor(sql, 1, types, CURSOR_OPT_GENERIC_PLAN);
		if (prepared == nullptr || SPI_keepplan(prepared) != 0) {
			elog(ERROR, "compute._jobs_guard: could not prepare \"%s\"", sql);
		}
		*plan = prepared;
	}
	return *plan;
}

// The last token a deleted row of this job id handed out. A transaction
// that is deleting a row of this id records it only when it commits, after
// this statement's snapshot: so first wait for it (a key-share lock of the
// row, which a delete holds and an ordinary update does not), then read
// with a new snapshot (READ COMMITTED; a transaction snapshot gets 40001
// from the lock instead).
int32
LookUpRetired(const Bytes &id) {
	static SPIPlanPtr wait_plan = nullptr;
	static SPIPlanPtr plan = nullptr;
	SPI_connect();
	bytea *key = static_cast<bytea *>(palloc(VARHDRSZ + id.len));
	SET_VARSIZE(key, VARHDRSZ + id.len);
	memcpy(VARDATA(key), id.data, id.len);
	Datum args[1] = {PointerGetDatum(key)};
	SPI_execute_plan(KeptPlan(&wait_plan, "SELECT FROM compute.jobs WHERE job_id = $1 FOR KEY SHARE"), args, nullptr,
	                 false, 1);
	int32 attempt = 0;
	if (SPI_execute_plan(KeptPlan(&plan, "SELECT attempt FROM compute.retired_attempts WHERE job_id = $1"), args,
	                     nullptr, false, 1) == SPI_OK_SELECT &&
	    SPI_processed > 0) {
		bool isnull;
		Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		attempt = isnull ? 0 : DatumGetInt32(value);
	}
	SPI_finish();
	return attempt;
}

// The last token a deleted row of this job id handed out (0 if none).
int32
RetiredAttempt(Relation relation, const Bytes &id) {
	int32 attempt = 0;
	AsTableOwner(relation, [&] { attempt = LookUpRetired(id); });
	return attempt;
}

// Tells listeners and waiters of a transition (1.2.0), at commit (a prepared
// transaction notifies nothing: PostgreSQL cannot prepare one that did):
// queued notifies the queue's channel (compute_queue_ + md5 of the queue
// name; PostgreSQL sends one per channel per transaction); entering
// complete, failed or expired notifies compute_finished with "<job id in
// hex> <status>", and wakes wait_job's waiters.
void
Announce(HeapTuple row, TupleDesc desc, const Columns &col, const Bytes &id, compute::Status to) {
	if (id.null || id.len != 16) {
		return;
	}
	if (to == compute::Status::Complete || to == compute::Status::Failed || to == compute::Status::Expired) {
		compute::pg::NoteFinishedJob(id.data);
	}
	if (!compute::pg::notify_enabled) {
		return;
	}
	if (to == compute::Status::Queued) {
		Bytes queue = Field(row, desc, col.queue);
		char channel[64] = "compute_queue_";
		const char *errstr = nullptr;
		if (!queue.null && pg_md5_hash(queue.data, queue.len, channel + strlen(channel), &errstr)) {
			compute::pg::QueueNotify(channel, nullptr);
		}
	} else if (to != compute::Status::InProgress && compute::pg::notify_finished) {
		char payload[64];
		static const char digits[] = "0123456789abcdef";
		for (int i = 0; i < 16; i++) {
			payload[2 * i] = digits[static_cast<unsigned char>(id.data[i]) >> 4];
			payload[2 * i + 1] = digits[static_cast<unsigned char>(id.data[i]) & 0xf];
		}
		snprintf(payload + 32, sizeof(payload) - 32, " %s", compute::StatusName(to).data());
		compute::pg::QueueNotify("compute_finished", payload);
	}
}

// Whether the trigger was created with the argument `arg`.
bool
HasArgument(const Trigger *trigger, const char *arg) {
	for (int i = 0; i < trigger->tgnargs; i++) {
		if (strcmp(trigger->tgargs[i], arg) == 0) {
			return true;
		}
	}
	return false;
}

bool
IsQueued(const Bytes &status) {
	return !status.null && status.len == 6 && memcmp(status.data, "queued", 6) == 0;
}

// Notes a queued row for the queue marks (see marks.hpp): a row written as
// queued, or (`locked`) the old version of a row this transaction locks.
void
NoteQueued(HeapTuple row, TupleDesc desc, const Columns &col, const Bytes &id, bool locked) {
	bool isnull;
	Bytes queue = Field(row, desc, col.queue);
	TimestampTz created = DatumGetTimestampTz(heap_getattr(row, col.created, desc, &isnull));
	if (queue.null || isnull || id.null) {
		return;
	}
	compute::Position position = compute::pg::PositionOf(created, id.data, id.len);
	if (locked) {
		compute::pg::NoteLockedQueuedRow(queue.data, queue.len, position);
	} else {
		compute::pg::NoteQueuedRow(queue.data, queue.len, position);
	}
}

} // namespace

namespace compute::pg {

void
InitTrigger() {
	OnRelcacheInvalidation(ForgetColumns);
}

} // namespace compute::pg

extern "C" {

PG_FUNCTION_INFO_V1(compute_jobs_guard);

Datum
compute_jobs_guard(PG_FUNCTION_ARGS) {
	if (!CALLED_AS_TRIGGER(fcinfo)) {
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
		                errmsg("compute._jobs_guard() must be called as a trigger")));
	}
	TriggerData *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
	TriggerEvent event = trigger->tg_event;
	if (!TRIGGER_FIRED_BEFORE(event) || !TRIGGER_FIRED_FOR_ROW(event) ||
	    !(TRIGGER_FIRED_BY_INSERT(event) || TRIGGER_FIRED_BY_UPDATE(event))) {
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
		                errmsg("compute._jobs_guard() must fire BEFORE INSERT OR UPDATE FOR EACH ROW")));
	}

	TupleDesc desc = RelationGetDescr(trigger->tg_relation);
	Columns col = ColumnsOf(trigger->tg_relation);
	bool leases = col.attempt > 0;
	bool inserting = TRIGGER_FIRED_BY_INSERT(event);
	HeapTuple old_row = inserting ? nullptr : trigger->tg_trigtuple;
	HeapTuple new_row = inserting ? trigger->tg_trigtuple : trigger->tg_newtuple;
	const Bitmapset *named = inserting ? nullptr : trigger->tg_updatedcols;
	auto is_named = [&](int attnum) { return bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, named); };

	Bytes id = Field(new_row, desc, col.job_id);
	refusing_queue = Field(new_row, desc, col.queue);
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA) {
		// A restore or a replication apply (the trigger fires ALWAYS from
		// 1.2.0): rows as they were on the origin, unchecked; only the
		// queue marks must learn of queued rows.
		if (IsQueued(Field(new_row, desc, col.status))) {
			NoteQueued(new_row, desc, col, id, false);
		}
		return PointerGetDatum(new_row);
	}
	CheckNoTriggerAfter(trigger);
	bool v12 = HasArgument(trigger->tg_trigger, "retired");
	Bytes new_status = Field(new_row, desc, col.status);
	bool transition = inserting;
	compute::Status from = compute::Status::Queued;
	int32 old_attempt = 0;

	if (!inserting) {
		Bytes old_status = Field(old_row, desc, col.status);
		if (IsQueued(old_status)) {
			// A queued row this transaction locks (and perhaps writes as
			// something else): if the transaction rolls back, the row is
			// queued again, perhaps behind the mark a grab set while it was
			// locked. Noted before any check can refuse the write.
			NoteQueued(old_row, desc, col, id, true);
		}
		Bytes old_id = Field(old_row, desc, col.job_id);
		bool id_changed = !SameBytes(old_id, id);
		bool created_changed = !SameTimestamp(old_row, new_row, desc, col.created);
		CoreCheck([&] { return compute::CheckImmutable(old_id.ViewOrEmpty(), id_changed, created_changed); });

		CoreCheck([&] { return compute::CheckStatusValue(id.ViewOrEmpty(), old_status.ViewOrEmpty(), &from); });
		transition = is_named(col.status) || !SameBytes(old_status, new_status);

		if (leases) {
			old_attempt = IntField(old_row, desc, col.attempt);
			if (is_named(col.attempt)) {
				int32 claimed = IntField(new_row, desc, col.attempt);
				CoreCheck([&] { return compute::CheckFence(id.ViewOrEmpty(), from, old_attempt, claimed); });
			}
		}
	}
	if (new_status.null) {
		return PointerGetDatum(new_row); // left to the NOT NULL constraint
	}

	compute::Status to = from;
	compute::Effects effects;
	bool new_submission = false;
	if (transition) {
		CoreCheck([&] { return compute::CheckStatusValue(id.ViewOrEmpty(), new_status.ViewOrEmpty(), &to); });
		CoreCheck([&]() -> compute::Check {
			std::optional<compute::Status> before;
			if (!inserting) {
				before = from;
			}
			auto refused = compute::CheckTransition(id.ViewOrEmpty(), before, to);
			effects = compute::EffectsOf(to);
			new_submission = compute::StartsSubmission(before, to);
			return refused;
		});
	}

	Changes changes;
	changes.count = 0;
	// now(), or when a waiting grab of this transaction woke (waiters.hpp).
	Datum now = TimestampTzGetDatum(compute::pg::RowClock());
	if (effects.clear_run) {
		changes.SetNull(col.grabbed);
		changes.SetNull(col.finished);
		changes.SetNull(col.output_files);
	}
	if (effects.set_grabbed) {
		changes.Set(col.grabbed, now, false);
	}
	if (effects.set_finished) {
		changes.Set(col.finished, now, false);
	}
	if (leases) {
		if (inserting) {
			// 1.2.0: tokens go on from where a deleted row of this job id
			// left them, so that no token is handed out twice.
			// On a shard of a distributed compute.jobs (distributed mode)
			// the retired tokens are the coordinator's: submit_job looks
			// the token up there and writes it in the new row, kept here.
			int32 first = 0;
			if (v12 && !id.null) {
				first = compute::pg::IsShard(trigger->tg_relation) ? Max(IntField(new_row, desc, col.attempt), 0)
				                                                   : RetiredAttempt(trigger->tg_relation, id);
			}
			changes.Set(col.attempt, Int32GetDatum(first), false);
		}
		if (new_submission) {
			changes.Set(col.lost_leases, Int32GetDatum(0), false);
		} else if (is_named(col.lost_leases)) {
			int32 lost_leases = IntField(new_row, desc, col.lost_leases);
			CoreCheck([&] { return compute::CheckLostLeases(id.ViewOrEmpty(), lost_leases); });
		}
		if (effects.clear_error && !IsNull(new_row, col.error)) {
			changes.SetNull(col.error);
		}
		if (effects.start_lease) {
			// The lease the UPDATE gave (grab_job names it), else the default.
			bool lease_null;
			Datum lease = heap_getattr(new_row, col.lease, desc, &lease_null);
			if (!lease_null && is_named(col.lease)) {
				compute::pg::LeaseFit fit = compute::pg::FitLease(DatumGetTimestampTz(now), lease);
				CoreCheck([&] {
					return compute::ForJob(id.ViewOrEmpty(),
					                       compute::CheckLeaseLength("lease", false, fit != compute::pg::LeaseFit::NotPositive,
					                                                 fit == compute::pg::LeaseFit::TooLong,
					                                                 compute::pg::kMaxLeaseYears));
				});
			}
			if (lease_null || !is_named(col.lease)) {
				Interval *fallback = static_cast<Interval *>(palloc0(sizeof(Interval)));
				fallback->time = compute::kDefaultLeaseSeconds * USECS_PER_SEC;
				lease = IntervalPGetDatum(fallback);
			}
			changes.Set(col.attempt, Int32GetDatum(old_attempt + 1), false);
			changes.Set(col.lease, lease, false);
			changes.Set(col.lease_expires, DirectFunctionCall2(timestamptz_pl_interval, now, lease), false);
		} else if (to != compute::Status::InProgress) {
			// Only an in-progress job holds a lease.
			if (!IsNull(new_row, col.lease_expires)) {
				changes.SetNull(col.lease_expires);
			}
			if (!IsNull(new_row, col.lease)) {
				changes.SetNull(col.lease);
			}
		}
	}
	if (changes.count > 0) {
		new_row = heap_modify_tuple_by_cols(new_row, desc, changes.count, changes.columns, changes.values,
		                                    changes.nulls);
	}
	// The row as written must fit its status, whichever columns the write
	// named (a plain UPDATE of grabbed, say, is no transition).
	compute::RunFields fields = {!IsNull(new_row, col.grabbed), !IsNull(new_row, col.finished),
	                             !IsNull(new_row, col.output_files)};
	CoreCheck([&] { return compute::CheckConsistent(id.ViewOrEmpty(), to, fields); });
	if (inserting || is_named(col.queue)) {
		// The functions' rule on queue names holds for plain SQL too.
		Bytes queue = Field(new_row, desc, col.queue);
		if (!queue.null) {
			size_t chars = static_cast<size_t>(pg_mbstrlen_with_len(queue.data, static_cast<int>(queue.len)));
			CoreCheck([&] { return compute::ForJob(id.ViewOrEmpty(), compute::CheckQueue(queue.View(), chars)); });
		}
	}
	if (v12) {
		if (inserting || is_named(col.input_files)) {
			CheckFilesColumn(new_row, desc, col.input_files, "input_files", id);
		}
		if (inserting || is_named(col.output_files)) {
			CheckFilesColumn(new_row, desc, col.output_files, "output_files", id);
		}
	}
	// A queued row that a concurrent grab may have passed (it was locked or
	// not yet visible): the queue's mark must not stay after it.
	if (to == compute::Status::Queued) {
		NoteQueued(new_row, desc, col, id, false);
	}
	if (v12 && transition) {
		Announce(new_row, desc, col, id, to);
		// compute.stats: a new row that submit_job proposes is counted by
		// submit_job (it may be a dedupe hit).
		if (!(inserting && compute::pg::Submitting())) {
			bool lease_lost = leases && !inserting && is_named(col.lost_leases) &&
			                  IntField(new_row, desc, col.lost_leases) > IntField(old_row, desc, col.lost_leases);
			std::optional<compute::Status> before;
			if (!inserting) {
				before = from;
			}
			uint32 counters = compute::CountersOf(before, to, lease_lost);
			if (counters != 0 && !refusing_queue.null) {
				compute::pg::CountWrite(refusing_queue.data, refusing_queue.len, counters);
			}
		}
	}
	refusing_queue = Bytes{nullptr, 0, true};
	return PointerGetDatum(new_row);
}

} // extern "C"

namespace {
void
RecordRetired(HeapTuple old_row, TupleDesc desc, const Columns &col, int32 attempt);
} // namespace

extern "C" {

PG_FUNCTION_INFO_V1(compute_jobs_retire);

// compute._jobs_retire(): BEFORE DELETE FOR EACH ROW (1.2.0). Keeps the last
// token a deleted job handed out in compute.retired_attempts, so that a job
// submitted again under the same id goes on from there; and notes a deleted
// queued row for the queue marks (a rolled-back delete queues it again).
Datum
compute_jobs_retire(PG_FUNCTION_ARGS) {
	if (!CALLED_AS_TRIGGER(fcinfo)) {
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
		                errmsg("compute._jobs_retire() must be called as a trigger")));
	}
	TriggerData *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
	TriggerEvent event = trigger->tg_event;
	if (!TRIGGER_FIRED_BEFORE(event) || !TRIGGER_FIRED_FOR_ROW(event) || !TRIGGER_FIRED_BY_DELETE(event)) {
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
		                errmsg("compute._jobs_retire() must fire BEFORE DELETE FOR EACH ROW")));
	}
	TupleDesc desc = RelationGetDescr(trigger->tg_relation);
	Columns col = ColumnsOf(trigger->tg_relation);
	HeapTuple old_row = trigger->tg_trigtuple;
	Bytes id = Field(old_row, desc, col.job_id);
	if (IsQueued(Field(old_row, desc, col.status))) {
		NoteQueued(old_row, desc, col, id, true);
	}
	int32 attempt = col.attempt > 0 ? IntField(old_row, desc, col.attempt) : 0;
	if (attempt > 0 && !id.null) {
		AsTableOwner(trigger->tg_relation, [&] { RecordRetired(old_row, desc, col, attempt); });
	}
	return PointerGetDatum(old_row);
}

} // extern "C"

namespace {

void
RecordRetired(HeapTuple old_row, TupleDesc desc, const Columns &col, int32 attempt) {
	{
		static SPIPlanPtr plan = nullptr;
		SPI_connect();
		if (plan == nullptr) {
			Oid types[2] = {BYTEAOID, INT4OID};
			SPIPlanPtr prepared = SPI_prepare_cursor(
			    "INSERT INTO compute.retired_attempts AS r (job_id, attempt) VALUES ($1, $2)"
			    " ON CONFLICT (job_id) DO UPDATE SET attempt = GREATEST(r.attempt, excluded.attempt)",
			    2, types, CURSOR_OPT_GENERIC_PLAN);
			if (prepared == nullptr || SPI_keepplan(prepared) != 0) {
				elog(ERROR, "compute._jobs_retire: could not prepare the retired-token insert");
			}
			plan = prepared;
		}
		bool isnull;
		Datum args[2] = {heap_getattr(old_row, col.job_id, desc, &isnull), Int32GetDatum(attempt)};
		if (SPI_execute_plan(plan, args, nullptr, false, 0) != SPI_OK_INSERT) {
			elog(ERROR, "compute._jobs_retire: could not record the retired token");
		}
		SPI_finish();
	}
}

} // namespace
