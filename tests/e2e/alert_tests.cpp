// End-to-end alerts (issue 7): the real stockd with an `[[alerts]]` sink on a loopback HTTP
// server. A storm of oversells over many checks pages exactly once, signed with the sink's
// secret, saying how many cases and units and whether it is isolated or systemic; the rest of
// the storm is counted as suppressed in /v1/status.
#include <sys/wait.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "connectors/webhook_client.hpp"
#include "simulator/listener.hpp"
#include "tests/e2e/event_json.hpp"
#include "tests/e2e/server_process.hpp"

namespace stockd::e2e {
namespace {

constexpr const char* alert_secret = "alert-sink-secret-93c0";

/// A pager: records every request it gets and answers 200.
struct sink {
  struct page {
    std::string body;
    std::string timestamp;
    std::string signature;
    std::string kind;
  };
  sink()
      : server(simulator::listener_options{}, [this](const simulator::request& r) {
          std::lock_guard lock(mutex);
          auto header = [&r](const char* name) {
            auto it = r.find(name);
            return it == r.end() ? std::string() : std::string(it->value());
          };
          pages.push_back({r.body(), header("X-Stockd-Timestamp"), header("X-Stockd-Signature"),
                           header("X-Stockd-Alert")});
          simulator::reply answer;
          answer.res = simulator::make_response(r, simulator::http::status::ok, "{}");
          return answer;
        }) {
    if (auto error = server.start()) {
      throw std::runtime_error(*error);
    }
  }
  std::vector<page> received() {
    std::lock_guard lock(mutex);
    return pages;
  }
  std::mutex mutex;
  std::vector<page> pages;
  simulator::listener server;

  /// The config of one location and this pager as the only sink, checked every 100 ms; the
  /// test machine's disk must not page (map_used_ratio = 1 cannot be reached). `extra`: more
  /// keys of the [[alerts]] table, one per line.
  std::string config(std::string_view extra) const {
    return "[alerting]\ncheck_interval_ms = 100\n\n[[alerts]]\nurl = \"http://127.0.0.1:" +
           std::to_string(server.port()) +
           "/page\"\nsecret = \"env:STOCKD_E2E_ALERT_SECRET\"\nmin_severity = \"warning\"\n"
           "map_used_ratio = 1.0\n" +
           std::string(extra) + "\n[[locations]]\nid = \"main\"\n";
  }
};

} // namespace

TEST_CASE("a storm of oversells pages once, signed, and counts the rest as suppressed",
          "[e2e][alerts]") {
  ::setenv("STOCKD_E2E_ALERT_SECRET", alert_secret, 1);
  sink pager;
  server_options opts;
  // Checked every 100 ms: the storm below spans many checks.
  opts.config_toml = pager.config("quiet_after_s = 3600\n");
  server_process server(opts);
  server.start();

  post_accepted(server, {received_json("r-1", "STORM-A", 1)});
  auto burst = [&server](int b) {
    std::vector<std::string> orders;
    for (int k = 0; k < 2; ++k) {
      const std::string n = std::to_string(b * 2 + k);
      orders.push_back(order_created_json("o-" + n, "STORM-A", 1, "O-" + n));
    }
    post_accepted(server, orders);
  };
  auto alerts = [&server](const char* field) {
    json_doc status = server.get_json("/v1/status");
    return status["alerts"][field].get_uint64().value();
  };
  // The first burst oversells and pages; the next five, each seen by a later check, are the
  // same storm: suppressed.
  burst(0);
  REQUIRE(eventually([&] { return alerts("sent") >= 1; }, std::chrono::seconds(15),
                     std::chrono::milliseconds(20)));
  for (int b = 1; b < 6; ++b) {
    burst(b);
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
  }
  REQUIRE(eventually([&] { return alerts("suppressed") >= 1; }, std::chrono::seconds(15),
                     std::chrono::milliseconds(20)));
  const bool delivered = eventually([&] { return !pager.received().empty(); },
                                    std::chrono::seconds(15), std::chrono::milliseconds(20));
  REQUIRE(delivered);
  // Ten more checks: still the one page (deduplicated by kind and channel).
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto pages = pager.received();
  REQUIRE(pages.size() == 1);
  const auto& page = pages[0];
  CHECK(page.kind == "oversell");
  CHECK(page.signature == connectors::webhook_signature(alert_secret, page.timestamp, page.body));
  json_doc body(page.body);
  CHECK(std::string_view(body["kind"].get_string().value()) == "oversell");
  CHECK(std::string_view(body["state"].get_string().value()) == "firing");
  CHECK(std::string_view(body["channel"].get_string().value()) == "web");
  CHECK(std::string_view(body["severity"].get_string().value()) == "critical");
  CHECK(std::string_view(body["scope"].get_string().value()) == "isolated");
  CHECK(body["counts"]["units"].get_int64().value() >= 1);
  CHECK(page.body.find(alert_secret) == std::string::npos);

  json_doc status = server.get_json("/v1/status");
  CHECK(status["alerts"]["sent"].get_uint64().value() == 1);
  CHECK(status["alerts"]["failed"].get_uint64().value() == 0);
  CHECK(status["alerts"]["sinks_failing"].get_uint64().value() == 0);
  auto metrics = server.get("/metrics");
  CHECK(metrics.body.find("stockd_alerts_sent_total 1") != std::string::npos);
}

TEST_CASE("a snapshot whose variance passes the threshold pages the variance alert for its "
          "location, and a dry run does not",
          "[e2e][alerts][snapshots]") {
  ::setenv("STOCKD_E2E_ALERT_SECRET", alert_secret, 1);
  sink pager;
  server_options opts;
  opts.config_toml = pager.config("variance_skus = 2\nvariance_units = 5\n");
  server_process server(opts);
  server.start();
  post_accepted(server, {received_json("r-1", "VAR-A", 10), received_json("r-2", "VAR-B", 10)});
  auto snapshot = [&server](const std::string& query, const std::string& body) {
    auto res = server.post("/v1/snapshots/main?source=erp&as_of=2026-11-27T12:00:00Z&" + query,
                           body, "application/x-ndjson");
    REQUIRE(res.status == 200);
  };
  const std::string lines = "{\"sku\":\"VAR-A\",\"counted\":7}\n"
                            "{\"sku\":\"VAR-B\",\"counted\":14}\n";
  // A preview reports nothing to the alert: nothing was applied.
  snapshot("id=inv-1&dry_run=true", lines);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(pager.received().empty());
  // Two SKUs, 3 + 4 units: over both thresholds.
  snapshot("id=inv-1", lines);
  REQUIRE(eventually([&] { return !pager.received().empty(); }, std::chrono::seconds(15),
                     std::chrono::milliseconds(20)));
  auto pages = pager.received();
  REQUIRE(pages.size() == 1);
  CHECK(pages[0].kind == "variance");
  json_doc body(pages[0].body);
  CHECK(std::string_view(body["state"].get_string().value()) == "firing");
  CHECK(body["channel"].is_null());
  CHECK(std::string_view(body["location"].get_string().value()) == "main");
  CHECK(body["counts"]["affected"].get_uint64().value() == 2);
  CHECK(body["counts"]["of"].get_uint64().value() == 2);
  CHECK(body["counts"]["units"].get_int64().value() == 7);
  // A clean snapshot of the location resolves it.
  snapshot("id=inv-2", lines);
  REQUIRE(eventually([&] { return pager.received().size() == 2; }, std::chrono::seconds(15),
                     std::chrono::milliseconds(20)));
  json_doc resolved(pager.received()[1].body);
  CHECK(std::string_view(resolved["state"].get_string().value()) == "resolved");
}

TEST_CASE("stockd refuses to start when an alert sink's secret is missing", "[e2e][alerts]") {
  ::unsetenv("STOCKD_E2E_ALERT_MISSING");
  server_options opts;
  opts.config_toml = "[[alerts]]\nurl = \"http://127.0.0.1:9/page\"\nsecret = "
                     "\"env:STOCKD_E2E_ALERT_MISSING\"\n\n[[locations]]\nid = \"main\"\n";
  server_process server(opts);
  server.launch();
  auto status = server.wait_exit(std::chrono::seconds(10));
  REQUIRE(status);
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 2);
  CHECK(server.log().find("alerts[0].secret") != std::string::npos);
}

} // namespace stockd::e2e
