#pragma once
// alerts: the one actor that watches stockd's own counters and statuses and pages the
// configured sinks (`[[alerts]]`). Every `interval` it asks each channel for its status, reads
// the oversell and rejection counters and the store's use, and gives that observation to each
// sink's alert_policy (actors/alert_policy.hpp decides what pages and how often); the pages go
// out as signed JSON POSTs through the shared HTTP client.
//
// Wire contract (what a sink receives), the webhook connector's signature scheme:
//   POST <url>, Content-Type: application/json
//   X-Stockd-Timestamp: <unix seconds>
//   X-Stockd-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//   X-Stockd-Alert: <kind>
//   body: alert_json(notice) — {"source":"stockd","kind","state":"firing"|"resolved","reminder",
//         "severity","channel","scope":"isolated"|"systemic","counts":{"affected","of","units"},
//         "suppressed","summary","since","at"}
// A 2xx is delivered; anything else is retried (delivery_attempts_max, backing off), then
// counted as failed; the sink is "failing" until a delivery succeeds (/v1/status, /metrics).
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/alert_policy.hpp"
#include "actors/interfaces.hpp"
#include "actors/metrics.hpp"
#include "connectors/http_client.hpp"
#include "store/database.hpp"

namespace stockd::actors {

using variance_atom = caf::atom_constant<caf::atom("variance")>;
using delivered_atom = caf::atom_constant<caf::atom("delivered")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using observed_atom = caf::atom_constant<caf::atom("observed")>;

/// One page on its way to one sink.
struct alert_delivery {
  std::size_t sink = 0;
  std::string kind;
  std::string body;
  unsigned attempt = 1;
};

using alerts_actor = caf::typed_actor<
    caf::reacts_to<tick_atom>,                                      // time to check
    caf::reacts_to<observed_atom, alert_observation>,               // a check's figures
    caf::reacts_to<variance_atom, variance_report>,                 // from the reconciler
    caf::reacts_to<delivered_atom, alert_delivery, bool, std::string>,  // ok, why not
    caf::reacts_to<retry_atom, alert_delivery>>;

struct alerts_setup {
  std::vector<alert_sink_options> sinks;
  connectors::http_client* http = nullptr;  // outlives the actor
  std::chrono::milliseconds interval{5000};
  std::chrono::milliseconds request_timeout{5000};
  metrics* counters = nullptr;
  store::database* db = nullptr;             // map use; null: not watched
  std::filesystem::path data_dir;            // disk use; empty: not watched
  std::size_t map_size_max = 0;
  std::vector<channel_actor> channels;
  /// Unix milliseconds; the system clock unless a test sets it.
  std::function<std::int64_t()> clock;
};

inline constexpr unsigned delivery_attempts_max = 3;
/// Pages waiting for a sink at most (in flight or waiting to retry); past it a page is dropped
/// and counted as failed.
inline constexpr std::size_t deliveries_max = 256;

struct alerts_state {
  alerts_setup setup;
  std::vector<alert_policy> policies;  // one per sink
  std::vector<bool> failing;           // per sink
  std::size_t deliveries = 0;          // in flight or waiting to retry
  bool checking = false;               // a check's channel statuses are being gathered
  static inline const char* name = "alerts";
};

alerts_actor::behavior_type alerts(alerts_actor::stateful_pointer<alerts_state> self,
                                   alerts_setup setup);

} // namespace stockd::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::alert_observation)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::variance_report)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stockd::actors::alert_delivery)
