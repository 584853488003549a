#include "apps/stockctl_trace.hpp"

#include <cstdint>
#include <sstream>

#include <simdjson.h>

namespace stockctl {

std::optional<std::pair<std::string, std::string>> split_event_ref(std::string_view ref) {
  const auto colon = ref.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == ref.size()) {
    return std::nullopt;
  }
  return std::pair{std::string(ref.substr(0, colon)), std::string(ref.substr(colon + 1))};
}

namespace {

std::string text(simdjson::dom::element e, const char* key) {
  simdjson::dom::element v;
  if (e[key].get(v) != simdjson::SUCCESS) {
    return "";
  }
  std::string_view s;
  if (v.get_string().get(s) == simdjson::SUCCESS) {
    return std::string(s);
  }
  if (v.is_null()) {
    return "";
  }
  bool b = false;
  if (v.get_bool().get(b) == simdjson::SUCCESS) {
    return b ? "true" : "false";
  }
  return simdjson::to_string(v);
}

} // namespace

std::string format_trace(std::string_view json_body) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json_body);
  simdjson::dom::element root;
  if (parser.parse(padded).get(root) || !root.is_object()) {
    return "stockctl: the server's answer is not a trace\n";
  }
  std::ostringstream out;
  out << "event " << text(root, "source") << ":" << text(root, "id") << "  "
      << text(root, "type") << " " << text(root, "sku") << " @ " << text(root, "location");
  for (const char* k : {"qty", "delta", "counted"}) {
    if (auto s = text(root, k); !s.empty()) {
      out << "  " << k << " " << s;
    }
  }
  if (auto ch = text(root, "channel"); !ch.empty()) {
    out << "  channel " << ch;
  }
  out << "\n";
  out << "  " << text(root, "occurred_at") << "  occurred\n";
  out << "  " << text(root, "accepted_at") << "  accepted: journal seq " << text(root, "seq")
      << "\n";
  simdjson::dom::element applied;
  if (!root["applied"].get(applied)) {
    const bool done = text(applied, "applied") == "true";
    const bool parked = text(applied, "parked") == "true";
    out << "  " << std::string(24, ' ') << "  "
        << (done ? "applied" : parked ? "parked (waiting for its order line)" : "not applied yet")
        << " at " << text(applied, "location") << " (location at seq "
        << text(applied, "location_seq") << ")\n";
  }
  simdjson::dom::array channels;
  if (root["channels"].get(channels)) {
    return out.str();
  }
  for (auto c : channels) {
    out << "  channel " << text(c, "channel") << " (" << text(c, "connector")
        << "): " << text(c, "status");
    if (text(c, "sells_here") == "true") {
      out << "; expected " << text(c, "expected") << ", last pushed "
          << (text(c, "last_pushed").empty() ? "-" : text(c, "last_pushed"))
          << (text(c, "in_sync") == "true" ? ", in sync" : ", out of sync");
      if (auto r = text(c, "reason"); !r.empty()) {
        out << " (" << r << ")";
      }
    }
    out << "\n";
    simdjson::dom::array pushes;
    if (c["pushes"].get(pushes)) {
      continue;
    }
    for (auto p : pushes) {
      out << "    " << text(p, "sent_at") << "  push " << text(p, "push_id")
          << (text(p, "bulk") == "true" ? " (bulk)" : "") << ": quantity "
          << text(p, "quantity") << ", key " << text(p, "idempotency_key") << ", reflects seq "
          << text(p, "reflected_seq") << "\n";
      const auto answered = text(p, "answered_at");
      out << "    " << (answered.empty() ? std::string(24, ' ') : answered) << "  answer: "
          << text(p, "call_outcome");
      if (auto code = text(p, "call_code"); !code.empty()) {
        out << " " << code;
      }
      out << ", item " << (text(p, "item_outcome").empty() ? "-" : text(p, "item_outcome"));
      if (auto code = text(p, "item_code"); !code.empty()) {
        out << " " << code;
      }
      out << ", request id "
          << (text(p, "request_id").empty() ? "(none)" : text(p, "request_id")) << "\n";
    }
  }
  return out.str();
}

} // namespace stockctl
