#include "core/core_only.hpp"
#include "core/errors.hpp"

namespace compute {

std::string
Hex(std::string_view bytes, std::size_t max_bytes) {
	static const char digits[] = "0123456789abcdef";
	std::size_t shown = bytes.size() < max_bytes ? bytes.size() : max_bytes;
	std::string out;
	out.reserve(shown * 2 + 3);
	for (std::size_t i = 0; i < shown; i++) {
		auto byte = static_cast<unsigned char>(bytes[i]);
		out.push_back(digits[byte >> 4]);
		out.push_back(digits[byte & 0xf]);
	}
	if (shown < bytes.size()) {
		out += "...";
	}
	return out;
}

Error
UnknownJob(std::string_view job_id) {
	return Error {Code::NoJob, "job " + Hex(job_id) + " does not exist", ""};
}

Error
SubmitConflict(std::string_view job_id) {
	return Error {Code::Conflict, "job " + Hex(job_id) + ": could not submit it: it changed concurrently, retry",
	              "A concurrent transaction deleted the job twice while this one submitted it."};
}

Error
ResubmitInOtherQueue(std::string_view job_id, std::string_view status, std::string_view queue) {
	std::string in_queue = "queue \"" + std::string(queue) + "\"";
	return Error {Code::NotSupported,
	              "job " + Hex(job_id) + " is " + std::string(status) + " in " + in_queue +
	                  ": on a distributed compute.jobs it is resubmitted to its own queue",
	              "", "Submit it to " + in_queue + ", or delete_job() it first."};
}

Check
ForJob(std::string_view job_id, Check check) {
	if (check && check->message.rfind("job ", 0) != 0) {
		check->message = "job " + Hex(job_id) + ": " + check->message;
	}
	return check;
}

} // namespace compute
