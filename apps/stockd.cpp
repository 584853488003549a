// stockd: the server. Config → LMDB → journal writer → actor engine → recovery → HTTP.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <random>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <openssl/rand.h>
#include <pthread.h>

#include "actors/log.hpp"
#include "actors/runtime.hpp"
#include "connectors/amazon_client.hpp"
#include "connectors/credentials.hpp"
#include "connectors/http_client.hpp"
#include "connectors/shopify_client.hpp"
#include "connectors/webhook_client.hpp"
#include "config/config.hpp"
#include "server/api.hpp"
#include "server/auth.hpp"
#include "server/governance.hpp"
#include "server/http_server.hpp"
#include "server/shopify_webhooks.hpp"
#include "store/database.hpp"
#include "store/writer.hpp"

namespace {

constexpr const char* usage =
    "usage: stockd [--config FILE] [--data DIR] [--listen HOST:PORT]\n"
    "  --config FILE       TOML settings (default: the embedded default, one location 'main')\n"
    "  --data DIR          LMDB data directory (overrides server.data_dir; default ./data)\n"
    "  --listen HOST:PORT  HTTP address (overrides server.listen; default 127.0.0.1:8080)\n"
    "environment: STOCKD_TOKEN sets a bearer token with every scope (ingest, read, admin);\n"
    "  STOCKD_LOG_LEVEL (debug, info, warn, error, off) overrides [log] level\n";

struct command_line {
  std::string config;
  std::string data;
  std::string listen;
};

std::optional<command_line> parse_args(int argc, char** argv) {
  command_line cl;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "stockd: %s needs a value\n%s", arg.c_str(), usage);
        return false;
      }
      out = argv[++i];
      return true;
    };
    if (arg == "--config") {
      if (!value(cl.config)) return std::nullopt;
    } else if (arg == "--data") {
      if (!value(cl.data)) return std::nullopt;
    } else if (arg == "--listen") {
      if (!value(cl.listen)) return std::nullopt;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else {
      std::fprintf(stderr, "stockd: unknown argument '%s'\n%s", arg.c_str(), usage);
      return std::nullopt;
    }
  }
  return cl;
}

std::string random_token() {
  unsigned char bytes[24];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    std::fprintf(stderr, "stockd: fatal: no randomness for a development token\n");
    std::exit(1);
  }
  static constexpr char hex[] = "0123456789abcdef";
  std::string out = "dev-";
  for (unsigned char b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

} // namespace

namespace {
/// Prints, as the very last thing main does (it is destroyed after every other local), how long
/// the exit took after the stop signal: after "stopped at journal head" everything is durable,
/// and what remains is tearing the engine down (with millions of live actors, seconds to a
/// minute: simulator/README.md, large_catalog).
struct exit_timer {
  std::optional<std::chrono::steady_clock::time_point> signalled;
  void print() const {
    if (signalled) {
      std::printf("stockd: exited %.1f s after the signal\n",
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - *signalled)
                      .count());
      std::fflush(stdout);
    }
  }
  ~exit_timer() { print(); }
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool sanitized_build = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool sanitized_build = true;
#else
constexpr bool sanitized_build = false;
#endif
#else
constexpr bool sanitized_build = false;
#endif
} // namespace

int main(int argc, char** argv) {
  exit_timer exit_timing;
  // Signals are taken by sigwait on the main thread: block them before any thread starts so
  // every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto cl = parse_args(argc, argv);
  if (!cl) {
    return 2;
  }
  // The file's text is kept: it is stored as the start-up config version (server/governance.hpp).
  std::string config_text;
  if (!cl->config.empty()) {
    std::ifstream in(cl->config, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "stockd: config %s: cannot read config file '%s'\n",
                   cl->config.c_str(), cl->config.c_str());
      return 2;
    }
    std::ostringstream text;
    text << in.rdbuf();
    config_text = text.str();
  }
  auto loaded = cl->config.empty()
                    ? stockd::result<stockd::config::settings, stockd::config::config_error>(
                          stockd::config::embedded_default())
                    : stockd::config::parse(config_text, cl->config);
  if (!loaded) {
    std::fprintf(stderr, "stockd: config %s: %s\n", cl->config.c_str(),
                 loaded.error().to_string().c_str());
    return 2;
  }
  // As the file says, before the command line and the environment: what reloads compare with.
  const stockd::config::settings file_settings = *loaded;
  stockd::config::settings settings = std::move(*loaded);
  if (!cl->data.empty()) {
    settings.store.dir = cl->data;
  }
  if (!cl->listen.empty()) {
    auto hp = stockd::config::parse_listen(cl->listen);
    if (!hp) {
      std::fprintf(stderr, "stockd: --listen must be HOST:PORT, got '%s'\n", cl->listen.c_str());
      return 2;
    }
    settings.server.listen_host = hp->first;
    settings.server.listen_port = hp->second;
  }
  stockd::actors::set_log_level(settings.log_level);
  if (const char* env = std::getenv("STOCKD_LOG_LEVEL"); env != nullptr && *env != '\0') {
    auto level = stockd::actors::parse_log_level(env);
    if (!level) {
      std::fprintf(stderr, "stockd: STOCKD_LOG_LEVEL must be debug, info, warn, error or off\n");
      return 2;
    }
    stockd::actors::set_log_level(*level);
  }
  // Alert sinks' secrets are resolved now: a missing one stops start-up, naming the reference.
  for (std::size_t i = 0; i < settings.alerts.size(); ++i) {
    auto secret = stockd::connectors::resolve_credentials(settings.alerts[i].secret_ref);
    if (!secret) {
      std::fprintf(stderr, "stockd: alerts[%zu].secret: %s\n", i, secret.error().c_str());
      return 2;
    }
    settings.alerts[i].secret = std::move(*secret);
  }
  const auto all_scopes = static_cast<std::uint8_t>(
      static_cast<unsigned>(stockd::server::scope::ingest) |
      static_cast<unsigned>(stockd::server::scope::read) |
      static_cast<unsigned>(stockd::server::scope::admin));
  std::string printed_token;
  if (const char* env = std::getenv("STOCKD_TOKEN"); env != nullptr && *env != '\0') {
    settings.server.tokens.push_back({"STOCKD_TOKEN", stockd::server::sha256_hex(env), all_scopes});
  } else if (settings.server.tokens.empty()) {
    printed_token = random_token();
    settings.server.tokens.push_back(
        {"development", stockd::server::sha256_hex(printed_token), all_scopes});
  }

  auto db = stockd::store::database::open(settings.store);
  if (!db) {
    std::fprintf(stderr, "stockd: cannot open the data directory %s: %s\n",
                 settings.store.dir.c_str(), db.error().message.c_str());
    return 1;
  }
  // The watermarks must fit this run's shard layout before anything reads them (a changed
  // thread or shard count would otherwise make recovery skip events of the old layout).
  const auto layout = stockd::actors::runtime::resolve(settings.actors);
  if (auto prepared = (*db)->prepare_recovery(layout.shards); !prepared) {
    std::fprintf(stderr, "stockd: cannot prepare recovery: %s\n", prepared.error().message.c_str());
    return 1;
  }
  stockd::actors::metrics counters;
  stockd::store::writer writer(**db, settings.writer);
  // Outbound calls to channel APIs run on their own io thread ("stockd-connect"): one shared HTTP
  // client (keep-alive pool, TLS, limits) under every connector. Declared before the engine, so
  // the channel actors (which own the connectors) are gone before the client and its thread.
  boost::asio::io_context connect_io;
  auto connect_work = boost::asio::make_work_guard(connect_io);
  std::thread connect_thread([&connect_io] {
    pthread_setname_np(pthread_self(), "stockd-connect");
    connect_io.run();
  });
  struct connect_stopper {
    decltype(connect_work)& work;
    std::thread& thread;
    ~connect_stopper() {
      work.reset();
      thread.join();
    }
  } stop_connect{connect_work, connect_thread};
  stockd::connectors::http_client_options outbound;
  // An Amazon feed's processing report lists every rejected message: 25,000 of them run to
  // several MiB.
  outbound.response_body_bytes_max = 32 * 1024 * 1024;
  auto http_client = stockd::connectors::http_client::create(connect_io, outbound);
  if (!http_client) {
    std::fprintf(stderr, "stockd: outbound HTTP: %s\n", http_client.error().c_str());
    return 1;
  }
  // One channel actor per configured channel, each with its connector (connectors/*_client.hpp).
  // Also for the channels a reload adds (server/governance.hpp).
  const std::uint64_t boot = std::random_device{}() ^
                             static_cast<std::uint64_t>(
                                 std::chrono::system_clock::now().time_since_epoch().count());
  auto make_channel = [&](const stockd::connectors::channel_options& options,
                          const stockd::engine::channel_info* info)
      -> stockd::result<stockd::actors::channel_setup, std::string> {
    stockd::actors::channel_setup setup;
    setup.info = info;
    setup.options = options;
    setup.boot = boot;
    // The outbox: what each channel still has to be told, and under which keys, survives a
    // restart (connectors/outbox.hpp).
    setup.db = db->get();
    setup.persist = [&writer](std::vector<stockd::store::outbox_record> records,
                              stockd::store::outbox_completion done) {
      return writer.submit_outbox(std::move(records), std::move(done));
    };
    // Every connector refuses a channel it cannot serve (a missing secret, a bad endpoint) with
    // a message that names the reference, never the secret: start-up stops on it.
    namespace conn = stockd::connectors;
    std::string refused;
    switch (options.connector) {
    case conn::connector_kind::webhook:
      if (auto c = conn::webhook_client::create(**http_client, options)) {
        setup.client = std::move(*c);
        std::printf("stockd: channel %s: webhook to %s, %g requests/s, batches of %zu\n",
                    options.id.str().c_str(), options.endpoint.c_str(),
                    options.requests_per_second, setup.client->batch_max());
      } else {
        refused = c.error();
      }
      break;
    case conn::connector_kind::shopify:
      if (auto c = conn::shopify_client::create(**http_client, options)) {
        setup.client = std::move(*c);
        std::printf("stockd: channel %s: shopify to %s at %s, paced on the shop's cost bucket, "
                    "batches of %zu\n",
                    options.id.str().c_str(), options.endpoint.c_str(),
                    options.shopify_location.c_str(), setup.client->batch_max());
      } else {
        refused = c.error();
      }
      break;
    case conn::connector_kind::amazon:
      if (auto c = conn::amazon_client::create(**http_client, options)) {
        setup.client = std::move(*c);
        std::printf("stockd: channel %s: amazon seller %s in %s at %s, %g requests/s, one SKU "
                    "per call\n",
                    options.id.str().c_str(), options.seller_id.c_str(),
                    options.marketplace_id.c_str(), options.endpoint.c_str(),
                    options.requests_per_second);
      } else {
        refused = c.error();
      }
      break;
    case conn::connector_kind::none:
      std::printf("stockd: channel %s: connector none: expected values only, nothing pushed\n",
                  options.id.str().c_str());
      break;
    }
    if (!setup.client && options.connector != conn::connector_kind::none) {
      return stockd::unexpected<std::string>(refused);
    }
    if (options.mode == conn::channel_mode::shadow) {
      std::printf("stockd: channel %s: shadow mode: reads back every %lld ms, pushes nothing\n",
                  options.id.str().c_str(),
                  static_cast<long long>(options.shadow_read_interval.count()));
    }
    return setup;
  };
  std::vector<stockd::actors::channel_setup> channels;
  for (const auto& options : settings.channels) {
    auto setup = make_channel(options, settings.catalog.find_channel(options.id));
    if (!setup) {
      std::fprintf(stderr, "stockd: channels: %s: %s\n", options.id.str().c_str(),
                   setup.error().c_str());
      return 1;
    }
    channels.push_back(std::move(*setup));
  }
  stockd::actors::runtime engine(
      settings.actors, settings.catalog, db->get(),
      [&writer](std::vector<stockd::store::checkpoint_record> records, std::uint32_t shard,
                std::uint64_t watermark, stockd::store::checkpoint_completion done) {
        return writer.submit_checkpoints(std::move(records), shard, watermark, std::move(done));
      },
      counters,
      [&writer](std::vector<stockd::engine::journal_entry> entries,
                stockd::store::append_completion done) {
        return writer.submit(std::move(entries), std::move(done));
      },
      std::move(channels));
  writer.on_commit([&engine](std::uint64_t head) { engine.publish_head(head); });

  stockd::server::governance_options governance_opts;
  governance_opts.config_path = cl->config;
  stockd::server::governance governance(governance_opts, db->get(), &writer, &engine, make_channel,
                                        file_settings, config_text);
  if (auto failed = governance.record_startup()) {
    std::fprintf(stderr, "stockd: cannot store the config version: %s\n", failed->c_str());
    return 1;
  }

  stockd::server::api_dependencies deps;
  deps.opts = &settings.server;
  deps.catalog = engine.catalog();
  deps.config_governance = &governance;
  deps.limits = &settings.decode;
  deps.db = db->get();
  deps.writer = &writer;
  deps.engine = &engine;
  deps.counters = &counters;
  deps.in_flight_max = settings.actors.in_flight_max;
  // Shopify webhook secrets, resolved once (errors name the reference, never the secret).
  auto webhooks = stockd::server::resolve_shopify_webhooks(settings.channels);
  if (!webhooks) {
    std::fprintf(stderr, "stockd: channels: %s\n", webhooks.error().c_str());
    return 1;
  }
  deps.shopify_webhooks = &*webhooks;
  // The dashboard's last hour (GET /v1/history): sampled from the counters on its own thread.
  stockd::actors::history_sampler history(counters, settings.server.history_interval);
  history.start();
  deps.history = &history;
  stockd::server::api handler(deps);
  using stockd::server::listener_role;
  stockd::server::http_server http(settings.server, handler,
                                   settings.server.admin_listen ? listener_role::public_
                                                                : listener_role::all);
  if (auto err = http.start()) {
    std::fprintf(stderr, "stockd: %s\n", err->c_str());
    return 1;
  }
  // The admin listener, when configured: /v1/admin/* only there (and 404 on the public one).
  std::optional<stockd::server::http_server> admin_http;
  if (settings.server.admin_listen) {
    admin_http.emplace(settings.server, handler, listener_role::admin);
    if (auto err = admin_http->start()) {
      std::fprintf(stderr, "stockd: %s\n", err->c_str());
      http.stop();
      return 1;
    }
  }
  std::printf("stockd %s: config: %s; data: %s; listening on http://%s:%u\n", "0.1.0",
              settings.source.c_str(), settings.store.dir.c_str(),
              settings.server.listen_host.c_str(), static_cast<unsigned>(http.port()));
  if (admin_http) {
    std::printf("stockd: admin endpoints (/v1/admin/*) on http://%s:%u only\n",
                settings.server.admin_listen_host.c_str(),
                static_cast<unsigned>(admin_http->port()));
  }
  for (const auto& w : *webhooks) {
    std::printf("stockd: channel %s: Shopify webhooks at /v1/webhooks/shopify/%s%s%s%s\n",
                w.channel.str().c_str(), w.channel.str().c_str(),
                w.shop_domain.empty() ? "" : " and /v1/webhooks/shopify for ",
                w.shop_domain.c_str(),
                w.previous_secret.empty() ? "" : " (previous secret accepted during rotation)");
  }
  std::printf("stockd: %zu location(s), %u shard(s), %zu scheduler thread(s); recovering...\n",
              settings.catalog.locations().size(), engine.shards(), engine.scheduler_threads());
  std::fflush(stdout);

  auto replayed = engine.recover(std::chrono::hours(1));
  if (!replayed) {
    std::fprintf(stderr, "stockd: recovery failed (journal unreadable or replay timed out)\n");
    http.stop();
    if (admin_http) {
      admin_http->stop();
    }
    return 1;
  }
  if (!settings.alerts.empty()) {
    stockd::actors::alerts_setup alerting;
    alerting.sinks = settings.alerts;
    alerting.http = http_client->get();
    alerting.interval = settings.alert_check_interval;
    alerting.counters = &counters;
    alerting.db = db->get();
    alerting.data_dir = settings.store.dir;
    alerting.map_size_max = settings.store.map_size_max;
    engine.start_alerts(std::move(alerting));
    std::printf("stockd: alerts: %zu sink(s), checked every %lld ms\n", settings.alerts.size(),
                static_cast<long long>(settings.alert_check_interval.count()));
  }
  std::printf("stockd: ready: journal head %llu, %llu event(s) replayed\n",
              static_cast<unsigned long long>((*db)->journal_head()),
              static_cast<unsigned long long>(*replayed));
  if (!printed_token.empty()) {
    std::printf("stockd: development token (all scopes; set STOCKD_TOKEN or [[tokens]] to "
                "choose your own):\n  %s\n",
                printed_token.c_str());
    std::printf("try: curl -s -H 'Authorization: Bearer %s' http://%s:%u/v1/status\n",
                printed_token.c_str(), settings.server.listen_host.c_str(),
                static_cast<unsigned>(http.port()));
  }
  std::fflush(stdout);

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  exit_timing.signalled = std::chrono::steady_clock::now();
  std::printf("stockd: signal %d: shutting down\n", signal_number);
  std::fflush(stdout);
  // Order: stop taking requests; finish every queued commit (answers may be lost with their
  // connections, but the events are durable and a retry gets `duplicate`); let the actors apply
  // them; checkpoint so the next start replays little.
  http.stop();
  if (admin_http) {
    admin_http->stop();
  }
  for (int i = 0; i < 30'000 && writer.queued_events() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  engine.wait_idle(std::chrono::seconds(30));
  bool flushed = engine.flush(std::chrono::seconds(30));
  writer.stop();
  if (!flushed) {
    std::fprintf(stderr, "stockd: final checkpoint incomplete; the next start replays more\n");
  }
  std::printf("stockd: stopped at journal head %llu, %.1f s after the signal\n",
              static_cast<unsigned long long>((*db)->journal_head()),
              std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                            *exit_timing.signalled)
                  .count());
  if (!sanitized_build) {
    // Everything is durable now: what the destructors would add is tearing the engine down,
    // one actor at a time (4,000,000 live SKU x location actors took 73-153 s, past systemd's
    // 90 s stop timeout; simulator/README.md, large_catalog). Leaving here is what a kill -9
    // at this point would do, which the crash tests show loses nothing: the journal and the
    // checkpoints are committed, an unsent channel change is recomputed from the checkpoints at
    // the next start, and the next start clears this process's LMDB reader slot. Sanitizer
    // builds tear down in order, so the leak check and the shutdown paths keep being tested.
    exit_timing.print();
    std::fflush(nullptr);
    std::_Exit(0);
  }
  return 0;
}
