#include "core/core_only.hpp"
#include "core/lease.hpp"

#include <cstdint>
#include <cstdio>
#include <string>

namespace compute {

namespace {

std::string
LostMessage(std::string_view job_id, std::int64_t claimed) {
	return "job " + Hex(job_id) + ": the lease of attempt " + std::to_string(claimed) + " was lost";
}

} // namespace

Check
CheckFence(std::string_view job_id, Status status, std::int64_t current, std::int64_t claimed) {
	if (status == Status::InProgress && current == claimed) {
		return std::nullopt;
	}
	std::string detail;
	if (current != claimed) {
		detail = "The job is at attempt " + std::to_string(current) + " now, and " + std::string(StatusName(status)) +
		         ".";
	} else {
		detail = "The job is " + std::string(StatusName(status)) + " now.";
	}
	return Error {Code::BadTransition, LostMessage(job_id, claimed), std::move(detail)};
}

Error
LeaseLostDeleted(std::string_view job_id, std::int64_t claimed) {
	// An unknown job is P0002 wherever a job is required, token or not.
	return Error {Code::NoJob, "job " + Hex(job_id) + " does not exist",
	              "The lease of attempt " + std::to_string(claimed) + " is lost with it: the job was deleted, or never existed."};
}

Check
CheckLeaseLength(std::string_view name, bool is_null, bool positive, bool too_long, int max_years) {
	if (is_null) {
		return Error {Code::NullValue, std::string(name) + " must not be NULL", ""};
	}
	if (too_long) {
		return Error {Code::BadParam, std::string(name) + " is too long",
		              "A lease is at most " + std::to_string(max_years) + " years in each of its parts."};
	}
	if (!positive) {
		return Error {Code::BadParam, std::string(name) + " must be positive",
		              "A lease must end after it starts (months count as calendar months)."};
	}
	return std::nullopt;
}

Check
CheckFinishError(std::string_view job_id, Status finished_as, bool has_error) {
	if (!has_error || finished_as == Status::Failed) {
		return std::nullopt;
	}
	return Error {Code::BadParam, "job " + Hex(job_id) + ": an error text is recorded only for a failed job",
	              "Pass error = NULL when a job completes."};
}

Check
CheckLostLeases(std::string_view job_id, std::int64_t lost_leases) {
	if (lost_leases >= 0) {
		return std::nullopt;
	}
	return Error {Code::BadParam, "job " + Hex(job_id) + ": lost_leases cannot be negative",
	              "It counts the leases the job lost since it was submitted."};
}

LeaseLoss
DecideLeaseLoss(std::int64_t lost_before, std::int64_t max_attempts) noexcept {
	LeaseLoss loss {Status::Queued, {0}};
	// lost_before + 1, without overflow.
	std::int64_t lost = lost_before < INT64_MAX ? lost_before + 1 : INT64_MAX;
	if (lost >= max_attempts) {
		loss.next = Status::Failed;
		std::snprintf(loss.error, sizeof(loss.error),
		              "lease lost %lld times (compute.max_attempts = %lld): the job may be crashing its workers",
		              static_cast<long long>(lost), static_cast<long long>(max_attempts));
	}
	return loss;
}

bool
StartsSubmission(std::optional<Status> from, Status to) {
	return to == Status::Queued && (!from || *from == Status::Complete || *from == Status::Failed ||
	                                *from == Status::Expired);
}

} // namespace compute
