// The direct path of finishes and grabs; see direct.hpp. Plain PostgreSQL C API on
// plain data: no C++ object with a destructor lives here.

#include "pg/direct.hpp"
#include "pg/module.hpp"

extern "C" {
#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_am.h"
#include "catalog/pg_index.h"
#include "catalog/pg_language.h"
#include "catalog/pg_proc.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parsetree.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
}

#include <initializer_list>

namespace compute::pg {

bool direct_path_enabled = true;

namespace {

// What the direct path keeps per backend for compute.jobs, built at its
// first use and forgotten when the table's relcache entry is invalidated
// (ALTER TABLE, CREATE INDEX, a trigger created or dropped, ANALYZE ...).
struct Cache {
	bool valid;
	Oid relid;
	bool usable;          // false: always step aside (see Usable)
	MemoryContext memory; // holds the ExprStates
	int checks;           // = the table's relchecks when built
	ExprState **check_states;
	// Column numbers (0: no such column, or not of a type the direct path
	// writes as is), and the element type of output_files.
	AttrNumber job_id, status, queue, created, output_files, error, attempt, lease;
	Oid files_element;
	Oid queue_collation;
	Oid queued_index; // jobs_queued_idx, checked to be what the grab reads; or InvalidOid
};
Cache cache = {};
// The memory of forgotten caches: a direct write may be using a copy of
// one (a relcache invalidation is processed whenever a lock is taken), so
// they are freed when the transaction ends.
MemoryContext retired = nullptr;

void
Forget(Datum, Oid relid) {
	if (cache.valid && (relid == InvalidOid || relid == cache.relid)) {
		if (cache.memory != nullptr) {
			if (retired == nullptr) {
				retired = AllocSetContextCreate(CacheMemoryContext, "compute direct path (forgotten)",
				                                ALLOCSET_SMALL_SIZES);
			}
			MemoryContextSetParent(cache.memory, retired);
		}
		cache = Cache{};
	}
}

void
FreeForgotten(XactEvent event, void *) {
	if (retired != nullptr && (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
	                           event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
	                           event == XACT_EVENT_PARALLEL_ABORT)) {
		MemoryContextReset(retired);
	}
}

// A function a CHECK constraint may call in a kept expression: built in,
// and internal or C (no SQL function, whose execution state is made for
// one query).
bool
BuiltIn(Oid func) {
	if (func >= FirstNormalObjectId) {
		return false;
	}
	HeapTuple proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(func));
	if (!HeapTupleIsValid(proc)) {
		return false;
	}
	Oid language = reinterpret_cast<Form_pg_proc>(GETSTRUCT(proc))->prolang;
	ReleaseSysCache(proc);
	return language == INTERNALlanguageId || language == ClanguageId;
}

bool
CallsOthers(Node *node, void *context) {
	if (node == nullptr) {
		return false;
	}
	// check_functions_in_node: true if the checker accepts one of the
	// node's functions; here, one that is not built in.
	if (check_functions_in_node(node, [](Oid func, void *) { return !BuiltIn(func); }, context)) {
		return true;
	}
	return expression_tree_walker(node, reinterpret_cast<bool (*)()>(reinterpret_cast<void (*)()>(CallsOthers)), context);
}

// The number of column `name` if its type is one of `types` (the values the
// direct path stores need no conversion then but an array's element type),
// else 0.
AttrNumber
Column(Relation rel, const char *name, std::initializer_list<Oid> types) {
	TupleDesc desc = RelationGetDescr(rel);
	int number = SPI_fnumber(desc, name);
	if (number <= 0) {
		return 0;
	}
	Form_pg_attribute column = TupleDescAttr(desc, number - 1);
	bool typmod_ok = column->atttypmod < 0 || column->atttypmod >= VARHDRSZ + 11; // the longest status
	for (Oid type : types) {
		if (column->atttypid == type && typmod_ok) {
			return static_cast<AttrNumber>(number);
		}
	}
	return 0;
}

// Whether `expr` is the column `status` (through a binary-compatible cast).
bool
IsColumn(Node *expr, AttrNumber column) {
	while (expr != nullptr && IsA(expr, RelabelType)) {
		expr = reinterpret_cast<Node *>(reinterpret_cast<RelabelType *>(expr)->arg);
	}
	return expr != nullptr && IsA(expr, Var) && reinterpret_cast<Var *>(expr)->varattno == column;
}

// jobs_queued_idx of compute.jobs if it is what the grab statement reads:
// a btree on (queue, created, job_id) of the rows WHERE status = 'queued';
// else InvalidOid (the grab steps aside).
Oid
QueuedIndex(Relation rel, const Cache &c) {
	Oid oid = get_relname_relid("jobs_queued_idx", RelationGetNamespace(rel));
	if (!OidIsValid(oid) || c.queue == 0 || c.created == 0 || c.job_id == 0 || c.status == 0) {
		return InvalidOid;
	}
	Relation index = index_open(oid, AccessShareLock);
	Form_pg_index form = index->rd_index;
	bool fits = form->indrelid == RelationGetRelid(rel) && index->rd_rel->relam == BTREE_AM_OID &&
	            form->indnkeyatts == 3 && form->indkey.values[0] == c.queue &&
	            form->indkey.values[1] == c.created && form->indkey.values[2] == c.job_id &&
	            index->rd_indcollation[0] == c.queue_collation && form->indisvalid && form->indisready;
	List *predicate = fits ? RelationGetIndexPredicate(index) : NIL;
	fits = fits && list_length(predicate) == 1 && IsA(linitial(predicate), OpExpr);
	if (fits) {
		OpExpr *equals = static_cast<OpExpr *>(linitial(predicate));
		Node *value = list_length(equals->args) == 2 ? static_cast<Node *>(lsecond(equals->args)) : nullptr;
		fits = get_opcode(equals->opno) == F_TEXTEQ && IsColumn(static_cast<Node *>(linitial(equals->args)), c.status) &&
		       value != nullptr && IsA(value, Const) && !reinterpret_cast<Const *>(value)->constisnull &&
		       reinterpret_cast<Const *>(value)->consttype == TEXTOID &&
		       strcmp(TextDatumGetCString(reinterpret_cast<Const *>(value)->constvalue), "queued") == 0;
	}
	index_close(index, AccessShareLock);
	return fits ? oid : InvalidOid;
}

// Builds the cache for `rel` (compute.jobs, opened).
// (Built aside and stored at the end: the lookups below may process an
// invalidation, which forgets the c.)
void
Build(Relation rel) {
	Cache c = {};
	c.relid = RelationGetRelid(rel);
	c.job_id = Column(rel, "job_id", {BYTEAOID});
	c.status = Column(rel, "status", {VARCHAROID, TEXTOID});
	c.output_files = Column(rel, "output_files", {VARCHARARRAYOID, TEXTARRAYOID});
	c.files_element = c.output_files > 0
	                          ? get_element_type(TupleDescAttr(RelationGetDescr(rel), c.output_files - 1)->atttypid)
	                          : InvalidOid;
	c.error = Column(rel, "error", {TEXTOID, VARCHAROID});
	c.attempt = Column(rel, "attempt", {INT4OID});
	c.lease = Column(rel, "lease", {INTERVALOID});
	c.queue = Column(rel, "queue", {VARCHAROID, TEXTOID});
	c.created = Column(rel, "created", {TIMESTAMPTZOID});
	c.queue_collation =
	    c.queue > 0 ? TupleDescAttr(RelationGetDescr(rel), c.queue - 1)->attcollation : InvalidOid;
	c.queued_index = QueuedIndex(rel, c);
	// Citus keeps the rows of a distributed table elsewhere: its own
	// planner must see every statement on it.
	bool usable = rel->rd_rel->relkind == RELKIND_RELATION && !rel->rd_rel->relispartition &&
	              c.job_id > 0 && c.status > 0 && c.output_files > 0 && !OidIsValid(get_extension_oid("citus", true));
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	c.checks = constr != nullptr ? constr->num_check : 0;
	if (usable && c.checks > 0) {
		c.memory = AllocSetContextCreate(CacheMemoryContext, "compute direct path", ALLOCSET_SMALL_SIZES);
		MemoryContext old = MemoryContextSwitchTo(c.memory);
		c.check_states = static_cast<ExprState **>(palloc0(sizeof(ExprState *) * c.checks));
		for (int i = 0; i < c.checks && usable; i++) {
			// As ExecRelCheck builds them for one statement.
			Expr *expr = static_cast<Expr *>(stringToNode(constr->check[i].ccbin));
			expr = expression_planner(expr);
			if (CallsOthers(reinterpret_cast<Node *>(expr), nullptr)) {
				usable = false;
			} else {
				c.check_states[i] = ExecInitExpr(expr, nullptr);
			}
		}
		MemoryContextSwitchTo(old);
	}
	c.usable = usable;
	c.valid = true;
	Forget(Datum(0), InvalidOid);
	cache = c;
}

// Whether the direct path does exactly what the SPI statement would.
bool
Usable(Relation rel) {
	if (!cache.valid || cache.relid != RelationGetRelid(rel)) {
		Build(rel);
	}
	if (!cache.usable || rel->rd_rel->relrowsecurity || cache.checks != rel->rd_rel->relchecks) {
		return false;
	}
	const TriggerDesc *triggers = rel->trigdesc;
	return triggers == nullptr ||
	       !(triggers->trig_update_after_row || triggers->trig_update_instead_row ||
	         triggers->trig_update_before_statement || triggers->trig_update_after_statement ||
	         triggers->trig_update_old_table || triggers->trig_update_new_table);
}

// Whether the row in `slot` is one the grab takes: queued, in its queue,
// and past the mark when scanning from one (the statement's conditions).
bool
Grabbable(const Cache &c, TupleTableSlot *slot, const DirectGrab &grab) {
	bool isnull;
	Datum status = slot_getattr(slot, c.status, &isnull);
	if (isnull) {
		return false;
	}
	text *value = DatumGetTextPP(status);
	if (VARSIZE_ANY_EXHDR(value) != 6 || memcmp(VARDATA_ANY(value), "queued", 6) != 0) {
		return false;
	}
	Datum queue = slot_getattr(slot, c.queue, &isnull);
	if (isnull || !DatumGetBool(DirectFunctionCall2Coll(texteq, c.queue_collation, queue, grab.queue))) {
		return false;
	}
	if (!grab.from_mark) {
		return true;
	}
	TimestampTz created = DatumGetTimestampTz(slot_getattr(slot, c.created, &isnull));
	if (created != grab.mark_created) {
		return created > grab.mark_created;
	}
	bytea *id = DatumGetByteaPP(slot_getattr(slot, c.job_id, &isnull));
	size_t len = VARSIZE_ANY_EXHDR(id);
	int order = memcmp(VARDATA_ANY(id), grab.mark_job_id, Min(len, grab.mark_job_id_len));
	return order > 0 || (order == 0 && len > grab.mark_job_id_len);
}

Bitmapset *
Named(Bitmapset *set, AttrNumber column) {
	return bms_add_member(set, column - FirstLowInvalidHeapAttributeNumber);
}

} // namespace

void
InitDirect() {
	OnRelcacheInvalidation(Forget);
	RegisterXactCallback(FreeForgotten, nullptr);
}

namespace {

// One direct write of compute.jobs: the table opened, its executor state
// (one result relation, its indexes, the kept CHECK expressions) made for
// the UPDATE whose SET names `named`.
struct Writer {
	Cache c; // what the cache held when the write began
	Relation rel;
	EState *estate;
	ResultRelInfo *result;
	MemoryContext caller; // where the new rows go
	MemoryContext old;
};

// Opens compute.jobs; false (nothing held) when the direct path must step
// aside for the statement that names these columns.
bool
Open(Writer *w, bool names_error, bool names_attempt, bool names_lease) {
	if (!direct_path_enabled || IsolationUsesXactSnapshot() || XactReadOnly || IsInParallelMode() ||
	    !ActiveSnapshotSet()) {
		return false;
	}
	Oid relid = get_relname_relid("jobs", get_namespace_oid("compute", false));
	if (!OidIsValid(relid)) {
		return false;
	}
	w->rel = table_open(relid, RowExclusiveLock);
	bool usable = Usable(w->rel);
	w->c = cache;
	if (!usable || (names_error && w->c.error == 0) || (names_attempt && w->c.attempt == 0) ||
	    (names_lease && w->c.lease == 0)) {
		table_close(w->rel, NoLock); // (the statement takes the same lock)
		return false;
	}
	// As SPI does before a statement that writes: see what this
	// transaction did so far, under a command id of its own.
	CommandCounterIncrement();
	w->caller = CurrentMemoryContext;
	w->estate = CreateExecutorState();
	w->old = MemoryContextSwitchTo(w->estate->es_query_cxt);
	return true;
}

// The executor state for an UPDATE whose SET list names `named`.
void
Prepare(Writer *w, Bitmapset *named) {
	// The range table entry the BEFORE triggers read tg_updatedcols from.
	RangeTblEntry *rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(w->rel);
	rte->relkind = w->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	rte->requiredPerms = ACL_UPDATE | ACL_SELECT;
	rte->updatedCols = named;
	List *range_table = list_make1(rte);
	ExecCheckRTPerms(range_table, true); // as the executor does (and its hook)
	ExecInitRangeTable(w->estate, range_table);
	w->result = makeNode(ResultRelInfo);
	InitResultRelInfo(w->result, w->rel, 1, nullptr, 0);
	w->result->ri_ConstraintExprs = w->c.check_states; // built once
	w->estate->es_output_cid = GetCurrentCommandId(true);
	w->estate->es_snapshot = GetActiveSnapshot();
	ExecOpenIndices(w->result, false);
	CheckCmdReplicaIdentity(w->rel, CMD_UPDATE);
}

// A new row: `old_row` (locked by this transaction) with its values.
TupleTableSlot *
Copy(Writer *w, TupleTableSlot *old_row) {
	TupleDesc desc = RelationGetDescr(w->rel);
	TupleTableSlot *row = ExecInitExtraTupleSlot(w->estate, desc, &TTSOpsVirtual);
	slot_getallattrs(old_row);
	ExecClearTuple(row);
	memcpy(row->tts_values, old_row->tts_values, sizeof(Datum) * desc->natts);
	memcpy(row->tts_isnull, old_row->tts_isnull, sizeof(bool) * desc->natts);
	return row;
}

void
Set(TupleTableSlot *row, AttrNumber column, Datum value, bool isnull = false) {
	row->tts_values[column - 1] = value;
	row->tts_isnull[column - 1] = isnull;
}

// Writes `new_row` over the locked row `tid` as the executor's UPDATE does
// for one row; false if a BEFORE trigger skipped it. *job: the row written
// (a compute.jobs value in the caller's context).
bool
Write(Writer *w, ItemPointer tid, TupleTableSlot *new_row, Datum *job) {
	ExecStoreVirtualTuple(new_row);
	TriggerDesc *triggers = w->result->ri_TrigDesc;
	// The row is locked: the triggers read it without locking it again.
	if (triggers != nullptr && triggers->trig_update_before_row &&
	    !ExecBRUpdateTriggers(w->estate, nullptr, w->result, tid, nullptr, new_row, nullptr)) {
		return false;
	}
	if (RelationGetDescr(w->rel)->constr != nullptr) {
		ExecConstraints(w->result, new_row, w->estate);
	}
	bool update_indexes;
	simple_table_tuple_update(w->rel, tid, new_row, w->estate->es_snapshot, &update_indexes);
	if (w->result->ri_NumIndices > 0 && update_indexes) {
		list_free(ExecInsertIndexTuples(w->result, new_row, w->estate, true, false, nullptr, NIL));
	}
	MemoryContextSwitchTo(w->caller);
	*job = ExecFetchSlotHeapTupleDatum(new_row);
	MemoryContextSwitchTo(w->estate->es_query_cxt);
	return true;
}

void
Close(Writer *w) {
	if (w->result != nullptr) {
		w->result->ri_ConstraintExprs = nullptr; // the cache's, not the estate's
		ExecCloseIndices(w->result);
	}
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	MemoryContextSwitchTo(w->old);
	FreeExecutorState(w->estate);
	table_close(w->rel, NoLock); // the locks are kept until the transaction ends
	CommandCounterIncrement();
}

// Finds job `job_id` by the primary key `key` as the UPDATE's scan does
// (with the statement's snapshot: in READ COMMITTED, taken now) and locks
// it as an UPDATE that changes no key column does (FOR NO KEY UPDATE),
// waiting for a transaction that holds it; after a concurrent update, the
// newest version (READ COMMITTED's re-check: job_id never changes). False
// if there is no such job, or it was deleted meanwhile.
bool
LockByKey(Writer *w, Oid key, Datum job_id, TupleTableSlot *row) {
	Relation index = index_open(key, RowExclusiveLock);
	Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
	ScanKeyData scan_key;
	ScanKeyInit(&scan_key, 1, BTEqualStrategyNumber, F_BYTEAEQ, job_id);
	IndexScanDesc scan = index_beginscan(w->rel, index, snapshot, 1, 0);
	index_rescan(scan, &scan_key, 1, nullptr, 0);
	bool found = index_getnext_slot(scan, ForwardScanDirection, row);
	if (found) {
		TM_FailureData failure;
		ItemPointerData tid = row->tts_tid;
		TM_Result locking = table_tuple_lock(w->rel, &tid, snapshot, row, GetCurrentCommandId(false),
		                                     LockTupleNoKeyExclusive, LockWaitBlock,
		                                     TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &failure);
		switch (locking) {
		case TM_Ok:
			break;
		case TM_Deleted:
		case TM_SelfModified: // (deleted or updated by this very command: none)
			found = false;
			break;
		default:
			elog(ERROR, "compute: unexpected table_tuple_lock status: %d", static_cast<int>(locking));
		}
	}
	index_endscan(scan);
	index_close(index, NoLock);
	UnregisterSnapshot(snapshot);
	return found;
}

} // namespace

DirectResult
RunDirectFinish(const DirectFinish &finish, Datum *job) {
	Writer w = {};
	if (!Open(&w, finish.sets_error, finish.sets_attempt, false)) {
		return DirectResult::StepAside;
	}
	Oid key = RelationGetPrimaryKeyIndex(w.rel);
	Bitmapset *named = Named(Named(nullptr, w.c.status), w.c.output_files);
	if (finish.sets_error) {
		named = Named(named, w.c.error);
	}
	if (finish.sets_attempt) {
		named = Named(named, w.c.attempt);
	}
	Prepare(&w, named);

	TupleTableSlot *old_row = table_slot_create(w.rel, &w.estate->es_tupleTable);
	DirectResult outcome = DirectResult::NotFound;
	if (OidIsValid(key) && LockByKey(&w, key, finish.job_id, old_row)) {
		TupleTableSlot *new_row = Copy(&w, old_row);
		Set(new_row, w.c.status, finish.status);
		if (finish.files_given) {
			// text[] as the column's array type (varchar[]: the same
			// elements, another element type in the header), as the
			// statement's assignment cast makes it.
			ArrayType *files = DatumGetArrayTypePCopy(finish.files);
			ARR_ELEMTYPE(files) = w.c.files_element;
			Set(new_row, w.c.output_files, PointerGetDatum(files));
		}
		if (finish.sets_error) {
			Set(new_row, w.c.error, finish.error, finish.error_null);
		}
		if (finish.sets_attempt) {
			Set(new_row, w.c.attempt, Int32GetDatum(finish.attempt));
		}
		ItemPointerData tid = old_row->tts_tid;
		if (Write(&w, &tid, new_row, job)) {
			outcome = DirectResult::Updated;
		}
	}
	Close(&w);
	return outcome;
}

int64
RunDirectGrab(const DirectGrab &grab, DirectGrabbed **rows) {
	Writer w = {};
	if (!Open(&w, false, false, grab.sets_lease)) {
		return -1;
	}
	Relation index = w.c.queued_index != InvalidOid ? index_open(w.c.queued_index, RowExclusiveLock) : nullptr;
	if (index == nullptr) {
		Close(&w);
		return -1;
	}
	Bitmapset *named = Named(nullptr, w.c.status);
	if (grab.sets_lease) {
		named = Named(named, w.c.lease);
	}
	Prepare(&w, named);
	// The statement's snapshot (READ COMMITTED: taken now, after the
	// increment of the command counter above).
	Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());

	// The queued jobs of the queue in grab order (created, job_id), from
	// the mark's created on when scanning from a mark.
	ScanKeyData keys[2];
	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_TEXTEQ, grab.queue);
	keys[0].sk_collation = index->rd_indcollation[0];
	int nkeys = 1;
	if (grab.from_mark) {
		ScanKeyInit(&keys[1], 2, BTGreaterEqualStrategyNumber, F_TIMESTAMPTZ_GE,
		            TimestampTzGetDatum(grab.mark_created));
		nkeys = 2;
	}
	IndexScanDesc scan = index_beginscan(w.rel, index, snapshot, nkeys, 0);
	index_rescan(scan, keys, nkeys, nullptr, 0);
	TupleTableSlot *seen = table_slot_create(w.rel, &w.estate->es_tupleTable);
	TupleTableSlot *locked = table_slot_create(w.rel, &w.estate->es_tupleTable);
	Datum in_progress = CStringGetTextDatum("in-progress");
	int64 capacity = Min(grab.max_jobs, 16);
	DirectGrabbed *taken = static_cast<DirectGrabbed *>(MemoryContextAlloc(w.caller, sizeof(DirectGrabbed) * capacity));
	int64 count = 0;
	while (count < grab.max_jobs && index_getnext_slot(scan, ForwardScanDirection, seen)) {
		if (!Grabbable(w.c, seen, grab)) {
			continue;
		}
		// FOR UPDATE SKIP LOCKED: a row another transaction holds is
		// passed; one updated since the snapshot is locked in its newest
		// version and taken if it is still queued in the queue (and past
		// the mark), as the statement's re-check does.
		TM_FailureData failure;
		TM_Result locking = table_tuple_lock(w.rel, &seen->tts_tid, snapshot, locked, GetCurrentCommandId(false),
		                                     LockTupleExclusive, LockWaitSkip, TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
		                                     &failure);
		if (locking == TM_Invisible) {
			elog(ERROR, "compute: attempted to lock invisible tuple");
		}
		if (locking != TM_Ok || (failure.traversed && !Grabbable(w.c, locked, grab))) {
			continue; // TM_WouldBlock, TM_SelfModified, TM_Deleted, TM_Updated
		}
		TupleTableSlot *new_row = Copy(&w, locked);
		Set(new_row, w.c.status, in_progress);
		if (grab.sets_lease) {
			Set(new_row, w.c.lease, grab.lease);
		}
		ItemPointerData tid = locked->tts_tid;
		Datum job;
		if (Write(&w, &tid, new_row, &job)) {
			bool isnull;
			if (count == capacity) {
				capacity *= 2;
				taken = static_cast<DirectGrabbed *>(repalloc(taken, sizeof(DirectGrabbed) * capacity));
			}
			DirectGrabbed &row = taken[count++];
			row.job = job;
			row.created = DatumGetTimestampTz(slot_getattr(new_row, w.c.created, &isnull));
			MemoryContextSwitchTo(w.caller);
			row.job_id = datumCopy(slot_getattr(new_row, w.c.job_id, &isnull), false, -1);
			MemoryContextSwitchTo(w.estate->es_query_cxt);
		}
	}
	index_endscan(scan);
	index_close(index, NoLock);
	UnregisterSnapshot(snapshot);
	Close(&w);
	*rows = taken;
	return count;
}

} // namespace compute::pg
