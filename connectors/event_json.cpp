#include "connectors/event_json.hpp"

#include <cstdint>
#include <optional>

#include <simdjson.h>

#include "engine/time.hpp"

namespace stockd::connectors {

void write_journal_entry_fields(json_writer& w, const engine::journal_entry& entry) {
  const engine::event& ev = entry.ev;
  w.field("seq", entry.seq);
  w.field("received_at", engine::format_rfc3339(entry.received_at));
  w.field("source", ev.source.str());
  w.field("id", ev.id);
  w.field("type", engine::to_string(ev.type));
  w.field("sku", ev.sku.str());
  w.field("location", ev.location.str());
  w.field("occurred_at", engine::format_rfc3339(ev.occurred_at));
  using t = engine::event_type;
  switch (ev.type) {
    case t::adjusted: w.field("delta", ev.delta); break;
    case t::counted:
      w.field("counted", ev.counted);
      w.field("as_of", engine::format_rfc3339(ev.as_of));
      break;
    default: w.field("qty", ev.qty); break;
  }
  auto opt = [&w](std::string_view k, const std::string& v) {
    if (!v.empty()) {
      w.field(k, v);
    }
  };
  opt("order_id", ev.order_id);
  opt("line_id", ev.line_id);
  opt("channel", ev.channel.str());
  opt("po_id", ev.po_id);
  opt("transfer_id", ev.transfer_id);
  opt("to_location", ev.to_location.str());
  opt("reason", ev.reason);
  opt("reservation_id", ev.reservation_id);
  if (ev.type == t::return_received) {
    w.field("disposition", engine::to_string(ev.return_disposition));
  }
  if (ev.type == t::status_changed) {
    w.field("from", engine::to_string(ev.from));
    w.field("to", engine::to_string(ev.to));
  }
  if (ev.expires_at) {
    w.field("expires_at", engine::format_rfc3339(*ev.expires_at));
  }
}

std::string journal_entry_json(const engine::journal_entry& entry) {
  json_writer w;
  w.begin_object();
  write_journal_entry_fields(w, entry);
  w.end_object();
  return w.take();
}

namespace {

using failure = stockd::unexpected<std::string>;

// Looks up `key`; absent is nullopt, present but not a string is an error.
stockd::result<std::optional<std::string_view>, std::string> text(simdjson::ondemand::object& o,
                                                          std::string_view key) {
  auto field = o.find_field_unordered(key);
  if (field.error() == simdjson::NO_SUCH_FIELD) {
    return std::optional<std::string_view>{};
  }
  std::string_view v;
  if (field.get_string().get(v) != simdjson::SUCCESS) {
    return failure(std::string(key) + ": expected a string");
  }
  return std::optional<std::string_view>{v};
}

stockd::result<std::optional<std::int64_t>, std::string> integer(simdjson::ondemand::object& o,
                                                          std::string_view key) {
  auto field = o.find_field_unordered(key);
  if (field.error() == simdjson::NO_SUCH_FIELD) {
    return std::optional<std::int64_t>{};
  }
  std::int64_t v = 0;
  if (field.get_int64().get(v) != simdjson::SUCCESS) {
    return failure(std::string(key) + ": expected an integer");
  }
  return std::optional<std::int64_t>{v};
}

} // namespace

stockd::result<engine::journal_entry, std::string> parse_journal_entry_json(std::string_view json) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(json);
  simdjson::ondemand::document doc;
  simdjson::ondemand::object o;
  if (parser.iterate(padded).get(doc) != simdjson::SUCCESS || doc.get_object().get(o) != simdjson::SUCCESS) {
    return failure("not a JSON object");
  }
  engine::journal_entry entry;
  engine::event& ev = entry.ev;
  std::string problem;
  auto need_text = [&](std::string_view key, bool required) -> std::optional<std::string> {
    auto v = text(o, key);
    if (!v) {
      problem = v.error();
      return std::nullopt;
    }
    if (!v->has_value()) {
      if (required) {
        problem = std::string(key) + ": missing";
      }
      return std::nullopt;
    }
    return std::string(**v);
  };
  auto need_time = [&](std::string_view key, bool required) -> std::optional<engine::timestamp> {
    auto v = need_text(key, required);
    if (!v) {
      return std::nullopt;
    }
    auto t = engine::parse_rfc3339(*v);
    if (!t) {
      problem = std::string(key) + ": not an RFC 3339 time";
    }
    return t;
  };
  auto need_int = [&](std::string_view key) -> std::optional<std::int64_t> {
    auto v = integer(o, key);
    if (!v) {
      problem = v.error();
      return std::nullopt;
    }
    if (!v->has_value()) {
      problem = std::string(key) + ": missing";
    }
    return *v;
  };
  // Fields in the order the writer puts them, each looked up by name.
  auto seq = need_int("seq");
  if (!seq || *seq <= 0) {
    return failure(problem.empty() ? "seq: must be positive" : problem);
  }
  entry.seq = static_cast<std::uint64_t>(*seq);
  auto received = need_time("received_at", true);
  if (!received) return failure(problem);
  entry.received_at = *received;
  auto source = need_text("source", true);
  if (!source) return failure(problem);
  ev.source = engine::source_id{*source};
  auto id = need_text("id", true);
  if (!id) return failure(problem);
  ev.id = *id;
  auto type_text = need_text("type", true);
  if (!type_text) return failure(problem);
  auto type = engine::parse_event_type(*type_text);
  if (!type) return failure("type: unknown event type");
  ev.type = *type;
  auto sku = need_text("sku", true);
  if (!sku) return failure(problem);
  ev.sku = engine::sku_id{*sku};
  auto location = need_text("location", false);
  if (!problem.empty()) return failure(problem);
  ev.location = engine::location_id{location.value_or("")};
  auto occurred = need_time("occurred_at", true);
  if (!occurred) return failure(problem);
  ev.occurred_at = *occurred;
  using t = engine::event_type;
  if (ev.type == t::adjusted) {
    auto delta = need_int("delta");
    if (!delta) return failure(problem);
    ev.delta = *delta;
  } else if (ev.type == t::counted) {
    auto counted = need_int("counted");
    if (!counted) return failure(problem);
    ev.counted = *counted;
    auto as_of = need_time("as_of", true);
    if (!as_of) return failure(problem);
    ev.as_of = *as_of;
  } else {
    auto qty = need_int("qty");
    if (!qty) return failure(problem);
    ev.qty = *qty;
  }
  const std::pair<std::string_view, std::string*> optional_texts[] = {
      {"order_id", &ev.order_id},   {"line_id", &ev.line_id}, {"po_id", &ev.po_id},
      {"transfer_id", &ev.transfer_id}, {"reason", &ev.reason},
      {"reservation_id", &ev.reservation_id},
  };
  for (const auto& [key, out] : optional_texts) {
    auto v = need_text(key, false);
    if (!problem.empty()) return failure(problem);
    *out = v.value_or("");
  }
  auto channel = need_text("channel", false);
  if (!problem.empty()) return failure(problem);
  ev.channel = engine::channel_id{channel.value_or("")};
  auto to_location = need_text("to_location", false);
  if (!problem.empty()) return failure(problem);
  ev.to_location = engine::location_id{to_location.value_or("")};
  if (ev.type == t::return_received) {
    auto d = need_text("disposition", true);
    if (!d) return failure(problem);
    auto parsed = engine::parse_disposition(*d);
    if (!parsed) return failure("disposition: unknown");
    ev.return_disposition = *parsed;
  }
  if (ev.type == t::status_changed) {
    auto from = need_text("from", true);
    if (!from) return failure(problem);
    auto to = need_text("to", true);
    if (!to) return failure(problem);
    auto b_from = engine::parse_bucket(*from);
    auto b_to = engine::parse_bucket(*to);
    if (!b_from || !b_to) return failure("from/to: unknown bucket");
    ev.from = *b_from;
    ev.to = *b_to;
  }
  auto expires = need_time("expires_at", false);
  if (!problem.empty()) return failure(problem);
  ev.expires_at = expires;
  return entry;
}

} // namespace stockd::connectors
