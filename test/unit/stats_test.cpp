// Unit tests of src/core/stats: which counters of compute.stats each write
// moves, for every cell of the transition table, and the refusal slots.
#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>

#include "core/stats.hpp"

namespace compute {
namespace {

using S = Status;
constexpr std::uint32_t
B(Counter c) {
	return 1u << static_cast<unsigned>(c);
}

TEST(Stats, CounterNamesAreTheViewsColumns) {
	const char *names[] = {"submitted", "dedupe_hits", "resubmitted", "grabbed", "requeued",
	                       "leases_lost", "completed", "failed", "expired"};
	ASSERT_EQ(sizeof(names) / sizeof(names[0]), kCounterCount);
	for (std::size_t i = 0; i < kCounterCount; i++) {
		EXPECT_EQ(CounterName(static_cast<Counter>(i)), names[i]);
	}
}

TEST(Stats, ANewRowIsCountedByItsStatus) {
	EXPECT_EQ(CountersOf(std::nullopt, S::Queued, false), B(Counter::Submitted));
	EXPECT_EQ(CountersOf(std::nullopt, S::InProgress, false), B(Counter::Grabbed));
	EXPECT_EQ(CountersOf(std::nullopt, S::Complete, false), B(Counter::Completed));
	EXPECT_EQ(CountersOf(std::nullopt, S::Failed, false), B(Counter::Failed));
	EXPECT_EQ(CountersOf(std::nullopt, S::Expired, false), B(Counter::Expired));
}

TEST(Stats, AWriteThatKeepsTheStatusCountsNothing) {
	for (S s : kAllStatuses) {
		EXPECT_EQ(CountersOf(s, s, false), 0u);
		EXPECT_EQ(CountersOf(s, s, true), 0u);
	}
}

TEST(Stats, EveryTransition) {
	struct Cell {
		S from, to;
		bool lease_lost;
		std::uint32_t want;
	};
	const Cell cells[] = {
	    {S::Queued, S::InProgress, false, B(Counter::Grabbed)},
	    {S::Queued, S::Expired, false, B(Counter::Expired)},
	    {S::InProgress, S::Queued, false, B(Counter::Requeued)},
	    {S::InProgress, S::Queued, true, B(Counter::LeasesLost)},
	    {S::InProgress, S::Complete, false, B(Counter::Completed)},
	    {S::InProgress, S::Failed, false, B(Counter::Failed)},
	    {S::InProgress, S::Failed, true, B(Counter::Failed) | B(Counter::LeasesLost)},
	    {S::InProgress, S::Expired, false, B(Counter::Expired)},
	    {S::Complete, S::Queued, false, B(Counter::Resubmitted)},
	    {S::Complete, S::Expired, false, B(Counter::Expired)},
	    {S::Failed, S::Queued, false, B(Counter::Resubmitted)},
	    {S::Failed, S::Expired, false, B(Counter::Expired)},
	    {S::Expired, S::Queued, false, B(Counter::Resubmitted)},
	};
	for (const Cell &c : cells) {
		EXPECT_EQ(CountersOf(c.from, c.to, c.lease_lost), c.want)
		    << StatusName(c.from) << " -> " << StatusName(c.to) << (c.lease_lost ? " (lease lost)" : "");
	}
}

TEST(Stats, RefusalSlotsAreDistinctAndOthersShareTheLast) {
	std::set<std::size_t> slots;
	for (const char *code : {"55000", "22023", "22004", "22001", "23502", "23514", "42501", "P0002"}) {
		std::size_t slot = RefusalSlot(code);
		EXPECT_LT(slot, kRefusalCodes - 1) << code;
		EXPECT_EQ(RefusalCode(slot), code);
		slots.insert(slot);
	}
	EXPECT_EQ(slots.size(), kRefusalCodes - 1);
	EXPECT_EQ(RefusalSlot("XX000"), kRefusalCodes - 1);
	EXPECT_EQ(RefusalSlot(""), kRefusalCodes - 1);
	EXPECT_EQ(RefusalCode(kRefusalCodes - 1), "other");
	EXPECT_EQ(RefusalCode(kRefusalCodes + 5), "other");
}

} // namespace
} // namespace compute
