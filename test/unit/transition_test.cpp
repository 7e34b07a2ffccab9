// Unit tests of src/core/transition: the state machine of SPEC section 3.
#include <gtest/gtest.h>

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.hpp"
#include "support.hpp"
#include "core/status.hpp"
#include "core/transition.hpp"

namespace compute {

namespace {

std::string
Quoted(std::string_view text) {
	return "\"" + std::string(text) + "\"";
}

// ---------------------------------------------------------------------------
// The transition table of SPEC section 3, written out cell by cell: a row per
// target status, a column per current status ((new) is a job that does not
// exist yet). It is deliberately not computed from the code under test.

const std::optional<Status> kFrom[6] = {std::nullopt,     Status::Queued, Status::InProgress,
                                        Status::Complete, Status::Failed, Status::Expired};
const Status kTo[5] = {Status::Queued, Status::InProgress, Status::Complete, Status::Failed, Status::Expired};

constexpr bool Y = true;
constexpr bool N = false;

// clang-format off
const bool kAllowed[5][6] = {
	//                   (new) queued in-progress complete failed expired
	/* queued      */ {  Y,    Y,     Y,          Y,       Y,     Y },
	/* in-progress */ {  N,    Y,     N,          N,       N,     N },
	/* complete    */ {  N,    N,     Y,          N,       N,     N },
	/* failed      */ {  N,    N,     Y,          N,       N,     N },
	/* expired     */ {  N,    Y,     Y,          Y,       Y,     N }, // failed -> expired: 1.2.0
};
// clang-format on

std::string
FromName(const std::optional<Status> &from) {
	return from ? std::string(StatusName(*from)) : "new";
}

// One cell of the table: a row (index into kTo) and a column (into kFrom).
struct Cell {
	int row;
	int column;
};

[[maybe_unused]] void
PrintTo(const Cell &cell, std::ostream *os) {
	*os << FromName(kFrom[cell.column]) << " -> " << StatusName(kTo[cell.row]);
}

std::vector<Cell>
AllCells() {
	std::vector<Cell> cells;
	for (int row = 0; row < 5; row++) {
		for (int column = 0; column < 6; column++) {
			cells.push_back(Cell {row, column});
		}
	}
	return cells;
}

class TransitionCell : public ::testing::TestWithParam<Cell> {
protected:
	Status to() const {
		return kTo[GetParam().row];
	}
	std::optional<Status> from() const {
		return kFrom[GetParam().column];
	}
	bool expected() const {
		return kAllowed[GetParam().row][GetParam().column];
	}
};

TEST_P(TransitionCell, TransitionAllowedMatchesTheTable) {
	EXPECT_EQ(TransitionAllowed(from(), to()), expected())
		<< FromName(from()) << " -> " << StatusName(to());
}

TEST_P(TransitionCell, CheckTransitionMatchesTheTable) {
	Check check = CheckTransition(kJobId, from(), to());
	if (expected()) {
		EXPECT_FALSE(check.has_value()) << FromName(from()) << " -> " << StatusName(to()) << ": " << check->message;
		return;
	}
	ASSERT_TRUE(check.has_value()) << FromName(from()) << " -> " << StatusName(to()) << " was allowed";
	const Error &error = *check;
	EXPECT_EQ(error.code, Code::BadTransition);
	ExpectWellFormed(error);
	EXPECT_FALSE(error.detail.empty());
	EXPECT_NE(error.message.find(kJobHex), std::string::npos) << error.message;
	EXPECT_NE(error.message.find(Quoted(StatusName(to()))), std::string::npos) << error.message;
	if (from()) {
		EXPECT_EQ(error.message, "job " + kJobHex + " cannot go from " + Quoted(StatusName(*from())) + " to " +
		                             Quoted(StatusName(to())));
	}
}

std::string
CellName(const ::testing::TestParamInfo<Cell> &info) {
	std::string name = FromName(kFrom[info.param.column]) + "_to_" + std::string(StatusName(kTo[info.param.row]));
	for (char &c : name) {
		if (c == '-') {
			c = '_';
		}
	}
	return name;
}

INSTANTIATE_TEST_SUITE_P(Spec, TransitionCell, ::testing::ValuesIn(AllCells()), CellName);

// The same table, counted: 30 cells, 12 of them allowed.
TEST(Transition, TableHasThirteenAllowedCells) {
	int allowed = 0;
	int cells = 0;
	for (const auto &from : kFrom) {
		for (Status to : kTo) {
			cells++;
			allowed += TransitionAllowed(from, to) ? 1 : 0;
		}
	}
	EXPECT_EQ(cells, 30);
	EXPECT_EQ(allowed, 13);
}

// The cases SPEC section 3 spells out in words.
TEST(Transition, SameValueUpdates) {
	EXPECT_TRUE(TransitionAllowed(Status::Queued, Status::Queued)); // re-route
	EXPECT_FALSE(TransitionAllowed(Status::Complete, Status::Complete)); // a second finish
	EXPECT_FALSE(TransitionAllowed(Status::InProgress, Status::InProgress));
	EXPECT_FALSE(TransitionAllowed(Status::Failed, Status::Failed));
	EXPECT_FALSE(TransitionAllowed(Status::Expired, Status::Expired));
}

TEST(Transition, NewJobIsCreatedOnlyAsQueued) {
	EXPECT_TRUE(TransitionAllowed(std::nullopt, Status::Queued));
	for (Status to : {Status::InProgress, Status::Complete, Status::Failed, Status::Expired}) {
		Check check = CheckTransition(kJobId, std::nullopt, to);
		ASSERT_TRUE(check.has_value()) << StatusName(to);
		EXPECT_EQ(check->code, Code::BadTransition);
		EXPECT_NE(check->message.find(kJobHex), std::string::npos) << check->message;
		EXPECT_NE(check->message.find(Quoted(StatusName(to))), std::string::npos) << check->message;
		EXPECT_FALSE(check->detail.empty());
		ExpectWellFormed(*check);
	}
}

TEST(Transition, RefusedMessageExample) {
	Check check = CheckTransition(kJobId, Status::Complete, Status::InProgress);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadTransition);
	EXPECT_EQ(check->message, "job 000102030405060708090a0b0c0d0e0f cannot go from \"complete\" to \"in-progress\"");
	EXPECT_EQ(check->detail, "Only a queued job can be grabbed.");
}

TEST(Transition, RefusedDetailsExplainTheRule) {
	auto detail = [](std::optional<Status> from, Status to) {
		Check check = CheckTransition(kJobId, from, to);
		return check ? check->detail : std::string("(allowed)");
	};
	EXPECT_EQ(detail(Status::Failed, Status::InProgress), "Only a queued job can be grabbed.");
	EXPECT_EQ(detail(Status::Queued, Status::Complete), "Only an in-progress job can finish.");
	EXPECT_EQ(detail(Status::Complete, Status::Failed), "Only an in-progress job can finish.");
	EXPECT_EQ(detail(Status::Expired, Status::Expired), "An expired job is expired already.");
	EXPECT_EQ(detail(Status::Failed, Status::Expired), "(allowed)");
	EXPECT_EQ(detail(std::nullopt, Status::Complete), "A new job starts as queued.");
}

TEST(Transition, MessageUsesHexOfAnyJobId) {
	// High-bit bytes print as two lower-case digits each, never sign-extended.
	std::string id(16, '\xff');
	id[0] = '\x80';
	id[15] = '\x7f';
	Check check = CheckTransition(id, Status::Expired, Status::Complete);
	ASSERT_TRUE(check.has_value());
	EXPECT_NE(check->message.find("80ffffffffffffffffffffffffffff7f"), std::string::npos) << check->message;
}

// ---------------------------------------------------------------------------
// What entering each status does to grabbed, finished and output_files.

TEST(Effects, QueuedClearsTheRun) {
	Effects e = EffectsOf(Status::Queued);
	EXPECT_TRUE(e.clear_run);
	EXPECT_FALSE(e.set_grabbed);
	EXPECT_FALSE(e.set_finished);
}

TEST(Effects, InProgressSetsGrabbed) {
	Effects e = EffectsOf(Status::InProgress);
	EXPECT_FALSE(e.clear_run);
	EXPECT_TRUE(e.set_grabbed);
	EXPECT_FALSE(e.set_finished);
}

TEST(Effects, CompleteSetsFinished) {
	Effects e = EffectsOf(Status::Complete);
	EXPECT_FALSE(e.clear_run);
	EXPECT_FALSE(e.set_grabbed);
	EXPECT_TRUE(e.set_finished);
}

TEST(Effects, FailedSetsFinished) {
	Effects e = EffectsOf(Status::Failed);
	EXPECT_FALSE(e.clear_run);
	EXPECT_FALSE(e.set_grabbed);
	EXPECT_TRUE(e.set_finished);
}

TEST(Effects, ExpiredChangesNothing) {
	Effects e = EffectsOf(Status::Expired);
	EXPECT_FALSE(e.clear_run);
	EXPECT_FALSE(e.set_grabbed);
	EXPECT_FALSE(e.set_finished);
}

// ---------------------------------------------------------------------------
// job_id and created never change.

TEST(Immutable, UnchangedIsFine) {
	EXPECT_FALSE(CheckImmutable(kJobId, false, false).has_value());
}

TEST(Immutable, ChangedJobIdIsRefused) {
	Check check = CheckImmutable(kJobId, true, false);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadTransition);
	EXPECT_NE(check->message.find(kJobHex), std::string::npos) << check->message;
	EXPECT_NE(check->message.find("job_id"), std::string::npos) << check->message;
	EXPECT_FALSE(check->detail.empty());
	ExpectWellFormed(*check);
}

TEST(Immutable, ChangedCreatedIsRefused) {
	Check check = CheckImmutable(kJobId, false, true);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadTransition);
	EXPECT_NE(check->message.find(kJobHex), std::string::npos) << check->message;
	EXPECT_NE(check->message.find("created"), std::string::npos) << check->message;
	EXPECT_FALSE(check->detail.empty());
	ExpectWellFormed(*check);
}

TEST(Immutable, BothChangedIsRefused) {
	Check check = CheckImmutable(kJobId, true, true);
	ASSERT_TRUE(check.has_value());
	EXPECT_EQ(check->code, Code::BadTransition);
	EXPECT_NE(check->message.find(kJobHex), std::string::npos) << check->message;
	ExpectWellFormed(*check);
}

// ---------------------------------------------------------------------------
// A status value read from or written to compute.jobs.

TEST(StatusValue, EveryStatusIsAccepted) {
	const std::pair<std::string_view, Status> values[] = {
		{"queued", Status::Queued},     {"in-progress", Status::InProgress}, {"complete", Status::Complete},
		{"failed", Status::Failed},     {"expired", Status::Expired},
	};
	for (const auto &[text, status] : values) {
		// Start from a different value, so that a missing write shows.
		Status out = status == Status::Queued ? Status::Expired : Status::Queued;
		Check check = CheckStatusValue(kJobId, text, &out);
		EXPECT_FALSE(check.has_value()) << text << ": " << check->message;
		EXPECT_EQ(out, status) << text;
	}
}

TEST(StatusValue, UnknownValueIsRefused) {
	for (std::string_view text : {"done", "Queued", "in_progress", "", "complete "}) {
		Status out = Status::Failed;
		Check check = CheckStatusValue(kJobId, text, &out);
		ASSERT_TRUE(check.has_value()) << '"' << text << '"';
		EXPECT_EQ(check->code, Code::BadParam);
		EXPECT_NE(check->message.find(kJobHex), std::string::npos) << check->message;
		EXPECT_NE(check->message.find(Quoted(text)), std::string::npos) << check->message;
		EXPECT_FALSE(check->detail.empty());
		ExpectWellFormed(*check);
		EXPECT_EQ(out, Status::Failed) << "the out parameter was written on error";
	}
}

TEST(TriggerOrder, ATriggerAfterTheCheckIsRefusedByName) {
	Error error = TriggerAfterCheck("zz_rewrite", "jobs_guard");
	EXPECT_EQ(error.code, Code::BadTransition);
	EXPECT_NE(error.message.find("\"zz_rewrite\""), std::string::npos);
	EXPECT_NE(error.hint.find("\"jobs_guard\""), std::string::npos);
}

} // namespace
} // namespace compute

namespace compute {
namespace {

// ---------------------------------------------------------------------------
// A row is consistent with its status after any write.

TEST(Consistent, EachStatusWithItsRunFields) {
	const std::string id(16, '\x02');
	EXPECT_FALSE(CheckConsistent(id, Status::Queued, {false, false, false}).has_value());
	EXPECT_FALSE(CheckConsistent(id, Status::InProgress, {true, false, false}).has_value());
	EXPECT_FALSE(CheckConsistent(id, Status::Complete, {true, true, true}).has_value());
	EXPECT_FALSE(CheckConsistent(id, Status::Failed, {true, true, false}).has_value());
	for (bool g : {false, true}) {
		for (bool f : {false, true}) {
			for (bool o : {false, true}) {
				EXPECT_FALSE(CheckConsistent(id, Status::Expired, {g, f, o}).has_value());
			}
		}
	}
}

TEST(Consistent, BrokenRowsAreRefusedAsTransitions) {
	const std::string id(16, '\x02');
	const RunFields broken[][1] = {{{true, false, false}}, {{false, true, false}}, {{false, false, true}}};
	for (const auto &fields : broken) {
		Check check = CheckConsistent(id, Status::Queued, fields[0]);
		ASSERT_TRUE(check.has_value());
		EXPECT_EQ(check->code, Code::BadTransition);
		EXPECT_NE(check->message.find("02020202020202020202020202020202"), std::string::npos);
	}
	EXPECT_TRUE(CheckConsistent(id, Status::InProgress, {false, false, false}).has_value());
	EXPECT_TRUE(CheckConsistent(id, Status::InProgress, {true, true, false}).has_value());
	// 1.2.0: an in-progress job may hold output files (recorded before its finish).
	EXPECT_FALSE(CheckConsistent(id, Status::InProgress, {true, false, true}).has_value());
	EXPECT_TRUE(CheckConsistent(id, Status::Complete, {true, false, false}).has_value());
	EXPECT_TRUE(CheckConsistent(id, Status::Failed, {false, true, false}).has_value());
}

} // namespace
} // namespace compute
