// stockctl: the operator's command line. Talks to a running stockd over its HTTP API.
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <string>

#include <utility>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "apps/stockctl_trace.hpp"

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

constexpr const char* usage =
    "usage: stockctl [--server HOST:PORT] [--token TOKEN] COMMAND\n"
    "commands:\n"
    "  status                 engine status: events, journal, checkpoints, actors\n"
    "  sku SKU                buckets per location, channels, last event\n"
    "  events SKU [--limit N] [--before SEQ]   the SKU's ledger, newest first\n"
    "  health                 liveness and readiness\n"
    "  out-of-sync [--channel ID] [--min-age S] [--limit N]   SKU x channel pairs out of sync,\n"
    "                         oldest first, with the reason\n"
    "  dead-letters [--channel ID] [--limit N]   items a channel refused, parked\n"
    "  repush CHANNEL         queue a full re-push of the channel (bulk lane; admin scope)\n"
    "  trace SOURCE:ID [--json]   an event's path: accepted, applied, the channel pushes that\n"
    "                         carried it and each answer (exit 1 when the event is unknown)\n"
    "environment: STOCKD_SERVER (default 127.0.0.1:8080), STOCKD_TOKEN\n"
    "exit status: 0 ok, 1 the server answered an error, 2 usage, 3 cannot connect\n";

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
                          const std::string& target, std::string& failure) {
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

} // namespace

int main(int argc, char** argv) {
  std::string server = std::getenv("STOCKD_SERVER") ? std::getenv("STOCKD_SERVER") : "127.0.0.1:8080";
  std::string token = std::getenv("STOCKD_TOKEN") ? std::getenv("STOCKD_TOKEN") : "";
  std::vector<std::string> args;
  std::string limit;
  std::string before;
  std::string channel;
  std::string min_age;
  bool json = false;
  bool trace = false;
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
    else if (a == "--min-age") next(min_age);
    else if (a == "--json") json = true;
    else if (a == "--help" || a == "-h") { std::fputs(usage, stdout); return 0; }
    else args.push_back(a);
  }
  if (args.empty()) {
    std::fputs(usage, stderr);
    return 2;
  }
  std::string target;
  http::verb method = http::verb::get;
  const std::string& cmd = args[0];
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
  } else if (cmd == "health" && args.size() == 1) {
    target = "/readyz";
  } else if (cmd == "sku" && args.size() == 2) {
    target = "/v1/skus/" + percent_encode(args[1]);
  } else if (cmd == "events" && args.size() == 2) {
    target = "/v1/skus/" + percent_encode(args[1]) + "/events";
    std::string sep = "?";
    if (!limit.empty()) { target += sep + "limit=" + limit; sep = "&"; }
    if (!before.empty()) { target += sep + "before=" + before; }
  } else if (cmd == "out-of-sync" && args.size() == 1) {
    target = "/v1/sync/out-of-sync";
    query({{"channel", &channel}, {"min_age_s", &min_age}, {"limit", &limit}});
  } else if (cmd == "dead-letters" && args.size() == 1) {
    target = "/v1/sync/dead-letters";
    query({{"channel", &channel}, {"limit", &limit}});
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
