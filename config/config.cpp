#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include "engine/state.hpp"
#include "engine/time.hpp"

namespace stockd::config {
namespace {

using fail = stockd::unexpected<config_error>;

// Bounds on [[skus]] numbers: a million is plenty, and with qty_max <= 2e9 the product of a
// quantity, a unit factor and a component quantity is checked before it can overflow int64.
constexpr std::int64_t unit_factor_max = 1'000'000;
constexpr std::int64_t component_qty_max = 1'000'000;

// A table key as TOML spells it in a path: bare when it is letters, digits, '-' and '_', else
// quoted (two quote marks for the empty key), so an error always names a non-empty, unambiguous key.
std::string key_part(std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_';
  });
  if (bare) {
    return std::string(key);
  }
  std::string out = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Rejects keys the reader does not know, so "listne = ..." is an error and not a silent default.
std::optional<config_error> check_keys(const toml::table& table, const std::string& prefix,
                                       std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : table) {
    bool found = false;
    for (auto k : known) {
      found = found || k == key.str();
    }
    if (!found) {
      return config_error{prefix + key_part(key.str()), "unknown key"};
    }
  }
  return std::nullopt;
}

// Reads an optional integer in [low, high]; absent leaves `out` unchanged.
template <class T>
std::optional<config_error> read_int(const toml::table& table, std::string_view key,
                                     const std::string& prefix, std::int64_t low,
                                     std::int64_t high, T& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  auto value = node->value_exact<std::int64_t>();
  if (!value) {
    return config_error{prefix + std::string(key), "must be an integer"};
  }
  if (*value < low || *value > high) {
    return config_error{prefix + std::string(key), "must be between " + std::to_string(low) +
                                                       " and " + std::to_string(high)};
  }
  out = static_cast<T>(*value);
  return std::nullopt;
}

std::optional<config_error> read_string(const toml::table& table, std::string_view key,
                                        const std::string& prefix, std::string& out) {
  const toml::node* node = table.get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  auto value = node->value_exact<std::string>();
  if (!value) {
    return config_error{prefix + std::string(key), "must be a string"};
  }
  out = *value;
  return std::nullopt;
}

template <class Duration>
std::optional<config_error> read_ms(const toml::table& table, std::string_view key,
                                    const std::string& prefix, std::int64_t low, std::int64_t high,
                                    Duration& out) {
  std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(out).count();
  if (auto e = read_int(table, key, prefix, low, high, ms)) {
    return e;
  }
  out = std::chrono::duration_cast<Duration>(std::chrono::milliseconds(ms));
  return std::nullopt;
}

bool is_hex_sha256(std::string_view s) {
  if (s.size() != 64) {
    return false;
  }
  for (char c : s) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    if (!hex) {
      return false;
    }
  }
  return true;
}

bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > 64) {
    return false;
  }
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return false;
    }
  }
  return true;
}

// The name an entry of an array of tables is known by (a token's name, a location's or a
// channel's id): required, an identifier, unique among `seen`. `what` names it in the error.
std::optional<config_error> read_unique_identifier(const toml::table& t, std::string_view key,
                                                   const std::string& prefix,
                                                   std::string_view what,
                                                   std::set<std::string>& seen,
                                                   std::string& out) {
  if (auto e = read_string(t, key, prefix, out)) {
    return e;
  }
  if (!is_identifier(out)) {
    return config_error{prefix + std::string(key), "is required: letters, digits, '-', '_', '.'"};
  }
  if (!seen.insert(out).second) {
    return config_error{prefix + std::string(key),
                        "duplicate " + std::string(what) + " '" + out + "'"};
  }
  return std::nullopt;
}

std::optional<config_error> read_server(const toml::table& t, settings& s) {
  const std::string p = "server.";
  if (auto e = check_keys(t, p,
                          {"listen", "data_dir", "io_threads", "header_bytes_max",
                           "body_bytes_max", "read_timeout_ms", "write_timeout_ms",
                           "idle_timeout_ms", "connections_max", "retry_after_s",
                           "ledger_page_max", "snapshot_timeout_ms", "snapshots_concurrent_max",
                           "history_interval_ms", "token", "admin_listen"})) {
    return e;
  }
  std::string admin_listen;
  if (auto e = read_string(t, "admin_listen", p, admin_listen)) {
    return e;
  }
  if (t.get("admin_listen") != nullptr) {
    auto hp = parse_listen(admin_listen);
    if (!hp) {
      return config_error{p + "admin_listen", "must be HOST:PORT, e.g. \"127.0.0.1:8081\""};
    }
    s.server.admin_listen = true;
    s.server.admin_listen_host = hp->first;
    s.server.admin_listen_port = hp->second;
  }
  std::string listen;
  if (auto e = read_string(t, "listen", p, listen)) {
    return e;
  }
  if (!listen.empty()) {
    auto hp = parse_listen(listen);
    if (!hp) {
      return config_error{p + "listen", "must be HOST:PORT, e.g. \"127.0.0.1:8080\""};
    }
    s.server.listen_host = hp->first;
    s.server.listen_port = hp->second;
  }
  std::string dir;
  if (auto e = read_string(t, "data_dir", p, dir)) {
    return e;
  }
  if (!dir.empty()) {
    s.store.dir = dir;
  }
  if (t.get("token") != nullptr) {
    return config_error{p + "token",
                        "plain tokens are not kept in the file: use [[tokens]] with sha256, or "
                        "the STOCKD_TOKEN environment variable"};
  }
  std::int64_t retry_after = s.server.retry_after.count();
  std::optional<config_error> e;
  (e = read_int(t, "io_threads", p, 1, 64, s.server.io_threads)) ||
      (e = read_int(t, "header_bytes_max", p, 1024, 1 << 20, s.server.header_bytes_max)) ||
      (e = read_int(t, "body_bytes_max", p, 1024, std::int64_t{1} << 30,
                    s.server.body_bytes_max)) ||
      (e = read_ms(t, "read_timeout_ms", p, 100, 3'600'000, s.server.read_timeout)) ||
      (e = read_ms(t, "write_timeout_ms", p, 100, 3'600'000, s.server.write_timeout)) ||
      (e = read_ms(t, "idle_timeout_ms", p, 100, 3'600'000, s.server.idle_timeout)) ||
      (e = read_int(t, "connections_max", p, 1, 1'000'000, s.server.connections_max)) ||
      (e = read_int(t, "retry_after_s", p, 1, 3600, retry_after)) ||
      (e = read_int(t, "ledger_page_max", p, 1, 100'000, s.server.ledger_page_max)) ||
      (e = read_ms(t, "snapshot_timeout_ms", p, 1000, 86'400'000, s.server.snapshot_timeout)) ||
      (e = read_int(t, "snapshots_concurrent_max", p, 1, 1024,
                    s.server.snapshots_concurrent_max)) ||
      (e = read_ms(t, "history_interval_ms", p, 1000, 60'000, s.server.history_interval));
  s.server.retry_after = std::chrono::seconds(retry_after);
  return e;
}

std::optional<config_error> read_engine(const toml::table& t, settings& s) {
  const std::string p = "engine.";
  if (auto e = check_keys(t, p,
                          {"threads", "shards", "checkpoint_interval_ms", "checkpoint_dirty_max",
                           "request_timeout_ms", "in_flight_max", "commit_batch_events_max",
                           "writer_queue_events_max", "checkpoint_records_per_commit_max",
                           "checkpoint_records_per_idle_commit_max"})) {
    return e;
  }
  std::optional<config_error> e;
  (e = read_int(t, "threads", p, 0, 256, s.actors.threads)) ||
      (e = read_int(t, "shards", p, 0, 4096, s.actors.shards)) ||
      (e = read_ms(t, "checkpoint_interval_ms", p, 10, 3'600'000, s.actors.checkpoint_interval)) ||
      (e = read_int(t, "checkpoint_dirty_max", p, 1, 100'000'000, s.actors.checkpoint_dirty_max)) ||
      (e = read_ms(t, "request_timeout_ms", p, 10, 3'600'000, s.actors.request_timeout)) ||
      (e = read_int(t, "in_flight_max", p, 1, 1'000'000'000, s.actors.in_flight_max)) ||
      (e = read_int(t, "commit_batch_events_max", p, 1, 1'000'000, s.writer.batch_events_max)) ||
      (e = read_int(t, "writer_queue_events_max", p, 1, 100'000'000, s.writer.queue_events_max)) ||
      (e = read_int(t, "checkpoint_records_per_commit_max", p, 1, 1'000'000,
                    s.writer.checkpoint_records_per_commit_max)) ||
      (e = read_int(t, "checkpoint_records_per_idle_commit_max", p, 1, 1'000'000,
                    s.writer.checkpoint_records_per_idle_commit_max));
  return e;
}

std::optional<config_error> read_store(const toml::table& t, settings& s) {
  const std::string p = "store.";
  if (auto e = check_keys(t, p, {"map_size_mb", "map_size_max_mb"})) {
    return e;
  }
  std::int64_t size_mb = static_cast<std::int64_t>(s.store.map_size_bytes >> 20);
  std::int64_t max_mb = static_cast<std::int64_t>(s.store.map_size_max >> 20);
  std::optional<config_error> e;
  (e = read_int(t, "map_size_mb", p, 1, std::int64_t{1} << 24, size_mb)) ||
      (e = read_int(t, "map_size_max_mb", p, 1, std::int64_t{1} << 24, max_mb));
  if (e) {
    return e;
  }
  if (max_mb < size_mb) {
    return config_error{p + "map_size_max_mb", "must be at least map_size_mb"};
  }
  s.store.map_size_bytes = static_cast<std::size_t>(size_mb) << 20;
  s.store.map_size_max = static_cast<std::size_t>(max_mb) << 20;
  return std::nullopt;
}

std::optional<config_error> read_limits(const toml::table& t, settings& s) {
  const std::string p = "limits.";
  if (auto e = check_keys(t, p,
                          {"events_per_request_max", "string_bytes_max", "qty_max",
                           "snapshot_bytes_max", "snapshot_line_bytes_max"})) {
    return e;
  }
  std::optional<config_error> e;
  (e = read_int(t, "events_per_request_max", p, 1, 1'000'000, s.decode.events_max)) ||
      (e = read_int(t, "string_bytes_max", p, 8, 400, s.decode.string_bytes_max)) ||
      (e = read_int(t, "qty_max", p, 1, 2'000'000'000, s.decode.qty_max)) ||
      (e = read_int(t, "snapshot_bytes_max", p, 1024, std::int64_t{1} << 40,
                    s.server.snapshot_bytes_max)) ||
      (e = read_int(t, "snapshot_line_bytes_max", p, 1024, 16 << 20,
                    s.server.snapshot_line_bytes_max));
  return e;
}

std::optional<config_error> read_tokens(const toml::array& tokens, settings& s) {
  std::set<std::string> names;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string p = "tokens[" + std::to_string(i) + "].";
    const toml::table* t = tokens[i].as_table();
    if (t == nullptr) {
      return config_error{"tokens[" + std::to_string(i) + "]", "must be a table"};
    }
    if (auto e = check_keys(*t, p, {"name", "sha256", "scopes"})) {
      return e;
    }
    server::token_entry entry;
    if (auto e = read_unique_identifier(*t, "name", p, "token name", names, entry.name)) {
      return e;
    }
    if (auto e = read_string(*t, "sha256", p, entry.sha256_hex)) {
      return e;
    }
    if (!is_hex_sha256(entry.sha256_hex)) {
      return config_error{p + "sha256",
                          "must be the 64 lower-case hex digits of the token's SHA-256 "
                          "(printf %s TOKEN | sha256sum)"};
    }
    const toml::array* scopes = t->get_as<toml::array>("scopes");
    if (scopes == nullptr || scopes->empty()) {
      return config_error{p + "scopes", "is required: a list of \"ingest\", \"read\", \"admin\""};
    }
    for (const auto& node : *scopes) {
      auto name = node.value_exact<std::string>();
      if (name == "ingest") {
        entry.scopes |= static_cast<std::uint8_t>(server::scope::ingest);
      } else if (name == "read") {
        entry.scopes |= static_cast<std::uint8_t>(server::scope::read);
      } else if (name == "admin") {
        entry.scopes |= static_cast<std::uint8_t>(server::scope::admin);
      } else {
        return config_error{p + "scopes", "unknown scope (use \"ingest\", \"read\", \"admin\")"};
      }
    }
    s.server.tokens.push_back(std::move(entry));
  }
  return std::nullopt;
}

std::optional<config_error> read_locations(const toml::array& locations, settings& s) {
  std::vector<engine::location_info> infos;
  std::set<std::string> ids;
  std::set<std::pair<std::string, std::string>> aliases;
  for (std::size_t i = 0; i < locations.size(); ++i) {
    const std::string p = "locations[" + std::to_string(i) + "].";
    const toml::table* t = locations[i].as_table();
    if (t == nullptr) {
      return config_error{"locations[" + std::to_string(i) + "]", "must be a table"};
    }
    if (auto e = check_keys(*t, p, {"id", "aliases", "name"})) {
      return e;
    }
    std::string id;
    if (auto e = read_unique_identifier(*t, "id", p, "location id", ids, id)) {
      return e;
    }
    engine::location_info info{engine::location_id(id), {}};
    if (const toml::node* node = t->get("aliases")) {
      const toml::table* by_source = node->as_table();
      if (by_source == nullptr) {
        return config_error{p + "aliases",
                            "must be a table of source = [names], e.g. {\"wms-east\" = [\"E1\"]}"};
      }
      for (const auto& [source, names] : *by_source) {
        const toml::array* list = names.as_array();
        const std::string key = p + "aliases." + key_part(source.str());
        if (list == nullptr) {
          return config_error{key, "must be a list of names"};
        }
        for (const auto& name_node : *list) {
          auto name = name_node.value_exact<std::string>();
          if (!name || name->empty()) {
            return config_error{key, "names must be non-empty strings"};
          }
          if (!aliases.insert({std::string(source.str()), *name}).second) {
            return config_error{key, "alias '" + *name + "' is used twice for this source"};
          }
          info.aliases.emplace_back(engine::source_id(std::string(source.str())), *name);
        }
      }
    }
    infos.push_back(std::move(info));
  }
  if (infos.empty()) {
    return config_error{"locations", "at least one location is required"};
  }
  s.catalog = engine::catalog(std::move(infos));
  return std::nullopt;
}

// What [[skus]] and [[mappings]] add to the catalog. Assembled with the locations at the end,
// because mapped location names become aliases of the locations read before them.
struct catalog_parts {
  std::vector<engine::location_info> locations;
  std::vector<engine::sku_info> skus;
  std::vector<engine::sku_mapping> mappings;
  std::vector<engine::channel_info> channels;
};

// SKU ids are free text at ingest ("SHIRT/RED/M"), so the file takes what ingest takes: a
// non-empty string within the string limit, without control characters (the store keys on it).
std::optional<config_error> check_sku_id(const std::string& key, const std::string& id,
                                         std::size_t bytes_max) {
  if (id.empty()) {
    return config_error{key, "must be a non-empty SKU id"};
  }
  if (id.size() > bytes_max) {
    return config_error{key, "longer than " + std::to_string(bytes_max) +
                                 " bytes (limits.string_bytes_max)"};
  }
  for (char c : id) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      return config_error{key, "must not contain control characters"};
    }
  }
  return std::nullopt;
}

std::optional<config_error> read_sku_string(const toml::table& t, std::string_view key,
                                            const std::string& prefix, std::size_t bytes_max,
                                            std::string& out) {
  if (auto e = read_string(t, key, prefix, out)) {
    return e;
  }
  return check_sku_id(prefix + std::string(key), out, bytes_max);
}

std::optional<config_error> read_units(const toml::node& node, const std::string& key,
                                       engine::sku_info& info) {
  const toml::table* units = node.as_table();
  if (units == nullptr) {
    return config_error{key, "must be a table of unit = factor, e.g. { pack6 = 6, case = 24 }"};
  }
  for (const auto& [name, value] : *units) {
    const std::string unit_key = key + "." + key_part(name.str());
    if (!is_identifier(name.str())) {
      return config_error{unit_key, "unit names are letters, digits, '-', '_', '.'"};
    }
    auto factor = value.value_exact<std::int64_t>();
    if (!factor || *factor < 1 || *factor > unit_factor_max) {
      return config_error{unit_key, "must be an integer factor from 1 to " +
                                        std::to_string(unit_factor_max) + " (base units per " +
                                        std::string(name.str()) + ")"};
    }
    info.units.emplace_back(std::string(name.str()), *factor);
  }
  return std::nullopt;
}

std::optional<config_error> read_components(const toml::node& node, const std::string& key,
                                            std::size_t bytes_max, engine::sku_info& info) {
  const toml::array* list = node.as_array();
  if (list == nullptr || list->empty()) {
    return config_error{key, "must be a non-empty list, e.g. [{ sku = \"A\", qty = 2 }]"};
  }
  for (std::size_t j = 0; j < list->size(); ++j) {
    const std::string p = key + "[" + std::to_string(j) + "].";
    const toml::table* t = (*list)[j].as_table();
    if (t == nullptr) {
      return config_error{key + "[" + std::to_string(j) + "]",
                          "must be a table { sku = \"...\", qty = N }"};
    }
    if (auto e = check_keys(*t, p, {"sku", "qty"})) {
      return e;
    }
    std::string sku;
    if (auto e = read_sku_string(*t, "sku", p, bytes_max, sku)) {
      return e;
    }
    if (sku == info.id.str()) {
      return config_error{p + "sku", "a kit cannot contain itself"};
    }
    for (const auto& earlier : info.components) {
      if (earlier.sku.str() == sku) {
        return config_error{p + "sku", "component '" + sku + "' is listed twice"};
      }
    }
    if (t->get("qty") == nullptr) {
      return config_error{p + "qty", "is required: units of the component per kit"};
    }
    std::int64_t qty = 0;
    if (auto e = read_int(*t, "qty", p, 1, component_qty_max, qty)) {
      return e;
    }
    info.components.push_back(engine::kit_component{engine::sku_id(std::move(sku)), qty});
  }
  return std::nullopt;
}

std::optional<config_error> read_skus(const toml::array& skus, const settings& s,
                                      catalog_parts& parts) {
  const std::size_t bytes_max = s.decode.string_bytes_max;
  std::set<std::string> ids;
  for (std::size_t i = 0; i < skus.size(); ++i) {
    const std::string p = "skus[" + std::to_string(i) + "].";
    const toml::table* t = skus[i].as_table();
    if (t == nullptr) {
      return config_error{"skus[" + std::to_string(i) + "]", "must be a table"};
    }
    if (auto e = check_keys(*t, p, {"id", "units", "components"})) {
      return e;
    }
    std::string id;
    if (auto e = read_sku_string(*t, "id", p, bytes_max, id)) {
      return e;
    }
    if (!ids.insert(id).second) {
      return config_error{p + "id", "duplicate SKU id '" + id + "'"};
    }
    engine::sku_info info{engine::sku_id(std::move(id)), {}, {}};
    if (const toml::node* units = t->get("units")) {
      if (auto e = read_units(*units, p + "units", info)) {
        return e;
      }
    }
    if (const toml::node* components = t->get("components")) {
      if (auto e = read_components(*components, p + "components", bytes_max, info)) {
        return e;
      }
    }
    parts.skus.push_back(std::move(info));
  }
  // One level of kits only: a kit's components are expanded once at ingest, never again.
  std::set<std::string> kits;
  for (const auto& info : parts.skus) {
    if (!info.components.empty()) {
      kits.insert(info.id.str());
    }
  }
  for (std::size_t i = 0; i < parts.skus.size(); ++i) {
    const auto& components = parts.skus[i].components;
    for (std::size_t j = 0; j < components.size(); ++j) {
      if (kits.count(components[j].sku.str()) != 0) {
        return config_error{"skus[" + std::to_string(i) + "].components[" + std::to_string(j) +
                                "].sku",
                            "'" + components[j].sku.str() +
                                "' is a kit: kits of kits are not supported"};
      }
    }
  }
  return std::nullopt;
}

std::optional<config_error> read_mapping_skus(const toml::node& node, const std::string& key,
                                              std::size_t bytes_max, engine::sku_mapping& out) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return config_error{key, "must be a table of external id = SKU, e.g. { \"ERP-1001\" = "
                             "\"TSHIRT-RED-M\" }"};
  }
  for (const auto& [external, value] : *table) {
    const std::string entry_key = key + "." + key_part(external.str());
    if (external.str().empty() || external.str().size() > bytes_max) {
      return config_error{entry_key, "external ids must be 1 to " + std::to_string(bytes_max) +
                                         " bytes"};
    }
    auto sku = value.value_exact<std::string>();
    if (!sku) {
      return config_error{entry_key, "must be a string (the canonical SKU)"};
    }
    if (auto e = check_sku_id(entry_key, *sku, bytes_max)) {
      return e;
    }
    out.skus.emplace_back(std::string(external.str()), engine::sku_id(std::move(*sku)));
  }
  return std::nullopt;
}

// A mapped location name is an alias of that source, exactly as a [[locations]] alias is.
std::optional<config_error> read_mapping_locations(const toml::node& node, const std::string& key,
                                                   const engine::source_id& source,
                                                   catalog_parts& parts) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return config_error{key, "must be a table of external name = location, e.g. { \"E1\" = "
                             "\"DC-EAST\" }"};
  }
  for (const auto& [external, value] : *table) {
    const std::string entry_key = key + "." + key_part(external.str());
    if (external.str().empty()) {
      return config_error{entry_key, "external names must be non-empty"};
    }
    auto target = value.value_exact<std::string>();
    if (!target) {
      return config_error{entry_key, "must be a string (a configured location id)"};
    }
    engine::location_info* found = nullptr;
    for (auto& info : parts.locations) {
      for (const auto& [alias_source, name] : info.aliases) {
        if (alias_source == source && name == external.str()) {
          return config_error{entry_key, "alias '" + std::string(external.str()) +
                                             "' is used twice for this source"};
        }
      }
      if (info.id.str() == *target) {
        found = &info;
      }
    }
    if (found == nullptr) {
      return config_error{entry_key, "unknown location '" + *target + "'"};
    }
    found->aliases.emplace_back(source, std::string(external.str()));
  }
  return std::nullopt;
}

std::optional<config_error> read_mappings(const toml::array& mappings, const settings& s,
                                          catalog_parts& parts) {
  const std::size_t bytes_max = s.decode.string_bytes_max;
  std::set<std::string> sources;
  for (std::size_t i = 0; i < mappings.size(); ++i) {
    const std::string p = "mappings[" + std::to_string(i) + "].";
    const toml::table* t = mappings[i].as_table();
    if (t == nullptr) {
      return config_error{"mappings[" + std::to_string(i) + "]", "must be a table"};
    }
    if (auto e = check_keys(*t, p, {"source", "skus", "locations"})) {
      return e;
    }
    std::string source;
    if (auto e = read_string(*t, "source", p, source)) {
      return e;
    }
    if (source.empty() || source.size() > bytes_max) {
      return config_error{p + "source", "is required: the source name its events carry"};
    }
    if (!sources.insert(source).second) {
      return config_error{p + "source", "source '" + source + "' is mapped twice"};
    }
    engine::sku_mapping mapping{engine::source_id(source), {}};
    if (const toml::node* skus = t->get("skus")) {
      if (auto e = read_mapping_skus(*skus, p + "skus", bytes_max, mapping)) {
        return e;
      }
      // A `skus` table, even an empty one, makes this source speak only its own ids.
      parts.mappings.push_back(std::move(mapping));
    }
    if (const toml::node* names = t->get("locations")) {
      if (auto e = read_mapping_locations(*names, p + "locations", engine::source_id(source),
                                          parts)) {
        return e;
      }
    }
  }
  return std::nullopt;
}


std::optional<config_error> read_choice(const toml::table& t, std::string_view key,
                                        const std::string& prefix,
                                        std::initializer_list<std::string_view> choices,
                                        std::size_t& index) {
  std::string value;
  if (auto e = read_string(t, key, prefix, value)) {
    return e;
  }
  if (t.get(key) == nullptr) {
    return std::nullopt;
  }
  std::string list;
  std::size_t i = 0;
  for (auto choice : choices) {
    if (choice == value) {
      index = i;
      return std::nullopt;
    }
    list += (i == 0 ? "\"" : ", \"") + std::string(choice) + "\"";
    ++i;
  }
  return config_error{prefix + std::string(key), "must be one of " + list};
}

std::optional<config_error> read_optional_int(const toml::table& t, std::string_view key,
                                              const std::string& prefix, std::int64_t low,
                                              std::int64_t high, std::optional<std::int64_t>& out) {
  if (t.get(key) == nullptr) {
    return std::nullopt;
  }
  std::int64_t value = 0;
  if (auto e = read_int(t, key, prefix, low, high, value)) {
    return e;
  }
  out = value;
  return std::nullopt;
}

// [[channels]].rules: DESIGN §3 steps 1-6. Quantities are bounded by the bucket limit.
std::optional<config_error> read_rules(const toml::node& node, const std::string& key,
                                       engine::channel_rules& rules) {
  const toml::table* t = node.as_table();
  if (t == nullptr) {
    return config_error{key, "must be a table, e.g. { allocation = \"percent\", percent = 50 }"};
  }
  const std::string p = key + ".";
  if (auto e = check_keys(*t, p,
                          {"allocation", "percent", "rounding", "keep_one", "fixed", "buffer",
                           "zero_at_or_below", "max", "floor", "preorder_limit"})) {
    return e;
  }
  constexpr std::int64_t qty_max = engine::state_limits::bucket_abs_max;
  std::size_t allocation = 0;
  std::size_t rounding = 0;
  std::optional<config_error> e;
  (e = read_choice(*t, "allocation", p, {"shared", "percent", "fixed"}, allocation)) ||
      (e = read_int(*t, "percent", p, 0, 100, rules.percent)) ||
      (e = read_choice(*t, "rounding", p, {"down", "nearest", "up"}, rounding)) ||
      (e = read_int(*t, "fixed", p, 0, qty_max, rules.fixed)) ||
      (e = read_int(*t, "buffer", p, 0, qty_max, rules.buffer)) ||
      (e = read_optional_int(*t, "zero_at_or_below", p, 0, qty_max, rules.zero_at_or_below)) ||
      (e = read_optional_int(*t, "max", p, 0, qty_max, rules.max)) ||
      (e = read_optional_int(*t, "floor", p, 0, qty_max, rules.floor)) ||
      (e = read_int(*t, "preorder_limit", p, 0, qty_max, rules.preorder_limit));
  if (e) {
    return e;
  }
  if (const toml::node* keep = t->get("keep_one")) {
    auto value = keep->value_exact<bool>();
    if (!value) {
      return config_error{p + "keep_one", "must be true or false"};
    }
    rules.keep_one = *value;
  }
  rules.allocation = static_cast<engine::allocation_kind>(allocation);
  rules.percent_rounding = static_cast<engine::rounding>(rounding);
  if (rules.allocation != engine::allocation_kind::percent &&
      (t->get("percent") != nullptr || t->get("rounding") != nullptr ||
       t->get("keep_one") != nullptr)) {
    return config_error{p + "allocation", "percent, rounding and keep_one need allocation = "
                                          "\"percent\""};
  }
  if (rules.allocation == engine::allocation_kind::percent && t->get("percent") == nullptr) {
    return config_error{p + "percent", "is required with allocation = \"percent\""};
  }
  if (rules.allocation != engine::allocation_kind::fixed && t->get("fixed") != nullptr) {
    return config_error{p + "allocation", "fixed needs allocation = \"fixed\""};
  }
  if (rules.allocation == engine::allocation_kind::fixed && t->get("fixed") == nullptr) {
    return config_error{p + "fixed", "is required with allocation = \"fixed\""};
  }
  if (rules.max && rules.floor && *rules.floor > *rules.max) {
    return config_error{p + "floor", "must not be above max"};
  }
  return std::nullopt;
}

bool is_loopback_http(std::string_view url) {
  for (std::string_view host : {"http://127.", "http://localhost:", "http://localhost/",
                                "http://[::1]"}) {
    if (url.substr(0, host.size()) == host) {
      return true;
    }
  }
  return false;
}

std::optional<config_error> read_channel_endpoint(const toml::table& t, const std::string& p,
                                                  connectors::channel_options& out) {
  if (auto e = read_string(t, "endpoint", p, out.endpoint)) {
    return e;
  }
  if (out.endpoint.empty()) {
    return config_error{p + "endpoint", "is required: the API's URL"};
  }
  if (out.endpoint.substr(0, 8) != "https://" && !is_loopback_http(out.endpoint)) {
    return config_error{p + "endpoint", "must be https:// (plain http:// only on loopback, for "
                                        "emulators)"};
  }
  if (auto e = read_string(t, "credentials", p, out.credentials)) {
    return e;
  }
  if (!out.credentials.empty() && out.credentials.substr(0, 4) != "env:" &&
      out.credentials.substr(0, 5) != "file:") {
    return config_error{p + "credentials", "must be a reference (\"env:NAME\" or "
                                           "\"file:/path\"), never the secret itself"};
  }
  return std::nullopt;
}

// SP-API seller and marketplace ids are short upper-case alphanumerics ("A1B2C3D4E5F6G7",
// "ATVPDKIKX0DER"); they go into the request path and query as they are, so nothing else passes.
bool is_amazon_id(std::string_view s) {
  if (s.empty() || s.size() > 32) {
    return false;
  }
  for (char c : s) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
      return false;
    }
  }
  return true;
}

// seller_id and marketplace_id: required for amazon, meaningless (so refused) for the others.
std::optional<config_error> read_channel_account(const toml::table& t, const std::string& p,
                                                 connectors::channel_options& out) {
  const bool amazon = out.connector == connectors::connector_kind::amazon;
  for (std::string_view key : {"seller_id", "marketplace_id"}) {
    std::string& value = key == "seller_id" ? out.seller_id : out.marketplace_id;
    if (!amazon) {
      if (t.get(key) != nullptr) {
        return config_error{p + std::string(key), "is only for connector = \"amazon\""};
      }
      continue;
    }
    if (auto e = read_string(t, key, p, value)) {
      return e;
    }
    if (!is_amazon_id(value)) {
      return config_error{p + std::string(key),
                          value.empty() ? "is required for connector = \"amazon\""
                                        : "must be 1 to 32 upper-case letters and digits"};
    }
  }
  // Login with Amazon's token endpoint (used when the credentials are the refresh-token form).
  if (t.get("lwa_endpoint") != nullptr) {
    if (!amazon) {
      return config_error{p + "lwa_endpoint", "is only for connector = \"amazon\""};
    }
    if (auto e = read_string(t, "lwa_endpoint", p, out.lwa_endpoint)) {
      return e;
    }
    if (out.lwa_endpoint.substr(0, 8) != "https://" && !is_loopback_http(out.lwa_endpoint)) {
      return config_error{p + "lwa_endpoint", "must be https:// (plain http:// only on "
                                              "loopback, for emulators)"};
    }
  }
  return std::nullopt;
}

std::optional<config_error> read_channel_pacing(const toml::table& t, const std::string& p,
                                                connectors::channel_options& out) {
  if (out.connector == connectors::connector_kind::shopify) {
    for (std::string_view key : {"requests_per_second", "burst"}) {
      if (t.get(key) != nullptr) {
        // Refused rather than ignored: a reader would believe it caps the channel.
        return config_error{p + std::string(key),
                            "is not for connector \"shopify\": it paces on the cost bucket "
                            "the shop reports"};
      }
    }
  }
  if (const toml::node* rate = t.get("requests_per_second")) {
    auto value = rate->value<double>();
    if (!value || !(*value > 0.0) || *value > 10'000.0) {
      return config_error{p + "requests_per_second", "must be a number above 0 and at most "
                                                     "10000"};
    }
    out.requests_per_second = *value;
  }
  const std::int64_t batch_high = out.connector == connectors::connector_kind::shopify ? 250
                                  : out.connector == connectors::connector_kind::amazon ? 10'000
                                                                                        : 100'000;
  std::size_t push = 0;
  std::optional<config_error> e;
  (e = read_int(t, "burst", p, 1, 10'000, out.burst)) ||
      (e = read_int(t, "batch_size", p, 1, batch_high, out.batch_size)) ||
      (e = read_choice(t, "push", p, {"event", "interval"}, push)) ||
      (e = read_ms(t, "push_interval_ms", p, 100, 86'400'000, out.push_interval)) ||
      (e = read_ms(t, "settle_ms", p, 0, 3'600'000, out.settle)) ||
      (e = read_ms(t, "unseen_hold_ms", p, 1'000, 86'400'000, out.unseen_hold));
  out.push = static_cast<connectors::push_mode>(push);
  if (e) {
    return e;
  }
  std::int64_t cycle_s = out.reconcile_cycle.count();
  std::size_t policy = static_cast<std::size_t>(out.reconcile);
  (e = read_int(t, "reconcile_cycle_s", p, 0, 604'800, cycle_s)) ||
      (e = read_choice(t, "reconcile_policy", p, {"report", "correct", "alert"}, policy));
  out.reconcile_cycle = std::chrono::seconds(cycle_s);
  out.reconcile = static_cast<connectors::reconcile_policy>(policy);
  return e;
}

/// The mutation names its location by GID; one channel sets one Shopify location's quantity.
std::optional<config_error> read_shopify_location(const toml::table& t, const std::string& p,
                                                  connectors::channel_options& out) {
  const bool shopify = out.connector == connectors::connector_kind::shopify;
  if (t.get("shopify_location") == nullptr) {
    return shopify ? std::optional<config_error>(config_error{
                         p + "shopify_location",
                         "is required for connector \"shopify\": the Location GID it sets, e.g. "
                         "\"gid://shopify/Location/1\""})
                   : std::nullopt;
  }
  if (!shopify) {
    return config_error{p + "shopify_location", "is only for connector \"shopify\""};
  }
  if (auto e = read_string(t, "shopify_location", p, out.shopify_location)) {
    return e;
  }
  constexpr std::string_view prefix = "gid://shopify/Location/";
  const std::string& gid = out.shopify_location;
  if (gid.size() <= prefix.size() || gid.substr(0, prefix.size()) != prefix ||
      gid.find_first_not_of("0123456789", prefix.size()) != std::string::npos) {
    return config_error{p + "shopify_location",
                        "must be a Location GID such as \"gid://shopify/Location/1\""};
  }
  return std::nullopt;
}

bool is_credentials_reference(std::string_view text) {
  return text.substr(0, 4) == "env:" || text.substr(0, 5) == "file:";
}

/// Inbound Shopify webhooks (connectors/shopify_webhook.hpp): the signing secret by reference,
/// the previous one with the end of its rotation window, and the shop's domain.
std::optional<config_error> read_channel_webhooks(const toml::table& t, const std::string& p,
                                                  connectors::channel_options& out) {
  using connectors::connector_kind;
  const bool allowed = out.connector == connector_kind::shopify ||
                       out.connector == connector_kind::none;
  for (std::string_view key : {"webhook_secret", "webhook_secret_previous",
                               "webhook_secret_previous_until", "shop_domain"}) {
    if (t.get(key) != nullptr && !allowed) {
      return config_error{p + std::string(key), "is only for connector \"shopify\" or \"none\""};
    }
  }
  for (std::string_view key : {"webhook_secret", "webhook_secret_previous"}) {
    std::string& value = key == "webhook_secret" ? out.webhook_secret : out.webhook_secret_previous;
    if (auto e = read_string(t, key, p, value)) {
      return e;
    }
    if (t.get(key) != nullptr && !is_credentials_reference(value)) {
      return config_error{p + std::string(key), "must be a reference (\"env:NAME\" or "
                                                "\"file:/path\"), never the secret itself"};
    }
  }
  if (!out.webhook_secret_previous.empty() && out.webhook_secret.empty()) {
    return config_error{p + "webhook_secret_previous", "needs webhook_secret (the new secret)"};
  }
  const toml::node* until = t.get("webhook_secret_previous_until");
  if (!out.webhook_secret_previous.empty() && until == nullptr) {
    return config_error{p + "webhook_secret_previous_until",
                        "is required with webhook_secret_previous: when the rotation ends, as "
                        "an RFC 3339 time"};
  }
  if (until != nullptr) {
    auto text = until->value_exact<std::string>();
    auto parsed = text ? engine::parse_rfc3339(*text) : std::nullopt;
    if (!parsed) {
      return config_error{p + "webhook_secret_previous_until",
                          "must be an RFC 3339 time string, e.g. \"2026-11-28T12:00:00Z\""};
    }
    if (out.webhook_secret_previous.empty()) {
      return config_error{p + "webhook_secret_previous_until",
                          "is only meaningful with webhook_secret_previous"};
    }
    out.webhook_secret_previous_until = *parsed;
  }
  if (auto e = read_string(t, "shop_domain", p, out.shop_domain)) {
    return e;
  }
  if (t.get("shop_domain") != nullptr) {
    const bool valid = !out.shop_domain.empty() && out.shop_domain.size() <= 255 &&
                       out.shop_domain.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyz0123456789-.") == std::string::npos;
    if (!valid) {
      return config_error{p + "shop_domain",
                          "must be the shop's domain in lower case, e.g. "
                          "\"example.myshopify.com\""};
    }
  }
  return std::nullopt;
}

/// mode = "live" | "shadow" and how often a shadow channel is read back.
std::optional<config_error> read_channel_mode(const toml::table& t, const std::string& p,
                                              connectors::channel_options& out) {
  std::size_t mode = 0;
  std::optional<config_error> e;
  (e = read_choice(t, "mode", p, {"live", "shadow"}, mode)) ||
      (e = read_ms(t, "shadow_read_interval_ms", p, 1'000, 86'400'000,
                   out.shadow_read_interval));
  if (e) {
    return e;
  }
  out.mode = static_cast<connectors::channel_mode>(mode);
  if (out.mode != connectors::channel_mode::shadow && t.get("shadow_read_interval_ms") != nullptr) {
    // Refused rather than ignored: a reader would believe the live channel is read back on it.
    return config_error{p + "shadow_read_interval_ms", "is only for mode = \"shadow\""};
  }
  return std::nullopt;
}

std::optional<config_error> read_channels(const toml::array& channels, settings& s,
                                          catalog_parts& parts) {
  std::set<std::string> ids;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    const std::string p = "channels[" + std::to_string(i) + "].";
    const toml::table* t = channels[i].as_table();
    if (t == nullptr) {
      return config_error{"channels[" + std::to_string(i) + "]", "must be a table"};
    }
    if (auto e = check_keys(*t, p,
                            {"id", "connector", "endpoint", "credentials", "locations", "rules",
                             "requests_per_second", "burst", "batch_size", "push",
                             "push_interval_ms", "settle_ms", "unseen_hold_ms", "seller_id",
                             "marketplace_id", "lwa_endpoint", "shopify_location",
                             "webhook_secret", "webhook_secret_previous",
                             "webhook_secret_previous_until", "shop_domain", "reconcile_cycle_s",
                             "reconcile_policy", "mode",
                             "shadow_read_interval_ms"})) {
      return e;
    }
    std::string id;
    if (auto e = read_unique_identifier(*t, "id", p, "channel id", ids, id)) {
      return e;
    }
    connectors::channel_options options;
    options.id = engine::channel_id(id);
    if (t->get("connector") == nullptr) {
      return config_error{p + "connector",
                          "is required: \"shopify\", \"amazon\", \"webhook\" or \"none\""};
    }
    std::size_t connector = 0;
    if (auto e = read_choice(*t, "connector", p, {"shopify", "amazon", "webhook", "none"},
                             connector)) {
      return e;
    }
    options.connector = static_cast<connectors::connector_kind>(connector);
    if (options.connector == connectors::connector_kind::none) {
      // Nothing is pushed, so nothing about pushing may be set: a reader would believe it is.
      for (std::string_view key : {"endpoint", "credentials", "requests_per_second", "burst",
                                   "batch_size", "push", "push_interval_ms", "settle_ms",
                                   "unseen_hold_ms", "reconcile_cycle_s", "reconcile_policy", "mode",
                                   "shadow_read_interval_ms"}) {
        if (t->get(key) != nullptr) {
          return config_error{p + std::string(key),
                              "is not for connector \"none\": it pushes nothing"};
        }
      }
    }
    if (options.connector == connectors::connector_kind::shopify) {
      options.batch_size = 250;
    }
    if (options.connector == connectors::connector_kind::amazon) {
      // patchListingsItem's token bucket (reference/channels.md); x-amzn-RateLimit-Limit
      // corrects the rate at run time.
      options.requests_per_second = 5.0;
      options.burst = 5;
    }
    if (options.connector != connectors::connector_kind::none) {
      if (auto e = read_channel_endpoint(*t, p, options)) {
        return e;
      }
    }
    if (auto e = read_channel_account(*t, p, options)) {
      return e;
    }
    if (auto e = read_channel_pacing(*t, p, options)) {
      return e;
    }
    if (auto e = read_shopify_location(*t, p, options)) {
      return e;
    }
    if (auto e = read_channel_webhooks(*t, p, options)) {
      return e;
    }
    if (auto e = read_channel_mode(*t, p, options)) {
      return e;
    }
    engine::channel_info info{options.id, {}, {}};
    const toml::array* locations = t->get_as<toml::array>("locations");
    if (locations == nullptr || locations->empty()) {
      return config_error{p + "locations", "is required: the locations it sells from, in "
                                           "priority order, e.g. [\"DC-EAST\", \"DC-WEST\"]"};
    }
    for (const auto& node : *locations) {
      auto name = node.value_exact<std::string>();
      if (!name) {
        return config_error{p + "locations", "must be a list of location ids"};
      }
      bool known = false;
      for (const auto& location : parts.locations) {
        known = known || location.id.str() == *name;
      }
      if (!known) {
        return config_error{p + "locations", "unknown location '" + *name + "'"};
      }
      for (const auto& earlier : info.locations) {
        if (earlier.str() == *name) {
          return config_error{p + "locations", "location '" + *name + "' is listed twice"};
        }
      }
      info.locations.emplace_back(*name);
    }
    if (const toml::node* rules = t->get("rules")) {
      if (auto e = read_rules(*rules, p + "rules", info.rules)) {
        return e;
      }
    }
    parts.channels.push_back(std::move(info));
    s.channels.push_back(std::move(options));
  }
  return std::nullopt;
}

std::optional<config_error> read_log(const toml::table& t, settings& s) {
  const std::string p = "log.";
  if (auto e = check_keys(t, p, {"level"})) {
    return e;
  }
  std::size_t level = static_cast<std::size_t>(s.log_level);
  // Same order as actors::log_level.
  if (auto e = read_choice(t, "level", p, {"debug", "info", "warn", "error", "off"}, level)) {
    return e;
  }
  s.log_level = static_cast<actors::log_level>(level);
  return std::nullopt;
}

std::optional<config_error> read_alerting(const toml::table& t, settings& s) {
  const std::string p = "alerting.";
  if (auto e = check_keys(t, p, {"check_interval_ms"})) {
    return e;
  }
  return read_ms(t, "check_interval_ms", p, 100, 3'600'000, s.alert_check_interval);
}

// A ratio in (0, 1]; absent leaves `out` unchanged.
std::optional<config_error> read_ratio(const toml::table& t, std::string_view key,
                                       const std::string& prefix, double& out) {
  const toml::node* node = t.get(key);
  if (node == nullptr) {
    return std::nullopt;
  }
  auto value = node->value<double>();
  if (!value || !(*value > 0.0) || *value > 1.0) {
    return config_error{prefix + std::string(key), "must be a number above 0 and at most 1"};
  }
  out = *value;
  return std::nullopt;
}

std::optional<config_error> read_alerts(const toml::array& sinks, settings& s) {
  for (std::size_t i = 0; i < sinks.size(); ++i) {
    const std::string p = "alerts[" + std::to_string(i) + "].";
    const toml::table* t = sinks[i].as_table();
    if (t == nullptr) {
      return config_error{"alerts[" + std::to_string(i) + "]", "must be a table"};
    }
    if (auto e = check_keys(*t, p,
                            {"url", "secret", "min_severity", "out_of_sync_after_s",
                             "rejected_spike_per_minute", "map_used_ratio", "variance_skus",
                             "variance_units", "repeat_after_s", "quiet_after_s", "per_hour_max",
                             "systemic_ratio", "systemic_skus_min"})) {
      return e;
    }
    actors::alert_sink_options o;
    std::size_t severity = static_cast<std::size_t>(o.min_severity);
    std::int64_t out_of_sync_s = o.thresholds.out_of_sync_after.count();
    std::int64_t repeat_s = o.repeat_after.count();
    std::int64_t quiet_s = o.quiet_after.count();
    std::optional<config_error> e;
    (e = read_string(*t, "url", p, o.url)) || (e = read_string(*t, "secret", p, o.secret_ref)) ||
        (e = read_choice(*t, "min_severity", p, {"info", "warning", "critical"}, severity)) ||
        (e = read_int(*t, "out_of_sync_after_s", p, 1, 30 * 86'400, out_of_sync_s)) ||
        (e = read_int(*t, "rejected_spike_per_minute", p, 1, 1'000'000'000,
                      o.thresholds.rejected_per_minute)) ||
        (e = read_ratio(*t, "map_used_ratio", p, o.thresholds.map_used_ratio)) ||
        (e = read_int(*t, "variance_skus", p, 1, 1'000'000'000, o.thresholds.variance_skus)) ||
        (e = read_int(*t, "variance_units", p, 1, 1'000'000'000'000, o.thresholds.variance_units)) ||
        (e = read_int(*t, "repeat_after_s", p, 1, 7 * 86'400, repeat_s)) ||
        (e = read_int(*t, "quiet_after_s", p, 1, 86'400, quiet_s)) ||
        (e = read_int(*t, "per_hour_max", p, 1, 100'000, o.per_hour_max)) ||
        (e = read_ratio(*t, "systemic_ratio", p, o.systemic_ratio)) ||
        (e = read_int(*t, "systemic_skus_min", p, 1, 1'000'000'000, o.systemic_skus_min));
    if (e) {
      return e;
    }
    if (!o.url.starts_with("http://") && !o.url.starts_with("https://")) {
      return config_error{p + "url", "is required: an http:// or https:// URL"};
    }
    if (!o.secret_ref.starts_with("env:") && !o.secret_ref.starts_with("file:")) {
      return config_error{p + "secret",
                          "is required: a reference such as \"env:ALERT_SECRET\", never the "
                          "secret itself"};
    }
    o.min_severity = static_cast<actors::alert_severity>(severity);
    o.thresholds.out_of_sync_after = std::chrono::seconds(out_of_sync_s);
    o.repeat_after = std::chrono::seconds(repeat_s);
    o.quiet_after = std::chrono::seconds(quiet_s);
    s.alerts.push_back(std::move(o));
  }
  return std::nullopt;
}

} // namespace

std::string config_error::to_string() const {
  return key.empty() ? message : key + ": " + message;
}

std::optional<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find("]:");
    if (close == std::string_view::npos) {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return std::nullopt;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  // A bracket inside the host ("[[a]]:80" read as host "[a]") or a space or control character
  // is no address: refuse it here, naming the key, rather than failing to bind at start-up.
  const bool host_ok = std::all_of(host.begin(), host.end(), [](char c) {
    return c != '[' && c != ']' && static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
  });
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (host.empty() || !host_ok || ec != std::errc{} || ptr != port.data() + port.size() ||
      value > 65535) {
    return std::nullopt;
  }
  return std::pair{std::string(host), static_cast<std::uint16_t>(value)};
}

settings embedded_default() {
  settings s;
  s.store.dir = "./data";
  s.catalog = engine::catalog({engine::location_info{engine::location_id("main"), {}}});
  s.source = "embedded default";
  return s;
}

stockd::result<settings, config_error> parse(std::string_view toml_text, std::string source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string_view(source_name));
  } catch (const toml::parse_error& err) {
    std::ostringstream where;
    where << "line " << err.source().begin.line << ", column " << err.source().begin.column;
    return fail{config_error{where.str(), std::string(err.description())}};
  }
  settings s = embedded_default();
  s.source = std::move(source_name);
  if (auto e = check_keys(root, "", {"server", "engine", "store", "limits", "tokens",
                                     "locations", "channels", "skus", "mappings", "log",
                                     "alerting", "alerts"})) {
    return fail{*e};
  }
  auto section = [&](std::string_view name, auto reader) -> std::optional<config_error> {
    const toml::node* node = root.get(name);
    if (node == nullptr) {
      return std::nullopt;
    }
    const toml::table* t = node->as_table();
    if (t == nullptr) {
      return config_error{std::string(name), "must be a table ([" + std::string(name) + "])"};
    }
    return reader(*t, s);
  };
  auto array = [&](std::string_view name, auto reader) -> std::optional<config_error> {
    const toml::node* node = root.get(name);
    if (node == nullptr) {
      return std::nullopt;
    }
    const toml::array* a = node->as_array();
    if (a == nullptr) {
      return config_error{std::string(name),
                          "must be an array of tables ([[" + std::string(name) + "]])"};
    }
    return reader(*a, s);
  };
  std::optional<config_error> e;
  (e = section("server", read_server)) || (e = section("engine", read_engine)) ||
      (e = section("store", read_store)) || (e = section("limits", read_limits)) ||
      (e = array("tokens", read_tokens)) || (e = array("locations", read_locations)) ||
      (e = section("log", read_log)) || (e = section("alerting", read_alerting)) ||
      (e = array("alerts", read_alerts));
  if (e) {
    return fail{*e};
  }
  catalog_parts parts{s.catalog.locations(), {}, {}, {}};
  auto skus = [&parts](const toml::array& a, settings& in) { return read_skus(a, in, parts); };
  auto mappings = [&parts](const toml::array& a, settings& in) {
    return read_mappings(a, in, parts);
  };
  auto channels = [&parts](const toml::array& a, settings& in) {
    return read_channels(a, in, parts);
  };
  (e = array("skus", skus)) || (e = array("mappings", mappings)) ||
      (e = array("channels", channels));
  if (e) {
    return fail{*e};
  }
  s.catalog = engine::catalog(std::move(parts.locations), std::move(parts.skus),
                              std::move(parts.mappings), std::move(parts.channels));
  return s;
}

stockd::result<settings, config_error> load_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return fail{config_error{"", "cannot read config file '" + path.string() + "'"}};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

} // namespace stockd::config
