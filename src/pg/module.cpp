// Module magic and _PG_init: defines compute's settings when the library is
// loaded (at the first call of one of its functions, or at server start when
// it is in shared_preload_libraries).

#include "pg/postgres.hpp"

#include "pg/direct.hpp"
#include "pg/distributed.hpp"
#include "pg/maintenance.hpp"
#include "pg/marks.hpp"
#include "pg/module.hpp"
#include "pg/stats.hpp"
#include "pg/rights.hpp"
#include "pg/waiters.hpp"

#include "core/lease.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/inval.h"
}

#ifdef COMPUTE_ASAN_PALLOC
#include <sanitizer/asan_interface.h>
#endif

namespace compute::pg {
int max_attempts = kDefaultMaxAttempts;

namespace {

constexpr int kMaxSharedParts = 4;
SharedPart shared_parts[kMaxSharedParts];
int shared_part_count = 0;
shmem_request_hook_type previous_request_hook = nullptr;
shmem_startup_hook_type previous_startup_hook = nullptr;

void
RequestShared() {
	if (previous_request_hook) {
		previous_request_hook();
	}
	for (int i = 0; i < shared_part_count; i++) {
		RequestAddinShmemSpace(shared_parts[i].size());
		if (shared_parts[i].tranche != nullptr) {
			RequestNamedLWLockTranche(shared_parts[i].tranche, 1);
		}
	}
}

void
StartupShared() {
	if (previous_startup_hook) {
		previous_startup_hook();
	}
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	for (int i = 0; i < shared_part_count; i++) {
		shared_parts[i].startup();
	}
	LWLockRelease(AddinShmemInitLock);
}

constexpr int kMaxForgetters = 8;
void (*forgetters[kMaxForgetters])(Datum, Oid);
int forgetter_count = 0;

void
ForgetAll(Datum arg, Oid relid) {
	for (int i = 0; i < forgetter_count; i++) {
		forgetters[i](arg, relid);
	}
}

} // namespace

void
OnRelcacheInvalidation(void (*forget)(Datum, Oid)) {
	if (forgetter_count == kMaxForgetters) {
		elog(ERROR, "compute: too many relcache invalidation callbacks");
	}
	if (forgetter_count == 0) {
		CacheRegisterRelcacheCallback(ForgetAll, Datum(0));
	}
	forgetters[forgetter_count++] = forget;
}

void
RegisterShared(const SharedPart &part) {
	if (!process_shared_preload_libraries_in_progress) {
		return;
	}
	if (shared_part_count == kMaxSharedParts) {
		elog(ERROR, "compute: too many shared memory parts");
	}
	if (shared_part_count == 0) {
		previous_request_hook = shmem_request_hook;
		shmem_request_hook = RequestShared;
		previous_startup_hook = shmem_startup_hook;
		shmem_startup_hook = StartupShared;
	}
	shared_parts[shared_part_count++] = part;
}

} // namespace compute::pg

extern "C" {

PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);

void
_PG_init(void) {
	DefineCustomIntVariable("compute.max_attempts",
	                        "Leases a job may lose before requeue_stale() fails it instead of requeueing it.",
	                        "Counted since the job was last submitted; a lease is lost when it expires "
	                        "and requeue_stale() reclaims the job.",
	                        &compute::pg::max_attempts, compute::kDefaultMaxAttempts, 1, INT_MAX, PGC_USERSET, 0,
	                        nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("compute.queue_marks",
	                         "Lets grab_job start its scan at the queue's mark instead of the queue's head.",
	                         "Takes effect when the library is in shared_preload_libraries.",
	                         &compute::pg::queue_marks_enabled, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("compute.wait_recheck",
	                        "How often a waiting grab looks for a job without being woken (milliseconds).",
	                        "A safety net: a waiting grab is woken by the commit that makes a job grabbable. "
	                        "Without shared_preload_libraries a waiting grab looks every 100 ms instead.",
	                        &compute::pg::wait_recheck_ms, 1000, 10, 3600 * 1000, PGC_USERSET, GUC_UNIT_MS, nullptr,
	                        nullptr, nullptr);
	DefineCustomBoolVariable("compute.notify",
	                         "Sends NOTIFY at commit on a queue's channel when jobs enter queued (and, with "
	                         "compute.notify_finished, on compute_finished when jobs finish or expire).",
	                         "Channel of a queue: compute.queue_channel(queue).", &compute::pg::notify_enabled, true,
	                         PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("compute.notify_finished",
	                         "Also sends NOTIFY compute_finished when jobs finish or expire (with compute.notify on).",
	                         "Off by default: PostgreSQL serializes the commits of transactions that notify, "
	                         "which with synchronous_commit = on costs a WAL flush per finishing commit. "
	                         "wait_job needs no NOTIFY.",
	                         &compute::pg::notify_finished, false, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	DefineCustomBoolVariable("compute.direct_path",
	                         "Lets the grabs and finishes of grab_job, finish_job and finish_and_grab update "
	                         "the jobs directly instead of through an SQL statement.",
	                         "The same row lock, trigger, constraints and indexes; it steps aside to the SQL "
	                         "statement whenever that could behave differently (see the README).",
	                         &compute::pg::direct_path_enabled, true, PGC_USERSET, 0, nullptr, nullptr, nullptr);
	compute::pg::InitMaintenance();
	MarkGUCPrefixReserved("compute");
	compute::pg::InitMarks();
	compute::pg::InitRights();
	compute::pg::InitWaiters();
	compute::pg::InitTrigger();
	compute::pg::InitDirect();
	compute::pg::InitStats();
	compute::pg::InitDistributed();
}

} // extern "C"

#ifdef COMPUTE_ASAN_PALLOC
// See pg/asan_palloc.hpp. (MemoryContextAlloc: palloc is the macro here.)
void *
compute_asan_palloc(Size size, bool zero) {
	MemoryContext context = CurrentMemoryContext;
	if (!IsA(context, AllocSetContext)) {
		return zero ? MemoryContextAllocZero(context, size) : MemoryContextAlloc(context, size);
	}
	Size chunk_size = Max(size, kAsanPallocChunk);
	char *chunk = static_cast<char *>(zero ? MemoryContextAllocZero(context, chunk_size)
	                                       : MemoryContextAlloc(context, chunk_size));
	// The chunk holds MAXALIGN(chunk_size) bytes; those past `size` are poisoned.
	ASAN_POISON_MEMORY_REGION(chunk + size, MAXALIGN(chunk_size) - size);
	return chunk;
}
#endif
