// Unit tests of src/core/status: the five status names and their parsing.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <string_view>

#include "core/status.hpp"

using namespace std::string_view_literals;

namespace compute {
namespace {

// The five values of compute.jobs.status (SPEC section 2), spelled out here
// rather than taken from the code under test.
struct Named {
	Status status;
	std::string_view name;
};

const Named kNames[] = {
	{Status::Queued, "queued"},     {Status::InProgress, "in-progress"}, {Status::Complete, "complete"},
	{Status::Failed, "failed"},     {Status::Expired, "expired"},
};

TEST(Status, NamesAreSpelledAsStored) {
	for (const Named &n : kNames) {
		EXPECT_EQ(StatusName(n.status), n.name);
	}
}

TEST(Status, AllStatusesListsEachStatusOnce) {
	ASSERT_EQ(kStatusCount, 5);
	std::set<Status> seen(std::begin(kAllStatuses), std::end(kAllStatuses));
	EXPECT_EQ(seen.size(), 5u);
	for (const Named &n : kNames) {
		EXPECT_EQ(seen.count(n.status), 1u) << n.name;
	}
}

TEST(Status, EveryNameRoundTrips) {
	for (Status s : kAllStatuses) {
		std::string_view name = StatusName(s);
		SCOPED_TRACE(std::string(name));
		auto parsed = ParseStatus(name);
		ASSERT_TRUE(parsed.has_value());
		EXPECT_EQ(*parsed, s);
	}
}

TEST(Status, EveryStoredSpellingParses) {
	for (const Named &n : kNames) {
		SCOPED_TRACE(std::string(n.name));
		// A copy, so that nothing depends on comparing pointers.
		std::string copy(n.name);
		auto parsed = ParseStatus(copy);
		ASSERT_TRUE(parsed.has_value());
		EXPECT_EQ(*parsed, n.status);
	}
}

TEST(Status, NamesAreDistinctAndFitTheColumn) {
	std::set<std::string_view> names;
	for (Status s : kAllStatuses) {
		std::string_view name = StatusName(s);
		EXPECT_FALSE(name.empty());
		EXPECT_LE(name.size(), 11u) << name << " does not fit status VARCHAR(11)";
		names.insert(name);
	}
	EXPECT_EQ(names.size(), 5u);
}

TEST(Status, NearMissesAreRejected) {
	const std::string_view near_misses[] = {
		"Queued"sv,
		"QUEUED"sv,
		"in_progress"sv,
		"inprogress"sv,
		"in progress"sv,
		"In-Progress"sv,
		""sv,
		" "sv,
		"queued "sv,
		" queued"sv,
		"queue"sv,
		"queuedx"sv,
		"completed"sv,
		"complete\0x"sv,
		"complete\0"sv,
		"fail"sv,
		"failed\n"sv,
		"expire"sv,
		"new"sv,
		"?"sv,
	};
	for (std::string_view text : near_misses) {
		EXPECT_FALSE(ParseStatus(text).has_value()) << "\"" << std::string(text) << "\" (" << text.size()
		                                            << " bytes) was accepted";
	}
}

TEST(Status, EmbeddedNulIsNotATerminator) {
	// A std::string_view knows its length: "complete\0x" is ten bytes, not
	// "complete" followed by garbage.
	std::string_view text("complete\0x", 10);
	ASSERT_EQ(text.size(), 10u);
	EXPECT_FALSE(ParseStatus(text).has_value());
	EXPECT_FALSE(ParseStatus(text.substr(0, 9)).has_value());
	EXPECT_EQ(ParseStatus(text.substr(0, 8)), Status::Complete);
}

TEST(Status, OutOfRangeValueHasNoValidName) {
	auto bogus = static_cast<Status>(200);
	std::string_view name = StatusName(bogus);
	EXPECT_FALSE(ParseStatus(name).has_value()) << name;
}

} // namespace
} // namespace compute
