// The job state machine of SPEC section 3, in plain C++.
//
// Wording: a *transition* is any write that names the status column (an
// INSERT, or an UPDATE whose SET list includes status), even when the value
// stays the same. "from" is the stored status, or nullopt for a new job.
#pragma once

#include <optional>
#include <string_view>

#include "core/errors.hpp"
#include "core/status.hpp"

namespace compute {

// The transition table: may a job go from `from` to `to`?
bool
TransitionAllowed(std::optional<Status> from, Status to);

// What entering a status does to the other columns.
struct Effects {
	bool clear_run = false;    // grabbed, finished, output_files := NULL
	bool set_grabbed = false;  // grabbed := now()
	bool set_finished = false; // finished := now()
	// The lease columns of version 1.1.0 (see lease.hpp).
	bool start_lease = false; // attempt := attempt + 1, lease_expires := now() + lease
	bool clear_error = false; // error := NULL
};
// Whatever the transition, a job that is not in-progress holds no lease
// (lease_expires and lease are NULL).

Effects
EffectsOf(Status to);

// Checks one transition of job `job_id` (raw bytes): nothing when allowed,
// else a BadTransition error whose message names the job and both statuses.
Check
CheckTransition(std::string_view job_id, std::optional<Status> from, Status to);

// Checks a status read from or written to compute.jobs: nothing when it is
// one of the five, else a BadParam error naming the job and the value.
Check
CheckStatusValue(std::string_view job_id, std::string_view text, Status *out);

// Checks that a row is consistent with its status, after any write: a
// queued job has no grabbed, finished or output_files; an in-progress job
// has grabbed and no finished (output_files it may have: 1.2.0); a complete or failed job has
// grabbed and finished. (An expired job keeps whatever it had.)
struct RunFields {
	bool grabbed, finished, output_files; // whether each is set (not NULL)
};
Check
CheckConsistent(std::string_view job_id, Status status, RunFields fields);

// Checks that a write leaves job_id and created alone (they never change).
Check
CheckImmutable(std::string_view job_id, bool job_id_changed, bool created_changed);

// The error of a write to a table where another BEFORE ROW trigger
// (`other`) fires after the check (`self`): it could change the row after
// the check, so the write is refused.
Error
TriggerAfterCheck(std::string_view other, std::string_view self);

} // namespace compute
