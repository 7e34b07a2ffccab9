// Queue rights (src/core/rights.hpp) against compute.queue_grants.
//
// Whether the table holds any grant is cached per backend and forgotten
// when the table's relcache entry is invalidated, which a statement trigger
// on the table does at every change (compute._queue_grants_changed()): a
// database without queue grants pays one flag test per call. The role is
// the caller's role outside compute's SECURITY DEFINER functions (the
// session's role, or the one SET ROLE chose).
#pragma once

#include "pg/args.hpp"

#include "core/rights.hpp"

namespace compute::pg {

// From _PG_init.
void
InitRights();

// Raises 42501 unless the caller may use `right` on `queue` (for `job`,
// named in the message, when not null).
void
RequireQueueRight(const Bytes &queue, Right right, const Bytes *job);

// The same for the queue of a job row (a compute.jobs composite Datum).
void
RequireJobRight(Datum job, Right right, const Bytes &id);

// The same for every job of `job_ids` (a bytea[] Datum).
void
RequireBatchRight(Datum job_ids, Right right);

// Raises 42501 if the caller holds queue grants of `right`: `function` acts
// on every queue.
void
RequireAllQueues(const char *function, Right right);

} // namespace compute::pg
