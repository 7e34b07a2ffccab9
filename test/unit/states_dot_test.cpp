// docs/states.dot, the picture of the state machine in the README, against
// the state machine itself: its edges between statuses must be exactly the
// transitions TransitionAllowed() allows, no more and no fewer. The file is
// read from the source tree (COMPUTE_SOURCE_DIR, set by CMakeLists.txt).
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "core/status.hpp"
#include "core/transition.hpp"

namespace compute {

namespace {

// The dot file's name of a status ("new" for a job that does not exist yet).
std::string
NodeName(std::optional<Status> status) {
	return status ? std::string(StatusName(*status)) : "new";
}

// Every `"a" -> "b"` edge of the file (comments skipped).
std::set<std::pair<std::string, std::string>>
EdgesOf(const std::string &path) {
	std::ifstream in(path);
	EXPECT_TRUE(in.good()) << "cannot read " << path;
	std::set<std::pair<std::string, std::string>> edges;
	const std::regex edge(R"re(^\s*"([^"]+)"\s*->\s*"([^"]+)")re");
	std::string line;
	while (std::getline(in, line)) {
		std::smatch m;
		if (std::regex_search(line, m, edge)) {
			EXPECT_TRUE(edges.emplace(m[1].str(), m[2].str()).second) << "edge drawn twice: " << line;
		}
	}
	return edges;
}

} // namespace

TEST(DocsStates, EdgesAreTheTransitionTable) {
	const auto drawn = EdgesOf(std::string(COMPUTE_SOURCE_DIR) + "/docs/states.dot");
	ASSERT_FALSE(drawn.empty());
	std::set<std::pair<std::string, std::string>> allowed;
	const std::optional<Status> from[] = {std::nullopt,     Status::Queued, Status::InProgress,
	                                      Status::Complete, Status::Failed, Status::Expired};
	for (const auto &f : from) {
		for (Status to : kAllStatuses) {
			if (TransitionAllowed(f, to)) {
				allowed.emplace(NodeName(f), NodeName(to));
			}
		}
	}
	for (const auto &e : allowed) {
		EXPECT_TRUE(drawn.count(e)) << "docs/states.dot lacks the transition " << e.first << " -> " << e.second;
	}
	for (const auto &e : drawn) {
		EXPECT_TRUE(allowed.count(e)) << "docs/states.dot draws " << e.first << " -> " << e.second
		                              << ", which the state machine refuses";
	}
}

} // namespace compute
