#pragma once
// Config governance (issue 7): every accepted configuration is a stored version (at start and on
// each reload) with its time, the identity of the token that loaded it and a diff from the one
// before; GET /v1/config/versions lists them. POST /v1/admin/config/reload re-reads the file
// stockd was started with (or takes the TOML in the body), validates all of it, refuses what a
// running stockd cannot change (config/config_diff.hpp: restart_only) naming the key, and only
// then stores the version and applies it (actors::runtime::reconfigure). Also the shadow-mode
// report of one channel: GET /v1/channels/{id}/shadow.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "actors/runtime.hpp"
#include "config/config.hpp"
#include "config/config_diff.hpp"
#include "connectors/json_writer.hpp"
#include "server/api.hpp"
#include "store/database.hpp"
#include "store/writer.hpp"

namespace stockd::server {

/// Makes the channel actor setup (its connector) for a channel a reload adds. `info` points into
/// the catalog the reload publishes. An error names what is wrong (a missing secret, never the
/// secret itself); nothing of the reload is applied then.
using channel_factory = std::function<stockd::result<actors::channel_setup, std::string>(
    const connectors::channel_options& options, const engine::channel_info* info)>;

struct governance_options {
  /// The file stockd was started with; empty: the embedded default (a reload needs a body).
  std::string config_path;
  /// A reload's limit for each step that waits: the store, each channel's answer, seeding.
  std::chrono::milliseconds apply_timeout{30'000};
  std::size_t versions_page_max = 100;
};

class governance {
public:
  /// `file_settings` and `text`: the configuration as the file gave it (before --data, --listen
  /// and STOCKD_TOKEN), the base that reloads are compared with.
  governance(governance_options opts, store::database* db, store::writer* writer,
             actors::runtime* engine, channel_factory make_channel,
             config::settings file_settings, std::string text);
  ~governance();  // waits for a reload in progress
  governance(const governance&) = delete;
  governance& operator=(const governance&) = delete;

  /// Stores the start-up version (identity "startup", diff from the last stored version).
  /// Blocks until the store answers; the error when it failed.
  std::optional<std::string> record_startup();

  /// GET /v1/config/versions?limit=N&before=V&text=true (read scope, checked by the caller).
  void get_versions(const request& req, responder respond) const;
  /// POST /v1/admin/config/reload (admin scope, checked by the caller); `identity` is the
  /// token's name. Answers from a worker thread of its own: a reload waits on the store and the
  /// actors, never on an HTTP thread.
  void post_reload(request&& req, std::string identity, responder respond);
  /// GET /v1/channels/{id}/shadow (read scope, checked by the caller).
  void get_shadow(const request& req, std::string channel, responder respond) const;

  /// The version in force.
  std::uint64_t version() const;

private:
  struct outcome {
    http::status status = http::status::ok;
    std::string body;
  };
  outcome reload(const std::string& body, const std::string& identity);
  /// Stores a version; the error when it was not stored.
  std::optional<std::string> store(store::config_version_record record);

  governance_options opts_;
  store::database* db_;
  store::writer* writer_;
  actors::runtime* engine_;
  channel_factory make_channel_;
  mutable std::mutex mutex_;  // guards what follows
  bool reloading_ = false;    // one reload at a time: a second one is 409
  std::thread worker_;        // the last reload's thread (joined before the next starts)
  std::shared_ptr<const config::settings> current_;
  std::string current_text_;
  std::uint64_t version_ = 0;
};

/// The changes as the JSON array stored with a version and answered by a reload.
std::string changes_json(const std::vector<config::config_change>& changes);
/// A channel's mode and shadow report, as members of an open JSON object (/v1/status, and
/// GET /v1/channels/{id}/shadow).
void write_shadow(connectors::json_writer& w, const actors::channel_status& c);

} // namespace stockd::server
