#pragma once
// Event envelopes (DESIGN §2) as JSON text, readers for the answers of the HTTP API, and the
// steps every suite takes (post events, wait for a condition), shared by the end-to-end and
// durability suites.
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {

constexpr std::string_view test_source = "e2e-wms";
constexpr std::string_view test_occurred_at = "2026-11-27T10:15:00Z";

/// One envelope; `fields` are the type-specific members, already JSON (no braces), may be "".
inline std::string event_json(std::string_view type, std::string_view id, std::string_view sku,
                              std::string_view fields, std::string_view location = "main",
                              std::string_view source = test_source) {
  std::string out = "{\"id\":\"";
  out += id;
  out += "\",\"source\":\"";
  out += source;
  out += "\",\"type\":\"";
  out += type;
  out += "\",\"sku\":\"";
  out += sku;
  out += "\",\"location\":\"";
  out += location;
  out += "\",\"occurred_at\":\"";
  out += test_occurred_at;
  out += '"';
  if (!fields.empty()) {
    out += ',';
    out += fields;
  }
  out += '}';
  return out;
}

inline std::string received_json(std::string_view id, std::string_view sku, std::int64_t qty,
                                  std::string_view source = test_source) {
  return event_json("received", id, sku, "\"qty\":" + std::to_string(qty), "main", source);
}

inline std::string order_created_json(std::string_view id, std::string_view sku,
                                      std::int64_t qty, std::string_view order_id) {
  return event_json("order_created", id, sku,
                    "\"qty\":" + std::to_string(qty) + ",\"order_id\":\"" + std::string(order_id) +
                        "\",\"line_id\":\"1\",\"channel\":\"web\"");
}

inline std::string json_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += items[i];
  }
  out += ']';
  return out;
}

inline std::string ndjson(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    out += item;
    out += '\n';
  }
  return out;
}

/// One entry of a POST /v1/events answer.
struct event_result {
  std::string id;
  std::string status;  // accepted | duplicate | rejected
  std::uint64_t seq = 0;
  std::int64_t index = -1;  // rejected only
  std::string field;        // rejected only
  std::string error;        // rejected only
  std::string location;     // accepted and placed by stockd only (the line named none)
};

/// Parses {"results":[...]}; throws simdjson_error when the body is not that shape.
inline std::vector<event_result> parse_results(std::string_view body) {
  json_doc doc(body);
  std::vector<event_result> out;
  for (simdjson::dom::element item : doc["results"].get_array()) {
    event_result r;
    r.id = std::string(item["id"].get_string().value());
    r.status = std::string(item["status"].get_string().value());
    if (r.status == "rejected") {
      r.index = item["index"].get_int64().value();
      r.field = std::string(item["field"].get_string().value());
      r.error = std::string(item["error"].get_string().value());
    } else {
      r.seq = item["seq"].get_uint64().value();
      std::string_view placed;
      if (!item["location"].get_string().get(placed)) {
        r.location = std::string(placed);
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

/// POSTs `body` to /v1/events and requires a 200; the answer's results.
inline std::vector<event_result> post_events(const server_process& server, const std::string& body,
                                             const std::string& content_type = "application/json") {
  auto res = server.post("/v1/events", body, content_type);
  INFO("POST /v1/events answered " << res.status << " " << res.transport_error << res.body);
  REQUIRE(res.status == 200);
  return parse_results(res.body);
}

/// POSTs `events` as one array and requires every one of them accepted; their results.
inline std::vector<event_result> post_accepted(const server_process& server,
                                               const std::vector<std::string>& events) {
  auto results = post_events(server, json_array(events));
  REQUIRE(results.size() == events.size());
  for (const auto& r : results) {
    INFO("event " << r.id << " answered " << r.status << " " << r.field << " " << r.error);
    REQUIRE(r.status == "accepted");
  }
  return results;
}

/// Journals a receipt of `qty` units of `sku` at `location`; requires it accepted.
inline void receive(const server_process& server, std::string_view id, std::string_view sku,
                    std::int64_t qty, std::string_view location = "main") {
  post_accepted(server,
                {event_json("received", id, sku, "\"qty\":" + std::to_string(qty), location)});
}

/// Asks `done` every `interval` until it answers true or `timeout` has passed: whether it did.
/// For what the server does on its own clock (expiry, pushes); never waits longer than `timeout`.
template <class Predicate>
bool eventually(Predicate done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(100)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (done()) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(interval);
  }
}

inline std::uint64_t journal_head(const server_process& server) {
  return server.get_json("/v1/status")["journal"]["head"].get_uint64().value();
}

/// The buckets of one SKU × location as GET /v1/skus/{sku} answers them.
struct location_view {
  std::int64_t available = 0;
  std::int64_t committed = 0;
  std::int64_t reserved = 0;
  std::int64_t incoming = 0;
  std::int64_t on_hand = 0;
  std::int64_t oversold = 0;
  std::uint64_t applied_seq = 0;
  std::string last_event_id;
  std::uint64_t last_event_seq = 0;
};

inline location_view read_location(const server_process& server, std::string_view sku,
                                   std::string_view location = "main") {
  json_doc doc = server.get_json("/v1/skus/" + std::string(sku));
  simdjson::dom::element at = doc["locations"][location];
  location_view v;
  v.available = at["available"].get_int64().value();
  v.committed = at["committed"].get_int64().value();
  v.reserved = at["reserved"].get_int64().value();
  v.incoming = at["incoming"].get_int64().value();
  v.on_hand = at["on_hand"].get_int64().value();
  v.oversold = at["oversold"].get_int64().value();
  v.applied_seq = at["applied_seq"].get_uint64().value();
  simdjson::dom::element last = at["last_event"];
  if (!last.is_null()) {
    v.last_event_id = std::string(last["id"].get_string().value());
    v.last_event_seq = last["seq"].get_uint64().value();
  }
  return v;
}

/// One ledger entry of GET /v1/skus/{sku}/events.
struct ledger_entry {
  std::uint64_t seq = 0;
  std::string source;
  std::string id;
  std::string type;
  std::string location;
  std::int64_t qty = 0;
};

struct ledger_page {
  std::vector<ledger_entry> events;
  std::uint64_t next_before = 0;  // 0 when the answer had null
};

inline ledger_page read_ledger_page(const server_process& server, std::string_view sku,
                                    std::string_view query) {
  std::string target = "/v1/skus/" + std::string(sku) + "/events";
  if (!query.empty()) {
    target += '?';
    target += query;
  }
  json_doc doc = server.get_json(target);
  ledger_page page;
  for (simdjson::dom::element e : doc["events"].get_array()) {
    ledger_entry entry;
    entry.seq = e["seq"].get_uint64().value();
    entry.source = std::string(e["source"].get_string().value());
    entry.id = std::string(e["id"].get_string().value());
    entry.type = std::string(e["type"].get_string().value());
    entry.location = std::string(e["location"].get_string().value());
    if (auto qty = e["qty"]; !qty.error()) {
      entry.qty = qty.get_int64().value();
    }
    page.events.push_back(std::move(entry));
  }
  simdjson::dom::element next = doc["next_before"];
  page.next_before = next.is_null() ? 0 : next.get_uint64().value();
  return page;
}

/// Follows a ledger's next_before: throws unless it moves strictly back (each seq is read once),
/// so a server that answered the same cursor again could not keep a test reading forever.
inline std::uint64_t next_ledger_cursor(std::uint64_t before, std::uint64_t next_before) {
  if (before != 0 && next_before >= before) {
    throw std::runtime_error("ledger paging did not move back: next_before " +
                             std::to_string(next_before) + " after before=" +
                             std::to_string(before));
  }
  return next_before;
}

/// The whole ledger of a SKU, newest first, following next_before from page to page.
inline std::vector<ledger_entry> read_full_ledger(const server_process& server,
                                                  std::string_view sku,
                                                  std::uint64_t page_size = 200) {
  std::vector<ledger_entry> all;
  std::uint64_t before = 0;
  for (;;) {
    std::string query = "limit=" + std::to_string(page_size);
    if (before != 0) {
      query += "&before=" + std::to_string(before);
    }
    ledger_page page = read_ledger_page(server, sku, query);
    all.insert(all.end(), page.events.begin(), page.events.end());
    if (page.next_before == 0) {
      return all;
    }
    before = next_ledger_cursor(before, page.next_before);
  }
}

} // namespace stockd::e2e
