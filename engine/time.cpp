#include "engine/time.hpp"

#include <cstddef>

namespace stockd::engine {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// A cursor over the text; every read checks the length first, so no input can read past it.
class scanner {
public:
  explicit scanner(std::string_view text) : text_(text) {}

  bool digits(std::size_t count, int& value) {
    if (text_.size() - pos_ < count) {
      return false;
    }
    int v = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') {
        return false;
      }
      v = v * 10 + (c - '0');
    }
    pos_ += count;
    value = v;
    return true;
  }
  bool literal(char expected) {
    if (pos_ < text_.size() && text_[pos_] == expected) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool one_of(std::string_view set, char& found) {
    if (pos_ < text_.size() && set.find(text_[pos_]) != std::string_view::npos) {
      found = text_[pos_++];
      return true;
    }
    return false;
  }
  bool peek_digit() const {
    return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9';
  }
  bool at_end() const { return pos_ == text_.size(); }

private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// The range format_rfc3339 can print with four year digits.
constexpr auto min_time = std::chrono::sys_days{std::chrono::year{0} / 1 / 1};
constexpr auto max_time = std::chrono::sys_days{std::chrono::year{9999} / 12 / 31} + days{1};

} // namespace

std::optional<timestamp> parse_rfc3339(std::string_view text) {
  // Longest sensible form is ~35 chars; a bound keeps the fraction loop short on hostile input.
  constexpr std::size_t text_max = 64;
  if (text.size() > text_max) {
    return std::nullopt;
  }
  scanner in(text);
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  char sep = 0;
  if (!in.digits(4, y) || !in.literal('-') || !in.digits(2, mo) || !in.literal('-') ||
      !in.digits(2, d) || !in.one_of("Tt ", sep) || !in.digits(2, h) || !in.literal(':') ||
      !in.digits(2, mi) || !in.literal(':') || !in.digits(2, s)) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{y},
                                         std::chrono::month{static_cast<unsigned>(mo)},
                                         std::chrono::day{static_cast<unsigned>(d)}};
  // RFC 3339 allows second 60 (a leap second); sys_time has none, so it becomes the last
  // millisecond of second 59, which keeps ordering monotone.
  if (!date.ok() || h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  int millis = 0;
  if (s == 60) {
    s = 59;
    millis = 999;
  }
  if (in.literal('.')) {
    if (!in.peek_digit()) {
      return std::nullopt;
    }
    int place = 100;
    int fraction = 0;
    while (in.peek_digit()) {
      int digit = 0;
      in.digits(1, digit);
      fraction += digit * place;  // digits past the millisecond are truncated
      place /= 10;
    }
    millis = millis == 999 ? 999 : fraction;
  }
  int offset_minutes = 0;
  char zone = 0;
  if (!in.one_of("Zz+-", zone)) {
    return std::nullopt;
  }
  if (zone == '+' || zone == '-') {
    int oh = 0, om = 0;
    if (!in.digits(2, oh) || !in.literal(':') || !in.digits(2, om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (oh * 60 + om) * (zone == '-' ? -1 : 1);
  }
  if (!in.at_end()) {
    return std::nullopt;
  }
  // Local time minus its offset is UTC ("10:00+01:00" is 09:00Z).
  const auto local = std::chrono::sys_days{date} + hours{h} + minutes{mi} + seconds{s} +
                     milliseconds{millis};
  const auto utc = std::chrono::time_point_cast<milliseconds>(local - minutes{offset_minutes});
  // An offset can carry the instant out of years 0000..9999 ("0000-01-01T00:00:00+01:00" is in
  // year -1), where format_rfc3339 would print a clamped, different time: refuse it.
  if (utc < min_time || utc >= max_time) {
    return std::nullopt;
  }
  return utc;
}

std::string format_rfc3339(timestamp t) {
  // Outside years 0000..9999 RFC 3339 has no spelling; clamp so any stored value still prints.
  if (t < min_time) {
    t = timestamp{min_time};
  }
  if (t >= max_time) {
    t = timestamp{max_time} - milliseconds{1};
  }
  const auto day = std::chrono::floor<days>(t);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss clock{t - day};
  const auto put = [](std::string& out, long long value, int width) {
    std::string digits(static_cast<std::size_t>(width), '0');
    for (int i = width - 1; i >= 0; --i) {
      digits[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    out += digits;
  };
  std::string out;
  out.reserve(24);
  put(out, static_cast<int>(date.year()), 4);
  out += '-';
  put(out, static_cast<unsigned>(date.month()), 2);
  out += '-';
  put(out, static_cast<unsigned>(date.day()), 2);
  out += 'T';
  put(out, clock.hours().count(), 2);
  out += ':';
  put(out, clock.minutes().count(), 2);
  out += ':';
  put(out, clock.seconds().count(), 2);
  out += '.';
  put(out, clock.subseconds().count(), 3);
  out += 'Z';
  return out;
}

} // namespace stockd::engine
