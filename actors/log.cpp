#include "actors/log.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "connectors/json_writer.hpp"

namespace stockd::actors {
namespace {

std::atomic<log_level> level_{log_level::info};
std::mutex sink_mutex_;
std::function<void(std::string_view)> sink_;  // empty: stderr

std::string utc_ms(std::int64_t ts_ms) {
  const std::time_t seconds = static_cast<std::time_t>(ts_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::array<char, 40> buf{};
  const auto n = std::snprintf(buf.data(), buf.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                               tm.tm_sec, static_cast<int>(ts_ms % 1000));
  return std::string(buf.data(), static_cast<std::size_t>(n > 0 ? n : 0));
}

std::string_view cut(std::string_view s) {
  return s.size() <= log_value_bytes_max ? s : s.substr(0, log_value_bytes_max);
}

} // namespace

std::string_view to_string(log_level level) noexcept {
  switch (level) {
  case log_level::debug: return "debug";
  case log_level::info: return "info";
  case log_level::warn: return "warn";
  case log_level::error: return "error";
  case log_level::off: return "off";
  }
  return "info";
}

std::optional<log_level> parse_log_level(std::string_view text) noexcept {
  for (auto l : {log_level::debug, log_level::info, log_level::warn, log_level::error,
                 log_level::off}) {
    if (text == to_string(l)) {
      return l;
    }
  }
  return std::nullopt;
}

void set_log_level(log_level level) noexcept { level_.store(level, std::memory_order_relaxed); }
log_level current_log_level() noexcept { return level_.load(std::memory_order_relaxed); }

void set_log_sink(std::function<void(std::string_view line)> sink) {
  std::lock_guard lock(sink_mutex_);
  sink_ = std::move(sink);
}

bool is_secret_field(std::string_view key) noexcept {
  for (std::string_view word :
       {"token", "secret", "credential", "authorization", "password", "api_key"}) {
    if (key.find(word) != std::string_view::npos) {
      return true;
    }
  }
  return false;
}

std::string format_log_line(std::int64_t ts_ms, log_level level, std::string_view msg,
                            std::initializer_list<log_field> fields) {
  connectors::json_writer w;
  w.begin_object()
      .field("ts", utc_ms(ts_ms))
      .field("level", to_string(level))
      .field("msg", cut(msg));
  for (const auto& f : fields) {
    w.key(f.key);
    if (is_secret_field(f.key)) {
      w.value("[redacted]");
    } else if (const auto* s = std::get_if<std::string_view>(&f.value)) {
      if (s->size() > log_value_bytes_max) {
        w.value(std::string(cut(*s)) + "\xe2\x80\xa6");
      } else {
        w.value(*s);
      }
    } else if (const auto* i = std::get_if<std::int64_t>(&f.value)) {
      w.value(*i);
    } else {
      w.value(std::get<std::uint64_t>(f.value));
    }
  }
  w.end_object();
  return w.take();
}

void log_json(log_level level, std::string_view msg, std::initializer_list<log_field> fields) {
  if (!log_enabled(level)) {
    return;
  }
  const auto ts = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  std::string line = format_log_line(ts, level, msg, fields);
  std::lock_guard lock(sink_mutex_);
  if (sink_) {
    sink_(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

} // namespace stockd::actors
