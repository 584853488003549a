#pragma once
// What the simulator's own systems say to stockd and read back from it, shared by the runs
// (simulator/run.hpp) and large_catalog (simulator/large_catalog.hpp): the WMS's batched event
// sender with its retries, a SKU's record from GET /v1/skus/{sku}, and placements looked up in
// GET /v1/trace for orders whose first answer was lost.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "simulator/http_client.hpp"
#include "simulator/report.hpp"
#include "simulator/world.hpp"

namespace stockd::simulator {

inline constexpr std::string_view wms_source = "stocksim-wms";
inline constexpr std::size_t wms_batch_max = 500;  // events per POST /v1/events
inline constexpr int wms_attempts_max = 8;         // per batch, then its events are given up
/// Each step of each request to stockd.
inline constexpr std::chrono::milliseconds request_timeout{10'000};

/// A nonce for this run (the clock in hex): ids sent to stockd (orders, reservation keys) stay
/// unique across runs against one long-lived stockd, which remembers every id it took.
std::string run_nonce();

/// The ledger key of an event: its idempotency key (source, id).
std::string event_key(std::string_view source, std::string_view id);

/// One WMS event: the envelope without a location when `location` is empty (a line event that
/// follows its order to where stockd placed it).
struct wms_event {
  std::string id;
  std::string body;
  std::string type;                         // for the events-by-kind counts
  std::string source = std::string(wms_source);
};

/// Posts WMS events to stockd in batches, one batch at a time, retrying a batch that got no
/// answer, a 429 or a 5xx (stockd dedups by (source, id), so a resend is safe) up to
/// wms_attempts_max times. Records every event's answers in the ledger; the first few failures
/// and rejections are said on stderr. One thread.
class wms_sender {
public:
  wms_sender(const std::string& host, std::uint16_t port, std::string token, event_ledger& ledger)
      : client_(host, port), token_(std::move(token)), ledger_(ledger) {}

  /// True when every event was acknowledged.
  bool send(const std::vector<wms_event>& events);

private:
  bool send_batch(const std::vector<wms_event>& events, std::size_t first, std::size_t last);
  bool record_results(const std::vector<wms_event>& events, std::size_t first, std::size_t last,
                      const std::string& body, std::chrono::steady_clock::duration latency);

  http_client client_;
  std::string token_;
  event_ledger& ledger_;
  simdjson::dom::parser parser_;
  int errors_ = 0;
};

/// GET `target` from stockd with the bearer token, within request_timeout per step.
client_response get_from_stockd(http_client& client, const std::string& token,
                                std::string target);

/// A SKU as stockd has it (GET /v1/skus/{sku}).
struct sku_record {
  bool ok = false;  // answered 200 with the fields below
  std::int64_t on_hand = 0;
  std::map<std::string, std::int64_t, std::less<>> on_hand_at;  // per location
  std::int64_t committed = 0;
  std::int64_t reserved = 0;
  struct channel_record {
    std::int64_t expected = 0;
    std::optional<std::int64_t> last_pushed;
    std::optional<std::int64_t> believed_shows;
    std::int64_t held_back = 0;
    bool in_sync = false;
  };
  std::map<std::string, channel_record, std::less<>> channels;
};

/// GET /v1/skus/{sku}: stockd's buckets summed over locations (and per location) and each
/// channel's record; `ok` false when it did not answer 200 with JSON.
sku_record read_sku(http_client& client, const std::string& token, const std::string& sku,
                    simdjson::dom::parser& parser);

/// For a WMS: orders stockd acknowledged whose placement it has not learnt (their channel saw
/// only `duplicate` answers, the first answer lost) are looked up in stockd, GET
/// /v1/trace/{source}/{order id}:1 (a kit's: its first component's event, `...:1#<component>`;
/// its "location" is the journaled placement), and told to the
/// world. Not found yet or no answer: asked again next time; never guessed. At most 50 a call.
/// How many placements were learnt.
std::size_t learn_placements(world& truth, http_client& client, simdjson::dom::parser& parser,
                             const std::string& token);

} // namespace stockd::simulator
