#include "pg/rights.hpp"
#include "pg/module.hpp"

#include "pg/boundary.hpp"

extern "C" {
#include "catalog/namespace.h"
#include "utils/acl.h"
#include "utils/inval.h"
}

namespace compute::pg {

namespace {

// -1: unknown; 0: no queue grants (or no table: a version before 1.2.0);
// 1: some.
int grants_state = -1;
Oid grants_relid = InvalidOid;

void
OnGrantsInvalidation(Datum, Oid relid) {
	if (relid == InvalidOid || relid == grants_relid) {
		grants_state = -1;
	}
}

bool
GrantsExist() {
	if (grants_state >= 0) {
		return grants_state == 1;
	}
	Oid schema = get_namespace_oid("compute", true);
	grants_relid = OidIsValid(schema) ? get_relname_relid("queue_grants", schema) : InvalidOid;
	if (!OidIsValid(grants_relid)) {
		return false; // no table: checked again at the next call, not cached
	}
	SPI_connect();
	int rc = SPI_execute("SELECT 1 FROM compute.queue_grants LIMIT 1", true, 1);
	bool exist = rc == SPI_OK_SELECT && SPI_processed > 0;
	SPI_finish();
	grants_state = exist ? 1 : 0;
	return exist;
}

// What the grants say of the caller, `right` and `queue` (NULL: whether it
// is restricted at all).
RightLookup
LookUp(Right right, const Bytes *queue) {
	static SPIPlanPtr plan = nullptr;
	RightLookup lookup = {false, false};
	SPI_connect();
	if (plan == nullptr) {
		Oid types[3] = {OIDOID, TEXTOID, TEXTOID};
		SPIPlanPtr prepared = SPI_prepare(
		    "SELECT pg_catalog.count(*) > 0,"
		    "       COALESCE(pg_catalog.bool_or($3 OPERATOR(pg_catalog.~~) g.queue_pattern), false)"
		    "  FROM compute.queue_grants g"
		    " WHERE g.right_name OPERATOR(pg_catalog.=) $2"
		    "   AND pg_catalog.pg_has_role($1, g.grantee, 'MEMBER')",
		    3, types);
		if (prepared == nullptr || SPI_keepplan(prepared) != 0) {
			elog(ERROR, "compute: could not prepare the queue-grant lookup");
		}
		plan = prepared;
	}
	std::string_view name = RightName(right);
	Datum args[3] = {ObjectIdGetDatum(GetOuterUserId()),
	                 PointerGetDatum(cstring_to_text_with_len(name.data(), static_cast<int>(name.size()))),
	                 queue != nullptr ? PointerGetDatum(cstring_to_text_with_len(queue->data, static_cast<int>(queue->len)))
	                                  : Datum(0)};
	const char nulls[3] = {' ', ' ', queue != nullptr ? ' ' : 'n'};
	if (SPI_execute_plan(plan, args, nulls, true, 1) == SPI_OK_SELECT && SPI_processed == 1) {
		bool isnull;
		lookup.restricted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		lookup.allowed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
	return lookup;
}

// Superusers hold every right (pg_has_role would make them members of
// every grantee).
bool
Unrestricted() {
	return !GrantsExist() || superuser_arg(GetOuterUserId());
}

const char *
CallerName() {
	const char *name = GetUserNameFromId(GetOuterUserId(), true);
	return name != nullptr ? name : "?";
}

} // namespace

void
InitRights() {
	OnRelcacheInvalidation(OnGrantsInvalidation);
}

void
RequireQueueRight(const Bytes &queue, Right right, const Bytes *job) {
	if (queue.null || Unrestricted()) {
		return;
	}
	RightLookup lookup = LookUp(right, &queue);
	const char *role = CallerName();
	CoreCheck([&] {
		return CheckQueueRight(job != nullptr ? job->ViewOrEmpty() : std::string_view(), queue.ViewOrEmpty(), role,
		                       right, lookup);
	});
}

void
RequireJobRight(Datum job, Right right, const Bytes &id) {
	if (Unrestricted()) {
		return;
	}
	bool isnull;
	Datum queue = GetAttributeByName(DatumGetHeapTupleHeader(job), "queue", &isnull);
	RequireQueueRight(BytesOf(queue, isnull), right, &id);
}

void
RequireBatchRight(Datum job_ids, Right right) {
	if (Unrestricted()) {
		return;
	}
	Oid types[1] = {BYTEAARRAYOID};
	Datum args[1] = {job_ids};
	SPI_connect();
	int rc = SPI_execute_with_args("SELECT DISTINCT ON (queue) queue, job_id FROM compute.jobs"
	                               " WHERE job_id OPERATOR(pg_catalog.=) ANY ($1)",
	                               1, types, args, nullptr, true, 0);
	if (rc != SPI_OK_SELECT) {
		elog(ERROR, "compute: could not read the queues of a batch");
	}
	SPITupleTable *rows = SPI_tuptable;
	uint64 count = SPI_processed; // RequireQueueRight runs SPI of its own
	for (uint64 i = 0; i < count; i++) {
		bool queue_null, id_null;
		Datum queue_value = SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &queue_null);
		Datum id_value = SPI_getbinval(rows->vals[i], rows->tupdesc, 2, &id_null);
		Bytes queue = BytesOf(queue_value, queue_null);
		Bytes id = BytesOf(id_value, id_null);
		RequireQueueRight(queue, right, &id);
	}
	SPI_finish();
}

void
RequireAllQueues(const char *function, Right right) {
	if (Unrestricted()) {
		return;
	}
	bool restricted = LookUp(right, nullptr).restricted;
	const char *role = CallerName();
	CoreCheck([&] { return CheckAllQueues(function, role, right, restricted); });
}

} // namespace compute::pg

extern "C" {

PG_FUNCTION_INFO_V1(compute_queue_grants_changed);

// compute._queue_grants_changed(): AFTER ... FOR EACH STATEMENT on
// compute.queue_grants. Every backend forgets whether grants exist.
Datum
compute_queue_grants_changed(PG_FUNCTION_ARGS) {
	if (!CALLED_AS_TRIGGER(fcinfo)) {
		ereport(ERROR, (errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
		                errmsg("compute._queue_grants_changed() must be called as a trigger")));
	}
	TriggerData *trigger = reinterpret_cast<TriggerData *>(fcinfo->context);
	CacheInvalidateRelcache(trigger->tg_relation);
	return PointerGetDatum(nullptr);
}

} // extern "C"
