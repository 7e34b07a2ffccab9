// The library's load-time setup and its settings (GUCs).
#pragma once

#include "pg/postgres.hpp"

namespace compute::pg {

// compute.max_attempts: how many leases a job may lose since it was
// submitted before requeue_stale() fails it instead of requeueing it.
extern int max_attempts;

// A part of compute's shared memory, which exists only when the library is
// in shared_preload_libraries: how many bytes it asks for, an optional
// named LWLock tranche of one lock, and what to do once the memory exists
// (called in the postmaster and in every backend, under
// AddinShmemInitLock: ShmemInitStruct or ShmemInitHash, and
// GetNamedLWLockTranche).
struct SharedPart {
	Size (*size)();
	const char *tranche; // nullptr: no lock
	void (*startup)();
};

// From the Init functions called by _PG_init: chains the shared-memory hooks
// once for every part (does nothing unless preloading).
void
RegisterShared(const SharedPart &part);

// From the Init functions called by _PG_init: calls `forget` on every
// relcache invalidation, through one callback of compute's own (PostgreSQL
// has room for ten in a backend, and other extensions, Citus among them,
// take most of them).
void
OnRelcacheInvalidation(void (*forget)(Datum, Oid));

// From _PG_init: the triggers' column numbers are cached per table and
// forgotten on relcache invalidation (trigger.cpp).
void
InitTrigger();

} // namespace compute::pg
