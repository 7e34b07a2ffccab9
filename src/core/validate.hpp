// Validation of the arguments of compute's functions, in plain C++.
//
// The glue (src/pg/) reads SQL arguments into plain values (a NULL becomes
// nullopt) and asks these functions; each returns nothing when the value is
// fine, else the Error to raise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/errors.hpp"
#include "core/status.hpp"

namespace compute {

constexpr std::size_t kJobIdBytes = 16;
constexpr std::size_t kMaxQueueChars = 32;

// A value that the caller may not leave NULL (argument `name`).
Check
CheckNotNull(std::string_view name, bool is_null);

// A job id: exactly 16 bytes.
Check
CheckJobId(std::optional<std::string_view> job_id);

// A queue name: not empty, at most 32 characters (`chars` is its length in
// characters of the server encoding, which only the server can count).
Check
CheckQueue(std::optional<std::string_view> queue, std::size_t chars);

// A file-name array (`column` is input_files or output_files): one
// dimension; `ndim` is the array's number of dimensions (0 when empty).
Check
CheckFileArrayShape(std::string_view column, int ndim);

// One element of a file-name array: not NULL, not empty.
Check
CheckFileName(std::string_view column, std::size_t index, std::optional<std::string_view> name);

// The arrays of finish_jobs: one dimension; `attempts`, when given (not
// nullopt), as long as `job_ids`. Sizes are element counts.
Check
CheckBatch(int ids_ndim, std::size_t ids, std::optional<int> attempts_ndim, std::size_t attempts);

// The error of a finish_jobs whose job_ids name a job twice.
Error
DuplicateInBatch();

// The arrays of submit_jobs: one dimension; `configs`, when given, as long
// as `job_ids`.
Check
CheckSubmitBatch(int ids_ndim, std::size_t ids, std::optional<int> configs_ndim, std::size_t configs);

// max_jobs of grab_job: at least 1.
Check
CheckMaxJobs(std::optional<std::int64_t> max_jobs);

// An interval argument (`name`): not NULL, not negative.
Check
CheckInterval(std::string_view name, bool is_null, bool negative);

// The status argument of finish_job: complete or failed.
Check
CheckFinishStatus(std::string_view job_id, std::optional<std::string_view> status, Status *out);

} // namespace compute
