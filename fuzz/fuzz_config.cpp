// Fuzzes the settings parser (config/config.hpp): TOML text to the option structs of every layer.
// Properties checked:
//  - the parser returns settings or an error; an error names where: "line L, column C" for a
//    TOML syntax error, else the key (e.g. "locations[2].id"), and always says what is wrong;
//  - parsing is deterministic;
//  - accepted settings hold what the other layers assume without checking again: the catalog's
//    preconditions (unique ids, factors and component quantities >= 1, no kit in a kit, channel
//    locations configured), limits within their documented ranges, tokens as SHA-256 digests
//    with a scope, a listen address that parse_listen reads back, channel rules whose quantity
//    is never negative.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "engine/channel_rules.hpp"
#include "fuzz/fuzz_check.hpp"

namespace {

namespace config = stockd::config;
namespace engine = stockd::engine;

bool is_position(std::string_view key) {
  // "line L, column C"
  if (!key.starts_with("line ")) {
    return false;
  }
  const auto comma = key.find(", column ");
  return comma != std::string_view::npos && comma > 5 && comma + 9 < key.size();
}

bool is_sha256_hex(std::string_view digest) {
  return digest.size() == 64 &&
         digest.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

void check_catalog(const config::settings& s) {
  const engine::catalog& catalog = s.catalog;
  std::set<std::string> locations;
  for (const auto& location : catalog.locations()) {
    FUZZ_CHECK(!location.id.str().empty());
    FUZZ_CHECK(locations.insert(location.id.str()).second);
  }
  FUZZ_CHECK(!locations.empty());
  for (const auto& channel : catalog.channels()) {
    FUZZ_CHECK(!channel.locations.empty());
    for (const auto& location : channel.locations) {
      FUZZ_CHECK(catalog.has_location(location));
    }
    FUZZ_CHECK(catalog.find_channel(channel.id) == &channel);
    const auto& rules = channel.rules;
    FUZZ_CHECK(rules.percent >= 0 && rules.percent <= 100);
    FUZZ_CHECK(rules.fixed >= 0 && rules.buffer >= 0 && rules.preorder_limit >= 0);
    constexpr std::int64_t huge = std::numeric_limits<std::int64_t>::max();
    for (std::int64_t pool : {std::int64_t{0}, std::int64_t{1}, std::int64_t{3},
                              std::int64_t{1'000'000'007}, huge / 2, huge}) {
      FUZZ_CHECK(engine::allocate(rules, pool) >= 0);
    }
  }
  FUZZ_CHECK(s.channels.size() == catalog.channels().size());
  for (std::size_t i = 0; i < s.channels.size(); ++i) {
    FUZZ_CHECK(s.channels[i].id == catalog.channels()[i].id);
  }
}

// Every configured alias resolves to its location (the catalog keeps the first of two, so a
// duplicate that the parser let through would silently point elsewhere for one of them).
void check_aliases(const config::settings& s) {
  for (const auto& location : s.catalog.locations()) {
    for (const auto& [source, name] : location.aliases) {
      FUZZ_CHECK(!name.empty() && !source.str().empty());
      FUZZ_CHECK(s.catalog.resolve_location(source, name) == location.id);
    }
  }
}

void check_settings(const config::settings& s) {
  FUZZ_CHECK(s.decode.events_max >= 1 && s.decode.events_max <= 1'000'000);
  FUZZ_CHECK(s.decode.string_bytes_max >= 8 && s.decode.string_bytes_max <= 400);
  FUZZ_CHECK(s.decode.qty_max >= 1 && s.decode.qty_max <= 2'000'000'000);
  FUZZ_CHECK(s.decode.depth_max >= 2);
  FUZZ_CHECK(s.server.header_bytes_max >= 1 && s.server.body_bytes_max >= 1);
  FUZZ_CHECK(s.server.snapshot_line_bytes_max >= 1 && s.server.snapshot_chunk_bytes >= 1);
  FUZZ_CHECK(!s.server.listen_host.empty());
  const bool v6 = s.server.listen_host.find(':') != std::string::npos;
  const std::string listen = (v6 ? "[" + s.server.listen_host + "]" : s.server.listen_host) +
                             ":" + std::to_string(s.server.listen_port);
  const auto back = config::parse_listen(listen);
  FUZZ_CHECK(back && back->first == s.server.listen_host &&
             back->second == s.server.listen_port);
  for (const auto& token : s.server.tokens) {
    FUZZ_CHECK(is_sha256_hex(token.sha256_hex));
    FUZZ_CHECK(token.scopes != 0 && token.scopes <= 7);
  }
  FUZZ_CHECK(s.writer.batch_events_max >= 1);
  FUZZ_CHECK(s.store.map_size_max >= s.store.map_size_bytes);
  check_catalog(s);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = config::parse(text, "fuzz.toml");
  auto again = config::parse(text, "fuzz.toml");
  FUZZ_CHECK(parsed.has_value() == again.has_value());
  if (!parsed) {
    const auto& e = parsed.error();
    FUZZ_CHECK(!e.key.empty());
    FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(e.key == again.error().key && e.message == again.error().message);
    // A syntax error has a position; a key error names a key, never a bare "line ...".
    FUZZ_CHECK(!e.key.starts_with("line ") || is_position(e.key));
    return 0;
  }
  check_settings(*parsed);
  check_aliases(*parsed);
  return 0;
}
