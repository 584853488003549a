#pragma once
// `stockctl trace SOURCE:ID`: GET /v1/trace/{source}/{id}, printed as a readable timeline (or
// as it came with --json).
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace stockctl {

/// "SOURCE:ID" split at the first ':' (ids may contain ':'); nullopt when either part is empty.
std::optional<std::pair<std::string, std::string>> split_event_ref(std::string_view ref);

/// The timeline for a trace answer; an error message when the body is not one.
std::string format_trace(std::string_view json_body);

} // namespace stockctl
