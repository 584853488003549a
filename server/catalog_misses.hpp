#pragma once
// Ingest rejections that ops fix in the configuration rather than in the sender: unmapped SKU
// ids and unknown units (issue 3 item 5). GET /v1/status shows a count and the newest samples
// of each. Counts run since the process started; they are a prompt to fix the mapping, not an
// audit trail (the sender got the full error in its answer).
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "connectors/event_decoder.hpp"

namespace stockd::server {

class catalog_misses {
public:
  /// Samples kept per kind: enough to show which mappings are missing, small enough to print.
  static constexpr std::size_t sample_max = 10;

  struct sample {
    std::string source;
    std::string sku;
    std::string unit;  // unknown units only
  };
  struct report {
    std::uint64_t count = 0;
    std::vector<sample> newest_first;
  };

  /// Records the misses of one request body; one lock per body, and none when it had no miss.
  void record(std::span<const connectors::decoded_event> events) {
    bool any = false;
    for (const auto& e : events) {
      any = any || e.miss.kind != connectors::miss_kind::none;
    }
    if (!any) {
      return;
    }
    std::lock_guard lock(mutex_);
    for (const auto& e : events) {
      switch (e.miss.kind) {
        case connectors::miss_kind::none:
          break;
        case connectors::miss_kind::unmapped_sku:
          add(unmapped_, e.miss);
          break;
        case connectors::miss_kind::unknown_unit:
          add(unknown_units_, e.miss);
          break;
      }
    }
  }

  report unmapped() const {
    std::lock_guard lock(mutex_);
    return read(unmapped_);
  }
  report unknown_units() const {
    std::lock_guard lock(mutex_);
    return read(unknown_units_);
  }

private:
  struct ring {
    std::uint64_t count = 0;
    std::deque<sample> newest_first;  // at most sample_max
  };

  static void add(ring& r, const connectors::catalog_miss& miss) {
    ++r.count;
    r.newest_first.push_front(sample{miss.source, miss.sku, miss.unit});
    if (r.newest_first.size() > sample_max) {
      r.newest_first.pop_back();
    }
  }

  static report read(const ring& r) {
    return report{r.count, std::vector<sample>(r.newest_first.begin(), r.newest_first.end())};
  }

  mutable std::mutex mutex_;
  ring unmapped_;
  ring unknown_units_;
};

} // namespace stockd::server
