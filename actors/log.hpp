#pragma once
// Structured logs: one JSON object per line on stderr, behind a level (`[log] level`). Every line
// has "ts" (UTC, milliseconds), "level" and "msg"; the correlation fields follow when known:
// source, event_id, seq (journal), channel, push_id, idempotency_key, request_id (the
// channel's), so `grep` on any one of them finds the others (issue 7: the trace chain).
//
// No secrets: callers pass ids and outcomes, never credentials; and as a second line of defence
// a field whose name says it holds one (token, secret, credential, authorization, password,
// api_key) is written as "[redacted]" whatever its value.
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace stockd::actors {

enum class log_level : std::uint8_t { debug, info, warn, error, off };

std::string_view to_string(log_level level) noexcept;
/// "debug", "info", "warn", "error", "off"; nullopt otherwise.
std::optional<log_level> parse_log_level(std::string_view text) noexcept;

/// One field of a log line. String values are copied into the line at once (views are fine).
struct log_field {
  std::string_view key;
  std::variant<std::string_view, std::int64_t, std::uint64_t> value;
  log_field(std::string_view k, std::string_view v) : key(k), value(v) {}
  log_field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  log_field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  log_field(std::string_view k, std::int64_t v) : key(k), value(v) {}
  log_field(std::string_view k, std::uint64_t v) : key(k), value(v) {}
  log_field(std::string_view k, int v) : key(k), value(static_cast<std::int64_t>(v)) {}
  log_field(std::string_view k, unsigned v) : key(k), value(static_cast<std::uint64_t>(v)) {}
};

/// Process-wide, set once at start-up (default info). Thread-safe.
void set_log_level(log_level level) noexcept;
log_level current_log_level() noexcept;
inline bool log_enabled(log_level level) noexcept {
  return level >= current_log_level() && level != log_level::off;
}

/// Where lines go: stderr by default; tests capture them. Each call gets one whole line without
/// its newline. Not for use while lines are being written (set it before, reset it after).
void set_log_sink(std::function<void(std::string_view line)> sink);

/// The line as it would be written (tests, and log_json itself). `ts_ms`: Unix milliseconds.
std::string format_log_line(std::int64_t ts_ms, log_level level, std::string_view msg,
                            std::initializer_list<log_field> fields);

/// Writes one line if `level` is enabled. Lines are at most log_line_bytes_max (string values
/// are cut, with "…" marking the cut), so one bad value cannot flood the log.
void log_json(log_level level, std::string_view msg, std::initializer_list<log_field> fields);

inline constexpr std::size_t log_value_bytes_max = 512;

/// Whether a field of this name is written as "[redacted]".
bool is_secret_field(std::string_view key) noexcept;

} // namespace stockd::actors
