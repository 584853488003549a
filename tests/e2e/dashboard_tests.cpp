// End-to-end: the operator dashboard (GET /, server/dashboard/) and the history behind its charts
// (GET /v1/history), against the real stockd with traffic: a webhook channel pushing to the
// emulator (run in this process) and a channel with no connector, whose SKUs stay out of sync.
// The page is rendered by headless Chromium (Debian's `chromium`), its DOM checked and a
// screenshot saved as <build dir>/dashboard.png. Without Chromium these tests FAIL with a message
// saying so: CI installs it (scripts/install-deps.sh).
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>  // before asio (toolchain.md)

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <catch2/catch.hpp>

#include "simulator/listener.hpp"
#include "simulator/webhook.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/fixtures.hpp"
#include "tests/e2e/server_process.hpp"

#ifndef STOCKD_BUILD_DIR
#error "STOCKD_BUILD_DIR must name the build directory (tests/e2e/CMakeLists.txt)"
#endif

namespace stockd::e2e {
namespace {

constexpr const char* hook_secret = "e2e-dashboard-secret";

struct hook : webhook_channel {
  hook() : webhook_channel(hook_secret) {}
};

/// A webhook channel that pushes, a channel stockd only reports on (out of sync: no_connector),
/// and history samples every second so a short test sees several.
std::string dashboard_config(std::uint16_t hook_port) {
  return "[server]\nhistory_interval_ms = 1000\n\n"
         "[[locations]]\nid = \"main\"\n\n"
         "[[channels]]\nid = \"wholesale\"\nconnector = \"webhook\"\n"
         "endpoint = \"http://127.0.0.1:" +
         std::to_string(hook_port) +
         "/inventory\"\ncredentials = \"env:STOCKD_E2E_DASHBOARD_SECRET\"\n"
         "locations = [\"main\"]\nrequests_per_second = 20\nburst = 5\nbatch_size = 50\n\n"
         "[[channels]]\nid = \"marketplace\"\nconnector = \"none\"\nlocations = [\"main\"]\n";
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::size_t count_of(std::string_view text, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

/// GET `target` with an If-None-Match header (the shared test client sends no extra headers):
/// the status, the ETag and the body. Every step within 10 s.
struct conditional_answer {
  unsigned status = 0;
  std::string etag;
  std::string body;
};

conditional_answer get_if_none_match(std::uint16_t port, const std::string& target,
                                     const std::string& if_none_match) {
  namespace beast = boost::beast;
  namespace http = beast::http;
  boost::asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(std::chrono::seconds(10));
  stream.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  http::request<http::string_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::if_none_match, if_none_match);
  req.keep_alive(false);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(stream, buffer, res);
  beast::error_code ignored;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  return {res.result_int(), std::string(res[http::field::etag]), res.body()};
}

/// The Chromium binary: $STOCKD_CHROMIUM, else `chromium` on the PATH; "" when there is none.
std::string chromium_binary() {
  if (const char* env = std::getenv("STOCKD_CHROMIUM"); env != nullptr && *env != '\0') {
    return env;
  }
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    for (const char* name : {"chromium", "chromium-browser"}) {
      const auto candidate = std::filesystem::path(dir) / name;
      if (::access(candidate.c_str(), X_OK) == 0) {
        return candidate.string();
      }
    }
  }
  return "";
}

std::string shell_quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

struct chromium_run {
  int exit_code = -1;
  std::string out;  // stdout: the DOM for --dump-dom
  std::string err;
};

/// Headless Chromium on `url` with `args`, cut off after 120 s (timeout(1)): a hung browser
/// fails the test instead of stalling it. Its own profile directory under `work_dir`.
chromium_run run_chromium(const std::string& work_dir, const std::string& args,
                          const std::string& url) {
  const std::string binary = chromium_binary();
  if (binary.empty()) {
    FAIL("headless Chromium is needed to render the dashboard and was not found: install "
         "Debian's `chromium` (scripts/install-deps.sh does), or set STOCKD_CHROMIUM to a "
         "Chromium binary");
  }
  const std::string out_file = work_dir + "/chromium.out";
  const std::string err_file = work_dir + "/chromium.err";
  const std::string command =
      "timeout -k 5 120 " + shell_quote(binary) +
      " --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
      " --disable-extensions --hide-scrollbars --user-data-dir=" +
      shell_quote(work_dir + "/chromium-profile") + " " + args + " " + shell_quote(url) + " > " +
      shell_quote(out_file) + " 2> " + shell_quote(err_file);
  const int status = std::system(command.c_str());
  chromium_run run;
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.out = read_file(out_file);
  run.err = read_file(err_file);
  report_on_failure("chromium command", command);
  report_on_failure("chromium stderr", run.err.substr(0, 4000));
  return run;
}

/// The dashboard's address with a read token in the fragment (the page moves it to session
/// storage), and `extra` fragment parameters.
std::string dashboard_url(const server_process& server, std::string_view extra = "") {
  std::string url = "http://127.0.0.1:" + std::to_string(server.port()) + "/#token=" +
                    server.token();
  if (!extra.empty()) {
    url += '&';
    url += extra;
  }
  return url;
}

/// Posts traffic and waits until the webhook channel has the stock and a history sample holds a
/// propagation latency: what the page is then expected to show.
void post_traffic(const server_process& server, hook& h) {
  post_accepted(server, {event_json("received", "d1", "DASH-A", "\"qty\":10"),
                         event_json("received", "d2", "DASH-B", "\"qty\":4"),
                         event_json("adjusted", "d3", "DASH-A", "\"delta\":-3,\"reason\":\"shrink\"")});
  REQUIRE(eventually([&] { return h.channel.quantity("DASH-A") == std::optional<std::int64_t>{7}; },
                     std::chrono::seconds(20), std::chrono::milliseconds(20)));
  REQUIRE(eventually([&] { return h.channel.quantity("DASH-B") == std::optional<std::int64_t>{4}; },
                     std::chrono::seconds(20), std::chrono::milliseconds(20)));
}

} // namespace

TEST_CASE("dashboard files are served without a token with a strict CSP and revalidation",
          "[e2e][dashboard]") {
  server_process server;
  server.start();
  // server.request() would add the server's token: this client sends none.
  http_client anonymous("127.0.0.1", server.port());
  http_request page;
  page.target = "/";
  const http_response res = anonymous.send(page);
  REQUIRE(res.status == 200);
  CHECK(res.header("content-type") == "text/html; charset=utf-8");
  const std::string csp = res.header("content-security-policy");
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("connect-src 'self'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(res.header("cache-control") == "no-cache");
  CHECK(res.header("x-content-type-options") == "nosniff");
  const std::string etag = res.header("etag");
  REQUIRE(etag.size() > 2);
  CHECK(res.body.find("<script src=\"/dashboard.js\"") != std::string::npos);
  // Nothing from another origin, and no inline script the CSP would block.
  CHECK(res.body.find("http://") == std::string::npos);
  CHECK(res.body.find("https://") == std::string::npos);
  CHECK(res.body.find("<script>") == std::string::npos);

  for (const char* asset : {"/dashboard.js", "/dashboard.css"}) {
    http_request r;
    r.target = asset;
    const http_response a = anonymous.send(r);
    INFO(asset);
    CHECK(a.status == 200);
    CHECK(!a.body.empty());
    CHECK(a.header("content-security-policy") == csp);
  }
  CHECK(server.get("/dashboard.js").header("content-type") == "text/javascript; charset=utf-8");
  CHECK(server.get("/dashboard.css").header("content-type") == "text/css; charset=utf-8");
  // The JS holds no external address either.
  CHECK(server.get("/dashboard.js").body.find("https://") == std::string::npos);

  // The data is not public: /v1/history needs a token like every /v1 read.
  http_request history;
  history.target = "/v1/history";
  CHECK(anonymous.send(history).status == 401);
  CHECK(server.get("/nope.js").status == 404);  // only the embedded files are served
}

TEST_CASE("dashboard files answer 304 to a request naming their current ETag",
          "[e2e][dashboard]") {
  server_process server;
  server.start();
  const http_response first = server.get("/dashboard.js");
  REQUIRE(first.status == 200);
  const std::string etag = first.header("etag");
  REQUIRE(!etag.empty());
  const auto cached = get_if_none_match(server.port(), "/dashboard.js", etag);
  CHECK(cached.status == 304);
  CHECK(cached.body.empty());
  CHECK(cached.etag == etag);
  // A list, one of them weak: still the current one.
  CHECK(get_if_none_match(server.port(), "/dashboard.js", "W/\"1\", " + etag).status == 304);
  const auto changed = get_if_none_match(server.port(), "/dashboard.js", "\"0000000000000000\"");
  CHECK(changed.status == 200);
  CHECK(changed.body == first.body);
}

TEST_CASE("dashboard history holds the traffic, the propagation latency and the variance hook",
          "[e2e][dashboard]") {
  ::setenv("STOCKD_E2E_DASHBOARD_SECRET", hook_secret, 1);
  hook h;
  server_options opts;
  opts.config_toml = dashboard_config(h.server.port());
  server_process server(opts);
  server.start();
  post_traffic(server, h);

  // Samples every second: within a few seconds the interval holding the pushes is in the ring.
  std::uint64_t accepted = 0;
  std::uint64_t propagated = 0;
  std::int64_t p99 = -1;
  std::size_t samples = 0;
  const bool complete = eventually(
      [&] {
        json_doc doc = server.get_json("/v1/history");
        accepted = 0;
        propagated = 0;
        samples = 0;
        for (simdjson::dom::element s : doc["samples"].get_array()) {
          ++samples;
          accepted += s["events_accepted"].get_uint64().value();
          propagated += s["propagated"].get_uint64().value();
          CHECK(s["reconciliation_variances"].get_uint64().value() == 0);
          CHECK(s["duration_ms"].get_int64().value() >= 0);
          if (!s["latency_p99_ms"].is_null()) {
            p99 = std::max(p99, s["latency_p99_ms"].get_int64().value());
          }
        }
        return accepted == 3 && propagated >= 2 && samples >= 2;
      },
      std::chrono::seconds(20), std::chrono::milliseconds(250));
  INFO("samples " << samples << ", accepted " << accepted << ", propagated " << propagated);
  CHECK(complete);
  // Latency from acceptance to the push's answer: measured, and below the test's own wait.
  CHECK(p99 >= 0);
  CHECK(p99 < 60'000);
  json_doc doc = server.get_json("/v1/history");
  CHECK(doc["interval_ms"].get_int64().value() == 1000);
  CHECK(doc["capacity"].get_uint64().value() == 3600);
  CHECK(doc["current"]["duration_ms"].get_int64().value() >= 0);
  // The rate-limit use the channel table shows, between 0 and 1.
  json_doc status = server.get_json("/v1/status");
  for (simdjson::dom::element c : status["channels"].get_array()) {
    const double use = c["rate_limit_use"].get_double().value();
    CHECK(use >= 0.0);
    CHECK(use <= 1.0);
  }
}

TEST_CASE("dashboard renders channels, out-of-sync rows, a SKU and charts in headless chromium",
          "[e2e][dashboard][chromium]") {
  ::setenv("STOCKD_E2E_DASHBOARD_SECRET", hook_secret, 1);
  hook h;
  server_options opts;
  opts.config_toml = dashboard_config(h.server.port());
  server_process server(opts);
  server.start();
  post_traffic(server, h);
  // Two history samples at least, so the charts have lines.
  REQUIRE(eventually([&] { return server.get_json("/v1/history")["samples"].get_array().size() >= 2; },
                     std::chrono::seconds(20), std::chrono::milliseconds(250)));

  // The overview with DASH-A's SKU view open (#sku=...), as the out-of-sync table links it.
  const chromium_run dom = run_chromium(server.temp_dir(), "--virtual-time-budget=15000 --dump-dom",
                                        dashboard_url(server, "sku=DASH-A"));
  REQUIRE(dom.exit_code == 0);
  const std::string& html = dom.out;
  report_on_failure("rendered DOM", html.substr(0, 20000));
  REQUIRE(html.find("data-state=\"ready\"") != std::string::npos);
  // The token left the address and the login form is hidden.
  CHECK(html.find("<section id=\"login\" hidden") != std::string::npos);
  // Channel health: both channels, with their connector and circuit.
  CHECK(html.find("<tr data-channel=\"wholesale\">") != std::string::npos);
  CHECK(html.find("<tr data-channel=\"marketplace\">") != std::string::npos);
  CHECK(html.find(">webhook<") != std::string::npos);
  CHECK(html.find("badge good\">closed<") != std::string::npos);
  CHECK(html.find("<meter") != std::string::npos);
  // Out of sync: the channel without a connector lists both SKUs, linked to their view.
  CHECK(html.find("<tr data-sku=\"DASH-A\" data-channel=\"marketplace\">") != std::string::npos);
  CHECK(html.find("<tr data-sku=\"DASH-B\" data-channel=\"marketplace\">") != std::string::npos);
  CHECK(html.find(">no_connector<") != std::string::npos);
  CHECK(html.find("href=\"#sku=DASH-B\"") != std::string::npos);
  // The SKU view: buckets at main (7 available), each channel's expected vs pushed, the ledger.
  CHECK(html.find("<table id=\"sku-buckets\">") != std::string::npos);
  CHECK(html.find("<tr data-location=\"main\"><td><b>main</b></td><td class=\"num\">7</td>") !=
        std::string::npos);
  CHECK(html.find("<table id=\"sku-channels\">") != std::string::npos);
  CHECK(html.find("<table id=\"sku-ledger\">") != std::string::npos);
  CHECK(html.find(">adjusted<") != std::string::npos);
  CHECK(html.find(">received<") != std::string::npos);
  // The four charts, drawn as inline SVG with lines.
  CHECK(count_of(html, "<svg class=\"chart\"") == 4);
  CHECK(count_of(html, "<polyline") >= 3);
  CHECK(html.find("events/s: ") != std::string::npos);
  CHECK(html.find("p99: ") != std::string::npos);

  // Without a token the page asks for one and shows no data.
  const chromium_run login = run_chromium(
      server.temp_dir(), "--virtual-time-budget=5000 --dump-dom",
      "http://127.0.0.1:" + std::to_string(server.port()) + "/");
  REQUIRE(login.exit_code == 0);
  CHECK(login.out.find("<section id=\"login\">") != std::string::npos);
  CHECK(login.out.find("<main id=\"main\" data-state=\"loading\" hidden") != std::string::npos);

  // The screenshot, for people: a real PNG of some size.
  const std::string png = std::string(STOCKD_BUILD_DIR) + "/dashboard.png";
  std::filesystem::remove(png);
  const chromium_run shot = run_chromium(
      server.temp_dir(),
      "--virtual-time-budget=15000 --window-size=1280,1600 --screenshot=" + shell_quote(png),
      dashboard_url(server, "sku=DASH-A"));
  REQUIRE(shot.exit_code == 0);
  REQUIRE(std::filesystem::exists(png));
  const std::string bytes = read_file(png);
  CHECK(bytes.size() > 20'000);
  CHECK(bytes.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  WARN("dashboard screenshot: " << png << " (" << bytes.size() << " bytes)");
}

} // namespace stockd::e2e
