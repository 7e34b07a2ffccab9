// Live statistics (extension 1.2.0): counters per queue in shared memory,
// read by the view compute.stats and zeroed by compute.stats_reset().
//
// The trigger counts every write that moves a job (src/core/stats.hpp)
// into a list of this transaction, which is added to the shared counters
// when the transaction commits (rolled-back work, and work of a rolled-back
// savepoint, counts nothing); a refusal is counted at once, by SQLSTATE.
// Counters exist only with compute in shared_preload_libraries; without
// it the view is empty. Up to kStatsQueues queues per server are counted
// one by one; the rest together, under a NULL queue.
#pragma once

#include "pg/postgres.hpp"

namespace compute::pg {

// From _PG_init.
void
InitStats();

// From the trigger: a write to a job of `queue` moved `counters` (bits of
// compute::Counter); counted when the transaction commits.
void
CountWrite(const char *queue, size_t len, uint32 counters);

// From the trigger: a write to a job of `queue` was refused with `sqlstate`
// (an ERRCODE_* value); counted now.
void
CountRefusal(const char *queue, size_t len, int sqlstate);

// submit_job and submit_jobs count their own submits (a new job, or a
// dedupe hit): while their INSERT ... ON CONFLICT runs, the trigger does
// not count the row it proposes.
void
SetSubmitting(bool submitting);
bool
Submitting();

} // namespace compute::pg
