#include "simulator/faults.hpp"

#include <charconv>
#include <cstdlib>

namespace stockd::simulator {
namespace {

constexpr std::array<std::string_view, fault_kind_count> kind_names = {
    "reset", "hang-before", "429", "429-no-retry", "5xx", "hang-after", "stale-cas"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\n' || s.front() == '\t' ||
                        s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\n' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

template <class T>
bool parse_int(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && p == s.data() + s.size();
}

bool parse_probability(std::string_view s, double& out) {
  std::string copy(s);
  char* end = nullptr;
  out = std::strtod(copy.c_str(), &end);
  return !copy.empty() && end == copy.c_str() + copy.size() && out >= 0.0 && out <= 1.0;
}

} // namespace

std::string_view to_string(fault_kind kind) noexcept {
  return kind_names[static_cast<std::size_t>(kind)];
}

fault_parse_result parse_faults(std::string_view spec) {
  fault_settings s;
  spec = trim(spec);
  if (spec.empty() || spec == "none") {
    return {s, {}};
  }
  while (!spec.empty()) {
    auto comma = spec.find(',');
    std::string_view entry = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view{} : spec.substr(comma + 1);
    if (entry.empty()) {
      continue;
    }
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) {
      return {std::nullopt, "fault '" + std::string(entry) + "': expected name=value"};
    }
    std::string_view name = trim(entry.substr(0, eq));
    std::string_view value = trim(entry.substr(eq + 1));
    auto bad = [&](std::string_view why) {
      return fault_parse_result{std::nullopt,
                                "fault '" + std::string(entry) + "': " + std::string(why)};
    };
    bool known = false;
    for (std::size_t k = 0; k < fault_kind_count; ++k) {
      if (name != kind_names[k]) {
        continue;
      }
      known = true;
      fault_rule& rule = s.rules[k];
      if (value.substr(0, 5) == "next:") {
        if (!parse_int(value.substr(5), rule.next) || rule.next < 0) {
          return bad("next:N needs a count >= 0");
        }
      } else if (!parse_probability(value, rule.probability)) {
        return bad("expected a probability in [0, 1] or next:N");
      }
    }
    if (known) {
      continue;
    }
    if (name == "bad-skus") {
      while (!value.empty()) {
        auto bar = value.find('|');
        auto sku = trim(value.substr(0, bar));
        if (!sku.empty()) {
          s.bad_skus.emplace(sku);
        }
        value = bar == std::string_view::npos ? std::string_view{} : value.substr(bar + 1);
      }
    } else if (name == "feed-fatal") {
      if (!parse_int(value, s.feed_fatal_next) || s.feed_fatal_next < 0) {
        return bad("feed-fatal needs a count >= 0");
      }
    } else if (name == "hang-ms") {
      std::int64_t ms = 0;
      if (!parse_int(value, ms) || ms < 0 || ms > 600'000) {
        return bad("hang-ms must be 0..600000");
      }
      s.hang = std::chrono::milliseconds(ms);
    } else if (name == "status") {
      if (!parse_int(value, s.server_error_status) || s.server_error_status < 500 ||
          s.server_error_status > 599) {
        return bad("status must be 500..599");
      }
    } else if (name == "retry-after") {
      std::int64_t sec = 0;
      if (!parse_int(value, sec) || sec < 0 || sec > 3600) {
        return bad("retry-after must be 0..3600 seconds");
      }
      s.retry_after = std::chrono::seconds(sec);
    } else if (name == "seed") {
      if (!parse_int(value, s.seed)) {
        return bad("seed must be an unsigned integer");
      }
    } else {
      return bad("unknown fault name");
    }
  }
  return {s, {}};
}

std::string describe(const fault_settings& s) {
  std::string out;
  auto add = [&out](std::string_view part) {
    if (!out.empty()) {
      out += ',';
    }
    out += part;
  };
  for (std::size_t k = 0; k < fault_kind_count; ++k) {
    const auto& rule = s.rules[k];
    if (rule.next > 0) {
      add(std::string(kind_names[k]) + "=next:" + std::to_string(rule.next));
    } else if (rule.probability > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", rule.probability);
      add(std::string(kind_names[k]) + "=" + buf);
    }
  }
  if (!s.bad_skus.empty()) {
    std::string skus;
    for (const auto& sku : s.bad_skus) {
      skus += skus.empty() ? "" : "|";
      skus += sku;
    }
    add("bad-skus=" + skus);
  }
  if (s.feed_fatal_next > 0) {
    add("feed-fatal=" + std::to_string(s.feed_fatal_next));
  }
  add("hang-ms=" + std::to_string(s.hang.count()));
  add("status=" + std::to_string(s.server_error_status));
  add("retry-after=" + std::to_string(s.retry_after.count()));
  add("seed=" + std::to_string(s.seed));
  return out;
}

void fault_plan::set(fault_settings s) {
  settings_ = std::move(s);
  rng_.seed(settings_.seed);
}

std::optional<fault_kind> fault_plan::draw() {
  for (std::size_t k = 0; k < fault_kind_count; ++k) {
    if (settings_.rules[k].next > 0) {
      --settings_.rules[k].next;
      return static_cast<fault_kind>(k);
    }
  }
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  for (std::size_t k = 0; k < fault_kind_count; ++k) {
    double p = settings_.rules[k].probability;
    if (p > 0 && uniform(rng_) < p) {
      return static_cast<fault_kind>(k);
    }
  }
  return std::nullopt;
}

} // namespace stockd::simulator
