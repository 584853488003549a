#pragma once
// Time in the engine is a value passed in, never read from a clock (engine/ stays pure).
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stockd::engine {

using timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

/// Parses RFC 3339 ("2026-11-27T10:15:00Z", "2026-11-27T10:15:00.250+01:00").
/// Returns nullopt for anything else; never throws.
std::optional<timestamp> parse_rfc3339(std::string_view text);

/// Formats as "2026-11-27T10:15:00.250Z" (UTC, milliseconds).
std::string format_rfc3339(timestamp t);

} // namespace stockd::engine
