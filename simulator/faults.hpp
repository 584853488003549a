#pragma once
// Switchable faults, the same for every emulator. A fault is drawn once per channel API request
// (never for /_emulator/* calls): first any kind with a pending "next N", then each kind with its
// probability, in the order of `fault_kind`. At most one fault per request.
//
// Spec text (the --faults argument and the body of POST /_emulator/faults), comma-separated:
//   429=0.1            probability of an HTTP 429 with Retry-After
//   429-no-retry=next:3  the next 3 requests get a 429 without Retry-After
//   5xx=P|next:N       an HTTP error (status=, default 503)
//   hang-before=...    hold the connection `hang-ms` without applying, then close
//   hang-after=...     apply, then hold `hang-ms` and close without answering
//   reset=...          close with a TCP reset without applying
//   stale-cas=...      (shopify) answer CHANGE_FROM_QUANTITY_STALE without applying
//   bad-skus=A|B       these SKUs are always rejected per item
//   feed-fatal=N       (amazon) the next N feeds submitted end FATAL, nothing applied
//   hang-ms=N  status=N  retry-after=S  seed=N
// "none" (or an empty spec) clears everything.
#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>

namespace stockd::simulator {

enum class fault_kind : std::uint8_t {
  reset,
  hang_before,
  throttle,           // 429 with Retry-After
  throttle_no_retry,  // 429 without
  server_error,
  hang_after,
  stale_cas,
  count_
};
inline constexpr std::size_t fault_kind_count = static_cast<std::size_t>(fault_kind::count_);

std::string_view to_string(fault_kind kind) noexcept;

struct fault_rule {
  double probability = 0.0;
  std::int64_t next = 0;  // the next N requests get this fault
};

struct fault_settings {
  std::array<fault_rule, fault_kind_count> rules{};
  std::set<std::string, std::less<>> bad_skus;
  std::int64_t feed_fatal_next = 0;
  std::chrono::milliseconds hang{2'000};
  unsigned server_error_status = 503;
  std::chrono::seconds retry_after{1};
  std::uint64_t seed = 1;
};

/// Parses a spec; on error, a message naming the bad entry.
struct fault_parse_result {
  std::optional<fault_settings> settings;
  std::string error;
};
fault_parse_result parse_faults(std::string_view spec);
/// The spec text that parses back to `s` (for GET /_emulator/faults and logs).
std::string describe(const fault_settings& s);

/// The settings plus their random source. Not thread-safe: the emulator holds its lock.
class fault_plan {
public:
  fault_plan() : rng_(1) {}
  void set(fault_settings s);
  const fault_settings& settings() const noexcept { return settings_; }
  std::optional<fault_kind> draw();
  bool bad_sku(std::string_view sku) const { return settings_.bad_skus.count(sku) != 0; }
  /// Whether the feed being submitted is to end FATAL (feed-fatal=N); counts one down.
  bool take_feed_fatal() noexcept {
    if (settings_.feed_fatal_next <= 0) {
      return false;
    }
    --settings_.feed_fatal_next;
    return true;
  }
  std::uint64_t injected(fault_kind k) const noexcept {
    return injected_[static_cast<std::size_t>(k)];
  }
  void count_injected(fault_kind k) noexcept { ++injected_[static_cast<std::size_t>(k)]; }

private:
  fault_settings settings_;
  std::mt19937_64 rng_;
  std::array<std::uint64_t, fault_kind_count> injected_{};
};

} // namespace stockd::simulator
