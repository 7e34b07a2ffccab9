// The errors the core reports, classified as in SPEC section 5. The boundary
// layer (src/pg/boundary.hpp) maps each Code to its SQLSTATE.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace compute {

enum class Code {
	BadTransition, // 55000 object_not_in_prerequisite_state
	NoJob,         // P0002 no_data_found
	BadParam,      // 22023 invalid_parameter_value
	TooLong,       // 22001 string_data_right_truncation
	NullValue,     // 22004 null_value_not_allowed
	NoPrivilege,   // 42501 insufficient_privilege (queue rights, 1.2.0)
	Conflict,      // 40001 serialization_failure (a submit raced twice by a delete: retry)
	NotSupported,  // 0A000 feature_not_supported (distributed mode's limits)
};

struct Error {
	Code code;
	std::string message; // one line, lower case, no trailing period
	std::string detail;  // a full sentence, or empty
	std::string hint = {}; // a full sentence, or empty (may be left out)
};

// What a check returns: nothing when all is well.
using Check = std::optional<Error>;

// Lower-case hex of a job id (or of any bytes), as messages print it. Long
// inputs are cut after max_bytes bytes and end in "...".
std::string
Hex(std::string_view bytes, std::size_t max_bytes = 32);

// The error of a function that needs an existing job and got an unknown one.
Error
UnknownJob(std::string_view job_id);

// The error of a submit that found its job deleted by a concurrent
// transaction twice in a row: the client retries (40001).
Error
SubmitConflict(std::string_view job_id);

// Distributed mode: a failed or expired job is resubmitted in its own
// queue only (the table's key holds the queue).
Error
ResubmitInOtherQueue(std::string_view job_id, std::string_view status, std::string_view queue);

// The error of `check`, if any, made to name the job: every message of a
// function that was given a job id names it (SPEC section 5).
Check
ForJob(std::string_view job_id, Check check);

} // namespace compute
