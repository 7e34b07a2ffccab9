// Unit tests of src/core/lease: fencing tokens, lease arguments, the
// crash-loop guard, and the lease effects of each transition.
#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "core/lease.hpp"
#include "core/validate.hpp"
#include "core/transition.hpp"

namespace compute {
namespace {

const std::string kJobId(16, '\x01');
const char *kJobHex = "01010101010101010101010101010101";

// ---------------------------------------------------------------------------
// CheckFence: a token is good only for the current attempt of an
// in-progress job.

TEST(Fence, CurrentAttemptOfInProgressJobPasses) {
	EXPECT_FALSE(CheckFence(kJobId, Status::InProgress, 3, 3).has_value());
	EXPECT_FALSE(CheckFence(kJobId, Status::InProgress, 0, 0).has_value()); // grabbed before 1.1.0
}

TEST(Fence, OlderOrNewerAttemptIsLost) {
	for (std::int64_t claimed : {0, 1, 2, 4, 100}) {
		Check check = CheckFence(kJobId, Status::InProgress, 3, claimed);
		ASSERT_TRUE(check.has_value()) << claimed;
		EXPECT_EQ(check->code, Code::BadTransition);
		EXPECT_EQ(check->message,
		          std::string("job ") + kJobHex + ": the lease of attempt " + std::to_string(claimed) + " was lost");
		EXPECT_EQ(check->detail, "The job is at attempt 3 now, and in-progress.");
	}
}

TEST(Fence, SameAttemptOfAJobThatIsNoLongerInProgressIsLost) {
	for (Status status : {Status::Queued, Status::Complete, Status::Failed, Status::Expired}) {
		Check check = CheckFence(kJobId, status, 2, 2);
		ASSERT_TRUE(check.has_value()) << StatusName(status);
		EXPECT_EQ(check->code, Code::BadTransition);
		EXPECT_EQ(check->detail, "The job is " + std::string(StatusName(status)) + " now.");
	}
}

TEST(Fence, DeletedJob) {
	// An unknown job is P0002 with or without a token (1.2.0).
	Error error = LeaseLostDeleted(kJobId, 7);
	EXPECT_EQ(error.code, Code::NoJob);
	EXPECT_EQ(error.message, std::string("job ") + kJobHex + " does not exist");
	EXPECT_NE(error.detail.find("attempt 7 is lost"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Lease lengths and finish errors.

TEST(LeaseLength, NullIsNullValue) {
	Check check = CheckLeaseLength("lease", true, false);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::NullValue);
	EXPECT_EQ(check->message, "lease must not be NULL");
}

TEST(LeaseLength, ZeroOrNegativeIsBadParam) {
	Check check = CheckLeaseLength("extend", false, false);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadParam);
	EXPECT_EQ(check->message, "extend must be positive");
}

TEST(LeaseLength, TooLongIsBadParam) {
	Check check = CheckLeaseLength("lease", false, true, true, 1000);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadParam);
	EXPECT_EQ(check->message, "lease is too long");
	EXPECT_NE(check->detail.find("1000 years"), std::string::npos);
}

TEST(ForJob, NamesTheJobOnceInEveryMessage) {
	Check plain = ForJob(kJobId, CheckNotNull("status", true));
	ASSERT_TRUE(plain.has_value());
	EXPECT_EQ(plain->message, std::string("job ") + kJobHex + ": status must not be NULL");
	Check named = ForJob(kJobId, CheckFinishError(kJobId, Status::Complete, true));
	ASSERT_TRUE(named.has_value());
	EXPECT_EQ(named->message.find("job "), 0u);
	EXPECT_EQ(named->message.find("job ", 1), std::string::npos);
	EXPECT_FALSE(ForJob(kJobId, std::nullopt).has_value());
}

TEST(LeaseLength, PositiveIsFine) {
	EXPECT_FALSE(CheckLeaseLength("lease", false, true).has_value());
}

TEST(FinishError, OnlyAFailedJobRecordsAnError) {
	EXPECT_FALSE(CheckFinishError(kJobId, Status::Failed, true).has_value());
	EXPECT_FALSE(CheckFinishError(kJobId, Status::Failed, false).has_value());
	EXPECT_FALSE(CheckFinishError(kJobId, Status::Complete, false).has_value());
	Check check = CheckFinishError(kJobId, Status::Complete, true);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadParam);
	EXPECT_NE(check->message.find(kJobHex), std::string::npos);
}

// ---------------------------------------------------------------------------
// The crash-loop guard: with max_attempts = N, losses 1 .. N-1 requeue and
// loss N fails the job.

TEST(LeaseLoss, RequeuedUntilTheLastAttempt) {
	for (std::int64_t lost_before = 0; lost_before < 4; lost_before++) {
		LeaseLoss loss = DecideLeaseLoss(lost_before, 5);
		EXPECT_EQ(loss.next, Status::Queued) << lost_before;
		EXPECT_STREQ(loss.error, "");
	}
}

TEST(LeaseLoss, FailsAtMaxAttempts) {
	LeaseLoss loss = DecideLeaseLoss(4, 5);
	EXPECT_EQ(loss.next, Status::Failed);
	EXPECT_STREQ(loss.error, "lease lost 5 times (compute.max_attempts = 5): the job may be crashing its workers");
}

TEST(LeaseLoss, FailsPastMaxAttemptsToo) {
	// The setting was lowered while the job had lost more leases already.
	LeaseLoss loss = DecideLeaseLoss(9, 3);
	EXPECT_EQ(loss.next, Status::Failed);
	EXPECT_NE(std::strstr(loss.error, "lease lost 10 times"), nullptr);
}

TEST(LeaseLoss, MaxAttemptsOfOneFailsAtTheFirstLoss) {
	EXPECT_EQ(DecideLeaseLoss(0, 1).next, Status::Failed);
}

TEST(LeaseLoss, HugeCountsFitTheBuffer) {
	LeaseLoss loss = DecideLeaseLoss(INT64_MAX - 1, INT64_MAX);
	EXPECT_EQ(DecideLeaseLoss(INT64_MAX, 5).next, Status::Failed); // no overflow
	EXPECT_EQ(loss.next, Status::Failed);
	EXPECT_LT(std::strlen(loss.error), sizeof(loss.error));
}

// ---------------------------------------------------------------------------
// A new submission (a new job, or a finished one sent again) starts a new
// budget; a re-route or a requeue does not.

TEST(Submission, WhichQueuedTransitionsAreNewSubmissions) {
	EXPECT_TRUE(StartsSubmission(std::nullopt, Status::Queued));
	EXPECT_TRUE(StartsSubmission(Status::Complete, Status::Queued));
	EXPECT_TRUE(StartsSubmission(Status::Failed, Status::Queued));
	EXPECT_TRUE(StartsSubmission(Status::Expired, Status::Queued));
	EXPECT_FALSE(StartsSubmission(Status::Queued, Status::Queued));
	EXPECT_FALSE(StartsSubmission(Status::InProgress, Status::Queued));
	for (Status to : kAllStatuses) {
		if (to != Status::Queued) {
			EXPECT_FALSE(StartsSubmission(Status::Queued, to)) << StatusName(to);
		}
	}
}

// ---------------------------------------------------------------------------
// The lease effects of entering each status.

TEST(LeaseEffects, OnlyEnteringInProgressStartsALease) {
	for (Status to : kAllStatuses) {
		EXPECT_EQ(EffectsOf(to).start_lease, to == Status::InProgress) << StatusName(to);
	}
}

TEST(LeaseEffects, QueuedAndCompleteClearTheErrorFailedAndExpiredKeepIt) {
	EXPECT_TRUE(EffectsOf(Status::Queued).clear_error);
	EXPECT_TRUE(EffectsOf(Status::Complete).clear_error);
	EXPECT_FALSE(EffectsOf(Status::Failed).clear_error);
	EXPECT_FALSE(EffectsOf(Status::Expired).clear_error);
	EXPECT_FALSE(EffectsOf(Status::InProgress).clear_error);
}

} // namespace
} // namespace compute

namespace compute {
namespace {

TEST(LostLeases, NegativeIsRefused) {
	const std::string id(16, '\x03');
	EXPECT_FALSE(CheckLostLeases(id, 0).has_value());
	EXPECT_FALSE(CheckLostLeases(id, 7).has_value());
	Check check = CheckLostLeases(id, -1);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadParam);
}

} // namespace
} // namespace compute
