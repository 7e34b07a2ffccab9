// The library's load-time setup and its settings (GUCs).
#pragma once

namespace compute::pg {

// compute.max_attempts: how many leases a job may lose since it was
// submitted before requeue_stale() fails it instead of requeueing it.
extern int max_attempts;

// From _PG_init: the triggers' column numbers are cached per table and
// forgotten on relcache invalidation (trigger.cpp).
void
InitTrigger();

} // namespace compute::pg
