#include "core/core_only.hpp"
#include "core/transition.hpp"

#include <string>

namespace compute {

namespace {

std::string
Quoted(std::string_view text) {
	std::string out = "\"";
	out.append(text);
	out += '"';
	return out;
}

// Why a job cannot enter `to` (the detail of a refused transition).
const char *
WhyNot(std::optional<Status> from, Status to) {
	if (!from) {
		return "A new job starts as queued.";
	}
	switch (to) {
	case Status::Queued:
		break;
	case Status::InProgress:
		return "Only a queued job can be grabbed.";
	case Status::Complete:
	case Status::Failed:
		return "Only an in-progress job can finish.";
	case Status::Expired:
		return "An expired job is expired already.";
	}
	return "";
}

} // namespace

bool
TransitionAllowed(std::optional<Status> from, Status to) {
	if (to == Status::Queued) {
		return true; // submit, re-route, requeue, resubmit
	}
	if (!from) {
		return false;
	}
	switch (to) {
	case Status::Queued:
		return true;
	case Status::InProgress:
		return *from == Status::Queued;
	case Status::Complete:
	case Status::Failed:
		return *from == Status::InProgress;
	case Status::Expired:
		return *from != Status::Expired; // 1.2.0: failed jobs too (the platform's expireJob)
	}
	return false;
}

Effects
EffectsOf(Status to) {
	Effects effects;
	switch (to) {
	case Status::Queued:
		effects.clear_run = true;
		effects.clear_error = true;
		break;
	case Status::InProgress:
		effects.set_grabbed = true;
		effects.start_lease = true;
		break;
	case Status::Complete:
		effects.set_finished = true;
		effects.clear_error = true;
		break;
	case Status::Failed:
		effects.set_finished = true;
		break;
	case Status::Expired:
		break;
	}
	return effects;
}

Check
CheckTransition(std::string_view job_id, std::optional<Status> from, Status to) {
	if (TransitionAllowed(from, to)) {
		return std::nullopt;
	}
	std::string message = "job " + Hex(job_id);
	if (from) {
		message += " cannot go from " + Quoted(StatusName(*from)) + " to " + Quoted(StatusName(to));
		return Error {Code::BadTransition, std::move(message), WhyNot(from, to), ""};
	}
	message += " cannot be created as " + Quoted(StatusName(to));
	return Error {Code::BadTransition, std::move(message), WhyNot(from, to),
	              "To restore a dump of compute.jobs, restore with session_replication_role = replica."};
}

Check
CheckStatusValue(std::string_view job_id, std::string_view text, Status *out) {
	if (auto status = ParseStatus(text)) {
		*out = *status;
		return std::nullopt;
	}
	return Error {Code::BadParam, "job " + Hex(job_id) + " cannot have status " + Quoted(text),
	              "A job's status is one of queued, in-progress, complete, failed, expired."};
}

Check
CheckConsistent(std::string_view job_id, Status status, RunFields fields) {
	const char *broken = nullptr;
	switch (status) {
	case Status::Queued:
		broken = fields.grabbed ? "a grabbed time" : fields.finished ? "a finished time" : fields.output_files ? "output files" : nullptr;
		if (broken) {
			return Error {Code::BadTransition, "job " + Hex(job_id) + ": a queued job cannot have " + broken,
			              "The columns grabbed, finished and output_files are cleared when a job enters queued."};
		}
		break;
	case Status::InProgress:
		if (!fields.grabbed) {
			return Error {Code::BadTransition, "job " + Hex(job_id) + ": an in-progress job must have a grabbed time",
			              "The column grabbed is set when a job enters in-progress."};
		}
		// Output files may be recorded while the job runs (1.2.0): the
		// platform writes them before it marks the job finished.
		if (fields.finished) {
			return Error {Code::BadTransition, "job " + Hex(job_id) + ": an in-progress job cannot have a finished time",
			              "A job gets it when it finishes."};
		}
		break;
	case Status::Complete:
	case Status::Failed:
		broken = !fields.grabbed ? "a grabbed time" : !fields.finished ? "a finished time" : nullptr;
		if (broken) {
			return Error {Code::BadTransition,
			              "job " + Hex(job_id) + ": a " + std::string(StatusName(status)) + " job must have " + broken,
			              "A job that finished was grabbed and finished."};
		}
		break;
	case Status::Expired:
		break;
	}
	return std::nullopt;
}

Check
CheckImmutable(std::string_view job_id, bool job_id_changed, bool created_changed) {
	if (!job_id_changed && !created_changed) {
		return std::nullopt;
	}
	const char *column = job_id_changed ? "job_id" : "created";
	return Error {Code::BadTransition, "job " + Hex(job_id) + " cannot change its " + column,
	              "A job keeps its job_id and its created time for ever; resubmitting keeps its place."};
}

Error
TriggerAfterCheck(std::string_view other, std::string_view self) {
	return Error {Code::BadTransition,
	              "trigger " + Quoted(other) + " on compute.jobs would fire after the transition check " + Quoted(self),
	              "A BEFORE ROW trigger that fires after the check could change the row after it was checked.",
	              "Drop the trigger, or rename it to sort before " + Quoted(self) + " (triggers fire in name order)."};
}

} // namespace compute
