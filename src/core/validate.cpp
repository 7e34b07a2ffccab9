#include "core/core_only.hpp"
#include "core/validate.hpp"

#include <string>

namespace compute {

namespace {

Error
NullError(std::string_view name) {
	return Error {Code::NullValue, std::string(name) + " must not be NULL", ""};
}

} // namespace

Check
CheckNotNull(std::string_view name, bool is_null) {
	if (is_null) {
		return NullError(name);
	}
	return std::nullopt;
}

Check
CheckJobId(std::optional<std::string_view> job_id) {
	if (!job_id) {
		return NullError("job_id");
	}
	if (job_id->size() == kJobIdBytes) {
		return std::nullopt;
	}
	return Error {Code::BadParam,
	              "invalid job_id \"\\x" + Hex(*job_id) + "\": it has " + std::to_string(job_id->size()) +
	                  " bytes, not 16",
	              "A job_id is the 16-byte MD5 hash of the job's configuration."};
}

Check
CheckQueue(std::optional<std::string_view> queue, std::size_t chars) {
	if (!queue) {
		return NullError("queue");
	}
	if (queue->empty()) {
		return Error {Code::BadParam, "queue name must not be empty", ""};
	}
	if (chars > kMaxQueueChars) {
		return Error {Code::TooLong, "queue name \"" + std::string(*queue) + "\" is too long",
		              "A queue name has at most 32 characters; this one has " + std::to_string(chars) + "."};
	}
	return std::nullopt;
}

Check
CheckFileArrayShape(std::string_view column, int ndim) {
	if (ndim <= 1) {
		return std::nullopt;
	}
	return Error {Code::BadParam, std::string(column) + " must be a one-dimensional array",
	              "It has " + std::to_string(ndim) + " dimensions."};
}

Check
CheckFileName(std::string_view column, std::size_t index, std::optional<std::string_view> name) {
	if (!name) {
		return Error {Code::NullValue, std::string(column) + " must not contain NULL",
		              "Element " + std::to_string(index) + " is NULL."};
	}
	if (name->empty()) {
		return Error {Code::BadParam, std::string(column) + " must not contain an empty file name",
		              "Element " + std::to_string(index) + " is empty."};
	}
	return std::nullopt;
}

Check
CheckBatch(int ids_ndim, std::size_t ids, std::optional<int> attempts_ndim, std::size_t attempts) {
	if (ids_ndim > 1 || (attempts_ndim && *attempts_ndim > 1)) {
		return Error {Code::BadParam, "job_ids and attempts must be one-dimensional arrays", ""};
	}
	if (attempts_ndim && attempts != ids) {
		return Error {Code::BadParam,
		              "attempts has " + std::to_string(attempts) + " elements, job_ids " + std::to_string(ids),
		              "The array attempts holds the fencing token of each job in job_ids, in the same order."};
	}
	return std::nullopt;
}

Check
CheckSubmitBatch(int ids_ndim, std::size_t ids, std::optional<int> configs_ndim, std::size_t configs) {
	if (ids_ndim > 1 || (configs_ndim && *configs_ndim > 1)) {
		return Error {Code::BadParam, "job_ids and configs must be one-dimensional arrays", ""};
	}
	if (configs_ndim && configs != ids) {
		return Error {Code::BadParam,
		              "configs has " + std::to_string(configs) + " elements, job_ids " + std::to_string(ids),
		              "configs holds the configuration of each job in job_ids, in the same order."};
	}
	return std::nullopt;
}

Error
DuplicateInBatch() {
	return Error {Code::BadParam, "job_ids names a job more than once", "Each job finishes once."};
}

Check
CheckMaxJobs(std::optional<std::int64_t> max_jobs) {
	if (!max_jobs) {
		return NullError("max_jobs");
	}
	if (*max_jobs >= 1) {
		return std::nullopt;
	}
	return Error {Code::BadParam, "max_jobs must be at least 1, not " + std::to_string(*max_jobs), ""};
}

Check
CheckInterval(std::string_view name, bool is_null, bool negative) {
	if (is_null) {
		return NullError(name);
	}
	if (negative) {
		return Error {Code::BadParam, std::string(name) + " must not be negative", ""};
	}
	return std::nullopt;
}

Check
CheckFinishStatus(std::string_view job_id, std::optional<std::string_view> status, Status *out) {
	if (!status) {
		return NullError("status");
	}
	auto parsed = ParseStatus(*status);
	if (parsed == Status::Complete || parsed == Status::Failed) {
		*out = *parsed;
		return std::nullopt;
	}
	if (!parsed) {
		return Error {Code::BadParam, "job " + Hex(job_id) + ": unknown status \"" + std::string(*status) + "\"",
		              "A job finishes as complete or failed."};
	}
	return Error {Code::BadParam, "job " + Hex(job_id) + " cannot finish as \"" + std::string(*status) + "\"",
	              "A job finishes as complete or failed."};
}

} // namespace compute
