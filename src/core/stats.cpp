#include "core/stats.hpp"

namespace compute {

namespace {

constexpr std::string_view kCounterNames[kCounterCount] = {
    "submitted", "dedupe_hits", "resubmitted", "grabbed", "requeued", "leases_lost", "completed", "failed", "expired",
};

// The refusals the trigger and the functions raise (SPEC section 5), then
// "other".
constexpr std::string_view kCodes[kRefusalCodes] = {
    "55000", "22023", "22004", "22001", "23502", "23514", "42501", "P0002", "other",
};

constexpr std::uint32_t
Bit(Counter counter) {
	return 1u << static_cast<unsigned>(counter);
}

} // namespace

std::string_view
CounterName(Counter counter) {
	return kCounterNames[static_cast<std::size_t>(counter)];
}

std::uint32_t
CountersOf(std::optional<Status> from, Status to, bool lease_lost) {
	if (from == to) {
		return 0;
	}
	switch (to) {
	case Status::Queued:
		if (!from) {
			return Bit(Counter::Submitted);
		}
		if (*from == Status::InProgress) {
			return Bit(lease_lost ? Counter::LeasesLost : Counter::Requeued);
		}
		return Bit(Counter::Resubmitted);
	case Status::InProgress:
		return Bit(Counter::Grabbed);
	case Status::Complete:
		return Bit(Counter::Completed);
	case Status::Failed:
		return Bit(Counter::Failed) | (lease_lost ? Bit(Counter::LeasesLost) : 0);
	case Status::Expired:
		return Bit(Counter::Expired);
	}
	return 0;
}

std::size_t
RefusalSlot(std::string_view sqlstate) {
	for (std::size_t i = 0; i + 1 < kRefusalCodes; i++) {
		if (kCodes[i] == sqlstate) {
			return i;
		}
	}
	return kRefusalCodes - 1;
}

std::string_view
RefusalCode(std::size_t slot) {
	return kCodes[slot < kRefusalCodes ? slot : kRefusalCodes - 1];
}

} // namespace compute
