// Unit tests of src/core/rights: queue rights decided from what the queue
// grants say, and their messages.
#include <gtest/gtest.h>

#include <string>

#include "core/rights.hpp"
#include "support.hpp"

namespace compute {
namespace {

TEST(Rights, NamesRoundTrip) {
	for (Right right : {Right::Submit, Right::Work, Right::Admin}) {
		EXPECT_EQ(ParseRight(RightName(right)), right);
	}
	EXPECT_FALSE(ParseRight("Work").has_value());
	EXPECT_FALSE(ParseRight("").has_value());
}

TEST(Rights, AnUnrestrictedRoleMayUseEveryQueue) {
	EXPECT_FALSE(CheckQueueRight("", "any", "r", Right::Work, {false, false}).has_value());
	EXPECT_FALSE(CheckAllQueues("expire", "r", Right::Admin, false).has_value());
}

TEST(Rights, ARestrictedRoleMayUseMatchingQueuesOnly) {
	EXPECT_FALSE(CheckQueueRight("", "render", "r", Right::Work, {true, true}).has_value());
	Check refused = CheckQueueRight(kJobId, "batch", "r", Right::Submit, {true, false});
	ASSERT_TRUE(refused.has_value());
	EXPECT_EQ(refused->code, Code::NoPrivilege);
	EXPECT_EQ(refused->message, std::string("job ") + kJobHex + ": role \"r\" may not submit queue \"batch\"");
	Check all = CheckAllQueues("requeue_stale", "r", Right::Admin, true);
	ASSERT_TRUE(all.has_value());
	EXPECT_EQ(all->code, Code::NoPrivilege);
}

TEST(Rights, RightNamesAreChecked) {
	Right right = Right::Submit;
	EXPECT_FALSE(CheckRightName(std::string_view("admin"), &right).has_value());
	EXPECT_EQ(right, Right::Admin);
	EXPECT_EQ(CheckRightName(std::nullopt, &right)->code, Code::NullValue);
	EXPECT_EQ(CheckRightName(std::string_view("root"), &right)->code, Code::BadParam);
}

} // namespace
} // namespace compute
