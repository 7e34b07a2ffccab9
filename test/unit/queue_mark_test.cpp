// Unit tests of src/core/queue_mark: positions, the mark's generation rule,
// invalidation, and the slot table.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "core/queue_mark.hpp"

namespace compute {
namespace {

Position
At(std::int64_t created, unsigned char id_byte) {
	Position position {};
	position.created = created;
	std::memset(position.job_id, id_byte, sizeof(position.job_id));
	return position;
}

QueueMark
Fresh() {
	QueueMark entry {};
	entry.used = true;
	return entry;
}

TEST(Position, OrderedByCreatedThenJobId) {
	EXPECT_LT(ComparePositions(At(1, 9), At(2, 0)), 0);
	EXPECT_GT(ComparePositions(At(3, 0), At(2, 9)), 0);
	EXPECT_LT(ComparePositions(At(5, 1), At(5, 2)), 0);
	EXPECT_EQ(ComparePositions(At(5, 7), At(5, 7)), 0);
	EXPECT_LT(ComparePositions(At(-5, 0), At(0, 0)), 0);
}

TEST(Mark, MissingOrInvalidMarkMeansAFullScan) {
	QueueMark entry = Fresh();
	EXPECT_FALSE(ReadMark(entry, 100).from_mark);
	entry.valid = true;
	entry.last_full_scan = 100;
	EXPECT_TRUE(ReadMark(entry, 100).from_mark);
	Invalidate(entry);
	EXPECT_FALSE(ReadMark(entry, 100).from_mark);
}

TEST(Mark, AFullScanSetsTheMarkAndLaterGrabsMoveItForward) {
	QueueMark entry = Fresh();
	MarkRead read = ReadMark(entry, 1000);
	AdvanceMark(entry, read, At(10, 1), 1000);
	ASSERT_TRUE(entry.valid);
	EXPECT_EQ(ComparePositions(entry.mark, At(10, 1)), 0);

	read = ReadMark(entry, 2000);
	ASSERT_TRUE(read.from_mark);
	EXPECT_EQ(ComparePositions(read.mark, At(10, 1)), 0);
	AdvanceMark(entry, read, At(12, 0), 2000);
	EXPECT_EQ(ComparePositions(entry.mark, At(12, 0)), 0);
	// A grab that read the same mark but took an earlier job does not move
	// the mark back.
	AdvanceMark(entry, read, At(11, 0), 2000);
	EXPECT_EQ(ComparePositions(entry.mark, At(12, 0)), 0);
}

TEST(Mark, AGrabThatReadTheMarkBeforeAnInvalidationDoesNotAdvanceIt) {
	QueueMark entry = Fresh();
	AdvanceMark(entry, ReadMark(entry, 0), At(10, 0), 0);
	MarkRead stale = ReadMark(entry, 1);
	InvalidateIfBehind(entry, At(5, 0)); // a job queued behind the mark committed
	AdvanceMark(entry, stale, At(20, 0), 2);
	EXPECT_FALSE(entry.valid);
	EXPECT_FALSE(ReadMark(entry, 3).from_mark);
}

TEST(Mark, QueuedRowsAheadOfTheMarkLeaveItValid) {
	QueueMark entry = Fresh();
	AdvanceMark(entry, ReadMark(entry, 0), At(10, 5), 0);
	std::uint64_t generation = entry.generation;
	InvalidateIfBehind(entry, At(10, 6));
	InvalidateIfBehind(entry, At(11, 0));
	EXPECT_TRUE(entry.valid);
	EXPECT_EQ(entry.generation, generation);
	InvalidateIfBehind(entry, At(10, 5)); // at the mark: it may have been passed
	EXPECT_FALSE(entry.valid);
	EXPECT_GT(entry.generation, generation);
}

TEST(Mark, AFullScanIsDueAfterTheRescanInterval) {
	QueueMark entry = Fresh();
	AdvanceMark(entry, ReadMark(entry, 0), At(1, 0), 0);
	EXPECT_TRUE(ReadMark(entry, kRescanMicros - 1).from_mark);
	MarkRead due = ReadMark(entry, kRescanMicros);
	EXPECT_FALSE(due.from_mark);
	AdvanceMark(entry, due, At(2, 0), kRescanMicros);
	EXPECT_TRUE(ReadMark(entry, kRescanMicros + 1).from_mark);
}

TEST(Slots, FindsClaimsAndKeepsQueuesApart) {
	std::vector<QueueMark> slots(4);
	EXPECT_EQ(FindMark(slots.data(), slots.size(), "a", false), nullptr);
	QueueMark *a = FindMark(slots.data(), slots.size(), "a", true);
	ASSERT_NE(a, nullptr);
	EXPECT_EQ(std::string(a->queue, a->queue_len), "a");
	EXPECT_EQ(FindMark(slots.data(), slots.size(), "a", false), a);
	QueueMark *b = FindMark(slots.data(), slots.size(), "b", true);
	ASSERT_NE(b, nullptr);
	EXPECT_NE(a, b);
}

TEST(Slots, ATakenOverSlotStartsInvalidWithANewGeneration) {
	std::vector<QueueMark> slots(1);
	QueueMark *a = FindMark(slots.data(), slots.size(), "a", true);
	AdvanceMark(*a, ReadMark(*a, 0), At(1, 0), 0);
	MarkRead read_of_a = ReadMark(*a, 1);
	QueueMark *b = FindMark(slots.data(), slots.size(), "b", true);
	ASSERT_EQ(a, b);
	EXPECT_EQ(std::string(b->queue, b->queue_len), "b");
	EXPECT_FALSE(b->valid);
	// A grab of queue a that read the slot before cannot write into b's mark.
	AdvanceMark(*b, read_of_a, At(99, 0), 2);
	EXPECT_FALSE(b->valid);
	EXPECT_EQ(FindMark(slots.data(), slots.size(), "a", false), nullptr);
}

TEST(Slots, AQueueNameTooLongToStoreHasNoMark) {
	std::vector<QueueMark> slots(4);
	EXPECT_EQ(FindMark(slots.data(), slots.size(), std::string(kMarkQueueBytes + 1, 'q'), true), nullptr);
	EXPECT_NE(FindMark(slots.data(), slots.size(), std::string(kMarkQueueBytes, 'q'), true), nullptr);
}

// Issue 14, item 2: a row committed (or unlocked) while a grab was in
// flight, at or before that grab's last job, may have been passed unseen:
// the grab must not move the mark past it.
TEST(Mark, APositionRecordedDuringAGrabAtOrBeforeItsLastJobStopsTheAdvance) {
	QueueMark entry = Fresh();
	AdvanceMark(entry, ReadMark(entry, 0), At(10, 0), 0);
	MarkRead in_flight = ReadMark(entry, 1);
	ASSERT_TRUE(in_flight.from_mark);
	InvalidateIfBehind(entry, At(15, 0)); // after the mark: the mark stays valid
	EXPECT_TRUE(entry.valid);
	AdvanceMark(entry, in_flight, At(20, 0), 2); // ... but the grab passed it
	EXPECT_FALSE(ReadMark(entry, 3).from_mark);
}

TEST(Mark, APositionRecordedAfterTheGrabsLastJobLetsItAdvance) {
	QueueMark entry = Fresh();
	AdvanceMark(entry, ReadMark(entry, 0), At(10, 0), 0);
	MarkRead in_flight = ReadMark(entry, 1);
	InvalidateIfBehind(entry, At(30, 0));
	AdvanceMark(entry, in_flight, At(20, 0), 2);
	MarkRead next = ReadMark(entry, 3);
	ASSERT_TRUE(next.from_mark);
	EXPECT_EQ(ComparePositions(next.mark, At(20, 0)), 0);
}

TEST(Mark, MoreRecordedPositionsThanKeptInvalidate) {
	QueueMark entry = Fresh();
	AdvanceMark(entry, ReadMark(entry, 0), At(10, 0), 0);
	MarkRead in_flight = ReadMark(entry, 1);
	for (std::size_t i = 0; i <= kRecentPositions; i++) {
		InvalidateIfBehind(entry, At(1000 + static_cast<std::int64_t>(i), 0));
	}
	AdvanceMark(entry, in_flight, At(20, 0), 2);
	EXPECT_FALSE(ReadMark(entry, 3).from_mark);
}

// Item 3: a full scan that moves the mark back makes in-flight grabs stale.
TEST(Mark, AFullScanMakesGrabsThatReadTheOldMarkStale) {
	QueueMark entry = Fresh();
	AdvanceMark(entry, ReadMark(entry, 0), At(50, 0), 0);
	MarkRead old_read = ReadMark(entry, 1);
	MarkRead full = ReadMark(entry, kRescanMicros + 1);
	ASSERT_FALSE(full.from_mark);
	AdvanceMark(entry, full, At(5, 0), kRescanMicros + 1); // found a job left behind
	AdvanceMark(entry, old_read, At(60, 0), kRescanMicros + 2);
	MarkRead next = ReadMark(entry, kRescanMicros + 3);
	ASSERT_TRUE(next.from_mark);
	EXPECT_EQ(ComparePositions(next.mark, At(5, 0)), 0);
}

// Item 1: marks belong to one database.
TEST(Slots, TheSameQueueNameInTwoDatabasesHasTwoMarks) {
	std::vector<QueueMark> slots(16);
	QueueMark *a = FindMark(slots.data(), slots.size(), "q", true, 1);
	QueueMark *b = FindMark(slots.data(), slots.size(), "q", true, 2);
	ASSERT_NE(a, nullptr);
	ASSERT_NE(b, nullptr);
	EXPECT_NE(a, b);
	EXPECT_EQ(FindMark(slots.data(), slots.size(), "q", false, 1), a);
	EXPECT_EQ(FindMark(slots.data(), slots.size(), "q", false, 3), nullptr);
}

} // namespace
} // namespace compute
