// stockctl: the operator's command line. Talks to a running stockd over its HTTP API, or reads a
// data directory (apps/stockctl_data.cpp: replay, export, offline import).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>

#include "apps/stockctl_data.hpp"
#include "config/config.hpp"
#include "config/config_diff.hpp"
#include "connectors/json_writer.hpp"

#include "apps/stockctl_tables.hpp"
#include "apps/stockctl_trace.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr const char* usage =
    "usage: stockctl [--server HOST:PORT] [--token TOKEN] [--json] COMMAND\n"
    "commands on a running stockd (HTTP API):\n"
    "  status                 readiness, journal, ingest counters, then a row per channel\n"
    "                         (queues, out of sync, dead letters, rate limit, outbox)\n"
    "  sku SKU                buckets per location and each channel's expected and last pushed\n"
    "                         value, in sync or why not (a kit: its components)\n"
    "  events SKU [--limit N] [--before SEQ]   the SKU's ledger, newest first: seq, type,\n"
    "                         location, quantity, event id and the event's other fields\n"
    "  health                 liveness and readiness\n"
    "  out-of-sync [--channel ID] [--min-age S] [--limit N]   SKU x channel pairs out of sync,\n"
    "                         oldest first, with the reason\n"
    "  dead-letters [--channel ID] [--limit N]   items a channel refused, parked, oldest\n"
    "                         first, with the channel's reason\n"
    "  repush CHANNEL         queue a full re-push of the channel (bulk lane; admin scope);\n"
    "                         prints how many SKUs were queued\n"
    "  reconcile run CHANNEL  start a reconciliation run now (admin scope); prints the run's\n"
    "                         id, or the run already going\n"
    "  reconcile show [RUN] [--channel ID | --location ID] [--limit N]   the stored runs,\n"
    "                         newest first: channel runs and the variance reports of snapshots\n"
    "                         (kind \"snapshot\", --location), or one run (CHANNEL.N or\n"
    "                         snapshot:LOCATION.N) with every variance, its class and action\n"
    "  trace SOURCE:ID [--json]   an event's path: accepted, applied, the channel pushes that\n"
    "                         carried it and each answer (exit 1 when the event is unknown)\n"
    "  import FILE            post NDJSON events (FILE or - for stdin) in batches of --batch N\n"
    "                         (default 500), waiting out 503 Retry-After; prints accepted,\n"
    "                         duplicate and rejected counts\n"
    "commands on a data directory (beside a running stockd: the store is opened read-only):\n"
    "  replay --data DIR [--into NEW]   rebuild every SKU x location state from the journal and\n"
    "                         compare it with the checkpointed live state (each checkpoint at\n"
    "                         its own seq); --into writes the rebuilt store to a fresh dir\n"
    "  export --data DIR [--events] [--out FILE]   NDJSON of the state per SKU x location as the\n"
    "                         journal gives it, or with --events the journal itself\n"
    "  import FILE --data DIR   append an exported journal (export --events) to the store in\n"
    "                         DIR, keeping its seqs; stockd must not be running on DIR;\n"
    "                         resumable after an interruption\n"
    "  config validate FILE   check a config file as stockd would at start\n"
    "  config diff OLD NEW    what changed between two config files, by setting (exit 1 when\n"
    "                         they differ)\n"
    "status, sku, events, out-of-sync, dead-letters and reconcile show print tables, repush\n"
    "and reconcile run one line, trace a timeline; with --json they print the server's JSON as\n"
    "it came (for scripts). health always prints the server's JSON; an error answer prints as\n"
    "it came. --json makes import, replay and config print their summary as JSON.\n"
    "environment: STOCKD_SERVER (default 127.0.0.1:8080), STOCKD_TOKEN\n"
    "exit status: 0 ok; 1 the answer is 'not ok' (the server answered an error, replay found a\n"
    "difference, config validate found a problem, config diff found a change, import had\n"
    "rejected events); 2 usage, or config diff given an invalid file;\n"
    "3 cannot connect; 4 the data directory or a file could not be read or written\n";

struct reply {
  unsigned status = 0;
  std::string body;
};

std::string percent_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == '~';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::optional<reply> call(http::verb method, const std::string& server, const std::string& token,
                          const std::string& target, std::string& failure,
                          const std::string& body = {}, const char* content_type = nullptr) {
  auto colon = server.rfind(':');
  if (colon == std::string::npos) {
    failure = "--server must be HOST:PORT";
    return std::nullopt;
  }
  std::string host = server.substr(0, colon);
  std::string port = server.substr(colon + 1);
  try {
    net::io_context ioc;
    tcp::resolver resolver(ioc);
    beast::tcp_stream stream(ioc);
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(host, port));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "stockctl");
    if (!token.empty()) {
      req.set(http::field::authorization, "Bearer " + token);
    }
    if (content_type != nullptr) {
      req.set(http::field::content_type, content_type);
    }
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    http::read(stream, buffer, parser);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return reply{parser.get().result_int(), parser.get().body()};
  } catch (const std::exception& e) {
    // Boost's synchronous calls throw; this is the edge where that becomes a message.
    failure = e.what();
    return std::nullopt;
  }
}

struct import_counts {
  std::uint64_t accepted = 0;
  std::uint64_t duplicate = 0;
  std::uint64_t rejected = 0;
};

// Counts the per-event statuses of a POST /v1/events answer; false when it is not one.
bool count_results(const std::string& body, import_counts& counts, std::string& first_rejection) {
  simdjson::dom::parser parser;
  simdjson::dom::array results;
  if (parser.parse(body).get_object()["results"].get_array().get(results) != simdjson::SUCCESS) {
    return false;
  }
  for (simdjson::dom::element item : results) {
    std::string_view status;
    if (item["status"].get_string().get(status) != simdjson::SUCCESS) {
      return false;
    }
    if (status == "accepted") {
      ++counts.accepted;
    } else if (status == "duplicate") {
      ++counts.duplicate;
    } else {
      ++counts.rejected;
      if (first_rejection.empty()) {
        first_rejection = simdjson::to_string(item);
      }
    }
  }
  return true;
}

// Posts NDJSON events in batches. A 503 (overloaded) is waited out as its Retry-After says, up
// to 30 tries per batch; any other error stops the import after the batches already answered
// (events are idempotent on (source, id): running it again re-sends them as duplicates).
int import_events(const std::string& server, const std::string& token, const std::string& file,
                  std::size_t batch_size, bool json) {
  std::ifstream in_file;
  if (file != "-") {
    in_file.open(file);
    if (!in_file) {
      std::fprintf(stderr, "stockctl: cannot read %s\n", file.c_str());
      return 4;
    }
  }
  std::istream& in = file == "-" ? std::cin : in_file;
  import_counts counts;
  std::string first_rejection;
  std::uint64_t lines = 0;
  std::string body;
  std::size_t in_batch = 0;
  auto send = [&]() -> int {
    for (int attempt = 1;; ++attempt) {
      std::string failure;
      auto r = call(http::verb::post, server, token, "/v1/events", failure, body,
                    "application/x-ndjson");
      if (!r) {
        std::fprintf(stderr, "stockctl: cannot reach stockd at %s: %s (after %llu lines)\n",
                     server.c_str(), failure.c_str(), static_cast<unsigned long long>(lines));
        return 3;
      }
      if (r->status == 503 && attempt < 30) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      if (r->status != 200 || !count_results(r->body, counts, first_rejection)) {
        std::fprintf(stderr, "stockctl: HTTP %u: %s (the batch ending at line %llu was not taken)\n",
                     r->status, r->body.c_str(), static_cast<unsigned long long>(lines));
        return 1;
      }
      body.clear();
      in_batch = 0;
      return 0;
    }
  };
  std::string line;
  while (std::getline(in, line)) {
    ++lines;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      continue;
    }
    body += line;
    body += '\n';
    if (++in_batch == batch_size) {
      if (int rc = send(); rc != 0) {
        return rc;
      }
      if (::isatty(2) == 1) {
        std::fprintf(stderr, "\rimport: %llu lines sent", static_cast<unsigned long long>(lines));
      }
    }
  }
  if (in_batch > 0) {
    if (int rc = send(); rc != 0) {
      return rc;
    }
  }
  if (::isatty(2) == 1 && lines >= batch_size) {
    std::fputc('\n', stderr);
  }
  if (json) {
    stockd::connectors::json_writer w;
    w.begin_object()
        .field("accepted", counts.accepted)
        .field("duplicate", counts.duplicate)
        .field("rejected", counts.rejected)
        .end_object();
    std::cout << w.take() << '\n';
  } else {
    std::printf("accepted %llu, duplicate %llu, rejected %llu\n",
                static_cast<unsigned long long>(counts.accepted),
                static_cast<unsigned long long>(counts.duplicate),
                static_cast<unsigned long long>(counts.rejected));
    if (!first_rejection.empty()) {
      std::printf("first rejection: %s\n", first_rejection.c_str());
    }
  }
  return counts.rejected == 0 ? 0 : 1;
}

// The semantic diff stockd records for a reload (config/config_diff.hpp): by setting, entries
// named by id. Exit 0 when equal, 1 when they differ, 2 when a file is invalid.
int diff_configs(const std::string& before_file, const std::string& after_file, bool json) {
  auto before = stockd::config::load_file(before_file);
  auto after = stockd::config::load_file(after_file);
  for (const auto* loaded : {&before, &after}) {
    if (!*loaded) {
      std::fprintf(stderr, "stockctl: %s: INVALID: %s\n",
                   (loaded == &before ? before_file : after_file).c_str(),
                   loaded->error().to_string().c_str());
      return 2;
    }
  }
  const auto changes = stockd::config::diff(*before, *after);
  if (json) {
    stockd::connectors::json_writer w;
    w.begin_object().key("changes").begin_array();
    for (const auto& c : changes) {
      w.begin_object().field("kind", stockd::config::to_string(c.kind)).field("path", c.path);
      c.kind == stockd::config::config_change::kind_t::added ? w.key("before").null()
                                                            : w.field("before", c.before);
      c.kind == stockd::config::config_change::kind_t::removed ? w.key("after").null()
                                                              : w.field("after", c.after);
      w.end_object();
    }
    w.end_array().end_object();
    std::cout << w.take() << '\n';
  } else if (changes.empty()) {
    std::printf("no differences\n");
  } else {
    for (const auto& c : changes) {
      std::printf("%-8s %-50s %s -> %s\n", std::string(stockd::config::to_string(c.kind)).c_str(),
                  c.path.c_str(), c.before.empty() ? "-" : c.before.c_str(),
                  c.after.empty() ? "-" : c.after.c_str());
    }
  }
  return changes.empty() ? 0 : 1;
}

int validate_config(const std::string& file, bool json) {
  auto loaded = stockd::config::load_file(file);
  if (json) {
    stockd::connectors::json_writer w;
    w.begin_object().field("file", file).field("valid", loaded.has_value());
    if (!loaded) {
      w.field("key", loaded.error().key).field("message", loaded.error().message);
    } else {
      w.field("locations", static_cast<std::uint64_t>(loaded->catalog.locations().size()))
          .field("channels", static_cast<std::uint64_t>(loaded->channels.size()));
    }
    w.end_object();
    std::cout << w.take() << '\n';
  } else if (!loaded) {
    std::printf("%s: INVALID: %s\n", file.c_str(), loaded.error().to_string().c_str());
  } else {
    std::printf("%s: valid (%zu locations, %zu channels)\n", file.c_str(),
                loaded->catalog.locations().size(), loaded->channels.size());
  }
  return loaded ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  std::string server = std::getenv("STOCKD_SERVER") ? std::getenv("STOCKD_SERVER") : "127.0.0.1:8080";
  std::string token = std::getenv("STOCKD_TOKEN") ? std::getenv("STOCKD_TOKEN") : "";
  std::vector<std::string> args;
  std::string limit;
  std::string before;
  std::string channel;
  std::string location;
  std::string min_age;
  bool json = false;
  bool trace = false;
  // How a 2xx answer prints for people; nullptr (or --json): the server's body as it came.
  std::string (*table)(std::string_view) = nullptr;
  std::string batch;
  stockd::stockctl::data_flags data;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](std::string& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "stockctl: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      out = argv[++i];
    };
    if (a == "--server") next(server);
    else if (a == "--token") next(token);
    else if (a == "--limit") next(limit);
    else if (a == "--before") next(before);
    else if (a == "--channel") next(channel);
    else if (a == "--location") next(location);
    else if (a == "--min-age") next(min_age);
    else if (a == "--data") next(data.data);
    else if (a == "--into") next(data.into);
    else if (a == "--out") next(data.out);
    else if (a == "--batch") next(batch);
    else if (a == "--events") data.events = true;
    else if (a == "--json") json = data.json = true;
    else if (a == "--help" || a == "-h") { std::fputs(usage, stdout); return 0; }
    else args.push_back(a);
  }
  if (args.empty()) {
    std::fputs(usage, stderr);
    return 2;
  }
  const std::string& cmd = args[0];
  namespace ctl = stockd::stockctl;
  if (cmd == "replay" && args.size() == 1) {
    return ctl::replay(data);
  }
  if (cmd == "export" && args.size() == 1) {
    return ctl::export_data(data);
  }
  if (cmd == "import" && args.size() == 2 && !data.data.empty()) {
    return ctl::import_journal(data, args[1]);
  }
  if (cmd == "import" && args.size() == 2) {
    std::size_t batch_size = 500;
    if (!batch.empty()) {
      batch_size = std::strtoull(batch.c_str(), nullptr, 10);
      if (batch_size == 0 || batch_size > 100000) {
        std::fputs("stockctl: --batch must be 1..100000\n", stderr);
        return 2;
      }
    }
    return import_events(server, token, args[1], batch_size, data.json);
  }
  if (cmd == "config" && args.size() == 3 && args[1] == "validate") {
    return validate_config(args[2], data.json);
  }
  if (cmd == "config" && args.size() == 4 && args[1] == "diff") {
    return diff_configs(args[2], args[3], data.json);
  }
  std::string target;
  http::verb method = http::verb::get;
  // Query parameters as given; the server checks them (and names a bad one).
  auto query = [&](std::initializer_list<std::pair<const char*, const std::string*>> params) {
    std::string sep = "?";
    for (const auto& [name, value] : params) {
      if (!value->empty()) {
        target += sep + name + "=" + percent_encode(*value);
        sep = "&";
      }
    }
  };
  if (cmd == "status" && args.size() == 1) {
    target = "/v1/status";
    table = stockctl::format_status;
  } else if (cmd == "health" && args.size() == 1) {
    target = "/readyz";
  } else if (cmd == "sku" && args.size() == 2) {
    target = "/v1/skus/" + percent_encode(args[1]);
    table = stockctl::format_sku;
  } else if (cmd == "events" && args.size() == 2) {
    target = "/v1/skus/" + percent_encode(args[1]) + "/events";
    std::string sep = "?";
    if (!limit.empty()) { target += sep + "limit=" + limit; sep = "&"; }
    if (!before.empty()) { target += sep + "before=" + before; }
    table = stockctl::format_events;
  } else if (cmd == "out-of-sync" && args.size() == 1) {
    target = "/v1/sync/out-of-sync";
    query({{"channel", &channel}, {"min_age_s", &min_age}, {"limit", &limit}});
    table = stockctl::format_out_of_sync;
  } else if (cmd == "dead-letters" && args.size() == 1) {
    target = "/v1/sync/dead-letters";
    query({{"channel", &channel}, {"limit", &limit}});
    table = stockctl::format_dead_letters;
  } else if (cmd == "trace" && args.size() == 2) {
    auto ref = stockctl::split_event_ref(args[1]);
    if (!ref) {
      std::fprintf(stderr, "stockctl: trace takes SOURCE:ID, e.g. wms:evt-1\n");
      return 2;
    }
    trace = true;
    target = "/v1/trace/" + percent_encode(ref->first) + "/" + percent_encode(ref->second);
  } else if (cmd == "repush" && args.size() == 2) {
    method = http::verb::post;
    target = "/v1/admin/channels/" + percent_encode(args[1]) + "/repush";
    table = stockctl::format_repush;
  } else if (cmd == "reconcile" && args.size() == 3 && args[1] == "run") {
    method = http::verb::post;
    target = "/v1/admin/reconcile/" + percent_encode(args[2]);
    table = stockctl::format_reconcile_started;
  } else if (cmd == "reconcile" && args.size() == 3 && args[1] == "show") {
    target = "/v1/reconciliation/runs/" + percent_encode(args[2]);
    table = stockctl::format_run;
  } else if (cmd == "reconcile" && args.size() == 2 && args[1] == "show") {
    target = "/v1/reconciliation/runs";
    query({{"channel", &channel}, {"location", &location}, {"limit", &limit}});
    table = stockctl::format_runs;
  } else {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string failure;
  auto r = call(method, server, token, target, failure);
  if (!r) {
    std::fprintf(stderr, "stockctl: cannot reach stockd at %s: %s\n", server.c_str(), failure.c_str());
    return 3;
  }
  if (trace && !json && r->status == 200) {
    std::cout << stockctl::format_trace(r->body);
    return 0;
  }
  // 2xx: repush and reconcile run answer 202 Accepted. An error prints as it came (below).
  if (table != nullptr && !json && r->status >= 200 && r->status < 300) {
    std::cout << table(r->body);
    return 0;
  }
  std::cout << r->body;
  if (r->body.empty() || r->body.back() != '\n') {
    std::cout << '\n';
  }
  if (r->status >= 400) {
    std::fprintf(stderr, "stockctl: HTTP %u\n", r->status);
    return 1;
  }
  return 0;
}
