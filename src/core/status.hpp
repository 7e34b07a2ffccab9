// Job statuses: the five values of compute.jobs.status.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace compute {

enum class Status : std::uint8_t { Queued, InProgress, Complete, Failed, Expired };

constexpr int kStatusCount = 5;
constexpr Status kAllStatuses[kStatusCount] = {Status::Queued, Status::InProgress, Status::Complete,
                                               Status::Failed, Status::Expired};

// "queued", "in-progress", ... exactly as stored in compute.jobs.status.
std::string_view
StatusName(Status status);

// The status spelled exactly as stored, or nullopt for anything else.
std::optional<Status>
ParseStatus(std::string_view text);

} // namespace compute
