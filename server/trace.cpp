#include "server/trace.hpp"

#include <memory>
#include <utility>

#include "connectors/json_writer.hpp"
#include "engine/state.hpp"
#include "engine/time.hpp"
#include "server/url.hpp"

namespace stockd::server {

using connectors::json_writer;
namespace {

constexpr std::string_view prefix = "/v1/trace/";

std::string format_ms(std::int64_t unix_ms) {
  return engine::format_rfc3339(engine::timestamp(std::chrono::milliseconds(unix_ms)));
}

/// What became of the event on one channel, in one word (the timeline's last step).
std::string_view channel_status(const actors::channel_trace& c, std::uint64_t seq,
                                bool applied) {
  if (!c.sells_here) {
    return "not_sold_here";
  }
  if (!c.hops.empty()) {
    const auto& last = c.hops.back();
    if (last.item_outcome == "applied") {
      return "applied";
    }
    if (last.item_outcome == "rejected") {
      return "rejected";
    }
    return last.call_outcome == "in_flight" ? "in_flight" : "retrying";
  }
  if (c.truncated) {
    return "unknown_truncated";
  }
  if (!applied) {
    return "not_applied_yet";
  }
  if (c.seen_seq < seq) {
    // The location applied it but told the channels nothing: it did not change what they show
    // (e.g. a move between buckets that leaves available and incoming as they were).
    return "unaffected";
  }
  if (c.connector == "none") {
    return "no_connector";
  }
  return c.in_sync ? "no_push_needed" : "queued";
}

void write_hop(json_writer& w, const actors::trace_hop& h) {
  w.begin_object();
  w.field("push_id", h.push_id);
  w.field("bulk", h.bulk);
  w.field("sent_at", format_ms(h.sent_at_ms));
  w.key("answered_at");
  if (h.answered_at_ms > 0) {
    w.value(format_ms(h.answered_at_ms));
  } else {
    w.null();
  }
  w.field("call_outcome", h.call_outcome);
  if (!h.call_code.empty()) {
    w.field("call_code", h.call_code);
  }
  w.key("request_id");
  if (h.request_id.empty()) {
    w.null();
  } else {
    w.value(h.request_id);
  }
  w.field("quantity", h.quantity);
  w.field("idempotency_key", h.idempotency_key);
  w.field("reflected_seq", h.reflected_seq);
  w.field("item_outcome", h.item_outcome);
  if (!h.item_code.empty()) {
    w.field("item_code", h.item_code);
  }
  w.end_object();
}

struct answer_to {
  unsigned version = 11;
  bool keep_alive = true;
};

response make_json(http::status status, const answer_to& to, std::string body) {
  response res{status, to.version};
  res.set(http::field::server, "stockd");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(to.keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

void write_event(json_writer& w, const engine::journal_entry& entry) {
  const auto& ev = entry.ev;
  w.field("source", ev.source.str());
  w.field("id", ev.id);
  w.field("seq", entry.seq);
  w.field("type", engine::to_string(ev.type));
  w.field("sku", ev.sku.str());
  w.field("location", ev.location.str());
  switch (ev.type) {
  case engine::event_type::adjusted: w.field("delta", ev.delta); break;
  case engine::event_type::counted: w.field("counted", ev.counted); break;
  default: w.field("qty", ev.qty); break;
  }
  if (!ev.channel.empty()) {
    w.field("channel", ev.channel.str());
  }
  w.field("occurred_at", engine::format_rfc3339(ev.occurred_at));
  w.field("accepted_at", engine::format_rfc3339(entry.received_at));
}

} // namespace

void handle_trace(const api_dependencies& deps, std::string_view path, const request& req,
                  responder respond) {
  const answer_to to{req.version(), req.keep_alive()};
  std::string_view rest = path.substr(prefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    respond(api::error(http::status::bad_request, to.version, to.keep_alive,
                       "use /v1/trace/{source}/{id}", "path"));
    return;
  }
  auto source = percent_decode(rest.substr(0, slash));
  auto id = percent_decode(rest.substr(slash + 1));
  if (!source || source->empty() || source->size() > deps.limits->string_bytes_max) {
    respond(api::error(http::status::bad_request, to.version, to.keep_alive,
                       "malformed source in the path", "source"));
    return;
  }
  // A raw '/' in the id is another path level; an encoded one (%2F) is part of the id.
  if (!id || id->empty() || id->size() > deps.limits->string_bytes_max ||
      rest.substr(slash + 1).find('/') != std::string_view::npos) {
    respond(api::error(http::status::bad_request, to.version, to.keep_alive,
                       "malformed event id in the path", "id"));
    return;
  }
  auto seq = deps.db->find_event(engine::source_id(*source), *id);
  if (!seq) {
    respond(api::error(http::status::internal_server_error, to.version, to.keep_alive,
                       "reading the journal: " + seq.error().message));
    return;
  }
  if (!*seq) {
    respond(api::error(http::status::not_found, to.version, to.keep_alive,
                       "no event " + *source + ":" + *id + " was accepted"));
    return;
  }
  auto entry = std::make_shared<engine::journal_entry>();
  bool found = false;
  auto read = deps.db->read_journal(**seq, 1, [&](const engine::journal_entry& e) {
    *entry = e;
    found = e.seq == **seq;
    return false;
  });
  if (!read || !found) {
    respond(api::error(http::status::internal_server_error, to.version, to.keep_alive,
                       "the journal has no entry for seq " + std::to_string(**seq)));
    return;
  }
  actors::runtime* engine = deps.engine;
  engine->query_sku(entry->ev.sku, [engine, entry, to, respond](actors::sku_view view) {
    // On a shard's thread: only read the view and ask the channels.
    auto applied = std::make_shared<json_writer>();
    bool done = false;
    bool parked = false;
    std::uint64_t location_seq = 0;
    for (const auto& s : view.locations) {
      if (s.key.location != entry->ev.location) {
        continue;
      }
      location_seq = s.last_seq;
      for (const auto& p : s.parked) {
        parked = parked || p.seq == entry->seq;
      }
    }
    done = location_seq >= entry->seq && !parked;
    auto& w = *applied;
    w.begin_object();
    w.field("location", entry->ev.location.str());
    w.field("applied", done);
    w.field("parked", parked);
    w.field("location_seq", location_seq);
    w.field("complete", view.complete);
    w.end_object();
    engine->trace(entry->ev.sku, entry->ev.location, entry->seq,
                  [entry, applied, done, to, respond](std::vector<actors::channel_trace> channels) {
                    json_writer out;
                    out.begin_object();
                    write_event(out, *entry);
                    out.key("applied").raw(applied->out());
                    out.key("channels").begin_array();
                    for (const auto& c : channels) {
                      out.begin_object();
                      out.field("channel", c.channel.str());
                      out.field("connector", c.connector);
                      out.field("status", channel_status(c, entry->seq, done));
                      out.field("sells_here", c.sells_here);
                      if (c.sells_here) {
                        out.field("known", c.known);
                        out.field("expected", c.expected);
                        out.key("last_pushed");
                        if (c.last_pushed) {
                          out.value(*c.last_pushed);
                        } else {
                          out.null();
                        }
                        out.field("in_sync", c.in_sync);
                        if (!c.reason.empty()) {
                          out.field("reason", c.reason);
                        }
                        out.field("seen_seq", c.seen_seq);
                        out.key("pushes").begin_array();
                        for (const auto& h : c.hops) {
                          write_hop(out, h);
                        }
                        out.end_array();
                      }
                      out.end_object();
                    }
                    out.end_array();
                    out.end_object();
                    respond(make_json(http::status::ok, to, out.take()));
                  });
  });
}

} // namespace stockd::server
