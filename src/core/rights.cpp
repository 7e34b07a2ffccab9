#include "core/core_only.hpp"
#include "core/rights.hpp"

#include <string>

namespace compute {

std::string_view
RightName(Right right) {
	switch (right) {
	case Right::Submit:
		return "submit";
	case Right::Work:
		return "work";
	case Right::Admin:
		return "admin";
	}
	return "";
}

std::optional<Right>
ParseRight(std::string_view text) {
	for (Right right : {Right::Submit, Right::Work, Right::Admin}) {
		if (text == RightName(right)) {
			return right;
		}
	}
	return std::nullopt;
}

Check
CheckQueueRight(std::string_view job_id, std::string_view queue, std::string_view role, Right right,
                RightLookup lookup) {
	if (!lookup.restricted || lookup.allowed) {
		return std::nullopt;
	}
	std::string message = job_id.empty() ? std::string() : "job " + Hex(job_id) + ": ";
	message += "role \"" + std::string(role) + "\" may not " + std::string(RightName(right)) + " queue \"" +
	           std::string(queue) + "\"";
	return Error {Code::NoPrivilege, std::move(message),
	              "Its queue grants of \"" + std::string(RightName(right)) + "\" match other queues only.",
	              "The owner grants queues with compute.grant_queue(role, queue_pattern, right)."};
}

Check
CheckAllQueues(std::string_view function, std::string_view role, Right right, bool restricted) {
	if (!restricted) {
		return std::nullopt;
	}
	return Error {Code::NoPrivilege,
	              "role \"" + std::string(role) + "\" may not call " + std::string(function) +
	                  ": it acts on every queue",
	              "The role holds queue grants of \"" + std::string(RightName(right)) + "\", so it may " +
	                  std::string(RightName(right)) + " only the queues they match."};
}

Check
CheckRightName(std::optional<std::string_view> text, Right *out) {
	if (!text) {
		return Error {Code::NullValue, "right must not be NULL", ""};
	}
	if (auto right = ParseRight(*text)) {
		*out = *right;
		return std::nullopt;
	}
	return Error {Code::BadParam, "unknown right \"" + std::string(*text) + "\"",
	              "A queue grant gives one of submit, work, admin."};
}

} // namespace compute
