// compute._jobs_guard(): the BEFORE INSERT OR UPDATE row trigger on
// compute.jobs that enforces SPEC section 3 for every path, the functions
// and plain SQL from any client alike.
//
// A write is a transition when it is an INSERT, when the UPDATE names status
// in its SET list (tg_updatedcols), or when status changed anyway. A
// transition is checked against the table in src/core/transition.cpp, and
// entering a status sets or clears grabbed, finished and output_files. Any
// UPDATE is refused if it changes job_id or created. The check reads only the
// old and the new row, so it works the same on a distributed table's shards.

#include "pg/args.hpp"
#include "pg/boundary.hpp"

#include "core/transition.hpp"

using compute::pg::Bytes;
using compute::pg::BytesOf;
using compute::pg::CoreCheck;

namespace {

// Attribute numbers of the columns the trigger reads or writes.
struct Columns {
	int job_id, status, created, grabbed, finished, output_files;
};

int
Column(TupleDesc desc, const char *name) {
	int attnum = SPI_fnumber(desc, name);
	if (attnum <= 0) {
		elog(ERROR, "compute._jobs_guard: table has no column \"%s\"", name);
	}
	return attnum;
}

Bytes
Field(HeapTuple tuple, TupleDesc desc, int attnum) {
	bool isnull;
	Datum value = heap_getattr(tuple, attnum, desc, &isnull);
	return BytesOf(value, isnull);
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
	Columns col = {Column(desc, "job_id"),  Column(desc, "status"),   Column(desc, "created"),
	               Column(desc, "grabbed"), Column(desc, "finished"), Column(desc, "output_files")};
	bool inserting = TRIGGER_FIRED_BY_INSERT(event);
	HeapTuple old_row = inserting ? nullptr : trigger->tg_trigtuple;
	HeapTuple new_row = inserting ? trigger->tg_trigtuple : trigger->tg_newtuple;

	Bytes id = Field(new_row, desc, col.job_id);
	Bytes new_status = Field(new_row, desc, col.status);
	bool transition = inserting;
	compute::Status from = compute::Status::Queued;

	if (!inserting) {
		Bytes old_id = Field(old_row, desc, col.job_id);
		bool id_changed = !SameBytes(old_id, id);
		bool created_changed = !SameTimestamp(old_row, new_row, desc, col.created);
		CoreCheck([&] { return compute::CheckImmutable(old_id.ViewOrEmpty(), id_changed, created_changed); });

		Bytes old_status = Field(old_row, desc, col.status);
		CoreCheck([&] { return compute::CheckStatusValue(id.ViewOrEmpty(), old_status.ViewOrEmpty(), &from); });
		bool named = bms_is_member(col.status - FirstLowInvalidHeapAttributeNumber, trigger->tg_updatedcols);
		transition = named || !SameBytes(old_status, new_status);
	}
	if (!transition || new_status.null) {
		// No transition; a NULL status is left to the NOT NULL constraint.
		return PointerGetDatum(new_row);
	}

	compute::Status to;
	compute::Effects effects;
	CoreCheck([&] { return compute::CheckStatusValue(id.ViewOrEmpty(), new_status.ViewOrEmpty(), &to); });
	CoreCheck([&]() -> compute::Check {
		auto refused = compute::CheckTransition(id.ViewOrEmpty(),
		                                        inserting ? std::nullopt : std::optional<compute::Status>(from), to);
		effects = compute::EffectsOf(to);
		return refused;
	});

	int columns[3];
	Datum values[3];
	bool nulls[3];
	int changed = 0;
	auto set = [&](int attnum, Datum value, bool isnull) {
		columns[changed] = attnum;
		values[changed] = value;
		nulls[changed] = isnull;
		changed++;
	};
	Datum now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	if (effects.clear_run) {
		set(col.grabbed, Datum(0), true);
		set(col.finished, Datum(0), true);
		set(col.output_files, Datum(0), true);
	}
	if (effects.set_grabbed) {
		set(col.grabbed, now, false);
	}
	if (effects.set_finished) {
		set(col.finished, now, false);
	}
	if (changed > 0) {
		new_row = heap_modify_tuple_by_cols(new_row, desc, changed, columns, values, nulls);
	}
	return PointerGetDatum(new_row);
}

} // extern "C"
