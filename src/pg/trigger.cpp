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
// The check reads only the old and the new row, so it works the same on a
// distributed table's shards.

#include "pg/args.hpp"
#include "pg/boundary.hpp"
#include "pg/marks.hpp"

#include "core/lease.hpp"
#include "core/transition.hpp"
#include "core/validate.hpp"

using compute::pg::Bytes;
using compute::pg::BytesOf;
using compute::pg::CoreCheck;

namespace {

// Attribute numbers of the columns the trigger reads or writes; the lease
// columns are 0 on a 1.0.0 table.
struct Columns {
	int job_id, status, queue, created, grabbed, finished, output_files;
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

} // namespace

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
	Columns col = ColumnsOf(desc);
	bool leases = col.attempt > 0;
	bool inserting = TRIGGER_FIRED_BY_INSERT(event);
	HeapTuple old_row = inserting ? nullptr : trigger->tg_trigtuple;
	HeapTuple new_row = inserting ? trigger->tg_trigtuple : trigger->tg_newtuple;
	const Bitmapset *named = inserting ? nullptr : trigger->tg_updatedcols;
	auto is_named = [&](int attnum) { return bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber, named); };

	Bytes id = Field(new_row, desc, col.job_id);
	Bytes new_status = Field(new_row, desc, col.status);
	bool transition = inserting;
	compute::Status from = compute::Status::Queued;
	int32 old_attempt = 0;

	if (!inserting) {
		Bytes old_id = Field(old_row, desc, col.job_id);
		bool id_changed = !SameBytes(old_id, id);
		bool created_changed = !SameTimestamp(old_row, new_row, desc, col.created);
		CoreCheck([&] { return compute::CheckImmutable(old_id.ViewOrEmpty(), id_changed, created_changed); });

		Bytes old_status = Field(old_row, desc, col.status);
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
	Datum now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
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
			changes.Set(col.attempt, Int32GetDatum(0), false);
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
			CoreCheck([&] { return compute::CheckQueue(queue.View(), chars); });
		}
	}
	if (to == compute::Status::Queued) {
		// A queued row that a concurrent grab may have passed (it was locked
		// or not yet visible): the queue's mark must not stay after it.
		bool isnull;
		Bytes queue = Field(new_row, desc, col.queue);
		TimestampTz created = DatumGetTimestampTz(heap_getattr(new_row, col.created, desc, &isnull));
		if (!queue.null && !isnull && !id.null) {
			compute::pg::NoteQueuedRow(queue.data, queue.len, compute::pg::PositionOf(created, id.data, id.len));
		}
	}
	return PointerGetDatum(new_row);
}

} // extern "C"
