#include "server/governance.hpp"

#include <charconv>
#include <cstdio>
#include <fstream>
#include <future>
#include <set>
#include <sstream>

#include "engine/time.hpp"
#include "server/url.hpp"

namespace stockd::server {

using connectors::json_writer;

namespace {

response json_response(http::status status, unsigned version, bool keep_alive, std::string body) {
  response res{status, version};
  res.set(http::field::server, "stockd");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string error_body(std::string_view message, std::string_view field = {}) {
  json_writer w;
  w.begin_object().field("error", message);
  if (!field.empty()) {
    w.field("field", field);
  }
  w.end_object();
  return w.take();
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<std::uint64_t> parse_u64(std::string_view text) {
  std::uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc{} || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return v;
}

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

std::string changes_json(const std::vector<config::config_change>& changes) {
  json_writer w;
  w.begin_array();
  for (const auto& c : changes) {
    w.begin_object();
    w.field("kind", config::to_string(c.kind)).field("path", c.path);
    w.key("before");
    c.kind == config::config_change::kind_t::added ? w.null() : w.value(c.before);
    w.key("after");
    c.kind == config::config_change::kind_t::removed ? w.null() : w.value(c.after);
    w.end_object();
  }
  w.end_array();
  return w.take();
}

void write_shadow(json_writer& w, const actors::channel_status& c) {
  w.field("mode", c.mode.empty() ? std::string_view("live") : std::string_view(c.mode));
  w.key("shadow");
  if (!c.shadow) {
    w.null();
    return;
  }
  const auto& s = *c.shadow;
  w.begin_object();
  w.field("skus_compared", static_cast<std::uint64_t>(s.compared));
  w.field("skus_equal", static_cast<std::uint64_t>(s.equal));
  w.field("skus_missing", static_cast<std::uint64_t>(s.missing));
  w.key("share_equal");
  if (s.share_equal) {
    w.value(*s.share_equal);
  } else {
    w.null();
  }
  w.field("differences_open", static_cast<std::uint64_t>(s.open));
  w.field("oldest_open_ms", s.oldest_open_ms);
  w.key("largest_differences").begin_array();
  for (const auto& d : s.largest) {
    w.begin_object();
    w.field("sku", d.sku.str()).field("would_push", d.expected);
    if (d.channel) {  // a SKU the channel does not list: null, and no difference to subtract
      w.field("channel_shows", *d.channel).field("difference", d.expected - *d.channel);
    } else {
      w.key("channel_shows").null();
      w.key("difference").null();
    }
    w.field("age_ms", d.age_ms);
    w.end_object();
  }
  w.end_array();
  w.key("ended_differences").begin_object();
  w.field("count", s.episodes_closed);
  w.field("longest_ms", s.longest_closed_ms).field("mean_ms", s.mean_closed_ms);
  w.end_object();
  w.field("rounds", s.rounds).field("comparisons", s.comparisons);
  w.field("reads", c.shadow_reads).field("read_failures", c.shadow_read_failures);
  w.key("last_round_age_ms");
  s.last_round_age_ms ? w.value(*s.last_round_age_ms) : w.null();
  w.end_object();
}

governance::governance(governance_options opts, store::database* db, store::writer* writer,
                       actors::runtime* engine, channel_factory make_channel,
                       config::settings file_settings, std::string text)
    : opts_(std::move(opts)),
      db_(db),
      writer_(writer),
      engine_(engine),
      make_channel_(std::move(make_channel)),
      current_(std::make_shared<const config::settings>(std::move(file_settings))),
      current_text_(std::move(text)) {}

governance::~governance() {
  std::thread worker;
  {
    std::lock_guard lock(mutex_);
    worker = std::move(worker_);
  }
  if (worker.joinable()) {
    worker.join();
  }
}

std::uint64_t governance::version() const {
  std::lock_guard lock(mutex_);
  return version_;
}

std::optional<std::string> governance::store(store::config_version_record record) {
  std::promise<std::optional<std::string>> stored;
  auto answer = stored.get_future();
  const bool queued = writer_->submit_config_version(
      std::move(record), [&stored](const store::error* failure) {
        stored.set_value(failure == nullptr ? std::nullopt
                                            : std::optional<std::string>(failure->message));
      });
  if (!queued) {
    return "the journal writer refused it (stopping, failed, or too many versions queued)";
  }
  // The writer completes every job it accepted (stop() drains its queue), so this ends.
  return answer.get();
}

std::optional<std::string> governance::record_startup() {
  auto last = db_->read_config_versions(0, 1);
  if (!last) {
    return "reading config versions: " + last.error().message;
  }
  std::shared_ptr<const config::settings> current;
  std::string text;
  {
    std::lock_guard lock(mutex_);
    current = current_;
    text = current_text_;
  }
  store::config_version_record record;
  record.version = last->empty() ? 1 : last->front().version + 1;
  record.at_ms = unix_ms_now();
  record.identity = "startup";
  record.source = current->source;
  record.text = text;
  record.diff_json = "[]";
  if (!last->empty()) {
    // The diff from the last run's configuration, when it still parses (it may not, after an
    // upgrade that changed the file's format: then the diff is null).
    auto before = config::parse(last->front().text, last->front().source);
    record.diff_json = before ? changes_json(config::diff(*before, *current)) : "null";
  }
  const std::uint64_t version = record.version;
  if (auto failed = store(std::move(record))) {
    return failed;
  }
  std::lock_guard lock(mutex_);
  version_ = version;
  return std::nullopt;
}

void governance::get_versions(const request& req, responder respond) const {
  const unsigned v = req.version();
  const bool keep_alive = req.keep_alive();
  const std::string_view query = query_of(std::string_view(req.target().data(),
                                                           req.target().size()));
  std::uint64_t limit = 20;
  if (auto p = query_param(query, "limit")) {
    auto n = parse_u64(*p);
    if (!n || *n == 0 || *n > opts_.versions_page_max) {
      respond(json_response(http::status::bad_request, v, keep_alive,
                            error_body("must be an integer from 1 to " +
                                           std::to_string(opts_.versions_page_max),
                                       "limit")));
      return;
    }
    limit = *n;
  }
  std::uint64_t before = 0;
  if (auto p = query_param(query, "before")) {
    auto n = parse_u64(*p);
    if (!n || *n == 0) {
      respond(json_response(http::status::bad_request, v, keep_alive,
                            error_body("must be a version number above 0", "before")));
      return;
    }
    before = *n;
  }
  bool with_text = false;
  if (auto p = query_param(query, "text")) {
    if (*p != "true" && *p != "false") {
      respond(json_response(http::status::bad_request, v, keep_alive,
                            error_body("must be true or false", "text")));
      return;
    }
    with_text = *p == "true";
  }
  auto versions = db_->read_config_versions(before, static_cast<std::size_t>(limit));
  if (!versions) {
    respond(json_response(http::status::internal_server_error, v, keep_alive,
                          error_body("reading config versions: " + versions.error().message)));
    return;
  }
  json_writer w;
  w.begin_object().field("current", version()).key("versions").begin_array();
  for (const auto& r : *versions) {
    w.begin_object();
    w.field("version", r.version);
    w.field("at", engine::format_rfc3339(engine::timestamp(std::chrono::milliseconds(r.at_ms))));
    w.field("identity", r.identity).field("source", r.source);
    w.key("changes").raw(r.diff_json.empty() ? std::string_view("null")
                                             : std::string_view(r.diff_json));
    if (with_text) {
      // The file as loaded: its secrets are references (env:NAME, file:/path) and token
      // digests, never the values (config/ refuses anything else).
      w.field("text", r.text);
    }
    w.end_object();
  }
  w.end_array();
  w.key("next_before");
  versions->size() == limit && !versions->empty() ? w.value(versions->back().version) : w.null();
  w.end_object();
  respond(json_response(http::status::ok, v, keep_alive, w.take()));
}

void governance::post_reload(request&& req, std::string identity, responder respond) {
  const unsigned v = req.version();
  const bool keep_alive = req.keep_alive();
  std::thread previous;
  {
    std::lock_guard lock(mutex_);
    if (reloading_) {
      respond(json_response(http::status::conflict, v, keep_alive,
                            error_body("a reload is in progress; try again when it is done")));
      return;
    }
    reloading_ = true;
    previous = std::move(worker_);
  }
  if (previous.joinable()) {
    previous.join();  // finished: reloading_ was false
  }
  std::string body = std::move(req.body());
  std::thread worker([this, body = std::move(body), identity = std::move(identity), v,
                      keep_alive, respond = std::move(respond)] {
    outcome out = reload(body, identity);
    {
      std::lock_guard lock(mutex_);
      reloading_ = false;
    }
    respond(json_response(out.status, v, keep_alive, std::move(out.body)));
  });
  std::lock_guard lock(mutex_);
  worker_ = std::move(worker);
}

governance::outcome governance::reload(const std::string& body, const std::string& identity) {
  auto refuse = [](http::status status, std::string_view message, std::string_view field = {}) {
    return outcome{status, error_body(message, field)};
  };
  // 1. The text: the body, or the file stockd was started with.
  std::string text;
  std::string source;
  if (!body.empty()) {
    text = body;
    source = "request body";
  } else if (opts_.config_path.empty()) {
    return refuse(http::status::unprocessable_entity,
                  "stockd runs on the embedded default (no --config): send the TOML in the body");
  } else if (auto read = read_text(opts_.config_path)) {
    text = std::move(*read);
    source = opts_.config_path;
  } else {
    return refuse(http::status::unprocessable_entity,
                  "cannot read config file '" + opts_.config_path + "'");
  }
  // 2. All of it is validated before anything is applied.
  auto parsed = config::parse(text, source);
  if (!parsed) {
    return refuse(http::status::unprocessable_entity, parsed.error().message, parsed.error().key);
  }
  std::shared_ptr<const config::settings> before;
  std::uint64_t version = 0;
  {
    std::lock_guard lock(mutex_);
    before = current_;
    version = version_;
  }
  const auto changes = config::diff(*before, *parsed);
  if (auto refused = config::restart_only(changes, *before, *parsed)) {
    return refuse(http::status::unprocessable_entity, refused->message, refused->key);
  }
  if (changes.empty()) {
    json_writer w;
    w.begin_object().field("version", version).field("applied", false);
    w.field("reason", "no change from the version in force").key("changes").raw("[]");
    w.end_object();
    return {http::status::ok, w.take()};
  }
  if (engine_->reloads() >= actors::runtime::reloads_max) {
    return refuse(http::status::service_unavailable,
                  "this process has applied " + std::to_string(actors::runtime::reloads_max) +
                      " reloads (each keeps its catalog alive): restart stockd");
  }
  // 3. The engine's half: the new catalog, the channels to start (their connectors built now,
  // so a missing secret refuses the reload before anything changed), stop and keep.
  actors::runtime::reconfiguration change;
  change.catalog = std::make_shared<const engine::catalog>(parsed->catalog);
  std::set<std::string> old_ids;
  for (const auto& o : before->channels) {
    old_ids.insert(o.id.str());
  }
  std::set<std::string> new_ids;
  std::vector<std::string> added_ids;
  for (const auto& o : parsed->channels) {
    new_ids.insert(o.id.str());
    if (old_ids.count(o.id.str()) != 0) {
      change.kept.push_back(o);
      continue;
    }
    auto setup = make_channel_(o, change.catalog->find_channel(o.id));
    if (!setup) {
      return refuse(http::status::unprocessable_entity, setup.error(), "channels." + o.id.str());
    }
    change.added.push_back(std::move(*setup));
    added_ids.push_back(o.id.str());
  }
  std::vector<std::string> removed_ids;
  for (const auto& o : before->channels) {
    if (new_ids.count(o.id.str()) == 0) {
      change.removed.push_back(o.id);
      removed_ids.push_back(o.id.str());
    }
  }
  // 4. Stored before it is applied: a version in the list is one that was accepted.
  const std::string diff = changes_json(changes);
  store::config_version_record record;
  record.version = version + 1;
  record.at_ms = unix_ms_now();
  record.identity = identity;
  record.source = source;
  record.text = text;
  record.diff_json = diff;
  if (auto failed = store(std::move(record))) {
    return refuse(http::status::internal_server_error,
                  "the version was not stored, nothing applied: " + *failed);
  }
  // 5. Applied: the catalog and the routes swap at once; channels follow (runtime.hpp).
  const auto applied = engine_->reconfigure(std::move(change), opts_.apply_timeout);
  {
    std::lock_guard lock(mutex_);
    current_ = std::make_shared<const config::settings>(std::move(*parsed));
    current_text_ = text;
    version_ = version + 1;
  }
  std::printf("stockd: config version %llu applied (by %s, %zu change(s))\n",
              static_cast<unsigned long long>(version + 1), identity.c_str(), changes.size());
  std::fflush(stdout);
  json_writer w;
  w.begin_object().field("version", version + 1).field("applied", true);
  w.field("identity", identity).field("source", source);
  w.key("changes").raw(diff);
  w.key("channels").begin_object();
  w.key("added").begin_array();
  for (const auto& id : added_ids) {
    w.value(id);
  }
  w.end_array().key("removed").begin_array();
  for (const auto& id : removed_ids) {
    w.value(id);
  }
  w.end_array().end_object();
  w.field("skus_requeued", applied.requeued);
  w.field("complete", applied.complete);
  w.key("problem");
  applied.problem.empty() ? w.null() : w.value(applied.problem);
  w.end_object();
  return {http::status::ok, w.take()};
}

void governance::get_shadow(const request& req, std::string channel, responder respond) const {
  const unsigned v = req.version();
  const bool keep_alive = req.keep_alive();
  engine_->channel_status_of(
      engine::channel_id(channel),
      [respond, v, keep_alive, channel](std::optional<actors::channel_status> status) {
        if (!status) {
          respond(json_response(http::status::not_found, v, keep_alive,
                                error_body("no such channel (or it did not answer in time)",
                                           "channel")));
          return;
        }
        json_writer w;
        w.begin_object().field("channel", channel);
        write_shadow(w, *status);
        w.end_object();
        respond(json_response(http::status::ok, v, keep_alive, w.take()));
      });
}

// api's dispatch for these routes (api.hpp: route_governance), here to keep api.cpp's edit small.
bool api::route_governance(request& req, std::string_view path, responder& respond) {
  constexpr std::string_view reload_path = "/v1/admin/config/reload";
  constexpr std::string_view versions_path = "/v1/config/versions";
  constexpr std::string_view channels_prefix = "/v1/channels/";
  constexpr std::string_view shadow_suffix = "/shadow";
  const bool shadow = path.starts_with(channels_prefix) && path.ends_with(shadow_suffix) &&
                      path.size() > channels_prefix.size() + shadow_suffix.size();
  if (path != reload_path && path != versions_path && !shadow) {
    return false;
  }
  const unsigned v = req.version();
  const bool keep_alive = req.keep_alive();
  if (deps_.config_governance == nullptr) {
    respond(error(http::status::not_found, v, keep_alive, "no such endpoint"));
    return true;
  }
  const bool post = path == reload_path;
  if (req.method() != (post ? http::verb::post : http::verb::get)) {
    respond(error(http::status::method_not_allowed, v, keep_alive, post ? "use POST" : "use GET"));
    return true;
  }
  if (!authorize(req, post ? scope::admin : scope::read, respond)) {
    return true;
  }
  if (post) {
    auto header = req[http::field::authorization];
    auto identity = auth_.identify(std::string_view(header.data(), header.size()));
    deps_.config_governance->post_reload(std::move(req), identity.value_or("unknown"),
                                  std::move(respond));
  } else if (path == versions_path) {
    deps_.config_governance->get_versions(req, std::move(respond));
  } else {
    auto id = percent_decode(path.substr(channels_prefix.size(),
                                         path.size() - channels_prefix.size() -
                                             shadow_suffix.size()));
    if (!id) {
      respond(error(http::status::bad_request, v, keep_alive, "malformed channel id", "channel"));
      return true;
    }
    deps_.config_governance->get_shadow(req, std::move(*id), std::move(respond));
  }
  return true;
}

} // namespace stockd::server
