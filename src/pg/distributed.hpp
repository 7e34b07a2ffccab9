// Distributed mode (issue 12): compute.jobs as a Citus table distributed by
// queue. See README, "Distributed mode".
#pragma once

#include "pg/postgres.hpp"

namespace compute::pg {

// Whether compute.jobs of this database is a Citus distributed table (then
// this backend is the coordinator: the table here is a shell whose rows
// live on the workers' shards). Cached per backend, forgotten when the
// table's relcache entry is invalidated (compute.distribute() does).
bool
Distributed();

// Whether `relation`, a table that compute's row triggers fire on, is a
// shard of a distributed compute.jobs (compute.jobs_<shard id> on a worker)
// rather than compute.jobs itself. Decided from the relation alone.
bool
IsShard(Relation relation);

// From _PG_init.
void
InitDistributed();

} // namespace compute::pg
