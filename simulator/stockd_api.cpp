#include "simulator/stockd_api.hpp"

#include <algorithm>
#include <cstdio>
#include <thread>

namespace stockd::simulator {

using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

std::string run_nonce() {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  char buf[24];
  std::snprintf(buf, sizeof buf, "%llx", static_cast<unsigned long long>(ns));
  return buf;
}

std::string event_key(std::string_view source, std::string_view id) {
  std::string key(source);
  key += '|';
  key += id;
  return key;
}

bool wms_sender::send(const std::vector<wms_event>& events) {
  bool all = true;
  for (std::size_t first = 0; first < events.size(); first += wms_batch_max) {
    const std::size_t last = std::min(events.size(), first + wms_batch_max);
    all = send_batch(events, first, last) && all;
  }
  return all;
}

bool wms_sender::send_batch(const std::vector<wms_event>& events, std::size_t first,
                            std::size_t last) {
  std::string body = "[";
  for (std::size_t i = first; i < last; ++i) {
    ledger_.created(event_key(events[i].source, events[i].id), events[i].type);
    if (i > first) {
      body += ',';
    }
    body += events[i].body;
  }
  body += ']';
  client_request req;
  req.method = "POST";
  req.target = "/v1/events";
  req.body = std::move(body);
  req.timeout = request_timeout;
  req.headers.emplace_back("Authorization", "Bearer " + token_);
  milliseconds delay{100};
  for (int attempt = 1; attempt <= wms_attempts_max; ++attempt) {
    const auto sent_at = steady::now();
    const client_response res = client_.send(req);
    const auto latency = steady::now() - sent_at;
    if (res.status >= 200 && res.status < 300) {
      return record_results(events, first, last, res.body, latency);
    }
    const bool transient = res.status == 0 || res.status == 429 || res.status >= 500;
    const bool final_attempt = !transient || attempt == wms_attempts_max;
    for (std::size_t i = first; i < last; ++i) {
      ledger_.answered(event_key(events[i].source, events[i].id),
                       !transient ? answer::rejected
                                  : final_attempt ? answer::failed : answer::retrying,
                       latency);
    }
    if (final_attempt) {
      if (errors_++ < 5) {
        std::fprintf(stderr, "stocksim wms: stockd answered %u: %.300s%s\n", res.status,
                     res.body.c_str(), res.transport_error.c_str());
      }
      return false;
    }
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, milliseconds{2'000});
  }
  return false;
}

bool wms_sender::record_results(const std::vector<wms_event>& events, std::size_t first,
                                std::size_t last, const std::string& body,
                                steady::duration latency) {
  simdjson::dom::element root;
  simdjson::dom::array results;
  if (parser_.parse(body).get(root) || root["results"].get_array().get(results) ||
      results.size() != last - first) {
    for (std::size_t i = first; i < last; ++i) {
      ledger_.answered(event_key(events[i].source, events[i].id), answer::failed, latency);
    }
    return false;
  }
  bool all = true;
  std::size_t i = first;
  for (simdjson::dom::element r : results) {
    std::string_view status;
    if (r["status"].get_string().get(status)) {
      status = "";
    }
    const answer a = status == "accepted"    ? answer::accepted
                     : status == "duplicate" ? answer::duplicate
                                             : answer::rejected;
    if (a == answer::rejected) {
      all = false;
      if (errors_++ < 5) {
        std::fprintf(stderr, "stocksim wms: stockd rejected %s: %s\n", events[i].id.c_str(),
                     simdjson::minify(r).c_str());
      }
    }
    ledger_.answered(event_key(events[i].source, events[i].id), a, latency);
    ++i;
  }
  return all;
}

client_response get_from_stockd(http_client& client, const std::string& token,
                                std::string target) {
  client_request req;
  req.target = std::move(target);
  req.timeout = request_timeout;
  req.headers.emplace_back("Authorization", "Bearer " + token);
  return client.send(req);
}

sku_record read_sku(http_client& client, const std::string& token, const std::string& sku,
                    simdjson::dom::parser& parser) {
  // The prefix check keeps SKU names URL-safe.
  const client_response res = get_from_stockd(client, token, "/v1/skus/" + sku);
  sku_record out;
  simdjson::dom::element root;
  if (res.status != 200 || parser.parse(res.body).get(root)) {
    return out;
  }
  simdjson::dom::object locations;
  if (root["locations"].get_object().get(locations) == simdjson::SUCCESS) {
    for (auto [name, state] : locations) {
      std::int64_t v = 0;
      if (state["on_hand"].get_int64().get(v) == simdjson::SUCCESS) {
        out.on_hand += v;
        out.on_hand_at[std::string(name)] += v;
      }
      if (state["committed"].get_int64().get(v) == simdjson::SUCCESS) {
        out.committed += v;
      }
      if (state["reserved"].get_int64().get(v) == simdjson::SUCCESS) {
        out.reserved += v;
      }
    }
  }
  simdjson::dom::object channels;
  if (root["channels"].get_object().get(channels) == simdjson::SUCCESS) {
    for (auto [name, record] : channels) {
      sku_record::channel_record c;
      if (record["expected"].get_int64().get(c.expected) != simdjson::SUCCESS) {
        continue;
      }
      std::int64_t pushed = 0;
      if (record["last_pushed"].get_int64().get(pushed) == simdjson::SUCCESS) {
        c.last_pushed = pushed;
      }
      if (record["believed_shows"].get_int64().get(pushed) == simdjson::SUCCESS) {
        c.believed_shows = pushed;
      }
      if (record["held_back"].get_int64().get(pushed) == simdjson::SUCCESS) {
        c.held_back = pushed;
      }
      bool in_sync = false;
      c.in_sync = record["in_sync"].get_bool().get(in_sync) == simdjson::SUCCESS && in_sync;
      out.channels.emplace(std::string(name), c);
    }
  }
  out.ok = true;
  return out;
}

std::size_t learn_placements(world& truth, http_client& client, simdjson::dom::parser& parser,
                             const std::string& token) {
  constexpr std::size_t lookups_max = 50;  // per call
  std::size_t learnt = 0;
  for (const auto& [order_id, channel, sku] : truth.unplaced_acknowledged(lookups_max)) {
    // Ids are ours: letters, digits, '-' and ':', all path-safe. A kit line is journaled as
    // its components' events, `<id>#<component>` (docs/semantics.md, "Kit expansion"), all
    // placed together: the first one's placement is the line's ('#' escaped in the path).
    std::string id = order_id + ":1";
    for (const kit_definition& kit : truth.kits()) {
      if (kit.sku == sku) {
        id += "%23" + kit.components.front().first;
      }
    }
    const client_response res = get_from_stockd(client, token, "/v1/trace/" + channel + "/" + id);
    simdjson::dom::element root;
    std::string_view where;
    if (res.status != 200 || parser.parse(res.body).get(root) ||
        root["location"].get_string().get(where)) {
      continue;
    }
    if (auto l = truth.selling_index(where)) {
      truth.order_acknowledged(order_id, steady::now(), *l);
      ++learnt;
    }
  }
  return learnt;
}

} // namespace stockd::simulator
