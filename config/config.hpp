#pragma once
// The only code that reads the settings file (STYLE.md). Builds the option structs of the other
// layers from one TOML file, or from the embedded default when there is none (DESIGN §7).
#include <filesystem>
#include <optional>
#include <string>

#include "actors/alert_policy.hpp"
#include "actors/log.hpp"
#include "actors/options.hpp"
#include "connectors/channel_options.hpp"
#include "connectors/event_decoder.hpp"
#include "engine/catalog.hpp"
#include "engine/result.hpp"
#include "server/options.hpp"
#include "store/database.hpp"
#include "store/writer.hpp"

namespace stockd::config {

struct settings {
  server::options server;
  actors::options actors;
  store::options store;
  store::writer_options writer;
  connectors::decode_limits decode;
  engine::catalog catalog;  // locations, SKUs, mappings and the channels' locations and rules
  std::vector<connectors::channel_options> channels;  // how to reach each channel, same order
  /// `[log] level`: the structured log's threshold (actors/log.hpp).
  actors::log_level log_level = actors::log_level::info;
  /// `[[alerts]]`: the sinks, each with its thresholds; `secret` is left empty here (the caller
  /// resolves `secret_ref` at start-up, so a missing variable stops it with a clear message).
  std::vector<actors::alert_sink_options> alerts;
  /// `[alerting] check_interval_ms`: how often the alerts actor looks.
  std::chrono::milliseconds alert_check_interval{5000};
  std::string source;  // "embedded default" or the file's path, for the start-up banner
};

struct config_error {
  std::string key;      // e.g. "server.listen" or "locations[2].id"
  std::string message;  // what is wrong with it
  std::string to_string() const;
};

/// Parses TOML text. Unknown keys are errors (a typo must not silently fall back to a default).
stockd::result<settings, config_error> parse(std::string_view toml_text, std::string source_name);
/// Reads and parses a file; a missing or unreadable file is an error naming the path.
stockd::result<settings, config_error> load_file(const std::filesystem::path& path);
/// The embedded default: one location `main`, data in ./data, 127.0.0.1:8080.
settings embedded_default();

/// "HOST:PORT" (IPv6 as "[::1]:8080"); nullopt when malformed.
std::optional<std::pair<std::string, std::uint16_t>> parse_listen(std::string_view text);

} // namespace stockd::config
