#include "core/core_only.hpp"
#include "core/status.hpp"

namespace compute {

std::string_view
StatusName(Status status) {
	switch (status) {
	case Status::Queued:
		return "queued";
	case Status::InProgress:
		return "in-progress";
	case Status::Complete:
		return "complete";
	case Status::Failed:
		return "failed";
	case Status::Expired:
		return "expired";
	}
	return "?";
}

std::optional<Status>
ParseStatus(std::string_view text) {
	for (Status s : kAllStatuses) {
		if (StatusName(s) == text) {
			return s;
		}
	}
	return std::nullopt;
}

} // namespace compute
