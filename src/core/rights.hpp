// Queue rights (extension 1.2.0), in plain C++.
//
// The owner may grant a role the right to submit to, work on, or administer
// only some queues (compute.queue_grants: role, queue pattern, right). A
// role that holds, itself or through a role it is a member of, any queue
// grant of a right may use that right only on queues that match one of its
// patterns; a role that holds none keeps the unrestricted rights that its
// EXECUTE grants give (the behaviour before 1.2.0). Calls that act on every
// queue at once (expire, requeue_stale) are refused to a role restricted in
// the right they need.
#pragma once

#include <optional>
#include <string_view>

#include "core/errors.hpp"

namespace compute {

enum class Right { Submit, Work, Admin };

// "submit", "work", "admin".
std::string_view
RightName(Right right);

std::optional<Right>
ParseRight(std::string_view text);

// What the queue grants say of a role, a right and a queue.
struct RightLookup {
	bool restricted; // the role holds a queue grant of this right
	bool allowed;    // one of its patterns matches the queue
};

// Checks one use of `right` on `queue` by `role` (for job `job_id` when not
// empty).
Check
CheckQueueRight(std::string_view job_id, std::string_view queue, std::string_view role, Right right,
                RightLookup lookup);

// Checks a call that acts on every queue (`function`) by `role`.
Check
CheckAllQueues(std::string_view function, std::string_view role, Right right, bool restricted);

// A right named by a caller of grant_queue: one of the three.
Check
CheckRightName(std::optional<std::string_view> text, Right *out);

} // namespace compute
