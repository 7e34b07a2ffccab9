// The maintenance background workers. With the library in
// shared_preload_libraries, a launcher (connected to no database, only to
// the shared catalogs) starts one worker per database named in
// compute.databases. Each worker runs compute.requeue_stale() every
// compute.requeue_interval and expires the complete jobs not accessed for
// compute.expire_after every compute.expire_interval, in batches of
// compute.maintenance_batch rows, each batch its own short transaction.
//
// Wording: a *slot* is the shared-memory record of one listed database: its
// name, the worker running for it, whether that worker must stop, and
// whether a statement needs the database without connections (a *pause*).
// The launcher owns the slots; it starts a worker with
// RegisterDynamicBackgroundWorker and learns of its exit through
// bgw_notify_pid.
//
// A worker stays connected to its database between rounds, and a connected
// backend keeps DROP DATABASE (and ALTER DATABASE RENAME or SET TABLESPACE,
// and CREATE DATABASE from it as a template) from running. So a
// ProcessUtility hook, in every backend, pauses the database's slot when
// such a statement starts: the worker exits at once (between two batches at
// worst) and the launcher starts none until the statement's transaction has
// ended. Then the launcher looks the database up again: when it is gone, it
// waits for it (logged once), looking again when a transaction that created
// or renamed a database commits, and otherwise after a backoff.
//
// Errors are not caught. An error in a round ends the worker (FATAL, exit
// code 1) and the launcher starts it again after a backoff (1 s, doubling up
// to a minute, back to 1 s once a worker has run for a minute), so an error
// that persists is logged about once a minute, never in a loop.
//
// Only PostgreSQL's C API is used here, on plain data: no C++ object with a
// destructor lives in these frames (the rule of pg/boundary.hpp).

#include "pg/maintenance.hpp"
#include "pg/module.hpp"

#include "pg/distributed.hpp"
#include "pg/plans.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/varlena.h"
}

#include <cstring>

namespace compute::pg {

namespace {

constexpr int kMaxDatabases = 64;
constexpr long kMinBackoffMs = 1000;
constexpr long kMaxBackoffMs = 60 * 1000;
// A pause ends with the transaction of the statement that asked for it; this
// bounds it should that end never be seen.
constexpr long kPauseMs = 60 * 1000;
// How often the launcher looks at a slot still held by a worker it did not
// start (one of a launcher that ran before it).
constexpr long kOrphanPollMs = 1000;

const char *const kWorkerType = "compute maintenance";
const char *const kLauncherType = "compute maintenance launcher";

// Settings (PGC_SIGHUP).
char *databases_setting = nullptr;
int requeue_interval_ms = 5 * 1000;
int expire_interval_ms = 60 * 1000;
int expire_after_s = 30 * 24 * 3600;
int batch_rows = 1000;
int log_level = LOG;

const config_enum_entry kLogLevels[] = {
    {"debug5", DEBUG5, false}, {"debug4", DEBUG4, false}, {"debug3", DEBUG3, false},   {"debug2", DEBUG2, false},
    {"debug1", DEBUG1, false}, {"debug", DEBUG2, true},   {"info", INFO, false},       {"notice", NOTICE, false},
    {"warning", WARNING, false}, {"log", LOG, false},     {nullptr, 0, false},
};

struct Slot {
	bool used;    // the launcher keeps it for `name`
	bool stop;    // the worker must exit (a pause, or the name left the list)
	char name[NAMEDATALEN];
	Oid database; // what the worker connects to
	uint32 generation; // of the worker started last; an older one exits
	pid_t pid;         // of the running worker; 0 when none
	Latch *latch;      // of the running worker
	TimestampTz paused_until; // no worker until then (0: not paused)
};

struct Shared {
	slock_t mutex;
	Latch *launcher_latch;
	bool catalog_changed; // a database was created or renamed: look again
	uint32 generation;    // the last one given to a worker
	Slot slots[kMaxDatabases];
};

Shared *shared = nullptr; // in shared memory
ProcessUtility_hook_type previous_utility_hook = nullptr;

Size
SharedSize() {
	return sizeof(Shared);
}

void
StartupShmem() {
	bool found;
	shared = static_cast<Shared *>(ShmemInitStruct("compute maintenance", sizeof(Shared), &found));
	if (!found) {
		memset(shared, 0, sizeof(Shared));
		SpinLockInit(&shared->mutex);
	}
}

// Index of the used slot of database `name`, or -1; under the mutex.
int
FindSlotLocked(const char *name) {
	for (int i = 0; i < kMaxDatabases; i++) {
		if (shared->slots[i].used && strncmp(shared->slots[i].name, name, NAMEDATALEN) == 0) {
			return i;
		}
	}
	return -1;
}

long
MillisecondsUntil(TimestampTz now, TimestampTz then) {
	return then <= now ? 0 : TimestampDifferenceMilliseconds(now, then);
}

// Keeps the smaller timeout; -1 means none.
void
Sooner(long &timeout, long candidate) {
	if (candidate >= 0 && (timeout < 0 || candidate < timeout)) {
		timeout = candidate;
	}
}

// ---------------------------------------------------------------------------
// Pauses: in the backend that runs DROP DATABASE and its kin.

constexpr int kPausedMax = 4;
char paused_names[kPausedMax][NAMEDATALEN];
int paused_count = 0;
bool wake_launcher_at_end = false; // this transaction creates or renames a database

// Stops the worker of database `name` (if one is listed) and keeps the
// launcher from starting another until this transaction ends.
void
Pause(const char *name) {
	if (shared == nullptr || name == nullptr) {
		return;
	}
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), kPauseMs);
	Latch *latch = nullptr;
	SpinLockAcquire(&shared->mutex);
	int i = FindSlotLocked(name);
	if (i >= 0) {
		Slot &slot = shared->slots[i];
		slot.paused_until = until;
		slot.stop = true;
		latch = slot.pid != 0 ? slot.latch : nullptr;
	}
	SpinLockRelease(&shared->mutex);
	if (i < 0) {
		return;
	}
	if (latch != nullptr) {
		SetLatch(latch);
	}
	if (paused_count < kPausedMax) {
		strlcpy(paused_names[paused_count++], name, NAMEDATALEN);
	} // else: the pause ends after kPauseMs
}

void
OnXactEvent(XactEvent event, void *) {
	if (paused_count == 0 && !wake_launcher_at_end) {
		return;
	}
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT && event != XACT_EVENT_PREPARE &&
	    event != XACT_EVENT_PARALLEL_COMMIT && event != XACT_EVENT_PARALLEL_ABORT) {
		return;
	}
	Latch *latch = nullptr;
	SpinLockAcquire(&shared->mutex);
	for (int n = 0; n < paused_count; n++) {
		int i = FindSlotLocked(paused_names[n]);
		if (i >= 0) {
			shared->slots[i].paused_until = 0;
		}
	}
	shared->catalog_changed = true;
	latch = shared->launcher_latch;
	SpinLockRelease(&shared->mutex);
	paused_count = 0;
	wake_launcher_at_end = false;
	if (latch != nullptr) {
		SetLatch(latch);
	}
}

// The value of option `name` of a CREATE/ALTER DATABASE, or NULL.
const char *
OptionValue(List *options, const char *name) {
	ListCell *cell;
	foreach (cell, options) {
		DefElem *option = static_cast<DefElem *>(lfirst(cell));
		if (strcmp(option->defname, name) == 0) {
			return option->arg != nullptr && IsA(option->arg, String) ? strVal(option->arg) : "";
		}
	}
	return nullptr;
}

void
MaintenanceUtility(PlannedStmt *pstmt, const char *query, bool read_only_tree, ProcessUtilityContext context,
                   ParamListInfo params, QueryEnvironment *env, DestReceiver *dest, QueryCompletion *qc) {
	Node *stmt = pstmt->utilityStmt;
	switch (nodeTag(stmt)) {
	case T_DropdbStmt:
		Pause(reinterpret_cast<DropdbStmt *>(stmt)->dbname);
		break;
	case T_RenameStmt: {
		RenameStmt *rename = reinterpret_cast<RenameStmt *>(stmt);
		if (rename->renameType == OBJECT_DATABASE) {
			Pause(rename->subname);
			wake_launcher_at_end = true; // the new name may be listed
		}
		break;
	}
	case T_AlterDatabaseStmt: {
		AlterDatabaseStmt *alter = reinterpret_cast<AlterDatabaseStmt *>(stmt);
		if (OptionValue(alter->options, "tablespace") != nullptr) {
			Pause(alter->dbname);
		}
		break;
	}
	case T_CreatedbStmt: {
		const char *source = OptionValue(reinterpret_cast<CreatedbStmt *>(stmt)->options, "template");
		Pause(source != nullptr && source[0] != '\0' ? source : "template1");
		wake_launcher_at_end = true; // the new database may be listed
		break;
	}
	default:
		break;
	}
	if (previous_utility_hook) {
		previous_utility_hook(pstmt, query, read_only_tree, context, params, env, dest, qc);
	} else {
		standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
	}
}

// ---------------------------------------------------------------------------
// Settings.

bool
CheckDatabases(char **newval, void **, GucSource) {
	char *raw = pstrdup(*newval);
	List *names = NIL;
	bool ok = SplitGUCList(raw, ',', &names);
	if (!ok) {
		GUC_check_errdetail("List syntax is invalid.");
	} else if (list_length(names) > kMaxDatabases) {
		GUC_check_errdetail("At most %d databases can be listed.", kMaxDatabases);
		ok = false;
	} else {
		ListCell *cell;
		foreach (cell, names) {
			const char *name = static_cast<const char *>(lfirst(cell));
			if (strlen(name) >= NAMEDATALEN) {
				GUC_check_errdetail("Database name \"%s\" is too long.", name);
				ok = false;
				break;
			}
		}
	}
	list_free(names);
	pfree(raw);
	return ok;
}

void
DefineSettings() {
	DefineCustomStringVariable(
	    "compute.databases", "Databases whose jobs the maintenance workers look after (requeue, expiry).",
	    "A comma-separated list of database names. Needs compute in shared_preload_libraries; "
	    "empty (the default): no worker.",
	    &databases_setting, "", PGC_SIGHUP, GUC_LIST_INPUT, CheckDatabases, nullptr, nullptr);
	DefineCustomIntVariable("compute.requeue_interval",
	                        "How often the maintenance workers run compute.requeue_stale().", "0 turns it off.",
	                        &requeue_interval_ms, 5 * 1000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
	                        nullptr);
	DefineCustomIntVariable("compute.expire_interval",
	                        "How often the maintenance workers expire complete jobs.", "0 turns it off.",
	                        &expire_interval_ms, 60 * 1000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
	                        nullptr);
	DefineCustomIntVariable("compute.expire_after",
	                        "How long a complete job may go unaccessed before the maintenance workers expire it.",
	                        "Compared with last_accessed, like compute.expire(older_than).", &expire_after_s,
	                        30 * 24 * 3600, 1, INT_MAX, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("compute.maintenance_batch",
	                        "How many jobs the maintenance workers expire per transaction.",
	                        "Each batch is its own transaction; they go on until a batch comes back short.",
	                        &batch_rows, 1000, 1, 1000 * 1000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomEnumVariable("compute.maintenance_log_level",
	                         "Level at which the maintenance workers log what they changed.",
	                         "Rounds that change nothing are logged at DEBUG2.", &log_level, LOG, kLogLevels,
	                         PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
}

// ---------------------------------------------------------------------------
// The launcher.

// What the launcher logged last of a slot's database, so that a condition
// that lasts is logged once.
enum class Condition { None, Running, Missing, NoConnections, NoWorkerSlot };

struct Entry { // the launcher's own record of slot i
	BackgroundWorkerHandle *handle;
	TimestampTz next_start;
	TimestampTz started_at;
	long backoff_ms;
	Condition condition;
	bool removing;
};
Entry entries[kMaxDatabases];
bool too_many_logged = false;

struct DatabaseInfo {
	bool found;
	bool connectable; // allows connections, is not invalid (an interrupted DROP)
	Oid oid;
};

// Reads pg_database (a shared catalog: the launcher has no database) for
// the databases named by slots `due[0..count)`.
void
LookUpDatabases(const int *due, int count, DatabaseInfo *info) {
	char (*names)[NAMEDATALEN] = static_cast<char (*)[NAMEDATALEN]>(palloc(sizeof(*names) * count));
	SpinLockAcquire(&shared->mutex);
	for (int n = 0; n < count; n++) {
		memcpy(names[n], shared->slots[due[n]].name, NAMEDATALEN);
	}
	SpinLockRelease(&shared->mutex);
	memset(info, 0, sizeof(DatabaseInfo) * count);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void)GetTransactionSnapshot();
	Relation rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
	HeapTuple tuple;
	while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
		Form_pg_database form = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
		for (int n = 0; n < count; n++) {
			if (strncmp(NameStr(form->datname), names[n], NAMEDATALEN) == 0) {
				info[n].found = true;
				info[n].oid = form->oid;
				info[n].connectable = form->datallowconn && form->datconnlimit != -2; // DATCONNLIMIT_INVALID_DB
			}
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	pfree(names);
}

void
FreeSlot(int i) {
	SpinLockAcquire(&shared->mutex);
	shared->slots[i].used = false;
	SpinLockRelease(&shared->mutex);
	entries[i].removing = false;
}

// Makes the slots follow compute.databases: a name that left the list has
// its worker stopped (and its slot freed once it has exited), a new name
// gets a slot and is started at the next tick.
void
ApplyDatabases() {
	char *raw = pstrdup(databases_setting != nullptr ? databases_setting : "");
	List *names = NIL;
	if (!SplitGUCList(raw, ',', &names)) {
		names = NIL; // cannot happen: CheckDatabases accepted it
	}
	for (int i = 0; i < kMaxDatabases; i++) {
		char name[NAMEDATALEN];
		Latch *latch = nullptr;
		SpinLockAcquire(&shared->mutex);
		bool used = shared->slots[i].used;
		memcpy(name, shared->slots[i].name, NAMEDATALEN);
		SpinLockRelease(&shared->mutex);
		if (!used || entries[i].removing) {
			continue;
		}
		bool listed = false;
		ListCell *cell;
		foreach (cell, names) {
			listed = listed || strncmp(static_cast<const char *>(lfirst(cell)), name, NAMEDATALEN) == 0;
		}
		if (listed) {
			continue;
		}
		if (entries[i].handle == nullptr) {
			FreeSlot(i);
			continue;
		}
		entries[i].removing = true;
		SpinLockAcquire(&shared->mutex);
		shared->slots[i].stop = true;
		latch = shared->slots[i].pid != 0 ? shared->slots[i].latch : nullptr;
		SpinLockRelease(&shared->mutex);
		if (latch != nullptr) {
			SetLatch(latch);
		}
		ereport(log_level, errmsg("compute maintenance: stopping the worker of database \"%s\"", name),
		        errdetail("It is no longer listed in compute.databases."));
	}
	ListCell *cell;
	foreach (cell, names) {
		const char *name = static_cast<const char *>(lfirst(cell));
		int free_slot = -1;
		SpinLockAcquire(&shared->mutex);
		int i = FindSlotLocked(name);
		if (i < 0) {
			for (int k = 0; k < kMaxDatabases && free_slot < 0; k++) {
				if (!shared->slots[k].used && shared->slots[k].pid == 0) {
					free_slot = k;
				}
			}
			if (free_slot >= 0) {
				Slot &slot = shared->slots[free_slot];
				slot.used = true;
				slot.stop = false;
				strlcpy(slot.name, name, NAMEDATALEN);
				slot.database = InvalidOid;
				slot.paused_until = 0;
			}
		}
		SpinLockRelease(&shared->mutex);
		if (i >= 0) {
			entries[i].removing = false; // listed again while stopping: started again after it exits
			continue;
		}
		if (free_slot < 0) {
			if (!too_many_logged) {
				ereport(WARNING,
				        errmsg("compute maintenance: no free slot for database \"%s\"", name),
				        errdetail("At most %d databases are looked after at a time.", kMaxDatabases));
				too_many_logged = true;
			}
			continue;
		}
		entries[free_slot] = {nullptr, 0, 0, kMinBackoffMs, Condition::None, false};
	}
	list_free(names);
	pfree(raw);
}

// Logs `condition` of slot i's database once, when it begins.
void
NoteCondition(int i, Condition condition, const char *name) {
	if (entries[i].condition == condition) {
		return;
	}
	entries[i].condition = condition;
	switch (condition) {
	case Condition::Missing:
		ereport(LOG, errmsg("compute maintenance: database \"%s\" does not exist; waiting for it", name),
		        errdetail("It is listed in compute.databases."));
		break;
	case Condition::NoConnections:
		ereport(LOG, errmsg("compute maintenance: database \"%s\" does not accept connections; waiting", name));
		break;
	case Condition::NoWorkerSlot:
		ereport(WARNING,
		        errmsg("compute maintenance: could not start the worker of database \"%s\"", name),
		        errhint("Raise max_worker_processes: compute needs one for its launcher and one per database "
		                "in compute.databases."));
		break;
	case Condition::Running:
		ereport(log_level, errmsg("compute maintenance: starting the worker of database \"%s\"", name));
		break;
	case Condition::None:
		break;
	}
}

void
Retry(int i, TimestampTz now) {
	Entry &entry = entries[i];
	entry.next_start = TimestampTzPlusMilliseconds(now, entry.backoff_ms);
	entry.backoff_ms = Min(entry.backoff_ms * 2, kMaxBackoffMs);
}

// Starts the worker of slot i (database `oid`); false when the slot is
// paused or the postmaster has no free worker slot.
bool
StartWorker(int i, Oid oid, TimestampTz now) {
	char name[NAMEDATALEN];
	uint32 generation = 0;
	bool paused;
	SpinLockAcquire(&shared->mutex);
	Slot &slot = shared->slots[i];
	paused = slot.paused_until > now;
	if (!paused) {
		slot.stop = false;
		slot.database = oid;
		slot.generation = ++shared->generation;
		generation = slot.generation;
	}
	memcpy(name, slot.name, NAMEDATALEN);
	SpinLockRelease(&shared->mutex);
	if (paused) {
		return false;
	}
	BackgroundWorker worker;
	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART; // the launcher starts it again, with a backoff
	strlcpy(worker.bgw_library_name, "compute", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "compute_maintenance_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "compute maintenance worker for database %s", name);
	strlcpy(worker.bgw_type, kWorkerType, BGW_MAXLEN);
	worker.bgw_main_arg = Int32GetDatum(i);
	memcpy(worker.bgw_extra, &generation, sizeof(generation));
	worker.bgw_notify_pid = MyProcPid;
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	bool started = RegisterDynamicBackgroundWorker(&worker, &entries[i].handle);
	MemoryContextSwitchTo(old);
	if (!started) {
		entries[i].handle = nullptr;
		NoteCondition(i, Condition::NoWorkerSlot, name);
		Retry(i, now);
		return false;
	}
	entries[i].started_at = now;
	NoteCondition(i, Condition::Running, name);
	return true;
}

// One pass over the slots: notes the workers that exited, starts those that
// are due. Returns how long the launcher may sleep (-1: until woken).
long
Tick() {
	TimestampTz now = GetCurrentTimestamp();
	long timeout = -1;
	SpinLockAcquire(&shared->mutex);
	bool look_again = shared->catalog_changed;
	shared->catalog_changed = false;
	SpinLockRelease(&shared->mutex);

	int due[kMaxDatabases];
	int due_count = 0;
	for (int i = 0; i < kMaxDatabases; i++) {
		Entry &entry = entries[i];
		SpinLockAcquire(&shared->mutex);
		const Slot &slot = shared->slots[i];
		bool used = slot.used;
		bool stop = slot.stop;
		pid_t pid = slot.pid;
		TimestampTz paused_until = slot.paused_until;
		SpinLockRelease(&shared->mutex);
		if (!used) {
			if (pid != 0) {
				Sooner(timeout, kOrphanPollMs); // a worker of an earlier launcher: wait for its exit
			}
			continue;
		}
		if (entry.handle != nullptr) {
			pid_t worker_pid;
			BgwHandleStatus status = GetBackgroundWorkerPid(entry.handle, &worker_pid);
			if (status == BGWH_STARTED || status == BGWH_NOT_YET_STARTED) {
				continue;
			}
			if (status == BGWH_POSTMASTER_DIED) {
				proc_exit(1);
			}
			pfree(entry.handle);
			entry.handle = nullptr;
			if (entry.removing) {
				FreeSlot(i);
				continue;
			}
			if (stop) {
				entry.next_start = now; // asked to stop (a pause): again once it ends
			} else {
				// It failed: again after the backoff, which starts over once a
				// worker has lasted as long as the longest backoff.
				if (TimestampDifferenceExceeds(entry.started_at, now, kMaxBackoffMs)) {
					entry.backoff_ms = kMinBackoffMs;
				}
				Retry(i, now);
			}
		}
		if (entry.removing) {
			FreeSlot(i);
			continue;
		}
		if (pid != 0) {
			Sooner(timeout, kOrphanPollMs);
			continue;
		}
		if (paused_until > now) {
			Sooner(timeout, MillisecondsUntil(now, paused_until));
			continue;
		}
		if (look_again && (entry.condition == Condition::Missing || entry.condition == Condition::NoConnections)) {
			entry.next_start = now;
			entry.backoff_ms = kMinBackoffMs;
		}
		if (entry.next_start > now) {
			Sooner(timeout, MillisecondsUntil(now, entry.next_start));
			continue;
		}
		due[due_count++] = i;
	}
	if (due_count == 0) {
		return timeout;
	}
	DatabaseInfo info[kMaxDatabases];
	LookUpDatabases(due, due_count, info);
	now = GetCurrentTimestamp();
	for (int n = 0; n < due_count; n++) {
		int i = due[n];
		char name[NAMEDATALEN];
		SpinLockAcquire(&shared->mutex);
		memcpy(name, shared->slots[i].name, NAMEDATALEN);
		SpinLockRelease(&shared->mutex);
		if (!info[n].found || !info[n].connectable) {
			NoteCondition(i, info[n].found ? Condition::NoConnections : Condition::Missing, name);
			Retry(i, now);
		} else {
			StartWorker(i, info[n].oid, now);
		}
		if (entries[i].handle == nullptr) {
			Sooner(timeout, MillisecondsUntil(now, entries[i].next_start));
		}
	}
	return timeout;
}

// Tells every worker to exit (the launcher is going: at shutdown, or
// pg_terminate_backend; no worker runs unsupervised).
void
StopWorkers() {
	Latch *latches[kMaxDatabases];
	int count = 0;
	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < kMaxDatabases; i++) {
		Slot &slot = shared->slots[i];
		slot.stop = true;
		if (slot.pid != 0 && slot.latch != nullptr) {
			latches[count++] = slot.latch;
		}
	}
	SpinLockRelease(&shared->mutex);
	for (int n = 0; n < count; n++) {
		SetLatch(latches[n]);
	}
}

// Clears the launcher's latch from shared memory when it exits.
void
LauncherExit(int, Datum) {
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = nullptr;
	SpinLockRelease(&shared->mutex);
}

// ---------------------------------------------------------------------------
// The worker of one database.

int my_slot = -1;
uint32 my_generation = 0;
char my_database[NAMEDATALEN];

void
WorkerExit(int, Datum) {
	SpinLockAcquire(&shared->mutex);
	Slot &slot = shared->slots[my_slot];
	if (slot.pid == MyProcPid) {
		slot.pid = 0;
		slot.latch = nullptr;
	}
	SpinLockRelease(&shared->mutex);
}

// Whether the worker must exit: SIGTERM (shutdown, pg_terminate_backend),
// a pause, its database left the list, or a newer worker has its slot.
bool
MustStop() {
	if (ProcDiePending) {
		return true;
	}
	SpinLockAcquire(&shared->mutex);
	const Slot &slot = shared->slots[my_slot];
	bool stop = slot.stop || !slot.used || slot.generation != my_generation;
	SpinLockRelease(&shared->mutex);
	return stop;
}

void
BeginWork(const char *activity) {
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

void
EndWork() {
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, nullptr);
}

struct ExtensionInfo {
	bool present;
	bool has_requeue; // requeue_stale() by lease: from 1.1.0
	char version[64];
};

ExtensionInfo
LookUpExtension() {
	ExtensionInfo info = {false, false, ""};
	BeginWork("compute maintenance: looking for the extension");
	int rc = SPI_execute("SELECT e.extversion::pg_catalog.text,"
	                     "       pg_catalog.to_regprocedure('compute.requeue_stale()') IS NOT NULL"
	                     "  FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'compute'",
	                     true, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1) {
		bool isnull;
		char *version = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		info.present = true;
		info.has_requeue = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
		strlcpy(info.version, version != nullptr ? version : "", sizeof(info.version));
	}
	EndWork();
	return info;
}

// compute.requeue_stale(), as any caller would run it (its rules on lost
// leases and compute.max_attempts, the queue marks, the wake-ups).
void
Requeue() {
	BeginWork("compute maintenance: SELECT compute.requeue_stale()");
	int64 requeued = 0;
	if (SPI_execute("SELECT compute.requeue_stale()", false, 1) == SPI_OK_SELECT && SPI_processed == 1) {
		bool isnull;
		Datum value = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		requeued = isnull ? 0 : DatumGetInt64(value);
	}
	EndWork();
	ereport(requeued > 0 ? log_level : DEBUG2,
	        errmsg_plural("compute maintenance: requeue_stale() in database \"%s\" took back %lld job whose lease ran out",
	                      "compute maintenance: requeue_stale() in database \"%s\" took back %lld jobs whose lease ran out",
	                      static_cast<unsigned long>(requeued), my_database, static_cast<long long>(requeued)),
	        errhidestmt(true));
}

bool
Due(TimestampTz last, int interval_ms, TimestampTz now) {
	return interval_ms > 0 && (last == 0 || now >= TimestampTzPlusMilliseconds(last, static_cast<int64>(interval_ms)));
}

// Expires complete jobs not accessed for compute.expire_after, a batch per
// transaction, until a batch comes back short (or the worker must stop).
// Runs requeue_stale() in between when it falls due.
void
Expire(bool requeue, TimestampTz &last_requeue) {
	int64 expired = 0;
	int transactions = 0;
	for (;;) {
		BeginWork("compute maintenance: expiring complete jobs");
		Interval *after = static_cast<Interval *>(palloc0(sizeof(Interval)));
		after->time = static_cast<int64>(expire_after_s) * USECS_PER_SEC;
		int64 limit = batch_rows;
		Datum args[2] = {IntervalPGetDatum(after), Int64GetDatum(limit)};
		// A distributed compute.jobs (README, "Distributed mode") takes no
		// row locks in a multi-shard read: expire's one statement instead,
		// every shard at once.
		bool whole = compute::pg::Distributed();
		uint64 batch = Execute(whole ? Statement::Expire : Statement::ExpireBatch, args, nullptr);
		EndWork();
		expired += static_cast<int64>(batch);
		transactions++;
		if (whole || batch < static_cast<uint64>(limit) || MustStop()) {
			break;
		}
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		TimestampTz now = GetCurrentTimestamp();
		if (requeue && Due(last_requeue, requeue_interval_ms, now)) {
			last_requeue = now;
			Requeue();
		}
	}
	char *after = GetConfigOptionByName("compute.expire_after", nullptr, false); // with its unit
	ereport(expired > 0 ? log_level : DEBUG2,
	        errmsg_plural("compute maintenance: expired %lld complete job in database \"%s\" not accessed for %s, "
	                      "in %d transactions",
	                      "compute maintenance: expired %lld complete jobs in database \"%s\" not accessed for %s, "
	                      "in %d transactions",
	                      static_cast<unsigned long>(expired), static_cast<long long>(expired), my_database,
	                      after, transactions),
	        errhidestmt(true));
	pfree(after);
}

[[noreturn]] void
RunWorker() {
	TimestampTz last_requeue = 0; // 0: never, so due at once
	TimestampTz last_expire = 0;
	bool extension_present = false;
	bool extension_known = false;
	TimestampTz next_look = 0; // while the extension is absent
	long look_backoff_ms = kMinBackoffMs;
	for (;;) {
		if (MustStop()) {
			proc_exit(0);
		}
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		TimestampTz now = GetCurrentTimestamp();
		bool requeue_due = Due(last_requeue, requeue_interval_ms, now);
		bool expire_due = Due(last_expire, expire_interval_ms, now);
		if ((requeue_due || expire_due) && now >= next_look) {
			ExtensionInfo extension = LookUpExtension();
			if (!extension.present) {
				if (extension_present || !extension_known) {
					ereport(LOG,
					        errmsg("compute maintenance: extension \"compute\" is not installed in database \"%s\"; "
					               "waiting for it",
					               my_database),
					        errdetail("The database is listed in compute.databases."));
				}
				next_look = TimestampTzPlusMilliseconds(now, look_backoff_ms);
				look_backoff_ms = Min(look_backoff_ms * 2, kMaxBackoffMs);
			} else {
				if (!extension_present) {
					ereport(log_level,
					        errmsg("compute maintenance: looking after the jobs of database \"%s\" (compute %s)",
					               my_database, extension.version),
					        extension.has_requeue ? 0 : errdetail("This version has no leases: nothing to requeue."));
				}
				next_look = 0;
				look_backoff_ms = kMinBackoffMs;
				if (requeue_due) {
					last_requeue = now;
					if (extension.has_requeue) {
						Requeue();
					}
				}
				if (expire_due) {
					last_expire = now;
					Expire(extension.has_requeue, last_requeue);
				}
			}
			extension_present = extension.present;
			extension_known = true;
			continue; // look at the stop flag and the settings again before sleeping
		}
		long timeout = -1;
		if (next_look > now) {
			if (requeue_interval_ms > 0 || expire_interval_ms > 0) {
				timeout = MillisecondsUntil(now, next_look);
			}
		} else {
			if (requeue_interval_ms > 0) {
				Sooner(timeout, MillisecondsUntil(now, TimestampTzPlusMilliseconds(last_requeue, requeue_interval_ms)));
			}
			if (expire_interval_ms > 0) {
				Sooner(timeout, MillisecondsUntil(now, TimestampTzPlusMilliseconds(last_expire, expire_interval_ms)));
			}
		}
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (timeout >= 0 ? WL_TIMEOUT : 0), timeout,
		                PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

} // namespace

void
InitMaintenance() {
	DefineSettings();
	if (!process_shared_preload_libraries_in_progress) {
		return;
	}
	RegisterShared({SharedSize, nullptr, StartupShmem});
	previous_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = MaintenanceUtility;
	RegisterXactCallback(OnXactEvent, nullptr);

	BackgroundWorker launcher;
	memset(&launcher, 0, sizeof(launcher));
	launcher.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	launcher.bgw_start_time = BgWorkerStart_RecoveryFinished;
	launcher.bgw_restart_time = 10; // seconds, should it fail
	strlcpy(launcher.bgw_library_name, "compute", BGW_MAXLEN);
	strlcpy(launcher.bgw_function_name, "compute_maintenance_launcher_main", BGW_MAXLEN);
	strlcpy(launcher.bgw_name, kLauncherType, BGW_MAXLEN);
	strlcpy(launcher.bgw_type, kLauncherType, BGW_MAXLEN);
	RegisterBackgroundWorker(&launcher);
}

} // namespace compute::pg

using namespace compute::pg;

extern "C" {

PGDLLEXPORT void compute_maintenance_launcher_main(Datum);
PGDLLEXPORT void compute_maintenance_worker_main(Datum);

void
compute_maintenance_launcher_main(Datum) {
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(nullptr, nullptr, 0); // shared catalogs only
	SetConfigOption("application_name", kLauncherType, PGC_USERSET, PGC_S_SESSION);

	// Take the slots over. Workers started by an earlier launcher (one that
	// failed) are told to exit; their slots are reused once they have.
	Latch *orphans[kMaxDatabases];
	int orphan_count = 0;
	SpinLockAcquire(&shared->mutex);
	shared->launcher_latch = MyLatch;
	for (int i = 0; i < kMaxDatabases; i++) {
		Slot &slot = shared->slots[i];
		slot.used = false;
		if (slot.pid != 0) {
			slot.stop = true;
			orphans[orphan_count++] = slot.latch;
		}
	}
	SpinLockRelease(&shared->mutex);
	for (int n = 0; n < orphan_count; n++) {
		if (orphans[n] != nullptr) {
			SetLatch(orphans[n]);
		}
	}
	on_shmem_exit(LauncherExit, 0);
	ereport(DEBUG1, errmsg("compute maintenance launcher started"));

	ApplyDatabases();
	for (;;) {
		if (ProcDiePending) {
			StopWorkers();
			proc_exit(0); // a quiet exit; not started again until the server restarts
		}
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			ApplyDatabases();
		}
		long timeout = Tick();
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (timeout >= 0 ? WL_TIMEOUT : 0), timeout,
		                PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

void
compute_maintenance_worker_main(Datum arg) {
	int index = DatumGetInt32(arg);
	uint32 generation;
	memcpy(&generation, MyBgworkerEntry->bgw_extra, sizeof(generation));
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	if (shared == nullptr || index < 0 || index >= kMaxDatabases) {
		proc_exit(0);
	}
	Oid database = InvalidOid;
	SpinLockAcquire(&shared->mutex);
	Slot &slot = shared->slots[index];
	bool mine = slot.used && !slot.stop && slot.generation == generation && slot.pid == 0;
	if (mine) {
		slot.pid = MyProcPid;
		slot.latch = MyLatch;
		database = slot.database;
		memcpy(my_database, slot.name, NAMEDATALEN);
	}
	SpinLockRelease(&shared->mutex);
	if (!mine) {
		proc_exit(0); // paused or replaced before it could start
	}
	my_slot = index;
	my_generation = generation;
	on_shmem_exit(WorkerExit, 0);
	BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
	// application_name: in pg_stat_activity and in log_line_prefix's %a.
	SetConfigOption("application_name", kWorkerType, PGC_USERSET, PGC_S_SESSION);
	// The worker runs as a superuser: nothing in the database's schemas (an
	// operator in public, say) may change what its statements mean, whatever
	// ALTER DATABASE ... SET search_path says.
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION);
	RunWorker();
}

} // extern "C"
