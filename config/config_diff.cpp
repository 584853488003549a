#include "config/config_diff.hpp"

#include <set>
#include <sstream>

#include "connectors/reconcile.hpp"
#include "engine/time.hpp"

namespace stockd::config {
namespace {

std::string ms(std::chrono::milliseconds d) {
  return std::to_string(d.count());
}

std::string number(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string scopes_of(std::uint8_t bits) {
  std::string out;
  for (auto [bit, name] : {std::pair{server::scope::ingest, "ingest"},
                           std::pair{server::scope::read, "read"},
                           std::pair{server::scope::admin, "admin"}}) {
    if ((bits & static_cast<std::uint8_t>(bit)) != 0) {
      out += out.empty() ? name : std::string(",") + name;
    }
  }
  return out;
}

void flatten_rules(std::map<std::string, std::string>& out, const std::string& p,
                   const engine::channel_rules& r) {
  out[p + "allocation"] = std::string(engine::to_string(r.allocation));
  if (r.allocation == engine::allocation_kind::percent) {
    out[p + "percent"] = std::to_string(r.percent);
    out[p + "rounding"] = std::string(engine::to_string(r.percent_rounding));
    out[p + "keep_one"] = r.keep_one ? "true" : "false";
  }
  if (r.allocation == engine::allocation_kind::fixed) {
    out[p + "fixed"] = std::to_string(r.fixed);
  }
  out[p + "buffer"] = std::to_string(r.buffer);
  auto optional = [&](const char* key, const std::optional<std::int64_t>& v) {
    if (v) {
      out[p + key] = std::to_string(*v);
    }
  };
  optional("zero_at_or_below", r.zero_at_or_below);
  optional("max", r.max);
  optional("floor", r.floor);
  out[p + "preorder_limit"] = std::to_string(r.preorder_limit);
}

void flatten_channel(std::map<std::string, std::string>& out, const settings& s,
                     const connectors::channel_options& o) {
  const std::string p = "channels." + o.id.str() + ".";
  out["channels." + o.id.str()] = "channel";
  out[p + "connector"] = std::string(connectors::to_string(o.connector));
  auto text = [&](const char* key, const std::string& v) {
    if (!v.empty()) {
      out[p + key] = v;
    }
  };
  text("endpoint", o.endpoint);
  text("credentials", o.credentials);  // a reference (env:/file:), never the secret
  text("seller_id", o.seller_id);
  text("marketplace_id", o.marketplace_id);
  text("lwa_endpoint", o.lwa_endpoint);
  text("shopify_location", o.shopify_location);
  // Webhook secrets are references too; these and the reconciliation keys are read at start
  // only, so a reload that changes them is refused by restart_only (never silently ignored).
  text("webhook_secret", o.webhook_secret);
  text("webhook_secret_previous", o.webhook_secret_previous);
  if (o.webhook_secret_previous_until) {
    out[p + "webhook_secret_previous_until"] =
        engine::format_rfc3339(*o.webhook_secret_previous_until);
  }
  text("shop_domain", o.shop_domain);
  if (o.connector != connectors::connector_kind::none) {
    out[p + "requests_per_second"] = number(o.requests_per_second);
    out[p + "burst"] = std::to_string(o.burst);
    out[p + "batch_size"] = std::to_string(o.batch_size);
    out[p + "push"] = std::string(connectors::to_string(o.push));
    if (o.push == connectors::push_mode::interval) {
      out[p + "push_interval_ms"] = ms(o.push_interval);
    }
    out[p + "settle_ms"] = ms(o.settle);
    out[p + "unseen_hold_ms"] = ms(o.unseen_hold);
    out[p + "reconcile_cycle_s"] = std::to_string(o.reconcile_cycle.count());
    out[p + "reconcile_policy"] = std::string(connectors::to_string(o.reconcile));
    out[p + "mode"] = std::string(connectors::to_string(o.mode));
    if (o.mode == connectors::channel_mode::shadow) {
      out[p + "shadow_read_interval_ms"] = ms(o.shadow_read_interval);
    }
  }
  if (const engine::channel_info* info = s.catalog.find_channel(o.id)) {
    std::string locations;
    for (const auto& l : info->locations) {
      locations += (locations.empty() ? "" : ",") + l.str();
    }
    out[p + "locations"] = locations;
    flatten_rules(out, p + "rules.", info->rules);
  }
}

} // namespace

std::string_view to_string(config_change::kind_t kind) noexcept {
  switch (kind) {
  case config_change::kind_t::added: return "added";
  case config_change::kind_t::removed: return "removed";
  case config_change::kind_t::changed: return "changed";
  }
  return "unknown";
}

std::map<std::string, std::string> flatten(const settings& s) {
  std::map<std::string, std::string> out;
  const auto& sv = s.server;
  out["server.listen"] = (sv.listen_host.find(':') != std::string::npos
                              ? "[" + sv.listen_host + "]"
                              : sv.listen_host) +
                         ":" + std::to_string(sv.listen_port);
  out["server.data_dir"] = s.store.dir.string();
  out["server.io_threads"] = std::to_string(sv.io_threads);
  out["server.header_bytes_max"] = std::to_string(sv.header_bytes_max);
  out["server.body_bytes_max"] = std::to_string(sv.body_bytes_max);
  out["server.read_timeout_ms"] = ms(sv.read_timeout);
  out["server.write_timeout_ms"] = ms(sv.write_timeout);
  out["server.idle_timeout_ms"] = ms(sv.idle_timeout);
  out["server.connections_max"] = std::to_string(sv.connections_max);
  out["server.retry_after_s"] = std::to_string(sv.retry_after.count());
  out["server.ledger_page_max"] = std::to_string(sv.ledger_page_max);
  out["server.snapshot_timeout_ms"] = ms(sv.snapshot_timeout);
  out["server.snapshots_concurrent_max"] = std::to_string(sv.snapshots_concurrent_max);
  const auto& a = s.actors;
  out["engine.threads"] = std::to_string(a.threads);
  out["engine.shards"] = std::to_string(a.shards);
  out["engine.checkpoint_interval_ms"] = ms(a.checkpoint_interval);
  out["engine.checkpoint_dirty_max"] = std::to_string(a.checkpoint_dirty_max);
  out["engine.request_timeout_ms"] = ms(a.request_timeout);
  out["engine.in_flight_max"] = std::to_string(a.in_flight_max);
  out["engine.commit_batch_events_max"] = std::to_string(s.writer.batch_events_max);
  out["engine.writer_queue_events_max"] = std::to_string(s.writer.queue_events_max);
  out["engine.checkpoint_records_per_commit_max"] =
      std::to_string(s.writer.checkpoint_records_per_commit_max);
  out["engine.checkpoint_records_per_idle_commit_max"] =
      std::to_string(s.writer.checkpoint_records_per_idle_commit_max);
  out["store.map_size_mb"] = std::to_string(s.store.map_size_bytes >> 20);
  out["store.map_size_max_mb"] = std::to_string(s.store.map_size_max >> 20);
  out["limits.events_per_request_max"] = std::to_string(s.decode.events_max);
  out["limits.string_bytes_max"] = std::to_string(s.decode.string_bytes_max);
  out["limits.qty_max"] = std::to_string(s.decode.qty_max);
  out["limits.snapshot_bytes_max"] = std::to_string(sv.snapshot_bytes_max);
  out["limits.snapshot_line_bytes_max"] = std::to_string(sv.snapshot_line_bytes_max);
  for (const auto& t : sv.tokens) {
    const std::string p = "tokens." + t.name;
    out[p] = "token";
    out[p + ".sha256"] = t.sha256_hex;  // a digest, as in the file
    out[p + ".scopes"] = scopes_of(t.scopes);
  }
  for (const auto& l : s.catalog.locations()) {
    const std::string p = "locations." + l.id.str();
    out[p] = "location";
    std::map<std::string, std::string> by_source;
    for (const auto& [source, name] : l.aliases) {
      auto& names = by_source[source.str()];
      names += (names.empty() ? "" : ",") + name;
    }
    for (const auto& [source, names] : by_source) {
      out[p + ".aliases." + source] = names;
    }
  }
  for (const auto& [id, info] : s.catalog.skus()) {
    const std::string p = "skus." + id;
    out[p] = "sku";
    std::string units;
    for (const auto& [unit, factor] : info.units) {
      units += (units.empty() ? "" : ",") + unit + "=" + std::to_string(factor);
    }
    if (!units.empty()) {
      out[p + ".units"] = units;
    }
    std::string components;
    for (const auto& c : info.components) {
      components += (components.empty() ? "" : ",") + c.sku.str() + "*" + std::to_string(c.qty);
    }
    if (!components.empty()) {
      out[p + ".components"] = components;
    }
  }
  for (const auto& [source, table] : s.catalog.sku_maps()) {
    const std::string p = "mappings." + source;
    out[p] = "mapping";
    for (const auto& [external, sku] : table) {
      out[p + ".skus." + external] = sku.str();
    }
  }
  for (const auto& o : s.channels) {
    flatten_channel(out, s, o);
  }
  return out;
}

std::vector<config_change> diff(const settings& before, const settings& after) {
  const auto b = flatten(before);
  const auto a = flatten(after);
  // Entries added or removed whole ("channels.ID" → "channel"): their settings are not listed
  // one by one. Ids may contain '.', so an entry is known by its marker, not by splitting paths.
  std::vector<std::string> whole;
  auto note_whole = [&whole](const auto& from, const auto& other) {
    for (const auto& [path, value] : from) {
      const bool marker = value == "channel" || value == "token" || value == "location" ||
                          value == "sku" || value == "mapping";
      if (marker && other.count(path) == 0) {
        whole.push_back(path + ".");
      }
    }
  };
  note_whole(b, a);
  note_whole(a, b);
  auto inside_whole = [&whole](const std::string& path) {
    for (const auto& prefix : whole) {
      if (path.compare(0, prefix.size(), prefix) == 0) {
        return true;
      }
    }
    return false;
  };
  std::vector<config_change> out;
  auto bi = b.begin();
  auto ai = a.begin();
  while (bi != b.end() || ai != a.end()) {
    const bool take_b = ai == a.end() || (bi != b.end() && bi->first < ai->first);
    const bool take_a = !take_b && (bi == b.end() || ai->first < bi->first);
    if (take_b) {
      if (!inside_whole(bi->first)) {
        out.push_back({config_change::kind_t::removed, bi->first, bi->second, ""});
      }
      ++bi;
    } else if (take_a) {
      if (!inside_whole(ai->first)) {
        out.push_back({config_change::kind_t::added, ai->first, "", ai->second});
      }
      ++ai;
    } else {
      if (bi->second != ai->second) {
        out.push_back({config_change::kind_t::changed, ai->first, bi->second, ai->second});
      }
      ++bi;
      ++ai;
    }
  }
  return out;
}

std::optional<config_error> restart_only(const std::vector<config_change>& changes,
                                         const settings& before, const settings& after) {
  std::set<std::string> channels;
  for (const auto* s : {&before, &after}) {
    for (const auto& o : s->channels) {
      channels.insert(o.id.str());
    }
  }
  auto starts = [](const std::string& path, const std::string& prefix) {
    return path.compare(0, prefix.size(), prefix) == 0;
  };
  for (const auto& c : changes) {
    const std::string& p = c.path;
    if (starts(p, "skus.") || starts(p, "mappings.")) {
      continue;
    }
    if (starts(p, "locations.")) {
      if (c.kind == config_change::kind_t::removed && c.before == "location") {
        return config_error{p, "removing a location needs a restart (its stock and the channels "
                               "selling from it would be left without a home)"};
      }
      continue;  // a location added, an alias added or changed
    }
    bool channel_ok = false;
    for (const auto& id : channels) {
      const std::string entry = "channels." + id;
      if (p == entry || starts(p, entry + ".rules.") || p == entry + ".mode" ||
          p == entry + ".shadow_read_interval_ms") {
        channel_ok = true;
      }
    }
    if (channel_ok) {
      continue;
    }
    if (starts(p, "channels.")) {
      return config_error{p, "cannot change on a running channel (its rules and mode can): "
                             "remove the channel in one reload and add it back in the next, or "
                             "restart"};
    }
    return config_error{p, "cannot change at run time: restart stockd to apply it"};
  }
  return std::nullopt;
}

} // namespace stockd::config
