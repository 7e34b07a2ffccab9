// Leases with fencing (extension version 1.1.0), in plain C++.
//
// Wording: every grab starts a new *attempt* of a job (compute.jobs.attempt
// counts them and never decreases) and gives the worker a *lease* until
// lease_expires. The attempt number is the worker's fencing token: a write
// that presents a token (finish_job or heartbeat with `attempt`, or a plain
// UPDATE that names the attempt column) is accepted only while the job is
// in-progress at exactly that attempt. Otherwise the worker's lease is
// *lost*: the job was requeued, re-grabbed, expired, finished or deleted.
// A job whose leases run out compute.max_attempts times since it was
// submitted fails instead of going back to the queue (the crash-loop guard).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/errors.hpp"
#include "core/status.hpp"

namespace compute {

// The lease of a grab that names none (plain UPDATE ... SET status =
// 'in-progress'), and grab_job's default.
constexpr std::int64_t kDefaultLeaseSeconds = 5 * 60;

// compute.max_attempts: default and bounds.
constexpr int kDefaultMaxAttempts = 5;

// Checks a fencing token: nothing when the job is in-progress at attempt
// `claimed`, else a BadTransition error saying the lease was lost.
Check
CheckFence(std::string_view job_id, Status status, std::int64_t current, std::int64_t claimed);

// The error of a token presented for a job that does not exist (any more):
// P0002, like every unknown job, saying the lease is lost with it.
Error
LeaseLostDeleted(std::string_view job_id, std::int64_t claimed);

// A lease length or extension (`name`): not NULL, ending after it starts,
// not too long (more than `max_years` in any part).
Check
CheckLeaseLength(std::string_view name, bool is_null, bool positive, bool too_long = false, int max_years = 0);

// An error text passed to finish_job: only with status failed.
Check
CheckFinishError(std::string_view job_id, Status finished_as, bool has_error);

// A lost_leases value written by plain SQL: not negative.
Check
CheckLostLeases(std::string_view job_id, std::int64_t lost_leases);

// What becomes of an in-progress job whose lease ran out, after it had lost
// `lost_before` leases since it was submitted.
struct LeaseLoss {
	Status next;     // queued, or failed once max_attempts leases are lost
	char error[160]; // the reason recorded when it fails; empty otherwise
};

LeaseLoss
DecideLeaseLoss(std::int64_t lost_before, std::int64_t max_attempts) noexcept;

// Whether entering `to` from `from` is a new submission (a new job, or a
// finished one sent again), which starts a new budget of lost leases.
bool
StartsSubmission(std::optional<Status> from, Status to);

} // namespace compute
