// Unit tests of src/core/validate and src/core/errors: argument checks, Hex,
// UnknownJob.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "core/errors.hpp"
#include "support.hpp"
#include "core/status.hpp"
#include "core/validate.hpp"

namespace compute {

namespace {

// n bytes 00 01 02 ..., and their hex.
std::string
Bytes(std::size_t n) {
	std::string out;
	for (std::size_t i = 0; i < n; i++) {
		out.push_back(static_cast<char>(i & 0xff));
	}
	return out;
}

std::string
HexOf(std::size_t n) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	for (std::size_t i = 0; i < n; i++) {
		out.push_back(digits[(i & 0xff) >> 4]);
		out.push_back(digits[i & 0xf]);
	}
	return out;
}

bool
Contains(const std::string &haystack, std::string_view needle) {
	return haystack.find(needle) != std::string::npos;
}

// ---------------------------------------------------------------------------
// CheckNotNull

TEST(NotNull, NullIsRefusedByName) {
	Check check = CheckNotNull("output_files", true);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::NullValue);
	EXPECT_TRUE(Contains(check->message, "output_files")) << check->message;
	ExpectWellFormed(*check);
}

TEST(NotNull, ValueIsFine) {
	EXPECT_FALSE(CheckNotNull("output_files", false).has_value());
}

// ---------------------------------------------------------------------------
// CheckJobId

TEST(JobId, NullIsNullValue) {
	Check check = CheckJobId(std::nullopt);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::NullValue);
	EXPECT_TRUE(Contains(check->message, "job_id")) << check->message;
	ExpectWellFormed(*check);
}

TEST(JobId, SixteenBytesAreFine) {
	EXPECT_FALSE(CheckJobId(std::string_view(kJobId)).has_value());
	std::string high(16, '\xff');
	EXPECT_FALSE(CheckJobId(std::string_view(high)).has_value());
}

TEST(JobId, WrongLengthsAreBadParam) {
	for (std::size_t n : {0u, 1u, 15u, 17u, 32u, 100u}) {
		SCOPED_TRACE(std::to_string(n) + " bytes");
		std::string id = Bytes(n);
		Check check = CheckJobId(std::string_view(id));
		ASSERT_TRUE(check.has_value());
		EXPECT_EQ(check->code, Code::BadParam);
		EXPECT_TRUE(Contains(check->message, std::to_string(n) + " bytes")) << check->message;
		// The id in hex (at most its first 32 bytes).
		EXPECT_TRUE(Contains(check->message, HexOf(n < 32 ? n : 32))) << check->message;
		EXPECT_FALSE(check->detail.empty());
		ExpectWellFormed(*check);
	}
}

TEST(JobId, MessageShowsTheBytes) {
	std::string id = Bytes(15);
	Check check = CheckJobId(std::string_view(id));
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->message, "invalid job_id \"\\x000102030405060708090a0b0c0d0e\": it has 15 bytes, not 16");
}

TEST(JobId, LongIdIsTruncatedInTheMessage) {
	std::string id = Bytes(100);
	Check check = CheckJobId(std::string_view(id));
	ASSERT_TRUE(check.has_value());
	EXPECT_TRUE(Contains(check->message, HexOf(32) + "...")) << check->message;
	EXPECT_FALSE(Contains(check->message, HexOf(33))) << check->message;
	EXPECT_TRUE(Contains(check->message, "100 bytes")) << check->message;
}

// ---------------------------------------------------------------------------
// CheckQueue

TEST(Queue, NullIsNullValue) {
	Check check = CheckQueue(std::nullopt, 0);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::NullValue);
	EXPECT_TRUE(Contains(check->message, "queue")) << check->message;
	ExpectWellFormed(*check);
}

TEST(Queue, EmptyIsBadParam) {
	Check check = CheckQueue(std::string_view(""), 0);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadParam);
	EXPECT_TRUE(Contains(check->message, "queue")) << check->message;
	ExpectWellFormed(*check);
}

TEST(Queue, UpToThirtyTwoCharactersAreFine) {
	for (std::size_t n : {1u, 2u, 31u, 32u}) {
		std::string queue(n, 'q');
		EXPECT_FALSE(CheckQueue(std::string_view(queue), n).has_value()) << n << " characters";
	}
}

TEST(Queue, ThirtyThreeCharactersAreTooLong) {
	std::string queue(33, 'q');
	Check check = CheckQueue(std::string_view(queue), 33);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::TooLong);
	EXPECT_TRUE(Contains(check->message, queue)) << check->message;
	EXPECT_TRUE(Contains(check->detail, "32")) << check->detail;
	EXPECT_TRUE(Contains(check->detail, "33")) << check->detail;
	ExpectWellFormed(*check);
}

TEST(Queue, MuchTooLongIsTooLong) {
	std::string queue(1000, 'q');
	Check check = CheckQueue(std::string_view(queue), 1000);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::TooLong);
}

TEST(Queue, LimitCountsCharactersNotBytes) {
	// "é" is two bytes in UTF-8: 32 of them are 64 bytes but 32 characters.
	std::string queue;
	for (int i = 0; i < 32; i++) {
		queue += "\xc3\xa9";
	}
	ASSERT_EQ(queue.size(), 64u);
	EXPECT_FALSE(CheckQueue(std::string_view(queue), 32).has_value());

	queue += "\xc3\xa9";
	Check check = CheckQueue(std::string_view(queue), 33);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::TooLong);
	EXPECT_TRUE(Contains(check->detail, "33")) << check->detail;
}

// ---------------------------------------------------------------------------
// CheckFileArrayShape and CheckFileName

TEST(FileArray, EmptyAndOneDimensionalAreFine) {
	EXPECT_FALSE(CheckFileArrayShape("input_files", 0).has_value());
	EXPECT_FALSE(CheckFileArrayShape("input_files", 1).has_value());
}

TEST(FileArray, MoreDimensionsAreBadParam) {
	for (int ndim : {2, 3, 6}) {
		Check check = CheckFileArrayShape("output_files", ndim);
		ASSERT_TRUE(check.has_value()) << ndim;
		EXPECT_EQ(check->code, Code::BadParam);
		EXPECT_TRUE(Contains(check->message, "output_files")) << check->message;
		EXPECT_TRUE(Contains(check->detail, std::to_string(ndim))) << check->detail;
		ExpectWellFormed(*check);
	}
}

TEST(FileName, NameIsFine) {
	EXPECT_FALSE(CheckFileName("input_files", 1, std::string_view("a.txt")).has_value());
	EXPECT_FALSE(CheckFileName("input_files", 1, std::string_view(" ")).has_value());
}

TEST(FileName, NullElementIsNullValue) {
	Check check = CheckFileName("input_files", 3, std::nullopt);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::NullValue);
	EXPECT_TRUE(Contains(check->message, "input_files")) << check->message;
	EXPECT_TRUE(Contains(check->detail, "3")) << check->detail;
	ExpectWellFormed(*check);
}

TEST(FileName, EmptyElementIsBadParam) {
	Check check = CheckFileName("output_files", 7, std::string_view(""));
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadParam);
	EXPECT_TRUE(Contains(check->message, "output_files")) << check->message;
	EXPECT_TRUE(Contains(check->detail, "7")) << check->detail;
	ExpectWellFormed(*check);
}

TEST(FileName, DetailNamesTheIndex) {
	Check check = CheckFileName("input_files", 12345, std::nullopt);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->detail, "Element 12345 is NULL.");
	check = CheckFileName("input_files", 42, std::string_view(""));
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->detail, "Element 42 is empty.");
}

// ---------------------------------------------------------------------------
// CheckMaxJobs

TEST(MaxJobs, NullIsNullValue) {
	Check check = CheckMaxJobs(std::nullopt);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::NullValue);
	EXPECT_TRUE(Contains(check->message, "max_jobs")) << check->message;
	ExpectWellFormed(*check);
}

TEST(MaxJobs, LessThanOneIsBadParam) {
	for (std::int64_t n : {std::int64_t {0}, std::int64_t {-1}, std::int64_t {-1000},
	                       std::numeric_limits<std::int64_t>::min()}) {
		Check check = CheckMaxJobs(n);
		ASSERT_TRUE(check.has_value()) << n;
		EXPECT_EQ(check->code, Code::BadParam);
		EXPECT_TRUE(Contains(check->message, "max_jobs")) << check->message;
		EXPECT_TRUE(Contains(check->message, std::to_string(n))) << check->message;
		ExpectWellFormed(*check);
	}
}

TEST(MaxJobs, OneOrMoreIsFine) {
	for (std::int64_t n : {std::int64_t {1}, std::int64_t {2}, std::int64_t {1000000},
	                       std::int64_t {std::numeric_limits<std::int32_t>::max()},
	                       std::numeric_limits<std::int64_t>::max()}) {
		EXPECT_FALSE(CheckMaxJobs(n).has_value()) << n;
	}
}

// ---------------------------------------------------------------------------
// CheckInterval

TEST(Interval, NullIsNullValue) {
	for (bool negative : {false, true}) {
		Check check = CheckInterval("older_than", true, negative);
		ASSERT_TRUE(check.has_value());
		EXPECT_EQ(check->code, Code::NullValue);
		EXPECT_TRUE(Contains(check->message, "older_than")) << check->message;
		ExpectWellFormed(*check);
	}
}

TEST(Interval, NegativeIsBadParam) {
	Check check = CheckInterval("older_than", false, true);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadParam);
	EXPECT_TRUE(Contains(check->message, "older_than")) << check->message;
	ExpectWellFormed(*check);
}

TEST(Interval, ZeroOrPositiveIsFine) {
	EXPECT_FALSE(CheckInterval("older_than", false, false).has_value());
}

// ---------------------------------------------------------------------------
// CheckFinishStatus

TEST(FinishStatus, CompleteAndFailedAreFine) {
	Status out = Status::Queued;
	EXPECT_FALSE(CheckFinishStatus(kJobId, std::string_view("complete"), &out).has_value());
	EXPECT_EQ(out, Status::Complete);

	out = Status::Queued;
	EXPECT_FALSE(CheckFinishStatus(kJobId, std::string_view("failed"), &out).has_value());
	EXPECT_EQ(out, Status::Failed);
}

TEST(FinishStatus, OtherStatusesCannotFinish) {
	for (std::string_view text : {"queued", "in-progress", "expired"}) {
		SCOPED_TRACE(std::string(text));
		Status out = Status::Failed;
		Check check = CheckFinishStatus(kJobId, text, &out);
		ASSERT_TRUE(check.has_value());
		EXPECT_EQ(check->code, Code::BadParam);
		EXPECT_TRUE(Contains(check->message, "cannot finish")) << check->message;
		EXPECT_TRUE(Contains(check->message, kJobHex)) << check->message;
		EXPECT_TRUE(Contains(check->message, "\"" + std::string(text) + "\"")) << check->message;
		EXPECT_FALSE(check->detail.empty());
		ExpectWellFormed(*check);
		EXPECT_EQ(out, Status::Failed) << "the out parameter was written on error";
	}
}

TEST(FinishStatus, BogusStatusIsUnknown) {
	for (std::string_view text : {"done", "Complete", "", "complete ", "in_progress"}) {
		SCOPED_TRACE("\"" + std::string(text) + "\"");
		Status out = Status::Queued;
		Check check = CheckFinishStatus(kJobId, text, &out);
		ASSERT_TRUE(check.has_value());
		EXPECT_EQ(check->code, Code::BadParam);
		EXPECT_TRUE(Contains(check->message, "unknown status")) << check->message;
		EXPECT_TRUE(Contains(check->message, kJobHex)) << check->message;
		EXPECT_TRUE(Contains(check->message, "\"" + std::string(text) + "\"")) << check->message;
		ExpectWellFormed(*check);
		EXPECT_EQ(out, Status::Queued) << "the out parameter was written on error";
	}
}

TEST(FinishStatus, NullIsNullValue) {
	Status out = Status::Queued;
	Check check = CheckFinishStatus(kJobId, std::nullopt, &out);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::NullValue);
	EXPECT_TRUE(Contains(check->message, "status")) << check->message;
	ExpectWellFormed(*check);
	EXPECT_EQ(out, Status::Queued);
}

// ---------------------------------------------------------------------------
// Hex and UnknownJob (src/core/errors)

TEST(Hex, EmptyIsEmpty) {
	EXPECT_EQ(Hex(""), "");
	EXPECT_EQ(Hex(std::string_view()), "");
}

TEST(Hex, LowerCaseTwoDigitsPerByte) {
	EXPECT_EQ(Hex(std::string("\x00\x0f\x10\xab\xff\x80\x7f", 7)), "000f10abff807f");
	EXPECT_EQ(Hex(kJobId), kJobHex);
}

TEST(Hex, UpToThirtyTwoBytesAreShownWhole) {
	EXPECT_EQ(Hex(Bytes(31)), HexOf(31));
	EXPECT_EQ(Hex(Bytes(32)), HexOf(32));
}

TEST(Hex, LongInputIsTruncated) {
	EXPECT_EQ(Hex(Bytes(33)), HexOf(32) + "...");
	EXPECT_EQ(Hex(Bytes(1000)), HexOf(32) + "...");
}

TEST(Hex, MaxBytesIsHonoured) {
	EXPECT_EQ(Hex(kJobId, 4), "00010203...");
	EXPECT_EQ(Hex(kJobId, 16), kJobHex);
	EXPECT_EQ(Hex(kJobId, 100), kJobHex);
	EXPECT_EQ(Hex(kJobId, 0), "...");
	EXPECT_EQ(Hex("", 0), "");
}

TEST(UnknownJob, IsNoJobNamingTheJob) {
	Error error = UnknownJob(kJobId);
	EXPECT_EQ(error.code, Code::NoJob);
	EXPECT_EQ(error.message, "job " + kJobHex + " does not exist");
	ExpectWellFormed(error);
}

TEST(SubmitConflict, IsConflictNamingTheJob) {
	Error error = SubmitConflict(kJobId);
	EXPECT_EQ(error.code, Code::Conflict);
	EXPECT_EQ(error.message, "job " + kJobHex + ": could not submit it: it changed concurrently, retry");
	ExpectWellFormed(error);
}

} // namespace
} // namespace compute

namespace compute {
namespace {

TEST(Batch, ShapesAndLengths) {
	EXPECT_FALSE(CheckBatch(1, 10, std::nullopt, 0).has_value());
	EXPECT_FALSE(CheckBatch(0, 0, std::nullopt, 0).has_value());
	EXPECT_FALSE(CheckBatch(1, 3, 1, 3).has_value());
	Check mismatch = CheckBatch(1, 3, 1, 2);
	ASSERT_TRUE(mismatch.has_value());
	EXPECT_EQ(mismatch->code, Code::BadParam);
	EXPECT_EQ(mismatch->message, "attempts has 2 elements, job_ids 3");
	ASSERT_TRUE(CheckBatch(2, 4, std::nullopt, 0).has_value());
	ASSERT_TRUE(CheckBatch(1, 4, 2, 4).has_value());
}

} // namespace
} // namespace compute
