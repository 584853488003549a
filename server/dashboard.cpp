#include "server/dashboard.hpp"

#include <array>
#include <cstdio>
#include <string>
#include <vector>

#include "connectors/json_writer.hpp"
#include "engine/time.hpp"

namespace stockd::server::dashboard {
namespace {

std::string etag_of(std::string_view bytes) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;  // FNV-1a 64
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  char out[24];
  std::snprintf(out, sizeof out, "\"%016llx\"", static_cast<unsigned long long>(hash));
  return out;
}

const std::string& etag_for(const embedded_asset& asset) {
  // Computed once per file; the table is fixed at build time.
  static const std::vector<std::string> etags = [] {
    std::vector<std::string> out;
    for (const auto& a : assets()) {
      out.push_back(etag_of(a.bytes));
    }
    return out;
  }();
  return etags[static_cast<std::size_t>(&asset - assets().data())];
}

bool etag_matches(std::string_view if_none_match, std::string_view etag) {
  // A list of entity tags, possibly weak (W/"..."), or "*".
  std::size_t start = 0;
  while (start < if_none_match.size()) {
    std::size_t end = if_none_match.find(',', start);
    if (end == std::string_view::npos) {
      end = if_none_match.size();
    }
    std::string_view tag = if_none_match.substr(start, end - start);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) {
      tag.remove_prefix(1);
    }
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) {
      tag.remove_suffix(1);
    }
    if (tag.starts_with("W/")) {
      tag.remove_prefix(2);
    }
    if (tag == "*" || tag == etag) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

void write_sample(connectors::json_writer& w, const actors::history_sample& s) {
  w.begin_object();
  w.field("start", engine::format_rfc3339(s.start));
  w.field("start_ms", static_cast<std::int64_t>(s.start.time_since_epoch().count()));
  w.field("duration_ms", static_cast<std::int64_t>(s.duration.count()));
  w.field("events_accepted", s.events_accepted);
  w.field("events_per_s", s.duration.count() > 0
                              ? static_cast<double>(s.events_accepted) * 1000.0 /
                                    static_cast<double>(s.duration.count())
                              : 0.0);
  w.field("oversold_units", s.oversold_units);
  w.field("reconciliation_variances", s.reconciliation_variances);
  w.field("propagated", s.propagated);
  auto optional = [&w](std::string_view key, const std::optional<std::int64_t>& v) {
    w.key(key);
    if (v) {
      w.value(*v);
    } else {
      w.null();
    }
  };
  optional("latency_p50_ms", s.latency_p50_ms);
  optional("latency_p99_ms", s.latency_p99_ms);
  w.end_object();
}

} // namespace

const embedded_asset* find_asset(std::string_view path) {
  for (const auto& asset : assets()) {
    if (asset.path == path) {
      return &asset;
    }
  }
  return nullptr;
}

response asset_response(const request& req, const embedded_asset& asset) {
  const std::string& etag = etag_for(asset);
  const auto if_none_match = req[http::field::if_none_match];
  const bool not_modified =
      etag_matches(std::string_view(if_none_match.data(), if_none_match.size()), etag);
  response res{not_modified ? http::status::not_modified : http::status::ok, req.version()};
  res.set(http::field::server, "stockd");
  res.set(http::field::etag, etag);
  res.set(http::field::cache_control, "no-cache");
  res.set("Content-Security-Policy", std::string(content_security_policy));
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
  res.keep_alive(req.keep_alive());
  if (!not_modified) {
    res.set(http::field::content_type, std::string(asset.media_type) + "; charset=utf-8");
    res.body().assign(asset.bytes.data(), asset.bytes.size());
  }
  res.prepare_payload();
  return res;
}

response history_response(const request& req, const actors::history_sampler* sampler) {
  if (sampler == nullptr) {
    return api::error(http::status::service_unavailable, req.version(), req.keep_alive(),
                      "no history is kept by this server");
  }
  const auto samples = sampler->samples();
  const auto current = sampler->current();
  connectors::json_writer w;
  w.out().reserve(samples.size() * 260 + 512);
  w.begin_object();
  w.field("interval_ms", static_cast<std::int64_t>(sampler->interval().count()));
  w.field("capacity", static_cast<std::uint64_t>(sampler->capacity()));
  w.key("samples").begin_array();
  for (const auto& s : samples) {
    write_sample(w, s);
  }
  w.end_array();
  w.key("current");
  write_sample(w, current);
  w.end_object();
  response res{http::status::ok, req.version()};
  res.set(http::field::server, "stockd");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = w.take();
  res.prepare_payload();
  return res;
}

} // namespace stockd::server::dashboard
