// Live statistics (extension 1.2.0): which counters of compute.stats a
// write to a job row moves, and the SQLSTATEs refusals are counted by.
// Plain C++; src/pg/stats.cpp keeps the counters in shared memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/status.hpp"

namespace compute {

enum class Counter : std::uint8_t {
	Submitted,   // a new job (a row inserted queued)
	DedupeHits,  // a submit of a job that exists and was not resubmitted
	Resubmitted, // complete, failed or expired -> queued
	Grabbed,     // -> in-progress
	Requeued,    // in-progress -> queued, lease not lost (a plain UPDATE, requeue_stale(older_than))
	LeasesLost,  // a lease taken back by requeue_stale(): -> queued, or -> failed past compute.max_attempts
	Completed,   // -> complete
	Failed,      // -> failed
	Expired,     // -> expired
};
constexpr std::size_t kCounterCount = 9;

// The counter's column name in compute.stats.
std::string_view
CounterName(Counter counter);

// Bit (1 << counter) of every counter a write moves: `from` is the old
// status (nullopt: the row is new), `to` the new one; `lease_lost` when the
// write takes a lost lease back (lost_leases grew). 0: no transition.
std::uint32_t
CountersOf(std::optional<Status> from, Status to, bool lease_lost);

// Refusals are counted by SQLSTATE: these, and every other code as "other".
constexpr std::size_t kRefusalCodes = 9;

// The slot of `sqlstate` (five characters) among kRefusalCodes; the last
// slot is "other".
std::size_t
RefusalSlot(std::string_view sqlstate);

// The SQLSTATE of a slot ("other" for the last).
std::string_view
RefusalCode(std::size_t slot);

} // namespace compute
