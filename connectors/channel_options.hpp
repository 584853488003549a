#pragma once
// How stockd reaches one sales channel's API (DESIGN §6, §7 [[channels]]): the connector, where it
// is, which secret it uses and how fast and in what batches it may push. The engine's half of a
// channel (its locations and rules) is engine::channel_info; config/ builds both from one table.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/ids.hpp"

namespace stockd::connectors {

enum class connector_kind : std::uint8_t { shopify, amazon, webhook };

/// "event": push as soon as availability changes (the default). "interval": push every
/// `push_interval` only (the periodic batch sync most merchants run today; the simulator's
/// baseline).
enum class push_mode : std::uint8_t { event, interval };

struct channel_options {
  engine::channel_id id;
  connector_kind connector = connector_kind::webhook;
  std::string endpoint;     // https://... (http:// only for loopback emulators)
  std::string credentials;  // a reference such as "env:SHOPIFY_TOKEN", never the secret itself
  /// Shopify only: the Location GID whose `available` this channel sets
  /// ("gid://shopify/Location/<n>"); one channel per Shopify location.
  std::string shopify_location;
  // Pacing. Shopify paces on the cost bucket its responses report; these are the starting point
  // and the ceiling. Amazon's token bucket is 5/s burst 5.
  double requests_per_second = 2.0;
  std::int64_t burst = 2;
  std::int64_t batch_size = 100;  // items per API call (Shopify <= 250)
  push_mode push = push_mode::event;
  std::chrono::milliseconds push_interval{60'000};
  /// Increases wait this long for more changes (decreases never wait).
  std::chrono::milliseconds settle{0};
};

std::string_view to_string(connector_kind kind) noexcept;
std::string_view to_string(push_mode mode) noexcept;

} // namespace stockd::connectors
